//! The client and server machines talking in memory (a `Pair` driver in the style of
//! quinn-proto's tests), each driven by the canonical loop (a single `match` on `poll()`):
//! bytes move across at random splits, the server's application streams messages in random
//! chunks. Arbitrary maildrops are retrieved byte for byte, and exactly the deleted set is
//! committed; a drop before QUIT commits nothing.

use std::collections::{BTreeMap, BTreeSet};

use pop3_proto::client;
use pop3_proto::server::{self, Login, Maildrop};
use pop3_proto::{CloseReason, MsgNumber, Next, Timestamp, TlsMode, UniqueId};
use proptest::prelude::*;

/// How the two sides log in.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// Port 995: TLS from the start; SASL PLAIN.
    ImplicitTls,
    /// STLS upgrade, then SASL PLAIN.
    Stls,
    /// No TLS at all: APOP.
    Apop,
    /// No TLS, plaintext allowed on both sides: the best offered is SASL PLAIN.
    PlaintextAllowed,
}

/// What the client does with each message.
#[derive(Debug, Clone, Copy)]
struct Plan {
    delete: bool,
    /// TOP with this many lines instead of RETR.
    top: Option<u32>,
}

struct Pair {
    client: client::Connection,
    server: server::Connection,
    maildrop: Vec<Vec<u8>>,
    plans: Vec<Plan>,
    quit: bool,
    /// Bytes in transit.
    to_client: Vec<u8>,
    to_server: Vec<u8>,
    rng: u64,
    // What happened.
    received: BTreeMap<u32, Vec<u8>>,
    current: Option<(u32, Vec<u8>)>,
    committed: Option<BTreeSet<usize>>,
    quit_outcome: Option<bool>,
    client_failed: Vec<String>,
    client_closed: Option<CloseReason>,
    server_closed: Option<(CloseReason, u32)>,
    /// The server said `UpgradeTls`: its side of the handshake waits for the client's.
    server_upgrading: bool,
    logged_in_with: Option<client::AuthMethod>,
    queued: bool,
}

impl Pair {
    fn new(setup: Setup, maildrop: Vec<Vec<u8>>, plans: Vec<Plan>, quit: bool, seed: u64) -> Self {
        let (client_config, server_config) = match setup {
            Setup::ImplicitTls => (
                client::Config::default().with_tls(TlsMode::Implicit),
                server::Config::default().with_tls(TlsMode::Implicit),
            ),
            Setup::Stls => (
                client::Config::default().with_tls(TlsMode::Required),
                server::Config::default().with_tls(TlsMode::Required),
            ),
            Setup::Apop => (
                client::Config::default().with_tls(TlsMode::Disabled),
                server::Config::default()
                    .with_apop_timestamp(Timestamp::new("<4242.1700000000@pair.test>").unwrap()),
            ),
            Setup::PlaintextAllowed => (
                client::Config::default()
                    .with_tls(TlsMode::Disabled)
                    .with_plaintext_auth_without_tls(true),
                server::Config::default().with_plaintext_auth_without_tls(true),
            ),
        };
        Self {
            client: client::Connection::new(client_config.with_password("alice", "s3cret")),
            server: server::Connection::new(server_config),
            maildrop,
            plans,
            quit,
            to_client: Vec::new(),
            to_server: Vec::new(),
            rng: seed | 1,
            received: BTreeMap::new(),
            current: None,
            committed: None,
            quit_outcome: None,
            client_failed: Vec::new(),
            client_closed: None,
            server_closed: None,
            server_upgrading: false,
            logged_in_with: None,
            queued: false,
        }
    }

