//! Typed tables against models: every read, range and walk of a typed table agrees
//! with a `BTreeMap` of the Rust types (so the encodings sort as the types do), typed
//! multimaps agree with a `BTreeMap<K, BTreeSet<V>>`, and misuse is a clear error.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use common::Rng;
use mdbx_lite::{Env, Error, Integer, KeyOrder, MultimapDef, TableDef};

/// A composite key: a tenant name, a signed time, an optional sequence number.
type Composite<'a> = (&'a str, i64, Option<u16>);

fn tenant(rng: &mut Rng) -> &'static str {
    ["", "a", "ab", "acme", "b", "zeta/sub"][rng.below(6) as usize]
}

fn composite(rng: &mut Rng) -> Composite<'static> {
    let t = (rng.below(2000) as i64 - 1000) * 1_000_003;
    let seq = (rng.below(3) != 0).then(|| rng.below(4) as u16);
    (tenant(rng), t, seq)
}

const COMPOSITE: TableDef<(&str, i64, Option<u16>), (u32, &str)> = TableDef::new("composite");
const SIGNED: TableDef<i32, [u8; 16]> = TableDef::new("signed");
const NATIVE: TableDef<Integer<u64>, String> = TableDef::new("native");

#[test]
fn typed_tables_match_a_model_in_every_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(5);
    let mut m_comp: BTreeMap<Composite<'static>, (u32, String)> = BTreeMap::new();
    let mut m_signed: BTreeMap<i32, [u8; 16]> = BTreeMap::new();
    let mut m_native: BTreeMap<u64, String> = BTreeMap::new();
    for round in 0..12 {
        let mut w = env.begin_write().unwrap();
        let (mut c, mut s, mut n) = (m_comp.clone(), m_signed.clone(), m_native.clone());
        {
            let mut t = w.create(&COMPOSITE).unwrap();
            for _ in 0..1500 {
                let k = composite(&mut rng);
                if rng.below(4) == 0 {
                    assert_eq!(t.delete(k).unwrap(), c.remove(&k).is_some());
                } else {
                    let v = (rng.below(1000) as u32, format!("v{}", rng.below(50)));
                    t.put(k, (v.0, v.1.as_str())).unwrap();
                    c.insert(k, v);
                }
            }
            assert_eq!(t.len(), c.len() as u64);
        }
        {
            let mut t = w.create(&SIGNED).unwrap();
            for _ in 0..1500 {
                let k = (rng.next() as i32) >> rng.below(31);
                if rng.below(4) == 0 {
                    assert_eq!(t.delete(k).unwrap(), s.remove(&k).is_some());
                } else {
                    let v = [rng.below(256) as u8; 16];
                    t.put(k, &v).unwrap();
                    s.insert(k, v);
                }
            }
        }
        {
            let mut t = w.create(&NATIVE).unwrap();
            for _ in 0..1500 {
                let k = rng.next() >> rng.below(64);
                if rng.below(4) == 0 {
                    assert_eq!(t.delete(k).unwrap(), n.remove(&k).is_some());
                } else {
                    let v = "x".repeat(rng.below(300) as usize);
                    t.put(k, &v).unwrap();
                    n.insert(k, v);
                }
            }
        }
        if round % 4 == 3 {
            w.abort();
        } else {
            w.commit().unwrap();
            (m_comp, m_signed, m_native) = (c, s, n);
        }

        let r = env.begin_read().unwrap();
        // Composite keys: whole walks both ways, lookups, ranges with every bound kind.
        let t = r.open(&COMPOSITE).unwrap();
        let got: Vec<(Composite<'_>, (u32, &str))> = t.iter().map(|e| e.unwrap()).collect();
        let want: Vec<(Composite<'_>, (u32, &str))> = m_comp
            .iter()
            .map(|(k, v)| (*k, (v.0, v.1.as_str())))
            .collect();
        assert!(got == want, "round {round}: composite walk");
        let back: Vec<_> = t.iter().rev().map(|e| e.unwrap().0).collect();
        assert!(
            back.iter().rev().eq(m_comp.keys()),
            "round {round}: backwards"
        );
        for _ in 0..200 {
            let k = composite(&mut rng);
            let v = t.get(k).unwrap();
            assert_eq!(v, m_comp.get(&k).map(|v| (v.0, v.1.as_str())));
        }
        for _ in 0..40 {
            let (a, b) = (composite(&mut rng), composite(&mut rng));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let bounds = match rng.below(4) {
                0 => (Bound::Included(lo), Bound::Excluded(hi)),
                1 => (Bound::Excluded(lo), Bound::Included(hi)),
                2 => (Bound::Unbounded, Bound::Included(hi)),
                _ => (Bound::Included(lo), Bound::Unbounded),
            };
            let got: Vec<_> = t.range(bounds).unwrap().map(|e| e.unwrap().0).collect();
            let want: Vec<_> = m_comp.range(bounds).map(|(k, _)| *k).collect();
            assert_eq!(got, want, "round {round}: range {bounds:?}");
        }
        // Cursor seeks land where the model's range from the key starts; walks agree.
        let mut c = t.cursor();
        for _ in 0..100 {
            let k = composite(&mut rng);
            let want = m_comp
                .range(k..)
                .next()
                .map(|(k, v)| (*k, (v.0, v.1.as_str())));
            assert_eq!(c.seek(k).unwrap(), want, "round {round}: seek {k:?}");
            let next = want.and_then(|(k, _)| {
                m_comp
                    .range((Bound::Excluded(k), Bound::Unbounded))
                    .next()
                    .map(|(k, v)| (*k, (v.0, v.1.as_str())))
            });
            if want.is_some() {
                assert_eq!(c.next().unwrap(), next, "round {round}: next after seek");
            }
        }
        assert_eq!(
            c.last().unwrap().map(|e| e.0),
            m_comp.keys().last().copied()
        );
        assert_eq!(
            t.first().unwrap().map(|e| e.0),
            m_comp.keys().next().copied()
        );
        assert_eq!(
            t.last().unwrap().map(|e| e.0),
            m_comp.keys().last().copied()
        );
        // Signed keys sort negative first.
        let t = r.open(&SIGNED).unwrap();
        let got: Vec<(i32, [u8; 16])> =
            t.iter().map(|e| e.map(|(k, v)| (k, *v)).unwrap()).collect();
        assert!(
            got.iter().map(|e| (&e.0, &e.1)).eq(m_signed.iter()),
            "round {round}: signed"
        );
        let got: Vec<i32> = t
            .range(-5000..5000)
            .unwrap()
            .map(|e| e.unwrap().0)
            .collect();
        assert!(got.iter().eq(m_signed.range(-5000..5000).map(|e| e.0)));
        // Native-endian integer keys: LMDB's integer order.
        let t = r.open(&NATIVE).unwrap();
        assert_eq!(t.stat().key_order, "integer");
        let got: Vec<u64> = t.iter().map(|e| e.unwrap().0).collect();
        assert!(got.iter().eq(m_native.keys()), "round {round}: native");
        for (k, v) in m_native.iter().step_by(13) {
            assert_eq!(t.get(*k).unwrap(), Some(v.clone()));
        }
        drop(r);
        assert!(env.check().unwrap().is_ok());
    }
}

const FOLLOWERS: MultimapDef<u32, Integer<u64>> = MultimapDef::new("followers");
const LABELS: MultimapDef<(u8, &str), &str> = MultimapDef::new("labels");

#[test]
fn typed_multimaps_match_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(9);
    let mut followers: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    let mut labels: BTreeMap<(u8, String), BTreeSet<String>> = BTreeMap::new();
    for round in 0..6 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_multimap(&FOLLOWERS).unwrap();
            for _ in 0..5000 {
                // A few users with thousands of followers (nested trees), many with few.
                let user = if rng.below(3) == 0 {
                    rng.below(3) as u32
                } else {
                    rng.below(500) as u32
                };
                let who = rng.next() >> rng.below(64);
                if rng.below(5) == 0 {
                    let had = followers.get_mut(&user).is_some_and(|s| s.remove(&who));
                    followers.retain(|_, s| !s.is_empty());
                    assert_eq!(t.delete(user, who).unwrap(), had);
                } else {
                    let new = followers.entry(user).or_default().insert(who);
                    assert_eq!(t.put(user, who).unwrap(), new);
                }
            }
            if round == 3 {
                let n = followers.remove(&1).map_or(0, |s| s.len() as u64);
                assert_eq!(t.delete_key(1).unwrap(), n);
            }
        }
        {
            let mut t = w.create_multimap(&LABELS).unwrap();
            for _ in 0..2000 {
                let k = (rng.below(4) as u8, format!("item{}", rng.below(40)));
                let v = format!("label{}", rng.below(30));
                let new = labels.entry(k.clone()).or_default().insert(v.clone());
                assert_eq!(t.put((k.0, k.1.as_str()), v.as_str()).unwrap(), new);
            }
        }
        w.commit().unwrap();
        let r = env.begin_read().unwrap();
        let t = r.open_multimap(&FOLLOWERS).unwrap();
        // Integer values sort by value: a dup-fixed integer-dup table.
        for (user, set) in &followers {
            let got: Vec<u64> = t.get(*user).unwrap().map(|v| v.unwrap()).collect();
            assert!(
                got.iter().eq(set.iter()),
                "round {round}: followers of {user}"
            );
            assert_eq!(t.count(*user).unwrap(), set.len() as u64);
        }
        let mut c = t.cursor();
        for _ in 0..100 {
            let user = rng.below(520) as u32;
            let from = rng.next() >> rng.below(64);
            let want = followers
                .get(&user)
                .and_then(|s| s.range(from..).next())
                .map(|v| (user, *v));
            assert_eq!(c.seek_value(user, from).unwrap(), want, "seek_value");
            if want.is_some() {
                assert_eq!(c.count().unwrap(), followers[&user].len() as u64);
                let last = c.last_dup().unwrap().map(|p| p.1);
                assert_eq!(last, followers[&user].last().copied());
            }
        }
        let pairs: usize = followers.values().map(BTreeSet::len).sum();
        assert_eq!(t.len(), pairs as u64);
        assert_eq!(t.iter().count(), pairs);
        let got: Vec<(u32, u64)> = t.range(100..=200).unwrap().map(|p| p.unwrap()).collect();
        let want: Vec<(u32, u64)> = followers
            .range(100..=200)
            .flat_map(|(k, s)| s.iter().map(move |v| (*k, *v)))
            .collect();
        assert_eq!(got, want);
        let t = r.open_multimap(&LABELS).unwrap();
        let got: Vec<((u8, &str), &str)> = t.iter().rev().map(|p| p.unwrap()).collect();
        let want: Vec<((u8, &str), &str)> = labels
            .iter()
            .flat_map(|(k, s)| s.iter().map(move |v| ((k.0, k.1.as_str()), v.as_str())))
            .rev()
            .collect();
        assert!(got == want, "round {round}: labels");
        assert!(
            t.contains((2, "item3"), "label7").unwrap()
                == labels
                    .get(&(2, "item3".into()))
                    .is_some_and(|s| s.contains("label7"))
        );
        drop(r);
        assert!(env.check().unwrap().is_ok());
    }
    let r = env.begin_read().unwrap();
    let raw = r.open_dup_table("followers").unwrap();
    let kind = raw.stat();
    assert!(kind.leaf_pages > 1);
}

