//! The security invariants of ARCHITECTURE.md that concern the POP3 server machine, one
//! test (or a few) each, named after the invariant; and the application-misuse errors.

use core::time::Duration;

use pop3_proto::server::{Config, Connection, Event, Login, LoginRefusal, Maildrop, UsageError};
use pop3_proto::{CloseReason, Next, TlsMode, UniqueId};
use proptest::prelude::*;

/// Everything the machine has to say now, answering no decision: the canonical loop until
/// `poll` says the machine waits (or has ended).
fn drain(conn: &mut Connection) -> (String, Vec<Event>) {
    let mut output = Vec::new();
    let mut events = Vec::new();
    loop {
        match conn.poll() {
            Next::Event(event) => events.push(event),
            Next::Transmit(bytes) => output.extend_from_slice(&bytes),
            Next::Read(_) | Next::AwaitApp | Next::UpgradeTls(_) | Next::Closed(_) => break,
        }
    }
    (String::from_utf8_lossy(&output).into_owned(), events)
}

/// The session has ended for `reason` with `discarded` deletion marks dropped, and stays so.
fn assert_closed(conn: &mut Connection, reason: CloseReason, discarded: u32) {
    assert_eq!(conn.poll(), Next::Closed(reason));
    assert_eq!(conn.poll(), Next::Closed(reason), "Closed is terminal");
    assert!(conn.is_closed());
    assert_eq!(conn.discarded_deletions(), discarded);
}

fn maildrop(sizes: &[u64]) -> Maildrop {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| (size, UniqueId::new(format!("uid-{i}")).unwrap()))
        .collect()
}

/// A session logged in (implicit TLS) with `sizes` as its maildrop.
fn logged_in(config: Config, sizes: &[u64]) -> Connection {
    let mut conn = Connection::new(config.with_tls(TlsMode::Implicit));
    conn.receive(b"USER u\r\nPASS p\r\n");
    let (_, events) = drain(&mut conn);
    assert!(matches!(events[..], [Event::Login(Login::UserPass { .. })]));
    conn.accept(maildrop(sizes)).unwrap();
    drain(&mut conn);
    conn
}

fn capabilities(conn: &mut Connection) -> Vec<String> {
    conn.receive(b"CAPA\r\n");
    let (output, _) = drain(conn);
    output.lines().map(str::to_owned).collect()
}

// ----- Invariant 2: after STLS, pipelined plaintext is dropped, never executed. -----

#[test]
fn invariant_2_pipelined_plaintext_after_stls_is_dropped() {
    let config = Config::default()
        .with_tls(TlsMode::Opportunistic)
        .with_plaintext_auth_without_tls(true);
    let mut conn = Connection::new(config);
    drain(&mut conn);
    // In the same segment as STLS, and in a later read before the handshake completes.
    conn.receive(b"STLS\r\nUSER evil\r\nPASS injected\r\n");
    let (output, events) = drain(&mut conn);
    assert_eq!(output, "+OK begin TLS negotiation\r\n");
    assert!(events.is_empty());
    assert!(matches!(conn.poll(), Next::UpgradeTls(_)));
    conn.receive(b"QUIT\r\nUSER evil2\r\n");
    assert_eq!(drain(&mut conn), (String::new(), vec![]));
    assert!(matches!(conn.poll(), Next::UpgradeTls(_)));

    conn.tls_established().unwrap();
    assert!(conn.is_secure());
    assert_eq!(
        drain(&mut conn),
        (String::new(), vec![]),
        "nothing of the plaintext ran"
    );
    // The session is in its initial state: no USER remembered, still open.
    conn.receive(b"PASS injected\r\nNOOP\r\n");
    let (output, events) = drain(&mut conn);
    assert_eq!(
        output,
        "-ERR send USER first\r\n-ERR command not valid in this state\r\n"
    );
    assert!(events.is_empty());
    assert!(!capabilities(&mut conn).contains(&"STLS".to_owned()));
}

#[test]
fn invariant_2_tls_established_without_stls_is_a_usage_error() {
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Opportunistic));
    assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade));
    assert!(!conn.is_secure());
    conn.receive(b"NOOP\r\n");
    assert!(
        drain(&mut conn)
            .0
            .ends_with("-ERR command not valid in this state\r\n")
    );
}

