//! Tables in every key order against a model sorted the same way: reverse keys,
//! native-endian u32 and u64 integer keys, a user comparator, and bytewise keys for
//! comparison; random puts and deletes over several transactions (some aborted), then
//! full walks both ways, lookups, ranges with every kind of bound, and `check`. Also
//! dup-sort tables with integer and reverse value orders, and the rules: a key of the
//! wrong size, a table opened in another order or without its comparator.

mod common;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use common::Rng;
use mdbx_lite::{Comparator, DupSort, Env, Error, KeyOrder};

/// Keys in a model, sorted by the order under test.
#[derive(Clone, Debug)]
struct Key {
    bytes: Vec<u8>,
    cmp: fn(&[u8], &[u8]) -> Ordering,
}

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        (self.cmp)(&self.bytes, &o.bytes) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Key) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Key) -> Ordering {
        (self.cmp)(&self.bytes, &o.bytes)
    }
}

fn bytewise(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

fn reverse(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

fn integer(a: &[u8], b: &[u8]) -> Ordering {
    let v = |k: &[u8]| match k.len() {
        4 => u64::from(u32::from_ne_bytes(k.try_into().unwrap())),
        8 => u64::from_ne_bytes(k.try_into().unwrap()),
        n => panic!("integer key of {n} bytes in the model"),
    };
    v(a).cmp(&v(b))
}

/// ASCII case-insensitive, then bytewise (so distinct keys stay distinct).
fn ascii_ci(a: &[u8], b: &[u8]) -> Ordering {
    a.to_ascii_lowercase()
        .cmp(&b.to_ascii_lowercase())
        .then_with(|| a.cmp(b))
}

const ASCII_CI: Comparator = Comparator::new("ascii-ci", ascii_ci);

/// Descending bytewise: a value order unlike every built-in one.
fn descending(a: &[u8], b: &[u8]) -> Ordering {
    b.cmp(a)
}

const DESCENDING: Comparator = Comparator::new("descending", descending);

/// One order under test: how the table is made, how the model sorts, what keys look
/// like.
#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    order: KeyOrder,
    cmp: fn(&[u8], &[u8]) -> Ordering,
    key: fn(&mut Rng) -> Vec<u8>,
}

/// Keys sharing prefixes and suffixes, of 0 to ~40 bytes, some prefixes of others.
fn text_key(rng: &mut Rng) -> Vec<u8> {
    let stems: [&[u8]; 4] = [b"user/", b"User/", b".example.com", b""];
    let mut k = stems[rng.below(4) as usize].to_vec();
    let n = rng.below(12) as usize;
    for _ in 0..n {
        k.push(b"aBcD/."[rng.below(6) as usize]);
    }
    if rng.below(2) == 0 {
        k.extend_from_slice(b".example.com");
    }
    k
}

fn u32_key(rng: &mut Rng) -> Vec<u8> {
    // Dense low values and a few spread over the range, so pages hold neighbours whose
    // bytes differ first in their low (native-endian: first) byte.
    let v = if rng.below(8) == 0 {
        rng.next() as u32
    } else {
        rng.below(60_000) as u32
    };
    v.to_ne_bytes().to_vec()
}

fn u64_key(rng: &mut Rng) -> Vec<u8> {
    let v = match rng.below(4) {
        0 => rng.next(),
        1 => rng.below(1 << 40) << 8,
        _ => rng.below(60_000),
    };
    v.to_ne_bytes().to_vec()
}

fn cases() -> [Case; 5] {
    [
        Case {
            name: "bytes",
            order: KeyOrder::Bytes,
            cmp: bytewise,
            key: text_key,
        },
        Case {
            name: "reverse",
            order: KeyOrder::Reverse,
            cmp: reverse,
            key: text_key,
        },
        Case {
            name: "integer u32",
            order: KeyOrder::Integer,
            cmp: integer,
            key: u32_key,
        },
        Case {
            name: "integer u64",
            order: KeyOrder::Integer,
            cmp: integer,
            key: u64_key,
        },
        Case {
            name: "custom",
            order: KeyOrder::Custom(ASCII_CI),
            cmp: ascii_ci,
            key: text_key,
        },
    ]
}

fn value_for(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(50) {
        0 => 3000 + rng.below(6000) as usize, // an overflow run now and then
        _ => rng.below(120) as usize,
    };
    common::pseudo_random_bytes(rng.next(), len)
}

type Model = BTreeMap<Key, Vec<u8>>;

fn verify(ctx: &str, env: &Env, case: &Case, m: &Model, rng: &mut Rng) {
    let rtx = env.begin_read().unwrap();
    let t = rtx.open_table_with("t", case.order).unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<mdbx_lite::Result<_>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = m
        .iter()
        .map(|(k, v)| (k.bytes.clone(), v.clone()))
        .collect();
    assert_eq!(got.len(), want.len(), "{ctx}: entries");
    assert!(got == want, "{ctx}: forward walk differs from the model");
    let back: Vec<Vec<u8>> = t.iter().rev().map(|e| e.unwrap().0.to_vec()).collect();
    assert!(
        back.iter().eq(want.iter().rev().map(|(k, _)| k)),
        "{ctx}: backward walk"
    );
    assert_eq!(t.len(), m.len() as u64, "{ctx}: len");
    for _ in 0..300 {
        let probe = (case.key)(rng);
        let want = m.get(&Key {
            bytes: probe.clone(),
            cmp: case.cmp,
        });
        assert_eq!(t.get(&probe).unwrap(), want.map(|v| &v[..]), "{ctx}: get");
    }
    // Ranges with random bounds of every kind, both directions.
    for _ in 0..40 {
        let bound = |rng: &mut Rng| {
            let k = (case.key)(rng);
            match rng.below(3) {
                0 => Bound::Included(k),
                1 => Bound::Excluded(k),
                _ => Bound::Unbounded,
            }
        };
        let (lo, hi) = (bound(rng), bound(rng));
        let key = |b: &Bound<Vec<u8>>| match b {
            Bound::Included(k) => Bound::Included(Key {
                bytes: k.clone(),
                cmp: case.cmp,
            }),
            Bound::Excluded(k) => Bound::Excluded(Key {
                bytes: k.clone(),
                cmp: case.cmp,
            }),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (mlo, mhi) = (key(&lo), key(&hi));
        let valid = match (&mlo, &mhi) {
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a < b
                    || (a == b && matches!((&mlo, &mhi), (Bound::Included(_), Bound::Included(_))))
            }
            _ => true,
        };
        if !valid {
            continue;
        }
        let want: Vec<&[u8]> = m.range((mlo, mhi)).map(|(k, _)| &k.bytes[..]).collect();
        let got: Vec<&[u8]> = t
            .range((lo.clone(), hi.clone()))
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(got, want, "{ctx}: range {lo:?}..{hi:?}");
        let mut rev: Vec<&[u8]> = t
            .range((lo.clone(), hi.clone()))
            .rev()
            .map(|e| e.unwrap().0)
            .collect();
        rev.reverse();
        assert_eq!(rev, want, "{ctx}: reversed range {lo:?}..{hi:?}");
    }
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{ctx}: check: {:?}", report.problems);
}

#[test]
fn every_order_matches_a_model_sorted_the_same_way() {
    for (n, case) in cases().iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(0x0de5 + n as u64);
        let mut m = Model::new();
        {
            let mut wtx = env.begin_write().unwrap();
            wtx.create_table_with("t", case.order).unwrap();
            wtx.commit().unwrap();
        }
        for round in 0..8 {
            let mut wtx = env.begin_write().unwrap();
            let mut next = m.clone();
            {
                let mut t = wtx.open_table_with("t", case.order).unwrap();
                let ops = if round < 3 { 6000 } else { 2500 };
                for _ in 0..ops {
                    let k = (case.key)(&mut rng);
                    let key = Key {
                        bytes: k.clone(),
                        cmp: case.cmp,
                    };
                    if rng.below(3) == 0 {
                        let gone = t.delete(&k).unwrap();
                        assert_eq!(gone, next.remove(&key).is_some(), "{}: delete", case.name);
                    } else {
                        let v = value_for(&mut rng);
                        t.put(&k, &v).unwrap();
                        // An equal key (for the comparator) keeps the new key's bytes.
                        next.remove(&key);
                        next.insert(key, v);
                    }
                }
            }
            if round % 3 == 2 {
                wtx.abort();
            } else {
                wtx.commit().unwrap();
                m = next;
            }
            let ctx = format!("{} round {round}", case.name);
            verify(&ctx, &env, case, &m, &mut rng);
        }
        let rtx = env.begin_read().unwrap();
        let depth = rtx.table_stat("t").unwrap().depth;
        assert!(
            depth >= 2,
            "{}: the tree should have branch levels",
            case.name
        );
    }
}