#[test]
fn typed_tables_refuse_other_orders_types_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    // A table written through the byte API with 3-byte values.
    w.create_table("bytes")
        .unwrap()
        .put(&7u64.to_be_bytes(), b"abc")
        .unwrap();
    w.create_table_with("ints", KeyOrder::Integer).unwrap();
    w.create_dup_table("dups", mdbx_lite::DupSort::new())
        .unwrap();
    const AS_U64: TableDef<u64, u64> = TableDef::new("bytes");
    const AS_STR: TableDef<u64, &str> = TableDef::new("bytes");
    const INTS_BYTEWISE: TableDef<u64, ()> = TableDef::new("ints");
    const INTS_NATIVE: TableDef<Integer<u64>, ()> = TableDef::new("ints");
    const DUPS_PLAIN: TableDef<u64, ()> = TableDef::new("dups");
    const DUPS_INTEGER: MultimapDef<&str, Integer<u32>> = MultimapDef::new("dups");
    const MISSING: TableDef<u64, u64> = TableDef::new("missing");
    {
        let t = w.open(&AS_U64).unwrap();
        assert!(
            matches!(t.get(7), Err(Error::Decode(_))),
            "3 bytes are not a u64"
        );
        assert!(matches!(t.iter().next(), Some(Err(Error::Decode(_)))));
    }
    assert_eq!(w.open(&AS_STR).unwrap().get(7).unwrap(), Some("abc"));
    assert!(matches!(
        w.open(&INTS_BYTEWISE),
        Err(Error::TableKindMismatch { .. })
    ));
    assert!(w.open(&INTS_NATIVE).is_ok());
    assert!(matches!(
        w.open(&DUPS_PLAIN),
        Err(Error::TableKindMismatch { .. })
    ));
    assert!(matches!(
        w.open_multimap(&DUPS_INTEGER),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(w.open(&MISSING), Err(Error::TableNotFound(_))));
    // Integer keys of the wrong size cannot be made through the types; a 0 byte in a
    // string that a tuple continues after is refused before anything is written.
    const NAMED: TableDef<(&str, u8), ()> = TableDef::new("named");
    let mut t = w.create(&NAMED).unwrap();
    assert!(matches!(t.put(("a\0b", 1), ()), Err(Error::Invalid(_))));
    assert!(t.is_empty());
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    assert!(matches!(r.open(&MISSING), Err(Error::TableNotFound(_))));
}

