//! The SMTP client session (RFC 5321, with STARTTLS, AUTH, PIPELINING, SIZE, 8BITMIME,
//! SMTPUTF8 and CHUNKING) as a sans-IO state machine: one [`Connection`] per TCP connection.
//!
//! Bytes from the server go in with [`Connection::receive`]; what happened comes out of
//! [`Connection::poll_event`]; what to write comes out of [`Connection::poll_transmit`]. The
//! machine never touches a socket or a clock: the adapter reads, writes, upgrades to TLS when
//! told ([`Event::UpgradeTls`]) and enforces [`Connection::timeout`].
//!
//! The session runs by itself from the greeting to [`Event::Ready`]: EHLO (HELO when EHLO is
//! refused with 500 or 502), STARTTLS as [`TlsPolicy`] says, AUTH with the first configured
//! mechanism the server offers. Then the application sends any number of messages:
//! [`Connection::send_mail`] with an [`Envelope`], a body pushed in chunks after
//! [`Event::SendBody`] while [`Connection::wants_body`] says so, [`Connection::end_body`], and
//! one transaction-ending event. [`Connection::quit`] ends the session.
//!
//! ```
//! use bytes::Bytes;
//! use smtp_proto::client::{Config, Connection, Envelope, Event};
//! use smtp_proto::{ForwardPath, Mailbox, ReversePath};
//!
//! let mut conn = Connection::new(Config::default());
//! conn.receive(b"220 mx.example ESMTP\r\n");
//! assert!(matches!(conn.poll_event(), Some(Event::Greeting(_))));
//! assert_eq!(conn.poll_transmit().unwrap(), "EHLO localhost\r\n");
//! conn.receive(b"250-mx.example\r\n250 PIPELINING\r\n");
//! assert!(matches!(conn.poll_event(), Some(Event::Capabilities(_))));
//! assert_eq!(conn.poll_event(), Some(Event::Ready));
//!
//! let to = ForwardPath::Mailbox(Mailbox::parse("joe@example.org").unwrap());
//! let from = ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap());
//! conn.send_mail(Envelope::new(from, vec![to])).unwrap();
//! // PIPELINING: MAIL, RCPT and DATA in one write.
//! assert_eq!(
//!     conn.poll_transmit().unwrap(),
//!     "MAIL FROM:<jane@example.com>\r\nRCPT TO:<joe@example.org>\r\nDATA\r\n"
//! );
//! conn.receive(b"250 OK\r\n250 OK\r\n354 Go ahead\r\n");
//! assert!(matches!(conn.poll_event(), Some(Event::RecipientAccepted { index: 0, .. })));
//! assert_eq!(conn.poll_event(), Some(Event::SendBody));
//! conn.send_body_chunk(Bytes::from_static(b"Subject: hi\n\n.dot\n")).unwrap();
//! conn.end_body().unwrap();
//! assert_eq!(conn.poll_transmit().unwrap(), "Subject: hi\r\n\r\n..dot\r\n.\r\n");
//! conn.receive(b"250 2.0.0 Ok: queued as 4BX2\r\n");
//! let Some(Event::MessageAccepted(reply)) = conn.poll_event() else { panic!() };
//! assert_eq!(reply.first_line(), b"Ok: queued as 4BX2");
//! ```

mod config;
mod envelope;
mod error;
mod event;
mod reply_framer;
mod transaction;

pub use config::{Config, EhloName, TlsPolicy};
pub use envelope::Envelope;
pub use error::{Error, SendMailError, UsageError, Violation};
pub use event::{Event, Failure};

use alloc::collections::VecDeque;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::dot::{CrlfNormalizer, DotEncoder};
use mail_wire::sasl::{self, ClientExchange, Credentials, Mechanism};

use crate::capability::{Capabilities, Extension};
use crate::command::Command;
use crate::reply::{Class, Reply};

use reply_framer::ReplyFramer;
use transaction::{BodyState, Transaction};

/// Replies are taken off the receive buffer while fewer events than this wait to be polled,
/// so the event queue stays bounded whatever the server sends.
const EVENT_QUEUE_BOUND: usize = 32;

