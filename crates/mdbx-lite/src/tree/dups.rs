//! Dup-sort tables over the B+tree: each key holds a sorted set of distinct values.
//!
//! A key's leaf entry holds its values in one of three forms, chosen by size:
//! - one value: a plain entry, as in a plain table;
//! - two or more: a dup block (`format::dups`, flag `F_DUPS`) while the entry stays
//!   within the inline limit (`btree::max_inline_value`, a quarter page with its key);
//! - beyond that: a nested B+tree whose keys are the values (each with an empty value),
//!   its record stored in the entry (flag `F_NESTED`). Lookups and seeks inside one
//!   key's values are then O(log n) like any tree search.
//!
//! A nested tree goes back into a block once it is a single leaf whose values fit in
//! half the inline limit, so a key hovering at the limit does not convert on every
//! write.
//!
//! Counts (invariants `check` verifies): the table record's `entries` counts keys,
//! `pairs` the (key, value) pairs, and its page counts include its nested trees' pages
//! (each nested record counts its own as well). Values are at most
//! [`max_value_size`] bytes, so a value is always a valid key of a nested tree; in a
//! dup-fixed table every value has the size the first one had (kept in the record).

use crate::error::{Corruption, Error, Result};
use crate::format::dups::{self, DupBlock, DupValues};
use crate::format::meta::{TableRecord, TABLE_RECORD_LEN};
use crate::format::order::{is_integer_size, Order};
use crate::format::page::{LeafValue, Node, F_DUPS, F_NESTED};
use crate::tree::btree::{self, EntryBytes, PutMode, StoredValue, Update};
use crate::tree::cursor::RawCursor;
use crate::tree::pages::{PageSource, PageWrite};

/// Largest value a dup-sort table takes: the largest key (values are nested-tree keys).
pub fn max_value_size(page_size: usize) -> usize {
    btree::max_key_size(page_size)
}

/// Largest key a dup-sort table takes: its entry must have room for a nested tree's
/// record inline, whatever its values.
pub fn max_key_size(page_size: usize) -> usize {
    btree::max_inline_value(page_size, 0) - TABLE_RECORD_LEN
}

/// What a key's entry holds.
pub(crate) enum Stored<'a> {
    One(&'a [u8]),
    Block(DupBlock<'a>),
    Nested(TableRecord),
}

/// Decode a dup-sort table's leaf value (on page `pgno`).
pub(crate) fn classify<'a>(v: LeafValue<'a>, rec: &TableRecord, pgno: u64) -> Result<Stored<'a>> {
    match v {
        LeafValue::Inline(b) => Ok(Stored::One(b)),
        LeafValue::Dups(b) => Ok(Stored::Block(DupBlock::new(
            b,
            rec.fixed_value_size(),
            rec.dup_order(),
            pgno,
        ))),
        LeafValue::Nested(b) => {
            let n = rec.decode_nested(b, pgno)?;
            if n.flags != rec.nested_flags() || n.overflow_pages != 0 || n.root == 0 {
                return Err(Error::corrupted(
                    Corruption::Layout,
                    pgno,
                    "a nested tree's record is empty, not of keys only in the table's value \
                     order, or has overflow pages",
                ));
            }
            Ok(Stored::Nested(n))
        }
        LeafValue::Overflow { .. } => Err(Error::corrupted(
            Corruption::Layout,
            pgno,
            "an overflow value in a dup-sort table",
        )),
    }
}

/// The entry `key` holds, if any.
fn stored<'a, S: PageSource + ?Sized>(
    src: &'a S,
    rec: &TableRecord,
    key: &[u8],
) -> Result<Option<Stored<'a>>> {
    match btree::get_raw(src, rec, key)? {
        Some((v, pgno)) => classify(v, rec, pgno).map(Some),
        None => Ok(None),
    }
}

