//! The session contract (ARCHITECTURE.md) kept by the POP3 server and client machines.

use core::time::Duration;

use conformance::{App, Outcome, Secrets, Seen, run, run_pair, trickle};
use mail_wire::session::{CloseReason, TlsMode};
use pop3_proto::server::{self, Login, Maildrop};
use pop3_proto::{MsgNumber, UniqueId, client};
use proptest::prelude::*;

const PASSWORD: &str = "s3cret-pw";

/// A trickle notices a passed deadline at its next tick: within one tick of it. The ticks here
/// are at most this long.
const TICK_SLACK: Duration = Duration::from_secs(30);

/// The maildrop every login gets: contents as sent (CRLF lines, before stuffing).
fn messages() -> Vec<Vec<u8>> {
    vec![
        b"Subject: one\r\n\r\n.leading dot\r\nbody\r\n".to_vec(),
        b"Subject: two\r\n\r\n"
            .iter()
            .copied()
            .chain(b"x".repeat(9000))
            .chain(*b"\r\n")
            .collect(),
    ]
}

/// A server application that checks the password, serves [`messages`] and commits.
#[derive(Default)]
struct ServerApp;

impl App<server::Connection> for ServerApp {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event) {
        use server::Event;
        let answer = match event {
            Event::Login(login) => {
                let right = match &login {
                    Login::UserPass { password, .. } => password.expose() == PASSWORD.as_bytes(),
                    Login::Sasl {
                        credentials: server::Credentials::Password(p),
                        ..
                    } => p.password.expose() == PASSWORD.as_bytes(),
                    _ => false,
                };
                if right {
                    let mut maildrop = Maildrop::new();
                    for (i, message) in messages().iter().enumerate() {
                        maildrop.push(
                            message.len() as u64,
                            UniqueId::new(format!("uid-{i}")).unwrap(),
                        );
                    }
                    conn.accept(maildrop)
                } else {
                    conn.reject(server::LoginRefusal::BadCredentials)
                }
            }
            Event::Retrieve(retrieve) => {
                let message = &messages()[retrieve.index];
                // In two pieces, split inside a line, as a store would stream it.
                let (a, b) = message.split_at(message.len() / 3);
                conn.send_message_chunk(a)
                    .and_then(|()| conn.send_message_chunk(b))
                    .and_then(|()| conn.end_message())
            }
            Event::Commit { .. } => conn.commit_succeeded(),
            event => {
                assert!(!event.is_decision(), "unanswered decision {event:?}");
                Ok(())
            }
        };
        answer.expect("the application's answer fits the decision");
    }

    fn describe(&self, event: &server::Event) -> Seen {
        Seen::Line(format!("{event:?}"))
    }
}

/// A client application that lists, downloads both messages, deletes the first and quits.
#[derive(Default)]
struct ClientApp {
    queued: bool,
}

impl App<client::Connection> for ClientApp {
    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event) {
        if let client::Event::Authenticated(_) = event {
            let one = MsgNumber::new(1).unwrap();
            conn.stat().unwrap();
            conn.list(None).unwrap();
            conn.uidl(None).unwrap();
            conn.retr(one).unwrap();
            conn.top(MsgNumber::new(2).unwrap(), 0).unwrap();
            conn.retr(MsgNumber::new(2).unwrap()).unwrap();
            conn.dele(one).unwrap();
            conn.quit().unwrap();
            self.queued = true;
        }
    }

    fn describe(&self, event: &client::Event) -> Seen {
        match event {
            client::Event::MessageData(data) => Seen::Data(data.to_vec()),
            other => Seen::Line(format!("{other:?}")),
        }
    }
}

fn server_config(tls: TlsMode) -> server::Config {
    server::Config::default().with_tls(tls)
}

fn client_config(tls: TlsMode) -> client::Config {
    client::Config::default()
        .with_tls(tls)
        .with_password("alice", PASSWORD)
}

fn assert_conforms(outcome: &Outcome) {
    assert!(
        outcome.breaches.is_empty(),
        "breaches: {:#?}",
        outcome.breaches
    );
}

fn secrets() -> Secrets {
    Secrets::new(&[PASSWORD.as_bytes(), b"\0alice\0s3cret-pw"])
}

