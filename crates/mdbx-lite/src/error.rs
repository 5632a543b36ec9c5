//! The one error type of the crate.
//!
//! Storage problems are split the way operators need them: `Io` (the OS said no),
//! `Corrupted` (the file's bytes are wrong — always naming the page and the kind of
//! damage), `Internal` (a bug of mdbx-lite's own, not damage), and misuse of the API
//! (`KeyTooLarge`, `TableNotFound`, ...), so a caller can tell "retry" from "restore"
//! from "report".

use std::fmt;
use std::io;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure mdbx-lite reports. Never a panic.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system failed a read, write, sync, lock or map.
    Io(io::Error),
    /// The file is not an mdbx-lite database (no valid meta page).
    NotADatabase(String),
    /// The file was written by a newer, incompatible format version.
    VersionMismatch {
        /// The version the file states.
        found: u32,
        /// The version this build writes, the newest it reads.
        supported: u32,
    },
    /// The file uses a different page size than the one requested.
    PageSizeMismatch {
        /// The page size the file uses.
        file: u32,
        /// The page size [`crate::EnvBuilder::page_size`] asked for.
        requested: u32,
    },
    /// A page's bytes are inconsistent; `page` names it, `kind` classifies the damage
    /// and `what` says exactly how. The file is damaged (a backup or `check` helps);
    /// compare [`Error::Internal`], a bug of mdbx-lite's own.
    Corrupted {
        /// The page found inconsistent (0 for the file as a whole or its first meta).
        page: u64,
        /// What kind of damage it is.
        kind: Corruption,
        /// What is wrong with it.
        what: String,
    },
    /// A key is longer than [`crate::Env::max_key_size`].
    KeyTooLarge {
        /// Length of the key given.
        len: usize,
        /// The longest key this database accepts.
        max: usize,
    },
    /// A value is longer than the format can describe (4 GiB - 1).
    ValueTooLarge {
        /// Length of the value given.
        len: usize,
    },
    /// `put` with `no_overwrite` found the key already present.
    KeyExists,
    /// `append` was given a key not greater than the table's last key.
    KeyNotGreater,
    /// The named table does not exist.
    TableNotFound(String),
    /// No persistent savepoint has this name (never made, or deleted).
    SavepointNotFound(String),
    /// A persistent savepoint of this name exists already.
    SavepointExists(String),
    /// The table exists with another kind than the one asked for: a dup-sort table
    /// opened as a plain one, a plain table opened or created as dup-sort, or dup-sort
    /// flags that differ from the stored ones.
    TableKindMismatch {
        /// The table's name.
        table: String,
        /// Its kind as stored (`plain`, `dup-sort`, `dup-sort, dup-fixed`, ...).
        stored: String,
        /// The kind asked for.
        requested: String,
    },
    /// A dup-sort table's value is longer than [`crate::Env::max_key_size`] (values
    /// of a key are kept sorted as the keys of a nested tree).
    DupValueTooLarge {
        /// Length of the value given.
        len: usize,
        /// The longest value a dup-sort table takes.
        max: usize,
    },
    /// A dup-fixed table's value differs in size from the table's values (or is
    /// empty).
    DupValueSize {
        /// Length of the value given.
        len: usize,
        /// The table's value size (0 before its first value).
        expected: usize,
    },
    /// A key of an integer-key table (or a value of an integer-dup table) is not 4 or
    /// 8 bytes, or not the size of the others.
    IntegerSize {
        /// A value (true) or a key (false).
        value: bool,
        /// Length of the key or value given.
        len: usize,
        /// The size of the table's keys (or of the key's values), 0 when any of 4 and 8
        /// would do.
        expected: usize,
    },
    /// The table is ordered by a user comparator that was not given when it was opened
    /// (or a tool without comparators was asked to search or change it).
    ComparatorMissing {
        /// The table's name.
        table: String,
        /// The comparator's name, as the table records it.
        comparator: String,
    },
    /// `try_begin_write` found another write transaction running.
    Busy,
    /// All reader slots are taken.
    ReadersFull {
        /// Number of slots in the reader table.
        max: usize,
    },
    /// A write was attempted on an environment opened read-only.
    ReadOnly,
    /// A previous commit failed after its meta page may have reached the disk; the
    /// in-memory state can no longer be trusted. Reopen the environment to continue.
    NeedsReopen,
    /// Invalid argument or option.
    Invalid(String),
    /// A stored key or value is not an encoding of the type a typed table reads it as
    /// (the table was written with other types, or by hand).
    Decode(String),
    /// A bug in mdbx-lite: one of its own invariants failed. The file is not known to
    /// be damaged (restoring a backup will not help); the operation that hit it failed
    /// and its transaction can only be aborted. Please report it.
    Internal(String),
}

/// The kinds of damage [`Error::Corrupted`] reports, so that a caller can tell, say, a
/// torn or bit-flipped page (`Checksum`) from a structural contradiction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Corruption {
    /// A page's checksum does not match its bytes (a torn write, a flipped bit).
    Checksum,
    /// A page header contradicts where the page was reached: another page number, an
    /// unknown kind, or a header cut short.
    Header,
    /// A node's slots or entries do not fit its page, or contradict each other.
    Layout,
    /// Keys out of order, or outside the range the parent's separators give them.
    Order,
    /// The tree's shape: deeper than its record or the maximum, a page reachable twice,
    /// neighbours of different kinds.
    Shape,
    /// An overflow run that cannot hold its value, or whose head is not an overflow page.
    Overflow,
    /// A page number, run or the file itself outside the allocated range or the file's
    /// length (a truncated file, say).
    Bounds,
    /// The free tree contradicts the pages in use: a page listed free twice, listed
    /// while reachable, outside the file, or a free record of the wrong size.
    FreeSpace,
    /// The meta pages or a table record: none valid, inconsistent, or out of ids.
    Meta,
}

