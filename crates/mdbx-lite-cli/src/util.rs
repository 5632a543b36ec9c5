//! Shared helpers: the error type, opening databases, byte escaping, number formatting
//! and progress bars.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mdbx_lite::Env;

/// Exit code for runtime errors.
pub const EXIT_ERROR: i32 = 1;
/// Exit code when `check` found problems.
pub const EXIT_PROBLEMS: i32 = 3;
/// Exit code when `get` found no such key.
pub const EXIT_NOT_FOUND: i32 = 4;

/// Files at least this large get progress bars (when stderr is a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// One error, printed as one line: `mdbx-lite: <file>: <message>`.
#[derive(Debug)]
pub struct CliError {
    pub path: Option<PathBuf>,
    pub msg: String,
    pub code: i32,
    broken_pipe: bool,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn new(path: Option<&Path>, msg: impl Into<String>) -> CliError {
        CliError {
            path: path.map(Path::to_path_buf),
            msg: msg.into(),
            code: EXIT_ERROR,
            broken_pipe: false,
        }
    }

    /// A library error about the database at `path`.
    pub fn db(path: &Path, e: mdbx_lite::Error) -> CliError {
        let broken_pipe =
            matches!(&e, mdbx_lite::Error::Io(io) if io.kind() == io::ErrorKind::BrokenPipe);
        CliError {
            broken_pipe,
            ..CliError::new(Some(path), e.to_string())
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: &Path, e: io::Error) -> CliError {
        CliError {
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
            ..CliError::new(Some(path), e.to_string())
        }
    }

    pub fn with_code(mut self, code: i32) -> CliError {
        self.code = code;
        self
    }

    /// Writing to a closed pipe (`mdbx-lite dump db | head`): stop quietly.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError {
            broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
            ..CliError::new(None, e.to_string())
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "mdbx-lite: {}: {}", p.display(), self.msg),
            None => write!(f, "mdbx-lite: {}", self.msg),
        }
    }
}

/// Clear errors for paths that cannot be a database before the library tries.
fn check_path(path: &Path) -> CliResult<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(CliError::new(Some(path), "no such file"))
        }
        Err(e) => Err(CliError::io(path, e)),
        Ok(m) if m.is_dir() => Err(CliError::new(
            Some(path),
            "is a directory (an mdbx-lite database is a single file)",
        )),
        Ok(_) => Ok(()),
    }
}

/// Open an existing database read-only (it is never modified).
pub fn open_ro(path: &Path) -> CliResult<Env> {
    check_path(path)?;
    Env::builder()
        .read_only(true)
        .open(path)
        .map_err(|e| CliError::db(path, e))
}

/// Open an existing database for writing.
pub fn open_rw(path: &Path) -> CliResult<Env> {
    check_path(path)?;
    Env::open(path).map_err(|e| CliError::db(path, e))
}

/// Escape bytes as `dump -p` does: printable ASCII other than `\` as-is, `\hh` for the
/// rest (a backslash is `\5c`, which every `mdb_load` reads back).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            0x20..=0x7e if b != b'\\' => s.push(b as char),
            _ => {
                s.push('\\');
                s.push_str(&format!("{b:02x}"));
            }
        }
    }
    s
}

/// [`escape`], cut to at most `max` input bytes with a `...` marker.
pub fn escape_short(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        escape(bytes)
    } else {
        format!("{}...", escape(&bytes[..max]))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Parse an argument written with `dump -p` escapes.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            match (
                b.get(i + 1).copied().and_then(hex_digit),
                b.get(i + 2).copied().and_then(hex_digit),
            ) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => {
                    return Err(format!(
                        "bad escape at byte {i} of {s:?}: a backslash must be followed by \
                         '\\' or two hex digits"
                    ))
                }
            }
            i += 3;
        }
    }
    Ok(out)
}

/// Parse a hex argument (even number of hex digits).
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(format!("{s:?} has an odd number of hex digits"));
    }
    b.chunks(2)
        .map(|p| match (hex_digit(p[0]), hex_digit(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("{s:?} is not hex")),
        })
        .collect()
}

