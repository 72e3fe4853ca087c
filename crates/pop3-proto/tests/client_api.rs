//! The client machine through its API: pipelined writes, the download planner, typed auth
//! failures, limits, and one test per security invariant of ARCHITECTURE.md that concerns a
//! client.

use bytes::Bytes;
use pop3_proto::client::{
    AuthError, AuthFailure, AuthMethod, Config, Connection, Error, Event, ProtocolViolation,
    UsageError, plan_download,
};
use pop3_proto::{CloseReason, Limits, MsgNumber, Next, TlsMode, UidList};
use proptest::prelude::*;

fn msg(n: u32) -> MsgNumber {
    MsgNumber::new(n).unwrap()
}

/// The canonical loop, as far as the machine goes by itself: the events and the bytes
/// written until `poll` says the machine waits (or has ended).
fn drain(conn: &mut Connection) -> (Vec<Event>, Vec<u8>) {
    let mut events = Vec::new();
    let mut written = Vec::new();
    loop {
        match conn.poll() {
            Next::Event(event) => events.push(event),
            Next::Transmit(bytes) => written.extend_from_slice(&bytes),
            Next::Read(_) | Next::AwaitApp | Next::UpgradeTls(_) | Next::Closed(_) => {
                return (events, written);
            }
        }
    }
}

/// The events until the machine waits; it must write nothing meanwhile.
fn events(conn: &mut Connection) -> Vec<Event> {
    let (events, written) = drain(conn);
    assert_eq!(String::from_utf8_lossy(&written), "", "unexpected write");
    events
}

/// The bytes written until the machine waits; there must be no event meanwhile.
fn written(conn: &mut Connection) -> Vec<u8> {
    let (events, written) = drain(conn);
    assert_eq!(events, [], "unexpected events");
    written
}

/// A client logged in over implicit TLS with USER/PASS; `capa` lines after `+OK`, before
/// login and again after it.
fn logged_in(config: Config, capa: &str) -> Connection {
    logged_in_learning(config, capa, capa)
}

/// A client logged in over implicit TLS with USER/PASS, the server listing `before` as its
/// capabilities before login and `after` once logged in (RFC 2449 section 5).
fn logged_in_learning(config: Config, before: &str, after: &str) -> Connection {
    let mut conn = Connection::new(config.with_password("a", "b").with_tls(TlsMode::Implicit));
    conn.receive(b"+OK ready\r\n");
    assert_eq!(drain(&mut conn).1, b"CAPA\r\n");
    conn.receive(format!("+OK\r\n{before}.\r\n").as_bytes());
    assert_eq!(drain(&mut conn).1, b"USER a\r\n");
    conn.receive(b"+OK\r\n");
    assert_eq!(written(&mut conn), b"PASS b\r\n");
    conn.receive(b"+OK\r\n");
    assert_eq!(written(&mut conn), b"CAPA\r\n");
    assert!(!conn.is_authenticated());
    assert_eq!(conn.stat(), Err(UsageError::NotInTransaction));
    assert!(matches!(conn.poll(), Next::Read(_)));
    conn.receive(format!("+OK\r\n{after}.\r\n").as_bytes());
    assert!(matches!(
        events(&mut conn)[..],
        [Event::Capabilities(_), Event::Authenticated(_)]
    ));
    assert!(conn.is_authenticated());
    conn
}

#[test]
fn capabilities_listed_after_login_replace_those_before() {
    let mut conn = logged_in_learning(
        Config::default().with_pipelining_window(2),
        "USER\r\nTOP\r\n",
        "PIPELINING\r\nUIDL\r\n",
    );
    assert_eq!(conn.capabilities().pipelining(), Some(true));
    assert_eq!(conn.capabilities().uidl(), Some(true));
    assert_eq!(conn.capabilities().user(), Some(false));
    assert_eq!(conn.capabilities().top(), Some(false));
    for _ in 0..3 {
        conn.noop().unwrap();
    }
    // PIPELINING learnt after login: two in flight, the window.
    assert_eq!(written(&mut conn), b"NOOP\r\nNOOP\r\n");
}

