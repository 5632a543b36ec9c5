//! The peer workload's phases on u64 keys, for an integer-key table (`Integer<u64>`:
//! native-endian keys in LMDB's integer order) against a bytewise table of the same
//! keys (`u64`: big-endian), alternating fresh databases, medians of the runs:
//! bulk load of N random keys in one transaction, N random reads, N/10 range reads of
//! 10 entries, 20 durable transactions of 1,000 random puts, removal of N/5 keys in one
//! transaction. Values are the peer workload's 150 bytes.
//!
//! Run: `cargo run --release -p mdbx-lite-benches --example integer_keys -- [N] [RUNS]`

use std::time::Instant;

use mdbx_lite::{Env, Integer, Key, TableDef};
use mdbx_lite_benches::{arg_u64, median, value, Rng, VALUE_LEN};

const BYTEWISE: TableDef<u64, [u8; VALUE_LEN]> = TableDef::new("t");
const INTEGER: TableDef<Integer<u64>, [u8; VALUE_LEN]> = TableDef::new("t");
const PHASES: [&str; 5] = [
    "bulk load",
    "random reads",
    "range reads",
    "batch writes",
    "removals",
];

/// Key `i`: distinct for distinct `i`, in no order related to `i` (an odd multiplier is
/// a bijection on u64).
fn key(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Milliseconds of each phase on a fresh database of `def`.
fn run<K: for<'a> Key<Ref<'a> = u64>>(
    def: &TableDef<K, [u8; VALUE_LEN]>,
    n: u64,
) -> mdbx_lite::Result<[f64; 5]> {
    let dir = tempfile::tempdir()?;
    let env = Env::open(dir.path().join("db"))?;
    let mut ms = [0.0; 5];
    let t = Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.create(def)?;
        for i in 0..n {
            tab.put(key(i), &value(i))?;
        }
    }
    w.commit()?;
    ms[0] = t.elapsed().as_secs_f64() * 1e3;
    let r = env.begin_read()?;
    let tab = r.open(def)?;
    let mut rng = Rng::new(1);
    let mut sum = 0u64;
    let t = Instant::now();
    for _ in 0..n {
        let v = tab.get(key(rng.next_u64() % n))?.expect("present");
        sum += u64::from(v[0]);
    }
    ms[1] = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    for _ in 0..n / 10 {
        for e in tab.range(key(rng.next_u64() % n)..)?.take(10) {
            sum += e?.0 & 1;
        }
    }
    ms[2] = t.elapsed().as_secs_f64() * 1e3;
    drop(r);
    let t = Instant::now();
    for b in 0..20u64 {
        let mut w = env.begin_write()?;
        {
            let mut tab = w.open(def)?;
            for j in 0..1000 {
                let i = n + b * 1000 + j;
                tab.put(key(i), &value(i))?;
            }
        }
        w.commit()?;
    }
    ms[3] = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.open(def)?;
        for i in (0..n).step_by(5) {
            assert!(tab.delete(key(i))?);
        }
    }
    w.commit()?;
    ms[4] = t.elapsed().as_secs_f64() * 1e3;
    std::hint::black_box(sum);
    Ok(ms)
}

fn main() -> mdbx_lite::Result<()> {
    let n = arg_u64(1, 1_000_000);
    let runs = arg_u64(2, 3);
    let (mut b, mut i) = (Vec::new(), Vec::new());
    for r in 0..runs {
        // Alternate which kind goes first.
        if r % 2 == 0 {
            b.push(run(&BYTEWISE, n)?);
            i.push(run(&INTEGER, n)?);
        } else {
            i.push(run(&INTEGER, n)?);
            b.push(run(&BYTEWISE, n)?);
        }
        println!(
            "run {}: bytewise {:?} ms, integer {:?} ms",
            r + 1,
            b[r as usize],
            i[r as usize]
        );
    }
    println!("| phase (N = {n}, median of {runs}) | bytewise u64 (ms) | Integer<u64> (ms) | integer / bytewise |");
    println!("|---|--:|--:|--:|");
    for (p, name) in PHASES.iter().enumerate() {
        let mb = median(b.iter().map(|m| m[p]).collect());
        let mi = median(i.iter().map(|m| m[p]).collect());
        println!("| {name} | {mb:.0} | {mi:.0} | {:.2} |", mi / mb);
    }
    Ok(())
}
