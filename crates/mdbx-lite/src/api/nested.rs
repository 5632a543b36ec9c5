//! Nested write transactions and ephemeral savepoints: changes inside a write
//! transaction that can be undone exactly.
//!
//! Both are levels of one stack kept by the write transaction. A level remembers what
//! it needs to restore the transaction as it was when the level began: the table
//! records (a copy of the small table list), the allocator's and the free-space
//! search's state, and, for every page first changed inside the level, that page as it
//! was (`txn::dirty`, an undo image taken on first write). So a level costs what its own
//! changes touch, never a copy of the transaction's dirty pages. Ending a level keeps
//! its changes and folds its undo images into the level below; rolling back restores
//! them.
//!
//! A nested transaction is a level ended by [`NestedTxn::commit`] or rolled back by
//! [`NestedTxn::abort`] (or by dropping it); it borrows its parent mutably, so the
//! parent cannot be used while it is open. A savepoint is a level that stays until its
//! [`Savepoint`] is dropped (it is then folded away) or the transaction ends; rolling
//! back to it undoes everything since it was taken, and can be done any number of times.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};

use crate::api::transaction::WriteTxn;
use crate::error::{Error, Result};

/// A point inside a write transaction to roll back to ([`WriteTxn::savepoint`]).
///
/// Valid in the transaction (and nested transaction) that took it until the
/// transaction rolls back past it or ends. Dropping it releases what it holds: the
/// changes since stay, and the undo images it kept are folded away.
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// wtx.create_table("t")?.put(b"kept", b"1")?;
/// let sp = wtx.savepoint()?;
/// for attempt in 0..3 {
///     wtx.open_table("t")?.put(b"tried", &[attempt])?;
///     wtx.rollback_to(&sp)?; // as it was when `sp` was taken
/// }
/// let t = wtx.open_table("t")?;
/// assert_eq!((t.len(), t.get(b"tried")?), (1, None));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Savepoint {
    token: Arc<()>,
}

/// A nested write transaction: a child of a write transaction (or of another nested
/// one, to any depth) that sees its parent's changes. [`NestedTxn::commit`] folds its
/// changes into the parent; [`NestedTxn::abort`], or dropping it, restores the parent
/// exactly: contents, counts and free space. It derefs to [`WriteTxn`], so every table
/// operation works on it.
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// wtx.create_table("t")?.put(b"a", b"1")?;
/// {
///     let mut child = wtx.begin_nested()?;
///     child.open_table("t")?.put(b"b", b"2")?;
///     child.commit()?; // "b" is now the parent's
/// }
/// {
///     let mut child = wtx.begin_nested()?;
///     child.open_table("t")?.delete(b"a")?;
///     // dropped: the delete is undone
/// }
/// assert_eq!(wtx.open_table("t")?.len(), 2);
/// wtx.commit()?;
/// # Ok(()) }
/// ```
pub struct NestedTxn<'p> {
    txn: &'p mut WriteTxn,
    /// Its level in the parent's stack.
    level: usize,
    done: bool,
}

impl WriteTxn {
    /// Begin a nested transaction (see [`NestedTxn`]).
    ///
    /// # Errors
    /// `Error::Invalid` if an operation of this transaction failed midway (it can only
    /// be aborted).
    pub fn begin_nested(&mut self) -> Result<NestedTxn<'_>> {
        self.check_usable()?;
        let level = self.push_level(None);
        Ok(NestedTxn {
            txn: self,
            level,
            done: false,
        })
    }

    /// Take a savepoint: [`WriteTxn::rollback_to`] it to undo every change made since.
    ///
    /// # Errors
    /// `Error::Invalid` if an operation of this transaction failed midway.
    pub fn savepoint(&mut self) -> Result<Savepoint> {
        self.check_usable()?;
        let token = Arc::new(());
        self.push_level(Some(Arc::downgrade(&token)));
        Ok(Savepoint { token })
    }

    /// Undo every change made since `savepoint` was taken; the savepoint stays valid
    /// (savepoints taken after it do not). Works after an operation failed midway too:
    /// the state it restores is whole.
    ///
    /// # Errors
    /// `Error::Invalid` for a savepoint of another transaction, one rolled back past, or
    /// one taken outside the nested transaction this is called in.
    pub fn rollback_to(&mut self, savepoint: &Savepoint) -> Result<()> {
        let token = Arc::downgrade(&savepoint.token);
        let found = self.level_of(&token).filter(|&i| i >= self.nested_floor());
        let Some(level) = found else {
            return Err(Error::Invalid(
                "savepoint not valid here: it belongs to another transaction, was rolled \
                 back past, or was taken outside this nested transaction"
                    .into(),
            ));
        };
        self.rollback_level(level)?;
        self.push_level(Some(token));
        Ok(())
    }
}

impl NestedTxn<'_> {
    /// Fold this transaction's changes into its parent.
    ///
    /// # Errors
    /// `Error::Invalid` if one of its operations failed midway: it is then rolled back,
    /// and the parent is as it was before it began.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        if self.txn.has_failed() {
            self.txn.rollback_level(self.level)?;
            return Err(Error::Invalid(
                "an operation of the nested transaction failed; it was rolled back".into(),
            ));
        }
        self.txn.release_level(self.level);
        Ok(())
    }

    /// Undo every change this transaction made (dropping it does the same).
    ///
    /// # Errors
    /// `Error::Corrupted` or `Error::Io` only if restoring the parent fails, which
    /// leaves the parent failed (it can then only be aborted).
    pub fn abort(mut self) -> Result<()> {
        self.done = true;
        self.txn.rollback_level(self.level)
    }
}

impl Drop for NestedTxn<'_> {
    fn drop(&mut self) {
        if !self.done {
            // A failure leaves the parent marked failed; there is no one to tell here.
            let _ = self.txn.rollback_level(self.level);
        }
    }
}

impl Deref for NestedTxn<'_> {
    type Target = WriteTxn;
    fn deref(&self) -> &WriteTxn {
        self.txn
    }
}

impl DerefMut for NestedTxn<'_> {
    fn deref_mut(&mut self) -> &mut WriteTxn {
        self.txn
    }
}

/// Whether level token `weak` (of a savepoint level) is `token`.
pub(crate) fn same_savepoint(weak: &Weak<()>, token: &Weak<()>) -> bool {
    Weak::ptr_eq(weak, token)
}
