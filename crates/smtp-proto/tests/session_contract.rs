//! The session contract of ARCHITECTURE.md as both machines keep it, beyond what the
//! transcripts show: the client's TLS upgrade has a deadline, waits do not move for bytes
//! that complete nothing, and `Closed` is terminal.

use std::time::Duration;

use smtp_proto::client::{self, Error, Event as ClientEvent};
use smtp_proto::server::{self, Event as ServerEvent};
use smtp_proto::{CloseReason, Domain, Next, TlsMode, Wait};

/// Polls the client until it waits; gives what it wrote, its events and how it waits.
fn client_until_wait(
    conn: &mut client::Connection,
) -> (Vec<u8>, Vec<ClientEvent>, Next<ClientEvent>) {
    let (mut out, mut events) = (Vec::new(), Vec::new());
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => out.extend_from_slice(&bytes),
            Next::Event(event) => events.push(event),
            next => return (out, events, next),
        }
    }
}

/// Polls the server until it waits, accepting every decision; gives what it wrote and how it
/// waits.
fn server_until_wait(conn: &mut server::Connection) -> (Vec<u8>, Next<ServerEvent>) {
    let mut out = Vec::new();
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => out.extend_from_slice(&bytes),
            Next::Event(event) if event.is_decision() => conn.accept().unwrap(),
            Next::Event(_) => {}
            next => return (out, next),
        }
    }
}

fn usable(wait: Wait) -> bool {
    !wait.timeout().is_zero() && wait.timeout() <= Duration::from_secs(3600)
}

/// With the default TLS mode (opportunistic) and a server that offers STARTTLS, the client
/// asks for the upgrade with a deadline; an adapter that never completes the handshake gets
/// the timeout, and the session ends. (Before, the upgrade was an event without a deadline:
/// a loop that ignored it waited forever.)
#[test]
fn the_default_client_upgrades_with_a_deadline_and_times_out() {
    let mut client = client::Connection::new(client::Config::default());
    assert_eq!(client.config().tls, TlsMode::Opportunistic);
    let mut server = server::Connection::new(
        server::Config::new(Domain::new("mx.example").unwrap()).with_tls(TlsMode::Opportunistic),
    );
    let (mut client_upgrade, mut server_upgrade) = (None, None);
    for _ in 0..20 {
        let (to_client, server_next) = server_until_wait(&mut server);
        client.receive(&to_client);
        let (to_server, _, client_next) = client_until_wait(&mut client);
        server.receive(&to_server);
        match server_next {
            Next::UpgradeTls(wait) => server_upgrade = Some(wait),
            Next::Read(wait) => assert!(usable(wait)),
            other => panic!("server: {other:?}"),
        }
        match client_next {
            Next::UpgradeTls(wait) => client_upgrade = Some(wait),
            Next::Read(wait) => assert!(usable(wait)),
            other => panic!("client: {other:?}"),
        }
        if client_upgrade.is_some() && server_upgrade.is_some() {
            break;
        }
    }
    let client_wait = client_upgrade.expect("the client asks for the upgrade");
    let server_wait = server_upgrade.expect("the server asks for the upgrade");
    assert_eq!(client_wait.timeout(), Duration::from_secs(60));
    assert_eq!(server_wait.timeout(), Duration::from_secs(60));
    // Asked again, the same wait: its deadline stands.
    assert_eq!(client.poll(), Next::UpgradeTls(client_wait));

    // The handshake never completes.
    client.handle_timeout();
    let (out, events, next) = client_until_wait(&mut client);
    assert!(
        out.is_empty(),
        "nothing is written in the middle of a handshake"
    );
    assert_eq!(events, [ClientEvent::Failed(Error::Timeout)]);
    assert_eq!(next, Next::Closed(CloseReason::Timeout));
    server.handle_timeout();
    let (out, next) = server_until_wait(&mut server);
    assert!(
        out.is_empty(),
        "no 421 in plain text in the middle of a handshake"
    );
    assert!(matches!(next, Next::Closed(CloseReason::Timeout)));
}

/// The client's waits move only for whole replies: a multi-line reply trickled one byte at a
/// time keeps the wait it began with until its last line is in.
#[test]
fn a_trickled_reply_does_not_move_the_client_deadline() {
    let config = client::Config::default().with_tls(TlsMode::Disabled);
    let mut conn = client::Connection::new(config);
    let (_, _, next) = client_until_wait(&mut conn);
    let Next::Read(first) = next else {
        panic!("{next:?}")
    };
    assert_eq!(first.timeout(), Duration::from_secs(300));
    let greeting = b"220-mx.example ESMTP\r\n220-still greeting\r\n220 done\r\n";
    for &b in &greeting[..greeting.len() - 1] {
        conn.receive(&[b]);
        assert_eq!(conn.poll(), Next::Read(first), "a byte moved the deadline");
    }
    conn.receive(b"\n");
    let (out, events, next) = client_until_wait(&mut conn);
    assert!(matches!(events[..], [ClientEvent::Greeting(_)]));
    assert_eq!(out, b"EHLO localhost\r\n");
    let Next::Read(second) = next else {
        panic!("{next:?}")
    };
    assert_ne!(
        second.id(),
        first.id(),
        "the whole reply satisfied the wait"
    );
}

