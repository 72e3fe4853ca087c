//! The POP3 client machine driven by the canonical loop (`common::run`): arbitrary server
//! bytes (raw, canned responses, or an opening that gets past login) in arbitrary chunks, TLS
//! upgrades that succeed, fail or time out, deadlines passing at points the input chooses,
//! and an application that queues commands (at `AwaitApp`, on events, or while a read is
//! pending), quits or gives up. Besides the session contract: no panic, at most one
//! `Event::Failed`, before `Closed`, and no credentials before TLS unless the configuration
//! allows them (ARCHITECTURE.md security invariant 7).
#![no_main]

mod common;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use pop3_proto::client::{Config, Connection, Event, UsageError};
use pop3_proto::{CloseReason, MsgNumber, TlsMode};

use common::{App, choose, some_bytes};

#[derive(Debug, Arbitrary)]
struct Setup {
    tls: u8,
    plaintext: bool,
    oauth: bool,
    window: u8,
    short_timeouts: bool,
}

/// Server text a fuzzer would take long to find: openings that get the client past login
/// (with the CAPA asked again once logged in, and through login methods refused in turn),
/// so the fuzzer spends its time on the TRANSACTION state (listings, bodies, pipelining)
/// as well as on the login, and single responses.
const CANNED: &[&[u8]] = &[
    b"+OK <1.2@fuzz>\r\n-ERR\r\n+OK\r\n",
    b"+OK\r\n+OK\r\nUSER\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK\r\nPIPELINING\r\n.\r\n",
    b"+OK\r\n+OK\r\nSTLS\r\nSASL PLAIN XOAUTH2\r\n.\r\n+OK\r\n",
    b"+OK\r\n+OK\r\nSASL PLAIN XOAUTH2\r\n.\r\n+ \r\n+OK\r\n+OK\r\nPIPELINING\r\n.\r\n",
    b"+OK <1.2@fuzz>\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n-ERR\r\n-ERR\r\n+OK\r\n+OK\r\n-ERR\r\n",
    b"+OK\r\n",
    b"-ERR\r\n",
    b"-ERR [IN-USE] locked\r\n",
    b"-ERR [SYS/TEMP] later\r\n",
    b"+ \r\n",
    b"+OK 2 320\r\n",
    b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n",
    b"+OK\r\n1 uid-a\r\n2 uid-b\r\n.\r\n",
    b"+OK 1 uid-a\r\n",
    b"+OK 120 octets\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n",
    b"+OK\r\nbody line\r\n",
    b".\r\n",
    b"+OK bye\r\n",
];

struct Client {
    plaintext: bool,
    /// Everything written before TLS.
    plain_written: Vec<u8>,
    /// `Event::Failed` seen.
    failed: usize,
}

/// The application queues a command the input chooses (refusals are fine: not logged in,
/// quitting, queue full).
fn request(conn: &mut Connection, u: &mut Unstructured<'_>) -> Result<(), UsageError> {
    let n: u32 = u.arbitrary().unwrap_or(1);
    let msg = MsgNumber::new(n.max(1)).unwrap();
    match choose(u, 10) {
        0 => conn.stat(),
        1 => conn.list(None),
        2 => conn.list(Some(msg)),
        3 => conn.uidl(None),
        4 => conn.uidl(Some(msg)),
        5 => conn.retr(msg),
        6 => conn.top(msg, n % 10),
        7 => conn.dele(msg),
        8 => conn.rset(),
        _ => conn.noop(),
    }
}

impl App<Connection> for Client {
    fn peer_bytes<'a>(&mut self, u: &mut Unstructured<'a>) -> &'a [u8] {
        if choose(u, 2) == 0 {
            CANNED[usize::from(choose(u, CANNED.len() as u8))]
        } else {
            some_bytes(u, 300)
        }
    }

    fn transmit(&mut self, conn: &Connection, bytes: &[u8]) {
        if !conn.is_secure() {
            self.plain_written.extend_from_slice(bytes);
            if !self.plaintext {
                // ARCHITECTURE.md security invariant 7: no secret in the clear.
                assert!(!contains(&self.plain_written, b"PASSWORD"));
                assert!(!contains(&self.plain_written, b"AUTH "));
            }
        }
    }

    fn event(&mut self, conn: &mut Connection, event: Event, u: &mut Unstructured<'_>) {
        assert!(!event.is_decision(), "{event:?} is no decision");
        assert!(
            self.failed == 0,
            "{event:?} after Event::Failed (Closed must follow it)"
        );
        if matches!(event, Event::Failed(_)) {
            self.failed += 1;
        } else if choose(u, 4) == 0 {
            let _ = request(conn, u);
        }
    }

    fn await_app(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) -> bool {
        if u.is_empty() {
            return false;
        }
        assert!(conn.is_authenticated(), "AwaitApp before login");
        match choose(u, 8) {
            0..=4 => request(conn, u).expect("a command when idle"),
            5 => conn.quit().expect("QUIT when idle"),
            // The application gives up.
            _ => return false,
        }
        true
    }

    fn while_reading(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) {
        match choose(u, 4) {
            0 => {
                let _ = conn.quit();
            }
            1 => assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade)),
            _ => {
                let _ = request(conn, u);
            }
        }
    }

    fn closed(&mut self, conn: &mut Connection, reason: CloseReason) {
        assert!(conn.is_closed());
        assert!(self.failed <= 1, "{} Event::Failed", self.failed);
        if self.failed == 1 {
            assert_ne!(
                reason,
                CloseReason::Quit,
                "Event::Failed, then Closed(Quit)"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let tls = match setup.tls % 4 {
        0 => TlsMode::Implicit,
        1 => TlsMode::Required,
        2 => TlsMode::Opportunistic,
        _ => TlsMode::Disabled,
    };
    let mut config = Config::default()
        .with_tls(tls)
        .with_plaintext_auth_without_tls(setup.plaintext)
        .with_pipelining_window(usize::from(setup.window));
    config = if setup.oauth {
        config.with_oauth2("u@example.org", "PASSWORD")
    } else {
        config.with_password("user", "PASSWORD")
    };
    if setup.short_timeouts {
        config = config
            .with_response_timeout(core::time::Duration::from_millis(1))
            .with_tls_handshake_timeout(core::time::Duration::from_nanos(1));
    }
    let mut client = Client {
        plaintext: setup.plaintext,
        plain_written: Vec::new(),
        failed: 0,
    };
    let mut conn = Connection::new(config);
    common::run(&mut conn, &mut client, &mut u);
});
