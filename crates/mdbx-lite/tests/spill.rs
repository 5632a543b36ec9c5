//! Write transactions past their dirty limit: the oldest dirty pages are written early
//! and read back when touched again. Checked against a model with the smallest limit
//! (64 pages), so that nearly every transaction spills: puts, deletes, overflow values,
//! dup-sort tables, nested transactions and savepoints (which stop spilling while open
//! but must roll back pages spilled before them), commits and aborts.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Rng;
use mdbx_lite::{DupSort, Env, WriteTxn};

#[derive(Clone, Debug, Default, PartialEq)]
struct Model {
    plain: BTreeMap<Vec<u8>, Vec<u8>>,
    dups: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
}

fn change(w: &mut WriteTxn, m: &mut Model, rng: &mut Rng, n: usize) {
    for _ in 0..n {
        let k = format!("key{:06}", rng.below(20_000)).into_bytes();
        match rng.below(10) {
            0..=5 => {
                let len = if rng.below(40) == 0 {
                    5000 + rng.below(10_000) as usize
                } else {
                    rng.below(300) as usize
                };
                let v = vec![rng.next() as u8; len];
                w.create_table("t").unwrap().put(&k, &v).unwrap();
                m.plain.insert(k, v);
            }
            6 | 7 => {
                let gone = w.create_table("t").unwrap().delete(&k).unwrap();
                assert_eq!(gone, m.plain.remove(&k).is_some());
            }
            _ => {
                let dk = format!("d{:03}", rng.below(200)).into_bytes();
                let v = format!("value{:05}", rng.below(3000)).into_bytes();
                let mut d = w.create_dup_table("d", DupSort::new()).unwrap();
                if rng.below(3) == 0 {
                    let had = m.dups.get_mut(&dk).is_some_and(|s| s.remove(&v));
                    assert_eq!(d.delete(&dk, &v).unwrap(), had);
                } else {
                    d.put(&dk, &v).unwrap();
                    m.dups.entry(dk).or_default().insert(v);
                }
            }
        }
    }
    m.dups.retain(|_, s| !s.is_empty());
}

fn read(w: &mut WriteTxn) -> Model {
    let mut m = Model::default();
    if let Ok(t) = w.open_table("t") {
        for e in t.iter() {
            let (k, v) = e.unwrap();
            m.plain.insert(k.to_vec(), v.to_vec());
        }
    }
    if let Ok(d) = w.open_dup_table("d") {
        for p in d.iter() {
            let (k, v) = p.unwrap();
            m.dups.entry(k.to_vec()).or_default().insert(v.to_vec());
        }
    }
    m
}

#[test]
fn transactions_past_the_dirty_limit_match_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::builder()
        .dirty_limit(0) // the floor: 64 pages
        .open(dir.path().join("db"))
        .unwrap();
    let mut rng = Rng(3);
    let mut committed = Model::default();
    let mut spilled_total = 0;
    for round in 0..30 {
        let mut w = env.begin_write().unwrap();
        let mut m = committed.clone();
        change(&mut w, &mut m, &mut rng, 2000);
        // A nested transaction over spilled pages, committed or rolled back.
        {
            let mut child = w.begin_nested().unwrap();
            let mut cm = m.clone();
            change(&mut child, &mut cm, &mut rng, 300);
            assert_eq!(read(&mut child), cm, "round {round}: in the child");
            if rng.below(2) == 0 {
                child.commit().unwrap();
                m = cm;
            } else {
                child.abort().unwrap();
            }
        }
        assert_eq!(read(&mut w), m, "round {round}: after the child");
        // A savepoint rolled back: pages spilled before it come back as they were.
        let sp = w.savepoint().unwrap();
        let mut scratch = m.clone();
        change(&mut w, &mut scratch, &mut rng, 300);
        w.rollback_to(&sp).unwrap();
        drop(sp);
        assert_eq!(read(&mut w), m, "round {round}: after the rollback");
        change(&mut w, &mut m, &mut rng, 500);
        spilled_total += w.spilled_pages();
        if rng.below(4) == 0 {
            drop(w);
        } else {
            w.commit().unwrap();
            committed = m;
        }
        let report = env.check().unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.problems);
        let mut w = env.begin_write().unwrap();
        assert_eq!(read(&mut w), committed, "round {round}: committed");
    }
    assert!(spilled_total > 1000, "only {spilled_total} pages spilled");
}
