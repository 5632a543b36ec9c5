//! Interoperation with LMDB's own `mdb_load` / `mdb_dump` (package lmdb-utils).
//!
//! These tests fail with a clear message when the tools are missing, unless
//! `MDBX_LITE_SKIP_LMDB_INTEROP=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{data_sections, p, run, run_stdin, sample_db};

/// Compare the data sections of two dumps, reporting the first difference only.
#[track_caller]
fn same_data(a: &str, b: &str, what: &str) {
    let (a, b) = (data_sections(a), data_sections(b));
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        let cut = |s: Option<&String>| s.map(|s| s.chars().take(120).collect::<String>());
        panic!(
            "{what}: data sections differ at data line {i} ({} vs {} lines):\n  {:?}\n  {:?}",
            a.len(),
            b.len(),
            cut(a.get(i)),
            cut(b.get(i))
        );
    }
}

/// The directory holding the LMDB-made sample dumps.
fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mdbx-lite/tests/data")
}

/// False (skip) when MDBX_LITE_SKIP_LMDB_INTEROP=1; panics when the tools are missing.
fn lmdb_tools() -> bool {
    if std::env::var("MDBX_LITE_SKIP_LMDB_INTEROP").as_deref() == Ok("1") {
        eprintln!("skipping: MDBX_LITE_SKIP_LMDB_INTEROP=1");
        return false;
    }
    for tool in ["mdb_load", "mdb_dump"] {
        let found = Command::new(tool)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "LMDB's `{tool}` is not installed: install lmdb-utils (apt-get install lmdb-utils) \
             to run the interop tests, or set MDBX_LITE_SKIP_LMDB_INTEROP=1 to skip them"
        );
    }
    true
}

/// Run an LMDB tool; returns stdout. Panics with its stderr on failure.
fn lmdb(tool: &str, args: &[&str]) -> String {
    let o = Command::new(tool).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{tool} {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// LMDB -> mdbx-lite: mdb_load the sample into an LMDB env, mdb_dump it, load that with
/// `mdbx-lite load`, dump with `mdbx-lite dump`: the data sections are the same.
fn lmdb_to_ours(sample: &str, dump_flags: &[&str]) {
    lmdb_path_to_ours(&samples().join(sample), dump_flags);
}

/// `lmdb_to_ours` for the sample at `sample`; returns the directory holding the
/// mdbx-lite database (`ours.db`) it loaded.
fn lmdb_path_to_ours(sample: &Path, dump_flags: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().join("lmdb");
    std::fs::create_dir(&env_dir).unwrap();
    lmdb("mdb_load", &["-f", p(sample), p(&env_dir)]);
    let mut args: Vec<&str> = dump_flags.to_vec();
    args.push(p(&env_dir));
    let theirs = lmdb("mdb_dump", &args);
    same_data(
        &theirs,
        &std::fs::read_to_string(sample).unwrap(),
        "mdb_dump vs sample",
    );
    let db = dir.path().join("ours.db");
    run_stdin(["load", p(&db)], theirs.as_bytes()).ok();
    let mut args: Vec<&str> = vec!["dump"];
    args.extend(dump_flags);
    args.push(p(&db));
    let ours = run(&args).ok();
    same_data(&ours, &theirs, "mdbx-lite dump vs mdb_dump");
    // Headers agree except for mapsize (LMDB's is its env's map size).
    let header = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains('=') && !l.starts_with(' ') && !l.starts_with("mapsize="))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(header(&ours), header(&theirs));
    assert!(run(["check", p(&db)]).ok().contains("no problems found"));
    dir
}

/// The LMDB-made dup-sort dumps (see their README).
fn dup_sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dupsort")
        .join(name)
}

#[test]
fn lmdb_dupsort_dumps_load_into_mdbx_lite_and_back_into_lmdb() {
    if !lmdb_tools() {
        return;
    }
    // Both ways: LMDB's dump loads and dumps back identically (data and flag lines),
    // and mdbx-lite's dump of the result loads into LMDB and dumps back identically.
    for sample in ["dupsort.dump", "dupfixed.dump"] {
        let dir = lmdb_path_to_ours(&dup_sample(sample), &["-a"]);
        let db = dir.path().join("ours.db");
        ours_to_lmdb(&["-a"], &db, dir.path());
        ours_to_lmdb(&["-p", "-a"], &db, dir.path());
    }
}