/// Refuse a value the table cannot hold, before anything changes.
fn check_value(rec: &TableRecord, value: &[u8], page_size: usize) -> Result<()> {
    let max = max_value_size(page_size);
    if value.len() > max {
        return Err(Error::DupValueTooLarge {
            len: value.len(),
            max,
        });
    }
    let fixed = rec.fixed_value_size();
    let dupfixed = rec.flags & crate::format::meta::TABLE_DUPFIXED != 0;
    if dupfixed && ((fixed != 0 && value.len() != fixed) || value.is_empty()) {
        return Err(Error::DupValueSize {
            len: value.len(),
            expected: fixed,
        });
    }
    if rec.dup_order() == Order::Integer && !is_integer_size(value.len()) {
        return Err(integer_value_size(value.len(), 0));
    }
    Ok(())
}

fn integer_value_size(len: usize, expected: usize) -> Error {
    Error::IntegerSize {
        value: true,
        len,
        expected,
    }
}

/// An integer-dup key's values all have one size: refuse `value` unless it has the size
/// of `other`, one of the key's values.
fn check_value_like(rec: &TableRecord, value: &[u8], other: &[u8]) -> Result<()> {
    if rec.dup_order() == Order::Integer && value.len() != other.len() {
        return Err(integer_value_size(value.len(), other.len()));
    }
    Ok(())
}

/// Add the page counts a nested tree gained (or lost) from `before` to `after` to the
/// table's record.
fn add_pages(rec: &mut TableRecord, before: &TableRecord, after: &TableRecord) {
    let delta = |total: u64, b: u64, a: u64| total.wrapping_add(a.wrapping_sub(b));
    rec.branch_pages = delta(rec.branch_pages, before.branch_pages, after.branch_pages);
    rec.leaf_pages = delta(rec.leaf_pages, before.leaf_pages, after.leaf_pages);
}

/// The entry holding `values` (ascending, distinct, at least one) for a key whose
/// inline room is `limit` bytes: one value as a plain entry and more as a dup block when
/// they fit, otherwise a new nested tree (its pages counted in `rec`). Returns the
/// entry's flag byte and bytes.
fn entry_for(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    limit: usize,
    values: &[&[u8]],
) -> Result<(u8, EntryBytes)> {
    let fixed = rec.fixed_value_size();
    match values {
        [one] if one.len() <= limit => return Ok((0, EntryBytes::new(one))),
        [_] => {}
        many => {
            let size: usize = many.iter().map(|v| dups::encoded_len(v.len(), fixed)).sum();
            if size <= limit {
                let mut block = Vec::with_capacity(size);
                dups::encode(many.iter().copied(), fixed, &mut block);
                return Ok((F_DUPS, EntryBytes::Heap(block)));
            }
        }
    }
    let mut nested = TableRecord {
        flags: rec.nested_flags(),
        compare: rec.dup_compare,
        ..TableRecord::default()
    };
    for v in values {
        btree::put(p, &mut nested, v, b"", PutMode::Append)?;
    }
    add_pages(rec, &TableRecord::default(), &nested);
    Ok((F_NESTED, EntryBytes::new(&nested.encode())))
}

