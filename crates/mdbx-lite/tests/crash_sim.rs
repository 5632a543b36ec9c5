//! Power-loss simulation.
//!
//! A storage layer logs every write, size change and sync the engine issues. A "crash"
//! after operation `i` keeps everything up to the last sync before `i` and any subset
//! of the later operations, applied in random order, each write possibly torn at
//! 512-byte sectors (or, as a separate mode, at 4 KiB). The database is reopened on
//! that image and must: open, pass `check`, and hold exactly the state after some
//! committed transaction — with `Full` durability, the last one whose commit returned
//! or the one being committed at the crash; with `NoMetaSync`, possibly one earlier;
//! with `NoSync`, any earlier one down to the last `Env::sync`.
//!
//! The recording storage reports its own boot id, so every reopen models the restart
//! after a power loss (weak `NoSync` metas are not trusted); `no_sync_process_crash_*`
//! reopens under the same boot id instead, as after a process crash. Some crash
//! images are crashed again while the recovery open and a first commit run.
//!
//! Keys are short (`k000`..`k119`), or, in the `prefixed_keys_*` tests, keys under long
//! shared stems and keys of the maximum length, so recovery runs over pages with long
//! page prefixes that splits, merges and inserts of other stems changed. The
//! `dup_sort_*` test adds a dup-sort table whose hot key moves into a nested tree and
//! back. The `persistent_savepoints_*` test takes, deletes and restores persistent
//! savepoints: a crash image holds exactly the savepoints of its committed state, and
//! each of them restores to the state it names.

mod common;
use common::{layer, BootAs, Hooks, Rng};

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use mdbx_lite::inspect::PageRole;
use mdbx_lite::io::Storage;
use mdbx_lite::{Durability, Env};

#[derive(Clone, Debug)]
enum Op {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
    Sync,
}

/// Boot id the recording "machine" runs under (the real one differs).
const RECORDED_BOOT: [u8; 16] = [0xab; 16];

struct Recorder {
    log: Arc<Mutex<Vec<Op>>>,
    boot: [u8; 16],
}

impl Hooks for Recorder {
    fn set_len(&self, inner: &dyn Storage, len: u64) -> io::Result<()> {
        self.log.lock().unwrap().push(Op::SetLen(len));
        inner.set_len(len)
    }
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        self.log.lock().unwrap().push(Op::Write {
            offset,
            data: buf.to_vec(),
        });
        inner.write_at(buf, offset)
    }
    fn sync_data(&self, inner: &dyn Storage) -> io::Result<()> {
        self.log.lock().unwrap().push(Op::Sync);
        inner.sync_data()
    }
    fn boot_id(&self, _inner: &dyn Storage) -> Option<[u8; 16]> {
        Some(self.boot)
    }
}

fn apply_write(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset as usize..end].copy_from_slice(data);
}

