//! Corrupt files: every single-byte flip, every truncation at a page boundary, and
//! checksum verification on reads.
//!
//! A small database (main table + two named tables, overflow values, a non-empty free
//! tree; 4 KiB pages) is built once. The test then parses the file itself, following
//! `docs/format.md`, to learn the role of every byte: meta bytes (0..256 checksummed,
//! the rest unused), node pages (header fields, slots and entries that reads use, and
//! the bytes reads never look at: checksum, flags, txnid, reserved, the gap between
//! the slot array and the entry area, holes), overflow runs (header, value, padding),
//! free pages and the tail of the file beyond the high-water mark.
//!
//! For a flipped byte (xor 0xff), opening must succeed or fail cleanly; if it succeeds,
//! reading everything and `check()` must not panic, and:
//! - a byte of a node page or overflow run in use: `check()` names that page (or the
//!   run's first page), since checksums cover whole pages and runs;
//! - a byte reads never look at (see above): the contents read back unchanged;
//! - meta bytes 0..256: that meta is invalid, `check()` names it and the contents are
//!   those of the other meta (the previous commit, when the newest meta was hit);
//! - meta bytes 256.., free pages, the file tail: contents unchanged and `check()` clean.
//!
//! The file has 40 pages. By default every byte of both metas and of one page of each
//! role is flipped, and every 7th byte elsewhere (~68,500 cases, ~14 s at opt-level 1);
//! `MDBX_LITE_FLIP_ALL=1` flips all ~160,000 bytes (~60 s at opt-level 1, 21 s in
//! release; it passes). The sweep runs on two threads, on tmpfs when there is one.
//!
//! Also: writes on flipped files (no panic), truncation at every page boundary, and
//! `verify_checksums(true)` turning a flipped byte into `Error::Corrupted` naming the
//! page.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use mdbx_lite::{Env, Error, ReadTable};

const PS: usize = 4096;
const HEADER: usize = 32;
const META_LEN: usize = 256;

/// Table name ("" for main) -> entries.
type Dump = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

// ---- panics: caught per case, reported with the offset, without the default hook's noise

thread_local! {
    static SWEEPING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if SWEEPING.with(|s| s.get()) {
                LAST_PANIC.with(|l| *l.borrow_mut() = Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
}

/// Run `f`; a panic becomes `Err(message with location)`.
fn no_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    SWEEPING.with(|s| s.set(true));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    SWEEPING.with(|s| s.set(false));
    r.map_err(|_| {
        LAST_PANIC
            .with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}

// ---- building the database

fn value(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seed.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    bytes: Vec<u8>,
    /// Contents after the last commit and after the one before it.
    last: Dump,
    prev: Dump,
    layout: Layout,
}

fn dump(env: &Env) -> mdbx_lite::Result<Dump> {
    let r = env.begin_read()?;
    let mut out = Dump::new();
    let mut names = vec![String::new()];
    names.extend(r.list_tables()?);
    for name in names {
        let t = if name.is_empty() {
            r.main_table()
        } else {
            r.open_table(&name)?
        };
        let entries = t
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<mdbx_lite::Result<Vec<_>>>()?;
        if entries.len() as u64 != t.len() {
            return Err(Error::Invalid(format!("table {name:?}: len differs")));
        }
        out.insert(name, entries);
    }
    Ok(out)
}

/// Whether the database reads back exactly as `want`: the same tables, each with the
/// same `len` and the same entries in order (compared in place, without copying).
fn reads_back(env: &Env, want: &Dump) -> bool {
    let Ok(r) = env.begin_read() else {
        return false;
    };
    let Ok(names) = r.list_tables() else {
        return false;
    };
    if !names.iter().eq(want.keys().filter(|k| !k.is_empty())) {
        return false;
    }
    for (name, entries) in want {
        let t = if name.is_empty() {
            r.main_table()
        } else {
            match r.open_table(name) {
                Ok(t) => t,
                Err(_) => return false,
            }
        };
        if t.len() != entries.len() as u64 {
            return false;
        }
        let mut it = t.iter();
        for (k, v) in entries {
            match it.next() {
                Some(Ok((gk, gv))) if gk == &k[..] && gv == &v[..] => {}
                _ => return false,
            }
        }
        if it.next().is_some() {
            return false;
        }
    }
    true
}

fn build() -> Fixture {
    let dir = scratch_dir();
    let path = dir.path().join("db");
    // growth_step = one page keeps the file close to its high-water mark.
    let env = Env::builder().growth_step(4096).open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in 0..300u64 {
            t.put(
                format!("m/{i:04}").as_bytes(),
                &value(i, (i as usize * 37) % 160),
            )
            .unwrap();
        }
        let mut a = w.create_table("alpha").unwrap();
        for i in 0..150u64 {
            a.put(format!("a/{i:04}").as_bytes(), &value(i + 1000, 60))
                .unwrap();
        }
        let mut b = w.create_table("beta").unwrap();
        for i in 0..80u64 {
            b.put(format!("b/{i:03}").as_bytes(), &value(i + 2000, 20))
                .unwrap();
        }
        b.put(b"b/big1", &value(7, 6_000)).unwrap();
        b.put(b"b/big2", &value(8, 9_000)).unwrap();
        b.put(b"b/big3", &value(9, 1_500)).unwrap();
    }
    w.commit().unwrap();
    // Deletes and overwrites: the free tree fills up.
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in (0..300u64).step_by(3) {
            t.delete(format!("m/{i:04}").as_bytes()).unwrap();
        }
        let mut b = w.open_table("beta").unwrap();
        b.delete(b"b/big3").unwrap();
        b.put(b"b/big1", &value(17, 5_000)).unwrap();
    }
    w.commit().unwrap();
    let prev = dump(&env).unwrap();
    // A small last commit, so the newest meta's fallback is a different state.
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        t.put(b"m/0001", b"changed by the last commit").unwrap();
        t.delete(b"m/0002").unwrap();
    }
    w.commit().unwrap();
    let last = dump(&env).unwrap();
    assert_ne!(prev, last);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.pages.free > 0, "free tree empty: {:?}", report.pages);
    drop(env);
    let bytes = fs::read(&path).unwrap();
    let layout = Layout::parse(&bytes);
    Fixture {
        _dir: dir,
        bytes,
        last,
        prev,
        layout,
    }
}

