//! What can go wrong in a client session: what the server did wrong
//! ([`ProtocolViolation`]), why authentication failed ([`AuthError`]), what ends a session
//! ([`Error`]), and what the application did wrong ([`UsageError`]).

use core::fmt;

use mail_wire::line::LineError;
use mail_wire::sasl::SaslError;
use mail_wire::session::CloseReason;

use crate::{ResponseCode, ResponseError, StatusLine, ValueError, Verb};

use super::event::{AuthMethod, AuthMethods};

/// What the client was waiting for when a bad response came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The server greeting (RFC 1939 section 4).
    Greeting,
    /// The response to a command.
    Command(Verb),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Greeting => f.write_str("greeting"),
            Self::Command(verb) => verb.fmt(f),
        }
    }
}

/// The server broke the protocol; the session cannot stay in step and is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A response line (or listing) that does not parse, or lacks what the command needs
    /// (e.g. a STAT answer without its two numbers).
    #[error("malformed response to {during}: {error}")]
    Malformed {
        /// What the client was waiting for.
        during: Step,
        /// What was wrong.
        error: ResponseError,
    },
    /// A response line longer than its limit, or one holding a bare CR, bare LF or NUL.
    #[error("bad response line during {during}: {error}")]
    Line {
        /// What the client was waiting for.
        during: Step,
        /// What was wrong with the line.
        error: LineError,
    },
    /// A multi-line listing (LIST, UIDL, CAPA) larger than `Limits::listing`.
    #[error("listing in answer to {during} is larger than {limit} octets")]
    ListingTooLong {
        /// The command.
        during: Step,
        /// The limit, in octets.
        limit: usize,
    },
    /// The server sent a line while no command was waiting for one.
    #[error("response from the server while no command was pending")]
    Unsolicited,
    /// A SASL `+ ` challenge in answer to a command that is not AUTH.
    #[error("SASL challenge in answer to {during}")]
    UnexpectedChallenge {
        /// The command.
        during: Step,
    },
    /// A SASL challenge that is not base64, or one the mechanism has no answer for.
    #[error("bad SASL challenge: {0}")]
    Sasl(SaslError),
}

/// Why the client could not log in. The session sends QUIT and closes after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The configuration holds no credentials.
    #[error("no credentials configured")]
    NoCredentials,
    /// No method the server offers may be used: the server offers only methods that send
    /// the password or token in the clear and the connection is not protected by TLS
    /// (ARCHITECTURE.md security invariant 7), or the credentials do not fit any offered
    /// method.
    #[error(
        "no usable authentication method{}",
        if *.plaintext_refused { " (plaintext authentication refused without TLS)" } else { "" }
    )]
    NoUsableMethod {
        /// A method was available but refused because it would send credentials in the clear.
        plaintext_refused: bool,
    },
    /// The credentials cannot be put on the wire (an empty or overlong user name, a
    /// password holding CR, LF or NUL, ...).
    #[error("credentials cannot be sent: {0}")]
    InvalidCredentials(ValueError),
    /// The client side of the SASL exchange failed.
    #[error("SASL exchange failed: {0}")]
    Sasl(SaslError),
    /// The server said `-ERR` to the credentials, and this was the only method tried.
    #[error("{method} rejected: {reply}")]
    Rejected {
        /// The method tried.
        method: AuthMethod,
        /// The server's answer; its response code tells why (see [`AuthError::failure`]).
        reply: StatusLine,
    },
    /// The server said `-ERR` to each of several methods, tried in turn (each refusal but
    /// the last came as [`Event::AuthMethodRefused`](super::Event::AuthMethodRefused)):
    /// the last one offered was refused, or its refusal was final (`[IN-USE]`,
    /// `[LOGIN-DELAY]`, `[SYS/TEMP]`, `[SYS/PERM]`: RFC 2449 section 8, RFC 3206).
    #[error("{tried} rejected: {reply}")]
    RejectedAll {
        /// Every method tried, in order.
        tried: AuthMethods,
        /// The server's answer to the last one; its response code tells why (see
        /// [`AuthError::failure`]).
        reply: StatusLine,
    },
}

/// Why the server refused a login, from its extended response code (RFC 2449 section 8,
/// RFC 3206).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthFailure {
    /// `[AUTH]`: the credentials are wrong; trying again with the same ones is pointless.
    BadCredentials,
    /// `[IN-USE]`: another session holds the maildrop lock; try again later.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too recently; try again later.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary server problem; try again later.
    TemporarySystem,
    /// `[SYS/PERM]`: a permanent server problem; a person must look at it.
    PermanentSystem,
    /// No code (or one this crate does not know): the cause is not said.
    Unspecified,
}

