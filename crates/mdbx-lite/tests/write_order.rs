//! Write-order checker: copy-on-write ordering bugs caught deterministically.
//!
//! A storage layer (`EnvBuilder::storage_layer`) keeps a shadow copy of the database
//! file and checks every positional write before passing it on:
//!
//! - A write to pages 0/1 must be a whole meta record, newer than the one it replaces
//!   (or the same one turned steady), and never replace the durable meta.
//! - A meta must list every page it reaches that was written since the last sync: a
//!   one-sync meta reaches the disk in the same sync as its pages, and opening trusts it
//!   only after those listed pages verify; a two-sync meta follows a sync, so there are
//!   none to list.
//! - Any other write must not touch a page reachable from a snapshot that is still
//!   needed: a meta that a crash at this moment could make current, or the snapshot of
//!   a live read transaction.
//!
//! "A meta a crash could make current": the newest steady meta covered by a sync (the
//! durable one; a weak meta does not survive a power loss) and every meta
//! written after it. An older meta still sitting in the other slot can never be chosen
//! again, because a newer steady meta is durable. With `NoMetaSync` these are always at
//! least both metas in the file (the strict rule); with `Full` the meta in the other
//! slot is one transaction behind a synced meta, and with `NoSync` it can be an older
//! steady meta beside a durable checkpoint: the engine deliberately reuses its pages
//! (see `docs/design.md`, "Durability modes and page reuse").
//! `WRITE_ORDER_STRICT=1` applies the strict both-slots rule in every mode.
//!
//! "Reachable from meta M" is computed with the public API: the shadow image, with M in
//! its slot and the other slot zeroed, is written to a scratch file, opened read-only,
//! and `Env::pages` (from `mdbx_lite::inspect`) reports each page's role; branch, leaf
//! and overflow pages are reachable. The set is computed once per meta, when it is
//! written (all its pages are intact then), and cached while the meta or a reader needs it.
//!
//! Readers are registered with the checker by the test driver (the txn id of each live
//! `ReadTxn`).

mod common;
use common::{Hooks, Layer, Rng};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mdbx_lite::inspect::PageRole;
use mdbx_lite::io::Storage;
use mdbx_lite::{Durability, Env, ReadTxn};

const PAGE: usize = 4096;
/// Bytes of a meta page that carry the meta record and its list of written pages.
const META_LEN: usize = 512;
/// Offsets in a meta of the count of listed pages and of the list (u32 page numbers).
const META_LISTED: usize = 252;
const META_LIST: usize = 260;

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    data_writes: u64,
    pages_checked: u64,
    meta_writes: u64,
    syncs: u64,
    reach_computed: u64,
    /// Metas written with a list of pages (one sync per commit), and pages listed.
    one_sync_metas: u64,
    listed_pages: u64,
    /// Largest number of snapshots protected at one write.
    max_protected: usize,
}

struct State {
    /// The shadow copy of the database file (meta slots zeroed in turn to compute
    /// reachability).
    shadow: File,
    path: PathBuf,
    /// Current bytes of meta pages 0 and 1 of the shadow.
    slots: [Vec<u8>; 2],
    /// Txn id of the valid meta in each slot.
    slot_txn: [Option<u64>; 2],
    /// Slot and meta record (first META_LEN bytes) of every meta still of interest.
    metas: HashMap<u64, (usize, Vec<u8>)>,
    /// Whether the meta in each slot is steady.
    slot_steady: [bool; 2],
    /// Newest steady meta covered by a sync.
    durable: Option<u64>,
    /// Pages reachable from each meta of interest (indexed by page number).
    reach: HashMap<u64, Arc<Vec<Reach>>>,
    /// Pages written since the last sync.
    unsynced: BTreeSet<u64>,
    /// Snapshot ids of the live read transactions (maintained by the driver).
    readers: Arc<Mutex<Vec<u64>>>,
    strict: bool,
    counts: Counts,
}

fn meta_txn(page: &[u8]) -> Option<u64> {
    // Kind 1 (meta) and the magic; the checksum is verified by the read-only open.
    if page.len() < META_LEN || page[4] != 1 || &page[32..40] != b"MDBXLITE" {
        return None;
    }
    Some(u64::from_le_bytes(page[16..24].try_into().unwrap()))
}

/// Offset of the meta flags (after the header, the fixed fields and three table records).
const META_FLAGS: usize = 32 + 32 + 3 * 48;

