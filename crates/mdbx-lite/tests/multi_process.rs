//! Several processes on one database: readers in any number of processes, one writer at
//! a time. Child processes are this test binary re-executed with a role in the
//! environment (the `child` test, ignored unless a role is set).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mdbx_lite::{Durability, Env, Error};

const ROLE: &str = "MDBX_LITE_MP_ROLE";
const DB: &str = "MDBX_LITE_MP_DB";
const ACCOUNTS: u32 = 64;
const START_BALANCE: u64 = 1_000;
const WRITER_TXNS: u64 = 2_000;
/// The writer stops after every this many transactions until the test has seen each
/// reader read its latest commit: the readers see the writer's progress however the
/// processes are scheduled.
const CHECKPOINT_EVERY: u64 = 200;
/// Transactions each `counter` child commits.
const COUNTER_TXNS: u64 = 2_000;
/// How long a reader waits for the writer to finish; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(300);

fn spawn(role: &str, db: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DB, db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Wait for `prefix` on the child's stdout (libtest may print `test child ... ` before
/// it on the same line); returns the rest of that line.
fn expect_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, prefix: &str) -> String {
    let mut seen = Vec::new();
    for line in lines {
        let line = line.unwrap();
        if let Some(at) = line.find(prefix) {
            return line[at + prefix.len()..].trim().to_string();
        }
        seen.push(line);
    }
    panic!("child ended before printing {prefix:?}; it printed {seen:?}");
}

/// In a child: block until the test kills this process. The test holds the other end
/// of our stdin until then, so reading it returns only if the test ended without
/// killing us.
fn wait_to_be_killed() -> ! {
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    panic!("stdin closed: the test ended without killing this child");
}

fn account(i: u32) -> [u8; 4] {
    i.to_be_bytes()
}

fn balance(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().unwrap())
}

fn setup_accounts(db: &Path) -> Env {
    let env = Env::open(db).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create_table("accounts").unwrap();
        for i in 0..ACCOUNTS {
            t.put(&account(i), &START_BALANCE.to_le_bytes()).unwrap();
        }
    }
    w.commit().unwrap();
    env
}

