//! Transactions and table handles: the public face of reads and writes.

use std::ops::{Bound, RangeBounds};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use crate::api::env::{Durability, EnvInner, ANOTHER_ENV_WRITES};
use crate::api::order::{bind_order, order_name, KeyOrder, Orders};
use crate::api::persistent::protected_savepoints;
use crate::error::{Corruption, Error, Result};
use crate::format::meta::{Meta, TableRecord, WrittenPage, DUP_KIND_MASK, MAX_COMPARATOR_NAME};
use crate::format::order::Comparator;
use crate::format::savepoint::SavedState;
use crate::storage::metas::write_meta_listing;
use crate::storage::snapshot::{MappedPages, PageSource, Snapshot};
use crate::tree::btree::{self, PutMode};
use crate::tree::cursor::{BoundKey, Cursor, Range, RawCursor};
use crate::tree::sweep;
use crate::txn::pager::PagerSetup;
use crate::txn::write_pages::{PagesMark, WritePages};

/// Per-table statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStat {
    /// Number of entries (key/value pairs; in a dup-sort table every value of a key).
    pub entries: u64,
    /// Number of distinct keys (equal to `entries` in a plain table).
    pub keys: u64,
    /// The table's kind: `"plain"`, `"dup-sort"`, `"dup-sort, dup-fixed"`, ...
    pub kind: &'static str,
    /// A dup-fixed table's value size (0 otherwise, or before its first value).
    pub fixed_value_size: usize,
    /// The dup-sort kind; `None` for a plain table.
    pub dup_sort: Option<crate::DupSort>,
    /// The key order: `"bytes"`, `"reverse"`, `"integer"` or `"custom"` (a user
    /// comparator).
    pub key_order: &'static str,
    /// Levels of the B+tree: 0 for an empty table, 1 when the root is a leaf.
    pub depth: u32,
    /// Interior pages.
    pub branch_pages: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Pages of overflow runs (values too large to sit in a leaf).
    pub overflow_pages: u64,
    /// The database's page size in bytes.
    pub page_size: usize,
}

impl TableStat {
    pub(crate) fn new(rec: &TableRecord, page_size: usize) -> TableStat {
        TableStat {
            entries: rec.len(),
            keys: rec.entries,
            kind: kind_name(rec.kind()),
            fixed_value_size: rec.fixed_value_size(),
            dup_sort: crate::DupSort::from_flags(rec.flags),
            key_order: order_name(rec.flags),
            depth: rec.depth,
            branch_pages: rec.branch_pages,
            leaf_pages: rec.leaf_pages,
            overflow_pages: rec.overflow_pages,
            page_size,
        }
    }
}

/// How a table kind (its dup-sort bits) reads in messages and `stat`.
pub(crate) fn kind_name(kind: u32) -> &'static str {
    use crate::format::meta::{
        DUP_KIND_MASK, TABLE_CUSTOMDUP, TABLE_DUPFIXED, TABLE_DUPSORT, TABLE_INTEGERDUP,
        TABLE_REVERSEDUP,
    };
    match kind & DUP_KIND_MASK {
        0 => "plain",
        k if k == TABLE_DUPSORT => "dup-sort",
        k if k == TABLE_DUPSORT | TABLE_DUPFIXED => "dup-sort, dup-fixed",
        k if k == TABLE_DUPSORT | TABLE_DUPFIXED | TABLE_INTEGERDUP => {
            "dup-sort, dup-fixed, integer-dup"
        }
        k if k == TABLE_DUPSORT | TABLE_INTEGERDUP => "dup-sort, integer-dup",
        k if k == TABLE_DUPSORT | TABLE_REVERSEDUP => "dup-sort, reverse-dup",
        k if k == TABLE_DUPSORT | TABLE_DUPFIXED | TABLE_REVERSEDUP => {
            "dup-sort, dup-fixed, reverse-dup"
        }
        k if k == TABLE_DUPSORT | TABLE_CUSTOMDUP => "dup-sort, custom-dup",
        k if k == TABLE_DUPSORT | TABLE_DUPFIXED | TABLE_CUSTOMDUP => {
            "dup-sort, dup-fixed, custom-dup"
        }
        _ => "dup-sort (other flags)",
    }
}

/// Refuse `rec` (of table `name`) unless it has dup-sort kind `want` (0: plain); `None`
/// accepts any dup-sort kind. (Key orders are [`bind_order`]'s.)
pub(crate) fn check_kind(name: &str, rec: &TableRecord, want: Option<u32>) -> Result<()> {
    let ok = match want {
        Some(k) => rec.dup_kind() == k & DUP_KIND_MASK,
        None => rec.is_dupsort(),
    };
    if ok {
        return Ok(());
    }
    Err(Error::TableKindMismatch {
        table: name.to_string(),
        stored: kind_name(rec.kind()).to_string(),
        requested: match want {
            Some(k) => kind_name(k).to_string(),
            None => "dup-sort".to_string(),
        },
    })
}

/// The comparator names the catalog of `src` stores for table `name`: its keys' and
/// its values' ("" if none).
pub(crate) fn catalog_comparators<S: PageSource + ?Sized>(
    src: &S,
    catalog: &TableRecord,
    name: &str,
) -> Result<(String, String)> {
    Ok(match btree::get(src, catalog, name.as_bytes())? {
        Some(v) => {
            let (k, v) = TableRecord::catalog_comparator_names(v);
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            (text(k), text(v))
        }
        None => Default::default(),
    })
}

pub(crate) fn bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(
    range: &R,
) -> (Bound<BoundKey>, Bound<BoundKey>) {
    let conv = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(BoundKey::new(k.as_ref())),
        Bound::Excluded(k) => Bound::Excluded(BoundKey::new(k.as_ref())),
        Bound::Unbounded => Bound::Unbounded,
    };
    (conv(range.start_bound()), conv(range.end_bound()))
}

/// A comparator's name is what the table records of it: 1 to 255 bytes, none of them 0
/// (a 0 byte separates the names of a table's two comparators).
pub(crate) fn check_comparator_name(c: Option<Comparator>) -> Result<()> {
    match c {
        Some(c) if c.name().is_empty() || c.name().len() > MAX_COMPARATOR_NAME => {
            Err(Error::Invalid(format!(
                "comparator names are 1 to {MAX_COMPARATOR_NAME} bytes, not {}",
                c.name().len()
            )))
        }
        Some(c) if c.name().contains('\0') => Err(Error::Invalid(format!(
            "comparator name {:?} holds a 0 byte",
            c.name()
        ))),
        _ => Ok(()),
    }
}

fn check_table_name(name: &str, page_size: usize) -> Result<()> {
    if name.is_empty() {
        return Err(Error::Invalid("table names cannot be empty".into()));
    }
    btree::check_key(name.as_bytes(), page_size)
}

