//! Meta pages: the two slots (pages 0 and 1) that name the committed state.
//!
//! A commit writes the slot that does not hold the newest *steady* meta, and opening picks
//! the valid, trusted meta with the highest transaction id, so a torn or corrupt newest
//! meta leaves an earlier commit in charge.
//!
//! A meta is *steady* when its pages were synced before it was written (every commit with
//! `Full` or `NoMetaSync`, and the checkpoints of `NoSync`), and *weak* otherwise. A weak
//! meta is trusted only while the machine has not restarted since it was written (its
//! boot id matches): until then the OS page cache holds all of its pages, after a power
//! loss any of them may be missing. The steady meta in the other slot is never
//! overwritten while a weak meta depends on it.
//!
//! A *one-sync* meta (small `Full` commits) was written together with its pages and
//! synced once with them, so its pages may be missing after a power loss even though
//! the meta is there. It lists every page its transaction wrote with the checksum it
//! was written with, and is trusted only once each listed page holds exactly that
//! (`storage::metas`); the page numbers and checksums come from the meta, never from
//! the pages, because a lost write leaves the page's older, validly checksummed
//! content in place.

use crate::error::{Corruption, Error, Result};
use crate::format::order::{Comparator, Order};
use crate::format::page::{self, rd_u32, rd_u64, wr_u32, wr_u64, PageKind, HEADER};

pub const MAGIC: [u8; 8] = *b"MDBXLITE";
/// The format this build writes. Version 2 added the page prefix of branch and leaf
/// pages, version 3 dup-sort tables (catalog records with a pair count, leaf entries
/// holding several values or a nested tree), version 4 integer slot heads on the pages
/// of integer-ordered trees, version 5 the savepoint tree (persistent savepoints, named
/// in the meta), version 6 one-sync metas (a meta listing the pages its commit wrote)
/// (`docs/format.md`).
pub const FORMAT_VERSION: u32 = 6;
/// The oldest format this build reads. A version-1 node page is a version-2 one with an
/// empty prefix (its u32 holes count at offset 28 is below 65,536, so the prefix length
/// at 30 reads 0), a version-2 file is a version-3 one without dup-sort tables, and a
/// version-3 file a version-4 one whose integer-ordered pages have bytewise heads, and a
/// version-4 file a version-5 one without savepoints (its meta's savepoint bytes are
/// zero), and a version-5 file a version-6 one without one-sync metas (its list count is
/// a reserved zero), so older files are read as they are; a writable open marks both metas with the current
/// version before anything else (`storage::metas::upgrade_metas`), so an older build
/// refuses the file instead of misreading what this one writes.
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Bytes of a meta's fixed record; a one-sync meta's page list follows it, and the
/// checksum covers both (the rest of the page is zero).
pub const META_LEN: usize = 256;
/// Where a one-sync meta's list ends at most: the record and the list share the first
/// 512 bytes of the meta page, one disk sector, so a torn write never leaves a meta
/// with half a list.
pub const META_LISTED_END: usize = 512;
/// Bytes of a meta page read to decode it.
pub const META_READ_LEN: usize = META_LISTED_END;
/// Most pages a one-sync meta lists (after the list checksum, 4 bytes per page number).
/// A commit that writes more pages syncs them before its meta instead.
pub const MAX_LISTED: usize = (META_LISTED_END - META_LEN - 4) / 4;
pub const MIN_PAGE_SIZE: usize = 4096;
pub const MAX_PAGE_SIZE: usize = 65536;
/// Pages 0 and 1 are the metas; the first tree page is 2.
pub const FIRST_PAGE: u64 = 2;
/// The largest transaction id a valid meta carries (2^63 - 1). Ids start at 0 and 1 and
/// grow by one per commit, so a real file never comes near it (2^63 commits take
/// 292,000 years at a million a second); a larger id is damage or forgery. The margin
/// keeps every `id + 1` the engine computes (the next commit, reader slots, which store
/// `id + 1` with `u64::MAX` reserved, a copy's second meta) far from overflow. A meta at
/// exactly this id is readable, but no commit can follow it.
pub const MAX_TXNID: u64 = u64::MAX / 2;

/// What the catalog (and a meta) records for one tree: a table, or the nested tree of
/// one key's values in a dup-sort table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableRecord {
    /// Root page, or 0 for an empty table.
    pub root: u64,
    /// Leaf entries of the tree: keys (in a nested tree, one key's values).
    pub entries: u64,
    /// Pages of the table, nested trees included (a nested tree's record counts its own).
    pub branch_pages: u64,
    pub leaf_pages: u64,
    pub overflow_pages: u64,
    /// Levels from root to leaf (0 for an empty table).
    pub depth: u32,
    /// The table's kind: [`TABLE_DUPSORT`] and the flags that refine it in the low 16
    /// bits, a dup-fixed table's value size in the high 16 (0 until its first value).
    pub flags: u32,
    /// (key, value) pairs of a dup-sort table (its `entries` count keys); unused (0)
    /// otherwise. Stored only in the catalog's records ([`CATALOG_RECORD_LEN`]).
    pub pairs: u64,
    /// The user comparator of a table ordered by one ([`TABLE_CUSTOMKEY`]), when this
    /// process has it. In memory only: the catalog stores the comparator's name.
    pub compare: Option<Comparator>,
    /// The user comparator of a dup-sort table's values ([`TABLE_CUSTOMDUP`]), when this
    /// process has it; in memory only, as `compare`.
    pub dup_compare: Option<Comparator>,
}

