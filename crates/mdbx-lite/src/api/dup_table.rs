//! Dup-sort tables: a sorted set of values per key (LMDB's `MDB_DUPSORT`, redb's
//! multimap tables).

use std::ops::{Bound, RangeBounds};

use crate::api::order::{KeyOrder, Orders};
use crate::api::transaction::{check_comparator_name, check_kind, ReadTxn, TableStat, WriteTxn};
use crate::error::{Error, Result};
use crate::format::meta::{
    TableRecord, TABLE_CUSTOMDUP, TABLE_CUSTOMKEY, TABLE_DUPFIXED, TABLE_DUPSORT, TABLE_INTEGERDUP,
    TABLE_REVERSEDUP,
};
use crate::format::order::Comparator;
use crate::storage::snapshot::PageSource;
use crate::tree::cursor::BoundKey;
use crate::tree::dups::{self, KeyValues, RawDupCursor, Run};

/// The kind of a dup-sort table, fixed when it is created and stored with it: how its
/// values are sized and ordered, and how its keys are ordered.
///
/// ```
/// use mdbx_lite::{DupSort, KeyOrder};
/// let plain_values = DupSort::new();
/// let eight_byte_values = DupSort::new().fixed();
/// // LMDB's MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP | MDB_INTEGERKEY:
/// let ids_to_ids = DupSort::new().fixed().integer_values().keys(KeyOrder::Integer);
/// # let _ = (plain_values, eight_byte_values, ids_to_ids);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupSort {
    fixed: bool,
    values: ValueOrder,
    keys: KeyOrder,
}

/// How a dup-sort table orders one key's values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ValueOrder {
    #[default]
    Bytes,
    Integer,
    Reverse,
    Custom(Comparator),
}

impl DupSort {
    /// Values of any size up to [`crate::Env::max_key_size`], sorted bytewise; keys
    /// sorted bytewise.
    pub fn new() -> DupSort {
        DupSort::default()
    }

    /// Every value of the table has the size of the first one put (LMDB's
    /// `MDB_DUPFIXED`); another size is `Error::DupValueSize`.
    pub fn fixed(mut self) -> DupSort {
        self.fixed = true;
        self
    }

    /// Values are native-endian u32 or u64 compared by value (LMDB's `MDB_INTEGERDUP`);
    /// a value of another size, or of another size than the key's other values, is
    /// `Error::IntegerSize`.
    pub fn integer_values(mut self) -> DupSort {
        self.values = ValueOrder::Integer;
        self
    }

    /// Values compared from their last byte (LMDB's `MDB_REVERSEDUP`).
    pub fn reverse_values(mut self) -> DupSort {
        self.values = ValueOrder::Reverse;
        self
    }

    /// Values ordered by a user comparator. The table records its name: open the
    /// table with a comparator of that name ([`ReadTxn::open_dup_table_as`],
    /// [`WriteTxn::open_dup_table_as`], or [`WriteTxn::create_dup_table`] with this
    /// kind); opening it without one is `Error::ComparatorMissing`.
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mdbx_lite::{Comparator, DupSort};
    /// // Each key's values newest first: 8-byte big-endian timestamps, descending.
    /// fn descending(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    ///     b.cmp(a)
    /// }
    /// const NEWEST_FIRST: Comparator = Comparator::new("newest-first", descending);
    /// let kind = DupSort::new().fixed().values_by(NEWEST_FIRST);
    ///
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut events = wtx.create_dup_table("events", kind)?;
    /// for t in [1_700_000_000u64, 1_800_000_000, 1_750_000_000] {
    ///     events.put(b"sensor-1", &t.to_be_bytes())?;
    /// }
    /// let latest = events.get(b"sensor-1")?.unwrap();
    /// assert_eq!(latest, 1_800_000_000u64.to_be_bytes());
    /// wtx.commit()?;
    ///
    /// let rtx = env.begin_read()?;
    /// assert!(rtx.open_dup_table("events").is_err()); // the comparator is needed
    /// let events = rtx.open_dup_table_as("events", kind)?;
    /// assert_eq!(events.count(b"sensor-1")?, 3);
    /// # Ok(()) }
    /// ```
    pub fn values_by(mut self, comparator: Comparator) -> DupSort {
        self.values = ValueOrder::Custom(comparator);
        self
    }

