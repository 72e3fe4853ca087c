//! Commands: RFC examples, round trips, every split, bad input.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smtp_proto::*;

fn parse(line: &str) -> Result<Command, CommandError> {
    parse_with(line, &ParseOptions::default())
}

fn parse_with(line: &str, opts: &ParseOptions) -> Result<Command, CommandError> {
    let input = Bytes::from(format!("{line}\r\n"));
    match Command::parse(&input, opts) {
        Ok((command, consumed)) => {
            assert_eq!(consumed, input.len());
            Ok(command)
        }
        Err(ParseError::Invalid { error, consumed }) => {
            assert_eq!(consumed, input.len(), "an invalid line is consumed whole");
            Err(error)
        }
        Err(ParseError::Incomplete) => panic!("complete line reported incomplete: {line:?}"),
    }
}

fn written(command: &Command) -> Vec<u8> {
    let mut out = BytesMut::new();
    command.write(&mut out);
    out.to_vec()
}

fn mailbox_of(path: Option<&Mailbox>) -> (&[u8], &[u8]) {
    let m = path.expect("a mailbox");
    (m.local_part(), m.domain_bytes())
}

/// RFC 5321 appendix D scenarios, the client's side.
#[test]
fn rfc5321_appendix_d_client_lines() {
    let lines = [
        "EHLO bar.com",
        "MAIL FROM:<Smith@bar.com>",
        "RCPT TO:<Jones@foo.com>",
        "RCPT TO:<Green@foo.com>",
        "RCPT TO:<Brown@foo.com>",
        "DATA",
        "QUIT",
        "HELO bar.com",
        "MAIL FROM:<JQP@bar.com>",
        "RCPT TO:<Jones@XYZ.COM>",
        "VRFY Crispin",
        "MAIL FROM:<>",
        "RSET",
        "NOOP",
    ];
    for line in lines {
        let command = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(
            written(&command),
            format!("{line}\r\n").as_bytes(),
            "{line}"
        );
    }
    let Command::Mail { from, params } = parse("MAIL FROM:<Smith@bar.com>").unwrap() else {
        panic!()
    };
    assert_eq!(mailbox_of(from.mailbox()), (&b"Smith"[..], &b"bar.com"[..]));
    assert!(params.is_empty());
    assert_eq!(
        parse("MAIL FROM:<>").unwrap(),
        Command::Mail {
            from: ReversePath::Null,
            params: MailParams::new()
        }
    );
    // D.2: a source route is parsed and ignored (RFC 5321 section 4.1.2, appendix C).
    let Command::Rcpt { to, .. } = parse("RCPT TO:<@foo.com:Jones@XYZ.COM>").unwrap() else {
        panic!()
    };
    assert_eq!(mailbox_of(to.mailbox()), (&b"Jones"[..], &b"XYZ.COM"[..]));
    assert_eq!(
        parse("RCPT TO:<Postmaster>").unwrap(),
        Command::Rcpt {
            to: ForwardPath::Postmaster,
            params: RcptParams::new()
        }
    );
    assert_eq!(
        parse("VRFY Crispin").unwrap(),
        Command::Vrfy(Argument::new("Crispin").unwrap())
    );
}

#[test]
fn verbs_are_case_insensitive() {
    assert_eq!(
        parse("ehlo Bar.com").unwrap(),
        Command::Ehlo(Domain::new("Bar.com").unwrap())
    );
    assert_eq!(
        parse("mail from:<a@b.c>").unwrap(),
        parse("MAIL FROM:<a@b.c>").unwrap()
    );
    assert_eq!(parse("StartTLS").unwrap(), Command::StartTls);
    assert_eq!(parse("quit").unwrap(), Command::Quit);
    assert_eq!(
        parse("rcpt To:<a@b.c>").unwrap(),
        parse("RCPT TO:<a@b.c>").unwrap()
    );
}

