//! The server machine against conversations kept as data: every file in
//! `tests/transcripts/server/` (format: `conformance::transcript`, keys and calls: the
//! README.md there) is replayed through `pop3_proto::server::Connection`, whole, one byte at
//! a time, at every single cut and at random splits, the client's lines also pipelined up to
//! each step; the replies and events must match the file every time.

use std::fmt::Write as _;
use std::path::Path;

use conformance::transcript::{self, Io, Role, Script, Shown, Transcript};
use mail_wire::session::Wait;
use pop3_proto::server::{Config, Connection, Credentials, Event, Login, LoginRefusal, Maildrop};
use pop3_proto::{ExpirePolicy, Mechanism, Text, Timestamp, TlsMode, UniqueId};

struct Server {
    config: Config,
    /// Message content given by `A: send`, handed over at `A: end`.
    content: Vec<u8>,
}

/// `transcript::escape`, with `<empty>` for no bytes, so that an empty argument shows.
fn escape(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "<empty>".into();
    }
    transcript::escape(bytes)
}

fn configure(settings: &[(String, String)]) -> Config {
    let mut config = Config::default();
    for (key, value) in settings {
        config = match key.as_str() {
            "apop" => config.with_apop_timestamp(Timestamp::new(value.clone()).unwrap()),
            "tls" => config.with_tls(match value.as_str() {
                "disabled" => TlsMode::Disabled,
                "opportunistic" => TlsMode::Opportunistic,
                "required" => TlsMode::Required,
                "implicit" => TlsMode::Implicit,
                _ => panic!("tls={value}"),
            }),
            "plaintext-auth" => config.with_plaintext_auth_without_tls(true),
            "no-user" => config.with_user_pass(false),
            "utf8" => config.with_utf8(true),
            "bare-lf" if value == "accept" => config.with_bare_lf_line_ending(true),
            "sasl" => config.with_sasl_mechanisms(
                value
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| Mechanism::new(m).unwrap()),
            ),
            "max-bad-commands" => config.with_max_bad_commands(value.parse().unwrap()),
            "max-failed-logins" => config.with_max_failed_logins(value.parse().unwrap()),
            "implementation" => config.with_implementation(Text::new(value.clone()).unwrap()),
            "expire" => config.with_expire(match value.as_str() {
                "never" => ExpirePolicy::Never,
                days => ExpirePolicy::Days(days.parse().unwrap()),
            }),
            "login-delay" => config.with_login_delay(value.parse().unwrap()),
            _ => panic!("unknown config {key}={value}"),
        }
    }
    config
}

fn refusal(text: &str) -> LoginRefusal {
    match text {
        "auth" => LoginRefusal::BadCredentials,
        "in-use" => LoginRefusal::InUse,
        "login-delay" => LoginRefusal::LoginDelay,
        "sys-temp" => LoginRefusal::SysTemp,
        "sys-perm" => LoginRefusal::SysPerm,
        _ => panic!("unknown refusal {text}"),
    }
}

impl Script for Server {
    type Machine = Connection;
    const ROLE: Role = Role::Server;

    fn start(config: &[(String, String)]) -> (Self, Connection) {
        let config = configure(config);
        let conn = Connection::new(config.clone());
        let script = Server {
            config,
            content: Vec::new(),
        };
        (script, conn)
    }

    fn describe(&self, event: &Event) -> Shown {
        Shown::Line(match event {
            Event::Login(Login::UserPass { name, password }) => format!(
                "login user {} {}",
                escape(name.as_bytes()),
                escape(password.expose())
            ),
            Event::Login(Login::Apop(apop)) => format!(
                "login apop {} {} {}",
                escape(apop.name.as_bytes()),
                escape(apop.timestamp.as_bytes()),
                apop.digest
            ),
            Event::Login(Login::Sasl {
                mechanism,
                credentials: Credentials::Password(password),
            }) => format!(
                "login sasl {mechanism} {} {} {}",
                password.authzid.as_deref().unwrap_or("-"),
                escape(password.username.as_bytes()),
                escape(password.password.expose())
            ),
            Event::Login(Login::Sasl {
                mechanism,
                credentials: Credentials::OAuth2(oauth),
            }) => format!(
                "login sasl {mechanism} {} {}",
                escape(oauth.user.as_bytes()),
                escape(oauth.token.expose())
            ),
            Event::AuthStep {
                mechanism,
                response,
            } => format!(
                "auth-step {mechanism} {}",
                response.as_deref().map_or("none".to_owned(), escape)
            ),
            Event::AuthAborted => "auth-aborted".to_owned(),
            Event::Retrieve(retrieve) => {
                let mut text = format!(
                    "retrieve {} index={} uid={} size={}",
                    retrieve.msg,
                    retrieve.index,
                    escape(retrieve.uid.as_bytes()),
                    retrieve.size
                );
                if let Some(lines) = retrieve.lines {
                    write!(text, " top={lines}").unwrap();
                }
                text
            }
            Event::Commit { deleted } => {
                let mut text = "commit".to_owned();
                for message in deleted {
                    write!(text, " {}:{}", message.msg, escape(message.uid.as_bytes())).unwrap();
                }
                text
            }
            _ => format!("{event:?}"),
        })
    }

