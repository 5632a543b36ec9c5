//! Profiling aid: bulk load, then remove half the keys in one transaction
//! (`perf record -D` past the load).
use std::time::Instant;

use mdbx_lite_benches::{build, key};

fn main() -> mdbx_lite::Result<()> {
    let n: u64 = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let dir = tempfile::tempdir()?;
    let env = build(&dir.path().join("db"), n)?;
    eprintln!("PROFILE START");
    let t = Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.main_table();
        for i in 0..n / 2 {
            tab.delete(&key(i))?;
        }
    }
    let deletes = t.elapsed();
    w.commit()?;
    eprintln!("removed {}: {:?} (deletes {deletes:?})", n / 2, t.elapsed());
    Ok(())
}
