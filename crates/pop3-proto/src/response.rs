//! Server responses (RFC 1939 section 3, RFC 2449 section 8): `+OK`/`-ERR` status lines
//! with extended response codes, the SASL `+ ` continuation (RFC 5034), and the STAT result.
//!
//! A multi-line response (RETR, TOP, LIST, UIDL, CAPA) starts with a [`StatusLine`]. The
//! listings that follow LIST, UIDL and CAPA are parsed by [`Listing`](crate::Listing); the
//! message that follows RETR and TOP is a dot-stuffed body that the session machines stream
//! through `mail_wire::dot::DotDecoder` (reading) and `DotEncoder` (writing), so that a
//! message never has to fit in memory.

use core::fmt;
use mail_wire::value::IntoBytes;

use bytes::{Bytes, BytesMut};
use mail_wire::decimal;

use crate::lexical::{self, two_fields};
use crate::sasl::SaslData;
use crate::{Limits, ParseError, ResponseError, ValueError};

/// Free text on a response line: any octets but CR, LF and NUL (UTF-8 after RFC 6856).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(Bytes);

impl Text {
    const WHAT: &'static str = "response text";
    /// The longest text that fits a 512-octet response line after `-ERR `.
    pub const MAX_LEN: usize = Limits::RESPONSE_LINE - b"-ERR \r\n".len();

    /// Validates a text: no CR, LF or NUL, at most [`Text::MAX_LEN`] octets.
    pub fn new(text: impl IntoBytes) -> Result<Self, ValueError> {
        let text = text.into_shared();
        lexical::check_text(&text, Self::WHAT, Self::MAX_LEN)?;
        Ok(Self(text))
    }

    /// A text from a validated slice of a parsed line.
    pub(crate) fn from_line(text: Bytes) -> Self {
        Self(text)
    }

    /// The empty text.
    pub const fn empty() -> Self {
        Self(Bytes::new())
    }

    /// The text's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text as `Bytes` (a slice of the parsed input).
    pub fn to_bytes(&self) -> Bytes {
        self.0.clone()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The status indicator of a response (RFC 1939 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

impl Status {
    /// The indicator as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "+OK",
            Self::Err => "-ERR",
        }
    }
}

/// An extended response code (RFC 2449 section 8): the bracketed word after the status
/// indicator. Hierarchical levels are separated by `/`. Codes are matched case-insensitively;
/// unknown ones are preserved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode {
    /// `IN-USE`: the maildrop is locked by another session (RFC 2449 section 8.1.1).
    InUse,
    /// `LOGIN-DELAY`: logged in too soon after the last login (RFC 2449 section 8.1.2).
    LoginDelay,
    /// `SYS/TEMP`: a temporary system problem (RFC 3206 section 4).
    SysTemp,
    /// `SYS/PERM`: a permanent system problem (RFC 3206 section 4).
    SysPerm,
    /// `AUTH`: the credentials are wrong, not the system (RFC 3206 section 5).
    Auth,
    /// `UTF8`: the mailbox needs UTF-8 mode (RFC 6856 section 2).
    Utf8,
    /// Any other code, kept as sent.
    Other(OtherCode),
}

impl ResponseCode {
    /// Parses a code without its brackets.
    pub fn parse(code: Bytes) -> Result<Self, ValueError> {
        Self::parse_in(&code, &code)
    }

    /// Parses `code`, found inside `source`; an unknown code becomes a slice of `source`.
    fn parse_in(source: &Bytes, code: &[u8]) -> Result<Self, ValueError> {
        if let Some(known) = Self::known(code) {
            return Ok(known);
        }
        if !OtherCode::is_well_formed(code) {
            return Err(ValueError::Malformed {
                what: OtherCode::WHAT,
            });
        }
        Ok(Self::Other(OtherCode(lexical::slice_in(source, code))))
    }

    fn known(code: &[u8]) -> Option<Self> {
        const KNOWN: [(&[u8], ResponseCode); 6] = [
            (b"IN-USE", ResponseCode::InUse),
            (b"LOGIN-DELAY", ResponseCode::LoginDelay),
            (b"SYS/TEMP", ResponseCode::SysTemp),
            (b"SYS/PERM", ResponseCode::SysPerm),
            (b"AUTH", ResponseCode::Auth),
            (b"UTF8", ResponseCode::Utf8),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(code))
            .map(|(_, known)| known.clone())
    }

