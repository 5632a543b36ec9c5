//! The write transaction's page manager: dirty pages, allocation, free space, commit I/O.
//!
//! Invariants kept here:
//! - A page reachable from a committed meta is never modified: `touch` copies it to a
//!   new page number and records the old one as freed by this transaction.
//! - Pages freed by transaction `T` are recorded in the free tree under `T`, each with
//!   the transaction that wrote it (its birth `B`): snapshots `B..T` can see it. It may
//!   be handed out again when `T <= reuse_limit` (no live reader, nor a meta that a
//!   crash could fall back to, is older than `T`), or when no such protected snapshot
//!   lies in `B..T` at all: a page born and freed after a long-lived reader's snapshot
//!   is reclaimed while that reader lives (bbolt's "release range"). `reuse_limit` is
//!   computed by the environment when the write transaction begins.
//! - Free-tree groups are consumed whole, so their keys can be rewritten with the
//!   pages left over without colliding with records another transaction still owns.
//! - A damaged file must not make the writer overwrite a live page: every free-tree
//!   entry it takes is checked (inside the file, born no later than it was freed), a
//!   page is never handed out while this transaction still uses it (a page listed free
//!   twice), a reused page must not contradict its record (`check_reuse`), and before
//!   anything is written the pages this transaction freed must each have been freed
//!   once and none of them be listed free (`check_freed`).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::meta::{Meta, TableRecord, FIRST_PAGE};
use crate::format::page::{self, Node, PageKind, HEADER};
use crate::os::io::Storage;
use crate::os::map::{Mapping, ReadAhead};
use crate::storage::snapshot::PageSource;
use crate::tree::btree;
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::RawMutex;

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

type PageMap<V> = HashMap<u64, V, BuildHasherDefault<PageHasher>>;

/// File and mapping state owned by whoever holds the writer lock.
pub(crate) struct WriterState {
    pub file_len: u64,
    pub map: Arc<Mapping>,
    /// What the last commit learned about groups above the reuse limit.
    pub young_floor: Option<YoungFloor>,
    /// Page buffers of finished transactions, kept for the next ones (see
    /// `Pager::page_buffer`).
    pub spare_pages: Vec<Box<[u8]>>,
}

/// Every free-tree group below `floor` holds only pages that a snapshot in
/// `protected` (the protected snapshots below `floor`) can see, as of the commit
/// `base`. Valid for the next transaction if it builds on `base` and the protected
/// snapshots below `floor` are the same; it then starts its search at `floor`
/// instead of rereading those groups (a long reader can pin thousands).
pub(crate) struct YoungFloor {
    floor: u64,
    base: u64,
    protected: Vec<u64>,
}

pub(crate) struct Pager {
    /// Where pages are written, and the file to map when the file outgrows the mapping.
    storage: Arc<dyn Storage>,
    file: Arc<File>,
    /// Most bytes of page buffers to keep for later transactions.
    spare_limit: usize,
    /// The committed state this transaction builds on.
    base: Meta,
    pub ws: ArcMutexGuard<RawMutex, WriterState>,
    pub read_ahead: ReadAhead,
    pub growth_step: u64,
    pub page_size: usize,
    pub txnid: u64,
    /// Pages this transaction may read from the mapping (< high_water, inside the file).
    pub high_water: u64,
    committed_high_water: u64,
    /// Bytes this transaction wrote to the file so far (pages and overflow runs).
    pub bytes_written: u64,
    dirty: PageMap<Box<[u8]>>,
    /// Overflow runs written by this transaction (first page -> run length).
    fresh_overflow: PageMap<u64>,
    /// Committed pages this transaction stopped using, with their births.
    freed: Vec<(u64, u64)>,
    /// Pages free for use right now.
    pool: BTreeSet<u64>,
    /// Pages of the overflow runs in `fresh_overflow` that came from below the committed
    /// high-water mark (so from the free tree): such a page handed out again means the
    /// free tree listed it twice. Usually empty.
    run_pages: PageMap<()>,
    /// Free-tree groups (transaction ids) whose pages were moved into `pool`.
    consumed: Vec<u64>,
    /// Pages of consumed young groups that a protected snapshot can still see, by
    /// group: saved back under that group at commit.
    young_held: Vec<(u64, Vec<(u64, u64)>)>,
    /// Next free-tree group to look at.
    next_group: u64,
    /// Next group above `reuse_limit` to search for pages no protected snapshot sees.
    next_young: u64,
    /// Snapshots that must stay intact (live readers and the durable meta), sorted;
    /// taken from `snapshots` when the first young group is searched.
    protected: Option<Vec<u64>>,
    snapshots: Vec<u64>,
    /// The oldest young group consumed, or `base + 1` once the search found none.
    young_floor: Option<u64>,
    reuse_limit: u64,
    /// Set while the free tree itself is being saved (see `save_free_tree`).
    committing: bool,
    pub free: TableRecord,
}

