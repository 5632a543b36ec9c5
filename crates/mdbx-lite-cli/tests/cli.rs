//! Every subcommand of the `mdbx-lite` binary on real databases, good and bad input.

mod common;

use std::io::Write;

use common::{p, run, run_stdin, sample_db};
use mdbx_lite::Env;

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON ({e}):\n{s}"))
}

#[test]
fn help_for_every_subcommand_has_an_example() {
    for cmd in [
        "stat",
        "check",
        "dump",
        "load",
        "copy",
        "drop",
        "pages",
        "page",
        "tree",
        "readers",
        "residency",
        "get",
        "keys",
        "demo",
    ] {
        let out = run([cmd, "--help"]).ok();
        assert!(out.contains("Example"), "{cmd} --help:\n{out}");
    }
    assert!(run(["--help"]).ok().contains("Exit codes"));
}

#[test]
fn usage_errors_exit_2() {
    run(["bogus"]).fails(2, "unrecognized subcommand");
    run(["stat"]).fails(2, "required");
    run(["dump", "-a", "-s", "x", "db"]).fails(2, "cannot be used with");
    run(["page", "notanumber", "db"]).fails(2, "invalid value");
}

#[test]
fn stat_reports_env_free_readers_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    let out = run(["stat", p(&db)]).ok();
    assert!(out.contains("Status of Main DB"), "{out}");
    assert!(out.contains("Entries: 10"), "{out}");
    let out = run(["stat", "-e", "-f", "-r", "-a", p(&db)]).ok();
    for needle in [
        "Environment Info",
        "Page size: 4096",
        "Last transaction ID:",
        "Meta 0:",
        "(current)",
        "Freelist Status",
        "Reader Table Status",
        "Status of table \"t\"",
        "Entries: 3,000",
        "Status of table \"big\"",
    ] {
        assert!(out.contains(needle), "missing {needle:?}:\n{out}");
    }
    let v = json(&run(["stat", "--json", "-a", p(&db)]).ok());
    assert_eq!(v["environment"]["page_size"], 4096);
    let tables = v["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 4, "{v}");
    let t = tables.iter().find(|t| t["name"] == "t").unwrap();
    assert_eq!(t["entries"], 3000);
    assert!(t["depth"].as_u64().unwrap() >= 2);
    let big = tables.iter().find(|t| t["name"] == "big").unwrap();
    assert!(big["overflow_pages"].as_u64().unwrap() > 4);
    let out = run(["stat", "-s", "bin", p(&db)]).ok();
    assert!(out.contains("Entries: 201"), "{out}");
    run(["stat", "-s", "nope", p(&db)]).fails(1, "table not found: \"nope\"");
}

#[test]
fn bad_files_give_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    for cmd in [
        "stat",
        "check",
        "dump",
        "pages",
        "tree",
        "residency",
        "readers",
    ] {
        let r = run([cmd, p(&missing)]).fails(1, "no such file");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("mdbx-lite: "), "{}", r.stderr);
        assert!(!missing.exists(), "{cmd} created the file");
    }
    run(["stat", p(dir.path())]).fails(1, "is a directory");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5au8; 20_000]).unwrap();
    run(["check", p(&garbage)]).fails(1, "not an mdbx-lite database");
    run(["dump", p(&garbage)]).fails(1, "not an mdbx-lite database");
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    run(["stat", p(&empty)]).fails(1, "not an mdbx-lite database");

    let db = sample_db(dir.path(), 0, 3000);
    let bytes = std::fs::read(&db).unwrap();
    let truncated = dir.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..10 * 4096]).unwrap();
    let r = run(["check", p(&truncated)]).fails(1, "truncated");
    assert!(r.stderr.contains("corrupted page"), "{}", r.stderr);

    // A newer format version (with valid checksums) in both metas.
    let newer = dir.path().join("newer.db");
    let mut b = bytes.clone();
    let ps = 4096;
    for slot in 0..2 {
        let m = &mut b[slot * ps..slot * ps + 256];
        m[40..44].copy_from_slice(&99u32.to_le_bytes());
        let crc = crc32fast::hash(&m[4..]);
        m[0..4].copy_from_slice(&crc.to_le_bytes());
    }
    std::fs::write(&newer, &b).unwrap();
    run(["stat", p(&newer)]).fails(1, "unsupported format version 99");
}

#[test]
fn check_clean_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 50, 3000);
    let before = std::fs::read(&db).unwrap();
    let out = run(["check", p(&db)]).ok();
    assert!(out.contains("no problems found"), "{out}");
    assert!(out.contains("pages: 2 meta"), "{out}");
    assert!(out.contains("table \"t\": 3,000 entries"), "{out}");
    let v = json(&run(["check", "--json", p(&db)]).ok());
    assert_eq!(v["ok"], true);
    assert_eq!(v["pages"]["meta"], 2);
    // Read-only: the file is unchanged and no lock file appears.
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!mdbx_lite::lock_path(&db).exists());
}