// ----- Invariant 3: every buffer is bounded. -----

#[test]
fn invariant_3_an_endless_line_is_refused_once_and_not_buffered() {
    let mut conn = Connection::new(Config::default());
    drain(&mut conn);
    let junk = vec![b'x'; 64 * 1024];
    let mut output = String::new();
    for _ in 0..160 {
        // 10 MiB without a line end: far over the hard input cap, were it kept.
        conn.receive(&junk);
        let (more, events) = drain(&mut conn);
        output.push_str(&more);
        assert!(events.is_empty());
        assert!(
            matches!(conn.poll(), Next::Read(_)),
            "a skipped line is not kept"
        );
    }
    conn.receive(b"\r\nCAPA\r\n");
    let (more, events) = drain(&mut conn);
    output.push_str(&more);
    assert!(events.is_empty());
    assert!(
        output.starts_with("-ERR line too long\r\n+OK capability list follows\r\n"),
        "{output}"
    );
}

#[test]
fn invariant_3_pipelined_input_is_bounded_while_a_decision_is_pending() {
    let config = Config::default().with_plaintext_auth_without_tls(true);
    let max = config.max_pipelined_input;
    let mut conn = Connection::new(config);
    drain(&mut conn);
    conn.receive(b"USER u\r\nPASS p\r\n");
    let (_, events) = drain(&mut conn);
    assert!(matches!(events[..], [Event::Login(_)]));
    // The application is slow; the client keeps pipelining, and the adapter keeps reading
    // although `poll` says `AwaitApp`. Twice the bound is still held.
    for _ in 0..(max * 2) / 6 {
        conn.receive(b"NOOP\r\n");
        assert_eq!(conn.poll(), Next::AwaitApp);
    }
    // Then the hard cap: -ERR and the end.
    for _ in 0..2000 {
        conn.receive(b"NOOP\r\n");
    }
    let (output, events) = drain(&mut conn);
    assert_eq!(
        output,
        "-ERR too much pipelined input, closing connection\r\n"
    );
    assert!(events.is_empty());
    assert_closed(&mut conn, CloseReason::InputOverflow, 0);
    assert_eq!(conn.accept(Maildrop::new()), Err(UsageError::Closed));
}

#[test]
fn invariant_3_output_is_bounded_however_many_listings_are_pipelined() {
    // 5,000 messages: a LIST is about 50 KB; 500 pipelined LISTs (3 KB of input) are 25 MB.
    let sizes: Vec<u64> = (0..5_000).map(|i| 1000 + i).collect();
    let mut conn = logged_in(Config::default(), &sizes);
    let commands = b"LIST\r\n".repeat(500);
    let mut total = 0usize;
    let mut most = 0usize;
    let mut fed = 0;
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => {
                most = most.max(bytes.len());
                total += bytes.len();
            }
            // The client sends 100 octets per read.
            Next::Read(_) if fed < commands.len() => {
                let end = (fed + 100).min(commands.len());
                conn.receive(&commands[fed..end]);
                fed = end;
            }
            Next::Read(_) => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(most <= 64 * 1024 + 64, "one transmit held {most} octets");
    let one_listing = {
        let mut conn = logged_in(Config::default(), &sizes);
        conn.receive(b"LIST\r\n");
        drain(&mut conn).0.len()
    };
    assert_eq!(
        total,
        one_listing * 500,
        "every listing was written whole, in order"
    );
}

#[test]
fn invariant_3_an_overlong_auth_line_ends_the_exchange() {
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Implicit));
    drain(&mut conn);
    conn.receive(b"AUTH PLAIN\r\n");
    assert_eq!(drain(&mut conn).0, "+ \r\n");
    conn.receive(&vec![b'A'; 20_000]);
    conn.receive(b"\r\nNOOP\r\n");
    let (output, events) = drain(&mut conn);
    assert_eq!(
        output,
        "-ERR line too long\r\n-ERR command not valid in this state\r\n"
    );
    assert!(events.is_empty());
}

