//! The client and the server machine talking to each other in memory (as quinn-proto's
//! `Pair`): arbitrary envelopes and bodies go through both, with the bytes moved between them
//! at random splits, and the server side must receive exactly the body the client was given,
//! normalised (bare CR and bare LF as CRLF, a final CRLF), over DATA and over BDAT. Each side
//! runs the canonical loop (one `match` on `poll()`); every wait must carry a deadline, and
//! both sessions must end once, with QUIT.

mod common;

use std::collections::VecDeque;

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use smtp_proto::client::{self, Envelope};
use smtp_proto::server::{self, Extensions};
use smtp_proto::{
    CloseReason, Domain, ForwardPath, Mailbox, Next, Reply, ReversePath, TlsMode, Wait,
};

/// One message to send: its envelope, its body in the pieces the application pushes, and
/// which recipients the server refuses.
#[derive(Debug, Clone)]
struct Message {
    from: ReversePath,
    to: Vec<ForwardPath>,
    refuse: Vec<bool>,
    pieces: Vec<Vec<u8>>,
}

impl Message {
    fn body(&self) -> Vec<u8> {
        self.pieces.concat()
    }

    fn needs_8bit(&self) -> bool {
        self.pieces.iter().flatten().any(|&b| b >= 0x80)
    }
}

/// What the server application saw of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivered {
    from: ReversePath,
    to: Vec<ForwardPath>,
    body: Vec<u8>,
}

/// The reference: bare CR and bare LF become CRLF; a non-empty body ends with CRLF.
fn normalise(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct Pair {
    client: client::Connection,
    server: server::Connection,
    /// Client to server bytes in flight, and back.
    to_server: VecDeque<u8>,
    to_client: VecDeque<u8>,
    cuts: Vec<usize>,
    round: usize,
    client_closed: Option<CloseReason>,
    server_closed: Option<CloseReason>,
}

impl Pair {
    fn cut(&mut self) -> usize {
        let cut = self.cuts[self.round % self.cuts.len()];
        self.round += 1;
        cut
    }

    /// Moves up to one random cut of the bytes in flight each way; true if any moved.
    fn move_bytes(&mut self) -> bool {
        let mut moved = false;
        let n = self.cut().min(self.to_server.len());
        if n > 0 {
            let chunk: Vec<u8> = self.to_server.drain(..n).collect();
            self.server.receive(&chunk);
            moved = true;
        }
        let n = self.cut().min(self.to_client.len());
        if n > 0 {
            let chunk: Vec<u8> = self.to_client.drain(..n).collect();
            self.client.receive(&chunk);
            moved = true;
        }
        moved
    }
}

/// Every wait on the peer has a usable deadline (contract rule 3).
fn check_wait(wait: Wait) {
    assert!(!wait.timeout().is_zero() && wait.timeout() <= Duration::from_secs(3600));
}

/// The client application: one message after another, then QUIT.
struct ClientApp<'a> {
    queue: VecDeque<&'a Message>,
    sending: Option<(&'a Message, usize)>,
    body_open: bool,
    outcomes: Vec<String>,
}

impl ClientApp<'_> {
    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event) {
        match event {
            client::Event::Ready
            | client::Event::MessageAccepted(_)
            | client::Event::MessageRejected(_)
            | client::Event::SenderRejected(_)
            | client::Event::NoRecipientAccepted => {
                if !matches!(event, client::Event::Ready) {
                    self.outcomes
                        .push(format!("{event:?}").split('(').next().unwrap().into());
                }
                match self.queue.pop_front() {
                    Some(message) => {
                        let envelope = Envelope::new(message.from.clone(), message.to.clone())
                            .with_8bit_body(message.needs_8bit());
                        conn.send_mail(envelope).expect("send_mail");
                        self.sending = Some((message, 0));
                    }
                    None => conn.quit().expect("quit"),
                }
            }
            client::Event::SendBody => {
                self.body_open = true;
                self.push_body(conn);
            }
            client::Event::Failed(error) => panic!("client failed: {error:?}"),
            _ => {}
        }
    }

    /// Pushes the body while the machine wants it; ends it after the last piece.
    fn push_body(&mut self, conn: &mut client::Connection) {
        let Some((message, next)) = self.sending.as_mut() else {
            return;
        };
        while conn.wants_body() && *next < message.pieces.len() {
            let piece = Bytes::from(message.pieces[*next].clone());
            conn.send_body_chunk(piece).expect("body chunk");
            *next += 1;
        }
        if *next == message.pieces.len() {
            conn.end_body().expect("end body");
            self.body_open = false;
        }
    }
}

/// The server application: records each transaction, refuses the recipients the message
/// says, accepts the rest.
struct ServerApp<'a> {
    delivered: Vec<Delivered>,
    current: Option<Delivered>,
    rcpt_index: usize,
    sending: Option<&'a Message>,
}

