//! Random gets over one key kind of the peer comparison, without the rest of its
//! workload: loads N keys of KIND in one transaction, then times 3 × N gets in a
//! scattered order and prints ns per get with the tree's shape. With `NOGET=1` it only
//! loads (for instruction counts of the write path under callgrind).
//!
//! `cargo run --release -p mdbx-lite-benches --example keyed_gets -- paths 1000000`

use mdbx_lite_benches::{KeyKind, Keys};

fn main() -> mdbx_lite::Result<()> {
    let kind = mdbx_lite_benches::arg_key_kind(1, KeyKind::Paths);
    let n = mdbx_lite_benches::arg_u64(2, 100_000);
    let dir = tempfile::tempdir()?;
    let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    mdbx_lite_benches::load_keys(&env, kind, n)?;
    let mut kb = Keys::new(kind, n).buf();
    let r = env.begin_read()?;
    let t = r.main_table();
    let mut found = 0u64;
    let start = std::time::Instant::now();
    if std::env::var_os("NOGET").is_none() {
        for round in 0..3u64 {
            for j in 0..n {
                found += u64::from(t.get(kb.key((j * 7919 + round) % n))?.is_some());
            }
        }
    }
    let st = env.stat()?;
    println!(
        "{} {n}: {found} found, {:.0} ns/get; depth {}, {} branch + {} leaf pages",
        kind.name(),
        start.elapsed().as_nanos() as f64 / (3 * n) as f64,
        st.main.depth,
        st.main.branch_pages,
        st.main.leaf_pages
    );
    Ok(())
}
