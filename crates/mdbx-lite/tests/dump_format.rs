//! Tests for the LMDB dump format module, using only its public API.

mod common;
use common::Rng;

use mdbx_lite::dump::*;
use std::io::{self, BufRead, Cursor, Read};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn interop(name: &str) -> Vec<u8> {
    let path = format!("{INTEROP}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

type Section = (DumpHeader, Vec<Entry>);

fn read_all(input: &[u8]) -> Result<Vec<Section>, DumpError> {
    collect(DumpReader::new(input))
}

fn read_plain(input: &[u8]) -> Result<Vec<Entry>, DumpError> {
    let mut r = DumpReader::new_plain(input);
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        out.push(e);
    }
    Ok(out)
}

fn collect<R: BufRead>(mut r: DumpReader<R>) -> Result<Vec<Section>, DumpError> {
    let mut sections = Vec::new();
    while let Some(h) = r.next_section()? {
        let mut entries = Vec::new();
        while let Some(e) = r.next_entry()? {
            entries.push(e);
        }
        sections.push((h, entries));
    }
    Ok(sections)
}

fn write_all(sections: &[Section]) -> Vec<u8> {
    let mut w = DumpWriter::new(Vec::new());
    for (h, entries) in sections {
        w.write_header(h).unwrap();
        for (k, v) in entries {
            w.write_entry(k, v).unwrap();
        }
        w.end_section().unwrap();
    }
    w.into_inner()
}

fn write_plain(entries: &[Entry]) -> Vec<u8> {
    let mut w = DumpWriter::new_plain(Vec::new());
    for (k, v) in entries {
        w.write_entry(k, v).unwrap();
    }
    w.end_section().unwrap();
    w.into_inner()
}

fn basic_entries() -> Vec<Entry> {
    (0u64..200)
        .map(|i| {
            (
                format!("key{i:05}").into_bytes(),
                format!("value-{}", i * i).into_bytes(),
            )
        })
        .collect()
}

fn check_lmdb_header(h: &DumpHeader, format: DumpFormat, db: Option<&str>) {
    assert_eq!(h.format, format);
    assert_eq!(h.database.as_deref(), db);
    assert_eq!(h.mapsize, Some(268_435_456));
    assert_eq!(h.maxreaders, Some(126));
    assert_eq!(h.page_size, Some(4096));
    assert_eq!(h.mapaddr, None);
    assert!(h.flags.is_empty());
    assert!(h.unknown.is_empty());
}

/// Reads `input` expecting an error; returns it.
fn read_err(input: &[u8]) -> DumpError {
    match read_all(input) {
        Ok(s) => panic!("expected an error, got {} sections", s.len()),
        Err(e) => e,
    }
}

/// Up to `max_len` random bytes, biased towards those that matter to the escaping:
/// '\\', '\n', ' ', hex digits.
fn escape_heavy_bytes(rng: &mut Rng, max_len: u64) -> Vec<u8> {
    let len = rng.below(max_len + 1);
    (0..len)
        .map(|_| match rng.below(8) {
            0 => b'\\',
            1 => b'\n',
            2 => b"0123456789abcdefABCDEF \r="[rng.below(25) as usize],
            _ => rng.next() as u8,
        })
        .collect()
}

// ---------------------------------------------------------------- interop files

#[test]
fn basic_dump_parses() {
    let s = read_all(&interop("basic.dump")).unwrap();
    assert_eq!(s.len(), 1);
    check_lmdb_header(&s[0].0, DumpFormat::Bytevalue, None);
    assert_eq!(s[0].1, basic_entries());
}

#[test]
fn basic_print_dump_parses() {
    let s = read_all(&interop("basic-print.dump")).unwrap();
    assert_eq!(s.len(), 1);
    check_lmdb_header(&s[0].0, DumpFormat::Print, None);
    assert_eq!(s[0].1, basic_entries());
}

#[test]
fn tables_dump_parses() {
    let s = read_all(&interop("tables.dump")).unwrap();
    assert_eq!(s.len(), 3);

    let (h, binary) = &s[0];
    check_lmdb_header(h, DumpFormat::Bytevalue, Some("binary"));
    assert_eq!(binary.len(), 500);
    for (k, v) in binary {
        assert!((1..=39).contains(&k.len()), "key len {}", k.len());
        assert!(v.len() <= 299, "value len {}", v.len());
    }
    assert!(binary.windows(2).all(|w| w[0].0 < w[1].0), "keys sorted");

    let (h, large) = &s[1];
    check_lmdb_header(h, DumpFormat::Bytevalue, Some("large"));
    let lens: Vec<usize> = large.iter().map(|(_, v)| v.len()).collect();
    assert_eq!(lens, [5000, 10000, 15000, 20000, 25000]);

    let (h, text) = &s[2];
    check_lmdb_header(h, DumpFormat::Bytevalue, Some("text with spaces"));
    let expected: Vec<Entry> = vec![
        (b"back\\slash".to_vec(), b"tab\tand newline\n".to_vec()),
        (b"empty".to_vec(), Vec::new()),
    ];
    assert_eq!(text, &expected);
}

#[test]
fn interop_round_trips_are_byte_exact() {
    // basic-print.dump has no backslash, so LMDB's bare-backslash quirk does not apply.
    for name in ["basic.dump", "basic-print.dump", "tables.dump"] {
        let original = interop(name);
        let written = write_all(&read_all(&original).unwrap());
        assert!(written == original, "{name} differs after round trip");
    }
}

#[test]
fn tables_dump_as_print_round_trips() {
    let mut sections = read_all(&interop("tables.dump")).unwrap();
    for (h, _) in &mut sections {
        h.format = DumpFormat::Print;
    }
    let text = write_all(&sections);
    assert!(text.windows(3).any(|w| w == b"\\5c"), "backslash as \\5c");
    assert!(
        !text.windows(2).any(|w| w == b"\\\\"),
        "no doubled backslash"
    );
    assert_eq!(read_all(&text).unwrap(), sections);
}

#[test]
fn next_section_skips_unread_entries() {
    let data = interop("tables.dump");
    let mut r = DumpReader::new(&data[..]);
    let mut names = Vec::new();
    while let Some(h) = r.next_section().unwrap() {
        names.push(h.database.unwrap_or_default());
        if names.len() == 2 {
            assert!(r.next_entry().unwrap().is_some(), "partially read section");
        }
    }
    assert_eq!(names, ["binary", "large", "text with spaces"]);
    assert_eq!(r.line(), 1041);
    assert!(r.next_entry().unwrap().is_none());
}

#[test]
fn next_entry_into_reuses_buffers() {
    let data = interop("basic.dump");
    let mut r = DumpReader::new(&data[..]);
    r.next_section().unwrap().unwrap();
    let (mut k, mut v) = (Vec::new(), Vec::new());
    let mut n = 0;
    while r.next_entry_into(&mut k, &mut v).unwrap() {
        assert_eq!(k, format!("key{n:05}").as_bytes());
        n += 1;
    }
    assert_eq!(n, 200);
}

// ---------------------------------------------------------------- encoding

#[test]
fn print_encoding_of_all_bytes() {
    let all: Vec<u8> = (0..=255).collect();
    let mut w = DumpWriter::new(Vec::new());
    w.write_header(&DumpHeader::new(DumpFormat::Print)).unwrap();
    w.write_entry(&all, b"").unwrap();
    w.write_entry(b"", &all).unwrap();
    w.end_section().unwrap();
    let out = w.into_inner();

    let mut line = String::from(" ");
    for b in 0u8..=255 {
        match b {
            0x20..=0x7e if b != b'\\' => line.push(char::from(b)),
            _ => line.push_str(&format!("\\{b:02x}")),
        }
    }
    let expected = format!(
        "VERSION=3\nformat=print\ntype=btree\nHEADER=END\n{line}\n \n \n{line}\nDATA=END\n"
    );
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);

    let s = read_all(&out).unwrap();
    assert_eq!(
        s[0].1,
        vec![(all.clone(), Vec::new()), (Vec::new(), all.clone())]
    );
}