/// The child processes.
#[test]
#[ignore]
fn child() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let db = std::env::var(DB).unwrap();
    match role.as_str() {
        "writer" => {
            // Moves money between accounts: the total never changes.
            let env = Env::builder()
                .durability(Durability::NoSync)
                .open(&db)
                .unwrap();
            let mut x = 12345u64;
            let mut go = std::io::stdin().lock().lines();
            for n in 0..WRITER_TXNS {
                let mut w = env.begin_write().unwrap();
                {
                    let mut t = w.open_table("accounts").unwrap();
                    for _ in 0..4 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let (a, b) = ((x % 64) as u32, ((x >> 8) % 64) as u32);
                        let va = balance(t.get(&account(a)).unwrap().unwrap());
                        let vb = balance(t.get(&account(b)).unwrap().unwrap());
                        let amount = (x >> 16) % (va + 1);
                        if a != b {
                            t.put(&account(a), &(va - amount).to_le_bytes()).unwrap();
                            t.put(&account(b), &(vb + amount).to_le_bytes()).unwrap();
                        }
                    }
                    // Churn so pages are freed and reused while readers watch.
                    t.put(format!("pad{}", n % 50).as_bytes(), &vec![n as u8; 600])
                        .unwrap();
                }
                let checkpoint = (n + 1).is_multiple_of(CHECKPOINT_EVERY);
                let k = (n + 1) / CHECKPOINT_EVERY;
                if checkpoint {
                    w.main_table().put(b"checkpoint", &k.to_le_bytes()).unwrap();
                }
                w.commit().unwrap();
                if checkpoint {
                    // Wait until the test has seen every reader read this commit.
                    println!("checkpoint {k}");
                    match go.next() {
                        Some(Ok(line)) if line == "go" => {}
                        other => panic!("writer: expected go, got {other:?}"),
                    }
                }
            }
            let mut w = env.begin_write().unwrap();
            w.main_table().put(b"writer-done", b"1").unwrap();
            w.commit().unwrap();
            println!("writer-done {}", env.last_txnid());
        }
        "reader" => {
            // Checks the invariant on fresh snapshots until the writer is done.
            let env = Env::open(&db).unwrap();
            let mut seen = std::collections::BTreeSet::new();
            let mut checkpoint = 0u64;
            let deadline = Instant::now() + HANG_GUARD;
            loop {
                let r = env.begin_read().unwrap();
                let t = r.open_table("accounts").unwrap();
                let total: u64 = (0..ACCOUNTS)
                    .map(|i| balance(t.get(&account(i)).unwrap().unwrap()))
                    .sum();
                assert_eq!(
                    total,
                    START_BALANCE * ACCOUNTS as u64,
                    "snapshot {}",
                    r.id()
                );
                if seen.insert(r.id()) && seen.len() == 1 {
                    // Lets the test start the writer only once every reader reads.
                    println!("reader-ready");
                }
                if let Some(v) = r.main_table().get(b"checkpoint").unwrap() {
                    let k = u64::from_le_bytes(v.try_into().unwrap());
                    if k != checkpoint {
                        checkpoint = k;
                        println!("reader-checkpoint {k}");
                    }
                }
                if r.main_table().get(b"writer-done").unwrap().is_some() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "reader: the writer has not finished after {HANG_GUARD:?}"
                );
            }
            println!("reader-snapshots {}", seen.len());
        }
        "holder" => {
            // Holds an old snapshot (and several read slots) until killed.
            let env = Env::builder().max_readers(8).open(&db).unwrap();
            let txns: Vec<_> = (0..3).map(|_| env.begin_read().unwrap()).collect();
            println!("holding {}", txns[0].id());
            wait_to_be_killed();
        }
        "dying-writer" => {
            // Commits numbered transactions, acknowledging each, then starts a big one
            // and waits to be killed in the middle of it.
            let env = Env::open(&db).unwrap();
            for n in 0..20u64 {
                let mut w = env.begin_write().unwrap();
                w.main_table()
                    .put(format!("txn{n:03}").as_bytes(), &[n as u8; 3000])
                    .unwrap();
                w.commit().unwrap();
                println!("committed {n}");
            }
            let mut w = env.begin_write().unwrap();
            {
                let mut t = w.main_table();
                for i in 0..20_000u32 {
                    t.put(format!("partial{i}").as_bytes(), b"never committed")
                        .unwrap();
                }
            }
            println!("in-transaction");
            // `w` stays open (never committed) until the kill.
            wait_to_be_killed();
        }
        "counter" => {
            // Increments one counter in many small transactions, racing other
            // processes that do the same: a lost increment means two writers ran at once.
            let env = Env::builder()
                .durability(Durability::NoSync)
                .open(&db)
                .unwrap();
            for _ in 0..COUNTER_TXNS {
                let mut w = env.begin_write().unwrap();
                let n = w.main_table().get(b"counter").unwrap().map_or(0, balance);
                w.main_table()
                    .put(b"counter", &(n + 1).to_le_bytes())
                    .unwrap();
                w.commit().unwrap();
            }
            println!("counted");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn reader_processes_see_only_whole_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(setup_accounts(&db));
    let mut readers: Vec<(Child, _)> = (0..3)
        .map(|_| {
            let mut child = spawn("reader", &db);
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            (child, lines)
        })
        .collect();
    // On a loaded machine a reader process can take longer to start than the writer
    // takes to finish; start the writer once all of them are reading.
    for (_, lines) in &mut readers {
        expect_line(lines, "reader-ready");
    }
    let mut writer = spawn("writer", &db);
    let mut writer_out = BufReader::new(writer.stdout.take().unwrap()).lines();
    for k in 1..=WRITER_TXNS / CHECKPOINT_EVERY {
        assert_eq!(expect_line(&mut writer_out, "checkpoint "), k.to_string());
        // The writer waits while each reader catches up with its latest commit.
        for (_, lines) in &mut readers {
            assert_eq!(expect_line(lines, "reader-checkpoint "), k.to_string());
        }
        let stdin = writer.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
    expect_line(&mut writer_out, "writer-done");
    assert!(
        writer.wait().unwrap().success(),
        "the writer process failed"
    );
    for (mut child, mut lines) in readers {
        let seen: usize = expect_line(&mut lines, "reader-snapshots").parse().unwrap();
        assert!(child.wait().unwrap().success(), "a reader process failed");
        // Each reader saw the other process's commits as they happened (at least the
        // first snapshot, one per checkpoint and the last).
        assert!(seen > 10, "a reader saw only {seen} snapshots");
    }
    let env = Env::open(&db).unwrap();
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn killed_reader_stops_pinning_space() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let env = setup_accounts(&db);
    let overwrite = |round: u32| {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in 0..2_000u32 {
                t.put(&i.to_be_bytes(), &[round as u8; 200]).unwrap();
            }
        }
        w.commit().unwrap();
    };
    overwrite(0);
    let mut holder = spawn("holder", &db);
    let mut out = BufReader::new(holder.stdout.take().unwrap()).lines();
    let held: u64 = expect_line(&mut out, "holding").parse().unwrap();
    for round in 1..=20 {
        overwrite(round);
    }
    let st = env.stat().unwrap();
    assert_eq!(st.readers, 3, "the other process's readers are visible");
    assert!(st.held_pages > 0 && st.oldest_reader_lag >= 20, "{st:?}");
    assert!(env
        .readers()
        .iter()
        .all(|r| !r.this_process && r.alive && r.txnid == held));
    let pinned_size = st.file_bytes;

    holder.kill().unwrap(); // SIGKILL: no chance to release its slots
    holder.wait().unwrap();
    assert!(env.readers().iter().all(|r| !r.alive));
    // The next writer clears the dead reader by itself and reuses the space.
    for round in 21..=60 {
        overwrite(round);
    }
    let st = env.stat().unwrap();
    assert_eq!(st.readers, 0, "{:?}", env.readers());
    assert_eq!(st.held_pages, 0);
    assert_eq!(
        st.file_bytes, pinned_size,
        "the file kept growing after the reader died"
    );
    assert_eq!(env.reader_check(), 0);
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn killed_writer_releases_the_lock_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(Env::open(&db).unwrap());
    let mut writer = spawn("dying-writer", &db);
    let mut out = BufReader::new(writer.stdout.take().unwrap()).lines();
    expect_line(&mut out, "in-transaction");
    let env = Env::open(&db).unwrap();
    assert!(matches!(env.try_begin_write(), Err(Error::Busy)));
    // Another writer goes to sleep waiting for the lock before the holder dies.
    let waiter = {
        let db = db.clone();
        std::thread::spawn(move || {
            let env = Env::open(&db).unwrap();
            let mut w = env.begin_write().unwrap();
            w.main_table().put(b"waited", b"for the dead").unwrap();
            w.commit().unwrap();
        })
    };
    let started = Instant::now();
    while !writer_lock_contended(&db) {
        assert!(
            started.elapsed() < HANG_GUARD,
            "the waiter never marked the lock"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.kill().unwrap();
    writer.wait().unwrap();
    // The waiter finds the holder's liveness lock gone and takes over.
    waiter.join().unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"after", b"kill").unwrap();
    w.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    for n in 0..20u64 {
        assert_eq!(
            t.get(format!("txn{n:03}").as_bytes()).unwrap(),
            Some(&[n as u8; 3000][..])
        );
    }
    assert_eq!(t.get(b"partial0").unwrap(), None);
    assert_eq!(t.get(b"waited").unwrap(), Some(&b"for the dead"[..]));
    assert_eq!(t.len(), 22);
}

#[test]
fn reader_table_full_is_a_clear_error_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    // The first opener sizes the table in the lock file: 8 slots.
    let env = Env::builder().max_readers(8).open(&db).unwrap();
    let mut holder = spawn("holder", &db);
    let mut out = BufReader::new(holder.stdout.take().unwrap()).lines();
    expect_line(&mut out, "holding");
    let mine: Vec<_> = (0..5).map(|_| env.begin_read().unwrap()).collect();
    match env.begin_read() {
        Err(Error::ReadersFull { max }) => assert_eq!(max, 8),
        other => panic!("expected ReadersFull, got {:?}", other.map(|r| r.id())),
    }
    drop(mine);
    assert!(
        env.begin_read().is_ok(),
        "slots freed by this process are reused"
    );
    let _more: Vec<_> = (0..5).map(|_| env.begin_read().unwrap()).collect();
    // Full again; once the other process dies, its slots are reclaimed on demand.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let r = env
        .begin_read()
        .expect("stale slots are cleared when the table is full");
    drop(r);
    assert_eq!(env.readers().iter().filter(|r| !r.this_process).count(), 0);
}

