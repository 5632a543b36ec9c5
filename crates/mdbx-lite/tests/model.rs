//! Model-based test: random operation sequences run against the engine and against a
//! `BTreeMap` per table; after every committed step the database must equal the model.
//!
//! Keys: short ones over a tiny alphabet (so operations hit the same keys), longer binary
//! ones, the empty key, keys under long shared stems (paths, a URL, a binary composite
//! key) with short tails that make them prefixes of one another, and keys of the
//! environment's maximum length that differ only in their last few bytes. Pages of
//! stemmed keys get long page prefixes; keys of another stem, or a stem cut short, make
//! inserts shorten them, and splits, merges and shifts rebuild them.
//!
//! Operations: put (small, near the inline limit, and occasionally up to ~200 KB so
//! overflow runs are written, freed and reused), `put_with(no_overwrite)`, `append`,
//! delete, bulk put / bulk delete (to force splits, merges and root collapses), clear,
//! create/drop of three named tables next to the main table, commit, abort, close and
//! reopen, `Env::sync`, range scans with random bounds, and a long-lived `ReadTxn` held
//! across several commits whose snapshot must not change.
//!
//! After every commit (and reopen): full forward and backward iteration, `get` of every
//! model key plus absent probes, `len`, `list_tables`, and `env.check()` without problems.

mod common;
use common::{pseudo_random_bytes, splitmix};

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;

use mdbx_lite::{Durability, Env, Error, PutFlags, Range, ReadTxn, TableMut, TableRead, WriteTxn};
use proptest::prelude::*;

/// Index 0 is the main table; 1..=3 are named tables.
const NAMES: [&str; 4] = ["<main>", "alpha", "beta", "gamma"];

/// Stems of 40 to 300 bytes. The first two share their first 28 bytes, so a page holding
/// both keeps that much of its prefix; the third shares nothing with them.
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

/// Tail bytes after a stem: `\0` (a tail of zeros is not told apart by a zero-padded
/// slot head), a separator, a letter and `\xff`.
const TAIL: &[u8] = b"\x00/a\xff";

/// The key of `len` bytes (at most the page size's maximum key) every maximum-length key
/// of a test starts from: the second stem, repeated.
fn long_base(len: usize) -> Vec<u8> {
    STEMS[1].iter().copied().cycle().take(len).collect()
}

/// The largest key an environment with pages of `page_size` bytes takes.
fn max_key_for(page_size: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::builder()
        .page_size(page_size)
        .open(dir.path().join("db"))
        .unwrap();
    env.max_key_size()
}

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug, PartialEq)]
struct Model {
    tables: [Option<Table>; 4],
}

impl Model {
    fn new() -> Model {
        Model {
            tables: [Some(Table::new()), None, None, None],
        }
    }

    fn names(&self) -> Vec<String> {
        (1..4)
            .filter(|&t| self.tables[t].is_some())
            .map(|t| NAMES[t].to_string())
            .collect()
    }
}

/// A value is given by its `seed` and `len` (its bytes are `pseudo_random_bytes(seed,
/// len)`), so ops stay small and shrinkable.
#[derive(Clone, Debug)]
enum Op {
    Put {
        t: usize,
        key: Vec<u8>,
        len: usize,
        seed: u64,
    },
    PutNoOverwrite {
        t: usize,
        key: Vec<u8>,
        len: usize,
        seed: u64,
    },
    /// Appends `suffix` to the table's last key when `bump` (usually a valid append),
    /// else appends `suffix` itself (usually refused with `KeyNotGreater`).
    Append {
        t: usize,
        suffix: Vec<u8>,
        bump: bool,
        len: usize,
        seed: u64,
    },
    Delete {
        t: usize,
        key: Vec<u8>,
    },
    /// `n` appends through one table handle (which skips the descent while the
    /// rightmost path holds), with, every `every` of them, a delete of the last key or an
    /// overwrite of an earlier one through the same handle (which drops that hint).
    AppendRun {
        t: usize,
        n: usize,
        every: usize,
        len: usize,
        seed: u64,
    },
    /// `n` puts of random keys over a wider alphabet (splits, deeper trees); when
    /// `stemmed`, of keys under the shared stems and of maximum-length keys (long page
    /// prefixes, shortened and rebuilt).
    BulkPut {
        t: usize,
        n: usize,
        seed: u64,
        stemmed: bool,
    },
    /// Delete roughly `pct`% of the table's keys (merges, root collapse).
    BulkDelete {
        t: usize,
        pct: u64,
        seed: u64,
    },
    Clear {
        t: usize,
    },
    Create {
        t: usize,
    },
    Drop {
        t: usize,
    },
    Commit,
    Abort,
    Reopen,
    Sync,
    HoldReader,
    ReleaseReader,
    Range {
        t: usize,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
    },
}

