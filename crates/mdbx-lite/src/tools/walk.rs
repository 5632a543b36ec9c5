//! The one page walker behind the checker (`check`) and the page inspector (`inspect`):
//! the descent over every tree of a snapshot, page by page.
//!
//! A [`Walker`] follows the free tree (down to the pages it lists), the catalog (down to
//! the tree of every named table it records, walked as soon as its record is met), the
//! main table, and the overflow runs hanging off the leaves of all of them. It claims
//! each page at most once, refuses page numbers outside `[2, high_water)`, and follows at
//! most `MAX_DEPTH` levels, so a hostile file (a cycle, a page linked twice, a wild page
//! number, an absurd depth) can neither hang it nor make it read out of bounds. What it
//! cannot follow it reports to its visitor as a [`Fault`], and walks on around it.
//!
//! The walk itself decides nothing about the data. What to do with the pages it visits
//! belongs to the [`Visitor`]: the checker judges them, the inspector records their roles
//! and owners. A visitor can also stop the walk from entering a page's entries
//! ([`Visitor::node`]) or from going on with a page ([`Visitor::entry`]).

use std::fmt;

use crate::error::{Corruption, Error, Result};
use crate::format::free::parse_free_value;
use crate::format::meta::{Meta, TableRecord, FIRST_PAGE};
use crate::format::order::Comparator;
use crate::format::page::{LeafValue, Node, MAX_DEPTH};
use crate::storage::snapshot::{overflow_run, MappedPages};

/// What the leaf values of a tree hold, and so where the walk goes from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeKind {
    /// The main table or a named table: user keys and values.
    User,
    /// The nested tree of one key's values in a dup-sort table (`name` is the
    /// table's): values as keys, each with an empty value. Its pages count in the
    /// table's record too.
    Values,
    /// The catalog: table name -> table record; the walk descends into each table.
    Catalog,
    /// The free tree: (txn id, chunk) -> pages freed; the walk claims each page listed.
    Free,
    /// The savepoint tree: savepoint name -> the state it names. The walk claims its
    /// own pages only (a savepoint's state is checked apart, `check`).
    Savepoints,
}

/// How a leaf value other than plain bytes is stored, for error messages.
fn value_form(value: &LeafValue<'_>) -> &'static str {
    match value {
        LeafValue::Inline(_) => "plain bytes",
        LeafValue::Overflow { .. } => "an overflow run",
        LeafValue::Dups(_) => "a dup block",
        LeafValue::Nested(_) => "a nested tree",
    }
}

/// One tree being walked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tree<'n> {
    /// What its leaf values hold.
    pub kind: TreeKind,
    /// The name of a named table; `None` for the main table, the catalog and the free
    /// tree.
    pub name: Option<&'n str>,
    /// Root, depth and counters, as the meta or the catalog records them.
    pub record: TableRecord,
    /// How many trees the walker entered before this one (0, 1, 2, ... in the order of
    /// [`Visitor::enter_tree`]): an index for per-tree state.
    pub serial: usize,
}

impl fmt::Display for Tree<'_> {
    /// The name problems are reported under: `free tree`, `catalog`, `main table`,
    /// `table "name"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.name) {
            (TreeKind::Free, _) => f.write_str("free tree"),
            (TreeKind::Catalog, _) => f.write_str("catalog"),
            (TreeKind::Savepoints, _) => f.write_str("savepoint tree"),
            (TreeKind::User, None) => f.write_str("main table"),
            (TreeKind::User, Some(name)) => write!(f, "table {name:?}"),
            (TreeKind::Values, None) => f.write_str("nested values in the main table"),
            (TreeKind::Values, Some(name)) => write!(f, "nested values in table {name:?}"),
        }
    }
}

/// Where in its tree a node page lies.
pub(crate) struct At<'a, 't> {
    /// The tree.
    pub tree: &'t Tree<'t>,
    /// Levels below the root (0 for the root).
    pub level: usize,
    /// The depth the tree's record states (1 to `MAX_DEPTH`).
    pub depth: usize,
    /// The separators of its ancestors: its keys should be `>= lo` and `< hi`.
    pub lo: Option<&'a [u8]>,
    /// See `lo`.
    pub hi: Option<&'a [u8]>,
    /// The transaction id of the page pointing here (the meta's for a root).
    pub parent_txn: u64,
}

