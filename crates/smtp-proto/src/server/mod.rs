//! The SMTP server session (RFC 5321, with PIPELINING, CHUNKING, STARTTLS, AUTH, LMTP) as a
//! sans-IO state machine: bytes in, [`Event`]s out, replies out.
//!
//! The machine answers protocol hygiene itself (syntax, sequence, unknown commands, limits,
//! parameters that were not advertised) and hands the application only real decisions: this
//! sender? this recipient? these credentials? this message? A decision holds back every later
//! event until it is answered, so pipelined replies keep their order (RFC 2920).
//!
//! It keeps the session contract of ARCHITECTURE.md ([`mail_wire::session`]): `receive` only
//! buffers, and one loop of `match conn.poll()` drives everything:
//!
//! ```
//! use smtp_proto::server::{Config, Connection, Event};
//! use smtp_proto::{CloseReason, Next};
//!
//! let mut conn = Connection::new(Config::default());
//! // What the client sent, pipelined: in a real loop, each `Next::Read` reads the socket.
//! let mut input = vec![
//!     &b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n"[..],
//!     b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n",
//! ]
//! .into_iter();
//! let (mut body, mut wire) = (Vec::new(), Vec::new());
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => wire.extend_from_slice(&bytes), // write to the socket
//!         Next::Event(Event::MessageData(chunk)) => body.extend_from_slice(&chunk),
//!         Next::Event(Event::MessageEnd { .. }) => conn.accept_message("Q1").unwrap(),
//!         Next::Event(event) if event.is_decision() => conn.accept().unwrap(),
//!         Next::Event(_) => {}
//!         Next::Read(_wait) => match input.next() {
//!             Some(bytes) => conn.receive(bytes),
//!             None => conn.handle_close(), // end of stream
//!         },
//!         Next::UpgradeTls(_) => conn.handle_close(), // this loop speaks no TLS
//!         Next::AwaitApp => unreachable!("every decision was answered at once"),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! assert_eq!(reason, CloseReason::Quit);
//! assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
//! let wire = String::from_utf8(wire).unwrap();
//! assert!(wire.starts_with("220 localhost ESMTP\r\n250-localhost\r\n"));
//! assert!(wire.ends_with("354 Start mail input; end with <CRLF>.<CRLF>\r\n\
//!                         250 2.0.0 Message accepted, queued as Q1\r\n221 2.0.0 Bye\r\n"));
//! ```

mod answers;
mod auth;
mod commands;
mod config;
mod data;
mod event;
mod hello;

use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use mail_wire::Secret;
use mail_wire::dot::{BodyError, DotDecoder, DotEvent};
use mail_wire::line::{LineEnding, LineError, LineFramer};
use mail_wire::sasl::{self, SaslError, SaslResponse, ServerExchange, ServerStep};
use mail_wire::session::{CloseReason, DATA_BLOCK, Next, TlsMode, Wait};

pub use self::config::{Config, DEFAULT_MAX_BUFFERED_INPUT, Decisions, Extensions};
pub use self::event::{AbortReason, Event, HelloVerb, UsageError};
pub use mail_wire::dot::BareLineEnding;
pub use mail_wire::sasl::{Credentials, OAuth2Credentials, PasswordCredentials};

use crate::address::{Domain, ForwardPath, ReversePath};
use crate::auth::{Mechanism, SaslData};
use crate::capability::{Capabilities, Extension};
use crate::command::Command;
use crate::error::CommandError;
use crate::limits::{self, Limits};
use crate::octets::Octets;
use crate::options::ParseOptions;
use crate::params::{BodyType, MailParams, RcptParams};
use crate::reply::{Class, Code, EnhancedCode, Reply};

/// Longest queue id `accept_message` takes.
const MAX_QUEUE_ID: usize = 200;
/// Replies queued past which `poll` hands them out before it reads more pipelined commands,
/// so a client that pipelines without reading cannot grow the output without bound
/// (ARCHITECTURE.md security invariant 3).
const OUTPUT_HIGH_WATER: usize = 16 * 1024;

