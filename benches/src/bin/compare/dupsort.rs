//! The dup-sort workload of the peer comparison (`compare --workload dupsort`): a table
//! holding a sorted set of values per key. mdbx-lite: a dup-sort table
//! (`DupSort::new()`); LMDB and libmdbx: a table with `MDB_DUPSORT`; redb: a
//! `MultimapTableDefinition`; SQLite: `dups(k, v, PRIMARY KEY (k, v)) WITHOUT ROWID`.
//!
//! N keys of 16 bytes (`key`, default N = 100,000), each with a deterministic,
//! heavy-tailed number of values (`value_count`): 70% of the keys have 1–10 values,
//! 25% have 11–100 and 5% have 101–1,000 (log-uniform within the two upper bands),
//! about 33 per key on average (N = 100,000: about 3.3 million pairs). Values are 8–32
//! bytes derived from (key, j) (`value`); their bytes 4..8 are `j`, so the values of a
//! key are distinct. Phases, each timed, on one fresh database per child process:
//!
//! 1. insert every pair, in a pseudo-random order of the pairs, in one durable
//!    transaction;
//! 2. 1,000,000 exact lookups of random existing pairs (uniform over the pairs, so
//!    keys with many values get most of them), in one read transaction;
//! 3. every value of 100,000 random keys (uniform over the keys), touching each value's
//!    length and first byte, in one read transaction;
//! 4. deletion of every other value of each key (odd `j`), in another pseudo-random
//!    order, in one durable transaction;
//! 5. the file size after the insert and after the deletion.
//!
//! The pair orders, lookups and keys to iterate are generated before the timed phases,
//! the same for every engine; the key and value bytes are derived inside the timed
//! loops (two and four SplitMix64 steps), for every engine alike. Each child checks its
//! engine's counts (pairs after insert, lookups found, values iterated, pairs deleted,
//! pairs left) against the plan and the parent checks that every engine and run agrees.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mdbx_lite_benches::Rng;
use serde_json::{Map, Value};

use super::{file_len, ms, touch, Res, Row, Unit, MAP_SIZE};

/// Keys of the workload when `--n` is not given.
pub const DEFAULT_KEYS: u64 = 100_000;
/// Exact pair lookups (phase 2).
pub const LOOKUPS: u64 = 1_000_000;
/// Keys whose values are iterated (phase 3).
pub const ITERATIONS: u64 = 100_000;
/// The most values a key has.
pub const MAX_VALUES: u64 = 1_000;
const KEY_LEN: usize = 16;
const MAX_VALUE_LEN: usize = 32;
/// The table's name in every engine.
const TABLE: &str = "dups";

// ---------------------------------------------------------------------------------------
// The data, derived from the key index `i` and the value index `j`.

/// A 64-bit mix of two values (SplitMix64's finalizer).
#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b ^ 0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Key `i`: 8 pseudo-random bytes, then `i` big-endian (distinct for distinct `i`, in an
/// order unrelated to `i`).
#[inline]
fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0; KEY_LEN];
    k[..8].copy_from_slice(&mix(i, 0x4B3F_1D5E).to_be_bytes());
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

/// How many values key `i` has, 1 to `MAX_VALUES`: 70% of the keys 1–10 (uniform), 25%
/// 11–100 and 5% 101–1,000 (log-uniform).
pub fn value_count(i: u64) -> u64 {
    let h = mix(i, 0xC0_0A7);
    let (lo, hi) = match h % 100 {
        0..=69 => return 1 + (h >> 16) % 10,
        70..=94 => (11.0, 100.0),
        _ => (101.0, MAX_VALUES as f64),
    };
    let u = (h >> 16) as f64 / (1u64 << 48) as f64;
    let c = (lo * ((hi + 1.0) / lo).powf(u)) as u64;
    c.clamp(lo as u64, hi as u64)
}

/// A value: up to `MAX_VALUE_LEN` bytes inline.
struct Val {
    buf: [u8; MAX_VALUE_LEN],
    len: usize,
}