/// Add `value` to `key`'s values. Returns false if the pair was there already (or,
/// with `no_dup_data`, `Error::KeyExists`).
///
/// One descent of the table's tree: the key's entry is read, rebuilt and written back
/// where it is (`btree::update_with`).
pub(crate) fn put(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
    no_dup_data: bool,
) -> Result<bool> {
    let max = max_key_size(p.page_size());
    if key.len() > max {
        return Err(Error::KeyTooLarge {
            len: key.len(),
            max,
        });
    }
    check_value(rec, value, p.page_size())?;
    let limit = btree::max_inline_value(p.page_size(), key.len());
    let order = rec.dup_order();
    let added = btree::update_with(p, rec, key, |p, rec, old| {
        let fixed = rec.fixed_value_size();
        let Some(old) = old else {
            return Ok((put_entry(entry_for(p, rec, limit, &[value])?), true));
        };
        let (tag, bytes) = inline_entry(old)?;
        match tag {
            0 if *bytes == *value => Ok((Update::Keep, false)),
            0 => {
                check_value_like(rec, value, &bytes)?;
                let pair: [&[u8]; 2] = if order.less(&bytes, value) {
                    [&bytes, value]
                } else {
                    [value, &bytes]
                };
                Ok((put_entry(entry_for(p, rec, limit, &pair)?), true))
            }
            F_DUPS => {
                let block = DupBlock::new(&bytes, fixed, order, 0);
                let (at, found) = block.seek(value)?;
                if found {
                    return Ok((Update::Keep, false));
                }
                if let Some((first, _)) = block.at(0)? {
                    check_value_like(rec, value, first)?;
                }
                let size = bytes.len() + dups::encoded_len(value.len(), fixed);
                if size <= limit {
                    // The block with the value spliced in where the seek stopped.
                    let mut grown = Vec::with_capacity(size);
                    grown.extend_from_slice(&bytes[..at]);
                    dups::encode([value], fixed, &mut grown);
                    grown.extend_from_slice(&bytes[at..]);
                    return Ok((Update::Put(F_DUPS, EntryBytes::Heap(grown)), true));
                }
                let mut values = Vec::with_capacity(block.count()? + 1);
                for v in block.values() {
                    values.push(v?);
                }
                let idx = values.partition_point(|v| order.less(v, value));
                values.insert(idx, value);
                Ok((put_entry(entry_for(p, rec, limit, &values)?), true))
            }
            F_NESTED => {
                let Stored::Nested(mut n) = classify(LeafValue::Nested(&bytes), rec, 0)? else {
                    return Err(Error::Internal(
                        "a nested record did not decode as one".into(),
                    ));
                };
                let before = n;
                let put = btree::put(p, &mut n, value, b"", PutMode::NoOverwrite);
                add_pages(rec, &before, &n);
                let added = match put {
                    Err(Error::KeyExists) => false,
                    r => r?,
                };
                // The record changes with every value added, and when an existing one's
                // search copied the nested root.
                let update = if n != before {
                    Update::Put(F_NESTED, EntryBytes::new(&n.encode()))
                } else {
                    Update::Keep
                };
                Ok((update, added))
            }
            f => Err(unknown_flags(f)),
        }
    })?;
    if !added {
        return if no_dup_data {
            Err(Error::KeyExists)
        } else {
            Ok(false)
        };
    }
    if rec.fixed_value_size() == 0 && rec.flags & crate::format::meta::TABLE_DUPFIXED != 0 {
        rec.flags |= (value.len() as u32) << 16;
    }
    rec.pairs = rec.pairs.saturating_add(1);
    Ok(true)
}

fn put_entry((tag, bytes): (u8, EntryBytes)) -> Update {
    Update::Put(tag, bytes)
}

fn overflow_in_dup_table() -> Error {
    Error::corrupted(
        Corruption::Layout,
        0,
        "an overflow value in a dup-sort table",
    )
}

/// The update storing `values` (ascending, distinct) as a key's entry: none removes
/// the key.
fn rebuilt(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    limit: usize,
    values: &[&[u8]],
) -> Result<Update> {
    if values.is_empty() {
        return Ok(Update::Delete);
    }
    entry_for(p, rec, limit, values).map(put_entry)
}

/// A key's entry as stored, which a dup-sort table keeps inline.
fn inline_entry(old: StoredValue) -> Result<(u8, EntryBytes)> {
    match old {
        StoredValue::Inline(tag, bytes) => Ok((tag, bytes)),
        StoredValue::Overflow(..) => Err(overflow_in_dup_table()),
    }
}

/// The nested record an entry of flag `F_NESTED` holds.
fn nested_record(bytes: &[u8], rec: &TableRecord) -> Result<TableRecord> {
    match classify(LeafValue::Nested(bytes), rec, 0)? {
        Stored::Nested(n) => Ok(n),
        _ => Err(Error::Internal(
            "a nested record did not decode as one".into(),
        )),
    }
}