fn apply(image: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write { offset, data } => apply_write(image, *offset, data),
        Op::SetLen(len) => image.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// The image a crash right after operation `upto` (exclusive) could leave.
fn crash_image(log: &[Op], upto: usize, sector: usize, rng: &mut Rng) -> Vec<u8> {
    crash_image_over(Vec::new(), log, upto, sector, rng)
}

/// The same, for a log recorded on a file that started as `image`.
fn crash_image_over(
    mut image: Vec<u8>,
    log: &[Op],
    upto: usize,
    sector: usize,
    rng: &mut Rng,
) -> Vec<u8> {
    let last_sync = log[..upto]
        .iter()
        .rposition(|op| matches!(op, Op::Sync))
        .map(|i| i + 1)
        .unwrap_or(0);
    for op in &log[..last_sync] {
        apply(&mut image, op);
    }
    // Unsynced operations: each kept or lost, in a random order, writes torn per sector.
    let mut pending: Vec<&Op> = log[last_sync..upto].iter().collect();
    rng.shuffle(&mut pending);
    let mode = rng.below(4); // 0: keep all, 1: drop all, 2-3: random subset
    for op in pending {
        let keep_op = match mode {
            0 => true,
            1 => false,
            _ => rng.below(2) == 0,
        };
        match op {
            Op::Write { offset, data } if mode >= 2 => {
                // Tear the write: keep a random subset of its sectors.
                for (i, chunk) in data.chunks(sector).enumerate() {
                    if rng.below(3) != 0 {
                        apply_write(&mut image, offset + (i * sector) as u64, chunk);
                    }
                }
            }
            op if keep_op => apply(&mut image, op),
            _ => {}
        }
    }
    image
}

type Model = BTreeMap<Option<String>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A dup-sort table's pair as a model entry: the key's length, key and value as the
/// entry's key, nothing as its value (the model holds one value per entry).
fn pair_entry(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut e = (key.len() as u16).to_be_bytes().to_vec();
    e.extend_from_slice(key);
    e.extend_from_slice(value);
    e
}

fn read_all(env: &Env) -> Model {
    let r = env.begin_read().expect("begin_read");
    let mut m = Model::new();
    let mut tables = vec![(None, r.main_table())];
    for n in r.list_tables().expect("list") {
        if r.table_stat(&n).expect("table_stat").dup_sort.is_some() {
            let t = r.open_dup_table(&n).expect("open_dup_table");
            let pairs: BTreeMap<Vec<u8>, Vec<u8>> = t
                .iter()
                .map(|p| {
                    let (k, v) = p.expect("iter");
                    (pair_entry(k, v), Vec::new())
                })
                .collect();
            assert_eq!(pairs.len() as u64, t.len());
            if !pairs.is_empty() {
                m.insert(Some(n), pairs);
            }
            continue;
        }
        tables.push((Some(n.clone()), r.open_table(&n).expect("open_table")));
    }
    for (name, t) in tables {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = t
            .iter()
            .map(|e| {
                let (k, v) = e.expect("iter");
                (k.to_vec(), v.to_vec())
            })
            .collect();
        assert_eq!(entries.len() as u64, t.len());
        if name.is_none() || !entries.is_empty() {
            m.insert(name, entries);
        }
    }
    let saved: BTreeMap<Vec<u8>, Vec<u8>> = r
        .persistent_savepoints()
        .expect("savepoints")
        .into_iter()
        .map(|s| (s.name.into_bytes(), s.txnid.to_be_bytes().to_vec()))
        .collect();
    if !saved.is_empty() {
        m.insert(Some(SAVEPOINTS.to_string()), saved);
    }
    m
}

/// The pseudo-table of a model that lists its persistent savepoints: name -> the
/// transaction id of the state it names (big-endian).
const SAVEPOINTS: &str = "@savepoints";

/// `saved`, with the savepoints of `current`: what restoring a savepoint of `saved`'s
/// state in `current` gives.
fn restored(saved: &Model, current: &Model) -> Model {
    let mut m = saved.clone();
    let key = Some(SAVEPOINTS.to_string());
    m.remove(&key);
    if let Some(sp) = current.get(&key) {
        m.insert(key, sp.clone());
    }
    normal(&m)
}

/// Normalise a model the way `read_all` reports it (empty named tables are omitted).
fn normal(m: &Model) -> Model {
    m.iter()
        .filter(|(k, v)| k.is_none() || !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

struct Run {
    log: Vec<Op>,
    /// (log index where commit `i` started, log index after it returned, state after it)
    commits: Vec<(usize, usize, Model)>,
    /// (log index after an `Env::sync` returned, index of the last commit before it):
    /// no crash after that point may lose that commit.
    syncs: Vec<(usize, usize)>,
    /// Transaction id -> index in `commits` of the state it committed.
    ids: BTreeMap<u64, usize>,
}

/// How a workload makes its keys: each picks one of 120 keys per operation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Keys {
    /// `k000` to `k119`.
    Short,
    /// The empty key, keys of three long stems with short tails (prefixes of one
    /// another), and keys of the maximum length that differ in their last bytes.
    Prefixed,
}

/// Stems of 42, ~290 and 48 bytes; the first two share their first 28 bytes.
const STEMS: [&[u8]; 3] = [
    b"/home/user7/projects/p3/src/storage/btree/",
    concat!(
        "/home/user7/projects/p3/src/generated/protocol/v2/messages/internal/",
        "very/deeply/nested/module/hierarchy/that/keeps/going/for/a/long/while/",
        "because/code/generators/love/directories/and/nobody/ever/cleans/them/up/",
        "so/here/we/are/three/hundred/bytes/into/one/path/prefix/almost/done/now/",
        "file_",
    )
    .as_bytes(),
    b"\x00\x00\x00\x07tenant\xff\x00\x00\x00\x00\x00\x00\x01\x2aorders/2024-06-01T12:00:00Z/\x00\x00",
];

/// Key `i` (0..120) of `keys`, for an environment whose largest key is `max` bytes.
fn make_key(keys: Keys, i: u64, max: usize) -> Vec<u8> {
    if keys == Keys::Short {
        return format!("k{i:03}").into_bytes();
    }
    let n = (i / 3) as usize;
    match i % 10 {
        0 if i == 0 => Vec::new(),
        // `max`, `max - 1` or `max - 2` bytes of the same run; for odd `n`, with a last
        // byte of its own.
        9 => {
            let len = max - n % 3;
            let mut k: Vec<u8> = STEMS[1].iter().copied().cycle().take(len).collect();
            if n % 2 == 1 {
                k[len - 1] = n as u8;
            }
            k
        }
        _ => {
            // The tail spells `n` in bijective base 4 over `\0 / a \xff`: "", then one
            // byte, two, three; shorter tails are prefixes of longer ones.
            let mut k = STEMS[(i % 3) as usize].to_vec();
            let mut m = n;
            while m > 0 {
                m -= 1;
                k.push(b"\x00/a\xff"[m % 4]);
                m /= 4;
            }
            k
        }
    }
}

/// A random workload: puts, deletes, overwrites, large values, tables created and
/// dropped, file growth in small steps, and a long-lived reader holding back reuse.
fn workload(seed: u64, durability: Durability, txns: usize) -> Run {
    workload_with(seed, durability, txns, Keys::Short)
}

/// [`workload`] with the keys of `keys`.
fn workload_with(seed: u64, durability: Durability, txns: usize, keys: Keys) -> Run {
    workload_full(seed, durability, txns, keys, false, false)
}

/// [`workload`] with `Full` commits always synced twice (data, then the meta).
fn workload_two_sync(seed: u64, txns: usize) -> Run {
    workload_opts(
        seed,
        Durability::Full,
        txns,
        Keys::Short,
        false,
        false,
        false,
    )
}

/// Meta writes in the log that list their pages (one-sync commits).
fn one_sync_metas(run: &Run) -> usize {
    const META_FLAGS: usize = 32 + 32 + 3 * 48;
    run.log
        .iter()
        .filter(|op| match op {
            // A meta page: kind 1 and the magic.
            Op::Write { data, .. } => {
                data.len() > META_FLAGS
                    && data[4] == 1
                    && &data[32..40] == b"MDBXLITE"
                    && data[META_FLAGS] & 2 != 0
            }
            _ => false,
        })
        .count()
}

/// [`workload_with`], with a dup-sort table `d` among the tables when `dups`: pairs put
/// and deleted, keys deleted, runs of values that move a key into a nested tree and
/// out again, the table dropped; and persistent savepoints taken, deleted and restored
/// when `savepoints`.
fn workload_full(
    seed: u64,
    durability: Durability,
    txns: usize,
    keys: Keys,
    dups: bool,
    savepoints: bool,
) -> Run {
    workload_opts(seed, durability, txns, keys, dups, savepoints, true)
}

/// [`workload_full`], small `Full` commits syncing once when `one_sync`.
fn workload_opts(
    seed: u64,
    durability: Durability,
    txns: usize,
    keys: Keys,
    dups: bool,
    savepoints: bool,
    one_sync: bool,
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    let env = Env::builder()
        .durability(durability)
        .one_sync(one_sync)
        .growth_step(16 * 1024)
        // `NoSync` checkpoints on its own every few commits of this workload.
        .auto_sync_bytes(160 * 1024)
        .storage_layer(layer(Recorder {
            log: l2,
            boot: RECORDED_BOOT,
        }))
        .open(dir.path().join("db"))
        .unwrap();
    let max = env.max_key_size();
    let mut rng = Rng(seed);
    let mut model = Model::new();
    model.insert(None, BTreeMap::new());
    let mut commits = vec![(0, log.lock().unwrap().len(), model.clone())];
    let mut ids = BTreeMap::from([(env.last_txnid(), 0)]);
    let mut syncs = Vec::new();
    let mut reader = None;
    let mut saw_nested = false;
    let (mut restores, sp_key) = (0, Some(SAVEPOINTS.to_string()));
    for t in 0..txns {
        let mut w = env.begin_write().unwrap();
        let names: Vec<Vec<u8>> = model
            .get(&sp_key)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if savepoints && !names.is_empty() && rng.below(5) == 0 {
            let name = &names[rng.below(names.len() as u64) as usize];
            let id = u64::from_be_bytes(model[&sp_key][name][..].try_into().unwrap());
            w.restore_persistent_savepoint(std::str::from_utf8(name).unwrap())
                .unwrap();
            let current = model.clone();
            model = restored(&commits[ids[&id]].2, &current);
            model.entry(None).or_default();
            restores += 1;
        }
        for _ in 0..rng.below(30) + 1 {
            if savepoints && rng.below(12) == 0 {
                let sp = model.entry(sp_key.clone()).or_default();
                let name = format!("s{}", rng.below(6));
                if sp.remove(name.as_bytes()).is_some() {
                    assert!(w.delete_persistent_savepoint(&name).unwrap());
                } else {
                    let id = w.persistent_savepoint(&name).unwrap();
                    sp.insert(name.into_bytes(), id.to_be_bytes().to_vec());
                }
                continue;
            }
            if dups && rng.below(3) == 0 {
                dup_op(&mut w, &mut model, &mut rng, keys, env.max_dup_key_size());
                continue;
            }
            let table = match rng.below(4) {
                0 | 1 => None,
                n => Some(format!("t{n}")),
            };
            let key = make_key(keys, rng.below(120), max);
            let entry = model.entry(table.clone()).or_default();
            let mut tab = match &table {
                None => w.main_table(),
                Some(n) => w.create_table(n).unwrap(),
            };
            match rng.below(10) {
                0..=5 => {
                    let len = if rng.below(12) == 0 {
                        5_000 + rng.below(30_000) as usize
                    } else {
                        rng.below(300) as usize
                    };
                    let v = vec![(t % 251) as u8; len];
                    tab.put(&key, &v).unwrap();
                    entry.insert(key, v);
                }
                6..=8 => {
                    let existed = entry.remove(&key).is_some();
                    assert_eq!(tab.delete(&key).unwrap(), existed);
                }
                _ => {
                    if let Some(n) = &table {
                        w.drop_table(n).unwrap();
                        model.remove(&table);
                    }
                }
            }
        }
        if rng.below(3) == 0 {
            w.abort();
            model = commits.last().unwrap().2.clone();
            continue;
        }
        // At most 12 keys: more than one leaf means nested trees.
        saw_nested |= dups && w.open_dup_table("d").is_ok_and(|d| d.stat().leaf_pages > 1);
        let start = log.lock().unwrap().len();
        let id = w.id();
        w.commit().unwrap();
        let end = log.lock().unwrap().len();
        ids.insert(id, commits.len());
        commits.push((start, end, model.clone()));
        match rng.below(8) {
            0 => reader = Some(env.begin_read().unwrap()),
            1 => reader = None,
            2 if durability == Durability::NoSync && rng.below(2) == 0 => {
                env.sync().unwrap();
                syncs.push((log.lock().unwrap().len(), commits.len() - 1));
            }
            _ => {}
        }
    }
    drop(reader);
    assert_eq!(
        saw_nested, dups,
        "a dup-sort key never moved into a nested tree"
    );
    assert_eq!(restores > 0, savepoints, "no savepoint was restored");
    if keys == Keys::Prefixed {
        // The workload is what it claims: leaves with long page prefixes (the branches
        // here are roots, whose unbounded range shares nothing).
        let before = log.lock().unwrap().len();
        let (leaf, branch) = longest_prefixes(&env);
        assert!(
            leaf >= STEMS[0].len(),
            "longest page prefixes: leaf {leaf}, branch {branch}"
        );
        assert_eq!(log.lock().unwrap().len(), before, "inspecting pages wrote");
    }
    drop(env);
    let log = log.lock().unwrap().clone();
    Run {
        log,
        commits,
        syncs,
        ids,
    }
}

/// One operation on dup-sort table `d`, mirrored in `model`.
fn dup_op(w: &mut mdbx_lite::WriteTxn, model: &mut Model, rng: &mut Rng, keys: Keys, max: usize) {
    let name = Some("d".to_string());
    // Few keys, so each gathers values: one key is hot.
    let key = make_key(keys, if rng.below(2) == 0 { 7 } else { rng.below(12) }, max);
    let value = |i: u64| format!("value {i:04}").into_bytes();
    if rng.below(40) == 0 {
        w.drop_table("d").unwrap();
        model.remove(&name);
        return;
    }
    let entry = model.entry(name).or_default();
    let mut d = w.create_dup_table("d", mdbx_lite::DupSort::new()).unwrap();
    match rng.below(10) {
        // A run of values: the hot key crosses the nested-tree threshold.
        0 => {
            let from = rng.below(400);
            for i in from..from + 150 {
                let new = entry
                    .insert(pair_entry(&key, &value(i)), Vec::new())
                    .is_none();
                assert_eq!(d.put(&key, &value(i)).unwrap(), new);
            }
        }
        // Delete a run: back inline.
        1 => {
            let from = rng.below(400);
            for i in from..from + 150 {
                let had = entry.remove(&pair_entry(&key, &value(i))).is_some();
                assert_eq!(d.delete(&key, &value(i)).unwrap(), had);
            }
        }
        2 => {
            let prefix = pair_entry(&key, b"");
            let gone: Vec<Vec<u8>> = entry
                .range(prefix.clone()..)
                .take_while(|(e, _)| e.starts_with(&prefix))
                .map(|(e, _)| e.clone())
                .collect();
            for e in &gone {
                entry.remove(e);
            }
            assert_eq!(d.delete_key(&key).unwrap(), gone.len() as u64);
        }
        3..=5 => {
            let v = value(rng.below(550));
            let had = entry.remove(&pair_entry(&key, &v)).is_some();
            assert_eq!(d.delete(&key, &v).unwrap(), had);
        }
        _ => {
            let v = value(rng.below(550));
            let new = entry.insert(pair_entry(&key, &v), Vec::new()).is_none();
            assert_eq!(d.put(&key, &v).unwrap(), new);
        }
    }
}

/// The longest page prefix on any leaf and on any branch page of the latest snapshot
/// that holds more than two entries (one key alone is its page's prefix).
fn longest_prefixes(env: &Env) -> (usize, usize) {
    let (mut leaf, mut branch) = (0, 0);
    for p in env.pages().unwrap().filter(|p| p.entries > 2) {
        let longest = match p.role {
            PageRole::Leaf => &mut leaf,
            PageRole::Branch => &mut branch,
            _ => continue,
        };
        let info = env.page_info(p.pgno).unwrap();
        *longest = (*longest).max(usize::from(info.header.prefix_len));
    }
    (leaf, branch)
}

/// Crash after every operation of the log (several images each); returns images checked.
fn crash_everywhere(
    run: &Run,
    durability: Durability,
    images_per_point: usize,
    sector: usize,
    seed: u64,
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img");
    let mut rng = Rng(seed);
    let mut checked = 0;
    // Creation itself (before the first commit) is covered by `interrupted_creation`.
    for upto in run.commits[0].1 + 1..=run.log.len() {
        // Commits that returned before the crash, and one possibly in flight.
        let done = run.commits.iter().rposition(|c| c.1 <= upto).unwrap_or(0);
        let in_flight = run.commits.get(done + 1).filter(|c| c.0 < upto);
        let oldest_allowed = match durability {
            Durability::Full => done,
            Durability::NoMetaSync => done.saturating_sub(1),
            Durability::NoSync => run
                .syncs
                .iter()
                .filter(|s| s.0 <= upto)
                .map(|s| s.1)
                .max()
                .unwrap_or(0),
        };
        let allowed: Vec<&Model> = run.commits[oldest_allowed..=done]
            .iter()
            .chain(in_flight)
            .map(|c| &c.2)
            .collect();
        for _ in 0..images_per_point {
            let image = crash_image(&run.log, upto, sector, &mut rng);
            std::fs::write(&path, &image).unwrap();
            let _ = std::fs::remove_file(mdbx_lite::lock_path(&path));
            let env = Env::open(&path).unwrap_or_else(|e| panic!("op {upto}: open failed: {e}"));
            let report = env.check().unwrap();
            assert!(
                report.is_ok(),
                "op {upto}: check found {:?}",
                report.problems
            );
            let now = read_all(&env);
            let ok = allowed.iter().any(|m| normal(m) == now);
            assert!(
                ok,
                "op {upto}: contents are not a committed state (done {done}, in flight {})",
                in_flight.is_some()
            );
            // Each savepoint it holds restores to the state it names.
            if let Some(sp) = now.get(&Some(SAVEPOINTS.to_string())) {
                if rng.below(3) == 0 {
                    let (name, id) = sp.iter().nth(rng.below(sp.len() as u64) as usize).unwrap();
                    let id = u64::from_be_bytes(id[..].try_into().unwrap());
                    let mut w = env.begin_write().unwrap();
                    w.restore_persistent_savepoint(std::str::from_utf8(name).unwrap())
                        .unwrap_or_else(|e| panic!("op {upto}: restore failed: {e}"));
                    w.commit().unwrap();
                    let want = restored(&run.commits[run.ids[&id]].2, &now);
                    assert!(
                        read_all(&env) == want,
                        "op {upto}: restored the wrong state"
                    );
                    let report = env.check().unwrap();
                    assert!(
                        report.is_ok(),
                        "op {upto}: after restore {:?}",
                        report.problems
                    );
                }
            }
            // The recovered database keeps working.
            if rng.below(20) == 0 {
                let mut w = env.begin_write().unwrap();
                w.main_table().put(b"after-crash", b"1").unwrap();
                w.commit().unwrap();
                assert!(env.check().unwrap().is_ok());
            }
            checked += 1;
            drop(env);
            if rng.below(25) == 0 {
                checked += crash_during_recovery(&image, &allowed, sector, &mut rng);
            }
        }
    }
    checked
}

/// Compound failure: crash the crash image again at every operation of its recovery
/// open (which may roll back a weak meta and syncs) and of a first commit after it.
/// Every such image must open to a state the first crash allowed, or to that state
/// plus the new commit.
fn crash_during_recovery(image: &[u8], allowed: &[&Model], sector: usize, rng: &mut Rng) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("again");
    std::fs::write(&path, image).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    let env = Env::builder()
        .storage_layer(layer(Recorder {
            log: l2,
            boot: [0xcd; 16],
        }))
        .open(&path)
        .unwrap();
    let recovered = read_all(&env);
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"recovered", b"1").unwrap();
    w.commit().unwrap();
    let after = read_all(&env);
    drop(env);
    let log = log.lock().unwrap().clone();
    let mut n = 0;
    for upto in 0..=log.len() {
        let again = crash_image_over(image.to_vec(), &log, upto, sector, rng);
        std::fs::write(&path, &again).unwrap();
        let _ = std::fs::remove_file(mdbx_lite::lock_path(&path));
        let env = Env::open(&path)
            .unwrap_or_else(|e| panic!("recovery crash at op {upto}: open failed: {e}"));
        let report = env.check().unwrap();
        assert!(
            report.is_ok(),
            "recovery crash at op {upto}: {:?}",
            report.problems
        );
        let now = read_all(&env);
        assert!(
            now == recovered || now == after || allowed.iter().any(|m| normal(m) == now),
            "recovery crash at op {upto}: contents are not a committed state"
        );
        n += 1;
    }
    n
}

