//! What the client session tells the application.

use crate::address::ForwardPath;
use crate::capability::Capabilities;
use crate::reply::{Class, Reply};

use super::error::Error;

/// A negative reply (RFC 5321 section 4.2.1): 4yz may succeed if tried again later, 5yz will
/// not succeed as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 4yz: a transient failure; try again later.
    Transient(Reply),
    /// 5yz: a permanent failure; do not repeat as is.
    Permanent(Reply),
}

impl Failure {
    /// The failure a reply states, or `None` for a 2yz or 3yz reply.
    pub fn from_reply(reply: Reply) -> Option<Failure> {
        match reply.code().class() {
            Class::TransientNegative => Some(Failure::Transient(reply)),
            Class::PermanentNegative => Some(Failure::Permanent(reply)),
            Class::PositiveCompletion | Class::PositiveIntermediate => None,
        }
    }

    /// The server's reply.
    pub fn reply(&self) -> &Reply {
        match self {
            Failure::Transient(reply) | Failure::Permanent(reply) => reply,
        }
    }

    /// Whether it is a 5yz failure.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Permanent(_))
    }
}

impl core::fmt::Display for Failure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Failure::Transient(reply) => write!(f, "transient failure: {reply}"),
            Failure::Permanent(reply) => write!(f, "permanent failure: {reply}"),
        }
    }
}

/// One thing the application learns from [`Connection::poll`](super::Connection::poll).
///
/// A session reports, in this order: [`Greeting`](Event::Greeting), then
/// [`Capabilities`](Event::Capabilities) (again after STARTTLS), an
/// [`Authenticated`](Event::Authenticated) or [`AuthRejected`](Event::AuthRejected) when
/// credentials are configured, then [`Ready`](Event::Ready). Each
/// [`send_mail`](super::Connection::send_mail) then ends with exactly one of
/// [`MessageAccepted`](Event::MessageAccepted), [`MessageRejected`](Event::MessageRejected),
/// [`SenderRejected`](Event::SenderRejected) or
/// [`NoRecipientAccepted`](Event::NoRecipientAccepted), after which the next transaction may
/// start, unless the session fails first ([`Failed`](Event::Failed), then
/// [`Next::Closed`](crate::Next::Closed)): a transaction without `MessageAccepted` was not
/// delivered. The TLS upgrade and the end of the session are not events: `poll` says
/// [`Next::UpgradeTls`](crate::Next::UpgradeTls) and [`Next::Closed`](crate::Next::Closed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server's 220 greeting (RFC 5321 section 4.3.1).
    Greeting(Reply),
    /// The extensions the server advertised in its EHLO reply (none after a fallback to HELO).
    /// After STARTTLS the old ones are forgotten and this comes again.
    Capabilities(Capabilities),
    /// AUTH succeeded (235, RFC 4954 section 6).
    Authenticated(Reply),
    /// AUTH failed; the session goes on unauthenticated (the application may quit).
    AuthRejected(Failure),
    /// Set-up is over: [`send_mail`](super::Connection::send_mail) may be called.
    Ready,
    /// The server accepted the recipient at `index` of the envelope.
    RecipientAccepted {
        /// Index in [`Envelope::to`](super::Envelope::to).
        index: usize,
        /// The recipient, `Envelope::to[index]`: what a program prints or logs.
        to: ForwardPath,
        /// The server's reply.
        reply: Reply,
    },
    /// The server refused the recipient at `index` of the envelope.
    RecipientRejected {
        /// Index in [`Envelope::to`](super::Envelope::to).
        index: usize,
        /// The recipient, `Envelope::to[index]`: what a program prints or logs.
        to: ForwardPath,
        /// The server's reply.
        failure: Failure,
    },
    /// *Decision*: the server takes the body. Answer by pushing it with
    /// [`send_body_chunk`](super::Connection::send_body_chunk) while
    /// [`wants_body`](super::Connection::wants_body) says so, then
    /// [`end_body`](super::Connection::end_body); `poll` says
    /// [`Next::AwaitApp`](crate::Next::AwaitApp) while the machine waits for more.
    SendBody,
    /// The message was accepted for delivery to the accepted recipients; the reply text
    /// usually carries the server's queue id.
    MessageAccepted(Reply),
    /// The message was refused (at DATA, a BDAT chunk, or the end of data).
    MessageRejected(Failure),
    /// MAIL FROM was refused; nothing was sent for this transaction.
    SenderRejected(Failure),
    /// Every recipient was refused: no body was sent and the transaction was reset
    /// (RFC 2920 section 3.1).
    NoRecipientAccepted,
    /// An application's [`reset`](super::Connection::reset) completed.
    Reset,
    /// The session failed; [`Next::Closed`](crate::Next::Closed) follows (after a QUIT when
    /// the connection is still usable).
    Failed(Error),
}

impl Event {
    /// Whether the application must answer the event on the machine: only
    /// [`SendBody`](Event::SendBody), answered by pushing the body.
    pub fn is_decision(&self) -> bool {
        matches!(self, Event::SendBody)
    }
}
