//! What both SMTP clients do with the machine's events: send the one message once the session
//! is ready, push its body in chunks, print each recipient's result and the final reply, quit.
//! Exit status 0 only when the server accepted every recipient and the message (issue 8).

use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;
use mail_wire::sasl::{Credentials, PasswordCredentials};
use smtp_proto::client::{self, Connection, Envelope, Event, Failure, TlsPolicy};
use smtp_proto::{Domain, ForwardPath, Mailbox, Reply, ReversePath};

use super::args::ClientArgs;
use crate::driver::Flow;

/// Body octets handed to the machine at a time (a slice of the message: no copy).
pub const BODY_CHUNK: usize = 64 * 1024;

/// Why the client cannot start with these flags.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// `--helo` is not a domain name or address literal.
    #[error("--helo {0:?} is not a domain name")]
    InvalidHelo(String),
    /// `--from` or a `--to` is not a mailbox (RFC 5321 section 4.1.2).
    #[error("{0:?} is not a valid mailbox")]
    InvalidAddress(String),
    /// The message could not be read.
    #[error("reading the message: {0}")]
    Read(#[from] io::Error),
}

/// The machine's configuration for the flags.
pub fn machine_config(args: &ClientArgs) -> Result<client::Config, SubmissionError> {
    let helo = Domain::new(args.helo.clone())
        .map_err(|_| SubmissionError::InvalidHelo(args.helo.clone()))?;
    let policy = if args.tls {
        TlsPolicy::ImplicitTls
    } else if args.starttls {
        TlsPolicy::Required
    } else {
        TlsPolicy::None
    };
    let mut config = client::Config::new(helo).with_tls(policy);
    if let Some(account) = &args.auth {
        config = config.with_credentials(Credentials::Password(PasswordCredentials::new(
            account.user.clone(),
            account.pass.clone(),
        )));
    }
    Ok(config)
}

/// Reads the message from `file`, or standard input when `None`. The whole message is kept
/// (the 8-bit test and the SIZE hint need it before MAIL FROM); it is then sent in slices.
pub fn read_message(file: Option<&Path>) -> Result<Bytes, SubmissionError> {
    let mut message = Vec::new();
    match file {
        Some(path) => {
            message = std::fs::read(path)?;
        }
        None => {
            io::stdin().lock().read_to_end(&mut message)?;
        }
    }
    Ok(Bytes::from(message))
}

/// The envelope for the flags and the message.
pub fn envelope(args: &ClientArgs, message: &Bytes) -> Result<Envelope, SubmissionError> {
    let mailbox = |text: &str| {
        Mailbox::parse(text.to_owned())
            .map_err(|_| SubmissionError::InvalidAddress(text.to_owned()))
    };
    let from = if args.from.is_empty() || args.from == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox(&args.from)?)
    };
    let mut to = Vec::with_capacity(args.to.len());
    for recipient in &args.to {
        to.push(if recipient.eq_ignore_ascii_case("postmaster") {
            ForwardPath::Postmaster
        } else {
            ForwardPath::Mailbox(mailbox(recipient)?)
        });
    }
    Ok(Envelope::new(from, to)
        .with_size_hint(message.len() as u64)
        .with_8bit_body(message.iter().any(|&b| b >= 0x80)))
}

/// The application side of the client session: one message, then QUIT.
#[derive(Debug)]
pub struct Submission {
    envelope: Option<Envelope>,
    recipients: Vec<String>,
    message: Bytes,
    sent: usize,
    body_open: bool,
    refused_recipients: usize,
    accepted: Option<Reply>,
    failure: Option<String>,
}

impl Submission {
    /// Ready to send `message` to the envelope's recipients.
    pub fn new(envelope: Envelope, recipients: Vec<String>, message: Bytes) -> Self {
        Self {
            envelope: Some(envelope),
            recipients,
            message,
            sent: 0,
            body_open: false,
            refused_recipients: 0,
            accepted: None,
            failure: None,
        }
    }

    /// Answers one event; prints the results as they come.
    pub fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match event {
            Event::Greeting(reply) => tracing::info!(%reply, "connected"),
            Event::Capabilities(_) => tracing::debug!("capabilities received"),
            Event::UpgradeTls => {
                tracing::info!("STARTTLS");
                return Ok(Flow::StartTls);
            }
            Event::Authenticated(reply) => tracing::info!(%reply, "authenticated"),
            Event::AuthRejected(failure) => {
                self.fail(format!("authentication refused: {}", failure.reply()));
                quit(conn);
            }
            Event::Ready => {
                if let Some(envelope) = self.envelope.take()
                    && let Err(error) = conn.send_mail(envelope)
                {
                    self.fail(format!("cannot send: {error}"));
                    quit(conn);
                }
            }
            Event::RecipientAccepted { index, reply } => {
                println!("{}: {reply}", self.recipient(index));
            }
            Event::RecipientRejected { index, failure } => {
                println!("{}: {}", self.recipient(index), failure.reply());
                self.refused_recipients += 1;
            }
            Event::SendBody => self.body_open = true,
            Event::MessageAccepted(reply) => {
                println!("message: {reply}");
                self.accepted = Some(reply);
                quit(conn);
            }
            Event::MessageRejected(failure) => {
                self.refused("message refused", &failure);
                quit(conn);
            }
            Event::SenderRejected(failure) => {
                self.refused("sender refused", &failure);
                quit(conn);
            }
            Event::NoRecipientAccepted => {
                self.fail("no recipient accepted".to_owned());
                quit(conn);
            }
            Event::Reset => {}
            Event::Error(error) => self.fail(format!("session failed: {error}")),
            Event::Closed => tracing::debug!("session closed"),
        }
        Ok(Flow::Continue)
    }

    /// Pushes more of the body while the machine takes it; ends it after the last slice.
    pub fn on_idle(&mut self, conn: &mut Connection) -> io::Result<bool> {
        if !self.body_open {
            return Ok(false);
        }
        let mut gave = false;
        while self.sent < self.message.len() && conn.wants_body() {
            let end = (self.sent + BODY_CHUNK).min(self.message.len());
            conn.send_body_chunk(self.message.slice(self.sent..end))
                .map_err(io::Error::other)?;
            self.sent = end;
            gave = true;
        }
        if self.sent == self.message.len() {
            conn.end_body().map_err(io::Error::other)?;
            self.body_open = false;
            gave = true;
        }
        Ok(gave)
    }

    /// The outcome: `Ok` with the final reply when everything was accepted.
    pub fn outcome(self) -> Result<Reply, String> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        match self.accepted {
            Some(_) if self.refused_recipients > 0 => Err(format!(
                "{} of {} recipients refused",
                self.refused_recipients,
                self.recipients.len()
            )),
            Some(reply) => Ok(reply),
            None => Err("the session ended before the message was accepted".to_owned()),
        }
    }

    fn recipient(&self, index: usize) -> &str {
        self.recipients.get(index).map_or("?", String::as_str)
    }

    fn refused(&mut self, what: &str, failure: &Failure) {
        let kind = if failure.is_permanent() {
            "permanently"
        } else {
            "temporarily"
        };
        self.fail(format!("{what} {kind}: {}", failure.reply()));
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
    }
}

/// Asks the machine to end the session (it sends QUIT once nothing is in flight).
fn quit(conn: &mut Connection) {
    if let Err(error) = conn.quit() {
        tracing::debug!(%error, "quit");
    }
}
