//! SMTP wire format: every command, reply, path and EHLO keyword of RFC 5321 and its
//! extensions, parsed from and written to bytes. Sans-IO: no sockets, no clocks.
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
//! allocation). A value that exists is well formed, so writing it cannot inject CR, LF or NUL.
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
//! | 3207 | STARTTLS | [`Command::StartTls`] |
//! | 3461 | DSN: RET, ENVID, NOTIFY, ORCPT, xtext | [`MailParams`], [`RcptParams`], [`XText`] |
//! | 4954 | AUTH command, AUTH= parameter | [`Command::Auth`], [`AuthResponse`] |
//! | 6152 | 8BITMIME | [`BodyType`] |
//! | 6531 | SMTPUTF8 | [`ParseOptions::smtputf8`], [`MailParams::smtputf8`] |
//! | 8689 | REQUIRETLS | [`MailParams::requiretls`] |
//!
//! # Server sessions
//!
//! [`server::Connection`] runs one SMTP (or LMTP) server session as a sans-IO machine: feed it
//! what the socket read, answer the decisions it raises, write what it gives. A minimal
//! blocking server over `std::net::TcpStream` (no TLS, every message printed):
//!
//! ```no_run
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//!
//! use smtp_proto::server::{Config, Connection, Event};
//! use smtp_proto::{Domain, Reply};
//!
//! fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:2525")?;
//!     for stream in listener.incoming() {
//!         let mut stream = stream?;
//!         let hostname = Domain::new("mx.example").expect("valid hostname");
//!         let mut conn = Connection::new(Config::new(hostname));
//!         let mut message = Vec::new();
//!         let mut buf = [0u8; 8192];
//!         loop {
//!             while let Some(event) = conn.poll_event() {
//!                 match event {
//!                     Event::Rcpt { to, .. } if to.mailbox().is_none() => conn.accept().unwrap(),
//!                     Event::Rcpt { to, .. } if !to.mailbox().unwrap().domain_bytes()
//!                         .eq_ignore_ascii_case(b"mx.example") =>
//!                     {
//!                         conn.reject(Reply::mailbox_unavailable()).unwrap() // no open relay
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
//!                 }
//!             }
//!             while let Some(bytes) = conn.poll_transmit() {
//!                 stream.write_all(&bytes)?;
//!             }
//!             if conn.is_closed() {
//!                 break;
//!             }
//!             // A real server enforces conn.timeout() (set_read_timeout) and honours
//!             // conn.wants_input().
//!             match stream.read(&mut buf)? {
//!                 0 => {
//!                     conn.handle_close();
//!                     while conn.poll_event().is_some() {}
//!                     break;
//!                 }
//!                 n => conn.receive(&buf[..n]),
//!             }
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Sending mail: the client session
//!
//! [`client::Connection`] is the client side of a whole SMTP session as a sans-IO state
//! machine: greeting, EHLO (HELO fallback), STARTTLS, AUTH, then any number of transactions
//! (PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING), and QUIT. A minimal blocking send loop:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//!
//! use bytes::Bytes;
//! use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event, TlsPolicy};
//! use smtp_proto::{ForwardPath, Mailbox, ReversePath};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut socket = TcpStream::connect("mx.example.org:25")?;
//!     // A real client upgrades to TLS on `Event::UpgradeTls` (e.g. with rustls).
//!     let config = Config::new(EhloName::new("client.example")?).with_tls(TlsPolicy::None);
//!     let mut conn = Connection::new(config);
//!     let mut envelope = Some(Envelope::new(
//!         ReversePath::Mailbox(Mailbox::parse("jane@example.com")?),
//!         vec![ForwardPath::Mailbox(Mailbox::parse("joe@example.org")?)],
//!     ));
//!     let mut body = Some(Bytes::from_static(b"Subject: hello\r\n\r\nHi Joe.\r\n"));
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         while let Some(event) = conn.poll_event() {
//!             match event {
//!                 Event::Ready => {
//!                     if let Some(envelope) = envelope.take() {
//!                         conn.send_mail(envelope)?;
//!                     }
//!                 }
//!                 Event::MessageAccepted(reply) => {
//!                     println!("sent: {reply}");
//!                     conn.quit()?;
//!                 }
//!                 Event::MessageRejected(_)
//!                 | Event::SenderRejected(_)
//!                 | Event::NoRecipientAccepted => conn.quit()?,
//!                 Event::Error(error) => eprintln!("failed: {error}"),
//!                 _ => {}
//!             }
//!         }
//!         // Push the body while the machine wants it (never more than its bound).
//!         while conn.wants_body() {
//!             match body.take() {
//!                 Some(chunk) => conn.send_body_chunk(chunk)?,
//!                 None => conn.end_body()?,
//!             }
//!         }
//!         while let Some(bytes) = conn.poll_transmit() {
//!             socket.write_all(&bytes)?;
//!         }
//!         if conn.is_closed() {
//!             return Ok(());
//!         }
//!         socket.set_read_timeout(conn.timeout())?;
//!         match socket.read(&mut buf) {
//!             Ok(0) => conn.handle_close(),
//!             Ok(n) => conn.receive(&buf[..n]),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                 conn.handle_timeout()
//!             }
//!             Err(_) => conn.handle_close(),
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
mod options;
mod params;
mod reply;
pub mod server;
mod storage;
mod syntax;

pub use address::{AddressLiteral, Domain, ForwardPath, Mailbox, ReversePath};
pub use auth::{AuthResponse, Mechanism, MechanismName, SaslData};
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

// The README's examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