#[test]
fn extension_examples() {
    // RFC 1870 section 5.
    let Command::Mail { params, .. } =
        parse("MAIL FROM:<ned@thor.innosoft.com> SIZE=500000").unwrap()
    else {
        panic!()
    };
    assert_eq!(params.size(), Some(500_000));
    // RFC 3030 section 4.
    assert_eq!(
        parse("BDAT 86 LAST").unwrap(),
        Command::Bdat {
            size: 86,
            last: true
        }
    );
    assert_eq!(
        parse("BDAT 69").unwrap(),
        Command::Bdat {
            size: 69,
            last: false
        }
    );
    assert_eq!(
        parse("bdat 0 last").unwrap(),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
    // RFC 3461 section 6.
    let Command::Mail { params, .. } =
        parse("MAIL FROM:<Alice@Mighty.Big.Example.ORG> RET=HDRS ENVID=QQ314159").unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (params.ret(), params.envid().unwrap().as_bytes()),
        (Some(Ret::Headers), &b"QQ314159"[..])
    );
    let Command::Rcpt { params, .. } =
        parse("RCPT TO:<Carol@Ivory.EDU> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Carol@Ivory.EDU")
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        params.notify(),
        Some(Notify {
            success: true,
            failure: true,
            delay: false
        })
    );
    assert_eq!(
        params.orcpt().unwrap().address().decode(),
        b"Carol@Ivory.EDU"
    );
    // RFC 4954 section 4 and 7.
    let Command::Auth {
        mechanism,
        initial_response,
    } = parse("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=").unwrap()
    else {
        panic!()
    };
    assert_eq!(mechanism, Mechanism::Plain);
    assert_eq!(
        initial_response.unwrap().as_bytes(),
        b"dGVzdAB0ZXN0ADEyMzQ="
    );
    assert_eq!(
        parse("AUTH PLAIN =").unwrap(),
        Command::Auth {
            mechanism: Mechanism::Plain,
            initial_response: Some(SaslData::default())
        }
    );
    assert_eq!(
        parse("AUTH LOGIN").unwrap(),
        Command::Auth {
            mechanism: Mechanism::Login,
            initial_response: None
        }
    );
    let Command::Mail { params, .. } =
        parse("MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com").unwrap()
    else {
        panic!()
    };
    assert_eq!(params.auth().unwrap().decode(), b"e=mc2@example.com");
    assert_eq!(
        AuthResponse::parse_line(Bytes::from_static(b"*"), limits::AUTH_LINE).unwrap(),
        AuthResponse::Cancel
    );
    assert_eq!(
        AuthResponse::parse_line(Bytes::from_static(b""), limits::AUTH_LINE).unwrap(),
        AuthResponse::Data(SaslData::default())
    );
    // RFC 2033 section 4.2.
    assert_eq!(
        parse("LHLO foo.edu").unwrap(),
        Command::Lhlo(Domain::new("foo.edu").unwrap())
    );
    // RFC 6531: UTF-8 addresses with SMTPUTF8 on MAIL, and on RCPT once the session allows it.
    let Command::Mail { from, params } = parse("MAIL FROM:<用户@例子.广告> SMTPUTF8").unwrap()
    else {
        panic!()
    };
    assert!(params.smtputf8());
    assert_eq!(from.mailbox().unwrap().as_str(), "用户@例子.广告");
    assert_eq!(
        parse("MAIL FROM:<用户@例子.广告>"),
        Err(CommandError::NonAsciiAddress)
    );
    assert_eq!(
        parse("RCPT TO:<θσερ@παράδειγμα.δοκιμή>"),
        Err(CommandError::NonAsciiAddress)
    );
    let utf8 = ParseOptions {
        smtputf8: true,
        ..ParseOptions::default()
    };
    assert!(parse_with("RCPT TO:<θσερ@παράδειγμα.δοκιμή>", &utf8).is_ok());
    // RFC 8689, RFC 6152, RFC 3030.
    let Command::Mail { params, .. } =
        parse("MAIL FROM:<a@b.c> REQUIRETLS BODY=BINARYMIME").unwrap()
    else {
        panic!()
    };
    assert!(params.requiretls());
    assert_eq!(params.body(), Some(BodyType::BinaryMime));
    // Address literals and quoted local parts.
    assert!(parse("EHLO [192.0.2.1]").is_ok());
    assert!(parse("EHLO [IPv6:2001:db8::1]").is_ok());
    let Command::Rcpt { to, .. } = parse("RCPT TO:<\"john smith\"@[192.0.2.1]>").unwrap() else {
        panic!()
    };
    assert_eq!(to.mailbox().unwrap().local_part(), b"\"john smith\"");
}