#[test]
fn get_prints_every_value_of_a_dupsort_key_and_stat_names_the_kind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    run(["load", "-f", p(&dup_sample("dupsort.dump")), p(&db)]).ok();
    let out = run(["get", "-s", "dupsort", p(&db), "prefixes"]).ok();
    // Bytes outside printable ASCII print as `\hh`.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [r"\00", "a", r"a\00", "ab", "abc", "abcd", "abcde", "abd", "b"]
    );
    let stat = run(["stat", "-a", p(&db)]).ok();
    assert!(stat.contains("Kind: dup-sort"), "{stat}");
    assert!(
        stat.contains("Entries: 3,697") && stat.contains("Keys: 117"),
        "{stat}"
    );
    let fixed = dir.path().join("f.db");
    run(["load", "-f", p(&dup_sample("dupfixed.dump")), p(&fixed)]).ok();
    let stat = run(["stat", "-a", p(&fixed)]).ok();
    assert!(
        stat.contains("Kind: dup-sort, dup-fixed") && stat.contains("Value size: 8"),
        "{stat}"
    );
}

#[test]
fn integer_and_reverse_orders_round_trip_with_lmdb() {
    if !lmdb_tools() {
        return;
    }
    // LMDB-made integer-dup (u32 and u64 values) and reverse-dup dumps load and dump
    // back identically, in LMDB's order, and our dumps go back through LMDB's tools.
    for sample in ["integerdup.dump", "integerdup64.dump", "reversedup.dump"] {
        let dir = lmdb_path_to_ours(&dup_sample(sample), &["-a"]);
        let db = dir.path().join("ours.db");
        ours_to_lmdb(&["-a"], &db, dir.path());
    }
    let dir = lmdb_path_to_ours(&dup_sample("reversedup-print.dump"), &["-p", "-a"]);
    ours_to_lmdb(&["-p", "-a"], &dir.path().join("ours.db"), dir.path());
    // Integer (u32, u64) and reverse keys, made here with LMDB's own loader from text
    // in its order, both ways.
    let dir = tempfile::tempdir().unwrap();
    for (name, flag, keys) in [
        (
            "u32",
            "integerkey",
            [1u64, 2, 255, 256, 65_536, 4_000_000_000].map(|v| (v as u32).to_ne_bytes().to_vec()),
        ),
        (
            "u64",
            "integerkey",
            [1u64, 255, 256, 1 << 40, u64::MAX - 1, u64::MAX].map(|v| v.to_ne_bytes().to_vec()),
        ),
        (
            "rev",
            "reversekey",
            [
                b"ba".to_vec(),
                b"a".to_vec(),
                b"ca".to_vec(),
                b"ab".to_vec(),
                b"cb".to_vec(),
                b"b".to_vec(),
            ],
        ),
    ] {
        let mut text = format!(
            "VERSION=3\nformat=bytevalue\ndatabase={name}\ntype=btree\n{flag}=1\nHEADER=END\n"
        );
        for (i, k) in keys.iter().enumerate() {
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            text.push_str(&format!(" {hex}\n {:02x}\n", i));
        }
        text.push_str("DATA=END\n");
        let input = dir.path().join(format!("{name}.txt"));
        std::fs::write(&input, text).unwrap();
        // LMDB sorts them; its dump is the reference.
        let lmdb = dir.path().join(format!("{name}.lmdb"));
        let st = Command::new("mdb_load")
            .args(["-n", "-f", p(&input), p(&lmdb)])
            .status()
            .unwrap();
        assert!(st.success(), "mdb_load {name}");
        let theirs = Command::new("mdb_dump")
            .args(["-n", "-a", p(&lmdb)])
            .output()
            .unwrap();
        assert!(theirs.status.success());
        let reference = dir.path().join(format!("{name}.dump"));
        std::fs::write(&reference, &theirs.stdout).unwrap();
        let d = lmdb_path_to_ours(&reference, &["-a"]);
        ours_to_lmdb(&["-a"], &d.path().join("ours.db"), d.path());
        let stat = run(["stat", "-a", p(&d.path().join("ours.db"))]).ok();
        let order = if flag == "integerkey" {
            "integer"
        } else {
            "reverse"
        };
        assert!(stat.contains(&format!("Key order: {order}")), "{stat}");
    }
}

