//! Bad input gives the typed error, never a panic.

use bytes::Bytes;
use pop3_proto::*;
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

fn command_error(input: &'static [u8]) -> (CommandError, usize) {
    match Command::parse(&Bytes::from_static(input), &limits()) {
        Err(ParseError::Invalid { error, consumed }) => (error, consumed),
        other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn nul_bare_cr_and_bare_lf_in_commands() {
    assert_eq!(command_error(b"US\0R x\r\n"), (CommandError::Nul, 8));
    assert_eq!(command_error(b"USER a\rb\r\n"), (CommandError::BareCr, 10));
    assert_eq!(command_error(b"QUIT\nNOOP\r\n"), (CommandError::BareLf, 5));
    assert_eq!(command_error(b"\n"), (CommandError::BareLf, 1));
    // The framed-line entry point checks too (a caller may skip the framer).
    let limits = limits();
    for (line, error) in [
        (&b"PASS a\0b"[..], CommandError::Nul),
        (b"PASS a\rb", CommandError::BareCr),
        (b"PASS a\nb", CommandError::BareLf),
    ] {
        assert_eq!(
            Command::parse_line(Bytes::from_static(line), &limits),
            Err(error)
        );
    }
}

#[test]
fn overlong_lines() {
    let limits = limits();
    // 255 octets with CRLF is the longest command line (RFC 2449 section 4); the initial
    // response is base64 (RFC 5034 section 4).
    let longest = Bytes::from(format!("AUTH PLAIN {}\r\n", "A".repeat(242)));
    assert_eq!(longest.len(), 255);
    assert!(Command::parse(&longest, &limits).is_ok());
    let input = Bytes::from(format!("AUTH PLAIN {}\r\n", "x".repeat(243)));
    assert_eq!(
        Command::parse(&input, &limits),
        Err(ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 255 },
            consumed: 256
        })
    );
    // Without a line ending, the limit is noticed as soon as it is reached.
    let endless = Bytes::from(vec![b'A'; 255]);
    assert!(matches!(
        Command::parse(&endless, &limits),
        Err(ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 255 },
            ..
        })
    ));
    assert_eq!(
        Command::parse(&endless.slice(..254), &limits),
        Err(ParseError::Incomplete)
    );
    // PASS has its own limit; other arguments have 40 octets.
    let long_password = "p ".repeat(300);
    let input = Bytes::from(format!("PASS {long_password}\r\n"));
    let (command, _) = Command::parse(&input, &limits).unwrap();
    assert_eq!(
        command,
        Command::Pass(Password::new(long_password).unwrap())
    );
    let input = Bytes::from(format!("PASS {}\r\n", "p".repeat(1100)));
    assert!(matches!(
        Command::parse(&input, &limits),
        Err(ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 1024 },
            ..
        })
    ));
    assert!(matches!(
        command_error(b"USER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n").0,
        CommandError::InvalidArgument {
            command: Verb::User,
            error: ValueError::TooLong { limit: 40, .. }
        }
    ));
    // A response line over 512 octets.
    let input = Bytes::from(format!("+OK {}\r\n", "x".repeat(600)));
    assert!(matches!(
        StatusLine::parse(&input, &limits),
        Err(ParseError::Invalid {
            error: ResponseError::LineTooLong { limit: 512 },
            ..
        })
    ));
}

/// What a caller does with an invalid item, by `ParseError`'s rule: drop `consumed` octets, or
/// when it is 0 (a first line over its limit, its end unseen) drop through the next LF.
fn skip_invalid<E>(input: &Bytes, error: &ParseError<E>) -> Bytes {
    match error {
        ParseError::Invalid { consumed: 0, .. } => {
            let lf = input
                .iter()
                .position(|&b| b == b'\n')
                .expect("an LF to resume after");
            input.slice(lf + 1..)
        }
        ParseError::Invalid { consumed, .. } => input.slice(*consumed..),
        ParseError::Incomplete => panic!("not invalid"),
    }
}

