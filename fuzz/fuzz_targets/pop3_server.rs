//! The POP3 server machine driven by the canonical loop (`common::run`): arbitrary client
//! bytes (raw, or canned commands) in arbitrary chunks, TLS upgrades that succeed, fail or
//! time out, deadlines passing at points the input chooses, and an application that answers
//! as the input says: accept or reject a login (each refusal), relay a SASL challenge, stream
//! a message in pieces across `AwaitApp` turns or answer that it is unavailable, commit or
//! fail the commit, hold a decision until `AwaitApp`, shut down. Besides the session
//! contract: no panic, a well-formed answer is never refused and a wrong one is, every
//! transmit bounded, and nothing deleted unless QUIT committed (ARCHITECTURE.md security
//! invariant 6).
#![no_main]

mod common;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use pop3_proto::server::{Config, Connection, Event, LoginRefusal, Maildrop, UsageError};
use pop3_proto::{CloseReason, Mechanism, TlsMode, UniqueId};

use common::{App, choose, some_bytes};

#[derive(Debug, Arbitrary)]
struct Setup {
    tls: u8,
    plaintext: bool,
    bare_lf: bool,
    apop: bool,
    small_limits: bool,
    short_timeouts: bool,
}

const MESSAGES: [&[u8]; 3] = [
    b"Subject: a\r\n\r\n.body\r\n.\r\n",
    b"no header, bare\nLF\rand CR\r",
    b"",
];

/// Client text a fuzzer would take long to find, so that deep states are reached.
const CANNED: &[&[u8]] = &[
    b"CAPA\r\n",
    b"USER alice\r\n",
    b"PASS secret\r\n",
    b"USER alice\r\nPASS secret\r\n",
    b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH LOGIN\r\n",
    b"YWxpY2U=\r\n",
    b"AUTH CRAM-MD5\r\n",
    b"AUTH XOAUTH2\r\n",
    b"*\r\n",
    b"STLS\r\n",
    b"STLS\r\nUSER injected\r\n",
    b"STAT\r\n",
    b"LIST\r\n",
    b"LIST 1\r\n",
    b"UIDL\r\n",
    b"UIDL 2\r\n",
    b"RETR 1\r\n",
    b"RETR 2\r\n",
    b"TOP 1 0\r\n",
    b"TOP 2 1\r\n",
    b"DELE 1\r\n",
    b"DELE 3\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"UTF8\r\n",
    b"QUIT\r\n",
];

/// The decision pending, for the answers that fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Login,
    AuthStep,
    /// A message to stream; `started` once content went out.
    Retrieve {
        index: usize,
        started: bool,
    },
    Commit,
}

struct Server {
    /// A decision held for `AwaitApp` (a message being streamed included).
    held: Option<Decision>,
    /// The commit at QUIT was answered.
    committed: bool,
}

impl Server {
    /// Answers `decision`; gives the decision still owed (a message half streamed).
    fn answer(
        &mut self,
        conn: &mut Connection,
        decision: Decision,
        u: &mut Unstructured<'_>,
    ) -> Option<Decision> {
        let choice = choose(u, 8);
        let result = match decision {
            Decision::Login | Decision::AuthStep => match choice {
                0 | 1 => conn.accept(maildrop()),
                2 if decision == Decision::AuthStep => conn.sasl_challenge(some_bytes(u, 64)),
                2 => conn.reject(LoginRefusal::BadCredentials),
                3 => conn.reject(LoginRefusal::InUse),
                4 => conn.reject(LoginRefusal::LoginDelay),
                5 => conn.reject(LoginRefusal::SysTemp),
                6 => conn.reject(LoginRefusal::SysPerm),
                _ => {
                    // A wrong answer is refused and changes nothing; the right one follows.
                    let wrong = conn.commit_succeeded();
                    assert!(
                        matches!(wrong, Err(UsageError::WrongDecision { .. })),
                        "commit_succeeded to {decision:?}: {wrong:?}"
                    );
                    conn.reject(LoginRefusal::BadCredentials)
                }
            },
            Decision::Retrieve { index, started } => {
                let message = MESSAGES[index];
                match choice {
                    // The whole message at once.
                    0 | 1 => conn
                        .send_message_chunk(message)
                        .and_then(|()| conn.end_message()),
                    // A piece now, the rest at the next AwaitApp.
                    2..=4 => {
                        let cut = usize::from(choose(u, 8)).min(message.len());
                        conn.send_message_chunk(&message[..cut])
                            .expect("a message is being sent");
                        return Some(Decision::Retrieve {
                            index,
                            started: true,
                        });
                    }
                    5 if started => {
                        assert_eq!(conn.message_unavailable(), Err(UsageError::MessageStarted));
                        conn.end_message()
                    }
                    5 => conn.message_unavailable(),
                    6 => conn.end_message(),
                    _ => {
                        let wrong = conn.accept(maildrop());
                        assert!(
                            matches!(wrong, Err(UsageError::WrongDecision { .. })),
                            "accept to {decision:?}: {wrong:?}"
                        );
                        conn.end_message()
                    }
                }
            }
            Decision::Commit => {
                self.committed = true;
                match choice {
                    0..=3 => conn.commit_succeeded(),
                    _ => conn.commit_failed(),
                }
            }
        };
        result.unwrap_or_else(|error| panic!("answer to {decision:?} refused: {error}"));
        None
    }
}

