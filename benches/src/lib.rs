//! Shared helpers for the benchmarks: the workload redb publishes (24-byte random keys,
//! 150-byte random values from a seeded generator), the peer comparison's other key
//! kinds ([`KeyKind`]) and database builders.

use mdbx_lite::{Durability, Env, Result};

mod keys;
pub use keys::{KeyBuf, KeyKind, Keys, MAX_KEY_LEN};

/// SplitMix64: a small, fast, seeded generator (no external crates needed).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub const KEY_LEN: usize = 24;
pub const VALUE_LEN: usize = 150;

/// The `i`-th key of the workload (deterministic, so benches can re-derive keys).
pub fn key(i: u64) -> [u8; KEY_LEN] {
    let mut r = Rng::new(i.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED);
    let mut k = [0u8; KEY_LEN];
    r.fill(&mut k);
    k
}

pub fn value(i: u64) -> [u8; VALUE_LEN] {
    let mut r = Rng::new(i ^ 0xA11C_E5ED);
    let mut v = [0u8; VALUE_LEN];
    r.fill(&mut v);
    v
}

/// The median of `v` (the upper one of an even count); `v` must not be empty.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The `i`-th command-line argument (1-based) as a number, or `default` (for the
/// examples).
pub fn arg_u64(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// Create a database at `path` holding keys `0..n` of the workload in the main table.
pub fn build(path: &std::path::Path, n: u64) -> Result<Env> {
    let env = Env::builder().durability(Durability::Full).open(path)?;
    load(&env, n)?;
    Ok(env)
}

/// Put keys `0..n` of the workload into the main table in one transaction and commit;
/// returns how long the puts took and how long the whole load took.
pub fn load(env: &Env, n: u64) -> Result<(std::time::Duration, std::time::Duration)> {
    let t = std::time::Instant::now();
    let mut w = env.begin_write()?;
    {
        let mut tab = w.main_table();
        for i in 0..n {
            tab.put(&key(i), &value(i))?;
        }
    }
    let puts = t.elapsed();
    w.commit()?;
    Ok((puts, t.elapsed()))
}

/// The key kind named by the `i`-th command-line argument (1-based), `default` when
/// absent; exits with a message for an unknown name (for the examples).
pub fn arg_key_kind(i: usize, default: KeyKind) -> KeyKind {
    match std::env::args().nth(i) {
        None => default,
        Some(name) => KeyKind::parse(&name).unwrap_or_else(|| {
            eprintln!("unknown key kind {name}");
            std::process::exit(2)
        }),
    }
}

/// Put the first `n` keys of `kind` (in the workload's order, with the workload's
/// values) into the main table in one transaction and commit.
pub fn load_keys(env: &Env, kind: KeyKind, n: u64) -> Result<()> {
    let keys = Keys::new(kind, n);
    let mut kb = keys.buf();
    let mut w = env.begin_write()?;
    {
        let mut t = w.main_table();
        for j in 0..n {
            t.put(kb.key(j), &value(keys.index(j)))?;
        }
    }
    w.commit()
}
