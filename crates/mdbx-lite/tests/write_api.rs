//! The write conveniences against a model: `replace`, `get_or_insert_with`,
//! `delete_range`, `drain`, `retain`, `pop_first` and `pop_last`, in every built-in key
//! order, over tables of several levels with overflow values, each transaction checked
//! against the model and the committed file checked whole.

mod common;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use common::Rng;
use mdbx_lite::{Env, KeyOrder, TableMut};

/// A key sorted in the table's order (the model's `BTreeMap` key).
#[derive(Clone, Debug, PartialEq, Eq)]
struct K(Vec<u8>, KeyOrder);

impl Ord for K {
    fn cmp(&self, other: &K) -> Ordering {
        self.1.compare(&self.0, &other.0)
    }
}

impl PartialOrd for K {
    fn partial_cmp(&self, other: &K) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type Model = BTreeMap<K, Vec<u8>>;

fn key_of(order: KeyOrder, n: u64) -> Vec<u8> {
    match order {
        KeyOrder::Integer => n.to_ne_bytes().to_vec(),
        _ => format!("user/{:07}/item", n * 7919 % 1_000_003).into_bytes(),
    }
}

fn value_of(rng: &mut Rng) -> Vec<u8> {
    let len = if rng.below(50) == 0 {
        5000 + rng.below(5000) as usize
    } else {
        rng.below(200) as usize
    };
    vec![rng.next() as u8; len]
}

fn verify(ctx: &str, t: &TableMut<'_>, m: &Model) {
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = m.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
    assert_eq!(got.len(), want.len(), "{ctx}: entries");
    assert!(got == want, "{ctx}: entries differ from the model");
    assert_eq!(t.len(), m.len() as u64, "{ctx}: len");
}

fn bound(b: Bound<&K>) -> Bound<Vec<u8>> {
    b.map(|k| k.0.clone())
}

#[test]
fn write_conveniences_match_a_model_in_every_order() {
    for order in [KeyOrder::Bytes, KeyOrder::Integer, KeyOrder::Reverse] {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(21);
        let mut m = Model::new();
        let k = |n: u64| K(key_of(order, n), order);
        for round in 0..8 {
            let ctx = format!("{order:?} round {round}");
            let mut w = env.begin_write().unwrap();
            let mut t = w.create_table_with("t", order).unwrap();
            for _ in 0..20_000 {
                let key = k(rng.below(60_000));
                let v = value_of(&mut rng);
                match rng.below(8) {
                    0 => {
                        let old = t.replace(&key.0, &v).unwrap();
                        assert_eq!(old, m.insert(key, v), "{ctx}: replace");
                    }
                    1 => {
                        let got = t.get_or_insert_with(&key.0, || v.clone()).unwrap().to_vec();
                        assert_eq!(&got, m.entry(key).or_insert(v), "{ctx}: get_or_insert");
                    }
                    _ => {
                        t.put(&key.0, &v).unwrap();
                        m.insert(key, v);
                    }
                }
            }
            // Ranges of every bound shape, some empty, some past either end.
            for i in 0..6 {
                let (a, b) = (k(rng.below(60_000)), k(rng.below(60_000)));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let (start, end) = match i % 4 {
                    0 => (Bound::Included(&lo), Bound::Excluded(&hi)),
                    1 => (Bound::Excluded(&lo), Bound::Included(&hi)),
                    2 => (Bound::Unbounded, Bound::Excluded(&lo)),
                    _ => (Bound::Included(&hi), Bound::Unbounded),
                };
                let doomed: Vec<K> = m.range((start, end)).map(|(k, _)| k.clone()).collect();
                let range = (bound(start), bound(end));
                if i % 2 == 0 {
                    let n = t.delete_range(range).unwrap();
                    assert_eq!(n, doomed.len() as u64, "{ctx}: delete_range {i}");
                    for d in &doomed {
                        m.remove(d);
                    }
                } else {
                    let mut seen = Vec::new();
                    let n = t
                        .drain(range, |k, v| seen.push((k.to_vec(), v.to_vec())))
                        .unwrap();
                    assert_eq!(n, doomed.len() as u64, "{ctx}: drain {i}");
                    let want: Vec<(Vec<u8>, Vec<u8>)> = doomed
                        .iter()
                        .map(|d| (d.0.clone(), m.remove(d).unwrap()))
                        .collect();
                    assert!(seen == want, "{ctx}: drain {i} handed out other entries");
                }
                verify(&format!("{ctx} range {i}"), &t, &m);
            }
            // Retain about half (by value), then pops from both ends.
            let bit = round as u8 % 8;
            let keep = |v: &[u8]| v.first().is_none_or(|b| b >> bit & 1 == 0);
            let before = m.len();
            m.retain(|_, v| keep(v));
            let removed = t.retain(|_, v| keep(v)).unwrap();
            assert_eq!(removed as usize, before - m.len(), "{ctx}: retain");
            for _ in 0..50 {
                let (first, last) = (t.pop_first().unwrap(), t.pop_last().unwrap());
                let want_first = m.pop_first().map(|(k, v)| (k.0, v));
                let want_last = m.pop_last().map(|(k, v)| (k.0, v));
                assert_eq!(first, want_first, "{ctx}: pop_first");
                assert_eq!(last, want_last, "{ctx}: pop_last");
            }
            verify(&ctx, &t, &m);
            if round == 7 {
                // Everything goes, in one range, down to an empty table.
                let n = t.delete_range::<&[u8], _>(..).unwrap();
                assert_eq!(n, m.len() as u64);
                m.clear();
                assert!(t.is_empty() && t.pop_first().unwrap().is_none());
            }
            w.commit().unwrap();
            let report = env.check().unwrap();
            assert!(report.is_ok(), "{ctx}: {:?}", report.problems);
        }
    }
}

#[test]
fn retain_that_keeps_everything_copies_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.create_table("t").unwrap();
    for i in 0..50_000u32 {
        t.put(&i.to_be_bytes(), &[1u8; 50]).unwrap();
    }
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.open_table("t").unwrap();
    let mut asked = 0;
    assert_eq!(
        t.retain(|_, _| {
            asked += 1;
            true
        })
        .unwrap(),
        0
    );
    assert_eq!(asked, 50_000, "every entry asked about once");
    assert_eq!(w.dirty_pages(), 0, "nothing copied");
}

