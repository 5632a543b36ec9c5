//! Page-level inspection: what `mdbx-lite stat`, `pages`, `page`, `tree` and
//! `residency` show.
//!
//! Everything here reads one committed snapshot through a read transaction and decodes
//! pages defensively: a corrupt file yields pages of role [`PageRole::Invalid`] or
//! [`PageRole::Unreachable`], decoding notes and `Error::Corrupted`, never a panic.
//! The trees are walked by the walker `check` uses too (`tools/walk.rs`), which claims
//! each page at most once and follows at most `MAX_DEPTH` levels, so cycles in a hostile
//! file cannot hang it; this module only records what each page it visits is. For
//! verdicts, use [`Env::check`].

use crate::error::{Error, Result};
use crate::format::meta::{Meta, TableRecord, FIRST_PAGE, META_LEN, META_READ_LEN};
use crate::format::page::{self, LeafValue, Node, PageKind, HEADER, MAX_DEPTH};
use crate::storage::snapshot::{MappedPages, Snapshot};
use crate::tools::walk::{At, Claim, Fault, FaultKind, Tree, TreeKind, Visitor, Walker};
use crate::{Env, ReadTxn};

/// The counters of one B+tree as a meta or the catalog records them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeInfo {
    /// Root page, 0 for an empty tree.
    pub root: u64,
    /// Levels from root to leaf (0 for an empty tree).
    pub depth: u32,
    /// Key/value pairs stored.
    pub entries: u64,
    /// Branch (interior) pages.
    pub branch_pages: u64,
    /// Leaf pages.
    pub leaf_pages: u64,
    /// Pages of the overflow runs holding its large values.
    pub overflow_pages: u64,
}

impl From<TableRecord> for TreeInfo {
    fn from(r: TableRecord) -> TreeInfo {
        TreeInfo {
            root: r.root,
            depth: r.depth,
            entries: r.entries,
            branch_pages: r.branch_pages,
            leaf_pages: r.leaf_pages,
            overflow_pages: r.overflow_pages,
        }
    }
}

/// A decoded meta page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaInfo {
    /// The transaction that wrote it: the newer valid meta is the current snapshot.
    pub txnid: u64,
    /// Written after its pages were synced; a weak meta (`NoSync`) is trusted only
    /// until the machine restarts.
    pub steady: bool,
    /// Not trusted, so ignored and replaced by the next writable open: a weak meta
    /// written before the machine restarted, or a one-sync meta from before it with a
    /// listed page that does not hold what its commit wrote.
    pub stale: bool,
    /// For a one-sync meta (written with its pages, one sync for both), how many pages
    /// and overflow runs it lists for verification after a restart; `None` for a meta
    /// written after its pages were synced.
    pub one_sync_pages: Option<usize>,
    /// Bytes per page.
    pub page_size: u32,
    /// First never-allocated page.
    pub high_water: u64,
    /// Bytes the file grows by when it must grow.
    pub growth_step: u64,
    /// The unnamed default table.
    pub main: TreeInfo,
    /// The catalog of named tables.
    pub catalog: TreeInfo,
    /// The free-space tree.
    pub free: TreeInfo,
}

impl From<Meta> for MetaInfo {
    fn from(m: Meta) -> MetaInfo {
        MetaInfo {
            txnid: m.txnid,
            steady: m.steady,
            stale: false,
            one_sync_pages: None,
            page_size: m.page_size,
            high_water: m.high_water,
            growth_step: m.growth_step,
            main: m.main.into(),
            catalog: m.catalog.into(),
            free: m.free.into(),
        }
    }
}

/// One of the two meta slots as stored in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaSlot {
    /// Page number of the slot (0 or 1).
    pub slot: u64,
    /// The decoded meta, or why it is invalid.
    pub meta: std::result::Result<MetaInfo, String>,
    /// This slot names the snapshot the environment uses.
    pub current: bool,
}

