//! Server conversations as data: every file in `tests/transcripts/server/` (format:
//! `conformance::transcript`, keys and calls: the README.md there) is replayed through
//! `smtp_proto::server::Connection`, whole, one byte at a time, at every single cut and at
//! random splits; the replies, events and their order must match the file every time.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use conformance::transcript::{self, Io, Role, Script, Shown, Transcript, escape};
use smtp_proto::server::{
    BareLineEnding, Config, Connection, Credentials, Decisions, Event, Extensions,
};
use smtp_proto::{Command, Domain, Leniency, Limits, Mechanism, Reply, TlsMode};

struct Server;

fn mechanisms(list: &str) -> Vec<Mechanism> {
    list.split(',')
        .filter(|name| !name.is_empty())
        .map(|name| Mechanism::new(Bytes::copy_from_slice(name.as_bytes())).unwrap())
        .collect()
}

fn tls(value: &str) -> TlsMode {
    match value {
        "disabled" => TlsMode::Disabled,
        "opportunistic" => TlsMode::Opportunistic,
        "required" => TlsMode::Required,
        "implicit" => TlsMode::Implicit,
        _ => panic!("tls={value}"),
    }
}

fn configure(settings: &[(String, String)]) -> Config {
    let mut config = Config::new(Domain::new(&b"mx.example"[..]).unwrap());
    for (key, value) in settings {
        let num = || value.parse::<u64>().unwrap();
        match key.as_str() {
            "hostname" => config.hostname = Domain::new(value.clone()).unwrap(),
            "tls" => config.tls = tls(value),
            "sasl" => config.sasl_mechanisms = mechanisms(value),
            "plaintext-auth" => config.allow_plaintext_auth_without_tls = true,
            "require-auth" => config.require_auth = true,
            "max-size" => config.max_message_size = num(),
            "max-recipients" => config.max_recipients = num() as usize,
            "max-errors" => config.max_errors = num() as u32,
            "command-line" => {
                config.limits = Limits {
                    command_line: num() as usize,
                    ..config.limits
                }
            }
            "bare-lf" => {
                config.bare_line_ending = match value.as_str() {
                    "reject" => BareLineEnding::Reject,
                    "normalize" => BareLineEnding::Normalize,
                    _ => panic!("bare-lf={value}"),
                }
            }
            "lax" => config.leniency = Leniency::LAX,
            "lmtp" => config.lmtp = true,
            "decide" => {
                let mut d = Decisions::default();
                for what in value.split(',') {
                    match what {
                        "greeting" => d.greeting = true,
                        "hello" => d.hello = true,
                        "vrfy" => d.vrfy = true,
                        "expn" => d.expn = true,
                        "starttls" => d.starttls = true,
                        _ => panic!("decide={what}"),
                    }
                }
                config.decisions = d;
            }
            "extensions" => {
                let mut e = Extensions::none();
                for what in value.split(',').filter(|w| !w.is_empty()) {
                    match what {
                        "pipelining" => e.pipelining = true,
                        "size" => e.size = true,
                        "8bitmime" => e.eight_bit_mime = true,
                        "smtputf8" => e.smtputf8 = true,
                        "chunking" => e.chunking = true,
                        "binarymime" => e.binary_mime = true,
                        "dsn" => e.dsn = true,
                        "enhancedstatuscodes" => e.enhanced_status_codes = true,
                        "requiretls" => e.requiretls = true,
                        _ => panic!("extensions={what}"),
                    }
                }
                config.extensions = e;
            }
            _ => panic!("unknown config {key}"),
        }
    }
    config
}

fn command_line(command: Command) -> String {
    let mut out = BytesMut::new();
    command.write(&mut out);
    String::from_utf8_lossy(&out[..out.len() - 2]).into_owned()
}

/// A reply written on one line, ` | ` between the lines of a multiline one.
fn reply(text: &str) -> Reply {
    let wire = Bytes::from(format!("{}\r\n", text.replace(" | ", "\r\n")));
    Reply::parse(&wire, &Limits::default()).unwrap().0
}