/// `1234567` -> `1,234,567`.
pub fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units: `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// A progress bar on stderr for work on a file of `file_bytes`, or a hidden one when
/// stderr is not a terminal or the file is small.
pub fn progress(file_bytes: u64, total: u64, what: &str) -> ProgressBar {
    if file_bytes < PROGRESS_MIN_BYTES || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:8} [{bar:40}] {percent:>3}% {human_pos}/{human_len} ({eta})",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// Create a new, empty file beside `dest` under a hidden name of its own
/// (`.NAME.WHAT-PID-RANDOM`), to build output in before it is moved into place.
pub fn create_beside(dest: &Path, what: &str) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "does not name a file"))?;
    let mut attempt = 0u32;
    loop {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        let random = RandomState::new().hash_one(attempt);
        tmp_name.push(format!(".{what}-{}-{random:016x}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(_) => return Ok(tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Give the complete file `tmp` the name `dest`, unless something has that name:
/// a hard link never replaces (it fails with `AlreadyExists`). Then drop the name
/// `tmp` and sync the directory (best effort, as the library does for new files).
pub fn publish(tmp: &Path, dest: &Path) -> io::Result<()> {
    std::fs::hard_link(tmp, dest)?;
    let _ = std::fs::remove_file(tmp);
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Length of a file, 0 if unknown.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Write `v` as pretty-printed JSON on its own line (the `--json` output of every command).
pub fn write_json(out: &mut dyn io::Write, v: &serde_json::Value) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    )
}

/// A table of either kind, as the commands that read any table see it.
pub enum AnyTable<'t> {
    Plain(mdbx_lite::ReadTable<'t>),
    Dup(mdbx_lite::DupTable<'t>),
}

/// Pairs borrowed from a read transaction.
pub type Pairs<'t> = Box<dyn Iterator<Item = mdbx_lite::Result<(&'t [u8], &'t [u8])>> + 't>;

impl<'t> AnyTable<'t> {
    /// Entries: (key, value) pairs, every value of a dup-sort key counted.
    pub fn len(&self) -> u64 {
        match self {
            AnyTable::Plain(t) => t.len(),
            AnyTable::Dup(t) => t.len(),
        }
    }

    pub fn stat(&self) -> mdbx_lite::TableStat {
        match self {
            AnyTable::Plain(t) => t.stat(),
            AnyTable::Dup(t) => t.stat(),
        }
    }

    /// Every pair in order (a dup-sort key once per value).
    pub fn iter(&self) -> Pairs<'t> {
        match self {
            AnyTable::Plain(t) => Box::new(t.iter()),
            AnyTable::Dup(t) => Box::new(t.iter()),
        }
    }

    /// The pairs of the keys `>= from`.
    pub fn from(&self, from: &[u8]) -> Pairs<'t> {
        match self {
            AnyTable::Plain(t) => Box::new(t.range(from..)),
            AnyTable::Dup(t) => Box::new(t.range(from..)),
        }
    }

    /// The values of `key`: one in a plain table, all of them in a dup-sort one.
    pub fn values(&self, key: &[u8]) -> mdbx_lite::Result<Vec<&'t [u8]>> {
        match self {
            AnyTable::Plain(t) => Ok(t.get(key)?.into_iter().collect()),
            AnyTable::Dup(t) => t.values(key)?.collect(),
        }
    }
}

/// The main table (`None`) or the named table of a read transaction, of either kind.
pub fn read_table<'t>(
    rtx: &'t mdbx_lite::ReadTxn,
    name: Option<&str>,
    db: &Path,
) -> CliResult<AnyTable<'t>> {
    let dberr = |e| CliError::db(db, e);
    match name {
        None => Ok(AnyTable::Plain(rtx.main_table())),
        Some(n) if rtx.table_stat(n).map_err(dberr)?.dup_sort.is_some() => {
            rtx.open_dup_table(n).map(AnyTable::Dup).map_err(dberr)
        }
        Some(n) => rtx.open_table(n).map(AnyTable::Plain).map_err(dberr),
    }
}
