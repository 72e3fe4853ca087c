//! Character classes of the RFC 5321 ABNF (section 4.1.2 and 4.1.3) and of its extensions,
//! as one lookup table: the hot parsing loops test a byte with a single load.

/// `atext` of RFC 5322 section 3.2.3 (the characters of an `Atom`).
pub(crate) const ATEXT: u16 = 1;
/// `Let-dig`: ALPHA / DIGIT.
pub(crate) const LETDIG: u16 = 1 << 1;
/// `Ldh-str` characters: ALPHA / DIGIT / "-" (also `esmtp-keyword` and `ehlo-keyword`).
pub(crate) const LDH: u16 = 1 << 2;
/// `qtextSMTP`: %d32-33 / %d35-91 / %d93-126.
pub(crate) const QTEXT: u16 = 1 << 3;
/// `esmtp-value` (ASCII part): %d33-60 / %d62-126.
pub(crate) const ESMTP_VALUE: u16 = 1 << 4;
/// `xchar` of RFC 3461 section 4: %d33-42 / %d44-60 / %d62-126.
pub(crate) const XCHAR: u16 = 1 << 5;
/// `dcontent` of an address literal: %d33-90 / %d94-126.
pub(crate) const DCONTENT: u16 = 1 << 6;
/// Printable ASCII %d32-126 plus HT: `textstring` of a reply (RFC 5321 section 4.2).
pub(crate) const TEXT: u16 = 1 << 7;
/// Base64 alphabet (RFC 4648 section 4), including the pad `=`.
pub(crate) const BASE64: u16 = 1 << 8;
/// The octets that end or break a line: CR, LF, NUL.
const LINE_SPECIAL: u16 = 1 << 9;

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0usize;
    while i < 256 {
        let c = i as u8;
        let mut class = 0u16;
        let alpha = c.is_ascii_alphabetic();
        let digit = c.is_ascii_digit();
        if alpha || digit {
            class |= ATEXT | LETDIG | LDH | BASE64;
        }
        if matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        ) {
            class |= ATEXT;
        }
        if c == b'-' {
            class |= LDH;
        }
        if matches!(c, b'+' | b'/' | b'=') {
            class |= BASE64;
        }
        if matches!(c, 32..=33 | 35..=91 | 93..=126) {
            class |= QTEXT;
        }
        if matches!(c, 33..=60 | 62..=126) {
            class |= ESMTP_VALUE;
        }
        if matches!(c, 33..=42 | 44..=60 | 62..=126) {
            class |= XCHAR;
        }
        if matches!(c, 33..=90 | 94..=126) {
            class |= DCONTENT;
        }
        if matches!(c, 9 | 32..=126) {
            class |= TEXT;
        }
        if matches!(c, b'\r' | b'\n' | 0) {
            class |= LINE_SPECIAL;
        }
        table[i] = class;
        i += 1;
    }
    table
}

static TABLE: [u16; 256] = build_table();

/// Whether `byte` belongs to `class` (one of the constants above).
#[inline(always)]
pub(crate) fn is(byte: u8, class: u16) -> bool {
    TABLE[byte as usize] & class != 0
}

/// Whether `byte` belongs to `class`, or is a non-ASCII byte and `utf8` allows those
/// (RFC 6531 section 3.3 extends atext, sub-domain and esmtp-value with UTF8-non-ascii).
#[inline(always)]
pub(crate) fn is_or_utf8(byte: u8, class: u16, utf8: bool) -> bool {
    TABLE[byte as usize] & class != 0 || (utf8 && byte >= 0x80)
}

/// Whether every byte of `bytes` belongs to `class`.
#[inline]
pub(crate) fn all(bytes: &[u8], class: u16) -> bool {
    bytes.iter().all(|&b| is(b, class))
}

/// The first byte of `bytes` that may never travel inside a line: CR, LF or NUL.
#[inline]
pub(crate) fn forbidden_byte(bytes: &[u8]) -> Option<u8> {
    memchr::memchr3(b'\r', b'\n', 0, bytes).map(|i| bytes[i])
}

/// Parses 1 to 20 ASCII digits as a `u64`; `None` when empty, not all digits, or overflowing.
#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(value)
}