impl Script for Server {
    type Machine = Connection;
    const ROLE: Role = Role::Server;

    fn start(config: &[(String, String)]) -> (Self, Connection) {
        (Server, Connection::new(configure(config)))
    }

    fn describe(&self, event: &Event) -> Shown {
        Shown::Line(match event {
            Event::Connected => "connected".into(),
            Event::Hello { verb, domain } => format!("hello {verb:?} {domain}"),
            Event::StartTlsRequested => "starttls".into(),
            Event::Authenticate {
                mechanism,
                credentials,
            } => {
                let name = String::from_utf8_lossy(mechanism.name()).into_owned();
                match credentials {
                    Credentials::Password(c) => {
                        let authzid = c
                            .authzid
                            .as_deref()
                            .map(|a| format!(" authzid={a}"))
                            .unwrap_or_default();
                        let pass = escape(c.password.expose());
                        format!("auth {name}{authzid} user={} pass={pass}", c.username)
                    }
                    Credentials::OAuth2(c) => format!(
                        "auth {name} user={} token={}",
                        c.user,
                        escape(c.token.expose())
                    ),
                }
            }
            Event::AuthStart {
                mechanism,
                initial_response,
            } => {
                let name = String::from_utf8_lossy(mechanism.name()).into_owned();
                match initial_response {
                    None => format!("auth-start {name}"),
                    Some(r) => format!("auth-start {name} \"{}\"", escape(r.expose())),
                }
            }
            Event::AuthResponse { response } => {
                format!("auth-response \"{}\"", escape(response.expose()))
            }
            Event::Mail { from, params } => command_line(Command::Mail {
                from: from.clone(),
                params: params.clone(),
            }),
            Event::Rcpt { to, params } => command_line(Command::Rcpt {
                to: to.clone(),
                params: params.clone(),
            }),
            Event::Vrfy(arg) => format!("vrfy {}", String::from_utf8_lossy(arg.as_bytes())),
            Event::Expn(arg) => format!("expn {}", String::from_utf8_lossy(arg.as_bytes())),
            Event::MessageData(data) => return Shown::Data(data.to_vec()),
            Event::MessageEnd { size, recipients } => {
                format!("end size={size} rcpts={recipients}")
            }
            // The application drops what it got of an aborted message.
            Event::MessageAborted { reason } => {
                return Shown::Discards(format!("aborted {reason:?}"));
            }
            other => panic!("an event the transcripts do not know: {other:?}"),
        })
    }

    fn is_decision(&self, event: &Event) -> bool {
        event.is_decision()
    }

    fn call(
        &mut self,
        conn: &mut Connection,
        _: Option<&Event>,
        call: &str,
        _: &mut Io<'_>,
    ) -> Result<(), String> {
        let (verb, arg) = call.split_once(' ').unwrap_or((call, ""));
        match verb {
            "accept" => conn.accept(),
            "accept-with" => conn.accept_with(reply(arg)),
            "accept-message" => conn.accept_message(arg),
            "reject" => conn.reject(reply(arg)),
            "challenge" => conn.sasl_challenge(&transcript::unescape(arg).unwrap()),
            "lmtp" => conn.answer_recipients(arg.split(" ; ").map(reply).collect::<Vec<_>>()),
            "shutdown" => {
                conn.shutdown();
                Ok(())
            }
            _ => panic!("unknown call {call}"),
        }
        .map_err(|error| format!("{call}: {error}"))
    }

    fn is_closed(&self, conn: &Connection) -> bool {
        conn.is_closed()
    }

    fn pending_transmit(&self, conn: &Connection) -> Option<usize> {
        Some(conn.pending_transmit())
    }

    /// RFC 5321 section 4.5.3.1.5: a reply line is at most 512 octets, CRLF included.
    fn max_line(&self) -> Option<usize> {
        Some(512)
    }
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
