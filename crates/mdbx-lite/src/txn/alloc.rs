//! Which page numbers the write transaction may use, and which it stopped using.
//!
//! Pages come from the pool (free pages reclaimed from the free tree, or pages this
//! transaction allocated and released again) or, when it is empty, from the high-water
//! mark. Pages the transaction stops using are recorded in `freed` with their births, to
//! be saved in the free tree at commit. This module does not know where reusable pages
//! come from (see `reclaim`) nor how the free tree is stored (see `free_save`).
//!
//! Invariants: a page is handed out at most once while in use: a pool page that is
//! dirty or part of a fresh overflow run was listed free twice, and is refused as
//! corruption. Committed pages freed by this transaction were freed once and none of
//! them is listed free (`check_freed`, before anything is written).

use std::collections::BTreeSet;
use std::ops::Range;

use crate::error::{Corruption, Error, Result};
use crate::txn::dirty::{listed_twice, DirtyPages, PageMap};

/// The error for a page this transaction stopped using that the free tree also lists.
fn both_used_and_free(p: u64) -> Error {
    Error::corrupted(
        Corruption::FreeSpace,
        p,
        "page both in use and listed in the free tree",
    )
}

/// The write transaction's page numbers: the pool, the high-water mark, fresh overflow
/// runs and the committed pages it freed.
pub(crate) struct Allocator {
    txnid: u64,
    /// Pages free for use right now.
    pool: BTreeSet<u64>,
    /// Next page number never used; pages at or above it are unused.
    high_water: u64,
    /// The high-water mark of the committed state (pages below it may be reachable).
    committed_high_water: u64,
    /// Overflow runs written by this transaction (first page -> run length).
    fresh_overflow: PageMap<u64>,
    /// Pages of the runs in `fresh_overflow` that came from below the committed
    /// high-water mark (so from the free tree): such a page handed out again means the
    /// free tree listed it twice. Usually empty.
    run_pages: PageMap<()>,
    /// Committed pages this transaction stopped using, with their births (and, while
    /// the free tree is saved, pages it allocated and freed again, with its own id).
    freed: Vec<(u64, u64)>,
    /// Whether undo levels are open: pages released then wait in `deferred` instead of
    /// the pool, so no level reuses a page an outer level still holds if rolled back
    /// (an overflow run's pages are written to the file directly, with no undo image).
    deferring: bool,
    deferred: Vec<u64>,
}

/// The allocator's state when an undo level began, to roll back to.
pub(crate) struct AllocMark {
    pool: BTreeSet<u64>,
    high_water: u64,
    fresh_overflow: PageMap<u64>,
    run_pages: PageMap<()>,
    freed: usize,
    deferred: usize,
}

impl Allocator {
    /// The allocator of transaction `txnid` over a committed state of `high_water` pages.
    pub fn new(txnid: u64, high_water: u64) -> Allocator {
        Allocator {
            txnid,
            pool: BTreeSet::new(),
            high_water,
            committed_high_water: high_water,
            fresh_overflow: PageMap::default(),
            run_pages: PageMap::default(),
            freed: Vec::new(),
            deferring: false,
            deferred: Vec::new(),
        }
    }

    /// The state to roll back to if the undo level beginning now is; pages released
    /// from now on are deferred until no level is open ([`Allocator::end_levels`]).
    /// Costs a copy of the pool and of the fresh-run table (both small: reclaimed pages
    /// not used yet, and the overflow runs this transaction wrote).
    pub fn mark(&mut self) -> AllocMark {
        self.deferring = true;
        AllocMark {
            pool: self.pool.clone(),
            high_water: self.high_water,
            fresh_overflow: self.fresh_overflow.clone(),
            run_pages: self.run_pages.clone(),
            freed: self.freed.len(),
            deferred: self.deferred.len(),
        }
    }

    /// Back to the state of `mark` (its level and every level above it are gone).
    pub fn rollback(&mut self, mark: AllocMark) {
        self.pool = mark.pool;
        self.high_water = mark.high_water;
        self.fresh_overflow = mark.fresh_overflow;
        self.run_pages = mark.run_pages;
        self.freed.truncate(mark.freed);
        self.deferred.truncate(mark.deferred);
    }

    /// No undo level is open any more: deferred pages go to the pool.
    pub fn end_levels(&mut self) {
        self.deferring = false;
        self.pool.extend(self.deferred.drain(..));
    }

    #[inline]
    pub fn high_water(&self) -> u64 {
        self.high_water
    }

    #[inline]
    pub fn committed_high_water(&self) -> u64 {
        self.committed_high_water
    }

    pub fn pool(&self) -> &BTreeSet<u64> {
        &self.pool
    }