impl Val {
    #[inline]
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Value `j` of key `i`: 8–32 bytes, 4 pseudo-random, then `j` big-endian (so the values
/// of a key are distinct, and sort in an order unrelated to `j`), then pseudo-random.
#[inline]
fn value(i: u64, j: u64) -> Val {
    let h = mix(i ^ 0x7A1E_55ED, j);
    let mut buf = [0; MAX_VALUE_LEN];
    buf[..4].copy_from_slice(&((h >> 32) as u32).to_be_bytes());
    buf[4..8].copy_from_slice(&(j as u32).to_be_bytes());
    Rng::new(h).fill(&mut buf[8..]);
    Val {
        buf,
        len: 8 + (h % 25) as usize,
    }
}

/// A pair (key `i`, value `j`), `j < 1024`, in one word.
#[inline]
fn pack(i: u64, j: u64) -> u64 {
    (i << 10) | j
}

#[inline]
fn unpack(p: u64) -> (u64, u64) {
    (p >> 10, p & 1023)
}

/// The pairs of N keys and the largest value count.
pub fn totals(n: u64) -> (u64, u64) {
    (0..n)
        .map(value_count)
        .fold((0, 0), |(t, m), c| (t + c, m.max(c)))
}

/// What a child does, generated before the timed phases.
struct Plan {
    total: u64,
    /// Every pair, in a pseudo-random order.
    inserts: Vec<u64>,
    /// `LOOKUPS` random existing pairs.
    lookups: Vec<u64>,
    /// `ITERATIONS` random key indices, and how many values they hold together.
    iter_keys: Vec<u64>,
    iterated: u64,
    /// The pairs of odd `j`, in another pseudo-random order.
    deletes: Vec<u64>,
}

fn shuffle(v: &mut [u64], seed: u64) {
    let mut rng = Rng::new(seed);
    for k in (1..v.len()).rev() {
        let r = (rng.next_u64() % (k as u64 + 1)) as usize;
        v.swap(k, r);
    }
}

impl Plan {
    fn new(n: u64) -> Plan {
        let counts: Vec<u64> = (0..n).map(value_count).collect();
        let total: u64 = counts.iter().sum();
        let mut inserts = Vec::with_capacity(total as usize);
        for (i, &c) in counts.iter().enumerate() {
            inserts.extend((0..c).map(|j| pack(i as u64, j)));
        }
        shuffle(&mut inserts, 0xD0_0001);
        let mut rng = Rng::new(0xD0_0002);
        let lookups = (0..LOOKUPS)
            .map(|_| inserts[(rng.next_u64() % total) as usize])
            .collect();
        let mut rng = Rng::new(0xD0_0003);
        let iter_keys: Vec<u64> = (0..ITERATIONS).map(|_| rng.next_u64() % n).collect();
        let iterated = iter_keys.iter().map(|&i| counts[i as usize]).sum();
        let mut deletes: Vec<u64> = inserts
            .iter()
            .copied()
            .filter(|&p| unpack(p).1 % 2 == 1)
            .collect();
        shuffle(&mut deletes, 0xD0_0004);
        Plan {
            total,
            inserts,
            lookups,
            iter_keys,
            iterated,
            deletes,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The engines.

/// One engine's dup-sort table. Every method is one transaction; writes commit durably
/// with the engine's default settings.
trait DupEngine: Sized {
    fn open(dir: &Path) -> Res<Self>;
    /// The engine's settings, for the report.
    fn settings(&self) -> String;
    /// How phase 2 looks a pair up.
    fn lookup_method(&self) -> &'static str;
    /// Put `pairs` in one transaction; returns how many were new (or, for engines whose
    /// put does not say, how many puts succeeded).
    fn insert(&self, pairs: &[u64]) -> Res<u64>;
    /// Number of (key, value) pairs.
    fn pairs(&self) -> Res<u64>;
    /// Look every pair up, in one read transaction; returns how many were found and a
    /// checksum of the values found.
    fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)>;
    /// Every value of every key of `keys`, in one read transaction; returns how many
    /// values were seen and a checksum of them.
    fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)>;
    /// Delete `pairs` in one transaction; returns how many were there.
    fn delete(&self, pairs: &[u64]) -> Res<u64>;
    /// Size of the database file(s) in bytes.
    fn file_size(&self) -> Res<u64>;
}

// --- mdbx-lite -------------------------------------------------------------------------

struct MdbxLite {
    env: mdbx_lite::Env,
    path: PathBuf,
}

impl DupEngine for MdbxLite {
    fn open(dir: &Path) -> Res<Self> {
        let path = dir.join("mdbx-lite.db");
        let env = mdbx_lite::Env::open(&path)?;
        let mut w = env.begin_write()?;
        w.create_dup_table(TABLE, mdbx_lite::DupSort::new())?;
        w.commit()?;
        Ok(MdbxLite { env, path })
    }
    fn settings(&self) -> String {
        "`Env::open` defaults (`Durability::Full`, 4 KiB pages), table \
         `create_dup_table(\"dups\", DupSort::new())`"
            .into()
    }
    fn lookup_method(&self) -> &'static str {
        "`DupTable::contains(key, value)`"
    }
    fn insert(&self, pairs: &[u64]) -> Res<u64> {
        let mut w = self.env.begin_write()?;
        let mut new = 0;
        {
            let mut t = w.open_dup_table(TABLE)?;
            for &p in pairs {
                let (i, j) = unpack(p);
                new += u64::from(t.put(&key(i), value(i, j).bytes())?);
            }
        }
        w.commit()?;
        Ok(new)
    }
    fn pairs(&self) -> Res<u64> {
        Ok(self.env.begin_read()?.open_dup_table(TABLE)?.len())
    }
    fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)> {
        let rtx = self.env.begin_read()?;
        let t = rtx.open_dup_table(TABLE)?;
        let (mut found, mut sum) = (0, 0);
        for &p in pairs {
            let (i, j) = unpack(p);
            let v = value(i, j);
            if t.contains(&key(i), v.bytes())? {
                found += 1;
                sum += touch(v.bytes());
            }
        }
        Ok((found, sum))
    }
    fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)> {
        let rtx = self.env.begin_read()?;
        let t = rtx.open_dup_table(TABLE)?;
        let (mut n, mut sum) = (0, 0);
        for &i in keys {
            for v in t.values(&key(i))? {
                n += 1;
                sum += touch(v?);
            }
        }
        Ok((n, sum))
    }
    fn delete(&self, pairs: &[u64]) -> Res<u64> {
        let mut w = self.env.begin_write()?;
        let mut n = 0;
        {
            let mut t = w.open_dup_table(TABLE)?;
            for &p in pairs {
                let (i, j) = unpack(p);
                n += u64::from(t.delete(&key(i), value(i, j).bytes())?);
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
}

// --- LMDB (the C library heed links, called directly) ----------------------------------

/// heed 0.23 offers no `MDB_GET_BOTH` (exact pair) lookup and does not expose its
/// transaction or database handles, so this engine calls LMDB through `lmdb-master-sys`,
/// the build heed itself links, with heed's defaults (flags 0, mode 0600).
#[cfg(feature = "lmdb")]
mod lmdb {
    use std::ffi::{c_void, CStr, CString};
    use std::marker::PhantomData;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::ptr;

    use lmdb_master_sys as ffi;

    use super::{file_len, key, touch, unpack, value, DupEngine, Res, MAP_SIZE, TABLE};

    fn check(rc: i32) -> Res<()> {
        if rc == 0 {
            return Ok(());
        }
        // SAFETY: `mdb_strerror` returns a static NUL-terminated string for any code.
        let msg = unsafe { CStr::from_ptr(ffi::mdb_strerror(rc)) };
        Err(format!("LMDB error {rc}: {}", msg.to_string_lossy()).into())
    }

    fn val(b: &[u8]) -> ffi::MDB_val {
        ffi::MDB_val {
            mv_size: b.len(),
            mv_data: b.as_ptr() as *mut c_void,
        }
    }

    /// The bytes an `MDB_val` filled by LMDB points to.
    ///
    /// # Safety
    /// `v` was filled by a successful LMDB call in a transaction still open (or points
    /// to a live buffer of ours), and nothing has written to the table since.
    unsafe fn bytes<'a>(v: &ffi::MDB_val) -> &'a [u8] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(v.mv_data as *const u8, v.mv_size) }
    }

    /// A transaction, aborted on drop unless committed.
    struct Txn(*mut ffi::MDB_txn);

    impl Txn {
        fn commit(self) -> Res<()> {
            let t = self.0;
            std::mem::forget(self);
            // SAFETY: `t` is a live transaction, ended here (the wrapper is forgotten).
            check(unsafe { ffi::mdb_txn_commit(t) })
        }
    }

    impl Drop for Txn {
        fn drop(&mut self) {
            // SAFETY: a live transaction, ended exactly once.
            unsafe { ffi::mdb_txn_abort(self.0) }
        }
    }

    /// A cursor of a read-only transaction, closed on drop (before the transaction:
    /// it borrows it).
    struct Cursor<'t>(*mut ffi::MDB_cursor, PhantomData<&'t Txn>);

