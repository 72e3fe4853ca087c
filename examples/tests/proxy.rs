//! The PROXY protocol on the example servers (HAProxy, "The PROXY protocol, Versions 1 & 2"),
//! with the tests playing the balancer: the header names the client in the log and the SMTP
//! `Received:` line, the protocol's octets behind it are served, `LOCAL` keeps the socket's
//! peer, an implicit-TLS listener reads the header before the handshake, and everything else
//! (an untrusted peer, a missing, malformed or late header) is closed without a word.
//!
//! Runs the example binaries: `cargo test -p examples` builds them (a `--test` filter alone
//! does not; `cargo build -p examples --examples` first, then).

mod pop3_support;
mod proxy_support;
mod smtp_support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use proxy_support::{
    Instance, PROXY_FLAGS, connect, connect_from, maildir_files, read_until_closed, received_line,
    v1, v2, v2_local,
};
use smtp_support::{Raw, strip_trace};

const FLAVOURS: [&str; 2] = ["tokio", "blocking"];

/// Sends one message over `raw` (greeted, EHLO answered) and QUITs.
fn send_message(mut raw: Raw, subject: &str) {
    assert_eq!(raw.command("MAIL FROM:<a@example.test>").code, 250);
    assert_eq!(raw.command("RCPT TO:<alice@localhost>").code, 250);
    assert_eq!(raw.command("DATA").code, 354);
    let reply = raw.command(&format!("Subject: {subject}\r\n\r\nhello\r\n."));
    assert_eq!(reply.code, 250, "{reply:?}");
    assert_eq!(raw.command("QUIT").code, 221);
}

/// The `Received:` line of the message with `subject` in `root/alice`.
fn received_for(root: &Path, subject: &str) -> String {
    let wanted = format!("Subject: {subject}\r\n");
    let found: Vec<_> = maildir_files(&root.join("alice"))
        .into_iter()
        .filter(|(_, m)| strip_trace(m).starts_with(wanted.as_bytes()))
        .collect();
    assert_eq!(found.len(), 1, "one message {subject:?}");
    received_line(&found[0].1)
}

fn smtp_takes_the_client_from_the_header(flavour: &str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mail");
    let server = Instance::smtp(flavour, dir.path(), "mx", &root, &PROXY_FLAGS);

    // Version 1, the client's EHLO in the same packet: the octets after the header are the
    // client's first command, served after the greeting.
    let mut tcp = connect(server.addr);
    let mut wire = v1("192.0.2.10:56324", "198.51.100.1:25");
    wire.extend_from_slice(b"EHLO v1.example\r\n");
    tcp.write_all(&wire).unwrap();
    let mut raw = Raw::over(tcp);
    assert_eq!(raw.reply().code, 250, "the pipelined EHLO is answered");
    send_message(raw, "v1");

    // Version 2 with IPv6 addresses.
    let mut tcp = connect(server.addr);
    tcp.write_all(&v2("[2001:db8::7]:49152", "[2001:db8::1]:25"))
        .unwrap();
    let mut raw = Raw::over(tcp);
    assert_eq!(raw.command("EHLO v2.example").code, 250);
    send_message(raw, "v2");

    // LOCAL (a health check's header): the socket's own peer.
    let mut tcp = connect(server.addr);
    tcp.write_all(&v2_local()).unwrap();
    let mut raw = Raw::over(tcp);
    assert_eq!(raw.command("EHLO local.example").code, 250);
    send_message(raw, "local");

    // Implicit TLS: the header comes before the handshake.
    let mut tcp = connect(server.tls_addr);
    tcp.write_all(&v2("203.0.113.5:40000", "198.51.100.1:465"))
        .unwrap();
    let mut raw = Raw::over_tls(tcp);
    assert_eq!(raw.command("EHLO tls.example").code, 250);
    send_message(raw, "tls");

    let line = received_for(&root, "v1");
    assert!(
        line.starts_with("Received: from v1.example ([192.0.2.10]) by mx.test"),
        "{line}"
    );
    let line = received_for(&root, "v2");
    assert!(
        line.starts_with("Received: from v2.example ([IPv6:2001:db8::7]) by"),
        "{line}"
    );
    let line = received_for(&root, "local");
    assert!(
        line.starts_with("Received: from local.example ([127.0.0.1]) by"),
        "{line}"
    );
    let line = received_for(&root, "tls");
    assert!(
        line.starts_with("Received: from tls.example ([203.0.113.5]) by"),
        "{line}"
    );
    assert!(line.contains(" with ESMTPS;"), "{line}");

    // The log names the client, and the proxy it came through.
    server.wait_for_log(&["connected", "peer=192.0.2.10:56324", "proxy=127.0.0.1:"]);
    server.wait_for_log(&["connected", "peer=[2001:db8::7]:49152", "proxy=127.0.0.1:"]);
}