fn unknown_flags(f: u8) -> Error {
    Error::corrupted(
        Corruption::Layout,
        0,
        format!("unknown dup-sort entry flags {f:#x}"),
    )
}

/// Remove the pair (`key`, `value`). Returns false if it was not there. One descent of
/// the table's tree, as `put`.
pub(crate) fn delete_pair(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    key: &[u8],
    value: &[u8],
) -> Result<bool> {
    if key.len() > max_key_size(p.page_size()) {
        // No such key can be in the table.
        return Ok(false);
    }
    let limit = btree::max_inline_value(p.page_size(), key.len());
    let removed = btree::update_with(p, rec, key, |p, rec, old| {
        let Some(old) = old else {
            return Ok((Update::Keep, false));
        };
        let (tag, bytes) = inline_entry(old)?;
        match tag {
            0 if *bytes == *value => Ok((Update::Delete, true)),
            0 => Ok((Update::Keep, false)),
            F_DUPS => {
                let block = DupBlock::new(&bytes, rec.fixed_value_size(), rec.dup_order(), 0);
                let (at, found) = block.seek(value)?;
                let Some((_, after)) = block.at(at)?.filter(|_| found) else {
                    return Ok((Update::Keep, false));
                };
                // The block without the value; a single value left becomes a plain entry.
                let (left, right) = (&bytes[..at], &bytes[after..]);
                let one = match (block.at(0)?, left.is_empty()) {
                    (Some((v, end)), false) if end == at && right.is_empty() => Some(v),
                    _ => match block.at(after)? {
                        Some((v, end)) if left.is_empty() && end == bytes.len() => Some(v),
                        _ => None,
                    },
                };
                if let Some(v) = one {
                    return Ok((Update::Put(0, EntryBytes::new(v)), true));
                }
                let mut shrunk = Vec::with_capacity(left.len() + right.len());
                shrunk.extend_from_slice(left);
                shrunk.extend_from_slice(right);
                Ok((Update::Put(F_DUPS, EntryBytes::Heap(shrunk)), true))
            }
            F_NESTED => {
                let mut n = nested_record(&bytes, rec)?;
                let before = n;
                let gone = btree::delete(p, &mut n, value);
                add_pages(rec, &before, &n);
                if !gone? {
                    return Ok((Update::Keep, false));
                }
                Ok((shrink_nested(p, rec, limit, n)?, true))
            }
            f => Err(unknown_flags(f)),
        }
    })?;
    if removed {
        rec.pairs = rec.pairs.saturating_sub(1);
    }
    Ok(removed)
}

/// After a removal from a nested tree `n` of a key whose inline room is `limit`: its
/// new record, or, once it is one leaf whose values fit in half that room, its values
/// inline instead (the tree freed).
fn shrink_nested(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    limit: usize,
    mut n: TableRecord,
) -> Result<Update> {
    let fixed = rec.fixed_value_size();
    if n.depth <= 1 && fits_in(&btree::node_at(&*p, n.root, true)?, fixed, limit / 2) {
        // (The record's count is not trusted for the capacity: a damaged one is huge.)
        let mut values: Vec<Vec<u8>> = Vec::new();
        let mut size = 0;
        let mut cur = RawCursor::new(&*p, n);
        let mut item = cur.first_raw()?;
        while let Some((v, _)) = item {
            size += dups::encoded_len(v.len(), fixed);
            if size > limit / 2 {
                break;
            }
            values.push(v.to_vec());
            item = cur.next_raw()?;
        }
        if item.is_none() {
            let before = n;
            btree::clear(p, &mut n)?;
            add_pages(rec, &before, &n);
            let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            return rebuilt(p, rec, limit, &refs);
        }
    }
    Ok(Update::Put(F_NESTED, EntryBytes::new(&n.encode())))
}

