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
    fn len(&self) -> io::Result<u64>;
    /// Grow (or shrink) the file to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Write all of `buf` at byte `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Read exactly `buf.len()` bytes at `offset` (used only for metas before mapping).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Make every completed write and the file length durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
}

/// The real file.
pub struct FileStorage {
    file: File,
}

impl FileStorage {
    pub fn new(file: File) -> FileStorage {
        FileStorage { file }
    }
}

impl Storage for FileStorage {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
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
}

/// Wraps the storage an environment opens with; see [`crate::EnvBuilder::storage_layer`].
pub type StorageLayer = Box<dyn FnOnce(Box<dyn Storage>) -> Box<dyn Storage> + Send>;