fn meta_steady(page: &[u8]) -> bool {
    u32::from_le_bytes(page[META_FLAGS..META_FLAGS + 4].try_into().unwrap()) & 1 == 0
}

fn u32_at(page: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(page[at..at + 4].try_into().unwrap())
}

/// The pages a meta lists as written by its transaction (empty for a two-sync meta).
fn meta_listed(page: &[u8]) -> Vec<u64> {
    let n = u32_at(page, META_LISTED) as usize;
    (0..n)
        .map(|i| u64::from(u32_at(page, META_LIST + 4 * i)))
        .collect()
}

/// How a meta reaches a page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reach {
    No,
    /// A branch, leaf or the first page of an overflow run: carries its own checksum.
    Head,
    /// A later page of an overflow run, covered by the run's checksum.
    Continuation,
}

impl State {
    fn new(inner: &dyn Storage, dir: &Path, strict: bool, readers: Arc<Mutex<Vec<u64>>>) -> State {
        let shadow_path = dir.join("shadow");
        let shadow = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&shadow_path)
            .unwrap();
        let len = inner.len().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        while off < len {
            let n = (len - off).min(buf.len() as u64) as usize;
            inner.read_at(&mut buf[..n], off).unwrap();
            shadow.write_all_at(&buf[..n], off).unwrap();
            off += n as u64;
        }
        shadow.set_len(len).unwrap();
        let mut st = State {
            shadow,
            path: shadow_path,
            slots: [vec![0u8; PAGE], vec![0u8; PAGE]],
            slot_txn: [None, None],
            metas: HashMap::new(),
            slot_steady: [true; 2],
            durable: None,
            reach: HashMap::new(),
            unsynced: BTreeSet::new(),
            readers,
            strict,
            counts: Counts::default(),
        };
        // An existing file: the newest meta is durable (opening syncs before any write).
        // The other one is protected only under the strict rule; otherwise its pages may
        // legitimately have been reused, and its tree cannot be walked.
        for slot in 0..2 {
            let at = (slot * PAGE) as u64;
            if at + PAGE as u64 <= len {
                st.shadow.read_exact_at(&mut st.slots[slot], at).unwrap();
                if let Some(t) = meta_txn(&st.slots[slot]) {
                    st.slot_txn[slot] = Some(t);
                    st.slot_steady[slot] = meta_steady(&st.slots[slot]);
                    st.metas
                        .insert(t, (slot, st.slots[slot][..META_LEN].to_vec()));
                }
            }
        }
        st.durable = st.newest_steady();
        for t in st.slot_txn.into_iter().flatten() {
            if strict || Some(t) == st.durable {
                st.compute_reach(t);
            }
        }
        st
    }

    /// The newest steady meta in the file.
    fn newest_steady(&self) -> Option<u64> {
        (0..2)
            .filter(|&s| self.slot_steady[s])
            .filter_map(|s| self.slot_txn[s])
            .max()
    }

    /// Pages reachable from meta `t`, computed on the shadow as it is now.
    fn compute_reach(&mut self, t: u64) {
        let (slot, meta) = &self.metas[&t];
        let slot = *slot;
        let mut image_slots = [vec![0u8; PAGE], vec![0u8; PAGE]];
        image_slots[slot][..META_LEN].copy_from_slice(meta);
        self.shadow.write_all_at(&image_slots[0], 0).unwrap();
        self.shadow
            .write_all_at(&image_slots[1], PAGE as u64)
            .unwrap();
        let env = Env::builder()
            .read_only(true)
            .page_size(PAGE)
            .open(&self.path)
            .unwrap_or_else(|e| panic!("meta {t}: the image does not open: {e}"));
        let pages = env.pages().unwrap();
        assert_eq!(pages.txnid(), t, "scratch image opened another meta");
        let mut reach = Vec::with_capacity(pages.len());
        for p in pages {
            assert_ne!(
                p.role,
                PageRole::Invalid,
                "meta {t}: page {} invalid",
                p.pgno
            );
            reach.push(match p.role {
                PageRole::Branch | PageRole::Leaf | PageRole::Overflow => Reach::Head,
                PageRole::OverflowCont => Reach::Continuation,
                _ => Reach::No,
            });
        }
        drop(env);
        self.shadow.write_all_at(&self.slots[0], 0).unwrap();
        self.shadow
            .write_all_at(&self.slots[1], PAGE as u64)
            .unwrap();
        self.reach.insert(t, Arc::new(reach));
        self.counts.reach_computed += 1;
    }

    /// The snapshots no write may touch now: (why, txn id).
    fn protected(&self) -> Vec<(&'static str, u64)> {
        let mut out = Vec::new();
        if let Some(d) = self.durable {
            out.push(("durable meta", d));
        }
        for t in self.slot_txn.iter().flatten() {
            if self.strict || self.durable.is_none_or(|d| *t > d) {
                out.push(("meta in the file", *t));
            }
        }
        for &r in self.readers.lock().unwrap().iter() {
            out.push(("live reader", r));
        }
        out
    }

    /// Forget metas nobody can need any more.
    fn evict(&mut self) {
        let keep: Vec<u64> = self.protected().iter().map(|p| p.1).collect();
        let newest = self.slot_txn.iter().flatten().copied().max();
        self.reach
            .retain(|t, _| keep.contains(t) || Some(*t) == newest);
        self.metas
            .retain(|t, _| keep.contains(t) || Some(*t) == newest);
    }

    fn check_data_write(&mut self, offset: u64, len: usize) {
        let first = offset / PAGE as u64;
        let last = (offset + len as u64 - 1) / PAGE as u64;
        let protected = self.protected();
        self.counts.data_writes += 1;
        self.counts.max_protected = self.counts.max_protected.max(protected.len());
        for p in first..=last {
            self.unsynced.insert(p);
            self.counts.pages_checked += 1;
            for &(why, t) in &protected {
                let reach = self
                    .reach
                    .get(&t)
                    .unwrap_or_else(|| panic!("no reachability for {why} {t}"));
                assert!(
                    reach.get(p as usize).is_none_or(|&r| r == Reach::No),
                    "write-order violation: write of {len} bytes at offset {offset} \
                     overwrites page {p}, reachable from the {why} (txn {t}); \
                     metas in the file {:?}, durable {:?}",
                    self.slot_txn,
                    self.durable
                );
            }
        }
    }

    /// Every page meta `t` reaches that was written since the last sync is in its list:
    /// a crash before the sync may keep the meta and lose any unlisted page unnoticed.
    fn check_listed(&mut self, t: u64) {
        let meta = &self.metas[&t].1;
        if !meta_steady(meta) {
            // A weak meta is dropped by an open after a crash.
            return;
        }
        let listed = meta_listed(meta);
        if !listed.is_empty() {
            self.counts.one_sync_metas += 1;
            self.counts.listed_pages += listed.len() as u64;
        }
        let reach = &self.reach[&t];
        for &p in &self.unsynced {
            if reach.get(p as usize) == Some(&Reach::Head) {
                assert!(
                    listed.contains(&p),
                    "meta {t} reaches page {p}, written since the last sync, without \
                     listing it (listed: {listed:?})"
                );
            }
        }
    }

    fn meta_write(&mut self, buf: &[u8], offset: u64) {
        assert!(
            offset.is_multiple_of(PAGE as u64) && buf.len().is_multiple_of(PAGE),
            "write at {offset} of {} bytes touches a meta page partially",
            buf.len()
        );
        for (i, page) in buf.chunks(PAGE).enumerate() {
            let slot = offset / PAGE as u64 + i as u64;
            assert!(slot < 2, "a meta write spills into page {slot}");
            let t = meta_txn(page).unwrap_or_else(|| panic!("write of a non-meta to slot {slot}"));
            let steady = meta_steady(page);
            let s = slot as usize;
            if let Some(old) = self.slot_txn[s] {
                let turned_steady = t == old && steady && !self.slot_steady[s];
                assert!(
                    t > old || turned_steady,
                    "meta {t} overwrites the newer meta {old}"
                );
                assert!(
                    turned_steady || Some(old) != self.durable,
                    "meta {t} overwrites the durable meta {old}"
                );
            }
            self.counts.meta_writes += 1;
            self.slots[s].copy_from_slice(page);
            self.slot_txn[s] = Some(t);
            self.slot_steady[s] = steady;
            self.metas.insert(t, (s, page[..META_LEN].to_vec()));
        }
    }
}

