//! One bulk load of N random entries in one transaction, timed in its two parts
//! (puts, commit), for profiling: `perf record cargo run --release --example load`.

fn main() -> mdbx_lite::Result<()> {
    let n = mdbx_lite_benches::arg_u64(1, 1_000_000);
    let dir = tempfile::tempdir()?;
    let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    let (puts, total) = mdbx_lite_benches::load(&env, n)?;
    let st = env.stat()?;
    println!(
        "load {n}: {total:?} (puts {puts:?}, commit {:?}); file {} MiB, {} leaves",
        total - puts,
        st.file_bytes >> 20,
        st.main.leaf_pages
    );
    Ok(())
}
