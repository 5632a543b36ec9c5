//! Hot backup: copy a consistent snapshot to a new file while others keep working.

use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::api::order::KeyOrder;
use crate::api::transaction::ReadTxn;
use crate::error::{Error, Result};
use crate::format::meta::{Meta, FIRST_PAGE, META_LEN};
use crate::storage::snapshot::Snapshot;
use crate::{DupSort, Env, PutFlags};

/// A failed copy, by the side that failed, so a caller can name the right file: a
/// corrupt source page is the source's problem, a full disk the destination's.
#[derive(Debug)]
pub enum CopyError {
    /// Reading the snapshot of the source environment failed.
    Source(Error),
    /// Creating, writing or syncing the copy failed, or the destination exists; either
    /// way the copy left nothing at the destination path.
    Destination(Error),
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::Source(e) | CopyError::Destination(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CopyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CopyError::Source(e) | CopyError::Destination(e) => Some(e),
        }
    }
}

impl From<CopyError> for Error {
    fn from(e: CopyError) -> Error {
        match e {
            CopyError::Source(e) | CopyError::Destination(e) => e,
        }
    }
}

type CopyResult<T> = std::result::Result<T, CopyError>;

fn src_err(e: impl Into<Error>) -> CopyError {
    CopyError::Source(e.into())
}

fn dst_err(e: impl Into<Error>) -> CopyError {
    CopyError::Destination(e.into())
}

fn exists_error(path: &Path, what: &str) -> CopyError {
    dst_err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} {what}", path.display()),
    ))
}

impl Env {
    /// Write a consistent copy of the latest snapshot to `path` (which must not exist).
    ///
    /// Plain copies keep the page layout (free pages and persistent savepoints
    /// included); `compact` rebuilds every table in key order into a file without free
    /// pages, holding the latest state only (no savepoints: their states would need
    /// pages of their own). Readers and the writer keep running: the copy reads through
    /// its own read transaction.
    ///
    /// The copy is built under a temporary name beside `path` and linked to `path` only
    /// once complete and synced, so `path` never holds a partial copy (a failed copy
    /// can be retried as is), and a file that appears at `path` meanwhile is left alone.
    ///
    /// # Errors
    /// `Error::Io` when the copy cannot be created or written, or `path` exists
    /// (`AlreadyExists`; the destination is left as it was); `Error::Corrupted` when a
    /// page of the snapshot copied is damaged.
    pub fn copy_to(&self, path: impl AsRef<Path>, compact: bool) -> Result<()> {
        Ok(self.copy_to_with_progress(path, compact, &mut |_, _| {})?)
    }

