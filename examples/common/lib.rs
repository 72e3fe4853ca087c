//! `adapters`: the protocol-independent layer under the examples of `smtp-proto` and
//! `pop3-proto`: Maildir storage, TLS configuration and command-line pieces.
//!
//! The layers, each pointing only downwards:
//!
//! ```text
//! examples/<name>.rs        a short `main`: parse flags, call an adapter
//!   -> adapters (here)      socket loops, TLS, storage, CLI; no protocol logic
//!     -> smtp-proto / pop3-proto   the sans-IO session machines and wire types
//!       -> mail-wire        line framing, dot-stuffing, SASL, Secret
//! ```
//!
//! Protocol logic (what to answer, when, with which code) lives in the protocol crates, never
//! here: an adapter moves bytes between a socket and a machine, and does what the machine asks
//! (start TLS, store a message, list a maildrop). What is here knows only the storage semantics
//! the protocols need: atomic delivery before SMTP's 250, POP3 sizes as sent, unique-ids,
//! deletion at QUIT and one session per maildrop.
//!
//! Where to read first: how a machine is driven, then the protocols' adapters; storage last.
//!
//! - [`driver`]: the socket loops (tokio, blocking) that drive any session machine.
//! - [`serve`]: what every server and client shares in shape: the defaults (TLS handshake
//!   timeout, connect timeout, shutdown grace) and the stop (`serve`, `serve_until`).
//! - [`smtp`]: the SMTP servers and clients (tokio, blocking): one runtime-independent
//!   session policy (no open relay, delivery before 250) under two thin runtime wrappers.
//! - [`pop3`]: the POP3 servers and clients (tokio, blocking), laid out the same way.
//! - [`limits`]: how many connections a server holds at once, in all and per client.
//! - [`proxy`]: the PROXY protocol on the servers' listeners (behind a load balancer):
//!   trusted networks, the header read before the greeting.
//! - [`tls`]: rustls configurations (ring provider), self-signed certificates via rcgen.
//! - [`cli`]: shared clap flags, `USER:PASS` and `HOST:PORT` values, logging.
//! - [`maildir`]: the Maildir engine behind a narrow interface: deliver, list, read, commit
//!   deletions (the protocol adapters use nothing else).
//! - [`store`]: the SMTP server's message store, a Maildir per local part or a counting sink.
//!
//! ```
//! use std::io::{Read, Write};
//! use adapters::maildir::Maildir;
//!
//! # fn main() -> std::io::Result<()> {
//! # let dir = tempfile::tempdir()?;
//! let maildir = Maildir::open_or_create(dir.path().join("alice"))?;
//! let mut delivery = maildir.deliver()?;
//! delivery.write_all(b"Subject: hi\n\nbare LF lines\n")?; // as another agent might store it
//! delivery.commit()?;
//!
//! let messages = maildir.scan()?;
//! let mut served = Vec::new();
//! maildir.open_message(&messages[0])?.read_to_end(&mut served)?;
//! assert_eq!(served, b"Subject: hi\r\n\r\nbare LF lines\r\n");
//! assert_eq!(messages[0].wire_size(), served.len() as u64);
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

pub mod cli;
pub mod driver;
pub mod limits;
pub mod maildir;
pub mod pop3;
pub mod proxy;
pub mod serve;
pub mod smtp;
pub mod store;
pub mod tls;