/// Bytes of a record in a meta and in a nested-tree leaf entry.
pub const TABLE_RECORD_LEN: usize = 48;
/// Bytes of a record in the catalog: [`TABLE_RECORD_LEN`] and the pair count. Catalogs
/// of format versions 1 and 2 hold [`TABLE_RECORD_LEN`] bytes (no dup-sort tables).
pub const CATALOG_RECORD_LEN: usize = TABLE_RECORD_LEN + 8;

/// Table kind flags, LMDB's bit values. A dup-sort table holds a sorted set of values
/// per key.
pub const TABLE_DUPSORT: u32 = 0x04;
/// Dup-sort with every value of one size.
pub const TABLE_DUPFIXED: u32 = 0x10;
/// Dup-sort values are native-endian u32 or u64, compared as integers.
pub const TABLE_INTEGERDUP: u32 = 0x20;
/// Dup-sort values compared from their last byte.
pub const TABLE_REVERSEDUP: u32 = 0x40;
/// The record of a nested tree (a dup-sort key's values): its leaves hold keys only
/// (page flag `F_KEYS_ONLY`). Never a table's kind. A nested tree's record also carries
/// the key order of its values ([`TABLE_INTEGERKEY`] for an integer-dup table's,
/// [`TABLE_REVERSEKEY`] for a reverse-dup table's).
pub const TREE_KEYS_ONLY: u32 = 0x01;
/// Keys compared from their last byte (LMDB's `MDB_REVERSEKEY`).
pub const TABLE_REVERSEKEY: u32 = 0x02;
/// Keys are native-endian u32 or u64, compared as integers (LMDB's `MDB_INTEGERKEY`).
pub const TABLE_INTEGERKEY: u32 = 0x08;
/// Keys ordered by a user comparator, whose name follows the record in the catalog.
pub const TABLE_CUSTOMKEY: u32 = 0x100;
/// Dup-sort values ordered by a user comparator, whose name follows the record in the
/// catalog (after the key comparator's name, if any, and a 0 byte).
pub const TABLE_CUSTOMDUP: u32 = 0x200;
/// The key-order bits (at most one is set).
pub const KEY_ORDER_MASK: u32 = TABLE_REVERSEKEY | TABLE_INTEGERKEY | TABLE_CUSTOMKEY;
/// The value-order bits of a dup-sort table (at most one is set).
pub const DUP_ORDER_MASK: u32 = TABLE_INTEGERDUP | TABLE_REVERSEDUP | TABLE_CUSTOMDUP;
/// The dup-sort kind bits.
pub const DUP_KIND_MASK: u32 = TABLE_DUPSORT | TABLE_DUPFIXED | DUP_ORDER_MASK;
/// The kind bits this build knows.
pub const TABLE_KIND_MASK: u32 = DUP_KIND_MASK | KEY_ORDER_MASK;
/// Longest name of a user comparator, in bytes.
pub const MAX_COMPARATOR_NAME: usize = 255;

// ---- field offsets (docs/format.md, "Meta page" and "Table record") ----
//
// The meta's fields follow the common page header, whose fields (kind, page number =
// slot, transaction id, checksum) go through `page::PageHeader`.

/// Magic (8 bytes, [`MAGIC`]).
const O_MAGIC: usize = HEADER;
/// Format version (u32, [`FORMAT_VERSION`]).
const O_VERSION: usize = O_MAGIC + MAGIC.len();
/// Page size (u32).
const O_PAGE_SIZE: usize = O_VERSION + 4;
/// High-water mark (u64).
const O_HIGH_WATER: usize = O_PAGE_SIZE + 4;
/// Growth step in bytes (u64).
const O_GROWTH: usize = O_HIGH_WATER + 8;
/// Main table record ([`TABLE_RECORD_LEN`] bytes).
const O_MAIN: usize = O_GROWTH + 8;
/// Catalog record.
const O_CATALOG: usize = O_MAIN + TABLE_RECORD_LEN;
/// Free tree record.
const O_FREE: usize = O_CATALOG + TABLE_RECORD_LEN;
/// Flags (u32, [`FLAG_WEAK`]).
const O_FLAGS: usize = O_FREE + TABLE_RECORD_LEN;
/// Boot id ([`BOOT_ID_LEN`] bytes).
const O_BOOT_ID: usize = O_FLAGS + 4;
/// Savepoint tree record, in its short form ([`SAVEPOINTS_RECORD_LEN`] bytes).
const O_SAVEPOINTS: usize = O_BOOT_ID + BOOT_ID_LEN;
/// Number of listed pages (u32; 0 unless one-sync), the list itself at [`META_LEN`].
const O_LISTED: usize = O_SAVEPOINTS + SAVEPOINTS_RECORD_LEN;
const _: () = assert!(O_LISTED + 4 == META_LEN);

