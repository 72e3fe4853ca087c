//! What a server session is configured with: greeting, APOP, TLS, offered mechanisms, limits.

use alloc::vec::Vec;
use core::time::Duration;

use mail_wire::session::{DEFAULT_TLS_HANDSHAKE_TIMEOUT, TlsMode};

use crate::{ExpirePolicy, Limits, Mechanism, Text, Timestamp};

/// The configuration of one server session ([`Connection::new`](super::Connection::new)).
///
/// `Default` gives a conservative server: no STLS ([`TlsMode::Disabled`]: the adapter must say
/// it has TLS), no plaintext authentication before TLS (ARCHITECTURE.md security invariant 7),
/// SASL PLAIN and LOGIN offered once the connection is secure, USER/PASS likewise, no APOP.
///
/// ```
/// use pop3_proto::TlsMode;
/// use pop3_proto::server::Config;
///
/// let config = Config::default().with_tls(TlsMode::Required);
/// assert!(!config.allow_plaintext_auth_without_tls);
/// assert_eq!(config.autologout, Config::AUTOLOGOUT);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Line limits (RFC 2449 section 4) and the AUTH continuation limit.
    pub limits: Limits,
    /// The text of the `+OK` greeting (RFC 1939 section 4), before the APOP timestamp.
    pub greeting: Text,
    /// The APOP timestamp put in the greeting (RFC 1939 section 7). `Some` enables APOP.
    /// The machine has no clock or process id: the adapter makes it unique per connection,
    /// e.g. `<nonce.time@host>`.
    pub apop_timestamp: Option<Timestamp>,
    /// TLS on the connection: [`TlsMode::Disabled`] (the default) offers no STLS;
    /// [`TlsMode::Opportunistic`] offers STLS (RFC 2595 section 4: the adapter can upgrade
    /// the connection); [`TlsMode::Required`] offers STLS and refuses every login (USER,
    /// APOP, AUTH) before it; [`TlsMode::Implicit`] is TLS from the first byte (port 995,
    /// RFC 8314): no STLS, and the connection is secure from the start.
    pub tls: TlsMode,
    /// Allow USER/PASS, AUTH PLAIN and AUTH LOGIN on a connection without TLS. Off by
    /// default: they send a reusable password in the clear (ARCHITECTURE.md security
    /// invariant 7).
    pub allow_plaintext_auth_without_tls: bool,
    /// Offer USER/PASS at all (RFC 1939 section 7). On by default; still subject to
    /// [`Config::allow_plaintext_auth_without_tls`].
    pub user_pass: bool,
    /// The SASL mechanisms offered by AUTH (RFC 5034), in CAPA order. PLAIN, LOGIN and
    /// XOAUTH2 run inside the machine; any other is relayed to the application step by step.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Accept the UTF8 command and advertise `UTF8` (RFC 6856 section 2). The machine only
    /// acknowledges it; the application decides what it changes ([`Connection::is_utf8`]).
    ///
    /// [`Connection::is_utf8`]: super::Connection::is_utf8
    pub utf8: bool,
    /// The `IMPLEMENTATION` capability text (RFC 2449 section 6.9), if any.
    pub implementation: Option<Text>,
    /// The `EXPIRE` capability (RFC 2449 section 6.7), if the application has a policy.
    pub expire: Option<ExpirePolicy>,
    /// The `LOGIN-DELAY` capability in seconds (RFC 2449 section 6.5), if any.
    pub login_delay: Option<u32>,
    /// The inactivity autologout timer: at least 10 minutes (RFC 1939 section 3). The
    /// timeout of every [`Next::Read`](crate::Next::Read) wait: a whole command must arrive
    /// within it.
    pub autologout: Duration,
    /// How long the TLS handshake after STLS may take: the timeout of the
    /// [`Next::UpgradeTls`](crate::Next::UpgradeTls) wait. Default
    /// [`DEFAULT_TLS_HANDSHAKE_TIMEOUT`] (a minute).
    pub tls_handshake_timeout: Duration,
    /// Bad commands (unknown, malformed, wrong state, overlong) tolerated before the
    /// session is ended.
    pub max_bad_commands: u32,
    /// Failed logins tolerated before the session is ended.
    pub max_failed_logins: u32,
    /// Bounds the unprocessed input (pipelined commands) the machine holds: twice this, plus
    /// one AUTH line, is the hard cap (ARCHITECTURE.md security invariant 3). An adapter
    /// reads only when [`Connection::poll`](super::Connection::poll) says
    /// [`Next::Read`](crate::Next::Read), so only a client that pipelines more than that in
    /// one read (or an adapter that reads while the application decides) reaches it: the
    /// session answers `-ERR` and ends with
    /// [`CloseReason::InputOverflow`](crate::CloseReason::InputOverflow).
    pub max_pipelined_input: usize,
    /// Accept a bare LF as the end of a command line: a tolerated deviation of lax clients,
    /// off by default (RFC 1939 section 3 says CRLF).
    pub bare_lf_line_ending: bool,
}

