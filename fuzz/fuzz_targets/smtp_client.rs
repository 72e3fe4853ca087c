//! Arbitrary server bytes, in arbitrary chunks, mixed with arbitrary application calls, into
//! the SMTP client session: no panic, exactly one `Closed` at most, nothing after it.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event, TlsPolicy};
use smtp_proto::{ForwardPath, Mailbox, ReversePath};

/// Replies a fuzzer would take long to find, so that deep states are reached.
const CANNED: &[&[u8]] = &[
    b"220 mx ESMTP\r\n",
    b"250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 100\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN XOAUTH2\r\n",
    b"250 mx\r\n",
    b"250 OK\r\n",
    b"354 Go\r\n",
    b"334 VXNlcm5hbWU6\r\n",
    b"334 \r\n",
    b"235 OK\r\n",
    b"220 TLS\r\n",
    b"421 Bye\r\n",
    b"450 Later\r\n",
    b"550 No\r\n",
    b"502 No\r\n",
    b"221 Bye\r\n",
    b"250-multi\r\n",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn bytes(&mut self, len: usize) -> &[u8] {
        let len = len.min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}

fn envelope(flags: u8) -> Envelope {
    let local = if flags & 1 != 0 { "jörg" } else { "jane" };
    let from = match Mailbox::parse(format!("{local}@example.com")) {
        Ok(mailbox) if flags & 2 == 0 => ReversePath::Mailbox(mailbox),
        _ => ReversePath::Null,
    };
    let to = (0..usize::from(flags >> 5))
        .map(|i| match Mailbox::parse(format!("r{i}@example.org")) {
            Ok(mailbox) => ForwardPath::Mailbox(mailbox),
            Err(_) => ForwardPath::Postmaster,
        })
        .collect();
    let mut envelope = Envelope::new(from, to)
        .with_8bit_body(flags & 4 != 0)
        .with_binary_body(flags & 8 != 0);
    if flags & 16 != 0 {
        envelope.size_hint = Some(u64::from(flags) * 7);
    }
    envelope
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte().unwrap_or(0);
    let tls = match setup % 4 {
        0 => TlsPolicy::None,
        1 => TlsPolicy::Opportunistic,
        2 => TlsPolicy::Required,
        _ => TlsPolicy::ImplicitTls,
    };
    let mut config = Config::new(EhloName::new("client.example").unwrap())
        .with_tls(tls)
        .with_pipelining(setup & 4 != 0)
        .with_chunking(setup & 8 != 0)
        .with_plaintext_auth_without_tls(setup & 16 != 0)
        .with_bdat_chunk_size(usize::from(setup >> 5) + 1)
        .with_transmit_bound(64);
    if setup & 32 != 0 {
        config = config.with_password("user", "pass");
    }
    let mut conn = Connection::new(config);
    let mut closed = false;
    while let Some(op) = input.byte() {
        match op % 16 {
            0..=5 => {
                let len = usize::from(input.byte().unwrap_or(0) % 64);
                conn.receive(input.bytes(len));
            }
            6 => {
                let which = usize::from(input.byte().unwrap_or(0)) % CANNED.len();
                conn.receive(CANNED[which]);
            }
            7 => {
                let _ = conn.send_mail(envelope(input.byte().unwrap_or(0)));
            }
            8 => {
                let len = usize::from(input.byte().unwrap_or(0) % 32);
                let chunk = Bytes::copy_from_slice(input.bytes(len));
                let _ = conn.send_body_chunk(chunk);
            }
            9 => {
                let _ = conn.end_body();
            }
            10 => {
                let _ = conn.quit();
            }
            11 => {
                let _ = conn.reset();
            }
            12 => {
                let _ = conn.tls_established();
            }
            13 => conn.handle_timeout(),
            14 => {
                let _ = conn.wants_body();
                let _ = conn.wants_input();
                let _ = conn.timeout();
            }
            _ => conn.handle_close(),
        }
        while let Some(event) = conn.poll_event() {
            assert!(!closed, "event after Closed: {event:?}");
            closed = event == Event::Closed;
        }
        while conn.poll_transmit().is_some() {}
        assert_eq!(conn.is_closed(), closed);
    }
});
