//! The writer lock between processes: one word of the lock file, taken and released with
//! atomic operations, so a write transaction that nobody contends with makes no system
//! call for it.
//!
//! Words (of the lock file's header, see `readers`):
//! - `owner`: 0 when free, else the holder's liveness id; bit 63 (`CONTENDED`) set by a
//!   process that went to sleep waiting, so the holder knows to wake it;
//! - `wake`: a counter the holder bumps at every release; waiters sleep on it (futex).
//!
//! **A dead holder.** The owner word names the holder by its environment's liveness id
//! (`liveness`). A waiter that finds that id dead knows the holder is gone and takes the
//! lock over; its unfinished transaction was never visible (a commit becomes visible
//! only by its meta, and a writer re-reads the metas when it takes the lock). Only a
//! waiter asks, so only contention costs system calls.
//!
//! **No lost wake-up.** A waiter reads `wake`, marks the owner word `CONTENDED`, checks
//! the owner is still the one it saw, and sleeps only while `wake` still holds what it
//! read. A release clears the owner, bumps `wake`, and wakes sleepers if the word it
//! cleared was marked: a release after the mark always wakes, and one before it makes
//! the mark fail or the sleep return at once. Sleeps are also bounded
//! (`LIVENESS_POLL`), so a holder that died is noticed without anyone waking the waiter.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use crate::os::map::{futex_wait, futex_wake_all, lock_range, locked_by_another};
use crate::storage::liveness::Liveness;

/// Where the claims on the database file start (see [`WriterLock::claim_database`]).
const CLAIM_BASE: u64 = 1 << 61;
/// How far a record lock on the database file's data reaches (initialisation takes
/// one): up to the claims, never over them.
pub(crate) const DATA_LOCK_LEN: u64 = CLAIM_BASE;
const CONTENDED: u64 = 1 << 63;
/// How often a waiter checks that the holder still lives, when nothing wakes it.
const LIVENESS_POLL: Duration = Duration::from_millis(100);

/// The two header words the lock uses.
pub(crate) struct LockWords<'a> {
    pub owner: &'a AtomicU64,
    pub wake: &'a AtomicU64,
}

/// One environment's part in the writer lock: its liveness, which names it in the word.
pub(crate) struct WriterLock<'a> {
    live: &'a Liveness,
}

impl<'a> WriterLock<'a> {
    pub fn new(live: &'a Liveness) -> WriterLock<'a> {
        WriterLock { live }
    }

    /// Claim the database file for this lock file, and tell whether it is already
    /// claimed for another (false). A word in a lock file excludes only the writers that
    /// found that lock file: were the database renamed, or its lock file removed, while
    /// open, a new open would find another lock file and run a second writer. So each
    /// environment that may write also holds, for its life, a record lock on one byte of
    /// the database file (beyond any data; record locks never stop I/O) in a region that
    /// belongs to its lock file's inode, and refuses to open when another region is held.
    /// Two opens racing through two names may both refuse; neither runs unprotected.
    pub fn claim_database(&self, db: &File) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        const REGION_BITS: u32 = 24;
        const REGIONS_END: u64 = CLAIM_BASE + (1 << (32 + REGION_BITS));
        let region =
            CLAIM_BASE + ((self.live.file().metadata()?.ino() & 0xffff_ffff) << REGION_BITS);
        let region_end = region + (1 << REGION_BITS);
        // Another environment of this lock file may hold the byte (ids wrap at 2^24);
        // the region is claimed for the lock file either way.
        lock_range(
            db,
            region + (self.live.id() & ((1 << REGION_BITS) - 1)),
            1,
            false,
        )?;
        let other = claimed_in(db, CLAIM_BASE, region)? || claimed_in(db, region_end, REGIONS_END)?;
        Ok(!other)
    }

    /// Take the lock; with `wait` false, return false at once if a live holder has it.
    /// The caller makes sure this environment does not hold it already.
    pub fn lock(&self, w: &LockWords, wait: bool) -> io::Result<bool> {
        // After sleeping, take the word marked, since other waiters may sleep too.
        let me = self.live.id();
        let mut mine = me;
        loop {
            let cur = match w.owner.compare_exchange(0, mine, SeqCst, SeqCst) {
                Ok(_) => return Ok(true),
                Err(cur) => cur,
            };
            if !self.live.is_alive(cur & !CONTENDED)? {
                // The holder is gone: take the word over from it, marked, so that our
                // release wakes whoever else waits.
                if w.owner
                    .compare_exchange(cur, me | CONTENDED, SeqCst, SeqCst)
                    .is_ok()
                {
                    return Ok(true);
                }
                continue;
            }
            if !wait {
                return Ok(false);
            }
            // Read `wake` first, then make sure `cur` still holds the word (marking it):
            // a release after that check bumps `wake` past `seen`, so the sleep returns.
            let seen = w.wake.load(SeqCst) as u32;
            let still_held = if cur & CONTENDED != 0 {
                w.owner.load(SeqCst) == cur
            } else {
                w.owner
                    .compare_exchange(cur, cur | CONTENDED, SeqCst, SeqCst)
                    .is_ok()
            };
            if still_held {
                futex_wait(w.wake, seen, LIVENESS_POLL);
            }
            mine = me | CONTENDED;
        }
    }