    /// The order of the table's keys: bytewise (the default), reverse, integer, or a
    /// user comparator (the table records its name; open such a table with
    /// [`ReadTxn::open_dup_table_with`] / [`WriteTxn::open_dup_table_with`]).
    pub fn keys(mut self, order: KeyOrder) -> DupSort {
        self.keys = order;
        self
    }

    /// Whether every value has one size (see [`DupSort::fixed`]).
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }

    /// Whether values are integers (see [`DupSort::integer_values`]).
    pub fn has_integer_values(&self) -> bool {
        self.values == ValueOrder::Integer
    }

    /// Whether values compare from their last byte (see [`DupSort::reverse_values`]).
    pub fn has_reverse_values(&self) -> bool {
        self.values == ValueOrder::Reverse
    }

    /// The order of the keys (see [`DupSort::keys`]).
    pub fn key_order(&self) -> KeyOrder {
        self.keys
    }

    /// The user comparator of the values, if they have one (see [`DupSort::values_by`]).
    pub fn value_comparator(&self) -> Option<Comparator> {
        match self.values {
            ValueOrder::Custom(c) => Some(c),
            _ => None,
        }
    }

    /// The orders to open a table of this kind in.
    pub(crate) fn orders(&self) -> Orders {
        Orders {
            keys: Some(self.keys),
            values: self.value_comparator(),
        }
    }

    /// The kind a dup-sort table record's flags state (None for a plain table, or for
    /// keys or values ordered by a user comparator: see [`DupSort::of_record`]).
    pub(crate) fn from_flags(flags: u32) -> Option<DupSort> {
        if flags & TABLE_CUSTOMDUP != 0 {
            return None;
        }
        Self::with_orders(flags, KeyOrder::built_in(flags)?, None)
    }

    /// The kind of dup-sort table record `rec`, with the user comparators bound to it.
    pub(crate) fn of_record(rec: &TableRecord) -> Option<DupSort> {
        let keys = match rec.compare {
            Some(c) if rec.flags & TABLE_CUSTOMKEY != 0 => KeyOrder::Custom(c),
            _ => KeyOrder::built_in(rec.flags)?,
        };
        let values = match rec.dup_compare {
            Some(c) if rec.flags & TABLE_CUSTOMDUP != 0 => Some(c),
            _ if rec.flags & TABLE_CUSTOMDUP != 0 => return None,
            _ => None,
        };
        Self::with_orders(rec.flags, keys, values)
    }

    fn with_orders(flags: u32, keys: KeyOrder, values: Option<Comparator>) -> Option<DupSort> {
        if flags & TABLE_DUPSORT == 0 {
            return None;
        }
        let mut kind = DupSort::new().keys(keys);
        kind.fixed = flags & TABLE_DUPFIXED != 0;
        kind.values = if flags & TABLE_INTEGERDUP != 0 {
            ValueOrder::Integer
        } else if flags & TABLE_REVERSEDUP != 0 {
            ValueOrder::Reverse
        } else if let Some(c) = values {
            ValueOrder::Custom(c)
        } else {
            ValueOrder::Bytes
        };
        Some(kind)
    }

    /// The table record's kind flags.
    pub(crate) fn flags(&self) -> u32 {
        let values = match self.values {
            ValueOrder::Bytes => 0,
            ValueOrder::Integer => TABLE_INTEGERDUP,
            ValueOrder::Reverse => TABLE_REVERSEDUP,
            ValueOrder::Custom(_) => TABLE_CUSTOMDUP,
        };
        TABLE_DUPSORT | if self.fixed { TABLE_DUPFIXED } else { 0 } | values | self.keys.flags()
    }
}

