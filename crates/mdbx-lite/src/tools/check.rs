//! The consistency checker: walks every tree and the free space of a snapshot and
//! verifies what the format promises (see `docs/format.md`, "Invariants"):
//!
//! - both metas decode (magic, version, checksum, fields, a transaction id of at most
//!   `MAX_TXNID`) and carry different ids; a head at `MAX_TXNID` is reported, as no
//!   commit can follow it;
//! - every page below the high-water mark is reachable exactly once or free exactly once;
//! - page headers: stored number, kind, slot array and entries inside the page, entries
//!   not overlapping, slot prefixes matching keys, checksums;
//! - keys strictly increasing within a page and inside the parent's separator bounds;
//!   all leaves at the recorded depth; entry and page counts equal the table record;
//! - a page's txn id is not newer than its parent's, nor the meta's;
//! - overflow runs inside the file, of the length the value needs, checksummed;
//! - free-tree keys and values well formed, free pages inside `[2, high_water)`.
//!
//! It reports problems instead of stopping at the first, naming the page of each. The
//! descent itself (claiming pages once, bounds, depth, overflow runs, the catalog's
//! tables, the free tree) is the shared walker's (`tools/walk.rs`), which also reports
//! what it cannot follow (a page reached twice, a wild page number, a page of the wrong
//! kind); this module judges each page the walker visits.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::api::persistent::saved_states;
use crate::api::transaction::TableStat;
use crate::error::{Error, Result};
use crate::format::dups::DupBlock;
use crate::format::free::{parse_free_entries, parse_free_key};
use crate::format::meta::{Meta, TableRecord, MAX_TXNID, META_READ_LEN, TABLE_DUPFIXED};
use crate::format::order::{is_integer_size, Comparator, Order};
use crate::format::page::{self, common_prefix, head_at, LeafValue, Node, HEADER, SLOT};
use crate::storage::metas::{check_listed_pages, ListedPages};
use crate::storage::snapshot::{verify_checksum, MappedPages};
use crate::tools::walk::{
    At, Claim, Fault, FreeChunk, Run, Tally, Tree, TreeKind, Visitor, Walker,
};
use crate::tree::btree::max_key_size;
use crate::tree::dups::max_value_size;
use crate::tree::visit::visit_state;
use crate::Env;

/// Stop collecting after this many problems (a shredded file would list every page).
const MAX_PROBLEMS: usize = 10_000;

/// One inconsistency, with the page it was found on when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The page the problem is on (`None` for the file or a record as a whole).
    pub page: Option<u64>,
    /// What is wrong, in words.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page {
            Some(p) => write!(f, "page {p}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// Page counts by role, as found by the walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// The two meta pages.
    pub meta: u64,
    /// Branch pages of the main and named tables.
    pub branch: u64,
    /// Leaf pages of the main and named tables.
    pub leaf: u64,
    /// Pages of overflow runs (values too large for a leaf), in any tree.
    pub overflow: u64,
    /// Pages listed in the free tree.
    pub free: u64,
    /// Pages of the catalog and free trees themselves.
    pub internal: u64,
    /// Pages below the high-water mark that are neither used nor free.
    pub leaked: u64,
}

/// What `check` found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// The problems found, in the order the walk met them (at most 10,000).
    pub problems: Vec<Problem>,
    /// Problems found beyond `problems.len()` (only counted).
    pub more_problems: u64,
    /// The transaction id of the snapshot checked.
    pub txnid: u64,
    /// Bytes per page.
    pub page_size: usize,
    /// First never-allocated page of the snapshot: pages `0..high_water` were checked.
    pub high_water: u64,
    /// Length of the file in bytes.
    pub file_bytes: u64,
    /// Pages by role.
    pub pages: PageCounts,
    /// Bytes of keys and values stored (excluding page overhead).
    pub payload_bytes: u64,
    /// Each table's statistics as its record states them, the main table (`None`)
    /// first, then the named tables in catalog order.
    pub tables: Vec<(Option<String>, TableStat)>,
    /// Tables ordered by a user comparator the check was not given, with its name:
    /// the order of their keys (or of their values, for a dup-sort table whose values
    /// have the comparator) was not verified; everything else of them was.
    pub order_unchecked: Vec<(String, String)>,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The checker's side of the walk: judges every page the [`Walker`] visits.
