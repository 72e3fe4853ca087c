//! The security invariants of ARCHITECTURE.md, as the client session keeps them, each in a
//! test named after it.

use bytes::Bytes;
use proptest::prelude::*;
use smtp_proto::client::{Config, Connection, EhloName, Envelope, Error, Event, ProtocolViolation};
use smtp_proto::{
    CloseReason, ForwardPath, Mailbox, Next, ReplyError, ReversePath, SaslError, TlsMode,
};

fn config() -> Config {
    Config::new(EhloName::new("client.example").unwrap())
}

/// Everything the client wrote and every event, after feeding `server`.
fn exchange(conn: &mut Connection, server: &[u8]) -> (Vec<u8>, Vec<Event>) {
    conn.receive(server);
    drain(conn)
}

fn drain(conn: &mut Connection) -> (Vec<u8>, Vec<Event>) {
    let (out, events, _) = drive(conn);
    (out, events)
}

/// The canonical loop, one `match` on `poll()`, until the machine waits: what it wrote, the
/// events, and how it waits (`Read`, `UpgradeTls`, `AwaitApp` or `Closed`).
fn drive(conn: &mut Connection) -> (Vec<u8>, Vec<Event>, Next<Event>) {
    let mut events = Vec::new();
    let mut out = Vec::new();
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => out.extend_from_slice(&bytes),
            Next::Event(event) => events.push(event),
            wait => return (out, events, wait),
        }
    }
}

fn envelope() -> Envelope {
    Envelope::new(
        ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap()),
        vec![ForwardPath::Mailbox(
            Mailbox::parse("joe@example.org").unwrap(),
        )],
    )
}

/// A session at the body of one message, with the commands and replies consumed.
fn at_body(config: Config) -> Connection {
    let mut conn = Connection::new(config);
    exchange(&mut conn, b"220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n");
    conn.send_mail(envelope()).unwrap();
    drain(&mut conn);
    let (_, events) = exchange(&mut conn, b"250 OK\r\n250 OK\r\n354 Go\r\n");
    assert_eq!(events.last(), Some(&Event::SendBody));
    assert!(events.last().unwrap().is_decision());
    conn
}

proptest! {
    /// Invariant 1: whatever the body holds (bare CR, bare LF, lone dots, split anywhere),
    /// the client's DATA stream holds CRLF "." CRLF only at its very end, and no bare CR or
    /// LF at all (so no server can be made to see an early end: SMTP smuggling).
    #[test]
    fn invariant_1_end_of_data_is_only_the_final_crlf_dot_crlf(
        pieces in prop::collection::vec(
            prop::collection::vec(prop::sample::select(b"\r\n.ab\x00\xff".to_vec()), 0..20),
            0..10,
        ),
    ) {
        let mut conn = at_body(config());
        for piece in &pieces {
            conn.send_body_chunk(Bytes::from(piece.clone())).unwrap();
        }
        conn.end_body().unwrap();
        let (out, _) = drain(&mut conn);
        let stream = [b"\r\n".as_slice(), &out].concat();
        let ends: Vec<usize> = stream.windows(5).enumerate()
            .filter(|(_, w)| *w == b"\r\n.\r\n").map(|(i, _)| i).collect();
        prop_assert_eq!(ends, vec![stream.len() - 5]);
        for (i, &b) in out.iter().enumerate() {
            if b == b'\r' { prop_assert_eq!(out.get(i + 1), Some(&b'\n')); }
            if b == b'\n' { prop_assert!(i > 0 && out[i - 1] == b'\r'); }
        }
    }
}

/// Invariant 2: after the 220 to STARTTLS, replies the server (or an attacker) sent in
/// plaintext are dropped, never read as answers to what the client sends over TLS.
#[test]
fn invariant_2_plaintext_after_starttls_is_dropped() {
    let mut conn = Connection::new(config().with_tls(TlsMode::Required));
    exchange(&mut conn, b"220 mx ESMTP\r\n250-mx\r\n250 STARTTLS\r\n");
    conn.receive(b"220 Go ahead\r\n250-evil\r\n250 AUTH PLAIN\r\n");
    let (out, events, next) = drive(&mut conn);
    assert_eq!(out, b"");
    assert_eq!(events, []);
    assert!(matches!(next, Next::UpgradeTls(_)), "{next:?}");
    // More plaintext before the handshake completes is dropped too.
    conn.receive(b"250 PIPELINING\r\n");
    let (out, events, again) = drive(&mut conn);
    assert!(out.is_empty() && events.is_empty());
    assert_eq!(again, next, "the same wait: the bytes completed nothing");
    conn.tls_established().unwrap();
    assert!(conn.is_secure());
    assert!(conn.capabilities().is_none(), "old capabilities forgotten");
    let (out, events) = drain(&mut conn);
    assert_eq!(out, b"EHLO client.example\r\n");
    assert!(
        events.is_empty(),
        "nothing was taken as the EHLO reply: {events:?}"
    );
    let (_, events) = exchange(&mut conn, b"250-mx\r\n250 SIZE 100\r\n");
    let Event::Capabilities(caps) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(caps.size(), Some(100));
}