// ---- an independent reading of the format

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}
fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[derive(Clone, Debug, PartialEq)]
enum Role {
    /// A meta slot; its first `len` bytes (record and page list) are checksummed.
    Meta {
        len: usize,
    },
    /// A branch or leaf page; `used[i]`: byte `i` is read when the page is read.
    Node {
        tree: String,
        leaf: bool,
        used: Vec<bool>,
        keys: Vec<Vec<u8>>,
    },
    /// Page `index` of the run starting at `head`, holding a value of `len` bytes.
    Overflow {
        head: u64,
        index: usize,
        len: usize,
        key: Vec<u8>,
        table: String,
    },
    Free,
    /// At or beyond the high-water mark.
    Unallocated,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    User,
    Catalog,
    Free,
}

struct Layout {
    newest_slot: u64,
    high_water: u64,
    pages: Vec<Role>,
}

impl Layout {
    fn parse(file: &[u8]) -> Layout {
        let metas: Vec<(u64, u64)> = (0..2)
            .map(|s| {
                let m = &file[s * PS..s * PS + META_LEN];
                assert_eq!(&m[32..40], b"MDBXLITE");
                (u64_at(m, 16), s as u64)
            })
            .collect();
        let newest_slot = metas.iter().max().unwrap().1;
        let m = &file[newest_slot as usize * PS..];
        let high_water = u64_at(m, 48);
        let npages = file.len().div_ceil(PS);
        let mut l = Layout {
            newest_slot,
            high_water,
            pages: vec![Role::Unallocated; npages],
        };
        l.pages[0] = Role::Meta {
            len: meta_len(&file[..PS]),
        };
        l.pages[1] = Role::Meta {
            len: meta_len(&file[PS..2 * PS]),
        };
        let rec = |at: usize| (u64_at(m, at), u32_at(m, at + 40) as u32);
        let (root, depth) = rec(64);
        l.walk(file, root, depth, 0, Tree::User, "");
        let (root, depth) = rec(112);
        l.walk(file, root, depth, 0, Tree::Catalog, "<catalog>");
        let (root, depth) = rec(160);
        l.walk(file, root, depth, 0, Tree::Free, "<free>");
        for p in 2..high_water as usize {
            assert_ne!(l.pages[p], Role::Unallocated, "page {p}: no role found");
        }
        l
    }

    fn set(&mut self, p: u64, role: Role) {
        assert_eq!(
            self.pages[p as usize],
            Role::Unallocated,
            "page {p} has two roles"
        );
        assert!(p >= 2 && p < self.high_water);
        self.pages[p as usize] = role;
    }

    fn walk(&mut self, file: &[u8], pg: u64, depth: u32, level: u32, tree: Tree, name: &str) {
        if depth == 0 {
            return;
        }
        let p = &file[pg as usize * PS..(pg as usize + 1) * PS];
        let leaf = level + 1 == depth;
        assert_eq!(p[4], if leaf { 3 } else { 2 }, "page {pg}");
        assert_eq!(u64_at(p, 8), pg);
        let count = u16_at(p, 6);
        let mut used = vec![false; PS];
        // Header fields reads look at: kind, count, pgno, upper, prefix length, and on
        // leaves the flags (whose keys-only bit sets the entry layout).
        for i in [
            4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 30, 31,
        ] {
            used[i] = true;
        }
        used[5] = leaf;
        let mut keys = Vec::new();
        let mut children = Vec::new();
        for i in 0..count {
            let s = HEADER + i * 8;
            used[s..s + 8].fill(true);
            let off = u16_at(p, s + 4);
            let klen = u16_at(p, s + 6);
            let key = p[off..off + klen].to_vec();
            let body = off + klen;
            if leaf {
                let flags = p[body];
                let vlen = u32_at(p, body + 1);
                let overflow = flags & 1 != 0;
                let span = klen + 5 + if overflow { 8 } else { vlen };
                used[off..off + span].fill(true);
                let v = &p[body + 5..body + 5 + if overflow { 8 } else { vlen }];
                if overflow {
                    let head = u64_at(v, 0);
                    let n = (HEADER + vlen).div_ceil(PS);
                    for index in 0..n {
                        self.set(
                            head + index as u64,
                            Role::Overflow {
                                head,
                                index,
                                len: vlen,
                                key: key.clone(),
                                table: name.to_string(),
                            },
                        );
                    }
                }
                match tree {
                    Tree::User => {}
                    Tree::Catalog => {
                        let tname = String::from_utf8(key.clone()).unwrap();
                        self.walk(
                            file,
                            u64_at(v, 0),
                            u32_at(v, 40) as u32,
                            0,
                            Tree::User,
                            &tname,
                        );
                    }
                    Tree::Free => {
                        // Entries: page number, birth (16 bytes).
                        for c in v.chunks_exact(16) {
                            self.set(u64_at(c, 0), Role::Free);
                        }
                    }
                }
            } else {
                used[off..off + klen + 8].fill(true);
                children.push(u64_at(p, body));
            }
            keys.push(key);
        }
        self.set(
            pg,
            Role::Node {
                tree: name.to_string(),
                leaf,
                used,
                keys,
            },
        );
        for c in children {
            self.walk(file, c, depth, level + 1, tree, name);
        }
    }
}

// ---- what a case expects

#[derive(Debug)]
enum Expect {
    /// Meta bytes 0..256 of `slot`: that meta is invalid.
    BadMeta { slot: u64 },
    /// A byte nothing reads: contents unchanged and `check()` clean.
    Harmless,
    /// A byte of a page in use: `check()` names `page` (or `alt`); if `neutral`, reads
    /// never look at it, so contents are unchanged.
    Detected { page: u64, alt: u64, neutral: bool },
}

fn expectation(l: &Layout, off: usize) -> Expect {
    let (p, b) = (off / PS, off % PS);
    match &l.pages[p] {
        Role::Meta { len } if b < *len => Expect::BadMeta { slot: p as u64 },
        Role::Meta { .. } | Role::Free | Role::Unallocated => Expect::Harmless,
        Role::Node { used, .. } => Expect::Detected {
            page: p as u64,
            alt: p as u64,
            neutral: !used[b],
        },
        Role::Overflow {
            head, index, len, ..
        } => {
            let at = index * PS + b;
            // Head fields reads check: kind, pgno, run length. Value bytes are read;
            // the checksum, flags, count, txnid, reserved and the padding are not.
            let read = if *index == 0 && b < HEADER {
                matches!(b, 4 | 8..=15 | 24..=27)
            } else {
                at < HEADER + len
            };
            Expect::Detected {
                page: *head,
                alt: p as u64,
                neutral: !read,
            }
        }
    }
}

