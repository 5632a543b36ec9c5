//! Streaming reader and writer for LMDB's `mdb_dump` / `mdb_load` text format.
//!
//! Being byte-compatible with LMDB's tools lets users move data between LMDB and
//! mdbx-lite with the tools they already have. The layout of one section is:
//!
//! ```text
//! VERSION=3
//! format=bytevalue            (or format=print)
//! database=NAME               (only for named tables, written verbatim)
//! type=btree
//! mapsize=N
//! maxreaders=N
//! duplicates=1 / dupsort=1 …  (table flags, each `name=1`)
//! db_pagesize=N
//! HEADER=END
//!  <key line>                 (one leading space, then hex pairs or print escapes)
//!  <value line>
//! DATA=END
//! ```
//!
//! Several sections may follow each other (`mdb_dump -a`). `mdb_load -T` input
//! ("plain") has no header, no `DATA=END` and no leading space; every line is
//! print-escaped and lines alternate key, value.
//!
//! Print escaping: bytes `0x20..=0x7e` other than the backslash stand for
//! themselves; a backslash and every other byte are written `\hh` (lowercase on
//! output, either case on input), so a backslash is written `\5c`. On input
//! `\\` is a backslash too. The writer avoids `\\` because LMDB 0.9's
//! `mdb_load` misreads it whenever a `\hh` escape came earlier on the same line
//! (it advances its output without writing the byte), while every `mdb_load`
//! decodes `\5c`. LMDB 0.9's `mdb_dump -p` writes a backslash as a bare `\`;
//! like `mdb_load`, the reader then takes `\` plus two hex digits as an escape
//! (silently misreading it) and rejects `\` followed by anything else
//! ([`DumpErrorKind::InvalidEscape`]), so such dumps only read back correctly
//! if their data contains no backslash. Bytevalue dumps are not affected.
//!
//! Where `mdb_load` is sloppy this reader is strict, because a silently
//! misread dump means silently wrong data: keywords and values must match
//! exactly (no prefix matching, no trailing garbage after numbers), `VERSION`
//! must be `3` when present, and a stream that ends before `DATA=END` is an
//! error. Like `mdb_load`, every key and value line must end with `\n` (this
//! is what detects truncation of `-T` input); `\r` is not stripped.

use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, Write};

/// How key and value bytes are spelled on a data line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DumpFormat {
    /// `format=bytevalue`: two hex digits per byte (`mdb_dump`'s default).
    #[default]
    Bytevalue,
    /// `format=print`: printable ASCII as-is, everything else escaped (`mdb_dump -p`).
    Print,
}

impl DumpFormat {
    /// The value used on the `format=` header line.
    pub fn as_str(self) -> &'static str {
        match self {
            DumpFormat::Bytevalue => "bytevalue",
            DumpFormat::Print => "print",
        }
    }
}

/// Header keywords that describe table flags. `mdb_dump` writes
/// `duplicates=1` (for Berkeley DB's `db_load`) and then one `name=1` line per
/// flag; `mdb_load` only understands the flag names and ignores `duplicates`.
pub const FLAG_KEYWORDS: [&str; 7] = [
    "duplicates",
    "reversekey",
    "dupsort",
    "integerkey",
    "dupfixed",
    "integerdup",
    "reversedup",
];

