//! `mdbx-lite get` and `mdbx-lite keys`: quick look-ups.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::util::{escape, hex, open_ro, unescape, unhex, CliError, CliResult, EXIT_NOT_FOUND};
use crate::{GetArgs, KeysArgs};

/// Decode a key argument: hex with `--hex`, else `dump -p` escapes.
fn parse_key(s: &str, is_hex: bool, db: &Path) -> CliResult<Vec<u8>> {
    let r = if is_hex { unhex(s) } else { unescape(s) };
    r.map_err(|e| CliError::new(Some(db), e).with_code(2))
}

fn show(bytes: &[u8], is_hex: bool) -> String {
    if is_hex {
        hex(bytes)
    } else {
        escape(bytes)
    }
}

/// `get DB KEY`, or the older `get KEY DB` when only its second argument names an
/// existing file: the database path and the key argument.
fn db_and_key(a: &GetArgs) -> CliResult<(PathBuf, String)> {
    let exists = |s: &OsStr| Path::new(s).exists();
    if !exists(&a.first) && !exists(&a.second) {
        return Err(CliError::new(
            Some(Path::new(&a.first)),
            "no such file (the database comes first: mdbx-lite get [OPTIONS] DB KEY)",
        ));
    }
    let (db, key) = if !exists(&a.first) {
        eprintln!(
            "mdbx-lite: note: `get KEY DB` is the old argument order; write `get DB KEY` \
             (the database first, as for every other subcommand)"
        );
        (&a.second, &a.first)
    } else {
        (&a.first, &a.second)
    };
    let db = PathBuf::from(db);
    match key.to_str() {
        Some(k) => Ok((db, k.to_string())),
        None => Err(CliError::new(
            Some(&db),
            format!(
                "the key {key:?} is not valid UTF-8: write such bytes as \\hh escapes, or the \
                 whole key as hex with --hex"
            ),
        )
        .with_code(2)),
    }
}

pub fn get(a: &GetArgs, out: &mut dyn Write) -> CliResult<i32> {
    let (db, key_arg) = db_and_key(a)?;
    let key = parse_key(&key_arg, a.hex, &db)?;
    let env = open_ro(&db)?;
    let dberr = |e| CliError::db(&db, e);
    let rtx = env.begin_read().map_err(dberr)?;
    let t = crate::util::read_table(&rtx, a.table.as_deref(), &db)?;
    // A dup-sort key prints every value, one per line (raw: back to back).
    let values = t.values(&key).map_err(dberr)?;
    if values.is_empty() {
        return Err(
            CliError::new(Some(&db), format!("key not found: {}", show(&key, a.hex)))
                .with_code(EXIT_NOT_FOUND),
        );
    }
    for v in values {
        if a.raw {
            out.write_all(v)?;
        } else {
            writeln!(out, "{}", show(v, a.hex))?;
        }
    }
    Ok(0)
}

pub fn keys(a: &KeysArgs, out: &mut dyn Write) -> CliResult<i32> {
    let prefix = match &a.prefix {
        Some(p) => parse_key(p, a.hex, &a.db)?,
        None => Vec::new(),
    };
    let env = open_ro(&a.db)?;
    let dberr = |e| CliError::db(&a.db, e);
    let rtx = env.begin_read().map_err(dberr)?;
    let t = crate::util::read_table(&rtx, a.table.as_deref(), &a.db)?;
    let limit = a.limit.unwrap_or(u64::MAX);
    for (n, e) in t.from(&prefix).enumerate() {
        if n as u64 >= limit {
            break;
        }
        let (k, v) = e.map_err(dberr)?;
        if !k.starts_with(&prefix) {
            break;
        }
        if a.values {
            writeln!(out, "{}\t{}", show(k, a.hex), show(v, a.hex))?;
        } else {
            writeln!(out, "{}", show(k, a.hex))?;
        }
    }
    Ok(0)
}