#[test]
fn pipelining_withdrawn_after_login_is_not_used() {
    let mut conn = logged_in_learning(Config::default(), "USER\r\nPIPELINING\r\n", "TOP\r\n");
    assert_eq!(conn.capabilities().pipelining(), Some(false));
    conn.noop().unwrap();
    conn.noop().unwrap();
    assert_eq!(written(&mut conn), b"NOOP\r\n");
}

#[test]
fn capa_refused_after_login_keeps_what_was_learnt_before() {
    let mut conn = Connection::new(
        Config::default()
            .with_password("a", "b")
            .with_tls(TlsMode::Implicit),
    );
    conn.receive(b"+OK ready\r\n+OK\r\nPIPELINING\r\nUSER\r\n.\r\n+OK\r\n+OK\r\n");
    assert_eq!(drain(&mut conn).1, b"CAPA\r\nUSER a\r\nPASS b\r\nCAPA\r\n");
    conn.receive(b"-ERR not now\r\n");
    assert_eq!(
        events(&mut conn),
        [Event::Authenticated(AuthMethod::UserPass)]
    );
    assert_eq!(conn.capabilities().pipelining(), Some(true));
    conn.noop().unwrap();
    conn.noop().unwrap();
    assert_eq!(written(&mut conn), b"NOOP\r\nNOOP\r\n");
}

#[test]
fn no_second_capa_when_the_server_refused_the_first() {
    let mut conn = Connection::new(
        Config::default()
            .with_password("a", "b")
            .with_tls(TlsMode::Implicit),
    );
    conn.receive(b"+OK ready\r\n-ERR\r\n+OK\r\n+OK\r\n");
    let (got, written) = drain(&mut conn);
    assert!(matches!(
        got.last(),
        Some(Event::Authenticated(AuthMethod::UserPass))
    ));
    assert_eq!(written, b"CAPA\r\nUSER a\r\nPASS b\r\n");
    assert_eq!(conn.poll(), Next::AwaitApp);
}

#[test]
fn pipelined_commands_go_out_in_one_write() {
    let mut conn = logged_in(Config::default(), "USER\r\nPIPELINING\r\n");
    for n in 1..=10 {
        conn.retr(msg(n)).unwrap();
        conn.dele(msg(n)).unwrap();
    }
    conn.quit().unwrap();
    let Next::Transmit(write) = conn.poll() else {
        panic!("one write");
    };
    assert!(matches!(conn.poll(), Next::Read(_)));
    let expected: String = (1..=10)
        .map(|n| format!("RETR {n}\r\nDELE {n}\r\n"))
        .chain(["QUIT\r\n".to_string()])
        .collect();
    assert_eq!(write, expected.as_bytes());
}

#[test]
fn pipelining_window_bounds_commands_in_flight() {
    let mut conn = logged_in(
        Config::default().with_pipelining_window(3),
        "USER\r\nPIPELINING\r\n",
    );
    for _ in 0..5 {
        conn.noop().unwrap();
    }
    assert_eq!(written(&mut conn), b"NOOP\r\nNOOP\r\nNOOP\r\n");
    conn.receive(b"+OK\r\n");
    assert_eq!(drain(&mut conn), (vec![Event::Noop], b"NOOP\r\n".to_vec()));
}

#[test]
fn without_pipelining_one_command_at_a_time() {
    let mut conn = logged_in(Config::default(), "USER\r\n");
    conn.stat().unwrap();
    conn.noop().unwrap();
    assert_eq!(written(&mut conn), b"STAT\r\n");
    assert_eq!(written(&mut conn), b"");
    conn.receive(b"+OK 0 0\r\n");
    let (events, written) = drain(&mut conn);
    assert!(matches!(events[..], [Event::Stat(_)]));
    assert_eq!(written, b"NOOP\r\n");
}

#[test]
fn command_queue_is_bounded() {
    let mut conn = logged_in(Config::default().with_max_queued_commands(2), "USER\r\n");
    conn.noop().unwrap();
    conn.noop().unwrap();
    assert_eq!(conn.noop(), Err(UsageError::QueueFull { limit: 2 }));
}

