//! The POP3 client session as a sans-IO state machine (RFC 1939, 2449, 2595, 5034).
//!
//! A [`Connection`] keeps the session contract of `mail_wire::session` (ARCHITECTURE.md,
//! "The session contract"): it takes the server's bytes with
//! [`receive`](Connection::receive), which only buffers, and advances only in
//! [`poll`](Connection::poll), which says what to do next as a [`Next`]: bytes to write,
//! an [`Event`] for the application, a read with its deadline, a TLS handshake, the
//! application's turn, or the end.
//!
//! It runs the login by itself: greeting (APOP timestamp kept), CAPA (a plain RFC 1939
//! server's `-ERR` is fine), STLS when offered or required, then the best login method the
//! server offers and the connection's security allows (see [`Config`]), falling back to the
//! next such method when the server refuses one (unless the refusal is final: `[IN-USE]`,
//! `[LOGIN-DELAY]`, `[SYS/*]`). Once logged in it asks CAPA again when the server answered
//! it before (RFC 2449 section 5: capabilities may change after login), and uses what it
//! learns (PIPELINING, say). Then [`Event::Authenticated`] arrives: from there the
//! application queues maildrop commands ([`stat`](Connection::stat),
//! [`retr`](Connection::retr), [`dele`](Connection::dele), ...) and gets one result event
//! per command, in order; with nothing queued, `poll` says [`Next::AwaitApp`]. With
//! PIPELINING (RFC 2449 section 6.6) queued commands go out together, up to
//! [`Config::pipelining_window`] in flight; without it, one at a time.
//!
//! RETR and TOP stream: [`Event::MessageStart`], dot-unstuffed [`Event::MessageData`]
//! chunks (slices of the received bytes), then [`Event::MessageEnd`]. Input is decoded
//! only as `poll` is called, so no more than the received-but-unread bytes are held.
//!
//! Every wait on the server is bounded (ARCHITECTURE.md security invariant 9): a
//! [`Next::Read`] carries a [`Wait`] of [`Config::response_timeout`] whose id changes only
//! when a whole response was received: a status line, a whole listing (its `+OK` line
//! included), or a 4 KiB block ([`DATA_BLOCK`]) of a message and its end. A server trickling
//! bytes cannot hold the session open. A loop over a
//! blocking socket, reading with the machine's deadline:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Instant;
//!
//! use mail_wire::session::WaitTimer;
//! use pop3_proto::client::{Config, Connection, Event};
//! use pop3_proto::{MsgNumber, Next, TlsMode};
//!
//! // No TLS in this sketch: only APOP (a digest) may log in, no password in the clear.
//! let config = Config::default().with_password("mrose", "tanstaaf").with_tls(TlsMode::Disabled);
//! let mut conn = Connection::new(config);
//! let mut socket = TcpStream::connect("pop.example.org:110")?;
//! let mut timer = WaitTimer::new();
//! let mut buf = [0u8; 16 * 1024];
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => socket.write_all(&bytes)?,
//!         Next::Event(Event::Authenticated(_)) => {
//!             conn.uidl(None)?;
//!             conn.retr(MsgNumber::new(1).ok_or("message 0")?)?;
//!             conn.quit()?;
//!         }
//!         Next::Event(Event::MessageData(chunk)) => { /* append to the local mailbox */ let _ = chunk; }
//!         Next::Event(Event::Failed(error)) => return Err(error.into()), // exit non-zero
//!         Next::Event(_) => {}
//!         Next::Read(wait) => {
//!             // The deadline is fixed when the wait is first seen: trickled bytes do not
//!             // move it.
//!             let left = timer.deadline(wait, Instant::now()).saturating_duration_since(Instant::now());
//!             if left.is_zero() {
//!                 conn.handle_timeout();
//!                 continue;
//!             }
//!             socket.set_read_timeout(Some(left))?;
//!             match socket.read(&mut buf) {
//!                 Ok(0) => conn.handle_close(),
//!                 Ok(n) => conn.receive(&buf[..n]),
//!                 Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                     conn.handle_timeout()
//!                 }
//!                 Err(_) => conn.handle_close(),
//!             }
//!         }
//!         // A TLS adapter runs the handshake here, within the wait's timeout.
//!         Next::UpgradeTls(_) => conn.handle_close(),
//!         // Every command was queued at login, QUIT last: nothing is left to ask.
//!         Next::AwaitApp => conn.quit()?,
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! if !reason.is_normal() {
//!     return Err(format!("session ended: {reason}").into());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod config;
mod error;
mod event;
mod plan;

use alloc::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use mail_wire::Secret;
use mail_wire::dot::{BareLineEnding, DotDecoder, DotEvent};
use mail_wire::line::LineFramer;
use mail_wire::sasl::{ClientExchange, Credentials, decode_base64};
use mail_wire::session::{CloseReason, DATA_BLOCK, Next, TlsMode, Wait};

use crate::{
    ApopDigest, AuthResponse, Command, Listing, ListingEntry, Mechanism, Name, Password, Response,
    ResponseError, SaslData, ScanListing, Stat, StatusLine, Timestamp, UidListing, Verb,
};

pub use config::Config;
pub use error::{AuthError, AuthFailure, Error, ProtocolViolation, Step, UsageError};
pub use event::{AuthMethod, AuthMethods, Capabilities, Event, MessageEnd, QuitOutcome, Request};
pub use plan::{DownloadPlan, plan_download};

/// Unread input the hard cap is computed from (twice this plus one line, or a whole listing
/// while one is awaited).
const INPUT_WINDOW: usize = 64 * 1024;

/// Where the session is (RFC 1939 section 3 states, seen from the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the greeting.
    Greeting,
    /// AUTHORIZATION: CAPA, STLS and login run.
    Authorization,
    /// STLS accepted: waiting for `tls_established`.
    TlsUpgrade,
    /// Logged in (the server is in TRANSACTION); CAPA is asked again before the
    /// application is told (RFC 2449 section 5).
    CapaAfterLogin,
    /// TRANSACTION: the application's commands run.
    Transaction,
    /// Failed with the protocol still in step: a QUIT is out, its answer is awaited.
    Closing,
    /// Over.
    Closed,
}

