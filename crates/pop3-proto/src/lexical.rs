//! Lexical helpers shared by the parsers and writers: finding one CRLF-terminated line at
//! the front of a buffer within a limit, and decimal numbers.
//!
//! The session machines frame lines with `mail_wire::line::LineFramer`; this module serves
//! the `parse(&Bytes)` entry points, which frame and parse in one call.

use bytes::Bytes;

use crate::ValueError;

/// What is wrong with a line as a line, before its content is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineFault {
    TooLong { limit: usize },
    BareLf,
    BareCr,
    Nul,
}

/// Why no line came out of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    Incomplete,
    Fault { fault: LineFault, consumed: usize },
}

/// Takes the line at `input[start..]`: returns it without its CRLF, and the offset just
/// past its LF. `limit` counts the CRLF.
pub(crate) fn frame_at(
    input: &Bytes,
    start: usize,
    limit: usize,
) -> Result<(Bytes, usize), FrameError> {
    let (end, next) = frame_end(input, start, limit)?;
    Ok((input.slice(start..end), next))
}

/// Like [`frame_at`] without making a `Bytes`: the end of the line (before CR) and the
/// offset just past its LF.
#[inline]
pub(crate) fn frame_end(
    input: &[u8],
    start: usize,
    limit: usize,
) -> Result<(usize, usize), FrameError> {
    let rest = input.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(limit)];
    // One scan for the first CR, LF or NUL: on a good line that is the CR of its CRLF.
    let not_yet = || {
        if rest.len() >= limit {
            FrameError::Fault {
                fault: LineFault::TooLong { limit },
                consumed: input.len(),
            }
        } else {
            FrameError::Incomplete
        }
    };
    let Some(stop) = find_line_stop(window) else {
        return Err(not_yet());
    };
    if window[stop] == b'\r' && window.get(stop + 1) == Some(&b'\n') {
        return Ok((start + stop, start + stop + 2));
    }
    // A fault: the bad line ends at its LF, which may not have arrived yet.
    let Some(lf) = memchr::memchr(b'\n', &window[stop..]).map(|lf| stop + lf) else {
        return Err(not_yet());
    };
    let fault = match window[stop] {
        b'\n' => LineFault::BareLf,
        0 => LineFault::Nul,
        _ => LineFault::BareCr,
    };
    // What comes first is reported: a NUL before a bare LF is a NUL.
    Err(FrameError::Fault {
        fault,
        consumed: start + lf + 1,
    })
}

/// The first CR, LF or NUL in `window`. POP3 lines are mostly a few octets long, where a
/// plain loop beats memchr's set-up cost; longer lines go to memchr after the first stretch.
#[inline]
pub(crate) fn find_line_stop(window: &[u8]) -> Option<usize> {
    const SHORT: usize = 32;
    let (head, tail) = window.split_at(window.len().min(SHORT));
    // One compare per octet on the common path: all three stops are at most CR (0x0d).
    if let Some(i) = head
        .iter()
        .position(|&b| b <= b'\r' && matches!(b, b'\r' | b'\n' | 0))
    {
        return Some(i);
    }
    if tail.is_empty() {
        return None;
    }
    memchr::memchr3(b'\r', b'\n', 0, tail).map(|i| SHORT + i)
}

/// A framed line may hold neither CR, LF nor NUL.
pub(crate) fn check_line(line: &[u8]) -> Result<(), LineFault> {
    match memchr::memchr3(b'\r', b'\n', 0, line).map(|i| line[i]) {
        None => Ok(()),
        Some(b'\r') => Err(LineFault::BareCr),
        Some(b'\n') => Err(LineFault::BareLf),
        Some(_) => Err(LineFault::Nul),
    }
}

impl From<LineFault> for crate::CommandError {
    fn from(fault: LineFault) -> Self {
        match fault {
            LineFault::TooLong { limit } => Self::LineTooLong { limit },
            LineFault::BareLf => Self::BareLf,
            LineFault::BareCr => Self::BareCr,
            LineFault::Nul => Self::Nul,
        }
    }
}

impl From<LineFault> for crate::ResponseError {
    fn from(fault: LineFault) -> Self {
        match fault {
            LineFault::TooLong { limit } => Self::LineTooLong { limit },
            LineFault::BareLf => Self::BareLf,
            LineFault::BareCr => Self::BareCr,
            LineFault::Nul => Self::Nul,
        }
    }
}

impl<E: From<LineFault>> From<FrameError> for crate::ParseError<E> {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::Incomplete => Self::Incomplete,
            FrameError::Fault { fault, consumed } => Self::Invalid {
                error: fault.into(),
                consumed,
            },
        }
    }
}

/// Writes a decimal number without allocating.
pub(crate) fn put_decimal(out: &mut bytes::BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Parses a non-empty run of ASCII digits into a u64, or None on anything else or overflow.
#[inline]
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Parses a non-empty run of ASCII digits into a u32.
#[inline]
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    parse_decimal(digits).and_then(|n| u32::try_from(n).ok())
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
    let (end, consumed) = frame_end(input, 0, limit)?;
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
pub(crate) fn slice_in(source: &Bytes, sub: &[u8]) -> Bytes {
    let start = source.as_ptr() as usize;
    let sub_start = sub.as_ptr() as usize;
    if sub_start >= start && sub_start + sub.len() <= start + source.len() {
        source.slice_ref(sub)
    } else {
        Bytes::copy_from_slice(sub)
    }
}
