//! CAPA lines (RFC 2449 sections 5 and 6, RFC 2595, RFC 3206, RFC 6856), typed, with
//! unknown capabilities preserved as sent.

use bytes::{Bytes, BytesMut};
use mail_wire::decimal;
use mail_wire::value::IntoBytes;

use crate::lexical::{self, split_space};
use crate::listing::ListingEntry;
use crate::response::Text;
use crate::sasl::{self, Mechanism};
use crate::{Limits, ResponseError, ValueError};

/// One capability from a CAPA listing.
///
/// Names and the `USER`/`NEVER` arguments are matched case-insensitively. A line this crate
/// cannot type (an unknown name, or a known name with arguments it does not understand) is
/// kept as [`Capability::Other`], so a client never fails on a server's extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `TOP` (RFC 2449 section 6.1).
    Top,
    /// `USER`: USER/PASS is available (RFC 2449 section 6.2).
    User,
    /// `SASL mechanisms...` (RFC 2449 section 6.3, RFC 5034).
    Sasl(Mechanisms),
    /// `RESP-CODES` (RFC 2449 section 6.4).
    RespCodes,
    /// `LOGIN-DELAY seconds [USER]` (RFC 2449 section 6.5).
    LoginDelay {
        /// Minimum seconds between logins.
        seconds: u32,
        /// `USER`: the delay varies per user (only before login).
        per_user: bool,
    },
    /// `PIPELINING` (RFC 2449 section 6.6).
    Pipelining,
    /// `EXPIRE days|NEVER [USER]` (RFC 2449 section 6.7).
    Expire {
        /// How long the server keeps messages.
        policy: ExpirePolicy,
        /// `USER`: the policy varies per user (only before login).
        per_user: bool,
    },
    /// `UIDL` (RFC 2449 section 6.8).
    Uidl,
    /// `IMPLEMENTATION text` (RFC 2449 section 6.9).
    Implementation(Text),
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `AUTH-RESP-CODE` (RFC 3206 section 6).
    AuthRespCode,
    /// `UTF8 [USER]` (RFC 6856 section 2).
    Utf8 {
        /// `USER`: UTF-8 user names and passwords are accepted too.
        user_credentials: bool,
    },
    /// `LANG` (RFC 6856 section 3).
    Lang,
    /// Any other capability line, kept whole.
    Other(OtherCapability),
}

/// How long a server keeps messages (RFC 2449 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpirePolicy {
    /// `NEVER`: messages are kept until deleted.
    Never,
    /// Messages may be deleted this many days after retrieval (0: right after the session).
    Days(u32),
}

impl Capability {
    /// Parses one capability line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        lexical::parse_framed_line(line, limits.response_line, Self::parse_entry_in)
    }

    /// The known capability a line names, if its arguments are the ones it takes.
    fn typed(source: &Bytes, line: &[u8]) -> Option<Self> {
        let (tag, args) = split_space(line);
        let is = |name: &[u8]| tag.eq_ignore_ascii_case(name);
        let is_user = |arg: &[u8]| arg.eq_ignore_ascii_case(b"USER");
        let no_args = |capability| args.is_none().then_some(capability);
        if is(b"TOP") {
            no_args(Self::Top)
        } else if is(b"USER") {
            no_args(Self::User)
        } else if is(b"SASL") {
            let args = args.map_or_else(Bytes::new, |args| lexical::slice_in(source, args));
            Mechanisms::from_bytes(args).ok().map(Self::Sasl)
        } else if is(b"RESP-CODES") {
            no_args(Self::RespCodes)
        } else if is(b"LOGIN-DELAY") {
            let (seconds, per_user) = value_and_user(args?)?;
            Some(Self::LoginDelay {
                seconds: decimal::parse_u32(seconds)?,
                per_user,
            })
        } else if is(b"PIPELINING") {
            no_args(Self::Pipelining)
        } else if is(b"EXPIRE") {
            let (policy, per_user) = value_and_user(args?)?;
            let policy = if policy.eq_ignore_ascii_case(b"NEVER") {
                ExpirePolicy::Never
            } else {
                ExpirePolicy::Days(decimal::parse_u32(policy)?)
            };
            Some(Self::Expire { policy, per_user })
        } else if is(b"UIDL") {
            no_args(Self::Uidl)
        } else if is(b"IMPLEMENTATION") {
            let text = args.map_or_else(Bytes::new, |args| lexical::slice_in(source, args));
            Some(Self::Implementation(Text::from_line(text)))
        } else if is(b"STLS") {
            no_args(Self::Stls)
        } else if is(b"AUTH-RESP-CODE") {
            no_args(Self::AuthRespCode)
        } else if is(b"UTF8") {
            match args {
                None => Some(Self::Utf8 {
                    user_credentials: false,
                }),
                Some(arg) if is_user(arg) => Some(Self::Utf8 {
                    user_credentials: true,
                }),
                Some(_) => None,
            }
        } else if is(b"LANG") {
            no_args(Self::Lang)
        } else {
            None
        }
    }
}

