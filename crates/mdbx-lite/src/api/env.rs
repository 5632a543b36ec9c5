//! The environment: one open database file, its metas, locks, readers and writer.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::api::transaction::{ReadTxn, WriteTxn};
use crate::error::{io_context, Corruption, Error, Result};
use crate::format::meta::{Meta, MAX_PAGE_SIZE, META_READ_LEN, MIN_PAGE_SIZE};
use crate::os::files::{fsync_parent, open_lock_file, real_path};
use crate::os::io::{FileStorage, Storage, StorageLayer};
use crate::os::map::{lock_exclusive, lock_range, unlock, unlock_range, Mapping, ReadAhead};
use crate::storage::metas::{
    check_length, classify_meta_pair, init_file, needs_upgrade, never_initialised, read_meta_page,
    read_meta_pair, read_metas, rewrite_listed_pages, roll_back_stale_meta, upgrade_metas,
    write_meta, MetaPair, MetaTrust, LMDB_HINT,
};
use crate::storage::readers::{ReaderInfo, ReaderTable};
use crate::storage::snapshot::{MappedPages, Snapshot};
use crate::storage::writer_lock::DATA_LOCK_LEN;
use crate::txn::file::reservation_for;
use crate::txn::horizon::ReuseHorizon;
use crate::txn::WriterState;

/// How hard a commit works to be durable. Every mode keeps the file consistent; they
/// differ in how many of the latest commits a power loss may take back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit that returned survives power loss. Small commits write their pages and
    /// a meta listing them, then sync once; large ones sync the pages, then the meta
    /// (see [`EnvBuilder::one_sync`]).
    #[default]
    Full,
    /// Sync data but not the meta: the latest commit may be lost on power loss (it
    /// becomes durable with the next commit's first sync).
    NoMetaSync,
    /// No syncs; the OS writes back when it likes. [`Env::sync`] makes everything durable.
    NoSync,
}

pub(crate) const ANOTHER_ENV_WRITES: &str =
    "this thread already has a write transaction open on this file, through another Env";

/// Options for opening an environment; `Env::open` uses the defaults.
pub struct EnvBuilder {
    page_size: Option<usize>,
    durability: Durability,
    read_ahead: ReadAhead,
    max_readers: usize,
    growth_step: u64,
    read_only: bool,
    verify_checksums: bool,
    auto_sync_bytes: u64,
    spare_buffer_limit: usize,
    dirty_limit: usize,
    one_sync: bool,
    storage_layer: Option<StorageLayer>,
}

impl Default for EnvBuilder {
    fn default() -> Self {
        EnvBuilder {
            page_size: None,
            durability: Durability::Full,
            read_ahead: ReadAhead::Random,
            max_readers: 126,
            growth_step: 1 << 20,
            read_only: false,
            verify_checksums: false,
            auto_sync_bytes: 64 << 20,
            spare_buffer_limit: 256 << 20,
            dirty_limit: 512 << 20,
            one_sync: true,
            storage_layer: None,
        }
    }
}

