//! B+tree algorithms: search, insert with splits, delete with merges, clear.
//!
//! Reads work over any [`PageSource`]; writes copy the root-to-leaf path on first touch
//! (copy-on-write), so committed pages are never modified. All leaves sit at depth
//! `rec.depth`; branch entry 0 has an empty key standing for minus infinity, and child
//! `i` holds the keys in `[key(i), key(i + 1))`.
//!
//! Writes check what their own path shows of a damaged tree before they change it, so
//! damage is refused (`Error::Corrupted`) instead of spread: the separators around the
//! descent are ascending, entry 0's key is empty, and every page on the path (the leaf
//! included) lies inside the range its parent gives it (`DescentCheck`); a branch
//! copied from a committed page points at distinct children, none of them a page this
//! transaction already owns (`cow_path`); merges and moves between neighbours keep the
//! keys in order across the seam.

use std::borrow::Cow;

use crate::error::{Corruption, Error, Result};
use crate::format::meta::TableRecord;
use crate::format::order::{is_integer_size, Order};
use crate::format::page::{
    self, build, common_prefix, entries, header, header_count, live_bytes_quick, lower_prefix,
    node_insert, node_remove, usable, Item, LeafValue, Node, PageKind, F_OVERFLOW, LEAF_ENTRY_HEAD,
    MAX_DEPTH,
};
use crate::tree::pages::{PageSource, PageWrite};
use crate::tree::small_bytes::SmallBytes;

/// Largest key a database with this page size accepts.
pub fn max_key_size(page_size: usize) -> usize {
    max_entry(page_size) - page::SLOT - LEAF_ENTRY_HEAD - 8 - 16
}

/// An entry (slot included) may take at most a quarter of a page, so any split of an
/// overfull page yields two halves that fit.
fn max_entry(page_size: usize) -> usize {
    usable(page_size) / 4
}

/// Largest value stored inline next to a key of `key_len` bytes; larger values go to
/// an overflow run.
pub fn max_inline_value(page_size: usize, key_len: usize) -> usize {
    max_entry(page_size).saturating_sub(page::SLOT + key_len + LEAF_ENTRY_HEAD)
}

pub fn check_key(key: &[u8], page_size: usize) -> Result<()> {
    let max = max_key_size(page_size);
    if key.len() > max {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max,
        });
    }
    Ok(())
}

/// Refuse a key an integer-ordered tree cannot hold: one of neither 4 nor 8 bytes
/// (`leaf` is `None`, before a descent), or of another size than the keys of the leaf
/// it goes in (so every key of the tree has one size). A nested tree's keys are its
/// table's values.
#[inline]
pub(crate) fn check_key_size(rec: &TableRecord, leaf: Option<&Node<'_>>, key: &[u8]) -> Result<()> {
    if !matches!(rec.key_order(), Order::Integer) {
        return Ok(());
    }
    let expected = match leaf {
        Some(node) => node.key_len(0),
        None if is_integer_size(key.len()) => return Ok(()),
        None => 0,
    };
    if key.len() == expected {
        return Ok(());
    }
    Err(Error::IntegerSize {
        value: rec.is_keys_only(),
        len: key.len(),
        expected,
    })
}

/// Resolve a leaf value to its bytes.
#[inline]
pub(crate) fn value_bytes<'a, S: PageSource + ?Sized>(
    src: &'a S,
    v: LeafValue<'a>,
) -> Result<&'a [u8]> {
    match v {
        LeafValue::Inline(b) => Ok(b),
        LeafValue::Overflow { pgno, len } => src.overflow(pgno, len),
        LeafValue::Dups(_) | LeafValue::Nested(_) => Err(not_plain()),
    }
}

/// The error for a dup-sort entry met by a plain table's read.
#[cold]
fn not_plain() -> Error {
    Error::corrupted(
        Corruption::Layout,
        0,
        "a dup-sort entry (several values or a nested tree) in a plain table",
    )
}

/// Read the node at `pgno` and check it is a leaf exactly when `leaf` says so.
#[inline]
pub(crate) fn node_at<S: PageSource + ?Sized>(src: &S, pgno: u64, leaf: bool) -> Result<Node<'_>> {
    let node = Node::new(src.page(pgno)?, pgno)?;
    if !leaf {
        node.prefetch_slots();
    }
    if node.is_leaf() != leaf {
        return Err(Error::corrupted(
            Corruption::Shape,
            pgno,
            if leaf {
                "branch page where the tree depth expects a leaf"
            } else {
                "leaf page above the bottom level of the tree"
            },
        ));
    }
    Ok(node)
}

/// The record's tree depth, which every descent follows: 1..=`MAX_DEPTH`.
pub(crate) fn checked_depth(rec: &TableRecord) -> Result<usize> {
    let depth = rec.depth as usize;
    if depth == 0 || depth > MAX_DEPTH {
        return Err(Error::corrupted(
            Corruption::Shape,
            rec.root,
            format!("tree depth {depth}"),
        ));
    }
    Ok(depth)
}

/// Whether the descent of `rec`'s tree towards `key` passes through page `target`.
pub(crate) fn descent_visits<S: PageSource + ?Sized>(
    src: &S,
    rec: &TableRecord,
    key: &[u8],
    target: u64,
) -> Result<bool> {
    if rec.root == 0 {
        return Ok(false);
    }
    let depth = checked_depth(rec)?;
    let mut pgno = rec.root;
    for _ in 1..depth {
        if pgno == target {
            return Ok(true);
        }
        let node = node_at(src, pgno, false)?;
        pgno = node.child(node.branch_index(key, rec.key_order())?)?;
    }
    Ok(pgno == target)
}

/// A key by position: page, entry index, and the entry's slot head with the length of
/// the page prefix it follows, so most comparisons need neither the page nor the key.
/// The descent keeps the separators bounding the current page this way.
#[derive(Clone, Copy)]
struct KeyRef {
    page: u64,
    idx: usize,
    head: u32,
    prefix_len: usize,
    /// The head is an integer head ([`page::F_INTEGER_HEADS`]).
    int_head: bool,
}

impl KeyRef {
    #[inline]
    fn at(node: &Node<'_>, idx: usize) -> KeyRef {
        KeyRef {
            page: node.pgno,
            idx,
            head: node.slot_head(idx),
            prefix_len: node.prefix_len(),
            int_head: node.has_integer_heads(),
        }
    }
}

/// What a write checks on its descent, level by level, before it changes anything:
/// on every branch, entry 0's key is empty and the separators next to the chosen child
/// ascend; each chosen child's range (`key(idx)..key(idx + 1)`) lies inside the range
/// the levels above allow; and the leaf's first and last keys lie inside its range. A
/// valid tree always passes (format invariant 4). It costs a few slot reads and prefix
/// comparisons per level on pages the descent has just searched; keys are read only
/// when two prefixes are equal, as in a search.
pub(crate) struct DescentCheck {
    /// The tree's key order.
    order: Order,
    lo: Option<KeyRef>,
    hi: Option<KeyRef>,
    /// A branch on the path has a page prefix, so its search skipped key bytes.
    skipped: bool,
}

impl DescentCheck {
    fn new(order: Order) -> DescentCheck {
        DescentCheck {
            order,
            lo: None,
            hi: None,
            skipped: false,
        }
    }

    /// Branch `node`, where the descent chose child `idx`; narrows the range. The
    /// search put the key in `key(idx)..key(idx + 1)`, so those two are in order and it
    /// is enough to check the lower one against the range's start and the upper one
    /// against its end (or a single one against both).
    #[inline]
    fn branch<S: PageSource + ?Sized>(
        &mut self,
        src: &S,
        node: &Node<'_>,
        idx: usize,
    ) -> Result<()> {
        self.skipped |= node.prefix_len() > 0;
        let (pg, n) = (node.pgno, node.count());
        if node.key_len(0) != 0 {
            return Err(Error::corrupted(
                Corruption::Layout,
                pg,
                "branch entry 0 has a key",
            ));
        }
        let bound = |i: usize| KeyRef::at(node, i);
        // The separators bounding the chosen child.
        let lo = (idx > 0).then(|| bound(idx));
        let hi = (idx + 1 < n).then(|| bound(idx + 1));
        let order = self.order;
        let disorder = match (lo, hi) {
            (Some(l), _) if idx >= 2 && !ascending(order, node, bound(idx - 1), l)? => true,
            (_, Some(h)) if idx + 2 < n && !ascending(order, node, h, bound(idx + 2))? => true,
            _ => false,
        };
        if disorder {
            return Err(Error::corrupted(
                Corruption::Order,
                pg,
                format!("separators around entry {idx} out of order"),
            ));
        }
        if let (Some(first), Some(last)) = (lo.or(hi), hi.or(lo)) {
            if self.outside(src, node, first, last)? {
                return Err(Error::corrupted(
                    Corruption::Order,
                    pg,
                    format!("entry {idx}: separators outside the range the parent gives the page"),
                ));
            }
        }
        self.lo = lo.or(self.lo);
        self.hi = hi.or(self.hi);
        Ok(())
    }