/// What a page is used as, as found by walking every tree of the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageRole {
    /// One of the two meta pages (0 and 1).
    Meta,
    /// An interior page of a tree.
    Branch,
    /// A leaf page of a tree.
    Leaf,
    /// First page of an overflow run (it carries the header).
    Overflow,
    /// A later page of an overflow run (value bytes only, no header).
    OverflowCont,
    /// Listed in the free tree.
    Free,
    /// Below the high-water mark but neither reachable nor free (leaked).
    Unreachable,
    /// Reachable from a tree, but its header does not decode as what the tree expects.
    Invalid,
}

impl PageRole {
    /// The role as `mdbx-lite pages` prints it: `meta`, `branch`, `leaf`, `overflow`,
    /// `overflow-cont`, `free`, `unreachable`, `invalid`.
    pub fn name(self) -> &'static str {
        match self {
            PageRole::Meta => "meta",
            PageRole::Branch => "branch",
            PageRole::Leaf => "leaf",
            PageRole::Overflow => "overflow",
            PageRole::OverflowCont => "overflow-cont",
            PageRole::Free => "free",
            PageRole::Unreachable => "unreachable",
            PageRole::Invalid => "invalid",
        }
    }
}

/// Who a page belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageOwner {
    /// The two meta pages.
    Meta,
    /// The unnamed default table.
    Main,
    /// A named table.
    Table(String),
    /// The catalog tree (table name -> table record).
    Catalog,
    /// The free-space tree itself.
    FreeTree,
    /// The savepoint tree (persistent savepoint name -> the state it names).
    Savepoints,
    /// A free page (listed in the free tree).
    Free,
    /// Nobody: an unreachable page.
    Nobody,
}

impl PageOwner {
    /// A short label: `@meta`, `@main`, the table name, `@catalog`, `@savepoints`,
    /// `@freetree`, `@free`, `-`.
    pub fn label(&self) -> &str {
        match self {
            PageOwner::Meta => "@meta",
            PageOwner::Main => "@main",
            PageOwner::Table(n) => n,
            PageOwner::Catalog => "@catalog",
            PageOwner::FreeTree => "@freetree",
            PageOwner::Savepoints => "@savepoints",
            PageOwner::Free => "@free",
            PageOwner::Nobody => "-",
        }
    }
}

/// One page in [`Env::pages`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageSummary {
    /// The page number.
    pub pgno: u64,
    /// What the page is used as.
    pub role: PageRole,
    /// The tree (or the free list) it belongs to.
    pub owner: PageOwner,
    /// Level in its tree, 0 being the root (branch and leaf pages only).
    pub level: Option<u32>,
    /// The transaction that wrote the page (from its header; `None` for free,
    /// unreachable and overflow continuation pages, whose headers mean nothing).
    pub txnid: Option<u64>,
    /// Entries on a branch or leaf page.
    pub entries: usize,
    /// Bytes in use: header, slots and entries of a node; header and value bytes of an
    /// overflow page; the meta record of a meta page.
    pub used_bytes: usize,
    /// Bytes per page.
    pub page_size: usize,
}

impl PageSummary {
    /// `used_bytes` as a fraction of the page.
    pub fn fill(&self) -> f64 {
        self.used_bytes as f64 / self.page_size.max(1) as f64
    }
}

// Fixed owner indices of a `PageMap`; named tables follow.
const O_NOBODY: u32 = 0;
const O_META: u32 = 1;
const O_MAIN: u32 = 2;
const O_CATALOG: u32 = 3;
const O_FREETREE: u32 = 4;
const O_FREE: u32 = 5;
const O_SAVEPOINTS: u32 = 6;
/// The first owner index of a named table.
const O_TABLES: u32 = 7;

#[derive(Clone, Copy)]
struct Slot {
    role: PageRole,
    owner: u32,
    level: u8,
    entries: u16,
    used: u32,
}

/// Role and owner of every page of a snapshot: the inspector's side of the walk.
struct PageMap {
    slots: Vec<Slot>,
    owners: Vec<PageOwner>,
    /// The owner index of each tree walked, by [`Tree::serial`].
    tree_owners: Vec<u32>,
    /// The owner of the table being walked (for its nested trees).
    table_owner: u32,
    page_size: usize,
}