/// Whether the values of the nested leaf `node` take at most `room` bytes as a dup
/// block. Read from the slots' lengths alone, so a removal that keeps the tree (the
/// common case) reads no value.
fn fits_in(node: &Node<'_>, fixed: usize, room: usize) -> bool {
    let mut size = 0;
    for i in 0..node.count() {
        size += dups::encoded_len(node.key_len(i), fixed);
        if size > room {
            return false;
        }
    }
    true
}

/// Remove `key` with all its values (freeing its nested tree); returns how many there
/// were.
pub(crate) fn delete_key(p: &mut impl PageWrite, rec: &mut TableRecord, key: &[u8]) -> Result<u64> {
    if key.len() > max_key_size(p.page_size()) {
        return Ok(0);
    }
    let count = btree::update_with(p, rec, key, |p, rec, old| {
        let Some(old) = old else {
            return Ok((Update::Keep, 0));
        };
        let (tag, bytes) = inline_entry(old)?;
        let count = match tag {
            0 => 1,
            F_DUPS => {
                DupBlock::new(&bytes, rec.fixed_value_size(), rec.dup_order(), 0).count()? as u64
            }
            F_NESTED => {
                let mut n = nested_record(&bytes, rec)?;
                let (before, count) = (n, n.entries);
                let cleared = btree::clear(p, &mut n);
                add_pages(rec, &before, &n);
                cleared?;
                count
            }
            f => return Err(unknown_flags(f)),
        };
        Ok((Update::Delete, count))
    })?;
    rec.pairs = rec.pairs.saturating_sub(count);
    Ok(count)
}

/// The first (smallest) value of `key`.
pub(crate) fn first_value<'a, S: PageSource + ?Sized>(
    src: &'a S,
    rec: &TableRecord,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    match stored(src, rec, key)? {
        None => Ok(None),
        Some(Stored::One(v)) => Ok(Some(v)),
        Some(Stored::Block(b)) => Ok(b.at(0)?.map(|(v, _)| v)),
        Some(Stored::Nested(n)) => Ok(RawCursor::new(src, n).first_raw()?.map(|(v, _)| v)),
    }
}

/// How many values `key` has: O(1) for a nested tree (its record counts them), a walk
/// of at most a quarter page for a block.
pub(crate) fn count<S: PageSource + ?Sized>(src: &S, rec: &TableRecord, key: &[u8]) -> Result<u64> {
    Ok(match stored(src, rec, key)? {
        None => 0,
        Some(s) => stored_count(&s)?,
    })
}

fn stored_count(s: &Stored<'_>) -> Result<u64> {
    Ok(match s {
        Stored::One(_) => 1,
        Stored::Block(b) => b.count()? as u64,
        Stored::Nested(n) => n.entries,
    })
}

/// Whether the pair (`key`, `value`) is in the table.
pub(crate) fn contains<S: PageSource + ?Sized>(
    src: &S,
    rec: &TableRecord,
    key: &[u8],
    value: &[u8],
) -> Result<bool> {
    Ok(match stored(src, rec, key)? {
        None => false,
        Some(Stored::One(v)) => v == value,
        Some(Stored::Block(b)) => b.seek(value)?.1,
        Some(Stored::Nested(n)) => btree::get_raw(src, &n, value)?.is_some(),
    })
}

