//! Page layout: the common header, slotted branch/leaf nodes and overflow runs.
//!
//! See `docs/format.md` for the byte tables. Read access goes through [`Node`], whose
//! constructor validates the header and slot array once, so slot reads cannot leave the
//! page; entry reads (whose offsets come from the slots) are checked as they happen and
//! return `Error::Corrupted` naming the page.
//!
//! Every slot carries the first four key bytes (big-endian, zero padded), so a binary
//! search decides most comparisons from the slot array alone, touching one or two
//! cache lines instead of one line per probed entry.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// Bytes of the common page header.
pub const HEADER: usize = 32;
/// Bytes of one slot: key prefix (4), entry offset (2), key length (2).
pub const SLOT: usize = 8;
/// Bytes a leaf entry adds to its key: flags (1) + value length (4).
pub const LEAF_ENTRY_HEAD: usize = 5;
/// Bytes a branch entry adds to its key: the child page number.
pub const BRANCH_ENTRY_TAIL: usize = 8;
/// Deepest tree we follow; deeper means a corrupt file (a cycle, say), never a hang.
pub const MAX_DEPTH: usize = 32;

/// Value bytes a cursor's look-ahead asks the CPU to load with each entry.
const PREFETCH_VALUE: usize = 128;

/// Slot-array bytes a descent asks the CPU to load at once (32 cache lines).
const PREFETCH_SLOTS: usize = 2048;

/// Page header flag (byte 5, branch and leaf pages): an entry was removed since the
/// page was last built or compacted, so its entry area may hold holes. A clear flag lets
/// the writer take the page's live bytes from the header alone (see [`live_bytes_quick`]).
/// Only a hint: readers ignore it, and a clear flag on a page with holes (a damaged page)
/// only makes the writer think the page fuller than it is.
pub const F_HOLES: u8 = 1;

/// Leaf entry flag: the value lives in an overflow run; the entry holds its first page.
pub const F_OVERFLOW: u8 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PageKind {
    Meta = 1,
    Branch = 2,
    Leaf = 3,
    Overflow = 4,
}

impl PageKind {
    #[inline]
    pub fn from_u8(b: u8) -> Option<PageKind> {
        match b {
            1 => Some(PageKind::Meta),
            2 => Some(PageKind::Branch),
            3 => Some(PageKind::Leaf),
            4 => Some(PageKind::Overflow),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PageKind::Meta => "meta",
            PageKind::Branch => "branch",
            PageKind::Leaf => "leaf",
            PageKind::Overflow => "overflow",
        }
    }
}

// ---- little helpers over byte slices (callers guarantee the range is in bounds) ----

#[inline]
pub fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
#[inline]
pub fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
#[inline]
pub fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
#[inline]
pub fn wr_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
#[inline]
pub fn wr_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
#[inline]
pub fn wr_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

// ---- header fields ----
// 0 checksum u32 | 4 kind u8 | 5 flags u8 | 6 count u16 | 8 pgno u64 | 16 txnid u64
// 24 upper u32 (nodes) or run length in pages (overflow) | 28 holes u32 (nodes: bytes of
// removed entries, see `header_holes`)

#[inline]
pub fn header_kind(page: &[u8]) -> Option<PageKind> {
    PageKind::from_u8(page[4])
}
#[inline]
pub fn header_count(page: &[u8]) -> usize {
    rd_u16(page, 6) as usize
}
#[inline]
pub fn header_pgno(page: &[u8]) -> u64 {
    rd_u64(page, 8)
}
#[inline]
pub fn header_txnid(page: &[u8]) -> u64 {
    rd_u64(page, 16)
}
#[inline]
pub fn header_upper(page: &[u8]) -> usize {
    rd_u32(page, 24) as usize
}
#[inline]
pub fn header_checksum(page: &[u8]) -> u32 {
    rd_u32(page, 0)
}

/// Write a fresh header; `upper` starts at the end of the page (no entries yet).
pub fn init_header(page: &mut [u8], kind: PageKind, pgno: u64, txnid: u64) {
    page[..HEADER].fill(0);
    page[4] = kind as u8;
    wr_u64(page, 8, pgno);
    wr_u64(page, 16, txnid);
    let len = page.len() as u32;
    wr_u32(page, 24, len);
}

