//! Cursors and range iteration: zero-copy, allocation-free walks over a table.
//!
//! A cursor keeps the root-to-leaf path in a fixed array (the tree depth is capped at
//! `MAX_DEPTH`), so moving never allocates and every loop is bounded by the depth.

use std::ops::Bound;

use crate::error::{Corruption, Result};
use crate::format::meta::TableRecord;
use crate::format::order::Order;
use crate::format::page::{LeafValue, Node, MAX_DEPTH};
use crate::tree::btree::{node_at, value_bytes};
use crate::tree::pages::PageSource;
use crate::tree::small_bytes::SmallBytes;

/// How many entries ahead a walk asks the CPU to load (see `Node::prefetch_entry`):
/// a scan then waits for memory once per few entries instead of once per entry.
const LOOKAHEAD: usize = 4;

/// Bytes of the next leaf a walk of a nested tree asks for ahead: its header and first
/// slots.
const NEXT_LEAF_HEAD: usize = 256;

/// Most bytes of a leaf's entries a walk of a nested tree asks for at once (a 4 KiB
/// page's whole entry area).
const WALK_PREFETCH: usize = 4096;

/// A key/value pair borrowed from the transaction.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

/// A key and its leaf value as stored.
pub(crate) type RawEntry<'a> = (&'a [u8], LeafValue<'a>);

enum Edge<'k> {
    First,
    Last,
    Key(&'k [u8]),
}

