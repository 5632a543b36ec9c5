//! Typed tables: a definition names a table and its key and value types, and the
//! handles opened from it take and return those types ([`crate::Value`],
//! [`crate::Key`]). They sit on the byte API: a typed read is the byte read and a
//! decode of the slice it returns (borrowed where the type allows), a typed write an
//! encode (on the stack for integers and arrays, borrowed for strings and byte slices)
//! and the byte write.

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

use crate::api::codec::{Key, Value};
use crate::api::cursor_mut::{CursorMut, DupCursorMut};
use crate::api::dup_table::{DupCursor, DupRange, DupSort, DupTable, DupTableMut, Values};
use crate::api::order::KeyOrder;
use crate::api::transaction::{bounds, ReadTable, ReadTxn, TableMut, TableStat, WriteTxn};
use crate::error::{Error, Result};
use crate::tree::btree;
use crate::tree::cursor::{Cursor, Range};

/// A table's name and its key and value types, usually a `const`:
///
/// ```
/// use mdbx_lite::{Env, TableDef};
///
/// const USERS: TableDef<u64, &str> = TableDef::new("users");
///
/// # let dir = tempfile::tempdir().unwrap();
/// let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut users = wtx.create(&USERS)?;
/// users.put(1, "ada")?;
/// users.put(2, "grace")?;
/// wtx.commit()?;
///
/// let rtx = env.begin_read()?;
/// let users = rtx.open(&USERS)?;
/// assert_eq!(users.get(2)?, Some("grace")); // borrowed from the map
/// let names: Vec<&str> = users.iter().map(|e| e.map(|(_, name)| name)).collect::<Result<_, _>>()?;
/// assert_eq!(names, ["ada", "grace"]);
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct TableDef<K, V> {
    name: &'static str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Value> TableDef<K, V> {
    /// The definition of table `name` with keys `K` and values `V`. The table sorts in
    /// `K`'s order ([`Key::ORDER`]).
    pub const fn new(name: &'static str) -> TableDef<K, V> {
        TableDef {
            name,
            types: PhantomData,
        }
    }

    /// The table's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<K, V> Clone for TableDef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for TableDef<K, V> {}

/// A multimap table's name and types: a dup-sort table, each key holding a sorted set
/// of values, sorted in `V`'s order ([`Key::ORDER`]: integer, reverse or a user
/// comparator as well as bytewise; values of fixed width make it dup-fixed).
///
/// ```
/// use mdbx_lite::{Env, MultimapDef};
///
/// const TAGS: MultimapDef<&str, &str> = MultimapDef::new("tags");
///
/// # let dir = tempfile::tempdir().unwrap();
/// let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut tags = wtx.create_multimap(&TAGS)?;
/// tags.put("post-1", "rust")?;
/// tags.put("post-1", "db")?;
/// let values: Vec<&str> = tags.get("post-1")?.collect::<Result<_, _>>()?;
/// assert_eq!(values, ["db", "rust"]);
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct MultimapDef<K, V> {
    name: &'static str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Key> MultimapDef<K, V> {
    /// The definition of multimap table `name`.
    pub const fn new(name: &'static str) -> MultimapDef<K, V> {
        MultimapDef {
            name,
            types: PhantomData,
        }
    }

    /// The table's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The dup-sort kind a new table of this definition gets.
    fn kind() -> Result<DupSort> {
        let mut kind = DupSort::new().keys(K::ORDER);
        if V::WIDTH.is_some_and(|w| w > 0) {
            kind = kind.fixed();
        }
        match V::ORDER {
            KeyOrder::Bytes => {}
            KeyOrder::Integer => kind = kind.integer_values(),
            KeyOrder::Reverse => kind = kind.reverse_values(),
            KeyOrder::Custom(c) => kind = kind.values_by(c),
        }
        Ok(kind)
    }

    /// Refuse an existing table whose key or value order is not this definition's.
    fn check(kind: DupSort) -> Result<()> {
        let want = Self::kind()?;
        if kind.key_order() != want.key_order()
            || kind.has_integer_values() != want.has_integer_values()
            || kind.has_reverse_values() != want.has_reverse_values()
            || kind.value_comparator() != want.value_comparator()
        {
            return Err(Error::Invalid(format!(
                "multimap table orders differ from the definition's (keys {:?}, values {:?})",
                K::ORDER,
                V::ORDER
            )));
        }
        Ok(())
    }
}

impl<K, V> Clone for MultimapDef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for MultimapDef<K, V> {}

impl ReadTxn {
    /// The typed table `def` names.
    ///
    /// # Errors
    /// As [`ReadTxn::open_table_with`] in `K`'s order: `Error::TableNotFound`;
    /// `Error::TableKindMismatch` if it is a dup-sort table or has another key order.
    pub fn open<K: Key, V: Value>(&self, def: &TableDef<K, V>) -> Result<TypedTable<'_, K, V>> {
        Ok(TypedTable {
            raw: self.open_table_with(def.name, K::ORDER)?,
            types: PhantomData,
        })
    }

    /// The typed multimap table `def` names.
    ///
    /// # Errors
    /// As [`ReadTxn::open_dup_table`]; `Error::Invalid` if its key or value order is
    /// not the definition's.
    pub fn open_multimap<K: Key, V: Key>(
        &self,
        def: &MultimapDef<K, V>,
    ) -> Result<MultimapTable<'_, K, V>> {
        let raw = self.open_dup(def.name, None, MultimapDef::<K, V>::kind()?.orders())?;
        MultimapDef::<K, V>::check(raw.kind())?;
        Ok(MultimapTable {
            raw,
            types: PhantomData,
        })
    }
}