/// A stem, or (sometimes) a stem cut short, then a short tail.
fn stem_key_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        0..STEMS.len(),
        prop_oneof![6 => Just(None), 1 => any::<prop::sample::Index>().prop_map(Some)],
        prop::collection::vec(prop::sample::select(TAIL.to_vec()), 0..4),
    )
        .prop_map(|(s, cut, tail)| {
            let stem = STEMS[s];
            let end = cut.map_or(stem.len(), |c| c.index(stem.len() + 1));
            let mut k = stem[..end].to_vec();
            k.extend_from_slice(&tail);
            k
        })
}

/// Keys of `max` bytes or a few less, all alike but for their last few bytes.
fn max_key_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (
        0..5usize,
        prop::collection::vec(prop::sample::select(TAIL.to_vec()), 0..5),
    )
        .prop_map(move |(cut, mut tail)| {
            tail.truncate(cut);
            let mut k = long_base(max - cut);
            k.extend_from_slice(&tail);
            k
        })
}

/// Keys for environments whose maximum key is `max` bytes.
fn key_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(b"abc".to_vec()), 0..4),
        2 => prop::collection::vec(prop::sample::select(b"\x00ab\xffz".to_vec()), 0..64),
        1 => Just(Vec::new()),
        6 => stem_key_strategy(),
        2 => max_key_strategy(max),
    ]
}

fn len_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![
        12 => 0..40usize,
        // Around the inline limit (987 bytes next to a short key with 4 KiB pages).
        6 => 40..1_100usize,
        2 => 1_100..20_000usize,
        1 => 20_000..210_000usize,
    ]
}

fn bound_strategy(max: usize) -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key_strategy(max).prop_map(Bound::Included),
        2 => key_strategy(max).prop_map(Bound::Excluded),
    ]
}

/// Operations for environments whose maximum key is `max` bytes.
fn op_strategy(max: usize) -> impl Strategy<Value = Op> {
    let t = 0..4usize;
    let named = 1..4usize;
    prop_oneof![
        20 => (t.clone(), key_strategy(max), len_strategy(), any::<u64>())
            .prop_map(|(t, key, len, seed)| Op::Put { t, key, len, seed }),
        4 => (t.clone(), key_strategy(max), len_strategy(), any::<u64>())
            .prop_map(|(t, key, len, seed)| Op::PutNoOverwrite { t, key, len, seed }),
        3 => (t.clone(), key_strategy(max), any::<bool>(), len_strategy(), any::<u64>())
            .prop_map(|(t, suffix, bump, len, seed)| Op::Append { t, suffix, bump, len, seed }),
        10 => (t.clone(), key_strategy(max)).prop_map(|(t, key)| Op::Delete { t, key }),
        2 => (t.clone(), 1..600usize, 2..50usize, len_strategy(), any::<u64>())
            .prop_map(|(t, n, every, len, seed)| Op::AppendRun { t, n, every, len, seed }),
        3 => (t.clone(), 1..400usize, any::<u64>(), prop::bool::weighted(0.5))
            .prop_map(|(t, n, seed, stemmed)| Op::BulkPut { t, n, seed, stemmed }),
        2 => (t.clone(), 10..100u64, any::<u64>())
            .prop_map(|(t, pct, seed)| Op::BulkDelete { t, pct, seed }),
        1 => t.clone().prop_map(|t| Op::Clear { t }),
        3 => named.clone().prop_map(|t| Op::Create { t }),
        2 => named.prop_map(|t| Op::Drop { t }),
        8 => Just(Op::Commit),
        2 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Sync),
        2 => Just(Op::HoldReader),
        1 => Just(Op::ReleaseReader),
        4 => (t, bound_strategy(max), bound_strategy(max))
            .prop_map(|(t, lo, hi)| Op::Range { t, lo, hi }),
    ]
}

/// A `BulkPut` key from the random word `x`: mostly a stem and a tail of up to 7 bytes,
/// sometimes a stem cut short or a key of `max` bytes or a few less.
fn stemmed_key(x: u64, max: usize) -> Vec<u8> {
    let tail = |bits: u64, n: usize| (0..n).map(move |j| TAIL[((bits >> (2 * j)) & 3) as usize]);
    let mut k = match (x >> 4) % 16 {
        0 => {
            let cut = 1 + ((x >> 8) % 4) as usize;
            long_base(max - cut)
        }
        2 => {
            let stem = STEMS[(x % 3) as usize];
            stem[..((x >> 8) as usize % stem.len())].to_vec()
        }
        _ => STEMS[(x % 3) as usize].to_vec(),
    };
    let room = max - k.len();
    let n = (((x >> 12) % 8) as usize).min(room);
    k.extend(tail(x >> 16, n));
    k
}

