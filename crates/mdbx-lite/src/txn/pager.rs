//! The write transaction's view of pages: its dirty pages over the committed state it
//! builds on, the page numbers it may use, and the mechanics of copying, creating and
//! releasing pages. Which page numbers to take, and what a released page becomes, is
//! decided above (`write_pages` while the transaction runs, `free_save` at commit).
//!
//! Invariants: a page reachable from a committed meta is never modified: `copy_page`
//! writes a copy under a new number and records the old one as freed by this
//! transaction, with its birth. Reads of committed pages are bounded by the committed
//! high-water mark and the file's length.

use std::fs::File;
use std::ops::Range;
use std::sync::Arc;

use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::RawMutex;

use crate::error::{Corruption, Error, Result};
use crate::format::meta::{Meta, TableRecord, WrittenPage, FIRST_PAGE};
use crate::format::page::{self, PageKind, HEADER};
use crate::os::io::Storage;
use crate::os::map::ReadAhead;
use crate::storage::snapshot::{overflow_run, PageSource};
use crate::txn::alloc::Allocator;
use crate::txn::dirty::DirtyPages;
use crate::txn::file::FileWriter;
use crate::txn::page_slab::PageSlab;
use crate::txn::{WriterGauges, WriterState};

/// What the environment hands a new write transaction.
pub(crate) struct PagerSetup {
    pub storage: Arc<dyn Storage>,
    pub file: Arc<File>,
    pub ws: ArcMutexGuard<RawMutex, WriterState>,
    pub read_ahead: ReadAhead,
    /// Most bytes of page buffers to keep for later transactions.
    pub spare_limit: usize,
    /// Most bytes of dirty pages to hold before writing some early.
    pub dirty_limit: usize,
    /// Where the transaction reports its memory.
    pub gauges: Arc<WriterGauges>,
    pub page_size: usize,
    /// The committed state the transaction builds on.
    pub base: Meta,
}

/// The write transaction's pages.
pub(crate) struct Pager {
    pub file: FileWriter,
    pub dirty: DirtyPages,
    pub space: Allocator,
    /// The committed state this transaction builds on.
    pub base: Meta,
    pub page_size: usize,
    pub txnid: u64,
    /// The free tree as this transaction has changed it.
    pub free: TableRecord,
    gauges: Arc<WriterGauges>,
}

impl Pager {
    /// The pages of transaction `txnid`, which builds on `setup.base`.
    pub fn new(mut setup: PagerSetup, txnid: u64) -> Pager {
        let spares = std::mem::replace(&mut setup.ws.spare_pages, PageSlab::new(setup.page_size));
        let base = setup.base;
        let mut dirty = DirtyPages::new(setup.page_size, setup.spare_limit, spares);
        dirty.set_limit(setup.dirty_limit);
        Pager {
            file: FileWriter::new(
                setup.storage,
                setup.file,
                setup.ws,
                setup.read_ahead,
                base.growth_step.max(1),
                setup.page_size,
            ),
            dirty,
            space: Allocator::new(txnid, base.high_water),
            base,
            page_size: setup.page_size,
            txnid,
            free: base.free,
            gauges: setup.gauges,
        }
    }

    /// Report the dirty pages held and spilled (every so many pages: cheap enough to
    /// follow a large transaction, rare enough to cost nothing).
    #[inline]
    fn report(&self) {
        let held = self.dirty.in_memory();
        if held.is_multiple_of(256) || self.dirty.spilled() > 0 {
            let bytes = (held * self.page_size) as u64;
            self.gauges.set(bytes, self.dirty.spilled() as u64);
        }
    }

