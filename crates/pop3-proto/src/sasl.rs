//! The SASL pieces of POP3 AUTH (RFC 5034): mechanism names, base64 payloads, and the
//! client's response lines during an exchange.
//!
//! Decoding PLAIN, LOGIN or XOAUTH2 payloads is `mail_wire::sasl`'s job; this module only
//! frames and validates the base64 text on the POP3 wire.

use alloc::vec::Vec;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use mail_wire::sasl::MAX_MECHANISM_LEN;

use crate::lexical;
use crate::{Limits, ParseError, ResponseError, ValueError};

/// A SASL mechanism name (RFC 4422 section 3.1): the workspace's one type for it, shared
/// with SMTP. Names are matched case-insensitively on input and written upper case.
pub use mail_wire::sasl::Mechanism;

/// Parses a mechanism name from the wire, as a [`ValueError`] a command error can carry.
pub(crate) fn parse_mechanism(name: &[u8]) -> Result<Mechanism, ValueError> {
    const WHAT: &str = "SASL mechanism";
    Mechanism::parse(name).map_err(|_| {
        // Only emptiness and length are told apart: a too-long argument has its own `-ERR`.
        if name.is_empty() {
            ValueError::Empty { what: WHAT }
        } else if name.len() > MAX_MECHANISM_LEN {
            ValueError::TooLong {
                what: WHAT,
                limit: MAX_MECHANISM_LEN,
            }
        } else {
            ValueError::Malformed { what: WHAT }
        }
    })
}

/// Base64 text of a SASL exchange: an initial response, a client response or a server
/// challenge. Only the alphabet is checked here (`A-Z a-z 0-9 + / =`); [`SaslData::decode`]
/// checks the rest.
///
/// Its `Debug` output shows only the length: a client's response is often a password or a
/// token in base64 (ARCHITECTURE.md security invariant 10).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SaslData(Bytes);

impl core::fmt::Debug for SaslData {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SaslData(<{} octets hidden>)", self.0.len())
    }
}

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
