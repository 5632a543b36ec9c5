// Several tables open at once: a value read through one handle borrows the whole
// transaction, so it cannot be kept across a write through another handle (a write to
// any table may change the pages it lies in); copy it first.
use mdbx_lite::{Env, TableDef};

const USERS: TableDef<u64, &str> = TableDef::new("users");
const BY_NAME: TableDef<&str, u64> = TableDef::new("by_name");

fn main() -> mdbx_lite::Result<()> {
    let env = Env::open("db")?;
    let mut wtx = env.begin_write()?;
    let (users, by_name) = (wtx.handle(&USERS)?, wtx.handle(&BY_NAME)?);
    users.put(&mut wtx, 1, "ada")?;
    let name = users.get(&wtx, 1)?.unwrap();
    by_name.put(&mut wtx, name, 1)?;
    Ok(())
}