fn uid_list(text: &str) -> UidList {
    let input = Bytes::from(format!("{text}.\r\n"));
    UidList::parse(&input, &Limits::default()).unwrap().0
}

#[test]
fn plan_fetches_new_messages_and_reports_vanished_ones() {
    let listing = uid_list("1 aaa\r\n2 bbb\r\n3 ccc\r\n");
    let known: Vec<&[u8]> = vec![b"bbb", b"zzz", b"aaa"];
    let plan = plan_download(&listing, known);
    let fetch: Vec<(u32, &[u8])> = plan
        .fetch
        .iter()
        .map(|entry| (entry.msg.get(), entry.uid.as_bytes()))
        .collect();
    assert_eq!(fetch, [(3, &b"ccc"[..])]);
    assert_eq!(plan.vanished, [&b"zzz"[..]]);
}

#[test]
fn plan_with_nothing_known_fetches_everything_in_order() {
    let listing = uid_list("1 aaa\r\n2 bbb\r\n");
    let plan = plan_download(&listing, std::iter::empty());
    let numbers: Vec<u32> = plan.fetch.iter().map(|entry| entry.msg.get()).collect();
    assert_eq!(numbers, [1, 2]);
    assert!(plan.vanished.is_empty());
}

#[test]
fn plan_compares_ids_case_sensitively_and_fetches_a_duplicate_id_once() {
    let listing = uid_list("1 AbC\r\n2 abc\r\n3 AbC\r\n");
    let plan = plan_download(&listing, [&b"abc"[..], b"abc"]);
    let numbers: Vec<u32> = plan.fetch.iter().map(|entry| entry.msg.get()).collect();
    assert_eq!(numbers, [1]);
    assert!(plan.vanished.is_empty());
}

proptest! {
    #[test]
    fn plan_partitions_the_listing(
        listed in proptest::collection::btree_set("[a-z]{1,4}", 0..20),
        known in proptest::collection::btree_set("[a-z]{1,4}", 0..20),
    ) {
        let text: String = listed
            .iter()
            .enumerate()
            .map(|(i, uid)| format!("{} {uid}\r\n", i + 1))
            .collect();
        let listing = uid_list(&text);
        let plan = plan_download(&listing, known.iter().map(|uid| uid.as_bytes()));
        let fetched: Vec<&[u8]> = plan.fetch.iter().map(|entry| entry.uid.as_bytes()).collect();
        let expected: Vec<&[u8]> = listed
            .iter()
            .filter(|uid| !known.contains(*uid))
            .map(|uid| uid.as_bytes())
            .collect();
        prop_assert_eq!(fetched, expected);
        let vanished: Vec<&[u8]> = known
            .iter()
            .filter(|uid| !listed.contains(*uid))
            .map(|uid| uid.as_bytes())
            .collect();
        prop_assert_eq!(plan.vanished, vanished);
    }
}

#[test]
fn auth_failures_are_classified_by_response_code() {
    for (code, failure) in [
        ("[AUTH] ", AuthFailure::BadCredentials),
        ("[IN-USE] ", AuthFailure::InUse),
        ("[LOGIN-DELAY] ", AuthFailure::LoginDelay),
        ("[SYS/TEMP] ", AuthFailure::TemporarySystem),
        ("[SYS/PERM] ", AuthFailure::PermanentSystem),
        ("", AuthFailure::Unspecified),
    ] {
        let mut conn = Connection::new(
            Config::default()
                .with_password("a", "b")
                .with_tls(TlsMode::Implicit),
        );
        conn.receive(b"+OK hi\r\n-ERR\r\n+OK\r\n");
        drain(&mut conn);
        conn.receive(format!("-ERR {code}no\r\n").as_bytes());
        let (got, written) = drain(&mut conn);
        assert_eq!(written, b"QUIT\r\n");
        let [Event::Failed(Error::Auth(error))] = &got[..] else {
            panic!("{got:?}");
        };
        assert!(matches!(error, AuthError::Rejected { .. }));
        assert_eq!(error.failure(), Some(failure), "{code}");
        assert_eq!(
            failure.is_temporary(),
            matches!(
                failure,
                AuthFailure::InUse | AuthFailure::LoginDelay | AuthFailure::TemporarySystem
            )
        );
    }
}

