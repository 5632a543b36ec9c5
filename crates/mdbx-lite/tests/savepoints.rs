//! Persistent savepoints: named committed states that survive restarts, hold their
//! pages like readers, and can be restored in a later write transaction.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Rng;
use mdbx_lite::{DupSort, Env, Error, ReadTxn};

/// What the database holds: plain tables (name -> entries; "" is the main table) and
/// one dup-sort table.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    plain: BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>,
    dups: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>,
}

fn read_state(r: &ReadTxn) -> State {
    let mut s = State::default();
    let collect = |t: mdbx_lite::ReadTable<'_>| -> BTreeMap<Vec<u8>, Vec<u8>> {
        t.iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    };
    let main = collect(r.main_table());
    if !main.is_empty() {
        s.plain.insert(String::new(), main);
    }
    for name in r.list_tables().unwrap() {
        if name == "dups" {
            let d = r.open_dup_table("dups").unwrap();
            for e in d.iter() {
                let (k, v) = e.unwrap();
                s.dups.entry(k.to_vec()).or_default().insert(v.to_vec());
            }
        } else {
            s.plain
                .insert(name.clone(), collect(r.open_table(&name).unwrap()));
        }
    }
    s
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(25) {
        0 => 5000 + rng.below(9000) as usize, // an overflow run
        _ => rng.below(200) as usize,
    };
    vec![rng.next() as u8; len]
}

/// A random batch of changes, applied to the database and to `s`.
fn churn(env: &Env, s: &mut State, rng: &mut Rng, n: usize) {
    let mut w = env.begin_write().unwrap();
    for _ in 0..n {
        let k = format!("k{:05}", rng.below(4000)).into_bytes();
        match rng.below(10) {
            0..=4 => {
                let t = ["", "a", "b"][rng.below(3) as usize];
                let v = value(rng);
                if t.is_empty() {
                    w.main_table().put(&k, &v).unwrap();
                } else {
                    w.create_table(t).unwrap().put(&k, &v).unwrap();
                }
                s.plain.entry(t.to_string()).or_default().insert(k, v);
            }
            5 | 6 => {
                let t = ["", "a", "b"][rng.below(3) as usize];
                let gone = match t {
                    "" => w.main_table().delete(&k).unwrap(),
                    t => match w.open_table(t) {
                        Ok(mut tab) => tab.delete(&k).unwrap(),
                        Err(Error::TableNotFound(_)) => false,
                        Err(e) => panic!("{e}"),
                    },
                };
                let m = s.plain.get_mut(t);
                assert_eq!(gone, m.is_some_and(|m| m.remove(&k).is_some()));
                if s.plain.get(t).is_some_and(|m| m.is_empty()) && t.is_empty() {
                    s.plain.remove(t);
                }
            }
            7 | 8 => {
                let v = format!("v{}", rng.below(50)).into_bytes();
                let k = format!("d{:02}", rng.below(40)).into_bytes();
                w.create_dup_table("dups", DupSort::new())
                    .unwrap()
                    .put(&k, &v)
                    .unwrap();
                s.dups.entry(k).or_default().insert(v);
            }
            _ => {
                if rng.below(4) == 0 {
                    let t = ["a", "b"][rng.below(2) as usize];
                    w.drop_table(t).unwrap();
                    s.plain.remove(t);
                }
            }
        }
    }
    w.commit().unwrap();
}

fn assert_checks(env: &Env, ctx: &str) {
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{ctx}: {:?}", report.problems);
}