#[test]
fn dump_load_round_trip_all_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 25, 500);
    // Main table only (the default).
    let main = run(["dump", p(&db)]).ok();
    assert!(
        main.starts_with("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize="),
        "{main}"
    );
    assert!(main.contains("\nmaxreaders=126\ndb_pagesize=4096\nHEADER=END\n"));
    assert!(!main.contains("database="));
    assert_eq!(main.lines().filter(|l| l.starts_with(' ')).count(), 50);
    // -a: every named table, not the main one (as mdb_dump -a); a note on stderr.
    let all = run(["dump", "-a", p(&db)]);
    assert!(
        all.stderr.contains("does not include the main table"),
        "{}",
        all.stderr
    );
    let all = all.ok();
    let names: Vec<&str> = all.lines().filter(|l| l.starts_with("database=")).collect();
    assert_eq!(names, ["database=big", "database=bin", "database=t"]);
    // -l lists tables.
    assert_eq!(run(["dump", "-l", p(&db)]).ok(), "big\nbin\nt\n");

    for (flags, label) in [(vec![], "hex"), (vec!["-p"], "print")] {
        let mut args = vec!["dump", "-a"];
        args.extend(&flags);
        let file = dir.path().join(format!("all-{label}.dump"));
        args.extend(["-f", p(&file), p(&db)]);
        run(&args).ok();
        let text = std::fs::read_to_string(&file).unwrap();
        let copy = dir.path().join(format!("copy-{label}.db"));
        run(["load", "-f", p(&file), p(&copy)]).ok();
        let mut args = vec!["dump", "-a"];
        args.extend(&flags);
        args.push(p(&copy));
        assert_eq!(run(&args).ok(), text, "{label} round trip");
        let out = run(["check", p(&copy)]).ok();
        assert!(out.contains("no problems found"));
    }
    // The main table through stdin, into a fresh database.
    let copy = dir.path().join("main-copy.db");
    run_stdin(["load", p(&copy)], main.as_bytes()).ok();
    assert_eq!(run(["dump", p(&copy)]).ok(), main);
    // -s for dump and load: a section without database= goes to the -s table.
    let t = run(["dump", "-p", "-s", "bin", p(&db)]).ok();
    assert!(t.contains("database=bin\n"));
    assert!(t.contains("\n \\00\\5c\\0a\\09 \\ff\n \n"), "{t}");
    let stripped = t.replace("database=bin\n", "");
    let copy2 = dir.path().join("s.db");
    run_stdin(["load", "-s", "other", p(&copy2)], stripped.as_bytes()).ok();
    assert_eq!(
        run(["dump", "-p", "-s", "other", p(&copy2)]).ok(),
        t.replace("database=bin", "database=other")
    );
    // As mdb_load: database= wins over -s.
    let copy3 = dir.path().join("s3.db");
    run_stdin(["load", "-s", "other", p(&copy3)], t.as_bytes()).ok();
    assert_eq!(run(["dump", "-l", p(&copy3)]).ok(), "bin\n");
}

#[test]
fn load_plain_no_overwrite_unsorted_and_append() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("plain.db");
    // -T: plain key/value lines with print escapes, unsorted.
    run_stdin(["load", "-T", p(&db)], b"b\n2\na\\5c\\09\n1\nc\nthree\n").ok();
    assert_eq!(
        run(["keys", "-v", p(&db)]).ok(),
        "a\\5c\\09\t1\nb\t2\nc\tthree\n"
    );
    // -N keeps existing values; without it they are overwritten.
    run_stdin(["load", "-T", "-N", p(&db)], b"b\nNEW\nd\n4\n").ok();
    assert_eq!(run(["get", p(&db), "b"]).ok(), "2\n");
    assert_eq!(run(["get", p(&db), "d"]).ok(), "4\n");
    run_stdin(["load", "-T", p(&db)], b"b\nNEW\n").ok();
    assert_eq!(run(["get", p(&db), "b"]).ok(), "NEW\n");
    // -a demands sorted input and names the offending line.
    let db2 = dir.path().join("append.db");
    run_stdin(["load", "-T", "-a", p(&db2)], b"a\n1\nc\n3\nb\n2\n").fails(1, "line 6: ");
    // Odd number of -T lines.
    let db3 = dir.path().join("odd.db");
    run_stdin(["load", "-T", p(&db3)], b"a\n1\nb\n").fails(1, "line 3: key without value");
    assert!(
        !db3.exists(),
        "a failed load must not leave a new database behind"
    );
}

