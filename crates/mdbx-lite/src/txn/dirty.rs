//! The write transaction's dirty pages: a page-sized heap buffer per page number it
//! wrote, and the spare buffers kept between transactions.
//!
//! Invariant: a page number maps to at most one buffer. A page inserted twice was
//! handed out twice by the allocator, which a valid free tree never causes, so the
//! second insert is refused as corruption ("listed free twice").

use std::collections::HashMap;
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

/// Pages this transaction wrote, held in memory until commit.
pub(crate) struct DirtyPages {
    pages: PageMap<Box<[u8]>>,
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
            spares,
            spare_limit,
            page_size,
        }
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    #[inline]
    pub fn contains(&self, pgno: u64) -> bool {
        self.pages.contains_key(&pgno)
    }

    #[inline]
    pub fn get(&self, pgno: u64) -> Option<&[u8]> {
        self.pages.get(&pgno).map(|b| &b[..])
    }

    #[inline]
    pub fn get_mut(&mut self, pgno: u64) -> Option<&mut [u8]> {
        self.pages.get_mut(&pgno).map(|b| &mut b[..])
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
        match self.pages.insert(pgno, buf) {
            None => Ok(()),
            Some(_) => Err(listed_twice(pgno)),
        }
    }

    /// Forget page `pgno`, keeping its buffer; false if it was not dirty.
    pub fn remove(&mut self, pgno: u64) -> bool {
        match self.pages.remove(&pgno) {
            Some(buf) => {
                self.recycle(buf);
                true
            }
            None => false,
        }
    }

    /// The dirty page numbers, ascending.
    pub fn sorted(&self) -> Vec<u64> {
        let mut pgnos: Vec<u64> = self.pages.keys().copied().collect();
        pgnos.sort_unstable();
        pgnos
    }

    /// Keep `buf` for a later `buffer`, up to the spare limit.
    fn recycle(&mut self, buf: Box<[u8]>) {
        if (self.spares.len() + 1) * self.page_size <= self.spare_limit {
            self.spares.push(buf);
        }
    }

    /// Drop every dirty page, keeping buffers up to the spare limit; returns the spares.
    pub fn take_spares(&mut self) -> Vec<Box<[u8]>> {
        let pages = std::mem::take(&mut self.pages);
        for (_, buf) in pages {
            self.recycle(buf);
        }
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