/// One table's entries, read through the engine, compared with the model.
/// Every read of `tbl` (a read transaction's table or the write transaction's own view,
/// through `TableRead`) agrees with the model.
fn check_table(ctx: &str, tbl: &impl TableRead, want: &Table) {
    let get = |k: &[u8]| tbl.get(k);
    assert_eq!(tbl.len(), want.len() as u64, "{ctx}: len");
    assert_eq!(tbl.is_empty(), want.is_empty(), "{ctx}: is_empty");
    assert_eq!(tbl.stat().entries, want.len() as u64, "{ctx}: stat");
    let fwd: Vec<(&[u8], &[u8])> = tbl
        .iter()
        .map(|e| e.unwrap_or_else(|e| panic!("{ctx}: iteration failed: {e}")))
        .collect();
    same_entries(&format!("{ctx}: forward iteration"), &fwd, want.iter());
    let mut back: Vec<(&[u8], &[u8])> = tbl
        .iter()
        .rev()
        .map(|e| e.unwrap_or_else(|e| panic!("{ctx}: reverse iteration failed: {e}")))
        .collect();
    back.reverse();
    same_entries(&format!("{ctx}: backward iteration"), &back, want.iter());
    for (k, v) in want {
        let got = get(k).unwrap_or_else(|e| panic!("{ctx}: get {k:?} failed: {e}"));
        assert!(
            got == Some(&v[..]),
            "{ctx}: get {k:?}: got {:?} bytes, want {} bytes",
            got.map(|g| g.len()),
            v.len()
        );
        // A key just after an existing one is absent unless the model has it.
        let mut probe = k.clone();
        probe.push(0);
        let got = get(&probe).unwrap_or_else(|e| panic!("{ctx}: get failed: {e}"));
        assert_eq!(
            got,
            want.get(&probe).map(|v| &v[..]),
            "{ctx}: probe {probe:?}"
        );
    }
    for probe in [&b""[..], b"zzzz", b"\xff\xff\xff\xff\xff"] {
        let got = get(probe).unwrap_or_else(|e| panic!("{ctx}: get failed: {e}"));
        assert_eq!(
            got,
            want.get(probe).map(|v| &v[..]),
            "{ctx}: probe {probe:?}"
        );
    }
}

fn same_entries<'m>(
    ctx: &str,
    got: &[(&[u8], &[u8])],
    want: impl ExactSizeIterator<Item = (&'m Vec<u8>, &'m Vec<u8>)>,
) {
    let n = want.len();
    for (i, (k, v)) in want.enumerate() {
        let Some(&(gk, gv)) = got.get(i) else {
            panic!("{ctx}: only {} entries, want {n}", got.len());
        };
        assert!(
            gk == &k[..] && gv == &v[..],
            "{ctx}: entry {i}: got key {gk:?} ({} value bytes), want key {k:?} ({} value bytes)",
            gv.len(),
            v.len()
        );
    }
    assert_eq!(got.len(), n, "{ctx}: entry count");
}

fn verify_read(ctx: &str, r: &ReadTxn, m: &Model) {
    assert_eq!(r.list_tables().unwrap(), m.names(), "{ctx}: list_tables");
    for (t, want) in m.tables.iter().enumerate() {
        let ctx = format!("{ctx}: table {}", NAMES[t]);
        match want {
            None => assert!(
                matches!(r.open_table(NAMES[t]), Err(Error::TableNotFound(_))),
                "{ctx}: should not exist"
            ),
            Some(want) => {
                let tbl = if t == 0 {
                    r.main_table()
                } else {
                    r.open_table(NAMES[t])
                        .unwrap_or_else(|e| panic!("{ctx}: open: {e}"))
                };
                check_table(&ctx, &tbl, want);
            }
        }
    }
}

fn verify_write(ctx: &str, w: &mut WriteTxn, m: &Model) {
    assert_eq!(w.list_tables().unwrap(), m.names(), "{ctx}: list_tables");
    for (t, want) in m.tables.iter().enumerate() {
        let ctx = format!("{ctx}: table {} (in the write txn)", NAMES[t]);
        match want {
            None => assert!(
                matches!(w.open_table(NAMES[t]), Err(Error::TableNotFound(_))),
                "{ctx}: should not exist"
            ),
            Some(want) => {
                let tbl = table(w, t, false).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
                check_table(&ctx, &tbl, want);
            }
        }
    }
}

