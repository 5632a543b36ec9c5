//! Growth past the initial 1 GiB mapping: 2 GiB of values with default options, readers
//! holding old mappings across remaps, reopen, and every byte verified against its
//! generator (nothing is kept in memory).

mod common;
use common::{pseudo_random_bytes, splitmix};

use std::time::Instant;

use mdbx_lite::Env;

const MIB: usize = 1 << 20;
/// 2,048 values of 1 MiB (2 GiB) in 16 transactions, with small values beside them.
const BIG: u64 = 2_048;
const BIG_PER_TXN: u64 = 128;
const SMALL_PER_TXN: u64 = 8_000;
/// One 96 MiB value: a single long overflow run.
const HUGE: usize = 96 * MIB;

/// Fill `buf` with the pattern of value `id`: a base stream XOR a per-value constant,
/// and the id in the first 8 bytes, so values differ everywhere and in their heads.
fn fill(buf: &mut [u8], id: u64, base: &[u64]) {
    let salt = splitmix(id);
    for (i, chunk) in buf.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&(base[i % base.len()] ^ salt ^ i as u64).to_le_bytes());
    }
    let n = buf.len().min(8);
    buf[..n].copy_from_slice(&id.to_le_bytes()[..n]);
}

fn big_key(i: u64) -> Vec<u8> {
    format!("big/{i:05}").into_bytes()
}

fn small_key(i: u64) -> Vec<u8> {
    format!("small/{i:08}").into_bytes()
}

fn small_value(i: u64) -> Vec<u8> {
    pseudo_random_bytes(i, (splitmix(i) % 200) as usize)
}

struct Verifier {
    base: Vec<u64>,
    buf: Vec<u8>,
}

impl Verifier {
    fn new() -> Verifier {
        Verifier {
            base: (0..(MIB / 8) as u64)
                .map(|i| splitmix(i ^ 0x5555))
                .collect(),
            buf: vec![0u8; HUGE],
        }
    }

    fn expect(&mut self, id: u64, len: usize) -> &[u8] {
        fill(&mut self.buf[..len], id, &self.base);
        &self.buf[..len]
    }

    fn check_big(&mut self, t: &mdbx_lite::ReadTable<'_>, upto: u64) {
        for i in 0..upto {
            let got = t
                .get(&big_key(i))
                .unwrap()
                .unwrap_or_else(|| panic!("big {i} missing"));
            assert!(got == self.expect(i, MIB), "big value {i} differs");
        }
        assert!(t.get(&big_key(upto)).unwrap().is_none());
    }
}

#[test]
fn two_gib_of_values_survive_growth_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut v = Verifier::new();
    let t0 = Instant::now();
    let env = Env::open(&path).unwrap();
    let mut early = None;
    let mut middle = None;
    for txn in 0..BIG / BIG_PER_TXN {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in txn * BIG_PER_TXN..(txn + 1) * BIG_PER_TXN {
                t.put(&big_key(i), v.expect(i, MIB)).unwrap();
            }
            for i in txn * SMALL_PER_TXN..(txn + 1) * SMALL_PER_TXN {
                t.put(&small_key(i), &small_value(i)).unwrap();
            }
            if txn == 5 {
                t.put(b"huge", v.expect(u64::MAX, HUGE)).unwrap();
            }
        }
        w.commit().unwrap();
        // Readers opened on a small file keep their mapping while the writer remaps.
        if txn == 0 {
            early = Some(env.begin_read().unwrap());
        }
        if txn == 7 {
            middle = Some(env.begin_read().unwrap());
        }
    }
    let st = env.stat().unwrap();
    eprintln!(
        "wrote {} MiB in {:?}: file {} MiB, mapping {} MiB, {} pages",
        (BIG as usize * MIB + HUGE) >> 20,
        t0.elapsed(),
        st.file_bytes >> 20,
        st.mapped_bytes >> 20,
        st.high_water_pages
    );
    assert!(st.file_bytes >= BIG << 20);
    assert!(
        st.mapped_bytes > 1 << 30,
        "no remap past the first 1 GiB reservation"
    );
    let early = early.unwrap();
    v.check_big(&early.main_table(), BIG_PER_TXN);
    assert!(early.main_table().get(b"huge").unwrap().is_none());
    let middle = middle.unwrap();
    v.check_big(&middle.main_table(), 8 * BIG_PER_TXN);
    drop((early, middle));
    drop(env);

    let t1 = Instant::now();
    let env = Env::open(&path).unwrap();
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    assert_eq!(t.len(), BIG + 1 + SMALL_PER_TXN * (BIG / BIG_PER_TXN));
    v.check_big(&t, BIG);
    let huge = t.get(b"huge").unwrap().unwrap();
    assert!(huge == v.expect(u64::MAX, HUGE), "huge value differs");
    let mut n = 0u64;
    for e in t.range(&b"small/"[..]..&b"small0"[..]) {
        let (k, val) = e.unwrap();
        assert_eq!(k, &small_key(n)[..]);
        assert_eq!(val, &small_value(n)[..], "small value {n}");
        n += 1;
    }
    assert_eq!(n, SMALL_PER_TXN * (BIG / BIG_PER_TXN));
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(report.pages.overflow >= BIG * 257, "{:?}", report.pages);
    eprintln!("reopened and verified in {:?}", t1.elapsed());
}

/// Two environments on one file: one grows the file in a transaction it aborts, the
/// other (which saw no commit since its last one, so it does not measure the file when
/// it begins) then grows it too. The file never shrinks under the first one's mapping,
/// and both keep reading and writing every entry.
#[test]
fn a_grown_and_aborted_file_never_shrinks_under_another_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let open = || {
        Env::builder()
            .growth_step(64 * 1024)
            .dirty_limit(0)
            .open(&path)
            .unwrap()
    };
    let (a, b) = (open(), open());
    let value = vec![7u8; 3000];
    let mut next = 0u64;
    let mut put = |env: &Env, n: u64, commit: bool| {
        let mut w = env.begin_write().unwrap();
        for i in next..next + n {
            w.main_table().put(&small_key(i), &value).unwrap();
        }
        if commit {
            w.commit().unwrap();
            next += n;
        } else {
            w.abort();
        }
    };
    put(&b, 10, true);
    put(&b, 10, true);
    let len = || std::fs::metadata(&path).unwrap().len();
    for round in 0..4u64 {
        // `a` spills (the smallest dirty limit) and grows the file, then aborts.
        put(&a, 2000 + 500 * round, false);
        let grown = len();
        put(&b, 20 + 200 * round, true);
        assert!(
            len() >= grown,
            "round {round}: the file shrank from {grown} to {}",
            len()
        );
        put(&a, 10, true);
        assert!(len() >= grown);
    }
    for env in [&a, &b] {
        let r = env.begin_read().unwrap();
        assert_eq!(r.main_table().len(), next);
        for (i, e) in r.main_table().iter().enumerate() {
            let (k, v) = e.unwrap();
            assert!(k == &small_key(i as u64)[..] && v == &value[..]);
        }
        assert!(env.check().unwrap().is_ok());
    }
}
