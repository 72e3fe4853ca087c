//! POP3 commands (RFC 1939, 2449, 2595, 5034, 6856): parse one command line, write one
//! command line.

use core::fmt;
use core::num::NonZeroU32;

use bytes::{Bytes, BytesMut};

use crate::apop::ApopDigest;
use crate::lexical::{self, check_word, split_space};
use crate::sasl::{Mechanism, SaslData};
use crate::{CommandError, Limits, ParseError, ValueError};

/// The keyword of a command. Keywords are case-insensitive on the wire (RFC 1939 section 3)
/// and are written in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// `USER` (RFC 1939 section 7).
    User,
    /// `PASS` (RFC 1939 section 7).
    Pass,
    /// `APOP` (RFC 1939 section 7).
    Apop,
    /// `STAT` (RFC 1939 section 5).
    Stat,
    /// `LIST` (RFC 1939 section 5).
    List,
    /// `RETR` (RFC 1939 section 5).
    Retr,
    /// `DELE` (RFC 1939 section 5).
    Dele,
    /// `NOOP` (RFC 1939 section 5).
    Noop,
    /// `RSET` (RFC 1939 section 5).
    Rset,
    /// `QUIT` (RFC 1939 sections 4 and 6).
    Quit,
    /// `TOP` (RFC 1939 section 7).
    Top,
    /// `UIDL` (RFC 1939 section 7).
    Uidl,
    /// `CAPA` (RFC 2449 section 5).
    Capa,
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `AUTH` (RFC 5034 section 4).
    Auth,
    /// `UTF8` (RFC 6856 section 2).
    Utf8,
    /// `LANG` (RFC 6856 section 3).
    Lang,
}

