//! Profiling aid: bulk load, remove half the keys, then time a compacting copy
//! (`perf record -D` past the setup). Usage: `compact_copy [N] [COPIES]`.
use std::time::Instant;

use mdbx_lite_benches::{build, key};

fn main() -> mdbx_lite::Result<()> {
    let n: u64 = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let dir = tempfile::tempdir()?;
    let env = build(&dir.path().join("db"), n)?;
    let mut w = env.begin_write()?;
    {
        let mut tab = w.main_table();
        for i in 0..n / 2 {
            tab.delete(&key(i))?;
        }
    }
    w.commit()?;
    eprintln!("PROFILE START");
    let copies = mdbx_lite_benches::arg_u64(2, 1);
    for c in 0..copies {
        let t = Instant::now();
        env.copy_to(dir.path().join(format!("copy{c}")), true)?;
        eprintln!(
            "compacting copy of {} entries: {:?}",
            n - n / 2,
            t.elapsed()
        );
    }
    Ok(())
}