/// Why the walk claimed a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A tree links it as a branch or leaf page. It is decoded next; the visitor hears
    /// of it again through [`Visitor::node`] if it decodes, [`Visitor::fault`] if not.
    Node,
    /// Page `index` (0 is the head) of the overflow run starting at `run`, which holds a
    /// value of `len` bytes.
    Overflow {
        /// First page of the run.
        run: u64,
        /// Position of the page in the run.
        index: u64,
        /// Bytes of the value the run holds.
        len: usize,
    },
    /// The free tree lists it.
    Free,
}

/// Something the walk could not follow; it walks on around it.
#[derive(Debug)]
pub(crate) struct Fault<'a> {
    /// What kind of obstacle it is.
    pub kind: FaultKind<'a>,
    /// What is wrong, naming the page (`Error::Corrupted`): the checker's problem text.
    pub error: Error,
}

/// The kinds of [`Fault`].
#[derive(Debug)]
pub(crate) enum FaultKind<'a> {
    /// A page number that cannot be claimed (outside `[2, high_water)`, or claimed
    /// already: linked twice, a cycle, free and used). It is not followed.
    Refused,
    /// Claimed page `pgno` does not decode as the branch or leaf page its tree expects
    /// at `level`; `bytes` is the page.
    BadNode {
        /// The page.
        pgno: u64,
        /// Where the tree links it.
        level: usize,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// The first page of overflow run `run` is not the head of the run its leaf entry
    /// names; none of the run is claimed.
    BadOverflow {
        /// The page the leaf entry names.
        run: u64,
    },
    /// Anything else: a page beyond the end of the file, a table record that does not
    /// decode, a tree record with an impossible depth, a catalog record or free-tree
    /// chunk stored in an overflow run.
    Other,
}

impl<'a> Fault<'a> {
    fn new(kind: FaultKind<'a>, error: Error) -> Fault<'a> {
        Fault { kind, error }
    }
    fn other(error: Error) -> Fault<'a> {
        Fault::new(FaultKind::Other, error)
    }
    fn refused(kind: Corruption, page: u64, what: String) -> Fault<'a> {
        Fault::new(FaultKind::Refused, Error::corrupted(kind, page, what))
    }
}

/// An overflow run the walk has claimed whole.
pub(crate) struct Run<'a> {
    /// Its first page.
    pub pgno: u64,
    /// Its length in pages.
    pub pages: u64,
    /// Its first page's bytes (with the header).
    pub head: &'a [u8],
    /// The transaction id of the leaf page pointing to it.
    pub leaf_txn: u64,
}

/// A free-tree leaf entry, before the walk claims the pages it lists.
pub(crate) struct FreeChunk<'a> {
    /// The leaf page holding it.
    pub page: u64,
    /// Its index on that page.
    pub index: usize,
    /// Its key: the freeing transaction's id and the chunk number (empty if the slot
    /// does not decode).
    pub key: &'a [u8],
    /// Its value (the pages freed, each with the transaction that allocated it), or why
    /// it cannot be read.
    pub value: Result<&'a [u8]>,
}

/// What a walk found in one tree, to compare with the tree's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Leaf entries visited.
    pub entries: u64,
    /// Branch pages decoded at their level.
    pub branch: u64,
    /// Leaf pages decoded at their level.
    pub leaf: u64,
    /// Pages of overflow runs claimed whole.
    pub overflow: u64,
}