impl ReadTxn {
    /// A dup-sort table. `Error::TableKindMismatch` if `name` is a plain table (open it
    /// with [`ReadTxn::open_table`]).
    ///
    /// # Errors
    /// `Error::TableNotFound`, `Error::TableKindMismatch`; `Error::Corrupted` or
    /// `Error::Io` reading the catalog.
    pub fn open_dup_table(&self, name: &str) -> Result<DupTable<'_>> {
        self.open_dup(name, None, Orders::default())
    }

    /// A dup-sort table whose keys must have order `order` (for a user comparator: one
    /// of the name the table records, which the returned handle then sorts by).
    ///
    /// # Errors
    /// As [`ReadTxn::open_dup_table`]; `Error::TableKindMismatch` if the table's keys
    /// have another order.
    pub fn open_dup_table_with(&self, name: &str, order: KeyOrder) -> Result<DupTable<'_>> {
        self.open_dup(name, None, Orders::keys(Some(order)))
    }

    /// A dup-sort table of exactly kind `kind`, its user comparators (of the names the
    /// table records) included: the way to open a table whose values have one.
    ///
    /// # Errors
    /// As [`ReadTxn::open_dup_table`]; `Error::TableKindMismatch` if the table has
    /// another kind or order.
    pub fn open_dup_table_as(&self, name: &str, kind: DupSort) -> Result<DupTable<'_>> {
        self.open_dup(name, Some(kind.flags()), kind.orders())
    }

    /// A dup-sort table of kind flags `kind` (`None`: any), bound to `orders`.
    pub(crate) fn open_dup(
        &self,
        name: &str,
        kind: Option<u32>,
        orders: Orders,
    ) -> Result<DupTable<'_>> {
        // The kind first: a plain table is a kind mismatch whatever its order.
        check_kind(name, &self.table_record(name)?, kind)?;
        let rec = self.table_record_in(name, orders)?;
        Ok(DupTable {
            src: self.pages(),
            rec,
            page_size: self.pages().page_size,
        })
    }
}

impl WriteTxn {
    /// A dup-sort table of kind `kind`, created empty if it does not exist.
    ///
    /// # Errors
    /// `Error::TableKindMismatch` if the table exists with another kind (a plain table,
    /// or dup-sort with other flags); `Error::Invalid` for a bad name; `Error::Corrupted`
    /// or `Error::Io` reading the catalog.
    pub fn create_dup_table(&mut self, name: &str, kind: DupSort) -> Result<DupTableMut<'_>> {
        check_comparator_name(kind.keys.comparator())?;
        check_comparator_name(kind.value_comparator())?;
        let slot = self.slot_in(
            name,
            Some(kind.flags()),
            kind.orders(),
            Some(Some(kind.flags())),
        )?;
        Ok(DupTableMut { txn: self, slot })
    }

    /// An existing dup-sort table, of whatever dup-sort kind it was created with.
    ///
    /// # Errors
    /// `Error::TableNotFound`, `Error::TableKindMismatch` (a plain table); `Error::Invalid`
    /// for a bad name; `Error::Corrupted` or `Error::Io` reading the catalog.
    pub fn open_dup_table(&mut self, name: &str) -> Result<DupTableMut<'_>> {
        let slot = self.slot_in(name, None, Orders::default(), Some(None))?;
        Ok(DupTableMut { txn: self, slot })
    }

    /// An existing dup-sort table whose keys must have order `order` (for a user
    /// comparator: one of the name the table records).
    ///
    /// # Errors
    /// As [`WriteTxn::open_dup_table`]; `Error::TableKindMismatch` if the table's keys
    /// have another order.
    pub fn open_dup_table_with(&mut self, name: &str, order: KeyOrder) -> Result<DupTableMut<'_>> {
        let slot = self.slot_in(name, None, Orders::keys(Some(order)), Some(None))?;
        Ok(DupTableMut { txn: self, slot })
    }

    /// An existing dup-sort table of exactly kind `kind`, its user comparators (of the
    /// names the table records) included.
    ///
    /// # Errors
    /// As [`WriteTxn::open_dup_table`]; `Error::TableKindMismatch` if the table has
    /// another kind or order.
    pub fn open_dup_table_as(&mut self, name: &str, kind: DupSort) -> Result<DupTableMut<'_>> {
        self.open_dup(name, Some(kind.flags()), kind.orders())
    }

    /// An existing dup-sort table of kind flags `kind` (`None`: any), bound to `orders`.
    pub(crate) fn open_dup(
        &mut self,
        name: &str,
        kind: Option<u32>,
        orders: Orders,
    ) -> Result<DupTableMut<'_>> {
        let slot = self.slot_in(name, None, orders, Some(kind))?;
        Ok(DupTableMut { txn: self, slot })
    }
}