#[test]
fn a_restored_savepoint_brings_back_its_state_exactly_also_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut rng = Rng(7);
    let mut state = State::default();
    // (name, state it names)
    let mut saved: Vec<(String, State)> = Vec::new();
    let mut env = Env::open(&path).unwrap();
    for round in 0..40 {
        churn(&env, &mut state, &mut rng, 60);
        match rng.below(6) {
            0 | 1 => {
                let name = format!("sp{round}");
                let mut w = env.begin_write().unwrap();
                let id = w.persistent_savepoint(&name).unwrap();
                assert_eq!(id, w.id() - 1);
                w.commit().unwrap();
                saved.push((name, state.clone()));
            }
            2 if !saved.is_empty() => {
                let (name, s) = saved[rng.below(saved.len() as u64) as usize].clone();
                let mut w = env.begin_write().unwrap();
                w.restore_persistent_savepoint(&name).unwrap();
                w.commit().unwrap();
                state = s;
            }
            3 if !saved.is_empty() => {
                let i = rng.below(saved.len() as u64) as usize;
                let (name, _) = saved.remove(i);
                let mut w = env.begin_write().unwrap();
                assert!(w.delete_persistent_savepoint(&name).unwrap());
                w.commit().unwrap();
            }
            4 => {
                drop(env);
                env = Env::open(&path).unwrap();
            }
            _ => {}
        }
        let r = env.begin_read().unwrap();
        assert_eq!(read_state(&r), state, "round {round}");
        let names: Vec<String> = r
            .persistent_savepoints()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut want: Vec<String> = saved.iter().map(|(n, _)| n.clone()).collect();
        want.sort();
        assert_eq!(names, want, "round {round}");
        drop(r);
        assert_checks(&env, &format!("round {round}"));
    }
    // Every savepoint left restores to its state.
    for (name, s) in &saved {
        let mut w = env.begin_write().unwrap();
        w.restore_persistent_savepoint(name).unwrap();
        w.commit().unwrap();
        assert_eq!(read_state(&env.begin_read().unwrap()), *s, "{name}");
        assert_checks(&env, name);
    }
}

#[test]
fn a_savepoint_holds_its_pages_until_deleted_and_stat_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let write_all = |tag: u8| {
        let mut w = env.begin_write().unwrap();
        for i in 0..5000u32 {
            w.main_table().put(&i.to_be_bytes(), &[tag; 100]).unwrap();
        }
        w.commit().unwrap();
    };
    write_all(1);
    let mut w = env.begin_write().unwrap();
    w.persistent_savepoint("before").unwrap();
    w.commit().unwrap();
    let pages_of_state = env.begin_read().unwrap().main_table().stat();
    let pages_of_state =
        pages_of_state.branch_pages + pages_of_state.leaf_pages + pages_of_state.overflow_pages;
    for tag in 2..6 {
        write_all(tag);
    }
    let stat = env.stat().unwrap();
    assert_eq!(stat.savepoints.len(), 1);
    let sp = &stat.savepoints[0];
    assert_eq!(sp.name, "before");
    // Every page of the saved state was rewritten since: all of them are held.
    assert_eq!(sp.held_pages, pages_of_state, "{stat:?}");
    assert!(stat.held_pages >= sp.held_pages);
    assert_checks(&env, "held");

    // Restore: the old values are back.
    let mut w = env.begin_write().unwrap();
    w.restore_persistent_savepoint("before").unwrap();
    assert_eq!(
        w.main_table().get(&7u32.to_be_bytes()).unwrap(),
        Some(&[1u8; 100][..])
    );
    w.commit().unwrap();
    assert_checks(&env, "restored");

    // Deleted, its pages are reused: rewriting everything again and again stops
    // growing the file.
    let mut w = env.begin_write().unwrap();
    assert!(w.delete_persistent_savepoint("before").unwrap());
    assert!(!w.delete_persistent_savepoint("before").unwrap());
    w.commit().unwrap();
    for tag in 6..9 {
        write_all(tag);
    }
    let settled = env.stat().unwrap().high_water_pages;
    for tag in 9..15 {
        write_all(tag);
    }
    let stat = env.stat().unwrap();
    assert!(stat.savepoints.is_empty());
    assert_eq!(
        stat.high_water_pages, settled,
        "file grew without a savepoint"
    );
    assert_checks(&env, "after delete");
}

