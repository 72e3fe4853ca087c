//! Replies and EHLO capabilities: RFC examples, round trips, every split, bad input.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smtp_proto::*;

fn parse(text: &[u8]) -> Reply {
    let input = Bytes::copy_from_slice(text);
    let (reply, consumed) = Reply::parse(&input, &Limits::default()).unwrap();
    assert_eq!(consumed, text.len());
    reply
}

fn written(reply: &Reply, enhanced: bool) -> Vec<u8> {
    let mut out = BytesMut::new();
    reply.write_with(&mut out, enhanced);
    out.to_vec()
}

fn lines(reply: &Reply) -> Vec<&[u8]> {
    reply.lines().collect()
}

const EHLO_D1: &[u8] =
    b"250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n";

#[test]
fn rfc5321_appendix_d_server_replies() {
    let r = parse(b"220 foo.com Simple Mail Transfer Service Ready\r\n");
    assert_eq!(
        (r.code().get(), r.code().class(), r.enhanced_code()),
        (220, Class::PositiveCompletion, None)
    );
    assert_eq!(
        r.first_line(),
        b"foo.com Simple Mail Transfer Service Ready"
    );
    let r = parse(EHLO_D1);
    assert_eq!(
        lines(&r),
        [
            &b"foo.com greets bar.com"[..],
            b"8BITMIME",
            b"SIZE",
            b"DSN",
            b"HELP"
        ]
    );
    assert_eq!(r.line_count(), 5);
    assert_eq!(written(&r, true), EHLO_D1);
    let r = parse(b"550 No such user here\r\n");
    assert_eq!(
        (r.code().class(), r.code().category()),
        (Class::PermanentNegative, Category::MailSystem)
    );
    let r = parse(b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    assert_eq!(r, Reply::start_data());
    let r = parse(b"250\r\n");
    assert_eq!(lines(&r), [&b""[..]]);
}

#[test]
fn enhanced_codes() {
    // RFC 2034 section 5 / RFC 3463.
    let r = parse(b"250 2.1.5 Recipient ok\r\n");
    assert_eq!(r.enhanced_code(), EnhancedCode::new(2, 1, 5));
    assert_eq!(r.first_line(), b"Recipient ok");
    let r = parse(b"550-5.1.1 The email account that you tried to reach does not exist.\r\n550-5.1.1 Please try double-checking the recipient's email\r\n550 5.1.1 address for typos.\r\n");
    assert_eq!(r.enhanced_code(), EnhancedCode::new(5, 1, 1));
    assert_eq!(lines(&r)[2], b"address for typos.");
    assert_eq!(written(&r, false), b"550-The email account that you tried to reach does not exist.\r\n550-Please try double-checking the recipient's email\r\n550 address for typos.\r\n");
    // A class that does not match the code is text, not an enhanced code.
    let r = parse(b"250 5.1.1 odd\r\n");
    assert_eq!(
        (r.enhanced_code(), r.first_line()),
        (None, &b"5.1.1 odd"[..])
    );
    let mut out = BytesMut::new();
    Reply::recipient_ok().write(&mut out);
    assert_eq!(&out[..], b"250 2.1.5 Recipient OK\r\n");
    out.clear();
    Reply::recipient_ok().write_with(&mut out, false);
    assert_eq!(&out[..], b"250 Recipient OK\r\n");
}

#[test]
fn well_known_replies_carry_rfc3463_codes() {
    let cases: &[(Reply, u16, Option<&str>)] = &[
        (Reply::ok(), 250, Some("2.0.0")),
        (Reply::sender_ok(), 250, Some("2.1.0")),
        (Reply::recipient_ok(), 250, Some("2.1.5")),
        (Reply::start_data(), 354, None),
        (Reply::closing(), 221, Some("2.0.0")),
        (Reply::syntax_error(), 500, Some("5.5.2")),
        (Reply::parameter_syntax_error(), 501, Some("5.5.4")),
        (Reply::not_implemented(), 502, Some("5.5.1")),
        (Reply::bad_sequence(), 503, Some("5.5.1")),
        (Reply::parameter_not_implemented(), 504, Some("5.5.4")),
        (Reply::mailbox_unavailable(), 550, Some("5.1.1")),
        (Reply::too_many_recipients(), 452, Some("4.5.3")),
        (Reply::message_too_big(), 552, Some("5.3.4")),
        (Reply::service_not_available(), 421, Some("4.3.2")),
        (Reply::timeout(), 421, Some("4.4.2")),
        (Reply::auth_required(), 530, Some("5.7.0")),
        (Reply::auth_ok(), 235, Some("2.7.0")),
        (Reply::auth_failed(), 535, Some("5.7.8")),
        (
            Reply::encryption_required_for_mechanism(),
            538,
            Some("5.7.11"),
        ),
        (Reply::ready_to_start_tls(), 220, Some("2.0.0")),
        (Reply::cannot_verify(), 252, Some("2.5.0")),
        (Reply::unsupported_parameter(), 555, Some("5.5.4")),
        (Reply::line_too_long(), 500, Some("5.5.6")),
        (Reply::no_valid_recipients(), 554, Some("5.5.1")),
        (Reply::bare_line_ending(), 550, Some("5.6.11")),
        (Reply::chunk_received(), 250, Some("2.0.0")),
        (Reply::too_many_errors(), 421, Some("4.7.0")),
        (Reply::too_much_input(), 421, Some("4.7.0")),
        (Reply::hello_first(), 503, Some("5.5.1")),
        (Reply::mail_first(), 503, Some("5.5.1")),
        (Reply::sender_already_specified(), 503, Some("5.5.1")),
        (Reply::only_quit_accepted(), 503, Some("5.5.1")),
        (Reply::tls_already_active(), 503, Some("5.5.1")),
        (Reply::already_authenticated(), 503, Some("5.5.1")),
        (Reply::auth_in_transaction(), 503, Some("5.5.1")),
        (Reply::binarymime_requires_bdat(), 503, Some("5.5.1")),
        (Reply::data_after_bdat(), 503, Some("5.5.1")),
        (Reply::wrong_hello_verb(), 500, Some("5.5.1")),
        (Reply::auth_bad_base64(), 501, Some("5.5.2")),
        (Reply::unrecognized_auth_mechanism(), 504, Some("5.5.4")),
        (Reply::auth_malformed(), 535, Some("5.7.8")),
        (Reply::auth_cancelled(), 501, Some("5.7.0")),
    ];
    for (reply, code, enhanced) in cases {
        assert_eq!(reply.code().get(), *code);
        assert_eq!(
            reply.enhanced_code().map(|e| e.to_string()).as_deref(),
            *enhanced
        );
        let bytes = written(reply, true);
        assert_eq!(&parse(&bytes), reply, "{}", String::from_utf8_lossy(&bytes));
    }
    let greeting = Reply::service_ready(&Domain::new("mx.example.com").unwrap());
    assert_eq!(written(&greeting, true), b"220 mx.example.com ESMTP\r\n");
    let lmtp = Reply::lmtp_service_ready(&Domain::new("[192.0.2.1]").unwrap());
    assert_eq!(written(&lmtp, true), b"220 [192.0.2.1] LMTP\r\n");
    assert_eq!(lmtp.enhanced_code(), None);
    assert_eq!(
        written(&Reply::bare_line_ending(), false),
        b"550 Bare CR or LF in message content is not allowed\r\n"
    );
    assert_eq!(Reply::auth_challenge(b"").unwrap().to_string(), "334");
    assert!(Reply::auth_challenge(b"bad\r\n").is_err());
}

#[test]
fn bad_replies_give_typed_errors() {
    let limits = Limits::default();
    let cases: &[(&[u8], ReplyError)] = &[
        (
            b"25 OK\r\n",
            ReplyError::Syntax("reply line must start with a code"),
        ),
        (b"650 OK\r\n", ReplyError::Syntax("reply code out of range")),
        (
            b"250_OK\r\n",
            ReplyError::Syntax("code must be followed by SP or -"),
        ),
        (b"250-a\r\n251 b\r\n", ReplyError::InconsistentCode),
        (b"250 a\0b\r\n", ReplyError::ForbiddenByte(0)),
        (b"250 a\rb\r\n", ReplyError::ForbiddenByte(b'\r')),
        (b"250 ab\n", ReplyError::ForbiddenByte(b'\n')),
    ];
    for (text, error) in cases {
        let input = Bytes::copy_from_slice(text);
        assert_eq!(
            Reply::parse(&input, &limits),
            Err(ParseError::Invalid {
                error: error.clone(),
                consumed: text.len()
            }),
            "{text:?}"
        );
    }
    let long = Bytes::from(format!("250 {}\r\n", "x".repeat(600)));
    assert!(matches!(
        Reply::parse(&long, &limits),
        Err(ParseError::Invalid {
            error: ReplyError::LineTooLong { limit: 512 },
            ..
        })
    ));
    let many = Bytes::from("250-x\r\n".repeat(200));
    assert!(matches!(
        Reply::parse(&many, &limits),
        Err(ParseError::Invalid {
            error: ReplyError::TooManyLines { limit: 128 },
            ..
        })
    ));
    assert!(ReplyText::new("a\r\n250 fake").is_err());
    assert_eq!(
        Capabilities::from_reply(&Reply::syntax_error()),
        Err(ReplyError::NotEhlo)
    );
}

/// `consumed` for an overlong reply line stops at the start of that line when its end is not
/// in sight (0 when it is the first line), and never covers what follows
/// (`mail_wire::ParseError`'s rule).
#[test]
fn overlong_reply_lines_follow_the_consumed_rule() {
    let limits = Limits::default();
    let input = Bytes::from(format!(
        "250-first\r\n250-{}\r\n250 last\r\n220 next\r\n",
        "x".repeat(600)
    ));
    let error = Reply::parse(&input, &limits).unwrap_err();
    assert_eq!(
        error,
        ParseError::Invalid {
            error: ReplyError::LineTooLong { limit: 512 },
            consumed: 11
        }
    );
    // The long line is now first: nothing can be consumed, discard through its LF.
    let rest = input.slice(11..);
    let error = Reply::parse(&rest, &limits).unwrap_err();
    assert!(error.discards_to_line_end(), "{error:?}");
    let lf = rest.iter().position(|&b| b == b'\n').unwrap();
    let rest = rest.slice(lf + 1..);
    let (reply, used) = Reply::parse(&rest, &limits).unwrap();
    assert_eq!(
        (reply.code().get(), reply.first_line()),
        (250, &b"last"[..])
    );
    assert_eq!(parse(&rest[used..]).first_line(), b"next");
    // A line one octet over the limit whose CRLF is in sight is consumed through it.
    let input = Bytes::from(format!("250 {}\r\n220 next\r\n", "x".repeat(507)));
    assert_eq!(
        Reply::parse(&input, &limits),
        Err(ParseError::Invalid {
            error: ReplyError::LineTooLong { limit: 512 },
            consumed: 513
        })
    );
}

#[test]
fn every_prefix_of_replies_is_incomplete() {
    let stream: &[u8] = b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n550-5.1.1 a\r\n550 5.1.1 b\r\n354 go\r\n";
    let whole = Bytes::from_static(stream);
    let limits = Limits::default();
    let mut offset = 0;
    let mut count = 0;
    while offset < whole.len() {
        let rest = whole.slice(offset..);
        let (reply, consumed) = Reply::parse(&rest, &limits).unwrap();
        for cut in 0..consumed {
            assert_eq!(
                Reply::parse(&rest.slice(..cut), &limits),
                Err(ParseError::Incomplete),
                "cut {cut}"
            );
        }
        for cut in consumed..=rest.len() {
            assert_eq!(
                Reply::parse(&rest.slice(..cut), &limits).unwrap(),
                (reply.clone(), consumed)
            );
        }
        offset += consumed;
        count += 1;
    }
    assert_eq!(count, 4);
}

#[test]
fn capabilities_from_an_ehlo_reply() {
    let reply = parse(b"250-mx.example.com Hello\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8bitmime\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN X-CUSTOM\r\n250-CHUNKING\r\n250-SMTPUTF8\r\n250-DSN\r\n250-BINARYMIME\r\n250-REQUIRETLS\r\n250-X-EXPS GSSAPI NTLM\r\n250 AUTH=LOGIN\r\n");
    let caps = Capabilities::from_reply(&reply).unwrap();
    for e in [
        Extension::Pipelining,
        Extension::Size,
        Extension::EightBitMime,
        Extension::EnhancedStatusCodes,
        Extension::StartTls,
        Extension::Auth,
        Extension::Chunking,
        Extension::SmtpUtf8,
        Extension::Dsn,
        Extension::BinaryMime,
        Extension::RequireTls,
    ] {
        assert!(caps.has(e), "{e:?}");
    }
    assert_eq!(caps.size(), Some(35_882_577));
    assert_eq!(caps.greeting(), b"mx.example.com Hello");
    let mechanisms: Vec<_> = caps.auth_mechanisms().collect();
    assert_eq!(mechanisms[..2], [Mechanism::Plain, Mechanism::Login]);
    assert_eq!(mechanisms[2].as_str(), "X-CUSTOM");
    assert!(caps.supports_auth(&Mechanism::Login) && !caps.supports_auth(&Mechanism::XOAuth2));
    let others: Vec<_> = caps.others().collect();
    assert_eq!(
        others,
        [(&b"X-EXPS"[..], &b"GSSAPI NTLM"[..]), (b"AUTH=LOGIN", b"")]
    );
    // RFC 1870: SIZE without a number is SIZE without a fixed limit.
    let d1 = Capabilities::from_reply(&parse(EHLO_D1)).unwrap();
    assert_eq!(d1.size(), Some(0));
    assert!(!d1.has(Extension::Pipelining));
    assert_eq!(d1.to_reply(), parse(EHLO_D1));
}

/// An EHLO reply carries no enhanced code (RFC 2034 section 3): a one-line reply whose domain
/// looks like one is read whole, and written back to the same capabilities (found by the
/// `smtp_reply` fuzz target: the code was dropped, and the domain read back as a code).
#[test]
fn a_one_line_ehlo_reply_is_read_whole() {
    for text in [
        &b"250 2.2.50 2.2.0\r\n"[..],
        b"250 2.2.0\r\n",
        b"250 2.1.0 mx.example\r\n",
    ] {
        let reply = parse(text);
        let caps = Capabilities::from_reply(&reply).unwrap();
        assert_eq!(caps.greeting(), &text[4..text.len() - 2], "{text:?}");
        let again = parse(&written(&caps.to_reply(), true));
        assert_eq!(Capabilities::from_reply(&again).unwrap(), caps, "{text:?}");
        // As a reply, the same line still has its enhanced code.
        assert!(reply.enhanced_code().is_some(), "{text:?}");
        assert_eq!(written(&reply, true), text);
    }
}

#[test]
fn capabilities_builder() {
    let mut caps = Capabilities::new(&Domain::new("mx.example.com").unwrap());
    caps.add(Extension::Pipelining);
    caps.set_size(10_000_000);
    caps.set_auth(&[Mechanism::Plain, Mechanism::Login]);
    caps.add(Extension::EnhancedStatusCodes);
    caps.add(Extension::Pipelining);
    caps.add_other("X-FOO", "bar baz").unwrap();
    assert!(caps.add_other("SIZE", "").is_err());
    assert_eq!(
        caps.add_other("X-FOO", "a\r\n"),
        Err(ValueError::ForbiddenOctet {
            what: "EHLO parameters",
            octet: b'\r'
        })
    );
    let bytes = written(&caps.to_reply(), true);
    assert_eq!(bytes, b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 X-FOO bar baz\r\n");
    caps.remove(Extension::Size);
    assert_eq!(caps.size(), None);
    caps.set_auth(&[]);
    assert!(!caps.has(Extension::Auth));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn reply_round_trip(reply in common::reply()) {
        let bytes = written(&reply, true);
        let parsed = parse(&bytes);
        prop_assert_eq!(&parsed, &reply);
        prop_assert_eq!(written(&parsed, true), bytes);
    }

    #[test]
    fn capabilities_round_trip(caps in common::capabilities()) {
        let bytes = written(&caps.to_reply(), true);
        let parsed = Capabilities::from_reply(&parse(&bytes)).unwrap();
        prop_assert_eq!(&parsed, &caps);
        prop_assert_eq!(written(&parsed.to_reply(), true), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let input = Bytes::from(bytes);
        if let Ok((reply, consumed)) = Reply::parse(&input, &Limits::default()) {
            prop_assert!(consumed <= input.len());
            prop_assert_eq!(&parse(&written(&reply, true)), &reply);
            if let Ok(caps) = Capabilities::from_reply(&reply) {
                let _ = caps.auth_mechanisms().count();
                let again = Capabilities::from_reply(&parse(&written(&caps.to_reply(), true))).unwrap();
                prop_assert_eq!(again, caps);
            }
        }
    }

    #[test]
    fn reply_like_input_never_panics(text in "([2-5][0-9][0-9][ -][ -~]{0,30}\r\n){1,4}") {
        let input = Bytes::from(text);
        if let Ok((reply, _)) = Reply::parse(&input, &Limits::default()) {
            prop_assert_eq!(&parse(&written(&reply, true)), &reply);
        }
    }
}
