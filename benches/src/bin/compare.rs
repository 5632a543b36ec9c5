//! The peer comparison: the workload redb publishes in its README, run on mdbx-lite,
//! LMDB (heed), libmdbx, redb and SQLite (rusqlite, bundled), one engine after another.
//!
//! ```sh
//! cargo run --release -p mdbx-lite-benches --features peers --bin compare -- \
//!     [--workload kv|dupsort] [--n 1000000] [--keys random|paths|urls|composite|monotonic] \
//!     [--runs 3] [--engines mdbx-lite,lmdb,libmdbx,redb,sqlite] [--dir DIR] \
//!     [--out docs/benchmarks.md] [--note TEXT]
//! ```
//!
//! Every engine runs in its own child process (this binary re-executed with a hidden
//! `--child ENGINE`), so the peak RSS (`VmHWM`) is per engine; the child prints one line
//! `RESULT {json}` on stdout. With `--runs R` every engine runs R times, in an order
//! rotated by one engine per run, and the table shows the medians.
//!
//! Phases (all on one database per child, in this order): bulk load of N entries in one
//! transaction; 1,000 durable transactions of one insert; 100 transactions of 1,000
//! inserts; `len()`; 1,000,000 random gets (twice); 500,000 range scans of 10 entries
//! from a random existing key (twice); 1,000,000 random gets split over 4 and over 8
//! threads, each thread with its own read transaction; removal of N/2 keys in one
//! transaction; compaction. Values are 150 random bytes (`mdbx_lite_benches::value`,
//! seeded). Keys are 24 random bytes by default (`mdbx_lite_benches::key`); `--keys`
//! picks another kind of `mdbx_lite_benches::KeyKind` (file paths, URLs, composite
//! `tenant/user/timestamp` keys, increasing ids), whose keys share prefixes. Every
//! engine generates a key through the same `KeyBuf::key(j)` (position `j` of the
//! workload, mapped by `Keys::index`: for the structured kinds the bulk load and the
//! removals visit `0..N` in a pseudo-random order, see `benches/src/keys.rs`).
//!
//! `--workload dupsort` runs another workload instead, on dup-sort tables (a sorted set
//! of values per key): `--n` is then the number of keys (default 100,000) and `--keys`
//! does not apply; see `compare/dupsort.rs`. Its results go into their own subsection,
//! `### Dup-sort, N = n keys`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::hint::black_box;
#[cfg(feature = "lmdb")]
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

use mdbx_lite_benches::{value, KeyKind, Keys, Rng};
use serde_json::{Map, Value};

#[path = "compare/dupsort.rs"]
mod dupsort;

type Res<T> = Result<T, Box<dyn StdError + Send + Sync>>;

// ---------------------------------------------------------------------------------------
// Counting allocator: bytes and calls of every Rust heap allocation in the process.
// C libraries (LMDB, libmdbx, SQLite) call malloc directly and are not seen by it.

struct Counting;

static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static ALLOC_CALLS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        ALLOC_CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        ALLOC_CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOC_BYTES.fetch_add(new_size as u64, Relaxed);
        ALLOC_CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap() -> (u64, u64) {
    (ALLOC_BYTES.load(Relaxed), ALLOC_CALLS.load(Relaxed))
}

// ---------------------------------------------------------------------------------------
// The engines.

const ALL_ENGINES: &[&str] = &["mdbx-lite", "lmdb", "libmdbx", "redb", "sqlite"];

/// Map size / upper file size for the engines that need one (LMDB, libmdbx).
const MAP_SIZE: usize = 64 << 30;

/// One engine under test. Every method is one transaction (reads: one read
/// transaction); writes commit durably with the engine's default settings.
trait Engine: Sync + Sized {
    /// Open the engine's database in `dir`, for a workload of `keys`.
    fn open(dir: &Path, keys: Keys) -> Res<Self>;
    /// The engine's settings, for the report.
    fn settings(&self) -> String;
    /// Insert keys `start..start + count` in one transaction.
    fn insert(&self, start: u64, count: u64) -> Res<()>;
    fn len(&self) -> Res<u64>;
    /// `count` gets of random existing keys (`rng % modulo`) in one read transaction;
    /// `ready` is called once the transaction is open. Returns a checksum of the values.
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64>;
    /// `count` range scans of up to `len` entries from random existing keys, in one read
    /// transaction. Returns the number of entries seen plus a checksum.
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)>;
    /// Remove keys `start..start + count` in one transaction; returns how many existed.
    fn remove(&self, start: u64, count: u64) -> Res<u64>;
    /// Size of the database file(s) in bytes.
    fn file_size(&self) -> Res<u64>;
    /// Compact (into `dest` if the engine compacts by copying); returns the new size.
    fn compact(&mut self, dest: &Path) -> Res<u64>;
}

fn missing(i: u64) -> Box<dyn StdError + Send + Sync> {
    format!("key #{i} not found").into()
}

fn file_len(path: &Path) -> Res<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// What every engine does with a value it read: its length and first byte (one cache
/// line of the value is touched, as in redb's benchmark).
#[inline(always)]
fn touch(v: &[u8]) -> u64 {
    v.len() as u64 + u64::from(v[0])
}

// --- mdbx-lite -------------------------------------------------------------------------

struct MdbxLite {
    env: mdbx_lite::Env,
    path: PathBuf,
    keys: Keys,
}

