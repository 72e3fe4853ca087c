//! What the server machine tells the application, and how the application can misuse it.

use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use mail_wire::sasl::Credentials;

use crate::{ApopDigest, Mechanism, MsgNumber, Name, Password, Timestamp, UniqueId};

/// Something the application learns from a session. Events marked *decision*
/// ([`Event::is_decision`]) block the session until the application answers on the
/// [`Connection`](super::Connection): meanwhile [`poll`](super::Connection::poll) says
/// [`Next::AwaitApp`](crate::Next::AwaitApp), and later pipelined commands wait, so replies
/// stay in order (RFC 2449 section 6.6).
///
/// The end of the session is not an event: it is [`Next::Closed`](crate::Next::Closed).
///
/// `Debug` shows no credentials (ARCHITECTURE.md security invariant 10): passwords and SASL
/// secrets are [`mail_wire::Secret`]s, and a relayed AUTH response shows only its length.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// *Decision*: a client presented credentials. Answer with
    /// [`accept`](super::Connection::accept) (giving the maildrop listing) or
    /// [`reject`](super::Connection::reject).
    Login(Login),
    /// *Decision*: a step of an AUTH exchange for a mechanism the machine does not run itself
    /// (RFC 5034). `response` is the client's decoded answer; `None` on the first step when
    /// the AUTH command carried no initial response. Answer with
    /// [`sasl_challenge`](super::Connection::sasl_challenge) to continue, or
    /// [`accept`](super::Connection::accept) / [`reject`](super::Connection::reject) to end it.
    AuthStep {
        /// The mechanism named by AUTH.
        mechanism: Mechanism,
        /// The client's decoded response (empty for `=` or an empty line).
        response: Option<Bytes>,
    },
    /// A relayed AUTH exchange ended without a decision: the client cancelled with `*` or
    /// sent invalid base64 (the machine answered `-ERR`). The application drops its state.
    AuthAborted,
    /// *Decision*: the client wants a message (RETR, or TOP when `lines` is set). Stream its
    /// content with [`send_message_chunk`](super::Connection::send_message_chunk) and
    /// [`end_message`](super::Connection::end_message), or answer
    /// [`message_unavailable`](super::Connection::message_unavailable). Until the message
    /// ends, [`poll`](super::Connection::poll) gives the content written so far as
    /// [`Next::Transmit`](crate::Next::Transmit), then [`Next::AwaitApp`](crate::Next::AwaitApp).
    Retrieve(Retrieve),
    /// *Decision*: QUIT in the TRANSACTION state (RFC 1939 section 6): remove exactly these
    /// messages, then answer [`commit_succeeded`](super::Connection::commit_succeeded) or
    /// [`commit_failed`](super::Connection::commit_failed). Sent once, even when `deleted`
    /// is empty, so the application can release the maildrop. No other path deletes
    /// anything (ARCHITECTURE.md security invariant 6).
    Commit {
        /// The messages marked deleted, in message-number order.
        deleted: Vec<DeletedMessage>,
    },
}

impl Event {
    /// Whether the event is a decision the application must answer on the
    /// [`Connection`](super::Connection) before the session goes on: [`Event::Login`],
    /// [`Event::AuthStep`], [`Event::Retrieve`] and [`Event::Commit`].
    pub fn is_decision(&self) -> bool {
        matches!(
            self,
            Self::Login(_) | Self::AuthStep { .. } | Self::Retrieve(_) | Self::Commit { .. }
        )
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login(login) => f.debug_tuple("Login").field(login).finish(),
            Self::AuthStep {
                mechanism,
                response,
            } => {
                // A relayed mechanism's response may be a secret: only its length shows.
                let response = response.as_ref().map(|bytes| Redacted(bytes.len()));
                f.debug_struct("AuthStep")
                    .field("mechanism", mechanism)
                    .field("response", &response)
                    .finish()
            }
            Self::AuthAborted => f.write_str("AuthAborted"),
            Self::Retrieve(retrieve) => f.debug_tuple("Retrieve").field(retrieve).finish(),
            Self::Commit { deleted } => f.debug_struct("Commit").field("deleted", deleted).finish(),
        }
    }
}

/// The length of a hidden value, for `Debug`.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} octets hidden>", self.0)
    }
}

/// Credentials a client presented (RFC 1939 section 7, RFC 5034).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Login {
    /// USER then PASS.
    UserPass {
        /// The mailbox name.
        name: Name,
        /// The password (its `Debug` hides it).
        password: Password,
    },
    /// APOP: check with [`ApopLogin::verify`] against the stored secret.
    Apop(ApopLogin),
    /// AUTH with PLAIN, LOGIN or XOAUTH2, decoded by the machine.
    Sasl {
        /// The mechanism.
        mechanism: Mechanism,
        /// What the client sent (passwords and tokens are [`mail_wire::Secret`]s).
        credentials: Credentials,
    },
}

impl Login {
    /// The user name and password, however the client sent them: USER/PASS (RFC 1939
    /// section 7), AUTH PLAIN (RFC 4616) or AUTH LOGIN. A server that checks passwords
    /// answers every login with this one call, so a client that prefers SASL (curl, when
    /// CAPA lists SASL) is not refused.
    ///
    /// `None` for a login that carries no password: APOP (check it with
    /// [`ApopLogin::verify`] against the stored secret) and XOAUTH2 (validate its bearer
    /// token with the token's issuer); and for PLAIN with an authorization identity other
    /// than the user (RFC 4616 section 2): acting as another user needs a policy of its own.
    ///
    /// ```
    /// use pop3_proto::server::Login;
    /// use pop3_proto::{Name, Password};
    ///
    /// let login = Login::UserPass {
    ///     name: Name::new("alice").unwrap(),
    ///     password: Password::new("secret").unwrap(),
    /// };
    /// assert_eq!(login.password(), Some((&b"alice"[..], &b"secret"[..])));
    /// ```
    pub fn password(&self) -> Option<(&[u8], &[u8])> {
        match self {
            Self::UserPass { name, password } => Some((name.as_bytes(), password.expose())),
            Self::Sasl {
                credentials: Credentials::Password(p),
                ..
            } => match &p.authzid {
                Some(authzid) if *authzid != p.username => None,
                _ => Some((p.username.as_bytes(), p.password.expose())),
            },
            Self::Apop(_) | Self::Sasl { .. } => None,
        }
    }

