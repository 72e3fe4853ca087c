//! Every size limit of the SMTP wire format, with the RFC that sets it.
//!
//! RFC 5321 section 4.5.3.1 gives the base sizes; extensions raise the command line length of
//! MAIL and RCPT by the room their parameters need. A server computes its line limit from the
//! extensions it advertises (see [`Limits::command_line_for`]).

/// Longest local part of a mailbox, in octets (RFC 5321 section 4.5.3.1.1).
pub const LOCAL_PART: usize = 64;
/// Longest domain name or address literal, in octets (RFC 5321 section 4.5.3.1.2).
pub const DOMAIN: usize = 255;
/// Longest reverse-path or forward-path including `<` and `>` (RFC 5321 section 4.5.3.1.3).
pub const PATH: usize = 256;
/// Longest command line, CRLF included (RFC 5321 section 4.5.3.1.4).
pub const COMMAND_LINE: usize = 512;
/// Longest reply line, CRLF included (RFC 5321 section 4.5.3.1.5).
pub const REPLY_LINE: usize = 512;
/// Longest line of message text, CRLF included (RFC 5321 section 4.5.3.1.6).
pub const TEXT_LINE: usize = 1000;
/// Least number of recipients a server must buffer (RFC 5321 section 4.5.3.1.8).
pub const RECIPIENTS: usize = 100;
/// Room the SIZE parameter adds to a MAIL line (RFC 1870 section 3).
pub const SIZE_PARAMETER_EXTRA: usize = 26;
/// Room the DSN parameters add to a MAIL line (RFC 3461 section 4).
pub const DSN_MAIL_EXTRA: usize = 100;
/// Room the DSN parameters add to a RCPT line (RFC 3461 section 4).
pub const DSN_RCPT_EXTRA: usize = 500;
/// Room the AUTH parameter adds to a MAIL line (RFC 4954 section 5).
pub const AUTH_PARAMETER_EXTRA: usize = 500;
/// Room the SMTPUTF8 parameter adds to MAIL and RCPT lines (RFC 6531 section 3.4).
pub const SMTPUTF8_EXTRA: usize = 10;
/// Longest AUTH command or SASL response line, CRLF included (RFC 4954 section 4).
pub const AUTH_LINE: usize = 12288;
/// Longest ENVID value in xtext form (RFC 3461 section 4.4).
pub const ENVID: usize = 100;
/// Longest ORCPT value in xtext form, type included (RFC 3461 section 4.2).
pub const ORCPT: usize = 500;
/// Lines accepted in one multi-line reply. RFC 5321 sets no bound; this keeps a reply bounded.
pub const REPLY_LINES: usize = 128;

/// The limits a parser applies; `Limits::default()` holds the RFC 5321 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included.
    pub command_line: usize,
    /// Longest reply line, CRLF included.
    pub reply_line: usize,
    /// Most lines in one reply.
    pub reply_lines: usize,
    /// Longest AUTH command or SASL response line, CRLF included.
    pub auth_line: usize,
    /// Longest local part; longer ones are refused unless leniency allows them.
    pub local_part: usize,
    /// Longest domain.
    pub domain: usize,
    /// Longest path, brackets included.
    pub path: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command_line: COMMAND_LINE,
            reply_line: REPLY_LINE,
            reply_lines: REPLY_LINES,
            auth_line: AUTH_LINE,
            local_part: LOCAL_PART,
            domain: DOMAIN,
            path: PATH,
        }
    }
}

impl Limits {
    /// The command line limit a server advertising these extensions must accept: the RFC 5321
    /// base plus the room each extension's MAIL/RCPT parameters need (RFC 1870, 3461, 4954, 6531).
    pub const fn command_line_for(size: bool, dsn: bool, auth: bool, smtputf8: bool) -> usize {
        let mut len = COMMAND_LINE;
        if size {
            len += SIZE_PARAMETER_EXTRA;
        }
        if dsn {
            len += DSN_RCPT_EXTRA;
        }
        if auth {
            len += AUTH_PARAMETER_EXTRA;
        }
        if smtputf8 {
            len += SMTPUTF8_EXTRA;
        }
        len
    }
}
