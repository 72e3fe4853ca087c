//! The client session against scripted servers: every file in `tests/transcripts/client/`
//! (format: `conformance::transcript`, keys and calls: the README.md there) is replayed
//! through `smtp_proto::client::Connection`, whole, one byte at a time, at every single cut
//! and at random splits of the server's bytes; the client's bytes and events must match the
//! file every time.

use std::path::Path;

use bytes::Bytes;
use conformance::transcript::{self, Io, Role, Script, Shown, Transcript};
use mail_wire::sasl::{Credentials, Mechanism, OAuth2Credentials, PasswordCredentials};
use smtp_proto::client::{
    Config, Connection, EhloName, Envelope, Error, Event, Failure, ProtocolViolation,
    SendMailError, UsageError,
};
use smtp_proto::{Capability, ForwardPath, Mailbox, ReversePath, TlsMode};

struct Client;

fn configure(settings: &[(String, String)]) -> Config {
    let mut config = Config::new(EhloName::new("client.example").unwrap());
    for (key, value) in settings {
        config = match key.as_str() {
            "tls" => config.with_tls(match value.as_str() {
                "disabled" => TlsMode::Disabled,
                "opportunistic" => TlsMode::Opportunistic,
                "required" => TlsMode::Required,
                "implicit" => TlsMode::Implicit,
                other => panic!("tls={other}"),
            }),
            "password" => {
                let (user, pass) = value.split_once(':').expect("user:pass");
                config.with_credentials(Credentials::Password(PasswordCredentials::new(
                    user,
                    pass.as_bytes().to_vec(),
                )))
            }
            "oauth2" => {
                let (user, token) = value.split_once(':').expect("user:token");
                config.with_credentials(Credentials::OAuth2(OAuth2Credentials {
                    user: user.into(),
                    token: token.as_bytes().to_vec().into(),
                }))
            }
            "sasl" => config.with_sasl_mechanisms(
                value
                    .split(',')
                    .map(|m| Mechanism::parse(m.as_bytes()).expect("mechanism"))
                    .collect::<Vec<_>>(),
            ),
            "plaintext-auth" => config.with_plaintext_auth_without_tls(true),
            "pipelining" => config.with_pipelining(value != "off"),
            "chunking" => config.with_chunking(value != "off"),
            "ehlo" => config.with_ehlo_name(EhloName::new(value.clone()).unwrap()),
            "bdat-chunk" => config.with_bdat_chunk_size(value.parse().unwrap()),
            "transmit-bound" => config.with_transmit_bound(value.parse().unwrap()),
            other => panic!("unknown config key {other}"),
        };
    }
    config
}

fn path_mailbox(text: &str) -> Mailbox {
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .expect("<path>");
    Mailbox::parse(inner.to_owned()).expect("mailbox")
}

fn envelope(args: &str) -> Envelope {
    let mut from = ReversePath::Null;
    let mut to = Vec::new();
    let mut size = None;
    let (mut eight_bit, mut binary) = (false, false);
    for item in args.split_whitespace() {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        match key {
            "from" if value == "<>" => from = ReversePath::Null,
            "from" => from = ReversePath::Mailbox(path_mailbox(value)),
            "to" => {
                for path in value.split(',').filter(|p| !p.is_empty()) {
                    to.push(if path.eq_ignore_ascii_case("<postmaster>") {
                        ForwardPath::Postmaster
                    } else {
                        ForwardPath::Mailbox(path_mailbox(path))
                    });
                }
            }
            "size" => size = Some(value.parse().unwrap()),
            "8bit" => eight_bit = true,
            "binary" => binary = true,
            other => panic!("unknown send-mail argument {other}"),
        }
    }
    let mut envelope = Envelope::new(from, to)
        .with_8bit_body(eight_bit)
        .with_binary_body(binary);
    envelope.size_hint = size;
    envelope
}

fn failure(failure: &Failure) -> String {
    let kind = if failure.is_permanent() {
        "permanent"
    } else {
        "transient"
    };
    format!("{kind} {}", failure.reply().code())
}

fn error(error: &Error) -> String {
    match error {
        Error::GreetingRejected(f) => format!("greeting-rejected {}", failure(f)),
        Error::ServiceClosing(reply) => format!("service-closing {}", reply.code()),
        Error::HelloRejected(f) => format!("hello-rejected {}", failure(f)),
        Error::TlsNotOffered => "tls-not-offered".into(),
        Error::TlsRejected(f) => format!("tls-rejected {}", failure(f)),
        Error::NoUsableMechanism => "no-usable-mechanism".into(),
        Error::PlaintextAuthRefused => "plaintext-auth-refused".into(),
        Error::UnusableCredentials(_) => "unusable-credentials".into(),
        Error::ProtocolViolation(v) => match v {
            ProtocolViolation::Malformed(_) => "protocol-violation malformed".into(),
            ProtocolViolation::Unsolicited(code) => {
                format!("protocol-violation unsolicited {code}")
            }
            ProtocolViolation::UnexpectedCode { command, code } => {
                format!("protocol-violation unexpected {command} {code}")
            }
            ProtocolViolation::InputOverflow => "protocol-violation input-overflow".into(),
            other => panic!("a violation the transcripts do not know: {other:?}"),
        },
        Error::Timeout => "timeout".into(),
        Error::ConnectionLost => "connection-lost".into(),
        other => panic!("an error the transcripts do not know: {other:?}"),
    }
}

