//! The POP3 server session: a sans-IO state machine for one connection (RFC 1939, with
//! CAPA and PIPELINING from RFC 2449, STLS from RFC 2595, AUTH from RFC 5034, the response
//! codes of RFC 2449 and RFC 3206, and UTF8 from RFC 6856).
//!
//! The machine keeps the session contract of `mail_wire::session` (ARCHITECTURE.md, "The
//! session contract"): bytes from the client go into [`Connection::receive`], which only
//! buffers; [`Connection::poll`] advances the machine and says what to do next, as a
//! [`Next`]. The machine answers protocol hygiene itself (syntax, wrong state, limits) and
//! hands real decisions to the application as [`Event`]s: credentials, message content, the
//! commit at QUIT.
//!
//! ```
//! use pop3_proto::Next;
//! use pop3_proto::server::{Config, Connection, Event, Login, Maildrop};
//! use pop3_proto::{CloseReason, UniqueId};
//!
//! let config = Config::default().with_plaintext_auth_without_tls(true);
//! let mut conn = Connection::new(config);
//! // What the client sent, all at once (PIPELINING, RFC 2449 section 6.6).
//! let mut socket: &[u8] = b"USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n";
//!
//! let message = b"Subject: hi\r\n\r\n.a line with a dot\r\n";
//! let mut wire = Vec::new();
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => wire.extend_from_slice(&bytes), // write to the socket
//!         Next::Event(Event::Login(Login::UserPass { name, password })) => {
//!             assert_eq!((name.as_bytes(), password.expose()), (&b"alice"[..], &b"secret"[..]));
//!             let mut maildrop = Maildrop::new();
//!             maildrop.push(message.len() as u64, UniqueId::new("msg-1")?);
//!             conn.accept(maildrop)?;
//!         }
//!         Next::Event(Event::Retrieve(_)) => {
//!             conn.send_message_chunk(&message[..])?;
//!             conn.end_message()?;
//!         }
//!         Next::Event(Event::Commit { deleted }) => {
//!             assert_eq!(deleted.len(), 1); // remove it from the store here
//!             conn.commit_succeeded()?;
//!         }
//!         Next::Event(event) => assert!(!event.is_decision()),
//!         // Read from the socket, within `wait.timeout()`.
//!         Next::Read(_wait) => match core::mem::take(&mut socket) {
//!             [] => conn.handle_close(),
//!             bytes => conn.receive(bytes),
//!         },
//!         Next::UpgradeTls(_) | Next::AwaitApp => unreachable!("no STLS, every decision answered"),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! assert_eq!(reason, CloseReason::Quit);
//! let wire = String::from_utf8(wire)?;
//! assert!(wire.starts_with("+OK POP3 server ready\r\n+OK send PASS\r\n"));
//! assert!(wire.contains("+OK 1 35\r\n+OK 35 octets\r\nSubject: hi\r\n\r\n..a line with a dot\r\n.\r\n"));
//! assert!(wire.ends_with("+OK message 1 deleted\r\n+OK POP3 server signing off (maildrop empty)\r\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The driving loop
//!
//! One `match` on [`poll`](Connection::poll):
//!
//! | [`Next`] | the adapter |
//! |---|---|
//! | `Transmit(bytes)` | writes them |
//! | `Event(e)` | hands `e` to the application; a decision ([`Event::is_decision`]) is answered with [`accept`](Connection::accept), [`reject`](Connection::reject), [`sasl_challenge`](Connection::sasl_challenge), [`send_message_chunk`](Connection::send_message_chunk) and [`end_message`](Connection::end_message), [`message_unavailable`](Connection::message_unavailable), [`commit_succeeded`](Connection::commit_succeeded) or [`commit_failed`](Connection::commit_failed) |
//! | `Read(wait)` | reads, then [`receive`](Connection::receive); end of stream: [`handle_close`](Connection::handle_close); past the wait's deadline ([`Config::autologout`]): [`handle_timeout`](Connection::handle_timeout) |
//! | `UpgradeTls(wait)` | the `+OK` to STLS was transmitted: runs the TLS handshake (within [`Config::tls_handshake_timeout`]), then [`tls_established`](Connection::tls_established) |
//! | `AwaitApp` | a decision is unanswered (a message being streamed included): the application's turn |
//! | `Closed(reason)` | closes the socket; [`discarded_deletions`](Connection::discarded_deletions) says what was not deleted |
//!
//! When `poll` says `Read`, every complete command received was processed, so the loop
//! cannot stall on pipelined input. The [`Wait`]'s id changes only when a whole command line
//! was processed, a decision answered, or a TLS upgrade began or finished: a client
//! trickling a command one byte at a time does not move the autologout deadline
//! (ARCHITECTURE.md security invariant 9).
//!
//! [`shutdown`](Connection::shutdown) ends a session gracefully when the server stops.
//!
//! # Bounds
//!
//! Command lines are framed by `mail_wire::line::LineFramer` within the crate's
//! [`Limits`](crate::Limits); unprocessed input is bounded by
//! [`Config::max_pipelined_input`]; the machine stops taking commands while 64 KiB of
//! output wait to be transmitted, and writes LIST and UIDL listings in pieces of that size,
//! so a client cannot make it buffer without bound (ARCHITECTURE.md security invariant 3).
//! Message content is written as the application gives it: give it in chunks and transmit
//! what `poll` gives between them.

mod config;
mod event;
mod maildrop;
mod top;