/// Where a model cursor stands (as `CursorMut` documents its positions).
#[derive(Clone, Debug)]
enum Pos<P> {
    Unset,
    On(P),
    Gap(P),
    End,
    Start,
}

/// The model cursor's move over the ordered set `all`: `forward` or back.
fn model_move<P: Ord + Clone>(all: &BTreeSet<P>, at: &Pos<P>, forward: bool) -> Pos<P> {
    use std::ops::Bound::{Excluded, Unbounded};
    let found = match (at, forward) {
        (Pos::Unset | Pos::Start, true) => all.first().cloned(),
        (Pos::End, true) | (Pos::Start, false) => None,
        (Pos::Unset | Pos::End, false) => all.last().cloned(),
        (Pos::On(p) | Pos::Gap(p), true) => all.range((Excluded(p), Unbounded)).next().cloned(),
        (Pos::On(p) | Pos::Gap(p), false) => all.range(..p).next_back().cloned(),
    };
    match found {
        Some(p) => Pos::On(p),
        None if forward => Pos::End,
        None => Pos::Start,
    }
}

use std::collections::BTreeSet;

#[test]
fn writing_cursors_match_a_model_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(8);
    let mut plain: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut pairs: BTreeSet<(Vec<u8>, Vec<u8>)> = BTreeSet::new();
    let key = |rng: &mut Rng| format!("k{:04}", rng.below(2000)).into_bytes();
    for round in 0..4 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_table("t").unwrap();
            let mut c = t.cursor_mut();
            let mut at: Pos<Vec<u8>> = Pos::Unset;
            for step in 0..20_000 {
                let ctx = format!("plain round {round} step {step}");
                let keys: BTreeSet<Vec<u8>> = plain.keys().cloned().collect();
                match rng.below(10) {
                    0..=3 => {
                        let forward = rng.below(3) != 0;
                        let was = at.clone();
                        at = model_move(&keys, &at, forward);
                        let ctx =
                            format!("{ctx} from {was:?} forward {forward} keys {}", keys.len());
                        let got = if forward { c.next() } else { c.prev() };
                        let got = got.unwrap().map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let want = match &at {
                            Pos::On(k) => Some((k.clone(), plain[k].clone())),
                            _ => None,
                        };
                        assert_eq!(got, want, "{ctx}: move");
                    }
                    4 => {
                        let k = key(&mut rng);
                        let got = c.seek(&k).unwrap().map(|(k, _)| k.to_vec());
                        let want = keys.range(k..).next().cloned();
                        at = want.clone().map_or(Pos::End, Pos::On);
                        assert_eq!(got, want, "{ctx}: seek");
                    }
                    5 | 6 => match &at {
                        Pos::On(k) => {
                            let k = k.clone();
                            c.delete_current().unwrap();
                            plain.remove(&k);
                            at = Pos::Gap(k);
                        }
                        _ => assert!(c.delete_current().is_err(), "{ctx}: delete off an entry"),
                    },
                    7 => {
                        let v = vec![rng.next() as u8; rng.below(300) as usize];
                        match &at {
                            Pos::On(k) => {
                                c.put_current(&v).unwrap();
                                plain.insert(k.clone(), v);
                            }
                            _ => assert!(c.put_current(&v).is_err(), "{ctx}: put off an entry"),
                        }
                    }
                    _ => {
                        let (k, v) = (key(&mut rng), vec![rng.next() as u8; 20]);
                        c.insert(&k, &v).unwrap();
                        plain.insert(k.clone(), v);
                        at = Pos::On(k);
                    }
                }
            }
        }
        {
            let mut d = w.create_dup_table("d", mdbx_lite::DupSort::new()).unwrap();
            let mut c = d.cursor_mut();
            let mut at: Pos<(Vec<u8>, Vec<u8>)> = Pos::Unset;
            for step in 0..20_000 {
                let ctx = format!("dup round {round} step {step}");
                match rng.below(10) {
                    0..=3 => {
                        let forward = rng.below(3) != 0;
                        at = model_move(&pairs, &at, forward);
                        let got = if forward { c.next() } else { c.prev() };
                        let got = got.unwrap().map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let want = match &at {
                            Pos::On(p) => Some(p.clone()),
                            _ => None,
                        };
                        assert_eq!(got, want, "{ctx}: move");
                    }
                    4 | 5 => match &at {
                        Pos::On(p) => {
                            let p = p.clone();
                            c.delete_current().unwrap();
                            pairs.remove(&p);
                            at = Pos::Gap(p);
                        }
                        _ => assert!(c.delete_current().is_err(), "{ctx}: delete off a pair"),
                    },
                    _ => {
                        // Hot keys grow nested trees.
                        let k = if rng.below(2) == 0 {
                            b"hot".to_vec()
                        } else {
                            key(&mut rng)
                        };
                        let v = format!("v{:05}", rng.below(5000)).into_bytes();
                        let added = c.put(&k, &v).unwrap();
                        assert_eq!(added, pairs.insert((k.clone(), v.clone())), "{ctx}: put");
                        at = Pos::On((k, v));
                    }
                }
            }
        }
        w.commit().unwrap();
        let r = env.begin_read().unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = r
            .open_table("t")
            .unwrap()
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert!(
            got == plain.clone().into_iter().collect::<Vec<_>>(),
            "round {round}: t"
        );
        let got: BTreeSet<(Vec<u8>, Vec<u8>)> = r
            .open_dup_table("d")
            .unwrap()
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert!(got == pairs, "round {round}: d");
        drop(r);
        let report = env.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
}