const BOOT_ID_LEN: usize = 16;
/// Bytes of the savepoint tree's record in a meta: root (u64), entries, branch pages,
/// leaf pages and depth (u32 each). The tree is bytewise, its values never overflow.
pub const SAVEPOINTS_RECORD_LEN: usize = 24;
/// Flag bit: the meta is weak (written without syncing its pages first).
const FLAG_WEAK: u32 = 1;
/// Flag bit: the meta is one-sync (written with its pages, one sync for both; it lists
/// the pages). Never with [`FLAG_WEAK`].
const FLAG_ONE_SYNC: u32 = 2;

// Table record fields, from the record's start.
/// Root page (u64).
const R_ROOT: usize = 0;
/// Entries (u64).
const R_ENTRIES: usize = R_ROOT + 8;
/// Branch pages (u64).
const R_BRANCH_PAGES: usize = R_ENTRIES + 8;
/// Leaf pages (u64).
const R_LEAF_PAGES: usize = R_BRANCH_PAGES + 8;
/// Overflow pages (u64).
const R_OVERFLOW_PAGES: usize = R_LEAF_PAGES + 8;
/// Depth (u32).
const R_DEPTH: usize = R_OVERFLOW_PAGES + 8;
/// Flags (u32).
const R_FLAGS: usize = R_DEPTH + 4;
const _: () = assert!(R_FLAGS + 4 == TABLE_RECORD_LEN);

impl TableRecord {
    pub fn encode(&self) -> [u8; TABLE_RECORD_LEN] {
        let mut b = [0u8; TABLE_RECORD_LEN];
        wr_u64(&mut b, R_ROOT, self.root);
        wr_u64(&mut b, R_ENTRIES, self.entries);
        wr_u64(&mut b, R_BRANCH_PAGES, self.branch_pages);
        wr_u64(&mut b, R_LEAF_PAGES, self.leaf_pages);
        wr_u64(&mut b, R_OVERFLOW_PAGES, self.overflow_pages);
        wr_u32(&mut b, R_DEPTH, self.depth);
        wr_u32(&mut b, R_FLAGS, self.flags);
        b
    }

    /// The catalog's form: the record, the pair count and the names of the user
    /// comparators that order the table: its keys' ([`TABLE_CUSTOMKEY`]), then, for
    /// values ordered by one ([`TABLE_CUSTOMDUP`]), a 0 byte and theirs. Such a record
    /// must carry its comparators (the table was opened with them).
    pub fn encode_catalog(&self) -> Result<Vec<u8>> {
        let mut b = vec![0u8; CATALOG_RECORD_LEN];
        b[..TABLE_RECORD_LEN].copy_from_slice(&self.encode());
        wr_u64(&mut b, TABLE_RECORD_LEN, self.pairs);
        let missing =
            || Error::Internal("a table ordered by a comparator was written without it".into());
        if self.flags & TABLE_CUSTOMKEY != 0 {
            b.extend_from_slice(self.compare.ok_or_else(missing)?.name.as_bytes());
        }
        if self.flags & TABLE_CUSTOMDUP != 0 {
            b.push(0);
            b.extend_from_slice(self.dup_compare.ok_or_else(missing)?.name.as_bytes());
        }
        Ok(b)
    }

    /// The comparator names stored after a catalog record: the keys' and the values'
    /// (each empty if none).
    pub fn catalog_comparator_names(b: &[u8]) -> (&[u8], &[u8]) {
        let tail = b.get(CATALOG_RECORD_LEN..).unwrap_or(&[]);
        let custom_dup = b.len() >= TABLE_RECORD_LEN && rd_u32(b, R_FLAGS) & TABLE_CUSTOMDUP != 0;
        match tail.iter().position(|&c| c == 0) {
            Some(at) if custom_dup => (&tail[..at], &tail[at + 1..]),
            _ => (tail, &[]),
        }
    }

    /// The table's length: pairs in a dup-sort table, entries otherwise.
    pub fn len(&self) -> u64 {
        if self.is_dupsort() {
            self.pairs
        } else {
            self.entries
        }
    }

    /// Whether the tree's leaves hold keys only (a nested tree).
    pub fn is_keys_only(&self) -> bool {
        self.flags & TREE_KEYS_ONLY != 0
    }

    /// The order of the tree's keys.
    #[inline]
    pub fn key_order(&self) -> Order {
        let f = self.flags;
        if f & TABLE_INTEGERKEY != 0 {
            Order::Integer
        } else if f & TABLE_REVERSEKEY != 0 {
            Order::Reverse
        } else if f & TABLE_CUSTOMKEY != 0 {
            self.compare.map_or(Order::Missing, Order::Custom)
        } else {
            Order::Bytes
        }
    }

    /// A copy of the record with the user comparators of `other` (the same table's
    /// record, as opened).
    pub fn with_comparators_of(mut self, other: &TableRecord) -> TableRecord {
        self.compare = other.compare;
        self.dup_compare = other.dup_compare;
        self
    }

    /// The order of a dup-sort table's values (integer-dup wins over reverse-dup, as
    /// in LMDB).
    #[inline]
    pub fn dup_order(&self) -> Order {
        if self.flags & TABLE_INTEGERDUP != 0 {
            Order::Integer
        } else if self.flags & TABLE_REVERSEDUP != 0 {
            Order::Reverse
        } else if self.flags & TABLE_CUSTOMDUP != 0 {
            self.dup_compare.map_or(Order::Missing, Order::Custom)
        } else {
            Order::Bytes
        }
    }

