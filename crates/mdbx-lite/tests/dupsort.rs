//! Dup-sort tables against a `BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>` model: random puts,
//! deletes of pairs and of whole keys, with a few keys growing past the nested-tree
//! threshold and shrinking back; after every transaction (committed or aborted) the
//! table's pairs, per-key values and counts, cursor moves both ways and `check` agree
//! with the model. Also the kind rules (opening a table as the wrong kind), the value
//! limits, and dup-fixed tables.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Rng;
use mdbx_lite::{DupSort, DupTable, Env, Error};

type Model = BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>;

fn model_pairs(m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
        .collect()
}

/// Everything the read API says about `t` agrees with `m`.
fn verify(ctx: &str, t: &DupTable<'_>, m: &Model) {
    let want = model_pairs(m);
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<mdbx_lite::Result<_>>()
        .unwrap();
    assert_eq!(got.len(), want.len(), "{ctx}: pair count");
    assert!(got == want, "{ctx}: pairs differ");
    assert_eq!(t.len(), want.len() as u64, "{ctx}: len");
    assert_eq!(t.stat().keys, m.len() as u64, "{ctx}: keys");
    for (k, vs) in m {
        assert_eq!(t.count(k).unwrap(), vs.len() as u64, "{ctx}: count");
        assert_eq!(t.get(k).unwrap(), vs.first().map(|v| &v[..]), "{ctx}: get");
        let values: Vec<&[u8]> = t.values(k).unwrap().map(|v| v.unwrap()).collect();
        assert!(
            values.iter().copied().eq(vs.iter().map(|v| &v[..])),
            "{ctx}: values"
        );
    }
    // Backwards over every pair.
    let mut c = t.cursor();
    let mut back = Vec::new();
    let mut p = c.last().unwrap();
    while let Some((k, v)) = p {
        back.push((k.to_vec(), v.to_vec()));
        p = c.prev().unwrap();
    }
    back.reverse();
    assert!(back == want, "{ctx}: backward walk differs");
    // Key by key, with the counts the cursor reports.
    let mut c = t.cursor();
    let mut p = c.first().unwrap();
    let mut keys = m.iter();
    while let Some((k, _)) = p {
        let (mk, mv) = keys.next().expect("cursor has more keys than the model");
        assert_eq!(k, &mk[..], "{ctx}: next_key order");
        assert_eq!(c.count().unwrap(), mv.len() as u64, "{ctx}: cursor count");
        let last = c.last_dup().unwrap().unwrap();
        assert_eq!(last.1, &mv.last().unwrap()[..], "{ctx}: last_dup");
        p = c.next_key().unwrap();
    }
    assert!(keys.next().is_none(), "{ctx}: cursor missed keys");
}

/// Every key's values read back run by run (`get_multiple`, `next_multiple`) are its
/// values in order, from its first value and from one in the middle.
fn verify_runs(ctx: &str, t: &DupTable<'_>, m: &Model, size: usize) {
    let mut c = t.cursor();
    for (k, vs) in m {
        let want: Vec<u8> = vs.iter().flatten().copied().collect();
        assert!(c.seek_key(k).unwrap().is_some(), "{ctx}: seek_key");
        assert_eq!(runs_from(&mut c, k, size), want, "{ctx}: runs of a key");
        let mid = vs.iter().nth(vs.len() / 2).unwrap();
        assert!(c.seek_value(k, mid).unwrap().is_some(), "{ctx}: seek_value");
        let rest: Vec<u8> = vs.range(mid.clone()..).flatten().copied().collect();
        assert_eq!(runs_from(&mut c, k, size), rest, "{ctx}: runs from a value");
    }
}

/// The values of the runs from the cursor's position to the end of key `k`.
fn runs_from(c: &mut mdbx_lite::DupCursor<'_>, k: &[u8], size: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut run = c.get_multiple().unwrap().map(|(k, v)| (k, v.to_vec()));
    while let Some((key, values)) = run {
        assert_eq!(key, k);
        assert!(!values.is_empty() && values.len() % size == 0);
        assert!(values.len() <= 4096, "a run is at most a page");
        got.extend_from_slice(&values);
        // The cursor stands on the run's last value.
        let cur = c.current().unwrap().unwrap();
        assert_eq!(cur.1, &values[values.len() - size..]);
        run = c.next_multiple().unwrap().map(|(k, v)| (k, v.to_vec()));
    }
    // After the last run the cursor stays on the key's last value.
    assert!(c.next_multiple().unwrap().is_none());
    got
}