fn tried(error: &AuthError) -> Vec<AuthMethod> {
    error.methods_tried().iter().collect()
}

/// RFC 2449 section 8 and RFC 3206: a refusal naming the maildrop lock, a login delay or a
/// server problem holds for any method; any other `-ERR` makes the client try the next
/// method offered, and the final error names every method tried.
#[test]
fn login_falls_back_to_the_next_method_unless_the_refusal_is_final() {
    for (code, final_refusal) in [
        ("[AUTH] ", false),
        ("", false),
        ("[UNKNOWN-CODE] ", false),
        ("[IN-USE] ", true),
        ("[LOGIN-DELAY] ", true),
        ("[SYS/TEMP] ", true),
        ("[SYS/PERM] ", true),
    ] {
        let mut conn = Connection::new(
            Config::default()
                .with_password("a", "b")
                .with_tls(TlsMode::Implicit),
        );
        conn.receive(b"+OK hi <1.2@x>\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n");
        let (_, written) = drain(&mut conn);
        assert_eq!(written, b"CAPA\r\nAUTH PLAIN AGEAYg==\r\n");
        conn.receive(format!("-ERR {code}no\r\n").as_bytes());
        let (got, written) = drain(&mut conn);
        let plain = AuthMethod::Sasl(pop3_proto::Mechanism::Plain);
        if final_refusal {
            let [Event::Failed(Error::Auth(error))] = &got[..] else {
                panic!("{code}: {got:?}");
            };
            assert!(matches!(error, AuthError::Rejected { method, .. } if *method == plain));
            assert_eq!(tried(error), [plain], "{code}");
            assert!(error.failure().unwrap().is_final());
            assert_eq!(written, b"QUIT\r\n", "{code}");
            continue;
        }
        assert!(
            matches!(&got[..], [Event::AuthMethodRefused { method, .. }] if *method == plain),
            "{code}: {got:?}"
        );
        assert!(written.starts_with(b"APOP a "), "{code}");
        conn.receive(b"-ERR no\r\n");
        let (got, written) = drain(&mut conn);
        assert!(matches!(
            &got[..],
            [Event::AuthMethodRefused {
                method: AuthMethod::Apop,
                ..
            }]
        ));
        assert_eq!(written, b"USER a\r\n");
        conn.receive(b"+OK\r\n-ERR [AUTH] wrong\r\n");
        let (got, written) = drain(&mut conn);
        let [Event::Failed(Error::Auth(error))] = &got[..] else {
            panic!("{code}: {got:?}");
        };
        let all = [plain, AuthMethod::Apop, AuthMethod::UserPass];
        assert!(matches!(error, AuthError::RejectedAll { .. }));
        assert_eq!(tried(error), all);
        assert_eq!(error.methods_tried().len(), 3);
        assert!(error.methods_tried().contains(AuthMethod::Apop));
        assert_eq!(error.methods_tried().get(2), Some(AuthMethod::UserPass));
        assert_eq!(error.failure(), Some(AuthFailure::BadCredentials));
        assert_eq!(
            error.to_string(),
            "AUTH PLAIN, APOP, USER/PASS rejected: -ERR [AUTH] wrong"
        );
        assert_eq!(written, b"PASS b\r\nQUIT\r\n");
    }
}

#[test]
fn fallback_never_reaches_a_plaintext_method_the_config_forbids() {
    // No TLS, plaintext not allowed: PLAIN and USER/PASS are offered but left out; APOP
    // refused ends the login, with no credentials in the clear.
    let mut conn = Connection::new(
        Config::default()
            .with_password("a", "b")
            .with_tls(TlsMode::Disabled),
    );
    conn.receive(b"+OK hi <1.2@x>\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n");
    let (_, wire) = drain(&mut conn);
    assert!(wire.starts_with(b"CAPA\r\nAPOP a "));
    conn.receive(b"-ERR [AUTH] no\r\n");
    let (got, wire) = drain(&mut conn);
    let [Event::Failed(Error::Auth(error))] = &got[..] else {
        panic!("{got:?}");
    };
    assert!(matches!(
        error,
        AuthError::Rejected {
            method: AuthMethod::Apop,
            ..
        }
    ));
    assert_eq!(wire, b"QUIT\r\n");
}