/// Where a dup cursor stands among the values of its current key. (The nested cursor is
/// large on purpose: inline, so moving allocates nothing.)
#[allow(clippy::large_enum_variant)]
enum Inner<'a, S: PageSource + ?Sized> {
    One(&'a [u8]),
    /// A block and the offset of the current value.
    Block(DupBlock<'a>, usize),
    Nested(RawCursor<'a, S>),
}

/// A cursor over the (key, value) pairs of a dup-sort table, in key order and, within
/// a key, value order. Allocation-free: its nested-tree cursor lives inline.
pub(crate) struct RawDupCursor<'a, S: PageSource + ?Sized> {
    src: &'a S,
    rec: TableRecord,
    outer: RawCursor<'a, S>,
    /// The current key and where the cursor stands in its values; None when
    /// unpositioned.
    at: Option<(&'a [u8], Inner<'a, S>)>,
}

/// A pair borrowed from the transaction.
pub(crate) type Pair<'a> = (&'a [u8], &'a [u8]);

/// A run of a dup-fixed key's values that lie together in storage (LMDB's
/// `GET_MULTIPLE` unit): the rest of the key's block, or of the nested leaf holding the
/// current value.
pub(crate) enum Run<'a> {
    /// Values back to back in the map.
    Bytes(&'a [u8]),
    /// Entries `from..` of a nested tree's leaf, not adjacent in the page: the caller
    /// gathers them (`Run::gather`).
    Leaf(Node<'a>, usize),
}

impl<'a> Run<'a> {
    /// The run as one slice: borrowed from the map when it lies there back to back,
    /// else copied into `buf` (cleared first; at most a page of bytes).
    pub fn gather<'b>(self, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        match self {
            Run::Bytes(b) => Ok(b),
            Run::Leaf(node, from) => {
                buf.clear();
                for i in from..node.count() {
                    buf.extend_from_slice(node.key(i)?);
                }
                Ok(buf.as_slice())
            }
        }
    }
}

/// Which value of a key to stand on when entering it.
#[derive(Clone, Copy)]
enum Side {
    First,
    Last,
}

impl<'a, S: PageSource + ?Sized> RawDupCursor<'a, S> {
    pub fn new(src: &'a S, rec: TableRecord) -> Self {
        RawDupCursor {
            src,
            rec,
            outer: RawCursor::new(src, rec),
            at: None,
        }
    }