impl Config {
    /// RFC 1939 section 3: the autologout timer is at least 10 minutes.
    pub const AUTOLOGOUT: Duration = Duration::from_secs(600);
    /// Default for [`Config::max_bad_commands`].
    pub const MAX_BAD_COMMANDS: u32 = 10;
    /// Default for [`Config::max_failed_logins`].
    pub const MAX_FAILED_LOGINS: u32 = 3;
    /// Default for [`Config::max_pipelined_input`]: 64 KiB.
    pub const MAX_PIPELINED_INPUT: usize = 64 * 1024;

    /// Enables APOP with this greeting timestamp.
    pub fn with_apop_timestamp(mut self, timestamp: Timestamp) -> Self {
        self.apop_timestamp = Some(timestamp);
        self
    }

    /// Sets the greeting text.
    pub fn with_greeting(mut self, greeting: Text) -> Self {
        self.greeting = greeting;
        self
    }

    /// Sets the TLS offer (see [`Config::tls`]).
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Allows plaintext authentication without TLS (ARCHITECTURE.md security invariant 7:
    /// off by default).
    pub fn with_plaintext_auth_without_tls(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth_without_tls = allow;
        self
    }

    /// Offers USER/PASS (or not).
    pub fn with_user_pass(mut self, offer: bool) -> Self {
        self.user_pass = offer;
        self
    }

    /// Sets the SASL mechanisms offered, in order.
    pub fn with_sasl_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.sasl_mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Accepts the UTF8 command (RFC 6856).
    pub fn with_utf8(mut self, utf8: bool) -> Self {
        self.utf8 = utf8;
        self
    }

    /// Sets the `IMPLEMENTATION` capability text.
    pub fn with_implementation(mut self, text: Text) -> Self {
        self.implementation = Some(text);
        self
    }

    /// Sets the `EXPIRE` capability.
    pub fn with_expire(mut self, policy: ExpirePolicy) -> Self {
        self.expire = Some(policy);
        self
    }

    /// Sets the `LOGIN-DELAY` capability, in seconds.
    pub fn with_login_delay(mut self, seconds: u32) -> Self {
        self.login_delay = Some(seconds);
        self
    }

    /// Sets the autologout timer (RFC 1939 section 3 asks for at least 10 minutes).
    pub fn with_autologout(mut self, autologout: Duration) -> Self {
        self.autologout = autologout;
        self
    }

    /// Sets how long the TLS handshake after STLS may take.
    pub fn with_tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }

    /// Sets how many bad commands end the session.
    pub fn with_max_bad_commands(mut self, max: u32) -> Self {
        self.max_bad_commands = max;
        self
    }

    /// Sets how many failed logins end the session.
    pub fn with_max_failed_logins(mut self, max: u32) -> Self {
        self.max_failed_logins = max;
        self
    }

    /// Sets the pipelining bound (see [`Config::max_pipelined_input`]).
    pub fn with_max_pipelined_input(mut self, bytes: usize) -> Self {
        self.max_pipelined_input = bytes;
        self
    }

    /// Sets the line limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Accepts a bare LF as a command line ending (a tolerated deviation, off by default).
    pub fn with_bare_lf_line_ending(mut self, accept: bool) -> Self {
        self.bare_lf_line_ending = accept;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            greeting: Text::from_line(bytes::Bytes::from_static(b"POP3 server ready")),
            apop_timestamp: None,
            tls: TlsMode::Disabled,
            allow_plaintext_auth_without_tls: false,
            user_pass: true,
            sasl_mechanisms: alloc::vec![Mechanism::Plain, Mechanism::Login],
            utf8: false,
            implementation: None,
            expire: None,
            login_delay: None,
            autologout: Self::AUTOLOGOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            max_bad_commands: Self::MAX_BAD_COMMANDS,
            max_failed_logins: Self::MAX_FAILED_LOGINS,
            max_pipelined_input: Self::MAX_PIPELINED_INPUT,
            bare_lf_line_ending: false,
        }
    }
}
