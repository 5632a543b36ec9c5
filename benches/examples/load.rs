//! One bulk load of N random entries in one transaction, timed in its two parts
//! (puts, commit), for profiling: `perf record cargo run --release --example load`.
use std::time::Instant;

use mdbx_lite_benches::{key, value};

fn main() -> mdbx_lite::Result<()> {
    let n = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let dir = tempfile::tempdir()?;
    let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    let t = Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.main_table();
        for i in 0..n {
            tab.put(&key(i), &value(i))?;
        }
    }
    let puts = t.elapsed();
    w.commit()?;
    let total = t.elapsed();
    let st = env.stat()?;
    println!(
        "load {n}: {total:?} (puts {puts:?}, commit {:?}); file {} MiB, {} leaves",
        total - puts,
        st.file_bytes >> 20,
        st.main.leaf_pages
    );
    Ok(())
}
