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