/// (whether the contents read back as expected — `None` when not compared —, the
/// problems `check()` found — `None` if it failed).
type Outcome = (Option<bool>, Option<Vec<mdbx_lite::check::Problem>>);

/// Open `path` read-only, then either compare the contents with `compare` or, for a
/// byte whose flip may change them, run every kind of read on every table (errors are
/// fine, panics are not); then `stat()` and `check()`.
fn read_everything(path: &Path, original: &Dump, compare: Option<&Dump>) -> Result<Outcome, Error> {
    let env = Env::builder().read_only(true).open(path)?;
    let same = compare.map(|want| reads_back(&env, want));
    if compare.is_none() {
        if let Ok(r) = env.begin_read() {
            let _ = r.list_tables();
            let cap = original.values().map(|v| v.len()).sum::<usize>() * 4 + 16;
            for (name, entries) in original {
                let t = if name.is_empty() {
                    r.main_table()
                } else {
                    match r.open_table(name) {
                        Ok(t) => t,
                        Err(_) => continue,
                    }
                };
                poke(&t, entries, cap);
            }
        }
    }
    let _ = env.stat();
    let problems = env.check().ok().map(|r| r.problems);
    Ok((same, problems))
}

/// The contents a flip at `off` must leave, if it must leave any particular ones.
fn expected_contents(fx: &Fixture, off: usize) -> Option<&Dump> {
    match expectation(&fx.layout, off) {
        Expect::BadMeta { slot } if slot == fx.layout.newest_slot => Some(&fx.prev),
        Expect::BadMeta { .. } | Expect::Harmless => Some(&fx.last),
        Expect::Detected { neutral: true, .. } => Some(&fx.last),
        Expect::Detected { neutral: false, .. } => None,
    }
}

/// Every read operation on one table, ignoring errors (they are allowed; panics are not).
fn poke(t: &ReadTable<'_>, entries: &[(Vec<u8>, Vec<u8>)], cap: usize) {
    let _ = (t.len(), t.stat());
    for e in t.iter().take(cap) {
        if e.is_err() {
            break;
        }
    }
    for e in t.iter().rev().take(cap) {
        if e.is_err() {
            break;
        }
    }
    for (k, _) in entries {
        let _ = t.get(k);
    }
    if let Some((mid, _)) = entries.get(entries.len() / 2) {
        let _ = t.range(&mid[..]..).take(5).count();
        let _ = t.range(..=&mid[..]).rev().take(5).count();
        let mut c = t.cursor();
        let _ = c.seek(mid);
        let _ = c.prev();
        let _ = c.next();
        let _ = c.seek_exact(mid);
        let _ = c.last();
        let _ = c.current();
    }
}

struct Failures(Vec<String>);

impl Failures {
    fn add(&mut self, msg: String) {
        self.0.push(msg);
    }
    fn assert_none(self, what: &str) {
        let n = self.0.len();
        let shown: Vec<&String> = self.0.iter().take(25).collect();
        assert!(n == 0, "{what}: {n} failures, first ones:\n{shown:#?}");
    }
}

fn judge(
    fx: &Fixture,
    off: usize,
    outcome: Result<Result<Outcome, Error>, String>,
) -> Option<String> {
    let expect = expectation(&fx.layout, off);
    let ctx = format!(
        "byte {off} (page {}, offset {}, {:?})",
        off / PS,
        off % PS,
        expect
    );
    let (contents, problems) = match outcome {
        Err(panic) => return Some(format!("{ctx}: PANIC: {panic}")),
        Ok(Err(e)) => {
            // Opening may fail only when the metas are hit; both are valid otherwise.
            return match expect {
                Expect::BadMeta { .. } => Some(format!(
                    "{ctx}: open failed although the other meta is valid: {e}"
                )),
                _ => Some(format!("{ctx}: open failed: {e}")),
            };
        }
        Ok(Ok(o)) => o,
    };
    let Some(problems) = problems else {
        return Some(format!("{ctx}: check() returned an error"));
    };
    let names = |p: u64| problems.iter().any(|x| x.page == Some(p));
    let unchanged = contents == Some(true);
    match expect {
        Expect::BadMeta { slot } => {
            if !unchanged {
                return Some(format!("{ctx}: contents are not those of the other meta"));
            }
            if !names(slot) || problems.iter().any(|x| x.page != Some(slot)) {
                return Some(format!(
                    "{ctx}: check should name exactly meta {slot}: {problems:?}"
                ));
            }
        }
        Expect::Harmless => {
            if !unchanged {
                return Some(format!("{ctx}: contents changed"));
            }
            if !problems.is_empty() {
                return Some(format!("{ctx}: check reports {problems:?}"));
            }
        }
        Expect::Detected { page, alt, neutral } => {
            if !names(page) && !names(alt) {
                return Some(format!(
                    "{ctx}: check does not name page {page}: {problems:?}"
                ));
            }
            if neutral && !unchanged {
                return Some(format!("{ctx}: contents changed by a byte reads never use"));
            }
        }
    }
    None
}

/// The offsets to flip: every byte of both metas and of one page of each role (leaf and
/// branch of the main table, a named table's leaf, the catalog, the free tree, first
/// and last page of an overflow run, a free page, an unallocated page), and every 7th
/// byte of the other pages. Flipping all ~160,000 bytes takes about a minute at
/// opt-level 1, so that is opt-in: `MDBX_LITE_FLIP_ALL=1`.
fn offsets(l: &Layout, len: usize) -> Vec<usize> {
    if std::env::var_os("MDBX_LITE_FLIP_ALL").is_some() {
        return (0..len).collect();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (p, role) in l.pages.iter().enumerate() {
        let kind = match role {
            Role::Meta { .. } => format!("meta {p}"),
            Role::Node { tree, leaf, .. } => {
                let tree = if tree.starts_with('<') || tree.is_empty() {
                    tree.as_str()
                } else {
                    "named"
                };
                format!("node {tree} {leaf}")
            }
            Role::Overflow { index, len, .. } => {
                let last = index + 1 == (HEADER + len).div_ceil(PS);
                format!("overflow {} {last}", *index == 0)
            }
            Role::Free => "free".into(),
            Role::Unallocated => "unallocated".into(),
        };
        let all = seen.insert(kind);
        let end = ((p + 1) * PS).min(len);
        out.extend((p * PS..end).filter(|o| all || o.is_multiple_of(7)));
    }
    out
}

fn working_copy(fx: &Fixture, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, &fx.bytes).unwrap();
    path
}

