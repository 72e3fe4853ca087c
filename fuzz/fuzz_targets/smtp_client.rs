//! The SMTP client machine driven by the canonical loop (`common::run`): arbitrary server
//! bytes (raw, or canned replies) in arbitrary chunks, TLS upgrades that succeed, fail or time
//! out, deadlines passing at points the input chooses, and an application that sends mail
//! (envelopes the input makes), pushes bodies in pieces, resets, quits or gives up. Besides
//! the session contract: no panic, at most one `Event::Failed`, before `Closed` and for every
//! failed end, and no AUTH before TLS unless the configuration allows it (ARCHITECTURE.md
//! security invariant 7).
#![no_main]

mod common;

use arbitrary::Unstructured;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event, UsageError};
use smtp_proto::{CloseReason, ForwardPath, Mailbox, ReversePath, TlsMode};

use common::{App, choose, some_bytes};

/// Replies a fuzzer would take long to find, so that deep states are reached.
const CANNED: &[&[u8]] = &[
    b"220 mx ESMTP\r\n",
    b"250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 100\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n",
    b"250-mx\r\n250-PIPELINING\r\n250-BINARYMIME\r\n250 CHUNKING\r\n",
    b"250 mx\r\n",
    b"250 OK\r\n",
    b"250 OK\r\n250 OK\r\n354 Go\r\n",
    b"354 Go\r\n",
    b"334 VXNlcm5hbWU6\r\n",
    b"334 \r\n",
    b"235 OK\r\n",
    b"220 TLS\r\n",
    b"220 TLS\r\n250 injected\r\n",
    b"421 Bye\r\n",
    b"450 Later\r\n",
    b"550 No\r\n",
    b"502 No\r\n",
    b"535 No\r\n",
    b"554 No service\r\n",
    b"221 Bye\r\n",
    b"250-multi\r\n",
];

fn envelope(flags: u8) -> Envelope {
    let local = if flags & 1 != 0 { "jörg" } else { "jane" };
    let from = match Mailbox::parse(format!("{local}@example.com")) {
        Ok(mailbox) if flags & 2 == 0 => ReversePath::Mailbox(mailbox),
        _ => ReversePath::Null,
    };
    let to = (0..usize::from(flags >> 5))
        .map(|i| match Mailbox::parse(format!("r{i}@example.org")) {
            Ok(mailbox) => ForwardPath::Mailbox(mailbox),
            Err(_) => ForwardPath::Postmaster,
        })
        .collect();
    let mut envelope = Envelope::new(from, to)
        .with_8bit_body(flags & 4 != 0)
        .with_binary_body(flags & 8 != 0);
    if flags & 16 != 0 {
        envelope.size_hint = Some(u64::from(flags) * 7);
    }
    envelope
}

struct Client {
    plaintext: bool,
    /// Everything written before TLS and before the session was ready (after it, message
    /// content may say anything).
    plain_written: Vec<u8>,
    /// `Event::Ready` seen.
    ready: bool,
    /// `Event::Failed` seen.
    failed: usize,
}

impl Client {
    /// Pushes a piece of the body, or ends it.
    fn body(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) {
        if choose(u, 4) == 0 {
            conn.end_body().expect("the body is open");
        } else {
            let chunk = Bytes::copy_from_slice(some_bytes(u, 100));
            conn.send_body_chunk(chunk).expect("the body is open");
        }
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
        if !conn.is_secure() && !self.ready {
            self.plain_written.extend_from_slice(bytes);
            if !self.plaintext {
                // ARCHITECTURE.md security invariant 7: no credentials in the clear.
                assert!(
                    !contains(&self.plain_written, b"AUTH "),
                    "AUTH sent before TLS"
                );
            }
        }
    }

