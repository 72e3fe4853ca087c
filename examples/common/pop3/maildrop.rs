//! The server's view of one user's maildrop for the length of a session: locked against a
//! second session ([IN-USE], RFC 2449 section 8.1.1), listed once at login from
//! [`Maildir::scan`], read message by message, and changed only at QUIT (RFC 1939 section 6,
//! ARCHITECTURE.md security invariant 6).
//!
//! Everything here blocks on the file system; the tokio adapter calls it on the blocking pool.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use md5::{Digest, Md5};
use pop3_proto::UniqueId;
use pop3_proto::server::{DeletedMessage, LoginRefusal, Maildrop};

use crate::maildir::{
    DeleteReport, LockError, Maildir, MaildropGuard, MaildropLocks, MessageEntry, WireReader,
};

/// How much of a message is read and handed to the machine at once.
pub const CHUNK: usize = 64 * 1024;

/// A maildrop opened by a logged-in session. Dropping it releases the lock.
#[derive(Debug)]
pub struct OpenMaildrop {
    maildir: Maildir,
    entries: Vec<MessageEntry>,
    _guard: MaildropGuard,
}

impl OpenMaildrop {
    /// Locks the maildrop `root/<user>` and lists it. `[IN-USE]` when another session, of
    /// this or another server process, holds it; `[SYS/TEMP]` when it cannot be locked or read
    /// (the lock is released again).
    pub fn open(root: &Path, user: &str, locks: &MaildropLocks) -> Result<Self, LoginRefusal> {
        let sys_temp = |error: &dyn std::fmt::Display| {
            tracing::warn!(user, %error, "cannot read the maildrop");
            LoginRefusal::SysTemp
        };
        let maildir = Maildir::open_or_create(root.join(user)).map_err(|e| sys_temp(&e))?;
        let guard = match locks.try_lock(&maildir) {
            Ok(guard) => guard,
            Err(LockError::InUse) => return Err(LoginRefusal::InUse),
            Err(error) => return Err(sys_temp(&error)),
        };
        // Listed once the lock is held: the snapshot the whole session serves.
        let entries = maildir.scan().map_err(|e| sys_temp(&e))?;
        Ok(Self {
            maildir,
            entries,
            _guard: guard,
        })
    }

    /// The listing the machine serves: every message's size as sent and its unique-id.
    pub fn listing(&self) -> Maildrop {
        let mut maildrop = Maildrop::with_capacity(self.entries.len());
        for entry in &self.entries {
            maildrop.push(entry.wire_size(), unique_id(entry.uid()));
        }
        maildrop
    }

    /// The number of messages listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the maildrop was empty at login.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The Maildir and the entry of the message at `index` (as the machine numbers them), for
    /// reading it elsewhere (the tokio adapter's blocking pool).
    pub fn message(&self, index: usize) -> Option<(Maildir, MessageEntry)> {
        let entry = self.entries.get(index)?.clone();
        Some((self.maildir.clone(), entry))
    }

    /// Opens the message at `index` in its wire form.
    pub fn open_message(&self, index: usize) -> io::Result<WireReader<File>> {
        let entry = self
            .entries
            .get(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such message"))?;
        self.maildir.open_message(entry)
    }

    /// Removes the messages the session marked (the UPDATE state); the report says which
    /// could not be removed.
    pub fn commit(&self, deleted: &[DeletedMessage]) -> DeleteReport {
        let entries = deleted
            .iter()
            .filter_map(|message| self.entries.get(message.index));
        self.maildir.delete(entries)
    }
}

/// `MessageEntry::uid` is 1 to 70 printable characters by construction, which is what
/// `UniqueId` checks (RFC 1939 section 7); should the two ever disagree, the hex MD5 of the
/// name (always valid, and as stable) is served instead of failing the login.
fn unique_id(uid: &str) -> UniqueId {
    UniqueId::new(uid.to_owned()).unwrap_or_else(|_| {
        let hex: String = Md5::digest(uid.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        UniqueId::new(hex).unwrap_or_else(|_| unreachable!("32 hex digits are a valid unique-id"))
    })
}

/// Reads until `buf` is full or the message ends; returns the octets read. Fewer than
/// `buf.len()` means the end was reached.
pub fn read_chunk(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pop3_proto::MsgNumber;
    use std::io::Write;

    fn deliver(maildir: &Maildir, content: &[u8]) {
        let mut delivery = maildir.deliver().unwrap();
        delivery.write_all(content).unwrap();
        delivery.commit().unwrap();
    }

    #[test]
    fn one_session_per_maildrop_and_deletion_only_of_marked_messages() {
        let root = tempfile::tempdir().unwrap();
        let maildir = Maildir::open_or_create(root.path().join("alice")).unwrap();
        deliver(&maildir, b"Subject: 1\r\n\r\none\r\n");
        deliver(&maildir, b"Subject: 2\n\ntwo\n"); // LF: served with CRLF
        let locks = MaildropLocks::new();

        let open = OpenMaildrop::open(root.path(), "alice", &locks).unwrap();
        assert_eq!(
            OpenMaildrop::open(root.path(), "alice", &locks).unwrap_err(),
            LoginRefusal::InUse
        );
        let listing = open.listing();
        assert_eq!(listing.live(), (2, 19 + 19));
        let mut served = Vec::new();
        open.open_message(1)
            .unwrap()
            .read_to_end(&mut served)
            .unwrap();
        assert_eq!(served, b"Subject: 2\r\n\r\ntwo\r\n");

        let (_, second) = open.message(1).unwrap();
        let report = open.commit(&[DeletedMessage {
            msg: MsgNumber::new(2).unwrap(),
            index: 1,
            uid: UniqueId::new(second.uid().to_owned()).unwrap(),
        }]);
        assert!(report.is_complete());
        drop(open);
        let left = maildir.scan().unwrap();
        assert_eq!(left.len(), 1);
        assert_ne!(left[0].uid(), second.uid());
        // The lock went with the session.
        assert!(OpenMaildrop::open(root.path(), "alice", &locks).is_ok());
    }

    #[test]
    fn read_chunk_fills_the_buffer_until_the_end() {
        let mut source: &[u8] = &[7u8; 10];
        let mut buf = [0u8; 4];
        assert_eq!(read_chunk(&mut source, &mut buf).unwrap(), 4);
        assert_eq!(read_chunk(&mut source, &mut buf).unwrap(), 4);
        assert_eq!(read_chunk(&mut source, &mut buf).unwrap(), 2);
        assert_eq!(read_chunk(&mut source, &mut buf).unwrap(), 0);
    }
}
