//! The public face: environments (`env`: open, lock file, recovery, durability) and
//! transactions with their table handles (`transaction`), dup-sort tables
//! (`dup_table`), cursors that write (`cursor_mut`), key orders (`order`), nested
//! transactions and savepoints (`nested`), persistent savepoints (`persistent`), and
//! the typed layer over them: key and value encodings (`codec`) and typed table
//! definitions and handles (`typed`).

pub(crate) mod codec;
pub(crate) mod cursor_mut;
pub(crate) mod dup_table;
pub(crate) mod env;
pub(crate) mod nested;
pub(crate) mod order;
pub(crate) mod persistent;
#[cfg(feature = "serde")]
pub(crate) mod serde_codec;
pub(crate) mod transaction;
pub(crate) mod typed;

#[cfg(test)]
mod txn_tests;
