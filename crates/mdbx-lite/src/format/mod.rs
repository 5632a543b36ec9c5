//! Pure codecs of the file format, no I/O: the page header and node layout (`page`),
//! the meta page and table record (`meta`), dup-sort tables' inline values (`dups`),
//! the free tree's records (`free`) and the savepoint tree's values (`savepoint`).
//! `docs/format.md` is their specification.

pub(crate) mod dups;
pub(crate) mod free;
pub(crate) mod meta;
pub(crate) mod order;
pub(crate) mod page;
pub(crate) mod savepoint;
