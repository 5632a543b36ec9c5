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

/// What the pages a level changed were when it began: an image, or `None` for a page
/// that was not dirty then.
type Undo = PageMap<Option<Box<[u8]>>>;

/// Pages this transaction wrote, held in memory until commit. A page buffer is one page,
/// except a reserved overflow run's (`Pager::reserve_overflow_at`), which spans the run
/// and is kept under its first page.
pub(crate) struct DirtyPages {
    pages: PageMap<Box<[u8]>>,
    /// Pages written to the file early, their buffers dropped.
    spilled: PageMap<()>,
    /// Page numbers in the order they became dirty (with stale entries), oldest first:
    /// the order pages are spilled in.
    order: VecDeque<u64>,
    /// Most pages to hold in memory before spilling.
    limit: usize,
    /// Open undo levels, innermost last.
    levels: Vec<Undo>,
    /// Buffers to reuse, most `spare_limit` bytes of them. Reusing buffers spares a large
    /// transaction the allocation and first-touch page faults of fresh heap memory
    /// (glibc returns a freed heap top to the kernel).
    spares: Vec<Box<[u8]>>,
    spare_limit: usize,
    page_size: usize,
}

impl DirtyPages {
    /// No dirty pages yet; `spares` are buffers kept from earlier transactions.
    pub fn new(page_size: usize, spare_limit: usize, spares: Vec<Box<[u8]>>) -> DirtyPages {
        DirtyPages {
            pages: PageMap::default(),
            spilled: PageMap::default(),
            order: VecDeque::new(),
            limit: usize::MAX,
            levels: Vec::new(),
            spares,
            spare_limit,
            page_size,
        }
    }

    /// Hold at most `bytes` of page buffers before spilling (at least 64 pages).
    pub fn set_limit(&mut self, bytes: usize) {
        self.limit = (bytes / self.page_size).max(64);
    }

    /// Pages this transaction owns: in memory and spilled.
    pub fn len(&self) -> usize {
        self.pages.len() + self.spilled.len()
    }

    /// Pages held in memory.
    pub fn in_memory(&self) -> usize {
        self.pages.len()
    }

    /// Pages written early.
    pub fn spilled(&self) -> usize {
        self.spilled.len()
    }