#[test]
fn invariant_3_too_many_bad_commands_end_the_session() {
    let mut conn = Connection::new(Config::default());
    drain(&mut conn);
    conn.receive(&b"BOGUS\r\n".repeat(100));
    let (output, events) = drain(&mut conn);
    assert_eq!(
        output.lines().count(),
        Config::MAX_BAD_COMMANDS as usize + 1
    );
    assert!(events.is_empty());
    assert_closed(&mut conn, CloseReason::TooManyErrors, 0);
}

// ----- Invariant 4: no panic on any input; nothing injected into replies. -----

/// An application that accepts everything and serves a small maildrop.
fn run_accepting(chunks: &[Vec<u8>], config: Config) -> usize {
    let messages: [&[u8]; 3] = [
        b"Subject: a\r\n\r\nbody\r\n.\r\n",
        b"no header, bare\nLF\rand CR",
        b"",
    ];
    let mut conn = Connection::new(config);
    let mut written = 0;
    for chunk in chunks {
        conn.receive(chunk);
        loop {
            match conn.poll() {
                Next::Event(event) => match event {
                    Event::Login(_) | Event::AuthStep { .. } => {
                        conn.accept(maildrop(&[10, 20, 30])).unwrap();
                    }
                    Event::Retrieve(retrieve) => {
                        for piece in messages[retrieve.index].chunks(3) {
                            conn.send_message_chunk(piece).unwrap();
                        }
                        conn.end_message().unwrap();
                    }
                    Event::Commit { .. } => conn.commit_succeeded().unwrap(),
                    event => assert!(!event.is_decision()),
                },
                Next::Transmit(bytes) => {
                    assert!(bytes.len() <= 128 * 1024);
                    written += bytes.len();
                }
                Next::UpgradeTls(_) => conn.tls_established().unwrap(),
                Next::AwaitApp => panic!("every decision was answered"),
                Next::Read(_) | Next::Closed(_) => break,
            }
        }
    }
    conn.handle_close();
    drain(&mut conn);
    assert!(conn.is_closed());
    assert!(matches!(conn.poll(), Next::Closed(_)));
    written
}

fn client_bytes() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let word = prop_oneof![
        Just(&b"USER a\r\n"[..]),
        Just(&b"PASS b\r\n"[..]),
        Just(&b"AUTH PLAIN\r\n"[..]),
        Just(&b"AUTH CRAM-MD5 =\r\n"[..]),
        Just(&b"AGEAYg==\r\n"[..]),
        Just(&b"*\r\n"[..]),
        Just(&b"STLS\r\n"[..]),
        Just(&b"CAPA\r\n"[..]),
        Just(&b"LIST\r\n"[..]),
        Just(&b"UIDL 2\r\n"[..]),
        Just(&b"RETR 1\r\n"[..]),
        Just(&b"TOP 2 0\r\n"[..]),
        Just(&b"DELE 3\r\n"[..]),
        Just(&b"RSET\r\n"[..]),
        Just(&b"QUIT\r\n"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"\n"[..]),
        Just(&b"\r"[..]),
    ]
    .prop_map(<[u8]>::to_vec);
    let piece = prop_oneof![proptest::collection::vec(any::<u8>(), 0..40), word];
    proptest::collection::vec(piece, 0..40)
}

proptest! {
    #[test]
    fn invariant_4_no_panic_on_arbitrary_input(
        chunks in client_bytes(),
        plaintext: bool,
        tls in prop_oneof![
            Just(TlsMode::Disabled),
            Just(TlsMode::Opportunistic),
            Just(TlsMode::Required),
            Just(TlsMode::Implicit),
        ],
    ) {
        let config = Config::default()
            .with_tls(tls)
            .with_plaintext_auth_without_tls(plaintext)
            .with_sasl_mechanisms([
                pop3_proto::Mechanism::Plain,
                pop3_proto::Mechanism::parse(b"CRAM-MD5").unwrap(),
            ]);
        run_accepting(&chunks, config);
    }
}

