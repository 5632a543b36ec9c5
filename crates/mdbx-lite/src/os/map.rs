//! The read-only shared memory map of the database file — the only module with `unsafe`.
//!
//! Besides the map itself it holds the other calls that need `unsafe` and concern the
//! file's pages in memory: `mincore` (residency), the CPU prefetch hint, the kernel
//! writeback hint, the huge-page hint for the writer's page buffers, record locks
//! (open-file-description locks) and the futex calls the writer lock sleeps in.
//!
//! # Safety contract
//!
//! The map is created `PROT_READ`, `MAP_SHARED` over the database file and reserves more
//! address space than the file currently holds, so the file can grow without remapping
//! every time. Two things could make reading it undefined behaviour, and this module
//! rules out the first while the second is the user's side of the contract:
//!
//! 1. Touching a byte past the end of the file raises SIGBUS. The mapping measures the
//!    file itself (the length of its own descriptor, when created and when told the file
//!    grew) and keeps the largest length seen (`backed`; the file never shrinks while
//!    open). Every access goes through [`Mapping::get`], which never forms a slice
//!    beyond `backed` or the reservation, whatever bound its caller passes: a wrong
//!    argument gets `None`, never an unbacked byte.
//! 2. Bytes handed out as `&[u8]` must not change while borrowed. mdbx-lite itself never
//!    writes a page reachable from a live snapshot (copy-on-write; pages are reused only
//!    after every reader that could see them has ended). Other programs must not truncate
//!    or write the file while it is open — the same rule LMDB and every mmap-based store
//!    states. Doing so can crash the process or show torn bytes; it cannot be prevented by
//!    any library that maps files.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use memmap2::{Advice, Mmap, MmapMut, MmapOptions};

/// Access pattern hint given to the kernel for the whole mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReadAhead {
    /// Random access (point lookups): no read-ahead. The default.
    #[default]
    Random,
    /// The kernel's default read-ahead.
    Normal,
    /// Aggressive read-ahead, for full scans.
    Sequential,
}

/// One mapping of the database file, shared by every transaction started on it.
///
/// Transactions hold it through an `Arc`; when the writer outgrows the reservation it
/// creates a new, larger mapping and the old one is unmapped exactly when its last user
/// drops.
pub(crate) struct Mapping {
    map: Mmap,
    /// The mapped file's own descriptor, to measure it.
    file: File,
    /// Bytes of the file known to exist (the largest length measured, at most the
    /// reservation): `get` hands out nothing beyond it.
    backed: AtomicUsize,
}

impl Mapping {
    /// Map `reserve` bytes of `file`, read-only and shared.
    pub(crate) fn new(file: &File, reserve: usize, read_ahead: ReadAhead) -> io::Result<Mapping> {
        // SAFETY: the map is read-only; bytes past the end of the file are never touched
        // because every access is bounded by the length this mapping measured (`get`),
        // and the contract above (no external truncation or writes) is documented on
        // `Env::open`.
        let map = unsafe { MmapOptions::new().len(reserve).map(file)? };
        let mapping = Mapping {
            map,
            file: file.try_clone()?,
            backed: AtomicUsize::new(0),
        };
        mapping.measure()?;
        mapping.advise(read_ahead);
        Ok(mapping)
    }

    /// Measure the file again (after it grew, here or in another process): `get` may
    /// then hand out bytes up to its new length. Returns the bytes now known backed.
    pub(crate) fn measure(&self) -> io::Result<usize> {
        // lseek, not fstat, for the reason `FileStorage::len` gives.
        use std::io::Seek;
        let len = (&self.file).seek(io::SeekFrom::End(0))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let len = len.min(self.map.len());
        Ok(self.backed.fetch_max(len, Ordering::AcqRel).max(len))
    }

    /// Number of bytes of address space reserved.
    pub(crate) fn reserved(&self) -> usize {
        self.map.len()
    }

