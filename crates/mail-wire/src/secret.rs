//! [`Secret`]: credentials that never reach a log.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use zeroize::Zeroize;

/// Secret bytes (a password, a token): `Debug` prints no part of them, and the memory is wiped
/// when the value is dropped.
///
/// ```
/// use mail_wire::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret(..)");
/// assert_eq!(password.expose(), b"hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret itself. Named so that every use is easy to find.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, when it is UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok()
    }

    /// Its length in octets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when it holds no octet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` in time that depends only on the lengths, not on where they differ.
    pub fn constant_time_eq(&self, other: &[u8]) -> bool {
        let (a, b) = (self.expose(), other);
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value.into_bytes())
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_nothing_of_the_secret() {
        let secret = Secret::new("correct horse battery staple");
        let shown = alloc::format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("horse"), "{shown}");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        let secret = Secret::new("abc");
        assert!(secret.constant_time_eq(b"abc"));
        assert!(!secret.constant_time_eq(b"abd"));
        assert!(!secret.constant_time_eq(b"ab"));
    }
}
