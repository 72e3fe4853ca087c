//! A Maildir store (<https://cr.yp.to/proto/maildir.html>): atomic streaming delivery for the
//! SMTP server and the POP3 client, and the maildrop view a POP3 server serves.
//!
//! # The interface
//!
//! The protocol adapters use four things, and nothing else of the engine:
//!
//! - deliver: [`Maildir::open_or_create`], [`Maildir::deliver`], then [`Delivery::commit`]
//!   (or [`Delivery::commit_all`], and their `_async` forms under tokio);
//! - list: [`Maildrop::open`], a Maildir locked for one session and listed once
//!   ([`Maildrop::entries`]: unique-ids, sizes as sent);
//! - read: [`Maildrop::open_message`] (or [`Maildrop::message`], to read on another thread);
//! - commit deletions: [`Maildrop::commit_deletions`], at the session's end only.
//!
//! Everything below (tmp files, group commit, the lock file, unique names, size fields) is
//! the engine's own business, tested here (`cargo test -p examples --lib maildir`).
//!
//! # Delivery
//!
//! [`Maildir::deliver`] returns a [`Delivery`], a [`Write`]r the message streams into. The
//! first 64 KiB are kept in memory; only a larger message is spilled into its tmp file as it
//! arrives. So a typical message touches the file system only in [`Delivery::commit`], which
//! tokio adapters run on the blocking pool: creating a file can take a millisecond, and must
//! not stall the threads serving sessions. The tmp file is unnamed on Linux (`O_TMPFILE` in
//! `tmp/`), else the specification's `tmp/<unique>` (see `tmp_file`). `commit` makes the
//! message durable and visible in three steps:
//!
//! 1. write what is still in memory into the tmp file, and `fdatasync` it
//!    ([`File::sync_data`]: the data and the metadata needed to read it back, such as its
//!    length; not its timestamps);
//! 2. publish it in `new/`: link the file there (an unnamed one by its descriptor, a named
//!    one by its name in `tmp/`, then unlinked), never replacing a file of the same name;
//! 3. wait for an `fsync` of `new/` that *started after step 2* and succeeded.
//!
//! Only then does `commit` return `Ok`, and only then may an SMTP server answer 250 or a POP3
//! client send DELE: a message reported committed survives a crash, complete. A `Delivery`
//! dropped without commit leaves no tmp file (a named one is removed), so a client that
//! disconnects in the middle of DATA leaves nothing behind, and `new/` never holds a partial
//! message (step 1 precedes step 2, so even a crash right after it shows a whole message or
//! none).
//!
//! # Group commit
//!
//! Step 3 is shared: every delivery into the same `new/` of this process joins a batch, and
//! one fsync of the directory, run by a thread of its own, covers every publication of its
//! batch (the fsync starts only after each member's). While an fsync runs, new arrivals gather
//! into the next batch, so a delivery waits for at most two directory fsyncs and a busy server
//! makes far fewer than one per message. Step 1 cannot be shared (each file needs its own data on disk), but concurrent
//! fsyncs of different files are cheap: a journaling file system folds them into one commit,
//! and the block layer merges their cache flushes.
//! [`Delivery::commit_all`] does the three steps for many deliveries at once (files synced on
//! a few threads in parallel, one directory fsync per directory): the POP3 client commits a
//! batch of downloaded messages that way before it deletes any of them.
//!
//! If the directory fsync fails, every delivery of that batch fails and its file is removed
//! from `new/` again (it is not known to be durable; the sender will retry).
//!
//! Unique names follow the Maildir specification's modern form,
//! `<seconds>.P<pid>R<random>Q<counter>.<host>`: the counter is process-wide and atomic, so
//! concurrent deliveries from many tasks or threads never collide; pid and host set apart the
//! processes and machines delivering into one Maildir (several server instances sharing a
//! data root); and the random part, drawn once per process, sets apart processes that share
//! both, as containers do when each runs its server as pid 1 under one configured host name,
//! or a pid reused within the same second. Should a name be taken all the same, the link of
//! step 2 fails rather than replace the message, and the delivery takes a fresh name. The name
//! in `new/` adds `,S=<stored size>,W=<wire size>` (the size fields Dovecot also writes), so a
//! POP3 server lists our messages without reading them.
//!
//! # Less durability, for less work
//!
//! [`Maildir::with_fsync`] drops step 3 ([`Fsync::File`]: what the Maildir specification
//! asks, enough where the file system commits names in order) or steps 1 and 3
//! ([`Fsync::None`]: tests and load runs). On a disk where each write costs the kernel tens of
//! microseconds, each step is a sizeable part of a delivery's cost: see the README's load
//! figures.
//!
//! # With tokio
//!
//! Everything here is blocking `std::fs`, written once for both kinds of adapter. A tokio
//! adapter may call [`Maildir::deliver`] and write chunks from its task (page-cache writes are
//! short), but must not fsync there: it calls [`Delivery::commit_async`] (or
//! [`Delivery::commit_all_async`]), which syncs and publishes the file on tokio's blocking pool
//! and then awaits the directory's fsync as a future: no pool thread is parked per delivery
//! while the batch's fsync runs, which on a small machine saves a sleep and a wake-up (two
//! context switches) per message. Scanning a maildrop, reading messages and deleting them are
//! best moved to the pool too ([`tokio::task::spawn_blocking`]).
//!
//! # The POP3 view
//!
//! [`Maildrop`] (in `maildrop`) is a session's view built on what follows.
//! [`Maildir::scan`] lists the messages in `new/` and `cur/` with a unique-id and the size as
//! sent (see [`MessageEntry`]); [`Maildir::open_message`] streams one in its wire form;
//! [`Maildir::delete`] removes messages at the end of a session, reporting each failure.
//! [`MaildropLocks`] keeps to one session per maildrop, across every process serving the
//! Maildir: a session holds a `flock` on the Maildir's [`LOCK_FILE`] (see `lock`).