impl Engine for MdbxLite {
    fn open(dir: &Path, keys: Keys) -> Res<Self> {
        let path = dir.join("mdbx-lite.db");
        let env = mdbx_lite::Env::open(&path)?;
        Ok(MdbxLite { env, path, keys })
    }
    fn settings(&self) -> String {
        "`Env::open` defaults: `Durability::Full`, 4 KiB pages, no checksum verification on read"
            .into()
    }
    fn insert(&self, start: u64, count: u64) -> Res<()> {
        let mut kb = self.keys.buf();
        let mut w = self.env.begin_write()?;
        {
            let mut t = w.main_table();
            for i in start..start + count {
                t.put(kb.key(i), &value(i))?;
            }
        }
        w.commit()?;
        Ok(())
    }
    fn len(&self) -> Res<u64> {
        Ok(self.env.begin_read()?.main_table().len())
    }
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64> {
        let mut kb = self.keys.buf();
        let rtx = self.env.begin_read()?;
        let t = rtx.main_table();
        ready();
        let mut rng = Rng::new(seed);
        let mut sum = 0;
        for _ in 0..count {
            let i = rng.next_u64() % modulo;
            let v = t.get(kb.key(i))?.ok_or_else(|| missing(i))?;
            sum += touch(v);
        }
        Ok(sum)
    }
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)> {
        let mut kb = self.keys.buf();
        let rtx = self.env.begin_read()?;
        let t = rtx.main_table();
        let mut rng = Rng::new(seed);
        let (mut n, mut sum) = (0, 0);
        for _ in 0..count {
            let k = kb.key(rng.next_u64() % modulo);
            for e in t.range(k..).take(len) {
                let (k, v) = e?;
                n += 1;
                sum += u64::from(k[0]) + touch(v);
            }
        }
        Ok((n, sum))
    }
    fn remove(&self, start: u64, count: u64) -> Res<u64> {
        let mut kb = self.keys.buf();
        let mut w = self.env.begin_write()?;
        let mut n = 0;
        {
            let mut t = w.main_table();
            for i in start..start + count {
                n += u64::from(t.delete(kb.key(i))?);
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
    fn compact(&mut self, dest: &Path) -> Res<u64> {
        let out = dest.join("mdbx-lite.db");
        self.env.copy_to(&out, true)?;
        file_len(&out)
    }
}

// --- LMDB (heed) -----------------------------------------------------------------------

#[cfg(feature = "lmdb")]
struct Lmdb {
    /// Leaked: heed 0.23 ties a `Database` to the lifetime of its `Env`, and the child
    /// process exits right after the workload (every commit is already durable).
    env: &'static heed::Env,
    db: heed::Database<'static, heed::types::Bytes, heed::types::Bytes>,
    dir: PathBuf,
    keys: Keys,
}

#[cfg(feature = "lmdb")]
impl Engine for Lmdb {
    fn open(dir: &Path, keys: Keys) -> Res<Self> {
        let dir = dir.join("lmdb");
        std::fs::create_dir_all(&dir)?;
        // SAFETY: the directory is ours and nobody else opens or truncates the file.
        let env = unsafe { heed::EnvOpenOptions::new().map_size(MAP_SIZE).open(&dir)? };
        let env: &'static heed::Env = Box::leak(Box::new(env));
        let w = env.write_txn()?;
        let db = env
            .create_databases_and_commit(w, |opener, w| -> heed::Result<_> {
                let db = opener.create_database(w, None)?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit(db))
            })?
            .unwrap_commit();
        Ok(Lmdb { env, db, dir, keys })
    }
    fn settings(&self) -> String {
        format!(
            "default flags (durable commits), map size {} GiB, read transactions with TLS",
            MAP_SIZE >> 30
        )
    }
    fn insert(&self, start: u64, count: u64) -> Res<()> {
        let mut kb = self.keys.buf();
        let mut w = self.env.write_txn()?;
        for i in start..start + count {
            self.db.put(&mut w, kb.key(i), &value(i))?;
        }
        w.commit()?;
        Ok(())
    }
    fn len(&self) -> Res<u64> {
        let r = self.env.read_txn()?;
        Ok(self.db.len(&r)?)
    }
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64> {
        let mut kb = self.keys.buf();
        let r = self.env.read_txn()?;
        ready();
        let mut rng = Rng::new(seed);
        let mut sum = 0;
        for _ in 0..count {
            let i = rng.next_u64() % modulo;
            let v = self.db.get(&r, kb.key(i))?.ok_or_else(|| missing(i))?;
            sum += touch(v);
        }
        Ok(sum)
    }
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)> {
        let mut kb = self.keys.buf();
        let r = self.env.read_txn()?;
        let mut rng = Rng::new(seed);
        let (mut n, mut sum) = (0, 0);
        for _ in 0..count {
            let k = kb.key(rng.next_u64() % modulo);
            let range = (Bound::Included(k), Bound::Unbounded);
            for e in self.db.range(&r, &range)?.take(len) {
                let (k, v) = e?;
                n += 1;
                sum += u64::from(k[0]) + touch(v);
            }
        }
        Ok((n, sum))
    }
    fn remove(&self, start: u64, count: u64) -> Res<u64> {
        let mut kb = self.keys.buf();
        let mut w = self.env.write_txn()?;
        let mut n = 0;
        for i in start..start + count {
            n += u64::from(self.db.delete(&mut w, kb.key(i))?);
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.dir.join("data.mdb"))
    }
    fn compact(&mut self, dest: &Path) -> Res<u64> {
        let out = dest.join("lmdb-compact.mdb");
        self.env
            .copy_to_path(&out, heed::CompactionOption::Enabled)?
            .sync_all()?;
        file_len(&out)
    }
}

// --- libmdbx ---------------------------------------------------------------------------

#[cfg(feature = "libmdbx")]
struct Libmdbx {
    db: libmdbx::Database<libmdbx::NoWriteMap>,
    dir: PathBuf,
    keys: Keys,
}

#[cfg(feature = "libmdbx")]
type Bytes<'a> = std::borrow::Cow<'a, [u8]>;

#[cfg(feature = "libmdbx")]
impl Engine for Libmdbx {
    fn open(dir: &Path, keys: Keys) -> Res<Self> {
        use libmdbx::{DatabaseOptions, Mode, ReadWriteOptions};
        let dir = dir.join("libmdbx");
        std::fs::create_dir_all(&dir)?;
        let opts = DatabaseOptions {
            mode: Mode::ReadWrite(ReadWriteOptions {
                max_size: Some(MAP_SIZE as isize),
                ..Default::default()
            }),
            ..Default::default()
        };
        let db = libmdbx::Database::open_with_options(&dir, opts)?;
        let w = db.begin_rw_txn()?;
        w.create_table(None, Default::default())?;
        w.commit()?;
        Ok(Libmdbx { db, dir, keys })
    }
    fn settings(&self) -> String {
        format!(
            "`SyncMode::Durable` (default), `NoWriteMap`, upper size {} GiB, other geometry default",
            MAP_SIZE >> 30
        )
    }
    fn insert(&self, start: u64, count: u64) -> Res<()> {
        let mut kb = self.keys.buf();
        let w = self.db.begin_rw_txn()?;
        {
            let t = w.open_table(None)?;
            for i in start..start + count {
                w.put(&t, kb.key(i), value(i), libmdbx::WriteFlags::UPSERT)?;
            }
        }
        w.commit()?;
        Ok(())
    }
    fn len(&self) -> Res<u64> {
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(None)?;
        Ok(r.table_stat(&t)?.entries() as u64)
    }
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64> {
        let mut kb = self.keys.buf();
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(None)?;
        ready();
        let mut rng = Rng::new(seed);
        let mut sum = 0;
        for _ in 0..count {
            let i = rng.next_u64() % modulo;
            let v = r.get::<Bytes>(&t, kb.key(i))?.ok_or_else(|| missing(i))?;
            sum += touch(&v);
        }
        Ok(sum)
    }
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)> {
        let mut kb = self.keys.buf();
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(None)?;
        let mut rng = Rng::new(seed);
        let (mut n, mut sum) = (0, 0);
        for _ in 0..count {
            let k = kb.key(rng.next_u64() % modulo);
            let mut c = r.cursor(&t)?;
            let mut e = c.set_range::<Bytes, Bytes>(k)?;
            let mut seen = 0;
            while let Some((k, v)) = e {
                n += 1;
                sum += u64::from(k[0]) + touch(&v);
                seen += 1;
                if seen == len {
                    break;
                }
                e = c.next::<Bytes, Bytes>()?;
            }
        }
        Ok((n, sum))
    }
    fn remove(&self, start: u64, count: u64) -> Res<u64> {
        let mut kb = self.keys.buf();
        let w = self.db.begin_rw_txn()?;
        let mut n = 0;
        {
            let t = w.open_table(None)?;
            for i in start..start + count {
                n += u64::from(w.del(&t, kb.key(i), None)?);
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.dir.join("mdbx.dat"))
    }
    fn compact(&mut self, dest: &Path) -> Res<u64> {
        use std::os::unix::ffi::OsStrExt;
        let out = dest.join("libmdbx-compact.dat");
        let c_out = std::ffi::CString::new(out.as_os_str().as_bytes())?;
        // SAFETY: the environment pointer is live (owned by `self.db`) and `c_out` is a
        // NUL-terminated path that outlives the call.
        let rc = unsafe {
            mdbx_sys::mdbx_env_copy(self.db.ptr().0, c_out.as_ptr(), mdbx_sys::MDBX_CP_COMPACT)
        };
        if rc != 0 {
            return Err(format!("mdbx_env_copy failed: {rc}").into());
        }
        file_len(&out)
    }
}

// --- redb ------------------------------------------------------------------------------

