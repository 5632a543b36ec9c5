//! Restoring a persistent savepoint: making the committed state it names the current
//! one, inside a write transaction that has changed nothing yet.
//!
//! A savepoint keeps every page its state reaches from reuse (its snapshot is
//! protected, like a reader's), so that state is intact: each of its pages is either
//! still reached by the current state or listed in the free tree, freed after it.
//! Restoring swaps the trees and settles the free space: the pages only the current
//! state reaches are freed by this transaction (with their births, so snapshots that
//! see them keep them), and the pages only the savepoint's state reaches leave the free
//! tree (`Reclaimer::restore_live`).
//!
//! Cost: a visit of every page of the savepoint's state, and of the current state's
//! pages down to the subtrees the two share (a shared page's subtree is shared whole:
//! pages are never changed in place, and none the savepoint sees is reused).

use std::cell::RefCell;

use crate::error::{Corruption, Error, Result};
use crate::format::meta::TableRecord;
use crate::format::savepoint::SavedState;
use crate::tree::visit::visit_state;
use crate::txn::write_pages::WritePages;

/// One bit per page below a high-water mark.
struct PageSet {
    bits: Vec<u64>,
}

impl PageSet {
    fn new(pages: u64) -> PageSet {
        PageSet {
            bits: vec![0; pages.div_ceil(64) as usize],
        }
    }

    fn contains(&self, p: u64) -> bool {
        self.bits
            .get((p / 64) as usize)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }

    /// Add `p`; false if it was there already.
    fn insert(&mut self, p: u64) -> bool {
        let Some(w) = self.bits.get_mut((p / 64) as usize) else {
            return false;
        };
        let had = *w & (1 << (p % 64)) != 0;
        *w |= 1 << (p % 64);
        !had
    }
}

/// Free the pages of the state (`main`, `catalog`) the transaction holds now that
/// `saved` does not reach, and take the pages `saved` reaches out of the free tree; the
/// caller then makes `saved`'s trees the transaction's.
pub(crate) fn restore_state(
    pages: &mut WritePages,
    main: &TableRecord,
    catalog: &TableRecord,
    saved: &SavedState,
) -> Result<()> {
    let high_water = pages.pager.space.committed_high_water();
    // (pages the saved state reaches, a page reached twice or out of range)
    let seen = RefCell::new((PageSet::new(high_water), None::<u64>));
    let claim = |p: u64| {
        let (set, bad) = &mut *seen.borrow_mut();
        let new = p < high_water && set.insert(p);
        if !new {
            bad.get_or_insert(p);
        }
        new
    };
    visit_state(
        &pages.pager,
        &saved.main,
        &saved.catalog,
        &mut |p| claim(p),
        &mut |run| {
            for p in run.pgno + 1..run.pgno.saturating_add(run.count) {
                if !claim(p) {
                    break;
                }
            }
        },
    )?;
    let (live, bad) = seen.into_inner();
    if let Some(p) = bad {
        return Err(Error::corrupted(
            Corruption::Shape,
            p,
            format!(
                "the state of the savepoint of txn {} reaches this page twice or past the \
                 allocated range",
                saved.txnid
            ),
        ));
    }
    let mut freed = Vec::new();
    visit_state(
        &pages.pager,
        main,
        catalog,
        &mut |p| !live.contains(p),
        &mut |run| freed.push(run),
    )?;
    for run in freed {
        for p in run.pgno..run.pgno.saturating_add(run.count) {
            pages.pager.space.record_freed(p, run.birth);
        }
    }
    pages
        .reclaim
        .restore_live(&mut pages.pager, saved.txnid, &|p| live.contains(p))
}

#[cfg(test)]
mod tests {
    use super::PageSet;

    #[test]
    fn a_page_set_holds_pages_below_its_size_once() {
        let mut s = PageSet::new(130);
        assert!(s.insert(0) && s.insert(64) && s.insert(129));
        assert!(!s.insert(64));
        assert!(s.contains(129) && !s.contains(128));
        assert!(!s.insert(1000) && !s.contains(1000));
    }
}
