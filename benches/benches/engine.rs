//! Hot-path micro-benchmarks on 1,000,000 entries (24-byte keys, 150-byte values):
//! point get (hit, miss; hit also with `verify_checksums(true)`), full scan, cursor next,
//! seek, batched put, commit.
//!
//! Run: `cargo bench -p mdbx-lite-benches --bench engine`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mdbx_lite::{Durability, Env};
use mdbx_lite_benches::{build, key, value, Rng};

const N: u64 = 1_000_000;

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let env = build(&path, N).expect("build");
    let rtx = env.begin_read().expect("read txn");
    let table = rtx.main_table();
    let mut g = c.benchmark_group("read_1M");

    let mut rng = Rng::new(1);
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            let k = key(rng.next_u64() % N);
            black_box(table.get(&k).expect("get"));
        })
    });
    let mut rng = Rng::new(2);
    g.bench_function("get_miss", |b| {
        b.iter(|| {
            let k = key(N + rng.next_u64() % N);
            black_box(table.get(&k).expect("get"));
        })
    });
    let mut rng = Rng::new(3);
    g.bench_function("seek_then_10_next", |b| {
        b.iter(|| {
            let mut cur = table.cursor();
            let k = key(rng.next_u64() % N);
            black_box(cur.seek(&k).expect("seek"));
            for _ in 0..9 {
                black_box(cur.next().expect("next"));
            }
        })
    });
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("full_scan", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for e in table.iter() {
                let (k, v) = e.expect("entry");
                n += (k.len() + v.len()) as u64;
            }
            black_box(n)
        })
    });
    g.bench_function("cursor_next_all", |b| {
        b.iter(|| {
            let mut cur = table.cursor();
            let mut n = 0u64;
            while let Some((k, _)) = cur.next().expect("next") {
                n += k.len() as u64;
            }
            black_box(n)
        })
    });
    g.finish();
    drop(rtx);
    drop(env);

    // The same point get with `verify_checksums(true)`: every page the search touches
    // gets its crc32 checked, so this measures what checksum verification costs a read.
    let env = Env::builder()
        .verify_checksums(true)
        .open(&path)
        .expect("reopen with verify_checksums");
    let rtx = env.begin_read().expect("read txn");
    let table = rtx.main_table();
    let mut g = c.benchmark_group("read_1M_verify_checksums");
    let mut rng = Rng::new(1);
    g.bench_function("get_hit", |b| {
        b.iter(|| {
            let k = key(rng.next_u64() % N);
            black_box(table.get(&k).expect("get"));
        })
    });
    g.finish();
}

fn writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("write_1M");
    g.sample_size(20);
    for (name, durability) in [
        ("put_1000_commit_nosync", Durability::NoSync),
        ("put_1000_commit_full", Durability::Full),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        build(&dir.path().join("db"), N).expect("build");
        let env = Env::builder()
            .durability(durability)
            .open(dir.path().join("db"))
            .expect("open");
        let mut rng = Rng::new(7);
        g.throughput(Throughput::Elements(1000));
        g.bench_function(name, |b| {
            b.iter_batched(
                || (0..1000).map(|_| rng.next_u64()).collect::<Vec<u64>>(),
                |ids| {
                    let mut w = env.begin_write().expect("write");
                    {
                        let mut t = w.main_table();
                        for i in ids {
                            t.put(&key(i), &value(i)).expect("put");
                        }
                    }
                    w.commit().expect("commit");
                },
                BatchSize::SmallInput,
            )
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");
    build(&dir.path().join("db"), N).expect("build");
    let env = Env::open(dir.path().join("db")).expect("open");
    let mut rng = Rng::new(9);
    g.throughput(Throughput::Elements(1));
    g.bench_function("single_put_commit_full", |b| {
        b.iter(|| {
            let i = rng.next_u64();
            let mut w = env.begin_write().expect("write");
            w.main_table().put(&key(i), &value(i)).expect("put");
            w.commit().expect("commit");
        })
    });
    g.finish();
}

fn bulk(c: &mut Criterion) {
    let mut g = c.benchmark_group("bulk");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N));
    g.bench_function("load_1M_random_one_txn", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |dir| {
                build(&dir.path().join("db"), N).expect("build");
                dir
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, reads, writes, bulk);
criterion_main!(benches);
