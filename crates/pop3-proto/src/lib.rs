//! The POP3 wire format: every command and response of RFC 1939 and its extensions,
//! parsed from [`Bytes`] without copying and written into [`BytesMut`].
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
//! no CR, LF or NUL can reach the wire through an argument.
//!
//! Session state (which command is allowed when, AUTH exchanges, STLS) lives in the
//! session machines, not here.
//!
//! # A minimal server
//!
//! [`server::Connection`] runs one session; the adapter owns the socket, the clock and the
//! store. A blocking loop over `std::net::TcpStream` (no TLS here, so the config must allow
//! plaintext logins):
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpListener;
//!
//! use pop3_proto::UniqueId;
//! use pop3_proto::server::{Config, Connection, Event, Login, LoginRefusal, Maildrop};
//!
//! let mut store: Vec<&[u8]> = vec![b"Subject: hello\r\n\r\nHi!\r\n"];
//! let (mut socket, _) = TcpListener::bind("127.0.0.1:1100")?.accept()?;
//! let config = Config::default().with_plaintext_auth_without_tls(true);
//! let mut conn = Connection::new(config);
//! let mut buf = [0u8; 8192];
//! loop {
//!     if let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Login(Login::UserPass { name, password })
//!                 if name.as_bytes() == b"alice" && password.expose() == b"secret" =>
//!             {
//!                 let mut maildrop = Maildrop::new();
//!                 for (i, message) in store.iter().enumerate() {
//!                     maildrop.push(message.len() as u64, UniqueId::new(format!("m{i}"))?);
//!                 }
//!                 conn.accept(maildrop)?;
//!             }
//!             Event::Login(_) => conn.reject(LoginRefusal::BadCredentials)?,
//!             Event::Retrieve(wanted) => {
//!                 conn.send_message_chunk(store[wanted.index])?;
//!                 conn.end_message()?;
//!             }
//!             Event::Commit { deleted } => {
//!                 for message in deleted.iter().rev() {
//!                     store.remove(message.index);
//!                 }
//!                 conn.commit_succeeded()?;
//!             }
//!             _ => {}
//!         }
//!         continue;
//!     }
//!     if let Some(bytes) = conn.poll_transmit() {
//!         socket.write_all(&bytes)?;
//!         continue;
//!     }
//!     if conn.is_closed() {
//!         break;
//!     }
//!     socket.set_read_timeout(conn.timeout())?;
//!     match socket.read(&mut buf) {
//!         Ok(0) => conn.handle_close(),
//!         Ok(n) => conn.receive(&buf[..n]),
//!         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!             conn.handle_timeout()
//!         }
//!         Err(_) => conn.handle_close(),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # A minimal client
//!
//! [`client::Connection`] logs in by itself (CAPA, STLS, the best method allowed, the next
//! one when the server refuses it, CAPA again once logged in) and then runs the commands
//! the application queues. This one keeps mail on the server: it fetches
//! the messages whose unique ids it has not seen ([`client::plan_download`]). Again no TLS
//! here, so the config must allow plaintext credentials:
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use pop3_proto::client::{Config, Connection, Event, TlsMode, plan_download};
//!
//! let seen: Vec<&[u8]> = vec![b"m0"]; // unique ids downloaded in earlier sessions
//! let mut socket = TcpStream::connect("127.0.0.1:1100")?;
//! let config = Config::default()
//!     .with_password("alice", "secret")
//!     .with_tls(TlsMode::Disabled)
//!     .with_plaintext_auth(true);
//! let mut conn = Connection::new(config);
//! let mut message = Vec::new();
//! let mut buf = [0u8; 8192];
//! while !conn.is_closed() {
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Authenticated(_) => conn.uidl(None)?,
//!             Event::UidList(listing) => {
//!                 for entry in plan_download(&listing, seen.iter().copied()).fetch {
//!                     conn.retr(entry.msg)?;
//!                 }
//!                 conn.quit()?;
//!             }
//!             Event::MessageData(chunk) => message.extend_from_slice(&chunk),
//!             Event::MessageEnd(_) => message.clear(), // store the message first
//!             Event::Failed(error) => eprintln!("session failed: {error}"),
//!             _ => {}
//!         }
//!     }
//!     while let Some(bytes) = conn.poll_transmit() {
//!         socket.write_all(&bytes)?;
//!     }
//!     if conn.is_closed() {
//!         break;
//!     }
//!     socket.set_read_timeout(conn.timeout())?;
//!     match socket.read(&mut buf) {
//!         Ok(0) | Err(_) => conn.handle_close(), // a timeout would be handle_timeout()
//!         Ok(n) => conn.receive(&buf[..n]),
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
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
