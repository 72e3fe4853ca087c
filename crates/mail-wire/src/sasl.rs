//! SASL messages and exchanges shared by SMTP AUTH (RFC 4954) and POP3 AUTH (RFC 5034).
//!
//! Both protocols carry SASL (RFC 4422) the same way: the client names a mechanism with an
//! optional base64 initial response (`=` for an empty one), the server sends base64 challenges
//! (SMTP `334 `, POP3 `+ `), the client answers each with a base64 line or cancels with `*`.
//! This module holds what is the same in both: the base64 text of the lines ([`SaslData`],
//! one validation for both protocols), the client's answer lines ([`AuthResponse`]), the
//! PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and XOAUTH2 messages, and small
//! exchange machines for each role, so that the two protocol crates run the same code.

use crate::value::IntoBytes;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::{Bytes, BytesMut};

use crate::line::{self, LineEnding, LineError, LineScan};
use crate::parse::{ParseError, share};
use crate::{Secret, ValueError};

/// Standard base64 that also accepts input without padding (some clients omit it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The longest mechanism name, RFC 4422 section 3.1.
pub const MAX_MECHANISM_LEN: usize = 20;

/// The longest identity or password in a PLAIN message, RFC 4616 section 2 ("up to 255
/// octets" each is what a server must accept; longer is refused here to bound memory).
pub const MAX_PLAIN_FIELD_LEN: usize = 255;

/// The LOGIN mechanism's first challenge.
pub const LOGIN_USERNAME_CHALLENGE: &[u8] = b"Username:";
/// The LOGIN mechanism's second challenge.
pub const LOGIN_PASSWORD_CHALLENGE: &[u8] = b"Password:";

/// What went wrong in a SASL exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 section 4, RFC 5034 section 4): SMTP answers 501 (with
    /// 5.7.0 when enhanced codes are on, as Postfix does; RFC 4954 assigns none), POP3 `-ERR`.
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// A line that is not valid base64 (SMTP 501 5.5.2).
    #[error("invalid base64")]
    InvalidBase64,
    /// A mechanism name that breaks RFC 4422 section 3.1 (1 to 20 of `A-Z 0-9 - _`).
    #[error("invalid mechanism name")]
    InvalidMechanismName,
    /// A decoded message that breaks its mechanism's syntax (SMTP 501 5.5.2).
    #[error("malformed {0} message")]
    Malformed(&'static str),
    /// A field that must be UTF-8 is not.
    #[error("identity is not UTF-8")]
    InvalidUtf8,
    /// A challenge arrived after the client had nothing more to say.
    #[error("unexpected challenge")]
    UnexpectedChallenge,
    /// A response arrived after the exchange ended.
    #[error("exchange already complete")]
    Complete,
    /// The credentials do not fit the mechanism (a local misuse).
    #[error("credentials do not fit mechanism {0}")]
    WrongCredentials(&'static str),
    /// A credential field holds an octet its message uses as a separator, so sending it would
    /// forge another field: NUL in a PLAIN field (RFC 4616 section 2), `\x01` in an XOAUTH2
    /// user or token. Refused before anything is sent (a local misuse).
    #[error("{field} contains the separator octet 0x{octet:02x}")]
    ForbiddenOctet {
        /// Which field.
        field: &'static str,
        /// The octet.
        octet: u8,
    },
    /// A line of the exchange is bad as a line: over its limit (RFC 4954 section 4: 12288
    /// octets for SMTP; RFC 5034 section 4 for POP3), or holding NUL, a bare CR or a bare LF.
    #[error("{0}")]
    Line(LineError),
}

/// A SASL mechanism name: the ones this crate runs itself, or any other, kept uppercase
/// in place (no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// RFC 4616: authorization id, user name and password in one message.
    Plain,
    /// The LOGIN draft: user name and password, each after its challenge.
    Login,
    /// Google's and Microsoft's OAuth 2.0 bearer mechanism.
    XOAuth2,
    /// Any other mechanism; the session relays its steps to the application.
    Other(MechanismName),
}

/// A mechanism name of up to 20 octets, uppercase.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MechanismName {
    bytes: [u8; MAX_MECHANISM_LEN],
    len: u8,
}

impl MechanismName {
    /// The name, uppercase.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl core::fmt::Debug for MechanismName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Mechanism {
    /// Parses a mechanism name, case-insensitively (RFC 4422 section 3.1).
    ///
    /// ```
    /// use mail_wire::sasl::Mechanism;
    /// assert_eq!(Mechanism::parse(b"plain"), Ok(Mechanism::Plain));
    /// assert_eq!(Mechanism::parse(b"SCRAM-SHA-256").unwrap().as_str(), "SCRAM-SHA-256");
    /// assert!(Mechanism::parse(b"BAD NAME").is_err());
    /// ```
    pub fn parse(name: &[u8]) -> Result<Self, SaslError> {
        if name.is_empty()
            || name.len() > MAX_MECHANISM_LEN
            || !name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(SaslError::InvalidMechanismName);
        }
        let mut bytes = [0; MAX_MECHANISM_LEN];
        for (to, from) in bytes.iter_mut().zip(name) {
            *to = from.to_ascii_uppercase();
        }
        let upper = &bytes[..name.len()];
        Ok(match upper {
            b"PLAIN" => Self::Plain,
            b"LOGIN" => Self::Login,
            b"XOAUTH2" => Self::XOAuth2,
            _ => Self::Other(MechanismName {
                bytes,
                len: name.len() as u8,
            }),
        })
    }

    /// The name as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::Other(name) => name.as_str(),
        }
    }

    /// True for the mechanisms that send a reusable password in the clear (inside base64):
    /// they are not offered before TLS unless configured (security invariant 7).
    pub fn is_plaintext(&self) -> bool {
        matches!(self, Self::Plain | Self::Login)
    }

    /// True for the mechanisms whose exchange [`ServerExchange`] runs itself.
    pub fn is_built_in(&self) -> bool {
        !matches!(self, Self::Other(_))
    }

    /// [`Mechanism::parse`] of anything that holds the name's octets (`&str`, `String`, `Bytes`...).
    pub fn new(name: impl AsRef<[u8]>) -> Result<Self, SaslError> {
        Self::parse(name.as_ref())
    }

    /// The name as sent on the wire, as bytes (the same as [`Mechanism::as_str`]).
    pub fn name(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl core::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client's answer line, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslResponse {
    /// The decoded octets (empty for `=` or an empty line).
    Data(Vec<u8>),
    /// `*`: the client gives up.
    Cancel,
}

