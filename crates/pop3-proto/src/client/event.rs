//! What a client session tells the application, and the requests it can make.

use core::fmt;

use bytes::Bytes;
use mail_wire::dot::BodyError;

use crate::{
    Capability, CapabilityList, Command, Mechanism, Mechanisms, MsgNumber, ScanList, ScanListing,
    Stat, StatusLine, Timestamp, UidList, UidListing, Verb,
};

use super::error::Error;

/// A maildrop command the application queues with the `Connection` methods (`stat()`,
/// `retr(n)`, ...). Results come back as events in the order the requests were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Request {
    /// `STAT`
    Stat,
    /// `LIST [msg]`
    List(Option<MsgNumber>),
    /// `UIDL [msg]`
    Uidl(Option<MsgNumber>),
    /// `RETR msg`
    Retr(MsgNumber),
    /// `TOP msg lines`
    Top {
        /// The message.
        msg: MsgNumber,
        /// Body lines wanted after the header.
        lines: u32,
    },
    /// `DELE msg`
    Dele(MsgNumber),
    /// `RSET`
    Rset,
    /// `NOOP`
    Noop,
    /// `QUIT`
    Quit,
}

impl Request {
    /// The command this request sends.
    pub fn command(self) -> Command {
        match self {
            Self::Stat => Command::Stat,
            Self::List(msg) => Command::List(msg),
            Self::Uidl(msg) => Command::Uidl(msg),
            Self::Retr(msg) => Command::Retr(msg),
            Self::Top { msg, lines } => Command::Top { msg, lines },
            Self::Dele(msg) => Command::Dele(msg),
            Self::Rset => Command::Rset,
            Self::Noop => Command::Noop,
            Self::Quit => Command::Quit,
        }
    }

    /// The command's keyword.
    pub fn verb(self) -> Verb {
        match self {
            Self::Stat => Verb::Stat,
            Self::List(_) => Verb::List,
            Self::Uidl(_) => Verb::Uidl,
            Self::Retr(_) => Verb::Retr,
            Self::Top { .. } => Verb::Top,
            Self::Dele(_) => Verb::Dele,
            Self::Rset => Verb::Rset,
            Self::Noop => Verb::Noop,
            Self::Quit => Verb::Quit,
        }
    }

    /// The message the request names, if any.
    pub fn msg(self) -> Option<MsgNumber> {
        match self {
            Self::List(msg) | Self::Uidl(msg) => msg,
            Self::Retr(msg) | Self::Dele(msg) | Self::Top { msg, .. } => Some(msg),
            Self::Stat | Self::Rset | Self::Noop | Self::Quit => None,
        }
    }
}

/// How the client logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `AUTH` with a SASL mechanism (RFC 5034).
    Sasl(Mechanism),
    /// `APOP` (RFC 1939 section 7).
    Apop,
    /// `USER` and `PASS` (RFC 1939 section 7).
    UserPass,
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sasl(mechanism) => write!(f, "AUTH {mechanism}"),
            Self::Apop => f.write_str("APOP"),
            Self::UserPass => f.write_str("USER/PASS"),
        }
    }
}

/// Login methods in the order the client tried them (RFC 1939 section 7, RFC 5034), at
/// most [`AuthMethods::CAPACITY`]. Held inline in a few octets, without allocation: the
/// methods are those the client runs (SASL PLAIN, LOGIN and XOAUTH2, APOP, USER/PASS), so
/// lists are built by the session only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthMethods {
    codes: [u8; AuthMethods::CAPACITY],
    len: u8,
}

impl AuthMethods {
    /// The most methods a list holds: a SASL mechanism, APOP and USER/PASS, with room to
    /// spare.
    pub const CAPACITY: usize = 4;