#[cfg(feature = "redb")]
const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("kv");

#[cfg(feature = "redb")]
struct Redb {
    db: redb::Database,
    path: PathBuf,
    keys: Keys,
}

#[cfg(feature = "redb")]
impl Engine for Redb {
    fn open(dir: &Path, keys: Keys) -> Res<Self> {
        let path = dir.join("redb.redb");
        let db = redb::Database::create(&path)?;
        let w = db.begin_write()?;
        w.open_table(REDB_TABLE)?;
        w.commit()?;
        Ok(Redb { db, path, keys })
    }
    fn settings(&self) -> String {
        "`Database::create` defaults (`Durability::Immediate`, default cache size)".into()
    }
    fn insert(&self, start: u64, count: u64) -> Res<()> {
        let mut kb = self.keys.buf();
        let w = self.db.begin_write()?;
        {
            let mut t = w.open_table(REDB_TABLE)?;
            for i in start..start + count {
                t.insert(kb.key(i), &value(i)[..])?;
            }
        }
        w.commit()?;
        Ok(())
    }
    fn len(&self) -> Res<u64> {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let r = self.db.begin_read()?;
        Ok(r.open_table(REDB_TABLE)?.len()?)
    }
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64> {
        let mut kb = self.keys.buf();
        use redb::ReadableDatabase;
        let r = self.db.begin_read()?;
        let t = r.open_table(REDB_TABLE)?;
        ready();
        let mut rng = Rng::new(seed);
        let mut sum = 0;
        for _ in 0..count {
            let i = rng.next_u64() % modulo;
            let v = t.get(kb.key(i))?.ok_or_else(|| missing(i))?;
            sum += touch(v.value());
        }
        Ok(sum)
    }
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)> {
        let mut kb = self.keys.buf();
        use redb::ReadableDatabase;
        let r = self.db.begin_read()?;
        let t = r.open_table(REDB_TABLE)?;
        let mut rng = Rng::new(seed);
        let (mut n, mut sum) = (0, 0);
        for _ in 0..count {
            let k = kb.key(rng.next_u64() % modulo);
            for e in t.range(k..)?.take(len) {
                let (k, v) = e?;
                n += 1;
                sum += u64::from(k.value()[0]) + touch(v.value());
            }
        }
        Ok((n, sum))
    }
    fn remove(&self, start: u64, count: u64) -> Res<u64> {
        let mut kb = self.keys.buf();
        let w = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut t = w.open_table(REDB_TABLE)?;
            for i in start..start + count {
                n += u64::from(t.remove(kb.key(i))?.is_some());
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
    fn compact(&mut self, _dest: &Path) -> Res<u64> {
        // `compact` returns whether it made progress; a few passes reach the fixpoint.
        for _ in 0..16 {
            if !self.db.compact()? {
                break;
            }
        }
        file_len(&self.path)
    }
}

// --- SQLite (rusqlite, bundled) --------------------------------------------------------

#[cfg(feature = "sqlite")]
struct Sqlite {
    conn: std::sync::Mutex<rusqlite::Connection>,
    main_thread: std::thread::ThreadId,
    path: PathBuf,
    keys: Keys,
}

#[cfg(feature = "sqlite")]
impl Sqlite {
    /// The shared connection on the main thread; a connection of its own elsewhere
    /// (one per reader thread, as SQLite is used).
    fn with_conn<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Res<T>) -> Res<T> {
        if std::thread::current().id() == self.main_thread {
            let conn = self
                .conn
                .lock()
                .map_err(|_| "sqlite connection mutex poisoned")?;
            f(&conn)
        } else {
            f(&rusqlite::Connection::open(&self.path)?)
        }
    }
}

