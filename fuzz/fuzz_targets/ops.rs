//! Operation sequences across several tables with commits, aborts, reopen and readers,
//! checked against a `BTreeMap` model after every commit.
//!
//! Two dup-sort tables, `d1` (plain dup-sort) and `d2` (dup-fixed), run against a
//! `BTreeMap<key, BTreeSet<value>>` model: pairs put one at a time or in runs long
//! enough to move a key into a nested tree (and runs of deletes to bring it back
//! inline), whole keys removed by range and pairs by a predicate, refusals (too large,
//! wrong size, kind mismatches), point reads, and cursor moves checked step by step
//! against a model cursor.
//!
//! Plain tables in every built-in key order run against the same model, sorted in
//! the table's order when compared: `t1`..`t3` bytewise, `rev` reverse (LMDB's
//! `REVERSEKEY`), `int` native-endian u64 keys (`INTEGERKEY`), `len` a user comparator. A typed table of
//! composite keys (`(&str, i64, Option<u8>) -> u64`) runs against a `BTreeMap` of those
//! types, written through its handle or through the typed table.
//!
//! Nested transactions (to any depth, each committed or aborted; the end of the input
//! drops the open ones) and savepoints (taken and rolled back to, any number of times)
//! run against a copy of the model per level, restored when the level is undone.
//!
//! The environment holds at most 64 dirty pages in memory: larger transactions write
//! their oldest pages early and read them back when they change them again.
//!
//! Persistent savepoints are taken and deleted at any level (a level undone takes its
//! savepoints back) and restored in a fresh write transaction; each names a copy of the
//! committed model, which a restore makes the model again. They survive reopen, and the
//! checker accounts for the pages they hold after every commit.
//!
//! A key is its input bytes, or those bytes after one of three long shared stems (whole
//! or cut short), or the last bytes of a key of the maximum length: pages of such keys
//! get long page prefixes, which keys of another stem shorten on insert.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mdbx_lite::{
    Comparator, DupCursor, DupSort, Env, Error, KeyOrder, Pair, PutFlags, ReadTxn, Savepoint,
    TableDef, WriteTxn,
};

/// The typed table and its key type.
type TypedKey = (String, i64, Option<u8>);
const TYPED: TableDef<(&str, i64, Option<u8>), u64> = TableDef::new("typed");
const TYPED_NAMES: [&str; 4] = ["", "alpha", "alphabet", "beta"];

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

/// A key from the input: `shape & 7` says how `tail` is used, `shape >> 3` picks the
/// stem or how much of it is kept.
#[derive(Arbitrary, Debug)]
struct Key {
    shape: u8,
    tail: Vec<u8>,
}

impl Key {
    /// The key's bytes, for an environment whose largest key is `max` bytes.
    fn bytes(&self, max: usize) -> Vec<u8> {
        let sel = usize::from(self.shape >> 3);
        let stem = STEMS[sel % STEMS.len()];
        // Length of a maximum-length-style key: `max` or up to 7 bytes less (shape 6),
        // `max` (shape 7), and one byte too many for the largest shape.
        let long = match (self.shape & 7, self.shape) {
            (_, 0xff) => Some(max + 1),
            (6, _) => Some(max - sel % 8),
            (7, _) => Some(max),
            _ => None,
        };
        let mut k = match (self.shape & 7, long) {
            (_, Some(len)) => {
                let n = self.tail.len().min(len);
                let mut k: Vec<u8> = STEMS[1].iter().copied().cycle().take(len - n).collect();
                k.extend_from_slice(&self.tail[..n]);
                return k;
            }
            (0..=2, _) => Vec::new(),
            (3 | 4, _) => stem.to_vec(),
            // A stem cut short: a key that sorts among the stem's keys without sharing
            // the whole stem.
            _ => stem[..(sel / 3) * stem.len() / 11].to_vec(),
        };
        k.extend_from_slice(&self.tail);
        k
    }
}

/// A value for a dup-sort table: `shape` picks its length, `n` its last (up to 8)
/// bytes, big-endian so that values sort as their numbers do.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Val {
    shape: u8,
    n: u64,
}

impl Val {
    /// The value's bytes in a dup-fixed (`fixed`) or plain dup-sort table whose largest
    /// value is `max` bytes. Dup-fixed values have 8 bytes unless the shape asks for a
    /// misfit; the largest shape is one byte too many for either kind.
    fn bytes(&self, fixed: bool, max: usize) -> Vec<u8> {
        let len = match self.shape {
            0xff => max + 1,
            0xfe => max,
            s @ 0xf8..=0xfd => usize::from(s - 0xf8) * 3,
            _ if fixed => 8,
            s if s & 0x80 != 0 => usize::from(s & 0x7f) * 4,
            s => usize::from(s % 9),
        };
        let be = self.n.to_be_bytes();
        if len <= 8 {
            return be[8 - len..].to_vec();
        }
        let mut v = vec![self.shape; len - 8];
        v.extend_from_slice(&be);
        v
    }

    /// The `i`th value of a run starting at this one, `step + 1` apart (values shorter
    /// than 8 bytes wrap, so a long run repeats some).
    fn nth(&self, i: u64, step: u8) -> Val {
        Val {
            shape: self.shape,
            n: self.n.wrapping_add(i.wrapping_mul(u64::from(step) + 1)),
        }
    }
}

/// A key of a dup-sort op: generated, one of the model table's keys (by index,
/// wrapping), or the key just after one (a 0 byte appended).
#[derive(Arbitrary, Debug)]
enum KeyRef {
    Gen(Key),
    Existing(u16),
    After(u16),
}

impl KeyRef {
    fn resolve(&self, m: Option<&DupModel>, max: usize) -> Vec<u8> {
        let pick = |i: u16| -> Vec<u8> {
            match m {
                Some(m) if !m.map.is_empty() => m
                    .map
                    .keys()
                    .nth(usize::from(i) % m.map.len())
                    .unwrap()
                    .clone(),
                _ => Vec::new(),
            }
        };
        match self {
            KeyRef::Gen(k) => k.bytes(max),
            KeyRef::Existing(i) => pick(*i),
            KeyRef::After(i) => {
                let mut k = pick(*i);
                k.push(0);
                k
            }
        }
    }
}

/// A value of a dup-sort op: generated, one of the key's values in the model (by index,
/// wrapping), or the value just after one (a 0 byte appended).
#[derive(Arbitrary, Debug)]
enum ValRef {
    Gen(Val),
    Existing(u16),
    After(u16),
}

impl ValRef {
    fn resolve(&self, m: Option<&DupModel>, key: &[u8], fixed: bool, max: usize) -> Vec<u8> {
        let pick = |i: u16| -> Vec<u8> {
            match m.and_then(|m| m.map.get(key)) {
                Some(s) => s.iter().nth(usize::from(i) % s.len()).unwrap().clone(),
                None => Vec::new(),
            }
        };
        match self {
            ValRef::Gen(v) => v.bytes(fixed, max),
            ValRef::Existing(i) => pick(*i),
            ValRef::After(i) => {
                let mut v = pick(*i);
                v.push(0);
                v
            }
        }
    }
}

/// A dup cursor move; `Steps` is up to 31 `next` (or `prev`) in a row.
#[derive(Arbitrary, Debug)]
enum Move {
    First,
    Last,
    Next,
    Prev,
    NextDup,
    PrevDup,
    FirstDup,
    LastDup,
    NextKey,
    PrevKey,
    SeekKey(KeyRef),
    SeekValue(KeyRef, ValRef),
    SeekPair(KeyRef, ValRef),
    Steps(bool, u8),
    /// `get_multiple` (false) or `next_multiple` (true): a run of a dup-fixed key's
    /// values as one slice.
    Multiple(bool),
}

/// A step of a writing cursor.
#[derive(Arbitrary, Debug)]
enum CursorAct {
    Next,
    Prev,
    Seek(Key),
    Delete,
    Put { len: u16, fill: u8 },
    Insert { key: Key, fill: u8 },
}

/// A step of a writing cursor over a dup-sort table's pairs.
#[derive(Arbitrary, Debug)]
enum DupCursorAct {
    Next,
    Prev,
    Delete,
    Put { key: KeyRef, val: ValRef },
}

/// Where a model dup-sort cursor stands (`DupCursorMut`'s positions).
#[derive(Clone, Debug)]
enum PairPos {
    Unset,
    On((Vec<u8>, Vec<u8>)),
    Gap((Vec<u8>, Vec<u8>)),
    End,
    Start,
}

