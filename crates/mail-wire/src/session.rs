//! The sans-IO contract that every session machine of `smtp-proto` and `pop3-proto` keeps,
//! client and server alike: [`Session`], driven by one call, [`Session::poll`].
//!
//! A machine never touches a socket, a clock or a thread. Whoever owns the socket (an
//! adapter) moves bytes and time into it and bytes out of it; the protocol's events in
//! between go to the application. The contract, normative for all four machines
//! (ARCHITECTURE.md, "The session contract"):
//!
//! 1. **[`receive`](Session::receive) only buffers.** Nothing is parsed, answered or decided
//!    in it; bytes may arrive split anywhere.
//! 2. **The machine advances only in [`poll`](Session::poll),** which returns the one next
//!    thing to do as a [`Next`]. A loop is a single `match` on it and cannot stall: when
//!    `poll` says [`Read`](Next::Read), no complete input that the machine could act on is
//!    left in its buffer.
//! 3. **Every wait on the peer has a deadline.** [`Read`](Next::Read) and
//!    [`UpgradeTls`](Next::UpgradeTls) carry a [`Wait`]: a timeout and an identity. The wait
//!    starts when its identity is first seen and lasts until the machine returns a wait with
//!    another identity; bytes that do not complete a command, a reply or a data block do not
//!    restart it, so a peer that trickles one byte at a time cannot hold a session open
//!    (slowloris). [`WaitTimer`] keeps the deadline for an adapter.
//! 4. **[`AwaitApp`](Next::AwaitApp) is the application's turn:** a decision event is
//!    unanswered, or a client has nothing to do until it is given its next command. No timer
//!    runs and the peer is not at fault.
//! 5. **[`Closed`](Next::Closed) is terminal and comes once per session:** every event and
//!    every byte to transmit was handed out before it, and from then on `poll` returns the
//!    same `Closed`. Its [`CloseReason`] is one type for all four machines.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use mail_wire::session::{CloseReason, Next, Session, WaitTimer};
//!
//! /// Drives any machine over a socket-like pair of closures until the session ends.
//! fn drive<S: Session>(
//!     conn: &mut S,
//!     mut read: impl FnMut(Instant) -> Option<Vec<u8>>, // None: the deadline passed
//!     mut write: impl FnMut(&[u8]),
//!     mut on_event: impl FnMut(&mut S, S::Event),
//! ) -> CloseReason {
//!     let mut timer = WaitTimer::new();
//!     loop {
//!         match conn.poll() {
//!             Next::Transmit(bytes) => write(&bytes),
//!             Next::Event(event) => on_event(conn, event), // answer decisions here
//!             Next::Read(wait) => match read(timer.deadline(wait, Instant::now())) {
//!                 Some(bytes) if bytes.is_empty() => conn.handle_close(), // end of stream
//!                 Some(bytes) => conn.receive(&bytes),
//!                 None => conn.handle_timeout(),
//!             },
//!             // This loop speaks no TLS: give up the connection.
//!             Next::UpgradeTls(_) => conn.handle_close(),
//!             // Every decision was answered in `on_event`: nothing else will come.
//!             Next::AwaitApp => conn.handle_close(),
//!             Next::Closed(reason) => return reason,
//!         }
//!     }
//! }
//! # struct Echo { input: Vec<u8>, closed: Option<CloseReason> }
//! # #[derive(Debug)]
//! # struct NoTls;
//! # impl core::fmt::Display for NoTls {
//! #     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result { f.write_str("no TLS") }
//! # }
//! # impl core::error::Error for NoTls {}
//! # impl Session for Echo {
//! #     type Event = ();
//! #     type UsageError = NoTls;
//! #     fn receive(&mut self, b: &[u8]) { self.input.extend_from_slice(b) }
//! #     fn poll(&mut self) -> Next<()> {
//! #         if let Some(reason) = self.closed { return Next::Closed(reason) }
//! #         if self.input.is_empty() { return Next::Read(mail_wire::session::Wait::new(0, Duration::from_secs(1))) }
//! #         Next::Transmit(core::mem::take(&mut self.input).into())
//! #     }
//! #     fn handle_timeout(&mut self) { self.closed = Some(CloseReason::Timeout) }
//! #     fn handle_close(&mut self) { self.closed.get_or_insert(CloseReason::ConnectionLost); }
//! #     fn tls_established(&mut self) -> Result<(), NoTls> { Err(NoTls) }
//! # }
//! # let mut out = Vec::new();
//! # let mut inputs = vec![Some(Vec::new()), Some(b"hi".to_vec())];
//! # let reason = drive(&mut Echo { input: Vec::new(), closed: None }, |_| inputs.pop().unwrap(), |b| out.extend_from_slice(b), |_, ()| {});
//! # assert_eq!((out.as_slice(), reason), (&b"hi"[..], CloseReason::ConnectionLost));
//! ```