impl EnvBuilder {
    /// Page size for a new database (power of two, 4 KiB..64 KiB; default 4 KiB). For an
    /// existing file, a different value gives `Error::PageSizeMismatch`.
    pub fn page_size(mut self, bytes: usize) -> Self {
        self.page_size = Some(bytes);
        self
    }
    /// How hard commits work to be durable (default `Full`; see [`Durability`]).
    pub fn durability(mut self, d: Durability) -> Self {
        self.durability = d;
        self
    }
    /// Kernel read-ahead for the mapping (default: random access).
    pub fn read_ahead(mut self, r: ReadAhead) -> Self {
        self.read_ahead = r;
        self
    }
    /// Most read transactions alive at once (default 126, as LMDB).
    pub fn max_readers(mut self, n: usize) -> Self {
        self.max_readers = n;
        self
    }
    /// Smallest step the file grows by (default 1 MiB; steps also grow with the file).
    pub fn growth_step(mut self, bytes: u64) -> Self {
        self.growth_step = bytes;
        self
    }
    /// Open without write access; the file and its lock file are never modified.
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
        self
    }
    /// Verify the checksum of every page a read touches (costs a crc32 per page visit).
    pub fn verify_checksums(mut self, yes: bool) -> Self {
        self.verify_checksums = yes;
        self
    }
    /// With `NoSync`: once this many bytes were written by commits since the last
    /// steady point, the next commit syncs and writes a steady meta (default 64 MiB).
    ///
    /// A power loss falls back to the last checkpoint, so this bounds how much work it
    /// can take back; the pages that checkpoint reaches are kept intact until the next
    /// one (pages born and freed since are reused meanwhile).
    pub fn auto_sync_bytes(mut self, bytes: u64) -> Self {
        self.auto_sync_bytes = bytes;
        self
    }
    /// Most memory the page buffers of finished write transactions may keep for the
    /// next ones (default 256 MiB; 0 gives every buffer back to the allocator).
    ///
    /// A transaction that changes more pages than its predecessors otherwise gets fresh
    /// heap memory for them, which costs an allocation and a page fault per page: about
    /// 15% of the time of deleting half of a 1,000,000-entry table.
    pub fn spare_buffer_limit(mut self, bytes: usize) -> Self {
        self.spare_buffer_limit = bytes;
        self
    }
    /// Most bytes of dirty pages a write transaction holds on the heap (default
    /// 512 MiB). Past it, the pages it changed longest ago are written early, to file
    /// pages no snapshot reaches, and their buffers dropped; a page touched again is
    /// read back. A transaction of any size then runs in bounded heap. While a nested
    /// transaction or savepoint is open nothing is written early.
    pub fn dirty_limit(mut self, bytes: usize) -> Self {
        self.dirty_limit = bytes;
        self
    }
    /// Whether small `Full` commits sync once (default `true`): their pages and meta are
    /// written, then one sync makes both durable. The meta lists the pages with their
    /// checksums, and opening after a restart trusts it only when each one holds what
    /// was written (otherwise the commit before it is the committed state, as when a
    /// crash interrupts any commit). A commit that writes more than 63 pages (or 1,024
    /// counting each page of its overflow values), whose base may not be on disk yet,
    /// or any commit when this is `false`, syncs its pages before writing its meta and
    /// then syncs the meta: two syncs, nothing to verify.
    pub fn one_sync(mut self, yes: bool) -> Self {
        self.one_sync = yes;
        self
    }
    /// Wrap the file's storage (fault injection and crash simulation in tests).
    pub fn storage_layer(
        mut self,
        layer: impl FnOnce(Box<dyn Storage>) -> Box<dyn Storage> + Send + 'static,
    ) -> Self {
        self.storage_layer = Some(Box::new(layer));
        self
    }

    /// Open (or create) the database at `path`. See [`Env::open`] for the safety contract.
    ///
    /// # Errors
    /// `Error::Io` when the file or its lock file cannot be opened, created, locked or
    /// mapped; `Error::NotADatabase` for a file that is not an mdbx-lite database (an LMDB
    /// file is named as such); `Error::VersionMismatch`, `Error::PageSizeMismatch`;
    /// `Error::Corrupted` when no meta page is valid or the file is shorter than its meta
    /// says; `Error::Invalid` for a refused lock file, a hard-linked database or a special
    /// file.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Env> {
        Env::open_with(path.as_ref(), self)
    }
}

pub(crate) struct Options {
    pub durability: Durability,
    pub read_ahead: ReadAhead,
    pub read_only: bool,
    pub verify_checksums: bool,
    pub auto_sync_bytes: u64,
    pub spare_buffer_limit: usize,
    pub dirty_limit: usize,
    pub one_sync: bool,
}

pub(crate) struct EnvInner {
    pub path: PathBuf,
    pub file: Arc<File>,
    pub storage: Arc<dyn Storage>,
    pub opts: Options,
    pub page_size: usize,
    /// The latest committed state; readers start from it.
    pub current: Mutex<Snapshot>,
    pub readers: ReaderTable,
    pub writer: Arc<Mutex<WriterState>>,
    /// The running write transaction's memory (for `stat`).
    pub writer_gauges: Arc<crate::txn::WriterGauges>,
    /// Newest steady meta known to be on stable storage: a power loss cannot take the
    /// state back further than this.
    pub durable_txnid: AtomicU64,
    /// Bytes written by `NoSync` commits since the last steady meta.
    pub weak_bytes: AtomicU64,
    /// Set when a commit failed after its meta may have reached the disk.
    pub poisoned: AtomicBool,
    /// Verdicts on one-sync metas from an earlier boot (verified once each).
    pub meta_trust: MetaTrust,
    /// The thread running this environment's write transaction (`WriteTxn` is not
    /// `Send`), so that thread's own `sync` or `begin_write` cannot deadlock on it.
    pub writer_thread: Mutex<Option<std::thread::ThreadId>>,
    /// Device and inode of the file: which other environments of this process are on
    /// the same file (see `WRITING_THREADS`).
    pub file_id: (u64, u64),
}