    fn event(&mut self, conn: &mut Connection, event: Event, u: &mut Unstructured<'_>) {
        assert!(
            self.failed == 0,
            "{event:?} after Event::Failed (Closed must follow it)"
        );
        match event {
            Event::SendBody => {
                assert!(event.is_decision());
                assert!(conn.wants_body(), "SendBody, and no body wanted");
                // The body now, or at AwaitApp.
                if choose(u, 2) == 0 {
                    self.body(conn, u);
                }
            }
            Event::Failed(_) => self.failed += 1,
            Event::Ready => self.ready = true,
            event => assert!(!event.is_decision(), "{event:?} is no decision"),
        }
    }

    fn await_app(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) -> bool {
        if u.is_empty() {
            return false;
        }
        if conn.wants_body() {
            self.body(conn, u);
            return true;
        }
        match choose(u, 8) {
            0..=3 => {
                let _ = conn.send_mail(envelope(u.arbitrary().unwrap_or(0)));
            }
            4 => {
                let _ = conn.reset();
            }
            5 => conn.quit().expect("quit when idle"),
            // The application gives up.
            _ => return false,
        }
        true
    }

    fn while_reading(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) {
        match choose(u, 4) {
            0 => {
                // Quitting while replies are in flight is allowed, except inside a body.
                let result = conn.quit();
                assert!(
                    matches!(result, Ok(()) | Err(UsageError::BodyInProgress)),
                    "quit refused: {result:?}"
                );
            }
            1 => {
                let _ = conn.send_mail(envelope(u.arbitrary().unwrap_or(0)));
            }
            2 => assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade)),
            _ => {
                let _ = conn.reset();
            }
        }
    }

    fn closed(&mut self, conn: &mut Connection, reason: CloseReason) {
        assert!(conn.is_closed());
        assert_eq!(conn.close_reason(), Some(reason));
        assert!(self.failed <= 1, "{} Event::Failed", self.failed);
        // A failure is told before the end; the end that says nothing went wrong had none.
        if self.failed == 1 {
            assert_ne!(
                reason,
                CloseReason::Quit,
                "Event::Failed, then Closed(Quit)"
            );
        }
        if matches!(
            reason,
            CloseReason::Failed
                | CloseReason::Timeout
                | CloseReason::ProtocolViolation
                | CloseReason::InputOverflow
                | CloseReason::ServiceClosing
        ) {
            assert_eq!(self.failed, 1, "Closed({reason:?}) without Event::Failed");
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
    let setup: u8 = u.arbitrary().unwrap_or(0);
    let more: u8 = u.arbitrary().unwrap_or(0);
    let tls = match setup % 4 {
        0 => TlsMode::Disabled,
        1 => TlsMode::Opportunistic,
        2 => TlsMode::Required,
        _ => TlsMode::Implicit,
    };
    let mut config = Config::new(EhloName::new("client.example").unwrap())
        .with_tls(tls)
        .with_pipelining(setup & 4 != 0)
        .with_chunking(setup & 8 != 0)
        .with_plaintext_auth_without_tls(setup & 16 != 0)
        .with_bdat_chunk_size(usize::from(more & 0x1f) + 1)
        .with_transmit_bound(64);
    if setup & 32 != 0 {
        config = config.with_password("user", "pass");
    } else if setup & 64 != 0 {
        config = config.with_oauth2("user@example.org", "token");
    }
    if more & 0x20 != 0 {
        config = config
            .with_command_timeout(core::time::Duration::from_secs(1))
            .with_data_initiation_timeout(core::time::Duration::from_millis(1))
            .with_data_block_timeout(core::time::Duration::from_micros(1))
            .with_data_termination_timeout(core::time::Duration::from_secs(86_400))
            .with_tls_handshake_timeout(core::time::Duration::from_nanos(1));
    }
    let mut client = Client {
        plaintext: setup & 16 != 0,
        plain_written: Vec::new(),
        ready: false,
        failed: 0,
    };
    let mut conn = Connection::new(config);
    common::run(&mut conn, &mut client, &mut u);
});