/// One SMTP (or LMTP) server connection. See the [module docs](self) and the session
/// contract: [`receive`](Self::receive) buffers, [`poll`](Self::poll) says what to do next,
/// decisions are answered with [`accept`](Self::accept), [`reject`](Self::reject) and the
/// other answers.
///
/// Its `Debug` shows the state, and of the buffers only their lengths: input may hold an AUTH
/// line (ARCHITECTURE.md security invariant 10).
pub struct Connection {
    config: Config,
    /// Received, not yet processed.
    input: BytesMut,
    /// Replies not yet handed to the adapter.
    out: BytesMut,
    framer: LineFramer,
    events: VecDeque<Event>,
    /// The decision waiting for the application; its event is the last one queued.
    pending: Option<Pending>,
    mode: Mode,
    session: Session,
    tx: Transaction,
    /// The 250 reply to EHLO/LHLO for the current TLS state, written once.
    ehlo_reply: Bytes,
    /// Command line limit in force (RFC 5321 base plus the extensions' room).
    command_line: usize,
    /// The identity of the current wait on the client (contract rule 3): it changes only when
    /// the wait is satisfied, never for bytes that complete nothing.
    wait: u64,
    /// Octets of message content taken since the current wait began (DATA and BDAT).
    block: usize,
    /// `receive` was given more than `max_buffered_input`: `poll` closes the session.
    overflow: bool,
    /// [`shutdown`](Self::shutdown) was asked for: the next command gets 421 4.3.2.
    shutting_down: bool,
    /// Why the session ended, once it did.
    closed: Option<CloseReason>,
}

/// What the input is read as.
#[derive(Debug)]
enum Mode {
    /// Command lines.
    Command,
    /// Answers in a SASL exchange (RFC 4954 section 4).
    Auth(AuthExchange),
    /// DATA content up to CRLF.CRLF.
    Data(DotDecoder),
    /// A BDAT chunk: `remaining` octets; `refusal` is the reply to send after draining it
    /// instead of accepting it.
    Chunk {
        remaining: u64,
        last: bool,
        refusal: Option<Refusal>,
    },
    /// 220 to STARTTLS queued; waiting for `tls_established`.
    TlsUpgrade,
    /// Nothing more is read.
    Closed,
}

/// Why a BDAT chunk is drained and refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// CHUNKING was not offered: 502.
    NotImplemented,
    /// No MAIL yet: 503.
    NeedMail,
    /// No accepted recipient: 554.
    NoRecipients,
    /// The message outgrew the size limit: 552.
    TooBig,
}

#[derive(Debug)]
enum AuthExchange {
    BuiltIn {
        mechanism: Mechanism,
        exchange: ServerExchange,
    },
    Relayed,
}

/// The decision the application owes.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Greeting,
    Hello(HelloVerb),
    StartTls,
    Authenticate,
    AuthRelay,
    Mail { smtputf8: bool, binary: bool },
    Rcpt,
    Vrfy,
    Expn,
    MessageEnd,
}

impl Pending {
    fn name(self) -> &'static str {
        match self {
            Pending::Greeting => "greeting",
            Pending::Hello(_) => "HELO/EHLO",
            Pending::StartTls => "STARTTLS",
            Pending::Authenticate | Pending::AuthRelay => "AUTH",
            Pending::Mail { .. } => "MAIL",
            Pending::Rcpt => "RCPT",
            Pending::Vrfy => "VRFY",
            Pending::Expn => "EXPN",
            Pending::MessageEnd => "end of message",
        }
    }
}

/// What the session knows beyond one transaction.
#[derive(Debug, Default)]
struct Session {
    greeted: Option<HelloVerb>,
    secure: bool,
    authenticated: bool,
    /// The greeting was refused with 554: only QUIT is served (RFC 5321 section 3.1).
    refused: bool,
    errors: u32,
}

/// One mail transaction (RFC 5321 section 3.3).
#[derive(Debug, Default)]
struct Transaction {
    /// MAIL was accepted.
    mail: bool,
    smtputf8: bool,
    binary: bool,
    recipients: usize,
    /// BDAT chunks of the message have been taken.
    chunking: bool,
    /// Octets of content taken by BDAT so far.
    chunked_size: u64,
    /// MessageAborted was queued for the message in progress.
    aborted: bool,
}

