//! Key orders in the public API: how a table sorts its keys, and the checks that keep
//! a table from being opened in another order than the one it was built in.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::format::meta::{
    TableRecord, DUP_KIND_MASK, DUP_ORDER_MASK, KEY_ORDER_MASK, TABLE_CUSTOMDUP, TABLE_CUSTOMKEY,
    TABLE_INTEGERKEY, TABLE_REVERSEKEY,
};
use crate::format::order::{cmp_integer, cmp_reverse, Comparator};

/// How a table sorts its keys, fixed when it is created and stored with it.
///
/// The built-in orders are LMDB's: tables with them load from and dump to LMDB's
/// tools. Any table opens in its stored built-in order without naming it; a table
/// ordered by a [`Comparator`] must be opened with a comparator of the same name.
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use mdbx_lite::KeyOrder;
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut ids = wtx.create_table_with("ids", KeyOrder::Integer)?;
/// for id in [300u64, 2, 70_000] {
///     ids.put(&id.to_ne_bytes(), b"")?;
/// }
/// let keys: Vec<u64> = ids
///     .iter()
///     .map(|e| u64::from_ne_bytes(e.unwrap().0.try_into().unwrap()))
///     .collect();
/// assert_eq!(keys, [2, 300, 70_000]); // by value, not by bytes
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KeyOrder {
    /// Lexicographic by bytes, a key that is a prefix of another first.
    #[default]
    Bytes,
    /// Lexicographic from the last byte backwards (LMDB's `MDB_REVERSEKEY`): keys
    /// sharing a suffix sit together, e.g. domain names written forwards.
    Reverse,
    /// Native-endian unsigned integers (LMDB's `MDB_INTEGERKEY`): every key is a u32 or
    /// every key a u64 (the first key decides), compared by value. Any other size, or a
    /// size other than the table's, is `Error::IntegerSize`.
    Integer,
    /// A user comparator; the table records its name.
    Custom(Comparator),
}

impl KeyOrder {
    /// Compare two keys in this order.
    ///
    /// ```
    /// use mdbx_lite::KeyOrder;
    /// use std::cmp::Ordering;
    /// assert_eq!(KeyOrder::Reverse.compare(b"ba", b"ab"), Ordering::Less);
    /// let (two, ten) = (2u32.to_ne_bytes(), 10u32.to_ne_bytes());
    /// assert_eq!(KeyOrder::Integer.compare(&two, &ten), Ordering::Less);
    /// ```
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        match *self {
            KeyOrder::Bytes => a.cmp(b),
            KeyOrder::Reverse => cmp_reverse(a, b),
            KeyOrder::Integer => cmp_integer(a, b),
            KeyOrder::Custom(c) => c.compare(a, b),
        }
    }

    /// The record flag of this order.
    pub(crate) fn flags(self) -> u32 {
        match self {
            KeyOrder::Bytes => 0,
            KeyOrder::Reverse => TABLE_REVERSEKEY,
            KeyOrder::Integer => TABLE_INTEGERKEY,
            KeyOrder::Custom(_) => TABLE_CUSTOMKEY,
        }
    }

    pub(crate) fn comparator(self) -> Option<Comparator> {
        match self {
            KeyOrder::Custom(c) => Some(c),
            _ => None,
        }
    }

    /// The built-in order of record flags (`None` for a user comparator's).
    pub(crate) fn built_in(flags: u32) -> Option<KeyOrder> {
        match flags & KEY_ORDER_MASK {
            0 => Some(KeyOrder::Bytes),
            TABLE_REVERSEKEY => Some(KeyOrder::Reverse),
            TABLE_INTEGERKEY => Some(KeyOrder::Integer),
            _ => None,
        }
    }
}

/// How the key order of record flags reads in `stat` and messages.
pub(crate) fn order_name(flags: u32) -> &'static str {
    match flags & KEY_ORDER_MASK {
        0 => "bytes",
        TABLE_REVERSEKEY => "reverse",
        TABLE_INTEGERKEY => "integer",
        _ => "custom",
    }
}

