//! POP3 (RFC 1939 and its extensions) for sans-IO programs: the wire format, and the client
//! and server session machines, which never touch a socket, a clock or a thread.
//!
//! # Embedding: where to start
//!
//! Two complete programs, one file each over this crate and tokio, are the shortest way in
//! (plain TCP; the repository's `examples/`, run with `cargo run -p examples --example`):
//!
//! - `embed_pop3_server.rs ADDR DIR USER PASS`: serves the `.eml` files of a directory and
//!   deletes, at QUIT only, what the client deleted;
//! - `embed_pop3_fetch.rs SERVER USER PASS OUTDIR`: saves every message, deleting nothing.
//!
//! The calls every server makes:
//!
//! | to | call |
//! |---|---|
//! | check a password, whatever way the client sent it (USER/PASS, AUTH PLAIN as curl does, AUTH LOGIN) | [`Login::verify_password`](server::Login::verify_password), or [`Login::password`](server::Login::password) for the pair |
//! | check APOP | [`ApopLogin::verify`](server::ApopLogin::verify) against the stored secret |
//! | check XOAUTH2 | the bearer token in [`Login::Sasl`](server::Login::Sasl) `{ credentials: Credentials::OAuth2(..) }`, with its issuer |
//! | list a message from its stored bytes (LF or CRLF lines) with the size LIST must say | [`Maildrop::push_message`](server::Maildrop::push_message) |
//! | serve it | [`send_message_chunk`](server::Connection::send_message_chunk) (CRLF and dot-stuffing done), [`end_message`](server::Connection::end_message) |
//! | delete at QUIT | [`Event::Commit`](server::Event::Commit), then [`commit_succeeded`](server::Connection::commit_succeeded) |
//!
//! Names and ids a user types parse with `str::parse` ([`Name`], [`UniqueId`]) and print
//! with `Display`; constructors take `&str` of any lifetime, or `Bytes` without a copy.
//!
//! # The session loop
//!
//! A session machine is driven by one call, [`poll`](client::Connection::poll), which says
//! what to do next as a [`Next`]: a loop is a single `match` on it. Here a client fetches and
//! deletes a message from a server whose answers are scripted (RFC 1939 section 10: APOP, no
//! CAPA):
//!
//! ```
//! use pop3_proto::client::{Config, Connection, Event};
//! use pop3_proto::{CloseReason, MsgNumber, Next, TlsMode};
//!
//! // What the server sends, one answer per read.
//! let mut answers = [
//!     &b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"[..],
//!     b"-ERR unknown command\r\n", // to CAPA: a plain RFC 1939 server
//!     b"+OK mrose's maildrop has 1 message (29 octets)\r\n",
//!     b"+OK 29 octets\r\nSubject: hi\r\n\r\n..a dot line\r\n.\r\n",
//!     b"+OK message 1 deleted\r\n",
//!     b"+OK dewey POP3 server signing off (maildrop empty)\r\n",
//! ]
//! .into_iter();
//! // No TLS here: APOP sends only a digest, so no password travels in the clear.
//! let config = Config::default().with_password("mrose", "tanstaaf").with_tls(TlsMode::Disabled);
//! let mut conn = Connection::new(config);
//! let (mut sent, mut message) = (Vec::new(), Vec::new());
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => sent.extend_from_slice(&bytes), // write to the socket
//!         Next::Event(Event::Authenticated(_)) => {
//!             let first = MsgNumber::new(1).ok_or("message 0")?;
//!             conn.retr(first)?;
//!             conn.dele(first)?;
//!             conn.quit()?;
//!         }
//!         Next::Event(Event::MessageData(chunk)) => message.extend_from_slice(&chunk),
//!         Next::Event(_) => {}
//!         // Read from the socket within `wait.timeout()`; `handle_timeout` past it.
//!         Next::Read(_wait) => match answers.next() {
//!             Some(bytes) => conn.receive(bytes),
//!             None => conn.handle_close(), // end of stream
//!         },
//!         Next::UpgradeTls(_) | Next::AwaitApp => unreachable!("no STLS; QUIT was queued"),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! assert_eq!(reason, CloseReason::Quit);
//! assert_eq!(message, b"Subject: hi\r\n\r\n.a dot line\r\n");
//! assert_eq!(
//!     String::from_utf8(sent)?,
//!     "CAPA\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Both machines keep the contract of `mail_wire::session` (ARCHITECTURE.md, "The session
//! contract"): [`receive`](client::Connection::receive) only buffers; `poll` returns the
//! next event, else the bytes to write, else the end ([`Next::Closed`] with a
//! [`CloseReason`], once, after everything else), else what the machine waits for: the
//! application ([`Next::AwaitApp`]), a TLS handshake ([`Next::UpgradeTls`]) or the peer
//! ([`Next::Read`]). Every wait on the peer carries a deadline that trickled bytes cannot
//! move. [`server::Connection`] and [`client::Connection`] describe their loops.
//!
//! # The wire format
//!
//! Every command and response of RFC 1939 and its extensions, parsed from [`Bytes`] without
//! copying and written into [`BytesMut`]:
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use pop3_proto::{Command, Limits, MsgNumber, ScanList, StatusLine};
//!
//! let limits = Limits::default();
//!
//! // Server side: parse what a client sent (any split; a prefix is `Incomplete`).
//! let input = Bytes::from_static(b"RETR 1\r\nQUIT\r\n");
//! let (command, used) = Command::parse(&input, &limits)?;
//! assert_eq!(command, Command::Retr(MsgNumber::new(1).unwrap()));
//! assert_eq!(used, 8);
//!
//! // Client side: write a command, then read a status line and a listing.
//! let mut out = BytesMut::new();
//! Command::List(None).write(&mut out);
//! assert_eq!(&out[..], b"LIST\r\n");
//!
//! let reply = Bytes::from_static(b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n");
//! let (status, used) = StatusLine::parse(&reply, &limits)?;
//! assert!(status.is_ok());
//! let (listing, _) = ScanList::parse(&reply.slice(used..), &limits)?;
//! let sizes: Vec<u64> = listing.iter().map(|entry| entry.size).collect();
//! assert_eq!(sizes, [120, 200]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is covered
//!
//! | RFC | What | Where |
//! |---|---|---|
//! | 1939 | USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL; `+OK`/`-ERR`; scan and unique-id listings | [`Command`], [`StatusLine`], [`Stat`], [`ScanListing`], [`UidListing`], [`Listing`] |
//! | 1939 section 7 | APOP timestamp and MD5 digest | [`Timestamp`], [`ApopDigest`] |
//! | 2449 | CAPA, capabilities, extended response codes, line and argument limits | [`Capability`], [`ResponseCode`], [`Limits`] |
//! | 2595 | STLS command and capability | [`Command::Stls`], [`Capability::Stls`] |
//! | 3206 | `SYS/TEMP`, `SYS/PERM`, `AUTH` response codes, `AUTH-RESP-CODE` | [`ResponseCode`], [`Capability::AuthRespCode`] |
//! | 5034 | AUTH with initial response (`=` for empty), `+ ` challenges, `*` cancel | [`Command::Auth`], [`Continuation`], [`AuthResponse`] |
//! | 6856 | UTF8 and LANG commands and capabilities, `UTF8` response code | [`Command::Utf8`], [`Command::Lang`], [`Capability::Utf8`] |
//!
//! # Shape of the API
//!
//! Every line type has `parse(&Bytes, &Limits) -> Result<(T, consumed), ParseError<_>>`
//! for input straight from a socket, `parse_line(Bytes, &Limits)` for a line already framed
//! (without CRLF) by `mail_wire::line::LineFramer`, and `write(&self, &mut BytesMut)`.
//! The SASL lines ([`AuthResponse`], [`SaslData`]) are `mail_wire`'s, shared with SMTP:
//! their `parse` takes the line limit, [`Limits::sasl_line`]. [`ParseError`] says how much
//! of the input a bad line takes (`consumed`), by one rule for both protocols.
//! Parsed values hold [`Bytes`] slices of the input: parsing allocates nothing.
//! Multi-line listings (LIST, UIDL, CAPA) keep their raw region and parse entries lazily.
//! Message bodies (RETR, TOP) are not parsed here: after the `+OK` [`StatusLine`], stream
//! them through `mail_wire::dot::DotDecoder`, and write them with `DotEncoder`.
//!
//! Values are validated when built, so a value that exists writes a well-formed line:
//! no CR, LF or NUL can reach the wire through an argument (ARCHITECTURE.md security
//! invariant 4).
//!
//! Session state (which command is allowed when, AUTH exchanges, STLS) lives in the
//! session machines, not here. `#[non_exhaustive]` marks every enum that a later RFC or
//! version of the crate can extend (events, errors, reasons, refusals, keywords) and every
//! configuration struct (build them with `default()` and the `with_*` methods).
//!
//! # A minimal server
//!
//! [`server::Connection`] runs one session; the adapter owns the socket, the clock and the
//! store. A blocking loop over `std::net::TcpStream` (no TLS here, so the config must allow
//! plaintext logins), reading with the machine's deadline:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpListener;
//! use std::time::Instant;
//!
//! use mail_wire::session::WaitTimer;
//! use pop3_proto::server::{Config, Connection, Event, LoginRefusal, Maildrop};
//! use pop3_proto::{Next, UniqueId};
//!
//! let mut store: Vec<&[u8]> = vec![b"Subject: hello\r\n\r\nHi!\r\n"];
//! let (mut socket, _) = TcpListener::bind("127.0.0.1:1100")?.accept()?;
//! let config = Config::default().with_plaintext_auth_without_tls(true);
//! let mut conn = Connection::new(config);
//! let mut timer = WaitTimer::new();
//! let mut buf = [0u8; 8192];
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => socket.write_all(&bytes)?,
//!         // USER/PASS, AUTH PLAIN and AUTH LOGIN alike: a client that prefers SASL works.
//!         Next::Event(Event::Login(login)) if login.verify_password(b"alice", b"secret") => {
//!             let mut maildrop = Maildrop::new();
//!             for (i, message) in store.iter().enumerate() {
//!                 maildrop.push_message(message, UniqueId::new(format!("m{i}"))?);
//!             }
//!             conn.accept(maildrop)?;
//!         }
//!         Next::Event(Event::Login(_)) => conn.reject(LoginRefusal::BadCredentials)?,
//!         Next::Event(Event::Retrieve(wanted)) => {
//!             conn.send_message_chunk(store[wanted.index])?;
//!             conn.end_message()?;
//!         }
//!         Next::Event(Event::Commit { deleted }) => {
//!             for message in deleted.iter().rev() {
//!                 store.remove(message.index);
//!             }
//!             conn.commit_succeeded()?;
//!         }
//!         Next::Event(_) => {}
//!         Next::Read(wait) => {
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
//!         // STLS is not offered by this configuration; every decision is answered above.
//!         Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! println!("session ended: {reason}, {} deletions discarded", conn.discarded_deletions());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A minimal client
//!
//! [`client::Connection`] logs in by itself (CAPA, STLS, the best method allowed, the next
//! one when the server refuses it, CAPA again once logged in) and then runs the commands
//! the application queues. This one keeps mail on the server: it fetches the messages whose
//! unique ids it has not seen ([`client::plan_download`]). The [`client`] module shows the
//! socket loop with its deadlines; here the decisions only:
//!
//! ```
//! use pop3_proto::client::{Connection, Event, UsageError, plan_download};
//!
//! /// The application's part of the loop: what to do with each event `poll` gives.
//! fn on_event(
//!     conn: &mut Connection,
//!     event: Event,
//!     seen: &[&[u8]], // unique ids downloaded in earlier sessions
//!     message: &mut Vec<u8>,
//! ) -> Result<(), UsageError> {
//!     match event {
//!         Event::Authenticated(_) => conn.uidl(None)?,
//!         Event::UidList(listing) => {
//!             for entry in plan_download(&listing, seen.iter().copied()).fetch {
//!                 conn.retr(entry.msg)?;
//!             }
//!             conn.quit()?;
//!         }
//!         Event::MessageData(chunk) => message.extend_from_slice(&chunk),
//!         Event::MessageEnd(_) => message.clear(), // store the message first
//!         // The session is over; nothing fetched after this point: the caller reports
//!         // the error from the `Closed` reason (and exits non-zero).
//!         Event::Failed(_) => {}
//!         _ => {}
//!     }
//!     Ok(())
//! }
//! # let _ = on_event;
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod apop;
mod capability;
pub mod client;
mod command;
mod error;
mod lexical;
mod limits;
mod listing;
mod response;
mod sasl;
pub mod server;

pub use bytes::{Bytes, BytesMut};
// The session vocabulary both protocol crates share (ARCHITECTURE.md, "One vocabulary"):
// a program that drives a machine needs no other crate for it.
pub use mail_wire::session::{CloseReason, Next, Session, TlsMode, Wait, WaitTimer};

pub use apop::{ApopDigest, Timestamp};
pub use capability::{Capability, ExpirePolicy, Mechanisms, OtherCapability};
pub use command::{Command, LangRange, MsgNumber, Name, Password, Verb};
pub use error::{CommandError, ParseError, ResponseError, ValueError};
pub use limits::Limits;
pub use listing::{
    CapabilityList, Listing, ListingEntry, ListingIter, ListingLine, ScanList, ScanListing,
    UidList, UidListing, UniqueId,
};
pub use response::{
    Continuation, OtherCode, Response, ResponseCode, Stat, Status, StatusLine, Text,
};
pub use sasl::{AuthResponse, Mechanism, SaslData};
