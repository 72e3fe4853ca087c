//! One POP3 session per maildrop at a time (RFC 1939 section 8; the `[IN-USE]` response code of
//! RFC 2449 section 8.1.1 tells the second client why it was refused), across every process
//! that serves the same Maildir: several server instances behind a load balancer may share
//! one data root.
//!
//! # The lock file
//!
//! A session holds an exclusive `flock(2)` ([`File::try_lock`]) on [`LOCK_FILE`] in the root of
//! the user's Maildir, beside `tmp/`, `new/` and `cur/`. Maildir readers look only into those
//! three (the Maildir specification), so the file is no message to them; it has no leading dot
//! because Maildir++ (Courier, Dovecot) takes dot names in the root for folders. Dovecot keeps
//! its own files there the same way (`dovecot-uidlist`, `dovecot.index*`).
//!
//! - Taking the lock never waits: `LOCK_EX | LOCK_NB`. A tokio adapter may take it anywhere,
//!   though it opens (maybe creates) the file, so the login path runs it on the blocking pool
//!   with the scan that follows.
//! - A lock held elsewhere is [`LockError::InUse`] (answer `-ERR [IN-USE]`); a file that cannot
//!   be opened or locked is [`LockError::Io`] (answer `-ERR [SYS/TEMP]`, RFC 3206 section 4).
//! - The lock goes with the open file: dropping the [`MaildropGuard`] closes it, and the kernel
//!   closes it when the process dies, even by `SIGKILL`. No stale lock needs breaking.
//! - The file itself stays, empty: removing it would let a session lock a new file while an
//!   older session still holds the removed one. For the same reason it must not be deleted
//!   by hand while servers run.
//!
//! # The registry of this process
//!
//! On a local file system a `flock` belongs to the open file description, so two sessions of
//! one process exclude each other through the file alone (a test shows it). Linux's NFS
//! client, however, emulates `flock` with `fcntl` record locks, which belong to the process:
//! there a second session of the same process would be granted the lock, and its closing the
//! file would drop the first session's lock too. So a process-wide registry of the Maildirs
//! locked here is asked first, and only its winner opens the file; the file is closed before
//! the Maildir leaves the registry. On NFS a crashed host's locks last until its lease runs
//! out (NFSv4: about 90 seconds).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::Maildir;

/// The lock file's name in the root of a Maildir, beside `tmp/`, `new/` and `cur/`: Maildir
/// readers look only into those, and Maildir++ takes dot names there for folders, hence no
/// leading dot. A session holds an exclusive `flock` on it; the file stays, empty, and must
/// not be removed while servers run (a session could then lock a new file while another
/// holds the removed one).
pub const LOCK_FILE: &str = "pop3.lock";

/// Why a maildrop could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another session holds it, in this process or another (`-ERR [IN-USE]`).
    #[error("the maildrop is in use by another session")]
    InUse,
    /// The lock file could not be opened or locked (`-ERR [SYS/TEMP]`).
    #[error("cannot lock the maildrop: {0}")]
    Io(#[from] io::Error),
}

/// Takes maildrop locks: a `flock` on the Maildir's [`LOCK_FILE`], which excludes sessions of
/// any process, and first a registry of the Maildirs locked in this process, which keeps the
/// exclusion where the file system's `flock` belongs to the process rather than to the open
/// file (Linux's NFS client). Every handle shares that one registry, so handles may be made
/// anywhere; a server keeps one for its sessions.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks {
    _private: (),
}

impl MaildropLocks {
    /// A handle on the process's maildrop locks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock on `maildir` without waiting: [`LockError::InUse`] when another session,
    /// of any process, holds it. The lock is freed when the returned guard is dropped, however
    /// the session ends, and when the process dies.
    pub fn try_lock(&self, maildir: &Maildir) -> Result<MaildropGuard, LockError> {
        // One key per directory however it is named (symbolic links, `.` and `..`).
        let key = fs::canonicalize(maildir.root())?;
        if !registry().insert(key.clone()) {
            return Err(LockError::InUse);
        }
        // From here on the key is ours: a failure below gives it back.
        let release = |error| {
            registry().remove(&key);
            error
        };
        let lock_file = key.join(LOCK_FILE);
        let file = lock_file_options()
            .open(&lock_file)
            .map_err(|e| release(e.into()))?;
        match file.try_lock() {
            Ok(()) => Ok(MaildropGuard {
                file: Some(file),
                key,
                lock_file,
            }),
            Err(TryLockError::WouldBlock) => {
                // Closed before the key is given back (see the module docs).
                drop(file);
                Err(release(LockError::InUse))
            }
            Err(TryLockError::Error(e)) => {
                drop(file);
                Err(release(e.into()))
            }
        }
    }
}