/// `n` or `n USER` (or `NEVER ...` for EXPIRE).
fn value_and_user(args: &[u8]) -> Option<(&[u8], bool)> {
    match split_space(args) {
        (value, None) => Some((value, false)),
        (value, Some(user)) if user.eq_ignore_ascii_case(b"USER") => Some((value, true)),
        _ => None,
    }
}

impl ListingEntry for Capability {
    fn parse_entry_in(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        // Callers may hand in any line; keep CR, LF and NUL out of kept texts.
        lexical::check_line(line)?;
        if let Some(capability) = Self::typed(source, line) {
            return Ok(capability);
        }
        if !OtherCapability::is_well_formed(line) {
            return Err(ValueError::Malformed { what: "capability" }.into());
        }
        Ok(Self::Other(OtherCapability(lexical::slice_in(
            source, line,
        ))))
    }

    fn write_entry(&self, out: &mut BytesMut) {
        let user = |out: &mut BytesMut, user: bool| {
            if user {
                out.extend_from_slice(b" USER");
            }
        };
        match self {
            Self::Top => out.extend_from_slice(b"TOP"),
            Self::User => out.extend_from_slice(b"USER"),
            Self::Sasl(mechanisms) => {
                out.extend_from_slice(b"SASL");
                if !mechanisms.0.is_empty() {
                    out.extend_from_slice(b" ");
                    out.extend_from_slice(&mechanisms.0);
                }
            }
            Self::RespCodes => out.extend_from_slice(b"RESP-CODES"),
            Self::LoginDelay { seconds, per_user } => {
                out.extend_from_slice(b"LOGIN-DELAY ");
                decimal::write_u64(out, u64::from(*seconds));
                user(out, *per_user);
            }
            Self::Pipelining => out.extend_from_slice(b"PIPELINING"),
            Self::Expire { policy, per_user } => {
                out.extend_from_slice(b"EXPIRE ");
                match policy {
                    ExpirePolicy::Never => out.extend_from_slice(b"NEVER"),
                    ExpirePolicy::Days(days) => decimal::write_u64(out, u64::from(*days)),
                }
                user(out, *per_user);
            }
            Self::Uidl => out.extend_from_slice(b"UIDL"),
            Self::Implementation(text) => {
                out.extend_from_slice(b"IMPLEMENTATION");
                if !text.is_empty() {
                    out.extend_from_slice(b" ");
                    out.extend_from_slice(text.as_bytes());
                }
            }
            Self::Stls => out.extend_from_slice(b"STLS"),
            Self::AuthRespCode => out.extend_from_slice(b"AUTH-RESP-CODE"),
            Self::Utf8 { user_credentials } => {
                out.extend_from_slice(b"UTF8");
                user(out, *user_credentials);
            }
            Self::Lang => out.extend_from_slice(b"LANG"),
            Self::Other(other) => out.extend_from_slice(&other.0),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The mechanisms of a `SASL` capability: space-separated names, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Mechanisms(Bytes);

impl Mechanisms {
    /// Validates a space-separated list of mechanism names (may be empty).
    pub fn new(list: impl IntoBytes) -> Result<Self, ValueError> {
        Self::from_bytes(list.into_shared())
    }

    fn from_bytes(list: Bytes) -> Result<Self, ValueError> {
        if !list.is_empty() {
            for name in list.split(|&b| b == b' ') {
                sasl::parse_mechanism(name)?;
            }
        }
        Ok(Self(list))
    }

    /// The mechanisms, in the order sent (names upper case).
    pub fn iter(&self) -> impl Iterator<Item = Mechanism> + '_ {
        self.0
            .split(|&b| b == b' ')
            .filter(|name| !name.is_empty())
            .filter_map(|name| Mechanism::parse(name).ok())
    }

    /// Whether `name` is among the mechanisms, ignoring ASCII case.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.0
            .split(|&b| b == b' ')
            .any(|candidate| candidate.eq_ignore_ascii_case(name))
    }

    /// The list as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A capability line this crate has no type for, kept whole: a name of printable ASCII
/// other than `.` (RFC 2449 section 9, `capa-tag`), then optional arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherCapability(Bytes);

impl OtherCapability {
    const WHAT: &'static str = "capability";

    /// Validates a whole capability line (without CRLF) that is not one of the typed ones.
    pub fn new(line: impl IntoBytes) -> Result<Self, ValueError> {
        let line = line.into_shared();
        lexical::check_text(&line, Self::WHAT, Limits::RESPONSE_LINE - 2)?;
        match Capability::parse_entry(line) {
            Ok(Capability::Other(other)) => Ok(other),
            // A typed capability written as Other would read back typed.
            _ => Err(ValueError::Malformed { what: Self::WHAT }),
        }
    }

    fn is_well_formed(line: &[u8]) -> bool {
        let (tag, _) = split_space(line);
        !tag.is_empty() && tag.iter().all(|&b| (0x21..=0x7f).contains(&b) && b != b'.')
    }

    /// The capability's name.
    pub fn name(&self) -> &[u8] {
        split_space(&self.0).0
    }

    /// The arguments after the name, as sent (None when there are none).
    pub fn arguments(&self) -> Option<&[u8]> {
        split_space(&self.0).1
    }

    /// The whole line.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}
