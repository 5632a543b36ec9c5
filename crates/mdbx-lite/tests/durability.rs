//! `NoSync` checkpoints, weak metas and one-sync metas: what survives a restart, and
//! API misuse that must not deadlock.

mod common;
use common::{under_boot, Rng};

use mdbx_lite::{Durability, Env, Error};

const BOOT_A: [u8; 16] = [0x0a; 16];
const BOOT_B: [u8; 16] = [0x0b; 16];

fn put(env: &Env, k: &[u8], v: &[u8]) {
    let mut w = env.begin_write().unwrap();
    w.main_table().put(k, v).unwrap();
    w.commit().unwrap();
}

fn get(env: &Env, k: &[u8]) -> Option<Vec<u8>> {
    let r = env.begin_read().unwrap();
    r.main_table().get(k).unwrap().map(|v| v.to_vec())
}

fn steady_flags(env: &Env) -> Vec<(u64, bool, bool)> {
    env.metas()
        .unwrap()
        .into_iter()
        .filter_map(|m| m.meta.ok().map(|i| (i.txnid, i.steady, i.stale)))
        .collect()
}

fn no_sync(boot: [u8; 16]) -> mdbx_lite::EnvBuilder {
    no_sync_checkpoint_every(boot, u64::MAX)
}

/// `NoSync` with an automatic checkpoint after `bytes` of unsynced writes.
fn no_sync_checkpoint_every(boot: [u8; 16], bytes: u64) -> mdbx_lite::EnvBuilder {
    under_boot(
        Env::builder()
            .durability(Durability::NoSync)
            .auto_sync_bytes(bytes),
        boot,
    )
}

#[test]
fn weak_commits_are_rolled_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = no_sync(BOOT_A).open(&path).unwrap();
    put(&env, b"a", b"1");
    env.sync().unwrap();
    put(&env, b"b", b"2");
    put(&env, b"c", b"3");
    let weak_txn = env.last_txnid();
    assert!(steady_flags(&env).contains(&(weak_txn, false, false)));
    // The process dies without closing (a clean close would checkpoint).
    std::mem::forget(env);

    // Same boot: the page cache still holds everything, so the weak head is trusted.
    let same = under_boot(Env::builder().read_only(true), BOOT_A)
        .open(&path)
        .unwrap();
    assert_eq!(get(&same, b"c"), Some(b"3".to_vec()));
    drop(same);

    // After a restart a read-only open ignores the weak meta...
    let ro = under_boot(Env::builder().read_only(true), BOOT_B)
        .open(&path)
        .unwrap();
    assert_eq!(get(&ro, b"a"), Some(b"1".to_vec()));
    assert_eq!(get(&ro, b"b"), None);
    assert!(steady_flags(&ro).contains(&(weak_txn, false, true)));
    drop(ro);
    // ...and a writable one replaces it with a steady copy under a newer id.
    let env = under_boot(Env::builder(), BOOT_B).open(&path).unwrap();
    assert_eq!(get(&env, b"b"), None);
    assert!(env.last_txnid() > weak_txn);
    assert!(steady_flags(&env).iter().all(|m| m.1));
    assert!(env.check().unwrap().is_ok());
    put(&env, b"d", b"4");
    assert!(env.check().unwrap().is_ok());
}

#[test]
fn closing_checkpoints_no_sync_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = no_sync(BOOT_A).open(&path).unwrap();
    for i in 0..20u32 {
        put(&env, &i.to_be_bytes(), b"v");
    }
    assert!(!steady_flags(&env).iter().all(|m| m.1));
    drop(env);
    let env = under_boot(Env::builder(), BOOT_B).open(&path).unwrap();
    assert_eq!(get(&env, &19u32.to_be_bytes()), Some(b"v".to_vec()));
}

#[test]
fn sync_from_the_writing_thread_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = no_sync(BOOT_A).open(&path).unwrap();
    put(&env, b"a", b"1");
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"b", b"2").unwrap();
    // The committed weak head becomes steady while this thread's transaction runs.
    env.sync().unwrap();
    assert!(steady_flags(&env).iter().all(|m| m.1));
    // A second write transaction on this thread would wait forever: refused instead.
    assert!(matches!(env.begin_write(), Err(Error::Invalid(_))));
    assert!(matches!(env.try_begin_write(), Err(Error::Busy)));
    w.commit().unwrap();
    std::mem::forget(env);
    // The commit after the checkpoint was weak; the checkpoint survives a restart.
    let env = under_boot(Env::builder(), BOOT_B).open(&path).unwrap();
    assert_eq!(get(&env, b"a"), Some(b"1".to_vec()));
    assert_eq!(get(&env, b"b"), None);
    assert!(env.check().unwrap().is_ok());
}

