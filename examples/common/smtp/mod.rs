//! The SMTP adapters: `smtp-proto`'s server and client machines on sockets, under tokio and
//! with blocking threads, behind stable command lines.
//!
//! - [`args`]: the flags of the four examples.
//! - [`policy`]: the server's decisions, shared by both runtimes: local domains, no open
//!   relay, accounts, delivery through the store before the 250, the log lines.
//! - [`trace`]: the `Return-Path:` and `Received:` lines on top of each stored message.
//! - [`submission`]: the client's side of a session, shared by both runtimes.
//! - [`loadgen`]: `smtp_client_tokio --count`: many generated messages over many sessions.
//! - [`server_tokio`], [`server_blocking`], [`client_tokio`], [`client_blocking`]: listeners,
//!   connections and the few lines that differ per runtime.
//!
//! The machines implement [`Session`](mail_wire::session::Session) themselves: the socket
//! loops of [`crate::driver`] drive them as they are.
//!
//! The protocol itself (what to answer, in which state, with which code; dot-stuffing,
//! STARTTLS resets, timeouts' values, limits) is the machines' business, never done here.

pub mod args;
pub mod client_blocking;
pub mod client_tokio;
pub mod loadgen;
pub mod policy;
pub mod server_blocking;
pub mod server_tokio;
pub mod submission;
pub mod trace;
