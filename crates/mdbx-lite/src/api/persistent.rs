//! Persistent savepoints: names for committed states that survive restarts, to restore
//! in a later write transaction.
//!
//! A savepoint is a row of the savepoint tree (named by the meta): its name, and the
//! transaction id and data-tree records of the state it names. Its snapshot counts as
//! protected, like a live reader's (`EnvInner::reuse_horizon`), so no page that state
//! reaches is reused while the savepoint exists; deleting it releases them. Restoring
//! it (`txn::restore`) makes its tables the transaction's and settles free space.
//!
//! Invariant: the savepoint tree is part of every state a meta names, never of a
//! savepoint's own state, so restoring one keeps every savepoint, older and newer.

use crate::api::transaction::{ReadTxn, WriteTxn};
use crate::error::{Error, Result};
use crate::format::meta::{Meta, TableRecord};
use crate::format::savepoint::{SavedState, MAX_SAVEPOINT_NAME};
use crate::storage::snapshot::PageSource;
use crate::tree::btree::{self, PutMode};
use crate::tree::cursor::RawCursor;

/// A persistent savepoint: a name for a committed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistentSavepoint {
    /// Its name.
    pub name: String,
    /// The transaction id of the state it names (the commit it was taken after).
    pub txnid: u64,
}

/// Every savepoint the tree `rec` in `src` records, by name.
pub(crate) fn saved_states<S: PageSource + ?Sized>(
    src: &S,
    rec: &TableRecord,
) -> Result<Vec<(String, SavedState)>> {
    let mut out = Vec::new();
    let mut cur = RawCursor::new(src, *rec);
    let mut item = cur.first()?;
    while let Some((k, v)) = item {
        let leaf = cur.leaf_pgno();
        let state = SavedState::decode(v, leaf)?;
        out.push((String::from_utf8_lossy(k).into_owned(), state));
        item = cur.next()?;
    }
    Ok(out)
}

