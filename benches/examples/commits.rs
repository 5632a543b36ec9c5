//! Profiling aid: bulk load, then many durable commits of `PUTS` random inserts each
//! (default 1; `perf record -D`). Usage: `commits [N] [COMMITS] [PUTS] [nosync|twosync]`;
//! with `nosync` the commits run with `Durability::NoSync` (the load stays durable), with
//! `twosync` every `Full` commit syncs its pages, then its meta.
use std::time::{Duration, Instant};

use mdbx_lite_benches::{build, key, value};

fn main() -> mdbx_lite::Result<()> {
    let n: u64 = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let commits: u64 = mdbx_lite_benches::arg_u64(2, 5000);
    let puts: u64 = mdbx_lite_benches::arg_u64(3, 1).max(1);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db");
    drop(build(&path, n)?);
    let mode = std::env::args().nth(4);
    let durability = match mode.as_deref() {
        Some("nosync") => mdbx_lite::Durability::NoSync,
        _ => mdbx_lite::Durability::Full,
    };
    let env = mdbx_lite::Env::builder()
        .durability(durability)
        .one_sync(mode.as_deref() != Some("twosync"))
        .open(&path)?;
    eprintln!("PROFILE START hw {:?}", env.stat()?.high_water_pages);
    let (mut tb, mut tp, mut tc) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let t = Instant::now();
    for i in 0..commits {
        let a = Instant::now();
        let mut w = env.begin_write()?;
        let b = Instant::now();
        {
            let mut t = w.main_table();
            for j in 0..puts {
                let id = n + i * puts + j;
                t.put(&key(id), &value(id))?;
            }
        }
        let c = Instant::now();
        w.commit()?;
        let d = Instant::now();
        tb += b - a;
        tp += c - b;
        tc += d - c;
    }
    eprintln!("end hw {:?}", env.stat()?.high_water_pages);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / commits as f64;
    eprintln!(
        "{commits} commits: {:.0} µs each (begin {:.1}, put {:.1}, commit {:.1})",
        per(t.elapsed()),
        per(tb),
        per(tp),
        per(tc)
    );
    Ok(())
}
