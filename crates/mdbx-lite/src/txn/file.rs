//! Every write a transaction makes to the database file: growing it (and remapping when
//! it outgrows the mapping), overflow runs as they are created, and the dirty pages at
//! commit.
//!
//! Invariant: nothing written here is reachable from a committed meta: overflow runs and
//! dirty pages go to page numbers the allocator handed out, which no snapshot that can
//! still be read reaches. Only the commit's meta write (in the API layer) publishes them.

use std::fs::File;
use std::sync::Arc;

use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::RawMutex;

use crate::error::Result;
use crate::format::meta::{WrittenPage, MAX_LISTED};
use crate::format::page::{self, HEADER};
use crate::os::io::Storage;
use crate::os::map::{Mapping, ReadAhead};
use crate::txn::dirty::DirtyPages;
use crate::txn::WriterState;

/// Most bytes one `write` call puts into the file. The kernel sizes a new page-cache
/// folio by the write that creates it, and a folio keeps that size while cached: with
/// 1 MiB writes a bulk load leaves 1 MiB folios, and every later one-page write and
/// sync of one of them walks all 256 of its block buffers. 32 KiB writes made later
/// durable commits about 10% (single insert) to 18% (1,000 inserts) faster than
/// 1 MiB writes, for a bulk load about 4% slower (`docs/benchmarks.md`).
pub(crate) const WRITE_CHUNK: usize = 32 << 10;

/// Bytes a commit writes between two writeback hints (see `Storage::start_writeback`).
const WRITEBACK_STEP: usize = 8 << 20;

/// Most pages a one-sync commit writes (overflow runs count all their pages): opening
/// after a restart reads each of them once to verify the commit, so this bounds that
/// work (4 MiB of 4 KiB pages). A commit also lists at most `MAX_LISTED` pages and runs.
pub(crate) const ONE_SYNC_MAX_PAGES: u64 = 1024;

/// Address space to reserve for a file of `len` bytes: room to double, at least 1 GiB.
pub(crate) fn reservation_for(len: u64) -> usize {
    let want = len.saturating_mul(2).max(1 << 30);
    usize::try_from(want.next_power_of_two()).unwrap_or(usize::MAX / 2)
}

/// The write transaction's handle on the file: where it writes, and the writer state
/// (file length, mapping) it holds for its whole life.
pub(crate) struct FileWriter {
    /// Where pages are written.
    storage: Arc<dyn Storage>,
    /// The file to map when it outgrows the mapping.
    file: Arc<File>,
    pub ws: ArcMutexGuard<RawMutex, WriterState>,
    read_ahead: ReadAhead,
    /// Smallest step the file grows by.
    growth_step: u64,
    page_size: usize,
    /// Bytes this transaction wrote so far (pages and overflow runs).
    pub bytes_written: u64,
    /// Every page and overflow run written so far, in write order, as (first page,
    /// pages, checksum), for a one-sync meta's list; `None` once more was written than
    /// one could list.
    written: Option<Vec<(u64, u64, u32)>>,
}

impl FileWriter {
    pub fn new(
        storage: Arc<dyn Storage>,
        file: Arc<File>,
        ws: ArcMutexGuard<RawMutex, WriterState>,
        read_ahead: ReadAhead,
        growth_step: u64,
        page_size: usize,
    ) -> FileWriter {
        FileWriter {
            storage,
            file,
            ws,
            read_ahead,
            growth_step,
            page_size,
            bytes_written: 0,
            written: Some(Vec::new()),
        }
    }

    /// Note a write of `n` pages at `pgno` with checksum `crc`. Recording stops once the
    /// writes, even with every rewrite of a page dropped, could not be listed.
    fn record(&mut self, pgno: u64, n: u64, crc: u32) {
        if let Some(w) = &mut self.written {
            w.push((pgno, n, crc));
            if w.len() > 4 * MAX_LISTED {
                self.written = None;
            }
        }
    }

    /// What a one-sync meta lists for this transaction: the last write of every page
    /// the committed state uses (a page or run written again, or partly covered by a
    /// later write, is listed as that later write; one with a page `is_free` at commit
    /// is left out, as the next transaction may reuse it), or `None` when that is more
    /// than [`MAX_LISTED`] entries or [`ONE_SYNC_MAX_PAGES`] pages.
    pub fn written_pages(&self, is_free: &dyn Fn(u64) -> bool) -> Option<Vec<WrittenPage>> {
        let written = self.written.as_ref()?;
        let mut kept: Vec<(u64, u64, u32)> = Vec::with_capacity(written.len());
        let mut covered: Vec<(u64, u64)> = Vec::with_capacity(written.len());
        let mut pages = 0u64;
        for &(pgno, n, crc) in written.iter().rev() {
            let end = pgno + n;
            if n > ONE_SYNC_MAX_PAGES || pgno > u64::from(u32::MAX) {
                return None; // (a meta lists page numbers as u32)
            }
            if covered.iter().any(|&(p, e)| p < end && pgno < e) {
                continue; // rewritten later: the later write is listed
            }
            covered.push((pgno, end));
            if (pgno..end).any(is_free) {
                continue;
            }
            pages += n;
            kept.push((pgno, n, crc));
            if kept.len() > MAX_LISTED || pages > ONE_SYNC_MAX_PAGES {
                return None;
            }
        }
        kept.sort_unstable_by_key(|w| w.0);
        Some(
            kept.into_iter()
                .map(|(pgno, _, checksum)| WrittenPage { pgno, checksum })
                .collect(),
        )
    }

