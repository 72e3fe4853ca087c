//! Error types: what a peer sent wrong (with the `-ERR` line a server answers) and why a
//! value cannot be built.

use crate::command::Verb;
use crate::response::StatusLine;

/// The outcome of parsing from the front of a buffer that did not give a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError<E> {
    /// No complete line (or, for a listing, no terminating `.` line) yet, and the line
    /// limit is not reached: read more input and parse again from the same start.
    #[error("incomplete input: waiting for the end of the line")]
    Incomplete,
    /// The input is invalid.
    #[error("{error}")]
    Invalid {
        /// What was wrong.
        error: E,
        /// Octets to drop from the front of the input before parsing the next item: the
        /// whole bad line (or listing) with its line ending. For a line over its limit with
        /// no line ending yet, everything given so far; the caller then keeps discarding up
        /// to the next LF (as `mail_wire::line::LineFramer` does).
        consumed: usize,
    },
}

impl<E> ParseError<E> {
    /// Whether more input is needed.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Self::Incomplete)
    }

    /// The error, unless the input is merely incomplete.
    pub fn error(&self) -> Option<&E> {
        match self {
            Self::Incomplete => None,
            Self::Invalid { error, .. } => Some(error),
        }
    }
}

/// Why a value (an argument, a text, a code) is not acceptable on the wire.
///
/// Constructors return it, so that a value which exists is always safe to write: no
/// argument can carry CR, LF or NUL into an outgoing line (ARCHITECTURE.md security invariant 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value must not be empty.
    #[error("{what} is empty")]
    Empty {
        /// Which value.
        what: &'static str,
    },
    /// The value is longer than its limit.
    #[error("{what} is longer than {limit} octets")]
    TooLong {
        /// Which value.
        what: &'static str,
        /// The limit, in octets.
        limit: usize,
    },
    /// The value holds an octet it may not hold (CR, LF, NUL, a space in a word, ...).
    #[error("{what} contains the forbidden octet 0x{octet:02x}")]
    ForbiddenOctet {
        /// Which value.
        what: &'static str,
        /// The first offending octet.
        octet: u8,
    },
    /// The value does not follow its grammar.
    #[error("{what} is malformed")]
    Malformed {
        /// Which value.
        what: &'static str,
    },
    /// A number is zero where zero is not allowed, or does not fit its type.
    #[error("{what} is out of range")]
    OutOfRange {
        /// Which value.
        what: &'static str,
    },
}

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
