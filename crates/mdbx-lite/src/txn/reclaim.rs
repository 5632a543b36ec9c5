//! Finding reusable pages in the free tree, for the allocator's pool.
//!
//! A group freed at or before the reuse limit is consumed whole; a younger group is
//! consumed when some of its pages are seen by no protected snapshot (see `horizon`):
//! those go to the pool and the rest are held, to be saved back under the same group at
//! commit. Consumed groups are deleted and rewritten whole at commit, so their keys
//! never collide with records another transaction still owns.
//!
//! Invariant: a damaged file must not make the writer overwrite a live page. Every entry
//! taken is checked (inside the allocated range, born no later than it was freed), and a
//! reused page must not contradict its record (`check_reuse`).

use std::collections::BTreeSet;

use crate::error::{Corruption, Error, Result};
use crate::format::free::{free_key, parse_free_entries, parse_free_key};
use crate::format::meta::{TableRecord, FIRST_PAGE};
use crate::format::page::{self, Node, PageKind, HEADER};
use crate::storage::snapshot::{verify_checksum, PageSource};
use crate::tree::btree;
use crate::tree::cursor::RawCursor;
use crate::txn::horizon::{unseen_by, ReuseHorizon};
use crate::txn::pager::Pager;

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

/// A young group's pages that a protected snapshot still sees: (group, entries).
pub(crate) type Held = (u64, Vec<(u64, u64)>);

/// A group's entries as read from the free tree: (group, [(page, birth, leaf)]).
type GroupEntries = (u64, Vec<(u64, u64, u64)>);

/// The write transaction's progress through the free tree.
#[derive(Clone)]
pub(crate) struct Reclaimer {
    reuse_limit: u64,
    /// Free-tree groups (transaction ids) whose pages were moved into the pool.
    consumed: Vec<u64>,
    /// Pages of consumed young groups that a protected snapshot can still see.
    young_held: Vec<Held>,
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
    /// Groups consumed by `restore_live`, which the searches pass over.
    restored: BTreeSet<u64>,
}

impl Reclaimer {
    pub fn new(horizon: ReuseHorizon) -> Reclaimer {
        Reclaimer {
            reuse_limit: horizon.limit,
            consumed: Vec::new(),
            young_held: Vec::new(),
            next_group: 0,
            next_young: horizon.limit.saturating_add(1),
            protected: None,
            snapshots: horizon.protected,
            young_floor: None,
            restored: BTreeSet::new(),
        }
    }

    /// The groups consumed so far (their records are rewritten at commit).
    pub fn consumed(&self) -> &[u64] {
        &self.consumed
    }

    /// The held pages of consumed young groups, handed to the commit.
    pub fn take_held(&mut self) -> Vec<Held> {
        std::mem::take(&mut self.young_held)
    }

    /// Held pages counted per group, for the commit's reserve.
    pub fn held(&self) -> &[Held] {
        &self.young_held
    }

    /// Move more reusable pages into `pager`'s pool: a whole group freed at or before
    /// the reuse limit, else the unseen pages of a younger group. False if there are none.
    pub fn load(&mut self, pager: &mut Pager) -> Result<bool> {
        Ok(self.load_free_group(pager)? || self.load_young_group(pager)?)
    }

    /// After a successful commit: remember where the next transaction's search for
    /// young free pages may start (see `YoungFloor`); forget it if this one did not
    /// search.
    pub fn remember_young_floor(&self, pager: &mut Pager) {
        pager.file.ws.young_floor = match (self.young_floor, &self.protected) {
            // A restore rewrote groups anywhere above its savepoint.
            _ if !self.restored.is_empty() => None,
            (Some(floor), Some(p)) => Some(YoungFloor {
                floor,
                base: pager.txnid,
                protected: p[..p.partition_point(|&t| t < floor)].to_vec(),
            }),
            _ => None,
        };
    }