#[test]
fn every_byte_flip_is_detected_or_harmless() {
    install_hook();
    let fx = build();
    let npages = fx.bytes.len().div_ceil(PS);
    let count = |f: &dyn Fn(&Role) -> bool| fx.layout.pages.iter().filter(|r| f(r)).count();
    eprintln!(
        "file: {} bytes, {npages} pages, high water {}: {} node, {} overflow, {} free, {} unallocated",
        fx.bytes.len(),
        fx.layout.high_water,
        count(&|r| matches!(r, Role::Node { .. })),
        count(&|r| matches!(r, Role::Overflow { .. })),
        count(&|r| matches!(r, Role::Free)),
        count(&|r| matches!(r, Role::Unallocated)),
    );
    assert!(count(&|r| matches!(r, Role::Free)) > 0);
    assert!(count(&|r| matches!(r, Role::Overflow { .. })) >= 3);
    let offsets = offsets(&fx.layout, fx.bytes.len());
    let dir = scratch_dir();
    let threads = 2;
    let t0 = std::time::Instant::now();
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|tid| {
                let (fx, offsets) = (&fx, &offsets);
                let path = working_copy(fx, dir.path(), &format!("flip{tid}"));
                s.spawn(move || {
                    let file = OpenOptions::new().write(true).open(&path).unwrap();
                    let mut failures = Vec::new();
                    let mut cases = 0;
                    for &off in offsets.iter().skip(tid).step_by(threads) {
                        let orig = fx.bytes[off];
                        file.write_all_at(&[orig ^ 0xff], off as u64).unwrap();
                        let want = expected_contents(fx, off);
                        let outcome = no_panic(|| read_everything(&path, &fx.last, want));
                        file.write_all_at(&[orig], off as u64).unwrap();
                        cases += 1;
                        if let Some(f) = judge(fx, off, outcome) {
                            failures.push(f);
                        }
                    }
                    (cases, failures)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let cases: usize = results.iter().map(|r| r.0).sum();
    eprintln!("{cases} flips in {:?}", t0.elapsed());
    assert_eq!(cases, offsets.len());
    Failures(results.into_iter().flat_map(|r| r.1).collect()).assert_none("byte flips");
}

#[test]
fn flips_survive_a_write_transaction() {
    // Writing on a corrupt file: every operation returns Ok or an error, never panics.
    // One flip per 16-byte stride of every page (each header field and a sample of the
    // slots and entries); the file is restored after each case.
    install_hook();
    let fx = build();
    let dir = scratch_dir();
    let path = working_copy(&fx, dir.path(), "w");
    let mut failures = Failures(Vec::new());
    let offsets: Vec<usize> = (0..fx.bytes.len())
        .filter(|o| o % 16 == (o / PS) % 16 || o % PS < 32)
        .collect();
    for &off in &offsets {
        let mut bytes = fx.bytes.clone();
        bytes[off] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let r = no_panic(|| -> mdbx_lite::Result<()> {
            let env = Env::open(&path)?;
            let mut w = env.begin_write()?;
            for (name, entries) in &fx.last {
                let mut t = if name.is_empty() {
                    w.main_table()
                } else {
                    match w.open_table(name) {
                        Ok(t) => t,
                        Err(_) => continue,
                    }
                };
                for (i, (k, v)) in entries.iter().enumerate() {
                    let _ = match i % 3 {
                        0 => t.delete(k).map(|_| ()),
                        1 => t.put(k, &[v.as_slice(), b"+"].concat()),
                        _ => t.get(k).map(|_| ()),
                    };
                }
                let _ = t.put(b"zz-new", &value(1, 7_000));
            }
            let _ = w.drop_table("alpha");
            let _ = w.commit();
            let _ = env.check();
            let _ = dump(&env);
            Ok(())
        });
        if let Err(p) = r {
            failures.add(format!(
                "byte {off} (page {}, offset {}): PANIC: {p}",
                off / PS,
                off % PS
            ));
        }
    }
    eprintln!("{} flips with a write transaction", offsets.len());
    failures.assert_none("writes on flipped files");
}

#[test]
fn truncation_at_every_page_boundary() {
    install_hook();
    let fx = build();
    let dir = scratch_dir();
    let path = dir.path().join("t");
    let hw = fx.layout.high_water as usize;
    let npages = fx.bytes.len().div_ceil(PS);
    let mut failures = Failures(Vec::new());
    for k in 0..=npages {
        let len = (k * PS).min(fx.bytes.len());
        for read_only in [true, false] {
            fs::write(&path, &fx.bytes[..len]).unwrap();
            let r = no_panic(|| -> mdbx_lite::Result<(Dump, bool)> {
                let env = Env::builder().read_only(read_only).open(&path)?;
                let contents = dump(&env);
                let r = env.begin_read()?;
                for (name, entries) in &fx.last {
                    let t = if name.is_empty() {
                        r.main_table()
                    } else {
                        r.open_table(name)?
                    };
                    poke(&t, entries, 10_000);
                }
                let ok = env.check()?.is_ok();
                Ok((contents?, ok))
            });
            let ctx = format!("truncated to {k} pages ({len} bytes), read_only {read_only}");
            match r {
                Err(p) => failures.add(format!("{ctx}: PANIC: {p}")),
                Ok(Ok((contents, ok))) => {
                    if len == 0 && !read_only {
                        // An empty file is a new database.
                        if contents != Dump::from([(String::new(), Vec::new())]) {
                            failures.add(format!("{ctx}: a new database is not empty"));
                        }
                    } else if len < hw * PS {
                        failures.add(format!(
                            "{ctx}: opened below the high-water mark ({hw} pages)"
                        ));
                    } else if contents != fx.last || !ok {
                        failures.add(format!("{ctx}: contents or check differ"));
                    }
                }
                Ok(Err(e)) => {
                    if len >= hw * PS {
                        failures.add(format!(
                            "{ctx}: error although nothing allocated is missing: {e}"
                        ));
                    }
                }
            }
        }
    }
    failures.assert_none("truncations");
}

#[test]
fn verify_checksums_names_the_corrupt_page() {
    let fx = build();
    let dir = scratch_dir();
    let path = dir.path().join("v");
    let l = &fx.layout;
    // A leaf of the main table, a branch of it, and the second page of an overflow run.
    let find = |want_leaf: bool| {
        l.pages.iter().enumerate().find_map(|(p, r)| match r {
            Role::Node {
                tree,
                leaf,
                used,
                keys,
            } if tree.is_empty() && *leaf == want_leaf => {
                Some((p, used.iter().position(|u| !u).unwrap(), keys.clone()))
            }
            _ => None,
        })
    };
    let (leaf, leaf_gap, leaf_keys) = find(true).expect("a main-table leaf");
    let (branch, branch_gap, _) = find(false).expect("a main-table branch");
    let (run_page, head, key, table) = l
        .pages
        .iter()
        .enumerate()
        .find_map(|(p, r)| match r {
            Role::Overflow {
                head,
                index: 1,
                key,
                table,
                ..
            } => Some((p, *head, key.clone(), table.clone())),
            _ => None,
        })
        .expect("an overflow run of 2+ pages");
    let some_leaf_key = leaf_keys[leaf_keys.len() / 2].clone();
    let cases: [(usize, u64, &str, Vec<u8>); 3] = [
        (leaf * PS + leaf_gap, leaf as u64, "", some_leaf_key.clone()),
        (branch * PS + branch_gap, branch as u64, "", some_leaf_key),
        (run_page * PS + 100, head, &table, key),
    ];
    for (off, page, table, key) in cases {
        let mut bytes = fx.bytes.clone();
        bytes[off] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let ctx = format!("byte {off} (page {}): key {key:?} of {table:?}", off / PS);
        fn table_of<'a>(r: &'a mdbx_lite::ReadTxn, table: &str) -> ReadTable<'a> {
            if table.is_empty() {
                r.main_table()
            } else {
                r.open_table(table).unwrap()
            }
        }
        // Without verification the flipped byte goes unnoticed by this read...
        let plain = Env::builder().read_only(true).open(&path).unwrap();
        let r = plain.begin_read().unwrap();
        let want = fx.last[table]
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap()
            .1
            .clone();
        let got = table_of(&r, table).get(&key).unwrap().map(|v| v.to_vec());
        if off / PS == run_page {
            // ... the value itself is changed (the byte is inside it).
            assert_ne!(got.as_ref(), Some(&want), "{ctx}");
        } else {
            assert_eq!(got.as_ref(), Some(&want), "{ctx}");
        }
        drop(r);
        drop(plain);
        // ... with it, the read fails and names the page.
        let env = Env::builder()
            .read_only(true)
            .verify_checksums(true)
            .open(&path)
            .unwrap();
        let r = env.begin_read().unwrap();
        let t = table_of(&r, table);
        match t.get(&key) {
            Err(Error::Corrupted { page: p, .. }) => assert_eq!(p, page, "{ctx}"),
            other => panic!("{ctx}: expected Corrupted naming page {page}, got {other:?}"),
        }
        let first_err = t.iter().find_map(|e| e.err());
        assert!(
            matches!(first_err, Some(Error::Corrupted { page: p, .. }) if p == page),
            "{ctx}: iteration: {first_err:?}"
        );
        let report = env.check().unwrap();
        assert!(
            report.problems.iter().any(|p| p.page == Some(page)),
            "{ctx}: {:?}",
            report.problems
        );
        // An intact database reads fine with verification on.
        drop(r);
        drop(env);
        fs::write(&path, &fx.bytes).unwrap();
        let env = Env::builder()
            .read_only(true)
            .verify_checksums(true)
            .open(&path)
            .unwrap();
        assert_eq!(dump(&env).unwrap(), fx.last);
    }
}

// ---- hand-crafted damage that keeps every checksum valid: writes must refuse it
//
// Each case builds a database, damages it the way a bug or a forger could (checksums
// recomputed, so only the structure is wrong), shows that `check` reports the damage,
// and that a write transaction on it fails with `Error::Corrupted` (in an operation or
// at commit) and leaves the rest of the database as it was.

/// crc32 (IEEE), as the format uses; kept here so the test does not reuse library code.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn page_of(file: &mut [u8], pgno: u64) -> &mut [u8] {
    &mut file[pgno as usize * PS..(pgno as usize + 1) * PS]
}

