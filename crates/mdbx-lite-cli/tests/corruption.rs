//! `mdbx-lite check` finds planted corruption and names the right page. Pages are found
//! through the library's inspection API, never by hard-coded offsets.

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::{p, run, run_stdin, sample_db};
use mdbx_lite::inspect::{EntryValue, PageOwner, PageRole, PageSummary};
use mdbx_lite::Env;

const PS: u64 = 4096;

fn setup() -> (tempfile::TempDir, PathBuf, Vec<PageSummary>) {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 0, 3000);
    let pages: Vec<PageSummary> = {
        let env = Env::builder().read_only(true).open(&db).unwrap();
        assert_eq!(env.page_size() as u64, PS);
        env.pages().unwrap().collect()
    };
    (dir, db, pages)
}

fn table_page(pages: &[PageSummary], role: PageRole, level: Option<u32>) -> u64 {
    pages
        .iter()
        .find(|s| {
            s.owner == PageOwner::Table("t".into())
                && s.role == role
                && s.level == level.or(s.level)
        })
        .map(|s| s.pgno)
        .expect("page of table t")
}

fn write_at(db: &Path, offset: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn read_at(db: &Path, offset: u64, len: usize) -> Vec<u8> {
    let f = std::fs::File::open(db).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, offset).unwrap();
    b
}

/// Run check, expect exit 3 and a problem reported on `page`.
#[track_caller]
fn expect_problem(db: &Path, page: u64, needle: &str) -> String {
    let r = run(["check", p(db)]);
    assert_eq!(r.code, 3, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("problem"), "{}", r.stderr);
    let line = format!("problem: page {page}: ");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains(&line) && l.contains(needle)),
        "no {needle:?} on page {page}:\n{}",
        r.stdout
    );
    let v: serde_json::Value =
        serde_json::from_str(&run(["check", "--json", p(db)]).stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["page"] == page));
    r.stdout
}

#[test]
fn flipped_byte_in_a_leaf() {
    let (_dir, db, pages) = setup();
    let leaf = table_page(&pages, PageRole::Leaf, None);
    let env = Env::builder().read_only(true).open(&db).unwrap();
    let info = env.page_info(leaf).unwrap();
    drop(env);
    // Flip a byte inside the value of entry 3.
    let e = &info.entries[3];
    let at = leaf * PS + e.offset as u64 + e.key.len() as u64 + 7;
    let old = read_at(&db, at, 1)[0];
    write_at(&db, at, &[old ^ 0x20]);
    expect_problem(&db, leaf, "checksum mismatch");
    // `page` shows the mismatch too.
    let out = run(["page", &leaf.to_string(), p(&db)]).ok();
    assert!(out.contains("MISMATCH"), "{out}");
}

#[test]
fn page_linked_twice() {
    let (_dir, db, pages) = setup();
    let root = table_page(&pages, PageRole::Branch, Some(0));
    let env = Env::builder().read_only(true).open(&db).unwrap();
    let info = env.page_info(root).unwrap();
    drop(env);
    let child = |i: usize| match info.entries[i].value {
        EntryValue::Child(c) => c,
        ref v => panic!("not a branch entry: {v:?}"),
    };
    let (first, second) = (child(0), child(1));
    // Point entry 1 at entry 0's child: `first` is now reachable twice, `second` leaks.
    let e = &info.entries[1];
    write_at(
        &db,
        root * PS + (e.offset + e.key.len()) as u64,
        &first.to_le_bytes(),
    );
    let out = expect_problem(&db, first, "reachable twice");
    assert!(
        out.contains(&format!(
            "page {second}: page is neither reachable nor free"
        )),
        "{out}"
    );
}

#[test]
fn wrong_entry_count() {
    let (_dir, db, pages) = setup();
    let leaf = table_page(&pages, PageRole::Leaf, None);
    let count = u16::from_le_bytes(read_at(&db, leaf * PS + 6, 2).try_into().unwrap());
    write_at(&db, leaf * PS + 6, &(count + 1).to_le_bytes());
    expect_problem(&db, leaf, "");
    let r = run(["check", p(&db)]);
    assert!(
        r.stdout
            .contains(&format!("page {leaf}: checksum mismatch")),
        "{}",
        r.stdout
    );
}

