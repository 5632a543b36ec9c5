//! Helpers shared by the integration tests (each test binary includes what it uses).
#![allow(dead_code)]

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

/// The real file, reporting a chosen boot id: reopening under another id models the
/// restart after a power loss, under the same id a process crash.
pub struct BootAs {
    pub inner: Box<dyn mdbx_lite::io::Storage>,
    pub boot: [u8; 16],
}

impl mdbx_lite::io::Storage for BootAs {
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.inner.write_at(buf, offset)
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.inner.read_at(buf, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.inner.sync_data()
    }
    fn boot_id(&self) -> Option<[u8; 16]> {
        Some(self.boot)
    }
}

/// Builder for an environment that believes it runs under boot `boot`.
pub fn under_boot(b: mdbx_lite::EnvBuilder, boot: [u8; 16]) -> mdbx_lite::EnvBuilder {
    b.storage_layer(move |inner| Box::new(BootAs { inner, boot }))
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
