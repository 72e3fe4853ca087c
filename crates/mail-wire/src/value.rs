//! Why a value cannot be built: [`ValueError`], one type for the constructors of SMTP and POP3.

/// A value given to a constructor cannot travel on the wire as itself.
///
/// Constructors return it so that a value which exists always writes a well-formed line
/// that reads back as the same value: no CR, LF or NUL can be injected through an argument,
/// and no field can say more than it holds. `what` names the value (`"reply text"`,
/// `"message number"`, ...), for messages; match on the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The value is empty where its grammar needs at least one octet.
    #[error("{what} is empty")]
    Empty {
        /// Which value.
        what: &'static str,
    },
    /// The value is longer than its limit.
    #[error("{what} is longer than {limit}")]
    TooLong {
        /// Which value.
        what: &'static str,
        /// The limit: octets, or lines when `what` counts lines.
        limit: usize,
    },
    /// The value holds an octet it may not hold: CR, LF or NUL anywhere, a space inside a
    /// word, a NUL inside a SASL PLAIN field, ...
    #[error("{what} contains the forbidden octet 0x{octet:02x}")]
    ForbiddenOctet {
        /// Which value.
        what: &'static str,
        /// The first offending octet.
        octet: u8,
    },
    /// The value does not follow its grammar.
    #[error("{what} is malformed")]
    Malformed {
        /// Which value.
        what: &'static str,
    },
    /// A number is zero where zero is not allowed, or does not fit its field.
    #[error("{what} is out of range")]
    OutOfRange {
        /// Which value.
        what: &'static str,
    },
    /// The value is well formed but names something with a typed constructor of its own
    /// (an EHLO keyword such as `SIZE` given as an untyped one): use that constructor.
    #[error("{what} has a typed constructor of its own")]
    Reserved {
        /// Which value.
        what: &'static str,
    },
    /// One part of the value contradicts another, so the reader would drop it: an enhanced
    /// status code whose class is not the reply code's (RFC 3463 section 2).
    #[error("{what} does not agree with the rest of the value")]
    Inconsistent {
        /// Which value.
        what: &'static str,
    },
    /// The value would be read back as something else: a reply text that starts like an
    /// enhanced status code, on a reply that has none (RFC 2034 section 4).
    #[error("{what} would read back as another value")]
    Ambiguous {
        /// Which value.
        what: &'static str,
    },
}

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

/// What the value constructors of SMTP and POP3 take (`Mailbox::parse`, `Domain::new`,
/// `Name::new`, ...): owned buffers move in without a copy (`Bytes`, `BytesMut`,
/// `Vec<u8>`, `String`); borrowed text of any lifetime is copied (`&str`, `&[u8]`,
/// `&String`, a byte string literal).
///
/// `impl Into<Bytes>` alone would accept a borrowed `&str` only when it is `'static`, so
/// `Mailbox::parse(arg.as_str())` on a command-line argument would not compile.
///
/// ```
/// use bytes::Bytes;
/// use mail_wire::value::IntoBytes;
///
/// let arg = String::from("jane@example.com");
/// assert_eq!(arg.as_str().into_shared(), Bytes::from_static(b"jane@example.com"));
/// assert_eq!(b"abc".into_shared(), "abc".into_shared());
/// ```
pub trait IntoBytes {
    /// The bytes, shared: moved when owned, copied when borrowed.
    fn into_shared(self) -> Bytes;
}

impl IntoBytes for Bytes {
    fn into_shared(self) -> Bytes {
        self
    }
}

impl IntoBytes for &Bytes {
    fn into_shared(self) -> Bytes {
        self.clone()
    }
}

impl IntoBytes for BytesMut {
    fn into_shared(self) -> Bytes {
        self.freeze()
    }
}

impl IntoBytes for Vec<u8> {
    fn into_shared(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoBytes for String {
    fn into_shared(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoBytes for &[u8] {
    fn into_shared(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> IntoBytes for &[u8; N] {
    fn into_shared(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl IntoBytes for &str {
    fn into_shared(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl IntoBytes for &String {
    fn into_shared(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl IntoBytes for &Vec<u8> {
    fn into_shared(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl IntoBytes for Cow<'_, str> {
    fn into_shared(self) -> Bytes {
        match self {
            Cow::Owned(s) => s.into_shared(),
            Cow::Borrowed(s) => s.into_shared(),
        }
    }
}

impl IntoBytes for Cow<'_, [u8]> {
    fn into_shared(self) -> Bytes {
        match self {
            Cow::Owned(v) => v.into_shared(),
            Cow::Borrowed(v) => v.into_shared(),
        }
    }
}

impl IntoBytes for alloc::boxed::Box<[u8]> {
    fn into_shared(self) -> Bytes {
        Bytes::from(self)
    }
}

impl IntoBytes for alloc::boxed::Box<str> {
    fn into_shared(self) -> Bytes {
        Bytes::from(alloc::boxed::Box::<[u8]>::from(self))
    }
}