#[test]
fn load_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let head = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";
    let cases: [(String, &str); 9] = [
        (
            format!("{head} 6162\n 6x\nDATA=END\n"),
            "line 6: invalid hex digit",
        ),
        (
            format!("{head} 616\n 00\nDATA=END\n"),
            "line 5: odd number of hex digits",
        ),
        (
            format!("{head}6162\n 00\nDATA=END\n"),
            "line 5: data line does not start with a space",
        ),
        (format!("{head} 6162\n 00\n"), "unexpected end of input"),
        (
            "VERSION=4\nHEADER=END\n".to_string(),
            "line 1: unsupported VERSION",
        ),
        (
            "VERSION=3\nformat=bytevalue\nintegerkey=1\nHEADER=END\n 61\n 62\nDATA=END\n"
                .to_string(),
            "needs a table name",
        ),
        (
            "VERSION=3\nformat=bytevalue\ndatabase=t\nintegerkey=1\nHEADER=END\n 616263\n 62\nDATA=END\n"
                .to_string(),
            "integers are 4 or 8 bytes",
        ),
        (
            "VERSION=3\nformat=bytevalue\ndatabase=t\nintegerdup=1\nHEADER=END\nDATA=END\n"
                .to_string(),
            "without dupsort",
        ),
        (
            "VERSION=3\nformat=bytevalue\ndupsort=1\nHEADER=END\n 61\n 62\nDATA=END\n".to_string(),
            "needs a table name",
        ),
    ];
    for (input, needle) in cases {
        let r = run_stdin(["load", p(&db)], input.as_bytes()).fails(1, needle);
        assert!(r.stderr.starts_with("mdbx-lite: <stdin>: "), "{}", r.stderr);
    }
    // From a file, the file is named.
    let f = dir.path().join("bad.dump");
    std::fs::write(&f, format!("{head} zz\n 00\nDATA=END\n")).unwrap();
    let r = run(["load", "-f", p(&f), p(&db)]).fails(1, "line 5: invalid hex digit");
    assert!(r.stderr.contains("bad.dump: line 5"), "{}", r.stderr);
    // Unknown header keywords: warned about, like mdb_load, and ignored.
    let r = run_stdin(
        ["load", p(&db)],
        "VERSION=3\nformat=print\ntype=btree\nfancy=1\nHEADER=END\n a\n b\nDATA=END\n"
            .to_string()
            .as_bytes(),
    );
    assert!(
        r.stderr.contains("unrecognized keyword ignored: fancy"),
        "{}",
        r.stderr
    );
    assert_eq!(r.ok(), "");
    assert_eq!(run(["get", p(&db), "a"]).ok(), "b\n");
    run(["load", "-f", p(&dir.path().join("nope.dump")), p(&db)]).fails(1, "nope.dump");
}

#[test]
fn copy_and_compact_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    // Make free pages so compaction has something to drop.
    run(["drop", "-s", "t", p(&db)]).ok();
    let plain = dir.path().join("plain.db");
    let compact = dir.path().join("compact.db");
    run(["copy", p(&db), p(&plain)]).ok();
    run(["copy", "-c", p(&db), p(&compact)]).ok();
    for c in [&plain, &compact] {
        assert!(run(["check", p(c)]).ok().contains("no problems found"));
        assert_eq!(
            run(["dump", "-a", p(c)]).ok(),
            run(["dump", "-a", p(&db)]).ok()
        );
    }
    let pages = |db: &std::path::Path| {
        json(&run(["stat", "--json", p(db)]).ok())["environment"]["high_water_pages"]
            .as_u64()
            .unwrap()
    };
    assert!(pages(&compact) < pages(&plain));
    assert_eq!(pages(&plain), pages(&db));
    run(["copy", p(&db), p(&plain)]).fails(1, "already exists");
    run([
        "copy",
        p(&dir.path().join("none.db")),
        p(&dir.path().join("x.db")),
    ])
    .fails(1, "no such file");
}

#[test]
fn drop_empties_or_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 100);
    assert!(run(["drop", "-s", "t", p(&db)]).ok().contains("emptied"));
    assert!(run(["stat", "-s", "t", p(&db)]).ok().contains("Entries: 0"));
    run(["drop", "-d", "-s", "t", p(&db)]).ok();
    run(["stat", "-s", "t", p(&db)]).fails(1, "table not found");
    run(["drop", "-d", "-s", "t", p(&db)]).fails(1, "table not found");
    run(["drop", "-s", "nope", p(&db)]).fails(1, "table not found");
    run(["drop", "-d", p(&db)]).fails(1, "cannot be deleted");
    run(["drop", p(&db)]).ok();
    assert!(run(["stat", p(&db)]).ok().contains("Entries: 0"));
    assert!(run(["check", p(&db)]).ok().contains("no problems found"));
}