    /// The bytes `[offset, offset + len)` if they lie below `bound` (the caller's own
    /// limit, e.g. a snapshot's high-water mark) and below the measured file length.
    #[inline]
    pub(crate) fn get(&self, offset: usize, len: usize, bound: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > bound || end > self.backed.load(Ordering::Acquire) {
            return None;
        }
        let base = self.map.as_ptr();
        // SAFETY: `offset..end` lies below `backed`, which is at most the reservation (so
        // inside the mapping) and at most a length this mapping measured the file at (so
        // backed by the file, which never shrinks while open): every byte is readable.
        // The slice borrows `self`, so the mapping outlives it; copy-on-write guarantees
        // the bytes do not change while a snapshot that can reach them is alive.
        Some(unsafe { std::slice::from_raw_parts(base.add(offset), len) })
    }

    /// Set the kernel's read-ahead policy for the mapping.
    pub(crate) fn advise(&self, read_ahead: ReadAhead) {
        let advice = match read_ahead {
            ReadAhead::Random => Advice::Random,
            ReadAhead::Normal => Advice::Normal,
            ReadAhead::Sequential => Advice::Sequential,
        };
        // Advice is only a hint; a kernel that refuses it changes nothing we rely on.
        let _ = self.map.advise(advice);
    }

    /// Ask the kernel to start reading `[offset, offset + len)` (clamped to `bound`).
    pub(crate) fn will_need(&self, offset: usize, len: usize, bound: usize) {
        let end = offset.saturating_add(len).min(bound).min(self.map.len());
        if end > offset {
            let _ = self
                .map
                .advise_range(Advice::WillNeed, offset, end - offset);
        }
    }

    /// Residency of every OS page of `[0, bound)` (mincore): the OS page size and one
    /// flag per OS page, true when that page is in the page cache right now.
    pub(crate) fn resident_pages(&self, bound: usize) -> io::Result<(usize, Vec<bool>)> {
        let bound = bound.min(self.map.len());
        // SAFETY: sysconf has no memory-safety preconditions.
        let os_page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let os_page = usize::try_from(os_page).unwrap_or(4096).max(1);
        if bound == 0 {
            return Ok((os_page, Vec::new()));
        }
        let mut vec = vec![0u8; bound.div_ceil(os_page)];
        // SAFETY: the address is the start of our live mapping (page aligned by mmap),
        // `bound` bytes of it are mapped (clamped to the mapping above), and `vec` has
        // one byte per OS page of that range as mincore requires.
        let rc = unsafe {
            libc::mincore(
                self.map.as_ptr() as *mut libc::c_void,
                bound,
                vec.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((os_page, vec.iter().map(|b| b & 1 == 1).collect()))
    }

    /// How many bytes of `[0, bound)` are resident in the page cache right now (mincore).
    pub(crate) fn resident_bytes(&self, bound: usize) -> io::Result<u64> {
        let (os_page, pages) = self.resident_pages(bound)?;
        let resident = pages.iter().filter(|&&r| r).count() as u64;
        Ok((resident * os_page as u64).min(bound.min(self.map.len()) as u64))
    }
}

/// Ask the CPU to start loading the cache lines of `bytes` (callers keep it short).
/// Only a hint: it never faults, never changes memory and has no effect on results, so
/// a cursor can ask for entries it is about to visit and let those memory loads overlap
/// instead of waiting for each in turn.
#[inline]
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        if bytes.is_empty() {
            return;
        }
        let skew = bytes.as_ptr() as usize % LINE;
        let lines = (skew + bytes.len()).div_ceil(LINE);
        // The start of the cache line holding the first byte; wrapping arithmetic only
        // computes addresses, it never dereferences them.
        let first_line = bytes.as_ptr().wrapping_sub(skew);
        for line in 0..lines {
            let at = first_line.wrapping_add(line * LINE);
            // SAFETY: a prefetch instruction is a pure hint: it cannot fault, read into
            // the program or write memory, whatever the address (SSE is baseline on
            // x86_64, so the target feature is always present).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Ask the kernel to back `buf` with transparent huge pages where it can (Linux
/// `madvise(MADV_HUGEPAGE)` on the 2 MiB-aligned part of it). A large write transaction
/// touches its dirty page buffers in random order, and with 4 KiB pages nearly every
/// touch also misses the TLB. Only a hint: it never changes the bytes (the kernel may
/// back or collapse the range differently, not rewrite it), and an error or a kernel
/// without transparent huge pages leaves the buffer as it was.
pub(crate) fn advise_huge_pages(buf: &mut [u8]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + buf.len()) / HUGE * HUGE;
        if end > first {
            // SAFETY: `[first, end)` lies inside `buf`, which this call borrows mutably, so
            // no other reference sees the range change; MADV_HUGEPAGE only changes how
            // the kernel backs anonymous memory, never its contents, and its failure is
            // harmless (ignored).
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = buf;
}

/// Ask the kernel to start writing the file's dirty pages in `[offset, offset + len)` to
/// the device, without waiting (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Only a
/// hint: it makes nothing durable (the commit's fdatasync still does that) and its
/// errors are ignored, because a failed write surfaces again at that fdatasync. A large
/// commit calls it as it goes, so the device works while later pages are still being
/// checksummed and copied. A no-op on other systems.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: sync_file_range takes a descriptor and three integers and passes no
        // memory, so it cannot break memory safety; the descriptor stays open while
        // `file` is borrowed.
        let _ = unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// Take the exclusive write lock on the whole of `file` (Linux open-file-description
/// record lock, `F_OFD_SETLK[W]` with `F_WRLCK`). Returns false when `wait` is false and
/// another open of the file holds it.
///
/// Why this lock and not `flock`: a record write lock can only be taken through a
/// descriptor opened for writing, so a user who may only read the database cannot take
/// it and stall its writers (anyone who can open a file can `flock` it). It belongs to the
/// open file description, like `flock`: two opens in one process exclude each other, and
/// closing the descriptor releases it.
pub(crate) fn lock_exclusive(file: &File, wait: bool) -> io::Result<bool> {
    // l_start = 0 and l_len = 0: the whole file, however long it grows.
    lock_range(file, 0, 0, wait)
}

/// Release the lock [`lock_exclusive`] took.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    unlock_range(file, 0, 0)
}

/// Take the exclusive record lock on bytes `[start, start + len)` of `file` (`len` 0: to
/// the end, however far the file grows). Returns false when `wait` is false and another
/// open of the file holds a lock there. The bytes need not exist.
pub(crate) fn lock_range(file: &File, start: u64, len: u64, wait: bool) -> io::Result<bool> {
    let cmd = if wait {
        libc::F_OFD_SETLKW
    } else {
        libc::F_OFD_SETLK
    };
    loop {
        match record_lock(file, cmd, libc::F_WRLCK, start, len) {
            Ok(_) => return Ok(true),
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) | Some(libc::EACCES) if !wait => return Ok(false),
                _ => return Err(e),
            },
        }
    }
}

