//! The savepoint tree's values: the committed state a persistent savepoint names.
//!
//! The tree maps a savepoint's name (UTF-8, 1 to [`MAX_SAVEPOINT_NAME`] bytes, bytewise
//! order) to a value of [`SAVED_STATE_LEN`] bytes: the transaction id of the state, then
//! its main table record and its catalog record (each [`TABLE_RECORD_LEN`] bytes, as in
//! a meta). See `docs/format.md`, "Savepoint tree".

use crate::error::{Corruption, Error, Result};
use crate::format::meta::{TableRecord, TABLE_RECORD_LEN};
use crate::format::page::{rd_u64, wr_u64};

/// Longest savepoint name, in bytes.
pub const MAX_SAVEPOINT_NAME: usize = 255;
/// Bytes of a savepoint tree value.
pub const SAVED_STATE_LEN: usize = 8 + 2 * TABLE_RECORD_LEN;

/// The committed state a savepoint names: what a meta of transaction `txnid` recorded
/// for its data trees (the free tree and the savepoints are never part of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedState {
    pub txnid: u64,
    pub main: TableRecord,
    pub catalog: TableRecord,
}

impl SavedState {
    pub fn encode(&self) -> [u8; SAVED_STATE_LEN] {
        let mut b = [0u8; SAVED_STATE_LEN];
        wr_u64(&mut b, 0, self.txnid);
        b[8..8 + TABLE_RECORD_LEN].copy_from_slice(&self.main.encode());
        b[8 + TABLE_RECORD_LEN..].copy_from_slice(&self.catalog.encode());
        b
    }

    /// Decode a value read from page `page`; a malformed one is `Corrupted` there.
    pub fn decode(b: &[u8], page: u64) -> Result<SavedState> {
        if b.len() != SAVED_STATE_LEN {
            return Err(Error::corrupted(
                Corruption::Meta,
                page,
                format!("savepoint value of {} bytes", b.len()),
            ));
        }
        Ok(SavedState {
            txnid: rd_u64(b, 0),
            main: TableRecord::decode(&b[8..8 + TABLE_RECORD_LEN], page)?,
            catalog: TableRecord::decode(&b[8 + TABLE_RECORD_LEN..], page)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_round_trips_and_a_wrong_length_is_refused() {
        let s = SavedState {
            txnid: 77,
            main: TableRecord {
                root: 9,
                entries: 3,
                leaf_pages: 1,
                depth: 1,
                ..TableRecord::default()
            },
            catalog: TableRecord::default(),
        };
        let b = s.encode();
        assert_eq!(SavedState::decode(&b, 5).unwrap(), s);
        assert!(SavedState::decode(&b[..SAVED_STATE_LEN - 1], 5).is_err());
    }
}
