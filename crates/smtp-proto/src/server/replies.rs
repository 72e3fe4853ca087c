//! Replies the server sends that the wire layer has no constructor for yet, written straight
//! into the output buffer (no allocation).

use bytes::BytesMut;
use core::fmt::Write as _;

/// A reply line known at compile time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Canned {
    pub(crate) code: u16,
    pub(crate) enhanced: Option<(u8, u16, u16)>,
    pub(crate) text: &'static str,
}

impl Canned {
    const fn new(code: u16, enhanced: (u8, u16, u16), text: &'static str) -> Canned {
        Canned {
            code,
            enhanced: Some(enhanced),
            text,
        }
    }

    /// Writes the line; `enhanced` says whether enhanced codes are on (RFC 2034).
    pub(crate) fn write(&self, out: &mut BytesMut, enhanced: bool) {
        start_line(out, self.code, if enhanced { self.enhanced } else { None });
        out.extend_from_slice(self.text.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Writes `code SP [enhanced SP]`, the start of a last (or only) reply line.
pub(crate) fn start_line(out: &mut BytesMut, code: u16, enhanced: Option<(u8, u16, u16)>) {
    // Writing into a BytesMut cannot fail.
    let _ = write!(out, "{code} ");
    if let Some((class, subject, detail)) = enhanced {
        let _ = write!(out, "{class}.{subject}.{detail} ");
    }
}

/// 421 4.7.0: the error budget of the session is spent.
pub(crate) const TOO_MANY_ERRORS: Canned =
    Canned::new(421, (4, 7, 0), "Too many errors, closing connection");
/// 421 4.7.0: the client sent far more than the machine may buffer.
pub(crate) const TOO_MUCH_INPUT: Canned =
    Canned::new(421, (4, 7, 0), "Too much unread input, closing connection");
/// 550 5.6.11: bare CR or LF in DATA content (RFC 5321 section 2.3.8; SMTP smuggling).
pub(crate) const BARE_LINE_ENDING: Canned = Canned::new(
    550,
    (5, 6, 11),
    "Bare CR or LF in message content is not allowed",
);
/// 554 5.5.1: DATA or BDAT without an accepted recipient (RFC 5321 section 3.3).
pub(crate) const NO_VALID_RECIPIENTS: Canned = Canned::new(554, (5, 5, 1), "No valid recipients");
/// 503 5.5.1: DATA in a BODY=BINARYMIME transaction (RFC 3030 section 3).
pub(crate) const BINARYMIME_NEEDS_BDAT: Canned =
    Canned::new(503, (5, 5, 1), "BODY=BINARYMIME requires BDAT");
/// 503 5.5.1: DATA after BDAT chunks of the same message.
pub(crate) const DATA_AFTER_BDAT: Canned =
    Canned::new(503, (5, 5, 1), "DATA not allowed after BDAT");
/// 501 5.0.0: the client sent `*` (RFC 4954 section 4).
pub(crate) const AUTH_CANCELLED: Canned = Canned::new(501, (5, 0, 0), "Authentication cancelled");
/// 501 5.5.2: a SASL line that is not base64 (RFC 4954 section 4).
pub(crate) const AUTH_BAD_BASE64: Canned =
    Canned::new(501, (5, 5, 2), "Cannot decode base64 response");
/// 535 5.7.8: a decoded SASL message that breaks its mechanism's syntax.
pub(crate) const AUTH_MALFORMED: Canned =
    Canned::new(535, (5, 7, 8), "Malformed authentication message");
/// 503 5.5.1: AUTH after a successful AUTH (RFC 4954 section 4).
pub(crate) const ALREADY_AUTHENTICATED: Canned =
    Canned::new(503, (5, 5, 1), "Already authenticated");
/// 503 5.5.1: AUTH inside a mail transaction (RFC 4954 section 4).
pub(crate) const AUTH_IN_TRANSACTION: Canned =
    Canned::new(503, (5, 5, 1), "AUTH not allowed during a mail transaction");
/// 504 5.5.4: AUTH with a mechanism not offered (RFC 4954 section 4).
pub(crate) const UNKNOWN_MECHANISM: Canned =
    Canned::new(504, (5, 5, 4), "Unrecognized authentication type");
/// 503 5.5.1: STARTTLS over TLS.
pub(crate) const ALREADY_TLS: Canned = Canned::new(503, (5, 5, 1), "TLS already active");
/// 503 5.5.1: MAIL inside a transaction (RFC 5321 section 4.1.4).
pub(crate) const NESTED_MAIL: Canned = Canned::new(503, (5, 5, 1), "Sender already specified");
/// 503 5.5.1: RCPT, DATA or BDAT before MAIL.
pub(crate) const NEED_MAIL: Canned = Canned::new(503, (5, 5, 1), "Need MAIL command first");
/// 503 5.5.1: MAIL or AUTH before HELO/EHLO.
pub(crate) const NEED_HELLO: Canned = Canned::new(503, (5, 5, 1), "Send EHLO or HELO first");
/// 503 5.5.1: anything but QUIT after a refused greeting (RFC 5321 section 3.1).
pub(crate) const REFUSED_SESSION: Canned =
    Canned::new(503, (5, 5, 1), "No service here; only QUIT is accepted");
/// 250 2.0.0: a BDAT chunk that is not the last one was received (RFC 3030 section 2).
pub(crate) const CHUNK_RECEIVED: Canned = Canned::new(250, (2, 0, 0), "Chunk received");
/// 500 5.5.1: LHLO to an SMTP server, HELO/EHLO to an LMTP server (RFC 2033 section 4.1).
pub(crate) const WRONG_HELLO: Canned = Canned::new(500, (5, 5, 1), "Command unrecognized here");
