//! The SMTP server machine driven by the canonical loop (`common::run`): arbitrary client
//! bytes (raw, or canned commands) in arbitrary chunks, TLS upgrades that succeed, fail or
//! time out, deadlines passing at points the input chooses, and an application that answers
//! every decision as the input says: accept, accept with its own reply, reject with 4xx, 5xx
//! or 421, relay a SASL challenge, answer LMTP recipients one by one, or hold the decision
//! until `AwaitApp`. Besides the session contract: no panic, no reply line over 512 octets,
//! never more unread input than the configured bound, a well-formed answer to the pending
//! decision is never refused, and a wrong one is (changing nothing).
#![no_main]

mod common;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use smtp_proto::server::{BareLineEnding, Config, Connection, Decisions, Event, UsageError};
use smtp_proto::{CloseReason, Mechanism, Reply, TlsMode, reply};

use common::{App, choose, some_bytes};

#[derive(Arbitrary, Debug)]
struct Setup {
    tls: u8,
    normalize: bool,
    lmtp: bool,
    small_limits: bool,
    decisions: u8,
    require_auth: bool,
    plaintext: bool,
    short_timeouts: bool,
}

/// Client text a fuzzer would take long to find, so that deep states are reached.
const CANNED: &[&[u8]] = &[
    b"EHLO client.example\r\n",
    b"LHLO client.example\r\n",
    b"HELO client.example\r\n",
    b"MAIL FROM:<a@example.com> SIZE=100 BODY=8BITMIME\r\n",
    b"MAIL FROM:<>\r\n",
    b"RCPT TO:<b@example.org>\r\n",
    b"RCPT TO:<postmaster>\r\n",
    b"DATA\r\n",
    b"Subject: hi\r\n\r\n..dot\r\nbare\nLF\r\n",
    b"\r\n.\r\n",
    b"BDAT 5\r\nhello",
    b"BDAT 7 LAST\r\n world\n",
    b"BDAT 0 LAST\r\n",
    b"STARTTLS\r\n",
    b"STARTTLS\r\nMAIL FROM:<injected@example.com>\r\n",
    b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
    b"AUTH LOGIN\r\n",
    b"dXNlcg==\r\n",
    b"AUTH CRAM-MD5\r\n",
    b"AUTH XOAUTH2\r\n",
    b"*\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"VRFY user\r\n",
    b"EXPN list\r\n",
    b"QUIT\r\n",
];

/// What kind of decision is pending, for the answers that fit it.
#[derive(Debug, Clone, Copy)]
enum Decision {
    /// AuthStart or AuthResponse: a relayed SASL mechanism.
    Relayed,
    /// MessageEnd, with its accepted recipients.
    MessageEnd { recipients: usize },
    /// Any other decision.
    Other,
}

struct Server {
    lmtp: bool,
    max_buffered_input: usize,
    /// Octets of the reply line being written.
    line: usize,
    /// A decision held for `AwaitApp`.
    held: Option<Decision>,
}

impl Server {
    fn answer(&mut self, conn: &mut Connection, decision: Decision, u: &mut Unstructured<'_>) {
        let result = match (choose(u, 10), decision) {
            (0, Decision::MessageEnd { recipients }) if self.lmtp => conn.answer_recipients(
                core::iter::repeat_n(reply!(250, (2, 0, 0), "Message accepted"), recipients),
            ),
            (0, Decision::MessageEnd { .. }) => conn.accept_message("Q1"),
            (0 | 1, _) => conn.accept(),
            (2, _) => conn.accept_with(reply!(250, "OK, as the application says")),
            (3, _) => conn.reject(Reply::temporary_failure()),
            (4, _) => conn.reject(Reply::mailbox_unavailable()),
            // 421: the session closes after it.
            (5, _) => conn.reject(Reply::service_not_available()),
            (6, Decision::Relayed) => conn.sasl_challenge(some_bytes(u, 64)),
            (6, Decision::MessageEnd { recipients }) if self.lmtp => {
                // Each recipient its own answer, 2yz, 4yz or 5yz.
                let replies: Vec<Reply> = (0..recipients)
                    .map(|_| match choose(u, 3) {
                        0 => reply!(250, (2, 0, 0), "Message accepted"),
                        1 => Reply::insufficient_storage(),
                        _ => Reply::mailbox_unavailable(),
                    })
                    .collect();
                conn.answer_recipients(replies)
            }
            (6, _) => conn.reject(Reply::transaction_failed()),
            (7, decision) => {
                // A wrong answer is refused and changes nothing; the right one follows.
                let wrong = match decision {
                    Decision::Relayed => conn.accept_message("Q1"),
                    Decision::MessageEnd { .. } => conn.sasl_challenge(b"challenge"),
                    Decision::Other => conn.accept_message("Q1"),
                };
                assert!(
                    matches!(wrong, Err(UsageError::WrongDecision { .. })),
                    "a wrong answer to {decision:?}: {wrong:?}"
                );
                let not_negative = conn.reject(Reply::ok());
                assert_eq!(not_negative, Err(UsageError::NotNegative));
                let not_positive = conn.accept_with(Reply::temporary_failure());
                assert_eq!(not_positive, Err(UsageError::NotPositive));
                conn.accept()
            }
            (8, _) => conn.reject(reply!(554, (5, 7, 1), "refused by policy")),
            _ => conn.reject(reply!(450, (4, 2, 0), "try again later")),
        };
        result.unwrap_or_else(|error| panic!("answer to {decision:?} refused: {error}"));
    }
}

