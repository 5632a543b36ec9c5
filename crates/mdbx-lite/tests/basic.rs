//! Basic behaviour of the public API.

use mdbx_lite::{Env, Error, PutFlags};

fn key(i: u64) -> Vec<u8> {
    format!("key{:08}", i.wrapping_mul(2654435761) % 100_000_000).into_bytes()
}

#[test]
fn put_get_commit_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let env = Env::open(&path).unwrap();
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in 0..20_000u64 {
                t.put(&key(i), format!("value-{i}").as_bytes()).unwrap();
            }
            assert_eq!(t.len(), 20_000);
        }
        w.commit().unwrap();
        let r = env.begin_read().unwrap();
        let t = r.main_table();
        for i in 0..20_000u64 {
            assert_eq!(
                t.get(&key(i)).unwrap(),
                Some(format!("value-{i}").as_bytes())
            );
        }
        assert_eq!(t.get(b"nope").unwrap(), None);
    }
    let env = Env::open(&path).unwrap();
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    assert_eq!(t.len(), 20_000);
    let keys: Vec<Vec<u8>> = t.iter().map(|e| e.unwrap().0.to_vec()).collect();
    assert_eq!(keys.len(), 20_000);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let rev: Vec<Vec<u8>> = t.iter().rev().map(|e| e.unwrap().0.to_vec()).collect();
    assert_eq!(rev.len(), 20_000);
    assert_eq!(rev.first(), keys.last());
}

#[test]
fn deletes_and_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    for round in 0..5u64 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_table("t").unwrap();
            for i in 0..5_000u64 {
                t.put(&key(i), &vec![round as u8; (i % 300) as usize])
                    .unwrap();
            }
            for i in (0..5_000u64).step_by(3) {
                assert!(t.delete(&key(i)).unwrap());
            }
        }
        w.commit().unwrap();
    }
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let r = env.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    assert_eq!(t.len(), 5_000 - 5_000usize.div_ceil(3) as u64);
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.open_table("t").unwrap();
        for i in 0..5_000u64 {
            t.delete(&key(i)).unwrap();
        }
        assert_eq!(t.len(), 0);
        assert_eq!(t.stat().depth, 0);
    }
    w.commit().unwrap();
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let st = env.stat().unwrap();
    assert!(st.free_pages > 0);
    assert_eq!(st.readers, 0);
}

#[test]
fn large_values_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        t.put(b"big", &big).unwrap();
        t.put(b"empty", b"").unwrap();
        assert!(matches!(
            t.put_with(
                b"big",
                b"x",
                PutFlags {
                    no_overwrite: true,
                    ..Default::default()
                }
            ),
            Err(Error::KeyExists)
        ));
        let long = vec![7u8; 5000];
        assert!(matches!(t.put(&long, b"v"), Err(Error::KeyTooLarge { .. })));
        assert_eq!(t.get(b"big").unwrap(), Some(&big[..]));
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    assert_eq!(r.main_table().get(b"big").unwrap(), Some(&big[..]));
    assert_eq!(r.main_table().get(b"empty").unwrap(), Some(&b""[..]));
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let copy = dir.path().join("copy");
    env.copy_to(&copy, false).unwrap();
    let compact = dir.path().join("compact");
    env.copy_to(&compact, true).unwrap();
    for p in [copy, compact] {
        let e2 = Env::open(&p).unwrap();
        assert!(e2.check().unwrap().is_ok());
        let r2 = e2.begin_read().unwrap();
        assert_eq!(r2.main_table().get(b"big").unwrap(), Some(&big[..]));
    }
}

#[test]
fn append_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in 0..50_000u64 {
            t.append(&i.to_be_bytes(), b"value").unwrap();
        }
        assert!(matches!(
            t.append(&5u64.to_be_bytes(), b"v"),
            Err(Error::KeyNotGreater)
        ));
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    assert_eq!(r.main_table().len(), 50_000);
    assert_eq!(
        r.main_table().get(&777u64.to_be_bytes()).unwrap(),
        Some(&b"value"[..])
    );
}
