//! [`Session`]: the sans-IO contract that every session machine of `smtp-proto` and
//! `pop3-proto` follows, client and server alike.
//!
//! A machine never touches a socket, a clock or a thread. Whoever owns the socket (an adapter)
//! moves bytes and time into it and bytes out of it; the protocol-specific events in between go
//! to the application. Because all four machines share this shape, one socket loop per runtime
//! drives any of them:
//!
//! ```
//! use bytes::Bytes;
//! use core::time::Duration;
//! use mail_wire::session::Session;
//!
//! /// Moves bytes between a machine and an in-memory "socket", handing events to `on_event`.
//! fn pump<S: Session>(conn: &mut S, input: &[u8], on_event: impl Fn(S::Event), output: &mut Vec<u8>) {
//!     conn.receive(input);
//!     while let Some(event) = conn.poll_event() {
//!         on_event(event);
//!     }
//!     while let Some(bytes) = conn.poll_transmit() {
//!         output.extend_from_slice(&bytes);
//!     }
//! }
//! # struct Echo(Vec<Bytes>);
//! # #[derive(Debug)]
//! # struct NoTls;
//! # impl core::fmt::Display for NoTls {
//! #     fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result { f.write_str("no TLS") }
//! # }
//! # impl core::error::Error for NoTls {}
//! # impl Session for Echo {
//! #     type Event = ();
//! #     type UsageError = NoTls;
//! #     fn receive(&mut self, b: &[u8]) { self.0.push(Bytes::copy_from_slice(b)) }
//! #     fn poll_event(&mut self) -> Option<()> { None }
//! #     fn poll_transmit(&mut self) -> Option<Bytes> { self.0.pop() }
//! #     fn timeout(&self) -> Option<Duration> { None }
//! #     fn handle_timeout(&mut self) {}
//! #     fn handle_close(&mut self) {}
//! #     fn tls_established(&mut self) -> Result<(), NoTls> { Err(NoTls) }
//! #     fn is_closed(&self) -> bool { false }
//! # }
//! # let mut out = Vec::new();
//! # pump(&mut Echo(Vec::new()), b"hi", |_| {}, &mut out);
//! # assert_eq!(out, b"hi");
//! ```

use bytes::Bytes;
use core::time::Duration;

/// One connection's protocol state machine, driven by an adapter.
///
/// The order of calls in an adapter's loop: give it what the socket read
/// ([`receive`](Self::receive)), hand every [`poll_event`](Self::poll_event) to the
/// application (which answers decisions through the machine's own methods), write every
/// [`poll_transmit`](Self::poll_transmit) to the socket, then wait for input no longer than
/// [`timeout`](Self::timeout).
pub trait Session {
    /// What the machine tells the application (protocol- and role-specific).
    type Event;

    /// A misuse of the machine's API by the application (as opposed to a fault of the peer,
    /// which the machine answers on the wire itself).
    type UsageError: core::error::Error + Send + Sync + 'static;

    /// Buffers bytes received from the peer, split anywhere. Bounded: see
    /// [`wants_input`](Self::wants_input).
    fn receive(&mut self, bytes: &[u8]);

    /// False while the machine holds as much unprocessed input as it accepts; the adapter
    /// stops reading until events have been handled.
    fn wants_input(&self) -> bool {
        true
    }

    /// The next event for the application. An event that needs a decision blocks later
    /// events until it is answered.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// The next bytes to write to the peer, in order.
    fn poll_transmit(&mut self) -> Option<Bytes>;

    /// How long the machine may wait for the peer in its current state (RFC 5321 section
    /// 4.5.3.2, RFC 1939 section 3); `None` when it is not waiting for the peer.
    fn timeout(&self) -> Option<Duration>;

    /// The timeout passed: the machine answers as its protocol says and closes.
    fn handle_timeout(&mut self);

    /// The peer closed the connection or the socket failed. Nothing half-done takes effect
    /// (no partial message is delivered, no POP3 deletion is applied).
    fn handle_close(&mut self);

    /// The adapter completed the TLS handshake the machine asked for (STARTTLS, STLS).
    /// Input received before it and not yet processed is discarded (CVE-2011-0411). Refused
    /// when no upgrade was asked for, so a session is never marked secure by mistake.
    fn tls_established(&mut self) -> Result<(), Self::UsageError>;

    /// True once the session is over and everything to transmit was taken: the adapter
    /// closes the socket.
    fn is_closed(&self) -> bool;
}

/// Implements [`Session`] for a machine whose inherent methods already have the trait's
/// names and signatures, by delegation: the protocol crates keep their methods callable
/// without the trait in scope, and state the contract once.
///
/// ```text
/// mail_wire::impl_session!(Connection, Event, UsageError);
/// ```
#[macro_export]
macro_rules! impl_session {
    ($machine:ty, $event:ty, $usage_error:ty) => {
        impl $crate::session::Session for $machine {
            type Event = $event;
            type UsageError = $usage_error;

            fn receive(&mut self, bytes: &[u8]) {
                <$machine>::receive(self, bytes)
            }
            fn wants_input(&self) -> bool {
                <$machine>::wants_input(self)
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$machine>::poll_event(self)
            }
            fn poll_transmit(&mut self) -> Option<$crate::__private::Bytes> {
                <$machine>::poll_transmit(self)
            }
            fn timeout(&self) -> Option<core::time::Duration> {
                <$machine>::timeout(self)
            }
            fn handle_timeout(&mut self) {
                <$machine>::handle_timeout(self)
            }
            fn handle_close(&mut self) {
                <$machine>::handle_close(self)
            }
            fn tls_established(&mut self) -> Result<(), $usage_error> {
                <$machine>::tls_established(self)
            }
            fn is_closed(&self) -> bool {
                <$machine>::is_closed(self)
            }
        }
    };
}
