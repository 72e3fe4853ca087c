//! One test per security invariant of DESIGN.md that applies to the SMTP server (1-5, 7),
//! named after it, plus the application-misuse errors.

use bytes::Bytes;
use proptest::prelude::*;
use smtp_proto::server::{
    AbortReason, BareLineEnding, Config, Connection, Event, TlsState, UsageError,
};
use smtp_proto::{Mechanism, Reply, limits};

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

fn drive(conn: &mut Connection, events: &mut Vec<String>, out: &mut Vec<u8>) {
    while let Some(event) = conn.poll_event() {
        match &event {
            Event::MessageData(data) => {
                let text = String::from_utf8_lossy(data).into_owned();
                match events.last_mut() {
                    Some(last) if last.starts_with("data:") => last.push_str(&text),
                    _ => events.push(format!("data:{text}")),
                }
            }
            Event::UpgradeTls => events.push("upgrade".into()),
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
    while let Some(bytes) = conn.poll_transmit() {
        out.extend_from_slice(&bytes);
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
    let config = Config::default().with_tls(TlsState::StartTlsAvailable);
    let mut conn = Connection::new(config);
    let mut events = Vec::new();
    let mut out = Vec::new();
    conn.receive(b"EHLO c.example\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.example>\r\n");
    drive(&mut conn, &mut events, &mut out);
    // More plain text arrives before the handshake is done: dropped as well.
    conn.receive(b"RCPT TO:<v@mx.example>\r\n");
    drive(&mut conn, &mut events, &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(text.ends_with("220 2.0.0 Ready to start TLS\r\n"), "{text}");
    assert_eq!(events, ["upgrade"]);
    assert!(!conn.wants_input());
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
    assert_eq!(events, ["upgrade"]);
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

    // An adapter that never polls: wants_input turns false, and past the hard cap 421.
    let mut conn = Connection::new(Config::default().with_max_buffered_input(1000));
    let mut stopped_at = None;
    for i in 0..400 {
        conn.receive(b"NOOP\r\n");
        if !conn.wants_input() && stopped_at.is_none() {
            stopped_at = Some(i);
        }
        assert!(conn.buffered_input() <= 2000);
    }
    assert!(
        stopped_at.is_some_and(|i| (160..=170).contains(&i)),
        "{stopped_at:?}"
    );
    let mut out = Vec::new();
    drive(&mut conn, &mut Vec::new(), &mut out);
    assert!(
        String::from_utf8_lossy(&out)
            .ends_with("421 4.7.0 Too much unread input, closing connection\r\n")
    );
    assert!(conn.is_closed());

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
        .with_tls(TlsState::Secure)
        .with_auth_mechanisms([Mechanism::Login]);
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
        let mut conn = Connection::new(Config::default().with_tls(TlsState::StartTlsAvailable));
        let (_, out) = run_accepting(&mut conn, &all, chunk);
        for line in out.split("\r\n") {
            prop_assert!(line.len() + 2 <= limits::REPLY_LINE);
        }
        prop_assert!(conn.buffered_input() <= 2 * conn.config().max_buffered_input);
    }
}

#[test]
fn invariant_4_no_crlf_injection_through_answers() {
    let mut conn = Connection::new(Config::default());
    conn.receive(
        b"EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<x@mx.example>\r\nDATA\r\n.\r\n",
    );
    let mut events = Vec::new();
    while let Some(event) = conn.poll_event() {
        let end = matches!(event, Event::MessageEnd { .. });
        events.push(event);
        if end {
            break;
        }
        conn.accept().unwrap();
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
        assert!(
            conn.poll_event()
                .is_none_or(|e| matches!(e, Event::MessageData(_)))
        );
        assert!(conn.poll_transmit().is_none());
    }
    conn.receive(b"\n");
    let Some(Event::MessageEnd { size, recipients }) = conn.poll_event() else {
        panic!("no end")
    };
    assert_eq!((size, recipients), (20, 1));
    assert!(
        conn.poll_transmit().is_none(),
        "replied before the application accepted"
    );
    conn.accept().unwrap();
    assert_eq!(
        &conn.poll_transmit().unwrap()[..],
        b"250 2.0.0 Message accepted for delivery\r\n"
    );
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
        conn.poll_event(),
        Some(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));
    assert!(conn.is_closed());
    assert!(conn.poll_transmit().is_none());

    // Mid-BDAT (between chunks).
    let mut conn = Connection::new(Config::default());
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3\r\nabcBDAT 10 LAST\r\nhalf";
    let (events, _) = run_accepting(&mut conn, input, 4);
    assert!(!events.iter().any(|e| e.starts_with("end:")));
    conn.handle_close();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));

    // The whole message arrived, the application has not accepted it yet: the client never
    // got 250 and will send it again, so it is aborted, and a late accept is refused.
    let mut conn = Connection::new(Config::default());
    conn.receive(&[ENVELOPE, b"hi\r\n.\r\n"].concat());
    loop {
        match conn.poll_event().unwrap() {
            Event::MessageEnd { .. } => break,
            e if e.is_decision() => conn.accept().unwrap(),
            _ => {}
        }
    }
    conn.handle_close();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::MessageAborted {
            reason: AbortReason::ConnectionLost
        })
    ));
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
}

