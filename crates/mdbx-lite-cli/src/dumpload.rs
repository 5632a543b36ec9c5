//! `mdbx-lite dump` and `mdbx-lite load`: LMDB's mdb_dump text format, via
//! `mdbx_lite::dump`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use mdbx_lite::dump::{DumpError, DumpFormat, DumpHeader, DumpReader, DumpWriter};
use mdbx_lite::{DupSort, Env, Error, KeyOrder, PutFlags, WriteTxn};

use crate::util::{
    create_beside, file_len, open_ro, open_rw, progress, publish, CliError, CliResult,
};
use crate::{DumpArgs, LoadArgs};

/// `maxreaders=` written in dump headers (LMDB's default).
const MAX_READERS: u64 = 126;
/// With `--batch-commits`, commit a load's transaction when it holds this many dirty
/// pages (256 MiB of 4 KiB pages).
const DIRTY_LIMIT: usize = 1 << 16;
/// Entries between checks of the dirty-page count.
const BATCH: u64 = 1 << 14;

/// `mapsize=` for a dump of a file of `file_bytes`: LMDB's loader sizes its map from
/// it (default only 1 MiB), and LMDB's B+tree built by inserts can need several times
/// our compact size, so give it plenty: 4x the file, at least 64 MiB, rounded up to a
/// power of two.
pub fn dump_mapsize(file_bytes: u64) -> u64 {
    file_bytes
        .saturating_mul(4)
        .max(64 << 20)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX / 2 + 1)
}

pub fn dump(a: &DumpArgs, out: &mut dyn Write) -> CliResult<i32> {
    let env = open_ro(&a.db)?;
    let dberr = |e| CliError::db(&a.db, e);
    let rtx = env.begin_read().map_err(dberr)?;
    if a.list {
        for n in rtx.list_tables().map_err(dberr)? {
            writeln!(out, "{n}")?;
        }
        return Ok(0);
    }
    let sections: Vec<Option<String>> = if a.all {
        let names = rtx.list_tables().map_err(dberr)?;
        if names.is_empty() {
            return Err(CliError::new(
                Some(&a.db),
                "does not contain named tables (-a dumps named tables only; omit it to dump the main table)",
            ));
        }
        let main = rtx.main_table().len();
        if main > 0 {
            eprintln!(
                "mdbx-lite: {}: note: -a does not include the main table ({main} entries), as mdb_dump -a; dump it without -a",
                a.db.display()
            );
        }
        names.into_iter().map(Some).collect()
    } else {
        vec![a.table.clone()]
    };
    // Resolve every table before writing anything.
    let mut tables = Vec::with_capacity(sections.len());
    for name in &sections {
        let t = crate::util::read_table(&rtx, name.as_deref(), &a.db)?;
        tables.push((name.clone(), t));
    }
    let file_bytes = file_len(&a.db);
    let total: u64 = tables.iter().map(|(_, t)| t.len()).sum();
    let pb = progress(file_bytes, total, "dump");
    let (sink, sink_path): (Box<dyn Write + '_>, Option<PathBuf>) = match &a.file {
        Some(f) => {
            let file = File::create(f).map_err(|e| CliError::io(f, e))?;
            (
                Box::new(BufWriter::with_capacity(1 << 20, file)),
                Some(f.clone()),
            )
        }
        None => (Box::new(out), None),
    };
    let werr = |e: std::io::Error| match &sink_path {
        Some(p) => CliError::io(p, e),
        None => CliError::from(e),
    };
    let mut w = DumpWriter::new(sink);
    let mut header = DumpHeader::new(if a.print {
        DumpFormat::Print
    } else {
        DumpFormat::Bytevalue
    });
    header.mapsize = Some(dump_mapsize(file_bytes));
    header.maxreaders = Some(MAX_READERS);
    header.page_size = Some(env.page_size() as u64);
    let mut done = 0u64;
    for (name, t) in tables {
        header.database = name;
        header.flags = kind_flags(&t.stat());
        w.write_header(&header).map_err(werr)?;
        for e in t.iter() {
            let (k, v) = e.map_err(dberr)?;
            if k.is_empty() {
                // Sorts first, so said once per table.
                eprintln!(
                    "mdbx-lite: {}: warning: table {} holds an empty key; mdbx-lite load accepts it, LMDB's mdb_load refuses it (MDB_BAD_VALSIZE)",
                    a.db.display(),
                    header.database.as_deref().map_or("(main)".to_string(), |n| format!("{n:?}"))
                );
            }
            w.write_entry(k, v).map_err(werr)?;
            done += 1;
            if done.is_multiple_of(4096) {
                pb.set_position(done);
            }
        }
        w.end_section().map_err(werr)?;
    }
    w.flush().map_err(werr)?;
    pb.finish_and_clear();
    Ok(0)
}