    /// The flags of a nested tree of this dup-sort table's values: keys only, in the
    /// table's value order.
    pub fn nested_flags(&self) -> u32 {
        TREE_KEYS_ONLY
            | match self.flags & DUP_ORDER_MASK {
                f if f & TABLE_INTEGERDUP != 0 => TABLE_INTEGERKEY,
                TABLE_REVERSEDUP => TABLE_REVERSEKEY,
                TABLE_CUSTOMDUP => TABLE_CUSTOMKEY,
                _ => 0,
            }
    }

    /// The record of a nested tree of this table's values, as `b` (on page `pgno`)
    /// stores it, ordered by the table's value comparator if it has one.
    pub fn decode_nested(&self, b: &[u8], pgno: u64) -> Result<TableRecord> {
        let mut n = TableRecord::decode(b, pgno)?;
        n.compare = self.dup_compare;
        Ok(n)
    }

    /// The dup-sort kind bits (0 for a plain table).
    pub fn dup_kind(&self) -> u32 {
        self.flags & DUP_KIND_MASK
    }

    /// Whether the table is dup-sort.
    pub fn is_dupsort(&self) -> bool {
        self.flags & TABLE_DUPSORT != 0
    }

    /// A dup-fixed table's value size (0 until its first value).
    pub fn fixed_value_size(&self) -> usize {
        (self.flags >> 16) as usize
    }

    /// The table's kind bits (the low 16 of `flags`).
    pub fn kind(&self) -> u32 {
        self.flags & 0xffff
    }

    /// Decode a record of [`TABLE_RECORD_LEN`] bytes, or the catalog's
    /// [`CATALOG_RECORD_LEN`]; `page` is named in the error if the bytes are malformed.
    pub fn decode(b: &[u8], page: u64) -> Result<TableRecord> {
        let whole = b;
        let catalog = b.len() >= CATALOG_RECORD_LEN;
        let name_len = b.len().saturating_sub(CATALOG_RECORD_LEN);
        let pairs = if catalog {
            rd_u64(b, TABLE_RECORD_LEN)
        } else {
            0
        };
        let b = if catalog { &b[..TABLE_RECORD_LEN] } else { b };
        if b.len() != TABLE_RECORD_LEN {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                format!("table record of {} bytes", b.len()),
            ));
        }
        let rec = TableRecord {
            root: rd_u64(b, R_ROOT),
            entries: rd_u64(b, R_ENTRIES),
            branch_pages: rd_u64(b, R_BRANCH_PAGES),
            leaf_pages: rd_u64(b, R_LEAF_PAGES),
            overflow_pages: rd_u64(b, R_OVERFLOW_PAGES),
            depth: rd_u32(b, R_DEPTH),
            flags: rd_u32(b, R_FLAGS),
            pairs,
            compare: None,
            dup_compare: None,
        };
        let kind = rec.kind();
        let order_bits = (kind & KEY_ORDER_MASK).count_ones();
        let dup = kind & DUP_KIND_MASK;
        let known = if kind & TREE_KEYS_ONLY != 0 {
            // A nested tree: keys only, in the table's value order.
            kind & !(TREE_KEYS_ONLY | KEY_ORDER_MASK) == 0 && order_bits <= 1
        } else {
            // Integer-dup may come with reverse-dup (LMDB's flags allow it; integer wins).
            let custom_dup = dup & TABLE_CUSTOMDUP != 0;
            kind & !TABLE_KIND_MASK == 0
                && order_bits <= 1
                && (dup == 0 || dup & TABLE_DUPSORT != 0)
                && (!custom_dup || dup & (TABLE_INTEGERDUP | TABLE_REVERSEDUP) == 0)
        };
        if !known {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                format!("table record with unknown kind flags {kind:#x}"),
            ));
        }
        let (key_name, dup_name) = TableRecord::catalog_comparator_names(whole);
        let custom = rec.flags & TABLE_CUSTOMKEY != 0;
        let custom_dup = rec.flags & TABLE_CUSTOMDUP != 0;
        let names_ok = if catalog {
            // A name exactly where its bit is set.
            (custom, custom_dup) == (!key_name.is_empty(), !dup_name.is_empty())
                && key_name.len() <= MAX_COMPARATOR_NAME
                && dup_name.len() <= MAX_COMPARATOR_NAME
                && (custom_dup || name_len == key_name.len())
        } else {
            // Only the catalog stores names: a meta's record has no user order, a
            // nested tree's takes its table's value comparator.
            let keys_only = rec.flags & TREE_KEYS_ONLY != 0;
            !custom_dup && (!custom || keys_only)
        };
        if !names_ok {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                "a table record's comparator name does not match its order",
            ));
        }
        if !rec.is_dupsort() && (rec.pairs != 0 || rec.fixed_value_size() != 0) {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                "a plain table's record counts pairs or a value size",
            ));
        }
        if rec.depth as usize > page::MAX_DEPTH || (rec.root == 0) != (rec.depth == 0) {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                format!(
                    "table record with root {} and depth {}",
                    rec.root, rec.depth
                ),
            ));
        }
        Ok(rec)
    }

    pub fn total_pages(&self) -> u64 {
        self.branch_pages + self.leaf_pages + self.overflow_pages
    }
}