struct Checker<'a> {
    pages: &'a MappedPages,
    /// The snapshot's catalog (for the names of user comparators).
    catalog: TableRecord,
    report: CheckReport,
    progress: &'a mut dyn FnMut(u64, u64),
    /// Pages claimed by a tree so far, for `progress`.
    visited: u64,
    /// The record of the user table being walked (its nested trees are walked inside
    /// it), and the (key, value) pairs counted in it so far.
    table: TableRecord,
    pairs: u64,
    /// The key size of the integer-ordered tree being walked (by its serial), from its
    /// first leaf key.
    integer_width: Option<(usize, usize)>,
    /// Page -> (birth, group) of every free-tree entry, kept when the snapshot has
    /// persistent savepoints (to check what they hold).
    free_entries: Option<HashMap<u64, (u64, u64)>>,
}

/// The slot head `key` must have on `node`.
fn slot_head(node: &Node<'_>, key: &[u8]) -> u32 {
    if node.has_integer_heads() {
        page::integer_head(key)
    } else {
        head_at(key, node.prefix_len())
    }
}

impl Checker<'_> {
    fn problem(&mut self, page: Option<u64>, message: impl Into<String>) {
        if self.report.problems.len() < MAX_PROBLEMS {
            self.report.problems.push(Problem {
                page,
                message: message.into(),
            });
        } else {
            self.report.more_problems += 1;
        }
    }

    fn error(&mut self, e: &Error) {
        match e {
            Error::Corrupted { page, what, .. } => self.problem(Some(*page), what.clone()),
            other => self.problem(None, other.to_string()),
        }
    }

    /// Every key (but a branch's entry 0) starts with the page prefix; slot heads match
    /// keys; entries lie in the entry area and do not overlap.
    fn check_layout(&mut self, node: &Node<'_>) -> bool {
        let pgno = node.pgno;
        let upper = page::header_upper(node.bytes());
        let prefix = match node.prefix() {
            Ok(p) => p,
            Err(e) => {
                self.error(&e);
                return false;
            }
        };
        let mut spans = Vec::with_capacity(node.count());
        for i in 0..node.count() {
            match node.entry_span(i) {
                Ok((off, len)) => spans.push((off, len, i)),
                Err(e) => {
                    self.error(&e);
                    return false;
                }
            }
            if let Ok(k) = node.key(i) {
                let bound = node.is_leaf() || i > 0;
                if bound && !k.starts_with(prefix) {
                    self.problem(
                        Some(pgno),
                        format!(
                            "entry {i}: key does not start with the page prefix ({} bytes)",
                            node.prefix_len()
                        ),
                    );
                } else if node.slot_head(i) != slot_head(node, k) {
                    self.problem(
                        Some(pgno),
                        format!("entry {i}: slot head does not match its key"),
                    );
                }
            }
        }
        spans.sort_unstable();
        for w in spans.windows(2) {
            if w[0].0 + w[0].1 > w[1].0 {
                self.problem(
                    Some(pgno),
                    format!("entries {} and {} overlap", w[0].2, w[1].2),
                );
                return false;
            }
        }
        if spans.first().is_some_and(|s| s.0 < upper) || HEADER + node.count() * SLOT > upper {
            self.problem(Some(pgno), "entry area overlaps the slot array");
            return false;
        }
        true
    }

    /// A user table's leaf value: plain in a plain table; in a dup-sort table one value,
    /// a valid dup block or a nested tree's record (whose tree the walk checks next), each
    /// value within the size limits. Counts the table's pairs.
    fn check_table_value(&mut self, node: &Node<'_>, i: usize, value: LeafValue<'_>) {
        let pgno = node.pgno;
        let rec = self.table;
        if !rec.is_dupsort() {
            if matches!(value, LeafValue::Dups(_) | LeafValue::Nested(_)) {
                self.problem(
                    Some(pgno),
                    format!("entry {i}: dup-sort values in a plain table"),
                );
            }
            return;
        }
        let max = max_value_size(self.pages.page_size);
        let fixed = rec.fixed_value_size();
        match value {
            LeafValue::Inline(v) => {
                self.pairs = self.pairs.saturating_add(1);
                self.check_dup_value(pgno, i, v.len());
            }
            LeafValue::Dups(b) => {
                match DupBlock::new(b, fixed, rec.dup_order(), pgno).validate(max) {
                    Ok(n) => self.pairs = self.pairs.saturating_add(n as u64),
                    Err(why) => self.problem(Some(pgno), format!("entry {i}: dup block: {why}")),
                }
            }
            LeafValue::Nested(b) => match rec.decode_nested(b, pgno) {
                Ok(n) if n.flags != rec.nested_flags() || n.root == 0 || n.overflow_pages != 0 => {
                    self.problem(
                        Some(pgno),
                        format!(
                            "entry {i}: nested tree record is empty, not of keys only in the \
                             table's value order, or has overflow pages"
                        ),
                    )
                }
                Ok(n) => self.pairs = self.pairs.saturating_add(n.entries),
                Err(e) => self.error(&e),
            },
            LeafValue::Overflow { .. } => self.problem(
                Some(pgno),
                format!("entry {i}: overflow value in a dup-sort table"),
            ),
        }
    }

    /// A nested tree's leaf entry: a value of the table (as the key) with no value.
    fn check_nested_value(&mut self, node: &Node<'_>, i: usize, key: &[u8], value: LeafValue<'_>) {
        if !matches!(value, LeafValue::Inline(v) if v.is_empty()) {
            self.problem(
                Some(node.pgno),
                format!("entry {i}: nested tree entry with a value"),
            );
        }
        self.check_dup_value(node.pgno, i, key.len());
    }

    /// A dup-sort value's size: within the limit, and the table's size if dup-fixed.
    fn check_dup_value(&mut self, pgno: u64, i: usize, len: usize) {
        let max = max_value_size(self.pages.page_size);
        let rec = self.table;
        if len > max {
            self.problem(
                Some(pgno),
                format!("entry {i}: value of {len} bytes (at most {max})"),
            );
        } else if rec.flags & TABLE_DUPFIXED != 0 && len != rec.fixed_value_size() {
            self.problem(
                Some(pgno),
                format!(
                    "entry {i}: value of {len} bytes in a table of {}-byte values",
                    rec.fixed_value_size()
                ),
            );
        } else if rec.dup_order() == Order::Integer && !is_integer_size(len) {
            self.problem(
                Some(pgno),
                format!("entry {i}: integer-dup value of {len} bytes"),
            );
        }
    }

    /// Keys strictly increasing, inside the parent's separators, not too long.
    fn check_key(&mut self, node: &Node<'_>, i: usize, key: &[u8], at: &At<'_, '_>) {
        let pgno = node.pgno;
        if !node.is_leaf() && i == 0 {
            if !key.is_empty() {
                self.problem(Some(pgno), "branch entry 0 has a key");
            }
            return;
        }
        let order = at.tree.record.key_order();
        if order == Order::Integer {
            self.check_integer_key(node, i, key, at);
        }
        if !order.searchable() {
            // A user comparator this process does not have: the order cannot be judged
            // (`order_unchecked` says so), the rest can.
            return self.check_key_length(pgno, i, key);
        }
        // A branch's entry 0 has no key to compare with.
        let first = usize::from(!node.is_leaf());
        if i > first {
            if let Ok(prev) = node.key(i - 1) {
                if !order.less(prev, key) {
                    self.problem(Some(pgno), format!("entry {i}: keys out of order"));
                }
            }
        }
        if at.lo.is_some_and(|lo| order.less(key, lo))
            || at.hi.is_some_and(|hi| !order.less(key, hi))
        {
            self.problem(
                Some(pgno),
                format!("entry {i}: key outside the parent's separator range"),
            );
        }
        self.check_key_length(pgno, i, key);
    }

    /// Every key of an integer-ordered tree is 4 or 8 bytes, and all of one size (the
    /// size of the first leaf key met in the tree).
    fn check_integer_key(&mut self, node: &Node<'_>, i: usize, key: &[u8], at: &At<'_, '_>) {
        if !node.is_leaf() {
            // Separators are whole keys in this order; the leaves are checked.
            return;
        }
        let width = *self
            .integer_width
            .get_or_insert((at.tree.serial, key.len()));
        let width = if width.0 == at.tree.serial {
            width.1
        } else {
            self.integer_width = Some((at.tree.serial, key.len()));
            key.len()
        };
        if !is_integer_size(key.len()) || key.len() != width {
            self.problem(
                Some(node.pgno),
                format!(
                    "entry {i}: integer key of {} bytes in a tree of {width}-byte integers",
                    key.len()
                ),
            );
        }
    }

    fn check_key_length(&mut self, pgno: u64, i: usize, key: &[u8]) {
        if key.len() > max_key_size(self.pages.page_size) {
            self.problem(
                Some(pgno),
                format!("entry {i}: key longer than the maximum"),
            );
        }
    }
}