/// Waits are configurable: each RFC 5321 section 4.5.3.2 timeout comes from the config.
#[test]
fn client_timeouts_come_from_the_config() {
    let config = client::Config::default()
        .with_tls(TlsMode::Disabled)
        .with_pipelining(false)
        .with_chunking(false)
        .with_command_timeout(Duration::from_secs(11))
        .with_data_initiation_timeout(Duration::from_secs(12))
        .with_data_termination_timeout(Duration::from_secs(13));
    let mut conn = client::Connection::new(config);
    let mut timeouts = Vec::new();
    let mut note = |next: Next<ClientEvent>| match next {
        Next::Read(wait) => timeouts.push(wait.timeout().as_secs()),
        other => panic!("{other:?}"),
    };
    note(client_until_wait(&mut conn).2);
    conn.receive(b"220 mx\r\n");
    note(client_until_wait(&mut conn).2);
    conn.receive(b"250 mx\r\n");
    assert_eq!(client_until_wait(&mut conn).2, Next::AwaitApp);
    let to = smtp_proto::ForwardPath::Mailbox(smtp_proto::Mailbox::parse("b@c.example").unwrap());
    conn.send_mail(client::Envelope::new(
        smtp_proto::ReversePath::Null,
        vec![to],
    ))
    .unwrap();
    note(client_until_wait(&mut conn).2);
    conn.receive(b"250 OK\r\n");
    note(client_until_wait(&mut conn).2);
    conn.receive(b"250 OK\r\n");
    note(client_until_wait(&mut conn).2);
    conn.receive(b"354 go\r\n");
    let (_, events, next) = client_until_wait(&mut conn);
    assert_eq!(events, [ClientEvent::SendBody]);
    assert_eq!(
        next,
        Next::AwaitApp,
        "the application's turn: no timer runs"
    );
    // Not waiting on the server: a timeout is ignored.
    conn.handle_timeout();
    assert_eq!(conn.poll(), Next::AwaitApp);
    conn.end_body().unwrap();
    note(client_until_wait(&mut conn).2);
    assert_eq!(timeouts, [11, 11, 11, 11, 12, 13]);
}

/// `Closed` comes once, after every event and transmit, and every later poll says the same,
/// whatever the application or the peer does after it.
#[test]
fn the_client_closes_once() {
    let config = client::Config::default().with_tls(TlsMode::Disabled);
    let mut conn = client::Connection::new(config);
    conn.receive(b"220 mx\r\n250 mx\r\n");
    let (_, _, next) = client_until_wait(&mut conn);
    assert_eq!(next, Next::AwaitApp);
    conn.quit().unwrap();
    let (out, _, _) = client_until_wait(&mut conn);
    assert_eq!(out, b"QUIT\r\n");
    conn.receive(b"221 bye\r\n250 more after the end\r\n");
    let (out, events, next) = client_until_wait(&mut conn);
    assert!(out.is_empty() && events.is_empty());
    assert_eq!(next, Next::Closed(CloseReason::Quit));
    assert!(conn.is_closed());
    conn.receive(b"421 late\r\n");
    conn.handle_timeout();
    conn.handle_close();
    for _ in 0..3 {
        assert_eq!(conn.poll(), Next::Closed(CloseReason::Quit));
    }
    assert_eq!(conn.close_reason(), Some(CloseReason::Quit));
}

/// The connection drops mid-session: `Failed(ConnectionLost)`, then `Closed(ConnectionLost)`;
/// after QUIT was sent, the same drop is the end QUIT asked for.
#[test]
fn a_dropped_connection_fails_unless_quit_was_sent() {
    let config = client::Config::default().with_tls(TlsMode::Disabled);
    let mut conn = client::Connection::new(config.clone());
    conn.receive(b"220 mx\r\n");
    let _ = client_until_wait(&mut conn);
    conn.handle_close();
    let (out, events, next) = client_until_wait(&mut conn);
    assert!(out.is_empty());
    assert_eq!(events, [ClientEvent::Failed(Error::ConnectionLost)]);
    assert_eq!(next, Next::Closed(CloseReason::ConnectionLost));

    let mut conn = client::Connection::new(config);
    conn.receive(b"220 mx\r\n250 mx\r\n");
    let _ = client_until_wait(&mut conn);
    conn.quit().unwrap();
    let _ = client_until_wait(&mut conn);
    conn.handle_close();
    let (_, events, next) = client_until_wait(&mut conn);
    assert!(events.is_empty());
    assert_eq!(next, Next::Closed(CloseReason::Quit));
}