fn value_of(rng: &mut Rng, fixed: bool) -> Vec<u8> {
    if fixed {
        return rng.next().to_be_bytes().to_vec();
    }
    // Short values sharing prefixes, some empty, a few long.
    let len = match rng.below(10) {
        0 => 0,
        1 => 100 + rng.below(300) as usize,
        _ => 1 + rng.below(12) as usize,
    };
    let mut v: Vec<u8> = (0..len)
        .map(|i| b'a' + ((rng.next() >> (i % 8)) % 3) as u8)
        .collect();
    if len > 0 && rng.below(2) == 0 {
        v[0] = b'z';
    }
    v
}

fn run_model(seed: u64, fixed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let kind = if fixed {
        DupSort::new().fixed()
    } else {
        DupSort::new()
    };
    let mut rng = Rng(seed);
    let mut model = Model::new();
    for round in 0..40 {
        let mut wtx = env.begin_write().unwrap();
        let mut t = wtx.create_dup_table("d", kind).unwrap();
        let mut m = model.clone();
        // Keys 0..40, a few "hot" ones getting most values: they cross the nested-tree
        // threshold, and the delete-heavy rounds shrink them back.
        let shrinking = round % 10 >= 7;
        for _ in 0..400 {
            let hot = rng.below(4) != 0;
            let k = if hot { rng.below(3) } else { rng.below(40) };
            let key = format!("key/{k:02}").into_bytes();
            let op = rng.below(100);
            if (shrinking && op < 70) || (!shrinking && op < 12) {
                // Delete one of the key's values (or a missing one).
                let v = match m.get(&key) {
                    Some(vs) if !vs.is_empty() && rng.below(4) != 0 => {
                        let i = rng.below(vs.len() as u64) as usize;
                        vs.iter().nth(i).unwrap().clone()
                    }
                    _ => value_of(&mut rng, fixed),
                };
                let had = m.get_mut(&key).is_some_and(|vs| vs.remove(&v));
                if m.get(&key).is_some_and(|vs| vs.is_empty()) {
                    m.remove(&key);
                }
                assert_eq!(t.delete(&key, &v).unwrap(), had);
            } else if op < 14 + if shrinking { 60 } else { 0 } && !hot {
                let n = m.remove(&key).map_or(0, |vs| vs.len() as u64);
                assert_eq!(t.delete_key(&key).unwrap(), n);
            } else {
                let v = value_of(&mut rng, fixed);
                let new = m.entry(key.clone()).or_default().insert(v.clone());
                assert_eq!(t.put(&key, &v).unwrap(), new);
            }
        }
        assert_eq!(
            t.len(),
            model_pairs(&m).len() as u64,
            "round {round}: len in txn"
        );
        if round % 5 == 4 {
            // Abort: nothing of the round stays.
            wtx.abort();
        } else {
            wtx.commit().unwrap();
            model = m;
        }
        let rtx = env.begin_read().unwrap();
        let t = rtx.open_dup_table("d").unwrap();
        verify(&format!("seed {seed} round {round}"), &t, &model);
        if fixed {
            verify_runs(&format!("seed {seed} round {round}"), &t, &model, 8);
        } else {
            let mut c = t.cursor();
            c.first().unwrap();
            assert!(matches!(c.get_multiple(), Err(Error::Invalid(_))));
        }
        drop(rtx);
        if round % 8 == 0 || round == 39 {
            let report = env.check().unwrap();
            assert!(
                report.is_ok(),
                "round {round}: check: {:?}",
                report.problems
            );
        }
    }
    // Some key did go nested on the way (3 hot keys, hundreds of values each).
    let rtx = env.begin_read().unwrap();
    let t = rtx.open_dup_table("d").unwrap();
    assert!(t.stat().leaf_pages > 1, "{:?}", t.stat());
}