    impl Cursor<'_> {
        /// `mdb_cursor_get`; false for `MDB_NOTFOUND`.
        fn get(&self, k: &mut ffi::MDB_val, v: &mut ffi::MDB_val, op: u32) -> Res<bool> {
            // SAFETY: a live cursor; `k` and `v` are valid `MDB_val`s for the call.
            match unsafe { ffi::mdb_cursor_get(self.0, k, v, op) } {
                0 => Ok(true),
                ffi::MDB_NOTFOUND => Ok(false),
                rc => check(rc).map(|()| false),
            }
        }
    }

    impl Drop for Cursor<'_> {
        fn drop(&mut self) {
            // SAFETY: a live cursor, closed exactly once, while its transaction lives.
            unsafe { ffi::mdb_cursor_close(self.0) }
        }
    }

    pub(super) struct Lmdb {
        env: *mut ffi::MDB_env,
        dbi: ffi::MDB_dbi,
        dir: PathBuf,
    }

    impl Drop for Lmdb {
        fn drop(&mut self) {
            // SAFETY: the environment was created by `mdb_env_create` and no
            // transaction is open (every method ends its own).
            unsafe { ffi::mdb_env_close(self.env) }
        }
    }

    impl Lmdb {
        fn begin(&self, flags: u32) -> Res<Txn> {
            let mut t = ptr::null_mut();
            // SAFETY: the environment is open; the caller holds one transaction at a time.
            check(unsafe { ffi::mdb_txn_begin(self.env, ptr::null_mut(), flags, &mut t) })?;
            Ok(Txn(t))
        }
        fn cursor<'t>(&self, txn: &'t Txn) -> Res<Cursor<'t>> {
            let mut c = ptr::null_mut();
            // SAFETY: a live transaction and the database handle opened in `open`.
            check(unsafe { ffi::mdb_cursor_open(txn.0, self.dbi, &mut c) })?;
            Ok(Cursor(c, PhantomData))
        }
    }

    impl DupEngine for Lmdb {
        fn open(dir: &Path) -> Res<Self> {
            let dir = dir.join("lmdb");
            std::fs::create_dir_all(&dir)?;
            let mut env = ptr::null_mut();
            // SAFETY: `env` receives a new handle, closed by `Lmdb::drop` from here on
            // (also when opening fails, as LMDB requires).
            check(unsafe { ffi::mdb_env_create(&mut env) })?;
            let mut e = Lmdb { env, dbi: 0, dir };
            let path = CString::new(e.dir.as_os_str().as_bytes())?;
            // SAFETY: a created, not yet opened environment; `path` is NUL-terminated.
            unsafe {
                check(ffi::mdb_env_set_mapsize(env, MAP_SIZE))?;
                check(ffi::mdb_env_set_maxdbs(env, 1))?;
                check(ffi::mdb_env_open(env, path.as_ptr(), 0, 0o600))?;
            }
            let w = e.begin(0)?;
            let name = CString::new(TABLE)?;
            let flags = ffi::MDB_DUPSORT | ffi::MDB_CREATE;
            // SAFETY: a live write transaction; `name` is NUL-terminated.
            check(unsafe { ffi::mdb_dbi_open(w.0, name.as_ptr(), flags, &mut e.dbi) })?;
            w.commit()?;
            Ok(e)
        }
        fn settings(&self) -> String {
            // SAFETY: `mdb_version` accepts null outputs and returns a static string.
            let version = unsafe {
                CStr::from_ptr(ffi::mdb_version(
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                ))
            };
            format!(
                "{} through `lmdb-master-sys` (the build heed links; heed has no \
                 `MDB_GET_BOTH`), heed's defaults: flags 0 (durable commits, TLS readers), \
                 map size {} GiB; a named table with `MDB_DUPSORT`",
                version.to_string_lossy(),
                MAP_SIZE >> 30
            )
        }
        fn lookup_method(&self) -> &'static str {
            "`mdb_cursor_get(MDB_GET_BOTH)` on one cursor"
        }
        fn insert(&self, pairs: &[u64]) -> Res<u64> {
            let w = self.begin(0)?;
            let mut n = 0;
            for &p in pairs {
                let (i, j) = unpack(p);
                let (k, v) = (key(i), value(i, j));
                let (mut kv, mut dv) = (val(&k), val(v.bytes()));
                // SAFETY: a live write transaction; `kv` and `dv` point to live buffers
                // LMDB only reads.
                check(unsafe { ffi::mdb_put(w.0, self.dbi, &mut kv, &mut dv, 0) })?;
                n += 1;
            }
            w.commit()?;
            Ok(n)
        }
        fn pairs(&self) -> Res<u64> {
            let r = self.begin(ffi::MDB_RDONLY)?;
            let mut st = std::mem::MaybeUninit::<ffi::MDB_stat>::uninit();
            // SAFETY: a live transaction; `st` is written on success.
            check(unsafe { ffi::mdb_stat(r.0, self.dbi, st.as_mut_ptr()) })?;
            // SAFETY: `mdb_stat` succeeded.
            Ok(unsafe { st.assume_init() }.ms_entries as u64)
        }
        fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)> {
            let r = self.begin(ffi::MDB_RDONLY)?;
            let c = self.cursor(&r)?;
            let (mut found, mut sum) = (0, 0);
            for &p in pairs {
                let (i, j) = unpack(p);
                let (k, v) = (key(i), value(i, j));
                let (mut kv, mut dv) = (val(&k), val(v.bytes()));
                if c.get(&mut kv, &mut dv, ffi::MDB_GET_BOTH)? {
                    found += 1;
                    // SAFETY: filled by a successful read in the open transaction.
                    sum += touch(unsafe { bytes(&dv) });
                }
            }
            Ok((found, sum))
        }
        fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)> {
            let r = self.begin(ffi::MDB_RDONLY)?;
            let c = self.cursor(&r)?;
            let (mut n, mut sum) = (0, 0);
            for &i in keys {
                let k = key(i);
                let mut kv = val(&k);
                let mut dv = val(&[]);
                let mut more = c.get(&mut kv, &mut dv, ffi::MDB_SET_KEY)?;
                while more {
                    n += 1;
                    // SAFETY: filled by a successful read in the open transaction.
                    sum += touch(unsafe { bytes(&dv) });
                    more = c.get(&mut kv, &mut dv, ffi::MDB_NEXT_DUP)?;
                }
            }
            Ok((n, sum))
        }
        fn delete(&self, pairs: &[u64]) -> Res<u64> {
            let w = self.begin(0)?;
            let mut n = 0;
            for &p in pairs {
                let (i, j) = unpack(p);
                let (k, v) = (key(i), value(i, j));
                let (mut kv, mut dv) = (val(&k), val(v.bytes()));
                // SAFETY: a live write transaction; `kv` and `dv` point to live buffers.
                match unsafe { ffi::mdb_del(w.0, self.dbi, &mut kv, &mut dv) } {
                    0 => n += 1,
                    ffi::MDB_NOTFOUND => {}
                    rc => check(rc)?,
                }
            }
            w.commit()?;
            Ok(n)
        }
        fn file_size(&self) -> Res<u64> {
            file_len(&self.dir.join("data.mdb"))
        }
    }
}

