//! `mdbx-lite check`: the full consistency check, read-only.

use std::io::Write;

use mdbx_lite::check::CheckReport;
use serde_json::json;

use crate::util::{bytes, num, open_ro, percent, progress, CliError, CliResult, EXIT_PROBLEMS};
use crate::CheckArgs;

pub fn run(a: &CheckArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let file_bytes = crate::util::file_len(&a.db);
    let pb = progress(file_bytes, 0, "check");
    let report = env
        .check_with_progress(&mut |done, total| {
            pb.set_length(total);
            pb.set_position(done);
        })
        .map_err(|e| CliError::db(&a.db, e));
    pb.finish_and_clear();
    let report = report?;
    if a.json {
        print_json(&report, out)?;
    } else {
        print_text(a, &report, out)?;
    }
    if report.is_ok() {
        return Ok(0);
    }
    let n = report.problems.len() as u64 + report.more_problems;
    let s = if n == 1 { "" } else { "s" };
    Err(CliError::new(Some(&a.db), format!("{n} problem{s} found")).with_code(EXIT_PROBLEMS))
}

fn print_json(r: &CheckReport, out: &mut dyn Write) -> std::io::Result<()> {
    let v = json!({
        "ok": r.is_ok(),
        "problems": r.problems.iter().map(|p| json!({"page": p.page, "message": p.message})).collect::<Vec<_>>(),
        "more_problems": r.more_problems,
        "txnid": r.txnid,
        "page_size": r.page_size,
        "high_water": r.high_water,
        "file_bytes": r.file_bytes,
        "pages": {
            "meta": r.pages.meta,
            "branch": r.pages.branch,
            "leaf": r.pages.leaf,
            "overflow": r.pages.overflow,
            "internal": r.pages.internal,
            "free": r.pages.free,
            "leaked": r.pages.leaked,
        },
        "payload_bytes": r.payload_bytes,
        "tables": r.tables.iter().map(|(n, s)| crate::stat::table_json(n.as_deref(), s)).collect::<Vec<_>>(),
    });
    crate::util::write_json(out, &v)
}

fn print_text(a: &CheckArgs, r: &CheckReport, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "checking {} (txn {}, page size {}, {} pages, {})",
        a.db.display(),
        r.txnid,
        r.page_size,
        num(r.high_water),
        bytes(r.file_bytes)
    )?;
    for p in &r.problems {
        writeln!(out, "  problem: {p}")?;
    }
    if r.more_problems > 0 {
        writeln!(out, "  ... and {} more problems", num(r.more_problems))?;
    }
    let p = &r.pages;
    writeln!(
        out,
        "pages: {} meta, {} branch, {} leaf, {} overflow, {} catalog/free-tree, {} free, {} leaked",
        num(p.meta),
        num(p.branch),
        num(p.leaf),
        num(p.overflow),
        num(p.internal),
        num(p.free),
        num(p.leaked)
    )?;
    let ps = r.page_size as u64;
    let data_pages = p.branch + p.leaf + p.overflow;
    writeln!(
        out,
        "space: {} of data in {} of table pages ({} used); free {}; file {}",
        bytes(r.payload_bytes),
        bytes(data_pages * ps),
        percent(r.payload_bytes, data_pages * ps),
        bytes(p.free * ps),
        bytes(r.file_bytes)
    )?;
    for (name, s) in &r.tables {
        let label = match name {
            None => "main".to_string(),
            Some(n) => format!("{n:?}"),
        };
        writeln!(
            out,
            "table {label}: {} entries, depth {}, {} branch + {} leaf + {} overflow pages",
            num(s.entries),
            s.depth,
            num(s.branch_pages),
            num(s.leaf_pages),
            num(s.overflow_pages)
        )?;
    }
    if r.is_ok() {
        writeln!(out, "no problems found")?;
    }
    Ok(())
}