fn pair(tls: (TlsMode, TlsMode), seed: u64) -> (Outcome, Outcome) {
    let mut client = client::Connection::new(client_config(tls.0));
    let mut server = server::Connection::new(server_config(tls.1));
    run_pair(
        (&mut client, &mut ClientApp::default()),
        (&mut server, &mut ServerApp),
        seed,
        &secrets(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any split of the bytes in flight: the same events, the same bytes, one `Closed(Quit)`
    /// on each side, and no breach of the contract (STLS, SASL, pipelined commands, a message
    /// larger than a data block on the way).
    #[test]
    fn client_and_server_conform_at_any_split(seed in any::<u64>()) {
        let tls = (TlsMode::Opportunistic, TlsMode::Opportunistic);
        let reference = pair(tls, 1);
        let (client, server) = pair(tls, seed);
        assert_conforms(&client);
        assert_conforms(&server);
        prop_assert_eq!(client.closed, Some(CloseReason::Quit));
        prop_assert_eq!(server.closed, Some(CloseReason::Quit));
        prop_assert_eq!(&client, &reference.0);
        prop_assert_eq!(&server, &reference.1);
    }
}

#[test]
fn a_session_downloads_and_deletes() {
    let (client, server) = pair((TlsMode::Required, TlsMode::Opportunistic), 5);
    assert_conforms(&client);
    assert_conforms(&server);
    let lines = client.event_lines();
    let wanted = format!("data {}", messages()[0].escape_ascii());
    assert!(lines.contains(&wanted), "{lines:#?}");
    assert!(
        server.event_lines().iter().any(|l| l.starts_with("Commit")),
        "{:#?}",
        server.event_lines()
    );
}

/// Regression: with the old loop order (events until none, transmits until none, then read),
/// this pipelined input sent at once stalled after about 87 KB: taking transmits processed
/// more commands, and a decision came after the event queue had been read empty. One `poll`
/// cannot leave it behind: the whole conversation is answered whatever the split.
#[test]
fn a_long_pipeline_with_a_decision_behind_it_does_not_stall() {
    // 1200 LISTs is the input as first reported; 3000 makes the answers (about 47 octets
    // each here) pass the machine's output high-water mark more than once.
    for lists in [1200, 3000] {
        let mut input = b"USER alice\r\nPASS s3cret-pw\r\n".to_vec();
        for _ in 0..lists {
            input.extend_from_slice(b"LIST\r\n");
        }
        input.extend_from_slice(b"RETR 1\r\nQUIT\r\n");
        let config = server_config(TlsMode::Disabled).with_plaintext_auth_without_tls(true);
        let run_with = |chunks: &[usize]| {
            let mut conn = server::Connection::new(config.clone());
            run(&mut conn, &mut ServerApp, &input, chunks, &secrets())
        };
        let whole = run_with(&[input.len()]);
        assert_conforms(&whole);
        assert_eq!(whole.closed, Some(CloseReason::Quit));
        let sent = whole.sent_text();
        assert_eq!(
            sent.matches("+OK 2 messages (").count(),
            lists,
            "not every LIST was answered"
        );
        assert!(
            sent.contains("\r\n..leading dot\r\nbody\r\n.\r\n"),
            "RETR 1 was not answered"
        );
        assert!(
            sent.ends_with("+OK POP3 server signing off (2 messages left)\r\n"),
            "{}",
            &sent[sent.len().saturating_sub(200)..]
        );
        for chunks in [&[1][..], &[4096], &[3, 700, 1]] {
            assert_eq!(run_with(chunks), whole, "chunks {chunks:?}");
        }
    }
}

/// Contract rule 3 (ARCHITECTURE.md security invariant 9): a command trickled one octet per
/// tick cannot move the autologout deadline; nothing is deleted (security invariant 6).
#[test]
fn a_trickled_command_cannot_extend_the_server_wait() {
    let config = server_config(TlsMode::Disabled).with_plaintext_auth_without_tls(true);
    let timeout = config.autologout;
    let mut conn = server::Connection::new(config);
    let prefix = b"USER alice\r\nPASS s3cret-pw\r\nDELE 1\r\n";
    let trickled = trickle(
        &mut conn,
        &mut ServerApp,
        prefix,
        b"NOOP NOOP NOOP",
        timeout / 20,
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(
        trickled.ended_at <= trickled.first_deadline.unwrap() + TICK_SLACK,
        "{trickled:?}"
    );
    assert!(
        !trickled
            .outcome
            .event_lines()
            .iter()
            .any(|l| l.starts_with("Commit"))
    );
}

/// The client side: a listing trickled without its end cannot extend the response wait.
#[test]
fn a_trickled_response_cannot_extend_the_client_wait() {
    let mut conn = client::Connection::new(client_config(TlsMode::Disabled));
    let trickled = trickle(
        &mut conn,
        &mut ClientApp::default(),
        b"+OK ready\r\n",
        b"+OK capability list follows\r\nTOP\r\n",
        Duration::from_secs(11),
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(
        trickled.ended_at <= trickled.first_deadline.unwrap() + TICK_SLACK,
        "{trickled:?}"
    );
}

/// An STLS upgrade the adapter never completes ends by its deadline, on both machines.
#[test]
fn an_upgrade_nobody_completes_times_out() {
    let mut conn = server::Connection::new(server_config(TlsMode::Opportunistic));
    let trickled = trickle(
        &mut conn,
        &mut ServerApp,
        b"STLS\r\n",
        b"",
        Duration::from_secs(1),
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));

    let mut conn = client::Connection::new(client_config(TlsMode::Opportunistic));
    let server = b"+OK ready\r\n+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n+OK go ahead\r\n";
    let trickled = trickle(
        &mut conn,
        &mut ClientApp::default(),
        server,
        b"",
        Duration::from_secs(1),
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
}

/// Security invariant 10: the password, the SASL PLAIN message and its base64 never show in
/// the `Debug` of the server machine or its events, whatever the split (USER/PASS, AUTH PLAIN
/// with an initial response and as a continuation).
#[test]
fn the_server_debug_shows_no_credentials() {
    use base64::Engine as _;
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0s3cret-pw");
    let input = format!("USER alice\r\nPASS wrong-s3cret-pw\r\nAUTH PLAIN {plain}\r\nQUIT\r\n");
    let input2 = format!("AUTH PLAIN\r\n{plain}\r\nQUIT\r\n");
    let secrets = Secrets::new(&[
        PASSWORD.as_bytes(),
        b"wrong-s3cret-pw",
        b"\0alice\0s3cret-pw",
    ]);
    for input in [input, input2] {
        for chunks in [&[input.len()][..], &[1], &[7, 2]] {
            let config = server_config(TlsMode::Implicit);
            let mut conn = server::Connection::new(config);
            let outcome = run(
                &mut conn,
                &mut ServerApp,
                input.as_bytes(),
                chunks,
                &secrets,
            );
            assert_conforms(&outcome);
            assert!(
                outcome.sent_text().contains("+OK maildrop has 2 messages"),
                "{}",
                outcome.sent_text()
            );
        }
    }
}

#[test]
fn the_client_debug_shows_no_credentials() {
    let (client, server) = pair((TlsMode::Implicit, TlsMode::Implicit), 9);
    assert_conforms(&client);
    assert_conforms(&server);
}
