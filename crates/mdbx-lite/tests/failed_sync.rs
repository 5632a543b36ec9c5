//! A failed sync is final ("fsyncgate"): after Linux fails to write back a page it may
//! mark the page clean and report the error once, so the data is in the page cache but
//! never reaches the disk, and the next sync succeeds without writing it.
//!
//! The storage layer here models exactly that. The real file plays the page cache; a
//! separate image plays the disk, and receives the writes issued since the previous sync
//! only when a sync succeeds. A sync chosen to fail drops them instead. Just before and
//! just after every sync the disk image is kept, with the number of commits the
//! application had been told were durable at that moment; each image is then opened as
//! after a power loss (under another boot id) and must pass `check` and hold at least
//! those commits.

mod common;
use common::{layer, BootAs, Hooks};

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use mdbx_lite::io::Storage;
use mdbx_lite::{Durability, Env, Error};

enum Op {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Default)]
struct Disk {
    /// What the device holds.
    image: Vec<u8>,
    /// Writes since the last sync: in the page cache only.
    pending: Vec<Op>,
    syncs: usize,
    /// The number (1-based) of the sync that fails.
    fail_at: Option<usize>,
    /// Commits the application was told are durable.
    acknowledged: usize,
    /// The disk image before and after each sync, with `acknowledged` at that moment.
    images: Vec<(Vec<u8>, usize)>,
}

impl Disk {
    fn apply(&mut self, op: Op) {
        match op {
            Op::Write { offset, data } => {
                let end = offset as usize + data.len();
                if self.image.len() < end {
                    self.image.resize(end, 0);
                }
                self.image[offset as usize..end].copy_from_slice(&data);
            }
            Op::SetLen(len) => self.image.resize(len as usize, 0),
        }
    }
}

struct LosingSync {
    disk: Arc<Mutex<Disk>>,
}

impl Hooks for LosingSync {
    fn set_len(&self, inner: &dyn Storage, len: u64) -> io::Result<()> {
        self.disk.lock().unwrap().pending.push(Op::SetLen(len));
        inner.set_len(len)
    }
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.lock().unwrap().pending.push(Op::Write {
            offset,
            data: buf.to_vec(),
        });
        inner.write_at(buf, offset)
    }
    fn sync_data(&self, _inner: &dyn Storage) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        // A power loss just before this sync loses every write since the last one.
        let before = (d.image.clone(), d.acknowledged);
        d.images.push(before);
        d.syncs += 1;
        let pending = std::mem::take(&mut d.pending);
        if d.fail_at == Some(d.syncs) {
            // The pages could not be written; the kernel forgets they were dirty.
            return Err(io::Error::other("injected writeback failure"));
        }
        for op in pending {
            d.apply(op);
        }
        let snapshot = (d.image.clone(), d.acknowledged);
        d.images.push(snapshot);
        Ok(())
    }
    fn boot_id(&self, _inner: &dyn Storage) -> Option<[u8; 16]> {
        Some([0x5a; 16])
    }
}

fn open(path: &Path, durability: Durability, disk: &Arc<Mutex<Disk>>) -> Env {
    open_with(path, durability, true, disk)
}

fn open_with(path: &Path, durability: Durability, one_sync: bool, disk: &Arc<Mutex<Disk>>) -> Env {
    let disk = disk.clone();
    Env::builder()
        .durability(durability)
        .one_sync(one_sync)
        .auto_sync_bytes(u64::MAX)
        .storage_layer(layer(LosingSync { disk }))
        .open(path)
        .unwrap()
}

fn key(i: usize) -> [u8; 8] {
    (i as u64).to_be_bytes()
}

/// Entries are keys 0..n with 100-byte values; returns n after checking the shape.
fn count(env: &Env) -> usize {
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    let mut n = 0;
    for entry in t.iter() {
        let (k, v) = entry.unwrap();
        assert_eq!(k, key(n), "entries are not a prefix of the commit sequence");
        assert_eq!(v, [n as u8; 100]);
        n += 1;
    }
    n
}