    /// Whether this transaction owns `pgno` (in memory or spilled).
    #[inline]
    pub fn contains(&self, pgno: u64) -> bool {
        self.pages.contains_key(&pgno) || self.is_spilled(pgno)
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
            let page_sized = self
                .pages
                .get(&p)
                .is_some_and(|b| b.len() == self.page_size);
            if page_sized && chosen.insert(p, ()).is_none() {
                out.push(p);
            }
        }
        out
    }

    /// Page `pgno` was written to the file: drop its buffer, keep it as spilled.
    pub fn mark_spilled(&mut self, pgno: u64) {
        if let Some(buf) = self.pages.remove(&pgno) {
            self.spilled.insert(pgno, ());
            self.recycle(buf);
        }
    }

    /// Spilled page `pgno`, read back as `buf`, is in memory again (to be changed).
    pub fn unspill(&mut self, pgno: u64, buf: Box<[u8]>) {
        self.spilled.remove(&pgno);
        if let Some(undo) = self.levels.last_mut() {
            // Its image is what the file holds, the page as the level found it.
            undo.entry(pgno).or_insert_with(|| Some(buf.clone()));
        }
        self.pages.insert(pgno, buf);
        self.order.push_back(pgno);
    }

    #[inline]
    pub fn get(&self, pgno: u64) -> Option<&[u8]> {
        self.pages.get(&pgno).map(|b| &b[..])
    }

    #[inline]
    pub fn get_mut(&mut self, pgno: u64) -> Option<&mut [u8]> {
        if !self.levels.is_empty() {
            self.remember(pgno);
        }
        self.pages.get_mut(&pgno).map(|b| &mut b[..])
    }

    /// Before the first change to `pgno` in the innermost level: record what it is.
    fn remember(&mut self, pgno: u64) {
        let Some(undo) = self.levels.last_mut() else {
            return;
        };
        if undo.contains_key(&pgno) {
            return;
        }
        let image = self.pages.get(&pgno).map(|page| {
            let mut copy = match self.spares.pop() {
                // (A reserved overflow run's buffer spans the run: copied whole.)
                Some(spare) if page.len() == spare.len() => spare,
                _ => vec![0u8; page.len()].into_boxed_slice(),
            };
            copy.copy_from_slice(page);
            copy
        });
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

    /// Undo every change since level `level` began and close it and the levels above.
    pub fn rollback_to(&mut self, level: usize) {
        while self.levels.len() > level {
            let Some(undo) = self.levels.pop() else {
                break;
            };
            for (pgno, image) in undo {
                let now = match image {
                    Some(buf) => self.pages.insert(pgno, buf),
                    None => self.pages.remove(&pgno),
                };
                if let Some(buf) = now {
                    self.recycle(buf);
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
        for buf in unused {
            self.recycle(buf);
        }
    }

    /// A page-sized buffer (contents unspecified), from the spares when there are any.
    #[inline]
    pub fn buffer(&mut self) -> Box<[u8]> {
        self.spares
            .pop()
            .unwrap_or_else(|| vec![0u8; self.page_size].into_boxed_slice())
    }

    /// Make `buf` the page `pgno`, just handed out; refused if `pgno` is dirty already.
    #[inline]
    pub fn insert(&mut self, pgno: u64, buf: Box<[u8]>) -> Result<()> {
        if !self.levels.is_empty() {
            if self.pages.contains_key(&pgno) {
                return Err(listed_twice(pgno));
            }
            self.remember(pgno);
        }
        if self.is_spilled(pgno) {
            return Err(listed_twice(pgno));
        }
        match self.pages.insert(pgno, buf) {
            None => {
                self.order.push_back(pgno);
                if self.order.len() > 2 * self.pages.len() + 1024 {
                    let pages = &self.pages;
                    self.order.retain(|p| pages.contains_key(p));
                }
                Ok(())
            }
            Some(_) => Err(listed_twice(pgno)),
        }
    }

    /// Forget page `pgno`, keeping its buffer; false if it was not dirty. A spilled
    /// page is only forgotten outside levels (inside one the pager reads it back first,
    /// for its image).
    pub fn remove(&mut self, pgno: u64) -> bool {
        if self.levels.is_empty() && self.spilled.remove(&pgno).is_some() {
            return true;
        }
        let Some(buf) = self.pages.remove(&pgno) else {
            return false;
        };
        match self.levels.last_mut() {
            // The buffer itself is the image of the page before the level changed it.
            Some(undo) if !undo.contains_key(&pgno) => {
                undo.insert(pgno, Some(buf));
            }
            _ => self.recycle(buf),
        }
        true
    }

    /// The dirty page numbers, ascending.
    pub fn sorted(&self) -> Vec<u64> {
        let mut pgnos: Vec<u64> = self.pages.keys().copied().collect();
        pgnos.sort_unstable();
        pgnos
    }

    /// Keep `buf` for a later `buffer`, up to the spare limit.
    fn recycle(&mut self, buf: Box<[u8]>) {
        if buf.len() == self.page_size
            && (self.spares.len() + 1) * self.page_size <= self.spare_limit
        {
            self.spares.push(buf);
        }
    }

    /// Drop every dirty page, keeping buffers up to the spare limit; returns the spares.
    pub fn take_spares(&mut self) -> Vec<Box<[u8]>> {
        while !self.levels.is_empty() {
            self.fold(0);
        }
        let pages = std::mem::take(&mut self.pages);
        for (_, buf) in pages {
            self.recycle(buf);
        }
        self.spilled.clear();
        self.order.clear();
        std::mem::take(&mut self.spares)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_inserted_twice_is_refused_as_listed_twice() {
        let mut d = DirtyPages::new(64, 0, Vec::new());
        let b = d.buffer();
        d.insert(7, b).unwrap();
        let b = d.buffer();
        let e = d.insert(7, b).unwrap_err();
        assert!(
            matches!(&e, Error::Corrupted { page: 7, kind: Corruption::FreeSpace, what } if what.contains("twice")),
            "{e:?}"
        );
        assert!(d.contains(7) && d.len() == 1);
    }

    #[test]
    fn levels_roll_back_and_fold_every_change() {
        let mut d = DirtyPages::new(8, 1 << 20, Vec::new());
        let page = |d: &DirtyPages, p: u64| d.get(p).map(|b| b[0]);
        for p in 0..3 {
            let mut b = d.buffer();
            b.fill(p as u8);
            d.insert(p, b).unwrap();
        }
        d.begin_level();
        d.get_mut(0).unwrap()[0] = 10; // changed
        d.remove(1); // removed
        let mut b = d.buffer();
        b.fill(30);
        d.insert(3, b).unwrap(); // new
        d.begin_level();
        d.get_mut(0).unwrap()[0] = 20;
        d.get_mut(2).unwrap()[0] = 22;
        d.rollback_to(1);
        assert_eq!((page(&d, 0), page(&d, 2)), (Some(10), Some(2)));
        d.begin_level();
        d.get_mut(2).unwrap()[0] = 42;
        d.fold(1); // kept, its image joins level 0
        assert_eq!(page(&d, 2), Some(42));
        d.rollback_to(0);
        assert_eq!(d.sorted(), [0, 1, 2]);
        assert_eq!(
            (page(&d, 0), page(&d, 1), page(&d, 2)),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(d.levels(), 0);
    }

    #[test]
    fn the_oldest_pages_spill_and_come_back_with_their_images() {
        let mut d = DirtyPages::new(8, 1 << 20, Vec::new());
        d.set_limit(0); // the floor: 64 pages
        for p in 0..100 {
            let mut b = d.buffer();
            b.fill(p as u8);
            d.insert(p, b).unwrap();
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
        let b = d.buffer();
        assert!(d.insert(5, b).is_err());
        // Read back inside a level, changed, rolled back: the image is what was read.
        d.begin_level();
        assert!(
            d.spill_candidates().is_empty(),
            "no spill while a level is open"
        );
        let mut b = d.buffer();
        b.fill(5);
        d.unspill(5, b);
        d.get_mut(5).unwrap()[0] = 99;
        d.rollback_to(0);
        assert_eq!(d.get(5).map(|b| b[0]), Some(5));
        assert!(!d.is_spilled(5));
        // Outside levels a spilled page is simply forgotten.
        assert!(d.remove(6) && !d.contains(6));
        assert_eq!(d.len(), 99);
    }

    #[test]
    fn buffers_are_recycled_up_to_the_limit() {
        let mut d = DirtyPages::new(64, 3 * 64, Vec::new());
        for p in 0..5 {
            let mut b = d.buffer();
            b[0] = p as u8;
            d.insert(p, b).unwrap();
        }
        assert_eq!(d.sorted(), [0, 1, 2, 3, 4]);
        assert!(d.remove(2));
        assert!(!d.remove(2));
        assert_eq!(d.get(3).map(|b| b[0]), Some(3));
        let spares = d.take_spares();
        assert_eq!(spares.len(), 3);
        assert!(spares.iter().all(|b| b.len() == 64));
        // A new transaction takes the spares first.
        let mut d = DirtyPages::new(64, 3 * 64, spares);
        let _ = d.buffer();
        assert_eq!(d.spares.len(), 2);
    }
}
