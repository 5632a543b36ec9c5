//! `mdbx-lite`: the command-line tool. Argument parsing and presentation only; everything
//! it shows comes from the `mdbx_lite` library's public API.
//!
//! Exit codes: 0 success, 1 error (one line on stderr: `mdbx-lite: <file>: <error>`),
//! 2 usage error, 3 `check` found problems, 4 `get` found no such key.

mod admin;
mod check;
mod demo;
mod dumpload;
mod inspect;
mod lookup;
mod stat;
mod util;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use util::{CliError, CliResult};

#[derive(Parser)]
#[command(
    name = "mdbx-lite",
    version,
    about = "Inspect, check, dump, load and copy mdbx-lite databases",
    long_about = "Inspect, check, dump, load and copy mdbx-lite databases.\n\n\
        Flags follow LMDB's mdb_* and libmdbx's mdbx_* tools; dump/load speak mdb_dump's \
        text format exactly. A database is one file (LMDB's -n mode): -n is accepted \
        and changes nothing. -V prints the version, on every subcommand too.",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage error, 3 check found problems, \
        4 get: key not found.\n\nTry: mdbx-lite demo"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Stat(StatArgs),
    Check(CheckArgs),
    Dump(DumpArgs),
    Load(LoadArgs),
    Copy(CopyArgs),
    Drop(DropArgs),
    Savepoint(SavepointArgs),
    Pages(PagesArgs),
    Page(PageArgs),
    Tree(TreeArgs),
    Readers(ReadersArgs),
    Residency(ResidencyArgs),
    Get(GetArgs),
    Keys(KeysArgs),
    Demo(DemoArgs),
}

/// Environment, free-space, reader and table statistics (like mdb_stat).
///
/// Without flags, prints the status of the main table.
#[derive(Args)]
#[command(
    version,
    after_help = "Examples:\n  mdbx-lite stat -e -a my.db\n  mdbx-lite stat -s users --json my.db\n  \
    mdbx-lite stat -fff my.db\n  mdbx-lite stat -rr my.db"
)]
pub struct StatArgs {
    /// Environment information: page size, file/mapped/resident bytes, last txn, metas
    #[arg(short = 'e')]
    pub env: bool,
    /// Free-space information; -ff also the free pages of each freeing transaction,
    /// -fff also their page numbers (runs of consecutive pages as FIRST[COUNT])
    #[arg(short = 'f', action = ArgAction::Count)]
    pub free: u8,
    /// Reader table: slots in use, reader lag; -rr also clears the slots of processes
    /// that no longer run (needs a writable lock file) and shows the table again
    #[arg(short = 'r', action = ArgAction::Count)]
    pub readers: u8,
    /// Status of every named table (and the main table)
    #[arg(short = 'a', conflicts_with = "table")]
    pub all: bool,
    /// Status of one named table
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// Everything as one JSON object on stdout
    #[arg(long)]
    pub json: bool,
    /// Accepted for compatibility with mdb_stat (databases are always single files)
    #[arg(short = 'n')]
    pub nosubdir: bool,
    /// The database file
    pub db: PathBuf,
}

/// Full consistency check (like mdbx_chk); opens the file read-only.
///
/// Prints each problem with its page number and a summary of pages by kind and space
/// use. Exit code 0 when the database is clean, 3 when problems were found, 1 when it
/// cannot be opened at all.
#[derive(Args)]
#[command(after_help = "Example:\n  mdbx-lite check my.db && echo clean")]
pub struct CheckArgs {
    /// Report as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// The database file
    pub db: PathBuf,
}

/// Write tables in mdb_dump's text format (readable by mdb_load and `mdbx-lite load`).
///
/// Without -a or -s the main table is dumped. Like mdb_dump, -a dumps every named table
/// as its own section and does not include the main table.
#[derive(Args)]
#[command(
    version,
    after_help = "Examples:\n  mdbx-lite dump -a -f all.dump my.db\n  \
    mdbx-lite dump -p -s users my.db | head\n  \
    mdbx-lite dump -a my.db | mdb_load -n lmdb-file"
)]
pub struct DumpArgs {
    /// Dump every named table (not the main table, as mdb_dump -a)
    #[arg(short = 'a', conflicts_with = "table")]
    pub all: bool,
    /// Dump one named table
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// Printable format: printable bytes as themselves, others as \hh (a backslash as \5c)
    #[arg(short = 'p')]
    pub print: bool,
    /// Write to FILE instead of stdout
    #[arg(short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Accepted for compatibility with mdb_dump (databases are always single files)
    #[arg(short = 'n')]
    pub nosubdir: bool,
    /// List the named tables instead of dumping
    #[arg(short = 'l')]
    pub list: bool,
    /// The database file
    pub db: PathBuf,
}

