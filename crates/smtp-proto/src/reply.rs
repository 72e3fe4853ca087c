//! Replies (RFC 5321 section 4.2): a three-digit code, an optional enhanced status code
//! (RFC 3463, RFC 2034) and one or more lines of text.

use core::fmt;
use mail_wire::value::IntoBytes;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::decimal;
use mail_wire::line::{self, LineEnding, LineError, LineScan};

use crate::error::{CommandError, ParseError, ReplyError, ValueError, forbidden_octet};
use crate::limits::{self, Limits};
use crate::storage::{Storage, share};
use crate::syntax;

/// A reply code (RFC 5321 section 4.2: `%x32-35 %x30-35 %x30-39`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(u16);

/// The first digit of a reply code (RFC 5321 section 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// 2yz: the action completed.
    PositiveCompletion,
    /// 3yz: the command is accepted, more input is needed.
    PositiveIntermediate,
    /// 4yz: the action failed; it may succeed later.
    TransientNegative,
    /// 5yz: the action failed; do not repeat it as is.
    PermanentNegative,
}

/// The second digit of a reply code (RFC 5321 section 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// x0z: syntax.
    Syntax,
    /// x1z: information (status, help).
    Information,
    /// x2z: the transmission channel.
    Connections,
    /// x3z: not specified.
    Unspecified3,
    /// x4z: not specified.
    Unspecified4,
    /// x5z: the mail system.
    MailSystem,
}

impl Code {
    /// 220: service ready.
    pub const SERVICE_READY: Code = Code(220);
    /// 250: requested action completed.
    pub const OK: Code = Code(250);
    /// 354: start mail input.
    pub const START_DATA: Code = Code(354);

    /// A code from its number; `None` unless it matches RFC 5321's `Reply-code` grammar.
    pub const fn new(code: u16) -> Option<Code> {
        let (x, y, z) = (code / 100, code / 10 % 10, code % 10);
        if code < 1000 && x >= 2 && x <= 5 && y <= 5 && z <= 9 {
            Some(Code(code))
        } else {
            None
        }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The class (first digit).
    pub const fn class(self) -> Class {
        match self.0 / 100 {
            2 => Class::PositiveCompletion,
            3 => Class::PositiveIntermediate,
            4 => Class::TransientNegative,
            _ => Class::PermanentNegative,
        }
    }

    /// The category (second digit).
    pub const fn category(self) -> Category {
        match self.0 / 10 % 10 {
            0 => Category::Syntax,
            1 => Category::Information,
            2 => Category::Connections,
            3 => Category::Unspecified3,
            4 => Category::Unspecified4,
            _ => Category::MailSystem,
        }
    }

    /// Whether the code is 2yz.
    pub const fn is_positive(self) -> bool {
        self.0 / 100 == 2
    }

    /// Whether the code is 4yz or 5yz.
    pub const fn is_negative(self) -> bool {
        self.0 / 100 >= 4
    }

    fn digits(self) -> [u8; 3] {
        [
            b'0' + (self.0 / 100) as u8,
            b'0' + (self.0 / 10 % 10) as u8,
            b'0' + (self.0 % 10) as u8,
        ]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// 2.0.0: success, nothing more to say.
    pub const OK: EnhancedCode = EnhancedCode::known(2, 0, 0);
    /// 2.1.0: the sender address is valid.
    pub const SENDER_OK: EnhancedCode = EnhancedCode::known(2, 1, 0);
    /// 2.1.5: the destination address is valid.
    pub const DESTINATION_OK: EnhancedCode = EnhancedCode::known(2, 1, 5);
    /// 5.5.2: syntax error (RFC 3463 "X.5.2").
    pub const SYNTAX_ERROR: EnhancedCode = EnhancedCode::known(5, 5, 2);
    /// 5.5.1: invalid command.
    pub const INVALID_COMMAND: EnhancedCode = EnhancedCode::known(5, 5, 1);
    /// 5.5.4: invalid command arguments.
    pub const INVALID_ARGUMENTS: EnhancedCode = EnhancedCode::known(5, 5, 4);

    /// A code from its parts; `None` unless the class is 2, 4 or 5 and subject and detail
    /// have at most three digits (RFC 3463 section 2).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
        if matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999 {
            Some(EnhancedCode {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    const fn known(class: u8, subject: u16, detail: u16) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// The class: 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub const fn class(self) -> u8 {
        self.class
    }

    /// The subject (RFC 3463 section 3: addressing, mailbox, mail system, network, protocol,
    /// content, security).
    pub const fn subject(self) -> u16 {
        self.subject
    }

    /// The detail.
    pub const fn detail(self) -> u16 {
        self.detail
    }

    /// Parses a code at the front of a reply text: `class "." subject "." detail` followed by
    /// SP or the end. Gives the code and the text after it (its SP skipped).
    pub const fn parse_prefix(text: &[u8]) -> Option<(EnhancedCode, &[u8])> {
        let [class @ (b'2' | b'4' | b'5'), b'.', rest @ ..] = text else {
            return None;
        };
        let Some((subject, rest)) = three_digits(rest) else {
            return None;
        };
        let [b'.', rest @ ..] = rest else {
            return None;
        };
        let Some((detail, rest)) = three_digits(rest) else {
            return None;
        };
        let rest = match rest {
            [] => rest,
            [b' ', after @ ..] => after,
            _ => return None,
        };
        Some((
            EnhancedCode {
                class: *class - b'0',
                subject,
                detail,
            },
            rest,
        ))
    }

    /// Octets of the code as written (`5.7.1` is 5, `5.999.999` is 9).
    const fn wire_len(self) -> usize {
        const fn digits(n: u16) -> usize {
            if n >= 100 {
                3
            } else if n >= 10 {
                2
            } else {
                1
            }
        }
        3 + digits(self.subject) + digits(self.detail)
    }

    fn write(self, out: &mut BytesMut) {
        out.put_u8(b'0' + self.class);
        out.put_u8(b'.');
        decimal::write_u64(out, u64::from(self.subject));
        out.put_u8(b'.');
        decimal::write_u64(out, u64::from(self.detail));
    }
}

/// One to three digits at the front of `bytes` (RFC 3463 section 2: `1*3digit`), and the rest.
const fn three_digits(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let mut value = 0u16;
    let mut len = 0;
    while len < bytes.len() && bytes[len].is_ascii_digit() {
        if len == 3 {
            return None;
        }
        value = value * 10 + (bytes[len] - b'0') as u16;
        len += 1;
    }
    if len == 0 {
        return None;
    }
    Some((value, bytes.split_at(len).1))
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One line of reply text, checked to hold no CR, LF or NUL, so it cannot break the reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyText<B = Bytes>(B);

impl ReplyText {
    /// Checks `text`: any octet but CR, LF and NUL (UTF-8 text is the sender's business).
    pub fn new(text: impl IntoBytes) -> Result<ReplyText, ValueError> {
        let text = text.into_shared();
        match syntax::forbidden_byte(&text) {
            Some(byte) => Err(ValueError::ForbiddenOctet {
                what: "reply text",
                octet: byte,
            }),
            None => Ok(ReplyText(text)),
        }
    }
}

impl From<ReplyText> for Bytes {
    fn from(text: ReplyText) -> Bytes {
        text.0
    }
}

impl ReplyText<&[u8]> {
    /// The same text in shared storage: a slice of `source` when it lies in it (a reference
    /// count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> ReplyText {
        ReplyText(share(source, self.0))
    }
}

impl<B: Storage> ReplyText<B> {
    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// The text lines of a reply, kept as one region and split lazily.
#[derive(Clone)]
pub(crate) struct Lines<B = Bytes> {
    raw: B,
    /// `true`: `raw` is the wire form, every line `NNN-`/`NNN ` prefixed and CRLF ended.
    /// `false`: `raw` is the bare text lines joined by CRLF.
    wire: bool,
    count: u32,
}

impl Lines {
    pub(crate) const fn single_static(text: &'static str) -> Lines {
        Lines {
            raw: Bytes::from_static(text.as_bytes()),
            wire: false,
            count: 1,
        }
    }

    pub(crate) fn plain(raw: Bytes, count: u32) -> Lines {
        Lines {
            raw,
            wire: false,
            count,
        }
    }
}

impl<B: Storage> Lines<B> {
    pub(crate) fn iter(&self, strip: Option<EnhancedCode>) -> ReplyLines<'_> {
        ReplyLines {
            rest: self.raw.as_ref(),
            wire: self.wire,
            strip,
            done: false,
        }
    }

    pub(crate) fn raw(&self) -> &[u8] {
        self.raw.as_ref()
    }

    pub(crate) fn to_shared(&self, source: &Bytes) -> Lines {
        Lines {
            raw: share(source, self.raw.as_ref()),
            wire: self.wire,
            count: self.count,
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count as usize
    }
}

/// The text of each line of a reply, without code, separator, enhanced code and CRLF.
#[derive(Debug, Clone)]
pub struct ReplyLines<'a> {
    rest: &'a [u8],
    wire: bool,
    strip: Option<EnhancedCode>,
    done: bool,
}

impl<'a> Iterator for ReplyLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        if !self.wire {
            return Some(match line::find_cr_lf_nul(self.rest) {
                Some(cr) => {
                    let line = &self.rest[..cr];
                    self.rest = self.rest.get(cr + 2..).unwrap_or_default();
                    line
                }
                None => {
                    self.done = true;
                    self.rest
                }
            });
        }
        let cr = line::find_cr_lf_nul(self.rest)?;
        let line = &self.rest[..cr];
        self.rest = self.rest.get(cr + 2..).unwrap_or_default();
        self.done = self.rest.is_empty();
        let text = line.get(4..).unwrap_or_default();
        Some(match (self.strip, EnhancedCode::parse_prefix(text)) {
            (Some(expected), Some((found, after))) if expected == found => after,
            _ => text,
        })
    }
}

/// A reply: code, optional enhanced status code, one or more text lines.
///
/// Parsed replies keep their text as one slice of the input (zero-copy, no allocation);
/// the lines are split when iterated. Two replies are equal when code, enhanced code and
/// line texts are equal, however they were made.
///
/// `Reply` (that is `Reply<Bytes>`) holds a slice of a shared buffer; `Reply<&[u8]>`
/// ([`Reply::parse_borrowed`]) borrows the read buffer and takes no reference count.
#[derive(Clone)]
pub struct Reply<B = Bytes> {
    code: Code,
    enhanced: Option<EnhancedCode>,
    lines: Lines<B>,
}

impl Reply {
    /// A one-line reply, refused unless writing it gives a line that reads back as the same
    /// reply: see [`Reply::multiline`] for the rules.
    ///
    /// ```
    /// use smtp_proto::{EnhancedCode, Reply, ValueError};
    ///
    /// let queued = Reply::new(250, EnhancedCode::new(2, 0, 0), "queued as 1F2E3").unwrap();
    /// assert_eq!(queued.to_string(), "250 2.0.0 queued as 1F2E3");
    /// // Without an enhanced code this text would read back with one.
    /// assert_eq!(
    ///     Reply::new(250, None, "2.0.0 queued"),
    ///     Err(ValueError::Ambiguous { what: "reply text" })
    /// );
    /// // A 5.x.x code on a 2yz reply would be dropped by the reader.
    /// assert_eq!(
    ///     Reply::new(250, EnhancedCode::new(5, 1, 1), "odd"),
    ///     Err(ValueError::Inconsistent { what: "enhanced status code" })
    /// );
    /// ```
    pub fn new(
        code: u16,
        enhanced: Option<EnhancedCode>,
        text: impl IntoBytes,
    ) -> Result<Reply, ValueError> {
        Reply::multiline(code, enhanced, [text])
    }

