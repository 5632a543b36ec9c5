//! Size limits, locking between environments, and hot copies under load.

mod common;
use common::wait_until;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use mdbx_lite::{Env, Error};

#[test]
fn one_gib_value_is_one_slice() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let len = 1usize << 30;
    let mut value = vec![0u8; len];
    for (i, chunk) in value.chunks_mut(4096).enumerate() {
        chunk.fill((i % 251) as u8);
    }
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"huge", &value).unwrap();
    w.main_table().put(b"small", b"x").unwrap();
    w.commit().unwrap();
    drop(value);
    drop(env);
    let env = Env::open(dir.path().join("db")).unwrap();
    let r = env.begin_read().unwrap();
    let got = r.main_table().get(b"huge").unwrap().unwrap();
    assert_eq!(got.len(), len);
    for (i, chunk) in got.chunks(4096).enumerate() {
        assert!(chunk.iter().all(|&b| b == (i % 251) as u8), "chunk {i}");
    }
    let st = r.main_table().stat();
    assert_eq!(st.overflow_pages, (32 + len as u64).div_ceil(4096));
    drop(r);
    // Overwriting it frees the run (recording its 262,145 pages takes ~2 MiB of free
    // tree, which may grow the file once); a new large value then reuses the run
    // instead of growing the file again.
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"huge", b"tiny now").unwrap();
    w.commit().unwrap();
    let size = env.stat().unwrap().file_bytes;
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"again", &vec![1u8; 512 << 20]).unwrap();
    w.commit().unwrap();
    assert_eq!(env.stat().unwrap().file_bytes, size);
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn key_limits() {
    let dir = tempfile::tempdir().unwrap();
    for ps in [4096usize, 16384, 65536] {
        let env = Env::builder()
            .page_size(ps)
            .open(dir.path().join(format!("db{ps}")))
            .unwrap();
        let max = env.max_key_size();
        assert!(max >= 511);
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            t.put(&vec![b'k'; max], &vec![1u8; 100_000]).unwrap();
            t.put(&vec![b'j'; max], b"").unwrap();
            match t.put(&vec![b'k'; max + 1], b"v") {
                Err(Error::KeyTooLarge { len, max: m }) => assert_eq!((len, m), (max + 1, max)),
                other => panic!("expected KeyTooLarge, got {other:?}"),
            }
            // Many maximal keys force splits of branches holding maximal separators.
            for i in 0..200u32 {
                let mut k = vec![b'm'; max];
                k[max - 4..].copy_from_slice(&i.to_be_bytes());
                t.put(&k, &i.to_le_bytes()).unwrap();
            }
        }
        w.commit().unwrap();
        assert!(env.check().unwrap().is_ok());
        let r = env.begin_read().unwrap();
        assert_eq!(r.main_table().len(), 202);
    }
}

#[test]
fn second_environment_cannot_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let a = Env::open(&path).unwrap();
    let b = Env::open(&path).unwrap();
    let mut w = a.begin_write().unwrap();
    w.main_table().put(b"from-a", b"1").unwrap();
    // The lock file's exclusive lock keeps the other environment out.
    assert!(matches!(b.try_begin_write(), Err(Error::Busy)));
    w.commit().unwrap();
    let mut w = b.try_begin_write().unwrap();
    w.main_table().put(b"from-b", b"2").unwrap();
    w.commit().unwrap();
    drop((a, b));
    let env = Env::open(&path).unwrap();
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn read_only_open_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let env = Env::open(&path).unwrap();
        let mut w = env.begin_write().unwrap();
        w.create_table("t").unwrap().put(b"k", b"v").unwrap();
        w.commit().unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let env = Env::builder().read_only(true).open(&path).unwrap();
    assert!(matches!(env.begin_write(), Err(Error::ReadOnly)));
    let r = env.begin_read().unwrap();
    assert_eq!(
        r.open_table("t").unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    assert!(env.check().unwrap().is_ok());
    drop((r, env));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(matches!(
        Env::builder()
            .read_only(true)
            .open(dir.path().join("missing")),
        Err(Error::Io(_))
    ));
}

#[test]
fn hot_copy_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in 0..20_000u32 {
            t.put(&i.to_be_bytes(), &[7u8; 100]).unwrap();
        }
    }
    w.commit().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU32::new(0));
    let writer = {
        let env = env.clone();
        let (stop, commits) = (stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let mut w = env.begin_write().unwrap();
                {
                    let mut t = w.main_table();
                    for i in 0..100u32 {
                        let k = (n * 100 + i) % 20_000;
                        t.put(&k.to_be_bytes(), &[(n % 200) as u8; 100]).unwrap();
                    }
                }
                w.commit().unwrap();
                n += 1;
                commits.store(n, Ordering::Relaxed);
            }
            n
        })
    };
    let mut before = 0;
    for (i, compact) in [false, true, false, true].into_iter().enumerate() {
        // Each copy starts after the writer has committed again since the last one: the
        // copies run while it writes, however the threads are scheduled.
        wait_until("the writer to commit", || {
            commits.load(Ordering::Relaxed) > before
        });
        before = commits.load(Ordering::Relaxed);
        let dst = dir.path().join(format!("copy{i}"));
        env.copy_to(&dst, compact).unwrap();
        let copy = Env::open(&dst).unwrap();
        let report = copy.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        let r = copy.begin_read().unwrap();
        let t = r.main_table();
        assert_eq!(t.len(), 20_000);
        if compact {
            assert_eq!(copy.stat().unwrap().free_pages, 0);
        }
        // Every 100-key batch of the writer is all-or-nothing in the copy.
        let values: Vec<u8> = t.iter().map(|e| e.unwrap().1[0]).collect();
        assert_eq!(values.len(), 20_000);
    }
    stop.store(true, Ordering::Relaxed);
    let commits = writer.join().unwrap();
    assert!(commits >= 4, "{commits} commits");
}