/// Invariant 3: a reply line without end, a reply with endless continuation lines, and input
/// the application does not consume are all bounded; each ends the session, never grows.
#[test]
fn invariant_3_reply_buffers_are_bounded() {
    // A line that never ends.
    let mut conn = Connection::new(config());
    let mut events = Vec::new();
    for _ in 0..1000 {
        conn.receive(&[b'2'; 100]);
        events.extend(drain(&mut conn).1);
        if conn.is_closed() {
            break;
        }
    }
    assert_eq!(
        events,
        [Event::Failed(Error::ProtocolViolation(
            ProtocolViolation::Malformed(ReplyError::LineTooLong { limit: 512 })
        ))]
    );
    assert_eq!(conn.poll(), Next::Closed(CloseReason::ProtocolViolation));

    // Continuation lines without a last line.
    let mut conn = Connection::new(config());
    for _ in 0..200 {
        conn.receive(b"220-more\r\n");
    }
    let (_, events) = drain(&mut conn);
    assert_eq!(
        events[0],
        Event::Failed(Error::ProtocolViolation(ProtocolViolation::Malformed(
            ReplyError::TooManyLines { limit: 128 }
        )))
    );

    // Pipelined replies given to an adapter that never polls: `receive` only buffers, up to
    // a hard bound; past it the session fails at the next poll, having processed nothing of
    // what came after the bound.
    let mut conn = Connection::new(config().with_tls(TlsMode::Disabled));
    exchange(&mut conn, b"220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n");
    let recipients = (0..20_000)
        .map(|i| ForwardPath::Mailbox(Mailbox::parse(format!("r{i}@example.org")).unwrap()))
        .collect();
    conn.send_mail(Envelope::new(ReversePath::Null, recipients))
        .unwrap();
    drain(&mut conn);
    conn.receive(b"250 OK\r\n");
    for _ in 0..20_000 {
        conn.receive(b"250 2.1.5 OK\r\n");
    }
    let (out, events, next) = drive(&mut conn);
    assert!(out.is_empty(), "nothing more is written");
    assert_eq!(
        events,
        [Event::Failed(Error::ProtocolViolation(
            ProtocolViolation::InputOverflow
        ))]
    );
    assert_eq!(next, Next::Closed(CloseReason::InputOverflow));

    // Within the bound, everything buffered is processed before the machine asks to read.
    let mut conn = Connection::new(config().with_tls(TlsMode::Disabled));
    exchange(&mut conn, b"220 mx ESMTP\r\n250-mx\r\n250 PIPELINING\r\n");
    let recipients = (0..2_000)
        .map(|i| ForwardPath::Mailbox(Mailbox::parse(format!("r{i}@example.org")).unwrap()))
        .collect();
    conn.send_mail(Envelope::new(ReversePath::Null, recipients))
        .unwrap();
    drain(&mut conn);
    conn.receive(b"250 OK\r\n");
    for _ in 0..2_000 {
        conn.receive(b"250 2.1.5 OK\r\n");
    }
    let (_, events, next) = drive(&mut conn);
    assert_eq!(events.len(), 2_000);
    assert!(matches!(next, Next::Read(_)), "{next:?}");
}

