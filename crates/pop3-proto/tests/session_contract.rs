//! The session contract of ARCHITECTURE.md ("The session contract") on both POP3 machines:
//! a loop that is a single `match` on `poll()` cannot stall; waits keep their id until they
//! are satisfied (security invariant 9); every wait on the peer has a finite deadline;
//! `Closed` comes once, after everything else, and stays; the server's graceful shutdown;
//! and no credential in any `Debug` output (security invariant 10).

use std::time::Duration;

use base64::Engine as _;
use pop3_proto::client;
use pop3_proto::server::{self, Event, Login, Maildrop};
use pop3_proto::{CloseReason, Command, Limits, MsgNumber, Next, TlsMode, UniqueId};

fn maildrop(sizes: &[u64]) -> Maildrop {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| (size, UniqueId::new(format!("uid-{i}")).unwrap()))
        .collect()
}

fn base64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// Polls until the machine waits; returns what it wrote and where it rests. Events are not
/// expected.
fn server_drain(conn: &mut server::Connection) -> (String, Next<Event>) {
    let mut output = Vec::new();
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => output.extend_from_slice(&bytes),
            Next::Event(event) => panic!("unexpected {event:?}"),
            rest => return (String::from_utf8_lossy(&output).into_owned(), rest),
        }
    }
}

/// A server session logged in (implicit TLS) with `sizes` as its maildrop, output drained.
fn server_logged_in(config: server::Config, sizes: &[u64]) -> server::Connection {
    let mut conn = server::Connection::new(config.with_tls(TlsMode::Implicit));
    conn.receive(b"USER u\r\nPASS p\r\n");
    loop {
        match conn.poll() {
            Next::Transmit(_) => {}
            Next::Event(Event::Login(_)) => conn.accept(maildrop(sizes)).unwrap(),
            Next::Read(_) => return conn,
            other => panic!("{other:?}"),
        }
    }
}

// ----- A single `match` on `poll()` cannot stall -----

/// The old contract (events until none, then transmits until none, then read) stalled on
/// this input after about 87 KB: writing the listings let the machine process more
/// commands, and the RETR decision appeared after the event queue had said it was empty.
/// One `poll` returning the one next thing makes that impossible.
#[test]
fn pipelined_listings_then_retr_and_quit_do_not_stall_the_canonical_loop() {
    let mut input = b"USER u\r\nPASS p\r\n".to_vec();
    input.extend_from_slice(&b"LIST\r\n".repeat(1200));
    input.extend_from_slice(b"RETR 1\r\nQUIT\r\n");
    let message = b"Subject: first\r\n\r\nthe content of message 1\r\n";
    let sizes = [
        message.len() as u64,
        200,
        300,
        400,
        500,
        600,
        700,
        800,
        900,
        1000,
    ];

    let config = server::Config::default().with_plaintext_auth_without_tls(true);
    let mut conn = server::Connection::new(config);
    let mut socket = Some(input);
    let mut output = Vec::new();
    let mut retrieved = false;
    let reason = loop {
        match conn.poll() {
            Next::Transmit(bytes) => output.extend_from_slice(&bytes),
            Next::Event(Event::Login(_)) => conn.accept(maildrop(&sizes)).unwrap(),
            Next::Event(Event::Retrieve(retrieve)) => {
                assert_eq!(retrieve.index, 0);
                retrieved = true;
                conn.send_message_chunk(message).unwrap();
                conn.end_message().unwrap();
            }
            Next::Event(Event::Commit { deleted }) => {
                assert!(deleted.is_empty());
                conn.commit_succeeded().unwrap();
            }
            Next::Event(other) => panic!("{other:?}"),
            Next::Read(_) => match socket.take() {
                Some(bytes) => conn.receive(&bytes),
                None => panic!(
                    "stalled after {} octets: Read with every command already received",
                    output.len()
                ),
            },
            Next::Closed(reason) => break reason,
            other => panic!("{other:?}"),
        }
    };
    assert!(retrieved, "the RETR content was reached");
    assert_eq!(reason, CloseReason::Quit);
    let output = String::from_utf8(output).unwrap();
    assert!(output.len() > 100_000, "{} octets", output.len());
    let status = format!("+OK 10 messages ({} octets)\r\n", sizes.iter().sum::<u64>());
    assert_eq!(output.matches(status.as_str()).count(), 1200);
    let retr = format!(
        "\r\n.\r\n+OK {} octets\r\nSubject: first\r\n\r\nthe content of message 1\r\n.\r\n",
        message.len()
    );
    assert!(
        output.contains(&retr),
        "the RETR content was sent after the listings"
    );
    assert!(output.ends_with(".\r\n+OK POP3 server signing off (10 messages left)\r\n"));
}