#[test]
fn integer_keys_have_one_size() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx.create_table_with("ids", KeyOrder::Integer).unwrap();
    assert!(matches!(
        t.put(b"12345", b"x"),
        Err(Error::IntegerSize {
            value: false,
            len: 5,
            expected: 0
        })
    ));
    t.put(&7u64.to_ne_bytes(), b"x").unwrap();
    assert!(matches!(
        t.put(&7u32.to_ne_bytes(), b"x"),
        Err(Error::IntegerSize {
            len: 4,
            expected: 8,
            ..
        })
    ));
    // Refusals change nothing: the transaction goes on and commits.
    t.put(&1u64.to_ne_bytes(), b"y").unwrap();
    assert_eq!(t.len(), 2);
    wtx.commit().unwrap();
    assert_eq!(
        env.begin_read()
            .unwrap()
            .table_stat("ids")
            .unwrap()
            .key_order,
        "integer"
    );
}

#[test]
fn a_table_opens_only_in_its_own_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let env = Env::open(&path).unwrap();
        let mut wtx = env.begin_write().unwrap();
        wtx.create_table_with("rev", KeyOrder::Reverse).unwrap();
        let mut ci = wtx
            .create_table_with("ci", KeyOrder::Custom(ASCII_CI))
            .unwrap();
        for k in ["b", "A", "a", "B", "c"] {
            ci.put(k.as_bytes(), b"").unwrap();
        }
        wtx.create_table("plain").unwrap();
        wtx.commit().unwrap();
    }
    let env = Env::open(&path).unwrap();
    let mut wtx = env.begin_write().unwrap();
    // Built-in orders open without being named, and refuse another.
    wtx.open_table("rev").unwrap();
    assert!(matches!(
        wtx.create_table("rev"),
        Err(Error::TableKindMismatch { .. })
    ));
    assert!(matches!(
        wtx.open_table_with("plain", KeyOrder::Integer),
        Err(Error::TableKindMismatch { .. })
    ));
    // A user comparator must be given, under its name.
    match wtx.open_table("ci") {
        Err(Error::ComparatorMissing { table, comparator }) => {
            assert_eq!((table.as_str(), comparator.as_str()), ("ci", "ascii-ci"));
        }
        other => panic!("expected ComparatorMissing, got {:?}", other.err()),
    }
    let other = Comparator::new("other", ascii_ci);
    assert!(matches!(
        wtx.open_table_with("ci", KeyOrder::Custom(other)),
        Err(Error::TableKindMismatch { .. })
    ));
    let mut ci = wtx
        .open_table_with("ci", KeyOrder::Custom(ASCII_CI))
        .unwrap();
    ci.put(b"C", b"").unwrap();
    let keys: Vec<&[u8]> = ci.iter().map(|e| e.unwrap().0).collect();
    assert_eq!(keys, [&b"A"[..], b"a", b"B", b"b", b"C", b"c"]);
    wtx.commit().unwrap();
    let rtx = env.begin_read().unwrap();
    assert!(matches!(
        rtx.open_table("ci"),
        Err(Error::ComparatorMissing { .. })
    ));
    assert_eq!(
        rtx.open_table_with("ci", KeyOrder::Custom(ASCII_CI))
            .unwrap()
            .len(),
        6
    );
    assert_eq!(rtx.table_stat("ci").unwrap().key_order, "custom");
    // The checker has no comparators: it says what it could not verify.
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        report.order_unchecked,
        [("ci".to_string(), "ascii-ci".to_string())]
    );
    // Given the comparator, it verifies the order too; given another function under
    // the same name (bytewise, where "a" > "B"), it finds the keys out of its order.
    let report = env.check_with(&[ASCII_CI], &mut |_, _| {}).unwrap();
    assert!(
        report.is_ok() && report.order_unchecked.is_empty(),
        "{report:?}"
    );
    let impostor = Comparator::new("ascii-ci", |a: &[u8], b: &[u8]| a.cmp(b));
    let report = env.check_with(&[impostor], &mut |_, _| {}).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.message.contains("out of order")),
        "{:?}",
        report.problems
    );
    // Comparator names are what the table records: 1 to 255 bytes.
    let mut wtx = env.begin_write().unwrap();
    let nameless = Comparator::new("", ascii_ci);
    assert!(matches!(
        wtx.create_table_with("x", KeyOrder::Custom(nameless)),
        Err(Error::Invalid(_))
    ));
}

