// A value a typed get borrowed from the table cannot be used after a write to it: the
// write could move or free the page it lies in.
use mdbx_lite::{Env, TableDef};

const NAMES: TableDef<u64, &str> = TableDef::new("names");

fn main() -> mdbx_lite::Result<()> {
    let env = Env::open("db")?;
    let mut wtx = env.begin_write()?;
    let mut names = wtx.create(&NAMES)?;
    names.put(1, "ada")?;
    let name = names.get(1)?;
    names.put(2, "grace")?;
    println!("{name:?}");
    Ok(())
}