// --- libmdbx ---------------------------------------------------------------------------

#[cfg(feature = "libmdbx")]
struct Libmdbx {
    db: libmdbx::Database<libmdbx::NoWriteMap>,
    dir: PathBuf,
}

#[cfg(feature = "libmdbx")]
use super::Bytes;

#[cfg(feature = "libmdbx")]
impl DupEngine for Libmdbx {
    fn open(dir: &Path) -> Res<Self> {
        use libmdbx::{DatabaseOptions, Mode, ReadWriteOptions, TableFlags};
        let dir = dir.join("libmdbx");
        std::fs::create_dir_all(&dir)?;
        let opts = DatabaseOptions {
            mode: Mode::ReadWrite(ReadWriteOptions {
                max_size: Some(MAP_SIZE as isize),
                ..Default::default()
            }),
            max_tables: Some(1),
            ..Default::default()
        };
        let db = libmdbx::Database::open_with_options(&dir, opts)?;
        let w = db.begin_rw_txn()?;
        w.create_table(Some(TABLE), TableFlags::DUP_SORT)?;
        w.commit()?;
        Ok(Libmdbx { db, dir })
    }
    fn settings(&self) -> String {
        format!(
            "`SyncMode::Durable` (default), `NoWriteMap`, upper size {} GiB, other geometry \
             default; a named table with `TableFlags::DUP_SORT`",
            MAP_SIZE >> 30
        )
    }
    fn lookup_method(&self) -> &'static str {
        "`Cursor::get_both` (`MDBX_GET_BOTH`) on one cursor"
    }
    fn insert(&self, pairs: &[u64]) -> Res<u64> {
        let w = self.db.begin_rw_txn()?;
        let mut n = 0;
        {
            let t = w.open_table(Some(TABLE))?;
            for &p in pairs {
                let (i, j) = unpack(p);
                w.put(&t, key(i), value(i, j).bytes(), libmdbx::WriteFlags::UPSERT)?;
                n += 1;
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn pairs(&self) -> Res<u64> {
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(Some(TABLE))?;
        Ok(r.table_stat(&t)?.entries() as u64)
    }
    fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)> {
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(Some(TABLE))?;
        let mut c = r.cursor(&t)?;
        let (mut found, mut sum) = (0, 0);
        for &p in pairs {
            let (i, j) = unpack(p);
            if let Some(v) = c.get_both::<Bytes>(&key(i), value(i, j).bytes())? {
                found += 1;
                sum += touch(&v);
            }
        }
        Ok((found, sum))
    }
    fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)> {
        let r = self.db.begin_ro_txn()?;
        let t = r.open_table(Some(TABLE))?;
        let mut c = r.cursor(&t)?;
        let (mut n, mut sum) = (0, 0);
        for &i in keys {
            let mut e = c.set::<Bytes>(&key(i))?;
            while let Some(v) = e {
                n += 1;
                sum += touch(&v);
                e = c.next_dup::<(), Bytes>()?.map(|(_, v)| v);
            }
        }
        Ok((n, sum))
    }
    fn delete(&self, pairs: &[u64]) -> Res<u64> {
        let w = self.db.begin_rw_txn()?;
        let mut n = 0;
        {
            let t = w.open_table(Some(TABLE))?;
            for &p in pairs {
                let (i, j) = unpack(p);
                n += u64::from(w.del(&t, key(i), Some(value(i, j).bytes()))?);
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.dir.join("mdbx.dat"))
    }
}

// --- redb ------------------------------------------------------------------------------

#[cfg(feature = "redb")]
const REDB_DUPS: redb::MultimapTableDefinition<&[u8], &[u8]> =
    redb::MultimapTableDefinition::new(TABLE);

#[cfg(feature = "redb")]
struct Redb {
    db: redb::Database,
    path: PathBuf,
}

#[cfg(feature = "redb")]
impl DupEngine for Redb {
    fn open(dir: &Path) -> Res<Self> {
        let path = dir.join("redb.redb");
        let db = redb::Database::create(&path)?;
        let w = db.begin_write()?;
        w.open_multimap_table(REDB_DUPS)?;
        w.commit()?;
        Ok(Redb { db, path })
    }
    fn settings(&self) -> String {
        "`Database::create` defaults (`Durability::Immediate`, default cache size); a \
         `MultimapTableDefinition<&[u8], &[u8]>`"
            .into()
    }
    fn lookup_method(&self) -> &'static str {
        "no exact-pair lookup in redb's API: `get(key)` and a scan of the key's sorted \
         values up to the first one ≥ the wanted value (linear in the key's values)"
    }
    fn insert(&self, pairs: &[u64]) -> Res<u64> {
        let w = self.db.begin_write()?;
        let mut new = 0;
        {
            let mut t = w.open_multimap_table(REDB_DUPS)?;
            for &p in pairs {
                let (i, j) = unpack(p);
                new += u64::from(!t.insert(&key(i)[..], value(i, j).bytes())?);
            }
        }
        w.commit()?;
        Ok(new)
    }
    fn pairs(&self) -> Res<u64> {
        use redb::{ReadableDatabase, ReadableTableMetadata};
        let r = self.db.begin_read()?;
        Ok(r.open_multimap_table(REDB_DUPS)?.len()?)
    }
    fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)> {
        use redb::ReadableDatabase;
        let r = self.db.begin_read()?;
        let t = r.open_multimap_table(REDB_DUPS)?;
        let (mut found, mut sum) = (0, 0);
        for &p in pairs {
            let (i, j) = unpack(p);
            let want = value(i, j);
            for v in t.get(&key(i)[..])? {
                let v = v?;
                match v.value().cmp(want.bytes()) {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Equal => {
                        found += 1;
                        sum += touch(v.value());
                    }
                    std::cmp::Ordering::Greater => {}
                }
                break;
            }
        }
        Ok((found, sum))
    }
    fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)> {
        use redb::ReadableDatabase;
        let r = self.db.begin_read()?;
        let t = r.open_multimap_table(REDB_DUPS)?;
        let (mut n, mut sum) = (0, 0);
        for &i in keys {
            for v in t.get(&key(i)[..])? {
                n += 1;
                sum += touch(v?.value());
            }
        }
        Ok((n, sum))
    }
    fn delete(&self, pairs: &[u64]) -> Res<u64> {
        let w = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut t = w.open_multimap_table(REDB_DUPS)?;
            for &p in pairs {
                let (i, j) = unpack(p);
                n += u64::from(t.remove(&key(i)[..], value(i, j).bytes())?);
            }
        }
        w.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
}

