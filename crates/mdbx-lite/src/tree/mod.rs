//! The copy-on-write B+tree: search, insert and split, delete and merge (`btree`), and
//! cursors (`cursor`), over pages read from a `PageSource`.

pub(crate) mod btree;
pub(crate) mod cursor;
