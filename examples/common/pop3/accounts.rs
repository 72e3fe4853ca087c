//! The server's accounts (`--user USER:PASS`) and how each POP3 login is checked against them:
//! USER/PASS and SASL PLAIN/LOGIN compare the password, APOP recomputes the digest from the
//! stored secret (RFC 1939 section 7).

use std::collections::HashMap;

use mail_wire::Secret;
use mail_wire::sasl::Credentials;
use pop3_proto::server::Login;

use crate::cli::UserPass;

/// User name to password. A user name is also the name of the user's Maildir, so names that
/// could leave the data directory are refused when the accounts are built.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    passwords: HashMap<String, Secret>,
}

/// A `--user` whose name cannot be a maildrop directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "user name {0:?} cannot name a maildrop (letters, digits, '.', '-', '_', '+', '@' only, not starting with '.')"
)]
pub struct InvalidUserName(pub String);

impl Accounts {
    /// The accounts of the command line; a user given twice keeps the last password.
    pub fn new(users: impl IntoIterator<Item = UserPass>) -> Result<Self, InvalidUserName> {
        let mut passwords = HashMap::new();
        for UserPass { user, pass } in users {
            if !is_safe_user_name(&user) {
                return Err(InvalidUserName(user));
            }
            passwords.insert(user, pass);
        }
        Ok(Self { passwords })
    }

    /// Whether there is no account at all.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }

    /// The account a login proves, if it proves one. Every comparison of secrets is in
    /// constant time; an unknown user is refused like a wrong password.
    pub fn verify(&self, login: &Login) -> Option<&str> {
        let user = std::str::from_utf8(login.user()).ok()?;
        let (name, secret) = self.passwords.get_key_value(user)?;
        let valid = match login {
            Login::UserPass { password, .. } => secret.constant_time_eq(password.expose()),
            Login::Apop(apop) => apop.verify(secret.expose()),
            Login::Sasl {
                credentials: Credentials::Password(credentials),
                ..
            } => {
                // PLAIN may ask to act as someone else (RFC 4616 authzid): only as oneself.
                let own_identity = credentials
                    .authzid
                    .as_deref()
                    .is_none_or(|authzid| authzid.is_empty() || authzid == name);
                own_identity && secret.constant_time_eq(credentials.password.expose())
            }
            // No OAuth 2.0 tokens here (XOAUTH2 is not offered).
            _ => false,
        };
        valid.then_some(name.as_str())
    }
}

/// A user name that is safe as one path component under the data directory.
fn is_safe_user_name(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && !user.starts_with('.')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mail_wire::sasl::PasswordCredentials;
    use pop3_proto::server::{ApopLogin, Login};
    use pop3_proto::{Mechanism, Name, Password, Timestamp};

    fn accounts() -> Accounts {
        Accounts::new([
            "alice:wonder".parse().unwrap(),
            "bob:builder".parse().unwrap(),
        ])
        .unwrap()
    }

    fn user_pass(user: &'static str, pass: &'static str) -> Login {
        Login::UserPass {
            name: Name::new(Bytes::from_static(user.as_bytes())).unwrap(),
            password: Password::new(Bytes::from_static(pass.as_bytes())).unwrap(),
        }
    }

    #[test]
    fn user_pass_needs_the_right_password_of_a_known_user() {
        let accounts = accounts();
        assert_eq!(
            accounts.verify(&user_pass("alice", "wonder")),
            Some("alice")
        );
        assert_eq!(accounts.verify(&user_pass("alice", "builder")), None);
        assert_eq!(accounts.verify(&user_pass("carol", "wonder")), None);
    }

    #[test]
    fn apop_digest_is_checked_against_the_secret() {
        let accounts = accounts();
        let timestamp = Timestamp::new(Bytes::from_static(b"<1.2@test>")).unwrap();
        let apop = |secret: &[u8]| {
            Login::Apop(ApopLogin {
                name: Name::new(Bytes::from_static(b"bob")).unwrap(),
                timestamp: timestamp.clone(),
                digest: timestamp.digest(secret),
            })
        };
        assert_eq!(accounts.verify(&apop(b"builder")), Some("bob"));
        assert_eq!(accounts.verify(&apop(b"wonder")), None);
    }

    #[test]
    fn sasl_plain_refuses_another_authorization_identity() {
        let accounts = accounts();
        let plain = |authzid: Option<&str>, pass: &str| {
            let mut credentials = PasswordCredentials::new("alice", pass);
            credentials.authzid = authzid.map(str::to_owned);
            Login::Sasl {
                mechanism: Mechanism::Plain,
                credentials: Credentials::Password(credentials),
            }
        };
        assert_eq!(accounts.verify(&plain(None, "wonder")), Some("alice"));
        assert_eq!(
            accounts.verify(&plain(Some("alice"), "wonder")),
            Some("alice")
        );
        assert_eq!(accounts.verify(&plain(Some("bob"), "wonder")), None);
        assert_eq!(accounts.verify(&plain(None, "nope")), None);
    }

    #[test]
    fn user_names_that_leave_the_data_directory_are_refused() {
        for bad in ["../x", ".hidden", "a/b", "a b", ""] {
            let account = UserPass {
                user: bad.to_owned(),
                pass: Secret::from("p"),
            };
            assert!(Accounts::new([account]).is_err(), "{bad:?}");
        }
    }
}