/// Stamp the page number and writing transaction (done when a page is copied on write).
pub fn set_identity(page: &mut [u8], pgno: u64, txnid: u64) {
    wr_u64(page, 8, pgno);
    wr_u64(page, 16, txnid);
}

/// crc32 of everything after the checksum field.
pub fn compute_checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(&bytes[4..])
}

pub fn stamp_checksum(bytes: &mut [u8]) {
    let c = compute_checksum(bytes);
    wr_u32(bytes, 0, c);
}

/// The 4-byte big-endian, zero-padded key prefix stored in each slot.
///
/// `prefix(a) < prefix(b)` implies `a < b`, so unequal prefixes decide a comparison.
#[inline]
pub fn key_prefix(key: &[u8]) -> u32 {
    let mut p = [0u8; 4];
    let n = key.len().min(4);
    p[..n].copy_from_slice(&key[..n]);
    u32::from_be_bytes(p)
}

/// A leaf value as stored: inline bytes, or a pointer to an overflow run.
#[derive(Clone, Copy, Debug)]
pub enum LeafValue<'a> {
    Inline(&'a [u8]),
    Overflow { pgno: u64, len: usize },
}

/// A validated read-only view of a branch or leaf page.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub pgno: u64,
    data: &'a [u8],
    /// From the header's u16 field; kept narrow so cursor stacks stay small.
    count: u16,
    leaf: bool,
}

impl Node<'static> {
    /// A placeholder for fixed-size cursor stacks; never read.
    pub const EMPTY: Node<'static> = Node {
        pgno: 0,
        data: &[],
        count: 0,
        leaf: false,
    };
}

impl<'a> Node<'a> {
    /// Validate the header of page `pgno` and its slot array.
    #[inline]
    pub fn new(data: &'a [u8], pgno: u64) -> Result<Node<'a>> {
        // Every descent step runs this: one combined test on the fast path, the
        // specific error built out of line.
        if data.len() >= HEADER + SLOT {
            let leaf = match header_kind(data) {
                Some(PageKind::Leaf) => Some(true),
                Some(PageKind::Branch) => Some(false),
                _ => None,
            };
            let count = header_count(data);
            let upper = header_upper(data);
            if let Some(leaf) = leaf {
                if header_pgno(data) == pgno
                    && count != 0
                    && HEADER + count * SLOT <= upper
                    && upper <= data.len()
                {
                    return Ok(Node {
                        pgno,
                        data,
                        count: count as u16,
                        leaf,
                    });
                }
            }
        }
        Err(Node::header_error(data, pgno))
    }

    /// Why `new` refused the page.
    #[cold]
    #[inline(never)]
    fn header_error(data: &[u8], pgno: u64) -> Error {
        if data.len() < HEADER + SLOT {
            return Error::corrupted(pgno, "page shorter than its header");
        }
        match header_kind(data) {
            Some(PageKind::Leaf | PageKind::Branch) => {}
            Some(k) => {
                return Error::corrupted(
                    pgno,
                    format!("expected a branch or leaf page, found {}", k.name()),
                )
            }
            None => return Error::corrupted(pgno, format!("unknown page kind {}", data[4])),
        }
        if header_pgno(data) != pgno {
            return Error::corrupted(
                pgno,
                format!("page header names page {}", header_pgno(data)),
            );
        }
        let count = header_count(data);
        let upper = header_upper(data);
        if HEADER + count * SLOT > upper || upper > data.len() {
            return Error::corrupted(
                pgno,
                format!("slot array ({count} entries) overlaps entry area at {upper}"),
            );
        }
        Error::corrupted(pgno, "empty node page")
    }

    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.leaf
    }
    #[inline]
    pub fn count(&self) -> usize {
        self.count as usize
    }
    pub fn txnid(&self) -> u64 {
        header_txnid(self.data)
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    #[inline]
    fn slot(&self, i: usize) -> (u32, usize, usize) {
        let at = HEADER + i * SLOT;
        let s = &self.data[at..at + SLOT];
        (
            u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
            u16::from_le_bytes([s[4], s[5]]) as usize,
            u16::from_le_bytes([s[6], s[7]]) as usize,
        )
    }

    /// Length of entry `i`'s key, from its slot.
    #[inline]
    pub fn key_len(&self, i: usize) -> usize {
        self.slot(i).2
    }

    /// The slot's prefix field (as stored; `check` verifies it matches the key).
    #[inline]
    pub fn slot_prefix(&self, i: usize) -> u32 {
        self.slot(i).0
    }

    /// Byte offset and total length of entry `i` (key + body).
    pub fn entry_span(&self, i: usize) -> Result<(usize, usize)> {
        let (_, off, klen) = self.slot(i);
        let upper = header_upper(self.data);
        let body = if self.leaf {
            let head_end = off + klen + LEAF_ENTRY_HEAD;
            let head = self
                .data
                .get(off + klen..head_end)
                .ok_or_else(|| self.bad(i, "entry header past the page end"))?;
            if head[0] & F_OVERFLOW != 0 {
                LEAF_ENTRY_HEAD + 8
            } else {
                LEAF_ENTRY_HEAD + rd_u32(head, 1) as usize
            }
        } else {
            BRANCH_ENTRY_TAIL
        };
        let len = klen + body;
        if off < upper || off + len > self.data.len() {
            return Err(self.bad(i, "entry outside the entry area"));
        }
        Ok((off, len))
    }

    fn bad(&self, i: usize, what: &str) -> Error {
        Error::corrupted(self.pgno, format!("entry {i}: {what}"))
    }

    /// Key of entry `i`.
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        let (_, off, klen) = self.slot(i);
        self.data
            .get(off..off + klen)
            .ok_or_else(|| self.bad(i, "key past the page end"))
    }