type DupModel = BTreeMap<Key, BTreeSet<Key>>;

#[test]
fn dup_sort_values_follow_integer_and_reverse_orders() {
    let kinds = [
        (
            "integer u64 values",
            DupSort::new().fixed().integer_values(),
            integer as fn(&[u8], &[u8]) -> Ordering,
            8usize,
        ),
        (
            "integer u32 values",
            DupSort::new()
                .fixed()
                .integer_values()
                .keys(KeyOrder::Integer),
            integer,
            4,
        ),
        (
            "integer values, variable",
            DupSort::new().integer_values(),
            integer,
            8,
        ),
        (
            "reverse values",
            DupSort::new().reverse_values().keys(KeyOrder::Reverse),
            reverse,
            0,
        ),
        (
            "values by a user comparator",
            DupSort::new().values_by(ASCII_CI),
            ascii_ci,
            0,
        ),
        (
            "fixed values and keys by user comparators",
            DupSort::new()
                .fixed()
                .values_by(DESCENDING)
                .keys(KeyOrder::Custom(ASCII_CI)),
            descending,
            8,
        ),
    ];
    for (n, (name, kind, vcmp, width)) in kinds.into_iter().enumerate() {
        let kcmp: fn(&[u8], &[u8]) -> Ordering = match kind.key_order() {
            KeyOrder::Integer => integer,
            KeyOrder::Reverse => reverse,
            KeyOrder::Custom(_) => ascii_ci,
            _ => bytewise,
        };
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(77 + n as u64);
        let mut m = DupModel::new();
        let key_of = |rng: &mut Rng| -> Vec<u8> {
            match kind.key_order() {
                KeyOrder::Integer => rng.below(40).to_ne_bytes().to_vec(),
                KeyOrder::Custom(_) => format!("Hot{}", rng.below(40)).into_bytes(),
                _ => text_key(rng),
            }
        };
        let value_of = |rng: &mut Rng| -> Vec<u8> {
            match width {
                8 => (rng.below(1 << 20) << (8 * rng.below(3)))
                    .to_ne_bytes()
                    .to_vec(),
                4 => ((rng.below(1 << 20) as u32) << (8 * rng.below(2)))
                    .to_ne_bytes()
                    .to_vec(),
                _ => text_key(rng),
            }
        };
        for round in 0..6 {
            let mut wtx = env.begin_write().unwrap();
            {
                let mut t = wtx.create_dup_table("d", kind).unwrap();
                for _ in 0..4000 {
                    // A few hot keys grow nested trees.
                    let k = if rng.below(4) == 0 {
                        key_of(&mut Rng(1))
                    } else {
                        key_of(&mut rng)
                    };
                    let v = value_of(&mut rng);
                    let mk = Key {
                        bytes: k.clone(),
                        cmp: kcmp,
                    };
                    let mv = Key {
                        bytes: v.clone(),
                        cmp: vcmp,
                    };
                    if rng.below(4) == 0 {
                        let gone = t.delete(&k, &v).unwrap();
                        let had = m.get_mut(&mk).is_some_and(|s| s.remove(&mv));
                        assert_eq!(gone, had, "{name}: delete");
                        if m.get(&mk).is_some_and(|s| s.is_empty()) {
                            m.remove(&mk);
                        }
                    } else {
                        let added = t.put(&k, &v).unwrap();
                        assert_eq!(added, m.entry(mk).or_default().insert(mv), "{name}: put");
                    }
                }
                if round == 4 {
                    let hot = key_of(&mut Rng(1));
                    let count = t.delete_key(&hot).unwrap();
                    let had = m
                        .remove(&Key {
                            bytes: hot,
                            cmp: kcmp,
                        })
                        .map_or(0, |s| s.len());
                    assert_eq!(count, had as u64, "{name}: delete_key");
                }
            }
            wtx.commit().unwrap();
            let rtx = env.begin_read().unwrap();
            let t = rtx.open_dup_table_as("d", kind).unwrap();
            let got: Vec<(Vec<u8>, Vec<u8>)> = t
                .iter()
                .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = m
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.bytes.clone(), v.bytes.clone())))
                .collect();
            assert!(
                got == want,
                "{name} round {round}: pairs differ from the model"
            );
            for (k, vs) in &m {
                assert_eq!(t.count(&k.bytes).unwrap(), vs.len() as u64, "{name}: count");
                let probe = value_of(&mut rng);
                let mut c = t.cursor();
                let want = vs
                    .range(
                        Key {
                            bytes: probe.clone(),
                            cmp: vcmp,
                        }..,
                    )
                    .next();
                let got = c
                    .seek_value(&k.bytes, &probe)
                    .unwrap()
                    .map(|p| p.1.to_vec());
                assert_eq!(got, want.map(|v| v.bytes.clone()), "{name}: seek_value");
            }
            let report = env
                .check_with(&[ASCII_CI, DESCENDING], &mut |_, _| {})
                .unwrap();
            assert!(
                report.is_ok() && report.order_unchecked.is_empty(),
                "{name} round {round}: {report:?}"
            );
        }
        let hot = key_of(&mut Rng(1));
        let rtx = env.begin_read().unwrap();
        let t = rtx.open_dup_table_as("d", kind).unwrap();
        assert!(
            t.count(&hot).unwrap() > 300,
            "{name}: a key should have gone nested"
        );
    }
}

