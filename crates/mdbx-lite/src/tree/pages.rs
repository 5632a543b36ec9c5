//! The two interfaces the tree works through: reading pages ([`PageSource`], provided by
//! committed snapshots and by write transactions) and changing them ([`PageWrite`],
//! provided by the transaction layer above).
//!
//! The tree knows nothing of where pages come from or go: not the free tree, readers,
//! durability or the environment. The writer decides which page numbers to hand out and
//! what becomes of freed ones; the tree only asks.

use crate::error::Result;
use crate::format::meta::TableRecord;
use crate::format::page::PageKind;

pub(crate) use crate::storage::snapshot::PageSource;

/// Allocation, copy-on-write and freeing of pages, for the tree's writes.
///
/// Invariants the implementation keeps: a page reachable from a committed meta is never
/// handed out for writing (`touch` copies it); a page number is handed out at most once
/// while in use; `rec`'s page counts follow every allocation and free.
pub(crate) trait PageWrite: PageSource {
    /// Bytes per page.
    fn page_size(&self) -> usize;
    /// The transaction writing (stamped into every page it writes).
    fn txnid(&self) -> u64;
    /// Whether this transaction already owns `pgno` (editing it costs no copy).
    fn is_dirty(&self, pgno: u64) -> bool;
    /// A page this transaction owns, for in-place edits; `Error::Internal` for another.
    fn page_mut(&mut self, pgno: u64) -> Result<&mut [u8]>;
    /// Make `pgno` writable: `pgno` itself if this transaction owns it, else the number
    /// of a new copy (the old page is freed once no snapshot can see it).
    fn touch(&mut self, pgno: u64) -> Result<u64>;
    /// A new empty branch or leaf page, counted in `rec`.
    fn alloc_node(&mut self, kind: PageKind, rec: &mut TableRecord) -> Result<u64>;
    /// Release node page `pgno` (a leaf if `leaf`), uncounting it from `rec`.
    fn free_node(&mut self, pgno: u64, leaf: bool, rec: &mut TableRecord) -> Result<()>;
    /// Store `value` in a new overflow run, counted in `rec`; returns its first page.
    fn write_overflow(&mut self, value: &[u8], rec: &mut TableRecord) -> Result<u64>;
    /// A new overflow run for a value of `len` zero bytes, counted in `rec`, kept in
    /// memory (its head page's buffer spans the run) until the transaction writes its
    /// pages, so the caller can fill it in place; returns its first page.
    fn reserve_overflow(&mut self, len: usize, rec: &mut TableRecord) -> Result<u64>;
    /// Release the overflow run at `pgno` holding a value of `len` bytes.
    fn free_overflow(&mut self, pgno: u64, len: usize, rec: &mut TableRecord) -> Result<()>;
}