    /// Grow the file (in steps) so it holds at least `len` bytes; remap if needed.
    pub fn ensure_len(&mut self, len: u64) -> Result<()> {
        if len <= self.ws.file_len {
            return Ok(());
        }
        // The writer's length is a lower bound (it is not measured at every begin):
        // another environment's transaction may have grown the file and aborted. Measure
        // before growing, so that the file never shrinks under other mappings.
        let real = self.storage.len()?;
        if real >= len {
            return self.adopt_len(real);
        }
        let known = self.ws.file_len.max(real);
        let step = self
            .growth_step
            .max((known / 8).min(1 << 30))
            .max(self.page_size as u64);
        let new_len = len.div_ceil(step) * step;
        self.storage.set_len(new_len)?;
        self.adopt_len(new_len)
    }

    /// Take `new_len` as the file's length: map it (a larger reservation when it
    /// outgrew this one) and let the map hand out its pages.
    fn adopt_len(&mut self, new_len: u64) -> Result<()> {
        self.ws.file_len = new_len;
        if new_len as usize > self.ws.map.reserved() {
            let reserve = reservation_for(new_len);
            self.ws.map = Arc::new(Mapping::new(&self.file, reserve, self.read_ahead)?);
        } else {
            self.ws.map.measure()?;
        }
        Ok(())
    }

    /// Write `value` as the overflow run of `n` pages at `pgno`, stamped with `txnid`:
    /// the head page's header, the value, zero padding to the run's end.
    pub fn write_overflow(&mut self, pgno: u64, n: u64, txnid: u64, value: &[u8]) -> Result<()> {
        let mut head = page::overflow_head(pgno, txnid, n)?;
        let total = n as usize * self.page_size;
        let pad = total - HEADER - value.len();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(page::checksum_input(&head));
        hasher.update(value);
        hasher.update(&vec![0u8; pad]);
        let crc = hasher.finalize();
        page::header_mut(&mut head).set_checksum(crc);
        self.record(pgno, n, crc);
        self.ensure_len((pgno + n) * self.page_size as u64)?;
        let off = pgno * self.page_size as u64;
        self.storage.write_at(&head, off)?;
        self.storage.write_at(value, off + HEADER as u64)?;
        if pad > 0 {
            self.storage
                .write_at(&vec![0u8; pad], off + (HEADER + value.len()) as u64)?;
        }
        self.bytes_written += total as u64;
        Ok(())
    }

    /// Write every dirty page (checksummed), coalescing runs of consecutive pages; the
    /// file first grows to `high_water` pages.
    pub fn write_dirty(&mut self, dirty: &mut DirtyPages, high_water: u64) -> Result<()> {
        let pages = dirty.sorted();
        self.write_some(dirty, &pages, high_water, true)
    }

    /// Write the dirty pages `pages` (ascending), as `write_dirty` does. With
    /// `writeback_hints`, every `WRITEBACK_STEP` written asks the kernel to start writing
    /// them to the device; pages written early (spilled) go without, because the
    /// transaction may change them again, and a page the device already wrote would
    /// then be written twice.
    pub fn write_some(
        &mut self,
        dirty: &mut DirtyPages,
        pages: &[u64],
        high_water: u64,
        writeback_hints: bool,
    ) -> Result<()> {
        self.ensure_len(high_water * self.page_size as u64)?;
        let ps = self.page_size;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK.max(ps));
        let mut run_start = 0u64;
        let mut run_len = 0u64;
        let mut hint_from: Option<u64> = None;
        let mut unhinted = 0usize;
        for &pgno in pages {
            let Some(page) = dirty.get_mut(pgno) else {
                continue;
            };
            page::stamp_checksum(page);
            let crc = page::header(page).checksum();
            self.record(pgno, (page.len() / ps) as u64, crc);
            if run_len > 0 && (pgno != run_start + run_len || buf.len() >= WRITE_CHUNK) {
                let at = run_start * ps as u64;
                self.storage.write_at(&buf, at)?;
                self.bytes_written += buf.len() as u64;
                let from = *hint_from.get_or_insert(at);
                unhinted += buf.len();
                if writeback_hints && unhinted >= WRITEBACK_STEP {
                    let end = at + buf.len() as u64;
                    self.storage.start_writeback(from, end - from);
                    hint_from = Some(end);
                    unhinted = 0;
                }
                buf.clear();
                run_len = 0;
            }
            if run_len == 0 {
                run_start = pgno;
            }
            buf.extend_from_slice(page);
            // (A reserved overflow run's buffer spans its pages.)
            run_len += (page.len() / ps) as u64;
        }
        if run_len > 0 {
            self.storage.write_at(&buf, run_start * ps as u64)?;
            self.bytes_written += buf.len() as u64;
        }
        Ok(())
    }
}