    /// A reply of one or more lines (an empty list gives one empty line), refused (with a
    /// [`ValueError`]) unless it reads back as itself, with the RFC 5321 limits:
    ///
    /// - `code` is a reply code (RFC 5321 section 4.2: `%x32-35 %x30-35 %x30-39`);
    /// - `enhanced`, when given, has the code's class (RFC 3463 section 2; a reader drops a
    ///   code of another class, and a 3yz reply has none): else `Inconsistent`;
    /// - no line holds CR, LF or NUL, and each line as written, CRLF included, fits 512
    ///   octets (RFC 5321 section 4.5.3.1.5); at most [`limits::REPLY_LINES`] lines;
    /// - without `enhanced`, the first line does not start with what reads as an enhanced
    ///   code of the code's class (RFC 2034 section 4): else `Ambiguous`.
    pub fn multiline<I, T>(
        code: u16,
        enhanced: Option<EnhancedCode>,
        lines: I,
    ) -> Result<Reply, ValueError>
    where
        I: IntoIterator<Item = T>,
        T: IntoBytes,
    {
        let code = checked_code(code, enhanced)?;
        let mut raw = BytesMut::new();
        let mut count = 0u32;
        for line in lines {
            let line: Bytes = line.into_shared();
            check_line(code, enhanced, &line, count == 0)?;
            if count as usize == limits::REPLY_LINES {
                return Err(ValueError::TooLong {
                    what: "reply lines",
                    limit: limits::REPLY_LINES,
                });
            }
            if count > 0 {
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(&line);
            count += 1;
        }
        Ok(Reply {
            code,
            enhanced,
            lines: Lines::plain(raw.freeze(), count.max(1)),
        })
    }

    /// Writes a one-line reply whose text is `parts` joined, with no `Reply` built (a text
    /// with a part known only at run time, such as a queue id). The caller checked that no
    /// part holds CR, LF or NUL.
    pub(crate) fn write_line(
        out: &mut BytesMut,
        code: Code,
        enhanced: Option<EnhancedCode>,
        parts: &[&[u8]],
    ) {
        out.extend_from_slice(&code.digits());
        out.put_u8(b' ');
        if let Some(enhanced) = enhanced {
            enhanced.write(out);
            out.put_u8(b' ');
        }
        for part in parts {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Parses one whole reply (all its lines) from the front of `input`.
    ///
    /// Gives the reply and the octets it took, CRLFs included; `Incomplete` until the last
    /// line (`NNN SP`) has arrived. The text is a slice of `input`; nothing is copied.
    #[inline]
    pub fn parse(input: &Bytes, limits: &Limits) -> Result<(Reply, usize), ParseError<ReplyError>> {
        Reply::parse_from(input, limits)
    }
}

/// The code of a reply being built, checked with its enhanced code (RFC 5321 section 4.2,
/// RFC 3463 section 2: the enhanced code's class is the reply code's, so a 3yz reply has none).
const fn checked_code(code: u16, enhanced: Option<EnhancedCode>) -> Result<Code, ValueError> {
    let Some(code) = Code::new(code) else {
        return Err(ValueError::OutOfRange { what: "reply code" });
    };
    match enhanced {
        Some(enhanced) if enhanced.class as u16 != code.0 / 100 => Err(ValueError::Inconsistent {
            what: "enhanced status code",
        }),
        _ => Ok(code),
    }
}

/// Whether a line of text, written in a reply of `code` and `enhanced`, reads back as itself.
const fn check_line(
    code: Code,
    enhanced: Option<EnhancedCode>,
    text: &[u8],
    first: bool,
) -> Result<(), ValueError> {
    const WHAT: &str = "reply text";
    let mut i = 0;
    while i < text.len() {
        if matches!(text[i], b'\r' | b'\n' | 0) {
            return Err(ValueError::ForbiddenOctet {
                what: WHAT,
                octet: text[i],
            });
        }
        i += 1;
    }
    // Code, separator, text, CRLF; the enhanced code and its SP when there is one.
    let written = 3
        + 1
        + text.len()
        + 2
        + match enhanced {
            Some(enhanced) if text.is_empty() => enhanced.wire_len(),
            Some(enhanced) => enhanced.wire_len() + 1,
            None => 0,
        };
    if written > limits::REPLY_LINE {
        return Err(ValueError::TooLong {
            what: "reply line",
            limit: limits::REPLY_LINE,
        });
    }
    // The reader takes an enhanced code of the reply's class from the first line's text.
    if first && enhanced.is_none() {
        if let Some((found, _)) = EnhancedCode::parse_prefix(text) {
            if found.class as u16 == code.0 / 100 {
                return Err(ValueError::Ambiguous { what: WHAT });
            }
        }
    }
    Ok(())
}

/// A one-line reply whose parts are literals, checked by a `const fn`: `Copy`, and made into
/// a [`Reply`] without allocating. Its checks are [`Reply::multiline`]'s. The
/// [`static_reply!`](crate::static_reply!) macro makes one in constant evaluation, so that a
/// bad literal fails the build ([`reply!`](crate::reply!) gives the `Reply` at once):
///
/// ```
/// use smtp_proto::{Reply, StaticReply, reply, static_reply};
///
/// const RELAY_DENIED: StaticReply = static_reply!(550, (5, 7, 1), "Relaying denied");
/// assert_eq!(Reply::from(RELAY_DENIED).to_string(), "550 5.7.1 Relaying denied");
/// let reply: Reply = reply!(550, (5, 7, 1), "Relaying denied");
/// assert_eq!(reply, RELAY_DENIED.reply());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaticReply {
    code: Code,
    enhanced: Option<EnhancedCode>,
    text: &'static str,
}

impl StaticReply {
    /// Checks the parts; fails for what [`Reply::new`] refuses. Usable in constants.
    pub const fn new(
        code: u16,
        enhanced: Option<EnhancedCode>,
        text: &'static str,
    ) -> Result<StaticReply, ValueError> {
        let code = match checked_code(code, enhanced) {
            Ok(code) => code,
            Err(error) => return Err(error),
        };
        match check_line(code, enhanced, text.as_bytes(), true) {
            Ok(()) => Ok(StaticReply {
                code,
                enhanced,
                text,
            }),
            Err(error) => Err(error),
        }
    }

    /// The reply (no allocation: the text stays where the literal is).
    pub const fn reply(self) -> Reply {
        Reply {
            code: self.code,
            enhanced: self.enhanced,
            lines: Lines::single_static(self.text),
        }
    }

    /// Why [`StaticReply::new`] refused, for the message of a failed constant; not public API.
    #[doc(hidden)]
    pub const fn __explain(error: ValueError) -> &'static str {
        match error {
            ValueError::OutOfRange { .. } => "not a reply code (RFC 5321 section 4.2)",
            ValueError::Inconsistent { .. } => {
                "the enhanced code's class is not the reply code's (RFC 3463 section 2)"
            }
            ValueError::Ambiguous { .. } => {
                "the text would read back as an enhanced status code (RFC 2034 section 4)"
            }
            ValueError::ForbiddenOctet { .. } => "the text holds CR, LF or NUL",
            ValueError::TooLong { .. } => {
                "the line is over 512 octets (RFC 5321 section 4.5.3.1.5)"
            }
            _ => "invalid reply",
        }
    }
}

impl From<StaticReply> for Reply {
    fn from(reply: StaticReply) -> Reply {
        reply.reply()
    }
}

/// A one-line [`Reply`] from literals, checked at compile time: a bad code, an enhanced code
/// of another class, or a text that would read back differently fails the build (the checks
/// of [`Reply::new`]). Nothing is checked or allocated at run time.
///
/// `reply!(code, (class, subject, detail), "text")`, or `reply!(code, "text")` without an
/// enhanced code. [`static_reply!`](crate::static_reply!) gives the [`StaticReply`] instead,
/// for a `const`.
///
/// ```
/// use smtp_proto::reply;
///
/// let denied = reply!(550, (5, 7, 1), "Relaying denied");
/// assert_eq!(denied.to_string(), "550 5.7.1 Relaying denied");
/// assert_eq!(reply!(354, "Go ahead").enhanced_code(), None);
/// ```
///
/// ```compile_fail
/// // 2.0.0 on a 5yz reply: the reader would drop it.
/// let wrong = smtp_proto::reply!(550, (2, 0, 0), "Mismatched");
/// ```
///
/// ```compile_fail
/// // Reads back as 250 with the enhanced code 2.0.0.
/// let ambiguous = smtp_proto::reply!(250, "2.0.0 queued");
/// ```
///
/// ```compile_fail
/// // Not a reply code.
/// let ambiguous = smtp_proto::reply!(650, "Nope");
/// ```
#[macro_export]
macro_rules! reply {
    ($code:expr, ($class:expr, $subject:expr, $detail:expr), $text:expr $(,)?) => {
        const {
            let checked = $crate::static_reply!($code, ($class, $subject, $detail), $text);
            checked.reply()
        }
    };
    ($code:expr, $text:expr $(,)?) => {
        const {
            let checked = $crate::static_reply!($code, $text);
            checked.reply()
        }
    };
}

/// A [`StaticReply`] from literals, checked at compile time (see [`reply!`](crate::reply!)):
/// `static_reply!(code, (class, subject, detail), "text")` or `static_reply!(code, "text")`.
///
/// ```
/// use smtp_proto::{Reply, StaticReply, static_reply};
///
/// const RELAY_DENIED: StaticReply = static_reply!(550, (5, 7, 1), "Relaying denied");
/// assert_eq!(Reply::from(RELAY_DENIED).to_string(), "550 5.7.1 Relaying denied");
/// ```
#[macro_export]
macro_rules! static_reply {
    ($code:expr, ($class:expr, $subject:expr, $detail:expr), $text:expr $(,)?) => {
        const {
            let enhanced = match $crate::EnhancedCode::new($class, $subject, $detail) {
                Some(enhanced) => enhanced,
                None => panic!("not an enhanced status code (RFC 3463 section 2)"),
            };
            match $crate::StaticReply::new($code, Some(enhanced), $text) {
                Ok(reply) => reply,
                Err(error) => panic!("{}", $crate::StaticReply::__explain(error)),
            }
        }
    };
    ($code:expr, $text:expr $(,)?) => {
        const {
            match $crate::StaticReply::new($code, None, $text) {
                Ok(reply) => reply,
                Err(error) => panic!("{}", $crate::StaticReply::__explain(error)),
            }
        }
    };
}

impl<'a> Reply<&'a [u8]> {
    /// [`Reply::parse`] for a borrowed buffer: the reply's text borrows `input`, and no
    /// reference count is taken. [`Reply::to_shared`] makes a `Reply` of it.
    #[inline]
    pub fn parse_borrowed(
        input: &'a [u8],
        limits: &Limits,
    ) -> Result<(Reply<&'a [u8]>, usize), ParseError<ReplyError>> {
        Reply::parse_from(&input, limits)
    }