    fn is_decision(&self, event: &Event) -> bool {
        event.is_decision()
    }

    fn call(
        &mut self,
        conn: &mut Connection,
        answering: Option<&Event>,
        call: &str,
        io: &mut Io<'_>,
    ) -> Result<(), String> {
        let (verb, arg) = call.split_once(' ').unwrap_or((call, ""));
        let unescape = |text: &str| transcript::unescape(text).expect("escapes");
        match verb {
            "accept" => conn.accept(
                arg.split_whitespace()
                    .map(|entry| {
                        let (size, uid) = entry.split_once(':').unwrap();
                        (
                            size.parse().unwrap(),
                            UniqueId::new(uid.to_owned()).unwrap(),
                        )
                    })
                    .collect::<Maildrop>(),
            ),
            "reject" => conn.reject(refusal(arg)),
            "apop-verifies" => {
                let Some(Event::Login(Login::Apop(apop))) = answering else {
                    panic!("apop-verifies answers no APOP login: {answering:?}");
                };
                assert!(
                    apop.verify(&unescape(arg)),
                    "the APOP digest does not verify"
                );
                assert!(!apop.verify(b"wrong"), "APOP verifies anything");
                Ok(())
            }
            "challenge" => conn.sasl_challenge(&unescape(arg)),
            "send" => {
                self.content.extend(unescape(arg));
                Ok(())
            }
            "end" => {
                let content = std::mem::take(&mut self.content);
                let mut at = 0;
                for len in io.content_pieces(content.len()) {
                    match conn.send_message_chunk(&content[at..at + len]) {
                        Ok(()) => io.flush(conn),
                        Err(error) => io.error(&error.to_string()),
                    }
                    at += len;
                }
                conn.end_message()
            }
            "unavailable" => conn.message_unavailable(),
            "commit-ok" => conn.commit_succeeded(),
            "commit-failed" => conn.commit_failed(),
            "shutdown" => {
                conn.shutdown();
                Ok(())
            }
            _ => panic!("unknown call {call}"),
        }
        .map_err(|error| error.to_string())
    }

    fn check(&self, conn: &Connection, assertion: &str) -> Result<(), String> {
        match assertion.split_once(' ') {
            Some(("discarded", n)) if conn.discarded_deletions().to_string() == n => Ok(()),
            Some(("discarded", _)) => Err(format!(
                "discarded_deletions() says {}",
                conn.discarded_deletions()
            )),
            _ => Err(format!("unknown X: {assertion}")),
        }
    }

    fn is_closed(&self, conn: &Connection) -> bool {
        conn.is_closed()
    }

    /// Every `Read` carries the autologout timer, every `UpgradeTls` the handshake timeout.
    fn check_wait(&self, wait: Wait, upgrade: bool) -> Result<(), String> {
        let want = if upgrade {
            self.config.tls_handshake_timeout
        } else {
            self.config.autologout
        };
        if wait.timeout() == want {
            Ok(())
        } else {
            Err(format!("{wait:?} instead of a timeout of {want:?}"))
        }
    }

    const PIPELINES: bool = true;
}

fn all() -> Vec<Transcript> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/server");
    transcript::load::<Server>(dir, 20)
}

#[test]
fn every_transcript_replays_whole() {
    transcript::replay_whole::<Server>(&all());
}

#[test]
fn every_transcript_replays_one_byte_at_a_time() {
    transcript::replay_one_byte_at_a_time::<Server>(&all());
}

#[test]
fn every_transcript_replays_at_every_single_cut() {
    transcript::replay_at_every_cut::<Server>(&all());
}

#[test]
fn every_transcript_replays_at_random_splits() {
    transcript::replay_at_random_splits::<Server>(&all(), 64);
}
