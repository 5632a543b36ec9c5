//! Snapshot isolation under a concurrent writer, writer exclusion, and thread-safety of
//! the handle types.

mod common;
use common::{pseudo_random_bytes, splitmix, wait_until};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, OnceLock};
use std::thread;
use std::time::Instant;

use mdbx_lite::{Durability, Env, Error, ReadTable, ReadTxn, WriteTxn};

// Compile-time: the handle types can be shared between threads.
const _: () = {
    fn assert_send_sync<T: Send + Sync>() {}
    #[allow(dead_code)]
    fn handles_are_send_sync() {
        assert_send_sync::<Env>();
        assert_send_sync::<ReadTxn>();
        assert_send_sync::<ReadTable<'static>>();
    }
    fn assert_send<T: Send>() {}
    #[allow(dead_code)]
    fn cursors_and_ranges_are_send() {
        assert_send::<mdbx_lite::Cursor<'static>>();
        assert_send::<mdbx_lite::Range<'static>>();
    }
};

/// A cursor or range moves to another thread with the borrow it holds, over a read
/// transaction and over a write transaction's own changes.
#[test]
fn cursors_and_ranges_work_on_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in 0..1_000u32 {
            t.put(&i.to_be_bytes(), b"v").unwrap();
        }
        let mut cur = t.cursor();
        let n = thread::scope(|s| {
            s.spawn(move || {
                let mut n = 0;
                while cur.next().unwrap().is_some() {
                    n += 1;
                }
                n
            })
            .join()
            .unwrap()
        });
        assert_eq!(n, 1_000);
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    let range = t.range(10u32.to_be_bytes()..20u32.to_be_bytes());
    let keys: Vec<Vec<u8>> = thread::scope(|s| {
        s.spawn(move || range.map(|e| e.unwrap().0.to_vec()).collect())
            .join()
            .unwrap()
    });
    assert_eq!(keys.len(), 10);
}

const ACCOUNTS: u64 = 64;
const INITIAL: u64 = 1_000;
const TXNS: u64 = 3_000;
/// Keys written by each transaction (and deleted by the next): all present or none.
const BATCH: u64 = 16;
const READERS: usize = 4;
/// Every this many generations the writer waits until each reader has read the latest
/// one, so every reader sees the writer's progress however the threads are scheduled.
const CHECKPOINT_EVERY: u64 = 50;
/// Commits a reader waits for, one read in eight, before checking its snapshot again:
/// across at least one `Env::sync`, after which pages freed since are reused.
const HOLD_COMMITS: u64 = 10;

fn acct(i: u64) -> Vec<u8> {
    format!("acct/{i:04}").into_bytes()
}

fn batch_key(gen: u64, i: u64) -> Vec<u8> {
    format!("batch/{gen:08}/{i:02}").into_bytes()
}

/// Value of batch key `i` of generation `gen` (104 bytes): the generation, then
/// pseudo-random bytes.
fn batch_value(gen: u64, i: u64) -> Vec<u8> {
    [
        &gen.to_le_bytes()[..],
        &pseudo_random_bytes(gen * 1000 + i, 96),
    ]
    .concat()
}

/// A 5,000-byte value (an overflow run) rewritten every 7th generation.
fn blob(gen: u64) -> Vec<u8> {
    [&gen.to_le_bytes()[..], &pseudo_random_bytes(gen, 4_992)].concat()
}

fn u64_of(v: &[u8]) -> u64 {
    u64::from_le_bytes(v.try_into().expect("8-byte value"))
}

/// Check every invariant of one snapshot; returns (generation, digest of all entries).
fn verify_snapshot(r: &ReadTxn) -> (u64, u64) {
    let main = r.main_table();
    let accounts = r.open_table("accounts").unwrap();
    let gen = u64_of(main.get(b"gen").unwrap().expect("gen"));
    let mut digest = gen;
    // Money is neither created nor destroyed: never a half-applied transfer.
    let mut sum = 0u64;
    let mut n = 0u64;
    for e in accounts.iter() {
        let (k, v) = e.unwrap();
        sum += u64_of(v);
        n += 1;
        digest = splitmix(digest ^ u64_of(v) ^ k.len() as u64);
    }
    assert_eq!(n, ACCOUNTS, "gen {gen}: account count");
    assert_eq!(sum, ACCOUNTS * INITIAL, "gen {gen}: sum of balances");
    // Exactly this generation's batch: all of it, nothing of another.
    let mut n = 0u64;
    for e in main.range(&b"batch/"[..]..&b"batch0"[..]) {
        let (k, v) = e.unwrap();
        assert_eq!(k, &batch_key(gen, n)[..], "gen {gen}: batch key {n}");
        assert_eq!(v, &batch_value(gen, n)[..], "gen {gen}: batch value {n}");
        n += 1;
    }
    assert_eq!(n, if gen == 0 { 0 } else { BATCH }, "gen {gen}: batch size");
    let mut with_blob = 0;
    if let Some(b) = main.get(b"blob").unwrap() {
        let bgen = u64_of(&b[..8]);
        assert!(
            bgen <= gen && bgen + 7 > gen,
            "gen {gen}: blob of gen {bgen}"
        );
        assert_eq!(b, &blob(bgen)[..], "gen {gen}: blob contents");
        digest = splitmix(digest ^ bgen);
        with_blob = 1;
    } else {
        assert!(gen < 7, "gen {gen}: blob missing");
    }
    let batch = if gen == 0 { 0 } else { BATCH };
    assert_eq!(main.len(), 1 + batch + with_blob, "gen {gen}: main len");
    (gen, digest)
}

