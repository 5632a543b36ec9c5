//! The write transaction's dirty pages: a page-sized heap buffer per page number it
//! wrote, and the spare buffers kept between transactions.
//!
//! Invariant: a page number maps to at most one buffer. A page inserted twice was
//! handed out twice by the allocator, which a valid free tree never causes, so the
//! second insert is refused as corruption ("listed free twice").
//!
//! Undo levels (nested transactions and savepoints): while one is open, the first
//! change to a page inside it (a write through `get_mut`, an insert, a removal) first
//! records the page as it was, an image of it or "not dirty", so rolling the level back
//! restores every page exactly and a level costs one page per page it changes.
//!
//! Spilled pages: past the dirty limit, the pages changed longest ago are written to the
//! file early (by the pager) and only their numbers kept here; they still count as this
//! transaction's own pages (`contains`), and one changed again is read back
//! (`unspill`). Nothing is spilled while a level is open, and a spilled page changed
//! inside a level gets its image like any other.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::{Corruption, Error, Result};
use crate::txn::page_index::PageIndex;
use crate::txn::page_slab::{PageSlab, Slot};

/// Hashes page numbers for the dirty-page maps: one multiply (Fibonacci hashing).
/// Page numbers are not attacker-chosen keys and SipHash showed up in profiles; the
/// product's low bits stay distinct for consecutive pages and its high bits are mixed.
#[derive(Default)]
pub(crate) struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).rotate_left(5);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by page number.
pub(crate) type PageMap<V> = HashMap<u64, V, BuildHasherDefault<PageHasher>>;

/// The error for a page the allocator hands out while this transaction still uses it:
/// the free tree lists it twice.
pub(crate) fn listed_twice(p: u64) -> Error {
    Error::corrupted(Corruption::FreeSpace, p, "page listed free twice")
}

/// A dirty page's buffer: a slot of the slab, or a reserved overflow run's own
/// buffer, which spans the run.
enum Buf {
    Page(Slot),
    Run(Box<[u8]>),
}

/// What the pages a level changed were when it began: an image, or `None` for a page
/// that was not dirty then.
type Undo = PageMap<Option<Buf>>;

/// Pages this transaction wrote, held in memory until commit. A page buffer is one page
/// of the slab, except a reserved overflow run's (`Pager::reserve_overflow_at`), which
/// spans the run and is kept under its first page.
pub(crate) struct DirtyPages {
    pages: PageIndex,
    /// Reserved overflow runs, by first page.
    runs: PageMap<Box<[u8]>>,
    /// Pages written to the file early, their buffers given back.
    spilled: PageMap<()>,
    /// Page numbers in the order they became dirty (with stale entries), oldest first:
    /// the order pages are spilled in.
    order: VecDeque<u64>,
    /// Most pages to hold in memory before spilling.
    limit: usize,
    /// Open undo levels, innermost last.
    levels: Vec<Undo>,
    /// The page buffers, kept between transactions up to `spare_limit` bytes: reused
    /// buffers spare a large transaction the allocation and first-touch page faults of
    /// fresh memory.
    slab: PageSlab,
    spare_limit: usize,
    page_size: usize,
}

impl DirtyPages {
    /// No dirty pages yet; `slab` holds the buffers kept from earlier transactions (a
    /// slab of another page size is replaced).
    pub fn new(page_size: usize, spare_limit: usize, slab: PageSlab) -> DirtyPages {
        let slab = if slab.page_size() == page_size {
            slab
        } else {
            PageSlab::new(page_size)
        };
        DirtyPages {
            pages: PageIndex::default(),
            runs: PageMap::default(),
            spilled: PageMap::default(),
            order: VecDeque::new(),
            limit: usize::MAX,
            levels: Vec::new(),
            slab,
            spare_limit,
            page_size,
        }
    }

    /// Hold at most `bytes` of page buffers before spilling (at least 64 pages).
    pub fn set_limit(&mut self, bytes: usize) {
        self.limit = (bytes / self.page_size).max(64);
        // Spilling starts one page past the limit. (Undo images, kept while a level is
        // open, grow the slab past it by small chunks.)
        self.slab.set_limit(self.limit.saturating_add(1));
    }

    /// Pages this transaction owns: in memory and spilled.
    pub fn len(&self) -> usize {
        self.in_memory() + self.spilled.len()
    }

    /// Pages (and reserved runs) held in memory.
    pub fn in_memory(&self) -> usize {
        self.pages.len() + self.runs.len()
    }

    /// Pages written early.
    pub fn spilled(&self) -> usize {
        self.spilled.len()
    }

