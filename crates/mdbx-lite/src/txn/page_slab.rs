//! The buffers of a write transaction's dirty pages, carved from a few large chunks
//! instead of one heap allocation per page.
//!
//! A large transaction changes pages in random order, so its page buffers are touched
//! at random: with one allocation per page nearly every touch is a TLB miss as well as
//! a cache miss. Chunks of 4 MiB and more are 2 MiB-aligned and offered to the kernel
//! for transparent huge pages (`os::map::advise_huge_pages`); chunks start small
//! (64 KiB) and double up to 8 MiB, so a small transaction stays small.
//!
//! A buffer is named by a [`Slot`]. Invariant: a slot is either free (on the free list
//! or past the bump mark) or held by exactly one owner (`DirtyPages`
//! keeps it under one page number or one undo image), so a slot's bytes belong to one
//! page at a time. The slab lives on between transactions (`WriterState::spare_pages`):
//! reused buffers cost neither an allocation nor the first-touch page faults of fresh
//! memory.

use crate::os::map::advise_huge_pages;

/// The first chunk's size; each next chunk doubles it, up to `MAX_CHUNK`.
const FIRST_CHUNK: usize = 64 << 10;
const MAX_CHUNK: usize = 8 << 20;
/// Chunks from this size on are offered huge pages: their memory is allocated 2 MiB
/// larger and the chunk starts at the first 2 MiB boundary in it, so every byte of it can
/// be a huge page (the unused edges are never touched, so they take no memory).
const HUGE_FROM: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// One chunk: `pages` buffers from byte `start` of `mem`.
struct Chunk {
    mem: Box<[u8]>,
    start: usize,
    pages: usize,
}

/// One page buffer of a [`PageSlab`]: chunk and page index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    chunk: u32,
    index: u32,
}

impl Slot {
    /// The slot as one number (for compact tables of slots).
    #[inline]
    pub fn to_bits(self) -> u64 {
        (u64::from(self.chunk) << 32) | u64::from(self.index)
    }

    /// The slot [`Slot::to_bits`] gave.
    #[inline]
    pub fn from_bits(bits: u64) -> Slot {
        Slot {
            chunk: (bits >> 32) as u32,
            index: bits as u32,
        }
    }
}

/// Page-sized buffers in chunks, handed out and taken back by slot.
pub(crate) struct PageSlab {
    page_size: usize,
    chunks: Vec<Chunk>,
    /// Slots given back, to hand out first.
    free: Vec<Slot>,
    /// The bump mark: pages before it (chunks before `bump_chunk`, and `bump_used`
    /// pages of that one) were handed out since the last reset.
    bump_chunk: usize,
    bump_used: usize,
    /// Pages the owner holds at most at once (its dirty limit): no chunk grows the slab
    /// much past it, so a transaction under a small limit stays near it.
    limit_pages: usize,
}

impl PageSlab {
    pub fn new(page_size: usize) -> PageSlab {
        PageSlab {
            page_size,
            chunks: Vec::new(),
            free: Vec::new(),
            bump_chunk: 0,
            bump_used: 0,
            limit_pages: usize::MAX,
        }
    }

    /// Size new chunks for an owner that holds at most `pages` buffers at once.
    pub fn set_limit(&mut self, pages: usize) {
        self.limit_pages = pages;
    }

