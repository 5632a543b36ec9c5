//! Key orders in the public API: how a table sorts its keys, and the checks that keep
//! a table from being opened in another order than the one it was built in.

use std::cmp::Ordering;

use crate::error::{Error, Result};
use crate::format::meta::{
    TableRecord, DUP_KIND_MASK, KEY_ORDER_MASK, TABLE_CUSTOMKEY, TABLE_INTEGERKEY, TABLE_REVERSEKEY,
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

/// A table's kind and key order in words, for `Error::TableKindMismatch`.
pub(crate) fn describe(flags: u32, comparator: &str) -> String {
    let kind = crate::api::transaction::kind_name(flags & DUP_KIND_MASK);
    match flags & KEY_ORDER_MASK {
        0 => kind.to_string(),
        TABLE_CUSTOMKEY => format!("{kind}, keys ordered by comparator {comparator:?}"),
        _ => format!("{kind}, {} keys", order_name(flags)),
    }
}

/// Bind the record of table `name` (as opened) to the order asked for: `None` (any
/// built-in order, or a user comparator the record already carries) or `Some(order)`
/// (exactly this order; a comparator of the stored name). `stored_name` reads the
/// comparator name the catalog stores for the table.
pub(crate) fn bind_order(
    name: &str,
    rec: &mut TableRecord,
    want: Option<KeyOrder>,
    stored_name: impl FnOnce() -> Result<String>,
) -> Result<()> {
    let custom = rec.flags & TABLE_CUSTOMKEY != 0;
    let stored = || -> Result<String> {
        match rec.compare {
            Some(c) => Ok(c.name().to_string()),
            None => stored_name(),
        }
    };
    match want {
        None if !custom || rec.compare.is_some() => Ok(()),
        None => Err(Error::ComparatorMissing {
            table: name.to_string(),
            comparator: stored()?,
        }),
        Some(order) => {
            let same_flags = rec.flags & KEY_ORDER_MASK == order.flags();
            let stored_name = if custom { stored()? } else { String::new() };
            let same_name = order.comparator().is_none_or(|c| c.name() == stored_name);
            if !same_flags || !same_name {
                let requested = rec.flags & !KEY_ORDER_MASK | order.flags();
                let asked = order.comparator().map_or("", |c| c.name());
                return Err(Error::TableKindMismatch {
                    table: name.to_string(),
                    stored: describe(rec.flags, &stored_name),
                    requested: describe(requested, asked),
                });
            }
            if let Some(c) = order.comparator() {
                rec.compare = Some(c);
            }
            Ok(())
        }
    }
}
