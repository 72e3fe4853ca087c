//! A full disk, for real: each SMTP server runs with its Maildir root on a 1 MiB tmpfs of its
//! own (a user and mount namespace, `unshare -rm`: no root needed), and the test fills that
//! file system through `/proc/PID/root`. A message that does not fit is answered
//! `452 4.3.1` (RFC 5321 section 4.2.3, RFC 3463 X.3.1 mail system full), whether the disk
//! fills while the message is written (a large one) or at its commit (a small one, buffered
//! until then); nothing partial is left in `tmp/` or `new/`; the session goes on, and once
//! space is back the next message is stored whole.
//!
//! Skipped, with a message, where unprivileged user namespaces are not allowed.
//!
//! Runs the example binaries: `cargo test -p examples` builds them (a `--test` filter alone
//! does not; `cargo build -p examples --examples` first, then).

mod smtp_support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use smtp_support::{
    ALICE, Proc, Raw, SERVERS, count_files, example_bin, logged_address, stored_messages,
    strip_trace, wait_for_greeting,
};

/// Whether this user may make a user and mount namespace and mount a tmpfs in it.
fn namespaces_allowed() -> bool {
    Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A message of about `size` octets, in lines, with `tag` in its subject.
fn message(tag: &str, size: usize) -> Vec<u8> {
    let mut text = format!("Subject: {tag}\r\n\r\n").into_bytes();
    let mut n = 0;
    while text.len() < size {
        text.extend_from_slice(
            format!("{tag} line {n} of a message that must not be cut\r\n").as_bytes(),
        );
        n += 1;
    }
    text
}

/// Sends `content` as one transaction; the reply to its end.
fn send(raw: &mut Raw, content: &[u8]) -> (u16, String) {
    assert_eq!(raw.command("MAIL FROM:<sender@example.test>").code, 250);
    assert_eq!(raw.command("RCPT TO:<alice@localhost>").code, 250);
    assert_eq!(raw.command("DATA").code, 354);
    let mut data = content.to_vec();
    data.extend_from_slice(b".\r\n");
    raw.send(&data);
    let reply = raw.reply();
    (reply.code, reply.lines.join(" | "))
}

/// Fills the file system holding `dir` with `dir/filler` until it is full.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    for _ in 0..100_000 {
        if let Err(error) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
            assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{error}");
            return filler;
        }
    }
    panic!("{} never filled up", dir.display());
}

#[test]
fn a_full_disk_answers_452_4_3_1_stores_nothing_partial_and_the_session_goes_on() {
    if !namespaces_allowed() {
        eprintln!("SKIPPED: unprivileged user namespaces are not allowed here (unshare -rm)");
        return;
    }
    for binary in SERVERS {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk");
        fs::create_dir(&disk).unwrap();
        let root = disk.join("mail");
        let mut command = Command::new("unshare");
        // The server is exec'd in place of the shell: the process id is the server's, and
        // dropping the `Proc` kills it by that id.
        command
            .args(["-rm", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@""#)
            .arg(&disk)
            .arg(example_bin(binary))
            .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
            .args(["--hostname", "localhost", "--domain", "localhost"])
            .arg("--user")
            .arg(format!("{}:{}", ALICE.0, ALICE.1))
            .arg("--maildir")
            .arg(&root)
            .env("RUST_LOG", "info");
        let mut proc = Proc::spawn(command, dir.path().join("server.log"), binary);
        let addr = logged_address(&mut proc, "listening (SMTP, STARTTLS)");
        wait_for_greeting(addr, &mut proc);
        // The server's view of the tmpfs (its mount namespace's root).
        let seen = PathBuf::from(format!("/proc/{}/root", proc.id()))
            .join(disk.strip_prefix("/").unwrap());
        let maildir = seen.join("mail").join("alice");

        let mut raw = Raw::connect(addr);
        assert_eq!(raw.command("EHLO client.example.test").code, 250);
        let first = message("first", 2_000);
        assert_eq!(send(&mut raw, &first).0, 250, "{binary}: room at first");
        let filler = fill(&seen);
        // Written while the disk is full (more than a delivery buffers), and a small one
        // that fails at its commit.
        for (tag, size) in [("large", 300_000), ("small", 3_000)] {
            let (code, text) = send(&mut raw, &message(tag, size));
            assert_eq!(code, 452, "{binary} {tag}: {text}");
            assert!(text.starts_with("4.3.1 "), "{binary} {tag}: {text}");
            assert_eq!(count_files(&maildir.join("tmp")), 0, "{binary} {tag}: tmp/");
            let stored = stored_messages(&maildir);
            assert_eq!(stored.len(), 1, "{binary} {tag}: only the first in new/");
            assert_eq!(strip_trace(&stored[0]), first, "{binary}: the first intact");
        }
        // Space is back: the same session stores the next message whole.
        fs::remove_file(filler).unwrap();
        let after = message("after", 200_000);
        assert_eq!(send(&mut raw, &after).0, 250, "{binary}: room again");
        assert_eq!(raw.command("QUIT").code, 221);
        let mut stored: Vec<Vec<u8>> = stored_messages(&maildir)
            .iter()
            .map(|m| strip_trace(m).to_vec())
            .collect();
        stored.sort_by_key(Vec::len);
        assert_eq!(stored, vec![first, after], "{binary}: both whole");
        assert_eq!(count_files(&maildir.join("tmp")), 0);
        assert!(
            proc.log().contains("storing the message failed")
                || proc.log().contains("writing a message failed")
        );
        proc.assert_running();
    }
}
