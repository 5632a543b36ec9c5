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
use crate::format::page::PageKind;
use crate::tree::btree::{self, PutMode};
use crate::tree::pages::{PageSource, PageWrite};
use crate::txn::pager::Pager;
use crate::txn::reclaim::Reclaimer;

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

impl Saving<'_> {
    fn alloc_page(&mut self) -> Result<u64> {
        match self.pager.space.take_pooled()? {
            Some(p) => Ok(p),
            None => Ok(self.pager.space.extend(1)),
        }
    }
}

impl PageSource for Saving<'_> {
    #[inline]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        self.pager.page(pgno)
    }

    #[inline]
    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
        self.pager.overflow(pgno, len)
    }
}

impl PageWrite for Saving<'_> {
    fn page_size(&self) -> usize {
        self.pager.page_size
    }

    fn txnid(&self) -> u64 {
        self.pager.txnid
    }

    fn is_dirty(&self, pgno: u64) -> bool {
        self.pager.dirty.contains(pgno)
    }

    fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]> {
        self.pager.page_mut(pgno)
    }

    fn touch(&mut self, pgno: u64) -> Result<u64> {
        if self.pager.dirty.contains(pgno) {
            return Ok(pgno);
        }
        let new = self.alloc_page()?;
        self.pager.copy_page(pgno, new)?;
        Ok(new)
    }

    fn alloc_node(&mut self, kind: PageKind, rec: &mut TableRecord) -> Result<u64> {
        let pgno = self.alloc_page()?;
        self.pager.init_node(pgno, kind, rec)?;
        Ok(pgno)
    }

    fn free_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<()> {
        if self.pager.release_node(pgno, leaf, rec)? {
            self.pager.space.record_freed_own(pgno);
        }
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8], rec: &mut TableRecord) -> Result<u64> {
        // Chunks are sized to stay inline (`free_chunk_capacity`).
        let _ = (value, rec);
        Err(Error::Internal(
            "the free-tree save asked for an overflow run".into(),
        ))
    }

    fn free_overflow(&mut self, pgno: u64, len: usize, rec: &mut TableRecord) -> Result<()> {
        if let Some(run) = self.pager.release_overflow(pgno, len, rec)? {
            for p in run {
                self.pager.space.record_freed_own(p);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use crate::format::free::parse_free_entries;
    use crate::format::meta::FIRST_PAGE;
    use crate::format::page::{LeafValue, Node};
    use crate::tree::cursor::RawCursor;
    use crate::tree::pages::PageSource;
    use crate::txn::write_pages::WritePages;
    use crate::{Durability, Env};

    /// Every page the trees of the transaction's state reach (node pages and overflow
    /// runs), read through its own pages.
    fn reachable(pages: &WritePages, main: crate::format::meta::TableRecord) -> BTreeSet<u64> {
        fn walk(src: &WritePages, pg: u64, out: &mut BTreeSet<u64>) {
            assert!(out.insert(pg), "page {pg} reached twice");
            let node = Node::new(src.page(pg).unwrap(), pg).unwrap();
            for i in 0..node.count() {
                if node.is_leaf() {
                    if let LeafValue::Overflow { pgno, len } = node.leaf_value(i).unwrap() {
                        let n = crate::format::page::overflow_pages_needed(len, 4096);
                        for p in pgno..pgno + n {
                            assert!(out.insert(p), "overflow page {p} reached twice");
                        }
                    }
                } else {
                    walk(src, node.child(i).unwrap(), out);
                }
            }
        }
        let p = &pages.pager;
        let mut out = BTreeSet::new();
        for rec in [main, p.base.catalog, p.free] {
            if rec.root != 0 {
                walk(pages, rec.root, &mut out);
            }
        }
        out
    }

    /// The free tree's entries by page: (group, birth). Panics on a page listed twice.
    fn listed(pages: &WritePages) -> BTreeMap<u64, (u64, u64)> {
        let mut out = BTreeMap::new();
        let mut cur = RawCursor::new(pages, pages.pager.free);
        let mut item = cur.first().unwrap();
        while let Some((k, v)) = item {
            let (g, _) = crate::format::free::parse_free_key(k, 0).unwrap();
            for (p, birth) in parse_free_entries(v, 0).unwrap() {
                assert!(out.insert(p, (g, birth)).is_none(), "page {p} listed twice");
            }
            item = cur.next().unwrap();
        }
        out
    }

    /// After the save, before anything is written: every page below the high-water mark
    /// is either reached by the new state or listed free, never both, and the pages
    /// this transaction freed are listed under its own id.
    fn assert_saved_exactly(pages: &WritePages, main: crate::format::meta::TableRecord) {
        let reach = reachable(pages, main);
        let free = listed(pages);
        for p in FIRST_PAGE..pages.pager.space.high_water() {
            match (reach.contains(&p), free.contains_key(&p)) {
                (true, true) => panic!("page {p} both reached and listed free"),
                (false, false) => panic!("page {p} leaked: neither reached nor listed"),
                _ => {}
            }
        }
        let txnid = pages.pager.txnid;
        for &(p, birth) in pages.pager.space.freed() {
            assert_eq!(free.get(&p), Some(&(txnid, birth)), "freed page {p}");
        }
        assert!(pages
            .pager
            .space
            .pool()
            .iter()
            .all(|p| free.contains_key(p)));
    }

    fn put_range(env: &Env, keys: std::ops::Range<u32>, value_len: usize) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in keys {
                t.put(&i.to_be_bytes(), &vec![i as u8; value_len]).unwrap();
            }
        }
        w.commit().unwrap();
    }

    fn delete_every(env: &Env, keys: std::ops::Range<u32>, step: usize) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in keys.step_by(step) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
        }
        w.commit().unwrap();
    }

    /// Run `work` in a write transaction, save its free tree and check the result.
    fn save_and_check(env: &Env, work: impl FnOnce(&mut crate::TableMut<'_>)) {
        let mut w = env.begin_write().unwrap();
        work(&mut w.main_table());
        let main = {
            let t = w.main_table();
            t.txn_record()
        };
        let pages = w.pages_mut();
        pages.save_free_tree().unwrap();
        assert_saved_exactly(pages, main);
    }

    #[test]
    fn the_save_records_every_freed_and_unused_page_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .durability(Durability::NoSync)
            .open(dir.path().join("db"))
            .unwrap();
        put_range(&env, 0..20_000, 100);
        delete_every(&env, 0..20_000, 2);
        // Reuses the freed pages (whole groups), frees more, leaves some in the pool.
        save_and_check(&env, |t| {
            for i in (1..20_000u32).step_by(4) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
            for i in 30_000..31_000u32 {
                t.put(&i.to_be_bytes(), &[7; 300]).unwrap();
            }
        });
    }

    #[test]
    fn the_save_keeps_pages_a_reader_sees_and_frees_overflow_runs() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .durability(Durability::NoSync)
            .open(dir.path().join("db"))
            .unwrap();
        put_range(&env, 0..5_000, 3_000);
        // A reader pins this state; the groups freed after it are young groups.
        let reader = env.begin_read().unwrap();
        for round in 0..4u32 {
            delete_every(&env, round..5_000, 7);
            put_range(&env, 10_000 + round * 100..10_100 + round * 100, 50);
        }
        save_and_check(&env, |t| {
            for i in (3..5_000u32).step_by(5) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
            for i in 20_000..20_200u32 {
                t.put(&i.to_be_bytes(), &[1; 9_000]).unwrap();
            }
            // An overflow run written and freed again by the same transaction.
            t.delete(&20_000u32.to_be_bytes()).unwrap();
        });
        drop(reader);
    }

    #[test]
    fn a_transaction_that_only_frees_still_converges() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        put_range(&env, 0..50_000, 20);
        save_and_check(&env, |t| {
            for i in 0..50_000u32 {
                t.delete(&i.to_be_bytes()).unwrap();
            }
        });
    }
}
