//! One reader's session on a Maildir: the engine's side of "list, read, commit deletions".
//!
//! [`Maildrop::open`] locks the Maildir against every other session, of this process or
//! another ([`MaildropLocks`], the `flock` on [`LOCK_FILE`](super::LOCK_FILE)), then lists it
//! once: the snapshot the whole session serves (RFC 1939 section 8). Messages are read by their
//! position in that listing ([`Maildrop::open_message`], [`Maildrop::message`]), and removed
//! only by [`Maildrop::commit_deletions`]: a session dropped without it deletes nothing
//! (ARCHITECTURE.md security invariant 6). Dropping the `Maildrop` frees the lock.
//!
//! Everything here blocks on the file system; a tokio adapter calls it on the blocking pool.
//! Nothing here knows a protocol: the POP3 adapter turns the listing into its wire values.

use std::fs::File;
use std::io;
use std::path::Path;

use super::WireReader;
use super::{DeleteReport, LockError, Maildir, MaildropGuard, MaildropLocks, MessageEntry};

/// A Maildir locked and listed for one session.
#[derive(Debug)]
pub struct Maildrop {
    maildir: Maildir,
    entries: Vec<MessageEntry>,
    _guard: MaildropGuard,
}

impl Maildrop {
    /// Locks the Maildir `root/<name>` (created when missing: an account with no mail yet has
    /// an empty maildrop) and lists it. [`LockError::InUse`] when another session holds it;
    /// [`LockError::Io`] when it cannot be created, locked or listed (the lock is then
    /// released again).
    pub fn open(root: &Path, name: &str, locks: &MaildropLocks) -> Result<Self, LockError> {
        let maildir = Maildir::open_or_create(root.join(name))?;
        let guard = locks.try_lock(&maildir)?;
        // Listed once the lock is held: no other session changes it from here on.
        let entries = maildir.scan()?;
        Ok(Self {
            maildir,
            entries,
            _guard: guard,
        })
    }

    /// The listing taken at open, in delivery order: each message's unique-id and size as
    /// sent ([`MessageEntry::uid`], [`MessageEntry::wire_size`]).
    pub fn entries(&self) -> &[MessageEntry] {
        &self.entries
    }

    /// The number of messages listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the Maildir was empty at open.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Opens the message at `index` of the listing in its wire form (every line ending in
    /// CRLF). `NotFound` for an index past the listing, or a message removed meanwhile by
    /// another reader.
    pub fn open_message(&self, index: usize) -> io::Result<WireReader<File>> {
        self.message(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such message"))?
            .open()
    }

    /// The message at `index`, as a handle that can be opened elsewhere (another thread, the
    /// tokio blocking pool) without the `Maildrop`.
    pub fn message(&self, index: usize) -> Option<StoredMessage> {
        let entry = self.entries.get(index)?.clone();
        Some(StoredMessage {
            maildir: self.maildir.clone(),
            entry,
        })
    }

    /// Removes the messages at the given positions of the listing (the session's end, POP3's
    /// UPDATE state): every one is tried, the report says which could not be removed. A
    /// position past the listing is ignored; one given twice is removed once.
    pub fn commit_deletions(&self, indices: impl IntoIterator<Item = usize>) -> DeleteReport {
        let mut marked = vec![false; self.entries.len()];
        for index in indices {
            if let Some(mark) = marked.get_mut(index) {
                *mark = true;
            }
        }
        let entries = self
            .entries
            .iter()
            .zip(marked)
            .filter_map(|(entry, marked)| marked.then_some(entry));
        self.maildir.delete(entries)
    }
}

/// One listed message of a [`Maildrop`], to be read apart from it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    maildir: Maildir,
    entry: MessageEntry,
}

impl StoredMessage {
    /// The message's entry in the listing.
    pub fn entry(&self) -> &MessageEntry {
        &self.entry
    }

