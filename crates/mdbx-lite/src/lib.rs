//! mdbx-lite: a pure-Rust, single-file, memory-mapped, copy-on-write B+tree key-value store.
//!
//! ```no_run
//! # fn main() -> mdbx_lite::Result<()> {
//! let env = mdbx_lite::Env::open("my.db")?;
//! let mut wtx = env.begin_write()?;
//! wtx.create_table("users")?.put(b"alice", b"admin")?;
//! wtx.commit()?;
//!
//! let rtx = env.begin_read()?;
//! let users = rtx.open_table("users")?;
//! assert_eq!(users.get(b"alice")?, Some(&b"admin"[..])); // a slice of the map, no copy
//! # Ok(()) }
//! ```
//!
//! Layers, top to bottom, one folder each: `tools` (check, inspect, stat, copy, dump) →
//! `api` ([`Env`], transactions, tables) → `txn` (the write transaction's dirty pages,
//! allocation, free space, commit I/O) → `tree` (the B+tree and its cursors) → `storage`
//! (metas, committed-page reads, the reader table) → `format` (pure page and meta codecs)
//! → `os` (the memory mappings, the one module allowed `unsafe`, the [`io`] write seam,
//! and every other call specific to the operating system). `docs/design.md` has the map.

#![deny(unsafe_code, clippy::undocumented_unsafe_blocks)]

mod api;
mod error;
mod format;
mod os;
mod storage;
mod tools;
mod tree;
mod txn;

pub use api::codec::{Encoded, Integer, Key, KeyPart, Value};
pub use api::cursor_mut::{CursorMut, DupCursorMut};
pub use api::dup_table::{DupCursor, DupRange, DupSort, DupTable, DupTableMut, Pair, Values};
pub use api::env::{lock_path, Durability, Env, EnvBuilder};
pub use api::nested::{NestedTxn, Savepoint};
pub use api::order::KeyOrder;
pub use api::persistent::PersistentSavepoint;
#[cfg(feature = "serde")]
pub use api::serde_codec::Postcard;
pub use api::transaction::{
    PutFlags, ReadTable, ReadTxn, TableMut, TableRead, TableStat, WriteTxn,
};
pub use api::typed::{
    Handle, MultimapCursor, MultimapCursorMut, MultimapDef, MultimapHandle, MultimapTable,
    MultimapTableMut, TableDef, Taken, TakenEntry, TypedCursorMut, TypedPairs, TypedRange,
    TypedTable, TypedTableMut, TypedValues,
};
pub use error::{Corruption, Error, Result};
pub use format::order::Comparator;
pub use os::io;
pub use os::map::ReadAhead;
pub use storage::readers::ReaderInfo;
pub use tools::copy::CopyError;
pub use tools::stat::{EnvStat, SavepointStat};
pub use tools::{check, dump, inspect};
pub use tree::cursor::{Cursor, Entry, Range};
