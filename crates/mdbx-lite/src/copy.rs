//! Hot backup: copy a consistent snapshot to a new file while others keep working.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::meta::{Meta, FIRST_PAGE, META_LEN};
use crate::{Env, PutFlags};

impl Env {
    /// Write a consistent copy of the latest snapshot to `path` (which must not exist).
    ///
    /// Plain copies keep the page layout (free pages included); `compact` rebuilds every
    /// table in key order into a file without free pages. Readers and the writer keep
    /// running: the copy reads through its own read transaction.
    pub fn copy_to(&self, path: impl AsRef<Path>, compact: bool) -> Result<()> {
        self.copy_to_with_progress(path, compact, &mut |_, _| {})
    }

    /// [`Env::copy_to`] with a progress callback `(units done, units total)`: pages for
    /// a plain copy, entries for a compacting one.
    pub fn copy_to_with_progress(
        &self,
        path: impl AsRef<Path>,
        compact: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::Invalid(format!("{} already exists", path.display())));
        }
        if compact {
            self.copy_compact(path, progress)
        } else {
            self.copy_pages(path, progress)
        }
    }

    fn copy_pages(&self, path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let ps = snap.pages.page_size;
        let meta = snap.meta;
        let mut out = OpenOptions::new().write(true).create_new(true).open(path)?;
        // Both metas name the snapshot, with consecutive ids so they differ.
        let mut head = vec![0u8; 2 * ps];
        for (slot, id) in [meta.txnid, meta.txnid + 1].into_iter().enumerate() {
            let m = Meta {
                txnid: id,
                slot: slot as u64,
                steady: true,
                ..meta
            };
            head[slot * ps..slot * ps + META_LEN].copy_from_slice(&m.encode());
        }
        out.write_all(&head)?;
        snap.pages.map.advise(crate::ReadAhead::Sequential);
        // Small writes, so the copy's cached folios suit a database (see `WRITE_CHUNK`).
        let chunk = (crate::pager::WRITE_CHUNK / ps).max(1) as u64;
        let mut pgno = FIRST_PAGE;
        while pgno < meta.high_water {
            let n = chunk.min(meta.high_water - pgno);
            out.write_all(snap.pages.run(pgno, n)?)?;
            pgno += n;
            progress(pgno, meta.high_water);
        }
        snap.pages.map.advise(self.inner.opts.read_ahead);
        out.sync_all()?;
        Ok(())
    }

    fn copy_compact(&self, path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
        let rtx = self.begin_read()?;
        let names = rtx.list_tables()?;
        let total: u64 = rtx.main_table().len()
            + names
                .iter()
                .map(|n| rtx.open_table(n).map(|t| t.len()))
                .sum::<Result<u64>>()?;
        let dst = Env::builder().page_size(self.page_size()).open(path)?;
        let mut w = dst.begin_write()?;
        let append = PutFlags {
            append: true,
            ..PutFlags::default()
        };
        let mut done = 0u64;
        let tables = std::iter::once(None).chain(names.iter().map(Some));
        for name in tables {
            let (src, mut dst_table) = match name {
                None => (rtx.main_table(), w.main_table()),
                Some(n) => (rtx.open_table(n)?, w.create_table(n)?),
            };
            for entry in src.iter() {
                let (k, v) = entry?;
                dst_table.put_with(k, v, append)?;
                done += 1;
                if done.is_multiple_of(4096) {
                    progress(done, total);
                }
            }
        }
        w.commit()?;
        progress(total, total);
        drop(dst);
        let _ = std::fs::remove_file(crate::lock_path(path));
        Ok(())
    }
}