type Src<'txn> = dyn PageSource + Sync + 'txn;

/// A dup-sort table as seen by a read transaction. `Copy`, `Send + Sync`; every key and
/// value it hands out is borrowed from the map.
#[derive(Clone, Copy)]
pub struct DupTable<'txn> {
    src: &'txn Src<'txn>,
    rec: TableRecord,
    page_size: usize,
}

/// The reads of a dup-sort table over pages `$src` with record `$rec` and page size
/// `$ps`, returning borrows of lifetime `$lt`.
macro_rules! dup_reads {
    ($lt:lifetime, $self:ident, $src:expr, $rec:expr, $ps:expr) => {
        /// The first (smallest) value of `key`.
        ///
        /// # Errors
        /// `Error::Corrupted` when a page the lookup reads is damaged.
        pub fn get(&$self, key: &[u8]) -> Result<Option<&$lt [u8]>> {
            dups::first_value($src, &$rec, key)
        }

        /// The values of `key` in order (none if it is absent), zero-copy.
        ///
        /// # Errors
        /// `Error::Corrupted` when a page the lookup reads is damaged.
        pub fn values(&$self, key: &[u8]) -> Result<Values<$lt>> {
            let src: &Src<'_> = $src;
            Ok(Values {
                inner: KeyValues::new(src, &$rec, key)?,
            })
        }

        /// How many values `key` has: O(log n) (a nested tree's record counts them).
        ///
        /// # Errors
        /// `Error::Corrupted` when a page the lookup reads is damaged.
        pub fn count(&$self, key: &[u8]) -> Result<u64> {
            dups::count($src, &$rec, key)
        }

        /// Whether the pair (`key`, `value`) is in the table.
        ///
        /// # Errors
        /// `Error::Corrupted` when a page the lookup reads is damaged.
        pub fn contains(&$self, key: &[u8], value: &[u8]) -> Result<bool> {
            dups::contains($src, &$rec, key, value)
        }

        /// Number of (key, value) pairs (O(1)).
        pub fn len(&$self) -> u64 {
            $rec.pairs
        }

        /// Whether the table has no pairs.
        pub fn is_empty(&$self) -> bool {
            $rec.pairs == 0
        }

        /// Pair, key and page counts (O(1)).
        pub fn stat(&$self) -> TableStat {
            TableStat::new(&$rec, $ps)
        }

        /// The table's kind, from its record.
        pub(crate) fn kind(&$self) -> DupSort {
            DupSort::of_record(&$rec).unwrap_or_default()
        }

        /// A cursor over the pairs, positioned nowhere until moved.
        pub fn cursor(&$self) -> DupCursor<$lt> {
            let src: &Src<'_> = $src;
            DupCursor {
                inner: RawDupCursor::new(src, $rec),
                fixed: $rec.flags & TABLE_DUPFIXED != 0,
                run: Vec::new(),
            }
        }

        /// Every pair, by key, then value (`.rev()` for descending).
        pub fn iter(&$self) -> DupRange<$lt> {
            DupRange::new($src, $rec, Bound::Unbounded, Bound::Unbounded)
        }

        /// The pairs whose keys lie in `range`, by key, then value (`.rev()` for
        /// descending), e.g. `t.range(&b"a"[..]..&b"m"[..])`.
        pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&$self, range: R) -> DupRange<$lt> {
            let own = |b: Bound<&K>| b.map(|k| BoundKey::new(k.as_ref()));
            DupRange::new($src, $rec, own(range.start_bound()), own(range.end_bound()))
        }
    };
}

