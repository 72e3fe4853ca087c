//! The SMTP client session (RFC 5321, with STARTTLS, AUTH, PIPELINING, SIZE, 8BITMIME,
//! SMTPUTF8 and CHUNKING) as a sans-IO state machine: one [`Connection`] per TCP connection.
//!
//! It keeps the session contract of ARCHITECTURE.md ([`mail_wire::session`]): bytes from the
//! server go in with [`Connection::receive`], which only buffers; [`Connection::poll`] says
//! what to do next: write bytes, hand over an event, read (with a deadline), upgrade to TLS,
//! wait for the application, or close. The machine never touches a socket or a clock.
//!
//! The session runs by itself from the greeting to [`Event::Ready`]: EHLO (HELO when EHLO is
//! refused with 500 or 502), STARTTLS as [`Config::tls`] says, AUTH with the first configured
//! mechanism the server offers. Then the application sends any number of messages:
//! [`Connection::send_mail`] with an [`Envelope`], a body pushed in chunks after
//! [`Event::SendBody`] while [`Connection::wants_body`] says so, [`Connection::end_body`]
//! (or, for a body in memory, [`Connection::send_body`] once, with the size hint from
//! [`Envelope::with_size_of`]), and one transaction-ending event. [`Connection::quit`] ends the session.
//!
//! ```
//! use bytes::Bytes;
//! use smtp_proto::client::{Config, Connection, Envelope, Event};
//! use smtp_proto::{CloseReason, ForwardPath, Mailbox, Next, ReversePath, TlsMode};
//!
//! let config = Config::default().with_tls(TlsMode::Disabled);
//! let mut conn = Connection::new(config);
//! // The server's side, one read per `Next::Read`.
//! let mut server = vec![
//!     &b"220 mx.example ESMTP\r\n"[..],
//!     b"250-mx.example\r\n250 PIPELINING\r\n",
//!     b"250 OK\r\n250 OK\r\n354 Go ahead\r\n",
//!     b"250 2.0.0 Ok: queued as 4BX2\r\n",
//!     b"221 Bye\r\n",
//! ]
//! .into_iter();
//! let mut envelope = Some(Envelope::new(
//!     ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap()),
//!     vec![ForwardPath::Mailbox(Mailbox::parse("joe@example.org").unwrap())],
//! ));
//! let mut wire = Vec::new();
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => wire.extend_from_slice(&bytes), // write to the socket
//!         Next::Event(Event::SendBody) => {
//!             conn.send_body_chunk(Bytes::from_static(b"Subject: hi\n\n.dot\n")).unwrap();
//!             conn.end_body().unwrap();
//!         }
//!         Next::Event(Event::MessageAccepted(reply)) => {
//!             assert_eq!(reply.first_line(), b"Ok: queued as 4BX2");
//!             conn.quit().unwrap();
//!         }
//!         Next::Event(_) => {}
//!         // Idle: the application's next command (here: the one message).
//!         Next::AwaitApp => conn.send_mail(envelope.take().unwrap()).unwrap(),
//!         Next::Read(_wait) => match server.next() {
//!             Some(bytes) => conn.receive(bytes),
//!             None => conn.handle_close(),
//!         },
//!         Next::UpgradeTls(_) => unreachable!("TLS is disabled"),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! assert_eq!(reason, CloseReason::Quit);
//! // PIPELINING: MAIL, RCPT and DATA in one write; the body dot-stuffed, with CRLF.
//! assert_eq!(
//!     String::from_utf8(wire).unwrap(),
//!     "EHLO localhost\r\n\
//!      MAIL FROM:<jane@example.com>\r\nRCPT TO:<joe@example.org>\r\nDATA\r\n\
//!      Subject: hi\r\n\r\n..dot\r\n.\r\n\
//!      QUIT\r\n"
//! );
//! ```

mod config;
mod envelope;
mod error;
mod event;
mod reply_framer;
mod transaction;

pub use config::{Config, EhloName};
pub use envelope::Envelope;
pub use error::{Error, ProtocolViolation, SendMailError, UsageError};
pub use event::{Event, Failure};