    /// The leaf's search is sound: `key` lies between the separators around the leaf
    /// (so the descent reached the leaf that holds its range, whatever the branch
    /// searches skipped), and the leaf's prefix length claims no more than those
    /// separators share (the leaf search skipped that many bytes of the key).
    #[inline]
    fn leaf_search_sound<S: PageSource + ?Sized>(
        &self,
        src: &S,
        node: &Node<'_>,
        key: &[u8],
    ) -> Result<()> {
        let plen = node.prefix_len();
        if plen == 0 && !self.skipped {
            // Every search on the path compared whole keys from their first byte.
            return Ok(());
        }
        let lo = self.lo.map(|b| bound_key(src, b)).transpose()?;
        let hi = self.hi.map(|b| bound_key(src, b)).transpose()?;
        let order = self.order;
        if lo.is_some_and(|lo| order.less(key, lo)) || hi.is_some_and(|hi| !order.less(key, hi)) {
            return Err(Error::corrupted(
                Corruption::Order,
                node.pgno,
                "the descent reached a leaf whose separators do not hold the key",
            ));
        }
        if plen == 0 {
            return Ok(());
        }
        let shared = match (lo, hi) {
            (Some(lo), Some(hi)) => common_prefix(lo, hi),
            _ => 0,
        };
        if plen > shared {
            return Err(Error::corrupted(
                Corruption::Order,
                node.pgno,
                format!(
                    "page prefix of {plen} bytes, but the separators around the page share \
                     {shared}"
                ),
            ));
        }
        Ok(())
    }

    /// The leaf the descent towards `key` reached.
    #[inline]
    fn leaf<S: PageSource + ?Sized>(&self, src: &S, node: &Node<'_>, key: &[u8]) -> Result<()> {
        self.leaf_search_sound(src, node, key)?;
        let at = |i: usize| KeyRef::at(node, i);
        if self.outside(src, node, at(0), at(node.count() - 1))? {
            return Err(Error::corrupted(
                Corruption::Order,
                node.pgno,
                "leaf keys outside the range the parent gives the page",
            ));
        }
        Ok(())
    }

    /// Whether entry `first` of `node` sorts below the range, or entry `last` at or
    /// above its end.
    #[inline]
    fn outside<S: PageSource + ?Sized>(
        &self,
        src: &S,
        node: &Node<'_>,
        first: KeyRef,
        last: KeyRef,
    ) -> Result<bool> {
        use std::cmp::Ordering::Less;
        if let Some(b) = self.lo {
            if cmp_bound(self.order, src, node, first, b)? == Less {
                return Ok(true);
            }
        }
        if let Some(b) = self.hi {
            if cmp_bound(self.order, src, node, last, b)? != Less {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A write's leaf has the layout its tree's record says: keys only in a nested tree,
/// entries with values elsewhere. A damaged record pointing a nested tree at another
/// tree's pages (or the reverse) is refused before an entry of the wrong layout goes in.
#[inline]
pub(crate) fn leaf_layout(rec: &TableRecord, node: &Node<'_>) -> Result<()> {
    if node.is_keys_only() == rec.is_keys_only() {
        return Ok(());
    }
    Err(Error::corrupted(
        Corruption::Shape,
        node.pgno,
        if rec.is_keys_only() {
            "a nested tree reaches a leaf with values"
        } else {
            "a table reaches a leaf of keys only"
        },
    ))
}

/// The key a bound refers to.
fn bound_key<S: PageSource + ?Sized>(src: &S, b: KeyRef) -> Result<&[u8]> {
    Node::new(src.page(b.page)?, b.page)?.key(b.idx)
}

/// Compare entry `e` of `node` with the key `b` (one of the separators around `node`,
/// or an entry of it), by slot head when the heads follow prefixes of the same length
/// and differ: `node`'s keys and its separators share its prefix, so the heads then
/// compare the bytes right after what both keys share. (A damaged prefix length can
/// make this miss damage elsewhere on the path, never misplace the write: the leaf's
/// search is checked against the separators themselves, `leaf_search_sound`.)
#[inline]
fn cmp_bound<S: PageSource + ?Sized>(
    order: Order,
    src: &S,
    node: &Node<'_>,
    e: KeyRef,
    b: KeyRef,
) -> Result<std::cmp::Ordering> {
    if e.head != b.head && heads_comparable(order, e, b) {
        return Ok(e.head.cmp(&b.head));
    }
    cmp_bound_keys(order, src, node, e.idx, b)
}

/// Whether the slot heads of `a` and `b` order them as `order` does: bytewise heads
/// after prefixes of the same length (or on one page), or integer heads in integer
/// order.
#[inline]
fn heads_comparable(order: Order, a: KeyRef, b: KeyRef) -> bool {
    match (a.int_head, b.int_head) {
        (false, false) => order.is_bytewise() && (a.page == b.page || a.prefix_len == b.prefix_len),
        (true, true) => order == Order::Integer,
        _ => false,
    }
}

/// `cmp_bound` when the heads do not decide: compare the keys.
#[cold]
#[inline(never)]
fn cmp_bound_keys<S: PageSource + ?Sized>(
    order: Order,
    src: &S,
    node: &Node<'_>,
    i: usize,
    b: KeyRef,
) -> Result<std::cmp::Ordering> {
    Ok(order.cmp(node.key(i)?, bound_key(src, b)?))
}

/// Whether entry `a` of `node` sorts before entry `b` (both given with their slot
/// heads), by head when they differ.
#[inline]
fn ascending(order: Order, node: &Node<'_>, a: KeyRef, b: KeyRef) -> Result<bool> {
    use std::cmp::Ordering::{Equal, Less};
    match a.head.cmp(&b.head) {
        o if o != Equal && heads_comparable(order, a, b) => Ok(o == Less),
        _ => ascending_keys(order, node, a.idx, b.idx),
    }
}

/// `ascending` for equal heads: compare the keys.
#[cold]
#[inline(never)]
fn ascending_keys(order: Order, node: &Node<'_>, a: usize, b: usize) -> Result<bool> {
    Ok(order.less(node.key(a)?, node.key(b)?))
}

/// A branch page just copied from a committed one (`pg`, now dirty) must point at
/// distinct children: a child listed twice would be copied or freed through one entry
/// while the other still points at it. Once per branch page a transaction copies: the
/// children go through a 8,192-bit filter on the stack, and only a page number whose
/// bit is already set is compared with the children before it (for 4 KiB pages about
/// one per page).
fn check_distinct_children(p: &impl PageWrite, pg: u64) -> Result<()> {
    const BITS: usize = 8192;
    let node = Node::new(p.page(pg)?, pg)?;
    let n = node.count();
    let twice = |c: u64| {
        Error::corrupted(
            Corruption::Shape,
            c,
            format!("page reachable twice: branch page {pg} points at it twice"),
        )
    };
    if n > 512 {
        // Pages larger than 16 KiB: the filter would fill up; sort instead.
        let mut children = (0..n)
            .map(|i| node.child(i))
            .collect::<Result<Vec<u64>>>()?;
        children.sort_unstable();
        return match children.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(twice(w[0])),
            None => Ok(()),
        };
    }
    let mut seen = [0u64; BITS / 64];
    for i in 0..n {
        let c = node.child(i)?;
        let bit = (c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 51) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if seen[word] & mask != 0 {
            for j in 0..i {
                if node.child(j)? == c {
                    return Err(twice(c));
                }
            }
        }
        seen[word] |= mask;
    }
    Ok(())
}

/// Make child `child` of the dirty branch `parent` writable (see [`PageWrite::touch`]).
/// `parent_copied`: `parent` was copied from a committed page by this descent, so its
/// children are committed pages, which a transaction never owns yet: one that is
/// already dirty is also a page this transaction allocated, reached through a second
/// parent. `branch`: the child is a branch page (checked for distinct children when
/// copied). Returns the child's writable number and whether it was copied now.
fn touch_child(
    p: &mut impl PageWrite,
    parent: u64,
    parent_copied: bool,
    child: u64,
    branch: bool,
) -> Result<(u64, bool)> {
    let new_child = p.touch(child)?;
    let copied = new_child != child;
    if !copied && parent_copied {
        return Err(Error::corrupted(
            Corruption::Shape,
            child,
            format!(
                "page reachable twice: committed branch page {parent} points at a page this \
                 transaction already uses"
            ),
        ));
    }
    if copied && branch {
        check_distinct_children(p, new_child)?;
    }
    Ok((new_child, copied))
}

/// Make the root of `rec` writable, updating the record; returns whether it was copied.
fn touch_root(p: &mut impl PageWrite, rec: &mut TableRecord, depth: usize) -> Result<bool> {
    let root = p.touch(rec.root)?;
    let copied = root != rec.root;
    rec.root = root;
    if copied && depth > 1 {
        check_distinct_children(p, root)?;
    }
    Ok(copied)
}

/// The leaf that would hold `key`.
pub(crate) fn find_leaf<'a, S: PageSource + ?Sized>(
    src: &'a S,
    rec: &TableRecord,
    key: &[u8],
) -> Result<Option<Node<'a>>> {
    if rec.root == 0 {
        return Ok(None);
    }
    let depth = checked_depth(rec)?;
    let order = rec.key_order();
    let mut pgno = rec.root;
    for _ in 1..depth {
        let node = node_at(src, pgno, false)?;
        pgno = node.child(node.branch_index(key, order)?)?;
    }
    node_at(src, pgno, true).map(Some)
}

/// Point lookup.
#[inline]
pub(crate) fn get<'a, S: PageSource + ?Sized>(
    src: &'a S,
    rec: &TableRecord,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    let Some(leaf) = find_leaf(src, rec, key)? else {
        return Ok(None);
    };
    match leaf.search(key, rec.key_order())? {
        (i, true) => value_bytes(src, leaf.leaf_value(i)?).map(Some),
        _ => Ok(None),
    }
}

/// Point lookup of the entry as stored (dup-sort tables decode it themselves), with
/// the leaf page holding it.
pub(crate) fn get_raw<'a, S: PageSource + ?Sized>(
    src: &'a S,
    rec: &TableRecord,
    key: &[u8],
) -> Result<Option<(LeafValue<'a>, u64)>> {
    let Some(leaf) = find_leaf(src, rec, key)? else {
        return Ok(None);
    };
    match leaf.search(key, rec.key_order())? {
        (i, true) => Ok(Some((leaf.leaf_value(i)?, leaf.pgno))),
        _ => Ok(None),
    }
}

