//! Environment statistics: the gauges of the off-heap discipline.

use std::sync::atomic::Ordering;

use crate::api::persistent::{protected_savepoints, saved_states};
use crate::api::transaction::TableStat;
use crate::error::Result;
use crate::format::free::{parse_free_entries, parse_free_key};
use crate::storage::metas::read_meta_pair;
use crate::tree::cursor::RawCursor;
use crate::Env;

/// A snapshot of the environment's gauges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvStat {
    /// The database's page size in bytes.
    pub page_size: usize,
    /// Length of the database file.
    pub file_bytes: u64,
    /// Address space reserved by the current mapping.
    pub mapped_bytes: u64,
    /// Bytes of the file resident in the page cache (mincore).
    pub resident_bytes: u64,
    /// Id of the latest committed transaction.
    pub last_txnid: u64,
    /// Pages ever allocated (the high-water mark), metas included.
    pub high_water_pages: u64,
    /// Pages listed in the free tree.
    pub free_pages: u64,
    /// Free pages the next write transaction may reuse.
    pub reusable_pages: u64,
    /// Free pages held back: a live reader, a persistent savepoint (or, without `Full`
    /// durability, a meta that a crash could fall back to) can still see them.
    pub held_pages: u64,
    /// Live read transactions, and the most there can be.
    pub readers: usize,
    /// Reader slots in the lock file (or in memory, for a private reader table).
    pub max_readers: usize,
    /// Transactions committed since the oldest live reader's snapshot (0 if none).
    pub oldest_reader_lag: u64,
    /// The main table.
    pub main: TableStat,
    /// Number of named tables.
    pub tables: usize,
    /// The persistent savepoints, sorted by name.
    pub savepoints: Vec<SavepointStat>,
    /// Bytes of dirty pages the running write transaction of this environment holds in
    /// memory (0 when none runs; updated every 256 pages).
    pub writer_dirty_bytes: u64,
    /// Pages that transaction wrote early, past its dirty limit
    /// ([`crate::EnvBuilder::dirty_limit`]).
    pub writer_spilled_pages: u64,
}

/// A persistent savepoint and the free space it keeps from reuse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavepointStat {
    /// Its name.
    pub name: String,
    /// The transaction id of the state it names.
    pub txnid: u64,
    /// Free pages that state still reaches: freed since, kept from reuse while the
    /// savepoint exists (other snapshots may see some of them too).
    pub held_pages: u64,
}

impl Env {
    /// Gather the environment statistics (walks the free tree; cheap).
    ///
    /// # Errors
    /// `Error::ReadersFull`, or `Error::Io` / `Error::Corrupted` reading the free tree.
    pub fn stat(&self) -> Result<EnvStat> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let inner = &self.inner;
        // Our own read transaction is one of the readers: it holds the newest snapshot,
        // which sees no freed page, so the horizon is the same with or without it.
        let saved = saved_states(&snap.pages, &snap.meta.savepoints)?;
        // The meta beside the head, for the savepoints a writer still protects.
        let len = inner.storage.len()?;
        let other = read_meta_pair(
            inner.storage.as_ref(),
            len,
            Some(inner.page_size),
            &inner.meta_trust,
        )
        .ok()
        .and_then(|p| p.other);
        let durable = inner.durable_txnid.load(Ordering::SeqCst);
        // (That meta is read outside the writer lock: should its tree not read, the
        // head's savepoints still give the horizon.)
        let ids = protected_savepoints(&snap.pages, &snap.meta, other, durable)
            .unwrap_or_else(|_| saved.iter().map(|(_, s)| s.txnid).collect());
        let horizon = inner.reuse_horizon(snap.meta.txnid, &ids);
        let readers = inner.readers.list();
        let others: Vec<_> = readers.iter().filter(|r| r.slot != rtx.slot()).collect();
        let mut savepoints: Vec<SavepointStat> = saved
            .iter()
            .map(|(name, s)| SavepointStat {
                name: name.clone(),
                txnid: s.txnid,
                held_pages: 0,
            })
            .collect();
        let (mut free, mut reusable) = (0u64, 0u64);
        let mut cur = RawCursor::new(&snap.pages, snap.meta.free);
        let mut item = cur.first()?;
        while let Some((k, v)) = item {
            let leaf = cur.leaf_pgno();
            let (txnid, _) = parse_free_key(k, leaf)?;
            for (_, birth) in parse_free_entries(v, leaf)? {
                free += 1;
                for (sp, (_, s)) in savepoints.iter_mut().zip(&saved) {
                    if birth <= s.txnid && s.txnid < txnid {
                        sp.held_pages += 1;
                    }
                }
                if horizon.reusable(birth, txnid) {
                    reusable += 1;
                }
            }
            item = cur.next()?;
        }
        let oldest = others.iter().map(|r| r.txnid).min();
        let file_bytes = inner.storage.len()?;
        let resident = snap
            .pages
            .map
            .resident_bytes(file_bytes.min(snap.pages.map.reserved() as u64) as usize)
            .unwrap_or(0);
        Ok(EnvStat {
            page_size: inner.page_size,
            file_bytes,
            mapped_bytes: snap.pages.map.reserved() as u64,
            resident_bytes: resident,
            last_txnid: snap.meta.txnid,
            high_water_pages: snap.meta.high_water,
            free_pages: free,
            reusable_pages: reusable,
            held_pages: free - reusable,
            readers: others.len(),
            max_readers: inner.readers.capacity(),
            // A reader of another process may hold a snapshot newer than ours (a commit
            // landed after our own read began): no lag, not an underflow.
            oldest_reader_lag: oldest
                .map(|o| snap.meta.txnid.saturating_sub(o))
                .unwrap_or(0),
            main: rtx.main_table().stat(),
            tables: rtx.list_tables()?.len(),
            savepoints,
            writer_dirty_bytes: inner.writer_gauges.dirty_bytes.load(Ordering::Relaxed),
            writer_spilled_pages: inner.writer_gauges.spilled_pages.load(Ordering::Relaxed),
        })
    }
}