impl<'txn> DupTable<'txn> {
    dup_reads!('txn, self, self.src, self.rec, self.page_size);
}

/// A dup-sort table inside the write transaction. Reads see the transaction's own
/// changes.
///
/// ```
/// use mdbx_lite::{DupSort, Env};
///
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut tags = wtx.create_dup_table("tags", DupSort::new())?;
/// tags.put(b"post-1", b"rust")?;
/// tags.put(b"post-1", b"databases")?;
/// tags.put(b"post-2", b"rust")?;
/// assert!(!tags.put(b"post-1", b"rust")?); // the pair is there already
/// wtx.commit()?;
///
/// let rtx = env.begin_read()?;
/// let tags = rtx.open_dup_table("tags")?;
/// let values: Vec<&[u8]> = tags.values(b"post-1")?.collect::<mdbx_lite::Result<_>>()?;
/// assert_eq!(values, [&b"databases"[..], b"rust"]); // sorted, borrowed from the map
/// assert_eq!(tags.count(b"post-1")?, 2);
/// assert_eq!(tags.len(), 3); // pairs
/// assert_eq!(tags.stat().keys, 2);
/// # Ok(()) }
/// ```
pub struct DupTableMut<'txn> {
    txn: &'txn mut WriteTxn,
    slot: usize,
}

impl<'txn> DupTable<'txn> {
    /// The dup-sort table of record `rec` over `src` (a write transaction's pages, for
    /// handles that read it without holding it borrowed mutably).
    pub(crate) fn over(src: &'txn Src<'txn>, rec: TableRecord, page_size: usize) -> Self {
        DupTable {
            src,
            rec,
            page_size,
        }
    }
}

impl<'txn> DupTableMut<'txn> {
    /// The write transaction's dup-sort table in slot `slot` (a handle's).
    pub(crate) fn at(txn: &'txn mut WriteTxn, slot: usize) -> Self {
        DupTableMut { txn, slot }
    }

    /// The table's slot in its transaction.
    pub(crate) fn slot(&self) -> usize {
        self.slot
    }
}

impl DupTableMut<'_> {
    fn rec(&self) -> TableRecord {
        self.txn.slot_record(self.slot)
    }

    dup_reads!('_, self, self.txn.write_pages(), self.rec(), self.txn.page_size());

    /// Add `value` to `key`'s values; true if the pair is new, false if it was there
    /// (nothing changes then).
    ///
    /// # Errors
    /// `Error::KeyTooLarge`, `Error::DupValueTooLarge` (values are at most
    /// [`crate::Env::max_key_size`] bytes), `Error::DupValueSize` (dup-fixed tables):
    /// the transaction stays usable. `Error::Io` or `Error::Corrupted`: the transaction
    /// can then only be aborted.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.txn
            .update(self.slot, |p, r| dups::put(p, r, key, value, false))
    }

    /// Add the pair, or fail with `Error::KeyExists` if it is there (LMDB's
    /// `MDB_NODUPDATA`).
    ///
    /// # Errors
    /// `Error::KeyExists`, and those of [`DupTableMut::put`].
    pub fn put_unique(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.txn
            .update(self.slot, |p, r| dups::put(p, r, key, value, true))
            .map(|_| ())
    }

    /// Remove the pair (`key`, `value`); true if it was there.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` (the transaction can then only be aborted).
    pub fn delete(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.txn
            .update(self.slot, |p, r| dups::delete_pair(p, r, key, value))
    }

    /// Remove `key` with all its values (freeing its nested tree); returns how many
    /// values it had.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` (the transaction can then only be aborted).
    pub fn delete_key(&mut self, key: &[u8]) -> Result<u64> {
        self.txn
            .update(self.slot, |p, r| dups::delete_key(p, r, key))
    }

    /// Remove every pair (the table and its kind stay).
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` (the transaction can then only be aborted).
    pub fn clear(&mut self) -> Result<()> {
        self.txn.update(self.slot, crate::tree::btree::clear)
    }

    /// Remove every key in `range` with all its values; returns how many pairs went.
    /// A key at a time (a descent and a [`DupTableMut::delete_key`] each), in the
    /// table's key order.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` (the transaction can then only be aborted).
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> Result<u64> {
        let end = range.end_bound().map(|k| k.as_ref().to_vec());
        let mut from = range.start_bound().map(|k| k.as_ref().to_vec());
        let mut removed = 0;
        loop {
            let next = self
                .range::<Vec<u8>, _>((from.as_ref(), end.as_ref()))
                .next()
                .transpose()?
                .map(|(k, _)| k.to_vec());
            let Some(key) = next else {
                return Ok(removed);
            };
            removed += self.delete_key(&key)?;
            from = Bound::Excluded(key);
        }
    }

    /// Keep only the pairs for which `keep(key, value)` is true; returns how many were
    /// removed. One walk of a writing cursor over every pair (a descent per pair
    /// removed or passed).
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut tags = wtx.create_dup_table("tags", mdbx_lite::DupSort::new())?;
    /// for (doc, tag) in [("a", "draft"), ("a", "rust"), ("b", "draft"), ("b", "db")] {
    ///     tags.put(doc.as_bytes(), tag.as_bytes())?;
    /// }
    /// assert_eq!(tags.retain(|_, tag| tag != b"draft")?, 2);
    /// assert_eq!(tags.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` (the transaction can then only be aborted).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        let mut c = self.cursor_mut();
        let mut removed = 0;
        let mut verdict = c.first()?.map(|(k, v)| keep(k, v));
        while let Some(kept) = verdict {
            if !kept {
                c.delete_current()?;
                removed += 1;
            }
            verdict = c.next()?.map(|(k, v)| keep(k, v));
        }
        Ok(removed)
    }
}