impl WriteTxn {
    /// The typed table `def` names, created empty (in `K`'s order) if it does not
    /// exist.
    ///
    /// # Errors
    /// As [`WriteTxn::create_table_with`].
    pub fn create<K: Key, V: Value>(
        &mut self,
        def: &TableDef<K, V>,
    ) -> Result<TypedTableMut<'_, K, V>> {
        Ok(TypedTableMut {
            raw: self.create_table_with(def.name, K::ORDER)?,
            types: PhantomData,
        })
    }

    /// The existing typed table `def` names.
    ///
    /// # Errors
    /// As [`WriteTxn::open_table_with`].
    pub fn open<K: Key, V: Value>(
        &mut self,
        def: &TableDef<K, V>,
    ) -> Result<TypedTableMut<'_, K, V>> {
        Ok(TypedTableMut {
            raw: self.open_table_with(def.name, K::ORDER)?,
            types: PhantomData,
        })
    }

    /// The typed multimap table `def` names, created empty if it does not exist.
    ///
    /// # Errors
    /// As [`WriteTxn::create_dup_table`].
    pub fn create_multimap<K: Key, V: Key>(
        &mut self,
        def: &MultimapDef<K, V>,
    ) -> Result<MultimapTableMut<'_, K, V>> {
        let kind = MultimapDef::<K, V>::kind()?;
        Ok(MultimapTableMut {
            raw: self.create_dup_table(def.name, kind)?,
            types: PhantomData,
        })
    }

    /// The existing typed multimap table `def` names.
    ///
    /// # Errors
    /// As [`WriteTxn::open_dup_table`]; `Error::Invalid` if its orders are not the
    /// definition's.
    pub fn open_multimap<K: Key, V: Key>(
        &mut self,
        def: &MultimapDef<K, V>,
    ) -> Result<MultimapTableMut<'_, K, V>> {
        let raw = self.open_dup(def.name, None, MultimapDef::<K, V>::kind()?.orders())?;
        MultimapDef::<K, V>::check(raw.kind())?;
        Ok(MultimapTableMut {
            raw,
            types: PhantomData,
        })
    }
}

/// A typed range bound, encoded (on the stack for integer keys).
fn encoded_bound<'a, K: Key>(b: Bound<&'a K::Ref<'_>>) -> Result<Bound<K::Bytes<'a>>> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(K::encode(k)?),
        Bound::Excluded(k) => Bound::Excluded(K::encode(k)?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

/// Run a byte-level `retain` (`run`) with a predicate that decodes each entry for
/// `keep`. An entry that does not decode is kept, and the first such error returned
/// once the walk is done.
fn retain_decoded<K: Key, V: Value>(
    mut keep: impl FnMut(K::Ref<'_>, V::Ref<'_>) -> bool,
    run: impl FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<u64>,
) -> Result<u64> {
    let mut err = None;
    let n = run(&mut |k, v| match decode_entry::<K, V>((k, v)) {
        Ok((k, v)) => keep(k, v),
        Err(e) => {
            err.get_or_insert(e);
            true
        }
    })?;
    err.map_or(Ok(n), Err)
}

fn decode_entry<'a, K: Key, V: Value>(
    (k, v): (&'a [u8], &'a [u8]),
) -> Result<(K::Ref<'a>, V::Ref<'a>)> {
    Ok((K::decode(k)?, V::decode(v)?))
}

/// The typed reads of a table over byte handle `$raw`, returning borrows of `$lt`.
macro_rules! typed_reads {
    ($lt:lifetime, $self:ident, $raw:expr) => {
        /// The value stored under `key`, decoded (borrowed from the map for `&str`,
        /// `&[u8]`, `&[u8; N]`).
        ///
        /// # Errors
        /// `Error::Decode` if the stored value is not a `V`; `Error::Invalid` for a key
        /// the encoding refuses; `Error::Corrupted` for a damaged page.
        pub fn get<'k>(&$self, key: impl Borrow<K::Ref<'k>>) -> Result<Option<V::Ref<$lt>>> {
            let k = K::encode(key.borrow())?;
            match $raw.get(k.as_ref())? {
                Some(v) => V::decode(v).map(Some),
                None => Ok(None),
            }
        }

        /// Whether `key` is in the table.
        ///
        /// # Errors
        /// As [`get`](Self::get).
        pub fn contains_key<'k>(&$self, key: impl Borrow<K::Ref<'k>>) -> Result<bool> {
            let k = K::encode(key.borrow())?;
            Ok($raw.get(k.as_ref())?.is_some())
        }

        /// Number of entries (O(1)).
        pub fn len(&$self) -> u64 {
            $raw.len()
        }

        /// Whether the table has no entries.
        pub fn is_empty(&$self) -> bool {
            $raw.is_empty()
        }

        /// Entry and page counts.
        pub fn stat(&$self) -> TableStat {
            $raw.stat()
        }

        /// A cursor over the table, positioned nowhere until moved.
        pub fn cursor(&$self) -> TypedCursor<$lt, K, V> {
            TypedCursor {
                inner: $raw.cursor(),
                types: PhantomData,
            }
        }

        /// Every entry in key order (`.rev()` for descending).
        pub fn iter(&$self) -> TypedRange<$lt, K, V> {
            TypedRange::new($raw.iter())
        }

        /// The entries with keys in `range`, e.g. `t.range(10..20)?`.
        ///
        /// # Errors
        /// `Error::Invalid` for a bound the key encoding refuses.
        pub fn range<'k, R: RangeBounds<K::Ref<'k>>>(
            &$self,
            range: R,
        ) -> Result<TypedRange<$lt, K, V>> {
            let start = encoded_bound::<K>(range.start_bound())?;
            let end = encoded_bound::<K>(range.end_bound())?;
            Ok(TypedRange::new($raw.range((start, end))))
        }

        /// The entry with the smallest key.
        ///
        /// # Errors
        /// `Error::Decode`, `Error::Corrupted`.
        pub fn first(&$self) -> Result<Option<(K::Ref<$lt>, V::Ref<$lt>)>> {
            $self.iter().next().transpose()
        }

        /// The entry with the largest key.
        ///
        /// # Errors
        /// `Error::Decode`, `Error::Corrupted`.
        pub fn last(&$self) -> Result<Option<(K::Ref<$lt>, V::Ref<$lt>)>> {
            $self.iter().next_back().transpose()
        }
    };
}

/// A typed table as seen by a read transaction. `Copy`; what it returns borrows from
/// the transaction.
pub struct TypedTable<'txn, K, V> {
    raw: ReadTable<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for TypedTable<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for TypedTable<'_, K, V> {}

impl<'txn, K: Key, V: Value> TypedTable<'txn, K, V> {
    typed_reads!('txn, self, self.raw);

    /// The byte-level handle of the same table.
    pub fn raw(&self) -> ReadTable<'txn> {
        self.raw
    }
}

