//! `mdbx-lite stat`: environment, free-space, reader and table statistics.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use mdbx_lite::inspect::{EntryValue, MetaSlot, PageOwner, PageRole, TreeInfo};
use mdbx_lite::{Env, EnvStat, TableStat};
use serde_json::{json, Value};

use crate::util::{bytes, file_len, num, open_ro, progress, CliError, CliResult};
use crate::StatArgs;

pub fn table_json(name: Option<&str>, s: &TableStat) -> Value {
    json!({
        "name": name,
        "kind": s.kind,
        "key_order": s.key_order,
        "entries": s.entries,
        "keys": s.keys,
        "depth": s.depth,
        "branch_pages": s.branch_pages,
        "leaf_pages": s.leaf_pages,
        "overflow_pages": s.overflow_pages,
        "page_size": s.page_size,
    })
}

fn tree_json(t: &TreeInfo) -> Value {
    json!({
        "root": t.root,
        "depth": t.depth,
        "entries": t.entries,
        "branch_pages": t.branch_pages,
        "leaf_pages": t.leaf_pages,
        "overflow_pages": t.overflow_pages,
    })
}

fn meta_json(m: &MetaSlot) -> Value {
    match &m.meta {
        Ok(i) => json!({
            "slot": m.slot,
            "current": m.current,
            "valid": true,
            "txnid": i.txnid,
            "steady": i.steady,
            "one_sync_pages": i.one_sync_pages,
            "stale": i.stale,
            "high_water": i.high_water,
            "main": tree_json(&i.main),
            "catalog": tree_json(&i.catalog),
            "free": tree_json(&i.free),
        }),
        Err(e) => json!({"slot": m.slot, "current": m.current, "valid": false, "error": e}),
    }
}

pub fn print_table(out: &mut dyn Write, title: &str, s: &TableStat) -> std::io::Result<()> {
    writeln!(out, "Status of {title}")?;
    if s.dup_sort.is_some() {
        writeln!(out, "  Kind: {}", s.kind)?;
    }
    if s.key_order != "bytes" {
        writeln!(out, "  Key order: {}", s.key_order)?;
    }
    writeln!(out, "  Tree depth: {}", s.depth)?;
    writeln!(out, "  Branch pages: {}", num(s.branch_pages))?;
    writeln!(out, "  Leaf pages: {}", num(s.leaf_pages))?;
    writeln!(out, "  Overflow pages: {}", num(s.overflow_pages))?;
    writeln!(out, "  Entries: {}", num(s.entries))?;
    if s.dup_sort.is_some() {
        writeln!(out, "  Keys: {}", num(s.keys))?;
        if s.fixed_value_size > 0 {
            writeln!(out, "  Value size: {}", s.fixed_value_size)?;
        }
    }
    Ok(())
}

/// The pages one transaction freed: every chunk of its free-tree group, in page order.
pub struct FreeGroup {
    pub txnid: u64,
    pub pages: Vec<u64>,
}

impl FreeGroup {
    /// Runs of consecutive page numbers, as `(first page, number of pages)`.
    pub fn runs(&self) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &p in &self.pages {
            match runs.last_mut() {
                Some((first, n)) if *first + *n == p => *n += 1,
                _ => runs.push((p, 1)),
            }
        }
        runs
    }

    /// The longest run (`maxspan` in mdb_stat's output).
    pub fn maxspan(&self) -> u64 {
        self.runs().iter().map(|&(_, n)| n).max().unwrap_or(0)
    }
}

/// Length of a free-tree key (transaction id and chunk number, big-endian) and of one
/// entry of its value (page number and birth, little-endian): docs/format.md.
const FREE_KEY_LEN: usize = 12;
const FREE_ENTRY_LEN: usize = 16;