#[cfg(feature = "sqlite")]
impl Engine for Sqlite {
    fn open(dir: &Path, keys: Keys) -> Res<Self> {
        let path = dir.join("sqlite.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "CREATE TABLE kv(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
        )?;
        Ok(Sqlite {
            conn: std::sync::Mutex::new(conn),
            main_thread: std::thread::current().id(),
            path,
            keys,
        })
    }
    fn settings(&self) -> String {
        self.with_conn(|c| {
            let jm: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let cache: i64 = c.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
            let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok(format!(
                "defaults: journal_mode={jm}, synchronous={sync}{}, cache_size={cache}, \
                 page_size={page}; SQLite {}; table `kv(key BLOB PRIMARY KEY, value BLOB) \
                 WITHOUT ROWID`; reads inside `BEGIN`…`COMMIT`",
                if sync == 2 { " (FULL)" } else { "" },
                rusqlite::version()
            ))
        })
        .unwrap_or_else(|e| format!("defaults (pragma query failed: {e})"))
    }
    fn insert(&self, start: u64, count: u64) -> Res<()> {
        let mut kb = self.keys.buf();
        self.with_conn(|c| {
            let tx = c.unchecked_transaction()?;
            {
                let mut st = tx.prepare_cached("INSERT OR REPLACE INTO kv VALUES (?1, ?2)")?;
                for i in start..start + count {
                    st.execute((kb.key(i), &value(i)[..]))?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
    fn len(&self) -> Res<u64> {
        self.with_conn(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM kv", [], |r| r.get(0))?;
            Ok(n as u64)
        })
    }
    fn gets(&self, seed: u64, count: u64, modulo: u64, ready: &dyn Fn()) -> Res<u64> {
        let mut kb = self.keys.buf();
        use rusqlite::OptionalExtension;
        self.with_conn(|c| {
            c.execute_batch("BEGIN")?;
            let mut sum = 0;
            {
                let mut st = c.prepare_cached("SELECT value FROM kv WHERE key = ?1")?;
                ready();
                let mut rng = Rng::new(seed);
                for _ in 0..count {
                    let i = rng.next_u64() % modulo;
                    let v = st
                        .query_row([kb.key(i)], |r| Ok(touch(r.get_ref(0)?.as_blob()?)))
                        .optional()?
                        .ok_or_else(|| missing(i))?;
                    sum += v;
                }
            }
            c.execute_batch("COMMIT")?;
            Ok(sum)
        })
    }
    fn scans(&self, seed: u64, count: u64, modulo: u64, len: usize) -> Res<(u64, u64)> {
        let mut kb = self.keys.buf();
        self.with_conn(|c| {
            c.execute_batch("BEGIN")?;
            let (mut n, mut sum) = (0, 0);
            {
                let mut st =
                    c.prepare_cached("SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key")?;
                let mut rng = Rng::new(seed);
                for _ in 0..count {
                    let k = kb.key(rng.next_u64() % modulo);
                    let mut rows = st.query([k])?;
                    let mut seen = 0;
                    while let Some(row) = rows.next()? {
                        let k = row.get_ref(0)?.as_blob()?;
                        let v = row.get_ref(1)?.as_blob()?;
                        n += 1;
                        sum += u64::from(k[0]) + touch(v);
                        seen += 1;
                        if seen == len {
                            break;
                        }
                    }
                }
            }
            c.execute_batch("COMMIT")?;
            Ok((n, sum))
        })
    }
    fn remove(&self, start: u64, count: u64) -> Res<u64> {
        let mut kb = self.keys.buf();
        self.with_conn(|c| {
            let tx = c.unchecked_transaction()?;
            let mut n = 0;
            {
                let mut st = tx.prepare_cached("DELETE FROM kv WHERE key = ?1")?;
                for i in start..start + count {
                    n += st.execute([kb.key(i)])? as u64;
                }
            }
            tx.commit()?;
            Ok(n)
        })
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
    fn compact(&mut self, _dest: &Path) -> Res<u64> {
        self.with_conn(|c| Ok(c.execute_batch("VACUUM")?))?;
        file_len(&self.path)
    }
}

// ---------------------------------------------------------------------------------------
// The workload, in a child process.

const INDIVIDUAL_WRITES: u64 = 1_000;
const BATCHES: u64 = 100;
const BATCH_SIZE: u64 = 1_000;
const READS: u64 = 1_000_000;
const SCANS: u64 = 500_000;
const SCAN_LEN: usize = 10;
const THREADS: [u64; 2] = [4, 8];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn vm_hwm_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn run_child(
    engine: &str,
    n: u64,
    kind: KeyKind,
    dir: &Path,
    profile: Option<Profile>,
) -> Res<Map<String, Value>> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("compare-{engine}-"))
        .tempdir_in(dir)?;
    let dir = dir.path();
    let keys = Keys::new(kind, n);
    match (engine, profile) {
        ("mdbx-lite", None) => workload::<MdbxLite>(engine, n, keys, dir),
        ("mdbx-lite", Some(p)) => profile_reads::<MdbxLite>(engine, n, keys, dir, p),
        #[cfg(feature = "lmdb")]
        ("lmdb", None) => workload::<Lmdb>(engine, n, keys, dir),
        #[cfg(feature = "lmdb")]
        ("lmdb", Some(p)) => profile_reads::<Lmdb>(engine, n, keys, dir, p),
        #[cfg(feature = "libmdbx")]
        ("libmdbx", None) => workload::<Libmdbx>(engine, n, keys, dir),
        #[cfg(feature = "redb")]
        ("redb", None) => workload::<Redb>(engine, n, keys, dir),
        #[cfg(feature = "sqlite")]
        ("sqlite", None) => workload::<Sqlite>(engine, n, keys, dir),
        (other, _) => Err(format!("engine {other} is not built in (or cannot be profiled)").into()),
    }
}

/// What `--profile-gets` / `--profile-scans` repeat, and for how long.
#[derive(Clone, Copy)]
struct Profile {
    secs: f64,
    /// 0: random gets; L > 0: range scans of L entries.
    scan_len: usize,
}

/// For `perf record -D <delay>`: bulk load N entries, print `PROFILE START` on stderr,
/// then only random gets or only range scans (one read phase) for `secs` seconds.
fn profile_reads<E: Engine>(
    name: &str,
    n: u64,
    keys: Keys,
    dir: &Path,
    p: Profile,
) -> Res<Map<String, Value>> {
    let e = E::open(dir, keys)?;
    let t = Instant::now();
    e.insert(0, n)?;
    eprintln!("PROFILE START after {:.0} ms of loading", ms(t.elapsed()));
    let (t, mut rounds) = (Instant::now(), 0u64);
    let per_round = if p.scan_len == 0 { READS } else { SCANS };
    while t.elapsed().as_secs_f64() < p.secs {
        rounds += 1;
        if p.scan_len == 0 {
            black_box(e.gets(rounds, READS, n, &|| {})?);
        } else {
            black_box(e.scans(rounds, SCANS, n, p.scan_len)?);
        }
    }
    let per_op_ns = t.elapsed().as_secs_f64() * 1e9 / (rounds * per_round) as f64;
    let what = if p.scan_len == 0 { "get" } else { "scan" };
    eprintln!("PROFILE END: {rounds} × {per_round} {what}s, {per_op_ns:.0} ns/{what}");
    let mut m = Map::new();
    m.insert("engine".into(), Value::from(name));
    m.insert(format!("ns_per_{what}"), Value::from(per_op_ns));
    Ok(m)
}

fn workload<E: Engine>(name: &str, n: u64, keys: Keys, dir: &Path) -> Res<Map<String, Value>> {
    let mut m = Map::new();
    let mut put = |k: &str, v: f64| {
        m.insert(k.to_string(), Value::from(v));
    };
    let say = |what: &str, t: Duration| eprintln!("  [{name}] {what}: {:.1} ms", ms(t));
    let data = dir.join("data");
    let copies = dir.join("copies");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&copies)?;
    let mut e = E::open(&data, keys)?;
    let settings = e.settings();

    let t = Instant::now();
    e.insert(0, n)?;
    let d = t.elapsed();
    say("bulk load", d);
    put("bulk_load", ms(d));
    put("size_after_load", e.file_size()? as f64);

    let t = Instant::now();
    for j in 0..INDIVIDUAL_WRITES {
        e.insert(n + j, 1)?;
    }
    let d = t.elapsed();
    say("individual writes", d);
    put("individual_writes", ms(d));

    let base = n + INDIVIDUAL_WRITES;
    let t = Instant::now();
    for b in 0..BATCHES {
        e.insert(base + b * BATCH_SIZE, BATCH_SIZE)?;
    }
    let d = t.elapsed();
    say("batch writes", d);
    put("batch_writes", ms(d));
    let total = base + BATCHES * BATCH_SIZE;

    let t = Instant::now();
    let len = e.len()?;
    put("len", ms(t.elapsed()));
    if len != total {
        return Err(format!("len() = {len}, expected {total}").into());
    }

    // Read phases: time and Rust heap allocated.
    let mut read_heap = (0u64, 0u64);
    for (round, label) in [(1u64, "random_reads"), (2, "random_reads_2")] {
        let (b0, c0) = heap();
        let t = Instant::now();
        black_box(e.gets(round, READS, total, &|| {})?);
        let d = t.elapsed();
        let (b1, c1) = heap();
        say(label, d);
        put(label, ms(d));
        read_heap.0 += b1 - b0;
        read_heap.1 += c1 - c0;
    }
    put(
        "heap_bytes_per_get",
        read_heap.0 as f64 / (2 * READS) as f64,
    );
    put(
        "heap_allocs_per_get",
        read_heap.1 as f64 / (2 * READS) as f64,
    );

    let mut scan_heap = 0u64;
    for (round, label) in [(3u64, "range_reads"), (4, "range_reads_2")] {
        let (b0, _) = heap();
        let t = Instant::now();
        let (seen, sum) = e.scans(round, SCANS, total, SCAN_LEN)?;
        let d = t.elapsed();
        let (b1, _) = heap();
        black_box(sum);
        if seen < SCANS * (SCAN_LEN as u64) * 9 / 10 {
            return Err(format!("range scans saw only {seen} entries").into());
        }
        say(label, d);
        put(label, ms(d));
        scan_heap += b1 - b0;
    }
    put("heap_bytes_per_scan", scan_heap as f64 / (2 * SCANS) as f64);

    let mut threaded_heap = 0u64;
    for threads in THREADS {
        let per_thread = READS / threads;
        let barrier = Barrier::new(threads as usize + 1);
        let ready = || {
            barrier.wait();
        };
        let e = &e;
        let (d, bytes) = std::thread::scope(|s| -> Res<(Duration, u64)> {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let ready = &ready;
                    let barrier = &barrier;
                    s.spawn(move || {
                        let r = e.gets(100 + t, per_thread, total, ready);
                        barrier.wait();
                        r
                    })
                })
                .collect();
            barrier.wait();
            let (b0, _) = heap();
            let t = Instant::now();
            barrier.wait();
            let d = t.elapsed();
            let (b1, _) = heap();
            for h in handles {
                black_box(h.join().map_err(|_| "reader thread panicked")??);
            }
            Ok((d, b1 - b0))
        })?;
        // Note: a thread whose `gets` failed before `ready` would leave the barrier
        // waiting; `gets` only fails on a missing key or an engine error after it.
        let label = format!("threads_{threads}");
        say(&label, d);
        put(&label, ms(d));
        threaded_heap += bytes;
    }
    put(
        "heap_bytes_per_get_threaded",
        threaded_heap as f64 / (per_thread_total() as f64),
    );

    let t = Instant::now();
    let removed = e.remove(0, n / 2)?;
    let d = t.elapsed();
    say("removals", d);
    put("removals", ms(d));
    if removed != n / 2 {
        return Err(format!("removed {removed}, expected {}", n / 2).into());
    }
    let len = e.len()?;
    if len != total - n / 2 {
        return Err(format!("len() after removals = {len}, expected {}", total - n / 2).into());
    }
    put("size_before_compaction", e.file_size()? as f64);

    let t = Instant::now();
    let compacted = e.compact(&copies)?;
    let d = t.elapsed();
    say("compaction", d);
    put("compaction", ms(d));
    put("size_after_compaction", compacted as f64);
    drop(e);

    put("peak_rss", vm_hwm_bytes() as f64);
    m.insert("settings".into(), Value::from(settings));
    m.insert("engine".into(), Value::from(name));
    Ok(m)
}

/// Gets done by all threaded phases together.
fn per_thread_total() -> u64 {
    THREADS.iter().map(|t| READS / t * t).sum()
}

// ---------------------------------------------------------------------------------------
// The parent: runs the children, aggregates, prints and writes the table.

/// Which workload the comparison runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    /// redb's workload on a plain table (the default).
    Kv,
    /// Dup-sort tables (`compare/dupsort.rs`).
    DupSort,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Kv => "kv",
            Workload::DupSort => "dupsort",
        }
    }
}

