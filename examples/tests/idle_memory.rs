//! Load: what an idle connection costs each server, in resident memory. The test opens
//! thousands of idle connections to the release binaries of the four servers, on loopback:
//! plain ones that got their greeting, plain ones after EHLO (SMTP) or CAPA (POP3), implicit
//! TLS ones (greeting, and half of them after EHLO/CAPA), and ones upgraded with STARTTLS/STLS
//! (half of them after EHLO/CAPA again). After each step it reads the server's `VmRSS` from
//! `/proc/PID/status` and prints the growth per connection, past a warm-up of
//! [`WARM_UP`] connections (the runtime's own first allocations, the read buffer per thread).
//! The figures are printed, not asserted: they depend on the allocator and the kernel.
//!
//! Outside the normal test run (it holds some 14,000 sockets on each side); see README.md:
//!
//! ```sh
//! cargo build --release -p examples --examples
//! MAIL_LOAD=idle cargo test --release -p examples --test idle_memory -- --nocapture
//! ```
//!
//! The blocking servers run a thread per connection: they get fewer connections
//! ([`BLOCKING_SHARE`]), each costing a thread (its stack's touched pages count in RSS; the
//! kernel's own per-thread memory does not).

mod load_support;
mod pop3_support;
mod smtp_support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use adapters::tls::{ClientTrust, client_config};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Idle plain connections per tokio server: half greeted only, half after EHLO/CAPA.
const PLAIN: usize = 10_000;
/// Idle implicit TLS connections, and as many upgraded ones, per tokio server.
const TLS: usize = 2_000;
/// Connections opened before the first reading: their cost is not counted.
const WARM_UP: usize = 100;
/// The blocking servers get this fraction of the connections (a thread each).
const BLOCKING_SHARE: usize = 5;
/// The servers' connection caps lifted for the run: every connection comes from 127.0.0.1,
/// and the tokio servers get more than their default cap.
const UNCAPPED: [&str; 4] = [
    "--max-connections",
    "20000",
    "--max-connections-per-client",
    "20000",
];
/// Every read and write on a test socket ends by then.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy)]
enum Protocol {
    Smtp,
    Pop3,
}

impl Protocol {
    fn hello(self) -> &'static [u8] {
        match self {
            Self::Smtp => b"EHLO client.example.test\r\n",
            Self::Pop3 => b"CAPA\r\n",
        }
    }

    fn starttls(self) -> &'static [u8] {
        match self {
            Self::Smtp => b"STARTTLS\r\n",
            Self::Pop3 => b"STLS\r\n",
        }
    }

    /// Reads one whole reply: SMTP up to the line with a space after the code, POP3 one
    /// status line, or (CAPA) up to the lone dot. Panics on a negative answer.
    fn reply(self, stream: &mut impl BufRead, multiline: bool) {
        loop {
            let mut line = String::new();
            let n = stream.read_line(&mut line).expect("a reply line");
            assert!(n > 0, "the server closed the connection");
            match self {
                Self::Smtp => {
                    assert!(line.starts_with('2'), "SMTP reply: {line:?}");
                    if line.as_bytes().get(3) == Some(&b' ') {
                        return;
                    }
                }
                Self::Pop3 => {
                    if !multiline || line == ".\r\n" {
                        if !multiline {
                            assert!(line.starts_with("+OK"), "POP3 answer: {line:?}");
                        }
                        return;
                    }
                }
            }
        }
    }
}

/// An idle client connection, kept open until the measurement ends.
#[allow(dead_code)] // the plain variant's stream is only held, never read again
enum Idle {
    Plain(BufReader<TcpStream>),
    Tls(Box<BufReader<StreamOwned<ClientConnection, TcpStream>>>),
}

fn connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(SOCKET_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(SOCKET_TIMEOUT)).unwrap();
    tcp
}

