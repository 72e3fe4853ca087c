//! Borrowed parsing (`Command<&[u8]>`, `Reply<&[u8]>`, ...) gives what shared parsing gives,
//! on every input of the other tests' strategies, and `to_shared` shares rather than copies.

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use smtp_proto::*;

fn written_command(command: &Command) -> Bytes {
    let mut out = BytesMut::new();
    command.write(&mut out);
    out.freeze()
}

fn written_reply<B: Storage>(reply: &Reply<B>) -> Bytes {
    let mut out = BytesMut::new();
    reply.write(&mut out);
    out.freeze()
}

/// Parses `input` both ways: same outcome, same length, same value, same written form.
fn commands_agree(input: &Bytes, opts: &ParseOptions) -> Result<(), TestCaseError> {
    let shared = Command::parse(input, opts);
    let borrowed = Command::parse_borrowed(input, opts);
    match (&shared, &borrowed) {
        (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
            prop_assert_eq!(used, borrowed_used);
            prop_assert_eq!(shared.verb(), borrowed.verb());
            prop_assert_eq!(shared.to_string(), borrowed.to_string());
            let converted = borrowed.to_shared(input);
            prop_assert_eq!(&converted, shared);
            prop_assert_eq!(written_command(&converted), written_command(shared));
        }
        (Err(shared), Err(borrowed)) => prop_assert_eq!(shared, borrowed),
        _ => prop_assert!(false, "shared {:?}, borrowed {:?}", shared, borrowed),
    }
    // The same for a line framed without its line end, and for an AUTH exchange line.
    if let Some(end) = input.windows(2).position(|w| w == b"\r\n") {
        let line = input.slice(..end);
        let shared = Command::parse_line(line.clone(), opts);
        let borrowed = Command::parse_line_borrowed(&line, opts);
        match (&shared, &borrowed) {
            (Ok(shared), Ok(borrowed)) => prop_assert_eq!(&borrowed.to_shared(&line), shared),
            (Err(shared), Err(borrowed)) => prop_assert_eq!(shared, borrowed),
            _ => prop_assert!(false, "shared {:?}, borrowed {:?}", shared, borrowed),
        }
    }
    let shared = AuthResponse::parse(input, opts.limits.auth_line);
    let borrowed = AuthResponse::parse_borrowed(input, opts.limits.auth_line);
    match (&shared, &borrowed) {
        (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
            prop_assert_eq!(used, borrowed_used);
            prop_assert_eq!(&borrowed.to_shared(input), shared);
        }
        (Err(shared), Err(borrowed)) => prop_assert_eq!(shared, borrowed),
        _ => prop_assert!(false, "shared {:?}, borrowed {:?}", shared, borrowed),
    }
    Ok(())
}

/// Parses `input` both ways as a reply and, when it is one, as an EHLO reply's capabilities.
fn replies_agree(input: &Bytes) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    let shared = Reply::parse(input, &limits);
    let borrowed = Reply::parse_borrowed(input, &limits);
    match (&shared, &borrowed) {
        (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
            prop_assert_eq!(used, borrowed_used);
            prop_assert_eq!(shared.code(), borrowed.code());
            prop_assert_eq!(shared.enhanced_code(), borrowed.enhanced_code());
            prop_assert!(shared.lines().eq(borrowed.lines()));
            prop_assert_eq!(shared.line_count(), borrowed.line_count());
            prop_assert_eq!(shared.to_string(), borrowed.to_string());
            prop_assert_eq!(written_reply(shared), written_reply(borrowed));
            prop_assert_eq!(&borrowed.to_shared(input), shared);
            let caps = Capabilities::from_reply(shared);
            let borrowed_caps = Capabilities::from_reply(borrowed);
            match (&caps, &borrowed_caps) {
                (Ok(caps), Ok(borrowed_caps)) => {
                    prop_assert_eq!(caps.greeting(), borrowed_caps.greeting());
                    prop_assert_eq!(caps.size(), borrowed_caps.size());
                    prop_assert!(caps.auth_mechanisms().eq(borrowed_caps.auth_mechanisms()));
                    prop_assert!(caps.others().eq(borrowed_caps.others()));
                    prop_assert_eq!(caps.iter().count(), borrowed_caps.iter().count());
                    prop_assert_eq!(&borrowed_caps.to_shared(input), caps);
                    prop_assert_eq!(
                        written_reply(&caps.to_reply()),
                        written_reply(&borrowed_caps.to_reply())
                    );
                }
                (Err(caps), Err(borrowed_caps)) => prop_assert_eq!(caps, borrowed_caps),
                _ => prop_assert!(false, "shared {:?}, borrowed {:?}", caps, borrowed_caps),
            }
        }
        (Err(shared), Err(borrowed)) => prop_assert_eq!(shared, borrowed),
        _ => prop_assert!(false, "shared {:?}, borrowed {:?}", shared, borrowed),
    }
    Ok(())
}