impl PageMap {
    fn build(pages: &MappedPages, meta: &Meta) -> PageMap {
        let hw = meta.high_water as usize;
        let unseen = Slot {
            role: PageRole::Unreachable,
            owner: O_NOBODY,
            level: 0,
            entries: 0,
            used: 0,
        };
        let mut map = PageMap {
            slots: vec![unseen; hw],
            owners: vec![
                PageOwner::Nobody,
                PageOwner::Meta,
                PageOwner::Main,
                PageOwner::Catalog,
                PageOwner::FreeTree,
                PageOwner::Free,
                PageOwner::Savepoints,
            ],
            tree_owners: Vec::new(),
            table_owner: O_MAIN,
            page_size: pages.page_size,
        };
        for s in map.slots.iter_mut().take(FIRST_PAGE as usize) {
            s.role = PageRole::Meta;
            s.owner = O_META;
            s.used = META_LEN as u32;
        }
        Walker::new(pages, meta).walk_snapshot(&mut map);
        map
    }

    fn summary(
        &self,
        pages: &MappedPages,
        meta_txn: &dyn Fn(u64) -> Option<u64>,
        pgno: u64,
    ) -> PageSummary {
        let s = self.slots[pgno as usize];
        let txnid = match s.role {
            PageRole::Meta => meta_txn(pgno),
            PageRole::Branch | PageRole::Leaf | PageRole::Overflow | PageRole::Invalid => {
                pages.raw(pgno).ok().map(page::header_txnid)
            }
            _ => None,
        };
        PageSummary {
            pgno,
            role: s.role,
            owner: self.owners[s.owner as usize].clone(),
            level: matches!(s.role, PageRole::Branch | PageRole::Leaf).then_some(s.level as u32),
            txnid,
            entries: s.entries as usize,
            used_bytes: s.used as usize,
            page_size: pages.page_size,
        }
    }
}

impl<'a> Visitor<'a> for PageMap {
    fn enter_tree(&mut self, tree: &Tree<'_>) {
        let owner = match (tree.kind, tree.name) {
            (TreeKind::Free, _) => O_FREETREE,
            (TreeKind::Catalog, _) => O_CATALOG,
            (TreeKind::Savepoints, _) => O_SAVEPOINTS,
            (TreeKind::User, None) => O_MAIN,
            (TreeKind::User, Some(name)) => {
                self.owners.push(PageOwner::Table(name.to_string()));
                self.owners.len() as u32 - 1
            }
            // A nested tree is walked inside its table's: the table owns its pages.
            (TreeKind::Values, _) => self.table_owner,
        };
        if tree.kind == TreeKind::User {
            self.table_owner = owner;
        }
        self.tree_owners.push(owner);
    }

    fn claimed(&mut self, pgno: u64, claim: Claim, tree: &Tree<'_>) {
        let owner = self.tree_owners[tree.serial];
        let ps = self.page_size;
        let s = &mut self.slots[pgno as usize];
        (s.role, s.owner) = match claim {
            // Until it decodes as what its tree expects.
            Claim::Node => (PageRole::Invalid, owner),
            Claim::Overflow { index, len, .. } => {
                let skip = index as usize * ps;
                s.used = (HEADER + len).saturating_sub(skip).min(ps) as u32;
                if index == 0 {
                    (PageRole::Overflow, owner)
                } else {
                    (PageRole::OverflowCont, owner)
                }
            }
            Claim::Free => (PageRole::Free, O_FREE),
        };
    }

    fn fault(&mut self, fault: Fault<'a>, tree: &Tree<'_>) {
        // A leaf names a run whose head is not one: show the head as invalid.
        if let FaultKind::BadOverflow { run } = fault.kind {
            let owner = self.tree_owners[tree.serial];
            if let Some(s) = self.slots.get_mut(run as usize) {
                if s.role == PageRole::Unreachable {
                    (s.role, s.owner) = (PageRole::Invalid, owner);
                }
            }
        }
    }

