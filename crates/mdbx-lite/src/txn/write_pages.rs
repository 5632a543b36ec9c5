//! The page interface the tree writes through while a write transaction runs.
//!
//! Pages are taken from the pool, refilled from the free tree when it runs dry
//! (`reclaim`), and only then from the high-water mark; a page this transaction
//! allocated and releases goes straight back to the pool. At commit the free tree is
//! saved through another interface (`free_save::Saving`) that never refills the pool.

use crate::error::Result;
use crate::format::meta::TableRecord;
use crate::format::page::{self, PageKind};
use crate::tree::pages::{PageSource, PageWrite};
use crate::txn::alloc::AllocMark;
use crate::txn::free_save;
use crate::txn::horizon::ReuseHorizon;
use crate::txn::pager::{Pager, PagerSetup};
use crate::txn::reclaim::Reclaimer;

/// A write transaction's pages while it runs.
pub(crate) struct WritePages {
    pub pager: Pager,
    pub reclaim: Reclaimer,
}

/// The page state when an undo level began, besides the pages' own images (kept by
/// `DirtyPages`): the allocator's, the free-space search's and the free tree's record.
pub(crate) struct PagesMark {
    alloc: AllocMark,
    reclaim: Reclaimer,
    free: TableRecord,
}

impl WritePages {
    /// The pages of transaction `txnid`, reusing freed pages as `horizon` allows.
    pub fn new(setup: PagerSetup, txnid: u64, horizon: ReuseHorizon) -> WritePages {
        WritePages {
            pager: Pager::new(setup, txnid),
            reclaim: Reclaimer::new(horizon),
        }
    }

    /// Pages changed so far.
    pub fn dirty_pages(&self) -> usize {
        self.pager.dirty.len()
    }

    /// Record this transaction's free space in the free tree (see `free_save`).
    pub fn save_free_tree(&mut self) -> Result<()> {
        free_save::save_free_tree(&mut self.pager, &mut self.reclaim)
    }

    /// Open an undo level (a nested transaction or savepoint): from now on every change
    /// can be rolled back to this point with the returned mark.
    pub fn begin_level(&mut self) -> PagesMark {
        self.pager.dirty.begin_level();
        PagesMark {
            alloc: self.pager.space.mark(),
            reclaim: self.reclaim.clone(),
            free: self.pager.free,
        }
    }

    /// Roll back to `mark`, taken when undo level `level` began; it and the levels
    /// above are closed.
    pub fn rollback_level(&mut self, level: usize, mark: PagesMark) {
        self.pager.dirty.rollback_to(level);
        self.pager.space.rollback(mark.alloc);
        self.reclaim = mark.reclaim;
        self.pager.free = mark.free;
        if level == 0 {
            self.pager.space.end_levels();
        }
    }

    /// Close undo level `level` keeping its changes (its mark is dropped by the caller).
    pub fn fold_level(&mut self, level: usize) {
        self.pager.dirty.fold(level);
        if self.pager.dirty.levels() == 0 {
            self.pager.space.end_levels();
        }
    }

    /// After a successful commit (see `Reclaimer::remember_young_floor`).
    pub fn remember_young_floor(&mut self) {
        self.reclaim.remember_young_floor(&mut self.pager);
    }
}

impl PagePolicy for WritePages {
    #[inline]
    fn pager(&self) -> &Pager {
        &self.pager
    }

    #[inline]
    fn pager_mut(&mut self) -> &mut Pager {
        &mut self.pager
    }

    fn alloc_page(&mut self) -> Result<u64> {
        loop {
            if let Some(p) = self.pager.space.take_pooled()? {
                return Ok(p);
            }
            if !self.reclaim.load(&mut self.pager)? {
                return Ok(self.pager.space.extend(1));
            }
        }
    }

    /// From the pool (reclaiming every reusable group if needed), else at the
    /// high-water mark.
    fn alloc_run(&mut self, n: u64) -> Result<u64> {
        if n == 1 {
            return self.alloc_page();
        }
        loop {
            if let Some(p) = self.pager.space.take_pooled_run(n, &self.pager.dirty)? {
                return Ok(p);
            }
            if !self.reclaim.load(&mut self.pager)? {
                return Ok(self.pager.space.extend(n));
            }
        }
    }

    /// Straight back to the pool: no snapshot ever saw it.
    #[inline]
    fn release_own(&mut self, pgno: u64) {
        self.pager.space.release(pgno);
    }
}

/// What the two page interfaces of a write transaction decide differently: where a
/// new page comes from, and what a page this transaction allocated becomes when it is
/// released. The rest of [`PageWrite`] is the pager's mechanics, written once below for
/// both (`WritePages` here, `free_save::Saving` at commit).
pub(crate) trait PagePolicy {
    fn pager(&self) -> &Pager;
    fn pager_mut(&mut self) -> &mut Pager;
    /// The number for a new page.
    fn alloc_page(&mut self) -> Result<u64>;
    /// The first of `n` consecutive numbers, for an overflow run.
    fn alloc_run(&mut self, n: u64) -> Result<u64>;
    /// Page `pgno`, allocated by this transaction, is no longer used.
    fn release_own(&mut self, pgno: u64);
}

impl<P: PagePolicy> PageSource for P {
    #[inline]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        self.pager().page(pgno)
    }

    #[inline]
    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
        self.pager().overflow(pgno, len)
    }
}

impl<P: PagePolicy> PageWrite for P {
    #[inline]
    fn page_size(&self) -> usize {
        self.pager().page_size
    }

    #[inline]
    fn txnid(&self) -> u64 {
        self.pager().txnid
    }

    #[inline]
    fn is_dirty(&self, pgno: u64) -> bool {
        self.pager().dirty.contains(pgno)
    }

    #[inline]
    fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]> {
        self.pager_mut().page_mut(pgno)
    }

    fn touch(&mut self, pgno: u64) -> Result<u64> {
        if self.pager().dirty.contains(pgno) {
            return Ok(pgno);
        }
        let new = self.alloc_page()?;
        self.pager_mut().copy_page(pgno, new)?;
        Ok(new)
    }

    fn alloc_node(&mut self, kind: PageKind, rec: &mut TableRecord) -> Result<u64> {
        let pgno = self.alloc_page()?;
        self.pager_mut().init_node(pgno, kind, rec)?;
        Ok(pgno)
    }

    fn free_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<()> {
        if self.pager_mut().release_node(pgno, leaf, rec)? {
            self.release_own(pgno);
        }
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8], rec: &mut TableRecord) -> Result<u64> {
        let n = page::overflow_pages_needed(value.len(), self.pager().page_size);
        let pgno = self.alloc_run(n)?;
        self.pager_mut().write_overflow_at(pgno, n, value, rec)?;
        Ok(pgno)
    }

    fn reserve_overflow(&mut self, len: usize, rec: &mut TableRecord) -> Result<u64> {
        let n = page::overflow_pages_needed(len, self.pager().page_size);
        let pgno = self.alloc_run(n)?;
        self.pager_mut().reserve_overflow_at(pgno, n, rec)?;
        Ok(pgno)
    }

    fn free_overflow(&mut self, pgno: u64, len: usize, rec: &mut TableRecord) -> Result<()> {
        if let Some(run) = self.pager_mut().release_overflow(pgno, len, rec)? {
            for p in run {
                self.release_own(p);
            }
        }
        Ok(())
    }
}