/// Workload seeds per test: 3 in CI; `CRASH_SIM_SEEDS=N` for a longer run.
fn seeds() -> u64 {
    std::env::var("CRASH_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// `Full` commits, small ones syncing once (their meta lists the pages they wrote, and
/// an open verifies those before trusting it): torn data pages, a meta on the disk
/// before its pages, crashes during the verifying open.
#[test]
fn full_durability_survives_any_crash() {
    let mut total = 0;
    let mut listing = 0;
    for seed in 1..=seeds() {
        let run = workload(seed, Durability::Full, 40);
        listing += one_sync_metas(&run);
        total += crash_everywhere(&run, Durability::Full, 12, 512, seed * 7);
        total += crash_everywhere(&run, Durability::Full, 3, 4096, seed * 11);
    }
    eprintln!("checked {total} crash images; {listing} one-sync metas written");
    assert!(total >= 10_000, "only {total} crash images");
    assert!(listing >= 60, "only {listing} one-sync commits");
}

/// `Full` commits with two syncs each (data, then the meta), as large transactions make.
#[test]
fn full_durability_two_sync_survives_any_crash() {
    let mut total = 0;
    for seed in 1..=seeds() {
        let run = workload_two_sync(seed + 100, 40);
        assert_eq!(one_sync_metas(&run), 0);
        total += crash_everywhere(&run, Durability::Full, 12, 512, seed * 13);
        total += crash_everywhere(&run, Durability::Full, 3, 4096, seed * 17);
    }
    eprintln!("checked {total} two-sync crash images");
    assert!(total >= 10_000, "only {total} crash images");
}

/// Crash recovery over pages with long page prefixes: `Full` durability, torn at 512
/// bytes and at 4 KiB, and `NoSync` power loss.
#[test]
fn prefixed_keys_survive_any_crash() {
    let run = workload_with(401, Durability::Full, 40, Keys::Prefixed);
    let mut total = crash_everywhere(&run, Durability::Full, 4, 512, 41);
    total += crash_everywhere(&run, Durability::Full, 2, 4096, 43);
    let run = workload_with(402, Durability::NoSync, 60, Keys::Prefixed);
    assert!(!run.syncs.is_empty(), "the workload never called Env::sync");
    total += crash_everywhere(&run, Durability::NoSync, 2, 512, 47);
    eprintln!("checked {total} crash images over prefixed keys");
    assert!(total >= 2_000, "only {total} crash images");
}

/// Crash recovery with a dup-sort table whose keys move into nested trees and out:
/// `Full` durability torn at 512 bytes and 4 KiB, and `NoSync` power loss.
#[test]
fn dup_sort_tables_survive_any_crash() {
    let run = workload_full(501, Durability::Full, 40, Keys::Short, true, false);
    let mut total = crash_everywhere(&run, Durability::Full, 4, 512, 51);
    total += crash_everywhere(&run, Durability::Full, 2, 4096, 53);
    let run = workload_full(502, Durability::NoSync, 60, Keys::Prefixed, true, false);
    total += crash_everywhere(&run, Durability::NoSync, 2, 512, 57);
    eprintln!("checked {total} crash images with dup-sort tables");
    assert!(total >= 2_000, "only {total} crash images");
}

/// Crash recovery with persistent savepoints taken, deleted and restored: a crash
/// never loses one its state committed nor keeps one it did not, and each restores.
#[test]
fn persistent_savepoints_survive_any_crash() {
    let run = workload_full(601, Durability::Full, 50, Keys::Short, true, true);
    let mut total = crash_everywhere(&run, Durability::Full, 4, 512, 61);
    total += crash_everywhere(&run, Durability::Full, 2, 4096, 63);
    let run = workload_full(602, Durability::NoSync, 60, Keys::Short, false, true);
    total += crash_everywhere(&run, Durability::NoSync, 2, 512, 67);
    eprintln!("checked {total} crash images with persistent savepoints");
    assert!(total >= 2_000, "only {total} crash images");
}

/// Large transactions under the smallest dirty limit (64 pages): each writes pages
/// early, several times, before its commit. A crash anywhere in one, spills included,
/// leaves the previous commit intact.
fn spill_workload(seed: u64, txns: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let env = Env::builder()
        .dirty_limit(0)
        .growth_step(64 * 1024)
        .storage_layer(layer(Recorder {
            log: log.clone(),
            boot: RECORDED_BOOT,
        }))
        .open(dir.path().join("db"))
        .unwrap();
    let mut rng = Rng(seed);
    let mut model = Model::new();
    model.insert(None, BTreeMap::new());
    let mut commits = vec![(0, log.lock().unwrap().len(), model.clone())];
    let mut ids = BTreeMap::from([(env.last_txnid(), 0)]);
    let mut spilled = 0;
    for t in 0..txns {
        let mut w = env.begin_write().unwrap();
        let entry = model.entry(None).or_default();
        for _ in 0..1500 {
            let key = format!("key{:05}", rng.below(6000)).into_bytes();
            if rng.below(4) == 0 {
                assert_eq!(
                    w.main_table().delete(&key).unwrap(),
                    entry.remove(&key).is_some()
                );
            } else {
                let v = vec![(t % 251) as u8; 100 + rng.below(200) as usize];
                w.main_table().put(&key, &v).unwrap();
                entry.insert(key, v);
            }
        }
        spilled += w.spilled_pages();
        if t % 4 == 3 {
            drop(w);
            model = commits.last().unwrap().2.clone();
            continue;
        }
        let start = log.lock().unwrap().len();
        let id = w.id();
        w.commit().unwrap();
        ids.insert(id, commits.len());
        commits.push((start, log.lock().unwrap().len(), model.clone()));
    }
    assert!(spilled > 100, "only {spilled} pages spilled");
    drop(env);
    let log = log.lock().unwrap().clone();
    Run {
        log,
        commits,
        syncs: Vec::new(),
        ids,
    }
}

#[test]
fn transactions_that_spill_survive_any_crash() {
    let run = spill_workload(701, 6);
    let total = crash_everywhere(&run, Durability::Full, 1, 512, 71);
    eprintln!("checked {total} crash images of spilling transactions");
    assert!(total >= 1_000, "only {total} crash images");
}

#[test]
fn no_meta_sync_recovers_an_earlier_commit() {
    let run = workload(99, Durability::NoMetaSync, 40);
    let n = crash_everywhere(&run, Durability::NoMetaSync, 6, 512, 5);
    assert!(n > 1_000);
}

#[test]
fn no_sync_power_loss_recovers_an_earlier_commit() {
    let mut total = 0;
    for seed in 201..201 + seeds().max(3) - 1 {
        let run = workload(seed, Durability::NoSync, 60);
        assert!(!run.syncs.is_empty(), "the workload never called Env::sync");
        total += crash_everywhere(&run, Durability::NoSync, 6, 512, seed);
    }
    eprintln!("checked {total} NoSync crash images");
    assert!(total > 1_000);
}

/// Without a power loss (same boot), the page cache keeps every write: a `NoSync`
/// database killed at any point holds the last commit that returned, or the one whose
/// meta was being written.
#[test]
fn no_sync_process_crash_keeps_every_commit() {
    let run = workload(303, Durability::NoSync, 60);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img");
    let mut image = Vec::new();
    for upto in 0..=run.log.len() {
        if upto > 0 {
            apply(&mut image, &run.log[upto - 1]);
        }
        if upto <= run.commits[0].1 {
            continue;
        }
        let done = run.commits.iter().rposition(|c| c.1 <= upto).unwrap();
        let in_flight = run.commits.get(done + 1).filter(|c| c.0 < upto);
        std::fs::write(&path, &image).unwrap();
        let _ = std::fs::remove_file(mdbx_lite::lock_path(&path));
        let env = Env::builder()
            .storage_layer(layer(BootAs(RECORDED_BOOT)))
            .open(&path)
            .unwrap();
        assert!(env.check().unwrap().is_ok(), "op {upto}");
        let now = read_all(&env);
        assert!(
            normal(&run.commits[done].2) == now || in_flight.is_some_and(|c| normal(&c.2) == now),
            "op {upto}: lost a commit (done {done})"
        );
    }
}

#[test]
fn interrupted_creation_reopens_as_new() {
    let dir = tempfile::tempdir().unwrap();
    for len in [0usize, 512, 4096, 8192] {
        let path = dir.path().join(format!("zero{len}"));
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let env = Env::open(&path).unwrap();
        assert!(env.check().unwrap().is_ok());
        let mut w = env.begin_write().unwrap();
        w.main_table().put(b"k", b"v").unwrap();
        w.commit().unwrap();
        assert!(env.check().unwrap().is_ok());
    }
    // Read-only never initialises anything.
    let path = dir.path().join("ro");
    std::fs::write(&path, vec![0u8; 8192]).unwrap();
    assert!(Env::builder().read_only(true).open(&path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), vec![0u8; 8192]);
}

/// A one-sync commit that grows the file syncs the new length together with its pages
/// and meta, so a crash can keep the meta and lose the length. In this workload (seed
/// 15, 512-byte sectors) some image keeps such a meta with every page it lists but not
/// the pages up to its high-water mark: the open must fall back to the commit before
/// (the meta is not whole), not fail on a "truncated" file.
#[test]
fn a_one_sync_commit_whose_growth_was_lost_falls_back() {
    let run = workload(15, Durability::Full, 40);
    let total = crash_everywhere(&run, Durability::Full, 12, 512, 15 * 7);
    assert!(total >= 3_000, "only {total} crash images");
}