/// Recompute the checksum of branch or leaf page `pgno`.
fn seal_page(file: &mut [u8], pgno: u64) {
    let p = page_of(file, pgno);
    let c = crc32(&p[4..]);
    p[..4].copy_from_slice(&c.to_le_bytes());
}

/// Bytes of the meta page `m` its checksum covers: the record and, for a one-sync
/// meta, the list of pages it names (count at byte 252; a checksum and 4 bytes a page).
fn meta_len(m: &[u8]) -> usize {
    match u32::from_le_bytes(m[252..256].try_into().unwrap()) as usize {
        0 => META_LEN,
        n => META_LEN + 4 + 4 * n,
    }
}

/// Set the transaction id of meta `slot` and recompute its checksum.
fn set_meta_txnid(file: &mut [u8], slot: usize, txnid: u64) {
    let len = meta_len(&file[slot * PS..]);
    let m = &mut file[slot * PS..slot * PS + len];
    m[16..24].copy_from_slice(&txnid.to_le_bytes());
    let c = crc32(&m[4..]);
    m[..4].copy_from_slice(&c.to_le_bytes());
}

/// Entries of a node page as (key, body): a leaf body is flags, value length and the
/// value (or overflow page number); a branch body is the child page number.
fn node_items(page: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let leaf = page[4] == 3;
    (0..u16_at(page, 6))
        .map(|i| {
            let s = HEADER + i * 8;
            let (off, klen) = (u16_at(page, s + 4), u16_at(page, s + 6));
            let body = off + klen;
            let blen = if !leaf {
                8
            } else if page[body] & 1 != 0 {
                13
            } else {
                5 + u32_at(page, body + 1)
            };
            (page[off..body].to_vec(), page[body..body + blen].to_vec())
        })
        .collect()
}