    /// The same reply in shared storage: its text becomes a slice of `source` when it was
    /// parsed from it (a reference count, no copy), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Reply {
        Reply {
            code: self.code,
            enhanced: self.enhanced,
            lines: self.lines.to_shared(source),
        }
    }
}

impl<B: Storage> Reply<B> {
    pub(crate) fn from_lines(
        code: Code,
        enhanced: Option<EnhancedCode>,
        lines: Lines<B>,
    ) -> Reply<B> {
        Reply {
            code,
            enhanced,
            lines,
        }
    }

    pub(crate) fn raw_lines(&self) -> &Lines<B> {
        &self.lines
    }

    /// The code.
    pub const fn code(&self) -> Code {
        self.code
    }

    /// The enhanced status code, when the reply has one.
    pub const fn enhanced_code(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The text of each line.
    pub fn lines(&self) -> ReplyLines<'_> {
        self.lines.iter(self.enhanced)
    }

    /// The text of the first line.
    pub fn first_line(&self) -> &[u8] {
        self.lines().next().unwrap_or_default()
    }

    /// The number of lines.
    pub fn line_count(&self) -> usize {
        self.lines.count()
    }

    #[inline(always)]
    fn parse_from(input: &B, limits: &Limits) -> Result<(Reply<B>, usize), ParseError<ReplyError>> {
        let bytes: &[u8] = input.as_ref();
        let (end, next) = reply_line(bytes, 0, limits)?;
        let line = &bytes[..end];
        let code = line_code(line, next)?;
        match line.get(3) {
            None | Some(b' ') => {
                if limits.reply_lines == 0 {
                    return Err(too_many_lines(limits, next));
                }
                let (enhanced, _) = enhanced_prefix(code, bytes, end.min(4), end);
                // The line as received, as a multiline reply keeps its lines: whether its text
                // starts with an enhanced code is the reading of the reply, not of the line. An
                // EHLO reply has none (RFC 2034 section 3), so `Capabilities` reads it whole.
                let lines = Lines {
                    raw: input.slice_range(0, next),
                    wire: true,
                    count: 1,
                };
                Ok((
                    Reply {
                        code,
                        enhanced,
                        lines,
                    },
                    next,
                ))
            }
            Some(b'-') => Reply::parse_multiline(input, code, end, next, limits),
            Some(_) => Err(invalid(
                ReplyError::Syntax("code must be followed by SP or -"),
                next,
            )),
        }
    }