use bytes::Bytes;
use core::ops::Add;
use core::time::Duration;

/// What an adapter does next, as [`Session::poll`] says. See the [module docs](self) for
/// the rules; after acting on any variant but [`Closed`](Next::Closed), poll again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the adapter must act on what the machine asks for"]
pub enum Next<E> {
    /// Write these bytes to the peer, in order.
    Transmit(Bytes),
    /// Hand this event to the application. A decision (the event types' `is_decision`) is
    /// answered through the machine's own methods; until it is, `poll` returns
    /// [`AwaitApp`](Next::AwaitApp).
    Event(E),
    /// The machine waits for the peer: read, and give what arrives to
    /// [`receive`](Session::receive). At the end of the stream, or when the socket fails,
    /// call [`handle_close`](Session::handle_close); when the wait's deadline passes
    /// first, [`handle_timeout`](Session::handle_timeout).
    Read(Wait),
    /// Every byte to write before the upgrade was handed out: run the TLS handshake, then
    /// call [`tls_established`](Session::tls_established). When it fails, call
    /// [`handle_close`](Session::handle_close); when the wait's deadline passes first,
    /// [`handle_timeout`](Session::handle_timeout).
    UpgradeTls(Wait),
    /// The application's turn: a decision event is unanswered, or a client waits for its
    /// next command. No timer runs; the peer is not at fault. Poll again once the
    /// application has called the machine.
    AwaitApp,
    /// The session is over: close the socket. Every event and transmit came before it; every
    /// later `poll` returns the same value.
    Closed(CloseReason),
}

/// A wait on the peer: how long it may last, and which wait it is.
///
/// Two waits with the same [`id`](Wait::id) are the same wait: its deadline was fixed when
/// the id was first seen (see [`WaitTimer`]). A machine gives a new id only when the wait
/// before it was satisfied: a whole command, reply or data block arrived, a TLS upgrade
/// began, or the application answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wait {
    id: u64,
    timeout: Duration,
}

impl Wait {
    /// The wait numbered `id`, lasting `timeout` from its start.
    pub const fn new(id: u64, timeout: Duration) -> Self {
        Wait { id, timeout }
    }

    /// Which wait this is.
    pub const fn id(self) -> u64 {
        self.id
    }

    /// How long the wait may last, from its start.
    pub const fn timeout(self) -> Duration {
        self.timeout
    }
}

/// Keeps the deadline of the current [`Wait`] for an adapter, over any clock whose instants
/// add a [`Duration`] (`std::time::Instant`, `tokio::time::Instant`, a test's counter).
///
/// ```
/// use std::time::{Duration, Instant};
/// use mail_wire::session::{Wait, WaitTimer};
///
/// let mut timer = WaitTimer::new();
/// let start = Instant::now();
/// let first = timer.deadline(Wait::new(7, Duration::from_secs(300)), start);
/// // The same wait a second later (the peer sent half a command): the deadline stays.
/// let later = start + Duration::from_secs(1);
/// assert_eq!(timer.deadline(Wait::new(7, Duration::from_secs(300)), later), first);
/// // A new wait starts a new deadline.
/// assert_eq!(timer.deadline(Wait::new(8, Duration::from_secs(300)), later), later + Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitTimer<I> {
    current: Option<(u64, I)>,
}