impl AuthFailure {
    /// The failure a server's `-ERR` line names.
    pub fn from_reply(reply: &StatusLine) -> Self {
        match reply.code() {
            Some(ResponseCode::Auth) => Self::BadCredentials,
            Some(ResponseCode::InUse) => Self::InUse,
            Some(ResponseCode::LoginDelay) => Self::LoginDelay,
            Some(ResponseCode::SysTemp) => Self::TemporarySystem,
            Some(ResponseCode::SysPerm) => Self::PermanentSystem,
            _ => Self::Unspecified,
        }
    }

    /// Whether the same login may succeed later without changing anything.
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::InUse | Self::LoginDelay | Self::TemporarySystem)
    }

    /// Whether the refusal holds for any login method: the maildrop is locked, the user
    /// must wait, or the server has a problem (RFC 2449 section 8, RFC 3206). The client
    /// does not fall back to another method after one of these.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::InUse | Self::LoginDelay | Self::TemporarySystem | Self::PermanentSystem
        )
    }
}

impl AuthError {
    /// Why the server refused, when it did (None for local failures).
    pub fn failure(&self) -> Option<AuthFailure> {
        match self {
            Self::Rejected { reply, .. } | Self::RejectedAll { reply, .. } => {
                Some(AuthFailure::from_reply(reply))
            }
            _ => None,
        }
    }

    /// Every method the server refused, in the order tried (empty for local failures).
    pub fn methods_tried(&self) -> AuthMethods {
        match self {
            Self::Rejected { method, .. } => {
                let mut tried = AuthMethods::new();
                tried.push(*method);
                tried
            }
            Self::RejectedAll { tried, .. } => *tried,
            _ => AuthMethods::new(),
        }
    }
}

/// Why a session ended early. Delivered once, as [`Event::Failed`](super::Event::Failed),
/// before [`Next::Closed`](crate::Next::Closed) gives the [`CloseReason`]; nothing the client
/// asked to delete was deleted unless a `Quit` event said so (RFC 1939 section 6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server's greeting was `-ERR` (RFC 1939 section 4).
    #[error("server refused the session: {0}")]
    GreetingRejected(StatusLine),
    /// The server broke the protocol.
    #[error("protocol violation: {0}")]
    ProtocolViolation(#[from] ProtocolViolation),
    /// Logging in failed.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The configuration requires TLS and the server does not offer STLS. No credentials
    /// were sent.
    #[error("TLS required but the server does not offer STLS")]
    TlsNotOffered,
    /// The configuration requires TLS and the server refused STLS with this `-ERR`. No
    /// credentials were sent.
    #[error("TLS required but the server refused STLS: {0}")]
    TlsRefused(StatusLine),
    /// The deadline of the wait that `poll` gave passed (the adapter called
    /// `handle_timeout`): nothing was deleted.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The connection was lost before the session ended: the server closed it, or the socket
    /// or the TLS handshake failed (the adapter called `handle_close`). A message being
    /// received is incomplete; nothing was deleted (RFC 1939 section 6).
    #[error("connection lost before the session ended")]
    ConnectionLost,
    /// The adapter gave more input than the machine holds (it reads only when `poll` says
    /// `Read`), past the hard cap (ARCHITECTURE.md security invariant 3).
    #[error("input buffer overflow ({limit} octets unprocessed)")]
    InputOverflow {
        /// The hard cap, in octets.
        limit: usize,
    },
}

impl Error {
    /// How a session that failed with this error ends.
    pub(crate) fn close_reason(&self) -> CloseReason {
        match self {
            Self::ProtocolViolation(_) => CloseReason::ProtocolViolation,
            Self::Timeout => CloseReason::Timeout,
            Self::ConnectionLost => CloseReason::ConnectionLost,
            Self::InputOverflow { .. } => CloseReason::InputOverflow,
            Self::GreetingRejected(_)
            | Self::Auth(_)
            | Self::TlsNotOffered
            | Self::TlsRefused(_) => CloseReason::Failed,
        }
    }
}

/// The application misused the connection. Nothing was sent; the session goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// Maildrop commands are only possible once logged in (the TRANSACTION state,
    /// RFC 1939 section 5); wait for `Event::Authenticated`.
    #[error("not logged in: commands wait for the TRANSACTION state")]
    NotInTransaction,
    /// QUIT was already queued: nothing may follow it.
    #[error("QUIT already queued")]
    Quitting,
    /// The session is over.
    #[error("session closed")]
    Closed,
    /// More commands are queued than `Config::max_queued_commands`; consume events first.
    #[error("command queue full ({limit} commands)")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// `tls_established` was called without an upgrade to finish (`poll` gave no
    /// `Next::UpgradeTls`): the session is not marked secure by mistake.
    #[error("no TLS upgrade pending")]
    NoTlsUpgrade,
}
