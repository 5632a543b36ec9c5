//! Key orders: how a tree sorts its keys (and a dup-sort table its values).
//!
//! A table's order is part of its record (`meta::TABLE_REVERSEKEY`,
//! `meta::TABLE_INTEGERKEY`, `meta::TABLE_CUSTOMKEY`); every search, split, separator
//! and check of the tree follows it. Only the bytewise order lets pages keep a page
//! prefix, truncated separators and slot heads that decide comparisons: in the other
//! orders keys next to each other need not share leading bytes, so their pages keep a
//! prefix length of 0, separators are whole keys, and searches compare whole keys.

use std::cmp::Ordering;

/// A user comparator: a total order on byte strings.
pub type CompareFn = fn(&[u8], &[u8]) -> Ordering;

/// A named user comparator for [`crate::KeyOrder::Custom`].
///
/// The table records the name (1 to 255 bytes, no 0 byte), never the function:
/// opening the table again needs a comparator of the same name, so a table is not
/// searched in another order than the one that sorted it. The function must be a total
/// order that never changes for a name; two comparators are equal when they have the
/// same name.
///
/// ```
/// use mdbx_lite::Comparator;
/// // Keys ordered case-insensitively, then bytewise to keep distinct keys apart.
/// fn ascii_ci(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
///     a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()).then(a.cmp(b))
/// }
/// const ASCII_CI: Comparator = Comparator::new("ascii-ci", ascii_ci);
/// assert_eq!(ASCII_CI.name(), "ascii-ci");
/// ```
#[derive(Clone, Copy)]
pub struct Comparator {
    pub(crate) name: &'static str,
    pub(crate) f: CompareFn,
}

impl Comparator {
    /// A comparator called `name`.
    pub const fn new(name: &'static str, compare: CompareFn) -> Comparator {
        Comparator { name, f: compare }
    }

    /// Its name, as tables ordered by it record it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Compare two keys.
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        (self.f)(a, b)
    }
}

/// Equal names are equal comparators: a name stands for one order (the table records
/// nothing else), and function addresses are no identity (one function may have
/// several).
impl PartialEq for Comparator {
    fn eq(&self, other: &Comparator) -> bool {
        self.name == other.name
    }
}

impl Eq for Comparator {}

impl std::fmt::Debug for Comparator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Comparator({:?})", self.name)
    }
}

/// How one tree orders its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Lexicographic by bytes, shorter first on a tie (the default).
    Bytes,
    /// Lexicographic from the last byte backwards, shorter first on a tie (LMDB's
    /// `MDB_REVERSEKEY`).
    Reverse,
    /// Native-endian unsigned integers of 4 or 8 bytes compared by value (LMDB's
    /// `MDB_INTEGERKEY`). Every key of one tree has the same size; keys of different
    /// sizes (only a damaged or misused tree has them) sort by size first.
    Integer,
    /// A user comparator.
    Custom(Comparator),
    /// A user comparator this process was not given: the tree can be walked in its
    /// stored order, but not searched or changed.
    Missing,
}

impl Order {
    /// Whether this is the bytewise order (page prefixes, short separators and slot
    /// heads apply).
    #[inline(always)]
    pub fn is_bytewise(self) -> bool {
        matches!(self, Order::Bytes)
    }

    /// Compare two keys. `Missing` compares bytewise: callers refuse to search or write
    /// such a tree before they compare (see [`Order::searchable`]).
    #[inline]
    pub fn cmp(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Order::Bytes | Order::Missing => cmp_bytes(a, b),
            Order::Reverse => cmp_reverse(a, b),
            Order::Integer => cmp_integer(a, b),
            Order::Custom(c) => (c.f)(a, b),
        }
    }

    /// Whether `a < b`.
    #[inline]
    pub fn less(self, a: &[u8], b: &[u8]) -> bool {
        self.cmp(a, b) == Ordering::Less
    }

    /// Whether the tree can be searched in this order (its comparator is known).
    #[inline]
    pub fn searchable(self) -> bool {
        !matches!(self, Order::Missing)
    }
}

/// Bytewise order, deciding most pairs of keys of 8 bytes or more on their first 8
/// bytes read as one big-endian integer (equal to comparing those bytes), without a call
/// into `memcmp`.
#[inline]
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    if a.len() >= 8 && b.len() >= 8 {
        let (x, y) = (u64::from_be_bytes(to8(a)), u64::from_be_bytes(to8(b)));
        if x != y {
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

/// Bytes compared from the end: the last bytes first, a key that is a suffix of the
/// other first.
pub fn cmp_reverse(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// Native-endian unsigned integers of 4 or 8 bytes; other sizes by size, then bytes.
#[inline]
pub fn cmp_integer(a: &[u8], b: &[u8]) -> Ordering {
    match (a.len(), b.len()) {
        (8, 8) => u64::from_ne_bytes(to8(a)).cmp(&u64::from_ne_bytes(to8(b))),
        (4, 4) => u32::from_ne_bytes(to4(a)).cmp(&u32::from_ne_bytes(to4(b))),
        (x, y) if x != y => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[inline(always)]
fn to8(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}

#[inline(always)]
fn to4(b: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&b[..4]);
    out
}

/// Whether `len` is a size integer keys (and integer-dup values) may have.
pub fn is_integer_size(len: usize) -> bool {
    len == 4 || len == 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_compares_from_the_last_byte() {
        assert_eq!(cmp_reverse(b"ba", b"ab"), Ordering::Less);
        assert_eq!(cmp_reverse(b"a", b"ba"), Ordering::Less);
        assert_eq!(cmp_reverse(b"", b"a"), Ordering::Less);
        assert_eq!(cmp_reverse(b"xa", b"xa"), Ordering::Equal);
    }

    #[test]
    fn integers_compare_by_value() {
        let k = |v: u64| v.to_ne_bytes();
        assert_eq!(cmp_integer(&k(255), &k(256)), Ordering::Less);
        assert_eq!(cmp_integer(&k(u64::MAX), &k(1)), Ordering::Greater);
        let s = |v: u32| v.to_ne_bytes();
        assert_eq!(cmp_integer(&s(65_536), &s(255)), Ordering::Greater);
        assert_eq!(cmp_integer(&s(7), &k(1)), Ordering::Less);
    }
}