/// What a walk does with the pages it visits. Every method has a default that does
/// nothing (and lets the walk go everywhere), so a visitor implements what it needs.
///
/// Per tree, the calls come in this order: `enter_tree`; then depth first, for each
/// page: `claimed`, `page`, `node` (or a `fault`), and for each of its entries `entry`,
/// followed by the overflow run (`claimed` for each page, `overflow`), table tree or
/// free chunk (`free_chunk`, `claimed` for each page) it leads to, or the child's
/// subtree; finally `leave_tree`.
pub(crate) trait Visitor<'a> {
    /// Whether the walk reads and claims overflow runs (a visitor that only looks at
    /// nodes spares their head pages the reads).
    const OVERFLOW: bool = true;

    /// The walk enters `tree` (every tree, also an empty one or one whose record is
    /// refused).
    fn enter_tree(&mut self, _tree: &Tree<'_>) {}

    /// The walk leaves `tree`; `found` is what it counted there, `None` when the tree
    /// was not walked (it is empty, or its depth is impossible).
    fn leave_tree(&mut self, _tree: &Tree<'_>, _found: Option<&Tally>) {}

    /// The walk claimed page `pgno` for `claim`, in `tree`; no walk claims it again.
    fn claimed(&mut self, _pgno: u64, _claim: Claim, _tree: &Tree<'_>) {}

    /// The walk could not follow something in `tree`.
    fn fault(&mut self, _fault: Fault<'a>, _tree: &Tree<'_>) {}

    /// The bytes of a page claimed as [`Claim::Node`], before they are decoded.
    fn page(&mut self, _pgno: u64, _bytes: &'a [u8], _at: &At<'a, '_>) {}

    /// A branch or leaf page at the level its tree expects it. Return false to keep
    /// the walk out of its entries.
    fn node(&mut self, _node: &Node<'a>, _at: &At<'a, '_>) -> bool {
        true
    }

    /// Entry `i` of `node`, with its key as decoded. Return false to stop the walk of
    /// this page here (the entry's child, overflow run, table or free pages and the
    /// later entries are not followed). A child, or a leaf value, that does not decode
    /// is passed over without a fault: judging entries is the visitor's.
    fn entry(
        &mut self,
        _node: &Node<'a>,
        _i: usize,
        _key: Result<&'a [u8]>,
        _at: &At<'a, '_>,
    ) -> bool {
        true
    }

    /// An overflow run claimed whole, in `tree`.
    fn overflow(&mut self, _run: &Run<'a>, _tree: &Tree<'_>) {}

    /// A free-tree entry. Return false to leave the pages it lists unclaimed; they are
    /// claimed only when its value decodes.
    fn free_chunk(&mut self, _chunk: &FreeChunk<'a>) -> bool {
        true
    }
}

/// Whether a page has been claimed, and as what.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Not claimed (yet).
    Unseen,
    /// A meta page, or claimed by a tree (node or overflow page).
    Used,
    /// Listed in the free tree.
    Free,
}

/// Walks the trees of one snapshot, claiming every page it reaches at most once.
pub(crate) struct Walker<'a> {
    pages: &'a MappedPages,
    /// The snapshot: its trees, high-water mark and transaction id.
    meta: Meta,
    /// One per page below the high-water mark.
    marks: Vec<Mark>,
    /// Trees entered so far (the next tree's serial).
    trees: usize,
    /// User comparators to bind to the custom-order tables the catalog names (by the
    /// comparator name it records); a table whose comparator is not here is walked with
    /// an unknown order.
    comparators: &'a [Comparator],
}

impl<'a> Walker<'a> {
    /// A walker over the snapshot `meta` describes, read through `pages`. The two meta
    /// pages count as claimed.
    pub(crate) fn new(pages: &'a MappedPages, meta: &Meta) -> Walker<'a> {
        let mut marks = vec![Mark::Unseen; meta.high_water as usize];
        for m in marks.iter_mut().take(FIRST_PAGE as usize) {
            *m = Mark::Used;
        }
        Walker {
            pages,
            meta: *meta,
            marks,
            trees: 0,
            comparators: &[],
        }
    }

    /// The same walker, binding `comparators` to the custom-order tables it meets.
    pub(crate) fn with_comparators(mut self, comparators: &'a [Comparator]) -> Walker<'a> {
        self.comparators = comparators;
        self
    }

    /// Walk every tree of the snapshot: the free tree first (so a page both free and
    /// used is reported where it is used), then the savepoint tree, the catalog, each
    /// named table as the catalog lists it, and the main table.
    pub(crate) fn walk_snapshot<V: Visitor<'a>>(&mut self, v: &mut V) {
        let meta = self.meta;
        self.walk_tree(TreeKind::Free, None, meta.free, v);
        self.walk_tree(TreeKind::Savepoints, None, meta.savepoints, v);
        self.walk_tree(TreeKind::Catalog, None, meta.catalog, v);
        self.walk_tree(TreeKind::User, None, meta.main, v);
    }

    /// Walk one tree of kind `kind` whose record is `record` (`name` for a named table).
    /// Returns what it counted (None when the tree was not walked).
    pub(crate) fn walk_tree<V: Visitor<'a>>(
        &mut self,
        kind: TreeKind,
        name: Option<&str>,
        record: TableRecord,
        v: &mut V,
    ) -> Option<Tally> {
        let tree = Tree {
            kind,
            name,
            record,
            serial: self.trees,
        };
        self.trees += 1;
        v.enter_tree(&tree);
        if record.root == 0 {
            v.leave_tree(&tree, None);
            return None;
        }
        let depth = record.depth as usize;
        if depth == 0 || depth > MAX_DEPTH {
            let what = format!("{tree}: invalid depth {depth}");
            v.fault(
                Fault::other(Error::corrupted(Corruption::Meta, record.root, what)),
                &tree,
            );
            v.leave_tree(&tree, None);
            return None;
        }
        let mut tally = Tally::default();
        let at = At {
            tree: &tree,
            level: 0,
            depth,
            lo: None,
            hi: None,
            parent_txn: self.meta.txnid,
        };
        self.walk_node(record.root, at, &mut tally, v);
        v.leave_tree(&tree, Some(&tally));
        Some(tally)
    }

    /// Whether a tree of the walk claimed page `p` (a meta counts).
    pub(crate) fn is_used(&self, p: u64) -> bool {
        self.marks.get(p as usize) == Some(&Mark::Used)
    }

    /// Pages in `[2, high_water)` that no walk has claimed: neither reachable nor free.
    pub(crate) fn unclaimed(&self) -> impl Iterator<Item = u64> + '_ {
        self.marks
            .iter()
            .enumerate()
            .skip(FIRST_PAGE as usize)
            .filter(|(_, m)| **m == Mark::Unseen)
            .map(|(p, _)| p as u64)
    }

    /// Claim `pgno` for a tree, or tell the visitor why not.
    fn claim<V: Visitor<'a>>(
        &mut self,
        pgno: u64,
        claim: Claim,
        tree: &Tree<'_>,
        v: &mut V,
    ) -> bool {
        let what = || match claim {
            Claim::Overflow { run, .. } => format!("{tree} overflow run {run}"),
            _ => tree.to_string(),
        };
        let hw = self.meta.high_water;
        if pgno < FIRST_PAGE || pgno >= hw {
            let msg = format!("{} points outside the allocated range [2, {hw})", what());
            v.fault(Fault::refused(Corruption::Bounds, pgno, msg), tree);
            return false;
        }
        let (kind, msg) = match self.marks[pgno as usize] {
            Mark::Unseen => {
                self.marks[pgno as usize] = Mark::Used;
                v.claimed(pgno, claim, tree);
                return true;
            }
            Mark::Used => (
                Corruption::Shape,
                format!("page reachable twice (again from {})", what()),
            ),
            Mark::Free => (
                Corruption::FreeSpace,
                format!("page is both free and used by {}", what()),
            ),
        };
        v.fault(Fault::refused(kind, pgno, msg), tree);
        false
    }

    /// Claim page `p` as free (listed on free-tree page `chunk_page`), or tell the
    /// visitor why not.
    fn claim_free<V: Visitor<'a>>(&mut self, p: u64, chunk_page: u64, tree: &Tree<'_>, v: &mut V) {
        let hw = self.meta.high_water;
        let fault = if p < FIRST_PAGE || p >= hw {
            let msg = format!("free list names page {p}, outside [2, {hw})");
            Fault::refused(Corruption::FreeSpace, chunk_page, msg)
        } else {
            match self.marks[p as usize] {
                Mark::Unseen => {
                    self.marks[p as usize] = Mark::Free;
                    return v.claimed(p, Claim::Free, tree);
                }
                Mark::Free => {
                    Fault::refused(Corruption::FreeSpace, p, "page listed free twice".into())
                }
                Mark::Used => Fault::refused(
                    Corruption::FreeSpace,
                    p,
                    "page is both free and in use".into(),
                ),
            }
        };
        v.fault(fault, tree);
    }

    /// Claim, decode and descend into node page `pgno`, linked at `at`.
    fn walk_node<V: Visitor<'a>>(
        &mut self,
        pgno: u64,
        at: At<'a, '_>,
        tally: &mut Tally,
        v: &mut V,
    ) {
        if !self.claim(pgno, Claim::Node, at.tree, v) {
            return;
        }
        let pages = self.pages;
        let bytes = match pages.raw(pgno) {
            Ok(b) => b,
            Err(e) => return v.fault(Fault::other(e), at.tree),
        };
        v.page(pgno, bytes, &at);
        let leaf = at.level + 1 == at.depth;
        let bad = |error| {
            let kind = FaultKind::BadNode {
                pgno,
                level: at.level,
                bytes,
            };
            Fault::new(kind, error)
        };
        let node = match Node::new(bytes, pgno) {
            Ok(n) if n.is_leaf() == leaf => n,
            Ok(n) => {
                let what = format!(
                    "{}: {} page at level {} of a tree of depth {}",
                    at.tree,
                    if n.is_leaf() { "leaf" } else { "branch" },
                    at.level,
                    at.depth
                );
                return v.fault(
                    bad(Error::corrupted(Corruption::Shape, pgno, what)),
                    at.tree,
                );
            }
            Err(e) => return v.fault(bad(e), at.tree),
        };
        if leaf {
            tally.leaf += 1;
        } else {
            tally.branch += 1;
        }
        if !v.node(&node, &at) {
            return;
        }
        let count = node.count();
        for i in 0..count {
            let key = node.key(i);
            let k = key.as_ref().ok().copied();
            if !v.entry(&node, i, key, &at) {
                return;
            }
            if leaf {
                tally.entries += 1;
                if let Ok(value) = node.leaf_value(i) {
                    self.walk_value(&node, i, k, value, at.tree, tally, v);
                }
            } else if let Ok(child) = node.child(i) {
                let next = if i + 1 < count {
                    node.key(i + 1).ok()
                } else {
                    None
                };
                let below = At {
                    tree: at.tree,
                    level: at.level + 1,
                    depth: at.depth,
                    lo: if i == 0 { at.lo } else { k },
                    hi: next.or(at.hi),
                    parent_txn: node.txnid(),
                };
                self.walk_node(child, below, tally, v);
            }
        }
    }

    /// Follow leaf entry `i` of `node` (key `key`, value `value`) where it leads: its
    /// overflow run, the table a catalog record describes, the pages a free chunk lists.
    #[allow(clippy::too_many_arguments)]
    fn walk_value<V: Visitor<'a>>(
        &mut self,
        node: &Node<'a>,
        i: usize,
        key: Option<&'a [u8]>,
        value: LeafValue<'a>,
        tree: &Tree<'_>,
        tally: &mut Tally,
        v: &mut V,
    ) {
        let pgno = node.pgno;
        if let LeafValue::Overflow { pgno: run, len } = value {
            if V::OVERFLOW {
                self.walk_overflow(run, len, node.txnid(), tree, tally, v);
            }
        }
        let inline_only = |what: &str| {
            Error::corrupted(
                Corruption::Meta,
                pgno,
                format!("{what} stored as {}", value_form(&value)),
            )
        };
        match tree.kind {
            TreeKind::User => {
                if let LeafValue::Nested(b) = value {
                    match tree.record.decode_nested(b, pgno) {
                        Ok(record) => {
                            if let Some(found) =
                                self.walk_tree(TreeKind::Values, tree.name, record, v)
                            {
                                tally.branch += found.branch;
                                tally.leaf += found.leaf;
                            }
                        }
                        Err(e) => v.fault(Fault::other(e), tree),
                    }
                }
            }
            TreeKind::Values | TreeKind::Savepoints => {}
            TreeKind::Catalog => {
                let Some(key) = key else {
                    return;
                };
                let record = match value {
                    LeafValue::Inline(b) => TableRecord::decode(b, pgno),
                    _ => Err(inline_only("catalog record")),
                };
                match record {
                    Ok(mut record) => {
                        if let LeafValue::Inline(b) = value {
                            let (keys, values) = TableRecord::catalog_comparator_names(b);
                            let find = |wanted: &[u8]| {
                                self.comparators
                                    .iter()
                                    .find(|c| !wanted.is_empty() && c.name().as_bytes() == wanted)
                                    .copied()
                            };
                            record.compare = find(keys);
                            record.dup_compare = find(values);
                        }
                        let name = String::from_utf8_lossy(key);
                        self.walk_tree(TreeKind::User, Some(&*name), record, v);
                    }
                    Err(e) => v.fault(Fault::other(e), tree),
                }
            }
            TreeKind::Free => {
                let value = match value {
                    LeafValue::Inline(b) => Ok(b),
                    _ => Err(inline_only("free-tree chunk")),
                };
                let chunk = FreeChunk {
                    page: pgno,
                    index: i,
                    key: key.unwrap_or_default(),
                    value,
                };
                if !v.free_chunk(&chunk) {
                    return;
                }
                let Ok(Ok(list)) = chunk.value.map(|b| parse_free_value(b, pgno)) else {
                    return;
                };
                for p in list {
                    self.claim_free(p, pgno, tree, v);
                }
            }
        }
    }

    /// Claim the overflow run starting at `run` that holds a value of `len` bytes,
    /// pointed to by a leaf written by transaction `leaf_txn`.
    fn walk_overflow<V: Visitor<'a>>(
        &mut self,
        run: u64,
        len: usize,
        leaf_txn: u64,
        tree: &Tree<'_>,
        tally: &mut Tally,
        v: &mut V,
    ) {
        let pages = self.pages;
        let head = match pages.raw(run) {
            Ok(h) => h,
            Err(e) => return v.fault(Fault::other(e), tree),
        };
        let n = match overflow_run(head, run, len, pages.page_size) {
            Ok(n) => n,
            Err(e) => return v.fault(Fault::new(FaultKind::BadOverflow { run }, e), tree),
        };
        for index in 0..n {
            if !self.claim(run + index, Claim::Overflow { run, index, len }, tree, v) {
                return;
            }
        }
        tally.overflow += n;
        let whole = Run {
            pgno: run,
            pages: n,
            head,
            leaf_txn,
        };
        v.overflow(&whole, tree);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::format::page::{self, Item, PageKind};
    use crate::os::map::{Mapping, ReadAhead};
    use crate::Env;

    /// Writes down everything a walk tells it.
    #[derive(Default)]
    struct Record {
        /// Page -> how many times it was claimed, and the last claim.
        claims: BTreeMap<u64, (usize, Claim)>,
        trees: Vec<String>,
        nodes: Vec<(u64, usize)>,
        faults: Vec<String>,
        runs: u64,
        /// What `leave_tree` was told, by tree.
        tallies: Vec<(String, Option<Tally>)>,
    }

    impl Record {
        fn count(&self, what: impl Fn(&Claim) -> bool) -> usize {
            self.claims.values().filter(|(_, c)| what(c)).count()
        }
    }

    impl<'a> Visitor<'a> for Record {
        fn enter_tree(&mut self, tree: &Tree<'_>) {
            assert_eq!(tree.serial, self.trees.len());
            self.trees.push(tree.to_string());
        }
        fn leave_tree(&mut self, tree: &Tree<'_>, found: Option<&Tally>) {
            self.tallies.push((tree.to_string(), found.copied()));
        }
        fn claimed(&mut self, pgno: u64, claim: Claim, _tree: &Tree<'_>) {
            let e = self.claims.entry(pgno).or_insert((0, claim));
            *e = (e.0 + 1, claim);
        }
        fn fault(&mut self, fault: Fault<'a>, _tree: &Tree<'_>) {
            self.faults.push(fault.error.to_string());
        }
        fn node(&mut self, node: &Node<'a>, at: &At<'a, '_>) -> bool {
            self.nodes.push((node.pgno, at.level));
            true
        }
        fn overflow(&mut self, _run: &Run<'a>, _tree: &Tree<'_>) {
            self.runs += 1;
        }
    }

    #[test]
    fn visits_every_page_of_a_built_database_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::open(dir.path().join("db")).unwrap();
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in 0..3_000u32 {
                t.put(&i.to_be_bytes(), &[i as u8; 100]).unwrap();
            }
            for i in 0..5u32 {
                t.put(format!("big{i}").as_bytes(), &vec![i as u8; 10_000])
                    .unwrap();
            }
        }
        for name in ["b", "a"] {
            let mut t = w.create_table(name).unwrap();
            for i in 0..500u32 {
                t.put(&i.to_be_bytes(), name.as_bytes()).unwrap();
            }
        }
        w.commit().unwrap();
        // Freed pages go to the free tree.
        let mut w = env.begin_write().unwrap();
        {
            let mut t = w.main_table();
            for i in (0..3_000u32).step_by(2) {
                t.delete(&i.to_be_bytes()).unwrap();
            }
            t.delete(b"big0").unwrap();
        }
        w.commit().unwrap();

        let r = env.begin_read().unwrap();
        let snap = r.snapshot();
        let mut rec = Record::default();
        let mut walker = Walker::new(&snap.pages, &snap.meta);
        walker.walk_snapshot(&mut rec);
        assert!(rec.faults.is_empty(), "{:?}", rec.faults);
        assert_eq!(
            rec.trees,
            [
                "free tree",
                "savepoint tree",
                "catalog",
                "table \"a\"",
                "table \"b\"",
                "main table"
            ]
        );
        // Every page but the metas claimed, each once.
        assert!(rec.claims.values().all(|(n, _)| *n == 1));
        assert_eq!(walker.unclaimed().count(), 0);
        let hw = snap.meta.high_water;
        assert_eq!(
            rec.claims.keys().copied().collect::<Vec<_>>(),
            (2..hw).collect::<Vec<_>>()
        );
        assert!(rec.count(|c| *c == Claim::Free) > 0);
        assert_eq!(rec.runs, 4);
        let overflow = rec.count(|c| matches!(c, Claim::Overflow { .. }));
        assert_eq!(
            overflow as u64,
            4 * page::overflow_pages_needed(10_000, 4096)
        );
        // What the walk counted is what the records say.
        let main = snap.meta.main;
        let (_, found) = rec.tallies.iter().find(|t| t.0 == "main table").unwrap();
        let found = found.unwrap();
        assert_eq!(
            (found.entries, found.branch, found.leaf, found.overflow),
            (
                main.entries,
                main.branch_pages,
                main.leaf_pages,
                main.overflow_pages
            )
        );
        // Each node decoded at a level below its tree's depth, once.
        let mut nodes = rec.nodes.clone();
        nodes.sort_unstable();
        nodes.dedup_by_key(|n| n.0);
        assert_eq!(nodes.len(), rec.nodes.len());
        assert!(rec.nodes.iter().all(|&(_, level)| level < MAX_DEPTH));
        // The checker, on the same walk, agrees.
        assert!(env.check().unwrap().is_ok());
    }

    const PS: usize = 4096;

    /// A leaf page `pgno` holding keys `0..n`.
    fn leaf(pgno: u64, n: u64) -> Vec<u8> {
        let mut p = vec![0u8; PS];
        let keys: Vec<[u8; 8]> = (0..n).map(u64::to_be_bytes).collect();
        let body = [0u8, 1, 0, 0, 0, b'v'];
        let items: Vec<Item<'_>> = keys
            .iter()
            .map(|k| Item {
                key: k,
                body: &body,
            })
            .collect();
        page::build(&mut p, PageKind::Leaf, pgno, 1, &items, 0).unwrap();
        p
    }

    /// A branch page `pgno` pointing to `children` (separators 1, 2, ...).
    fn branch(pgno: u64, children: &[u64]) -> Vec<u8> {
        let mut p = vec![0u8; PS];
        let keys: Vec<[u8; 8]> = (0..children.len() as u64).map(u64::to_be_bytes).collect();
        let bodies: Vec<[u8; 8]> = children.iter().map(|c| c.to_le_bytes()).collect();
        let items: Vec<Item<'_>> = (0..children.len())
            .map(|i| Item {
                key: if i == 0 { &[] } else { &keys[i] },
                body: &bodies[i],
            })
            .collect();
        page::build(&mut p, PageKind::Branch, pgno, 1, &items, 0).unwrap();
        p
    }

    /// The pages `2..` of a file (its metas left zero), mapped, and a meta naming them.
    fn mapped(pages: &[Vec<u8>]) -> (MappedPages, Meta) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![0u8; 2 * PS]).unwrap();
        for p in pages {
            file.write_all(p).unwrap();
        }
        let hw = 2 + pages.len() as u64;
        let map = Mapping::new(&file, hw as usize * PS, ReadAhead::Random).unwrap();
        let mut meta = Meta::empty(1, PS as u32, 16);
        meta.high_water = hw;
        let pages = MappedPages {
            map: Arc::new(map),
            page_size: PS,
            high_water: hw,
            verify: false,
        };
        (pages, meta)
    }

    fn walk(pages: &MappedPages, meta: &Meta, root: u64, depth: u32) -> (Record, Vec<u64>) {
        let record = TableRecord {
            root,
            depth,
            ..TableRecord::default()
        };
        let mut rec = Record::default();
        let mut walker = Walker::new(pages, meta);
        walker.walk_tree(TreeKind::User, None, record, &mut rec);
        (rec, walker.unclaimed().collect())
    }

    #[test]
    fn a_cycle_is_refused_not_followed() {
        // Page 2 is a branch whose second child is itself.
        let (pages, meta) = mapped(&[branch(2, &[3, 2]), leaf(3, 4)]);
        let (rec, unclaimed) = walk(&pages, &meta, 2, 2);
        assert_eq!(rec.nodes, [(2, 0), (3, 1)]);
        assert_eq!(
            rec.faults,
            ["corrupted page 2 (tree shape): page reachable twice (again from main table)"]
        );
        assert!(unclaimed.is_empty());
        // Also when the record allows the loop to go as deep as a tree may.
        let (pages, meta) = mapped(&[branch(2, &[2])]);
        let (rec, _) = walk(&pages, &meta, 2, MAX_DEPTH as u32);
        assert_eq!(rec.nodes, [(2, 0)]);
        assert_eq!(rec.faults.len(), 1, "{:?}", rec.faults);
        assert!(
            rec.faults[0].contains("reachable twice"),
            "{:?}",
            rec.faults
        );
    }

    #[test]
    fn a_tree_deeper_than_its_record_or_the_limit_is_an_error() {
        // A chain of 40 branch pages, 2 -> 3 -> ... -> 41, and a leaf at the end.
        let mut chain: Vec<Vec<u8>> = (2..42).map(|p| branch(p, &[p + 1])).collect();
        chain.push(leaf(42, 1));
        let (pages, meta) = mapped(&chain);
        let (rec, unclaimed) = walk(&pages, &meta, 2, MAX_DEPTH as u32);
        assert_eq!(rec.nodes.len(), MAX_DEPTH - 1);
        let last = 2 + MAX_DEPTH as u64 - 1;
        assert_eq!(
            rec.faults,
            [format!(
                "corrupted page {last} (tree shape): main table: branch page at level {} of a tree of \
                 depth {MAX_DEPTH}",
                MAX_DEPTH - 1
            )]
        );
        assert_eq!(unclaimed, (last + 1..43).collect::<Vec<_>>());
        // A record deeper than any tree may be is not followed at all.
        let (rec, unclaimed) = walk(&pages, &meta, 2, MAX_DEPTH as u32 + 1);
        assert!(rec.claims.is_empty());
        assert_eq!(rec.tallies, [("main table".to_string(), None)]);
        assert_eq!(
            rec.faults,
            ["corrupted page 2 (meta): main table: invalid depth 33"]
        );
        assert_eq!(unclaimed.len(), 41);
    }

    #[test]
    fn page_numbers_outside_the_file_are_refused() {
        let (pages, meta) = mapped(&[branch(2, &[3, 1, 999]), leaf(3, 4)]);
        let (rec, _) = walk(&pages, &meta, 2, 2);
        assert_eq!(rec.nodes, [(2, 0), (3, 1)]);
        assert_eq!(
            rec.faults,
            [
                "corrupted page 1 (bounds): main table points outside the allocated range [2, 4)",
                "corrupted page 999 (bounds): main table points outside the allocated range [2, 4)",
            ]
        );
    }

    #[test]
    fn a_visitor_can_prune_the_walk() {
        /// Refuses to go past entry 0 of any page.
        struct FirstOnly(Record);
        impl<'a> Visitor<'a> for FirstOnly {
            fn claimed(&mut self, pgno: u64, claim: Claim, tree: &Tree<'_>) {
                self.0.claimed(pgno, claim, tree);
            }
            fn entry(
                &mut self,
                _: &Node<'a>,
                i: usize,
                _: Result<&'a [u8]>,
                _: &At<'a, '_>,
            ) -> bool {
                i == 0
            }
        }
        let (pages, meta) = mapped(&[branch(2, &[3, 4]), leaf(3, 4), leaf(4, 4)]);
        let mut v = FirstOnly(Record::default());
        let mut walker = Walker::new(&pages, &meta);
        let record = TableRecord {
            root: 2,
            depth: 2,
            ..TableRecord::default()
        };
        walker.walk_tree(TreeKind::User, None, record, &mut v);
        assert_eq!(v.0.claims.keys().copied().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(walker.unclaimed().collect::<Vec<_>>(), [4]);
    }
}