    /// Search the groups above the reuse limit, oldest first, for one with pages no
    /// protected snapshot can see; consume it: those pages go to the pool, the others
    /// are written back under the same group at commit (`young_held`). Keeping their
    /// group keeps their freeing id: once the reuse limit passes it, the whole group is
    /// reusable. Moved into this transaction's group instead, they would count as
    /// freed later and later, and stay visible to a lagging durable snapshot forever.
    fn load_young_group(&mut self, pager: &mut Pager) -> Result<bool> {
        // Groups above the base snapshot cannot exist; this transaction's own frees
        // are not in the tree yet.
        let base = pager.txnid - 1;
        if pager.free.root == 0 || self.next_young > base {
            return Ok(false);
        }
        self.init_protected(pager);
        // (page, birth, free-tree leaf listing it)
        let mut entries: Vec<(u64, u64, u64)> = Vec::new();
        let mut group: Option<u64> = None;
        let mut found = None;
        {
            let protected = self.protected.as_deref().unwrap_or(&[]);
            let mut cur = RawCursor::new(&*pager, pager.free);
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
                    if !self.restored.contains(&g)
                        && entries.iter().any(|&(_, b, _)| unseen_by(protected, b, g))
                    {
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
        prefetch_headers(
            pager,
            entries.iter().filter(|e| unseen_by(&protected, e.1, g)),
            g,
        );
        let r = self.consume_young(pager, g, entries, &protected, &|_| false);
        self.protected = Some(protected);
        r.map(|()| true)
    }

    /// Consume young group `g` (its `entries`: page, birth, leaf): pages `live` names
    /// are dropped, those no snapshot in `protected` sees go to the pool, the rest are
    /// held, to be saved back under `g` at commit.
    fn consume_young(
        &mut self,
        pager: &mut Pager,
        g: u64,
        entries: Vec<(u64, u64, u64)>,
        protected: &[u64],
        live: &dyn Fn(u64) -> bool,
    ) -> Result<()> {
        let mut held = Vec::new();
        for (p, birth, leaf) in entries {
            take_free_entry(pager, p, birth, g, leaf)?;
            if live(p) {
                continue;
            }
            if unseen_by(protected, birth, g) {
                check_reuse(pager, p, birth, g)?;
                pager.space.add_reclaimed(p)?;
            } else {
                held.push((p, birth));
            }
        }
        if !held.is_empty() {
            self.young_held.push((g, held));
        }
        Ok(())
    }

    /// Take the protected snapshots from `snapshots`, starting the young search at the
    /// floor the last commit left when it still holds (see `YoungFloor`).
    fn init_protected(&mut self, pager: &Pager) {
        if self.protected.is_some() {
            return;
        }
        let base = pager.txnid - 1;
        let p = std::mem::take(&mut self.snapshots);
        if let Some(f) = &pager.file.ws.young_floor {
            let below = p.partition_point(|&t| t < f.floor);
            if f.base == base && p[..below] == f.protected[..] {
                self.next_young = self.next_young.max(f.floor);
            }
        }
        self.protected = Some(p);
    }

    /// Restoring a savepoint of snapshot `after`: the pages `live` holds (its state's,
    /// current again) leave the free tree. They were freed after `after` (the savepoint
    /// kept them from reuse), so they sit in younger groups; each group listing one is
    /// consumed here: its live pages are dropped, its pages no protected snapshot sees
    /// go to the pool, the rest are held, as `load_young_group` does.
    pub fn restore_live(
        &mut self,
        pager: &mut Pager,
        after: u64,
        live: &dyn Fn(u64) -> bool,
    ) -> Result<()> {
        self.init_protected(pager);
        let base = pager.txnid - 1;
        // Every group listing a live page.
        let mut groups: Vec<GroupEntries> = Vec::new();
        if pager.free.root != 0 && after < base {
            let mut cur = RawCursor::new(&*pager, pager.free);
            let mut item = cur.seek(&free_key(after + 1, 0))?;
            let mut current: Option<GroupEntries> = None;
            while let Some((k, v)) = item {
                let leaf = cur.leaf_pgno();
                let (txnid, _) = parse_free_key(k, leaf)?;
                if txnid > base {
                    break;
                }
                if current.as_ref().is_none_or(|(g, _)| *g != txnid) {
                    if let Some(done) = current.take() {
                        if done.1.iter().any(|e| live(e.0)) {
                            groups.push(done);
                        }
                    }
                    current = Some((txnid, Vec::new()));
                }
                if let Some((_, entries)) = current.as_mut() {
                    entries.extend(parse_free_entries(v, leaf)?.map(|(p, b)| (p, b, leaf)));
                }
                item = cur.next()?;
            }
            if let Some(done) = current.take() {
                if done.1.iter().any(|e| live(e.0)) {
                    groups.push(done);
                }
            }
        }
        let protected = self.protected.take().unwrap_or_default();
        let mut r = Ok(());
        for (g, entries) in groups {
            self.consumed.push(g);
            self.restored.insert(g);
            r = self.consume_young(pager, g, entries, &protected, live);
            if r.is_err() {
                break;
            }
        }
        self.protected = Some(protected);
        r
    }

    /// Move the next reusable free-tree group into the pool. False if there is none.
    fn load_free_group(&mut self, pager: &mut Pager) -> Result<bool> {
        if pager.free.root == 0 || self.next_group > self.reuse_limit {
            return Ok(false);
        }
        let start = free_key(self.next_group, 0);
        let mut group = None;
        // (page, birth, free-tree leaf listing it)
        let mut pages: Vec<(u64, u64, u64)> = Vec::new();
        {
            let mut cur = RawCursor::new(&*pager, pager.free);
            let mut item = cur.seek(&start)?;
            while let Some((k, v)) = item {
                let leaf = cur.leaf_pgno();
                let (txnid, _) = parse_free_key(k, leaf)?;
                if txnid > self.reuse_limit || group.is_some_and(|g| g != txnid) {
                    break;
                }
                if self.restored.contains(&txnid) {
                    item = cur.next()?;
                    continue;
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
        prefetch_headers(pager, pages.iter(), g);
        for (p, birth, leaf) in pages {
            take_free_entry(pager, p, birth, g, leaf)?;
            check_reuse(pager, p, birth, g)?;
            pager.space.add_reclaimed(p)?;
        }
        Ok(true)
    }
}

/// Validate the entry `(p, birth)` of free-tree group `g` (listed on page `leaf`) as
/// the transaction takes it: inside the allocated range and born no later than it was
/// freed (format invariant 8).
fn take_free_entry(pager: &Pager, p: u64, birth: u64, g: u64, leaf: u64) -> Result<()> {
    if p < FIRST_PAGE || p >= pager.space.committed_high_water() {
        return Err(Error::corrupted(
            Corruption::FreeSpace,
            leaf,
            format!("free tree lists page {p} outside the allocated range"),
        ));
    }
    if birth > g {
        return Err(Error::corrupted(
            Corruption::FreeSpace,
            leaf,
            format!(
                "free tree lists page {p} as born in txn {birth}, after the txn {g} that freed it"
            ),
        ));
    }
    Ok(())
}

/// Ask the CPU for the headers `check_reuse` reads for these entries of group `g`
/// (page, birth, leaf), so their cache misses overlap instead of following each other.
/// A hint only: pages outside the file are skipped (and refused later).
fn prefetch_headers<'e>(pager: &Pager, entries: impl Iterator<Item = &'e (u64, u64, u64)>, g: u64) {
    for &(p, birth, _) in entries {
        if birth < g && p >= FIRST_PAGE && p < pager.space.committed_high_water() {
            if let Ok(bytes) = pager.page(p) {
                crate::os::map::prefetch(&bytes[..HEADER]);
            }
        }
    }
}

/// Refuse to reuse page `p`, listed by free-tree group `g` with birth `birth`, when its
/// bytes contradict that record.
///
/// A page recorded with a birth before its group was reachable up to snapshot `g - 1`
/// and freed by `g`, so it holds the page `birth` wrote until it is reused, and a
/// commit that reuses it also removes its record. The only other writers are
/// transactions that never committed (an aborted one's overflow runs, a commit cut
/// short before its meta, a `NoSync` commit lost to a power failure): they took the
/// page from the free tree of a base at or after `g`, so their ids are above `g`.
/// Hence a branch or leaf page that names itself, has a valid checksum and was written
/// by a transaction other than `birth` and not after `g` cannot be there in a valid
/// file; one written after `g` (and not after the base) may be such an uncommitted
/// write, so it is refused only if the base snapshot reaches it. Pages recorded with
/// their group as birth (pages handed back unused, whose bytes may be anything older)
/// are not checked, nor other kinds (the later pages of an overflow run hold value
/// bytes, not a header).
///
/// Cost: one header read of a page about to be reused (headers are prefetched per
/// group); a checksum only when the header disagrees with the record; the search of
/// every tree only for a page written after its group, which only an interrupted or
/// lost commit leaves behind.
fn check_reuse(pager: &Pager, p: u64, birth: u64, g: u64) -> Result<()> {
    if birth >= g {
        return Ok(());
    }
    let bytes = pager.page(p)?;
    let h = page::header_txnid(bytes);
    if h == birth || h >= pager.txnid {
        return Ok(());
    }
    let kind = match page::header_kind(bytes) {
        Some(k @ (PageKind::Leaf | PageKind::Branch)) if page::header_pgno(bytes) == p => k,
        _ => return Ok(()),
    };
    if verify_checksum(bytes, p).is_err() {
        return Ok(());
    }
    if h > g && !reachable_in_base(pager, p, bytes)? {
        return Ok(());
    }
    Err(Error::corrupted(
        Corruption::FreeSpace,
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

/// Whether the snapshot the transaction builds on reaches node page `p` (`bytes`): the
/// descent towards one of its keys in every tree of the snapshot passes through it.
/// Reads a few pages per table; used only by `check_reuse`'s rare case.
fn reachable_in_base(pager: &Pager, p: u64, bytes: &[u8]) -> Result<bool> {
    let base = pager.base;
    if base.txnid.checked_add(1) != Some(pager.txnid) {
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
        let mut cur = RawCursor::new(pager, base.catalog);
        let mut item = cur.first()?;
        while let Some((_, v)) = item {
            trees.push(TableRecord::decode(v, cur.leaf_pgno())?);
            item = cur.next()?;
        }
    }
    for rec in &trees {
        if btree::descent_visits(pager, rec, key, p)? {
            return Ok(true);
        }
    }
    Ok(false)
}