impl<'a> Visitor<'a> for Checker<'a> {
    fn enter_tree(&mut self, tree: &Tree<'_>) {
        let rec = &tree.record;
        if tree.kind == TreeKind::User {
            self.table = *rec;
            self.pairs = 0;
            let keys_unknown = !rec.key_order().searchable();
            let values_unknown = rec.is_dupsort() && !rec.dup_order().searchable();
            if keys_unknown || values_unknown {
                let name = tree.name.unwrap_or_default();
                let stored = crate::tree::btree::get(self.pages, &self.catalog, name.as_bytes());
                let (keys, values) = match stored {
                    Ok(Some(v)) => TableRecord::catalog_comparator_names(v),
                    _ => (&[][..], &[][..]),
                };
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                for (unknown, comparator) in [(keys_unknown, keys), (values_unknown, values)] {
                    if unknown {
                        let entry = (name.to_string(), text(comparator));
                        self.report.order_unchecked.push(entry);
                    }
                }
            }
        }
        if rec.root == 0 && (rec.entries != 0 || rec.depth != 0 || rec.total_pages() != 0) {
            self.problem(None, format!("{tree}: empty table with non-zero counters"));
        }
    }

    fn leave_tree(&mut self, tree: &Tree<'_>, found: Option<&Tally>) {
        let rec = &tree.record;
        if let Some(found) = found {
            let checks = [
                ("entries", rec.entries, found.entries),
                ("branch pages", rec.branch_pages, found.branch),
                ("leaf pages", rec.leaf_pages, found.leaf),
                ("overflow pages", rec.overflow_pages, found.overflow),
            ];
            for (what, recorded, found) in checks {
                if recorded != found {
                    self.problem(
                        Some(rec.root),
                        format!("{tree}: record says {recorded} {what}, the tree has {found}"),
                    );
                }
            }
        }
        if tree.kind == TreeKind::User
            && rec.is_dupsort()
            && found.is_some()
            && self.pairs != rec.pairs
        {
            let (recorded, counted) = (rec.pairs, self.pairs);
            self.problem(
                Some(rec.root),
                format!("{tree}: record says {recorded} pairs, the tree has {counted}"),
            );
        }
        if let (Some(name), TreeKind::User) = (tree.name, tree.kind) {
            let stat = TableStat::new(rec, self.pages.page_size);
            self.report.tables.push((Some(name.to_string()), stat));
        }
    }

    fn claimed(&mut self, _pgno: u64, claim: Claim, _tree: &Tree<'_>) {
        if claim == Claim::Free {
            self.report.pages.free += 1;
            return;
        }
        self.visited += 1;
        if self.visited.is_multiple_of(1024) {
            (self.progress)(self.visited, self.report.high_water);
        }
    }

    fn fault(&mut self, fault: Fault<'a>, _tree: &Tree<'_>) {
        self.error(&fault.error);
    }

    fn page(&mut self, pgno: u64, bytes: &'a [u8], _at: &At<'a, '_>) {
        if let Err(e) = verify_checksum(bytes, pgno) {
            self.error(&e);
        }
    }

    fn node(&mut self, node: &Node<'a>, at: &At<'a, '_>) -> bool {
        if !matches!(at.tree.kind, TreeKind::User | TreeKind::Values) {
            self.report.pages.internal += 1;
        } else if node.is_leaf() {
            self.report.pages.leaf += 1;
        } else {
            self.report.pages.branch += 1;
        }
        let txn = node.txnid();
        if txn > at.parent_txn {
            self.problem(
                Some(node.pgno),
                format!(
                    "written by txn {txn}, newer than its parent or meta ({})",
                    at.parent_txn
                ),
            );
        }
        // The prefix length must not claim more than the separators around the page share
        // (none at an edge of the tree): searches skip those bytes of the searched key.
        // In other orders than bytewise the page keeps none.
        let shared = match (at.lo, at.hi) {
            (Some(lo), Some(hi)) if at.tree.record.key_order().is_bytewise() => {
                common_prefix(lo, hi)
            }
            _ => 0,
        };
        // Leaves of keys only are exactly a nested tree's.
        if node.is_leaf() && node.is_keys_only() != (at.tree.kind == TreeKind::Values) {
            self.problem(
                Some(node.pgno),
                if node.is_keys_only() {
                    format!("{}: a leaf of keys only outside a nested tree", at.tree)
                } else {
                    format!("{}: a nested tree's leaf with values", at.tree)
                },
            );
        }
        // Integer slot heads only in integer order (older files' integer trees have
        // bytewise heads, which are valid too).
        if node.has_integer_heads() && at.tree.record.key_order() != Order::Integer {
            self.problem(
                Some(node.pgno),
                format!("{}: integer slot heads in a tree of another order", at.tree),
            );
        }
        if node.prefix_len() > shared {
            self.problem(
                Some(node.pgno),
                format!(
                    "page prefix of {} bytes, but the parent's separators around the page \
                     share {shared}",
                    node.prefix_len()
                ),
            );
        }
        self.check_layout(node)
    }

    fn entry(&mut self, node: &Node<'a>, i: usize, key: Result<&'a [u8]>, at: &At<'a, '_>) -> bool {
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                self.error(&e);
                return false;
            }
        };
        self.check_key(node, i, key, at);
        if !node.is_leaf() {
            if let Err(e) = node.child(i) {
                self.error(&e);
                return false;
            }
            return true;
        }
        match node.leaf_value(i) {
            Ok(value) => {
                let len = match value {
                    LeafValue::Inline(v) | LeafValue::Dups(v) => v.len(),
                    LeafValue::Overflow { len, .. } => len,
                    LeafValue::Nested(_) => 0,
                };
                self.report.payload_bytes += (key.len() + len) as u64;
                match at.tree.kind {
                    TreeKind::User => self.check_table_value(node, i, value),
                    TreeKind::Values => self.check_nested_value(node, i, key, value),
                    _ => {}
                }
            }
            Err(e) => self.error(&e),
        }
        true
    }

    fn overflow(&mut self, run: &Run<'a>, _tree: &Tree<'_>) {
        self.report.pages.overflow += run.pages;
        match self.pages.run(run.pgno, run.pages) {
            Ok(bytes) => {
                if let Err(e) = verify_checksum(bytes, run.pgno) {
                    self.error(&e);
                }
            }
            Err(e) => self.error(&e),
        }
        if page::header_txnid(run.head) > run.leaf_txn {
            self.problem(
                Some(run.pgno),
                "overflow run newer than the leaf that points to it",
            );
        }
    }

    fn free_chunk(&mut self, chunk: &FreeChunk<'a>) -> bool {
        let (pgno, i) = (chunk.page, chunk.index);
        let group = match parse_free_key(chunk.key, pgno) {
            Ok((txnid, _)) => txnid,
            Err(e) => {
                self.error(&e);
                return false;
            }
        };
        let list = match &chunk.value {
            Ok(value) => parse_free_entries(value, pgno),
            Err(e) => {
                self.error(e);
                return false;
            }
        };
        let list: Vec<(u64, u64)> = match list {
            Ok(list) => list.collect(),
            Err(e) => {
                self.error(&e);
                return false;
            }
        };
        if let Some(entries) = &mut self.free_entries {
            entries.extend(list.iter().map(|&(p, birth)| (p, (birth, group))));
        }
        if list.windows(2).any(|w| w[0].0 >= w[1].0) {
            self.problem(Some(pgno), format!("entry {i}: free list not sorted"));
        }
        if let Some((p, birth)) = list.iter().find(|e| e.1 > group) {
            self.problem(
                Some(pgno),
                format!(
                    "entry {i}: page {p} born in txn {birth}, after the txn {group} that \
                     freed it"
                ),
            );
        }
        true
    }
}