/// Rewrite node page `pgno` to hold exactly `items` (kind and txnid kept) with no page
/// prefix, then seal it.
fn rebuild_node(file: &mut [u8], pgno: u64, items: &[(Vec<u8>, Vec<u8>)]) {
    let p = page_of(file, pgno);
    let (kind, txnid) = (p[4], u64_at(p, 16));
    p.fill(0);
    p[4] = kind;
    p[6..8].copy_from_slice(&(items.len() as u16).to_le_bytes());
    p[8..16].copy_from_slice(&pgno.to_le_bytes());
    p[16..24].copy_from_slice(&txnid.to_le_bytes());
    let mut upper = PS;
    for (i, (k, b)) in items.iter().enumerate() {
        upper -= k.len() + b.len();
        p[upper..upper + k.len()].copy_from_slice(k);
        p[upper + k.len()..upper + k.len() + b.len()].copy_from_slice(b);
        let s = HEADER + i * 8;
        let n = k.len().min(4);
        p[s..s + 4].fill(0);
        p[s..s + n].copy_from_slice(&k[..n]);
        p[s + 4..s + 6].copy_from_slice(&(upper as u16).to_le_bytes());
        p[s + 6..s + 8].copy_from_slice(&(k.len() as u16).to_le_bytes());
    }
    p[24..28].copy_from_slice(&(upper as u32).to_le_bytes());
    seal_page(file, pgno);
}

fn t_key(i: u64) -> Vec<u8> {
    format!("t/{i:04}").into_bytes()
}

fn u_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..60u64)
        .map(|i| (format!("u/{i:03}").into_bytes(), value(i + 500, 20)))
        .collect()
}

/// Table `t` (400 entries, a root branch over leaves) and table `u` (60 entries in one
/// leaf, written by txn 4). A reader held across txns 3 and 4 keeps their free groups
/// from being reused, so the free tree holds group 3 (pages of `t` born in txn 2) and
/// group 4 (pages born in txns 2 and 3); neither group holds a page written after it.
fn t_and_u(dir: &Path) -> PathBuf {
    let path = dir.join("db");
    let env = Env::builder().growth_step(4096).open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    assert_eq!(w.id(), 2);
    {
        let mut t = w.create_table("t").unwrap();
        for i in 0..400u64 {
            t.put(&t_key(i), &value(i, 50)).unwrap();
        }
    }
    w.commit().unwrap();
    let hold = env.begin_read().unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in (0..400u64).step_by(7) {
            t.put(&t_key(i), &value(i + 1, 50)).unwrap();
        }
    }
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    assert_eq!(w.id(), 4);
    {
        let mut u = w.create_table("u").unwrap();
        for (k, v) in u_entries() {
            u.put(&k, &v).unwrap();
        }
        let mut t = w.open_table("t").unwrap();
        for i in (3..400u64).step_by(11) {
            t.put(&t_key(i), &value(i + 2, 50)).unwrap();
        }
    }
    w.commit().unwrap();
    drop(hold);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    path
}

/// Root page and depth of table `name`.
fn table_root(env: &Env, name: &str) -> (u64, u32) {
    let info = env.tree(Some(name)).unwrap().info;
    (info.root, info.depth)
}

/// Whether `check` reports a problem on `page` whose message contains `needle`.
#[track_caller]
fn assert_check_reports(path: &Path, page: Option<u64>, needle: &str) {
    let env = Env::builder().read_only(true).open(path).unwrap();
    let report = env.check().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| (page.is_none() || p.page == page) && p.message.contains(needle)),
        "check should report {needle:?} on {page:?}: {:?}",
        report.problems
    );
}

/// `write` on the database at `path` must fail with `Corrupted` (in an operation or at
/// commit), leave the file exactly as it was, and table `u` must read back whole.
#[track_caller]
fn assert_write_refused(
    path: &Path,
    write: impl FnOnce(&mut mdbx_lite::WriteTxn) -> mdbx_lite::Result<()>,
) -> String {
    let bytes = fs::read(path).unwrap();
    let env = Env::open(path).unwrap();
    let r = env.begin_write().and_then(|mut w| {
        write(&mut w)?;
        w.commit()
    });
    let what = match r {
        Err(Error::Corrupted { page, what, .. }) => format!("page {page}: {what}"),
        other => panic!("write should fail with Corrupted, got {other:?}"),
    };
    drop(env);
    assert!(
        fs::read(path).unwrap() == bytes,
        "the failed write changed the file"
    );
    let env = Env::builder().read_only(true).open(path).unwrap();
    let r = env.begin_read().unwrap();
    let u: Vec<(Vec<u8>, Vec<u8>)> = r
        .open_table("u")
        .unwrap()
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert!(u == u_entries(), "table u changed");
    what
}

fn rewrite_t(w: &mut mdbx_lite::WriteTxn) -> mdbx_lite::Result<()> {
    let mut t = w.open_table("t")?;
    for i in 0..400u64 {
        t.put(&t_key(i), &value(i + 9, 50))?;
    }
    Ok(())
}

/// The free-tree leaf holding chunk 0 of group `group`: (page, entry offset, entries).
fn free_chunk(env: &Env, group: u64) -> (u64, usize, Vec<(u64, u64)>) {
    let mut key = group.to_be_bytes().to_vec();
    key.extend_from_slice(&0u32.to_be_bytes());
    for s in env.pages().unwrap() {
        if s.owner != mdbx_lite::inspect::PageOwner::FreeTree
            || s.role != mdbx_lite::inspect::PageRole::Leaf
        {
            continue;
        }
        let info = env.page_info(s.pgno).unwrap();
        for e in &info.entries {
            if e.key == key {
                let mdbx_lite::inspect::EntryValue::Inline(v) = &e.value else {
                    panic!("free chunk in an overflow run");
                };
                let list = v
                    .chunks_exact(16)
                    .map(|c| (u64_at(c, 0), u64_at(c, 8)))
                    .collect();
                return (s.pgno, e.offset, list);
            }
        }
    }
    panic!("no free-tree chunk for group {group}");
}

/// A scratch directory holding the tables `t` and `u`, the file's bytes, and a read-only
/// environment on it.
fn pristine_t_and_u() -> (tempfile::TempDir, Vec<u8>, Env) {
    let dir = scratch_dir();
    let path = t_and_u(dir.path());
    let bytes = fs::read(&path).unwrap();
    let env = Env::builder().read_only(true).open(&path).unwrap();
    (dir, bytes, env)
}

