use mdbx_lite::{Env, PutFlags};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A new directory, removed at the end, so the example can run again and again.
    let dir = std::env::temp_dir().join(format!("mdbx-lite-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let env = Env::open(dir.join("app.db"))?; // creates it; no size to configure

    let mut wtx = env.begin_write()?;
    {
        let mut users = wtx.create_table("users")?;
        users.put(b"alice", b"admin")?;
        // Fail with Error::KeyExists instead of replacing an existing value:
        let keep_existing = PutFlags {
            no_overwrite: true,
            ..Default::default()
        };
        users.put_with(b"bob", b"guest", keep_existing)?;
    }
    wtx.commit()?; // or drop it to abort

    {
        let rtx = env.begin_read()?; // Send + Sync; share it between threads
        let users = rtx.open_table("users")?;
        let role: Option<&[u8]> = users.get(b"alice")?; // borrowed from the map, no copy
        assert_eq!(role, Some(&b"admin"[..]));
        for entry in users.range(&b"a"[..]..&b"c"[..]).rev() {
            let (key, value) = entry?;
            println!(
                "{} = {}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            );
        }
    }
    assert!(env.check()?.is_ok()); // full consistency check

    drop(env);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
