// The same for the byte API: a slice `get` returned is the map's or the transaction's
// page, which the next write may change.
use mdbx_lite::Env;

fn main() -> mdbx_lite::Result<()> {
    let env = Env::open("db")?;
    let mut wtx = env.begin_write()?;
    let mut t = wtx.create_table("t")?;
    t.put(b"k", b"v")?;
    let v = t.get(b"k")?;
    t.delete(b"k")?;
    println!("{v:?}");
    Ok(())
}
