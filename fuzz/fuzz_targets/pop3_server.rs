//! The POP3 server machine on arbitrary client bytes in arbitrary chunks, with an application
//! that accepts every login and serves a small maildrop: no panic, no usage error from a
//! well-behaved application, and every transmit bounded.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pop3_proto::{Mechanism, UniqueId};
use pop3_proto::server::{Config, Connection, Event, Maildrop};

#[derive(Debug, Arbitrary)]
struct Input {
    stls: bool,
    plaintext: bool,
    implicit_tls: bool,
    bare_lf: bool,
    /// Whether the application refuses logins and messages instead of accepting them.
    refuse: bool,
    /// Close (true) or time out (false) at the end.
    close: bool,
    chunks: Vec<Vec<u8>>,
}

const MESSAGES: [&[u8]; 3] = [
    b"Subject: a\r\n\r\n.body\r\n.\r\n",
    b"no header, bare\nLF\rand CR\r",
    b"",
];

fuzz_target!(|input: Input| {
    let config = Config::default()
        .with_stls(input.stls)
        .with_plaintext_auth_without_tls(input.plaintext)
        .with_implicit_tls(input.implicit_tls)
        .with_bare_lf_line_ending(input.bare_lf)
        .with_apop_timestamp(pop3_proto::Timestamp::new("<1.2@fuzz>").unwrap())
        .with_sasl_mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::parse(b"CRAM-MD5").unwrap(),
        ]);
    let mut conn = Connection::new(config);
    for chunk in &input.chunks {
        conn.receive(chunk);
        pump(&mut conn, input.refuse);
    }
    if input.close {
        conn.handle_close();
    } else {
        conn.handle_timeout();
    }
    pump(&mut conn, input.refuse);
    assert!(conn.is_closed());
});

fn pump(conn: &mut Connection, refuse: bool) {
    loop {
        if let Some(event) = conn.poll_event() {
            answer(conn, event, refuse);
        } else if let Some(bytes) = conn.poll_transmit() {
            // Output is written in pieces of at most 64 KiB plus one listing line or message
            // chunk (the largest message here is tiny).
            assert!(
                bytes.len() <= 64 * 1024 + 1024,
                "transmit of {} octets",
                bytes.len()
            );
        } else {
            break;
        }
    }
}

fn answer(conn: &mut Connection, event: Event, refuse: bool) {
    let result = match event {
        Event::Login(_) if refuse => conn.reject(pop3_proto::server::LoginRefusal::BadCredentials),
        Event::Login(_) => conn.accept(maildrop()),
        Event::AuthStep { response: None, .. } => conn.sasl_challenge(b"<1.2@fuzz>"),
        Event::AuthStep { .. } => conn.accept(maildrop()),
        Event::Retrieve(_) if refuse => conn.message_unavailable(),
        Event::Retrieve(retrieve) => {
            for piece in MESSAGES[retrieve.index].chunks(2) {
                conn.send_message_chunk(piece).unwrap();
            }
            conn.end_message()
        }
        Event::Commit { .. } if refuse => conn.commit_failed(),
        Event::Commit { .. } => conn.commit_succeeded(),
        Event::StartTls => conn.tls_established(),
        _ => Ok(()),
    };
    result.expect("a well-behaved application gets no usage error");
}

fn maildrop() -> Maildrop {
    (0..MESSAGES.len())
        .map(|i| {
            (
                MESSAGES[i].len() as u64,
                UniqueId::new(format!("uid{i}")).unwrap(),
            )
        })
        .collect()
}