// --- SQLite (rusqlite, bundled) --------------------------------------------------------

#[cfg(feature = "sqlite")]
struct Sqlite {
    conn: rusqlite::Connection,
    path: PathBuf,
}

#[cfg(feature = "sqlite")]
impl DupEngine for Sqlite {
    fn open(dir: &Path) -> Res<Self> {
        let path = dir.join("sqlite.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "CREATE TABLE dups(k BLOB NOT NULL, v BLOB NOT NULL, PRIMARY KEY (k, v)) \
             WITHOUT ROWID",
        )?;
        Ok(Sqlite { conn, path })
    }
    fn settings(&self) -> String {
        let c = &self.conn;
        let q = |sql: &str| -> rusqlite::Result<String> {
            c.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(s) => s,
                    other => format!("{other:?}"),
                })
        };
        let pragmas = (|| -> rusqlite::Result<String> {
            Ok(format!(
                "journal_mode={}, synchronous={}, cache_size={}, page_size={}",
                q("PRAGMA journal_mode")?,
                q("PRAGMA synchronous")?,
                q("PRAGMA cache_size")?,
                q("PRAGMA page_size")?
            ))
        })()
        .unwrap_or_else(|e| format!("pragma query failed: {e}"));
        format!(
            "defaults: {pragmas}; SQLite {}; table `dups(k BLOB, v BLOB, PRIMARY KEY (k, v)) \
             WITHOUT ROWID`; reads inside `BEGIN`…`COMMIT`",
            rusqlite::version()
        )
    }
    fn lookup_method(&self) -> &'static str {
        "`SELECT v FROM dups WHERE k = ?1 AND v = ?2` (prepared)"
    }
    fn insert(&self, pairs: &[u64]) -> Res<u64> {
        let tx = self.conn.unchecked_transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached("INSERT OR IGNORE INTO dups VALUES (?1, ?2)")?;
            for &p in pairs {
                let (i, j) = unpack(p);
                n += st.execute((&key(i)[..], value(i, j).bytes()))? as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }
    fn pairs(&self) -> Res<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM dups", [], |r| r.get(0))?;
        Ok(n as u64)
    }
    fn lookups(&self, pairs: &[u64]) -> Res<(u64, u64)> {
        use rusqlite::OptionalExtension;
        let c = &self.conn;
        c.execute_batch("BEGIN")?;
        let (mut found, mut sum) = (0, 0);
        {
            let mut st = c.prepare_cached("SELECT v FROM dups WHERE k = ?1 AND v = ?2")?;
            for &p in pairs {
                let (i, j) = unpack(p);
                let t = st
                    .query_row((&key(i)[..], value(i, j).bytes()), |r| {
                        Ok(touch(r.get_ref(0)?.as_blob()?))
                    })
                    .optional()?;
                if let Some(t) = t {
                    found += 1;
                    sum += t;
                }
            }
        }
        c.execute_batch("COMMIT")?;
        Ok((found, sum))
    }
    fn iterate(&self, keys: &[u64]) -> Res<(u64, u64)> {
        let c = &self.conn;
        c.execute_batch("BEGIN")?;
        let (mut n, mut sum) = (0, 0);
        {
            let mut st = c.prepare_cached("SELECT v FROM dups WHERE k = ?1 ORDER BY v")?;
            for &i in keys {
                let mut rows = st.query([&key(i)[..]])?;
                while let Some(row) = rows.next()? {
                    n += 1;
                    sum += touch(row.get_ref(0)?.as_blob()?);
                }
            }
        }
        c.execute_batch("COMMIT")?;
        Ok((n, sum))
    }
    fn delete(&self, pairs: &[u64]) -> Res<u64> {
        let tx = self.conn.unchecked_transaction()?;
        let mut n = 0;
        {
            let mut st = tx.prepare_cached("DELETE FROM dups WHERE k = ?1 AND v = ?2")?;
            for &p in pairs {
                let (i, j) = unpack(p);
                n += st.execute((&key(i)[..], value(i, j).bytes()))? as u64;
            }
        }
        tx.commit()?;
        Ok(n)
    }
    fn file_size(&self) -> Res<u64> {
        file_len(&self.path)
    }
}