#[test]
fn bytevalue_encoding_is_lowercase_and_reader_accepts_uppercase() {
    let mut w = DumpWriter::new(Vec::new());
    w.write_header(&DumpHeader::default()).unwrap();
    w.write_entry(&[0xab, 0x0f], &[0xff]).unwrap();
    w.end_section().unwrap();
    let out = w.into_inner();
    assert!(out.ends_with(b"HEADER=END\n ab0f\n ff\nDATA=END\n"));

    let s = read_all(b"HEADER=END\n AB0F\n Ff\nDATA=END\n").unwrap();
    assert_eq!(s[0].1, vec![(vec![0xab, 0x0f], vec![0xff])]);
    let s = read_all(b"format=print\nHEADER=END\n \\4B\\4a\n \\\\\nDATA=END\n").unwrap();
    assert_eq!(s[0].1, vec![(b"KJ".to_vec(), b"\\".to_vec())]);
}

#[test]
fn empty_keys_and_values() {
    for format in [DumpFormat::Bytevalue, DumpFormat::Print] {
        let sections = vec![(
            DumpHeader::new(format),
            vec![
                (vec![], vec![]),
                (vec![], b"v".to_vec()),
                (b"k".to_vec(), vec![]),
            ],
        )];
        assert_eq!(read_all(&write_all(&sections)).unwrap(), sections);
    }
    let entries = vec![(vec![], vec![]), (vec![], b"x".to_vec())];
    let text = write_plain(&entries);
    assert_eq!(text, b"\n\n\nx\n");
    assert_eq!(read_plain(&text).unwrap(), entries);
}