mod group_commit;
mod lock;
mod maildrop;
mod tmp_file;
mod wire;

pub use lock::{LOCK_FILE, LockError, MaildropGuard, MaildropLocks};
pub use maildrop::{Maildrop, StoredMessage};
pub use wire::{WireReader, WireSize};

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

use group_commit::{Announcement, DirSyncer, PendingSync};
use tmp_file::TmpName;

/// The Maildir's three subdirectories (the Maildir specification).
const TMP: &str = "tmp";
const NEW: &str = "new";
const CUR: &str = "cur";

/// Longest POP3 unique-id (RFC 1939 section 7, UIDL: 1 to 70 characters).
const MAX_UID_LEN: usize = 70;

/// Write buffer of a delivery: few system calls per message, bounded memory. A message that
/// fits is not written to a file before its commit.
const WRITE_BUFFER: usize = 64 * 1024;

/// Most threads [`Delivery::commit_all`] fsyncs files on at once: enough for the file system to
/// fold the fsyncs into few journal commits, few enough to be cheap to start.
const SYNC_THREADS: usize = 8;

/// Process-wide part of the unique names: no two deliveries of this process share a value.
static DELIVERY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What a commit makes durable before it returns `Ok` (the three levels of Dovecot's
/// `mail_fsync`). Each level drops one guarantee, and the system calls and disk writes it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Fsync {
    /// The message's file, then `new/` once the name is in it: a committed message survives a
    /// crash, under its name, on any file system.
    #[default]
    All,
    /// Only the message's file, as the Maildir specification asks ("tmp/ -> fsync -> rename"):
    /// its octets survive a crash; its name in `new/` does where the file system commits names
    /// in order (a journal), while without one fsck may leave the file in `lost+found`.
    File,
    /// Nothing: a crash may lose messages already reported committed. For tests and load runs
    /// whose mail does not matter.
    None,
}

