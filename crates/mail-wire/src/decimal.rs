//! ASCII decimal numbers as both protocols carry them: message numbers and sizes (RFC 1939
//! section 5), SIZE and BDAT values (RFC 1870, RFC 3030), enhanced status code parts
//! (RFC 3463). A number on the wire is `1*DIGIT` (RFC 5234 appendix B.1); no sign, no spaces.

use bytes::BytesMut;

/// Parses a non-empty run of ASCII digits. `None` when `digits` is empty, holds anything but
/// a digit, or overflows a `u64`. Leading zeros are allowed.
///
/// ```
/// use mail_wire::decimal::parse_u64;
///
/// assert_eq!(parse_u64(b"1048576"), Some(1_048_576));
/// assert_eq!(parse_u64(b"007"), Some(7));
/// assert_eq!(parse_u64(b"18446744073709551616"), None); // u64::MAX + 1
/// assert_eq!(parse_u64(b"-1"), None);
/// assert_eq!(parse_u64(b""), None);
/// ```
#[inline]
pub fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some(value)
}

/// [`parse_u64`] for a number that must fit a `u32`.
#[inline]
pub fn parse_u32(digits: &[u8]) -> Option<u32> {
    parse_u64(digits).and_then(|value| u32::try_from(value).ok())
}

/// Appends `value` in decimal, without leading zeros, without allocating beyond `out`'s
/// own growth.
///
/// ```
/// use bytes::BytesMut;
/// use mail_wire::decimal::write_u64;
///
/// let mut out = BytesMut::from(&b"SIZE="[..]);
/// write_u64(&mut out, 35_882_577);
/// assert_eq!(&out[..], b"SIZE=35882577");
/// ```
pub fn write_u64(out: &mut BytesMut, value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"000000000000000000000000001"), Some(1));
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_u64(b" 1"), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        let mut out = BytesMut::new();
        write_u64(&mut out, 0);
        assert_eq!(&out[..], b"0");
    }

    proptest! {
        #[test]
        fn write_then_parse_gives_the_value(value in any::<u64>()) {
            let mut out = BytesMut::new();
            write_u64(&mut out, value);
            let expected = format!("{value}");
            prop_assert_eq!(&out[..], expected.as_bytes());
            prop_assert_eq!(parse_u64(&out), Some(value));
        }

        #[test]
        fn parse_agrees_with_core(text in "[0-9]{0,25}|[0-9 +a-]{0,6}") {
            prop_assert_eq!(parse_u64(text.as_bytes()), text.parse::<u64>().ok().filter(|_| !text.starts_with('+')));
        }
    }
}