/// Bytes of one free-tree entry: page number and birth (both u64 little-endian).
const FREE_ENTRY_LEN: usize = 16;

/// The error for a page the allocator is about to hand out while this transaction
/// still uses it: the free tree lists it twice.
fn listed_twice(p: u64) -> Error {
    Error::corrupted(p, "page listed free twice")
}

/// The error for a page this transaction stopped using that the free tree also lists.
fn both_used_and_free(p: u64) -> Error {
    Error::corrupted(p, "page both in use and listed in the free tree")
}

/// Value chunks of the free tree hold at most this many entries, small enough to stay
/// inline in a leaf so that saving the free tree never needs overflow runs.
fn free_chunk_capacity(page_size: usize) -> usize {
    btree::max_inline_value(page_size, FREE_KEY_LEN) / FREE_ENTRY_LEN
}

const FREE_KEY_LEN: usize = 12;

pub(crate) fn free_key(txnid: u64, chunk: u32) -> [u8; FREE_KEY_LEN] {
    let mut k = [0u8; FREE_KEY_LEN];
    k[..8].copy_from_slice(&txnid.to_be_bytes());
    k[8..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// Decode a free-tree key into (txnid, chunk).
pub(crate) fn parse_free_key(key: &[u8], page: u64) -> Result<(u64, u32)> {
    if key.len() != FREE_KEY_LEN {
        return Err(Error::corrupted(
            page,
            format!("free-tree key of {} bytes", key.len()),
        ));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&key[..8]);
    let mut c = [0u8; 4];
    c.copy_from_slice(&key[8..]);
    Ok((u64::from_be_bytes(t), u32::from_be_bytes(c)))
}

/// Decode a free-tree value into page numbers.
pub(crate) fn parse_free_value(v: &[u8], page: u64) -> Result<impl Iterator<Item = u64> + '_> {
    Ok(parse_free_entries(v, page)?.map(|(p, _)| p))
}

/// Decode a free-tree value into (page number, birth) entries.
pub(crate) fn parse_free_entries(
    v: &[u8],
    page: u64,
) -> Result<impl Iterator<Item = (u64, u64)> + '_> {
    if !v.len().is_multiple_of(FREE_ENTRY_LEN) {
        return Err(Error::corrupted(
            page,
            format!("free-tree value of {} bytes", v.len()),
        ));
    }
    Ok(v.chunks_exact(FREE_ENTRY_LEN)
        .map(|c| (page::rd_u64(c, 0), page::rd_u64(c, 8))))
}

/// Which freed pages a writer may hand out again (computed by the environment, `EnvInner::reuse_horizon`).
///
/// Group `T` of the free tree lists pages freed by transaction `T`, each with its birth
/// `B`: snapshots `B..T` can see it. The whole group is reusable when `T <= limit` (no
/// protected snapshot is older than `T`); a page of a younger group is reusable when no
/// snapshot in `protected` lies in `B..T` (see `unseen_by`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReuseHorizon {
    /// Groups freed at or before this transaction are reusable whole.
    pub limit: u64,
    /// The snapshots that must stay intact, sorted and distinct: every live reader's and
    /// the durable meta's (the state a crash falls back to).
    pub protected: Vec<u64>,
}

/// Whether a page born in `birth` and freed by transaction `freed` is invisible to every
/// snapshot in `protected` (sorted): none of them lies in `birth..freed`.
pub(crate) fn unseen_by(protected: &[u64], birth: u64, freed: u64) -> bool {
    let i = protected.partition_point(|&p| p < birth);
    protected.get(i).is_none_or(|&p| p >= freed)
}

