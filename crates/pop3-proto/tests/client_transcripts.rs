//! Client transcripts: every file in `tests/transcripts/client/` (format:
//! `conformance::transcript`, keys and calls: the README.md there) is replayed through
//! `pop3_proto::client::Connection`, whole, one byte at a time, at every single cut and at
//! random splits of the server's bytes; every way of cutting them gives the same events and
//! the same client output, where the file has them.

use std::path::Path;

use bytes::BytesMut;
use conformance::transcript::{self, Io, Role, Script, Shown, Transcript, escape};
use mail_wire::session::Wait;
use pop3_proto::client::{Config, Connection, Event};
use pop3_proto::{ListingEntry, MsgNumber, TlsMode};

struct Client {
    config: Config,
}

fn configure(settings: &[(String, String)]) -> Config {
    let mut config = Config::default();
    for (key, value) in settings {
        config = match key.as_str() {
            "password" => {
                let (user, pass) = value.split_once(':').unwrap();
                config.with_password(user, pass)
            }
            "oauth2" => {
                let (user, token) = value.split_once(':').unwrap();
                config.with_oauth2(user, token)
            }
            "tls" => config.with_tls(match value.as_str() {
                "implicit" => TlsMode::Implicit,
                "required" => TlsMode::Required,
                "opportunistic" => TlsMode::Opportunistic,
                "disabled" => TlsMode::Disabled,
                other => panic!("tls={other}"),
            }),
            "plaintext-auth" => config.with_plaintext_auth_without_tls(value != "no"),
            "apop" => config.with_apop(value == "yes"),
            "window" => config.with_pipelining_window(value.parse().unwrap()),
            "size-limit" => config.with_message_size_limit(value.parse().unwrap()),
            other => panic!("unknown config {other}"),
        };
    }
    config
}

impl Script for Client {
    type Machine = Connection;
    const ROLE: Role = Role::Client;

    fn start(config: &[(String, String)]) -> (Self, Connection) {
        let config = configure(config);
        let conn = Connection::new(config.clone());
        (Client { config }, conn)
    }

    fn describe(&self, event: &Event) -> Shown {
        Shown::Line(match event {
            Event::Greeting { apop, .. } => match apop {
                Some(ts) => format!("Greeting apop={}", escape(ts.as_bytes())),
                None => "Greeting".into(),
            },
            Event::Capabilities(caps) => match caps.list() {
                None => "Capabilities unknown".into(),
                Some(_) => {
                    let lines: Vec<String> = caps
                        .iter()
                        .map(|cap| {
                            let mut out = BytesMut::new();
                            cap.write_entry(&mut out);
                            escape(&out[..out.len() - 2])
                        })
                        .collect();
                    format!("Capabilities {}", lines.join(", "))
                }
            },
            Event::AuthMethodRefused { method, reply } => {
                format!("AuthMethodRefused {method}: {reply}")
            }
            Event::Authenticated(method) => format!("Authenticated {method}"),
            Event::Stat(stat) => format!("Stat {} {}", stat.count, stat.size),
            Event::ScanList(list) => {
                let entries: Vec<String> = list
                    .iter()
                    .map(|e| format!("{} {}", e.msg, e.size))
                    .collect();
                format!("ScanList [{}]", entries.join(", "))
            }
            Event::Scan(e) => format!("Scan {} {}", e.msg, e.size),
            Event::UidList(list) => {
                let entries: Vec<String> = list
                    .iter()
                    .map(|e| format!("{} {}", e.msg, escape(e.uid.as_bytes())))
                    .collect();
                format!("UidList [{}]", entries.join(", "))
            }
            Event::Uid(e) => format!("Uid {} {}", e.msg, escape(e.uid.as_bytes())),
            Event::MessageStart { msg, top } => match top {
                Some(lines) => format!("MessageStart {msg} top={lines}"),
                None => format!("MessageStart {msg}"),
            },
            Event::MessageData(chunk) => return Shown::Data(chunk.to_vec()),
            // A message cut short loses its content, as an application discards it: how much
            // of it came before the limit was seen depends on how the input was split.
            Event::MessageEnd(end) => match end.error {
                Some(error) => {
                    return Shown::Discards(format!(
                        "MessageEnd {} size={} error={error}",
                        end.msg, end.size
                    ));
                }
                None => format!("MessageEnd {} size={}", end.msg, end.size),
            },
            Event::Deleted(msg) => format!("Deleted {msg}"),
            Event::Reset => "Reset".into(),
            Event::Noop => "Noop".into(),
            Event::CommandFailed { request, reply } => match request.msg() {
                Some(msg) => format!("CommandFailed {} {msg}: {reply}", request.verb()),
                None => format!("CommandFailed {}: {reply}", request.verb()),
            },
            Event::Quit(outcome) => format!(
                "Quit {}: {}",
                if outcome.committed {
                    "committed"
                } else {
                    "not committed"
                },
                outcome.reply
            ),
            Event::Failed(error) => format!("Failed: {error}"),
            other => format!("{other:?}"),
        })
    }