/// A command sent and not fully answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Capa,
    Stls,
    User,
    Pass,
    Apop,
    Auth,
    /// The QUIT sent after a failure: its answer ends the session silently.
    Farewell,
    Request(Request),
}

impl Pending {
    fn step(self) -> Step {
        Step::Command(match self {
            Self::Capa => Verb::Capa,
            Self::Stls => Verb::Stls,
            Self::User => Verb::User,
            Self::Pass => Verb::Pass,
            Self::Apop => Verb::Apop,
            Self::Auth => Verb::Auth,
            Self::Farewell => Verb::Quit,
            Self::Request(request) => request.verb(),
        })
    }

    /// Whether a `+OK` to this command starts a multi-line listing.
    fn expects_listing(self) -> bool {
        matches!(
            self,
            Self::Capa | Self::Request(Request::List(None) | Request::Uidl(None))
        )
    }
}

/// How the next input is read.
#[derive(Debug, Clone)]
enum Reading {
    /// One line: a status line (or a SASL challenge during AUTH).
    Line,
    /// A multi-line listing; `scanned` octets of the input were searched for its end.
    Listing { scanned: usize },
    /// A message after `+OK` to RETR or TOP; `block` octets of it arrived since the last
    /// whole [`DATA_BLOCK`] (or since the `+OK`).
    Body {
        decoder: DotDecoder,
        msg: crate::MsgNumber,
        block: usize,
    },
}

/// The SASL exchange in progress.
#[derive(Debug)]
struct SaslState {
    exchange: ClientExchange,
    /// An initial response too long for the AUTH line (RFC 5034 section 4: the line stays
    /// within 255 octets); sent as the answer to the first, empty, challenge.
    deferred: Option<Secret>,
}

/// One client session. See the [module docs](self) for the flow.
///
/// Its `Debug` output shows the session's state, never buffered bytes (the output may hold
/// a password or its base64 form: ARCHITECTURE.md security invariant 10).
pub struct Connection {
    config: Config,
    phase: Phase,
    /// TLS protects the connection.
    secure: bool,
    input: BytesMut,
    lines: LineFramer,
    reading: Reading,
    /// Commands on the wire, oldest first.
    in_flight: VecDeque<Pending>,
    /// The application's commands not sent yet.
    queue: VecDeque<Request>,
    /// QUIT is queued or sent: nothing may follow.
    quit_queued: bool,
    out: BytesMut,
    events: VecDeque<Event>,
    timestamp: Option<Timestamp>,
    capabilities: Capabilities,
    pipelining: bool,
    method: Option<AuthMethod>,
    /// The login methods to try, best first, and the index of the one being tried.
    login_plan: AuthMethods,
    login_attempt: usize,
    sasl: Option<SaslState>,
    /// The server closed the connection: once the buffered input is decoded, the session
    /// ends.
    peer_closed: bool,
    /// The adapter gave more input than the hard cap (in octets): acted on in `poll`.
    overflow: Option<usize>,
    /// The id of the current wait on the server (contract rule 3).
    wait: u64,
    /// How the session ends (or ended): set by the first failure, or by the end.
    reason: Option<CloseReason>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("phase", &self.phase)
            .field("secure", &self.secure)
            .field("in_flight", &self.in_flight)
            .field("queued", &self.queue.len())
            .field("buffered_input", &self.input.len())
            .field("buffered_output", &self.out.len())
            .field("capabilities_known", &self.capabilities.is_known())
            .field("pipelining", &self.pipelining)
            .field("method", &self.method)
            .field("in_auth_exchange", &self.sasl.is_some())
            .field("wait", &self.wait)
            .field("reason", &self.reason)
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
    /// A session waiting for the server's greeting.
    pub fn new(config: Config) -> Self {
        let secure = config.tls.is_implicit();
        let lines = LineFramer::new(config.limits.response_line);
        Self {
            config,
            phase: Phase::Greeting,
            secure,
            input: BytesMut::new(),
            lines,
            reading: Reading::Line,
            in_flight: VecDeque::new(),
            queue: VecDeque::new(),
            quit_queued: false,
            out: BytesMut::new(),
            events: VecDeque::new(),
            timestamp: None,
            capabilities: Capabilities::unknown(),
            pipelining: false,
            method: None,
            login_plan: AuthMethods::new(),
            login_attempt: 0,
            sasl: None,
            peer_closed: false,
            overflow: None,
            wait: 0,
            reason: None,
        }
    }

