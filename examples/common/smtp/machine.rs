//! The two SMTP machines as [`Session`]s for the socket loops: thin newtypes that delegate
//! (the trait and the machines live in other crates, so the impls need a local type).

use std::time::Duration;

use bytes::Bytes;
use mail_wire::session::Session;
use smtp_proto::{client, server};

/// The server machine, driven by [`crate::driver`].
#[derive(Debug)]
pub struct ServerMachine(pub server::Connection);

impl Session for ServerMachine {
    type Event = server::Event;
    type UsageError = server::UsageError;

    fn receive(&mut self, bytes: &[u8]) {
        self.0.receive(bytes);
    }

    fn wants_input(&self) -> bool {
        self.0.wants_input()
    }

    fn poll_event(&mut self) -> Option<server::Event> {
        self.0.poll_event()
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.0.poll_transmit()
    }

    fn timeout(&self) -> Option<Duration> {
        self.0.timeout()
    }

    fn handle_timeout(&mut self) {
        self.0.handle_timeout();
    }

    fn handle_close(&mut self) {
        self.0.handle_close();
    }

    fn tls_established(&mut self) -> Result<(), Self::UsageError> {
        self.0.tls_established()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// The client machine, driven by [`crate::driver`].
#[derive(Debug)]
pub struct ClientMachine(pub client::Connection);

impl Session for ClientMachine {
    type Event = client::Event;
    type UsageError = client::UsageError;

    fn receive(&mut self, bytes: &[u8]) {
        self.0.receive(bytes);
    }

    fn wants_input(&self) -> bool {
        self.0.wants_input()
    }

    fn poll_event(&mut self) -> Option<client::Event> {
        self.0.poll_event()
    }

    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.0.poll_transmit()
    }

    fn timeout(&self) -> Option<Duration> {
        self.0.timeout()
    }

    fn handle_timeout(&mut self) {
        self.0.handle_timeout();
    }

    fn handle_close(&mut self) {
        self.0.handle_close();
    }

    fn tls_established(&mut self) -> Result<(), Self::UsageError> {
        self.0.tls_established()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