/// Look a table up in the catalog of `src`.
pub(crate) fn catalog_lookup<S: PageSource + ?Sized>(
    src: &S,
    catalog: &TableRecord,
    name: &str,
) -> Result<Option<TableRecord>> {
    match btree::get(src, catalog, name.as_bytes())? {
        Some(bytes) => TableRecord::decode(bytes, catalog.root).map(Some),
        None => Ok(None),
    }
}

fn catalog_names<S: PageSource + ?Sized>(src: &S, catalog: &TableRecord) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = RawCursor::new(src, *catalog);
    let mut item = cur.first()?;
    while let Some((k, _)) = item {
        out.push(String::from_utf8_lossy(k).into_owned());
        item = cur.next()?;
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------
// Read transactions
// ------------------------------------------------------------------------------------

/// A read-only snapshot. `Send + Sync`: share it between threads freely; every slice it
/// hands out points into the memory map and lives as long as the borrow of the txn.
pub struct ReadTxn {
    env: Arc<EnvInner>,
    snap: Snapshot,
    slot: usize,
    token: u64,
}

impl ReadTxn {
    pub(crate) fn begin(env: Arc<EnvInner>) -> Result<ReadTxn> {
        let (slot, token) = env.readers.claim()?;
        // Publish, then make sure no newer commit was announced meanwhile (see the
        // registration notes in `readers.rs`).
        let mut round = 0;
        let snap = loop {
            let snap = match env.latest() {
                Ok(s) => s,
                Err(e) => {
                    env.readers.release(slot, token);
                    return Err(e);
                }
            };
            env.readers.publish(slot, snap.meta.txnid);
            round += 1;
            if env.readers.commit_hint() <= snap.meta.txnid || round > 64 {
                break snap;
            }
        };
        Ok(ReadTxn {
            env,
            snap,
            slot,
            token,
        })
    }

    /// The transaction id of the snapshot.
    pub fn id(&self) -> u64 {
        self.snap.meta.txnid
    }

    /// The unnamed default table.
    pub fn main_table(&self) -> ReadTable<'_> {
        ReadTable {
            src: &self.snap.pages,
            rec: self.snap.meta.main,
        }
    }

    /// A named table, in the key order it was created with; `Error::TableNotFound` if
    /// it does not exist.
    ///
    /// # Errors
    /// `Error::TableNotFound`; `Error::TableKindMismatch` for a dup-sort table;
    /// `Error::ComparatorMissing` for a table ordered by a user comparator (open it with
    /// [`ReadTxn::open_table_with`]); `Error::Corrupted` or `Error::Io` reading the
    /// catalog.
    pub fn open_table(&self, name: &str) -> Result<ReadTable<'_>> {
        self.open_plain(name, None)
    }

    /// A named table that must have key order `order` (for a user comparator: one of
    /// the same name, which the returned handle then sorts by).
    ///
    /// # Errors
    /// As [`ReadTxn::open_table`]; `Error::TableKindMismatch` if the table has another
    /// order.
    pub fn open_table_with(&self, name: &str, order: KeyOrder) -> Result<ReadTable<'_>> {
        self.open_plain(name, Some(order))
    }

    fn open_plain(&self, name: &str, order: Option<KeyOrder>) -> Result<ReadTable<'_>> {
        // The kind first: a dup-sort table is a kind mismatch whatever its order.
        check_kind(name, &self.table_record(name)?, Some(0))?;
        let rec = self.table_record_in(name, Orders::keys(order))?;
        Ok(ReadTable {
            src: &self.snap.pages,
            rec,
        })
    }

    /// The record of table `name`, bound to `orders` (see [`bind_order`]).
    pub(crate) fn table_record_in(&self, name: &str, orders: Orders) -> Result<TableRecord> {
        let mut rec = self.table_record(name)?;
        let (pages, catalog) = (&self.snap.pages, &self.snap.meta.catalog);
        bind_order(name, &mut rec, orders, || {
            catalog_comparators(pages, catalog, name)
        })?;
        Ok(rec)
    }

    /// The statistics of table `name`, of any kind (plain or dup-sort).
    ///
    /// # Errors
    /// `Error::TableNotFound`; `Error::Corrupted` or `Error::Io` reading the catalog.
    pub fn table_stat(&self, name: &str) -> Result<TableStat> {
        Ok(TableStat::new(
            &self.table_record(name)?,
            self.snap.pages.page_size,
        ))
    }

    /// The record of table `name` in this snapshot.
    pub(crate) fn table_record(&self, name: &str) -> Result<TableRecord> {
        catalog_lookup(&self.snap.pages, &self.snap.meta.catalog, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_string()))
    }

    /// The snapshot's pages.
    pub(crate) fn pages(&self) -> &MappedPages {
        &self.snap.pages
    }

    /// Names of all named tables, sorted.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` reading the catalog.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        catalog_names(&self.snap.pages, &self.snap.meta.catalog)
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    pub(crate) fn slot(&self) -> usize {
        self.slot
    }
}

impl Drop for ReadTxn {
    fn drop(&mut self) {
        self.env.readers.release(self.slot, self.token);
    }
}

/// A table as seen by a read transaction. `Copy`, `Send + Sync`.
#[derive(Clone, Copy)]
pub struct ReadTable<'txn> {
    src: &'txn MappedPages,
    rec: TableRecord,
}

impl<'txn> ReadTable<'txn> {
    /// The value stored under `key`, borrowed from the map (no copy).
    ///
    /// # Errors
    /// `Error::Corrupted` when a page on the path is damaged (only what the lookup
    /// reads is checked).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Result<Option<&'txn [u8]>> {
        btree::get(self.src, &self.rec, key)
    }
    /// Number of entries (O(1)).
    pub fn len(&self) -> u64 {
        self.rec.entries
    }
    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.rec.entries == 0
    }
    /// Entry and page counts of the table (O(1): kept in its record).
    pub fn stat(&self) -> TableStat {
        TableStat::new(&self.rec, self.src.page_size)
    }
    /// A cursor over the table, positioned nowhere until moved.
    pub fn cursor(&self) -> Cursor<'txn> {
        Cursor::new(self.src, self.rec)
    }
    /// All entries in key order (use `.rev()` for descending).
    pub fn iter(&self) -> Range<'txn> {
        Range::new(self.src, self.rec, Bound::Unbounded, Bound::Unbounded)
    }
    /// Entries with keys in `range`, e.g. `t.range(&b"a"[..]..&b"m"[..])`.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'txn> {
        let (s, e) = bounds(&range);
        Range::new(self.src, self.rec, s, e)
    }
    /// Ask the kernel to read this snapshot's pages into the page cache in the
    /// background (madvise WILLNEED), e.g. before a full scan of a cold file.
    pub fn prefetch(&self) {
        let bound = self.src.high_water as usize * self.src.page_size;
        self.src.map.will_need(0, bound, bound);
    }
}

