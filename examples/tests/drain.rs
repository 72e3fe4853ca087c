//! The servers' graceful stop on SIGTERM (ARCHITECTURE.md, the session contract; RFC 5321
//! section 3.8 for SMTP's 421): the listeners close, an idle SMTP session gets
//! `421 4.3.2` and an idle POP3 session is closed (deleting nothing, ARCHITECTURE.md security
//! invariant 6), a message in progress is finished and stored before the next command gets
//! the 421, and the process exits 0 within `--shutdown-grace`, cutting what is left.
//!
//! Runs the example binaries: `cargo test -p examples` builds them (a `--test` filter alone
//! does not; `cargo build -p examples --examples` first, then).

mod pop3_support;
mod proxy_support;
mod smtp_support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use adapters::maildir::Maildir;
use proxy_support::signal;
use smtp_support::{Raw, SERVERS, Server, eventually};

/// How late after the expected moment a process may exit (scheduling, CI).
const SLACK: Duration = Duration::from_secs(2);

fn smtp_drains(binary: &str) {
    let server = Server::start(binary, true, &["--shutdown-grace", "5", "--fsync", "none"]);
    let mut idle = Raw::connect(server.addr);
    assert_eq!(idle.command("EHLO idle.example").code, 250);
    let mut busy = Raw::connect(server.addr);
    assert_eq!(busy.command("EHLO busy.example").code, 250);
    assert_eq!(busy.command("MAIL FROM:<a@example.test>").code, 250);
    assert_eq!(busy.command("RCPT TO:<alice@localhost>").code, 250);
    assert_eq!(busy.command("DATA").code, 354);
    busy.send(b"Subject: drained\r\n\r\nthe first half,\r\n");

    let stopped = Instant::now();
    signal(server.proc.id(), "TERM");

    // The idle session: 421 4.3.2 at once, then closed (RFC 5321 section 3.8).
    let reply = idle.reply();
    assert_eq!(reply.code, 421, "{binary}: {reply:?}");
    assert!(reply.text().starts_with("4.3.2 "), "{binary}: {reply:?}");
    assert_eq!(idle.read_to_close(), "", "{binary}: nothing after the 421");

    // New connections are refused: the balancer sends them elsewhere.
    assert!(
        eventually(Duration::from_secs(2), || TcpStream::connect(server.addr)
            .is_err()),
        "{binary}: still accepting after SIGTERM"
    );

    // The message in progress is finished and stored; the next command gets the 421.
    busy.send(b"the second half.\r\n.\r\n");
    let reply = busy.reply();
    assert_eq!(reply.code, 250, "{binary}: {reply:?}");
    let reply = busy.command("MAIL FROM:<b@example.test>");
    assert_eq!(reply.code, 421, "{binary}: {reply:?}");
    assert!(reply.text().starts_with("4.3.2 "), "{binary}: {reply:?}");
    assert_eq!(busy.read_to_close(), "", "{binary}: nothing after the 421");

    // With no session left, the process ends at once, well within its 5 s of grace.
    let mut proc = server.proc;
    let status = proc.wait(Duration::from_secs(5)).expect("the server exits");
    assert!(status.success(), "{binary}: {status}\n{}", proc.log());
    assert!(
        stopped.elapsed() < Duration::from_secs(4),
        "{binary}: {:?}",
        stopped.elapsed()
    );
    let stored = server
        .maildir
        .as_ref()
        .map(|root| smtp_support::stored_messages(&root.join("alice")))
        .unwrap();
    assert_eq!(stored.len(), 1, "{binary}");
    assert_eq!(
        smtp_support::strip_trace(&stored[0]),
        b"Subject: drained\r\n\r\nthe first half,\r\nthe second half.\r\n",
        "{binary}"
    );
}

#[test]
fn smtp_servers_drain_idle_sessions_and_finish_messages() {
    for binary in SERVERS {
        smtp_drains(binary);
    }
}

