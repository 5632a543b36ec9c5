//! Leaf fill in large transactions: a full leaf first moves entries into an already
//! dirty neighbour before it splits, so a random bulk load packs pages well beyond the
//! 69% that plain splits leave, and the tree stays correct through shifts mixed with
//! deletes and overwrites.

mod common;
use common::{tmpfs_dir, Rng};

use std::collections::BTreeMap;

use mdbx_lite::Env;

const USABLE: f64 = (4096 - 32) as f64;
/// Bytes an entry with a 24-byte key and a 150-byte value takes in a leaf: its 8-byte
/// slot, the key, the 5-byte entry head and the value.
const ENTRY: f64 = (8 + 24 + 5 + 150) as f64;

fn key(rng: &mut Rng) -> [u8; 24] {
    let mut k = [0u8; 24];
    for c in k.chunks_mut(8) {
        c.copy_from_slice(&rng.next().to_le_bytes());
    }
    k
}

fn fill(env: &Env) -> f64 {
    let st = env.stat().unwrap();
    st.main.entries as f64 * ENTRY / (st.main.leaf_pages as f64 * USABLE)
}

fn verify(env: &Env, model: &BTreeMap<[u8; 24], Vec<u8>>) {
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let rtx = env.begin_read().unwrap();
    let t = rtx.main_table();
    assert_eq!(t.len(), model.len() as u64);
    let mut it = t.iter();
    for (k, v) in model {
        let (gk, gv) = it.next().unwrap().unwrap();
        assert_eq!((gk, gv), (&k[..], &v[..]));
    }
    assert!(it.next().is_none());
}

#[test]
fn random_bulk_load_fills_leaves_beyond_plain_splits() {
    let dir = tmpfs_dir(256 << 20);
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(7);
    let mut model = BTreeMap::new();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for _ in 0..200_000 {
            let k = key(&mut rng);
            let v = vec![k[0]; 150];
            t.put(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
    w.commit().unwrap();
    let bulk = fill(&env);
    verify(&env, &model);

    // The same keys in 1,000-key transactions: neighbours are rarely dirty, so leaves
    // split as usual (and stay correct).
    let small = Env::open(dir.path().join("small")).unwrap();
    let keys: Vec<_> = model.keys().copied().collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    rng.shuffle(&mut order);
    for chunk in order.chunks(1000) {
        let mut w = small.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for &i in chunk {
                t.put(&keys[i], &model[&keys[i]]).unwrap();
            }
        }
        w.commit().unwrap();
    }
    let split_only = fill(&small);
    verify(&small, &model);
    eprintln!("leaf fill: one transaction {bulk:.3}, 1,000-key transactions {split_only:.3}");
    assert!(bulk >= 0.74, "bulk-load leaf fill {bulk:.3}");
    assert!(bulk > split_only + 0.05, "{bulk:.3} vs {split_only:.3}");
}

#[test]
fn shifts_mixed_with_deletes_and_overwrites_match_a_model() {
    let dir = tmpfs_dir(64 << 20);
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(11);
    let mut model: BTreeMap<[u8; 24], Vec<u8>> = BTreeMap::new();
    for round in 0..4u8 {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for _ in 0..30_000 {
                let k = key(&mut rng);
                match rng.below(10) {
                    // Delete an existing key near `k` (keeps deletes landing on keys).
                    0..=2 => {
                        let Some(&old) = model.range(k..).next().map(|(k, _)| k) else {
                            continue;
                        };
                        assert!(t.delete(&old).unwrap());
                        model.remove(&old);
                    }
                    // Overwrite an existing key with a value of another size.
                    3 => {
                        let Some(&old) = model.range(k..).next().map(|(k, _)| k) else {
                            continue;
                        };
                        let v = vec![round; 40 + rng.below(200) as usize];
                        t.put(&old, &v).unwrap();
                        model.insert(old, v);
                    }
                    _ => {
                        let v = vec![k[1]; 1 + rng.below(300) as usize];
                        t.put(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                }
            }
        }
        w.commit().unwrap();
        verify(&env, &model);
    }
}