/// How `put` treats an existing key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutMode {
    /// Insert or overwrite.
    Upsert,
    /// Fail with `KeyExists` if present.
    NoOverwrite,
    /// The key must sort after every key in the table (fast sorted loads).
    Append,
}

/// (branch page, child index) per level of a descent, root first; `MAX_DEPTH` bounds it,
/// so a write records its path without allocating.
pub(crate) type Path = [(u64, usize); MAX_DEPTH];

/// Copy the path to `key` on write, recording (branch page, index) per level in `path`;
/// returns the number of branch levels, the leaf's writable page and the descent's
/// checks so far (the caller checks the leaf when it looks at it).
fn cow_path(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    path: &mut Path,
) -> Result<(usize, u64, DescentCheck)> {
    cow_path_to(p, rec, Some(key), path)
}

/// [`cow_path`] to the leaf that would hold `key`, or to the first leaf (`None`).
pub(crate) fn cow_path_to(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: Option<&[u8]>,
    path: &mut Path,
) -> Result<(usize, u64, DescentCheck)> {
    let depth = checked_depth(rec)?;
    let mut copied = touch_root(p, rec, depth)?;
    let mut pg = rec.root;
    let mut check = DescentCheck::new(rec.key_order());
    for (level, slot) in path.iter_mut().take(depth - 1).enumerate() {
        let (idx, child) = {
            let node = node_at(p, pg, false)?;
            let idx = match key {
                Some(key) => node.branch_index(key, check.order)?,
                None => 0,
            };
            check.branch(p, &node, idx)?;
            (idx, node.child(idx)?)
        };
        let (new_child, child_copied) = touch_child(p, pg, copied, child, level + 2 < depth)?;
        if child_copied {
            page::set_child(p.page_mut(pg)?, pg, idx, new_child)?;
        }
        *slot = (pg, idx);
        pg = new_child;
        copied = child_copied;
    }
    Ok((depth - 1, pg, check))
}

/// Insert or overwrite `key`. Returns true if the key was new.
pub(crate) fn put(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
    mode: PutMode,
) -> Result<bool> {
    put_tagged(p, rec, key, value, mode, 0)
}

/// A value being put: its bytes, or a reservation of that many bytes (zeroed) for the
/// caller to fill in place ([`reserved_mut`]).
#[derive(Clone, Copy)]
pub(crate) enum NewValue<'v> {
    Bytes(&'v [u8]),
    Reserve(usize),
}

impl NewValue<'_> {
    fn len(&self) -> usize {
        match self {
            NewValue::Bytes(b) => b.len(),
            NewValue::Reserve(n) => *n,
        }
    }
}

/// Zero bytes for a reservation that fits inline (at most a page's worth).
static ZEROS: [u8; crate::format::meta::MAX_PAGE_SIZE] = [0; crate::format::meta::MAX_PAGE_SIZE];

/// Put a zeroed value of `len` bytes under `key` (a plain table's), to be filled in
/// place through [`reserved_mut`]: inline in its leaf, or an overflow run kept in memory
/// until commit ([`PageWrite::reserve_overflow`]). Returns true if the key was new.
pub(crate) fn put_reserved(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    len: usize,
) -> Result<bool> {
    put_value(p, rec, key, NewValue::Reserve(len), PutMode::Upsert, 0)
}

/// The bytes of `key`'s value for writing in place: the value must be in a page or run
/// this transaction owns, as [`put_reserved`] leaves it.
pub(crate) fn reserved_mut<'p>(
    p: &'p mut impl PageWrite,
    rec: &TableRecord,
    key: &[u8],
) -> Result<&'p mut [u8]> {
    let missing = || Error::Internal("a reserved value is not where it was put".into());
    let (pgno, at, len, run) = {
        let leaf = find_leaf(&*p, rec, key)?.ok_or_else(missing)?;
        let (i, found) = leaf.search(key, rec.key_order())?;
        if !found {
            return Err(missing());
        }
        match leaf.leaf_value(i)? {
            LeafValue::Inline(b) => {
                let at = b.as_ptr() as usize - leaf.bytes().as_ptr() as usize;
                (leaf.pgno, at, b.len(), false)
            }
            LeafValue::Overflow { pgno, len } => (pgno, page::HEADER, len, true),
            _ => return Err(missing()),
        }
    };
    if run && !p.is_dirty(pgno) {
        return Err(missing());
    }
    p.page_mut(pgno)?.get_mut(at..at + len).ok_or_else(missing)
}

/// Insert or overwrite `key` with an entry of flag `tag` (`F_DUPS`, `F_NESTED`: a
/// dup-sort table's block or nested record, which must fit inline) or 0 (a plain value,
/// in an overflow run when large). Returns true if the key was new.
pub(crate) fn put_tagged(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
    mode: PutMode,
    tag: u8,
) -> Result<bool> {
    put_value(p, rec, key, NewValue::Bytes(value), mode, tag)
}

/// Where the last append into a table ended: the rightmost path, every page of it owned
/// by the transaction, and the table's record as that append left it. Valid only while
/// nothing else changed the table: [`append`] uses it only when the record is still
/// that one and every page is still where it was, and the caller drops it at any other
/// write.
#[derive(Clone, Copy)]
pub(crate) struct AppendHint {
    path: Path,
    levels: usize,
    leaf: u64,
    rec: TableRecord,
}

/// Append `key` (greater than every key of the table; `Error::KeyNotGreater` otherwise),
/// as `put` in `PutMode::Append` does, but without descending from the root when `hint`
/// still names the rightmost path: sorted loads and compacting copies then cost one
/// look at the last leaf per entry. `hint` is renewed for the next append (or cleared).
pub(crate) fn append(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
    hint: &mut Option<AppendHint>,
) -> Result<bool> {
    // The hint is renewed in place: it is a few hundred bytes, not worth copying per entry.
    if let Some(h) = hint.as_mut().filter(|h| h.rec == *rec) {
        match append_along(p, rec, key, value, h) {
            Ok(Some(false)) => {
                h.rec = *rec;
                return Ok(true);
            }
            Ok(None) => {}
            done => {
                *hint = None;
                return done.map(|_| true);
            }
        }
    }
    *hint = None;
    put_value_hinted(
        p,
        rec,
        key,
        NewValue::Bytes(value),
        PutMode::Append,
        0,
        Some(hint),
    )
}

/// The hinted append: `None` (changing nothing) when the path is not the rightmost one
/// of this transaction's pages any more, so the caller takes the whole descent; else
/// whether the append split a page (which changes the path).
fn append_along(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
    h: &AppendHint,
) -> Result<Option<bool>> {
    let order = rec.key_order();
    if rec.root == 0 || !order.searchable() || h.levels + 1 != checked_depth(rec)? {
        return Ok(None);
    }
    // Every branch on the path is ours and leads through its last child to the next.
    let mut expect = rec.root;
    for &(pg, idx) in &h.path[..h.levels] {
        if pg != expect || !p.is_dirty(pg) {
            return Ok(None);
        }
        let node = Node::new(p.page(pg)?, pg)?;
        if node.is_leaf() || node.count() != idx + 1 {
            return Ok(None);
        }
        expect = node.child(idx)?;
    }
    if expect != h.leaf || !p.is_dirty(h.leaf) {
        return Ok(None);
    }
    check_key(key, p.page_size())?;
    check_key_size(rec, None, key)?;
    if value.len() > u32::MAX as usize {
        return Err(Error::ValueTooLarge { len: value.len() });
    }
    let count = {
        let node = node_at(p, h.leaf, true)?;
        // The rightmost leaf has no upper separator, so no page prefix (`split_prefixes`).
        if node.count() == 0 || node.prefix_len() != 0 {
            return Ok(None);
        }
        leaf_layout(rec, &node)?;
        if order.cmp(key, node.key(node.count() - 1)?) != std::cmp::Ordering::Greater {
            return Err(Error::KeyNotGreater);
        }
        check_key_size(rec, Some(&node), key)?;
        node.count()
    };
    rec.entries += 1;
    let body = leaf_body(p, rec, key, NewValue::Bytes(value), 0)?;
    let shape = (rec.root, rec.depth, rec.leaf_pages, rec.branch_pages);
    insert_up(p, rec, &h.path[..h.levels], h.leaf, count, key, body)?;
    // Without a split the path is unchanged (a shift to the left neighbour keeps it).
    Ok(Some(
        shape != (rec.root, rec.depth, rec.leaf_pages, rec.branch_pages),
    ))
}

/// [`put_tagged`] of a value given as bytes or reserved.
fn put_value(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: NewValue<'_>,
    mode: PutMode,
    tag: u8,
) -> Result<bool> {
    put_value_hinted(p, rec, key, value, mode, tag, None)
}