    /// A page this transaction owns, for in-place edits (a spilled one is read back).
    #[inline]
    pub fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]> {
        if self.dirty.is_spilled(pgno) {
            self.unspill(pgno)?;
        }
        self.dirty
            .get_mut(pgno)
            .ok_or_else(|| Error::Internal(format!("page {pgno} is not dirty")))
    }

    /// Read spilled page `pgno` back into a buffer.
    fn unspill(&mut self, pgno: u64) -> Result<()> {
        let file = mapped_page(&self.file, &self.space, true, pgno, self.page_size)?;
        self.dirty.unspill(pgno, file);
        Ok(())
    }

    /// Past the dirty limit (and with no level open), write the pages changed longest
    /// ago to the file and drop their buffers. They go to page numbers this transaction
    /// was handed, which no snapshot reaches: a crash or an abort leaves them
    /// unreachable, as the commit would have written them anyway.
    fn spill_if_needed(&mut self) -> Result<()> {
        let pages = self.dirty.spill_candidates();
        if pages.is_empty() {
            return Ok(());
        }
        let mut pages = pages;
        pages.sort_unstable();
        self.file
            .write_some(&mut self.dirty, &pages, self.space.high_water(), false)?;
        for p in pages {
            self.dirty.mark_spilled(p);
        }
        self.report();
        Ok(())
    }

    /// Copy committed page `pgno` to `new` (just handed out), which this transaction
    /// then owns; `pgno` is recorded as freed.
    pub fn copy_page(&mut self, pgno: u64, new: u64) -> Result<()> {
        if self.dirty.contains(pgno) {
            return Err(Error::Internal(format!(
                "page {pgno} is this transaction's own: nothing to copy on write"
            )));
        }
        let committed = mapped_page(&self.file, &self.space, false, pgno, self.page_size)?;
        let copy = self.dirty.insert_copy(new, committed)?;
        let birth = page::header_txnid(copy);
        page::set_identity(copy, new, self.txnid);
        self.space.record_freed(pgno, birth);
        self.report();
        self.spill_if_needed()
    }

    /// Make `pgno` (just handed out) a new empty node page, counted in `rec`.
    pub fn init_node(&mut self, pgno: u64, kind: PageKind, rec: &mut TableRecord) -> Result<()> {
        let buf = self.dirty.insert_zeroed(pgno)?;
        page::init_header(buf, kind, pgno, self.txnid);
        if rec.key_order() == crate::format::order::Order::Integer {
            // Integer-ordered trees get integer slot heads on every page they create.
            page::header_mut(buf).set_flags(page::F_INTEGER_HEADS);
        }
        match kind {
            PageKind::Leaf => rec.leaf_pages += 1,
            _ => rec.branch_pages += 1,
        }
        self.report();
        self.spill_if_needed()
    }

    /// Stop using node page `pgno`, uncounted from `rec`. A committed page is recorded
    /// as freed with its birth (false); a page this transaction allocated is dropped and
    /// left to the caller to reuse or record (true).
    pub fn release_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<bool> {
        if leaf {
            rec.leaf_pages = rec.leaf_pages.saturating_sub(1);
        } else {
            rec.branch_pages = rec.branch_pages.saturating_sub(1);
        }
        if self.dirty.is_spilled(pgno) && self.dirty.levels() > 0 {
            // Read back, so the level keeps its image.
            self.unspill(pgno)?;
        }
        if self.dirty.remove(pgno) {
            return Ok(true);
        }
        let birth = page::header_txnid(self.page(pgno)?);
        self.space.record_freed(pgno, birth);
        Ok(false)
    }

    /// Write `value` as an overflow run of `n` pages at `pgno` (just handed out),
    /// counted in `rec`. Written now: the run is unreachable until commit, so writing
    /// early is safe and keeps large values off the heap.
    pub fn write_overflow_at(
        &mut self,
        pgno: u64,
        n: u64,
        value: &[u8],
        rec: &mut TableRecord,
    ) -> Result<()> {
        self.file.write_overflow(pgno, n, self.txnid, value)?;
        self.space.note_run(pgno, n);
        rec.overflow_pages += n;
        Ok(())
    }

    /// Make the run of `n` pages at `pgno` (just handed out) an overflow run of zeros,
    /// counted in `rec`, held as one dirty buffer spanning the run (under its first page)
    /// so its value can be filled in place; it is written with the dirty pages.
    pub fn reserve_overflow_at(&mut self, pgno: u64, n: u64, rec: &mut TableRecord) -> Result<()> {
        let mut run = vec![0u8; n as usize * self.page_size].into_boxed_slice();
        run[..HEADER].copy_from_slice(&page::overflow_head(pgno, self.txnid, n)?);
        self.dirty.insert_run(pgno, run)?;
        self.space.note_run(pgno, n);
        rec.overflow_pages += n;
        Ok(())
    }

    /// Stop using the overflow run at `pgno` holding a value of `len` bytes, uncounted
    /// from `rec`. A committed run is validated and recorded as freed (None); the pages
    /// of a run this transaction wrote are left to the caller (Some).
    pub fn release_overflow(
        &mut self,
        pgno: u64,
        len: usize,
        rec: &mut TableRecord,
    ) -> Result<Option<Range<u64>>> {
        let n = page::overflow_pages_needed(len, self.page_size);
        rec.overflow_pages = rec.overflow_pages.saturating_sub(n);
        if let Some(run) = self.space.forget_run(pgno) {
            // A reserved run is held in memory (a run written at `put` is not).
            self.dirty.remove(pgno);
            return Ok(Some(run));
        }
        // Validate the head so a corrupt pointer cannot free random pages.
        let head = self.page(pgno)?;
        overflow_run(head, pgno, len, self.page_size)?;
        let birth = page::header_txnid(head);
        for p in pgno..pgno + n {
            self.space.record_freed(p, birth);
        }
        Ok(None)
    }

    /// Write every dirty page to the file.
    /// What a one-sync meta lists for this transaction (see
    /// [`FileWriter::written_pages`]), once its free tree is saved: pages free at commit
    /// are those left in the pool, those it allocated and freed again, and those at or
    /// past the high-water mark (given back when the top of the file came free).
    pub fn written_pages(&self) -> Option<Vec<WrittenPage>> {
        let txnid = self.txnid;
        let own_freed: std::collections::HashSet<u64> = self
            .space
            .freed()
            .iter()
            .filter(|f| f.1 == txnid)
            .map(|f| f.0)
            .collect();
        let pool = self.space.pool();
        let high_water = self.space.high_water();
        self.file
            .written_pages(&|p| p >= high_water || pool.contains(&p) || own_freed.contains(&p))
    }

    pub fn write_dirty(&mut self) -> Result<()> {
        self.file
            .write_dirty(&mut self.dirty, self.space.high_water())
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        self.gauges.set(0, 0);
        self.file.ws.spare_pages = self.dirty.take_slab();
    }
}