fn table(w: &mut WriteTxn, t: usize, create: bool) -> mdbx_lite::Result<TableMut<'_>> {
    if t == 0 {
        Ok(w.main_table())
    } else if create {
        w.create_table(NAMES[t])
    } else {
        w.open_table(NAMES[t])
    }
}

fn range_valid(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    use Bound::*;
    match (lo, hi) {
        (Included(a), Included(b)) => a <= b,
        (Included(a) | Excluded(a), Included(b) | Excluded(b)) => {
            a < b || (a == b && !matches!((lo, hi), (Excluded(_), Excluded(_))))
        }
        _ => true,
    }
}

/// Forward, backward and alternating (front/back interleaved) scans of `range`.
fn check_range<'a>(
    ctx: &str,
    range: impl Fn() -> Range<'a>,
    m: &Table,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) {
    let want: Vec<(&Vec<u8>, &Vec<u8>)> = if range_valid(lo, hi) {
        m.range::<Vec<u8>, _>((lo.clone(), hi.clone())).collect()
    } else {
        Vec::new()
    };
    let fwd: Vec<(&[u8], &[u8])> = range().map(|e| e.unwrap()).collect();
    same_entries(
        &format!("{ctx}: range {lo:?}..{hi:?} forward"),
        &fwd,
        want.iter().copied(),
    );
    let mut back: Vec<(&[u8], &[u8])> = range().rev().map(|e| e.unwrap()).collect();
    back.reverse();
    same_entries(
        &format!("{ctx}: range {lo:?}..{hi:?} backward"),
        &back,
        want.iter().copied(),
    );
    let mut it = range();
    let (mut front, mut tail) = (Vec::new(), Vec::new());
    let mut from_front = true;
    loop {
        let next = if from_front {
            it.next()
        } else {
            it.next_back()
        };
        match next {
            Some(e) => {
                let e = e.unwrap();
                if from_front {
                    front.push(e)
                } else {
                    tail.push(e)
                }
            }
            None => break,
        }
        from_front = !from_front;
    }
    // After the iterator ended, both ends stay ended.
    assert!(
        it.next().is_none() && it.next_back().is_none(),
        "{ctx}: range restarted"
    );
    tail.reverse();
    front.extend(tail);
    same_entries(
        &format!("{ctx}: range {lo:?}..{hi:?} alternating"),
        &front,
        want.iter().copied(),
    );
}

/// `op {i} {op:?}`, cut after 200 bytes (without formatting the rest: maximum-length
/// keys of 64 KiB pages print as tens of kilobytes).
fn capped_debug(i: usize, op: &Op) -> String {
    struct Capped(String);
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = 200usize.saturating_sub(self.0.len());
            if s.len() <= room {
                self.0.push_str(s);
                Ok(())
            } else {
                let cut = (0..=room)
                    .rev()
                    .find(|&n| s.is_char_boundary(n))
                    .unwrap_or(0);
                self.0.push_str(&s[..cut]);
                self.0.push_str("...");
                Err(std::fmt::Error)
            }
        }
    }
    let mut out = Capped(String::new());
    let _ = std::fmt::Write::write_fmt(&mut out, format_args!("op {i} {op:?}"));
    out.0
}

struct Runner {
    _dir: tempfile::TempDir,
    path: PathBuf,
    page_size: usize,
    durability: Durability,
    env: Option<Env>,
    w: Option<WriteTxn>,
    committed: Model,
    pending: Model,
    /// A long-lived reader, the model it must keep showing, and the commits it saw.
    reader: Option<(ReadTxn, Model, u32)>,
    commits: u64,
}

