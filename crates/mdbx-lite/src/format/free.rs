//! The free tree's records: which pages each transaction freed, and when each was
//! written.
//!
//! Key: the freeing transaction's id (u64 big-endian, so groups sort by id) and a chunk
//! number (u32 big-endian). Value: entries of page number and birth (the transaction
//! that wrote the page), both u64 little-endian, sorted by page. `docs/format.md`
//! specifies the layout; decoding checks lengths only, the meaning is the writer's and
//! the checker's to verify.

use crate::error::{Corruption, Error, Result};
use crate::format::page;

/// Bytes of a free-tree key: freeing transaction (8) and chunk number (4).
pub(crate) const FREE_KEY_LEN: usize = 12;

/// Bytes of one free-tree entry: page number and birth.
pub(crate) const FREE_ENTRY_LEN: usize = 16;

/// The key of chunk `chunk` of the group freed by `txnid`.
pub(crate) fn free_key(txnid: u64, chunk: u32) -> [u8; FREE_KEY_LEN] {
    let mut k = [0u8; FREE_KEY_LEN];
    k[..8].copy_from_slice(&txnid.to_be_bytes());
    k[8..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// Decode a free-tree key (found on page `page`) into (txnid, chunk).
pub(crate) fn parse_free_key(key: &[u8], page: u64) -> Result<(u64, u32)> {
    if key.len() != FREE_KEY_LEN {
        return Err(Error::corrupted(
            Corruption::FreeSpace,
            page,
            format!("free-tree key of {} bytes", key.len()),
        ));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&key[..8]);
    let mut c = [0u8; 4];
    c.copy_from_slice(&key[8..]);
    Ok((u64::from_be_bytes(t), u32::from_be_bytes(c)))
}

/// Decode a free-tree value into page numbers.
pub(crate) fn parse_free_value(v: &[u8], page: u64) -> Result<impl Iterator<Item = u64> + '_> {
    Ok(parse_free_entries(v, page)?.map(|(p, _)| p))
}

/// Decode a free-tree value (found on page `page`) into (page number, birth) entries.
pub(crate) fn parse_free_entries(
    v: &[u8],
    page: u64,
) -> Result<impl Iterator<Item = (u64, u64)> + '_> {
    if !v.len().is_multiple_of(FREE_ENTRY_LEN) {
        return Err(Error::corrupted(
            Corruption::FreeSpace,
            page,
            format!("free-tree value of {} bytes", v.len()),
        ));
    }
    Ok(v.chunks_exact(FREE_ENTRY_LEN)
        .map(|c| (page::rd_u64(c, 0), page::rd_u64(c, 8))))
}

/// Encode (page number, birth) entries as one free-tree value.
pub(crate) fn encode_free_entries(entries: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * FREE_ENTRY_LEN);
    for (p, birth) in entries {
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&birth.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_group_then_chunk_and_decode_back() {
        assert!(free_key(1, u32::MAX) < free_key(2, 0));
        assert!(free_key(7, 1) < free_key(7, 2));
        assert_eq!(
            parse_free_key(&free_key(1 << 40, 9), 5).unwrap(),
            (1 << 40, 9)
        );
        assert!(matches!(
            parse_free_key(&[0; 11], 5),
            Err(Error::Corrupted { page: 5, .. })
        ));
    }

    #[test]
    fn entries_round_trip_and_partial_entries_are_refused() {
        let entries = [(3, 1), (9, 4), (u64::MAX - 1, 2)];
        let v = encode_free_entries(&entries);
        assert_eq!(v.len(), 3 * FREE_ENTRY_LEN);
        let back: Vec<_> = parse_free_entries(&v, 1).unwrap().collect();
        assert_eq!(back, entries);
        let pages: Vec<_> = parse_free_value(&v, 1).unwrap().collect();
        assert_eq!(pages, [3, 9, u64::MAX - 1]);
        assert!(parse_free_entries(&v[..17], 1).is_err());
        assert_eq!(parse_free_entries(&[], 1).unwrap().count(), 0);
    }
}
