//! How a client session behaves: the EHLO name, TLS mode, credentials, pipelining, chunking,
//! timeouts.

use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;
use mail_wire::value::IntoBytes;

use bytes::Bytes;
use mail_wire::Secret;
use mail_wire::sasl::{Credentials, Mechanism, OAuth2Credentials, PasswordCredentials};
use mail_wire::session::{DEFAULT_TLS_HANDSHAKE_TIMEOUT, TlsMode};

use crate::address::Domain;
use crate::error::AddressError;
use crate::limits::Limits;

/// The name a client gives in EHLO and HELO: a domain or an address literal of ASCII only.
///
/// EHLO goes out before the client knows whether the server does SMTPUTF8, so its domain is
/// ASCII, U-labels written as A-labels (RFC 6531 section 3.7.1; a server answers anything else
/// with 500, as this crate's own does). A [`Domain`] may hold U-labels; this type may not.
///
/// ```
/// use smtp_proto::client::EhloName;
/// use smtp_proto::{AddressError, Domain};
///
/// assert!(EhloName::new("client.example").is_ok());
/// assert!(EhloName::new("[192.0.2.1]").is_ok());
/// assert!(EhloName::new("xn--bcher-kva.example").is_ok());
/// assert_eq!(EhloName::new("bücher.example"), Err(AddressError::NonAscii));
/// let domain = Domain::new("bücher.example").unwrap();
/// assert_eq!(EhloName::try_from(domain), Err(AddressError::NonAscii));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EhloName(Domain);

impl EhloName {
    /// Checks a domain or address literal (RFC 5321 section 4.1.2) that is ASCII only.
    pub fn new(name: impl IntoBytes) -> Result<EhloName, AddressError> {
        EhloName::try_from(Domain::new(name)?)
    }

    /// The name as a [`Domain`].
    pub fn as_domain(&self) -> &Domain {
        &self.0
    }
}

impl TryFrom<Domain> for EhloName {
    type Error = AddressError;

    /// The domain, unless it holds non-ASCII octets (RFC 6531 section 3.7.1).
    fn try_from(domain: Domain) -> Result<EhloName, AddressError> {
        if domain.is_ascii() {
            Ok(EhloName(domain))
        } else {
            Err(AddressError::NonAscii)
        }
    }
}

impl From<EhloName> for Domain {
    fn from(name: EhloName) -> Domain {
        name.0
    }
}

impl fmt::Debug for EhloName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for EhloName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The configuration of a client [`Connection`](super::Connection).
///
/// Non-exhaustive (later versions add settings): built with [`Config::new`] (or `default`)
/// and the `with_*` builders.
///
/// ```
/// use std::time::Duration;
/// use smtp_proto::TlsMode;
/// use smtp_proto::client::{Config, EhloName};
///
/// let config = Config::new(EhloName::new("client.example").unwrap())
///     .with_tls(TlsMode::Required)
///     .with_password("jane", "secret")
///     .with_command_timeout(Duration::from_secs(60));
/// assert!(!config.allow_plaintext_auth_without_tls);
/// assert!(config.pipelining);
/// assert_eq!(config.ehlo_name().as_bytes(), b"client.example");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The name sent in EHLO and HELO (RFC 5321 section 4.1.1.1: the client's fully
    /// qualified domain name, or an address literal). Always ASCII: set only from an
    /// [`EhloName`] ([`Config::new`], [`Config::with_ehlo_name`]).
    pub(crate) ehlo_name: Domain,
    /// When to use STARTTLS (RFC 3207): [`TlsMode::Opportunistic`] by default (STARTTLS when
    /// offered, plain text otherwise), [`TlsMode::Required`] (STARTTLS or no session: the
    /// only mode that resists an attacker who strips the offer), [`TlsMode::Disabled`], or
    /// [`TlsMode::Implicit`] (the connection is TLS from the start, port 465, RFC 8314).
    pub tls: TlsMode,
    /// What to authenticate with; `None`: no AUTH.
    pub credentials: Option<Credentials>,
    /// The SASL mechanisms to use, most preferred first; the first one the server offers
    /// and the credentials fit is used. Default: PLAIN, LOGIN, XOAUTH2.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Allow PLAIN and LOGIN (which carry the password in the clear) and XOAUTH2 (a bearer
    /// token) before TLS. Off by default (ARCHITECTURE.md security invariant 7): the session
    /// then ends with [`Error::PlaintextAuthRefused`](super::Error::PlaintextAuthRefused)
    /// instead.
    pub allow_plaintext_auth_without_tls: bool,
    /// Pipeline commands (RFC 2920) when the server advertises PIPELINING. On by default.
    pub pipelining: bool,
    /// Send bodies with BDAT (RFC 3030) when the server advertises CHUNKING. On by default.
    pub chunking: bool,
    /// The size of a BDAT chunk: body octets are gathered up to this size before a
    /// `BDAT n` command goes out. Default 64 KiB.
    pub bdat_chunk_size: usize,
    /// The transmit queue bound: [`Connection::wants_body`](super::Connection::wants_body)
    /// is false while more than this many octets wait to be written. Default 64 KiB.
    pub transmit_bound: usize,
    /// Reply limits (line length, lines per reply).
    pub limits: Limits,
    /// How long to wait for the greeting and for the replies to EHLO, STARTTLS, AUTH, MAIL,
    /// RCPT, RSET and QUIT: 5 minutes (RFC 5321 sections 4.5.3.2.1 to 4.5.3.2.3; the RFC
    /// names no value for the others, and the same serves).
    pub command_timeout: Duration,
    /// How long to wait for the 354 to DATA: 2 minutes (RFC 5321 section 4.5.3.2.4).
    pub data_initiation_timeout: Duration,
    /// How long to wait for the reply to a BDAT chunk that is not the last: 3 minutes, the
    /// data block time of RFC 5321 section 4.5.3.2.5.
    pub data_block_timeout: Duration,
    /// How long to wait for the reply to the end of the data (the final `.`, or the last
    /// BDAT chunk): 10 minutes (RFC 5321 section 4.5.3.2.6).
    pub data_termination_timeout: Duration,
    /// How long the TLS handshake after STARTTLS may take (no RFC names a value).
    pub tls_handshake_timeout: Duration,
}

