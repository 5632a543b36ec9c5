// A value read in a read transaction lives in pages only that transaction's snapshot
// keeps from reuse: it cannot outlive the transaction.
use mdbx_lite::{Env, TableDef};

const NAMES: TableDef<u64, &str> = TableDef::new("names");

fn main() -> mdbx_lite::Result<()> {
    let env = Env::open("db")?;
    let name = {
        let rtx = env.begin_read()?;
        let names = rtx.open(&NAMES)?;
        names.get(1)?
    };
    println!("{name:?}");
    Ok(())
}