impl Pager {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        storage: Arc<dyn Storage>,
        file: Arc<File>,
        spare_limit: usize,
        base: Meta,
        ws: ArcMutexGuard<RawMutex, WriterState>,
        read_ahead: ReadAhead,
        page_size: usize,
        txnid: u64,
        high_water: u64,
        growth_step: u64,
        free: TableRecord,
        horizon: ReuseHorizon,
    ) -> Pager {
        let reuse_limit = horizon.limit;
        Pager {
            storage,
            file,
            spare_limit,
            base,
            ws,
            read_ahead,
            growth_step,
            page_size,
            txnid,
            high_water,
            committed_high_water: high_water,
            bytes_written: 0,
            dirty: PageMap::default(),
            fresh_overflow: PageMap::default(),
            freed: Vec::new(),
            pool: BTreeSet::new(),
            run_pages: PageMap::default(),
            consumed: Vec::new(),
            young_held: Vec::new(),
            next_group: 0,
            next_young: reuse_limit.saturating_add(1),
            protected: None,
            snapshots: horizon.protected,
            young_floor: None,
            reuse_limit,
            committing: false,
            free,
        }
    }

    pub fn dirty_pages(&self) -> usize {
        self.dirty.len()
    }

    /// Whether this transaction already owns `pgno` (editing it costs no copy).
    pub fn is_dirty(&self, pgno: u64) -> bool {
        self.dirty.contains_key(&pgno)
    }

    /// A page this transaction already owns, for in-place edits.
    pub fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]> {
        self.dirty
            .get_mut(&pgno)
            .map(|b| &mut b[..])
            .ok_or_else(|| Error::Internal(format!("page {pgno} is not dirty")))
    }

    /// Make `pgno` writable: returns it if already dirty, else a dirty copy's number.
    pub fn touch(&mut self, pgno: u64) -> Result<u64> {
        if self.dirty.contains_key(&pgno) {
            return Ok(pgno);
        }
        let mut copy = self.page_buffer();
        copy.copy_from_slice(self.page(pgno)?);
        let birth = page::header_txnid(&copy);
        let new = self.alloc_page()?;
        page::set_identity(&mut copy, new, self.txnid);
        self.freed.push((pgno, birth));
        self.insert_dirty(new, copy)?;
        Ok(new)
    }

    /// A new empty node page counted in `rec`.
    pub fn alloc_node(&mut self, kind: PageKind, rec: &mut TableRecord) -> Result<u64> {
        let pgno = self.alloc_page()?;
        let mut buf = self.page_buffer();
        buf.fill(0);
        page::init_header(&mut buf, kind, pgno, self.txnid);
        self.insert_dirty(pgno, buf)?;
        match kind {
            PageKind::Leaf => rec.leaf_pages += 1,
            _ => rec.branch_pages += 1,
        }
        Ok(pgno)
    }

    pub fn free_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<()> {
        if leaf {
            rec.leaf_pages = rec.leaf_pages.saturating_sub(1);
        } else {
            rec.branch_pages = rec.branch_pages.saturating_sub(1);
        }
        if let Some(buf) = self.dirty.remove(&pgno) {
            self.recycle(buf);
            if self.committing {
                self.freed.push((pgno, self.txnid));
            } else {
                self.pool.insert(pgno);
            }
        } else {
            let birth = page::header_txnid(self.page(pgno)?);
            self.freed.push((pgno, birth));
        }
        Ok(())
    }

    /// Make `buf` the dirty page `pgno`, just handed out by the allocator. A page
    /// already dirty was handed out twice: the free tree lists it twice.
    #[inline]
    fn insert_dirty(&mut self, pgno: u64, buf: Box<[u8]>) -> Result<()> {
        match self.dirty.insert(pgno, buf) {
            None => Ok(()),
            Some(_) => Err(listed_twice(pgno)),
        }
    }

    /// A page-sized buffer, from the spares when there are any. Reusing buffers spares
    /// a large transaction the allocation and first-touch page faults of fresh heap
    /// memory (glibc returns a freed heap top to the kernel).
    fn page_buffer(&mut self) -> Box<[u8]> {
        self.ws
            .spare_pages
            .pop()
            .unwrap_or_else(|| vec![0u8; self.page_size].into_boxed_slice())
    }

    /// Keep `buf` for a later `page_buffer`, up to the environment's spare limit.
    fn recycle(&mut self, buf: Box<[u8]>) {
        if (self.ws.spare_pages.len() + 1) * self.page_size <= self.spare_limit {
            self.ws.spare_pages.push(buf);
        }
    }

    fn alloc_page(&mut self) -> Result<u64> {
        loop {
            if let Some(p) = self.pool.pop_first() {
                if !self.run_pages.is_empty() && self.run_pages.contains_key(&p) {
                    return Err(listed_twice(p));
                }
                return Ok(p);
            }
            if self.committing || !self.load_reusable()? {
                break;
            }
        }
        let p = self.high_water;
        self.high_water += 1;
        Ok(p)
    }

    /// Move more reusable pages into the pool: a whole group freed at or before the
    /// reuse limit, else the unseen pages of a younger group. False if there are none.
    fn load_reusable(&mut self) -> Result<bool> {
        Ok(self.load_free_group()? || self.load_young_group()?)
    }

    /// Search the groups above the reuse limit, oldest first, for one with pages no
    /// protected snapshot can see; consume it: those pages go to the pool, the others
    /// are written back under the same group at commit (`young_held`). Keeping their
    /// group keeps their freeing id: once the reuse limit passes it, the whole group is
    /// reusable. Moved into this transaction's group instead, they would count as
    /// freed later and later, and stay visible to a lagging durable snapshot forever.
    fn load_young_group(&mut self) -> Result<bool> {
        // Groups above the base snapshot cannot exist; this transaction's own frees
        // are not in the tree yet.
        let base = self.txnid - 1;
        if self.free.root == 0 || self.next_young > base {
            return Ok(false);
        }
        if self.protected.is_none() {
            let p = std::mem::take(&mut self.snapshots);
            if let Some(f) = &self.ws.young_floor {
                let below = p.partition_point(|&t| t < f.floor);
                if f.base == base && p[..below] == f.protected[..] {
                    self.next_young = self.next_young.max(f.floor);
                }
            }
            self.protected = Some(p);
        }
        let free = self.free;
        // (page, birth, free-tree leaf listing it)
        let mut entries: Vec<(u64, u64, u64)> = Vec::new();
        let mut group: Option<u64> = None;
        let mut found = None;
        {
            let protected = self.protected.as_deref().unwrap_or(&[]);
            let mut cur = crate::tree::cursor::RawCursor::new(self, free);
            let mut item = cur.seek(&free_key(self.next_young, 0))?;
            loop {
                let next = match item {
                    Some((k, v)) => {
                        let leaf = cur.leaf_pgno();
                        let (txnid, _) = parse_free_key(k, leaf)?;
                        Some((txnid, leaf, v))
                    }
                    None => None,
                };
                // A group ends when the key's txnid changes or the tree does.
                let ended = match (group, &next) {
                    (Some(g), Some((t, _, _))) => *t != g,
                    (Some(_), None) => true,
                    _ => false,
                };
                if ended {
                    let g = group.unwrap_or_default();
                    if entries.iter().any(|&(_, b, _)| unseen_by(protected, b, g)) {
                        found = Some(g);
                        break;
                    }
                    entries.clear();
                }
                let Some((txnid, leaf, v)) = next else { break };
                if txnid > base {
                    break;
                }
                group = Some(txnid);
                entries.extend(parse_free_entries(v, leaf)?.map(|(p, b)| (p, b, leaf)));
                item = cur.next()?;
            }
        }
        let Some(g) = found else {
            self.next_young = u64::MAX;
            self.young_floor.get_or_insert(base + 1);
            return Ok(false);
        };
        self.next_young = g + 1;
        self.young_floor = Some(self.young_floor.map_or(g, |f| f.min(g)));
        self.consumed.push(g);
        let protected = self.protected.take().unwrap_or_default();
        let mut held = Vec::new();
        self.prefetch_headers(entries.iter().filter(|e| unseen_by(&protected, e.1, g)), g);
        for (p, birth, leaf) in entries {
            self.take_free_entry(p, birth, g, leaf)?;
            if unseen_by(&protected, birth, g) {
                self.check_reuse(p, birth, g)?;
                if !self.pool.insert(p) {
                    return Err(listed_twice(p));
                }
            } else {
                held.push((p, birth));
            }
        }
        if !held.is_empty() {
            self.young_held.push((g, held));
        }
        self.protected = Some(protected);
        Ok(true)
    }

    /// Move the next reusable free-tree group into the pool. False if there is none.
    fn load_free_group(&mut self) -> Result<bool> {
        if self.free.root == 0 || self.next_group > self.reuse_limit {
            return Ok(false);
        }
        let free = self.free;
        let start = free_key(self.next_group, 0);
        let mut group = None;
        // (page, birth, free-tree leaf listing it)
        let mut pages: Vec<(u64, u64, u64)> = Vec::new();
        {
            let mut cur = crate::tree::cursor::RawCursor::new(self, free);
            let mut item = cur.seek(&start)?;
            while let Some((k, v)) = item {
                let leaf = cur.leaf_pgno();
                let (txnid, _) = parse_free_key(k, leaf)?;
                if txnid > self.reuse_limit || group.is_some_and(|g| g != txnid) {
                    break;
                }
                group = Some(txnid);
                pages.extend(parse_free_entries(v, leaf)?.map(|(p, b)| (p, b, leaf)));
                item = cur.next()?;
            }
        }
        let Some(g) = group else {
            self.next_group = u64::MAX;
            return Ok(false);
        };
        self.consumed.push(g);
        self.next_group = g + 1;
        self.prefetch_headers(pages.iter(), g);
        for (p, birth, leaf) in pages {
            self.take_free_entry(p, birth, g, leaf)?;
            self.check_reuse(p, birth, g)?;
            if !self.pool.insert(p) {
                return Err(listed_twice(p));
            }
        }
        Ok(true)
    }

    /// Validate the entry `(p, birth)` of free-tree group `g` (listed on page `leaf`) as
    /// this transaction takes it: inside the allocated range and born no later than it
    /// was freed (format invariant 8).
    fn take_free_entry(&self, p: u64, birth: u64, g: u64, leaf: u64) -> Result<()> {
        if p < FIRST_PAGE || p >= self.committed_high_water {
            return Err(Error::corrupted(
                leaf,
                format!("free tree lists page {p} outside the allocated range"),
            ));
        }
        if birth > g {
            return Err(Error::corrupted(
                leaf,
                format!("free tree lists page {p} as born in txn {birth}, after the txn {g} that freed it"),
            ));
        }
        Ok(())
    }

    /// Ask the CPU for the headers `check_reuse` reads for these entries of group `g`
    /// (page, birth, leaf), so their cache misses overlap instead of following each
    /// other. A hint only: pages outside the file are skipped (and refused later).
    fn prefetch_headers<'e>(&self, entries: impl Iterator<Item = &'e (u64, u64, u64)>, g: u64) {
        for &(p, birth, _) in entries {
            if birth < g && p >= FIRST_PAGE && p < self.committed_high_water {
                if let Ok(bytes) = self.page(p) {
                    crate::os::map::prefetch(&bytes[..HEADER]);
                }
            }
        }
    }

    /// Refuse to reuse page `p`, listed by free-tree group `g` with birth `birth`, when
    /// its bytes contradict that record.
    ///
    /// A page recorded with a birth before its group was reachable up to snapshot
    /// `g - 1` and freed by `g`, so it holds the page `birth` wrote until it is reused,
    /// and a commit that reuses it also removes its record. The only other writers are
    /// transactions that never committed (an aborted one's overflow runs, a commit cut
    /// short before its meta, a `NoSync` commit lost to a power failure): they took the
    /// page from the free tree of a base at or after `g`, so their ids are above `g`.
    /// Hence a branch or leaf page that names itself, has a valid checksum and was
    /// written by a transaction other than `birth` and not after `g` cannot be there in
    /// a valid file; one written after `g` (and not after the base) may be such an
    /// uncommitted write, so it is refused only if the base snapshot reaches it. Pages
    /// recorded with their group as birth (pages handed back unused, whose bytes may be
    /// anything older) are not checked, nor other kinds (the later pages of an overflow
    /// run hold value bytes, not a header).
    ///
    /// Cost: one header read of a page about to be reused (headers are prefetched per
    /// group); a checksum only when the header disagrees with the record; the search
    /// of every tree only for a page written after its group, which only an interrupted
    /// or lost commit leaves behind.
    fn check_reuse(&self, p: u64, birth: u64, g: u64) -> Result<()> {
        if birth >= g {
            return Ok(());
        }
        let bytes = self.page(p)?;
        let h = page::header_txnid(bytes);
        if h == birth || h >= self.txnid {
            return Ok(());
        }
        let kind = match page::header_kind(bytes) {
            Some(k @ (PageKind::Leaf | PageKind::Branch)) if page::header_pgno(bytes) == p => k,
            _ => return Ok(()),
        };
        if crate::storage::snapshot::verify_checksum(bytes, p).is_err() {
            return Ok(());
        }
        if h > g && !self.reachable_in_base(p, bytes)? {
            return Ok(());
        }
        Err(Error::corrupted(
            p,
            format!(
                "the free tree lists the page as freed by txn {g} and born in txn {birth}, \
                 but it holds a {} page written by txn {h}{}",
                kind.name(),
                if h > g {
                    " that the last commit still reaches"
                } else {
                    ""
                }
            ),
        ))
    }

    /// Whether the snapshot this transaction builds on reaches node page `p` (`bytes`):
    /// the descent towards one of its keys in every tree of the snapshot passes
    /// through it. Reads a few pages per table; used only by `check_reuse`'s rare case.
    fn reachable_in_base(&self, p: u64, bytes: &[u8]) -> Result<bool> {
        let base = self.base;
        if base.txnid.checked_add(1) != Some(self.txnid) {
            return Ok(false);
        }
        let node = Node::new(bytes, p)?;
        let key = if node.is_leaf() {
            node.key(0)?
        } else if node.count() > 1 {
            node.key(1)?
        } else {
            &[]
        };
        let mut trees = vec![base.main, base.catalog, base.free];
        {
            let mut cur = crate::tree::cursor::RawCursor::new(self, base.catalog);
            let mut item = cur.first()?;
            while let Some((_, v)) = item {
                trees.push(TableRecord::decode(v, cur.leaf_pgno())?);
                item = cur.next()?;
            }
        }
        for rec in &trees {
            if btree::descent_visits(self, rec, key, p)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Before a commit writes anything: each committed page this transaction stopped
    /// using was freed once (freeing one twice means two places reach it) and none of
    /// them is listed in the free tree (in the pool, handed out, or held back in
    /// `held`); and no held-back page was handed out. Costs two sorts (freed pages and
    /// held-back pages) and a look-up or two per page: O(n log n) in the pages this
    /// transaction touched and held back.
    fn check_freed(&self, held: &[(u64, Vec<(u64, u64)>)]) -> Result<()> {
        let mut pages: Vec<u64> = self.freed.iter().map(|&(p, _)| p).collect();
        pages.sort_unstable();
        if let Some(w) = pages.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::corrupted(
                w[0],
                "page reachable twice: this transaction freed it twice",
            ));
        }
        let handed_out = |p: u64| self.dirty.contains_key(&p) || self.run_pages.contains_key(&p);
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

    /// Find `n` contiguous pages: in the pool (loading every reusable group if needed),
    /// else at the high-water mark.
    fn alloc_run(&mut self, n: u64) -> Result<u64> {
        if n == 1 {
            return self.alloc_page();
        }
        loop {
            if let Some(start) = find_run(&self.pool, n) {
                for p in start..start + n {
                    self.pool.remove(&p);
                    if self.dirty.contains_key(&p) || self.run_pages.contains_key(&p) {
                        return Err(listed_twice(p));
                    }
                    if p < self.committed_high_water {
                        self.run_pages.insert(p, ());
                    }
                }
                return Ok(start);
            }
            if self.committing || !self.load_reusable()? {
                break;
            }
        }
        let p = self.high_water;
        self.high_water += n;
        Ok(p)
    }

    /// Write `value` into a new overflow run now (it is unreachable until commit, so
    /// writing early is safe and keeps large values off the heap). Returns its first page.
    pub fn write_overflow(&mut self, value: &[u8], rec: &mut TableRecord) -> Result<u64> {
        let n = page::overflow_pages_needed(value.len(), self.page_size);
        let pgno = self.alloc_run(n)?;
        if n == 1 && pgno < self.committed_high_water {
            // `alloc_run` handed out a single page like a node page.
            self.run_pages.insert(pgno, ());
        }
        let mut head = vec![0u8; HEADER];
        head[4] = PageKind::Overflow as u8;
        page::wr_u64(&mut head, 8, pgno);
        page::wr_u64(&mut head, 16, self.txnid);
        page::wr_u32(&mut head, 24, n as u32);
        let total = n as usize * self.page_size;
        let pad = total - HEADER - value.len();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[4..]);
        hasher.update(value);
        hasher.update(&vec![0u8; pad]);
        page::wr_u32(&mut head, 0, hasher.finalize());
        self.ensure_file_len((pgno + n) * self.page_size as u64)?;
        let off = pgno * self.page_size as u64;
        self.storage.write_at(&head, off)?;
        self.storage.write_at(value, off + HEADER as u64)?;
        if pad > 0 {
            self.storage
                .write_at(&vec![0u8; pad], off + (HEADER + value.len()) as u64)?;
        }
        self.bytes_written += total as u64;
        self.fresh_overflow.insert(pgno, n);
        rec.overflow_pages += n;
        Ok(pgno)
    }

    /// Release the overflow run holding a value of `len` bytes at `pgno`.
    pub fn free_overflow(&mut self, pgno: u64, len: usize, rec: &mut TableRecord) -> Result<()> {
        let n = page::overflow_pages_needed(len, self.page_size);
        rec.overflow_pages = rec.overflow_pages.saturating_sub(n);
        if let Some(run) = self.fresh_overflow.remove(&pgno) {
            for p in pgno..pgno + run {
                self.run_pages.remove(&p);
                if self.committing {
                    self.freed.push((p, self.txnid));
                } else {
                    self.pool.insert(p);
                }
            }
        } else {
            // Validate the head so a corrupt pointer cannot free random pages.
            let head = self.page(pgno)?;
            crate::storage::snapshot::overflow_run(head, pgno, len, self.page_size)?;
            let birth = page::header_txnid(head);
            self.freed.extend((pgno..pgno + n).map(|p| (p, birth)));
        }
        Ok(())
    }

    /// Grow the file (in steps) so it holds at least `len` bytes; remap if needed.
    pub fn ensure_file_len(&mut self, len: u64) -> Result<()> {
        if len <= self.ws.file_len {
            return Ok(());
        }
        let step = self
            .growth_step
            .max((self.ws.file_len / 8).min(1 << 30))
            .max(self.page_size as u64);
        let new_len = len.div_ceil(step) * step;
        self.storage.set_len(new_len)?;
        self.ws.file_len = new_len;
        if new_len as usize > self.ws.map.reserved() {
            let reserve = reservation_for(new_len);
            self.ws.map = Arc::new(Mapping::new(&self.file, reserve, self.read_ahead)?);
        }
        Ok(())
    }

    /// Record this transaction's freed pages and the unused reclaimed ones in the free
    /// tree. Runs to a fixpoint: saving the tree can itself allocate (shrinking the
    /// pool) and free committed free-tree pages (growing `freed`). Both only move one
    /// way while `committing` is set, and chunks are only ever added, never deleted, so
    /// the loop ends.
    pub fn save_free_tree(&mut self) -> Result<()> {
        // No valid meta can carry an id past the maximum (see `meta::MAX_TXNID`).
        crate::format::meta::next_txnid(self.base.txnid, self.base.slot)?;
        let cap = free_chunk_capacity(self.page_size).max(1);
        // Saving allocates pages (copies of free-tree nodes) but loads no free groups
        // once `committing` is set, so take a reserve from reusable free space first;
        // otherwise a pool that ran dry grows the file while free pages are reusable.
        let held: usize = self
            .young_held
            .iter()
            .map(|(_, h)| h.len().div_ceil(cap))
            .sum();
        while self.pool.len() < 16 + held + (self.freed.len() + self.pool.len()).div_ceil(cap)
            && self.load_reusable()?
        {}
        self.committing = true;
        let mut free = self.free;
        for &g in &self.consumed.clone() {
            let mut chunk = 0u32;
            while btree::delete(self, &mut free, &free_key(g, chunk))? {
                chunk += 1;
            }
        }
        // Pages left in the pool are reusable now: they go back under the oldest group
        // consumed (whose keys were all just deleted). With nothing consumed, the pool
        // holds only pages this transaction allocated and freed; they join its own group.
        let leftover_group = self.consumed.iter().copied().min();
        // Held pages of young groups go back under their groups (which were just
        // deleted); those of the leftover group join the leftovers below.
        let mut left_held: &[(u64, u64)] = &[];
        let young_held = std::mem::take(&mut self.young_held);
        for (g, held) in &young_held {
            if Some(*g) == leftover_group {
                left_held = held;
            } else {
                self.write_chunks(&mut free, *g, held, cap, 0)?;
            }
        }
        let (mut written_own, mut written_left) = (0usize, 0usize);
        for _round in 0..1000 {
            let (n_freed, n_pool) = (self.freed.len(), self.pool.len());
            let mut own = self.freed.clone();
            // A page left in the pool is seen by no snapshot: recorded with its group
            // as birth, it counts as visible to none.
            let left_as = leftover_group.unwrap_or(self.txnid);
            let mut left: Vec<(u64, u64)> = self.pool.iter().map(|&p| (p, left_as)).collect();
            if !left_held.is_empty() {
                // A group's entries are sorted by page (format.md).
                left.extend_from_slice(left_held);
                left.sort_unstable();
            }
            if leftover_group.is_none() {
                own.append(&mut left);
            }
            own.sort_unstable();
            written_own = self.write_chunks(&mut free, self.txnid, &own, cap, written_own)?;
            if let Some(g) = leftover_group {
                written_left = self.write_chunks(&mut free, g, &left, cap, written_left)?;
            }
            // `freed` only grows and `pool` only shrinks here, so equal lengths mean equal
            // contents. Compare each on its own: a pool page taken for the free tree while
            // a committed free-tree page joins `freed` keeps the sum unchanged although
            // the lists just written are stale (the taken page would be listed free and
            // the newly freed one leaked).
            let unchanged = self.freed.len() == n_freed && self.pool.len() == n_pool;
            if unchanged {
                self.check_freed(&young_held)?;
                self.free = free;
                return Ok(());
            }
        }
        Err(Error::Internal(
            "the free-space save did not converge".into(),
        ))
    }

    /// Write `pages` as chunks `(txnid, 0..)`, also rewriting (as empty) chunks beyond
    /// the new count that an earlier round wrote, so no stale chunk survives.
    fn write_chunks(
        &mut self,
        free: &mut TableRecord,
        txnid: u64,
        pages: &[(u64, u64)],
        cap: usize,
        written: usize,
    ) -> Result<usize> {
        let n = pages.len().div_ceil(cap).max(written);
        for i in 0..n {
            let chunk = chunk_of(pages, i, cap);
            let key = free_key(txnid, i as u32);
            btree::put(self, free, &key, &chunk, btree::PutMode::Upsert)?;
        }
        Ok(n)
    }

    /// After a successful commit: remember where the next transaction's search for
    /// young free pages may start (see `YoungFloor`); forget it if this one did not
    /// search.
    pub fn remember_young_floor(&mut self) {
        self.ws.young_floor = match (self.young_floor, &self.protected) {
            (Some(floor), Some(p)) => Some(YoungFloor {
                floor,
                base: self.txnid,
                protected: p[..p.partition_point(|&t| t < floor)].to_vec(),
            }),
            _ => None,
        };
    }

    /// Write every dirty page (checksummed), coalescing runs of consecutive pages.
    pub fn write_dirty(&mut self) -> Result<()> {
        self.ensure_file_len(self.high_water * self.page_size as u64)?;
        let mut pgnos: Vec<u64> = self.dirty.keys().copied().collect();
        pgnos.sort_unstable();
        let ps = self.page_size;
        let mut buf: Vec<u8> = Vec::with_capacity(WRITE_CHUNK.max(ps));
        let mut run_start = 0u64;
        let mut run_len = 0u64;
        let mut hint_from: Option<u64> = None;
        let mut unhinted = 0usize;
        for pgno in pgnos {
            let Some(page) = self.dirty.get_mut(&pgno) else {
                continue;
            };
            page::stamp_checksum(page);
            if run_len > 0 && (pgno != run_start + run_len || buf.len() >= WRITE_CHUNK) {
                let at = run_start * ps as u64;
                self.storage.write_at(&buf, at)?;
                self.bytes_written += buf.len() as u64;
                let from = *hint_from.get_or_insert(at);
                unhinted += buf.len();
                if unhinted >= WRITEBACK_STEP {
                    let end = at + buf.len() as u64;
                    self.storage.start_writeback(from, end - from);
                    hint_from = Some(end);
                    unhinted = 0;
                }
                buf.clear();
                run_len = 0;
            }
            if run_len == 0 {
                run_start = pgno;
            }
            buf.extend_from_slice(page);
            run_len += 1;
        }
        if run_len > 0 {
            self.storage.write_at(&buf, run_start * ps as u64)?;
            self.bytes_written += buf.len() as u64;
        }
        Ok(())
    }
}

