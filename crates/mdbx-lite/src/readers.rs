//! The reader table: which snapshots live read transactions hold.
//!
//! A fixed array of slots made only of atomics (snapshot id, process id, owner token),
//! so the same layout can later live in the shared lock file for multi-process readers.
//! The writer scans it to find the oldest snapshot still in use; pages freed after that
//! snapshot are not reused.
//!
//! Why scanning without a lock is safe: a reader publishes its slot while holding the
//! environment's state lock, and the writer publishes a new commit under the same lock.
//! So a reader either registered before a commit became visible (and every later writer
//! sees its slot) or it reads the newer snapshot. A writer building on snapshot `L`
//! never reuses pages freed after `L` anyway, so a reader registering on `L` concurrently
//! is safe too.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, Result};

#[derive(Default)]
struct Slot {
    /// Snapshot txn id + 1; 0 marks a free slot.
    txn: AtomicU64,
    pid: AtomicU32,
    token: AtomicU64,
}

pub(crate) struct ReaderTable {
    slots: Box<[Slot]>,
    next_token: AtomicU64,
}

/// One reader's view of its slot, for statistics and `mdbx-lite readers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderInfo {
    pub slot: usize,
    pub txnid: u64,
    pub pid: u32,
    pub token: u64,
}

impl ReaderTable {
    pub fn new(max: usize) -> ReaderTable {
        ReaderTable {
            slots: (0..max.max(1)).map(|_| Slot::default()).collect(),
            next_token: AtomicU64::new(1),
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Claim a slot for a reader of snapshot `txnid`.
    pub fn register(&self, txnid: u64) -> Result<usize> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        for (i, s) in self.slots.iter().enumerate() {
            if s.txn.load(Ordering::Relaxed) == 0
                && s.txn
                    .compare_exchange(0, txnid + 1, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                s.pid.store(std::process::id(), Ordering::Relaxed);
                s.token.store(token, Ordering::Relaxed);
                return Ok(i);
            }
        }
        Err(Error::ReadersFull {
            max: self.slots.len(),
        })
    }

    pub fn release(&self, slot: usize) {
        if let Some(s) = self.slots.get(slot) {
            s.token.store(0, Ordering::Relaxed);
            s.txn.store(0, Ordering::SeqCst);
        }
    }

    /// The oldest snapshot held by any reader.
    pub fn oldest(&self) -> Option<u64> {
        self.slots
            .iter()
            .map(|s| s.txn.load(Ordering::SeqCst))
            .filter(|&t| t != 0)
            .min()
            .map(|t| t - 1)
    }

    pub fn list(&self) -> Vec<ReaderInfo> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let t = s.txn.load(Ordering::SeqCst);
                (t != 0).then(|| ReaderInfo {
                    slot: i,
                    txnid: t - 1,
                    pid: s.pid.load(Ordering::Relaxed),
                    token: s.token.load(Ordering::Relaxed),
                })
            })
            .collect()
    }
}