impl ServerApp<'_> {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event) {
        match event {
            server::Event::Mail { from, .. } => {
                let message = self.sending.expect("a message is being sent");
                assert_eq!(from, message.from);
                self.current = Some(Delivered {
                    from,
                    to: Vec::new(),
                    body: Vec::new(),
                });
                self.rcpt_index = 0;
                conn.accept().unwrap();
            }
            server::Event::Rcpt { to, .. } => {
                let message = self.sending.expect("a message is being sent");
                let refuse = message.refuse[self.rcpt_index];
                self.rcpt_index += 1;
                if refuse {
                    conn.reject(Reply::mailbox_unavailable()).unwrap();
                } else {
                    self.current.as_mut().expect("MAIL first").to.push(to);
                    conn.accept().unwrap();
                }
            }
            server::Event::MessageData(data) => {
                self.current
                    .as_mut()
                    .expect("MAIL first")
                    .body
                    .extend_from_slice(&data);
            }
            server::Event::MessageEnd { .. } => {
                self.delivered
                    .push(self.current.take().expect("MAIL first"));
                conn.accept_message("Q1").unwrap();
            }
            server::Event::MessageAborted { reason } => panic!("aborted: {reason:?}"),
            other if other.is_decision() => panic!("unexpected decision {other:?}"),
            _ => {}
        }
    }
}

/// Runs a whole session; gives what the server delivered and what the client was told.
fn run_session(
    messages: &[Message],
    chunking: bool,
    pipelining: bool,
    cuts: Vec<usize>,
) -> (Vec<Delivered>, Vec<String>) {
    let mut extensions = Extensions::default();
    extensions.pipelining = pipelining;
    extensions.chunking = chunking;
    let server_config = server::Config::new(Domain::new("mx.example").unwrap())
        .with_extensions(extensions)
        .with_max_message_size(0);
    let client_config = client::Config::new(client::EhloName::new("client.example").unwrap())
        .with_tls(TlsMode::Disabled)
        .with_bdat_chunk_size(64)
        .with_transmit_bound(256);
    let mut pair = Pair {
        client: client::Connection::new(client_config),
        server: server::Connection::new(server_config),
        to_server: VecDeque::new(),
        to_client: VecDeque::new(),
        cuts,
        round: 0,
        client_closed: None,
        server_closed: None,
    };
    let mut client_app = ClientApp {
        queue: messages.iter().collect(),
        sending: None,
        body_open: false,
        outcomes: Vec::new(),
    };
    let mut server_app = ServerApp {
        delivered: Vec::new(),
        current: None,
        rcpt_index: 0,
        sending: None,
    };

    for _ in 0..1_000_000 {
        // Each side runs the canonical loop until it waits.
        while pair.client_closed.is_none() {
            match pair.client.poll() {
                Next::Transmit(bytes) => pair.to_server.extend(&bytes[..]),
                Next::Event(event) => client_app.on_event(&mut pair.client, event),
                Next::AwaitApp => {
                    assert!(client_app.body_open, "the client waits for nothing");
                    client_app.push_body(&mut pair.client);
                }
                Next::Read(wait) => {
                    check_wait(wait);
                    break;
                }
                Next::UpgradeTls(_) => panic!("TLS is disabled"),
                Next::Closed(reason) => pair.client_closed = Some(reason),
            }
        }
        server_app.sending = client_app.sending.map(|(message, _)| message);
        while pair.server_closed.is_none() {
            match pair.server.poll() {
                Next::Transmit(bytes) => pair.to_client.extend(&bytes[..]),
                Next::Event(event) => server_app.on_event(&mut pair.server, event),
                Next::AwaitApp => panic!("every decision was answered"),
                Next::Read(wait) => {
                    check_wait(wait);
                    break;
                }
                Next::UpgradeTls(_) => panic!("TLS is disabled"),
                Next::Closed(reason) => pair.server_closed = Some(reason),
            }
        }
        if let Some(reason) = pair.client_closed {
            assert_eq!(reason, CloseReason::Quit);
            assert_eq!(pair.server_closed, Some(CloseReason::Quit));
            // Closed is terminal: every later poll says the same.
            assert_eq!(pair.client.poll(), Next::Closed(reason));
            assert!(matches!(
                pair.server.poll(),
                Next::Closed(CloseReason::Quit)
            ));
            return (server_app.delivered, client_app.outcomes);
        }
        let moved = pair.move_bytes();
        assert!(
            moved || !pair.to_server.is_empty() || !pair.to_client.is_empty(),
            "the session is stuck: both sides wait to read and nothing is in flight"
        );
    }
    panic!("the session did not end");
}