/// The same on the client: 1200 pipelined LISTs, a RETR and QUIT answered in one read.
#[test]
fn client_reads_a_pipelined_burst_through_to_quit() {
    let config = client::Config::default()
        .with_password("a", "b")
        .with_tls(TlsMode::Implicit)
        .with_pipelining_window(2000);
    let mut conn = client::Connection::new(config);
    let mut answers = vec![
        b"+OK ready\r\n+OK\r\nUSER\r\nPIPELINING\r\n.\r\n".to_vec(),
        b"+OK\r\n".to_vec(),
        b"+OK\r\n".to_vec(),
        b"+OK\r\nPIPELINING\r\n.\r\n".to_vec(),
    ];
    let mut burst = b"+OK 2 messages\r\n1 10\r\n2 20\r\n.\r\n".repeat(1200);
    burst.extend_from_slice(b"+OK\r\nhello\r\n.\r\n+OK bye\r\n");
    answers.push(burst);
    answers.reverse();
    let (mut lists, mut data) = (0, Vec::new());
    let reason = loop {
        match conn.poll() {
            Next::Transmit(_) => {}
            Next::Event(client::Event::Authenticated(_)) => {
                for _ in 0..1200 {
                    conn.list(None).unwrap();
                }
                conn.retr(MsgNumber::new(1).unwrap()).unwrap();
                conn.quit().unwrap();
            }
            Next::Event(client::Event::ScanList(_)) => lists += 1,
            Next::Event(client::Event::MessageData(chunk)) => data.extend_from_slice(&chunk),
            Next::Event(client::Event::Failed(error)) => panic!("{error}"),
            Next::Event(_) => {}
            Next::Read(_) => match answers.pop() {
                Some(bytes) => conn.receive(&bytes),
                None => panic!("stalled: Read with every answer already received"),
            },
            Next::Closed(reason) => break reason,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        (lists, &data[..], reason),
        (1200, &b"hello\r\n"[..], CloseReason::Quit)
    );
}

// ----- Waits: their id changes only when they are satisfied -----

/// The wait of a `Read`.
fn read_wait<E: std::fmt::Debug>(next: Next<E>) -> mail_wire::session::Wait {
    match next {
        Next::Read(wait) => wait,
        other => panic!("expected Read, got {other:?}"),
    }
}

#[test]
fn invariant_9_a_command_trickled_one_byte_per_poll_keeps_its_wait_until_its_crlf() {
    let mut conn = server_logged_in(server::Config::default(), &[10, 20]);
    let command = b"LIST 2\r\n";
    let first = read_wait(conn.poll());
    assert_eq!(first.timeout(), server::Config::AUTOLOGOUT);
    for &byte in &command[..command.len() - 1] {
        conn.receive(&[byte]);
        assert_eq!(
            read_wait(conn.poll()),
            first,
            "a byte does not move the deadline"
        );
    }
    conn.receive(b"\n");
    let (output, rest) = server_drain(&mut conn);
    assert_eq!(output, "+OK 2 20\r\n");
    let next = read_wait(rest);
    assert_ne!(next.id(), first.id(), "a whole command satisfies the wait");
    // An overlong line being skipped completes nothing either (after its -ERR).
    conn.receive(&[b'x'; 2000]);
    let (output, rest) = server_drain(&mut conn);
    assert_eq!(output, "-ERR line too long\r\n");
    let skipping = read_wait(rest);
    for _ in 0..100 {
        conn.receive(b"xxxxxxxxxx");
        assert_eq!(read_wait(conn.poll()), skipping);
    }
}

#[test]
fn an_answered_decision_and_a_tls_upgrade_start_new_waits() {
    let config = server::Config::default().with_tls(TlsMode::Opportunistic);
    let mut conn = server::Connection::new(config);
    let (_, rest) = server_drain(&mut conn);
    let greeting = read_wait(rest);
    conn.receive(b"STLS\r\n");
    let (output, rest) = server_drain(&mut conn);
    assert_eq!(output, "+OK begin TLS negotiation\r\n");
    let Next::UpgradeTls(upgrade) = rest else {
        panic!("{rest:?}");
    };
    assert_ne!(upgrade.id(), greeting.id());
    assert_eq!(
        upgrade.timeout(),
        mail_wire::session::DEFAULT_TLS_HANDSHAKE_TIMEOUT
    );
    conn.tls_established().unwrap();
    let secure = read_wait(conn.poll());
    assert_ne!(secure.id(), upgrade.id());
    conn.receive(b"USER u\r\nPASS p\r\n");
    // The event comes first; the reply to USER before it is transmitted next.
    let Next::Event(Event::Login(_)) = conn.poll() else {
        panic!("login");
    };
    assert_eq!(
        server_drain(&mut conn),
        ("+OK send PASS\r\n".into(), Next::AwaitApp)
    );
    conn.accept(maildrop(&[1])).unwrap();
    let (_, rest) = server_drain(&mut conn);
    assert_ne!(read_wait(rest).id(), secure.id());
}

#[test]
fn invariant_9_a_response_trickled_to_the_client_keeps_its_wait_until_it_is_whole() {
    let config = client::Config::default()
        .with_password("a", "b")
        .with_tls(TlsMode::Implicit)
        .with_response_timeout(Duration::from_secs(42));
    let mut conn = client::Connection::new(config);
    let greeting = read_wait(conn.poll());
    assert_eq!(greeting.timeout(), Duration::from_secs(42));
    // The greeting, a byte at a time.
    for &byte in b"+OK ready\r" {
        conn.receive(&[byte]);
        assert_eq!(read_wait(conn.poll()), greeting);
    }
    conn.receive(b"\n");
    let capa = loop {
        match conn.poll() {
            Next::Read(wait) => break wait,
            Next::Event(_) | Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_ne!(capa.id(), greeting.id());
    // A whole listing, its +OK line included, is one response: its lines do not satisfy the
    // wait.
    for line in [&b"+OK\r\n"[..], b"USER\r\n", b"TOP\r\n"] {
        for &byte in line {
            conn.receive(&[byte]);
            assert_eq!(read_wait(conn.poll()), capa);
        }
    }
    conn.receive(b".\r\n");
    let after_capa = loop {
        match conn.poll() {
            Next::Read(wait) => break wait,
            Next::Event(_) | Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_ne!(after_capa.id(), capa.id());
}

#[test]
fn invariant_9_message_content_satisfies_the_clients_wait_per_data_block() {
    let config = client::Config::default()
        .with_password("a", "b")
        .with_tls(TlsMode::Implicit);
    let mut conn = client::Connection::new(config);
    conn.receive(b"+OK ready\r\n-ERR\r\n+OK\r\n+OK\r\n");
    loop {
        match conn.poll() {
            Next::AwaitApp => break,
            Next::Event(_) | Next::Transmit(_) => {}
            other => panic!("{other:?}"),
        }
    }
    conn.retr(MsgNumber::new(1).unwrap()).unwrap();
    assert_eq!(
        conn.poll(),
        Next::Transmit(bytes::Bytes::from_static(b"RETR 1\r\n"))
    );
    let mut content = Vec::new();
    let mut waits = vec![read_wait(conn.poll()).id()];
    // The +OK opens the message: it does not satisfy the wait by itself.
    conn.receive(b"+OK\r\n");
    assert!(matches!(
        conn.poll(),
        Next::Event(client::Event::MessageStart { .. })
    ));
    assert_eq!(read_wait(conn.poll()).id(), waits[0]);
    let block = mail_wire::session::DATA_BLOCK;
    // Three blocks and a half, 100 octets per read.
    let body = [&b"0123456789".repeat(9)[..], b"abcdefgh\r\n"]
        .concat()
        .repeat(block * 7 / 200);
    for piece in body.chunks(100) {
        conn.receive(piece);
        loop {
            match conn.poll() {
                Next::Read(wait) => {
                    waits.push(wait.id());
                    break;
                }
                Next::Event(client::Event::MessageData(chunk)) => content.extend_from_slice(&chunk),
                Next::Event(_) | Next::Transmit(_) => {}
                other => panic!("{other:?}"),
            }
        }
    }
    waits.dedup();
    // The wait for the response, then one new wait per whole block of content.
    let blocks = body.len() / block;
    assert!(blocks >= 3);
    assert_eq!(waits.len(), 1 + blocks, "{waits:?}");
    conn.receive(b".\r\n");
    let mut end = None;
    while end.is_none() {
        match conn.poll() {
            Next::Event(client::Event::MessageData(chunk)) => content.extend_from_slice(&chunk),
            Next::Event(client::Event::MessageEnd(summary)) => end = Some(summary),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(content, body);
    assert_eq!(conn.poll(), Next::AwaitApp);
}

// ----- Every wait on the peer has a finite deadline -----

/// Both machines talk over STLS in memory; every `Read` and `UpgradeTls` carries the
/// configured, finite timeout.
#[test]
fn invariant_9_every_read_and_upgrade_has_a_finite_timeout() {
    let server_config = server::Config::default()
        .with_tls(TlsMode::Required)
        .with_autologout(Duration::from_secs(700))
        .with_tls_handshake_timeout(Duration::from_secs(5));
    let client_config = client::Config::default()
        .with_password("alice", "pw")
        .with_tls(TlsMode::Required)
        .with_response_timeout(Duration::from_secs(30))
        .with_tls_handshake_timeout(Duration::from_secs(7));
    let mut server = server::Connection::new(server_config);
    let mut client = client::Connection::new(client_config);
    let (mut to_client, mut to_server) = (Vec::<u8>::new(), Vec::<u8>::new());
    let (mut server_waits, mut client_waits) = (Vec::new(), Vec::new());
    let (mut server_upgrading, mut done) = (false, None);
    for _ in 0..1000 {
        // The server's adapter: reads whatever the client wrote.
        loop {
            match server.poll() {
                Next::Transmit(bytes) => to_client.extend_from_slice(&bytes),
                Next::Event(Event::Login(_)) => server.accept(maildrop(&[3])).unwrap(),
                Next::Event(Event::Retrieve(_)) => {
                    server.send_message_chunk(b"hi\r\n").unwrap();
                    server.end_message().unwrap();
                }
                Next::Event(Event::Commit { .. }) => server.commit_succeeded().unwrap(),
                Next::Event(other) => panic!("{other:?}"),
                Next::Read(wait) => {
                    server_waits.push(("read", wait));
                    if to_server.is_empty() {
                        break;
                    }
                    server.receive(&std::mem::take(&mut to_server));
                }
                Next::UpgradeTls(wait) => {
                    server_waits.push(("tls", wait));
                    server_upgrading = true;
                    break;
                }
                Next::AwaitApp => panic!("every decision is answered"),
                Next::Closed(_) => break,
            }
        }
        // The client's adapter; it runs both sides of the handshake.
        loop {
            match client.poll() {
                Next::Transmit(bytes) => to_server.extend_from_slice(&bytes),
                Next::Event(client::Event::Authenticated(_)) => {
                    client.retr(MsgNumber::new(1).unwrap()).unwrap();
                    client.quit().unwrap();
                }
                Next::Event(client::Event::Failed(error)) => panic!("{error}"),
                Next::Event(_) => {}
                Next::Read(wait) => {
                    client_waits.push(("read", wait));
                    if to_client.is_empty() {
                        break;
                    }
                    client.receive(&std::mem::take(&mut to_client));
                }
                Next::UpgradeTls(wait) => {
                    client_waits.push(("tls", wait));
                    assert!(server_upgrading);
                    server.tls_established().unwrap();
                    client.tls_established().unwrap();
                    server_upgrading = false;
                }
                Next::AwaitApp => panic!("QUIT was queued"),
                Next::Closed(reason) => {
                    done = Some(reason);
                    break;
                }
            }
        }
        if done.is_some() && server.is_closed() {
            break;
        }
    }
    assert_eq!(done, Some(CloseReason::Quit));
    assert_eq!(server.poll(), Next::Closed(CloseReason::Quit));
    assert!(client.is_secure() && server.is_secure());
    for (side, waits, read, tls) in [
        ("server", &server_waits, 700, 5),
        ("client", &client_waits, 30, 7),
    ] {
        assert!(waits.iter().any(|(kind, _)| *kind == "tls"), "{side}");
        for (kind, wait) in waits.iter() {
            let expected = if *kind == "tls" { tls } else { read };
            assert_eq!(
                wait.timeout(),
                Duration::from_secs(expected),
                "{side} {kind}"
            );
            assert!(
                wait.timeout() > Duration::ZERO && wait.timeout() < Duration::from_secs(86_400)
            );
        }
    }
}

#[test]
fn a_tls_handshake_that_times_out_or_fails_ends_the_session() {
    // Server: the handshake's deadline passes.
    let mut conn =
        server::Connection::new(server::Config::default().with_tls(TlsMode::Opportunistic));
    conn.receive(b"STLS\r\n");
    let (_, rest) = server_drain(&mut conn);
    assert!(matches!(rest, Next::UpgradeTls(_)));
    conn.handle_timeout();
    assert_eq!(
        server_drain(&mut conn),
        (String::new(), Next::Closed(CloseReason::Timeout))
    );

    // Client: the handshake times out, or fails.
    for (timeout, error, reason) in [
        (true, client::Error::Timeout, CloseReason::Timeout),
        (
            false,
            client::Error::ConnectionLost,
            CloseReason::ConnectionLost,
        ),
    ] {
        let mut conn = client::Connection::new(client::Config::default().with_password("a", "b"));
        conn.receive(b"+OK hi\r\n+OK\r\nSTLS\r\n.\r\n");
        while !matches!(conn.poll(), Next::Read(_)) {}
        conn.receive(b"+OK go\r\n");
        let mut events = Vec::new();
        loop {
            match conn.poll() {
                Next::Event(event) => events.push(event),
                Next::UpgradeTls(wait) => {
                    assert_eq!(
                        wait.timeout(),
                        mail_wire::session::DEFAULT_TLS_HANDSHAKE_TIMEOUT
                    );
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        if timeout {
            conn.handle_timeout();
        } else {
            conn.handle_close();
        }
        assert_eq!(conn.poll(), Next::Event(client::Event::Failed(error)));
        assert_eq!(conn.poll(), Next::Closed(reason));
        assert!(!conn.is_secure());
    }
}

#[test]
fn a_timeout_is_ignored_while_the_application_has_the_turn() {
    // The client, logged in with nothing queued.
    let mut conn = client::Connection::new(
        client::Config::default()
            .with_password("a", "b")
            .with_tls(TlsMode::Implicit),
    );
    conn.receive(b"+OK ready\r\n-ERR\r\n+OK\r\n+OK\r\n");
    while conn.poll() != Next::AwaitApp {}
    conn.handle_timeout();
    assert_eq!(conn.poll(), Next::AwaitApp);
    conn.noop().unwrap();
    assert_eq!(
        conn.poll(),
        Next::Transmit(bytes::Bytes::from_static(b"NOOP\r\n"))
    );
    assert!(matches!(conn.poll(), Next::Read(_)));
    conn.handle_timeout();
    assert_eq!(
        conn.poll(),
        Next::Event(client::Event::Failed(client::Error::Timeout))
    );
    assert_eq!(conn.poll(), Next::Closed(CloseReason::Timeout));

    // The server, while a message is being streamed.
    let mut conn = server_logged_in(server::Config::default(), &[5]);
    conn.receive(b"RETR 1\r\n");
    assert!(matches!(conn.poll(), Next::Event(Event::Retrieve(_))));
    conn.send_message_chunk(b"abc").unwrap();
    assert_eq!(
        server_drain(&mut conn),
        ("+OK 5 octets\r\nabc".into(), Next::AwaitApp)
    );
    conn.handle_timeout();
    conn.end_message().unwrap();
    let (output, rest) = server_drain(&mut conn);
    assert_eq!(output, "\r\n.\r\n");
    assert!(matches!(rest, Next::Read(_)));
}

// ----- Closed: once, after every event and transmit, and for good -----

/// Whatever is called after the end, `poll` says the same `Closed` and nothing else.
fn assert_closed_for_good<E: std::fmt::Debug + PartialEq>(
    poll: &mut dyn FnMut() -> Next<E>,
    poke: &mut dyn FnMut(),
    reason: CloseReason,
) {
    for _ in 0..3 {
        assert_eq!(poll(), Next::Closed(reason));
        poke();
    }
    assert_eq!(poll(), Next::Closed(reason));
}

#[test]
fn server_closed_comes_once_after_the_last_transmit_and_stays() {
    let mut conn = server_logged_in(server::Config::default(), &[10]);
    conn.receive(b"DELE 1\r\nQUIT\r\nNOOP\r\n");
    let mut seen = Vec::new();
    loop {
        match conn.poll() {
            Next::Event(Event::Commit { .. }) => {
                seen.push("commit".to_owned());
                conn.commit_succeeded().unwrap();
            }
            Next::Transmit(bytes) => seen.push(String::from_utf8_lossy(&bytes).into_owned()),
            Next::Closed(reason) => {
                seen.push(format!("closed {reason}"));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // The commit decision comes as soon as QUIT is processed; the replies follow in order,
    // and the end after them.
    assert_eq!(
        seen,
        [
            "commit",
            "+OK message 1 deleted\r\n+OK POP3 server signing off (maildrop empty)\r\n",
            "closed quit"
        ]
    );
    let poke_conn = |conn: &mut server::Connection| {
        conn.receive(b"NOOP\r\n");
        conn.handle_timeout();
        conn.handle_close();
        conn.shutdown();
        assert_eq!(conn.tls_established(), Err(server::UsageError::Closed));
    };
    for _ in 0..3 {
        assert_eq!(conn.poll(), Next::Closed(CloseReason::Quit));
        poke_conn(&mut conn);
    }
    assert_eq!(conn.poll(), Next::Closed(CloseReason::Quit));
    assert_eq!(conn.discarded_deletions(), 0);
}

#[test]
fn client_closed_comes_once_after_the_last_event_and_stays() {
    let mut conn = client::Connection::new(
        client::Config::default()
            .with_password("a", "b")
            .with_tls(TlsMode::Implicit),
    );
    conn.receive(b"+OK ready\r\n-ERR\r\n+OK\r\n+OK\r\n");
    while conn.poll() != Next::AwaitApp {}
    conn.quit().unwrap();
    assert!(matches!(conn.poll(), Next::Transmit(_)));
    conn.receive(b"+OK bye\r\n");
    assert!(matches!(conn.poll(), Next::Event(client::Event::Quit(_))));
    let conn = std::cell::RefCell::new(conn);
    assert_closed_for_good(
        &mut || conn.borrow_mut().poll(),
        &mut || {
            let mut conn = conn.borrow_mut();
            conn.receive(b"+OK more\r\n");
            conn.handle_timeout();
            conn.handle_close();
            assert_eq!(conn.noop(), Err(client::UsageError::Closed));
            assert_eq!(
                conn.tls_established(),
                Err(client::UsageError::NoTlsUpgrade)
            );
        },
        CloseReason::Quit,
    );
}

#[test]
fn client_failure_then_drop_reports_one_failure_and_one_end() {
    // A protocol violation ends the session at once; a later drop changes nothing.
    let mut conn = client::Connection::new(client::Config::default().with_password("a", "b"));
    conn.receive(b"220 not pop3\r\n");
    conn.handle_close();
    let mut seen = Vec::new();
    loop {
        match conn.poll() {
            Next::Event(event) => seen.push(format!("{event:?}")),
            Next::Closed(reason) => {
                seen.push(format!("closed {reason}"));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("Failed(ProtocolViolation("));
    assert_eq!(seen[1], "closed protocol violation");
    assert_eq!(conn.poll(), Next::Closed(CloseReason::ProtocolViolation));
}

// ----- The server's graceful shutdown -----

#[test]
fn shutdown_of_an_idle_session_closes_at_once_without_a_response_or_deletion() {
    // Before login, after the greeting.
    let mut conn = server::Connection::new(server::Config::default());
    let (greeting, _) = server_drain(&mut conn);
    assert_eq!(greeting, "+OK POP3 server ready\r\n");
    conn.shutdown();
    assert_eq!(conn.poll(), Next::Closed(CloseReason::Shutdown));

    // Logged in with a deletion mark: nothing is deleted (invariant 6).
    let mut conn = server_logged_in(server::Config::default(), &[10, 20]);
    conn.receive(b"DELE 2\r\n");
    assert_eq!(server_drain(&mut conn).0, "+OK message 2 deleted\r\n");
    conn.shutdown();
    assert_eq!(conn.poll(), Next::Closed(CloseReason::Shutdown));
    assert_eq!(conn.discarded_deletions(), 1);
}

#[test]
fn shutdown_answers_the_next_command_after_the_message_being_streamed() {
    let mut conn = server_logged_in(server::Config::default(), &[8, 20]);
    conn.receive(b"DELE 2\r\nRETR 1\r\nSTAT\r\nNOOP\r\n");
    let mut output = String::new();
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => output.push_str(&String::from_utf8_lossy(&bytes)),
            Next::Event(Event::Retrieve(_)) => break,
            other => panic!("{other:?}"),
        }
    }
    conn.send_message_chunk(b"half").unwrap();
    conn.shutdown();
    let (more, rest) = server_drain(&mut conn);
    output.push_str(&more);
    assert_eq!(rest, Next::AwaitApp, "the message is finished first");
    conn.send_message_chunk(b" two\r\n").unwrap();
    conn.end_message().unwrap();
    let (more, rest) = server_drain(&mut conn);
    output.push_str(&more);
    assert_eq!(rest, Next::Closed(CloseReason::Shutdown));
    assert_eq!(
        output,
        "+OK message 2 deleted\r\n+OK 8 octets\r\nhalf two\r\n.\r\n\
         -ERR [SYS/TEMP] server shutting down\r\n"
    );
    assert_eq!(conn.discarded_deletions(), 1);
}

#[test]
fn shutdown_lets_a_pending_decision_be_answered() {
    // A login: its answer goes out, then the idle session ends.
    let mut conn = server::Connection::new(server::Config::default().with_tls(TlsMode::Implicit));
    conn.receive(b"USER u\r\nPASS p\r\n");
    loop {
        match conn.poll() {
            Next::Transmit(_) => {}
            Next::Event(Event::Login(_)) => break,
            other => panic!("{other:?}"),
        }
    }
    conn.shutdown();
    assert_eq!(
        server_drain(&mut conn),
        (
            "+OK POP3 server ready\r\n+OK send PASS\r\n".into(),
            Next::AwaitApp
        )
    );
    conn.accept(maildrop(&[1])).unwrap();
    assert_eq!(
        server_drain(&mut conn),
        (
            "+OK maildrop has 1 message (1 octets)\r\n".to_owned(),
            Next::Closed(CloseReason::Shutdown)
        )
    );

    // QUIT: the commit decided before the shutdown still happens (RFC 1939 section 6).
    let mut conn = server_logged_in(server::Config::default(), &[1, 2]);
    conn.receive(b"DELE 1\r\nQUIT\r\n");
    let deleted = loop {
        match conn.poll() {
            Next::Transmit(_) => {}
            Next::Event(Event::Commit { deleted }) => break deleted,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(deleted.len(), 1);
    conn.shutdown();
    conn.commit_succeeded().unwrap();
    assert_eq!(
        server_drain(&mut conn),
        (
            "+OK message 1 deleted\r\n+OK POP3 server signing off (1 message left)\r\n".to_owned(),
            Next::Closed(CloseReason::Quit)
        )
    );
    assert_eq!(conn.discarded_deletions(), 0);
}

// ----- No credential in any Debug output (invariant 10) -----

const SECRET: &str = "s3cr3t-Pa55";

/// `shown` holds neither the secret nor any base64 form of it.
fn assert_hidden(shown: &str, base64_forms: &[String]) {
    assert!(!shown.contains(SECRET), "{shown}");
    for form in base64_forms {
        assert!(!shown.contains(form.as_str()), "{form} in {shown}");
    }
}

#[test]
fn invariant_10_debug_of_a_server_mid_exchange_shows_no_credentials() {
    let plain = base64(format!("\0alice\0{SECRET}").as_bytes());
    let password = base64(SECRET.as_bytes());
    let forms = [plain.clone(), password.clone()];
    let config = server::Config::default()
        .with_tls(TlsMode::Implicit)
        .with_apop_timestamp(pop3_proto::Timestamp::new("<1.2@example.org>").unwrap())
        .with_sasl_mechanisms([
            pop3_proto::Mechanism::Plain,
            pop3_proto::Mechanism::Login,
            pop3_proto::Mechanism::new("X-RELAYED").unwrap(),
        ]);
    let digest = pop3_proto::Timestamp::new("<1.2@example.org>")
        .unwrap()
        .digest(SECRET.as_bytes());
    let inputs = [
        format!("USER alice\r\nPASS {SECRET}\r\n"),
        format!("APOP alice {digest}\r\n"),
        format!("AUTH PLAIN {plain}\r\n"),
        format!("AUTH PLAIN\r\n{plain}\r\n"),
        format!("AUTH LOGIN\r\n{}\r\n{password}\r\n", base64(b"alice")),
        format!("AUTH X-RELAYED {password}\r\n"),
    ];
    for input in inputs {
        let mut conn = server::Connection::new(config.clone());
        // Byte by byte: the Debug output is checked at every point of the exchange.
        let mut shown = Vec::new();
        for &byte in input.as_bytes() {
            conn.receive(&[byte]);
            shown.push(format!("{conn:?}"));
            loop {
                match conn.poll() {
                    Next::Event(event) => {
                        assert!(event.is_decision());
                        if let Event::Login(Login::Apop(apop)) = &event {
                            assert!(apop.verify(SECRET.as_bytes()));
                        }
                        shown.push(format!("{event:?} {conn:?}"));
                        assert_eq!(conn.poll(), Next::AwaitApp);
                        shown.push(format!("{conn:?}"));
                        break;
                    }
                    Next::Transmit(_) => {}
                    _ => break,
                }
            }
        }
        assert!(
            shown
                .iter()
                .any(|s| s.contains("AuthStep") || s.contains("Login")),
            "{input}"
        );
        assert_hidden(&shown.join("\n"), &forms);
    }
    // Commands as parsed: PASS and AUTH's initial response are hidden too.
    for line in [
        format!("PASS {SECRET}\r\n"),
        format!("AUTH PLAIN {plain}\r\n"),
    ] {
        let (command, _) = Command::parse(&bytes::Bytes::from(line), &Limits::default()).unwrap();
        assert_hidden(&format!("{command:?}"), &forms);
    }
}

#[test]
fn invariant_10_debug_of_a_client_with_credentials_queued_shows_none() {
    let plain = base64(format!("\0alice\0{SECRET}").as_bytes());
    let forms = [plain, base64(SECRET.as_bytes())];
    let mut conn = client::Connection::new(
        client::Config::default()
            .with_password("alice", SECRET)
            .with_tls(TlsMode::Implicit),
    );
    conn.receive(b"+OK ready\r\n+OK\r\nSASL PLAIN\r\n.\r\n");
    let mut shown = vec![format!("{conn:?}")];
    loop {
        match conn.poll() {
            // The AUTH line is written by now, and not yet handed out.
            Next::Event(event) => shown.push(format!("{event:?} {conn:?}")),
            Next::Transmit(bytes) => {
                let wire = String::from_utf8_lossy(&bytes).into_owned();
                assert!(
                    wire.contains(&forms[0]),
                    "the credentials do go out: {wire}"
                );
                shown.push(format!("{conn:?}"));
            }
            _ => break,
        }
    }
    assert!(shown.len() >= 4, "{shown:?}");
    assert_hidden(&shown.join("\n"), &forms);
}

// ----- Decisions -----

#[test]
fn only_server_decisions_are_decisions() {
    let mut conn = server::Connection::new(
        server::Config::default()
            .with_tls(TlsMode::Implicit)
            .with_sasl_mechanisms([pop3_proto::Mechanism::new("X-RELAYED").unwrap()]),
    );
    conn.receive(b"AUTH X-RELAYED\r\n");
    let mut kinds = Vec::new();
    loop {
        match conn.poll() {
            Next::Transmit(_) => {}
            Next::Event(event) => {
                kinds.push((format!("{event:?}"), event.is_decision()));
                match event {
                    Event::AuthStep { response: None, .. } => conn.sasl_challenge(b"go").unwrap(),
                    Event::AuthStep { .. } => conn.accept(maildrop(&[4])).unwrap(),
                    Event::Retrieve(_) => conn.end_message().unwrap(),
                    Event::Commit { .. } => conn.commit_succeeded().unwrap(),
                    _ => {}
                }
            }
            Next::Read(_) if kinds.len() == 1 => conn.receive(b"*\r\nAUTH X-RELAYED =\r\n"),
            Next::Read(_) if kinds.len() == 3 => conn.receive(b"TOP 1 0\r\nQUIT\r\n"),
            Next::Closed(reason) => {
                assert_eq!(reason, CloseReason::Quit);
                break;
            }
            other => panic!("{other:?} after {kinds:?}"),
        }
    }
    let decisions: Vec<bool> = kinds.iter().map(|(_, decision)| *decision).collect();
    assert_eq!(decisions, [true, false, true, true, true], "{kinds:?}");
}

/// A shutdown while the tail of an overlong line is still to come: once the tail arrives
/// the session is idle, and it ends there, not at the client's next bytes or the autologout
/// (found by the `pop3_server` fuzz target).
#[test]
fn a_shutdown_ends_the_session_once_an_overlong_line_has_passed() {
    let mut conn = server::Connection::new(server::Config::default());
    let (greeting, _) = server_drain(&mut conn);
    assert!(greeting.starts_with("+OK"));
    conn.receive(&[b'A'; 5000]);
    let (answer, rest) = server_drain(&mut conn);
    assert!(answer.starts_with("-ERR"), "{answer}");
    assert!(matches!(rest, Next::Read(_)), "{rest:?}");
    conn.shutdown();
    assert!(
        matches!(conn.poll(), Next::Read(_)),
        "the line is not over yet"
    );
    conn.receive(b"rest\r\n");
    let (answer, rest) = server_drain(&mut conn);
    assert_eq!(answer, "");
    assert_eq!(rest, Next::Closed(CloseReason::Shutdown));
    assert_eq!(conn.discarded_deletions(), 0);
}
