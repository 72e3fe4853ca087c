//! What POP3 makes of a [`Maildrop`] (the Maildir engine's session view: lock, snapshot,
//! read, deletions at the end): the login's refusals (`[IN-USE]`, RFC 2449 section 8.1.1;
//! `[SYS/TEMP]`, RFC 3206 section 4), the listing in the machine's terms, and the chunks a
//! message is sent in. Deletions happen only at QUIT (RFC 1939 section 6, ARCHITECTURE.md
//! security invariant 6): the session commits them through [`Maildrop::commit_deletions`].
//!
//! Everything here blocks on the file system; the tokio adapter calls it on the blocking pool.

use std::io::{self, Read};
use std::path::Path;

use md5::{Digest, Md5};
use pop3_proto::UniqueId;
use pop3_proto::server::{self, LoginRefusal};

use crate::maildir::{LockError, Maildrop, MaildropLocks};

/// How much of a message is read and handed to the machine at once.
pub const CHUNK: usize = 64 * 1024;

/// Locks the maildrop `root/<user>` and lists it. `[IN-USE]` when another session, of this or
/// another server process, holds it; `[SYS/TEMP]` when it cannot be locked or read.
pub fn open(root: &Path, user: &str, locks: &MaildropLocks) -> Result<Maildrop, LoginRefusal> {
    Maildrop::open(root, user, locks).map_err(|error| match error {
        LockError::InUse => LoginRefusal::InUse,
        error => {
            tracing::warn!(user, %error, "cannot read the maildrop");
            LoginRefusal::SysTemp
        }
    })
}

/// The listing the machine serves: every message's size as sent and its unique-id.
pub fn listing(maildrop: &Maildrop) -> server::Maildrop {
    let mut listing = server::Maildrop::with_capacity(maildrop.len());
    for entry in maildrop.entries() {
        listing.push(entry.wire_size(), unique_id(entry.uid()));
    }
    listing
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
    use crate::maildir::Maildir;
    use std::io::Write;

    fn deliver(maildir: &Maildir, content: &[u8]) {
        let mut delivery = maildir.deliver().unwrap();
        delivery.write_all(content).unwrap();
        delivery.commit().unwrap();
    }

    #[test]
    fn the_login_refusals_and_the_listing() {
        let root = tempfile::tempdir().unwrap();
        let maildir = Maildir::open_or_create(root.path().join("alice")).unwrap();
        deliver(&maildir, b"Subject: 1\r\n\r\none\r\n");
        deliver(&maildir, b"Subject: 2\n\ntwo\n"); // LF: counted as served, with CRLF
        let locks = MaildropLocks::new();

        let open_drop = open(root.path(), "alice", &locks).unwrap();
        assert_eq!(
            open(root.path(), "alice", &locks).unwrap_err(),
            LoginRefusal::InUse
        );
        let listing = listing(&open_drop);
        assert_eq!(listing.live(), (2, 19 + 19));
        drop(open_drop);
        // A maildrop that cannot be made (its place is a file) is a temporary failure.
        std::fs::write(root.path().join("bob"), b"not a directory").unwrap();
        assert_eq!(
            open(root.path(), "bob", &locks).unwrap_err(),
            LoginRefusal::SysTemp
        );
    }

    #[test]
    fn a_unique_id_is_the_maildir_one_or_its_md5() {
        assert_eq!(
            unique_id("1700000000.P1Q2.mx").as_bytes(),
            b"1700000000.P1Q2.mx"
        );
        let long = "x".repeat(71);
        assert_eq!(unique_id(&long).as_bytes().len(), 32);
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
