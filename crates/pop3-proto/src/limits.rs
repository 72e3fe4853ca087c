//! Every size limit of the POP3 wire format, in one place, with its source and a default.

/// Size limits applied while parsing POP3 commands and responses.
///
/// Line limits count the terminating CRLF. The defaults follow RFC 2449 section 4 where it
/// gives a number and are a deliberate, documented choice where it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest command line, CRLF included: 255 octets (RFC 2449 section 4).
    pub command_line: usize,
    /// Longest argument of a command: 40 octets (RFC 2449 section 4). USER and APOP names,
    /// LANG ranges and the other single-word arguments obey it; PASS does not.
    pub argument: usize,
    /// Longest `PASS` command line, CRLF included. RFC 1939 section 7 lets the password run
    /// to the end of the line, spaces included, and real passwords and tokens exceed the
    /// 40-octet argument limit, so PASS gets its own, larger bound. Default 1024.
    pub pass_line: usize,
    /// Longest response line (status line, listing entry, CAPA line), CRLF included:
    /// 512 octets (RFC 2449 section 4).
    pub response_line: usize,
    /// Longest line of an AUTH exchange after the AUTH command (a client response or a
    /// server challenge), CRLF included. RFC 5034 keeps the AUTH command itself within the
    /// command-line limit but bounds neither continuation; default 8192, enough for
    /// OAuth bearer tokens.
    pub sasl_line: usize,
    /// Largest multi-line listing (LIST, UIDL, CAPA) parsed as one region, terminator
    /// included. Callers streaming a listing line by line are bounded by `response_line`
    /// only. Default 16 MiB: about a million LIST entries.
    pub listing: usize,
}

impl Limits {
    /// RFC 2449 section 4: a command line is at most 255 octets, CRLF included.
    pub const COMMAND_LINE: usize = 255;
    /// RFC 2449 section 4: an argument is at most 40 octets.
    pub const ARGUMENT: usize = 40;
    /// Default bound of a PASS line (see [`Limits::pass_line`]).
    pub const PASS_LINE: usize = 1024;
    /// RFC 2449 section 4: a response line is at most 512 octets, CRLF included.
    pub const RESPONSE_LINE: usize = 512;
    /// Default bound of an AUTH continuation line (see [`Limits::sasl_line`]).
    pub const SASL_LINE: usize = 8192;
    /// Default bound of a whole listing (see [`Limits::listing`]).
    pub const LISTING: usize = 16 * 1024 * 1024;

    /// The RFC defaults.
    pub const fn new() -> Self {
        Self {
            command_line: Self::COMMAND_LINE,
            argument: Self::ARGUMENT,
            pass_line: Self::PASS_LINE,
            response_line: Self::RESPONSE_LINE,
            sasl_line: Self::SASL_LINE,
            listing: Self::LISTING,
        }
    }

    /// The longest line a line framer in front of [`Command::parse_line`] must let through:
    /// the larger of `command_line` and `pass_line`.
    ///
    /// [`Command::parse_line`]: crate::Command::parse_line
    pub const fn max_command_line(&self) -> usize {
        if self.pass_line > self.command_line {
            self.pass_line
        } else {
            self.command_line
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}