/// A typed table in a write transaction: reads see the transaction's own writes.
pub struct TypedTableMut<'txn, K, V> {
    raw: TableMut<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'txn, K: Key, V: Value> TypedTableMut<'txn, K, V> {
    typed_reads!('_, self, self.raw);

    /// Store `value` under `key`, replacing any value it had.
    ///
    /// # Errors
    /// `Error::Invalid` for a key or value the encoding refuses; as
    /// [`TableMut::put`] otherwise (sizes, integer-key sizes, I/O).
    pub fn put<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<()> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        self.raw.put(k.as_ref(), v.as_ref())
    }

    /// Remove `key`; false if it was not there.
    ///
    /// # Errors
    /// As [`TableMut::delete`].
    pub fn delete<'k>(&mut self, key: impl Borrow<K::Ref<'k>>) -> Result<bool> {
        let k = K::encode(key.borrow())?;
        self.raw.delete(k.as_ref())
    }

    /// Remove every entry.
    ///
    /// # Errors
    /// As [`TableMut::clear`].
    pub fn clear(&mut self) -> Result<()> {
        self.raw.clear()
    }

    /// Store `value` under `key`, returning the value it replaced (its bytes, as the
    /// page they were on may change).
    ///
    /// # Errors
    /// As [`TypedTableMut::put`].
    pub fn replace<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<Option<Taken<V>>> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        Ok(self.raw.replace(k.as_ref(), v.as_ref())?.map(Taken::new))
    }

    /// The value under `key`, storing `make()` first if there is none.
    ///
    /// ```
    /// use mdbx_lite::TableDef;
    /// const COUNTERS: TableDef<&str, u64> = TableDef::new("counters");
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut t = wtx.create(&COUNTERS)?;
    /// assert_eq!(t.get_or_insert_with("visits", || 1)?, 1);
    /// assert_eq!(t.get_or_insert_with("visits", || 9)?, 1);
    /// # Ok::<(), mdbx_lite::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TypedTableMut::put`]; `Error::Decode` for a stored value of another type.
    pub fn get_or_insert_with<'k, 'v, B: Borrow<V::Ref<'v>>>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        make: impl FnOnce() -> B,
    ) -> Result<V::Ref<'_>> {
        let k = K::encode(key.borrow())?;
        if self.raw.get(k.as_ref())?.is_none() {
            let made = make();
            let v = V::encode(made.borrow())?;
            self.raw.put(k.as_ref(), v.as_ref())?;
        }
        let bytes = self
            .raw
            .get(k.as_ref())?
            .ok_or_else(|| Error::Internal("a value just put is not there".into()))?;
        V::decode(bytes)
    }

    /// Remove the entries with keys in `range`; returns how many. One pass over the
    /// leaves (see [`TableMut::delete_range`]).
    ///
    /// # Errors
    /// `Error::Invalid` for a bound the key encoding refuses; as
    /// [`TableMut::delete_range`].
    pub fn delete_range<'k, R: RangeBounds<K::Ref<'k>>>(&mut self, range: R) -> Result<u64> {
        let start = encoded_bound::<K>(range.start_bound())?;
        let end = encoded_bound::<K>(range.end_bound())?;
        self.raw.delete_range((start, end))
    }

    /// Remove the entries with keys in `range`, handing each (decoded) to `each` before
    /// it goes; returns how many. An entry that does not decode is removed too, and the
    /// first such error is returned once the range is gone.
    ///
    /// # Errors
    /// As [`TypedTableMut::delete_range`]; `Error::Decode`.
    pub fn drain<'k, R: RangeBounds<K::Ref<'k>>>(
        &mut self,
        range: R,
        mut each: impl FnMut(K::Ref<'_>, V::Ref<'_>),
    ) -> Result<u64> {
        let start = encoded_bound::<K>(range.start_bound())?;
        let end = encoded_bound::<K>(range.end_bound())?;
        let mut err = None;
        let n = self
            .raw
            .drain((start, end), |k, v| match decode_entry::<K, V>((k, v)) {
                Ok((k, v)) => each(k, v),
                Err(e) => {
                    err.get_or_insert(e);
                }
            })?;
        err.map_or(Ok(n), Err)
    }

    /// Keep only the entries for which `keep(key, value)` is true; returns how many were
    /// removed. One pass over the table (see [`TableMut::retain`]). An entry that does
    /// not decode is kept, and the first such error returned after the pass.
    ///
    /// ```
    /// use mdbx_lite::TableDef;
    /// const SESSIONS: TableDef<u64, i64> = TableDef::new("sessions"); // id -> expiry
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut t = wtx.create(&SESSIONS)?;
    /// for id in 0..10 {
    ///     t.put(id, id as i64 * 100)?;
    /// }
    /// let now = 450;
    /// assert_eq!(t.retain(|_, expiry| expiry > now)?, 5);
    /// assert_eq!(t.first()?, Some((5, 500)));
    /// # Ok::<(), mdbx_lite::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`TableMut::retain`]; `Error::Decode`.
    pub fn retain(&mut self, keep: impl FnMut(K::Ref<'_>, V::Ref<'_>) -> bool) -> Result<u64> {
        retain_decoded::<K, V>(keep, |keep| self.raw.retain(keep))
    }

    /// Remove and return the entry with the smallest key.
    ///
    /// # Errors
    /// As [`TypedTableMut::delete`].
    pub fn pop_first(&mut self) -> Result<Option<TakenEntry<K, V>>> {
        Ok(self.raw.pop_first()?.map(TakenEntry::new))
    }

    /// Remove and return the entry with the largest key.
    ///
    /// # Errors
    /// As [`TypedTableMut::delete`].
    pub fn pop_last(&mut self) -> Result<Option<TakenEntry<K, V>>> {
        Ok(self.raw.pop_last()?.map(TakenEntry::new))
    }

    /// The byte-level handle of the same table.
    pub fn raw(&mut self) -> &mut TableMut<'txn> {
        &mut self.raw
    }
}

/// A value taken out of a typed table (replaced or removed): its bytes, decoded on
/// demand, as the page they were on may have changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken<V> {
    bytes: Vec<u8>,
    types: PhantomData<fn() -> V>,
}

impl<V: Value> Taken<V> {
    fn new(bytes: Vec<u8>) -> Self {
        Taken {
            bytes,
            types: PhantomData,
        }
    }

    /// The value.
    ///
    /// # Errors
    /// `Error::Decode` for bytes of another type.
    pub fn value(&self) -> Result<V::Ref<'_>> {
        V::decode(&self.bytes)
    }

    /// The value's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// An entry taken out of a typed table ([`TypedTableMut::pop_first`]): its key and
