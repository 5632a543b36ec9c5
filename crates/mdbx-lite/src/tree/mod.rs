//! The copy-on-write B+tree: search, insert and split, delete and merge (`btree`),
//! removing many entries in one pass (`sweep`), cursors (`cursor`), dup-sort tables'
//! values (`dups`), over the two page interfaces of `pages`; `small_bytes` keeps short
//! byte strings off the heap; `visit` lists every page of a tree.

pub(crate) mod btree;
pub(crate) mod cursor;
pub(crate) mod dups;
pub(crate) mod pages;
pub(crate) mod small_bytes;
pub(crate) mod sweep;
pub(crate) mod visit;