/// The transaction ids of the savepoints in the tree `rec` (sorted, distinct).
pub(crate) fn saved_ids<S: PageSource + ?Sized>(src: &S, rec: &TableRecord) -> Result<Vec<u64>> {
    if rec.root == 0 {
        return Ok(Vec::new());
    }
    let mut ids: Vec<u64> = saved_states(src, rec)?
        .into_iter()
        .map(|(_, s)| s.txnid)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The savepoints a writer building on `base` must protect: the base's, and those of
/// `other` (the meta beside it) while a crash may still fall back to that one (it is
/// at least the durable id `durable`): a savepoint deleted since holds its pages until
/// the deletion is durable.
pub(crate) fn protected_savepoints<S: PageSource + ?Sized>(
    src: &S,
    base: &Meta,
    other: Option<Meta>,
    durable: u64,
) -> Result<Vec<u64>> {
    let mut ids = saved_ids(src, &base.savepoints)?;
    if let Some(m) = other.filter(|m| m.txnid >= durable && m.txnid < base.txnid) {
        ids.extend(saved_ids(src, &m.savepoints)?);
    }
    Ok(ids)
}

fn listed(states: Vec<(String, SavedState)>) -> Vec<PersistentSavepoint> {
    states
        .into_iter()
        .map(|(name, s)| PersistentSavepoint {
            name,
            txnid: s.txnid,
        })
        .collect()
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_SAVEPOINT_NAME {
        return Err(Error::Invalid(format!(
            "a savepoint name has 1 to {MAX_SAVEPOINT_NAME} bytes, not {}",
            name.len()
        )));
    }
    Ok(())
}

impl ReadTxn {
    /// The persistent savepoints of this snapshot, sorted by name.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` reading the savepoint tree.
    pub fn persistent_savepoints(&self) -> Result<Vec<PersistentSavepoint>> {
        let snap = self.snapshot();
        Ok(listed(saved_states(&snap.pages, &snap.meta.savepoints)?))
    }
}

impl WriteTxn {
    /// Name the state this transaction started from (the last commit, whatever this
    /// transaction has changed since) `name`: a persistent savepoint, durable once this
    /// transaction commits. Until it is deleted, every page of that state is kept from
    /// reuse (as a reader would keep it; `Env::stat` reports how many), and a later
    /// write transaction can make it current again
    /// ([`WriteTxn::restore_persistent_savepoint`]), also after a restart. Returns the
    /// transaction id of the state named.
    ///
    /// ```
    /// # fn main() -> mdbx_lite::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// wtx.main_table().put(b"version", b"1")?;
    /// wtx.commit()?;
    ///
    /// let mut wtx = env.begin_write()?;
    /// wtx.persistent_savepoint("v1")?; // names the state with version 1
    /// wtx.main_table().put(b"version", b"2")?;
    /// wtx.commit()?;
    ///
    /// let mut wtx = env.begin_write()?;
    /// wtx.restore_persistent_savepoint("v1")?;
    /// assert_eq!(wtx.main_table().get(b"version")?, Some(&b"1"[..]));
    /// wtx.delete_persistent_savepoint("v1")?; // its pages can be reused after this commit
    /// wtx.commit()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Error::SavepointExists` if the name is taken, `Error::Invalid` for an empty
    /// name or one longer than 255 bytes; `Error::Corrupted` or `Error::Io` from the
    /// savepoint tree (the transaction can then only be aborted).
    pub fn persistent_savepoint(&mut self, name: &str) -> Result<u64> {
        check_name(name)?;
        self.check_usable()?;
        let base = *self.base_meta();
        let state = SavedState {
            txnid: base.txnid,
            main: base.main,
            catalog: base.catalog,
        };
        let rec = self.savepoint_tree();
        if btree::get(self.write_pages(), &rec, name.as_bytes())?.is_some() {
            return Err(Error::SavepointExists(name.to_string()));
        }
        self.update_savepoints(|pages, rec| {
            btree::put(
                pages,
                rec,
                name.as_bytes(),
                &state.encode(),
                PutMode::Upsert,
            )
        })?;
        Ok(state.txnid)
    }

    /// Delete the persistent savepoint `name`; from the next write transaction after
    /// this one commits, the pages only it kept are reused. Returns false if there was
    /// none.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` from the savepoint tree (the transaction can
    /// then only be aborted).
    pub fn delete_persistent_savepoint(&mut self, name: &str) -> Result<bool> {
        self.check_usable()?;
        if name.is_empty() || name.len() > MAX_SAVEPOINT_NAME {
            return Ok(false);
        }
        self.update_savepoints(|pages, rec| btree::delete(pages, rec, name.as_bytes()))
    }

    /// Make the state the persistent savepoint `name` names current: every table, the
    /// main one included, as it was then (tables made since are gone, tables dropped
    /// since are back). The savepoint stays (delete it to release its pages), and so do
    /// all the others, older and newer. It must be the first thing this transaction
    /// does.
    ///
    /// Costs a visit of every page of the savepoint's state, and of the pages the
    /// current state changed since.
    ///
    /// # Errors
    /// `Error::SavepointNotFound` if there is no such savepoint; `Error::Invalid` when
    /// the transaction has changed anything already, or inside a nested transaction or
    /// with an ephemeral savepoint open; `Error::Corrupted` or `Error::Io` reading the
    /// states or the free tree (the transaction can then only be aborted).
    pub fn restore_persistent_savepoint(&mut self, name: &str) -> Result<()> {
        self.check_usable()?;
        if !self.is_untouched() {
            return Err(Error::Invalid(
                "a persistent savepoint is restored first in a write transaction, before \
                 any change, and not inside a nested transaction or savepoint"
                    .into(),
            ));
        }
        let rec = self.savepoint_tree();
        let state = match btree::get(self.write_pages(), &rec, name.as_bytes())? {
            Some(v) => SavedState::decode(v, rec.root)?,
            None => return Err(Error::SavepointNotFound(name.to_string())),
        };
        let base = self.base_meta().txnid;
        if state.txnid > base {
            return Err(Error::corrupted(
                crate::error::Corruption::Meta,
                rec.root,
                format!(
                    "savepoint {name:?} names txn {}, after the last commit {base}",
                    state.txnid
                ),
            ));
        }
        if state.txnid == base {
            return Ok(());
        }
        self.restore_state(&state)
    }

    /// The persistent savepoints as this transaction sees them, sorted by name.
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` reading the savepoint tree.
    pub fn persistent_savepoints(&self) -> Result<Vec<PersistentSavepoint>> {
        Ok(listed(saved_states(
            self.write_pages(),
            &self.savepoint_tree(),
        )?))
    }
}
