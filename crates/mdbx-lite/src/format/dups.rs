//! Dup blocks: the sorted values of one key of a dup-sort table, stored inline in the
//! key's leaf entry (flag `F_DUPS`) while they are few.
//!
//! A block holds two or more distinct values in ascending byte order. In a dup-fixed
//! table it is the values back to back (each the table's value size), so a run of them
//! is one slice; otherwise each value is a u16 length (little-endian) and its bytes.
//! Blocks are small (a leaf entry takes at most a quarter of a page), so walking one
//! from its start is cheap and keeps the format free of an offset table.

use crate::error::{Corruption, Error, Result};
use crate::format::order::Order;

/// Bytes a variable-size value adds to its length in a block.
pub const DUP_LEN_BYTES: usize = 2;

/// Bytes `value` takes in a block of a table with value size `fixed` (0: variable).
#[inline]
pub fn encoded_len(value_len: usize, fixed: usize) -> usize {
    if fixed > 0 {
        value_len
    } else {
        DUP_LEN_BYTES + value_len
    }
}

/// Append `values` (ascending, distinct) to `out` as a block.
pub fn encode<'v>(values: impl IntoIterator<Item = &'v [u8]>, fixed: usize, out: &mut Vec<u8>) {
    for v in values {
        if fixed == 0 {
            out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(v);
    }
}

/// A block borrowed from its page; offsets name values by where they start.
#[derive(Clone, Copy, Debug)]
pub struct DupBlock<'a> {
    bytes: &'a [u8],
    /// The table's value size, 0 for variable-size values.
    fixed: usize,
    /// The table's value order.
    order: Order,
    /// The page holding the block, for errors.
    pgno: u64,
}

impl<'a> DupBlock<'a> {
    pub fn new(bytes: &'a [u8], fixed: usize, order: Order, pgno: u64) -> DupBlock<'a> {
        DupBlock {
            bytes,
            fixed,
            order,
            pgno,
        }
    }

    /// The block's bytes (for a dup-fixed table, its values as one run).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn bad(&self, what: &str) -> Error {
        Error::corrupted(Corruption::Layout, self.pgno, format!("dup block: {what}"))
    }

    /// The value starting at byte `off` and the offset after it; None at the end.
    #[inline]
    pub fn at(&self, off: usize) -> Result<Option<(&'a [u8], usize)>> {
        if off >= self.bytes.len() {
            return Ok(None);
        }
        if self.fixed > 0 {
            let end = off + self.fixed;
            return match self.bytes.get(off..end) {
                Some(v) => Ok(Some((v, end))),
                None => Err(self.bad("length not a multiple of the value size")),
            };
        }
        let Some(len) = self.bytes.get(off..off + DUP_LEN_BYTES) else {
            return Err(self.bad("value length past the block end"));
        };
        let start = off + DUP_LEN_BYTES;
        let end = start + usize::from(u16::from_le_bytes([len[0], len[1]]));
        match self.bytes.get(start..end) {
            Some(v) => Ok(Some((v, end))),
            None => Err(self.bad("value past the block end")),
        }
    }

    /// The offset of the value before the one at `off` (None before the first).
    pub fn before(&self, off: usize) -> Result<Option<usize>> {
        if off == 0 {
            return Ok(None);
        }
        if self.fixed > 0 {
            return Ok(off.checked_sub(self.fixed));
        }
        let mut at = 0;
        while let Some((_, next)) = self.at(at)? {
            if next >= off {
                return Ok(Some(at));
            }
            at = next;
        }
        Ok(None)
    }

    /// The offset of the last value.
    pub fn last(&self) -> Result<Option<usize>> {
        self.before(self.bytes.len())
    }

    /// Number of values.
    pub fn count(&self) -> Result<usize> {
        // Dup-fixed: a division (`fixed` is 0 for variable-size values).
        if let Some(n) = self.bytes.len().checked_div(self.fixed) {
            return Ok(n);
        }
        let (mut n, mut at) = (0, 0);
        while let Some((_, next)) = self.at(at)? {
            n += 1;
            at = next;
        }
        Ok(n)
    }

    /// The offset of the first value `>= value` (the block's length if none), and
    /// whether it equals `value`.
    pub fn seek(&self, value: &[u8]) -> Result<(usize, bool)> {
        let mut at = 0;
        while let Some((v, next)) = self.at(at)? {
            match self.order.cmp(v, value) {
                std::cmp::Ordering::Less => at = next,
                o => return Ok((at, o == std::cmp::Ordering::Equal)),
            }
        }
        Ok((self.bytes.len(), false))
    }