/// The flag lines `mdb_dump` writes for a table of this kind and key order:
/// `duplicates=1` (for Berkeley DB's loader) for a dup-sort table, then each flag in
/// LMDB's order (`reversekey`, `dupsort`, `integerkey`, `dupfixed`, `integerdup`,
/// `reversedup`).
fn kind_flags(s: &mdbx_lite::TableStat) -> Vec<(String, String)> {
    let dup = s.dup_sort;
    let flags = [
        ("duplicates", dup.is_some()),
        ("reversekey", s.key_order == "reverse"),
        ("dupsort", dup.is_some()),
        ("integerkey", s.key_order == "integer"),
        ("dupfixed", dup.is_some_and(|d| d.is_fixed())),
        ("integerdup", dup.is_some_and(|d| d.has_integer_values())),
        ("reversedup", dup.is_some_and(|d| d.has_reverse_values())),
    ];
    flags
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(f, _)| (f.to_string(), "1".to_string()))
        .collect()
}

/// The dup-sort kind (`None`: a plain table) and key order a section's flag lines ask
/// for, or the flags mdbx-lite cannot store faithfully. As `mdb_load`, a flag counts
/// when its keyword is present, and `duplicates` alone (Berkeley DB's) asks for nothing.
fn section_kind(h: &DumpHeader) -> Result<(Option<DupSort>, KeyOrder), Vec<&str>> {
    const KNOWN: [&str; 7] = [
        "duplicates",
        "dupsort",
        "dupfixed",
        "integerdup",
        "reversedup",
        "integerkey",
        "reversekey",
    ];
    let unsupported: Vec<&str> = h
        .flags
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !KNOWN.contains(k))
        .collect();
    if !unsupported.is_empty() {
        return Err(unsupported);
    }
    let order = match (h.has_flag("integerkey"), h.has_flag("reversekey")) {
        (true, true) => return Err(vec!["integerkey with reversekey"]),
        (true, false) => KeyOrder::Integer,
        (false, true) => KeyOrder::Reverse,
        (false, false) => KeyOrder::Bytes,
    };
    let refining = ["dupfixed", "integerdup", "reversedup"];
    if !h.has_flag("dupsort") {
        return match refining.into_iter().find(|f| h.has_flag(f)) {
            Some(_) => Err(vec!["dupfixed, integerdup or reversedup without dupsort"]),
            None => Ok((None, order)),
        };
    }
    let mut kind = DupSort::new().keys(order);
    if h.has_flag("dupfixed") {
        kind = kind.fixed();
    }
    match (h.has_flag("integerdup"), h.has_flag("reversedup")) {
        (true, true) => return Err(vec!["integerdup with reversedup"]),
        (true, false) => kind = kind.integer_values(),
        (false, true) => kind = kind.reverse_values(),
        (false, false) => {}
    }
    Ok((Some(kind), order))
}

/// Page size a new database gets from a dump's `db_pagesize=`, when it is one we support.
fn header_page_size(h: &DumpHeader) -> Option<usize> {
    let ps = usize::try_from(h.page_size?).ok()?;
    ((4096..=65536).contains(&ps) && ps.is_power_of_two()).then_some(ps)
}

