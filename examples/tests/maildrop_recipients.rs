//! Whom the `maildrop` demo accepts mail for: the local parts that are accounts (POP3 logins
//! read them), `postmaster`, and with `--catch-all` any local part; a local part nobody can
//! fetch is refused at RCPT with 550 5.1.1 instead of filling a Maildir no login reads, and
//! relaying without AUTH with 550 5.7.1 (RFC 5321 section 4.3.2 lists 550 among RCPT's
//! replies, ARCHITECTURE.md security invariant 8). Raw SMTP over loopback: no peer needed.

mod smtp_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use smtp_support::{Proc, Raw, free_port, stored_messages, wait_for_greeting, wait_for_listener};

/// A running `maildrop` over the data directory `data`, and its plain SMTP address.
fn start(data: &Path, extra: &[&str]) -> (Proc, SocketAddr) {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
    let mut command = Command::new(smtp_support::example_bin("maildrop"));
    command
        .arg("--data")
        .arg(data)
        .args(["--smtp-listen", &addr(0), "--smtps-listen", &addr(1)])
        .args(["--pop3-listen", &addr(2), "--pop3s-listen", &addr(3)])
        .args(extra)
        .env("RUST_LOG", "info");
    let log = data.with_extension("log");
    let mut proc = Proc::spawn(command, log, "maildrop");
    let smtp: SocketAddr = addr(0).parse().unwrap();
    wait_for_greeting(smtp, &mut proc);
    for i in 1..4 {
        wait_for_listener(addr(i).parse().unwrap(), &mut proc);
    }
    (proc, smtp)
}

/// Sends one message to `to` (after EHLO and MAIL) and gives the RCPT reply's code and text;
/// a message goes through DATA only when RCPT was accepted.
fn send_to(smtp: SocketAddr, to: &str) -> (u16, String) {
    let mut raw = Raw::connect(smtp);
    assert_eq!(raw.command("EHLO client.example").code, 250);
    assert_eq!(raw.command("MAIL FROM:<sender@example.com>").code, 250);
    let rcpt = raw.command(&format!("RCPT TO:<{to}>"));
    if rcpt.code == 250 {
        assert_eq!(raw.command("DATA").code, 354);
        raw.send(b"Subject: to whom\r\n\r\nhello\r\n.\r\n");
        assert_eq!(raw.reply().code, 250);
    }
    assert_eq!(raw.command("QUIT").code, 221);
    (rcpt.code, rcpt.text())
}

#[test]
fn maildrop_refuses_local_parts_that_are_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_proc, smtp) = start(&data, &[]);
    let mail = data.join("mail");

    let (code, text) = send_to(smtp, "nobody-at-all@localhost");
    assert_eq!(code, 550, "{text}");
    assert!(text.starts_with("5.1.1"), "{text}");
    assert!(
        !mail.join("nobody-at-all").exists(),
        "a Maildir nobody reads"
    );

    let (code, text) = send_to(smtp, "someone@elsewhere.example");
    assert_eq!(code, 550, "{text}");
    assert!(text.starts_with("5.7.1"), "{text}");

    // The demo account and postmaster (RFC 5321 section 4.5.1) both reach demo's Maildir.
    assert_eq!(send_to(smtp, "demo@localhost").0, 250);
    assert_eq!(send_to(smtp, "postmaster@localhost").0, 250);
    assert_eq!(stored_messages(&mail.join("demo")).len(), 2);
    assert!(!mail.join("postmaster").exists());
}

#[test]
fn maildrop_with_catch_all_accepts_any_local_part() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_proc, smtp) = start(&data, &["--catch-all"]);
    let mail = data.join("mail");

    assert_eq!(send_to(smtp, "nobody-at-all@localhost").0, 250);
    assert_eq!(stored_messages(&mail.join("nobody-at-all")).len(), 1);
    assert_eq!(send_to(smtp, "postmaster@localhost").0, 250);
    assert_eq!(stored_messages(&mail.join("postmaster")).len(), 1);
    // Relaying stays refused.
    let (code, text) = send_to(smtp, "someone@elsewhere.example");
    assert_eq!(code, 550, "{text}");
    assert!(text.starts_with("5.7.1"), "{text}");
}
