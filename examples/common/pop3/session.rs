//! The two POP3 machines of `pop3-proto` as [`Session`]s, so the generic socket loops of
//! [`crate::driver`] drive them.
//!
//! The machines expose the sans-IO contract as inherent methods; these newtypes only
//! delegate. The one difference: the machines' `tls_established` reports a misuse (no upgrade
//! in progress) as a `Result`, which the trait has no room for. The loops call it only after
//! the machine asked for TLS, so a misuse is a bug in the loop: it is logged, and the machine
//! is left as it was.

use std::time::Duration;

use bytes::Bytes;
use mail_wire::session::Session;
use pop3_proto::{client, server};

/// A POP3 server session ([`pop3_proto::server::Connection`]) as a [`Session`].
#[derive(Debug)]
pub struct ServerSession(pub server::Connection);

/// A POP3 client session ([`pop3_proto::client::Connection`]) as a [`Session`].
#[derive(Debug)]
pub struct ClientSession(pub client::Connection);

impl Session for ServerSession {
    type Event = server::Event;
    type UsageError = pop3_proto::server::UsageError;

    fn receive(&mut self, bytes: &[u8]) {
        self.0.receive(bytes)
    }

    fn wants_input(&self) -> bool {
        self.0.wants_input()
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        self.0.poll_event()
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.0.poll_transmit()
    }

    fn timeout(&self) -> Option<Duration> {
        self.0.timeout()
    }

    fn handle_timeout(&mut self) {
        self.0.handle_timeout()
    }

    fn handle_close(&mut self) {
        self.0.handle_close()
    }

    fn tls_established(&mut self) -> Result<(), Self::UsageError> {
        self.0.tls_established()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl Session for ClientSession {
    type Event = client::Event;
    type UsageError = pop3_proto::client::UsageError;

    fn receive(&mut self, bytes: &[u8]) {
        self.0.receive(bytes)
    }

    fn wants_input(&self) -> bool {
        self.0.wants_input()
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        self.0.poll_event()
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.0.poll_transmit()
    }

    fn timeout(&self) -> Option<Duration> {
        self.0.timeout()
    }

    fn handle_timeout(&mut self) {
        self.0.handle_timeout()
    }

    fn handle_close(&mut self) {
        self.0.handle_close()
    }

    fn tls_established(&mut self) -> Result<(), Self::UsageError> {
        self.0.tls_established()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