#[test]
fn dupsort_tables_match_a_model() {
    for seed in [1, 2, 3] {
        run_model(seed, false);
    }
}

#[test]
fn dupfixed_tables_match_a_model() {
    run_model(7, true);
}

#[test]
fn a_key_with_a_million_values_stays_a_tree_and_deleting_it_frees_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let n = if cfg!(debug_assertions) {
        100_000u64
    } else {
        1_000_000
    };
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx.create_dup_table("d", DupSort::new().fixed()).unwrap();
    for i in 0..n {
        // Scrambled order: inserts land all over the nested tree.
        let v = common::splitmix(i).to_be_bytes();
        assert!(t.put(b"hot", &v).unwrap());
    }
    t.put(b"cold", b"12345678").unwrap();
    let nested_pages = t.stat().leaf_pages;
    wtx.commit().unwrap();
    let rtx = env.begin_read().unwrap();
    let t = rtx.open_dup_table("d").unwrap();
    assert_eq!(t.count(b"hot").unwrap(), n);
    assert_eq!(t.len(), n + 1);
    assert!(
        t.stat().depth == 1 && nested_pages > n / 1000,
        "{:?}",
        t.stat()
    );
    let mut c = t.cursor();
    let probe = common::splitmix(n / 2).to_be_bytes();
    assert_eq!(c.seek_pair(b"hot", &probe).unwrap().unwrap().1, &probe);
    let (_, v) = c.seek_value(b"hot", &[0x80]).unwrap().unwrap();
    assert!(v >= &[0x80][..]);
    let prev = c.prev_dup().unwrap().unwrap().1.to_vec();
    assert!(prev.as_slice() < v);
    assert!(t.contains(b"hot", &probe).unwrap());
    assert!(!t.contains(b"hot", b"00000000").unwrap());
    // Every value, in order, across all the nested tree's leaves, and nothing after.
    let mut want: Vec<[u8; 8]> = (0..n).map(|i| common::splitmix(i).to_be_bytes()).collect();
    want.sort_unstable();
    let mut values = t.values(b"hot").unwrap();
    for (i, w) in want.iter().enumerate() {
        assert_eq!(values.next().unwrap().unwrap(), w, "value {i}");
    }
    assert!(values.next().is_none() && values.next().is_none());
    drop(rtx);
    let before = env.stat().unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx.open_dup_table("d").unwrap();
    assert_eq!(t.delete_key(b"hot").unwrap(), n);
    assert_eq!(t.stat().leaf_pages + t.stat().branch_pages, 1);
    wtx.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let after = env.stat().unwrap();
    assert!(after.main.entries == before.main.entries);
}