/// value bytes, decoded on demand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenEntry<K, V> {
    key: Vec<u8>,
    value: Taken<V>,
    types: PhantomData<fn() -> K>,
}

impl<K: Key, V: Value> TakenEntry<K, V> {
    fn new((key, value): (Vec<u8>, Vec<u8>)) -> Self {
        TakenEntry {
            key,
            value: Taken::new(value),
            types: PhantomData,
        }
    }

    /// The key.
    ///
    /// # Errors
    /// `Error::Decode` for bytes of another type.
    pub fn key(&self) -> Result<K::Ref<'_>> {
        K::decode(&self.key)
    }

    /// The value.
    ///
    /// # Errors
    /// `Error::Decode` for bytes of another type.
    pub fn value(&self) -> Result<V::Ref<'_>> {
        self.value.value()
    }

    /// The key's and the value's bytes.
    pub fn into_bytes(self) -> (Vec<u8>, Vec<u8>) {
        (self.key, self.value.into_bytes())
    }
}

/// Typed entries of a range, decoded as they are read; `rev()` walks it backwards.
pub struct TypedRange<'a, K, V> {
    inner: Range<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K, V> TypedRange<'a, K, V> {
    fn new(inner: Range<'a>) -> Self {
        TypedRange {
            inner,
            types: PhantomData,
        }
    }
}

impl<'a, K: Key, V: Value> Iterator for TypedRange<'a, K, V> {
    type Item = Result<(K::Ref<'a>, V::Ref<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|e| decode_entry::<K, V>(e?))
    }
}

impl<K: Key, V: Value> DoubleEndedIterator for TypedRange<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|e| decode_entry::<K, V>(e?))
    }
}

/// The typed reads of a multimap table over byte handle `$raw`, returning borrows of
/// `$lt`.
macro_rules! multimap_reads {
    ($lt:lifetime, $self:ident, $raw:expr) => {
        /// The values of `key` in order (none if it is absent), decoded as they are
        /// read.
        ///
        /// # Errors
        /// `Error::Invalid` for a key the encoding refuses; `Error::Corrupted`.
        pub fn get<'k>(&$self, key: impl Borrow<K::Ref<'k>>) -> Result<TypedValues<$lt, V>> {
            let k = K::encode(key.borrow())?;
            Ok(TypedValues {
                inner: $raw.values(k.as_ref())?,
                types: PhantomData,
            })
        }

        /// How many values `key` has (O(log n)).
        ///
        /// # Errors
        /// As [`get`](Self::get).
        pub fn count<'k>(&$self, key: impl Borrow<K::Ref<'k>>) -> Result<u64> {
            let k = K::encode(key.borrow())?;
            $raw.count(k.as_ref())
        }

        /// Whether `key` holds `value`.
        ///
        /// # Errors
        /// As [`get`](Self::get).
        pub fn contains<'k, 'v>(
            &$self,
            key: impl Borrow<K::Ref<'k>>,
            value: impl Borrow<V::Ref<'v>>,
        ) -> Result<bool> {
            let k = K::encode(key.borrow())?;
            let v = V::encode(value.borrow())?;
            $raw.contains(k.as_ref(), v.as_ref())
        }

        /// Number of (key, value) pairs (O(1)).
        pub fn len(&$self) -> u64 {
            $raw.len()
        }

        /// Whether the table has no pairs.
        pub fn is_empty(&$self) -> bool {
            $raw.is_empty()
        }

        /// A cursor over the pairs, positioned nowhere until moved.
        pub fn cursor(&$self) -> MultimapCursor<$lt, K, V> {
            MultimapCursor {
                inner: $raw.cursor(),
                types: PhantomData,
            }
        }

        /// Every pair, by key, then value (`.rev()` for descending).
        pub fn iter(&$self) -> TypedPairs<$lt, K, V> {
            TypedPairs {
                inner: $raw.iter(),
                types: PhantomData,
            }
        }

        /// The pairs of the keys in `range`.
        ///
        /// # Errors
        /// `Error::Invalid` for a bound the key encoding refuses.
        pub fn range<'k, R: RangeBounds<K::Ref<'k>>>(
            &$self,
            range: R,
        ) -> Result<TypedPairs<$lt, K, V>> {
            let start = encoded_bound::<K>(range.start_bound())?;
            let end = encoded_bound::<K>(range.end_bound())?;
            Ok(TypedPairs {
                inner: $raw.range((start, end)),
                types: PhantomData,
            })
        }
    };
}

/// A typed multimap table as seen by a read transaction. `Copy`.
pub struct MultimapTable<'txn, K, V> {
    raw: DupTable<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for MultimapTable<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for MultimapTable<'_, K, V> {}

impl<'txn, K: Key, V: Key> MultimapTable<'txn, K, V> {
    multimap_reads!('txn, self, self.raw);

    /// The byte-level handle of the same table.
    pub fn raw(&self) -> DupTable<'txn> {
        self.raw
    }
}

/// A typed multimap table in a write transaction.
pub struct MultimapTableMut<'txn, K, V> {
    raw: DupTableMut<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'txn, K: Key, V: Key> MultimapTableMut<'txn, K, V> {
    multimap_reads!('_, self, self.raw);

    /// Add `value` to `key`'s values; false if the pair was there.
    ///
    /// # Errors
    /// `Error::Invalid` for a key or value the encoding refuses; as
    /// [`DupTableMut::put`] otherwise.
    pub fn put<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        self.raw.put(k.as_ref(), v.as_ref())
    }

    /// Remove the pair (`key`, `value`); false if it was not there.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn delete<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        self.raw.delete(k.as_ref(), v.as_ref())
    }

    /// Remove `key` and all its values; returns how many there were.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn delete_key<'k>(&mut self, key: impl Borrow<K::Ref<'k>>) -> Result<u64> {
        let k = K::encode(key.borrow())?;
        self.raw.delete_key(k.as_ref())
    }

    /// Remove every pair.
    ///
    /// # Errors
    /// As [`DupTableMut::clear`].
    pub fn clear(&mut self) -> Result<()> {
        self.raw.clear()
    }

    /// Remove every key in `range` with all its values; returns how many pairs went
    /// (see [`DupTableMut::delete_range`]).
    ///
    /// # Errors
    /// `Error::Invalid` for a bound the key encoding refuses; as
    /// [`DupTableMut::delete_range`].
    pub fn delete_range<'k, R: RangeBounds<K::Ref<'k>>>(&mut self, range: R) -> Result<u64> {
        let start = encoded_bound::<K>(range.start_bound())?;
        let end = encoded_bound::<K>(range.end_bound())?;
        self.raw.delete_range((start, end))
    }

    /// Keep only the pairs for which `keep(key, value)` is true; returns how many were
    /// removed (see [`DupTableMut::retain`]). A pair that does not decode is kept, and
    /// the first such error returned after the walk.
    ///
    /// # Errors
    /// As [`DupTableMut::retain`]; `Error::Decode`.
    pub fn retain(&mut self, keep: impl FnMut(K::Ref<'_>, V::Ref<'_>) -> bool) -> Result<u64> {
        retain_decoded::<K, V>(keep, |keep| self.raw.retain(keep))
    }

    /// The byte-level handle of the same table.
    pub fn raw(&mut self) -> &mut DupTableMut<'txn> {
        &mut self.raw
    }
}

