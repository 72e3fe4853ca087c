//! One test per security invariant of ARCHITECTURE.md that applies to the SMTP server (1-5,
//! 7, 9), named after it, plus the application-misuse errors.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use smtp_proto::server::{AbortReason, BareLineEnding, Config, Connection, Event, UsageError};
use smtp_proto::{CloseReason, Mechanism, Next, Reply, TlsMode, Wait, limits};

/// An application that accepts everything; returns the events (data coalesced) and all
/// output.
fn run_accepting(conn: &mut Connection, input: &[u8], chunk: usize) -> (Vec<String>, String) {
    let mut events = Vec::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        conn.receive(piece);
        drive(conn, &mut events, &mut out);
    }
    (events, String::from_utf8_lossy(&out).into_owned())
}

/// [`until_wait`], when how the machine waits does not matter.
fn drive(conn: &mut Connection, events: &mut Vec<String>, out: &mut Vec<u8>) {
    let _ = until_wait(conn, events, out);
}

/// The canonical loop, one `match` on `poll()`, until the machine waits; gives how it waits.
/// An application that accepts every decision at once never sees `AwaitApp`.
fn until_wait(conn: &mut Connection, events: &mut Vec<String>, out: &mut Vec<u8>) -> Next<Event> {
    loop {
        let event = match conn.poll() {
            Next::Transmit(bytes) => {
                out.extend_from_slice(&bytes);
                continue;
            }
            Next::Event(event) => event,
            Next::AwaitApp => panic!("AwaitApp with every decision answered"),
            Next::Read(wait) | Next::UpgradeTls(wait)
                if wait.timeout().is_zero() || wait.timeout() > Duration::from_secs(3600) =>
            {
                panic!("a wait without a usable deadline: {wait:?}")
            }
            wait => return wait,
        };
        match &event {
            Event::MessageData(data) => {
                let text = String::from_utf8_lossy(data).into_owned();
                match events.last_mut() {
                    Some(last) if last.starts_with("data:") => last.push_str(&text),
                    _ => events.push(format!("data:{text}")),
                }
            }
            Event::MessageEnd { size, .. } => {
                events.push(format!("end:{size}"));
                conn.accept().unwrap();
            }
            Event::MessageAborted { reason } => events.push(format!("aborted:{reason:?}")),
            Event::Mail { from, .. } => {
                events.push(format!("mail:{from:?}"));
                conn.accept().unwrap();
            }
            other => {
                events.push(format!("{other:?}"));
                if other.is_decision() {
                    conn.accept().unwrap();
                }
            }
        }
    }
}

/// The wait `poll` says now, if it says `Read`.
fn read_wait(conn: &mut Connection) -> Option<Wait> {
    match conn.poll() {
        Next::Read(wait) => Some(wait),
        _ => None,
    }
}

const ENVELOPE: &[u8] =
    b"EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n";

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn invariant_1_end_of_data_is_exactly_crlf_dot_crlf() {
    for smuggle in [
        &b"\n.\n"[..],
        b"\r.\r",
        b"\n.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
        b"\r.\r\n",
    ] {
        for policy in [BareLineEnding::Reject, BareLineEnding::Normalize] {
            for chunk in [1, 3, 1000] {
                let mut input = ENVELOPE.to_vec();
                input.extend_from_slice(b"Subject: x\r\n\r\nbefore");
                input.extend_from_slice(smuggle);
                input.extend_from_slice(b"MAIL FROM:<evil@x.example>\r\nRCPT TO:<v@mx.example>\r\nDATA\r\nafter\r\n.\r\nNOOP\r\n");
                let mut conn = Connection::new(Config::default().with_bare_line_ending(policy));
                let (events, out) = run_accepting(&mut conn, &input, chunk);
                // One MAIL (the real one), one message outcome.
                let mails = events.iter().filter(|e| e.starts_with("mail:")).count();
                assert_eq!(mails, 1, "{smuggle:?} {policy:?}: {events:?}");
                let ends = events.iter().filter(|e| e.starts_with("end:")).count();
                let aborts = events.iter().filter(|e| e.starts_with("aborted:")).count();
                assert_eq!(ends + aborts, 1, "{smuggle:?} {policy:?}: {events:?}");
                assert_eq!(count(&out, "354 "), 1, "{out}");
                match policy {
                    BareLineEnding::Reject => {
                        assert_eq!(events.last().unwrap(), "aborted:BareLineEnding");
                        assert!(out.contains("550 5.6.11 "), "{out}");
                    }
                    BareLineEnding::Normalize => {
                        let data = events.iter().find(|e| e.starts_with("data:")).unwrap();
                        assert!(data.ends_with("after\r\n"), "{data:?}");
                        assert!(!data.contains('\n') || !data.replace("\r\n", "").contains('\n'));
                    }
                }
                // The NOOP after the real end is a command again.
                assert!(out.ends_with("250 2.0.0 OK\r\n"), "{out}");
            }
        }
    }
}

