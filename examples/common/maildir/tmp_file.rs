//! The file a delivery is written into before it appears in `new/`.
//!
//! On Linux it is an unnamed file in `tmp/` (`open(2)` with `O_TMPFILE`), published into
//! `new/` with `linkat(2)` once its data is on disk. Against the Maildir specification's
//! named `tmp/<unique>` moved into `new/`, nothing is lost (the name appears in `new/` only
//! with the whole message behind it) and three things are gained:
//!
//! - no directory entry is added to `tmp/` and removed again per message: deliveries do not
//!   queue for `tmp/`'s lock, which a slow creation holds (see `tests/load_support`);
//! - the file's `fdatasync` does not also write `tmp/`: ext4 without a journal makes a newly
//!   named file's directory durable with it;
//! - a delivery dropped midway, or a crash, leaves nothing behind to clean.
//!
//! Measured with `pop3_client_tokio` fetching 1000 x 10 KiB from `pop3_server_tokio` (release,
//! loopback): right after 3000 files were deleted beside the output, 2,400-4,000 messages/s
//! with unnamed files against 1,300-1,800 with named ones, three runs each; about 9,000 both
//! ways when nothing was deleted.
//!
//! Durability is the named file's: the data is synced before the link, and the fsync of
//! `new/` that follows makes the link durable (on a journaling file system the new name and
//! the file's link count commit together; ext4 without a journal, like any file system
//! without one, needs its fsck after a crash, which sets the count from the names).
//!
//! `linkat` reaches the unnamed file through `/proc/self/fd/N`, which needs no privilege.
//! Where unnamed files cannot be made (another OS, an old kernel, a file system without
//! `O_TMPFILE`, no `/proc`), the named file of the specification is used.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// How a delivery's file is found before it is published.
#[derive(Debug)]
pub(crate) enum TmpName {
    /// No name: the open file is all there is (Linux `O_TMPFILE`).
    #[cfg(target_os = "linux")]
    Unnamed,
    /// `tmp/<unique>`.
    Named(PathBuf),
}

/// Creates the file of a delivery in `tmp_dir`, unnamed where the system allows, else as
/// `tmp_dir/<unique>` with `create_new` (an `AlreadyExists` error then means the name is
/// taken: the caller picks another).
pub(crate) fn create(tmp_dir: &Path, unique: &str) -> io::Result<(File, TmpName)> {
    #[cfg(target_os = "linux")]
    if let Some(file) = unnamed::create(tmp_dir)? {
        return Ok((file, TmpName::Unnamed));
    }
    create_named(tmp_dir, unique)
}

/// The specification's `tmp_dir/<unique>`, made with `create_new`.
fn create_named(tmp_dir: &Path, unique: &str) -> io::Result<(File, TmpName)> {
    let path = tmp_dir.join(unique);
    let file = private_file_options().open(&path)?;
    Ok((file, TmpName::Named(path)))
}

/// Makes `file` (created by [`create`], its data already durable) visible as `path`, which
/// must not exist yet: an unnamed file is linked there, a named one linked and its tmp name
/// removed. An existing `path` gives `AlreadyExists` (the caller picks another name) and is
/// left as it was.
pub(crate) fn publish(file: &File, name: &TmpName, path: &Path) -> io::Result<()> {
    match name {
        #[cfg(target_os = "linux")]
        TmpName::Unnamed => unnamed::link(file, path),
        TmpName::Named(tmp_path) => {
            let _ = file; // only an unnamed file is reached through its descriptor
            publish_named(tmp_path, path)
        }
    }
}

/// `link(2)` then `unlink(2)`, as the Maildir specification first had it, rather than a
/// `rename(2)`, which would silently replace a message of the same name: unique names make
/// that improbable, and the link makes it impossible, whatever several server instances
/// sharing the Maildir choose as names. A file system without hard links gets the rename.
/// A tmp name left behind (the unlink failed) is harmless: the specification has `tmp/`
/// cleaned of files older than 36 hours.
fn publish_named(tmp_path: &Path, path: &Path) -> io::Result<()> {
    match std::fs::hard_link(tmp_path, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp_path);
            Ok(())
        }
        // The name is taken, or a directory is gone: the caller's to deal with.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound
            ) =>
        {
            Err(e)
        }
        Err(_) => std::fs::rename(tmp_path, path),
    }
}

