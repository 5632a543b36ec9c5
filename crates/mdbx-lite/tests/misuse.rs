//! API misuse gets a clear error, never a hang.

use mdbx_lite::{Env, Error};

/// Two handles on one file in one thread: waiting for the writer lock the thread holds
/// itself, through the other handle, would never end.
#[test]
fn a_second_handle_on_the_writing_thread_gets_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = Env::open(&path).unwrap();
    let second = Env::open(&path).unwrap();
    let w = first.begin_write().unwrap();
    match second.begin_write() {
        Err(Error::Invalid(why)) => assert!(why.contains("another Env"), "{why}"),
        other => panic!(
            "expected an error naming the other handle, got {:?}",
            other.err()
        ),
    }
    assert!(matches!(second.try_begin_write(), Err(Error::Busy)));
    assert!(matches!(second.sync(), Err(Error::Invalid(_))));
    // Another thread simply waits its turn, as before.
    let waiter = {
        let second = second.clone();
        std::thread::spawn(move || {
            let mut w = second.begin_write().unwrap();
            w.main_table().put(b"b", b"2").unwrap();
            w.commit().unwrap();
        })
    };
    drop(w);
    waiter.join().unwrap();
    // Once the first handle's transaction ended, this thread may write through either.
    let mut w = second.begin_write().unwrap();
    w.main_table().put(b"c", b"3").unwrap();
    w.commit().unwrap();
    second.sync().unwrap();
    let r = first.begin_read().unwrap();
    assert_eq!(r.main_table().get(b"c").unwrap(), Some(&b"3"[..]));
    assert_eq!(r.main_table().get(b"b").unwrap(), Some(&b"2"[..]));
}

fn expect_lmdb_hint(result: mdbx_lite::Result<Env>) {
    match result {
        Err(Error::NotADatabase(why)) => {
            assert!(why.contains("LMDB") && why.contains("mdb_dump"), "{why}")
        }
        Err(e) => panic!("expected NotADatabase naming LMDB, got {e}"),
        Ok(_) => panic!("an LMDB file opened as a database"),
    }
}

#[test]
fn opening_an_lmdb_file_or_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // An LMDB meta page: a 16-byte page header, then the magic 0xBEEFC0DE.
    let mut page = vec![0u8; 8192];
    page[10] = 0x08; // P_META
    page[16..20].copy_from_slice(&0xBEEF_C0DEu32.to_le_bytes());
    page[20..24].copy_from_slice(&1u32.to_le_bytes());
    let file = dir.path().join("data.mdb");
    std::fs::write(&file, &page).unwrap();
    expect_lmdb_hint(Env::open(&file));
    expect_lmdb_hint(Env::builder().read_only(true).open(&file));
    expect_lmdb_hint(Env::open(dir.path()));
    assert!(!mdbx_lite::lock_path(&file).exists());

    // A file LMDB itself wrote, when its tools are installed.
    let real = dir.path().join("real.mdb");
    let loaded = std::process::Command::new("mdb_load")
        .args(["-n", "-f", "/dev/stdin"])
        .arg(&real)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(
                b"VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n 61\n 62\nDATA=END\n",
            )?;
            c.wait()
        });
    if matches!(loaded, Ok(s) if s.success()) {
        expect_lmdb_hint(Env::open(&real));
    }

    let empty_dir = dir.path().join("sub");
    std::fs::create_dir(&empty_dir).unwrap();
    match Env::open(&empty_dir) {
        Err(Error::NotADatabase(why)) => assert!(why.contains("directory"), "{why}"),
        other => panic!(
            "expected a clear error for a directory, got {:?}",
            other.err()
        ),
    }
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for read_only in [false, true] {
        match Env::builder().read_only(read_only).open(&fifo) {
            Err(Error::Invalid(why)) => assert!(why.contains("not a regular file"), "{why}"),
            other => panic!("expected a refusal, got {:?}", other.err()),
        }
    }
}
