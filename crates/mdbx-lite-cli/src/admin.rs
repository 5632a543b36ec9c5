//! `mdbx-lite copy` and `mdbx-lite drop`.

use std::io::{self, Write};

use mdbx_lite::{CopyError, Error};

use crate::util::{file_len, open_ro, open_rw, progress, CliError, CliResult};
use crate::{CopyArgs, DropArgs};

pub fn copy(a: &CopyArgs, _out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.src)?;
    // `symlink_metadata`, so that a dangling symbolic link counts too.
    if let Ok(m) = a.dst.symlink_metadata() {
        let what = if m.file_type().is_symlink() {
            "exists (a symbolic link); refusing to overwrite"
        } else {
            "already exists"
        };
        return Err(CliError::new(Some(&a.dst), what));
    }
    let pb = progress(file_len(&a.src), 0, "copy");
    let r = env.copy_to_with_progress(&a.dst, a.compact, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    r.map_err(|e| match e {
        CopyError::Source(e) => CliError::db(&a.src, e),
        CopyError::Destination(Error::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {
            CliError::new(
                Some(&a.dst),
                "appeared during the copy; it was left untouched and nothing was written to it",
            )
        }
        CopyError::Destination(e) => CliError::db(&a.dst, e),
    })?;
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
        (Some(n), false) => w.open_table(n).map_err(dberr)?.clear().map_err(dberr)?,
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