impl<I: Copy + Add<Duration, Output = I>> WaitTimer<I> {
    /// No wait seen yet.
    pub const fn new() -> Self {
        WaitTimer { current: None }
    }

    /// The deadline of `wait`: `now + wait.timeout()` when `wait` is new, the deadline
    /// fixed before when it is the wait of the previous call.
    pub fn deadline(&mut self, wait: Wait, now: I) -> I {
        match self.current {
            Some((id, deadline)) if id == wait.id => deadline,
            _ => {
                let deadline = now + wait.timeout;
                self.current = Some((wait.id, deadline));
                deadline
            }
        }
    }
}

/// Why a session ended: one type for all four machines. The detail, where there is more to
/// say, came as an event before [`Next::Closed`] (a client's `Event::Failed`, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// QUIT was exchanged: the end the protocol provides for (RFC 5321 section 4.1.1.10,
    /// RFC 1939 section 6).
    Quit,
    /// The peer closed the connection, or the socket or the TLS handshake failed, before
    /// the end ([`Session::handle_close`]).
    ConnectionLost,
    /// A wait on the peer passed its deadline ([`Session::handle_timeout`]).
    Timeout,
    /// The peer broke the protocol (a malformed or unexpected reply, say): the session
    /// cannot stay in step.
    ProtocolViolation,
    /// The peer sent more unprocessed input than the machine holds.
    InputOverflow,
    /// The peer sent more bad commands than the configuration tolerates.
    TooManyErrors,
    /// The peer failed to log in more often than the configuration tolerates.
    TooManyFailedLogins,
    /// A server closed the service with its closing reply (SMTP 421, RFC 5321 section
    /// 3.8): sent by a server machine, or received by a client machine.
    ServiceClosing,
    /// The application asked the machine to end the session (a server shutting down, a
    /// client giving up).
    Shutdown,
    /// A client could not do what its configuration asks (the greeting or the login was
    /// refused, TLS was required and not offered, ...): the event before says why.
    Failed,
}

impl CloseReason {
    /// Whether the session ended the way the protocol provides for (QUIT).
    pub const fn is_normal(self) -> bool {
        matches!(self, CloseReason::Quit)
    }
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CloseReason::Quit => "quit",
            CloseReason::ConnectionLost => "connection lost",
            CloseReason::Timeout => "timeout",
            CloseReason::ProtocolViolation => "protocol violation",
            CloseReason::InputOverflow => "too much input",
            CloseReason::TooManyErrors => "too many errors",
            CloseReason::TooManyFailedLogins => "too many failed logins",
            CloseReason::ServiceClosing => "service closing",
            CloseReason::Shutdown => "shutdown",
            CloseReason::Failed => "failed",
        })
    }
}

/// TLS on a connection (RFC 3207 STARTTLS, RFC 2595 STLS, RFC 8314 implicit TLS): one type
/// for the clients' policy and the servers' offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsMode {
    /// No TLS: a client never upgrades; a server neither offers nor accepts the upgrade.
    Disabled,
    /// A client upgrades when the server offers it and goes on in plain text otherwise; a
    /// server offers the upgrade and does not require it.
    Opportunistic,
    /// A client upgrades or ends the session (the only policy that resists an attacker who
    /// strips the offer); a server offers the upgrade and refuses mail transactions and
    /// logins before it.
    Required,
    /// TLS from the first byte (ports 465 and 995): nothing to upgrade.
    Implicit,
}

impl TlsMode {
    /// Whether the connection starts under TLS.
    pub const fn is_implicit(self) -> bool {
        matches!(self, TlsMode::Implicit)
    }

    /// Whether an upgrade is used (client) or offered (server) on a plain connection.
    pub const fn upgrades(self) -> bool {
        matches!(self, TlsMode::Opportunistic | TlsMode::Required)
    }
}