fn handshake(
    tls: &Arc<ClientConfig>,
    mut tcp: TcpStream,
) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(tls.clone(), name).expect("TLS client");
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("TLS handshake");
    }
    StreamOwned::new(conn, tcp)
}

/// A plain connection, greeted, and after EHLO/CAPA when `hello`.
fn plain(protocol: Protocol, addr: SocketAddr, hello: bool) -> Idle {
    let mut stream = BufReader::new(connect(addr));
    protocol.reply(&mut stream, false);
    if hello {
        stream.get_mut().write_all(protocol.hello()).unwrap();
        protocol.reply(&mut stream, true);
    }
    Idle::Plain(stream)
}

/// An implicit TLS connection, greeted, and after EHLO/CAPA when `hello`.
fn implicit(protocol: Protocol, tls: &Arc<ClientConfig>, addr: SocketAddr, hello: bool) -> Idle {
    let mut stream = BufReader::new(handshake(tls, connect(addr)));
    protocol.reply(&mut stream, false);
    if hello {
        stream.get_mut().write_all(protocol.hello()).unwrap();
        protocol.reply(&mut stream, true);
    }
    Idle::Tls(Box::new(stream))
}

/// A plain connection upgraded with STARTTLS (after EHLO) or STLS, and after EHLO/CAPA over
/// TLS when `hello`.
fn upgraded(protocol: Protocol, tls: &Arc<ClientConfig>, addr: SocketAddr, hello: bool) -> Idle {
    let mut plain = BufReader::new(connect(addr));
    protocol.reply(&mut plain, false);
    if let Protocol::Smtp = protocol {
        plain.get_mut().write_all(protocol.hello()).unwrap();
        protocol.reply(&mut plain, true);
    }
    plain.get_mut().write_all(protocol.starttls()).unwrap();
    protocol.reply(&mut plain, false);
    assert!(
        plain.buffer().is_empty(),
        "nothing after the upgrade's answer"
    );
    let mut stream = BufReader::new(handshake(tls, plain.into_inner()));
    if hello {
        stream.get_mut().write_all(protocol.hello()).unwrap();
        protocol.reply(&mut stream, true);
    }
    Idle::Tls(Box::new(stream))
}

/// Reads RSS once the server has settled (its sessions all back to waiting on the peer).
fn settled_rss(pid: u32) -> u64 {
    std::thread::sleep(Duration::from_millis(500));
    load_support::rss_kib(pid)
}

/// Opens `n` connections with `open` (index given), keeping them in `held`; gives the RSS
/// growth per connection in octets.
fn step(pid: u32, held: &mut Vec<Idle>, n: usize, open: impl Fn(usize) -> Idle) -> u64 {
    let before = settled_rss(pid);
    for i in 0..n {
        held.push(open(i));
    }
    let after = settled_rss(pid);
    after.saturating_sub(before) * 1024 / n.max(1) as u64
}

/// One server's figures, in octets per idle connection.
struct Row {
    server: &'static str,
    greeted: u64,
    hello: u64,
    implicit: u64,
    implicit_hello: u64,
    upgraded: u64,
    baseline_kib: u64,
}