#[test]
fn invariant_4_client_octets_never_reach_a_reply_line() {
    // Arguments are never echoed: a CR or LF in them cannot start a line of ours.
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Implicit));
    drain(&mut conn);
    conn.receive(b"USER a\rb\r\nUSER x\r\n+OK fake\r\nRETR 1\r\n");
    let (output, _) = drain(&mut conn);
    assert!(!output.contains("fake"));
    assert!(
        output
            .lines()
            .all(|line| line.starts_with("+OK") || line.starts_with("-ERR"))
    );
}

// ----- Invariant 6: deletions only in UPDATE (QUIT); a dropped connection deletes nothing. -----

#[test]
fn invariant_6_dropped_connection_deletes_nothing() {
    let mut conn = logged_in(Config::default(), &[10, 20, 30]);
    conn.receive(b"DELE 1\r\nDELE 3\r\n");
    let (output, events) = drain(&mut conn);
    assert_eq!(output, "+OK message 1 deleted\r\n+OK message 3 deleted\r\n");
    assert!(events.is_empty(), "DELE only marks");
    conn.handle_close();
    assert_eq!(drain(&mut conn), (String::new(), vec![]));
    assert_closed(&mut conn, CloseReason::ConnectionLost, 2);
}

#[test]
fn invariant_6_timeout_deletes_nothing_and_sends_nothing() {
    let mut conn = logged_in(Config::default(), &[10]);
    let Next::Read(wait) = conn.poll() else {
        panic!("the session waits for the client");
    };
    assert_eq!(wait.timeout(), Duration::from_secs(600));
    conn.receive(b"DELE 1\r\n");
    assert_eq!(drain(&mut conn).0, "+OK message 1 deleted\r\n");
    // A command partly received does not hold the session open.
    conn.receive(b"QU");
    assert!(matches!(conn.poll(), Next::Read(_)));
    conn.handle_timeout();
    let (output, events) = drain(&mut conn);
    assert_eq!(output, "", "RFC 1939 section 3: no response at autologout");
    assert!(events.is_empty());
    assert_closed(&mut conn, CloseReason::Timeout, 1);
    conn.handle_timeout();
    conn.handle_close();
    assert_closed(&mut conn, CloseReason::Timeout, 1);
}

#[test]
fn invariant_6_session_ended_for_errors_deletes_nothing() {
    let mut conn = logged_in(Config::default().with_max_bad_commands(0), &[10, 20]);
    conn.receive(b"DELE 2\r\nBOGUS\r\nQUIT\r\n");
    let (output, events) = drain(&mut conn);
    assert_eq!(output, "+OK message 2 deleted\r\n-ERR unknown command\r\n");
    assert!(events.is_empty());
    assert_closed(&mut conn, CloseReason::TooManyErrors, 1);
}

#[test]
fn invariant_6_only_quit_commits_and_exactly_the_marked_set() {
    let mut conn = logged_in(Config::default(), &[10, 20, 30, 40]);
    conn.receive(b"DELE 1\r\nDELE 2\r\nRSET\r\nDELE 4\r\nDELE 2\r\nQUIT\r\n");
    let (_, events) = drain(&mut conn);
    let [Event::Commit { deleted }] = &events[..] else {
        panic!("{events:?}");
    };
    let indexes: Vec<usize> = deleted.iter().map(|m| m.index).collect();
    assert_eq!(indexes, [1, 3]);
    assert_eq!(
        conn.poll(),
        Next::AwaitApp,
        "waiting for the application, not the client"
    );
    // No timer runs for the application: a timeout now is ignored.
    conn.handle_timeout();
    assert_eq!(conn.poll(), Next::AwaitApp);
    conn.commit_succeeded().unwrap();
    let (output, events) = drain(&mut conn);
    assert!(output.ends_with("+OK POP3 server signing off (2 messages left)\r\n"));
    assert!(events.is_empty());
    assert_closed(&mut conn, CloseReason::Quit, 0);
}

// ----- Invariant 7: plaintext AUTH is not offered before TLS unless configured. -----