/// Load mdb_dump-format text (or -T plain text) into a database, creating it if needed.
///
/// Each section goes into the table its `database=` header line names; sections without
/// one go into the -s table, or the main table. As in mdb_load, `database=` wins over -s.
/// Sorted input is appended (leaves filled completely); unsorted input is inserted.
///
/// A new database appears only once all of the input is loaded. An existing one is
/// committed to as the load goes: what was committed before an error stays.
#[derive(Args)]
#[command(
    version,
    after_help = "Examples:\n  mdb_dump -a -n lmdb-file | mdbx-lite load my.db\n  \
    mdbx-lite load -f users.dump -s users my.db\n  \
    printf 'key\\nvalue\\n' | mdbx-lite load -T my.db"
)]
pub struct LoadArgs {
    /// Table for sections without a `database=` line (and for -T input)
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// Read from FILE instead of stdin
    #[arg(short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Do not overwrite existing keys; skip them (dup-sort sections: pairs already in the
    /// table are skipped, new values of an existing key are added)
    #[arg(short = 'N')]
    pub no_overwrite: bool,
    /// Input is plain text: alternating key and value lines, print-escaped, no header
    #[arg(short = 'T')]
    pub plain: bool,
    /// Input is sorted: append every record (error on the first out-of-order key)
    #[arg(short = 'a')]
    pub append: bool,
    /// Commit every 256 MiB of changed pages instead of once at the end: an existing
    /// database then keeps what was loaded before a failure. Without it the load is one
    /// transaction, all or nothing, in bounded memory (pages past the writer's dirty
    /// limit go to the file early)
    #[arg(long)]
    pub batch_commits: bool,
    /// Accepted for compatibility with mdb_load (databases are always single files)
    #[arg(short = 'n')]
    pub nosubdir: bool,
    /// The database file (created if missing)
    pub db: PathBuf,
}

/// Hot backup: copy a consistent snapshot to a new file, or to stdout (like mdb_copy).
///
/// Without DST, or with DST `-`, the copy is written to stdout (built first in a
/// temporary directory: $TMPDIR, else /tmp). A file named `-` can be given as `./-`.
#[derive(Args)]
#[command(
    version,
    after_help = "Examples:\n  mdbx-lite copy my.db backup.db\n  mdbx-lite copy -c my.db compact.db\n  \
    mdbx-lite copy my.db | ssh backup-host 'cat > my.db'"
)]
pub struct CopyArgs {
    /// Compact: rebuild every table in key order, without free pages
    #[arg(short = 'c')]
    pub compact: bool,
    /// Accepted for compatibility with mdb_copy (databases are always single files)
    #[arg(short = 'n')]
    pub nosubdir: bool,
    /// Source database file
    pub src: PathBuf,
    /// Destination file (must not exist); it appears only once the copy is complete.
    /// Omitted or `-`: stdout
    pub dst: Option<PathBuf>,
}

/// Empty a table, or delete it with -d (like mdb_drop).
#[derive(Args)]
#[command(
    version,
    after_help = "Examples:\n  mdbx-lite drop -s sessions my.db\n  mdbx-lite drop -d -s old my.db"
)]
pub struct DropArgs {
    /// Delete the table instead of emptying it
    #[arg(short = 'd')]
    pub delete: bool,
    /// The named table (without -s: empty the main table)
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// Accepted for compatibility with mdb_drop (databases are always single files)
    #[arg(short = 'n')]
    pub nosubdir: bool,
    /// The database file
    pub db: PathBuf,
}

/// List persistent savepoints with the pages each holds; make, delete or restore one.
///
/// A savepoint made here names the latest committed state. Restoring one makes its
/// state current (every table as it was then); the savepoints stay.
#[derive(Args)]
#[command(after_help = "Examples:
  mdbx-lite savepoint my.db
  mdbx-lite savepoint --create before-upgrade my.db
  \
    mdbx-lite savepoint --restore before-upgrade my.db
  mdbx-lite savepoint --delete before-upgrade my.db")]
pub struct SavepointArgs {
    /// Name the latest committed state NAME
    #[arg(long, value_name = "NAME", conflicts_with_all = ["delete", "restore"])]
    pub create: Option<String>,
    /// Delete savepoint NAME (its pages are reused from the next commit on)
    #[arg(long, value_name = "NAME", conflicts_with = "restore")]
    pub delete: Option<String>,
    /// Make savepoint NAME's state the current one
    #[arg(long, value_name = "NAME")]
    pub restore: Option<String>,
    /// List as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// The database file
    pub db: PathBuf,
}

/// List every page: number, kind, owning table, writing txn, fill.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  mdbx-lite pages my.db | grep overflow\n  mdbx-lite pages --json my.db"
)]
pub struct PagesArgs {
    /// JSON array on stdout
    #[arg(long)]
    pub json: bool,
    /// The database file
    pub db: PathBuf,
}

/// Decode one page: header, role, owner, entries (or the meta record).
#[derive(Args)]
#[command(after_help = "Examples:\n  mdbx-lite page 0 my.db\n  mdbx-lite page 17 --hex my.db")]
pub struct PageArgs {
    /// Page number
    pub pgno: u64,
    /// Also print a hex dump of the page
    #[arg(long)]
    pub hex: bool,
    /// The database file
    pub db: PathBuf,
}