/// How long a machine waits, by default, for a TLS handshake it asked for: no RFC names a
/// value; a minute is ample on any link and bounds a peer that never answers.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Octets of message content (a DATA or BDAT body, a RETR or TOP answer) that make one data
/// block: each block that arrives satisfies the wait for it, and the next block is a new
/// [`Wait`]. Large enough that a peer trickling bytes gains nothing by it, small enough that
/// any real link sends a block well within a data timeout (RFC 5321 section 4.5.3.2.5 counts
/// the data timeout per block, not per message).
pub const DATA_BLOCK: usize = 4096;

/// One connection's protocol state machine, driven by an adapter. The rules are in the
/// [module docs](self).
pub trait Session {
    /// What the machine tells the application (protocol- and role-specific).
    type Event;

    /// A misuse of the machine's API by the application (as opposed to a fault of the peer,
    /// which the machine answers on the wire itself).
    type UsageError: core::error::Error + Send + Sync + 'static;

    /// Buffers bytes received from the peer, split anywhere. Only buffers: the machine acts
    /// on them in [`poll`](Self::poll). Bounded: an adapter reads only when `poll` says
    /// [`Next::Read`], and a machine given far more than that ends the session with
    /// [`CloseReason::InputOverflow`].
    fn receive(&mut self, bytes: &[u8]);

    /// Advances the machine as far as it can go and says what to do next.
    fn poll(&mut self) -> Next<Self::Event>;

    /// The deadline of the wait that `poll` gave last passed: the machine answers as its
    /// protocol says (an SMTP server's 421, say) and ends the session with
    /// [`CloseReason::Timeout`]. Ignored when the machine is not waiting on the peer.
    fn handle_timeout(&mut self);

    /// The peer closed the connection, or the socket or the TLS handshake failed. Nothing
    /// half-done takes effect (no partial message is delivered, no POP3 deletion is
    /// applied); nothing more is transmitted.
    fn handle_close(&mut self);

    /// The TLS handshake that [`Next::UpgradeTls`] asked for is done. Input received before
    /// it and not yet processed is discarded (CVE-2011-0411). Refused when no upgrade was
    /// asked for, so a session is never marked secure by mistake.
    fn tls_established(&mut self) -> Result<(), Self::UsageError>;

    /// The session goes idle: the adapter is about to wait for the peer after [`Next::Read`]
    /// and the socket has nothing to read. The machine gives back the capacity of its empty
    /// buffers (input, output, event queue), so an idle session holds almost no heap; the
    /// next bytes allocate again. Called only when a read would block, not at every `Read`:
    /// within a burst the buffers are reused and a busy session allocates nothing. Changes
    /// nothing the peer or the application can see (ARCHITECTURE.md, "The session contract",
    /// rule 6). The default releases nothing.
    fn release_idle_buffers(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_keeps_its_deadline_until_its_id_changes() {
        let mut timer = WaitTimer::<Duration>::new();
        let wait = Wait::new(1, Duration::from_secs(10));
        assert_eq!(
            timer.deadline(wait, Duration::ZERO),
            Duration::from_secs(10)
        );
        // Trickled bytes: the machine gives the same wait; later calls keep the deadline.
        assert_eq!(
            timer.deadline(wait, Duration::from_secs(9)),
            Duration::from_secs(10)
        );
        let next = Wait::new(2, Duration::from_secs(10));
        assert_eq!(
            timer.deadline(next, Duration::from_secs(9)),
            Duration::from_secs(19)
        );
        // A stale id seen again is a new wait too (ids are not compared for order).
        assert_eq!(
            timer.deadline(wait, Duration::from_secs(12)),
            Duration::from_secs(22)
        );
    }

    #[test]
    fn only_quit_is_a_normal_end() {
        assert!(CloseReason::Quit.is_normal());
        assert!(!CloseReason::ConnectionLost.is_normal());
        assert!(!CloseReason::Timeout.is_normal());
    }

    #[test]
    fn tls_modes_say_whether_they_upgrade() {
        assert!(TlsMode::Opportunistic.upgrades() && TlsMode::Required.upgrades());
        assert!(!TlsMode::Disabled.upgrades() && !TlsMode::Implicit.upgrades());
        assert!(TlsMode::Implicit.is_implicit());
    }
}