#[test]
fn table_kinds_are_kept_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    wtx.create_table("plain").unwrap().put(b"k", b"v").unwrap();
    wtx.create_dup_table("dups", DupSort::new()).unwrap();
    wtx.create_dup_table("fixed", DupSort::new().fixed())
        .unwrap();
    let kind_error = |r: Result<(), Error>| match r {
        Err(Error::TableKindMismatch { .. }) => {}
        other => panic!("expected a kind mismatch, got {other:?}"),
    };
    kind_error(wtx.open_table("dups").map(|_| ()));
    kind_error(wtx.create_table("fixed").map(|_| ()));
    kind_error(wtx.open_dup_table("plain").map(|_| ()));
    kind_error(wtx.create_dup_table("plain", DupSort::new()).map(|_| ()));
    kind_error(
        wtx.create_dup_table("dups", DupSort::new().fixed())
            .map(|_| ()),
    );
    assert!(wtx.open_dup_table("fixed").is_ok());
    let mut f = wtx.open_dup_table("fixed").unwrap();
    f.put(b"k", b"abcd").unwrap();
    assert!(matches!(
        f.put(b"k", b"abcde"),
        Err(Error::DupValueSize {
            len: 5,
            expected: 4
        })
    ));
    assert!(matches!(f.put(b"k", b""), Err(Error::DupValueSize { .. })));
    let mut d = wtx.open_dup_table("dups").unwrap();
    let max = env.max_key_size();
    assert!(d.put(b"k", &vec![1u8; max]).unwrap());
    assert!(matches!(
        d.put(b"k", &vec![1u8; max + 1]),
        Err(Error::DupValueTooLarge { .. })
    ));
    assert!(matches!(
        d.put_unique(b"k", &vec![1u8; max]),
        Err(Error::KeyExists)
    ));
    d.put_unique(b"k", b"x").unwrap();
    // The longest dup-sort key with the longest values: inline room for neither, so
    // even one value lives in a nested tree.
    let long_key = vec![7u8; env.max_dup_key_size()];
    assert!(d.put(&long_key, &vec![2u8; max]).unwrap());
    assert!(d.put(&long_key, &vec![3u8; max]).unwrap());
    assert_eq!(d.count(&long_key).unwrap(), 2);
    assert!(d.delete(&long_key, &vec![3u8; max]).unwrap());
    assert_eq!(d.get(&long_key).unwrap(), Some(&vec![2u8; max][..]));
    let too_long = vec![7u8; env.max_dup_key_size() + 1];
    assert!(matches!(
        d.put(&too_long, b"v"),
        Err(Error::KeyTooLarge { .. })
    ));
    // Deletes of keys no table can hold find nothing.
    assert!(!d.delete(&too_long, b"v").unwrap());
    assert_eq!(d.delete_key(&vec![7u8; env.max_key_size() + 1]).unwrap(), 0);
    wtx.commit().unwrap();

    drop(env);
    let env = Env::open(dir.path().join("db")).unwrap();
    let rtx = env.begin_read().unwrap();
    let e = rtx.open_table("dups").map(|_| ()).unwrap_err();
    assert!(e.to_string().contains("dup-sort"), "{e}");
    assert_eq!(
        rtx.open_dup_table("fixed").unwrap().stat().fixed_value_size,
        4
    );
    assert_eq!(
        rtx.open_dup_table("fixed").unwrap().stat().kind,
        "dup-sort, dup-fixed"
    );
    assert_eq!(rtx.open_dup_table("dups").unwrap().len(), 3);
    assert!(rtx.open_dup_table("plain").is_err());
    assert_eq!(rtx.open_table("plain").unwrap().stat().kind, "plain");
    // Dropping a dup-sort table frees its pages; the name can come back as another kind.
    drop(rtx);
    let mut wtx = env.begin_write().unwrap();
    assert!(wtx.drop_table("dups").unwrap());
    wtx.create_table("dups").unwrap().put(b"a", b"b").unwrap();
    wtx.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn ranges_yield_the_pairs_of_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx.create_dup_table("d", DupSort::new()).unwrap();
    for k in 0..50u32 {
        for v in 0..(k % 7) * 100 + 1 {
            t.put(format!("k{k:02}").as_bytes(), &v.to_be_bytes())
                .unwrap();
        }
    }
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .range(&b"k10"[..]..&b"k13"[..])
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<mdbx_lite::Result<_>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = (10..13u32)
        .flat_map(|k| {
            (0..(k % 7) * 100 + 1)
                .map(move |v| (format!("k{k:02}").into_bytes(), v.to_be_bytes().to_vec()))
        })
        .collect();
    assert_eq!(got, want);
    let after: Vec<_> = t
        .range::<&[u8], _>((
            std::ops::Bound::Excluded(&b"k48"[..]),
            std::ops::Bound::Unbounded,
        ))
        .map(|p| p.unwrap().0.to_vec())
        .collect();
    // Every kind of bound, keys present and absent, forwards, backwards and from both
    // ends at once, against the pairs filtered from a full scan.
    use std::ops::Bound::{self, Excluded, Included, Unbounded};
    let all: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<mdbx_lite::Result<_>>()
        .unwrap();
    let keys: [&[u8]; 6] = [b"k00", b"k05", b"k06", b"k055", b"k49", b"z"];
    let mut bounds: Vec<Bound<&[u8]>> = vec![Unbounded];
    for k in keys {
        bounds.push(Included(k));
        bounds.push(Excluded(k));
    }
    for lo in &bounds {
        for hi in &bounds {
            let inside = |k: &[u8]| {
                let above = match lo {
                    Included(l) => k >= *l,
                    Excluded(l) => k > *l,
                    Unbounded => true,
                };
                let below = match hi {
                    Included(h) => k <= *h,
                    Excluded(h) => k < *h,
                    Unbounded => true,
                };
                above && below
            };
            let want: Vec<_> = all.iter().filter(|(k, _)| inside(k)).cloned().collect();
            let range = || t.range::<&[u8], _>((*lo, *hi));
            let own = |p: mdbx_lite::Result<(&[u8], &[u8])>| {
                let (k, v) = p.unwrap();
                (k.to_vec(), v.to_vec())
            };
            let fwd: Vec<_> = range().map(own).collect();
            assert_eq!(fwd, want, "{lo:?}..{hi:?} forwards");
            let mut back: Vec<_> = range().rev().map(own).collect();
            back.reverse();
            assert_eq!(back, want, "{lo:?}..{hi:?} backwards");
            // Both ends in turn meet without losing or repeating a pair.
            let mut r = range();
            let (mut front, mut tail) = (Vec::new(), Vec::new());
            while let Some(p) = r.next() {
                front.push(own(p));
                match r.next_back() {
                    Some(p) => tail.push(own(p)),
                    None => break,
                }
            }
            tail.reverse();
            front.extend(tail);
            assert_eq!(front, want, "{lo:?}..{hi:?} from both ends");
        }
    }
    // Key 49 (49 % 7 == 0) holds one value.
    assert_eq!(after, [b"k49".to_vec()]);
    wtx.commit().unwrap();
}