/// A Maildir: a directory with `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// The group committer of `new/`, shared with every delivery into it.
    new_syncer: Arc<DirSyncer>,
    fsync: Fsync,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `root` and its `tmp/`, `new/` and `cur/` as
    /// needed (mode 0700 on Unix: mail is private). Deliveries sync [`Fsync::All`].
    pub fn open_or_create(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for sub in [TMP, NEW, CUR] {
            private_dir_builder().create(root.join(sub))?;
        }
        let new_syncer = DirSyncer::for_dir(&root.join(NEW));
        Ok(Self {
            root,
            new_syncer,
            fsync: Fsync::default(),
        })
    }

    /// The same Maildir, its deliveries syncing what `fsync` says.
    pub fn with_fsync(self, fsync: Fsync) -> Self {
        Self { fsync, ..self }
    }

    /// The Maildir's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts a delivery: returns the writer for the message. No file exists yet: the message
    /// is buffered, and goes into `tmp/` once it outgrows the buffer, or at commit. A Maildir
    /// removed since it was opened is created again when its file is.
    pub fn deliver(&self) -> io::Result<Delivery> {
        Ok(Delivery {
            content: Content::Buffered(Vec::new()),
            tmp_dir: self.root.join(TMP),
            tmp_name: None,
            new_syncer: Arc::clone(&self.new_syncer),
            fsync: self.fsync,
            unique: unique_name(),
            stored: 0,
            wire: WireSize::new(),
            committed: false,
        })
    }

    /// Lists the messages of `new/` and `cur/`, in delivery order: by the delivery time (the
    /// seconds a Maildir name starts with, else the file's modification time), then by name.
    /// The order and the unique-ids are the same in every session while the files stay.
    ///
    /// The listing is a snapshot: a POP3 server takes it at login and serves it for the whole
    /// session (RFC 1939 section 8), so a message delivered meanwhile waits for the next
    /// login, and one removed meanwhile by another process is reported by
    /// [`open_message`](Self::open_message) and counted removed by [`delete`](Self::delete).
    ///
    /// Names starting with `.` and anything that is not a file are skipped, as the Maildir
    /// specification asks of readers; a unique name found in both `new/` and `cur/` is
    /// listed once. A message whose name carries no size fields (one stored
    /// by another agent) is read once, in chunks, to count its size as sent.
    pub fn scan(&self) -> io::Result<Vec<MessageEntry>> {
        let mut messages = Vec::new();
        for sub in [NEW, CUR] {
            for dir_entry in fs::read_dir(self.root.join(sub))? {
                let dir_entry = dir_entry?;
                let name = dir_entry.file_name();
                if name.as_encoded_bytes().starts_with(b".") {
                    continue;
                }
                match MessageEntry::read(dir_entry.path(), &name) {
                    Ok(Some(message)) => messages.push(message),
                    Ok(None) => {}
                    // Removed or moved by another reader since the listing: not a message now.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        messages.sort_by(|a, b| {
            (a.delivered, a.base.as_encoded_bytes()).cmp(&(b.delivered, b.base.as_encoded_bytes()))
        });
        // One message under one unique name: a reader moving it from new/ to cur/ while the
        // listing ran, or a reader that links before it unlinks, may show it in both.
        let mut seen = std::collections::HashSet::with_capacity(messages.len());
        messages.retain(|message| seen.insert(message.base.clone()));
        Ok(messages)
    }

    /// Opens a listed message for sending: its wire form (every line ending in CRLF), read in
    /// chunks. Finds the message again if another reader moved it from `new/` to `cur/`. A
    /// message removed since the listing (by another server instance or reader) is a
    /// `NotFound` error, which a POP3 server answers with `-ERR` for that message alone; once
    /// opened, a message stays readable to the end even if it is removed meanwhile.
    pub fn open_message(&self, message: &MessageEntry) -> io::Result<WireReader<File>> {
        let file = match File::open(&message.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => File::open(self.find(message)?)?,
            other => other?,
        };
        Ok(WireReader::new(file))
    }

    /// Removes the given messages (POP3's UPDATE state, RFC 1939 section 6). Every message is
    /// tried; the report says which could not be removed, so the server can answer
    /// `-ERR [SYS/TEMP]` (RFC 3206 section 4). A message already gone counts as removed:
    /// what the client asked for is true.
    pub fn delete<'a>(&self, messages: impl IntoIterator<Item = &'a MessageEntry>) -> DeleteReport {
        let mut report = DeleteReport::default();
        for message in messages {
            let outcome = match fs::remove_file(&message.path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.find(message).and_then(fs::remove_file)
                }
                other => other,
            };
            match outcome {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    report.failed.push(DeleteFailure {
                        uid: message.uid.clone(),
                        error: e,
                    })
                }
                _ => report.deleted += 1,
            }
        }
        report
    }

    /// Where a message is now: another reader may have moved it into `cur/` and added flags.
    fn find(&self, message: &MessageEntry) -> io::Result<PathBuf> {
        for sub in [NEW, CUR] {
            for dir_entry in fs::read_dir(self.root.join(sub))? {
                let dir_entry = dir_entry?;
                if base_name(&dir_entry.file_name()) == message.base.as_os_str() {
                    return Ok(dir_entry.path());
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("message {} is no longer in the maildir", message.uid),
        ))
    }
}

/// A message being delivered: write it, then [`commit`](Self::commit). Dropped without commit,
/// it removes its tmp file.
#[derive(Debug)]
#[must_use = "a delivery is discarded unless committed"]
pub struct Delivery {
    content: Content,
    tmp_dir: PathBuf,
    /// The tmp file, once created.
    tmp_name: Option<TmpName>,
    new_syncer: Arc<DirSyncer>,
    fsync: Fsync,
    unique: String,
    stored: u64,
    wire: WireSize,
    committed: bool,
}

/// Where a delivery's octets are until commit.
#[derive(Debug)]
enum Content {
    /// All of it so far, at most [`WRITE_BUFFER`] octets: no file yet.
    Buffered(Vec<u8>),
    /// Spilled into its tmp file.
    File(BufWriter<File>),
}

impl Delivery {
    /// The unique part of the message's file name.
    pub fn unique_name(&self) -> &str {
        &self.unique
    }

    /// Octets written so far.
    pub fn len(&self) -> u64 {
        self.stored
    }

    /// True while nothing was written.
    pub fn is_empty(&self) -> bool {
        self.stored == 0
    }

    /// Makes the message durable and visible: flush and fdatasync the file, publish it in
    /// `new/`, and wait for an fsync of `new/` that started after that (one shared with the
    /// deliveries published meanwhile: see the [module docs](self)). `Ok` means
    /// the message is on disk in `new/` (with less to it under [`Fsync::File`] and
    /// [`Fsync::None`]). On error nothing is left in `tmp/` or `new/`, and the caller answers
    /// with a temporary failure (SMTP 451).
    pub fn commit(mut self) -> io::Result<Delivered> {
        let announcement = self.announce();
        self.sync_file()?;
        self.publish(announcement)?.finish()
    }