    /// Whether this transaction owns `pgno` (in memory or spilled).
    #[inline]
    pub fn contains(&self, pgno: u64) -> bool {
        self.pages.contains(pgno)
            || (!self.runs.is_empty() && self.runs.contains_key(&pgno))
            || self.is_spilled(pgno)
    }

    /// Whether `pgno` was written early (its bytes are in the file).
    #[inline]
    pub fn is_spilled(&self, pgno: u64) -> bool {
        !self.spilled.is_empty() && self.spilled.contains_key(&pgno)
    }

    /// The pages to spill now, oldest first: once more than the limit are in memory and
    /// no level is open, enough of the oldest page-sized ones to get down to half of it.
    pub fn spill_candidates(&mut self) -> Vec<u64> {
        if self.pages.len() <= self.limit || !self.levels.is_empty() {
            return Vec::new();
        }
        let target = self.pages.len() - self.limit / 2;
        let mut chosen: PageMap<()> = PageMap::default();
        let mut out = Vec::with_capacity(target);
        while out.len() < target {
            let Some(p) = self.order.pop_front() else {
                break;
            };
            if self.pages.contains(p) && chosen.insert(p, ()).is_none() {
                out.push(p);
            }
        }
        out
    }

    /// Page `pgno` was written to the file: give its buffer back, keep it as spilled.
    pub fn mark_spilled(&mut self, pgno: u64) {
        if let Some(slot) = self.pages.remove(pgno) {
            self.spilled.insert(pgno, ());
            self.slab.release(slot);
        }
    }

    /// Spilled page `pgno` is in memory again (to be changed), with the bytes `file`
    /// holds for it.
    pub fn unspill(&mut self, pgno: u64, file: &[u8]) {
        self.spilled.remove(&pgno);
        let slot = self.slab.alloc();
        self.slab.get_mut(slot).copy_from_slice(file);
        if let Some(undo) = self.levels.last_mut() {
            // Its image is what the file holds, the page as the level found it.
            if let std::collections::hash_map::Entry::Vacant(e) = undo.entry(pgno) {
                let image = self.slab.alloc();
                self.slab.copy(slot, image);
                e.insert(Some(Buf::Page(image)));
            }
        }
        if let Some(old) = self.pages.insert(pgno, slot) {
            self.slab.release(old);
        }
        self.order.push_back(pgno);
    }

    #[inline]
    pub fn get(&self, pgno: u64) -> Option<&[u8]> {
        match self.pages.get(pgno) {
            Some(slot) => Some(self.slab.get(slot)),
            None if self.runs.is_empty() => None,
            None => self.runs.get(&pgno).map(|b| &b[..]),
        }
    }

    #[inline]
    pub fn get_mut(&mut self, pgno: u64) -> Option<&mut [u8]> {
        if !self.levels.is_empty() {
            self.remember(pgno);
        }
        match self.pages.get(pgno) {
            Some(slot) => Some(self.slab.get_mut(slot)),
            None if self.runs.is_empty() => None,
            None => self.runs.get_mut(&pgno).map(|b| &mut b[..]),
        }
    }

    /// Before the first change to `pgno` in the innermost level: record what it is.
    fn remember(&mut self, pgno: u64) {
        let Some(undo) = self.levels.last_mut() else {
            return;
        };
        if undo.contains_key(&pgno) {
            return;
        }
        let image = match self.pages.get(pgno) {
            Some(slot) => {
                let copy = self.slab.alloc();
                self.slab.copy(slot, copy);
                Some(Buf::Page(copy))
            }
            // (A reserved overflow run's buffer spans the run: copied whole.)
            None => self.runs.get(&pgno).map(|run| Buf::Run(run.clone())),
        };
        undo.insert(pgno, image);
    }

    /// Open an undo level.
    pub fn begin_level(&mut self) {
        self.levels.push(Undo::default());
    }

    /// Open undo levels.
    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Drop whatever buffer `pgno` has now (page or run).
    fn forget(&mut self, pgno: u64) {
        if let Some(slot) = self.pages.remove(pgno) {
            self.slab.release(slot);
        }
        if !self.runs.is_empty() {
            self.runs.remove(&pgno);
        }
    }

    /// Give an image's buffer back.
    fn discard(&mut self, image: Buf) {
        if let Buf::Page(slot) = image {
            self.slab.release(slot);
        }
    }

    /// Undo every change since level `level` began and close it and the levels above.
    pub fn rollback_to(&mut self, level: usize) {
        while self.levels.len() > level {
            let Some(undo) = self.levels.pop() else {
                break;
            };
            for (pgno, image) in undo {
                self.forget(pgno);
                match image {
                    Some(Buf::Page(slot)) => {
                        self.pages.insert(pgno, slot);
                    }
                    Some(Buf::Run(run)) => {
                        self.runs.insert(pgno, run);
                    }
                    None => {}
                }
            }
        }
    }