/// The pair a model dup-sort cursor moves to from `at`.
fn pair_move(s: &BTreeSet<(Vec<u8>, Vec<u8>)>, at: &PairPos, forward: bool) -> PairPos {
    let found = match (at, forward) {
        (PairPos::Unset | PairPos::Start, true) => s.iter().next().cloned(),
        (PairPos::End, true) | (PairPos::Start, false) => None,
        (PairPos::Unset | PairPos::End, false) => s.iter().next_back().cloned(),
        (PairPos::On(p) | PairPos::Gap(p), true) => s
            .range::<(Vec<u8>, Vec<u8>), _>((Bound::Excluded(p), Bound::Unbounded))
            .next()
            .cloned(),
        (PairPos::On(p) | PairPos::Gap(p), false) => s.range(..p.clone()).next_back().cloned(),
    };
    match found {
        Some(p) => PairPos::On(p),
        None if forward => PairPos::End,
        None => PairPos::Start,
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Put {
        table: u8,
        key: Key,
        len: u16,
        fill: u8,
    },
    PutLarge {
        table: u8,
        key: Key,
        pages: u8,
    },
    PutNoOverwrite {
        table: u8,
        key: Key,
        fill: u8,
    },
    Delete {
        table: u8,
        key: Key,
    },
    DeleteRange {
        table: u8,
        from: Key,
        count: u8,
    },
    Clear {
        table: u8,
    },
    Drop {
        table: u8,
    },
    Commit,
    Abort,
    Reopen,
    HoldReader,
    ReleaseReader,
    DupPut {
        table: u8,
        key: KeyRef,
        val: ValRef,
        unique: bool,
    },
    /// Up to 511 values put under one key: enough to move it into a nested tree.
    DupPutRun {
        table: u8,
        key: KeyRef,
        first: Val,
        count: u16,
        step: u8,
        unique: bool,
    },
    DupDelete {
        table: u8,
        key: KeyRef,
        val: ValRef,
    },
    /// Up to 511 of the key's values from `from` on deleted, back down to a block.
    DupDeleteRun {
        table: u8,
        key: KeyRef,
        from: ValRef,
        count: u16,
    },
    /// The values a `DupPutRun` would put, deleted (some may be absent).
    DupDeleteGenRun {
        table: u8,
        key: KeyRef,
        first: Val,
        count: u16,
        step: u8,
    },
    DupDeleteKey {
        table: u8,
        key: KeyRef,
    },
    /// Moves, puts and deletes of a writing cursor over dup-sort table `table % 2`.
    DupCursorWrites {
        table: u8,
        acts: Vec<DupCursorAct>,
    },
    /// `delete_range` of the keys between two keys, or (`retain` given) `retain` of
    /// the pairs whose value bytes' xor has that bit clear.
    DupSweep {
        table: u8,
        from: KeyRef,
        to: KeyRef,
        retain: Option<u8>,
    },
    DupClear {
        table: u8,
    },
    DupDrop {
        table: u8,
    },
    DupRead {
        table: u8,
        key: KeyRef,
        val: ValRef,
    },
    DupMoves {
        table: u8,
        moves: Vec<Move>,
    },
    DupVerify {
        table: u8,
    },
    KindMisuse {
        which: u8,
        table: u8,
    },
    /// One-pass removals in a bytewise table: `delete_range` (0), `drain` (1) from
    /// `from` over `count` entries of the model (all after `from` when 255), or `retain`
    /// (2) keeping values whose length has bit `count % 8` clear.
    Sweep {
        table: u8,
        from: Key,
        count: u8,
        how: u8,
    },
    /// A value reserved and filled in place (`pages` > 0: that many pages' worth, an
    /// overflow run held in memory until commit).
    Reserve {
        table: u8,
        key: Key,
        len: u16,
        pages: u8,
        fill: u8,
    },
    /// `pop_first` / `pop_last` in a bytewise table.
    Pop {
        table: u8,
        last: bool,
    },
    /// A writing cursor's walk over a bytewise table, checked step by step against a
    /// model cursor.
    CursorWrites {
        table: u8,
        acts: Vec<CursorAct>,
    },
    /// Begin a nested transaction; the ops up to its `NestedEnd` run in it.
    Nested,
    NestedEnd {
        commit: bool,
    },
    /// Take a savepoint in the current (nested) transaction.
    Savepoint,
    /// Roll back to one of the current transaction's savepoints.
    RollbackTo {
        which: u8,
    },
    /// Name the last commit's state persistent savepoint `p{slot % 4}`.
    PSave {
        slot: u8,
    },
    /// Delete persistent savepoint `p{slot % 4}`.
    PDelete {
        slot: u8,
    },
    /// Restore persistent savepoint `p{slot % 4}` in a fresh write transaction (inside a
    /// nested one: refused).
    PRestore {
        slot: u8,
    },
    /// A put (or delete) in the typed table, through its handle or the typed table.
    Typed {
        name: u8,
        time: i16,
        seq: Option<u8>,
        value: u64,
        delete: bool,
        via_handle: bool,
    },
}

type Model = BTreeMap<u8, BTreeMap<Vec<u8>, Vec<u8>>>;

/// One dup-sort table's model.
#[derive(Clone, Debug, Default)]
struct DupModel {
    map: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
    /// A dup-fixed table's value size once its first value is in (`clear` keeps it).
    fixed: Option<usize>,
}

impl DupModel {
    fn flat(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.map
            .iter()
            .flat_map(|(k, s)| s.iter().map(move |v| (k.clone(), v.clone())))
            .collect()
    }

    fn pairs(&self) -> u64 {
        self.map.values().map(|s| s.len() as u64).sum()
    }

    /// The refusal putting (`key`, `value`) must meet, in the order the library checks.
    fn refusal(&self, fixed: bool, key: &[u8], value: &[u8], max: usize) -> Option<Refused> {
        if key.len() > max_dup_key(max) {
            Some(Refused::Key)
        } else if value.len() > max {
            Some(Refused::TooLarge)
        } else if fixed && (value.is_empty() || self.fixed.is_some_and(|f| f != value.len())) {
            Some(Refused::Size(self.fixed.unwrap_or(0)))
        } else {
            None
        }
    }

    fn insert(&mut self, fixed: bool, key: &[u8], value: &[u8]) -> bool {
        if fixed && self.fixed.is_none() {
            self.fixed = Some(value.len());
        }
        self.map
            .entry(key.to_vec())
            .or_default()
            .insert(value.to_vec())
    }

    fn remove(&mut self, key: &[u8], value: &[u8]) -> bool {
        let Some(s) = self.map.get_mut(key) else {
            return false;
        };
        let gone = s.remove(value);
        if s.is_empty() {
            self.map.remove(key);
        }
        gone
    }
}

/// The longest dup-sort key, for an environment whose longest key is `max` bytes: room
/// is kept beside it for a nested tree's 48-byte record (`Env::max_dup_key_size`).
fn max_dup_key(max: usize) -> usize {
    max - 24
}

#[derive(Clone, Copy, Debug)]
enum Refused {
    Key,
    TooLarge,
    Size(usize),
}

fn assert_refused(e: &Error, want: Refused, key: &[u8], value: &[u8], max: usize) {
    match (want, e) {
        (Refused::Key, Error::KeyTooLarge { len, max: m }) => {
            assert_eq!((*len, *m), (key.len(), max_dup_key(max)))
        }
        (Refused::TooLarge, Error::DupValueTooLarge { len, max: m }) => {
            assert_eq!((*len, *m), (value.len(), max))
        }
        (Refused::Size(x), Error::DupValueSize { len, expected }) => {
            assert_eq!((*len, *expected), (value.len(), x))
        }
        _ => panic!("expected {want:?}, got {e}"),
    }
}

/// Everything the database should hold: plain tables by number (0 is the main table)
/// and the dup-sort tables `d1` (0) and `d2` (1, dup-fixed).
#[derive(Clone, Debug, Default)]
struct Db {
    plain: Model,
    dups: BTreeMap<u8, DupModel>,
    typed: BTreeMap<TypedKey, u64>,
    /// Persistent savepoints: name -> the state it names (without savepoints).
    psaves: BTreeMap<String, Db>,
}

fn psave_name(slot: u8) -> String {
    format!("p{}", slot % 4)
}

/// Persistent savepoint ops inside a transaction whose last commit is `base`.
fn apply_psave(w: &mut WriteTxn, db: &mut Db, base: &Db, op: Op) {
    match op {
        Op::PSave { slot } => {
            let name = psave_name(slot);
            match w.persistent_savepoint(&name) {
                Ok(id) => {
                    assert!(!db.psaves.contains_key(&name), "{name} made twice");
                    assert_eq!(id + 1, w.id());
                    let mut state = base.clone();
                    state.psaves.clear();
                    db.psaves.insert(name, state);
                }
                Err(Error::SavepointExists(n)) => {
                    assert!(db.psaves.contains_key(&n), "{n} does not exist")
                }
                Err(e) => panic!("persistent_savepoint: {e}"),
            }
        }
        Op::PDelete { slot } => {
            let name = psave_name(slot);
            let gone = w
                .delete_persistent_savepoint(&name)
                .expect("delete savepoint");
            assert_eq!(gone, db.psaves.remove(&name).is_some());
        }
        Op::PRestore { slot } => {
            // Inside a nested transaction.
            let e = w.restore_persistent_savepoint(&psave_name(slot));
            assert!(matches!(e, Err(Error::Invalid(_))), "{e:?}");
        }
        _ => {}
    }
}

/// Plain tables: 0 the main table, 1..=3 bytewise, 4 reverse, 5 integer keys, 6 a
/// user comparator.
const PLAIN_TABLES: u8 = 7;

/// Shorter keys first, then bytewise.
fn by_length(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
const BY_LENGTH: Comparator = Comparator::new("by-length", by_length);

fn table_name(t: u8) -> Option<String> {
    match t % PLAIN_TABLES {
        0 => None,
        4 => Some("rev".into()),
        5 => Some("int".into()),
        6 => Some("len".into()),
        n => Some(format!("t{n}")),
    }
}

fn table_order(t: u8) -> KeyOrder {
    match t % PLAIN_TABLES {
        4 => KeyOrder::Reverse,
        5 => KeyOrder::Integer,
        6 => KeyOrder::Custom(BY_LENGTH),
        _ => KeyOrder::Bytes,
    }
}

/// The key a generated key is in table `t`: an integer table's keys are 8 bytes (the
/// generated key's last 8, zero-padded in front).
fn table_key(t: u8, key: Vec<u8>) -> Vec<u8> {
    if table_order(t) != KeyOrder::Integer {
        return key;
    }
    let mut k = [0u8; 8];
    let tail = &key[key.len().saturating_sub(8)..];
    k[8 - tail.len()..].copy_from_slice(tail);
    k.to_vec()
}

fn dup_name(d: u8) -> &'static str {
    ["d1", "d2"][usize::from(d % 2)]
}

fn dup_kind(d: u8) -> DupSort {
    if d % 2 == 1 {
        DupSort::new().fixed()
    } else {
        DupSort::new()
    }
}

fn kind_text(kind: DupSort) -> &'static str {
    if kind.is_fixed() {
        "dup-sort, dup-fixed"
    } else {
        "dup-sort"
    }
}

