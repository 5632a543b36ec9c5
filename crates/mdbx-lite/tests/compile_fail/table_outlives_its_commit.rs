// A table handle borrows its write transaction: committing ends the transaction, so
// the handle cannot be used afterwards.
use mdbx_lite::{Env, TableDef};

const NAMES: TableDef<u64, &str> = TableDef::new("names");

fn main() -> mdbx_lite::Result<()> {
    let env = Env::open("db")?;
    let mut wtx = env.begin_write()?;
    let mut names = wtx.create(&NAMES)?;
    wtx.commit()?;
    names.put(1, "ada")?;
    Ok(())
}