#[test]
fn two_handles_in_one_process_see_each_others_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let a = Env::open(&db).unwrap();
    let b = Env::open(&db).unwrap();
    for n in 0..50u32 {
        let (w_env, r_env) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let mut w = w_env.begin_write().unwrap();
        w.main_table()
            .put(&n.to_be_bytes(), &vec![n as u8; 5000])
            .unwrap();
        w.commit().unwrap();
        // The other handle's next read transaction sees it, without writing itself.
        let r = r_env.begin_read().unwrap();
        assert_eq!(r.main_table().len(), u64::from(n) + 1);
        assert_eq!(
            r.main_table()
                .get(&n.to_be_bytes())
                .unwrap()
                .map(|v| v.len()),
            Some(5000)
        );
    }
    // A long reader on one handle is respected by the other handle's writer.
    let old = a.begin_read().unwrap();
    let before: Vec<Vec<u8>> = old
        .main_table()
        .iter()
        .map(|e| e.unwrap().1.to_vec())
        .collect();
    for n in 0..30u32 {
        let mut w = b.begin_write().unwrap();
        w.main_table()
            .put(&(n % 50).to_be_bytes(), &[0xee; 700])
            .unwrap();
        w.commit().unwrap();
    }
    let after: Vec<Vec<u8>> = old
        .main_table()
        .iter()
        .map(|e| e.unwrap().1.to_vec())
        .collect();
    assert_eq!(
        before, after,
        "a snapshot changed under a reader of the other handle"
    );
    drop(old);
    assert!(b.check().unwrap().is_ok());
}

