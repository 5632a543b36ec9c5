//! Page number → buffer slot, for the dirty pages: the lookup every step of a write's
//! descent makes, often several times per page.
//!
//! A hash map keyed by page number spreads a large transaction's entries over a table
//! of 16 bytes per page in random order, so in a bulk load nearly every lookup misses
//! the CPU caches twice (control bytes, then the entry). Here page numbers are grouped
//! by 64 consecutive ones: a small map finds a group, and the group holds the slots of
//! its 64 pages side by side. A group covers what neighbouring page numbers have in
//! common, so the map stays small (one entry per 64 pages of a dense transaction)
//! and the groups' arrays stay compact: both fit the CPU caches far better than one
//! entry per page. A sparse transaction pays at most one group (512 bytes) per page.
//!
//! Invariant: `len` is the number of present entries; a group, once created, stays in
//! `groups` (possibly empty) until `clear`.

use crate::txn::dirty::PageMap;
use crate::txn::page_slab::Slot;

/// Page numbers per group.
const GROUP_BITS: u32 = 6;
const GROUP: usize = 1 << GROUP_BITS;

/// Groups whose memory `clear` keeps: 1 MiB, enough to index 131,072 pages (512 MiB of
/// 4 KiB pages) numbered densely.
const KEPT_GROUPS: usize = 2048;

/// A slot as stored: 0 for none, else the packed slot plus one.
type Cell = u64;

#[inline]
fn pack(slot: Slot) -> Cell {
    slot.to_bits() + 1
}

#[inline]
fn unpack(cell: Cell) -> Option<Slot> {
    cell.checked_sub(1).map(Slot::from_bits)
}

/// Which page numbers have a buffer, and which.
#[derive(Default)]
pub(crate) struct PageIndex {
    /// Group number (`pgno >> GROUP_BITS`) → its position in `cells`.
    groups: PageMap<u32>,
    /// The groups' slots, `GROUP` per group; kept allocated between transactions.
    cells: Vec<[Cell; GROUP]>,
    /// Groups in use (`cells[..used]`).
    used: usize,
    len: usize,
}

impl PageIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn cell(&self, pgno: u64) -> Option<&Cell> {
        let g = *self.groups.get(&(pgno >> GROUP_BITS))?;
        Some(&self.cells[g as usize][pgno as usize % GROUP])
    }

    #[inline]
    pub fn get(&self, pgno: u64) -> Option<Slot> {
        self.cell(pgno).and_then(|&c| unpack(c))
    }

    #[inline]
    pub fn contains(&self, pgno: u64) -> bool {
        self.cell(pgno).is_some_and(|&c| c != 0)
    }

    /// Give `pgno` the buffer `slot`; returns the one it had.
    pub fn insert(&mut self, pgno: u64, slot: Slot) -> Option<Slot> {
        let group = pgno >> GROUP_BITS;
        let g = match self.groups.get(&group) {
            Some(&g) => g as usize,
            None => {
                let g = self.used;
                if g == self.cells.len() {
                    self.cells.push([0; GROUP]);
                } else {
                    self.cells[g] = [0; GROUP];
                }
                self.used += 1;
                self.groups.insert(group, g as u32);
                g
            }
        };
        let old = std::mem::replace(&mut self.cells[g][pgno as usize % GROUP], pack(slot));
        let old = unpack(old);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Take `pgno`'s buffer away; returns it.
    pub fn remove(&mut self, pgno: u64) -> Option<Slot> {
        let g = *self.groups.get(&(pgno >> GROUP_BITS))?;
        let old = unpack(std::mem::take(
            &mut self.cells[g as usize][pgno as usize % GROUP],
        ));
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// The page numbers with a buffer, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.groups.iter().flat_map(move |(&group, &g)| {
            let cells = &self.cells[g as usize];
            (0..GROUP)
                .filter(move |&i| cells[i] != 0)
                .map(move |i| (group << GROUP_BITS) | i as u64)
        })
    }

    /// Forget every entry, keeping the groups' memory for the next transaction (up to
    /// [`KEPT_GROUPS`], so one huge transaction does not pin its index for good).
    pub fn clear(&mut self) {
        if self.cells.len() > KEPT_GROUPS {
            self.cells.truncate(KEPT_GROUPS);
            self.cells.shrink_to_fit();
        }
        self.groups.clear();
        self.used = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(i: u32) -> Slot {
        Slot::from_bits(u64::from(i / 7) << 32 | u64::from(i % 7))
    }

    #[test]
    fn entries_come_and_go_like_a_map() {
        let mut m = std::collections::BTreeMap::new();
        let mut ix = PageIndex::default();
        // Dense runs, sparse pages far apart, page 0, and the largest page numbers.
        let pgnos: Vec<u64> = (0..300)
            .chain((0..50).map(|i| i * 100_003))
            .chain([u64::MAX, u64::MAX - 64, 63, 64, 65])
            .collect();
        for (i, &p) in pgnos.iter().enumerate() {
            let s = slot(i as u32);
            assert_eq!(ix.insert(p, s), m.insert(p, s), "insert {p}");
        }
        for (i, &p) in pgnos.iter().enumerate().step_by(3) {
            assert_eq!(ix.remove(p), m.remove(&p), "remove {p}");
            if i % 2 == 0 {
                let s = slot(1000 + i as u32);
                assert_eq!(ix.insert(p, s), m.insert(p, s));
            }
        }
        assert_eq!(ix.remove(12_345_678), None);
        assert_eq!(ix.len(), m.len());
        for p in pgnos.iter().copied().chain([1, 299, 300, 301, 100_004]) {
            assert_eq!(ix.get(p), m.get(&p).copied(), "get {p}");
            assert_eq!(ix.contains(p), m.contains_key(&p));
        }
        let mut keys: Vec<u64> = ix.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, m.keys().copied().collect::<Vec<_>>());
        ix.clear();
        assert_eq!((ix.len(), ix.keys().count(), ix.get(5)), (0, 0, None));
        // Memory kept, contents not: a reused group starts empty.
        ix.insert(1, slot(3));
        assert_eq!((ix.get(1), ix.get(2), ix.len()), (Some(slot(3)), None, 1));
    }
}