    /// Enter the outer entry `e` at its first or last value.
    fn enter(
        &mut self,
        e: Option<(&'a [u8], LeafValue<'a>)>,
        side: Side,
    ) -> Result<Option<Pair<'a>>> {
        let Some((key, v)) = e else {
            self.at = None;
            return Ok(None);
        };
        let inner = match classify(v, &self.rec, self.outer.leaf_pgno())? {
            Stored::One(v) => Inner::One(v),
            Stored::Block(b) => {
                let off = match side {
                    Side::First => 0,
                    Side::Last => b.last()?.unwrap_or(0),
                };
                Inner::Block(b, off)
            }
            Stored::Nested(n) => {
                let mut c = RawCursor::new(self.src, n);
                match side {
                    Side::First => c.first_raw()?,
                    Side::Last => c.last_raw()?,
                };
                Inner::Nested(c)
            }
        };
        self.at = Some((key, inner));
        self.current()
    }

    /// The pair under the cursor.
    pub fn current(&self) -> Result<Option<Pair<'a>>> {
        let Some((key, inner)) = &self.at else {
            return Ok(None);
        };
        let value = match inner {
            Inner::One(v) => Some(*v),
            Inner::Block(b, off) => b.at(*off)?.map(|(v, _)| v),
            Inner::Nested(c) => c.current_raw()?.map(|(v, _)| v),
        };
        match value {
            Some(v) => Ok(Some((key, v))),
            None => Err(Error::corrupted(
                Corruption::Layout,
                self.outer.leaf_pgno(),
                "a dup-sort key without values",
            )),
        }
    }

    pub fn first(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.first_raw()?;
        self.enter(e, Side::First)
    }

    pub fn last(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.last_raw()?;
        self.enter(e, Side::Last)
    }

    /// The next pair (the first if unpositioned).
    pub fn next(&mut self) -> Result<Option<Pair<'a>>> {
        if self.at.is_none() {
            return self.first();
        }
        if let Some(p) = self.next_dup()? {
            return Ok(Some(p));
        }
        self.next_key()
    }

    /// The previous pair (the last if unpositioned).
    pub fn prev(&mut self) -> Result<Option<Pair<'a>>> {
        if self.at.is_none() {
            return self.last();
        }
        if let Some(p) = self.prev_dup()? {
            return Ok(Some(p));
        }
        let e = self.outer.prev_raw()?;
        self.enter(e, Side::Last)
    }

    /// The next value of the current key; None (staying put) after its last.
    pub fn next_dup(&mut self) -> Result<Option<Pair<'a>>> {
        let moved = match &mut self.at {
            None => false,
            Some((_, Inner::One(_))) => false,
            Some((_, Inner::Block(b, off))) => match b.at(*off)? {
                Some((_, next)) if next < b.bytes().len() => {
                    *off = next;
                    true
                }
                _ => false,
            },
            Some((_, Inner::Nested(c))) => {
                if c.next_raw()?.is_some() {
                    true
                } else {
                    c.last_raw()?;
                    false
                }
            }
        };
        if moved {
            self.current()
        } else {
            Ok(None)
        }
    }

    /// The previous value of the current key; None (staying put) before its first.
    pub fn prev_dup(&mut self) -> Result<Option<Pair<'a>>> {
        let moved = match &mut self.at {
            None => false,
            Some((_, Inner::One(_))) => false,
            Some((_, Inner::Block(b, off))) => match b.before(*off)? {
                Some(before) => {
                    *off = before;
                    true
                }
                None => false,
            },
            Some((_, Inner::Nested(c))) => {
                if c.prev_raw()?.is_some() {
                    true
                } else {
                    c.first_raw()?;
                    false
                }
            }
        };
        if moved {
            self.current()
        } else {
            Ok(None)
        }
    }

    /// The first value of the current key.
    pub fn first_dup(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.current_raw()?;
        self.enter(e, Side::First)
    }

    /// The last value of the current key.
    pub fn last_dup(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.current_raw()?;
        self.enter(e, Side::Last)
    }

    /// The first value of the next key (the first pair if unpositioned).
    pub fn next_key(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.next_raw()?;
        self.enter(e, Side::First)
    }

    /// The last value of the previous key (the last pair if unpositioned).
    pub fn prev_key(&mut self) -> Result<Option<Pair<'a>>> {
        let e = self.outer.prev_raw()?;
        self.enter(e, Side::Last)
    }

    /// The first value of the first key `>= key`.
    pub fn seek_key(&mut self, key: &[u8]) -> Result<Option<Pair<'a>>> {
        let e = self.outer.seek_raw(key)?;
        self.enter(e, Side::First)
    }

    /// The first value `>= value` of `key` itself; None (unpositioned) if `key` is
    /// absent or all its values are smaller.
    pub fn seek_value(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Pair<'a>>> {
        let e = match self.outer.seek_raw(key)? {
            Some(e) if self.rec.key_order().cmp(e.0, key) == std::cmp::Ordering::Equal => e,
            _ => {
                self.at = None;
                return Ok(None);
            }
        };
        let (k, v) = e;
        let inner = match classify(v, &self.rec, self.outer.leaf_pgno())? {
            Stored::One(one) if !self.rec.dup_order().less(one, value) => Some(Inner::One(one)),
            Stored::One(_) => None,
            Stored::Block(b) => match b.seek(value)? {
                (off, _) if off < b.bytes().len() => Some(Inner::Block(b, off)),
                _ => None,
            },
            Stored::Nested(n) => {
                let mut c = RawCursor::new(self.src, n);
                c.seek_raw(value)?.map(|_| Inner::Nested(c))
            }
        };
        self.at = inner.map(|i| (k, i));
        self.current()
    }

    /// Exactly the pair (`key`, `value`); None (unpositioned) if absent.
    pub fn seek_pair(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Pair<'a>>> {
        match self.seek_value(key, value)? {
            Some(p) if p.1 == value => Ok(Some(p)),
            _ => {
                self.at = None;
                Ok(None)
            }
        }
    }

    /// The current key's values from the current one to the end of the run holding it
    /// (a dup-fixed table's; see [`Run`]), standing on the run's last value afterwards;
    /// None if unpositioned.
    pub fn run(&mut self) -> Result<Option<(&'a [u8], Run<'a>)>> {
        let pgno = self.outer.leaf_pgno();
        let Some((key, inner)) = &mut self.at else {
            return Ok(None);
        };
        let run = match inner {
            Inner::One(v) => Run::Bytes(v),
            Inner::Block(b, off) => {
                let from = *off;
                *off = b.last()?.unwrap_or(from);
                let rest = b.bytes().get(from..).unwrap_or_default();
                Run::Bytes(rest)
            }
            Inner::Nested(c) => {
                let Some((node, idx)) = c.leaf_position() else {
                    return Err(Error::corrupted(
                        Corruption::Layout,
                        pgno,
                        "a nested tree cursor without a leaf",
                    ));
                };
                c.set_leaf_index(node.count() - 1);
                match node.keys_run(idx)? {
                    Some(bytes) => Run::Bytes(bytes),
                    None => Run::Leaf(node, idx),
                }
            }
        };
        Ok(Some((*key, run)))
    }

    /// The current key's next run of values (see [`RawDupCursor::run`]); None, staying
    /// put, after its last value.
    pub fn next_run(&mut self) -> Result<Option<(&'a [u8], Run<'a>)>> {
        if self.next_dup()?.is_none() {
            return Ok(None);
        }
        self.run()
    }

    /// How many values the current key has (0 if unpositioned).
    pub fn count(&self) -> Result<u64> {
        Ok(match &self.at {
            None => 0,
            Some((_, Inner::One(_))) => 1,
            Some((_, Inner::Block(b, _))) => b.count()? as u64,
            Some((_, Inner::Nested(c))) => c.record().entries,
        })
    }
}

