use mdbx_lite::{Env, MultimapDef, TableDef};

// A table definition names a table and its key and value types.
const USERS: TableDef<u64, &str> = TableDef::new("users");
// Composite keys sort element by element: (tenant, time).
const EVENTS: TableDef<(&str, i64), &[u8]> = TableDef::new("events");
// A multimap: a sorted set of values per key (LMDB's dup-sort tables).
const TAGS: MultimapDef<u64, &str> = MultimapDef::new("tags");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A new directory, removed at the end, so the example can run again and again.
    let dir = std::env::temp_dir().join(format!("mdbx-lite-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let env = Env::open(dir.join("app.db"))?; // creates it; no size to configure

    let mut wtx = env.begin_write()?;
    {
        let mut users = wtx.create(&USERS)?;
        users.put(1, "ada")?;
        users.put(2, "grace")?;
    }
    {
        let mut events = wtx.create(&EVENTS)?;
        events.put(("acme", -5), &b"rollback"[..])?;
        events.put(("acme", 1_700_000_000), &b"deploy"[..])?;
        events.put(("zeta", 0), &b"signup"[..])?;
    }
    {
        let mut tags = wtx.create_multimap(&TAGS)?;
        tags.put(1, "math")?;
        tags.put(1, "engines")?;
    }
    wtx.commit()?; // or drop it to abort

    {
        let rtx = env.begin_read()?; // Send + Sync; share it between threads
        let users = rtx.open(&USERS)?;
        let name: Option<&str> = users.get(2)?; // borrowed from the map, no copy
        assert_eq!(name, Some("grace"));
        for entry in rtx
            .open(&EVENTS)?
            .range(("acme", i64::MIN)..("acme", i64::MAX))?
        {
            let ((tenant, time), what) = entry?;
            println!("{tenant} {time}: {}", String::from_utf8_lossy(what));
        }
        let tags: Vec<&str> = rtx
            .open_multimap(&TAGS)?
            .get(1)?
            .collect::<Result<_, _>>()?;
        assert_eq!(tags, ["engines", "math"]);
    }

    // Underneath, every table is bytes: the byte API reads and writes any table.
    let mut wtx = env.begin_write()?;
    {
        let mut raw = wtx.create_table("raw")?;
        raw.put(b"alice", b"admin")?;
        assert_eq!(raw.get(b"alice")?, Some(&b"admin"[..]));
    }
    wtx.commit()?;
    assert!(env.check()?.is_ok()); // full consistency check

    drop(env);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