impl Config {
    /// Default BDAT chunk size.
    pub const BDAT_CHUNK_SIZE: usize = 64 * 1024;
    /// Default transmit queue bound.
    pub const TRANSMIT_BOUND: usize = 64 * 1024;

    /// The defaults with this EHLO name: opportunistic STARTTLS, no credentials, no
    /// plaintext AUTH before TLS, pipelining and chunking when offered, the RFC 5321 section
    /// 4.5.3.2 timeouts.
    pub fn new(ehlo_name: EhloName) -> Self {
        Config {
            ehlo_name: ehlo_name.into(),
            tls: TlsMode::Opportunistic,
            credentials: None,
            sasl_mechanisms: alloc::vec![Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2],
            allow_plaintext_auth_without_tls: false,
            pipelining: true,
            chunking: true,
            bdat_chunk_size: Config::BDAT_CHUNK_SIZE,
            transmit_bound: Config::TRANSMIT_BOUND,
            limits: Limits::default(),
            command_timeout: Duration::from_secs(5 * 60),
            data_initiation_timeout: Duration::from_secs(2 * 60),
            data_block_timeout: Duration::from_secs(3 * 60),
            data_termination_timeout: Duration::from_secs(10 * 60),
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }

    /// The name sent in EHLO and HELO (ASCII only).
    pub fn ehlo_name(&self) -> &Domain {
        &self.ehlo_name
    }

    /// With this TLS mode.
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// With these credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// With a user name and password (PLAIN or LOGIN).
    pub fn with_password(self, username: &str, password: &str) -> Self {
        self.with_credentials(Credentials::Password(PasswordCredentials::new(
            username,
            Secret::new(password.as_bytes()),
        )))
    }

    /// With an OAuth 2.0 bearer token (XOAUTH2).
    pub fn with_oauth2(self, user: &str, token: &str) -> Self {
        self.with_credentials(Credentials::OAuth2(OAuth2Credentials {
            user: user.into(),
            token: Secret::new(token.as_bytes()),
        }))
    }

    /// With these SASL mechanisms, most preferred first.
    pub fn with_sasl_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.sasl_mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Allow (or not) PLAIN and LOGIN before TLS.
    pub fn with_plaintext_auth_without_tls(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth_without_tls = allow;
        self
    }

    /// Pipeline (or not) when offered.
    pub fn with_pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Use BDAT (or not) when offered.
    pub fn with_chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }

    /// With this BDAT chunk size (at least 1).
    pub fn with_bdat_chunk_size(mut self, size: usize) -> Self {
        self.bdat_chunk_size = size.max(1);
        self
    }

    /// With this transmit queue bound.
    pub fn with_transmit_bound(mut self, bound: usize) -> Self {
        self.transmit_bound = bound;
        self
    }

    /// With these reply limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// With this EHLO name.
    pub fn with_ehlo_name(mut self, ehlo_name: EhloName) -> Self {
        self.ehlo_name = ehlo_name.into();
        self
    }

    /// With this command timeout (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT).
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// With this DATA initiation timeout (the 354).
    pub fn with_data_initiation_timeout(mut self, timeout: Duration) -> Self {
        self.data_initiation_timeout = timeout;
        self
    }

    /// With this data block timeout (the reply to a BDAT chunk that is not the last).
    pub fn with_data_block_timeout(mut self, timeout: Duration) -> Self {
        self.data_block_timeout = timeout;
        self
    }

    /// With this DATA termination timeout (the reply to the end of the data).
    pub fn with_data_termination_timeout(mut self, timeout: Duration) -> Self {
        self.data_termination_timeout = timeout;
        self
    }

    /// With this TLS handshake timeout.
    pub fn with_tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }
}

impl Default for Config {
    /// The defaults with the EHLO name `localhost`.
    fn default() -> Self {
        let name = EhloName::new(Bytes::from_static(b"localhost"));
        Config::new(name.expect("`localhost` is a valid ASCII domain"))
    }
}