/// Decode one entry of a free-tree leaf: the freeing transaction and its pages.
fn free_entry(pgno: u64, e: &mdbx_lite::inspect::EntryInfo) -> Result<(u64, Vec<u64>), String> {
    let bad = |what: &str| format!("free-tree page {pgno}, entry {}: {what}", e.index);
    if e.key.len() != FREE_KEY_LEN {
        return Err(bad(&format!("a key of {} bytes", e.key.len())));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&e.key[..8]);
    let EntryValue::Inline(v) = &e.value else {
        return Err(bad("not an inline value"));
    };
    if !v.len().is_multiple_of(FREE_ENTRY_LEN) {
        return Err(bad(&format!("a value of {} bytes", v.len())));
    }
    let pages = v
        .chunks_exact(FREE_ENTRY_LEN)
        .map(|c| {
            let mut p = [0u8; 8];
            p.copy_from_slice(&c[..8]);
            u64::from_le_bytes(p)
        })
        .collect();
    Ok((u64::from_be_bytes(t), pages))
}

/// The free tree's groups, oldest transaction first, read through the inspection API:
/// its leaf pages from `Env::pages`, their entries from `Env::page_info`. Those are
/// separate read transactions, so the listing is retried when a commit lands meanwhile.
pub fn free_groups(env: &Env, db: &Path) -> CliResult<Vec<FreeGroup>> {
    let dberr = |e| CliError::db(db, e);
    for _ in 0..5 {
        let pages = env.pages().map_err(dberr)?;
        let txnid = pages.txnid();
        let leaves: Vec<u64> = pages
            .filter(|p| p.owner == PageOwner::FreeTree && p.role == PageRole::Leaf)
            .map(|p| p.pgno)
            .collect();
        let mut groups: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut same_snapshot = true;
        // Each `page_info` walks the trees again: slow on large files, so show progress.
        let pb = progress(file_len(db), leaves.len() as u64, "free");
        for (i, &pgno) in leaves.iter().enumerate() {
            pb.set_position(i as u64);
            let info = env.page_info(pgno).map_err(dberr)?;
            if info.summary.owner != PageOwner::FreeTree || info.summary.role != PageRole::Leaf {
                same_snapshot = false;
                break;
            }
            for e in &info.entries {
                let (t, p) = free_entry(pgno, e).map_err(|m| CliError::new(Some(db), m))?;
                groups.entry(t).or_default().extend(p);
            }
        }
        pb.finish_and_clear();
        if same_snapshot && env.last_txnid() == txnid {
            return Ok(groups
                .into_iter()
                .map(|(txnid, mut pages)| {
                    pages.sort_unstable();
                    FreeGroup { txnid, pages }
                })
                .collect());
        }
    }
    Err(CliError::new(
        Some(db),
        "the free pages changed during every attempt to list them (busy writers); try again",
    ))
}

fn free_groups_json(groups: &[FreeGroup], with_pages: bool) -> Value {
    Value::Array(
        groups
            .iter()
            .map(|g| {
                let mut v = json!({
                    "txnid": g.txnid,
                    "pages": g.pages.len(),
                    "maxspan": g.maxspan(),
                });
                if with_pages {
                    v["page_list"] = json!(g.pages);
                }
                v
            })
            .collect(),
    )
}

/// Reader slots of other processes (this one has no read transaction open here).
fn other_readers(env: &Env) -> Vec<mdbx_lite::ReaderInfo> {
    env.readers()
        .into_iter()
        .filter(|r| !r.this_process)
        .collect()
}

fn readers_json(env: &Env, st: &EnvStat, cleared: Option<usize>) -> Value {
    let last = st.last_txnid;
    json!({
        "readers": st.readers,
        "max_readers": st.max_readers,
        "oldest_reader_lag": st.oldest_reader_lag,
        "shared": env.readers_shared(),
        "cleared": cleared,
        "slots": other_readers(env).iter().map(|r| json!({
            "slot": r.slot, "pid": r.pid, "txnid": r.txnid,
            "lag": last.saturating_sub(r.txnid), "alive": r.alive,
        })).collect::<Vec<_>>(),
        "savepoints": st.savepoints.iter().map(|s| json!({
            "name": s.name, "txnid": s.txnid, "lag": last.saturating_sub(s.txnid),
            "held_pages": s.held_pages,
        })).collect::<Vec<_>>(),
    })
}