// ---------------------------------------------------------------------------------------
// The workload, in a child process, and what the parent makes of the results.

/// Run the workload on `engine` with `n` keys, in a fresh directory under `dir`.
pub fn run_child(engine: &str, n: u64, dir: &Path) -> Res<Map<String, Value>> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("compare-dupsort-{engine}-"))
        .tempdir_in(dir)?;
    let t = Instant::now();
    let plan = Plan::new(n);
    eprintln!(
        "  [{engine}] plan: {n} keys, {} pairs, {} lookups, {} deletions ({:.0} ms, untimed)",
        plan.total,
        plan.lookups.len(),
        plan.deletes.len(),
        ms(t.elapsed())
    );
    let dir = dir.path();
    match engine {
        "mdbx-lite" => workload::<MdbxLite>(engine, &plan, dir),
        #[cfg(feature = "lmdb")]
        "lmdb" => workload::<lmdb::Lmdb>(engine, &plan, dir),
        #[cfg(feature = "libmdbx")]
        "libmdbx" => workload::<Libmdbx>(engine, &plan, dir),
        #[cfg(feature = "redb")]
        "redb" => workload::<Redb>(engine, &plan, dir),
        #[cfg(feature = "sqlite")]
        "sqlite" => workload::<Sqlite>(engine, &plan, dir),
        other => Err(format!("engine {other} is not built in").into()),
    }
}