/// The values of one key of a typed multimap table, decoded as they are read.
pub struct TypedValues<'a, V> {
    inner: Values<'a>,
    types: PhantomData<fn() -> V>,
}

impl<'a, V: Value> Iterator for TypedValues<'a, V> {
    type Item = Result<V::Ref<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|v| V::decode(v?))
    }
}

/// The pairs of a typed multimap range, decoded as they are read.
pub struct TypedPairs<'a, K, V> {
    inner: DupRange<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K: Key, V: Key> Iterator for TypedPairs<'a, K, V> {
    type Item = Result<(K::Ref<'a>, V::Ref<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|p| decode_entry::<K, V>(p?))
    }
}

impl<K: Key, V: Key> DoubleEndedIterator for TypedPairs<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|p| decode_entry::<K, V>(p?))
    }
}

/// A typed table of a write transaction held without borrowing the transaction, so
/// that several tables are open at once: each call takes the transaction, reads
/// borrowing it (`&WriteTxn`) and writes borrowing it mutably (`&mut WriteTxn`). A value
/// a read returns borrows the transaction, so the borrow checker refuses to keep it
/// across any write (a write to any table may move pages): copy it first
/// (`tests/compile_fail/`).
///
/// ```
/// use mdbx_lite::{Env, TableDef};
///
/// const USERS: TableDef<u64, &str> = TableDef::new("users");
/// const BY_NAME: TableDef<&str, u64> = TableDef::new("by_name");
///
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let (users, by_name) = (wtx.handle(&USERS)?, wtx.handle(&BY_NAME)?);
/// users.put(&mut wtx, 1, "ada")?;
/// users.put(&mut wtx, 2, "grace")?;
/// // Read one table while writing another: an index built from the transaction's own
/// // writes.
/// for id in 1..=2u64 {
///     let name = users.get(&wtx, id)?.unwrap_or_default().to_owned();
///     by_name.put(&mut wtx, name.as_str(), id)?;
/// }
/// assert_eq!(by_name.get(&wtx, "grace")?, Some(2));
/// wtx.commit()?;
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct Handle<K, V> {
    /// The table's slot and its serial (`WriteTxn::slot_ref`).
    slot: (usize, u64),
    /// The transaction that opened it (`WriteTxn::identity`).
    identity: (usize, u64),
    /// The table's kind and order then (`TableRecord::kind`).
    kind: u32,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Handle<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Handle<K, V> {}

impl WriteTxn {
    /// A handle to the typed table `def` names, created empty (in `K`'s order) if it
    /// does not exist; it stays usable, with this transaction only, while other
    /// handles are open too.
    ///
    /// # Errors
    /// As [`WriteTxn::create`].
    pub fn handle<K: Key, V: Value>(&mut self, def: &TableDef<K, V>) -> Result<Handle<K, V>> {
        let slot = WriteTxn::slot_of(&self.create(def)?.raw);
        Ok(Handle {
            slot: self.slot_ref(slot),
            identity: self.identity(),
            kind: self.slot_record(slot).kind(),
            types: PhantomData,
        })
    }
}

impl<K: Key, V: Value> Handle<K, V> {
    /// The table's slot in `txn`, refused for another transaction.
    fn slot(&self, txn: &WriteTxn) -> Result<usize> {
        txn.handle_slot(self.identity, self.slot, self.kind)
    }

    /// The value under `key` as `txn` sees it.
    ///
    /// # Errors
    /// `Error::Invalid` for a handle of another transaction (or a key the encoding
    /// refuses); `Error::TableNotFound` if the table was dropped; `Error::Decode`,
    /// `Error::Corrupted` as for [`TypedTable::get`].
    pub fn get<'t, 'k>(
        &self,
        txn: &'t WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<Option<V::Ref<'t>>> {
        let rec = txn.slot_record(self.slot(txn)?);
        let k = K::encode(key.borrow())?;
        match btree::get(txn.write_pages(), &rec, k.as_ref())? {
            Some(v) => V::decode(v).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `key` is in the table.
    ///
    /// # Errors
    /// As [`Handle::get`].
    pub fn contains_key<'k>(&self, txn: &WriteTxn, key: impl Borrow<K::Ref<'k>>) -> Result<bool> {
        let rec = txn.slot_record(self.slot(txn)?);
        let k = K::encode(key.borrow())?;
        Ok(btree::get(txn.write_pages(), &rec, k.as_ref())?.is_some())
    }

    /// Number of entries, including `txn`'s changes.
    ///
    /// # Errors
    /// As [`Handle::get`].
    pub fn len(&self, txn: &WriteTxn) -> Result<u64> {
        Ok(txn.slot_record(self.slot(txn)?).len())
    }

    /// Every entry in key order, as `txn` sees the table.
    ///
    /// # Errors
    /// As [`Handle::get`].
    pub fn iter<'t>(&self, txn: &'t WriteTxn) -> Result<TypedRange<'t, K, V>> {
        self.range(txn, ..)
    }

    /// The entries with keys in `range`.
    ///
    /// # Errors
    /// As [`Handle::get`].
    pub fn range<'t, 'k, R: RangeBounds<K::Ref<'k>>>(
        &self,
        txn: &'t WriteTxn,
        range: R,
    ) -> Result<TypedRange<'t, K, V>> {
        let rec = txn.slot_record(self.slot(txn)?);
        let start = encoded_bound::<K>(range.start_bound())?;
        let end = encoded_bound::<K>(range.end_bound())?;
        let (start, end) = bounds(&(start, end));
        Ok(TypedRange::new(Range::new(
            txn.write_pages(),
            rec,
            start,
            end,
        )))
    }

    /// Store `value` under `key`.
    ///
    /// # Errors
    /// As [`Handle::get`] and [`TypedTableMut::put`].
    pub fn put<'k, 'v>(
        &self,
        txn: &mut WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<()> {
        self.open(txn)?.put(key, value)
    }

    /// Remove `key`; false if it was not there.
    ///
    /// # Errors
    /// As [`Handle::get`] and [`TypedTableMut::delete`].
    pub fn delete<'k>(&self, txn: &mut WriteTxn, key: impl Borrow<K::Ref<'k>>) -> Result<bool> {
        self.open(txn)?.delete(key)
    }

    /// The table's full typed handle, borrowing `txn` for as long as it is used.
    ///
    /// # Errors
    /// As [`Handle::get`].
    pub fn open<'t>(&self, txn: &'t mut WriteTxn) -> Result<TypedTableMut<'t, K, V>> {
        let slot = self.slot(txn)?;
        Ok(TypedTableMut {
            raw: txn.table_at(slot),
            types: PhantomData,
        })
    }
}

