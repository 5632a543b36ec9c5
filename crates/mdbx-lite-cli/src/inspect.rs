//! Inspection: `pages`, `page`, `tree`, `readers`, `residency`.

use std::io::Write;

use mdbx_lite::inspect::{EntryValue, PageInfo, PageSummary};
use serde_json::json;

use crate::util::{bytes, escape_short, num, open_ro, percent, CliError, CliResult};
use crate::{PageArgs, PagesArgs, ReadersArgs, ResidencyArgs, TreeArgs};

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn summary_json(p: &PageSummary) -> serde_json::Value {
    json!({
        "pgno": p.pgno,
        "kind": p.role.name(),
        "owner": p.owner.label(),
        "level": p.level,
        "txnid": p.txnid,
        "entries": p.entries,
        "used_bytes": p.used_bytes,
        "fill": (p.fill() * 1000.0).round() / 1000.0,
    })
}

pub fn pages(a: &PagesArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let pages = env.pages().map_err(|e| CliError::db(&a.db, e))?;
    if a.json {
        let v: Vec<_> = pages.map(|p| summary_json(&p)).collect();
        writeln!(out, "{}", serde_json::to_string(&v).unwrap_or_default())?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:>10}  {:<13} {:<20} {:>5} {:>10} {:>7} {:>6}",
        "page", "kind", "table", "level", "txn", "entries", "fill"
    )?;
    for p in pages {
        writeln!(
            out,
            "{:>10}  {:<13} {:<20} {:>5} {:>10} {:>7} {:>6}",
            p.pgno,
            p.role.name(),
            p.owner.label(),
            opt(p.level),
            opt(p.txnid),
            p.entries,
            percent(p.used_bytes as u64, p.page_size as u64)
        )?;
    }
    Ok(0)
}

fn hexdump(bytes: &[u8], out: &mut dyn Write) -> std::io::Result<()> {
    let mut prev: Option<&[u8]> = None;
    let mut starred = false;
    for (i, row) in bytes.chunks(16).enumerate() {
        if prev == Some(row) && i * 16 + 16 < bytes.len() {
            if !starred {
                writeln!(out, "*")?;
                starred = true;
            }
            continue;
        }
        starred = false;
        prev = Some(row);
        let hex: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = row
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(out, "{:06x}  {:<47}  |{ascii}|", i * 16, hex.join(" "))?;
    }
    Ok(())
}