#[test]
fn invariant_7_plaintext_auth_not_offered_before_tls() {
    let mechanisms = [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2];
    let config = Config::default()
        .with_tls(TlsState::StartTlsAvailable)
        .with_auth_mechanisms(mechanisms);
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
    assert_eq!(conn.tls_established(), Err(UsageError::NotUpgrading));
    conn.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    // The decision is queued but not yet polled: answering it now would reorder replies.
    assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending));
    assert!(matches!(conn.poll_event(), Some(Event::Mail { .. })));
    assert_eq!(conn.reject(Reply::ok()), Err(UsageError::NotNegative));
    assert_eq!(
        conn.accept_with(Reply::mailbox_unavailable()),
        Err(UsageError::NotPositive)
    );
    assert_eq!(
        conn.accept_message("Q"),
        Err(UsageError::WrongAnswer { pending: "MAIL" })
    );
    assert_eq!(
        conn.auth_challenge(b""),
        Err(UsageError::WrongAnswer { pending: "MAIL" })
    );
    assert_eq!(
        conn.answer_recipients([Reply::ok()]),
        Err(UsageError::WrongAnswer { pending: "MAIL" })
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
    let mut out = Vec::new();
    while let Some(b) = conn.poll_transmit() {
        out.extend_from_slice(&b);
    }
    assert!(
        String::from_utf8_lossy(&out)
            .ends_with("250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Sender OK\r\n")
    );

    // SMTP has no per-recipient answers.
    conn.receive(b"RCPT TO:<c@d>\r\nDATA\r\n.\r\n");
    loop {
        match conn.poll_event().unwrap() {
            Event::MessageEnd { .. } => break,
            _ => conn.accept().unwrap(),
        }
    }
    assert_eq!(
        conn.answer_recipients([Reply::ok()]),
        Err(UsageError::NotLmtp)
    );
}

#[test]
fn timeouts_follow_rfc_5321_section_4_5_3_2() {
    use std::time::Duration;
    let mut conn = Connection::new(Config::default());
    assert_eq!(conn.timeout(), Some(Duration::from_secs(300)));
    conn.receive(b"EHLO c\r\nMAIL FROM:<a@b>\r\n");
    assert!(conn.poll_event().is_some());
    // Waiting for the application, not the client.
    assert_eq!(conn.timeout(), None);
    conn.accept().unwrap();
    conn.receive(b"RCPT TO:<c@d>\r\nDATA\r\n");
    assert!(conn.poll_event().is_some());
    conn.accept().unwrap();
    assert!(conn.poll_event().is_none());
    assert_eq!(conn.timeout(), Some(Duration::from_secs(180)));
    conn.handle_timeout();
    assert!(matches!(
        conn.poll_event(),
        Some(Event::MessageAborted {
            reason: AbortReason::Timeout
        })
    ));
    assert_eq!(conn.timeout(), None);
}

#[test]
fn connection_stays_small() {
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size}");
    assert!(size <= 512, "{size}");
}