/// Writes `value` in decimal.
pub(crate) fn put_u64(out: &mut bytes::BytesMut, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_the_abnf() {
        assert!(is(b'a', ATEXT) && is(b'~', ATEXT) && !is(b'.', ATEXT) && !is(b'@', ATEXT));
        assert!(is(b'-', LDH) && !is(b'-', LETDIG) && !is(b'_', LDH));
        assert!(!is(b'"', QTEXT) && !is(b'\\', QTEXT) && is(b' ', QTEXT));
        assert!(!is(b'=', ESMTP_VALUE) && !is(b' ', ESMTP_VALUE) && is(b'+', ESMTP_VALUE));
        assert!(!is(b'+', XCHAR) && !is(b'=', XCHAR) && is(b'<', XCHAR));
        assert!(!is(b'[', DCONTENT) && !is(b']', DCONTENT) && !is(b'\\', DCONTENT));
        assert!(is(b'\t', TEXT) && !is(b'\r', TEXT) && !is(0, TEXT) && !is(0x80, TEXT));
        assert!(is_or_utf8(0xC3, ATEXT, true) && !is_or_utf8(0xC3, ATEXT, false));
    }

    #[test]
    fn decimal_round_trip() {
        for v in [0u64, 7, 10, 1_000_000, u64::MAX] {
            let mut out = bytes::BytesMut::new();
            put_u64(&mut out, v);
            assert_eq!(parse_u64(&out), Some(v));
        }
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
    }
}

/// Where the first line of a buffer ends (RFC 5321 section 2.3.8: lines end in CRLF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineScan {
    /// A line: its content is `..end`, the next line starts at `next`.
    Line { end: usize, next: usize },
    /// No line end yet, and the line is still within the limit.
    Incomplete,
    /// The line is longer than the limit; `consumed` is 0 when its end is not in sight.
    TooLong { consumed: usize },
    /// The line holds NUL or a bare CR, or (strict) ends in a bare LF; it takes `consumed` octets.
    Forbidden { byte: u8, consumed: usize },
}

/// Finds the end of the first line of `bytes`, at most `limit` octets long with its CRLF,
/// in one pass that also catches NUL, bare CR and (unless `bare_lf`) bare LF.
#[inline]
pub(crate) fn scan_line(bytes: &[u8], limit: usize, bare_lf: bool) -> LineScan {
    let window = &bytes[..bytes.len().min(limit)];
    let Some(i) = find_special(window) else {
        return incomplete_or_too_long(bytes, limit);
    };
    match window[i] {
        b'\r' => match bytes.get(i + 1) {
            Some(b'\n') if i + 2 <= limit => LineScan::Line {
                end: i,
                next: i + 2,
            },
            Some(b'\n') => LineScan::TooLong { consumed: i + 2 },
            Some(_) => forbidden_to_line_end(bytes, i, b'\r', limit),
            None => incomplete_or_too_long(bytes, limit),
        },
        b'\n' if bare_lf => LineScan::Line {
            end: i,
            next: i + 1,
        },
        b'\n' => LineScan::Forbidden {
            byte: b'\n',
            consumed: i + 1,
        },
        byte => forbidden_to_line_end(bytes, i, byte, limit),
    }
}