/// Page `pgno` as the file holds it, through the map: a committed page, or (`spilled`)
/// one this transaction wrote early, which may lie past the committed high-water mark.
/// (Takes the pager's parts, so a caller can copy it into a dirty buffer.)
#[inline]
fn mapped_page<'a>(
    file: &'a FileWriter,
    space: &Allocator,
    spilled: bool,
    pgno: u64,
    page_size: usize,
) -> Result<&'a [u8]> {
    if pgno >= space.committed_high_water() && !spilled {
        return Err(Error::corrupted(
            Corruption::Bounds,
            pgno,
            "page number past the committed high-water mark",
        ));
    }
    let ws = &file.ws;
    if pgno >= ws.file_len / page_size as u64 {
        return Err(Error::corrupted(
            Corruption::Bounds,
            pgno,
            "page lies beyond the end of the file",
        ));
    }
    let off = pgno as usize * page_size;
    ws.map
        .get(off, page_size, ws.file_len as usize)
        .ok_or_else(|| Error::corrupted(Corruption::Bounds, pgno, "page lies beyond the mapping"))
}

impl PageSource for Pager {
    #[inline]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        if let Some(p) = self.dirty.get(pgno) {
            return Ok(p);
        }
        let spilled = self.dirty.is_spilled(pgno);
        mapped_page(&self.file, &self.space, spilled, pgno, self.page_size)
    }

    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
        if let Some(run) = self.dirty.get(pgno) {
            // A reserved run, not written yet.
            overflow_run(run, pgno, len, self.page_size)?;
            return run.get(HEADER..HEADER + len).ok_or_else(|| {
                Error::corrupted(Corruption::Bounds, pgno, "value longer than its run")
            });
        }
        let n = page::overflow_pages_needed(len, self.page_size);
        let end = pgno.saturating_add(n);
        if pgno < FIRST_PAGE || end > self.space.high_water() {
            return Err(Error::corrupted(
                Corruption::Bounds,
                pgno,
                "overflow run outside the allocated range",
            ));
        }
        let ws = &self.file.ws;
        let off = pgno as usize * self.page_size;
        let run = ws
            .map
            .get(off, n as usize * self.page_size, ws.file_len as usize)
            .ok_or_else(|| {
                Error::corrupted(
                    Corruption::Bounds,
                    pgno,
                    "overflow run beyond the end of the file",
                )
            })?;
        overflow_run(run, pgno, len, self.page_size)?;
        Ok(&run[HEADER..HEADER + len])
    }
}
