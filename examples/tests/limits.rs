//! The connection caps of the four servers (`--max-connections`,
//! `--max-connections-per-client`): the excess is answered at once, in place of the greeting,
//! with SMTP `421 4.3.2` (RFC 5321 section 3.8, RFC 3463 X.3.2) or POP3 `-ERR [SYS/TEMP]`
//! (RFC 3206 section 4) and closed; on an implicit-TLS listener it is closed without a word.
//! A closed connection gives its slot back. Behind a balancer, the per-client limit counts the
//! client the PROXY header names. The blocking servers start no thread for a refused
//! connection.
//!
//! Runs the example binaries: `cargo test -p examples` builds them (a `--test` filter alone
//! does not; `cargo build -p examples --examples` first, then).

mod pop3_support;
mod proxy_support;
mod smtp_support;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use proxy_support::{Instance, PROXY_FLAGS, connect_from, read_until_closed, v1};
use smtp_support::write_localhost_identity;

const FLAVOURS: [&str; 2] = ["tokio", "blocking"];
const SMTP_REFUSAL: &str = "421 4.3.2 Too many connections, try again later\r\n";
const POP3_REFUSAL: &str = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
/// Longest wait for a freed slot to be seen (the server notices the close, then drops it).
const FREED_WITHIN: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
enum Protocol {
    Smtp,
    Pop3,
}

impl Protocol {
    fn greeting(self) -> &'static str {
        match self {
            Self::Smtp => "220 ",
            Self::Pop3 => "+OK ",
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Self::Smtp => SMTP_REFUSAL,
            Self::Pop3 => POP3_REFUSAL,
        }
    }
}

/// Every server: (protocol, flavour).
fn servers() -> Vec<(Protocol, &'static str)> {
    let mut all = Vec::new();
    for flavour in FLAVOURS {
        all.push((Protocol::Smtp, flavour));
        all.push((Protocol::Pop3, flavour));
    }
    all
}

fn start(protocol: Protocol, flavour: &str, dir: &Path, extra: &[&str]) -> Instance {
    let root = dir.join("mail");
    std::fs::create_dir_all(&root).unwrap();
    match protocol {
        Protocol::Smtp => Instance::smtp(flavour, dir, "mx", &root, extra),
        Protocol::Pop3 => {
            let (cert, key) = write_localhost_identity(dir);
            Instance::pop3(flavour, dir, "pop", &root, (&cert, &key), extra)
        }
    }
}

/// A connection from `source`, `preamble` sent first (a PROXY header), and the first line the
/// server sent.
fn open(source: &str, to: SocketAddr, preamble: &[u8]) -> (BufReader<TcpStream>, String) {
    let mut tcp = connect_from(source.parse::<IpAddr>().unwrap(), to);
    std::io::Write::write_all(&mut tcp, preamble).unwrap();
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    (reader, line)
}