impl Verb {
    /// The keyword as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Pass => "PASS",
            Self::Apop => "APOP",
            Self::Stat => "STAT",
            Self::List => "LIST",
            Self::Retr => "RETR",
            Self::Dele => "DELE",
            Self::Noop => "NOOP",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
            Self::Top => "TOP",
            Self::Uidl => "UIDL",
            Self::Capa => "CAPA",
            Self::Stls => "STLS",
            Self::Auth => "AUTH",
            Self::Utf8 => "UTF8",
            Self::Lang => "LANG",
        }
    }

    /// The verb a keyword names, compared case-insensitively; None for anything else.
    pub fn from_keyword(keyword: &[u8]) -> Option<Self> {
        // Keywords are three or four octets (RFC 2449 section 3); fold into one u32.
        if !(3..=4).contains(&keyword.len()) {
            return None;
        }
        let mut folded = [0u8; 4];
        for (to, from) in folded.iter_mut().zip(keyword) {
            *to = from.to_ascii_uppercase();
        }
        Some(match &folded {
            b"USER" => Self::User,
            b"PASS" => Self::Pass,
            b"APOP" => Self::Apop,
            b"STAT" => Self::Stat,
            b"LIST" => Self::List,
            b"RETR" => Self::Retr,
            b"DELE" => Self::Dele,
            b"NOOP" => Self::Noop,
            b"RSET" => Self::Rset,
            b"QUIT" => Self::Quit,
            b"TOP\0" if keyword.len() == 3 => Self::Top,
            b"UIDL" => Self::Uidl,
            b"CAPA" => Self::Capa,
            b"STLS" => Self::Stls,
            b"AUTH" => Self::Auth,
            b"UTF8" => Self::Utf8,
            b"LANG" => Self::Lang,
            _ => return None,
        })
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message number: 1-based, never zero, at most `u32::MAX` (RFC 1939 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgNumber(NonZeroU32);

impl MsgNumber {
    /// The message numbered `n`, or None for zero.
    pub const fn new(n: u32) -> Option<Self> {
        match NonZeroU32::new(n) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// Parses the decimal digits of a message number.
    pub fn parse(digits: &[u8]) -> Result<Self, ValueError> {
        const WHAT: &str = "message number";
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::Malformed { what: WHAT });
        }
        lexical::parse_u32(digits)
            .and_then(Self::new)
            .ok_or(ValueError::OutOfRange { what: WHAT })
    }

    pub(crate) fn write(self, out: &mut BytesMut) {
        lexical::put_decimal(out, u64::from(self.get()));
    }
}

impl From<NonZeroU32> for MsgNumber {
    fn from(n: NonZeroU32) -> Self {
        Self(n)
    }
}

impl fmt::Display for MsgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A mailbox name, the argument of USER and APOP: one word of at most 40 octets
/// (RFC 2449 section 4) without spaces or control octets. UTF-8 is allowed (RFC 6856).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name(Bytes);

impl Name {
    const WHAT: &'static str = "mailbox name";

    /// Validates a name against the RFC limit of 40 octets.
    pub fn new(name: impl Into<Bytes>) -> Result<Self, ValueError> {
        Self::with_limit(name.into(), Limits::ARGUMENT)
    }

    fn with_limit(name: Bytes, limit: usize) -> Result<Self, ValueError> {
        check_word(&name, Self::WHAT, limit)?;
        Ok(Self(name))
    }

    /// The name's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name as `Bytes` (a slice of the parsed input).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

/// The PASS argument: the rest of the line after `PASS `, spaces included
/// (RFC 1939 section 7). Its `Debug` output hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Bytes);

impl Password {
    const WHAT: &'static str = "password";

    /// Validates a password: non-empty, no CR, LF or NUL, and short enough for a PASS line
    /// within [`Limits::PASS_LINE`].
    pub fn new(password: impl Into<Bytes>) -> Result<Self, ValueError> {
        let password = password.into();
        if password.is_empty() {
            return Err(ValueError::Empty { what: Self::WHAT });
        }
        lexical::check_text(
            &password,
            Self::WHAT,
            Limits::PASS_LINE - b"PASS \r\n".len(),
        )?;
        Ok(Self(password))
    }

    /// The password's octets. Named so that reading it is a visible act.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The password as `Bytes` (a slice of the parsed input).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A language range, the argument of LANG (RFC 6856 section 3, RFC 4647): `*` or a tag
/// such as `en-US`, at most 40 octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LangRange(Bytes);

impl LangRange {
    const WHAT: &'static str = "language range";

    /// Validates a language range: ASCII letters, digits, `-` and `*` only.
    pub fn new(range: impl Into<Bytes>) -> Result<Self, ValueError> {
        Self::with_limit(range.into(), Limits::ARGUMENT)
    }

    fn with_limit(range: Bytes, limit: usize) -> Result<Self, ValueError> {
        check_word(&range, Self::WHAT, limit)?;
        if let Some(&octet) = range
            .iter()
            .find(|b| !(b.is_ascii_alphanumeric() || **b == b'-' || **b == b'*'))
        {
            return Err(ValueError::ForbiddenOctet {
                what: Self::WHAT,
                octet,
            });
        }
        Ok(Self(range))
    }

    /// The range's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One POP3 command.
///
/// Every argument is a validated type, so every `Command` that exists writes a single
/// well-formed line: no argument can inject CR, LF or NUL. Line-length limits are checked
/// when parsing, not when writing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `USER name` (RFC 1939 section 7).
    User(Name),
    /// `PASS string` (RFC 1939 section 7).
    Pass(Password),
    /// `APOP name digest` (RFC 1939 section 7).
    Apop {
        /// The mailbox.
        name: Name,
        /// MD5 of the greeting's timestamp followed by the shared secret.
        digest: ApopDigest,
    },
    /// `STAT` (RFC 1939 section 5).
    Stat,
    /// `LIST [msg]` (RFC 1939 section 5).
    List(Option<MsgNumber>),
    /// `RETR msg` (RFC 1939 section 5).
    Retr(MsgNumber),
    /// `DELE msg` (RFC 1939 section 5).
    Dele(MsgNumber),
    /// `NOOP` (RFC 1939 section 5).
    Noop,
    /// `RSET` (RFC 1939 section 5).
    Rset,
    /// `QUIT` (RFC 1939 sections 4 and 6).
    Quit,
    /// `TOP msg n` (RFC 1939 section 7).
    Top {
        /// The message.
        msg: MsgNumber,
        /// How many body lines to send after the header (zero allowed).
        lines: u32,
    },
    /// `UIDL [msg]` (RFC 1939 section 7).
    Uidl(Option<MsgNumber>),
    /// `CAPA` (RFC 2449 section 5).
    Capa,
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `AUTH mechanism [initial-response]` (RFC 5034 section 4). An empty initial response
    /// is written `=`.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, base64.
        initial_response: Option<SaslData>,
    },
    /// `UTF8` (RFC 6856 section 2).
    Utf8,
    /// `LANG [lang-range]` (RFC 6856 section 3): without an argument, list the languages.
    Lang(Option<LangRange>),
}

impl Command {
    /// Parses the command line at the front of `input`.
    ///
    /// Returns the command and the octets it took, CRLF included. [`ParseError::Incomplete`]
    /// means no CRLF yet within the line limit ([`Limits::command_line`], or
    /// [`Limits::pass_line`] for PASS). Nothing is allocated: arguments are slices of `input`.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<CommandError>> {
        let limit = Self::line_limit(input, limits);
        let (end, consumed) = lexical::frame_end(input, 0, limit)?;
        Self::parse_framed(input, &input[..end], limits)
            .map(|command| (command, consumed))
            .map_err(|error| ParseError::Invalid { error, consumed })
    }

    /// Parses one command line already framed (without its CRLF), for example by
    /// `mail_wire::line::LineFramer` set to [`Limits::max_command_line`].
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, CommandError> {
        lexical::check_line(&line)?;
        let limit = Self::line_limit(&line, limits);
        if line.len() + 2 > limit {
            return Err(CommandError::LineTooLong { limit });
        }
        Self::parse_framed(&line, &line, limits)
    }

    /// PASS lines get their own limit; the keyword is enough to tell.
    fn line_limit(line: &[u8], limits: &Limits) -> usize {
        match line.get(..5) {
            Some(start) if start.eq_ignore_ascii_case(b"PASS ") => limits.pass_line,
            _ => limits.command_line,
        }
    }

    /// Parses `line`, a subslice of `source` without CRLF; arguments become slices of
    /// `source`, so that commands without text arguments touch no reference count.
    fn parse_framed(source: &Bytes, line: &[u8], limits: &Limits) -> Result<Self, CommandError> {
        let (keyword, rest) = split_space(line);
        let verb = Verb::from_keyword(keyword).ok_or(CommandError::UnknownCommand)?;
        let wrong = CommandError::WrongArguments { command: verb };
        let msg_number = |arg: &[u8]| {
            MsgNumber::parse(arg).map_err(|_| CommandError::InvalidMsgNumber { command: verb })
        };
        let invalid = |error| CommandError::InvalidArgument {
            command: verb,
            error,
        };
        let no_args = |command: Self| match rest {
            None => Ok(command),
            Some(_) => Err(wrong.clone()),
        };
        match verb {
            Verb::Stat => no_args(Self::Stat),
            Verb::Noop => no_args(Self::Noop),
            Verb::Rset => no_args(Self::Rset),
            Verb::Quit => no_args(Self::Quit),
            Verb::Capa => no_args(Self::Capa),
            Verb::Stls => no_args(Self::Stls),
            Verb::Utf8 => no_args(Self::Utf8),
            Verb::Pass => match rest {
                // The password is the rest of the line, spaces included (RFC 1939 section 7).
                Some(password) if !password.is_empty() => {
                    Ok(Self::Pass(Password(source.slice_ref(password))))
                }
                _ => Err(wrong),
            },
            Verb::User => match args::<1>(rest) {
                Some(([name], 1)) => Name::with_limit(source.slice_ref(name), limits.argument)
                    .map(Self::User)
                    .map_err(invalid),
                _ => Err(wrong),
            },
            Verb::Apop => match args::<2>(rest) {
                Some(([name, digest], 2)) => Ok(Self::Apop {
                    name: Name::with_limit(source.slice_ref(name), limits.argument)
                        .map_err(invalid)?,
                    digest: ApopDigest::from_hex(digest).map_err(invalid)?,
                }),
                _ => Err(wrong),
            },
            Verb::List | Verb::Uidl => {
                let msg = match args::<1>(rest) {
                    Some((_, 0)) => None,
                    Some(([msg], 1)) => Some(msg_number(msg)?),
                    _ => return Err(wrong),
                };
                Ok(if verb == Verb::List {
                    Self::List(msg)
                } else {
                    Self::Uidl(msg)
                })
            }
            Verb::Retr | Verb::Dele => match args::<1>(rest) {
                Some(([msg], 1)) => {
                    let msg = msg_number(msg)?;
                    Ok(if verb == Verb::Retr {
                        Self::Retr(msg)
                    } else {
                        Self::Dele(msg)
                    })
                }
                _ => Err(wrong),
            },
            Verb::Top => match args::<2>(rest) {
                Some(([msg, lines], 2)) => Ok(Self::Top {
                    msg: msg_number(msg)?,
                    lines: lexical::parse_u32(lines)
                        .ok_or(invalid(ValueError::Malformed { what: "line count" }))?,
                }),
                _ => Err(wrong),
            },
            Verb::Auth => {
                let (mechanism, initial_response) = match args::<2>(rest) {
                    Some(([mechanism, _], 1)) => (mechanism, None),
                    Some(([mechanism, response], 2)) => (mechanism, Some(response)),
                    _ => return Err(wrong),
                };
                Ok(Self::Auth {
                    mechanism: Mechanism::from_bytes(source.slice_ref(mechanism))
                        .map_err(invalid)?,
                    initial_response: match initial_response {
                        // RFC 5034 section 4: the initial response is exempt from the
                        // 40-octet argument limit; the line limit still holds.
                        Some(response) => Some(
                            SaslData::from_initial_response(source.slice_ref(response))
                                .map_err(invalid)?,
                        ),
                        None => None,
                    },
                })
            }
            Verb::Lang => match args::<1>(rest) {
                Some((_, 0)) => Ok(Self::Lang(None)),
                Some(([range], 1)) => {
                    LangRange::with_limit(source.slice_ref(range), limits.argument)
                        .map(|range| Self::Lang(Some(range)))
                        .map_err(invalid)
                }
                _ => Err(wrong),
            },
        }
    }

    /// The command's keyword.
    pub fn verb(&self) -> Verb {
        match self {
            Self::User(_) => Verb::User,
            Self::Pass(_) => Verb::Pass,
            Self::Apop { .. } => Verb::Apop,
            Self::Stat => Verb::Stat,
            Self::List(_) => Verb::List,
            Self::Retr(_) => Verb::Retr,
            Self::Dele(_) => Verb::Dele,
            Self::Noop => Verb::Noop,
            Self::Rset => Verb::Rset,
            Self::Quit => Verb::Quit,
            Self::Top { .. } => Verb::Top,
            Self::Uidl(_) => Verb::Uidl,
            Self::Capa => Verb::Capa,
            Self::Stls => Verb::Stls,
            Self::Auth { .. } => Verb::Auth,
            Self::Utf8 => Verb::Utf8,
            Self::Lang(_) => Verb::Lang,
        }
    }

    /// Whether the server answers this command with a multi-line response when it says
    /// `+OK` (RFC 1939 section 3): LIST and UIDL without argument, RETR, TOP, CAPA, and
    /// LANG without argument.
    pub fn expects_multi_line(&self) -> bool {
        matches!(
            self,
            Self::List(None)
                | Self::Uidl(None)
                | Self::Retr(_)
                | Self::Top { .. }
                | Self::Capa
                | Self::Lang(None)
        )
    }

    /// Writes the command line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.verb().as_str().as_bytes());
        let space = |out: &mut BytesMut| out.extend_from_slice(b" ");
        match self {
            Self::Stat
            | Self::Noop
            | Self::Rset
            | Self::Quit
            | Self::Capa
            | Self::Stls
            | Self::Utf8
            | Self::List(None)
            | Self::Uidl(None)
            | Self::Lang(None) => {}
            Self::User(name) => {
                space(out);
                out.extend_from_slice(name.as_bytes());
            }
            Self::Pass(password) => {
                space(out);
                out.extend_from_slice(password.expose());
            }
            Self::Apop { name, digest } => {
                space(out);
                out.extend_from_slice(name.as_bytes());
                space(out);
                out.extend_from_slice(&digest.to_hex());
            }
            Self::List(Some(msg)) | Self::Uidl(Some(msg)) | Self::Retr(msg) | Self::Dele(msg) => {
                space(out);
                msg.write(out);
            }
            Self::Top { msg, lines } => {
                space(out);
                msg.write(out);
                space(out);
                lexical::put_decimal(out, u64::from(*lines));
            }
            Self::Auth {
                mechanism,
                initial_response,
            } => {
                space(out);
                out.extend_from_slice(mechanism.as_bytes());
                if let Some(response) = initial_response {
                    space(out);
                    if response.is_empty() {
                        out.extend_from_slice(b"=");
                    } else {
                        out.extend_from_slice(response.as_bytes());
                    }
                }
            }
            Self::Lang(Some(range)) => {
                space(out);
                out.extend_from_slice(range.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Splits the arguments after the keyword at single spaces: up to `N` of them and how many
/// there are. None when there are more than `N`, or an empty one (two spaces in a row, a
/// trailing space): RFC 1939 section 3 separates arguments by a single space.
fn args<const N: usize>(rest: Option<&[u8]>) -> Option<([&[u8]; N], usize)> {
    let mut found: [&[u8]; N] = [&[]; N];
    let Some(rest) = rest else {
        return Some((found, 0));
    };
    let mut count = 0;
    for arg in rest.split(|&b| b == b' ') {
        if arg.is_empty() || count == N {
            return None;
        }
        found[count] = arg;
        count += 1;
    }
    Some((found, count))
}
