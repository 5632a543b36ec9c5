//! File-system calls whose details are Unix's: the real path of an open descriptor,
//! syncing a directory entry, and opening the lock file safely.

use std::fs::{File, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{io_context, Error, Result};
use crate::os::map::effective_uid;

/// The real path of an open file: what the kernel says the descriptor names (so a link
/// swapped after the open cannot redirect the lock file), else the resolved `path`.
pub(crate) fn real_path(file: &File, path: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    match std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
        Ok(p) if p.is_absolute() && !p.to_string_lossy().ends_with(" (deleted)") => p,
        _ => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The lock file's identity and permission rules, checked on the open descriptor (so
/// they hold for the file actually used, whatever happens to the name meanwhile):
/// - it is a regular file with one name: a hard link or a special file planted under the
///   lock file's name is never written to;
/// - for writing, it belongs to the database file's owner or to the user opening it: a
///   lock file planted by another user could hide readers from the writer or stall it.
fn check_lock_file(lock: &File, data: &Metadata, read_only: bool, lpath: &Path) -> Result<()> {
    let md = lock.metadata()?;
    let refuse = |why: String| Err(Error::Invalid(format!("{}: {why}", lpath.display())));
    if !md.is_file() {
        return refuse("the lock file is not a regular file; refusing to use it".into());
    }
    if md.nlink() != 1 {
        return refuse(format!(
            "the lock file has {} hard links; refusing to use it",
            md.nlink()
        ));
    }
    if !read_only && md.uid() != data.uid() && md.uid() != effective_uid() {
        return refuse(format!(
            "the lock file belongs to user {}, not to the database's owner (user {}); \
             refusing to write through it (remove it if no program uses the database)",
            md.uid(),
            data.uid()
        ));
    }
    Ok(())
}

/// Open the lock file without following a symbolic link; a writable open creates it
/// with the database file's permission bits (and, when root creates it, hands it to the
/// database file's owner), so exactly the users who may write the database may write
/// its lock file. A read-only open never creates it and reads alone (`None`) when it is
/// missing or not writable.
pub(crate) fn open_lock_file(
    lpath: &Path,
    data: &Metadata,
    read_only: bool,
) -> Result<Option<File>> {
    let mode = data.mode() & 0o666;
    let open = |create: bool| {
        let mut o = OpenOptions::new();
        o.read(true).write(true).custom_flags(libc::O_NOFOLLOW);
        if create {
            o.create_new(true).mode(mode);
        }
        o.open(lpath)
    };
    let refused = |e: io::Error| -> Error {
        if e.raw_os_error() == Some(libc::ELOOP) {
            Error::Invalid(format!(
                "{}: the lock file is a symbolic link; refusing to follow it",
                lpath.display()
            ))
        } else {
            io_context(e, "cannot open lock file", lpath)
        }
    };
    if read_only {
        return match open(false) {
            Ok(f) => check_lock_file(&f, data, true, lpath).map(|_| Some(f)),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(refused(e)),
            Err(_) => Ok(None),
        };
    }
    // Create, or open what exists; a lock file removed between the two is created again.
    for _ in 0..8 {
        match open(true) {
            Ok(f) => {
                // The mode above was masked by the umask; the database's bits are exact.
                f.set_permissions(Permissions::from_mode(mode))?;
                let md = f.metadata()?;
                if md.uid() != data.uid() || md.gid() != data.gid() {
                    // Only root may give a file away; anyone else keeps it as their own.
                    let _ = std::os::unix::fs::fchown(&f, Some(data.uid()), Some(data.gid()));
                }
                return Ok(Some(f));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match open(false) {
                Ok(f) => return check_lock_file(&f, data, false, lpath).map(|_| Some(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(refused(e)),
            },
            Err(e) => return Err(refused(e)),
        }
    }
    Err(Error::Invalid(format!(
        "{}: the lock file keeps disappearing while it is opened",
        lpath.display()
    )))
}

pub(crate) fn fsync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}
