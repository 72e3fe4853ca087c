//! A whole POP3 session through the client and server machines in memory: login (SASL
//! PLAIN over implicit TLS), UIDL, then RETR of 100 messages of 10 KiB (pipelined), QUIT.
//! Reported in messages/s (`messages`) and in MB/s of message content (`bytes`).
//!
//! `cargo bench -p benches --bench pop3_session`

use std::collections::VecDeque;

use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use pop3_proto::client;
use pop3_proto::server::{self, Maildrop};
use pop3_proto::{CloseReason, MsgNumber, Next, TlsMode, UniqueId};

const MESSAGES: usize = 100;
const MESSAGE_SIZE: usize = 10 * 1024;

/// A 10 KiB message of 78-octet lines (CRLF included), one in twenty starting with a dot.
fn message(seed: usize) -> Bytes {
    let mut body =
        format!("Subject: message {seed}\r\nFrom: bench@example.org\r\n\r\n").into_bytes();
    let mut line = 0;
    while body.len() < MESSAGE_SIZE {
        let lead = if line % 20 == 0 { '.' } else { 'L' };
        let text = format!(
            "{lead}{line:05} the quick brown fox jumps over the lazy dog 0123456789 abcdefgh\r\n"
        );
        body.extend_from_slice(text.as_bytes());
        line += 1;
    }
    body.truncate(MESSAGE_SIZE - 2);
    body.extend_from_slice(b"\r\n");
    Bytes::from(body)
}

/// Runs one session; returns the octets of message content the client received.
fn session(maildrop: &[Bytes]) -> usize {
    let mut client = client::Connection::new(
        client::Config::default()
            .with_tls(TlsMode::Implicit)
            .with_password("alice", "secret"),
    );
    let mut server = server::Connection::new(server::Config::default().with_tls(TlsMode::Implicit));
    // The two directions of the connection: one transmit per read.
    let mut to_server: VecDeque<Bytes> = VecDeque::new();
    let mut to_client: VecDeque<Bytes> = VecDeque::new();
    let mut received = 0;
    loop {
        // The client, until it writes (the server reads that first, as from a socket) or
        // waits for the server.
        let mut progress = false;
        loop {
            match client.poll() {
                Next::Transmit(bytes) => {
                    to_server.push_back(bytes);
                    progress = true;
                    break;
                }
                Next::Event(client::Event::Authenticated(_)) => {
                    client.uidl(None).unwrap();
                    for n in 1..=maildrop.len() {
                        client.retr(MsgNumber::new(n as u32).unwrap()).unwrap();
                    }
                    client.quit().unwrap();
                }
                Next::Event(client::Event::MessageData(chunk)) => {
                    received += black_box(chunk).len()
                }
                Next::Event(client::Event::Quit(outcome)) => assert!(outcome.committed),
                Next::Event(client::Event::Failed(error)) => panic!("{error}"),
                Next::Event(_) => {}
                Next::Read(_) => match to_client.pop_front() {
                    Some(bytes) => client.receive(&bytes),
                    None => break,
                },
                Next::Closed(reason) => {
                    assert_eq!(reason, CloseReason::Quit);
                    return received;
                }
                other => panic!("unexpected from the client: {other:?}"),
            }
            progress = true;
        }
        // The server, likewise.
        loop {
            match server.poll() {
                Next::Transmit(bytes) => {
                    to_client.push_back(bytes);
                    progress = true;
                    break;
                }
                Next::Event(server::Event::Login(_)) => {
                    let mut listing = Maildrop::with_capacity(maildrop.len());
                    for (i, body) in maildrop.iter().enumerate() {
                        listing.push(
                            body.len() as u64,
                            UniqueId::new(format!("uid-{i}")).unwrap(),
                        );
                    }
                    server.accept(listing).unwrap();
                }
                Next::Event(server::Event::Retrieve(retrieve)) => {
                    server
                        .send_message_chunk(&maildrop[retrieve.index])
                        .unwrap();
                    server.end_message().unwrap();
                }
                Next::Event(server::Event::Commit { .. }) => server.commit_succeeded().unwrap(),
                Next::Event(_) => {}
                Next::Read(_) => match to_server.pop_front() {
                    Some(bytes) => server.receive(&bytes),
                    None => break,
                },
                // Its last reply is on its way to the client.
                Next::Closed(_) => break,
                other => panic!("unexpected from the server: {other:?}"),
            }
            progress = true;
        }
        assert!(progress, "session stalled");
    }
}

fn bench(c: &mut Criterion) {
    let maildrop: Vec<Bytes> = (0..MESSAGES).map(message).collect();
    assert_eq!(session(&maildrop), MESSAGES * MESSAGE_SIZE);
    let mut group = c.benchmark_group("pop3_session/retr_100x10KiB");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    group.bench_function("messages", |b| b.iter(|| session(black_box(&maildrop))));
    group.throughput(Throughput::Bytes((MESSAGES * MESSAGE_SIZE) as u64));
    group.bench_function("bytes", |b| b.iter(|| session(black_box(&maildrop))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