use alloc::collections::VecDeque;
use core::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::dot::{CrlfNormalizer, DotEncoder};
use mail_wire::sasl::{self, ClientExchange, Credentials, Mechanism};
use mail_wire::session::{CloseReason, Next, TlsMode, Wait};

use crate::capability::{Capabilities, Extension};
use crate::command::Command;
use crate::octets::Octets;
use crate::reply::{Class, Reply};

use reply_framer::ReplyFramer;
use transaction::{BodyState, Transaction};

/// Unprocessed input held at most, beyond one whole reply (ARCHITECTURE.md security
/// invariant 3): an adapter that reads only when `poll` says `Read` never comes near it.
const INPUT_SLACK: usize = 64 * 1024;

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

    /// RFC 5321 section 4.5.3.2: how long the reply may take, as the config sets it.
    fn timeout(self, config: &Config) -> Duration {
        match self {
            Expect::Data => config.data_initiation_timeout,
            Expect::DataEnd | Expect::DataDiscard | Expect::Bdat { last: true } => {
                config.data_termination_timeout
            }
            Expect::Bdat { last: false } => config.data_block_timeout,
            _ => config.command_timeout,
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
///
/// Its `Debug` shows the state, and of the buffers only their lengths: output may hold an
/// AUTH line with credentials (ARCHITECTURE.md security invariant 10).
pub struct Connection {
    config: Config,
    phase: Phase,
    expects: VecDeque<Expect>,
    rx: BytesMut,
    framer: ReplyFramer,
    /// Commands and body being gathered into the next transmit.
    out: BytesMut,
    /// Transmits due before `out`: BDAT chunks, handed out whole without a copy, and the
    /// commands written before each.
    chunks: VecDeque<Bytes>,
    /// Octets in `chunks`.
    chunked: usize,
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
    /// The session failed and sent QUIT: it closes as [`CloseReason::Failed`].
    failed: bool,
    /// `receive` was given more than the machine holds: `poll` ends the session.
    overflow: bool,
    /// The identity of the current wait on the server (contract rule 3): it changes only when
    /// a whole reply arrived, the application acted or a TLS upgrade began or ended.
    wait: u64,
    /// Why the session ended, once it did.
    closed: Option<CloseReason>,
}

// The session contract (ARCHITECTURE.md, "The session contract"), delegated to the inherent
// methods. Written out rather than generated by a macro: were an inherent method missing, the
// call would resolve to the trait method itself, and only code in this crate gets the
// `unconditional_recursion` lint that catches it.
impl mail_wire::session::Session for Connection {
    type Event = Event;
    type UsageError = UsageError;

    fn receive(&mut self, bytes: &[u8]) {
        Connection::receive(self, bytes)
    }

    fn poll(&mut self) -> mail_wire::session::Next<Event> {
        Connection::poll(self)
    }

    fn handle_timeout(&mut self) {
        Connection::handle_timeout(self)
    }

    fn handle_close(&mut self) {
        Connection::handle_close(self)
    }

    fn tls_established(&mut self) -> Result<(), UsageError> {
        Connection::tls_established(self)
    }

    fn release_idle_buffers(&mut self) {
        Connection::release_idle_buffers(self)
    }
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("config", &self.config)
            .field("phase", &self.phase)
            .field("expects", &self.expects)
            .field("rx", &Octets(self.rx.len()))
            .field("out", &Octets(self.pending_transmit()))
            .field("events", &self.events)
            .field("capabilities", &self.capabilities)
            .field("secure", &self.secure)
            .field("sasl", &self.sasl)
            .field("txn", &self.txn)
            .field("staged", &Octets(self.body.staged.len()))
            .field("quit_requested", &self.quit_requested)
            .field("failed", &self.failed)
            .field("wait", &self.wait)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A session waiting for the server's greeting.
    pub fn new(config: Config) -> Connection {
        let secure = config.tls == TlsMode::Implicit;
        let mut expects = VecDeque::new();
        expects.push_back(Expect::Greeting);
        Connection {
            config,
            phase: Phase::Setup,
            expects,
            rx: BytesMut::new(),
            framer: ReplyFramer::new(),
            out: BytesMut::new(),
            chunks: VecDeque::new(),
            chunked: 0,
            events: VecDeque::new(),
            capabilities: None,
            secure,
            tls_refused: false,
            sasl: None,
            txn: None,
            body: BodyWriter::default(),
            pending_end: None,
            quit_requested: false,
            failed: false,
            overflow: false,
            wait: 0,
            closed: None,
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

    /// Buffers bytes from the server (any split); they are processed in [`poll`](Self::poll).
    /// Never fails: a malformed reply ends the session with [`Error::ProtocolViolation`].
    /// Bytes received while a TLS upgrade is pending are plain text that may be an
    /// attacker's: discarded (RFC 3207 section 4.2, CVE-2011-0411). Past the input bound
    /// (an adapter that reads without polling) the overflow is noted, and `poll` fails the
    /// session with [`ProtocolViolation::InputOverflow`].
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.closed.is_some() || self.overflow || self.phase == Phase::TlsHandshake {
            return;
        }
        let bound = INPUT_SLACK.saturating_add(
            self.config
                .limits
                .reply_line
                .saturating_mul(self.config.limits.reply_lines),
        );
        if self.rx.len().saturating_add(bytes.len()) > bound {
            self.overflow = true;
            return;
        }
        self.rx.extend_from_slice(bytes);
    }

    /// Advances the machine and says what to do next (ARCHITECTURE.md, "The session
    /// contract"): an event queued first; otherwise the buffered replies are processed up to
    /// the next event, then that event; then everything to write in one [`Next::Transmit`];
    /// then [`Next::Closed`] once the session is over (every later call says the same);
    /// [`Next::UpgradeTls`] after the 220 to STARTTLS; [`Next::AwaitApp`] when the session
    /// is idle ([`Event::Ready`] given, nothing in flight) or a body is to be pushed;
    /// otherwise [`Next::Read`], with the RFC 5321 section 4.5.3.2 timeout of the reply
    /// awaited.
    pub fn poll(&mut self) -> Next<Event> {
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        if self.overflow && self.closed.is_none() {
            self.overflow = false;
            self.fail(
                Error::ProtocolViolation(ProtocolViolation::InputOverflow),
                false,
            );
        }
        self.process();
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        if let Some(chunk) = self.chunks.pop_front() {
            self.chunked -= chunk.len();
            return Next::Transmit(chunk);
        }
        if !self.out.is_empty() {
            return Next::Transmit(self.out.split().freeze());
        }
        if let Some(reason) = self.closed {
            return Next::Closed(reason);
        }
        if self.phase == Phase::TlsHandshake {
            return Next::UpgradeTls(Wait::new(self.wait, self.config.tls_handshake_timeout));
        }
        if self.wants_body() {
            return Next::AwaitApp;
        }
        match self.expects.front() {
            Some(expect) => Next::Read(Wait::new(self.wait, expect.timeout(&self.config))),
            None => Next::AwaitApp,
        }
    }

    /// Octets queued for the next [`Next::Transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.out.len() + self.chunked
    }

    /// Queues `chunk` to go out after everything written so far, without copying it.
    fn push_chunk(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return; // `BDAT 0 LAST`: the command says it all.
        }
        if !self.out.is_empty() {
            let written = self.out.split().freeze();
            self.chunked += written.len();
            self.chunks.push_back(written);
        }
        self.chunked += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Drops everything not yet handed out (the connection is gone or failed).
    fn clear_output(&mut self) {
        self.out.clear();
        self.chunks.clear();
        self.chunked = 0;
    }

    /// The deadline of the wait that [`poll`](Self::poll) gave passed: the session fails with
    /// [`Error::Timeout`] and closes ([`CloseReason::Timeout`]) without writing more. Ignored
    /// unless the machine waits on the server (a reply, or the TLS handshake).
    pub fn handle_timeout(&mut self) {
        if self.waits_on_server() {
            self.fail(Error::Timeout, false);
        }
    }

    /// The server closed the connection, the socket failed, or the TLS handshake failed.
    /// Unless QUIT was sent, the session fails with [`Error::ConnectionLost`]; a message not
    /// yet accepted was not delivered.
    pub fn handle_close(&mut self) {
        if self.closed.is_some() {
            self.clear_output();
            return;
        }
        match self.phase {
            Phase::Quitting => {
                self.clear_output();
                let reason = self.quit_reason();
                self.close(reason);
            }
            _ => self.fail(Error::ConnectionLost, false),
        }
    }

    /// The session goes idle (the adapter's read would block; ARCHITECTURE.md, "The session
    /// contract", rule 6): the capacity of the empty buffers (input, output, event queue) is
    /// given back, so an idle session holds almost no heap; the next bytes allocate again.
    /// Within a burst the buffers are reused, so call this only when the socket has nothing to
    /// read, not at every [`Next::Read`]. Nothing the peer or the application can see changes.
    pub fn release_idle_buffers(&mut self) {
        // Replacing (not `clear`): a `BytesMut` keeps its allocation, shared with the `Bytes`
        // it handed out, for as long as it lives.
        if self.rx.is_empty() {
            self.rx = BytesMut::new();
        }
        if self.out.is_empty() {
            self.out = BytesMut::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// The TLS handshake that [`Next::UpgradeTls`] asked for is done: the session forgets
    /// what it knew (RFC 3207 section 4.2), discards unread plaintext (ARCHITECTURE.md
    /// security invariant 2) and sends EHLO again. Refused, changing nothing, unless an
    /// upgrade is pending: a session is never marked secure by mistake.
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if self.phase != Phase::TlsHandshake {
            return Err(UsageError::NoTlsUpgrade);
        }
        self.secure = true;
        self.rx.clear();
        self.framer.reset();
        self.capabilities = None;
        self.phase = Phase::Setup;
        self.next_wait();
        if self.quit_requested {
            self.send_quit();
        } else {
            self.send_ehlo();
        }
        Ok(())
    }

    /// Whether the session is over and everything was handed out: `poll` says
    /// [`Next::Closed`].
    pub fn is_closed(&self) -> bool {
        self.closed.is_some() && self.pending_transmit() == 0 && self.events.is_empty()
    }

    /// Why the session ended, once it did (the reason `poll` gives with [`Next::Closed`]).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Whether [`send_mail`](Self::send_mail) and [`reset`](Self::reset) can be called now.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready && self.expects.is_empty() && !self.quit_requested
    }

    /// Sends RSET (RFC 5321 section 4.1.1.5) between transactions; [`Event::Reset`] follows.
    pub fn reset(&mut self) -> Result<(), UsageError> {
        self.check_ready()?;
        self.pending_end = None;
        self.next_wait();
        self.write_command(&Command::Rset, Expect::Rset);
        Ok(())
    }

    /// Ends the session with QUIT (RFC 5321 section 4.1.1.10): at once when nothing is
    /// awaited, otherwise once the replies in flight are in (a transaction not yet at its body
    /// is abandoned). `poll` says [`Next::Closed`] with [`CloseReason::Quit`] after the
    /// server's reply.
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
        self.next_wait();
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

    /// Whether the machine waits on the server now (what `poll` says is a read or a TLS
    /// handshake): the only time a timeout means anything.
    fn waits_on_server(&self) -> bool {
        if self.closed.is_some() || !self.events.is_empty() || self.pending_transmit() != 0 {
            return false;
        }
        self.phase == Phase::TlsHandshake || (!self.wants_body() && !self.expects.is_empty())
    }

    /// The current wait is satisfied (a reply arrived, the application acted, a TLS upgrade
    /// began or ended): the next one gets a deadline of its own.
    fn next_wait(&mut self) {
        self.wait = self.wait.wrapping_add(1);
    }

    /// How the session ends once QUIT is answered (or the connection drops after it).
    fn quit_reason(&self) -> CloseReason {
        if self.failed {
            CloseReason::Failed
        } else {
            CloseReason::Quit
        }
    }

    /// Takes replies off the receive buffer and acts on them, until one gives an event.
    fn process(&mut self) {
        while self.events.is_empty() && !matches!(self.phase, Phase::Closed | Phase::TlsHandshake) {
            match self.framer.next_reply(&mut self.rx, &self.config.limits) {
                None => break,
                Some(Err(error)) => {
                    let violation = ProtocolViolation::Malformed(error);
                    self.fail(Error::ProtocolViolation(violation), false);
                }
                Some(Ok(reply)) => {
                    // A whole reply, multi-line or not, satisfies the wait for it.
                    self.next_wait();
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
                Error::ProtocolViolation(ProtocolViolation::Unsolicited(code)),
                false,
            );
        };
        if expect == Expect::Quit {
            // Whatever the server says to QUIT, the session is over.
            let reason = self.quit_reason();
            return self.close(reason);
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
            Expect::Quit => {
                let reason = self.quit_reason();
                self.close(reason);
            }
            Expect::Mail
            | Expect::Rcpt
            | Expect::Data
            | Expect::DataEnd
            | Expect::DataDiscard
            | Expect::Bdat { .. } => self.on_transaction_reply(expect, reply),
        }
    }

    fn unexpected(&mut self, expect: Expect, reply: &Reply) {
        let violation = ProtocolViolation::UnexpectedCode {
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

    /// STARTTLS as the TLS mode says (RFC 3207), then AUTH.
    fn after_hello(&mut self) {
        let wants_tls = self.config.tls.upgrades() && !self.secure && !self.tls_refused;
        if wants_tls {
            if self.has(Extension::StartTls) {
                return self.write_command(&Command::StartTls, Expect::StartTls);
            }
            if self.config.tls == TlsMode::Required {
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
            // `poll` says UpgradeTls once everything before it is written.
            self.phase = Phase::TlsHandshake;
            return;
        }
        match Failure::from_reply(reply.clone()) {
            Some(failure) if self.config.tls == TlsMode::Required => {
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
    /// before TLS unless the config allows it (ARCHITECTURE.md security invariant 7).
    fn start_auth(&mut self) {
        let Some(credentials) = &self.config.credentials else {
            return self.ready();
        };
        let mut blocked = false;
        let mut chosen = None;
        for &mechanism in &self.config.sasl_mechanisms {
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
        let mut exchange = match chosen.map(|m| ClientExchange::new(m, credentials.clone())) {
            Some(Ok(exchange)) => exchange,
            Some(Err(error)) => return self.fail(Error::UnusableCredentials(error), true),
            None if blocked => return self.fail(Error::PlaintextAuthRefused, true),
            None => return self.fail(Error::NoUsableMechanism, true),
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

    /// Ends the session on an error, told as [`Event::Failed`]: with QUIT when the
    /// connection is still in step (`quit`; it then closes as [`CloseReason::Failed`]),
    /// otherwise at once, dropping what was not yet written.
    fn fail(&mut self, error: Error, quit: bool) {
        if self.closed.is_some() {
            return;
        }
        if self.failed {
            // The failure was reported once, and its QUIT went wrong too (no answer, the
            // connection dropped, a bad reply): the session ends as that failure, with no
            // second `Failed`.
            self.clear_output();
            self.close(CloseReason::Failed);
            return;
        }
        let reason = match &error {
            Error::ServiceClosing(_) => CloseReason::ServiceClosing,
            Error::ProtocolViolation(ProtocolViolation::InputOverflow) => {
                CloseReason::InputOverflow
            }
            Error::ProtocolViolation(_) => CloseReason::ProtocolViolation,
            Error::Timeout => CloseReason::Timeout,
            Error::ConnectionLost => CloseReason::ConnectionLost,
            _ => CloseReason::Failed,
        };
        self.txn = None;
        self.sasl = None;
        self.pending_end = None;
        self.expects.clear();
        self.events.push_back(Event::Failed(error));
        if quit {
            self.failed = true;
            self.send_quit();
        } else {
            self.clear_output();
            self.close(reason);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.phase = Phase::Closed;
        self.expects.clear();
        self.rx.clear();
        self.framer.reset();
        self.txn = None;
    }
}
