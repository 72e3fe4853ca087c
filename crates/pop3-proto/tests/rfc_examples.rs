//! The examples of RFC 1939 (section 10 session and each command), RFC 2449, RFC 2595,
//! RFC 3206, RFC 5034 and RFC 6856, as conversations: every client line parses to the
//! expected command and writes back the same octets; every server line parses as expected.

use bytes::{Bytes, BytesMut};
use pop3_proto::*;

fn limits() -> Limits {
    Limits::default()
}

fn msg(n: u32) -> MsgNumber {
    MsgNumber::new(n).unwrap()
}

/// A client line: parses to `expected`, consumes all of it, and writes back identically.
fn client(line: &str, expected: Command) {
    let input = Bytes::from(format!("{line}\r\n"));
    let (command, used) = Command::parse(&input, &limits()).unwrap();
    assert_eq!(command, expected, "{line}");
    assert_eq!(used, input.len());
    let mut out = BytesMut::new();
    command.write(&mut out);
    assert_eq!(&out[..], &input[..], "{line}");
}

/// A server status line: parses, and writes back identically.
fn server(line: &str) -> StatusLine {
    let input = Bytes::from(format!("{line}\r\n"));
    let (status, used) = StatusLine::parse(&input, &limits()).unwrap();
    assert_eq!(used, input.len());
    let mut out = BytesMut::new();
    status.write(&mut out);
    assert_eq!(&out[..], &input[..], "{line}");
    status
}

fn server_listing<E: ListingEntry>(lines: &[&str]) -> Listing<E> {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    let input = Bytes::from(text);
    let (listing, used) = Listing::<E>::parse(&input, &limits()).unwrap();
    assert_eq!(used, input.len());
    let mut out = BytesMut::new();
    Listing::write(&listing.iter().collect::<Vec<_>>(), &mut out);
    assert_eq!(&out[..], &input[..]);
    listing
}