#[test]
fn listing_over_its_limit_is_a_protocol_violation() {
    let mut limits = Limits::default();
    limits.listing = 64;
    let mut conn = logged_in(Config::default().with_limits(limits), "USER\r\n");
    conn.list(None).unwrap();
    written(&mut conn);
    conn.receive(b"+OK\r\n");
    let mut got = Vec::new();
    for n in 1..20 {
        conn.receive(format!("{n} 100\r\n").as_bytes());
        got.extend(events(&mut conn));
        if conn.is_closed() {
            break;
        }
    }
    assert!(conn.is_closed());
    assert!(
        matches!(
            &got[..],
            [Event::Failed(Error::ProtocolViolation(
                ProtocolViolation::ListingTooLong { limit: 64, .. }
            ))]
        ),
        "{got:?}"
    );
    assert_eq!(conn.poll(), Next::Closed(CloseReason::ProtocolViolation));
}

#[test]
fn message_data_is_a_slice_of_the_received_bytes_not_the_whole_message() {
    let mut conn = logged_in(Config::default(), "USER\r\n");
    conn.retr(msg(1)).unwrap();
    written(&mut conn);
    conn.receive(b"+OK\r\n");
    let mut total = 0;
    for round in 1..=100 {
        conn.receive(&[b'x'; 1000]);
        conn.receive(b"\r\n");
        for event in events(&mut conn) {
            if let Event::MessageData(chunk) = event {
                total += chunk.len();
            }
        }
        // Everything received so far was handed out (but the line end, which may still be
        // part of the terminator): nothing accumulates, and the machine reads on.
        assert!(total + 2 >= round * 1002, "{total} of {}", round * 1002);
        assert!(matches!(conn.poll(), Next::Read(_)));
    }
    assert_eq!(total, 100 * 1002);
    conn.receive(b".\r\n");
    let end = events(&mut conn);
    assert!(matches!(&end[..], [Event::MessageEnd(end)] if end.size == 100 * 1002));
}

#[test]
fn connection_is_small() {
    let size = std::mem::size_of::<Connection>();
    println!("size_of::<Connection>() = {size}");
    assert!(size < 1024, "{size}");
}

// ---- Security invariants (ARCHITECTURE.md) ----