/// Invariant 4: no input panics the client, whatever the configuration and whatever the
/// application does in between (the fuzz target `smtp_client` runs the same longer).
#[test]
fn invariant_4_no_panic_on_arbitrary_server_bytes() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    let replies = prop::sample::select(vec![
        &b"220 mx\r\n"[..],
        b"250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n",
        b"250 OK\r\n",
        b"354 go\r\n",
        b"334 VXNlcm5hbWU6\r\n",
        b"334 !!!\r\n",
        b"235 ok\r\n",
        b"220 tls\r\n",
        b"421 bye\r\n",
        b"550 no\r\n",
        b"502 no\r\n",
        b"221 bye\r\n",
        b"2",
        b"\r\n",
        b"\n",
        b"\x00",
    ]);
    let input = prop::collection::vec(
        (
            prop_oneof![
                3 => replies.prop_map(<[u8]>::to_vec),
                1 => prop::collection::vec(any::<u8>(), 0..40),
            ],
            0u8..10,
        ),
        0..60,
    );
    let policy = prop::sample::select(vec![
        TlsMode::Disabled,
        TlsMode::Opportunistic,
        TlsMode::Required,
        TlsMode::Implicit,
    ]);
    runner
        .run(
            &(input, policy, any::<bool>()),
            |(input, policy, pipelining)| {
                let mut conn = Connection::new(
                    config()
                        .with_tls(policy)
                        .with_pipelining(pipelining)
                        .with_password("u", "p")
                        .with_plaintext_auth_without_tls(true),
                );
                // Once closed, the machine says Closed, the same, and nothing else ever.
                let mut closed: Option<CloseReason> = None;
                let mut check = |conn: &mut Connection| -> Result<(), TestCaseError> {
                    let (out, events, next) = drive(conn);
                    match (closed, &next) {
                        (Some(reason), _) => {
                            prop_assert!(out.is_empty() && events.is_empty());
                            prop_assert_eq!(&next, &Next::Closed(reason));
                        }
                        (None, Next::Closed(reason)) => closed = Some(*reason),
                        (None, Next::Read(wait) | Next::UpgradeTls(wait)) => {
                            prop_assert!(!wait.timeout().is_zero());
                            prop_assert!(wait.timeout() <= std::time::Duration::from_secs(3600));
                        }
                        (None, _) => {}
                    }
                    Ok(())
                };
                for (bytes, action) in input {
                    conn.receive(&bytes);
                    check(&mut conn)?;
                    let _ = match action {
                        0 => conn.send_mail(envelope()).map_err(|_| ()),
                        1 => conn
                            .send_body_chunk(Bytes::from_static(b"x\n.\r"))
                            .map_err(|_| ()),
                        2 => conn.end_body().map_err(|_| ()),
                        3 => conn.quit().map_err(|_| ()),
                        4 => conn.reset().map_err(|_| ()),
                        5 => conn.tls_established().map_err(|_| ()),
                        6 => {
                            conn.handle_timeout();
                            Ok(())
                        }
                        _ => Ok(()),
                    };
                    check(&mut conn)?;
                }
                conn.handle_close();
                check(&mut conn)?;
                prop_assert!(conn.is_closed());
                prop_assert!(closed.is_some());
                Ok(())
            },
        )
        .unwrap();
}

/// Invariant 7: PLAIN, LOGIN (and XOAUTH2) credentials never travel before TLS unless the
/// config says so; the session fails with a typed error and sends only QUIT.
#[test]
fn invariant_7_plaintext_auth_is_not_sent_before_tls() {
    let ehlo = b"220 mx ESMTP\r\n250-mx\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n";
    for policy in [TlsMode::Disabled, TlsMode::Opportunistic] {
        for config in [
            config().with_tls(policy).with_password("jane", "secret"),
            config().with_tls(policy).with_oauth2("jane", "token"),
        ] {
            let mut conn = Connection::new(config);
            let (out, events) = exchange(&mut conn, ehlo);
            assert_eq!(out, b"EHLO client.example\r\nQUIT\r\n");
            assert!(events.contains(&Event::Failed(Error::PlaintextAuthRefused)));
        }
    }
    // STARTTLS refused, opportunistic: still no credentials in the clear.
    let mut conn = Connection::new(config().with_password("jane", "secret"));
    exchange(
        &mut conn,
        b"220 mx\r\n250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n",
    );
    let (out, events) = exchange(&mut conn, b"454 No TLS now\r\n");
    assert_eq!(out, b"QUIT\r\n");
    assert!(events.contains(&Event::Failed(Error::PlaintextAuthRefused)));
    // Allowed by the config: sent.
    let mut conn = Connection::new(
        config()
            .with_tls(TlsMode::Disabled)
            .with_password("jane", "secret")
            .with_plaintext_auth_without_tls(true),
    );
    let (out, _) = exchange(&mut conn, ehlo);
    assert_eq!(
        out,
        b"EHLO client.example\r\nAUTH PLAIN AGphbmUAc2VjcmV0\r\n"
    );
}