#[test]
fn pages_page_and_tree() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    let v = json(&run(["pages", "--json", p(&db)]).ok());
    let pages = v.as_array().unwrap();
    let env = Env::builder().read_only(true).open(&db).unwrap();
    let st = env.stat().unwrap();
    assert_eq!(pages.len() as u64, st.high_water_pages);
    let kinds = |k: &str, owner: &str| {
        pages
            .iter()
            .filter(|p| p["kind"] == k && (owner.is_empty() || p["owner"] == owner))
            .count() as u64
    };
    let t = env.begin_read().unwrap().open_table("t").unwrap().stat();
    assert_eq!(kinds("leaf", "t"), t.leaf_pages);
    assert_eq!(kinds("branch", "t"), t.branch_pages);
    assert_eq!(kinds("meta", "@meta"), 2);
    assert!(kinds("overflow", "big") == 4);
    assert_eq!(kinds("unreachable", ""), 0);
    let text = run(["pages", p(&db)]).ok();
    assert_eq!(text.lines().count() as u64, st.high_water_pages + 1);

    // page: a meta, a leaf with its entries, hex dump, a page out of range.
    let out = run(["page", "0", p(&db)]).ok();
    assert!(
        out.contains("role: meta") && out.contains("meta:") && out.contains("page size: 4096"),
        "{out}"
    );
    let leaf = pages
        .iter()
        .find(|p| p["kind"] == "leaf" && p["owner"] == "t")
        .unwrap();
    let n = leaf["pgno"].to_string();
    let out = run(["page", &n, p(&db)]).ok();
    assert!(
        out.contains("role: leaf") && out.contains("checksum:") && out.contains("(ok)"),
        "{out}"
    );
    assert!(out.contains("key0") && out.contains("= value-"), "{out}");
    let out = run(["page", &n, "--hex", p(&db)]).ok();
    assert!(out.contains("000000  "), "{out}");
    let root = pages
        .iter()
        .find(|p| p["owner"] == "t" && p["level"] == 0)
        .unwrap();
    let out = run(["page", &root["pgno"].to_string(), p(&db)]).ok();
    assert!(out.contains("(-inf) -> page "), "{out}");
    run(["page", "99999999", p(&db)]).fails(1, "does not exist");

    // tree: levels down to the leaves.
    let out = run(["tree", "-s", "t", p(&db)]).ok();
    assert!(out.contains("table \"t\": 3,000 entries, depth 2"), "{out}");
    assert!(out.contains("level 0: 1 branch pages"), "{out}");
    assert!(
        out.contains(&format!(
            "level 1: {} leaf pages, 3,000 entries",
            t.leaf_pages
        )),
        "{out}"
    );
    let out = run(["tree", "-s", "big", p(&db)]).ok();
    assert!(out.contains("overflow: 4 values"), "{out}");
    assert!(run(["tree", p(&db)])
        .ok()
        .contains("main table: 10 entries"));
    run(["tree", "-s", "nope", p(&db)]).fails(1, "table not found");
}

#[test]
fn readers_and_residency() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    let out = run(["readers", p(&db)]).ok();
    assert!(out.contains("max readers: 126"), "{out}");
    let v = json(&run(["readers", "--json", p(&db)]).ok());
    assert_eq!(v["max_readers"], 126);
    // Read the file so the page cache holds it, then ask.
    let _ = std::fs::read(&db).unwrap();
    let v = json(&run(["residency", "--json", p(&db)]).ok());
    let file = v["file_bytes"].as_u64().unwrap();
    assert_eq!(file, std::fs::metadata(&db).unwrap().len());
    assert!(v["resident_bytes"].as_u64().unwrap() <= file);
    let groups = v["groups"].as_array().unwrap();
    let t = groups.iter().find(|g| g["owner"] == "t").unwrap();
    assert!(t["pages"].as_u64().unwrap() > 10);
    assert!(t["resident_bytes"].as_u64().unwrap() <= t["bytes"].as_u64().unwrap());
    let total: u64 = groups.iter().map(|g| g["pages"].as_u64().unwrap()).sum();
    assert_eq!(total * 4096, file.min(total * 4096));
    let out = run(["residency", p(&db)]).ok();
    assert!(
        out.contains("resident of") && out.contains("@meta"),
        "{out}"
    );
}

#[test]
fn get_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    assert_eq!(
        run(["get", "-s", "t", p(&db), "key000012"]).ok(),
        "value-144\n"
    );
    assert_eq!(run(["get", p(&db), "m00003"]).ok(), "main-3\n");
    // Escaped and hex keys; hex and raw output.
    assert_eq!(
        run(["get", "-s", "bin", p(&db), "\\00\\\\\\0a\\09 \\ff"]).ok(),
        "\n"
    );
    assert_eq!(
        run(["get", "-s", "bin", p(&db), "\\00\\5c\\0a\\09 \\ff"]).ok(),
        "\n"
    );
    assert_eq!(
        run(["get", "-s", "bin", "--hex", p(&db), "005c0a0920ff"]).ok(),
        "\n"
    );
    assert_eq!(
        run(["get", "-s", "t", "--hex", p(&db), "6b6579303030303032"]).ok(),
        "76616c75652d34\n"
    );
    let r = run(["get", "--raw", "-s", "big", p(&db), "big0"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.raw_stdout.len(), 5000);
    assert_eq!(r.raw_stdout[300], (300 % 251) as u8);
    run(["get", "-s", "t", p(&db), "nope"]).fails(4, "key not found: nope");
    run(["get", "-s", "t", p(&db), "bad\\q"]).fails(2, "bad escape");
    run(["get", "--hex", "-s", "t", p(&db), "abc"]).fails(2, "odd number");
    run(["get", "-s", "nope", p(&db), "k"]).fails(1, "table not found");

    assert_eq!(
        run(["keys", "-s", "t", "--prefix", "key00299", p(&db)]).ok(),
        (0..10)
            .map(|i| format!("key00299{i}\n"))
            .collect::<String>()
    );
    assert_eq!(
        run(["keys", "-s", "t", "--limit", "2", "-v", p(&db)]).ok(),
        "key000000\tvalue-0\nkey000001\tvalue-1\n"
    );
    assert_eq!(
        run([
            "keys",
            "-s",
            "t",
            "--hex",
            "--prefix",
            "6b65793030303030",
            "--limit",
            "1",
            p(&db)
        ])
        .ok(),
        "6b6579303030303030\n"
    );
    assert_eq!(run(["keys", "-s", "t", "--prefix", "zzz", p(&db)]).ok(), "");
    assert_eq!(run(["keys", p(&db)]).ok().lines().count(), 10);
}