#[test]
fn invariant_7_plaintext_auth_not_offered_before_tls() {
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Opportunistic));
    drain(&mut conn);
    let capa = capabilities(&mut conn);
    assert!(!capa.contains(&"USER".to_owned()), "{capa:?}");
    assert!(
        !capa.iter().any(|line| line.starts_with("SASL")),
        "{capa:?}"
    );
    assert!(capa.contains(&"STLS".to_owned()));
    conn.receive(b"USER a\r\nAUTH PLAIN AGEAYg==\r\nAUTH LOGIN\r\n");
    let (output, events) = drain(&mut conn);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(
        output
            .matches("-ERR plaintext authentication needs TLS")
            .count(),
        3
    );

    conn.receive(b"STLS\r\n");
    drain(&mut conn);
    conn.tls_established().unwrap();
    let capa = capabilities(&mut conn);
    assert!(capa.contains(&"USER".to_owned()), "{capa:?}");
    assert!(capa.contains(&"SASL PLAIN LOGIN".to_owned()), "{capa:?}");
    assert!(!capa.contains(&"STLS".to_owned()));
}

#[test]
fn invariant_7_plaintext_auth_offered_when_configured_or_implicit_tls() {
    for config in [
        Config::default().with_plaintext_auth_without_tls(true),
        Config::default().with_tls(TlsMode::Implicit),
    ] {
        let mut conn = Connection::new(config);
        drain(&mut conn);
        let capa = capabilities(&mut conn);
        assert!(capa.contains(&"USER".to_owned()) && capa.contains(&"SASL PLAIN LOGIN".to_owned()));
        conn.receive(b"AUTH PLAIN AGEAYg==\r\n");
        let (_, events) = drain(&mut conn);
        assert!(matches!(&events[..], [Event::Login(Login::Sasl { .. })]));
    }
}

// ----- Application misuse -----

#[test]
fn answers_that_do_not_fit_are_usage_errors() {
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Implicit));
    drain(&mut conn);
    assert_eq!(
        conn.accept(Maildrop::new()),
        Err(UsageError::NoDecisionPending)
    );
    assert_eq!(conn.end_message(), Err(UsageError::NoDecisionPending));
    conn.receive(b"USER u\r\nPASS p\r\n");
    drain(&mut conn);
    assert!(matches!(
        conn.send_message_chunk(b"x"),
        Err(UsageError::WrongDecision { .. })
    ));
    assert!(matches!(
        conn.commit_succeeded(),
        Err(UsageError::WrongDecision { .. })
    ));
    assert!(matches!(
        conn.sasl_challenge(b""),
        Err(UsageError::WrongDecision { .. })
    ));
    conn.accept(maildrop(&[5])).unwrap();
    conn.receive(b"RETR 1\r\n");
    drain(&mut conn);
    assert!(!conn.message_complete());
    conn.send_message_chunk(b"abc").unwrap();
    assert_eq!(conn.message_unavailable(), Err(UsageError::MessageStarted));
    conn.end_message().unwrap();
    assert_eq!(
        conn.reject(LoginRefusal::BadCredentials),
        Err(UsageError::NoDecisionPending)
    );
    let (output, _) = drain(&mut conn);
    assert!(output.ends_with("+OK 5 octets\r\nabc\r\n.\r\n"), "{output}");
}

#[test]
fn top_says_when_it_has_enough() {
    let mut conn = logged_in(Config::default(), &[5]);
    conn.receive(b"TOP 1 1\r\n");
    drain(&mut conn);
    conn.send_message_chunk(b"A: b\r\n\r\none\r\n").unwrap();
    assert!(conn.message_complete());
    conn.send_message_chunk(b"two\r\n").unwrap();
    conn.end_message().unwrap();
    let (output, _) = drain(&mut conn);
    assert_eq!(
        output,
        "+OK top of message follows\r\nA: b\r\n\r\none\r\n.\r\n"
    );
}

#[test]
fn invariant_10_debug_output_shows_no_credentials() {
    let mut conn = Connection::new(Config::default().with_tls(TlsMode::Implicit));
    conn.receive(b"USER alice\r\nPASS hunter2\r\nPASS queued-hunter3\r\n");
    let (_, events) = drain(&mut conn);
    let shown = format!("{conn:?} {events:?}");
    assert!(!shown.contains("hunter"), "{shown}");
}