/// `consumed` for an overlong line is 0 when its end is not in sight, and never covers what
/// follows it, even when that is already in the buffer (`mail_wire::ParseError`'s rule).
#[test]
fn overlong_lines_never_swallow_the_next_command() {
    let limits = limits();
    let input = Bytes::from(format!("{}\r\nQUIT\r\n", "x".repeat(300)));
    let error = Command::parse(&input, &limits).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 255 },
            consumed: 0
        }
    );
    assert!(error.discards_to_line_end());
    let rest = skip_invalid(&input, &error);
    assert_eq!(
        Command::parse(&rest, &limits),
        Ok((Command::Quit, 6)),
        "the next command survives"
    );
    // A line one octet over the limit whose CRLF is in sight is taken whole.
    let input = Bytes::from(format!("NOOP {}\r\nQUIT\r\n", "x".repeat(249)));
    let error = Command::parse(&input, &limits).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: CommandError::LineTooLong { limit: 255 },
            consumed: 256
        }
    );
    assert_eq!(
        Command::parse(&skip_invalid(&input, &error), &limits),
        Ok((Command::Quit, 6))
    );
    // In a listing, `consumed` stops at the start of the overlong line (the entries before it
    // are whole lines); that line is then at the front, with `consumed` 0.
    let input = Bytes::from(format!("1 120\r\n2 {}\r\n.\r\n", "9".repeat(600)));
    let error = ScanList::parse(&input, &limits).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: ResponseError::LineTooLong { limit: 512 },
            consumed: 7
        }
    );
    let rest = skip_invalid(&input, &error);
    let error = ScanList::parse(&rest, &limits).unwrap_err();
    assert!(error.discards_to_line_end(), "{error:?}");
    assert_eq!(&skip_invalid(&rest, &error)[..], b".\r\n");
    // An overlong entry whose end is in sight is reported with the terminator, like any bad
    // entry: the whole listing is consumed.
    let input = Bytes::from(format!("1 {}\r\n2 200\r\n.\r\n+OK", "1".repeat(509)));
    assert_eq!(
        ScanList::parse(&input, &limits),
        Err(ParseError::Invalid {
            error: ResponseError::LineTooLong { limit: 512 },
            consumed: input.len() - 3
        })
    );
    // A listing over its limit: the whole lines before the unfinished one.
    let mut small = limits;
    small.listing = 10;
    let input = Bytes::from_static(b"1 120\r\n2 12");
    assert_eq!(
        ScanList::parse(&input, &small),
        Err(ParseError::Invalid {
            error: ResponseError::ListingTooLong { limit: 10 },
            consumed: 7
        })
    );
}

#[test]
fn message_numbers() {
    let invalid = |command| CommandError::InvalidMsgNumber { command };
    assert_eq!(command_error(b"RETR 0\r\n").0, invalid(Verb::Retr));
    assert_eq!(command_error(b"DELE 00\r\n").0, invalid(Verb::Dele));
    assert_eq!(command_error(b"LIST 4294967296\r\n").0, invalid(Verb::List));
    assert_eq!(
        command_error(b"UIDL 99999999999999999999999\r\n").0,
        invalid(Verb::Uidl)
    );
    assert_eq!(command_error(b"TOP -1 2\r\n").0, invalid(Verb::Top));
    assert_eq!(command_error(b"RETR 1a\r\n").0, invalid(Verb::Retr));
    let (max, _) = Command::parse(&Bytes::from_static(b"RETR 4294967295\r\n"), &limits()).unwrap();
    assert_eq!(max, Command::Retr(MsgNumber::new(u32::MAX).unwrap()));
    assert!(matches!(
        command_error(b"TOP 1 4294967296\r\n").0,
        CommandError::InvalidArgument {
            command: Verb::Top,
            ..
        }
    ));
    assert_eq!(MsgNumber::new(0), None);
    // In responses too.
    for line in [&b"+OK 0 120\r\n"[..], b"+OK 4294967296 120\r\n"] {
        assert!(matches!(
            ScanListing::parse(&Bytes::from_static(line), &limits()),
            Err(ParseError::Invalid {
                error: ResponseError::Invalid(ValueError::OutOfRange { .. }),
                ..
            })
        ));
    }
}

#[test]
fn wrong_arguments_and_unknown_commands() {
    let wrong = |command| CommandError::WrongArguments { command };
    assert_eq!(command_error(b"QUIT now\r\n").0, wrong(Verb::Quit));
    assert_eq!(command_error(b"STAT \r\n").0, wrong(Verb::Stat));
    assert_eq!(command_error(b"LIST 1 2\r\n").0, wrong(Verb::List));
    assert_eq!(command_error(b"TOP  1 2\r\n").0, wrong(Verb::Top));
    assert_eq!(command_error(b"USER\r\n").0, wrong(Verb::User));
    assert_eq!(command_error(b"PASS\r\n").0, wrong(Verb::Pass));
    assert_eq!(command_error(b"PASS \r\n").0, wrong(Verb::Pass));
    assert_eq!(command_error(b"APOP mrose\r\n").0, wrong(Verb::Apop));
    assert_eq!(command_error(b"AUTH\r\n").0, wrong(Verb::Auth));
    assert_eq!(command_error(b"\r\n").0, CommandError::UnknownCommand);
    assert_eq!(
        command_error(b"XTND XMIT\r\n").0,
        CommandError::UnknownCommand
    );
    assert_eq!(command_error(b"QUITS\r\n").0, CommandError::UnknownCommand);
    assert_eq!(command_error(b"TO\r\n").0, CommandError::UnknownCommand);
    assert!(matches!(
        command_error(b"APOP mrose c4c9334bac560ecc979e58001b3e22fz\r\n").0,
        CommandError::InvalidArgument {
            command: Verb::Apop,
            ..
        }
    ));
    assert!(matches!(
        command_error(b"AUTH PLAIN dGVzd!==\r\n").0,
        CommandError::InvalidArgument {
            command: Verb::Auth,
            ..
        }
    ));
    assert!(matches!(
        command_error(b"USER a\x01b\r\n").0,
        CommandError::InvalidArgument {
            command: Verb::User,
            error: ValueError::ForbiddenOctet { octet: 1, .. }
        }
    ));
}

