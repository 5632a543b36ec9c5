//! The reader table: which snapshots live read transactions hold, in every process.
//!
//! The table is an array of 64-bit atomic words. Normally it lives in the lock file
//! (`<db>-lock`), mapped shared by every process that opens the database, so a writer
//! in any process sees the readers of all of them. When the lock file cannot be written
//! (read-only open of a file whose lock file is missing or not writable), the same
//! layout lives in process memory and only this process's readers are visible.
//!
//! Layout (words of 8 bytes, little-endian as the CPU stores them):
//!
//! | word | content |
//! |---:|---|
//! | 0 | magic `MDBXLOCK` |
//! | 1 | version (low 32 bits), slot count (high 32 bits) |
//! | 2 | id of the latest commit (a hint: written by the writer after each commit) |
//! | 3 | 1 while a failed sync or meta write of any process awaits recovery, else 0 |
//! | 4 | writer lock: owner (see `writer_lock`; version 2) |
//! | 5 | writer lock: wake-up counter (version 2) |
//! | 6 | last liveness id handed out (`liveness`) |
//! | 7 | reserved |
//! | 8 + 8i | slot i: snapshot id + 1 (0 = free, `u64::MAX` = being claimed) |
//! | 9 + 8i | slot i: process id |
//! | 10 + 8i | slot i: process start time (clock ticks since boot, from /proc) |
//! | 11 + 8i | slot i: owner token (unique per read transaction in its process) |
//! | 12 + 8i | slot i: the owning environment's liveness id (`liveness`; 0: none) |
//! | 13..16 + 8i | reserved (a slot fills one 64-byte cache line) |
//!
//! Registration (why a writer scanning without a lock never misses a reader that needs
//! protecting): a reader claims a slot, publishes the id `T` of the newest commit it
//! knows, then re-reads the commit hint. If the hint is still `T`, any later commit
//! stores its hint after our publication, and the writer after that one — the first that
//! may reuse pages `T` can see — starts after it and sees our slot. If the hint moved,
//! the reader republishes the newer snapshot and checks again. (A writer concurrent with
//! the publication builds on `T` itself and never reuses pages `T` can reach.)
//!
//! Liveness (version 2): a slot names its environment's liveness id, and a slot whose id
//! the kernel no longer holds is stale. Slots of a private table and of a version-1
//! table are judged by pid and start time, as `/proc` shows them: older builds sharing
//! a version-1 table would neither write nor clear the id.
//!
//! Versions: a version-2 table holds the writer lock (words 4 and 5, `writer_lock`). In a
//! version-1 table, which older builds created, those words are unused and writers lock
//! the database file instead; this build follows whichever
//! protocol the file's version names, so it shares a lock file with the builds that
//! created it. An older build refuses a version-2 table.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use crate::error::{Error, Result};
use crate::os::map::{lock_range, unlock_range, SharedWords};
use crate::os::process::{process_alive, process_start};
use crate::storage::liveness::{Liveness, LIVENESS_BASE};
use crate::storage::writer_lock::{LockWords, WriterLock};

const MAGIC: u64 = u64::from_le_bytes(*b"MDBXLOCK");
/// The version new lock files get.
const VERSION: u64 = 2;
/// The version whose writers lock the database file rather than a word of the table.
const VERSION_FILE_LOCK: u64 = 1;
const HEADER_WORDS: usize = 8;
const SLOT_WORDS: usize = 8;
const W_HINT: usize = 2;
const W_SYNC_FAILED: usize = 3;
const W_WRITER_OWNER: usize = 4;
const W_WRITER_WAKE: usize = 5;
const W_NEXT_LIVENESS_ID: usize = 6;
/// Slot word: the owner's liveness id.
const S_LIVENESS: usize = 4;
const CLAIMED: u64 = u64::MAX;
/// Most reader slots a lock file may declare.
const MAX_SLOTS: usize = 1 << 20;

enum Memory {
    Private(Box<[AtomicU64]>),
    Shared(SharedWords),
}

pub(crate) struct ReaderTable {
    mem: Memory,
    slots: usize,
    pid: u64,
    start: u64,
    next_token: AtomicU64,
    /// This environment's liveness, when its slots and the writer lock name owners by
    /// it (a version-2 table; `None` for a private or a version-1 table).
    liveness: Option<Liveness>,
    /// Whether this environment writes under the table's writer lock (a writable open of
    /// a version-2 table); otherwise writers lock the database file, or it never writes.
    word_lock: bool,
}