    pub fn freed(&self) -> &[(u64, u64)] {
        &self.freed
    }

    /// A page from the pool, if it holds one.
    #[inline]
    pub fn take_pooled(&mut self) -> Result<Option<u64>> {
        let Some(p) = self.pool.pop_first() else {
            return Ok(None);
        };
        if !self.run_pages.is_empty() && self.run_pages.contains_key(&p) {
            return Err(listed_twice(p));
        }
        Ok(Some(p))
    }

    /// The first of `n` consecutive pool pages, if the pool holds such a run; taken out
    /// of the pool. `dirty` is this transaction's pages, none of which may be in it.
    pub fn take_pooled_run(&mut self, n: u64, dirty: &DirtyPages) -> Result<Option<u64>> {
        let Some(start) = find_run(&self.pool, n) else {
            return Ok(None);
        };
        for p in start..start + n {
            self.pool.remove(&p);
            if dirty.contains(p) || self.run_pages.contains_key(&p) {
                return Err(listed_twice(p));
            }
            if p < self.committed_high_water {
                self.run_pages.insert(p, ());
            }
        }
        Ok(Some(start))
    }

    /// `n` new pages at the high-water mark; returns the first.
    #[inline]
    pub fn extend(&mut self, n: u64) -> u64 {
        let p = self.high_water;
        self.high_water += n;
        p
    }

    /// Add `p`, reclaimed from the free tree, to the pool; refused if it is there already.
    pub fn add_reclaimed(&mut self, p: u64) -> Result<()> {
        if self.pool.insert(p) {
            Ok(())
        } else {
            Err(listed_twice(p))
        }
    }

    /// Return `p`, a page this transaction allocated and no longer uses, to the pool.
    #[inline]
    pub fn release(&mut self, p: u64) {
        if self.deferring {
            self.deferred.push(p);
        } else {
            self.pool.insert(p);
        }
    }

    /// Record that this transaction stopped using page `p`, written by `birth`.
    #[inline]
    pub fn record_freed(&mut self, p: u64, birth: u64) {
        self.freed.push((p, birth));
    }

    /// Record that page `p`, allocated by this transaction, is free again at commit
    /// time, when the pool is no longer drawn from: it is saved with this transaction's
    /// own id as birth (seen by no snapshot).
    #[inline]
    pub fn record_freed_own(&mut self, p: u64) {
        self.freed.push((p, self.txnid));
    }

    /// Note the overflow run of `n` pages this transaction just wrote at `start`.
    pub fn note_run(&mut self, start: u64, n: u64) {
        if n == 1 && start < self.committed_high_water {
            // A single page comes from the pool like a node page: track it here.
            self.run_pages.insert(start, ());
        }
        self.fresh_overflow.insert(start, n);
    }

    /// The pages of the run at `start` if this transaction wrote it, forgotten as a run.
    pub fn forget_run(&mut self, start: u64) -> Option<Range<u64>> {
        let n = self.fresh_overflow.remove(&start)?;
        for p in start..start + n {
            self.run_pages.remove(&p);
        }
        Some(start..start + n)
    }

    /// Before a commit writes anything: each committed page this transaction stopped
    /// using was freed once (freeing one twice means two places reach it) and none of
    /// them is listed free (in the pool, handed out, or held back in `held`); and no
    /// held-back page was handed out. Costs two sorts (freed pages and held-back pages)
    /// and a look-up or two per page: O(n log n) in the pages this transaction touched
    /// and held back.
    pub fn check_freed(&self, held: &[(u64, Vec<(u64, u64)>)], dirty: &DirtyPages) -> Result<()> {
        let mut pages: Vec<u64> = self.freed.iter().map(|&(p, _)| p).collect();
        pages.sort_unstable();
        if let Some(w) = pages.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::corrupted(
                Corruption::Shape,
                w[0],
                "page reachable twice: this transaction freed it twice",
            ));
        }
        let handed_out = |p: u64| dirty.contains(p) || self.run_pages.contains_key(&p);
        // Pages this transaction allocated and freed again while saving the free tree
        // carry its id as birth and may well come from the free tree; committed pages
        // carry an older one.
        let mut committed: Vec<u64> = Vec::new();
        for &(p, birth) in &self.freed {
            if birth < self.txnid {
                if handed_out(p) || self.pool.contains(&p) {
                    return Err(both_used_and_free(p));
                }
                committed.push(p);
            }
        }
        let mut held_pages: Vec<u64> = Vec::new();
        for &(p, _) in held.iter().flat_map(|(_, h)| h) {
            if handed_out(p) {
                return Err(listed_twice(p));
            }
            held_pages.push(p);
        }
        if held_pages.is_empty() || committed.is_empty() {
            return Ok(());
        }
        committed.sort_unstable();
        held_pages.sort_unstable();
        let (mut i, mut j) = (0, 0);
        while i < committed.len() && j < held_pages.len() {
            match committed[i].cmp(&held_pages[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => return Err(both_used_and_free(committed[i])),
            }
        }
        Ok(())
    }
}