#[test]
fn unknown_parameters_are_kept() {
    let Command::Mail { params, .. } =
        parse("MAIL FROM:<a@b.c> SIZE=10 HOLDFOR=60 MT-PRIORITY=4 XFLAG").unwrap()
    else {
        panic!()
    };
    let kept: Vec<_> = params.extensions().map(|p| (p.keyword, p.value)).collect();
    assert_eq!(
        kept,
        [
            (&b"HOLDFOR"[..], Some(&b"60"[..])),
            (b"MT-PRIORITY", Some(b"4")),
            (b"XFLAG", None)
        ]
    );
    let line = "MAIL FROM:<a@b.c> SIZE=10 HOLDFOR=60 MT-PRIORITY=4 XFLAG";
    assert_eq!(
        written(&parse(line).unwrap()),
        format!("{line}\r\n").as_bytes()
    );
}

/// RFC 5321 section 4.5.3.1.3: a path is at most 256 octets with its brackets. A bare
/// address (a leniency) counts the brackets it is written back with, so that what parses
/// bare also parses once written (found by the `smtp_command` fuzz target).
#[test]
fn a_bare_address_keeps_the_path_limit_with_its_brackets() {
    let lax = ParseOptions {
        leniency: Leniency::LAX,
        ..ParseOptions::default()
    };
    // A 64-octet local part and a domain of 63-octet labels, `len` octets in all.
    let address = |len: usize| {
        let labels = format!("{}.", "d".repeat(62)).repeat(4);
        format!("{}@{}d", "l".repeat(64), &labels[..len - 66])
    };
    for verb in ["MAIL FROM:", "RCPT TO:"] {
        let fits = parse_with(&format!("{verb}{}", address(254)), &lax).unwrap();
        assert_eq!(fits, parse(&format!("{verb}<{}>", address(254))).unwrap());
        let error = parse_with(&format!("{verb}{}", address(255)), &lax).unwrap_err();
        let bracketed = parse(&format!("{verb}<{}>", address(255))).unwrap_err();
        assert_eq!(error, bracketed, "{verb}");
        assert!(
            matches!(
                error,
                CommandError::BadSender(AddressError::TooLong { limit: 256 })
                    | CommandError::BadRecipient(AddressError::TooLong { limit: 256 })
            ),
            "{error:?}"
        );
    }
}

#[test]
fn leniency_is_named_and_off_by_default() {
    let lax = ParseOptions {
        leniency: Leniency::LAX,
        ..ParseOptions::default()
    };
    assert!(matches!(
        parse("MAIL FROM: <a@b.c>"),
        Err(CommandError::BadSender(AddressError::MissingBrackets))
    ));
    assert!(parse_with("MAIL FROM: <a@b.c>", &lax).is_ok());
    assert!(matches!(
        parse("MAIL FROM:a@b.c"),
        Err(CommandError::BadSender(_))
    ));
    assert_eq!(
        parse_with("MAIL FROM:a@b.c", &lax).unwrap(),
        parse("MAIL FROM:<a@b.c>").unwrap()
    );
    assert!(matches!(
        parse("QUIT "),
        Err(CommandError::ParameterSyntax(_))
    ));
    assert_eq!(parse_with("QUIT  ", &lax).unwrap(), Command::Quit);
    assert!(parse("MAIL FROM:<a@b.c>  SIZE=1").is_err());
    assert!(parse_with("MAIL FROM:<a@b.c>  SIZE=1 ", &lax).is_ok());
    let long = format!("RCPT TO:<{}@example.com>", "x".repeat(100));
    assert!(matches!(
        parse(&long),
        Err(CommandError::BadRecipient(AddressError::TooLong {
            limit: 64
        }))
    ));
    assert!(parse_with(&long, &lax).is_ok());
    let input = Bytes::from_static(b"NOOP\nQUIT\r\n");
    assert!(matches!(
        Command::parse(&input, &ParseOptions::default()),
        Err(ParseError::Invalid {
            error: CommandError::ForbiddenByte(b'\n'),
            consumed: 5
        })
    ));
    assert_eq!(Command::parse(&input, &lax), Ok((Command::Noop(None), 5)));
}