/// Most bytes one `write` call puts into the file. The kernel sizes a new page-cache
/// folio by the write that creates it, and a folio keeps that size while cached: with
/// 1 MiB writes a bulk load leaves 1 MiB folios, and every later one-page write and
/// sync of one of them walks all 256 of its block buffers. 32 KiB writes made later
/// durable commits about 10% (single insert) to 18% (1,000 inserts) faster than
/// 1 MiB writes, for a bulk load about 4% slower (`docs/benchmarks.md`).
pub(crate) const WRITE_CHUNK: usize = 32 << 10;

/// Bytes a commit writes between two writeback hints (see `Storage::start_writeback`).
const WRITEBACK_STEP: usize = 8 << 20;

impl Drop for Pager {
    fn drop(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for (_, buf) in dirty {
            self.recycle(buf);
        }
    }
}

fn chunk_of(pages: &[(u64, u64)], i: usize, cap: usize) -> Vec<u8> {
    let start = (i * cap).min(pages.len());
    let end = ((i + 1) * cap).min(pages.len());
    let mut out = Vec::with_capacity((end - start) * FREE_ENTRY_LEN);
    for (p, birth) in &pages[start..end] {
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&birth.to_le_bytes());
    }
    out
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

/// Address space to reserve for a file of `len` bytes: room to double, at least 1 GiB.
pub(crate) fn reservation_for(len: u64) -> usize {
    let want = len.saturating_mul(2).max(1 << 30);
    usize::try_from(want.next_power_of_two()).unwrap_or(usize::MAX / 2)
}