    fn node(&mut self, node: &Node<'a>, at: &At<'a, '_>) -> bool {
        let s = &mut self.slots[node.pgno as usize];
        s.role = if node.is_leaf() {
            PageRole::Leaf
        } else {
            PageRole::Branch
        };
        s.level = at.level as u8;
        s.entries = node.count() as u16;
        s.used = (HEADER + page::live_bytes(node.bytes())) as u32;
        true
    }
}

/// Iterator over every page of a snapshot, from [`Env::pages`].
pub struct Pages {
    rtx: ReadTxn,
    map: PageMap,
    metas: [Option<u64>; 2],
    next: u64,
}

impl Pages {
    /// The transaction id of the snapshot being inspected.
    pub fn txnid(&self) -> u64 {
        self.rtx.id()
    }
}

impl Iterator for Pages {
    type Item = PageSummary;

    fn next(&mut self) -> Option<PageSummary> {
        let pgno = self.next;
        if pgno as usize >= self.map.slots.len() {
            return None;
        }
        self.next += 1;
        let metas = self.metas;
        let meta_txn = move |p: u64| metas.get(p as usize).copied().flatten();
        Some(
            self.map
                .summary(&self.rtx.snapshot().pages, &meta_txn, pgno),
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.map.slots.len().saturating_sub(self.next as usize);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Pages {}

/// The header fields of a page, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    /// The checksum stored in the header.
    pub checksum: u32,
    /// The checksum computed over the page (the whole run for an overflow head; the
    /// meta record for a meta page); `None` when it cannot be computed.
    pub computed_checksum: Option<u32>,
    /// Raw kind byte, and its name if it is a known kind.
    pub kind_byte: u8,
    /// See `kind_byte`.
    pub kind: Option<&'static str>,
    /// Header flag bits (`F_HOLES` on a node: entries were removed since it was built).
    pub flags: u8,
    /// Entries on a node page.
    pub count: u16,
    /// Page number the header claims.
    pub pgno: u64,
    /// The transaction that wrote the page.
    pub txnid: u64,
    /// Start of the entry area of a node, or the run length in pages of an overflow head.
    pub upper: u32,
    /// Length of a node's page prefix (the bytes every key of the page starts with).
    pub prefix_len: u16,
}

/// The value part of a decoded entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryValue {
    /// A leaf value stored on the page.
    Inline(Vec<u8>),
    /// A leaf value stored in an overflow run.
    Overflow {
        /// First page of the run.
        pgno: u64,
        /// Bytes of the value.
        len: usize,
    },
    /// A dup-sort key's values stored on the page (a dup block, `docs/format.md`).
    Dups(Vec<u8>),
    /// A dup-sort key's values in a nested tree.
    Nested {
        /// The nested tree's root page.
        root: u64,
        /// Its values.
        values: u64,
        /// Its depth.
        depth: u32,
    },
    /// A branch entry's child page.
    Child(u64),
    /// The entry cannot be decoded; says why.
    Invalid(String),
}

/// One entry of a branch or leaf page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Position of the entry on its page (its slot).
    pub index: usize,
    /// Byte offset of the entry (its key) in the page, from the slot.
    pub offset: usize,
    /// The key (empty for a branch's entry 0, or when it cannot be decoded).
    pub key: Vec<u8>,
    /// The value or child page.
    pub value: EntryValue,
}

/// Everything `mdbx-lite page N` shows about one page.
#[derive(Clone, Debug, PartialEq)]
pub struct PageInfo {
    /// Role, owner, level and fill, as in [`Env::pages`].
    pub summary: PageSummary,
    /// The header fields as stored.
    pub header: PageHeader,
    /// For a meta page: the decoded meta or why it is invalid.
    pub meta: Option<std::result::Result<MetaInfo, String>>,
    /// For an overflow continuation page: the first page of its run.
    pub run_start: Option<u64>,
    /// The page prefix of a branch or leaf page (empty if the header does not decode).
    pub prefix: Vec<u8>,
    /// Entries of a branch or leaf page (empty if the header does not decode).
    pub entries: Vec<EntryInfo>,
    /// Why the page could not be decoded as a node, if it could not.
    pub problem: Option<String>,
    /// The raw bytes of the page.
    pub bytes: Vec<u8>,
}