/// Release this open's record lock on `[start, start + len)` (`len` 0: to the end).
pub(crate) fn unlock_range(file: &File, start: u64, len: u64) -> io::Result<()> {
    record_lock(file, libc::F_OFD_SETLK, libc::F_UNLCK, start, len).map(|_| ())
}

/// Whether another open file description holds a record lock on any byte of
/// `[start, start + len)` of `file` (`F_OFD_GETLK`; locks of the descriptor asked
/// through never count).
pub(crate) fn locked_by_another(file: &File, start: u64, len: u64) -> io::Result<bool> {
    let fl = record_lock(file, libc::F_OFD_GETLK, libc::F_WRLCK, start, len)?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// One `fcntl` record-lock command on `[start, start + len)`; returns the record as the
/// kernel left it (what `F_OFD_GETLK` reports).
fn record_lock(
    file: &File,
    cmd: libc::c_int,
    kind: libc::c_int,
    start: u64,
    len: u64,
) -> io::Result<libc::flock> {
    use std::os::fd::AsRawFd;
    let (Ok(start), Ok(len)) = (i64::try_from(start), i64::try_from(len)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "lock range beyond the largest file offset",
        ));
    };
    // SAFETY: `flock` is a plain C struct of integers, for which all-zero bytes are valid.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    // l_pid stays 0, as open-file-description locks require.
    // SAFETY: fcntl reads (and for F_OFD_GETLK writes) the `flock` record we pass by
    // pointer, which lives across the call; the descriptor stays open while `file` is
    // borrowed.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
    if rc == 0 {
        Ok(fl)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The 32-bit half of `word` that holds its low-order bits (what a futex watches).
#[cfg(target_os = "linux")]
fn low_half(word: &AtomicU64) -> *const u32 {
    let p = word.as_ptr() as *const u32;
    if cfg!(target_endian = "big") {
        p.wrapping_add(1)
    } else {
        p
    }
}

/// Sleep until another process calls [`futex_wake_all`] on `word`, `timeout` passes, or
/// the low 32 bits of `word` no longer equal `expected` (checked by the kernel atomically
/// with going to sleep, so a wake between the caller's check and the sleep is not lost).
/// May also return early for no reason; callers re-check what they wait for.
pub(crate) fn futex_wait(word: &AtomicU64, expected: u32, timeout: std::time::Duration) {
    #[cfg(target_os = "linux")]
    {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the futex address is the low half of an `AtomicU64` that `word` keeps
        // alive across the call (in a shared mapping, hence the non-private FUTEX_WAIT);
        // the kernel only reads that u32 atomically and the `timespec`, which lives across
        // the call. Every outcome (woken, timed out, value changed, interrupted) is fine.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                low_half(word),
                libc::FUTEX_WAIT,
                expected,
                &ts as *const libc::timespec,
                std::ptr::null::<u32>(),
                0u32,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        if word.load(Ordering::SeqCst) as u32 == expected {
            std::thread::sleep(timeout.min(std::time::Duration::from_millis(1)));
        }
    }
}

/// Wake every process sleeping in [`futex_wait`] on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU64) {
    #[cfg(target_os = "linux")]
    // SAFETY: as in `futex_wait`; FUTEX_WAKE reads no memory but the address's identity.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            low_half(word),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = word;
}

