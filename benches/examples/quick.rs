//! Rough timing of the main phases (not a benchmark; see benches/engine.rs).
use std::time::Instant;

use mdbx_lite_benches::{key, value, Rng};

fn main() -> mdbx_lite::Result<()> {
    let n: u64 = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let dir = tempfile::tempdir()?;
    let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    let (puts, total) = mdbx_lite_benches::load(&env, n)?;
    println!(
        "load {n}: {total:?} (puts {puts:?}, commit {:?})",
        total - puts
    );
    let st = env.stat()?;
    println!(
        "file {} MiB, depth {}, leaves {}",
        st.file_bytes >> 20,
        st.main.depth,
        st.main.leaf_pages
    );
    let t = Instant::now();
    for i in 0..1000u64 {
        let mut w = env.begin_write()?;
        w.main_table().put(&key(n + i), &value(n + i))?;
        w.commit()?;
    }
    println!("1000 single-put commits: {:?}", t.elapsed());
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
    let mut seen = 0u64;
    for _ in 0..500_000 {
        let k = key(rng.next_u64() % n);
        for e in tab.range(&k[..]..).take(10) {
            let (k, v) = e?;
            seen += u64::from(k[0]) + v.len() as u64 + u64::from(v[0]);
        }
    }
    println!("500k scans of 10: {:?} ({seen})", t.elapsed());
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