/// One reader slot, for statistics and `mdbx-lite readers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Index of the slot in the reader table.
    pub slot: usize,
    /// The snapshot (transaction id) the reader holds.
    pub txnid: u64,
    /// Process id of the reader's process.
    pub pid: u32,
    /// Whether the owning process is this one.
    pub this_process: bool,
    /// Whether the owning process still runs (false: a stale slot, cleared by
    /// `Env::reader_check` or automatically by the next writer that needs the space).
    pub alive: bool,
}

fn words_for(slots: usize) -> usize {
    HEADER_WORDS + SLOT_WORDS * slots
}

/// Read the header of a lock file: its slot count and version if the file holds a valid
/// table.
fn valid_table(file: &File) -> Result<Option<(usize, u64)>> {
    let len = file.metadata()?.len();
    if len < (HEADER_WORDS * 8) as u64 {
        return Ok(None);
    }
    let mut head = [0u8; 16];
    file.read_exact_at(&mut head, 0)?;
    let magic = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
    let word1 = u64::from_le_bytes(head[8..].try_into().unwrap_or_default());
    let slots = (word1 >> 32) as usize;
    if magic != MAGIC {
        return Ok(None);
    }
    let version = word1 & 0xffff_ffff;
    if version != VERSION && version != VERSION_FILE_LOCK {
        return Err(Error::Invalid(format!(
            "lock file of reader-table version {version} (this build reads versions \
             {VERSION_FILE_LOCK} and {VERSION}); close every program using the database and \
             remove the lock file"
        )));
    }
    if slots == 0 || slots > MAX_SLOTS || len < (words_for(slots) * 8) as u64 {
        return Err(Error::Invalid(format!(
            "lock file header names {slots} reader slots in a file of {len} bytes"
        )));
    }
    Ok(Some((slots, version)))
}