proptest! {
    #[test]
    fn invariant_1_no_body_ends_before_its_terminator(
        pieces in proptest::collection::vec(
            prop_oneof![Just("\r"), Just("\n"), Just("."), Just("a"), Just("\r\n"), Just("\r\n.")],
            0..40,
        ),
        chunk in 1usize..16,
    ) {
        let body: String = pieces.concat();
        // Only bodies in which CRLF.CRLF (or a first line ".") does not occur.
        prop_assume!(!format!("\r\n{body}").contains("\r\n.\r\n"));
        let mut input = ENVELOPE.to_vec();
        input.extend_from_slice(body.as_bytes());
        let mut conn = Connection::new(Config::default().with_bare_line_ending(BareLineEnding::Normalize));
        let (events, _) = run_accepting(&mut conn, &input, chunk);
        prop_assert!(!events.iter().any(|e| e.starts_with("end:")), "{:?}", events);
        let (events, _) = run_accepting(&mut conn, b"\r\n.\r\n", chunk);
        prop_assert_eq!(events.iter().filter(|e| e.starts_with("end:")).count(), 1);
    }
}

#[test]
fn invariant_2_plaintext_after_starttls_is_dropped() {
    let config = Config::default().with_tls(TlsMode::Opportunistic);
    let mut conn = Connection::new(config);
    let mut events = Vec::new();
    let mut out = Vec::new();
    conn.receive(b"EHLO c.example\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\n");
    let upgrade = until_wait(&mut conn, &mut events, &mut out);
    assert!(matches!(upgrade, Next::UpgradeTls(_)), "{upgrade:?}");
    // More plain text arrives before the handshake is done: dropped as well, and it does not
    // move the handshake's deadline.
    conn.receive(b"RCPT TO:<v@mx.example>\r\n");
    assert_eq!(
        format!("{:?}", until_wait(&mut conn, &mut events, &mut out)),
        format!("{upgrade:?}")
    );
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.ends_with("220 2.0.0 Ready to start TLS\r\n"), "{text}");
    assert!(events.is_empty(), "{events:?}");
    conn.tls_established().unwrap();
    assert!(conn.is_secure());
    assert_eq!(conn.buffered_input(), 0);
    out.clear();
    drive(&mut conn, &mut events, &mut out);
    assert!(out.is_empty(), "a discarded command was answered");
    // RFC 3207 section 4.2: the EHLO before TLS is forgotten.
    conn.receive(b"MAIL FROM:<a@c.example>\r\n");
    drive(&mut conn, &mut events, &mut out);
    assert_eq!(out, b"503 5.5.1 Send EHLO or HELO first\r\n");
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn invariant_3_every_buffer_is_bounded() {
    // An endless command line: never buffered beyond the framing limit.
    let mut conn = Connection::new(Config::default());
    let mut events = Vec::new();
    let mut out = Vec::new();
    for _ in 0..2000 {
        conn.receive(&[b'x'; 1000]);
        drive(&mut conn, &mut events, &mut out);
        assert!(
            conn.buffered_input() <= limits::AUTH_LINE,
            "{}",
            conn.buffered_input()
        );
    }
    conn.receive(b"\r\nNOOP\r\n");
    drive(&mut conn, &mut events, &mut out);
    assert!(String::from_utf8_lossy(&out).ends_with("500 5.5.6 Line too long\r\n250 2.0.0 OK\r\n"));

    // An adapter that never polls: `receive` only buffers, up to the cap; past it, the next
    // poll answers 421 and closes, having executed none of the buffered commands.
    let mut conn = Connection::new(Config::default().with_max_buffered_input(1000));
    for _ in 0..400 {
        conn.receive(b"NOOP\r\n");
        assert!(conn.buffered_input() <= 1000);
    }
    let mut out = Vec::new();
    let end = until_wait(&mut conn, &mut Vec::new(), &mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "220 localhost ESMTP\r\n421 4.7.0 Too much unread input, closing connection\r\n"
    );
    assert!(
        matches!(end, Next::Closed(CloseReason::InputOverflow)),
        "{end:?}"
    );
    assert!(conn.is_closed());
    // Within the cap everything is served before the machine asks to read again.
    let mut conn = Connection::new(Config::default().with_max_buffered_input(1000));
    for _ in 0..100 {
        conn.receive(b"NOOP\r\n");
    }
    let mut out = Vec::new();
    let end = until_wait(&mut conn, &mut Vec::new(), &mut out);
    assert_eq!(
        count(&String::from_utf8_lossy(&out), "250 2.0.0 OK\r\n"),
        100
    );
    assert!(matches!(end, Next::Read(_)), "{end:?}");

    // A message over the size limit is drained, not buffered.
    let mut conn = Connection::new(Config::default().with_max_message_size(10_000));
    let (_, out) = run_accepting(&mut conn, ENVELOPE, 1000);
    assert!(out.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n"));
    let line = [b'y'; 998];
    let mut events = Vec::new();
    let mut out = Vec::new();
    for _ in 0..1000 {
        conn.receive(&line);
        conn.receive(b"\r\n");
        drive(&mut conn, &mut events, &mut out);
        assert!(conn.buffered_input() < 2000);
    }
    conn.receive(b".\r\n");
    drive(&mut conn, &mut events, &mut out);
    assert_eq!(events.last().unwrap(), "aborted:TooLarge");
    assert_eq!(out, b"552 5.3.4 Message size exceeds fixed maximum\r\n");

    // An AUTH response line longer than 12288 octets: 500 5.5.6 (RFC 4954 section 4).
    let config = Config::default()
        .with_tls(TlsMode::Implicit)
        .with_sasl_mechanisms([Mechanism::Login]);
    let mut conn = Connection::new(config);
    let mut input = b"EHLO c.example\r\nAUTH LOGIN\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'A', 13_000));
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let (_, out) = run_accepting(&mut conn, &input, 512);
    assert!(out.ends_with("334 VXNlcm5hbWU6\r\n500 5.5.6 Authentication exchange line is too long\r\n250 2.0.0 OK\r\n"), "{out}");

    // Recipients per transaction.
    let mut conn = Connection::new(Config::default().with_max_recipients(1));
    let input = b"EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<x@mx.example>\r\nRCPT TO:<y@mx.example>\r\n";
    let (_, out) = run_accepting(&mut conn, input, 7);
    assert!(out.ends_with("250 2.1.5 Recipient OK\r\n452 4.5.3 Too many recipients\r\n"));

    // Errors per session.
    let mut conn = Connection::new(Config::default().with_max_errors(2));
    let (_, out) = run_accepting(&mut conn, b"X\r\nY\r\nNOOP\r\n", 2);
    assert!(out.ends_with(
        "500 5.5.1 Command unrecognized\r\n421 4.7.0 Too many errors, closing connection\r\n"
    ));
    assert!(conn.is_closed());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn invariant_4_no_panic_on_any_input(
        input in proptest::collection::vec(any::<u8>(), 0..2000),
        prefix in 0usize..4,
        chunk in 1usize..300,
    ) {
        // Random bytes after a plausible prefix, so the deeper states are reached too.
        let prefixes: [&[u8]; 4] = [b"", b"EHLO c\r\n", ENVELOPE, b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 100\r\n"];
        let mut all = prefixes[prefix].to_vec();
        all.extend_from_slice(&input);
        let mut conn = Connection::new(Config::default().with_tls(TlsMode::Opportunistic));
        let (_, out) = run_accepting(&mut conn, &all, chunk);
        for line in out.split("\r\n") {
            prop_assert!(line.len() + 2 <= limits::REPLY_LINE);
        }
        prop_assert!(conn.buffered_input() <= conn.config().max_buffered_input);
    }
}

#[test]
fn invariant_4_no_crlf_injection_through_answers() {
    let mut conn = Connection::new(Config::default());
    conn.receive(
        b"EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n.\r\n",
    );
    loop {
        match conn.poll() {
            Next::Event(Event::MessageEnd { .. }) => break,
            Next::Event(event) if event.is_decision() => conn.accept().unwrap(),
            Next::Event(_) | Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        conn.accept_message("Q1\r\n250 forged"),
        Err(UsageError::InvalidQueueId)
    );
    assert_eq!(conn.accept_message(""), Err(UsageError::InvalidQueueId));
    conn.accept_message("Q1").unwrap();
}

#[test]
fn invariant_5_no_250_before_the_whole_message() {
    let mut conn = Connection::new(Config::default());
    let mut events = Vec::new();
    let mut out = Vec::new();
    conn.receive(ENVELOPE);
    drive(&mut conn, &mut events, &mut out);
    let before = out.len();
    // The body, then the terminator, byte by byte: no reply before MessageEnd is answered.
    for &b in b"Subject: x\r\n\r\nbody\r\n.\r" {
        conn.receive(&[b]);
        loop {
            match conn.poll() {
                Next::Event(Event::MessageData(_)) => {}
                Next::Read(_) => break,
                other => panic!("before the end of data: {other:?}"),
            }
        }
    }
    conn.receive(b"\n");
    let Next::Event(Event::MessageEnd { size, recipients }) = conn.poll() else {
        panic!("no end")
    };
    assert_eq!((size, recipients), (20, 1));
    let next = conn.poll();
    assert!(
        matches!(next, Next::AwaitApp),
        "replied before the application accepted: {next:?}"
    );
    conn.accept().unwrap();
    let Next::Transmit(reply) = conn.poll() else {
        panic!("no reply")
    };
    assert_eq!(&reply[..], b"250 2.0.0 Message accepted for delivery\r\n");
    assert!(out.len() == before);
}

#[test]
fn invariant_5_no_partial_delivery_when_the_connection_drops() {
    // Mid-DATA.
    let mut conn = Connection::new(Config::default());
    let (events, _) = run_accepting(
        &mut conn,
        &[ENVELOPE, b"Subject: x\r\n\r\nhalf"].concat(),
        5,
    );
    assert!(!events.iter().any(|e| e.starts_with("end:")));
    conn.handle_close();
    assert!(matches!(
        conn.poll(),
        Next::Event(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));
    assert!(conn.is_closed());
    assert!(matches!(
        conn.poll(),
        Next::Closed(CloseReason::ConnectionLost)
    ));

    // Mid-BDAT (between chunks).
    let mut conn = Connection::new(Config::default());
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3\r\nabcBDAT 10 LAST\r\nhalf";
    let (events, _) = run_accepting(&mut conn, input, 4);
    assert!(!events.iter().any(|e| e.starts_with("end:")));
    conn.handle_close();
    assert!(matches!(
        conn.poll(),
        Next::Event(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));

    // The whole message arrived, the application has not accepted it yet: the client never
    // got 250 and will send it again, so it is aborted, and a late accept is refused.
    let mut conn = Connection::new(Config::default());
    conn.receive(&[ENVELOPE, b"hi\r\n.\r\n"].concat());
    loop {
        match conn.poll() {
            Next::Event(Event::MessageEnd { .. }) => break,
            Next::Event(e) if e.is_decision() => conn.accept().unwrap(),
            Next::Event(_) | Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    conn.handle_close();
    assert!(matches!(
        conn.poll(),
        Next::Event(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
    assert!(matches!(
        conn.poll(),
        Next::Closed(CloseReason::ConnectionLost)
    ));
}

#[test]
fn invariant_7_plaintext_auth_not_offered_before_tls() {
    let mechanisms = [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2];
    let config = Config::default()
        .with_tls(TlsMode::Opportunistic)
        .with_sasl_mechanisms(mechanisms);
    let mut conn = Connection::new(config.clone());
    let input = b"EHLO c\r\nAUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\nAUTH LOGIN\r\n";
    let (events, out) = run_accepting(&mut conn, input, 9);
    assert!(out.contains("250 AUTH XOAUTH2\r\n"), "{out}");
    assert!(!out.contains("PLAIN\r\n") && !out.contains("LOGIN\r\n"));
    assert_eq!(count(&out, "538 5.7.11 "), 2);
    assert!(events.is_empty(), "{events:?}");
    assert!(!conn.is_authenticated());

    // Only when the configuration says so.
    let mut conn = Connection::new(config.with_plaintext_auth_without_tls(true));
    let (events, out) = run_accepting(&mut conn, input, 9);
    assert!(out.contains("250 AUTH PLAIN LOGIN XOAUTH2\r\n"), "{out}");
    assert!(events[0].starts_with("Authenticate"), "{events:?}");
    assert!(conn.is_authenticated());
    // The Debug form of the event never shows the password.
    assert!(!events[0].contains("tanstaaf"), "{}", events[0]);
}

#[test]
fn misuse_is_a_usage_error_never_a_panic() {
    let mut conn = Connection::new(Config::default());
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
    assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade));
    conn.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    // The input is not processed yet (receive only buffers): no decision to answer.
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
    let mut out = Vec::new();
    let event = loop {
        match conn.poll() {
            Next::Transmit(bytes) => out.extend_from_slice(&bytes),
            Next::Event(event) => break event,
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(event, Event::Mail { .. }));
    assert_eq!(conn.reject(Reply::ok()), Err(UsageError::NotNegative));
    assert_eq!(
        conn.accept_with(Reply::mailbox_unavailable()),
        Err(UsageError::NotPositive)
    );
    assert_eq!(
        conn.accept_message("Q"),
        Err(UsageError::WrongDecision { pending: "MAIL" })
    );
    assert_eq!(
        conn.sasl_challenge(b""),
        Err(UsageError::WrongDecision { pending: "MAIL" })
    );
    assert_eq!(
        conn.answer_recipients([Reply::ok()]),
        Err(UsageError::WrongDecision { pending: "MAIL" })
    );
    // `Reply::new` refuses a line over 512 octets; a reply parsed under raised limits can
    // still hold one, and the machine refuses to send it.
    assert!(Reply::new(550, None, vec![b'x'; 600]).is_err());
    let relaxed = smtp_proto::Limits {
        reply_line: 1000,
        ..smtp_proto::Limits::default()
    };
    let wire = Bytes::from(format!("550 {}\r\n", "x".repeat(600)));
    let (long, _) = Reply::parse(&wire, &relaxed).unwrap();
    assert_eq!(conn.reject(long), Err(UsageError::ReplyTooLong));
    conn.accept().unwrap();
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
    // Nothing was sent for the refused answers.
    let end = until_wait(&mut conn, &mut Vec::new(), &mut out);
    assert!(matches!(end, Next::Read(_)), "{end:?}");
    assert!(
        String::from_utf8_lossy(&out)
            .ends_with("250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Sender OK\r\n")
    );

    // SMTP has no per-recipient answers.
    conn.receive(b"RCPT TO:<c@d>\r\nDATA\r\n.\r\n");
    loop {
        match conn.poll() {
            Next::Event(Event::MessageEnd { .. }) => break,
            Next::Event(_) => conn.accept().unwrap(),
            Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        conn.answer_recipients([Reply::ok()]),
        Err(UsageError::NotLmtp)
    );
}

#[test]
fn timeouts_follow_rfc_5321_section_4_5_3_2() {
    let config = Config::default().with_tls(TlsMode::Opportunistic);
    let mut conn = Connection::new(config);
    let mut out = Vec::new();
    let Next::Transmit(_) = conn.poll() else {
        panic!("no greeting")
    };
    let wait = read_wait(&mut conn).unwrap();
    assert_eq!(wait.timeout(), Duration::from_secs(300));
    conn.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    loop {
        match conn.poll() {
            Next::Event(_) => break,
            Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    // Waiting for the application, not the client: no timer, and a timeout is ignored.
    assert!(matches!(conn.poll(), Next::Transmit(_)));
    assert!(matches!(conn.poll(), Next::AwaitApp));
    conn.handle_timeout();
    assert!(matches!(conn.poll(), Next::AwaitApp));
    conn.accept().unwrap();
    conn.receive(b"RCPT TO:<c@d>\r\nDATA\r\n");
    let mut events = Vec::new();
    let next = until_wait(&mut conn, &mut events, &mut out);
    let Next::Read(wait) = next else {
        panic!("{next:?}")
    };
    assert_eq!(
        wait.timeout(),
        Duration::from_secs(180),
        "the data block timeout"
    );
    conn.handle_timeout();
    assert!(matches!(
        conn.poll(),
        Next::Event(Event::MessageAborted {
            reason: AbortReason::Timeout
        })
    ));
    let Next::Transmit(reply) = conn.poll() else {
        panic!("no 421")
    };
    assert_eq!(&reply[..], b"421 4.4.2 Timeout, closing channel\r\n");
    assert!(matches!(conn.poll(), Next::Closed(CloseReason::Timeout)));
    // After the end, a timeout changes nothing.
    conn.handle_timeout();
    assert!(matches!(conn.poll(), Next::Closed(CloseReason::Timeout)));

    // The TLS handshake has its own deadline, configurable.
    let config = Config::default()
        .with_tls(TlsMode::Opportunistic)
        .with_tls_handshake_timeout(Duration::from_secs(7));
    let mut conn = Connection::new(config);
    conn.receive(b"EHLO c\r\nSTARTTLS\r\n");
    let next = until_wait(&mut conn, &mut Vec::new(), &mut Vec::new());
    let Next::UpgradeTls(wait) = next else {
        panic!("{next:?}")
    };
    assert_eq!(wait.timeout(), Duration::from_secs(7));
}

/// ARCHITECTURE.md security invariant 9: a command trickled one byte per poll keeps the wait
/// it began with (the same id, so the same deadline) until its CRLF; only then a new one.
#[test]
fn invariant_9_a_trickled_command_does_not_move_the_deadline() {
    let mut conn = Connection::new(Config::default());
    let mut out = Vec::new();
    let Next::Read(first) = until_wait(&mut conn, &mut Vec::new(), &mut out) else {
        panic!()
    };
    for &b in b"NOOP trickled one byte at a time" {
        conn.receive(&[b]);
        assert_eq!(
            read_wait(&mut conn),
            Some(first),
            "a byte moved the deadline"
        );
    }
    conn.receive(b"\r");
    assert_eq!(read_wait(&mut conn), Some(first));
    conn.receive(b"\n");
    let Next::Read(second) = until_wait(&mut conn, &mut Vec::new(), &mut out) else {
        panic!()
    };
    assert_ne!(
        second.id(),
        first.id(),
        "a whole command satisfies the wait"
    );
    assert!(String::from_utf8_lossy(&out).ends_with("250 2.0.0 OK\r\n"));
}

/// ARCHITECTURE.md security invariant 9, inside a message: DATA content trickled keeps the
/// same wait until a whole data block (`DATA_BLOCK`, 4096 octets) arrived, or the end.
#[test]
fn invariant_9_trickled_data_moves_the_deadline_only_per_block() {
    use mail_wire::session::DATA_BLOCK;
    for bdat in [false, true] {
        let mut conn = Connection::new(Config::default());
        let mut events = Vec::new();
        let mut out = Vec::new();
        // Whole lines of 64 octets, past one block.
        let size = DATA_BLOCK + 128;
        let envelope: &[u8] = if bdat {
            b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"
        } else {
            b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
        };
        conn.receive(envelope);
        if bdat {
            conn.receive(format!("BDAT {size} LAST\r\n").as_bytes());
        }
        let Next::Read(first) = until_wait(&mut conn, &mut events, &mut out) else {
            panic!()
        };
        assert_eq!(first.timeout(), Duration::from_secs(180));
        let mut waits = vec![first];
        // Content lines of 64 octets ("x" * 62 CRLF), one byte per poll.
        let line = [&[b'x'; 62][..], b"\r\n"].concat();
        let content: Vec<u8> = line.iter().copied().cycle().take(size).collect();
        for (fed, &b) in content.iter().enumerate() {
            conn.receive(&[b]);
            let next = until_wait(&mut conn, &mut events, &mut out);
            if bdat && fed + 1 == size {
                // BDAT LAST: the whole chunk is the end of the message.
                assert!(events.last().unwrap().starts_with("end:"), "{events:?}");
                break;
            }
            let Next::Read(wait) = next else {
                panic!("{next:?}")
            };
            if wait != *waits.last().unwrap() {
                waits.push(wait);
            }
            let blocks = (fed + 1) / DATA_BLOCK;
            assert_eq!(
                waits.len(),
                1 + blocks,
                "after {} octets: {waits:?}",
                fed + 1
            );
        }
        if !bdat {
            let before = *waits.last().unwrap();
            for &b in b".\r" {
                conn.receive(&[b]);
                let next = until_wait(&mut conn, &mut events, &mut out);
                assert!(matches!(next, Next::Read(w) if w == before), "{next:?}");
            }
            conn.receive(b"\n");
            let Next::Read(after) = until_wait(&mut conn, &mut events, &mut out) else {
                panic!()
            };
            assert_ne!(
                after.id(),
                before.id(),
                "the end of the data satisfies the wait"
            );
            assert_eq!(after.timeout(), Duration::from_secs(300));
        }
        assert!(
            String::from_utf8_lossy(&out).ends_with("250 2.0.0 Message accepted for delivery\r\n"),
            "bdat {bdat}"
        );
    }
}

/// ARCHITECTURE.md, "The session contract", rule 4: `Closed` comes once, after every event
/// and transmit, and every later poll says the same.
#[test]
fn closed_comes_once_at_the_end() {
    for (input, reason) in [
        (&b"EHLO c\r\nQUIT\r\nNOOP\r\n"[..], CloseReason::Quit),
        (b"FOO\r\n", CloseReason::TooManyErrors),
    ] {
        let mut conn = Connection::new(Config::default().with_max_errors(1));
        conn.receive(input);
        let mut out = Vec::new();
        let end = until_wait(&mut conn, &mut Vec::new(), &mut out);
        assert!(matches!(end, Next::Closed(r) if r == reason), "{end:?}");
        assert_eq!(conn.close_reason(), Some(reason));
        for _ in 0..3 {
            assert!(matches!(conn.poll(), Next::Closed(r) if r == reason));
        }
        // Nothing after the end moves it: more input, a timeout, the peer gone.
        conn.receive(b"NOOP\r\n");
        conn.handle_timeout();
        conn.handle_close();
        conn.shutdown();
        assert!(matches!(conn.poll(), Next::Closed(r) if r == reason));
    }
}

/// `shutdown` ends an idle session at once, with 421 4.3.2 and `CloseReason::Shutdown`; a
/// session in a transaction finishes it first (the transcripts `shutdown_*.txt` show the
/// replies).
#[test]
fn shutdown_waits_for_the_transaction_in_progress() {
    let mut conn = Connection::new(Config::default());
    let mut out = Vec::new();
    drive(&mut conn, &mut Vec::new(), &mut out);
    conn.shutdown();
    let end = until_wait(&mut conn, &mut Vec::new(), &mut out);
    assert!(
        matches!(end, Next::Closed(CloseReason::Shutdown)),
        "{end:?}"
    );
    assert!(String::from_utf8_lossy(&out).ends_with("421 4.3.2 Service shutting down\r\n"));

    // A decision pending (MAIL not yet answered): the application still answers it, and the
    // transaction it opens runs to its end.
    let mut conn = Connection::new(Config::default());
    conn.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    let event = loop {
        match conn.poll() {
            Next::Event(event) => break event,
            Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert!(matches!(event, Event::Mail { .. }));
    conn.shutdown();
    assert!(matches!(conn.poll(), Next::Transmit(_)));
    assert!(matches!(conn.poll(), Next::AwaitApp));
    conn.accept().unwrap();
    let mut events = Vec::new();
    let mut out = Vec::new();
    conn.receive(b"RCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<e@f>\r\n");
    let end = until_wait(&mut conn, &mut events, &mut out);
    assert!(
        matches!(end, Next::Closed(CloseReason::Shutdown)),
        "{end:?}"
    );
    assert_eq!(events.iter().filter(|e| e.starts_with("end:")).count(), 1);
    assert!(
        String::from_utf8_lossy(&out).ends_with(
            "250 2.0.0 Message accepted for delivery\r\n421 4.3.2 Service shutting down\r\n"
        ),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        !events.iter().any(|e| e.starts_with("mail:")),
        "the next MAIL is not served"
    );
}

#[test]
fn connection_stays_small() {
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size}");
    assert!(size <= 512, "{size}");
}

/// ARCHITECTURE.md security invariant 10: the `Debug` of the machine never shows a password
/// or its base64, not even while the AUTH line carrying it waits in the input buffer.
#[test]
fn invariant_10_debug_shows_no_credentials() {
    let config = Config::default()
        .with_tls(TlsMode::Implicit)
        .with_sasl_mechanisms([Mechanism::Plain]);
    let mut conn = Connection::new(config);
    // "\0jane\0tanstaafl" in base64, buffered and not yet processed.
    conn.receive(b"EHLO c\r\nAUTH PLAIN AGphbmUAdGFuc3RhYWZs\r\n");
    let debug = format!("{conn:?}");
    assert!(!debug.contains("AGphbmUAdGFuc3RhYWZs"), "{debug}");
    let mut events = Vec::new();
    drive(&mut conn, &mut events, &mut Vec::new());
    let debug = format!("{conn:?} {events:?}");
    assert!(
        !debug.contains("tanstaafl") && !debug.contains("AGphbmUAdGFuc3RhYWZs"),
        "{debug}"
    );
}
