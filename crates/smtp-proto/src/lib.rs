//! SMTP for Rust as sans-IO state machines: every command, reply, path and EHLO keyword of
//! RFC 5321 and its extensions, parsed from and written to bytes, and the server and client
//! sessions that use them. No sockets, no clocks, no threads.
//!
//! # Embedding: where to start
//!
//! Two complete programs, one file each over this crate and tokio, are the shortest way in
//! (plain TCP; the repository's `examples/`, run with `cargo run -p examples --example`):
//!
//! - `embed_smtp_server.rs ADDR DOMAIN DIR`: accepts mail for one domain, refuses others
//!   with 550 5.7.1, writes each message to a file;
//! - `embed_smtp_send.rs SERVER FROM FILE TO...`: sends one message, prints each
//!   recipient's result, exits non-zero on any refusal.
//!
//! The calls they make, the common path:
//!
//! | to | call |
//! |---|---|
//! | read an address or domain a user typed (any `&str`; `Bytes` without a copy) | `"jane@example.com".parse::<`[`Mailbox`]`>()`, [`ReversePath`], [`ForwardPath`] (`<>`, brackets optional, `Postmaster`), [`Domain`]; all `Display` |
//! | answer with a ready reply | [`Reply::relay_denied`] (550 5.7.1), [`Reply::mailbox_unavailable`] (550 5.1.1), [`Reply::too_many_recipients`], [`Reply::insufficient_storage`] (452 4.3.1), ... |
//! | answer with any other reply, checked when compiled | `reply!(550, (5, 7, 1), "Relaying denied")` ([`reply!`]) |
//! | accept a recipient of your domain only (no open relay) | [`ForwardPath::is_for_domain`] |
//! | accept the message, once stored (250) | [`server::Connection::accept_message`] |
//! | send a message in memory, `SIZE=` from its length | [`client::Envelope::with_size_of`], then [`client::Connection::send_body`] on [`client::Event::SendBody`] |
//! | report each recipient | [`client::Event::RecipientAccepted`] / [`RecipientRejected`](client::Event::RecipientRejected) `{ to, .. }` |
//!
//! # The session loop
//!
//! A session is driven by one loop, a single `match` on `poll()` (the contract of
//! ARCHITECTURE.md, [`mail_wire::session`]): write what it transmits, hand its events to the
//! application, read when it waits for the peer (before the wait's deadline), upgrade to TLS
//! when it asks, stop when it is closed. One SMTP server session, in memory:
//!
//! ```
//! use smtp_proto::server::{Config, Connection, Event};
//! use smtp_proto::{CloseReason, Domain, Next};
//!
//! let mut conn = Connection::new(Config::new(Domain::new("mx.example.org").unwrap()));
//! // What the client sent, pipelined, in one read.
//! let mut reads = vec![&b"EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\n\
//!     RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: hi\r\n\r\n..a line with a dot\r\n.\r\n\
//!     QUIT\r\n"[..]]
//! .into_iter();
//! let (mut body, mut sent) = (Vec::new(), Vec::new());
//! let reason = loop {
//!     match conn.poll() {
//!         Next::Transmit(bytes) => sent.extend_from_slice(&bytes), // socket.write_all
//!         Next::Event(Event::MessageData(chunk)) => body.extend_from_slice(&chunk),
//!         Next::Event(Event::MessageEnd { .. }) => conn.accept_message("q1").unwrap(), // 250
//!         Next::Event(event) if event.is_decision() => conn.accept().unwrap(), // MAIL, RCPT
//!         Next::Event(_) => {}
//!         // A real loop reads the socket until the wait's deadline (`WaitTimer`), then
//!         // calls `handle_timeout`; at the end of the stream, `handle_close`.
//!         Next::Read(_wait) => match reads.next() {
//!             Some(bytes) => conn.receive(bytes),
//!             None => conn.handle_close(),
//!         },
//!         Next::UpgradeTls(_) => unreachable!("no STARTTLS offered"),
//!         Next::AwaitApp => unreachable!("every decision was answered at once"),
//!         Next::Closed(reason) => break reason,
//!     }
//! };
//! assert_eq!(reason, CloseReason::Quit);
//! assert_eq!(body, b"Subject: hi\r\n\r\n.a line with a dot\r\n");
//! assert!(sent.ends_with(b"250 2.0.0 Message accepted, queued as q1\r\n221 2.0.0 Bye\r\n"));
//! ```
//!
//! [`server::Connection`] answers protocol hygiene itself and hands the application only real
//! decisions; [`client::Connection`] runs a whole client session (greeting, EHLO, STARTTLS,
//! AUTH, any number of transactions, QUIT). Both implement [`mail_wire::session::Session`].
//!
//! # The wire format
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use smtp_proto::{Command, ParseOptions, ReversePath, reply};
//!
//! // Parse a command from what the socket gave (more may follow it).
//! let input = Bytes::from_static(b"MAIL FROM:<jane@example.com> SIZE=1024 BODY=8BITMIME\r\nRCPT");
//! let (command, consumed) = Command::parse(&input, &ParseOptions::default()).unwrap();
//! let Command::Mail { from: ReversePath::Mailbox(sender), params } = &command else { panic!() };
//! assert_eq!(sender.domain_bytes(), b"example.com");
//! assert_eq!(params.size(), Some(1024));
//! assert_eq!(consumed, 54);
//!
//! // Write it back, and answer.
//! let mut out = BytesMut::new();
//! command.write(&mut out);
//! assert_eq!(&out[..], &input[..consumed]);
//! out.clear();
//! // A literal reply is checked when this is compiled: it reads back as itself.
//! reply!(250, (2, 1, 0), "Sender OK").write(&mut out);
//! assert_eq!(&out[..], b"250 2.1.0 Sender OK\r\n");
//! ```
//!
//! Parsed values hold slices of the input `Bytes` (a reference count, no copy, no
//! allocation). A value that exists is well formed, so writing it cannot inject CR, LF or NUL
//! (ARCHITECTURE.md security invariant 4).
//!
//! # Borrowed parsing
//!
//! The wire types are generic over where they keep their bytes ([`Storage`]): `Command` is
//! `Command<Bytes>`, and [`Command::parse_borrowed`] gives a `Command<&[u8]>` that borrows
//! the buffer, with no reference count at all (likewise [`Reply::parse_borrowed`],
//! [`AuthResponse::parse_borrowed`]). One parser serves both. `to_shared` turns a borrowed
//! value into a shared one, slicing the `Bytes` it was parsed from:
//!
//! ```
//! use bytes::Bytes;
//! use smtp_proto::{Command, ParseOptions};
//!
//! let input = Bytes::from_static(b"RCPT TO:<joe@example.org>\r\n");
//! let (command, _) = Command::parse_borrowed(&input, &ParseOptions::default()).unwrap();
//! let Command::Rcpt { to, .. } = &command else { panic!() };
//! assert_eq!(to.mailbox().unwrap().domain_bytes(), b"example.org");
//! // Keep it past the buffer's lifetime: a slice of `input`, not a copy.
//! let kept: Command = command.to_shared(&input);
//! assert_eq!(kept, Command::parse(&input, &ParseOptions::default()).unwrap().0);
//! ```
//!
//! | RFC | What | Where |
//! |---|---|---|
//! | 5321 | commands, replies, paths, limits | [`Command`], [`Reply`], [`address`], [`limits`] |
//! | 1870 | SIZE | [`MailParams::size`], [`Capabilities::size`] |
//! | 2033 | LMTP LHLO | [`Command::Lhlo`] |
//! | 2034, 3463 | enhanced status codes | [`EnhancedCode`] |
//! | 2920 | PIPELINING | [`Extension::Pipelining`] |
//! | 3030 | CHUNKING (BDAT), BINARYMIME | [`Command::Bdat`], [`BodyType`] |
//! | 3207 | STARTTLS | [`Command::StartTls`], [`TlsMode`] |
//! | 3461 | DSN: RET, ENVID, NOTIFY, ORCPT, xtext | [`MailParams`], [`RcptParams`], [`XText`] |
//! | 4954 | AUTH command, AUTH= parameter | [`Command::Auth`], [`AuthResponse`] |
//! | 6152 | 8BITMIME | [`BodyType`] |
//! | 6531 | SMTPUTF8 | [`ParseOptions::smtputf8`], [`MailParams::smtputf8`] |
//! | 8689 | REQUIRETLS | [`MailParams::requiretls`] |
//!
//! # Server sessions over a socket
//!
//! A minimal blocking server over `std::net::TcpStream` (no TLS, every message printed),
//! with the deadlines of the waits kept by [`WaitTimer`]:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpListener;
//! use std::time::Instant;
//!
//! use mail_wire::session::WaitTimer;
//! use smtp_proto::server::{Config, Connection, Event};
//! use smtp_proto::{Domain, Next, Reply};
//!
//! fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:2525")?;
//!     for stream in listener.incoming() {
//!         let mut stream = stream?;
//!         let hostname: Domain = "mx.example".parse().expect("valid hostname");
//!         let mut conn = Connection::new(Config::new(hostname.clone()));
//!         let mut timer = WaitTimer::new();
//!         let mut message = Vec::new();
//!         let mut buf = [0u8; 8192];
//!         let reason = loop {
//!             match conn.poll() {
//!                 Next::Transmit(bytes) => {
//!                     if stream.write_all(&bytes).is_err() {
//!                         conn.handle_close();
//!                     }
//!                 }
//!                 Next::Event(event) => match event {
//!                     // No open relay: mail for this domain (and Postmaster) only.
//!                     Event::Rcpt { to, .. } if !to.is_for_domain(&hostname) => {
//!                         conn.reject(Reply::relay_denied()).unwrap()
//!                     }
//!                     Event::MessageData(chunk) => message.extend_from_slice(&chunk),
//!                     Event::MessageAborted { .. } => message.clear(),
//!                     Event::MessageEnd { .. } => {
//!                         println!("{}", String::from_utf8_lossy(&message));
//!                         message.clear();
//!                         conn.accept_message("1").unwrap();
//!                     }
//!                     event if event.is_decision() => conn.accept().unwrap(),
//!                     _ => {}
//!                 },
//!                 Next::Read(wait) => {
//!                     let deadline = timer.deadline(wait, Instant::now());
//!                     let left = deadline.saturating_duration_since(Instant::now());
//!                     if left.is_zero() {
//!                         conn.handle_timeout();
//!                         continue;
//!                     }
//!                     stream.set_read_timeout(Some(left))?;
//!                     match stream.read(&mut buf) {
//!                         Ok(0) => conn.handle_close(),
//!                         Ok(n) => conn.receive(&buf[..n]),
//!                         Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                             conn.handle_timeout()
//!                         }
//!                         Err(_) => conn.handle_close(),
//!                     }
//!                 }
//!                 // No TLS configured, so no upgrade; no decision is left unanswered.
//!                 Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
//!                 Next::Closed(reason) => break reason,
//!             }
//!         };
//!         println!("session ended: {reason}");
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Sending mail: the client session
//!
//! [`client::Connection`] is the client side of a whole SMTP session: greeting, EHLO (HELO
//! fallback), STARTTLS, AUTH, then any number of transactions (PIPELINING, SIZE, 8BITMIME,
//! SMTPUTF8, CHUNKING), and QUIT. A minimal blocking send loop, which exits non-zero unless
//! the message was accepted for every recipient:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::Instant;
//!
//! use bytes::Bytes;
//! use mail_wire::session::WaitTimer;
//! use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event};
//! use smtp_proto::{Next, TlsMode};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut socket = TcpStream::connect("mx.example.org:25")?;
//!     // A real client upgrades to TLS on `Next::UpgradeTls` (e.g. with rustls).
//!     let config = Config::new(EhloName::new("client.example")?).with_tls(TlsMode::Disabled);
//!     let mut conn = Connection::new(config);
//!     let mut timer = WaitTimer::new();
//!     let body = Bytes::from_static(b"Subject: hello\r\n\r\nHi Joe.\r\n");
//!     let to = vec!["joe@example.org".parse()?, "ann@example.org".parse()?];
//!     // SIZE= from the body, when the server offers SIZE (RFC 1870).
//!     let mut envelope = Some(Envelope::new("jane@example.com".parse()?, to).with_size_of(&body));
//!     let (mut accepted, mut refused) = (false, false);
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         match conn.poll() {
//!             Next::Transmit(bytes) => socket.write_all(&bytes)?,
//!             Next::Event(Event::Ready) => conn.send_mail(envelope.take().ok_or("sent")?)?,
//!             Next::Event(Event::RecipientAccepted { to, reply, .. }) => println!("{to}: {reply}"),
//!             Next::Event(Event::RecipientRejected { to, failure, .. }) => {
//!                 refused = true;
//!                 println!("{to}: {failure}");
//!             }
//!             Next::Event(Event::SendBody) => conn.send_body(body.clone())?,
//!             Next::Event(Event::MessageAccepted(reply)) => {
//!                 accepted = true;
//!                 println!("sent: {reply}");
//!                 conn.quit()?;
//!             }
//!             // The transaction ended without delivery; `Failed` comes before `Closed`.
//!             Next::Event(
//!                 Event::MessageRejected(_) | Event::SenderRejected(_) | Event::NoRecipientAccepted,
//!             ) => conn.quit()?,
//!             Next::Event(_) => {}
//!             Next::Read(wait) => {
//!                 let left = timer
//!                     .deadline(wait, Instant::now())
//!                     .saturating_duration_since(Instant::now());
//!                 if left.is_zero() {
//!                     conn.handle_timeout();
//!                     continue;
//!                 }
//!                 socket.set_read_timeout(Some(left))?;
//!                 match socket.read(&mut buf) {
//!                     Ok(0) => conn.handle_close(),
//!                     Ok(n) => conn.receive(&buf[..n]),
//!                     Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                         conn.handle_timeout()
//!                     }
//!                     Err(_) => conn.handle_close(),
//!                 }
//!             }
//!             // TLS is disabled above; every transaction event is answered at once.
//!             Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
//!             Next::Closed(_) if accepted && !refused => return Ok(()),
//!             Next::Closed(reason) => return Err(format!("not delivered to all ({reason})").into()),
//!         }
//!     }
//! }
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
extern crate alloc;

pub mod address;
mod auth;
mod capability;
pub mod client;
mod command;
mod error;
pub mod limits;
mod octets;
mod options;
mod params;
mod reply;
pub mod server;
mod storage;
mod syntax;

pub use address::{AddressLiteral, Domain, ForwardPath, Mailbox, ReversePath};
pub use auth::{AuthResponse, Mechanism, MechanismName, SaslData, SaslError};
pub use capability::{AuthMechanisms, Capabilities, Capability, Extension};
pub use command::{Argument, Command};
pub use error::{AddressError, CommandError, ParseError, ReplyError, ValueError};
pub use limits::Limits;
pub use options::{Leniency, ParseOptions};
pub use params::{
    BodyType, EsmtpParam, ExtensionParams, MailParams, Notify, OriginalRecipient, RcptParams, Ret,
    XText,
};
pub use reply::{Category, Class, Code, EnhancedCode, Reply, ReplyLines, ReplyText, StaticReply};
pub use storage::Storage;

// The session vocabulary both protocol crates share (ARCHITECTURE.md, "One vocabulary").
pub use mail_wire::session::{CloseReason, Next, Session, TlsMode, Wait, WaitTimer};

// The README's examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
