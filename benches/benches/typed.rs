//! The typed layer against the byte API on the same table: 1,000,000 entries of a u64
//! key (big-endian, the typed encoding) and a 150-byte value. Point gets of random
//! keys, and 1,000 random puts in a write transaction (aborted, so every batch meets the same
//! table), each through
//! `TableDef<u64, [u8; 150]>` and through `&[u8]`; the pairs of rows should be within
//! a few percent of each other.
//!
//! Run: `cargo bench -p mdbx-lite-benches --bench typed`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mdbx_lite::{Durability, Env, TableDef};
use mdbx_lite_benches::{value, Rng, VALUE_LEN};

const N: u64 = 1_000_000;
const TABLE: TableDef<u64, [u8; VALUE_LEN]> = TableDef::new("t");

fn open(dir: &std::path::Path) -> Env {
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(dir.join("db"))
        .expect("open");
    let mut w = env.begin_write().expect("write");
    {
        let mut t = w.create(&TABLE).expect("table");
        for i in 0..N {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            t.put(k, &value(i)).expect("put");
        }
    }
    w.commit().expect("commit");
    env
}

fn gets(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = open(dir.path());
    let rtx = env.begin_read().expect("read");
    let typed = rtx.open(&TABLE).expect("typed");
    let bytes = typed.raw();
    let mut g = c.benchmark_group("typed_vs_bytes_get_1M");
    let mut rng = Rng::new(1);
    g.bench_function("bytes", |b| {
        b.iter(|| {
            let k = (rng.next_u64() % N).wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            black_box(bytes.get(&k.to_be_bytes()).expect("get"));
        })
    });
    let mut rng = Rng::new(1);
    g.bench_function("typed", |b| {
        b.iter(|| {
            let k = (rng.next_u64() % N).wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            black_box(typed.get(k).expect("get"));
        })
    });
    g.finish();
}

fn puts(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = open(dir.path());
    let mut g = c.benchmark_group("typed_vs_bytes_put_1000");
    g.sample_size(30);
    g.throughput(Throughput::Elements(1000));
    let batch = |rng: &mut Rng| {
        (0..1000)
            .map(|_| rng.next_u64() % (4 * N))
            .collect::<Vec<u64>>()
    };
    let mut rng = Rng::new(7);
    g.bench_function("bytes", |b| {
        b.iter_batched(
            || batch(&mut rng),
            |ks| {
                let mut w = env.begin_write().expect("write");
                {
                    let mut t = w.create(&TABLE).expect("table");
                    let t = t.raw();
                    for k in ks {
                        t.put(&k.to_be_bytes(), &value(k)).expect("put");
                    }
                }
                w.abort();
            },
            BatchSize::SmallInput,
        )
    });
    let mut rng = Rng::new(7);
    g.bench_function("typed", |b| {
        b.iter_batched(
            || batch(&mut rng),
            |ks| {
                let mut w = env.begin_write().expect("write");
                {
                    let mut t = w.create(&TABLE).expect("table");
                    for k in ks {
                        t.put(k, &value(k)).expect("put");
                    }
                }
                w.abort();
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, gets, puts);
criterion_main!(benches);
