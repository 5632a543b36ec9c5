//! Rough timing of the main phases (not a benchmark; see benches/engine.rs).
use std::time::Instant;

use mdbx_lite_benches::{build, key, Rng};

fn main() -> mdbx_lite::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let t = Instant::now();
    let env = build(&dir.path().join("db"), n)?;
    println!("load {n}: {:?}", t.elapsed());
    let st = env.stat()?;
    println!(
        "file {} MiB, depth {}, leaves {}",
        st.file_bytes >> 20,
        st.main.depth,
        st.main.leaf_pages
    );
    let rtx = env.begin_read()?;
    let tab = rtx.main_table();
    let mut rng = Rng::new(1);
    let t = Instant::now();
    let mut found = 0;
    for _ in 0..1_000_000 {
        if tab.get(&key(rng.next_u64() % n))?.is_some() {
            found += 1;
        }
    }
    println!("1M gets: {:?} ({found} found)", t.elapsed());
    let t = Instant::now();
    let c = tab.iter().count();
    println!("scan {c}: {:?}", t.elapsed());
    let t = Instant::now();
    let r = env.check()?;
    println!(
        "check: {:?} ok={} problems={}",
        t.elapsed(),
        r.is_ok(),
        r.problems.len()
    );
    Ok(())
}