/// One commit adding the next key (keys are added in order, so the state is a count).
fn commit_next(env: &Env) -> mdbx_lite::Result<()> {
    let n = count(env);
    let mut w = env.begin_write()?;
    w.main_table().put(&key(n), &[n as u8; 100])?;
    // A few more pages per commit, so reuse of freed pages starts early.
    for j in 0..20u64 {
        w.main_table()
            .put(&(u64::MAX - j).to_be_bytes(), &[n as u8; 300])?;
        w.main_table().delete(&(u64::MAX - j).to_be_bytes())?;
    }
    w.commit()
}

/// After a failure the environment must refuse to go on (`NeedsReopen`); reopen it.
fn reopen_after_failure(
    env: Env,
    path: &Path,
    durability: Durability,
    disk: &Arc<Mutex<Disk>>,
) -> Env {
    let refused = env.begin_write().err();
    assert!(
        matches!(refused, Some(Error::NeedsReopen)),
        "a failed sync must poison the environment, got {refused:?}"
    );
    assert!(matches!(env.sync(), Err(Error::NeedsReopen)));
    drop(env);
    open(path, durability, disk)
}

/// Every kept disk image opens after a power loss, passes `check`, and holds every
/// commit acknowledged as durable when it was taken.
fn check_images(disk: &Arc<Mutex<Disk>>) {
    let images = std::mem::take(&mut disk.lock().unwrap().images);
    assert!(images.len() > 5);
    for (i, (image, acknowledged)) in images.iter().enumerate() {
        if image.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.db");
        std::fs::write(&path, image).unwrap();
        let env = Env::builder()
            .storage_layer(layer(BootAs([0x77; 16])))
            .open(&path)
            .unwrap_or_else(|e| panic!("image {i}: open failed: {e}"));
        let report = env.check().unwrap();
        assert!(report.is_ok(), "image {i}: check failed: {report:?}");
        let n = count(&env);
        assert!(
            n >= *acknowledged,
            "image {i}: {n} commits survived, {acknowledged} were acknowledged as durable"
        );
    }
}

fn syncs(disk: &Arc<Mutex<Disk>>) -> usize {
    disk.lock().unwrap().syncs
}

fn fail_sync(disk: &Arc<Mutex<Disk>>, n: usize) {
    disk.lock().unwrap().fail_at = Some(n);
}

fn acknowledge(disk: &Arc<Mutex<Disk>>, commits: usize) {
    disk.lock().unwrap().acknowledged = commits;
}

/// `n` `Full` commits, each acknowledged as durable once it returns.
fn commit_durably(env: &Env, disk: &Arc<Mutex<Disk>>, n: usize) {
    for _ in 0..n {
        commit_next(env).unwrap();
        acknowledge(disk, count(env));
    }
}

/// `Full`, two syncs: the meta sync fails. The reopen must not count that meta as durable
/// just because its own sync succeeds (the meta page was dropped and marked clean);
/// otherwise the next commit reuses the pages of the meta before it, which is all the disk
/// has.
#[test]
fn full_failed_meta_sync_is_not_trusted_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let disk = Arc::new(Mutex::new(Disk::default()));
    let mut env = open_with(&path, Durability::Full, false, &disk);
    commit_durably(&env, &disk, 5);
    // A two-sync commit syncs data, then the meta. Fail the second.
    fail_sync(&disk, syncs(&disk) + 2);
    assert!(commit_next(&env).is_err());
    env = reopen_after_failure(env, &path, Durability::Full, &disk);
    commit_durably(&env, &disk, 10);
    drop(env);
    check_images(&disk);
}