    /// [`commit`](Self::commit) for many deliveries at once, each result in the order given:
    /// the files are flushed and fdatasynced on up to 8 threads in parallel, published in
    /// their `new/`, then each waits for the fsync of its `new/` (one fsync covers every
    /// delivery into a directory: they join the same batch). The guarantee is `commit`'s,
    /// delivery by delivery; one failure does not fail the others, except that a failed
    /// directory fsync fails every delivery it covered.
    pub fn commit_all(deliveries: Vec<Delivery>) -> Vec<io::Result<Delivered>> {
        Self::publish_all(deliveries)
            .into_iter()
            .map(|published| published?.finish())
            .collect()
    }

    /// [`commit`](Self::commit) for the tokio adapters: the file is synced and published on
    /// tokio's blocking pool (fsync can take milliseconds and must not stall the runtime's
    /// worker threads), then the directory sync is awaited, with no thread parked for it.
    pub async fn commit_async(mut self) -> io::Result<Delivered> {
        let announcement = self.announce();
        let published = tokio::task::spawn_blocking(move || {
            self.sync_file()?;
            self.publish(announcement)
        })
        .await
        .map_err(io::Error::other)??;
        published.finish_async().await
    }

    /// [`commit_all`](Self::commit_all) for the tokio adapters, as
    /// [`commit_async`](Self::commit_async) is for one delivery.
    pub async fn commit_all_async(deliveries: Vec<Delivery>) -> Vec<io::Result<Delivered>> {
        let count = deliveries.len();
        let published =
            match tokio::task::spawn_blocking(move || Self::publish_all(deliveries)).await {
                Ok(published) => published,
                // The pool is shutting down, or publishing panicked: nothing is known
                // committed, and each delivery still gets its result.
                Err(e) => {
                    let why = e.to_string();
                    return (0..count)
                        .map(|_| Err(io::Error::other(why.clone())))
                        .collect();
                }
            };
        let mut results = Vec::with_capacity(published.len());
        for published in published {
            results.push(match published {
                Ok(published) => published.finish_async().await,
                Err(e) => Err(e),
            });
        }
        results
    }

    /// Steps 1 and 2 of [`commit_all`](Self::commit_all), and the start of step 3.
    fn publish_all(deliveries: Vec<Delivery>) -> Vec<io::Result<Published>> {
        let announced: Vec<_> = deliveries
            .into_iter()
            .map(|delivery| (delivery.announce(), delivery))
            .collect();
        in_parallel(announced, |(announcement, mut delivery)| {
            delivery.sync_file().map(|()| (announcement, delivery))
        })
        .into_iter()
        .map(|synced| {
            let (announcement, mut delivery) = synced?;
            delivery.publish(announcement)
        })
        .collect()
    }

    /// Tells the directory's syncer, when the delivery will wait for it ([`Fsync::All`]), that
    /// it is about to sync its file and register (see `group_commit`).
    fn announce(&self) -> Option<Announcement> {
        (self.fsync == Fsync::All).then(|| self.new_syncer.announce())
    }

    /// Step 2, and the start of step 3: the message is visible in `new/`, and registered for
    /// the directory fsync that makes it durable there (when announced: [`Fsync::All`]).
    fn publish(&mut self, announcement: Option<Announcement>) -> io::Result<Published> {
        let delivered = self.publish_into_new()?;
        let sync = match announcement.map(Announcement::register).transpose() {
            Ok(sync) => sync,
            Err(e) => return Err(unpublish(&delivered, e)),
        };
        Ok(Published { delivered, sync })
    }

    /// Step 1: the message's octets are in its file, and on disk unless [`Fsync::None`].
    fn sync_file(&mut self) -> io::Result<()> {
        let fsync = self.fsync;
        let file = self.spill()?;
        file.flush()?;
        match fsync {
            Fsync::All | Fsync::File => file.get_ref().sync_data(),
            Fsync::None => Ok(()),
        }
    }

    /// Moves the buffered octets into a new tmp file (once); returns the file's writer.
    fn spill(&mut self) -> io::Result<&mut BufWriter<File>> {
        if let Content::Buffered(buffered) = &mut self.content {
            let buffered = std::mem::take(buffered);
            let (file, name) = self.create_tmp_file()?;
            self.tmp_name = Some(name);
            let mut file = BufWriter::with_capacity(WRITE_BUFFER, file);
            file.write_all(&buffered)?;
            self.content = Content::File(file);
        }
        match &mut self.content {
            Content::File(file) => Ok(file),
            Content::Buffered(_) => unreachable!("spilled just above"),
        }
    }

    /// Creates the tmp file (see [`tmp_file`]). A named one is made with `create_new`, so a
    /// stale file of the same name is never overwritten (see [`recover`](Self::recover)).
    fn create_tmp_file(&mut self) -> io::Result<(File, TmpName)> {
        let mut attempts = 0;
        loop {
            match tmp_file::create(&self.tmp_dir, &self.unique) {
                Err(e) => self.recover(e, &mut attempts)?,
                created => return created,
            }
        }
    }