fn maildrop() -> Maildrop {
    (0..MESSAGES.len())
        .map(|i| {
            (
                MESSAGES[i].len() as u64,
                UniqueId::new(format!("uid{i}")).unwrap(),
            )
        })
        .collect()
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
        // Output goes out in pieces of at most 64 KiB plus one listing line or message
        // piece (the messages here are tiny).
        assert!(
            bytes.len() <= 64 * 1024 + 1024,
            "transmit of {} octets",
            bytes.len()
        );
    }

    fn event(&mut self, conn: &mut Connection, event: Event, u: &mut Unstructured<'_>) {
        assert!(
            self.held.is_none(),
            "{event:?} while a decision is unanswered"
        );
        let decision = match event {
            Event::Login(_) => Decision::Login,
            Event::AuthStep { .. } => Decision::AuthStep,
            Event::Retrieve(ref retrieve) => Decision::Retrieve {
                index: retrieve.index,
                started: false,
            },
            Event::Commit { .. } => Decision::Commit,
            event => {
                assert!(!event.is_decision(), "{event:?} is a decision");
                return;
            }
        };
        assert!(event.is_decision(), "{event:?} is no decision");
        self.held = if choose(u, 4) == 3 {
            Some(decision)
        } else {
            self.answer(conn, decision, u)
        };
    }

    fn await_app(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) -> bool {
        let decision = self
            .held
            .take()
            .expect("AwaitApp with no decision unanswered");
        if choose(u, 8) == 7 {
            // The application fails (the store, say): the connection is dropped.
            return false;
        }
        self.held = self.answer(conn, decision, u);
        true
    }

    fn while_reading(&mut self, conn: &mut Connection, u: &mut Unstructured<'_>) {
        match choose(u, 4) {
            0 => conn.shutdown(),
            1 => assert_eq!(conn.accept(maildrop()), Err(UsageError::NoDecisionPending)),
            2 => assert_eq!(conn.tls_established(), Err(UsageError::NoTlsUpgrade)),
            _ => assert_eq!(conn.end_message(), Err(UsageError::NoDecisionPending)),
        }
    }

    fn closed(&mut self, conn: &mut Connection, reason: CloseReason) {
        assert!(conn.is_closed());
        // ARCHITECTURE.md security invariant 6: only a commit at QUIT deletes.
        if self.committed {
            assert_eq!(reason, CloseReason::Quit);
            assert_eq!(conn.discarded_deletions(), 0);
        } else {
            assert_eq!(
                conn.discarded_deletions() as usize,
                conn.maildrop().marked(),
                "every deletion mark is discarded"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let mut config = Config::default()
        .with_tls(match setup.tls % 4 {
            0 => TlsMode::Disabled,
            1 => TlsMode::Opportunistic,
            2 => TlsMode::Required,
            _ => TlsMode::Implicit,
        })
        .with_plaintext_auth_without_tls(setup.plaintext)
        .with_bare_lf_line_ending(setup.bare_lf)
        .with_sasl_mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::parse(b"CRAM-MD5").unwrap(),
        ]);
    if setup.apop {
        config = config.with_apop_timestamp(pop3_proto::Timestamp::new("<1.2@fuzz>").unwrap());
    }
    if setup.small_limits {
        config = config
            .with_max_bad_commands(2)
            .with_max_failed_logins(1)
            .with_max_pipelined_input(64);
    }
    if setup.short_timeouts {
        config = config
            .with_autologout(core::time::Duration::from_secs(1))
            .with_tls_handshake_timeout(core::time::Duration::from_nanos(1));
    }
    let mut server = Server {
        held: None,
        committed: false,
    };
    let mut conn = Connection::new(config);
    common::run(&mut conn, &mut server, &mut u);
});
