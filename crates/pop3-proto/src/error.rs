//! Error types: what a peer sent wrong (with the `-ERR` line a server answers) and why a
//! value cannot be built.

/// The outcome of parsing from a buffer: `mail_wire`'s, shared with SMTP (see its rule for
/// `consumed`).
pub use mail_wire::ParseError;
/// Why a value cannot be built: `mail_wire`'s, shared with SMTP.
pub use mail_wire::ValueError;

use crate::command::Verb;
use crate::response::StatusLine;

/// Why a command line from a client was rejected. [`CommandError::reply`] is the `-ERR`
/// line a server sends back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The line is longer than its limit (RFC 2449 section 4), CRLF included.
    #[error("command line longer than {limit} octets")]
    LineTooLong {
        /// The limit that applied.
        limit: usize,
    },
    /// The line ends in LF without CR before it (RFC 1939 section 3 requires CRLF).
    #[error("command line ends in a bare LF")]
    BareLf,
    /// The line holds a CR not followed by LF.
    #[error("command line holds a bare CR")]
    BareCr,
    /// The line holds a NUL octet.
    #[error("command line holds a NUL octet")]
    Nul,
    /// The keyword is not a POP3 command this crate knows (or the line is empty).
    #[error("unknown command")]
    UnknownCommand,
    /// The command has too few or too many arguments, or spaces in the wrong places.
    #[error("{command}: wrong number of arguments")]
    WrongArguments {
        /// The command.
        command: Verb,
    },
    /// A message number is zero, not a number, or larger than 4294967295.
    #[error("{command}: invalid message number")]
    InvalidMsgNumber {
        /// The command.
        command: Verb,
    },
    /// Another argument is invalid.
    #[error("{command}: {error}")]
    InvalidArgument {
        /// The command.
        command: Verb,
        /// What is wrong with the argument.
        #[source]
        error: ValueError,
    },
}

impl CommandError {
    /// The text of the `-ERR` response a server sends for this error.
    pub fn reply_text(&self) -> &'static str {
        match self {
            Self::LineTooLong { .. } => "line too long",
            Self::BareLf | Self::BareCr | Self::Nul => "invalid character in command line",
            Self::UnknownCommand => "unknown command",
            Self::WrongArguments { .. } => "wrong number of arguments",
            Self::InvalidMsgNumber { .. } => "invalid message number",
            Self::InvalidArgument {
                error: ValueError::TooLong { .. },
                ..
            } => "argument too long",
            Self::InvalidArgument { .. } => "invalid argument",
        }
    }

    /// The `-ERR` response a server sends for this error (no allocation: the text is static).
    pub fn reply(&self) -> StatusLine {
        StatusLine::err_static(self.reply_text())
    }
}

/// Why a response line (or listing) from a server was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// A line is longer than its limit (RFC 2449 section 4), CRLF included.
    #[error("response line longer than {limit} octets")]
    LineTooLong {
        /// The limit that applied.
        limit: usize,
    },
    /// A line ends in LF without CR before it.
    #[error("response line ends in a bare LF")]
    BareLf,
    /// A line holds a CR not followed by LF.
    #[error("response line holds a bare CR")]
    BareCr,
    /// A line holds a NUL octet.
    #[error("response line holds a NUL octet")]
    Nul,
    /// The line starts with neither `+OK`, `-ERR` nor `+ ` (RFC 1939 section 3).
    #[error("response has no +OK or -ERR status indicator")]
    UnknownStatus,
    /// A result that needs `+OK` (STAT, LIST, UIDL) came with `-ERR`.
    #[error("expected +OK, got -ERR")]
    NotOk,
    /// A part of the response is invalid.
    #[error("invalid response: {0}")]
    Invalid(#[from] ValueError),
    /// A multi-line listing is larger than [`Limits::listing`](crate::Limits::listing).
    #[error("listing larger than {limit} octets")]
    ListingTooLong {
        /// The limit that applied.
        limit: usize,
    },
}