#[test]
fn integer_dup_values_have_one_size_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx
        .create_dup_table("d", DupSort::new().integer_values())
        .unwrap();
    assert!(matches!(
        t.put(b"k", b"123"),
        Err(Error::IntegerSize {
            value: true,
            len: 3,
            expected: 0
        })
    ));
    t.put(b"k", &5u32.to_ne_bytes()).unwrap();
    assert!(matches!(
        t.put(b"k", &5u64.to_ne_bytes()),
        Err(Error::IntegerSize {
            value: true,
            len: 8,
            expected: 4
        })
    ));
    t.put(b"k", &256u32.to_ne_bytes()).unwrap();
    t.put(b"k", &3u32.to_ne_bytes()).unwrap();
    let vals: Vec<u32> = t
        .values(b"k")
        .unwrap()
        .map(|v| u32::from_ne_bytes(v.unwrap().try_into().unwrap()))
        .collect();
    assert_eq!(vals, [3, 5, 256]);
    // Another key may hold u64s.
    t.put(b"j", &5u64.to_ne_bytes()).unwrap();
    wtx.commit().unwrap();
    assert!(env.check().unwrap().is_ok());
    let stat = env.begin_read().unwrap().table_stat("d").unwrap();
    assert_eq!(stat.kind, "dup-sort, integer-dup");
}