fn setup(env: &Env) {
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"gen", &0u64.to_le_bytes()).unwrap();
    let mut t = w.create_table("accounts").unwrap();
    for i in 0..ACCOUNTS {
        t.put(&acct(i), &INITIAL.to_le_bytes()).unwrap();
    }
    w.commit().unwrap();
}

/// One writer transaction: a transfer, the next batch replacing the previous one, and
/// every 7th generation a new overflow blob.
fn write_generation(w: &mut WriteTxn, gen: u64) {
    let prev = u64_of(w.main_table().get(b"gen").unwrap().unwrap());
    assert_eq!(prev, gen - 1);
    let mut main = w.main_table();
    main.put(b"gen", &gen.to_le_bytes()).unwrap();
    for i in 0..BATCH {
        if gen > 1 {
            assert!(main.delete(&batch_key(gen - 1, i)).unwrap());
        }
        main.put(&batch_key(gen, i), &batch_value(gen, i)).unwrap();
    }
    if gen.is_multiple_of(7) {
        main.put(b"blob", &blob(gen)).unwrap();
    }
    let r = splitmix(gen);
    let (a, b) = (r % ACCOUNTS, (r >> 16) % ACCOUNTS);
    let mut t = w.open_table("accounts").unwrap();
    let ba = u64_of(t.get(&acct(a)).unwrap().unwrap());
    let amount = (r >> 32) % (ba + 1);
    t.put(&acct(a), &(ba - amount).to_le_bytes()).unwrap();
    // Read b after writing a: correct also when a == b.
    let bb = u64_of(t.get(&acct(b)).unwrap().unwrap());
    t.put(&acct(b), &(bb + amount).to_le_bytes()).unwrap();
}

