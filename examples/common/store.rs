//! Where the SMTP server puts the messages it accepts: a Maildir per recipient local part
//! (`root/<local-part>/`, created on first delivery), or a sink that counts and discards.
//!
//! The SMTP adapter checks each recipient with [`Store::check_recipient`] at RCPT time, starts
//! the message with [`Store::begin`] when DATA starts, streams the content into the returned
//! [`Incoming`], and answers 250 only after [`Incoming::commit`] returned `Ok`. Dropping an
//! `Incoming` (the client went away, the message was too large) stores nothing.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::maildir::{Delivery, Fsync, Maildir};

/// Longest local part (RFC 5321 section 4.5.3.1.1); also keeps directory names short.
pub const MAX_LOCAL_PART_LEN: usize = 64;

/// Most Maildirs a store keeps open (see [`OpenMaildirs`]); past it, it starts afresh.
const MAX_OPEN_MAILDIRS: usize = 1024;

/// The message store of an SMTP server.
#[derive(Debug, Clone)]
pub enum Store {
    /// Deliver into the Maildir `root/<local-part>/` of each recipient.
    Maildir {
        /// The data directory holding one Maildir per local part.
        root: PathBuf,
        /// The Maildirs opened so far, shared by the store's clones.
        open: OpenMaildirs,
        /// What a commit syncs.
        fsync: Fsync,
    },
    /// Count and discard (the sink mode, for load tests).
    Sink(SinkStats),
}

impl Store {
    /// A store delivering into Maildirs under `root`, syncing what `fsync` says (see
    /// [`Fsync`]; [`Fsync::All`] unless durability does not matter).
    pub fn maildir(root: impl Into<PathBuf>, fsync: Fsync) -> Self {
        Self::Maildir {
            root: root.into(),
            open: OpenMaildirs::default(),
            fsync,
        }
    }

    /// A sink with fresh counters.
    pub fn sink() -> Self {
        Self::Sink(SinkStats::default())
    }

    /// Whether a message for `local_part` could be stored: the same rule in both modes, so the
    /// server answers alike whatever it does with the message. A refusal maps to
    /// `550 5.1.3` (RFC 3463: bad destination mailbox address syntax).
    pub fn check_recipient(&self, local_part: &str) -> Result<(), InvalidLocalPart> {
        validate_local_part(local_part)
    }

    /// Starts one message for the given recipients' local parts (a local part given twice is
    /// stored once). Local parts are case-sensitive (RFC 5321 section 2.4): an adapter that
    /// wants `Alice` and `alice` to share a mailbox folds the case before calling.
    pub fn begin<'a>(
        &self,
        local_parts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Incoming, StoreError> {
        let mut seen: Vec<&str> = Vec::new();
        for local_part in local_parts {
            validate_local_part(local_part)?;
            if !seen.contains(&local_part) {
                seen.push(local_part);
            }
        }
        let target = match self {
            Self::Maildir { root, open, fsync } => {
                let mut deliveries = Vec::with_capacity(seen.len());
                for local_part in seen {
                    deliveries.push(open.get(root, local_part, *fsync)?.deliver()?);
                }
                Target::Maildirs(deliveries)
            }
            Self::Sink(stats) => Target::Sink(stats.clone()),
        };
        Ok(Incoming { target, size: 0 })
    }
}

/// The Maildirs a store has opened, by local part. [`Store::begin`] runs on a tokio adapter's
/// event loop, where creating the three subdirectories of a Maildir for every message (three
/// `mkdir`s failing with "exists", and their checks) would be wasted system calls; a Maildir
/// removed from under the server is created again by its next delivery (see
/// [`Maildir::deliver`]).
#[derive(Debug, Clone, Default)]
pub struct OpenMaildirs(Arc<Mutex<HashMap<String, Maildir>>>);

impl OpenMaildirs {
    /// The Maildir `root/<local_part>/`, opened (and created) on first use.
    fn get(&self, root: &Path, local_part: &str, fsync: Fsync) -> io::Result<Maildir> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(maildir) = open.get(local_part) {
            return Ok(maildir.clone());
        }
        if !root.is_dir() {
            create_data_root(root)?;
        }
        let maildir = Maildir::open_or_create(root.join(local_part))?.with_fsync(fsync);
        if open.len() >= MAX_OPEN_MAILDIRS {
            open.clear();
        }
        open.insert(local_part.to_owned(), maildir.clone());
        Ok(maildir)
    }
}

/// Creates the data root (mode 0700 on Unix), marked on Linux as the top of a directory
/// hierarchy (`FS_TOPDIR_FL`, as `/home` usually is): ext2/3/4 then put each recipient's
/// Maildir in a block group of its own instead of beside the others. That matters on ext4
/// without a journal, where creating a file near inodes freed in the last minutes costs up to
/// a millisecond (see `tests/load_support`): one mailbox emptied by a POP3 session, or removed,
/// does not slow the deliveries into the others. Where the flag is unknown, nothing changes.
/// A root that already exists is left as it is: how it is set up is its owner's choice.
fn create_data_root(root: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(root)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{IFlags, ioctl_getflags, ioctl_setflags};
        // Only a hint to the allocator: a file system without the flag loses nothing.
        let directory = std::fs::File::open(root)?;
        if let Ok(flags) = ioctl_getflags(&directory) {
            let _ = ioctl_setflags(&directory, flags | IFlags::TOPDIR);
        }
    }
    Ok(())
}