/// The free tree lists the live root leaf of table `u`: a write to table `t` would take
/// it for `t`'s pages and destroy `u`.
#[test]
fn free_entry_naming_a_live_page_is_refused_by_writes() {
    let (dir, pristine, env) = pristine_t_and_u();
    let (u_root, u_depth) = table_root(&env, "u");
    assert_eq!(u_depth, 1);
    assert_eq!(
        env.page_info(u_root).unwrap().header.txnid,
        4,
        "u's root leaf is written by txn 4"
    );
    let before = dump(&env).unwrap();
    assert_eq!(before["u"], u_entries());
    // (group, birth) recorded for u's root leaf in place of a real free page:
    let cases = [
        // freed by 3, born in 2: the page (written by 4) would have to be a later
        // transaction's uncommitted write, but it is reachable;
        (3u64, 2u64),
        // freed by 4, born in 2: no page freed by 4 and born earlier can hold a page
        // header of txn 4;
        (4, 2),
        // freed by 3, born in 4: a birth after the freeing transaction.
        (3, 4),
    ];
    for (group, birth) in cases {
        let ctx = format!("u's root {u_root} listed free by txn {group}, born in {birth}");
        let mut bytes = pristine.clone();
        let (leaf, offset, mut list) = free_chunk(&env, group);
        list[0] = (u_root, birth);
        list.sort_unstable();
        let at = leaf as usize * PS + offset + 12 + 5;
        for (i, (p, b)) in list.iter().enumerate() {
            bytes[at + i * 16..at + i * 16 + 8].copy_from_slice(&p.to_le_bytes());
            bytes[at + i * 16 + 8..at + i * 16 + 16].copy_from_slice(&b.to_le_bytes());
        }
        seal_page(&mut bytes, leaf);
        let path = dir.path().join(format!("free-{group}-{birth}"));
        fs::write(&path, &bytes).unwrap();
        assert_check_reports(&path, Some(u_root), "both free and");
        let what = assert_write_refused(&path, rewrite_t);
        eprintln!("{ctx}: {what}");
    }
}

