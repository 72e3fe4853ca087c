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

mod config;
mod event;

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

/// Events queued at once at most: a decision, plus what a call like `handle_close` adds.
const EVENT_QUEUE: usize = 4;
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
            input: BytesMut::with_capacity(4096),
            out: BytesMut::with_capacity(1024),
            framer: LineFramer::new(line_limit).with_line_ending(ending),
            events: VecDeque::with_capacity(EVENT_QUEUE),
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

    // ---------------------------------------------------------------- answers

    /// Accepts the pending decision with its usual reply: 220 greeting, 250 to HELO/EHLO
    /// (capabilities), 220 to STARTTLS, 235 to AUTH, 250 2.1.0 to MAIL, 250 2.1.5 to RCPT,
    /// 252 to VRFY/EXPN, 250 2.0.0 to the end of a message (each recipient in LMTP).
    pub fn accept(&mut self) -> Result<(), UsageError> {
        let pending = self.take_pending()?;
        self.accepted(pending, None);
        Ok(())
    }

    /// Accepts the pending decision with this 2yz reply instead of the usual one.
    pub fn accept_with(&mut self, reply: Reply) -> Result<(), UsageError> {
        self.check_pending()?;
        if reply.code().class() != Class::PositiveCompletion {
            return Err(UsageError::NotPositive);
        }
        check_reply_length(&reply)?;
        let pending = self.take_pending()?;
        self.accepted(pending, Some(&reply));
        Ok(())
    }

    /// Accepts the message that [`Event::MessageEnd`] announced: `250 2.0.0 Message accepted,
    /// queued as <queue_id>` (for each recipient in LMTP).
    pub fn accept_message(&mut self, queue_id: &str) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::MessageEnd) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        if queue_id.is_empty()
            || queue_id.len() > MAX_QUEUE_ID
            || !queue_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(UsageError::InvalidQueueId);
        }
        self.answered();
        let enhanced = self.enhanced();
        for _ in 0..self.replies_at_end() {
            Reply::write_line(
                &mut self.out,
                Code::OK,
                enhanced.then_some(EnhancedCode::OK),
                &[b"Message accepted, queued as ", queue_id.as_bytes()],
            );
        }
        self.tx = Transaction::default();
        Ok(())
    }

    /// Refuses the pending decision with this 4yz or 5yz reply. A 421 closes the connection
    /// ([`CloseReason::ServiceClosing`], RFC 5321 section 3.8). A refused login counts
    /// against [`Config::max_errors`].
    pub fn reject(&mut self, reply: Reply) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !reply.code().is_negative() {
            return Err(UsageError::NotNegative);
        }
        check_reply_length(&reply)?;
        self.answered();
        match pending {
            Pending::MessageEnd => {
                for _ in 0..self.replies_at_end() {
                    self.send_reply(&reply);
                }
                self.tx = Transaction::default();
                return Ok(());
            }
            Pending::Greeting => self.session.refused = true,
            Pending::Authenticate | Pending::AuthRelay => {
                self.send_reply(&reply);
                self.count_error(Fault::Login);
                return Ok(());
            }
            _ => {}
        }
        self.send_reply(&reply);
        Ok(())
    }

    /// LMTP: answers the end of a message with one reply per accepted recipient, in the order
    /// of their RCPT commands (RFC 2033 section 4.2).
    pub fn answer_recipients<I>(&mut self, replies: I) -> Result<(), UsageError>
    where
        I: IntoIterator<Item = Reply>,
        I::IntoIter: Clone,
    {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::MessageEnd) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        if !self.config.lmtp {
            return Err(UsageError::NotLmtp);
        }
        let replies = replies.into_iter();
        let mut got = 0;
        for reply in replies.clone() {
            check_reply_length(&reply)?;
            if reply.code().class() == Class::PositiveIntermediate {
                return Err(UsageError::NotPositive);
            }
            got += 1;
        }
        if got != self.tx.recipients {
            return Err(UsageError::RecipientCount {
                expected: self.tx.recipients,
                got,
            });
        }
        self.answered();
        for reply in replies {
            self.send_reply(&reply);
        }
        self.tx = Transaction::default();
        Ok(())
    }

    /// Answers [`Event::AuthStart`] or [`Event::AuthResponse`] with a challenge (raw; the
    /// machine base64-encodes it into a 334 reply) and waits for the client's next line.
    pub fn sasl_challenge(&mut self, challenge: &[u8]) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::AuthRelay) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        // "334 " + base64 + CRLF must fit an AUTH line.
        if challenge.len().div_ceil(3) * 4 + 6 > self.config.limits.auth_line {
            return Err(UsageError::ChallengeTooLong);
        }
        self.answered();
        self.write_challenge(challenge);
        self.mode = Mode::Auth(AuthExchange::Relayed);
        Ok(())
    }

    fn check_pending(&self) -> Result<Pending, UsageError> {
        match self.pending {
            // The decision event is queued last: it is delivered once the queue is empty.
            Some(pending) if self.events.is_empty() => Ok(pending),
            _ => Err(UsageError::NoDecisionPending),
        }
    }

    fn take_pending(&mut self) -> Result<Pending, UsageError> {
        let pending = self.check_pending()?;
        self.answered();
        Ok(pending)
    }

    /// The application answered: the wait for its answer is over, and the client's turn is a
    /// new wait (contract rule 3).
    fn answered(&mut self) {
        self.pending = None;
        self.next_wait();
    }

    fn accepted(&mut self, pending: Pending, reply: Option<&Reply>) {
        let custom = |conn: &mut Connection, default: &Reply| {
            conn.send_reply(reply.unwrap_or(default));
        };
        match pending {
            Pending::Greeting => match reply {
                Some(reply) => self.send_reply(reply),
                None => self.write_greeting(),
            },
            Pending::Hello(verb) => {
                self.session.greeted = Some(verb);
                match reply {
                    Some(reply) => self.send_reply(reply),
                    None => self.write_hello(verb),
                }
            }
            Pending::StartTls => self.start_tls(reply),
            Pending::Authenticate | Pending::AuthRelay => {
                self.session.authenticated = true;
                custom(self, &Reply::auth_ok());
            }
            Pending::Mail { smtputf8, binary } => {
                self.tx = Transaction {
                    mail: true,
                    smtputf8,
                    binary,
                    ..Transaction::default()
                };
                custom(self, &Reply::sender_ok());
            }
            Pending::Rcpt => {
                self.tx.recipients += 1;
                custom(self, &Reply::recipient_ok());
            }
            Pending::Vrfy | Pending::Expn => custom(self, &Reply::cannot_verify()),
            Pending::MessageEnd => {
                for _ in 0..self.replies_at_end() {
                    custom(self, &Reply::message_accepted());
                }
                self.tx = Transaction::default();
            }
        }
    }

    /// Replies owed at the end of a message: one in SMTP, one per recipient in LMTP.
    fn replies_at_end(&self) -> usize {
        if self.config.lmtp {
            self.tx.recipients
        } else {
            1
        }
    }

    // ---------------------------------------------------------------- processing

    /// Processes buffered input until an event comes up, a decision is owed, enough replies
    /// are queued, or nothing more can be done with what arrived.
    fn advance(&mut self) {
        while self.events.is_empty() && self.pending.is_none() && self.out.len() < OUTPUT_HIGH_WATER
        {
            let progressed = match self.mode {
                Mode::Command => self.step_command(),
                Mode::Auth(_) => self.step_auth(),
                Mode::Data(_) => self.step_data(),
                Mode::Chunk { .. } => self.step_chunk(),
                Mode::TlsUpgrade | Mode::Closed => false,
            };
            if !progressed {
                break;
            }
        }
    }

    fn step_command(&mut self) -> bool {
        let Some(line) = self.framer.next_line(&mut self.input) else {
            return false;
        };
        // A whole line (or an overlong one, cut at the framing limit) satisfies the wait.
        self.next_wait();
        if self.shutting_down && !self.tx.mail {
            // The transaction that `shutdown` let finish is over: this command gets the 421.
            self.shut_down_now();
            return true;
        }
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                let reply = match error {
                    LineError::TooLong { .. } => Reply::line_too_long(),
                    LineError::BareLf => CommandError::ForbiddenByte(b'\n').reply(),
                    LineError::BareCr => CommandError::ForbiddenByte(b'\r').reply(),
                    LineError::Nul => CommandError::ForbiddenByte(0).reply(),
                };
                self.protocol_error(&reply);
                return true;
            }
        };
        let opts = ParseOptions {
            limits: Limits {
                command_line: self.command_line,
                ..self.config.limits
            },
            smtputf8: self.tx.smtputf8,
            leniency: self.config.leniency,
        };
        match Command::parse_line(line, &opts) {
            Ok(command) => self.on_command(command),
            Err(error) => self.protocol_error(&error.reply()),
        }
        true
    }

    fn on_command(&mut self, command: Command) {
        if self.session.refused {
            match command {
                Command::Quit => self.quit(),
                _ => self.protocol_error(&Reply::only_quit_accepted()),
            }
            return;
        }
        match command {
            Command::Helo(domain) => self.on_hello(HelloVerb::Helo, domain),
            Command::Ehlo(domain) => self.on_hello(HelloVerb::Ehlo, domain),
            Command::Lhlo(domain) => self.on_hello(HelloVerb::Lhlo, domain),
            Command::Mail { from, params } => self.on_mail(from, params),
            Command::Rcpt { to, params } => self.on_rcpt(to, params),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.send_reply(&Reply::ok());
            }
            Command::Vrfy(arg) => {
                if self.config.decisions.vrfy {
                    self.decide(Event::Vrfy(arg), Pending::Vrfy);
                } else {
                    self.send_reply(&Reply::cannot_verify());
                }
            }
            Command::Expn(arg) => {
                if self.config.decisions.expn {
                    self.decide(Event::Expn(arg), Pending::Expn);
                } else {
                    self.send_reply(&Reply::not_implemented());
                }
            }
            Command::Help(_) => self.send_reply(&Reply::help()),
            Command::Noop(_) => self.send_reply(&Reply::ok()),
            Command::Quit => self.quit(),
            Command::StartTls => self.on_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(mechanism, initial_response),
        }
    }

    fn on_hello(&mut self, verb: HelloVerb, domain: Domain) {
        if (verb == HelloVerb::Lhlo) != self.config.lmtp {
            self.protocol_error(&Reply::wrong_hello_verb());
            return;
        }
        // RFC 5321 section 4.1.4: EHLO/HELO in a session resets it like RSET.
        self.reset_transaction();
        if self.config.decisions.hello {
            self.decide(Event::Hello { verb, domain }, Pending::Hello(verb));
        } else {
            self.session.greeted = Some(verb);
            self.write_hello(verb);
        }
    }

    fn on_mail(&mut self, from: ReversePath, params: MailParams) {
        if self.session.greeted.is_none() {
            return self.protocol_error(&Reply::hello_first());
        }
        if self.tx.mail {
            return self.protocol_error(&Reply::sender_already_specified());
        }
        if self.tls_missing() {
            return self.send_reply(&Reply::starttls_required());
        }
        if self.config.require_auth && !self.session.authenticated {
            return self.send_reply(&Reply::auth_required());
        }
        if !self.mail_params_offered(&params) {
            return self.protocol_error(&Reply::unsupported_parameter());
        }
        let max = self.config.max_message_size;
        if max != 0 && params.size().is_some_and(|size| size > max) {
            return self.send_reply(&Reply::message_too_big());
        }
        let pending = Pending::Mail {
            smtputf8: params.smtputf8(),
            binary: params.body() == Some(BodyType::BinaryMime),
        };
        self.decide(Event::Mail { from, params }, pending);
    }

    /// Whether every MAIL parameter belongs to an advertised extension (RFC 5321 section
    /// 4.1.1.11: others get 555).
    fn mail_params_offered(&self, params: &MailParams) -> bool {
        let body_ok = match params.body() {
            None | Some(BodyType::SevenBit) => true,
            Some(BodyType::EightBitMime) => self.offers(Extension::EightBitMime),
            Some(BodyType::BinaryMime) => self.offers(Extension::BinaryMime),
        };
        body_ok
            && (params.size().is_none() || self.offers(Extension::Size))
            && (!params.smtputf8() || self.offers(Extension::SmtpUtf8))
            && (!params.requiretls() || self.offers(Extension::RequireTls))
            && (params.ret().is_none() && params.envid().is_none() || self.offers(Extension::Dsn))
            && (params.auth().is_none() || self.offers(Extension::Auth))
            && params.extensions().next().is_none()
    }

    fn on_rcpt(&mut self, to: ForwardPath, params: RcptParams) {
        if !self.tx.mail || self.tx.chunking {
            return self.protocol_error(&Reply::mail_first());
        }
        let dsn = params.notify().is_some() || params.orcpt().is_some();
        if dsn && !self.offers(Extension::Dsn) || params.extensions().next().is_some() {
            return self.protocol_error(&Reply::unsupported_parameter());
        }
        if self.tx.recipients >= self.config.max_recipients {
            return self.send_reply(&Reply::too_many_recipients());
        }
        self.decide(Event::Rcpt { to, params }, Pending::Rcpt);
    }

    fn on_data(&mut self) {
        if !self.tx.mail {
            return self.protocol_error(&Reply::mail_first());
        }
        if self.tx.chunking {
            return self.protocol_error(&Reply::data_after_bdat());
        }
        if self.tx.recipients == 0 {
            return self.send_reply(&Reply::no_valid_recipients());
        }
        if self.tx.binary {
            return self.protocol_error(&Reply::binarymime_requires_bdat());
        }
        let limit = match self.config.max_message_size {
            0 => u64::MAX,
            max => max,
        };
        self.send_reply(&Reply::start_data());
        self.mode = Mode::Data(
            DotDecoder::new()
                .with_size_limit(limit)
                .with_bare_line_ending(self.config.bare_line_ending),
        );
    }

    fn on_bdat(&mut self, size: u64, last: bool) {
        // The chunk follows the command whatever the answer: it is always read (and dropped
        // when refused), or the rest of it would be taken for commands (RFC 3030 section 2).
        let refusal = if !self.offers(Extension::Chunking) {
            Some(Refusal::NotImplemented)
        } else if !self.tx.mail {
            Some(Refusal::NeedMail)
        } else if self.tx.recipients == 0 {
            Some(Refusal::NoRecipients)
        } else {
            None
        };
        if refusal.is_none() {
            self.tx.chunking = true;
        }
        self.mode = Mode::Chunk {
            remaining: size,
            last,
            refusal,
        };
    }

    fn on_starttls(&mut self) {
        if self.session.secure {
            return self.protocol_error(&Reply::tls_already_active());
        }
        if !self.config.tls.upgrades() {
            return self.protocol_error(&Reply::not_implemented());
        }
        if self.config.decisions.starttls {
            self.decide(Event::StartTlsRequested, Pending::StartTls);
        } else {
            self.start_tls(None);
        }
    }

    fn start_tls(&mut self, reply: Option<&Reply>) {
        self.send_reply(reply.unwrap_or(&Reply::ready_to_start_tls()));
        if self.closed.is_some() {
            return;
        }
        // `poll` says UpgradeTls once the 220 is out; the handshake is a wait of its own.
        self.mode = Mode::TlsUpgrade;
        self.next_wait();
    }

    fn on_auth(&mut self, mechanism: Mechanism, initial: Option<SaslData>) {
        if !matches!(
            self.session.greeted,
            Some(HelloVerb::Ehlo | HelloVerb::Lhlo)
        ) {
            return self.protocol_error(&Reply::hello_first());
        }
        if self.session.authenticated {
            return self.protocol_error(&Reply::already_authenticated());
        }
        if self.tls_missing() {
            // TlsMode::Required: no login before TLS, whatever the mechanism (RFC 3207
            // section 4).
            return self.protocol_error(&Reply::starttls_required());
        }
        if self.tx.mail {
            return self.protocol_error(&Reply::auth_in_transaction());
        }
        if !self.config.sasl_mechanisms.contains(&mechanism) {
            return self.protocol_error(&Reply::unrecognized_auth_mechanism());
        }
        if !self.auth_allowed(&mechanism) {
            return self.protocol_error(&Reply::encryption_required_for_mechanism());
        }
        // RFC 4954 section 4: an empty initial response is sent as "=".
        let initial = initial.as_ref().map(|data| match data.as_bytes() {
            b"" => &b"="[..],
            text => text,
        });
        if mechanism.is_built_in() {
            match ServerExchange::start(mechanism, initial) {
                Ok((exchange, step)) => {
                    self.mode = Mode::Auth(AuthExchange::BuiltIn {
                        mechanism,
                        exchange,
                    });
                    self.on_sasl_step(mechanism, Ok(step));
                }
                Err(error) => self.on_sasl_step(mechanism, Err(error)),
            }
        } else {
            let initial_response = match initial.map(sasl::decode_response) {
                None => None,
                Some(Ok(SaslResponse::Data(data))) => Some(Secret::new(data)),
                Some(Ok(SaslResponse::Cancel)) | Some(Err(_)) => {
                    return self.protocol_error(&Reply::auth_bad_base64());
                }
            };
            self.decide(
                Event::AuthStart {
                    mechanism,
                    initial_response,
                },
                Pending::AuthRelay,
            );
        }
    }

    fn on_sasl_step(&mut self, mechanism: Mechanism, step: Result<ServerStep, SaslError>) {
        match step {
            Ok(ServerStep::Challenge(challenge)) => self.write_challenge(challenge),
            Ok(ServerStep::Done(credentials)) => {
                self.mode = Mode::Command;
                self.decide(
                    Event::Authenticate {
                        mechanism,
                        credentials,
                    },
                    Pending::Authenticate,
                );
            }
            Err(error) => {
                self.mode = Mode::Command;
                let reply = match error {
                    SaslError::Cancelled => Reply::auth_cancelled(),
                    SaslError::InvalidBase64 => Reply::auth_bad_base64(),
                    _ => Reply::auth_malformed(),
                };
                self.protocol_error(&reply);
            }
        }
    }

    fn step_auth(&mut self) -> bool {
        let Some(line) = self.framer.next_line(&mut self.input) else {
            return false;
        };
        self.next_wait();
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                self.mode = Mode::Command;
                match error {
                    LineError::TooLong { .. } => self.protocol_error(&Reply::auth_line_too_long()),
                    _ => self.protocol_error(&Reply::auth_bad_base64()),
                }
                return true;
            }
        };
        match core::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Auth(AuthExchange::BuiltIn {
                mechanism,
                mut exchange,
            }) => {
                let step = exchange.step(&line);
                if matches!(step, Ok(ServerStep::Challenge(_))) {
                    self.mode = Mode::Auth(AuthExchange::BuiltIn {
                        mechanism,
                        exchange,
                    });
                }
                self.on_sasl_step(mechanism, step);
            }
            Mode::Auth(AuthExchange::Relayed) => match sasl::decode_response(&line) {
                Ok(SaslResponse::Data(data)) => self.decide(
                    Event::AuthResponse {
                        response: Secret::new(data),
                    },
                    Pending::AuthRelay,
                ),
                Ok(SaslResponse::Cancel) => self.protocol_error(&Reply::auth_cancelled()),
                Err(_) => self.protocol_error(&Reply::auth_bad_base64()),
            },
            other => self.mode = other,
        }
        true
    }

    fn step_data(&mut self) -> bool {
        let Mode::Data(decoder) = &mut self.mode else {
            return false;
        };
        if decoder.is_ended() {
            let (error, size) = (decoder.error(), decoder.size());
            self.end_of_data(error, size);
            return true;
        }
        let before = self.input.len();
        let step = decoder.decode(&mut self.input);
        let refused = decoder.error();
        let taken = before - self.input.len();
        let mut aborted_now = false;
        if let Some(error) = refused {
            if !self.tx.aborted {
                self.tx.aborted = true;
                aborted_now = true;
                let reason = match error {
                    BodyError::TooLarge { .. } => AbortReason::TooLarge,
                    BodyError::BareLf | BodyError::BareCr => AbortReason::BareLineEnding,
                };
                self.events.push_back(Event::MessageAborted { reason });
            }
        }
        self.took_content(taken);
        match step {
            None => aborted_now,
            Some(DotEvent::Data(chunk)) => {
                if refused.is_none() {
                    self.events.push_back(Event::MessageData(chunk));
                }
                true
            }
            // The application hears of the abort before the client hears the reply, however
            // the input was split: the end is handled in the next step then.
            Some(DotEvent::End(_)) if aborted_now => true,
            Some(DotEvent::End(summary)) => {
                self.end_of_data(summary.error, summary.size);
                true
            }
        }
    }

    /// The terminating line of DATA was read.
    fn end_of_data(&mut self, error: Option<BodyError>, size: u64) {
        self.mode = Mode::Command;
        self.next_wait();
        match error {
            None => self.decide(
                Event::MessageEnd {
                    size,
                    recipients: self.tx.recipients,
                },
                Pending::MessageEnd,
            ),
            Some(BodyError::TooLarge { .. }) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::message_too_big());
            }
            Some(BodyError::BareLf | BodyError::BareCr) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::bare_line_ending());
            }
        }
    }

    fn step_chunk(&mut self) -> bool {
        let Mode::Chunk {
            remaining,
            last,
            refusal,
        } = self.mode
        else {
            return false;
        };
        if remaining > 0 {
            let take = remaining.min(self.input.len() as u64) as usize;
            if take == 0 {
                return false;
            }
            let piece = self.input.split_to(take).freeze();
            let remaining = remaining - take as u64;
            self.took_content(take);
            let mut refusal = refusal;
            if refusal.is_none() {
                self.tx.chunked_size += take as u64;
                let max = self.config.max_message_size;
                if max != 0 && self.tx.chunked_size > max {
                    self.tx.aborted = true;
                    self.events.push_back(Event::MessageAborted {
                        reason: AbortReason::TooLarge,
                    });
                    refusal = Some(Refusal::TooBig);
                } else {
                    self.events.push_back(Event::MessageData(piece));
                }
            }
            self.mode = Mode::Chunk {
                remaining,
                last,
                refusal,
            };
            // The chunk is answered in the next step, after the application saw its data.
            return true;
        }
        // The whole chunk arrived: the wait for it is satisfied.
        self.mode = Mode::Command;
        self.next_wait();
        match refusal {
            Some(Refusal::NotImplemented) => self.protocol_error(&Reply::not_implemented()),
            Some(Refusal::NeedMail) => self.protocol_error(&Reply::mail_first()),
            Some(Refusal::NoRecipients) => self.send_reply(&Reply::no_valid_recipients()),
            Some(Refusal::TooBig) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::message_too_big());
            }
            None if last => self.decide(
                Event::MessageEnd {
                    size: self.tx.chunked_size,
                    recipients: self.tx.recipients,
                },
                Pending::MessageEnd,
            ),
            None => self.send_reply(&Reply::chunk_received()),
        }
        true
    }

    // ---------------------------------------------------------------- helpers

    fn decide(&mut self, event: Event, pending: Pending) {
        self.events.push_back(event);
        self.pending = Some(pending);
    }

    /// Whether an extension was advertised in this session (after EHLO/LHLO, not HELO).
    fn offers(&self, extension: Extension) -> bool {
        matches!(
            self.session.greeted,
            Some(HelloVerb::Ehlo | HelloVerb::Lhlo)
        ) && self.advertises(extension)
    }

    /// Whether the EHLO reply lists an extension, in the current TLS state.
    fn advertises(&self, extension: Extension) -> bool {
        let ext = &self.config.extensions;
        match extension {
            Extension::Size => ext.size,
            Extension::Auth => {
                !self.tls_missing()
                    && self
                        .config
                        .sasl_mechanisms
                        .iter()
                        .any(|m| self.auth_allowed(m))
            }
            Extension::Pipelining => ext.pipelining,
            Extension::EightBitMime => ext.eight_bit_mime,
            Extension::SmtpUtf8 => ext.smtputf8,
            Extension::Chunking => ext.chunking,
            Extension::BinaryMime => ext.binary_mime && ext.chunking,
            Extension::Dsn => ext.dsn,
            Extension::EnhancedStatusCodes => ext.enhanced_status_codes,
            Extension::StartTls => self.config.tls.upgrades() && !self.session.secure,
            Extension::RequireTls => ext.requiretls && self.session.secure,
        }
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

    fn build_ehlo_reply(&self) -> Bytes {
        let mut capabilities = Capabilities::new(&self.config.hostname);
        if self.advertises(Extension::Size) {
            capabilities.set_size(self.config.max_message_size);
        }
        for extension in [
            Extension::Pipelining,
            Extension::EightBitMime,
            Extension::SmtpUtf8,
            Extension::Chunking,
            Extension::BinaryMime,
            Extension::Dsn,
            Extension::EnhancedStatusCodes,
            Extension::StartTls,
            Extension::RequireTls,
        ] {
            if self.advertises(extension) {
                capabilities.add(extension);
            }
        }
        if self.advertises(Extension::Auth) {
            let offered: alloc::vec::Vec<Mechanism> = self
                .config
                .sasl_mechanisms
                .iter()
                .filter(|m| self.auth_allowed(m))
                .copied()
                .collect();
            capabilities.set_auth(&offered);
        }
        let mut out = BytesMut::new();
        capabilities.to_reply().write_with(&mut out, false);
        out.freeze()
    }

    fn write_greeting(&mut self) {
        let greeting = if self.config.lmtp {
            Reply::lmtp_service_ready(&self.config.hostname)
        } else {
            Reply::service_ready(&self.config.hostname)
        };
        self.send_reply(&greeting);
    }

    fn write_hello(&mut self, verb: HelloVerb) {
        if verb == HelloVerb::Helo {
            self.out.extend_from_slice(b"250 ");
            self.out.extend_from_slice(self.config.hostname.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.out.extend_from_slice(&self.ehlo_reply);
        }
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
