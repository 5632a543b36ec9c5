//! The I/O seam: every byte the engine writes goes through [`Storage`].
//!
//! Reads come from the memory map; writes never do. Keeping writes behind this small
//! trait lets tests wrap the real file with a layer that fails the Nth write or sync, or
//! records writes to build power-loss images, without touching the engine.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Positional writes, size changes and syncs of the database file.
#[allow(clippy::len_without_is_empty)]
pub trait Storage: Send + Sync {
    /// Current length of the file in bytes.
    ///
    /// # Errors
    /// The operating system's error.
    fn len(&self) -> io::Result<u64>;
    /// Grow (or shrink) the file to `len` bytes.
    ///
    /// # Errors
    /// The operating system's error.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Write all of `buf` at byte `offset`.
    ///
    /// # Errors
    /// The operating system's error.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Read exactly `buf.len()` bytes at `offset` (used only for metas before mapping).
    ///
    /// # Errors
    /// The operating system's error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Make every completed write and the file length durable (fdatasync).
    ///
    /// # Errors
    /// The operating system's error.
    fn sync_data(&self) -> io::Result<()>;
    /// Hint: start writing `[offset, offset + len)` to the device now, without waiting,
    /// so a large commit's final sync has less left to do. No durability meaning.
    fn start_writeback(&self, _offset: u64, _len: u64) {}
    /// Identity of the current boot of the machine holding the file: a weak meta is
    /// trusted only under the boot that wrote it (see `meta`). `None` when unknown.
    /// Crash simulations override it to model the restart after a power loss.
    fn boot_id(&self) -> Option<[u8; 16]> {
        system_boot_id()
    }
}

/// The kernel's random id of the current boot (`/proc/sys/kernel/random/boot_id`),
/// read once per process.
pub fn system_boot_id() -> Option<[u8; 16]> {
    static BOOT_ID: std::sync::OnceLock<Option<[u8; 16]>> = std::sync::OnceLock::new();
    *BOOT_ID.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        parse_uuid(text.trim())
    })
}

/// Parse a textual UUID (`8-4-4-4-12` hex digits) into its 16 bytes.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(digits, 16).ok()?;
    }
    (out != [0; 16]).then_some(out)
}

/// The real file.
pub struct FileStorage {
    file: File,
}

impl FileStorage {
    /// Storage over an open database file.
    pub fn new(file: File) -> FileStorage {
        FileStorage { file }
    }
}

impl Storage for FileStorage {
    fn len(&self) -> io::Result<u64> {
        // lseek, not fstat: a stat that reports timestamps makes Linux (6.13+, multigrain
        // timestamps) stamp the next write with a fine-grained time, so every commit
        // after a writer's begin would dirty the inode. With lseek, single-put commits
        // dirty it ~4x less often and run 5-10% faster (docs/benchmarks.md).
        use std::io::Seek;
        (&self.file).seek(io::SeekFrom::End(0))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn start_writeback(&self, offset: u64, len: u64) {
        crate::os::map::start_writeback(&self.file, offset, len);
    }
}

/// Wraps the storage an environment opens with; see [`crate::EnvBuilder::storage_layer`].
pub type StorageLayer = Box<dyn FnOnce(Box<dyn Storage>) -> Box<dyn Storage> + Send>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_length_follows_writes_and_truncation() {
        let file = tempfile::tempfile().unwrap();
        let storage = FileStorage::new(file.try_clone().unwrap());
        assert_eq!(storage.len().unwrap(), 0);
        storage.write_at(&[7u8; 100], 4000).unwrap();
        assert_eq!(storage.len().unwrap(), 4100);
        storage.set_len(8192).unwrap();
        assert_eq!(storage.len().unwrap(), 8192);
        storage.set_len(10).unwrap();
        assert_eq!(storage.len().unwrap(), 10);
        assert_eq!(file.metadata().unwrap().len(), 10);
        let mut b = [0u8; 4];
        storage.read_at(&mut b, 0).unwrap();
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn boot_id_parses() {
        assert_eq!(
            parse_uuid("0123abcd-0000-1111-2222-333344445555"),
            Some([
                0x01, 0x23, 0xab, 0xcd, 0, 0, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55,
                0x55
            ])
        );
        assert_eq!(parse_uuid("garbage"), None);
        assert_eq!(parse_uuid("0123abcd-0000-1111-2222-33334444555z"), None);
        if cfg!(target_os = "linux") {
            assert!(system_boot_id().is_some());
        }
    }
}