type Owned = (Vec<u8>, Vec<u8>);

fn owned(p: Option<Pair<'_>>) -> Option<Owned> {
    p.map(|(k, v)| (k.to_vec(), v.to_vec()))
}

/// Pairs from `step` until it gives None, at most `limit + 1` of them.
fn collect(limit: usize, mut step: impl FnMut() -> Option<Owned>) -> Vec<Owned> {
    let mut out = Vec::new();
    for _ in 0..=limit {
        match step() {
            Some(p) => out.push(p),
            None => break,
        }
    }
    out
}

/// Whole-table cursor walks against the model: pair by pair both ways (from an
/// unpositioned cursor and from `first`/`last`), and key by key both ways with
/// `count`, `first_dup` and `last_dup` at every key.
fn check_walks<'a>(mut cursor: impl FnMut() -> DupCursor<'a>, m: &DupModel) {
    let flat = m.flat();
    let n = flat.len();
    let mut rev = flat.clone();
    rev.reverse();
    let mut c = cursor();
    assert_eq!(collect(n, || owned(c.next().expect("next"))), flat, "next");
    assert_eq!(owned(c.current().expect("current")), None);
    let mut c = cursor();
    let mut first = owned(c.first().expect("first"));
    let mut fwd = collect(n, || {
        first.take().or_else(|| owned(c.next().expect("next")))
    });
    assert_eq!(fwd, flat, "first, next");
    let mut c = cursor();
    assert_eq!(collect(n, || owned(c.prev().expect("prev"))), rev, "prev");
    let mut c = cursor();
    let mut last = owned(c.last().expect("last"));
    fwd = collect(n, || last.take().or_else(|| owned(c.prev().expect("prev"))));
    assert_eq!(fwd, rev, "last, prev");

    let keys: Vec<(&Vec<u8>, &BTreeSet<Vec<u8>>)> = m.map.iter().collect();
    let head = |(k, s): (&Vec<u8>, &BTreeSet<Vec<u8>>)| (k.clone(), s.first().unwrap().clone());
    let tail = |(k, s): (&Vec<u8>, &BTreeSet<Vec<u8>>)| (k.clone(), s.last().unwrap().clone());
    let mut c = cursor();
    let mut got = owned(c.first().expect("first"));
    for (i, &(k, s)) in keys.iter().enumerate() {
        assert_eq!(got, Some(head((k, s))), "next_key");
        assert_eq!(c.count().expect("count"), s.len() as u64);
        if i % 2 == 1 {
            assert_eq!(owned(c.last_dup().expect("last_dup")), Some(tail((k, s))));
        }
        got = owned(c.next_key().expect("next_key"));
    }
    assert_eq!(got, None, "next_key past the last key");
    let mut c = cursor();
    let mut got = owned(c.last().expect("last"));
    for (i, &(k, s)) in keys.iter().rev().enumerate() {
        assert_eq!(got, Some(tail((k, s))), "prev_key");
        if i % 2 == 1 {
            assert_eq!(owned(c.first_dup().expect("first_dup")), Some(head((k, s))));
        }
        got = owned(c.prev_key().expect("prev_key"));
    }
    assert_eq!(got, None, "prev_key before the first key");
}