#[test]
fn readers_never_see_a_partial_transaction() {
    let dir = tempfile::tempdir().unwrap();
    // NoSync plus a periodic `Env::sync` keeps the test fast while freed pages are still
    // reused (reuse waits for durability), which is where isolation bugs would show.
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(dir.path().join("db"))
        .unwrap();
    setup(&env);
    let done = AtomicBool::new(false);
    let start = Barrier::new(READERS + 1);
    // The last generation the writer committed, and the last one each reader read.
    // Relaxed: they only say who has got how far; what a reader sees of the database
    // must come from the engine's own synchronisation, not from these.
    let committed = AtomicU64::new(0);
    let read_gen: Vec<AtomicU64> = (0..READERS).map(|_| AtomicU64::new(0)).collect();
    let t0 = Instant::now();
    let (reads, gens_seen) = thread::scope(|s| {
        let readers: Vec<_> = (0..READERS)
            .map(|id| {
                let (env, done, start) = (&env, &done, &start);
                let (committed, my_gen) = (&committed, &read_gen[id]);
                s.spawn(move || {
                    start.wait();
                    let mut reads = 0u64;
                    let mut last_gen = 0u64;
                    let mut distinct = 0u64;
                    while !done.load(Ordering::Acquire) {
                        let r = env.begin_read().unwrap();
                        let (gen, digest) = verify_snapshot(&r);
                        assert!(
                            gen >= last_gen,
                            "reader {id}: gen went back {last_gen} -> {gen}"
                        );
                        if gen != last_gen {
                            distinct += 1;
                        }
                        last_gen = gen;
                        my_gen.store(gen, Ordering::Relaxed);
                        if reads % 8 == id as u64 {
                            // Hold the snapshot while the writer commits HOLD_COMMITS more
                            // generations (fewer if the writer is about to wait for this
                            // reader at a checkpoint, or has finished): it must not move.
                            let next_checkpoint = (gen / CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY;
                            let until = (gen + HOLD_COMMITS).min(next_checkpoint);
                            while committed.load(Ordering::Relaxed) < until
                                && !done.load(Ordering::Acquire)
                            {
                                thread::yield_now();
                            }
                            assert_eq!(verify_snapshot(&r), (gen, digest), "reader {id}");
                        }
                        reads += 1;
                    }
                    (reads, distinct)
                })
            })
            .collect();
        start.wait();
        for gen in 1..=TXNS {
            let mut w = env.begin_write().unwrap();
            write_generation(&mut w, gen);
            w.commit().unwrap();
            committed.store(gen, Ordering::Relaxed);
            if gen.is_multiple_of(10) {
                env.sync().unwrap();
            }
            if gen.is_multiple_of(CHECKPOINT_EVERY) {
                for (id, g) in read_gen.iter().enumerate() {
                    wait_until(&format!("reader {id} to read generation {gen}"), || {
                        g.load(Ordering::Relaxed) >= gen
                    });
                }
            }
        }
        done.store(true, Ordering::Release);
        let mut reads = Vec::new();
        let mut gens = Vec::new();
        for h in readers {
            let (r, g) = h.join().unwrap();
            reads.push(r);
            gens.push(g);
        }
        (reads, gens)
    });
    eprintln!(
        "{TXNS} write txns in {:?}; reads per reader {reads:?}; generations seen {gens_seen:?}",
        t0.elapsed()
    );
    // Each reader read every checkpoint's generation (TXNS / CHECKPOINT_EVERY of them).
    for (r, g) in reads.iter().zip(&gens_seen) {
        assert!(*r >= 50, "a reader made only {r} reads");
        assert!(
            *g >= 10,
            "a reader saw only {g} generations: not concurrent"
        );
    }
    let r = env.begin_read().unwrap();
    assert_eq!(verify_snapshot(&r).0, TXNS);
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let st = env.stat().unwrap();
    eprintln!(
        "high water after {TXNS} txns: {} pages",
        st.high_water_pages
    );
    // Space was reused: 3,000 commits rewriting ~20 pages each would need far more.
    assert!(
        st.high_water_pages < 2_000,
        "high water {} pages: freed pages not reused",
        st.high_water_pages
    );
}

#[test]
fn try_begin_write_is_busy_while_a_writer_lives() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let env = Env::open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"k", b"1").unwrap();
    assert!(matches!(env.try_begin_write(), Err(Error::Busy)));
    thread::scope(|s| {
        s.spawn(|| assert!(matches!(env.try_begin_write(), Err(Error::Busy))))
            .join()
            .unwrap();
    });
    // Another Env on the same file is excluded by the lock file.
    let other = Env::open(&path).unwrap();
    assert!(matches!(other.try_begin_write(), Err(Error::Busy)));
    // Readers are never blocked by the writer.
    assert_eq!(
        env.begin_read().unwrap().main_table().get(b"k").unwrap(),
        None
    );
    w.commit().unwrap();
    let w2 = env.try_begin_write().unwrap();
    assert!(matches!(other.try_begin_write(), Err(Error::Busy)));
    w2.abort();
    let mut w3 = other.try_begin_write().unwrap();
    assert_eq!(w3.main_table().get(b"k").unwrap(), Some(&b"1"[..]));
    assert!(matches!(env.try_begin_write(), Err(Error::Busy)));
    drop(w3);
    drop(env.try_begin_write().unwrap());
}

/// The calling thread's kernel id, from `/proc/thread-self` (a link to `PID/task/TID`).
fn thread_id() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_str().unwrap().to_string()
}

/// Whether thread `tid` of this process is asleep in the kernel (state `S`: waiting on a
/// futex, a file lock, ...), not running or runnable.
fn sleeping(tid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // "TID (name) STATE ...": the name may hold spaces and parentheses.
    stat.rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
}

#[test]
fn begin_write_waits_for_the_running_writer() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table().put(b"x", b"first").unwrap();
    let tid = OnceLock::new();
    let acquired = AtomicBool::new(false);
    thread::scope(|s| {
        let h = s.spawn(|| {
            tid.set(thread_id()).unwrap();
            let mut w2 = env.begin_write().unwrap();
            acquired.store(true, Ordering::SeqCst);
            let seen = w2.main_table().get(b"x").unwrap().map(|v| v.to_vec());
            w2.main_table().put(b"x", b"second").unwrap();
            w2.commit().unwrap();
            seen
        });
        // Either the second writer gets in (wrong), or it goes to sleep in the kernel
        // inside `begin_write`, the only thing it does after publishing its id.
        wait_until("the second writer to block or to get in", || {
            acquired.load(Ordering::SeqCst) || tid.get().is_some_and(|t| sleeping(t))
        });
        assert!(
            !acquired.load(Ordering::SeqCst),
            "second begin_write did not wait for the first writer"
        );
        w.commit().unwrap();
        // The waiting writer starts from the first one's commit.
        assert_eq!(h.join().unwrap().as_deref(), Some(&b"first"[..]));
    });
    let r = env.begin_read().unwrap();
    assert_eq!(r.main_table().get(b"x").unwrap(), Some(&b"second"[..]));
    assert_eq!(r.id(), env.last_txnid());
}