#[test]
fn database_growing_in_another_handle_is_remapped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let reader = Env::open(&db).unwrap();
    let writer = Env::open(&db).unwrap();
    let early = reader.begin_read().unwrap();
    // Grow the file well past the reader's 1 GiB reservation.
    for n in 0..3u8 {
        let mut w = writer.begin_write().unwrap();
        w.main_table().put(&[n], &vec![n; 600 << 20]).unwrap();
        w.commit().unwrap();
    }
    let r = reader.begin_read().unwrap();
    let t = r.main_table();
    for n in 0..3u8 {
        let v = t.get(&[n]).unwrap().unwrap();
        assert_eq!(v.len(), 600 << 20);
        assert!(v.iter().step_by(4096).all(|&b| b == n));
    }
    assert_eq!(early.main_table().len(), 0);
}

#[test]
fn writers_in_several_processes_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(Env::open(&db).unwrap());
    let mut children: Vec<Child> = (0..3).map(|_| spawn("counter", &db)).collect();
    for c in &mut children {
        let mut out = BufReader::new(c.stdout.take().unwrap()).lines();
        expect_line(&mut out, "counted");
        assert!(c.wait().unwrap().success());
    }
    let env = Env::open(&db).unwrap();
    let r = env.begin_read().unwrap();
    let n = r.main_table().get(b"counter").unwrap().map_or(0, balance);
    assert_eq!(
        n,
        3 * COUNTER_TXNS,
        "increments were lost: writers overlapped"
    );
    assert!(env.check().unwrap().is_ok());
}

/// Whether a writer sleeps waiting for the writer lock: bit 63 of the lock file's word 4
/// (`docs/format.md`, "Lock file").
fn writer_lock_contended(db: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let lock = std::fs::File::open(mdbx_lite::lock_path(db)).unwrap();
    let mut word = [0u8; 8];
    lock.read_exact_at(&mut word, 4 * 8).unwrap();
    u64::from_ne_bytes(word) >> 63 == 1
}