#[test]
fn rfc1939_section_10_example_session() {
    let greeting = server("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
    assert!(greeting.is_ok());
    let timestamp = greeting.apop_timestamp().unwrap();
    assert_eq!(timestamp.as_bytes(), b"<1896.697170952@dbc.mtview.ca.us>");
    let digest = timestamp.digest(b"tanstaaf");
    assert_eq!(&digest.to_hex(), b"c4c9334bac560ecc979e58001b3e22fb");
    client(
        "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
        Command::Apop {
            name: Name::new("mrose").unwrap(),
            digest,
        },
    );
    server("+OK mrose's maildrop has 2 messages (320 octets)");
    client("STAT", Command::Stat);
    let (stat, _) = Stat::parse(&Bytes::from_static(b"+OK 2 320\r\n"), &limits()).unwrap();
    assert_eq!(
        stat,
        Stat {
            count: 2,
            size: 320
        }
    );
    client("LIST", Command::List(None));
    server("+OK 2 messages (320 octets)");
    let listing: ScanList = server_listing(&["1 120", "2 200", "."]);
    assert_eq!(
        listing.iter().collect::<Vec<_>>(),
        [
            ScanListing {
                msg: msg(1),
                size: 120
            },
            ScanListing {
                msg: msg(2),
                size: 200
            }
        ]
    );
    client("RETR 1", Command::Retr(msg(1)));
    server("+OK 120 octets");
    client("DELE 1", Command::Dele(msg(1)));
    server("+OK message 1 deleted");
    client("RETR 2", Command::Retr(msg(2)));
    server("+OK 200 octets");
    client("DELE 2", Command::Dele(msg(2)));
    server("+OK message 2 deleted");
    client("QUIT", Command::Quit);
    server("+OK dewey POP3 server signing off (maildrop empty)");
}

#[test]
fn rfc1939_authorization_examples() {
    client("USER frated", Command::User(Name::new("frated").unwrap()));
    let refused = server("-ERR sorry, no mailbox for frated here");
    assert_eq!(refused.status(), Status::Err);
    client("USER mrose", Command::User(Name::new("mrose").unwrap()));
    server("+OK mrose is a real hoopy frood");
    client(
        "PASS secret",
        Command::Pass(Password::new("secret").unwrap()),
    );
    server("-ERR maildrop already locked");
    server("+OK mrose's maildrop has 2 messages (320 octets)");
    // The password is the rest of the line (RFC 1939 section 7).
    client(
        "PASS two words  and more",
        Command::Pass(Password::new("two words  and more").unwrap()),
    );
    client("QUIT", Command::Quit);
    server("+OK dewey POP3 server signing off");
}

#[test]
fn rfc1939_transaction_examples() {
    client("LIST 2", Command::List(Some(msg(2))));
    let (scan, _) = ScanListing::parse(&Bytes::from_static(b"+OK 2 200\r\n"), &limits()).unwrap();
    assert_eq!(
        scan,
        ScanListing {
            msg: msg(2),
            size: 200
        }
    );
    client("LIST 3", Command::List(Some(msg(3))));
    server("-ERR no such message, only 2 messages in maildrop");
    let refused = Bytes::from_static(b"-ERR no such message, only 2 messages in maildrop\r\n");
    assert_eq!(
        ScanListing::parse(&refused, &limits()),
        Err(ParseError::Invalid {
            error: ResponseError::NotOk,
            consumed: refused.len()
        })
    );
    client("DELE 2", Command::Dele(msg(2)));
    server("-ERR message 2 already deleted");
    client("NOOP", Command::Noop);
    server("+OK");
    client("RSET", Command::Rset);
    server("+OK maildrop has 2 messages (320 octets)");
    client(
        "TOP 1 10",
        Command::Top {
            msg: msg(1),
            lines: 10,
        },
    );
    client(
        "TOP 100 3",
        Command::Top {
            msg: msg(100),
            lines: 3,
        },
    );
    server("-ERR no such message");
    client("UIDL", Command::Uidl(None));
    server("+OK");
    let uids: UidList =
        server_listing(&["1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7", "."]);
    let uids: Vec<_> = uids.iter().collect();
    assert_eq!(uids[0].uid.as_bytes(), b"whqtswO00WBw418f9t5JxYwZ");
    assert_eq!(uids[1].msg, msg(2));
    client("UIDL 2", Command::Uidl(Some(msg(2))));
    let (uid, _) = UidListing::parse(
        &Bytes::from_static(b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"),
        &limits(),
    )
    .unwrap();
    assert_eq!(uid.uid.as_bytes(), b"QhdPYR:00WBw1Ph7x7");
    let mut out = BytesMut::new();
    uid.write(&mut out);
    assert_eq!(&out[..], b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n");
}

#[test]
fn rfc1939_apop_example_and_verification() {
    let timestamp = Timestamp::new("<1896.697170952@dbc.mtview.ca.us>").unwrap();
    let digest = ApopDigest::from_hex(b"c4c9334bac560ecc979e58001b3e22fb").unwrap();
    assert!(digest.verify(&timestamp, b"tanstaaf"));
    assert!(!digest.verify(&timestamp, b"tanstaaF"));
    let other = Timestamp::new("<1897.697170952@dbc.mtview.ca.us>").unwrap();
    assert!(!digest.verify(&other, b"tanstaaf"));
    // Uppercase hex from a peer is the same digest.
    assert_eq!(
        ApopDigest::from_hex(b"C4C9334BAC560ECC979E58001B3E22FB").unwrap(),
        digest
    );
    // A greeting without a timestamp offers no APOP; a broken one is skipped.
    assert_eq!(server("+OK POP3 server ready").apop_timestamp(), None);
    assert_eq!(
        server("+OK hi <no> <a b> <x@y>")
            .apop_timestamp()
            .unwrap()
            .as_bytes(),
        b"<no>"
    );
    assert_eq!(
        server("+OK <<a@b> > <c@d>")
            .apop_timestamp()
            .unwrap()
            .as_bytes(),
        b"<a@b>"
    );
}

#[test]
fn rfc2449_capa_example() {
    client("CAPA", Command::Capa);
    server("+OK Capability list follows");
    let capabilities: CapabilityList = server_listing(&[
        "TOP",
        "USER",
        "SASL CRAM-MD5 KERBEROS_V4",
        "RESP-CODES",
        "LOGIN-DELAY 900",
        "PIPELINING",
        "EXPIRE 60",
        "UIDL",
        "IMPLEMENTATION Shlemazle-Plotz-v302",
        ".",
    ]);
    let capabilities: Vec<_> = capabilities.iter().collect();
    assert_eq!(capabilities.len(), 9);
    assert_eq!(capabilities[0], Capability::Top);
    assert_eq!(capabilities[1], Capability::User);
    let Capability::Sasl(mechanisms) = &capabilities[2] else {
        panic!("not SASL: {:?}", capabilities[2]);
    };
    let names: Vec<_> = mechanisms.iter().map(|m| m.name().to_vec()).collect();
    assert_eq!(names, [b"CRAM-MD5".to_vec(), b"KERBEROS_V4".to_vec()]);
    assert!(mechanisms.contains(b"cram-md5"));
    assert_eq!(capabilities[3], Capability::RespCodes);
    assert_eq!(
        capabilities[4],
        Capability::LoginDelay {
            seconds: 900,
            per_user: false
        }
    );
    assert_eq!(capabilities[5], Capability::Pipelining);
    assert_eq!(
        capabilities[6],
        Capability::Expire {
            policy: ExpirePolicy::Days(60),
            per_user: false
        }
    );
    assert_eq!(capabilities[7], Capability::Uidl);
    assert_eq!(
        capabilities[8],
        Capability::Implementation(Text::new("Shlemazle-Plotz-v302").unwrap())
    );
}

#[test]
fn rfc2449_capabilities_before_login_and_unknown_ones() {
    let capabilities: CapabilityList = server_listing(&[
        "LOGIN-DELAY 900 USER",
        "EXPIRE NEVER",
        "EXPIRE 0 USER",
        "STLS",
        "AUTH-RESP-CODE",
        "UTF8 USER",
        "LANG",
        "X-CUSTOM some args",
        "LOGIN-DELAY soon",
        ".",
    ]);
    let capabilities: Vec<_> = capabilities.iter().collect();
    assert_eq!(
        capabilities[..7],
        [
            Capability::LoginDelay {
                seconds: 900,
                per_user: true
            },
            Capability::Expire {
                policy: ExpirePolicy::Never,
                per_user: false
            },
            Capability::Expire {
                policy: ExpirePolicy::Days(0),
                per_user: true
            },
            Capability::Stls,
            Capability::AuthRespCode,
            Capability::Utf8 {
                user_credentials: true
            },
            Capability::Lang,
        ]
    );
    let Capability::Other(custom) = &capabilities[7] else {
        panic!("{:?}", capabilities[7]);
    };
    assert_eq!(custom.name(), b"X-CUSTOM");
    assert_eq!(custom.arguments(), Some(&b"some args"[..]));
    // A known name with arguments it does not take is kept, not rejected.
    assert!(
        matches!(&capabilities[8], Capability::Other(o) if o.as_bytes() == b"LOGIN-DELAY soon")
    );
    // Names are case-insensitive.
    let lower = Capability::parse_line(Bytes::from_static(b"pipelining"), &limits()).unwrap();
    assert_eq!(lower, Capability::Pipelining);
}

#[test]
fn rfc2449_and_rfc3206_response_codes() {
    let in_use = server("-ERR [IN-USE] Do you have another POP session running?");
    assert_eq!(in_use.code(), Some(&ResponseCode::InUse));
    assert_eq!(
        in_use.text().as_bytes(),
        b"Do you have another POP session running?"
    );
    let delay = server("-ERR [LOGIN-DELAY] wait 15 minutes between logins");
    assert_eq!(delay.code(), Some(&ResponseCode::LoginDelay));
    let temp = server("-ERR [SYS/TEMP] problem with the mail store, try later");
    assert_eq!(temp.code(), Some(&ResponseCode::SysTemp));
    assert_eq!(
        temp.code().unwrap().levels().collect::<Vec<_>>(),
        [&b"SYS"[..], &b"TEMP"[..]]
    );
    assert_eq!(
        server("-ERR [SYS/PERM] mailbox disabled").code(),
        Some(&ResponseCode::SysPerm)
    );
    assert_eq!(
        server("-ERR [AUTH] invalid password").code(),
        Some(&ResponseCode::Auth)
    );
    assert_eq!(
        server("-ERR [UTF8] enable UTF8 first").code(),
        Some(&ResponseCode::Utf8)
    );
    let unknown = server("-ERR [X-VENDOR/QUOTA/HARD] over quota");
    let Some(ResponseCode::Other(code)) = unknown.code() else {
        panic!("{unknown:?}");
    };
    assert_eq!(code.as_bytes(), b"X-VENDOR/QUOTA/HARD");
    assert_eq!(unknown.code().unwrap().levels().count(), 3);
    // A code alone, and a bracket that is not a code.
    assert_eq!(server("-ERR [IN-USE]").text().as_bytes(), b"");
    let not_code = server("+OK [not a code] fine");
    assert_eq!(not_code.code(), None);
    assert_eq!(not_code.text().as_bytes(), b"[not a code] fine");
    // Status indicators are read in any case, written in upper case.
    let (lower, _) = StatusLine::parse(&Bytes::from_static(b"+ok fine\r\n"), &limits()).unwrap();
    assert!(lower.is_ok());
}

#[test]
fn rfc2595_stls_example() {
    client("STLS", Command::Stls);
    server("+OK Begin TLS negotiation");
    server("-ERR Command not permitted when TLS active");
}

#[test]
fn rfc5034_auth_examples() {
    let plain = |response: Option<&str>| Command::Auth {
        mechanism: Mechanism::new("PLAIN").unwrap(),
        initial_response: response.map(|r| SaslData::new(r.to_owned()).unwrap()),
    };
    // Initial response on the AUTH line.
    client(
        "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
        plain(Some("dGVzdAB0ZXN0AHRlc3Q=")),
    );
    server("+OK Maildrop locked and ready");
    // Without one: an empty challenge, then the response on its own line.
    client("AUTH PLAIN", plain(None));
    let (challenge, _) = Response::parse(&Bytes::from_static(b"+ \r\n"), &limits()).unwrap();
    assert_eq!(challenge, Response::Continuation(Continuation::default()));
    let (bare, _) = Response::parse(&Bytes::from_static(b"+\r\n"), &limits()).unwrap();
    assert_eq!(bare, challenge);
    let (response, _) = AuthResponse::parse(
        &Bytes::from_static(b"dGVzdAB0ZXN0AHRlc3Q=\r\n"),
        limits().sasl_line,
    )
    .unwrap();
    let AuthResponse::Data(data) = &response else {
        panic!("{response:?}");
    };
    assert_eq!(data.decode().unwrap(), b"test\0test\0test");
    // An empty initial response is "=".
    let external = Command::Auth {
        mechanism: Mechanism::new("EXTERNAL").unwrap(),
        initial_response: Some(SaslData::default()),
    };
    client("AUTH EXTERNAL =", external);
    // A challenge with data, an empty client response, and a cancel.
    let input = Bytes::from_static(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n");
    let (challenge, used) = Continuation::parse(&input, &limits()).unwrap();
    assert_eq!(used, input.len());
    assert_eq!(
        challenge.0.decode().unwrap(),
        b"<1896.697170952@postoffice.example.net>"
    );
    let mut out = BytesMut::new();
    challenge.write(&mut out);
    assert_eq!(&out[..], &input[..]);
    let (empty, _) = AuthResponse::parse(&Bytes::from_static(b"\r\n"), limits().sasl_line).unwrap();
    assert_eq!(empty, AuthResponse::Data(SaslData::default()));
    let (cancel, _) =
        AuthResponse::parse(&Bytes::from_static(b"*\r\n"), limits().sasl_line).unwrap();
    assert_eq!(cancel, AuthResponse::Cancel);
    server("-ERR [AUTH] authentication exchange cancelled");
}

#[test]
fn rfc6856_utf8_and_lang_examples() {
    client("UTF8", Command::Utf8);
    server("+OK UTF8 enabled");
    client("LANG", Command::Lang(None));
    client(
        "LANG fr",
        Command::Lang(Some(LangRange::new("fr").unwrap())),
    );
    client("LANG *", Command::Lang(Some(LangRange::new("*").unwrap())));
    client(
        "LANG en-US",
        Command::Lang(Some(LangRange::new("en-US").unwrap())),
    );
    server("+OK Bonjour");
    // UTF-8 mailbox names after UTF8.
    client(
        "USER j\u{f6}rg",
        Command::User(Name::new("j\u{f6}rg").unwrap()),
    );
}

#[test]
fn commands_are_case_insensitive_and_written_upper_case() {
    let input = Bytes::from_static(b"uIdL 7\r\n");
    let (command, _) = Command::parse(&input, &limits()).unwrap();
    assert_eq!(command, Command::Uidl(Some(msg(7))));
    let mut out = BytesMut::new();
    command.write(&mut out);
    assert_eq!(&out[..], b"UIDL 7\r\n");
    // SASL mechanism names too (RFC 4422 section 3.1 names are upper case).
    let input = Bytes::from_static(b"auth Scram-sha-256 =\r\n");
    let (command, _) = Command::parse(&input, &limits()).unwrap();
    let Command::Auth { mechanism, .. } = &command else {
        panic!("not AUTH: {command:?}");
    };
    assert_eq!(mechanism.as_str(), "SCRAM-SHA-256");
    let mut out = BytesMut::new();
    command.write(&mut out);
    assert_eq!(&out[..], b"AUTH SCRAM-SHA-256 =\r\n");
    assert!(Command::Retr(msg(1)).expects_multi_line());
    assert!(!Command::List(Some(msg(1))).expects_multi_line());
}

#[test]
fn command_errors_give_the_reply_to_send() {
    let reply = |line: &'static [u8]| {
        let error = Command::parse(&Bytes::from_static(line), &limits()).unwrap_err();
        let mut out = BytesMut::new();
        error.error().unwrap().reply().write(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    };
    assert_eq!(reply(b"FOO\r\n"), "-ERR unknown command\r\n");
    assert_eq!(reply(b"RETR 0\r\n"), "-ERR invalid message number\r\n");
    assert_eq!(reply(b"RETR\r\n"), "-ERR wrong number of arguments\r\n");
    assert_eq!(
        reply(b"USER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
        "-ERR argument too long\r\n"
    );
    assert_eq!(
        reply(b"AUTH ABCDEFGHIJKLMNOPQRSTU\r\n"),
        "-ERR argument too long\r\n"
    );
    assert_eq!(reply(b"AUTH PL@IN\r\n"), "-ERR invalid argument\r\n");
    assert_eq!(
        reply(b"LIST\n"),
        "-ERR invalid character in command line\r\n"
    );
}

#[test]
fn password_debug_hides_the_password() {
    let command = Command::Pass(Password::new("hunter2").unwrap());
    assert!(!format!("{command:?}").contains("hunter2"));
}

/// SASL lines are credentials in base64: `Debug` of an AUTH command, a client's answer or a
/// challenge shows their length, never the text (it was derived, and printed it).
#[test]
fn sasl_debug_hides_the_base64() {
    let secret = "dGVzdAB0ZXN0AHRlc3Q=";
    let data = SaslData::new(secret).unwrap();
    let shown = format!(
        "{:?} {:?} {:?}",
        Command::Auth {
            mechanism: Mechanism::Plain,
            initial_response: Some(data.clone()),
        },
        AuthResponse::Data(data.clone()),
        Continuation(data),
    );
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("20 octets"), "{shown}");
}
