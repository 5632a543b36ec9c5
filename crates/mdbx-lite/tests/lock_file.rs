//! The lock file's identity and permissions: every open of one file shares one writer
//! exclusion and one reader table, whatever name it was opened by; a file planted under
//! the lock file's name is never followed, truncated or written; a user who may only
//! read the database cannot stall its writers.

use std::fs::{File, OpenOptions, Permissions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use mdbx_lite::{lock_path, Env, Error};

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0
}

fn new_db(path: &Path) -> Env {
    let env = Env::open(path).unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"k", b"v").unwrap();
    w.commit().unwrap();
    env
}

fn expect_invalid(result: mdbx_lite::Result<Env>, words: &str) -> String {
    match result {
        Err(Error::Invalid(why)) => {
            assert!(why.contains(words), "{why:?} does not say {words:?}");
            why
        }
        Err(e) => panic!("expected a refusal saying {words:?}, got {e}"),
        Ok(_) => panic!("expected a refusal saying {words:?}, the open succeeded"),
    }
}

#[test]
fn a_symlink_to_the_database_shares_its_writer_lock_and_readers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let link = dir.path().join("link");
    let env = new_db(&db);
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let aliased = Env::open(&link).unwrap();

    let w = env.begin_write().unwrap();
    assert!(
        matches!(aliased.try_begin_write(), Err(Error::Busy)),
        "two writers ran at once through two names of one file"
    );
    drop(w);
    let reader = aliased.begin_read().unwrap();
    assert!(
        env.readers().iter().any(|r| r.txnid == reader.id()),
        "a reader through the link is invisible to writers through the real name"
    );
    drop(reader);
    assert!(aliased.try_begin_write().is_ok());
    assert!(!Path::new(&format!("{}-lock", link.display())).exists());
    assert_eq!(lock_path(&link), lock_path(&db));
}

#[test]
fn a_symlinked_directory_shares_the_lock_file_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
    let env = new_db(&dir.path().join("real/db"));
    let aliased = Env::open(dir.path().join("alias/db")).unwrap();
    let _w = env.begin_write().unwrap();
    assert!(matches!(aliased.try_begin_write(), Err(Error::Busy)));
}

#[test]
fn a_database_with_a_hard_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let link = dir.path().join("link");
    drop(new_db(&db));
    std::fs::hard_link(&db, &link).unwrap();
    expect_invalid(Env::open(&link), "hard links");
    expect_invalid(Env::open(&db), "hard links");
    expect_invalid(Env::builder().read_only(true).open(&link), "hard links");
    assert!(!Path::new(&format!("{}-lock", link.display())).exists());
    std::fs::remove_file(&link).unwrap();
    let env = Env::open(&db).unwrap();
    assert_eq!(
        env.begin_read().unwrap().main_table().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
}

/// Another user plants `db-lock -> victim`: the open must neither follow it nor touch
/// the victim.
#[test]
fn a_lock_file_symlink_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"precious contents").unwrap();
    std::fs::set_permissions(&victim, Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&victim, format!("{}-lock", db.display())).unwrap();

    expect_invalid(Env::open(&db), "symbolic link");
    // The database itself may exist already.
    std::fs::write(&db, b"").unwrap();
    expect_invalid(Env::open(&db), "symbolic link");
    expect_invalid(Env::builder().read_only(true).open(&db), "symbolic link");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious contents");
    assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o777, 0o600);

    // A dangling link is not followed either (it would create the target).
    let db2 = dir.path().join("db2");
    let target = dir.path().join("created-through-link");
    std::os::unix::fs::symlink(&target, format!("{}-lock", db2.display())).unwrap();
    expect_invalid(Env::open(&db2), "symbolic link");
    assert!(!target.exists());
}

#[test]
fn a_file_that_is_not_a_lock_file_is_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(new_db(&db));
    let lock = lock_path(&db);
    let foreign = b"someone else's file, not an mdbx-lite reader table".repeat(40);
    std::fs::write(&lock, &foreign).unwrap();
    expect_invalid(Env::open(&db), "not an mdbx-lite lock file");
    assert_eq!(std::fs::read(&lock).unwrap(), foreign);

    // A hard link to another file, planted under the lock file's name.
    std::fs::remove_file(&lock).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"").unwrap();
    std::fs::hard_link(&victim, &lock).unwrap();
    expect_invalid(Env::open(&db), "hard links");
    assert_eq!(std::fs::metadata(&victim).unwrap().len(), 0);

    // The remains of an interrupted initialisation are ours to finish.
    std::fs::remove_file(&lock).unwrap();
    std::fs::write(&lock, vec![0u8; 64 + 64 * 126]).unwrap();
    let env = Env::open(&db).unwrap();
    assert!(env.readers_shared());
}

