//! The POP3 adapters: servers and clients, tokio and blocking, around the session machines of
//! `pop3-proto`, over Maildirs.
//!
//! - [`policy`]: the server's side of a session, the same under both runtimes: the login
//!   decision, the messages served, the deletions at QUIT, the log lines; the file-system work
//!   handed to the runtime as a value. [`server`]: the flags, the server-wide options, the
//!   machine's configuration per connection. [`accounts`]: password and APOP checks.
//!   [`maildrop`]: a user's maildrop for a session (lock, listing, deletion at QUIT only).
//! - [`server_tokio`], [`server_blocking`]: the thin runtime wrappers: listeners, TLS, the
//!   socket loop; they serve the Maildir `DIR/<user>` of each account on a plain port (STLS
//!   offered) and optionally an implicit-TLS port (RFC 8314). Each has `serve` and
//!   `serve_until` ([`crate::serve`]).
//! - [`client_tokio`], [`client_blocking`]: download a maildrop into a local Maildir, deleting
//!   on the server (`--delete`) or leaving mail there and remembering unique-ids
//!   ([`client`], [`uid_memory`]).
//!
//! The machines implement [`Session`](mail_wire::session::Session) themselves: the socket
//! loops of [`crate::driver`] drive them as they are.
//!
//! What to answer when is the machines' business; here is only what they ask the application:
//! is this login valid, what is in the maildrop, what does message N contain, remove these.

pub mod accounts;
pub mod client;
pub mod client_blocking;
pub mod client_tokio;
pub mod maildrop;
pub mod policy;
pub mod server;
pub mod server_blocking;
pub mod server_tokio;
pub mod uid_memory;