/// Unconsumed input past which [`Connection::wants_input`] turns false.
const INPUT_SOFT_BOUND: usize = 64 * 1024;

/// RFC 5321 section 4.5.3.2: client timeouts.
mod timeouts {
    use core::time::Duration;
    /// Initial 220 message: 5 minutes (section 4.5.3.2.1); also used for the replies to
    /// EHLO, STARTTLS, AUTH, RSET and QUIT, for which the RFC names no value.
    pub(super) const COMMAND: Duration = Duration::from_secs(5 * 60);
    /// DATA initiation: 2 minutes (section 4.5.3.2.4).
    pub(super) const DATA_INITIATION: Duration = Duration::from_secs(2 * 60);
    /// Data block: 3 minutes per write of body data (section 4.5.3.2.5).
    pub(super) const DATA_BLOCK: Duration = Duration::from_secs(3 * 60);
    /// DATA termination: 10 minutes for the reply to the final `.` (section 4.5.3.2.6).
    pub(super) const DATA_TERMINATION: Duration = Duration::from_secs(10 * 60);
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Greeting, EHLO, STARTTLS, AUTH.
    Setup,
    /// STARTTLS accepted; waiting for [`Connection::tls_established`].
    TlsHandshake,
    /// Between transactions.
    Ready,
    /// A transaction is under way.
    Transaction,
    /// QUIT sent.
    Quitting,
    /// Over.
    Closed,
}

/// The reply the session waits for, in the order the commands went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    Data,
    /// The reply to the `.` after a body.
    DataEnd,
    /// The reply to the `.` sent to close a DATA the session did not want (RFC 2920 3.1).
    DataDiscard,
    Bdat {
        last: bool,
    },
    Rset,
    Quit,
}

impl Expect {
    fn command(self) -> &'static str {
        match self {
            Expect::Greeting => "connection",
            Expect::Ehlo => "EHLO",
            Expect::Helo => "HELO",
            Expect::StartTls => "STARTTLS",
            Expect::Auth => "AUTH",
            Expect::Mail => "MAIL",
            Expect::Rcpt => "RCPT",
            Expect::Data => "DATA",
            Expect::DataEnd | Expect::DataDiscard => "end of data",
            Expect::Bdat { .. } => "BDAT",
            Expect::Rset => "RSET",
            Expect::Quit => "QUIT",
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Expect::Data => timeouts::DATA_INITIATION,
            Expect::DataEnd | Expect::DataDiscard | Expect::Bdat { last: true } => {
                timeouts::DATA_TERMINATION
            }
            Expect::Bdat { last: false } => timeouts::DATA_BLOCK,
            _ => timeouts::COMMAND,
        }
    }
}

/// The body encoders, kept across transactions so their buffers are reused.
#[derive(Debug, Default)]
struct BodyWriter {
    dot: DotEncoder,
    crlf: CrlfNormalizer,
    /// BDAT data gathered until a chunk is full.
    staged: BytesMut,
}

/// One SMTP client session (see the [module docs](self)).
#[derive(Debug)]
pub struct Connection {
    config: Config,
    phase: Phase,
    expects: VecDeque<Expect>,
    rx: BytesMut,
    framer: ReplyFramer,
    /// Commands (and DATA body) being gathered into the next transmit.
    out: BytesMut,
    /// Transmits ready before `out` (BDAT chunks go here whole, without a copy).
    queue: VecDeque<Bytes>,
    /// Octets in `queue`.
    queued: usize,
    events: VecDeque<Event>,
    capabilities: Option<Capabilities>,
    /// TLS is in place (implicit, or after STARTTLS).
    secure: bool,
    /// Opportunistic STARTTLS was refused: go on in plaintext.
    tls_refused: bool,
    sasl: Option<ClientExchange>,
    txn: Option<Transaction>,
    body: BodyWriter,
    /// The event to report once the RSET ending a failed transaction is answered.
    pending_end: Option<Event>,
    quit_requested: bool,
}

// The sans-IO contract shared by every session machine (see `mail_wire::session`).
mail_wire::impl_session!(Connection, Event, UsageError);