struct Checker {
    state: Arc<Mutex<State>>,
}

impl Hooks for Checker {
    fn set_len(&self, inner: &dyn Storage, len: u64) -> io::Result<()> {
        self.state.lock().unwrap().shadow.set_len(len).unwrap();
        inner.set_len(len)
    }
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock().unwrap();
        if buf.is_empty() {
            return inner.write_at(buf, offset);
        }
        let metas = offset < 2 * PAGE as u64;
        if metas {
            st.meta_write(buf, offset);
        } else {
            st.check_data_write(offset, buf.len());
        }
        st.shadow.write_all_at(buf, offset).unwrap();
        if metas {
            let written: Vec<u64> = buf.chunks(PAGE).filter_map(meta_txn).collect();
            for t in written {
                st.compute_reach(t);
                st.check_listed(t);
            }
            st.evict();
        }
        inner.write_at(buf, offset)
    }
    fn sync_data(&self, inner: &dyn Storage) -> io::Result<()> {
        let mut st = self.state.lock().unwrap();
        st.counts.syncs += 1;
        st.unsynced.clear();
        let newest = st.newest_steady();
        if newest > st.durable {
            st.durable = newest;
        }
        st.evict();
        inner.sync_data()
    }
}

/// tmpfs when available: the checker rewrites its shadow copy on every commit.
fn test_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").unwrap_or_else(|_| tempfile::tempdir().unwrap())
}

