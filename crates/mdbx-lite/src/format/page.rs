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

use crate::error::{Corruption, Error, Result};
use crate::format::order::Order;

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

/// Page header flag ([`PageHeader::FLAGS`], branch and leaf pages): an entry was removed
/// since the page was last built or compacted, so its entry area may hold holes. A clear
/// flag lets the writer take the page's live bytes from the header alone (see
/// [`live_bytes_quick`]).
/// Only a hint: readers ignore it, and a clear flag on a page with holes (a damaged page)
/// only makes the writer think the page fuller than it is.
pub const F_HOLES: u8 = 1;
/// Page flag of a nested tree's leaves (a dup-sort key's values): entries are keys
/// only, with no flags, length or value after them. Fixed at the page's creation.
pub const F_KEYS_ONLY: u8 = 2;
/// Page flag of the branches and leaves of a tree in integer key order (written since
/// format version 4): slot heads are the keys' values' high 32 bits
/// ([`integer_head`]), so they decide comparisons as bytewise heads do. Fixed at the
/// page's creation; a page of such a tree without it (an older file's) has bytewise
/// heads, and its searches compare whole keys.
pub const F_INTEGER_HEADS: u8 = 4;

/// Leaf entry flag: the value lives in an overflow run; the entry holds its first page.
pub const F_OVERFLOW: u8 = 1;
/// Leaf entry flag (dup-sort tables): the value bytes are the key's sorted values, two
/// or more, as a dup block (`format::dups`).
pub const F_DUPS: u8 = 2;
/// Leaf entry flag (dup-sort tables): the value bytes are the record of a nested tree
/// whose keys are the key's values.
pub const F_NESTED: u8 = 4;

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

// ---- the common page header ----

/// A read view of the common page header (`docs/format.md`, "Common page header"): the
/// only place that knows where each field lives.
///
/// It holds the first [`HEADER`] bytes of a page and is made only from a slice at least
/// that long ([`PageHeader::new`]), so its accessors cannot fail. Readers widen the
/// stored integers (`count`, `holes` and `prefix_len` u16, `upper` u32) to `usize`; the setters of
/// [`PageHeaderMut`] take the stored widths, so a narrowing is always the caller's,
/// visible and explained where it happens.
#[derive(Clone, Copy)]
pub struct PageHeader<'a> {
    b: &'a [u8; HEADER],
}

impl PageHeader<'static> {
    /// An all-zero header: what [`Node::EMPTY`] (which has no bytes) reports.
    const ZERO: PageHeader<'static> = PageHeader { b: &[0; HEADER] };
}

impl<'a> PageHeader<'a> {
    /// Offset of the checksum (u32): crc32 of everything after it, see [`compute_checksum`].
    pub const CHECKSUM: usize = 0;
    /// Offset of the first byte the checksum covers (the end of the checksum field).
    pub const CHECKSUMMED_FROM: usize = Self::CHECKSUM + 4;
    /// Offset of the page kind (u8, [`PageKind`]).
    pub const KIND: usize = 4;
    /// Offset of the flags (u8; branch and leaf pages: [`F_HOLES`]).
    pub const FLAGS: usize = 5;
    /// Offset of the entry count (u16; branch and leaf pages).
    pub const COUNT: usize = 6;
    /// Offset of the page's own number (u64).
    pub const PGNO: usize = 8;
    /// Offset of the id of the transaction that wrote the page (u64).
    pub const TXNID: usize = 16;
    /// Offset of `upper` (u32; branch and leaf pages): the lowest entry byte.
    pub const UPPER: usize = 24;
    /// Offset of the run length in pages (u32; overflow pages). Shares `UPPER`'s bytes.
    pub const RUN_LEN: usize = 24;
    /// Offset of the holes count (u16; branch and leaf pages): bytes of removed entries.
    pub const HOLES: usize = 28;
    /// Offset of the page prefix length (u16; branch and leaf pages): how many leading
    /// bytes every key of the page shares with the separators around it.
    pub const PREFIX_LEN: usize = 30;

    /// The header of `page`, or `None` if the slice is shorter than [`HEADER`].
    #[inline]
    pub fn new(page: &'a [u8]) -> Option<PageHeader<'a>> {
        page.first_chunk().map(|b| PageHeader { b })
    }

    #[inline]
    pub fn checksum(&self) -> u32 {
        rd_u32(self.b, Self::CHECKSUM)
    }
    /// The kind byte as stored (for messages about unknown kinds).
    #[inline]
    pub fn kind_byte(&self) -> u8 {
        self.b[Self::KIND]
    }
    /// The page kind, `None` for an unknown kind byte.
    #[inline]
    pub fn kind(&self) -> Option<PageKind> {
        PageKind::from_u8(self.kind_byte())
    }
    #[inline]
    pub fn flags(&self) -> u8 {
        self.b[Self::FLAGS]
    }
    /// Whether the [`F_HOLES`] flag is set.
    #[inline]
    pub fn has_holes(&self) -> bool {
        self.flags() & F_HOLES != 0
    }
    #[inline]
    pub fn count(&self) -> usize {
        usize::from(rd_u16(self.b, Self::COUNT))
    }
    #[inline]
    pub fn pgno(&self) -> u64 {
        rd_u64(self.b, Self::PGNO)
    }
    #[inline]
    pub fn txnid(&self) -> u64 {
        rd_u64(self.b, Self::TXNID)
    }
    /// Branch and leaf pages: offset of the lowest entry byte.
    #[inline]
    pub fn upper(&self) -> usize {
        rd_u32(self.b, Self::UPPER) as usize
    }
    /// Overflow pages: the number of pages in the run.
    #[inline]
    pub fn run_len(&self) -> u64 {
        u64::from(rd_u32(self.b, Self::RUN_LEN))
    }
    /// Branch and leaf pages: bytes of entries removed since the page was last built or
    /// compacted (meaningful while [`F_HOLES`] is set). A hint kept by writers.
    #[inline]
    pub fn holes(&self) -> usize {
        usize::from(rd_u16(self.b, Self::HOLES))
    }
    /// Branch and leaf pages: the length of the page prefix (see [`Node::prefix_len`]).
    #[inline]
    pub fn prefix_len(&self) -> usize {
        usize::from(rd_u16(self.b, Self::PREFIX_LEN))
    }
}

/// A write view of the common page header; see [`PageHeader`] for the layout.
pub struct PageHeaderMut<'a> {
    b: &'a mut [u8; HEADER],
}

impl<'a> PageHeaderMut<'a> {
    /// The header of `page`, or `None` if the slice is shorter than [`HEADER`].
    #[inline]
    pub fn new(page: &'a mut [u8]) -> Option<PageHeaderMut<'a>> {
        page.first_chunk_mut().map(|b| PageHeaderMut { b })
    }

    /// Read the fields through this view.
    #[inline]
    pub fn read(&self) -> PageHeader<'_> {
        PageHeader { b: self.b }
    }

    /// Zero every field.
    #[inline]
    pub fn clear(&mut self) {
        self.b.fill(0);
    }
    #[inline]
    pub fn set_checksum(&mut self, checksum: u32) {
        wr_u32(self.b, PageHeader::CHECKSUM, checksum);
    }
    #[inline]
    pub fn set_kind(&mut self, kind: PageKind) {
        self.b[PageHeader::KIND] = kind as u8;
    }
    #[inline]
    pub fn set_flags(&mut self, flags: u8) {
        self.b[PageHeader::FLAGS] = flags;
    }
    /// Set or clear the [`F_HOLES`] flag, leaving the other flag bits.
    #[inline]
    pub fn set_holes_flag(&mut self, on: bool) {
        let flags = self.read().flags();
        self.set_flags(if on {
            flags | F_HOLES
        } else {
            flags & !F_HOLES
        });
    }
    #[inline]
    pub fn set_count(&mut self, count: u16) {
        wr_u16(self.b, PageHeader::COUNT, count);
    }
    #[inline]
    pub fn set_pgno(&mut self, pgno: u64) {
        wr_u64(self.b, PageHeader::PGNO, pgno);
    }
    #[inline]
    pub fn set_txnid(&mut self, txnid: u64) {
        wr_u64(self.b, PageHeader::TXNID, txnid);
    }
    /// Stamp the page number and writing transaction.
    #[inline]
    pub fn set_identity(&mut self, pgno: u64, txnid: u64) {
        self.set_pgno(pgno);
        self.set_txnid(txnid);
    }
    #[inline]
    pub fn set_upper(&mut self, upper: u32) {
        wr_u32(self.b, PageHeader::UPPER, upper);
    }
    #[inline]
    pub fn set_run_len(&mut self, pages: u32) {
        wr_u32(self.b, PageHeader::RUN_LEN, pages);
    }
    #[inline]
    pub fn set_holes(&mut self, holes: u16) {
        wr_u16(self.b, PageHeader::HOLES, holes);
    }
    #[inline]
    pub fn set_prefix_len(&mut self, len: u16) {
        wr_u16(self.b, PageHeader::PREFIX_LEN, len);
    }
}