    /// An empty list.
    pub const fn new() -> Self {
        Self {
            codes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    /// Appends `method`; false (and nothing changes) when the list is full or the method
    /// is not one the client runs.
    pub(crate) fn push(&mut self, method: AuthMethod) -> bool {
        let code = match method {
            AuthMethod::Sasl(Mechanism::Plain) => 0,
            AuthMethod::Sasl(Mechanism::Login) => 1,
            AuthMethod::Sasl(Mechanism::XOAuth2) => 2,
            AuthMethod::Apop => 3,
            AuthMethod::UserPass => 4,
            AuthMethod::Sasl(_) => return false,
        };
        match self.codes.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = code;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The method at `index`.
    pub fn get(&self, index: usize) -> Option<AuthMethod> {
        self.iter().nth(index)
    }

    /// How many methods the list holds.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `method` is in the list.
    pub fn contains(&self, method: AuthMethod) -> bool {
        self.iter().any(|tried| tried == method)
    }

    /// The methods, in order.
    pub fn iter(&self) -> impl Iterator<Item = AuthMethod> + '_ {
        self.codes[..self.len()].iter().map(|code| match code {
            0 => AuthMethod::Sasl(Mechanism::Plain),
            1 => AuthMethod::Sasl(Mechanism::Login),
            2 => AuthMethod::Sasl(Mechanism::XOAuth2),
            3 => AuthMethod::Apop,
            _ => AuthMethod::UserPass,
        })
    }

    /// The first `n` methods.
    pub(crate) fn prefix(&self, n: usize) -> Self {
        let mut prefix = *self;
        prefix.len = prefix.len.min(u8::try_from(n).unwrap_or(u8::MAX));
        prefix
    }
}

impl Default for AuthMethods {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AuthMethods {
    /// The methods separated by `, `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, method) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            method.fmt(f)?;
        }
        Ok(())
    }
}

/// What the server said it can do: its CAPA listing (RFC 2449 section 5), or nothing
/// known when CAPA failed (a plain RFC 1939 server). Queries answer `None` for "not known".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    list: Option<CapabilityList>,
}

impl Capabilities {
    /// Capabilities from a CAPA listing.
    pub fn from_list(list: CapabilityList) -> Self {
        Self { list: Some(list) }
    }

    /// Nothing known: CAPA failed or was not sent yet.
    pub fn unknown() -> Self {
        Self { list: None }
    }

    /// Whether CAPA answered.
    pub fn is_known(&self) -> bool {
        self.list.is_some()
    }

    /// The CAPA listing, if CAPA answered.
    pub fn list(&self) -> Option<&CapabilityList> {
        self.list.as_ref()
    }

    /// The capabilities, parsed lazily (none when unknown).
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.list.iter().flat_map(|list| list.iter())
    }

    /// Whether the server has capability `wanted` (None when unknown).
    pub fn has(&self, wanted: &Capability) -> Option<bool> {
        self.list.as_ref()?;
        Some(self.iter().any(|capability| &capability == wanted))
    }

    /// `STLS` (RFC 2595 section 4).
    pub fn stls(&self) -> Option<bool> {
        self.has(&Capability::Stls)
    }

    /// `PIPELINING` (RFC 2449 section 6.6).
    pub fn pipelining(&self) -> Option<bool> {
        self.has(&Capability::Pipelining)
    }

    /// `USER` (RFC 2449 section 6.2).
    pub fn user(&self) -> Option<bool> {
        self.has(&Capability::User)
    }

    /// `TOP` (RFC 2449 section 6.1).
    pub fn top(&self) -> Option<bool> {
        self.has(&Capability::Top)
    }

    /// `UIDL` (RFC 2449 section 6.8).
    pub fn uidl(&self) -> Option<bool> {
        self.has(&Capability::Uidl)
    }

    /// The SASL mechanisms offered (RFC 2449 section 6.3), if the capability is there.
    pub fn sasl(&self) -> Option<Mechanisms> {
        self.iter().find_map(|capability| match capability {
            Capability::Sasl(mechanisms) => Some(mechanisms),
            _ => None,
        })
    }
}

