//! `mdbx-lite stat`: environment, free-space, reader and table statistics.

use std::io::Write;

use mdbx_lite::inspect::{MetaSlot, TreeInfo};
use mdbx_lite::{Env, TableStat};
use serde_json::{json, Value};

use crate::util::{bytes, num, open_ro, CliError, CliResult};
use crate::StatArgs;

pub fn table_json(name: Option<&str>, s: &TableStat) -> Value {
    json!({
        "name": name,
        "entries": s.entries,
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
    writeln!(out, "  Tree depth: {}", s.depth)?;
    writeln!(out, "  Branch pages: {}", num(s.branch_pages))?;
    writeln!(out, "  Leaf pages: {}", num(s.leaf_pages))?;
    writeln!(out, "  Overflow pages: {}", num(s.overflow_pages))?;
    writeln!(out, "  Entries: {}", num(s.entries))
}

/// The tables `-a` / `-s` select, main first: `(None, ...)` is the main table.
fn tables(env: &Env, a: &StatArgs) -> mdbx_lite::Result<Vec<(Option<String>, TableStat)>> {
    let rtx = env.begin_read()?;
    let mut v = Vec::new();
    if let Some(n) = &a.table {
        v.push((Some(n.clone()), rtx.open_table(n)?.stat()));
        return Ok(v);
    }
    v.push((None, rtx.main_table().stat()));
    if a.all {
        for n in rtx.list_tables()? {
            let s = rtx.open_table(&n)?.stat();
            v.push((Some(n), s));
        }
    }
    Ok(v)
}

pub fn run(a: &StatArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let dberr = |e| CliError::db(&a.db, e);
    let st = env.stat().map_err(dberr)?;
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
                "metas": metas.iter().map(meta_json).collect::<Vec<_>>(),
            },
            "freelist": {
                "free_pages": st.free_pages,
                "reusable_pages": st.reusable_pages,
                "held_pages": st.held_pages,
                "tree": current.map(|m| tree_json(&m.free)),
            },
            "readers": {
                "readers": st.readers,
                "max_readers": st.max_readers,
                "oldest_reader_lag": st.oldest_reader_lag,
            },
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
        for m in &metas {
            let cur = if m.current { " (current)" } else { "" };
            match &m.meta {
                Ok(i) => writeln!(
                    out,
                    "  Meta {}: txn {}, {} pages, {}{cur}",
                    m.slot,
                    i.txnid,
                    num(i.high_water),
                    match (i.steady, i.stale) {
                        (true, _) => "steady",
                        (false, false) => "weak",
                        (false, true) => "weak, from before a restart (ignored)",
                    }
                )?,
                Err(e) => writeln!(out, "  Meta {}: INVALID: {e}{cur}", m.slot)?,
            }
        }
    }
    if a.free {
        writeln!(out, "Freelist Status")?;
        if let Some(m) = current {
            writeln!(out, "  Tree depth: {}", m.free.depth)?;
            writeln!(out, "  Branch pages: {}", num(m.free.branch_pages))?;
            writeln!(out, "  Leaf pages: {}", num(m.free.leaf_pages))?;
            writeln!(out, "  Entries: {}", num(m.free.entries))?;
        }
        writeln!(out, "  Free pages: {}", num(st.free_pages))?;
        writeln!(out, "  Reusable now: {}", num(st.reusable_pages))?;
        writeln!(out, "  Held by readers: {}", num(st.held_pages))?;
    }
    if a.readers {
        writeln!(out, "Reader Table Status")?;
        writeln!(out, "  Max readers: {}", st.max_readers)?;
        writeln!(out, "  Readers in use: {}", st.readers)?;
        writeln!(
            out,
            "  Oldest reader lag: {} transactions",
            st.oldest_reader_lag
        )?;
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