/// The header of a whole page buffer. Panics if `page` is shorter than [`HEADER`]: pass
/// only pages (at least `MIN_PAGE_SIZE` bytes) or header arrays; bytes of unknown length
/// go through [`PageHeader::new`].
#[inline]
#[track_caller]
pub fn header(page: &[u8]) -> PageHeader<'_> {
    PageHeader::new(page).expect("a page buffer shorter than the page header")
}

/// The writable header of a whole page buffer; panics like [`header`].
#[inline]
#[track_caller]
pub fn header_mut(page: &mut [u8]) -> PageHeaderMut<'_> {
    PageHeaderMut::new(page).expect("a page buffer shorter than the page header")
}

// Shorthands for `header(page).field()`, kept for the pager and the tools.

#[inline]
pub fn header_kind(page: &[u8]) -> Option<PageKind> {
    header(page).kind()
}
#[inline]
pub fn header_count(page: &[u8]) -> usize {
    header(page).count()
}
#[inline]
pub fn header_pgno(page: &[u8]) -> u64 {
    header(page).pgno()
}
#[inline]
pub fn header_txnid(page: &[u8]) -> u64 {
    header(page).txnid()
}
#[inline]
pub fn header_upper(page: &[u8]) -> usize {
    header(page).upper()
}
#[inline]
pub fn header_checksum(page: &[u8]) -> u32 {
    header(page).checksum()
}
/// Shorthand for `header(page).run_len()`.
pub fn overflow_run_len(page: &[u8]) -> u64 {
    header(page).run_len()
}

/// Write a fresh node header; `upper` starts at the end of the page (no entries yet).
pub fn init_header(page: &mut [u8], kind: PageKind, pgno: u64, txnid: u64) {
    // A page is at most `MAX_PAGE_SIZE` (64 KiB) bytes: its length fits `upper`.
    let len = page.len() as u32;
    let mut h = header_mut(page);
    h.clear();
    h.set_kind(kind);
    h.set_identity(pgno, txnid);
    h.set_upper(len);
}

/// Stamp the page number and writing transaction (done when a page is copied on write).
/// Shorthand for `header_mut(page).set_identity(pgno, txnid)`.
pub fn set_identity(page: &mut [u8], pgno: u64, txnid: u64) {
    header_mut(page).set_identity(pgno, txnid);
}

/// The header of the first page of an overflow run of `run_len` pages starting at page
/// `pgno`, written by transaction `txnid`: kind [`PageKind::Overflow`], the page number,
/// the transaction id and the run length set, every other field 0, the checksum too.
///
/// The checksum covers the whole run, so the writer fills it in: it hashes
/// [`checksum_input`] of this header, then the value and the zero padding up to the end
/// of the run, and stores the result with [`PageHeaderMut::set_checksum`].
///
/// `Error::Internal` if `run_len` does not fit the header's u32 field (no value of at
/// most 4 GiB - 1 bytes needs that many pages).
pub fn overflow_head(pgno: u64, txnid: u64, run_len: u64) -> Result<[u8; HEADER]> {
    let pages = u32::try_from(run_len).map_err(|_| {
        Error::Internal(format!(
            "page {pgno}: an overflow run of {run_len} pages does not fit the header"
        ))
    })?;
    let mut head = [0u8; HEADER];
    let mut h = header_mut(&mut head);
    h.set_kind(PageKind::Overflow);
    h.set_identity(pgno, txnid);
    h.set_run_len(pages);
    Ok(head)
}

/// The bytes a checksum covers: everything after the checksum field.
#[inline]
pub fn checksum_input(bytes: &[u8]) -> &[u8] {
    bytes
        .get(PageHeader::CHECKSUMMED_FROM..)
        .unwrap_or_default()
}

/// crc32 of everything after the checksum field.
pub fn compute_checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(checksum_input(bytes))
}

/// Store the checksum of a page buffer in its header.
pub fn stamp_checksum(bytes: &mut [u8]) {
    let c = compute_checksum(bytes);
    header_mut(bytes).set_checksum(c);
}

/// The 4-byte big-endian, zero-padded head of `bytes` (a key's bytes after its page's
/// prefix), as stored in each slot.
///
/// `head(a) < head(b)` implies `a < b`, so unequal heads decide a comparison.
#[inline]
pub fn key_head(bytes: &[u8]) -> u32 {
    let mut p = [0u8; 4];
    let n = bytes.len().min(4);
    p[..n].copy_from_slice(&bytes[..n]);
    u32::from_be_bytes(p)
}

/// The slot head of `key` on a page whose prefix is `prefix_len` bytes long: the head of
/// the bytes after the prefix (0 for a key no longer than the prefix, which only a
/// branch's empty entry 0 is).
#[inline]
pub fn head_at(key: &[u8], prefix_len: usize) -> u32 {
    key_head(key.get(prefix_len..).unwrap_or_default())
}

/// The slot head of a key of an integer-ordered tree ([`F_INTEGER_HEADS`]): a u32 key's
/// value; for a u64 key (read native-endian, as the order reads it) its bit length in
/// the top 7 bits and, below them, its 25 bits after the leading one (the value itself
/// when it has at most 25 bits), like a float's exponent and mantissa, so that small
/// counters and large hashes alike get distinct heads. 0 for other lengths (a branch's
/// empty entry 0). Monotonic: for keys of one size, `integer_head(a) <
/// integer_head(b)` implies `a < b` in integer order.
#[inline]
pub fn integer_head(key: &[u8]) -> u32 {
    match key.len() {
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(key);
            let v = u64::from_ne_bytes(b);
            let bits = 64 - v.leading_zeros();
            let mantissa = if bits <= 25 {
                v as u32
            } else {
                (v >> (bits - 26)) as u32 & 0x01FF_FFFF
            };
            (bits << 25) | mantissa
        }
        4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(key);
            u32::from_ne_bytes(b)
        }
        _ => 0,
    }
}

/// The slot head `key` gets on a page with header flags `flags` and prefix length
/// `prefix_len`.
#[inline]
pub fn slot_head_for(flags: u8, key: &[u8], prefix_len: usize) -> u32 {
    if flags & F_INTEGER_HEADS != 0 {
        integer_head(key)
    } else {
        head_at(key, prefix_len)
    }
}