/// The decoded content of a meta page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub txnid: u64,
    /// The format version the slot held when read ([`FORMAT_VERSION`] for a meta made
    /// here); `encode` always writes [`FORMAT_VERSION`].
    pub version: u32,
    /// The meta page this meta lives in (0 or 1); stored as the page header's number.
    pub slot: u64,
    /// Written after its pages were synced, or (`one_sync`) synced with them (see the
    /// module docs).
    pub steady: bool,
    /// Written with its pages and synced once with them; lists them (see the module
    /// docs). Only ever set on a steady meta.
    pub one_sync: bool,
    /// Boot id of the machine when it was written (all zero when unknown).
    pub boot_id: [u8; 16],
    pub page_size: u32,
    /// First never-allocated page: every page below it is in use or free.
    pub high_water: u64,
    pub growth_step: u64,
    /// The unnamed default table.
    pub main: TableRecord,
    /// Table name -> TableRecord.
    pub catalog: TableRecord,
    /// (txnid, chunk) -> page numbers freed by that transaction.
    pub free: TableRecord,
    /// Savepoint name -> the committed state it names (`format::savepoint`).
    pub savepoints: TableRecord,
}

/// What tells two readings of a meta slot apart: the transaction, the slot, and whether
/// it is steady and one-sync (a weak meta turned steady in place keeps its id).
pub type MetaKey = (u64, u64, bool, bool);

/// A page a one-sync commit wrote, as its meta lists it: the page (for an overflow run,
/// its first page) and the checksum it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrittenPage {
    pub pgno: u64,
    pub checksum: u32,
}

/// Bytes of a meta listing `n` pages: the record, then (when `n > 0`) the checksum over
/// the listed pages' checksums and their page numbers (u32 each).
fn listing_len(n: usize) -> usize {
    if n == 0 {
        META_LEN
    } else {
        META_LEN + 4 + 4 * n
    }
}

/// The checksum a one-sync meta keeps over the checksums of the pages it lists, in list
/// order: crc32 of their little-endian bytes. Verifying it needs each page's own
/// checksum, computed from the page's bytes, so a page holding anything but what was
/// written (an older page left by a lost write, validly checksummed) fails it.
pub fn fold_checksums(checksums: impl Iterator<Item = u32>) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for c in checksums {
        h.update(&c.to_le_bytes());
    }
    h.finalize()
}

/// Why a meta slot was rejected (reported by `check` and open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaProblem {
    BadMagic,
    BadChecksum,
    Version(u32),
    Field(String),
}

impl std::fmt::Display for MetaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaProblem::BadMagic => write!(f, "bad magic"),
            MetaProblem::BadChecksum => write!(f, "checksum mismatch"),
            MetaProblem::Version(v) => write!(f, "format version {v}"),
            MetaProblem::Field(s) => write!(f, "{s}"),
        }
    }
}

impl Meta {
    /// This meta's [`MetaKey`].
    pub fn key(&self) -> MetaKey {
        (self.txnid, self.slot, self.steady, self.one_sync)
    }

    /// Encode into the first `META_LEN` bytes of meta page `self.slot`, listing no page.
    pub fn encode(&self) -> [u8; META_LEN] {
        let mut b = [0u8; META_LEN];
        self.encode_into(&mut b, &[]);
        b
    }

    /// Encode with the pages a one-sync commit wrote (at most [`MAX_LISTED`], page
    /// numbers below 2^32, none unless `one_sync`): [`Meta::encoded_len`] bytes.
    pub fn encode_listing(&self, listed: &[WrittenPage]) -> Vec<u8> {
        debug_assert!(listed.len() <= MAX_LISTED && (self.one_sync || listed.is_empty()));
        let mut b = vec![0u8; listing_len(listed.len())];
        self.encode_into(&mut b, listed);
        b
    }