#[test]
fn torn_meta() {
    let (_dir, db, _pages) = setup();
    let env = Env::builder().read_only(true).open(&db).unwrap();
    let current = env
        .metas()
        .unwrap()
        .into_iter()
        .find(|m| m.current)
        .unwrap();
    let last = env.last_txnid();
    drop(env);
    // The second half of the newest meta never reached the disk.
    write_at(&db, current.slot * PS + 128, &[0u8; 128]);
    expect_problem(&db, current.slot, "invalid meta");
    // The previous meta takes over: still readable, one transaction back.
    let out = run(["stat", "-e", p(&db)]).ok();
    assert!(
        out.contains(&format!("Last transaction ID: {}", last - 1)),
        "{out}"
    );
    assert!(
        out.contains(&format!("Meta {}: INVALID", current.slot)),
        "{out}"
    );
}

#[test]
fn check_never_writes() {
    let (_dir, db, pages) = setup();
    let leaf = table_page(&pages, PageRole::Leaf, None);
    write_at(&db, leaf * PS + 100, b"garbage!");
    let before = std::fs::read(&db).unwrap();
    run(["check", p(&db)]);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!mdbx_lite::lock_path(&db).exists());
}

#[test]
fn read_only_commands_never_panic_on_shredded_pages() {
    let (dir, db, pages) = setup();
    let pristine = std::fs::read(&db).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let leaf = table_page(&pages, PageRole::Leaf, None).to_string();
    let root = table_page(&pages, PageRole::Branch, Some(0)).to_string();
    for round in 0..6 {
        let mut bytes = pristine.clone();
        // Overwrite header and slot bytes of a few random pages (metas included sometimes).
        for _ in 0..8 {
            let page = (rnd() % pages.len() as u64) as usize;
            let at = page * PS as usize + (rnd() % 96) as usize;
            bytes[at] = rnd() as u8;
        }
        let shredded = dir.path().join(format!("shredded{round}.db"));
        std::fs::write(&shredded, &bytes).unwrap();
        let s = p(&shredded);
        for args in [
            vec!["check", s],
            vec!["stat", "-e", "-f", "-a", s],
            vec!["pages", s],
            vec!["page", &leaf, "--hex", s],
            vec!["page", &root, s],
            vec!["page", "0", s],
            vec!["tree", "-s", "t", s],
            vec!["residency", s],
            vec!["dump", "-a", s],
            vec!["keys", "-s", "t", s],
        ] {
            let r = run(&args);
            assert!(
                !r.stderr.contains("panicked") && r.code != 101,
                "{args:?} panicked:\n{}",
                r.stderr
            );
            if r.code != 0 {
                assert!(
                    r.stderr.starts_with("mdbx-lite: "),
                    "{args:?}: {}",
                    r.stderr
                );
            }
        }
    }
}

