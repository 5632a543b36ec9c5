//! `mdbx-lite demo`: build a sample database and show `stat`, `check` and a dump
//! excerpt of it. The README's "run the main job" command.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mdbx_lite::{Durability, Env, PutFlags};

use crate::util::{bytes, num, CliError, CliResult};
use crate::DemoArgs;

/// Entries per write transaction while building.
const TXN_ENTRIES: u64 = 250_000;

/// Deterministic pseudo-random numbers (splitmix64), so every demo is the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// How many entries go into each table for a demo of `total` entries.
pub fn plan(total: u64) -> [(&'static str, u64); 3] {
    let blobs = (total / 100).min(100);
    let users = (total - blobs) * 3 / 10;
    let events = total - blobs - users;
    [("blobs", blobs), ("events", events), ("users", users)]
}

fn demo_dir(a: &DemoArgs) -> CliResult<PathBuf> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            std::env::temp_dir().join(format!("mdbx-lite-demo-{}-{stamp}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io(&dir, e))?;
    Ok(dir)
}

fn user_value(i: u64, rng: &mut Rng) -> Vec<u8> {
    format!(
        "{{\"id\":{i},\"name\":\"user-{i}\",\"score\":{},\"active\":{}}}",
        rng.next() % 10_000,
        rng.next().is_multiple_of(2)
    )
    .into_bytes()
}

fn build(env: &Env, db: &Path, total: u64) -> CliResult<()> {
    let dberr = |e| CliError::db(db, e);
    let append = PutFlags {
        append: true,
        ..PutFlags::default()
    };
    let mut rng = Rng(42);
    for (table, n) in plan(total) {
        let mut i = 0u64;
        while i < n {
            let mut w = env.begin_write().map_err(dberr)?;
            {
                let mut t = w.create_table(table).map_err(dberr)?;
                let end = (i + TXN_ENTRIES).min(n);
                for j in i..end {
                    let (key, value) = match table {
                        "users" => (format!("user:{j:07}").into_bytes(), user_value(j, &mut rng)),
                        "events" => {
                            // 8-byte big-endian timestamps: binary keys in order.
                            let ts = 1_700_000_000_000u64 + j * 37;
                            let len = 16 + (rng.next() % 48) as usize;
                            let v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                            (ts.to_be_bytes().to_vec(), v)
                        }
                        _ => {
                            // Values of 3..40 KB: stored in overflow runs.
                            let len = 3_000 + (rng.next() % 37_000) as usize;
                            let v: Vec<u8> = (0..len)
                                .map(|k| b'a' + ((j as usize + k) % 26) as u8)
                                .collect();
                            (format!("blob:{j:03}").into_bytes(), v)
                        }
                    };
                    t.put_with(&key, &value, append).map_err(dberr)?;
                }
                i = end;
            }
            w.commit().map_err(dberr)?;
        }
    }
    Ok(())
}

pub fn run(a: &DemoArgs, out: &mut dyn Write) -> CliResult<i32> {
    let dir = demo_dir(a)?;
    let db = dir.join("demo.db");
    for p in [db.clone(), mdbx_lite::lock_path(&db)] {
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| CliError::io(&p, e))?;
        }
    }
    writeln!(out, "== mdbx-lite demo")?;
    writeln!(out, "database: {}", db.display())?;
    out.flush()?;
    let t0 = Instant::now();
    {
        let env = Env::builder()
            .durability(Durability::NoMetaSync)
            .open(&db)
            .map_err(|e| CliError::db(&db, e))?;
        build(&env, &db, a.entries)?;
        env.sync().map_err(|e| CliError::db(&db, e))?;
    }
    let _ = std::fs::remove_file(mdbx_lite::lock_path(&db));
    let built = t0.elapsed();
    let size = crate::util::file_len(&db);
    let plan = plan(a.entries);
    writeln!(
        out,
        "built {} entries in {} tables ({}) in {:.2?}: {}",
        num(a.entries),
        plan.len(),
        plan.iter()
            .map(|(t, n)| format!("{t} {}", num(*n)))
            .collect::<Vec<_>>()
            .join(", "),
        built,
        bytes(size)
    )?;

    writeln!(out, "\n== mdbx-lite stat -e -f -a {}", db.display())?;
    let stat_args = crate::StatArgs {
        env: true,
        free: 1,
        readers: 0,
        all: true,
        table: None,
        json: false,
        nosubdir: false,
        db: db.clone(),
    };
    crate::stat::run(&stat_args, out)?;

    writeln!(out, "\n== mdbx-lite check {}", db.display())?;
    let t1 = Instant::now();
    let check_args = crate::CheckArgs {
        json: false,
        db: db.clone(),
    };
    let checked = crate::check::run(&check_args, out);
    writeln!(out, "(check took {:.2?})", t1.elapsed())?;
    checked?;

    writeln!(
        out,
        "\n== mdbx-lite dump -p -s users {} | head",
        db.display()
    )?;
    let env = crate::util::open_ro(&db)?;
    crate::dumpload::dump_excerpt(&env, &db, "users", 4, out)?;

    writeln!(out, "\n== try next")?;
    for cmd in [
        "tree -s events",
        "pages",
        "page 2",
        "get -s users user:0000042",
        "keys -v --hex -s events --limit 3",
        "residency",
        "dump -a -f /tmp/demo.dump",
        "copy -c",
    ] {
        let extra = if cmd == "copy -c" {
            format!(" {}", dir.join("compact.db").display())
        } else {
            String::new()
        };
        writeln!(out, "  mdbx-lite {cmd} {}{extra}", db.display())?;
    }
    Ok(0)
}