/// [`put_value`], leaving in `hint` (when given) the path of an append that did not
/// split, for the next [`append`].
fn put_value_hinted(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: NewValue<'_>,
    mode: PutMode,
    tag: u8,
    hint: Option<&mut Option<AppendHint>>,
) -> Result<bool> {
    check_key(key, p.page_size())?;
    check_key_size(rec, None, key)?;
    if tag != 0 && value.len() > max_inline_value(p.page_size(), key.len()) {
        return Err(Error::Internal(format!(
            "an entry of flag {tag:#x} and {} bytes does not fit inline",
            value.len()
        )));
    }
    if value.len() > u32::MAX as usize {
        return Err(Error::ValueTooLarge { len: value.len() });
    }
    if rec.root == 0 {
        let body = leaf_body(p, rec, key, value, tag)?;
        let pg = p.alloc_node(PageKind::Leaf, rec)?;
        if rec.is_keys_only() {
            let mut h = page::header_mut(p.page_mut(pg)?);
            let flags = h.read().flags();
            h.set_flags(flags | page::F_KEYS_ONLY);
        }
        node_insert(p.page_mut(pg)?, 0, key, &body.pieces());
        rec.root = pg;
        rec.depth = 1;
        rec.entries = 1;
        return Ok(true);
    }
    let mut path = [(0u64, 0usize); MAX_DEPTH];
    let (levels, leaf, check) = cow_path(p, rec, key, &mut path)?;
    let path = &path[..levels];
    // One look at the leaf: where the key goes, and the overflow run it replaces.
    let (idx, found, count, old_run) = {
        let node = node_at(p, leaf, true)?;
        check.leaf(p, &node, key)?;
        leaf_layout(rec, &node)?;
        let (idx, found) = node.search(key, check.order)?;
        if !found {
            check_key_size(rec, Some(&node), key)?;
        }
        let old_run = match found.then(|| node.leaf_value(idx)).transpose()? {
            Some(LeafValue::Overflow { pgno, len }) => Some((pgno, len)),
            _ => None,
        };
        (idx, found, node.count(), old_run)
    };
    if found {
        match mode {
            PutMode::NoOverwrite => return Err(Error::KeyExists),
            PutMode::Append => return Err(Error::KeyNotGreater),
            PutMode::Upsert => {}
        }
        if let Some((pgno, len)) = old_run {
            p.free_overflow(pgno, len, rec)?;
        }
        node_remove(p.page_mut(leaf)?, idx);
    } else {
        if mode == PutMode::Append
            && (idx != count || path.iter().any(|&(pg, i)| !is_last_child(p, pg, i)))
        {
            return Err(Error::KeyNotGreater);
        }
        rec.entries += 1;
    }
    let body = leaf_body(p, rec, key, value, tag)?;
    let shape = (rec.root, rec.depth, rec.leaf_pages, rec.branch_pages);
    insert_up(p, rec, path, leaf, idx, key, body)?;
    if let Some(hint) = hint {
        let split = shape != (rec.root, rec.depth, rec.leaf_pages, rec.branch_pages);
        *hint = (mode == PutMode::Append && !split).then(|| {
            let mut kept = [(0u64, 0usize); MAX_DEPTH];
            kept[..levels].copy_from_slice(path);
            AppendHint {
                path: kept,
                levels,
                leaf,
                rec: *rec,
            }
        });
    }
    Ok(!found)
}

/// An entry's value bytes held apart from their page: on the stack when short (a
/// nested tree's record, a small value), so most dup-sort writes allocate nothing.
pub(crate) type EntryBytes = SmallBytes<64>;

/// A leaf entry's value as stored, copied out of its page (which the caller's update
/// may change).
pub(crate) enum StoredValue {
    /// Flag byte (0, `F_DUPS`, `F_NESTED`) and the inline bytes.
    Inline(u8, EntryBytes),
    /// An overflow run: first page and length.
    Overflow(u64, usize),
}

/// What [`update_with`] does with the entry.
pub(crate) enum Update {
    /// Leave it as it is.
    Keep,
    /// Store this inline value with this flag byte.
    Put(u8, EntryBytes),
    /// Remove the key.
    Delete,
}

/// Insert, replace or remove `key`'s entry in one descent: `f` gets the pages and the
/// record (for work of its own elsewhere in the file, e.g. a nested tree) and the entry
/// as stored, and says what becomes of it (`f`'s result travels back alongside). A
/// replacement of the same size and flag is written in place. `f` must not change this
/// tree's pages (the path to the leaf is copied on write before `f` runs). A new value
/// must fit inline.
pub(crate) fn update_with<P: PageWrite, T>(
    p: &mut P,
    rec: &mut TableRecord,
    key: &[u8],
    f: impl FnOnce(&mut P, &mut TableRecord, Option<StoredValue>) -> Result<(Update, T)>,
) -> Result<T> {
    check_key(key, p.page_size())?;
    check_key_size(rec, None, key)?;
    if rec.root == 0 {
        let (new, out) = f(p, rec, None)?;
        if let Update::Put(tag, bytes) = new {
            put_tagged(p, rec, key, &bytes, PutMode::Upsert, tag)?;
        }
        return Ok(out);
    }
    let mut path = [(0u64, 0usize); MAX_DEPTH];
    let (levels, leaf, check) = cow_path(p, rec, key, &mut path)?;
    let path = &path[..levels];
    let (idx, old, span) = {
        let node = node_at(p, leaf, true)?;
        check.leaf(p, &node, key)?;
        leaf_layout(rec, &node)?;
        let (idx, found) = node.search(key, check.order)?;
        if !found {
            check_key_size(rec, Some(&node), key)?;
        }
        if found {
            let (_, value) = node.leaf_entry(idx)?;
            let old = match value {
                LeafValue::Inline(b) => StoredValue::Inline(0, EntryBytes::new(b)),
                LeafValue::Dups(b) => StoredValue::Inline(page::F_DUPS, EntryBytes::new(b)),
                LeafValue::Nested(b) => StoredValue::Inline(page::F_NESTED, EntryBytes::new(b)),
                LeafValue::Overflow { pgno, len } => StoredValue::Overflow(pgno, len),
            };
            (idx, Some(old), Some(node.entry_span(idx)?))
        } else {
            (idx, None, None)
        }
    };
    let old_shape = match &old {
        Some(StoredValue::Inline(t, b)) => Some((*t, b.len())),
        _ => None,
    };
    let old_run = match &old {
        Some(StoredValue::Overflow(pgno, len)) => Some((*pgno, *len)),
        _ => None,
    };
    let (new, out) = f(p, rec, old)?;
    let (tag, bytes) = match new {
        Update::Keep => return Ok(out),
        Update::Delete => {
            if span.is_some() {
                if let Some((pgno, len)) = old_run {
                    p.free_overflow(pgno, len, rec)?;
                }
                node_remove(p.page_mut(leaf)?, idx);
                rec.entries = rec.entries.saturating_sub(1);
                rebalance(p, rec, path, leaf)?;
            }
            return Ok(out);
        }
        Update::Put(tag, bytes) => (tag, bytes),
    };
    if bytes.len() > max_inline_value(p.page_size(), key.len()) {
        return Err(Error::Internal(format!(
            "an updated entry of {} bytes does not fit inline",
            bytes.len()
        )));
    }
    if let (Some((off, len)), true) = (span, old_shape == Some((tag, bytes.len()))) {
        // Same flag and length: overwrite the value bytes where they are.
        let page = p.page_mut(leaf)?;
        let start = off + len - bytes.len();
        page[off + key.len()] = tag;
        page[start..off + len].copy_from_slice(&bytes);
        return Ok(out);
    }
    if let (Some((off, len)), None) = (span, old_run) {
        let new_len = key.len() + LEAF_ENTRY_HEAD + bytes.len();
        if new_len <= len {
            // Shorter: rewrite the entry where it starts; its old tail becomes a hole.
            let page = p.page_mut(leaf)?;
            let at = off + key.len();
            page[at] = tag;
            page[at + 1..at + LEAF_ENTRY_HEAD].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            page[at + LEAF_ENTRY_HEAD..off + new_len].copy_from_slice(&bytes);
            page::add_holes(page, len - new_len);
            return Ok(out);
        }
    }
    if let Some((pgno, len)) = old_run {
        p.free_overflow(pgno, len, rec)?;
    }
    if span.is_some() {
        node_remove(p.page_mut(leaf)?, idx);
    } else {
        rec.entries += 1;
    }
    let mut head = [0u8; LEAF_ENTRY_HEAD + 8];
    head[0] = tag;
    head[1..5].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    let body = LeafBody {
        head,
        head_len: LEAF_ENTRY_HEAD,
        value: &bytes,
    };
    insert_up(p, rec, path, leaf, idx, key, body)?;
    Ok(out)
}

fn is_last_child(p: &impl PageWrite, pg: u64, i: usize) -> bool {
    p.page(pg)
        .map(|b| header_count(b) == i + 1)
        .unwrap_or(false)
}

/// A leaf entry's body (everything after the key) in two pieces, so the common insert
/// copies the value straight from the caller into the page without an interim buffer.
struct LeafBody<'v> {
    /// Flags, value length and, for an overflow value, its first page.
    head: [u8; LEAF_ENTRY_HEAD + 8],
    head_len: usize,
    /// The inline value (empty for an overflow value).
    value: &'v [u8],
}

impl LeafBody<'_> {
    fn pieces(&self) -> [&[u8]; 2] {
        [&self.head[..self.head_len], self.value]
    }

    fn to_vec(&self) -> Vec<u8> {
        [&self.head[..self.head_len], self.value].concat()
    }
}

/// The bytes after the key in a leaf entry of flag `tag`, writing an overflow run if a
/// plain value (`tag` 0) is big.
fn leaf_body<'v>(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    new: NewValue<'v>,
    tag: u8,
) -> Result<LeafBody<'v>> {
    let len = new.len();
    let value: &'v [u8] = match new {
        NewValue::Bytes(b) => b,
        NewValue::Reserve(n) => ZEROS.get(..n).unwrap_or_default(),
    };
    let mut head = [0u8; LEAF_ENTRY_HEAD + 8];
    if rec.is_keys_only() {
        // A nested tree's leaves hold keys only.
        if len != 0 || tag != 0 {
            return Err(Error::Internal("a value for a tree of keys only".into()));
        }
        return Ok(LeafBody {
            head,
            head_len: 0,
            value,
        });
    }
    head[0] = tag;
    head[1..5].copy_from_slice(&(len as u32).to_le_bytes());
    if len <= max_inline_value(p.page_size(), key.len()) {
        return Ok(LeafBody {
            head,
            head_len: LEAF_ENTRY_HEAD,
            value,
        });
    }
    let pgno = match new {
        NewValue::Bytes(b) => p.write_overflow(b, rec)?,
        NewValue::Reserve(n) => p.reserve_overflow(n, rec)?,
    };
    head[0] = F_OVERFLOW;
    head[LEAF_ENTRY_HEAD..].copy_from_slice(&pgno.to_le_bytes());
    Ok(LeafBody {
        head,
        head_len: LEAF_ENTRY_HEAD + 8,
        value: &[],
    })
}

