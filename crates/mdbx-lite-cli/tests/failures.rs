//! Failed loads and copies: what they leave at the destination, and which file their
//! errors name.

mod common;

use std::path::{Path, PathBuf};

use common::{names_in, p, run, SmallFs};
use mdbx_lite::Env;

/// A database of about 8 MiB: 2,000 values of 3,000 bytes (a page each).
fn eight_mib_db(dir: &Path) -> PathBuf {
    let path = dir.join("src.db");
    let env = Env::open(&path).unwrap();
    let mut w = env.begin_write().unwrap();
    let mut t = w.main_table();
    for i in 0..2000u32 {
        let v: Vec<u8> = (0..3000u32).map(|j| (i + j) as u8).collect();
        t.put(format!("k{i:05}").as_bytes(), &v).unwrap();
    }
    w.commit().unwrap();
    path
}

#[test]
fn copy_onto_a_full_disk_names_the_destination_and_can_be_retried() {
    let Some(fs) = SmallFs::mount(24 << 20) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = eight_mib_db(dir.path());
    // Leave about 4 MiB free.
    let fill = fs.path().join("fill");
    std::fs::write(&fill, vec![1u8; 20 << 20]).unwrap();
    let plain = fs.path().join("plain.db");
    let compact = fs.path().join("compact.db");
    for (flags, dst) in [(&[][..], &plain), (&["-c"][..], &compact)] {
        let mut args = vec!["copy"];
        args.extend(flags);
        args.extend([p(&src), p(dst)]);
        let r = run(&args).fails(1, "No space left on device");
        assert!(
            r.stderr
                .starts_with(&format!("mdbx-lite: {}: I/O error: ", dst.display())),
            "{args:?}: {}",
            r.stderr
        );
        // Neither a partial copy nor a temporary file is left.
        assert_eq!(fs.names(), ["fill"], "{args:?}");
    }
    std::fs::remove_file(&fill).unwrap();
    run(["copy", p(&src), p(&plain)]).ok();
    run(["copy", "-c", p(&src), p(&compact)]).ok();
    let want = run(["dump", p(&src)]).ok();
    for c in [&plain, &compact] {
        assert!(run(["check", p(c)]).ok().contains("no problems found"));
        assert_eq!(run(["dump", p(c)]).ok(), want);
    }
    assert_eq!(fs.names(), ["compact.db", "plain.db"]);
}

#[test]
fn copy_refuses_a_dangling_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::sample_db(dir.path(), 10, 100);
    let target = dir.path().join("target.db");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for flags in [&[][..], &["-c"][..]] {
        let mut args = vec!["copy"];
        args.extend(flags);
        args.extend([p(&src), p(&link)]);
        let r = run(&args).fails(1, "exists (a symbolic link); refusing to overwrite");
        assert!(
            r.stderr
                .starts_with(&format!("mdbx-lite: {}: ", link.display())),
            "{}",
            r.stderr
        );
    }
    assert!(!target.exists(), "written through the link");
    assert_eq!(names_in(dir.path()), ["link.db", "sample.db"]);
}