    /// The rest of a reply whose first line, `..first_end`, ended in `-`. Only framed: what
    /// the lines mean (an EHLO reply's extensions) is `Capabilities::from_reply`'s reading.
    fn parse_multiline(
        input: &B,
        code: Code,
        first_end: usize,
        mut pos: usize,
        limits: &Limits,
    ) -> Result<(Reply<B>, usize), ParseError<ReplyError>> {
        let bytes: &[u8] = input.as_ref();
        let mut count = 1u32;
        loop {
            let start = pos;
            let (end, next) = reply_line(bytes, start, limits)?;
            let line = &bytes[start..end];
            // The same three digits as the first line's (already checked) is the common case.
            let same =
                matches!(line, [a, b, c, ..] if [*a, *b, *c] == [bytes[0], bytes[1], bytes[2]]);
            if !same {
                line_code(line, next)?;
                return Err(invalid(ReplyError::InconsistentCode, next));
            }
            let last = match line.get(3) {
                None | Some(b' ') => true,
                Some(b'-') => false,
                Some(_) => {
                    return Err(invalid(
                        ReplyError::Syntax("code must be followed by SP or -"),
                        next,
                    ));
                }
            };
            count += 1;
            if count as usize > limits.reply_lines {
                return Err(too_many_lines(limits, next));
            }
            pos = next;
            if last {
                break;
            }
        }
        let first_text = first_end.min(4);
        let (enhanced, _) = enhanced_prefix(code, bytes, first_text, first_end);
        let lines = Lines {
            raw: input.slice_range(0, pos),
            wire: true,
            count,
        };
        Ok((
            Reply {
                code,
                enhanced,
                lines,
            },
            pos,
        ))
    }

    /// Writes the reply with its enhanced code (when it has one) on every line (RFC 2034
    /// section 4). A parsed reply is written as it was received, so that it reads back as
    /// itself even where the sender left the code off a line near the length limit.
    pub fn write(&self, out: &mut BytesMut) {
        self.write_with(out, true);
    }