#[test]
fn a_key_moves_into_a_nested_tree_and_back_as_it_grows_and_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx.create_dup_table("d", DupSort::new()).unwrap();
    let pages = |t: &mdbx_lite::DupTableMut<'_>| t.stat().leaf_pages + t.stat().branch_pages;
    t.put(b"k", b"only").unwrap();
    assert_eq!(pages(&t), 1);
    for i in 0..3000u32 {
        t.put(b"k", format!("value {i:05}").as_bytes()).unwrap();
    }
    // The key's values left its leaf for a nested tree of their own.
    assert!(pages(&t) > 10, "{:?}", t.stat());
    for i in 0..2990u32 {
        assert!(t.delete(b"k", format!("value {i:05}").as_bytes()).unwrap());
    }
    // Eleven short values fit inline again: only the table's own leaf is left.
    assert_eq!(pages(&t), 1, "{:?}", t.stat());
    assert_eq!(t.count(b"k").unwrap(), 11);
    for i in 2990..3000u32 {
        assert!(t.delete(b"k", format!("value {i:05}").as_bytes()).unwrap());
    }
    assert_eq!(t.get(b"k").unwrap(), Some(&b"only"[..]));
    assert_eq!((t.len(), t.stat().keys), (1, 1));
    assert!(t.delete(b"k", b"only").unwrap());
    assert_eq!((t.len(), t.stat().keys, pages(&t)), (0, 0, 0));
    wtx.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// A block takes a value in at every position and gives any one back, in both kinds of
/// block; the last value but one leaves a plain entry (`check` refuses a block of one).
#[test]
fn block_values_go_in_and_out_at_every_position() {
    for fixed in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let kind = if fixed {
            DupSort::new().fixed()
        } else {
            DupSort::new()
        };
        let value = |i: u8| {
            if fixed {
                vec![b'a' + i; 4]
            } else {
                vec![b'a' + i; 1 + usize::from(i % 3)]
            }
        };
        for n in 2..6u8 {
            for gone in 0..n {
                let mut wtx = env.begin_write().unwrap();
                let mut t = wtx.create_dup_table("d", kind).unwrap();
                t.delete_key(b"k").unwrap();
                // One value, then one in front, one at the back, the rest in between.
                let mid = n / 2;
                let mut order = vec![mid];
                for i in [0, n - 1].into_iter().chain(1..n - 1) {
                    if !order.contains(&i) {
                        order.push(i);
                    }
                }
                for &i in &order {
                    assert!(t.put(b"k", &value(i)).unwrap());
                    assert!(!t.put(b"k", &value(i)).unwrap());
                }
                assert!(t.delete(b"k", &value(gone)).unwrap());
                assert!(!t.delete(b"k", &value(gone)).unwrap());
                let want: Vec<Vec<u8>> = (0..n).filter(|&i| i != gone).map(value).collect();
                let got: Vec<Vec<u8>> = t
                    .values(b"k")
                    .unwrap()
                    .map(|v| v.unwrap().to_vec())
                    .collect();
                assert_eq!(got, want, "fixed {fixed}, {n} values, removed {gone}");
                assert_eq!(t.count(b"k").unwrap(), u64::from(n - 1));
                wtx.commit().unwrap();
                let report = env.check().unwrap();
                assert!(
                    report.is_ok(),
                    "fixed {fixed}, {n} values, removed {gone}: {:?}",
                    report.problems
                );
            }
        }
    }
}