/// The effective user id of this process (who owns the files it creates).
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// A read-write shared mapping of the lock file, seen as an array of `AtomicU64`.
///
/// Every process that opens the database maps the same lock file; the reader table
/// lives there. All access goes through atomics, so concurrent processes never race on
/// plain memory.
pub(crate) struct SharedWords {
    map: MmapMut,
}

impl SharedWords {
    /// Map the first `words * 8` bytes of `file` (which must be at least that long).
    pub(crate) fn new(file: &File, words: usize) -> io::Result<SharedWords> {
        let len = words
            .checked_mul(8)
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty shared mapping"))?;
        if file.metadata()?.len() < len as u64 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "lock file shorter than its reader table",
            ));
        }
        // SAFETY: the lock file is at least `len` bytes long (checked above) and is only
        // ever written through this kind of mapping, with atomic operations, by mdbx-lite
        // processes; the lock file's contract (documented on `Env::open`) forbids other
        // writers and truncation while it is in use.
        let map = unsafe { MmapOptions::new().len(len).map_mut(file)? };
        Ok(SharedWords { map })
    }

    /// The mapping as atomic words.
    pub(crate) fn words(&self) -> &[AtomicU64] {
        let ptr = self.map.as_ptr() as *const AtomicU64;
        // SAFETY: the mapping is page aligned (so 8-byte aligned), `len / 8` whole words
        // long, lives as long as `&self`, and `AtomicU64` has the size, alignment and bit
        // validity of `u64`. Other processes modify the memory concurrently, which is
        // exactly what atomics permit; nothing ever takes a non-atomic reference to it.
        unsafe { std::slice::from_raw_parts(ptr, self.map.len() / 8) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_hands_out_only_bytes_it_measured_the_file_to_hold() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(8192).unwrap();
        let map = Mapping::new(&file, 1 << 20, ReadAhead::Random).unwrap();
        assert!(map.get(4096, 4096, 8192).is_some());
        // A caller's bound past the file's end does not reach unbacked bytes.
        assert!(map.get(8192, 4096, 1 << 20).is_none());
        assert!(map.get(0, 8193, usize::MAX).is_none());
        assert!(map.get(usize::MAX, 2, usize::MAX).is_none());
        // Grown (here or by another process), the new bytes are readable once measured.
        file.set_len(16384).unwrap();
        assert!(map.get(8192, 4096, 1 << 20).is_none());
        assert_eq!(map.measure().unwrap(), 16384);
        assert_eq!(map.get(8192, 4096, 1 << 20).map(<[u8]>::len), Some(4096));
        // Never beyond the reservation, whatever the file's length.
        file.set_len(4 << 20).unwrap();
        assert_eq!(map.measure().unwrap(), 1 << 20);
        assert!(map.get((1 << 20) - 4096, 4096, usize::MAX).is_some());
        assert!(map.get(1 << 20, 1, usize::MAX).is_none());
    }
}