/// Cursor moves checked one by one against a model cursor (`pos`: key index, value
/// index). Moves the library leaves undefined from an unpositioned cursor (those within
/// or from the current key) are skipped there.
fn run_moves(mut c: DupCursor<'_>, m: &DupModel, fixed: bool, moves: &[Move], max: usize) {
    let keys: Vec<(&Vec<u8>, Vec<&Vec<u8>>)> =
        m.map.iter().map(|(k, s)| (k, s.iter().collect())).collect();
    let n = keys.len();
    let last_of = |i: usize| keys[i].1.len() - 1;
    let at = |p: Option<(usize, usize)>| p.map(|(i, j)| (keys[i].0.clone(), keys[i].1[j].clone()));
    let first = (n > 0).then_some((0, 0));
    let last = n.checked_sub(1).map(|i| (i, last_of(i)));
    let mut pos: Option<(usize, usize)> = None;
    let mut plan: Vec<&Move> = Vec::new();
    for mv in moves.iter().take(64) {
        match mv {
            Move::Steps(fwd, k) => {
                let one = if *fwd { &Move::Next } else { &Move::Prev };
                plan.extend(std::iter::repeat(one).take(usize::from(k % 32)));
            }
            mv => plan.push(mv),
        }
    }
    for mv in plan {
        if let Move::Multiple(next) = mv {
            let r = if *next {
                c.next_multiple()
            } else {
                c.get_multiple()
            };
            let r = r.map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec())));
            match (fixed, pos) {
                (false, _) => assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}"),
                (true, None) => assert_eq!(r.expect("multiple"), None),
                (true, Some((i, j))) => {
                    // A run starts at the current value (the next one for `next`) and
                    // holds values of that key in order; the cursor ends on its last.
                    let start = if *next { j + 1 } else { j };
                    let run = r.expect("multiple");
                    if start > last_of(i) {
                        assert_eq!(run, None, "a run past the key's last value");
                    } else {
                        let (k, v) = run.expect("a run");
                        assert_eq!(&k, keys[i].0);
                        let size = keys[i].1[0].len();
                        assert!(!v.is_empty() && v.len() % size == 0);
                        let end = start + v.len() / size;
                        assert!(end <= keys[i].1.len(), "a run past the key's values");
                        let want: Vec<u8> = keys[i].1[start..end]
                            .iter()
                            .flat_map(|x| x.iter().copied())
                            .collect();
                        assert_eq!(v, want, "run of {mv:?}");
                        pos = Some((i, end - 1));
                    }
                }
            }
            assert_eq!(
                owned(c.current().expect("current")),
                at(pos),
                "after {mv:?}"
            );
            continue;
        }
        // What the move returns, and where the cursor stands after it.
        let (got, want, new) = match (mv, pos) {
            (Move::First, _) => (c.first(), first, first),
            (Move::Last, _) => (c.last(), last, last),
            (Move::Next, None) => (c.next(), first, first),
            (Move::Next, Some((i, j))) => {
                let p = if j < last_of(i) {
                    Some((i, j + 1))
                } else if i + 1 < n {
                    Some((i + 1, 0))
                } else {
                    None
                };
                (c.next(), p, p)
            }
            (Move::Prev, None) => (c.prev(), last, last),
            (Move::Prev, Some((i, j))) => {
                let p = if j > 0 {
                    Some((i, j - 1))
                } else if i > 0 {
                    Some((i - 1, last_of(i - 1)))
                } else {
                    None
                };
                (c.prev(), p, p)
            }
            (Move::NextDup, Some((i, j))) if j < last_of(i) => {
                (c.next_dup(), Some((i, j + 1)), Some((i, j + 1)))
            }
            (Move::NextDup, p) => (c.next_dup(), None, p),
            (Move::PrevDup, Some((i, j))) if j > 0 => {
                (c.prev_dup(), Some((i, j - 1)), Some((i, j - 1)))
            }
            (Move::PrevDup, p) => (c.prev_dup(), None, p),
            (Move::FirstDup | Move::LastDup | Move::NextKey | Move::PrevKey, None) => continue,
            (Move::FirstDup, Some((i, _))) => (c.first_dup(), Some((i, 0)), Some((i, 0))),
            (Move::LastDup, Some((i, _))) => {
                let p = Some((i, last_of(i)));
                (c.last_dup(), p, p)
            }
            (Move::NextKey, Some((i, _))) => {
                let p = (i + 1 < n).then_some((i + 1, 0));
                (c.next_key(), p, p)
            }
            (Move::PrevKey, Some((i, _))) => {
                let p = (i > 0).then(|| (i - 1, last_of(i - 1)));
                (c.prev_key(), p, p)
            }
            (Move::SeekKey(k), _) => {
                let k = k.resolve(Some(m), max);
                let i = keys.partition_point(|(kk, _)| kk.as_slice() < k.as_slice());
                let p = (i < n).then_some((i, 0));
                (c.seek_key(&k), p, p)
            }
            (Move::SeekValue(k, v) | Move::SeekPair(k, v), _) => {
                let k = k.resolve(Some(m), max);
                let v = v.resolve(Some(m), &k, fixed, max);
                let exact = matches!(mv, Move::SeekPair(..));
                let p = keys
                    .binary_search_by(|(kk, _)| kk.as_slice().cmp(k.as_slice()))
                    .ok()
                    .and_then(|i| {
                        let vals = &keys[i].1;
                        let j = vals.partition_point(|x| x.as_slice() < v.as_slice());
                        let hit = j < vals.len() && (!exact || vals[j].as_slice() == v.as_slice());
                        hit.then_some((i, j))
                    });
                let got = if exact {
                    c.seek_pair(&k, &v)
                } else {
                    c.seek_value(&k, &v)
                };
                (got, p, p)
            }
            (Move::Steps(..) | Move::Multiple(_), _) => unreachable!(),
        };
        assert_eq!(owned(got.expect("move")), at(want), "{mv:?} from {pos:?}");
        pos = new;
        assert_eq!(
            owned(c.current().expect("current")),
            at(pos),
            "after {mv:?}"
        );
        let count = pos.map_or(0, |(i, _)| keys[i].1.len() as u64);
        assert_eq!(c.count().expect("count"), count, "count after {mv:?}");
    }
}

/// Every read of a dup-sort table (a `DupTable` or a `DupTableMut`) against the model
/// `m` of table `d`.
macro_rules! check_dup {
    ($tab:expr, $m:expr, $d:expr) => {{
        let tab = &$tab;
        let m: &DupModel = $m;
        let flat = m.flat();
        assert_eq!(tab.len(), flat.len() as u64, "pairs");
        assert_eq!(tab.is_empty(), flat.is_empty());
        let st = tab.stat();
        assert_eq!(
            (st.entries, st.keys),
            (flat.len() as u64, m.map.len() as u64)
        );
        assert_eq!(st.dup_sort, Some(dup_kind($d)));
        assert_eq!(st.kind, kind_text(dup_kind($d)));
        assert_eq!(st.fixed_value_size, m.fixed.unwrap_or(0));
        let got: Vec<Owned> = tab
            .iter()
            .map(|e| owned(Some(e.expect("iter"))).unwrap())
            .collect();
        assert_eq!(got, flat, "iter");
        for (k, s) in &m.map {
            let vals: Vec<Vec<u8>> = tab
                .values(k)
                .expect("values")
                .map(|v| v.expect("values").to_vec())
                .collect();
            assert!(vals.iter().eq(s.iter()), "values of {k:?}");
            assert_eq!(tab.count(k).expect("count"), s.len() as u64);
            assert_eq!(tab.get(k).expect("get"), s.first().map(Vec::as_slice));
            assert!(tab.contains(k, s.last().unwrap()).expect("contains"));
        }
        if let (Some(mid), Some(end)) = (m.map.keys().nth(m.map.len() / 2), m.map.keys().last()) {
            let range = |r: Vec<Result<Pair<'_>, Error>>| -> Vec<Owned> {
                r.into_iter()
                    .map(|e| owned(Some(e.expect("range"))).unwrap())
                    .collect()
            };
            let want = |f: &dyn Fn(&[u8]) -> bool| -> Vec<Owned> {
                flat.iter().filter(|(k, _)| f(k)).cloned().collect()
            };
            let mid = mid.as_slice();
            let after: Vec<u8> = [mid, &[0]].concat();
            let got = range(tab.range(mid..).collect());
            assert_eq!(got, want(&|k| k >= mid), "range mid..");
            let got = range(tab.range(..mid).collect());
            assert_eq!(got, want(&|k| k < mid), "range ..mid");
            let got = range(tab.range(..=mid).collect());
            assert_eq!(got, want(&|k| k <= mid), "range ..=mid");
            let got = range(
                tab.range::<&[u8], _>((Bound::Excluded(mid), Bound::Unbounded))
                    .collect(),
            );
            assert_eq!(got, want(&|k| k > mid), "range (mid, ..)");
            let got = range(tab.range(after.as_slice()..=end.as_slice()).collect());
            assert_eq!(
                got,
                want(&|k| k >= after.as_slice()),
                "range after mid..=end"
            );
        }
        check_walks(|| tab.cursor(), m);
    }};
}

/// The dup-sort tables of a read transaction against the model, and a dup-sort table
/// opened as a plain one.
fn verify_dups(r: &ReadTxn, db: &Db) {
    for d in 0..2u8 {
        let name = dup_name(d);
        match (r.open_dup_table(name), db.dups.get(&d)) {
            (Ok(tab), Some(m)) => check_dup!(tab, m, d),
            (Ok(_), None) => panic!("{name} exists, not in the model"),
            (Err(Error::TableNotFound(n)), None) => assert_eq!(n, name),
            (Err(e), _) => panic!("open_dup_table {name}: {e}"),
        }
        match r.open_table(name) {
            Err(Error::TableKindMismatch {
                table,
                stored,
                requested,
            }) => {
                assert!(db.dups.contains_key(&d), "{name} is not in the model");
                assert_eq!(
                    (table.as_str(), stored.as_str()),
                    (name, kind_text(dup_kind(d)))
                );
                assert_eq!(requested, "plain");
            }
            Err(Error::TableNotFound(_)) => assert!(!db.dups.contains_key(&d)),
            Err(e) => panic!("open_table {name}: {e}"),
            Ok(_) => panic!("dup-sort table {name} opened as plain"),
        }
    }
}

fn verify(env: &Env, db: &Db) {
    let model = &db.plain;
    let r = env.begin_read().expect("begin_read");
    let names: Vec<String> = r
        .persistent_savepoints()
        .expect("savepoints")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, db.psaves.keys().cloned().collect::<Vec<_>>());
    for t in 0..PLAIN_TABLES {
        let expected = model.get(&t);
        let table = match table_name(t) {
            None => Some(r.main_table()),
            Some(n) => match r.open_table_with(&n, table_order(t)) {
                Ok(t) => Some(t),
                Err(Error::TableNotFound(_)) => None,
                Err(e) => panic!("open_table: {e}"),
            },
        };
        if let Some(n) = table_name(t) {
            match r.open_dup_table(&n) {
                Err(Error::TableKindMismatch {
                    table: tn, stored, ..
                }) => {
                    assert!(table.is_some(), "{n} is missing");
                    assert_eq!((tn.as_str(), stored.as_str()), (n.as_str(), "plain"));
                }
                Err(Error::TableNotFound(_)) => assert!(table.is_none(), "{n} exists"),
                Err(e) => panic!("open_dup_table {n}: {e}"),
                Ok(_) => panic!("plain table {n} opened as dup-sort"),
            }
        }
        match (table, expected) {
            (None, None) => {}
            (None, Some(m)) => assert!(m.is_empty() && t != 0, "table {t} missing"),
            (Some(tab), m) => {
                let empty = BTreeMap::new();
                let m = m.unwrap_or(&empty);
                assert_eq!(tab.len(), m.len() as u64);
                let got: Vec<(Vec<u8>, Vec<u8>)> = tab
                    .iter()
                    .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter"))
                    .collect();
                let mut want: Vec<(Vec<u8>, Vec<u8>)> =
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let order = table_order(t);
                want.sort_by(|a, b| order.compare(&a.0, &b.0));
                assert_eq!(got, want);
            }
        }
    }
    verify_dups(&r, db);
    verify_typed(&r, db);
    let report = env.check().expect("check");
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// The environment under test, with the smallest dirty limit (64 pages): larger
/// transactions write their oldest pages early and read them back.
fn open_env(path: &std::path::Path) -> mdbx_lite::Result<Env> {
    Env::builder().dirty_limit(0).open(path)
}