/// The values of one key, in order, borrowed from the transaction.
pub struct Values<'txn> {
    inner: KeyValues<'txn, Src<'txn>>,
}

impl<'txn> Iterator for Values<'txn> {
    type Item = Result<&'txn [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

/// A pair borrowed from the transaction.
pub type Pair<'txn> = (&'txn [u8], &'txn [u8]);

/// A cursor over a dup-sort table's pairs, with LMDB's moves: over every pair
/// (`next`, `prev`), within a key (`next_dup`, `first_dup`, ...), key by key
/// (`next_key`, `prev_key`), and seeks to a key, a value of a key, or a pair.
/// Allocation-free; every pair is borrowed from the transaction. In a dup-fixed table
/// it also hands out runs of values as one slice ([`DupCursor::get_multiple`]).
pub struct DupCursor<'txn> {
    inner: RawDupCursor<'txn, Src<'txn>>,
    /// Whether the table is dup-fixed (runs are defined).
    fixed: bool,
    /// Where a run whose values are not adjacent in their page is gathered.
    run: Vec<u8>,
}

/// Cursor moves, each documented once here: `Error::Corrupted` when a page a move reads
/// is damaged.
impl<'txn> DupCursor<'txn> {
    /// The first pair.
    pub fn first(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.first()
    }
    /// The last pair.
    pub fn last(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.last()
    }
    /// The next pair (the first if unpositioned); LMDB's `MDB_NEXT`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.next()
    }
    /// The previous pair (the last if unpositioned); `MDB_PREV`.
    pub fn prev(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.prev()
    }
    /// The next value of the current key, or None (staying put); `MDB_NEXT_DUP`.
    pub fn next_dup(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.next_dup()
    }
    /// The previous value of the current key, or None (staying put); `MDB_PREV_DUP`.
    pub fn prev_dup(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.prev_dup()
    }
    /// The first value of the current key; `MDB_FIRST_DUP`.
    pub fn first_dup(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.first_dup()
    }
    /// The last value of the current key; `MDB_LAST_DUP`.
    pub fn last_dup(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.last_dup()
    }
    /// The first value of the next key; `MDB_NEXT_NODUP`.
    pub fn next_key(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.next_key()
    }
    /// The last value of the previous key; `MDB_PREV_NODUP`.
    pub fn prev_key(&mut self) -> Result<Option<Pair<'txn>>> {
        self.inner.prev_key()
    }
    /// The first value of the first key `>= key`; `MDB_SET_RANGE`.
    pub fn seek_key(&mut self, key: &[u8]) -> Result<Option<Pair<'txn>>> {
        self.inner.seek_key(key)
    }
    /// The first value `>= value` of `key` itself (None if `key` is absent or has no
    /// such value); `MDB_GET_BOTH_RANGE`.
    pub fn seek_value(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Pair<'txn>>> {
        self.inner.seek_value(key, value)
    }
    /// Exactly the pair (`key`, `value`), or None; `MDB_GET_BOTH`.
    pub fn seek_pair(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Pair<'txn>>> {
        self.inner.seek_pair(key, value)
    }
    /// The pair under the cursor; `MDB_GET_CURRENT`.
    pub fn current(&self) -> Result<Option<Pair<'txn>>> {
        self.inner.current()
    }
    /// The current key and its values from the current one on, as one slice of
    /// back-to-back values, as far as they lie together: to the end of the key's inline
    /// block, or of the nested-tree leaf holding the current value (at most a page of
    /// values). The cursor then stands on the slice's last value, so
    /// [`next_multiple`](DupCursor::next_multiple) continues after it. LMDB's
    /// `MDB_GET_MULTIPLE`.
    ///
    /// The slice borrows from the map when the values lie back to back in their page (a
    /// block always; a nested leaf as its last split or compaction laid it out), else
    /// from a buffer the cursor keeps (one copy of at most a page; the buffer is
    /// allocated once and reused). It lives until the cursor's next move.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use mdbx_lite::{DupSort, Env};
    /// let env = Env::open(dir.path().join("db"))?;
    /// let mut txn = env.begin_write()?;
    /// let mut t = txn.create_dup_table("ids", DupSort::new().fixed())?;
    /// for id in 0u32..10_000 {
    ///     t.put(b"all", &id.to_be_bytes())?;
    /// }
    /// let mut c = t.cursor();
    /// c.seek_key(b"all")?;
    /// let mut seen = 0;
    /// let mut run = c.get_multiple()?;
    /// while let Some((key, values)) = run {
    ///     assert_eq!(key, b"all");
    ///     seen += values.len() / 4;
    ///     run = c.next_multiple()?;
    /// }
    /// assert_eq!(seen, 10_000);
    /// # Ok::<(), mdbx_lite::Error>(())
    /// ```
    ///
    /// # Errors
    /// `Error::Invalid` if the table is not dup-fixed; `Error::Corrupted` when a page
    /// the move reads is damaged.
    pub fn get_multiple(&mut self) -> Result<Option<(&'txn [u8], &[u8])>> {
        self.require_fixed()?;
        let run = self.inner.run()?;
        self.gather(run)
    }

    /// The current key's next run of values after the one
    /// [`get_multiple`](DupCursor::get_multiple) or the last `next_multiple` returned;
    /// None, staying put, after its last value (move on with
    /// [`next_key`](DupCursor::next_key)). LMDB's `MDB_NEXT_MULTIPLE`.
    ///
    /// # Errors
    /// As [`get_multiple`](DupCursor::get_multiple).
    pub fn next_multiple(&mut self) -> Result<Option<(&'txn [u8], &[u8])>> {
        self.require_fixed()?;
        let run = self.inner.next_run()?;
        self.gather(run)
    }

    fn require_fixed(&self) -> Result<()> {
        if self.fixed {
            Ok(())
        } else {
            Err(Error::Invalid(
                "runs of values (get_multiple) need a dup-fixed table".into(),
            ))
        }
    }

    fn gather(
        &mut self,
        run: Option<(&'txn [u8], Run<'txn>)>,
    ) -> Result<Option<(&'txn [u8], &[u8])>> {
        match run {
            Some((key, run)) => Ok(Some((key, run.gather(&mut self.run)?))),
            None => Ok(None),
        }
    }

    /// How many values the current key has (0 if unpositioned); `mdb_cursor_count`.
    pub fn count(&self) -> Result<u64> {
        self.inner.count()
    }
}