#[test]
fn a_compacting_copy_keeps_key_and_value_orders() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut ids = wtx.create_table_with("ids", KeyOrder::Integer).unwrap();
    for v in (0..5000u32).rev() {
        ids.put(&(v * 7).to_ne_bytes(), b"x").unwrap();
    }
    let kind = DupSort::new()
        .fixed()
        .integer_values()
        .keys(KeyOrder::Reverse);
    let mut d = wtx.create_dup_table("d", kind).unwrap();
    for v in 0..3000u64 {
        d.put(b"key.a", &(v << 20).to_ne_bytes()).unwrap();
        d.put(b"key.b", &v.to_ne_bytes()).unwrap();
    }
    wtx.commit().unwrap();
    let copy = dir.path().join("copy");
    env.copy_to(&copy, true).unwrap();
    let c = Env::open(&copy).unwrap();
    assert!(c.check().unwrap().is_ok());
    let (a, b) = (env.begin_read().unwrap(), c.begin_read().unwrap());
    let pairs = |t: mdbx_lite::DupTable<'_>| -> Vec<(Vec<u8>, Vec<u8>)> {
        t.iter()
            .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    };
    let got = pairs(b.open_dup_table("d").unwrap());
    assert!(got == pairs(a.open_dup_table("d").unwrap()));
    assert_eq!(got[0].0, b"key.a", "reverse keys: key.a before key.b");
    assert_eq!(b.table_stat("d").unwrap().dup_sort, Some(kind));
    let keys = |t: mdbx_lite::ReadTable<'_>| -> Vec<Vec<u8>> {
        t.iter().map(|e| e.unwrap().0.to_vec()).collect()
    };
    assert_eq!(
        keys(b.open_table("ids").unwrap()),
        keys(a.open_table("ids").unwrap())
    );
    assert_eq!(b.table_stat("ids").unwrap().key_order, "integer");
}

