//! What the server machine tells the application, and what the application can get wrong.

use bytes::Bytes;
use mail_wire::Secret;
use mail_wire::sasl::Credentials;

use crate::address::{Domain, ForwardPath, ReversePath};
use crate::auth::Mechanism;
use crate::command::Argument;
use crate::params::{MailParams, RcptParams};

/// The greeting command a client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelloVerb {
    /// HELO: plain SMTP, no extensions (RFC 5321 section 4.1.1.1).
    Helo,
    /// EHLO: extended SMTP.
    Ehlo,
    /// LHLO: LMTP (RFC 2033 section 4.1).
    Lhlo,
}

/// Why a message was dropped before the application could accept it. Whatever
/// [`Event::MessageData`] delivered of it must be discarded (ARCHITECTURE.md security
/// invariant 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AbortReason {
    /// Larger than [`Config::max_message_size`](super::Config::max_message_size): the rest
    /// is drained and the client gets 552 5.3.4.
    TooLarge,
    /// A bare LF or CR in DATA content under [`BareLineEnding::Reject`](mail_wire::dot::BareLineEnding):
    /// the rest is drained and the client gets 550 5.6.11.
    BareLineEnding,
    /// The client reset the transaction (RSET, EHLO) between BDAT chunks.
    Reset,
    /// The connection dropped (or the adapter gave up) before the message was accepted.
    ConnectionLost,
    /// The client was silent too long; the machine sent 421 4.4.2.
    Timeout,
    /// The machine closed the session with a 421 (too much unread input, too many errors,
    /// the application's own 421).
    SessionClosed,
}

/// Something the application learns or decides. Events marked *decision* wait for an answer
/// on the [`Connection`](super::Connection) (`accept`, `reject`, ...) and hold back every later
/// event until then, so that replies keep the order of pipelined commands (RFC 2920).
/// [`is_decision`](Event::is_decision) tells them apart.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// *Decision* (only with [`Decisions::greeting`](super::Decisions::greeting)): a client
    /// connected. `accept` sends the 220 greeting; `reject` with 554 leaves the session
    /// refusing everything but QUIT (RFC 5321 section 3.1), with 421 it closes.
    Connected,
    /// *Decision* (only with [`Decisions::hello`](super::Decisions::hello)): HELO, EHLO or
    /// LHLO. `accept` sends 250 (with the capability list after EHLO and LHLO).
    Hello {
        /// The command.
        verb: HelloVerb,
        /// The name the client gave (a slice of the command line).
        domain: Domain,
    },
    /// *Decision* (only with [`Decisions::starttls`](super::Decisions::starttls)): the client
    /// asked for TLS. `accept` sends 220, after which `poll` says
    /// [`Next::UpgradeTls`](crate::Next::UpgradeTls).
    StartTlsRequested,
    /// *Decision*: a PLAIN, LOGIN or XOAUTH2 exchange (RFC 4954) is complete; check the
    /// credentials. `accept` sends 235 2.7.0; reject with 535 5.7.8 when they are wrong.
    Authenticate {
        /// The mechanism.
        mechanism: Mechanism,
        /// What the client proved itself with (the password and token print as hidden).
        credentials: Credentials,
    },
    /// *Decision*: AUTH with a mechanism the machine does not run itself. Answer with
    /// [`sasl_challenge`](super::Connection::sasl_challenge), `accept` (235) or `reject`.
    AuthStart {
        /// The mechanism.
        mechanism: Mechanism,
        /// The decoded initial response (empty for `=`), if the client sent one.
        initial_response: Option<Secret>,
    },
    /// *Decision*: the client's decoded answer to the last challenge of a relayed mechanism.
    AuthResponse {
        /// The decoded answer.
        response: Secret,
    },
    /// *Decision*: MAIL FROM (RFC 5321 section 4.1.1.2), its parameters already checked
    /// against what was advertised. `accept` sends 250 2.1.0 and opens the transaction.
    Mail {
        /// The sender, or null.
        from: ReversePath,
        /// The parameters (SIZE within the limit, BODY, SMTPUTF8, DSN...).
        params: MailParams,
    },
    /// *Decision*: RCPT TO (RFC 5321 section 4.1.1.3). `accept` sends 250 2.1.5.
    Rcpt {
        /// The recipient.
        to: ForwardPath,
        /// The parameters.
        params: RcptParams,
    },
    /// *Decision* (only with [`Decisions::vrfy`](super::Decisions::vrfy)): VRFY. `accept`
    /// sends 252; `accept_with` a 250 reply names the mailbox.
    Vrfy(Argument),
    /// *Decision* (only with [`Decisions::expn`](super::Decisions::expn)): EXPN.
    Expn(Argument),
    /// The next piece of the message content, in order: dot-unstuffed (DATA) or as sent
    /// (BDAT). No answer.
    MessageData(Bytes),
    /// *Decision*: the whole message has arrived. Store it, then `accept` /
    /// `accept_message` (250) or `reject`; in LMTP, answer each recipient with
    /// [`answer_recipients`](super::Connection::answer_recipients) or all at once.
    MessageEnd {
        /// Octets of content delivered.
        size: u64,
        /// Accepted recipients of the transaction.
        recipients: usize,
    },
    /// The message in progress is dropped: discard what [`Event::MessageData`] gave of it.
    /// No answer (the machine has replied, or the connection is gone).
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
}