    /// Release the lock, waking sleepers if any marked it. A word that is not ours (only
    /// if the lock file was tampered with) is left alone.
    pub fn unlock(&self, w: &LockWords) {
        let mut cur = w.owner.load(SeqCst);
        while cur & !CONTENDED == self.live.id() {
            match w.owner.compare_exchange(cur, 0, SeqCst, SeqCst) {
                Ok(_) => {
                    w.wake.fetch_add(1, SeqCst);
                    if cur & CONTENDED != 0 {
                        futex_wake_all(w.wake);
                    }
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// Whether this environment holds the lock.
    #[cfg(test)]
    pub fn held(&self, w: &LockWords) -> bool {
        w.owner.load(SeqCst) & !CONTENDED == self.live.id()
    }
}

/// Whether another open holds a claim in `[start, end)` of the database file. An empty
/// range holds none (and must not be asked about: a record lock's length 0 means "to
/// the end", which would take in this lock file's own region).
fn claimed_in(db: &File, start: u64, end: u64) -> io::Result<bool> {
    if start >= end {
        return Ok(false);
    }
    locked_by_another(db, start, end - start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn words() -> Arc<[AtomicU64; 3]> {
        Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
    }

    fn view(a: &[AtomicU64; 3]) -> LockWords<'_> {
        LockWords {
            owner: &a[0],
            wake: &a[1],
        }
    }

    fn open(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap()
    }

    fn live(path: &std::path::Path, w: &[AtomicU64; 3]) -> Liveness {
        Liveness::register(open(path), &w[2]).unwrap()
    }

    #[test]
    fn two_opens_exclude_each_other_and_a_closed_holder_is_taken_over() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let w = words();
        let (la, lb) = (live(f.path(), &w), live(f.path(), &w));
        assert_ne!(la.id(), lb.id());
        let (a, b) = (WriterLock::new(&la), WriterLock::new(&lb));
        assert!(a.lock(&view(&w), false).unwrap());
        assert!(!b.lock(&view(&w), false).unwrap());
        a.unlock(&view(&w));
        assert!(b.lock(&view(&w), false).unwrap());
        assert!(!a.lock(&view(&w), false).unwrap());
        // `b`'s environment goes away holding the word (its lock file closed, as when
        // its process dies).
        drop(lb);
        assert!(a.lock(&view(&w), false).unwrap());
        assert!(a.held(&view(&w)));
        a.unlock(&view(&w));
        assert_eq!(w[0].load(SeqCst), 0);
    }

    #[test]
    fn claims_see_other_regions_and_never_their_own() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let db = open(f.path());
        let other = open(f.path());
        // The first and the last region: their empty neighbour ranges are not asked.
        assert!(!claimed_in(&db, CLAIM_BASE, CLAIM_BASE).unwrap());
        lock_range(&other, CLAIM_BASE + 5, 1, false).unwrap();
        assert!(claimed_in(&db, CLAIM_BASE, CLAIM_BASE + 6).unwrap());
        assert!(!claimed_in(&db, CLAIM_BASE + 6, CLAIM_BASE + (1 << 56)).unwrap());
        assert!(
            !claimed_in(&other, CLAIM_BASE, CLAIM_BASE + 6).unwrap(),
            "its own lock"
        );
    }

    #[test]
    fn a_mark_left_by_a_waiter_that_died_costs_one_wake_up() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let w = words();
        let la = live(f.path(), &w);
        let a = WriterLock::new(&la);
        assert!(a.lock(&view(&w), false).unwrap());
        // A waiter marked the word, then died before sleeping.
        w[0].fetch_or(CONTENDED, SeqCst);
        let wake = w[1].load(SeqCst);
        a.unlock(&view(&w));
        assert_eq!(w[0].load(SeqCst), 0, "the marked word was not released");
        assert_eq!(w[1].load(SeqCst), wake + 1);
        assert!(a.lock(&view(&w), false).unwrap());
        assert_eq!(w[0].load(SeqCst), la.id(), "the mark outlived its release");
        a.unlock(&view(&w));
    }

    #[test]
    fn garbage_in_the_owner_word_is_taken_over_not_waited_for() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let w = words();
        let la = live(f.path(), &w);
        for junk in [u64::MAX, 1 << 62, la.id() + 1000] {
            w[0].store(junk, SeqCst);
            assert!(WriterLock::new(&la).lock(&view(&w), true).unwrap());
            WriterLock::new(&la).unlock(&view(&w));
            assert_eq!(w[0].load(SeqCst), 0);
        }
    }

    #[test]
    fn a_waiter_sleeps_until_the_holder_releases() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let w = words();
        let la = live(f.path(), &w);
        let lb = live(f.path(), &w);
        let a = WriterLock::new(&la);
        assert!(a.lock(&view(&w), true).unwrap());
        let counter = Arc::new(AtomicU64::new(0));
        let (w2, c2) = (w.clone(), counter.clone());
        let t = std::thread::spawn(move || {
            let b = WriterLock::new(&lb);
            for _ in 0..200 {
                assert!(b.lock(&view(&w2), true).unwrap());
                let v = c2.load(SeqCst);
                c2.store(v + 1, SeqCst);
                b.unlock(&view(&w2));
            }
        });
        a.unlock(&view(&w));
        for _ in 0..200 {
            assert!(a.lock(&view(&w), true).unwrap());
            let v = counter.load(SeqCst);
            std::thread::yield_now();
            counter.store(v + 1, SeqCst);
            a.unlock(&view(&w));
        }
        t.join().unwrap();
        assert_eq!(
            counter.load(SeqCst),
            400,
            "an increment was lost: no exclusion"
        );
        assert_eq!(w[0].load(SeqCst), 0);
    }
}
