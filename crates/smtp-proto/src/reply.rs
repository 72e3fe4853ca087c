//! Replies (RFC 5321 section 4.2): a three-digit code, an optional enhanced status code
//! (RFC 3463, RFC 2034) and one or more lines of text.

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::decimal;
use mail_wire::line::{self, LineEnding, LineError, LineScan};

use crate::error::{ParseError, ReplyError, ValueError, forbidden_octet};
use crate::limits::Limits;
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
    pub fn parse_prefix(text: &[u8]) -> Option<(EnhancedCode, &[u8])> {
        let (&class, rest) = text.split_first()?;
        if !matches!(class, b'2' | b'4' | b'5') || rest.first() != Some(&b'.') {
            return None;
        }
        let (subject, rest) = three_digits(&rest[1..])?;
        if rest.first() != Some(&b'.') {
            return None;
        }
        let (detail, rest) = three_digits(&rest[1..])?;
        let rest = match rest.split_first() {
            None => rest,
            Some((b' ', after)) => after,
            Some(_) => return None,
        };
        Some((
            EnhancedCode {
                class: class - b'0',
                subject,
                detail,
            },
            rest,
        ))
    }

    fn write(self, out: &mut BytesMut) {
        out.put_u8(b'0' + self.class);
        out.put_u8(b'.');
        decimal::write_u64(out, u64::from(self.subject));
        out.put_u8(b'.');
        decimal::write_u64(out, u64::from(self.detail));
    }
}