    /// The client has no decisions.
    fn is_decision(&self, event: &Event) -> bool {
        assert!(!event.is_decision(), "a decision: {event:?}");
        false
    }

    fn call(
        &mut self,
        conn: &mut Connection,
        _: Option<&Event>,
        call: &str,
        _: &mut Io<'_>,
    ) -> Result<(), String> {
        let words: Vec<&str> = call.split_whitespace().collect();
        let msg = |i: usize| MsgNumber::new(words[i].parse().unwrap()).unwrap();
        match words[0] {
            "stat" => conn.stat(),
            "list" if words.len() == 1 => conn.list(None),
            "list" => conn.list(Some(msg(1))),
            "uidl" if words.len() == 1 => conn.uidl(None),
            "uidl" => conn.uidl(Some(msg(1))),
            "retr" => conn.retr(msg(1)),
            "top" => conn.top(msg(1), words[2].parse().unwrap()),
            "dele" => conn.dele(msg(1)),
            "rset" => conn.rset(),
            "noop" => conn.noop(),
            "quit" => conn.quit(),
            other => panic!("unknown call {other}"),
        }
        .map_err(|error| error.to_string())
    }

    fn check(&self, conn: &Connection, assertion: &str) -> Result<(), String> {
        let holds = match assertion {
            "secure" => conn.is_secure(),
            "insecure" => !conn.is_secure(),
            "authenticated" => conn.is_authenticated(),
            other => return Err(format!("unknown X: {other}")),
        };
        if holds {
            Ok(())
        } else {
            Err(format!("{assertion} does not hold"))
        }
    }

    fn is_closed(&self, conn: &Connection) -> bool {
        conn.is_closed()
    }

    /// Every `Read` carries the response timeout, every `UpgradeTls` the handshake timeout.
    fn check_wait(&self, wait: Wait, upgrade: bool) -> Result<(), String> {
        let want = if upgrade {
            self.config.tls_handshake_timeout
        } else {
            self.config.response_timeout
        };
        if wait.timeout() == want {
            Ok(())
        } else {
            Err(format!("{wait:?} instead of a timeout of {want:?}"))
        }
    }
}

fn all() -> Vec<Transcript> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/client");
    transcript::load::<Client>(dir, 10)
}

#[test]
fn every_transcript_replays_whole() {
    transcript::replay_whole::<Client>(&all());
}

#[test]
fn every_transcript_replays_one_byte_at_a_time() {
    transcript::replay_one_byte_at_a_time::<Client>(&all());
}

#[test]
fn every_transcript_replays_at_every_single_cut() {
    transcript::replay_at_every_cut::<Client>(&all());
}

#[test]
fn every_transcript_replays_at_random_splits() {
    transcript::replay_at_random_splits::<Client>(&all(), 64);
}
