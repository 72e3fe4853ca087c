//! Lexical helpers shared by the parsers and writers: the line at the front of a buffer,
//! words, texts and fields.
//!
//! What a line is (CRLF-terminated, within a limit, no NUL, bare CR or bare LF: RFC 1939
//! section 3) is decided by `mail_wire::line`, for the session machines (`LineFramer`) and
//! for the `parse(&Bytes)` entry points here (`scan_line`) alike; this module maps its
//! verdicts to this crate's errors. Decimal numbers are `mail_wire::decimal`'s.

use bytes::Bytes;
use mail_wire::line::{self, LineEnding, LineError, LineScan};

use crate::{ParseError, ValueError};

/// Frames the line at `input[start..]` within `limit` (CRLF included): the end of its
/// content and the offset just past its CRLF. A bad line is an error whose `consumed` covers
/// it through its LF; for an overlong line whose LF is not in sight, `consumed` stops at
/// `start` and the caller discards through the next LF (`ParseError`'s rule).
#[inline]
pub(crate) fn frame<E: From<LineError>>(
    input: &[u8],
    start: usize,
    limit: usize,
) -> Result<(usize, usize), ParseError<E>> {
    let rest = input.get(start..).unwrap_or_default();
    match line::scan_line(rest, limit, LineEnding::Crlf) {
        LineScan::Line {
            content_len,
            total_len,
        } => Ok((start + content_len, start + total_len)),
        LineScan::Incomplete => Err(ParseError::Incomplete),
        // `scan_line` gives 0 for an overlong line whose LF it has not seen.
        LineScan::Fault { error, consumed } => Err(ParseError::Invalid {
            error: error.into(),
            consumed: start + consumed,
        }),
    }
}

/// A line already framed (without its CRLF) may hold neither CR, LF nor NUL; the first one
/// found names the error.
pub(crate) fn check_line(line: &[u8]) -> Result<(), LineError> {
    match line::find_cr_lf_nul(line).map(|i| line[i]) {
        None => Ok(()),
        Some(b'\r') => Err(LineError::BareCr),
        Some(b'\n') => Err(LineError::BareLf),
        Some(_) => Err(LineError::Nul),
    }
}

impl From<LineError> for crate::CommandError {
    fn from(error: LineError) -> Self {
        match error {
            LineError::TooLong { limit } => Self::LineTooLong { limit },
            LineError::BareLf => Self::BareLf,
            LineError::BareCr => Self::BareCr,
            LineError::Nul => Self::Nul,
        }
    }
}

impl From<LineError> for crate::ResponseError {
    fn from(error: LineError) -> Self {
        match error {
            LineError::TooLong { limit } => Self::LineTooLong { limit },
            LineError::BareLf => Self::BareLf,
            LineError::BareCr => Self::BareCr,
            LineError::Nul => Self::Nul,
        }
    }
}

/// Checks one word of a command or response: non-empty, at most `max` octets, no space,
/// no control octet (so no CR, LF or NUL); octets >= 0x80 pass for UTF-8 (RFC 6856).
pub(crate) fn check_word(word: &[u8], what: &'static str, max: usize) -> Result<(), ValueError> {
    if word.is_empty() {
        return Err(ValueError::Empty { what });
    }
    if word.len() > max {
        return Err(ValueError::TooLong { what, limit: max });
    }
    match word.iter().find(|&&b| b <= b' ' || b == 0x7f) {
        Some(&octet) => Err(ValueError::ForbiddenOctet { what, octet }),
        None => Ok(()),
    }
}

/// Checks a free text (the rest of a line): no CR, LF or NUL, at most `max` octets.
pub(crate) fn check_text(text: &[u8], what: &'static str, max: usize) -> Result<(), ValueError> {
    if text.len() > max {
        return Err(ValueError::TooLong { what, limit: max });
    }
    match memchr::memchr3(b'\r', b'\n', 0, text) {
        Some(i) => Err(ValueError::ForbiddenOctet {
            what,
            octet: text[i],
        }),
        None => Ok(()),
    }
}

/// Splits `line` at its first space: the part before, and the part after (None if there is
/// no space).
#[inline]
pub(crate) fn split_space(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match find_space(line) {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    }
}

/// The first space in `line`: a plain loop over the short words of POP3 lines, memchr
/// past them.
#[inline]
fn find_space(line: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    let (head, tail) = line.split_at(line.len().min(SHORT));
    match head.iter().position(|&b| b == b' ') {
        Some(i) => Some(i),
        None if tail.is_empty() => None,
        None => memchr::memchr(b' ', tail).map(|i| SHORT + i),
    }
}

/// Frames the line at the front of `input` within `limit` and hands it to `parse`.
pub(crate) fn parse_front<T>(
    input: &Bytes,
    limit: usize,
    parse: impl FnOnce(&Bytes, &[u8]) -> Result<T, crate::ResponseError>,
) -> Result<(T, usize), crate::ParseError<crate::ResponseError>> {
    let (end, consumed) = frame(input, 0, limit)?;
    parse(input, &input[..end])
        .map(|value| (value, consumed))
        .map_err(|error| crate::ParseError::Invalid { error, consumed })
}

/// Checks an already framed line (without CRLF) against `limit` and hands it to `parse`.
pub(crate) fn parse_framed_line<T>(
    line: Bytes,
    limit: usize,
    parse: impl FnOnce(&Bytes, &[u8]) -> Result<T, crate::ResponseError>,
) -> Result<T, crate::ResponseError> {
    check_line(&line)?;
    if line.len() + 2 > limit {
        return Err(crate::ResponseError::LineTooLong { limit });
    }
    parse(&line, &line)
}

/// Splits "first SP second [SP ignored...]" into its first two fields; RFC 1939 section 5
/// lets a server put more after them, which a client ignores.
#[inline]
pub(crate) fn two_fields(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let (first, rest) = split_space(text);
    let (second, _) = split_space(rest?);
    Some((first, second))
}

/// `sub` as `Bytes`: a reference-counted slice when `sub` lies within `source` (the normal
/// case), a copy otherwise, so that a caller passing an unrelated slice gets no panic.
pub(crate) use mail_wire::parse::share as slice_in;