#[test]
fn dup_fixed_runs_cover_a_large_key_in_any_insert_order() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(11);
    let mut m = Model::new();
    let mut wtx = env.begin_write().unwrap();
    let mut t = wtx
        .create_dup_table("ids", DupSort::new().fixed().integer_values())
        .unwrap();
    // One key filled in ascending order (leaves as splits lay them out), one in random
    // order and thinned by deletes (entries scattered in their pages), small keys around.
    for i in 0u32..60_000 {
        t.put(b"asc", &i.to_ne_bytes()).unwrap();
        m.entry(b"asc".to_vec())
            .or_default()
            .insert(i.to_ne_bytes().to_vec());
        let r = rng.below(1 << 30) as u32;
        t.put(b"rnd", &r.to_ne_bytes()).unwrap();
        m.entry(b"rnd".to_vec())
            .or_default()
            .insert(r.to_ne_bytes().to_vec());
        if i % 3 == 0 {
            let v = (i / 3).to_ne_bytes();
            t.put(b"small", &v[..]).unwrap();
            m.entry(b"small".to_vec()).or_default().insert(v.to_vec());
        }
    }
    for i in (0u32..60_000).step_by(7) {
        let r = m[&b"rnd"[..]]
            .iter()
            .nth(i as usize % 50_000)
            .unwrap()
            .clone();
        assert!(t.delete(b"rnd", &r).unwrap());
        m.get_mut(&b"rnd"[..]).unwrap().remove(&r);
    }
    t.put(b"one", &7u32.to_ne_bytes()).unwrap();
    m.entry(b"one".to_vec())
        .or_default()
        .insert(7u32.to_ne_bytes().to_vec());
    // Integer order: the model sorts the native-endian bytes as numbers.
    let by_number = |vs: &BTreeSet<Vec<u8>>| -> Vec<u8> {
        let mut n: Vec<u32> = vs
            .iter()
            .map(|v| u32::from_ne_bytes(v[..].try_into().unwrap()))
            .collect();
        n.sort_unstable();
        n.iter().flat_map(|x| x.to_ne_bytes()).collect()
    };
    let check = |t: &DupTable<'_>| {
        let mut c = t.cursor();
        for (k, vs) in &m {
            assert!(c.seek_key(k).unwrap().is_some());
            let mut runs = 0;
            let mut got = Vec::new();
            let mut run = c.get_multiple().unwrap().map(|(_, v)| v.to_vec());
            while let Some(v) = run {
                runs += 1;
                got.extend_from_slice(&v);
                run = c.next_multiple().unwrap().map(|(_, v)| v.to_vec());
            }
            assert_eq!(got, by_number(vs), "key {:?}", String::from_utf8_lossy(k));
            // Nested keys come in page-sized runs, not value by value.
            assert!(
                runs <= vs.len() / 200 + 1,
                "{runs} runs for {} values",
                vs.len()
            );
        }
    };
    wtx.commit().unwrap();
    let rtx = env.begin_read().unwrap();
    check(&rtx.open_dup_table("ids").unwrap());
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn ranges_follow_the_key_and_value_orders_from_both_ends() {
    use mdbx_lite::KeyOrder;
    use std::ops::Bound;
    let kinds = [
        (
            DupSort::new().keys(KeyOrder::Integer).integer_values(),
            KeyOrder::Integer,
            KeyOrder::Integer,
        ),
        (
            DupSort::new().keys(KeyOrder::Reverse).reverse_values(),
            KeyOrder::Reverse,
            KeyOrder::Reverse,
        ),
        (
            DupSort::new().fixed().integer_values(),
            KeyOrder::Bytes,
            KeyOrder::Integer,
        ),
    ];
    for (n, (kind, keys, values)) in kinds.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(40 + n as u64);
        let key_of = |x: u64| -> Vec<u8> {
            match keys {
                KeyOrder::Integer => (x * 77_777).to_ne_bytes().to_vec(),
                _ => format!("k{}", x * 13 % 1000).into_bytes(),
            }
        };
        let value_of = |x: u64| -> Vec<u8> {
            match values {
                KeyOrder::Integer => ((x * 2_654_435_761) as u32).to_ne_bytes().to_vec(),
                _ => format!("v{x}").into_bytes(),
            }
        };
        let mut pairs = Vec::new();
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_dup_table("d", kind).unwrap();
            for _ in 0..6000 {
                // Some keys with hundreds of values (nested trees), most with few.
                let k = key_of(if rng.below(3) == 0 {
                    rng.below(3)
                } else {
                    rng.below(300)
                });
                let v = value_of(rng.below(100_000));
                if t.put(&k, &v).unwrap() {
                    pairs.push((k, v));
                }
            }
        }
        w.commit().unwrap();
        pairs.sort_by(|a, b| {
            keys.compare(&a.0, &b.0)
                .then_with(|| values.compare(&a.1, &b.1))
        });
        let r = env.begin_read().unwrap();
        let t = r.open_dup_table("d").unwrap();
        let owned = |p: mdbx_lite::Result<(&[u8], &[u8])>| {
            let (k, v) = p.unwrap();
            (k.to_vec(), v.to_vec())
        };
        let all: Vec<_> = t.iter().map(owned).collect();
        assert!(all == pairs, "kind {n}: whole walk");
        for round in 0..60 {
            let (a, b) = (key_of(rng.below(310)), key_of(rng.below(310)));
            let (lo, hi) = if keys.compare(&a, &b).is_le() {
                (a, b)
            } else {
                (b, a)
            };
            let (start, end) = match round % 4 {
                0 => (Bound::Included(lo), Bound::Excluded(hi)),
                1 => (Bound::Excluded(lo), Bound::Included(hi)),
                2 => (Bound::Unbounded, Bound::Included(hi)),
                _ => (Bound::Included(lo), Bound::Unbounded),
            };
            let inside = |k: &[u8]| {
                let after = match &start {
                    Bound::Included(s) => keys.compare(k, s).is_ge(),
                    Bound::Excluded(s) => keys.compare(k, s).is_gt(),
                    Bound::Unbounded => true,
                };
                let before = match &end {
                    Bound::Included(e) => keys.compare(k, e).is_le(),
                    Bound::Excluded(e) => keys.compare(k, e).is_lt(),
                    Bound::Unbounded => true,
                };
                after && before
            };
            let want: Vec<_> = pairs.iter().filter(|p| inside(&p.0)).cloned().collect();
            let range = || t.range((start.clone(), end.clone()));
            let fwd: Vec<_> = range().map(owned).collect();
            assert!(fwd == want, "kind {n} round {round}: forward");
            let mut back: Vec<_> = range().rev().map(owned).collect();
            back.reverse();
            assert!(back == want, "kind {n} round {round}: backward");
            // Both ends at once: they meet without overlap or gap.
            let mut it = range();
            let (mut front, mut tail) = (Vec::new(), Vec::new());
            loop {
                let next = if rng.below(2) == 0 {
                    it.next().map(|p| (true, p))
                } else {
                    it.next_back().map(|p| (false, p))
                };
                match next {
                    Some((true, p)) => front.push(owned(p)),
                    Some((false, p)) => tail.push(owned(p)),
                    None => break,
                }
            }
            tail.reverse();
            front.extend(tail);
            assert!(front == want, "kind {n} round {round}: from both ends");
        }
    }
}