struct Loader<'a> {
    args: &'a LoadArgs,
    /// Name of the input, for messages.
    src: PathBuf,
    env: Env,
    txn: Option<WriteTxn>,
    skipped: u64,
}

/// An error of the database while loading `src` (up to `line`, when known): it names
/// the database, not the input, which is not at fault.
fn load_db_err(db: &Path, src: &Path, line: Option<u64>, e: Error) -> CliError {
    let at = match line {
        Some(n) => format!("{} line {n}", src.display()),
        None => src.display().to_string(),
    };
    CliError::new(Some(db), format!("{e} (while loading {at})"))
}

impl Loader<'_> {
    fn dberr(&self, line: Option<u64>, e: Error) -> CliError {
        load_db_err(&self.args.db, &self.src, line, e)
    }

    fn line_err(&self, line: u64, e: impl std::fmt::Display) -> CliError {
        CliError::new(Some(&self.src), format!("line {line}: {e}"))
    }

    fn commit_and_restart(&mut self, line: u64) -> CliResult<()> {
        if let Some(t) = self.txn.take() {
            t.commit().map_err(|e| self.dberr(Some(line), e))?;
        }
        self.txn = Some(
            self.env
                .begin_write()
                .map_err(|e| self.dberr(Some(line), e))?,
        );
        Ok(())
    }

    /// Load the pairs of the current section into dup-sort table `name` of `kind`.
    /// With -N a pair already in the table is kept and counted as skipped.
    fn dup_section<R: BufRead>(
        &mut self,
        r: &mut DumpReader<R>,
        name: &str,
        kind: DupSort,
        derr: &dyn Fn(DumpError) -> CliError,
    ) -> CliResult<()> {
        let (mut k, mut v) = (Vec::new(), Vec::new());
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(CliError::new(None, "internal error: no transaction"));
            };
            let dberr = |e| load_db_err(&self.args.db, &self.src, Some(r.line()), e);
            let mut t = txn.create_dup_table(name, kind).map_err(dberr)?;
            let mut n = 0;
            let mut more = true;
            while n < BATCH {
                if !r.next_entry_into(&mut k, &mut v).map_err(derr)? {
                    more = false;
                    break;
                }
                n += 1;
                let line = r.line();
                match t.put(&k, &v) {
                    Ok(true) => {}
                    Ok(false) if self.args.no_overwrite => self.skipped += 1,
                    Ok(false) => {}
                    Err(
                        e @ (Error::KeyTooLarge { .. }
                        | Error::DupValueTooLarge { .. }
                        | Error::DupValueSize { .. }
                        | Error::IntegerSize { .. }),
                    ) => return Err(CliError::new(Some(&self.src), format!("line {line}: {e}"))),
                    Err(e) => return Err(load_db_err(&self.args.db, &self.src, Some(line), e)),
                }
            }
            if !more {
                return Ok(());
            }
            if self
                .txn
                .as_ref()
                .is_some_and(|t| self.args.batch_commits && t.dirty_pages() > DIRTY_LIMIT)
            {
                self.commit_and_restart(r.line())?;
            }
        }
    }

    /// Load the entries of the current section into `table`.
    fn section<R: BufRead>(
        &mut self,
        r: &mut DumpReader<R>,
        table: Option<&str>,
        order: KeyOrder,
        derr: &dyn Fn(DumpError) -> CliError,
    ) -> CliResult<()> {
        let append = PutFlags {
            append: true,
            ..PutFlags::default()
        };
        let no_overwrite = PutFlags {
            no_overwrite: true,
            ..PutFlags::default()
        };
        let (mut k, mut v) = (Vec::new(), Vec::new());
        // The largest key in the table: keys above it are appended.
        let mut last: Option<Vec<u8>> = None;
        let mut first_batch = true;
        loop {
            let Some(txn) = self.txn.as_mut() else {
                return Err(CliError::new(None, "internal error: no transaction"));
            };
            let dberr = |e| load_db_err(&self.args.db, &self.src, Some(r.line()), e);
            let mut t = match table {
                None => txn.main_table(),
                Some(n) => txn.create_table_with(n, order).map_err(dberr)?,
            };
            if first_batch {
                first_batch = false;
                last = t.cursor().last().map_err(dberr)?.map(|(k, _)| k.to_vec());
            }
            let mut n = 0;
            let mut more = true;
            while n < BATCH {
                if !r.next_entry_into(&mut k, &mut v).map_err(derr)? {
                    more = false;
                    break;
                }
                n += 1;
                let line = r.line();
                let input_err =
                    |e: Error| CliError::new(Some(&self.src), format!("line {line}: {e}"));
                // Refusals of the entry itself are the input's fault; anything else
                // (a full disk, say) is the database's.
                let bad = |e: Error| match e {
                    Error::KeyTooLarge { .. }
                    | Error::ValueTooLarge { .. }
                    | Error::IntegerSize { .. } => input_err(e),
                    e => load_db_err(&self.args.db, &self.src, Some(line), e),
                };
                let sorted = last
                    .as_deref()
                    .is_none_or(|l| order.compare(&k, l) == std::cmp::Ordering::Greater);
                if self.args.append || sorted {
                    match t.put_with(&k, &v, append) {
                        Ok(_) => match &mut last {
                            Some(l) => {
                                l.clear();
                                l.extend_from_slice(&k);
                            }
                            None => last = Some(k.clone()),
                        },
                        Err(Error::KeyNotGreater) => {
                            return Err(input_err(Error::Invalid(
                                "key out of order (-a needs input sorted by key)".into(),
                            )))
                        }
                        Err(e) => return Err(bad(e)),
                    }
                } else if self.args.no_overwrite {
                    match t.put_with(&k, &v, no_overwrite) {
                        Ok(_) => {}
                        Err(Error::KeyExists) => self.skipped += 1,
                        Err(e) => return Err(bad(e)),
                    }
                } else {
                    t.put(&k, &v).map_err(bad)?;
                }
            }
            if !more {
                return Ok(());
            }
            if self
                .txn
                .as_ref()
                .is_some_and(|t| self.args.batch_commits && t.dirty_pages() > DIRTY_LIMIT)
            {
                self.commit_and_restart(r.line())?;
            }
        }
    }
}

