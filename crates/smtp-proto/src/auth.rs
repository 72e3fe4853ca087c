//! The SMTP side of AUTH (RFC 4954): the mechanism names, the base64 text of the exchange and
//! the lines a client sends during it are `mail_wire::sasl`'s, shared with POP3 (one
//! validation for both); so are encoding and decoding the SASL messages.

/// A SASL mechanism name (RFC 4422 section 3.1: 1 to 20 of upper-case letters, digits, `-`,
/// `_`; lower case is read and upper-cased): `mail_wire`'s, shared with POP3. Copy, no allocation.
pub use mail_wire::sasl::{Mechanism, MechanismName};

/// Base64 text of an exchange and a client's answer line (RFC 4954 section 4): `mail_wire`'s,
/// shared with POP3. Their `Debug` shows lengths only.
pub use mail_wire::sasl::{AuthResponse, SaslData};

/// Why a SASL message or credential is unusable (e.g. a NUL in a PLAIN field): `mail_wire`'s,
/// carried by the client's [`Error::UnusableCredentials`](crate::client::Error::UnusableCredentials).
pub use mail_wire::sasl::SaslError;