#[test]
fn writer_header_order_matches_mdb_dump() {
    let h = DumpHeader {
        format: DumpFormat::Bytevalue,
        database: Some("a=b c\\d".into()),
        mapsize: Some(1 << 20),
        mapaddr: Some("0x7f0000000000".into()),
        maxreaders: Some(126),
        page_size: Some(4096),
        flags: vec![
            ("duplicates".into(), "1".into()),
            ("dupsort".into(), "1".into()),
        ],
        unknown: vec!["ignored=1".into()],
    };
    let mut w = DumpWriter::new(Vec::new());
    w.write_header(&h).unwrap();
    w.end_section().unwrap();
    let out = w.into_inner();
    let expected = "VERSION=3\nformat=bytevalue\ndatabase=a=b c\\d\ntype=btree\nmapsize=1048576\n\
                    mapaddr=0x7f0000000000\nmaxreaders=126\nduplicates=1\ndupsort=1\n\
                    db_pagesize=4096\nHEADER=END\nDATA=END\n";
    assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);

    let s = read_all(&out).unwrap();
    let back = &s[0].0;
    assert_eq!(back.database.as_deref(), Some("a=b c\\d"));
    assert_eq!(back.flags, h.flags);
    assert!(back.has_flag("dupsort") && !back.has_flag("integerkey"));
    assert!(back.unknown.is_empty());
    assert_eq!(
        back,
        &DumpHeader {
            unknown: vec![],
            ..h
        }
    );
}

#[test]
fn writer_rejects_misuse() {
    let mut w = DumpWriter::new(Vec::new());
    assert!(w.write_entry(b"k", b"v").is_err(), "entry before header");
    assert!(w.end_section().is_err(), "end without section");
    let bad = DumpHeader {
        database: Some("two\nlines".into()),
        ..DumpHeader::default()
    };
    assert!(w.write_header(&bad).is_err());
    let bad = DumpHeader {
        flags: vec![("a=b".into(), "1".into())],
        ..DumpHeader::default()
    };
    assert!(w.write_header(&bad).is_err());
    assert!(w.get_ref().is_empty(), "nothing written on error");
    w.write_header(&DumpHeader::default()).unwrap();
    assert!(
        w.write_header(&DumpHeader::default()).is_err(),
        "nested header"
    );

    let mut p = DumpWriter::new_plain(Vec::new());
    assert!(p.write_header(&DumpHeader::default()).is_err());
    p.flush().unwrap();
}

#[test]
fn unknown_and_known_header_lines() {
    let input = b"VERSION=3\nformat=print\nfoo=bar baz\ndb_pagesize=4096\nduplicates=1\n\
                  dupsort=1\nintegerkey=0\nHEADER=END\nDATA=END\n";
    let s = read_all(input).unwrap();
    let h = &s[0].0;
    assert_eq!(h.format, DumpFormat::Print);
    assert_eq!(h.unknown, ["foo=bar baz"]);
    assert_eq!(h.page_size, Some(4096));
    assert_eq!(h.flags.len(), 3);
    assert!(h.has_flag("integerkey"), "mdb_load ignores the flag value");
    assert!(s[0].1.is_empty());
}

