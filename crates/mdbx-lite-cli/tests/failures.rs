//! Failed loads and copies: what they leave at the destination, and which file their
//! errors name.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{dump_entries, names_in, p, run, SmallFs, BIN, DUMP_HEAD};
use mdbx_lite::Env;

/// Entries a racing load is fed before the second writer starts: far more than the
/// pipe and the load's input buffer hold, so once they are written the load has opened
/// its database and is loading, waiting for the rest of its input.
const FIRST_PART: u64 = 200_000;

/// Run `load db` on stdin: the first `FIRST_PART` entries, then (with the load still
/// waiting for input) a second writer that opens `db` and commits three keys, then
/// `tail`. Returns the load's output; the second writer's commits must all succeed.
fn load_racing_a_second_writer(db: &Path, tail: &str) -> Output {
    let mut load = Command::new(BIN)
        .arg("load")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = load.stdin.take().unwrap();
    input
        .write_all(format!("{DUMP_HEAD}{}", dump_entries(0..FIRST_PART, 24)).as_bytes())
        .expect("the load stopped reading its input");
    assert!(load.try_wait().unwrap().is_none(), "the load ended early");

    let (tx, rx) = mpsc::channel();
    let path = db.to_path_buf();
    let writer = std::thread::spawn(move || -> mdbx_lite::Result<()> {
        let env = Env::open(&path)?;
        let _ = tx.send("opened");
        for i in 0..3 {
            let mut w = env.begin_write()?;
            w.main_table()
                .put(format!("second-{i}").as_bytes(), b"acknowledged")?;
            w.commit()?;
        }
        let _ = tx.send("committed");
        Ok(())
    });
    assert_eq!(
        rx.recv(),
        Ok("opened"),
        "the second writer cannot open the db"
    );
    // A load that holds the write lock until it ends delays these commits until then;
    // what is checked afterwards does not depend on whether they came first.
    let _ = rx.recv_timeout(Duration::from_secs(30));

    let _ = input.write_all(tail.as_bytes());
    drop(input);
    let out = load.wait_with_output().unwrap();
    writer.join().unwrap().expect("the second writer's commits");
    out
}

fn assert_only_the_second_writers_keys(db: &Path) {
    assert!(db.exists(), "{} was removed", db.display());
    assert_eq!(
        run(["keys", p(db)]).ok(),
        "second-0\nsecond-1\nsecond-2\n",
        "the second writer's commits must be all that {} holds",
        db.display()
    );
}

#[test]
fn failed_new_load_keeps_a_database_another_writer_created_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    // A bad last line: the load fails after the second writer's commits.
    let out = load_racing_a_second_writer(&db, " zz\n 00\nDATA=END\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = 4 + 2 * FIRST_PART + 1;
    assert!(
        stderr.starts_with(&format!(
            "mdbx-lite: <stdin>: line {line}: invalid hex digit"
        )),
        "{stderr}"
    );
    assert_only_the_second_writers_keys(&db);
    // The load's own files are gone; nothing else was removed.
    assert_eq!(names_in(dir.path()), ["x.db", "x.db-lock"]);
}

#[test]
fn new_load_does_not_replace_a_database_that_appeared_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let tail = format!(
        "{}DATA=END\n",
        dump_entries(FIRST_PART..FIRST_PART + 10, 24)
    );
    let out = load_racing_a_second_writer(&db, &tail);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "mdbx-lite: {}: was created by another process during the load; \
             nothing was written to it",
            db.display()
        )
    );
    assert_only_the_second_writers_keys(&db);
    assert_eq!(names_in(dir.path()), ["x.db", "x.db-lock"]);
}

/// A database of about 8 MiB: 2,000 values of 3,000 bytes (a page each).
fn eight_mib_db(dir: &Path) -> PathBuf {
    let path = dir.join("src.db");
    let env = Env::open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.main_table();
    for i in 0..2000u32 {
        let v: Vec<u8> = (0..3000u32).map(|j| (i + j) as u8).collect();
        t.put(format!("k{i:05}").as_bytes(), &v).unwrap();
    }
    w.commit().unwrap();
    path
}