/// The files whose write transaction runs in this process, with the thread running it.
/// A thread that waits for the writer lock of a file whose transaction it runs itself,
/// through another `Env`, would wait forever; it gets an error instead.
static WRITING_THREADS: Mutex<Vec<((u64, u64), std::thread::ThreadId)>> = Mutex::new(Vec::new());

/// An open database. Cheap to clone (shared handle); `Send + Sync`.
///
/// All resources (mapping, descriptors, locks) are released when the last `Env` clone
/// and the last transaction started from it are dropped.
#[derive(Clone)]
pub struct Env {
    pub(crate) inner: Arc<EnvInner>,
}

/// The writer lock: the lock file's word when its table holds one (no system call unless
/// contended), else a record lock on the database file itself (lock files of version 1).
fn lock_writer(readers: &ReaderTable, file: &File, wait: bool) -> std::io::Result<bool> {
    match readers.lock_writer(wait) {
        Some(taken) => taken,
        None => lock_exclusive(file, wait),
    }
}

fn unlock_writer(readers: &ReaderTable, file: &File) {
    if !readers.unlock_writer() {
        let _ = unlock(file);
    }
}

/// Path of the lock file that sits beside the database: the file's real path (every
/// symbolic link resolved, so that every name of one file finds the same lock file)
/// followed by `-lock`. For a path that does not exist, `<path>-lock`.
pub fn lock_path(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    lock_path_of(&real)
}

fn lock_path_of(real: &Path) -> PathBuf {
    let mut s = real.as_os_str().to_owned();
    s.push("-lock");
    PathBuf::from(s)
}

impl Env {
    /// Open or create the database at `path` with default options.
    ///
    /// # Safety contract (what other programs must not do)
    /// The file is memory-mapped and reads return slices of the mapping. While it is
    /// open, no other program may truncate the file or write to it except through
    /// mdbx-lite. mdbx-lite itself never changes a page a live snapshot can reach, and it
    /// validates every page it decodes, so a corrupt file yields `Error::Corrupted`; but
    /// a file changed underneath a live mapping can crash the process (SIGBUS) or show
    /// torn bytes. This is the contract of every memory-mapped store (LMDB included).
    ///
    /// # Errors
    /// As [`EnvBuilder::open`].
    pub fn open(path: impl AsRef<Path>) -> Result<Env> {
        EnvBuilder::default().open(path)
    }

    /// Options for opening.
    pub fn builder() -> EnvBuilder {
        EnvBuilder::default()
    }