fn three_digits(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let len = bytes
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if len == 0 || len > 3 {
        return None;
    }
    let value = bytes[..len]
        .iter()
        .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
    Some((value, &bytes[len..]))
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
    pub fn new(text: impl Into<Bytes>) -> Result<ReplyText, ValueError> {
        let text = text.into();
        match syntax::forbidden_byte(&text) {
            Some(byte) => Err(ValueError::ForbiddenOctet {
                what: "reply text",
                octet: byte,
            }),
            None => Ok(ReplyText(text)),
        }
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
    /// A one-line reply.
    pub fn new(code: Code, enhanced: Option<EnhancedCode>, text: ReplyText) -> Reply {
        Reply {
            code,
            enhanced,
            lines: Lines::plain(text.0, 1),
        }
    }

    /// A reply of one or more lines (an empty list gives one empty line).
    pub fn multiline<I>(code: Code, enhanced: Option<EnhancedCode>, lines: I) -> Reply
    where
        I: IntoIterator<Item = ReplyText>,
    {
        let mut raw = BytesMut::new();
        let mut count = 0u32;
        for line in lines {
            if count > 0 {
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(&line.0);
            count += 1;
        }
        Reply {
            code,
            enhanced,
            lines: Lines::plain(raw.freeze(), count.max(1)),
        }
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

    /// A reply from a literal the crate controls: code valid, text free of CR, LF and NUL.
    pub(crate) const fn from_static(
        code: u16,
        enhanced: Option<EnhancedCode>,
        text: &'static str,
    ) -> Reply {
        Reply {
            code: Code(code),
            enhanced,
            lines: Lines::single_static(text),
        }
    }
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

    /// Writes the reply with its enhanced code (when it has one) on every line (RFC 2034 section 4).
    pub fn write(&self, out: &mut BytesMut) {
        self.write_with(out, true);
    }

    /// Writes the reply; `enhanced` says whether to include the enhanced code, which a server
    /// does only after advertising ENHANCEDSTATUSCODES (RFC 2034).
    pub fn write_with(&self, out: &mut BytesMut, enhanced: bool) {
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

/// Well-known replies, with the enhanced codes RFC 3463 assigns.
impl Reply {
    /// 250 2.0.0 OK.
    pub const fn ok() -> Reply {
        Reply::from_static(250, Some(EnhancedCode::OK), "OK")
    }
    /// 250 2.1.0: sender accepted (MAIL).
    pub const fn sender_ok() -> Reply {
        Reply::from_static(250, Some(EnhancedCode::SENDER_OK), "Sender OK")
    }
    /// 250 2.1.5: recipient accepted (RCPT).
    pub const fn recipient_ok() -> Reply {
        Reply::from_static(250, Some(EnhancedCode::DESTINATION_OK), "Recipient OK")
    }
    /// 250 2.0.0: message accepted for delivery (end of DATA or BDAT LAST).
    pub const fn message_accepted() -> Reply {
        Reply::from_static(250, Some(EnhancedCode::OK), "Message accepted for delivery")
    }
    /// 354: send the message (RFC 5321 section 4.3.2; no enhanced code for 3yz, RFC 2034).
    pub const fn start_data() -> Reply {
        Reply::from_static(354, None, "Start mail input; end with <CRLF>.<CRLF>")
    }
    /// 220 `domain` ESMTP: the greeting (RFC 5321 section 4.3.1; no enhanced code, RFC 2034).
    pub fn service_ready(domain: &crate::Domain) -> Reply {
        Reply::greeting(domain, b"ESMTP")
    }
    /// 220 `domain` LMTP: the greeting of an LMTP server, which names LMTP where an SMTP
    /// server names ESMTP (RFC 2033 section 4; its example greets `220 foo.edu LMTP server
    /// ready`), so a client that reached the wrong port can tell.
    pub fn lmtp_service_ready(domain: &crate::Domain) -> Reply {
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
    pub const fn closing() -> Reply {
        Reply::from_static(221, Some(EnhancedCode::OK), "Bye")
    }
    /// 220 2.0.0: ready to start TLS (RFC 3207 section 4).
    pub const fn ready_to_start_tls() -> Reply {
        Reply::from_static(220, Some(EnhancedCode::OK), "Ready to start TLS")
    }
    /// 214 2.0.0: help text.
    pub const fn help() -> Reply {
        Reply::from_static(214, Some(EnhancedCode::OK), "See RFC 5321")
    }
    /// 252 2.5.0: cannot VRFY, but will accept the message (RFC 5321 section 3.5.3).
    pub const fn cannot_verify() -> Reply {
        Reply::from_static(
            252,
            Some(EnhancedCode::known(2, 5, 0)),
            "Cannot VRFY user, but will accept message",
        )
    }
    /// 235 2.7.0: authentication succeeded (RFC 4954 section 6).
    pub const fn auth_ok() -> Reply {
        Reply::from_static(
            235,
            Some(EnhancedCode::known(2, 7, 0)),
            "Authentication successful",
        )
    }
    /// 500 5.5.1: command not recognized.
    pub const fn command_unrecognized() -> Reply {
        Reply::from_static(
            500,
            Some(EnhancedCode::INVALID_COMMAND),
            "Command unrecognized",
        )
    }
    /// 500 5.5.2: syntax error.
    pub const fn syntax_error() -> Reply {
        Reply::from_static(500, Some(EnhancedCode::SYNTAX_ERROR), "Syntax error")
    }
    /// 500 5.5.6: line too long (RFC 3463 X.5.6 is the closest code: "syntax error" in length).
    pub const fn line_too_long() -> Reply {
        Reply::from_static(500, Some(EnhancedCode::known(5, 5, 6)), "Line too long")
    }
    /// 501 5.5.4: syntax error in parameters or arguments.
    pub const fn parameter_syntax_error() -> Reply {
        Reply::from_static(
            501,
            Some(EnhancedCode::INVALID_ARGUMENTS),
            "Syntax error in parameters or arguments",
        )
    }
    /// 501 5.1.7: bad sender mailbox syntax.
    pub const fn bad_sender_syntax() -> Reply {
        Reply::from_static(
            501,
            Some(EnhancedCode::known(5, 1, 7)),
            "Bad sender address syntax",
        )
    }
    /// 553 5.1.3: bad destination mailbox syntax.
    pub const fn bad_recipient_syntax() -> Reply {
        Reply::from_static(
            553,
            Some(EnhancedCode::known(5, 1, 3)),
            "Bad recipient address syntax",
        )
    }
    /// 553 5.6.7: non-ASCII address without SMTPUTF8 (RFC 6531 section 3.5).
    pub const fn non_ascii_address() -> Reply {
        Reply::from_static(
            553,
            Some(EnhancedCode::known(5, 6, 7)),
            "Non-ASCII address requires SMTPUTF8",
        )
    }
    /// 502 5.5.1: command not implemented.
    pub const fn not_implemented() -> Reply {
        Reply::from_static(
            502,
            Some(EnhancedCode::INVALID_COMMAND),
            "Command not implemented",
        )
    }
    /// 503 5.5.1: bad sequence of commands.
    pub const fn bad_sequence() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "Bad sequence of commands",
        )
    }
    /// 504 5.5.4: command parameter not implemented.
    pub const fn parameter_not_implemented() -> Reply {
        Reply::from_static(
            504,
            Some(EnhancedCode::INVALID_ARGUMENTS),
            "Command parameter not implemented",
        )
    }
    /// 555 5.5.4: MAIL/RCPT parameter not recognized or not implemented (RFC 5321 section 4.1.1.11).
    pub const fn unsupported_parameter() -> Reply {
        Reply::from_static(
            555,
            Some(EnhancedCode::INVALID_ARGUMENTS),
            "Parameter not recognized or not implemented",
        )
    }
    /// 550 5.1.1: mailbox unavailable.
    pub const fn mailbox_unavailable() -> Reply {
        Reply::from_static(
            550,
            Some(EnhancedCode::known(5, 1, 1)),
            "Mailbox unavailable",
        )
    }
    /// 452 4.5.3: too many recipients (RFC 5321 section 4.5.3.1.10).
    pub const fn too_many_recipients() -> Reply {
        Reply::from_static(
            452,
            Some(EnhancedCode::known(4, 5, 3)),
            "Too many recipients",
        )
    }
    /// 452 4.3.1: insufficient system storage.
    pub const fn insufficient_storage() -> Reply {
        Reply::from_static(
            452,
            Some(EnhancedCode::known(4, 3, 1)),
            "Insufficient system storage",
        )
    }
    /// 552 5.3.4: message too big (RFC 1870 section 6).
    pub const fn message_too_big() -> Reply {
        Reply::from_static(
            552,
            Some(EnhancedCode::known(5, 3, 4)),
            "Message size exceeds fixed maximum",
        )
    }
    /// 451 4.3.0: local error in processing.
    pub const fn local_error() -> Reply {
        Reply::from_static(
            451,
            Some(EnhancedCode::known(4, 3, 0)),
            "Local error in processing",
        )
    }
    /// 421 4.3.2: service not available, closing the channel.
    pub const fn service_not_available() -> Reply {
        Reply::from_static(
            421,
            Some(EnhancedCode::known(4, 3, 2)),
            "Service not available, closing channel",
        )
    }
    /// 421 4.4.2: timeout, closing the channel (RFC 5321 section 4.5.3.2).
    pub const fn timeout() -> Reply {
        Reply::from_static(
            421,
            Some(EnhancedCode::known(4, 4, 2)),
            "Timeout, closing channel",
        )
    }
    /// 454 4.7.0: TLS not available (RFC 3207 section 4).
    pub const fn tls_not_available() -> Reply {
        Reply::from_static(454, Some(EnhancedCode::known(4, 7, 0)), "TLS not available")
    }
    /// 530 5.7.0: authentication required (RFC 4954 section 6).
    pub const fn auth_required() -> Reply {
        Reply::from_static(
            530,
            Some(EnhancedCode::known(5, 7, 0)),
            "Authentication required",
        )
    }
    /// 530 5.7.0: STARTTLS first (RFC 3207 section 4).
    pub const fn starttls_required() -> Reply {
        Reply::from_static(
            530,
            Some(EnhancedCode::known(5, 7, 0)),
            "Must issue a STARTTLS command first",
        )
    }
    /// 535 5.7.8: credentials invalid (RFC 4954 section 6).
    pub const fn auth_failed() -> Reply {
        Reply::from_static(
            535,
            Some(EnhancedCode::known(5, 7, 8)),
            "Authentication credentials invalid",
        )
    }
    /// 534 5.7.9: mechanism too weak (RFC 4954 section 6).
    pub const fn auth_mechanism_too_weak() -> Reply {
        Reply::from_static(
            534,
            Some(EnhancedCode::known(5, 7, 9)),
            "Authentication mechanism is too weak",
        )
    }
    /// 538 5.7.11: encryption required for this mechanism (RFC 4954 section 6).
    pub const fn encryption_required_for_mechanism() -> Reply {
        Reply::from_static(
            538,
            Some(EnhancedCode::known(5, 7, 11)),
            "Encryption required for requested authentication mechanism",
        )
    }
    /// 501 5.7.0: the client cancelled the exchange with `*`. RFC 4954 section 4 requires
    /// 501 and assigns no enhanced code to it (section 6 lists none); 5.7.0, "other security
    /// status" (RFC 3463 section 3.8), is what Postfix sends (`501 5.7.0 Authentication
    /// aborted`).
    pub const fn auth_cancelled() -> Reply {
        Reply::from_static(
            501,
            Some(EnhancedCode::known(5, 7, 0)),
            "Authentication cancelled",
        )
    }
    /// 500 5.5.6: an authentication line was too long (RFC 4954 section 4).
    pub const fn auth_line_too_long() -> Reply {
        Reply::from_static(
            500,
            Some(EnhancedCode::known(5, 5, 6)),
            "Authentication exchange line is too long",
        )
    }
    /// 554 5.0.0: transaction failed.
    pub const fn transaction_failed() -> Reply {
        Reply::from_static(
            554,
            Some(EnhancedCode::known(5, 0, 0)),
            "Transaction failed",
        )
    }
    /// 554 5.5.1: DATA or BDAT in a transaction without an accepted recipient (RFC 5321
    /// section 3.3: "554 No valid recipients"; RFC 3463 X.5.1, the command is out of place).
    pub const fn no_valid_recipients() -> Reply {
        Reply::from_static(
            554,
            Some(EnhancedCode::INVALID_COMMAND),
            "No valid recipients",
        )
    }
    /// 550 5.6.11: a bare CR or LF in message content. RFC 5321 section 2.3.8 allows CR and
    /// LF only together; a receiver that accepts them alone can be made to see the end of
    /// the message where the next hop does not (the SMTP smuggling advisories, 2023), so
    /// such a message is refused whole.
    pub const fn bare_line_ending() -> Reply {
        Reply::from_static(
            550,
            Some(EnhancedCode::known(5, 6, 11)),
            "Bare CR or LF in message content is not allowed",
        )
    }
    /// 250 2.0.0: a BDAT chunk that is not the last one was received (RFC 3030 section 2:
    /// each BDAT gets a reply once its chunk is read).
    pub const fn chunk_received() -> Reply {
        Reply::from_static(250, Some(EnhancedCode::OK), "Chunk received")
    }
    /// 421 4.7.0: the session made too many errors and is closed (RFC 5321 section 3.8: a
    /// server closes the channel only after 421; RFC 3463 X.7.0, a policy reason).
    pub const fn too_many_errors() -> Reply {
        Reply::from_static(
            421,
            Some(EnhancedCode::known(4, 7, 0)),
            "Too many errors, closing connection",
        )
    }
    /// 421 4.7.0: the client sent far more pipelined input than the server buffers unread
    /// (a client that writes without reading replies would grow it without end), so the
    /// session is closed (RFC 5321 section 3.8; RFC 3463 X.7.0, a policy reason).
    pub const fn too_much_input() -> Reply {
        Reply::from_static(
            421,
            Some(EnhancedCode::known(4, 7, 0)),
            "Too much unread input, closing connection",
        )
    }
    /// 503 5.5.1: MAIL or AUTH before EHLO (or HELO, for MAIL) (RFC 5321 section 4.1.4).
    pub const fn hello_first() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "Send EHLO or HELO first",
        )
    }
    /// 503 5.5.1: RCPT, DATA or BDAT without a MAIL first (RFC 5321 section 3.3).
    pub const fn mail_first() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "Need MAIL command first",
        )
    }
    /// 503 5.5.1: MAIL inside a transaction (RFC 5321 section 4.1.4: MAIL is not sent while a
    /// transaction is open).
    pub const fn sender_already_specified() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "Sender already specified",
        )
    }
    /// 503 5.5.1: any command but QUIT after a refusing greeting (RFC 5321 section 3.1: the
    /// server waits for QUIT and answers other commands with 503).
    pub const fn only_quit_accepted() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "No service here; only QUIT is accepted",
        )
    }
    /// 503 5.5.1: STARTTLS over a channel already secured (RFC 3207 section 4.2: once TLS is
    /// on, STARTTLS is no longer offered).
    pub const fn tls_already_active() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "TLS already active",
        )
    }
    /// 503 5.5.1: AUTH after a successful AUTH (RFC 4954 section 4).
    pub const fn already_authenticated() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "Already authenticated",
        )
    }
    /// 503 5.5.1: AUTH inside a mail transaction (RFC 4954 section 4).
    pub const fn auth_in_transaction() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "AUTH not allowed during a mail transaction",
        )
    }
    /// 503 5.5.1: DATA in a BODY=BINARYMIME transaction, which only BDAT may carry (RFC 3030
    /// section 3).
    pub const fn binarymime_requires_bdat() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "BODY=BINARYMIME requires BDAT",
        )
    }
    /// 503 5.5.1: DATA after BDAT chunks of the same message (RFC 3030 section 2: a message
    /// is sent with DATA or with BDAT, not both).
    pub const fn data_after_bdat() -> Reply {
        Reply::from_static(
            503,
            Some(EnhancedCode::INVALID_COMMAND),
            "DATA not allowed after BDAT",
        )
    }
    /// 500 5.5.1: the greeting verb of the other protocol: LHLO to an SMTP server, HELO or
    /// EHLO to an LMTP server (RFC 2033 section 4.1).
    pub const fn wrong_hello_verb() -> Reply {
        Reply::from_static(
            500,
            Some(EnhancedCode::INVALID_COMMAND),
            "Command unrecognized here",
        )
    }
    /// 501 5.5.2: an AUTH response (or initial response) that is not base64 (RFC 4954
    /// sections 4 and 6).
    pub const fn auth_bad_base64() -> Reply {
        Reply::from_static(
            501,
            Some(EnhancedCode::SYNTAX_ERROR),
            "Cannot decode base64 response",
        )
    }
    /// 504 5.5.4: AUTH with a mechanism the server does not offer (RFC 4954 sections 4 and 6).
    pub const fn unrecognized_auth_mechanism() -> Reply {
        Reply::from_static(
            504,
            Some(EnhancedCode::INVALID_ARGUMENTS),
            "Unrecognized authentication type",
        )
    }
    /// 535 5.7.8: a decoded SASL message that breaks its mechanism's syntax (RFC 4954
    /// section 6 gives 5.7.8 to credentials that cannot be used).
    pub const fn auth_malformed() -> Reply {
        Reply::from_static(
            535,
            Some(EnhancedCode::known(5, 7, 8)),
            "Malformed authentication message",
        )
    }
    /// 334 with a base64 challenge (RFC 4954 section 4); `challenge` must be base64 (may be empty).
    pub fn auth_challenge(challenge: &[u8]) -> Result<Reply, ValueError> {
        if !syntax::all(challenge, syntax::BASE64) {
            return Err(ValueError::Malformed {
                what: "SASL challenge",
            });
        }
        let text = Bytes::copy_from_slice(challenge);
        Ok(Reply {
            code: Code(334),
            enhanced: None,
            lines: Lines::plain(text, 1),
        })
    }
}
