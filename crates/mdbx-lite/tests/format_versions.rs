//! Files of older format versions (1: node pages without a page prefix; 2: no dup-sort
//! tables) are read as they are, and a writable open marks them with the current version
//! (6) before writing prefixed pages, dup-sort tables, integer slot heads, savepoints or one-sync metas;
//! version 3 files' integer-ordered pages (bytewise slot heads) are read as they are.
//!
//! `data/format-v1.db` was written by the version-1 build: `mdbx-lite load` of the
//! entries below, then `mdbx-lite copy -c`, cut to its high-water mark (25 pages of
//! 4 KiB).

use mdbx_lite::{Env, Error};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/format-v1.db");

/// The main table's 900 path keys and values, as loaded into the fixture.
fn main_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<(Vec<u8>, Vec<u8>)> = (0..900u32)
        .map(|i| {
            let key = format!(
                "/home/user1/projects/p{}/src/dir{}/file{i:05}.rs",
                i / 200,
                (i / 24) % 9
            )
            .into_bytes();
            let mut value = b"v".to_vec();
            value.extend_from_slice(&key[key.len() - 9..]);
            (key, value)
        })
        .collect();
    v.sort();
    v
}

/// Table `events`: 300 composite keys with a big-endian counter.
fn event_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..300u64)
        .map(|i| {
            let mut key = b"tenant0001/user000042/".to_vec();
            key.extend_from_slice(&i.to_be_bytes());
            (key, vec![(i % 256) as u8; 10])
        })
        .collect()
}

fn meta_versions(path: &std::path::Path) -> [u32; 2] {
    let bytes = std::fs::read(path).unwrap();
    let at = |slot: usize| {
        let o = slot * 4096 + 40;
        u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
    };
    [at(0), at(1)]
}

fn assert_contents(env: &Env) {
    let r = env.begin_read().unwrap();
    let main: Vec<(Vec<u8>, Vec<u8>)> = r
        .main_table()
        .iter()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    assert_eq!(main, main_entries());
    let t = r.open_table("events").unwrap();
    for (k, v) in event_entries() {
        assert_eq!(t.get(&k).unwrap(), Some(&v[..]));
    }
    assert_eq!(t.len(), 300);
}

#[test]
fn a_version_1_file_reads_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert_eq!(meta_versions(&path), [1, 1]);
    let env = Env::builder().read_only(true).open(&path).unwrap();
    assert_contents(&env);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(env);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a read-only open wrote"
    );
}

#[test]
fn a_writable_open_marks_both_metas_with_the_current_version_then_writes_new_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    let env = Env::open(&path).unwrap();
    assert_eq!(meta_versions(&path), [6, 6]);
    assert_contents(&env);
    // New keys beside the old ones: pages split and get prefixes.
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.main_table();
        for i in 0..3000u32 {
            let key = format!("/home/user1/projects/p9/src/new/file{i:05}.rs");
            t.put(key.as_bytes(), &i.to_le_bytes()).unwrap();
        }
    }
    w.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(env);
    let env = Env::open(&path).unwrap();
    let r = env.begin_read().unwrap();
    let t = r.main_table();
    assert_eq!(t.len(), 3900);
    for (k, v) in main_entries() {
        assert_eq!(t.get(&k).unwrap(), Some(&v[..]));
    }
    assert_eq!(
        t.get(b"/home/user1/projects/p9/src/new/file02999.rs")
            .unwrap(),
        Some(&2999u32.to_le_bytes()[..])
    );
    drop(r);
    // A dup-sort table beside the old catalog's records.
    let mut w = env.begin_write().unwrap();
    let mut d = w
        .create_dup_table("tags", mdbx_lite::DupSort::new())
        .unwrap();
    for i in 0..2000u32 {
        d.put(b"many", &i.to_be_bytes()).unwrap();
    }
    w.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let r = env.begin_read().unwrap();
    assert_eq!(
        r.open_dup_table("tags").unwrap().count(b"many").unwrap(),
        2000
    );
    drop(r);
    // A persistent savepoint of the upgraded file, restored over a change of the old
    // pages.
    let mut w = env.begin_write().unwrap();
    w.persistent_savepoint("upgraded").unwrap();
    w.main_table().delete(&main_entries()[0].0).unwrap();
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    w.restore_persistent_savepoint("upgraded").unwrap();
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let (k, v) = &main_entries()[0];
    assert_eq!(r.main_table().get(k).unwrap(), Some(&v[..]));
    assert_eq!(r.main_table().len(), 3900);
    drop(r);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn an_unknown_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v9.db");
    let mut bytes = std::fs::read(FIXTURE).unwrap();
    for slot in 0..2 {
        let page = &mut bytes[slot * 4096..slot * 4096 + 256];
        page[40..44].copy_from_slice(&9u32.to_le_bytes());
        let crc = crc32fast::hash(&page[4..]);
        page[..4].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    match Env::open(&path) {
        Err(e @ Error::VersionMismatch { found: 9, .. }) => {
            assert!(e.to_string().contains('9'), "{e}");
        }
        Err(e) => panic!("expected VersionMismatch, got {e}"),
        Ok(_) => panic!("a version-9 file opened"),
    }
}