/// Show a table's B+tree level by level.
#[derive(Args)]
#[command(after_help = "Examples:\n  mdbx-lite tree my.db\n  mdbx-lite tree -s users -v my.db")]
pub struct TreeArgs {
    /// The named table (default: the main table)
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// List every page of every level
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// The database file
    pub db: PathBuf,
}

/// Reader slots of every process using the database (from the lock file), with the
/// snapshot each holds and how far it lags; marks slots whose process has died.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  mdbx-lite readers my.db\n  mdbx-lite readers --clear-stale my.db"
)]
pub struct ReadersArgs {
    /// JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Clear the slots of processes that no longer run (needs a writable lock file)
    #[arg(long)]
    pub clear_stale: bool,
    /// The database file
    pub db: PathBuf,
}

/// How much of the file and of each table is in the OS page cache (mincore).
#[derive(Args)]
#[command(after_help = "Example:\n  cat my.db > /dev/null; mdbx-lite residency my.db")]
pub struct ResidencyArgs {
    /// JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// The database file
    pub db: PathBuf,
}

/// Print the value stored under KEY in database DB.
///
/// KEY is written as in `dump -p`: printable characters as themselves and `\hh` for
/// any byte (a backslash is `\5c`; `\\` is accepted too); or as hex with --hex.
/// The value is printed the same way (hex with --hex), or as raw bytes with --raw.
///
/// The older order `get KEY DB` still works when KEY names no file and DB does.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  mdbx-lite get -s users my.db 'user:0000042'\n  \
    mdbx-lite get --hex -s events my.db 00000000000f4240\n  \
    mdbx-lite get --raw -s blobs my.db blob:007 > blob.bin"
)]
pub struct GetArgs {
    /// The named table (default: the main table)
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// KEY is hex, and the value is printed as hex
    #[arg(long)]
    pub hex: bool,
    /// Write the value's raw bytes, without escaping or newline
    #[arg(long, conflicts_with = "hex")]
    pub raw: bool,
    /// The database file
    #[arg(value_name = "DB")]
    pub first: OsString,
    /// The key
    #[arg(value_name = "KEY")]
    pub second: OsString,
}

/// List keys in order (optionally with values), from a prefix, up to a limit.
///
/// Keys (and --prefix) are written as in `dump -p` (`\hh` escapes), or as hex with
/// --hex. With -v each line is `key<TAB>value`; a tab inside data is always escaped.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  mdbx-lite keys -s users --prefix user:00001 --limit 5 my.db\n  \
    mdbx-lite keys -v --hex -s events --limit 3 my.db"
)]
pub struct KeysArgs {
    /// The named table (default: the main table)
    #[arg(short = 's', value_name = "NAME")]
    pub table: Option<String>,
    /// Only keys starting with P
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// At most N keys
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Keys, prefix and values in hex
    #[arg(long)]
    pub hex: bool,
    /// Print values too
    #[arg(short = 'v', long)]
    pub values: bool,
    /// The database file
    pub db: PathBuf,
}

/// Create a sample database (~1,000,000 entries in a few tables) and show stat, check
/// and a dump excerpt of it.
#[derive(Args)]
#[command(
    after_help = "Example:\n  cargo run --release -p mdbx-lite-cli -- demo\n  \
    mdbx-lite demo ./mdbx-lite-demo"
)]
pub struct DemoArgs {
    /// Directory for the sample database (default: a new directory under the system
    /// temp dir); the file is DIR/demo.db
    pub dir: Option<PathBuf>,
    /// Number of entries (hidden; for tests)
    #[arg(long, hide = true, default_value_t = 1_000_000)]
    pub entries: u64,
}

fn run(cli: Cli) -> CliResult<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let code = match cli.cmd {
        Cmd::Stat(a) => stat::run(&a, &mut out),
        Cmd::Check(a) => check::run(&a, &mut out),
        Cmd::Dump(a) => dumpload::dump(&a, &mut out),
        Cmd::Load(a) => dumpload::load(&a, &mut out),
        Cmd::Copy(a) => admin::copy(&a, &mut out),
        Cmd::Drop(a) => admin::drop_table(&a, &mut out),
        Cmd::Savepoint(a) => admin::savepoint(&a, &mut out),
        Cmd::Pages(a) => inspect::pages(&a, &mut out),
        Cmd::Page(a) => inspect::page(&a, &mut out),
        Cmd::Tree(a) => inspect::tree(&a, &mut out),
        Cmd::Readers(a) => inspect::readers(&a, &mut out),
        Cmd::Residency(a) => inspect::residency(&a, &mut out),
        Cmd::Get(a) => lookup::get(&a, &mut out),
        Cmd::Keys(a) => lookup::keys(&a, &mut out),
        Cmd::Demo(a) => demo::run(&a, &mut out),
    };
    // Flush what was printed even when the command failed, then report.
    let flushed = std::io::Write::flush(&mut out).map_err(CliError::from);
    let code = code?;
    flushed?;
    Ok(code)
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    };
    std::process::exit(code);
}