fn strict_env() -> bool {
    std::env::var("WRITE_ORDER_STRICT").is_ok_and(|v| v == "1")
}

/// Open `path` behind a fresh checker; returns the environment and the checker state.
fn open_checked(
    path: &Path,
    work: &Path,
    durability: Durability,
    spill: bool,
    readers: &Arc<Mutex<Vec<u64>>>,
) -> (Env, Arc<Mutex<State>>) {
    let slot: Arc<Mutex<Option<Arc<Mutex<State>>>>> = Arc::new(Mutex::new(None));
    let (s2, r2, w2) = (slot.clone(), readers.clone(), work.to_path_buf());
    let strict = strict_env() || durability == Durability::NoMetaSync;
    let env = Env::builder()
        .page_size(PAGE)
        .durability(durability)
        .growth_step(16 * 1024)
        // The smallest dirty limit (64 pages): larger transactions write pages early.
        .dirty_limit(if spill { 0 } else { 512 << 20 })
        .storage_layer(move |inner| {
            let state = Arc::new(Mutex::new(State::new(inner.as_ref(), &w2, strict, r2)));
            *s2.lock().unwrap() = Some(state.clone());
            Box::new(Layer {
                inner,
                hooks: Checker { state },
            })
        })
        .open(path)
        .unwrap();
    let state = slot.lock().unwrap().take().unwrap();
    (env, state)
}

