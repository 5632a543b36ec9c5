//! Read scaling across threads and processes, and the cost of beginning a read
//! transaction. Usage: `cargo run --release -p mdbx-lite-benches --example multi_reader [N]`
//!
//! Builds N entries (default 1,000,000) of the benchmark workload, then:
//! - times 1,000,000 `begin_read` + drop in one thread (ns each);
//! - runs 2,000,000 random gets in each of 2 threads (one read txn each);
//! - runs the same in each of 2 processes (this program re-executed), sharing the page
//!   cache and the lock file's reader table.
//!
//! Gets per second are summed over workers; each worker times only its get loop.

use std::process::Command;
use std::time::Instant;

use mdbx_lite::Env;
use mdbx_lite_benches::{build, key, Rng};

const GETS: u64 = 2_000_000;

fn get_loop(env: &Env, n: u64, seed: u64) -> f64 {
    let rtx = env.begin_read().expect("read txn");
    let table = rtx.main_table();
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut found = 0u64;
    for _ in 0..GETS {
        if table.get(&key(rng.next_u64() % n)).expect("get").is_some() {
            found += 1;
        }
    }
    assert_eq!(found, GETS);
    start.elapsed().as_secs_f64()
}

fn main() -> mdbx_lite::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let path = &args[2];
        let n: u64 = args[3].parse().expect("n");
        let seed: u64 = args[4].parse().expect("seed");
        let env = Env::open(path)?;
        println!("{}", get_loop(&env, n, seed));
        return Ok(());
    }
    let n: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db");
    let env = build(&path, n)?;

    // Warm the page cache so every mode reads from memory.
    get_loop(&env, n, 99);

    let iters = 1_000_000u32;
    let start = Instant::now();
    for _ in 0..iters {
        drop(env.begin_read()?);
    }
    let begin_ns = start.elapsed().as_nanos() as f64 / f64::from(iters);

    let one = get_loop(&env, n, 1);

    let threads: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2u64)
            .map(|i| {
                let env = &env;
                s.spawn(move || get_loop(env, n, 10 + i))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });

    let exe = std::env::current_exe()?;
    let spawned: Vec<_> = (0..2u64)
        .map(|i| {
            Command::new(&exe)
                .args(["--child", path.to_str().expect("utf-8 path")])
                .arg(n.to_string())
                .arg((30 + i).to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let procs: Vec<f64> = spawned
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("child");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("child time")
        })
        .collect();

    let rate = |secs: &[f64]| secs.iter().map(|s| GETS as f64 / s).sum::<f64>() / 1e6;
    println!("entries: {n}");
    println!("begin_read + drop: {begin_ns:.0} ns");
    println!("1 thread:    {:.2} M gets/s", rate(&[one]));
    println!("2 threads:   {:.2} M gets/s (sum)", rate(&threads));
    println!("2 processes: {:.2} M gets/s (sum)", rate(&procs));
    Ok(())
}