/// Check both meta slots as stored in the file.
fn check_metas(pages: &MappedPages, chosen: &Meta, file_bytes: u64, c: &mut Checker<'_>) {
    let ps = pages.page_size;
    let mut ids = Vec::new();
    for slot in 0..2u64 {
        let Some(bytes) = pages
            .map
            .get(slot as usize * ps, META_READ_LEN, file_bytes as usize)
        else {
            c.problem(Some(slot), "meta page missing (file too short)");
            continue;
        };
        match Meta::decode(bytes, slot) {
            Ok(m) => {
                if m.one_sync && m.txnid == chosen.txnid {
                    check_one_sync_pages(pages, &m, bytes, file_bytes, c);
                }
                if m.page_size as usize != ps {
                    c.problem(
                        Some(slot),
                        format!("meta page size {} differs", m.page_size),
                    );
                }
                if m.txnid == MAX_TXNID {
                    c.problem(
                        Some(slot),
                        format!(
                            "transaction id {} is the largest valid one: no later transaction \
                             can commit",
                            m.txnid
                        ),
                    );
                }
                ids.push(m.txnid);
            }
            Err(e) => c.problem(Some(slot), format!("invalid meta: {e}")),
        }
    }
    if ids.len() == 2 && ids[0] == ids[1] {
        c.problem(Some(0), "both metas carry the same transaction id");
    }
    c.report.pages.meta = 2;
    if chosen.high_water.saturating_mul(ps as u64) > file_bytes {
        c.problem(None, "high-water mark beyond the end of the file");
    }
}

