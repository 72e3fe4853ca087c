//! What parsing from the front of a buffer gives when it gives no value: [`ParseError`], one
//! type for every `parse(&Bytes) -> Result<(T, consumed), ParseError<E>>` of SMTP and POP3.

use bytes::Bytes;

/// The outcome of parsing from the front of a buffer that did not give a value.
///
/// # How much to skip: `consumed`
///
/// One rule for every parser of both protocols:
///
/// - `consumed` covers whole lines of the bad item (a command, a reply, a listing), through
///   the LF that ends its last line, and never more: what follows the item stays in the buffer
///   and parses next. Drop `consumed` octets and parse again.
/// - A line longer than its limit whose end has not been seen (RFC 5321 section 4.5.3.1: the
///   limit is known to be passed as soon as that many octets have arrived, without waiting for
///   the rest) stops `consumed` at the start of that line: it is 0 when the long line is the
///   first line of the item. So `consumed == 0` means exactly this: discard input through the
///   next LF, as it arrives, then parse again (`line::LineFramer` does that by itself).
///
/// A parser never answers with a `consumed` that runs into a line it has not seen the end of,
/// so skipping it cannot swallow the start of the next command.
///
/// ```
/// use mail_wire::ParseError;
///
/// let error: ParseError<&str> = ParseError::Invalid { error: "line too long", consumed: 0 };
/// assert!(error.discards_to_line_end());
/// assert_eq!(error.error(), Some(&"line too long"));
/// assert!(ParseError::<&str>::Incomplete.is_incomplete());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError<E> {
    /// No complete item yet (no line end, or for a multi-line item no last line), and no limit
    /// is passed: read more input and parse again from the same start. Every proper prefix of
    /// valid input gives this, never an error.
    #[error("incomplete input")]
    Incomplete,
    /// The input is invalid.
    #[error("{error}")]
    Invalid {
        /// What is wrong.
        error: E,
        /// Octets to drop from the front of the input before parsing again; see the
        /// [type's documentation](ParseError#how-much-to-skip-consumed).
        consumed: usize,
    },
}

impl<E> ParseError<E> {
    /// Whether more input is needed.
    pub const fn is_incomplete(&self) -> bool {
        matches!(self, Self::Incomplete)
    }

    /// The error, unless the input is merely incomplete.
    pub const fn error(&self) -> Option<&E> {
        match self {
            Self::Incomplete => None,
            Self::Invalid { error, .. } => Some(error),
        }
    }

    /// Whether the caller must discard input through the next LF before parsing again: an
    /// invalid item whose `consumed` is 0 (a first line over its limit, its end unseen).
    pub const fn discards_to_line_end(&self) -> bool {
        matches!(self, Self::Invalid { consumed: 0, .. })
    }

    /// The same outcome with the error mapped.
    pub fn map_error<F>(self, map: impl FnOnce(E) -> F) -> ParseError<F> {
        match self {
            Self::Incomplete => ParseError::Incomplete,
            Self::Invalid { error, consumed } => ParseError::Invalid {
                error: map(error),
                consumed,
            },
        }
    }
}

/// `part` as [`Bytes`]: a slice of `source` (a reference count) when `part` lies inside it, as
/// it does for a value parsed from `source`; a copy otherwise, so that turning a borrowed value
/// into a shared one never panics, whatever buffer a caller passes.
#[inline]
pub fn share(source: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
    if part.is_empty() {
        Bytes::new()
    } else if start <= source.len() && part.len() <= source.len() - start {
        source.slice(start..start + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_slices_inside_and_copies_outside() {
        let source = Bytes::from_static(b"AUTH PLAIN dGVzdA==\r\n");
        let inside = share(&source, &source[11..19]);
        assert_eq!(&inside[..], b"dGVzdA==");
        assert_eq!(inside.as_ptr(), source[11..].as_ptr());
        let elsewhere = b"dGVzdA==".to_vec();
        let copied = share(&source, &elsewhere);
        assert_eq!(&copied[..], b"dGVzdA==");
        assert_ne!(copied.as_ptr(), elsewhere.as_ptr());
        assert!(share(&source, b"").is_empty());
    }

    #[test]
    fn map_error_keeps_consumed() {
        let error: ParseError<u8> = ParseError::Invalid {
            error: 1,
            consumed: 7,
        };
        assert_eq!(
            error.map_error(u16::from),
            ParseError::Invalid {
                error: 1u16,
                consumed: 7
            }
        );
        assert!(!ParseError::<u8>::Incomplete.discards_to_line_end());
    }
}