    /// Every value, in order.
    pub fn values(&self) -> DupValues<'a> {
        DupValues {
            block: *self,
            at: 0,
        }
    }

    /// The format's rules for a stored block: at least two values, ascending and
    /// distinct, each of the table's size (dup-fixed) and within `max_value` bytes.
    /// In an order that cannot be searched ([`Order::Missing`]) the order is not checked.
    pub fn validate(&self, max_value: usize) -> std::result::Result<usize, String> {
        if self.fixed > 0 && !self.bytes.len().is_multiple_of(self.fixed) {
            return Err(format!(
                "{} bytes, not a multiple of the value size {}",
                self.bytes.len(),
                self.fixed
            ));
        }
        let mut prev: Option<&[u8]> = None;
        let mut n = 0;
        for v in self.values() {
            let v = v.map_err(|e| e.to_string())?;
            if v.len() > max_value {
                return Err(format!(
                    "a value of {} bytes (at most {max_value})",
                    v.len()
                ));
            }
            // (Values ordered by a comparator this process lacks are not judged.)
            let misordered = |p: &[u8]| self.order.searchable() && !self.order.less(p, v);
            if prev.is_some_and(misordered) {
                return Err(format!("values {} and {} out of order", n, n + 1));
            }
            prev = Some(v);
            n += 1;
        }
        if n < 2 {
            return Err(format!("{n} values (a block holds two or more)"));
        }
        Ok(n)
    }
}

/// The values of a block, in order.
pub struct DupValues<'a> {
    block: DupBlock<'a>,
    at: usize,
}

impl<'a> Iterator for DupValues<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.block.at(self.at) {
            Ok(Some((v, next))) => {
                self.at = next;
                Some(Ok(v))
            }
            Ok(None) => None,
            Err(e) => {
                self.at = usize::MAX;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(values: &[&[u8]], fixed: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode(values.iter().copied(), fixed, &mut out);
        out
    }

    #[test]
    fn variable_blocks_walk_both_ways_and_seek() {
        let vals: [&[u8]; 4] = [b"", b"a", b"ab", b"b"];
        let bytes = block(&vals, 0);
        let b = DupBlock::new(&bytes, 0, Order::Bytes, 9);
        assert_eq!(b.count().unwrap(), 4);
        assert_eq!(b.validate(10), Ok(4));
        let got: Vec<_> = b.values().map(|v| v.unwrap().to_vec()).collect();
        assert_eq!(got, vals.iter().map(|v| v.to_vec()).collect::<Vec<_>>());
        let last = b.last().unwrap().unwrap();
        assert_eq!(b.at(last).unwrap().unwrap().0, b"b");
        let before = b.before(last).unwrap().unwrap();
        assert_eq!(b.at(before).unwrap().unwrap().0, b"ab");
        assert_eq!(b.before(0).unwrap(), None);
        let (at, exact) = b.seek(b"aa").unwrap();
        assert!(!exact);
        assert_eq!(b.at(at).unwrap().unwrap().0, b"ab");
        assert_eq!(b.seek(b"c").unwrap(), (bytes.len(), false));
        assert!(b.seek(b"a").unwrap().1);
    }

    #[test]
    fn fixed_blocks_are_their_values_back_to_back() {
        let vals: [&[u8]; 3] = [b"aaaa", b"aaab", b"zzzz"];
        let bytes = block(&vals, 4);
        assert_eq!(bytes, b"aaaaaaabzzzz");
        let b = DupBlock::new(&bytes, 4, Order::Bytes, 9);
        assert_eq!(b.count().unwrap(), 3);
        assert_eq!(b.before(8).unwrap(), Some(4));
        assert_eq!(b.validate(4), Ok(3));
    }

    #[test]
    fn damaged_blocks_are_refused() {
        let mut bytes = block(&[b"b", b"a"], 0);
        let b = DupBlock::new(&bytes, 0, Order::Bytes, 9);
        assert!(b.validate(10).unwrap_err().contains("out of order"));
        bytes.truncate(bytes.len() - 1);
        let b = DupBlock::new(&bytes, 0, Order::Bytes, 9);
        assert!(b.count().is_err());
        assert!(DupBlock::new(b"abcde", 2, Order::Bytes, 9)
            .validate(2)
            .is_err());
        let one = block(&[b"a"], 0);
        assert!(DupBlock::new(&one, 0, Order::Bytes, 9).validate(2).is_err());
        assert!(DupBlock::new(&[0xff, 0xff, 1], 0, Order::Bytes, 9)
            .values()
            .next()
            .unwrap()
            .is_err());
    }
}