    fn open_with(path: &Path, b: EnvBuilder) -> Result<Env> {
        if let Some(ps) = b.page_size {
            if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&ps) || !ps.is_power_of_two() {
                return Err(Error::Invalid(format!(
                    "page size {ps} (must be a power of two from 4096 to 65536)"
                )));
            }
        }
        // Refused before opening: opening a FIFO, say, would wait for a writer forever.
        if std::fs::metadata(path).is_ok_and(|m| !m.is_dir() && !m.is_file()) {
            return Err(Error::Invalid(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        if path.is_dir() {
            return Err(Error::NotADatabase(if path.join("data.mdb").is_file() {
                format!(
                    "{} is an LMDB environment (a directory with data.mdb); {LMDB_HINT}",
                    path.display()
                )
            } else {
                format!(
                    "{} is a directory; a database is a single file",
                    path.display()
                )
            }));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(!b.read_only)
            .create(!b.read_only)
            .truncate(false)
            .open(path)
            .map_err(|e| io_context(e, "cannot open", path))?;
        let data = file
            .metadata()
            .map_err(|e| io_context(e, "cannot stat", path))?;
        if !data.is_file() {
            return Err(Error::Invalid(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        // One file, one lock file: the lock file is named after the file's real path, and
        // a file with several names (hard links, which no path resolution can tell
        // apart) is refused, since each name would get a lock file of its own and the
        // writers and readers of one name would not see those of the other.
        if data.nlink() > 1 {
            return Err(Error::Invalid(format!(
                "{}: the file has {} hard links; a database may have only one name, \
                 because each name would get its own lock file",
                path.display(),
                data.nlink()
            )));
        }
        let mut storage: Box<dyn Storage> = Box::new(FileStorage::new(file.try_clone()?));
        if let Some(layer) = b.storage_layer {
            storage = layer(storage);
        }
        let mut len = storage.len()?;
        if len == 0 || (!b.read_only && never_initialised(storage.as_ref(), len)?) {
            if b.read_only {
                return Err(Error::NotADatabase("the file is empty".into()));
            }
            // Initialisers exclude each other with the data bytes' record lock, which
            // never reaches the claims open environments hold (`writer_lock`).
            lock_range(&file, 0, DATA_LOCK_LEN, true)?;
            let created = (|| -> Result<()> {
                let len = storage.len()?;
                if len == 0 || never_initialised(storage.as_ref(), len)? {
                    let ps = b.page_size.unwrap_or(MIN_PAGE_SIZE);
                    init_file(storage.as_ref(), ps, b.growth_step)?;
                    fsync_parent(path);
                }
                Ok(())
            })();
            unlock_range(&file, 0, DATA_LOCK_LEN)?;
            created?;
            len = storage.len()?;
        }
        let meta_trust = MetaTrust::default();
        let mut pair = read_meta_pair(storage.as_ref(), len, b.page_size, &meta_trust)?;
        // Only now, with the file known to be a database, is anything created beside it.
        let lpath = lock_path_of(&real_path(&file, path));
        // A read-only open uses the shared reader table when the lock file exists and is
        // writable (so writers in other processes respect its readers); otherwise it
        // reads alone (see `ReaderTable`), and it never creates the lock file.
        let lock_file = open_lock_file(&lpath, &data, b.read_only)?;
        let readers = match &lock_file {
            Some(lock) => {
                ReaderTable::shared(lock, b.max_readers, !b.read_only).map_err(|e| match e {
                    Error::Io(e) => io_context(e, "cannot set up the reader table in", &lpath),
                    Error::Invalid(why) => Error::Invalid(format!("{}: {why}", lpath.display())),
                    e => e,
                })?
            }
            None => ReaderTable::private(b.max_readers),
        };
        if !readers
            .claim_database(&file)
            .map_err(|e| io_context(e, "cannot lock", path))?
        {
            return Err(Error::Invalid(format!(
                "{}: the database is open for writing through another lock file than {} \
                 (renamed, or its lock file removed, while in use); close every program \
                 using it and open it again",
                path.display(),
                lpath.display()
            )));
        }
        // Meta rewrites a writable open makes before anything else, each under the file
        // lock; a failed write or sync marks the shared failed-sync flag.
        let rewrite =
            |step: fn(&dyn Storage, u64, &MetaTrust) -> Result<MetaPair>| -> Result<MetaPair> {
                lock_writer(&readers, &file, true)?;
                let done = step(storage.as_ref(), len, &meta_trust);
                unlock_writer(&readers, &file);
                if matches!(done, Err(Error::Io(_))) {
                    readers.mark_sync_failed();
                }
                done
            };
        if pair.stale.is_some() && !b.read_only {
            pair = rewrite(roll_back_stale_meta)?;
        }
        if needs_upgrade(&pair) && !b.read_only {
            pair = rewrite(upgrade_metas)?;
        }
        let meta = pair.head;
        let page_size = meta.page_size as usize;
        if let Some(ps) = b.page_size {
            if ps != page_size {
                return Err(Error::PageSizeMismatch {
                    file: meta.page_size,
                    requested: ps as u32,
                });
            }
        }
        check_length(&meta, len)?;
        let map = Arc::new(
            Mapping::new(&file, reservation_for(len), b.read_ahead)
                .map_err(|e| io_context(e, "cannot map", path))?,
        );
        let snapshot = Snapshot {
            meta,
            pages: MappedPages {
                map: map.clone(),
                page_size,
                high_water: meta.high_water,
                verify: b.verify_checksums,
            },
        };
        let mut durable = pair.durable_txnid();
        if !b.read_only {
            // Whatever an earlier open left in the page cache is on disk now; a weak
            // head stays weak (only a steady meta survives a restart), so the steady
            // meta beside it is the durable one. After a failed sync this proves nothing:
            // the pages that sync lost are marked clean, so this sync succeeds without
            // writing them; the head then waits for `recover_failed_sync`.
            let failed_before = readers.sync_failed();
            if let Err(e) = storage.sync_data() {
                readers.mark_sync_failed();
                return Err(io_context(e, "cannot sync", path));
            }
            if meta.steady && !failed_before {
                durable = meta.txnid;
            }
        }
        let inner = EnvInner {
            path: path.to_path_buf(),
            file: Arc::new(file),
            storage: Arc::from(storage),
            opts: Options {
                durability: b.durability,
                read_ahead: b.read_ahead,
                read_only: b.read_only,
                verify_checksums: b.verify_checksums,
                auto_sync_bytes: b.auto_sync_bytes,
                spare_buffer_limit: b.spare_buffer_limit,
                dirty_limit: b.dirty_limit,
                one_sync: b.one_sync,
            },
            page_size,
            current: Mutex::new(snapshot),
            readers,
            writer_gauges: Arc::default(),
            writer: Arc::new(Mutex::new(WriterState {
                file_len: len,
                map,
                young_floor: None,
                spare_pages: crate::txn::page_slab::PageSlab::new(page_size),
                other_meta: None,
                head_seen: None,
            })),
            durable_txnid: AtomicU64::new(durable),
            weak_bytes: AtomicU64::new(0),
            poisoned: AtomicBool::new(false),
            meta_trust,
            writer_thread: Mutex::new(None),
            file_id: (data.dev(), data.ino()),
        };
        let env = Env {
            inner: Arc::new(inner),
        };
        if !b.read_only && env.inner.readers.sync_failed() {
            // Recover now rather than at the first write, so that readers of this handle
            // never see a state the recovery is about to roll back.
            match env.inner.recover_if_idle() {
                Ok(()) | Err(Error::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(env)
    }

    /// Start a read transaction on the latest committed snapshot. Never blocks on the
    /// writer.
    ///
    /// # Errors
    /// `Error::ReadersFull` when every reader slot is taken; `Error::Io` or
    /// `Error::Corrupted` when a newer commit of another process cannot be read.
    pub fn begin_read(&self) -> Result<ReadTxn> {
        ReadTxn::begin(self.inner.clone())
    }

    /// Start the write transaction, waiting while another one runs.
    ///
    /// # Errors
    /// `Error::ReadOnly` on a read-only environment; `Error::NeedsReopen` after a failed
    /// commit; `Error::Invalid` when this thread already holds the write transaction (of
    /// this or another `Env` on the file), which waiting would deadlock; `Error::Io` or
    /// `Error::Corrupted` from reading the latest commit or recovering a failed sync.
    pub fn begin_write(&self) -> Result<WriteTxn> {
        WriteTxn::begin(self.inner.clone(), true)
    }

    /// Start the write transaction, or fail with `Error::Busy` if another one runs.
    ///
    /// # Errors
    /// `Error::Busy` when another write transaction runs; otherwise as
    /// [`Env::begin_write`].
    pub fn try_begin_write(&self) -> Result<WriteTxn> {
        WriteTxn::begin(self.inner.clone(), false)
    }

    /// Make every commit so far durable (needed only with `NoSync`/`NoMetaSync`): sync
    /// the file and, if the latest commit is weak, rewrite its meta as steady.
    ///
    /// Waits while a write transaction runs (so it must not be called by a thread
    /// that holds one).
    ///
    /// # Errors
    /// `Error::Io` when the sync fails (the environment then needs reopening, see
    /// `Error::NeedsReopen`); `Error::ReadOnly` on a read-only environment.
    pub fn sync(&self) -> Result<()> {
        self.inner.make_steady(true)
    }

    /// The path the environment was opened with.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The database's page size in bytes.
    pub fn page_size(&self) -> usize {
        self.inner.page_size
    }

    /// Longest key this database accepts (979 bytes with 4 KiB pages).
    pub fn max_key_size(&self) -> usize {
        crate::tree::btree::max_key_size(self.inner.page_size)
    }

    /// Largest key of a dup-sort table (48 bytes below [`Env::max_key_size`]: its entry
    /// keeps room for a nested tree's record); its values may be up to
    /// [`Env::max_key_size`] bytes.
    pub fn max_dup_key_size(&self) -> usize {
        crate::tree::dups::max_key_size(self.inner.page_size)
    }

    /// Whether the environment was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.inner.opts.read_only
    }

    /// Live read transactions of every process using the database (only this
    /// process's when the lock file is not writable; see [`Env::readers_shared`]).
    pub fn readers(&self) -> Vec<ReaderInfo> {
        self.inner.readers.list()
    }

    /// Whether the reader table is shared with other processes through the lock file.
    pub fn readers_shared(&self) -> bool {
        self.inner.readers.is_shared()
    }

    /// Clear reader slots left by processes that died; returns how many were cleared.
    /// Writers also do this by themselves when a dead reader holds back the oldest
    /// snapshot, so calling it is only needed to tidy up or to report.
    pub fn reader_check(&self) -> usize {
        self.inner.readers.clear_stale()
    }

    /// Id of the latest committed transaction.
    pub fn last_txnid(&self) -> u64 {
        match self.inner.latest() {
            Ok(s) => s.meta.txnid,
            Err(_) => self.inner.current.lock().meta.txnid,
        }
    }
}

impl EnvInner {
    /// Adopt a commit made through another handle on the file (another `Env` or another
    /// process): called by the writer once it holds the file lock, so it builds on the
    /// newest meta on disk instead of a stale in-memory one (which would lose that
    /// commit and reuse pages it now uses).
    /// The newest committed snapshot, re-read from the file when another environment
    /// (in this process or another) announced a newer commit than this one has seen.
    pub(crate) fn latest(&self) -> Result<Snapshot> {
        let hint = self.readers.commit_hint();
        let mut cur = self.current.lock();
        if hint > cur.meta.txnid {
            self.refresh(&mut cur, hint)?;
        }
        Ok(cur.clone())
    }

    fn refresh(&self, cur: &mut Snapshot, hint: u64) -> Result<()> {
        // A meta being rewritten right now reads as torn; a second look settles it.
        let mut attempt = 0;
        let (disk, len) = loop {
            let len = self.storage.len()?;
            match read_metas(
                self.storage.as_ref(),
                len,
                Some(self.page_size),
                &self.meta_trust,
            ) {
                Ok(m) if m.txnid >= hint || attempt >= 3 => break (m, len),
                Err(e) if attempt >= 3 => return Err(e),
                _ => attempt += 1,
            }
        };
        if disk.txnid < hint {
            // The hint names a commit this file does not have (restored from a backup
            // under a live lock file, say): correct it so readers stop re-reading.
            self.readers.correct_hint(hint, disk.txnid);
        }
        if disk.txnid <= cur.meta.txnid {
            return Ok(());
        }
        check_length(&disk, len)?;
        let need = disk.high_water as usize * self.page_size;
        let map = if need > cur.pages.map.reserved() {
            Arc::new(Mapping::new(
                &self.file,
                reservation_for(len),
                self.opts.read_ahead,
            )?)
        } else {
            // The file grew in another process: let the mapping read up to its new end.
            cur.pages.map.measure()?;
            cur.pages.map.clone()
        };
        *cur = Snapshot {
            meta: disk,
            pages: MappedPages {
                map,
                page_size: self.page_size,
                high_water: disk.high_water,
                verify: self.opts.verify_checksums,
            },
        };
        Ok(())
    }

    pub(crate) fn adopt_newer_meta(&self, ws: &mut WriterState) -> Result<()> {
        if self.head_unchanged(ws)? {
            return Ok(());
        }
        let len = self.storage.len()?;
        // Under the file lock the real length is authoritative: another handle may have
        // grown the file.
        if len > ws.file_len {
            ws.map.measure()?;
        }
        ws.file_len = len;
        if ws.file_len as usize > ws.map.reserved() {
            ws.map = Arc::new(Mapping::new(
                &self.file,
                reservation_for(ws.file_len),
                self.opts.read_ahead,
            )?);
        }
        let pair = read_meta_pair(
            self.storage.as_ref(),
            len,
            Some(self.page_size),
            &self.meta_trust,
        )?;
        let disk = pair.head;
        ws.other_meta = pair.other;
        self.durable_txnid
            .fetch_max(pair.durable_txnid(), Ordering::SeqCst);
        let mut cur = self.current.lock();
        if disk.txnid == cur.meta.txnid && disk.steady != cur.meta.steady {
            // Another environment turned the head steady (`Env::sync`): the next commit
            // must not overwrite it in place.
            cur.meta = disk;
            ws.head_seen = Some(disk.key());
            return Ok(());
        }
        if disk.txnid <= cur.meta.txnid {
            ws.head_seen = (disk.key() == cur.meta.key()).then(|| disk.key());
            return Ok(());
        }
        check_length(&disk, len)?;
        ws.head_seen = Some(disk.key());
        *cur = Snapshot {
            meta: disk,
            pages: MappedPages {
                map: ws.map.clone(),
                page_size: self.page_size,
                high_water: disk.high_water,
                verify: self.opts.verify_checksums,
            },
        };
        Ok(())
    }

    /// Whether the metas, read through the map (no system call; under the writer lock
    /// nobody writes them), still have this environment's head on top; if so, the
    /// other slot's meta and the durable id are refreshed from them. The file length is
    /// then not measured: it changes only with a commit, or with a transaction that grew
    /// the file and aborted, and `FileWriter::ensure_len` measures before it grows.
    fn head_unchanged(&self, ws: &mut WriterState) -> Result<bool> {
        let map = ws.map.clone();
        let bound = 2 * self.page_size;
        let read = |off: u64| -> Result<Option<Cow<'_, [u8]>>> {
            Ok(map
                .get(off as usize, META_READ_LEN, bound)
                .map(Cow::Borrowed))
        };
        let pair = classify_meta_pair(
            self.storage.as_ref(),
            ws.file_len,
            Some(self.page_size),
            &self.meta_trust,
            &read,
        )?;
        if ws.head_seen != Some(pair.head.key()) {
            return Ok(false);
        }
        ws.other_meta = pair.other;
        self.durable_txnid
            .fetch_max(pair.durable_txnid(), Ordering::SeqCst);
        Ok(true)
    }

    /// Sync the file and turn a weak head meta steady in place (a torn rewrite leaves
    /// the steady meta in the other slot in charge, which is where a power loss would
    /// have left the state anyway). With `wait == false` it gives up quietly when
    /// another writer holds the file.
    pub(crate) fn make_steady(&self, wait: bool) -> Result<()> {
        if self.opts.read_only {
            return Ok(());
        }
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(Error::NeedsReopen);
        }
        if self.is_writer_thread() {
            // This thread's write transaction holds both locks and has adopted the
            // newest meta; nothing can commit until it returns.
            return self.steady_head();
        }
        if self.writes_through_another_env() {
            return if wait {
                Err(Error::Invalid(ANOTHER_ENV_WRITES.into()))
            } else {
                Ok(())
            };
        }
        let mut ws = if wait {
            self.writer.lock()
        } else {
            match self.writer.try_lock() {
                Some(ws) => ws,
                None => return Ok(()),
            }
        };
        if !self.lock_writer(wait)? {
            return Ok(());
        }
        let result = self
            .adopt_newer_meta(&mut ws)
            .and_then(|_| self.recover_failed_sync(&mut ws))
            .and_then(|_| self.steady_head());
        self.unlock_writer();
        result
    }

    /// Exclude writers of every environment on this file, in any process. Returns false
    /// when `wait` is false and another writer holds the lock.
    pub(crate) fn lock_writer(&self, wait: bool) -> Result<bool> {
        lock_writer(&self.readers, &self.file, wait)
            .map_err(|e| io_context(e, "cannot lock", &self.path))
    }

    pub(crate) fn unlock_writer(&self) {
        unlock_writer(&self.readers, &self.file);
    }

    /// Sync the file. A failed sync is final: the kernel may have dropped the pages it
    /// could not write and marked them clean, so a later sync would succeed without
    /// them. The environment is poisoned and the failure recorded for every other
    /// environment on the file (see [`EnvInner::recover_failed_sync`]).
    pub(crate) fn sync_or_poison(&self) -> Result<()> {
        self.storage.sync_data().map_err(|e| {
            self.poison();
            Error::from(e)
        })
    }

    /// After a failed sync or meta write nothing this environment holds in memory about
    /// the disk can be trusted: refuse every later write (`NeedsReopen`).
    pub(crate) fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
        self.readers.mark_sync_failed();
    }

    /// [`EnvInner::recover_failed_sync`] unless another writer holds the file (which
    /// then recovers, or fails its commit, itself).
    fn recover_if_idle(&self) -> Result<()> {
        let Some(mut ws) = self.writer.try_lock() else {
            return Ok(());
        };
        if !self.lock_writer(false)? {
            return Ok(());
        }
        let result = self
            .adopt_newer_meta(&mut ws)
            .and_then(|_| self.recover_failed_sync(&mut ws));
        self.unlock_writer();
        result
    }

    /// Recovery after a failed sync anywhere on this file, run by a writer holding the
    /// write lock before it reuses any page: make the newest meta durable by writing it
    /// again and syncing. Rewriting dirties the meta page again, so this sync really
    /// writes it (syncing alone would not: the failed one marked it clean).
    ///
    /// A steady head had its pages synced before its meta was written, so rewriting its
    /// meta suffices. A one-sync head was synced with its pages, by the sync that may
    /// have failed: its listed pages are written again too when they all still read
    /// back as written; if one does not, its commit cannot have been reported durable
    /// and is rolled back as a weak one is. A weak head (`NoSync`) had its pages never
    /// synced: they may be lost, so the state rolls back to the steady meta beside it,
    /// re-recorded under a newer id — what a power loss would have done, and what
    /// `NoSync` promises. That roll-back waits until no reader holds a lost snapshot.
    pub(crate) fn recover_failed_sync(&self, ws: &mut WriterState) -> Result<()> {
        if !self.readers.sync_failed() {
            return Ok(());
        }
        let len = self.storage.len()?;
        let storage = self.storage.as_ref();
        let pair = read_meta_pair(storage, len, Some(self.page_size), &self.meta_trust)?;
        let head = pair.head;
        let rewritten = match read_meta_page(storage, &head)? {
            Some(raw) if head.one_sync => rewrite_listed_pages(storage, &head, &raw)?,
            _ => false,
        };
        let durable = if rewritten || (head.steady && !head.one_sync) {
            head
        } else {
            let Some(steady) = pair.other.filter(|m| m.steady) else {
                return Err(Error::corrupted(
                    Corruption::Meta,
                    head.slot,
                    "an unsynced meta without a steady one beside it",
                ));
            };
            if let Some(t) = self
                .readers
                .snapshots()
                .into_iter()
                .find(|&t| t > steady.txnid)
            {
                return Err(Error::Invalid(format!(
                    "a sync failed, so the commits after {} are being rolled back, but a \
                     read transaction still holds snapshot {t}; end it and retry",
                    steady.txnid
                )));
            }
            let txnid = crate::format::meta::next_txnid(head.txnid, head.slot)?;
            Meta {
                txnid,
                slot: head.slot,
                one_sync: false,
                boot_id: self.storage.boot_id().unwrap_or_default(),
                ..steady
            }
        };
        // (A rewritten one-sync head's meta is written already, with its list.)
        let written = if rewritten {
            Ok(())
        } else {
            write_meta(storage, &durable)
        }
        .and_then(|_| self.storage.sync_data().map_err(Error::from));
        if let Err(e) = written {
            self.poison();
            return Err(e);
        }
        self.readers.clear_sync_failed();
        self.durable_txnid
            .fetch_max(durable.txnid, Ordering::SeqCst);
        self.weak_bytes.store(0, Ordering::SeqCst);
        self.adopt_newer_meta(ws)
    }

    pub(crate) fn is_writer_thread(&self) -> bool {
        *self.writer_thread.lock() == Some(std::thread::current().id())
    }

    /// Whether this thread runs a write transaction on this file through another
    /// environment (waiting for the writer lock would then never end).
    pub(crate) fn writes_through_another_env(&self) -> bool {
        let me = (self.file_id, std::thread::current().id());
        !self.is_writer_thread() && WRITING_THREADS.lock().contains(&me)
    }

    /// Record (or forget) that this thread runs this environment's write transaction.
    pub(crate) fn set_writer_thread(&self, running: bool) {
        let me = (self.file_id, std::thread::current().id());
        let mut all = WRITING_THREADS.lock();
        if running {
            *self.writer_thread.lock() = Some(me.1);
            all.push(me);
        } else if self.writer_thread.lock().take().is_some() {
            if let Some(i) = all.iter().position(|&w| w == me) {
                all.swap_remove(i);
            }
        }
    }

    /// `make_steady` once the writer's locks are held.
    fn steady_head(&self) -> Result<()> {
        let head = self.current.lock().meta;
        self.sync_or_poison()?;
        if !head.steady {
            let steady = Meta {
                steady: true,
                ..head
            };
            let written = write_meta(self.storage.as_ref(), &steady)
                .and_then(|_| self.storage.sync_data().map_err(Error::from));
            if let Err(e) = written {
                self.poison();
                return Err(e);
            }
            self.current.lock().meta = steady;
        }
        self.durable_txnid.fetch_max(head.txnid, Ordering::SeqCst);
        self.weak_bytes.store(0, Ordering::SeqCst);
        Ok(())
    }

    /// Which freed pages a writer building on `base` may reuse, computed once from the
    /// reader table, the durable meta and the persistent savepoints of `base` (their
    /// ids, `savepoints`): the one place that decides it (the writer's allocator and
    /// `stat` both take it from here).
    ///
    /// `durable_txnid` tracks the newest meta a crash cannot take back: after a `Full`
    /// commit `T` it is `T`; after a `NoMetaSync` commit `T` it is `T - 1` (`T`'s data
    /// sync flushed meta `T - 1`); with `NoSync` only a checkpoint advances it.
    pub(crate) fn reuse_horizon(&self, base: u64, savepoints: &[u64]) -> ReuseHorizon {
        let durable = self.durable_txnid.load(Ordering::SeqCst);
        let mut protected = self.readers.snapshots();
        protected.push(durable);
        protected.extend_from_slice(savepoints);
        protected.sort_unstable();
        protected.dedup();
        ReuseHorizon {
            limit: protected[0].min(durable).min(base),
            protected,
        }
    }
}

impl Drop for EnvInner {
    /// A clean close leaves no weak meta behind (as libmdbx does): `NoSync` commits
    /// survive a later power loss once their environment is closed.
    fn drop(&mut self) {
        if self.opts.durability == Durability::NoSync && !self.opts.read_only {
            let _ = self.make_steady(false);
        }
    }
}
