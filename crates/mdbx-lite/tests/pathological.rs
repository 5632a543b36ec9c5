//! Pathological access patterns: a reader held open across 100,000 write transactions,
//! and 1,000,000 keys inserted in sequential, reverse and random order, deleted, and
//! grown and shrunk again. The file must stay consistent (`check`), its growth must be
//! bounded by what readers pin (`EnvStat::held_pages`) rather than by how long they
//! live, and freed space must be reused rather than the file extended forever.

mod common;
use common::{tmpfs_dir, Rng};

use std::time::Instant;

use mdbx_lite::{Durability, Env, EnvStat};

fn check(env: &Env, what: &str) {
    let t = Instant::now();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{what}: {:?}", report.problems);
    assert_eq!(report.pages.leaked, 0, "{what}");
    eprintln!(
        "  check after {what}: ok, {} pages ({} free) in {:.2} s",
        report.high_water,
        report.pages.free,
        t.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------------------------
// (a) A long-lived reader during 100,000 small write transactions
// ------------------------------------------------------------------------------------

const BASE_KEYS: u64 = 50;
const READER_TXNS: u64 = 100_000;
/// `Env::sync` every this many transactions (see the durability note below).
const SYNC_EVERY: u64 = 1_000;

fn small_key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(b"account:");
    k[8..].copy_from_slice(&(i.wrapping_mul(0x9E37_79B9) % 1_000_003).to_be_bytes());
    k
}

/// One small transaction: overwrite one key of a one-leaf table. The smallest change
/// there is, yet it frees the table's leaf and the path to the free tree's right edge
/// (where the transaction's own free-list entry goes): ~4 pages.
fn small_txn(env: &Env, n: u64, rng: &mut Rng) {
    let mut w = env.begin_write().unwrap();
    let i = rng.below(BASE_KEYS);
    let mut v = [0u8; 48];
    v[..8].copy_from_slice(&n.to_le_bytes());
    v[8..16].copy_from_slice(&i.to_le_bytes());
    w.main_table().put(&small_key(i), &v).unwrap();
    w.commit().unwrap();
}

/// `NoSync` is legitimate here: this test is about which pages the allocator may reuse,
/// and durability changes only one input of that decision. The snapshots a writer must
/// keep intact are the live readers' and the durable (steady) meta's; with `NoSync` the
/// latter advances at `Env::sync`, every 1,000 transactions here, and pins only the
/// pages born before it and freed after it. What `NoSync` skips is only the
/// `fdatasync` calls, which would make 100,000 commits take minutes on a real disk.
///
/// A page is held only while some protected snapshot can see it: one born and freed
/// after the reader's snapshot is reused while the reader lives. So the file grows by
/// at most the pages the reader's snapshot reaches (as they are replaced), not by the
/// reader's lag (LMDB and, before this rule, mdbx-lite hold every page freed after the
/// reader started: ~4 per transaction, 1.6 GB over this test).
#[test]
fn long_lived_reader_growth_is_bounded_and_reclaimed() {
    let start = Instant::now();
    let dir = tmpfs_dir(3 << 30);
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(dir.path().join("db"))
        .unwrap();
    let mut rng = Rng(7);
    // The table the small transactions update: 50 keys, one leaf.
    let mut w = env.begin_write().unwrap();
    for i in 0..BASE_KEYS {
        w.main_table().put(&small_key(i), &[0u8; 48]).unwrap();
    }
    w.commit().unwrap();
    let live_pages = {
        let s = env.begin_read().unwrap().main_table().stat();
        s.branch_pages + s.leaf_pages
    };
    // Warm up without a reader: the file reaches its steady size.
    let mut n = 0u64;
    for _ in 0..2 * SYNC_EVERY {
        n += 1;
        small_txn(&env, n, &mut rng);
        if n.is_multiple_of(SYNC_EVERY) {
            env.sync().unwrap();
        }
    }
    let st0 = env.stat().unwrap();
    // Pages the reader's snapshot will pin: everything reachable (table, free tree).
    let pinned_pages = st0.high_water_pages - 2 - st0.free_pages;
    eprintln!(
        "warm: {} live table pages, {pinned_pages} reachable, high water {} pages, \
         file {} KiB, free {} (held {})",
        live_pages,
        st0.high_water_pages,
        st0.file_bytes / 1024,
        st0.free_pages,
        st0.held_pages
    );

    // The reader pins the snapshot it started on: the pages it reaches stay intact.
    let reader = env.begin_read().unwrap();
    let pinned = reader.id();
    let probe = reader
        .main_table()
        .get(&small_key(5))
        .unwrap()
        .unwrap()
        .to_vec();
    let mut samples: Vec<(u64, EnvStat)> = Vec::new();
    for i in 1..=READER_TXNS {
        n += 1;
        small_txn(&env, n, &mut rng);
        if n.is_multiple_of(SYNC_EVERY) {
            env.sync().unwrap();
        }
        if i.is_multiple_of(10_000) || i == 1_000 {
            let st = env.stat().unwrap();
            assert_eq!(st.readers, 1);
            assert_eq!(st.oldest_reader_lag, i, "{st:?}");
            samples.push((i, st));
        }
    }
    for (i, st) in &samples {
        eprintln!(
            "  reader lag {i:>6}: high water {:>7} pages, file {:>7} KiB, held {:>7}, \
             reusable {:>3}, held per txn {:.2}",
            st.high_water_pages,
            st.file_bytes / 1024,
            st.held_pages,
            st.reusable_pages,
            st.held_pages as f64 / *i as f64
        );
    }
    // The snapshot is intact.
    assert_eq!(reader.id(), pinned);
    assert_eq!(
        reader.main_table().get(&small_key(5)).unwrap().unwrap(),
        &probe[..]
    );
    // Pages a checkpoint can pin: born before it, freed after it (a handful).
    const CHECKPOINT_SLACK: u64 = 16;
    for (i, st) in &samples {
        // Held: the reader's pages that were replaced since, never more than it
        // reaches, and at least the table leaf it reads (rewritten every transaction).
        assert!(st.held_pages >= 1, "lag {i}: {st:?}");
        assert!(
            st.held_pages <= pinned_pages + CHECKPOINT_SLACK,
            "lag {i}: holds more than the reader reaches ({pinned_pages}): {st:?}"
        );
        // No growth beyond what is held: the file holds the live trees, the held pages,
        // the few pages freed since the last reuse decision, and the warm-up's size.
        assert!(
            st.high_water_pages <= st0.high_water_pages + st.held_pages + CHECKPOINT_SLACK,
            "lag {i}: grew past what the reader holds: {st:?} (warm {st0:?})"
        );
        // Nothing reusable is left unused while the file grows.
        assert!(st.reusable_pages <= 64, "lag {i}: {st:?}");
    }
    // Growth stopped with the reader still there: as large at lag 100,000 as at 10,000.
    let at = |lag: u64| {
        samples
            .iter()
            .find(|s| s.0 == lag)
            .unwrap()
            .1
            .high_water_pages
    };
    assert!(at(READER_TXNS) <= at(10_000), "{samples:?}");
    check(&env, "100,000 txns under a reader");
    let peak = env.stat().unwrap();

    // The reader ends: after the next sync (the NoSync horizon) nothing is held, and
    // the file stops growing.
    drop(reader);
    env.sync().unwrap();
    let st = env.stat().unwrap();
    assert_eq!(st.readers, 0);
    assert_eq!(st.oldest_reader_lag, 0);
    assert_eq!(st.held_pages, 0, "{st:?}");
    assert_eq!(st.reusable_pages, st.free_pages);
    for _ in 0..5 * SYNC_EVERY {
        n += 1;
        small_txn(&env, n, &mut rng);
        if n.is_multiple_of(SYNC_EVERY) {
            env.sync().unwrap();
        }
    }
    let after = env.stat().unwrap();
    eprintln!(
        "after the reader: high water {} pages (peak {}), file {} KiB, free {}, held {}; \
         {:.1} s total",
        after.high_water_pages,
        peak.high_water_pages,
        after.file_bytes / 1024,
        after.free_pages,
        after.held_pages,
        start.elapsed().as_secs_f64()
    );
    assert!(
        after.high_water_pages <= peak.high_water_pages,
        "the file grew after the reader ended: {after:?} vs {peak:?}"
    );
    assert_eq!(after.file_bytes, peak.file_bytes);
    check(&env, "reclaim");
}

// ------------------------------------------------------------------------------------
// (b) 1,000,000 keys in three orders, delete everything, grow/shrink cycles
// ------------------------------------------------------------------------------------

const KEYS: u64 = 1_000_000;
const BATCHES: usize = 4;

fn key(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

fn val(i: u64, round: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v[8..].copy_from_slice(&round.to_le_bytes());
    v
}

/// Put or delete `keys` (in the given order) in `table`, in `BATCHES` transactions.
fn apply(env: &Env, table: &str, keys: &[u64], round: Option<u64>) {
    for chunk in keys.chunks(keys.len().div_ceil(BATCHES)) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.create_table(table).unwrap();
            for &i in chunk {
                match round {
                    Some(r) => t.put(&key(i), &val(i, r)).unwrap(),
                    None => assert!(t.delete(&key(i)).unwrap(), "{table}: key {i} missing"),
                }
            }
        }
        w.commit().unwrap();
    }
}

