//! The write transaction's machinery between the API and the tree.
//!
//! Bottom to top: `horizon` (which freed pages no snapshot can see), `dirty` (the
//! transaction's page buffers), `alloc` (which page numbers it may use), `file` (growth,
//! remapping and every write to the file), `pager` (all of these combined into the
//! transaction's view of pages, with copy-on-write mechanics); none of them knows the
//! B+tree. Above the tree: `reclaim` (finding reusable pages in the free tree),
//! `write_pages` (the page interface the tree writes through while the transaction
//! runs), `free_save` (recording free space in the free tree at commit, through a
//! page interface of its own that never reclaims) and `restore` (making a persistent
//! savepoint's state current).

pub(crate) mod alloc;
pub(crate) mod dirty;
pub(crate) mod file;
pub(crate) mod free_save;
pub(crate) mod horizon;
pub(crate) mod page_index;
pub(crate) mod page_slab;
pub(crate) mod pager;
pub(crate) mod reclaim;
pub(crate) mod restore;
pub(crate) mod write_pages;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::os::map::Mapping;

/// The running write transaction's memory, for `stat` (0 when none runs).
#[derive(Debug, Default)]
pub(crate) struct WriterGauges {
    /// Bytes of dirty page buffers held in memory.
    pub dirty_bytes: AtomicU64,
    /// Pages written early (past the dirty limit).
    pub spilled_pages: AtomicU64,
}

impl WriterGauges {
    pub fn set(&self, dirty_bytes: u64, spilled_pages: u64) {
        self.dirty_bytes.store(dirty_bytes, Ordering::Relaxed);
        self.spilled_pages.store(spilled_pages, Ordering::Relaxed);
    }
}

/// State kept between write transactions, owned by whoever holds the writer lock.
pub(crate) struct WriterState {
    pub file_len: u64,
    pub map: Arc<Mapping>,
    /// What the last commit learned about groups above the reuse limit.
    pub young_floor: Option<reclaim::YoungFloor>,
    /// Page buffers of finished transactions, kept for the next ones (see
    /// `page_slab`).
    pub spare_pages: page_slab::PageSlab,
    /// The meta in the slot beside the head, as last read under the writer lock: the
    /// state a crash may fall back to when the head is not yet durable.
    pub other_meta: Option<crate::format::meta::Meta>,
    /// The head meta (`Meta::key`) when this writer last knew the file's
    /// length for certain (it measured it, or committed on top of it): while the file's
    /// head is still that meta, no other environment committed, and the next write
    /// transaction need not measure the file.
    pub head_seen: Option<crate::format::meta::MetaKey>,
}
