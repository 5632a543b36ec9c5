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
//! It reports problems instead of stopping at the first, naming the page of each.

use crate::api::transaction::TableStat;
use crate::error::{Error, Result};
use crate::format::free::{parse_free_entries, parse_free_key};
use crate::format::meta::{Meta, TableRecord, FIRST_PAGE, MAX_TXNID, META_LEN};
use crate::format::page::{self, key_prefix, LeafValue, Node, HEADER, MAX_DEPTH, SLOT};
use crate::storage::snapshot::{overflow_run, verify_checksum, MappedPages};
use crate::tree::btree::max_key_size;
use crate::Env;

/// Stop collecting after this many problems (a shredded file would list every page).
const MAX_PROBLEMS: usize = 10_000;

/// One inconsistency, with the page it was found on when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub page: Option<u64>,
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
    pub meta: u64,
    pub branch: u64,
    pub leaf: u64,
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
    pub problems: Vec<Problem>,
    /// Problems found beyond `problems.len()` (only counted).
    pub more_problems: u64,
    pub txnid: u64,
    pub page_size: usize,
    pub high_water: u64,
    pub file_bytes: u64,
    pub pages: PageCounts,
    /// Bytes of keys and values stored (excluding page overhead).
    pub payload_bytes: u64,
    /// `None` is the main table.
    pub tables: Vec<(Option<String>, TableStat)>,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Unseen,
    Used,
    Free,
}

struct Checker<'a> {
    pages: &'a MappedPages,
    meta: Meta,
    marks: Vec<Mark>,
    report: CheckReport,
    progress: &'a mut dyn FnMut(u64, u64),
    visited: u64,
}

/// Running totals for one tree, compared with its record at the end.
#[derive(Default)]
struct Tally {
    entries: u64,
    branch: u64,
    leaf: u64,
    overflow: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TreeKind {
    User,
    Catalog,
    Free,
}

impl<'a> Checker<'a> {
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

    fn error(&mut self, e: Error) {
        match e {
            Error::Corrupted { page, what, .. } => self.problem(Some(page), what),
            other => self.problem(None, other.to_string()),
        }
    }

    /// Claim `pgno` as used by `what`; false if it cannot be (out of range / seen).
    fn claim(&mut self, pgno: u64, what: &str) -> bool {
        if pgno < FIRST_PAGE || pgno >= self.meta.high_water {
            self.problem(
                Some(pgno),
                format!(
                    "{what} points outside the allocated range [2, {})",
                    self.meta.high_water
                ),
            );
            return false;
        }
        let m = &mut self.marks[pgno as usize];
        match *m {
            Mark::Unseen => {
                *m = Mark::Used;
                self.visited += 1;
                if self.visited.is_multiple_of(1024) {
                    (self.progress)(self.visited, self.meta.high_water);
                }
                true
            }
            Mark::Used => {
                self.problem(
                    Some(pgno),
                    format!("page reachable twice (again from {what})"),
                );
                false
            }
            Mark::Free => {
                self.problem(Some(pgno), format!("page is both free and used by {what}"));
                false
            }
        }
    }