    /// Deals with a failed creation or publication of the delivery's file, for another try:
    /// a name already taken gets a fresh unique name (nothing was published under the old
    /// one), and a Maildir removed since it was opened (an administrator cleaning up) is made
    /// again, as opening it would have. Any other error, or a fourth failure, is given back.
    fn recover(&mut self, error: io::Error, attempts: &mut u32) -> io::Result<()> {
        if *attempts >= 3 {
            return Err(error);
        }
        *attempts += 1;
        match error.kind() {
            io::ErrorKind::AlreadyExists => {
                self.unique = unique_name();
                Ok(())
            }
            io::ErrorKind::NotFound => {
                let new_dir = self.new_syncer.dir();
                let root = new_dir.parent().unwrap_or(new_dir);
                for dir in [&self.tmp_dir, new_dir, &root.join(CUR)] {
                    private_dir_builder().create(dir)?;
                }
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// Step 2: the message is visible in `new/` (not yet durably: see [`settle`]). An
    /// unnamed tmp file whose name is taken in `new/` takes a fresh unique name.
    fn publish_into_new(&mut self) -> io::Result<Delivered> {
        let wire_size = self.wire.total();
        let mut attempts = 0;
        let (path, file_name) = loop {
            let (Content::File(file), Some(tmp_name)) = (&self.content, &self.tmp_name) else {
                return Err(io::Error::other(
                    "a delivery is published only after its file is synced",
                ));
            };
            let file_name = format!("{},S={},W={}", self.unique, self.stored, wire_size);
            let path = self.new_syncer.dir().join(&file_name);
            match tmp_file::publish(file.get_ref(), tmp_name, &path) {
                Ok(()) => break (path, file_name),
                Err(e) => self.recover(e, &mut attempts)?,
            }
        };
        // The tmp file is published: from here on, Drop has nothing to remove.
        self.committed = true;
        Ok(Delivered {
            path,
            unique: file_name,
            size: self.stored,
            wire_size,
        })
    }
}

impl Write for Delivery {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = match &mut self.content {
            Content::Buffered(buffered) if buffered.len() + buf.len() <= WRITE_BUFFER => {
                buffered.extend_from_slice(buf);
                buf.len()
            }
            _ => self.spill()?.write(buf)?,
        };
        self.stored += written as u64;
        self.wire.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.content {
            Content::Buffered(_) => Ok(()),
            Content::File(file) => file.flush(),
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let (false, Some(TmpName::Named(tmp_path))) = (self.committed, &self.tmp_name) {
            // Best effort: there is no one to tell, and a leftover in tmp/ is harmless to
            // readers (the Maildir specification has tmp/ cleaned after 36 hours).
            let _ = fs::remove_file(tmp_path);
        }
    }
}

/// A committed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The message's file in `new/`.
    pub path: PathBuf,
    /// Its file name (the unique name with the size fields).
    pub unique: String,
    /// Octets stored.
    pub size: u64,
    /// Octets a POP3 server sends for it (see [`WireSize`]).
    pub wire_size: u64,
}

/// One message of a maildrop, as [`Maildir::scan`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    uid: String,
    base: OsString,
    path: PathBuf,
    wire_size: u64,
    delivered: u64,
}

impl MessageEntry {
    /// Reads one directory entry; `None` when it is not a regular file.
    fn read(path: PathBuf, name: &OsStr) -> io::Result<Option<Self>> {
        let metadata = fs::metadata(&path)?;
        if !metadata.is_file() {
            return Ok(None);
        }
        let base = base_name(name).to_owned();
        let wire_size = match size_fields(&base) {
            // Trust W= only when S= proves the file is the one the fields describe.
            (Some(stored), Some(wire)) if stored == metadata.len() => wire,
            _ => WireSize::of_reader(File::open(&path)?)?,
        };
        let delivered = leading_seconds(&base).unwrap_or_else(|| {
            metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs())
        });
        Ok(Some(Self {
            uid: unique_id(&base),
            base,
            path,
            wire_size,
            delivered,
        }))
    }

    /// The POP3 unique-id (RFC 1939 section 7, UIDL): the file name before its `:2,` info,
    /// when that is 1 to 70 characters in 0x21..=0x7E; otherwise the hex MD5 of it. Stable
    /// across sessions because Maildir readers never change that part of the name.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The size of the message as a POP3 server sends it, for STAT and LIST (RFC 1939
    /// sections 5 and 11): the stored octets with every bare LF counted as CRLF and a missing
    /// final line ending completed; dot-stuffing is not counted. It equals the octets
    /// [`Maildir::open_message`] yields.
    pub fn wire_size(&self) -> u64 {
        self.wire_size
    }