type Model = BTreeMap<Option<String>, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A random workload behind the checker: puts (small, near the inline limit, overflow
/// runs up to 40 KB), overwrites, deletes, clears, named tables created and dropped,
/// aborts, long-lived readers taken and released at random, `Env::sync`, a reopen, and
/// growth in 16 KiB steps. With `spill`, over 50 times the keys and the smallest dirty
/// limit, so the larger transactions write pages early. Returns the checker's counts.
fn workload(seed: u64, durability: Durability, txns: usize, spill: bool) -> Counts {
    let dir = test_dir();
    let path = dir.path().join("db");
    let readers_ids: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::new()));
    let (mut env, mut state) = open_checked(&path, dir.path(), durability, spill, &readers_ids);
    let keys = if spill { 20_000 } else { 400 };
    let mut spilled = 0;
    let mut total = Counts::default();
    let mut rng = Rng(seed);
    let mut readers: Vec<ReadTxn> = Vec::new();
    let mut model = Model::new();
    model.insert(None, BTreeMap::new());
    for t in 0..txns {
        if t == txns / 2 {
            // Reopen: the checker starts again from the file as it is.
            readers.clear();
            readers_ids.lock().unwrap().clear();
            drop(env);
            add(&mut total, state.lock().unwrap().counts);
            (env, state) = open_checked(&path, dir.path(), durability, spill, &readers_ids);
        }
        let mut w = env.begin_write().unwrap();
        let mut next = model.clone();
        let n_ops = if rng.below(10) == 0 {
            if spill {
                1500
            } else {
                200
            }
        } else {
            1 + rng.below(25)
        };
        for _ in 0..n_ops {
            let table = match rng.below(5) {
                0 | 1 => None,
                n => Some(format!("t{n}")),
            };
            let key = format!("k{:05}", rng.below(keys)).into_bytes();
            let m = next.entry(table.clone()).or_default();
            let mut tab = match &table {
                None => w.main_table(),
                Some(n) => w.create_table(n).unwrap(),
            };
            let mut op = rng.below(20);
            if spill && op >= 18 && rng.below(100) != 0 {
                // Clears and drops rare enough for tables to grow.
                op = 0;
            }
            match op {
                0..=11 => {
                    let len = match rng.below(15) {
                        0 => 5_000 + rng.below(35_000),
                        1 | 2 => 600 + rng.below(400),
                        _ => rng.below(250),
                    } as usize;
                    let v = vec![(rng.next() & 0xff) as u8; len];
                    tab.put(&key, &v).unwrap();
                    m.insert(key, v);
                }
                12..=17 => {
                    assert_eq!(tab.delete(&key).unwrap(), m.remove(&key).is_some());
                }
                18 => {
                    tab.clear().unwrap();
                    m.clear();
                }
                _ => {
                    if let Some(n) = &table {
                        w.drop_table(n).unwrap();
                        next.remove(&table);
                    }
                }
            }
        }
        spilled += w.spilled_pages();
        if rng.below(5) == 0 {
            w.abort();
        } else {
            w.commit().unwrap();
            model = next;
        }
        match rng.below(6) {
            0 if readers.len() < 4 => {
                let r = env.begin_read().unwrap();
                readers_ids.lock().unwrap().push(r.id());
                readers.push(r);
            }
            1 if !readers.is_empty() => {
                let r = readers.remove(rng.below(readers.len() as u64) as usize);
                let mut ids = readers_ids.lock().unwrap();
                let at = ids.iter().position(|&i| i == r.id()).unwrap();
                ids.remove(at);
                drop(r);
            }
            2 if durability == Durability::NoSync && rng.below(4) == 0 => env.sync().unwrap(),
            _ => {}
        }
    }
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // The contents are the model's (the checker must not have hidden a lost update).
    let r = env.begin_read().unwrap();
    for (name, entries) in &model {
        if name.is_some() && entries.is_empty() {
            continue;
        }
        let tab = match name {
            None => r.main_table(),
            Some(n) => r.open_table(n).unwrap(),
        };
        assert_eq!(tab.len(), entries.len() as u64);
        for (e, (k, v)) in tab.iter().zip(entries) {
            let (ek, ev) = e.unwrap();
            assert!(ek == &k[..] && ev == &v[..]);
        }
    }
    drop(r);
    readers.clear();
    drop(env);
    assert_eq!(spilled > 0, spill, "{spilled} pages written early");
    add(&mut total, state.lock().unwrap().counts);
    total
}

fn add(total: &mut Counts, c: Counts) {
    total.data_writes += c.data_writes;
    total.pages_checked += c.pages_checked;
    total.meta_writes += c.meta_writes;
    total.syncs += c.syncs;
    total.reach_computed += c.reach_computed;
    total.one_sync_metas += c.one_sync_metas;
    total.listed_pages += c.listed_pages;
    total.max_protected = total.max_protected.max(c.max_protected);
}

fn run(durability: Durability, seeds: std::ops::RangeInclusive<u64>, txns: usize) {
    run_with(durability, seeds, txns, false)
}

fn run_with(
    durability: Durability,
    seeds: std::ops::RangeInclusive<u64>,
    txns: usize,
    spill: bool,
) {
    let start = std::time::Instant::now();
    let mut total = Counts::default();
    for seed in seeds {
        add(&mut total, workload(seed, durability, txns, spill));
    }
    eprintln!(
        "{durability:?}: {total:?} in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(total.data_writes > 1_000, "{total:?}");
    assert!(
        total.max_protected >= 3,
        "readers never overlapped: {total:?}"
    );
    if durability == Durability::Full {
        assert!(
            total.one_sync_metas > 100,
            "few one-sync commits: {total:?}"
        );
    }
}

#[test]
fn writes_never_touch_live_pages_full() {
    run(Durability::Full, 1..=8, 600);
}

#[test]
fn writes_never_touch_live_pages_no_meta_sync() {
    run(Durability::NoMetaSync, 11..=13, 600);
}

#[test]
fn writes_never_touch_live_pages_no_sync() {
    run(Durability::NoSync, 21..=23, 600);
}

/// Pages written early (past the dirty limit) go to pages no needed snapshot reaches.
#[test]
fn writes_never_touch_live_pages_when_spilling() {
    run_with(Durability::Full, 31..=32, 300, true);
    run_with(Durability::NoSync, 33..=33, 300, true);
}