fuzz_target!(|ops: Vec<Op>| {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut env = open_env(&path).expect("open");
    let max = env.max_key_size();
    assert_eq!(env.max_dup_key_size(), max_dup_key(max));
    let mut committed = Db::default();
    committed.plain.insert(0, BTreeMap::new());
    let mut pending = committed.clone();
    let mut wtx = None;
    let mut savepoints = Vec::new();
    let mut reader: Option<(ReadTxn, Db)> = None;
    let mut ops = ops.into_iter().take(200);
    while let Some(op) = ops.next() {
        if matches!(
            op,
            Op::Commit | Op::Abort | Op::Reopen | Op::PRestore { .. }
        ) {
            savepoints.clear();
        }
        match op {
            Op::Commit => {
                if let Some(w) = wtx.take() {
                    WriteTxn::commit(w).expect("commit");
                    committed = pending.clone();
                    verify(&env, &committed);
                }
            }
            Op::Abort => {
                wtx = None;
                pending = committed.clone();
            }
            Op::Reopen => {
                wtx = None;
                reader = None;
                pending = committed.clone();
                drop(env);
                env = open_env(&path).expect("reopen");
                verify(&env, &committed);
            }
            Op::HoldReader => {
                reader = Some((env.begin_read().expect("reader"), committed.clone()));
            }
            Op::PRestore { slot } => {
                // First thing in a fresh transaction (the open one aborts first).
                drop(wtx.take());
                let mut w = env.begin_write().expect("begin_write");
                let name = psave_name(slot);
                match w.restore_persistent_savepoint(&name) {
                    Ok(()) => {
                        let mut state = committed.psaves[&name].clone();
                        state.psaves = committed.psaves.clone();
                        pending = state;
                    }
                    Err(Error::SavepointNotFound(n)) => {
                        assert!(!committed.psaves.contains_key(&n), "{n} exists");
                        pending = committed.clone();
                    }
                    Err(e) => panic!("restore: {e}"),
                }
                wtx = Some(w);
            }
            Op::ReleaseReader => {
                if let Some((r, snapshot)) = reader.take() {
                    let main: Vec<Vec<u8>> = r
                        .main_table()
                        .iter()
                        .map(|e| e.expect("iter").0.to_vec())
                        .collect();
                    let want: Vec<Vec<u8>> = snapshot.plain[&0].keys().cloned().collect();
                    assert_eq!(main, want, "snapshot changed under a reader");
                    verify_dups(&r, &snapshot);
                }
            }
            op => {
                let w = match &mut wtx {
                    Some(w) => w,
                    None => wtx.insert(env.begin_write().expect("begin_write")),
                };
                match op {
                    Op::Nested => nested(w, &mut pending, &committed, &mut ops, max, 1),
                    op => apply_level(w, &mut pending, &committed, &mut savepoints, op, max),
                }
            }
        }
    }
});

/// Where a model cursor stands (`CursorMut`'s positions).
#[derive(Clone, Debug)]
enum Pos {
    Unset,
    On(Vec<u8>),
    Gap(Vec<u8>),
    End,
    Start,
}

/// The model cursor's move over `m`.
fn model_move(m: &BTreeMap<Vec<u8>, Vec<u8>>, at: &Pos, forward: bool) -> Pos {
    let found = match (at, forward) {
        (Pos::Unset | Pos::Start, true) => m.keys().next().cloned(),
        (Pos::End, true) | (Pos::Start, false) => None,
        (Pos::Unset | Pos::End, false) => m.keys().next_back().cloned(),
        (Pos::On(k) | Pos::Gap(k), true) => m
            .range::<Vec<u8>, _>((Bound::Excluded(k), Bound::Unbounded))
            .next()
            .map(|(k, _)| k.clone()),
        (Pos::On(k) | Pos::Gap(k), false) => m
            .range::<Vec<u8>, _>(..k)
            .next_back()
            .map(|(k, _)| k.clone()),
    };
    match found {
        Some(k) => Pos::On(k),
        None if forward => Pos::End,
        None => Pos::Start,
    }
}

