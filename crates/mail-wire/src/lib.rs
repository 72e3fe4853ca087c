//! Wire primitives that SMTP and POP3 share, for sans-IO protocol machines.
//!
//! Both protocols frame commands and replies as CRLF lines, carry message bodies dot-stuffed
//! and ended by a `.` line, and authenticate with SASL in base64 lines. This crate holds those
//! pieces once, so `smtp-proto` and `pop3-proto` run the same, tested code:
//!
//! | module | what | RFC |
//! |---|---|---|
//! | [`line`](mod@line) | [`scan_line`](line::scan_line) (one line, stateless) and [`LineFramer`](line::LineFramer) (a stream): hard length limit, bare CR/LF/NUL policy | RFC 5321 2.3.8, 4.5.3.1; RFC 1939 3 |
//! | [`decimal`] | ASCII decimal numbers: parse and write, without allocating | RFC 5234 B.1 |
//! | [`dot`] | streaming [`DotEncoder`](dot::DotEncoder) / [`DotDecoder`](dot::DotDecoder): stuffing, exact end of data, size limit, smuggling-proof | RFC 5321 4.5.2, 4.1.1.4; RFC 1939 3 |
//! | [`proxy`] | the PROXY protocol header a load balancer sends first: bounded incremental [`ProxyParser`](proxy::ProxyParser) for versions 1 and 2, and writers | HAProxy PROXY protocol v1 & v2 |
//! | [`sasl`] | PLAIN, LOGIN, XOAUTH2 messages; server and client exchanges; the base64 lines ([`SaslData`](sasl::SaslData), [`AuthResponse`](sasl::AuthResponse)), one validation for both protocols; `=` and `*` | RFC 4422, 4616, 4954, 5034 |
//! | [`parse`] | [`ParseError`]: what parsing from a buffer gives when it gives no value, and how much to skip | RFC 5321 4.5.3.1 |
//! | [`value`] | [`ValueError`]: why a value cannot be built | |
//! | [`Secret`] | credentials whose `Debug` prints nothing, wiped on drop | |
//! | [`session`] | the [`Session`](session::Session) trait: the sans-IO contract all session machines share | |
//!
//! Nothing here does I/O: every type takes bytes and gives bytes.
//!
//! To embed SMTP or POP3 in a program, start from `smtp-proto` and `pop3-proto` (their front
//! pages, and the repository's `examples/embed_*.rs`): they re-export the session vocabulary
//! ([`Next`](session::Next), [`WaitTimer`](session::WaitTimer), ...), so a program needs no
//! direct dependency on this crate.
//!
//! # Example
//!
//! A server reads a command line, then a message body, from whatever its socket delivered:
//!
//! ```
//! use bytes::BytesMut;
//! use mail_wire::dot::{DotDecoder, DotEvent};
//! use mail_wire::line::LineFramer;
//!
//! let mut received = BytesMut::from(&b"DATA\r\nSubject: hi\r\n\r\n..dot line\r\n.\r\nQUIT\r\n"[..]);
//! let mut lines = LineFramer::new(512);
//! assert_eq!(lines.next_line(&mut received).unwrap().unwrap(), "DATA");
//!
//! let mut body = Vec::new();
//! let mut decoder = DotDecoder::new().with_size_limit(10 * 1024 * 1024);
//! while let Some(event) = decoder.decode(&mut received) {
//!     match event {
//!         DotEvent::Data(chunk) => body.extend_from_slice(&chunk), // stream it to storage
//!         DotEvent::End(summary) => assert_eq!(summary.error, None),
//!     }
//! }
//! assert_eq!(body, b"Subject: hi\r\n\r\n.dot line\r\n");
//! assert_eq!(lines.next_line(&mut received).unwrap().unwrap(), "QUIT");
//! ```
//!
//! # Features
//!
//! `std` (default) implements `std::error::Error` for the error types. Without it the crate
//! is `no_std` and needs only `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod decimal;
pub mod dot;
pub mod line;
pub mod parse;
pub mod proxy;
pub mod sasl;
mod secret;
pub mod session;
pub mod value;

pub use parse::ParseError;
pub use secret::Secret;
pub use value::ValueError;
