//! What a server offers and enforces: hostname, extensions, limits, TLS, AUTH, leniency, and
//! which decisions go to the application.

use alloc::vec::Vec;
use core::time::Duration;

use mail_wire::dot::BareLineEnding;
use mail_wire::session::{DEFAULT_TLS_HANDSHAKE_TIMEOUT, TlsMode};

use crate::address::Domain;
use crate::auth::Mechanism;
use crate::limits::{self, Limits};
use crate::options::Leniency;

/// The service extensions a server advertises after EHLO (RFC 5321 section 4.1.1.1), each
/// switchable. STARTTLS follows [`Config::tls`] and AUTH follows [`Config::sasl_mechanisms`].
///
/// Non-exhaustive, as later RFCs add extensions: start from [`Extensions::default`] or
/// [`Extensions::none`] and set fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870), with [`Config::max_message_size`] as its value.
    pub size: bool,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// CHUNKING: the BDAT command (RFC 3030).
    pub chunking: bool,
    /// BINARYMIME (RFC 3030); advertised only together with CHUNKING.
    pub binary_mime: bool,
    /// DSN (RFC 3461): the application must then honour RET, ENVID, NOTIFY and ORCPT.
    pub dsn: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034): replies carry enhanced codes when on.
    pub enhanced_status_codes: bool,
    /// REQUIRETLS (RFC 8689); advertised only over TLS.
    pub requiretls: bool,
}

impl Extensions {
    /// No extension at all (a server that speaks RFC 5321 only; its replies then carry no
    /// enhanced codes).
    pub const fn none() -> Self {
        Extensions {
            pipelining: false,
            size: false,
            eight_bit_mime: false,
            smtputf8: false,
            chunking: false,
            binary_mime: false,
            dsn: false,
            enhanced_status_codes: false,
            requiretls: false,
        }
    }
}

impl Default for Extensions {
    /// Everything a plain store-and-forward server can honour without more work from the
    /// application: PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING, ENHANCEDSTATUSCODES.
    fn default() -> Self {
        Extensions {
            pipelining: true,
            size: true,
            eight_bit_mime: true,
            smtputf8: true,
            chunking: true,
            binary_mime: false,
            dsn: false,
            enhanced_status_codes: true,
            requiretls: false,
        }
    }
}

/// Which events wait for the application's answer. Off: the machine answers itself
/// (220 greeting, 250 with the capability list, 252 to VRFY, 502 to EXPN, 220 to STARTTLS).
/// MAIL, RCPT, AUTH credentials and the end of a message always go to the application.
///
/// Non-exhaustive: start from [`Decisions::default`] (none) and set fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Decisions {
    /// [`Event::Connected`](super::Event::Connected): accept, or refuse with 554 / 421.
    pub greeting: bool,
    /// [`Event::Hello`](super::Event::Hello): HELO, EHLO, LHLO.
    pub hello: bool,
    /// [`Event::Vrfy`](super::Event::Vrfy).
    pub vrfy: bool,
    /// [`Event::Expn`](super::Event::Expn).
    pub expn: bool,
    /// [`Event::StartTlsRequested`](super::Event::StartTlsRequested).
    pub starttls: bool,
}