/// Invariant 2: after STLS, plaintext pipelined behind the +OK is never read.
#[test]
fn invariant_2_plaintext_after_stls_is_dropped() {
    let mut conn = Connection::new(Config::default().with_password("a", "b"));
    conn.receive(b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n");
    assert_eq!(drain(&mut conn).1, b"CAPA\r\nSTLS\r\n");
    // The +OK and an injected CAPA answer offering PLAIN arrive together.
    conn.receive(b"+OK go\r\n+OK\r\nSASL PLAIN\r\n.\r\n");
    assert_eq!(drain(&mut conn), (vec![], vec![]));
    assert!(matches!(conn.poll(), Next::UpgradeTls(_)));
    conn.receive(b"+OK more injected\r\n");
    assert!(matches!(conn.poll(), Next::UpgradeTls(_)));
    conn.tls_established().unwrap();
    assert_eq!(written(&mut conn), b"CAPA\r\n");
    assert!(matches!(conn.poll(), Next::Read(_)));
    conn.receive(b"+OK\r\nUSER\r\n.\r\n");
    let (got, written) = drain(&mut conn);
    assert!(matches!(&got[..], [Event::Capabilities(caps)] if caps.sasl().is_none()));
    assert_eq!(written, b"USER a\r\n");
}

/// Invariant 3: unread input is bounded; an adapter that keeps feeding without polling
/// hits the hard cap, and the session fails instead of growing.
#[test]
fn invariant_3_every_buffer_is_bounded() {
    let mut conn = logged_in(Config::default(), "USER\r\n");
    conn.noop().unwrap();
    written(&mut conn);
    for _ in 0..256 {
        // 1 MiB, never polled.
        conn.receive(&[b'+'; 4096]);
    }
    let got = events(&mut conn);
    assert!(
        matches!(got[..], [Event::Failed(Error::InputOverflow { limit })] if limit < 1 << 20),
        "{got:?}"
    );
    assert!(conn.is_closed());
    assert_eq!(conn.poll(), Next::Closed(CloseReason::InputOverflow));
}

/// Invariant 3: an overlong response line is refused, not buffered.
#[test]
fn invariant_3_overlong_line_is_refused() {
    let mut conn = Connection::new(Config::default().with_password("a", "b"));
    conn.receive(&[b'+'; 600]);
    let got = events(&mut conn);
    assert!(
        matches!(
            &got[..],
            [Event::Failed(Error::ProtocolViolation(
                ProtocolViolation::Line { .. }
            ))]
        ),
        "{got:?}"
    );
    assert!(conn.is_closed());
    assert_eq!(conn.poll(), Next::Closed(CloseReason::ProtocolViolation));
}

/// Invariant 4: no CR, LF or NUL reaches the wire through credentials.
#[test]
fn invariant_4_no_injection_through_credentials() {
    for (user, pass) in [("a\r\nDELE 1", "b"), ("a", "b\r\nDELE 1"), ("a", "b\0c")] {
        let mut conn = Connection::new(
            Config::default()
                .with_password(user, pass)
                .with_tls(TlsMode::Implicit),
        );
        conn.receive(b"+OK hi\r\n-ERR\r\n");
        let (got, written) = drain(&mut conn);
        assert!(
            matches!(
                got.last(),
                Some(Event::Failed(Error::Auth(AuthError::InvalidCredentials(_))))
            ),
            "{got:?}"
        );
        assert_eq!(written, b"CAPA\r\nQUIT\r\n");
    }
}

proptest! {
    /// Invariant 4: no panic on any input, in any chunks.
    #[test]
    fn invariant_4_no_panic_on_any_input(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32),
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"+OK <1.2@x>\r\n-ERR\r\n+OK\r\n"[..]),
            Just(&b"+OK\r\n+OK\r\nSTLS\r\nSASL PLAIN\r\nPIPELINING\r\n.\r\n"[..]),
        ],
    ) {
        let mut conn = Connection::new(
            Config::default().with_password("a", "b").with_plaintext_auth_without_tls(true),
        );
        conn.receive(prefix);
        for chunk in chunks {
            conn.receive(&chunk);
            drain(&mut conn);
            let _ = conn.stat();
            let _ = conn.retr(msg(1));
            let _ = conn.uidl(None);
            drain(&mut conn);
            let _ = conn.tls_established();
        }
        conn.handle_close();
        drain(&mut conn);
        prop_assert!(conn.is_closed());
        prop_assert!(matches!(conn.poll(), Next::Closed(_)));
    }
}

/// Invariant 6: a dropped connection deletes nothing: the client never reports a commit
/// it did not get.
#[test]
fn invariant_6_drop_without_quit_commits_nothing() {
    let mut conn = logged_in(Config::default(), "USER\r\n");
    conn.dele(msg(1)).unwrap();
    conn.quit().unwrap();
    assert_eq!(written(&mut conn), b"DELE 1\r\n");
    conn.receive(b"+OK\r\n");
    assert_eq!(
        drain(&mut conn),
        (vec![Event::Deleted(msg(1))], b"QUIT\r\n".to_vec())
    );
    conn.handle_close();
    assert_eq!(events(&mut conn), [Event::Failed(Error::ConnectionLost)]);
    assert!(conn.is_closed());
    assert_eq!(conn.poll(), Next::Closed(CloseReason::ConnectionLost));
}

