//! Two POP3 server processes (the blocking and the tokio example) serving one Maildir root,
//! as instances behind a load balancer do: one session per maildrop across both (RFC 1939
//! section 8, `[IN-USE]` of RFC 2449 section 8.1.1), each session serving its login snapshot,
//! and a crashed server's maildrop free at once.
//!
//! Runs the example binaries: `cargo test -p examples` builds them (a `--test` filter alone
//! does not; `cargo build -p examples --examples` first, then).

mod pop3_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use adapters::maildir::Maildir;
use pop3_support::{ALICE, Pop3Server, Raw, TestCert};

fn deliver(maildir: &Maildir, content: &str) {
    let mut delivery = maildir.deliver().unwrap();
    delivery.write_all(content.as_bytes()).unwrap();
    delivery.commit().unwrap();
}

/// Connects and logs in as alice; returns the connection and the answer to PASS.
fn login(server: &Pop3Server) -> (Raw, String) {
    let (mut raw, greeting) = Raw::connect(server.plain);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    assert!(raw.command("USER alice").starts_with("+OK"));
    let answer = raw.command("PASS wonder land");
    (raw, answer)
}

/// Logs in as alice, retrying (for at most two seconds) while a session that answered QUIT
/// still holds the maildrop: a server may release it just after its answer.
fn login_when_free(server: &Pop3Server) -> Raw {
    for _ in 0..100 {
        let (raw, answer) = login(server);
        if answer.starts_with("+OK") {
            return raw;
        }
        assert!(answer.starts_with("-ERR [IN-USE]"), "{answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the maildrop stayed locked");
}

/// The path of the message holding `content`.
fn path_of(maildir: &Maildir, content: &str) -> std::path::PathBuf {
    maildir
        .scan()
        .unwrap()
        .into_iter()
        .find(|m| std::fs::read(m.path()).unwrap() == content.as_bytes())
        .expect("the message is stored")
        .path()
        .to_owned()
}

fn retr(raw: &mut Raw, n: usize) -> (String, Vec<String>) {
    let status = raw.command(&format!("RETR {n}"));
    let body = if status.starts_with("+OK") {
        raw.multiline()
    } else {
        Vec::new()
    };
    (status, body)
}

fn start(flavour: &str, root: &Path, cert: &TestCert) -> Pop3Server {
    Pop3Server::start(flavour, root, cert, &[ALICE], &["--insecure-auth"])
}

#[test]
fn two_server_processes_share_one_maildir_root() {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::generate(dir.path());
    let root = dir.path().join("mail");
    let alice = Maildir::open_or_create(root.join("alice")).unwrap();
    deliver(&alice, "message 1\r\n");
    deliver(&alice, "message 2\r\n");
    let blocking = start("blocking", &root, &cert);
    let tokio = start("tokio", &root, &cert);

    // A session on one server locks the maildrop against the other.
    let (mut first, answer) = login(&blocking);
    assert!(answer.starts_with("+OK"), "{answer}");
    assert_eq!(first.command("STAT"), "+OK 2 22");
    let (_, refused) = login(&tokio);
    assert!(refused.starts_with("-ERR [IN-USE]"), "{refused}");

    // Meanwhile a message arrives (not in this session's listing), and another agent removes
    // message 1 (answered -ERR alone; the session goes on).
    deliver(&alice, "message 3\r\n");
    std::fs::remove_file(path_of(&alice, "message 1\r\n")).unwrap();
    assert_eq!(first.command("STAT"), "+OK 2 22");
    let (status, _) = retr(&mut first, 1);
    assert!(status.starts_with("-ERR"), "{status}");
    assert_eq!(retr(&mut first, 2).1, ["message 2"]);
    // Deleting the removed one too: done already, so QUIT succeeds.
    assert!(first.command("DELE 1").starts_with("+OK"));
    assert!(first.command("DELE 2").starts_with("+OK"));
    let quit = first.command("QUIT");
    assert!(quit.starts_with("+OK"), "{quit}");

    // The other server sees the deletions and the new message at its next login.
    let mut second = login_when_free(&tokio);
    assert_eq!(second.command("STAT"), "+OK 1 11");
    assert_eq!(retr(&mut second, 1).1, ["message 3"]);
    let (_, refused) = login(&blocking);
    assert!(refused.starts_with("-ERR [IN-USE]"), "{refused}");

    // The tokio server dies (SIGKILL) in the middle of the session: its maildrop is free at
    // once, without a QUIT, and nothing was deleted.
    drop(tokio);
    let (mut third, answer) = login(&blocking);
    assert!(answer.starts_with("+OK"), "{answer}");
    assert_eq!(third.command("STAT"), "+OK 1 11");
    assert!(third.command("QUIT").starts_with("+OK"));
}
