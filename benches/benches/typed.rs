//! The typed layer against the byte API on the same table: 1,000,000 entries of a u64
//! key (big-endian, the typed encoding) and a 150-byte value. Point gets of random
//! keys, and 1,000 random puts in a write transaction (aborted, so every batch meets the same
//! table), each through
//! `TableDef<u64, [u8; 150]>` and through `&[u8]`; the pairs of rows should be within
//! a few percent of each other.
//!
//! Then an integer-key table (`Integer<u64>`: native-endian keys in LMDB's integer
//! order) against a bytewise table of the same keys (`u64`: big-endian), gets and puts
//! as above: what the integer order costs.
//!
//! Run: `cargo bench -p mdbx-lite-benches --bench typed`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mdbx_lite::{Durability, Env, Integer, Key, TableDef};
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

/// The table of `def` filled with the N keys of `open`.
fn filled<K: for<'a> Key<Ref<'a> = u64>>(
    dir: &std::path::Path,
    def: &TableDef<K, [u8; VALUE_LEN]>,
) -> Env {
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(dir.join("db"))
        .expect("open");
    let mut w = env.begin_write().expect("write");
    {
        let mut t = w.create(def).expect("table");
        for i in 0..N {
            let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            t.put(k, &value(i)).expect("put");
        }
    }
    w.commit().expect("commit");
    env
}

fn key_orders(c: &mut Criterion) {
    const BYTEWISE: TableDef<u64, [u8; VALUE_LEN]> = TableDef::new("t");
    const INTEGER: TableDef<Integer<u64>, [u8; VALUE_LEN]> = TableDef::new("t");
    let (d1, d2) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (e1, e2) = (filled(d1.path(), &BYTEWISE), filled(d2.path(), &INTEGER));
    let mut g = c.benchmark_group("integer_vs_bytewise_get_1M");
    let (r1, r2) = (
        e1.begin_read().expect("read"),
        e2.begin_read().expect("read"),
    );
    let (t1, t2) = (
        r1.open(&BYTEWISE).expect("t"),
        r2.open(&INTEGER).expect("t"),
    );
    let mut rng = Rng::new(1);
    g.bench_function("bytewise", |b| {
        b.iter(|| {
            let k = (rng.next_u64() % N).wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            black_box(t1.get(k).expect("get"));
        })
    });
    let mut rng = Rng::new(1);
    g.bench_function("integer", |b| {
        b.iter(|| {
            let k = (rng.next_u64() % N).wrapping_mul(0x9E37_79B9_7F4A_7C15) % (4 * N);
            black_box(t2.get(k).expect("get"));
        })
    });
    g.finish();
    drop((r1, r2));
    let mut g = c.benchmark_group("integer_vs_bytewise_put_1000");
    g.sample_size(30);
    g.throughput(Throughput::Elements(1000));
    let batch = |rng: &mut Rng| {
        (0..1000)
            .map(|_| rng.next_u64() % (4 * N))
            .collect::<Vec<u64>>()
    };
    for (name, env, integer) in [("bytewise", &e1, false), ("integer", &e2, true)] {
        let mut rng = Rng::new(7);
        g.bench_function(name, |b| {
            b.iter_batched(
                || batch(&mut rng),
                |ks| {
                    let mut w = env.begin_write().expect("write");
                    if integer {
                        let mut t = w.open(&INTEGER).expect("table");
                        for k in ks {
                            t.put(k, &value(k)).expect("put");
                        }
                    } else {
                        let mut t = w.open(&BYTEWISE).expect("table");
                        for k in ks {
                            t.put(k, &value(k)).expect("put");
                        }
                    }
                    w.abort();
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, gets, puts, key_orders);
criterion_main!(benches);