#[test]
fn lmdb_dump_loads_into_mdbx_lite_default_table() {
    if lmdb_tools() {
        lmdb_to_ours("basic.dump", &[]);
    }
}

#[test]
fn lmdb_dump_loads_into_mdbx_lite_print_format() {
    if lmdb_tools() {
        lmdb_to_ours("basic-print.dump", &["-p"]);
    }
}

#[test]
fn lmdb_dump_loads_into_mdbx_lite_named_tables() {
    if lmdb_tools() {
        // Binary keys, empty values, values needing overflow pages, several tables.
        lmdb_to_ours("tables.dump", &["-a"]);
    }
}

/// mdbx-lite -> LMDB: `mdbx-lite dump`, mdb_load, mdb_dump: the same data sections.
fn ours_to_lmdb(dump_flags: &[&str], db: &Path, dir: &Path) -> String {
    let mut args: Vec<&str> = vec!["dump"];
    args.extend(dump_flags);
    args.push(p(db));
    let ours = run(&args).ok();
    let file = dir.join(format!("ours{}.dump", dump_flags.join("")));
    std::fs::write(&file, &ours).unwrap();
    // A file-path env (-n), as mdbx-lite's own databases are.
    let lmdb_db = dir.join(format!("lmdb{}.mdb", dump_flags.join("")));
    lmdb("mdb_load", &["-n", "-f", p(&file), p(&lmdb_db)]);
    // Compare in bytevalue form: LMDB 0.9's `mdb_dump -p` writes a backslash as a
    // bare `\\` (see the interop README), so print dumps of such data differ.
    let hex_flags: Vec<&str> = dump_flags.iter().copied().filter(|f| *f != "-p").collect();
    let mut args: Vec<&str> = vec!["-n"];
    args.extend(&hex_flags);
    args.push(p(&lmdb_db));
    let theirs = lmdb("mdb_dump", &args);
    let mut args: Vec<&str> = vec!["dump"];
    args.extend(&hex_flags);
    args.push(p(db));
    let ours_hex = run(&args).ok();
    same_data(&theirs, &ours_hex, &format!("{dump_flags:?}"));
    ours
}

#[test]
fn mdbx_lite_dump_loads_into_lmdb() {
    if !lmdb_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Tables: text keys (depth 2), binary keys with an empty value and escapes,
    // 5..26 KB values (overflow pages).
    let db = sample_db(dir.path(), 300, 3000);
    ours_to_lmdb(&[], &db, dir.path());
    ours_to_lmdb(&["-p"], &db, dir.path());
    let all = ours_to_lmdb(&["-a"], &db, dir.path());
    assert_eq!(all.matches("database=").count(), 3);
    // Print format, every table: `bin` and `big` have backslashes after other escapes.
    let all = ours_to_lmdb(&["-p", "-a"], &db, dir.path());
    assert_eq!(all.matches("database=").count(), 3);
    let t = ours_to_lmdb(&["-p", "-s", "t"], &db, dir.path());
    assert!(t.contains(" key000000\n value-0\n"));
    ours_to_lmdb(&["-s", "bin"], &db, dir.path());
    ours_to_lmdb(&["-p", "-s", "bin"], &db, dir.path());
}