    /// The code as written on the wire, without brackets.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::InUse => b"IN-USE",
            Self::LoginDelay => b"LOGIN-DELAY",
            Self::SysTemp => b"SYS/TEMP",
            Self::SysPerm => b"SYS/PERM",
            Self::Auth => b"AUTH",
            Self::Utf8 => b"UTF8",
            Self::Other(code) => code.as_bytes(),
        }
    }

    /// The hierarchical levels: `SYS/TEMP` gives `SYS`, then `TEMP`.
    pub fn levels(&self) -> impl Iterator<Item = &[u8]> {
        self.as_bytes().split(|&b| b == b'/')
    }

    /// Splits a status line's text into a leading `[code]` and the text after it (one
    /// space after the `]` belongs to the separator).
    fn split_from<'a>(source: &Bytes, text: &'a [u8]) -> Option<(Self, &'a [u8])> {
        if text.first() != Some(&b'[') {
            return None;
        }
        let close = memchr::memchr(b']', text)?;
        let code = Self::parse_in(source, &text[1..close]).ok()?;
        let after = match text.get(close + 1) {
            Some(b' ') => close + 2,
            _ => close + 1,
        };
        Some((code, &text[after..]))
    }
}

/// A response code this crate has no name for: `resp-level *("/" resp-level)` of
/// RFC 2449 section 9, each level printable ASCII other than `/` and `]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherCode(Bytes);

impl OtherCode {
    const WHAT: &'static str = "response code";

    /// Validates a code (without brackets) that is none of the named ones.
    pub fn new(code: impl IntoBytes) -> Result<Self, ValueError> {
        match ResponseCode::parse(code.into_shared())? {
            ResponseCode::Other(code) => Ok(code),
            // A named code written as Other would read back as the named one.
            _ => Err(ValueError::Malformed { what: Self::WHAT }),
        }
    }

    fn is_well_formed(code: &[u8]) -> bool {
        !code.is_empty()
            && code.split(|&b| b == b'/').all(|level| {
                !level.is_empty()
                    && level
                        .iter()
                        .all(|&b| (0x21..=0x7f).contains(&b) && b != b']')
            })
    }

    /// The code's octets, without brackets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A `+OK` or `-ERR` line, with an optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusLine {
    status: Status,
    code: Option<ResponseCode>,
    text: Text,
}

impl StatusLine {
    /// A status line. Fails when there is no code and the text itself starts with a
    /// bracketed response code: it would read back as a code.
    pub fn new(status: Status, code: Option<ResponseCode>, text: Text) -> Result<Self, ValueError> {
        if code.is_none() && ResponseCode::split_from(&text.0, &text.0).is_some() {
            return Err(ValueError::Malformed {
                what: "status text (starts like a response code)",
            });
        }
        Ok(Self { status, code, text })
    }

    /// `+OK text`.
    pub fn ok(text: Text) -> Result<Self, ValueError> {
        Self::new(Status::Ok, None, text)
    }

    /// `-ERR text`.
    pub fn err(text: Text) -> Result<Self, ValueError> {
        Self::new(Status::Err, None, text)
    }

    /// `-ERR` with a fixed text known to be valid (no CR, LF, NUL, no leading `[`).
    pub(crate) fn err_static(text: &'static str) -> Self {
        Self {
            status: Status::Err,
            code: None,
            text: Text(Bytes::from_static(text.as_bytes())),
        }
    }

    /// The status indicator.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether the status is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The response code, if any.
    pub fn code(&self) -> Option<&ResponseCode> {
        self.code.as_ref()
    }

    /// The text after the status (and code).
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// The APOP timestamp in a greeting's text, if the server offers APOP
    /// (RFC 1939 section 7).
    pub fn apop_timestamp(&self) -> Option<crate::Timestamp> {
        crate::Timestamp::find_in(&self.text.0)
    }

    /// Parses the status line at the front of `input`, bounded by
    /// [`Limits::response_line`].
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        lexical::parse_front(input, limits.response_line, Self::parse_framed)
    }

    /// Parses one status line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        lexical::parse_framed_line(line, limits.response_line, Self::parse_framed)
    }

    /// Parses `line`, found inside `source` without its CRLF.
    pub(crate) fn parse_framed(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        let (status, rest) = if starts_with_ignore_case(line, b"+OK") {
            (Status::Ok, 3)
        } else if starts_with_ignore_case(line, b"-ERR") {
            (Status::Err, 4)
        } else {
            return Err(ResponseError::UnknownStatus);
        };
        let text = match line.get(rest) {
            None => &[][..],
            Some(b' ') => &line[rest + 1..],
            // "+OKAY" is not a status indicator.
            Some(_) => return Err(ResponseError::UnknownStatus),
        };
        let (code, text) = match ResponseCode::split_from(source, text) {
            Some((code, text)) => (Some(code), text),
            None => (None, text),
        };
        let text = if text.is_empty() {
            Bytes::new()
        } else {
            lexical::slice_in(source, text)
        };
        Ok(Self {
            status,
            code,
            text: Text(text),
        })
    }

    /// Writes the line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.status.as_str().as_bytes());
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_bytes());
            out.extend_from_slice(b"]");
        }
        if !self.text.is_empty() {
            out.extend_from_slice(b" ");
            out.extend_from_slice(self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl fmt::Display for StatusLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.status.as_str())?;
        if let Some(code) = &self.code {
            f.write_str(" [")?;
            write_lossy(f, code.as_bytes())?;
            f.write_str("]")?;
        }
        if !self.text.is_empty() {
            f.write_str(" ")?;
            write_lossy(f, self.text.as_bytes())?;
        }
        Ok(())
    }
}