/// The header of one dump section.
///
/// Fields are `None` when the line was absent, so that writing a header back
/// reproduces the input exactly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpHeader {
    /// Encoding of the data lines.
    pub format: DumpFormat,
    /// `database=`: the table name; `None` for the main (unnamed) table.
    pub database: Option<String>,
    /// `mapsize=`: map size in bytes of the dumped environment.
    pub mapsize: Option<u64>,
    /// `mapaddr=`: fixed map address as printed by C's `%p`; kept verbatim
    /// only so a header round-trips, it has no meaning for mdbx-lite.
    pub mapaddr: Option<String>,
    /// `maxreaders=`: reader slot count of the dumped environment.
    pub maxreaders: Option<u64>,
    /// `db_pagesize=`: page size of the dumped environment (`mdb_load` ignores it).
    pub page_size: Option<u64>,
    /// Table flag lines in input order, e.g. `("dupsort", "1")`; only
    /// keywords from [`FLAG_KEYWORDS`] end up here.
    pub flags: Vec<(String, String)>,
    /// Header lines with an unrecognised keyword, verbatim (lossily decoded as
    /// UTF-8), so the caller can warn as `mdb_load` does; never written out.
    pub unknown: Vec<String>,
}

impl DumpHeader {
    /// A header with the given format and nothing else.
    pub fn new(format: DumpFormat) -> Self {
        DumpHeader {
            format,
            ..DumpHeader::default()
        }
    }

    /// Whether flag `name` is present. Like `mdb_load`, the value is not
    /// looked at: `dupsort=0` still means dupsort.
    pub fn has_flag(&self, name: &str) -> bool {
        self.flags.iter().any(|(k, _)| k == name)
    }
}

/// What went wrong while reading a dump.
#[derive(Debug)]
#[non_exhaustive]
pub enum DumpErrorKind {
    /// The underlying reader failed.
    Io(io::Error),
    /// The input ended early; the string says what was still expected.
    UnexpectedEof(&'static str),
    /// A `VERSION=` other than 3.
    UnsupportedVersion(String),
    /// A `format=` other than `bytevalue` or `print`.
    UnsupportedFormat(String),
    /// A `type=` other than `btree`.
    UnsupportedType(String),
    /// A known header keyword with an unusable value (bad number, non-UTF-8 name).
    InvalidHeaderValue {
        /// The header keyword.
        key: &'static str,
        /// The offending value, lossily decoded.
        value: String,
    },
    /// A header line without `=`.
    MalformedHeaderLine,
    /// A data line that neither starts with a space nor is `DATA=END`.
    MissingLeadingSpace,
    /// A key line not followed by a value line.
    MissingValue,
    /// A bytevalue line with an odd number of hex digits.
    OddHexLength,
    /// A bytevalue line with a character that is not a hex digit.
    InvalidHexDigit,
    /// A backslash in a print line not followed by `\` or two hex digits.
    InvalidEscape,
    /// A call after the reader already returned an error; its state is unknown.
    AlreadyFailed,
}

impl fmt::Display for DumpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpErrorKind::Io(e) => write!(f, "I/O error: {e}"),
            DumpErrorKind::UnexpectedEof(what) => {
                write!(f, "unexpected end of input, expected {what}")
            }
            DumpErrorKind::UnsupportedVersion(v) => write!(f, "unsupported VERSION {v:?}"),
            DumpErrorKind::UnsupportedFormat(v) => write!(f, "unsupported format {v:?}"),
            DumpErrorKind::UnsupportedType(v) => write!(f, "unsupported type {v:?}"),
            DumpErrorKind::InvalidHeaderValue { key, value } => {
                write!(f, "invalid {key} {value:?}")
            }
            DumpErrorKind::MalformedHeaderLine => f.write_str("header line without '='"),
            DumpErrorKind::MissingLeadingSpace => {
                f.write_str("data line does not start with a space")
            }
            DumpErrorKind::MissingValue => f.write_str("key without value"),
            DumpErrorKind::OddHexLength => f.write_str("odd number of hex digits"),
            DumpErrorKind::InvalidHexDigit => f.write_str("invalid hex digit"),
            DumpErrorKind::InvalidEscape => {
                f.write_str("backslash not followed by '\\' or two hex digits")
            }
            DumpErrorKind::AlreadyFailed => f.write_str("reader already failed"),
        }
    }
}