fn print_page(p: &PageInfo, hex: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let s = &p.summary;
    let h = &p.header;
    writeln!(out, "page {} ({} bytes)", s.pgno, s.page_size)?;
    writeln!(out, "  role: {}", s.role.name())?;
    writeln!(out, "  owner: {}", s.owner.label())?;
    if let Some(l) = s.level {
        writeln!(out, "  level: {l} (0 = root)")?;
    }
    writeln!(
        out,
        "  fill: {} of {} bytes ({})",
        s.used_bytes,
        s.page_size,
        percent(s.used_bytes as u64, s.page_size as u64)
    )?;
    if let Some(start) = p.run_start {
        writeln!(
            out,
            "  continuation of the overflow run starting at page {start} (no header)"
        )?;
    } else {
        let ck = match h.computed_checksum {
            Some(c) if c == h.checksum => "ok".to_string(),
            Some(c) => format!("MISMATCH, computed {c:08x}"),
            None => "not computed".to_string(),
        };
        writeln!(out, "header:")?;
        writeln!(out, "  checksum: {:08x} ({ck})", h.checksum)?;
        writeln!(
            out,
            "  kind: {} ({})",
            h.kind_byte,
            h.kind.unwrap_or("unknown")
        )?;
        writeln!(out, "  flags: {:#04x}", h.flags)?;
        writeln!(out, "  count: {}", h.count)?;
        writeln!(out, "  page number: {}", h.pgno)?;
        writeln!(out, "  txn: {}", h.txnid)?;
        if h.kind == Some("overflow") {
            writeln!(out, "  run length: {} pages", h.upper)?;
        } else {
            writeln!(out, "  upper: {}", h.upper)?;
            writeln!(
                out,
                "  prefix: {} bytes {}",
                h.prefix_len,
                escape_short(&p.prefix, 64)
            )?;
        }
    }
    match &p.meta {
        Some(Ok(m)) => {
            writeln!(out, "meta:")?;
            writeln!(out, "  txn: {}", m.txnid)?;
            writeln!(out, "  page size: {}", m.page_size)?;
            writeln!(out, "  high-water page: {}", m.high_water)?;
            writeln!(out, "  growth step: {}", m.growth_step)?;
            for (name, t) in [("main", m.main), ("catalog", m.catalog), ("free", m.free)] {
                writeln!(
                    out,
                    "  {name}: root {}, depth {}, {} entries, {} branch / {} leaf / {} overflow pages",
                    t.root, t.depth, t.entries, t.branch_pages, t.leaf_pages, t.overflow_pages
                )?;
            }
        }
        Some(Err(e)) => writeln!(out, "meta: INVALID: {e}")?,
        None => {}
    }
    if let Some(problem) = &p.problem {
        writeln!(out, "cannot decode entries: {problem}")?;
    }
    if !p.entries.is_empty() {
        writeln!(out, "entries:")?;
    }
    for e in &p.entries {
        let key = escape_short(&e.key, 48);
        match &e.value {
            EntryValue::Child(c) if e.index == 0 => {
                writeln!(out, "  [{}] @{} (-inf) -> page {c}", e.index, e.offset)?
            }
            EntryValue::Child(c) => {
                writeln!(out, "  [{}] @{} {key} -> page {c}", e.index, e.offset)?
            }
            EntryValue::Inline(v) => writeln!(
                out,
                "  [{}] @{} {key} = {} ({} bytes)",
                e.index,
                e.offset,
                escape_short(v, 48),
                v.len()
            )?,
            EntryValue::Overflow { pgno, len } => writeln!(
                out,
                "  [{}] @{} {key} = overflow run at page {pgno} ({len} bytes)",
                e.index, e.offset
            )?,
            EntryValue::Dups(b) => writeln!(
                out,
                "  [{}] @{} {key} = several values inline ({} bytes)",
                e.index,
                e.offset,
                b.len()
            )?,
            EntryValue::Nested {
                root,
                values,
                depth,
            } => writeln!(
                out,
                "  [{}] @{} {key} = nested tree at page {root} ({values} values, depth {depth})",
                e.index, e.offset
            )?,
            EntryValue::Invalid(why) => {
                writeln!(out, "  [{}] @{} {key}: INVALID: {why}", e.index, e.offset)?
            }
        }
    }
    if hex {
        writeln!(out, "bytes:")?;
        hexdump(&p.bytes, out)?;
    }
    Ok(())
}

pub fn page(a: &PageArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let info = env.page_info(a.pgno).map_err(|e| CliError::db(&a.db, e))?;
    print_page(&info, a.hex, out)?;
    Ok(0)
}

pub fn tree(a: &TreeArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let t = env
        .tree(a.table.as_deref())
        .map_err(|e| CliError::db(&a.db, e))?;
    let name = match &a.table {
        Some(n) => format!("table {n:?}"),
        None => "main table".to_string(),
    };
    writeln!(
        out,
        "{name}: {} entries, depth {}, root page {}",
        num(t.info.entries),
        t.info.depth,
        t.info.root
    )?;
    for (level, nodes) in t.levels.iter().enumerate() {
        let entries: usize = nodes.iter().map(|n| n.entries).sum();
        let used: usize = nodes.iter().map(|n| n.used_bytes).sum();
        let kind = if level + 1 == t.levels.len() {
            "leaf"
        } else {
            "branch"
        };
        writeln!(
            out,
            "level {level}: {} {kind} pages, {} entries, fill {}",
            num(nodes.len() as u64),
            num(entries as u64),
            percent(used as u64, (nodes.len() * t.page_size) as u64)
        )?;
        let show = if a.verbose { nodes.len() } else { 8 };
        for n in nodes.iter().take(show) {
            writeln!(
                out,
                "  page {:>8}  {:<7} txn {:>6}  {:>4} entries  {:>6}  {} .. {}",
                n.pgno,
                n.role.name(),
                n.txnid,
                n.entries,
                percent(n.used_bytes as u64, t.page_size as u64),
                escape_short(&n.first_key, 24),
                escape_short(&n.last_key, 24)
            )?;
        }
        if nodes.len() > show {
            writeln!(
                out,
                "  ... {} more pages (-v lists all)",
                nodes.len() - show
            )?;
        }
    }
    if t.overflow_runs > 0 {
        writeln!(
            out,
            "overflow: {} values in {} pages",
            num(t.overflow_runs),
            num(t.overflow_pages)
        )?;
    }
    Ok(0)
}