/// One page of a tree level, from [`Env::tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeNode {
    /// The page number.
    pub pgno: u64,
    /// Branch, Leaf, or Invalid when the page does not decode.
    pub role: PageRole,
    /// The transaction that wrote the page (from its header).
    pub txnid: u64,
    /// Entries on the page (0 for an invalid page).
    pub entries: usize,
    /// Bytes in use: header, slots and entries (0 for an invalid page).
    pub used_bytes: usize,
    /// First and last key on the page (a branch's entry 0 has no key, so its first
    /// key is the first separator).
    pub first_key: Vec<u8>,
    /// See `first_key`.
    pub last_key: Vec<u8>,
}

/// A table's B+tree level by level, from [`Env::tree`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeLevels {
    /// The table's record.
    pub info: TreeInfo,
    /// Bytes per page.
    pub page_size: usize,
    /// `levels[0]` holds the root.
    pub levels: Vec<Vec<TreeNode>>,
    /// Overflow runs hanging off the leaves.
    pub overflow_runs: u64,
    /// Pages of those runs.
    pub overflow_pages: u64,
}

/// Page-cache residency of one group of pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentGroup {
    /// Whose pages they are.
    pub owner: PageOwner,
    /// How many pages.
    pub pages: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// How many of those bytes are in the page cache.
    pub resident_bytes: u64,
}

/// How much of the file is in the page cache, by owner, from [`Env::residency`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Residency {
    /// Bytes per database page.
    pub page_size: usize,
    /// Bytes per OS page (the unit the page cache keeps or drops).
    pub os_page_size: usize,
    /// Length of the file in bytes.
    pub file_bytes: u64,
    /// Bytes of the file in the page cache.
    pub resident_bytes: u64,
    /// One group per owner that has pages: metas, main, each named table, catalog,
    /// free tree, free pages, unreachable pages; the tail of the file beyond the
    /// high-water mark is not in any group.
    pub groups: Vec<ResidentGroup>,
}

