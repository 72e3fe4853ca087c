//! The SASL pieces of POP3 AUTH (RFC 5034): mechanism names, base64 payloads, and the
//! client's response lines during an exchange.
//!
//! Decoding PLAIN, LOGIN or XOAUTH2 payloads is `mail_wire::sasl`'s job; this module only
//! frames and validates the base64 text on the POP3 wire.

use alloc::vec::Vec;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};

use crate::lexical;
use crate::{Limits, ParseError, ResponseError, ValueError};

/// A SASL mechanism name (RFC 4422 section 3.1): 1 to 20 of `A-Z`, `0-9`, `-`, `_`.
/// Lower case is accepted from peers; compare with [`Mechanism::eq_ignore_case`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mechanism(Bytes);

impl Mechanism {
    const WHAT: &'static str = "SASL mechanism";
    /// RFC 4422 section 3.1: at most 20 characters.
    pub const MAX_LEN: usize = 20;

    /// Validates a mechanism name.
    pub fn new(name: impl Into<Bytes>) -> Result<Self, ValueError> {
        Self::from_bytes(name.into())
    }

    pub(crate) fn from_bytes(name: Bytes) -> Result<Self, ValueError> {
        if name.is_empty() {
            return Err(ValueError::Empty { what: Self::WHAT });
        }
        if name.len() > Self::MAX_LEN {
            return Err(ValueError::TooLong {
                what: Self::WHAT,
                limit: Self::MAX_LEN,
            });
        }
        if let Some(&octet) = name.iter().find(|&&b| !Self::is_name_octet(b)) {
            return Err(ValueError::ForbiddenOctet {
                what: Self::WHAT,
                octet,
            });
        }
        Ok(Self(name))
    }

    fn is_name_octet(octet: u8) -> bool {
        octet.is_ascii_alphanumeric() || octet == b'-' || octet == b'_'
    }

    /// Whether `name` is a valid mechanism name ([`Mechanism::from_bytes`] accepts it).
    #[inline]
    pub(crate) fn is_valid(name: &[u8]) -> bool {
        (1..=Self::MAX_LEN).contains(&name.len()) && name.iter().all(|&b| Self::is_name_octet(b))
    }

    /// A name [`Mechanism::is_valid`] accepted.
    #[inline]
    pub(crate) fn from_valid(name: Bytes) -> Self {
        Self(name)
    }

    /// The name as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is the mechanism `name`, ignoring ASCII case (e.g. `b"PLAIN"`).
    pub fn eq_ignore_case(&self, name: &[u8]) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

/// Base64 text of a SASL exchange: an initial response, a client response or a server
/// challenge. Only the alphabet is checked here (`A-Z a-z 0-9 + / =`); [`SaslData::decode`]
/// checks the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SaslData(Bytes);

impl SaslData {
    const WHAT: &'static str = "base64 data";

    /// Validates base64 text (may be empty).
    pub fn new(base64: impl Into<Bytes>) -> Result<Self, ValueError> {
        Self::from_bytes(base64.into())
    }

    /// Encodes raw octets as base64 (allocates).
    pub fn encode(raw: &[u8]) -> Self {
        Self(Bytes::from(
            base64::engine::general_purpose::STANDARD.encode(raw),
        ))
    }

    pub(crate) fn from_bytes(base64: Bytes) -> Result<Self, ValueError> {
        if let Some(&octet) = base64.iter().find(|&&b| !Self::is_base64_octet(b)) {
            return Err(ValueError::ForbiddenOctet {
                what: Self::WHAT,
                octet,
            });
        }
        Ok(Self(base64))
    }

    fn is_base64_octet(octet: u8) -> bool {
        octet.is_ascii_alphanumeric() || matches!(octet, b'+' | b'/' | b'=')
    }

    /// Whether [`SaslData::from_initial_response`] accepts `arg`.
    #[inline]
    pub(crate) fn is_valid_initial_response(arg: &[u8]) -> bool {
        arg.iter().all(|&b| Self::is_base64_octet(b))
    }

    /// An initial response [`SaslData::is_valid_initial_response`] accepted.
    #[inline]
    pub(crate) fn from_valid_initial_response(arg: Bytes) -> Self {
        if &arg[..] == b"=" {
            Self::default()
        } else {
            Self(arg)
        }
    }

    /// An initial response on the AUTH line: `=` stands for an empty one (RFC 5034 section 4).
    pub(crate) fn from_initial_response(arg: Bytes) -> Result<Self, ValueError> {
        if &arg[..] == b"=" {
            Ok(Self::default())
        } else {
            Self::from_bytes(arg)
        }
    }

    /// The base64 text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Decodes the base64 text (allocates).
    pub fn decode(&self) -> Result<Vec<u8>, ValueError> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .map_err(|_| ValueError::Malformed { what: Self::WHAT })
    }
}

/// A line the client sends during an AUTH exchange (RFC 5034 section 4): base64 data (an
/// empty line is an empty response) or `*` to cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResponse {
    /// The response to the last challenge.
    Data(SaslData),
    /// `*`: the client cancels; the server answers `-ERR`.
    Cancel,
}

impl AuthResponse {
    /// Parses the line at the front of `input`, bounded by [`Limits::sasl_line`].
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        let (end, consumed) = lexical::frame(input, 0, limits.sasl_line)?;
        Self::parse_framed(input.slice(..end))
            .map(|response| (response, consumed))
            .map_err(|error| ParseError::Invalid { error, consumed })
    }

    /// Parses one line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        lexical::check_line(&line)?;
        if line.len() + 2 > limits.sasl_line {
            return Err(ResponseError::LineTooLong {
                limit: limits.sasl_line,
            });
        }
        Self::parse_framed(line)
    }

    fn parse_framed(line: Bytes) -> Result<Self, ResponseError> {
        if &line[..] == b"*" {
            return Ok(Self::Cancel);
        }
        Ok(Self::Data(SaslData::from_bytes(line)?))
    }

    /// Writes the line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Self::Data(data) => out.extend_from_slice(data.as_bytes()),
            Self::Cancel => out.extend_from_slice(b"*"),
        }
        out.extend_from_slice(b"\r\n");
    }
}
