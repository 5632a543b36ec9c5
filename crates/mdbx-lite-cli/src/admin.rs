//! `mdbx-lite copy` and `mdbx-lite drop`.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;

use mdbx_lite::{CopyError, Env, Error};

use crate::util::{file_len, open_ro, open_rw, progress, CliError, CliResult};
use crate::{CopyArgs, DropArgs, SavepointArgs};

pub fn copy(a: &CopyArgs, out: &mut dyn Write) -> CliResult<i32> {
    match a.dst.as_deref() {
        None => copy_to_stdout(a, out),
        Some(p) if p.as_os_str() == "-" => copy_to_stdout(a, out),
        Some(dst) => {
            let env = open_ro(&a.src)?;
            // `symlink_metadata`, so that a dangling symbolic link counts too.
            if let Ok(m) = dst.symlink_metadata() {
                let what = if m.file_type().is_symlink() {
                    "exists (a symbolic link); refusing to overwrite"
                } else {
                    "already exists"
                };
                return Err(CliError::new(Some(dst), what));
            }
            copy_file(&env, a, dst)
        }
    }
}

/// Copy `a.src` (opened as `env`) to the new file `dst`.
fn copy_file(env: &Env, a: &CopyArgs, dst: &Path) -> CliResult<i32> {
    let pb = progress(file_len(&a.src), 0, "copy");
    let r = env.copy_to_with_progress(dst, a.compact, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    r.map_err(|e| match e {
        CopyError::Source(e) => CliError::db(&a.src, e),
        CopyError::Destination(Error::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {
            CliError::new(
                Some(dst),
                "appeared during the copy; it was left untouched and nothing was written to it",
            )
        }
        CopyError::Destination(e) => CliError::db(dst, e),
    })?;
    Ok(0)
}

/// `copy SRC` / `copy SRC -`: the copy is built as a file in a new temporary directory
/// (the library copies to paths only), then streamed to stdout; the directory is removed
/// either way.
fn copy_to_stdout(a: &CopyArgs, out: &mut dyn Write) -> CliResult<i32> {
    if io::stdout().is_terminal() {
        return Err(CliError::new(
            None,
            "refusing to write a database to a terminal: redirect stdout, or give a \
             destination file (copy SRC DST)",
        )
        .with_code(2));
    }
    let env = open_ro(&a.src)?;
    let dir = tempfile::Builder::new()
        .prefix("mdbx-lite-copy-")
        .tempdir()
        .map_err(|e| {
            CliError::new(
                Some(&std::env::temp_dir()),
                format!("cannot create a temporary directory for the copy: {e}"),
            )
        })?;
    let tmp = dir.path().join("copy.db");
    copy_file(&env, a, &tmp).map_err(|mut e| {
        if e.path.as_deref() == Some(&tmp) {
            e.msg.push_str(
                " (the copy is built there before it goes to stdout; set TMPDIR to use \
                 another directory)",
            );
        }
        e
    })?;
    drop(env);
    let mut file = File::open(&tmp).map_err(|e| CliError::io(&tmp, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CliError::io(&tmp, e)),
        };
        out.write_all(&buf[..n])?;
    }
    out.flush()?;
    Ok(0)
}

pub fn savepoint(a: &SavepointArgs, out: &mut dyn Write) -> CliResult<i32> {
    let dberr = |e| CliError::db(&a.db, e);
    if a.create.is_some() || a.delete.is_some() || a.restore.is_some() {
        let env = open_rw(&a.db)?;
        let mut w = env.begin_write().map_err(dberr)?;
        let done = if let Some(n) = &a.create {
            let id = w.persistent_savepoint(n).map_err(dberr)?;
            format!("savepoint {n:?} names txn {id}")
        } else if let Some(n) = &a.delete {
            if !w.delete_persistent_savepoint(n).map_err(dberr)? {
                return Err(dberr(Error::SavepointNotFound(n.clone())));
            }
            format!("savepoint {n:?} deleted")
        } else {
            let n = a.restore.as_deref().unwrap_or_default();
            w.restore_persistent_savepoint(n).map_err(dberr)?;
            format!("savepoint {n:?} restored")
        };
        w.commit().map_err(dberr)?;
        writeln!(out, "{done}")?;
        return Ok(0);
    }
    let env = open_ro(&a.db)?;
    let st = env.stat().map_err(dberr)?;
    if a.json {
        let v = serde_json::json!(st
            .savepoints
            .iter()
            .map(|s| serde_json::json!({
                "name": s.name, "txnid": s.txnid, "held_pages": s.held_pages,
                "lag": st.last_txnid.saturating_sub(s.txnid),
            }))
            .collect::<Vec<_>>());
        crate::util::write_json(out, &v)?;
        return Ok(0);
    }
    if st.savepoints.is_empty() {
        writeln!(out, "no persistent savepoints")?;
    }
    for s in &st.savepoints {
        writeln!(
            out,
            "{:?}: txn {} ({} commits ago), holds {} free pages",
            s.name,
            s.txnid,
            st.last_txnid.saturating_sub(s.txnid),
            s.held_pages
        )?;
    }
    Ok(0)
}

pub fn drop_table(a: &DropArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_rw(&a.db)?;
    let dberr = |e| CliError::db(&a.db, e);
    let mut w = env.begin_write().map_err(dberr)?;
    match (&a.table, a.delete) {
        (None, true) => {
            return Err(CliError::new(
                Some(&a.db),
                "the main table cannot be deleted (drop without -d empties it)",
            ))
        }
        (None, false) => w.main_table().clear().map_err(dberr)?,
        (Some(n), false) => match w.open_table(n) {
            Err(mdbx_lite::Error::TableKindMismatch { .. }) => {
                w.open_dup_table(n).map_err(dberr)?.clear().map_err(dberr)?
            }
            t => t.map_err(dberr)?.clear().map_err(dberr)?,
        },
        (Some(n), true) => {
            if !w.drop_table(n).map_err(dberr)? {
                return Err(CliError::db(
                    &a.db,
                    mdbx_lite::Error::TableNotFound(n.clone()),
                ));
            }
        }
    }
    w.commit().map_err(dberr)?;
    let what = if a.delete { "deleted" } else { "emptied" };
    match &a.table {
        Some(n) => writeln!(out, "table {n:?} {what}")?,
        None => writeln!(out, "main table {what}")?,
    }
    Ok(0)
}