impl Corruption {
    /// A short name, as printed in messages.
    pub fn name(self) -> &'static str {
        match self {
            Corruption::Checksum => "checksum",
            Corruption::Header => "header",
            Corruption::Layout => "layout",
            Corruption::Order => "key order",
            Corruption::Shape => "tree shape",
            Corruption::Overflow => "overflow run",
            Corruption::Bounds => "bounds",
            Corruption::FreeSpace => "free space",
            Corruption::Meta => "meta",
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Error {
    pub(crate) fn corrupted(kind: Corruption, page: u64, what: impl Into<String>) -> Error {
        Error::Corrupted {
            page,
            kind,
            what: what.into(),
        }
    }
}

/// An I/O error that names what was being done to which file, keeping the operating
/// system's error as its `source()` (and its kind).
pub(crate) fn io_context(e: io::Error, what: &str, path: &std::path::Path) -> Error {
    let kind = e.kind();
    Error::Io(io::Error::new(
        kind,
        IoContext {
            what: format!("{what} {}", path.display()),
            source: e,
        },
    ))
}

#[derive(Debug)]
struct IoContext {
    what: String,
    source: io::Error,
}

impl fmt::Display for IoContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for IoContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::NotADatabase(why) => write!(f, "not an mdbx-lite database: {why}"),
            Error::VersionMismatch { found, supported } => write!(
                f,
                "unsupported format version {found} (this build reads versions up to {supported})"
            ),
            Error::PageSizeMismatch { file, requested } => write!(
                f,
                "page size mismatch: the file uses {file} bytes, {requested} was requested"
            ),
            Error::Corrupted { page, kind, what } => {
                write!(f, "corrupted page {page} ({kind}): {what}")
            }
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes exceeds the maximum of {max} bytes")
            }
            Error::ValueTooLarge { len } => write!(f, "value of {len} bytes is too large"),
            Error::KeyExists => write!(f, "key already exists"),
            Error::KeyNotGreater => {
                write!(
                    f,
                    "append: key is not greater than the last key of the table"
                )
            }
            Error::TableNotFound(name) => write!(f, "table not found: {name:?}"),
            Error::SavepointNotFound(name) => write!(f, "savepoint not found: {name:?}"),
            Error::SavepointExists(name) => write!(f, "savepoint exists already: {name:?}"),
            Error::TableKindMismatch {
                table,
                stored,
                requested,
            } => write!(f, "table {table:?} is {stored}, not {requested} as asked"),
            Error::DupValueTooLarge { len, max } => write!(
                f,
                "value of {len} bytes too large for a dup-sort table (at most {max})"
            ),
            Error::DupValueSize { len, expected: 0 } => {
                write!(
                    f,
                    "value of {len} bytes in a dup-fixed table (values cannot be empty)"
                )
            }
            Error::DupValueSize { len, expected } => write!(
                f,
                "value of {len} bytes in a dup-fixed table of {expected}-byte values"
            ),
            Error::IntegerSize {
                value,
                len,
                expected,
            } => {
                let what = if *value {
                    "value of an integer-dup table"
                } else {
                    "key of an integer-key table"
                };
                match expected {
                    0 => write!(f, "{what} of {len} bytes (integers are 4 or 8 bytes)"),
                    e => write!(f, "{what} of {len} bytes, but its integers are {e} bytes"),
                }
            }
            Error::ComparatorMissing { table, comparator } => write!(
                f,
                "table {table:?} is ordered by comparator {comparator:?}; open it with that comparator"
            ),
            Error::Busy => write!(f, "another write transaction is in progress"),
            Error::ReadersFull { max } => write!(f, "all {max} reader slots are in use"),
            Error::ReadOnly => write!(f, "the environment is opened read-only"),
            Error::NeedsReopen => write!(
                f,
                "a failed commit left the environment in an unknown state; reopen it"
            ),
            Error::Invalid(why) => write!(f, "invalid argument: {why}"),
            Error::Decode(why) => write!(f, "stored bytes do not decode as the table's type: {why}"),
            Error::Internal(why) => write!(
                f,
                "internal error (a bug in mdbx-lite, not damage to the file): {why}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_with_context_keep_their_source_and_kind() {
        let os = io::Error::from_raw_os_error(libc::ENOSPC);
        let e = io_context(os, "cannot write", std::path::Path::new("/x/db"));
        let text = e.to_string();
        assert!(
            text.contains("cannot write /x/db") && text.contains("No space left"),
            "{text}"
        );
        let Error::Io(io) = &e else { panic!("{e:?}") };
        assert_eq!(io.kind(), io::ErrorKind::StorageFull);
        let root = e
            .source()
            .and_then(|s| s.source())
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the operating system's error is in the source chain");
        assert_eq!(root.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn internal_errors_say_they_are_not_damage() {
        let text = Error::Internal("a split lost an entry".into()).to_string();
        assert!(
            text.contains("bug") && text.contains("not damage"),
            "{text}"
        );
    }
}