impl Event {
    /// Whether the event waits for an answer on the [`Connection`](super::Connection): every
    /// event but [`MessageData`](Event::MessageData) and
    /// [`MessageAborted`](Event::MessageAborted). Until it is answered, `poll` says
    /// [`Next::AwaitApp`](crate::Next::AwaitApp).
    pub fn is_decision(&self) -> bool {
        !matches!(self, Event::MessageData(_) | Event::MessageAborted { .. })
    }
}

/// The application used the [`Connection`](super::Connection) wrongly. Nothing was sent and
/// nothing changed (ARCHITECTURE.md, "The session contract", rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No decision is waiting: the event was not polled yet, was answered already, or the
    /// connection closed meanwhile (then the answer is moot: e.g. a message not accepted in
    /// time must not be delivered, the client will send it again).
    #[error("no decision is pending")]
    NoDecisionPending,
    /// This answer does not fit the pending decision (e.g. `accept_message` to RCPT).
    #[error("this answer does not fit the pending {pending} decision")]
    WrongDecision {
        /// The pending decision.
        pending: &'static str,
    },
    /// `reject` needs a 4yz or 5yz reply.
    #[error("a rejection needs a 4yz or 5yz reply")]
    NotNegative,
    /// `accept_with` needs a 2yz reply.
    #[error("an acceptance needs a 2yz reply")]
    NotPositive,
    /// A reply line would exceed 512 octets (RFC 5321 section 4.5.3.1.5).
    #[error("reply line longer than 512 octets")]
    ReplyTooLong,
    /// A queue id must be printable ASCII, at most 200 octets.
    #[error("queue id must be 1 to 200 printable ASCII characters")]
    InvalidQueueId,
    /// LMTP needs exactly one reply per accepted recipient (RFC 2033 section 4.2).
    #[error("LMTP needs {expected} replies, got {got}")]
    RecipientCount {
        /// Accepted recipients.
        expected: usize,
        /// Replies given.
        got: usize,
    },
    /// Per-recipient replies exist only in LMTP.
    #[error("per-recipient replies need LMTP")]
    NotLmtp,
    /// `tls_established` without a pending upgrade ([`Next::UpgradeTls`](crate::Next::UpgradeTls)).
    #[error("no TLS upgrade is pending")]
    NoTlsUpgrade,
    /// A SASL challenge must fit an AUTH line once base64-encoded (RFC 4954 section 4).
    #[error("SASL challenge too long")]
    ChallengeTooLong,
}