    /// The message's file, where the scan found it.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`Maildir::delete`] did.
#[derive(Debug, Default)]
pub struct DeleteReport {
    /// Messages removed (or found already gone).
    pub deleted: usize,
    /// Messages that could not be removed, with why.
    pub failed: Vec<DeleteFailure>,
}

impl DeleteReport {
    /// True when every message was removed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A message [`Maildir::delete`] could not remove.
#[derive(Debug)]
pub struct DeleteFailure {
    /// Its unique-id.
    pub uid: String,
    /// The file system's error.
    pub error: io::Error,
}

/// Step 3's verdict on a published message: kept when the fsync of `new/` covering it
/// succeeded; otherwise taken back, so that the sender's retry cannot produce a second copy.
fn settle(delivered: Delivered, outcome: io::Result<()>) -> io::Result<Delivered> {
    match outcome {
        Ok(()) => Ok(delivered),
        Err(e) => Err(unpublish(&delivered, e)),
    }
}

/// Removes a published message that is not known durable, giving back why.
fn unpublish(delivered: &Delivered, why: io::Error) -> io::Error {
    let _ = fs::remove_file(&delivered.path);
    why
}

/// A delivery published in `new/`, waiting for the directory sync that makes it durable
/// there, if it waits for one.
#[derive(Debug)]
#[must_use = "a published delivery is committed only once finished"]
struct Published {
    delivered: Delivered,
    sync: Option<PendingSync>,
}

impl Published {
    /// Waits for the directory sync on this thread; see [`settle`].
    fn finish(self) -> io::Result<Delivered> {
        let outcome = self.sync.map_or(Ok(()), PendingSync::wait);
        settle(self.delivered, outcome)
    }

    /// Awaits the directory sync; see [`settle`].
    async fn finish_async(self) -> io::Result<Delivered> {
        let outcome = match self.sync {
            Some(pending) => pending.await,
            None => Ok(()),
        };
        settle(self.delivered, outcome)
    }
}

/// `work` over `items` on up to [`SYNC_THREADS`] threads (the caller's included), results in
/// the order of `items`. One item runs on the caller's thread alone; a helper thread that
/// cannot be started leaves its share to the others.
fn in_parallel<T: Send, R: Send>(items: Vec<T>, work: impl Fn(T) -> R + Sync) -> Vec<R> {
    let count = items.len();
    if count <= 1 {
        return items.into_iter().map(work).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    let drain = || {
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((index, item)) = next else { break };
            let result = work(item);
            results.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..count.min(SYNC_THREADS) {
            let _ = std::thread::Builder::new().spawn_scoped(scope, drain);
        }
        drain();
    });
    // Every slot is filled: the queue was drained, and a panicking worker would have
    // propagated out of the scope.
    results
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// A fresh unique name for this process (see the [module docs](self)).
fn unique_name() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let counter = DELIVERY_COUNTER.fetch_add(1, Ordering::Relaxed);
    format_unique_name(
        seconds,
        std::process::id(),
        process_random(),
        counter,
        hostname(),
    )
}

/// `<seconds>.P<pid>R<random>Q<counter>.<host>`, `host` already made safe by
/// [`safe_hostname`].
fn format_unique_name(seconds: u64, pid: u32, random: u32, counter: u64, host: &str) -> String {
    format!("{seconds}.P{pid}R{random:08x}Q{counter}.{host}")
}

/// 32 random bits, drawn once per process: the keys std's hash maps are seeded with come from
/// the system's random source, and std offers no other without a dependency.
fn process_random() -> u32 {
    static RANDOM: OnceLock<u32> = OnceLock::new();
    *RANDOM.get_or_init(|| {
        use std::hash::BuildHasher;
        let hashed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        // Both halves, folded: each is as random as the whole.
        (hashed ^ (hashed >> 32)) as u32
    })
}

/// The host name for unique names, read once: `/proc/sys/kernel/hostname`, else `$HOSTNAME`,
/// else `localhost` (std has no portable call, and this is only a uniqueness hint).
fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(|| {
        let raw = fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        safe_hostname(&raw)
    })
}

/// `raw` made fit for the last part of a unique name: `/` and `:` escaped as the Maildir
/// specification asks (`\057`, `\072`: a `/` would name a directory, and `:` starts the
/// info), `,` too (`\054`: it separates our size fields), and any other character that is
/// not printable ASCII replaced by `_`.
fn safe_hostname(raw: &str) -> String {
    let mut safe = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '/' => safe.push_str("\\057"),
            ':' => safe.push_str("\\072"),
            ',' => safe.push_str("\\054"),
            c if c.is_ascii_graphic() => safe.push(c),
            _ => safe.push('_'),
        }
    }
    safe
}

/// The part of a Maildir file name before the info (`:2,FLAGS`).
fn base_name(name: &OsStr) -> &OsStr {
    let bytes = name.as_encoded_bytes();
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return name;
    };
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::from_bytes(&bytes[..colon])
    }
    #[cfg(not(unix))]
    {
        // Elsewhere only UTF-8 names can be split without unsafe code.
        name.to_str()
            .map_or(name, |text| OsStr::new(&text[..colon]))
    }
}

/// The `,S=` and `,W=` fields of our names (and Dovecot's).
fn size_fields(base: &OsStr) -> (Option<u64>, Option<u64>) {
    let Some(text) = base.to_str() else {
        return (None, None);
    };
    let (mut stored, mut wire) = (None, None);
    for field in text.split(',').skip(1) {
        if let Some(value) = field.strip_prefix("S=") {
            stored = value.parse().ok();
        } else if let Some(value) = field.strip_prefix("W=") {
            wire = value.parse().ok();
        }
    }
    (stored, wire)
}