/// The write conveniences and writing cursors, on the bytewise tables (0 to 3), whose
/// model sorts as they do.
fn apply_write_api(w: &mut WriteTxn, db: &mut Db, op: Op, max: usize) {
    let bytewise = |t: u8| t % 4;
    match op {
        Op::Sweep {
            table,
            from,
            count,
            how,
        } => {
            let t = bytewise(table);
            if t != 0 && !db.plain.contains_key(&t) {
                return;
            }
            let from = from.bytes(max);
            let m = db.plain.entry(t).or_default();
            let mut tab = open(w, t).expect("table");
            if how % 3 == 2 {
                let bit = count % 8;
                let keep = |v: &[u8]| v.len() >> bit & 1 == 0;
                let before = m.len();
                m.retain(|_, v| keep(v));
                let removed = tab.retain(|_, v| keep(v)).expect("retain");
                assert_eq!(removed as usize, before - m.len(), "retain");
                return;
            }
            let end: Option<Vec<u8>> = if count == 255 {
                None
            } else {
                m.range(from.clone()..)
                    .nth(usize::from(count))
                    .map(|(k, _)| k.clone())
            };
            let range = (
                Bound::Included(from.clone()),
                end.clone().map_or(Bound::Unbounded, Bound::Excluded),
            );
            let doomed: Vec<(Vec<u8>, Vec<u8>)> = m
                .range(range.clone())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (k, _) in &doomed {
                m.remove(k);
            }
            if how % 3 == 0 {
                let n = tab.delete_range(range).expect("delete_range");
                assert_eq!(n as usize, doomed.len(), "delete_range");
            } else {
                let mut seen = Vec::new();
                let n = tab
                    .drain(range, |k, v| seen.push((k.to_vec(), v.to_vec())))
                    .expect("drain");
                assert_eq!(n as usize, doomed.len(), "drain");
                assert!(seen == doomed, "drain handed out other entries");
            }
        }
        Op::Reserve {
            table,
            key,
            len,
            pages,
            fill,
        } => {
            let t = bytewise(table);
            let key = key.bytes(max);
            let len = usize::from(len) % 3000 + usize::from(pages % 8) * 4096;
            let mut tab = open(w, t).expect("table");
            // `open` creates the table even when the reservation is refused.
            let m = db.plain.entry(t).or_default();
            match tab.reserve(&key, len) {
                Ok(buf) => {
                    assert!(buf.iter().all(|&b| b == 0), "reservation not zeroed");
                    buf.fill(fill);
                    m.insert(key, vec![fill; len]);
                }
                Err(Error::KeyTooLarge { .. }) => assert!(key.len() > max),
                Err(e) => panic!("reserve: {e}"),
            }
        }
        Op::Pop { table, last } => {
            let t = bytewise(table);
            if t != 0 && !db.plain.contains_key(&t) {
                return;
            }
            let m = db.plain.entry(t).or_default();
            let mut tab = open(w, t).expect("table");
            let (got, want) = if last {
                (tab.pop_last().expect("pop_last"), m.pop_last())
            } else {
                (tab.pop_first().expect("pop_first"), m.pop_first())
            };
            assert_eq!(got, want, "pop");
        }
        Op::CursorWrites { table, acts } => {
            let t = bytewise(table);
            if t != 0 && !db.plain.contains_key(&t) {
                return;
            }
            let m = db.plain.entry(t).or_default();
            let mut tab = open(w, t).expect("table");
            let mut c = tab.cursor_mut();
            let mut at = Pos::Unset;
            for act in acts.into_iter().take(64) {
                match act {
                    CursorAct::Next | CursorAct::Prev => {
                        let forward = matches!(act, CursorAct::Next);
                        at = model_move(m, &at, forward);
                        let got = if forward { c.next() } else { c.prev() };
                        let got = got
                            .expect("cursor move")
                            .map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let want = match &at {
                            Pos::On(k) => Some((k.clone(), m[k].clone())),
                            _ => None,
                        };
                        assert_eq!(got, want, "cursor move");
                    }
                    CursorAct::Seek(key) => {
                        let k = key.bytes(max);
                        let got = c.seek(&k).expect("seek").map(|(k, _)| k.to_vec());
                        let want = m.range(k..).next().map(|(k, _)| k.clone());
                        at = want.clone().map_or(Pos::End, Pos::On);
                        assert_eq!(got, want, "cursor seek");
                    }
                    CursorAct::Delete => match &at {
                        Pos::On(k) => {
                            c.delete_current().expect("delete_current");
                            m.remove(k);
                            at = Pos::Gap(k.clone());
                        }
                        _ => assert!(c.delete_current().is_err(), "delete off an entry"),
                    },
                    CursorAct::Put { len, fill } => {
                        let v = vec![fill; usize::from(len) % 3000];
                        match &at {
                            Pos::On(k) => {
                                c.put_current(&v).expect("put_current");
                                m.insert(k.clone(), v);
                            }
                            _ => assert!(c.put_current(&v).is_err(), "put off an entry"),
                        }
                    }
                    CursorAct::Insert { key, fill } => {
                        let (k, v) = (key.bytes(max), vec![fill; 40]);
                        match c.insert(&k, &v) {
                            Ok(()) => {
                                m.insert(k.clone(), v);
                                at = Pos::On(k);
                            }
                            Err(Error::KeyTooLarge { .. }) => assert!(k.len() > max),
                            Err(e) => panic!("cursor insert: {e}"),
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// The most nested transactions open at once.
const MAX_NESTING: usize = 6;

/// Run the ops up to the matching `NestedEnd` in a nested transaction of `w` (at
/// `depth`), its model a copy of `db`; its commit makes the copy `db`. Ops that end the
/// outer transaction (commit, abort, reopen, readers) are skipped inside it.
fn nested(
    w: &mut WriteTxn,
    db: &mut Db,
    base: &Db,
    ops: &mut impl Iterator<Item = Op>,
    max: usize,
    depth: usize,
) {
    let mut child = w.begin_nested().expect("begin_nested");
    let mut child_db = db.clone();
    let mut savepoints = Vec::new();
    while let Some(op) = ops.next() {
        match op {
            Op::NestedEnd { commit } => {
                drop(savepoints);
                if commit {
                    child.commit().expect("nested commit");
                    *db = child_db;
                } else {
                    child.abort().expect("nested abort");
                }
                return;
            }
            Op::Nested if depth < MAX_NESTING => {
                nested(&mut child, &mut child_db, base, ops, max, depth + 1);
            }
            Op::Nested | Op::Commit | Op::Abort | Op::Reopen => {}
            Op::HoldReader | Op::ReleaseReader => {}
            op => apply_level(&mut child, &mut child_db, base, &mut savepoints, op, max),
        }
    }
    // The input ended: the nested transaction is dropped, undoing its changes.
}

/// One op in a (nested) transaction whose savepoints are `savepoints`, each with the
/// model as it was when taken.
fn apply_level(
    w: &mut WriteTxn,
    db: &mut Db,
    base: &Db,
    savepoints: &mut Vec<(Savepoint, Db)>,
    op: Op,
    max: usize,
) {
    match op {
        Op::Savepoint => savepoints.push((w.savepoint().expect("savepoint"), db.clone())),
        Op::RollbackTo { which } => {
            if savepoints.is_empty() {
                return;
            }
            let i = usize::from(which) % savepoints.len();
            w.rollback_to(&savepoints[i].0).expect("rollback_to");
            savepoints.truncate(i + 1);
            *db = savepoints[i].1.clone();
        }
        Op::NestedEnd { .. } => {}
        op @ (Op::PSave { .. } | Op::PDelete { .. } | Op::PRestore { .. }) => {
            apply_psave(w, db, base, op)
        }
        op => apply(w, db, op, max),
    }
}

fn open(w: &mut WriteTxn, t: u8) -> Option<mdbx_lite::TableMut<'_>> {
    match table_name(t) {
        None => Some(w.main_table()),
        Some(n) => Some(
            w.create_table_with(&n, table_order(t))
                .expect("create_table"),
        ),
    }
}

/// The typed table agrees with its model: a whole walk, and a lookup of every key.
fn verify_typed(r: &ReadTxn, db: &Db) {
    let t = match r.open(&TYPED) {
        Ok(t) => t,
        Err(Error::TableNotFound(_)) => {
            assert!(db.typed.is_empty(), "typed table missing");
            return;
        }
        Err(e) => panic!("open typed: {e}"),
    };
    let got: Vec<(TypedKey, u64)> = t
        .iter()
        .map(|e| {
            e.map(|((n, t, s), v)| ((n.to_string(), t, s), v))
                .expect("typed iter")
        })
        .collect();
    let want: Vec<(TypedKey, u64)> = db.typed.iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(got, want, "typed table");
    for ((n, time, seq), v) in &db.typed {
        assert_eq!(
            t.get((n.as_str(), *time, *seq)).expect("typed get"),
            Some(*v)
        );
    }
}

fn apply_typed(w: &mut WriteTxn, db: &mut Db, op: Op) {
    let Op::Typed {
        name,
        time,
        seq,
        value,
        delete,
        via_handle,
    } = op
    else {
        return;
    };
    let name = TYPED_NAMES[usize::from(name) % TYPED_NAMES.len()];
    let key = (name, i64::from(time) * 1_000_003, seq);
    let model_key = (name.to_string(), key.1, seq);
    if delete {
        let existed = db.typed.remove(&model_key).is_some();
        let deleted = if via_handle {
            let h = w.handle(&TYPED).expect("handle");
            h.delete(w, key).expect("typed delete")
        } else {
            w.create(&TYPED)
                .expect("typed")
                .delete(key)
                .expect("typed delete")
        };
        assert_eq!(deleted, existed);
    } else {
        if via_handle {
            let h = w.handle(&TYPED).expect("handle");
            // The value read back through the handle, then overwritten.
            let old = h.get(w, key).expect("typed get");
            assert_eq!(old, db.typed.get(&model_key).copied());
            h.put(w, key, value).expect("typed put");
        } else {
            w.create(&TYPED)
                .expect("typed")
                .put(key, value)
                .expect("typed put");
        }
        db.typed.insert(model_key, value);
    }
}

fn apply(w: &mut WriteTxn, db: &mut Db, op: Op, max: usize) {
    let model = &mut db.plain;
    let table_of = |t: u8| t % PLAIN_TABLES;
    match op {
        Op::Put {
            table,
            key,
            len,
            fill,
        } => {
            let t = table_of(table);
            let key = table_key(t, key.bytes(max));
            let value = vec![fill; len as usize % 3000];
            match open(w, t).expect("table").put(&key, &value) {
                Ok(()) => {
                    model.entry(t).or_default().insert(key, value);
                }
                Err(Error::KeyTooLarge { .. }) => {
                    // `open` created the table before the put failed: it exists, empty.
                    model.entry(t).or_default();
                    assert!(key.len() > max, "KeyTooLarge for {} bytes", key.len())
                }
                Err(e) => panic!("put: {e}"),
            }
        }
        Op::PutLarge { table, key, pages } => {
            let t = table_of(table);
            let key = table_key(t, key.bytes(max));
            let value = vec![pages; (pages as usize % 40) * 4096 + 5];
            match open(w, t).expect("table").put(&key, &value) {
                Ok(()) => {
                    model.entry(t).or_default().insert(key, value);
                }
                Err(Error::KeyTooLarge { .. }) => {
                    // `open` created the table before the put failed: it exists, empty.
                    model.entry(t).or_default();
                    assert!(key.len() > max, "KeyTooLarge for {} bytes", key.len())
                }
                Err(e) => panic!("put large: {e}"),
            }
        }
        Op::PutNoOverwrite { table, key, fill } => {
            let t = table_of(table);
            let key = table_key(t, key.bytes(max));
            let flags = PutFlags {
                no_overwrite: true,
                ..PutFlags::default()
            };
            let exists = model.get(&t).is_some_and(|m| m.contains_key(&key));
            match open(w, t).expect("table").put_with(&key, &[fill], flags) {
                Ok(_) => {
                    assert!(!exists);
                    model.entry(t).or_default().insert(key, vec![fill]);
                }
                Err(Error::KeyExists) => assert!(exists),
                Err(Error::KeyTooLarge { .. }) => {
                    // `open` created the table before the put failed: it exists, empty.
                    model.entry(t).or_default();
                    assert!(key.len() > max, "KeyTooLarge for {} bytes", key.len())
                }
                Err(e) => panic!("put_with: {e}"),
            }
        }
        Op::Delete { table, key } => {
            let t = table_of(table);
            let key = table_key(t, key.bytes(max));
            let existed = model.get_mut(&t).and_then(|m| m.remove(&key)).is_some();
            if t != 0 && !model.contains_key(&t) {
                return;
            }
            let mut tab = open(w, t).expect("table");
            model.entry(t).or_default();
            assert_eq!(tab.delete(&key).expect("delete"), existed);
        }
        op @ (Op::Sweep { .. } | Op::Pop { .. } | Op::CursorWrites { .. } | Op::Reserve { .. }) => {
            apply_write_api(w, db, op, max)
        }
        Op::DeleteRange { table, from, count } => {
            let t = table_of(table);
            let from = table_key(t, from.bytes(max));
            let keys: Vec<Vec<u8>> = model
                .get(&t)
                .map(|m| {
                    m.range(from..)
                        .take(count as usize)
                        .map(|(k, _)| k.clone())
                        .collect()
                })
                .unwrap_or_default();
            if keys.is_empty() {
                return;
            }
            let mut tab = open(w, t).expect("table");
            for k in keys {
                assert!(tab.delete(&k).expect("delete"));
                model.get_mut(&t).map(|m| m.remove(&k));
            }
        }
        Op::Clear { table } => {
            let t = table_of(table);
            if t != 0 && !model.contains_key(&t) {
                return;
            }
            open(w, t).expect("table").clear().expect("clear");
            model.insert(t, BTreeMap::new());
        }
        Op::Drop { table } => {
            let t = table_of(table);
            if let Some(name) = table_name(t) {
                let existed = model.remove(&t).is_some();
                assert_eq!(w.drop_table(&name).expect("drop"), existed);
            }
        }
        op @ Op::Typed { .. } => apply_typed(w, db, op),
        _ => apply_dup(w, db, op, max),
    }
}

/// Table `d`, created (in the model too) if it does not exist.
fn dup_create<'w>(w: &'w mut WriteTxn, db: &mut Db, d: u8) -> mdbx_lite::DupTableMut<'w> {
    db.dups.entry(d).or_default();
    w.create_dup_table(dup_name(d), dup_kind(d))
        .expect("create_dup_table")
}

/// Table `d` if the model has it; otherwise `open_dup_table` must not find it.
fn dup_open<'w>(w: &'w mut WriteTxn, db: &Db, d: u8) -> Option<mdbx_lite::DupTableMut<'w>> {
    match (w.open_dup_table(dup_name(d)), db.dups.contains_key(&d)) {
        (Ok(tab), true) => Some(tab),
        (Err(Error::TableNotFound(n)), false) => {
            assert_eq!(n, dup_name(d));
            None
        }
        (Ok(_), false) => panic!("{} exists, not in the model", dup_name(d)),
        (Err(e), _) => panic!("open_dup_table {}: {e}", dup_name(d)),
    }
}

/// Put one pair, checking the answer against the model and updating it; false if the
/// put was refused (a refusal changes nothing).
fn dup_put(
    tab: &mut mdbx_lite::DupTableMut<'_>,
    m: &mut DupModel,
    d: u8,
    pair: (&[u8], &[u8]),
    unique: bool,
    max: usize,
) -> bool {
    let (key, value) = pair;
    let fixed = d == 1;
    let refusal = m.refusal(fixed, key, value, max);
    let present = m.map.get(key).is_some_and(|s| s.contains(value));
    let got = if unique {
        tab.put_unique(key, value).map(|()| true)
    } else {
        tab.put(key, value)
    };
    match (got, refusal) {
        (Err(e), Some(want)) => {
            assert_refused(&e, want, key, value, max);
            assert_eq!(tab.len(), m.pairs(), "a refused put changed the pairs");
            let count = m.map.get(key).map_or(0, |s| s.len() as u64);
            if key.len() <= max_dup_key(max) {
                assert_eq!(tab.count(key).expect("count"), count);
                assert!(!tab.contains(key, value).expect("contains"));
            }
            assert_eq!(tab.stat().fixed_value_size, m.fixed.unwrap_or(0));
            return false;
        }
        (Err(Error::KeyExists), None) => assert!(unique && present, "KeyExists for a new pair"),
        (Ok(new), None) => {
            assert_eq!(new, !present, "put's answer");
            assert!(!(unique && present), "put_unique of a present pair");
            assert_eq!(m.insert(fixed, key, value), new);
        }
        (Ok(_), Some(want)) => panic!("put accepted, expected {want:?}"),
        (Err(e), None) => panic!("put: {e}"),
    }
    assert!(tab.contains(key, value).expect("contains"));
    true
}

fn apply_dup(w: &mut WriteTxn, db: &mut Db, op: Op, max: usize) {
    match op {
        Op::DupPut {
            table,
            key,
            val,
            unique,
        } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let value = val.resolve(db.dups.get(&d), &key, d == 1, max);
            let mut tab = dup_create(w, db, d);
            let m = db.dups.get_mut(&d).unwrap();
            dup_put(&mut tab, m, d, (&key, &value), unique, max);
        }
        Op::DupPutRun {
            table,
            key,
            first,
            count,
            step,
            unique,
        } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let mut tab = dup_create(w, db, d);
            let m = db.dups.get_mut(&d).unwrap();
            for i in 0..u64::from(count % 512) {
                let value = first.nth(i, step).bytes(d == 1, max);
                if !dup_put(&mut tab, m, d, (&key, &value), unique, max) {
                    break;
                }
            }
            let want = m.map.get(&key).map_or(0, |s| s.len() as u64);
            if key.len() <= max {
                assert_eq!(tab.count(&key).expect("count"), want);
            }
        }
        Op::DupDelete { table, key, val } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let value = val.resolve(db.dups.get(&d), &key, d == 1, max);
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            assert_eq!(
                tab.delete(&key, &value).expect("delete"),
                m.remove(&key, &value)
            );
            assert!(!tab.contains(&key, &value).expect("contains"));
        }
        Op::DupDeleteRun {
            table,
            key,
            from,
            count,
        } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let from = from.resolve(db.dups.get(&d), &key, d == 1, max);
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            let doomed: Vec<Vec<u8>> = m
                .map
                .get(&key)
                .map(|s| {
                    s.range(from..)
                        .take(usize::from(count % 512))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for v in doomed {
                assert!(
                    tab.delete(&key, &v).expect("delete"),
                    "delete of a present pair"
                );
                assert!(m.remove(&key, &v));
            }
            let want = m.map.get(&key).map_or(0, |s| s.len() as u64);
            assert_eq!(tab.count(&key).expect("count"), want);
        }
        Op::DupDeleteGenRun {
            table,
            key,
            first,
            count,
            step,
        } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            for i in 0..u64::from(count % 512) {
                let value = first.nth(i, step).bytes(d == 1, max);
                assert_eq!(
                    tab.delete(&key, &value).expect("delete"),
                    m.remove(&key, &value)
                );
            }
            let want = m.map.get(&key).map_or(0, |s| s.len() as u64);
            assert_eq!(tab.count(&key).expect("count"), want);
        }
        Op::DupCursorWrites { table, acts } => {
            let d = table % 2;
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            let mut set: BTreeSet<(Vec<u8>, Vec<u8>)> = m.flat().into_iter().collect();
            let mut c = tab.cursor_mut();
            let mut at = PairPos::Unset;
            for act in acts.into_iter().take(64) {
                match act {
                    DupCursorAct::Next | DupCursorAct::Prev => {
                        let forward = matches!(act, DupCursorAct::Next);
                        at = pair_move(&set, &at, forward);
                        let got = if forward { c.next() } else { c.prev() };
                        let got = got
                            .expect("dup cursor move")
                            .map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let want = match &at {
                            PairPos::On(p) => Some(p.clone()),
                            _ => None,
                        };
                        assert_eq!(got, want, "dup cursor move");
                    }
                    DupCursorAct::Delete => match &at {
                        PairPos::On(p) => {
                            c.delete_current().expect("dup delete_current");
                            set.remove(p);
                            if let Some(s) = m.map.get_mut(&p.0) {
                                s.remove(&p.1);
                                if s.is_empty() {
                                    m.map.remove(&p.0);
                                }
                            }
                            at = PairPos::Gap(p.clone());
                        }
                        _ => assert!(c.delete_current().is_err(), "dup delete off a pair"),
                    },
                    DupCursorAct::Put { key, val } => {
                        let key = key.resolve(Some(m), max);
                        let value = val.resolve(Some(m), &key, d == 1, max);
                        let refusal = m.refusal(d == 1, &key, &value, max);
                        let present = m.map.get(&key).is_some_and(|s| s.contains(&value));
                        match (c.put(&key, &value), refusal) {
                            (Ok(new), None) => {
                                assert_eq!(new, !present, "dup cursor put's answer");
                                m.insert(d == 1, &key, &value);
                                set.insert((key.clone(), value.clone()));
                                at = PairPos::On((key, value));
                            }
                            (Err(e), Some(want)) => assert_refused(&e, want, &key, &value, max),
                            (Ok(_), Some(want)) => panic!("cursor put accepted, expected {want:?}"),
                            (Err(e), None) => panic!("dup cursor put: {e}"),
                        }
                    }
                }
            }
            drop(c);
            assert_eq!(tab.len(), m.pairs());
        }
        Op::DupSweep {
            table,
            from,
            to,
            retain,
        } => {
            let d = table % 2;
            let a = from.resolve(db.dups.get(&d), max);
            let b = to.resolve(db.dups.get(&d), max);
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            match retain {
                Some(bit) => {
                    let keep = |v: &[u8]| v.iter().fold(0u8, |x, b| x ^ b) & (1 << (bit % 8)) == 0;
                    let before = m.pairs();
                    for s in m.map.values_mut() {
                        s.retain(|v| keep(v));
                    }
                    m.map.retain(|_, s| !s.is_empty());
                    let removed = tab.retain(|_, v| keep(v)).expect("dup retain");
                    assert_eq!(removed, before - m.pairs());
                }
                None => {
                    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                    let doomed: Vec<Vec<u8>> = m
                        .map
                        .range(lo.clone()..hi.clone())
                        .map(|(k, _)| k.clone())
                        .collect();
                    let want: u64 = doomed
                        .iter()
                        .map(|k| m.map.remove(k).map_or(0, |s| s.len() as u64))
                        .sum();
                    assert_eq!(tab.delete_range(lo..hi).expect("dup delete_range"), want);
                }
            }
            assert_eq!(tab.len(), m.pairs());
        }
        Op::DupDeleteKey { table, key } => {
            let d = table % 2;
            let key = key.resolve(db.dups.get(&d), max);
            let Some(mut tab) = dup_open(w, db, d) else {
                return;
            };
            let m = db.dups.get_mut(&d).unwrap();
            let had = m.map.remove(&key).map_or(0, |s| s.len() as u64);
            assert_eq!(tab.delete_key(&key).expect("delete_key"), had);
            assert_eq!(tab.count(&key).expect("count"), 0);
            assert_eq!(tab.len(), m.pairs());
        }
        Op::DupClear { table } => {
            let d = table % 2;
            let mut tab = dup_create(w, db, d);
            tab.clear().expect("clear");
            let m = db.dups.get_mut(&d).unwrap();
            m.map.clear();
            check_dup!(tab, m, d);
        }
        Op::DupDrop { table } => {
            let d = table % 2;
            let existed = db.dups.remove(&d).is_some();
            assert_eq!(w.drop_table(dup_name(d)).expect("drop"), existed);
        }
        Op::DupRead { table, key, val } => {
            let d = table % 2;
            let m = db.dups.get(&d);
            let key = key.resolve(m, max);
            let value = val.resolve(m, &key, d == 1, max);
            let Some(tab) = dup_open(w, db, d) else {
                return;
            };
            let m = &db.dups[&d];
            let empty = BTreeSet::new();
            let s = m.map.get(&key).unwrap_or(&empty);
            let vals: Vec<Vec<u8>> = tab
                .values(&key)
                .expect("values")
                .map(|v| v.expect("values").to_vec())
                .collect();
            assert!(vals.iter().eq(s.iter()), "values");
            assert_eq!(tab.count(&key).expect("count"), s.len() as u64);
            assert_eq!(tab.get(&key).expect("get"), s.first().map(Vec::as_slice));
            assert_eq!(
                tab.contains(&key, &value).expect("contains"),
                s.contains(&value)
            );
            // seek_value, then next_dup to the key's last value, where it stays.
            let mut c = tab.cursor();
            let want: Vec<Owned> = s
                .range(value.clone()..)
                .map(|v| (key.clone(), v.clone()))
                .collect();
            let mut got = owned(c.seek_value(&key, &value).expect("seek_value"));
            let mut run = Vec::new();
            for _ in 0..=want.len() {
                match got.take() {
                    Some(p) => run.push(p),
                    None => break,
                }
                got = owned(c.next_dup().expect("next_dup"));
            }
            assert_eq!(run, want, "seek_value, next_dup");
            assert_eq!(owned(c.current().expect("current")), want.last().cloned());
            // seek_pair: exactly the pair or nothing.
            let hit = s.contains(&value).then(|| (key.clone(), value.clone()));
            assert_eq!(owned(c.seek_pair(&key, &value).expect("seek_pair")), hit);
            assert_eq!(owned(c.current().expect("current")), hit);
            // seek_key: the first value of the first key >= key.
            let next = m.map.range(key.clone()..).next();
            let want = next.map(|(k, s)| (k.clone(), s.first().unwrap().clone()));
            assert_eq!(owned(c.seek_key(&key).expect("seek_key")), want);
            // From there next_key: the first value of the key after.
            if next.is_some() {
                let after = m.map.range(key.clone()..).nth(1);
                let want = after.map(|(k, s)| (k.clone(), s.first().unwrap().clone()));
                assert_eq!(owned(c.next_key().expect("next_key")), want);
            }
        }
        Op::DupMoves { table, moves } => {
            let d = table % 2;
            let Some(tab) = dup_open(w, db, d) else {
                return;
            };
            run_moves(tab.cursor(), &db.dups[&d], d == 1, &moves, max);
        }
        Op::DupVerify { table } => {
            let d = table % 2;
            let Some(tab) = dup_open(w, db, d) else {
                return;
            };
            check_dup!(tab, &db.dups[&d], d);
        }
        Op::KindMisuse { which, table } => kind_misuse(w, db, which, table),
        _ => {}
    }
}

