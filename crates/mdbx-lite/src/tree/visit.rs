//! Every page a tree holds, for whole-state bookkeeping (restoring a persistent
//! savepoint, checking what one holds): node pages, the nested trees of dup-sort keys
//! and overflow runs, read through any [`PageSource`].
//!
//! Bounded like every descent: at most `MAX_DEPTH` levels, pages decoded with bounds
//! checks; a damaged tree ends the visit with `Error::Corrupted`. The caller may prune a
//! subtree (`enter` returns false), which is how a visit skips what it already knows.

use crate::error::{Corruption, Error, Result};
use crate::format::meta::TableRecord;
use crate::format::page::{self, LeafValue, MAX_DEPTH};
use crate::storage::snapshot::overflow_run;
use crate::tree::btree::node_at;
use crate::tree::pages::PageSource;

/// A page (or run of pages) of a tree, with the transaction that wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TreePages {
    /// The first page.
    pub pgno: u64,
    /// Pages from `pgno` on: 1 for a node page, the run's length for an overflow run.
    pub count: u64,
    /// The transaction id in the (first) page's header.
    pub birth: u64,
}

/// Visit the pages of the tree `rec`, each node page before its children. `enter(pgno)`
/// is asked before a node page or a run is read; false skips it and everything below
/// it. `found` hears of each page (or run) entered.
pub(crate) fn visit_tree<S: PageSource + ?Sized>(
    src: &S,
    rec: &TableRecord,
    enter: &mut dyn FnMut(u64) -> bool,
    found: &mut dyn FnMut(TreePages),
) -> Result<()> {
    if rec.root == 0 {
        return Ok(());
    }
    visit_node(src, rec.root, rec.depth as usize, true, enter, found)
}

/// The subtree at `pg`, `levels` deep; `outer` when its leaves may hold nested trees (a
/// nested tree holds none: one there is damage, never followed).
fn visit_node<S: PageSource + ?Sized>(
    src: &S,
    pg: u64,
    levels: usize,
    outer: bool,
    enter: &mut dyn FnMut(u64) -> bool,
    found: &mut dyn FnMut(TreePages),
) -> Result<()> {
    if levels == 0 || levels > MAX_DEPTH {
        return Err(Error::corrupted(
            Corruption::Shape,
            pg,
            "tree deeper than its record says",
        ));
    }
    if !enter(pg) {
        return Ok(());
    }
    let leaf = levels == 1;
    let node = node_at(src, pg, leaf)?;
    found(TreePages {
        pgno: pg,
        count: 1,
        birth: page::header_txnid(src.page(pg)?),
    });
    for i in 0..node.count() {
        if !leaf {
            visit_node(src, node.child(i)?, levels - 1, outer, enter, found)?;
            continue;
        }
        match node.leaf_value(i)? {
            LeafValue::Overflow { pgno, len } if enter(pgno) => {
                let head = src.page(pgno)?;
                let count = overflow_run(head, pgno, len, head.len())?;
                found(TreePages {
                    pgno,
                    count,
                    birth: page::header_txnid(head),
                });
            }
            LeafValue::Nested(b) if outer => {
                let n = TableRecord::decode(b, pg)?;
                if n.root != 0 {
                    visit_node(src, n.root, n.depth as usize, false, enter, found)?;
                }
            }
            LeafValue::Nested(_) => {
                return Err(Error::corrupted(
                    Corruption::Layout,
                    pg,
                    "a nested tree inside a nested tree",
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Visit every data tree of a state: the main table `main`, the catalog `catalog` and
/// each table the catalog records (as [`visit_tree`]).
pub(crate) fn visit_state<S: PageSource + ?Sized>(
    src: &S,
    main: &TableRecord,
    catalog: &TableRecord,
    enter: &mut dyn FnMut(u64) -> bool,
    found: &mut dyn FnMut(TreePages),
) -> Result<()> {
    visit_tree(src, main, enter, found)?;
    visit_tree(src, catalog, enter, found)?;
    let mut cur = crate::tree::cursor::RawCursor::new(src, *catalog);
    let mut item = cur.first()?;
    while let Some((_, v)) = item {
        let rec = TableRecord::decode(v, cur.leaf_pgno())?;
        visit_tree(src, &rec, enter, found)?;
        item = cur.next()?;
    }
    Ok(())
}