/// Proof of holding the lock on one maildrop; dropping it frees the lock.
#[derive(Debug)]
#[must_use = "the maildrop is unlocked as soon as the guard is dropped"]
pub struct MaildropGuard {
    /// The locked file; `None` only during drop.
    file: Option<File>,
    /// The Maildir's canonical path: its key in the registry.
    key: PathBuf,
    lock_file: PathBuf,
}

impl MaildropGuard {
    /// The lock file held.
    pub fn lock_file(&self) -> &Path {
        &self.lock_file
    }
}

impl Drop for MaildropGuard {
    fn drop(&mut self) {
        // Closing the file releases the flock; only then may another session of this process
        // open the file (see the module docs).
        drop(self.file.take());
        registry().remove(&self.key);
    }
}

/// The Maildirs locked by sessions of this process, by canonical path.
fn registry() -> MutexGuard<'static, HashSet<PathBuf>> {
    static HELD: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    // The set stays consistent even if a holder panicked (each operation is one insert or
    // remove), so a poisoned mutex is used as is rather than taking every later session down.
    HELD.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opened for writing as well: an exclusive lock on NFS needs it (`flock(2)`). Created
/// private (mail is), never truncated (it holds nothing).
fn lock_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn maildir_in(dir: &Path, name: &str) -> Maildir {
        Maildir::open_or_create(dir.join(name)).unwrap()
    }

    #[test]
    fn excludes_a_second_holder_and_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, bob) = (
            maildir_in(dir.path(), "alice"),
            maildir_in(dir.path(), "bob"),
        );
        let locks = MaildropLocks::new();
        let first = locks.try_lock(&alice).expect("free at first");
        assert_eq!(
            first.lock_file(),
            fs::canonicalize(alice.root()).unwrap().join(LOCK_FILE)
        );
        assert!(matches!(
            MaildropLocks::new().try_lock(&alice),
            Err(LockError::InUse)
        ));
        let other = locks
            .try_lock(&bob)
            .expect("another maildrop is independent");
        drop(first);
        let again = locks
            .try_lock(&alice)
            .expect("free after the guard is dropped");
        drop((again, other));
        // The file stays (see the module docs), and is no message.
        assert!(alice.root().join(LOCK_FILE).is_file());
        assert!(alice.scan().unwrap().is_empty());
    }

    #[test]
    fn another_name_for_the_same_maildir_is_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, _bob) = (
            maildir_in(dir.path(), "alice"),
            maildir_in(dir.path(), "bob"),
        );
        let _held = MaildropLocks::new().try_lock(&alice).unwrap();
        let dotted = Maildir::open_or_create(dir.path().join("bob/../alice")).unwrap();
        assert!(matches!(
            MaildropLocks::new().try_lock(&dotted),
            Err(LockError::InUse)
        ));
    }

    /// The kernel's half of the lock, without the registry: two open file descriptions of one
    /// file exclude each other, even in one process (local file systems; see the module docs
    /// for NFS), and closing the holder frees it.
    #[test]
    fn flock_excludes_a_second_open_file_of_the_same_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let first = lock_file_options().open(&path).unwrap();
        let second = lock_file_options().open(&path).unwrap();
        first.try_lock().unwrap();
        assert!(matches!(second.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        second.try_lock().expect("free once the holder is closed");
    }

    #[test]
    fn a_lock_file_that_cannot_be_opened_is_an_io_error_and_takes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let alice = maildir_in(dir.path(), "alice");
        // A directory in the lock file's place: opening it for writing fails, even for root.
        fs::create_dir(alice.root().join(LOCK_FILE)).unwrap();
        let locks = MaildropLocks::new();
        assert!(matches!(locks.try_lock(&alice), Err(LockError::Io(_))));
        fs::remove_dir(alice.root().join(LOCK_FILE)).unwrap();
        let _again = locks
            .try_lock(&alice)
            .expect("the failure left no registration behind");
    }

    #[test]
    fn a_removed_maildir_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let alice = maildir_in(dir.path(), "alice");
        fs::remove_dir_all(alice.root()).unwrap();
        assert!(matches!(
            MaildropLocks::new().try_lock(&alice),
            Err(LockError::Io(_))
        ));
    }

    #[test]
    fn one_winner_among_concurrent_threads() {
        let dir = tempfile::tempdir().unwrap();
        let carol = maildir_in(dir.path(), "carol");
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (carol, barrier) = (carol.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let guard = MaildropLocks::new().try_lock(&carol);
                    barrier.wait(); // hold until everyone has tried
                    match guard {
                        Ok(_) => true,
                        Err(LockError::InUse) => false,
                        Err(e) => panic!("{e}"),
                    }
                })
            })
            .collect();
        let winners: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(winners.iter().filter(|&&won| won).count(), 1);
        let _again = MaildropLocks::new()
            .try_lock(&carol)
            .expect("free once every guard is dropped");
    }
}