/// Check that every page the chosen one-sync meta lists holds what its commit wrote.
fn check_one_sync_pages(
    pages: &MappedPages,
    meta: &Meta,
    raw: &[u8],
    file_bytes: u64,
    c: &mut Checker<'_>,
) {
    let ps = pages.page_size as u64;
    let mut read =
        |pgno: u64, n: u64| -> Result<Cow<'_, [u8]>> { pages.run(pgno, n).map(Cow::Borrowed) };
    let what = format!("the one-sync meta {}", meta.txnid);
    match check_listed_pages(meta, raw, file_bytes / ps, &mut read) {
        Ok(ListedPages::Hold) => {}
        Ok(ListedPages::PageDiffers(p)) => c.problem(
            Some(p),
            format!("page {p}, listed by {what}, does not hold what that commit wrote"),
        ),
        Ok(ListedPages::ContentDiffers) => c.problem(
            Some(meta.slot),
            format!("a page listed by {what} holds other content than that commit wrote"),
        ),
        Err(e) => c.error(&e),
    }
}

/// Check that every persistent savepoint of the snapshot `meta` names a state that is
/// intact: each page it reaches is in use by the snapshot or free and kept from reuse
/// for it (listed with a birth at or before its transaction and freed after it).
fn check_savepoints(pages: &MappedPages, meta: &Meta, walker: &Walker<'_>, c: &mut Checker<'_>) {
    if meta.savepoints.root == 0 {
        return;
    }
    let saved = match saved_states(pages, &meta.savepoints) {
        Ok(s) => s,
        Err(e) => {
            c.error(&e);
            return;
        }
    };
    let free = c.free_entries.take().unwrap_or_default();
    // Pages already visited in the saved state being checked (one bitmap for all).
    let mut seen = vec![false; meta.high_water as usize];
    for (name, s) in saved {
        if s.txnid >= meta.txnid {
            c.problem(
                Some(meta.savepoints.root),
                format!(
                    "savepoint {name:?} names txn {}, not before the snapshot's {}",
                    s.txnid, meta.txnid
                ),
            );
            continue;
        }
        seen.fill(false);
        let (mut unkept, mut first, mut twice) = (0u64, None, None);
        let r = visit_state(
            pages,
            &s.main,
            &s.catalog,
            &mut |p| match seen.get_mut(p as usize) {
                Some(b) if !*b => {
                    *b = true;
                    true
                }
                _ => {
                    twice.get_or_insert(p);
                    false
                }
            },
            &mut |run| {
                // A page written after the savepoint's state is not that state's page:
                // the page was reused.
                let same = run.birth <= s.txnid;
                for p in run.pgno..run.pgno.saturating_add(run.count) {
                    let kept = same && walker.is_used(p)
                        || free
                            .get(&p)
                            .is_some_and(|&(birth, group)| birth <= s.txnid && s.txnid < group);
                    if !kept {
                        unkept += 1;
                        first.get_or_insert(p);
                    }
                }
            },
        );
        if let Err(e) = r {
            let page = match &e {
                Error::Corrupted { page, .. } => Some(*page),
                _ => None,
            };
            c.problem(page, format!("savepoint {name:?} (txn {}): {e}", s.txnid));
        }
        if let Some(p) = twice {
            c.problem(
                Some(p),
                format!(
                    "savepoint {name:?} (txn {}): its state reaches the page twice or past \
                     the high-water mark",
                    s.txnid
                ),
            );
        }
        if let Some(p) = first {
            c.problem(
                Some(p),
                format!(
                    "savepoint {name:?} (txn {}): {unkept} page(s) of its state neither in \
                     use nor kept free for it",
                    s.txnid
                ),
            );
        }
    }
}

