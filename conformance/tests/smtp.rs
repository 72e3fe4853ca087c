//! The session contract (ARCHITECTURE.md) kept by the SMTP server and client machines.

use core::time::Duration;

use bytes::Bytes;
use conformance::{App, Outcome, Secrets, Seen, run, run_pair, trickle};
use mail_wire::session::{CloseReason, TlsMode};
use proptest::prelude::*;
use smtp_proto::client::{self, Envelope};
use smtp_proto::server::{self, Credentials};
use smtp_proto::{Domain, ForwardPath, Mailbox, Mechanism, Reply, ReversePath};

const PASSWORD: &str = "s3cret-pw";

/// A trickle notices a passed deadline at its next tick: within one tick of it. The ticks here
/// are at most this long.
const TICK_SLACK: Duration = Duration::from_secs(15);

/// A server application that accepts what it is asked, but refuses one recipient and wrong
/// passwords, so refusals run through the machine too.
#[derive(Default)]
struct ServerApp;

impl App<server::Connection> for ServerApp {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event) {
        use server::Event;
        let answer = match &event {
            Event::Rcpt { to, .. } if format!("{to:?}").contains("nobody@") => {
                conn.reject(Reply::mailbox_unavailable())
            }
            Event::Authenticate { credentials, .. } => match credentials {
                Credentials::Password(p) if p.password.expose() == PASSWORD.as_bytes() => {
                    conn.accept()
                }
                _ => conn.reject(Reply::auth_failed()),
            },
            Event::MessageEnd { .. } => conn.accept_message("Q1"),
            event if event.is_decision() => conn.accept(),
            _ => Ok(()),
        };
        answer.expect("the application's answer fits the decision");
    }

    fn describe(&self, event: &server::Event) -> Seen {
        match event {
            server::Event::MessageData(data) => Seen::Data(data.to_vec()),
            other => Seen::Line(format!("{other:?}")),
        }
    }
}

/// A client application that sends `messages`, then quits.
struct ClientApp {
    messages: Vec<(Envelope, Vec<u8>)>,
    quit: bool,
}

impl ClientApp {
    fn new(count: usize) -> Self {
        let from = ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap());
        let to = |who: &str| ForwardPath::Mailbox(Mailbox::parse(who.to_owned()).unwrap());
        let messages = (0..count)
            .map(|i| {
                let envelope = Envelope::new(
                    from.clone(),
                    vec![to("joe@example.org"), to("nobody@example.org")],
                );
                let body = format!("Subject: {i}\r\n\r\n.leading dot\r\nline\r\n").into_bytes();
                (envelope, body)
            })
            .rev()
            .collect();
        ClientApp {
            messages,
            quit: false,
        }
    }
}

impl App<client::Connection> for ClientApp {
    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event) {
        if let client::Event::SendBody = event {
            let (_, body) = self.messages.pop().expect("a body for the transaction");
            conn.send_body_chunk(Bytes::from(body)).unwrap();
            conn.end_body().unwrap();
        }
    }

    fn on_await(&mut self, conn: &mut client::Connection) -> bool {
        if let Some((envelope, _)) = self.messages.last() {
            if conn.is_ready() {
                conn.send_mail(envelope.clone()).unwrap();
                return true;
            }
        }
        if !self.quit {
            self.quit = true;
            conn.quit().unwrap();
            return true;
        }
        false
    }

    fn describe(&self, event: &client::Event) -> Seen {
        Seen::Line(format!("{event:?}"))
    }
}

fn server_config(tls: TlsMode) -> server::Config {
    let mut config = server::Config::new(Domain::new(&b"mx.example"[..]).unwrap());
    config.tls = tls;
    config.sasl_mechanisms = vec![Mechanism::Plain, Mechanism::Login];
    config
}

fn client_config(tls: TlsMode) -> client::Config {
    client::Config::new(client::EhloName::new(&b"client.example"[..]).unwrap())
        .with_tls(tls)
        .with_password("jane", PASSWORD)
}

fn secrets() -> Secrets {
    Secrets::new(&[
        PASSWORD.as_bytes(),
        b"\0jane\0s3cret-pw",
        b"jane\0s3cret-pw",
    ])
}

fn assert_conforms(outcome: &Outcome) {
    assert!(
        outcome.breaches.is_empty(),
        "breaches: {:#?}",
        outcome.breaches
    );
}