struct Args {
    workload: Workload,
    n: u64,
    keys: KeyKind,
    runs: usize,
    engines: Vec<String>,
    dir: Option<PathBuf>,
    out: Option<PathBuf>,
    note: Option<String>,
    child: Option<String>,
    profile: Option<Profile>,
    raw: Vec<String>,
}

fn parse_args() -> Res<Args> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut a = Args {
        workload: Workload::Kv,
        n: 0,
        keys: KeyKind::Random,
        runs: 1,
        engines: compiled_engines(),
        dir: None,
        out: None,
        note: None,
        child: None,
        profile: None,
        raw: raw.clone(),
    };
    let (mut n, mut keys_given) = (None, false);
    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--workload" => {
                a.workload = match val()?.as_str() {
                    "kv" => Workload::Kv,
                    "dupsort" => Workload::DupSort,
                    other => return Err(format!("unknown workload {other} (kv, dupsort)").into()),
                }
            }
            "--n" => n = Some(val()?.replace(['_', ','], "").parse()?),
            "--runs" => a.runs = val()?.parse()?,
            "--keys" => {
                keys_given = true;
                let v = val()?;
                a.keys = KeyKind::parse(&v).ok_or_else(|| {
                    let kinds: Vec<_> = KeyKind::ALL.iter().map(|k| k.name()).collect();
                    format!("unknown key kind {v} (kinds: {})", kinds.join(","))
                })?;
            }
            "--engines" => a.engines = val()?.split(',').map(|s| s.trim().to_string()).collect(),
            "--dir" => a.dir = Some(val()?.into()),
            "--out" => a.out = Some(val()?.into()),
            "--note" => a.note = Some(val()?),
            "--child" => a.child = Some(val()?),
            // Hidden, with --child: see `profile_reads`. `--profile-scans SECS[:LEN]`.
            "--profile-gets" => {
                let secs = val()?.parse()?;
                a.profile = Some(Profile { secs, scan_len: 0 });
            }
            "--profile-scans" => {
                let v = val()?;
                let (secs, len) = v.split_once(':').unwrap_or((&v, "10"));
                let (secs, scan_len) = (secs.parse()?, len.parse()?);
                a.profile = Some(Profile { secs, scan_len });
            }
            "-h" | "--help" => {
                let kinds: Vec<_> = KeyKind::ALL.iter().map(|k| k.name()).collect();
                println!(
                    "compare [--workload kv|dupsort] [--n N] [--keys {}] [--runs R] \
                     [--engines {}] [--dir DIR] [--out FILE] [--note TEXT]\n\
                     --n: entries of the bulk load (kv, default 1,000,000) or keys \
                     (dupsort, default {}); --keys: kv only",
                    kinds.join("|"),
                    compiled_engines().join(","),
                    group(dupsort::DEFAULT_KEYS)
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    a.n = n.unwrap_or(match a.workload {
        Workload::Kv => 1_000_000,
        Workload::DupSort => dupsort::DEFAULT_KEYS,
    });
    if a.workload == Workload::DupSort && (keys_given || a.profile.is_some()) {
        return Err("--keys and --profile-* apply to the kv workload only".into());
    }
    if a.runs == 0 || a.n < 2 {
        return Err("--runs must be ≥ 1 and --n ≥ 2".into());
    }
    for e in &a.engines {
        if !compiled_engines().contains(e) {
            return Err(format!(
                "engine {e} is not available (built: {})",
                compiled_engines().join(",")
            )
            .into());
        }
    }
    Ok(a)
}

fn compiled_engines() -> Vec<String> {
    ALL_ENGINES
        .iter()
        .filter(|e| match **e {
            "lmdb" => cfg!(feature = "lmdb"),
            "libmdbx" => cfg!(feature = "libmdbx"),
            "redb" => cfg!(feature = "redb"),
            "sqlite" => cfg!(feature = "sqlite"),
            _ => true,
        })
        .map(|e| e.to_string())
        .collect()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("compare: {e}");
            std::process::exit(2);
        }
    };
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    if let Some(engine) = &args.child {
        let result = match args.workload {
            Workload::Kv => run_child(engine, args.n, args.keys, &dir, args.profile),
            Workload::DupSort => dupsort::run_child(engine, args.n, &dir),
        };
        match result {
            Ok(m) => println!("RESULT {}", Value::Object(m)),
            Err(e) => {
                eprintln!("compare --child {engine}: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if let Err(e) = parent(&args, &dir) {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

/// Processes that look like builds (the machine is shared with other engineers).
fn busy_processes() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut seen = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) {
                let comm = comm.trim();
                if ["rustc", "cc1", "cc1plus", "ld", "cargo", "clippy-driver"]
                    .iter()
                    .any(|b| comm == *b || comm.starts_with("ld."))
                    && !seen.iter().any(|s| s == comm)
                {
                    seen.push(comm.to_string());
                }
            }
        }
    }
    seen
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn parent(args: &Args, dir: &Path) -> Res<()> {
    let exe = std::env::current_exe()?;
    let mut results: Vec<Vec<Map<String, Value>>> = vec![Vec::new(); args.engines.len()];
    let mut busy: Vec<String> = Vec::new();
    let mut loads = Vec::new();
    let started = Instant::now();
    for run in 0..args.runs {
        for j in 0..args.engines.len() {
            let idx = (j + run) % args.engines.len();
            let engine = &args.engines[idx];
            for b in busy_processes() {
                if !busy.contains(&b) {
                    busy.push(b);
                }
            }
            loads.push(loadavg());
            let what = match args.workload {
                Workload::Kv => format!("n = {}, keys {}", args.n, args.keys),
                Workload::DupSort => format!("dup-sort, {} keys", args.n),
            };
            eprintln!(
                "run {}/{} engine {engine} ({what}, load {})",
                run + 1,
                args.runs,
                loads.last().map_or("", |s| s)
            );
            let mut child = Command::new(&exe);
            child
                .args(["--child", engine, "--n", &args.n.to_string()])
                .args(["--workload", args.workload.name()]);
            if args.workload == Workload::Kv {
                child.args(["--keys", args.keys.name()]);
            }
            let out = child
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            if !out.status.success() {
                return Err(format!("child for {engine} failed: {}", out.status).into());
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .ok_or_else(|| format!("child for {engine} printed no RESULT line"))?;
            match serde_json::from_str::<Value>(line)? {
                Value::Object(m) => {
                    println!("RAW run={} {line}", run + 1);
                    results[idx].push(m)
                }
                _ => return Err("RESULT is not an object".into()),
            }
        }
    }
    let elapsed = started.elapsed();
    let (rows, id, details) = match args.workload {
        Workload::Kv => (ROWS, args.keys.name(), Vec::new()),
        Workload::DupSort => {
            println!("\n{}", dupsort::verify(&args.engines, &results)?);
            let details = dupsort::describe(args.n, &args.engines, &results);
            (dupsort::ROWS, DUPSORT_ID, details)
        }
    };
    let table = render_table(args, &results, rows);
    println!("\n{table}");
    for d in &details {
        println!("{d}");
    }
    if let Some(out) = &args.out {
        let section = render_section(args, &results, &table, &details, &busy, &loads, elapsed);
        write_section(out, id, args.n, &section)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Unit {
    Ms,
    MiB,
    PerOp,
}

struct Row {
    key: &'static str,
    label: &'static str,
    unit: Unit,
    /// Target for mdbx-lite ÷ LMDB (issue 5).
    target: Option<f64>,
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    row("bulk_load", "bulk load (ms)", Unit::Ms, Some(0.8)),
    row("individual_writes", "individual writes ×1,000 (ms)", Unit::Ms, Some(1.0)),
    row("batch_writes", "batch writes 100×1,000 (ms)", Unit::Ms, Some(1.0)),
    row("len", "len() (ms)", Unit::Ms, None),
    row("random_reads", "random reads ×1M (ms)", Unit::Ms, Some(0.8)),
    row("random_reads_2", "random reads ×1M, again (ms)", Unit::Ms, Some(0.8)),
    row("range_reads", "random range reads ×500k of 10 (ms)", Unit::Ms, Some(0.8)),
    row("range_reads_2", "random range reads, again (ms)", Unit::Ms, Some(0.8)),
    row("threads_4", "random reads, 4 threads ×250k (ms)", Unit::Ms, Some(0.8)),
    row("threads_8", "random reads, 8 threads ×125k (ms)", Unit::Ms, Some(0.8)),
    row("removals", "removals N/2 (ms)", Unit::Ms, Some(1.0)),
    row("compaction", "compaction (ms)", Unit::Ms, None),
    row("size_after_load", "file size after bulk load (MiB)", Unit::MiB, Some(1.0)),
    row("size_before_compaction", "file size before compaction (MiB)", Unit::MiB, None),
    row("size_after_compaction", "file size after compaction (MiB)", Unit::MiB, Some(1.0)),
    row("peak_rss", "peak RSS of the process (MiB)", Unit::MiB, None),
    row("heap_bytes_per_get", "Rust heap bytes / random get", Unit::PerOp, None),
    row("heap_allocs_per_get", "Rust heap allocations / random get", Unit::PerOp, None),
    row("heap_bytes_per_get_threaded", "Rust heap bytes / threaded get", Unit::PerOp, None),
    row("heap_bytes_per_scan", "Rust heap bytes / range scan", Unit::PerOp, None),
];

const fn row(key: &'static str, label: &'static str, unit: Unit, target: Option<f64>) -> Row {
    Row {
        key,
        label,
        unit,
        target,
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn metric(results: &[Map<String, Value>], key: &str) -> Option<f64> {
    median(
        results
            .iter()
            .filter_map(|m| m.get(key).and_then(Value::as_f64))
            .collect(),
    )
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if v >= 100.0 => format!("{v:.0}"),
        Unit::Ms if v >= 1.0 => format!("{v:.1}"),
        Unit::Ms => format!("{v:.3}"),
        Unit::MiB => format!("{:.1}", v / (1024.0 * 1024.0)),
        Unit::PerOp if v == 0.0 => "0".into(),
        Unit::PerOp if v >= 10.0 => format!("{v:.0}"),
        Unit::PerOp => format!("{v:.4}"),
    }
}

fn render_table(args: &Args, results: &[Vec<Map<String, Value>>], rows: &[Row]) -> String {
    let mut s = String::new();
    let lmdb = args.engines.iter().position(|e| e == "lmdb");
    let ours = args.engines.iter().position(|e| e == "mdbx-lite");
    let ratio = lmdb.is_some() && ours.is_some();
    s.push_str("| phase |");
    for e in &args.engines {
        let _ = write!(s, " {e} |");
    }
    if ratio {
        s.push_str(" mdbx-lite/LMDB | target |");
    }
    s.push_str("\n|---|");
    for _ in &args.engines {
        s.push_str("--:|");
    }
    if ratio {
        s.push_str("--:|:-:|");
    }
    s.push('\n');
    for row in rows {
        let _ = write!(s, "| {} |", row.label);
        for r in results {
            match metric(r, row.key) {
                Some(v) => {
                    let _ = write!(s, " {} |", fmt_value(v, row.unit));
                }
                None => s.push_str(" — |"),
            }
        }
        if let (Some(l), Some(o)) = (lmdb, ours) {
            let (lv, ov) = (metric(&results[l], row.key), metric(&results[o], row.key));
            let r = match (ov, lv) {
                (Some(o), Some(l)) if l > 0.0 => Some(o / l),
                _ => None,
            };
            match r {
                Some(r) => {
                    let _ = write!(s, " {r:.2} |");
                }
                None => s.push_str(" — |"),
            }
            match (row.target, r) {
                (Some(t), Some(r)) => {
                    let _ = write!(s, " ≤ {t:.1} {} |", if r <= t { "✓" } else { "✗" });
                }
                _ if row.key == "heap_bytes_per_get" => {
                    let ok = ov == Some(0.0);
                    let _ = write!(s, " 0 {} |", if ok { "✓" } else { "✗" });
                }
                _ => s.push_str(" |"),
            }
        }
        s.push('\n');
    }
    s
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn machine() -> String {
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{}, {cores} cores, {mem_gib:.0} GiB RAM, Linux {kernel}",
        cpu_model()
    )
}

/// The file system holding `dir` (longest matching mount point in /proc/mounts).
fn filesystem(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 3 && dir.starts_with(f[1]) && best.as_ref().is_none_or(|b| f[1].len() > b.0) {
            best = Some((f[1].len(), format!("{} on {} ({})", f[2], f[1], f[0])));
        }
    }
    best.map_or_else(|| "unknown".into(), |b| b.1)
}

/// UTC date and time from the system clock (civil-from-days, no dependencies).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Versions of the peer crates, from the workspace's Cargo.lock.
fn crate_versions() -> String {
    let lock = include_str!("../../../Cargo.lock");
    let wanted = [
        "heed",
        "lmdb-master-sys",
        "libmdbx",
        "mdbx-sys",
        "redb",
        "rusqlite",
        "libsqlite3-sys",
    ];
    let mut out = Vec::new();
    let mut name = None;
    for l in lock.lines() {
        if let Some(n) = l.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (l.strip_prefix("version = "), name.take()) {
            if wanted.contains(&n.as_str()) {
                out.push(format!("{n} {}", v.trim_matches('"')));
            }
        }
    }
    out.join(", ")
}

fn render_section(
    args: &Args,
    results: &[Vec<Map<String, Value>>],
    table: &str,
    details: &[String],
    busy: &[String],
    loads: &[String],
    elapsed: Duration,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}, median of {} run{}\n",
        match args.workload {
            Workload::Kv => subsection_heading(args.keys, args.n),
            Workload::DupSort => dupsort_heading(args.n),
        },
        args.runs,
        if args.runs == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "Command: `cargo run --release -p mdbx-lite-benches --features peers --bin compare -- {}`\n",
        args.raw.join(" ")
    );
    let _ = writeln!(
        s,
        "- Date: {}; wall time {:.0} s",
        utc_now(),
        elapsed.as_secs_f64()
    );
    if args.workload == Workload::Kv && args.keys != KeyKind::Random {
        let _ = writeln!(s, "- Keys: `{}`, {}", args.keys, args.keys.describe());
    }
    for d in details {
        let _ = writeln!(s, "- {d}");
    }
    let _ = writeln!(s, "- Machine: {}", machine());
    let dir = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let _ = writeln!(
        s,
        "- Database directory: `{}`, {}",
        dir.display(),
        filesystem(&dir)
    );
    let shared = if busy.is_empty() {
        "no other build processes seen".to_string()
    } else {
        format!(
            "**machine shared with builds** (seen during the run: {})",
            busy.join(", ")
        )
    };
    let _ = writeln!(
        s,
        "- Load: {shared}; 1/5/15-min load average before each child: {}",
        loads.join(" · ")
    );
    let _ = writeln!(
        s,
        "- Engine order rotated by one per run; every child is a fresh process with a fresh database"
    );
    if let Some(note) = &args.note {
        let _ = writeln!(s, "- Note: {note}");
    }
    let _ = writeln!(s, "- mdbx-lite source: {}", git_revision());
    let _ = writeln!(s, "- Crates: {}", crate_versions());
    for (e, r) in args.engines.iter().zip(results) {
        if let Some(set) = r
            .first()
            .and_then(|m| m.get("settings"))
            .and_then(Value::as_str)
        {
            let _ = writeln!(s, "- {e}: {set}");
        }
    }
    s.push('\n');
    s.push_str(table);
    s
}

fn group(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const SECTION: &str = "## Peer comparison";

fn section_intro() -> String {
    let lines = [
        SECTION,
        "",
        "Produced by `benches/src/bin/compare.rs` (feature `peers`). The workload is the one redb",
        "publishes in its README: keys of 24 random bytes, values of 150 random bytes (seeded,",
        "`mdbx_lite_benches::{key, value}`); bulk load of N entries in one transaction; 1,000",
        "durable transactions of one insert; 100 transactions of 1,000 inserts; `len()`; 1,000,000",
        "random gets of existing keys (twice); 500,000 range scans of 10 entries from a random",
        "existing key (twice); 1,000,000 random gets split evenly over 4 and over 8 threads, each",
        "thread with its own read transaction; removal of N/2 keys in one transaction; compaction",
        "(mdbx-lite: `Env::copy_to(path, true)`; LMDB: `mdb_env_copy2` with `MDB_CP_COMPACT`;",
        "libmdbx: `mdbx_env_copy` with `MDBX_CP_COMPACT`; redb: `Database::compact`; SQLite:",
        "`VACUUM`). Every engine uses its default durable settings and runs in a child process of",
        "its own, one engine after another. A read touches the value's length and first byte.",
        "",
        "Key kinds: `--keys KIND` runs the same phases on keys that share prefixes, as real",
        "databases hold them (`mdbx_lite_benches::KeyKind`, each key derived from its index, no",
        "files); their subsections say `keys: KIND` in the heading, those without it ran `random`.",
        "`paths`: file paths of a generated tree,",
        "`/home/user{u}/projects/{project}/crates/{crate}/src/{dir}[/{dir}…]/{file}{suffix}.{ext}`,",
        "24 files per directory (56–151 bytes for N = 1M, median 97). `urls`:",
        "`https://{host}.example.com/{section}/{id}/{slug}[?query]`, 6 hosts × 8 sections with",
        "sequential ids (37–155 bytes, median 71). `composite`: `tenant{t:04}/user{u:06}/` and an",
        "8-byte big-endian timestamp, 8 tenants, 50 increasing timestamps per user (30 bytes).",
        "`monotonic`: a big-endian u64 counter and a fixed 8-byte suffix (16 bytes), increasing",
        "with the index. For these four the bulk load inserts, and the removals remove, in a",
        "pseudo-random permutation of the indices, so none is a sorted append; the individual and",
        "batch writes take the next indices in order (for `monotonic`: appends after the largest",
        "key); gets and scans start from random existing keys.",
        "",
        "How to read the rows:",
        "- Times are wall-clock milliseconds per phase (median over the runs); key generation",
        "  (random keys: three SplitMix64 steps; the other kinds: a few tens of nanoseconds, into",
        "  a reusable buffer) is inside the timed loops for every engine alike.",
        "- Threaded rows are timed from when every thread holds its read transaction until the",
        "  last one finishes; with 2 cores, 4 and 8 threads oversubscribe the CPU.",
        "- Peak RSS is `VmHWM` of the child: for the memory-mapped engines (mdbx-lite, LMDB,",
        "  libmdbx) it includes the file pages mapped and touched, for redb and SQLite their",
        "  user-space caches.",
        "- Heap rows count the bytes requested from the Rust global allocator (a counting",
        "  `#[global_allocator]`) during the read phases, divided by the operations",
        "  (single-thread rows include beginning and ending the read transaction). The C engines",
        "  (LMDB, libmdbx, SQLite) call `malloc` directly, which this does not see: for them the",
        "  rows show only the Rust wrapper's allocations (heed's `range` copies its start bound",
        "  into a `Vec`: the key's length per scan, 24 bytes for random keys).",
        "- `mdbx-lite/LMDB` is the ratio of the medians; `target` is the project's performance",
        "  target for it (≤ 0.8: at least 25% faster than LMDB; ≤ 1.0: not slower/larger), and",
        "  0 heap bytes per random get.",
        "",
        "Dup-sort (`--workload dupsort`, subsections `### Dup-sort, N = … keys`): a table holding",
        "a sorted set of values per key (mdbx-lite `DupSort::new()`; LMDB and libmdbx",
        "`MDB_DUPSORT`; redb `MultimapTableDefinition`; SQLite `PRIMARY KEY (k, v) WITHOUT",
        "ROWID`). N keys of 16 bytes, each with a deterministic heavy-tailed number of values",
        "(70% of the keys 1–10, 25% 11–100, 5% 101–1,000, log-uniform in the upper bands; about",
        "33 per key), values of 8–32 bytes derived from (key, j). Phases: every pair inserted in",
        "a pseudo-random order in one durable transaction; 1,000,000 exact lookups of random",
        "existing pairs (uniform over the pairs); every value of 100,000 random keys (touching",
        "each); every other value of each key deleted in a pseudo-random order in one durable",
        "transaction; the file size after the insert and after the deletion. Pair lookups:",
        "mdbx-lite `DupTable::contains`; LMDB `MDB_GET_BOTH` and libmdbx `MDBX_GET_BOTH` on one",
        "cursor; SQLite `WHERE k = ? AND v = ?`; redb has no exact-pair lookup, so `get(key)`",
        "and a scan of the key's sorted values. LMDB runs through `lmdb-master-sys`, the build",
        "heed links (heed 0.23 offers no `MDB_GET_BOTH`). Every engine and run must report the",
        "same counts (pairs, lookups found, values iterated, pairs deleted and left), or the",
        "run fails.",
    ];
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The mdbx-lite source the binary was run from (the engine is under active work).
fn git_revision() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--", "../crates/mdbx-lite"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev} plus uncommitted changes in `crates/mdbx-lite`")
            } else {
                rev
            }
        }
        None => "unknown".into(),
    }
}