    /// The value of leaf entry `i`.
    #[inline]
    pub fn leaf_value(&self, i: usize) -> Result<LeafValue<'a>> {
        self.leaf_entry(i).map(|(_, value)| value)
    }

    /// Key and value of leaf entry `i`, decoding its slot once.
    #[inline]
    pub fn leaf_entry(&self, i: usize) -> Result<(&'a [u8], LeafValue<'a>)> {
        let (_, off, klen) = self.slot(i);
        let at = off + klen;
        let Some(head) = self.data.get(off..at + LEAF_ENTRY_HEAD) else {
            return Err(self.bad(i, "entry header past the page end"));
        };
        let (key, head) = head.split_at(klen);
        let len = rd_u32(head, 1) as usize;
        let start = at + LEAF_ENTRY_HEAD;
        if head[0] & F_OVERFLOW != 0 {
            let p = self
                .data
                .get(start..start + 8)
                .ok_or_else(|| self.bad(i, "overflow pointer past the page end"))?;
            return Ok((
                key,
                LeafValue::Overflow {
                    pgno: rd_u64(p, 0),
                    len,
                },
            ));
        }
        match self.data.get(start..start + len) {
            Some(v) => Ok((key, LeafValue::Inline(v))),
            None => Err(self.bad(i, "value past the page end")),
        }
    }

    /// Hint the CPU to load entry `i` (its key, entry head and the start of its value),
    /// so a cursor about to visit it does not wait for memory. No-op past the end.
    #[inline]
    pub fn prefetch_entry(&self, i: usize) {
        if i < self.count() {
            let (_, off, klen) = self.slot(i);
            let end = (off + klen + LEAF_ENTRY_HEAD + PREFETCH_VALUE).min(self.data.len());
            if let Some(b) = self.data.get(off..end) {
                crate::os::map::prefetch(b);
            }
        }
    }

    /// Hint the CPU to load the slot array (up to `PREFETCH_SLOTS` bytes of it), so a
    /// binary search over a page that is not in cache waits for memory once, for all its
    /// probes together, instead of once per probe.
    #[inline]
    pub fn prefetch_slots(&self) {
        let end = (HEADER + self.count() * SLOT).min(HEADER + PREFETCH_SLOTS);
        crate::os::map::prefetch(&self.data[HEADER..end]);
    }

    /// Child page of branch entry `i`.
    #[inline]
    pub fn child(&self, i: usize) -> Result<u64> {
        let (_, off, klen) = self.slot(i);
        let at = off + klen;
        let b = self
            .data
            .get(at..at + 8)
            .ok_or_else(|| self.bad(i, "child pointer past the page end"))?;
        Ok(rd_u64(b, 0))
    }

    /// Compare entry `i`'s key with `key`, deciding by the slot prefix when it can.
    #[inline]
    fn cmp_entry(&self, i: usize, key: &[u8], prefix: u32) -> Result<Ordering> {
        let (p, _, _) = self.slot(i);
        match p.cmp(&prefix) {
            Ordering::Equal => Ok(self.key(i)?.cmp(key)),
            other => Ok(other),
        }
    }

    /// Leaf search: `(index, true)` if found, else `(insertion index, false)`.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        let prefix = key_prefix(key);
        let (mut lo, mut hi) = (0usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_entry(mid, key, prefix)? {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// Branch search: the index of the child whose range holds `key` (the last entry
    /// whose key is `<= key`; entry 0 stands for minus infinity).
    #[inline]
    pub fn branch_index(&self, key: &[u8]) -> Result<usize> {
        let prefix = key_prefix(key);
        let (mut lo, mut hi) = (1usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_entry(mid, key, prefix)? {
                Ordering::Greater => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(lo - 1)
    }
}

// ---- writing nodes (pages owned by the write transaction) ----

/// Free bytes between the slot array and the entry area.
#[inline]
pub fn gap(page: &[u8]) -> usize {
    header_upper(page).saturating_sub(HEADER + header_count(page) * SLOT)
}

/// Bytes needed to hold an entry with this key and body, slot included.
#[inline]
pub fn entry_cost(key: &[u8], body_len: usize) -> usize {
    SLOT + key.len() + body_len
}

/// Bytes a node page can give to entries and slots.
#[inline]
pub fn usable(page_size: usize) -> usize {
    page_size - HEADER
}

/// Insert an entry at slot `i`. Returns false if it does not fit even after compaction.
pub fn node_insert(page: &mut [u8], i: usize, key: &[u8], body: &[&[u8]]) -> bool {
    let body_len: usize = body.iter().map(|b| b.len()).sum();
    let need = entry_cost(key, body_len);
    if gap(page) < need {
        // Without holes, compaction cannot make room: skip counting the entries.
        if page[5] & F_HOLES == 0 || live_bytes(page) + need > usable(page.len()) {
            return false;
        }
        compact(page);
        if gap(page) < need {
            return false;
        }
    }
    let count = header_count(page);
    let upper = header_upper(page) - key.len() - body_len;
    let mut at = upper;
    page[at..at + key.len()].copy_from_slice(key);
    at += key.len();
    for b in body {
        page[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    }
    let slot_at = HEADER + i * SLOT;
    page.copy_within(slot_at..HEADER + count * SLOT, slot_at + SLOT);
    write_slot(page, i, key, upper);
    wr_u16(page, 6, (count + 1) as u16);
    wr_u32(page, 24, upper as u32);
    true
}

#[inline]
fn write_slot(page: &mut [u8], i: usize, key: &[u8], offset: usize) {
    let at = HEADER + i * SLOT;
    page[at..at + 4].copy_from_slice(&key_prefix(key).to_be_bytes());
    wr_u16(page, at + 4, offset as u16);
    wr_u16(page, at + 6, key.len() as u16);
}

/// Remove slot `i`; its bytes become a hole reclaimed by the next compaction.
pub fn node_remove(page: &mut [u8], i: usize) {
    // The entry's bytes join the holes count (nothing is added if the entry does not
    // decode: a count too small only makes the page look fuller).
    let removed = Node::new(page, header_pgno(page))
        .and_then(|n| n.entry_span(i))
        .map_or(0, |(_, len)| len);
    let count = header_count(page);
    let at = HEADER + i * SLOT;
    page.copy_within(at + SLOT..HEADER + count * SLOT, at);
    wr_u16(page, 6, (count - 1) as u16);
    if count == 1 {
        let len = page.len() as u32;
        wr_u32(page, 24, len);
        page[5] &= !F_HOLES;
        wr_u32(page, 28, 0);
    } else {
        page[5] |= F_HOLES;
        let holes = header_holes(page).saturating_add(removed);
        wr_u32(page, 28, u32::try_from(holes).unwrap_or(u32::MAX));
    }
}

/// Bytes of removed entries in the entry area since the page was last packed (header
/// bytes 28..32; see `F_HOLES`). A hint kept by writers.
pub fn header_holes(page: &[u8]) -> usize {
    rd_u32(page, 28) as usize
}

/// Overwrite the child pointer of branch entry `i` in place.
pub fn set_child(page: &mut [u8], pgno: u64, i: usize, child: u64) -> Result<()> {
    let node = Node::new(page, pgno)?;
    let (off, len) = node.entry_span(i)?;
    wr_u64(page, off + len - 8, child);
    Ok(())
}

/// Bytes used by entries and slots (excluding holes).
pub fn live_bytes(page: &[u8]) -> usize {
    // An entry that fails to decode counts 0, and so does a page whose header does.
    let Ok(node) = Node::new(page, header_pgno(page)) else {
        return 0;
    };
    if !node.is_leaf() {
        // A branch entry is its key and a fixed tail, and the slot holds the key length:
        // the slot array alone gives the sum (a damaged entry offset cannot lower it).
        let slots = &page[HEADER..HEADER + node.count() * SLOT];
        let keys: usize = slots
            .chunks_exact(SLOT)
            .map(|s| usize::from(u16::from_le_bytes([s[6], s[7]])))
            .sum();
        return keys + node.count() * (SLOT + BRANCH_ENTRY_TAIL);
    }
    (0..node.count())
        .map(|i| node.entry_span(i).map_or(0, |(_, l)| l + SLOT))
        .sum()
}

/// Bytes the header says are taken: the slot array plus the entry area, holes included.
fn used_bytes(page: &[u8]) -> usize {
    usable(page.len()).saturating_sub(gap(page))
}

/// Bytes used by entries and slots, read from the header when the page has no holes
/// ([`F_HOLES`] clear), else counted. Never below [`live_bytes`], so a writer deciding
/// whether entries fit errs only towards splitting.
pub fn live_bytes_quick(page: &[u8]) -> usize {
    if page[5] & F_HOLES == 0 {
        used_bytes(page)
    } else {
        live_bytes(page)
    }
}

/// Whether entries and slots use at least `min` bytes: the check after a delete for an
/// underfull page, read from the header alone.
///
/// On a page with holes it subtracts the header's holes count instead of decoding the
/// entries. A damaged count can err either way here, which is harmless: too small keeps
/// an underfull page as it is, too large only proposes a merge, and `merge` counts the
/// entries exactly before it changes anything.
pub fn live_bytes_reach(page: &[u8], min: usize) -> bool {
    let used = used_bytes(page);
    let holes = if page[5] & F_HOLES == 0 {
        0
    } else {
        header_holes(page)
    };
    used.saturating_sub(holes) >= min
}

/// Repack entries to the end of the page, removing holes.
pub fn compact(page: &mut [u8]) {
    let copy = page.to_vec();
    let pgno = header_pgno(&copy);
    let Ok(node) = Node::new(&copy, pgno) else {
        return;
    };
    let mut upper = page.len();
    for i in 0..node.count() {
        let Ok((off, len)) = node.entry_span(i) else {
            return;
        };
        upper -= len;
        page[upper..upper + len].copy_from_slice(&copy[off..off + len]);
        let at = HEADER + i * SLOT;
        wr_u16(page, at + 4, upper as u16);
    }
    wr_u32(page, 24, upper as u32);
    page[5] &= !F_HOLES;
    wr_u32(page, 28, 0);
}

/// An entry of a node as borrowed slices: its key and its body (everything after the
/// key). Splits and merges copy a page once and rebuild from these, with no per-entry
/// allocation.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    pub key: &'a [u8],
    pub body: &'a [u8],
}

impl Item<'_> {
    pub fn cost(&self) -> usize {
        entry_cost(self.key, self.body.len())
    }
}

/// All entries of a node, borrowed from its bytes.
pub fn entries<'a>(node: &Node<'a>) -> Result<Vec<Item<'a>>> {
    let mut items = Vec::with_capacity(node.count() + 1);
    for i in 0..node.count() {
        let (off, len) = node.entry_span(i)?;
        let (_, _, klen) = node.slot(i);
        // `entry_span` checked `off + len` against the page, and `len` covers the key.
        let (key, body) = node.data[off..off + len].split_at(klen);
        items.push(Item { key, body });
    }
    Ok(items)
}