impl Env {
    /// Both meta slots as stored in the file, decoded. A slot that does not decode is
    /// returned with the reason, not as an error.
    ///
    /// # Errors
    ///
    /// When no read transaction can begin (all reader slots taken, say) or the file's
    /// length cannot be read ([`Error::Io`]).
    pub fn metas(&self) -> Result<Vec<MetaSlot>> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let file_bytes = self.inner.storage.len()?;
        let boot = self.inner.storage.boot_id();
        Ok((0..2u64)
            .map(|slot| MetaSlot {
                slot,
                // A valid meta newer than the snapshot was not trusted: a weak one from
                // before a restart, or a one-sync one with a page that does not hold.
                meta: decode_meta(snap, slot, file_bytes, boot).map(|m| MetaInfo {
                    stale: m.stale || m.txnid > snap.meta.txnid,
                    ..m
                }),
                current: snap.meta.slot == slot,
            })
            .collect())
    }

    /// Every page of the latest snapshot below the high-water mark, with its role,
    /// owner, writing transaction and fill. Walks all trees first (one pass over every
    /// reachable page), then decodes one page header per item. Damage shows as pages of
    /// role [`PageRole::Invalid`] or [`PageRole::Unreachable`], not as an error.
    ///
    /// # Errors
    ///
    /// When no read transaction can begin (all reader slots taken, say) or the file's
    /// length cannot be read ([`Error::Io`]).
    pub fn pages(&self) -> Result<Pages> {
        let rtx = self.begin_read()?;
        let file_bytes = self.inner.storage.len()?;
        let snap = rtx.snapshot();
        let map = PageMap::build(&snap.pages, &snap.meta);
        let meta_txn = |slot: u64| {
            decode_meta(snap, slot, file_bytes, None)
                .ok()
                .map(|m| m.txnid)
        };
        let metas = [meta_txn(0), meta_txn(1)];
        Ok(Pages {
            rtx,
            map,
            metas,
            next: 0,
        })
    }

    /// Decode page `pgno` of the latest snapshot: header, role and owner, entries (for
    /// branch and leaf pages), the meta (for pages 0 and 1), raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `pgno` is not below the high-water mark,
    /// [`Error::Corrupted`] when the page lies beyond the end of the file; otherwise
    /// when no read transaction can begin (all reader slots taken, say) or the file's
    /// length cannot be read ([`Error::Io`]).
    pub fn page_info(&self, pgno: u64) -> Result<PageInfo> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let hw = snap.meta.high_water;
        if pgno >= hw {
            return Err(Error::Invalid(format!(
                "page {pgno} does not exist: the database has {hw} pages (0..={})",
                hw - 1
            )));
        }
        let file_bytes = self.inner.storage.len()?;
        let ps = snap.pages.page_size;
        let bound = (file_bytes as usize).min(hw as usize * ps);
        let bytes = snap
            .pages
            .map
            .get(pgno as usize * ps, ps, bound)
            .ok_or_else(|| {
                Error::corrupted(
                    crate::error::Corruption::Bounds,
                    pgno,
                    "page lies beyond the end of the file",
                )
            })?;
        let map = PageMap::build(&snap.pages, &snap.meta);
        let metas = [
            decode_meta(snap, 0, file_bytes, None).ok().map(|m| m.txnid),
            decode_meta(snap, 1, file_bytes, None).ok().map(|m| m.txnid),
        ];
        let meta_txn = move |p: u64| metas.get(p as usize).copied().flatten();
        let summary = map.summary(&snap.pages, &meta_txn, pgno);
        // The raw kind byte too: an unknown kind is shown as stored.
        let kind_byte = page::header(bytes).kind_byte();
        let kind = page::header_kind(bytes);
        let computed_checksum = match (summary.role, kind) {
            (PageRole::Meta, _) => Meta::encoded_len(bytes)
                .and_then(|n| bytes.get(..n))
                .map(page::compute_checksum),
            (_, Some(PageKind::Overflow)) => {
                let n = page::overflow_run_len(bytes).max(1);
                snap.pages.run(pgno, n).ok().map(page::compute_checksum)
            }
            _ => Some(page::compute_checksum(bytes)),
        };
        let header = PageHeader {
            checksum: page::header_checksum(bytes),
            computed_checksum,
            kind_byte,
            kind: kind.map(PageKind::name),
            flags: page::header(bytes).flags(),
            // The header stores these as u16 and u32: the casts lose nothing.
            count: page::header_count(bytes) as u16,
            pgno: page::header_pgno(bytes),
            txnid: page::header_txnid(bytes),
            upper: match kind {
                Some(PageKind::Overflow) => page::overflow_run_len(bytes) as u32,
                _ => page::header_upper(bytes) as u32,
            },
            prefix_len: page::header(bytes).prefix_len() as u16,
        };
        let meta = (pgno < FIRST_PAGE)
            .then(|| decode_meta(snap, pgno, file_bytes, self.inner.storage.boot_id()));
        let run_start = (summary.role == PageRole::OverflowCont).then(|| {
            let mut p = pgno;
            while p > FIRST_PAGE && map.slots[p as usize].role == PageRole::OverflowCont {
                p -= 1;
            }
            p
        });
        let (prefix, entries, problem) = if pgno >= FIRST_PAGE
            && matches!(kind, Some(PageKind::Branch | PageKind::Leaf))
            && !matches!(
                summary.role,
                PageRole::OverflowCont | PageRole::Free | PageRole::Unreachable
            ) {
            match Node::new(bytes, pgno) {
                Ok(node) => (
                    node.prefix().map(<[u8]>::to_vec).unwrap_or_default(),
                    decode_entries(&node),
                    None,
                ),
                Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
            }
        } else {
            (Vec::new(), Vec::new(), None)
        };
        Ok(PageInfo {
            summary,
            header,
            meta,
            run_start,
            prefix,
            entries,
            problem,
            bytes: bytes.to_vec(),
        })
    }

    /// The B+tree of the main table (`None`) or of a named table, level by level. Pages
    /// that do not decode as what their level expects are listed as
    /// [`PageRole::Invalid`], not followed.
    ///
    /// # Errors
    ///
    /// [`Error::TableNotFound`] when there is no such table, [`Error::Corrupted`] when
    /// the catalog cannot be searched for it or its record does not decode, or when no
    /// read transaction can begin.
    pub fn tree(&self, table: Option<&str>) -> Result<TreeLevels> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let pages = &snap.pages;
        let rec = match table {
            None => snap.meta.main,
            Some(n) => match crate::tree::btree::get(pages, &snap.meta.catalog, n.as_bytes())? {
                Some(v) => TableRecord::decode(v, snap.meta.catalog.root)?,
                None => return Err(Error::TableNotFound(n.to_string())),
            },
        };
        let mut levels = Levels {
            out: TreeLevels {
                info: rec.into(),
                page_size: pages.page_size,
                levels: Vec::new(),
                overflow_runs: 0,
                overflow_pages: 0,
            },
        };
        Walker::new(pages, &snap.meta).walk_tree(TreeKind::User, table, rec, &mut levels);
        Ok(levels.out)
    }

    /// How much of the file, and of each table, is in the OS page cache (mincore).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file's length or the page-cache state cannot be read, or
    /// when no read transaction can begin.
    pub fn residency(&self) -> Result<Residency> {
        let rtx = self.begin_read()?;
        let snap = rtx.snapshot();
        let ps = snap.pages.page_size;
        let file_bytes = self.inner.storage.len()?;
        let bound = (file_bytes as usize).min(snap.pages.map.reserved());
        let (os_page, resident) = snap.pages.map.resident_pages(bound)?;
        let map = PageMap::build(&snap.pages, &snap.meta);
        let resident_in = |start: usize, end: usize| -> u64 {
            let end = end.min(bound);
            if start >= end {
                return 0;
            }
            (start / os_page..end.div_ceil(os_page))
                .filter(|&i| resident.get(i).copied().unwrap_or(false))
                .map(|i| {
                    let (a, b) = (i * os_page, (i + 1) * os_page);
                    (b.min(end) - a.max(start)) as u64
                })
                .sum()
        };
        let mut groups: Vec<ResidentGroup> = map
            .owners
            .iter()
            .map(|o| ResidentGroup {
                owner: o.clone(),
                pages: 0,
                bytes: 0,
                resident_bytes: 0,
            })
            .collect();
        for (pgno, s) in map.slots.iter().enumerate() {
            let g = &mut groups[s.owner as usize];
            g.pages += 1;
            g.bytes += ps as u64;
            g.resident_bytes += resident_in(pgno * ps, (pgno + 1) * ps);
        }
        // Fixed owners first in a readable order, then tables by name.
        let order = [
            O_META,
            O_MAIN,
            O_CATALOG,
            O_SAVEPOINTS,
            O_FREETREE,
            O_FREE,
            O_NOBODY,
        ];
        let mut sorted: Vec<ResidentGroup> = order
            .iter()
            .map(|&i| groups[i as usize].clone())
            .filter(|g| g.pages > 0 || g.owner == PageOwner::Main)
            .collect();
        let mut tables: Vec<ResidentGroup> = groups.drain(O_TABLES as usize..).collect();
        tables.sort_by(|a, b| a.owner.label().cmp(b.owner.label()));
        sorted.splice(2..2, tables);
        Ok(Residency {
            page_size: ps,
            os_page_size: os_page,
            file_bytes,
            resident_bytes: resident_in(0, bound),
            groups: sorted,
        })
    }
}

