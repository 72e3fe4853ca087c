//! Transactions per second through the SMTP client and server machines in memory: one
//! long-lived session, each iteration one whole transaction (MAIL, RCPT, a 10 KiB body,
//! the end-of-data reply), over DATA and over BDAT, with PIPELINING. Criterion's
//! "elements/s" is transactions per second.
//!
//! `cargo bench -p benches --bench smtp_session`

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smtp_proto::client::{self, Envelope};
use smtp_proto::server::{self, Extensions};
use smtp_proto::{Domain, ForwardPath, Mailbox, Next, ReversePath, TlsMode};

/// A 10 KiB message: header lines, text lines of 76 octets, some starting with a dot.
fn message() -> Bytes {
    let mut body =
        b"From: jane@example.com\r\nTo: joe@example.org\r\nSubject: bench\r\n\r\n".to_vec();
    let mut n = 0;
    while body.len() < 10 * 1024 {
        if n % 10 == 0 {
            body.extend_from_slice(b".");
        }
        body.extend_from_slice(&[b'a' + (n % 26) as u8; 74]);
        body.extend_from_slice(b"\r\n");
        n += 1;
    }
    body.truncate(10 * 1024 - 2);
    body.extend_from_slice(b"\r\n");
    Bytes::from(body)
}

/// Two adapters joined by an in-memory pipe. A transmit is handed to the peer's `receive` at
/// once and dropped, as a socket adapter writes it and drops it: the only copy is the one a
/// socket makes. (Queueing transmits until the peer reads kept each machine's output buffer
/// referenced, so the machine could not reuse it: +2.5% instructions and more cache misses
/// per transaction in the harness, not in the machines.)
struct Session {
    client: client::Connection,
    server: server::Connection,
    envelope: Envelope,
    body: Bytes,
    received: usize,
}

impl Session {
    fn new(chunking: bool) -> Session {
        let mut extensions = Extensions::default();
        extensions.chunking = chunking;
        let server_config =
            server::Config::new(Domain::new("mx.example").unwrap()).with_extensions(extensions);
        let client_config = client::Config::new(client::EhloName::new("client.example").unwrap())
            .with_tls(TlsMode::Disabled);
        let mut session = Session {
            client: client::Connection::new(client_config),
            server: server::Connection::new(server_config),
            envelope: Envelope::new(
                ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap()),
                vec![ForwardPath::Mailbox(
                    Mailbox::parse("joe@example.org").unwrap(),
                )],
            ),
            body: message(),
            received: 0,
        };
        // Greeting and EHLO.
        loop {
            match session.step() {
                Some(client::Event::Ready) => break,
                Some(_) => {}
                None => panic!("session stalled before Ready"),
            }
        }
        session
    }

    /// Drives the client (and, whenever it waits for a reply, the server) until the client
    /// has an event; `None` when neither machine can go on.
    fn step(&mut self) -> Option<client::Event> {
        loop {
            match self.client.poll() {
                Next::Transmit(bytes) => self.server.receive(&bytes),
                Next::Event(event) => return Some(event),
                Next::Read(_) if self.run_server() => {}
                Next::Read(_) | Next::AwaitApp => return None,
                Next::UpgradeTls(_) => panic!("TLS is disabled"),
                Next::Closed(reason) => panic!("session closed: {reason}"),
            }
        }
    }

    /// Drives the server, answering its decisions, until it writes (the client reads that
    /// first, as from a socket) or waits for input the client has not written; whether it
    /// wrote anything.
    fn run_server(&mut self) -> bool {
        loop {
            match self.server.poll() {
                Next::Transmit(bytes) => {
                    self.client.receive(&bytes);
                    return true;
                }
                Next::Event(server::Event::Mail { .. } | server::Event::Rcpt { .. }) => {
                    self.server.accept().unwrap()
                }
                Next::Event(server::Event::MessageData(data)) => self.received += data.len(),
                Next::Event(server::Event::MessageEnd { .. }) => {
                    self.server.accept_message("Q1").unwrap()
                }
                Next::Event(other) => panic!("unexpected server event {other:?}"),
                Next::Read(_) => return false,
                other => panic!("unexpected from the server: {other:?}"),
            }
        }
    }

    /// One whole transaction.
    fn transaction(&mut self) {
        self.received = 0;
        self.client.send_mail(self.envelope.clone()).unwrap();
        loop {
            match self.step() {
                Some(client::Event::SendBody) => {
                    self.client.send_body_chunk(self.body.clone()).unwrap();
                    self.client.end_body().unwrap();
                }
                Some(client::Event::MessageAccepted(_)) => {
                    assert_eq!(self.received, self.body.len());
                    return;
                }
                Some(client::Event::RecipientAccepted { .. }) => {}
                other => panic!("unexpected client event {other:?}"),
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("smtp_session_10k");
    group.throughput(Throughput::Elements(1));
    for (name, chunking) in [("data", false), ("bdat", true)] {
        let mut session = Session::new(chunking);
        session.transaction();
        assert_eq!(session.received, 10 * 1024);
        group.bench_function(name, |b| b.iter(|| session.transaction()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