/// Decodes a client line (initial response or answer to a challenge), without its CRLF:
/// `*` cancels, `=` is an empty initial response (RFC 4954 section 4), anything else is base64.
pub fn decode_response(line: &[u8]) -> Result<SaslResponse, SaslError> {
    match line {
        b"*" => Ok(SaslResponse::Cancel),
        b"=" | b"" => Ok(SaslResponse::Data(Vec::new())),
        _ => decode_base64(line).map(SaslResponse::Data),
    }
}

/// Decodes base64 (padding optional): exactly the texts [`is_base64`] accepts.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    if !is_base64(text) {
        return Err(SaslError::InvalidBase64);
    }
    BASE64.decode(text).map_err(|_| SaslError::InvalidBase64)
}

/// Whether `text` is base64 as SMTP AUTH (RFC 4954 section 4) and POP3 AUTH (RFC 5034
/// section 4) carry it: the alphabet of RFC 4648 section 4 in groups of four, the last group
/// of two or three characters either unpadded (some clients omit the padding) or padded with
/// `=` to four, and the bits the last character leaves over zero, so that a text has one
/// meaning. The empty text is base64 (an empty response); a lone `=` is not (it is the
/// marker of an empty initial response, never data).
///
/// ```
/// use mail_wire::sasl::is_base64;
/// assert!(is_base64(b"dGVzdAB0ZXN0ADEyMzQ=") && is_base64(b"dGlt") && is_base64(b""));
/// assert!(is_base64(b"dGltMQ") && is_base64(b"dGltMQ=="));
/// assert!(!is_base64(b"=") && !is_base64(b"dGltMQ=") && !is_base64(b"dGltM") && !is_base64(b"dR=="));
/// ```
pub fn is_base64(text: &[u8]) -> bool {
    let data_len = text.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let (data, padding) = text.split_at(data_len);
    // One table load per character, the verdict ORed together: no branch per character
    // (an AUTH line's base64 is most of what the command parser reads on it).
    if data
        .iter()
        .fold(0, |invalid, &octet| invalid | BASE64_VALUES[octet as usize])
        & INVALID
        != 0
    {
        return false;
    }
    let last = data
        .last()
        .map_or(0, |&octet| BASE64_VALUES[octet as usize]);
    match (data.len() % 4, padding.len()) {
        (0, 0) => true,
        // One octet in the last group: its second character carries 4 spare bits.
        (2, 0 | 2) => last & 0x0f == 0,
        // Two octets: the third character carries 2 spare bits.
        (3, 0 | 1) => last & 0x03 == 0,
        _ => false,
    }
}

/// In [`BASE64_VALUES`], a byte that is not a base64 character.
const INVALID: u8 = 0x80;

/// Every byte's 6-bit base64 value, or [`INVALID`].
static BASE64_VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 256 {
        if let Some(value) = base64_value(i as u8) {
            table[i] = value;
        }
        i += 1;
    }
    table
};