/// Builds [`TreeLevels`] from a walk of one tree.
struct Levels {
    out: TreeLevels,
}

impl<'a> Visitor<'a> for Levels {
    // Runs are counted from their leaf entries; their pages need not be read.
    const OVERFLOW: bool = false;

    fn enter_tree(&mut self, tree: &Tree<'_>) {
        let depth = tree.record.depth as usize;
        if tree.record.root != 0 && depth <= MAX_DEPTH {
            self.out.levels = vec![Vec::new(); depth];
        }
    }

    fn fault(&mut self, fault: Fault<'a>, _tree: &Tree<'_>) {
        let FaultKind::BadNode { pgno, level, bytes } = fault.kind else {
            return;
        };
        if let Some(nodes) = self.out.levels.get_mut(level) {
            nodes.push(TreeNode {
                pgno,
                role: PageRole::Invalid,
                txnid: page::header_txnid(bytes),
                entries: 0,
                used_bytes: 0,
                first_key: Vec::new(),
                last_key: Vec::new(),
            });
        }
    }

    fn node(&mut self, node: &Node<'a>, at: &At<'a, '_>) -> bool {
        let leaf = node.is_leaf();
        let n = node.count();
        // A branch's entry 0 has no key: its first key is the first separator.
        let first = if leaf { 0 } else { 1.min(n - 1) };
        let key = |i: usize| node.key(i).map(<[u8]>::to_vec).unwrap_or_default();
        let Some(nodes) = self.out.levels.get_mut(at.level) else {
            return true;
        };
        nodes.push(TreeNode {
            pgno: node.pgno,
            role: if leaf {
                PageRole::Leaf
            } else {
                PageRole::Branch
            },
            txnid: node.txnid(),
            entries: n,
            used_bytes: HEADER + page::live_bytes(node.bytes()),
            first_key: key(first),
            last_key: key(n - 1),
        });
        true
    }