/// Backslashes in print dumps: LMDB 0.9's mdb_load misreads `\\` once a `\hh` escape
/// came earlier on the line (it advances its output without writing the byte), so
/// `dump -p` writes a backslash as `\5c`. Through the real mdb_load and back out with
/// mdb_dump, every byte survives.
#[test]
fn print_dump_backslashes_survive_mdb_load() {
    if !lmdb_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bs.db");
    let entries: [(&[u8], &[u8]); 6] = [
        (b"\x01\\z", b"\x01\\z"),
        (b"\\", b"\\\\"),
        (b"\\\x00\\", b"a\\b\xff\\\\c\x7f\\"),
        (b"plain\\", b""),
        (b"\xff\\\\\x01\\", b"\t\\n"),
        (b"z\\5c", b"\\\\5c\\"),
    ];
    {
        let env = mdbx_lite::Env::open(&db).unwrap();
        let mut w = env.begin_write().unwrap();
        let mut main = w.main_table();
        for (k, v) in entries {
            main.put(k, v).unwrap();
        }
        let mut t = w.create_table("named").unwrap();
        // Values as keys (LMDB refuses an empty key, so with a suffix).
        for (k, v) in entries {
            t.put(&[v, b"|"].concat(), k).unwrap();
        }
        w.commit().unwrap();
    }
    for flags in [&["-p"][..], &["-p", "-s", "named"]] {
        let ours = ours_to_lmdb(flags, &db, dir.path());
        assert!(ours.contains(" \\01\\5cz\n"), "{ours}");
        assert!(!ours.contains("\\\\"), "a doubled backslash:\n{ours}");
    }
    // The LMDB copy holds exactly the bytes that were put.
    let lmdb_db = dir.path().join("lmdb-p.mdb");
    let theirs = lmdb("mdb_dump", &["-n", p(&lmdb_db)]);
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut sorted = entries.to_vec();
    sorted.sort();
    let expected: Vec<String> = sorted
        .iter()
        .flat_map(|(k, v)| [format!(" {}", hex(k)), format!(" {}", hex(v))])
        .chain(["DATA=END".to_string()])
        .collect();
    assert_eq!(data_sections(&theirs), expected);
    // And mdbx-lite still reads `\\` as a backslash.
    let copy = dir.path().join("from-doubled.db");
    let doubled = run(["dump", "-p", p(&db)]).ok().replace("\\5c", "\\\\");
    run_stdin(["load", p(&copy)], doubled.as_bytes()).ok();
    assert_eq!(run(["dump", p(&copy)]).ok(), run(["dump", p(&db)]).ok());
}

#[test]
fn plain_text_input_matches_mdb_load_t() {
    if !lmdb_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = b"zeta\nlast\nalpha\nbin\\\\ary\\ff\n\\00\\01\nmid dle\nempty\n\n";
    let input_file = dir.path().join("plain.txt");
    std::fs::write(&input_file, input).unwrap();
    let lmdb_db = dir.path().join("lmdb.mdb");
    lmdb("mdb_load", &["-n", "-T", "-f", p(&input_file), p(&lmdb_db)]);
    let theirs = lmdb("mdb_dump", &["-n", p(&lmdb_db)]);
    let db = dir.path().join("ours.db");
    run(["load", "-T", "-f", p(&input_file), p(&db)]).ok();
    let ours = run(["dump", p(&db)]).ok();
    same_data(&ours, &theirs, "-T input");
}

/// An empty key is valid in mdbx-lite and round-trips through its own dump and load;
/// `dump` warns that LMDB's `mdb_load` refuses it, which it does.
#[test]
fn an_empty_key_round_trips_and_dump_warns_that_lmdb_refuses_it() {
    if !lmdb_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    {
        let env = mdbx_lite::Env::open(&db).unwrap();
        let mut w = env.begin_write().unwrap();
        let mut t = w.create_table("t").unwrap();
        t.put(b"", b"first").unwrap();
        t.put(b"a", b"second").unwrap();
        w.commit().unwrap();
    }
    let r = run(["dump", "-s", "t", p(&db)]);
    assert!(
        r.stderr.contains("empty key") && r.stderr.contains("mdb_load"),
        "{}",
        r.stderr
    );
    let dump = r.ok();
    let copy = dir.path().join("copy.db");
    run_stdin(["load", "-s", "t", p(&copy)], dump.as_bytes()).ok();
    assert_eq!(run(["dump", "-s", "t", p(&copy)]).ok(), dump);
    // LMDB's own loader refuses it.
    let lmdb_db = dir.path().join("lmdb");
    std::fs::create_dir(&lmdb_db).unwrap();
    let mut child = Command::new("mdb_load")
        .args(["-s", "t", p(&lmdb_db)])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dump.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MDB_BAD_VALSIZE"));
}