/// Invariant 10: the `Debug` of the machine never shows the password or its base64, not
/// even while the AUTH line carrying it waits to be transmitted.
#[test]
fn invariant_10_debug_shows_no_credentials() {
    let mut conn = Connection::new(
        config()
            .with_tls(TlsMode::Implicit)
            .with_password("jane", "tanstaafl"),
    );
    conn.receive(b"220 mx ESMTP\r\n");
    let _ = drive(&mut conn);
    conn.receive(b"250-mx\r\n250 AUTH PLAIN\r\n");
    // Process the EHLO reply; the AUTH line is queued, not yet handed out.
    let next = conn.poll();
    assert!(
        matches!(next, Next::Event(Event::Capabilities(_))),
        "{next:?}"
    );
    assert!(conn.pending_transmit() > 0);
    let debug = format!("{conn:?}");
    assert!(
        !debug.contains("tanstaafl") && !debug.contains("AGphbmUAdGFuc3RhYWZs"),
        "{debug}"
    );
}

#[test]
fn connection_stays_small() {
    let size = std::mem::size_of::<Connection>();
    assert!(size <= 1024, "Connection is {size} octets");
}

/// RFC 6531 section 3.7.1: EHLO goes out before the client knows about SMTPUTF8, so its name
/// is ASCII (A-labels). A name with U-labels cannot make a configuration at all.
#[test]
fn a_non_ascii_ehlo_name_cannot_be_configured() {
    assert_eq!(
        EhloName::new("bücher.example"),
        Err(smtp_proto::AddressError::NonAscii)
    );
    // A `Domain` may hold U-labels (for SMTPUTF8 addresses); an `EhloName` may not.
    let domain = smtp_proto::Domain::new("bücher.example").unwrap();
    assert_eq!(
        EhloName::try_from(domain),
        Err(smtp_proto::AddressError::NonAscii)
    );
    let name = EhloName::new("xn--bcher-kva.example").unwrap();
    let mut conn = Connection::new(config().with_ehlo_name(name));
    let (out, _) = exchange(&mut conn, b"220 mx ESMTP\r\n");
    assert_eq!(out, b"EHLO xn--bcher-kva.example\r\n");
}

/// ARCHITECTURE security invariant 11: a PLAIN field holding NUL would say another field
/// (here an authorization identity); such credentials are never sent.
#[test]
fn plain_credentials_with_nul_are_never_sent() {
    let mut conn = Connection::new(
        config()
            .with_tls(TlsMode::Disabled)
            .with_plaintext_auth_without_tls(true)
            .with_sasl_mechanisms([smtp_proto::Mechanism::Plain])
            .with_password("jane\0admin", "secret"),
    );
    let (out, events) = exchange(&mut conn, b"220 mx ESMTP\r\n250-mx\r\n250 AUTH PLAIN\r\n");
    assert!(
        !out.windows(4).any(|w| w == b"AUTH"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        events.iter().any(|event| matches!(
            event,
            Event::Failed(Error::UnusableCredentials(SaslError::ForbiddenOctet {
                field: "PLAIN authcid",
                octet: 0
            }))
        )),
        "{events:?}"
    );
}

/// A failure is reported once: when the QUIT sent after it goes unanswered (or the
/// connection drops, or a bad reply comes), the session ends as that failure, without a
/// second `Failed` (found by the `smtp_client` fuzz target).
#[test]
fn a_failure_is_reported_once_even_when_its_quit_goes_wrong() {
    for end in ["timeout", "close", "garbage"] {
        let mut conn = Connection::new(config());
        let (out, events) = exchange(&mut conn, b"450 busy, try later\r\n");
        assert_eq!(out, b"QUIT\r\n");
        assert!(
            matches!(
                events.as_slice(),
                [Event::Failed(Error::GreetingRejected(_))]
            ),
            "{events:?}"
        );
        match end {
            "timeout" => conn.handle_timeout(),
            "close" => conn.handle_close(),
            _ => conn.receive(b"\x00\x01 not a reply\r\n"),
        }
        let (out, events, rest) = drive(&mut conn);
        assert!(out.is_empty(), "{end}: {out:?}");
        assert!(events.is_empty(), "{end}: {events:?}");
        assert_eq!(rest, Next::Closed(CloseReason::Failed), "{end}");
    }
}