#[test]
fn broken_pipe_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 0, 3000);
    let mut child = std::process::Command::new(common::BIN)
        .args(["dump", "-s", "t", p(&db)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::io::stderr().flush();
}

#[test]
fn demo_builds_checks_and_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(["demo", "--entries", "20000", p(dir.path())]).ok();
    let db = dir.path().join("demo.db");
    assert!(
        out.contains(&format!("database: {}", db.display())),
        "{out}"
    );
    assert!(out.contains("built 20,000 entries in 3 tables"), "{out}");
    assert!(
        out.contains("Environment Info") && out.contains("Status of table \"users\""),
        "{out}"
    );
    assert!(out.contains("no problems found"), "{out}");
    assert!(
        out.contains("database=users") && out.contains(" user:0000000\n"),
        "{out}"
    );
    let v = json(&run(["stat", "--json", "-a", p(&db)]).ok());
    let total: u64 = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["entries"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 20_000);
    // Running it again replaces the database.
    run(["demo", "--entries", "1000", p(dir.path())]).ok();
    assert!(run(["check", p(&db)]).ok().contains("no problems found"));
}

#[test]
fn lmdb_tool_flags_version_and_nosubdir() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 100);
    // -V prints the version and exits, as mdb_stat -V etc. do; no database needed.
    let version = env!("CARGO_PKG_VERSION");
    for cmd in ["stat", "dump", "load", "copy", "drop"] {
        let out = run([cmd, "-V"]).ok();
        assert!(
            out.starts_with("mdbx-lite") && out.trim_end().ends_with(version),
            "{cmd} -V: {out}"
        );
    }
    assert!(run(["-V"]).ok().contains(version));
    // -n (LMDB: the environment is a file, not a directory) changes nothing: an
    // mdbx-lite database is always one file.
    assert_eq!(
        run(["stat", "-n", "-e", "-a", p(&db)]).ok(),
        run(["stat", "-e", "-a", p(&db)]).ok()
    );
    let copy = dir.path().join("n-copy.db");
    run(["copy", "-n", p(&db), p(&copy)]).ok();
    let dump = run(["dump", "-n", "-a", p(&db)]).ok();
    assert_eq!(run(["dump", "-a", p(&copy)]).ok(), dump);
    assert!(run(["drop", "-n", "-s", "t", p(&copy)])
        .ok()
        .contains("emptied"));
    run_stdin(["load", "-n", p(&copy)], dump.as_bytes()).ok();
    assert_eq!(run(["dump", "-a", p(&copy)]).ok(), dump);
    run(["stat", "-n"]).fails(2, "required");
}

/// The `Transaction T, N pages, maxspan S` lines of `stat -ff` / `-fff`, with the
/// pages listed under each (expanded from `FIRST[COUNT]` runs).
fn free_groups(out: &str) -> Vec<(u64, u64, u64, Vec<u64>)> {
    let mut groups: Vec<(u64, u64, u64, Vec<u64>)> = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("    Transaction ") {
            let f: Vec<&str> = rest.split([',', ' ']).filter(|s| !s.is_empty()).collect();
            assert_eq!((f[2], f[3]), ("pages", "maxspan"), "{line}");
            let n = |s: &str| s.parse::<u64>().unwrap();
            groups.push((n(f[0]), n(f[1]), n(f[4]), Vec::new()));
        } else if line.starts_with("     ") && !line.trim().is_empty() {
            let item = line.trim();
            let (first, count) = match item.split_once('[') {
                Some((a, b)) => (a.parse::<u64>().unwrap(), {
                    b.trim_end_matches(']').parse::<u64>().unwrap()
                }),
                None => (item.parse::<u64>().unwrap(), 1),
            };
            assert!(count >= 1, "{line}");
            groups.last_mut().unwrap().3.extend(first..first + count);
        }
    }
    groups
}