/// `### N = n` for random keys (the default), `### N = n, keys: kind` for the others.
fn subsection_heading(kind: KeyKind, n: u64) -> String {
    match kind {
        KeyKind::Random => format!("### N = {}", group(n)),
        _ => format!("### N = {}, keys: {kind}", group(n)),
    }
}

/// The id of the dup-sort subsections in `write_section` (after every key kind).
const DUPSORT_ID: &str = "dupsort";

/// `### Dup-sort, N = n keys`, for `--workload dupsort`.
fn dupsort_heading(n: u64) -> String {
    format!("### Dup-sort, N = {} keys", group(n))
}

/// The key kind and N of a subsection heading written by `subsection_heading`
/// (`DUPSORT_ID` and the keys for one written by `dupsort_heading`).
fn parse_subsection_heading(line: &str) -> Option<(String, u64)> {
    if let Some(rest) = line.strip_prefix("### Dup-sort, N = ") {
        let n = rest.split(" keys").next()?.replace(',', "").parse().ok()?;
        return Some((DUPSORT_ID.to_string(), n));
    }
    let mut parts = line.strip_prefix("### N = ")?.split(", ");
    let n = parts.next()?.replace(',', "").parse().unwrap_or(0);
    let kind = parts.next().and_then(|p| p.strip_prefix("keys: "));
    Some((kind.unwrap_or("random").trim().to_string(), n))
}