pub fn readers(a: &ReadersArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let cleared = if a.clear_stale {
        if !env.readers_shared() {
            return Err(CliError::db(
                &a.db,
                mdbx_lite::Error::Invalid(
                    "no writable lock file: cannot clear reader slots".into(),
                ),
            ));
        }
        Some(env.reader_check())
    } else {
        None
    };
    let st = env.stat().map_err(|e| CliError::db(&a.db, e))?;
    let list = env.readers();
    let last = env.last_txnid();
    // Our own stat() read transaction has ended; list only other readers.
    let list: Vec<_> = list.into_iter().filter(|r| !r.this_process).collect();
    let scope = if env.readers_shared() {
        "all processes"
    } else {
        "this process only"
    };
    if a.json {
        let v = json!({
            "max_readers": st.max_readers,
            "last_txnid": last,
            "scope": scope,
            "cleared": cleared,
            "readers": list.iter().map(|r| json!({
                "slot": r.slot, "pid": r.pid, "txnid": r.txnid,
                "lag": last.saturating_sub(r.txnid), "alive": r.alive,
            })).collect::<Vec<_>>(),
            "savepoints": st.savepoints.iter().map(|s| json!({
                "name": s.name, "txnid": s.txnid, "lag": last.saturating_sub(s.txnid),
                "held_pages": s.held_pages,
            })).collect::<Vec<_>>(),
        });
        crate::util::write_json(out, &v)?;
        return Ok(0);
    }
    writeln!(out, "max readers: {}, last txn: {last}", st.max_readers)?;
    if !env.readers_shared() {
        writeln!(
            out,
            "note: the lock file is missing or not writable; readers of other processes are not visible"
        )?;
    }
    if let Some(n) = cleared {
        writeln!(out, "cleared {n} stale slot(s)")?;
    }
    if list.is_empty() {
        writeln!(out, "no active readers")?;
    } else {
        writeln!(
            out,
            "{:>5} {:>8} {:>10} {:>6}  state",
            "slot", "pid", "txn", "lag"
        )?;
        for r in list {
            writeln!(
                out,
                "{:>5} {:>8} {:>10} {:>6}  {}",
                r.slot,
                r.pid,
                r.txnid,
                last.saturating_sub(r.txnid),
                if r.alive {
                    "alive"
                } else {
                    "stale (process gone)"
                }
            )?;
        }
    }
    // Persistent savepoints hold pages as readers do.
    for sp in &st.savepoints {
        writeln!(
            out,
            "savepoint {:?}: txn {}, lag {}, holds {} free pages",
            sp.name,
            sp.txnid,
            last.saturating_sub(sp.txnid),
            num(sp.held_pages)
        )?;
    }
    Ok(0)
}

pub fn residency(a: &ResidencyArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let r = env.residency().map_err(|e| CliError::db(&a.db, e))?;
    if a.json {
        let v = json!({
            "page_size": r.page_size,
            "os_page_size": r.os_page_size,
            "file_bytes": r.file_bytes,
            "resident_bytes": r.resident_bytes,
            "groups": r.groups.iter().map(|g| json!({
                "owner": g.owner.label(), "pages": g.pages, "bytes": g.bytes,
                "resident_bytes": g.resident_bytes,
            })).collect::<Vec<_>>(),
        });
        crate::util::write_json(out, &v)?;
        return Ok(0);
    }
    writeln!(
        out,
        "file: {} resident of {} ({})",
        bytes(r.resident_bytes),
        bytes(r.file_bytes),
        percent(r.resident_bytes, r.file_bytes)
    )?;
    writeln!(
        out,
        "{:<24} {:>10} {:>12} {:>12} {:>7}",
        "owner", "pages", "size", "resident", "%"
    )?;
    for g in &r.groups {
        writeln!(
            out,
            "{:<24} {:>10} {:>12} {:>12} {:>7}",
            g.owner.label(),
            num(g.pages),
            bytes(g.bytes),
            bytes(g.resident_bytes),
            percent(g.resident_bytes, g.bytes)
        )?;
    }
    Ok(0)
}
