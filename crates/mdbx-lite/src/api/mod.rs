//! The public face: environments (`env`: open, lock file, recovery, durability) and
//! transactions with their table handles (`transaction`), dup-sort tables
//! (`dup_table`), key orders (`order`).

pub(crate) mod dup_table;
pub(crate) mod env;
pub(crate) mod order;
pub(crate) mod transaction;

#[cfg(test)]
mod txn_tests;