#[test]
fn the_lock_file_takes_the_database_files_permissions() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o600, 0o640, 0o660] {
        let db = dir.path().join(format!("db{mode:o}"));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&db)
            .unwrap();
        // Exact bits, whatever the umask.
        std::fs::set_permissions(&db, Permissions::from_mode(mode)).unwrap();
        drop(new_db(&db));
        let lock = std::fs::metadata(lock_path(&db)).unwrap();
        assert_eq!(lock.mode() & 0o777, mode, "lock file mode for {mode:o}");
    }
}

/// Anyone who can open a file can `flock` it; a writer lock that a read-only
/// descriptor can take would let any user who may read the database stall its writers.
#[test]
fn a_read_only_descriptor_cannot_stall_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let env = new_db(&db);
    let lock_ro = File::open(lock_path(&db)).unwrap();
    lock_ro.lock().unwrap();
    let data_ro = File::open(&db).unwrap();
    data_ro.lock().unwrap();
    let w = env.try_begin_write();
    assert!(
        w.is_ok(),
        "a read-only holder of the lock file stalled the writer: {:?}",
        w.err()
    );
}

/// Root opening a database in a directory another user controls must not write through
/// a lock file that user planted; a read-only open may read through it.
#[test]
fn a_lock_file_of_another_user_is_refused_for_writing() {
    if !is_root() {
        eprintln!("skipped: needs root to create files of another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(new_db(&db));
    let lock = lock_path(&db);
    std::os::unix::fs::chown(&lock, Some(4242), Some(4242)).unwrap();
    expect_invalid(Env::open(&db), "belongs to user 4242");
    let ro = Env::builder().read_only(true).open(&db).unwrap();
    assert_eq!(
        ro.begin_read().unwrap().main_table().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    drop(ro);

    // A lock file root creates for another user's database is handed to that user.
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::chown(&db, Some(4243), Some(4244)).unwrap();
    drop(Env::open(&db).unwrap());
    let md = std::fs::metadata(&lock).unwrap();
    assert_eq!((md.uid(), md.gid()), (4243, 4244));
}

#[test]
fn a_failed_open_of_a_file_that_is_not_a_database_leaves_no_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"not a database, just some text\n".repeat(300)).unwrap();
    assert!(matches!(Env::open(&path), Err(Error::NotADatabase(_))));
    assert!(!lock_path(&path).exists());
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "the open left something beside the file");
}

/// The writer lock lives in the lock file, so a database renamed (or whose lock file is
/// removed) while open would give a later open a lock file of its own and a second
/// writer: such an open is refused until the first environment closes.
#[test]
fn an_open_through_another_lock_file_is_refused_while_a_writer_may_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let moved = dir.path().join("moved");
    let env = new_db(&db);
    std::fs::rename(&db, &moved).unwrap();
    let why = expect_invalid(Env::open(&moved), "another lock file");
    assert!(why.contains("moved-lock"), "{why}");
    // Read-only opens take no writer lock and may read.
    let ro = Env::builder().read_only(true).open(&moved).unwrap();
    assert_eq!(
        ro.begin_read().unwrap().main_table().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    drop(ro);
    // The first environment still writes, through the name it was opened by.
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"k2", b"v2").unwrap();
    w.commit().unwrap();
    drop(env);
    let env = Env::open(&moved).unwrap();
    assert_eq!(
        env.begin_read().unwrap().main_table().get(b"k2").unwrap(),
        Some(&b"v2"[..])
    );

    // The same for a lock file removed while the database is open.
    std::fs::remove_file(lock_path(&moved)).unwrap();
    expect_invalid(Env::open(&moved), "another lock file");
    drop(env);
    drop(Env::open(&moved).unwrap());
}

