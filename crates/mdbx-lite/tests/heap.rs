//! Heap discipline of the read path, measured with a counting global allocator: a
//! database of ~1 GiB, then 1,000,000 random `get`s in one read transaction must not
//! allocate at all (values are slices of the map), nor must cursor scans.
//!
//! Its own test binary because it installs a `#[global_allocator]`; one test, so no
//! other test's allocations run concurrently (the per-thread counters would ignore them
//! anyway).

mod common;
use common::{index_marked_bytes, tmpfs_dir, Rng};

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use mdbx_lite::{Durability, Env};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // Const-initialised, no destructor: safe to touch from inside the allocator.
    static MY_ALLOCS: Cell<u64> = const { Cell::new(0) };
    static MY_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn record_alloc(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    ALLOC_BYTES.fetch_add(size as u64, Ordering::Relaxed);
    let live = LIVE.fetch_add(size as i64, Ordering::Relaxed) + size as i64;
    PEAK.fetch_max(live, Ordering::Relaxed);
    let _ = MY_ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = MY_BYTES.try_with(|c| c.set(c.get() + size as u64));
}

// SAFETY: forwards every call to `System` unchanged; the bookkeeping only touches
// atomics and const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_alloc(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a fresh allocation of the new size (a realloc may copy).
        record_alloc(new_size);
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, bytes) made by this thread so far.
fn mine() -> (u64, u64) {
    (MY_ALLOCS.with(|c| c.get()), MY_BYTES.with(|c| c.get()))
}

fn global() -> (u64, u64) {
    (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    )
}

// 1.2M entries of 900 bytes (inline, four to a 4 KiB leaf): ~1.1 GiB of file, built
// five times faster than 6.5M entries of 150 bytes (which measured 13 s in release).
const ENTRIES: u64 = 1_200_000;
const VALUE: usize = 900;
const PER_TXN: u64 = 200_000;
const GETS: u64 = 1_000_000;

/// 16-byte key: the index in fixed-width hex, so index order is key order.
fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    for (j, b) in k.iter_mut().enumerate() {
        *b = b"0123456789abcdef"[((i >> (60 - 4 * j)) & 15) as usize];
    }
    k
}

