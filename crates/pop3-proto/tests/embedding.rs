//! The common path of an embedding server: one password check for every way a client sends
//! a password, maildrop sizes from stored bytes, names and ids read from typed text.

use pop3_proto::server::{
    ApopLogin, Credentials, Login, Maildrop, OAuth2Credentials, PasswordCredentials,
};
use pop3_proto::{Mechanism, Name, Password, Timestamp, UniqueId};

fn plain(authzid: Option<&str>, user: &str, password: &str) -> Login {
    let mut credentials = PasswordCredentials::new(user, password);
    credentials.authzid = authzid.map(str::to_owned);
    Login::Sasl {
        mechanism: Mechanism::Plain,
        credentials: Credentials::Password(credentials),
    }
}

#[test]
fn password_covers_user_pass_plain_and_login() {
    let user_pass = Login::UserPass {
        name: Name::new("alice").unwrap(),
        password: Password::new("s3cret word").unwrap(),
    };
    let login = Login::Sasl {
        mechanism: Mechanism::Login,
        credentials: Credentials::Password(PasswordCredentials::new("alice", "s3cret word")),
    };
    for (what, login) in [
        ("USER/PASS", user_pass),
        ("PLAIN", plain(None, "alice", "s3cret word")),
        (
            "PLAIN, authzid = user",
            plain(Some("alice"), "alice", "s3cret word"),
        ),
        ("LOGIN", login),
    ] {
        assert_eq!(
            login.password(),
            Some((&b"alice"[..], &b"s3cret word"[..])),
            "{what}"
        );
        assert!(login.verify_password(b"alice", b"s3cret word"), "{what}");
        assert!(!login.verify_password(b"alice", b"s3cret wore"), "{what}");
        assert!(!login.verify_password(b"alice", b"s3cret"), "{what}");
        assert!(!login.verify_password(b"bob", b"s3cret word"), "{what}");
    }
}

#[test]
fn password_is_none_without_a_password_or_for_another_identity() {
    // PLAIN acting as another user (RFC 4616 authzid): not a plain password check.
    let proxy = plain(Some("bob"), "alice", "secret");
    assert_eq!(proxy.password(), None);
    assert!(!proxy.verify_password(b"alice", b"secret"));
    assert!(!proxy.verify_password(b"bob", b"secret"));
    let oauth = Login::Sasl {
        mechanism: Mechanism::XOAuth2,
        credentials: Credentials::OAuth2(OAuth2Credentials {
            user: "alice".into(),
            token: "secret".into(),
        }),
    };
    assert_eq!(oauth.password(), None);
    let timestamp = Timestamp::new("<1896.697170952@dbc.mtview.ca.us>").unwrap();
    let apop = Login::Apop(ApopLogin {
        name: Name::new("mrose").unwrap(),
        digest: timestamp.digest(b"tanstaaf"),
        timestamp,
    });
    assert_eq!(apop.password(), None);
    let Login::Apop(apop) = apop else {
        unreachable!()
    };
    assert!(apop.verify(b"tanstaaf"), "APOP is checked on its own");
}

#[test]
fn maildrop_sizes_from_stored_bytes_are_crlf_sizes() {
    let mut maildrop = Maildrop::new();
    for (i, stored) in [&b"a\nb\n"[..], b"a\r\nb\r\n", b"a\nb", b"", b"x\r"]
        .iter()
        .enumerate()
    {
        maildrop.push_message(stored, UniqueId::new(format!("m{i}")).unwrap());
    }
    // CRLF lines and a final CRLF, before stuffing (RFC 1939 section 5): "a\r\nb\r\n" three
    // times, nothing for the empty message, "x\r\n" for the held CR.
    let sizes = [6, 6, 6, 0, 3];
    assert_eq!(maildrop.live(), (5, sizes.iter().sum()));
}

#[test]
fn names_and_ids_parse_from_typed_text_and_print_back() {
    let typed = String::from("alice");
    let name: Name = typed.parse().unwrap();
    assert_eq!(name, Name::new(typed.as_str()).unwrap());
    assert_eq!(name.to_string(), "alice");
    assert!("al ice".parse::<Name>().is_err());
    let uid: UniqueId = "msg-1.eml".parse().unwrap();
    assert_eq!(uid.to_string(), "msg-1.eml");
    assert!("with space".parse::<UniqueId>().is_err());
}