#[test]
fn stat_free_detail_levels() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    // Two transactions that free many pages: two free-tree groups at least.
    run(["drop", "-s", "t", p(&db)]).ok();
    run(["drop", "-d", "-s", "big", p(&db)]).ok();
    let free_pages = json(&run(["stat", "--json", p(&db)]).ok())["freelist"]["free_pages"]
        .as_u64()
        .unwrap();
    assert!(free_pages > 20, "{free_pages}");
    let pages = json(&run(["pages", "--json", p(&db)]).ok());
    let mut listed_free: Vec<u64> = pages
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "free")
        .map(|p| p["pgno"].as_u64().unwrap())
        .collect();
    listed_free.sort_unstable();

    // -f: the summary only.
    let f1 = run(["stat", "-f", p(&db)]).ok();
    assert!(f1.contains("Overflow pages: 0"), "{f1}");
    assert!(f1.contains(&format!("Free pages: {}", free_pages)), "{f1}");
    assert!(!f1.contains("Transaction "), "{f1}");
    // -ff: one line per freeing transaction, in order, adding up to the free pages.
    let f2 = run(["stat", "-ff", p(&db)]).ok();
    let g2 = free_groups(&f2);
    assert!(g2.len() >= 2, "{f2}");
    assert!(g2.windows(2).all(|w| w[0].0 < w[1].0), "{f2}");
    assert_eq!(g2.iter().map(|g| g.1).sum::<u64>(), free_pages, "{f2}");
    assert!(
        g2.iter().all(|g| g.3.is_empty()),
        "-ff lists no pages:\n{f2}"
    );
    // -fff: the same lines, each followed by its pages: exactly the free pages.
    let f3 = run(["stat", "-fff", p(&db)]).ok();
    let g3 = free_groups(&f3);
    assert_eq!(
        g3.iter().map(|g| (g.0, g.1, g.2)).collect::<Vec<_>>(),
        g2.iter().map(|g| (g.0, g.1, g.2)).collect::<Vec<_>>()
    );
    let mut all: Vec<u64> = Vec::new();
    for (txnid, n, maxspan, list) in &g3 {
        assert_eq!(list.len() as u64, *n, "transaction {txnid}:\n{f3}");
        assert!(list.windows(2).all(|w| w[0] < w[1]), "{f3}");
        // maxspan is the longest run of consecutive pages.
        let mut longest = 0;
        let mut run_len = 0;
        for (i, p) in list.iter().enumerate() {
            run_len = if i > 0 && list[i - 1] + 1 == *p {
                run_len + 1
            } else {
                1
            };
            longest = longest.max(run_len);
        }
        assert_eq!(longest, *maxspan, "transaction {txnid}:\n{f3}");
        all.extend(list);
    }
    all.sort_unstable();
    assert_eq!(all, listed_free);
    // A run is written FIRST[COUNT], a single page alone, as mdb_stat -fff does.
    assert!(
        f3.lines()
            .any(|l| l.starts_with("     ") && l.ends_with(']')),
        "{f3}"
    );
    // JSON: groups only from -ff on, page lists only with -fff.
    let v = json(&run(["stat", "--json", "-f", p(&db)]).ok());
    assert!(v["freelist"]["groups"].is_null());
    let v = json(&run(["stat", "--json", "-ff", p(&db)]).ok());
    let groups = v["freelist"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), g2.len());
    assert!(groups[0]["page_list"].is_null());
    let v = json(&run(["stat", "--json", "-fff", p(&db)]).ok());
    let groups = v["freelist"]["groups"].as_array().unwrap();
    for (g, (txnid, n, maxspan, list)) in groups.iter().zip(&g3) {
        assert_eq!(g["txnid"], *txnid);
        assert_eq!(g["pages"], *n);
        assert_eq!(g["maxspan"], *maxspan);
        assert_eq!(g["page_list"], serde_json::json!(list));
    }
    // A database without free pages.
    let fresh = dir.path().join("fresh.db");
    drop(Env::open(&fresh).unwrap());
    let out = run(["stat", "-fff", p(&fresh)]).ok();
    assert!(
        out.contains("Free pages: 0") && !out.contains("Transaction"),
        "{out}"
    );
}