/// The configuration of one server connection. `Config::default()` is a strict RFC 5321
/// server named `localhost` without TLS or AUTH; [`Config::new`] and the `with_*` builders
/// set the rest (the struct is non-exhaustive: later versions add settings).
///
/// ```
/// use smtp_proto::server::Config;
/// use smtp_proto::{Domain, Mechanism, TlsMode};
///
/// // A submission server (RFC 6409): STARTTLS first, then AUTH, then mail.
/// let config = Config::new(Domain::new("mx.example").unwrap())
///     .with_tls(TlsMode::Required)
///     .with_sasl_mechanisms([Mechanism::Plain, Mechanism::Login])
///     .with_require_auth(true);
/// assert!(!config.allow_plaintext_auth_without_tls);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The name in the greeting and the EHLO reply.
    pub hostname: Domain,
    /// The extensions advertised.
    pub extensions: Extensions,
    /// Largest message accepted, in octets (RFC 1870); 0: no limit. Bigger messages are
    /// drained and refused with 552 5.3.4.
    pub max_message_size: u64,
    /// Most accepted recipients per transaction; more get 452 4.5.3 (RFC 5321 section
    /// 4.5.3.1.10). RFC 5321 section 4.5.3.1.8 asks for at least 100.
    pub max_recipients: usize,
    /// Protocol errors (and failed authentications) tolerated per session; the last one is
    /// followed by 421 4.7.0 and the connection closes.
    pub max_errors: u32,
    /// Line limits. The command line limit in force is the larger of `limits.command_line`
    /// and what the advertised extensions need (see [`Limits::command_line_for`]); AUTH lines
    /// use `limits.auth_line` (RFC 4954 section 4).
    pub limits: Limits,
    /// The most unprocessed input the machine holds (ARCHITECTURE.md security invariant 3).
    /// An adapter that reads only when `poll` says [`Next::Read`](crate::Next::Read) stays far
    /// below it (what is left then is at most one partial line); past it, the machine answers
    /// 421 4.7.0 and closes with [`CloseReason::InputOverflow`](crate::CloseReason::InputOverflow).
    pub max_buffered_input: usize,
    /// TLS on this connection (RFC 3207, RFC 8314): [`TlsMode::Disabled`] (no STARTTLS),
    /// [`TlsMode::Opportunistic`] (STARTTLS offered), [`TlsMode::Required`] (STARTTLS offered;
    /// MAIL and AUTH refused with 530 5.7.0 before it) or [`TlsMode::Implicit`] (secure
    /// from the first byte, port 465).
    pub tls: TlsMode,
    /// SASL mechanisms offered, in order. PLAIN, LOGIN and XOAUTH2 are run by the machine;
    /// the others are relayed to the application step by step.
    pub sasl_mechanisms: Vec<Mechanism>,
    /// Offer and accept PLAIN and LOGIN without TLS (ARCHITECTURE.md security invariant 7;
    /// default false: they are not advertised, and AUTH with them gets 538 5.7.11).
    pub allow_plaintext_auth_without_tls: bool,
    /// MAIL needs a successful AUTH first (530 5.7.0): a submission server (RFC 6409).
    pub require_auth: bool,
    /// A bare LF or CR in DATA content: refused with 550 5.6.11 (default), or delivered as
    /// CRLF. Either way it never ends the message (ARCHITECTURE.md security invariant 1).
    pub bare_line_ending: BareLineEnding,
    /// Deviations of command syntax to tolerate (all off by default).
    pub leniency: Leniency,
    /// Which events wait for the application.
    pub decisions: Decisions,
    /// LMTP (RFC 2033): LHLO instead of HELO/EHLO, one reply per recipient after the message.
    pub lmtp: bool,
    /// How long to wait for a command (RFC 5321 section 4.5.3.2.7: 5 minutes).
    pub command_timeout: Duration,
    /// How long to wait for the next block of message data (RFC 5321 section 4.5.3.2.5
    /// gives the client 3 minutes per block; the server waits as long). A block is
    /// [`DATA_BLOCK`](mail_wire::session::DATA_BLOCK) octets of content.
    pub data_timeout: Duration,
    /// How long the TLS handshake after STARTTLS may take (no RFC names a value).
    pub tls_handshake_timeout: Duration,
}

