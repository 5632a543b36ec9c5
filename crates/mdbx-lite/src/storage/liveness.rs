//! Whether an environment, in any process, is still open: each environment with a
//! writable lock file holds, for as long as it is open, an exclusive record lock on one
//! byte of the lock file, at `LIVENESS_BASE + id`, where `id` is unique to it (drawn from
//! a counter in the lock file's header). The kernel drops that lock when the process
//! dies, however it dies, and knows it across pid namespaces, pid reuse and reboots,
//! which a pid could not tell apart. Asking costs one `F_OFD_GETLK`.
//!
//! The writer lock names its holder by liveness id, and reader slots name their owner by
//! it (`readers`), so a dead holder or reader is told from a live one by the kernel.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use crate::os::map::{lock_range, locked_by_another};

/// Where the liveness bytes start in the lock file: past any reader table (at most
/// 64 MiB), so they never overlap the bytes the table's initialisation locks.
pub(crate) const LIVENESS_BASE: u64 = 1 << 32;
/// Ids stay below this (bit 63 of the writer lock's word is its contended mark).
const ID_LIMIT: u64 = 1 << 62;

/// This environment's liveness id and the open lock file through which it holds the
/// id's byte (dropping it, like the process's death, releases the byte).
pub(crate) struct Liveness {
    file: File,
    id: u64,
}

impl Liveness {
    /// Draw an id from `next_id` and lock its byte through `file`, which must be this
    /// environment's own open of the lock file.
    pub fn register(file: File, next_id: &AtomicU64) -> io::Result<Liveness> {
        for _ in 0..64 {
            let id = next_id.fetch_add(1, SeqCst).wrapping_add(1);
            if id == 0 || id >= ID_LIMIT {
                continue;
            }
            // Ids are unique while the counter is not tampered with; a byte still held
            // (a counter reset by hand, say) is skipped.
            if lock_range(&file, LIVENESS_BASE + id, 1, false)? {
                return Ok(Liveness { file, id });
            }
        }
        Err(io::Error::other(
            "no free liveness id in the lock file (its counter was tampered with?)",
        ))
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The lock file this liveness is held through.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Whether the environment with liveness id `id` is still open somewhere. Our own id
    /// counts as gone: no other environment can hold anything under it, so whatever this
    /// environment finds under it is a leftover of its own (a leaked transaction).
    pub fn is_alive(&self, id: u64) -> io::Result<bool> {
        if id == self.id || id == 0 || id >= ID_LIMIT {
            return Ok(false);
        }
        locked_by_another(&self.file, LIVENESS_BASE + id, 1)
    }
}