/// The pairs of a key range, by key, then value; `rev()` walks it backwards.
pub struct DupRange<'txn> {
    src: &'txn Src<'txn>,
    rec: TableRecord,
    front: RawDupCursor<'txn, Src<'txn>>,
    /// Made on the first `next_back` (boxed: forward scans never carry it).
    back: Option<Box<RawDupCursor<'txn, Src<'txn>>>>,
    start: Bound<BoundKey>,
    end: Bound<BoundKey>,
    /// The last pair each end handed out: the two ends stop where they meet.
    front_last: Option<Pair<'txn>>,
    back_last: Option<Pair<'txn>>,
    front_started: bool,
    back_started: bool,
    done: bool,
}

impl<'txn> DupRange<'txn> {
    fn new(
        src: &'txn Src<'txn>,
        rec: TableRecord,
        start: Bound<BoundKey>,
        end: Bound<BoundKey>,
    ) -> Self {
        DupRange {
            src,
            rec,
            front: RawDupCursor::new(src, rec),
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

    fn step_front(&mut self) -> Result<Option<Pair<'txn>>> {
        if self.front_started {
            return self.front.next();
        }
        self.front_started = true;
        match &self.start {
            Bound::Unbounded => self.front.first(),
            Bound::Included(k) => self.front.seek_key(k.as_slice()),
            Bound::Excluded(k) => match self.front.seek_key(k.as_slice())? {
                Some((key, _)) if key == k.as_slice() => self.front.next_key(),
                other => Ok(other),
            },
        }
    }

    fn step_back(&mut self) -> Result<Option<Pair<'txn>>> {
        let (src, rec) = (self.src, self.rec);
        let back = self
            .back
            .get_or_insert_with(|| Box::new(RawDupCursor::new(src, rec)));
        if self.back_started {
            return back.prev();
        }
        self.back_started = true;
        match &self.end {
            Bound::Unbounded => back.last(),
            // The last value of the bound's key if it is there, else the pair before
            // the first key past it.
            Bound::Included(k) => match back.seek_key(k.as_slice())? {
                Some((key, _)) if key == k.as_slice() => back.last_dup(),
                Some(_) => back.prev(),
                None => back.last(),
            },
            Bound::Excluded(k) => match back.seek_key(k.as_slice())? {
                Some(_) => back.prev(),
                None => back.last(),
            },
        }
    }