/// 3,000 commits rewriting 20 of 1,000 keys each; `measure` is sampled every 500.
fn rewrite_rounds(env: &Env, mut measure: impl FnMut() -> u64) -> Vec<u64> {
    let mut samples = Vec::new();
    for round in 0..3_000u32 {
        let mut w = env.begin_write().unwrap();
        let mut t = w.main_table();
        for k in 0..20u32 {
            t.put(&(k * 97 + round % 50).to_be_bytes(), &[round as u8; 100])
                .unwrap();
        }
        w.commit().unwrap();
        if round % 500 == 499 {
            samples.push(measure());
        }
    }
    samples
}

/// With `NoSync`, pages the last checkpoint can reach are held until the next one; pages
/// born and freed since are reused, so rewriting the same keys does not grow the file,
/// with automatic checkpoints or without any.
#[test]
fn no_sync_growth_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = no_sync_checkpoint_every(BOOT_A, 1 << 20)
        .open(&path)
        .unwrap();
    let sizes = rewrite_rounds(&env, || std::fs::metadata(&path).unwrap().len());
    assert!(
        sizes.windows(2).skip(1).all(|w| w[1] == w[0]),
        "file keeps growing: {sizes:?}"
    );
    assert!(*sizes.last().unwrap() < 8 << 20, "{sizes:?}");
    // Without any checkpoint the file holds the first state's pages besides the live
    // ones, and no more.
    drop(env);
    let path2 = dir.path().join("db2");
    let env = no_sync(BOOT_A).open(&path2).unwrap();
    let sizes2 = rewrite_rounds(&env, || env.stat().unwrap().high_water_pages);
    assert!(
        sizes2.windows(2).skip(1).all(|w| w[1] <= w[0] + 4),
        "file keeps growing without checkpoints: {sizes2:?}"
    );
    assert!(steady_flags(&env).iter().any(|m| !m.1));
}

/// Pages the checkpoint reaches and a later `NoSync` commit frees are held only until
/// the next checkpoint, also when every commit rewrites pages of a large tree (so that
/// almost every page it frees predates the checkpoint): the file stops growing.
#[test]
fn no_sync_releases_held_pages_at_the_next_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = no_sync_checkpoint_every(BOOT_A, 1 << 20)
        .open(&path)
        .unwrap();
    let keys = 20_000u64;
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for k in 0..keys {
            t.put(
                &(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes(),
                &[1; 100],
            )
            .unwrap();
        }
    }
    w.commit().unwrap();
    let mut samples = Vec::new();
    let mut rng = Rng(1);
    for round in 0..1_200u32 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for _ in 0..50 {
                let k = rng.below(keys);
                t.put(
                    &(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes(),
                    &[round as u8; 100],
                )
                .unwrap();
            }
        }
        w.commit().unwrap();
        if round % 200 == 199 {
            samples.push(env.stat().unwrap().high_water_pages);
        }
    }
    let (second, last) = (samples[1], *samples.last().unwrap());
    assert!(
        last <= second + second / 10,
        "file keeps growing: {samples:?}"
    );
    assert!(env.check().unwrap().is_ok());
}

/// A one-sync commit whose listed page did not reach the disk (here: changed after it
/// was written) is not trusted after a restart: the state is the commit before, `metas`
/// marks the meta stale, and a writable open replaces it.
#[test]
fn a_one_sync_meta_whose_page_does_not_hold_is_ignored_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = under_boot(Env::builder(), BOOT_A).open(&path).unwrap();
    put(&env, b"k1", b"one");
    put(&env, b"k2", b"two");
    let head = env
        .metas()
        .unwrap()
        .into_iter()
        .find(|m| m.current)
        .unwrap();
    let info = head.meta.unwrap();
    assert_eq!((info.steady, info.stale), (true, false));
    assert!(
        info.one_sync_pages.unwrap() > 0,
        "a small commit syncs once"
    );
    let ps = env.page_size();
    drop(env);
    // The meta's first listed page (u32 page numbers from byte 260): flip its last byte.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = head.slot as usize * ps + 260;
    let pgno = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    bytes[pgno * ps + ps - 1] ^= 0x5a;
    std::fs::write(&path, &bytes).unwrap();

    let env = under_boot(Env::builder().read_only(true), BOOT_B)
        .open(&path)
        .unwrap();
    assert_eq!(get(&env, b"k1").as_deref(), Some(&b"one"[..]));
    assert_eq!(
        get(&env, b"k2"),
        None,
        "the commit whose page does not hold"
    );
    let metas = env.metas().unwrap();
    let stale = metas.iter().find(|m| m.slot == head.slot).unwrap();
    assert!(!stale.current && stale.meta.as_ref().unwrap().stale);
    drop(env);

    let env = under_boot(Env::builder(), BOOT_B).open(&path).unwrap();
    assert!(steady_flags(&env)
        .iter()
        .all(|&(_, steady, stale)| steady && !stale));
    assert!(env.check().unwrap().is_ok());
    put(&env, b"k3", b"three");
    assert_eq!(get(&env, b"k2"), None);
    assert_eq!(get(&env, b"k3").as_deref(), Some(&b"three"[..]));
}
