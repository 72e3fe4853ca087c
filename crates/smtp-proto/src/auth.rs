//! The SMTP side of AUTH (RFC 4954): base64 payloads and the lines a client sends during the
//! exchange; mechanism names are `mail_wire`'s. Encoding and decoding SASL messages is `mail_wire::sasl`.

use core::fmt;

use bytes::{Bytes, BytesMut};
use mail_wire::line::{self, LineEnding, LineScan};

use crate::error::{CommandError, ParseError, ValueError};
use crate::limits::Limits;
use crate::storage::{Storage, share};
use crate::syntax::{self, BASE64};

/// A SASL mechanism name (RFC 4422 section 3.1: 1 to 20 of upper-case letters, digits, `-`,
/// `_`; lower case is read and upper-cased): `mail_wire`'s, shared with POP3. Copy, no allocation.
pub use mail_wire::sasl::{Mechanism, MechanismName};

/// Base64 text of a SASL exchange (RFC 4954 section 4), as sent; may be empty.
/// Its Debug output hides the content: it carries credentials.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SaslData<B = Bytes>(B);

impl Default for SaslData {
    fn default() -> SaslData {
        SaslData(Bytes::new())
    }
}

impl SaslData {
    /// Checks base64 text (the alphabet of RFC 4648 section 4, `=` padding).
    pub fn new(base64: impl Into<Bytes>) -> Result<SaslData, ValueError> {
        let base64 = base64.into();
        if let Some(byte) = syntax::forbidden_byte(&base64) {
            return Err(ValueError::ForbiddenOctet {
                what: "SASL data",
                octet: byte,
            });
        }
        if is_base64(&base64) {
            Ok(SaslData(base64))
        } else {
            Err(ValueError::Malformed { what: "SASL data" })
        }
    }
}

impl SaslData<&[u8]> {
    /// The same data in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> SaslData {
        SaslData(share(source, self.0))
    }
}

impl<B: Storage> SaslData<B> {
    #[inline(always)]
    pub(crate) fn parse(source: &B, text: &[u8]) -> Option<SaslData<B>> {
        is_base64(text).then(|| SaslData(source.slice_of(text)))
    }

    /// The empty response.
    pub(crate) fn empty() -> SaslData<B> {
        SaslData(B::empty())
    }

    /// The base64 text (decode it with `mail_wire::sasl`).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl<B: Storage> fmt::Debug for SaslData<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslData(<{} octets hidden>)", self.as_bytes().len())
    }
}

/// Base64 text: the alphabet, then at most two `=` of padding after at least one character
/// (so a lone `=`, the empty initial response of RFC 4954, is never data).
fn is_base64(text: &[u8]) -> bool {
    let data = text.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let padding = text.len() - data;
    padding <= 2
        && (padding == 0 || data > 0)
        && text[..data]
            .iter()
            .all(|&b| b != b'=' && syntax::is(b, BASE64))
}

/// A line the client sends after a 334 challenge (RFC 4954 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthResponse<B: Storage = Bytes> {
    /// A base64 response (an empty line is an empty response).
    Data(SaslData<B>),
    /// `*`: the client cancels the exchange; the server answers 501.
    Cancel,
}

impl AuthResponse {
    /// Parses a line framed without its CRLF.
    pub fn parse_line(line: Bytes) -> Result<AuthResponse, CommandError> {
        AuthResponse::parse_slice(&line, &line)
    }

    /// Parses one line from the front of `input` (limit: `limits.auth_line`); gives the
    /// response and the octets taken, CRLF included.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(AuthResponse, usize), ParseError<CommandError>> {
        AuthResponse::parse_from(input, limits)
    }
}

impl<'a> AuthResponse<&'a [u8]> {
    /// [`AuthResponse::parse`] for a borrowed buffer: the response borrows `input`, no
    /// reference count is taken.
    pub fn parse_borrowed(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<(AuthResponse<&'a [u8]>, usize), ParseError<CommandError>> {
        AuthResponse::parse_from(&input, limits)
    }

    /// The same response in shared storage: a slice of `source` when this value was parsed
    /// from it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> AuthResponse {
        match self {
            AuthResponse::Data(data) => AuthResponse::Data(data.to_shared(source)),
            AuthResponse::Cancel => AuthResponse::Cancel,
        }
    }
}

impl<B: Storage> AuthResponse<B> {
    fn parse_slice(source: &B, line: &[u8]) -> Result<AuthResponse<B>, CommandError> {
        if let Some(byte) = syntax::forbidden_byte(line) {
            return Err(CommandError::ForbiddenByte(byte));
        }
        if line == b"*" {
            return Ok(AuthResponse::Cancel);
        }
        SaslData::parse(source, line)
            .map(AuthResponse::Data)
            .ok_or(CommandError::ParameterSyntax(
                "SASL response must be base64",
            ))
    }

    fn parse_from(
        input: &B,
        limits: &Limits,
    ) -> Result<(AuthResponse<B>, usize), ParseError<CommandError>> {
        let bytes = input.as_ref();
        match line::scan_line(bytes, limits.auth_line, LineEnding::Crlf) {
            LineScan::Line {
                content_len,
                total_len,
            } => match AuthResponse::parse_slice(input, &bytes[..content_len]) {
                Ok(response) => Ok((response, total_len)),
                Err(error) => Err(ParseError::Invalid {
                    error,
                    consumed: total_len,
                }),
            },
            LineScan::Incomplete => Err(ParseError::Incomplete),
            LineScan::Fault { error, consumed } => Err(ParseError::Invalid {
                error: CommandError::from_line_error(error, limits.auth_line),
                consumed,
            }),
        }
    }

    /// Writes the line with its CRLF.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            AuthResponse::Data(data) => out.extend_from_slice(data.as_bytes()),
            AuthResponse::Cancel => out.extend_from_slice(b"*"),
        }
        out.extend_from_slice(b"\r\n");
    }
}