    /// [`Env::copy_to`] with a progress callback `(units done, units total)`: pages for
    /// a plain copy, entries for a compacting one.
    ///
    /// # Errors
    /// As [`Env::copy_to`], as a [`CopyError`] that says whether reading the source or
    /// writing the destination failed.
    pub fn copy_to_with_progress(
        &self,
        path: impl AsRef<Path>,
        compact: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> CopyResult<()> {
        let path = path.as_ref();
        // `symlink_metadata`, so that a dangling symbolic link counts too.
        if let Ok(m) = path.symlink_metadata() {
            return Err(exists_error(
                path,
                if m.file_type().is_symlink() {
                    "exists (a symbolic link); refusing to overwrite"
                } else {
                    "already exists"
                },
            ));
        }
        let rtx = self.begin_read().map_err(src_err)?;
        let (tmp, file) = create_beside(path).map_err(dst_err)?;
        let tmp_lock = crate::lock_path(&tmp);
        let r = if compact {
            drop(file);
            self.copy_compact(&rtx, &tmp, progress)
        } else {
            self.copy_pages(rtx.snapshot(), file, progress)
        };
        let r = r.and_then(|()| match std::fs::hard_link(&tmp, path) {
            // A link never replaces: whatever appeared at `path` during the copy stays.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(exists_error(
                path,
                "appeared during the copy; it was left untouched",
            )),
            r => r.map_err(dst_err),
        });
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(tmp_lock);
        if r.is_ok() {
            crate::os::files::fsync_parent(path);
        }
        r
    }

    fn copy_pages(
        &self,
        snap: &Snapshot,
        mut out: File,
        progress: &mut dyn FnMut(u64, u64),
    ) -> CopyResult<()> {
        let ps = snap.pages.page_size;
        let meta = snap.meta;
        // Both metas name the snapshot, with consecutive ids so they differ.
        let mut head = vec![0u8; 2 * ps];
        for (slot, id) in [meta.txnid, meta.txnid + 1].into_iter().enumerate() {
            let m = Meta {
                txnid: id,
                slot: slot as u64,
                steady: true,
                one_sync: false,
                ..meta
            };
            head[slot * ps..slot * ps + META_LEN].copy_from_slice(&m.encode());
        }
        out.write_all(&head).map_err(dst_err)?;
        snap.pages.map.advise(crate::ReadAhead::Sequential);
        // Small writes, so the copy's cached folios suit a database (see `WRITE_CHUNK`).
        let chunk = (crate::txn::file::WRITE_CHUNK / ps).max(1) as u64;
        let copied = (|| {
            let mut pgno = FIRST_PAGE;
            while pgno < meta.high_water {
                let n = chunk.min(meta.high_water - pgno);
                out.write_all(snap.pages.run(pgno, n).map_err(src_err)?)
                    .map_err(dst_err)?;
                pgno += n;
                progress(pgno, meta.high_water);
            }
            Ok(())
        })();
        snap.pages.map.advise(self.inner.opts.read_ahead);
        copied?;
        out.sync_all().map_err(dst_err)
    }

    fn copy_compact(
        &self,
        rtx: &ReadTxn,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> CopyResult<()> {
        let names = rtx.list_tables().map_err(src_err)?;
        let records = names
            .iter()
            .map(|n| rtx.table_record(n))
            .collect::<Result<Vec<_>>>()
            .map_err(src_err)?;
        let total: u64 = rtx.main_table().len() + records.iter().map(|r| r.len()).sum::<u64>();
        let dst = Env::builder()
            .page_size(self.page_size())
            .open(path)
            .map_err(dst_err)?;
        let mut w = dst.begin_write().map_err(dst_err)?;
        let append = PutFlags {
            append: true,
            ..PutFlags::default()
        };
        let mut done = 0u64;
        let mut tick = |done: &mut u64| {
            *done += 1;
            if done.is_multiple_of(4096) {
                progress(*done, total);
            }
        };
        // Dup-sort tables pair by pair, in order, into a table of the same kind.
        for (name, rec) in names.iter().zip(&records) {
            if !rec.is_dupsort() {
                continue;
            }
            // (A user comparator cannot be named here: opening the source says so.)
            let src = rtx.open_dup_table(name).map_err(src_err)?;
            let Some(kind) = DupSort::from_flags(rec.flags) else {
                return Err(src_err(Error::Invalid(format!(
                    "table {name:?} is {}, which this build cannot copy compacted",
                    crate::api::transaction::kind_name(rec.kind())
                ))));
            };
            let mut dst_table = w.create_dup_table(name, kind).map_err(dst_err)?;
            for pair in src.iter() {
                let (k, v) = pair.map_err(src_err)?;
                dst_table.put(k, v).map_err(dst_err)?;
                tick(&mut done);
            }
        }
        let plain = names.iter().zip(&records).filter(|(_, r)| !r.is_dupsort());
        let tables = std::iter::once(None).chain(plain.map(|(n, r)| Some((n, r))));
        for table in tables {
            let (src, mut dst_table) = match table {
                None => (rtx.main_table(), w.main_table()),
                Some((n, rec)) => {
                    // Into a table of the same key order (a user comparator's cannot be
                    // named here: opening the source says so).
                    let src = rtx.open_table(n).map_err(src_err)?;
                    let order = KeyOrder::built_in(rec.flags).unwrap_or_default();
                    (src, w.create_table_with(n, order).map_err(dst_err)?)
                }
            };
            for entry in src.iter() {
                let (k, v) = entry.map_err(src_err)?;
                dst_table.put_with(k, v, append).map_err(dst_err)?;
                tick(&mut done);
            }
        }
        w.commit().map_err(dst_err)?;
        progress(total, total);
        Ok(())
    }
}

/// Create a new, empty file beside `dest` under a hidden name of its own
/// (`.NAME.copy-PID-RANDOM`), to build the copy in.
fn create_beside(dest: &Path) -> io::Result<(PathBuf, File)> {
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", dest.display()),
        )
    })?;
    let mut attempt = 0u32;
    loop {
        let mut tmp_name = OsString::from(".");
        tmp_name.push(name);
        let random = std::hash::RandomState::new().hash_one(attempt);
        tmp_name.push(format!(".copy-{}-{random:016x}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}