/// The 6-bit value of a base64 character (RFC 4648 section 4, table 1).
const fn base64_value(octet: u8) -> Option<u8> {
    match octet {
        b'A'..=b'Z' => Some(octet - b'A'),
        b'a'..=b'z' => Some(octet - b'a' + 26),
        b'0'..=b'9' => Some(octet - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Base64 text of a SASL exchange, as it travels: an initial response, a client's answer or a
/// server's challenge (RFC 4954 section 4, RFC 5034 section 4). Always [`is_base64`]; may be
/// empty. It carries credentials, so its `Debug` shows the length only, never the text.
///
/// `SaslData` (that is `SaslData<Bytes>`) holds a slice of a shared buffer; `SaslData<&[u8]>`
/// borrows the buffer it was parsed from.
///
/// ```
/// use mail_wire::sasl::SaslData;
/// let data = SaslData::new("dGVzdAB0ZXN0ADEyMzQ=").unwrap();
/// assert_eq!(data.decode().unwrap(), b"test\0test\01234");
/// assert_eq!(format!("{data:?}"), "SaslData(<20 octets>)");
/// assert!(SaslData::new("not base64!").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SaslData<B = Bytes>(B);

impl Default for SaslData {
    /// The empty text.
    fn default() -> SaslData {
        SaslData(Bytes::new())
    }
}

impl SaslData {
    /// Checks base64 text ([`is_base64`]).
    pub fn new(base64: impl IntoBytes) -> Result<SaslData, ValueError> {
        SaslData::parse(base64.into_shared())
    }

    /// Encodes raw octets as base64 (allocates).
    pub fn encode(raw: &[u8]) -> SaslData {
        SaslData(Bytes::from(encode_base64(raw)))
    }
}

impl<B: AsRef<[u8]>> SaslData<B> {
    const WHAT: &'static str = "SASL data";

    /// Checks base64 text ([`is_base64`]) held in any storage (`Bytes`, `&[u8]`, ...).
    pub fn parse(base64: B) -> Result<SaslData<B>, ValueError> {
        let text = base64.as_ref();
        if is_base64(text) {
            return Ok(SaslData(base64));
        }
        Err(
            match text
                .iter()
                .find(|&&b| b != b'=' && base64_value(b).is_none())
            {
                Some(&octet) => ValueError::ForbiddenOctet {
                    what: Self::WHAT,
                    octet,
                },
                None => ValueError::Malformed { what: Self::WHAT },
            },
        )
    }

    /// The base64 text.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Decodes the base64 text (allocates).
    pub fn decode(&self) -> Result<Vec<u8>, SaslError> {
        decode_base64(self.as_bytes())
    }

    /// Writes it as an initial response: the text, or `=` when it is empty (RFC 4954
    /// section 4, RFC 5034 section 4).
    pub fn write_initial_response(&self, out: &mut BytesMut) {
        match self.as_bytes() {
            b"" => out.extend_from_slice(b"="),
            text => out.extend_from_slice(text),
        }
    }
}

impl<B: AsRef<[u8]> + Default> SaslData<B> {
    /// Checks an initial response as it stands on the AUTH line: `=` is the empty response
    /// (RFC 4954 section 4, RFC 5034 section 4), anything else is base64. An empty text is
    /// refused: the empty response is sent as `=`.
    pub fn parse_initial_response(text: B) -> Result<SaslData<B>, ValueError> {
        match text.as_ref() {
            b"=" => Ok(SaslData(B::default())),
            b"" => Err(ValueError::Empty {
                what: "SASL initial response",
            }),
            _ => SaslData::parse(text),
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

impl<B: AsRef<[u8]>> fmt::Debug for SaslData<B> {
    /// The length only: the text is credentials in base64.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslData(<{} octets>)", self.as_bytes().len())
    }
}

/// A line the client sends after a challenge (RFC 4954 section 4, RFC 5034 section 4): its
/// base64 answer (an empty line is an empty answer), or `*` to cancel. A lone `=` is not an
/// answer: it marks an empty *initial* response only.
///
/// ```
/// use bytes::Bytes;
/// use mail_wire::sasl::{AuthResponse, SaslData};
///
/// let input = Bytes::from_static(b"dGlt\r\n*\r\n");
/// let (answer, used) = AuthResponse::parse(&input, 12288).unwrap();
/// assert_eq!(answer, AuthResponse::Data(SaslData::new("dGlt").unwrap()));
/// assert_eq!(AuthResponse::parse(&input.slice(used..), 12288).unwrap().0, AuthResponse::Cancel);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuthResponse<B: AsRef<[u8]> = Bytes> {
    /// A base64 answer.
    Data(SaslData<B>),
    /// `*`: the client cancels the exchange (SMTP answers 501, POP3 `-ERR`).
    Cancel,
}

impl AuthResponse {
    /// Parses the line at the front of `input`, at most `limit` octets with its CRLF; gives
    /// the response and the octets taken, CRLF included (see [`ParseError`] for `consumed`).
    pub fn parse(
        input: &Bytes,
        limit: usize,
    ) -> Result<(AuthResponse, usize), ParseError<SaslError>> {
        let (len, total) = frame_response(input, limit)?;
        AuthResponse::from_line(input.slice(..len))
            .map(|response| (response, total))
            .map_err(|error| ParseError::Invalid {
                error,
                consumed: total,
            })
    }

    /// Parses a line already framed, without its CRLF, of at most `limit` octets with it.
    pub fn parse_line(line: Bytes, limit: usize) -> Result<AuthResponse, SaslError> {
        let error = match line::find_cr_lf_nul(&line).map(|i| line[i]) {
            Some(b'\r') => LineError::BareCr,
            Some(b'\n') => LineError::BareLf,
            Some(_) => LineError::Nul,
            None if line.len() + 2 > limit => LineError::TooLong { limit },
            None => return AuthResponse::from_line(line),
        };
        Err(SaslError::Line(error))
    }
}

impl<'a> AuthResponse<&'a [u8]> {
    /// [`AuthResponse::parse`] for a borrowed buffer: the response borrows `input`, no
    /// reference count is taken.
    pub fn parse_borrowed(
        input: &'a [u8],
        limit: usize,
    ) -> Result<(AuthResponse<&'a [u8]>, usize), ParseError<SaslError>> {
        let (len, total) = frame_response(input, limit)?;
        AuthResponse::from_line(&input[..len])
            .map(|response| (response, total))
            .map_err(|error| ParseError::Invalid {
                error,
                consumed: total,
            })
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

impl<B: AsRef<[u8]>> AuthResponse<B> {
    /// Reads a line's content (no CRLF, no CR, LF or NUL in it): `*`, or base64.
    fn from_line(line: B) -> Result<AuthResponse<B>, SaslError> {
        if line.as_ref() == b"*" {
            return Ok(AuthResponse::Cancel);
        }
        SaslData::parse(line)
            .map(AuthResponse::Data)
            .map_err(|_| SaslError::InvalidBase64)
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

/// Frames the line at the front of `input`: its content length and its length with CRLF.
fn frame_response(input: &[u8], limit: usize) -> Result<(usize, usize), ParseError<SaslError>> {
    match line::scan_line(input, limit, LineEnding::Crlf) {
        LineScan::Line {
            content_len,
            total_len,
        } => Ok((content_len, total_len)),
        LineScan::Incomplete => Err(ParseError::Incomplete),
        // `scan_line` gives 0 for an overlong line whose LF it has not seen: `ParseError`'s rule.
        LineScan::Fault { error, consumed } => Err(ParseError::Invalid {
            error: SaslError::Line(error),
            consumed,
        }),
    }
}

/// Encodes octets as base64 (a challenge, or an answer to one; empty stays empty).
pub fn encode_base64(data: &[u8]) -> String {
    BASE64.encode(data)
}

/// Encodes an initial response: base64, or `=` when it is empty (RFC 4954 section 4,
/// RFC 5034 section 4).
pub fn encode_initial_response(data: &[u8]) -> String {
    if data.is_empty() {
        String::from("=")
    } else {
        encode_base64(data)
    }
}

/// What a client proves itself with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// A user name and password, from PLAIN or LOGIN (or POP3 USER/PASS, APOP aside).
    Password(PasswordCredentials),
    /// An OAuth 2.0 bearer token, from XOAUTH2.
    OAuth2(OAuth2Credentials),
}

/// A user name and password, with PLAIN's optional authorization identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordCredentials {
    /// The identity to act as, when not the user's own (RFC 4616 `authzid`).
    pub authzid: Option<String>,
    /// The user name (RFC 4616 `authcid`).
    pub username: String,
    /// The password.
    pub password: Secret,
}

impl PasswordCredentials {
    /// A user name and password, without an authorization identity.
    pub fn new(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            authzid: None,
            username: username.into(),
            password: password.into(),
        }
    }

    /// The PLAIN message, RFC 4616 section 2: `[authzid] NUL authcid NUL passwd`.
    ///
    /// The fields are NUL-separated and none may hold NUL (RFC 4616 section 2, `UTF8SAFE`):
    /// a NUL inside one would let it say another field (a password `x\0admin` is not a
    /// password), so it is refused with [`SaslError::ForbiddenOctet`].
    ///
    /// ```
    /// use mail_wire::sasl::{PasswordCredentials, SaslError};
    /// let forged = PasswordCredentials::new("tim\0admin", "secret");
    /// assert_eq!(
    ///     forged.encode_plain().unwrap_err(),
    ///     SaslError::ForbiddenOctet { field: "PLAIN authcid", octet: 0 }
    /// );
    /// ```
    pub fn encode_plain(&self) -> Result<Secret, SaslError> {
        self.check_plain()?;
        let authzid = self.authzid.as_deref().unwrap_or_default();
        let mut message =
            Vec::with_capacity(authzid.len() + self.username.len() + self.password.len() + 2);
        message.extend_from_slice(authzid.as_bytes());
        message.push(0);
        message.extend_from_slice(self.username.as_bytes());
        message.push(0);
        message.extend_from_slice(self.password.expose());
        Ok(Secret::new(message))
    }

    /// No field holds the separator of a PLAIN message.
    fn check_plain(&self) -> Result<(), SaslError> {
        let fields = [
            (
                "PLAIN authzid",
                self.authzid.as_deref().unwrap_or_default().as_bytes(),
            ),
            ("PLAIN authcid", self.username.as_bytes()),
            ("PLAIN password", self.password.expose()),
        ];
        match fields.iter().find(|(_, field)| field.contains(&0)) {
            Some(&(field, _)) => Err(SaslError::ForbiddenOctet { field, octet: 0 }),
            None => Ok(()),
        }
    }

    /// Parses a PLAIN message (already base64-decoded), RFC 4616 section 2.
    ///
    /// ```
    /// use mail_wire::sasl::PasswordCredentials;
    /// let creds = PasswordCredentials::decode_plain(b"\0tim\0tanstaaftanstaaf").unwrap();
    /// assert_eq!(creds.username, "tim");
    /// assert_eq!(creds.authzid, None);
    /// assert_eq!(creds.password.expose(), b"tanstaaftanstaaf");
    /// ```
    pub fn decode_plain(message: &[u8]) -> Result<Self, SaslError> {
        const MALFORMED: SaslError = SaslError::Malformed("PLAIN");
        let mut fields = message.splitn(3, |b| *b == 0);
        let (Some(authzid), Some(authcid), Some(password)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(MALFORMED);
        };
        let too_long = |f: &[u8]| f.len() > MAX_PLAIN_FIELD_LEN;
        if authcid.is_empty()
            || password.is_empty()
            || password.contains(&0)
            || too_long(authzid)
            || too_long(authcid)
            || too_long(password)
        {
            return Err(MALFORMED);
        }
        Ok(Self {
            authzid: if authzid.is_empty() {
                None
            } else {
                Some(utf8(authzid)?)
            },
            username: utf8(authcid)?,
            password: Secret::new(password),
        })
    }
}

/// An OAuth 2.0 bearer token for a user (XOAUTH2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Credentials {
    /// The mailbox the token is for.
    pub user: String,
    /// The access token.
    pub token: Secret,
}

impl OAuth2Credentials {
    /// The XOAUTH2 message: `user=` user `^Aauth=Bearer ` token `^A^A`.
    ///
    /// `^A` (`\x01`) separates the fields, so neither the user nor the token may hold it (one
    /// would let the user say `auth=`): refused with [`SaslError::ForbiddenOctet`].
    pub fn encode(&self) -> Result<Secret, SaslError> {
        self.check()?;
        let mut message = Vec::with_capacity(self.user.len() + self.token.len() + 20);
        message.extend_from_slice(b"user=");
        message.extend_from_slice(self.user.as_bytes());
        message.extend_from_slice(b"\x01auth=Bearer ");
        message.extend_from_slice(self.token.expose());
        message.extend_from_slice(b"\x01\x01");
        Ok(Secret::new(message))
    }

    /// Neither field holds the separator of an XOAUTH2 message.
    fn check(&self) -> Result<(), SaslError> {
        let fields = [
            ("XOAUTH2 user", self.user.as_bytes()),
            ("XOAUTH2 token", self.token.expose()),
        ];
        match fields.iter().find(|(_, field)| field.contains(&1)) {
            Some(&(field, _)) => Err(SaslError::ForbiddenOctet { field, octet: 1 }),
            None => Ok(()),
        }
    }

    /// Parses an XOAUTH2 message (already base64-decoded).
    pub fn decode(message: &[u8]) -> Result<Self, SaslError> {
        const MALFORMED: SaslError = SaslError::Malformed("XOAUTH2");
        let body = message.strip_suffix(b"\x01\x01").ok_or(MALFORMED)?;
        let mut user = None;
        let mut token = None;
        for field in body.split(|b| *b == 1) {
            if let Some(value) = field.strip_prefix(b"user=") {
                user = Some(value);
            } else if let Some(value) = field.strip_prefix(b"auth=") {
                let bearer = value
                    .get(..7)
                    .filter(|p| p.eq_ignore_ascii_case(b"Bearer "));
                token = Some(bearer.map(|_| &value[7..]).ok_or(MALFORMED)?);
            }
        }
        match (user, token) {
            (Some(user), Some(token)) if !user.is_empty() && !token.is_empty() => Ok(Self {
                user: utf8(user)?,
                token: Secret::new(token),
            }),
            _ => Err(MALFORMED),
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, SaslError> {
    core::str::from_utf8(bytes)
        .map(String::from)
        .map_err(|_| SaslError::InvalidUtf8)
}

/// What the server does next in an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerStep {
    /// Send this challenge (raw; base64-encode it for the wire) and wait for an answer.
    Challenge(&'static [u8]),
    /// The client has said all; the application checks these credentials.
    Done(Credentials),
}

/// The server side of a PLAIN, LOGIN or XOAUTH2 exchange.
///
/// ```
/// use mail_wire::sasl::{Credentials, Mechanism, ServerExchange, ServerStep};
///
/// // AUTH LOGIN, then the two answers (RFC 4954-style 334 challenges in between).
/// let (mut exchange, step) = ServerExchange::start(Mechanism::Login, None).unwrap();
/// assert_eq!(step, ServerStep::Challenge(b"Username:"));
/// assert_eq!(exchange.step(b"dGlt").unwrap(), ServerStep::Challenge(b"Password:"));
/// let ServerStep::Done(Credentials::Password(creds)) = exchange.step(b"c2VjcmV0").unwrap() else {
///     panic!("expected credentials");
/// };
/// assert_eq!((creds.username.as_str(), creds.password.expose()), ("tim", &b"secret"[..]));
/// ```
#[derive(Clone, Debug)]
pub struct ServerExchange {
    state: ServerState,
}

#[derive(Clone, Debug)]
enum ServerState {
    AwaitPlain,
    AwaitLoginUsername,
    AwaitLoginPassword(String),
    AwaitXOAuth2,
    Complete,
}

impl ServerExchange {
    /// Starts an exchange for a built-in mechanism, with the initial response line as the
    /// client sent it (still base64, `=` for empty), if any.
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&[u8]>,
    ) -> Result<(Self, ServerStep), SaslError> {
        let state = match mechanism {
            Mechanism::Plain => ServerState::AwaitPlain,
            Mechanism::Login => ServerState::AwaitLoginUsername,
            Mechanism::XOAuth2 => ServerState::AwaitXOAuth2,
            Mechanism::Other(_) => return Err(SaslError::WrongCredentials("not built in")),
        };
        let mut exchange = Self { state };
        let step = match initial_response {
            // An empty initial response to PLAIN/XOAUTH2 is a request for the empty challenge.
            Some(line) if !(matches!(line, b"=") && mechanism != Mechanism::Login) => {
                exchange.step(line)?
            }
            _ => exchange.first_challenge(),
        };
        Ok((exchange, step))
    }

    fn first_challenge(&self) -> ServerStep {
        match self.state {
            ServerState::AwaitLoginUsername => ServerStep::Challenge(LOGIN_USERNAME_CHALLENGE),
            _ => ServerStep::Challenge(b""),
        }
    }

    /// Takes the client's answer line (base64, or `*`).
    pub fn step(&mut self, line: &[u8]) -> Result<ServerStep, SaslError> {
        let data = match decode_response(line) {
            Ok(SaslResponse::Data(data)) => data,
            Ok(SaslResponse::Cancel) => {
                self.state = ServerState::Complete;
                return Err(SaslError::Cancelled);
            }
            Err(error) => {
                self.state = ServerState::Complete;
                return Err(error);
            }
        };
        let state = core::mem::replace(&mut self.state, ServerState::Complete);
        let done = |c| Ok(ServerStep::Done(c));
        match state {
            ServerState::AwaitPlain => done(Credentials::Password(
                PasswordCredentials::decode_plain(&data)?,
            )),
            ServerState::AwaitXOAuth2 => {
                done(Credentials::OAuth2(OAuth2Credentials::decode(&data)?))
            }
            ServerState::AwaitLoginUsername => {
                if data.is_empty() || data.len() > MAX_PLAIN_FIELD_LEN {
                    return Err(SaslError::Malformed("LOGIN"));
                }
                self.state = ServerState::AwaitLoginPassword(utf8(&data)?);
                Ok(ServerStep::Challenge(LOGIN_PASSWORD_CHALLENGE))
            }
            ServerState::AwaitLoginPassword(username) => {
                if data.len() > MAX_PLAIN_FIELD_LEN {
                    return Err(SaslError::Malformed("LOGIN"));
                }
                done(Credentials::Password(PasswordCredentials {
                    authzid: None,
                    username,
                    password: Secret::new(data),
                }))
            }
            ServerState::Complete => Err(SaslError::Complete),
        }
    }
}

/// The client side of a PLAIN, LOGIN or XOAUTH2 exchange: produces the raw answers, which the
/// session base64-encodes (initial responses with [`encode_initial_response`]).
#[derive(Clone, Debug)]
pub struct ClientExchange {
    credentials: Credentials,
    mechanism: Mechanism,
    answers_given: u8,
}

impl ClientExchange {
    /// An exchange of `mechanism` with `credentials`; XOAUTH2 needs OAuth 2.0 credentials,
    /// PLAIN and LOGIN a password. Credentials its message cannot carry as they are (a NUL in
    /// a PLAIN field, `\x01` in XOAUTH2's) are refused here, before anything is sent.
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Result<Self, SaslError> {
        match (&mechanism, &credentials) {
            (Mechanism::Plain, Credentials::Password(creds)) => creds.check_plain()?,
            (Mechanism::XOAuth2, Credentials::OAuth2(creds)) => creds.check()?,
            (Mechanism::Login, Credentials::Password(_)) => {}
            _ => return Err(SaslError::WrongCredentials(mechanism_label(&mechanism))),
        }
        Ok(Self {
            credentials,
            mechanism,
            answers_given: 0,
        })
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response to send with the AUTH command (RFC 4954 section 4), if the
    /// mechanism has one: PLAIN and XOAUTH2 do, LOGIN waits for its challenge.
    pub fn initial_response(&mut self) -> Option<Secret> {
        match (&self.mechanism, &self.credentials) {
            // `new` checked the fields, so encoding cannot fail here.
            (Mechanism::Plain, Credentials::Password(creds)) => {
                self.answers_given = 1;
                creds.encode_plain().ok()
            }
            (Mechanism::XOAuth2, Credentials::OAuth2(creds)) => {
                self.answers_given = 1;
                creds.encode().ok()
            }
            _ => None,
        }
    }

    /// The answer to a challenge (already base64-decoded).
    ///
    /// LOGIN answers the user name, then the password; PLAIN answers its message to the
    /// empty challenge when no initial response was sent; XOAUTH2 answers an error challenge
    /// (a JSON status) with an empty line, as the mechanism requires, after which the server
    /// fails the exchange.
    pub fn respond(&mut self, _challenge: &[u8]) -> Result<Secret, SaslError> {
        let step = self.answers_given;
        self.answers_given = self.answers_given.saturating_add(1);
        match (&self.mechanism, &self.credentials, step) {
            (Mechanism::Login, Credentials::Password(creds), 0) => {
                Ok(Secret::new(creds.username.as_bytes()))
            }
            (Mechanism::Login, Credentials::Password(creds), 1) => Ok(creds.password.clone()),
            (Mechanism::Plain, Credentials::Password(creds), 0) => creds.encode_plain(),
            (Mechanism::XOAuth2, Credentials::OAuth2(creds), 0) => creds.encode(),
            (Mechanism::XOAuth2, _, 1) => Ok(Secret::default()),
            _ => Err(SaslError::UnexpectedChallenge),
        }
    }
}

fn mechanism_label(mechanism: &Mechanism) -> &'static str {
    match mechanism {
        Mechanism::Plain => "PLAIN",
        Mechanism::Login => "LOGIN",
        Mechanism::XOAuth2 => "XOAUTH2",
        Mechanism::Other(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4616_examples() {
        // RFC 4616 section 4: "Tim" with password "tanstaaftanstaaf", with and without authzid.
        let creds = PasswordCredentials::decode_plain(b"Ursel\0Kurt\0xipj3plmq").unwrap();
        assert_eq!(creds.authzid.as_deref(), Some("Ursel"));
        assert_eq!(creds.username, "Kurt");
        assert_eq!(creds.password.expose(), b"xipj3plmq");
        assert_eq!(
            creds.encode_plain().unwrap().expose(),
            b"Ursel\0Kurt\0xipj3plmq"
        );
    }

    #[test]
    fn rfc4954_plain_initial_response() {
        // RFC 4954 section 8: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ= ("test", "test", "1234").
        let (_, step) =
            ServerExchange::start(Mechanism::Plain, Some(b"dGVzdAB0ZXN0ADEyMzQ=")).expect("valid");
        let ServerStep::Done(Credentials::Password(creds)) = step else {
            panic!("{step:?}");
        };
        assert_eq!(creds.authzid.as_deref(), Some("test"));
        assert_eq!(creds.username, "test");
        assert_eq!(creds.password.expose(), b"1234");
    }

    #[test]
    fn plain_without_initial_response_gets_an_empty_challenge() {
        for initial in [None, Some(&b"="[..])] {
            let (mut exchange, step) = ServerExchange::start(Mechanism::Plain, initial).unwrap();
            assert_eq!(step, ServerStep::Challenge(b""));
            let line = encode_base64(b"\0u\0p");
            assert!(matches!(
                exchange.step(line.as_bytes()),
                Ok(ServerStep::Done(_))
            ));
            assert_eq!(exchange.step(b"AA=="), Err(SaslError::Complete));
        }
    }

    #[test]
    fn login_with_initial_username() {
        let user = encode_base64(b"tim");
        let (mut exchange, step) =
            ServerExchange::start(Mechanism::Login, Some(user.as_bytes())).unwrap();
        assert_eq!(step, ServerStep::Challenge(LOGIN_PASSWORD_CHALLENGE));
        let pass = encode_base64(b"pw");
        let ServerStep::Done(Credentials::Password(c)) = exchange.step(pass.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.username, "tim");
    }

    #[test]
    fn cancel_and_bad_base64_end_the_exchange() {
        let (mut exchange, _) = ServerExchange::start(Mechanism::Login, None).unwrap();
        assert_eq!(exchange.step(b"*"), Err(SaslError::Cancelled));
        let (mut exchange, _) = ServerExchange::start(Mechanism::Login, None).unwrap();
        assert_eq!(exchange.step(b"!!!"), Err(SaslError::InvalidBase64));
        assert_eq!(exchange.step(b"dGlt"), Err(SaslError::Complete));
    }

    #[test]
    fn malformed_plain_messages_are_refused() {
        for message in [
            &b""[..],
            b"\0",
            b"\0user",
            b"\0\0pass",
            b"a\0b\0",
            b"a\0b\0c\0d",
        ] {
            assert_eq!(
                PasswordCredentials::decode_plain(message),
                Err(SaslError::Malformed("PLAIN")),
                "{message:?}"
            );
        }
        assert_eq!(
            PasswordCredentials::decode_plain(b"\0\xff\0p"),
            Err(SaslError::InvalidUtf8)
        );
    }

    #[test]
    fn xoauth2_round_trip_and_error_flow() {
        let creds = OAuth2Credentials {
            user: "someuser@example.com".into(),
            token: Secret::new("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
        };
        let message = creds.encode().unwrap();
        assert_eq!(
            message.expose(),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
        );
        assert_eq!(
            OAuth2Credentials::decode(message.expose()),
            Ok(creds.clone())
        );
        let mut client =
            ClientExchange::new(Mechanism::XOAuth2, Credentials::OAuth2(creds)).unwrap();
        assert!(client.initial_response().is_some());
        // The server's error challenge is answered with an empty line.
        assert_eq!(
            client.respond(b"{\"status\":\"401\"}").unwrap().expose(),
            b""
        );
        assert_eq!(
            client.respond(b"again"),
            Err(SaslError::UnexpectedChallenge)
        );
    }

    #[test]
    fn client_and_server_agree_for_every_built_in_mechanism() {
        let password = Credentials::Password(PasswordCredentials::new("user", "pass word"));
        let oauth = Credentials::OAuth2(OAuth2Credentials {
            user: "u@example.com".into(),
            token: Secret::new("tok"),
        });
        for (mechanism, creds, use_initial) in [
            (Mechanism::Plain, password.clone(), true),
            (Mechanism::Plain, password.clone(), false),
            (Mechanism::Login, password.clone(), false),
            (Mechanism::XOAuth2, oauth.clone(), true),
            (Mechanism::XOAuth2, oauth.clone(), false),
        ] {
            let mut client = ClientExchange::new(mechanism, creds.clone()).unwrap();
            let initial = if use_initial {
                client
                    .initial_response()
                    .map(|r| encode_initial_response(r.expose()))
            } else {
                None
            };
            let (mut server, mut step) =
                ServerExchange::start(mechanism, initial.as_deref().map(str::as_bytes)).unwrap();
            let mut rounds = 0;
            let got = loop {
                match step {
                    ServerStep::Done(got) => break got,
                    ServerStep::Challenge(challenge) => {
                        let answer = client.respond(challenge).unwrap();
                        step = server
                            .step(encode_base64(answer.expose()).as_bytes())
                            .unwrap();
                    }
                }
                rounds += 1;
                assert!(rounds < 4);
            };
            assert_eq!(got, creds, "{mechanism}");
        }
    }

    #[test]
    fn mismatched_credentials_are_a_local_error() {
        let oauth = Credentials::OAuth2(OAuth2Credentials {
            user: "u".into(),
            token: Secret::new("t"),
        });
        assert_eq!(
            ClientExchange::new(Mechanism::Plain, oauth).unwrap_err(),
            SaslError::WrongCredentials("PLAIN")
        );
    }

    #[test]
    fn initial_response_encoding() {
        assert_eq!(encode_initial_response(b""), "=");
        assert_eq!(decode_response(b"="), Ok(SaslResponse::Data(Vec::new())));
        assert_eq!(decode_response(b"*"), Ok(SaslResponse::Cancel));
        // Missing padding is tolerated.
        assert_eq!(
            decode_response(b"dGlt"),
            Ok(SaslResponse::Data(b"tim".to_vec()))
        );
        assert_eq!(
            decode_response(b"dGltMQ"),
            Ok(SaslResponse::Data(b"tim1".to_vec()))
        );
    }

    #[test]
    fn rfc_examples_of_base64_lines() {
        // RFC 4954 section 8 and RFC 5034 section 6: "test", "test", "1234" / "test".
        for (line, raw) in [
            (&b"dGVzdAB0ZXN0ADEyMzQ="[..], &b"test\0test\x001234"[..]),
            (b"dGVzdAB0ZXN0AHRlc3Q=", b"test\0test\0test"),
        ] {
            let data = SaslData::new(Bytes::from_static(line)).unwrap();
            assert_eq!(data.decode().unwrap(), raw);
            let input = Bytes::from([line, b"\r\n"].concat());
            assert_eq!(
                AuthResponse::parse(&input, 12288),
                Ok((AuthResponse::Data(data), line.len() + 2))
            );
        }
        // RFC 4954 section 4: `*` cancels, `=` is only ever an empty *initial* response.
        let (cancel, _) = AuthResponse::parse(&Bytes::from_static(b"*\r\n"), 12288).unwrap();
        assert_eq!(cancel, AuthResponse::Cancel);
        assert_eq!(
            AuthResponse::parse_line(Bytes::from_static(b"="), 12288),
            Err(SaslError::InvalidBase64)
        );
        assert_eq!(
            AuthResponse::parse_line(Bytes::new(), 12288),
            Ok(AuthResponse::Data(SaslData::default()))
        );
        assert_eq!(
            SaslData::parse_initial_response(Bytes::from_static(b"=")),
            Ok(SaslData::default())
        );
        assert_eq!(
            SaslData::parse_initial_response(&b""[..]),
            Err(ValueError::Empty {
                what: "SASL initial response"
            })
        );
        let mut out = BytesMut::new();
        SaslData::default().write_initial_response(&mut out);
        assert_eq!(&out[..], b"=");
    }

    #[test]
    fn sasl_data_refuses_what_is_not_base64() {
        for (bad, error) in [
            (
                &b"dGlt\r\n"[..],
                ValueError::ForbiddenOctet {
                    what: "SASL data",
                    octet: b'\r',
                },
            ),
            (
                b"dG lt",
                ValueError::ForbiddenOctet {
                    what: "SASL data",
                    octet: b' ',
                },
            ),
            (b"=", ValueError::Malformed { what: "SASL data" }),
            (b"dG=lt", ValueError::Malformed { what: "SASL data" }),
            (b"dGltM", ValueError::Malformed { what: "SASL data" }),
            (b"dGltMQ===", ValueError::Malformed { what: "SASL data" }),
            (b"dR==", ValueError::Malformed { what: "SASL data" }),
        ] {
            assert_eq!(SaslData::parse(bad), Err(error), "{bad:?}");
            assert_eq!(decode_base64(bad), Err(SaslError::InvalidBase64), "{bad:?}");
        }
    }

    #[test]
    fn auth_response_lines_are_bounded_and_clean() {
        let limit = 16;
        let long = Bytes::from(alloc::vec![b'A'; 40]);
        assert_eq!(
            AuthResponse::parse(&long, limit),
            Err(ParseError::Invalid {
                error: SaslError::Line(LineError::TooLong { limit }),
                consumed: 0
            })
        );
        assert_eq!(
            AuthResponse::parse_line(long.slice(..15), limit),
            Err(SaslError::Line(LineError::TooLong { limit }))
        );
        assert_eq!(
            AuthResponse::parse_line(long.slice(..14), limit),
            Ok(AuthResponse::Data(SaslData::new(long.slice(..14)).unwrap()))
        );
        assert_eq!(
            AuthResponse::parse(&Bytes::from_static(b"dG\0l\r\nNEXT"), limit),
            Err(ParseError::Invalid {
                error: SaslError::Line(LineError::Nul),
                consumed: 6
            })
        );
        assert_eq!(
            AuthResponse::parse_line(Bytes::from_static(b"dG\rlt"), limit),
            Err(SaslError::Line(LineError::BareCr))
        );
    }

    #[test]
    fn debug_never_shows_the_text() {
        let secret = "dGVzdAB0ZXN0ADEyMzQ=";
        let data = SaslData::new(secret).unwrap();
        let response = AuthResponse::Data(data.clone());
        let borrowed = AuthResponse::parse_borrowed(b"dGVzdAB0ZXN0ADEyMzQ=\r\n", 100)
            .unwrap()
            .0;
        for shown in [
            alloc::format!("{data:?}"),
            alloc::format!("{response:?}"),
            alloc::format!("{borrowed:?}"),
        ] {
            assert!(!shown.contains("dGVz"), "{shown}");
            assert!(shown.contains("20 octets"), "{shown}");
        }
    }

    /// ARCHITECTURE security invariant 11 here: a field cannot say another field.
    #[test]
    fn plain_and_xoauth2_refuse_separators_in_fields() {
        let cases = [
            (
                PasswordCredentials {
                    authzid: Some("admin\0x".into()),
                    username: "tim".into(),
                    password: Secret::new("pw"),
                },
                "PLAIN authzid",
            ),
            (
                PasswordCredentials::new("tim\0admin", "pw"),
                "PLAIN authcid",
            ),
            (PasswordCredentials::new("tim", "pw\0x"), "PLAIN password"),
        ];
        for (creds, field) in cases {
            let error = SaslError::ForbiddenOctet { field, octet: 0 };
            assert_eq!(creds.encode_plain().unwrap_err(), error);
            assert_eq!(
                ClientExchange::new(Mechanism::Plain, Credentials::Password(creds.clone()))
                    .unwrap_err(),
                error
            );
            // LOGIN sends each field as a message of its own: nothing to forge there.
            assert!(ClientExchange::new(Mechanism::Login, Credentials::Password(creds)).is_ok());
        }
        for (user, token, field) in [
            ("u@example.com\x01auth=Bearer stolen", "t", "XOAUTH2 user"),
            ("u@example.com", "t\x01\x01", "XOAUTH2 token"),
        ] {
            let creds = OAuth2Credentials {
                user: user.into(),
                token: Secret::new(token),
            };
            let error = SaslError::ForbiddenOctet { field, octet: 1 };
            assert_eq!(creds.encode().unwrap_err(), error);
            assert_eq!(
                ClientExchange::new(Mechanism::XOAuth2, Credentials::OAuth2(creds)).unwrap_err(),
                error
            );
        }
    }

    proptest! {
        /// `is_base64` is exactly RFC 4648 base64, padded or unpadded (some clients omit the
        /// padding), with the spare bits zero: what a strict decoder of either form takes.
        /// Partial padding (`AQ=`) is neither, though a lax decoder would take it.
        #[test]
        fn is_base64_agrees_with_the_decoder(text in "[A-Za-z0-9+/=]{0,12}") {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
            let strict = STANDARD.decode(text.as_bytes()).is_ok()
                || STANDARD_NO_PAD.decode(text.as_bytes()).is_ok();
            prop_assert_eq!(is_base64(text.as_bytes()), strict, "{:?}", text);
        }

        #[test]
        fn encoded_data_is_base64(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let data = SaslData::encode(&raw);
            prop_assert_eq!(SaslData::new(data.as_bytes().to_vec()), Ok(data.clone()));
            prop_assert_eq!(data.decode(), Ok(raw));
        }

        /// Written, then parsed from any split of the stream: the same responses.
        #[test]
        fn auth_response_round_trip(
            answers in proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
                1..4,
            ),
        ) {
            let responses: Vec<AuthResponse> = answers
                .iter()
                .map(|a| match a {
                    Some(raw) => AuthResponse::Data(SaslData::encode(raw)),
                    None => AuthResponse::Cancel,
                })
                .collect();
            let mut out = BytesMut::new();
            for response in &responses {
                response.write(&mut out);
            }
            let stream = out.freeze();
            let mut rest = stream.clone();
            for response in &responses {
                let (parsed, used) = AuthResponse::parse(&rest, 12288).unwrap();
                prop_assert_eq!(&parsed, response);
                for cut in 0..used {
                    prop_assert_eq!(
                        AuthResponse::parse(&rest.slice(..cut), 12288),
                        Err(ParseError::Incomplete)
                    );
                }
                let (borrowed, used_borrowed) = AuthResponse::parse_borrowed(&rest, 12288).unwrap();
                prop_assert_eq!(used_borrowed, used);
                prop_assert_eq!(&borrowed.to_shared(&rest), response);
                rest = rest.slice(used..);
            }
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn plain_round_trip(
            authzid in proptest::option::of("[^\0]{1,40}"),
            username in "[^\0]{1,40}",
            password in proptest::collection::vec(1u8..=255, 1..100),
        ) {
            let creds = PasswordCredentials { authzid, username, password: Secret::new(password) };
            let line = encode_base64(creds.encode_plain().unwrap().expose());
            let SaslResponse::Data(decoded) = decode_response(line.as_bytes()).unwrap() else {
                panic!("not data");
            };
            prop_assert_eq!(PasswordCredentials::decode_plain(&decoded), Ok(creds));
        }

        #[test]
        fn decoders_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_response(&line);
            let _ = AuthResponse::parse(&Bytes::from(line.clone()), 64);
            let _ = AuthResponse::parse_borrowed(&line, 64);
            if let Ok(data) = SaslData::parse(&line[..]) {
                prop_assert!(data.decode().is_ok());
            }
            let _ = PasswordCredentials::decode_plain(&line);
            let _ = OAuth2Credentials::decode(&line);
            let _ = Mechanism::parse(&line);
        }
    }
}