/// The reads every table handle offers — a read transaction's [`ReadTable`] and a write
/// transaction's [`TableMut`] (which sees its own changes) — so that code reading a
/// table can take either. The handles' own methods of the same names return slices
/// and cursors that may outlive the handle (`ReadTable`) where the trait ties them to
/// the borrow.
///
/// ```
/// use mdbx_lite::{Env, TableRead};
///
/// fn total_len(t: &impl TableRead) -> mdbx_lite::Result<usize> {
///     let mut n = 0;
///     for entry in t.iter() {
///         n += entry?.1.len();
///     }
///     Ok(n)
/// }
///
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir()?;
/// let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut t = wtx.main_table();
/// t.put(b"a", b"123")?;
/// assert_eq!(total_len(&t)?, 3); // the write transaction's own view
/// wtx.commit()?;
/// let rtx = env.begin_read()?;
/// assert_eq!(total_len(&rtx.main_table())?, 3);
/// # Ok(()) }
/// ```
pub trait TableRead {
    /// The value stored under `key`, borrowed from the map or the write transaction.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page on the path is damaged.
    fn get(&self, key: &[u8]) -> Result<Option<&[u8]>>;
    /// Number of entries (O(1)).
    fn len(&self) -> u64;
    /// Whether the table has no entries.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Entry and page counts of the table.
    fn stat(&self) -> TableStat;
    /// A cursor over the table.
    fn cursor(&self) -> Cursor<'_>;
    /// All entries in key order (use `.rev()` for descending).
    fn iter(&self) -> Range<'_>;
    /// Entries with keys in `range`.
    fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'_>;
}

impl TableRead for ReadTable<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        ReadTable::get(self, key)
    }
    fn len(&self) -> u64 {
        ReadTable::len(self)
    }
    fn stat(&self) -> TableStat {
        ReadTable::stat(self)
    }
    fn cursor(&self) -> Cursor<'_> {
        ReadTable::cursor(self)
    }
    fn iter(&self) -> Range<'_> {
        ReadTable::iter(self)
    }
    fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'_> {
        ReadTable::range(self, range)
    }
}

impl TableRead for TableMut<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        TableMut::get(self, key)
    }
    fn len(&self) -> u64 {
        TableMut::len(self)
    }
    fn stat(&self) -> TableStat {
        TableMut::stat(self)
    }
    fn cursor(&self) -> Cursor<'_> {
        TableMut::cursor(self)
    }
    fn iter(&self) -> Range<'_> {
        TableMut::iter(self)
    }
    fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'_> {
        TableMut::range(self, range)
    }
}

// ------------------------------------------------------------------------------------
// Write transactions
// ------------------------------------------------------------------------------------

#[derive(Clone)]
struct TableSlot {
    /// `None` for the main table.
    name: Option<String>,
    /// Unique in the transaction, never reused (a table handle names its slot by it,
    /// so a slot rolled back and made again for another table is not mistaken for it).
    serial: u64,
    rec: TableRecord,
    /// Changed in this transaction (catalog needs rewriting).
    dirty: bool,
    /// Dropped in this transaction.
    dropped: bool,
}

/// The single write transaction. Dropping it without `commit` aborts.
pub struct WriteTxn {
    env: Arc<EnvInner>,
    pages: WritePages,
    base: Meta,
    catalog: TableRecord,
    /// The savepoint tree as this transaction has changed it (`api::persistent`).
    savepoints: TableRecord,
    /// Slot 0 is the main table.
    tables: Vec<TableSlot>,
    /// An operation failed midway (e.g. an I/O error during a split); the tree may be
    /// half-modified, so the transaction can only be aborted (or rolled back to a level
    /// begun before the failure).
    failed: bool,
    /// Open undo levels (nested transactions and savepoints, `api::nested`), innermost
    /// last; level `i` here is level `i` of the dirty pages' undo levels.
    levels: Vec<Level>,
    /// The serial the next table slot gets.
    next_serial: u64,
}

/// What an undo level restores besides pages: the transaction as it was when the level
/// began.
struct Level {
    /// A savepoint's level: gone once its `Savepoint` is dropped. `None`: a nested
    /// transaction's, ended by it.
    savepoint: Option<Weak<()>>,
    tables: Vec<TableSlot>,
    catalog: TableRecord,
    savepoints: TableRecord,
    failed: bool,
    pages: PagesMark,
}

/// Options for [`TableMut::put_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PutFlags {
    /// Fail with `Error::KeyExists` instead of overwriting.
    pub no_overwrite: bool,
    /// The key sorts after every key in the table: fast path for sorted loads, with
    /// leaves filled completely. Otherwise `Error::KeyNotGreater`.
    pub append: bool,
}

impl WriteTxn {
    pub(crate) fn begin(env: Arc<EnvInner>, wait: bool) -> Result<WriteTxn> {
        if env.opts.read_only {
            return Err(Error::ReadOnly);
        }
        if env.poisoned.load(Ordering::SeqCst) {
            return Err(Error::NeedsReopen);
        }
        if env.is_writer_thread() || env.writes_through_another_env() {
            // Waiting would deadlock: the transaction this thread holds never ends.
            return Err(if !wait {
                Error::Busy
            } else if env.is_writer_thread() {
                Error::Invalid("this thread already has a write transaction open".into())
            } else {
                Error::Invalid(ANOTHER_ENV_WRITES.into())
            });
        }
        let mut ws = if wait {
            env.writer.lock_arc()
        } else {
            env.writer.try_lock_arc().ok_or(Error::Busy)?
        };
        // Exclude writers of other environments on the file for the life of this
        // transaction, then build on their latest commit, not on what this handle saw
        // last, made durable again first if a sync failed.
        if !env.lock_writer(wait)? {
            return Err(Error::Busy);
        }
        if let Err(e) = env
            .adopt_newer_meta(&mut ws)
            .and_then(|_| env.recover_failed_sync(&mut ws))
        {
            env.unlock_writer();
            return Err(e);
        }
        // A reader that died in another process must not pin free space.
        env.readers.clear_stale_oldest();
        let (base, base_pages) = {
            let cur = env.current.lock();
            (cur.meta, cur.pages.clone())
        };
        let durable = env.durable_txnid.load(Ordering::SeqCst);
        let savepoints = protected_savepoints(&base_pages, &base, ws.other_meta, durable);
        let savepoints = match savepoints {
            Ok(ids) => ids,
            Err(e) => {
                env.unlock_writer();
                return Err(e);
            }
        };
        // Decoded metas carry ids up to `MAX_TXNID`, so this cannot overflow; a head at
        // exactly the maximum is refused when the commit saves the free tree.
        let Some(txnid) = base.txnid.checked_add(1) else {
            env.unlock_writer();
            return Err(Error::corrupted(
                Corruption::Meta,
                base.slot,
                "transaction id cannot advance",
            ));
        };
        let setup = PagerSetup {
            storage: env.storage.clone(),
            file: env.file.clone(),
            ws,
            read_ahead: env.opts.read_ahead,
            spare_limit: env.opts.spare_buffer_limit,
            dirty_limit: env.opts.dirty_limit,
            gauges: env.writer_gauges.clone(),
            page_size: env.page_size,
            base,
        };
        let pages = WritePages::new(setup, txnid, env.reuse_horizon(base.txnid, &savepoints));
        env.set_writer_thread(true);
        Ok(WriteTxn {
            env,
            pages,
            base,
            catalog: base.catalog,
            savepoints: base.savepoints,
            tables: vec![TableSlot {
                name: None,
                serial: 0,
                rec: base.main,
                dirty: false,
                dropped: false,
            }],
            failed: false,
            levels: Vec::new(),
            next_serial: 1,
        })
    }