/// Check the snapshot described by `meta` over `pages` (`file_bytes` long), calling
/// `progress(pages visited, pages total)` as the walk goes.
pub(crate) fn check_snapshot(
    pages: &MappedPages,
    meta: Meta,
    file_bytes: u64,
    comparators: &[Comparator],
    progress: &mut dyn FnMut(u64, u64),
) -> CheckReport {
    let mut c = Checker {
        pages,
        catalog: meta.catalog,
        report: CheckReport {
            txnid: meta.txnid,
            page_size: pages.page_size,
            high_water: meta.high_water,
            file_bytes,
            ..CheckReport::default()
        },
        table: TableRecord::default(),
        integer_width: None,
        free_entries: (meta.savepoints.root != 0).then(HashMap::new),
        pairs: 0,
        progress,
        visited: 0,
    };
    check_metas(pages, &meta, file_bytes, &mut c);
    let mut walker = Walker::new(pages, &meta).with_comparators(comparators);
    walker.walk_snapshot(&mut c);
    check_savepoints(pages, &meta, &walker, &mut c);
    c.report
        .tables
        .insert(0, (None, TableStat::new(&meta.main, pages.page_size)));
    let leaked: Vec<u64> = walker.unclaimed().collect();
    c.report.pages.leaked = leaked.len() as u64;
    for p in leaked {
        c.problem(Some(p), "page is neither reachable nor free (leaked)");
    }
    (c.progress)(meta.high_water, meta.high_water);
    c.report
}

