//! How a client session behaves: credentials, TLS policy, limits, pipelining, timeouts.

use alloc::vec::Vec;
use core::time::Duration;

use mail_wire::Secret;
use mail_wire::sasl::{Credentials, OAuth2Credentials, PasswordCredentials};
use mail_wire::session::{DEFAULT_TLS_HANDSHAKE_TIMEOUT, TlsMode};

use crate::{Limits, Mechanism};

/// The configuration of a client [`Connection`](super::Connection).
///
/// ```
/// use pop3_proto::TlsMode;
/// use pop3_proto::client::Config;
///
/// let config = Config::default()
///     .with_password("mrose", "tanstaaf")
///     .with_tls(TlsMode::Required)
///     .with_pipelining_window(16);
/// assert!(!config.allow_plaintext_auth_without_tls);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Line and listing limits for what the server sends.
    pub limits: Limits,
    /// What to log in with: a password (SASL PLAIN, APOP, USER/PASS) or an OAuth 2.0
    /// token (SASL XOAUTH2).
    pub credentials: Option<Credentials>,
    /// When to use STLS (RFC 2595 section 4): [`TlsMode::Opportunistic`] (the default) when
    /// the server offers it, going on without TLS otherwise (credentials that would travel
    /// in the clear are still refused unless
    /// [`allow_plaintext_auth_without_tls`](Self::allow_plaintext_auth_without_tls));
    /// [`TlsMode::Required`]: STLS must succeed before any login, or the session ends with a
    /// typed error (the only mode that resists an attacker who strips `STLS` from the
    /// capabilities); [`TlsMode::Implicit`]: the connection is already protected (port 995,
    /// RFC 8314); [`TlsMode::Disabled`]: never STLS.
    pub tls: TlsMode,
    /// Allow methods that send the password or token in the clear (SASL PLAIN, LOGIN,
    /// XOAUTH2, USER/PASS) on a connection without TLS. Off by default (ARCHITECTURE.md
    /// security invariant 7); APOP sends only a digest and is always allowed.
    pub allow_plaintext_auth_without_tls: bool,
    /// The SASL mechanisms the client may use (RFC 5034), among those it runs: PLAIN, LOGIN
    /// (for a password; PLAIN is preferred when the server offers both) and XOAUTH2 (for an
    /// OAuth 2.0 token). Default: all three; an empty list leaves APOP and USER/PASS.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Use APOP (RFC 1939 section 7) when the greeting carries a timestamp. On by default.
    pub apop: bool,
    /// The most commands in flight at once when the server advertises PIPELINING
    /// (RFC 2449 section 6.6); without it, one at a time. Default 32.
    pub pipelining_window: usize,
    /// The most commands queued and not yet answered; more is a
    /// [`UsageError::QueueFull`](super::UsageError::QueueFull). Default 4096.
    pub max_queued_commands: usize,
    /// The largest message (unstuffed) accepted from RETR or TOP: past it the rest is
    /// drained and `MessageEnd` carries `BodyError::TooLarge`. Default: no limit (bodies
    /// stream out in chunks and are never held whole).
    pub message_size_limit: u64,
    /// How long to wait for a whole response (a status line, a whole listing, each 4 KiB
    /// block of a message): the timeout of every [`Next::Read`](crate::Next::Read) wait.
    /// Default 10 minutes: RFC 1939 section 3 lets a server wait that long before it logs an
    /// idle client out, so a server silent for longer is gone.
    pub response_timeout: Duration,
    /// How long the TLS handshake after STLS may take: the timeout of the
    /// [`Next::UpgradeTls`](crate::Next::UpgradeTls) wait. Default
    /// [`DEFAULT_TLS_HANDSHAKE_TIMEOUT`] (a minute).
    pub tls_handshake_timeout: Duration,
}

impl Config {
    /// Default response timeout.
    pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    /// Default pipelining window.
    pub const PIPELINING_WINDOW: usize = 32;
    /// Default bound of the command queue.
    pub const MAX_QUEUED_COMMANDS: usize = 4096;

    /// The defaults: no credentials, opportunistic STLS, no plaintext credentials without
    /// TLS, SASL PLAIN, LOGIN and XOAUTH2 and APOP allowed.
    pub fn new() -> Self {
        Self {
            limits: Limits::new(),
            credentials: None,
            tls: TlsMode::Opportunistic,
            allow_plaintext_auth_without_tls: false,
            sasl_mechanisms: alloc::vec![Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2],
            apop: true,
            pipelining_window: Self::PIPELINING_WINDOW,
            max_queued_commands: Self::MAX_QUEUED_COMMANDS,
            message_size_limit: u64::MAX,
            response_timeout: Self::RESPONSE_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }

    /// Log in with these credentials.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Log in with a user name and password.
    pub fn with_password(
        self,
        username: impl Into<alloc::string::String>,
        password: impl Into<Secret>,
    ) -> Self {
        self.with_credentials(Credentials::Password(PasswordCredentials::new(
            username, password,
        )))
    }

    /// Log in with an OAuth 2.0 bearer token (SASL XOAUTH2).
    pub fn with_oauth2(
        self,
        user: impl Into<alloc::string::String>,
        token: impl Into<Secret>,
    ) -> Self {
        self.with_credentials(Credentials::OAuth2(OAuth2Credentials {
            user: user.into(),
            token: token.into(),
        }))
    }

    /// Set the TLS policy.
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Allow (or forbid) credentials in the clear without TLS (ARCHITECTURE.md security
    /// invariant 7: forbidden by default).
    pub fn with_plaintext_auth_without_tls(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth_without_tls = allow;
        self
    }

    /// Set the SASL mechanisms the client may use (see [`Config::sasl_mechanisms`]).
    pub fn with_sasl_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.sasl_mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Use APOP when offered (or never).
    pub fn with_apop(mut self, apop: bool) -> Self {
        self.apop = apop;
        self
    }

    /// Set the pipelining window (at least 1).
    pub fn with_pipelining_window(mut self, window: usize) -> Self {
        self.pipelining_window = window.max(1);
        self
    }

    /// Set the bound of the command queue (at least 1).
    pub fn with_max_queued_commands(mut self, max: usize) -> Self {
        self.max_queued_commands = max.max(1);
        self
    }

    /// Set the largest message accepted.
    pub fn with_message_size_limit(mut self, limit: u64) -> Self {
        self.message_size_limit = limit;
        self
    }

    /// Set the response timeout.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Set how long the TLS handshake after STLS may take.
    pub fn with_tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// Set the wire limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