/// A read error with the 1-based line it refers to. For early end of input
/// the line is the last one read (0 if none), as `mdb_load` reports it.
#[derive(Debug)]
pub struct DumpError {
    /// 1-based line number.
    pub line: u64,
    /// What went wrong.
    pub kind: DumpErrorKind,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

impl Error for DumpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &self.kind {
            DumpErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// A decoded `(key, value)` pair.
pub type Entry = (Vec<u8>, Vec<u8>);

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `data` as lowercase hex pairs.
fn encode_hex(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() * 2);
    for &b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// Appends `data` print-escaped. A backslash is written `\5c` (LMDB 0.9's
/// dumper leaves it bare): every `mdb_load` and our reader get the byte back,
/// whereas `\\` is misread by LMDB 0.9's `mdb_load` after an earlier `\hh`
/// escape on the same line.
fn encode_print(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len());
    for &b in data {
        match b {
            0x20..=0x7e if b != b'\\' => out.push(b),
            _ => {
                out.push(b'\\');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes one data line (without leading space and newline) into `out`.
fn decode(line: &[u8], format: DumpFormat, out: &mut Vec<u8>) -> Result<(), DumpErrorKind> {
    out.clear();
    match format {
        DumpFormat::Bytevalue => {
            if !line.len().is_multiple_of(2) {
                return Err(DumpErrorKind::OddHexLength);
            }
            out.reserve(line.len() / 2);
            for pair in line.chunks_exact(2) {
                match (hex_val(pair[0]), hex_val(pair[1])) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(DumpErrorKind::InvalidHexDigit),
                }
            }
        }
        DumpFormat::Print => {
            out.reserve(line.len());
            let mut rest = line;
            while let Some((&b, tail)) = rest.split_first() {
                if b != b'\\' {
                    out.push(b);
                    rest = tail;
                    continue;
                }
                match tail {
                    [b'\\', more @ ..] => {
                        out.push(b'\\');
                        rest = more;
                    }
                    [h, l, more @ ..] => match (hex_val(*h), hex_val(*l)) {
                        (Some(h), Some(l)) => {
                            out.push(h << 4 | l);
                            rest = more;
                        }
                        _ => return Err(DumpErrorKind::InvalidEscape),
                    },
                    _ => return Err(DumpErrorKind::InvalidEscape),
                }
            }
        }
    }
    Ok(())
}

fn invalid_input(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Writes dumps that `mdb_load` (and [`DumpReader`]) accept.
///
/// Each key/value pair is written with one `write_all`, so wrap unbuffered
/// sinks in a [`std::io::BufWriter`] only if entries are small.
#[derive(Debug)]
pub struct DumpWriter<W: Write> {
    inner: W,
    plain: bool,
    format: DumpFormat,
    in_section: bool,
    buf: Vec<u8>,
}

impl<W: Write> DumpWriter<W> {
    /// A writer for the headered format (`mdb_dump` output).
    pub fn new(inner: W) -> Self {
        DumpWriter {
            inner,
            plain: false,
            format: DumpFormat::Bytevalue,
            in_section: false,
            buf: Vec::new(),
        }
    }

    /// A writer for `mdb_load -T` input: no header, no leading space, print escapes.
    pub fn new_plain(inner: W) -> Self {
        DumpWriter {
            plain: true,
            format: DumpFormat::Print,
            ..DumpWriter::new(inner)
        }
    }

    /// Starts a section, writing header lines in `mdb_dump`'s order.
    /// `header.unknown` is not written. Fails with `InvalidInput` in plain
    /// mode, inside an open section, or if a field would break the line
    /// structure (a newline anywhere, `=` in a flag name).
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn write_header(&mut self, header: &DumpHeader) -> io::Result<()> {
        if self.plain {
            return Err(invalid_input("plain dumps have no header"));
        }
        if self.in_section {
            return Err(invalid_input("previous section not ended"));
        }
        let has_nl = |s: &str| s.contains('\n');
        if header.database.as_deref().is_some_and(has_nl)
            || header.mapaddr.as_deref().is_some_and(has_nl)
            || header
                .flags
                .iter()
                .any(|(k, v)| k.is_empty() || k.contains('=') || has_nl(k) || has_nl(v))
        {
            return Err(invalid_input("header field cannot be written on one line"));
        }
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(b"VERSION=3\nformat=");
        b.extend_from_slice(header.format.as_str().as_bytes());
        b.push(b'\n');
        // mdb_dump prints the name verbatim with %s; so do we.
        if let Some(name) = &header.database {
            b.extend_from_slice(b"database=");
            b.extend_from_slice(name.as_bytes());
            b.push(b'\n');
        }
        b.extend_from_slice(b"type=btree\n");
        if let Some(n) = header.mapsize {
            b.extend_from_slice(format!("mapsize={n}\n").as_bytes());
        }
        if let Some(a) = &header.mapaddr {
            b.extend_from_slice(format!("mapaddr={a}\n").as_bytes());
        }
        if let Some(n) = header.maxreaders {
            b.extend_from_slice(format!("maxreaders={n}\n").as_bytes());
        }
        for (k, v) in &header.flags {
            b.extend_from_slice(format!("{k}={v}\n").as_bytes());
        }
        if let Some(n) = header.page_size {
            b.extend_from_slice(format!("db_pagesize={n}\n").as_bytes());
        }
        b.extend_from_slice(b"HEADER=END\n");
        self.inner.write_all(b)?;
        self.format = header.format;
        self.in_section = true;
        Ok(())
    }

    /// Writes one key line and one value line.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn write_entry(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if !self.plain && !self.in_section {
            return Err(invalid_input("write_header must come first"));
        }
        self.buf.clear();
        for field in [key, value] {
            if !self.plain {
                self.buf.push(b' ');
            }
            match self.format {
                DumpFormat::Bytevalue => encode_hex(field, &mut self.buf),
                DumpFormat::Print => encode_print(field, &mut self.buf),
            }
            self.buf.push(b'\n');
        }
        self.inner.write_all(&self.buf)
    }

    /// Writes `DATA=END`; a no-op for plain dumps, which have no terminator.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn end_section(&mut self) -> io::Result<()> {
        if self.plain {
            return Ok(());
        }
        if !self.in_section {
            return Err(invalid_input("no section to end"));
        }
        self.inner.write_all(b"DATA=END\n")?;
        self.in_section = false;
        Ok(())
    }

    /// Flushes the underlying writer.
    ///
    /// # Errors
    /// The writer's I/O error.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Returns the underlying writer without flushing or ending a section.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between sections: a header or clean end of input comes next.
    BeforeHeader,
    /// Plain input whose implicit header has not been handed out yet.
    PlainStart,
    /// Inside a section's data lines.
    Data,
    /// Clean end of input reached.
    Done,
    /// An error was returned; further input cannot be trusted.
    Failed,
}

/// Reads dumps one section and one entry at a time, holding only the current
/// line in memory.
///
/// ```no_run
/// # use std::io::BufReader;
/// # fn f(file: std::fs::File) -> Result<(), Box<dyn std::error::Error>> {
/// # use mdbx_lite::dump::DumpReader;
/// let mut r = DumpReader::new(BufReader::new(file));
/// while let Some(header) = r.next_section()? {
///     for name in &header.unknown {
///         eprintln!("unrecognized keyword ignored: {name}");
///     }
///     while let Some((key, value)) = r.next_entry()? {
///         // store key/value in header.database
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DumpReader<R: BufRead> {
    inner: R,
    plain: bool,
    state: State,
    format: DumpFormat,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> DumpReader<R> {
    /// A reader for the headered format (`mdb_dump` output, possibly several sections).
    pub fn new(inner: R) -> Self {
        DumpReader {
            inner,
            plain: false,
            state: State::BeforeHeader,
            format: DumpFormat::Bytevalue,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// A reader for `mdb_load -T` input. It has one implicit section with a
    /// default print header; [`next_entry`](Self::next_entry) may be called
    /// without calling [`next_section`](Self::next_section) first.
    pub fn new_plain(inner: R) -> Self {
        DumpReader {
            plain: true,
            state: State::PlainStart,
            format: DumpFormat::Print,
            ..DumpReader::new(inner)
        }
    }

    /// Number of lines read so far.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Reads the next section's header, skipping unread entries of the current
    /// section. `None` at a clean end of input (between sections).
    ///
    /// # Errors
    /// `DumpError` naming the line: malformed input, or the reader's I/O error.
    pub fn next_section(&mut self) -> Result<Option<DumpHeader>, DumpError> {
        let r = self.next_section_inner();
        self.guard(r)
    }

    /// Reads the next entry of the current section. `None` at `DATA=END`, at
    /// the end of plain input, or when no section is open.
    ///
    /// # Errors
    /// `DumpError` naming the line: malformed input, or the reader's I/O error.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, DumpError> {
        let (mut k, mut v) = (Vec::new(), Vec::new());
        Ok(self.next_entry_into(&mut k, &mut v)?.then_some((k, v)))
    }

    /// Like [`next_entry`](Self::next_entry) but decodes into caller buffers
    /// (cleared first) so a long load does not allocate per entry.
    /// Returns `false` where `next_entry` returns `None`.
    ///
    /// # Errors
    /// `DumpError` naming the line: malformed input, or the reader's I/O error.
    pub fn next_entry_into(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, DumpError> {
        let r = self.next_entry_inner(key, value);
        self.guard(r)
    }

    fn guard<T>(&mut self, r: Result<T, DumpError>) -> Result<T, DumpError> {
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn err(&self, kind: DumpErrorKind) -> DumpError {
        DumpError {
            line: self.line,
            kind,
        }
    }

    /// Reads one raw line into `self.buf`; `false` at end of input.
    fn read_line(&mut self) -> Result<bool, DumpError> {
        self.buf.clear();
        let n = self
            .inner
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| DumpError {
                line: self.line + 1,
                kind: DumpErrorKind::Io(e),
            })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        Ok(true)
    }

    /// The current line without its newline.
    fn trimmed(&self) -> &[u8] {
        self.buf.strip_suffix(b"\n").unwrap_or(&self.buf)
    }

    fn next_section_inner(&mut self) -> Result<Option<DumpHeader>, DumpError> {
        match self.state {
            State::Failed => return Err(self.err(DumpErrorKind::AlreadyFailed)),
            State::Done => return Ok(None),
            State::PlainStart => {
                self.state = State::Data;
                return Ok(Some(DumpHeader::new(DumpFormat::Print)));
            }
            State::Data => {
                let (mut k, mut v) = (Vec::new(), Vec::new());
                while self.next_entry_inner(&mut k, &mut v)? {}
                if self.state == State::Done {
                    return Ok(None);
                }
            }
            State::BeforeHeader => {}
        }
        let mut header = DumpHeader::default();
        let mut first = true;
        loop {
            if !self.read_line()? {
                if first {
                    self.state = State::Done;
                    return Ok(None);
                }
                return Err(self.err(DumpErrorKind::UnexpectedEof("HEADER=END")));
            }
            first = false;
            let line = self.trimmed();
            if line == b"HEADER=END" {
                break;
            }
            let Some(eq) = line.iter().position(|&b| b == b'=') else {
                return Err(self.err(DumpErrorKind::MalformedHeaderLine));
            };
            let (key, val) = (&line[..eq], &line[eq + 1..]);
            let res = apply_header_line(&mut header, line, key, val);
            res.map_err(|kind| self.err(kind))?;
        }
        self.format = header.format;
        self.state = State::Data;
        Ok(Some(header))
    }

    /// Reads one data line into `out`.
    fn read_data_line(&mut self, out: &mut Vec<u8>) -> Result<DataLine, DumpError> {
        if !self.read_line()? {
            return Ok(DataLine::Eof);
        }
        let payload = if self.plain {
            &self.buf[..]
        } else {
            match self.buf.split_first() {
                Some((b' ', rest)) => rest,
                _ if self.trimmed() == b"DATA=END" => return Ok(DataLine::DataEnd),
                _ => return Err(self.err(DumpErrorKind::MissingLeadingSpace)),
            }
        };
        let Some(payload) = payload.strip_suffix(b"\n") else {
            return Err(self.err(DumpErrorKind::UnexpectedEof("end of line")));
        };
        decode(payload, self.format, out).map_err(|kind| self.err(kind))?;
        Ok(DataLine::Data)
    }

    fn next_entry_inner(
        &mut self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, DumpError> {
        match self.state {
            State::Failed => return Err(self.err(DumpErrorKind::AlreadyFailed)),
            State::BeforeHeader | State::Done => return Ok(false),
            State::PlainStart => self.state = State::Data,
            State::Data => {}
        }
        match self.read_data_line(key)? {
            DataLine::Data => {}
            DataLine::DataEnd => {
                self.state = State::BeforeHeader;
                return Ok(false);
            }
            DataLine::Eof if self.plain => {
                self.state = State::Done;
                return Ok(false);
            }
            DataLine::Eof => return Err(self.err(DumpErrorKind::UnexpectedEof("DATA=END"))),
        }
        match self.read_data_line(value)? {
            DataLine::Data => Ok(true),
            DataLine::DataEnd | DataLine::Eof => Err(self.err(DumpErrorKind::MissingValue)),
        }
    }
}

/// What [`DumpReader::read_data_line`] found.
enum DataLine {
    /// A key or value line, decoded.
    Data,
    /// The `DATA=END` line (never in plain input).
    DataEnd,
    /// End of input.
    Eof,
}

/// Records one `key=val` header line in `header`.
fn apply_header_line(
    header: &mut DumpHeader,
    line: &[u8],
    key: &[u8],
    val: &[u8],
) -> Result<(), DumpErrorKind> {
    let lossy = || String::from_utf8_lossy(val).into_owned();
    let number = |key: &'static str| {
        parse_u64(val).ok_or_else(|| DumpErrorKind::InvalidHeaderValue {
            key,
            value: lossy(),
        })
    };
    match key {
        b"VERSION" if val != b"3" => return Err(DumpErrorKind::UnsupportedVersion(lossy())),
        b"VERSION" => {}
        b"format" => {
            header.format = match val {
                b"bytevalue" => DumpFormat::Bytevalue,
                b"print" => DumpFormat::Print,
                _ => return Err(DumpErrorKind::UnsupportedFormat(lossy())),
            }
        }
        b"database" => {
            let name = std::str::from_utf8(val).map_err(|_| DumpErrorKind::InvalidHeaderValue {
                key: "database",
                value: lossy(),
            })?;
            header.database = Some(name.to_owned());
        }
        b"type" if val != b"btree" => return Err(DumpErrorKind::UnsupportedType(lossy())),
        b"type" => {}
        b"mapsize" => header.mapsize = Some(number("mapsize")?),
        b"mapaddr" => header.mapaddr = Some(lossy()),
        b"maxreaders" => header.maxreaders = Some(number("maxreaders")?),
        b"db_pagesize" => header.page_size = Some(number("db_pagesize")?),
        _ => match FLAG_KEYWORDS.iter().find(|k| k.as_bytes() == key) {
            Some(k) => header.flags.push(((*k).to_owned(), lossy())),
            None => header
                .unknown
                .push(String::from_utf8_lossy(line).into_owned()),
        },
    }
    Ok(())
}

/// Strict decimal parse: digits only, unlike C's `sscanf("%u")`.
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}
