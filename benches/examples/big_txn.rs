//! One write transaction of N random puts (the peer workload's 24-byte keys, 150-byte
//! values) under a dirty limit: the heap it peaks at before commit (a counting
//! allocator), the pages it wrote early, how long the puts and the commit took, and a
//! check that every entry is there afterwards.
//!
//! Run: `cargo run --release -p mdbx-lite-benches --example big_txn -- [N] [LIMIT_MIB]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use mdbx_lite::{Durability, Env, Result};
use mdbx_lite_benches::{arg_u64, key, value};

struct Counting;

static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call to `System` unchanged; the bookkeeping only touches
// atomics, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        PEAK.fetch_max(live + layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn main() -> Result<()> {
    let n = arg_u64(1, 10_000_000);
    let limit = (arg_u64(2, 512) as usize) << 20;
    let dir = tempfile::tempdir()?;
    let env = Env::builder()
        .durability(Durability::Full)
        .dirty_limit(limit)
        .open(dir.path().join("db"))?;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t = Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.main_table();
        for i in 0..n {
            tab.put(&key(i), &value(i))?;
        }
    }
    let puts = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let spilled = w.spilled_pages();
    let dirty = w.dirty_pages();
    w.commit()?;
    let total = t.elapsed();
    let r = env.begin_read()?;
    let tab = r.main_table();
    assert_eq!(tab.len(), n);
    for i in (0..n).step_by(1009) {
        assert_eq!(tab.get(&key(i))?, Some(&value(i)[..]));
    }
    let st = env.stat()?;
    println!(
        "N = {n}, dirty limit {} MiB: puts {:.1} s, with commit {:.1} s; heap peak before \
         commit {} MiB; {dirty} pages changed, {spilled} written early; file {} MiB; \
         every 1009th entry read back",
        limit >> 20,
        puts.as_secs_f64(),
        total.as_secs_f64(),
        peak >> 20,
        st.file_bytes >> 20
    );
    Ok(())
}