#[test]
fn bad_input_gives_typed_errors_and_replies() {
    let cases: &[(&str, CommandError, u16, &str)] = &[
        ("FOO bar", CommandError::UnknownCommand, 500, "5.5.1"),
        ("", CommandError::UnknownCommand, 500, "5.5.1"),
        (
            "MAILFROM:<a@b.c>",
            CommandError::UnknownCommand,
            500,
            "5.5.1",
        ),
        (
            "MAIL TO:<a@b.c>",
            CommandError::Syntax("missing FROM:/TO:"),
            500,
            "5.5.2",
        ),
        (
            "DATA now",
            CommandError::ParameterSyntax("command takes no argument"),
            501,
            "5.5.4",
        ),
        (
            "MAIL FROM:<a@b.c> SIZE=x",
            CommandError::ParameterSyntax("SIZE needs a number"),
            501,
            "5.5.4",
        ),
        (
            "MAIL FROM:<a..b@c.d>",
            CommandError::BadSender(AddressError::LocalPart),
            501,
            "5.1.7",
        ),
        (
            "RCPT TO:<a@-c.d>",
            CommandError::BadRecipient(AddressError::Domain),
            553,
            "5.1.3",
        ),
        (
            "RCPT TO:<>",
            CommandError::BadRecipient(AddressError::Empty),
            553,
            "5.1.3",
        ),
        (
            "MAIL FROM:<jörg@b.c>",
            CommandError::NonAsciiAddress,
            553,
            "5.6.7",
        ),
        ("VRFY j\u{f6}rg", CommandError::InvalidUtf8, 500, "5.5.2"),
        (
            "BDAT -1",
            CommandError::ParameterSyntax("chunk size must be a number"),
            501,
            "5.5.4",
        ),
        (
            "AUTH PLAIN abc$",
            CommandError::ParameterSyntax("initial response must be base64"),
            501,
            "5.5.4",
        ),
    ];
    for (line, error, code, enhanced) in cases {
        let got = parse(line).expect_err(line);
        assert_eq!(&got, error, "{line}");
        let reply = got.reply();
        assert_eq!(reply.code().get(), *code, "{line}");
        assert_eq!(
            reply.enhanced_code().unwrap().to_string(),
            *enhanced,
            "{line}"
        );
    }
    for (bytes, byte) in [(&b"NOOP a\0b\r\n"[..], 0u8), (b"NOOP a\rb\r\n", b'\r')] {
        let input = Bytes::copy_from_slice(bytes);
        assert_eq!(
            Command::parse(&input, &ParseOptions::default()),
            Err(ParseError::Invalid {
                error: CommandError::ForbiddenByte(byte),
                consumed: bytes.len()
            })
        );
    }
    assert_eq!(
        Command::parse_line(
            Bytes::from_static(b"NOOP a\r\nRSET"),
            &ParseOptions::default()
        ),
        Err(CommandError::ForbiddenByte(b'\r'))
    );
    let invalid_utf8 = Bytes::from_static(b"MAIL FROM:<j\xffrg@b.c> SMTPUTF8\r\n");
    assert!(matches!(
        Command::parse(&invalid_utf8, &ParseOptions::default()),
        Err(ParseError::Invalid {
            error: CommandError::BadSender(AddressError::InvalidUtf8),
            ..
        })
    ));
}

#[test]
fn overlong_lines_are_refused() {
    let opts = ParseOptions::default();
    let long = Bytes::from(format!("NOOP {}\r\n", "a".repeat(600)));
    assert_eq!(
        Command::parse(&long, &opts),
        Err(ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 512 },
            consumed: long.len()
        })
    );
    assert_eq!(
        CommandError::LineTooLong { limit: 512 }
            .reply()
            .code()
            .get(),
        500
    );
    // Exactly 512 octets with CRLF is allowed (RFC 5321 section 4.5.3.1.4).
    let max = Bytes::from(format!("NOOP {}\r\n", "a".repeat(505)));
    assert_eq!(max.len(), 512);
    assert!(Command::parse(&max, &opts).is_ok());
    // AUTH may use 12288 octets (RFC 4954 section 4).
    let auth = Bytes::from(format!("AUTH PLAIN {}\r\n", "A".repeat(4000)));
    assert!(Command::parse(&auth, &opts).is_ok());
    // No line end within the window: refused without waiting for more, and nothing is
    // consumed (`mail_wire::ParseError`'s rule): the caller discards through the next LF, and
    // the command after it is intact even when it is already in the buffer.
    let endless = Bytes::from(format!("{}\r\nQUIT\r\n", "A".repeat(20_000)));
    let error = Command::parse(&endless, &opts).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 512 },
            consumed: 0
        }
    );
    assert!(error.discards_to_line_end());
    let lf = endless.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(
        Command::parse(&endless.slice(lf + 1..), &opts),
        Ok((Command::Quit, 6))
    );
}