impl App<Connection> for Server {
    fn peer_bytes<'a>(&mut self, u: &mut Unstructured<'a>) -> &'a [u8] {
        if choose(u, 2) == 0 {
            CANNED[usize::from(choose(u, CANNED.len() as u8))]
        } else {
            some_bytes(u, 600)
        }
    }

    fn transmit(&mut self, _conn: &Connection, bytes: &[u8]) {
        // RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets, CRLF included.
        for &b in bytes {
            self.line += 1;
            assert!(self.line <= 512, "reply line over 512 octets");
            if b == b'\n' {
                self.line = 0;
            }
        }
    }

    fn event(&mut self, conn: &mut Connection, event: Event, u: &mut Unstructured<'_>) {
        assert!(
            self.held.is_none(),
            "{event:?} while a decision is unanswered"
        );
        let decision = match event {
            Event::MessageData(_) | Event::MessageAborted { .. } => {
                assert!(!event.is_decision());
                return;
            }
            Event::AuthStart { .. } | Event::AuthResponse { .. } => Decision::Relayed,
            Event::MessageEnd { recipients, .. } => Decision::MessageEnd { recipients },
            _ => Decision::Other,
        };
        assert!(event.is_decision(), "{event:?} is a decision");
        if choose(u, 4) == 3 {
            self.held = Some(decision);
        } else {
            self.answer(conn, decision, u);
        }
    }

    fn await_app(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) -> bool {
        let decision = self
            .held
            .take()
            .expect("AwaitApp with no decision unanswered");
        if choose(u, 8) == 7 {
            // The application gives up: the connection is dropped, the message (if any)
            // is not delivered.
            return false;
        }
        self.answer(conn, decision, u);
        true
    }

    fn while_reading(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) {
        match choose(u, 4) {
            0 => conn.shutdown(),
            1 => assert_eq!(conn.accept(), Err(UsageError::NoDecisionPending)),
            2 => assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade)),
            _ => {
                // Reading more than the machine holds ends the session, never the process.
                let bytes = some_bytes(u, 600);
                for _ in 0..1024 {
                    conn.receive(bytes);
                    if bytes.is_empty() || conn.buffered_input() == 0 {
                        break;
                    }
                }
            }
        }
        assert!(conn.buffered_input() <= self.max_buffered_input);
    }

    fn closed(&mut self, conn: &mut Connection, reason: CloseReason) {
        assert!(conn.is_closed());
        assert_eq!(conn.close_reason(), Some(reason));
        assert_eq!(conn.pending_transmit(), 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let mut decisions = Decisions::default();
    decisions.greeting = setup.decisions & 1 != 0;
    decisions.hello = setup.decisions & 2 != 0;
    decisions.vrfy = setup.decisions & 4 != 0;
    decisions.expn = setup.decisions & 8 != 0;
    decisions.starttls = setup.decisions & 16 != 0;
    let mut config = Config::default()
        .with_tls(match setup.tls % 4 {
            0 => TlsMode::Disabled,
            1 => TlsMode::Opportunistic,
            2 => TlsMode::Required,
            _ => TlsMode::Implicit,
        })
        .with_sasl_mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::new("CRAM-MD5").expect("valid name"),
        ])
        .with_plaintext_auth_without_tls(setup.plaintext)
        .with_require_auth(setup.require_auth)
        .with_decisions(decisions)
        .with_lmtp(setup.lmtp)
        .with_bare_line_ending(if setup.normalize {
            BareLineEnding::Normalize
        } else {
            BareLineEnding::Reject
        });
    if setup.small_limits {
        config = config
            .with_max_message_size(64)
            .with_max_recipients(2)
            .with_max_errors(4)
            .with_max_buffered_input(256);
    }
    if setup.short_timeouts {
        config = config
            .with_command_timeout(core::time::Duration::from_secs(1))
            .with_data_timeout(core::time::Duration::from_millis(1))
            .with_tls_handshake_timeout(core::time::Duration::from_nanos(1));
    }
    let mut server = Server {
        lmtp: setup.lmtp,
        max_buffered_input: config.max_buffered_input,
        line: 0,
        held: None,
    };
    let mut conn = Connection::new(config);
    common::run(&mut conn, &mut server, &mut u);
});