/// A table's kind and orders in words, for `Error::TableKindMismatch`: `key_name` and
/// `value_name` are the names of its user comparators (empty if none).
pub(crate) fn describe(flags: u32, key_name: &str, value_name: &str) -> String {
    let kind = crate::api::transaction::kind_name(flags & DUP_KIND_MASK);
    let mut out = match flags & KEY_ORDER_MASK {
        0 => kind.to_string(),
        TABLE_CUSTOMKEY => format!("{kind}, keys ordered by comparator {key_name:?}"),
        _ => format!("{kind}, {} keys", order_name(flags)),
    };
    if flags & TABLE_CUSTOMDUP != 0 {
        out += &format!(", values ordered by comparator {value_name:?}");
    }
    out
}

/// The orders a table is opened in. `keys`: `None` accepts any built-in order (or a
/// user comparator the record already carries), `Some(order)` exactly this order (a
/// comparator of the stored name). `values`: the comparator of a dup-sort table whose
/// values are ordered by one (`None`: the record must already carry it, if it needs one).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Orders {
    pub keys: Option<KeyOrder>,
    pub values: Option<Comparator>,
}

impl Orders {
    /// Keys in order `keys`, values in whatever order the table has.
    pub fn keys(keys: Option<KeyOrder>) -> Orders {
        Orders { keys, values: None }
    }
}

/// Bind the record of table `name` (as opened) to the orders asked for (see
/// [`Orders`]). `stored_names` reads the comparator names the catalog stores for the
/// table (keys', values').
pub(crate) fn bind_order(
    name: &str,
    rec: &mut TableRecord,
    want: Orders,
    stored_names: impl FnOnce() -> Result<(String, String)>,
) -> Result<()> {
    let custom = rec.flags & TABLE_CUSTOMKEY != 0;
    let custom_dup = rec.flags & TABLE_CUSTOMDUP != 0;
    let needs_names = (custom && (rec.compare.is_none() || want.keys.is_some()))
        || (custom_dup && (rec.dup_compare.is_none() || want.values.is_some()));
    let (key_name, value_name) = if needs_names {
        let (k, v) = stored_names()?;
        let name_of =
            |c: Option<Comparator>, stored: String| c.map_or(stored, |c| c.name().to_string());
        (name_of(rec.compare, k), name_of(rec.dup_compare, v))
    } else {
        (String::new(), String::new())
    };
    let mismatch = |requested: u32, asked_key: &str, asked_value: &str| Error::TableKindMismatch {
        table: name.to_string(),
        stored: describe(rec.flags, &key_name, &value_name),
        requested: describe(requested, asked_key, asked_value),
    };
    if let Some(c) = want.values {
        if !custom_dup || c.name() != value_name {
            let requested = rec.flags & !DUP_ORDER_MASK | TABLE_CUSTOMDUP;
            return Err(mismatch(requested, &key_name, c.name()));
        }
    }
    if let Some(order) = want.keys {
        let same_flags = rec.flags & KEY_ORDER_MASK == order.flags();
        let same_name = order.comparator().is_none_or(|c| c.name() == key_name);
        if !same_flags || !same_name {
            let requested = rec.flags & !KEY_ORDER_MASK | order.flags();
            let asked = order.comparator().map_or("", |c| c.name());
            return Err(mismatch(requested, asked, &value_name));
        }
        if let Some(c) = order.comparator() {
            rec.compare = Some(c);
        }
    }
    if let Some(c) = want.values {
        rec.dup_compare = Some(c);
    }
    if custom && rec.compare.is_none() {
        return Err(Error::ComparatorMissing {
            table: name.to_string(),
            comparator: key_name,
        });
    }
    if custom_dup && rec.dup_compare.is_none() {
        return Err(Error::ComparatorMissing {
            table: name.to_string(),
            comparator: value_name,
        });
    }
    Ok(())
}