/// Unprocessed input held at most, by default: room for a 128 KiB read on top of a partial
/// AUTH line (the longest line the machine waits for).
pub const DEFAULT_MAX_BUFFERED_INPUT: usize = 128 * 1024 + limits::AUTH_LINE;

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: Domain::new(&b"localhost"[..]).unwrap_or_else(|_| unreachable!()),
            extensions: Extensions::default(),
            max_message_size: 25 * 1024 * 1024,
            max_recipients: limits::RECIPIENTS,
            max_errors: 20,
            limits: Limits::default(),
            max_buffered_input: DEFAULT_MAX_BUFFERED_INPUT,
            tls: TlsMode::Disabled,
            sasl_mechanisms: Vec::new(),
            allow_plaintext_auth_without_tls: false,
            require_auth: false,
            bare_line_ending: BareLineEnding::Reject,
            leniency: Leniency::STRICT,
            decisions: Decisions::default(),
            lmtp: false,
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(3 * 60),
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

impl Config {
    /// The default configuration for a server named `hostname`.
    pub fn new(hostname: Domain) -> Self {
        Config {
            hostname,
            ..Config::default()
        }
    }

    /// Sets the hostname.
    pub fn with_hostname(mut self, hostname: Domain) -> Self {
        self.hostname = hostname;
        self
    }

    /// Sets the advertised extensions.
    pub fn with_extensions(mut self, extensions: Extensions) -> Self {
        self.extensions = extensions;
        self
    }

    /// Sets the largest message (0: no limit).
    pub fn with_max_message_size(mut self, octets: u64) -> Self {
        self.max_message_size = octets;
        self
    }

    /// Sets the most recipients per transaction.
    pub fn with_max_recipients(mut self, recipients: usize) -> Self {
        self.max_recipients = recipients;
        self
    }

    /// Sets the protocol errors tolerated per session.
    pub fn with_max_errors(mut self, errors: u32) -> Self {
        self.max_errors = errors;
        self
    }

    /// Sets the line limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the most unprocessed input held.
    pub fn with_max_buffered_input(mut self, octets: usize) -> Self {
        self.max_buffered_input = octets;
        self
    }

    /// Sets the TLS mode.
    pub fn with_tls(mut self, tls: TlsMode) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the SASL mechanisms offered, in order.
    pub fn with_sasl_mechanisms(mut self, mechanisms: impl IntoIterator<Item = Mechanism>) -> Self {
        self.sasl_mechanisms = mechanisms.into_iter().collect();
        self
    }

    /// Allows PLAIN and LOGIN before TLS.
    pub fn with_plaintext_auth_without_tls(mut self, allow: bool) -> Self {
        self.allow_plaintext_auth_without_tls = allow;
        self
    }

    /// Requires AUTH before MAIL.
    pub fn with_require_auth(mut self, require: bool) -> Self {
        self.require_auth = require;
        self
    }

    /// Sets the policy for bare CR and LF in DATA content.
    pub fn with_bare_line_ending(mut self, policy: BareLineEnding) -> Self {
        self.bare_line_ending = policy;
        self
    }

    /// Sets the tolerated syntax deviations.
    pub fn with_leniency(mut self, leniency: Leniency) -> Self {
        self.leniency = leniency;
        self
    }

    /// Sets which events wait for the application.
    pub fn with_decisions(mut self, decisions: Decisions) -> Self {
        self.decisions = decisions;
        self
    }

    /// Speaks LMTP (RFC 2033) instead of SMTP.
    pub fn with_lmtp(mut self, lmtp: bool) -> Self {
        self.lmtp = lmtp;
        self
    }

    /// Sets the command and data timeouts.
    pub fn with_timeouts(mut self, command: Duration, data: Duration) -> Self {
        self.command_timeout = command;
        self.data_timeout = data;
        self
    }

    /// Sets how long to wait for a command.
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Sets how long to wait for each block of message data.
    pub fn with_data_timeout(mut self, timeout: Duration) -> Self {
        self.data_timeout = timeout;
        self
    }

    /// Sets how long the TLS handshake after STARTTLS may take.
    pub fn with_tls_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.tls_handshake_timeout = timeout;
        self
    }
}