/// A cursor over a typed table: the byte [`Cursor`]'s moves, taking and returning the
/// table's types.
///
/// ```
/// use mdbx_lite::{Env, TableDef};
/// const EVENTS: TableDef<(u32, u64), &str> = TableDef::new("events");
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut events = wtx.create(&EVENTS)?;
/// events.put((7, 100), "start")?;
/// events.put((7, 250), "stop")?;
/// events.put((8, 5), "start")?;
/// let mut c = events.cursor();
/// assert_eq!(c.seek((7, 200))?, Some(((7, 250), "stop")));
/// assert_eq!(c.next()?, Some(((8, 5), "start")));
/// assert_eq!(c.next()?, None);
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct TypedCursor<'a, K, V> {
    inner: Cursor<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

/// A typed entry borrowed from the transaction.
pub type TypedEntry<'a, K, V> = (<K as Value>::Ref<'a>, <V as Value>::Ref<'a>);

impl<'a, K: Key, V: Value> TypedCursor<'a, K, V> {
    fn decode(e: Result<Option<(&'a [u8], &'a [u8])>>) -> Result<Option<TypedEntry<'a, K, V>>> {
        e?.map(decode_entry::<K, V>).transpose()
    }

    /// Move to the first entry.
    ///
    /// # Errors
    /// `Error::Decode` for bytes that are not the table's types; `Error::Corrupted`.
    pub fn first(&mut self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.first())
    }

    /// Move to the last entry.
    ///
    /// # Errors
    /// As [`first`](Self::first).
    pub fn last(&mut self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.last())
    }

    /// Move to the next entry (the first if unpositioned).
    ///
    /// # Errors
    /// As [`first`](Self::first).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.next())
    }

    /// Move to the previous entry (the last if unpositioned).
    ///
    /// # Errors
    /// As [`first`](Self::first).
    pub fn prev(&mut self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.prev())
    }

    /// Move to the first entry whose key is `>= key`.
    ///
    /// # Errors
    /// As [`first`](Self::first); `Error::Invalid` for a key the encoding refuses.
    pub fn seek<'k>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<Option<TypedEntry<'a, K, V>>> {
        let k = K::encode(key.borrow())?;
        Self::decode(self.inner.seek(k.as_ref()))
    }

    /// The entry under the cursor.
    ///
    /// # Errors
    /// As [`first`](Self::first).
    pub fn current(&self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.current())
    }
}

/// A cursor over a typed multimap table: the byte [`DupCursor`]'s moves (LMDB's), taking
/// and returning the table's types.
///
/// ```
/// use mdbx_lite::{Env, MultimapDef};
/// const SCORES: MultimapDef<&str, u32> = MultimapDef::new("scores");
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut scores = wtx.create_multimap(&SCORES)?;
/// for (who, s) in [("ada", 7), ("ada", 3), ("bob", 9)] {
///     scores.put(who, s)?;
/// }
/// let mut c = scores.cursor();
/// assert_eq!(c.seek_value("ada", 5)?, Some(("ada", 7)));
/// assert_eq!(c.next_dup()?, None);
/// assert_eq!(c.next_key()?, Some(("bob", 9)));
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct MultimapCursor<'a, K, V> {
    inner: DupCursor<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

macro_rules! multimap_moves {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        ///
        /// # Errors
        /// `Error::Decode` for bytes that are not the table's types; `Error::Corrupted`.
        #[allow(clippy::should_implement_trait)]
        pub fn $name(&mut self) -> Result<Option<TypedEntry<'a, K, V>>> {
            Self::decode(self.inner.$name())
        }
    )*};
}

impl<'a, K: Key, V: Key> MultimapCursor<'a, K, V> {
    fn decode(e: Result<Option<(&'a [u8], &'a [u8])>>) -> Result<Option<TypedEntry<'a, K, V>>> {
        e?.map(decode_entry::<K, V>).transpose()
    }

    multimap_moves!(
        /// The first pair.
        first,
        /// The last pair.
        last,
        /// The next pair (the first if unpositioned).
        next,
        /// The previous pair (the last if unpositioned).
        prev,
        /// The next value of the current key, or None (staying put).
        next_dup,
        /// The previous value of the current key, or None (staying put).
        prev_dup,
        /// The first value of the current key.
        first_dup,
        /// The last value of the current key.
        last_dup,
        /// The first value of the next key.
        next_key,
        /// The last value of the previous key.
        prev_key
    );

    /// The first value of the first key `>= key`.
    ///
    /// # Errors
    /// As [`first`](Self::first); `Error::Invalid` for a key the encoding refuses.
    pub fn seek_key<'k>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<Option<TypedEntry<'a, K, V>>> {
        let k = K::encode(key.borrow())?;
        Self::decode(self.inner.seek_key(k.as_ref()))
    }

    /// The first value `>= value` of `key` itself.
    ///
    /// # Errors
    /// As [`seek_key`](Self::seek_key).
    pub fn seek_value<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<Option<TypedEntry<'a, K, V>>> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        Self::decode(self.inner.seek_value(k.as_ref(), v.as_ref()))
    }

    /// Exactly the pair (`key`, `value`), or None.
    ///
    /// # Errors
    /// As [`seek_key`](Self::seek_key).
    pub fn seek_pair<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<Option<TypedEntry<'a, K, V>>> {
        let k = K::encode(key.borrow())?;
        let v = V::encode(value.borrow())?;
        Self::decode(self.inner.seek_pair(k.as_ref(), v.as_ref()))
    }

    /// The pair under the cursor.
    ///
    /// # Errors
    /// As [`first`](Self::first).
    pub fn current(&self) -> Result<Option<TypedEntry<'a, K, V>>> {
        Self::decode(self.inner.current())
    }

    /// How many values the current key has (0 if unpositioned).
    ///
    /// # Errors
    /// `Error::Corrupted`.
    pub fn count(&self) -> Result<u64> {
        self.inner.count()
    }
}