fn pair(tls: (TlsMode, TlsMode), messages: usize, seed: u64) -> (Outcome, Outcome) {
    let mut client = client::Connection::new(client_config(tls.0));
    let mut server = server::Connection::new(server_config(tls.1));
    run_pair(
        (&mut client, &mut ClientApp::new(messages)),
        (&mut server, &mut ServerApp),
        seed,
        &secrets(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any split of the bytes in flight: the same events, the same bytes, one `Closed(Quit)`
    /// on each side, and no breach of the contract (STARTTLS, AUTH and two transactions on
    /// the way).
    #[test]
    fn client_and_server_conform_at_any_split(seed in any::<u64>(), messages in 0usize..3) {
        let tls = (TlsMode::Opportunistic, TlsMode::Opportunistic);
        let reference = pair(tls, messages, 1);
        let (client, server) = pair(tls, messages, seed);
        assert_conforms(&client);
        assert_conforms(&server);
        prop_assert_eq!(client.closed, Some(CloseReason::Quit));
        prop_assert_eq!(server.closed, Some(CloseReason::Quit));
        prop_assert_eq!(&client, &reference.0);
        prop_assert_eq!(&server, &reference.1);
    }
}

#[test]
fn a_session_delivers_through_starttls_and_auth() {
    let (client, server) = pair((TlsMode::Required, TlsMode::Opportunistic), 1, 7);
    assert_conforms(&client);
    assert_conforms(&server);
    let lines = server.event_lines();
    assert!(
        lines.iter().any(|l| l.starts_with("Authenticate")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "data Subject: 0\\r\\n\\r\\n.leading dot\\r\\nline\\r\\n"),
        "{lines:#?}"
    );
    assert!(
        client
            .event_lines()
            .iter()
            .any(|l| l.starts_with("MessageAccepted"))
    );
}

/// A whole pipelined conversation from a client, fed whole, in random chunks, and one octet
/// at a time: the same outcome each time.
#[test]
fn the_server_gives_the_same_outcome_at_any_split() {
    let input = b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n\
        RCPT TO:<nobody@y.example>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nNOOP\r\n\
        BDAT 5 LAST\r\nRSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\n\
        BDAT 6 LAST\r\nhello!QUIT\r\n";
    let run_with = |chunks: &[usize]| {
        let mut conn = server::Connection::new(server_config(TlsMode::Disabled));
        run(
            &mut conn,
            &mut ServerApp,
            input,
            chunks,
            &Secrets::default(),
        )
    };
    let whole = run_with(&[input.len()]);
    assert_conforms(&whole);
    assert_eq!(whole.closed, Some(CloseReason::Quit));
    assert!(
        whole.sent_text().ends_with("221 2.0.0 Bye\r\n"),
        "{}",
        whole.sent_text()
    );
    for chunks in [&[1][..], &[2, 7, 1, 30], &[13, 1, 1, 64]] {
        assert_eq!(run_with(chunks), whole, "chunks {chunks:?}");
    }
}

/// Contract rule 3 (ARCHITECTURE.md security invariant 9): a command trickled one octet per
/// tick cannot move the deadline; the server gives up by the first one with 421.
#[test]
fn a_trickled_command_cannot_extend_the_server_wait() {
    let mut conn = server::Connection::new(server_config(TlsMode::Disabled));
    let timeout = conn.config().command_timeout;
    let trickled = trickle(
        &mut conn,
        &mut ServerApp,
        b"EHLO c.example\r\n",
        b"NOOP xxxxxxxx",
        timeout / 20,
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(
        trickled.ended_at <= trickled.first_deadline.unwrap() + TICK_SLACK,
        "{trickled:?}"
    );
    assert!(
        trickled
            .outcome
            .sent_text()
            .ends_with("421 4.4.2 mx.example Error: timeout exceeded\r\n")
            || trickled.outcome.sent_text().contains("\r\n421 "),
        "{}",
        trickled.outcome.sent_text()
    );
}

/// The same inside DATA: content trickled well below a data block per timeout ends the
/// session, and the message is aborted, never delivered (security invariant 5).
#[test]
fn trickled_message_content_cannot_extend_the_server_wait() {
    let mut conn = server::Connection::new(server_config(TlsMode::Disabled));
    let timeout = conn.config().data_timeout;
    let prefix = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n";
    let trickled = trickle(
        &mut conn,
        &mut ServerApp,
        prefix,
        b"slow body ",
        timeout / 50,
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(
        trickled.ended_at <= trickled.first_deadline.unwrap() + TICK_SLACK,
        "{trickled:?}"
    );
    let lines = trickled.outcome.event_lines();
    assert!(
        lines.last().unwrap().contains("MessageAborted"),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("MessageEnd")),
        "{lines:#?}"
    );
}

/// A reply trickled to the client: the same rule.
#[test]
fn a_trickled_reply_cannot_extend_the_client_wait() {
    let mut conn = client::Connection::new(client_config(TlsMode::Disabled));
    let trickled = trickle(
        &mut conn,
        &mut ClientApp::new(0),
        b"220 mx.example ESMTP\r\n",
        b"250-mx.example still talking ",
        Duration::from_secs(7),
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(
        trickled.ended_at <= trickled.first_deadline.unwrap() + TICK_SLACK,
        "{trickled:?}"
    );
}

/// Regression: a client with the default TLS mode (opportunistic) and a server offering
/// STARTTLS once left an adapter that did not act on the upgrade waiting forever. The upgrade
/// is a wait with a deadline like any other: an adapter that never completes it times out.
#[test]
fn an_upgrade_nobody_completes_times_out() {
    let mut conn = client::Connection::new(client::Config::default());
    assert_eq!(conn.config().tls, TlsMode::Opportunistic);
    let server = b"220 mx.example ESMTP\r\n250-mx.example\r\n250 STARTTLS\r\n220 2.0.0 Ready\r\n";
    let trickled = trickle(
        &mut conn,
        &mut ClientApp::new(1),
        server,
        b"",
        Duration::from_secs(1),
    );
    assert_conforms(&trickled.outcome);
    assert_eq!(trickled.outcome.closed, Some(CloseReason::Timeout));
    assert!(trickled.ended_at <= trickled.first_deadline.unwrap() + Duration::from_secs(1));
    assert!(trickled.outcome.waits.last().unwrap().1 <= Duration::from_secs(120));
}

/// Security invariant 10: neither the password nor the base64 it travels in shows in the
/// `Debug` of the server machine or its events, at any point of PLAIN and LOGIN exchanges,
/// failed and successful.
#[test]
fn the_server_debug_shows_no_credentials() {
    use base64::Engine as _;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let sessions = [
        format!(
            "EHLO c\r\nAUTH PLAIN {}\r\nQUIT\r\n",
            b64(b"\0jane\0s3cret-pw")
        ),
        format!(
            "EHLO c\r\nAUTH PLAIN\r\n{}\r\nAUTH LOGIN\r\n{}\r\n{}\r\nQUIT\r\n",
            b64(b"\0jane\0wrong-s3cret-pw"),
            b64(b"jane"),
            b64(PASSWORD.as_bytes()),
        ),
    ];
    let secrets = Secrets::new(&[
        PASSWORD.as_bytes(),
        b"\0jane\0s3cret-pw",
        b"wrong-s3cret-pw",
    ]);
    for input in &sessions {
        for chunks in [&[input.len()][..], &[1], &[5, 3]] {
            let mut conn = server::Connection::new(server_config(TlsMode::Implicit));
            let outcome = run(
                &mut conn,
                &mut ServerApp,
                input.as_bytes(),
                chunks,
                &secrets,
            );
            assert_conforms(&outcome);
            assert_eq!(outcome.closed, Some(CloseReason::Quit));
            assert_eq!(
                outcome.sent_text().matches("\r\n235 ").count(),
                1,
                "{}",
                outcome.sent_text()
            );
        }
    }
}

/// The same for XOAUTH2 (RFC 7628's `user=...\x01auth=Bearer ...` message): the bearer
/// token, the whole message and its base64 stay out of every `Debug`; the application refuses
/// the token (535), with the initial response on the AUTH line and as a continuation.
#[test]
fn the_server_debug_shows_no_oauth_token() {
    use base64::Engine as _;
    let message = b"user=jane@example.com\x01auth=Bearer ya29.s3cret-token\x01\x01";
    let b64 = base64::engine::general_purpose::STANDARD.encode(message);
    let sessions = [
        format!("EHLO c\r\nAUTH XOAUTH2 {b64}\r\nQUIT\r\n"),
        format!("EHLO c\r\nAUTH XOAUTH2\r\n{b64}\r\nQUIT\r\n"),
    ];
    let secrets = Secrets::new(&[b"ya29.s3cret-token", message]);
    for input in &sessions {
        for chunks in [&[input.len()][..], &[1], &[5, 3]] {
            let mut config = server_config(TlsMode::Implicit);
            config.sasl_mechanisms = vec![Mechanism::XOAuth2];
            let mut conn = server::Connection::new(config);
            let outcome = run(
                &mut conn,
                &mut ServerApp,
                input.as_bytes(),
                chunks,
                &secrets,
            );
            assert_conforms(&outcome);
            assert_eq!(outcome.closed, Some(CloseReason::Quit));
            assert!(
                outcome
                    .event_lines()
                    .iter()
                    .any(|l| l.starts_with("Authenticate")),
                "{:#?}",
                outcome.event_lines()
            );
            assert!(
                outcome.sent_text().contains("\r\n535 "),
                "{}",
                outcome.sent_text()
            );
        }
    }
}

/// The client side of the same invariant, over a whole session with AUTH.
#[test]
fn the_client_debug_shows_no_credentials() {
    let (client, server) = pair((TlsMode::Implicit, TlsMode::Implicit), 1, 3);
    assert_conforms(&client);
    assert_conforms(&server);
}
