//! Helpers shared by the CLI tests: run the built binary, build sample databases.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mdbx_lite::{Env, PutFlags};

pub const BIN: &str = env!("CARGO_BIN_EXE_mdbx-lite");

/// What a run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }

    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Assert the exit code and that stderr holds one line mentioning `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// Run `mdbx-lite args...`.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Run::from(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mdbx-lite"),
    )
}

/// Run a prepared `mdbx-lite` command (see [`command`]), stdin empty.
pub fn run_command(mut cmd: Command) -> Run {
    Run::from(cmd.stdin(Stdio::null()).output().expect("run mdbx-lite"))
}

/// `mdbx-lite args...`, to be given a working directory or environment first.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    cmd
}

/// Run `mdbx-lite args...` with `input` on stdin.
pub fn run_stdin<I, S>(args: I, input: &[u8]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mdbx-lite");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::from(out)
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A database with a main table of `main` entries and named tables:
/// `t` (`n` text entries, depth >= 2 for n >= 2000), `bin` (binary keys and values,
/// an empty value) and `big` (values that need overflow runs).
pub fn sample_db(dir: &Path, main: u64, n: u64) -> PathBuf {
    let path = dir.join("sample.db");
    let env = Env::open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    {
        let mut m = w.main_table();
        for i in 0..main {
            m.put(
                format!("m{i:05}").as_bytes(),
                format!("main-{i}").as_bytes(),
            )
            .unwrap();
        }
    }
    {
        let mut t = w.create_table("t").unwrap();
        let ap = PutFlags {
            append: true,
            ..PutFlags::default()
        };
        for i in 0..n {
            t.put_with(
                format!("key{i:06}").as_bytes(),
                format!("value-{}", i * i).as_bytes(),
                ap,
            )
            .unwrap();
        }
    }
    {
        let mut b = w.create_table("bin").unwrap();
        for i in 0..200u32 {
            let k: Vec<u8> = (0..(1 + i % 13)).map(|j| (i * 31 + j * 7) as u8).collect();
            let v: Vec<u8> = (0..(i % 40)).map(|j| (i ^ j) as u8).collect();
            b.put(&k, &v).unwrap();
        }
        b.put(b"\x00\\\n\t \xff", b"").unwrap();
    }
    {
        let mut g = w.create_table("big").unwrap();
        for i in 0..4u32 {
            let v: Vec<u8> = (0..(5_000 + i as usize * 7_000))
                .map(|j| (j % 251) as u8)
                .collect();
            g.put(format!("big{i}").as_bytes(), &v).unwrap();
        }
    }
    w.commit().unwrap();
    drop(env);
    let _ = std::fs::remove_file(mdbx_lite::lock_path(&path));
    path
}

/// The data lines (everything but `mapsize=`) of a dump, for comparisons across tools.
pub fn without_mapsize(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with("mapsize="))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Only the key/value lines and section names of a dump.
pub fn data_sections(dump: &str) -> Vec<String> {
    dump.lines()
        .filter(|l| l.starts_with(' ') || l.starts_with("database=") || *l == "DATA=END")
        .map(str::to_string)
        .collect()
}

/// A small tmpfs mounted on a new temporary directory, for tests that fill the disk;
/// unmounted on drop.
pub struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// A filesystem of `bytes`, or `None` (with a note) where mounting is not permitted:
    /// it needs root, as in CI.
    pub fn mount(bytes: u64) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        Some(SmallFs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Names in the filesystem's root, sorted.
    pub fn names(&self) -> Vec<String> {
        names_in(self.path())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazy: a process of a failed test may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Names of the entries of directory `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The header of a bytevalue dump of the main table.
pub const DUMP_HEAD: &str = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";

/// Bytevalue data lines for entries `range`: 16-byte keys in order, `value_len`-byte
/// values.
pub fn dump_entries(range: std::ops::Range<u64>, value_len: usize) -> String {
    let mut s = String::new();
    for i in range {
        s.push_str(&format!(" {}\n ", hex(format!("key{i:013}").as_bytes())));
        let v: Vec<u8> = (0..value_len).map(|j| (i as usize * 7 + j) as u8).collect();
        s.push_str(&hex(&v));
        s.push('\n');
    }
    s
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