/// A child process, killed (SIGKILL, so it cannot release anything) and reaped when
/// dropped, also when a test fails halfway.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `mdbx-lite dump` of a large table into a pipe nobody reads: it blocks holding
/// its read transaction. Returns once its reader slot is visible in the lock file.
fn blocked_reader(db: &std::path::Path) -> Killed {
    let child = Killed(
        std::process::Command::new(common::BIN)
            .args(["dump", "-s", "t", p(db)])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let v = json(&run(["readers", "--json", p(db)]).ok());
        let seen = v["readers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["pid"] == child.0.id());
        if seen {
            return child;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dump never showed up as a reader"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn stat_rr_clears_stale_reader_slots() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 0, 50_000);
    // Without a lock file (sample_db leaves none) no slot can be cleared.
    run(["stat", "-rr", p(&db)]).fails(1, "cannot be cleared");
    drop(Env::open(&db).unwrap()); // creates the lock file
    let out = run(["stat", "-r", p(&db)]).ok();
    assert!(out.contains("(no active readers)"), "{out}");

    // A live reader is listed, and -rr leaves it alone.
    let live = blocked_reader(&db);
    let out = run(["stat", "-rr", p(&db)]).ok();
    assert!(out.contains("0 stale readers cleared."), "{out}");
    assert_eq!(out.matches("  alive").count(), 2, "{out}");
    // Killed, it leaves its slot behind: -r shows it stale, -rr clears it.
    drop(live);
    let out = run(["stat", "-r", p(&db)]).ok();
    assert!(
        out.contains("Readers in use: 1") && out.contains("stale (process gone)"),
        "{out}"
    );
    let out = run(["stat", "-rr", p(&db)]).ok();
    let (before, after) = out
        .split_once("  1 stale readers cleared.\n")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(before.contains("stale (process gone)"), "{out}");
    assert!(
        after.contains("Readers in use: 0") && after.contains("(no active readers)"),
        "{out}"
    );
    assert!(run(["stat", "-r", p(&db)])
        .ok()
        .contains("(no active readers)"));

    // JSON: the table after the clearing, and how many slots were cleared.
    drop(blocked_reader(&db));
    let v = json(&run(["stat", "--json", "-r", p(&db)]).ok());
    assert_eq!(v["readers"]["slots"][0]["alive"], false, "{v}");
    assert!(v["readers"]["cleared"].is_null());
    let v = json(&run(["stat", "--json", "-rr", p(&db)]).ok());
    assert_eq!(v["readers"]["cleared"], 1, "{v}");
    assert_eq!(v["readers"]["slots"], serde_json::json!([]), "{v}");
}

#[test]
fn copy_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 3000);
    run(["drop", "-s", "t", p(&db)]).ok(); // free pages, for -c to leave out
    let file_copy = dir.path().join("file-copy.db");
    run(["copy", p(&db), p(&file_copy)]).ok();
    let want_dump = run(["dump", "-a", p(&db)]).ok();
    let tmp = dir.path().join("tmp");
    let work = dir.path().join("work");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(&work).unwrap();
    for (args, compact) in [
        (vec!["copy", p(&db)], false),
        (vec!["copy", p(&db), "-"], false),
        (vec!["copy", "-n", "-c", p(&db)], true),
        (vec!["copy", "-c", p(&db), "-"], true),
    ] {
        let mut cmd = common::command(&args);
        cmd.current_dir(&work).env("TMPDIR", &tmp);
        let r = common::run_command(cmd);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        if !compact {
            // The same snapshot, byte for byte, as a copy to a file.
            assert!(
                r.raw_stdout == std::fs::read(&file_copy).unwrap(),
                "{args:?}"
            );
        }
        let out = dir.path().join("from-stdout.db");
        std::fs::write(&out, &r.raw_stdout).unwrap();
        assert!(run(["check", p(&out)]).ok().contains("no problems found"));
        assert_eq!(run(["dump", "-a", p(&out)]).ok(), want_dump, "{args:?}");
        let pages = |db: &std::path::Path| {
            json(&run(["stat", "--json", p(db)]).ok())["environment"]["high_water_pages"]
                .as_u64()
                .unwrap()
        };
        let (got, plain) = (pages(&out), pages(&file_copy));
        assert_eq!(compact, got < plain, "{args:?}: {got} vs {plain} pages");
        std::fs::remove_file(&out).unwrap();
        let _ = std::fs::remove_file(mdbx_lite::lock_path(&out));
        // The temporary copy is gone, and `-` made no file of that name.
        assert!(common::names_in(&tmp).is_empty(), "{args:?}");
        assert!(common::names_in(&work).is_empty(), "{args:?}");
    }
    // A file named `-` is written as `./-`.
    let mut cmd = common::command(["copy", p(&db), "./-"]);
    cmd.current_dir(&work);
    let r = common::run_command(cmd);
    assert_eq!((r.code, r.raw_stdout.len()), (0, 0), "{}", r.stderr);
    assert_eq!(common::names_in(&work), ["-"]);
    // No temporary directory to build the copy in: a clear error and nothing on stdout.
    let mut cmd = common::command(["copy", p(&db)]);
    cmd.env("TMPDIR", dir.path().join("missing"));
    let r = common::run_command(cmd).fails(1, "temporary directory");
    assert!(r.raw_stdout.is_empty());
    // A source that is not a database: named, and nothing on stdout.
    let r = run(["copy", p(&dir.path().join("none.db"))]).fails(1, "no such file");
    assert!(r.raw_stdout.is_empty());
}

#[test]
fn get_takes_the_database_first_and_still_reads_the_old_order() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 100);
    assert_eq!(
        run(["get", "-s", "t", p(&db), "key000012"]).ok(),
        "value-144\n"
    );
    // The old order, when only the second argument is an existing file: works, with a
    // note on stderr.
    let r = run(["get", "-s", "t", "key000012", p(&db)]);
    assert!(r.stderr.contains("old argument order"), "{}", r.stderr);
    assert_eq!(r.ok(), "value-144\n");
    // Neither argument is a file: the error names the first and gives the order.
    let missing = dir.path().join("missing.db");
    let r = run(["get", p(&missing), "k"]).fails(1, "the database comes first");
    assert!(
        r.stderr.contains("missing.db: no such file"),
        "{}",
        r.stderr
    );
    run(["get", "k", p(&missing)]).fails(1, "the database comes first");
    // Both name files: the first is the database, as documented.
    std::fs::write(dir.path().join("key000012"), b"").unwrap();
    let mut cmd = common::command(["get", "-s", "t", "sample.db", "key000012"]);
    cmd.current_dir(dir.path());
    assert_eq!(common::run_command(cmd).ok(), "value-144\n");
    let mut cmd = common::command(["get", "-s", "t", "key000012", "sample.db"]);
    cmd.current_dir(dir.path());
    common::run_command(cmd).fails(1, "key000012: not an mdbx-lite database");
    // A key argument that is not UTF-8 is a usage error.
    let args = [
        OsStr::new("get"),
        db.as_os_str(),
        OsStr::from_bytes(b"k\xff"),
    ];
    run(args).fails(2, "not valid UTF-8");
    run(["get", p(&db)]).fails(2, "required");
}