/// The cursor machinery, generic over where pages come from.
pub(crate) struct RawCursor<'a, S: PageSource + ?Sized> {
    src: &'a S,
    rec: TableRecord,
    stack: [(Node<'a>, usize); MAX_DEPTH],
    valid: bool,
}

impl<'a, S: PageSource + ?Sized> RawCursor<'a, S> {
    pub fn new(src: &'a S, rec: TableRecord) -> Self {
        RawCursor {
            src,
            rec,
            stack: [(Node::EMPTY, 0); MAX_DEPTH],
            valid: false,
        }
    }

    /// The record of the tree the cursor walks.
    pub fn record(&self) -> &TableRecord {
        &self.rec
    }

    fn depth(&self) -> usize {
        (self.rec.depth as usize).min(MAX_DEPTH)
    }

    /// Fill the stack from `level` down, starting at page `pgno`.
    fn descend(&mut self, from: usize, mut pgno: u64, edge: Edge<'_>) -> Result<()> {
        let depth = self.depth();
        let order = self.rec.key_order();
        for level in from..depth {
            let leaf = level + 1 == depth;
            let node = node_at(self.src, pgno, leaf)?;
            if leaf && matches!(edge, Edge::First) && node.is_keys_only() {
                self.prefetch_walk(level, &node);
            }
            let idx = match edge {
                Edge::First => 0,
                Edge::Last => node.count() - 1,
                Edge::Key(k) if leaf => node.search(k, order)?.0,
                Edge::Key(k) => node.branch_index(k, order)?,
            };
            self.stack[level] = (node, idx);
            if !leaf {
                pgno = node.child(idx)?;
            }
        }
        Ok(())
    }

    /// A cursor entering a nested tree's leaf at its first value walks the whole leaf
    /// (a key's values are read together): ask for all of its entries at once, whose
    /// order in the page follows the order they were inserted in, and for the head of
    /// the next leaf.
    fn prefetch_walk(&self, level: usize, leaf: &Node<'a>) {
        let b = leaf.bytes();
        let entries = &b[leaf.header().upper().min(b.len())..];
        crate::os::map::prefetch(&entries[..entries.len().min(WALK_PREFETCH)]);
        let parent = level.checked_sub(1).and_then(|l| self.stack.get(l));
        if let Some(&(parent, i)) = parent.filter(|(p, i)| i + 1 < p.count()) {
            if let Ok(next) = parent.child(i + 1).and_then(|c| self.src.page(c)) {
                crate::os::map::prefetch(&next[..next.len().min(NEXT_LEAF_HEAD)]);
            }
        }
    }

    /// The entry under the cursor.
    #[inline]
    pub fn current(&self) -> Result<Option<Entry<'a>>> {
        let e = self.current_raw()?;
        self.resolve(e)
    }

    /// The entry under the cursor as stored (a dup-sort table's entries decode their
    /// values themselves).
    #[inline]
    pub fn current_raw(&self) -> Result<Option<RawEntry<'a>>> {
        if !self.valid {
            return Ok(None);
        }
        let (node, idx) = self.stack[self.depth() - 1];
        node.leaf_entry(idx).map(Some)
    }

    /// The leaf under the cursor and the cursor's index in it; None if unpositioned.
    pub fn leaf_position(&self) -> Option<(Node<'a>, usize)> {
        self.valid.then(|| self.stack[self.depth() - 1])
    }

    /// Stand on entry `idx` of the current leaf (an index the leaf has; a positioned
    /// cursor only).
    pub fn set_leaf_index(&mut self, idx: usize) {
        let depth = self.depth();
        if self.valid && idx < self.stack[depth - 1].0.count() {
            self.stack[depth - 1].1 = idx;
        }
    }

    /// A stored entry with its value's bytes (read from its overflow run if it has one).
    #[inline]
    fn resolve(&self, e: Option<RawEntry<'a>>) -> Result<Option<Entry<'a>>> {
        match e {
            Some((k, v)) => Ok(Some((k, value_bytes(self.src, v)?))),
            None => Ok(None),
        }
    }

    pub fn first(&mut self) -> Result<Option<Entry<'a>>> {
        let e = self.first_raw()?;
        self.resolve(e)
    }

    pub fn last(&mut self) -> Result<Option<Entry<'a>>> {
        let e = self.last_raw()?;
        self.resolve(e)
    }

    /// Position at the first key `>= key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<Entry<'a>>> {
        let e = self.seek_raw(key)?;
        self.resolve(e)
    }

    /// Move to the next entry; from an unpositioned cursor, to the first.
    #[inline]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>> {
        let e = self.next_raw()?;
        self.resolve(e)
    }

    /// Move to the previous entry; from an unpositioned cursor, to the last.
    pub fn prev(&mut self) -> Result<Option<Entry<'a>>> {
        let e = self.prev_raw()?;
        self.resolve(e)
    }

    /// The leaf page under the cursor (for error messages).
    pub fn leaf_pgno(&self) -> u64 {
        self.stack[self.depth().max(1) - 1].0.pgno
    }

    fn start(&mut self, edge: Edge<'_>) -> Result<bool> {
        self.valid = false;
        if self.rec.root == 0 || self.rec.depth == 0 {
            return Ok(false);
        }
        if self.rec.depth as usize > MAX_DEPTH {
            return Err(crate::Error::corrupted(
                Corruption::Shape,
                self.rec.root,
                "tree deeper than the maximum",
            ));
        }
        self.descend(0, self.rec.root, edge)?;
        self.valid = true;
        Ok(true)
    }

    pub fn first_raw(&mut self) -> Result<Option<RawEntry<'a>>> {
        self.start(Edge::First)?;
        self.current_raw()
    }

    pub fn last_raw(&mut self) -> Result<Option<RawEntry<'a>>> {
        self.start(Edge::Last)?;
        self.current_raw()
    }

    /// Position at the first key `>= key`.
    pub fn seek_raw(&mut self, key: &[u8]) -> Result<Option<RawEntry<'a>>> {
        if !self.start(Edge::Key(key))? {
            return Ok(None);
        }
        let d = self.depth() - 1;
        let (node, idx) = self.stack[d];
        if idx >= node.count() {
            self.stack[d].1 = node.count() - 1;
            return self.next_raw();
        }
        for ahead in 1..LOOKAHEAD {
            node.prefetch_entry(idx + ahead);
        }
        self.current_raw()
    }

    /// Position at `key` exactly, returning its value.
    pub fn seek_exact(&mut self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        match self.seek(key)? {
            Some((k, v)) if k == key => Ok(Some(v)),
            _ => Ok(None),
        }
    }

    /// Move to the next entry; from an unpositioned cursor, to the first.
    #[inline]
    pub fn next_raw(&mut self) -> Result<Option<RawEntry<'a>>> {
        if !self.valid {
            return self.first_raw();
        }
        let depth = self.depth();
        let (node, idx) = self.stack[depth - 1];
        if idx + 1 < node.count() {
            self.stack[depth - 1].1 = idx + 1;
            node.prefetch_entry(idx + LOOKAHEAD);
            return self.current_raw();
        }
        for level in (0..depth - 1).rev() {
            let (node, idx) = self.stack[level];
            if idx + 1 < node.count() {
                self.stack[level].1 = idx + 1;
                let child = node.child(idx + 1)?;
                self.descend(level + 1, child, Edge::First)?;
                return self.current_raw();
            }
        }
        self.valid = false;
        Ok(None)
    }

    /// Move to the previous entry; from an unpositioned cursor, to the last.
    pub fn prev_raw(&mut self) -> Result<Option<RawEntry<'a>>> {
        if !self.valid {
            return self.last_raw();
        }
        let depth = self.depth();
        let (node, idx) = self.stack[depth - 1];
        if idx > 0 {
            self.stack[depth - 1].1 = idx - 1;
            if let Some(ahead) = idx.checked_sub(LOOKAHEAD) {
                node.prefetch_entry(ahead);
            }
            return self.current_raw();
        }
        for level in (0..depth - 1).rev() {
            let (node, idx) = self.stack[level];
            if idx > 0 {
                self.stack[level].1 = idx - 1;
                let child = node.child(idx - 1)?;
                self.descend(level + 1, child, Edge::Last)?;
                return self.current_raw();
            }
        }
        self.valid = false;
        Ok(None)
    }
}