/// The first CR, LF or NUL. Most SMTP lines are short: a word-at-a-time loop over the first
/// octets beats the set-up of a vector search, which takes over for long lines.
#[inline(always)]
pub(crate) fn find_special(bytes: &[u8]) -> Option<usize> {
    const HEAD: usize = 128;
    let head = &bytes[..bytes.len().min(HEAD)];
    let mut base = 0;
    let mut chunks = head.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if let Some(i) = first_special_in_word(u64::from_le_bytes(word), chunk) {
            return Some(base + i);
        }
        base += 8;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if head.len() >= 8 {
            // The last 8 octets, the ones already seen turned into spaces (never special).
            let seen = 8 - tail.len();
            let mut word = [0u8; 8];
            word.copy_from_slice(&head[head.len() - 8..]);
            let seen_bits = (1u64 << (seen * 8)) - 1;
            let word = (u64::from_le_bytes(word) & !seen_bits) | ((LOW_BITS * 0x20) & seen_bits);
            if let Some(i) = first_special_in_word(word, &head[head.len() - 8..]) {
                return Some(base - seen + i);
            }
        } else if let Some(i) = tail.iter().position(|&b| is(b, LINE_SPECIAL)) {
            return Some(base + i);
        }
    }
    if bytes.len() > HEAD {
        memchr::memchr3(b'\r', b'\n', 0, &bytes[HEAD..]).map(|i| i + HEAD)
    } else {
        None
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The index of the first CR, LF or NUL among the 8 octets of `word` (little-endian load of
/// `bytes`, which may be shorter: the padding is never special).
///
/// One test flags every octet below 0x0E (CR, LF and NUL are all below it); the lowest flagged
/// octet is exact (a borrow only spreads upwards), and the rare other control octet (HT) is
/// stepped over.
#[inline(always)]
fn first_special_in_word(word: u64, bytes: &[u8]) -> Option<usize> {
    let mut below = word.wrapping_sub(LOW_BITS * 0x0E) & !word & HIGH_BITS;
    while below != 0 {
        let i = (below.trailing_zeros() / 8) as usize;
        match bytes.get(i) {
            Some(&b) if is(b, LINE_SPECIAL) => return Some(i),
            Some(_) => {
                // Not special: look again above it (clearing the borrow it may have caused).
                let above = (i + 1) * 8;
                if above >= 64 {
                    return None;
                }
                let rest = word >> above;
                below = (rest.wrapping_sub(LOW_BITS * 0x0E) & !rest & HIGH_BITS) << above;
            }
            None => return None,
        }
    }
    None
}

/// Up to 8 octets of `bytes` from `at` as a little-endian word, zero beyond `len` (and beyond
/// the end of `bytes`).
#[inline(always)]
pub(crate) fn word_at(bytes: &[u8], at: usize, len: usize) -> u64 {
    let len = len.min(8);
    match bytes.get(at..at + 8) {
        Some(eight) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(eight);
            let word = u64::from_le_bytes(word);
            if len == 8 {
                word
            } else {
                word & ((1u64 << (len * 8)) - 1)
            }
        }
        None => {
            let mut word = 0u64;
            for (i, &b) in bytes
                .get(at..)
                .unwrap_or_default()
                .iter()
                .take(len)
                .enumerate()
            {
                word |= u64::from(b) << (i * 8);
            }
            word
        }
    }
}

/// Octets `from..from + 8` of a keyword (fewer at its end) as a little-endian word, for
/// comparison with [`word_at`].
pub(crate) const fn word(keyword: &[u8], from: usize) -> u64 {
    let mut word = 0u64;
    let mut i = from;
    while i < keyword.len() && i < from + 8 {
        word |= (keyword[i] as u64) << ((i - from) * 8);
        i += 1;
    }
    word
}

/// The bits that fold ASCII case in [`word`]`(keyword, from)`: 0x20 under each letter. A loaded
/// word OR these bits equals [`folded`]`(keyword, from)` exactly when it holds that part of the
/// keyword in any case (digits and `-` compare as they are; no other octet folds onto a letter).
pub(crate) const fn case_bits(keyword: &[u8], from: usize) -> u64 {
    let mut bits = 0u64;
    let mut i = from;
    while i < keyword.len() && i < from + 8 {
        if keyword[i].is_ascii_alphabetic() {
            bits |= 0x20 << ((i - from) * 8);
        }
        i += 1;
    }
    bits
}

/// [`word`] with its letters in lower case.
pub(crate) const fn folded(keyword: &[u8], from: usize) -> u64 {
    word(keyword, from) | case_bits(keyword, from)
}

/// Whether `loaded` (a [`word_at`] of the same length) is `keyword[from..from + 8]` in any case.
macro_rules! word_is {
    ($loaded:expr, $keyword:literal, $from:literal) => {
        $loaded | const { $crate::syntax::case_bits($keyword, $from) }
            == const { $crate::syntax::folded($keyword, $from) }
    };
}
pub(crate) use word_is;

fn incomplete_or_too_long(bytes: &[u8], limit: usize) -> LineScan {
    if bytes.len() >= limit {
        LineScan::TooLong { consumed: 0 }
    } else {
        LineScan::Incomplete
    }
}

/// A forbidden byte at `at`: the error is reported once the whole line is in.
fn forbidden_to_line_end(bytes: &[u8], at: usize, byte: u8, limit: usize) -> LineScan {
    match memchr::memchr(b'\n', &bytes[at..]) {
        Some(lf) if at + lf < limit => LineScan::Forbidden {
            byte,
            consumed: at + lf + 1,
        },
        Some(lf) => LineScan::TooLong {
            consumed: at + lf + 1,
        },
        None => incomplete_or_too_long(bytes, limit),
    }
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    #[test]
    fn finds_lines_and_bad_bytes() {
        assert_eq!(
            scan_line(b"NOOP\r\nX", 512, false),
            LineScan::Line { end: 4, next: 6 }
        );
        assert_eq!(scan_line(b"NOOP\r", 512, false), LineScan::Incomplete);
        assert_eq!(
            scan_line(b"NOOP\n", 512, false),
            LineScan::Forbidden {
                byte: b'\n',
                consumed: 5
            }
        );
        assert_eq!(
            scan_line(b"NOOP\n", 512, true),
            LineScan::Line { end: 4, next: 5 }
        );
        assert_eq!(
            scan_line(b"NO\0P\r\n", 512, false),
            LineScan::Forbidden {
                byte: 0,
                consumed: 6
            }
        );
        assert_eq!(
            scan_line(b"NO\rP\r\n", 512, false),
            LineScan::Forbidden {
                byte: b'\r',
                consumed: 6
            }
        );
        assert_eq!(scan_line(b"NO\0P", 512, false), LineScan::Incomplete);
        assert_eq!(
            scan_line(b"NOOP", 4, false),
            LineScan::TooLong { consumed: 0 }
        );
        assert_eq!(
            scan_line(b"NOO\r\n", 4, false),
            LineScan::TooLong { consumed: 5 }
        );
        assert_eq!(
            scan_line(b"NO\r\n", 4, false),
            LineScan::Line { end: 2, next: 4 }
        );
    }
}