/// A typed multimap table of a write transaction held without borrowing it: the
/// multimap counterpart of [`Handle`] (each call takes the transaction; values read
/// borrow it).
///
/// ```
/// use mdbx_lite::{Env, MultimapDef, TableDef};
/// const FOLLOWS: MultimapDef<u32, u32> = MultimapDef::new("follows");
/// const FOLLOWERS: MultimapDef<u32, u32> = MultimapDef::new("followers");
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let (follows, followers) = (wtx.multimap_handle(&FOLLOWS)?, wtx.multimap_handle(&FOLLOWERS)?);
/// follows.put(&mut wtx, 1, 2)?;
/// follows.put(&mut wtx, 1, 3)?;
/// // The reverse index, built from the forward one inside the transaction.
/// let pairs: Vec<(u32, u32)> = follows.iter(&wtx)?.collect::<Result<_, _>>()?;
/// for (a, b) in pairs {
///     followers.put(&mut wtx, b, a)?;
/// }
/// assert_eq!(followers.count(&wtx, 3)?, 1);
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct MultimapHandle<K, V> {
    /// The table's slot and its serial (`WriteTxn::slot_ref`).
    slot: (usize, u64),
    /// The transaction that opened it (`WriteTxn::identity`).
    identity: (usize, u64),
    /// The table's kind and order then (`TableRecord::kind`).
    kind: u32,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for MultimapHandle<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for MultimapHandle<K, V> {}

impl WriteTxn {
    /// A handle to the typed multimap table `def` names, created empty if it does not
    /// exist; usable with this transaction only, alongside other handles.
    ///
    /// # Errors
    /// As [`WriteTxn::create_multimap`].
    pub fn multimap_handle<K: Key, V: Key>(
        &mut self,
        def: &MultimapDef<K, V>,
    ) -> Result<MultimapHandle<K, V>> {
        let slot = self.create_multimap(def)?.raw.slot();
        Ok(MultimapHandle {
            slot: self.slot_ref(slot),
            identity: self.identity(),
            kind: self.slot_record(slot).kind(),
            types: PhantomData,
        })
    }
}

impl<K: Key, V: Key> MultimapHandle<K, V> {
    /// The table as `txn` sees it, for reads.
    fn view<'t>(&self, txn: &'t WriteTxn) -> Result<MultimapTable<'t, K, V>> {
        let rec = txn.slot_record(txn.handle_slot(self.identity, self.slot, self.kind)?);
        Ok(MultimapTable {
            raw: DupTable::over(txn.write_pages(), rec, txn.page_size()),
            types: PhantomData,
        })
    }

    /// The values of `key` as `txn` sees them.
    ///
    /// # Errors
    /// `Error::Invalid` for a handle of another transaction; as [`MultimapTable::get`].
    pub fn get<'t, 'k>(
        &self,
        txn: &'t WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<TypedValues<'t, V>> {
        let t = self.view(txn)?;
        let k = K::encode(key.borrow())?;
        Ok(TypedValues {
            inner: t.raw.values(k.as_ref())?,
            types: PhantomData,
        })
    }

    /// How many values `key` has.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`].
    pub fn count<'k>(&self, txn: &WriteTxn, key: impl Borrow<K::Ref<'k>>) -> Result<u64> {
        self.view(txn)?.count(key)
    }

    /// Whether `key` holds `value`.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`].
    pub fn contains<'k, 'v>(
        &self,
        txn: &WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        self.view(txn)?.contains(key, value)
    }

    /// Number of pairs.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`].
    pub fn len(&self, txn: &WriteTxn) -> Result<u64> {
        Ok(self.view(txn)?.len())
    }

    /// Every pair, by key, then value.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`].
    pub fn iter<'t>(&self, txn: &'t WriteTxn) -> Result<TypedPairs<'t, K, V>> {
        let t = self.view(txn)?;
        Ok(TypedPairs {
            inner: t.raw.iter(),
            types: PhantomData,
        })
    }

    /// Add `value` to `key`'s values; false if the pair was there.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`] and [`MultimapTableMut::put`].
    pub fn put<'k, 'v>(
        &self,
        txn: &mut WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        self.open(txn)?.put(key, value)
    }

    /// Remove the pair (`key`, `value`); false if it was not there.
    ///
    /// # Errors
    /// As [`MultimapHandle::put`].
    pub fn delete<'k, 'v>(
        &self,
        txn: &mut WriteTxn,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        self.open(txn)?.delete(key, value)
    }

    /// Remove `key` and its values; returns how many there were.
    ///
    /// # Errors
    /// As [`MultimapHandle::put`].
    pub fn delete_key<'k>(&self, txn: &mut WriteTxn, key: impl Borrow<K::Ref<'k>>) -> Result<u64> {
        self.open(txn)?.delete_key(key)
    }

    /// The table's full typed handle, borrowing `txn` for as long as it is used.
    ///
    /// # Errors
    /// As [`MultimapHandle::get`].
    pub fn open<'t>(&self, txn: &'t mut WriteTxn) -> Result<MultimapTableMut<'t, K, V>> {
        let slot = txn.handle_slot(self.identity, self.slot, self.kind)?;
        Ok(MultimapTableMut {
            raw: DupTableMut::at(txn, slot),
            types: PhantomData,
        })
    }
}