/// Meta transaction ids so high that the next commit cannot get a larger one.
#[test]
fn transaction_ids_that_cannot_advance_are_refused() {
    let (dir, pristine, env) = pristine_t_and_u();
    let before = dump(&env).unwrap();
    let head = env
        .metas()
        .unwrap()
        .into_iter()
        .find(|m| m.current)
        .unwrap();
    assert_eq!(env.last_txnid(), 4);
    drop(env);
    let (newest, older) = (head.slot as usize, 1 - head.slot as usize);
    let path = dir.path().join("ids");

    // Both metas at the very end of the id space (2^64 - 1 and 2^64 - 2; a commit on
    // them used to wrap to txn 0 and vanish): no meta is valid, so the file neither
    // opens nor is written.
    let mut bytes = pristine.clone();
    set_meta_txnid(&mut bytes, newest, u64::MAX);
    set_meta_txnid(&mut bytes, older, u64::MAX - 1);
    fs::write(&path, &bytes).unwrap();
    for read_only in [true, false] {
        match Env::builder().read_only(read_only).open(&path) {
            Err(Error::Corrupted { what, .. }) => {
                assert!(what.contains("transaction id"), "{what}")
            }
            other => panic!("open should fail: {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(fs::read(&path).unwrap(), bytes, "the file was written");

    // Only the older meta damaged so: it is invalid and does not win; the head stays in
    // charge, `check` names the bad slot, and the next commit replaces it.
    let mut bytes = pristine.clone();
    set_meta_txnid(&mut bytes, older, u64::MAX);
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(&path, Some(older as u64), "transaction id");
    {
        let env = Env::open(&path).unwrap();
        assert!(reads_back(&env, &before));
        let mut w = env.begin_write().unwrap();
        assert_eq!(w.id(), 5);
        w.open_table("u")
            .unwrap()
            .put(b"u/new", b"visible")
            .unwrap();
        w.commit().unwrap();
    }
    let env = Env::open(&path).unwrap();
    assert_eq!(env.last_txnid(), 5);
    let r = env.begin_read().unwrap();
    assert_eq!(
        r.open_table("u").unwrap().get(b"u/new").unwrap(),
        Some(&b"visible"[..])
    );
    drop(r);
    assert!(env.check().unwrap().is_ok());
    drop(env);

    // The head at the largest valid id: readable, but no commit can follow it.
    let max = u64::MAX / 2;
    let mut bytes = pristine.clone();
    set_meta_txnid(&mut bytes, newest, max);
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(
        &path,
        Some(newest as u64),
        "no later transaction can commit",
    );
    let what = assert_write_refused(&path, rewrite_t);
    assert!(what.contains("transaction id"), "{what}");
}

/// Two entries of a branch point at the same child: copying or freeing it through one
/// entry would leave the other pointing at a free page.
#[test]
fn subtree_reached_twice_is_refused_by_writes() {
    let dir = scratch_dir();
    let pristine_path = t_and_u(dir.path());
    let env = Env::builder().read_only(true).open(&pristine_path).unwrap();
    let (root, depth) = table_root(&env, "t");
    assert_eq!(depth, 2);
    drop(env);
    let mut bytes = fs::read(&pristine_path).unwrap();
    // Root entry 1 points at entry 0's child as well.
    let mut items = node_items(page_of(&mut bytes, root));
    assert!(items.len() >= 3);
    let first_child = items[0].1.clone();
    items[1].1 = first_child.clone();
    rebuild_node(&mut bytes, root, &items);
    let path = dir.path().join("twice");
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(&path, Some(u64_at(&first_child, 0)), "reachable twice");
    // A put below entry 0 copies the root, whose children are not distinct.
    assert_write_refused(&path, |w| w.open_table("t")?.put(&t_key(0), b"x"));
    // Dropping the table frees the shared leaf twice: the commit refuses.
    assert_write_refused(&path, |w| w.drop_table("t").map(|_| ()));
}

/// A leaf is the child of two branch pages, so the second parent's range does not hold
/// its keys: a write through that parent would put a key where no search finds it.
#[test]
fn page_reached_from_two_parents_is_refused_by_writes() {
    let dir = scratch_dir();
    let path = dir.path().join("deep");
    {
        let env = Env::builder().growth_step(4096).open(&path).unwrap();
        let mut w = env.begin_write().unwrap();
        {
            let mut d = w.create_table("d").unwrap();
            for i in 0..30_000u64 {
                d.put(format!("d{i:08}").as_bytes(), &value(i, 40)).unwrap();
            }
            let mut u = w.create_table("u").unwrap();
            for (k, v) in u_entries() {
                u.put(&k, &v).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let env = Env::builder().read_only(true).open(&path).unwrap();
    let (root, depth) = table_root(&env, "d");
    assert_eq!(depth, 3);
    drop(env);
    let mut bytes = fs::read(&path).unwrap();
    let top = node_items(page_of(&mut bytes, root));
    let (b1, b2) = (u64_at(&top[0].1, 0), u64_at(&top[1].1, 0));
    let shared = node_items(page_of(&mut bytes, b1))[1].1.clone();
    let mut second = node_items(page_of(&mut bytes, b2));
    second[1].1 = shared.clone();
    let sep = second[1].0.clone();
    rebuild_node(&mut bytes, b2, &second);
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(&path, Some(u64_at(&shared, 0)), "reachable twice");
    // The second parent's path leads to a leaf whose keys lie outside its range.
    assert_write_refused(&path, |w| w.open_table("d")?.put(&sep, b"x"));
}

/// Branch entry 0 (minus infinity) carries a key.
#[test]
fn branch_entry_zero_with_a_key_is_refused_by_writes() {
    let dir = scratch_dir();
    let path = t_and_u(dir.path());
    let env = Env::builder().read_only(true).open(&path).unwrap();
    let (root, _) = table_root(&env, "t");
    drop(env);
    let mut bytes = fs::read(&path).unwrap();
    let mut items = node_items(page_of(&mut bytes, root));
    assert!(items[0].0.is_empty());
    items[0].0 = b"t/".to_vec();
    rebuild_node(&mut bytes, root, &items);
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(&path, Some(root), "branch entry 0 has a key");
    let what = assert_write_refused(&path, |w| w.open_table("t")?.put(&t_key(1), b"x"));
    assert!(what.contains("entry 0"), "{what}");
}

/// The child index the library's branch search picks for `key` (see `Node::branch_index`):
/// the last entry from 1 on whose key is `<= key`, found by the same binary search.
fn branch_index(items: &[(Vec<u8>, Vec<u8>)], key: &[u8]) -> usize {
    let (mut lo, mut hi) = (1, items.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if items[mid].0.as_slice() > key {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo - 1
}

/// Two neighbouring separators of a branch are swapped: inserts next to them would
/// spread keys out of order.
#[test]
fn separators_out_of_order_are_refused_by_writes() {
    let dir = scratch_dir();
    let path = t_and_u(dir.path());
    let env = Env::builder().read_only(true).open(&path).unwrap();
    let (root, _) = table_root(&env, "t");
    drop(env);
    let mut bytes = fs::read(&path).unwrap();
    let mut items = node_items(page_of(&mut bytes, root));
    assert!(items.len() >= 5, "{} children", items.len());
    // Swap the separators of entries 2 and 3 (their children stay).
    let (k2, k3) = (items[2].0.clone(), items[3].0.clone());
    items[2].0 = k3;
    items[3].0 = k2;
    rebuild_node(&mut bytes, root, &items);
    fs::write(&path, &bytes).unwrap();
    assert_check_reports(&path, Some(root), "keys out of order");
    // Every key whose search ends next to the swapped pair is refused.
    let near: Vec<Vec<u8>> = (0..400)
        .map(t_key)
        .filter(|k| matches!(branch_index(&items, k), 1 | 3))
        .collect();
    assert!(!near.is_empty());
    for k in near.iter().step_by(9) {
        assert_write_refused(&path, |w| w.open_table("t")?.put(k, b"x"));
    }
}

/// `Error::Corrupted` says what kind of damage it found: a flipped byte under checksum
/// verification, a free tree that lists a live page, a file cut short.
#[test]
fn corruption_errors_carry_their_kind() {
    use mdbx_lite::Corruption;
    let kind_of = |r: mdbx_lite::Result<()>| match r {
        Err(Error::Corrupted { kind, .. }) => kind,
        other => panic!("expected Corrupted, got {other:?}"),
    };
    let (dir, pristine, env) = pristine_t_and_u();
    let (u_root, _) = table_root(&env, "u");
    let (leaf, offset, mut list) = free_chunk(&env, 3);
    let high_water = env
        .metas()
        .unwrap()
        .iter()
        .filter_map(|m| m.meta.as_ref().ok().map(|m| m.high_water))
        .max()
        .unwrap();
    drop(env);

    // A flipped byte in u's root leaf, read with checksum verification.
    let mut bytes = pristine.clone();
    bytes[u_root as usize * PS + PS - 1] ^= 0x40;
    let path = dir.path().join("flipped");
    fs::write(&path, &bytes).unwrap();
    let env = Env::builder()
        .read_only(true)
        .verify_checksums(true)
        .open(&path)
        .unwrap();
    let r = env.begin_read().unwrap();
    let key = &u_entries()[0].0;
    let got = r.open_table("u").and_then(|t| t.get(key).map(|_| ()));
    assert_eq!(kind_of(got), Corruption::Checksum);
    drop((r, env));

    // The free tree lists u's root leaf: a write that would reuse it is refused.
    let mut bytes = pristine.clone();
    list[0] = (u_root, 2);
    list.sort_unstable();
    let at = leaf as usize * PS + offset + 12 + 5;
    for (i, (p, b)) in list.iter().enumerate() {
        bytes[at + i * 16..at + i * 16 + 8].copy_from_slice(&p.to_le_bytes());
        bytes[at + i * 16 + 8..at + i * 16 + 16].copy_from_slice(&b.to_le_bytes());
    }
    seal_page(&mut bytes, leaf);
    let path = dir.path().join("listed");
    fs::write(&path, &bytes).unwrap();
    let env = Env::open(&path).unwrap();
    let got = env.begin_write().and_then(|mut w| {
        rewrite_t(&mut w)?;
        w.commit()
    });
    assert_eq!(kind_of(got), Corruption::FreeSpace);
    drop(env);

    // The file cut short of the pages its meta allocates.
    let path = dir.path().join("short");
    fs::write(&path, &pristine[..(high_water as usize - 1) * PS]).unwrap();
    let got = Env::builder().read_only(true).open(&path).map(|_| ());
    let e = got
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert_eq!(kind_of(got), Corruption::Bounds);
    assert!(
        e.contains("corrupted page") && e.contains("(bounds)"),
        "{e}"
    );
}