    /// Whether this login is `user` with `password`, by [`password`](Self::password) (so
    /// USER/PASS, PLAIN and LOGIN alike), comparing the password in time that does not
    /// depend on where it differs.
    ///
    /// ```
    /// use pop3_proto::server::Login;
    /// use pop3_proto::{Name, Password};
    ///
    /// let login = Login::UserPass {
    ///     name: Name::new("alice").unwrap(),
    ///     password: Password::new("secret").unwrap(),
    /// };
    /// assert!(login.verify_password(b"alice", b"secret"));
    /// assert!(!login.verify_password(b"alice", b"secreT"));
    /// ```
    pub fn verify_password(&self, user: &[u8], password: &[u8]) -> bool {
        self.password().is_some_and(|(u, p)| {
            let same = p.len() == password.len()
                && p.iter()
                    .zip(password)
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0;
            same & (u == user)
        })
    }

    /// The user name presented (for locking the maildrop, for logs).
    pub fn user(&self) -> &[u8] {
        match self {
            Self::UserPass { name, .. } => name.as_bytes(),
            Self::Apop(apop) => apop.name.as_bytes(),
            Self::Sasl { credentials, .. } => match credentials {
                Credentials::Password(password) => password.username.as_bytes(),
                Credentials::OAuth2(oauth) => oauth.user.as_bytes(),
            },
        }
    }
}

/// An APOP login (RFC 1939 section 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApopLogin {
    /// The mailbox name.
    pub name: Name,
    /// The timestamp of this session's greeting.
    pub timestamp: Timestamp,
    /// The digest the client sent.
    pub digest: ApopDigest,
}

impl ApopLogin {
    /// Whether the digest is MD5(timestamp + `secret`), compared in constant time.
    pub fn verify(&self, secret: &[u8]) -> bool {
        self.digest.verify(&self.timestamp, secret)
    }
}

/// A request for a message's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrieve {
    /// The message number.
    pub msg: MsgNumber,
    /// Its position in the maildrop the application gave ([`Maildrop`](super::Maildrop)),
    /// from 0.
    pub index: usize,
    /// Its unique id, as the application gave it.
    pub uid: UniqueId,
    /// Its size, as the application gave it.
    pub size: u64,
    /// TOP: the body lines wanted after the header. The application streams the whole
    /// message (or stops early); the machine cuts it.
    pub lines: Option<u32>,
}

/// A message to remove at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedMessage {
    /// The message number.
    pub msg: MsgNumber,
    /// Its position in the maildrop the application gave, from 0.
    pub index: usize,
    /// Its unique id.
    pub uid: UniqueId,
}

/// Why a login is refused ([`Connection::reject`](super::Connection::reject)); each gives
/// its extended response code (RFC 2449 section 8, RFC 3206).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginRefusal {
    /// `-ERR [AUTH]`: wrong credentials. Counts toward [`Config::max_failed_logins`].
    ///
    /// [`Config::max_failed_logins`]: super::Config::max_failed_logins
    BadCredentials,
    /// `-ERR [IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `-ERR [LOGIN-DELAY]`: logged in too soon after the last login.
    LoginDelay,
    /// `-ERR [SYS/TEMP]`: a temporary failure; the client may try again later.
    SysTemp,
    /// `-ERR [SYS/PERM]`: a permanent failure.
    SysPerm,
}

impl LoginRefusal {
    pub(super) fn reply(self) -> &'static [u8] {
        match self {
            Self::BadCredentials => b"-ERR [AUTH] authentication failed\r\n",
            Self::InUse => b"-ERR [IN-USE] maildrop is locked by another session\r\n",
            Self::LoginDelay => b"-ERR [LOGIN-DELAY] login too soon after the last one\r\n",
            Self::SysTemp => b"-ERR [SYS/TEMP] temporary failure, try again later\r\n",
            Self::SysPerm => b"-ERR [SYS/PERM] maildrop unavailable\r\n",
        }
    }
}

/// What the application did wrong: an answer that does not fit the session's state. The
/// session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// No decision is pending.
    #[error("no decision is pending")]
    NoDecisionPending,
    /// A decision is pending, but not of the kind answered.
    #[error("the pending decision is {pending}, not this one")]
    WrongDecision {
        /// What the pending decision is.
        pending: &'static str,
    },
    /// The session has ended.
    #[error("the session is closed")]
    Closed,
    /// The maildrop has more than `u32::MAX` messages (RFC 1939 numbers do not reach them).
    #[error("the maildrop has too many messages")]
    TooManyMessages,
    /// Content was already sent, so the message can no longer be refused.
    #[error("the message has started")]
    MessageStarted,
    /// [`tls_established`](super::Connection::tls_established) without an upgrade to finish
    /// (no [`Next::UpgradeTls`](crate::Next::UpgradeTls) was given): the session is not
    /// marked secure by mistake.
    #[error("no TLS upgrade is in progress")]
    NoTlsUpgrade,
}