impl PageSource for Pager {
    #[inline]
    fn page(&self, pgno: u64) -> Result<&[u8]> {
        if let Some(p) = self.dirty.get(&pgno) {
            return Ok(p);
        }
        if pgno >= self.committed_high_water {
            return Err(Error::corrupted(
                pgno,
                "page number past the committed high-water mark",
            ));
        }
        let high_water = self.ws.file_len / self.page_size as u64;
        if pgno >= high_water {
            return Err(Error::corrupted(
                pgno,
                "page lies beyond the end of the file",
            ));
        }
        let off = pgno as usize * self.page_size;
        self.ws
            .map
            .get(off, self.page_size, self.ws.file_len as usize)
            .ok_or_else(|| Error::corrupted(pgno, "page lies beyond the mapping"))
    }

    fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
        let n = page::overflow_pages_needed(len, self.page_size);
        let end = pgno.saturating_add(n);
        if pgno < crate::format::meta::FIRST_PAGE || end > self.high_water {
            return Err(Error::corrupted(
                pgno,
                "overflow run outside the allocated range",
            ));
        }
        let off = pgno as usize * self.page_size;
        let run = self
            .ws
            .map
            .get(off, n as usize * self.page_size, self.ws.file_len as usize)
            .ok_or_else(|| Error::corrupted(pgno, "overflow run beyond the end of the file"))?;
        crate::storage::snapshot::overflow_run(run, pgno, len, self.page_size)?;
        Ok(&run[HEADER..HEADER + len])
    }
}

