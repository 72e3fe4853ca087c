//! Choosing how to log in: the methods the server offers that the credentials fit and the
//! connection's security allows, best first.

use mail_wire::sasl::Credentials;

use crate::{Mechanism, Timestamp};

use super::error::AuthError;
use super::event::{AuthMethod, AuthMethods, Capabilities};

/// What the session knows when it chooses.
pub(crate) struct Offer<'a> {
    pub(crate) capabilities: &'a Capabilities,
    pub(crate) timestamp: Option<&'a Timestamp>,
    /// TLS protects the connection (implicit or after STLS).
    pub(crate) secure: bool,
    pub(crate) allow_plaintext: bool,
    pub(crate) apop: bool,
    /// The SASL mechanisms the configuration allows.
    pub(crate) mechanisms: &'a [Mechanism],
}

/// The methods to try, best first: SASL PLAIN (or LOGIN when PLAIN is not offered) or
/// XOAUTH2 (RFC 5034), APOP (RFC 1939 section 7), USER/PASS. When the server refuses one
/// with a `-ERR` that is not final, the session falls back to the next. PLAIN, LOGIN,
/// XOAUTH2 and USER/PASS put the password or token on the wire, so without TLS they are
/// left out unless `allow_plaintext` (ARCHITECTURE.md security invariant 7); APOP sends only
/// a digest. A SASL mechanism is used only when the configuration lists it. Never empty when
/// it is `Ok`.
pub(crate) fn candidates(
    credentials: Option<&Credentials>,
    offer: &Offer<'_>,
) -> Result<AuthMethods, AuthError> {
    let credentials = credentials.ok_or(AuthError::NoCredentials)?;
    let clear_ok = offer.secure || offer.allow_plaintext;
    let mut plaintext_refused = false;
    let mut methods = AuthMethods::new();
    let mut add = |method: AuthMethod, clear: bool| {
        if clear && !clear_ok {
            plaintext_refused = true;
        } else {
            methods.push(method);
        }
    };
    let sasl = offer.capabilities.sasl();
    let offers = |mechanism: Mechanism| {
        offer.mechanisms.contains(&mechanism)
            && sasl
                .as_ref()
                .is_some_and(|list| list.contains(mechanism.as_str().as_bytes()))
    };
    match credentials {
        Credentials::OAuth2(_) => {
            if offers(Mechanism::XOAuth2) {
                add(AuthMethod::Sasl(Mechanism::XOAuth2), true);
            }
        }
        Credentials::Password(_) => {
            if offers(Mechanism::Plain) {
                add(AuthMethod::Sasl(Mechanism::Plain), true);
            } else if offers(Mechanism::Login) {
                // LOGIN: the same secret in two steps, for servers without PLAIN.
                add(AuthMethod::Sasl(Mechanism::Login), true);
            }
            if offer.apop && offer.timestamp.is_some() {
                add(AuthMethod::Apop, false);
            }
            // RFC 2449 section 6.2: USER announces USER/PASS; without CAPA, try it.
            if offer.capabilities.user().unwrap_or(true) {
                add(AuthMethod::UserPass, true);
            }
        }
    }
    if methods.is_empty() {
        Err(AuthError::NoUsableMethod { plaintext_refused })
    } else {
        Ok(methods)
    }
}