// Cursors and ranges reach pages through `&(dyn PageSource + Sync)`: every page source
// (a snapshot's mapping, a write transaction's pages) is only read through a shared
// reference, so a cursor may move to another thread with the borrow it holds (`Send`),
// as `std::thread::scope` allows.

/// A cursor over one table of a transaction. Every key and value it returns borrows
/// from the transaction (`'txn`), straight out of the memory map.
pub struct Cursor<'txn> {
    inner: RawCursor<'txn, dyn PageSource + Sync + 'txn>,
}

impl<'txn> Cursor<'txn> {
    pub(crate) fn new(src: &'txn (dyn PageSource + Sync + 'txn), rec: TableRecord) -> Self {
        Cursor {
            inner: RawCursor::new(src, rec),
        }
    }
    /// Move to the first entry.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn first(&mut self) -> Result<Option<Entry<'txn>>> {
        self.inner.first()
    }
    /// Move to the last entry.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn last(&mut self) -> Result<Option<Entry<'txn>>> {
        self.inner.last()
    }
    /// Move to the next entry (the first, if the cursor is not positioned).
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'txn>>> {
        self.inner.next()
    }
    /// Move to the previous entry (the last, if the cursor is not positioned).
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn prev(&mut self) -> Result<Option<Entry<'txn>>> {
        self.inner.prev()
    }
    /// Move to the first entry whose key is `>= key`.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<Entry<'txn>>> {
        self.inner.seek(key)
    }
    /// Move to `key` exactly; returns its value, or `None` (cursor then at the next key).
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn seek_exact(&mut self, key: &[u8]) -> Result<Option<&'txn [u8]>> {
        self.inner.seek_exact(key)
    }
    /// The entry under the cursor, if positioned.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn current(&self) -> Result<Option<Entry<'txn>>> {
        self.inner.current()
    }
}

/// Longest range bound kept inside the range itself: real keys (paths, URLs, composite
/// keys) are mostly far shorter, so their range scans never allocate.
const INLINE_BOUND: usize = 255;

/// A range bound's key: inline when at most [`INLINE_BOUND`] bytes.
pub(crate) type BoundKey = SmallBytes<INLINE_BOUND>;