/// Rebuild `page` as a node of `kind` holding exactly `items`, which must fit.
pub fn build(page: &mut [u8], kind: PageKind, pgno: u64, txnid: u64, items: &[Item<'_>]) {
    init_header(page, kind, pgno, txnid);
    // Entries go down from the page end in order, slots up from the header: no slot
    // shifting and no per-entry fit check beyond this one running total.
    let mut upper = page.len();
    let mut count = 0;
    for e in items {
        let len = e.key.len() + e.body.len();
        let slots_end = HEADER + (count + 1) * SLOT;
        if upper < slots_end + len {
            debug_assert!(false, "build: entries must fit");
            break;
        }
        upper -= len;
        page[upper..upper + e.key.len()].copy_from_slice(e.key);
        page[upper + e.key.len()..upper + len].copy_from_slice(e.body);
        write_slot(page, count, e.key, upper);
        count += 1;
    }
    wr_u16(page, 6, count as u16);
    wr_u32(page, 24, upper as u32);
}

// ---- overflow runs ----
// header as above with kind Overflow; byte 24..28 holds the run length in pages.

pub fn overflow_pages_needed(value_len: usize, page_size: usize) -> u64 {
    (HEADER + value_len).div_ceil(page_size) as u64
}

pub fn overflow_run_len(page: &[u8]) -> u64 {
    rd_u32(page, 24) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 4096;

    /// A leaf page holding `n` entries with 8-byte keys and `value_len`-byte values.
    fn leaf(n: usize, value_len: usize) -> Vec<u8> {
        let mut page = vec![0u8; PAGE];
        init_header(&mut page, PageKind::Leaf, 7, 1);
        let value = vec![0xAB; value_len];
        let head = [0u8, value_len as u8, 0, 0, 0];
        for i in 0..n {
            let key = (i as u64).to_be_bytes();
            assert!(node_insert(&mut page, i, &key, &[&head, &value]));
        }
        page
    }

    #[test]
    fn removal_sets_the_holes_flag_and_compaction_clears_it() {
        let mut page = leaf(10, 100);
        assert_eq!(page[5] & F_HOLES, 0);
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        node_remove(&mut page, 3);
        node_remove(&mut page, 0);
        node_remove(&mut page, 7);
        assert_ne!(page[5] & F_HOLES, 0);
        // The header's holes count is exact: used bytes minus holes are the live bytes.
        let used = usable(PAGE) - gap(&page);
        assert_eq!(used - header_holes(&page), live_bytes(&page));
        assert!(live_bytes_reach(&page, live_bytes(&page)));
        assert!(!live_bytes_reach(&page, live_bytes(&page) + 1));
        // With holes the quick count is the exact one, not the header's.
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        assert!(usable(PAGE) - gap(&page) > live_bytes(&page));
        compact(&mut page);
        assert_eq!(page[5] & F_HOLES, 0);
        assert_eq!(header_holes(&page), 0);
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        assert_eq!(Node::new(&page, 7).unwrap().count(), 7);
    }

    #[test]
    fn removing_the_last_entry_leaves_an_empty_page_without_holes() {
        let mut page = leaf(1, 10);
        node_remove(&mut page, 0);
        assert_eq!(page[5] & F_HOLES, 0);
        assert_eq!(header_upper(&page), PAGE);
        assert_eq!(live_bytes_quick(&page), 0);
    }

    #[test]
    fn a_full_page_admits_an_insert_only_after_removing_from_it() {
        let mut page = leaf(0, 0);
        let head = [0u8, 100, 0, 0, 0];
        let value = [1u8; 100];
        let mut n = 0;
        while node_insert(&mut page, n, &(n as u64).to_be_bytes(), &[&head, &value]) {
            n += 1;
        }
        // Full and without holes: refused at once, nothing changed.
        let before = page.clone();
        assert!(!node_insert(
            &mut page,
            n,
            &u64::MAX.to_be_bytes(),
            &[&head, &value]
        ));
        assert_eq!(page, before);
        // A removal leaves a hole big enough: the insert compacts and fits.
        node_remove(&mut page, 0);
        assert!(node_insert(
            &mut page,
            n - 1,
            &u64::MAX.to_be_bytes(),
            &[&head, &value]
        ));
        assert_eq!(page[5] & F_HOLES, 0, "the insert compacted the page");
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.count(), n);
        assert_eq!(node.key(n - 1).unwrap(), u64::MAX.to_be_bytes());
        assert_eq!(node.key(0).unwrap(), 1u64.to_be_bytes());
    }

    #[test]
    fn a_clear_flag_on_a_page_with_holes_only_overstates_its_fill() {
        let mut page = leaf(12, 200);
        node_remove(&mut page, 5);
        page[5] &= !F_HOLES; // as a damaged or foreign page might say
        assert!(live_bytes_quick(&page) >= live_bytes(&page));
        assert!(live_bytes_reach(&page, live_bytes(&page)));
    }

    #[test]
    fn leaf_entry_agrees_with_key_and_leaf_value_and_checks_lengths() {
        let mut page = leaf(12, 40);
        let node = Node::new(&page, 7).unwrap();
        for i in 0..node.count() {
            let (key, value) = node.leaf_entry(i).unwrap();
            assert_eq!(key, node.key(i).unwrap());
            match (value, node.leaf_value(i).unwrap()) {
                (LeafValue::Inline(a), LeafValue::Inline(b)) => assert_eq!(a, b),
                _ => panic!("entry {i}: inline values expected"),
            }
        }
        // A value length reaching past the page end is an error, not a panic.
        let (_, off, klen) = node.slot(3);
        wr_u32(&mut page, off + klen + 1, PAGE as u32);
        let node = Node::new(&page, 7).unwrap();
        assert!(matches!(
            node.leaf_entry(3),
            Err(Error::Corrupted { page: 7, .. })
        ));
        assert!(node.leaf_value(3).is_err());
        assert!(node.leaf_entry(2).is_ok());
    }

    #[test]
    fn node_header_errors_name_the_problem() {
        let page = leaf(3, 10);
        let what = |data: &[u8], pgno: u64| match Node::new(data, pgno) {
            Err(Error::Corrupted { what, .. }) => what,
            other => panic!("expected a corruption error, got {:?}", other.map(|_| ())),
        };
        assert!(what(&page[..HEADER], 7).contains("shorter than its header"));
        assert!(what(&page, 8).contains("names page 7"));
        let mut bad = page.clone();
        bad[4] = 0xEE;
        assert!(what(&bad, 7).contains("unknown page kind"));
        let mut bad = page.clone();
        wr_u32(&mut bad, 24, (PAGE + 1) as u32);
        assert!(what(&bad, 7).contains("overlaps entry area"));
        let mut bad = page.clone();
        wr_u16(&mut bad, 6, 0);
        assert!(what(&bad, 7).contains("empty node page"));
    }

    #[test]
    fn branch_live_bytes_come_from_the_slots_and_match_the_entries() {
        let mut page = vec![0u8; PAGE];
        init_header(&mut page, PageKind::Branch, 9, 1);
        for i in 0..40usize {
            let key = vec![b'k'; 1 + i % 13];
            assert!(node_insert(
                &mut page,
                i,
                &key,
                &[&(i as u64).to_le_bytes()]
            ));
        }
        node_remove(&mut page, 5);
        node_remove(&mut page, 17);
        let node = Node::new(&page, 9).unwrap();
        let decoded: usize = (0..node.count())
            .map(|i| node.entry_span(i).unwrap().1 + SLOT)
            .sum();
        assert_eq!(live_bytes(&page), decoded);
        assert!(live_bytes_quick(&page) >= decoded);
        compact(&mut page);
        assert_eq!(live_bytes_quick(&page), decoded);
    }

    #[test]
    fn prefetch_hints_accept_any_slice() {
        let page = leaf(10, 100);
        let node = Node::new(&page, 7).unwrap();
        for i in 0..12 {
            node.prefetch_entry(i); // past the end: no-op
        }
        node.prefetch_slots();
        crate::os::map::prefetch(&[]);
        crate::os::map::prefetch(&page[PAGE - 1..]);
        crate::os::map::prefetch(&page[3..]);
    }
}