/// Whether a lock file without a valid table may be (re)initialised: it is empty, or it
/// is what an initialisation interrupted before its magic was written leaves (the size
/// of a table, zeros but for the version word). Anything else is not a lock file of
/// ours — perhaps another program's file planted under the lock file's name — and is
/// never truncated.
fn initialisable(file: &File) -> Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    if len % 64 != 0 || len < (words_for(1) * 8) as u64 || len > (words_for(MAX_SLOTS) * 8) as u64 {
        return Ok(false);
    }
    let mut head = [0u8; HEADER_WORDS * 8];
    file.read_exact_at(&mut head, 0)?;
    let word = |i: usize| u64::from_le_bytes(head[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let slots = (word(1) >> 32) as usize;
    let version = word(1) & 0xffff_ffff;
    let version_ok = word(1) == 0
        || ((version == VERSION || version == VERSION_FILE_LOCK)
            && words_for(slots) * 8 == len as usize);
    Ok(word(0) == 0 && version_ok && (2..HEADER_WORDS).all(|i| word(i) == 0))
}
impl ReaderTable {
    fn new(mem: Memory, slots: usize) -> ReaderTable {
        let pid = u64::from(std::process::id());
        ReaderTable {
            mem,
            slots,
            pid,
            start: process_start(pid).unwrap_or(0),
            next_token: AtomicU64::new(1),
            liveness: None,
            word_lock: false,
        }
    }

    /// A table in process memory (only this process's readers are visible).
    pub fn private(max: usize) -> ReaderTable {
        let slots = max.max(1);
        let words = (0..words_for(slots)).map(|_| AtomicU64::new(0)).collect();
        ReaderTable::new(Memory::Private(words), slots)
    }

    /// The table in the lock file, initialising the file if it holds none. The caller
    /// must pass a writable lock file; initialisation takes the file's write lock so
    /// that two processes never initialise it at once. A file that holds neither a table
    /// nor the remains of an interrupted initialisation is refused, not overwritten.
    /// In a version-2 table the environment registers its liveness through `lock` for as
    /// long as the table lives, and with `writer` joins the table's writer lock.
    pub fn shared(lock: &File, max: usize, writer: bool) -> Result<ReaderTable> {
        let (slots, version) = match valid_table(lock)? {
            Some(table) => table,
            None => {
                lock_range(lock, 0, LIVENESS_BASE, true)?;
                let init = (|| -> Result<(usize, u64)> {
                    if let Some(table) = valid_table(lock)? {
                        return Ok(table);
                    }
                    if !initialisable(lock)? {
                        return Err(Error::Invalid(
                            "the lock file exists but is not an mdbx-lite lock file; \
                             refusing to overwrite it"
                                .into(),
                        ));
                    }
                    let n = max.clamp(1, MAX_SLOTS);
                    lock.set_len(0)?;
                    lock.set_len((words_for(n) * 8) as u64)?;
                    let mut head = [0u8; 16];
                    head[8..].copy_from_slice(&(VERSION | (n as u64) << 32).to_le_bytes());
                    lock.write_all_at(&head, 0)?;
                    // The magic goes last: a half-initialised file stays invalid.
                    lock.write_all_at(&MAGIC.to_le_bytes(), 0)?;
                    Ok((n, VERSION))
                })();
                unlock_range(lock, 0, LIVENESS_BASE)?;
                init?
            }
        };
        let words = SharedWords::new(lock, words_for(slots))?;
        let mut table = ReaderTable::new(Memory::Shared(words), slots);
        if version == VERSION {
            let next_id = &table.words()[W_NEXT_LIVENESS_ID];
            table.liveness = Some(Liveness::register(lock.try_clone()?, next_id)?);
            table.word_lock = writer;
        }
        Ok(table)
    }

    fn lock_words(&self) -> LockWords<'_> {
        let w = self.words();
        LockWords {
            owner: &w[W_WRITER_OWNER],
            wake: &w[W_WRITER_WAKE],
        }
    }

    /// This environment's writer lock, if it writes under the table's.
    fn writer(&self) -> Option<WriterLock<'_>> {
        self.liveness
            .as_ref()
            .filter(|_| self.word_lock)
            .map(WriterLock::new)
    }

    /// Take the writer lock held in this table (`wait` false: return `Ok(false)` at once
    /// if another live writer has it). `None` when writers lock the database file
    /// instead: a version-1 table, or an open that never writes.
    pub fn lock_writer(&self, wait: bool) -> Option<std::io::Result<bool>> {
        let writer = self.writer()?;
        Some(writer.lock(&self.lock_words(), wait))
    }

    /// Claim `db` for this lock file's writer lock; false if the file is open for
    /// writing through another lock file (see [`WriterLock::claim_database`]). True
    /// when this table holds no writer lock.
    pub fn claim_database(&self, db: &File) -> std::io::Result<bool> {
        match self.writer() {
            Some(writer) => writer.claim_database(db),
            None => Ok(true),
        }
    }

    /// Release what [`ReaderTable::lock_writer`] took; false when this table holds no
    /// writer lock.
    pub fn unlock_writer(&self) -> bool {
        match self.writer() {
            Some(writer) => {
                writer.unlock(&self.lock_words());
                true
            }
            None => false,
        }
    }

    fn words(&self) -> &[AtomicU64] {
        match &self.mem {
            Memory::Private(w) => w,
            Memory::Shared(m) => m.words(),
        }
    }

    fn slot(&self, i: usize) -> &[AtomicU64] {
        let at = HEADER_WORDS + SLOT_WORDS * i;
        &self.words()[at..at + SLOT_WORDS]
    }

    pub fn capacity(&self) -> usize {
        self.slots
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.mem, Memory::Shared(_))
    }

    /// The id of the latest commit any process announced (0 if none yet).
    pub fn commit_hint(&self) -> u64 {
        self.words()[W_HINT].load(SeqCst)
    }

    /// Announce commit `txnid` (the writer holds the file lock, so stores never race).
    pub fn announce_commit(&self, txnid: u64) {
        self.words()[W_HINT].store(txnid, SeqCst);
    }

    /// Record that a sync or meta write failed while writes may not have reached the
    /// disk: every environment on the file, in any process, refuses to trust its newest
    /// meta until a writer has made it durable again (`EnvInner::recover_failed_sync`).
    pub fn mark_sync_failed(&self) {
        self.words()[W_SYNC_FAILED].store(1, SeqCst);
    }

    pub fn sync_failed(&self) -> bool {
        self.words()[W_SYNC_FAILED].load(SeqCst) != 0
    }

    /// Called by the writer, holding the write lock, once recovery made a meta durable.
    pub fn clear_sync_failed(&self) {
        self.words()[W_SYNC_FAILED].store(0, SeqCst);
    }

    /// Lower a hint that names a commit the file does not have (e.g. the database was
    /// restored from a backup under a live lock file). Loses to any concurrent store.
    pub fn correct_hint(&self, seen: u64, actual: u64) {
        let _ = self.words()[W_HINT].compare_exchange(seen, actual, SeqCst, SeqCst);
    }

    /// Claim a free slot; returns (slot, token). Clears stale slots if the table is full.
    pub fn claim(&self) -> Result<(usize, u64)> {
        let token = self.next_token.fetch_add(1, SeqCst);
        for attempt in 0..2 {
            for i in 0..self.slots {
                let s = self.slot(i);
                if s[0].load(SeqCst) == 0
                    && s[0].compare_exchange(0, CLAIMED, SeqCst, SeqCst).is_ok()
                {
                    let live = self.liveness.as_ref().map_or(0, Liveness::id);
                    s[S_LIVENESS].store(live, SeqCst);
                    s[1].store(self.pid, SeqCst);
                    s[2].store(self.start, SeqCst);
                    s[3].store(token, SeqCst);
                    return Ok((i, token));
                }
            }
            if attempt == 0 && self.clear_stale() == 0 {
                break;
            }
        }
        Err(Error::ReadersFull { max: self.slots })
    }

    /// Publish the snapshot a claimed slot reads.
    pub fn publish(&self, slot: usize, txnid: u64) {
        self.slot(slot)[0].store(txnid + 1, SeqCst);
    }

    /// Free a slot this process claimed with `token`.
    pub fn release(&self, slot: usize, token: u64) {
        if slot >= self.slots {
            return;
        }
        let s = self.slot(slot);
        if s[3].load(SeqCst) == token && s[1].load(SeqCst) == self.pid {
            // A free slot names no liveness id, so an older build that claims it (and
            // knows nothing of the word) leaves it 0 and is judged by its pid.
            s[S_LIVENESS].store(0, SeqCst);
            s[3].store(0, SeqCst);
            s[0].store(0, SeqCst);
        }
    }

    /// Snapshot ids of every live reader (unsorted, may repeat).
    pub fn snapshots(&self) -> Vec<u64> {
        (0..self.slots)
            .map(|i| self.slot(i)[0].load(SeqCst))
            .filter(|&t| t != 0 && t != CLAIMED)
            .map(|t| t - 1)
            .collect()
    }

    /// Whether the owner of slot `s` (holding `t`, not 0) may still use it: by its
    /// liveness id when a published slot names one, else by pid and start time. Slots
    /// of this process count as live (it frees its own). An error asking the kernel
    /// counts as live: a slot is only ever cleared on proof.
    fn slot_alive(&self, s: &[AtomicU64], t: u64) -> bool {
        let pid = s[1].load(SeqCst);
        let live_id = s[S_LIVENESS].load(SeqCst);
        if let (Some(live), true) = (&self.liveness, t != CLAIMED && live_id != 0) {
            return live_id == live.id() || live.is_alive(live_id).unwrap_or(true);
        }
        pid == self.pid || process_alive(pid, s[2].load(SeqCst))
    }

    /// Clear slot `s` of a dead owner if it still holds `t`. Its liveness id goes first,
    /// so a free slot never names one (see `release`).
    fn clear_slot(s: &[AtomicU64], t: u64) -> bool {
        s[S_LIVENESS].store(0, SeqCst);
        s[0].compare_exchange(t, 0, SeqCst, SeqCst).is_ok()
    }

    /// Clear the slots of processes that no longer run. Returns how many were cleared.
    pub fn clear_stale(&self) -> usize {
        let mut cleared = 0;
        for i in 0..self.slots {
            let s = self.slot(i);
            let t = s[0].load(SeqCst);
            if t == 0 || self.slot_alive(s, t) {
                continue;
            }
            if Self::clear_slot(s, t) {
                cleared += 1;
            }
        }
        cleared
    }

    /// If the oldest reader belongs to an environment that is gone, clear it (and
    /// repeat): called by writers, so a killed reader never pins space for long. One
    /// liveness question per write transaction at most, and only when the oldest reader
    /// is another environment's.
    pub fn clear_stale_oldest(&self) {
        let own = self.liveness.as_ref().map(Liveness::id);
        for _ in 0..self.slots {
            let oldest = (0..self.slots)
                .filter_map(|i| {
                    let t = self.slot(i)[0].load(SeqCst);
                    (t != 0 && t != CLAIMED).then_some((t, i))
                })
                .min();
            let Some((t, i)) = oldest else { return };
            let s = self.slot(i);
            let mine = own.is_some_and(|id| s[S_LIVENESS].load(SeqCst) == id)
                || s[1].load(SeqCst) == self.pid;
            if mine || self.slot_alive(s, t) {
                return;
            }
            let _ = Self::clear_slot(s, t);
        }
    }

    pub fn list(&self) -> Vec<ReaderInfo> {
        (0..self.slots)
            .filter_map(|i| {
                let s = self.slot(i);
                let t = s[0].load(SeqCst);
                if t == 0 || t == CLAIMED {
                    return None;
                }
                let pid = s[1].load(SeqCst);
                Some(ReaderInfo {
                    slot: i,
                    txnid: t - 1,
                    pid: pid as u32,
                    this_process: pid == self.pid,
                    alive: self.slot_alive(s, t),
                })
            })
            .collect()
    }
}