    fn random(&mut self, below: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % below.max(1) as u64) as usize
    }

    /// Moves a random prefix (at least one byte) of `from` into `receive`.
    fn deliver(&mut self, to_client: bool) -> bool {
        let pending = if to_client {
            self.to_client.len()
        } else {
            self.to_server.len()
        };
        if pending == 0 {
            return false;
        }
        let n = 1 + self.random(pending.min(3000));
        if to_client {
            let piece: Vec<u8> = self.to_client.drain(..n).collect();
            self.client.receive(&piece);
        } else {
            let piece: Vec<u8> = self.to_server.drain(..n).collect();
            self.server.receive(&piece);
        }
        true
    }

    fn run(&mut self) {
        for _ in 0..1_000_000 {
            let mut progress = self.server_step();
            progress |= self.client_step();
            if !progress {
                let toward_client = self.random(2) == 0;
                progress = self.deliver(toward_client) || self.deliver(true) || self.deliver(false);
            }
            if !progress {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// The server's adapter: the canonical loop until the machine waits. True when
    /// anything happened.
    fn server_step(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.server.poll() {
                Next::Transmit(bytes) => self.to_client.extend_from_slice(&bytes),
                Next::Event(event) => self.server_event(event),
                Next::Read(_) | Next::AwaitApp => return progress,
                Next::UpgradeTls(_) => {
                    progress |= !self.server_upgrading;
                    self.server_upgrading = true;
                    return progress;
                }
                Next::Closed(reason) => {
                    let closed = Some((reason, self.server.discarded_deletions()));
                    assert!(self.server_closed.is_none() || self.server_closed == closed);
                    progress |= self.server_closed.is_none();
                    self.server_closed = closed;
                    return progress;
                }
            }
            progress = true;
        }
    }

    fn server_event(&mut self, event: server::Event) {
        match event {
            server::Event::Login(login) => {
                let ok = match &login {
                    Login::Apop(apop) => apop.verify(b"s3cret"),
                    Login::UserPass { password, .. } => password.expose() == b"s3cret",
                    Login::Sasl {
                        credentials: mail_wire::sasl::Credentials::Password(p),
                        ..
                    } => p.password.expose() == b"s3cret",
                    _ => false,
                };
                assert!(ok, "credentials arrive intact: {login:?}");
                assert_eq!(login.user(), b"alice");
                let mut listing = Maildrop::new();
                for (i, body) in self.maildrop.iter().enumerate() {
                    listing.push(
                        body.len() as u64,
                        UniqueId::new(format!("uid-{i}")).unwrap(),
                    );
                }
                self.server.accept(listing).unwrap();
            }
            server::Event::Retrieve(retrieve) => {
                let body = self.maildrop[retrieve.index].clone();
                let mut at = 0;
                while at < body.len() {
                    let n = 1 + self.random(4096);
                    let end = (at + n).min(body.len());
                    self.server.send_message_chunk(&body[at..end]).unwrap();
                    at = end;
                    // What the chunk wrote goes out; the machine awaits the next chunk.
                    loop {
                        match self.server.poll() {
                            Next::Transmit(bytes) => self.to_client.extend_from_slice(&bytes),
                            Next::AwaitApp => break,
                            other => panic!("{other:?} while a message streams"),
                        }
                    }
                }
                self.server.end_message().unwrap();
            }
            server::Event::Commit { deleted } => {
                self.committed = Some(deleted.iter().map(|d| d.index).collect());
                self.server.commit_succeeded().unwrap();
            }
            other => panic!("unexpected server event {other:?}"),
        }
    }

    /// The client's adapter: the canonical loop until the machine waits. True when
    /// anything happened.
    fn client_step(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.client.poll() {
                Next::Transmit(bytes) => self.to_server.extend_from_slice(&bytes),
                Next::Event(event) => self.client_event(event),
                Next::Read(_) | Next::AwaitApp => return progress,
                Next::UpgradeTls(_) => {
                    // Both sides run the handshake: the server said UpgradeTls after its +OK.
                    assert!(self.to_server.is_empty() && self.to_client.is_empty());
                    assert!(matches!(self.server.poll(), Next::UpgradeTls(_)));
                    self.server.tls_established().unwrap();
                    self.client.tls_established().unwrap();
                    self.server_upgrading = false;
                }
                Next::Closed(reason) => {
                    assert!(self.client_closed.is_none() || self.client_closed == Some(reason));
                    progress |= self.client_closed.is_none();
                    self.client_closed = Some(reason);
                    return progress;
                }
            }
            progress = true;
        }
    }

    fn client_event(&mut self, event: client::Event) {
        assert!(!event.is_decision());
        match event {
            client::Event::Authenticated(method) => {
                self.logged_in_with = Some(method);
                self.queue_commands();
            }
            client::Event::MessageStart { msg, .. } => {
                assert!(self.current.is_none());
                self.current = Some((msg.get(), Vec::new()));
            }
            client::Event::MessageData(chunk) => {
                self.current
                    .as_mut()
                    .expect("data inside a message")
                    .1
                    .extend_from_slice(&chunk);
            }
            client::Event::MessageEnd(end) => {
                let (msg, body) = self.current.take().expect("end of a started message");
                assert_eq!(msg, end.msg.get());
                assert_eq!(end.size, body.len() as u64);
                assert_eq!(end.error, None);
                self.received.insert(msg, body);
            }
            client::Event::Quit(outcome) => self.quit_outcome = Some(outcome.committed),
            client::Event::Failed(error) => self.client_failed.push(error.to_string()),
            client::Event::Greeting { .. }
            | client::Event::Capabilities(_)
            | client::Event::Deleted(_)
            | client::Event::UidList(_)
            | client::Event::Stat(_) => {}
            other => panic!("unexpected client event {other:?}"),
        }
    }

    fn queue_commands(&mut self) {
        assert!(!self.queued);
        self.queued = true;
        self.client.stat().unwrap();
        self.client.uidl(None).unwrap();
        for (i, plan) in self.plans.clone().into_iter().enumerate() {
            let msg = MsgNumber::new(i as u32 + 1).unwrap();
            match plan.top {
                Some(lines) => self.client.top(msg, lines).unwrap(),
                None => self.client.retr(msg).unwrap(),
            }
            if plan.delete {
                self.client.dele(msg).unwrap();
            }
        }
        if self.quit {
            self.client.quit().unwrap();
        }
    }
}

