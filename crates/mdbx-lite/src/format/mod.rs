//! Pure codecs of the file format, no I/O: the page header and node layout (`page`),
//! and the meta page and table record (`meta`). `docs/format.md` is their specification.

pub(crate) mod meta;
pub(crate) mod page;