/// Checks that `local_part` is safe as the name of a directory under the data root: 1 to 64
/// octets, no `/`, no NUL, not starting with `.` (which also rules out `.` and `..`).
pub fn validate_local_part(local_part: &str) -> Result<(), InvalidLocalPart> {
    if local_part.is_empty() {
        Err(InvalidLocalPart::Empty)
    } else if local_part.len() > MAX_LOCAL_PART_LEN {
        Err(InvalidLocalPart::TooLong(local_part.len()))
    } else if local_part.starts_with('.') {
        Err(InvalidLocalPart::LeadingDot)
    } else if local_part.contains('/') {
        Err(InvalidLocalPart::Slash)
    } else if local_part.contains('\0') {
        Err(InvalidLocalPart::Nul)
    } else {
        Ok(())
    }
}

/// Why a local part cannot name a Maildir.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLocalPart {
    /// The local part is empty.
    #[error("empty local part")]
    Empty,
    /// Longer than [`MAX_LOCAL_PART_LEN`] octets (the length is given).
    #[error("local part of {0} octets, more than 64")]
    TooLong(usize),
    /// Starts with `.`: hidden, or `.`/`..` themselves.
    #[error("local part starts with '.'")]
    LeadingDot,
    /// Contains `/`, a path separator.
    #[error("local part contains '/'")]
    Slash,
    /// Contains NUL, which no file name can hold.
    #[error("local part contains NUL")]
    Nul,
}

/// Why [`Store::begin`] failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A recipient's local part is refused (answer 550 5.1.3).
    #[error(transparent)]
    InvalidLocalPart(#[from] InvalidLocalPart),
    /// The file system failed (answer 452 4.3.1 when it is full, else 451 4.3.0: try again
    /// later; see [`crate::smtp::policy::storage_failure`]).
    #[error("cannot store the message: {0}")]
    Io(#[from] io::Error),
}

/// Counters of a sink store, shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    messages: Arc<AtomicU64>,
    octets: Arc<AtomicU64>,
}

impl SinkStats {
    /// Messages committed.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Octets of the messages committed.
    pub fn octets(&self) -> u64 {
        self.octets.load(Ordering::Relaxed)
    }
}

/// One message on its way into the store: write its content, then
/// [`commit`](Self::commit). Dropped without commit, it stores nothing.
#[derive(Debug)]
#[must_use = "a message is discarded unless committed"]
pub struct Incoming {
    target: Target,
    size: u64,
}

#[derive(Debug)]
enum Target {
    Maildirs(Vec<Delivery>),
    Sink(SinkStats),
}

impl Incoming {
    /// Octets written so far.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True while nothing was written.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Stores the message durably in every recipient's Maildir (or counts it): `Ok` only once
    /// every copy is on disk in its `new/` (see [`Delivery::commit_all`]; the directory fsyncs
    /// are shared with concurrent deliveries). On error, the copies that failed are removed;
    /// copies that succeeded stay (SMTP has one reply for all recipients, so a sender retrying
    /// after 451 may duplicate them).
    pub fn commit(self) -> io::Result<Stored> {
        match self.target {
            Target::Maildirs(deliveries) => {
                let copies = deliveries.len();
                for result in Delivery::commit_all(deliveries) {
                    result?;
                }
                Ok(Stored {
                    copies,
                    size: self.size,
                })
            }
            Target::Sink(stats) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                stats.octets.fetch_add(self.size, Ordering::Relaxed);
                Ok(Stored {
                    copies: 0,
                    size: self.size,
                })
            }
        }
    }

    /// [`commit`](Self::commit) for the tokio adapters: the files are synced on tokio's
    /// blocking pool, and the directory syncs awaited (see [`Delivery::commit_all_async`]).
    pub async fn commit_async(self) -> io::Result<Stored> {
        match self.target {
            Target::Sink(_) => self.commit(),
            Target::Maildirs(deliveries) => {
                let copies = deliveries.len();
                for result in Delivery::commit_all_async(deliveries).await {
                    result?;
                }
                Ok(Stored {
                    copies,
                    size: self.size,
                })
            }
        }
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Target::Maildirs(deliveries) = &mut self.target {
            for delivery in deliveries {
                delivery.write_all(buf)?;
            }
        }
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Target::Maildirs(deliveries) = &mut self.target {
            for delivery in deliveries {
                delivery.flush()?;
            }
        }
        Ok(())
    }
}

/// A committed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Maildir copies written (0 in sink mode).
    pub copies: usize,
    /// Octets of the message.
    pub size: u64,
}
