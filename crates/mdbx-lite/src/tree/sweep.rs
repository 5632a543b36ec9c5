//! Removing many entries of a plain table in one pass over its leaves: ranges, `retain`
//! and `drain`.
//!
//! The sweep descends once per leaf, not once per entry: it reads its way to a leaf,
//! asks about each of the leaf's entries in key order and, only if some are to go,
//! copies the path on write, removes them (freeing their overflow runs) and rebalances
//! the leaf once; then it goes on from the separator above the leaf's right edge. A
//! leaf that keeps everything is not copied. Every key below that separator has been
//! asked about and every key at or above it has not, however the rebalance merged
//! pages, so each entry is asked about exactly once. Cost: O(entries + leaves × depth)
//! instead of O(entries × depth).

use std::ops::Bound;

use crate::error::Result;
use crate::format::meta::TableRecord;
use crate::format::page::{self, node_remove, LeafValue};
use crate::tree::btree::{
    checked_depth, cow_path_to, leaf_layout, node_at, rebalance, value_bytes, Path,
};
use crate::tree::pages::{PageSource, PageWrite};

/// What the sweep does with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Keep,
    Remove,
    /// Leave it and stop the sweep.
    Stop,
}

/// Remove, from the first key after `from` (in the table's order) on, the entries
/// `decide(key, value)` says to remove, until it says stop or the table ends. Returns
/// the number removed. `rec` must be a plain table's.
pub(crate) fn sweep(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    from: Bound<&[u8]>,
    mut decide: impl FnMut(&[u8], &[u8]) -> Result<Verdict>,
) -> Result<u64> {
    let mut removed = 0u64;
    // Where the next leaf's entries start: a key bound, or the first leaf.
    let mut at: Bound<Vec<u8>> = match from {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut doomed: Vec<usize> = Vec::new();
    let mut runs: Vec<(u64, usize)> = Vec::new();
    while rec.root != 0 {
        let mut path: Path = [(0, 0); page::MAX_DEPTH];
        let key = match &at {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
            Bound::Unbounded => None,
        };
        let (levels, leaf) = find_path(p, rec, key, &mut path)?;
        // The separator above the leaf's right edge: the next leaf's entries start there.
        let mut next = None;
        for &(pg, idx) in path[..levels].iter().rev() {
            let node = node_at(p, pg, false)?;
            if idx + 1 < node.count() {
                next = Some(node.key(idx + 1)?.to_vec());
                break;
            }
        }
        let mut stop = false;
        doomed.clear();
        runs.clear();
        {
            let node = node_at(p, leaf, true)?;
            leaf_layout(rec, &node)?;
            let order = rec.key_order();
            let start = match &at {
                Bound::Included(k) => node.search(k, order)?.0,
                Bound::Excluded(k) => match node.search(k, order)? {
                    (i, true) => i + 1,
                    (i, false) => i,
                },
                Bound::Unbounded => 0,
            };
            for i in start..node.count() {
                let stored = node.leaf_value(i)?;
                let value = value_bytes(p, stored)?;
                match decide(node.key(i)?, value)? {
                    Verdict::Keep => {}
                    Verdict::Remove => {
                        doomed.push(i);
                        if let LeafValue::Overflow { pgno, len } = stored {
                            runs.push((pgno, len));
                        }
                    }
                    Verdict::Stop => {
                        stop = true;
                        break;
                    }
                }
            }
        }
        if !doomed.is_empty() {
            // The same descent again, copying the path this time.
            let (levels, leaf, _) = cow_path_to(p, rec, key, &mut path)?;
            let path = &path[..levels];
            for &(pgno, len) in &runs {
                p.free_overflow(pgno, len, rec)?;
            }
            let page = p.page_mut(leaf)?;
            for &i in doomed.iter().rev() {
                node_remove(page, i);
            }
            let n = doomed.len() as u64;
            rec.entries = rec.entries.saturating_sub(n);
            removed += n;
            rebalance(p, rec, path, leaf)?;
        }
        match next {
            Some(k) if !stop => at = Bound::Included(k),
            _ => break,
        }
    }
    Ok(removed)
}

/// Descend without changing anything to the leaf that would hold `key` (the first leaf
/// for `None`), recording (branch page, child index) per level. Returns the number of
/// branch levels and the leaf.
fn find_path<S: PageSource + ?Sized>(
    src: &S,
    rec: &TableRecord,
    key: Option<&[u8]>,
    path: &mut Path,
) -> Result<(usize, u64)> {
    let depth = checked_depth(rec)?;
    let order = rec.key_order();
    let mut pgno = rec.root;
    for slot in path.iter_mut().take(depth - 1) {
        let node = node_at(src, pgno, false)?;
        let idx = match key {
            Some(k) => node.branch_index(k, order)?,
            None => 0,
        };
        *slot = (pgno, idx);
        pgno = node.child(idx)?;
    }
    Ok((depth - 1, pgno))
}

/// Remove the entries of `(start, end)`, handing each to `each` first; returns how
/// many.
pub(crate) fn remove_range(
    p: &mut impl PageWrite,
    rec: &mut TableRecord,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    mut each: impl FnMut(&[u8], &[u8]),
) -> Result<u64> {
    let order = rec.key_order();
    sweep(p, rec, start, |k, v| {
        let inside = match end {
            Bound::Included(e) => !order.less(e, k),
            Bound::Excluded(e) => order.less(k, e),
            Bound::Unbounded => true,
        };
        Ok(if inside {
            each(k, v);
            Verdict::Remove
        } else {
            Verdict::Stop
        })
    })
}