/// Iterator over a key range, in both directions (`rev()` works).
pub struct Range<'txn> {
    src: &'txn (dyn PageSource + Sync + 'txn),
    rec: TableRecord,
    /// The table's key order, which the bounds follow.
    order: Order,
    front: RawCursor<'txn, dyn PageSource + Sync + 'txn>,
    /// Made on the first `next_back`: forward-only scans never pay for it (boxed, so
    /// they do not carry or copy its path stack either).
    back: Option<Box<RawCursor<'txn, dyn PageSource + Sync + 'txn>>>,
    start: Bound<BoundKey>,
    end: Bound<BoundKey>,
    front_last: Option<&'txn [u8]>,
    back_last: Option<&'txn [u8]>,
    front_started: bool,
    back_started: bool,
    done: bool,
}

impl<'txn> Range<'txn> {
    pub(crate) fn new(
        src: &'txn (dyn PageSource + Sync + 'txn),
        rec: TableRecord,
        start: Bound<BoundKey>,
        end: Bound<BoundKey>,
    ) -> Self {
        Range {
            src,
            rec,
            order: rec.key_order(),
            front: RawCursor::new(src, rec),
            back: None,
            start,
            end,
            front_last: None,
            back_last: None,
            front_started: false,
            back_started: false,
            done: false,
        }
    }

    #[inline]
    fn step_front(&mut self) -> Result<Option<Entry<'txn>>> {
        if self.front_started {
            return self.front.next();
        }
        self.front_started = true;
        match &self.start {
            Bound::Unbounded => self.front.first(),
            Bound::Included(k) => self.front.seek(k.as_slice()),
            Bound::Excluded(k) => match self.front.seek(k.as_slice())? {
                Some((key, _)) if self.same(key, k.as_slice()) => self.front.next(),
                other => Ok(other),
            },
        }
    }

    fn step_back(&mut self) -> Result<Option<Entry<'txn>>> {
        let (src, rec) = (self.src, self.rec);
        let order = rec.key_order();
        let same = |a: &[u8], b: &[u8]| order.cmp(a, b) == std::cmp::Ordering::Equal;
        let back = self
            .back
            .get_or_insert_with(|| Box::new(RawCursor::new(src, rec)));
        if self.back_started {
            return back.prev();
        }
        self.back_started = true;
        match &self.end {
            Bound::Unbounded => back.last(),
            Bound::Included(k) => match back.seek(k.as_slice())? {
                Some((key, v)) if same(key, k.as_slice()) => Ok(Some((key, v))),
                Some(_) => back.prev(),
                None => back.last(),
            },
            Bound::Excluded(k) => match back.seek(k.as_slice())? {
                Some(_) => back.prev(),
                None => back.last(),
            },
        }
    }

    /// Whether `a` and `b` are the same key in the table's order.
    fn same(&self, a: &[u8], b: &[u8]) -> bool {
        self.order.cmp(a, b) == std::cmp::Ordering::Equal
    }

    fn before_end(&self, key: &[u8]) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => self.order.cmp(key, e.as_slice()) != Greater,
            Bound::Excluded(e) => self.order.cmp(key, e.as_slice()) == Less,
        }
    }

    fn after_start(&self, key: &[u8]) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => self.order.cmp(key, s.as_slice()) != Less,
            Bound::Excluded(s) => self.order.cmp(key, s.as_slice()) == Greater,
        }
    }

    #[inline]
    fn finish(
        &mut self,
        r: Result<Option<Entry<'txn>>>,
        front: bool,
    ) -> Option<Result<Entry<'txn>>> {
        match r {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some((k, v))) => {
                let inside = if front {
                    self.before_end(k) && self.back_last.is_none_or(|b| self.order.less(k, b))
                } else {
                    self.after_start(k) && self.front_last.is_none_or(|f| self.order.less(f, k))
                };
                if !inside {
                    self.done = true;
                    return None;
                }
                if front {
                    self.front_last = Some(k);
                } else {
                    self.back_last = Some(k);
                }
                Some(Ok((k, v)))
            }
        }
    }
}

impl<'txn> Iterator for Range<'txn> {
    type Item = Result<Entry<'txn>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r, true)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r, false)
    }
}
