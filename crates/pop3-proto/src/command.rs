//! POP3 commands (RFC 1939, 2449, 2595, 5034, 6856): parse one command line, write one
//! command line.

use core::fmt;
use core::num::NonZeroU32;
use mail_wire::value::IntoBytes;

use bytes::{Bytes, BytesMut};
use mail_wire::decimal;

use crate::apop::ApopDigest;
use crate::lexical::{self, check_word, split_space};
use crate::sasl::{self, Mechanism, SaslData};
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
        // Keywords are three or four octets (RFC 2449 section 3).
        match *keyword {
            [a, b, c, d] => Self::from_four(u32::from_le_bytes([a, b, c, d])),
            [_, _, _] if keyword.eq_ignore_ascii_case(b"TOP") => Some(Self::Top),
            _ => None,
        }
    }

    /// The four-octet verb whose keyword is `word` (four octets read little-endian), in any
    /// case. Folding clears bit 5 of every octet: exact for letters (an octet folds into
    /// `A`..=`Z` only from a letter), so only UTF8's digit needs a second look.
    #[inline]
    fn from_four(word: u32) -> Option<Self> {
        const fn key(keyword: &[u8; 4]) -> u32 {
            u32::from_le_bytes(*keyword) & CASE_FOLD
        }
        const USER: u32 = key(b"USER");
        const PASS: u32 = key(b"PASS");
        const APOP: u32 = key(b"APOP");
        const STAT: u32 = key(b"STAT");
        const LIST: u32 = key(b"LIST");
        const RETR: u32 = key(b"RETR");
        const DELE: u32 = key(b"DELE");
        const NOOP: u32 = key(b"NOOP");
        const RSET: u32 = key(b"RSET");
        const QUIT: u32 = key(b"QUIT");
        const UIDL: u32 = key(b"UIDL");
        const CAPA: u32 = key(b"CAPA");
        const STLS: u32 = key(b"STLS");
        const AUTH: u32 = key(b"AUTH");
        const UTF8: u32 = key(b"UTF8");
        const LANG: u32 = key(b"LANG");
        Some(match word & CASE_FOLD {
            USER => Self::User,
            PASS => Self::Pass,
            APOP => Self::Apop,
            STAT => Self::Stat,
            LIST => Self::List,
            RETR => Self::Retr,
            DELE => Self::Dele,
            NOOP => Self::Noop,
            RSET => Self::Rset,
            QUIT => Self::Quit,
            UIDL => Self::Uidl,
            CAPA => Self::Capa,
            STLS => Self::Stls,
            AUTH => Self::Auth,
            // `8` folds to 0x18, as 0x18 itself does: check the octet as sent.
            UTF8 if word >> 24 == u32::from(b'8') => Self::Utf8,
            LANG => Self::Lang,
            _ => return None,
        })
    }
}

