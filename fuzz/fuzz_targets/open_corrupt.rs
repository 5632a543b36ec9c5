//! A mutated database file: open, check, and read everything. Errors are fine; panics,
//! hangs and out-of-bounds reads are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mdbx_lite::Env;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("db");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for verify in [false, true] {
        let Ok(env) = Env::builder()
            .read_only(true)
            .verify_checksums(verify)
            .open(&path)
        else {
            return;
        };
        let _ = env.check();
        let _ = env.stat();
        let Ok(r) = env.begin_read() else { return };
        let mut tables = vec![r.main_table()];
        if let Ok(names) = r.list_tables() {
            for n in names.iter().take(16) {
                if let Ok(t) = r.open_table(n) {
                    tables.push(t);
                }
            }
        }
        for t in tables {
            let mut keys = Vec::new();
            for e in t.iter().take(100_000) {
                match e {
                    Ok((k, _)) => keys.push(k),
                    Err(_) => break,
                }
            }
            for e in t.iter().rev().take(100_000) {
                if e.is_err() {
                    break;
                }
            }
            for k in keys.iter().take(1000) {
                let _ = t.get(k);
            }
            let mut c = t.cursor();
            let _ = c.seek(b"m");
            let _ = c.prev();
            let _ = c.last();
        }
    }
});