#[test]
fn misuse_of_persistent_savepoints_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"a", b"1").unwrap();
    w.commit().unwrap();

    let mut w = env.begin_write().unwrap();
    assert!(matches!(w.persistent_savepoint(""), Err(Error::Invalid(_))));
    let long = "x".repeat(256);
    assert!(matches!(
        w.persistent_savepoint(&long),
        Err(Error::Invalid(_))
    ));
    w.persistent_savepoint("s").unwrap();
    assert!(matches!(
        w.persistent_savepoint("s"),
        Err(Error::SavepointExists(n)) if n == "s"
    ));
    w.commit().unwrap();

    let mut w = env.begin_write().unwrap();
    assert!(matches!(
        w.restore_persistent_savepoint("nope"),
        Err(Error::SavepointNotFound(n)) if n == "nope"
    ));
    // Restoring comes first in a transaction.
    w.main_table().put(b"b", b"2").unwrap();
    assert!(matches!(
        w.restore_persistent_savepoint("s"),
        Err(Error::Invalid(_))
    ));
    drop(w);
    let mut w = env.begin_write().unwrap();
    let mut child = w.begin_nested().unwrap();
    assert!(matches!(
        child.restore_persistent_savepoint("s"),
        Err(Error::Invalid(_))
    ));
    // A savepoint made in a child that aborts is gone; one deleted there is back.
    child.persistent_savepoint("child").unwrap();
    assert!(child.delete_persistent_savepoint("s").unwrap());
    child.abort().unwrap();
    let names: Vec<String> = w
        .persistent_savepoints()
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["s"]);
    // An ephemeral savepoint open: no restore either.
    let sp = w.savepoint().unwrap();
    assert!(matches!(
        w.restore_persistent_savepoint("s"),
        Err(Error::Invalid(_))
    ));
    drop(sp);
    drop(w);
    // A deleted savepoint cannot be restored.
    let mut w = env.begin_write().unwrap();
    w.delete_persistent_savepoint("s").unwrap();
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    assert!(matches!(
        w.restore_persistent_savepoint("s"),
        Err(Error::SavepointNotFound(_))
    ));
}

#[test]
fn restoring_keeps_newer_savepoints_restorable() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let put = |k: &[u8], v: &[u8]| {
        let mut w = env.begin_write().unwrap();
        w.create_table("t").unwrap().put(k, v).unwrap();
        w.commit().unwrap();
    };
    let save = |name: &str| {
        let mut w = env.begin_write().unwrap();
        w.persistent_savepoint(name).unwrap();
        w.commit().unwrap();
    };
    let restore = |name: &str| {
        let mut w = env.begin_write().unwrap();
        w.restore_persistent_savepoint(name).unwrap();
        w.commit().unwrap();
        assert_checks(&env, name);
    };
    let get = |k: &[u8]| -> Option<Vec<u8>> {
        let r = env.begin_read().unwrap();
        let t = r.open_table("t").ok()?;
        t.get(k).unwrap().map(|v| v.to_vec())
    };
    put(b"x", b"1");
    save("one");
    put(b"x", b"2");
    save("two");
    put(b"x", b"3");
    restore("one");
    assert_eq!(get(b"x").as_deref(), Some(&b"1"[..]));
    put(b"x", b"4");
    restore("two");
    assert_eq!(get(b"x").as_deref(), Some(&b"2"[..]));
    restore("one");
    assert_eq!(get(b"x").as_deref(), Some(&b"1"[..]));
    // A savepoint of the empty state: the table is gone.
    let dir2 = tempfile::tempdir().unwrap();
    let env2 = Env::open(dir2.path().join("db")).unwrap();
    let mut w = env2.begin_write().unwrap();
    w.persistent_savepoint("empty").unwrap();
    w.create_table("t").unwrap().put(b"k", b"v").unwrap();
    w.commit().unwrap();
    let mut w = env2.begin_write().unwrap();
    w.restore_persistent_savepoint("empty").unwrap();
    assert!(w.list_tables().unwrap().is_empty());
    w.commit().unwrap();
    assert!(env2.check().unwrap().is_ok());
}

#[test]
fn a_plain_copy_keeps_savepoints_and_a_compacting_one_holds_the_latest_state_only() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"k", b"old").unwrap();
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    w.persistent_savepoint("s").unwrap();
    w.main_table().put(b"k", b"new").unwrap();
    w.commit().unwrap();
    env.copy_to(dir.path().join("plain"), false).unwrap();
    env.copy_to(dir.path().join("compact"), true).unwrap();

    let plain = Env::open(dir.path().join("plain")).unwrap();
    assert!(plain.check().unwrap().is_ok());
    let mut w = plain.begin_write().unwrap();
    w.restore_persistent_savepoint("s").unwrap();
    assert_eq!(w.main_table().get(b"k").unwrap(), Some(&b"old"[..]));
    w.commit().unwrap();
    assert!(plain.check().unwrap().is_ok());

    let compact = Env::open(dir.path().join("compact")).unwrap();
    let r = compact.begin_read().unwrap();
    assert!(r.persistent_savepoints().unwrap().is_empty());
    assert_eq!(r.main_table().get(b"k").unwrap(), Some(&b"new"[..]));
}