#[test]
fn handles_keep_several_tables_open_in_one_write_transaction() {
    const SCORES: TableDef<u32, u64> = TableDef::new("scores");
    const TOTALS: TableDef<&str, u64> = TableDef::new("totals");
    const LOG: TableDef<u64, (u32, u64)> = TableDef::new("log");
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(3);
    let mut scores: BTreeMap<u32, u64> = BTreeMap::new();
    let mut w = env.begin_write().unwrap();
    let (s, t, l) = (
        w.handle(&SCORES).unwrap(),
        w.handle(&TOTALS).unwrap(),
        w.handle(&LOG).unwrap(),
    );
    for seq in 0..5000u64 {
        // Read one table, write the others from what was read, in turn.
        let player = rng.below(300) as u32;
        let old = s.get(&w, player).unwrap().unwrap_or(0);
        assert_eq!(old, scores.get(&player).copied().unwrap_or(0));
        let new = old + rng.below(10);
        s.put(&mut w, player, new).unwrap();
        scores.insert(player, new);
        let total = t.get(&w, "all").unwrap().unwrap_or(0) + (new - old);
        t.put(&mut w, "all", total).unwrap();
        l.put(&mut w, seq, (player, new)).unwrap();
        if seq % 7 == 0 {
            let victim = rng.below(300) as u32;
            assert_eq!(
                s.delete(&mut w, victim).unwrap(),
                scores.remove(&victim).is_some()
            );
        }
    }
    assert_eq!(s.len(&w).unwrap(), scores.len() as u64);
    let got: Vec<(u32, u64)> = s.iter(&w).unwrap().map(|e| e.unwrap()).collect();
    assert!(got.iter().map(|(k, v)| (k, v)).eq(scores.iter()));
    let last: Vec<u64> = l.range(&w, 4990..).unwrap().map(|e| e.unwrap().0).collect();
    assert_eq!(last, (4990..5000).collect::<Vec<_>>());
    assert!(l.contains_key(&w, 0).unwrap());
    // The full handle, then the light ones again.
    w.create(&TOTALS).unwrap().put("other", 1).unwrap();
    assert_eq!(t.get(&w, "other").unwrap(), Some(1));
    w.commit().unwrap();

    // A handle belongs to the transaction that opened it.
    let mut w2 = env.begin_write().unwrap();
    assert!(matches!(s.get(&w2, 1), Err(Error::Invalid(_))));
    assert!(matches!(s.put(&mut w2, 1, 1), Err(Error::Invalid(_))));
    let s2 = w2.handle(&SCORES).unwrap();
    assert!(w2.drop_table("scores").unwrap());
    assert!(matches!(s2.get(&w2, 1), Err(Error::TableNotFound(_))));
    // Made again under the same name as another kind or order: the old handle is
    // refused, never used on a table it was not made for.
    w2.create_table_with("scores", KeyOrder::Integer).unwrap();
    assert!(matches!(
        s2.get(&w2, 1),
        Err(Error::TableKindMismatch { .. })
    ));
    assert!(matches!(
        s2.put(&mut w2, 1, 1),
        Err(Error::TableKindMismatch { .. })
    ));
    // Multimap handles beside plain ones.
    const FANS: MultimapDef<u32, Integer<u32>> = MultimapDef::new("fans");
    let fans = w2.multimap_handle(&FANS).unwrap();
    let totals = w2.handle(&TOTALS).unwrap();
    for (star, fan) in [(1u32, 10u32), (1, 11), (2, 10), (1, 10)] {
        let new = fans.put(&mut w2, star, fan).unwrap();
        let n = totals.get(&w2, "fans").unwrap().unwrap_or(0);
        totals.put(&mut w2, "fans", n + u64::from(new)).unwrap();
    }
    assert_eq!(totals.get(&w2, "fans").unwrap(), Some(3));
    assert_eq!(fans.count(&w2, 1).unwrap(), 2);
    assert!(fans.contains(&w2, 2, 10).unwrap());
    let pairs: Vec<(u32, u32)> = fans.iter(&w2).unwrap().map(|p| p.unwrap()).collect();
    assert_eq!(pairs, [(1, 10), (1, 11), (2, 10)]);
    assert!(fans.delete(&mut w2, 1, 11).unwrap());
    assert_eq!(fans.delete_key(&mut w2, 2).unwrap(), 1);
    assert_eq!(fans.len(&w2).unwrap(), 1);
    let got: Vec<u32> = fans.get(&w2, 1).unwrap().map(|v| v.unwrap()).collect();
    assert_eq!(got, [10]);
    assert!(w2.drop_table("fans").unwrap());
    w2.create(&TableDef::<u32, u32>::new("fans")).unwrap();
    assert!(matches!(
        fans.get(&w2, 1),
        Err(Error::TableKindMismatch { .. })
    ));
    drop(w2);
    let r = env.begin_read().unwrap();
    assert_eq!(r.open(&SCORES).unwrap().len(), scores.len() as u64);
    assert!(env.check().unwrap().is_ok());
}

