//! The common path of an embedding program: values read from what a user typed, printed
//! back; a client session that sends SIZE= from the body and names each recipient in its
//! result.

use bytes::Bytes;
use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event};
use smtp_proto::{AddressError, Domain, ForwardPath, Mailbox, Next, ReversePath, TlsMode};

#[test]
fn typed_values_parse_from_borrowed_text_and_print_back() {
    let typed = String::from("jane@example.com"); // not 'static
    let mailbox = Mailbox::parse(typed.as_str()).unwrap();
    assert_eq!(typed.parse::<Mailbox>().unwrap(), mailbox);
    assert_eq!(mailbox.to_string(), "jane@example.com");
    assert_eq!(Mailbox::parse(Bytes::from(typed.clone())).unwrap(), mailbox);

    let domain: Domain = String::from("Example.ORG").parse().unwrap();
    assert_eq!(domain.to_string(), "Example.ORG");
    assert!(domain.eq_ignore_ascii_case(&Domain::new("example.org").unwrap()));

    for (text, shown) in [
        ("<>", "<>"),
        ("", "<>"),
        ("a@b.c", "<a@b.c>"),
        ("<a@b.c>", "<a@b.c>"),
    ] {
        let path: ReversePath = text.parse().unwrap();
        assert_eq!(path.to_string(), shown, "{text:?}");
        assert_eq!(
            shown.parse::<ReversePath>().unwrap(),
            path,
            "{text:?} round trip"
        );
    }
    for (text, shown) in [
        ("Postmaster", "<Postmaster>"),
        ("<postmaster>", "<Postmaster>"),
        ("joe@example.org", "<joe@example.org>"),
    ] {
        let path: ForwardPath = text.parse().unwrap();
        assert_eq!(path.to_string(), shown, "{text:?}");
        assert_eq!(
            shown.parse::<ForwardPath>().unwrap(),
            path,
            "{text:?} round trip"
        );
    }
    assert_eq!("".parse::<ForwardPath>(), Err(AddressError::Empty));
    assert_eq!("<>".parse::<ForwardPath>(), Err(AddressError::Empty));
    assert!("no-at-sign".parse::<Mailbox>().is_err());
    assert!(
        "a@b.c\r\nRSET".parse::<ForwardPath>().is_err(),
        "no injection through a path"
    );
    assert!("<<a@b.c>>".parse::<ReversePath>().is_err());
}

#[test]
fn client_sends_size_of_the_body_and_names_each_recipient() {
    let config = Config::new(EhloName::new("client.example").unwrap()).with_tls(TlsMode::Disabled);
    let mut conn = Connection::new(config);
    // One server reply per read; no PIPELINING, so the client waits for each.
    let mut replies = [
        &b"220 mx.example ESMTP\r\n"[..],
        b"250-mx.example\r\n250 SIZE 1000\r\n",
        b"250 2.1.0 OK\r\n",
        b"250 2.1.5 OK\r\n",
        b"550 5.7.1 Relaying denied\r\n",
        b"354 go on\r\n",
        b"250 2.0.0 queued\r\n",
        b"221 2.0.0 bye\r\n",
    ]
    .into_iter();
    let body = Bytes::from_static(b"Subject: hi\n\n.dot\n"); // LF lines: sent as CRLF
    let to = vec![
        "joe@example.org".parse().unwrap(),
        "x@elsewhere.test".parse().unwrap(),
    ];
    let mut envelope =
        Some(Envelope::new("jane@example.com".parse().unwrap(), to).with_size_of(&body));
    let (mut sent, mut results) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        match conn.poll() {
            Next::Transmit(bytes) => sent.extend_from_slice(&bytes),
            Next::Event(Event::Ready) => conn.send_mail(envelope.take().unwrap()).unwrap(),
            Next::Event(Event::RecipientAccepted { index, to, .. }) => {
                results.push((index, to.to_string(), true))
            }
            Next::Event(Event::RecipientRejected { index, to, .. }) => {
                results.push((index, to.to_string(), false))
            }
            Next::Event(Event::SendBody) => conn.send_body(body.clone()).unwrap(),
            Next::Event(Event::MessageAccepted(_)) => conn.quit().unwrap(),
            Next::Event(_) => {}
            Next::Read(_) => match replies.next() {
                Some(reply) => conn.receive(reply),
                None => conn.handle_close(),
            },
            next @ (Next::UpgradeTls(_) | Next::AwaitApp) => panic!("unexpected {next:?}"),
            Next::Closed(reason) => {
                assert!(reason.is_normal(), "{reason}");
                break;
            }
        }
    }
    let sent = String::from_utf8(sent).unwrap();
    // "Subject: hi" CRLF CRLF ".dot" CRLF: 21 octets (RFC 1870: before dot-stuffing).
    assert!(
        sent.contains("MAIL FROM:<jane@example.com> SIZE=21\r\n"),
        "{sent}"
    );
    assert!(
        sent.contains("DATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n"),
        "{sent}"
    );
    assert_eq!(
        results,
        [
            (0, "<joe@example.org>".to_owned(), true),
            (1, "<x@elsewhere.test>".to_owned(), false)
        ]
    );
}