/// Which error counts against the error budget (see [`Connection::count_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The client broke the protocol.
    Protocol,
    /// The application refused the client's credentials.
    Login,
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
            .field("input", &Octets(self.input.len()))
            .field("out", &Octets(self.out.len()))
            .field("events", &self.events)
            .field("pending", &self.pending)
            .field("mode", &self.mode)
            .field("session", &self.session)
            .field("tx", &self.tx)
            .field("wait", &self.wait)
            .field("block", &self.block)
            .field("overflow", &self.overflow)
            .field("shutting_down", &self.shutting_down)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection that just opened: the greeting is queued (or, with
    /// [`Decisions::greeting`], [`Event::Connected`] waits for the application).
    pub fn new(config: Config) -> Self {
        let secure = config.tls == TlsMode::Implicit;
        let ext = config.extensions;
        let auth = !config.sasl_mechanisms.is_empty();
        let command_line = config.limits.command_line.max(Limits::command_line_for(
            ext.size,
            ext.dsn,
            auth,
            ext.smtputf8,
        ));
        let line_limit = command_line.max(config.limits.auth_line);
        let ending = if config.leniency.bare_lf {
            LineEnding::CrlfOrBareLf
        } else {
            LineEnding::Crlf
        };
        let mut conn = Connection {
            input: BytesMut::new(),
            out: BytesMut::new(),
            framer: LineFramer::new(line_limit).with_line_ending(ending),
            events: VecDeque::new(),
            pending: None,
            mode: Mode::Command,
            session: Session {
                secure,
                ..Session::default()
            },
            tx: Transaction::default(),
            ehlo_reply: Bytes::new(),
            command_line,
            wait: 0,
            block: 0,
            overflow: false,
            shutting_down: false,
            closed: None,
            config,
        };
        conn.ehlo_reply = conn.build_ehlo_reply();
        if conn.config.decisions.greeting {
            conn.decide(Event::Connected, Pending::Greeting);
        } else {
            conn.write_greeting();
        }
        conn
    }

    /// Buffers bytes from the client (any split); they are processed in [`poll`](Self::poll).
    /// Never fails. Past [`Config::max_buffered_input`] of unprocessed input (an adapter that
    /// reads without polling) the overflow is noted and `poll` answers 421 and closes
    /// (ARCHITECTURE.md security invariant 3). Bytes received during a TLS upgrade are plain
    /// text the upgrade discards anyway (CVE-2011-0411): dropped at once. Ignored once the
    /// session is closed.
    pub fn receive(&mut self, bytes: &[u8]) {
        if self.closed.is_some()
            || self.overflow
            || bytes.is_empty()
            || matches!(self.mode, Mode::TlsUpgrade)
        {
            return;
        }
        if self.input.len().saturating_add(bytes.len()) > self.config.max_buffered_input {
            self.overflow = true;
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Advances the machine and says what to do next (ARCHITECTURE.md, "The session
    /// contract"): an event queued first; otherwise the buffered input is processed up to
    /// the next event (or until enough replies are queued), then that event; then every
    /// queued reply in one [`Next::Transmit`]; then [`Next::Closed`] once the session is over
    /// (every later call says the same); [`Next::AwaitApp`] while a decision is unanswered;
    /// [`Next::UpgradeTls`] after the 220 to STARTTLS; otherwise [`Next::Read`], with the
    /// command timeout, or the data timeout inside a message (RFC 5321 section 4.5.3.2).
    pub fn poll(&mut self) -> Next<Event> {
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        if self.overflow && self.closed.is_none() {
            self.overflow = false;
            self.input.clear();
            self.reply_and_close(
                &Reply::too_much_input(),
                AbortReason::SessionClosed,
                CloseReason::InputOverflow,
            );
        }
        self.advance();
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        if !self.out.is_empty() {
            return Next::Transmit(self.out.split().freeze());
        }
        if let Some(reason) = self.closed {
            return Next::Closed(reason);
        }
        if self.pending.is_some() {
            return Next::AwaitApp;
        }
        match self.mode {
            Mode::TlsUpgrade => {
                Next::UpgradeTls(Wait::new(self.wait, self.config.tls_handshake_timeout))
            }
            Mode::Data(_) | Mode::Chunk { .. } => {
                Next::Read(Wait::new(self.wait, self.config.data_timeout))
            }
            Mode::Command | Mode::Auth(_) | Mode::Closed => {
                Next::Read(Wait::new(self.wait, self.config.command_timeout))
            }
        }
    }

    /// The deadline of the wait that [`poll`](Self::poll) gave passed: 421 4.4.2 (RFC 5321
    /// section 4.5.3.2), a message in progress is aborted, and the session closes with
    /// [`CloseReason::Timeout`]. During a TLS handshake nothing can be said in plain text: the
    /// session just closes. Ignored unless the machine waits on the client.
    pub fn handle_timeout(&mut self) {
        if !self.waits_on_client() {
            return;
        }
        if matches!(self.mode, Mode::TlsUpgrade) {
            self.abort_message(AbortReason::Timeout);
            self.close(CloseReason::Timeout);
            return;
        }
        self.reply_and_close(
            &Reply::timeout(),
            AbortReason::Timeout,
            CloseReason::Timeout,
        );
    }

    /// The client closed the connection, the socket failed, or the TLS handshake failed: a
    /// message in progress, or one waiting for its end-of-data answer, is aborted (never
    /// delivered: the client never got a 250, so it will send it again; ARCHITECTURE.md
    /// security invariant 5). Nothing more is sent; the session closes with
    /// [`CloseReason::ConnectionLost`] (or keeps the reason it already closed for).
    pub fn handle_close(&mut self) {
        self.out.clear();
        if self.closed.is_some() {
            return;
        }
        self.abort_message(AbortReason::ConnectionLost);
        self.close(CloseReason::ConnectionLost);
    }

    /// The session goes idle (the adapter's read would block; ARCHITECTURE.md, "The session
    /// contract", rule 6): the capacity of the empty buffers (input, output, event queue) is
    /// given back, so an idle session holds almost no heap; the next bytes allocate again.
    /// Within a burst the buffers are reused, so call this only when the socket has nothing to
    /// read, not at every [`Next::Read`]. Nothing the peer or the application can see changes.
    pub fn release_idle_buffers(&mut self) {
        // Replacing (not `clear`): a `BytesMut` keeps its allocation, shared with the `Bytes`
        // it handed out, for as long as it lives.
        if self.input.is_empty() {
            self.input = BytesMut::new();
        }
        if self.out.is_empty() {
            self.out = BytesMut::new();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// The TLS handshake that [`Next::UpgradeTls`] asked for is done. Every byte received
    /// before it and not yet processed is discarded (CVE-2011-0411, ARCHITECTURE.md security
    /// invariant 2), and the session forgets EHLO, AUTH and the transaction (RFC 3207 section
    /// 4.2). Refused, changing nothing, when no upgrade is pending.
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if !matches!(self.mode, Mode::TlsUpgrade) {
            return Err(UsageError::NoTlsUpgrade);
        }
        self.input.clear();
        self.framer.reset();
        self.overflow = false;
        self.session.greeted = None;
        self.session.authenticated = false;
        self.session.secure = true;
        self.reset_transaction();
        self.mode = Mode::Command;
        self.ehlo_reply = self.build_ehlo_reply();
        self.next_wait();
        Ok(())
    }

    /// Ends the session gracefully (a server shutting down). At once when no transaction is
    /// open and nothing is half-received: 421 4.3.2 "Service shutting down" and
    /// [`CloseReason::Shutdown`]. Otherwise the transaction in progress runs to its end (the
    /// answer to its end of data, or RSET), and the next command gets that 421 instead of
    /// being served (RFC 5321 section 3.8: a server closes only after a 421).
    pub fn shutdown(&mut self) {
        if self.closed.is_some() || self.shutting_down {
            return;
        }
        self.shutting_down = true;
        let idle = matches!(self.mode, Mode::Command)
            && self.pending.is_none()
            && !self.tx.mail
            && self.input.is_empty()
            && !self.framer.is_skipping();
        if idle {
            self.shut_down_now();
        }
    }

    /// Whether the session is over and everything was handed out: `poll` says
    /// [`Next::Closed`].
    pub fn is_closed(&self) -> bool {
        self.closed.is_some() && self.out.is_empty() && self.events.is_empty()
    }

    /// Why the session ended, once it did (the reason `poll` gives with [`Next::Closed`]).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Octets received and not yet processed (bounded by [`Config::max_buffered_input`]).
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Octets of replies queued for the next [`Next::Transmit`].
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// Whether the session runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.session.secure
    }

    /// Whether the client authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.session.authenticated
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the machine waits on the client now (what `poll` says is a read or a TLS
    /// handshake): the only time a timeout means anything.
    fn waits_on_client(&self) -> bool {
        self.closed.is_none()
            && self.pending.is_none()
            && self.events.is_empty()
            && self.out.is_empty()
    }

    /// The current wait is satisfied: the next one gets a deadline of its own.
    fn next_wait(&mut self) {
        self.wait = self.wait.wrapping_add(1);
        self.block = 0;
    }

    /// Message content taken: every [`DATA_BLOCK`] of it satisfies the wait for it (RFC 5321
    /// section 4.5.3.2.5 times data per block, not per message).
    fn took_content(&mut self, octets: usize) {
        self.block = self.block.saturating_add(octets);
        if self.block >= DATA_BLOCK {
            self.next_wait();
        }
    }

    fn shut_down_now(&mut self) {
        self.reply_and_close(
            &Reply::shutting_down(),
            AbortReason::SessionClosed,
            CloseReason::Shutdown,
        );
    }

    fn decide(&mut self, event: Event, pending: Pending) {
        self.events.push_back(event);
        self.pending = Some(pending);
    }

    /// [`TlsMode::Required`] and no TLS yet: MAIL and AUTH wait for STARTTLS.
    fn tls_missing(&self) -> bool {
        self.config.tls == TlsMode::Required && !self.session.secure
    }

    /// ARCHITECTURE.md security invariant 7: PLAIN and LOGIN only over TLS, unless configured.
    fn auth_allowed(&self, mechanism: &Mechanism) -> bool {
        !mechanism.is_plaintext()
            || self.session.secure
            || self.config.allow_plaintext_auth_without_tls
    }

    fn write_challenge(&mut self, challenge: &[u8]) {
        self.out.extend_from_slice(b"334 ");
        self.out
            .extend_from_slice(sasl::encode_base64(challenge).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn enhanced(&self) -> bool {
        self.config.extensions.enhanced_status_codes
    }

    /// Writes a reply. A 421 (the application's, in `reject` or an LMTP answer) closes the
    /// session: RFC 5321 section 3.8, the server closes the channel after it.
    fn send_reply(&mut self, reply: &Reply) {
        if reply.code().get() == 421 {
            return self.reply_and_close(
                reply,
                AbortReason::SessionClosed,
                CloseReason::ServiceClosing,
            );
        }
        let enhanced = self.enhanced();
        reply.write_with(&mut self.out, enhanced);
    }

    /// Ends the session with a closing reply: the message in progress is aborted first (the
    /// application hears of it before the client hears the reply).
    fn reply_and_close(&mut self, reply: &Reply, abort: AbortReason, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.abort_message(abort);
        let enhanced = self.enhanced();
        reply.write_with(&mut self.out, enhanced);
        self.close(reason);
    }

    /// A reply to something the client got wrong: counts against the session's error budget.
    fn protocol_error(&mut self, reply: &Reply) {
        self.send_reply(reply);
        self.count_error(Fault::Protocol);
    }

    /// One more error against [`Config::max_errors`]; the one that reaches it is followed by
    /// 421 4.7.0 and the end of the session, closed for too many failed logins when that one
    /// was a refused login.
    fn count_error(&mut self, fault: Fault) {
        self.session.errors = self.session.errors.saturating_add(1);
        if self.session.errors >= self.config.max_errors {
            let reason = match fault {
                Fault::Protocol => CloseReason::TooManyErrors,
                Fault::Login => CloseReason::TooManyFailedLogins,
            };
            self.reply_and_close(
                &Reply::too_many_errors(),
                AbortReason::SessionClosed,
                reason,
            );
        }
    }

    fn quit(&mut self) {
        self.reset_transaction();
        self.send_reply(&Reply::closing());
        self.close(CloseReason::Quit);
    }

    /// RSET, HELO/EHLO: the transaction is dropped (a BDAT message in progress is aborted).
    fn reset_transaction(&mut self) {
        if self.tx.chunking && !self.tx.aborted {
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::Reset,
            });
        }
        self.tx = Transaction::default();
    }

    /// Aborts a message in progress (DATA, BDAT chunks, or waiting for its end-of-data
    /// answer); drops any pending decision.
    fn abort_message(&mut self, reason: AbortReason) {
        let in_data = matches!(self.mode, Mode::Data(_) | Mode::Chunk { .. })
            && !matches!(
                self.mode,
                Mode::Chunk {
                    refusal: Some(
                        Refusal::NotImplemented | Refusal::NeedMail | Refusal::NoRecipients
                    ),
                    ..
                }
            );
        let awaiting_end = matches!(self.pending, Some(Pending::MessageEnd));
        if (in_data || self.tx.chunking || awaiting_end) && !self.tx.aborted {
            self.tx.aborted = true;
            self.events.push_back(Event::MessageAborted { reason });
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.closed = Some(reason);
        self.pending = None;
        self.mode = Mode::Closed;
        self.input.clear();
        self.framer.reset();
        // Decisions not yet delivered are moot; the informational events before them stay.
        self.events.retain(|event| !event.is_decision());
    }
}

/// Every line of `reply` fits the 512-octet reply line (RFC 5321 section 4.5.3.1.5).
fn check_reply_length(reply: &Reply) -> Result<(), UsageError> {
    // code, separator, enhanced code (at most "5.999.999") and its space, CRLF.
    const OVERHEAD: usize = 4 + 10 + 2;
    if reply
        .lines()
        .all(|line| line.len() + OVERHEAD <= limits::REPLY_LINE)
    {
        Ok(())
    } else {
        Err(UsageError::ReplyTooLong)
    }
}