// ---- damage with valid checksums: `check` reports it and `load` refuses to write

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Recompute the checksum of node page `pgno` (or, for a meta, of its record and the
/// pages a one-sync meta lists: 256 bytes, then a checksum and 4 bytes per page, their
/// count at byte 252).
fn seal(db: &Path, pgno: u64) {
    let len = if pgno < 2 {
        let count = read_at(db, pgno * PS + 252, 4);
        match u32::from_le_bytes(count[..].try_into().unwrap()) as usize {
            0 => 256,
            n => 260 + 4 * n,
        }
    } else {
        PS as usize
    };
    let mut page = read_at(db, pgno * PS, len);
    let crc = crc32fast::hash(&page[4..]);
    page[..4].copy_from_slice(&crc.to_le_bytes());
    write_at(db, pgno * PS, &page);
}

/// Table `t` (400 entries) and table `u` (60 entries in one leaf written by txn 4);
/// a reader held across txns 3 and 4 keeps their free groups in the free tree.
fn t_and_u(dir: &Path) -> PathBuf {
    let db = dir.join("tu.db");
    let env = Env::open(&db).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.create_table("t").unwrap();
    for i in 0..400u32 {
        t.put(format!("t/{i:04}").as_bytes(), &[i as u8; 50])
            .unwrap();
    }
    w.commit().unwrap();
    let hold = env.begin_read().unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.open_table("t").unwrap();
    for i in (0..400u32).step_by(7) {
        t.put(format!("t/{i:04}").as_bytes(), &[1; 50]).unwrap();
    }
    w.commit().unwrap();
    let mut w = env.begin_write().unwrap();
    let mut u = w.create_table("u").unwrap();
    for i in 0..60u32 {
        u.put(format!("u/{i:03}").as_bytes(), &[i as u8; 20])
            .unwrap();
    }
    let mut t = w.open_table("t").unwrap();
    for i in (3..400u32).step_by(11) {
        t.put(format!("t/{i:04}").as_bytes(), &[2; 50]).unwrap();
    }
    w.commit().unwrap();
    drop(hold);
    db
}

/// A dump of table `t` with 400 new values, as `load -s t` reads it.
fn t_dump(dir: &Path) -> Vec<u8> {
    let src = dir.join("src.db");
    let env = Env::open(&src).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.create_table("t").unwrap();
    for i in 0..400u32 {
        t.put(format!("t/{i:04}").as_bytes(), b"loaded").unwrap();
    }
    w.commit().unwrap();
    drop(env);
    run(["dump", "-s", "t", p(&src)]).ok().into_bytes()
}

#[test]
fn load_refuses_a_free_entry_naming_a_live_page() {
    let dir = tempfile::tempdir().unwrap();
    let db = t_and_u(dir.path());
    let input = t_dump(dir.path());
    let env = Env::builder().read_only(true).open(&db).unwrap();
    let u_root = env.tree(Some("u")).unwrap().info.root;
    // Chunk 0 of group 3 (pages of `t` freed by txn 3, born in txn 2).
    let key: Vec<u8> = [&3u64.to_be_bytes()[..], &0u32.to_be_bytes()].concat();
    let (leaf, offset, mut entries) = env
        .pages()
        .unwrap()
        .filter(|s| s.owner == PageOwner::FreeTree && s.role == PageRole::Leaf)
        .find_map(|s| {
            let info = env.page_info(s.pgno).unwrap();
            let e = info.entries.iter().find(|e| e.key == key)?;
            let EntryValue::Inline(v) = &e.value else {
                panic!("free chunk in an overflow run")
            };
            let list: Vec<(u64, u64)> = v
                .chunks_exact(16)
                .map(|c| (u64_at(c, 0), u64_at(c, 8)))
                .collect();
            Some((s.pgno, e.offset, list))
        })
        .expect("chunk 0 of group 3");
    drop(env);
    let u_before = run(["dump", "-s", "u", p(&db)]).ok();
    // Its first entry now names u's root leaf (written by txn 4), born in txn 2.
    assert_eq!(entries[0].1, 2, "group 3 lists pages born in txn 2");
    let at = leaf * PS + offset as u64 + 12 + 5;
    entries[0] = (u_root, 2);
    entries.sort_unstable();
    for (i, (pg, birth)) in entries.iter().enumerate() {
        let e: Vec<u8> = [pg.to_le_bytes(), birth.to_le_bytes()].concat();
        write_at(&db, at + i as u64 * 16, &e);
    }
    seal(&db, leaf);
    expect_problem(&db, u_root, "both free and used");
    let before = std::fs::read(&db).unwrap();
    run_stdin(["load", "-s", "t", p(&db)], &input).fails(1, "corrupted page");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "load changed the file"
    );
    assert_eq!(run(["dump", "-s", "u", p(&db)]).ok(), u_before);
}

#[test]
fn load_refuses_transaction_ids_that_cannot_advance() {
    let dir = tempfile::tempdir().unwrap();
    let db = t_and_u(dir.path());
    let input = t_dump(dir.path());
    for (slot, txnid) in [(0u64, u64::MAX), (1, u64::MAX - 1)] {
        write_at(&db, slot * PS + 16, &txnid.to_le_bytes());
        seal(&db, slot);
    }
    let before = std::fs::read(&db).unwrap();
    run(["check", p(&db)]).fails(1, "transaction id");
    run_stdin(["load", "-s", "t", p(&db)], &input).fails(1, "transaction id");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "load changed the file"
    );
}