#[test]
fn constructors_refuse_line_breaks_and_nul() {
    for bad in ["a\r\nDELE 1", "a\nb", "a\0b", "a\rb"] {
        assert!(Name::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(Password::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(Text::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(Mechanism::new(bad).is_err(), "{bad:?}");
        assert!(SaslData::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(UniqueId::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(LangRange::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(OtherCode::new(bad.to_owned()).is_err(), "{bad:?}");
        assert!(OtherCapability::new(format!("X-{bad}")).is_err(), "{bad:?}");
        assert!(Timestamp::new(format!("<{bad}>")).is_err(), "{bad:?}");
    }
    assert!(Name::new("two words").is_err());
    assert!(Name::new("").is_err());
    assert!(Password::new("").is_err());
    assert!(Password::new("with spaces is fine").is_ok());
    // A named code or capability cannot pose as an unknown one, and a text cannot fake a code.
    assert!(OtherCode::new("in-use").is_err());
    assert!(OtherCapability::new("TOP").is_err());
    assert!(StatusLine::ok(Text::new("[IN-USE] x").unwrap()).is_err());
    assert!(StatusLine::ok(Text::new("[not a code] x").unwrap()).is_ok());
}

#[test]
fn bad_responses() {
    let error =
        |input: &'static [u8]| match StatusLine::parse(&Bytes::from_static(input), &limits()) {
            Err(ParseError::Invalid { error, .. }) => error,
            other => panic!("{other:?}"),
        };
    assert_eq!(error(b"OK fine\r\n"), ResponseError::UnknownStatus);
    assert_eq!(error(b"+OKAY\r\n"), ResponseError::UnknownStatus);
    assert_eq!(error(b"+OK\n"), ResponseError::BareLf);
    assert_eq!(error(b"+OK a\0\r\n"), ResponseError::Nul);
    assert_eq!(
        Stat::parse(&Bytes::from_static(b"+OK 2\r\n"), &limits())
            .unwrap_err()
            .error(),
        Some(&ResponseError::Invalid(ValueError::Malformed {
            what: "STAT result"
        }))
    );
    assert!(Continuation::parse(&Bytes::from_static(b"+ a b\r\n"), &limits()).is_err());
}

#[test]
fn bad_listing_entries_keep_the_stream_in_step() {
    let input = Bytes::from_static(b"1 120\r\nx 200\r\n..stuffed\r\n3\n.\r\nNEXT");
    let error = ScanList::parse(&input, &limits()).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: ResponseError::Invalid(ValueError::Malformed {
                what: "message number"
            }),
            consumed: input.len() - 4
        }
    );
    // Stuffed lines are refused line by line too.
    assert!(ListingLine::<Capability>::parse_line(Bytes::from_static(b"..X"), &limits()).is_err());
    // Incomplete until the terminator, whatever comes before it.
    assert_eq!(
        ScanList::parse(&Bytes::from_static(b"1 120\r\n.x\r\n"), &limits()),
        Err(ParseError::Incomplete)
    );
    let mut small = limits();
    small.listing = 20;
    let big = Bytes::from_static(b"1 120\r\n2 120\r\n3 120\r\n4 120\r\n");
    assert!(matches!(
        ScanList::parse(&big, &small),
        Err(ParseError::Invalid {
            error: ResponseError::ListingTooLong { limit: 20 },
            ..
        })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Arbitrary octets (biased towards the protocol's shapes) never panic any parser, and
    /// whatever parses writes back to something that parses to the same value.
    #[test]
    fn arbitrary_input_never_panics(
        input in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "(USER|PASS|APOP|LIST|RETR|TOP|UIDL|AUTH|LANG|\\+OK|-ERR|\\+|[0-9]+)[ \\[\\]A-Za-z0-9/=.\r\n\0-]{0,60}\r\n"
                .prop_map(String::into_bytes),
        ]
    ) {
        let input = Bytes::from(input);
        let limits = limits();
        if let Ok((command, _)) = Command::parse(&input, &limits) {
            let mut out = bytes::BytesMut::new();
            command.write(&mut out);
            prop_assert_eq!(Command::parse(&out.freeze(), &limits).unwrap().0, command);
        }
        if let Ok((response, _)) = Response::parse(&input, &limits) {
            let mut out = bytes::BytesMut::new();
            response.write(&mut out);
            prop_assert_eq!(Response::parse(&out.freeze(), &limits).unwrap().0, response);
        }
        let _ = Stat::parse(&input, &limits);
        let _ = ScanListing::parse(&input, &limits);
        let _ = UidListing::parse(&input, &limits);
        let _ = AuthResponse::parse(&input, limits.sasl_line);
        if let Ok((listing, _)) = CapabilityList::parse(&input, &limits) {
            prop_assert_eq!(listing.iter().count(), listing.len());
        }
        let _ = ScanList::parse(&input, &limits).map(|(l, _)| l.iter().count());
        let _ = UidList::parse(&input, &limits).map(|(l, _)| l.iter().count());
        let _ = Timestamp::find_in(&input);
    }
}