#[test]
fn reads_do_not_allocate() {
    // tmpfs when it has room: the file need never reach a disk.
    let dir = tmpfs_dir(2 << 30);
    let path = dir.path().join("db");
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(&path)
        .unwrap();
    let t0 = Instant::now();
    let mut i = 0u64;
    while i < ENTRIES {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            let end = (i + PER_TXN).min(ENTRIES);
            while i < end {
                t.append(&key(i), &index_marked_bytes::<VALUE>(i)).unwrap();
                i += 1;
            }
        }
        w.commit().unwrap();
    }
    let build = t0.elapsed();
    let st = env.stat().unwrap();
    eprintln!(
        "built {ENTRIES} entries in {build:?}: file {} MiB, {} pages, depth {}; heap peak {} MiB, live now {} KiB",
        st.file_bytes >> 20,
        st.high_water_pages,
        st.main.depth,
        PEAK.load(Ordering::Relaxed) >> 20,
        LIVE.load(Ordering::Relaxed) >> 10,
    );
    assert!(
        st.file_bytes >= 1 << 30,
        "database of only {} bytes",
        st.file_bytes
    );

    // 1,000,000 random gets in one read transaction.
    let (a0, b0) = mine();
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    let (a1, b1) = mine();
    let (ga, gb) = global();
    let t1 = Instant::now();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut checksum = 0u64;
    for _ in 0..GETS {
        let n = rng.below(ENTRIES);
        let v = t.get(&key(n)).unwrap().expect("key present");
        assert_eq!(v.len(), VALUE);
        assert_eq!(v[..8], n.to_le_bytes());
        checksum = checksum.wrapping_add(v[VALUE - 1] as u64);
    }
    let gets = t1.elapsed();
    let (a2, b2) = mine();
    let (ga2, gb2) = global();
    assert!(t.get(b"absent").unwrap().is_none());

    // A full scan and cursor seeks, same transaction.
    let (a3, b3) = mine();
    let mut n = 0u64;
    for e in t.iter() {
        let (k, v) = e.unwrap();
        debug_assert_eq!(k, key(n));
        assert_eq!(v[VALUE - 1], n as u8);
        n += 1;
    }
    assert_eq!(n, ENTRIES);
    let mut c = t.cursor();
    for j in (0..ENTRIES).step_by(1_200) {
        let (k, _) = c.seek(&key(j)).unwrap().unwrap();
        assert_eq!(k, key(j));
        c.next().unwrap().unwrap();
    }
    let (a4, b4) = mine();
    drop(r);
    eprintln!(
        "begin_read: {} allocs / {} bytes; {GETS} gets in {gets:?}: {} allocs / {} bytes on this thread, {} allocs / {} bytes process-wide; scan of {n} entries + 1,000 seeks: {} allocs / {} bytes (checksum {checksum})",
        a1 - a0,
        b1 - b0,
        a2 - a1,
        b2 - b1,
        ga2 - ga,
        gb2 - gb,
        a4 - a3,
        b4 - b3,
    );
    assert_eq!((a2 - a1, b2 - b1), (0, 0), "random gets allocated");
    assert_eq!((a4 - a3, b4 - b3), (0, 0), "scan and seeks allocated");
    assert!(b1 - b0 < 1 << 10, "begin_read allocated {} bytes", b1 - b0);

    // Dup-sort reads: a table of keys with one, a few (a dup block) and thousands of
    // values (a nested tree).
    let mut w = env.begin_write().unwrap();
    {
        let mut d = w.create_dup_table("d", mdbx_lite::DupSort::new()).unwrap();
        for k in 0..2_000u64 {
            let values = match k % 100 {
                0 => 5_000,
                n => n % 4 + 1,
            };
            for v in 0..values {
                d.put(&key(k), &index_marked_bytes::<16>(v)).unwrap();
            }
        }
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let d = r.open_dup_table("d").unwrap();
    let (a5, b5) = mine();
    let mut seen = 0u64;
    for k in 0..2_000u64 {
        let first = d.get(&key(k)).unwrap().expect("key present");
        assert_eq!(first, index_marked_bytes::<16>(0));
        for v in d.values(&key(k)).unwrap() {
            seen += v.unwrap().len() as u64;
        }
        assert!(d.count(&key(k)).unwrap() >= 1);
        assert!(d.contains(&key(k), &index_marked_bytes::<16>(0)).unwrap());
    }
    let mut c = d.cursor();
    let mut pairs = 0u64;
    let mut p = c.first().unwrap();
    while p.is_some() {
        pairs += 1;
        p = c.next().unwrap();
    }
    assert_eq!(pairs, d.len());
    for k in (0..2_000u64).step_by(100) {
        let probe = index_marked_bytes::<16>(2_500);
        assert_eq!(c.seek_pair(&key(k), &probe).unwrap().unwrap().1, probe);
        assert!(c.seek_value(&key(k), &probe).unwrap().is_some());
        c.next_key().unwrap();
    }
    let ranged = d.range(&key(10)[..]..&key(20)[..]).count();
    let (a6, b6) = mine();
    drop(r);
    eprintln!(
        "dup-sort: {pairs} pairs walked, {seen} value bytes read, {ranged} pairs ranged: {} allocs / {} bytes",
        a6 - a5,
        b6 - b5
    );
    assert_eq!((a6 - a5, b6 - b5), (0, 0), "dup-sort reads allocated");

    // Typed reads decode from the map: integers from their bytes, `&str` and arrays
    // borrowed.
    const NAMES: mdbx_lite::TableDef<u64, &str> = mdbx_lite::TableDef::new("names");
    const BLOBS: mdbx_lite::TableDef<(u32, i16), [u8; 32]> = mdbx_lite::TableDef::new("blobs");
    const IDS: mdbx_lite::MultimapDef<&str, mdbx_lite::Integer<u64>> =
        mdbx_lite::MultimapDef::new("ids");
    let mut w = env.begin_write().unwrap();
    {
        let mut names = w.create(&NAMES).unwrap();
        for i in 0..20_000u64 {
            names.put(i, format!("name {i}").as_str()).unwrap();
        }
    }
    {
        let mut blobs = w.create(&BLOBS).unwrap();
        for i in 0..20_000u32 {
            blobs.put((i, -(i as i16)), &[i as u8; 32]).unwrap();
        }
    }
    {
        let mut ids = w.create_multimap(&IDS).unwrap();
        for i in 0..20_000u64 {
            ids.put(["even", "odd"][i as usize % 2], i).unwrap();
        }
    }
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let (names, blobs, ids) = (
        r.open(&NAMES).unwrap(),
        r.open(&BLOBS).unwrap(),
        r.open_multimap(&IDS).unwrap(),
    );
    let (a7, b7) = mine();
    let mut total = 0usize;
    for i in (0..20_000u64).step_by(7) {
        total += names.get(i).unwrap().unwrap().len();
        let b = blobs.get((i as u32, -(i as i16))).unwrap().unwrap();
        assert_eq!(b[0], i as u8);
    }
    for e in names.range(100..200).unwrap() {
        total += e.unwrap().1.len();
    }
    let mut n = 0u64;
    for v in ids.get("odd").unwrap() {
        n += v.unwrap() % 2;
    }
    let (a8, b8) = mine();
    drop(r);
    assert_eq!(n, 10_000);
    assert!(total > 0);
    assert_eq!((a8 - a7, b8 - b7), (0, 0), "typed reads allocated");

    // A nested transaction costs the pages it changes, not a copy of its parent's
    // dirty pages: the parent holds ~100 MiB of them, a child changing one entry holds
    // an image of the few pages on that entry's path.
    let mut w = env.begin_write().unwrap();
    let mut rng = Rng(11);
    {
        let mut t = w.main_table();
        for _ in 0..PER_TXN / 2 {
            t.put(&key(rng.below(ENTRIES)), &[9u8; VALUE]).unwrap();
        }
    }
    let parent_dirty = LIVE.load(Ordering::Relaxed);
    let page = env.page_size() as i64;
    let child_cost = |w: &mut mdbx_lite::WriteTxn, puts: u64, rng: &mut Rng| {
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let mut child = w.begin_nested().unwrap();
        for _ in 0..puts {
            child
                .main_table()
                .put(&key(rng.below(ENTRIES)), &[1u8; VALUE])
                .unwrap();
        }
        let cost = PEAK.load(Ordering::Relaxed) - before;
        drop(child);
        cost
    };
    let one = child_cost(&mut w, 1, &mut rng);
    let thousand = child_cost(&mut w, 1000, &mut rng);
    eprintln!(
        "nested transaction heap: parent {} MiB live; a child of 1 put {} KiB, of 1,000 \
         puts {} KiB",
        parent_dirty >> 20,
        one >> 10,
        thousand >> 10
    );
    assert!(
        parent_dirty > 50 << 20,
        "the parent holds {parent_dirty} bytes"
    );
    // The child of one put: its path (a few pages, imaged and copied), the small state
    // copies, hash-map growth.
    assert!(one < 64 * page, "a child of one put held {one} bytes");
    // 1,000 random puts touch at most ~4 pages each (leaf, branches, a split).
    assert!(
        thousand < 4 * 1000 * page + (1 << 20),
        "1,000 puts held {thousand} bytes"
    );
    drop(w);

    // The full check runs with O(pages) bookkeeping; just make sure it passes.
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(env);

    // Past the dirty limit a transaction writes its oldest dirty pages early: 1,000,000
    // random puts (about 300 MiB of dirty pages unbounded) stay within the limit plus
    // page-number bookkeeping, and every entry is there after the commit.
    let limit = 16usize << 20;
    let env = Env::builder()
        .durability(Durability::NoSync)
        .dirty_limit(limit)
        .spare_buffer_limit(0)
        .open(dir.path().join("spill"))
        .unwrap();
    let n = 1_000_000u64;
    let spill_key = |i: u64| common::splitmix(i).to_be_bytes();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let mut w = env.begin_write().unwrap();
    for i in 0..n {
        w.main_table()
            .put(&spill_key(i), &index_marked_bytes::<150>(i))
            .unwrap();
    }
    let spilled = w.spilled_pages();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let stat = env.stat().unwrap();
    w.commit().unwrap();
    eprintln!(
        "1,000,000 random puts under a {} MiB dirty limit: heap peak {} MiB, {spilled} pages \
         spilled, stat saw {} MiB dirty",
        limit >> 20,
        peak >> 20,
        stat.writer_dirty_bytes >> 20
    );
    assert!(spilled > 10_000, "only {spilled} pages spilled");
    assert!(stat.writer_spilled_pages > 0 && stat.writer_dirty_bytes <= limit as u64);
    // The limit, then about 50 bytes per spilled or freed page and the tree's own.
    assert!(
        peak < (limit + spilled * 64 + (8 << 20)) as i64,
        "heap peak {peak} bytes"
    );
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    assert_eq!(t.len(), n);
    for i in (0..n).step_by(997) {
        assert_eq!(
            t.get(&spill_key(i)).unwrap(),
            Some(&index_marked_bytes::<150>(i)[..])
        );
    }
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}