fn utf8_mailbox() -> impl Strategy<Value = Mailbox> {
    ("[a-z]{1,4}", "[äöüé日本]{1,3}", "[a-z]{1,6}\\.example")
        .prop_filter_map("valid", |(a, b, d)| {
            Mailbox::parse(format!("{a}{b}@{d}")).ok()
        })
}

fn forward_path() -> impl Strategy<Value = ForwardPath> {
    prop_oneof![
        6 => common::forward_path(),
        1 => utf8_mailbox().prop_map(ForwardPath::Mailbox),
    ]
}

fn line_content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(Vec::new()),
        "[ -~]{0,60}".prop_map(String::into_bytes),
        "\\.[ -~]{0,10}".prop_map(String::into_bytes),
        "[a-zäöü€日本 ]{0,30}".prop_map(String::into_bytes),
        Just(vec![b'x'; 998]),
        Just([b".".as_slice(), &[b'y'; 997]].concat()),
    ]
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![
        6 => Just(b"\r\n".as_slice()),
        1 => Just(b"\n".as_slice()),
        1 => Just(b"\r".as_slice()),
    ]
}

/// A body: lines with their ends (the last one maybe without), cut into pushed pieces.
fn pieces() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        prop::collection::vec((line_content(), line_end()), 0..12),
        prop::option::of(line_content()),
        prop::collection::vec(1usize..200, 1..8),
    )
        .prop_map(|(lines, tail, cuts)| {
            let mut body = Vec::new();
            for (content, end) in lines {
                body.extend_from_slice(&content);
                body.extend_from_slice(end);
            }
            body.extend(tail.unwrap_or_default());
            let mut pieces = Vec::new();
            let mut rest = &body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                pieces.push(rest[..n].to_vec());
                rest = &rest[n..];
                i += 1;
            }
            pieces
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        common::reverse_path(),
        prop::collection::vec((forward_path(), prop::bool::weighted(0.2)), 1..5),
        pieces(),
    )
        .prop_map(|(from, to, pieces)| Message {
            from,
            refuse: to.iter().map(|(_, refuse)| *refuse).collect(),
            to: to.into_iter().map(|(to, _)| to).collect(),
            pieces,
        })
}

fn expected(messages: &[Message]) -> Vec<Delivered> {
    messages
        .iter()
        .filter(|m| m.refuse.iter().any(|r| !r))
        .map(|m| Delivered {
            from: m.from.clone(),
            to: m
                .to
                .iter()
                .zip(&m.refuse)
                .filter(|(_, refuse)| !**refuse)
                .map(|(to, _)| to.clone())
                .collect(),
            body: normalise(&m.body()),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn server_receives_the_normalised_body_over_data_and_bdat(
        messages in prop::collection::vec(message(), 1..4),
        chunking in any::<bool>(),
        pipelining in any::<bool>(),
        cuts in prop::collection::vec(1usize..300, 1..16),
    ) {
        let (delivered, outcomes) = run_session(&messages, chunking, pipelining, cuts);
        prop_assert_eq!(&delivered, &expected(&messages));
        let expected_outcomes: Vec<String> = messages
            .iter()
            .map(|m| {
                if m.refuse.iter().all(|r| *r) { "NoRecipientAccepted" } else { "MessageAccepted" }
                    .to_string()
            })
            .collect();
        prop_assert_eq!(outcomes, expected_outcomes);
    }
}

#[test]
fn dot_lines_long_lines_and_bare_line_ends_arrive_intact() {
    let body: Vec<u8> = [
        b".\r\n..\r\n...\n.x\rmid\r\r\n".as_slice(),
        &[b'z'; 998],
        b"\r\n\xc3\xa4\xe2\x82\xac\r\n.",
    ]
    .concat();
    for chunking in [false, true] {
        for pipelining in [false, true] {
            for cut in [1, 2, 7, 1000] {
                let message = Message {
                    from: ReversePath::Mailbox(Mailbox::parse("a@example.com").unwrap()),
                    to: vec![ForwardPath::Mailbox(
                        Mailbox::parse("b@example.org").unwrap(),
                    )],
                    refuse: vec![false],
                    pieces: body.chunks(cut).map(<[u8]>::to_vec).collect(),
                };
                let messages = [
                    message.clone(),
                    Message {
                        pieces: Vec::new(),
                        ..message
                    },
                ];
                let (delivered, _) = run_session(&messages, chunking, pipelining, vec![3, 50, 1]);
                assert_eq!(
                    delivered,
                    expected(&messages),
                    "chunking {chunking}, pipelining {pipelining}, cut {cut}"
                );
                assert!(delivered[0].body.ends_with(b"\r\n.\r\n"));
                assert!(delivered[1].body.is_empty());
            }
        }
    }
}