    /// Writes the reply; `enhanced` says whether to include the enhanced code, which a server
    /// does only after advertising ENHANCEDSTATUSCODES (RFC 2034).
    pub fn write_with(&self, out: &mut BytesMut, enhanced: bool) {
        if enhanced && self.lines.wire {
            // Adding the code to a received line that lacks it could push the line past
            // 512 octets (RFC 5321 section 4.5.3.1.5), and the reply would not read back.
            out.extend_from_slice(self.lines.raw());
            return;
        }
        let digits = self.code.digits();
        let enhanced = if enhanced { self.enhanced } else { None };
        let mut lines = self.lines().peekable();
        while let Some(text) = lines.next() {
            out.reserve(text.len() + 16);
            out.extend_from_slice(&digits);
            let last = lines.peek().is_none();
            if let Some(code) = enhanced {
                out.put_u8(if last { b' ' } else { b'-' });
                code.write(out);
                if !text.is_empty() {
                    out.put_u8(b' ');
                }
            } else if !text.is_empty() || !last {
                out.put_u8(if last { b' ' } else { b'-' });
            }
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Frames the reply line at `start`: gives where its text ends and the next line starts.
#[inline(always)]
fn reply_line(
    bytes: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<(usize, usize), ParseError<ReplyError>> {
    match line::scan_line(&bytes[start..], limits.reply_line, LineEnding::Crlf) {
        LineScan::Line {
            content_len,
            total_len,
        } => Ok((start + content_len, start + total_len)),
        LineScan::Incomplete => Err(ParseError::Incomplete),
        LineScan::Fault {
            error: LineError::TooLong { .. },
            consumed,
        } => Err(invalid(
            ReplyError::LineTooLong {
                limit: limits.reply_line,
            },
            // The lines before this one, and this one through its LF when that was seen; when it
            // was not, the caller discards from `start` through the next LF (`ParseError`'s rule).
            start + consumed,
        )),
        LineScan::Fault { error, consumed } => Err(invalid(
            ReplyError::ForbiddenByte(forbidden_octet(error)),
            start + consumed,
        )),
    }
}

/// The reply code at the front of a line (RFC 5321 section 4.2 `Reply-code`).
#[inline(always)]
fn line_code(line: &[u8], consumed: usize) -> Result<Code, ParseError<ReplyError>> {
    match line {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let n = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            Code::new(n).ok_or(invalid(
                ReplyError::Syntax("reply code out of range"),
                consumed,
            ))
        }
        _ => Err(invalid(
            ReplyError::Syntax("reply line must start with a code"),
            consumed,
        )),
    }
}

/// The enhanced code at the front of the text `bytes[start..end]` of a reply's first line, when
/// its class matches the reply code's (RFC 2034 section 4); gives it and where the text after
/// it starts.
#[inline(always)]
fn enhanced_prefix(
    code: Code,
    bytes: &[u8],
    start: usize,
    end: usize,
) -> (Option<EnhancedCode>, usize) {
    let class = code.get() / 100;
    if class == 3 {
        return (None, start);
    }
    match EnhancedCode::parse_prefix(&bytes[start..end]) {
        Some((found, after)) if u16::from(found.class) == class => (Some(found), end - after.len()),
        _ => (None, start),
    }
}

fn too_many_lines(limits: &Limits, consumed: usize) -> ParseError<ReplyError> {
    invalid(
        ReplyError::TooManyLines {
            limit: limits.reply_lines,
        },
        consumed,
    )
}

fn invalid(error: ReplyError, consumed: usize) -> ParseError<ReplyError> {
    ParseError::Invalid { error, consumed }
}

impl<B: Storage> PartialEq for Reply<B> {
    fn eq(&self, other: &Reply<B>) -> bool {
        self.code == other.code && self.enhanced == other.enhanced && self.lines().eq(other.lines())
    }
}

impl<B: Storage> Eq for Reply<B> {}

impl<B: Storage> fmt::Debug for Reply<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct LinesDebug<'a, B>(&'a Reply<B>);
        impl<B: Storage> fmt::Debug for LinesDebug<'_, B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.lines().map(bytes::Bytes::copy_from_slice))
                    .finish()
            }
        }
        f.debug_struct("Reply")
            .field("code", &self.code)
            .field("enhanced", &self.enhanced)
            .field("lines", &LinesDebug(self))
            .finish()
    }
}

impl<B: Storage> fmt::Display for Reply<B> {
    /// The wire form with enhanced codes, without the final CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = BytesMut::new();
        self.write(&mut out);
        let text = out.strip_suffix(b"\r\n").unwrap_or(&out);
        f.write_str(&alloc::string::String::from_utf8_lossy(text))
    }
}