#[test]
fn missing_header_lines_default_like_mdb_load() {
    // mdb_load needs neither VERSION nor format; bytevalue is the default.
    let s = read_all(b"HEADER=END\n 6b\n 76\nDATA=END\n").unwrap();
    assert_eq!(s[0].0, DumpHeader::default());
    assert_eq!(s[0].1, vec![(b"k".to_vec(), b"v".to_vec())]);
    // DATA=END may lack its newline at the very end.
    assert_eq!(read_all(b"HEADER=END\nDATA=END").unwrap().len(), 1);
    assert!(read_all(b"").unwrap().is_empty());
}

#[test]
fn backslash_is_written_as_5c_and_read_in_every_spelling() {
    // LMDB 0.9's mdb_load misreads `\\` after an earlier `\hh` escape on the same
    // line, so the writer never produces it; `\5c` is read right by every mdb_load.
    let entries: Vec<Entry> = vec![
        (b"\x01\\z".to_vec(), b"a\\b\xff\\".to_vec()),
        (b"\\".to_vec(), b"\\\\".to_vec()),
    ];
    let text = write_all(&[(DumpHeader::new(DumpFormat::Print), entries.clone())]);
    assert_eq!(
        text,
        b"VERSION=3\nformat=print\ntype=btree\nHEADER=END\n \\01\\5cz\n a\\5cb\\ff\\5c\n \\5c\n \\5c\\5c\nDATA=END\n"
    );
    assert_eq!(read_all(&text).unwrap()[0].1, entries);
    assert_eq!(
        write_plain(&entries),
        b"\\01\\5cz\na\\5cb\\ff\\5c\n\\5c\n\\5c\\5c\n"
    );
    // On input a backslash may be `\\`, `\5c` or `\5C`, after an escape or not.
    for spelling in [
        &b" \\01\\\\z\n a\\\\b\\ff\\\\\n"[..],
        b" \\01\\5cz\n a\\5Cb\\FF\\5c\n",
        b" \\01\\5Cz\n a\\\\b\\ff\\5C\n",
    ] {
        let mut input = b"format=print\nHEADER=END\n".to_vec();
        input.extend_from_slice(spelling);
        input.extend_from_slice(b"DATA=END\n");
        assert_eq!(read_all(&input).unwrap()[0].1, entries[..1], "{spelling:?}");
    }
}

#[test]
fn lmdb_bare_backslash_quirk() {
    // LMDB 0.9 `mdb_dump -p` writes the key `back\slash` as ` back\slash`.
    let e = read_err(b"format=print\nHEADER=END\n back\\slash\n x\nDATA=END\n");
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, DumpErrorKind::InvalidEscape));
    // ... and `a\41` (meant as four bytes) is read as `aA`, as mdb_load does.
    let s = read_all(b"format=print\nHEADER=END\n a\\41\n x\nDATA=END\n").unwrap();
    assert_eq!(s[0].1[0].0, b"aA");
}

// ---------------------------------------------------------------- plain (-T)

#[test]
fn plain_format() {
    let input = b"key one\nvalue\\09tab\n abc\n\\\\\n\n\n";
    let entries = read_plain(input).unwrap();
    assert_eq!(
        entries,
        vec![
            (b"key one".to_vec(), b"value\ttab".to_vec()),
            (b" abc".to_vec(), b"\\".to_vec()),
            (vec![], vec![]),
        ]
    );
    // A backslash is read from `\\` but written as `\5c`.
    assert_eq!(
        write_plain(&entries),
        b"key one\nvalue\\09tab\n abc\n\\5c\n\n\n"
    );

    // The implicit section: one print header, then nothing.
    let mut r = DumpReader::new_plain(&b"k\nv\n"[..]);
    assert_eq!(
        r.next_section().unwrap(),
        Some(DumpHeader::new(DumpFormat::Print))
    );
    assert_eq!(
        r.next_entry().unwrap(),
        Some((b"k".to_vec(), b"v".to_vec()))
    );
    assert_eq!(r.next_entry().unwrap(), None);
    assert_eq!(r.next_section().unwrap(), None);

    // Header-like lines are plain data here.
    let entries = read_plain(b"VERSION=3\nDATA=END\n").unwrap();
    assert_eq!(entries[0], (b"VERSION=3".to_vec(), b"DATA=END".to_vec()));
}