use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use mail_wire::dot::DotEncoder;
use mail_wire::line::{LineEnding, LineError, LineFramer};
use mail_wire::sasl::{self, SaslError, SaslResponse, ServerExchange, ServerStep};
use mail_wire::session::{CloseReason, Next, TlsMode, Wait};

pub use config::Config;
pub use event::{ApopLogin, DeletedMessage, Event, Login, LoginRefusal, Retrieve, UsageError};
pub use mail_wire::Secret;
pub use mail_wire::sasl::{Credentials, OAuth2Credentials, PasswordCredentials};
pub use maildrop::Maildrop;

use crate::{
    Capability, Command, CommandError, ListingEntry, Mechanism, MsgNumber, Name, ScanListing, Stat,
    UidListing,
};
use mail_wire::decimal;
use top::TopCutter;

/// The machine stops taking commands while this much output waits to be transmitted, and
/// writes listings in pieces of about this size.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// The refusal of a login before STLS under [`TlsMode::Required`].
const TLS_REQUIRED: &[u8] = b"authentication needs TLS (use STLS)";

/// The session states of RFC 1939 section 3 (UPDATE is the commit decision at QUIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Authorization,
    Transaction,
}

/// An AUTH exchange in progress: the next line is a SASL response, not a command.
#[derive(Debug)]
enum SaslState {
    BuiltIn(ServerExchange, Mechanism),
    Relayed(Mechanism),
}

/// What the machine waits for besides the client's next command; nothing else is processed
/// meanwhile.
#[derive(Debug)]
enum Pending {
    None,
    Login,
    AuthStep(Mechanism),
    Retrieve {
        cutter: Option<TopCutter>,
        size: u64,
        started: bool,
    },
    Commit,
    /// STLS was accepted: the TLS handshake runs.
    Tls,
}

impl Pending {
    fn name(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Login => "a login",
            Self::AuthStep(_) => "an AUTH step",
            Self::Retrieve { .. } => "a message retrieval",
            Self::Commit => "a commit",
            Self::Tls => "a TLS upgrade",
        }
    }

    /// Whether the application owes an answer (a decision event was handed out).
    fn is_decision(&self) -> bool {
        !matches!(self, Self::None | Self::Tls)
    }
}

/// A LIST or UIDL listing being written.
#[derive(Debug, Clone, Copy)]
struct ListingCursor {
    unique_ids: bool,
    next: usize,
}

/// One POP3 server session (one connection), as a sans-IO state machine.
///
/// See the [module documentation](self) for the driving loop. Its `Debug` output shows the
/// session's state, never buffered input (which may hold a password or its base64 form:
/// ARCHITECTURE.md security invariant 10).
pub struct Connection {
    config: Config,
    phase: Phase,
    secure: bool,
    utf8: bool,
    /// The name from USER, valid for the PASS right after it.
    user: Option<Name>,
    sasl: Option<SaslState>,
    pending: Pending,
    maildrop: Maildrop,
    listing: Option<ListingCursor>,
    input: BytesMut,
    framer: LineFramer,
    /// The client sent more than the hard input cap: acted on in `poll`.
    overflow: bool,
    out: BytesMut,
    encoder: DotEncoder,
    events: VecDeque<Event>,
    bad_commands: u32,
    failed_logins: u32,
    committed: bool,
    /// The application asked for the session to end ([`Connection::shutdown`]).
    shutting_down: bool,
    /// The id of the current wait on the client (contract rule 3).
    wait: u64,
    /// Why the session ended, once it has; `poll` says so after every event and transmit.
    closed: Option<CloseReason>,
    discarded_deletions: u32,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase)
            .field("secure", &self.secure)
            .field("pending", &self.pending.name())
            .field("in_auth_exchange", &self.sasl.is_some())
            .field("messages", &self.maildrop.len())
            .field("marked", &self.maildrop.marked())
            .field("buffered_input", &self.input.len())
            .field("buffered_output", &self.out.len())
            .field("bad_commands", &self.bad_commands)
            .field("failed_logins", &self.failed_logins)
            .field("shutting_down", &self.shutting_down)
            .field("wait", &self.wait)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
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

