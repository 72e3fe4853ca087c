//! The client's memory of what it downloaded ("leave mail on the server"): the unique-ids
//! (RFC 1939 section 7, UIDL) of the messages already stored, kept in a file of the output
//! Maildir, one per server account, so the next run fetches only new messages.
//!
//! The file `DIR/.pop3-uids-<user>@<host>_<port>` holds one unique-id per line. The Maildir
//! specification has readers ignore names starting with `.`, so it never looks like mail. It
//! is replaced atomically (write a temporary file, fsync, rename), so a crash leaves either
//! the old or the new list, never a torn one.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The unique-ids downloaded from one account.
#[derive(Debug, Clone)]
pub struct UidMemory {
    path: PathBuf,
    uids: BTreeSet<Vec<u8>>,
}

impl UidMemory {
    /// The memory file of `user` at `host:port` in the Maildir `dir`. Characters other than
    /// letters, digits, `.`, `-`, `_` and `@` become `_`, so the name is one path component.
    pub fn path_for(dir: &Path, user: &str, host: &str, port: u16) -> PathBuf {
        let safe: String = format!("{user}@{host}_{port}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".-_@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!(".pop3-uids-{safe}"))
    }

    /// Loads the memory at `path`; a missing file is an empty memory (a first run).
    pub fn load(path: PathBuf) -> io::Result<Self> {
        let mut uids = BTreeSet::new();
        match File::open(&path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    if !line.is_empty() {
                        uids.insert(line);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Self { path, uids })
    }

    /// Whether `uid` was downloaded.
    pub fn contains(&self, uid: &[u8]) -> bool {
        self.uids.contains(uid)
    }

    /// Remembers a downloaded message.
    pub fn insert(&mut self, uid: &[u8]) {
        self.uids.insert(uid.to_vec());
    }

    /// Forgets a message the server no longer has.
    pub fn remove(&mut self, uid: &[u8]) {
        self.uids.remove(uid);
    }

    /// The remembered unique-ids.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.uids.iter().map(Vec::as_slice)
    }

    /// How many unique-ids are remembered.
    pub fn len(&self) -> usize {
        self.uids.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    /// Writes the memory, replacing the file atomically.
    pub fn save(&self) -> io::Result<()> {
        let tmp = self.path.with_extension("tmp");
        let mut out = BufWriter::new(File::create(&tmp)?);
        for uid in &self.uids {
            // A unique-id is printable ASCII without spaces (RFC 1939 section 7): one per line
            // is unambiguous.
            out.write_all(uid)?;
            out.write_all(b"\n")?;
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_save_and_load_and_forgets_what_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = UidMemory::path_for(dir.path(), "al/ice", "::1", 110);
        assert_eq!(path.file_name().unwrap(), ".pop3-uids-al_ice@__1_110");
        let mut memory = UidMemory::load(path.clone()).unwrap();
        assert!(memory.is_empty());
        memory.insert(b"1.2.host,S=5");
        memory.insert(b"whqtswO00WBw418f9t5JxYwZ");
        memory.save().unwrap();
        let mut again = UidMemory::load(path.clone()).unwrap();
        assert_eq!(again.len(), 2);
        assert!(again.contains(b"1.2.host,S=5"));
        again.remove(b"1.2.host,S=5");
        again.save().unwrap();
        let last = UidMemory::load(path).unwrap();
        assert_eq!(
            last.iter().collect::<Vec<_>>(),
            [&b"whqtswO00WBw418f9t5JxYwZ"[..]]
        );
    }
}