/// A connection that the server greets: retried while the slots freed by earlier connections
/// are still being given back.
fn greeted(
    protocol: Protocol,
    source: &str,
    to: SocketAddr,
    preamble: &[u8],
) -> BufReader<TcpStream> {
    let start = Instant::now();
    loop {
        let (reader, line) = open(source, to, preamble);
        if line.starts_with(protocol.greeting()) {
            return reader;
        }
        assert_eq!(line, protocol.refusal(), "neither greeted nor refused");
        assert!(
            start.elapsed() < FREED_WITHIN,
            "no slot came free within {FREED_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A connection refused at once: the refusal line, then the close.
fn assert_refused(protocol: Protocol, source: &str, to: SocketAddr, preamble: &[u8]) {
    let (reader, line) = open(source, to, preamble);
    assert_eq!(line, protocol.refusal(), "{protocol:?} refusal");
    let mut tcp = reader.into_inner();
    let (rest, _) = read_until_closed(&mut tcp, Duration::from_secs(5));
    assert!(rest.is_empty(), "nothing after the refusal: {rest:?}");
}

/// The process's thread count (`Threads:` in /proc/PID/status).
fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: in /proc/PID/status")
}

#[test]
fn the_total_cap_answers_the_excess_at_once_and_a_closed_connection_frees_its_slot() {
    for (protocol, flavour) in servers() {
        let dir = tempfile::tempdir().unwrap();
        let flags = [
            "--max-connections",
            "3",
            "--max-connections-per-client",
            "100",
        ];
        let server = start(protocol, flavour, dir.path(), &flags);
        let mut held: Vec<_> = (0..3)
            .map(|_| greeted(protocol, "127.0.0.1", server.addr, b""))
            .collect();
        let threads_when_full = threads(server.proc.id());
        for _ in 0..20 {
            assert_refused(protocol, "127.0.0.1", server.addr, b"");
        }
        // Another client address is refused as well: the total is full.
        assert_refused(protocol, "127.0.0.2", server.addr, b"");
        // The implicit-TLS listener shares the cap; its client expects a handshake, not a
        // line in the clear: closed without a word.
        let mut tls = connect_from("127.0.0.1".parse().unwrap(), server.tls_addr);
        let (sent, _) = read_until_closed(&mut tls, Duration::from_secs(5));
        assert!(sent.is_empty(), "{protocol:?} {flavour}: {sent:?}");
        if flavour == "blocking" {
            // No thread per refused connection: the cap bounds them.
            assert!(
                threads(server.proc.id()) <= threads_when_full,
                "{protocol:?} blocking: threads grew past the cap"
            );
        }
        // A closed connection frees its slot, and only one.
        held.pop();
        held.push(greeted(protocol, "127.0.0.1", server.addr, b""));
        assert_refused(protocol, "127.0.0.1", server.addr, b"");
        // The survivors are still served.
        assert_eq!(held.len(), 3);
        assert!(
            server.log().contains("connection refused: over the limit"),
            "logged"
        );
    }
}

#[test]
fn one_client_address_gets_its_share_and_other_clients_still_get_in() {
    for (protocol, flavour) in servers() {
        let dir = tempfile::tempdir().unwrap();
        let flags = [
            "--max-connections",
            "100",
            "--max-connections-per-client",
            "2",
        ];
        let server = start(protocol, flavour, dir.path(), &flags);
        let mut mine: Vec<_> = (0..2)
            .map(|_| greeted(protocol, "127.0.0.1", server.addr, b""))
            .collect();
        assert_refused(protocol, "127.0.0.1", server.addr, b"");
        let _theirs = greeted(protocol, "127.0.0.2", server.addr, b"");
        let _more_of_theirs = greeted(protocol, "127.0.0.2", server.addr, b"");
        assert_refused(protocol, "127.0.0.2", server.addr, b"");
        mine.pop();
        mine.push(greeted(protocol, "127.0.0.1", server.addr, b""));
        assert_refused(protocol, "127.0.0.1", server.addr, b"");
    }
}

#[test]
fn behind_a_balancer_the_per_client_limit_counts_the_client_its_header_names() {
    for (protocol, flavour) in servers() {
        let dir = tempfile::tempdir().unwrap();
        let mut flags = PROXY_FLAGS.to_vec();
        flags.extend(["--max-connections-per-client", "1"]);
        let server = start(protocol, flavour, dir.path(), &flags);
        // Every connection comes from the balancer (127.0.0.1); the headers name the clients.
        let first = v1("192.0.2.1:5000", "127.0.0.1:25");
        let second = v1("192.0.2.2:5000", "127.0.0.1:25");
        let mut held = vec![greeted(protocol, "127.0.0.1", server.addr, &first)];
        assert_refused(protocol, "127.0.0.1", server.addr, &first);
        held.push(greeted(protocol, "127.0.0.1", server.addr, &second));
        assert_refused(protocol, "127.0.0.1", server.addr, &second);
        // The first client's connection closes: its place is free again.
        held.remove(0);
        held.push(greeted(protocol, "127.0.0.1", server.addr, &first));
        assert_eq!(held.len(), 2, "{protocol:?} {flavour}");
    }
}