/// Clears bit 5 of each of four octets: ASCII lower case to upper case.
const CASE_FOLD: u32 = 0xDFDF_DFDF;

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
    #[inline]
    pub const fn new(n: u32) -> Option<Self> {
        match NonZeroU32::new(n) {
            Some(n) => Some(Self(n)),
            None => None,
        }
    }

    /// The number.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// Parses the decimal digits of a message number.
    #[inline]
    pub fn parse(digits: &[u8]) -> Result<Self, ValueError> {
        const WHAT: &str = "message number";
        match decimal::parse_u32(digits) {
            Some(n) => Self::new(n).ok_or(ValueError::OutOfRange { what: WHAT }),
            // Not a number at all, or one too large: only the first is malformed.
            None if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) => {
                Err(ValueError::Malformed { what: WHAT })
            }
            None => Err(ValueError::OutOfRange { what: WHAT }),
        }
    }

    pub(crate) fn write(self, out: &mut BytesMut) {
        decimal::write_u64(out, u64::from(self.get()));
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
    pub fn new(name: impl IntoBytes) -> Result<Self, ValueError> {
        Self::with_limit(name.into_shared(), Limits::ARGUMENT)
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

/// Reads a name as typed (a config file, a command line), copying it.
impl core::str::FromStr for Name {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        Self::new(text)
    }
}

/// The name as text, for logs (octets that are not UTF-8 show as U+FFFD).
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
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
    pub fn new(password: impl IntoBytes) -> Result<Self, ValueError> {
        let password = password.into_shared();
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
    pub fn new(range: impl IntoBytes) -> Result<Self, ValueError> {
        Self::with_limit(range.into_shared(), Limits::ARGUMENT)
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
    #[inline]
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<CommandError>> {
        match fast::scan(input, LineEnd::Crlf, limits) {
            Some(shape) => Ok((fast::build(shape, input), shape.used as usize)),
            None => Self::parse_general(input, limits),
        }
    }

    /// Frames and parses a line the fast path did not take: anything malformed, incomplete,
    /// unusual (LANG, leading zeros, ...) or over a limit.
    #[inline(never)]
    fn parse_general(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<CommandError>> {
        let limit = Self::line_limit(input, limits);
        let (end, consumed) = lexical::frame(input, 0, limit)?;
        Self::parse_framed(input, &input[..end], limits)
            .map(|command| (command, consumed))
            .map_err(|error| ParseError::Invalid { error, consumed })
    }

    /// Parses one command line already framed (without its CRLF), for example by
    /// `mail_wire::line::LineFramer` set to [`Limits::max_command_line`].
    #[inline]
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, CommandError> {
        match fast::scan(&line, LineEnd::Framed, limits) {
            Some(shape) => Ok(fast::build_owned(shape, line)),
            None => Self::parse_line_general(line, limits),
        }
    }

    #[inline(never)]
    fn parse_line_general(line: Bytes, limits: &Limits) -> Result<Self, CommandError> {
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
                    lines: decimal::parse_u32(lines)
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
                    mechanism: sasl::parse_mechanism(mechanism).map_err(invalid)?,
                    initial_response: match initial_response {
                        // RFC 5034 section 4: the initial response is exempt from the
                        // 40-octet argument limit; the line limit still holds.
                        Some(response) => Some(
                            SaslData::parse_initial_response(source.slice_ref(response))
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
    #[inline]
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
                decimal::write_u64(out, u64::from(*lines));
            }
            Self::Auth {
                mechanism,
                initial_response,
            } => {
                space(out);
                out.extend_from_slice(mechanism.name());
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

/// How the line handed to the fast path ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    /// The input holds the line and its CRLF (and maybe more after it).
    Crlf,
    /// The input is exactly the line, already framed without its CRLF.
    Framed,
}

/// The fast path: one pass over a well-formed line, in the shapes real clients send.
///
/// It only ever accepts: a line it is not sure of (malformed, incomplete, over a limit,
/// LANG, a number with more than ten digits, ...) gives None and goes to the general parser,
/// so errors come from one place. Whatever it accepts, the general parser accepts with the
/// same result (the `fast_path_agrees` tests hold it to that).
///
/// [`scan`](fast::scan) validates and returns a small [`Shape`](fast::Shape) of plain
/// numbers; [`build`](fast::build) then writes the `Command` once, in place. Building the
/// command inside the scan instead measured slower: the half-written enum was copied
/// between the branches, which stalls store forwarding.
mod fast {
    use bytes::{Buf, Bytes};
    use mail_wire::line::find_cr_lf_nul;

    use super::{Command, LineEnd, MsgNumber, Name, Password, Verb};
    use crate::Limits;
    use crate::apop::ApopDigest;
    use crate::sasl::{self, Mechanism, SaslData};
    use mail_wire::sasl::MAX_MECHANISM_LEN;

    /// A line the fast path accepted: its verb, its message number, where its text
    /// arguments end (or TOP's line count), and the octets it took. Plain numbers, so that
    /// it stays out of memory until [`build`] writes the command.
    #[derive(Clone, Copy)]
    pub(super) struct Shape {
        verb: Verb,
        /// The message number of LIST, UIDL, RETR, DELE and TOP.
        msg: Option<MsgNumber>,
        /// Where the first text argument ends, or TOP's line count.
        first: u32,
        /// Where AUTH's initial response ends (0: none).
        second: u32,
        /// The octets the line took (CRLF included for [`LineEnd::Crlf`]).
        pub(super) used: u32,
    }

    impl Shape {
        #[inline(always)]
        fn new(
            verb: Verb,
            msg: Option<MsgNumber>,
            first: u32,
            second: u32,
            used: usize,
        ) -> Option<Self> {
            Some(Self {
                verb,
                msg,
                first,
                second,
                used: u32::try_from(used).ok()?,
            })
        }
    }

    /// Validates the line at the front of `line`.
    #[inline(always)]
    pub(super) fn scan(line: &[u8], end: LineEnd, limits: &Limits) -> Option<Shape> {
        let &[a, b, c, d, ..] = line else {
            return None;
        };
        let Some(verb) = Verb::from_four(u32::from_le_bytes([a, b, c, d])) else {
            // TOP is the only three-letter keyword.
            return if [a, b, c].eq_ignore_ascii_case(b"TOP") && d == b' ' {
                top(line, end, limits)
            } else {
                None
            };
        };
        let at_end = |pos| line_end(line, pos, end, limits.command_line);
        let spaced = line.get(4) == Some(&b' ');
        match verb {
            Verb::Stat
            | Verb::Noop
            | Verb::Rset
            | Verb::Quit
            | Verb::Capa
            | Verb::Stls
            | Verb::Utf8 => Shape::new(verb, None, 0, 0, at_end(4)?),
            Verb::List | Verb::Uidl if !spaced => Shape::new(verb, None, 0, 0, at_end(4)?),
            Verb::List | Verb::Uidl | Verb::Retr | Verb::Dele if spaced => {
                let (msg, next) = msg_number(line, 5)?;
                Shape::new(verb, Some(msg), 0, 0, at_end(next)?)
            }
            Verb::User if spaced => {
                let name_end = word_end(line, 5, limits.argument)?;
                Shape::new(verb, None, offset(name_end)?, 0, at_end(name_end)?)
            }
            Verb::Pass if spaced => pass(line, end, limits),
            Verb::Apop if spaced => {
                let name_end = word_end(line, 5, limits.argument)?;
                let digest = line.get(name_end + 1..name_end + 33)?;
                if line[name_end] != b' ' || !digest.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                Shape::new(verb, None, offset(name_end)?, 0, at_end(name_end + 33)?)
            }
            Verb::Auth if spaced => {
                let mechanism_end = word_end(line, 5, MAX_MECHANISM_LEN)?;
                Mechanism::parse(&line[5..mechanism_end]).ok()?;
                let (response_end, used) = if line.get(mechanism_end) == Some(&b' ') {
                    let response_end = word_end(line, mechanism_end + 1, usize::MAX)?;
                    let response = &line[mechanism_end + 1..response_end];
                    if !sasl::is_initial_response(response) {
                        return None;
                    }
                    (offset(response_end)?, at_end(response_end)?)
                } else {
                    (0, at_end(mechanism_end)?)
                };
                Shape::new(verb, None, offset(mechanism_end)?, response_end, used)
            }
            _ => None,
        }
    }

    /// The command a [`scan`] of `source` accepted, arguments sliced from `source`.
    #[inline(always)]
    pub(super) fn build(shape: Shape, source: &Bytes) -> Command {
        build_with(shape, source, |range| source.slice(range))
    }

    /// The command a [`scan`] of the framed `line` accepted. A command with one text
    /// argument takes it by narrowing `line` itself: no reference count is touched.
    #[inline(always)]
    pub(super) fn build_owned(shape: Shape, mut line: Bytes) -> Command {
        match shape.verb {
            Verb::User => {
                line.truncate(shape.first as usize);
                line.advance(5);
                Command::User(Name(line))
            }
            Verb::Pass => {
                line.truncate(shape.first as usize);
                line.advance(5);
                Command::Pass(Password(line))
            }
            _ => build_with(shape, &line, |range| line.slice(range)),
        }
    }

    #[inline(always)]
    fn build_with(
        shape: Shape,
        line: &[u8],
        slice: impl Fn(core::ops::Range<usize>) -> Bytes,
    ) -> Command {
        let first = shape.first as usize;
        match (shape.verb, shape.msg) {
            (Verb::Stat, _) => Command::Stat,
            (Verb::Noop, _) => Command::Noop,
            (Verb::Rset, _) => Command::Rset,
            (Verb::Quit, _) => Command::Quit,
            (Verb::Capa, _) => Command::Capa,
            (Verb::Stls, _) => Command::Stls,
            (Verb::Utf8, _) => Command::Utf8,
            (Verb::List, msg) => Command::List(msg),
            (Verb::Uidl, msg) => Command::Uidl(msg),
            (Verb::Retr, Some(msg)) => Command::Retr(msg),
            (Verb::Dele, Some(msg)) => Command::Dele(msg),
            (Verb::Top, Some(msg)) => Command::Top {
                msg,
                lines: shape.first,
            },
            (Verb::User, _) => Command::User(Name(slice(5..first))),
            (Verb::Pass, _) => Command::Pass(Password(slice(5..first))),
            (Verb::Apop, _) => {
                let digest = line
                    .get(first + 1..first + 33)
                    .and_then(|hex| <&[u8; 32]>::try_from(hex).ok())
                    .map_or(ApopDigest::from_valid_hex(&[b'0'; 32]), |hex| {
                        ApopDigest::from_valid_hex(hex)
                    });
                Command::Apop {
                    name: Name(slice(5..first)),
                    digest,
                }
            }
            (Verb::Auth, _) => Command::Auth {
                // `scan` parsed this name already: the fallback is unreachable.
                mechanism: Mechanism::parse(&line[5..first]).unwrap_or(Mechanism::Plain),
                // `scan` checked the response: parsing it again cannot fail.
                initial_response: (shape.second != 0)
                    .then(|| slice(first + 1..shape.second as usize))
                    .and_then(|response| SaslData::parse_initial_response(response).ok()),
            },
            // `scan` gives RETR, DELE and TOP a number, and LANG never: unreachable.
            (Verb::Retr | Verb::Dele | Verb::Top | Verb::Lang, _) => Command::Lang(None),
        }
    }

    /// `TOP msg n`, after `TOP `.
    #[inline(never)]
    fn top(line: &[u8], end: LineEnd, limits: &Limits) -> Option<Shape> {
        let (msg, next) = msg_number(line, 4)?;
        if line.get(next) != Some(&b' ') {
            return None;
        }
        let (lines, next) = number(line, next + 1)?;
        let used = line_end(line, next, end, limits.command_line)?;
        Shape::new(Verb::Top, Some(msg), lines, 0, used)
    }

    /// `PASS password`: the rest of the line, spaces included, bounded by the PASS limit.
    #[inline(never)]
    fn pass(line: &[u8], end: LineEnd, limits: &Limits) -> Option<Shape> {
        let window = line.get(5..line.len().min(limits.pass_line))?;
        let password_end = 5 + find_cr_lf_nul(window).unwrap_or(window.len());
        if password_end == 5 {
            return None;
        }
        let used = line_end(line, password_end, end, limits.pass_line)?;
        Shape::new(Verb::Pass, None, offset(password_end)?, 0, used)
    }

    /// An offset that fits the [`Shape`] (lines are short; a huge configured limit is not).
    #[inline(always)]
    fn offset(pos: usize) -> Option<u32> {
        u32::try_from(pos).ok()
    }

    /// Where the line ends if it ends at `pos`: the octets it took, within `limit` (which
    /// counts the CRLF, framed or not).
    #[inline(always)]
    fn line_end(line: &[u8], pos: usize, end: LineEnd, limit: usize) -> Option<usize> {
        let (ends, used) = match end {
            LineEnd::Crlf => (line.get(pos..pos + 2) == Some(b"\r\n"), pos + 2),
            LineEnd::Framed => (pos == line.len(), pos),
        };
        (ends && pos + 2 <= limit).then_some(used)
    }

    /// A message number at `pos` (not zero) and the offset after it.
    #[inline(always)]
    fn msg_number(line: &[u8], pos: usize) -> Option<(MsgNumber, usize)> {
        let (n, next) = number(line, pos)?;
        Some((MsgNumber::new(n)?, next))
    }

    /// One to ten decimal digits at `pos` that fit a u32, and the offset after them.
    #[inline(always)]
    fn number(line: &[u8], pos: usize) -> Option<(u32, usize)> {
        let mut n: u64 = 0;
        let mut i = pos;
        while let Some(&digit) = line.get(i) {
            if !digit.is_ascii_digit() {
                break;
            }
            if i - pos == 10 {
                return None;
            }
            n = n * 10 + u64::from(digit - b'0');
            i += 1;
        }
        if i == pos {
            return None;
        }
        Some((u32::try_from(n).ok()?, i))
    }

    /// The end of a word at `pos` of 1 to `max` octets, none of them a space or control
    /// octet (the rule of `lexical::check_word`).
    #[inline(always)]
    fn word_end(line: &[u8], pos: usize, max: usize) -> Option<usize> {
        let rest = line.get(pos..)?;
        let len = rest
            .iter()
            .position(|&b| b <= b' ' || b == 0x7f)
            .unwrap_or(rest.len());
        (len != 0 && len <= max).then_some(pos + len)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use bytes::Bytes;
    use proptest::prelude::*;

    use super::{Command, LineEnd, fast};
    use crate::Limits;

    /// Whatever the fast path accepts, the general parser accepts with the same result, both
    /// on buffers (CRLF found in the input) and on framed lines.
    fn assert_agrees(input: &[u8], limits: &Limits) {
        let buffer = Bytes::copy_from_slice(input);
        if let Some(shape) = fast::scan(&buffer, LineEnd::Crlf, limits) {
            let fast = (fast::build(shape, &buffer), shape.used as usize);
            let general = Command::parse_general(&buffer, limits);
            assert_eq!(Ok(fast), general, "buffer {:?}", buffer);
        }
        let line = buffer.slice(..input.len().saturating_sub(2));
        if let Some(shape) = fast::scan(&line, LineEnd::Framed, limits) {
            let fast = fast::build_owned(shape, line.clone());
            let general = Command::parse_line_general(line.clone(), limits);
            assert_eq!(Ok(fast), general, "line {:?}", line);
        }
        // The public entry points give the general parser's answer in every case.
        assert_eq!(
            Command::parse(&buffer, limits),
            Command::parse_general(&buffer, limits)
        );
        assert_eq!(
            Command::parse_line(line.clone(), limits),
            Command::parse_line_general(line, limits)
        );
    }

    fn tight_limits() -> Limits {
        let mut limits = Limits::new();
        limits.command_line = 12;
        limits.argument = 4;
        limits.pass_line = 11;
        limits
    }

    #[test]
    fn fast_path_takes_the_common_shapes() {
        let limits = Limits::new();
        for line in [
            &b"STAT\r\n"[..],
            b"list\r\n",
            b"LIST 7\r\n",
            b"UIDL 4294967295\r\n",
            b"RETR 1\r\n",
            b"dele 12\r\n",
            b"TOP 3 0\r\n",
            b"USER mrose\r\n",
            b"PASS secret with spaces\r\n",
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
            b"AUTH PLAIN =\r\n",
            b"AUTH XOAUTH2\r\n",
            b"auth scram-sha-256 =\r\n",
            b"utf8\r\n",
        ] {
            let input = Bytes::from_static(line);
            assert!(
                fast::scan(&input, LineEnd::Crlf, &limits).is_some(),
                "{line:?}"
            );
            assert_agrees(line, &limits);
        }
    }

    #[test]
    fn fast_path_leaves_the_rest_to_the_general_parser() {
        let limits = Limits::new();
        for line in [
            &b"STATS\r\n"[..],
            b"USERS x\r\n",
            b"PASSWORD\r\n",
            b"PASS \r\n",
            b"UTF\x18\r\n",
            b"TOP\r\n",
            b"TOP\x001 2\r\n",
            b"LIST 0\r\n",
            b"LIST 4294967296\r\n",
            b"LIST 00000000001\r\n",
            b"LIST \r\n",
            b"RETR\r\n",
            b"USER a b\r\n",
            b"USER a\nUSER b\r\n",
            b"PASS a\x00b\r\n",
            b"PASS a\rb\r\n",
            b"APOP mrose c4c9334bac560ecc979e58001b3e22f\r\n",
            b"AUTH PLAIN$ x\r\n",
            b"AUTH PLAIN x y\r\n",
            b"AUTH ABCDEFGHIJKLMNOPQRSTU\r\n",
            b"LANG en\r\n",
            b"STAT",
            b"STAT\r",
            b"STAT\n",
        ] {
            let input = Bytes::from_static(line);
            assert!(
                fast::scan(&input, LineEnd::Crlf, &limits).is_none(),
                "{line:?}"
            );
            assert_agrees(line, &limits);
        }
        // Limits apply on the fast path too.
        let tight = tight_limits();
        for line in [
            &b"USER abcde\r\n"[..],
            b"PASS 1234567\r\n",
            b"RETR 123456\r\n",
        ] {
            let input = Bytes::from_static(line);
            assert!(
                fast::scan(&input, LineEnd::Crlf, &tight).is_none(),
                "{line:?}"
            );
            assert_agrees(line, &tight);
        }
    }

    fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
        let keyword = prop::sample::select(
            &[
                "USER", "user", "PASS", "pAsS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP",
                "RSET", "QUIT", "TOP", "top", "UIDL", "CAPA", "STLS", "AUTH", "UTF8", "utf8",
                "LANG", "TOPS", "UTF", "LISTS",
            ][..],
        );
        let tail = prop::collection::vec(
            prop::sample::select(&b" 0123456789aZ=+/*-_.\r\n\x00\x7f\xc3"[..]),
            0..48,
        );
        (keyword, tail, any::<bool>()).prop_map(|(keyword, tail, crlf)| {
            let mut line = keyword.as_bytes().to_vec();
            line.extend(tail);
            if crlf {
                line.extend_from_slice(b"\r\n");
            }
            line
        })
    }

    proptest! {
        #[test]
        fn fast_path_agrees_on_command_like_lines(line in line_strategy()) {
            assert_agrees(&line, &Limits::new());
            assert_agrees(&line, &tight_limits());
        }

        #[test]
        fn fast_path_agrees_on_any_bytes(line in prop::collection::vec(any::<u8>(), 0..64)) {
            assert_agrees(&line, &Limits::new());
            assert_agrees(&line, &tight_limits());
        }
    }
}
