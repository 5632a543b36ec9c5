//! Persistent savepoints on the peer workload's database (N random 24-byte keys,
//! 150-byte values, in the main table): take a savepoint, rewrite a share of the keys
//! with new values (in commits of up to 10,000 puts), then restore it. Reports the pages
//! the savepoint holds (`stat`), how long the rewrite and the restore (begin, restore,
//! commit) took, and how long `check` takes on the file with the savepoint. Each share
//! runs on a fresh copy of the database; medians of the runs.
//!
//! Run: `cargo run --release -p mdbx-lite-benches --example savepoints -- [N] [RUNS]`

use std::path::Path;
use std::time::Instant;

use mdbx_lite::{Env, Result};
use mdbx_lite_benches::{arg_u64, build, key, median, value};

/// One run of share `share` (of N keys rewritten) on a fresh copy of `base`:
/// (held pages, rewrite ms, restore ms, check ms).
fn run(base: &Path, dir: &Path, n: u64, share: f64) -> Result<(u64, f64, f64, f64)> {
    let path = dir.join("db");
    std::fs::copy(base, &path)?;
    let env = Env::open(&path)?;
    let mut w = env.begin_write()?;
    w.persistent_savepoint("before")?;
    w.commit()?;
    let changed = ((n as f64 * share) as u64).max(1);
    let t = Instant::now();
    let mut i = 0;
    while i < changed {
        let mut w = env.begin_write()?;
        {
            let mut tab = w.main_table();
            for j in i..changed.min(i + 10_000) {
                // Spread over the key space: key (j * stride) mod n.
                let k = j.wrapping_mul(0x9E37_79B9) % n;
                tab.put(&key(k), &value(k ^ 0xFFFF))?;
            }
        }
        w.commit()?;
        i += 10_000;
    }
    let rewrite = t.elapsed().as_secs_f64() * 1e3;
    let held = env.stat()?.savepoints[0].held_pages;
    let t = Instant::now();
    let report = env.check()?;
    let check = t.elapsed().as_secs_f64() * 1e3;
    assert!(report.is_ok(), "{:?}", report.problems);
    let t = Instant::now();
    let mut w = env.begin_write()?;
    w.restore_persistent_savepoint("before")?;
    w.commit()?;
    let restore = t.elapsed().as_secs_f64() * 1e3;
    let r = env.begin_read()?;
    assert_eq!(r.main_table().get(&key(0))?, Some(&value(0)[..]));
    drop(r);
    drop(env);
    std::fs::remove_file(&path)?;
    let _ = std::fs::remove_file(mdbx_lite::lock_path(&path));
    Ok((held, rewrite, restore, check))
}

fn main() -> Result<()> {
    let n = arg_u64(1, 1_000_000);
    let runs = arg_u64(2, 3);
    let dir = tempfile::tempdir()?;
    let base = dir.path().join("base");
    let pages = {
        let env = build(&base, n)?;
        let s = env.begin_read()?.main_table().stat();
        s.branch_pages + s.leaf_pages + s.overflow_pages
    };
    println!("N = {n} ({pages} pages in the table), median of {runs}");
    println!(
        "| keys rewritten | pages held by the savepoint | rewrite (ms) | restore (ms) | check (ms) |"
    );
    println!("|--:|--:|--:|--:|--:|");
    for share in [0.001, 0.01, 0.1, 1.0] {
        let (mut held, mut rw, mut rs, mut ck) = (0, Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let (h, a, b, c) = run(&base, dir.path(), n, share)?;
            held = h;
            rw.push(a);
            rs.push(b);
            ck.push(c);
        }
        println!(
            "| {:.1}% | {held} | {:.0} | {:.1} | {:.0} |",
            share * 100.0,
            median(rw),
            median(rs),
            median(ck)
        );
    }
    Ok(())
}