/// `Full`, one sync: the only sync of a commit fails, dropping its pages and its meta
/// alike. The page cache still holds both, and the reopen (same boot) must not build on
/// them as if they were on the disk: it writes them again or falls back to the meta
/// before, and every later commit is durable when acknowledged.
#[test]
fn full_failed_one_sync_is_rewritten_or_dropped_on_reopen() {
    for failing in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let disk = Arc::new(Mutex::new(Disk::default()));
        let mut env = open(&path, Durability::Full, &disk);
        commit_durably(&env, &disk, 5);
        // Each small commit is one sync: fail the `failing`-th from here.
        let before = syncs(&disk);
        fail_sync(&disk, before + failing);
        let mut failed = false;
        for _ in 0..failing {
            if commit_next(&env).is_err() {
                failed = true;
                break;
            }
            acknowledge(&disk, count(&env));
        }
        assert!(failed, "the injected sync failure reached no commit");
        assert_eq!(
            syncs(&disk) - before,
            failing,
            "a small Full commit syncs once"
        );
        env = reopen_after_failure(env, &path, Durability::Full, &disk);
        commit_durably(&env, &disk, 10);
        drop(env);
        check_images(&disk);
    }
}

/// `NoMetaSync`: the data sync that makes the previous meta durable fails. At most the
/// latest acknowledged commit may be lost by a power loss, never two.
#[test]
fn no_meta_sync_failed_data_sync_loses_at_most_the_latest_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let disk = Arc::new(Mutex::new(Disk::default()));
    let mut env = open(&path, Durability::NoMetaSync, &disk);
    for _ in 0..5 {
        commit_next(&env).unwrap();
        // The latest commit's meta is not synced: one fewer is durable.
        acknowledge(&disk, count(&env) - 1);
    }
    // The next commit's first sync is the one that makes the previous meta durable.
    fail_sync(&disk, syncs(&disk) + 1);
    assert!(commit_next(&env).is_err());
    env = reopen_after_failure(env, &path, Durability::NoMetaSync, &disk);
    for _ in 0..10 {
        commit_next(&env).unwrap();
        acknowledge(&disk, count(&env) - 1);
    }
    drop(env);
    check_images(&disk);
}

/// `NoSync`: a failed `Env::sync` must not be followed by a checkpoint that writes a
/// steady meta over pages that never reached the disk.
#[test]
fn no_sync_failed_sync_is_never_followed_by_a_checkpoint_over_lost_pages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let disk = Arc::new(Mutex::new(Disk::default()));
    let mut env = open(&path, Durability::NoSync, &disk);
    for _ in 0..3 {
        commit_next(&env).unwrap();
    }
    env.sync().unwrap();
    acknowledge(&disk, count(&env));
    for _ in 0..5 {
        commit_next(&env).unwrap();
    }
    fail_sync(&disk, syncs(&disk) + 1);
    assert!(env.sync().is_err());
    env = reopen_after_failure(env, &path, Durability::NoSync, &disk);
    // The commits that the failed sync lost are rolled back to the last checkpoint,
    // as a power loss would; everything after builds on that.
    assert_eq!(count(&env), 3);
    for _ in 0..5 {
        commit_next(&env).unwrap();
    }
    env.sync().unwrap();
    acknowledge(&disk, count(&env));
    for _ in 0..3 {
        commit_next(&env).unwrap();
    }
    drop(env); // a clean close checkpoints
    check_images(&disk);
}

/// The failure is recorded for every environment on the file, not just the one that
/// saw it: another open environment must make the head durable before building on it.
#[test]
fn another_environment_recovers_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let disk = Arc::new(Mutex::new(Disk::default()));
    let failing = open(&path, Durability::NoMetaSync, &disk);
    let other = open(&path, Durability::NoMetaSync, &disk);
    for _ in 0..5 {
        commit_next(&failing).unwrap();
        acknowledge(&disk, count(&failing) - 1);
    }
    fail_sync(&disk, syncs(&disk) + 1);
    assert!(commit_next(&failing).is_err());
    for _ in 0..10 {
        commit_next(&other).unwrap();
        acknowledge(&disk, count(&other) - 1);
    }
    drop(failing);
    drop(other);
    check_images(&disk);
}