/// A typed cursor that writes where it stands ([`TypedTableMut::cursor_mut`]); see
/// [`CursorMut`] for how it moves and what a write does to its position.
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use mdbx_lite::TableDef;
/// const STOCK: TableDef<&str, u32> = TableDef::new("stock");
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut stock = wtx.create(&STOCK)?;
/// stock.put("apples", 3)?;
/// stock.put("pears", 0)?;
/// let mut c = stock.cursor_mut();
/// while let Some((_, n)) = c.next()? {
///     if n == 0 {
///         c.delete_current()?;
///     } else {
///         c.put_current(n - 1)?;
///     }
/// }
/// assert_eq!((stock.len(), stock.get("apples")?), (1, Some(2)));
/// # Ok(()) }
/// ```
pub struct TypedCursorMut<'c, 'txn, K, V> {
    inner: CursorMut<'c, 'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'txn, K: Key, V: Value> TypedTableMut<'txn, K, V> {
    /// A typed cursor that writes where it stands, positioned nowhere until moved.
    pub fn cursor_mut(&mut self) -> TypedCursorMut<'_, 'txn, K, V> {
        TypedCursorMut {
            inner: self.raw.cursor_mut(),
            types: PhantomData,
        }
    }
}

/// Decode what a byte cursor move found.
fn decode_found<'a, K: Key, V: Value>(
    e: Result<Option<(&'a [u8], &'a [u8])>>,
) -> Result<Option<TypedEntry<'a, K, V>>> {
    e?.map(decode_entry::<K, V>).transpose()
}

impl<K: Key, V: Value> TypedCursorMut<'_, '_, K, V> {
    /// The entry under the cursor, if it stands on one.
    ///
    /// # Errors
    /// As [`CursorMut::current`]; `Error::Decode` for bytes that are not the types.
    pub fn current(&self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.current())
    }
    /// The first entry.
    ///
    /// # Errors
    /// As [`TypedCursorMut::current`].
    pub fn first(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.first())
    }
    /// The last entry.
    ///
    /// # Errors
    /// As [`TypedCursorMut::current`].
    pub fn last(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.last())
    }
    /// The next entry (see [`CursorMut::next`]).
    ///
    /// # Errors
    /// As [`TypedCursorMut::current`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.next())
    }
    /// The previous entry (see [`CursorMut::prev`]).
    ///
    /// # Errors
    /// As [`TypedCursorMut::current`].
    pub fn prev(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.prev())
    }
    /// The first entry with a key at or after `key`.
    ///
    /// # Errors
    /// As [`TypedCursorMut::current`]; `Error::Invalid` for a key the encoding refuses.
    pub fn seek<'k>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<Option<TypedEntry<'_, K, V>>> {
        let k = K::encode(key.borrow())?;
        decode_found::<K, V>(self.inner.seek(k.as_ref()))
    }
    /// Replace the value under the cursor.
    ///
    /// # Errors
    /// As [`CursorMut::put_current`]; `Error::Invalid` for a value the encoding refuses.
    pub fn put_current<'v>(&mut self, value: impl Borrow<V::Ref<'v>>) -> Result<()> {
        let v = V::encode(value.borrow())?;
        self.inner.put_current(v.as_ref())
    }
    /// Insert or overwrite `key` and stand on it.
    ///
    /// # Errors
    /// As [`CursorMut::insert`]; `Error::Invalid` for a key or value the encoding refuses.
    pub fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<()> {
        let (k, v) = (K::encode(key.borrow())?, V::encode(value.borrow())?);
        self.inner.insert(k.as_ref(), v.as_ref())
    }
    /// Delete the entry under the cursor (see [`CursorMut::delete_current`]).
    ///
    /// # Errors
    /// As [`CursorMut::delete_current`].
    pub fn delete_current(&mut self) -> Result<()> {
        self.inner.delete_current()
    }
}

/// A typed cursor over a multimap table that writes where it stands
/// ([`MultimapTableMut::cursor_mut`]); see [`DupCursorMut`].
pub struct MultimapCursorMut<'c, 'txn, K, V> {
    inner: DupCursorMut<'c, 'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'txn, K: Key, V: Key> MultimapTableMut<'txn, K, V> {
    /// A typed cursor that writes where it stands, positioned nowhere until moved.
    pub fn cursor_mut(&mut self) -> MultimapCursorMut<'_, 'txn, K, V> {
        MultimapCursorMut {
            inner: self.raw.cursor_mut(),
            types: PhantomData,
        }
    }
}

impl<K: Key, V: Key> MultimapCursorMut<'_, '_, K, V> {
    /// The pair under the cursor, if it stands on one.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`]; `Error::Decode` for bytes that are not the types.
    pub fn current(&self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.current())
    }
    /// The first pair.
    ///
    /// # Errors
    /// As [`MultimapCursorMut::current`].
    pub fn first(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.first())
    }
    /// The next pair (see [`DupCursorMut::next`]).
    ///
    /// # Errors
    /// As [`MultimapCursorMut::current`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.next())
    }
    /// The previous pair (see [`DupCursorMut::prev`]).
    ///
    /// # Errors
    /// As [`MultimapCursorMut::current`].
    pub fn prev(&mut self) -> Result<Option<TypedEntry<'_, K, V>>> {
        decode_found::<K, V>(self.inner.prev())
    }
    /// The first value of the first key at or after `key`.
    ///
    /// # Errors
    /// As [`MultimapCursorMut::current`]; `Error::Invalid` for a key the encoding
    /// refuses.
    pub fn seek_key<'k>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
    ) -> Result<Option<TypedEntry<'_, K, V>>> {
        let k = K::encode(key.borrow())?;
        decode_found::<K, V>(self.inner.seek_key(k.as_ref()))
    }
    /// Put the pair and stand on it; false if it was there.
    ///
    /// # Errors
    /// As [`DupCursorMut::put`]; `Error::Invalid` for a key or value the encoding
    /// refuses.
    pub fn put<'k, 'v>(
        &mut self,
        key: impl Borrow<K::Ref<'k>>,
        value: impl Borrow<V::Ref<'v>>,
    ) -> Result<bool> {
        let (k, v) = (K::encode(key.borrow())?, V::encode(value.borrow())?);
        self.inner.put(k.as_ref(), v.as_ref())
    }
    /// Delete the pair under the cursor (see [`DupCursorMut::delete_current`]).
    ///
    /// # Errors
    /// As [`DupCursorMut::delete_current`].
    pub fn delete_current(&mut self) -> Result<()> {
        self.inner.delete_current()
    }
}
