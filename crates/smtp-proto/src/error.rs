//! Errors. What the peer did wrong carries the reply a server sends for it
//! ([`CommandError::reply`](crate::CommandError::reply)); what a caller did wrong when building a value is a
//! [`ValueError`] or an [`AddressError`].

/// The outcome of parsing from a buffer: `mail_wire`'s, shared with POP3 (see its rule for
/// `consumed`).
pub use mail_wire::ParseError;
/// Why a value cannot be built: `mail_wire`'s, shared with POP3.
pub use mail_wire::ValueError;
use mail_wire::line::LineError;

/// A command line the peer sent is wrong. [`CommandError::reply`](crate::CommandError::reply) gives the reply to send
/// (RFC 5321 section 4.2.2 codes, RFC 3463 enhanced codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The verb is not an SMTP command this crate knows: 500 5.5.1.
    #[error("unrecognized command")]
    UnknownCommand,
    /// The command's shape is wrong (missing or extra argument, bad keyword): 500 5.5.2.
    #[error("syntax error in command: {0}")]
    Syntax(&'static str),
    /// A parameter or argument has a wrong value: 501 5.5.4.
    #[error("syntax error in parameters or arguments: {0}")]
    ParameterSyntax(&'static str),
    /// The line is longer than the limit (RFC 5321 section 4.5.3.1.4): 500 5.5.6.
    #[error("line too long (limit {limit} octets)")]
    LineTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// The line holds a NUL, a bare CR or a bare LF (or ends in a bare LF): 500 5.5.2.
    #[error("forbidden byte 0x{0:02x} in command line")]
    ForbiddenByte(u8),
    /// The reverse-path of MAIL is malformed: 501 5.1.7.
    #[error("bad sender address: {0}")]
    BadSender(AddressError),
    /// The forward-path of RCPT is malformed: 553 5.1.3.
    #[error("bad recipient address: {0}")]
    BadRecipient(AddressError),
    /// A non-ASCII address without SMTPUTF8 (RFC 6531 section 3.5): 553 5.6.7.
    #[error("non-ASCII address without SMTPUTF8")]
    NonAsciiAddress,
    /// 8-bit octets that are not UTF-8, or outside an address where SMTPUTF8 allows them: 500 5.5.2.
    #[error("invalid 8-bit data in command line")]
    InvalidUtf8,
    /// An ESMTP parameter the server does not support (RFC 5321 section 4.1.1.11): 555 5.5.4.
    /// The parser keeps unknown parameters; a session raises this for ones it did not advertise.
    #[error("parameter not recognized or not implemented")]
    UnsupportedParameter,
}

impl CommandError {
    /// What a command line that `mail_wire::line` found bad is, with `limit` the command line
    /// limit in force.
    pub(crate) const fn from_line_error(error: LineError, limit: usize) -> Self {
        match error {
            LineError::TooLong { .. } => CommandError::LineTooLong { limit },
            _ => CommandError::ForbiddenByte(forbidden_octet(error)),
        }
    }
}

/// The octet behind a line error that is not about length: NUL, CR or LF. (Callers take
/// `TooLong` first; it has no octet of its own and maps to LF, the octet it waits for.)
pub(crate) const fn forbidden_octet(error: LineError) -> u8 {
    match error {
        LineError::Nul => 0,
        LineError::BareCr => b'\r',
        LineError::BareLf | LineError::TooLong { .. } => b'\n',
    }
}

/// A reply line the peer sent is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line does not start with a valid reply code and separator (RFC 5321 section 4.2).
    #[error("syntax error in reply: {0}")]
    Syntax(&'static str),
    /// A continuation line carries a different code than the first line.
    #[error("reply lines carry different codes")]
    InconsistentCode,
    /// A line is longer than the limit (RFC 5321 section 4.5.3.1.5).
    #[error("reply line too long (limit {limit} octets)")]
    LineTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// The reply has more lines than the limit.
    #[error("reply has too many lines (limit {limit})")]
    TooManyLines {
        /// The limit.
        limit: usize,
    },
    /// A line holds a NUL or bare CR, or ends in a bare LF.
    #[error("forbidden byte 0x{0:02x} in reply")]
    ForbiddenByte(u8),
    /// An EHLO reply is not a positive completion (250).
    #[error("not an EHLO reply")]
    NotEhlo,
}

/// A mailbox, path or domain is malformed (RFC 5321 section 4.1.2), or too long (section 4.5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing where an address was expected.
    #[error("empty address")]
    Empty,
    /// The path is not enclosed in `<` and `>`.
    #[error("missing angle brackets")]
    MissingBrackets,
    /// The local part is malformed.
    #[error("malformed local part")]
    LocalPart,
    /// The domain is malformed.
    #[error("malformed domain")]
    Domain,
    /// The address literal (`[...]`) is malformed.
    #[error("malformed address literal")]
    AddressLiteral,
    /// The source route (`@a,@b:`) is malformed.
    #[error("malformed source route")]
    SourceRoute,
    /// Something follows the address.
    #[error("unexpected characters after the address")]
    Trailing,
    /// A part is longer than its RFC 5321 section 4.5.3.1 limit.
    #[error("too long (limit {limit} octets)")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// Non-ASCII octets where SMTPUTF8 is not in play (RFC 6531).
    #[error("non-ASCII address without SMTPUTF8")]
    NonAscii,
    /// Non-ASCII octets that are not UTF-8.
    #[error("invalid UTF-8 in address")]
    InvalidUtf8,
}