#[test]
fn typed_writing_cursors_decode_and_encode() {
    use mdbx_lite::{MultimapDef, TableDef};
    const SCORES: TableDef<u32, i64> = TableDef::new("scores");
    const FOLLOWS: MultimapDef<u32, u32> = MultimapDef::new("follows");
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create(&SCORES).unwrap();
        let mut c = t.cursor_mut();
        for i in 0..1000u32 {
            c.insert(i, -(i as i64)).unwrap();
        }
        // Double the even scores, drop the odd ones, in one walk.
        let mut seen = 0;
        c.seek(0u32).unwrap();
        let mut here = c.current().unwrap();
        while let Some((k, v)) = here {
            seen += 1;
            if k % 2 == 0 {
                c.put_current(v * 2).unwrap();
            } else {
                c.delete_current().unwrap();
            }
            here = c.next().unwrap();
        }
        assert_eq!(seen, 1000);
        assert_eq!(c.last().unwrap(), Some((998, -1996)));
        assert_eq!(t.len(), 500);
        assert_eq!(t.get(10u32).unwrap(), Some(-20));
    }
    {
        let mut f = w.create_multimap(&FOLLOWS).unwrap();
        let mut c = f.cursor_mut();
        for v in [5u32, 1, 9] {
            assert!(c.put(7u32, v).unwrap());
        }
        assert_eq!(c.first().unwrap(), Some((7, 1)));
        c.delete_current().unwrap();
        assert_eq!(c.next().unwrap(), Some((7, 5)));
        assert_eq!(f.count(7u32).unwrap(), 2);
    }
    w.commit().unwrap();
}