#[test]
fn copy_onto_a_full_disk_names_the_destination_and_can_be_retried() {
    let Some(fs) = SmallFs::mount(24 << 20) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = eight_mib_db(dir.path());
    // Leave about 4 MiB free.
    let fill = fs.path().join("fill");
    std::fs::write(&fill, vec![1u8; 20 << 20]).unwrap();
    let plain = fs.path().join("plain.db");
    let compact = fs.path().join("compact.db");
    for (flags, dst) in [(&[][..], &plain), (&["-c"][..], &compact)] {
        let mut args = vec!["copy"];
        args.extend(flags);
        args.extend([p(&src), p(dst)]);
        let r = run(&args).fails(1, "No space left on device");
        assert!(
            r.stderr
                .starts_with(&format!("mdbx-lite: {}: I/O error: ", dst.display())),
            "{args:?}: {}",
            r.stderr
        );
        // Neither a partial copy nor a temporary file is left.
        assert_eq!(fs.names(), ["fill"], "{args:?}");
    }
    std::fs::remove_file(&fill).unwrap();
    run(["copy", p(&src), p(&plain)]).ok();
    run(["copy", "-c", p(&src), p(&compact)]).ok();
    let want = run(["dump", p(&src)]).ok();
    for c in [&plain, &compact] {
        assert!(run(["check", p(c)]).ok().contains("no problems found"));
        assert_eq!(run(["dump", p(c)]).ok(), want);
    }
    assert_eq!(fs.names(), ["compact.db", "plain.db"]);
}

#[test]
fn load_onto_a_full_disk_names_the_database() {
    let Some(fs) = SmallFs::mount(4 << 20) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // About 6 MiB of values large enough for overflow pages, which a put writes at
    // once: the disk fills up while entries are being put, not at a commit.
    let dump = dir.path().join("in.dump");
    std::fs::write(
        &dump,
        format!("{DUMP_HEAD}{}DATA=END\n", dump_entries(0..1500, 3000)),
    )
    .unwrap();
    let expect_db_error = |db: &Path| {
        let r = run(["load", "-f", p(&dump), p(db)]).fails(1, "No space left on device");
        assert!(
            r.stderr
                .starts_with(&format!("mdbx-lite: {}: I/O error: ", db.display())),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("(while loading {}", dump.display())),
            "{}",
            r.stderr
        );
    };
    // A new database: nothing is left.
    let new = fs.path().join("new.db");
    expect_db_error(&new);
    assert_eq!(fs.names(), Vec::<String>::new());
    // An existing database keeps what it had.
    let old = fs.path().join("old.db");
    common::run_stdin(["load", "-T", p(&old)], b"a\n1\nb\n2\n").ok();
    expect_db_error(&old);
    assert!(run(["check", p(&old)]).ok().contains("no problems found"));
    assert_eq!(run(["keys", "-v", p(&old)]).ok(), "a\t1\nb\t2\n");
}

#[test]
fn copy_refuses_a_dangling_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::sample_db(dir.path(), 10, 100);
    let target = dir.path().join("target.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for flags in [&[][..], &["-c"][..]] {
        let mut args = vec!["copy"];
        args.extend(flags);
        args.extend([p(&src), p(&link)]);
        let r = run(&args).fails(1, "exists (a symbolic link); refusing to overwrite");
        assert!(
            r.stderr
                .starts_with(&format!("mdbx-lite: {}: ", link.display())),
            "{}",
            r.stderr
        );
    }
    assert!(!target.exists(), "written through the link");
    assert_eq!(names_in(dir.path()), ["link.db", "sample.db"]);
}

#[test]
fn load_refuses_a_dangling_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    common::run_stdin(["load", "-T", p(&link)], b"a\n1\n").fails(
        1,
        "is a symbolic link to a missing file; refusing to create a database through it",
    );
    assert!(!target.exists(), "written through the link");
    assert_eq!(names_in(dir.path()), ["link.db"]);
}