fn measure(
    server: &'static str,
    protocol: Protocol,
    pid: u32,
    plain_addr: SocketAddr,
    tls_addr: SocketAddr,
    share: usize,
) -> Row {
    let tls = client_config(&ClientTrust::InsecureAcceptAnyCertificate).expect("TLS client config");
    let mut held = Vec::new();
    for _ in 0..WARM_UP {
        held.push(plain(protocol, plain_addr, true));
    }
    held.push(implicit(protocol, &tls, tls_addr, true));
    held.push(upgraded(protocol, &tls, plain_addr, true));
    let baseline_kib = settled_rss(pid);
    let (plain_n, tls_n) = (PLAIN / share / 2, TLS / share / 2);
    let greeted = step(pid, &mut held, plain_n, |_| {
        plain(protocol, plain_addr, false)
    });
    let hello = step(pid, &mut held, plain_n, |_| {
        plain(protocol, plain_addr, true)
    });
    let implicit_greeted = step(pid, &mut held, tls_n, |_| {
        implicit(protocol, &tls, tls_addr, false)
    });
    let implicit_hello = step(pid, &mut held, tls_n, |_| {
        implicit(protocol, &tls, tls_addr, true)
    });
    let upgraded = step(pid, &mut held, 2 * tls_n, |i| {
        upgraded(protocol, &tls, plain_addr, i % 2 == 0)
    });
    // Every connection is still open and answered: a server that dropped some would look
    // cheap. One more command on the last of them proves the server still serves.
    if let Some(Idle::Tls(last)) = held.last_mut() {
        last.get_mut().write_all(protocol.hello()).unwrap();
        protocol.reply(last.as_mut(), true);
    }
    let open = held.len();
    assert_eq!(open, WARM_UP + 2 + 2 * plain_n + 4 * tls_n);
    Row {
        server,
        greeted,
        hello,
        implicit: implicit_greeted,
        implicit_hello,
        upgraded,
        baseline_kib,
    }
}

#[test]
fn idle_connections_cost_little_resident_memory() {
    if std::env::var("MAIL_LOAD").as_deref() != Ok("idle") {
        eprintln!("skipped: a load run (MAIL_LOAD=idle, release build; see README.md)");
        return;
    }
    let needed = WARM_UP + 2 + PLAIN + 2 * TLS + 64;
    println!(
        "open files: {} (needed: about {needed})",
        load_support::open_files_limit()
    );
    let mut rows = Vec::new();
    let parent = std::env::temp_dir();
    for (flavour, share) in [("tokio", 1), ("blocking", BLOCKING_SHARE)] {
        let name = if flavour == "tokio" {
            "smtp_server_tokio"
        } else {
            "smtp_server_blocking"
        };
        let server = smtp_support::Server::start_in(&parent, name, false, &UNCAPPED);
        let pid = server.proc.id();
        rows.push(measure(
            name,
            Protocol::Smtp,
            pid,
            server.addr,
            server.tls_addr,
            share,
        ));
        drop(server); // killed by its process id; then the client sockets close
    }
    for (flavour, share) in [("tokio", 1), ("blocking", BLOCKING_SHARE)] {
        let dir = tempfile::tempdir().unwrap();
        let cert = pop3_support::TestCert::generate(dir.path());
        let root = dir.path().join("mail");
        pop3_support::fill_maildir(&root.join("alice"), &[]);
        let server = pop3_support::Pop3Server::start(
            flavour,
            &root,
            &cert,
            &[pop3_support::ALICE],
            &UNCAPPED,
        );
        let name = if flavour == "tokio" {
            "pop3_server_tokio"
        } else {
            "pop3_server_blocking"
        };
        rows.push(measure(
            name,
            Protocol::Pop3,
            server.pid(),
            server.plain,
            server.implicit,
            share,
        ));
        drop(server);
    }
    println!();
    println!(
        "RSS growth per idle connection, octets (plain: {} + {} on tokio; TLS: {} + {} implicit, {} upgraded; blocking: 1/{BLOCKING_SHARE} of each)",
        PLAIN / 2,
        PLAIN / 2,
        TLS / 2,
        TLS / 2,
        TLS
    );
    println!(
        "{:<22} {:>9} {:>10} {:>10} {:>14} {:>13} {:>14}",
        "server",
        "greeted",
        "EHLO/CAPA",
        "implicit",
        "implicit+EHLO",
        "STARTTLS/STLS",
        "RSS at start"
    );
    for row in &rows {
        println!(
            "{:<22} {:>9} {:>10} {:>10} {:>14} {:>13} {:>11} KiB",
            row.server,
            row.greeted,
            row.hello,
            row.implicit,
            row.implicit_hello,
            row.upgraded,
            row.baseline_kib
        );
    }
}