pub fn load(a: &LoadArgs, _out: &mut dyn Write) -> CliResult<i32> {
    match std::fs::symlink_metadata(&a.db) {
        Ok(m) if m.file_type().is_symlink() && !a.db.exists() => {
            return Err(CliError::new(
                Some(&a.db),
                "is a symbolic link to a missing file; refusing to create a database through it",
            ))
        }
        // An existing database gets the whole load or nothing (with --batch-commits, it
        // keeps the commits made before a failure).
        Ok(_) => return load_inner(a, None),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(CliError::io(&a.db, e)),
        Err(_) => {}
    }
    // A new database is built under a temporary name and appears only once complete:
    // a failed load then removes only its own file, never a database that another
    // process created at the destination (and committed to) meanwhile.
    let tmp = create_beside(&a.db, "load").map_err(|e| CliError::io(&a.db, e))?;
    let tmp_lock = mdbx_lite::lock_path(&tmp);
    let r = load_inner(a, Some(&tmp)).and_then(|code| match publish(&tmp, &a.db) {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CliError::new(
            Some(&a.db),
            "was created by another process during the load; nothing was written to it",
        )),
        Err(e) => Err(CliError::io(&a.db, e)),
    });
    // `load_inner` has dropped its environment: these files are no longer in use.
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    let _ = std::fs::remove_file(tmp_lock);
    r
}

