//! An I/O error during a commit fails that commit, leaves the last committed state intact
//! on disk, and leaves the environment usable — or, once the meta write itself failed,
//! reporting `NeedsReopen` — never silently continuing in an unknown state.

mod common;
use common::{layer, Hooks};

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use mdbx_lite::io::Storage;
use mdbx_lite::{Env, Error};

/// Fails the operation whose number reaches zero (writes, size changes and syncs
/// count; reads do not), once.
struct Faulty {
    countdown: Arc<AtomicI64>,
    enospc: bool,
}

impl Faulty {
    fn tick(&self) -> io::Result<()> {
        if self.countdown.fetch_sub(1, Ordering::SeqCst) == 0 {
            return Err(if self.enospc {
                io::Error::from_raw_os_error(28)
            } else {
                io::Error::from_raw_os_error(5)
            });
        }
        Ok(())
    }
}

impl Hooks for Faulty {
    fn set_len(&self, inner: &dyn Storage, len: u64) -> io::Result<()> {
        self.tick()?;
        inner.set_len(len)
    }
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.tick()?;
        inner.write_at(buf, offset)
    }
    fn sync_data(&self, inner: &dyn Storage) -> io::Result<()> {
        self.tick()?;
        inner.sync_data()
    }
}

/// Open (or create) the database at `path` over a `Faulty` layer counting `countdown`.
fn open_faulty(path: &Path, countdown: &Arc<AtomicI64>, enospc: bool) -> mdbx_lite::Result<Env> {
    Env::builder()
        .storage_layer(layer(Faulty {
            countdown: countdown.clone(),
            enospc,
        }))
        .open(path)
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Transaction `t` of the workload: puts (some large, so overflow runs and file growth
/// happen) and deletes, so the free tree is used too.
fn apply(t: u64, model: &mut Model) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    let mut ops = Vec::new();
    for i in 0..40u64 {
        let k = format!("k{:04}", (t * 37 + i * 11) % 300).into_bytes();
        if (t + i).is_multiple_of(5) {
            ops.push((k, None));
        } else {
            let len = if i == 7 {
                20_000 + t as usize * 100
            } else {
                (i * 13 % 200) as usize
            };
            ops.push((k, Some(vec![(t + i) as u8; len])));
        }
    }
    for (k, v) in &ops {
        match v {
            Some(v) => {
                model.insert(k.clone(), v.clone());
            }
            None => {
                model.remove(k);
            }
        }
    }
    ops
}

fn run_txn(env: &Env, ops: &[(Vec<u8>, Option<Vec<u8>>)]) -> mdbx_lite::Result<()> {
    let mut w = env.begin_write()?;
    {
        let mut t = w.main_table();
        for (k, v) in ops {
            match v {
                Some(v) => t.put(k, v)?,
                None => {
                    t.delete(k)?;
                }
            }
        }
    }
    w.commit()
}

fn contents(env: &Env) -> Model {
    let r = env.begin_read().unwrap();
    r.main_table()
        .iter()
        .map(|e| {
            let (k, v) = e.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

const TXNS: u64 = 6;

/// Count the storage operations the workload performs without faults.
fn total_ops() -> i64 {
    let dir = tempfile::tempdir().unwrap();
    let counter = Arc::new(AtomicI64::new(i64::MAX));
    let env = open_faulty(&dir.path().join("db"), &counter, false).unwrap();
    let mut model = Model::new();
    for t in 0..TXNS {
        run_txn(&env, &apply(t, &mut model)).unwrap();
    }
    i64::MAX - counter.load(Ordering::SeqCst)
}

#[test]
fn every_failing_operation_keeps_committed_state() {
    let total = total_ops();
    assert!(total > 20, "workload too small: {total} operations");
    for fail_at in 0..total {
        for enospc in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db");
            let countdown = Arc::new(AtomicI64::new(fail_at));
            let env = match open_faulty(&path, &countdown, enospc) {
                Ok(env) => env,
                Err(Error::Io(_)) => continue, // the fault hit creation: nothing to keep
                Err(e) => panic!("fail_at {fail_at}: unexpected open error {e}"),
            };
            let mut committed = Model::new();
            let mut failed: Option<Model> = None;
            let mut poisoned = false;
            for t in 0..TXNS {
                let mut next = committed.clone();
                let ops = apply(t, &mut next);
                match run_txn(&env, &ops) {
                    Ok(()) => {
                        assert!(!poisoned, "fail_at {fail_at}: commit after NeedsReopen");
                        committed = next;
                    }
                    Err(Error::NeedsReopen) => poisoned = true,
                    Err(Error::Io(_)) => {
                        failed = Some(next);
                        // The environment must still be usable or say it is not.
                    }
                    Err(e) => panic!("fail_at {fail_at}: unexpected error {e}"),
                }
                if !poisoned {
                    // What readers see is always a committed state.
                    assert_eq!(contents(&env), committed, "fail_at {fail_at}, txn {t}");
                }
            }
            drop(env);
            let env = Env::open(&path).unwrap();
            let report = env.check().unwrap();
            assert!(report.is_ok(), "fail_at {fail_at}: {:?}", report.problems);
            let now = contents(&env);
            // Either the last commit that returned Ok, or — when the fault hit after the
            // meta write — the failed transaction, whose meta may have reached the file.
            assert!(
                now == committed || failed.as_ref() == Some(&now),
                "fail_at {fail_at}: reopened state is neither committed nor the failed txn"
            );
        }
    }
}

#[test]
fn usable_after_a_failed_data_write() {
    let dir = tempfile::tempdir().unwrap();
    let countdown = Arc::new(AtomicI64::new(i64::MAX));
    let env = open_faulty(&dir.path().join("db"), &countdown, true).unwrap();
    let mut model = Model::new();
    run_txn(&env, &apply(0, &mut model)).unwrap();
    // Fail the very next write: the first data page of the next commit.
    countdown.store(0, Ordering::SeqCst);
    let mut lost = model.clone();
    let err = run_txn(&env, &apply(1, &mut lost)).unwrap_err();
    assert!(
        matches!(err, Error::Io(ref e) if e.raw_os_error() == Some(28)),
        "{err}"
    );
    assert_eq!(contents(&env), model);
    // Disk has room again: the environment carries on.
    run_txn(&env, &apply(2, &mut model)).unwrap();
    assert_eq!(contents(&env), model);
    assert!(env.check().unwrap().is_ok());
}