/// Replace (or add) the subsection of `## Peer comparison` in `path` for key kind
/// `kind` and N = `n` (`### N = n…`, `### N = n, keys: kind…`; kind `DUPSORT_ID`:
/// `### Dup-sort, N = n keys…`), refreshing the section's introduction and keeping
/// everything else in the file. Subsections are ordered by key kind (random first, then
/// dup-sort), then by N.
fn write_section(path: &Path, kind: &str, n: u64, sub: &str) -> Res<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == SECTION);
    let (before, section, after) = match start {
        Some(i) => {
            let end = lines[i + 1..]
                .iter()
                .position(|l| l.starts_with("## "))
                .map_or(lines.len(), |j| i + 1 + j);
            (&lines[..i], &lines[i + 1..end], &lines[end..])
        }
        None => (&lines[..], &lines[..0], &lines[..0]),
    };
    // Existing subsections, keyed by their key kind and N.
    let mut subs: Vec<((String, u64), String)> = Vec::new();
    let mut cur: Option<((String, u64), String)> = None;
    for l in section {
        if let Some(id) = parse_subsection_heading(l) {
            if let Some(c) = cur.take() {
                subs.push(c);
            }
            cur = Some((id, String::new()));
        }
        if let Some((_, body)) = cur.as_mut() {
            body.push_str(l);
            body.push('\n');
        }
    }
    if let Some(c) = cur.take() {
        subs.push(c);
    }
    let id = (kind.to_string(), n);
    subs.retain(|(k, _)| *k != id);
    subs.push((id, sub.to_string()));
    // Known kinds in `KeyKind::ALL` order, then dup-sort, unknown ones after them by name.
    let rank = |k: &str| {
        let known = KeyKind::ALL.iter().position(|kind| kind.name() == k);
        let dupsort = (k == DUPSORT_ID).then_some(KeyKind::ALL.len());
        known.or(dupsort).unwrap_or(KeyKind::ALL.len() + 1)
    };
    subs.sort_by(|((ka, na), _), ((kb, nb), _)| (rank(ka), ka, na).cmp(&(rank(kb), kb, nb)));

    let mut out = String::new();
    for l in before {
        out.push_str(l);
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&section_intro());
    for (_, body) in &subs {
        out.push('\n');
        out.push_str(body.trim_end());
        out.push('\n');
    }
    if !after.is_empty() {
        out.push('\n');
        for l in after {
            out.push_str(l);
            out.push('\n');
        }
    }
    std::fs::write(path, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsection_headings_name_the_key_kind() {
        for kind in KeyKind::ALL {
            for n in [2, 20_000, 1_000_000] {
                let h = format!("{}, median of 3 runs", subsection_heading(kind, n));
                assert_eq!(parse_subsection_heading(&h), Some((kind.name().into(), n)));
            }
        }
        assert_eq!(
            subsection_heading(KeyKind::Random, 1_000_000),
            "### N = 1,000,000"
        );
        assert_eq!(
            parse_subsection_heading("### N = 5,000,000, median of 1 run"),
            Some(("random".into(), 5_000_000))
        );
        assert_eq!(parse_subsection_heading("### Earlier runs"), None);
        let h = format!("{}, median of 3 runs", dupsort_heading(100_000));
        assert_eq!(h, "### Dup-sort, N = 100,000 keys, median of 3 runs");
        assert_eq!(
            parse_subsection_heading(&h),
            Some((DUPSORT_ID.into(), 100_000))
        );
    }

    #[test]
    fn dupsort_sections_come_after_the_key_kinds() -> Res<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("benchmarks.md");
        let write = |kind: Option<KeyKind>, n: u64, tag: &str| {
            let (id, h) = match kind {
                Some(k) => (k.name(), subsection_heading(k, n)),
                None => (DUPSORT_ID, dupsort_heading(n)),
            };
            write_section(
                &path,
                id,
                n,
                &format!("{h}, median of 1 run\n\nrun: {tag}\n"),
            )
        };
        write(None, 5_000, "d 5k")?;
        write(Some(KeyKind::Random), 20_000, "r")?;
        write(Some(KeyKind::Monotonic), 20_000, "m")?;
        write(None, 100, "d 100")?;
        write(None, 5_000, "d 5k'")?;
        let text = std::fs::read_to_string(&path)?;
        let tags: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("run: "))
            .collect();
        assert_eq!(tags, ["r", "m", "d 100", "d 5k'"]);
        Ok(())
    }

    #[test]
    fn sections_of_other_key_kinds_are_kept() -> Res<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("benchmarks.md");
        let old = "# Benchmarks\n\n## Peer comparison\n\nold introduction\n\n## Later\n\ntext\n";
        std::fs::write(&path, old)?;
        let sub = |kind: KeyKind, n: u64, tag: &str| {
            format!(
                "{}, median of 1 run\n\nrun: {tag}\n",
                subsection_heading(kind, n)
            )
        };
        let runs = [
            (KeyKind::Paths, 20_000, "paths a"),
            (KeyKind::Random, 1_000_000, "random 1M"),
            (KeyKind::Urls, 20_000, "urls"),
            (KeyKind::Random, 20_000, "random 20k"),
            (KeyKind::Paths, 20_000, "paths b"),
            (KeyKind::Monotonic, 20_000, "monotonic"),
        ];
        for (kind, n, tag) in runs {
            write_section(&path, kind.name(), n, &sub(kind, n, tag))?;
        }
        let text = std::fs::read_to_string(&path)?;
        let tags: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("run: "))
            .collect();
        assert_eq!(
            tags,
            ["random 20k", "random 1M", "paths b", "urls", "monotonic"]
        );
        assert!(text.starts_with(&format!("# Benchmarks\n\n{}", section_intro())));
        assert!(text.ends_with("## Later\n\ntext\n"));
        Ok(())
    }
}