#[test]
fn plain_errors() {
    let cases: &[(&[u8], u64, &str)] = &[
        (b"k\n", 1, "key without value"),
        (b"k\nv", 2, "unexpected end of input, expected end of line"),
        (
            b"k\nv\\4\n",
            2,
            "backslash not followed by '\\' or two hex digits",
        ),
        (
            b"k\\\nv\n",
            1,
            "backslash not followed by '\\' or two hex digits",
        ),
    ];
    for (input, line, msg) in cases {
        let e = read_plain(input).unwrap_err();
        assert_eq!(e.to_string(), format!("line {line}: {msg}"), "{input:?}");
    }
}

// ---------------------------------------------------------------- properties

#[test]
fn random_round_trips() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let nsections = 1 + rng.below(3);
        let mut sections = Vec::new();
        for s in 0..nsections {
            let format = if rng.below(2) == 0 {
                DumpFormat::Bytevalue
            } else {
                DumpFormat::Print
            };
            let header = DumpHeader {
                format,
                database: (s > 0).then(|| format!("t{round} {s}\\x")),
                mapsize: Some(rng.next()),
                maxreaders: (rng.below(2) == 0).then_some(126),
                page_size: Some(4096),
                ..DumpHeader::default()
            };
            let entries: Vec<Entry> = (0..rng.below(20))
                .map(|_| {
                    (
                        escape_heavy_bytes(&mut rng, 40),
                        escape_heavy_bytes(&mut rng, 300),
                    )
                })
                .collect();
            sections.push((header, entries));
        }
        let text = write_all(&sections);
        assert_eq!(read_all(&text).unwrap(), sections, "round {round}");
        // A one-byte BufReader buffer exercises reads split across refills.
        let slow = io::BufReader::with_capacity(1, Cursor::new(&text));
        assert_eq!(collect(DumpReader::new(slow)).unwrap(), sections);

        let entries: Vec<Entry> = (0..rng.below(20))
            .map(|_| {
                (
                    escape_heavy_bytes(&mut rng, 40),
                    escape_heavy_bytes(&mut rng, 300),
                )
            })
            .collect();
        let text = write_plain(&entries);
        assert_eq!(read_plain(&text).unwrap(), entries, "plain round {round}");
    }
}

// ---------------------------------------------------------------- malformed input

#[test]
fn malformed_input_reports_line() {
    let cases: &[(&[u8], u64, &str)] = &[
        (
            b"VERSION=3\nformat=bytevalue\n",
            2,
            "unexpected end of input, expected HEADER=END",
        ),
        (
            b"VERSION=3\nHEADER=END\n abc\n 00\nDATA=END\n",
            3,
            "odd number of hex digits",
        ),
        (
            b"VERSION=3\nHEADER=END\n 0g\n 00\nDATA=END\n",
            3,
            "invalid hex digit",
        ),
        (
            b"VERSION=3\nHEADER=END\n 00\n x0\nDATA=END\n",
            4,
            "invalid hex digit",
        ),
        (
            b"VERSION=3\nHEADER=END\n6b\n 00\nDATA=END\n",
            3,
            "data line does not start with a space",
        ),
        (
            b"VERSION=3\nHEADER=END\n 00\n\nDATA=END\n",
            4,
            "data line does not start with a space",
        ),
        (b"VERSION=3\nHEADER=END\n 6b\n", 3, "key without value"),
        (
            b"VERSION=3\nHEADER=END\n 6b\nDATA=END\n",
            4,
            "key without value",
        ),
        (b"VERSION=2\nHEADER=END\n", 1, "unsupported VERSION \"2\""),
        (b"VERSION=\n", 1, "unsupported VERSION \"\""),
        (
            b"VERSION=3\nformat=json\nHEADER=END\n",
            2,
            "unsupported format \"json\"",
        ),
        (b"type=hash\n", 1, "unsupported type \"hash\""),
        (b"mapsize=12x\n", 1, "invalid mapsize \"12x\""),
        (b"maxreaders=-1\n", 1, "invalid maxreaders \"-1\""),
        (b"db_pagesize=\n", 1, "invalid db_pagesize \"\""),
        (b"database=\xff\n", 1, "invalid database \"\u{fffd}\""),
        (b"VERSION=3\nnonsense\n", 2, "header line without '='"),
        (b"\n", 1, "header line without '='"),
        (
            b"VERSION=3\nHEADER=END\n 6b\n 76\n",
            4,
            "unexpected end of input, expected DATA=END",
        ),
        (
            b"HEADER=END\n 6b\n 76",
            3,
            "unexpected end of input, expected end of line",
        ),
        (
            b"VERSION=3\nHEADER=END\n 6b\n 76\nDATA=END\nVERSION=3\n",
            6,
            "unexpected end of input, expected HEADER=END",
        ),
        (
            b"format=print\nHEADER=END\n a\\zz\n v\nDATA=END\n",
            3,
            "backslash not followed by '\\' or two hex digits",
        ),
        (
            b"format=print\nHEADER=END\n k\n v\\\nDATA=END\n",
            4,
            "backslash not followed by '\\' or two hex digits",
        ),
        (
            b"format=print\nHEADER=END\n k\n v\\4\nDATA=END\n",
            4,
            "backslash not followed by '\\' or two hex digits",
        ),
    ];
    for (input, line, msg) in cases {
        let e = read_err(input);
        assert_eq!(
            e.to_string(),
            format!("line {line}: {msg}"),
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.line, *line);
    }
}