#[test]
fn tokio_smtp_server_takes_the_client_from_the_header() {
    smtp_takes_the_client_from_the_header("tokio");
}

#[test]
fn blocking_smtp_server_takes_the_client_from_the_header() {
    smtp_takes_the_client_from_the_header("blocking");
}

/// Every way a connection is refused: closed with nothing sent, and logged.
fn refusals(server: &Instance, what: &str) {
    let limit = Duration::from_secs(5);

    // From an address outside --proxy-from: closed at once, even with a valid header.
    let mut tcp = connect_from("127.0.0.3".parse().unwrap(), server.addr);
    // The server may have closed already (it does at once): a failed write is fine.
    let _ = tcp.write_all(&v1("192.0.2.10:1000", "198.51.100.1:25"));
    let (received, _) = read_until_closed(&mut tcp, limit);
    assert!(
        received.is_empty(),
        "{what}: untrusted peer got {received:?}"
    );
    server.wait_for_log(&[
        "connection refused",
        "peer=127.0.0.3:",
        "not a trusted proxy",
    ]);

    // No header: the client speaks its protocol at once.
    let mut tcp = connect(server.addr);
    tcp.write_all(b"EHLO direct.example\r\n").unwrap();
    let (received, _) = read_until_closed(&mut tcp, limit);
    assert!(
        received.is_empty(),
        "{what}: headerless client got {received:?}"
    );
    server.wait_for_log(&["connection refused", "not a PROXY protocol header"]);

    // A malformed header.
    let mut tcp = connect(server.addr);
    tcp.write_all(b"PROXY TCP4 192.0.2.300 198.51.100.1 1000 25\r\n")
        .unwrap();
    let (received, _) = read_until_closed(&mut tcp, limit);
    assert!(
        received.is_empty(),
        "{what}: malformed header got {received:?}"
    );
    server.wait_for_log(&["connection refused", "PROXY v1 line with an address"]);

    // A header that never completes: closed after --proxy-timeout (1 s), nothing sent.
    let mut tcp = connect(server.addr);
    tcp.write_all(b"PROXY TCP4 192.0.2.10").unwrap();
    let (received, after) = read_until_closed(&mut tcp, limit);
    assert!(received.is_empty(), "{what}: late header got {received:?}");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "{what}: closed after {after:?}"
    );
    server.wait_for_log(&["connection refused", "no complete PROXY header within 1s"]);
}

#[test]
fn smtp_servers_refuse_without_a_word() {
    for flavour in FLAVOURS {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mail");
        let server = Instance::smtp(flavour, dir.path(), "mx", &root, &PROXY_FLAGS);
        refusals(&server, flavour);
        assert!(maildir_files(&root.join("alice")).is_empty());
    }
}

#[test]
fn pop3_servers_take_the_client_from_the_header_and_refuse_without_a_word() {
    for flavour in FLAVOURS {
        let dir = tempfile::tempdir().unwrap();
        let cert = pop3_support::TestCert::generate(dir.path());
        let root = dir.path().join("mail");
        let server = Instance::pop3(
            flavour,
            dir.path(),
            "pop",
            &root,
            (&cert.cert, &cert.key),
            &PROXY_FLAGS,
        );
        let mut tcp = connect(server.addr);
        let mut wire = v1("192.0.2.44:5555", "198.51.100.1:110");
        wire.extend_from_slice(b"USER alice\r\n");
        tcp.write_all(&wire).unwrap();
        let (mut raw, greeting) = pop3_support::Raw::over(tcp);
        assert!(greeting.starts_with("+OK"), "{flavour}: {greeting}");
        assert!(
            raw.line().starts_with("+OK"),
            "{flavour}: the pipelined USER is answered"
        );
        assert!(
            raw.command("PASS wonder land").starts_with("+OK"),
            "{flavour}"
        );
        assert!(raw.command("QUIT").starts_with("+OK"), "{flavour}");
        server.wait_for_log(&["connection", "peer=192.0.2.44:5555", "proxy=127.0.0.1:"]);
        server.wait_for_log(&["login", "peer=192.0.2.44:5555", "alice"]);

        // Implicit TLS after a header: the handshake starts right behind it.
        let mut tcp = connect(server.tls_addr);
        tcp.write_all(&v2("192.0.2.45:6666", "198.51.100.1:995"))
            .unwrap();
        let config =
            adapters::tls::client_config(&adapters::tls::ClientTrust::CaFile(cert.cert.clone()))
                .unwrap();
        let name = adapters::tls::server_name("localhost").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut greeting = [0u8; 4];
        std::io::Read::read_exact(&mut tls, &mut greeting).unwrap();
        assert_eq!(&greeting, b"+OK ", "{flavour}");
        server.wait_for_log(&["connection", "peer=192.0.2.45:6666", "tls=true"]);

        refusals(&server, flavour);
    }
}