/// Length of the longest common prefix of `a` and `b`.
#[inline]
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    // Eight bytes at a time: writers take this of long keys on every split.
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut at = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let diff = u64::from_le_bytes(x.try_into().unwrap_or_default())
            ^ u64::from_le_bytes(y.try_into().unwrap_or_default());
        if diff != 0 {
            return at + (diff.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + a[at..]
        .iter()
        .zip(&b[at..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// A leaf value as stored: inline bytes, or a pointer to an overflow run; in a dup-sort
/// table also a dup block or a nested tree's record (a single value is `Inline`).
#[derive(Clone, Copy, Debug)]
pub enum LeafValue<'a> {
    Inline(&'a [u8]),
    Overflow {
        pgno: u64,
        len: usize,
    },
    /// Two or more sorted values ([`F_DUPS`]).
    Dups(&'a [u8]),
    /// The record of a nested tree of values ([`F_NESTED`]).
    Nested(&'a [u8]),
}

/// A validated read-only view of a branch or leaf page.
///
/// Layout (`docs/format.md`): header, slot array, gap, entries. Entries hold whole keys.
/// The header's prefix length `P` says that every key the page may hold shares its first
/// `P` bytes with the separators that bound the page in its parent (so with every key
/// of the page, and with every key a descent brings here): slot heads are the 4 bytes
/// after them, and a search skips them. That keeps heads telling keys apart when keys
/// share long prefixes.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub pgno: u64,
    data: &'a [u8],
    /// From the header's u16 field; kept narrow so cursor stacks stay small.
    count: u16,
    /// The page prefix length (u16 in the header).
    plen: u16,
    leaf: bool,
    /// A leaf of keys only ([`F_KEYS_ONLY`]): every value is empty.
    keys_only: bool,
    /// Slot heads are integer heads ([`F_INTEGER_HEADS`]).
    int_heads: bool,
}

impl Node<'static> {
    /// A placeholder for fixed-size cursor stacks; never read.
    pub const EMPTY: Node<'static> = Node {
        pgno: 0,
        data: &[],
        count: 0,
        plen: 0,
        keys_only: false,
        int_heads: false,
        leaf: false,
    };
}

impl<'a> Node<'a> {
    /// Validate the header of page `pgno` and its slot array.
    #[inline]
    pub fn new(data: &'a [u8], pgno: u64) -> Result<Node<'a>> {
        // Every descent step runs this: one combined test on the fast path, the
        // specific error built out of line.
        if let Some(h) = PageHeader::new(data).filter(|_| data.len() >= HEADER + SLOT) {
            let leaf = match h.kind() {
                Some(PageKind::Leaf) => Some(true),
                Some(PageKind::Branch) => Some(false),
                _ => None,
            };
            let count = h.count();
            let upper = h.upper();
            let plen = h.prefix_len();
            if let Some(leaf) = leaf {
                if h.pgno() == pgno
                    && count != 0
                    && HEADER + count * SLOT <= upper
                    && upper <= data.len()
                {
                    return Ok(Node {
                        pgno,
                        data,
                        count: count as u16,
                        plen: plen as u16,
                        leaf,
                        keys_only: leaf && h.flags() & F_KEYS_ONLY != 0,
                        int_heads: h.flags() & F_INTEGER_HEADS != 0,
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
        let Some(h) = PageHeader::new(data).filter(|_| data.len() >= HEADER + SLOT) else {
            return Error::corrupted(Corruption::Header, pgno, "page shorter than its header");
        };
        match h.kind() {
            Some(PageKind::Leaf | PageKind::Branch) => {}
            Some(k) => {
                return Error::corrupted(
                    Corruption::Header,
                    pgno,
                    format!("expected a branch or leaf page, found {}", k.name()),
                )
            }
            None => {
                return Error::corrupted(
                    Corruption::Header,
                    pgno,
                    format!("unknown page kind {}", h.kind_byte()),
                )
            }
        }
        if h.pgno() != pgno {
            return Error::corrupted(
                Corruption::Header,
                pgno,
                format!("page header names page {}", h.pgno()),
            );
        }
        let count = h.count();
        let upper = h.upper();
        if HEADER + count * SLOT > upper || upper > data.len() {
            return Error::corrupted(
                Corruption::Layout,
                pgno,
                format!("slot array ({count} entries) overlaps entry area at {upper}"),
            );
        }
        Error::corrupted(Corruption::Layout, pgno, "empty node page")
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
        self.header().txnid()
    }
    /// The page header (all zero for [`Node::EMPTY`]).
    #[inline]
    pub fn header(&self) -> PageHeader<'a> {
        PageHeader::new(self.data).unwrap_or(PageHeader::ZERO)
    }
    pub fn bytes(&self) -> &'a [u8] {
        self.data
    }

    /// Length of the page prefix: the leading bytes every key of the page (but a
    /// branch's empty entry 0) shares with the separators around the page.
    #[inline]
    pub fn prefix_len(&self) -> usize {
        usize::from(self.plen)
    }

    /// The page prefix's bytes, read from the page's last key (every key but a branch's
    /// entry 0 starts with them). For tools: searches never read them. Empty for a
    /// branch left with only its entry 0 (after its other children emptied): it has no
    /// key to read them from, and none they could be wrong for.
    pub fn prefix(&self) -> Result<&'a [u8]> {
        let plen = self.prefix_len();
        if plen == 0 || (!self.leaf && self.count() == 1) {
            return Ok(&[]);
        }
        let last = self.count() - 1;
        self.key(last)?
            .get(..plen)
            .ok_or_else(|| self.bad(last, "key shorter than the page prefix"))
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

    /// Where entry `i` starts in the page, from its slot (unchecked: `entry_span`
    /// validates it).
    #[inline]
    pub fn entry_offset(&self, i: usize) -> usize {
        self.slot(i).1
    }

    /// Length of entry `i`'s key, from its slot.
    #[inline]
    pub fn key_len(&self, i: usize) -> usize {
        self.slot(i).2
    }

    /// The slot's head field as stored: the key's first 4 bytes after the page prefix
    /// (`check` verifies it matches the key).
    #[inline]
    pub fn slot_head(&self, i: usize) -> u32 {
        self.slot(i).0
    }

    /// Byte offset and total length of entry `i` (key + body).
    pub fn entry_span(&self, i: usize) -> Result<(usize, usize)> {
        let (_, off, klen) = self.slot(i);
        let upper = self.header().upper();
        let body = if self.keys_only {
            0
        } else if self.leaf {
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
        Error::corrupted(Corruption::Layout, self.pgno, format!("entry {i}: {what}"))
    }

    /// Whether the page's slot heads are integer heads ([`F_INTEGER_HEADS`]).
    pub fn has_integer_heads(&self) -> bool {
        self.int_heads
    }

    /// Whether the page is a leaf of keys only ([`F_KEYS_ONLY`]).
    pub fn is_keys_only(&self) -> bool {
        self.keys_only
    }

    /// The keys of entries `from..count` as one slice when they lie back to back in
    /// slot order in a leaf of keys only (as `build` and `compact` lay them out); None
    /// when they do not (entries inserted since sit elsewhere) or the page is not such
    /// a leaf. Bounds-checked like `key`.
    pub fn keys_run(&self, from: usize) -> Result<Option<&'a [u8]>> {
        if !self.keys_only || from >= self.count() {
            return Ok(None);
        }
        let start = self.entry_offset(from);
        let mut end = start;
        for i in from..self.count() {
            let (_, off, klen) = self.slot(i);
            if off != end {
                return Ok(None);
            }
            end = off + klen;
        }
        self.data
            .get(start..end)
            .map(Some)
            .ok_or_else(|| self.bad(from, "keys past the page end"))
    }

    /// Key of entry `i`.
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        let (_, off, klen) = self.slot(i);
        self.data
            .get(off..off + klen)
            .ok_or_else(|| self.bad(i, "key past the page end"))
    }

    /// The bytes of entry `i`'s key after the page prefix.
    #[inline]
    fn key_suffix(&self, i: usize) -> Result<&'a [u8]> {
        let (_, off, klen) = self.slot(i);
        let plen = self.prefix_len();
        if klen < plen {
            return Err(self.bad(i, "key shorter than the page prefix"));
        }
        self.data
            .get(off + plen..off + klen)
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
        if self.keys_only {
            let Some(key) = self.data.get(off..at) else {
                return Err(self.bad(i, "key past the page end"));
            };
            return Ok((key, LeafValue::Inline(&key[klen..])));
        }
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
        let Some(v) = self.data.get(start..start + len) else {
            return Err(self.bad(i, "value past the page end"));
        };
        match head[0] {
            0 => Ok((key, LeafValue::Inline(v))),
            F_DUPS => Ok((key, LeafValue::Dups(v))),
            F_NESTED => Ok((key, LeafValue::Nested(v))),
            f => Err(self.bad(i, &format!("unknown entry flags {f:#x}"))),
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

    /// The bytes of `key` after the page prefix. A search key that reached this page by
    /// descending from the root lies between the separators around it, so it shares the
    /// prefix; one too short to is a sign the page's prefix length is damaged.
    #[inline]
    fn search_suffix<'k>(&self, key: &'k [u8]) -> Result<&'k [u8]> {
        key.get(self.prefix_len()..).ok_or_else(|| {
            Error::corrupted(
                Corruption::Layout,
                self.pgno,
                format!(
                    "page prefix of {} bytes is longer than a key the page's range holds",
                    self.prefix_len()
                ),
            )
        })
    }

    /// Compare entry `i`'s key after the prefix with `suffix` (a key's bytes after the
    /// prefix, whose head is `head`), deciding by the slot head when it can.
    #[inline(always)]
    fn cmp_entry(&self, i: usize, suffix: &[u8], head: u32) -> Result<Ordering> {
        let (h, _, _) = self.slot(i);
        match h.cmp(&head) {
            Ordering::Equal => Ok(self.key_suffix(i)?.cmp(suffix)),
            other => Ok(other),
        }
    }

    /// Leaf search in `order`: `(index, true)` if found, else `(insertion index,
    /// false)`. `key` must lie in the page's range (the search of a descent from the
    /// root).
    #[inline]
    pub fn search(&self, key: &[u8], order: Order) -> Result<(usize, bool)> {
        if self.int_heads && order == Order::Integer && self.prefix_len() == 0 {
            return self.search_integer(key);
        }
        if !order.is_bytewise() || self.int_heads {
            return self.search_ordered(key, order);
        }
        let suffix = self.search_suffix(key)?;
        let head = key_head(suffix);
        let (mut lo, mut hi) = (0usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_entry(mid, suffix, head)? {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// Branch search in `order`: the index of the child whose range holds `key` (the
    /// last entry whose key is `<= key`; entry 0 stands for minus infinity). `key` must
    /// lie in the page's range, as for [`Node::search`].
    #[inline]
    pub fn branch_index(&self, key: &[u8], order: Order) -> Result<usize> {
        if self.int_heads && order == Order::Integer && self.prefix_len() == 0 {
            return self.branch_index_integer(key);
        }
        if !order.is_bytewise() || self.int_heads {
            return self.branch_index_ordered(key, order);
        }
        let suffix = self.search_suffix(key)?;
        let head = key_head(suffix);
        let (mut lo, mut hi) = (1usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_entry(mid, suffix, head)? {
                Ordering::Greater => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(lo - 1)
    }

    /// A page of a tree in another order than bytewise keeps no page prefix (its
    /// neighbouring keys need not share leading bytes), and its comparator must be known.
    fn check_ordered(&self, order: Order) -> Result<()> {
        if !order.searchable() {
            return Err(Error::Invalid(
                "the tree is ordered by a comparator this process was not given".into(),
            ));
        }
        if self.prefix_len() != 0 {
            return Err(self.bad(0, "a page prefix in a tree that is not in byte order"));
        }
        if self.int_heads && order != Order::Integer {
            return Err(self.bad(0, "integer slot heads in a tree of another order"));
        }
        Ok(())
    }

    /// Compare entry `i`'s key with `key` (integer head `head`) in integer order, by
    /// the slot heads when they differ.
    #[inline(always)]
    fn cmp_integer_entry(&self, i: usize, key: &[u8], head: u32) -> Result<Ordering> {
        let (h, _, _) = self.slot(i);
        match h.cmp(&head) {
            Ordering::Equal => Ok(crate::format::order::cmp_integer(self.key(i)?, key)),
            other => Ok(other),
        }
    }

    /// [`Node::search`] on a page of integer slot heads in integer order (the page
    /// was checked to hold no prefix): as fast a path as the bytewise one.
    #[inline]
    fn search_integer(&self, key: &[u8]) -> Result<(usize, bool)> {
        let head = integer_head(key);
        let (mut lo, mut hi) = (0usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_integer_entry(mid, key, head)? {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// [`Node::branch_index`] on a page of integer slot heads in integer order.
    #[inline]
    fn branch_index_integer(&self, key: &[u8]) -> Result<usize> {
        let head = integer_head(key);
        let (mut lo, mut hi) = (1usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_integer_entry(mid, key, head)? {
                Ordering::Greater => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(lo - 1)
    }

    /// [`Node::search`] in an order other than bytewise: whole keys compared.
    #[inline(never)]
    fn search_ordered(&self, key: &[u8], order: Order) -> Result<(usize, bool)> {
        self.check_ordered(order)?;
        if self.int_heads {
            return self.search_integer(key);
        }
        let (mut lo, mut hi) = (0usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match order.cmp(self.key(mid)?, key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok((mid, true)),
            }
        }
        Ok((lo, false))
    }

    /// [`Node::branch_index`] in an order other than bytewise.
    #[inline(never)]
    fn branch_index_ordered(&self, key: &[u8], order: Order) -> Result<usize> {
        self.check_ordered(order)?;
        if self.int_heads {
            return self.branch_index_integer(key);
        }
        let (mut lo, mut hi) = (1usize, self.count as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match order.cmp(self.key(mid)?, key) {
                Ordering::Greater => hi = mid,
                _ => lo = mid + 1,
            }
        }
        Ok(lo - 1)
    }
}

// ---- writing nodes (pages owned by the write transaction) ----
//
// Writers take page buffers of the file's page size, at most `MAX_PAGE_SIZE` (64 KiB):
// every offset inside one fits the header's u32 fields and the slots' u16 offsets, and
// a slot count (at most a page over `SLOT`) fits the u16 count.
//
// The page prefix length is the writer's to keep valid: at most the common prefix of the
// separators around the page. A page's range only narrows on an insert or a split (the
// length stays valid; a split gives each half the common prefix of its new separators),
// and widens only when entries move between neighbours or neighbours merge, which then
// take the smaller of the two lengths (the neighbours' combined range shares it).

/// Free bytes between the slot array and the entry area.
#[inline]
pub fn gap(page: &[u8]) -> usize {
    let h = header(page);
    h.upper().saturating_sub(HEADER + h.count() * SLOT)
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

/// Insert an entry at slot `i`. Returns false if it does not fit even after compaction
/// (or the page needs compacting and its entries do not decode).
///
/// The key must lie in the page's range (the writer found `i` by a descent), so it
/// shares the page prefix.
pub fn node_insert(page: &mut [u8], i: usize, key: &[u8], body: &[&[u8]]) -> bool {
    let body_len: usize = body.iter().map(|b| b.len()).sum();
    let need = entry_cost(key, body_len);
    if gap(page) < need {
        // Without holes, compaction cannot make room: skip counting the entries.
        if !header(page).has_holes() || live_bytes(page) + need > usable(page.len()) {
            return false;
        }
        if !compact(page) || gap(page) < need {
            return false;
        }
    }
    let h = header(page);
    let count = h.count();
    let plen = h.prefix_len();
    let upper = h.upper() - key.len() - body_len;
    let mut at = upper;
    page[at..at + key.len()].copy_from_slice(key);
    at += key.len();
    for b in body {
        page[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    }
    let slot_at = HEADER + i * SLOT;
    page.copy_within(slot_at..HEADER + count * SLOT, slot_at + SLOT);
    write_slot(page, plen, i, key, upper);
    let mut h = header_mut(page);
    // The entry and its slot fit the page: the new count and offset fit their fields.
    h.set_count((count + 1) as u16);
    h.set_upper(upper as u32);
    true
}

/// Lower the page prefix length to `len` (no-op if it is not longer) and take every
/// slot's head again after the new length: for a page about to receive entries from a
/// neighbour with a shorter prefix. False, changing nothing, if a key does not decode.
pub fn lower_prefix(page: &mut [u8], len: usize) -> bool {
    let h = header(page);
    if h.prefix_len() <= len {
        return true;
    }
    let count = h.count();
    // Read every key before writing, so a damaged entry leaves the page as it was.
    let mut heads = Vec::with_capacity(count);
    {
        let Ok(node) = Node::new(page, h.pgno()) else {
            return false;
        };
        for i in 0..count {
            match node.key(i) {
                Ok(k) => heads.push(head_at(k, len)),
                Err(_) => return false,
            }
        }
    }
    for (i, head) in heads.into_iter().enumerate() {
        let at = HEADER + i * SLOT;
        page[at..at + 4].copy_from_slice(&head.to_be_bytes());
    }
    // `len` is below the old length, which fitted the u16 field.
    header_mut(page).set_prefix_len(len as u16);
    true
}

#[inline]
fn write_slot(page: &mut [u8], plen: usize, i: usize, key: &[u8], offset: usize) {
    let at = HEADER + i * SLOT;
    let head = slot_head_for(header(page).flags(), key, plen);
    page[at..at + 4].copy_from_slice(&head.to_be_bytes());
    wr_u16(page, at + 4, offset as u16);
    wr_u16(page, at + 6, key.len() as u16);
}

/// Remove slot `i` (panics if there is none); its bytes become a hole reclaimed by the
/// next compaction.
pub fn node_remove(page: &mut [u8], i: usize) {
    // The entry's bytes join the holes count (nothing is added if the entry does not
    // decode: a count too small only makes the page look fuller).
    let removed = Node::new(page, header(page).pgno())
        .and_then(|n| n.entry_span(i))
        .map_or(0, |(_, len)| len);
    let count = header(page).count();
    assert!(i < count, "node_remove: no slot {i} among {count}");
    let at = HEADER + i * SLOT;
    page.copy_within(at + SLOT..HEADER + count * SLOT, at);
    let len = page.len() as u32;
    let mut h = header_mut(page);
    h.set_count((count - 1) as u16);
    if count == 1 {
        h.set_upper(len);
        h.set_holes_flag(false);
        h.set_holes(0);
    } else {
        h.set_holes_flag(true);
        let holes = h.read().holes().saturating_add(removed);
        h.set_holes(u16::try_from(holes).unwrap_or(u16::MAX));
    }
}

/// Count `bytes` more of the page's entry area as holes (an entry rewritten shorter in
/// place left its tail unused).
pub fn add_holes(page: &mut [u8], bytes: usize) {
    if bytes == 0 {
        return;
    }
    let mut h = header_mut(page);
    h.set_holes_flag(true);
    let holes = h.read().holes().saturating_add(bytes);
    h.set_holes(u16::try_from(holes).unwrap_or(u16::MAX));
}

/// Overwrite the child pointer of branch entry `i` in place.
///
/// `Error::Internal` if `pgno` is a leaf or has no entry `i` (the writer's path names
/// only branch pages and their entries, so either is a bug).
pub fn set_child(page: &mut [u8], pgno: u64, i: usize, child: u64) -> Result<()> {
    let node = Node::new(page, pgno)?;
    if node.is_leaf() || i >= node.count() {
        return Err(Error::Internal(format!(
            "page {pgno}: no child pointer {i} to set in a {} page of {} entries",
            if node.is_leaf() { "leaf" } else { "branch" },
            node.count()
        )));
    }
    let (off, len) = node.entry_span(i)?;
    wr_u64(page, off + len - 8, child);
    Ok(())
}

/// Bytes used by entries and slots (excluding holes).
pub fn live_bytes(page: &[u8]) -> usize {
    // An entry that fails to decode counts 0, and so does a page whose header does.
    let Ok(node) = Node::new(page, header(page).pgno()) else {
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
/// ([`F_HOLES`] clear), else counted. Never below [`live_bytes`], so a writer
/// deciding whether entries fit errs only towards splitting.
pub fn live_bytes_quick(page: &[u8]) -> usize {
    if header(page).has_holes() {
        live_bytes(page)
    } else {
        used_bytes(page)
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
    let h = header(page);
    let holes = if h.has_holes() { h.holes() } else { 0 };
    used_bytes(page).saturating_sub(holes) >= min
}

/// Repack entries to the end of the page, removing holes. Returns false, leaving the
/// page as it was, if the page or an entry does not decode or the entries overlap so
/// much that packed they would not fit (a damaged page).
#[must_use]
pub fn compact(page: &mut [u8]) -> bool {
    // A copy to read the entries from while they move (on the stack for pages up to
    // 8 KiB: compaction is frequent when large entries grow).
    let mut stack = [0u8; 8192];
    let mut heap = Vec::new();
    let copy: &mut [u8] = if page.len() <= stack.len() {
        &mut stack[..page.len()]
    } else {
        heap.resize(page.len(), 0);
        &mut heap
    };
    copy.copy_from_slice(page);
    let copy: &[u8] = copy;
    let Ok(node) = Node::new(copy, header(copy).pgno()) else {
        return false;
    };
    // Decode every entry before moving any, so a bad one cannot leave the page half
    // repacked.
    let Ok(spans) = (0..node.count())
        .map(|i| node.entry_span(i))
        .collect::<Result<Vec<_>>>()
    else {
        return false;
    };
    let total: usize = spans.iter().map(|&(_, len)| len).sum();
    if HEADER + node.count() * SLOT + total > page.len() {
        return false;
    }
    // In slot order up to the page end, as `build` lays them out.
    let upper = page.len() - total;
    let mut to = upper;
    for (i, (off, len)) in spans.into_iter().enumerate() {
        page[to..to + len].copy_from_slice(&copy[off..off + len]);
        wr_u16(page, HEADER + i * SLOT + 4, to as u16);
        to += len;
    }
    let mut h = header_mut(page);
    h.set_upper(upper as u32);
    h.set_holes_flag(false);
    h.set_holes(0);
    true
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

/// The prefix length `build` records: the caller's `wanted` (what the separators around
/// the page share), no more than the page's own keys share (but a branch's entry 0), so
/// a recorded length never claims bytes the keys do not have, and within the u16 field.
fn prefix_for(kind: PageKind, items: &[Item<'_>], wanted: usize) -> usize {
    let first = usize::from(kind == PageKind::Branch);
    let shared = match (items.get(first), items.last()) {
        // Sorted keys: what the first and last share, every key between shares.
        (Some(a), Some(b)) => common_prefix(a.key, b.key),
        _ => 0,
    };
    wanted.min(shared).min(usize::from(u16::MAX))
}

/// Rebuild `page` as a node of `kind` (branch or leaf) holding exactly `items`, with a
/// page prefix of `prefix_len` bytes (what the separators around the page share; see
/// the writers' note above).
///
/// The writer sizes the items before it builds (splits, shifts and merges count their
/// bytes), so items that do not fit, or a kind that is not a node kind, are a bug:
/// `Error::Internal`, with the page left as it was.
pub fn build(
    page: &mut [u8],
    kind: PageKind,
    pgno: u64,
    txnid: u64,
    items: &[Item<'_>],
    prefix_len: usize,
) -> Result<()> {
    if !matches!(kind, PageKind::Branch | PageKind::Leaf) {
        return Err(Error::Internal(format!(
            "page {pgno}: cannot build a {} page from node entries",
            kind.name()
        )));
    }
    let total: usize = items.iter().map(Item::cost).sum();
    if total > usable(page.len()) {
        return Err(Error::Internal(format!(
            "page {pgno}: {} entries of {total} bytes (slots included) do not fit a {} \
             page of {} usable bytes",
            items.len(),
            kind.name(),
            usable(page.len())
        )));
    }
    let plen = prefix_for(kind, items, prefix_len);
    // Slots go up from the header, entries fill the page's end. Lay them out before
    // writing anything: no slot shifting, and a refusal changes nothing.
    let mut at = page.len() - (total - items.len() * SLOT);
    for (n, e) in items.iter().enumerate() {
        if at > usize::from(u16::MAX) || e.key.len() > usize::from(u16::MAX) {
            return Err(Error::Internal(format!(
                "page {pgno}: entry {n} (at {at}, key of {} bytes) exceeds the 16-bit \
                 slot fields",
                e.key.len()
            )));
        }
        at += e.key.len() + e.body.len();
    }
    // The page's layout stays what it was created with.
    let keys_only = kind == PageKind::Leaf && header(page).flags() & F_KEYS_ONLY != 0;
    let int_heads = header(page).flags() & F_INTEGER_HEADS;
    if keys_only && items.iter().any(|e| !e.body.is_empty()) {
        return Err(Error::Internal(format!(
            "page {pgno}: an entry with a value for a leaf of keys only"
        )));
    }
    init_header(page, kind, pgno, txnid);
    header_mut(page).set_flags(if keys_only { F_KEYS_ONLY } else { 0 } | int_heads);
    // Entries in slot order from `upper` to the page end: a scan reads ascending
    // addresses, and a keys-only leaf's keys are one run (`Node::keys_run`).
    let upper = page.len() - (total - items.len() * SLOT);
    let mut at = upper;
    for (n, e) in items.iter().enumerate() {
        let len = e.key.len() + e.body.len();
        page[at..at + e.key.len()].copy_from_slice(e.key);
        page[at + e.key.len()..at + len].copy_from_slice(e.body);
        write_slot(page, plen, n, e.key, at);
        at += len;
    }
    let mut h = header_mut(page);
    // Every offset fits 16 bits (checked above), so the slot count does too; the prefix
    // length was capped to the u16 field.
    h.set_count(items.len() as u16);
    h.set_upper(upper as u32);
    h.set_prefix_len(plen as u16);
    Ok(())
}

// ---- overflow runs ----
// The first page carries the common header with kind Overflow and the run length
// (`PageHeader::run_len`); see `overflow_head`.

pub fn overflow_pages_needed(value_len: usize, page_size: usize) -> u64 {
    (HEADER + value_len).div_ceil(page_size) as u64
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
    fn integer_heads_never_contradict_the_integer_order() {
        let mut xs: Vec<u64> = vec![0, 1, 2, 3, (1 << 25) - 1, 1 << 25, (1 << 25) + 1];
        for shift in 0..64 {
            for d in [0u64, 1, 2, 0x5555, u64::MAX >> 1] {
                xs.push((1u64 << shift) | (d & ((1u64 << shift).wrapping_sub(1))));
                xs.push(u64::MAX >> shift);
            }
        }
        xs.sort_unstable();
        xs.dedup();
        let heads: Vec<u32> = xs.iter().map(|x| integer_head(&x.to_ne_bytes())).collect();
        assert!(
            heads.windows(2).all(|w| w[0] <= w[1]),
            "heads ascend with the values"
        );
        // Small values and values of one bit length far apart get distinct heads.
        assert_ne!(
            integer_head(&5u64.to_ne_bytes()),
            integer_head(&6u64.to_ne_bytes())
        );
        let (a, b) = (u64::MAX - (1 << 40), u64::MAX);
        assert_ne!(
            integer_head(&a.to_ne_bytes()),
            integer_head(&b.to_ne_bytes())
        );
        assert!(integer_head(&7u32.to_ne_bytes()) < integer_head(&8u32.to_ne_bytes()));
    }

    #[test]
    fn keys_only_leaves_hand_out_adjacent_keys_as_one_run() {
        let keys: Vec<[u8; 4]> = (0u32..50).map(|i| (i * 2).to_be_bytes()).collect();
        let items: Vec<Item<'_>> = keys.iter().map(|k| Item { key: k, body: &[] }).collect();
        let mut page = vec![0u8; PAGE];
        init_header(&mut page, PageKind::Leaf, 7, 1);
        header_mut(&mut page).set_flags(F_KEYS_ONLY);
        build(&mut page, PageKind::Leaf, 7, 1, &items, 0).unwrap();
        let all: Vec<u8> = keys.iter().flatten().copied().collect();
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.keys_run(0).unwrap(), Some(&all[..]));
        assert_eq!(node.keys_run(10).unwrap(), Some(&all[40..]));
        assert_eq!(node.keys_run(50).unwrap(), None);
        // An insert puts its key below the others: runs that include it are not adjacent.
        assert!(node_insert(&mut page, 5, &9u32.to_be_bytes(), &[]));
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.keys_run(0).unwrap(), None);
        assert_eq!(node.keys_run(6).unwrap(), Some(&all[20..]));
        // Compaction lays them out in slot order again.
        node_remove(&mut page, 0);
        assert!(compact(&mut page));
        let node = Node::new(&page, 7).unwrap();
        let mut want = all[4..20].to_vec();
        want.extend_from_slice(&9u32.to_be_bytes());
        want.extend_from_slice(&all[20..]);
        assert_eq!(node.keys_run(0).unwrap(), Some(&want[..]));
        // Leaves with values have no runs.
        assert_eq!(
            Node::new(&leaf(3, 4), 7).unwrap().keys_run(0).unwrap(),
            None
        );
    }

    #[test]
    fn a_branch_with_only_entry_0_has_no_prefix_bytes_to_show() {
        let mut page = vec![0u8; 4096];
        init_header(&mut page, PageKind::Branch, 7, 1);
        assert!(node_insert(&mut page, 0, b"", &[&9u64.to_le_bytes()]));
        header_mut(&mut page).set_prefix_len(12);
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.prefix_len(), 12);
        assert_eq!(node.prefix().unwrap(), b"");
        assert_eq!(
            node.branch_index(b"any key of 20 bytes.", Order::Bytes)
                .unwrap(),
            0
        );
    }

    #[test]
    fn removal_sets_the_holes_flag_and_compaction_clears_it() {
        let mut page = leaf(10, 100);
        assert!(!header(&page).has_holes());
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        node_remove(&mut page, 3);
        node_remove(&mut page, 0);
        node_remove(&mut page, 7);
        assert!(header(&page).has_holes());
        // The header's holes count is exact: used bytes minus holes are the live bytes.
        let used = usable(PAGE) - gap(&page);
        assert_eq!(used - header(&page).holes(), live_bytes(&page));
        assert!(live_bytes_reach(&page, live_bytes(&page)));
        assert!(!live_bytes_reach(&page, live_bytes(&page) + 1));
        // With holes the quick count is the exact one, not the header's.
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        assert!(usable(PAGE) - gap(&page) > live_bytes(&page));
        assert!(compact(&mut page));
        assert!(!header(&page).has_holes());
        assert_eq!(header(&page).holes(), 0);
        assert_eq!(live_bytes_quick(&page), live_bytes(&page));
        assert_eq!(Node::new(&page, 7).unwrap().count(), 7);
    }

    #[test]
    fn removing_the_last_entry_leaves_an_empty_page_without_holes() {
        let mut page = leaf(1, 10);
        node_remove(&mut page, 0);
        assert!(!header(&page).has_holes());
        assert_eq!(header(&page).upper(), PAGE);
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
        assert!(!header(&page).has_holes(), "the insert compacted the page");
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.count(), n);
        assert_eq!(node.key(n - 1).unwrap(), u64::MAX.to_be_bytes());
        assert_eq!(node.key(0).unwrap(), 1u64.to_be_bytes());
    }

    #[test]
    fn a_clear_flag_on_a_page_with_holes_only_overstates_its_fill() {
        let mut page = leaf(12, 200);
        node_remove(&mut page, 5);
        header_mut(&mut page).set_holes_flag(false); // as a damaged or foreign page might say
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
        bad[PageHeader::KIND] = 0xEE;
        assert!(what(&bad, 7).contains("unknown page kind"));
        let mut bad = page.clone();
        header_mut(&mut bad).set_upper((PAGE + 1) as u32);
        assert!(what(&bad, 7).contains("overlaps entry area"));
        let mut bad = page.clone();
        header_mut(&mut bad).set_count(0);
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
        assert!(compact(&mut page));
        assert_eq!(live_bytes_quick(&page), decoded);
    }

    #[test]
    fn header_view_round_trips_every_field() {
        let mut page = vec![0u8; PAGE];
        let mut h = PageHeaderMut::new(&mut page).unwrap();
        h.set_checksum(0xDEAD_BEEF);
        h.set_kind(PageKind::Branch);
        h.set_flags(0x80);
        h.set_holes_flag(true);
        h.set_count(0xABCD);
        h.set_pgno(0x0102_0304_0506_0708);
        h.set_txnid(u64::MAX - 1);
        h.set_upper(0x1234_5678);
        h.set_holes(0x8765);
        h.set_prefix_len(0x4321);
        let r = h.read();
        assert_eq!(r.checksum(), 0xDEAD_BEEF);
        assert_eq!(r.kind(), Some(PageKind::Branch));
        assert_eq!(r.kind_byte(), PageKind::Branch as u8);
        assert_eq!(r.flags(), 0x80 | F_HOLES);
        assert!(r.has_holes());
        assert_eq!(r.count(), 0xABCD);
        assert_eq!(r.pgno(), 0x0102_0304_0506_0708);
        assert_eq!(r.txnid(), u64::MAX - 1);
        assert_eq!(r.upper(), 0x1234_5678);
        assert_eq!(
            r.run_len(),
            0x1234_5678,
            "run length and upper share their bytes"
        );
        assert_eq!(r.holes(), 0x8765);
        assert_eq!(r.prefix_len(), 0x4321);

        let mut h = header_mut(&mut page);
        h.set_holes_flag(false);
        h.set_run_len(77);
        h.set_identity(5, 6);
        let r = header(&page);
        assert_eq!(r.flags(), 0x80, "other flag bits are kept");
        assert!(!r.has_holes());
        assert_eq!((r.run_len(), r.upper()), (77, 77));
        assert_eq!((r.pgno(), r.txnid()), (5, 6));

        // The fields sit where docs/format.md says, little-endian.
        assert_eq!(rd_u32(&page, 0), 0xDEAD_BEEF);
        assert_eq!(page[4], PageKind::Branch as u8);
        assert_eq!(page[5], 0x80);
        assert_eq!(rd_u16(&page, 6), 0xABCD);
        assert_eq!(rd_u64(&page, 8), 5);
        assert_eq!(rd_u64(&page, 16), 6);
        assert_eq!(rd_u32(&page, 24), 77);
        assert_eq!(rd_u16(&page, 28), 0x8765);
        assert_eq!(rd_u16(&page, 30), 0x4321);
        assert!(
            page[HEADER..].iter().all(|&b| b == 0),
            "nothing past the header"
        );

        // The shorthands read the same fields.
        assert_eq!(header_kind(&page), Some(PageKind::Branch));
        assert_eq!(header_count(&page), 0xABCD);
        assert_eq!(header_pgno(&page), 5);
        assert_eq!(header_txnid(&page), 6);
        assert_eq!(header_upper(&page), 77);
        assert_eq!(overflow_run_len(&page), 77);
        assert_eq!(header_checksum(&page), 0xDEAD_BEEF);

        header_mut(&mut page).clear();
        assert!(page.iter().all(|&b| b == 0));
        assert_eq!(header(&page).kind(), None);
    }

    #[test]
    fn a_short_slice_makes_no_header_view() {
        let mut page = vec![0u8; HEADER];
        assert!(PageHeader::new(&page).is_some());
        assert!(PageHeaderMut::new(&mut page).is_some());
        for len in [0, 1, 4, HEADER - 1] {
            assert!(PageHeader::new(&page[..len]).is_none(), "{len} bytes");
            assert!(
                PageHeaderMut::new(&mut page[..len]).is_none(),
                "{len} bytes"
            );
        }
        assert_eq!(Node::EMPTY.txnid(), 0);
    }

    #[test]
    fn init_header_and_checksums_go_through_the_view() {
        let mut page = vec![0xFFu8; PAGE];
        init_header(&mut page, PageKind::Leaf, 42, 7);
        let h = header(&page);
        assert_eq!(h.kind(), Some(PageKind::Leaf));
        assert_eq!((h.pgno(), h.txnid(), h.upper()), (42, 7, PAGE));
        assert_eq!(
            (h.count(), h.flags(), h.holes(), h.checksum()),
            (0, 0, 0, 0)
        );
        stamp_checksum(&mut page);
        assert_eq!(header(&page).checksum(), crc32fast::hash(&page[4..]));
        assert_eq!(checksum_input(&page), &page[PageHeader::CHECKSUMMED_FROM..]);
        assert_eq!(checksum_input(&page[..2]), &[] as &[u8]);
    }

    #[test]
    fn an_overflow_head_passes_the_run_check() {
        let value = vec![0x5Au8; 3 * PAGE];
        let n = overflow_pages_needed(value.len(), PAGE);
        let mut head = overflow_head(11, 3, n).unwrap();
        let h = header(&head);
        assert_eq!(h.kind(), Some(PageKind::Overflow));
        assert_eq!((h.pgno(), h.txnid(), h.run_len()), (11, 3, n));
        assert_eq!(
            (h.flags(), h.count(), h.holes(), h.checksum()),
            (0, 0, 0, 0)
        );
        // The writer hashes the header, the value and the padding, as one run.
        let pad = n as usize * PAGE - HEADER - value.len();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(checksum_input(&head));
        hasher.update(&value);
        hasher.update(&vec![0u8; pad]);
        header_mut(&mut head).set_checksum(hasher.finalize());
        let mut run = head.to_vec();
        run.extend_from_slice(&value);
        run.resize(n as usize * PAGE, 0);
        // The checksum over the whole run is the one stored in the head.
        assert_eq!(compute_checksum(&run), header(&run).checksum());
        assert!(matches!(
            overflow_head(11, 3, u64::from(u32::MAX) + 1),
            Err(Error::Internal(_))
        ));
    }

    /// Items borrowed from `keys` with `body` as every entry's body.
    fn items<'a>(keys: &'a [Vec<u8>], body: &'a [u8]) -> Vec<Item<'a>> {
        keys.iter().map(|k| Item { key: k, body }).collect()
    }

    #[test]
    fn build_lays_out_entries_that_exactly_fit() {
        let body = [0u8, 100, 0, 0, 0]
            .into_iter()
            .chain([7u8; 100])
            .collect::<Vec<u8>>();
        let keys: Vec<Vec<u8>> = (0u64..)
            .map(|i| i.to_be_bytes().to_vec())
            .take(200)
            .collect();
        let per = SLOT + 8 + body.len();
        let n = usable(PAGE) / per;
        let mut page = vec![0u8; PAGE];
        build(
            &mut page,
            PageKind::Leaf,
            7,
            2,
            &items(&keys[..n], &body),
            0,
        )
        .unwrap();
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.count(), n);
        assert_eq!(node.txnid(), 2);
        for (i, key) in keys[..n].iter().enumerate() {
            assert_eq!(node.key(i).unwrap(), &key[..]);
        }
        assert_eq!(live_bytes(&page), n * per);
        assert_eq!(gap(&page), usable(PAGE) - n * per);

        // Filling the last byte exactly is allowed.
        let key = vec![b'z'; usable(PAGE) - (n - 1) * per - SLOT - body.len()];
        let mut all = items(&keys[..n - 1], &body);
        all.push(Item {
            key: &key,
            body: &body,
        });
        build(&mut page, PageKind::Leaf, 7, 2, &all, 0).unwrap();
        assert_eq!(gap(&page), 0);
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.count(), n);
        assert_eq!(node.key(n - 1).unwrap(), &key[..]);
    }

    /// Runs in every profile: `build` refuses entries that do not fit with an error, not
    /// a debug assertion, and leaves the page as it was.
    #[test]
    fn build_refuses_entries_that_do_not_fit() {
        let body = [1u8; 13];
        let keys: Vec<Vec<u8>> = (0u64..400).map(|i| i.to_be_bytes().to_vec()).collect();
        let per = SLOT + 8 + body.len();
        let fit = usable(PAGE) / per;
        assert!(fit < keys.len());
        let mut page = leaf(3, 10);
        let before = page.clone();
        for n in [fit + 1, keys.len()] {
            let res = build(
                &mut page,
                PageKind::Leaf,
                7,
                9,
                &items(&keys[..n], &body),
                0,
            );
            match res {
                Err(Error::Internal(why)) => {
                    assert!(
                        why.contains("page 7") && why.contains("do not fit"),
                        "{why}"
                    )
                }
                other => panic!("{n} entries: expected Internal, got {other:?}"),
            }
            assert_eq!(page, before, "a refused build changes nothing");
        }
        // One byte too many: a key one byte longer than the exact fit.
        let key = vec![b'z'; usable(PAGE) - SLOT - body.len() + 1];
        let one = [Item {
            key: &key,
            body: &body,
        }];
        assert!(matches!(
            build(&mut page, PageKind::Branch, 7, 9, &one, 0),
            Err(Error::Internal(_))
        ));
        assert_eq!(page, before);
        // Not a node kind.
        assert!(matches!(
            build(
                &mut page,
                PageKind::Overflow,
                7,
                9,
                &items(&keys[..1], &body),
                0
            ),
            Err(Error::Internal(_))
        ));
        assert_eq!(page, before);
    }

    #[test]
    fn set_child_refuses_leaves_and_missing_entries() {
        let mut page = vec![0u8; PAGE];
        init_header(&mut page, PageKind::Branch, 9, 1);
        for i in 0..3u64 {
            assert!(node_insert(
                &mut page,
                i as usize,
                &[i as u8],
                &[&i.to_le_bytes()]
            ));
        }
        set_child(&mut page, 9, 2, 1234).unwrap();
        assert_eq!(Node::new(&page, 9).unwrap().child(2).unwrap(), 1234);
        let before = page.clone();
        assert!(matches!(
            set_child(&mut page, 9, 3, 1),
            Err(Error::Internal(_))
        ));
        assert_eq!(page, before);
        let mut lp = leaf(3, 10);
        let before = lp.clone();
        assert!(matches!(
            set_child(&mut lp, 7, 0, 1),
            Err(Error::Internal(_))
        ));
        assert_eq!(lp, before);
    }

    #[test]
    fn compacting_a_page_with_a_bad_entry_changes_nothing() {
        let mut page = leaf(10, 100);
        node_remove(&mut page, 2);
        // Entry 4's value length now reaches past the page end.
        let node = Node::new(&page, 7).unwrap();
        let (_, off, klen) = node.slot(4);
        wr_u32(&mut page, off + klen + 1, PAGE as u32);
        let before = page.clone();
        assert!(!compact(&mut page));
        assert_eq!(page, before);
        // An insert that needs the compaction is refused rather than half done.
        let head = [0u8, 200, 0, 0, 0];
        let mut fill = 0;
        while gap(&page) >= entry_cost(&[0; 8], 205) {
            let key = (100 + fill as u64).to_be_bytes();
            assert!(node_insert(
                &mut page,
                9 + fill,
                &key,
                &[&head, &[0u8; 200]]
            ));
            fill += 1;
        }
        let before = page.clone();
        assert!(!node_insert(&mut page, 0, &[0; 8], &[&head, &[0u8; 200]]));
        assert_eq!(page, before);
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

    /// A leaf of `keys` (sorted) with 5-byte inline bodies of empty values, given the
    /// page prefix length `plen`.
    fn leaf_of(keys: &[&[u8]], plen: usize) -> Vec<u8> {
        let body = [0u8; LEAF_ENTRY_HEAD];
        let items: Vec<Item<'_>> = keys
            .iter()
            .map(|k| Item {
                key: k,
                body: &body,
            })
            .collect();
        let mut page = vec![0u8; PAGE];
        build(&mut page, PageKind::Leaf, 7, 2, &items, plen).unwrap();
        page
    }

    /// Every key of `page` is found where it is, and each probe between keys (that
    /// shares the page prefix, as every key a descent brings does) lands on the right
    /// insertion index; slot heads match the keys after the prefix.
    fn assert_searchable(page: &[u8], keys: &[&[u8]]) {
        let node = Node::new(page, 7).unwrap();
        assert_eq!(node.count(), keys.len());
        let prefix = node.prefix().unwrap();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(node.key(i).unwrap(), *k);
            assert!(k.starts_with(prefix), "key {i} outside the prefix");
            assert_eq!(node.slot_head(i), head_at(k, node.prefix_len()));
            assert_eq!(
                node.search(k, Order::Bytes).unwrap(),
                (i, true),
                "key {k:?}"
            );
        }
        for probe in keys.iter().flat_map(|k| {
            let mut lower = k.to_vec();
            match lower.last_mut() {
                Some(b) if *b > 0 => *b -= 1,
                _ => {}
            }
            let mut higher = k.to_vec();
            higher.push(0);
            let shorter = k[..k.len().saturating_sub(1)].to_vec();
            let mut max = prefix.to_vec();
            max.extend_from_slice(b"\xff\xff");
            [lower, higher, shorter, max, prefix.to_vec()]
        }) {
            if !probe.starts_with(prefix) {
                continue;
            }
            let want = keys.partition_point(|k| *k < &probe[..]);
            let found = keys.get(want).is_some_and(|k| *k == &probe[..]);
            assert_eq!(
                node.search(&probe, Order::Bytes).unwrap(),
                (want, found),
                "probe {probe:?}"
            );
        }
    }

    #[test]
    fn heads_follow_the_page_prefix() {
        let keys: [&[u8]; 4] = [
            b"/home/u/src/a.rs",
            b"/home/u/src/b.rs",
            b"/home/u/src/b.rs.bak",
            b"/home/u/src/c.rs",
        ];
        let page = leaf_of(&keys, 12);
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.prefix_len(), 12);
        assert_eq!(node.prefix().unwrap(), b"/home/u/src/");
        assert_eq!(node.slot_head(0), u32::from_be_bytes(*b"a.rs"));
        assert_searchable(&page, &keys);
        // Without a prefix the heads are the keys' first bytes, all equal here: the
        // search still finds everything, by reading keys.
        let page = leaf_of(&keys, 0);
        assert_eq!(
            Node::new(&page, 7).unwrap().slot_head(3),
            head_at(b"/hom", 0)
        );
        assert_searchable(&page, &keys);
    }

    #[test]
    fn build_records_no_more_prefix_than_the_keys_share() {
        let keys: [&[u8]; 2] = [b"abcd1", b"abcx"];
        let page = leaf_of(&keys, 40);
        assert_eq!(Node::new(&page, 7).unwrap().prefix_len(), 3);
        // A branch's entry 0 has no key and does not count.
        let children: Vec<[u8; 8]> = (10u64..13).map(|c| c.to_le_bytes()).collect();
        let bkeys: [&[u8]; 3] = [b"", b"abc1", b"abc9"];
        let items: Vec<Item<'_>> = bkeys
            .iter()
            .zip(&children)
            .map(|(k, c)| Item { key: k, body: c })
            .collect();
        let mut page = vec![0u8; PAGE];
        build(&mut page, PageKind::Branch, 7, 2, &items, 40).unwrap();
        let node = Node::new(&page, 7).unwrap();
        assert_eq!(node.prefix_len(), 3);
        for (probe, child) in [
            (&b"abc"[..], 0),
            (b"abc0", 0),
            (b"abc1", 1),
            (b"abc5", 1),
            (b"abc9", 2),
            (b"abc\xff", 2),
        ] {
            assert_eq!(
                node.branch_index(probe, Order::Bytes).unwrap(),
                child,
                "probe {probe:?}"
            );
        }
    }

    #[test]
    fn keys_that_are_prefixes_of_each_other_and_the_empty_key_search_right() {
        let nested: [&[u8]; 4] = [b"abc", b"abcd", b"abcde", b"abcdef"];
        let page = leaf_of(&nested, 3);
        // The first key is the whole prefix: its head is empty (0).
        assert_eq!(Node::new(&page, 7).unwrap().slot_head(0), 0);
        assert_searchable(&page, &nested);
        let with_empty: [&[u8]; 3] = [b"", b"\0", b"a"];
        let page = leaf_of(&with_empty, 5);
        assert_eq!(Node::new(&page, 7).unwrap().prefix_len(), 0);
        assert_searchable(&page, &with_empty);
    }

    #[test]
    fn lowering_the_prefix_takes_the_heads_again() {
        let mut keys: Vec<&[u8]> = vec![b"user/0001", b"user/0002", b"user/0003"];
        let mut page = leaf_of(&keys, 8);
        assert_eq!(Node::new(&page, 7).unwrap().prefix().unwrap(), b"user/000");
        assert!(
            lower_prefix(&mut page, 9),
            "a longer length changes nothing"
        );
        assert_eq!(Node::new(&page, 7).unwrap().prefix_len(), 8);
        assert!(lower_prefix(&mut page, 5));
        let body = [0u8; LEAF_ENTRY_HEAD];
        assert!(node_insert(&mut page, 3, b"user/1000", &[&body]));
        keys.push(b"user/1000");
        assert_eq!(Node::new(&page, 7).unwrap().prefix_len(), 5);
        assert_searchable(&page, &keys);
    }

    #[test]
    fn a_search_key_shorter_than_the_prefix_is_a_damaged_page() {
        let keys: [&[u8]; 2] = [b"user/1", b"user/2"];
        let page = leaf_of(&keys, 5);
        let node = Node::new(&page, 7).unwrap();
        assert!(matches!(
            node.search(b"use", Order::Bytes),
            Err(Error::Corrupted { .. })
        ));
        assert!(matches!(
            node.search(b"user/", Order::Bytes),
            Ok((0, false))
        ));
    }

    #[test]
    fn common_prefix_counts_shared_bytes_at_any_length() {
        let a: Vec<u8> = (0u8..40).collect();
        for n in 0..=40 {
            for cut in 0..n {
                let mut b = a[..n].to_vec();
                b[cut] ^= 0x80;
                assert_eq!(common_prefix(&a[..n], &b), cut);
                assert_eq!(common_prefix(&b, &a), cut);
            }
            assert_eq!(common_prefix(&a[..n], &a), n);
        }
    }
}
