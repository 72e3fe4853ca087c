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
use smtp_proto::{Domain, ForwardPath, Mailbox, ReversePath};

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

struct Session {
    client: client::Connection,
    server: server::Connection,
    envelope: Envelope,
    body: Bytes,
    received: usize,
}

impl Session {
    fn new(chunking: bool) -> Session {
        let server_config = server::Config::new(Domain::new("mx.example").unwrap())
            .with_extensions(Extensions {
                chunking,
                ..Extensions::default()
            });
        let client_config = client::Config::new(client::EhloName::new("client.example").unwrap())
            .with_tls(client::TlsPolicy::None);
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
        while !matches!(session.step(), Some(client::Event::Ready)) {}
        session
    }

    /// Moves bytes both ways and answers the server's decisions; gives the next client event.
    fn step(&mut self) -> Option<client::Event> {
        loop {
            if let Some(event) = self.client.poll_event() {
                return Some(event);
            }
            let mut moved = false;
            while let Some(bytes) = self.client.poll_transmit() {
                self.server.receive(&bytes);
                moved = true;
            }
            while let Some(event) = self.server.poll_event() {
                match event {
                    server::Event::Mail { .. } | server::Event::Rcpt { .. } => {
                        self.server.accept().unwrap()
                    }
                    server::Event::MessageData(data) => self.received += data.len(),
                    server::Event::MessageEnd { .. } => self.server.accept_message("Q1").unwrap(),
                    other => panic!("unexpected server event {other:?}"),
                }
            }
            while let Some(bytes) = self.server.poll_transmit() {
                self.client.receive(&bytes);
                moved = true;
            }
            if !moved {
                return None;
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
