//! Errors: what the server did wrong or refused ([`Error`], which ends the session) and what
//! the application did wrong ([`UsageError`], [`SendMailError`], which change nothing).

use crate::SaslError;
use crate::error::ReplyError;
use crate::reply::{Code, Reply};

use super::event::Failure;

/// Why a session failed. Carried by [`Event::Failed`](super::Event::Failed), which comes
/// before [`Next::Closed`](crate::Next::Closed) (ARCHITECTURE.md, "The session contract", rule
/// 4); the [`CloseReason`](crate::CloseReason) there says the same in one word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The greeting was negative, e.g. 554 "no SMTP service here" (RFC 5321 section 3.1).
    #[error("greeting refused: {0}")]
    GreetingRejected(Failure),
    /// 421: the server is closing the connection (RFC 5321 section 3.8). Nothing more is sent.
    #[error("service closing: {0}")]
    ServiceClosing(Reply),
    /// EHLO (and HELO after it) was refused.
    #[error("EHLO/HELO refused: {0}")]
    HelloRejected(Failure),
    /// The TLS mode is [`Required`](crate::TlsMode::Required) and the server does not
    /// offer STARTTLS: only QUIT was sent.
    #[error("STARTTLS required but not offered")]
    TlsNotOffered,
    /// The TLS mode is [`Required`](crate::TlsMode::Required) and the server refused
    /// STARTTLS: only QUIT was sent after it.
    #[error("STARTTLS refused: {0}")]
    TlsRejected(Failure),
    /// Credentials are configured but the server offers no AUTH mechanism that fits them
    /// among [`Config::sasl_mechanisms`](super::Config::sasl_mechanisms).
    #[error("no usable AUTH mechanism offered")]
    NoUsableMechanism,
    /// The only mechanisms that fit would send the credentials in the clear before TLS, and
    /// [`Config::allow_plaintext_auth_without_tls`](super::Config::allow_plaintext_auth_without_tls)
    /// is off (ARCHITECTURE.md security invariant 7). Nothing was sent.
    #[error("refusing to send credentials without TLS")]
    PlaintextAuthRefused,
    /// The configured credentials cannot be sent with the chosen mechanism, e.g. a NUL in a
    /// PLAIN field, which would split it into another field (RFC 4616 section 2,
    /// ARCHITECTURE.md security invariant 11). Nothing was sent; the session ends with QUIT.
    #[error("credentials unusable: {0}")]
    UnusableCredentials(SaslError),
    /// The server broke the protocol: a malformed, unexpected or unsolicited reply, or more
    /// input than the machine holds.
    #[error("protocol violation: {0}")]
    ProtocolViolation(ProtocolViolation),
    /// The server did not answer before the deadline of the wait
    /// ([`handle_timeout`](super::Connection::handle_timeout)).
    #[error("timeout waiting for the server")]
    Timeout,
    /// The connection closed (or failed) before the session was over.
    #[error("connection lost")]
    ConnectionLost,
}

/// How the server broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A reply that does not parse (bad code, forbidden byte, line too long, too many lines).
    #[error("malformed reply: {0}")]
    Malformed(ReplyError),
    /// A reply arrived when none was awaited.
    #[error("unsolicited reply {0}")]
    Unsolicited(Code),
    /// A reply code that makes no sense for the command it answers (e.g. 354 to MAIL).
    #[error("unexpected reply {code} to {command}")]
    UnexpectedCode {
        /// The command answered.
        command: &'static str,
        /// The code received.
        code: Code,
    },
    /// More input arrived than the machine holds unprocessed (an adapter that reads without
    /// polling, or a server that floods it; ARCHITECTURE.md security invariant 3).
    #[error("too much input")]
    InputOverflow,
}

/// The application called a method the session cannot honour now. Nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// The session is still setting up, busy with a transaction, or resetting.
    #[error("session not ready for a new command")]
    NotReady,
    /// No body is expected now (before [`Event::SendBody`](super::Event::SendBody), after
    /// [`end_body`](super::Connection::end_body), or after the server refused a chunk).
    #[error("no message body expected now")]
    NoBodyExpected,
    /// A body is being sent: end it before quitting (or drop the connection).
    #[error("message body in progress")]
    BodyInProgress,
    /// The session is over.
    #[error("session closed")]
    Closed,
    /// [`tls_established`](super::Connection::tls_established) without a pending upgrade
    /// ([`Next::UpgradeTls`](crate::Next::UpgradeTls)).
    #[error("no TLS upgrade pending")]
    NoTlsUpgrade,
}

/// Why [`send_mail`](super::Connection::send_mail) refused an envelope. Nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendMailError {
    /// The session cannot take a transaction now.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The envelope has no recipient.
    #[error("no recipient")]
    NoRecipients,
    /// The size hint exceeds the server's SIZE limit (RFC 1870 section 4).
    #[error("message of {size} octets exceeds the server's limit of {limit}")]
    MessageTooBig {
        /// The size hint.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// The body has 8-bit octets and the server does not offer 8BITMIME (RFC 6152 section 3).
    #[error("8-bit body but the server does not offer 8BITMIME")]
    EightBitMimeNotOffered,
    /// A binary body needs CHUNKING and BINARYMIME (RFC 3030), not both offered (or chunking
    /// is off in the config).
    #[error("binary body but the server does not offer BINARYMIME with CHUNKING")]
    BinaryMimeNotOffered,
    /// An address is not ASCII and the server does not offer SMTPUTF8 (RFC 6531 section 3.2).
    #[error("UTF-8 address but the server does not offer SMTPUTF8")]
    SmtpUtf8NotOffered,
}