    /// Refuse to begin a level in a transaction that failed midway.
    pub(crate) fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::Invalid(
                "an operation of this transaction failed; it can only be aborted".into(),
            ));
        }
        Ok(())
    }

    /// Whether an operation failed midway since the innermost level began.
    pub(crate) fn has_failed(&self) -> bool {
        self.failed
    }

    /// Open an undo level (see `api::nested`) after folding away savepoints that were
    /// dropped; returns its index.
    pub(crate) fn push_level(&mut self, savepoint: Option<Weak<()>>) -> usize {
        self.fold_dropped_savepoints();
        let pages = self.pages.begin_level();
        self.levels.push(Level {
            savepoint,
            tables: self.tables.clone(),
            catalog: self.catalog,
            savepoints: self.savepoints,
            failed: self.failed,
            pages,
        });
        self.levels.len() - 1
    }

    /// Fold the levels of dropped savepoints above the innermost nested transaction
    /// (whose level index its `NestedTxn` keeps) into the levels below them.
    fn fold_dropped_savepoints(&mut self) {
        let mut i = self.levels.len();
        while i > self.nested_floor() {
            i -= 1;
            let dropped = self.levels[i]
                .savepoint
                .as_ref()
                .is_some_and(|w| w.strong_count() == 0);
            if dropped {
                self.levels.remove(i);
                self.pages.fold_level(i);
            }
        }
    }

    /// The lowest level index a savepoint may be rolled back to here: above the
    /// innermost open nested transaction's level (0 if none is open).
    pub(crate) fn nested_floor(&self) -> usize {
        self.levels
            .iter()
            .rposition(|l| l.savepoint.is_none())
            .map_or(0, |i| i + 1)
    }

    /// The level of the savepoint with token `token`, if it is open.
    pub(crate) fn level_of(&self, token: &Weak<()>) -> Option<usize> {
        self.levels.iter().rposition(|l| {
            l.savepoint
                .as_ref()
                .is_some_and(|w| crate::api::nested::same_savepoint(w, token))
        })
    }

    /// Undo every change since level `level` began; it and the levels above close.
    pub(crate) fn rollback_level(&mut self, level: usize) -> Result<()> {
        if level >= self.levels.len() {
            return Err(Error::Internal(format!("no undo level {level}")));
        }
        self.levels.truncate(level + 1);
        let Some(l) = self.levels.pop() else {
            return Err(Error::Internal(format!("no undo level {level}")));
        };
        self.tables = l.tables;
        self.catalog = l.catalog;
        self.savepoints = l.savepoints;
        self.failed = l.failed;
        self.pages.rollback_level(level, l.pages);
        Ok(())
    }

    /// Close level `level` and the levels above, keeping their changes.
    pub(crate) fn release_level(&mut self, level: usize) {
        while self.levels.len() > level {
            let top = self.levels.len() - 1;
            self.levels.pop();
            self.pages.fold_level(top);
        }
    }

    /// The id this transaction will commit as.
    pub fn id(&self) -> u64 {
        self.pages.pager.txnid
    }

    fn find_slot(&self, name: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.name.as_deref() == Some(name))
    }

    /// The slot of table `name`, opened from the catalog on first use (created with
    /// kind flags `create` if it does not exist and `create` is given), checking the
    /// table's kind (`want` as [`check_kind`] takes it) and then binding it to `orders`
    /// (see [`bind_order`]); a table created here gets their comparators. The kind
    /// comes first: a table of another kind is `TableKindMismatch`, whatever its order.
    pub(crate) fn slot_in(
        &mut self,
        name: &str,
        create: Option<u32>,
        orders: Orders,
        want: Option<Option<u32>>,
    ) -> Result<usize> {
        let slot = self.slot_opened(name, create, orders)?;
        if let Some(want) = want {
            check_kind(name, &self.tables[slot].rec, want)?;
        }
        let mut rec = self.tables[slot].rec;
        let (pages, catalog) = (&self.pages, &self.catalog);
        bind_order(name, &mut rec, orders, || {
            catalog_comparators(pages, catalog, name)
        })?;
        self.tables[slot].rec = rec;
        Ok(slot)
    }

    fn slot_opened(&mut self, name: &str, create: Option<u32>, orders: Orders) -> Result<usize> {
        let comparator = orders.keys.and_then(KeyOrder::comparator);
        check_table_name(name, self.env.page_size)?;
        if let Some(i) = self.find_slot(name) {
            if !self.tables[i].dropped {
                return Ok(i);
            }
            let Some(kind) = create else {
                return Err(Error::TableNotFound(name.to_string()));
            };
            let t = &mut self.tables[i];
            t.dropped = false;
            t.dirty = true;
            t.rec.flags = kind;
            t.rec.compare = comparator;
            t.rec.dup_compare = orders.values;
            return Ok(i);
        }
        let found = catalog_lookup(&self.pages, &self.catalog, name)?;
        let (rec, dirty) = match (found, create) {
            (Some(rec), _) => (rec, false),
            (None, Some(kind)) => (
                TableRecord {
                    flags: kind,
                    compare: comparator,
                    dup_compare: orders.values,
                    ..TableRecord::default()
                },
                true,
            ),
            (None, None) => return Err(Error::TableNotFound(name.to_string())),
        };
        let serial = self.next_serial;
        self.next_serial += 1;
        self.tables.push(TableSlot {
            name: Some(name.to_string()),
            serial,
            rec,
            dirty,
            dropped: false,
        });
        Ok(self.tables.len() - 1)
    }

    /// The unnamed default table.
    pub fn main_table(&mut self) -> TableMut<'_> {
        TableMut {
            txn: self,
            slot: 0,
            append_hint: None,
        }
    }

    /// A named table, in the key order it was created with; `Error::TableNotFound` if
    /// it does not exist.
    ///
    /// # Errors
    /// `Error::TableNotFound`; `Error::TableKindMismatch` for a dup-sort table;
    /// `Error::ComparatorMissing` for a table ordered by a user comparator (open it with
    /// [`WriteTxn::open_table_with`]); `Error::Invalid` for a name that is empty or too
    /// long; `Error::Corrupted` or `Error::Io` reading the catalog.
    pub fn open_table(&mut self, name: &str) -> Result<TableMut<'_>> {
        let slot = self.slot_in(name, None, Orders::default(), Some(Some(0)))?;
        Ok(TableMut {
            txn: self,
            slot,
            append_hint: None,
        })
    }

    /// A named table that must have key order `order` (for a user comparator: one of
    /// the same name, which the returned handle then sorts by).
    ///
    /// # Errors
    /// As [`WriteTxn::open_table`]; `Error::TableKindMismatch` if the table has another
    /// order.
    pub fn open_table_with(&mut self, name: &str, order: KeyOrder) -> Result<TableMut<'_>> {
        let slot = self.slot_in(name, None, Orders::keys(Some(order)), Some(Some(0)))?;
        Ok(TableMut {
            txn: self,
            slot,
            append_hint: None,
        })
    }

    /// The record of the table in `slot` as this transaction has changed it.
    pub(crate) fn slot_record(&self, slot: usize) -> TableRecord {
        self.tables[slot].rec
    }

    /// Who this transaction is, for handles that must be used with it only: the
    /// environment's address and the transaction's id.
    /// Slot `slot` as a handle names it: its index and serial.
    pub(crate) fn slot_ref(&self, slot: usize) -> (usize, u64) {
        (slot, self.tables[slot].serial)
    }

    pub(crate) fn identity(&self) -> (usize, u64) {
        (Arc::as_ptr(&self.env) as usize, self.id())
    }

    /// Slot `slot` for a handle this transaction gave out (`identity` as it was then)
    /// to a table of kind and order `kind` (`TableRecord::kind`): refused for another
    /// transaction's handle, a table dropped since, or one made again since with another
    /// kind or order.
    pub(crate) fn handle_slot(
        &self,
        identity: (usize, u64),
        (slot, serial): (usize, u64),
        kind: u32,
    ) -> Result<usize> {
        let ours = identity == self.identity();
        if !ours || self.tables.get(slot).is_none_or(|t| t.serial != serial) {
            return Err(Error::Invalid(
                "a table handle used with another transaction than the one that opened it, \
                 or after the nested transaction or savepoint that opened it was rolled back"
                    .into(),
            ));
        }
        let t = &self.tables[slot];
        let name = || t.name.clone().unwrap_or_default();
        if t.dropped {
            return Err(Error::TableNotFound(name()));
        }
        if t.rec.kind() != kind {
            return Err(Error::TableKindMismatch {
                table: name(),
                stored: kind_name(t.rec.kind()).to_string(),
                requested: kind_name(kind).to_string(),
            });
        }
        Ok(slot)
    }

    /// The byte handle of slot `slot`.
    pub(crate) fn table_at(&mut self, slot: usize) -> TableMut<'_> {
        TableMut {
            txn: self,
            slot,
            append_hint: None,
        }
    }

    /// The slot a `TableMut` stands for.
    pub(crate) fn slot_of(t: &TableMut<'_>) -> usize {
        t.slot
    }

    /// The database's page size.
    pub(crate) fn page_size(&self) -> usize {
        self.env.page_size
    }

    /// The transaction's pages (reads see its own changes).
    pub(crate) fn write_pages(&self) -> &WritePages {
        &self.pages
    }

    /// Run a change `f` of the table in `slot`, keeping its record in step with the
    /// pages even when `f` fails midway (the transaction is then marked failed, unless
    /// the error is a refusal decided before any page changed).
    pub(crate) fn update<T>(
        &mut self,
        slot: usize,
        f: impl FnOnce(&mut WritePages, &mut TableRecord) -> Result<T>,
    ) -> Result<T> {
        let mut rec = self.tables[slot].rec;
        let result = f(&mut self.pages, &mut rec);
        let t = &mut self.tables[slot];
        if t.rec != rec {
            t.rec = rec;
            t.dirty = true;
        }
        if let Err(e) = &result {
            if !matches!(
                e,
                Error::KeyExists
                    | Error::KeyNotGreater
                    | Error::KeyTooLarge { .. }
                    | Error::ValueTooLarge { .. }
                    | Error::DupValueTooLarge { .. }
                    | Error::DupValueSize { .. }
                    | Error::IntegerSize { .. }
            ) {
                self.failed = true;
            }
        }
        result
    }

    /// Run a change `f` of the savepoint tree; a failure midway marks the transaction
    /// failed (the tree may be half-changed).
    pub(crate) fn update_savepoints<T>(
        &mut self,
        f: impl FnOnce(&mut WritePages, &mut TableRecord) -> Result<T>,
    ) -> Result<T> {
        let mut rec = self.savepoints;
        let result = f(&mut self.pages, &mut rec);
        self.savepoints = rec;
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// The savepoint tree as this transaction sees it.
    pub(crate) fn savepoint_tree(&self) -> TableRecord {
        self.savepoints
    }

    /// The committed state this transaction builds on.
    pub(crate) fn base_meta(&self) -> &Meta {
        &self.base
    }

    /// Whether the transaction has changed nothing yet: no page, table, level or
    /// failure.
    pub(crate) fn is_untouched(&self) -> bool {
        self.pages.dirty_pages() == 0
            && self.pages.pager.space.freed().is_empty()
            && self.levels.is_empty()
            && !self.failed
            && self.tables.iter().all(|t| !t.dirty)
            && self.catalog == self.base.catalog
            && self.tables[0].rec == self.base.main
    }

    /// Make `saved`'s state the transaction's (see `txn::restore`): every table as it
    /// was then. Only for an untouched transaction; table handles opened before are
    /// refused from now on.
    pub(crate) fn restore_state(&mut self, saved: &SavedState) -> Result<()> {
        let main = self.tables[0].rec;
        let r = crate::txn::restore::restore_state(&mut self.pages, &main, &self.catalog, saved);
        if r.is_err() {
            self.failed = true;
            return r;
        }
        self.catalog = saved.catalog;
        let serial = self.next_serial;
        self.next_serial += 1;
        self.tables = vec![TableSlot {
            name: None,
            serial,
            rec: saved.main,
            dirty: true,
            dropped: false,
        }];
        r
    }

    /// A named table, created empty if it does not exist.
    ///
    /// # Errors
    /// `Error::Invalid` for a name that is empty or too long; `Error::Corrupted` or
    /// `Error::Io` reading the catalog.
    pub fn create_table(&mut self, name: &str) -> Result<TableMut<'_>> {
        self.create_table_with(name, KeyOrder::Bytes)
    }

    /// A named table with key order `order`, created empty if it does not exist.
    ///
    /// # Errors
    /// `Error::TableKindMismatch` if the table exists with another kind or order;
    /// `Error::Invalid` for a name that is empty or too long (or a comparator name that
    /// is empty or longer than 255 bytes); `Error::Corrupted` or `Error::Io` reading the
    /// catalog.
    pub fn create_table_with(&mut self, name: &str, order: KeyOrder) -> Result<TableMut<'_>> {
        check_comparator_name(order.comparator())?;
        let slot = self.slot_in(
            name,
            Some(order.flags()),
            Orders::keys(Some(order)),
            Some(Some(0)),
        )?;
        Ok(TableMut {
            txn: self,
            slot,
            append_hint: None,
        })
    }

    /// Delete a named table and all its entries. Returns false if it did not exist.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` from the pages freed (the transaction can then
    /// only be aborted).
    pub fn drop_table(&mut self, name: &str) -> Result<bool> {
        // Freeing pages compares no keys: a table ordered by a user comparator is
        // dropped without it.
        let slot = match self.slot_opened(name, None, Orders::default()) {
            Ok(s) => s,
            Err(Error::TableNotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut rec = self.tables[slot].rec;
        btree::clear(&mut self.pages, &mut rec)?;
        let t = &mut self.tables[slot];
        t.rec = rec;
        t.dropped = true;
        t.dirty = true;
        Ok(true)
    }

    /// Names of all named tables as this transaction sees them, sorted.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` reading the catalog.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut names = catalog_names(&self.pages, &self.catalog)?;
        for t in &self.tables {
            if let Some(n) = &t.name {
                if t.dropped {
                    names.retain(|x| x != n);
                } else if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Pages this transaction has modified so far: held in memory until commit, or
    /// written early past the dirty limit ([`WriteTxn::spilled_pages`]).
    pub fn dirty_pages(&self) -> usize {
        self.pages.dirty_pages()
    }

    /// Pages this transaction wrote early because its dirty pages passed the limit
    /// ([`crate::EnvBuilder::dirty_limit`]).
    pub fn spilled_pages(&self) -> usize {
        self.pages.pager.dirty.spilled()
    }

    /// Discard every change.
    pub fn abort(self) {}

    /// The transaction's pages, for unit tests of the layers below.
    #[cfg(test)]
    pub(crate) fn pages_mut(&mut self) -> &mut WritePages {
        &mut self.pages
    }

    /// Make every change durable (per the environment's `Durability`) and visible.
    ///
    /// On error nothing of this transaction is visible and the last committed state is
    /// intact on disk. If the failure hit the meta write or the final sync, the
    /// environment reports `Error::NeedsReopen` from then on.
    ///
    /// # Errors
    /// `Error::Io` when a write or sync fails, `Error::Corrupted` when saving free
    /// space finds the file damaged, `Error::NeedsReopen` after an earlier failed
    /// commit, `Error::Invalid` when an operation of this transaction failed midway.
    pub fn commit(mut self) -> Result<()> {
        // The commit protocol. Until the meta write nothing on disk that a reader or a
        // recovery looks at has changed; after it, a failure poisons the environment.
        self.check_committable()?;
        // Savepoints end with the transaction, their changes kept.
        self.release_level(0);
        let catalog = self.record_tables()?;
        self.pages.save_free_tree()?;
        self.pages.pager.write_dirty()?;
        let base = self.base_now();
        // One sync for the pages and the meta when the meta can list the pages; two
        // (pages, then meta) otherwise.
        let listed = self.one_sync_pages(&base);
        let steady = match listed {
            Some(_) => true,
            None => self.sync_pages_if_needed(&base)?,
        };
        let meta = self.next_meta(&base, steady, listed.is_some(), catalog);
        self.write_meta(&meta, listed.as_deref().unwrap_or_default())?;
        self.publish(meta);
        Ok(())
    }

    /// The pages a one-sync meta lists, when this commit may sync once: a `Full` commit
    /// (with [`EnvBuilder::one_sync`](crate::EnvBuilder::one_sync) on) whose writes fit a
    /// meta's list and whose base is on disk. The base must be: a crash that loses part
    /// of this commit falls back to it, and its own pages are not in the list.
    fn one_sync_pages(&self, base: &Meta) -> Option<Vec<WrittenPage>> {
        let env = &self.env;
        let eligible = env.opts.one_sync
            && env.opts.durability == Durability::Full
            && base.steady
            && base.txnid <= env.durable_txnid.load(Ordering::SeqCst)
            && !env.readers.sync_failed();
        if !eligible {
            return None;
        }
        self.pages.pager.written_pages()
    }

    /// Refuse a commit after an earlier failure of this transaction or environment.
    fn check_committable(&self) -> Result<()> {
        if self.env.poisoned.load(Ordering::SeqCst) {
            return Err(Error::NeedsReopen);
        }
        if self.failed {
            return Err(Error::Invalid(
                "an operation of this transaction failed; it can only be aborted".into(),
            ));
        }
        Ok(())
    }

    /// Record changed and dropped tables in the catalog; returns the new catalog.
    fn record_tables(&mut self) -> Result<TableRecord> {
        let mut catalog = self.catalog;
        for t in &self.tables {
            let (Some(name), true) = (&t.name, t.dirty) else {
                continue;
            };
            if t.dropped {
                btree::delete(&mut self.pages, &mut catalog, name.as_bytes())?;
            } else {
                let rec = t.rec.encode_catalog()?;
                btree::put(
                    &mut self.pages,
                    &mut catalog,
                    name.as_bytes(),
                    &rec,
                    PutMode::Upsert,
                )?;
            }
        }
        Ok(catalog)
    }

    /// The committed state this transaction builds on, as it is now: `Env::sync` on
    /// this thread may have turned it steady meanwhile.
    fn base_now(&self) -> Meta {
        let cur = self.env.current.lock().meta;
        if cur.txnid == self.base.txnid {
            cur
        } else {
            self.base
        }
    }

    /// Sync the pages written so far when the meta to come is steady, or when it will
    /// overwrite the slot of the only steady meta; returns whether the meta is steady.
    ///
    /// A steady meta may only follow synced pages; `NoSync` writes one once enough bytes
    /// went out without a sync, so the space pinned for a power loss is bounded.
    fn sync_pages_if_needed(&self, base: &Meta) -> Result<bool> {
        let env = &self.env;
        let steady = env.opts.durability != Durability::NoSync
            || env.weak_bytes.load(Ordering::SeqCst) + self.pages.pager.file.bytes_written
                >= env.opts.auto_sync_bytes;
        let base_durable = base.txnid <= env.durable_txnid.load(Ordering::SeqCst);
        if steady || (base.steady && !base_durable) {
            // Also required before a weak meta overwrites the other slot: the steady
            // meta it builds on is then the one a power loss falls back to.
            env.sync_or_poison()?;
            if env.readers.sync_failed() {
                // Another handle's sync failed while this transaction ran (its open, say):
                // the writes this sync covered may be lost although it succeeded.
                env.poison();
                return Err(Error::Io(std::io::Error::other(
                    "a sync of the database file failed in another handle during this commit",
                )));
            }
            if base.steady {
                env.durable_txnid.fetch_max(base.txnid, Ordering::SeqCst);
            }
        }
        Ok(steady)
    }

    /// The meta this commit writes. It goes to the slot that does not hold the newest
    /// steady meta: beside a steady base, over a weak one (whose steady predecessor
    /// sits in the other slot).
    fn next_meta(&self, base: &Meta, steady: bool, one_sync: bool, catalog: TableRecord) -> Meta {
        let pager = &self.pages.pager;
        Meta {
            txnid: pager.txnid,
            version: crate::format::meta::FORMAT_VERSION,
            slot: if base.steady {
                1 - base.slot
            } else {
                base.slot
            },
            steady,
            one_sync,
            boot_id: self.env.storage.boot_id().unwrap_or_default(),
            page_size: self.env.page_size as u32,
            high_water: pager.space.high_water(),
            growth_step: self.base.growth_step,
            main: self.tables[0].rec,
            catalog,
            free: pager.free,
            savepoints: self.savepoints,
        }
    }

    /// Write the meta (listing `listed` when one-sync) and, for `Full` durability, sync
    /// it. From here on a failure leaves the on-disk state unknown: the environment is
    /// poisoned.
    fn write_meta(&mut self, meta: &Meta, listed: &[WrittenPage]) -> Result<()> {
        let env = &self.env;
        let durability = env.opts.durability;
        let written =
            write_meta_listing(env.storage.as_ref(), meta, listed).and_then(|_| match durability {
                Durability::Full => env.storage.sync_data().map_err(Error::from),
                _ => Ok(()),
            });
        if let Err(e) = written {
            env.poison();
            return Err(e);
        }
        if meta.one_sync && env.readers.sync_failed() {
            // As in `sync_pages_if_needed`: another handle's failed sync may have dropped
            // pages this one's sync then did not write.
            env.poison();
            return Err(Error::Io(std::io::Error::other(
                "a sync of the database file failed in another handle during this commit",
            )));
        }
        if durability == Durability::Full {
            env.durable_txnid.fetch_max(meta.txnid, Ordering::SeqCst);
        }
        // The file's length is the one this writer gave it or measured.
        self.pages.pager.file.ws.head_seen = Some(meta.key());
        let bytes = self.pages.pager.file.bytes_written;
        if meta.steady {
            env.weak_bytes.store(0, Ordering::SeqCst);
        } else {
            env.weak_bytes.fetch_add(bytes, Ordering::SeqCst);
        }
        self.pages.remember_young_floor();
        Ok(())
    }

    /// Make the new state the one new readers see, and tell every environment on this
    /// file, in any process, that a commit happened.
    fn publish(&self, meta: Meta) {
        let env = &self.env;
        let snapshot = Snapshot {
            meta,
            pages: MappedPages {
                map: self.pages.pager.file.ws.map.clone(),
                page_size: env.page_size,
                high_water: meta.high_water,
                verify: env.opts.verify_checksums,
            },
        };
        *env.current.lock() = snapshot;
        env.readers.announce_commit(meta.txnid);
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        self.env.set_writer_thread(false);
        self.env.unlock_writer();
    }
}

/// A table inside the write transaction. Reads see the transaction's own changes.
pub struct TableMut<'txn> {
    txn: &'txn mut WriteTxn,
    slot: usize,
    /// Where this handle's last append ended (see `btree::append`); every other write
    /// through the handle drops it, and while the handle lives nothing else can write.
    append_hint: Option<btree::AppendHint>,
}

impl TableMut<'_> {
    /// The table's record as this transaction has changed it, for unit tests.
    #[cfg(test)]
    pub(crate) fn txn_record(&self) -> TableRecord {
        self.rec()
    }

    fn rec(&self) -> TableRecord {
        self.txn.tables[self.slot].rec
    }

    fn update(
        &mut self,
        f: impl FnOnce(&mut WritePages, &mut TableRecord) -> Result<bool>,
    ) -> Result<bool> {
        self.append_hint = None;
        self.txn.update(self.slot, f)
    }

    /// An append through `btree::append`, which keeps the handle's hint.
    fn append_hinted(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let hint = &mut self.append_hint;
        let result = self
            .txn
            .update(self.slot, |p, r| btree::append(p, r, key, value, hint));
        if result.is_err() {
            self.append_hint = None;
        }
        result
    }

    /// The value under `key`, including this transaction's changes.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page on the path is damaged.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        btree::get(&self.txn.pages, &self.txn.tables[self.slot].rec, key)
    }

    /// Insert or overwrite.
    ///
    /// Any key up to [`crate::Env::max_key_size`] bytes is valid, the empty key too
    /// (it sorts first), as in redb. LMDB refuses empty keys: a dump holding one loads
    /// into mdbx-lite but not with LMDB's `mdb_load` (`mdbx-lite dump` warns).
    ///
    /// # Errors
    /// `Error::KeyTooLarge`, `Error::ValueTooLarge` (the transaction stays usable);
    /// `Error::Io` or `Error::Corrupted` from the pages it touches (the transaction can
    /// then only be aborted).
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.update(|p, r| btree::put(p, r, key, value, PutMode::Upsert))
            .map(|_| ())
    }

    /// Insert with flags; returns true if the key was new.
    ///
    /// # Errors
    /// `Error::KeyExists` (with `no_overwrite`), `Error::KeyNotGreater` (with `append`),
    /// `Error::KeyTooLarge`, `Error::ValueTooLarge`: the transaction stays usable.
    /// `Error::Io` or `Error::Corrupted`: the transaction can only be aborted.
    pub fn put_with(&mut self, key: &[u8], value: &[u8], flags: PutFlags) -> Result<bool> {
        if flags.append {
            return self.append_hinted(key, value);
        }
        let mode = if flags.no_overwrite {
            PutMode::NoOverwrite
        } else {
            PutMode::Upsert
        };
        self.update(|p, r| btree::put(p, r, key, value, mode))
    }

    /// Append a key greater than every key in the table (sorted bulk loads).
    ///
    /// # Errors
    /// `Error::KeyNotGreater` when `key` does not sort after the table's last key; the
    /// others as [`TableMut::put_with`].
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.append_hinted(key, value).map(|_| ())
    }

    /// Remove `key`; returns true if it was present.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` from the pages touched (the transaction can
    /// then only be aborted).
    pub fn delete(&mut self, key: &[u8]) -> Result<bool> {
        self.update(|p, r| btree::delete(p, r, key))
    }

    /// Insert or overwrite, returning the value `key` had (a copy: the page it was on
    /// may change).
    ///
    /// # Errors
    /// As [`TableMut::put`].
    pub fn replace(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?.map(<[u8]>::to_vec);
        self.put(key, value)?;
        Ok(old)
    }

    /// Put a value of `len` bytes under `key` (replacing any value it had) and hand
    /// back its bytes, zeroed, to fill in place (LMDB's `MDB_RESERVE`): a value built
    /// straight into the page, or into the overflow run, that stores it. A large value's
    /// run stays in memory until commit instead of being written at once.
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut t = wtx.create_table("blobs")?;
    /// let buf = t.reserve(b"big", 100_000)?;
    /// for (i, b) in buf.iter_mut().enumerate() {
    ///     *b = i as u8;
    /// }
    /// assert_eq!(t.get(b"big")?.unwrap()[300], 300u32 as u8);
    /// wtx.commit()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`TableMut::put`].
    pub fn reserve(&mut self, key: &[u8], len: usize) -> Result<&mut [u8]> {
        self.update(|p, r| btree::put_reserved(p, r, key, len))?;
        let rec = self.rec();
        btree::reserved_mut(&mut self.txn.pages, &rec, key)
    }

    /// The value under `key`, inserting `make()` first if there is none.
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut t = wtx.create_table("config")?;
    /// assert_eq!(t.get_or_insert_with(b"mode", || b"fast".to_vec())?, b"fast");
    /// assert_eq!(t.get_or_insert_with(b"mode", || b"slow".to_vec())?, b"fast");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`TableMut::put`].
    pub fn get_or_insert_with<V: AsRef<[u8]>>(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> V,
    ) -> Result<&[u8]> {
        if self.get(key)?.is_none() {
            let value = make();
            self.put(key, value.as_ref())?;
        }
        self.get(key)?
            .ok_or_else(|| Error::Internal("a value just put is not there".into()))
    }

    /// Remove the entries with keys in `range`; returns how many. One pass over the
    /// leaves the range covers: a descent per leaf, not per entry.
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` from the pages touched (the transaction can
    /// then only be aborted).
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> Result<u64> {
        self.drain(range, |_, _| {})
    }

    /// Remove the entries with keys in `range`, handing each to `each` (key and value,
    /// borrowed from the transaction's pages) before it goes; returns how many. One pass,
    /// as [`TableMut::delete_range`].
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut queue = wtx.create_table("queue")?;
    /// for job in [b"job-1", b"job-2", b"job-3"] {
    ///     queue.put(job, b"payload")?;
    /// }
    /// let mut taken = Vec::new();
    /// queue.drain(&b"job-1"[..]..=&b"job-2"[..], |k, _| taken.push(k.to_vec()))?;
    /// assert_eq!(taken, [b"job-1", b"job-2"]);
    /// assert_eq!(queue.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`TableMut::delete_range`].
    pub fn drain<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        range: R,
        each: impl FnMut(&[u8], &[u8]),
    ) -> Result<u64> {
        fn borrow<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<&[u8]> {
            b.map(|k| k.as_ref())
        }
        let (start, end) = (borrow(range.start_bound()), borrow(range.end_bound()));
        self.txn.update(self.slot, |p, r| {
            sweep::remove_range(p, r, start, end, each)
        })
    }

    /// Keep only the entries for which `keep(key, value)` is true; returns how many were
    /// removed. One pass over the table: each leaf is read once, and copied on write
    /// only if it loses an entry.
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// let mut t = wtx.create_table("t")?;
    /// for i in 0u32..100 {
    ///     t.put(&i.to_be_bytes(), &[(i % 3) as u8])?;
    /// }
    /// let removed = t.retain(|_, v| v[0] == 0)?;
    /// assert_eq!((removed, t.len()), (66, 34));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`TableMut::delete_range`].
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        self.txn.update(self.slot, |p, r| {
            sweep::sweep(p, r, Bound::Unbounded, |k, v| {
                Ok(if keep(k, v) {
                    sweep::Verdict::Keep
                } else {
                    sweep::Verdict::Remove
                })
            })
        })
    }

    /// Remove and return the first entry (smallest key).
    ///
    /// # Errors
    /// As [`TableMut::delete`].
    pub fn pop_first(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let first = self
            .cursor()
            .first()?
            .map(|(k, v)| (k.to_vec(), v.to_vec()));
        if let Some((k, _)) = &first {
            self.delete(k)?;
        }
        Ok(first)
    }

    /// Remove and return the last entry (largest key).
    ///
    /// # Errors
    /// As [`TableMut::delete`].
    pub fn pop_last(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let last = self.cursor().last()?.map(|(k, v)| (k.to_vec(), v.to_vec()));
        if let Some((k, _)) = &last {
            self.delete(k)?;
        }
        Ok(last)
    }

    /// Remove every entry (the table stays).
    ///
    /// # Errors
    /// `Error::Io` or `Error::Corrupted` from the pages freed (the transaction can then
    /// only be aborted).
    pub fn clear(&mut self) -> Result<()> {
        self.update(|p, r| btree::clear(p, r).map(|_| true))
            .map(|_| ())
    }

    /// Number of entries, including this transaction's changes (O(1)).
    pub fn len(&self) -> u64 {
        self.rec().len()
    }
    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.rec().entries == 0
    }
    /// Entry and page counts of the table as this transaction left it.
    pub fn stat(&self) -> TableStat {
        TableStat::new(&self.rec(), self.txn.env.page_size)
    }
    /// A cursor over the table as this transaction sees it.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor::new(&self.txn.pages, self.rec())
    }
    /// All entries in key order, including this transaction's changes.
    pub fn iter(&self) -> Range<'_> {
        Range::new(
            &self.txn.pages,
            self.rec(),
            Bound::Unbounded,
            Bound::Unbounded,
        )
    }
    /// Entries with keys in `range`, including this transaction's changes.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Range<'_> {
        let (s, e) = bounds(&range);
        Range::new(&self.txn.pages, self.rec(), s, e)
    }
}