proptest! {
    /// Invariant 7: without TLS and without `allow_plaintext_auth_without_tls`, no password
    /// or token is ever written, whatever the server offers.
    #[test]
    fn invariant_7_no_plaintext_credentials_without_tls(
        user in any::<bool>(),
        plain in any::<bool>(),
        xoauth2 in any::<bool>(),
        stls in any::<bool>(),
        capa_fails in any::<bool>(),
        oauth in any::<bool>(),
        stls_refused in any::<bool>(),
    ) {
        let config = if oauth {
            Config::default().with_oauth2("u@example.org", "TOKEN-SECRET")
        } else {
            Config::default().with_password("u", "PASSWORD-SECRET")
        };
        let mut conn = Connection::new(config);
        conn.receive(b"+OK hi\r\n");
        let mut capa = String::new();
        if capa_fails {
            capa.push_str("-ERR\r\n");
        } else {
            capa.push_str("+OK\r\n");
            if user { capa.push_str("USER\r\n"); }
            if stls { capa.push_str("STLS\r\n"); }
            let mut sasl = Vec::new();
            if plain { sasl.push("PLAIN"); }
            if xoauth2 { sasl.push("XOAUTH2"); }
            if !sasl.is_empty() { capa.push_str(&format!("SASL {}\r\n", sasl.join(" "))); }
            capa.push_str(".\r\n");
        }
        conn.receive(capa.as_bytes());
        let mut out = Vec::new();
        for _ in 0..4 {
            out.extend(drain(&mut conn).1);
            if out.ends_with(b"STLS\r\n") {
                // Refused, or accepted and never established: either way no secret may follow.
                conn.receive(if stls_refused { b"-ERR no\r\n" } else { b"+OK\r\n" });
            } else {
                conn.receive(b"+OK\r\n");
            }
        }
        let text = String::from_utf8_lossy(&out);
        prop_assert!(!text.contains("PASS "), "{}", text);
        prop_assert!(!text.contains("AUTH "), "{}", text);
        prop_assert!(!text.contains("USER "), "{}", text);
    }
}

#[test]
fn answer_to_quit_received_just_before_eof_is_still_read() {
    let mut conn = logged_in(Config::default(), "USER\r\n");
    conn.dele(msg(1)).unwrap();
    conn.quit().unwrap();
    assert_eq!(written(&mut conn), b"DELE 1\r\n");
    conn.receive(b"+OK\r\n");
    let (_, written) = drain(&mut conn);
    assert_eq!(written, b"QUIT\r\n");
    // The adapter reads the answer and the EOF in one go, and reports both before polling.
    conn.receive(b"+OK bye\r\n");
    conn.handle_close();
    let got = events(&mut conn);
    assert!(
        matches!(&got[..], [Event::Quit(outcome)] if outcome.committed),
        "{got:?}"
    );
    assert!(conn.is_closed());
    assert_eq!(conn.poll(), Next::Closed(CloseReason::Quit));
}

/// `Config::sasl_mechanisms` limits the SASL mechanisms the client uses: PLAIN is preferred,
/// LOGIN when PLAIN is not allowed, none at all leaves APOP and USER/PASS.
#[test]
fn the_configured_sasl_mechanisms_bound_the_login() {
    use pop3_proto::Mechanism;
    for (mechanisms, expected) in [
        (
            vec![Mechanism::Plain, Mechanism::Login],
            &b"AUTH PLAIN AGEAYg==\r\n"[..],
        ),
        (vec![Mechanism::Login], b"AUTH LOGIN\r\n"),
        (vec![], b"USER a\r\n"),
    ] {
        let mut conn = Connection::new(
            Config::default()
                .with_password("a", "b")
                .with_tls(TlsMode::Implicit)
                .with_sasl_mechanisms(mechanisms.clone()),
        );
        conn.receive(b"+OK hi\r\n+OK\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n");
        let (_, written) = drain(&mut conn);
        assert_eq!(
            String::from_utf8_lossy(&written),
            format!("CAPA\r\n{}", String::from_utf8_lossy(expected)),
            "{mechanisms:?}"
        );
    }
}
