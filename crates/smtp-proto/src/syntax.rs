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
/// A non-ASCII octet (%x80-FF), which SMTPUTF8 admits in some classes ([`is_or_utf8`]).
const NON_ASCII: u16 = 1 << 8;

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0usize;
    while i < 256 {
        let c = i as u8;
        let mut class = 0u16;
        let alpha = c.is_ascii_alphabetic();
        let digit = c.is_ascii_digit();
        if alpha || digit {
            class |= ATEXT | LETDIG | LDH;
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
        if c >= 0x80 {
            class |= NON_ASCII;
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
    // One load and one test per octet: the non-ASCII octets have a class bit of their own.
    let class = if utf8 { class | NON_ASCII } else { class };
    TABLE[byte as usize] & class != 0
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

/// A size: RFC 1870 section 3's `size-value` (1*20DIGIT), also taken for BDAT's chunk size
/// (RFC 3030 section 2); `None` when empty, not all digits, longer than 20 digits, or
/// overflowing a `u64`.
#[inline]
pub(crate) fn parse_size(digits: &[u8]) -> Option<u64> {
    if digits.len() > 20 {
        return None;
    }
    mail_wire::decimal::parse_u64(digits)
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
    fn sizes_have_at_most_20_digits() {
        for v in [0u64, 7, 10, 1_000_000, u64::MAX] {
            let mut out = bytes::BytesMut::new();
            mail_wire::decimal::write_u64(&mut out, v);
            assert_eq!(parse_size(&out), Some(v));
        }
        assert_eq!(parse_size(b"00000000000000000001"), Some(1));
        assert_eq!(parse_size(b"000000000000000000001"), None);
        assert_eq!(parse_size(b"18446744073709551616"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"1a"), None);
    }
}