    /// Opens it in its wire form (see [`Maildrop::open_message`]).
    pub fn open(&self) -> io::Result<WireReader<File>> {
        self.maildir.open_message(&self.entry)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn deliver(root: &Path, name: &str, content: &[u8]) {
        let maildir = Maildir::open_or_create(root.join(name)).unwrap();
        let mut delivery = maildir.deliver().unwrap();
        delivery.write_all(content).unwrap();
        delivery.commit().unwrap();
    }

    fn read(maildrop: &Maildrop, index: usize) -> Vec<u8> {
        let mut served = Vec::new();
        maildrop
            .open_message(index)
            .unwrap()
            .read_to_end(&mut served)
            .unwrap();
        served
    }

    #[test]
    fn open_creates_an_empty_maildrop_for_a_new_name() {
        let root = tempfile::tempdir().unwrap();
        let maildrop = Maildrop::open(root.path(), "alice", &MaildropLocks::new()).unwrap();
        assert!(maildrop.is_empty());
        assert!(root.path().join("alice/new").is_dir());
    }

    #[test]
    fn one_session_per_maildrop_freed_on_drop() {
        let root = tempfile::tempdir().unwrap();
        let locks = MaildropLocks::new();
        let first = Maildrop::open(root.path(), "alice", &locks).unwrap();
        let second = Maildrop::open(root.path(), "alice", &locks);
        assert!(matches!(second, Err(LockError::InUse)), "{second:?}");
        // Another maildrop is not affected.
        assert!(Maildrop::open(root.path(), "bob", &locks).is_ok());
        drop(first);
        assert!(Maildrop::open(root.path(), "alice", &locks).is_ok());
    }

    #[test]
    fn the_listing_is_a_snapshot_read_in_wire_form() {
        let root = tempfile::tempdir().unwrap();
        deliver(root.path(), "alice", b"Subject: 1\r\n\r\none\r\n");
        deliver(root.path(), "alice", b"Subject: 2\n\ntwo\n"); // bare LF: served with CRLF
        let maildrop = Maildrop::open(root.path(), "alice", &MaildropLocks::new()).unwrap();
        deliver(root.path(), "alice", b"Subject: 3\r\n\r\nlater\r\n");
        assert_eq!(
            maildrop.len(),
            2,
            "a delivery after open waits for the next session"
        );
        let sizes: Vec<u64> = maildrop.entries().iter().map(|e| e.wire_size()).collect();
        assert_eq!(sizes, [19, 19]);
        // (Names from one second sort by their counter as text: compare without order.)
        let mut served = [read(&maildrop, 0), read(&maildrop, 1)];
        served.sort();
        assert_eq!(served[0], b"Subject: 1\r\n\r\none\r\n");
        assert_eq!(served[1], b"Subject: 2\r\n\r\ntwo\r\n");
        // The handle reads the same, apart from the maildrop.
        let handle = maildrop.message(1).unwrap();
        assert_eq!(handle.entry(), &maildrop.entries()[1]);
        let mut apart = Vec::new();
        handle.open().unwrap().read_to_end(&mut apart).unwrap();
        assert_eq!(apart, read(&maildrop, 1));
        let past = maildrop.open_message(2).unwrap_err();
        assert_eq!(past.kind(), io::ErrorKind::NotFound);
        assert!(maildrop.message(2).is_none());
    }

    #[test]
    fn only_committed_deletions_of_the_given_positions_happen() {
        let root = tempfile::tempdir().unwrap();
        for n in 0..3 {
            deliver(
                root.path(),
                "alice",
                format!("Subject: {n}\r\n\r\n").as_bytes(),
            );
        }
        let locks = MaildropLocks::new();
        let maildrop = Maildrop::open(root.path(), "alice", &locks).unwrap();
        let uids: Vec<String> = maildrop
            .entries()
            .iter()
            .map(|e| e.uid().to_owned())
            .collect();
        drop(maildrop); // a session that ends without committing deletes nothing
        let maildrop = Maildrop::open(root.path(), "alice", &locks).unwrap();
        assert_eq!(maildrop.len(), 3);
        let report = maildrop.commit_deletions([2, 0, 2, 7]);
        assert!(report.is_complete());
        assert_eq!(report.deleted, 2);
        drop(maildrop);
        let left = Maildrop::open(root.path(), "alice", &locks).unwrap();
        let left: Vec<&str> = left.entries().iter().map(MessageEntry::uid).collect();
        assert_eq!(left, [uids[1].as_str()]);
    }
}