/// A timestamp that multimap tables keep newest first: a user type with its own order.
struct Newest;

fn newest_first(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    b.cmp(a)
}

const NEWEST_FIRST: mdbx_lite::Comparator =
    mdbx_lite::Comparator::new("newest-first", newest_first);

impl mdbx_lite::Value for Newest {
    type Ref<'a> = u64;
    type Bytes<'a> = [u8; 8];
    const WIDTH: Option<usize> = Some(8);
    fn encode(t: &u64) -> mdbx_lite::Result<[u8; 8]> {
        Ok(t.to_be_bytes())
    }
    fn decode(b: &[u8]) -> mdbx_lite::Result<u64> {
        let b: [u8; 8] = b
            .try_into()
            .map_err(|_| Error::Decode("a timestamp is 8 bytes".into()))?;
        Ok(u64::from_be_bytes(b))
    }
}

impl mdbx_lite::Key for Newest {
    const ORDER: KeyOrder = KeyOrder::Custom(NEWEST_FIRST);
}

#[test]
fn typed_multimap_values_follow_their_types_comparator() {
    const EVENTS: MultimapDef<&str, Newest> = MultimapDef::new("events");
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(3);
    let mut model: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create_multimap(&EVENTS).unwrap();
        for _ in 0..6000 {
            let sensor = format!("sensor-{}", rng.below(8));
            let at = rng.below(1 << 40);
            let new = model.entry(sensor.clone()).or_default().insert(at);
            assert_eq!(t.put(sensor.as_str(), at).unwrap(), new);
        }
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let t = r.open_multimap(&EVENTS).unwrap();
    assert_eq!(
        r.table_stat("events").unwrap().kind,
        "dup-sort, dup-fixed, custom-dup"
    );
    for (sensor, times) in &model {
        let got: Vec<u64> = t
            .get(sensor.as_str())
            .unwrap()
            .map(|v| v.unwrap())
            .collect();
        assert!(got.iter().eq(times.iter().rev()), "{sensor}: newest first");
    }
    // The byte API needs the comparator too.
    assert!(matches!(
        r.open_dup_table("events"),
        Err(Error::ComparatorMissing { .. })
    ));
    // A definition with another value order does not open the table.
    const BYTEWISE: MultimapDef<&str, u64> = MultimapDef::new("events");
    assert!(r.open_multimap(&BYTEWISE).is_err());
    let report = env.check_with(&[NEWEST_FIRST], &mut |_, _| {}).unwrap();
    assert!(
        report.is_ok() && report.order_unchecked.is_empty(),
        "{report:?}"
    );
}