impl Env {
    /// Run the full consistency check on the latest committed snapshot. Safe while other
    /// transactions run; it reads through its own read transaction.
    ///
    /// Damage is not an error: it is listed in the report.
    ///
    /// # Errors
    ///
    /// Fails only when the check cannot start: no read transaction can begin (all
    /// reader slots taken, say), or the file's length cannot be read.
    pub fn check(&self) -> Result<CheckReport> {
        self.check_with_progress(&mut |_, _| {})
    }

    /// [`Env::check`] with a progress callback `(pages visited, pages total)`.
    ///
    /// # Errors
    ///
    /// As [`Env::check`].
    pub fn check_with_progress(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<CheckReport> {
        self.check_with(&[], progress)
    }

    /// [`Env::check`] that also verifies the key order of tables sorted by user
    /// comparators: each custom-order table whose recorded comparator name is among
    /// `comparators` is checked in that order (the others stay in
    /// [`CheckReport::order_unchecked`]).
    ///
    /// ```
    /// use mdbx_lite::{Comparator, Env, KeyOrder};
    /// fn by_len(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    ///     a.len().cmp(&b.len()).then(a.cmp(b))
    /// }
    /// const BY_LEN: Comparator = Comparator::new("by-len", by_len);
    /// # let dir = tempfile::tempdir().unwrap();
    /// let env = Env::open(dir.path().join("db"))?;
    /// let mut wtx = env.begin_write()?;
    /// wtx.create_table_with("t", KeyOrder::Custom(BY_LEN))?.put(b"abc", b"")?;
    /// wtx.commit()?;
    /// assert_eq!(env.check()?.order_unchecked.len(), 1);
    /// let report = env.check_with(&[BY_LEN], &mut |_, _| {})?;
    /// assert!(report.is_ok() && report.order_unchecked.is_empty());
    /// # Ok::<(), mdbx_lite::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Env::check`].
    pub fn check_with(
        &self,
        comparators: &[Comparator],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<CheckReport> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let file_bytes = self.inner.storage.len()?;
        let mut pages = snap.pages.clone();
        pages.verify = false;
        pages.map.advise(crate::ReadAhead::Sequential);
        let report = check_snapshot(&pages, snap.meta, file_bytes, comparators, progress);
        pages.map.advise(self.inner.opts.read_ahead);
        Ok(report)
    }
}