/// Persistent savepoints hold pages as readers do: listed with the readers.
fn print_savepoints(out: &mut dyn Write, st: &EnvStat) -> std::io::Result<()> {
    if st.savepoints.is_empty() {
        return Ok(());
    }
    writeln!(out, "  Persistent savepoints: {}", st.savepoints.len())?;
    writeln!(
        out,
        "  {:>10} {:>6} {:>12}  name",
        "txn", "lag", "held pages"
    )?;
    for sp in &st.savepoints {
        writeln!(
            out,
            "  {:>10} {:>6} {:>12}  {}",
            sp.txnid,
            st.last_txnid.saturating_sub(sp.txnid),
            num(sp.held_pages),
            sp.name
        )?;
    }
    Ok(())
}

fn print_readers(out: &mut dyn Write, env: &Env, st: &EnvStat) -> std::io::Result<()> {
    writeln!(out, "  Max readers: {}", st.max_readers)?;
    writeln!(out, "  Readers in use: {}", st.readers)?;
    writeln!(
        out,
        "  Oldest reader lag: {} transactions",
        st.oldest_reader_lag
    )?;
    if !env.readers_shared() {
        writeln!(
            out,
            "  (the lock file is missing or not writable: readers of other processes are not visible)"
        )?;
    }
    let list = other_readers(env);
    if list.is_empty() {
        writeln!(out, "  (no active readers)")?;
        return print_savepoints(out, st);
    }
    writeln!(
        out,
        "  {:>5} {:>8} {:>10} {:>6}  state",
        "slot", "pid", "txn", "lag"
    )?;
    for r in list {
        writeln!(
            out,
            "  {:>5} {:>8} {:>10} {:>6}  {}",
            r.slot,
            r.pid,
            r.txnid,
            st.last_txnid.saturating_sub(r.txnid),
            if r.alive {
                "alive"
            } else {
                "stale (process gone)"
            }
        )?;
    }
    print_savepoints(out, st)
}

/// The tables `-a` / `-s` select, main first: `(None, ...)` is the main table.
fn tables(env: &Env, a: &StatArgs) -> mdbx_lite::Result<Vec<(Option<String>, TableStat)>> {
    let rtx = env.begin_read()?;
    let mut v = Vec::new();
    if let Some(n) = &a.table {
        v.push((Some(n.clone()), rtx.table_stat(n)?));
        return Ok(v);
    }
    v.push((None, rtx.main_table().stat()));
    if a.all {
        for n in rtx.list_tables()? {
            let s = rtx.table_stat(&n)?;
            v.push((Some(n), s));
        }
    }
    Ok(v)
}