fn file_pages(env: &Env) -> (u64, u64) {
    let st = env.stat().unwrap();
    (st.file_bytes, st.high_water_pages)
}

fn sample_table(env: &Env, table: &str, len: u64, present: impl Fn(u64) -> Option<u64>) {
    let r = env.begin_read().unwrap();
    let t = r.open_table(table).unwrap();
    assert_eq!(t.len(), len, "{table}");
    for i in (0..KEYS).step_by(997) {
        let want = present(i).map(|round| val(i, round));
        assert_eq!(
            t.get(&key(i)).unwrap(),
            want.as_ref().map(|v| &v[..]),
            "{table} key {i}"
        );
    }
}

#[test]
fn million_keys_orders_delete_all_and_grow_shrink_cycles() {
    let start = Instant::now();
    let dir = tmpfs_dir(1 << 30);
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(42);
    let seq: Vec<u64> = (0..KEYS).collect();
    let rev: Vec<u64> = (0..KEYS).rev().collect();
    let mut rnd = seq.clone();
    rng.shuffle(&mut rnd);

    // Phase 1: the same million keys in three orders, one table each.
    let mut sizes = Vec::new();
    for (table, order) in [("seq", &seq), ("rev", &rev), ("rnd", &rnd)] {
        let t = Instant::now();
        apply(&env, table, order, Some(1));
        let st = env.begin_read().unwrap().open_table(table).unwrap().stat();
        eprintln!(
            "insert {table}: {} leaves, {} branches, depth {} in {:.2} s",
            st.leaf_pages,
            st.branch_pages,
            st.depth,
            t.elapsed().as_secs_f64()
        );
        sample_table(&env, table, KEYS, |_| Some(1));
        check(&env, &format!("insert {table}"));
        sizes.push((table, file_pages(&env)));
    }
    let (full_bytes, full_pages) = file_pages(&env);

    // Phase 2: delete everything, each table in the order it was inserted in, rotated:
    // seq in reverse, rev in random order, rnd sequentially.
    for (table, order) in [("seq", &rev), ("rev", &rnd), ("rnd", &seq)] {
        let t = Instant::now();
        apply(&env, table, order, None);
        let st = env.begin_read().unwrap().open_table(table).unwrap().stat();
        assert_eq!(
            (st.entries, st.leaf_pages, st.branch_pages, st.depth),
            (0, 0, 0, 0),
            "{table}"
        );
        eprintln!("delete {table} in {:.2} s", t.elapsed().as_secs_f64());
        check(&env, &format!("delete {table}"));
    }
    let empty = env.stat().unwrap();
    assert_eq!(empty.high_water_pages, full_pages, "deleting grew the file");
    // Almost every page is free now; what is left: metas, catalog, and the free tree
    // (~1 leaf per 4 chunks of 123 page numbers: 110 pages for 51,010 free pages).
    assert!(
        empty.free_pages + 16 + empty.high_water_pages / 100 >= empty.high_water_pages,
        "after deleting everything: {empty:?}"
    );

    // Phase 3: grow (1M keys, random order) / shrink (delete 90%, random order) cycles.
    let mut removed: Vec<u64> = rnd.iter().copied().filter(|i| i % 10 != 0).collect();
    let mut grown = Vec::new();
    for cycle in 1..=3u64 {
        let t = Instant::now();
        let round = 10 + cycle;
        if cycle == 1 {
            apply(&env, "cycle", &rnd, Some(round));
        } else {
            rng.shuffle(&mut removed);
            apply(&env, "cycle", &removed, Some(round));
        }
        let after_grow = file_pages(&env);
        check(&env, &format!("grow {cycle}"));
        sample_table(&env, "cycle", KEYS, |i| {
            Some(if cycle > 1 && i % 10 == 0 { 11 } else { round })
        });
        rng.shuffle(&mut removed);
        apply(&env, "cycle", &removed, None);
        let after_shrink = file_pages(&env);
        check(&env, &format!("shrink {cycle}"));
        sample_table(&env, "cycle", KEYS / 10, |i| (i % 10 == 0).then_some(11));
        eprintln!(
            "cycle {cycle}: after grow {} KiB / {} pages, after shrink {} KiB / {} pages \
             ({:.2} s)",
            after_grow.0 / 1024,
            after_grow.1,
            after_shrink.0 / 1024,
            after_shrink.1,
            t.elapsed().as_secs_f64()
        );
        assert_eq!(after_shrink, after_grow, "shrinking grew the file");
        grown.push(after_grow);
    }
    for (table, (bytes, pages)) in &sizes {
        eprintln!(
            "after inserting {table}: {} KiB, {pages} pages",
            bytes / 1024
        );
    }
    eprintln!(
        "three tables full: {} KiB / {full_pages} pages; total {:.1} s",
        full_bytes / 1024,
        start.elapsed().as_secs_f64()
    );
    // One table of 1M keys after the file held three: no growth at all.
    assert!(grown[0].1 <= full_pages, "{grown:?} vs {full_pages}");
    assert!(grown[0].0 <= full_bytes, "{grown:?} vs {full_bytes}");
    // Later cycles reuse the first cycle's space (2% tolerance).
    for (i, g) in grown.iter().enumerate().skip(1) {
        assert!(
            g.0 <= grown[0].0 + grown[0].0 / 50,
            "cycle {}: file {} > cycle 1's {}",
            i + 1,
            g.0,
            grown[0].0
        );
    }
}