/// The delivery time a Maildir name starts with (`<seconds>.`), if it does.
fn leading_seconds(base: &OsStr) -> Option<u64> {
    let bytes = base.as_encoded_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || bytes.get(digits) != Some(&b'.') {
        return None;
    }
    std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()
}

/// See [`MessageEntry::uid`].
fn unique_id(base: &OsStr) -> String {
    let bytes = base.as_encoded_bytes();
    let usable =
        (1..=MAX_UID_LEN).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    match std::str::from_utf8(bytes) {
        Ok(text) if usable => text.to_owned(),
        _ => Md5::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    }
}

fn private_dir_builder() -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn delivery_of(maildir: &Maildir, content: &[u8]) -> Delivery {
        let mut delivery = maildir.deliver().unwrap();
        delivery.write_all(content).unwrap();
        delivery
    }

    #[test]
    fn only_fsync_all_waits_for_a_directory_sync() {
        use std::sync::atomic::AtomicUsize;
        for (fsync, directory_syncs) in [(Fsync::All, 2), (Fsync::File, 0), (Fsync::None, 0)] {
            let dir = tempfile::tempdir().unwrap();
            let maildir = Maildir::open_or_create(dir.path())
                .unwrap()
                .with_fsync(fsync);
            let syncs = Arc::new(AtomicUsize::new(0));
            let counted = Arc::clone(&syncs);
            let syncer = Arc::new(DirSyncer::new(
                dir.path().join(NEW),
                Box::new(move |_| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
            ));
            let mut alone = delivery_of(&maildir, b"alone\r\n");
            alone.new_syncer = Arc::clone(&syncer);
            alone.commit().unwrap();
            let mut in_a_batch = delivery_of(&maildir, b"in a batch\r\n");
            in_a_batch.new_syncer = syncer;
            let results = Delivery::commit_all(vec![in_a_batch]);
            assert!(results[0].is_ok(), "{fsync:?}: {results:?}");
            assert_eq!(syncs.load(Ordering::SeqCst), directory_syncs, "{fsync:?}");
            assert_eq!(names_in(&dir.path().join(NEW)).len(), 2, "{fsync:?}");
            assert!(names_in(&dir.path().join(TMP)).is_empty(), "{fsync:?}");
        }
    }

    /// A failed directory fsync fails the delivery and takes its file out of `new/` again,
    /// waited for on a thread or awaited.
    #[test]
    fn a_failed_directory_sync_unpublishes_the_message() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::open_or_create(dir.path()).unwrap();
        let failing = Arc::new(DirSyncer::new(
            dir.path().join(NEW),
            Box::new(|_| Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))),
        ));
        for awaited in [false, true] {
            let mut delivery = delivery_of(&maildir, b"lost\r\n");
            delivery.new_syncer = Arc::clone(&failing);
            let result = if awaited {
                runtime.block_on(delivery.commit_async())
            } else {
                delivery.commit()
            };
            let error = result.unwrap_err();
            assert_eq!(
                error.kind(),
                io::ErrorKind::StorageFull,
                "awaited: {awaited}"
            );
            assert!(
                names_in(&dir.path().join(NEW)).is_empty(),
                "awaited: {awaited}"
            );
            assert!(
                names_in(&dir.path().join(TMP)).is_empty(),
                "awaited: {awaited}"
            );
        }
    }

    #[test]
    fn commit_all_stores_every_message_and_answers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let alice = Maildir::open_or_create(dir.path().join("alice")).unwrap();
        let bob = Maildir::open_or_create(dir.path().join("bob")).unwrap();
        let mut deliveries = Vec::new();
        for n in 0..20 {
            let maildir = if n % 3 == 0 { &bob } else { &alice };
            deliveries.push(delivery_of(maildir, format!("message {n}\r\n").as_bytes()));
        }
        let results = Delivery::commit_all(deliveries);
        assert_eq!(results.len(), 20);
        for (n, result) in results.into_iter().enumerate() {
            let delivered = result.unwrap();
            let owner = if n % 3 == 0 { "bob" } else { "alice" };
            assert!(
                delivered
                    .path
                    .starts_with(dir.path().join(owner).join("new"))
            );
            assert_eq!(
                fs::read(&delivered.path).unwrap(),
                format!("message {n}\r\n").as_bytes()
            );
        }
        assert_eq!(names_in(&alice.root().join("new")).len(), 13);
        assert_eq!(names_in(&bob.root().join("new")).len(), 7);
        for maildir in [&alice, &bob] {
            assert!(names_in(&maildir.root().join("tmp")).is_empty());
        }
    }

    /// Waited for on a thread or awaited, a batch's deliveries fail one by one.
    #[test]
    fn commit_all_fails_only_the_delivery_that_failed() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for awaited in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let maildir = Maildir::open_or_create(dir.path()).unwrap();
            let mut deliveries: Vec<Delivery> = (0..5)
                .map(|n| delivery_of(&maildir, format!("{n}\r\n").as_bytes()))
                .collect();
            // The third one cannot create its file (its tmp/ is a file): it fails alone.
            let not_a_dir = dir.path().join("not-a-dir");
            fs::write(&not_a_dir, b"").unwrap();
            deliveries[2].tmp_dir = not_a_dir;
            let results = if awaited {
                runtime.block_on(Delivery::commit_all_async(deliveries))
            } else {
                Delivery::commit_all(deliveries)
            };
            for (n, result) in results.iter().enumerate() {
                assert_eq!(result.is_ok(), n != 2, "awaited {awaited}, {n}: {result:?}");
            }
            assert_eq!(
                results[2].as_ref().unwrap_err().kind(),
                io::ErrorKind::NotADirectory
            );
            let mut stored: Vec<Vec<u8>> = names_in(&dir.path().join(NEW))
                .iter()
                .map(|name| fs::read(dir.path().join(NEW).join(name)).unwrap())
                .collect();
            stored.sort();
            assert_eq!(stored, [b"0\r\n", b"1\r\n", b"3\r\n", b"4\r\n"]);
            assert!(names_in(&dir.path().join(TMP)).is_empty());
        }
    }

    #[test]
    fn deliveries_into_one_maildir_share_its_syncer() {
        let dir = tempfile::tempdir().unwrap();
        let first = Maildir::open_or_create(dir.path()).unwrap();
        let again = Maildir::open_or_create(dir.path()).unwrap();
        let delivery = first.deliver().unwrap();
        assert!(Arc::ptr_eq(&delivery.new_syncer, &again.new_syncer));
        assert_eq!(delivery.new_syncer.dir(), dir.path().join(NEW));
    }

    /// Two instances sharing a Maildir differ in pid or host, or, both shared, in the random
    /// part; the delimiters keep any two of them apart (pid 1 with counter 23 is not pid 12
    /// with counter 3).
    #[test]
    fn unique_names_differ_whenever_pid_host_random_or_counter_does() {
        let mut names = HashSet::new();
        for pid in [1, 12, 123] {
            for host in ["mx", "mx.example", "mx2"] {
                for random in [0, 1, 0xdead_beef] {
                    for counter in [0, 3, 23, 233] {
                        let name = format_unique_name(1_700_000_000, pid, random, counter, host);
                        assert!(!name.contains(['/', ':', ',']), "{name}");
                        assert!(names.insert(name.clone()), "{name} twice");
                    }
                }
            }
        }
        assert_eq!(names.len(), 3 * 3 * 3 * 4);
        assert_eq!(
            format_unique_name(1_700_000_000, 42, 0xab, 7, "mx"),
            "1700000000.P42R000000abQ7.mx"
        );
    }

    #[test]
    fn this_process_names_carry_its_pid_and_host_and_never_repeat() {
        let names: HashSet<String> = (0..1000).map(|_| unique_name()).collect();
        assert_eq!(names.len(), 1000);
        let marker = format!(".P{}R", std::process::id());
        for name in &names {
            assert!(name.contains(&marker), "{name}");
            assert!(name.ends_with(&format!(".{}", hostname())), "{name}");
            assert!(leading_seconds(OsStr::new(name)).is_some(), "{name}");
        }
    }

    #[test]
    fn host_names_are_escaped_as_the_maildir_specification_asks() {
        assert_eq!(safe_hostname("mx.example.org"), "mx.example.org");
        assert_eq!(safe_hostname("a/b:c,d"), "a\\057b\\072c\\054d");
        assert_eq!(safe_hostname("h\u{e9} te"), "h__te");
    }

    /// A name already taken in `new/` (another instance's message, were every part of the
    /// name the same) is left alone: the delivery takes a fresh name.
    #[test]
    fn a_delivery_never_replaces_a_message_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = Maildir::open_or_create(dir.path()).unwrap();
        for content in [&b"small\r\n"[..], &[b'x'; WRITE_BUFFER + 1]] {
            let delivery = delivery_of(&maildir, content);
            let size = content.len();
            let wire = if content.ends_with(b"\r\n") {
                size
            } else {
                size + 2
            };
            let taken = dir
                .path()
                .join(NEW)
                .join(format!("{},S={size},W={wire}", delivery.unique_name()));
            fs::write(&taken, b"an earlier message\r\n").unwrap();
            let delivered = delivery.commit().unwrap();
            assert_ne!(delivered.path, taken);
            assert_eq!(fs::read(&taken).unwrap(), b"an earlier message\r\n");
            assert_eq!(fs::read(&delivered.path).unwrap(), content);
        }
        assert_eq!(names_in(&dir.path().join(NEW)).len(), 4);
        assert!(names_in(&dir.path().join(TMP)).is_empty());
    }

    #[test]
    fn in_parallel_keeps_the_order_of_its_items() {
        let squares = in_parallel((0..100u64).collect(), |n| n * n);
        assert_eq!(squares, (0..100u64).map(|n| n * n).collect::<Vec<_>>());
        assert!(in_parallel(Vec::<u8>::new(), |n| n).is_empty());
    }
}