/// How a message (RETR) or message top (TOP) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageEnd {
    /// The message.
    pub msg: MsgNumber,
    /// Octets delivered in `MessageData` events (unstuffed), counting what was drained
    /// after an error.
    pub size: u64,
    /// Why the content was cut short (over `Config::message_size_limit`), if it was.
    pub error: Option<BodyError>,
}

/// The server's answer to QUIT in the TRANSACTION state (RFC 1939 section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuitOutcome {
    /// `+OK`: the messages marked deleted were removed. `-ERR`: some or all were not.
    pub committed: bool,
    /// The server's line.
    pub reply: StatusLine,
}

/// Something the application learns from the session, in order. STLS is not an event: it
/// is [`Next::UpgradeTls`](crate::Next::UpgradeTls); nor is the end:
/// [`Next::Closed`](crate::Next::Closed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server greeted with `+OK` (RFC 1939 section 4).
    Greeting {
        /// The greeting line.
        status: StatusLine,
        /// The APOP timestamp in it, if any (RFC 1939 section 7).
        apop: Option<Timestamp>,
    },
    /// The server's capabilities, after CAPA: before login, again after STLS, when the
    /// earlier ones are forgotten (RFC 2595 section 4), and again right after login, before
    /// [`Event::Authenticated`], when the server answered CAPA before (RFC 2449 section 5:
    /// they may differ once logged in; PIPELINING, say, may appear only then). The last
    /// ones are what the session uses.
    Capabilities(Capabilities),
    /// A login method was refused with `-ERR`, and the client goes on with the next one
    /// the server offers and the configuration allows (informational; the final refusal
    /// comes as [`Event::Failed`] with [`AuthError`](super::AuthError)).
    AuthMethodRefused {
        /// The method refused.
        method: AuthMethod,
        /// The server's line.
        reply: StatusLine,
    },
    /// Logged in: the session is in the TRANSACTION state and takes commands; the
    /// capabilities the server lists once logged in are known (see
    /// [`Event::Capabilities`]).
    Authenticated(AuthMethod),
    /// `STAT` result.
    Stat(Stat),
    /// `LIST` result (every message).
    ScanList(ScanList),
    /// `LIST msg` result.
    Scan(ScanListing),
    /// `UIDL` result (every message).
    UidList(UidList),
    /// `UIDL msg` result.
    Uid(UidListing),
    /// The server answered RETR (`top` None) or TOP with `+OK`: `MessageData` chunks
    /// follow, then `MessageEnd`.
    MessageStart {
        /// The message.
        msg: MsgNumber,
        /// For TOP, the body lines asked for.
        top: Option<u32>,
    },
    /// The next piece of the message, dot-unstuffed, in order.
    MessageData(Bytes),
    /// The message's terminating `.` line arrived.
    MessageEnd(MessageEnd),
    /// `DELE msg` succeeded: the message is marked, to be removed at QUIT.
    Deleted(MsgNumber),
    /// `RSET` succeeded: every deletion mark is gone.
    Reset,
    /// `NOOP` succeeded.
    Noop,
    /// The server answered a request with `-ERR`; the session goes on.
    CommandFailed {
        /// The request.
        request: Request,
        /// The server's line.
        reply: StatusLine,
    },
    /// The answer to QUIT; the session is over ([`Next::Closed`](crate::Next::Closed) with
    /// [`CloseReason::Quit`](crate::CloseReason::Quit) follows).
    Quit(QuitOutcome),
    /// The session failed and is over (after a polite QUIT where the protocol allows):
    /// [`Next::Closed`](crate::Next::Closed) follows, with the reason the error gives.
    Failed(Error),
}

impl Event {
    /// Whether the event is a decision the application must answer before the session goes
    /// on. None of the client's is: it runs the login by itself, and its results only
    /// inform (the application's next command is its own initiative, awaited as
    /// [`Next::AwaitApp`](crate::Next::AwaitApp)).
    pub fn is_decision(&self) -> bool {
        false
    }
}
