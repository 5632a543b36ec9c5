//! Cursors that write where they stand: replace the current value, insert and move
//! there, delete the current entry and go on iterating (LMDB's `mdb_cursor_put` and
//! `mdb_cursor_del`).
//!
//! A writing cursor remembers its position as the key (for a dup-sort table, the pair)
//! it stands on, not as a path of pages: every write may copy, split or merge the pages
//! of that path. Each move therefore starts with a seek from the root (O(log n)), and an
//! entry it hands out is borrowed from the cursor until the next call. After
//! `delete_current` the cursor stands in the gap the entry left: `next` gives the entry
//! after it, `prev` the one before.

use crate::api::dup_table::{DupTableMut, Pair};
use crate::api::transaction::TableMut;
use crate::error::{Error, Result};
use crate::tree::cursor::Entry;

/// Where a writing cursor stands.
#[derive(Clone, Debug, Default)]
enum At<P> {
    /// Nowhere yet: `next` goes to the first entry, `prev` to the last.
    #[default]
    Unset,
    /// On this entry.
    On(P),
    /// Where this entry was before `delete_current` removed it.
    Gap(P),
    /// Past the last entry (`next` found none): `prev` goes to the last.
    End,
    /// Before the first entry (`prev` found none): `next` goes to the first.
    Start,
}

fn not_on_an_entry() -> Error {
    Error::Invalid("the cursor is not on an entry".into())
}

/// A cursor over a plain table that writes where it stands ([`TableMut::cursor_mut`]).
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut t = wtx.create_table("sessions")?;
/// for (k, v) in [(b"a", b"live"), (b"b", b"dead"), (b"c", b"live")] {
///     t.put(k, v)?;
/// }
/// let mut c = t.cursor_mut();
/// while let Some((_, v)) = c.next()? {
///     if v == b"dead" {
///         c.delete_current()?; // and go on with the next entry
///     } else {
///         c.put_current(b"checked")?;
///     }
/// }
/// assert_eq!(t.len(), 2);
/// assert_eq!(t.get(b"c")?, Some(&b"checked"[..]));
/// # Ok(()) }
/// ```
pub struct CursorMut<'c, 'txn> {
    table: &'c mut TableMut<'txn>,
    at: At<Vec<u8>>,
}

impl<'txn> TableMut<'txn> {
    /// A cursor that writes where it stands, positioned nowhere until moved.
    pub fn cursor_mut(&mut self) -> CursorMut<'_, 'txn> {
        CursorMut {
            table: self,
            at: At::Unset,
        }
    }
}

