//! One-pass removals against a loop of deletes, on the peer workload's database (N
//! random 24-byte keys, 150-byte values, in the main table): `delete_range` of half the
//! keys (a contiguous range), `retain` keeping half (by a value bit, so removals are
//! spread over every leaf), and `delete_range` of everything, each against deleting the
//! same keys one by one (collected beforehand, untimed). Each measurement runs on a
//! fresh copy of the database and includes the commit; medians of the runs.
//!
//! Run: `cargo run --release -p mdbx-lite-benches --example sweep -- [N] [RUNS]`

use std::path::Path;
use std::time::Instant;

use mdbx_lite::{Env, Result};
use mdbx_lite_benches::{arg_u64, build, median};

/// Half the key space: keys below this are removed by the range cases.
const HALF: [u8; 1] = [0x80];

fn keep(v: &[u8]) -> bool {
    v[0] & 1 == 0
}

/// The keys a case removes, in key order.
fn doomed(env: &Env, case: usize) -> Result<Vec<Vec<u8>>> {
    let r = env.begin_read()?;
    let t = r.main_table();
    let mut out = Vec::new();
    for e in t.iter() {
        let (k, v) = e?;
        let goes = match case {
            0 => k < &HALF[..],
            1 => !keep(v),
            _ => true,
        };
        if goes {
            out.push(k.to_vec());
        }
    }
    Ok(out)
}

/// Milliseconds of case `case` on a fresh copy of `base`, one pass (`sweep`) or a loop
/// of deletes.
fn run(base: &Path, dir: &Path, case: usize, sweep: bool, keys: &[Vec<u8>]) -> Result<f64> {
    let path = dir.join(format!("db-{case}-{sweep}"));
    std::fs::copy(base, &path)?;
    let env = Env::open(&path)?;
    let t = Instant::now();
    let mut w = env.begin_write()?;
    let removed = {
        let mut tab = w.main_table();
        if sweep {
            match case {
                0 => tab.delete_range(..&HALF[..])?,
                1 => tab.retain(|_, v| keep(v))?,
                _ => tab.delete_range::<&[u8], _>(..)?,
            }
        } else {
            let mut n = 0;
            for k in keys {
                n += u64::from(tab.delete(k)?);
            }
            n
        }
    };
    w.commit()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(removed, keys.len() as u64);
    drop(env);
    std::fs::remove_file(&path)?;
    Ok(ms)
}

fn main() -> Result<()> {
    let n = arg_u64(1, 1_000_000);
    let runs = arg_u64(2, 3);
    let dir = tempfile::tempdir()?;
    let base = dir.path().join("base");
    drop(build(&base, n)?);
    let env = Env::open(&base)?;
    let cases = ["delete_range, half", "retain, half", "delete_range, all"];
    let keys: Vec<Vec<Vec<u8>>> = (0..cases.len())
        .map(|c| doomed(&env, c))
        .collect::<Result<_>>()?;
    drop(env);
    println!("| removal (N = {n}, median of {runs}) | entries removed | one pass (ms) | loop of deletes (ms) | one pass / loop |");
    println!("|---|--:|--:|--:|--:|");
    for (c, name) in cases.iter().enumerate() {
        let (mut one, mut each) = (Vec::new(), Vec::new());
        for r in 0..runs {
            // Alternate which goes first.
            if r % 2 == 0 {
                one.push(run(&base, dir.path(), c, true, &keys[c])?);
                each.push(run(&base, dir.path(), c, false, &keys[c])?);
            } else {
                each.push(run(&base, dir.path(), c, false, &keys[c])?);
                one.push(run(&base, dir.path(), c, true, &keys[c])?);
            }
        }
        let (a, b) = (median(one), median(each));
        println!(
            "| {name} | {} | {a:.0} | {b:.0} | {:.2} |",
            keys[c].len(),
            a / b
        );
    }
    Ok(())
}