#[test]
fn every_prefix_of_a_pipelined_session_is_incomplete() {
    let session = b"EHLO client.example.org\r\nMAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<c@d.example> NOTIFY=NEVER\r\nRCPT TO:<Postmaster>\r\nBDAT 5 LAST\r\nAUTH PLAIN =\r\nVRFY x\r\nQUIT\r\n";
    let opts = ParseOptions::default();
    let whole = Bytes::from_static(session);
    let mut expected = Vec::new();
    let mut rest = whole.clone();
    while !rest.is_empty() {
        let (command, consumed) = Command::parse(&rest, &opts).unwrap();
        expected.push(command);
        rest = rest.slice(consumed..);
    }
    assert_eq!(expected.len(), 8);
    // Every split: parse each command from every prefix of what is left.
    let mut offset = 0;
    for command in &expected {
        let rest = whole.slice(offset..);
        let (_, consumed) = Command::parse(&rest, &opts).unwrap();
        for cut in 0..consumed {
            assert_eq!(
                Command::parse(&rest.slice(..cut), &opts),
                Err(ParseError::Incomplete),
                "cut {cut} of {command:?}"
            );
        }
        for cut in consumed..=rest.len() {
            assert_eq!(
                Command::parse(&rest.slice(..cut), &opts).unwrap(),
                (command.clone(), consumed)
            );
        }
        offset += consumed;
    }
}

#[test]
fn display_hides_credentials() {
    let command = parse("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=").unwrap();
    assert_eq!(command.to_string(), "AUTH PLAIN <hidden>");
    assert!(!format!("{command:?}").contains("dGVzdAB0ZXN0ADEyMzQ="));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn command_round_trip(command in common::command()) {
        let bytes = Bytes::from(written(&command));
        let (parsed, consumed) = Command::parse(&bytes, &ParseOptions::default()).unwrap();
        prop_assert_eq!(&parsed, &command);
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(written(&parsed), bytes.to_vec());
        let line = bytes.slice(..bytes.len() - 2);
        prop_assert_eq!(Command::parse_line(line, &ParseOptions::default()).unwrap(), command);
    }

    #[test]
    fn params_write_as_the_command_does(
        from in common::reverse_path(),
        to in common::forward_path(),
        mail in common::mail_params(),
        rcpt in common::rcpt_params(),
    ) {
        let mut expected = BytesMut::from(&b"MAIL FROM:"[..]);
        from.write(&mut expected);
        mail.write(&mut expected);
        expected.extend_from_slice(b"\r\n");
        prop_assert_eq!(written(&Command::Mail { from, params: mail.clone() }), expected.to_vec());
        expected = BytesMut::from(&b"RCPT TO:"[..]);
        to.write(&mut expected);
        rcpt.write(&mut expected);
        expected.extend_from_slice(b"\r\n");
        prop_assert_eq!(written(&Command::Rcpt { to, params: rcpt.clone() }), expected.to_vec());
        // Nothing at all for no parameters; otherwise a leading space.
        let (mut m, mut r) = (BytesMut::new(), BytesMut::new());
        mail.write(&mut m);
        rcpt.write(&mut r);
        prop_assert_eq!(m.is_empty(), mail.is_empty());
        prop_assert_eq!(r.is_empty(), rcpt.is_empty());
        prop_assert!(m.is_empty() || m.starts_with(b" "));
        prop_assert!(r.is_empty() || r.starts_with(b" "));
    }

    #[test]
    fn paths_round_trip(from in common::reverse_path(), to in common::forward_path()) {
        let mail = Command::Mail { from, params: MailParams::new() };
        let rcpt = Command::Rcpt { to, params: RcptParams::new() };
        for command in [mail, rcpt] {
            let bytes = Bytes::from(written(&command));
            prop_assert_eq!(Command::parse(&bytes, &ParseOptions::default()).unwrap().0, command);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), lax in any::<bool>()) {
        let mut opts = ParseOptions::default();
        if lax {
            opts.leniency = Leniency::LAX;
            opts.smtputf8 = true;
        }
        let input = Bytes::from(bytes);
        if let Ok((command, consumed)) = Command::parse(&input, &opts) {
            prop_assert!(consumed <= input.len());
            let again = Bytes::from(written(&command));
            prop_assert_eq!(Command::parse(&again, &ParseOptions { smtputf8: true, ..opts }).unwrap().0, command);
        }
    }

    #[test]
    fn smtp_like_lines_never_panic(line in "(MAIL FROM:|RCPT TO:|EHLO |AUTH |BDAT |VRFY )[ -~]{0,60}") {
        let input = Bytes::from(format!("{line}\r\n"));
        let _ = Command::parse(&input, &ParseOptions::default());
        let _ = Command::parse(&input, &ParseOptions { leniency: Leniency::LAX, ..ParseOptions::default() });
    }
}
