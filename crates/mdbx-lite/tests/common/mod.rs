//! Helpers shared by the integration tests (each test binary includes what it uses).
#![allow(dead_code)]

use std::io;

use mdbx_lite::io::Storage;

/// SplitMix64's increment (2^64 / golden ratio).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output for state `x`: a well-mixed hash of `x`, the same as
/// `Rng(x).next()`.
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast, seeded; tests must be reproducible from their seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let out = splitmix(self.0);
        self.0 = self.0.wrapping_add(GOLDEN);
        out
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// `len` pseudo-random bytes determined by `seed` and `len` (so a shorter value is not a
/// prefix of a longer one of the same seed): the little-endian words of `splitmix`
/// iterated from both.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed ^ (len as u64).rotate_left(32);
    while out.len() < len {
        x = splitmix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `N` bytes (at least 17), zero but for `i` in the first 8 (little-endian), `!i` in the
/// next 8 and `i`'s low byte in the last: a reader can tell which entry it holds from
/// the head and the tail, without building the expected value.
pub fn index_marked_bytes<const N: usize>(i: u64) -> [u8; N] {
    let mut v = [0u8; N];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v[8..16].copy_from_slice(&(!i).to_le_bytes());
    v[N - 1] = i as u8;
    v
}

/// `N` bytes (at least 16): `round` and `i` (little-endian), then a pattern of both, so
/// which round wrote entry `i` shows in every value.
pub fn round_stamped_bytes<const N: usize>(round: u64, i: u64) -> [u8; N] {
    let mut v = [0u8; N];
    v[..8].copy_from_slice(&round.to_le_bytes());
    v[8..16].copy_from_slice(&i.to_le_bytes());
    for (j, b) in v[16..].iter_mut().enumerate() {
        *b = (round as usize * 31 + i as usize * 7 + j) as u8;
    }
    v
}

/// A temporary directory on tmpfs (`/dev/shm`) if it has `need` bytes free, else in the
/// default temporary directory: for tests whose subject (page allocation and reuse)
/// does not depend on the disk.
pub fn tmpfs_dir(need: u64) -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if free_bytes(shm) >= need {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// Free bytes on the filesystem holding `path` (0 if unknown).
pub fn free_bytes(path: &std::path::Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: statvfs is plain old data; all zeroes is a valid value.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `s` a valid, writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return 0;
    }
    (s.f_bavail as u64).saturating_mul(s.f_frsize as u64)
}

/// What a storage layer does with each operation: every method passes the operation
/// to `inner` (the storage below) unless a test overrides it, so a test writes only what
/// it changes. [`layer`] (or [`Layer`]) makes it a `Storage`.
pub trait Hooks: Send + Sync + 'static {
    fn len(&self, inner: &dyn Storage) -> io::Result<u64> {
        inner.len()
    }
    fn set_len(&self, inner: &dyn Storage, len: u64) -> io::Result<()> {
        inner.set_len(len)
    }
    fn write_at(&self, inner: &dyn Storage, buf: &[u8], offset: u64) -> io::Result<()> {
        inner.write_at(buf, offset)
    }
    fn read_at(&self, inner: &dyn Storage, buf: &mut [u8], offset: u64) -> io::Result<()> {
        inner.read_at(buf, offset)
    }
    fn sync_data(&self, inner: &dyn Storage) -> io::Result<()> {
        inner.sync_data()
    }
    fn start_writeback(&self, inner: &dyn Storage, offset: u64, len: u64) {
        inner.start_writeback(offset, len)
    }
    fn boot_id(&self, inner: &dyn Storage) -> Option<[u8; 16]> {
        inner.boot_id()
    }
}

/// A `Storage` over `inner` that runs every operation through `hooks`.
pub struct Layer<H> {
    pub inner: Box<dyn Storage>,
    pub hooks: H,
}

impl<H: Hooks> Storage for Layer<H> {
    fn len(&self) -> io::Result<u64> {
        self.hooks.len(&*self.inner)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.hooks.set_len(&*self.inner, len)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.hooks.write_at(&*self.inner, buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.hooks.read_at(&*self.inner, buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.hooks.sync_data(&*self.inner)
    }
    fn start_writeback(&self, offset: u64, len: u64) {
        self.hooks.start_writeback(&*self.inner, offset, len)
    }
    fn boot_id(&self) -> Option<[u8; 16]> {
        self.hooks.boot_id(&*self.inner)
    }
}

/// For `EnvBuilder::storage_layer`: wraps the file's storage in a [`Layer`] with `hooks`.
pub fn layer<H: Hooks>(hooks: H) -> impl FnOnce(Box<dyn Storage>) -> Box<dyn Storage> + Send {
    move |inner| Box::new(Layer { inner, hooks })
}

/// Reports a chosen boot id (and passes everything else on): reopening under another id
/// models the restart after a power loss, under the same id a process crash.
pub struct BootAs(pub [u8; 16]);

impl Hooks for BootAs {
    fn boot_id(&self, _inner: &dyn Storage) -> Option<[u8; 16]> {
        Some(self.0)
    }
}

/// Builder for an environment that believes it runs under boot `boot`.
pub fn under_boot(b: mdbx_lite::EnvBuilder, boot: [u8; 16]) -> mdbx_lite::EnvBuilder {
    b.storage_layer(layer(BootAs(boot)))
}

/// How long a test waits for something another thread or process must do. Only a hang
/// (or a bug that stops the other side) reaches it: no test depends on how soon the
/// condition comes true.
pub const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(300);

/// Yield until `cond` holds; panics (naming `what`) only after `HANG_GUARD`.
#[track_caller]
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "still waiting after {HANG_GUARD:?}: {what}"
        );
        std::thread::yield_now();
    }
}