pub fn run(a: &StatArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let dberr = |e| CliError::db(&a.db, e);
    if a.readers >= 2 && !env.readers_shared() {
        return Err(CliError::new(
            Some(&a.db),
            "-rr: no writable lock file, so stale reader slots cannot be cleared",
        ));
    }
    // JSON is one snapshot: with -rr it shows the table after the clearing.
    let cleared = (a.json && a.readers >= 2).then(|| env.reader_check());
    let st = env.stat().map_err(dberr)?;
    let groups = if a.free >= 2 {
        Some(free_groups(&env, &a.db)?)
    } else {
        None
    };
    let metas = env.metas().map_err(dberr)?;
    let tabs = tables(&env, a).map_err(dberr)?;
    let current = metas
        .iter()
        .find(|m| m.current)
        .and_then(|m| m.meta.clone().ok());
    if a.json {
        let v = json!({
            "path": a.db.display().to_string(),
            "environment": {
                "page_size": st.page_size,
                "file_bytes": st.file_bytes,
                "mapped_bytes": st.mapped_bytes,
                "resident_bytes": st.resident_bytes,
                "last_txnid": st.last_txnid,
                "high_water_pages": st.high_water_pages,
                "max_readers": st.max_readers,
                "named_tables": st.tables,
                "savepoints": st.savepoints.len(),
                "metas": metas.iter().map(meta_json).collect::<Vec<_>>(),
            },
            "freelist": {
                "free_pages": st.free_pages,
                "reusable_pages": st.reusable_pages,
                "held_pages": st.held_pages,
                "tree": current.map(|m| tree_json(&m.free)),
                "groups": groups.as_deref().map(|g| free_groups_json(g, a.free >= 3)),
            },
            "readers": readers_json(&env, &st, cleared),
            "tables": tabs.iter().map(|(n, s)| table_json(n.as_deref(), s)).collect::<Vec<_>>(),
        });
        crate::util::write_json(out, &v)?;
        return Ok(0);
    }
    if a.env {
        writeln!(out, "Environment Info")?;
        writeln!(out, "  Path: {}", a.db.display())?;
        writeln!(out, "  Page size: {}", st.page_size)?;
        writeln!(
            out,
            "  File size: {} ({} bytes)",
            bytes(st.file_bytes),
            num(st.file_bytes)
        )?;
        writeln!(out, "  Mapped: {}", bytes(st.mapped_bytes))?;
        writeln!(
            out,
            "  Resident in page cache: {} ({})",
            bytes(st.resident_bytes),
            crate::util::percent(st.resident_bytes, st.file_bytes)
        )?;
        writeln!(out, "  Last transaction ID: {}", st.last_txnid)?;
        writeln!(
            out,
            "  Pages allocated: {} (high-water mark, metas included)",
            num(st.high_water_pages)
        )?;
        writeln!(out, "  Max readers: {}", st.max_readers)?;
        writeln!(out, "  Named tables: {}", st.tables)?;
        writeln!(out, "  Persistent savepoints: {}", st.savepoints.len())?;
        for m in &metas {
            let cur = if m.current { " (current)" } else { "" };
            match &m.meta {
                Ok(i) => writeln!(
                    out,
                    "  Meta {}: txn {}, {} pages, {}{cur}",
                    m.slot,
                    i.txnid,
                    num(i.high_water),
                    match (i.steady, i.stale, i.one_sync_pages) {
                        (true, false, Some(n)) => format!("steady, one sync ({n} pages listed)"),
                        (true, true, Some(n)) => format!(
                            "one sync ({n} pages listed), from before a restart, a page \
                             did not reach the disk (ignored)"
                        ),
                        (true, _, None) => "steady".to_string(),
                        (false, false, _) => "weak".to_string(),
                        (false, true, _) => "weak, from before a restart (ignored)".to_string(),
                    }
                )?,
                Err(e) => writeln!(out, "  Meta {}: INVALID: {e}{cur}", m.slot)?,
            }
        }
    }
    if a.free > 0 {
        writeln!(out, "Freelist Status")?;
        if let Some(m) = current {
            writeln!(out, "  Tree depth: {}", m.free.depth)?;
            writeln!(out, "  Branch pages: {}", num(m.free.branch_pages))?;
            writeln!(out, "  Leaf pages: {}", num(m.free.leaf_pages))?;
            writeln!(out, "  Overflow pages: {}", num(m.free.overflow_pages))?;
            writeln!(out, "  Entries: {}", num(m.free.entries))?;
        }
        // As mdb_stat -ff / -fff: one line per freeing transaction, then its pages.
        for g in groups.iter().flatten() {
            writeln!(
                out,
                "    Transaction {}, {} pages, maxspan {}",
                g.txnid,
                g.pages.len(),
                g.maxspan()
            )?;
            if a.free >= 3 {
                for (first, n) in g.runs() {
                    if n > 1 {
                        writeln!(out, "     {first:>9}[{n}]")?;
                    } else {
                        writeln!(out, "     {first:>9}")?;
                    }
                }
            }
        }
        writeln!(out, "  Free pages: {}", num(st.free_pages))?;
        writeln!(out, "  Reusable now: {}", num(st.reusable_pages))?;
        writeln!(
            out,
            "  Held by readers and savepoints: {}",
            num(st.held_pages)
        )?;
        for sp in &st.savepoints {
            writeln!(
                out,
                "    of which savepoint {:?} (txn {}): {}",
                sp.name,
                sp.txnid,
                num(sp.held_pages)
            )?;
        }
    }
    if a.readers > 0 {
        writeln!(out, "Reader Table Status")?;
        print_readers(out, &env, &st)?;
        if a.readers >= 2 {
            // As mdb_stat -rr: clear the stale slots, then show the table again.
            let n = env.reader_check();
            writeln!(out, "  {n} stale readers cleared.")?;
            let st = env.stat().map_err(dberr)?;
            print_readers(out, &env, &st)?;
        }
    }
    for (name, s) in &tabs {
        let title = match name {
            None => "Main DB".to_string(),
            Some(n) => format!("table {n:?}"),
        };
        print_table(out, &title, s)?;
    }
    Ok(0)
}