/// The values of one key, in order, borrowed from the transaction. (The nested cursor
/// is inline on purpose, as in `Inner`.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum KeyValues<'a, S: PageSource + ?Sized> {
    Empty,
    One(&'a [u8]),
    Block(DupValues<'a>),
    /// A cursor on the nested tree, and the leaf it stands on with the index of the
    /// next value to hand out (None before the first). Values are read from the leaf
    /// directly; the cursor only moves from leaf to leaf.
    Nested(RawCursor<'a, S>, Option<(Node<'a>, usize)>),
}

impl<'a, S: PageSource + ?Sized> KeyValues<'a, S> {
    pub fn new(src: &'a S, rec: &TableRecord, key: &[u8]) -> Result<Self> {
        Ok(match stored(src, rec, key)? {
            None => KeyValues::Empty,
            Some(Stored::One(v)) => KeyValues::One(v),
            Some(Stored::Block(b)) => KeyValues::Block(b.values()),
            Some(Stored::Nested(n)) => KeyValues::Nested(RawCursor::new(src, n), None),
        })
    }
}

impl<'a, S: PageSource + ?Sized> Iterator for KeyValues<'a, S> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            KeyValues::Empty => None,
            KeyValues::One(v) => {
                let v = *v;
                *self = KeyValues::Empty;
                Some(Ok(v))
            }
            KeyValues::Block(it) => it.next(),
            KeyValues::Nested(c, at) => {
                let moved = match at {
                    Some((leaf, i)) if *i < leaf.count() => Ok(()),
                    Some((leaf, _)) => {
                        // This leaf is done: on to the first value of the next one.
                        c.set_leaf_index(leaf.count() - 1);
                        c.next_raw().map(drop)
                    }
                    None => c.first_raw().map(drop),
                };
                if let Err(e) = moved {
                    *self = KeyValues::Empty;
                    return Some(Err(e));
                }
                if !matches!(at, Some((leaf, i)) if *i < leaf.count()) {
                    // The cursor stands on its leaf's first value (a node page is never
                    // empty), or past the last leaf.
                    *at = c.leaf_position();
                }
                let Some((leaf, i)) = at.as_mut() else {
                    *self = KeyValues::Empty;
                    return None;
                };
                // A nested tree's leaves hold keys only: each key is a value.
                let v = leaf.key(*i);
                *i += 1;
                if v.is_err() {
                    *self = KeyValues::Empty;
                }
                Some(v)
            }
        }
    }
}
