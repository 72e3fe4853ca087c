//! The SASL pieces of POP3 AUTH (RFC 5034): mechanism names, the base64 text of an
//! exchange and the client's answer lines are `mail_wire::sasl`'s, shared with SMTP (one
//! validation for both); so are encoding and decoding PLAIN, LOGIN and XOAUTH2 messages.

use mail_wire::sasl::MAX_MECHANISM_LEN;

use crate::ValueError;

/// Base64 text of an exchange and a client's answer line (RFC 5034 section 4): the
/// workspace's one type for each, shared with SMTP. Their `Debug` shows lengths only.
pub use mail_wire::sasl::{AuthResponse, SaslData};

/// A SASL mechanism name (RFC 4422 section 3.1): the workspace's one type for it, shared
/// with SMTP. Names are matched case-insensitively on input and written upper case.
pub use mail_wire::sasl::Mechanism;

/// Parses a mechanism name from the wire, as a [`ValueError`] a command error can carry.
pub(crate) fn parse_mechanism(name: &[u8]) -> Result<Mechanism, ValueError> {
    const WHAT: &str = "SASL mechanism";
    Mechanism::parse(name).map_err(|_| {
        // Only emptiness and length are told apart: a too-long argument has its own `-ERR`.
        if name.is_empty() {
            ValueError::Empty { what: WHAT }
        } else if name.len() > MAX_MECHANISM_LEN {
            ValueError::TooLong {
                what: WHAT,
                limit: MAX_MECHANISM_LEN,
            }
        } else {
            ValueError::Malformed { what: WHAT }
        }
    })
}

/// Whether `arg` is an initial response as the AUTH line carries it: base64, or `=` for an
/// empty one (RFC 5034 section 4); what [`SaslData::parse_initial_response`] accepts.
#[inline]
pub(crate) fn is_initial_response(arg: &[u8]) -> bool {
    arg == b"=" || (!arg.is_empty() && mail_wire::sasl::is_base64(arg))
}