fn options(lax: bool, smtputf8: bool) -> ParseOptions {
    ParseOptions {
        smtputf8,
        leniency: if lax { Leniency::LAX } else { Leniency::STRICT },
        ..ParseOptions::default()
    }
}

#[test]
fn borrowed_values_read_like_shared_ones() {
    let input: &[u8] = b"MAIL FROM:<jane@example.com> SIZE=10 ENVID=QQ314159 X-A=1\r\nRCPT";
    let (command, used) = Command::parse_borrowed(input, &ParseOptions::default()).unwrap();
    assert_eq!(used, 59);
    let Command::Mail {
        from: ReversePath::Mailbox(sender),
        params,
    } = &command
    else {
        panic!("not a MAIL command: {command:?}")
    };
    assert_eq!(sender.local_part(), b"jane");
    assert_eq!(sender.domain().as_bytes(), b"example.com");
    assert_eq!(params.size(), Some(10));
    assert_eq!(params.envid().unwrap().as_bytes(), b"QQ314159");
    assert_eq!(params.extensions().count(), 1);
    // The parts are the caller's bytes, not copies.
    let range = input.as_ptr_range();
    assert!(range.contains(&sender.as_bytes().as_ptr()));

    let reply: &[u8] = b"250-mx.example.com\r\n250-SIZE 1000\r\n250 AUTH PLAIN LOGIN\r\n";
    let (reply, _) = Reply::parse_borrowed(reply, &Limits::default()).unwrap();
    let caps = Capabilities::from_reply(&reply).unwrap();
    assert_eq!(caps.size(), Some(1000));
    assert_eq!(caps.auth_mechanisms().count(), 2);
    assert_eq!(caps.greeting(), b"mx.example.com");
}

#[test]
fn to_shared_slices_its_source_and_copies_from_elsewhere() {
    let input =
        Bytes::copy_from_slice(b"RCPT TO:<joe@example.org> ORCPT=rfc822;joe@example.org\r\n");
    let (command, _) = Command::parse_borrowed(&input, &ParseOptions::default()).unwrap();
    let shared = command.to_shared(&input);
    let Command::Rcpt { to, params } = &shared else {
        panic!("not RCPT: {shared:?}")
    };
    let mailbox = to.mailbox().unwrap().as_bytes();
    assert!(input.as_ptr_range().contains(&mailbox.as_ptr()));
    assert_eq!(
        params.orcpt().unwrap().address().as_bytes(),
        b"joe@example.org"
    );

    // Given another buffer, the conversion copies (and never panics).
    let elsewhere = Bytes::from_static(b"unrelated");
    let copied = command.to_shared(&elsewhere);
    assert_eq!(copied, shared);
    let Command::Rcpt { to, .. } = &copied else {
        panic!("not RCPT")
    };
    let mailbox = to.mailbox().unwrap().as_bytes();
    assert!(!input.as_ptr_range().contains(&mailbox.as_ptr()));
    assert!(!elsewhere.as_ptr_range().contains(&mailbox.as_ptr()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn commands_parse_alike(command in common::command(), lax in any::<bool>(), utf8 in any::<bool>()) {
        let bytes = written_command(&command);
        commands_agree(&bytes, &options(lax, utf8))?;
        // Every split: a prefix is incomplete (or the same error) both ways.
        for cut in 0..bytes.len() {
            commands_agree(&bytes.slice(..cut), &options(lax, utf8))?;
        }
    }

    #[test]
    fn paths_parse_alike(from in common::reverse_path(), to in common::forward_path()) {
        let mail = Command::Mail { from, params: MailParams::new() };
        let rcpt = Command::Rcpt { to, params: RcptParams::new() };
        for command in [mail, rcpt] {
            commands_agree(&written_command(&command), &options(false, true))?;
        }
    }

    #[test]
    fn arbitrary_bytes_parse_alike(bytes in prop::collection::vec(any::<u8>(), 0..200), lax in any::<bool>(), utf8 in any::<bool>()) {
        commands_agree(&Bytes::from(bytes.clone()), &options(lax, utf8))?;
        replies_agree(&Bytes::from(bytes))?;
    }

    #[test]
    fn smtp_like_lines_parse_alike(line in "(MAIL FROM:|RCPT TO:|EHLO |AUTH |BDAT |VRFY |NOOP |HELP )[ -~]{0,60}", lax in any::<bool>()) {
        commands_agree(&Bytes::from(format!("{line}\r\n")), &options(lax, false))?;
    }

    #[test]
    fn replies_parse_alike(reply in common::reply()) {
        let bytes = written_reply(&reply);
        replies_agree(&bytes)?;
        for cut in 0..bytes.len() {
            replies_agree(&bytes.slice(..cut))?;
        }
    }

    #[test]
    fn capabilities_parse_alike(caps in common::capabilities()) {
        replies_agree(&written_reply(&caps.to_reply()))?;
    }

    #[test]
    fn reply_like_input_parses_alike(text in "([2-5][0-9][0-9][ -][ -~]{0,30}\r\n){1,4}") {
        replies_agree(&Bytes::from(text))?;
    }
}