/// Lock files of version 1 (made by builds whose writers lock the database file) keep
/// that protocol, so processes of both builds exclude each other; a version this build
/// does not know is refused with its number.
#[test]
fn a_version_1_lock_file_keeps_the_database_file_lock() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(new_db(&db));
    let set_version = |v: u32| {
        let lock = OpenOptions::new().write(true).open(lock_path(&db)).unwrap();
        lock.write_all_at(&v.to_le_bytes(), 8).unwrap();
    };
    set_version(1);
    let a = Env::open(&db).unwrap();
    let b = Env::open(&db).unwrap();
    let w = a.begin_write().unwrap();
    assert!(matches!(b.try_begin_write(), Err(Error::Busy)));
    // The lock is a record lock on the database file, as older builds take it.
    assert!(
        whole_file_record_lock(&db),
        "the writer of a version-1 lock file does not lock the database file"
    );
    drop(w);
    assert!(!whole_file_record_lock(&db));
    // Its reader slots name no liveness id (older builds would neither set nor clear
    // one), so they are judged by pid, as older builds judge them.
    let r = b.begin_read().unwrap();
    let lock = File::open(lock_path(&db)).unwrap();
    let word = |i: u64| {
        let mut v = [0u8; 8];
        lock.read_exact_at(&mut v, i * 8).unwrap();
        u64::from_ne_bytes(v)
    };
    let slot = (0..126u64)
        .find(|s| word(8 + 8 * s) == r.id() + 1)
        .expect("the reader's slot");
    assert_eq!(word(12 + 8 * slot), 0);
    assert_eq!(word(9 + 8 * slot), u64::from(std::process::id()));
    drop(r);
    assert!(b.try_begin_write().is_ok());
    drop((a, b));
    // A version-2 lock file (what this build creates) holds the lock in a word instead.
    std::fs::remove_file(lock_path(&db)).unwrap();
    let a = Env::open(&db).unwrap();
    let w = a.begin_write().unwrap();
    assert!(!whole_file_record_lock(&db));
    drop(w);
    drop(a);
    set_version(3);
    expect_invalid(Env::open(&db), "version 3");
}

/// Whether some open holds an open-file-description write lock on the whole of `path`
/// (from 0 to the end, as the version-1 writer lock is), per the kernel's lock table.
fn whole_file_record_lock(path: &Path) -> bool {
    let ino = std::fs::metadata(path).unwrap().ino();
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    locks.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // "N: OFDLCK ADVISORY WRITE -1 MAJ:MIN:INODE START END"
        f.len() >= 8
            && f[1] == "OFDLCK"
            && f[3] == "WRITE"
            && f[5].rsplit(':').next() == Some(&ino.to_string())
            && f[6] == "0"
            && f[7] == "EOF"
    })
}

/// A reader slot is judged by the kernel's record of its environment, not by its pid: a
/// reader in another pid namespace (a container sharing the volume) shows a pid this
/// process cannot see, and clearing its slot would let a writer reuse pages it reads.
/// Slots without a liveness id (older builds') are still judged by pid.
#[test]
fn a_reader_whose_pid_is_not_visible_keeps_its_slot() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let env = new_db(&db);
    let reader = env.begin_read().unwrap();
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .open(lock_path(&db))
        .unwrap();
    let word = |i: u64| {
        let mut b = [0u8; 8];
        lock.read_exact_at(&mut b, i * 8).unwrap();
        u64::from_ne_bytes(b)
    };
    let set = |i: u64, v: u64| lock.write_all_at(&v.to_ne_bytes(), i * 8).unwrap();
    let slot = (0..126u64)
        .find(|s| word(8 + 8 * s) == reader.id() + 1)
        .expect("the reader's slot");
    // No process can have this pid (above the kernel's largest pid_max).
    set(9 + 8 * slot, 1 << 30);
    set(10 + 8 * slot, 12345);
    let other = Env::open(&db).unwrap();
    assert_eq!(other.reader_check(), 0, "a live reader's slot was cleared");
    assert!(other.readers().iter().all(|r| r.alive));
    // Without its liveness id the slot is an older build's, judged by the pid: stale.
    set(12 + 8 * slot, 0);
    assert!(other.readers().iter().any(|r| !r.alive));
    assert_eq!(other.reader_check(), 1);
    drop(reader);
}