    /// Buffers bytes from the server (any split). Only buffers: they are decoded in
    /// [`poll`](Self::poll). Bytes after an accepted STLS and before
    /// [`tls_established`](Self::tls_established) are plaintext from before the upgrade and
    /// are dropped (ARCHITECTURE.md security invariant 2), as are bytes after the end. Past
    /// the hard cap on unread input (ARCHITECTURE.md security invariant 3) the bytes are
    /// dropped and the next `poll` fails the session with [`Error::InputOverflow`].
    pub fn receive(&mut self, bytes: &[u8]) {
        if bytes.is_empty()
            || matches!(self.phase, Phase::Closed | Phase::TlsUpgrade)
            || self.peer_closed
            || self.overflow.is_some()
        {
            return;
        }
        let hard_cap = self.input_bound().saturating_mul(2);
        if self.input.len().saturating_add(bytes.len()) > hard_cap {
            self.overflow = Some(hard_cap);
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    fn input_bound(&self) -> usize {
        let limits = &self.config.limits;
        let line = limits.response_line.max(limits.sasl_line);
        match self.in_flight.front() {
            Some(pending) if pending.expects_listing() => limits.listing.saturating_add(line),
            _ => INPUT_WINDOW + line,
        }
    }

    /// Advances the session as far as it can go and says what the adapter does next (see
    /// the [module docs](self)): the next event, else the commands to write, else the end
    /// ([`Next::Closed`], after every event and transmit), else [`Next::AwaitApp`] when the
    /// session is logged in with nothing queued, [`Next::UpgradeTls`] when STLS was accepted,
    /// and [`Next::Read`] otherwise. When it says `Read`, every complete response received
    /// was decoded.
    pub fn poll(&mut self) -> Next<Event> {
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        self.process();
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        self.fill_window();
        if !self.out.is_empty() {
            return Next::Transmit(self.out.split().freeze());
        }
        match self.phase {
            Phase::Closed => Next::Closed(self.reason.unwrap_or(CloseReason::ConnectionLost)),
            Phase::TlsUpgrade => {
                Next::UpgradeTls(Wait::new(self.wait, self.config.tls_handshake_timeout))
            }
            _ if self.awaits_app() => Next::AwaitApp,
            _ => Next::Read(Wait::new(self.wait, self.config.response_timeout)),
        }
    }

    /// Decodes buffered input until an event is queued or nothing more can be done; acts on
    /// an input overflow and on the end of the stream.
    fn process(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(limit) = self.overflow.take() {
            return self.abort(Error::InputOverflow { limit });
        }
        while self.events.is_empty() {
            if self.advance() {
                continue;
            }
            if self.peer_closed && self.phase != Phase::Closed {
                // Everything the server sent before closing was read: the end is now.
                match self.phase {
                    Phase::Closing => self.close(CloseReason::ConnectionLost),
                    _ => self.abort(Error::ConnectionLost),
                }
            }
            return;
        }
    }

    /// Logged in with nothing sent or queued: the application's next command is awaited.
    fn awaits_app(&self) -> bool {
        self.phase == Phase::Transaction && self.in_flight.is_empty() && self.queue.is_empty()
    }

    /// Whether the machine waits on the server (the last `poll` said `Read` or
    /// `UpgradeTls`), as opposed to the application or nothing.
    fn waits_on_peer(&self) -> bool {
        self.phase != Phase::Closed && !self.peer_closed && !self.awaits_app()
    }

    /// The deadline of the wait that [`poll`](Self::poll) gave passed: the session fails
    /// with [`Error::Timeout`] (nothing deleted), then [`Next::Closed`] with
    /// [`CloseReason::Timeout`]. Ignored unless the machine waits on the server
    /// ([`Next::Read`] or [`Next::UpgradeTls`]).
    pub fn handle_timeout(&mut self) {
        if self.waits_on_peer() {
            self.abort(Error::Timeout);
        }
    }

    /// The server closed the connection, or the socket or the TLS handshake failed. What
    /// was received before is still decoded by [`poll`](Self::poll) (say, the answer to
    /// QUIT); then, unless the session had ended, it fails with [`Error::ConnectionLost`]
    /// (a message being received is incomplete, and nothing was deleted: RFC 1939 section
    /// 6) and ends with [`CloseReason::ConnectionLost`]. Nothing more is transmitted.
    pub fn handle_close(&mut self) {
        if self.phase != Phase::Closed {
            self.peer_closed = true;
            self.out.clear();
            self.queue.clear();
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

    /// TLS is up after [`Next::UpgradeTls`]. Unread plaintext is discarded (CVE-2011-0411,
    /// ARCHITECTURE.md security invariant 2), the capabilities are forgotten and asked again
    /// (RFC 2595 section 4).
    pub fn tls_established(&mut self) -> Result<(), UsageError> {
        if self.phase != Phase::TlsUpgrade {
            return Err(UsageError::NoTlsUpgrade);
        }
        self.input.clear();
        self.lines.reset();
        self.secure = true;
        self.capabilities = Capabilities::unknown();
        self.pipelining = false;
        self.phase = Phase::Authorization;
        self.next_wait();
        self.send_internal(Command::Capa, Pending::Capa);
        Ok(())
    }

    /// Whether the session is over and every event and byte to write was taken:
    /// [`poll`](Self::poll) says [`Next::Closed`].
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed && self.out.is_empty() && self.events.is_empty()
    }

    /// Whether TLS protects the connection.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the session is logged in and takes commands.
    pub fn is_authenticated(&self) -> bool {
        self.phase == Phase::Transaction
    }

    /// The server's capabilities as last learnt.
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The APOP timestamp of the greeting, if there was one.
    pub fn apop_timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref()
    }

    /// How the session logged in.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.method
    }

    /// The wait before was satisfied: the next one gets a new id (contract rule 3).
    fn next_wait(&mut self) {
        self.wait = self.wait.wrapping_add(1);
    }

    // The application's commands (RFC 1939 sections 5 to 7).

    /// Queues `STAT`: answered by [`Event::Stat`].
    pub fn stat(&mut self) -> Result<(), UsageError> {
        self.request(Request::Stat)
    }

    /// Queues `LIST` (`None`: every message, [`Event::ScanList`]; `Some`: one,
    /// [`Event::Scan`]).
    pub fn list(&mut self, msg: Option<crate::MsgNumber>) -> Result<(), UsageError> {
        self.request(Request::List(msg))
    }

    /// Queues `UIDL` (`None`: every message, [`Event::UidList`]; `Some`: one,
    /// [`Event::Uid`]).
    pub fn uidl(&mut self, msg: Option<crate::MsgNumber>) -> Result<(), UsageError> {
        self.request(Request::Uidl(msg))
    }

    /// Queues `RETR msg`: the message streams as `MessageStart`, `MessageData`...,
    /// `MessageEnd`.
    pub fn retr(&mut self, msg: crate::MsgNumber) -> Result<(), UsageError> {
        self.request(Request::Retr(msg))
    }

    /// Queues `TOP msg lines`: the header and `lines` body lines stream like RETR.
    pub fn top(&mut self, msg: crate::MsgNumber, lines: u32) -> Result<(), UsageError> {
        self.request(Request::Top { msg, lines })
    }

    /// Queues `DELE msg`: answered by [`Event::Deleted`]; removed only at QUIT.
    pub fn dele(&mut self, msg: crate::MsgNumber) -> Result<(), UsageError> {
        self.request(Request::Dele(msg))
    }

    /// Queues `RSET`: answered by [`Event::Reset`].
    pub fn rset(&mut self) -> Result<(), UsageError> {
        self.request(Request::Rset)
    }

    /// Queues `NOOP`: answered by [`Event::Noop`].
    pub fn noop(&mut self) -> Result<(), UsageError> {
        self.request(Request::Noop)
    }

    /// Queues `QUIT`: answered by [`Event::Quit`], which says whether the deletions were
    /// applied. Nothing may be queued after it.
    pub fn quit(&mut self) -> Result<(), UsageError> {
        self.request(Request::Quit)
    }

    /// Queues any request. It goes on the wire at the next [`poll`](Connection::poll).
    pub fn request(&mut self, request: Request) -> Result<(), UsageError> {
        match self.phase {
            Phase::Transaction => {}
            Phase::Closed | Phase::Closing => return Err(UsageError::Closed),
            _ => return Err(UsageError::NotInTransaction),
        }
        if self.quit_queued {
            return Err(UsageError::Quitting);
        }
        let limit = self.config.max_queued_commands;
        if self.queue.len() + self.in_flight.len() >= limit {
            return Err(UsageError::QueueFull { limit });
        }
        if self.awaits_app() {
            // The application answered `AwaitApp`: the wait that follows is a new one.
            self.next_wait();
        }
        self.quit_queued = request == Request::Quit;
        self.queue.push_back(request);
        Ok(())
    }

    /// Moves queued commands to the wire while the window has room.
    fn fill_window(&mut self) {
        if self.phase != Phase::Transaction {
            return;
        }
        let window = if self.pipelining {
            self.config.pipelining_window.max(1)
        } else {
            1
        };
        while self.in_flight.len() < window {
            let Some(request) = self.queue.pop_front() else {
                break;
            };
            request.command().write(&mut self.out);
            self.in_flight.push_back(Pending::Request(request));
        }
    }

    fn send_internal(&mut self, command: Command, pending: Pending) {
        command.write(&mut self.out);
        self.in_flight.push_back(pending);
    }

    // Reading.

    /// Decodes one unit of input (a line, a listing, a body chunk). False when nothing
    /// more can be done until more input comes.
    fn advance(&mut self) -> bool {
        if matches!(self.phase, Phase::Closed | Phase::TlsUpgrade) {
            return false;
        }
        match self.reading {
            Reading::Line => self.advance_line(),
            Reading::Listing { .. } => self.advance_listing(),
            Reading::Body { .. } => self.advance_body(),
        }
    }

    fn advance_line(&mut self) -> bool {
        let front = self.in_flight.front().copied();
        let limits = &self.config.limits;
        self.lines.set_max_len(match front {
            Some(Pending::Auth) => limits.sasl_line,
            _ => limits.response_line,
        });
        let during = match (self.phase, front) {
            (Phase::Greeting, _) => Step::Greeting,
            (_, Some(pending)) => pending.step(),
            (_, None) => {
                if self.input.is_empty() {
                    return false;
                }
                self.fail(ProtocolViolation::Unsolicited.into());
                return true;
            }
        };
        let line = match self.lines.next_line(&mut self.input) {
            None => return false,
            Some(Ok(line)) => line,
            Some(Err(error)) => {
                self.fail(ProtocolViolation::Line { during, error }.into());
                return true;
            }
        };
        let challenge = matches!(&line[..], [b'+'] | [b'+', b' ', ..]);
        match front {
            None => self.on_greeting(line),
            Some(Pending::Auth) => self.on_auth_line(line),
            Some(pending) => match StatusLine::parse_line(line.clone(), &self.config.limits) {
                Ok(status) => self.on_status(pending, status),
                Err(ResponseError::UnknownStatus) if challenge => {
                    self.fail(ProtocolViolation::UnexpectedChallenge { during }.into());
                }
                Err(error) => self.fail(ProtocolViolation::Malformed { during, error }.into()),
            },
        }
        // A whole response satisfies the wait for it: a status line, or a challenge. A `+OK`
        // that opens a listing or a message is only its start: the whole listing, or each
        // data block of the message, satisfies the wait (contract rule 3).
        if matches!(self.reading, Reading::Line) {
            self.next_wait();
        }
        true
    }

    fn advance_listing(&mut self) -> bool {
        let Reading::Listing { scanned } = &mut self.reading else {
            return false;
        };
        let Some(pending) = self.in_flight.front().copied() else {
            return false;
        };
        let limit = self.config.limits.listing;
        let mut pos = *scanned;
        let end = loop {
            match memchr::memchr(b'\n', &self.input[pos..]) {
                Some(offset) => {
                    let next = pos + offset + 1;
                    if &self.input[pos..next] == b".\r\n" {
                        break next;
                    }
                    pos = next;
                }
                None => {
                    *scanned = pos;
                    if self.input.len() > limit {
                        let during = pending.step();
                        self.fail(ProtocolViolation::ListingTooLong { during, limit }.into());
                        return true;
                    }
                    return false;
                }
            }
        };
        let region = self.input.split_to(end).freeze();
        self.reading = Reading::Line;
        self.in_flight.pop_front();
        // A whole listing satisfies the wait for it.
        self.next_wait();
        let limits = self.config.limits;
        let during = pending.step();
        let malformed = |error| Error::from(ProtocolViolation::Malformed { during, error });
        match pending {
            Pending::Capa => match parse_listing::<crate::Capability>(&region, &limits) {
                Ok(list) => {
                    self.on_capabilities(Capabilities::from_list(list));
                }
                Err(error) => self.fail(malformed(error)),
            },
            Pending::Request(Request::List(None)) => {
                match parse_listing::<ScanListing>(&region, &limits) {
                    Ok(list) => self.events.push_back(Event::ScanList(list)),
                    Err(error) => self.fail(malformed(error)),
                }
            }
            Pending::Request(Request::Uidl(None)) => {
                match parse_listing::<UidListing>(&region, &limits) {
                    Ok(list) => self.events.push_back(Event::UidList(list)),
                    Err(error) => self.fail(malformed(error)),
                }
            }
            _ => {}
        }
        true
    }

    fn advance_body(&mut self) -> bool {
        let Reading::Body {
            decoder,
            msg,
            block,
        } = &mut self.reading
        else {
            return false;
        };
        let number = *msg;
        let before = self.input.len();
        let event = decoder.decode(&mut self.input);
        // Each whole DATA_BLOCK of content satisfies the wait for it (contract rule 3).
        *block += before - self.input.len();
        let blocks = *block / DATA_BLOCK;
        *block %= DATA_BLOCK;
        if blocks > 0 {
            self.next_wait();
        }
        match event {
            None => blocks > 0,
            Some(DotEvent::Data(chunk)) => {
                self.events.push_back(Event::MessageData(chunk));
                true
            }
            Some(DotEvent::End(summary)) => {
                self.reading = Reading::Line;
                self.in_flight.pop_front();
                self.next_wait();
                self.events.push_back(Event::MessageEnd(MessageEnd {
                    msg: number,
                    size: summary.size,
                    error: summary.error,
                }));
                true
            }
        }
    }

    // Handling what was read.

    fn on_greeting(&mut self, line: Bytes) {
        let status = match StatusLine::parse_line(line, &self.config.limits) {
            Ok(status) => status,
            Err(error) => {
                let during = Step::Greeting;
                return self.fail(ProtocolViolation::Malformed { during, error }.into());
            }
        };
        if !status.is_ok() {
            return self.fail(Error::GreetingRejected(status));
        }
        let apop = status.apop_timestamp();
        self.timestamp = apop.clone();
        self.events.push_back(Event::Greeting { status, apop });
        self.phase = Phase::Authorization;
        self.send_internal(Command::Capa, Pending::Capa);
    }

    fn on_status(&mut self, pending: Pending, status: StatusLine) {
        let ok = status.is_ok();
        if ok && pending.expects_listing() {
            // The pending command stays in front until the listing is read.
            self.reading = Reading::Listing { scanned: 0 };
            return;
        }
        self.in_flight.pop_front();
        match pending {
            // CAPA worked before login: without an answer now, what was learnt then holds.
            Pending::Capa if self.phase == Phase::CapaAfterLogin => self.finish_login(),
            Pending::Capa => self.on_capabilities(Capabilities::unknown()),
            // RFC 2595 section 4: the handshake starts now; `poll` says `UpgradeTls`.
            Pending::Stls if ok => self.phase = Phase::TlsUpgrade,
            Pending::Stls if self.config.tls == TlsMode::Required => {
                self.fail_politely(Error::TlsRefused(status));
            }
            Pending::Stls => self.start_auth(),
            Pending::User if ok => self.send_pass(),
            Pending::User | Pending::Pass | Pending::Apop | Pending::Auth => {
                if ok {
                    self.authenticated();
                } else {
                    self.login_refused(status);
                }
            }
            Pending::Farewell => self.close(CloseReason::Failed),
            Pending::Request(request) => self.on_request_status(request, status),
        }
    }

    fn on_request_status(&mut self, request: Request, status: StatusLine) {
        if request == Request::Quit {
            self.close(CloseReason::Quit);
            self.events.push_back(Event::Quit(QuitOutcome {
                committed: status.is_ok(),
                reply: status,
            }));
            return;
        }
        if !status.is_ok() {
            self.events.push_back(Event::CommandFailed {
                request,
                reply: status,
            });
            return;
        }
        let during = Step::Command(request.verb());
        let event = match request {
            Request::Stat => Stat::from_status(&status).map(Event::Stat),
            Request::List(Some(_)) => ScanListing::from_status(&status).map(Event::Scan),
            Request::Uidl(Some(_)) => UidListing::from_status(&status).map(Event::Uid),
            Request::Retr(msg) | Request::Top { msg, .. } => {
                let decoder = DotDecoder::new()
                    .with_size_limit(self.config.message_size_limit)
                    .with_bare_line_ending(BareLineEnding::Normalize);
                // Put the request back in front: it is answered once the body has ended.
                self.in_flight.push_front(Pending::Request(request));
                self.reading = Reading::Body {
                    decoder,
                    msg,
                    block: 0,
                };
                let top = match request {
                    Request::Top { lines, .. } => Some(lines),
                    _ => None,
                };
                Ok(Event::MessageStart { msg, top })
            }
            Request::Dele(msg) => Ok(Event::Deleted(msg)),
            Request::Rset => Ok(Event::Reset),
            Request::Noop => Ok(Event::Noop),
            // Handled in `on_status`.
            Request::List(None) | Request::Uidl(None) | Request::Quit => return,
        };
        match event {
            Ok(event) => self.events.push_back(event),
            Err(error) => self.fail(ProtocolViolation::Malformed { during, error }.into()),
        }
    }

    fn on_capabilities(&mut self, capabilities: Capabilities) {
        self.pipelining = capabilities.pipelining() == Some(true);
        self.capabilities = capabilities.clone();
        self.events.push_back(Event::Capabilities(capabilities));
        if self.phase == Phase::CapaAfterLogin {
            return self.finish_login();
        }
        if self.secure {
            return self.start_auth();
        }
        let offered = self.capabilities.stls();
        let try_stls = match self.config.tls {
            TlsMode::Opportunistic => offered == Some(true),
            // Unknown capabilities (CAPA failed): try STLS anyway.
            TlsMode::Required => offered != Some(false),
            _ => false,
        };
        if try_stls {
            self.send_internal(Command::Stls, Pending::Stls);
        } else if self.config.tls == TlsMode::Required {
            self.fail_politely(Error::TlsNotOffered);
        } else {
            self.start_auth();
        }
    }

    fn start_auth(&mut self) {
        let offer = auth::Offer {
            capabilities: &self.capabilities,
            timestamp: self.timestamp.as_ref(),
            secure: self.secure,
            allow_plaintext: self.config.allow_plaintext_auth_without_tls,
            apop: self.config.apop,
            mechanisms: &self.config.sasl_mechanisms,
        };
        match auth::candidates(self.config.credentials.as_ref(), &offer) {
            Ok(plan) => {
                self.login_plan = plan;
                self.login_attempt = 0;
                self.try_login_method();
            }
            Err(error) => self.fail_politely(error.into()),
        }
    }

    /// Sends the first command of the login method the plan has reached.
    fn try_login_method(&mut self) {
        let Some(method) = self.login_plan.get(self.login_attempt) else {
            let error = AuthError::NoUsableMethod {
                plaintext_refused: false,
            };
            return self.fail_politely(error.into());
        };
        self.method = Some(method);
        let sent = match method {
            AuthMethod::Sasl(mechanism) => self.send_auth(mechanism),
            AuthMethod::Apop => self.send_apop(),
            AuthMethod::UserPass => self.send_user(),
        };
        if let Err(error) = sent {
            self.method = None;
            self.fail_politely(error.into());
        }
    }

    fn password(&self) -> Result<&mail_wire::sasl::PasswordCredentials, AuthError> {
        match &self.config.credentials {
            Some(Credentials::Password(credentials)) => Ok(credentials),
            _ => Err(AuthError::NoCredentials),
        }
    }

    fn send_apop(&mut self) -> Result<(), AuthError> {
        let credentials = self.password()?;
        let name = Name::new(Bytes::copy_from_slice(credentials.username.as_bytes()))
            .map_err(AuthError::InvalidCredentials)?;
        let digest: ApopDigest = match &self.timestamp {
            Some(timestamp) => timestamp.digest(credentials.password.expose()),
            None => {
                return Err(AuthError::NoUsableMethod {
                    plaintext_refused: false,
                });
            }
        };
        self.send_internal(Command::Apop { name, digest }, Pending::Apop);
        Ok(())
    }

    fn send_user(&mut self) -> Result<(), AuthError> {
        let credentials = self.password()?;
        let name = Name::new(Bytes::copy_from_slice(credentials.username.as_bytes()))
            .map_err(AuthError::InvalidCredentials)?;
        // Check the password now, so that USER is not sent when PASS cannot follow.
        Password::new(Bytes::copy_from_slice(credentials.password.expose()))
            .map_err(AuthError::InvalidCredentials)?;
        self.send_internal(Command::User(name), Pending::User);
        Ok(())
    }

    fn send_pass(&mut self) {
        let password = self.password().and_then(|credentials| {
            Password::new(Bytes::copy_from_slice(credentials.password.expose()))
                .map_err(AuthError::InvalidCredentials)
        });
        match password {
            Ok(password) => self.send_internal(Command::Pass(password), Pending::Pass),
            Err(error) => self.fail_politely(error.into()),
        }
    }

    fn send_auth(&mut self, mechanism: Mechanism) -> Result<(), AuthError> {
        let credentials = self
            .config
            .credentials
            .clone()
            .ok_or(AuthError::NoCredentials)?;
        let mut exchange = ClientExchange::new(mechanism, credentials).map_err(AuthError::Sasl)?;
        let initial = exchange.initial_response();
        let mut deferred = None;
        let initial_response = match initial {
            Some(raw) => {
                let data = SaslData::encode(raw.expose());
                // "AUTH " name " " data CRLF within the command-line limit (RFC 5034 section 4).
                let line = 5 + mechanism.name().len() + 1 + data.as_bytes().len().max(1) + 2;
                if line <= crate::Limits::COMMAND_LINE {
                    Some(data)
                } else {
                    deferred = Some(raw);
                    None
                }
            }
            None => None,
        };
        self.sasl = Some(SaslState { exchange, deferred });
        self.send_internal(
            Command::Auth {
                mechanism,
                initial_response,
            },
            Pending::Auth,
        );
        Ok(())
    }

    /// A line in answer to AUTH: a `+ ` challenge, or the final status.
    fn on_auth_line(&mut self, line: Bytes) {
        let during = Step::Command(Verb::Auth);
        match Response::parse_line(line, &self.config.limits) {
            Ok(Response::Status(status)) => {
                self.sasl = None;
                self.on_status(Pending::Auth, status);
            }
            Ok(Response::Continuation(challenge)) => {
                let answer = match self.answer_challenge(&challenge.0) {
                    Ok(answer) => answer,
                    Err(error) => return self.fail(ProtocolViolation::Sasl(error).into()),
                };
                AuthResponse::Data(SaslData::encode(answer.expose())).write(&mut self.out);
            }
            Err(error) => self.fail(ProtocolViolation::Malformed { during, error }.into()),
        }
    }

    fn answer_challenge(
        &mut self,
        challenge: &SaslData,
    ) -> Result<Secret, mail_wire::sasl::SaslError> {
        let state = self
            .sasl
            .as_mut()
            .ok_or(mail_wire::sasl::SaslError::Complete)?;
        let raw = decode_base64(challenge.as_bytes())?;
        match state.deferred.take() {
            Some(initial) => Ok(initial),
            None => state.exchange.respond(&raw),
        }
    }

    /// The server said `-ERR` to the login method being tried: go on with the next one,
    /// unless the refusal holds for any method or none is left.
    fn login_refused(&mut self, reply: StatusLine) {
        let method = self.method.take().unwrap_or(AuthMethod::UserPass);
        let final_refusal = AuthFailure::from_reply(&reply).is_final();
        let next = self.login_attempt + 1;
        if !final_refusal && next < self.login_plan.len() {
            self.events
                .push_back(Event::AuthMethodRefused { method, reply });
            self.login_attempt = next;
            return self.try_login_method();
        }
        let error = if self.login_attempt == 0 {
            AuthError::Rejected { method, reply }
        } else {
            let tried = self.login_plan.prefix(self.login_attempt + 1);
            AuthError::RejectedAll { tried, reply }
        };
        self.fail_politely(error.into());
    }

    /// The server accepted the login. When it answered CAPA before, CAPA goes out again
    /// and the application is told once the answer is in (RFC 2449 section 5).
    fn authenticated(&mut self) {
        if self.capabilities.is_known() {
            self.phase = Phase::CapaAfterLogin;
            self.send_internal(Command::Capa, Pending::Capa);
        } else {
            self.finish_login();
        }
    }

    fn finish_login(&mut self) {
        self.phase = Phase::Transaction;
        let method = self.method.unwrap_or(AuthMethod::UserPass);
        self.events.push_back(Event::Authenticated(method));
    }

    // Ending.

    /// Fails while the protocol is in step: QUIT is sent (nothing is deleted in the
    /// AUTHORIZATION state), its answer ends the session.
    fn fail_politely(&mut self, error: Error) {
        self.reason.get_or_insert(error.close_reason());
        self.events.push_back(Event::Failed(error));
        self.queue.clear();
        self.in_flight.clear();
        self.reading = Reading::Line;
        self.phase = Phase::Closing;
        self.send_internal(Command::Quit, Pending::Farewell);
    }

    /// Fails on what the server sent: the stream is out of step, so the session ends
    /// without QUIT (a drop deletes nothing, RFC 1939 section 6).
    fn fail(&mut self, error: Error) {
        let reason = error.close_reason();
        if self.phase == Phase::Closing {
            // One failure was reported already; this one only ends the session.
            return self.close(reason);
        }
        self.events.push_back(Event::Failed(error));
        self.out.clear();
        self.close(reason);
    }

    /// Fails on a local cause (timeout, drop, overflow): nothing more is written.
    fn abort(&mut self, error: Error) {
        let reason = error.close_reason();
        if self.phase != Phase::Closing {
            self.events.push_back(Event::Failed(error));
        }
        self.out.clear();
        self.close(reason);
    }

    /// Ends the session; the first reason decided (a failure reported before) stands.
    fn close(&mut self, reason: CloseReason) {
        self.reason.get_or_insert(reason);
        self.phase = Phase::Closed;
        self.queue.clear();
        self.in_flight.clear();
        self.reading = Reading::Line;
        self.input.clear();
        self.sasl = None;
    }
}

/// Parses a whole listing region (entries and terminator); every octet must belong to it.
fn parse_listing<E: ListingEntry>(
    region: &Bytes,
    limits: &crate::Limits,
) -> Result<Listing<E>, ResponseError> {
    match Listing::<E>::parse(region, limits) {
        Ok((listing, used)) if used == region.len() => Ok(listing),
        Ok(_) => Err(ResponseError::UnknownStatus),
        Err(error) => Err(error
            .error()
            .cloned()
            .unwrap_or(ResponseError::UnknownStatus)),
    }
}
