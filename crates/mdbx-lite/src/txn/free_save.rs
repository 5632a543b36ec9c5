//! Saving free space in the free tree at commit: the pages this transaction freed, the
//! reclaimed pages it did not use, and the held pages of the young groups it consumed.
//!
//! The free tree is itself a B+tree written through the tree code, so saving it
//! allocates pages (copies of free-tree nodes) and frees others. It writes through
//! [`Saving`], a page interface that never refills the pool from the free tree (the
//! groups being rewritten) and records every page it frees instead of reusing it, so
//! the save moves towards a fixpoint: the pool only shrinks and the freed list only
//! grows. Chunks are only ever added or rewritten, never deleted, so the loop ends.

use crate::error::{Error, Result};
use crate::format::free::{encode_free_entries, free_key, FREE_ENTRY_LEN, FREE_KEY_LEN};
use crate::format::meta::{next_txnid, TableRecord};
use crate::tree::btree::{self, PutMode};
use crate::txn::pager::Pager;
use crate::txn::reclaim::Reclaimer;
use crate::txn::write_pages::PagePolicy;

/// Value chunks of the free tree hold at most this many entries, small enough to stay
/// inline in a leaf so that saving the free tree never needs overflow runs.
fn free_chunk_capacity(page_size: usize) -> usize {
    btree::max_inline_value(page_size, FREE_KEY_LEN) / FREE_ENTRY_LEN
}

/// Most rounds of the save loop; a valid save converges in two or three.
const MAX_ROUNDS: usize = 1000;

/// Record the transaction's free space in the free tree (`pager.free` afterwards), then
/// check what it freed against what is listed free (`Allocator::check_freed`).
pub(crate) fn save_free_tree(pager: &mut Pager, reclaim: &mut Reclaimer) -> Result<()> {
    // No valid meta can carry an id past the maximum (see `meta::MAX_TXNID`).
    next_txnid(pager.base.txnid, pager.base.slot)?;
    let cap = free_chunk_capacity(pager.page_size).max(1);
    // Saving allocates pages but never reclaims, so take a reserve from reusable free
    // space first; otherwise a pool that ran dry grows the file while free pages are
    // reusable.
    let held_chunks: usize = reclaim
        .held()
        .iter()
        .map(|(_, h)| h.len().div_ceil(cap))
        .sum();
    loop {
        let (pooled, freed) = (pager.space.pool().len(), pager.space.freed().len());
        if pooled >= 16 + held_chunks + (freed + pooled).div_ceil(cap) || !reclaim.load(pager)? {
            break;
        }
    }
    let consumed = reclaim.consumed().to_vec();
    let young_held = reclaim.take_held();
    let mut saving = Saving { pager };
    let mut free = saving.pager.free;
    for &g in &consumed {
        let mut chunk = 0u32;
        while btree::delete(&mut saving, &mut free, &free_key(g, chunk))? {
            chunk += 1;
        }
    }
    // Pages left in the pool are reusable now: they go back under the oldest group
    // consumed (whose keys were all just deleted). With nothing consumed, the pool
    // holds only pages this transaction allocated and freed; they join its own group.
    let leftover_group = consumed.iter().copied().min();
    // Held pages of young groups go back under their groups (which were just deleted);
    // those of the leftover group join the leftovers below.
    let mut left_held: &[(u64, u64)] = &[];
    for (g, held) in &young_held {
        if Some(*g) == leftover_group {
            left_held = held;
        } else {
            write_chunks(&mut saving, &mut free, *g, held, cap, 0)?;
        }
    }
    let txnid = saving.pager.txnid;
    let (mut written_own, mut written_left) = (0usize, 0usize);
    for _round in 0..MAX_ROUNDS {
        let space = &saving.pager.space;
        let (n_freed, n_pool) = (space.freed().len(), space.pool().len());
        let mut own = space.freed().to_vec();
        // A page left in the pool is seen by no snapshot: recorded with its group as
        // birth, it counts as visible to none.
        let left_as = leftover_group.unwrap_or(txnid);
        let mut left: Vec<(u64, u64)> = space.pool().iter().map(|&p| (p, left_as)).collect();
        if !left_held.is_empty() {
            // A group's entries are sorted by page (format.md).
            left.extend_from_slice(left_held);
            left.sort_unstable();
        }
        if leftover_group.is_none() {
            own.append(&mut left);
        }
        own.sort_unstable();
        written_own = write_chunks(&mut saving, &mut free, txnid, &own, cap, written_own)?;
        if let Some(g) = leftover_group {
            written_left = write_chunks(&mut saving, &mut free, g, &left, cap, written_left)?;
        }
        // `freed` only grows and the pool only shrinks here, so equal lengths mean
        // equal contents. Compare each on its own: a pool page taken for the free tree
        // while a committed free-tree page joins `freed` keeps the sum unchanged
        // although the lists just written are stale (the taken page would be listed
        // free and the newly freed one leaked).
        let space = &saving.pager.space;
        if space.freed().len() == n_freed && space.pool().len() == n_pool {
            space.check_freed(&young_held, &saving.pager.dirty)?;
            saving.pager.free = free;
            return Ok(());
        }
    }
    Err(Error::Internal(
        "the free-space save did not converge".into(),
    ))
}

/// Write `pages` as chunks `(txnid, 0..)`, also rewriting (as empty) chunks beyond the
/// new count that an earlier round wrote, so no stale chunk survives.
fn write_chunks(
    saving: &mut Saving<'_>,
    free: &mut TableRecord,
    txnid: u64,
    pages: &[(u64, u64)],
    cap: usize,
    written: usize,
) -> Result<usize> {
    let n = pages.len().div_ceil(cap).max(written);
    for i in 0..n {
        let start = (i * cap).min(pages.len());
        let end = ((i + 1) * cap).min(pages.len());
        let chunk = encode_free_entries(&pages[start..end]);
        btree::put(
            saving,
            free,
            &free_key(txnid, i as u32),
            &chunk,
            PutMode::Upsert,
        )?;
    }
    Ok(n)
}

/// The page interface of the free-tree save: pages come from the pool, then the
/// high-water mark, never from the free tree; every page released is recorded as freed
/// (a page this transaction allocated, with its own id as birth), never reused.
pub(crate) struct Saving<'a> {
    pager: &'a mut Pager,
}

impl PagePolicy for Saving<'_> {
    #[inline]
    fn pager(&self) -> &Pager {
        self.pager
    }

    #[inline]
    fn pager_mut(&mut self) -> &mut Pager {
        self.pager
    }

    fn alloc_page(&mut self) -> Result<u64> {
        match self.pager.space.take_pooled()? {
            Some(p) => Ok(p),
            None => Ok(self.pager.space.extend(1)),
        }
    }

    /// Chunks stay inline (`free_chunk_capacity`), so the save never writes a run; a
    /// run would come from the pool or the high-water mark, never the free tree.
    fn alloc_run(&mut self, n: u64) -> Result<u64> {
        if n == 1 {
            return self.alloc_page();
        }
        match self.pager.space.take_pooled_run(n, &self.pager.dirty)? {
            Some(p) => Ok(p),
            None => Ok(self.pager.space.extend(n)),
        }
    }

    /// Recorded as freed with this transaction's id, never reused during the save.
    #[inline]
    fn release_own(&mut self, pgno: u64) {
        self.pager.space.record_freed_own(pgno);
    }
}
