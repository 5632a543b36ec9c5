//! How well slot heads tell keys apart, level by level: loads N keys of KIND, then
//! samples about 40 pages per tree level and prints their average entries, key length
//! and page prefix length, and how many neighbouring entries have equal slot heads
//! (each such pair costs a binary search a key read).
//!
//! `cargo run --release -p mdbx-lite-benches --example prefix_stats -- paths 1000000`

use mdbx_lite_benches::KeyKind;

fn main() -> mdbx_lite::Result<()> {
    let kind = mdbx_lite_benches::arg_key_kind(1, KeyKind::Paths);
    let n = mdbx_lite_benches::arg_u64(2, 200_000);
    let dir = tempfile::tempdir()?;
    let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    mdbx_lite_benches::load_keys(&env, kind, n)?;
    let tree = env.tree(None)?;
    for (level, nodes) in tree.levels.iter().enumerate() {
        let (mut pages, mut entries, mut key_bytes, mut prefix_bytes, mut equal) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for node in nodes.iter().step_by((nodes.len() / 40).max(1)) {
            let info = env.page_info(node.pgno)?;
            let plen = usize::from(info.header.prefix_len);
            let heads: Vec<&[u8]> = info
                .entries
                .iter()
                .map(|e| {
                    key_bytes += e.key.len();
                    let after = e.key.get(plen..).unwrap_or_default();
                    &after[..after.len().min(4)]
                })
                .collect();
            pages += 1;
            prefix_bytes += plen;
            entries += heads.len();
            equal += heads.windows(2).filter(|w| w[0] == w[1]).count();
        }
        println!(
            "level {level}: {} pages ({pages} sampled), {:.1} entries, key {:.1} bytes, \
             prefix {:.1} bytes, equal neighbouring heads {:.1}%",
            nodes.len(),
            entries as f64 / pages as f64,
            key_bytes as f64 / entries.max(1) as f64,
            prefix_bytes as f64 / pages as f64,
            100.0 * equal as f64 / entries.max(1) as f64
        );
    }
    Ok(())
}