#[cfg(test)]
mod tests {
    use crate::Env;

    fn spares(env: &Env) -> usize {
        env.inner.writer.lock().spare_pages.len()
    }

    fn fill(env: &Env, from: u32, n: u32) {
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in from..from + n {
                t.put(&i.to_be_bytes(), &[i as u8; 100]).unwrap();
            }
        }
        w.commit().unwrap();
    }

    #[test]
    fn page_buffers_are_kept_for_later_transactions_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .spare_buffer_limit(64 * 4096)
            .open(dir.path().join("db"))
            .unwrap();
        fill(&env, 0, 20_000);
        assert_eq!(spares(&env), 64);
        // A small transaction takes its buffers from the spares and gives them back.
        fill(&env, 20_000, 10);
        assert_eq!(spares(&env), 64);
        // Pages built in recycled buffers read back exactly as written.
        fill(&env, 30_000, 5_000);
        let r = env.begin_read().unwrap();
        let t = r.main_table();
        assert_eq!(t.len(), 25_010);
        for i in (0..20_010u32).chain(30_000..35_000) {
            assert_eq!(t.get(&i.to_be_bytes()).unwrap(), Some(&[i as u8; 100][..]));
        }
        drop(r);
        assert!(env.check().unwrap().is_ok());

        let dir = tempfile::tempdir().unwrap();
        let env = Env::builder()
            .spare_buffer_limit(0)
            .open(dir.path().join("db"))
            .unwrap();
        fill(&env, 0, 1_000);
        assert_eq!(spares(&env), 0);
    }
}