#[test]
fn smtp_servers_cut_what_is_left_after_the_grace() {
    for binary in SERVERS {
        let server = Server::start(binary, true, &["--shutdown-grace", "1", "--fsync", "none"]);
        let mut stalled = Raw::connect(server.addr);
        assert_eq!(stalled.command("EHLO stalled.example").code, 250);
        assert_eq!(stalled.command("MAIL FROM:<a@example.test>").code, 250);
        assert_eq!(stalled.command("RCPT TO:<alice@localhost>").code, 250);
        assert_eq!(stalled.command("DATA").code, 354);
        stalled.send(b"Subject: never finished\r\n\r\n");

        let stopped = Instant::now();
        signal(server.proc.id(), "TERM");
        let mut proc = server.proc;
        let status = proc
            .wait(Duration::from_secs(1) + SLACK)
            .unwrap_or_else(|| panic!("{binary} did not exit after its grace:\n{}", proc.log()));
        assert!(status.success(), "{binary}: {status}");
        assert!(
            stopped.elapsed() >= Duration::from_millis(900),
            "{binary}: the message in progress was not given its grace"
        );
        // Nothing of the cut message is stored (ARCHITECTURE.md security invariant 5).
        let root = server.maildir.as_ref().unwrap();
        assert!(smtp_support::stored_messages(&root.join("alice")).is_empty());
        assert_eq!(
            smtp_support::count_files(&root.join("alice").join("tmp")),
            0
        );
    }
}

#[test]
fn pop3_servers_close_idle_sessions_and_delete_nothing() {
    for flavour in ["tokio", "blocking"] {
        let dir = tempfile::tempdir().unwrap();
        let cert = pop3_support::TestCert::generate(dir.path());
        let root = dir.path().join("mail");
        let alice = Maildir::open_or_create(root.join("alice")).unwrap();
        for n in 1..=2 {
            let mut delivery = alice.deliver().unwrap();
            delivery
                .write_all(format!("message {n}\r\n").as_bytes())
                .unwrap();
            delivery.commit().unwrap();
        }
        let mut server = pop3_support::Pop3Server::start(
            flavour,
            &root,
            &cert,
            &[pop3_support::ALICE],
            &["--insecure-auth", "--shutdown-grace", "5"],
        );
        // One session logged in, a deletion marked; one not logged in yet.
        let (mut logged_in, greeting) = pop3_support::Raw::connect(server.plain);
        assert!(greeting.starts_with("+OK"), "{greeting}");
        assert!(logged_in.command("USER alice").starts_with("+OK"));
        assert!(logged_in.command("PASS wonder land").starts_with("+OK"));
        assert!(logged_in.command("DELE 1").starts_with("+OK"));
        let (fresh, greeting) = pop3_support::Raw::connect(server.plain);
        assert!(greeting.starts_with("+OK"), "{greeting}");

        let stopped = Instant::now();
        proxy_support::signal(server.pid(), "TERM");
        // Both are closed without a response (POP3 has no unsolicited ones).
        for raw in [logged_in, fresh] {
            assert!(raw.read_to_end().is_empty(), "{flavour}");
        }
        let status = server
            .wait(Duration::from_secs(5))
            .unwrap_or_else(|| panic!("the {flavour} server did not exit"));
        assert!(status.success(), "{flavour}: {status}");
        assert!(
            stopped.elapsed() < Duration::from_secs(4),
            "{flavour}: {:?}",
            stopped.elapsed()
        );
        assert_eq!(alice.scan().unwrap().len(), 2, "{flavour}: nothing deleted");
    }
}

#[test]
fn a_session_waiting_for_its_first_command_gets_the_421() {
    for binary in SERVERS {
        let server = Server::start(binary, true, &["--shutdown-grace", "5"]);
        let mut raw = Raw::connect(server.addr);
        signal(server.proc.id(), "TERM");
        let reply = raw.reply();
        assert_eq!(reply.code, 421, "{binary}: {reply:?}");
        assert_eq!(reply.text(), "4.3.2 Service shutting down", "{binary}");
        assert_eq!(raw.read_to_close(), "", "{binary}: nothing after the 421");
        let mut proc = server.proc;
        let status = proc.wait(Duration::from_secs(5)).expect("the server exits");
        assert!(status.success(), "{binary}: {status}");
    }
}