    fn encode_into(&self, b: &mut [u8], listed: &[WrittenPage]) {
        let mut h = page::header_mut(b);
        h.set_kind(PageKind::Meta);
        h.set_identity(self.slot, self.txnid);
        b[O_MAGIC..O_MAGIC + MAGIC.len()].copy_from_slice(&MAGIC);
        wr_u32(b, O_VERSION, FORMAT_VERSION);
        wr_u32(b, O_PAGE_SIZE, self.page_size);
        wr_u64(b, O_HIGH_WATER, self.high_water);
        wr_u64(b, O_GROWTH, self.growth_step);
        b[O_MAIN..O_MAIN + TABLE_RECORD_LEN].copy_from_slice(&self.main.encode());
        b[O_CATALOG..O_CATALOG + TABLE_RECORD_LEN].copy_from_slice(&self.catalog.encode());
        b[O_FREE..O_FREE + TABLE_RECORD_LEN].copy_from_slice(&self.free.encode());
        let flags = match (self.steady, self.one_sync) {
            (false, _) => FLAG_WEAK,
            (true, false) => 0,
            (true, true) => FLAG_ONE_SYNC,
        };
        wr_u32(b, O_FLAGS, flags);
        b[O_BOOT_ID..O_BOOT_ID + BOOT_ID_LEN].copy_from_slice(&self.boot_id);
        let sp = &self.savepoints;
        let short = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        wr_u64(b, O_SAVEPOINTS, sp.root);
        wr_u32(b, O_SAVEPOINTS + 8, short(sp.entries));
        wr_u32(b, O_SAVEPOINTS + 12, short(sp.branch_pages));
        wr_u32(b, O_SAVEPOINTS + 16, short(sp.leaf_pages));
        wr_u32(b, O_SAVEPOINTS + 20, sp.depth);
        wr_u32(b, O_LISTED, listed.len() as u32);
        if !listed.is_empty() {
            wr_u32(
                b,
                META_LEN,
                fold_checksums(listed.iter().map(|w| w.checksum)),
            );
            for (i, w) in listed.iter().enumerate() {
                wr_u32(b, META_LEN + 4 + 4 * i, w.pgno as u32);
            }
        }
        let crc = page::compute_checksum(b);
        page::header_mut(b).set_checksum(crc);
    }

    /// The pages the one-sync meta in `b` lists and the checksum over theirs
    /// ([`fold_checksums`]); `b` decoded without error.
    pub fn listed(b: &[u8]) -> (Vec<u64>, u32) {
        let n = (rd_u32(b, O_LISTED) as usize).min(MAX_LISTED);
        if n == 0 || b.len() < listing_len(n) {
            return (Vec::new(), 0);
        }
        let pages = (0..n)
            .map(|i| u64::from(rd_u32(b, META_LEN + 4 + 4 * i)))
            .collect();
        (pages, rd_u32(b, META_LEN))
    }

    /// Bytes the meta in `b` covers with its checksum (its record and list), or `None`
    /// when its list count is out of range.
    pub fn encoded_len(b: &[u8]) -> Option<usize> {
        let n = rd_u32(b.get(..META_LEN)?, O_LISTED) as usize;
        (n <= MAX_LISTED).then(|| listing_len(n))
    }

    /// Decode and validate the meta in `b` (at least `META_LEN` bytes) read from `slot`.
    pub fn decode(b: &[u8], slot: u64) -> std::result::Result<Meta, MetaProblem> {
        if b.len() < META_LEN {
            return Err(MetaProblem::Field("meta page truncated".into()));
        }
        // `META_LEN` bytes hold the common header.
        let h = page::header(b);
        if b[O_MAGIC..O_MAGIC + MAGIC.len()] != MAGIC {
            return Err(MetaProblem::BadMagic);
        }
        let Some(len) = Meta::encoded_len(b) else {
            return Err(MetaProblem::Field(format!(
                "lists {} pages, more than {MAX_LISTED}",
                rd_u32(b, O_LISTED)
            )));
        };
        let Some(b) = b.get(..len) else {
            return Err(MetaProblem::Field("meta page truncated".into()));
        };
        if page::compute_checksum(b) != h.checksum() {
            return Err(MetaProblem::BadChecksum);
        }
        let version = rd_u32(b, O_VERSION);
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(MetaProblem::Version(version));
        }
        if h.kind() != Some(PageKind::Meta) || h.pgno() != slot {
            return Err(MetaProblem::Field(format!(
                "header says kind {} page {}",
                h.kind_byte(),
                h.pgno()
            )));
        }
        let page_size = rd_u32(b, O_PAGE_SIZE);
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&(page_size as usize))
            || !page_size.is_power_of_two()
        {
            return Err(MetaProblem::Field(format!("page size {page_size}")));
        }
        let rec = |at: usize| {
            TableRecord::decode(&b[at..at + TABLE_RECORD_LEN], slot)
                .map_err(|e| MetaProblem::Field(e.to_string()))
        };
        let flags = rd_u32(b, O_FLAGS);
        if flags & !(FLAG_WEAK | FLAG_ONE_SYNC) != 0 || flags == FLAG_WEAK | FLAG_ONE_SYNC {
            return Err(MetaProblem::Field(format!("unknown flags {flags:#x}")));
        }
        let listed = rd_u32(b, O_LISTED);
        if listed != 0 && flags & FLAG_ONE_SYNC == 0 {
            return Err(MetaProblem::Field(format!(
                "lists {listed} pages without being one-sync"
            )));
        }
        let txnid = h.txnid();
        if txnid > MAX_TXNID {
            return Err(MetaProblem::Field(format!(
                "transaction id {txnid} above the maximum {MAX_TXNID}"
            )));
        }
        let meta = Meta {
            txnid,
            version,
            slot,
            steady: flags & FLAG_WEAK == 0,
            one_sync: flags & FLAG_ONE_SYNC != 0,
            boot_id: b[O_BOOT_ID..O_BOOT_ID + BOOT_ID_LEN]
                .try_into()
                .unwrap_or_default(),
            page_size,
            high_water: rd_u64(b, O_HIGH_WATER),
            growth_step: rd_u64(b, O_GROWTH),
            main: rec(O_MAIN)?,
            catalog: rec(O_CATALOG)?,
            free: rec(O_FREE)?,
            savepoints: TableRecord {
                root: rd_u64(b, O_SAVEPOINTS),
                entries: u64::from(rd_u32(b, O_SAVEPOINTS + 8)),
                branch_pages: u64::from(rd_u32(b, O_SAVEPOINTS + 12)),
                leaf_pages: u64::from(rd_u32(b, O_SAVEPOINTS + 16)),
                depth: rd_u32(b, O_SAVEPOINTS + 20),
                ..TableRecord::default()
            },
        };
        let sp = &meta.savepoints;
        if sp.depth as usize > page::MAX_DEPTH || (sp.root == 0) != (sp.depth == 0) {
            return Err(MetaProblem::Field(format!(
                "savepoint tree with root {} and depth {}",
                sp.root, sp.depth
            )));
        }
        if meta.high_water < FIRST_PAGE || meta.high_water > (u64::MAX / MAX_PAGE_SIZE as u64) {
            return Err(MetaProblem::Field(format!(
                "high-water page {}",
                meta.high_water
            )));
        }
        for (name, r) in [
            ("main", meta.main),
            ("catalog", meta.catalog),
            ("free", meta.free),
            ("savepoint", meta.savepoints),
        ] {
            if r.root != 0 && (r.root < FIRST_PAGE || r.root >= meta.high_water) {
                return Err(MetaProblem::Field(format!(
                    "{name} root {} outside [2, {})",
                    r.root, meta.high_water
                )));
            }
        }
        if let Some(p) = Meta::listed(b)
            .0
            .into_iter()
            .find(|&p| p < FIRST_PAGE || p >= meta.high_water)
        {
            return Err(MetaProblem::Field(format!(
                "listed page {p} outside [2, {})",
                meta.high_water
            )));
        }
        Ok(meta)
    }

    /// Whether this meta may name the committed state on a machine whose boot id is
    /// `boot` (`None` when it cannot be known; weak metas are then trusted, as before a
    /// restart there is no way to tell).
    pub fn trusted(&self, boot: Option<[u8; 16]>) -> bool {
        self.steady || boot.is_none_or(|b| b == self.boot_id)
    }

    /// A meta for a brand-new, empty database, stored in slot `txnid` (0 or 1).
    pub fn empty(txnid: u64, page_size: u32, growth_step: u64) -> Meta {
        Meta {
            txnid,
            version: FORMAT_VERSION,
            slot: txnid,
            steady: true,
            one_sync: false,
            boot_id: [0; 16],
            page_size,
            high_water: FIRST_PAGE,
            growth_step,
            main: TableRecord::default(),
            catalog: TableRecord::default(),
            free: TableRecord::default(),
            savepoints: TableRecord::default(),
        }
    }
}

