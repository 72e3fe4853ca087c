//! APOP (RFC 1939 section 7): the greeting's timestamp and the MD5 digest over it.
//!
//! The server puts a unique timestamp such as `<1896.697170952@dbc.mtview.ca.us>` in its
//! greeting; the client answers `APOP name digest`, where digest is the lowercase hex MD5
//! of the timestamp (angle brackets included) followed by the shared secret.

use core::fmt;
use mail_wire::value::IntoBytes;

use bytes::Bytes;
use md5::{Digest as _, Md5};

use crate::ValueError;

/// The APOP timestamp from a server greeting, angle brackets included.
///
/// RFC 1939 section 7 gives it the syntax of an RFC 822 msg-id; this type accepts
/// `<`, then 1 or more printable ASCII octets other than `<`, `>` and space, then `>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(Bytes);

impl Timestamp {
    const WHAT: &'static str = "APOP timestamp";

    /// Validates a timestamp such as `<1896.697170952@dbc.mtview.ca.us>`.
    pub fn new(timestamp: impl IntoBytes) -> Result<Self, ValueError> {
        let timestamp = timestamp.into_shared();
        if Self::is_valid(&timestamp) {
            Ok(Self(timestamp))
        } else {
            Err(ValueError::Malformed { what: Self::WHAT })
        }
    }

    fn is_valid(candidate: &[u8]) -> bool {
        match candidate {
            [b'<', inner @ .., b'>'] => {
                !inner.is_empty()
                    && inner
                        .iter()
                        .all(|&b| b.is_ascii_graphic() && b != b'<' && b != b'>')
            }
            _ => false,
        }
    }

    /// Finds the timestamp in a greeting's text (or whole greeting line): the first
    /// `<...>` that is a valid timestamp. None when the server does not offer APOP.
    pub fn find_in(greeting: &Bytes) -> Option<Self> {
        let mut from = 0;
        while let Some(open) = memchr::memchr(b'<', &greeting[from..]) {
            let open = from + open;
            let close = open + 1 + memchr::memchr2(b'>', b'<', &greeting[open + 1..])?;
            if greeting[close] == b'>' && Self::is_valid(&greeting[open..=close]) {
                return Some(Self(greeting.slice(open..=close)));
            }
            from = close;
        }
        None
    }

    /// The timestamp's octets, brackets included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The digest a client sends for this timestamp and `secret`.
    pub fn digest(&self, secret: &[u8]) -> ApopDigest {
        let mut md5 = Md5::new();
        md5.update(&self.0);
        md5.update(secret);
        ApopDigest(md5.finalize().into())
    }
}

/// The 16-octet MD5 digest of an APOP command, sent as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApopDigest([u8; 16]);

impl ApopDigest {
    const WHAT: &'static str = "APOP digest";

    /// The digest with these 16 octets.
    pub const fn from_bytes(digest: [u8; 16]) -> Self {
        Self(digest)
    }

    /// Parses 32 hex digits. RFC 1939 says lowercase; uppercase from a peer is accepted.
    pub fn from_hex(hex: &[u8]) -> Result<Self, ValueError> {
        let malformed = ValueError::Malformed { what: Self::WHAT };
        if hex.len() != 32 {
            return Err(malformed);
        }
        let mut digest = [0u8; 16];
        for (octet, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
            let high = hex_value(pair[0]).ok_or(malformed)?;
            let low = hex_value(pair[1]).ok_or(malformed)?;
            *octet = high << 4 | low;
        }
        Ok(Self(digest))
    }

    /// Decodes 32 octets already known to be hex digits (`is_ascii_hexdigit`).
    pub(crate) fn from_valid_hex(hex: &[u8; 32]) -> Self {
        let mut digest = [0u8; 16];
        for (octet, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
            let high = hex_value(pair[0]).unwrap_or_default();
            let low = hex_value(pair[1]).unwrap_or_default();
            *octet = high << 4 | low;
        }
        Self(digest)
    }

    /// The 16 octets.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32 lowercase hex digits sent on the wire.
    pub fn to_hex(&self) -> [u8; 32] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (pair, octet) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(octet >> 4)];
            pair[1] = DIGITS[usize::from(octet & 0x0f)];
        }
        hex
    }

    /// Whether this digest (from a client) is the one for `timestamp` and `secret`.
    ///
    /// The hex forms are compared in constant time, so the time taken does not tell an
    /// attacker how many leading digits were right.
    pub fn verify(&self, timestamp: &Timestamp, secret: &[u8]) -> bool {
        let expected = timestamp.digest(secret).to_hex();
        let given = self.to_hex();
        let difference = expected
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        core::hint::black_box(difference) == 0
    }
}

impl fmt::Debug for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApopDigest({self})")
    }
}

impl fmt::Display for ApopDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_hex()
            .iter()
            .try_for_each(|&digit| fmt::Write::write_char(f, char::from(digit)))
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