#[test]
fn dup_sort_tables_sort_their_keys_by_a_user_comparator() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let kind = DupSort::new()
        .keys(KeyOrder::Custom(ASCII_CI))
        .integer_values();
    let mut rng = Rng(77);
    // The model: keys in the comparator's order, values as u32 integers.
    let mut model: BTreeMap<Vec<u8>, BTreeSet<u32>> = BTreeMap::new();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create_dup_table("ci", kind).unwrap();
        for _ in 0..8000 {
            let n = if rng.below(4) == 0 {
                rng.below(3)
            } else {
                rng.below(400)
            };
            let mut key = format!("Name{n:03}").into_bytes();
            if rng.below(2) == 0 {
                key.make_ascii_lowercase();
            }
            let v = rng.below(1 << 30) as u32;
            let new = model.entry(key.clone()).or_default().insert(v);
            assert_eq!(t.put(&key, &v.to_ne_bytes()).unwrap(), new);
        }
    }
    w.commit().unwrap();
    let mut keys: Vec<&Vec<u8>> = model.keys().collect();
    keys.sort_by(|a, b| ascii_ci(a, b));
    let r = env.begin_read().unwrap();
    assert!(matches!(
        r.open_dup_table("ci"),
        Err(Error::ComparatorMissing { .. })
    ));
    // The kind is checked before the order: a custom-order table opened as the other
    // kind is a kind mismatch, with or without its comparator.
    assert!(matches!(
        r.open_table("ci"),
        Err(Error::TableKindMismatch { .. })
    ));
    let t = r
        .open_dup_table_with("ci", KeyOrder::Custom(ASCII_CI))
        .unwrap();
    let want: Vec<(Vec<u8>, u32)> = keys
        .iter()
        .flat_map(|k| model[*k].iter().map(move |v| ((*k).clone(), *v)))
        .collect();
    let got: Vec<(Vec<u8>, u32)> = t
        .iter()
        .map(|p| {
            let (k, v) = p.unwrap();
            (k.to_vec(), u32::from_ne_bytes(v.try_into().unwrap()))
        })
        .collect();
    assert!(got == want, "pairs in the comparator's key order");
    // Ranges and seeks follow the comparator.
    let (lo, hi) = (b"name100".to_vec(), b"NAME200".to_vec());
    let ranged: Vec<Vec<u8>> = t
        .range(&lo[..]..&hi[..])
        .map(|p| p.unwrap().0.to_vec())
        .collect();
    let want: Vec<Vec<u8>> = want
        .iter()
        .filter(|(k, _)| ascii_ci(k, &lo).is_ge() && ascii_ci(k, &hi).is_lt())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(ranged, want);
    for k in keys.iter().step_by(17) {
        assert_eq!(t.count(k).unwrap(), model[*k].len() as u64);
        let first = *model[*k].first().unwrap();
        assert_eq!(t.get(k).unwrap(), Some(&first.to_ne_bytes()[..]));
    }
    drop(r);
    // Writes need the comparator too; the checker verifies the order when given it.
    let mut w = env.begin_write().unwrap();
    assert!(matches!(
        w.open_dup_table("ci"),
        Err(Error::ComparatorMissing { .. })
    ));
    let mut t = w
        .open_dup_table_with("ci", KeyOrder::Custom(ASCII_CI))
        .unwrap();
    assert_eq!(t.delete_key(keys[0]).unwrap(), model[keys[0]].len() as u64);
    assert!(matches!(
        w.open_table("ci"),
        Err(Error::TableKindMismatch { .. })
    ));
    w.create_table_with("plain-ci", KeyOrder::Custom(ASCII_CI))
        .unwrap();
    assert!(matches!(
        w.open_dup_table("plain-ci"),
        Err(Error::TableKindMismatch { .. })
    ));
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    assert!(matches!(
        r.open_dup_table("plain-ci"),
        Err(Error::TableKindMismatch { .. })
    ));
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.order_unchecked.len(), 2);
    let report = env.check_with(&[ASCII_CI], &mut |_, _| {}).unwrap();
    assert!(
        report.is_ok() && report.order_unchecked.is_empty(),
        "{report:?}"
    );
}