/// A table opened or created as the wrong kind: `TableKindMismatch` if it exists
/// (`TableNotFound` from the `open_*` calls if not); nothing changes. Creating an
/// absent table is skipped: it would make a table of the other kind.
fn kind_misuse(w: &mut WriteTxn, db: &Db, which: u8, table: u8) {
    let d = table % 2;
    let dup = dup_name(d);
    let dup_exists = db.dups.contains_key(&d);
    let t = table % 3 + 1;
    let plain = table_name(t).unwrap();
    let plain_exists = db.plain.contains_key(&t);
    let mismatch = |r: Result<(), Error>, name: &str, stored: &str, requested: &str| match r {
        Err(Error::TableKindMismatch {
            table,
            stored: s,
            requested: q,
        }) => assert_eq!(
            (table.as_str(), s.as_str(), q.as_str()),
            (name, stored, requested)
        ),
        Err(e) => panic!("{name}: expected a kind mismatch, got {e}"),
        Ok(()) => panic!("{name} opened as {requested}"),
    };
    let not_found = |r: Result<(), Error>, name: &str| match r {
        Err(Error::TableNotFound(n)) => assert_eq!(n, name),
        Err(e) => panic!("{name}: expected TableNotFound, got {e}"),
        Ok(()) => panic!("{name} opened though absent"),
    };
    let dup_kind_text = kind_text(dup_kind(d));
    match which % 5 {
        0 => {
            let r = w.open_table(dup).map(|_| ());
            if dup_exists {
                mismatch(r, dup, dup_kind_text, "plain");
            } else {
                not_found(r, dup);
            }
        }
        1 if dup_exists => {
            let r = w.create_table(dup).map(|_| ());
            mismatch(r, dup, dup_kind_text, "plain");
        }
        2 => {
            let r = w.open_dup_table(&plain).map(|_| ());
            if plain_exists {
                mismatch(r, &plain, "plain", "dup-sort");
            } else {
                not_found(r, &plain);
            }
        }
        3 if plain_exists => {
            let r = w.create_dup_table(&plain, dup_kind(d)).map(|_| ());
            mismatch(r, &plain, "plain", dup_kind_text);
        }
        4 if dup_exists => {
            let other = dup_kind(d + 1);
            let r = w.create_dup_table(dup, other).map(|_| ());
            mismatch(r, dup, dup_kind_text, kind_text(other));
        }
        _ => {}
    }
}
