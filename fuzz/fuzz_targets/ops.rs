//! Operation sequences across several tables with commits, aborts, reopen and readers,
//! checked against a `BTreeMap` model after every commit.
//!
//! A key is its input bytes, or those bytes after one of three long shared stems (whole
//! or cut short), or the last bytes of a key of the maximum length: pages of such keys
//! get long page prefixes, which keys of another stem shorten on insert.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mdbx_lite::{Env, Error, PutFlags};

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

#[derive(Arbitrary, Debug)]
enum Op {
    Put { table: u8, key: Key, len: u16, fill: u8 },
    PutLarge { table: u8, key: Key, pages: u8 },
    PutNoOverwrite { table: u8, key: Key, fill: u8 },
    Delete { table: u8, key: Key },
    DeleteRange { table: u8, from: Key, count: u8 },
    Clear { table: u8 },
    Drop { table: u8 },
    Commit,
    Abort,
    Reopen,
    HoldReader,
    ReleaseReader,
}

type Model = BTreeMap<u8, BTreeMap<Vec<u8>, Vec<u8>>>;

fn table_name(t: u8) -> Option<String> {
    match t % 4 {
        0 => None,
        n => Some(format!("t{n}")),
    }
}

fn verify(env: &Env, model: &Model) {
    let r = env.begin_read().expect("begin_read");
    for t in 0..4u8 {
        let expected = model.get(&t);
        let table = match table_name(t) {
            None => Some(r.main_table()),
            Some(n) => match r.open_table(&n) {
                Ok(t) => Some(t),
                Err(Error::TableNotFound(_)) => None,
                Err(e) => panic!("open_table: {e}"),
            },
        };
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
                let want: Vec<(Vec<u8>, Vec<u8>)> =
                    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                assert_eq!(got, want);
            }
        }
    }
    let report = env.check().expect("check");
    assert!(report.is_ok(), "{:?}", report.problems);
}

fuzz_target!(|ops: Vec<Op>| {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut env = Env::open(&path).expect("open");
    let max = env.max_key_size();
    let mut committed: Model = BTreeMap::new();
    committed.insert(0, BTreeMap::new());
    let mut pending = committed.clone();
    let mut wtx = None;
    let mut reader: Option<(mdbx_lite::ReadTxn, Model)> = None;
    for op in ops.into_iter().take(200) {
        match op {
            Op::Commit => {
                if let Some(w) = wtx.take() {
                    mdbx_lite::WriteTxn::commit(w).expect("commit");
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
                env = Env::open(&path).expect("reopen");
                verify(&env, &committed);
            }
            Op::HoldReader => {
                reader = Some((env.begin_read().expect("reader"), committed.clone()));
            }
            Op::ReleaseReader => {
                if let Some((r, snapshot)) = reader.take() {
                    let main: Vec<Vec<u8>> = r
                        .main_table()
                        .iter()
                        .map(|e| e.expect("iter").0.to_vec())
                        .collect();
                    let want: Vec<Vec<u8>> = snapshot[&0].keys().cloned().collect();
                    assert_eq!(main, want, "snapshot changed under a reader");
                }
            }
            op => {
                let w = match &mut wtx {
                    Some(w) => w,
                    None => wtx.insert(env.begin_write().expect("begin_write")),
                };
                apply(w, &mut pending, op, max);
            }
        }
    }
});

fn open(w: &mut mdbx_lite::WriteTxn, t: u8) -> Option<mdbx_lite::TableMut<'_>> {
    match table_name(t) {
        None => Some(w.main_table()),
        Some(n) => Some(w.create_table(&n).expect("create_table")),
    }
}

fn apply(w: &mut mdbx_lite::WriteTxn, model: &mut Model, op: Op, max: usize) {
    let table_of = |t: u8| t % 4;
    match op {
        Op::Put { table, key, len, fill } => {
            let t = table_of(table);
            let key = key.bytes(max);
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
            let key = key.bytes(max);
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
            let key = key.bytes(max);
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
            let key = key.bytes(max);
            let existed = model.get_mut(&t).and_then(|m| m.remove(&key)).is_some();
            if t != 0 && !model.contains_key(&t) {
                return;
            }
            let mut tab = open(w, t).expect("table");
            model.entry(t).or_default();
            assert_eq!(tab.delete(&key).expect("delete"), existed);
        }
        Op::DeleteRange { table, from, count } => {
            let t = table_of(table);
            let from = from.bytes(max);
            let keys: Vec<Vec<u8>> = model
                .get(&t)
                .map(|m| m.range(from..).take(count as usize).map(|(k, _)| k.clone()).collect())
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
        _ => {}
    }
}