fn usage(error: &UsageError) -> String {
    match error {
        UsageError::NotReady => "not-ready",
        UsageError::NoBodyExpected => "no-body-expected",
        UsageError::BodyInProgress => "body-in-progress",
        UsageError::Closed => "closed",
        UsageError::NoTlsUpgrade => "no-tls-upgrade",
        other => panic!("a usage error the transcripts do not know: {other:?}"),
    }
    .into()
}

fn send_error(error: &SendMailError) -> String {
    match error {
        SendMailError::Usage(e) => usage(e),
        SendMailError::NoRecipients => "no-recipients".into(),
        SendMailError::MessageTooBig { size, limit } => format!("message-too-big {size} {limit}"),
        SendMailError::EightBitMimeNotOffered => "8bitmime-not-offered".into(),
        SendMailError::BinaryMimeNotOffered => "binarymime-not-offered".into(),
        SendMailError::SmtpUtf8NotOffered => "smtputf8-not-offered".into(),
        other => panic!("a send error the transcripts do not know: {other:?}"),
    }
}

impl Script for Client {
    type Machine = Connection;
    const ROLE: Role = Role::Client;

    fn start(config: &[(String, String)]) -> (Self, Connection) {
        (Client, Connection::new(configure(config)))
    }

    fn describe(&self, event: &Event) -> Shown {
        Shown::Line(match event {
            Event::Greeting(reply) => format!("greeting {}", reply.code()),
            Event::Capabilities(caps) => {
                let mut text = String::from("capabilities");
                for capability in caps.iter() {
                    text.push(' ');
                    match capability {
                        Capability::Known(extension) => text.push_str(extension.keyword()),
                        Capability::Other { keyword, .. } => {
                            text.push_str(&String::from_utf8_lossy(keyword))
                        }
                    }
                }
                if let Some(size) = caps.size().filter(|&s| s > 0) {
                    text.push_str(&format!(" (size {size})"));
                }
                text
            }
            Event::Authenticated(reply) => format!("authenticated {}", reply.code()),
            Event::AuthRejected(f) => format!("auth-rejected {}", failure(f)),
            Event::Ready => "ready".into(),
            Event::RecipientAccepted { index, reply, .. } => {
                format!("rcpt-accepted {index} {}", reply.code())
            }
            Event::RecipientRejected {
                index, failure: f, ..
            } => {
                format!("rcpt-rejected {index} {}", failure(f))
            }
            Event::SendBody => "send-body".into(),
            Event::MessageAccepted(reply) => format!(
                "message-accepted {} {}",
                reply.code(),
                String::from_utf8_lossy(reply.first_line())
            ),
            Event::MessageRejected(f) => format!("message-rejected {}", failure(f)),
            Event::SenderRejected(f) => format!("sender-rejected {}", failure(f)),
            Event::NoRecipientAccepted => "no-recipient-accepted".into(),
            Event::Reset => "reset".into(),
            Event::Failed(e) => format!("failed {}", error(e)),
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
        let (verb, args) = call.split_once(' ').unwrap_or((call, ""));
        let unescape = |text: &str| transcript::unescape(text).expect("escapes");
        match verb {
            "send-mail" => conn
                .send_mail(envelope(&String::from_utf8(unescape(args)).unwrap()))
                .map_err(|e| send_error(&e)),
            "body" => conn
                .send_body_chunk(Bytes::from(unescape(args)))
                .map_err(|e| usage(&e)),
            "end-body" => conn.end_body().map_err(|e| usage(&e)),
            "quit" => conn.quit().map_err(|e| usage(&e)),
            "reset" => conn.reset().map_err(|e| usage(&e)),
            other => panic!("unknown call {other}"),
        }
    }

    fn check(&self, conn: &Connection, assertion: &str) -> Result<(), String> {
        match assertion {
            "wants-body yes" | "wants-body no" => {
                let wants = assertion.ends_with("yes");
                if conn.wants_body() == wants {
                    Ok(())
                } else {
                    Err(format!("wants_body() says {}", conn.wants_body()))
                }
            }
            other => Err(format!("unknown X: {other}")),
        }
    }

    fn is_closed(&self, conn: &Connection) -> bool {
        conn.is_closed()
    }

    fn usage_error(&self, error: &UsageError) -> String {
        usage(error)
    }
}

fn all() -> Vec<Transcript> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/client");
    transcript::load::<Client>(dir, 20)
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