fn expect(what: &str, got: u64, want: u64) -> Res<()> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: {got}, expected {want}").into())
    }
}

fn workload<E: DupEngine>(name: &str, plan: &Plan, dir: &Path) -> Res<Map<String, Value>> {
    let mut m = Map::new();
    let say = |what: &str, t: Duration| eprintln!("  [{name}] {what}: {:.1} ms", ms(t));
    let timed = |m: &mut Map<String, Value>, label: &str, t: Instant| {
        let d = t.elapsed();
        say(label, d);
        m.insert(label.into(), Value::from(ms(d)));
    };
    let e = E::open(dir)?;
    m.insert("settings".into(), Value::from(e.settings()));
    m.insert("lookup_method".into(), Value::from(e.lookup_method()));

    let t = Instant::now();
    let new = e.insert(&plan.inserts)?;
    timed(&mut m, "insert", t);
    expect("pairs put", new, plan.total)?;
    let pairs = e.pairs()?;
    expect("pairs after insert", pairs, plan.total)?;
    m.insert("size_after_insert".into(), Value::from(e.file_size()?));

    let t = Instant::now();
    let (found, lookup_sum) = e.lookups(&plan.lookups)?;
    timed(&mut m, "lookups", t);
    expect("pairs found by lookups", found, plan.lookups.len() as u64)?;

    let t = Instant::now();
    let (iterated, iterate_sum) = e.iterate(&plan.iter_keys)?;
    timed(&mut m, "iterate", t);
    expect("values iterated", iterated, plan.iterated)?;

    let t = Instant::now();
    let deleted = e.delete(&plan.deletes)?;
    timed(&mut m, "delete", t);
    expect("pairs deleted", deleted, plan.deletes.len() as u64)?;
    let left = e.pairs()?;
    expect("pairs after delete", left, plan.total - deleted)?;
    m.insert("size_after_delete".into(), Value::from(e.file_size()?));
    drop(e);

    for (k, v) in [
        ("pairs", pairs),
        ("lookups_found", found),
        ("lookup_sum", lookup_sum),
        ("iterated", iterated),
        ("iterate_sum", iterate_sum),
        ("deleted", deleted),
        ("pairs_left", left),
    ] {
        m.insert(k.into(), Value::from(v));
    }
    m.insert("engine".into(), Value::from(name));
    Ok(m)
}