    /// Close level `level` keeping its changes: its images join the level below (which
    /// keeps its own older image of a page both changed), or are dropped if it is the
    /// outermost.
    pub fn fold(&mut self, level: usize) {
        if level >= self.levels.len() {
            return;
        }
        let undo = self.levels.remove(level);
        let mut unused = Vec::new();
        match level.checked_sub(1) {
            Some(below) => {
                let below = &mut self.levels[below];
                for (pgno, image) in undo {
                    match below.entry(pgno) {
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(image);
                        }
                        std::collections::hash_map::Entry::Occupied(_) => unused.extend(image),
                    }
                }
            }
            None => unused.extend(undo.into_values().flatten()),
        }
        for image in unused {
            self.discard(image);
        }
    }

    /// Before page `pgno` (just handed out) gets a buffer: refused if it is ours already.
    fn check_new(&mut self, pgno: u64) -> Result<()> {
        if self.contains(pgno) {
            return Err(listed_twice(pgno));
        }
        if !self.levels.is_empty() {
            self.remember(pgno);
        }
        Ok(())
    }

    /// Make page `pgno` (just handed out) a buffer holding a copy of `src` (a page), and
    /// return it to be changed; refused if `pgno` is ours already.
    #[inline]
    pub fn insert_copy(&mut self, pgno: u64, src: &[u8]) -> Result<&mut [u8]> {
        self.check_new(pgno)?;
        let slot = self.slab.alloc();
        self.slab.get_mut(slot).copy_from_slice(src);
        self.add(pgno, slot);
        Ok(self.slab.get_mut(slot))
    }

    /// Make page `pgno` (just handed out) a zeroed buffer, as [`insert_copy`].
    ///
    /// [`insert_copy`]: DirtyPages::insert_copy
    pub fn insert_zeroed(&mut self, pgno: u64) -> Result<&mut [u8]> {
        self.check_new(pgno)?;
        let slot = self.slab.alloc();
        self.slab.get_mut(slot).fill(0);
        self.add(pgno, slot);
        Ok(self.slab.get_mut(slot))
    }

    /// Make `run` the buffer of the reserved overflow run starting at `pgno` (just
    /// handed out); refused if `pgno` is ours already.
    pub fn insert_run(&mut self, pgno: u64, run: Box<[u8]>) -> Result<()> {
        self.check_new(pgno)?;
        self.runs.insert(pgno, run);
        Ok(())
    }

    fn add(&mut self, pgno: u64, slot: Slot) {
        self.pages.insert(pgno, slot);
        self.order.push_back(pgno);
        if self.order.len() > 2 * self.pages.len() + 1024 {
            let pages = &self.pages;
            self.order.retain(|&p| pages.contains(p));
        }
    }

    /// Forget page `pgno`, keeping its buffer; false if it was not dirty. A spilled
    /// page is only forgotten outside levels (inside one the pager reads it back first,
    /// for its image).
    pub fn remove(&mut self, pgno: u64) -> bool {
        if self.levels.is_empty() && self.spilled.remove(&pgno).is_some() {
            return true;
        }
        let buf = match self.pages.remove(pgno) {
            Some(slot) => Buf::Page(slot),
            None => match self.runs.remove(&pgno) {
                Some(run) => Buf::Run(run),
                None => return false,
            },
        };
        match self.levels.last_mut() {
            // The buffer itself is the image of the page before the level changed it.
            Some(undo) if !undo.contains_key(&pgno) => {
                undo.insert(pgno, Some(buf));
            }
            _ => self.discard(buf),
        }
        true
    }

    /// The dirty page numbers (pages and reserved runs), ascending.
    pub fn sorted(&self) -> Vec<u64> {
        let mut pgnos: Vec<u64> = self.pages.keys().chain(self.runs.keys().copied()).collect();
        pgnos.sort_unstable();
        pgnos
    }

    /// Drop every dirty page; returns the slab, its buffers all free again and trimmed
    /// to the spare limit, for the next transaction.
    pub fn take_slab(&mut self) -> PageSlab {
        self.levels.clear();
        self.pages.clear();
        self.runs.clear();
        self.spilled.clear();
        self.order.clear();
        let mut slab = std::mem::replace(&mut self.slab, PageSlab::new(self.page_size));
        slab.reset(self.spare_limit);
        slab
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirty(page_size: usize, spare_limit: usize) -> DirtyPages {
        DirtyPages::new(page_size, spare_limit, PageSlab::new(page_size))
    }

    /// Page `p` dirty, every byte `fill`.
    fn put(d: &mut DirtyPages, p: u64, fill: u8) {
        d.insert_zeroed(p).unwrap().fill(fill);
    }

    #[test]
    fn a_page_inserted_twice_is_refused_as_listed_twice() {
        let mut d = dirty(64, 0);
        put(&mut d, 7, 1);
        let e = d.insert_zeroed(7).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupted { page: 7, kind: Corruption::FreeSpace, what } if what.contains("twice")),
            "{e:?}"
        );
        assert!(d.insert_copy(7, &[0; 64]).is_err());
        assert!(d.insert_run(7, vec![0; 128].into_boxed_slice()).is_err());
        assert!(d.contains(7) && d.len() == 1);
        assert_eq!(d.get(7).map(|b| b[0]), Some(1));
    }

    #[test]
    fn levels_roll_back_and_fold_every_change() {
        let mut d = dirty(8, 1 << 20);
        let page = |d: &DirtyPages, p: u64| d.get(p).map(|b| b[0]);
        for p in 0..3 {
            put(&mut d, p, p as u8);
        }
        d.insert_run(5, vec![5; 24].into_boxed_slice()).unwrap();
        d.begin_level();
        d.get_mut(0).unwrap()[0] = 10; // changed
        d.remove(1); // removed
        put(&mut d, 3, 30); // new
        d.get_mut(5).unwrap()[0] = 50; // a run changed
        d.begin_level();
        d.get_mut(0).unwrap()[0] = 20;
        d.get_mut(2).unwrap()[0] = 22;
        d.remove(5);
        d.rollback_to(1);
        assert_eq!(
            (page(&d, 0), page(&d, 2), page(&d, 5)),
            (Some(10), Some(2), Some(50))
        );
        d.begin_level();
        d.get_mut(2).unwrap()[0] = 42;
        d.fold(1); // kept, its image joins level 0
        assert_eq!(page(&d, 2), Some(42));
        d.rollback_to(0);
        assert_eq!(d.sorted(), [0, 1, 2, 5]);
        assert_eq!(
            (page(&d, 0), page(&d, 1), page(&d, 2), page(&d, 5)),
            (Some(0), Some(1), Some(2), Some(5))
        );
        assert_eq!(d.get(5).map(<[u8]>::len), Some(24));
        assert_eq!(d.levels(), 0);
    }

    #[test]
    fn the_oldest_pages_spill_and_come_back_with_their_images() {
        let mut d = dirty(8, 1 << 20);
        d.set_limit(0); // the floor: 64 pages
        for p in 0..100 {
            put(&mut d, p, p as u8);
        }
        // Down to half the limit, oldest first.
        let spill = d.spill_candidates();
        assert_eq!(spill, (0..68).collect::<Vec<u64>>());
        for &p in &spill {
            d.mark_spilled(p);
        }
        assert_eq!((d.len(), d.in_memory(), d.spilled()), (100, 32, 68));
        assert!(d.contains(5) && d.is_spilled(5) && d.get(5).is_none());
        // A spilled page cannot be handed out again while it is ours.
        assert!(d.insert_zeroed(5).is_err());
        // Read back inside a level, changed, rolled back: the image is what was read.
        d.begin_level();
        assert!(
            d.spill_candidates().is_empty(),
            "no spill while a level is open"
        );
        d.unspill(5, &[5; 8]);
        d.get_mut(5).unwrap()[0] = 99;
        d.rollback_to(0);
        assert_eq!(d.get(5).map(|b| b[0]), Some(5));
        assert!(!d.is_spilled(5));
        // Outside levels a spilled page is simply forgotten.
        assert!(d.remove(6) && !d.contains(6));
        assert_eq!(d.len(), 99);
    }

    #[test]
    fn buffers_are_reused_and_kept_up_to_the_limit() {
        let mut d = dirty(4096, 16 * 4096);
        for p in 0..40 {
            put(&mut d, p, p as u8);
        }
        assert_eq!(d.sorted(), (0..40).collect::<Vec<u64>>());
        assert!(d.remove(2));
        assert!(!d.remove(2));
        // The removed page's buffer is the next one handed out.
        let capacity = d.slab.capacity();
        put(&mut d, 100, 100);
        assert_eq!(d.slab.capacity(), capacity);
        assert_eq!(d.get(3).map(|b| b[0]), Some(3));
        assert_eq!(d.get(100).map(|b| b[4095]), Some(100));
        let slab = d.take_slab();
        assert_eq!(slab.capacity(), 16);
        // A new transaction takes the kept buffers first.
        let mut d = DirtyPages::new(4096, 16 * 4096, slab);
        for p in 0..16 {
            put(&mut d, p, 1);
        }
        assert_eq!(d.slab.capacity(), 16);
        assert!(d.get(15).is_some_and(|b| b.iter().all(|&x| x == 1)));
    }
}
