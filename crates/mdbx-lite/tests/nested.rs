//! Nested transactions and savepoints against a model: random changes at random depth,
//! each level committed or rolled back at random, the transaction compared with the
//! model after every level ends and the committed file checked (no page leaked or
//! used twice: free space is restored exactly).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use common::Rng;
use mdbx_lite::{DupSort, Env, Error, TableDef, WriteTxn};

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    plain: BTreeMap<Vec<u8>, Vec<u8>>,
    dups: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
    extra: Option<BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn key(rng: &mut Rng) -> Vec<u8> {
    format!("key{:05}", rng.below(3000)).into_bytes()
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(20) {
        0 => 3000 + rng.below(6000) as usize, // an overflow run
        _ => rng.below(120) as usize,
    };
    let b = rng.next() as u8;
    (0..len).map(|i| b.wrapping_add(i as u8)).collect()
}

fn verify(ctx: &str, txn: &mut WriteTxn, m: &Model) {
    let t = txn.open_table("t").unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = m.plain.clone().into_iter().collect();
    assert!(got == want, "{ctx}: table t differs from the model");
    assert_eq!(t.len(), m.plain.len() as u64, "{ctx}: count of t");
    let d = txn.open_dup_table("d").unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = d
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = m
        .dups
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
        .collect();
    assert!(got == want, "{ctx}: table d differs from the model");
    match (&m.extra, txn.open_table("x")) {
        (None, Err(Error::TableNotFound(_))) => {}
        (Some(x), Ok(t)) => assert_eq!(t.len(), x.len() as u64, "{ctx}: count of x"),
        (want, got) => panic!(
            "{ctx}: table x: model {:?}, got {:?}",
            want.is_some(),
            got.err()
        ),
    }
}

/// One random change of `txn` and the model.
fn change(txn: &mut WriteTxn, m: &mut Model, rng: &mut Rng) {
    match rng.below(10) {
        0..=3 => {
            let (k, v) = (key(rng), value(rng));
            txn.open_table("t").unwrap().put(&k, &v).unwrap();
            m.plain.insert(k, v);
        }
        4 | 5 => {
            let k = key(rng);
            let gone = txn.open_table("t").unwrap().delete(&k).unwrap();
            assert_eq!(gone, m.plain.remove(&k).is_some());
        }
        6 | 7 => {
            // A few hot keys grow nested trees.
            let spread = if rng.below(2) == 0 { 3 } else { 200 };
            let k = format!("d{}", rng.below(spread));
            let v = format!("v{:06}", rng.below(100_000)).into_bytes();
            let mut d = txn.open_dup_table("d").unwrap();
            if rng.below(4) == 0 {
                let gone = d.delete(k.as_bytes(), &v).unwrap();
                let set = m.dups.entry(k.clone().into_bytes()).or_default();
                assert_eq!(gone, set.remove(&v));
                if set.is_empty() {
                    m.dups.remove(k.as_bytes());
                }
            } else {
                let added = d.put(k.as_bytes(), &v).unwrap();
                let set = m.dups.entry(k.into_bytes()).or_default();
                assert_eq!(added, set.insert(v));
            }
        }
        8 => {
            // Table x made, filled or dropped.
            if m.extra.is_some() && rng.below(3) == 0 {
                assert!(txn.drop_table("x").unwrap());
                m.extra = None;
            } else {
                let mut x = txn.create_table("x").unwrap();
                let x_model = m.extra.get_or_insert_with(BTreeMap::new);
                for _ in 0..rng.below(50) {
                    let (k, v) = (key(rng), value(rng));
                    x.put(&k, &v).unwrap();
                    x_model.insert(k, v);
                }
            }
        }
        _ => {
            // A burst of deletes (pages merge and free).
            let start = key(rng);
            let doomed: Vec<Vec<u8>> = m
                .plain
                .range(start..)
                .take(40)
                .map(|(k, _)| k.clone())
                .collect();
            let mut t = txn.open_table("t").unwrap();
            for k in doomed {
                assert!(t.delete(&k).unwrap());
                m.plain.remove(&k);
            }
        }
    }
}

/// Levels the model test ran: nested transactions committed, rolled back, and
/// rollbacks to savepoints; the deepest level.
static COMMITTED: AtomicUsize = AtomicUsize::new(0);
static ROLLED_BACK: AtomicUsize = AtomicUsize::new(0);
static SAVEPOINT_ROLLBACKS: AtomicUsize = AtomicUsize::new(0);
static DEEPEST: AtomicUsize = AtomicUsize::new(0);

/// `steps` random changes, nested transactions and savepoints, `depth` levels deep.
fn run(ctx: &str, txn: &mut WriteTxn, m: &mut Model, rng: &mut Rng, depth: usize, steps: usize) {
    DEEPEST.fetch_max(depth, Relaxed);
    for step in 0..steps {
        match rng.below(40) {
            0 | 1 if depth < 5 && steps >= 6 => {
                let mut child_model = m.clone();
                let mut child = txn.begin_nested().unwrap();
                let ctx = format!("{ctx}/{step}n");
                run(
                    &ctx,
                    &mut child,
                    &mut child_model,
                    rng,
                    depth + 1,
                    steps / 6,
                );
                let committed = match rng.below(3) {
                    0 => {
                        child.abort().unwrap();
                        false
                    }
                    1 => {
                        drop(child);
                        false
                    }
                    _ => {
                        child.commit().unwrap();
                        *m = child_model;
                        true
                    }
                };
                let counter = if committed { &COMMITTED } else { &ROLLED_BACK };
                counter.fetch_add(1, Relaxed);
                verify(&ctx, txn, m);
            }
            2 if depth < 5 && steps >= 8 => {
                let sp = txn.savepoint().unwrap();
                let before = m.clone();
                let ctx = format!("{ctx}/{step}s");
                for round in 0..=rng.below(3) {
                    let mut inner = before.clone();
                    run(&ctx, txn, &mut inner, rng, depth + 1, steps / 8);
                    if rng.below(3) == 0 {
                        // Kept: the savepoint is dropped with its changes in place.
                        *m = inner;
                        break;
                    }
                    txn.rollback_to(&sp).unwrap();
                    SAVEPOINT_ROLLBACKS.fetch_add(1, Relaxed);
                    *m = before.clone();
                    verify(&format!("{ctx} round {round}"), txn, m);
                }
            }
            _ => change(txn, m, rng),
        }
    }
}