#[test]
fn reserved_values_are_filled_in_place_inline_and_in_overflow_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = Env::open(&path).unwrap();
    let mut rng = Rng(31);
    let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let fill = |buf: &mut [u8], seed: u8| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed.wrapping_add(i as u8);
        }
    };
    for round in 0..5 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_table("t").unwrap();
            for _ in 0..400 {
                let k = format!("k{:03}", rng.below(300)).into_bytes();
                let len = match rng.below(4) {
                    0 => 5000 + rng.below(60_000) as usize, // an overflow run
                    1 => 0,
                    _ => rng.below(900) as usize,
                };
                let seed = rng.next() as u8;
                match rng.below(6) {
                    0 => {
                        // Replaced by an ordinary put afterwards.
                        fill(t.reserve(&k, len).unwrap(), seed);
                        t.put(&k, b"plain").unwrap();
                        m.insert(k, b"plain".to_vec());
                    }
                    1 => {
                        fill(t.reserve(&k, len).unwrap(), seed);
                        assert!(t.delete(&k).unwrap());
                        m.remove(&k);
                    }
                    _ => {
                        let buf = t.reserve(&k, len).unwrap();
                        assert!(buf.iter().all(|&b| b == 0), "a reservation is zeroed");
                        fill(buf, seed);
                        let mut v = vec![0u8; len];
                        fill(&mut v, seed);
                        assert_eq!(t.get(&k).unwrap(), Some(&v[..]), "read back before commit");
                        m.insert(k, v);
                    }
                }
            }
        }
        // Reservations inside a rolled-back nested transaction leave nothing.
        {
            let mut child = w.begin_nested().unwrap();
            let mut t = child.open_table("t").unwrap();
            fill(t.reserve(b"k000", 70_000).unwrap(), 9);
            fill(t.reserve(b"zz-new", 20_000).unwrap(), 9);
        }
        w.commit().unwrap();
        let r = env.begin_read().unwrap();
        let got: BTreeMap<Vec<u8>, Vec<u8>> = r
            .open_table("t")
            .unwrap()
            .iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert!(
            got == m,
            "round {round}: committed values differ from the model"
        );
        drop(r);
        let report = env.check().unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
    }
    drop(env);
    let env = Env::open(&path).unwrap();
    let r = env.begin_read().unwrap();
    assert_eq!(r.open_table("t").unwrap().len(), m.len() as u64);
}

#[test]
fn typed_write_conveniences_decode_what_they_take() {
    use mdbx_lite::{Error, TableDef};
    const T: TableDef<(u32, &str), u64> = TableDef::new("typed");
    const BAD: TableDef<(u32, &str), &str> = TableDef::new("typed");
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut model: BTreeMap<(u32, String), u64> = BTreeMap::new();
    {
        let mut t = w.create(&T).unwrap();
        let mut rng = Rng(11);
        for i in 0..3000u64 {
            let k = (
                rng.below(500) as u32,
                ["a", "bb", "c"][rng.below(3) as usize],
            );
            let old = t.replace(k, i).unwrap().map(|v| v.value().unwrap());
            assert_eq!(old, model.insert((k.0, k.1.to_string()), i));
        }
        assert_eq!(t.get_or_insert_with((9999, "new"), || 7).unwrap(), 7);
        assert_eq!(t.get_or_insert_with((9999, "new"), || 8).unwrap(), 7);
        model.insert((9999, "new".into()), 7);
        // delete_range over a tuple prefix range.
        let gone = t.delete_range((100, "")..(200, "")).unwrap();
        let before = model.len();
        model.retain(|k, _| !(100..200).contains(&k.0));
        assert_eq!(gone as usize, before - model.len());
        // drain hands each entry over decoded.
        let mut drained = Vec::new();
        t.drain((200, "")..=(210, "zzz"), |k, v| {
            drained.push((k.0, k.1.to_string(), v))
        })
        .unwrap();
        let want: Vec<(u32, String, u64)> = model
            .iter()
            .filter(|(k, _)| (200..=210).contains(&k.0))
            .map(|(k, v)| (k.0, k.1.clone(), *v))
            .collect();
        assert_eq!(drained, want);
        model.retain(|k, _| !(200..=210).contains(&k.0));
        // retain by value.
        let before = model.len();
        let removed = t.retain(|_, v| v % 2 == 0).unwrap();
        model.retain(|_, v| *v % 2 == 0);
        assert_eq!(removed as usize, before - model.len());
        // pop both ends.
        let first = t.pop_first().unwrap().unwrap();
        let (fk, fv) = model.pop_first().unwrap();
        assert_eq!(
            (first.key().unwrap(), first.value().unwrap()),
            ((fk.0, &fk.1[..]), fv)
        );
        let last = t.pop_last().unwrap().unwrap();
        let (lk, lv) = model.pop_last().unwrap();
        assert_eq!(
            (last.key().unwrap(), last.value().unwrap()),
            ((lk.0, &lk.1[..]), lv)
        );
        let got: Vec<((u32, String), u64)> = t
            .iter()
            .map(|e| e.map(|((a, b), v)| ((a, b.to_string()), v)).unwrap())
            .collect();
        assert_eq!(got, model.clone().into_iter().collect::<Vec<_>>());
    }
    // Entries that do not decode: retain keeps them and says so.
    let mut bad = w.open(&BAD).unwrap();
    let undecodable = bad
        .raw()
        .iter()
        .filter(|e| std::str::from_utf8(e.as_ref().unwrap().1).is_err())
        .count();
    assert!(undecodable > 0);
    let e = bad.retain(|_, _| false).unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e}");
    assert_eq!(bad.len() as usize, undecodable);
    let mut empty = w.create(&T).unwrap();
    empty.clear().unwrap();
    assert!(empty.pop_first().unwrap().is_none() && empty.pop_last().unwrap().is_none());
}