/// Insert a leaf entry at `idx` of leaf `pg` (below the branch levels in `path`),
/// moving entries to a neighbour or splitting upward when it does not fit.
fn insert_up(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    path: &[(u64, usize)],
    mut pg: u64,
    mut idx: usize,
    key: &[u8],
    body: LeafBody<'_>,
) -> Result<()> {
    if node_insert(p.page_mut(pg)?, idx, key, &body.pieces()) {
        return Ok(());
    }
    let mut body = body.to_vec();
    let mut level = path.len();
    if level > 0 && shift_to_sibling(p, rec.key_order(), path[level - 1], pg, idx, key, &body)? {
        return Ok(());
    }
    let mut key = Cow::Borrowed(key);
    let mut leaf = true;
    loop {
        let (sep, right) = split(p, rec, &path[..level], pg, idx, &key, &body, leaf)?;
        if level == 0 {
            let root = p.alloc_node(PageKind::Branch, rec)?;
            let page = p.page_mut(root)?;
            node_insert(page, 0, b"", &[&pg.to_le_bytes()]);
            node_insert(page, 1, &sep, &[&right.to_le_bytes()]);
            rec.root = root;
            rec.depth += 1;
            if rec.depth as usize > MAX_DEPTH {
                return Err(Error::Invalid("tree would exceed the maximum depth".into()));
            }
            return Ok(());
        }
        level -= 1;
        let (parent, pidx) = path[level];
        pg = parent;
        idx = pidx + 1;
        key = Cow::Owned(sep);
        body = right.to_le_bytes().to_vec();
        leaf = false;
        if node_insert(p.page_mut(pg)?, idx, &key, &[&body]) {
            return Ok(());
        }
    }
}

/// Shortest page prefix a split records. A shorter one moves the slot heads by fewer
/// bytes than a head holds, so they discriminate about as well without it (random keys
/// share a byte or two per page), while any prefix makes the writes' descent check
/// compare keys where heads after prefixes of different lengths cannot decide. Zero is
/// always a valid length.
const MIN_PREFIX: usize = 4;

/// The page prefixes of the two halves of a page split at separator `sep`: what each
/// half's separators share, the page's own (from its ancestors in `path`, root first)
/// and `sep`. A half at an edge of the tree (no separator on that side) gets none, and
/// one whose separators share fewer than [`MIN_PREFIX`] bytes gets none.
fn split_prefixes(
    p: &impl PageWrite,
    order: Order,
    path: &[(u64, usize)],
    sep: &[u8],
) -> Result<(usize, usize)> {
    if !order.is_bytewise() {
        // Keys between two separators share no leading bytes in other orders.
        return Ok((0, 0));
    }
    let (mut left, mut right) = (None, None);
    for &(pg, idx) in path.iter().rev() {
        let node = Node::new(p.page(pg)?, pg)?;
        if left.is_none() && idx > 0 {
            left = Some(common_prefix(node.key(idx)?, sep));
        }
        if right.is_none() && idx + 1 < node.count() {
            right = Some(common_prefix(sep, node.key(idx + 1)?));
        }
        if left.is_some() && right.is_some() {
            break;
        }
    }
    let worth = |shared: Option<usize>| shared.filter(|&n| n >= MIN_PREFIX).unwrap_or(0);
    Ok((worth(left), worth(right)))
}

/// Split `pg` (below the branch levels in `path`) while inserting (key, body) at `idx`;
/// `pg` keeps the left half. Returns the separator for the parent and the new right page.
#[allow(clippy::too_many_arguments)]
fn split(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    path: &[(u64, usize)],
    pg: u64,
    idx: usize,
    key: &[u8],
    body: &[u8],
    leaf: bool,
) -> Result<(Vec<u8>, u64)> {
    let order = rec.key_order();
    // One copy of the page; every entry is then a borrowed slice of it.
    let old = p.page(pg)?.to_vec();
    let node = Node::new(&old, pg)?;
    if node.is_leaf() != leaf {
        return Err(Error::corrupted(
            Corruption::Shape,
            pg,
            "page kind changed during a split",
        ));
    }
    let mut items = entries(&node)?;
    let n = items.len();
    items.insert(idx, Item { key, body });
    // Inserting past the last entry (ascending loads) keeps the left page full;
    // inserting before the first (descending loads) keeps the right page full.
    let m = if idx == n {
        n
    } else if (idx == 0 && leaf) || (idx == 1 && !leaf) {
        // (In a branch the new entry lands right after the minus-infinity entry.)
        1
    } else {
        split_point(&items)
    };
    let mut right_items = items.split_off(m);
    let kind = if leaf {
        PageKind::Leaf
    } else {
        PageKind::Branch
    };
    let sep = if leaf {
        let last = items.last().map(|e| e.key).unwrap_or(b"");
        shortest_separator(order, last, right_items[0].key)
    } else {
        let sep = right_items[0].key.to_vec();
        right_items[0].key = b"";
        sep
    };
    let (left_prefix, right_prefix) = split_prefixes(p, order, path, &sep)?;
    let right = p.alloc_node(kind, rec)?;
    if node.is_keys_only() {
        // The new half keeps the layout of the page it comes from.
        let mut h = page::header_mut(p.page_mut(right)?);
        let flags = h.read().flags();
        h.set_flags(flags | page::F_KEYS_ONLY);
    }
    let txnid = p.txnid();
    build(p.page_mut(pg)?, kind, pg, txnid, &items, left_prefix)?;
    build(
        p.page_mut(right)?,
        kind,
        right,
        txnid,
        &right_items,
        right_prefix,
    )?;
    Ok((sep, right))
}

/// Room a shift must leave in each of the two pages, so the next inserts do not have to
/// shift again at once.
fn shift_slack(page_size: usize) -> usize {
    usable(page_size) / 6
}