#[test]
fn copy_to_a_terminal_is_refused() {
    // `script` (util-linux) runs the command on a pseudo-terminal.
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = sample_db(dir.path(), 10, 10);
    let o = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} copy {}", common::BIN, p(&db)),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    if text.contains("pseudo-terminal") {
        eprintln!("skipped: no pseudo-terminal: {text}");
        return;
    }
    assert!(
        text.contains("refusing to write a database to a terminal"),
        "{text}"
    );
    assert_eq!(o.status.code(), Some(2), "{text}");
}

#[test]
fn readers_stat_and_check_show_persistent_savepoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    {
        let env = Env::open(&db).unwrap();
        let fill = |tag: u8| {
            let mut w = env.begin_write().unwrap();
            for i in 0..2000u32 {
                w.main_table().put(&i.to_be_bytes(), &[tag; 50]).unwrap();
            }
            w.commit().unwrap();
        };
        fill(1);
        let mut w = env.begin_write().unwrap();
        w.persistent_savepoint("nightly").unwrap();
        w.commit().unwrap();
        fill(2);
        fill(3);
    }
    let v = json(&run(["readers", "--json", p(&db)]).ok());
    let sp = &v["savepoints"][0];
    assert_eq!(sp["name"], "nightly", "{v}");
    assert!(sp["held_pages"].as_u64().unwrap() > 10, "{v}");
    let out = run(["readers", p(&db)]).ok();
    assert!(out.contains("savepoint \"nightly\": txn 2, lag 3"), "{out}");
    let out = run(["stat", "-r", "-f", p(&db)]).ok();
    assert!(
        out.contains("Persistent savepoints: 1") && out.contains("of which savepoint \"nightly\""),
        "{out}"
    );
    let v = json(&run(["stat", "--json", "-r", p(&db)]).ok());
    assert_eq!(v["readers"]["savepoints"][0]["txnid"], 2, "{v}");
    run(["check", p(&db)]).ok();

    // The savepoint command lists, makes, restores and deletes them.
    let out = run(["savepoint", p(&db)]).ok();
    assert!(out.contains("\"nightly\": txn 2 (3 commits ago)"), "{out}");
    let out = run(["savepoint", "--create", "now", p(&db)]).ok();
    assert!(out.contains("savepoint \"now\" names txn 5"), "{out}");
    run(["savepoint", "--create", "now", p(&db)]).fails(1, "exists already");
    run(["savepoint", "--restore", "nightly", p(&db)]).ok();
    let out = run(["get", p(&db), "--hex", "00000000"]).ok();
    assert!(out.contains(&"01".repeat(50)), "{out}");
    run(["savepoint", "--delete", "nightly", p(&db)]).ok();
    run(["savepoint", "--delete", "nightly", p(&db)]).fails(1, "savepoint not found");
    let v = json(&run(["savepoint", "--json", p(&db)]).ok());
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["name"], "now", "{v}");
    run(["check", p(&db)]).ok();
}

#[test]
fn a_load_into_an_existing_database_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    {
        let env = Env::open(&db).unwrap();
        let mut w = env.begin_write().unwrap();
        w.main_table().put(b"old", b"1").unwrap();
        w.commit().unwrap();
    }
    // 100,000 good entries (more than one batch of the loader), then a bad line.
    let mut dump = String::from("VERSION=3\nformat=print\ntype=btree\nHEADER=END\n");
    for i in 0..100_000 {
        dump.push_str(&format!(" k{i:06}\n v\n"));
    }
    dump.push_str("bad\nDATA=END\n");
    for args in [
        vec!["load", p(&db)],
        vec!["load", "--batch-commits", p(&db)],
    ] {
        run_stdin(args, dump.as_bytes()).fails(1, "does not start with a space");
        let env = Env::open(&db).unwrap();
        let r = env.begin_read().unwrap();
        // (256 MiB of pages are far away: --batch-commits did not commit either.)
        assert_eq!(r.main_table().len(), 1);
        assert_eq!(r.main_table().get(b"old").unwrap(), Some(&b"1"[..]));
    }
}