#[test]
fn dup_sort_delete_range_and_retain_match_a_model_in_every_key_order() {
    use mdbx_lite::{DupSort, MultimapDef};
    use std::collections::BTreeSet;
    // Keys that sort as their numbers do in each order.
    let key_of = |order: KeyOrder, n: u64| -> Vec<u8> {
        match order {
            KeyOrder::Integer => n.to_ne_bytes().to_vec(),
            KeyOrder::Reverse => format!("{n:05}").bytes().rev().collect(),
            _ => format!("k{n:05}").into_bytes(),
        }
    };
    for order in [KeyOrder::Bytes, KeyOrder::Reverse, KeyOrder::Integer] {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut w = env.begin_write().unwrap();
        let mut d = w.create_dup_table("d", DupSort::new().keys(order)).unwrap();
        let mut rng = Rng(5);
        // Keys in table order (as the model sorts them): n -> key bytes.
        let mut model: BTreeMap<u64, BTreeSet<Vec<u8>>> = BTreeMap::new();
        for _ in 0..6000 {
            // Key 3 gathers enough values for a nested tree.
            let n = if rng.below(4) == 0 { 3 } else { rng.below(300) };
            let v = format!("v{:05}", rng.below(2000)).into_bytes();
            d.put(&key_of(order, n), &v).unwrap();
            model.entry(n).or_default().insert(v);
        }
        let pairs =
            |m: &BTreeMap<u64, BTreeSet<Vec<u8>>>| m.values().map(|s| s.len() as u64).sum::<u64>();
        for round in 0..6 {
            let (a, b) = (rng.below(300), rng.below(300));
            let (lo, hi) = (a.min(b), a.max(b));
            let gone = d
                .delete_range(key_of(order, lo)..key_of(order, hi))
                .unwrap();
            let doomed: Vec<u64> = model.range(lo..hi).map(|(n, _)| *n).collect();
            let want: u64 = doomed
                .iter()
                .map(|n| model.remove(n).unwrap().len() as u64)
                .sum();
            assert_eq!(gone, want, "{order:?} round {round}");
            let m = 2 + round;
            let removed = d
                .retain(|_, v| !u64::from(v[v.len() - 1]).is_multiple_of(m))
                .unwrap();
            let before = pairs(&model);
            for s in model.values_mut() {
                s.retain(|v| !u64::from(v[v.len() - 1]).is_multiple_of(m));
            }
            model.retain(|_, s| !s.is_empty());
            assert_eq!(removed, before - pairs(&model), "{order:?} round {round}");
            assert_eq!(d.len(), pairs(&model));
            let got: Vec<(Vec<u8>, Vec<u8>)> = d
                .iter()
                .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect();
            let want: Vec<(Vec<u8>, Vec<u8>)> = model
                .iter()
                .flat_map(|(n, s)| s.iter().map(move |v| (key_of(order, *n), v.clone())))
                .collect();
            assert_eq!(got, want, "{order:?} round {round}");
        }
        w.commit().unwrap();
        assert!(env.check().unwrap().is_ok());
    }
    // Typed: a multimap of u32 -> u16.
    const M: MultimapDef<u32, u16> = MultimapDef::new("m");
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut m = w.create_multimap(&M).unwrap();
    for k in 0..100u32 {
        for v in 0..20u16 {
            m.put(k, v).unwrap();
        }
    }
    assert_eq!(m.delete_range(10..20).unwrap(), 200);
    assert_eq!(m.retain(|k, v| k % 2 == 0 || v < 5).unwrap(), 45 * 15);
    assert_eq!(m.len(), 90 * 20 - 45 * 15);
    assert_eq!(m.count(11).unwrap(), 0);
    assert_eq!(m.count(21).unwrap(), 5);
}