/// Instead of splitting full leaf `pg`, move some of its entries (counting the new
/// one) to a neighbour under the same parent (`parent`, with `pg` at index `pidx`) when
/// that neighbour is already dirty (so this costs no extra page write) and both end up
/// with room to spare. Large transactions (bulk loads) then fill leaves to about 76%
/// instead of the 65% that plain splits of random inserts left. Returns false,
/// changing nothing, when no neighbour qualifies.
#[allow(clippy::too_many_arguments)]
fn shift_to_sibling(
    p: &mut impl PageWrite,
    order: Order,
    (parent, pidx): (u64, usize),
    pg: u64,
    idx: usize,
    key: &[u8],
    body: &[u8],
) -> Result<bool> {
    let limit = 2 * (usable(p.page_size()) - shift_slack(p.page_size()));
    let candidates = {
        let pnode = node_at(p, parent, false)?;
        let left = pidx.checked_sub(1).map(|i| pnode.child(i));
        let right = (pidx + 1 < pnode.count()).then(|| pnode.child(pidx + 1));
        [(false, left), (true, right)]
    };
    let mut sibs = [(false, 0u64, 0usize); 2];
    let mut found = 0;
    for (to_right, sib) in candidates {
        if let Some(sib) = sib.transpose()? {
            if p.is_dirty(sib) {
                sibs[found] = (to_right, sib, live_bytes_quick(p.page(sib)?));
                found += 1;
            }
        }
    }
    // Which neighbours could take entries, judged from byte counts before copying
    // anything (an estimate never below the exact count: see `live_bytes_quick`).
    let own_estimate = live_bytes_quick(p.page(pg)?) + page::entry_cost(key, body.len());
    let mut kept = 0;
    for i in 0..found {
        let sib_live = sibs[i].2;
        if own_estimate + sib_live <= limit && own_estimate > sib_live {
            sibs[kept] = sibs[i];
            kept += 1;
        }
    }
    if kept == 0 {
        return Ok(false);
    }
    let sibs = &mut sibs[..kept];
    // The emptier neighbour first.
    sibs.sort_by_key(|s| s.2);
    // One copy of the page; its entries (with the new one) are borrowed from it.
    let old = p.page(pg)?.to_vec();
    let node = Node::new(&old, pg)?;
    let mut items = entries(&node)?;
    items.insert(idx, Item { key, body });
    let own: usize = items.iter().map(Item::cost).sum();
    for &(to_right, sib, sib_live) in sibs.iter() {
        if own + sib_live > limit || own <= sib_live {
            continue;
        }
        let shift = Shift {
            order,
            parent,
            pidx,
            pg,
            sib,
            sib_live,
            to_right,
        };
        if shift.run(p, (own - sib_live) / 2, &items, own)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One move of entries from leaf `pg` into its neighbour `sib` (right of it when
/// `to_right`), both children of `parent`.
struct Shift {
    order: Order,
    parent: u64,
    pidx: usize,
    pg: u64,
    sib: u64,
    sib_live: usize,
    to_right: bool,
}

impl Shift {
    /// Move about `want` bytes: from the end of `pg` (`items`, new entry included, `total`
    /// bytes) to the
    /// start of a right neighbour, or from its start to the end of a left one; then fix
    /// the parent's separator. False, changing nothing, if the result would not fit.
    fn run(
        &self,
        p: &mut impl PageWrite,
        want: usize,
        items: &[Item<'_>],
        total: usize,
    ) -> Result<bool> {
        let n = items.len();
        let (mut cut, mut moved) = if self.to_right { (n, 0) } else { (0, 0) };
        while moved < want {
            if self.to_right && cut > 1 {
                cut -= 1;
                moved += items[cut].cost();
            } else if !self.to_right && cut + 1 < n {
                moved += items[cut].cost();
                cut += 1;
            } else {
                break;
            }
        }
        let room = usable(p.page_size());
        if cut == 0 || cut == n || total - moved > room || self.sib_live + moved > room {
            return Ok(false);
        }
        let sep = shortest_separator(self.order, items[cut - 1].key, items[cut].key);
        // The right page of the pair gets the new separator in the parent.
        let right_idx = if self.to_right {
            self.pidx + 1
        } else {
            self.pidx
        };
        {
            // The moved entries must sort on the far side of the neighbour's keys.
            let sib = Node::new(p.page(self.sib)?, self.sib)?;
            if !sib.is_leaf() {
                return Err(Error::corrupted(
                    Corruption::Shape,
                    self.sib,
                    "branch page beside a leaf",
                ));
            }
            let in_order = if self.to_right {
                self.order.less(items[n - 1].key, sib.key(0)?)
            } else {
                self.order.less(sib.key(sib.count() - 1)?, items[0].key)
            };
            if !in_order {
                return Err(Error::corrupted(
                    Corruption::Order,
                    self.sib,
                    format!("keys out of order with neighbouring page {}", self.pg),
                ));
            }
        }
        let old_sep_len = node_at(p, self.parent, false)?.key(right_idx)?.len();
        if sep.len() > old_sep_len
            && live_bytes_quick(p.page(self.parent)?).saturating_sub(old_sep_len) + sep.len() > room
        {
            return Ok(false);
        }
        let (kept, gone) = if self.to_right {
            items.split_at(cut)
        } else {
            let (gone, kept) = items.split_at(cut);
            (kept, gone)
        };
        // The pair's combined range shares the shorter of their prefixes; both pages
        // take it (the neighbour before it receives keys from this page).
        let prefix = header(p.page(self.pg)?)
            .prefix_len()
            .min(header(p.page(self.sib)?).prefix_len());
        let sib_page = p.page_mut(self.sib)?;
        if !lower_prefix(sib_page, prefix) {
            return Err(Error::corrupted(
                Corruption::Layout,
                self.sib,
                "a key does not decode",
            ));
        }
        let at = if self.to_right {
            0
        } else {
            header_count(sib_page)
        };
        for (i, e) in gone.iter().enumerate() {
            if !node_insert(sib_page, at + i, e.key, &[e.body]) {
                return Err(Error::Internal(format!(
                    "page {}: a shifted entry did not fit",
                    self.sib
                )));
            }
        }
        let txnid = p.txnid();
        build(
            p.page_mut(self.pg)?,
            PageKind::Leaf,
            self.pg,
            txnid,
            kept,
            prefix,
        )?;
        let right_pg = if self.to_right { self.sib } else { self.pg };
        let ppage = p.page_mut(self.parent)?;
        node_remove(ppage, right_idx);
        if !node_insert(ppage, right_idx, &sep, &[&right_pg.to_le_bytes()]) {
            return Err(Error::Internal(format!(
                "page {}: a separator did not fit",
                self.parent
            )));
        }
        Ok(true)
    }
}

/// First index where the bytes before it reach half the total.
fn split_point(items: &[Item<'_>]) -> usize {
    let total: usize = items.iter().map(Item::cost).sum();
    let mut acc = 0;
    for (i, e) in items.iter().enumerate() {
        if acc >= total / 2 && i > 0 {
            return i;
        }
        acc += e.cost();
    }
    items.len() - 1
}

/// The shortest key `s` with `left < s <= right` (suffix truncation of separators);
/// in orders other than bytewise, `right` itself.
fn shortest_separator(order: Order, left: &[u8], right: &[u8]) -> Vec<u8> {
    if !order.is_bytewise() {
        return right.to_vec();
    }
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..(common + 1).min(right.len())].to_vec()
}

/// Delete `key`. Returns true if it was present.
pub(crate) fn delete(p: &mut impl PageWrite, rec: &mut TableRecord, key: &[u8]) -> Result<bool> {
    // Probe first, read-only, so a miss copies nothing; the copy then follows the path
    // the probe recorded instead of searching every branch again.
    let mut path = [(0u64, 0usize); MAX_DEPTH];
    let Some((levels, leaf, idx)) = probe_path(p, rec, key, &mut path)? else {
        return Ok(false);
    };
    let path = &mut path[..levels];
    let leaf = cow_recorded(p, rec, path, leaf)?;
    let value = node_at(p, leaf, true)?.leaf_value(idx)?;
    if let LeafValue::Overflow { pgno, len } = value {
        p.free_overflow(pgno, len, rec)?;
    }
    node_remove(p.page_mut(leaf)?, idx);
    rec.entries = rec.entries.saturating_sub(1);
    rebalance(p, rec, path, leaf)?;
    Ok(true)
}

/// Descend to `key` without changing anything, recording (branch page, child index)
/// per level in `path` and checking what the descent shows (see `DescentCheck`).
/// Returns the number of branch levels, the leaf and the key's index in it, or `None`
/// if the key is absent.
fn probe_path(
    p: &impl PageWrite,
    rec: &TableRecord,
    key: &[u8],
    path: &mut [(u64, usize); MAX_DEPTH],
) -> Result<Option<(usize, u64, usize)>> {
    if rec.root == 0 {
        return Ok(None);
    }
    let depth = checked_depth(rec)?;
    let mut pgno = rec.root;
    let mut check = DescentCheck::new(rec.key_order());
    for slot in path.iter_mut().take(depth - 1) {
        let node = node_at(p, pgno, false)?;
        let idx = node.branch_index(key, check.order)?;
        check.branch(p, &node, idx)?;
        *slot = (pgno, idx);
        pgno = node.child(idx)?;
    }
    let node = node_at(p, pgno, true)?;
    match node.search(key, check.order)? {
        (idx, true) => {
            check.leaf(p, &node, key)?;
            leaf_layout(rec, &node)?;
            Ok(Some((depth - 1, pgno, idx)))
        }
        _ => Ok(None),
    }
}

/// Copy on write the path `probe_path` recorded (rewriting its page numbers to the
/// copies) and return the leaf's writable number.
fn cow_recorded(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    path: &mut [(u64, usize)],
    leaf: u64,
) -> Result<u64> {
    let mut copied = touch_root(p, rec, path.len() + 1)?;
    let mut pg = rec.root;
    for level in 0..path.len() {
        let idx = path[level].1;
        path[level].0 = pg;
        let child = path.get(level + 1).map_or(leaf, |&(c, _)| c);
        let branch = level + 1 < path.len();
        let (new_child, child_copied) = touch_child(p, pg, copied, child, branch)?;
        if child_copied {
            page::set_child(p.page_mut(pg)?, pg, idx, new_child)?;
        }
        pg = new_child;
        copied = child_copied;
    }
    Ok(pg)
}

/// After a removal from `pg`: free empty pages, merge an underfull page into a sibling
/// when both fit in one page, and shrink the root while it has a single child.
pub(crate) fn rebalance(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    path: &[(u64, usize)],
    mut pg: u64,
) -> Result<()> {
    let mut level = path.len();
    let mut leaf = true;
    loop {
        let count = header_count(p.page(pg)?);
        if level == 0 {
            if count == 0 {
                p.free_node(pg, leaf, rec)?;
                rec.root = 0;
                rec.depth = 0;
            } else if !leaf {
                collapse_root(p, rec)?;
            }
            return Ok(());
        }
        let (parent, pidx) = path[level - 1];
        if count == 0 {
            let removed_prefix = header(p.page(pg)?).prefix_len();
            p.free_node(pg, leaf, rec)?;
            remove_branch_entry(p, parent, pidx)?;
            widen_neighbour(p, parent, pidx, removed_prefix)?;
        } else if page::live_bytes_reach(p.page(pg)?, usable(p.page_size()) / 4)
            || !merge(p, rec, parent, pidx, leaf)?
        {
            return Ok(());
        }
        pg = parent;
        level -= 1;
        leaf = false;
    }
}

/// After child `removed` of branch `parent` (whose pages held a prefix of
/// `removed_prefix` bytes) was removed, its range belongs to a neighbour: the child now
/// before it (which grows to the right), or, when it was entry 0, the new entry 0
/// (which grows to the left). That neighbour and the pages along its edge on that side,
/// down to a leaf, keep a page prefix only as long as the wider range shares: the
/// shorter of their own and the removed one's. Pages with a longer one are copied on
/// write with their path. Rare: a page empties only when its neighbours are too full to
/// merge with.
fn widen_neighbour(
    p: &mut impl PageWrite,
    parent: u64,
    removed: usize,
    removed_prefix: usize,
) -> Result<()> {
    if header_count(p.page(parent)?) == 0 {
        return Ok(()); // the parent emptied too; its own removal widens further up
    }
    // Growing to the right: follow last children; to the left: first children.
    let rightwards = removed > 0;
    // The edge, read first: (page, child index taken) from the parent down, and how
    // deep the last page with too long a prefix sits.
    let mut edge: [(u64, usize); MAX_DEPTH] = [(0, 0); MAX_DEPTH];
    let (mut len, mut deepest) = (0usize, None);
    let (mut pg, mut idx) = (parent, removed.saturating_sub(1));
    loop {
        if len == MAX_DEPTH {
            return Err(Error::corrupted(
                Corruption::Shape,
                pg,
                "tree deeper than the maximum",
            ));
        }
        edge[len] = (pg, idx);
        len += 1;
        let child = node_at(p, pg, false)?.child(idx)?;
        let h = header(p.page(child)?);
        if h.prefix_len() > removed_prefix {
            deepest = Some(len);
        }
        if h.kind() != Some(PageKind::Branch) || h.count() == 0 {
            break;
        }
        (pg, idx) = (child, if rightwards { h.count() - 1 } else { 0 });
    }
    let Some(deepest) = deepest else {
        return Ok(());
    };
    // Copy the edge down to that page (the parent is writable already), lowering
    // prefixes on the way.
    for level in 0..deepest {
        let (pg, idx) = edge[level];
        let child = node_at(p, pg, false)?.child(idx)?;
        let copy = p.touch(child)?;
        if copy != child {
            page::set_child(p.page_mut(pg)?, pg, idx, copy)?;
        }
        if let Some(next) = edge.get_mut(level + 1) {
            next.0 = copy;
        }
        if !lower_prefix(p.page_mut(copy)?, removed_prefix) {
            return Err(Error::corrupted(
                Corruption::Layout,
                copy,
                "a key does not decode",
            ));
        }
    }
    Ok(())
}

/// While the root is a branch with one child, make that child the root.
fn collapse_root(p: &mut impl PageWrite, rec: &mut TableRecord) -> Result<()> {
    while rec.depth > 1 {
        let node = node_at(p, rec.root, false)?;
        if node.count() != 1 {
            break;
        }
        let child = node.child(0)?;
        p.free_node(rec.root, false, rec)?;
        rec.root = child;
        rec.depth -= 1;
    }
    Ok(())
}

/// Remove entry `idx` of branch `pg`; if it was entry 0, the new entry 0 loses its key
/// (it now stands for minus infinity).
fn remove_branch_entry(p: &mut impl PageWrite, pg: u64, idx: usize) -> Result<()> {
    node_remove(p.page_mut(pg)?, idx);
    if idx == 0 && header_count(p.page(pg)?) > 0 {
        let child = node_at(p, pg, false)?.child(0)?;
        let page = p.page_mut(pg)?;
        node_remove(page, 0);
        node_insert(page, 0, b"", &[&child.to_le_bytes()]);
    }
    Ok(())
}

/// Merge child `pidx` of `parent` with a neighbour if both fit in one page.
fn merge(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    parent: u64,
    pidx: usize,
    leaf: bool,
) -> Result<bool> {
    let pnode = node_at(p, parent, false)?;
    if pnode.count() < 2 {
        return Ok(false);
    }
    let (left_idx, right_idx) = if pidx > 0 { (pidx - 1, pidx) } else { (0, 1) };
    let (left_pg, right_pg) = (pnode.child(left_idx)?, pnode.child(right_idx)?);
    // Decide from byte counts before copying anything: most candidates do not fit.
    // (A merged branch gives the right page's first entry the parent's separator.)
    let sep = if leaf {
        Vec::new()
    } else {
        pnode.key(right_idx)?.to_vec()
    };
    let fits = live_bytes_quick(p.page(left_pg)?) + live_bytes_quick(p.page(right_pg)?) + sep.len();
    if fits > usable(p.page_size()) {
        return Ok(false);
    }
    check_seam(
        rec.key_order(),
        &Node::new(p.page(left_pg)?, left_pg)?,
        pnode.key(right_idx)?,
        &Node::new(p.page(right_pg)?, right_pg)?,
    )?;
    let (left_copy, right_copy) = (p.page(left_pg)?.to_vec(), p.page(right_pg)?.to_vec());
    let (lnode, rnode) = (
        Node::new(&left_copy, left_pg)?,
        Node::new(&right_copy, right_pg)?,
    );
    if lnode.is_leaf() != leaf || rnode.is_leaf() != leaf {
        return Err(Error::corrupted(
            Corruption::Shape,
            right_pg,
            "sibling pages of different kinds",
        ));
    }
    let mut items = entries(&lnode)?;
    let mut right = entries(&rnode)?;
    if !leaf {
        right[0].key = &sep;
    }
    items.append(&mut right);
    let total: usize = items.iter().map(Item::cost).sum();
    if total > usable(p.page_size()) {
        return Ok(false);
    }
    let new_left = p.touch(left_pg)?;
    if new_left != left_pg {
        page::set_child(p.page_mut(parent)?, parent, left_idx, new_left)?;
    }
    let kind = if leaf {
        PageKind::Leaf
    } else {
        PageKind::Branch
    };
    // The two ranges together share the shorter of the two prefixes.
    let prefix = lnode.prefix_len().min(rnode.prefix_len());
    let txnid = p.txnid();
    build(p.page_mut(new_left)?, kind, new_left, txnid, &items, prefix)?;
    if !leaf {
        // The two pages' children together must be distinct too.
        check_distinct_children(p, new_left)?;
    }
    p.free_node(right_pg, leaf, rec)?;
    remove_branch_entry(p, parent, right_idx)?;
    Ok(true)
}

/// Before merging neighbours `left` and `right` (separated by `sep` in their parent):
/// the left page's keys must lie below `sep` and the right page's at or above it
/// (format invariant 4), or the merged page would hold keys out of order. A branch's
/// entry 0 has no key and is left out.
fn check_seam(order: Order, left: &Node<'_>, sep: &[u8], right: &Node<'_>) -> Result<()> {
    let last = if left.is_leaf() || left.count() > 1 {
        Some(left.key(left.count() - 1)?)
    } else {
        None
    };
    let first = if right.is_leaf() {
        Some(right.key(0)?)
    } else if right.count() > 1 {
        Some(right.key(1)?)
    } else {
        None
    };
    if last.is_some_and(|k| !order.less(k, sep)) || first.is_some_and(|k| order.less(k, sep)) {
        return Err(Error::corrupted(
            Corruption::Order,
            right.pgno,
            format!(
                "keys of pages {} and {} out of order around their separator",
                left.pgno, right.pgno
            ),
        ));
    }
    Ok(())
}

/// Free every page of a table and reset its counters (keeping its flags).
pub(crate) fn clear(p: &mut impl PageWrite, rec: &mut TableRecord) -> Result<()> {
    if rec.root != 0 {
        free_subtree(p, rec, rec.root, rec.depth as usize, true)?;
    }
    *rec = TableRecord {
        flags: rec.flags,
        ..TableRecord::default()
    }
    .with_comparators_of(rec);
    Ok(())
}

/// Free the subtree at `pg` (`levels` deep), the nested trees of its dup-sort entries
/// when `outer` (a nested tree holds none: one there is damage, never followed).
fn free_subtree(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    pg: u64,
    levels: usize,
    outer: bool,
) -> Result<()> {
    if levels == 0 || levels > MAX_DEPTH {
        return Err(Error::corrupted(
            Corruption::Shape,
            pg,
            "tree deeper than its record says",
        ));
    }
    let leaf = levels == 1;
    let (children, overflows, nested) = {
        let node = node_at(p, pg, leaf)?;
        let mut children = Vec::new();
        let mut overflows = Vec::new();
        let mut nested = Vec::new();
        for i in 0..node.count() {
            if leaf {
                match node.leaf_value(i)? {
                    LeafValue::Overflow { pgno, len } => overflows.push((pgno, len)),
                    LeafValue::Nested(b) if outer => nested.push(TableRecord::decode(b, pg)?),
                    LeafValue::Nested(_) => {
                        return Err(Error::corrupted(
                            Corruption::Layout,
                            pg,
                            "a nested tree inside a nested tree",
                        ))
                    }
                    _ => {}
                }
            } else {
                children.push(node.child(i)?);
            }
        }
        (children, overflows, nested)
    };
    for (pgno, len) in overflows {
        p.free_overflow(pgno, len, rec)?;
    }
    // A dup-sort key's nested tree: its pages count in the table's record too.
    for n in nested {
        if n.root != 0 {
            free_subtree(p, rec, n.root, n.depth as usize, false)?;
        }
    }
    for c in children {
        free_subtree(p, rec, c, levels - 1, outer)?;
    }
    p.free_node(pg, leaf, rec)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_is_shortest_between() {
        assert_eq!(shortest_separator(Order::Bytes, b"abc", b"abd"), b"abd");
        assert_eq!(shortest_separator(Order::Bytes, b"abc", b"b"), b"b");
        assert_eq!(shortest_separator(Order::Bytes, b"a", b"abzz"), b"ab");
        assert_eq!(shortest_separator(Order::Bytes, b"", b"x"), b"x");
    }

    #[test]
    fn head_order_is_monotone() {
        use crate::format::page::key_head;
        let keys: [&[u8]; 6] = [b"", b"\0", b"a", b"ab\0", b"ab\0\0\x01", b"b"];
        for w in keys.windows(2) {
            assert!(key_head(w[0]) <= key_head(w[1]));
        }
    }

    #[test]
    fn max_key_at_4k_is_at_least_511() {
        assert!(max_key_size(4096) >= 511);
    }

    /// Pages in memory: the tree's two interfaces with nothing behind them, to test the
    /// tree on its own. Every page is "dirty" (one transaction that never commits), so
    /// the tests exercise splits, merges and frees without copy-on-write.
    struct MemPages {
        pages: std::collections::HashMap<u64, Vec<u8>>,
        runs: std::collections::HashMap<u64, Vec<u8>>,
        next: u64,
        freed: Vec<u64>,
    }

    const PS: usize = 4096;

    impl MemPages {
        fn new() -> MemPages {
            MemPages {
                pages: Default::default(),
                runs: Default::default(),
                next: 2,
                freed: Vec::new(),
            }
        }
    }

    impl PageSource for MemPages {
        fn page(&self, pgno: u64) -> Result<&[u8]> {
            self.pages
                .get(&pgno)
                .map(|p| &p[..])
                .ok_or_else(|| Error::corrupted(Corruption::Bounds, pgno, "no such page"))
        }
        fn overflow(&self, pgno: u64, len: usize) -> Result<&[u8]> {
            match self.runs.get(&pgno) {
                Some(v) if v.len() == len => Ok(v),
                _ => Err(Error::corrupted(Corruption::Bounds, pgno, "no such run")),
            }
        }
    }

    impl PageWrite for MemPages {
        fn page_size(&self) -> usize {
            PS
        }
        fn txnid(&self) -> u64 {
            1
        }
        fn is_dirty(&self, pgno: u64) -> bool {
            self.pages.contains_key(&pgno)
        }
        fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]> {
            self.pages
                .get_mut(&pgno)
                .map(|p| &mut p[..])
                .ok_or_else(|| Error::Internal(format!("page {pgno} is not dirty")))
        }
        fn touch(&mut self, pgno: u64) -> Result<u64> {
            assert!(
                self.pages.contains_key(&pgno),
                "touch of a freed page {pgno}"
            );
            Ok(pgno)
        }
        fn alloc_node(&mut self, kind: PageKind, rec: &mut TableRecord) -> Result<u64> {
            let pgno = self.freed.pop().unwrap_or_else(|| {
                self.next += 1;
                self.next - 1
            });
            let mut buf = vec![0u8; PS];
            page::init_header(&mut buf, kind, pgno, 1);
            assert!(
                self.pages.insert(pgno, buf).is_none(),
                "page {pgno} handed out twice"
            );
            match kind {
                PageKind::Leaf => rec.leaf_pages += 1,
                _ => rec.branch_pages += 1,
            }
            Ok(pgno)
        }
        fn free_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<()> {
            assert!(
                self.pages.remove(&pgno).is_some(),
                "page {pgno} freed twice"
            );
            if leaf {
                rec.leaf_pages -= 1;
            } else {
                rec.branch_pages -= 1;
            }
            self.freed.push(pgno);
            Ok(())
        }
        fn write_overflow(&mut self, value: &[u8], rec: &mut TableRecord) -> Result<u64> {
            let pgno = self.next;
            let n = page::overflow_pages_needed(value.len(), PS);
            self.next += n;
            self.runs.insert(pgno, value.to_vec());
            rec.overflow_pages += n;
            Ok(pgno)
        }
        fn reserve_overflow(&mut self, len: usize, rec: &mut TableRecord) -> Result<u64> {
            self.write_overflow(&vec![0u8; len], rec)
        }
        fn free_overflow(&mut self, pgno: u64, len: usize, rec: &mut TableRecord) -> Result<()> {
            let v = self.runs.remove(&pgno).expect("a run freed twice");
            assert_eq!(v.len(), len);
            rec.overflow_pages -= page::overflow_pages_needed(len, PS);
            Ok(())
        }
    }

    fn contents(src: &MemPages, rec: TableRecord) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut cur = crate::tree::cursor::RawCursor::new(src, rec);
        let mut item = cur.first().unwrap();
        while let Some((k, v)) = item {
            out.push((k.to_vec(), v.to_vec()));
            item = cur.next().unwrap();
        }
        out
    }

    #[test]
    fn the_tree_over_in_memory_pages_matches_a_model_and_counts_its_pages() {
        let mut mem = MemPages::new();
        let mut rec = TableRecord::default();
        let mut model = std::collections::BTreeMap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..40_000u32 {
            let r = next();
            let key = format!("k{:05}", r % 6_000).into_bytes();
            if r % 5 < 3 {
                // Mostly small values, some beyond the inline limit.
                let len = if r % 97 == 0 {
                    5_000
                } else {
                    (r % 300) as usize
                };
                let value = vec![step as u8; len];
                put(&mut mem, &mut rec, &key, &value, PutMode::Upsert).unwrap();
                model.insert(key, value);
            } else {
                let gone = delete(&mut mem, &mut rec, &key).unwrap();
                assert_eq!(gone, model.remove(&key).is_some());
            }
            if step % 4_000 == 0 {
                let k = format!("k{:05}", r % 6_000).into_bytes();
                assert_eq!(get(&mem, &rec, &k).unwrap(), model.get(&k).map(|v| &v[..]));
            }
        }
        assert_eq!(rec.entries, model.len() as u64);
        let want: Vec<_> = model.into_iter().collect();
        assert_eq!(contents(&mem, rec), want);
        // The record counts exactly the pages the tree holds.
        assert_eq!(rec.leaf_pages + rec.branch_pages, mem.pages.len() as u64);
        let run_pages: u64 = mem
            .runs
            .values()
            .map(|v| page::overflow_pages_needed(v.len(), PS))
            .sum();
        assert_eq!(rec.overflow_pages, run_pages);
        // Clearing frees every page.
        clear(&mut mem, &mut rec).unwrap();
        assert!(mem.pages.is_empty() && mem.runs.is_empty());
        assert_eq!(
            (rec.root, rec.entries, rec.leaf_pages, rec.overflow_pages),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn a_write_refuses_a_leaf_of_the_other_layout() {
        let mut mem = MemPages::new();
        let mut rec = TableRecord::default();
        for i in 0..200u32 {
            put(
                &mut mem,
                &mut rec,
                &i.to_be_bytes(),
                b"value",
                PutMode::Upsert,
            )
            .unwrap();
        }
        // The same pages under a nested tree's record, as a damaged entry would claim.
        let mut nested = TableRecord {
            flags: crate::format::meta::TREE_KEYS_ONLY,
            ..rec
        };
        for r in [
            put(
                &mut mem,
                &mut nested,
                b"\x00\x00\x00\x07",
                b"",
                PutMode::Upsert,
            )
            .map(|_| ()),
            delete(&mut mem, &mut nested, &7u32.to_be_bytes()).map(|_| ()),
        ] {
            match r {
                Err(Error::Corrupted { what, .. }) => assert!(what.contains("leaf with values")),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
        // Nothing changed: the table still holds all it did.
        assert_eq!(contents(&mem, rec).len(), 200);
    }

    /// The hinted append (no descent) builds exactly the tree the descending one does,
    /// pages and record alike, across splits, overflow values and a hint dropped midway.
    #[test]
    fn hinted_appends_build_the_tree_descending_appends_build() {
        let (mut a, mut ra) = (MemPages::new(), TableRecord::default());
        let (mut b, mut rb) = (MemPages::new(), TableRecord::default());
        let mut hint = None;
        for i in 0..30_000u32 {
            // Keys sharing long prefixes, of varied lengths; now and then a value that
            // needs an overflow run.
            let k = format!(
                "tenant/{:03}/user/{:06}/{}",
                i / 1000,
                i,
                "x".repeat((i % 7) as usize)
            );
            let v = vec![
                i as u8;
                if i % 997 == 0 {
                    3 * PS
                } else {
                    (i % 60) as usize
                }
            ];
            assert!(put(&mut a, &mut ra, k.as_bytes(), &v, PutMode::Append).unwrap());
            assert!(append(&mut b, &mut rb, k.as_bytes(), &v, &mut hint).unwrap());
            if i % 5003 == 0 {
                hint = None;
            }
        }
        assert!(hint.is_some(), "no append left a hint");
        assert_eq!(ra, rb);
        assert_eq!(a.pages, b.pages, "the two trees differ page by page");
        assert_eq!(contents(&a, ra), contents(&b, rb));
        // Out of order, with the hint: refused, nothing changed.
        let before = rb;
        for k in [&b"tenant/000"[..], b"", b"tenant/029/user/029999/xxxx"] {
            assert!(matches!(
                append(&mut b, &mut rb, k, b"v", &mut hint),
                Err(Error::KeyNotGreater)
            ));
        }
        assert_eq!(rb, before);
        // A hint from before another change is not trusted.
        let last = b"tenant/029/user/029999/xxxx";
        let stale = hint;
        assert!(delete(&mut b, &mut rb, last).unwrap());
        let mut h = stale;
        assert!(append(&mut b, &mut rb, b"tenant/029/user/029999/xxx", b"1", &mut h).unwrap());
        assert!(append(&mut b, &mut rb, last, b"2", &mut h).unwrap());
        assert_eq!(get(&b, &rb, last).unwrap(), Some(&b"2"[..]));
        assert_eq!(rb.entries, 30_001);
    }

    #[test]
    fn appends_fill_leaves_and_refuse_keys_out_of_order() {
        let mut mem = MemPages::new();
        let mut rec = TableRecord::default();
        for i in 0..20_000u32 {
            put(&mut mem, &mut rec, &i.to_be_bytes(), b"v", PutMode::Append).unwrap();
        }
        assert!(matches!(
            put(
                &mut mem,
                &mut rec,
                &5u32.to_be_bytes(),
                b"v",
                PutMode::Append
            ),
            Err(Error::KeyNotGreater)
        ));
        assert!(matches!(
            put(
                &mut mem,
                &mut rec,
                &5u32.to_be_bytes(),
                b"v",
                PutMode::NoOverwrite
            ),
            Err(Error::KeyExists)
        ));
        assert_eq!(rec.entries, 20_000);
        // 20,000 entries of 15 bytes and a slot: sorted appends leave leaves nearly full.
        assert!(
            rec.leaf_pages <= 20_000 * (8 + 4 + 5 + 1) / (PS as u64 - 64) + 2,
            "{rec:?}"
        );
        for i in (0..20_000u32).rev() {
            assert!(delete(&mut mem, &mut rec, &i.to_be_bytes()).unwrap());
        }
        assert_eq!((rec.root, rec.entries), (0, 0));
        assert!(mem.pages.is_empty());
    }
}