/// Writes octets as text, invalid UTF-8 replaced, without allocating.
fn write_lossy(f: &mut fmt::Formatter<'_>, octets: &[u8]) -> fmt::Result {
    octets.utf8_chunks().try_for_each(|chunk| {
        f.write_str(chunk.valid())?;
        if chunk.invalid().is_empty() {
            Ok(())
        } else {
            f.write_str("\u{fffd}")
        }
    })
}

pub(crate) fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    line.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// A server challenge during AUTH: `+ ` and base64 (RFC 5034 section 4). A bare `+` is
/// read as an empty challenge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Continuation(pub SaslData);

impl Continuation {
    /// Parses the line at the front of `input`, bounded by [`Limits::sasl_line`].
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        lexical::parse_front(input, limits.sasl_line, Self::parse_framed)
    }

    /// Parses one line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        lexical::parse_framed_line(line, limits.sasl_line, Self::parse_framed)
    }

    fn parse_framed(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        match line {
            b"+" => Ok(Self::default()),
            [b'+', b' ', data @ ..] => Ok(Self(SaslData::parse(lexical::slice_in(source, data))?)),
            _ => Err(ResponseError::UnknownStatus),
        }
    }

    /// Writes the line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"+ ");
        out.extend_from_slice(self.0.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Any single line a server sends in answer to a command: a status line, or a SASL
/// challenge while AUTH runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// `+OK ...` or `-ERR ...`.
    Status(StatusLine),
    /// `+ base64`.
    Continuation(Continuation),
}

impl Response {
    /// Parses the line at the front of `input`: a challenge is bounded by
    /// [`Limits::sasl_line`], a status line by [`Limits::response_line`].
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        if Self::is_continuation(input) {
            lexical::parse_front(input, limits.sasl_line, Self::parse_framed)
        } else {
            lexical::parse_front(input, limits.response_line, Self::parse_framed)
        }
    }

    /// Parses one line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        let limit = if Self::is_continuation(&line) {
            limits.sasl_line
        } else {
            limits.response_line
        };
        lexical::parse_framed_line(line, limit, Self::parse_framed)
    }

    fn is_continuation(line: &[u8]) -> bool {
        matches!(line, [b'+'] | [b'+', b' ' | b'\r', ..])
    }

    fn parse_framed(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        if Self::is_continuation(line) {
            Continuation::parse_framed(source, line).map(Self::Continuation)
        } else {
            StatusLine::parse_framed(source, line).map(Self::Status)
        }
    }

    /// Writes the line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Self::Status(status) => status.write(out),
            Self::Continuation(challenge) => challenge.write(out),
        }
    }
}

/// The result of STAT: `+OK count size` (RFC 1939 section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stat {
    /// Messages in the maildrop, not counting those marked deleted.
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}

impl Stat {
    /// Parses the STAT response line at the front of `input`.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        parse_single_line(input, limits, Self::from_status)
    }

    /// Parses one STAT response line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        parse_single_line_framed(line, limits, Self::from_status)
    }

    /// Reads the result from a parsed status line; text after the two numbers is ignored
    /// (RFC 1939 section 5).
    pub fn from_status(status: &StatusLine) -> Result<Self, ResponseError> {
        if !status.is_ok() {
            return Err(ResponseError::NotOk);
        }
        let malformed = ValueError::Malformed {
            what: "STAT result",
        };
        let (count, size) = two_fields(status.text().as_bytes()).ok_or(malformed)?;
        Ok(Self {
            count: decimal::parse_u32(count).ok_or(malformed)?,
            size: decimal::parse_u64(size).ok_or(malformed)?,
        })
    }

    /// Writes `+OK count size`, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"+OK ");
        decimal::write_u64(out, u64::from(self.count));
        out.extend_from_slice(b" ");
        decimal::write_u64(out, self.size);
        out.extend_from_slice(b"\r\n");
    }
}

/// Parses a single-line result (STAT, `LIST msg`, `UIDL msg`) at the front of `input`: the
/// status line, then `from_status` reads the result from its text.
pub(crate) fn parse_single_line<T>(
    input: &Bytes,
    limits: &Limits,
    from_status: impl FnOnce(&StatusLine) -> Result<T, ResponseError>,
) -> Result<(T, usize), ParseError<ResponseError>> {
    lexical::parse_front(input, limits.response_line, |source, line| {
        from_status(&StatusLine::parse_framed(source, line)?)
    })
}

/// [`parse_single_line`] on a line already framed, without its CRLF.
pub(crate) fn parse_single_line_framed<T>(
    line: Bytes,
    limits: &Limits,
    from_status: impl FnOnce(&StatusLine) -> Result<T, ResponseError>,
) -> Result<T, ResponseError> {
    lexical::parse_framed_line(line, limits.response_line, |source, line| {
        from_status(&StatusLine::parse_framed(source, line)?)
    })
}