#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    super::row("insert", "insert every pair, one transaction (ms)", Unit::Ms, Some(0.8)),
    super::row("lookups", "exact pair lookups ×1M (ms)", Unit::Ms, Some(0.8)),
    super::row("iterate", "all values of 100k random keys (ms)", Unit::Ms, Some(0.8)),
    super::row("delete", "delete every other value, one transaction (ms)", Unit::Ms, Some(0.8)),
    super::row("size_after_insert", "file size after insert (MiB)", Unit::MiB, Some(1.0)),
    super::row("size_after_delete", "file size after delete (MiB)", Unit::MiB, Some(1.0)),
];

/// The counts every engine and run must agree on, in the order of the verification line.
const CHECKS: [(&str, &str); 7] = [
    ("pairs", "pairs after insert"),
    ("lookups_found", "lookups found"),
    ("lookup_sum", "lookup checksum"),
    ("iterated", "values iterated"),
    ("iterate_sum", "iteration checksum"),
    ("deleted", "pairs deleted"),
    ("pairs_left", "pairs left"),
];

/// Check that every engine and run reports the same counts; the verification line.
pub fn verify(engines: &[String], results: &[Vec<Map<String, Value>>]) -> Res<String> {
    let mut line = String::from("verify:");
    let runs: usize = results.iter().map(Vec::len).sum();
    for (k, label) in CHECKS {
        let mut first: Option<(u64, &str)> = None;
        for (e, rs) in engines.iter().zip(results) {
            for r in rs {
                let v = r
                    .get(k)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("{e} reported no {k}"))?;
                match first {
                    None => first = Some((v, e)),
                    Some((f, fe)) if f != v => {
                        return Err(format!("{label}: {fe} reports {f}, {e} reports {v}").into())
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some((v, _)) = first {
            line.push_str(&format!(" {label} {},", super::group(v)));
        }
    }
    line.push_str(&format!(
        " the same for all {} engine{} ({runs} children)",
        engines.len(),
        if engines.len() == 1 { "" } else { "s" }
    ));
    Ok(line)
}

/// The report lines of this workload: its data and each engine's pair lookup.
pub fn describe(n: u64, engines: &[String], results: &[Vec<Map<String, Value>>]) -> Vec<String> {
    let (total, max) = totals(n);
    let mut out = vec![format!(
        "Workload: dup-sort, {} keys of 16 bytes, {} pairs ({:.1} values per key on \
         average, at most {}), values of 8–32 bytes; {} exact lookups of random pairs; \
         the values of {} random keys; {} pairs (odd `j`) deleted",
        super::group(n),
        super::group(total),
        total as f64 / n as f64,
        super::group(max),
        super::group(LOOKUPS),
        super::group(ITERATIONS),
        super::group((0..n).map(|i| value_count(i) / 2).sum()),
    )];
    for (e, r) in engines.iter().zip(results) {
        if let Some(how) = r
            .first()
            .and_then(|m| m.get("lookup_method"))
            .and_then(Value::as_str)
        {
            out.push(format!("Pair lookup, {e}: {how}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_distinct_and_counts_heavy_tailed() {
        let (total, max) = totals(100_000);
        assert!((2_000_000..=5_000_000).contains(&total), "{total}");
        assert!(max <= MAX_VALUES && max > 900, "{max}");
        let small = (0..100_000).filter(|&i| value_count(i) <= 10).count();
        assert!((68_000..72_000).contains(&small), "{small}");
        for i in [0, 7, 12_345] {
            let c = value_count(i);
            let mut vs: Vec<Vec<u8>> = (0..c).map(|j| value(i, j).bytes().to_vec()).collect();
            assert!(vs.iter().all(|v| (8..=32).contains(&v.len())));
            vs.sort();
            vs.dedup();
            assert_eq!(vs.len() as u64, c);
        }
    }

    #[test]
    fn engines_must_agree() {
        let result = |pairs: u64| {
            let mut m = Map::new();
            for (k, _) in CHECKS {
                m.insert(k.into(), Value::from(if k == "pairs" { pairs } else { 1 }));
            }
            m
        };
        let engines = ["a".to_string(), "b".to_string()];
        let same = [vec![result(5), result(5)], vec![result(5)]];
        assert!(verify(&engines, &same)
            .unwrap()
            .contains("pairs after insert 5,"));
        let differ = [vec![result(5)], vec![result(5), result(6)]];
        let e = verify(&engines, &differ).unwrap_err().to_string();
        assert_eq!(e, "pairs after insert: a reports 5, b reports 6");
    }
}