#[test]
fn handles_work_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create_table("t").unwrap();
        for i in 0..4_000u32 {
            t.put(&i.to_be_bytes(), &i.to_le_bytes()).unwrap();
        }
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let t = r.open_table("t").unwrap();
    let hits = AtomicU64::new(0);
    // One ReadTxn and one (Copy) ReadTable shared by scoped threads, each with its own
    // Env clone opening further read transactions.
    thread::scope(|s| {
        for part in 0..4u32 {
            let (r, env, hits) = (&r, env.clone(), &hits);
            s.spawn(move || {
                let mine = env.begin_read().unwrap();
                let t2 = mine.open_table("t").unwrap();
                for i in (part * 1_000)..(part + 1) * 1_000 {
                    let a = t.get(&i.to_be_bytes()).unwrap().unwrap();
                    let b = r.open_table("t").unwrap().get(&i.to_be_bytes()).unwrap();
                    assert_eq!(Some(a), b);
                    assert_eq!(t2.get(&i.to_be_bytes()).unwrap(), Some(a));
                    assert_eq!(a, &i.to_le_bytes()[..]);
                    hits.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(hits.load(Ordering::Relaxed), 4_000);
    // A ReadTxn moved to another thread (it owns its snapshot: 'static).
    let moved = env.begin_read().unwrap();
    let n = thread::spawn(move || moved.open_table("t").unwrap().iter().count())
        .join()
        .unwrap();
    assert_eq!(n, 4_000);
    // An Env moved to another thread, writing there.
    let env2 = env.clone();
    thread::spawn(move || {
        let mut w = env2.begin_write().unwrap();
        w.main_table().put(b"from-thread", b"yes").unwrap();
        w.commit().unwrap();
    })
    .join()
    .unwrap();
    drop(r);
    let r = env.begin_read().unwrap();
    assert_eq!(
        r.main_table().get(b"from-thread").unwrap(),
        Some(&b"yes"[..])
    );
}

#[test]
fn reader_slots_are_limited_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::builder()
        .max_readers(4)
        .open(dir.path().join("db"))
        .unwrap();
    let held: Vec<ReadTxn> = (0..4).map(|_| env.begin_read().unwrap()).collect();
    assert!(matches!(
        env.begin_read(),
        Err(Error::ReadersFull { max: 4 })
    ));
    assert_eq!(env.readers().len(), 4);
    drop(held);
    assert_eq!(env.readers().len(), 0);
    // Slots come back from threads too.
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    let r = env.begin_read().unwrap();
                    assert_eq!(r.main_table().len(), 0);
                }
            });
        }
    });
    assert_eq!(env.readers().len(), 0);
}

/// Two handles on one file (as two processes would have): each writer must build on the
/// other's commits. Before `WriteTxn::begin` re-read the metas under the file lock, the
/// second handle's writer started from its stale snapshot: it silently dropped the other
/// handle's commits and reused pages they had put into use.
#[test]
fn two_handles_build_on_each_others_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let a = Env::open(&path).unwrap();
    let b = Env::open(&path).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    for round in 0..60u64 {
        let env = if round.is_multiple_of(2) { &a } else { &b };
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            let n = t.get(b"counter").unwrap().map(u64_of).unwrap_or(0);
            assert_eq!(
                n, round,
                "round {round}: the other handle's commit is missing"
            );
            t.put(b"counter", &(n + 1).to_le_bytes()).unwrap();
            for i in 0..50u64 {
                t.put(&batch_key(round, i), &batch_value(round, i)).unwrap();
                if round > 0 && i.is_multiple_of(2) {
                    assert!(t.delete(&batch_key(round - 1, i)).unwrap(), "round {round}");
                }
            }
            if round % 20 == 5 {
                // Grows the file (and the other handle must see the new length).
                t.put(b"big", &big).unwrap();
            }
        }
        w.commit().unwrap();
    }
    for env in [&a, &b] {
        // A reader of either handle sees the latest commit once that handle's writer ran.
        drop(env.begin_write().unwrap());
        let r = env.begin_read().unwrap();
        assert_eq!(
            r.main_table().get(b"counter").unwrap().map(u64_of),
            Some(60)
        );
        assert_eq!(r.main_table().get(b"big").unwrap(), Some(&big[..]));
        let report = env.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
    drop((a, b));
    let env = Env::open(&path).unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let r = env.begin_read().unwrap();
    // 50 keys of the last round, 25 of each earlier one, counter and big.
    assert_eq!(r.main_table().len(), 50 + 59 * 25 + 2);
}