    /// The page size this slab's buffers have.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Pages the slab holds memory for, in use or free.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.pages).sum()
    }

    /// A buffer (contents unspecified: what a page held before, or zeros).
    #[inline]
    pub fn alloc(&mut self) -> Slot {
        if let Some(s) = self.free.pop() {
            return s;
        }
        while self
            .chunks
            .get(self.bump_chunk)
            .is_some_and(|c| self.bump_used == c.pages)
        {
            self.bump_chunk += 1;
            self.bump_used = 0;
        }
        if self.bump_chunk == self.chunks.len() {
            self.grow();
        }
        let slot = Slot {
            chunk: self.bump_chunk as u32,
            index: self.bump_used as u32,
        };
        self.bump_used += 1;
        slot
    }

    /// Add a chunk twice the size of the last one (within the bounds above); zeroed
    /// memory from the allocator, which the kernel backs lazily.
    #[cold]
    fn grow(&mut self) {
        let held: usize = self.chunks.iter().map(|c| c.pages).sum();
        let room = self
            .limit_pages
            .saturating_sub(held)
            .saturating_mul(self.page_size);
        let want = self
            .chunks
            .last()
            .map_or(FIRST_CHUNK, |c| {
                (c.pages * self.page_size * 2).min(MAX_CHUNK)
            })
            .min(room.max(FIRST_CHUNK));
        let pages = (want / self.page_size).max(1);
        let len = pages * self.page_size;
        let chunk = if len >= HUGE_FROM {
            let mut mem = vec![0u8; len + HUGE_PAGE].into_boxed_slice();
            let start = (mem.as_ptr() as usize).next_multiple_of(HUGE_PAGE) - mem.as_ptr() as usize;
            advise_huge_pages(&mut mem[start..start + len]);
            Chunk { mem, start, pages }
        } else {
            let mem = vec![0u8; len].into_boxed_slice();
            Chunk {
                mem,
                start: 0,
                pages,
            }
        };
        self.chunks.push(chunk);
    }

    /// Take back a buffer its owner no longer uses.
    #[inline]
    pub fn release(&mut self, slot: Slot) {
        self.free.push(slot);
    }

    /// Where `slot`'s bytes lie in its chunk's memory.
    #[inline]
    fn range(&self, slot: Slot) -> std::ops::Range<usize> {
        let at = self.chunks[slot.chunk as usize].start + slot.index as usize * self.page_size;
        at..at + self.page_size
    }

    #[inline]
    pub fn get(&self, slot: Slot) -> &[u8] {
        &self.chunks[slot.chunk as usize].mem[self.range(slot)]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: Slot) -> &mut [u8] {
        let r = self.range(slot);
        &mut self.chunks[slot.chunk as usize].mem[r]
    }

    /// Copy the bytes of buffer `from` into buffer `to` (two distinct slots).
    pub fn copy(&mut self, from: Slot, to: Slot) {
        let (rf, rt) = (self.range(from), self.range(to));
        let (cf, ct) = (from.chunk as usize, to.chunk as usize);
        if cf == ct {
            self.chunks[cf].mem.copy_within(rf, rt.start);
            return;
        }
        let (lo, hi) = self.chunks.split_at_mut(cf.max(ct));
        let (src, dst) = if cf < ct {
            (&lo[cf].mem[rf], &mut hi[0].mem[rt])
        } else {
            (&hi[0].mem[rf], &mut lo[ct].mem[rt])
        };
        dst.copy_from_slice(src);
    }

    /// Take every buffer back (no slot is in use any more) and keep chunks of at most
    /// `keep_bytes` in all, the first ones, for the next transaction.
    pub fn reset(&mut self, keep_bytes: usize) {
        let mut kept = 0;
        let mut n = 0;
        while n < self.chunks.len() && kept + self.chunks[n].pages * self.page_size <= keep_bytes {
            kept += self.chunks[n].pages * self.page_size;
            n += 1;
        }
        self.chunks.truncate(n);
        // Every kept page is free again: the bump mark goes back to the start.
        self.free.clear();
        self.bump_chunk = 0;
        self.bump_used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_distinct_pages_that_keep_their_bytes() {
        let mut s = PageSlab::new(4096);
        let slots: Vec<Slot> = (0..100).map(|_| s.alloc()).collect();
        for (i, &slot) in slots.iter().enumerate() {
            s.get_mut(slot).fill(i as u8);
        }
        for (i, &slot) in slots.iter().enumerate() {
            assert!(s.get(slot).iter().all(|&b| b == i as u8), "slot {i}");
        }
        // Chunks double: 16 + 32 + 64 pages hold 100.
        assert_eq!(s.capacity(), 112);
        // Copies within a chunk and across chunks, both ways.
        s.copy(slots[0], slots[1]);
        s.copy(slots[99], slots[2]);
        s.copy(slots[3], slots[98]);
        assert!(s.get(slots[1]).iter().all(|&b| b == 0));
        assert!(s.get(slots[2]).iter().all(|&b| b == 99));
        assert!(s.get(slots[98]).iter().all(|&b| b == 3));
        // A released slot is handed out again before new memory.
        s.release(slots[50]);
        assert_eq!(s.alloc(), slots[50]);
    }

    #[test]
    fn large_chunks_start_on_a_huge_page_boundary_and_hold_whole_pages() {
        let mut s = PageSlab::new(4096);
        // 16 + 32 + ... + 1024 pages, then chunks of 2048 (8 MiB, the aligned kind).
        let slots: Vec<Slot> = (0..6000).map(|_| s.alloc()).collect();
        let big = s
            .chunks
            .iter()
            .find(|c| c.pages * 4096 >= HUGE_FROM)
            .unwrap();
        assert_eq!((big.mem.as_ptr() as usize + big.start) % HUGE_PAGE, 0);
        assert!(big.start + big.pages * 4096 <= big.mem.len());
        for (i, &slot) in slots.iter().enumerate() {
            s.get_mut(slot)[..8].copy_from_slice(&(i as u64).to_le_bytes());
        }
        for (i, &slot) in slots.iter().enumerate() {
            assert_eq!(s.get(slot)[..8], (i as u64).to_le_bytes(), "slot {i}");
        }
    }

    #[test]
    fn a_reset_keeps_the_first_chunks_up_to_the_limit_and_frees_every_page() {
        let mut s = PageSlab::new(4096);
        for _ in 0..100 {
            s.alloc();
        }
        s.reset(48 * 4096);
        assert_eq!(s.capacity(), 48);
        // All 48 pages come back without a new chunk, distinct.
        let mut seen: Vec<Slot> = (0..48).map(|_| s.alloc()).collect();
        assert_eq!(s.capacity(), 48);
        seen.sort_by_key(|x| (x.chunk, x.index));
        seen.dedup();
        assert_eq!(seen.len(), 48);
        s.reset(0);
        assert_eq!(s.capacity(), 0);
        let _ = s.alloc();
        assert_eq!(s.capacity(), 16);
    }
}