/// What TOP gives: the header (up to and including the first empty line) and `lines` body
/// lines (RFC 1939 section 7).
fn top_of(body: &[u8], lines: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    let mut body_lines = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        if !in_header {
            if body_lines == lines {
                break;
            }
            body_lines += 1;
        }
        out.extend_from_slice(line);
        if line == b"\r\n" {
            in_header = false;
        }
    }
    out
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let no_crlf = |v: Vec<u8>| -> Vec<u8> {
        v.into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect()
    };
    prop_oneof![
        Just(b".".to_vec()),
        Just(b"..".to_vec()),
        Just(Vec::new()),
        "[ -~]{0,80}".prop_map(|s| s.into_bytes()),
        "\\.[ -~]{0,40}".prop_map(|s| s.into_bytes()),
        "\\.\\.[ -~]{0,40}".prop_map(|s| s.into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(no_crlf),
        Just(vec![b'x'; 996]),
        Just([&b"."[..], &[b'y'; 995]].concat()),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(line(), 0..24).prop_map(|lines| {
        let mut body = Vec::new();
        for line in lines {
            body.extend_from_slice(&line);
            body.extend_from_slice(b"\r\n");
        }
        body
    })
}

fn setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        Just(Setup::ImplicitTls),
        Just(Setup::Stls),
        Just(Setup::Apop),
        Just(Setup::PlaintextAllowed),
    ]
}

fn maildrop_and_plans() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<Plan>)> {
    proptest::collection::vec(
        (
            body(),
            any::<bool>(),
            proptest::option::weighted(0.25, 0u32..6),
        ),
        0..8,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .map(|(body, delete, top)| (body, Plan { delete, top }))
            .unzip()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn maildrop_is_retrieved_byte_for_byte_and_exactly_the_deleted_set_is_committed(
        setup in setup(),
        (maildrop, plans) in maildrop_and_plans(),
        seed in any::<u64>(),
    ) {
        let mut pair = Pair::new(setup, maildrop.clone(), plans.clone(), true, seed);
        pair.run();
        prop_assert!(pair.client_failed.is_empty(), "{:?}", pair.client_failed);
        let expected_method = match setup {
            Setup::Apop => client::AuthMethod::Apop,
            _ => client::AuthMethod::Sasl(pop3_proto::Mechanism::Plain),
        };
        prop_assert_eq!(pair.logged_in_with, Some(expected_method));
        prop_assert_eq!(pair.client.is_secure(), matches!(setup, Setup::ImplicitTls | Setup::Stls));
        for (i, (body, plan)) in maildrop.iter().zip(&plans).enumerate() {
            let expected = match plan.top {
                Some(lines) => top_of(body, lines),
                None => body.clone(),
            };
            let got = pair.received.get(&(i as u32 + 1));
            prop_assert_eq!(got, Some(&expected), "message {} ({:?})", i + 1, plan);
        }
        let deleted: BTreeSet<usize> = plans
            .iter()
            .enumerate()
            .filter(|(_, plan)| plan.delete)
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(pair.committed.as_ref(), Some(&deleted));
        prop_assert_eq!(pair.quit_outcome, Some(true));
        prop_assert!(pair.client.is_closed());
        prop_assert!(pair.server.is_closed());
        prop_assert_eq!(pair.client_closed, Some(CloseReason::Quit));
        prop_assert_eq!(pair.server_closed, Some((CloseReason::Quit, 0)));
    }

    #[test]
    fn a_drop_before_quit_commits_nothing(
        (maildrop, plans) in maildrop_and_plans(),
        seed in any::<u64>(),
    ) {
        let mut pair = Pair::new(Setup::ImplicitTls, maildrop.clone(), plans.clone(), false, seed);
        pair.run();
        prop_assert_eq!(pair.received.len(), maildrop.len());
        pair.client.handle_close();
        pair.server.handle_close();
        while pair.server_step() | pair.client_step() {}
        prop_assert_eq!(pair.committed, None);
        prop_assert_eq!(pair.quit_outcome, None);
        let marked = plans.iter().filter(|plan| plan.delete).count() as u32;
        prop_assert_eq!(pair.server_closed, Some((CloseReason::ConnectionLost, marked)));
        prop_assert_eq!(pair.client_closed, Some(CloseReason::ConnectionLost));
        prop_assert_eq!(
            &pair.client_failed,
            &vec!["connection lost before the session ended".to_string()]
        );
    }
}