impl Runner {
    fn new(page_size: usize, durability: Durability) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut r = Runner {
            _dir: dir,
            path,
            page_size,
            durability,
            env: None,
            w: None,
            committed: Model::new(),
            pending: Model::new(),
            reader: None,
            commits: 0,
        };
        r.open();
        r
    }

    fn open(&mut self) {
        let env = Env::builder()
            .page_size(self.page_size)
            .durability(self.durability)
            .open(&self.path)
            .unwrap();
        assert_eq!(env.page_size(), self.page_size);
        self.env = Some(env);
    }

    fn env(&self) -> &Env {
        self.env.as_ref().unwrap()
    }

    fn w(&mut self) -> &mut WriteTxn {
        self.parts().0
    }

    /// The write transaction (begun on first use) and the pending model, borrowed apart.
    fn parts(&mut self) -> (&mut WriteTxn, &mut Model) {
        if self.w.is_none() {
            let w = self.env().begin_write().unwrap();
            self.w = Some(w);
        }
        (self.w.as_mut().unwrap(), &mut self.pending)
    }

    fn verify_committed(&self, ctx: &str) {
        let env = self.env();
        let r = env.begin_read().unwrap();
        verify_read(ctx, &r, &self.committed);
        let report = env.check().unwrap();
        assert!(report.is_ok(), "{ctx}: check: {:?}", report.problems);
        if let Some((reader, model, _)) = &self.reader {
            verify_read(&format!("{ctx}: long-lived reader"), reader, model);
        }
    }

    fn run(&mut self, i: usize, op: &Op) {
        let ctx = capped_debug(i, op);
        match op {
            Op::Put { t, key, len, seed } => {
                let v = pseudo_random_bytes(*seed, *len);
                let (w, pending) = self.parts();
                let mut tbl = table(w, *t, true).unwrap();
                tbl.put(key, &v).unwrap();
                assert_eq!(tbl.get(key).unwrap(), Some(&v[..]), "{ctx}: read own write");
                let m = pending.tables[*t].get_or_insert_with(Table::new);
                m.insert(key.clone(), v);
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::PutNoOverwrite { t, key, len, seed } => {
                let v = pseudo_random_bytes(*seed, *len);
                let flags = PutFlags {
                    no_overwrite: true,
                    ..PutFlags::default()
                };
                let exists = self.pending.tables[*t].is_some();
                let (w, pending) = self.parts();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                let m = pending.tables[*t].as_mut().unwrap();
                let r = tbl.put_with(key, &v, flags);
                match m.get(key) {
                    Some(old) => {
                        assert!(matches!(r, Err(Error::KeyExists)), "{ctx}: got {r:?}");
                        assert_eq!(tbl.get(key).unwrap(), Some(&old[..]), "{ctx}");
                    }
                    None => {
                        assert!(matches!(r, Ok(true)), "{ctx}: got {r:?}");
                        m.insert(key.clone(), v);
                    }
                }
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::Append {
                t,
                suffix,
                bump,
                len,
                seed,
            } => {
                let v = pseudo_random_bytes(*seed, *len);
                let exists = self.pending.tables[*t].is_some();
                let max = self.env().max_key_size();
                let key = match (&self.pending.tables[*t], bump) {
                    (Some(m), true) => {
                        let mut k = m.keys().next_back().cloned().unwrap_or_default();
                        k.extend_from_slice(suffix);
                        k.truncate(max);
                        k
                    }
                    _ => suffix.clone(),
                };
                let (w, pending) = self.parts();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                let m = pending.tables[*t].as_mut().unwrap();
                let greater = m.keys().next_back().is_none_or(|last| key > *last);
                let r = tbl.put_with(
                    &key,
                    &v,
                    PutFlags {
                        append: true,
                        ..PutFlags::default()
                    },
                );
                if greater {
                    assert!(matches!(r, Ok(true)), "{ctx}: key {key:?}: got {r:?}");
                    m.insert(key, v);
                } else {
                    assert!(
                        matches!(r, Err(Error::KeyNotGreater)),
                        "{ctx}: key {key:?}: got {r:?}"
                    );
                }
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::AppendRun {
                t,
                n,
                every,
                len,
                seed,
            } => {
                let exists = self.pending.tables[*t].is_some();
                let max = self.env().max_key_size();
                let (w, pending) = self.parts();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                let m = pending.tables[*t].as_mut().unwrap();
                let mut x = *seed | 1;
                for j in 0..*n {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Keys that grow: the last key and one more byte, or the last key
                    // with its last byte raised (shorter keys and shared prefixes).
                    let mut key = m.keys().next_back().cloned().unwrap_or_default();
                    match key.last_mut() {
                        Some(b) if *b < 255 && x % 3 == 0 => *b += 1,
                        _ => key.push((x >> 8) as u8),
                    }
                    if key.len() > max {
                        key.truncate(max);
                        if m.keys().next_back().is_some_and(|last| key <= *last) {
                            continue;
                        }
                    }
                    let vlen = if x % 17 == 0 { *len } else { (x % 64) as usize };
                    let v = pseudo_random_bytes(x, vlen);
                    let r = tbl.append(&key, &v);
                    assert!(r.is_ok(), "{ctx}: append {j} of {key:?}: {r:?}");
                    m.insert(key, v);
                    if j % every == every - 1 {
                        if x % 2 == 0 {
                            let last = m.keys().next_back().cloned().unwrap();
                            assert!(tbl.delete(&last).unwrap(), "{ctx}: delete {last:?}");
                            m.remove(&last);
                        } else {
                            let k = m.keys().nth((x as usize >> 3) % m.len()).cloned().unwrap();
                            tbl.put(&k, b"overwritten").unwrap();
                            m.insert(k, b"overwritten".to_vec());
                        }
                    }
                }
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
                let last = m.iter().next_back().map(|(k, v)| (k.clone(), v.clone()));
                if let Some((k, v)) = last {
                    assert_eq!(tbl.get(&k).unwrap(), Some(&v[..]), "{ctx}: last key");
                }
            }
            Op::Delete { t, key } => {
                let exists = self.pending.tables[*t].is_some();
                let (w, pending) = self.parts();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                let m = pending.tables[*t].as_mut().unwrap();
                let was = m.remove(key).is_some();
                assert_eq!(tbl.delete(key).unwrap(), was, "{ctx}: delete result");
                assert_eq!(tbl.get(key).unwrap(), None, "{ctx}");
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::BulkPut {
                t,
                n,
                seed,
                stemmed,
            } => {
                let max = self.env().max_key_size();
                let (w, pending) = self.parts();
                let mut tbl = table(w, *t, true).unwrap();
                let m = pending.tables[*t].get_or_insert_with(Table::new);
                let mut x = *seed;
                for _ in 0..*n {
                    x = splitmix(x);
                    let key = if *stemmed {
                        stemmed_key(x, max)
                    } else {
                        let klen = 1 + (x % 10) as usize;
                        (0..klen)
                            .map(|j| b"abcdefgh"[((x >> (8 + 3 * j)) & 7) as usize])
                            .collect()
                    };
                    x = splitmix(x);
                    let vlen = if x.is_multiple_of(16) {
                        (x >> 8) as usize % 3_000
                    } else {
                        (x >> 8) as usize % 300
                    };
                    let v = pseudo_random_bytes(x, vlen);
                    tbl.put(&key, &v).unwrap();
                    m.insert(key, v);
                }
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::BulkDelete { t, pct, seed } => {
                let exists = self.pending.tables[*t].is_some();
                let (w, pending) = self.parts();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                let m = pending.tables[*t].as_mut().unwrap();
                let doomed: Vec<Vec<u8>> = m
                    .keys()
                    .enumerate()
                    .filter(|(j, _)| splitmix(*seed ^ *j as u64) % 100 < *pct)
                    .map(|(_, k)| k.clone())
                    .collect();
                for k in doomed {
                    assert!(tbl.delete(&k).unwrap(), "{ctx}: delete {k:?}");
                    m.remove(&k);
                }
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::Clear { t } => {
                let exists = self.pending.tables[*t].is_some();
                let w = self.w();
                let mut tbl = match table(w, *t, false) {
                    Err(Error::TableNotFound(_)) if !exists => return,
                    other => other.unwrap(),
                };
                tbl.clear().unwrap();
                assert_eq!(tbl.len(), 0, "{ctx}");
                assert!(tbl.iter().next().is_none(), "{ctx}: entries after clear");
                self.pending.tables[*t] = Some(Table::new());
            }
            Op::Create { t } => {
                let (w, pending) = self.parts();
                let tbl = w.create_table(NAMES[*t]).unwrap();
                let m = pending.tables[*t].get_or_insert_with(Table::new);
                assert_eq!(tbl.len(), m.len() as u64, "{ctx}: len");
            }
            Op::Drop { t } => {
                let existed = self.pending.tables[*t].take().is_some();
                let w = self.w();
                assert_eq!(w.drop_table(NAMES[*t]).unwrap(), existed, "{ctx}");
                assert!(
                    matches!(w.open_table(NAMES[*t]), Err(Error::TableNotFound(_))),
                    "{ctx}: table still opens"
                );
            }
            Op::Commit => {
                let pending = self.pending.clone();
                let env = self.env().clone();
                let w = self.w();
                verify_write(&ctx, w, &pending);
                assert!(
                    matches!(env.try_begin_write(), Err(Error::Busy)),
                    "{ctx}: try_begin_write while a write txn is alive"
                );
                let id = w.id();
                self.w.take().unwrap().commit().unwrap();
                assert_eq!(self.env().last_txnid(), id, "{ctx}: txn id");
                self.committed = pending;
                self.commits += 1;
                if let Some((_, _, seen)) = &mut self.reader {
                    *seen += 1;
                }
                self.verify_committed(&ctx);
            }
            Op::Abort => {
                if let Some(w) = self.w.take() {
                    if i.is_multiple_of(2) {
                        w.abort();
                    } else {
                        drop(w);
                    }
                }
                self.pending = self.committed.clone();
                let r = self.env().begin_read().unwrap();
                verify_read(&ctx, &r, &self.committed);
            }
            Op::Reopen => {
                self.w = None;
                self.pending = self.committed.clone();
                if let Some((reader, model, _)) = self.reader.take() {
                    verify_read(&format!("{ctx}: long-lived reader"), &reader, &model);
                }
                self.env = None;
                if self.page_size != 4096 {
                    let r = Env::builder().page_size(4096).open(&self.path);
                    assert!(
                        matches!(r, Err(Error::PageSizeMismatch { .. })),
                        "{ctx}: wrong page size accepted"
                    );
                }
                if i.is_multiple_of(2) {
                    self.open();
                } else {
                    // Page size detected from the file.
                    let env = Env::builder()
                        .durability(self.durability)
                        .open(&self.path)
                        .unwrap();
                    assert_eq!(env.page_size(), self.page_size);
                    self.env = Some(env);
                }
                self.verify_committed(&ctx);
            }
            Op::Sync => self.env().sync().unwrap(),
            Op::HoldReader => {
                if self.reader.is_none() {
                    let r = self.env().begin_read().unwrap();
                    verify_read(&ctx, &r, &self.committed);
                    self.reader = Some((r, self.committed.clone(), 0));
                }
            }
            Op::ReleaseReader => {
                if let Some((r, m, _)) = self.reader.take() {
                    verify_read(&format!("{ctx}: long-lived reader"), &r, &m);
                }
            }
            Op::Range { t, lo, hi } => {
                if let Some(m) = &self.committed.tables[*t] {
                    let r = self.env().begin_read().unwrap();
                    let tbl = if *t == 0 {
                        r.main_table()
                    } else {
                        r.open_table(NAMES[*t]).unwrap()
                    };
                    check_range(
                        &format!("{ctx}: committed"),
                        || tbl.range((lo.clone(), hi.clone())),
                        m,
                        lo,
                        hi,
                    );
                }
                let pending = self.pending.tables[*t].clone();
                if let (Some(m), Some(w)) = (pending, self.w.as_mut()) {
                    let tbl = table(w, *t, false).unwrap();
                    check_range(
                        &format!("{ctx}: write txn"),
                        || tbl.range((lo.clone(), hi.clone())),
                        &m,
                        lo,
                        hi,
                    );
                }
            }
        }
    }

    fn finish(&mut self) {
        self.run(usize::MAX - 1, &Op::Commit);
        self.reader = None;
        self.run(usize::MAX - 1, &Op::Reopen);
    }
}

fn run_ops(page_size: usize, durability: Durability, ops: &[Op]) {
    let mut r = Runner::new(page_size, durability);
    for (i, op) in ops.iter().enumerate() {
        r.run(i, op);
    }
    r.finish();
}

fn durability_strategy() -> impl Strategy<Value = Durability> {
    prop_oneof![
        Just(Durability::NoSync),
        Just(Durability::NoMetaSync),
        Just(Durability::Full),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_4k(durability in durability_strategy(),
                ops in prop::collection::vec(op_strategy(max_key_for(4096)), 40..200)) {
        run_ops(4096, durability, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_large_pages((page_size, ops) in prop_oneof![Just(8192usize), Just(65536usize)]
                             .prop_flat_map(|ps| (
                                 Just(ps),
                                 prop::collection::vec(op_strategy(max_key_for(ps)), 40..200),
                             )),
                         durability in durability_strategy()) {
        run_ops(page_size, durability, &ops);
    }
}

/// A fixed scenario that always runs the long-lived reader across many commits that
/// rewrite, delete and clear what it sees (random cases reach this only sometimes).
#[test]
fn reader_snapshot_survives_rewrites() {
    let mut ops = vec![
        Op::BulkPut {
            t: 0,
            n: 600,
            seed: 1,
            stemmed: false,
        },
        Op::Create { t: 1 },
        Op::BulkPut {
            t: 1,
            n: 300,
            seed: 2,
            stemmed: false,
        },
        Op::Put {
            t: 1,
            key: b"big".to_vec(),
            len: 150_000,
            seed: 3,
        },
        Op::Commit,
        Op::HoldReader,
    ];
    for round in 0..12u64 {
        ops.push(Op::BulkDelete {
            t: 0,
            pct: 50,
            seed: round,
        });
        ops.push(Op::BulkPut {
            t: 0,
            n: 300,
            seed: 100 + round,
            stemmed: false,
        });
        ops.push(Op::Put {
            t: 1,
            key: b"big".to_vec(),
            len: 100_000 + round as usize,
            seed: round,
        });
        if round == 5 {
            ops.push(Op::Drop { t: 1 });
            ops.push(Op::Create { t: 1 });
        }
        ops.push(Op::Commit);
        ops.push(Op::Sync);
    }
    ops.push(Op::Clear { t: 0 });
    ops.push(Op::Commit);
    ops.push(Op::ReleaseReader);
    for d in [Durability::Full, Durability::NoMetaSync, Durability::NoSync] {
        run_ops(4096, d, &ops);
    }
}

/// The longest page prefix on any leaf and on any branch page of the latest snapshot
/// that holds more than two entries (one key alone is its page's prefix).
fn longest_prefixes(env: &Env) -> (usize, usize) {
    let (mut leaf, mut branch) = (0, 0);
    for p in env.pages().unwrap().filter(|p| p.entries > 2) {
        let longest = match p.role {
            mdbx_lite::inspect::PageRole::Leaf => &mut leaf,
            mdbx_lite::inspect::PageRole::Branch => &mut branch,
            _ => continue,
        };
        let info = env.page_info(p.pgno).unwrap();
        *longest = (*longest).max(usize::from(info.header.prefix_len));
    }
    (leaf, branch)
}

/// A fixed scenario over shared-prefix keys (random cases reach each step only
/// sometimes): trees deep enough that leaves and branches get long page prefixes, then
/// keys outside them (another stem, a stem cut short, the empty key, maximum-length
/// keys) inserted into those pages, then mass deletes that merge pages of different
/// stems, and refills.
#[test]
fn prefixed_pages_split_merge_and_shorten() {
    for page_size in [4096, 8192] {
        let max = max_key_for(page_size);
        let n = 150 * page_size / 1024;
        let mut r = Runner::new(page_size, Durability::NoSync);
        let mut i = 0;
        let mut run = |r: &mut Runner, op: Op| {
            r.run(i, &op);
            i += 1;
        };
        run(&mut r, Op::Create { t: 1 });
        for (t, seed) in [(0, 1), (1, 2)] {
            run(
                &mut r,
                Op::BulkPut {
                    t,
                    n,
                    seed,
                    stemmed: true,
                },
            );
        }
        run(&mut r, Op::Commit);
        let (leaf, branch) = longest_prefixes(r.env());
        assert!(
            leaf >= STEMS[1].len() && branch >= STEMS[0].len(),
            "{page_size}: longest prefixes: leaf {leaf}, branch {branch}"
        );
        // Keys that do not share the prefixes of the pages they land on.
        let mut outsiders = vec![Vec::new(), b"/home/user7/".to_vec(), b"\x00".to_vec()];
        for stem in STEMS {
            for cut in [1, stem.len() / 2, stem.len() - 1] {
                outsiders.push(stem[..cut].to_vec());
            }
            let mut k = stem.to_vec();
            k.push(b'0');
            outsiders.push(k);
        }
        for cut in 0..6 {
            outsiders.push(long_base(max - cut));
            let mut k = long_base(max - cut - 1);
            k.push(0xff);
            outsiders.push(k);
        }
        for (j, key) in outsiders.into_iter().enumerate() {
            run(
                &mut r,
                Op::Put {
                    t: j % 2,
                    key,
                    len: j * 37 % 200,
                    seed: j as u64,
                },
            );
        }
        run(&mut r, Op::Commit);
        for round in 0..4u64 {
            for t in 0..2 {
                run(
                    &mut r,
                    Op::BulkDelete {
                        t,
                        pct: 90,
                        seed: round * 2 + t as u64,
                    },
                );
            }
            run(&mut r, Op::Commit);
            run(
                &mut r,
                Op::BulkPut {
                    t: (round % 2) as usize,
                    n: n / 2,
                    seed: 10 + round,
                    stemmed: true,
                },
            );
            run(&mut r, Op::Commit);
        }
        r.finish();
    }
}

/// Regression (found by `model_4k`): a transaction that writes an overflow value and then
/// clears its table leaves the run's page and the leaf in the pool; the catalog takes one,
/// the free tree's copy-on-write takes the other while freeing the old free-tree leaf.
/// The free-space save compared `freed + pool` by their summed length, so it stopped
/// with a stale list: one page both free and in use, another leaked.
#[test]
fn free_save_with_pool_pages_taken_by_free_tree() {
    let put = |len| Op::Put {
        t: 1,
        key: vec![],
        len,
        seed: 0,
    };
    let ops = vec![
        put(0),
        Op::Commit,
        put(0),
        Op::Commit,
        put(1004),
        Op::Clear { t: 1 },
        Op::Commit,
    ];
    for d in [Durability::Full, Durability::NoMetaSync, Durability::NoSync] {
        run_ops(4096, d, &ops);
    }
}
