//! How much a durable commit's cost depends on where its pages lie, without any
//! database: on a 280 MiB file (the size of the 1M-entry benchmark database), each
//! "commit" writes 5 pages, fdatasyncs, writes a meta page, fdatasyncs again — the
//! two-sync protocol of LMDB and mdbx-lite. The pages are chosen (a) anywhere in the
//! file, (b) from a fixed set of 16 scattered pages, (c) inside an 8-page window; and the
//! meta goes out either as write + fdatasync or as one write on an `O_DSYNC` descriptor.
//!
//! `cargo run --release -p mdbx-lite-benches --example sync_pattern [commits]`
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Instant;

use mdbx_lite_benches::Rng;

const PAGES: u64 = 71_680;
const PER_COMMIT: u64 = 5;

/// How the meta page reaches the disk: `None`, a write plus fdatasync on the data file;
/// `Some(fd)`, one write on a second descriptor opened `O_DSYNC` (LMDB's way).
fn run(
    f: &File,
    dsync_meta: Option<&File>,
    commits: u64,
    pick: &dyn Fn(&mut Rng) -> u64,
) -> std::io::Result<(f64, f64)> {
    let page = [7u8; 4096];
    let mut rng = Rng::new(1);
    let mut first_sync = 0.0;
    let t = Instant::now();
    for _ in 0..commits {
        for _ in 0..PER_COMMIT {
            f.write_at(&page, pick(&mut rng) * 4096)?;
        }
        let s = Instant::now();
        f.sync_data()?;
        first_sync += s.elapsed().as_secs_f64();
        match dsync_meta {
            Some(m) => m.write_all_at(&page, 0)?,
            None => {
                f.write_at(&page, 0)?;
                f.sync_data()?;
            }
        }
    }
    let per = |x: f64| x * 1e6 / commits as f64;
    Ok((per(t.elapsed().as_secs_f64()), per(first_sync)))
}

/// A name and a page picker.
type Pattern<'a> = (&'a str, &'a dyn Fn(&mut Rng) -> u64);

fn main() -> std::io::Result<()> {
    let commits: u64 = mdbx_lite_benches::arg_u64(1, 2000);
    let dir = tempfile::tempdir()?;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.path().join("pattern"))?;
    let chunk = vec![1u8; 1 << 20];
    for i in 0..PAGES * 4096 / chunk.len() as u64 {
        f.write_at(&chunk, i * chunk.len() as u64)?;
    }
    f.sync_all()?;
    let dsync = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DSYNC)
        .open(dir.path().join("pattern"))?;
    let anywhere = |r: &mut Rng| 2 + r.next_u64() % (PAGES - 2);
    let hot_set = |r: &mut Rng| {
        let j = r.next_u64() % 16;
        2 + j.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (PAGES - 2)
    };
    let window = |r: &mut Rng| 1000 + r.next_u64() % 8;
    let patterns: [Pattern; 3] = [
        ("anywhere in the file", &anywhere),
        ("from 16 fixed scattered pages", &hot_set),
        ("inside an 8-page window", &window),
    ];
    for round in 1..=3 {
        for (name, pick) in patterns {
            for (meta, how) in [(None, "meta+fdatasync"), (Some(&dsync), "meta O_DSYNC")] {
                let (total, sync1) = run(&f, meta, commits, pick)?;
                println!("round {round}: 5 pages {name:<30} {how:<15} {total:>5.0} µs/commit (first fdatasync {sync1:.0} µs)");
            }
        }
    }
    Ok(())
}