/// Load into `a.db`, or into the new, empty file `fresh` that is to become `a.db`.
fn load_inner(a: &LoadArgs, fresh: Option<&Path>) -> CliResult<i32> {
    let (src, input_len): (PathBuf, u64) = match &a.file {
        Some(f) => (f.clone(), file_len(f)),
        None => (PathBuf::from("<stdin>"), 0),
    };
    let pb = progress(input_len, input_len, "load");
    let input: Box<dyn BufRead> = match &a.file {
        Some(f) => {
            let file = File::open(f).map_err(|e| CliError::io(f, e))?;
            Box::new(BufReader::with_capacity(1 << 20, pb.wrap_read(file)))
        }
        None => Box::new(BufReader::with_capacity(1 << 20, std::io::stdin().lock())),
    };
    let mut r = if a.plain {
        DumpReader::new_plain(input)
    } else {
        DumpReader::new(input)
    };
    let src_for_err = src.clone();
    let derr = move |e: DumpError| CliError::new(Some(&src_for_err), e.to_string());
    let mut header = r.next_section().map_err(&derr)?;
    let env = match fresh {
        None => open_rw(&a.db)?,
        Some(path) => {
            let mut b = Env::builder();
            if let Some(ps) = header.as_ref().and_then(header_page_size) {
                b = b.page_size(ps);
            }
            b.open(path).map_err(|e| CliError::db(&a.db, e))?
        }
    };
    let txn = env.begin_write().map_err(|e| CliError::db(&a.db, e))?;
    let mut loader = Loader {
        args: a,
        src,
        env,
        txn: Some(txn),
        skipped: 0,
    };
    while let Some(h) = header {
        for line in &h.unknown {
            let kw = line.split('=').next().unwrap_or(line);
            eprintln!(
                "mdbx-lite: {}: unrecognized keyword ignored: {kw}",
                loader.src.display()
            );
        }
        let kind = match section_kind(&h) {
            Ok(kind) => kind,
            Err(flags) => {
                return Err(loader.line_err(
                    r.line(),
                    format!(
                        "table flags not supported by mdbx-lite: {}",
                        flags.join(", ")
                    ),
                ))
            }
        };
        // As mdb_load: a `database=` line wins over -s.
        let table = h.database.clone().or_else(|| a.table.clone());
        match (kind, table.as_deref()) {
            ((Some(kind), _), Some(name)) => loader.dup_section(&mut r, name, kind, &derr)?,
            ((Some(_), _), None) => {
                return Err(loader.line_err(
                    r.line(),
                    "a dup-sort section needs a table name (database= or -s): the main \
                     table is plain",
                ))
            }
            ((None, order), None) if order != KeyOrder::Bytes => {
                return Err(loader.line_err(
                    r.line(),
                    "a section with integerkey or reversekey needs a table name (database= \
                     or -s): the main table sorts bytewise",
                ))
            }
            ((None, order), table) => loader.section(&mut r, table, order, &derr)?,
        }
        header = r.next_section().map_err(&derr)?;
    }
    if let Some(t) = loader.txn.take() {
        t.commit().map_err(|e| loader.dberr(None, e))?;
    }
    pb.finish_and_clear();
    if loader.skipped > 0 {
        eprintln!(
            "mdbx-lite: {}: {} existing keys kept (-N)",
            a.db.display(),
            loader.skipped
        );
    }
    Ok(0)
}

/// Used by `demo`: dump the first `max_entries` of `table` in print format.
pub fn dump_excerpt(
    env: &Env,
    db: &Path,
    table: &str,
    max_entries: usize,
    out: &mut dyn Write,
) -> CliResult<()> {
    let rtx = env.begin_read().map_err(|e| CliError::db(db, e))?;
    let t = crate::util::read_table(&rtx, Some(table), db)?;
    let mut header = DumpHeader::new(DumpFormat::Print);
    header.flags = kind_flags(&t.stat());
    header.database = Some(table.to_string());
    header.mapsize = Some(dump_mapsize(file_len(db)));
    header.maxreaders = Some(MAX_READERS);
    header.page_size = Some(env.page_size() as u64);
    let mut w = DumpWriter::new(&mut *out);
    w.write_header(&header)?;
    for e in t.iter().take(max_entries) {
        let (k, v) = e.map_err(|e| CliError::db(db, e))?;
        w.write_entry(k, v)?;
    }
    drop(w);
    writeln!(
        out,
        " ... ({} more entries)",
        t.len().saturating_sub(max_entries as u64)
    )?;
    Ok(())
}