impl<'c, 'txn> CursorMut<'c, 'txn> {
    /// Stand on what a move found (or at `edge` when it found nothing) and hand it out.
    fn land<'a>(
        at: &mut At<Vec<u8>>,
        found: Option<Entry<'a>>,
        edge: At<Vec<u8>>,
    ) -> Option<Entry<'a>> {
        *at = match found {
            Some((k, _)) => At::On(k.to_vec()),
            None => edge,
        };
        found
    }

    /// The entry under the cursor, if it stands on one.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the seek reads is damaged.
    pub fn current(&self) -> Result<Option<Entry<'_>>> {
        match &self.at {
            At::On(key) => {
                let mut c = self.table.cursor();
                match c.seek(key)? {
                    Some(e) if e.0 == key.as_slice() => Ok(Some(e)),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// The first entry.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the move reads is damaged.
    pub fn first(&mut self) -> Result<Option<Entry<'_>>> {
        let found = self.table.cursor().first()?;
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The last entry.
    ///
    /// # Errors
    /// As [`CursorMut::first`].
    pub fn last(&mut self) -> Result<Option<Entry<'_>>> {
        let found = self.table.cursor().last()?;
        Ok(Self::land(&mut self.at, found, At::Start))
    }

    /// The first entry with a key at or after `key`.
    ///
    /// # Errors
    /// As [`CursorMut::first`].
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<Entry<'_>>> {
        let found = self.table.cursor().seek(key)?;
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The entry after the current one (after the gap a deleted entry left; the first
    /// entry if the cursor stands nowhere or before the first). Past the last entry it
    /// stays there.
    ///
    /// # Errors
    /// As [`CursorMut::first`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'_>>> {
        let mut c = self.table.cursor();
        let found = match &self.at {
            At::Unset | At::Start => c.first()?,
            At::End => None,
            At::On(key) => match c.seek(key)? {
                Some((k, _)) if k == key.as_slice() => c.next()?,
                other => other,
            },
            At::Gap(key) => c.seek(key)?,
        };
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The entry before the current one (before the gap a deleted entry left; the last
    /// entry if the cursor stands nowhere or past the last). Before the first entry it
    /// stays there.
    ///
    /// # Errors
    /// As [`CursorMut::first`].
    pub fn prev(&mut self) -> Result<Option<Entry<'_>>> {
        let mut c = self.table.cursor();
        let found = match &self.at {
            At::Unset | At::End => c.last()?,
            At::Start => None,
            At::On(key) | At::Gap(key) => match c.seek(key)? {
                Some(_) => c.prev()?,
                None => c.last()?,
            },
        };
        Ok(Self::land(&mut self.at, found, At::Start))
    }

    /// Replace the value of the entry under the cursor; the cursor stays on it.
    ///
    /// # Errors
    /// `Error::Invalid` if the cursor is not on an entry; as [`TableMut::put`].
    pub fn put_current(&mut self, value: &[u8]) -> Result<()> {
        let At::On(key) = &self.at else {
            return Err(not_on_an_entry());
        };
        let key = key.clone();
        self.table.put(&key, value)
    }

    /// Insert or overwrite `key` and stand on it.
    ///
    /// # Errors
    /// As [`TableMut::put`].
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.table.put(key, value)?;
        self.at = At::On(key.to_vec());
        Ok(())
    }

    /// Delete the entry under the cursor, which then stands in the gap it left.
    ///
    /// # Errors
    /// `Error::Invalid` if the cursor is not on an entry; as [`TableMut::delete`].
    pub fn delete_current(&mut self) -> Result<()> {
        let At::On(key) = &self.at else {
            return Err(not_on_an_entry());
        };
        let key = key.clone();
        self.table.delete(&key)?;
        self.at = At::Gap(key);
        Ok(())
    }
}

/// A cursor over a dup-sort table that writes where it stands
/// ([`DupTableMut::cursor_mut`]): it moves over pairs, key by key and within a key,
/// deletes the pair under it, or puts a pair and stands on it.
///
/// ```
/// # fn main() -> mdbx_lite::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// use mdbx_lite::DupSort;
/// let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut tags = wtx.create_dup_table("tags", DupSort::new())?;
/// for v in ["db", "old", "rust"] {
///     tags.put(b"post-1", v.as_bytes())?;
/// }
/// let mut c = tags.cursor_mut();
/// while let Some((_, v)) = c.next()? {
///     if v == b"old" {
///         c.delete_current()?;
///     }
/// }
/// c.put(b"post-1", b"new")?; // and stand on it
/// assert_eq!(c.next()?, Some((&b"post-1"[..], &b"rust"[..])));
/// assert_eq!(tags.count(b"post-1")?, 3);
/// # Ok(()) }
/// ```
pub struct DupCursorMut<'c, 'txn> {
    table: &'c mut DupTableMut<'txn>,
    at: At<(Vec<u8>, Vec<u8>)>,
}

impl<'txn> DupTableMut<'txn> {
    /// A cursor that writes where it stands, positioned nowhere until moved.
    pub fn cursor_mut(&mut self) -> DupCursorMut<'_, 'txn> {
        DupCursorMut {
            table: self,
            at: At::Unset,
        }
    }
}

impl<'c, 'txn> DupCursorMut<'c, 'txn> {
    /// Stand on what a move found (or at `edge` when it found nothing) and hand it out.
    fn land<'a>(
        at: &mut At<(Vec<u8>, Vec<u8>)>,
        found: Option<Pair<'a>>,
        edge: At<(Vec<u8>, Vec<u8>)>,
    ) -> Option<Pair<'a>> {
        *at = match found {
            Some((k, v)) => At::On((k.to_vec(), v.to_vec())),
            None => edge,
        };
        found
    }

    /// The pair under the cursor, if it stands on one.
    ///
    /// # Errors
    /// `Error::Corrupted` when a page the seek reads is damaged.
    pub fn current(&self) -> Result<Option<Pair<'_>>> {
        match &self.at {
            At::On((k, v)) => self.table.cursor().seek_pair(k, v),
            _ => Ok(None),
        }
    }

    /// The first pair.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn first(&mut self) -> Result<Option<Pair<'_>>> {
        let found = self.table.cursor().first()?;
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The last pair.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn last(&mut self) -> Result<Option<Pair<'_>>> {
        let found = self.table.cursor().last()?;
        Ok(Self::land(&mut self.at, found, At::Start))
    }

    /// The first value of the first key at or after `key`.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn seek_key(&mut self, key: &[u8]) -> Result<Option<Pair<'_>>> {
        let found = self.table.cursor().seek_key(key)?;
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The first value at or after `value` of `key` itself (None, and the cursor at
    /// the end, if it has none).
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn seek_value(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Pair<'_>>> {
        let found = self.table.cursor().seek_value(key, value)?;
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The first pair at or after (`key`, `value`) in the table's order.
    fn seek_at_or_after<'a>(
        c: &mut crate::api::dup_table::DupCursor<'a>,
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Pair<'a>>> {
        if let Some(p) = c.seek_value(key, value)? {
            return Ok(Some(p));
        }
        // No value of `key` at or after `value`: the next key's first, if any.
        match c.seek_key(key)? {
            Some((k, _)) if k == key => c.next_key(),
            other => Ok(other),
        }
    }

    /// The pair after the current one (after the gap a deleted pair left; the first
    /// pair if the cursor stands nowhere or before the first). Past the last pair it
    /// stays there.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Pair<'_>>> {
        let mut c = self.table.cursor();
        let found = match &self.at {
            At::Unset | At::Start => c.first()?,
            At::End => None,
            At::On((k, v)) => match c.seek_pair(k, v)? {
                Some(_) => c.next()?,
                None => Self::seek_at_or_after(&mut c, k, v)?,
            },
            At::Gap((k, v)) => Self::seek_at_or_after(&mut c, k, v)?,
        };
        Ok(Self::land(&mut self.at, found, At::End))
    }

    /// The pair before the current one (before the gap a deleted pair left; the last
    /// pair if the cursor stands nowhere or past the last). Before the first pair it
    /// stays there.
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn prev(&mut self) -> Result<Option<Pair<'_>>> {
        let mut c = self.table.cursor();
        let found = match &self.at {
            At::Unset | At::End => c.last()?,
            At::Start => None,
            At::On((k, v)) | At::Gap((k, v)) => match Self::seek_at_or_after(&mut c, k, v)? {
                Some(_) => c.prev()?,
                None => c.last()?,
            },
        };
        Ok(Self::land(&mut self.at, found, At::Start))
    }

    /// The next value of the current key (None at its last, the cursor staying there).
    ///
    /// # Errors
    /// As [`DupCursorMut::current`].
    pub fn next_dup(&mut self) -> Result<Option<Pair<'_>>> {
        let key = match &self.at {
            At::On((k, _)) | At::Gap((k, _)) => k.clone(),
            _ => return Ok(None),
        };
        let here = self.at.clone();
        match self.next()?.map(|(k, _)| k == key.as_slice()) {
            Some(true) => self.current(),
            _ => {
                self.at = here;
                Ok(None)
            }
        }
    }

    /// Put the pair (`key`, `value`) and stand on it.
    ///
    /// # Errors
    /// As [`DupTableMut::put`].
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let added = self.table.put(key, value)?;
        self.at = At::On((key.to_vec(), value.to_vec()));
        Ok(added)
    }

    /// Delete the pair under the cursor, which then stands in the gap it left.
    ///
    /// # Errors
    /// `Error::Invalid` if the cursor is not on a pair; as [`DupTableMut::delete`].
    pub fn delete_current(&mut self) -> Result<()> {
        let At::On((k, v)) = &self.at else {
            return Err(not_on_an_entry());
        };
        let (k, v) = (k.clone(), v.clone());
        self.table.delete(&k, &v)?;
        self.at = At::Gap((k, v));
        Ok(())
    }
}