#[test]
fn nested_transactions_and_savepoints_match_a_model() {
    for seed in 0..6u64 {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(seed);
        let mut m = Model::default();
        for round in 0..4 {
            let mut w = env.begin_write().unwrap();
            w.create_table("t").unwrap();
            w.create_dup_table("d", DupSort::new()).unwrap();
            let ctx = format!("seed {seed} round {round}");
            run(&ctx, &mut w, &mut m, &mut rng, 0, 400);
            verify(&ctx, &mut w, &m);
            w.commit().unwrap();
            let report = env.check().unwrap();
            assert!(report.is_ok(), "{ctx}: {:?}", report.problems);
        }
        // After a reopen too.
        drop(env);
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut w = env.begin_write().unwrap();
        verify(&format!("seed {seed} reopened"), &mut w, &m);
    }
    // The test ran what it is about.
    let ran = [&COMMITTED, &ROLLED_BACK, &SAVEPOINT_ROLLBACKS].map(|c| c.load(Relaxed));
    eprintln!("levels run: {ran:?}, deepest {}", DEEPEST.load(Relaxed));
    assert!(ran.iter().all(|&n| n >= 20), "levels run: {ran:?}");
    assert!(
        DEEPEST.load(Relaxed) >= 2,
        "depth {}",
        DEEPEST.load(Relaxed)
    );
}

#[test]
fn an_aborted_child_leaves_the_file_as_if_it_never_ran() {
    // Two databases get the same changes; one of them also runs and aborts children
    // that change a lot. Their committed pages are the same in number.
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut sizes = Vec::new();
    for (n, dir) in dirs.iter().enumerate() {
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut rng = Rng(5);
        let mut w = env.begin_write().unwrap();
        for i in 0..20_000u32 {
            let k = format!("k{:08}", rng.below(1_000_000));
            w.create_table("t")
                .unwrap()
                .put(k.as_bytes(), &i.to_le_bytes())
                .unwrap();
            if n == 1 && i % 5000 == 0 {
                let mut child = w.begin_nested().unwrap();
                let mut t = child.create_table("t").unwrap();
                for j in 0..3000u32 {
                    let k = format!("k{:08}", splitmix_key(i, j));
                    t.put(k.as_bytes(), &[7u8; 200]).unwrap();
                }
                t.put(b"big", &vec![1u8; 100_000]).unwrap();
                drop(child);
            }
        }
        w.commit().unwrap();
        let report = env.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        sizes.push((report.pages.leaf, report.pages.branch, report.high_water));
    }
    assert_eq!(sizes[0].0, sizes[1].0, "leaf pages");
    assert_eq!(sizes[0].1, sizes[1].1, "branch pages");
}

fn splitmix_key(i: u32, j: u32) -> u64 {
    common::splitmix(u64::from(i) << 32 | u64::from(j)) % 1_000_000
}

#[test]
fn savepoints_and_handles_refuse_misuse() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    w.create_table("t").unwrap().put(b"a", b"1").unwrap();
    let outer = w.savepoint().unwrap();
    {
        let mut child = w.begin_nested().unwrap();
        // A savepoint taken outside a nested transaction cannot be rolled back to
        // inside it.
        assert!(matches!(child.rollback_to(&outer), Err(Error::Invalid(_))));
        let inner = child.savepoint().unwrap();
        child.open_table("t").unwrap().put(b"b", b"2").unwrap();
        child.rollback_to(&inner).unwrap();
        child.rollback_to(&inner).unwrap(); // any number of times
        child.commit().unwrap();
        // Its level ended with the nested transaction.
        assert!(matches!(w.rollback_to(&inner), Err(Error::Invalid(_))));
    }
    let later = w.savepoint().unwrap();
    w.rollback_to(&outer).unwrap();
    assert!(
        matches!(w.rollback_to(&later), Err(Error::Invalid(_))),
        "rolled back past"
    );
    // A typed handle opened in a rolled-back level does not reach the table that takes
    // its slot afterwards.
    const X: TableDef<u64, u64> = TableDef::new("x");
    const Y: TableDef<u64, u64> = TableDef::new("y");
    let x = {
        let mut child = w.begin_nested().unwrap();
        let x = child.handle(&X).unwrap();
        x.put(&mut child, 1, 1).unwrap();
        x
    };
    let y = w.handle(&Y).unwrap();
    y.put(&mut w, 2, 2).unwrap();
    assert!(matches!(x.get(&w, 1), Err(Error::Invalid(_))));
    // Another transaction's savepoint.
    w.commit().unwrap();
    let stranger = {
        let mut w = env.begin_write().unwrap();
        w.savepoint().unwrap()
    };
    let mut w = env.begin_write().unwrap();
    assert!(matches!(w.rollback_to(&stranger), Err(Error::Invalid(_))));
    assert_eq!(w.open_table("t").unwrap().len(), 1);
}