/// Well-known replies, with the enhanced codes RFC 3463 assigns. The public ones are the
/// answers and refusals an application gives (to a server machine's decisions, or in a server
/// of its own); the others are sent by the machines themselves. Each is checked at compile
/// time ([`reply!`](crate::reply!)). Any other literal reply is one
/// [`reply!`](crate::reply!) away.
impl Reply {
    /// 250 2.0.0 OK (RFC 5321 section 4.2.3; RFC 3463 section 3.1, X.0.0).
    pub const fn ok() -> Reply {
        crate::reply!(250, (2, 0, 0), "OK")
    }
    /// 250 2.1.0: sender accepted (MAIL).
    pub(crate) const fn sender_ok() -> Reply {
        crate::reply!(250, (2, 1, 0), "Sender OK")
    }
    /// 250 2.1.5: recipient accepted (RCPT).
    pub(crate) const fn recipient_ok() -> Reply {
        crate::reply!(250, (2, 1, 5), "Recipient OK")
    }
    /// 250 2.0.0: message accepted for delivery (end of DATA or BDAT LAST).
    pub(crate) const fn message_accepted() -> Reply {
        crate::reply!(250, (2, 0, 0), "Message accepted for delivery")
    }
    /// 354: send the message (RFC 5321 section 4.3.2; no enhanced code for 3yz, RFC 2034).
    pub(crate) const fn start_data() -> Reply {
        crate::reply!(354, "Start mail input; end with <CRLF>.<CRLF>")
    }
    /// 220 `domain` ESMTP: the greeting (RFC 5321 section 4.3.1; no enhanced code, RFC 2034).
    pub(crate) fn service_ready(domain: &crate::Domain) -> Reply {
        Reply::greeting(domain, b"ESMTP")
    }
    /// 220 `domain` LMTP: the greeting of an LMTP server, which names LMTP where an SMTP
    /// server names ESMTP (RFC 2033 section 4; its example greets `220 foo.edu LMTP server
    /// ready`), so a client that reached the wrong port can tell.
    pub(crate) fn lmtp_service_ready(domain: &crate::Domain) -> Reply {
        Reply::greeting(domain, b"LMTP")
    }
    fn greeting(domain: &crate::Domain, protocol: &[u8]) -> Reply {
        let mut text = BytesMut::with_capacity(domain.as_bytes().len() + 1 + protocol.len());
        text.extend_from_slice(domain.as_bytes());
        text.put_u8(b' ');
        text.extend_from_slice(protocol);
        Reply {
            code: Code(220),
            enhanced: None,
            lines: Lines::plain(text.freeze(), 1),
        }
    }
    /// 221 2.0.0: closing the channel (QUIT).
    pub(crate) const fn closing() -> Reply {
        crate::reply!(221, (2, 0, 0), "Bye")
    }
    /// 220 2.0.0: ready to start TLS (RFC 3207 section 4).
    pub(crate) const fn ready_to_start_tls() -> Reply {
        crate::reply!(220, (2, 0, 0), "Ready to start TLS")
    }
    /// 214 2.0.0: help text.
    pub(crate) const fn help() -> Reply {
        crate::reply!(214, (2, 0, 0), "See RFC 5321")
    }
    /// 252 2.5.0: cannot VRFY, but will accept the message (RFC 5321 section 3.5.3).
    pub(crate) const fn cannot_verify() -> Reply {
        crate::reply!(252, (2, 5, 0), "Cannot VRFY user, but will accept message")
    }
    /// 235 2.7.0: authentication succeeded (RFC 4954 section 6).
    pub(crate) const fn auth_ok() -> Reply {
        crate::reply!(235, (2, 7, 0), "Authentication successful")
    }
    /// 500 5.5.1: command not recognized.
    pub(crate) const fn command_unrecognized() -> Reply {
        crate::reply!(500, (5, 5, 1), "Command unrecognized")
    }
    /// 500 5.5.2: syntax error.
    pub(crate) const fn syntax_error() -> Reply {
        crate::reply!(500, (5, 5, 2), "Syntax error")
    }
    /// 500 5.5.6: line too long (RFC 3463 X.5.6 is the closest code: "syntax error" in length).
    pub(crate) const fn line_too_long() -> Reply {
        crate::reply!(500, (5, 5, 6), "Line too long")
    }
    /// 501 5.5.4: syntax error in parameters or arguments.
    pub(crate) const fn parameter_syntax_error() -> Reply {
        crate::reply!(501, (5, 5, 4), "Syntax error in parameters or arguments")
    }
    /// 501 5.1.7: bad sender mailbox syntax.
    pub(crate) const fn bad_sender_syntax() -> Reply {
        crate::reply!(501, (5, 1, 7), "Bad sender address syntax")
    }
    /// 553 5.1.3: bad destination mailbox syntax.
    pub(crate) const fn bad_recipient_syntax() -> Reply {
        crate::reply!(553, (5, 1, 3), "Bad recipient address syntax")
    }
    /// 553 5.6.7: non-ASCII address without SMTPUTF8 (RFC 6531 section 3.5).
    pub(crate) const fn non_ascii_address() -> Reply {
        crate::reply!(553, (5, 6, 7), "Non-ASCII address requires SMTPUTF8")
    }
    /// 502 5.5.1: command not implemented.
    pub(crate) const fn not_implemented() -> Reply {
        crate::reply!(502, (5, 5, 1), "Command not implemented")
    }
    /// 503 5.5.1: bad sequence of commands (RFC 5321 section 4.2.3; RFC 3463 section 3.6).
    pub const fn bad_sequence() -> Reply {
        crate::reply!(503, (5, 5, 1), "Bad sequence of commands")
    }
    /// 504 5.5.4: command parameter not implemented (RFC 5321 section 4.2.3; RFC 3463
    /// section 3.6).
    pub const fn parameter_not_implemented() -> Reply {
        crate::reply!(504, (5, 5, 4), "Command parameter not implemented")
    }
    /// 555 5.5.4: MAIL/RCPT parameter not recognized or not implemented (RFC 5321 section 4.1.1.11).
    pub(crate) const fn unsupported_parameter() -> Reply {
        crate::reply!(
            555,
            (5, 5, 4),
            "Parameter not recognized or not implemented"
        )
    }
    /// 550 5.1.1: no such user here, for a RCPT to an unknown mailbox (RFC 5321 section 4.2.3:
    /// 550 mailbox unavailable; RFC 3463 section 3.2, X.1.1 bad destination mailbox address).
    pub const fn mailbox_unavailable() -> Reply {
        crate::reply!(550, (5, 1, 1), "Mailbox unavailable")
    }
    /// 550 5.7.1: relaying denied, for a RCPT to a domain the server does not accept mail
    /// for, from a client that may not relay (RFC 5321 section 4.2.3: 550 for a command
    /// rejected for policy reasons; RFC 3463 section 3.8, X.7.1 delivery not authorized).
    pub const fn relay_denied() -> Reply {
        crate::reply!(550, (5, 7, 1), "Relaying denied")
    }
    /// 452 4.5.3: too many recipients (RFC 5321 section 4.5.3.1.10; RFC 3463 section 3.6,
    /// X.5.3).
    pub const fn too_many_recipients() -> Reply {
        crate::reply!(452, (4, 5, 3), "Too many recipients")
    }
    /// 452 4.3.1: insufficient system storage, try again later (RFC 5321 section 4.2.3;
    /// RFC 3463 section 3.4, X.3.1 mail system full).
    pub const fn insufficient_storage() -> Reply {
        crate::reply!(452, (4, 3, 1), "Insufficient system storage")
    }
    /// 552 5.3.4: message too big (RFC 1870 section 6; RFC 3463 section 3.4, X.3.4).
    pub const fn message_too_big() -> Reply {
        crate::reply!(552, (5, 3, 4), "Message size exceeds fixed maximum")
    }
    /// 451 4.3.0: requested action aborted, local error in processing; the client tries
    /// again later (RFC 5321 sections 4.2.3 and 4.3.2; RFC 3463 section 3.4, X.3.0 other
    /// mail system status). What a server answers when storing a message failed.
    pub const fn temporary_failure() -> Reply {
        crate::reply!(451, (4, 3, 0), "Local error in processing")
    }
    /// 421 4.3.2: service not available, closing the channel (RFC 5321 sections 3.8 and
    /// 4.2.3; RFC 3463 section 3.4, X.3.2 system not accepting network messages).
    pub const fn service_not_available() -> Reply {
        crate::reply!(421, (4, 3, 2), "Service not available, closing channel")
    }
    /// 421 4.3.2: the server is shutting down and closes the channel (RFC 5321 section 3.8;
    /// RFC 3463 X.3.2, system not accepting network messages).
    pub const fn shutting_down() -> Reply {
        crate::reply!(421, (4, 3, 2), "Service shutting down")
    }
    /// 421 4.4.2: timeout, closing the channel (RFC 5321 section 4.5.3.2).
    pub(crate) const fn timeout() -> Reply {
        crate::reply!(421, (4, 4, 2), "Timeout, closing channel")
    }
    /// 454 4.7.0: TLS not available (RFC 3207 section 4).
    pub const fn tls_not_available() -> Reply {
        crate::reply!(454, (4, 7, 0), "TLS not available")
    }
    /// 530 5.7.0: authentication required (RFC 4954 section 6).
    pub(crate) const fn auth_required() -> Reply {
        crate::reply!(530, (5, 7, 0), "Authentication required")
    }
    /// 530 5.7.0: STARTTLS first (RFC 3207 section 4).
    pub(crate) const fn starttls_required() -> Reply {
        crate::reply!(530, (5, 7, 0), "Must issue a STARTTLS command first")
    }
    /// 535 5.7.8: authentication credentials invalid (RFC 4954 section 6).
    pub const fn auth_failed() -> Reply {
        crate::reply!(535, (5, 7, 8), "Authentication credentials invalid")
    }
    /// 534 5.7.9: mechanism too weak (RFC 4954 section 6).
    pub const fn auth_mechanism_too_weak() -> Reply {
        crate::reply!(534, (5, 7, 9), "Authentication mechanism is too weak")
    }
    /// 538 5.7.11: encryption required for this mechanism (RFC 4954 section 6).
    pub(crate) const fn encryption_required_for_mechanism() -> Reply {
        crate::reply!(
            538,
            (5, 7, 11),
            "Encryption required for requested authentication mechanism"
        )
    }
    /// 501 5.7.0: the client cancelled the exchange with `*`. RFC 4954 section 4 requires
    /// 501 and assigns no enhanced code to it (section 6 lists none); 5.7.0, "other security
    /// status" (RFC 3463 section 3.8), is what Postfix sends (`501 5.7.0 Authentication
    /// aborted`).
    pub(crate) const fn auth_cancelled() -> Reply {
        crate::reply!(501, (5, 7, 0), "Authentication cancelled")
    }
    /// 500 5.5.6: an authentication line was too long (RFC 4954 section 4).
    pub(crate) const fn auth_line_too_long() -> Reply {
        crate::reply!(500, (5, 5, 6), "Authentication exchange line is too long")
    }
    /// 554 5.0.0: transaction failed (RFC 5321 section 4.2.3; RFC 3463 section 3.1, X.0.0).
    pub const fn transaction_failed() -> Reply {
        crate::reply!(554, (5, 0, 0), "Transaction failed")
    }
    /// 554 5.5.1: DATA or BDAT in a transaction without an accepted recipient (RFC 5321
    /// section 3.3: "554 No valid recipients"; RFC 3463 X.5.1, the command is out of place).
    pub(crate) const fn no_valid_recipients() -> Reply {
        crate::reply!(554, (5, 5, 1), "No valid recipients")
    }
    /// 550 5.6.11: a bare CR or LF in message content. RFC 5321 section 2.3.8 allows CR and
    /// LF only together; a receiver that accepts them alone can be made to see the end of
    /// the message where the next hop does not (the SMTP smuggling advisories, 2023), so
    /// such a message is refused whole.
    pub(crate) const fn bare_line_ending() -> Reply {
        crate::reply!(
            550,
            (5, 6, 11),
            "Bare CR or LF in message content is not allowed"
        )
    }
    /// 250 2.0.0: a BDAT chunk that is not the last one was received (RFC 3030 section 2:
    /// each BDAT gets a reply once its chunk is read).
    pub(crate) const fn chunk_received() -> Reply {
        crate::reply!(250, (2, 0, 0), "Chunk received")
    }
    /// 421 4.7.0: the session made too many errors and is closed (RFC 5321 section 3.8: a
    /// server closes the channel only after 421; RFC 3463 X.7.0, a policy reason).
    pub(crate) const fn too_many_errors() -> Reply {
        crate::reply!(421, (4, 7, 0), "Too many errors, closing connection")
    }
    /// 421 4.7.0: the client sent far more pipelined input than the server buffers unread
    /// (a client that writes without reading replies would grow it without end), so the
    /// session is closed (RFC 5321 section 3.8; RFC 3463 X.7.0, a policy reason).
    pub(crate) const fn too_much_input() -> Reply {
        crate::reply!(421, (4, 7, 0), "Too much unread input, closing connection")
    }
    /// 503 5.5.1: MAIL or AUTH before EHLO (or HELO, for MAIL) (RFC 5321 section 4.1.4).
    pub(crate) const fn hello_first() -> Reply {
        crate::reply!(503, (5, 5, 1), "Send EHLO or HELO first")
    }
    /// 503 5.5.1: RCPT, DATA or BDAT without a MAIL first (RFC 5321 section 3.3).
    pub(crate) const fn mail_first() -> Reply {
        crate::reply!(503, (5, 5, 1), "Need MAIL command first")
    }
    /// 503 5.5.1: MAIL inside a transaction (RFC 5321 section 4.1.4: MAIL is not sent while a
    /// transaction is open).
    pub(crate) const fn sender_already_specified() -> Reply {
        crate::reply!(503, (5, 5, 1), "Sender already specified")
    }
    /// 503 5.5.1: any command but QUIT after a refusing greeting (RFC 5321 section 3.1: the
    /// server waits for QUIT and answers other commands with 503).
    pub(crate) const fn only_quit_accepted() -> Reply {
        crate::reply!(503, (5, 5, 1), "No service here; only QUIT is accepted")
    }
    /// 503 5.5.1: STARTTLS over a channel already secured (RFC 3207 section 4.2: once TLS is
    /// on, STARTTLS is no longer offered).
    pub(crate) const fn tls_already_active() -> Reply {
        crate::reply!(503, (5, 5, 1), "TLS already active")
    }
    /// 503 5.5.1: AUTH after a successful AUTH (RFC 4954 section 4).
    pub(crate) const fn already_authenticated() -> Reply {
        crate::reply!(503, (5, 5, 1), "Already authenticated")
    }
    /// 503 5.5.1: AUTH inside a mail transaction (RFC 4954 section 4).
    pub(crate) const fn auth_in_transaction() -> Reply {
        crate::reply!(503, (5, 5, 1), "AUTH not allowed during a mail transaction")
    }
    /// 503 5.5.1: DATA in a BODY=BINARYMIME transaction, which only BDAT may carry (RFC 3030
    /// section 3).
    pub(crate) const fn binarymime_requires_bdat() -> Reply {
        crate::reply!(503, (5, 5, 1), "BODY=BINARYMIME requires BDAT")
    }
    /// 503 5.5.1: DATA after BDAT chunks of the same message (RFC 3030 section 2: a message
    /// is sent with DATA or with BDAT, not both).
    pub(crate) const fn data_after_bdat() -> Reply {
        crate::reply!(503, (5, 5, 1), "DATA not allowed after BDAT")
    }
    /// 500 5.5.1: the greeting verb of the other protocol: LHLO to an SMTP server, HELO or
    /// EHLO to an LMTP server (RFC 2033 section 4.1).
    pub(crate) const fn wrong_hello_verb() -> Reply {
        crate::reply!(500, (5, 5, 1), "Command unrecognized here")
    }
    /// 501 5.5.2: an AUTH response (or initial response) that is not base64 (RFC 4954
    /// sections 4 and 6).
    pub const fn auth_bad_base64() -> Reply {
        crate::reply!(501, (5, 5, 2), "Cannot decode base64 response")
    }
    /// 504 5.5.4: AUTH with a mechanism the server does not offer (RFC 4954 sections 4 and 6).
    pub(crate) const fn unrecognized_auth_mechanism() -> Reply {
        crate::reply!(504, (5, 5, 4), "Unrecognized authentication type")
    }
    /// 535 5.7.8: a decoded SASL message that breaks its mechanism's syntax (RFC 4954
    /// section 6 gives 5.7.8 to credentials that cannot be used).
    pub(crate) const fn auth_malformed() -> Reply {
        crate::reply!(535, (5, 7, 8), "Malformed authentication message")
    }
    /// 334 with a base64 challenge (RFC 4954 section 4); `challenge` must be base64 (may be empty).
    pub fn auth_challenge(challenge: &[u8]) -> Result<Reply, ValueError> {
        // The one base64 rule of both protocols (`mail_wire::sasl::is_base64`).
        let challenge = crate::SaslData::new(Bytes::copy_from_slice(challenge))?;
        Reply::new(334, None, Bytes::copy_from_slice(challenge.as_bytes()))
    }
}

