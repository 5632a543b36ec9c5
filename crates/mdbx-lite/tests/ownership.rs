//! Resource ownership: opening and closing an environment 1,000 times leaks no file
//! descriptor and no mapping.
//!
//! One test in this binary on purpose: the test harness runs tests on parallel threads,
//! and another test's files would disturb the counts.

use std::fs;
use std::path::Path;

use mdbx_lite::{Durability, Env};

/// (open descriptors, descriptors naming a file under `dir`).
fn fds(dir: &Path) -> (usize, usize) {
    let mut all = 0;
    let mut ours = 0;
    for e in fs::read_dir("/proc/self/fd").unwrap() {
        let e = e.unwrap();
        all += 1;
        if let Ok(target) = fs::read_link(e.path()) {
            if target.starts_with(dir) {
                ours += 1;
            }
        }
    }
    (all, ours)
}

/// (lines of /proc/self/maps, mappings of a file under `dir`, bytes of those mappings).
fn maps(dir: &Path) -> (usize, usize, u64) {
    let text = fs::read_to_string("/proc/self/maps").unwrap();
    let dir = dir.to_str().unwrap();
    let mut ours = 0;
    let mut bytes = 0;
    for line in text.lines() {
        if line.contains(dir) {
            ours += 1;
            let range = line.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            bytes += u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap();
        }
    }
    (text.lines().count(), ours, bytes)
}

fn cycle(path: &Path, i: u64) {
    let env = Env::builder()
        .durability(Durability::NoSync)
        .open(path)
        .unwrap();
    let mut w = env.begin_write().unwrap();
    w.main_table()
        .put(&i.to_be_bytes(), &[i as u8; 100])
        .unwrap();
    w.create_table("t")
        .unwrap()
        .put(b"last", &i.to_le_bytes())
        .unwrap();
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    assert_eq!(r.main_table().len(), i + 1);
    assert_eq!(
        r.open_table("t").unwrap().get(b"last").unwrap(),
        Some(&i.to_le_bytes()[..])
    );
    // A clone and a reader that outlive the first handle: the last one out closes.
    let env2 = env.clone();
    drop(env);
    assert_eq!(
        r.main_table().get(&i.to_be_bytes()).unwrap(),
        Some(&[i as u8; 100][..])
    );
    drop(env2);
    drop(r);
}

#[test]
fn open_close_leaks_no_descriptor_or_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let path = dir_path.join("db");
    // Warm up: first use of thread-locals, allocator arenas, etc.
    for i in 0..5 {
        cycle(&path, i);
    }
    let (fd0, our_fd0) = fds(&dir_path);
    let (maps0, our_maps0, _) = maps(&dir_path);
    assert_eq!(
        (our_fd0, our_maps0),
        (0, 0),
        "closed env still holds the file"
    );

    // While open: the file and lock file descriptors, and the file's mapping.
    {
        let env = Env::open(&path).unwrap();
        let r = env.begin_read().unwrap();
        let (_, our_fd) = fds(&dir_path);
        let (_, our_maps, bytes) = maps(&dir_path);
        eprintln!("one open env: {our_fd} fds, {our_maps} mappings ({bytes} bytes) of its files");
        assert!(
            our_fd >= 2 && our_maps >= 1,
            "the probe does not see the env's files"
        );
        drop(r);
    }

    let t0 = std::time::Instant::now();
    for i in 5..1_005 {
        cycle(&path, i);
    }
    let (fd1, our_fd1) = fds(&dir_path);
    let (maps1, our_maps1, _) = maps(&dir_path);
    eprintln!(
        "1,000 open/close cycles in {:?}: fds {fd0} -> {fd1}, maps lines {maps0} -> {maps1}",
        t0.elapsed()
    );
    assert_eq!(our_fd1, 0, "descriptors of the database left open");
    assert_eq!(our_maps1, 0, "mappings of the database left behind");
    assert_eq!(fd1, fd0, "descriptor count grew");
    // The allocator may split or merge anonymous heap mappings as it goes; a leaked
    // database mapping would add one line per cycle (1,000), so allow a few lines.
    assert!(
        maps1 <= maps0 + 4,
        "/proc/self/maps grew from {maps0} to {maps1} lines"
    );
    let env = Env::open(&path).unwrap();
    assert_eq!(env.begin_read().unwrap().main_table().len(), 1_005);
    let report = env.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}