impl Connection {
    /// A session waiting for the server's greeting.
    pub fn new(config: Config) -> Connection {
        let secure = config.tls == TlsPolicy::ImplicitTls;
        let mut expects = VecDeque::with_capacity(8);
        expects.push_back(Expect::Greeting);
        Connection {
            config,
            phase: Phase::Setup,
            expects,
            rx: BytesMut::new(),
            framer: ReplyFramer::new(),
            out: BytesMut::new(),
            queue: VecDeque::new(),
            queued: 0,
            events: VecDeque::with_capacity(8),
            capabilities: None,
            secure,
            tls_refused: false,
            sasl: None,
            txn: None,
            body: BodyWriter::default(),
            pending_end: None,
            quit_requested: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The server's extensions from its last EHLO reply (none before it, and after STARTTLS
    /// until the new EHLO reply).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.capabilities.as_ref()
    }

    /// Whether the connection is protected by TLS (implicit, or STARTTLS done).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Buffers bytes from the server (any split). Never fails: a malformed reply ends the
    /// session with [`Error::ProtocolViolation`]. Bytes received while a TLS upgrade is
    /// pending are discarded (RFC 3207 section 4.2).
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            return;
        }
        let hard_bound =
            INPUT_SOFT_BOUND + self.config.limits.reply_line * self.config.limits.reply_lines;
        if self.rx.len() + bytes.len() > hard_bound {
            self.fail(Error::ProtocolViolation(Violation::InputOverflow), false);
            return;
        }
        self.rx.extend_from_slice(bytes);
        self.process();
    }

    /// False while unprocessed input exceeds the bound (64 KiB): stop reading and poll
    /// events until it turns true. Past a hard bound the session fails.
    pub fn wants_input(&self) -> bool {
        self.phase != Phase::Closed && self.rx.len() < INPUT_SOFT_BOUND
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            self.process();
        }
        self.events.pop_front()
    }

    /// The next bytes to write to the server, in order. Pipelined commands come out as one
    /// transmit.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.process();
        if let Some(bytes) = self.queue.pop_front() {
            self.queued -= bytes.len();
            return Some(bytes);
        }
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    /// Octets waiting in [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.queued + self.out.len()
    }

    /// How long the adapter may wait for the server before calling
    /// [`handle_timeout`](Self::handle_timeout): the RFC 5321 section 4.5.3.2 client timeout
    /// for the reply awaited (5 minutes for the greeting, MAIL, RCPT and the other commands,
    /// 2 for DATA, 10 for the end of data), or 3 minutes per write while a body is being sent.
    /// `None` while nothing is awaited (between transactions, during a TLS handshake).
    pub fn timeout(&self) -> Option<Duration> {
        if matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            return None;
        }
        if let Some(expect) = self.expects.front() {
            return Some(expect.timeout());
        }
        match &self.txn {
            Some(txn) if matches!(txn.body, BodyState::Open | BodyState::Ending) => {
                Some(timeouts::DATA_BLOCK)
            }
            _ => None,
        }
    }

    /// The wait given by [`timeout`](Self::timeout) ran out: the session fails with
    /// [`Error::Timeout`] and closes without writing more.
    pub fn handle_timeout(&mut self) {
        if self.timeout().is_some() {
            self.fail(Error::Timeout, false);
        }
    }

    /// The server closed the connection, or the socket failed. Unless QUIT was answered or
    /// sent, the session fails with [`Error::ConnectionLost`]; a message not yet accepted
    /// was not delivered.
    pub fn handle_close(&mut self) {
        match self.phase {
            Phase::Closed => {}
            Phase::Quitting => self.close(),
            _ => self.fail(Error::ConnectionLost, false),
        }
    }

    /// The TLS handshake asked for by [`Event::UpgradeTls`] is done: the session forgets what
    /// it knew (RFC 3207 section 4.2), discards unread plaintext and sends EHLO again. Refused,
    /// changing nothing, unless an upgrade is pending: a session is never marked secure by
    /// mistake.
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if self.phase != Phase::TlsHandshake {
            return Err(UsageError::NotUpgrading);
        }
        self.secure = true;
        self.rx.clear();
        self.framer.reset();
        self.capabilities = None;
        self.phase = Phase::Setup;
        if self.quit_requested {
            self.send_quit();
        } else {
            self.send_ehlo();
        }
        Ok(())
    }

    /// Whether the session is over and everything to write was taken.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed && self.pending_transmit() == 0
    }

    /// Whether [`send_mail`](Self::send_mail) and [`reset`](Self::reset) can be called now.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready && self.expects.is_empty() && !self.quit_requested
    }

    /// Sends RSET (RFC 5321 section 4.1.1.5) between transactions; [`Event::Reset`] follows.
    pub fn reset(&mut self) -> Result<(), UsageError> {
        self.check_ready()?;
        self.pending_end = None;
        self.write_command(&Command::Rset, Expect::Rset);
        Ok(())
    }

    /// Ends the session with QUIT (RFC 5321 section 4.1.1.10): at once when nothing is
    /// awaited, otherwise once the replies in flight are in (a transaction not yet at its body
    /// is abandoned). [`Event::Closed`] follows the server's reply.
    pub fn quit(&mut self) -> Result<(), UsageError> {
        match self.phase {
            Phase::Closed => return Err(UsageError::Closed),
            Phase::Quitting => return Ok(()),
            _ => {}
        }
        if self.body_in_progress() {
            return Err(UsageError::BodyInProgress);
        }
        self.quit_requested = true;
        self.try_quit();
        Ok(())
    }

    fn check_ready(&self) -> Result<(), UsageError> {
        match self.phase {
            Phase::Closed | Phase::Quitting => Err(UsageError::Closed),
            _ if self.is_ready() => Ok(()),
            _ => Err(UsageError::NotReady),
        }
    }

    fn body_in_progress(&self) -> bool {
        self.txn
            .as_ref()
            .is_some_and(|txn| matches!(txn.body, BodyState::Open | BodyState::Ending))
    }

    /// Takes replies off the receive buffer and acts on them.
    fn process(&mut self) {
        while self.events.len() < EVENT_QUEUE_BOUND
            && !matches!(self.phase, Phase::Closed | Phase::TlsHandshake)
        {
            match self.framer.next_reply(&mut self.rx, &self.config.limits) {
                None => break,
                Some(Err(error)) => {
                    self.fail(Error::ProtocolViolation(Violation::Malformed(error)), false);
                }
                Some(Ok(reply)) => {
                    self.on_reply(reply);
                    self.try_quit();
                }
            }
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        let Some(expect) = self.expects.pop_front() else {
            if reply.code().get() == 421 {
                return self.fail(Error::ServiceClosing(reply), false);
            }
            let code = reply.code();
            return self.fail(
                Error::ProtocolViolation(Violation::Unsolicited(code)),
                false,
            );
        };
        if expect == Expect::Quit {
            // Whatever the server says to QUIT, the session is over.
            return self.close();
        }
        if reply.code().get() == 421 {
            // RFC 5321 section 3.8: the server is closing; nothing more may be sent.
            return self.fail(Error::ServiceClosing(reply), false);
        }
        match expect {
            Expect::Greeting => self.on_greeting(reply),
            Expect::Ehlo => self.on_ehlo(reply),
            Expect::Helo => self.on_helo(reply),
            Expect::StartTls => self.on_starttls(reply),
            Expect::Auth => self.on_auth(reply),
            Expect::Rset => self.on_rset(reply),
            Expect::Quit => self.close(),
            Expect::Mail
            | Expect::Rcpt
            | Expect::Data
            | Expect::DataEnd
            | Expect::DataDiscard
            | Expect::Bdat { .. } => self.on_transaction_reply(expect, reply),
        }
    }

    fn unexpected(&mut self, expect: Expect, reply: &Reply) {
        let violation = Violation::UnexpectedCode {
            command: expect.command(),
            code: reply.code(),
        };
        self.fail(Error::ProtocolViolation(violation), false);
    }

    /// RFC 5321 section 3.1: 220 to go on; 554 (or another negative code) to refuse, after
    /// which the client sends QUIT.
    fn on_greeting(&mut self, reply: Reply) {
        if reply.code().get() == 220 {
            self.events.push_back(Event::Greeting(reply));
            self.send_ehlo();
            return;
        }
        match Failure::from_reply(reply.clone()) {
            Some(failure) => self.fail(Error::GreetingRejected(failure), true),
            None => self.unexpected(Expect::Greeting, &reply),
        }
    }

    fn send_ehlo(&mut self) {
        let command = Command::Ehlo(self.config.ehlo_name.clone());
        self.write_command(&command, Expect::Ehlo);
    }

    /// RFC 5321 section 3.2: a server that does not know EHLO answers 500 or 502; the client
    /// then falls back to HELO.
    fn on_ehlo(&mut self, reply: Reply) {
        match reply.code().get() {
            250 => self.on_hello_ok(Expect::Ehlo, reply),
            500 | 502 => {
                let command = Command::Helo(self.config.ehlo_name.clone());
                self.write_command(&command, Expect::Helo);
            }
            _ => self.on_hello_refused(Expect::Ehlo, reply),
        }
    }

    fn on_helo(&mut self, reply: Reply) {
        if reply.code().get() == 250 {
            self.on_hello_ok(Expect::Helo, reply);
        } else {
            self.on_hello_refused(Expect::Helo, reply);
        }
    }

    fn on_hello_ok(&mut self, expect: Expect, reply: Reply) {
        match Capabilities::from_reply(&reply) {
            Ok(capabilities) => {
                self.capabilities = Some(capabilities.clone());
                self.events.push_back(Event::Capabilities(capabilities));
                self.after_hello();
            }
            Err(_) => self.unexpected(expect, &reply),
        }
    }

    fn on_hello_refused(&mut self, expect: Expect, reply: Reply) {
        match Failure::from_reply(reply.clone()) {
            Some(failure) => self.fail(Error::HelloRejected(failure), true),
            None => self.unexpected(expect, &reply),
        }
    }

    fn has(&self, extension: Extension) -> bool {
        self.capabilities
            .as_ref()
            .is_some_and(|capabilities| capabilities.has(extension))
    }

    /// STARTTLS as the policy says (RFC 3207), then AUTH.
    fn after_hello(&mut self) {
        let wants_tls = matches!(
            self.config.tls,
            TlsPolicy::Opportunistic | TlsPolicy::Required
        ) && !self.secure
            && !self.tls_refused;
        if wants_tls {
            if self.has(Extension::StartTls) {
                return self.write_command(&Command::StartTls, Expect::StartTls);
            }
            if self.config.tls == TlsPolicy::Required {
                return self.fail(Error::TlsNotOffered, true);
            }
        }
        self.start_auth();
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code().get() == 220 {
            // Anything after the 220 was sent in plaintext and may be an attacker's: dropped
            // (RFC 3207 section 4.2, CVE-2011-0411).
            self.rx.clear();
            self.framer.reset();
            self.phase = Phase::TlsHandshake;
            self.events.push_back(Event::UpgradeTls);
            return;
        }
        match Failure::from_reply(reply.clone()) {
            Some(failure) if self.config.tls == TlsPolicy::Required => {
                self.fail(Error::TlsRejected(failure), true);
            }
            Some(_) => {
                self.tls_refused = true;
                self.start_auth();
            }
            None => self.unexpected(Expect::StartTls, &reply),
        }
    }

    /// AUTH (RFC 4954) with the first configured mechanism the server offers and the
    /// credentials fit; PLAIN, LOGIN and XOAUTH2 all carry reusable secrets, so none is used
    /// before TLS unless the config allows it (security invariant 7).
    fn start_auth(&mut self) {
        let Some(credentials) = &self.config.credentials else {
            return self.ready();
        };
        let mut blocked = false;
        let mut chosen = None;
        for &mechanism in &self.config.mechanisms {
            let fits = matches!(
                (mechanism, credentials),
                (
                    Mechanism::Plain | Mechanism::Login,
                    Credentials::Password(_)
                ) | (Mechanism::XOAuth2, Credentials::OAuth2(_))
            );
            let offered = self
                .capabilities
                .as_ref()
                .is_some_and(|capabilities| capabilities.supports_auth(&mechanism));
            if !fits || !offered {
                continue;
            }
            if !self.secure && !self.config.allow_plaintext_auth_without_tls {
                blocked = true;
                continue;
            }
            chosen = Some(mechanism);
            break;
        }
        let exchange = chosen.and_then(|m| ClientExchange::new(m, credentials.clone()).ok());
        let Some(mut exchange) = exchange else {
            let error = if blocked {
                Error::PlaintextAuthRefused
            } else {
                Error::NoUsableMechanism
            };
            return self.fail(error, true);
        };
        self.out.reserve(64);
        self.out.put_slice(b"AUTH ");
        self.out.put_slice(exchange.mechanism().as_str().as_bytes());
        if let Some(initial) = exchange.initial_response() {
            self.out.put_u8(b' ');
            let encoded = sasl::encode_initial_response(initial.expose());
            self.out.put_slice(encoded.as_bytes());
        }
        self.out.put_slice(b"\r\n");
        self.expects.push_back(Expect::Auth);
        self.sasl = Some(exchange);
    }

    fn on_auth(&mut self, reply: Reply) {
        match reply.code().class() {
            Class::PositiveCompletion => {
                self.sasl = None;
                self.events.push_back(Event::Authenticated(reply));
                self.ready();
            }
            Class::PositiveIntermediate if reply.code().get() == 334 => {
                let answer = self.sasl.as_mut().and_then(|exchange| {
                    let challenge = sasl::decode_base64(reply.first_line()).ok()?;
                    exchange.respond(&challenge).ok()
                });
                match answer {
                    Some(answer) => {
                        let encoded = sasl::encode_base64(answer.expose());
                        self.out.put_slice(encoded.as_bytes());
                        self.out.put_slice(b"\r\n");
                    }
                    // A challenge the mechanism cannot answer: cancel (RFC 4954 section 4);
                    // the server answers 501.
                    None => self.out.put_slice(b"*\r\n"),
                }
                self.expects.push_back(Expect::Auth);
            }
            Class::PositiveIntermediate => self.unexpected(Expect::Auth, &reply),
            Class::TransientNegative | Class::PermanentNegative => {
                self.sasl = None;
                if let Some(failure) = Failure::from_reply(reply) {
                    self.events.push_back(Event::AuthRejected(failure));
                }
                self.ready();
            }
        }
    }

    fn ready(&mut self) {
        self.phase = Phase::Ready;
        self.events.push_back(Event::Ready);
    }

    fn on_rset(&mut self, reply: Reply) {
        if !reply.code().is_positive() {
            return self.unexpected(Expect::Rset, &reply);
        }
        let event = self.pending_end.take().unwrap_or(Event::Reset);
        self.events.push_back(event);
    }

    /// Sends the QUIT the application asked for once nothing else is awaited.
    fn try_quit(&mut self) {
        let idle = self.expects.is_empty()
            && matches!(self.phase, Phase::Setup | Phase::Ready | Phase::Transaction)
            && !self.body_in_progress();
        if self.quit_requested && idle {
            self.txn = None;
            self.send_quit();
        }
    }

    fn send_quit(&mut self) {
        self.write_command(&Command::Quit, Expect::Quit);
        self.phase = Phase::Quitting;
    }

    fn write_command(&mut self, command: &Command, expect: Expect) {
        command.write(&mut self.out);
        self.expects.push_back(expect);
    }

    /// Queues `bytes` as a transmit of its own, after what `out` holds.
    fn push_transmit(&mut self, bytes: Bytes) {
        if !self.out.is_empty() {
            let gathered = self.out.split().freeze();
            self.queued += gathered.len();
            self.queue.push_back(gathered);
        }
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }

    /// Ends the session on an error: with QUIT when the connection is still in step
    /// (`quit`), otherwise at once, dropping what was not yet written.
    fn fail(&mut self, error: Error, quit: bool) {
        self.txn = None;
        self.sasl = None;
        self.pending_end = None;
        self.expects.clear();
        self.events.push_back(Event::Error(error));
        if quit {
            self.send_quit();
        } else {
            self.out.clear();
            self.queue.clear();
            self.queued = 0;
            self.close();
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.expects.clear();
        self.rx.clear();
        self.framer.reset();
        self.txn = None;
        self.events.push_back(Event::Closed);
    }
}