/// The reply for each command error lives here, beside the replies, so that the error types
/// know nothing of `Reply` (the dependency runs one way: `reply` uses `error`).
impl CommandError {
    /// The reply a server sends for this error.
    pub const fn reply(&self) -> Reply {
        match self {
            CommandError::UnknownCommand => Reply::command_unrecognized(),
            CommandError::Syntax(_) => Reply::syntax_error(),
            CommandError::ParameterSyntax(_) => Reply::parameter_syntax_error(),
            CommandError::LineTooLong { .. } => Reply::line_too_long(),
            CommandError::ForbiddenByte(_) => {
                crate::reply!(500, (5, 5, 2), "Line holds NUL, bare CR or bare LF")
            }
            CommandError::BadSender(_) => Reply::bad_sender_syntax(),
            CommandError::BadRecipient(_) => Reply::bad_recipient_syntax(),
            CommandError::NonAsciiAddress => Reply::non_ascii_address(),
            CommandError::InvalidUtf8 => {
                crate::reply!(500, (5, 5, 2), "Invalid 8-bit data")
            }
            CommandError::UnsupportedParameter => Reply::unsupported_parameter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;

    fn round_trip(reply: &Reply) -> Reply {
        let mut out = BytesMut::new();
        reply.write(&mut out);
        let input = out.freeze();
        let (parsed, used) = Reply::parse(&input, &Limits::default()).unwrap();
        assert_eq!(used, input.len());
        parsed
    }

    /// The replies the machines send, with the codes RFC 3463 assigns; each reads back as
    /// itself (they are built by `reply!`, so a bad one would not compile).
    #[test]
    fn machine_replies_carry_rfc3463_codes() {
        let cases: &[(Reply, u16, Option<&str>)] = &[
            (Reply::sender_ok(), 250, Some("2.1.0")),
            (Reply::recipient_ok(), 250, Some("2.1.5")),
            (Reply::message_accepted(), 250, Some("2.0.0")),
            (Reply::start_data(), 354, None),
            (Reply::closing(), 221, Some("2.0.0")),
            (Reply::help(), 214, Some("2.0.0")),
            (Reply::syntax_error(), 500, Some("5.5.2")),
            (Reply::command_unrecognized(), 500, Some("5.5.1")),
            (Reply::parameter_syntax_error(), 501, Some("5.5.4")),
            (Reply::bad_sender_syntax(), 501, Some("5.1.7")),
            (Reply::bad_recipient_syntax(), 553, Some("5.1.3")),
            (Reply::non_ascii_address(), 553, Some("5.6.7")),
            (Reply::not_implemented(), 502, Some("5.5.1")),
            (Reply::timeout(), 421, Some("4.4.2")),
            (Reply::auth_required(), 530, Some("5.7.0")),
            (Reply::starttls_required(), 530, Some("5.7.0")),
            (Reply::auth_ok(), 235, Some("2.7.0")),
            (
                Reply::encryption_required_for_mechanism(),
                538,
                Some("5.7.11"),
            ),
            (Reply::ready_to_start_tls(), 220, Some("2.0.0")),
            (Reply::cannot_verify(), 252, Some("2.5.0")),
            (Reply::unsupported_parameter(), 555, Some("5.5.4")),
            (Reply::line_too_long(), 500, Some("5.5.6")),
            (Reply::auth_line_too_long(), 500, Some("5.5.6")),
            (Reply::no_valid_recipients(), 554, Some("5.5.1")),
            (Reply::bare_line_ending(), 550, Some("5.6.11")),
            (Reply::chunk_received(), 250, Some("2.0.0")),
            (Reply::too_many_errors(), 421, Some("4.7.0")),
            (Reply::too_much_input(), 421, Some("4.7.0")),
            (Reply::hello_first(), 503, Some("5.5.1")),
            (Reply::mail_first(), 503, Some("5.5.1")),
            (Reply::sender_already_specified(), 503, Some("5.5.1")),
            (Reply::only_quit_accepted(), 503, Some("5.5.1")),
            (Reply::tls_already_active(), 503, Some("5.5.1")),
            (Reply::already_authenticated(), 503, Some("5.5.1")),
            (Reply::auth_in_transaction(), 503, Some("5.5.1")),
            (Reply::binarymime_requires_bdat(), 503, Some("5.5.1")),
            (Reply::data_after_bdat(), 503, Some("5.5.1")),
            (Reply::wrong_hello_verb(), 500, Some("5.5.1")),
            (Reply::auth_bad_base64(), 501, Some("5.5.2")),
            (Reply::unrecognized_auth_mechanism(), 504, Some("5.5.4")),
            (Reply::auth_malformed(), 535, Some("5.7.8")),
            (Reply::auth_cancelled(), 501, Some("5.7.0")),
        ];
        for (reply, code, enhanced) in cases {
            assert_eq!(reply.code().get(), *code);
            let shown = reply.enhanced_code().map(|e| alloc::format!("{e}"));
            assert_eq!(shown.as_deref(), *enhanced);
            assert_eq!(&round_trip(reply), reply, "{reply}");
        }
        let greeting = Reply::service_ready(&Domain::new("mx.example.com").unwrap());
        assert_eq!(greeting.to_string(), "220 mx.example.com ESMTP");
        let lmtp = Reply::lmtp_service_ready(&Domain::new("[192.0.2.1]").unwrap());
        assert_eq!(lmtp.to_string(), "220 [192.0.2.1] LMTP");
        assert_eq!(round_trip(&lmtp), lmtp);
        let mut out = BytesMut::new();
        Reply::bare_line_ending().write_with(&mut out, false);
        assert_eq!(
            &out[..],
            b"550 Bare CR or LF in message content is not allowed\r\n"
        );
    }

    #[test]
    fn parse_prefix_is_rfc3463_grammar() {
        for (text, code, rest) in [
            (&b"2.1.5 Recipient ok"[..], (2, 1, 5), &b"Recipient ok"[..]),
            (b"5.999.999", (5, 999, 999), b""),
            (b"4.0.10  x", (4, 0, 10), b" x"),
        ] {
            let (found, after) = EnhancedCode::parse_prefix(text).unwrap();
            assert_eq!(
                (found.class(), found.subject(), found.detail()),
                code,
                "{text:?}"
            );
            assert_eq!(after, rest);
            assert_eq!(
                found.wire_len(),
                alloc::format!("{found}").len(),
                "{text:?}"
            );
        }
        for text in [
            &b"3.1.1 x"[..],
            b"2.1000.1",
            b"2..1",
            b"2.1.1x",
            b"2.1",
            b"",
        ] {
            assert_eq!(EnhancedCode::parse_prefix(text), None, "{text:?}");
        }
    }
}