#[test]
fn dup_sort_values_by_a_user_comparator_open_only_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let kind = DupSort::new().values_by(DESCENDING);
    let both = DupSort::new()
        .fixed()
        .values_by(DESCENDING)
        .keys(KeyOrder::Custom(ASCII_CI));
    {
        let env = Env::open(&path).unwrap();
        let mut w = env.begin_write().unwrap();
        let mut t = w.create_dup_table("d", kind).unwrap();
        // Enough values under one key for a nested tree.
        for v in 0..2000u32 {
            t.put(b"many", format!("v{v:05}").as_bytes()).unwrap();
        }
        t.put(b"few", b"a").unwrap();
        t.put(b"few", b"b").unwrap();
        let mut t = w.create_dup_table("both", both).unwrap();
        t.put(b"K", &1u64.to_be_bytes()).unwrap();
        t.put(b"k", &2u64.to_be_bytes()).unwrap();
        w.commit().unwrap();
    }
    let env = Env::open(&path).unwrap();
    let r = env.begin_read().unwrap();
    // Without the comparator, or with another one, the table does not open.
    match r.open_dup_table("d") {
        Err(Error::ComparatorMissing { table, comparator }) => {
            assert_eq!((table.as_str(), comparator.as_str()), ("d", "descending"));
        }
        other => panic!("expected ComparatorMissing, got {:?}", other.err()),
    }
    assert!(matches!(
        r.open_dup_table_with("d", KeyOrder::Bytes),
        Err(Error::ComparatorMissing { .. })
    ));
    let impostor = Comparator::new("other", descending);
    for wrong in [DupSort::new(), DupSort::new().values_by(impostor)] {
        match r.open_dup_table_as("d", wrong) {
            Err(Error::TableKindMismatch { stored, .. }) => {
                assert!(stored.contains("custom-dup"), "{stored}");
            }
            other => panic!("expected TableKindMismatch, got {:?}", other.err()),
        }
    }
    match r.open_dup_table_as("both", DupSort::new().fixed().values_by(DESCENDING)) {
        Err(Error::TableKindMismatch { .. }) => {}
        other => panic!("expected TableKindMismatch, got {:?}", other.err()),
    }
    let t = r.open_dup_table_as("d", kind).unwrap();
    assert_eq!(t.get(b"many").unwrap(), Some(&b"v01999"[..]));
    let values: Vec<&[u8]> = t.values(b"few").unwrap().map(|v| v.unwrap()).collect();
    assert_eq!(values, [&b"b"[..], b"a"]);
    let mut c = t.cursor();
    let (_, v) = c.seek_value(b"many", b"v01000x").unwrap().unwrap();
    assert_eq!(v, b"v01000");
    assert_eq!(r.table_stat("d").unwrap().kind, "dup-sort, custom-dup");
    let t = r.open_dup_table_as("both", both).unwrap();
    assert_eq!(t.count(b"k").unwrap(), 1);
    drop(r);
    // The checker names what it could not verify, and verifies it when given the
    // comparators; another function under the name finds the values out of order.
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let mut unchecked = report.order_unchecked.clone();
    unchecked.sort();
    let pair = |t: &str, c: &str| (t.to_string(), c.to_string());
    assert_eq!(
        unchecked,
        [
            pair("both", "ascii-ci"),
            pair("both", "descending"),
            pair("d", "descending")
        ]
    );
    let report = env
        .check_with(&[ASCII_CI, DESCENDING], &mut |_, _| {})
        .unwrap();
    assert!(
        report.is_ok() && report.order_unchecked.is_empty(),
        "{report:?}"
    );
    let upside_down = Comparator::new("descending", |a: &[u8], b: &[u8]| a.cmp(b));
    let report = env
        .check_with(&[ASCII_CI, upside_down], &mut |_, _| {})
        .unwrap();
    let out_of_order = |m: &String| m.contains("out of order");
    assert!(
        report
            .problems
            .iter()
            .filter(|p| out_of_order(&p.message))
            .count()
            >= 2,
        "{:?}",
        report.problems
    );
    // Writes: cleared and refilled in one transaction, the table keeps its order.
    let mut w = env.begin_write().unwrap();
    assert!(matches!(
        w.open_dup_table("d"),
        Err(Error::ComparatorMissing { .. })
    ));
    assert!(matches!(
        w.create_dup_table("d", DupSort::new()),
        Err(Error::TableKindMismatch { .. })
    ));
    let mut t = w.open_dup_table_as("d", kind).unwrap();
    t.clear().unwrap();
    for v in ["x", "z", "y"] {
        t.put(b"k", v.as_bytes()).unwrap();
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let t = r.open_dup_table_as("d", kind).unwrap();
    let values: Vec<&[u8]> = t.values(b"k").unwrap().map(|v| v.unwrap()).collect();
    assert_eq!(values, [&b"z"[..], b"y", b"x"]);
    // Names are 1 to 255 bytes without a 0 byte (it separates a table's two names).
    let mut w = env.begin_write().unwrap();
    for bad in ["", "a\0b"] {
        let c = Comparator::new(bad, descending);
        assert!(matches!(
            w.create_dup_table("bad", DupSort::new().values_by(c)),
            Err(Error::Invalid(_))
        ));
    }
}

#[test]
fn a_table_ordered_by_a_user_comparator_drops_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w
        .create_table_with("ci", KeyOrder::Custom(ASCII_CI))
        .unwrap();
    for i in 0..3000u32 {
        t.put(format!("Key{i}").as_bytes(), &[0u8; 100]).unwrap();
    }
    w.create_dup_table("dv", DupSort::new().values_by(DESCENDING))
        .unwrap()
        .put(b"k", b"v")
        .unwrap();
    w.commit().unwrap();
    // Dropping frees pages and compares no keys: no comparator needed.
    let mut w = env.begin_write().unwrap();
    assert!(w.drop_table("ci").unwrap());
    assert!(w.drop_table("dv").unwrap());
    assert!(matches!(w.open_table("ci"), Err(Error::TableNotFound(_))));
    w.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(env.begin_read().unwrap().list_tables().unwrap().is_empty());
}