/// `data/format-v3-integer.db`, written by the version-3 build (`mdbx-lite load` of
/// the entries below as `integerkey=1` and `dupsort=1 dupfixed=1 integerdup=1`
/// sections, then `mdbx-lite copy -c`, cut to its 30 pages): integer-ordered trees,
/// one nested, whose pages have bytewise slot heads.
const FIXTURE_V3: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/format-v3-integer.db"
);

/// Table `ids` of the v3 fixture: 2,000 u64 keys (native-endian), each with its value
/// big-endian as the value.
fn v3_ids() -> Vec<u64> {
    let mut ids: Vec<u64> = (0..2000u64)
        .map(|i| (i * 2_654_435_761) % (1 << 40))
        .collect();
    ids.sort_unstable();
    ids
}

/// Table `members` of the v3 fixture: u32 values (native-endian) of three keys.
fn v3_members() -> Vec<(&'static [u8], Vec<u32>)> {
    [(&b"few"[..], 3u32), (b"many", 3000), (b"one", 1)]
        .into_iter()
        .map(|(k, n)| {
            let mut v: Vec<u32> = (0..n).map(|j| (j * 40_503) % (1 << 31)).collect();
            v.sort_unstable();
            v.dedup();
            (k, v)
        })
        .collect()
}

fn assert_v3_contents(env: &Env, extra: u64) {
    let r = env.begin_read().unwrap();
    let ids = r.open_table("ids").unwrap();
    assert_eq!(ids.len(), 2000 + extra);
    for id in v3_ids() {
        assert_eq!(
            ids.get(&id.to_ne_bytes()).unwrap(),
            Some(&id.to_be_bytes()[..])
        );
    }
    let keys: Vec<u64> = ids
        .iter()
        .map(|e| u64::from_ne_bytes(e.unwrap().0.try_into().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "integer order");
    let members = r.open_dup_table("members").unwrap();
    for (k, values) in v3_members() {
        let got: Vec<u32> = members
            .values(k)
            .unwrap()
            .map(|v| u32::from_ne_bytes(v.unwrap().try_into().unwrap()))
            .collect();
        if extra == 0 {
            assert_eq!(got, values);
        } else {
            assert!(values.iter().all(|v| got.binary_search(v).is_ok()));
        }
    }
}

#[test]
fn a_version_3_file_with_integer_trees_reads_and_grows_with_integer_heads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    std::fs::copy(FIXTURE_V3, &path).unwrap();
    {
        let env = mdbx_lite::EnvBuilder::default()
            .read_only(true)
            .open(&path)
            .unwrap();
        assert_v3_contents(&env, 0);
        assert!(env.check().unwrap().is_ok());
    }
    assert_eq!(meta_versions(&path), [3, 3]);
    let env = Env::open(&path).unwrap();
    assert_eq!(meta_versions(&path), [6, 6]);
    // New keys among the old ones: old pages split beside new pages of integer heads.
    let mut w = env.begin_write().unwrap();
    {
        let mut ids = w.open_table("ids").unwrap();
        for i in 0..20_000u64 {
            let id = ((i * 11_400_714_819_323_198_485) % (1 << 40)) | 1;
            if ids.get(&id.to_ne_bytes()).unwrap().is_none() {
                ids.put(&id.to_ne_bytes(), &id.to_be_bytes()).unwrap();
            }
        }
    }
    {
        let mut m = w.open_dup_table("members").unwrap();
        for j in 0..5000u32 {
            m.put(b"many", &(j * 7 + 3).to_ne_bytes()).unwrap();
        }
    }
    let added = w.open_table("ids").unwrap().len() - 2000;
    w.commit().unwrap();
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_v3_contents(&env, added);
    drop(env);
    let env = Env::open(&path).unwrap();
    assert_v3_contents(&env, added);
}