    /// Whether `pair`, which the front (or back) cursor reached, is still in the range:
    /// not past the far bound, and not at or past the pair the other end handed out
    /// last. Keys compare in the table's key order, values in its value order.
    fn inside(&self, (k, v): Pair<'txn>, front: bool) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        let (keys, values) = (self.rec.key_order(), self.rec.dup_order());
        let pair_cmp = |(k2, v2): Pair<'txn>| keys.cmp(k, k2).then_with(|| values.cmp(v, v2));
        if front {
            let before_end = match &self.end {
                Bound::Unbounded => true,
                Bound::Included(e) => keys.cmp(k, e.as_slice()) != Greater,
                Bound::Excluded(e) => keys.cmp(k, e.as_slice()) == Less,
            };
            before_end && self.back_last.is_none_or(|b| pair_cmp(b) == Less)
        } else {
            let after_start = match &self.start {
                Bound::Unbounded => true,
                Bound::Included(s) => keys.cmp(k, s.as_slice()) != Less,
                Bound::Excluded(s) => keys.cmp(k, s.as_slice()) == Greater,
            };
            after_start && self.front_last.is_none_or(|f| pair_cmp(f) == Greater)
        }
    }

    fn finish(&mut self, r: Result<Option<Pair<'txn>>>, front: bool) -> Option<Result<Pair<'txn>>> {
        match r {
            Ok(Some(pair)) if self.inside(pair, front) => {
                if front {
                    self.front_last = Some(pair);
                } else {
                    self.back_last = Some(pair);
                }
                Some(Ok(pair))
            }
            Ok(_) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<'txn> Iterator for DupRange<'txn> {
    type Item = Result<Pair<'txn>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_front();
        self.finish(r, true)
    }
}

impl DoubleEndedIterator for DupRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step_back();
        self.finish(r, false)
    }
}