impl Connection {
    /// A session that has just sent its greeting (RFC 1939 section 4): the `+OK` line is
    /// the first thing [`poll`](Self::poll) gives.
    pub fn new(config: Config) -> Self {
        let ending = if config.bare_lf_line_ending {
            LineEnding::CrlfOrBareLf
        } else {
            LineEnding::Crlf
        };
        let framer = LineFramer::new(config.limits.max_command_line()).with_line_ending(ending);
        let mut out = BytesMut::with_capacity(512);
        out.extend_from_slice(b"+OK");
        if !config.greeting.is_empty() {
            out.extend_from_slice(b" ");
            out.extend_from_slice(config.greeting.as_bytes());
        }
        if let Some(timestamp) = &config.apop_timestamp {
            out.extend_from_slice(b" ");
            out.extend_from_slice(timestamp.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Self {
            secure: config.tls.is_implicit(),
            config,
            phase: Phase::Authorization,
            utf8: false,
            user: None,
            sasl: None,
            pending: Pending::None,
            maildrop: Maildrop::new(),
            listing: None,
            input: BytesMut::new(),
            framer,
            overflow: false,
            out,
            encoder: DotEncoder::new(),
            events: VecDeque::new(),
            bad_commands: 0,
            failed_logins: 0,
            committed: false,
            shutting_down: false,
            wait: 0,
            closed: None,
            discarded_deletions: 0,
        }
    }

    /// Buffers bytes from the client, split anywhere. Only buffers: the machine acts on
    /// them in [`poll`](Self::poll).
    ///
    /// Never fails. Past the hard cap on unprocessed input (see
    /// [`Config::max_pipelined_input`]) the bytes are dropped and the next `poll` answers
    /// `-ERR` and ends the session with [`CloseReason::InputOverflow`] (ARCHITECTURE.md
    /// security invariant 3). Bytes received while a TLS upgrade runs are plaintext from
    /// before it and are dropped (RFC 2595 section 4, CVE-2011-0411); bytes after the end of
    /// the session are ignored.
    pub fn receive(&mut self, bytes: &[u8]) {
        if bytes.is_empty()
            || self.closed.is_some()
            || self.overflow
            || matches!(self.pending, Pending::Tls)
        {
            return;
        }
        if self.input.len().saturating_add(bytes.len()) > self.hard_input_cap() {
            self.overflow = true;
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    fn hard_input_cap(&self) -> usize {
        let limits = &self.config.limits;
        self.config
            .max_pipelined_input
            .saturating_mul(2)
            .saturating_add(limits.sasl_line.max(limits.max_command_line()))
    }

    /// Advances the session as far as it can go and says what the adapter does next: the
    /// next event, else the output to write, else the end, else what the machine waits for
    /// (see the [module documentation](self)).
    ///
    /// Buffered commands are processed until a decision is pending, 64 KiB of output wait, or
    /// no complete command is left: when this returns [`Next::Read`], none is.
    pub fn poll(&mut self) -> Next<Event> {
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
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
        match self.pending {
            Pending::None => Next::Read(Wait::new(self.wait, self.config.autologout)),
            Pending::Tls => {
                Next::UpgradeTls(Wait::new(self.wait, self.config.tls_handshake_timeout))
            }
            _ => Next::AwaitApp,
        }
    }

    /// Whether the machine waits on the client (the last `poll` said `Read` or
    /// `UpgradeTls`), as opposed to the application or nothing.
    fn waits_on_peer(&self) -> bool {
        self.closed.is_none()
            && self.events.is_empty()
            && self.out.is_empty()
            && self.listing.is_none()
            && !self.pending.is_decision()
    }

    /// The deadline of the wait that [`poll`](Self::poll) gave passed: the autologout timer
    /// of RFC 1939 section 3, or the TLS handshake's. The session ends without a response
    /// and without entering the UPDATE state, so nothing is deleted (ARCHITECTURE.md
    /// security invariant 6): [`Next::Closed`] with [`CloseReason::Timeout`]. Ignored unless
    /// the machine waits on the client ([`Next::Read`] or [`Next::UpgradeTls`]).
    pub fn handle_timeout(&mut self) {
        if self.waits_on_peer() {
            self.end_session(CloseReason::Timeout);
        }
    }

    /// The client closed the connection, the socket failed, or the TLS handshake failed:
    /// nothing is deleted (ARCHITECTURE.md security invariant 6) and nothing more is
    /// transmitted; [`Next::Closed`] with [`CloseReason::ConnectionLost`] follows, and
    /// [`discarded_deletions`](Self::discarded_deletions) says how many deletion marks were
    /// dropped.
    pub fn handle_close(&mut self) {
        self.out.clear();
        self.end_session(CloseReason::ConnectionLost);
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

    /// The TLS handshake that [`Next::UpgradeTls`] asked for succeeded. Input received before
    /// it is plaintext from before the upgrade and is discarded (RFC 2595 section 4,
    /// CVE-2011-0411, ARCHITECTURE.md security invariant 2); the session forgets what it
    /// learnt (a USER name) and now offers the plaintext mechanisms and no more STLS, so the
    /// client asks CAPA again.
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        if !matches!(self.pending, Pending::Tls) {
            return Err(UsageError::NoTlsUpgrade);
        }
        self.input.clear();
        self.framer.reset();
        self.secure = true;
        self.user = None;
        self.pending = Pending::None;
        self.next_wait();
        Ok(())
    }

    /// Ends the session gracefully, as when the server stops (POP3 has no unsolicited
    /// responses, so the client learns it from the answer to its next command). A message
    /// being streamed, or a listing being written, is finished first. Then the next command
    /// is answered `-ERR [SYS/TEMP] server shutting down` (RFC 3206 section 4) and the
    /// session ends with [`CloseReason::Shutdown`]; when the session is idle (no command
    /// partly received), it ends at the next [`poll`](Self::poll) without a response. The
    /// UPDATE state is not entered: nothing is deleted (ARCHITECTURE.md security invariant
    /// 6). A pending decision is still answered as usual (a commit at QUIT ends the session
    /// with [`CloseReason::Quit`]). Nothing happens once the session has ended.
    pub fn shutdown(&mut self) {
        if self.closed.is_none() {
            self.shutting_down = true;
        }
    }

    /// True once the session has ended and every event and byte to write was taken:
    /// [`poll`](Self::poll) says [`Next::Closed`] and the adapter closes the connection.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some() && self.out.is_empty() && self.events.is_empty()
    }

    /// Messages marked deleted that were *not* deleted because the session ended without
    /// reaching the UPDATE state (ARCHITECTURE.md security invariant 6): meaningful once the
    /// session has ended; 0 before, and 0 after a commit.
    pub fn discarded_deletions(&self) -> u32 {
        self.discarded_deletions
    }

    /// Whether the connection is under TLS (implicit, or after STLS).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the client sent UTF8 (RFC 6856 section 2).
    pub fn is_utf8(&self) -> bool {
        self.utf8
    }

    /// Whether the session is in the TRANSACTION state (logged in).
    pub fn is_authenticated(&self) -> bool {
        self.phase == Phase::Transaction
    }

    /// The maildrop with the session's deletion marks (empty before login).
    pub fn maildrop(&self) -> &Maildrop {
        &self.maildrop
    }

    /// The wait before was satisfied: the next one gets a new id (contract rule 3).
    fn next_wait(&mut self) {
        self.wait = self.wait.wrapping_add(1);
    }

    // ----- Decisions -----

    /// Accepts the login of [`Event::Login`] (or ends a relayed [`Event::AuthStep`]
    /// exchange successfully): the session enters the TRANSACTION state with this maildrop.
    pub fn accept(&mut self, maildrop: Maildrop) -> Result<(), UsageError> {
        self.expect_login()?;
        if u32::try_from(maildrop.len()).is_err() {
            return Err(UsageError::TooManyMessages);
        }
        self.end_auth_exchange();
        self.pending = Pending::None;
        self.next_wait();
        self.maildrop = maildrop;
        self.phase = Phase::Transaction;
        let (count, size) = self.maildrop.live();
        self.out.extend_from_slice(b"+OK maildrop has ");
        self.write_count_and_size(count, size);
        self.out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Refuses the login of [`Event::Login`] (or ends a relayed [`Event::AuthStep`]
    /// exchange): `-ERR` with the refusal's response code. The session stays in the
    /// AUTHORIZATION state; too many [`LoginRefusal::BadCredentials`] end it.
    pub fn reject(&mut self, refusal: LoginRefusal) -> Result<(), UsageError> {
        self.expect_login()?;
        self.end_auth_exchange();
        self.pending = Pending::None;
        self.next_wait();
        self.out.extend_from_slice(refusal.reply());
        if refusal == LoginRefusal::BadCredentials {
            self.login_failed();
        }
        Ok(())
    }

    /// Continues a relayed AUTH exchange ([`Event::AuthStep`]): sends `challenge`
    /// base64-encoded in a `+ ` line (RFC 5034 section 4) and waits for the response.
    pub fn sasl_challenge(&mut self, challenge: &[u8]) -> Result<(), UsageError> {
        self.check_open()?;
        let mechanism = match self.pending {
            Pending::AuthStep(mechanism) => mechanism,
            ref other => return Err(Self::wrong(other)),
        };
        self.pending = Pending::None;
        self.next_wait();
        self.write_challenge(challenge);
        self.sasl = Some(SaslState::Relayed(mechanism));
        Ok(())
    }

    /// Sends the next piece of the message of [`Event::Retrieve`], split anywhere. The
    /// machine dot-stuffs it and, for TOP, drops what comes after the lines asked for (the
    /// application may stop early once [`message_complete`](Self::message_complete) says so).
    /// The first call sends the `+OK` line. What is written comes out of
    /// [`poll`](Self::poll) as [`Next::Transmit`]; then `poll` says [`Next::AwaitApp`]
    /// until [`end_message`](Self::end_message), so give the content in chunks and transmit
    /// between them.
    pub fn send_message_chunk(&mut self, chunk: impl AsRef<[u8]>) -> Result<(), UsageError> {
        self.check_open()?;
        let chunk = chunk.as_ref();
        let Pending::Retrieve {
            cutter,
            size,
            started,
        } = &mut self.pending
        else {
            return Err(Self::wrong(&self.pending));
        };
        if !*started {
            *started = true;
            write_retrieve_status(&mut self.out, *size, cutter.is_some());
        }
        let keep = match cutter {
            Some(cutter) => cutter.keep(chunk),
            None => chunk.len(),
        };
        self.encoder.encode(&chunk[..keep], &mut self.out);
        Ok(())
    }

    /// Whether a TOP being sent has all the lines it needs: later chunks are dropped.
    /// False for RETR and when no message is being sent.
    pub fn message_complete(&self) -> bool {
        matches!(&self.pending, Pending::Retrieve { cutter: Some(cutter), .. } if cutter.is_done())
    }

    /// Ends the message of [`Event::Retrieve`]: the terminating `.` line (after a CRLF if
    /// the content did not end with one).
    pub fn end_message(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        let Pending::Retrieve {
            size,
            started,
            cutter,
        } = &self.pending
        else {
            return Err(Self::wrong(&self.pending));
        };
        if !*started {
            write_retrieve_status(&mut self.out, *size, cutter.is_some());
        }
        self.encoder.finish(&mut self.out);
        self.pending = Pending::None;
        self.next_wait();
        Ok(())
    }

    /// Answers [`Event::Retrieve`] with `-ERR` (the message vanished or cannot be read).
    /// Only before any content was sent.
    pub fn message_unavailable(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        match self.pending {
            Pending::Retrieve { started: false, .. } => {}
            Pending::Retrieve { started: true, .. } => return Err(UsageError::MessageStarted),
            ref other => return Err(Self::wrong(other)),
        }
        self.pending = Pending::None;
        self.next_wait();
        self.reply(b"-ERR message unavailable");
        Ok(())
    }

    /// The deletions of [`Event::Commit`] are done: `+OK`, and the session ends with
    /// [`CloseReason::Quit`] (RFC 1939 section 6).
    pub fn commit_succeeded(&mut self) -> Result<(), UsageError> {
        self.expect_commit()?;
        let (count, _) = self.maildrop.live();
        self.out.extend_from_slice(b"+OK POP3 server signing off (");
        if count == 0 {
            self.out.extend_from_slice(b"maildrop empty");
        } else {
            decimal::write_u64(&mut self.out, count as u64);
            self.out.extend_from_slice(if count == 1 {
                &b" message left"[..]
            } else {
                b" messages left"
            });
        }
        self.out.extend_from_slice(b")\r\n");
        self.end_session(CloseReason::Quit);
        Ok(())
    }

    /// The deletions of [`Event::Commit`] failed (or were partly done): `-ERR [SYS/TEMP]`
    /// (RFC 1939 section 6, RFC 3206), and the session ends with [`CloseReason::Quit`].
    pub fn commit_failed(&mut self) -> Result<(), UsageError> {
        self.expect_commit()?;
        self.reply(b"-ERR [SYS/TEMP] some deleted messages not removed");
        self.end_session(CloseReason::Quit);
        Ok(())
    }

    fn check_open(&self) -> Result<(), UsageError> {
        match self.closed {
            Some(_) => Err(UsageError::Closed),
            None => Ok(()),
        }
    }

    fn wrong(pending: &Pending) -> UsageError {
        match pending {
            Pending::None => UsageError::NoDecisionPending,
            other => UsageError::WrongDecision {
                pending: other.name(),
            },
        }
    }

    fn expect_login(&self) -> Result<(), UsageError> {
        self.check_open()?;
        match self.pending {
            Pending::Login | Pending::AuthStep(_) => Ok(()),
            ref other => Err(Self::wrong(other)),
        }
    }

    fn expect_commit(&mut self) -> Result<(), UsageError> {
        self.check_open()?;
        match self.pending {
            Pending::Commit => {
                self.pending = Pending::None;
                self.next_wait();
                self.committed = true;
                Ok(())
            }
            ref other => Err(Self::wrong(other)),
        }
    }

    // ----- Processing -----

    /// What `poll` does before it answers: acts on an input overflow or a shutdown, then
    /// processes buffered commands.
    fn advance(&mut self) {
        if self.closed.is_some() {
            return;
        }
        if self.overflow {
            self.input.clear();
            self.framer.reset();
            // A reply cannot be put inside a message or a listing being sent.
            let answering = matches!(self.pending, Pending::Retrieve { started: true, .. })
                || self.listing.is_some();
            if !answering {
                self.reply(b"-ERR too much pipelined input, closing connection");
            }
            self.end_session(CloseReason::InputOverflow);
            return;
        }
        if self.shutting_down && self.is_idle() {
            // No command to answer, and POP3 has no unsolicited responses.
            self.end_session(CloseReason::Shutdown);
            return;
        }
        self.drive();
        // What arrived may have been the tail of a line already answered (an overlong one):
        // idle again, so the session ends now rather than at the client's next bytes.
        if self.shutting_down && self.closed.is_none() && self.is_idle() {
            self.end_session(CloseReason::Shutdown);
        }
    }

    /// Nothing in progress and nothing partly received: a shutdown ends the session now.
    fn is_idle(&self) -> bool {
        matches!(self.pending, Pending::None)
            && self.listing.is_none()
            && self.input.is_empty()
            && !self.framer.is_skipping()
    }

    /// Processes buffered commands until a decision is pending, output backs up, input runs
    /// out or the session ends. Each line taken satisfies the wait for it.
    fn drive(&mut self) {
        while self.closed.is_none() && matches!(self.pending, Pending::None) {
            if self.listing.is_some() {
                if !self.continue_listing() {
                    return;
                }
                continue;
            }
            if self.out.len() >= OUTPUT_HIGH_WATER {
                return;
            }
            let Some(line) = self.framer.next_line(&mut self.input) else {
                return;
            };
            self.next_wait();
            if self.shutting_down {
                self.reply(b"-ERR [SYS/TEMP] server shutting down");
                self.end_session(CloseReason::Shutdown);
                return;
            }
            match line {
                Err(error) => self.line_error(error),
                Ok(line) => self.handle_line(line),
            }
        }
    }

    fn line_error(&mut self, error: LineError) {
        let error = CommandError::from(error);
        if let Some(sasl) = self.sasl.take() {
            // A broken AUTH line ends the exchange.
            self.end_auth_exchange();
            if matches!(sasl, SaslState::Relayed(_)) {
                self.events.push_back(Event::AuthAborted);
            }
        }
        self.bad_command(error.reply_text().as_bytes());
    }

    fn handle_line(&mut self, line: Bytes) {
        if let Some(sasl) = self.sasl.take() {
            self.sasl_response(sasl, &line);
            return;
        }
        match Command::parse_line(line, &self.config.limits) {
            Ok(command) => match self.phase {
                Phase::Authorization => self.authorization(command),
                Phase::Transaction => self.transaction(command),
            },
            Err(error) => {
                self.user = None;
                self.bad_command(error.reply_text().as_bytes());
            }
        }
    }

    /// RFC 1939 section 4 and 7, RFC 2595, RFC 5034, RFC 6856.
    fn authorization(&mut self, command: Command) {
        // PASS must come right after USER (RFC 1939 section 7).
        let user = self.user.take();
        match command {
            Command::User(name) => {
                if !self.config.user_pass {
                    self.bad_command(b"USER not available");
                } else if self.tls_required_first() {
                    self.bad_command(TLS_REQUIRED);
                } else if !self.plaintext_allowed() {
                    self.bad_command(b"plaintext authentication needs TLS (use STLS)");
                } else {
                    self.user = Some(name);
                    self.reply(b"+OK send PASS");
                }
            }
            Command::Pass(password) => match user {
                Some(name) => self.decide(
                    Pending::Login,
                    Event::Login(Login::UserPass { name, password }),
                ),
                None => self.bad_command(b"send USER first"),
            },
            Command::Apop { .. } if self.config.apop_timestamp.is_none() => {
                self.bad_command(b"APOP not available");
            }
            Command::Apop { .. } if self.tls_required_first() => self.bad_command(TLS_REQUIRED),
            Command::Apop { name, digest } => match &self.config.apop_timestamp {
                Some(timestamp) => {
                    let login = Login::Apop(ApopLogin {
                        name,
                        timestamp: timestamp.clone(),
                        digest,
                    });
                    self.decide(Pending::Login, Event::Login(login));
                }
                None => self.bad_command(b"APOP not available"),
            },
            Command::Auth {
                mechanism,
                initial_response,
            } => self.start_auth(mechanism, initial_response.as_ref().map(|r| r.as_bytes())),
            Command::Stls => {
                if self.secure {
                    self.bad_command(b"already using TLS");
                } else if !self.config.tls.upgrades() {
                    self.bad_command(b"STLS not available");
                } else {
                    // RFC 2595 section 4: the handshake starts after the +OK; `poll` says
                    // `UpgradeTls` once it is transmitted.
                    self.reply(b"+OK begin TLS negotiation");
                    self.pending = Pending::Tls;
                }
            }
            Command::Capa => self.write_capabilities(),
            Command::Quit => {
                self.reply(b"+OK POP3 server signing off");
                self.end_session(CloseReason::Quit);
            }
            Command::Utf8 => {
                if self.config.utf8 {
                    self.utf8 = true;
                    self.reply(b"+OK UTF8 enabled");
                } else {
                    self.bad_command(b"UTF8 not available");
                }
            }
            Command::Lang(_) => self.bad_command(b"LANG not supported"),
            _ => self.bad_command(b"command not valid in this state"),
        }
    }

    /// RFC 1939 sections 5, 6 and 7.
    fn transaction(&mut self, command: Command) {
        match command {
            Command::Stat => {
                let (count, size) = self.maildrop.live();
                Stat {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    size,
                }
                .write(&mut self.out);
            }
            Command::List(None) | Command::Uidl(None) => {
                let unique_ids = matches!(command, Command::Uidl(_));
                if unique_ids {
                    self.reply(b"+OK unique-id listing follows");
                } else {
                    let (count, size) = self.maildrop.live();
                    self.out.extend_from_slice(b"+OK ");
                    self.write_count_and_size(count, size);
                    self.out.extend_from_slice(b"\r\n");
                }
                self.listing = Some(ListingCursor {
                    unique_ids,
                    next: 0,
                });
            }
            Command::List(Some(msg)) => {
                if let Some(index) = self.live_message(msg) {
                    let size = self.maildrop.messages()[index].size;
                    ScanListing { msg, size }.write(&mut self.out);
                }
            }
            Command::Uidl(Some(msg)) => {
                if let Some(index) = self.live_message(msg) {
                    let uid = self.maildrop.messages()[index].uid.clone();
                    UidListing { msg, uid }.write(&mut self.out);
                }
            }
            Command::Retr(msg) => self.retrieve(msg, None),
            Command::Top { msg, lines } => self.retrieve(msg, Some(lines)),
            Command::Dele(msg) => {
                if let Some(index) = self.live_message(msg) {
                    self.maildrop.mark(index);
                    self.out.extend_from_slice(b"+OK message ");
                    decimal::write_u64(&mut self.out, u64::from(msg.get()));
                    self.out.extend_from_slice(b" deleted\r\n");
                }
            }
            Command::Noop => self.reply(b"+OK"),
            Command::Rset => {
                self.maildrop.unmark_all();
                let (count, size) = self.maildrop.live();
                self.out.extend_from_slice(b"+OK maildrop has ");
                self.write_count_and_size(count, size);
                self.out.extend_from_slice(b"\r\n");
            }
            Command::Quit => {
                let deleted = self
                    .maildrop
                    .messages()
                    .iter()
                    .enumerate()
                    .filter(|(_, message)| message.deleted)
                    .filter_map(|(index, message)| {
                        Some(DeletedMessage {
                            msg: msg_number(index)?,
                            index,
                            uid: message.uid.clone(),
                        })
                    })
                    .collect();
                self.decide(Pending::Commit, Event::Commit { deleted });
            }
            Command::Capa => self.write_capabilities(),
            Command::Lang(_) => self.bad_command(b"LANG not supported"),
            _ => self.bad_command(b"command not valid in this state"),
        }
    }

    /// The index of message `msg` if it exists and is not marked deleted; otherwise the
    /// `-ERR` is written (not a bad command: the client cannot always know).
    fn live_message(&mut self, msg: MsgNumber) -> Option<usize> {
        let index = usize::try_from(msg.get() - 1).ok()?;
        match self.maildrop.get(index) {
            Some(message) if !message.deleted => Some(index),
            Some(_) => {
                self.out.extend_from_slice(b"-ERR message ");
                decimal::write_u64(&mut self.out, u64::from(msg.get()));
                self.out.extend_from_slice(b" already deleted\r\n");
                None
            }
            None => {
                self.reply(b"-ERR no such message");
                None
            }
        }
    }

    fn retrieve(&mut self, msg: MsgNumber, lines: Option<u32>) {
        let Some(index) = self.live_message(msg) else {
            return;
        };
        let message = &self.maildrop.messages()[index];
        let event = Event::Retrieve(Retrieve {
            msg,
            index,
            uid: message.uid.clone(),
            size: message.size,
            lines,
        });
        let pending = Pending::Retrieve {
            cutter: lines.map(TopCutter::new),
            size: message.size,
            started: false,
        };
        self.decide(pending, event);
    }

    /// AUTH (RFC 5034 section 4).
    fn start_auth(&mut self, mechanism: Mechanism, initial_response: Option<&[u8]>) {
        if !self.config.sasl_mechanisms.contains(&mechanism) {
            self.bad_command(b"unsupported SASL mechanism");
            return;
        }
        if self.tls_required_first() {
            self.bad_command(TLS_REQUIRED);
            return;
        }
        if mechanism.is_plaintext() && !self.plaintext_allowed() {
            self.bad_command(b"plaintext authentication needs TLS (use STLS)");
            return;
        }
        if mechanism.is_built_in() {
            // The crate's parser gives an empty initial response for `=`.
            let initial_response =
                initial_response.map(|r| if r.is_empty() { &b"="[..] } else { r });
            match ServerExchange::start(mechanism, initial_response) {
                Ok((exchange, step)) => self.builtin_step(exchange, step, mechanism),
                Err(error) => self.sasl_failed(error),
            }
            return;
        }
        let response = match initial_response {
            None => None,
            Some(response) => match sasl::decode_base64(response) {
                Ok(decoded) => Some(Bytes::from(decoded)),
                Err(error) => {
                    self.sasl_failed(error);
                    return;
                }
            },
        };
        self.framer.set_max_len(self.config.limits.sasl_line);
        self.decide(
            Pending::AuthStep(mechanism),
            Event::AuthStep {
                mechanism,
                response,
            },
        );
    }

    fn builtin_step(&mut self, exchange: ServerExchange, step: ServerStep, mechanism: Mechanism) {
        match step {
            ServerStep::Challenge(challenge) => {
                self.write_challenge(challenge);
                self.framer.set_max_len(self.config.limits.sasl_line);
                self.sasl = Some(SaslState::BuiltIn(exchange, mechanism));
            }
            ServerStep::Done(credentials) => {
                self.end_auth_exchange();
                self.decide(
                    Pending::Login,
                    Event::Login(Login::Sasl {
                        mechanism,
                        credentials,
                    }),
                );
            }
        }
    }

    fn sasl_response(&mut self, sasl: SaslState, line: &[u8]) {
        match sasl {
            SaslState::BuiltIn(mut exchange, mechanism) => match exchange.step(line) {
                Ok(step) => self.builtin_step(exchange, step, mechanism),
                Err(error) => {
                    self.end_auth_exchange();
                    self.sasl_failed(error);
                }
            },
            SaslState::Relayed(mechanism) => match sasl::decode_response(line) {
                Ok(SaslResponse::Data(data)) => self.decide(
                    Pending::AuthStep(mechanism),
                    Event::AuthStep {
                        mechanism,
                        response: Some(Bytes::from(data)),
                    },
                ),
                Ok(SaslResponse::Cancel) => self.relayed_aborted(SaslError::Cancelled),
                Err(error) => self.relayed_aborted(error),
            },
        }
    }

    fn relayed_aborted(&mut self, error: SaslError) {
        self.end_auth_exchange();
        self.events.push_back(Event::AuthAborted);
        self.sasl_failed(error);
    }

    /// An AUTH exchange failed on the client's side: cancelled (RFC 5034 section 4) or
    /// malformed. A malformed one counts as a failed login.
    fn sasl_failed(&mut self, error: SaslError) {
        if error == SaslError::Cancelled {
            self.reply(b"-ERR authentication cancelled");
        } else {
            self.reply(b"-ERR [AUTH] malformed SASL response");
            self.login_failed();
        }
    }

    fn end_auth_exchange(&mut self) {
        self.sasl = None;
        self.framer
            .set_max_len(self.config.limits.max_command_line());
    }

    fn login_failed(&mut self) {
        self.failed_logins = self.failed_logins.saturating_add(1);
        if self.failed_logins > self.config.max_failed_logins {
            self.end_session(CloseReason::TooManyFailedLogins);
        }
    }

    /// `-ERR text` for a command the client should not have sent; too many end the session.
    fn bad_command(&mut self, text: &[u8]) {
        self.out.extend_from_slice(b"-ERR ");
        self.reply(text);
        self.bad_commands = self.bad_commands.saturating_add(1);
        if self.bad_commands > self.config.max_bad_commands {
            self.end_session(CloseReason::TooManyErrors);
        }
    }

    fn decide(&mut self, pending: Pending, event: Event) {
        self.pending = pending;
        self.events.push_back(event);
    }

    /// Plaintext credentials (USER/PASS, AUTH PLAIN and LOGIN) may be taken now
    /// (ARCHITECTURE.md security invariant 7).
    fn plaintext_allowed(&self) -> bool {
        self.secure || self.config.allow_plaintext_auth_without_tls
    }

    /// [`TlsMode::Required`] before the upgrade: no login of any kind is taken.
    fn tls_required_first(&self) -> bool {
        !self.secure && self.config.tls == TlsMode::Required
    }

    /// Decides the end of the session; `poll` says [`Next::Closed`] once every event and
    /// transmit before it was taken. Unless a commit was answered, the deletion marks are
    /// discarded (ARCHITECTURE.md security invariant 6).
    fn end_session(&mut self, reason: CloseReason) {
        if self.closed.is_some() {
            return;
        }
        self.discarded_deletions = if self.committed {
            0
        } else {
            u32::try_from(self.maildrop.marked()).unwrap_or(u32::MAX)
        };
        self.closed = Some(reason);
        self.pending = Pending::None;
        self.sasl = None;
        self.listing = None;
        self.shutting_down = false;
        self.input.clear();
        self.framer.reset();
        // Decisions not yet handed out can no longer be answered.
        self.events.retain(|event| !event.is_decision());
    }

    // ----- Writing -----

    /// Writes `line` and CRLF.
    fn reply(&mut self, line: &[u8]) {
        self.out.extend_from_slice(line);
        self.out.extend_from_slice(b"\r\n");
    }

    /// `N messages (M octets)`, RFC 1939 section 5's example wording.
    fn write_count_and_size(&mut self, count: usize, size: u64) {
        decimal::write_u64(&mut self.out, count as u64);
        self.out.extend_from_slice(if count == 1 {
            &b" message ("[..]
        } else {
            b" messages ("
        });
        decimal::write_u64(&mut self.out, size);
        self.out.extend_from_slice(b" octets)");
    }

    /// `+ base64` (RFC 5034 section 4).
    fn write_challenge(&mut self, challenge: &[u8]) {
        self.out.extend_from_slice(b"+ ");
        self.out
            .extend_from_slice(sasl::encode_base64(challenge).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Writes listing entries until the output backs up; true once the listing is done.
    fn continue_listing(&mut self) -> bool {
        let Some(cursor) = &mut self.listing else {
            return true;
        };
        let messages = self.maildrop.messages();
        while cursor.next < messages.len() {
            if self.out.len() >= OUTPUT_HIGH_WATER {
                return false;
            }
            let index = cursor.next;
            cursor.next += 1;
            let message = &messages[index];
            let Some(msg) = msg_number(index) else {
                continue;
            };
            if message.deleted {
                continue;
            }
            if cursor.unique_ids {
                UidListing {
                    msg,
                    uid: message.uid.clone(),
                }
                .write_entry(&mut self.out);
            } else {
                ScanListing {
                    msg,
                    size: message.size,
                }
                .write_entry(&mut self.out);
            }
        }
        self.out.extend_from_slice(b".\r\n");
        self.listing = None;
        true
    }

    /// CAPA (RFC 2449 section 5): what is available now. USER and the plaintext SASL
    /// mechanisms only where allowed (ARCHITECTURE.md security invariant 7), STLS only before
    /// TLS, and the login capabilities only in the AUTHORIZATION state and, under
    /// [`TlsMode::Required`], only after STLS.
    fn write_capabilities(&mut self) {
        self.reply(b"+OK capability list follows");
        let stls = self.phase == Phase::Authorization && self.config.tls.upgrades() && !self.secure;
        let authorization = self.phase == Phase::Authorization && !self.tls_required_first();
        let plaintext = self.plaintext_allowed();
        let mut capabilities = [
            Some(Capability::Top),
            Some(Capability::Uidl),
            Some(Capability::RespCodes),
            Some(Capability::AuthRespCode),
            Some(Capability::Pipelining),
            (authorization && self.config.user_pass && plaintext).then_some(Capability::User),
            stls.then_some(Capability::Stls),
            self.config.utf8.then_some(Capability::Utf8 {
                user_credentials: false,
            }),
            self.config
                .login_delay
                .map(|seconds| Capability::LoginDelay {
                    seconds,
                    per_user: false,
                }),
            self.config.expire.map(|policy| Capability::Expire {
                policy,
                per_user: false,
            }),
            self.config
                .implementation
                .clone()
                .map(Capability::Implementation),
        ];
        for capability in capabilities.iter_mut().filter_map(Option::take) {
            capability.write_entry(&mut self.out);
        }
        if authorization {
            let mut offered = self
                .config
                .sasl_mechanisms
                .iter()
                .filter(|mechanism| plaintext || !mechanism.is_plaintext())
                .peekable();
            if offered.peek().is_some() {
                self.out.extend_from_slice(b"SASL");
                for mechanism in offered {
                    self.out.extend_from_slice(b" ");
                    self.out.extend_from_slice(mechanism.as_str().as_bytes());
                }
                self.out.extend_from_slice(b"\r\n");
            }
        }
        self.out.extend_from_slice(b".\r\n");
    }
}

/// `+OK` before message content: RETR gives the size, as RFC 1939 section 10 shows.
fn write_retrieve_status(out: &mut BytesMut, size: u64, top: bool) {
    if top {
        out.extend_from_slice(b"+OK top of message follows\r\n");
    } else {
        out.extend_from_slice(b"+OK ");
        decimal::write_u64(out, size);
        out.extend_from_slice(b" octets\r\n");
    }
}

/// Message number of the message at `index`.
fn msg_number(index: usize) -> Option<MsgNumber> {
    u32::try_from(index + 1).ok().and_then(MsgNumber::new)
}
