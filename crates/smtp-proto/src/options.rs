//! How strictly to read commands: limits, SMTPUTF8, and the named deviations real clients need.

use crate::limits::Limits;

/// Options of the command parser. `ParseOptions::default()` is strict RFC 5321.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Size limits (line length above all).
    pub limits: Limits,
    /// UTF-8 addresses are allowed (RFC 6531): the session sets this for the RCPTs of a
    /// transaction whose MAIL carried SMTPUTF8. A MAIL command carrying SMTPUTF8 allows
    /// UTF-8 in its own reverse-path whatever this says.
    pub smtputf8: bool,
    /// Deviations from the RFC to tolerate.
    pub leniency: Leniency,
}

/// Deviations from RFC 5321 that real clients commit, each off unless named.
/// Verbs are case-insensitive always (RFC 5321 section 2.4), so that is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leniency {
    /// `MAIL FROM: <a@b>` and `RCPT TO: <a@b>`: a space after the colon.
    pub space_after_colon: bool,
    /// `MAIL FROM:a@b`: a path without angle brackets.
    pub bare_address: bool,
    /// Runs of spaces between parameters and trailing spaces at the end of the line.
    pub extra_whitespace: bool,
    /// Local parts longer than 64 octets (RFC 5321 section 4.5.3.1 asks servers to accept
    /// longer objects where they can; VERP and SRS addresses exceed it).
    pub long_local_part: bool,
    /// A command line ending in a bare LF instead of CRLF (the line, not the message body:
    /// message data ends only at CRLF.CRLF whatever this says).
    pub bare_lf: bool,
}

impl Leniency {
    /// Everything strict (the default).
    pub const STRICT: Leniency = Leniency {
        space_after_colon: false,
        bare_address: false,
        extra_whitespace: false,
        long_local_part: false,
        bare_lf: false,
    };

    /// Every deviation tolerated.
    pub const LAX: Leniency = Leniency {
        space_after_colon: true,
        bare_address: true,
        extra_whitespace: true,
        long_local_part: true,
        bare_lf: true,
    };
}