    fn walk_tree(&mut self, rec: &TableRecord, kind: TreeKind, name: &str) -> Tally {
        let mut tally = Tally::default();
        if rec.root == 0 {
            if rec.entries != 0 || rec.depth != 0 || rec.total_pages() != 0 {
                self.problem(None, format!("{name}: empty table with non-zero counters"));
            }
            return tally;
        }
        if rec.depth == 0 || rec.depth as usize > MAX_DEPTH {
            self.problem(
                Some(rec.root),
                format!("{name}: invalid depth {}", rec.depth),
            );
            return tally;
        }
        self.walk_node(
            rec.root,
            0,
            rec.depth as usize,
            None,
            None,
            self.meta.txnid,
            kind,
            name,
            &mut tally,
        );
        let checks = [
            ("entries", rec.entries, tally.entries),
            ("branch pages", rec.branch_pages, tally.branch),
            ("leaf pages", rec.leaf_pages, tally.leaf),
            ("overflow pages", rec.overflow_pages, tally.overflow),
        ];
        for (what, recorded, found) in checks {
            if recorded != found {
                self.problem(
                    Some(rec.root),
                    format!("{name}: record says {recorded} {what}, the tree has {found}"),
                );
            }
        }
        tally
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_node(
        &mut self,
        pgno: u64,
        level: usize,
        depth: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        parent_txn: u64,
        kind: TreeKind,
        name: &str,
        tally: &mut Tally,
    ) {
        if !self.claim(pgno, name) {
            return;
        }
        let pages = self.pages;
        let bytes = match pages.raw(pgno) {
            Ok(b) => b,
            Err(e) => return self.error(e),
        };
        if let Err(e) = verify_checksum(bytes, pgno) {
            self.error(e);
        }
        let node = match Node::new(bytes, pgno) {
            Ok(n) => n,
            Err(e) => return self.error(e),
        };
        let leaf = level + 1 == depth;
        if node.is_leaf() != leaf {
            return self.problem(
                Some(pgno),
                format!(
                    "{name}: {} page at level {level} of a tree of depth {depth}",
                    if node.is_leaf() { "leaf" } else { "branch" }
                ),
            );
        }
        if kind != TreeKind::User {
            self.report.pages.internal += 1;
        } else if leaf {
            self.report.pages.leaf += 1;
        } else {
            self.report.pages.branch += 1;
        }
        if leaf {
            tally.leaf += 1;
        } else {
            tally.branch += 1;
        }
        let txn = page::header_txnid(bytes);
        if txn > parent_txn {
            self.problem(
                Some(pgno),
                format!("written by txn {txn}, newer than its parent or meta ({parent_txn})"),
            );
        }
        if !self.check_layout(&node) {
            return;
        }
        let mut prev: Option<&[u8]> = None;
        for i in 0..node.count() {
            let key = match node.key(i) {
                Ok(k) => k,
                Err(e) => return self.error(e),
            };
            if !leaf && i == 0 {
                if !key.is_empty() {
                    self.problem(Some(pgno), "branch entry 0 has a key");
                }
            } else {
                if let Some(p) = prev {
                    if key <= p {
                        self.problem(Some(pgno), format!("entry {i}: keys out of order"));
                    }
                }
                if lo.is_some_and(|lo| key < lo) || hi.is_some_and(|hi| key >= hi) {
                    self.problem(
                        Some(pgno),
                        format!("entry {i}: key outside the parent's separator range"),
                    );
                }
                if key.len() > max_key_size(self.pages.page_size) {
                    self.problem(
                        Some(pgno),
                        format!("entry {i}: key longer than the maximum"),
                    );
                }
                prev = Some(key);
            }
            if leaf {
                tally.entries += 1;
                self.check_leaf_entry(&node, i, key, kind, name, tally);
            } else {
                let child = match node.child(i) {
                    Ok(c) => c,
                    Err(e) => return self.error(e),
                };
                let child_lo = if i == 0 { lo } else { Some(key) };
                let next_key = if i + 1 < node.count() {
                    node.key(i + 1).ok()
                } else {
                    None
                };
                let child_hi = next_key.or(hi);
                self.walk_node(
                    child,
                    level + 1,
                    depth,
                    child_lo,
                    child_hi,
                    txn,
                    kind,
                    name,
                    tally,
                );
            }
        }
    }

    /// Slot prefixes match keys; entries lie in the entry area and do not overlap.
    fn check_layout(&mut self, node: &Node<'_>) -> bool {
        let pgno = node.pgno;
        let upper = page::header_upper(node.bytes());
        let mut spans = Vec::with_capacity(node.count());
        for i in 0..node.count() {
            match node.entry_span(i) {
                Ok((off, len)) => spans.push((off, len, i)),
                Err(e) => {
                    self.error(e);
                    return false;
                }
            }
            if let Ok(k) = node.key(i) {
                if node.slot_prefix(i) != key_prefix(k) {
                    self.problem(
                        Some(pgno),
                        format!("entry {i}: slot prefix does not match its key"),
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

    fn check_leaf_entry(
        &mut self,
        node: &Node<'_>,
        i: usize,
        key: &[u8],
        kind: TreeKind,
        name: &str,
        tally: &mut Tally,
    ) {
        let pgno = node.pgno;
        let value = match node.leaf_value(i) {
            Ok(v) => v,
            Err(e) => return self.error(e),
        };
        self.report.payload_bytes += key.len() as u64;
        let bytes: Option<&[u8]> = match value {
            LeafValue::Inline(v) => Some(v),
            LeafValue::Overflow { pgno: run, len } => {
                self.report.payload_bytes += len as u64;
                self.check_overflow(run, len, node.txnid(), name, tally);
                None
            }
        };
        if let Some(v) = bytes {
            self.report.payload_bytes += v.len() as u64;
        }
        match kind {
            TreeKind::User => {}
            TreeKind::Catalog => {
                let v = match value {
                    LeafValue::Inline(v) => v,
                    LeafValue::Overflow { .. } => {
                        return self.problem(Some(pgno), "catalog record stored in an overflow run")
                    }
                };
                let table = String::from_utf8_lossy(key).into_owned();
                match TableRecord::decode(v, pgno) {
                    Ok(rec) => {
                        let label = format!("table {table:?}");
                        self.walk_tree(&rec, TreeKind::User, &label);
                        self.report
                            .tables
                            .push((Some(table), TableStat::new(&rec, self.pages.page_size)));
                    }
                    Err(e) => self.error(e),
                }
            }
            TreeKind::Free => {
                let group = match parse_free_key(key, pgno) {
                    Ok((txnid, _)) => txnid,
                    Err(e) => return self.error(e),
                };
                let v = match value {
                    LeafValue::Inline(v) => v,
                    LeafValue::Overflow { .. } => {
                        return self
                            .problem(Some(pgno), "free-tree chunk stored in an overflow run")
                    }
                };
                match parse_free_entries(v, pgno) {
                    Ok(list) => {
                        let list: Vec<(u64, u64)> = list.collect();
                        if list.windows(2).any(|w| w[0].0 >= w[1].0) {
                            self.problem(Some(pgno), format!("entry {i}: free list not sorted"));
                        }
                        if let Some((p, birth)) = list.iter().find(|e| e.1 > group) {
                            self.problem(
                                Some(pgno),
                                format!(
                                    "entry {i}: page {p} born in txn {birth}, after the txn \
                                     {group} that freed it"
                                ),
                            );
                        }
                        for (p, _) in list {
                            self.mark_free(p, pgno);
                        }
                    }
                    Err(e) => self.error(e),
                }
            }
        }
    }

    fn check_overflow(
        &mut self,
        run: u64,
        len: usize,
        parent_txn: u64,
        name: &str,
        tally: &mut Tally,
    ) {
        let n = page::overflow_pages_needed(len, self.pages.page_size);
        let pages = self.pages;
        let head = match pages.raw(run) {
            Ok(h) => h,
            Err(e) => return self.error(e),
        };
        if let Err(e) = overflow_run(head, run, len, pages.page_size) {
            return self.error(e);
        }
        for p in run..run + n {
            if !self.claim(p, &format!("{name} overflow run {run}")) {
                return;
            }
        }
        self.report.pages.overflow += n;
        tally.overflow += n;
        match pages.run(run, n) {
            Ok(bytes) => {
                if let Err(e) = verify_checksum(bytes, run) {
                    self.error(e);
                }
            }
            Err(e) => self.error(e),
        }
        if page::header_txnid(head) > parent_txn {
            self.problem(
                Some(run),
                "overflow run newer than the leaf that points to it",
            );
        }
    }

    fn mark_free(&mut self, p: u64, chunk_page: u64) {
        if p < FIRST_PAGE || p >= self.meta.high_water {
            return self.problem(
                Some(chunk_page),
                format!(
                    "free list names page {p}, outside [2, {})",
                    self.meta.high_water
                ),
            );
        }
        match self.marks[p as usize] {
            Mark::Unseen => {
                self.marks[p as usize] = Mark::Free;
                self.report.pages.free += 1;
            }
            Mark::Free => self.problem(Some(p), "page listed free twice"),
            Mark::Used => self.problem(Some(p), "page is both free and in use"),
        }
    }
}

/// Check both meta slots as stored in the file.
fn check_metas(pages: &MappedPages, chosen: &Meta, file_bytes: u64, c: &mut Checker<'_>) {
    let ps = pages.page_size;
    let mut ids = Vec::new();
    for slot in 0..2u64 {
        let Some(bytes) = pages
            .map
            .get(slot as usize * ps, META_LEN, file_bytes as usize)
        else {
            c.problem(Some(slot), "meta page missing (file too short)");
            continue;
        };
        match Meta::decode(bytes, slot) {
            Ok(m) => {
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

/// Check the snapshot described by `meta` over `pages`.
pub(crate) fn check_snapshot(
    pages: &MappedPages,
    meta: Meta,
    file_bytes: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> CheckReport {
    let mut c = Checker {
        pages,
        meta,
        marks: vec![Mark::Unseen; meta.high_water as usize],
        report: CheckReport {
            txnid: meta.txnid,
            page_size: pages.page_size,
            high_water: meta.high_water,
            file_bytes,
            ..CheckReport::default()
        },
        progress,
        visited: 0,
    };
    for m in c.marks.iter_mut().take(FIRST_PAGE as usize) {
        *m = Mark::Used;
    }
    check_metas(pages, &meta, file_bytes, &mut c);
    // Free pages first, so "free and used" is reported on the using side too.
    c.walk_tree(&meta.free, TreeKind::Free, "free tree");
    c.walk_tree(&meta.catalog, TreeKind::Catalog, "catalog");
    c.walk_tree(&meta.main, TreeKind::User, "main table");
    c.report
        .tables
        .insert(0, (None, TableStat::new(&meta.main, pages.page_size)));
    let mut leaked = Vec::new();
    for (p, m) in c.marks.iter().enumerate().skip(FIRST_PAGE as usize) {
        if *m == Mark::Unseen {
            leaked.push(p as u64);
        }
    }
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
    pub fn check(&self) -> Result<CheckReport> {
        self.check_with_progress(&mut |_, _| {})
    }

    /// [`Env::check`] with a progress callback `(pages visited, pages total)`.
    pub fn check_with_progress(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<CheckReport> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let file_bytes = self.inner.storage.len()?;
        let mut pages = snap.pages.clone();
        pages.verify = false;
        pages.map.advise(crate::ReadAhead::Sequential);
        let report = check_snapshot(&pages, snap.meta, file_bytes, progress);
        pages.map.advise(self.inner.opts.read_ahead);
        Ok(report)
    }
}