/// First page of `n` consecutive pages in `pool`.
fn find_run(pool: &BTreeSet<u64>, n: u64) -> Option<u64> {
    let mut start = 0u64;
    let mut len = 0u64;
    for &p in pool {
        if len > 0 && p == start + len {
            len += 1;
        } else {
            start = p;
            len = 1;
        }
        if len == n {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_dirty() -> DirtyPages {
        DirtyPages::new(64, 0, crate::txn::page_slab::PageSlab::new(64))
    }

    fn corrupted_page(e: &Error) -> Option<u64> {
        match e {
            Error::Corrupted { page, .. } => Some(*page),
            _ => None,
        }
    }

    #[test]
    fn pool_pages_go_first_lowest_first_then_the_high_water_mark() {
        let mut a = Allocator::new(9, 100);
        a.add_reclaimed(40).unwrap();
        a.add_reclaimed(30).unwrap();
        assert_eq!(a.take_pooled().unwrap(), Some(30));
        assert_eq!(a.take_pooled().unwrap(), Some(40));
        assert_eq!(a.take_pooled().unwrap(), None);
        assert_eq!(a.extend(1), 100);
        assert_eq!(a.extend(3), 101);
        assert_eq!(a.high_water(), 104);
        assert_eq!(a.committed_high_water(), 100);
    }

    #[test]
    fn a_page_reclaimed_twice_is_refused() {
        let mut a = Allocator::new(9, 100);
        a.add_reclaimed(40).unwrap();
        let e = a.add_reclaimed(40).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(40), "{e:?}");
    }

    #[test]
    fn runs_come_from_consecutive_pool_pages_and_are_tracked() {
        let mut a = Allocator::new(9, 100);
        for p in [10, 11, 13, 14, 15, 20] {
            a.add_reclaimed(p).unwrap();
        }
        let dirty = no_dirty();
        assert_eq!(a.take_pooled_run(4, &dirty).unwrap(), None);
        assert_eq!(a.take_pooled_run(3, &dirty).unwrap(), Some(13));
        a.note_run(13, 3);
        assert_eq!(a.pool().iter().copied().collect::<Vec<_>>(), [10, 11, 20]);
        // The run's pages listed free again (a damaged free tree) are refused.
        a.add_reclaimed(14).unwrap();
        assert_eq!(a.take_pooled().unwrap(), Some(10));
        assert_eq!(a.take_pooled().unwrap(), Some(11));
        let e = a.take_pooled().unwrap_err();
        assert_eq!(corrupted_page(&e), Some(14), "{e:?}");
        // Freeing the run gives back its pages, once.
        assert_eq!(a.forget_run(13), Some(13..16));
        assert_eq!(a.forget_run(13), None);
    }

    #[test]
    fn a_run_over_a_dirty_page_is_refused() {
        let mut a = Allocator::new(9, 100);
        for p in [50, 51] {
            a.add_reclaimed(p).unwrap();
        }
        let mut dirty = no_dirty();
        dirty.insert_zeroed(51).unwrap();
        let e = a.take_pooled_run(2, &dirty).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(51), "{e:?}");
    }

    #[test]
    fn check_freed_refuses_pages_freed_twice_or_both_used_and_free() {
        let dirty = no_dirty();
        let mut a = Allocator::new(9, 100);
        a.record_freed(20, 3);
        a.record_freed(21, 4);
        a.record_freed_own(60);
        a.check_freed(&[], &dirty).unwrap();

        a.record_freed(20, 3);
        let e = a.check_freed(&[], &dirty).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(20), "{e:?}");

        // A committed page freed here and still in the pool.
        let mut a = Allocator::new(9, 100);
        a.record_freed(20, 3);
        a.add_reclaimed(20).unwrap();
        let e = a.check_freed(&[], &dirty).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(20), "{e:?}");

        // ... or held back under a young group.
        let mut a = Allocator::new(9, 100);
        a.record_freed(20, 3);
        let held = [(5, vec![(19, 2), (20, 3)])];
        let e = a.check_freed(&held, &dirty).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(20), "{e:?}");

        // A held-back page that was handed out.
        let mut dirty = no_dirty();
        dirty.insert_zeroed(19).unwrap();
        let a = Allocator::new(9, 100);
        let e = a.check_freed(&held, &dirty).unwrap_err();
        assert_eq!(corrupted_page(&e), Some(19), "{e:?}");
    }
}