/// The id after `txnid` (the meta in `slot` carries it), or `Corrupted` when no valid
/// id follows it.
pub fn next_txnid(txnid: u64, slot: u64) -> Result<u64> {
    txnid
        .checked_add(1)
        .filter(|&t| t <= MAX_TXNID)
        .ok_or_else(|| {
            Error::corrupted(
                Corruption::Meta,
                slot,
                format!(
                    "transaction id {txnid} is at the maximum ({MAX_TXNID}): no later \
                     transaction can commit"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_offsets_match_the_format_spec() {
        // docs/format.md, "Meta page" and "Table record".
        assert_eq!(
            [
                O_MAGIC,
                O_VERSION,
                O_PAGE_SIZE,
                O_HIGH_WATER,
                O_GROWTH,
                O_MAIN,
                O_CATALOG,
                O_FREE,
                O_FLAGS,
                O_BOOT_ID,
                O_SAVEPOINTS,
                O_LISTED,
            ],
            [32, 40, 44, 48, 56, 64, 112, 160, 208, 212, 228, 252]
        );
        assert_eq!(
            [
                R_ROOT,
                R_ENTRIES,
                R_BRANCH_PAGES,
                R_LEAF_PAGES,
                R_OVERFLOW_PAGES,
                R_DEPTH,
                R_FLAGS,
            ],
            [0, 8, 16, 24, 32, 40, 44]
        );
    }

    #[test]
    fn catalog_records_carry_both_comparator_names() {
        fn f(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
            a.cmp(b)
        }
        let (k, v) = (Comparator::new("keys", f), Comparator::new("values", f));
        let mut rec = TableRecord {
            flags: TABLE_DUPSORT | TABLE_CUSTOMDUP,
            dup_compare: Some(v),
            ..TableRecord::default()
        };
        let only_values = rec.encode_catalog().unwrap();
        assert_eq!(
            TableRecord::catalog_comparator_names(&only_values),
            (&b""[..], &b"values"[..])
        );
        TableRecord::decode(&only_values, 9).unwrap();
        rec.flags |= TABLE_CUSTOMKEY;
        rec.compare = Some(k);
        let both = rec.encode_catalog().unwrap();
        assert_eq!(
            TableRecord::catalog_comparator_names(&both),
            (&b"keys"[..], &b"values"[..])
        );
        TableRecord::decode(&both, 9).unwrap();
        // A bit without its name, a name without its bit: invalid.
        let mut no_value_name = both.clone();
        no_value_name.truncate(both.len() - b"\0values".len());
        let mut no_bit = both.clone();
        no_bit[R_FLAGS..R_FLAGS + 4]
            .copy_from_slice(&(TABLE_DUPSORT | TABLE_CUSTOMDUP).to_le_bytes());
        let mut separator_only = only_values.clone();
        separator_only.truncate(CATALOG_RECORD_LEN + 1);
        for bad in [no_value_name, no_bit, separator_only] {
            assert!(TableRecord::decode(&bad, 9).is_err());
        }
        // Without its comparator the record cannot be written.
        rec.dup_compare = None;
        assert!(rec.encode_catalog().is_err());
    }

    fn sample() -> Meta {
        let rec = |root, depth| TableRecord {
            root,
            entries: 1000 + root,
            branch_pages: 2,
            leaf_pages: 30,
            overflow_pages: 4,
            compare: None,
            dup_compare: None,
            depth,
            flags: 0,
            pairs: 0,
        };
        Meta {
            txnid: 77,
            version: FORMAT_VERSION,
            slot: 1,
            steady: false,
            one_sync: false,
            boot_id: *b"0123456789abcdef",
            page_size: 8192,
            high_water: 500,
            growth_step: 1 << 20,
            main: rec(10, 2),
            catalog: rec(0, 0),
            free: rec(11, 1),
            savepoints: TableRecord {
                root: 12,
                entries: 3,
                leaf_pages: 1,
                depth: 1,
                ..TableRecord::default()
            },
        }
    }

    #[test]
    fn a_meta_round_trips_and_its_header_goes_through_the_page_view() {
        let meta = sample();
        let b = meta.encode();
        assert_eq!(Meta::decode(&b, 1), Ok(meta));
        let h = page::header(&b);
        assert_eq!(h.kind(), Some(PageKind::Meta));
        assert_eq!((h.pgno(), h.txnid()), (1, 77));
        assert_eq!(h.checksum(), crc32fast::hash(&b[4..]));
        assert!(b[O_LISTED..].iter().all(|&x| x == 0));
        // The same record read back from its place in the meta.
        let main = TableRecord::decode(&b[O_MAIN..O_MAIN + TABLE_RECORD_LEN], 1).unwrap();
        assert_eq!(main, meta.main);
        // Decoded as the other slot, the header's page number gives it away.
        assert!(matches!(Meta::decode(&b, 0), Err(MetaProblem::Field(_))));
        let mut bad = b;
        bad[O_FLAGS] ^= 2;
        assert_eq!(Meta::decode(&bad, 1), Err(MetaProblem::BadChecksum));
    }

    #[test]
    fn a_one_sync_meta_carries_its_list_under_its_checksum() {
        let meta = Meta {
            steady: true,
            one_sync: true,
            ..sample()
        };
        let listed: Vec<WrittenPage> = (0..MAX_LISTED as u64)
            .map(|i| WrittenPage {
                pgno: 2 + i * 3,
                checksum: i as u32 * 7,
            })
            .collect();
        let b = meta.encode_listing(&listed);
        assert_eq!(b.len(), META_LISTED_END);
        assert_eq!(Meta::decode(&b, 1), Ok(meta));
        let pages: Vec<u64> = listed.iter().map(|w| w.pgno).collect();
        let fold = fold_checksums(listed.iter().map(|w| w.checksum));
        assert_eq!(Meta::listed(&b), (pages, fold));
        assert_eq!(Meta::encoded_len(&b), Some(META_LISTED_END));
        // Any byte of the list is covered by the checksum.
        for at in [META_LEN, META_LEN + 5, META_LISTED_END - 1] {
            let mut bad = b.clone();
            bad[at] ^= 1;
            assert_eq!(Meta::decode(&bad, 1), Err(MetaProblem::BadChecksum));
        }
        // A list cut short by a short read, a count out of range, a listed page outside
        // the file, a list on a meta that is not one-sync: invalid.
        assert!(Meta::decode(&b[..b.len() - 1], 1).is_err());
        let mut too_many = b.clone();
        too_many[O_LISTED..O_LISTED + 4].copy_from_slice(&(MAX_LISTED as u32 + 1).to_le_bytes());
        assert!(matches!(
            Meta::decode(&too_many, 1),
            Err(MetaProblem::Field(_))
        ));
        let outside = Meta {
            high_water: 10,
            ..meta
        }
        .encode_listing(&listed[..20]);
        assert!(matches!(
            Meta::decode(&outside, 1),
            Err(MetaProblem::Field(_))
        ));
        let mut not_one_sync = meta.encode_listing(&listed[..3]);
        not_one_sync[O_FLAGS] = 0;
        let crc = page::compute_checksum(&not_one_sync);
        page::header_mut(&mut not_one_sync).set_checksum(crc);
        assert!(matches!(
            Meta::decode(&not_one_sync, 1),
            Err(MetaProblem::Field(_))
        ));
        // A weak meta is never one-sync.
        let weak = Meta {
            steady: false,
            ..meta
        };
        assert_eq!(
            Meta::decode(&weak.encode(), 1).map(|m| m.one_sync),
            Ok(false)
        );
    }
}