#[test]
fn reader_stays_failed_after_error() {
    let mut r = DumpReader::new(&b"HEADER=END\n zz\n 00\n 00\n 00\nDATA=END\n"[..]);
    r.next_section().unwrap().unwrap();
    let e = r.next_entry().unwrap_err();
    assert!(matches!(e.kind, DumpErrorKind::InvalidHexDigit));
    let again = r.next_entry().unwrap_err();
    assert!(matches!(again.kind, DumpErrorKind::AlreadyFailed));
    assert!(r.next_section().is_err());
}

struct FailingReader {
    data: Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn io_errors_are_wrapped() {
    let src = FailingReader {
        data: Cursor::new(b"VERSION=3\nHEADER=END\n".to_vec()),
    };
    let mut r = DumpReader::new(io::BufReader::new(src));
    r.next_section().unwrap().unwrap();
    let e = r.next_entry().unwrap_err();
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, DumpErrorKind::Io(_)));
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(e.to_string(), "line 3: I/O error: disk on fire");
}

// ---------------------------------------------------------------- robustness

/// Offsets just past each `DATA=END` line: the only places a prefix is a complete dump.
fn section_ends(data: &[u8]) -> Vec<usize> {
    let mut ends = vec![0];
    let mut pos = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        pos += line.len();
        if line == b"DATA=END\n" {
            ends.push(pos - 1);
            ends.push(pos);
        }
    }
    ends
}

fn check_prefix(data: &[u8], ends: &[usize], n: usize) {
    let res = read_all(&data[..n]);
    assert_eq!(
        res.is_ok(),
        ends.contains(&n),
        "prefix {n}: {:?}",
        res.err()
    );
}

#[test]
fn every_prefix_of_small_dumps() {
    let mut small = interop("basic.dump");
    small.extend_from_slice(&interop("basic-print.dump"));
    let tables = interop("tables.dump");
    // The text section is the last one; it starts after the second DATA=END.
    let text_start = section_ends(&tables)[4];
    small.extend_from_slice(&tables[text_start..]);
    let ends = section_ends(&small);
    for n in 0..=small.len() {
        check_prefix(&small, &ends, n);
    }
}

#[test]
fn prefixes_of_tables_dump() {
    // Every prefix would be quadratic (~50 GB of parsing, minutes in a debug
    // build); every prefix of the text section is covered by
    // `every_prefix_of_small_dumps`. Here: every prefix of the first 4 KiB,
    // every prefix within 64 bytes of a section end, and a stride through the rest.
    let data = interop("tables.dump");
    let ends = section_ends(&data);
    let len = data.len();
    let head = 0..4096.min(len);
    let near_ends = ends
        .iter()
        .flat_map(|&e| e.saturating_sub(64)..=(e + 64).min(len))
        .collect::<Vec<_>>();
    let stride = (4096..len).step_by(2039);
    for n in head.chain(near_ends).chain(stride) {
        check_prefix(&data, &ends, n);
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(42);
    let seed = interop("basic-print.dump");
    for _ in 0..3000 {
        let garbage: Vec<u8> = match rng.below(3) {
            0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
            1 => escape_heavy_bytes(&mut rng, 300),
            _ => {
                // A valid dump with a few random byte changes (often non-UTF-8).
                let mut d = seed.clone();
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(d.len() as u64) as usize;
                    d[i] = rng.next() as u8;
                }
                d
            }
        };
        let _ = read_all(&garbage);
        let _ = read_plain(&garbage);
    }
}
