//! SMTP wire format: every command, reply, path and EHLO keyword of RFC 5321 and its
//! extensions, parsed from and written to bytes. Sans-IO: no sockets, no clocks.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use smtp_proto::{Command, ParseOptions, Reply, ReversePath};
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
//! Reply::sender_ok().write(&mut out);
//! assert_eq!(&out[..], b"250 2.1.0 Sender OK\r\n");
//! ```
//!
//! Parsed values hold slices of the input `Bytes` (a reference count, no copy, no
//! allocation). A value that exists is well formed, so writing it cannot inject CR, LF or NUL.
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
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
extern crate alloc;

pub mod address;
mod auth;
mod capability;
mod command;
mod error;
pub mod limits;
mod options;
mod params;
mod reply;
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
pub use reply::{Category, Class, Code, EnhancedCode, Reply, ReplyLines, ReplyText};
