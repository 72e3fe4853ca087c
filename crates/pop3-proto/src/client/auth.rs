//! Choosing how to log in: the best method the server offers that the credentials fit and
//! the connection's security allows.

use mail_wire::sasl::{Credentials, Mechanism};

use crate::Timestamp;

use super::error::AuthError;
use super::event::{AuthMethod, Capabilities};

/// What the session knows when it chooses.
pub(crate) struct Offer<'a> {
    pub(crate) capabilities: &'a Capabilities,
    pub(crate) timestamp: Option<&'a Timestamp>,
    /// TLS protects the connection (implicit or after STLS).
    pub(crate) secure: bool,
    pub(crate) allow_plaintext: bool,
    pub(crate) apop: bool,
}

/// The best method, in this order: SASL PLAIN (or LOGIN when PLAIN is not offered) or
/// XOAUTH2 (RFC 5034), APOP (RFC 1939 section 7), USER/PASS. PLAIN, LOGIN, XOAUTH2 and
/// USER/PASS put the password or token on the wire, so without TLS they need
/// `allow_plaintext` (DESIGN.md security invariant 7); APOP sends only a digest.
pub(crate) fn choose(
    credentials: Option<&Credentials>,
    offer: &Offer<'_>,
) -> Result<AuthMethod, AuthError> {
    let credentials = credentials.ok_or(AuthError::NoCredentials)?;
    let clear_ok = offer.secure || offer.allow_plaintext;
    let mut plaintext_refused = false;
    let mut allow_clear = |method| {
        if clear_ok {
            Some(method)
        } else {
            plaintext_refused = true;
            None
        }
    };
    let sasl = offer.capabilities.sasl();
    let offers = |name: &[u8]| sasl.as_ref().is_some_and(|list| list.contains(name));
    let chosen = match credentials {
        Credentials::OAuth2(_) => offers(b"XOAUTH2")
            .then_some(AuthMethod::Sasl(Mechanism::XOAuth2))
            .and_then(&mut allow_clear),
        Credentials::Password(_) => {
            let sasl = if offers(b"PLAIN") {
                Some(AuthMethod::Sasl(Mechanism::Plain))
            } else {
                // LOGIN: the same secret in two steps, for servers without PLAIN.
                offers(b"LOGIN").then_some(AuthMethod::Sasl(Mechanism::Login))
            };
            let plain = sasl.and_then(&mut allow_clear);
            let apop = (offer.apop && offer.timestamp.is_some()).then_some(AuthMethod::Apop);
            // RFC 2449 section 6.2: USER announces USER/PASS; without CAPA, try it.
            let user_offered = offer.capabilities.user().unwrap_or(true);
            plain.or(apop).or_else(|| {
                user_offered
                    .then_some(AuthMethod::UserPass)
                    .and_then(&mut allow_clear)
            })
        }
    };
    chosen.ok_or(AuthError::NoUsableMethod { plaintext_refused })
}