/// Create a new file, readable and writable by its owner only (mail is private).
fn private_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;
    use std::path::Path;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;

    /// Cleared for good the first time the system shows it cannot make unnamed files, so
    /// that no later delivery tries again.
    static AVAILABLE: AtomicBool = AtomicBool::new(true);

    /// An unnamed file in `dir`; `None` where unnamed files cannot be made here (the caller
    /// makes a named one).
    pub(super) fn create(dir: &Path) -> io::Result<Option<File>> {
        // `link` needs /proc; looked for once.
        static PROC_FD: OnceLock<bool> = OnceLock::new();
        let proc_fd = *PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir());
        if !proc_fd || !AVAILABLE.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        match rustix::fs::openat(CWD, dir, flags, Mode::RUSR | Mode::WUSR) {
            Ok(fd) => Ok(Some(File::from(fd))),
            // What open(2) says when the kernel (EISDIR: before 3.11) or the file system
            // (EOPNOTSUPP) has no O_TMPFILE.
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                AVAILABLE.store(false, Ordering::Relaxed);
                Ok(None)
            }
            Err(errno) => Err(errno.into()),
        }
    }

    /// Cleared for good once `linkat(fd, "", ..., AT_EMPTY_PATH)` is refused where the
    /// `/proc` path works.
    static EMPTY_PATH: AtomicBool = AtomicBool::new(true);

    /// Links the unnamed `file` as `path`: by its descriptor (`AT_EMPTY_PATH`: Linux 6.10
    /// allows it to the process that opened the file, older kernels only with
    /// `CAP_DAC_READ_SEARCH`), else through `/proc/self/fd/N`, which any kernel allows but
    /// costs a walk through procfs per message.
    pub(super) fn link(file: &File, path: &Path) -> io::Result<()> {
        if EMPTY_PATH.load(Ordering::Relaxed) {
            match rustix::fs::linkat(file, "", CWD, path, AtFlags::EMPTY_PATH) {
                Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => {}
                linked => return linked.map_err(io::Error::from),
            }
        }
        link_through_proc(file, path)?;
        // The refusal above was the flag's, not a missing directory's (that fails here too).
        EMPTY_PATH.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Links the unnamed `file` as `path` through `/proc/self/fd/N`.
    pub(super) fn link_through_proc(file: &File, path: &Path) -> io::Result<()> {
        let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        rustix::fs::linkat(CWD, fd_path.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)
            .map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names_in(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect()
    }

    /// A temporary directory with `tmp/` and `new/` in it (kept while the guard lives).
    fn tmp_and_new() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, new) = (dir.path().join("tmp"), dir.path().join("new"));
        std::fs::create_dir(&tmp).unwrap();
        std::fs::create_dir(&new).unwrap();
        (dir, tmp, new)
    }

    #[test]
    fn a_file_is_visible_only_once_published_and_then_whole() {
        let (_dir, tmp, new) = tmp_and_new();
        let (mut file, name) = create(&tmp, "unique").unwrap();
        #[cfg(target_os = "linux")]
        {
            assert!(matches!(name, TmpName::Unnamed), "{name:?}");
            assert!(names_in(&tmp).is_empty());
        }
        file.write_all(b"the message\r\n").unwrap();
        file.sync_data().unwrap();
        assert!(names_in(&new).is_empty());
        let published = new.join("unique,S=13");
        publish(&file, &name, &published).unwrap();
        assert_eq!(names_in(&new), std::slice::from_ref(&published));
        assert_eq!(std::fs::read(&published).unwrap(), b"the message\r\n");
        assert!(names_in(&tmp).is_empty());
    }

    #[test]
    fn a_named_file_waits_in_tmp_and_is_published_whole() {
        let (_dir, tmp, new) = tmp_and_new();
        let (mut file, name) = create_named(&tmp, "unique").unwrap();
        assert_eq!(names_in(&tmp), [tmp.join("unique")]);
        let clash = create_named(&tmp, "unique").unwrap_err();
        assert_eq!(clash.kind(), io::ErrorKind::AlreadyExists);
        file.write_all(b"the message\r\n").unwrap();
        file.sync_data().unwrap();
        let published = new.join("unique,S=13");
        publish(&file, &name, &published).unwrap();
        assert!(names_in(&tmp).is_empty());
        assert_eq!(std::fs::read(&published).unwrap(), b"the message\r\n");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn publishing_over_an_existing_name_is_refused_for_an_unnamed_file() {
        let dir = tempfile::tempdir().unwrap();
        let (file, name) = create(dir.path(), "unique").unwrap();
        assert!(matches!(name, TmpName::Unnamed), "{name:?}");
        let taken = dir.path().join("taken");
        std::fs::write(&taken, b"an earlier message").unwrap();
        let refused = publish(&file, &name, &taken).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&taken).unwrap(), b"an earlier message");
    }

    /// A named file does not replace a message of the same name either (another instance's,
    /// say), and keeps its tmp name for the caller's next try under a fresh name.
    #[test]
    fn publishing_over_an_existing_name_is_refused_for_a_named_file() {
        let (_dir, tmp, new) = tmp_and_new();
        let (mut file, name) = create_named(&tmp, "unique").unwrap();
        file.write_all(b"a later message").unwrap();
        let taken = new.join("taken");
        std::fs::write(&taken, b"an earlier message").unwrap();
        let refused = publish(&file, &name, &taken).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&taken).unwrap(), b"an earlier message");
        assert_eq!(names_in(&tmp), [tmp.join("unique")]);
        let fresh = new.join("fresh");
        publish(&file, &name, &fresh).unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"a later message");
        assert!(names_in(&tmp).is_empty());
    }

    /// `publish` links by descriptor where the kernel allows it; the `/proc` way it falls
    /// back to must work on its own.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_unnamed_file_links_through_proc_too() {
        let dir = tempfile::tempdir().unwrap();
        let (mut file, name) = create(dir.path(), "unique").unwrap();
        assert!(matches!(name, TmpName::Unnamed), "{name:?}");
        file.write_all(b"the message\r\n").unwrap();
        let published = dir.path().join("published");
        unnamed::link_through_proc(&file, &published).unwrap();
        assert_eq!(std::fs::read(&published).unwrap(), b"the message\r\n");
        let missing_dir = dir.path().join("missing").join("published");
        let refused = unnamed::link_through_proc(&file, &missing_dir).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_dropped_unnamed_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut file, name) = create(dir.path(), "unique").unwrap();
        file.write_all(&[b'x'; 100_000]).unwrap();
        drop(file);
        match name {
            #[cfg(target_os = "linux")]
            TmpName::Unnamed => assert!(names_in(dir.path()).is_empty()),
            TmpName::Named(path) => assert_eq!(names_in(dir.path()), [path]),
        }
    }
}