    fn entry(
        &mut self,
        node: &Node<'a>,
        i: usize,
        _key: Result<&'a [u8]>,
        _at: &At<'a, '_>,
    ) -> bool {
        if !node.is_leaf() {
            return true;
        }
        if let Ok(LeafValue::Overflow { len, .. }) = node.leaf_value(i) {
            self.out.overflow_runs += 1;
            self.out.overflow_pages += page::overflow_pages_needed(len, self.out.page_size);
        }
        true
    }
}

fn decode_meta(
    snap: &Snapshot,
    slot: u64,
    file_bytes: u64,
    boot: Option<[u8; 16]>,
) -> std::result::Result<MetaInfo, String> {
    let ps = snap.pages.page_size;
    let bytes = snap
        .pages
        .map
        .get(slot as usize * ps, META_READ_LEN, file_bytes as usize)
        .ok_or_else(|| "meta page missing (file too short)".to_string())?;
    Meta::decode(bytes, slot)
        .map(|m| MetaInfo {
            stale: !m.trusted(boot),
            one_sync_pages: m.one_sync.then(|| Meta::listed(bytes).0.len()),
            ..MetaInfo::from(m)
        })
        .map_err(|e| e.to_string())
}

fn decode_entries(node: &Node<'_>) -> Vec<EntryInfo> {
    (0..node.count())
        .map(|i| {
            let offset = node.entry_offset(i);
            let key = match node.key(i) {
                Ok(k) => k.to_vec(),
                Err(e) => {
                    return EntryInfo {
                        index: i,
                        offset,
                        key: Vec::new(),
                        value: EntryValue::Invalid(e.to_string()),
                    }
                }
            };
            let value = if node.is_leaf() {
                match node.leaf_value(i) {
                    Ok(LeafValue::Inline(v)) => EntryValue::Inline(v.to_vec()),
                    Ok(LeafValue::Overflow { pgno, len }) => EntryValue::Overflow { pgno, len },
                    Ok(LeafValue::Dups(b)) => EntryValue::Dups(b.to_vec()),
                    Ok(LeafValue::Nested(b)) => match TableRecord::decode(b, node.pgno) {
                        Ok(r) => EntryValue::Nested {
                            root: r.root,
                            values: r.entries,
                            depth: r.depth,
                        },
                        Err(e) => EntryValue::Invalid(e.to_string()),
                    },
                    Err(e) => EntryValue::Invalid(e.to_string()),
                }
            } else {
                match node.child(i) {
                    Ok(c) => EntryValue::Child(c),
                    Err(e) => EntryValue::Invalid(e.to_string()),
                }
            };
            EntryInfo {
                index: i,
                offset,
                key,
                value,
            }
        })
        .collect()
}
