//! Arbitrary bytes in arbitrary chunks into the SMTP server machine, with an application that
//! accepts everything (and upgrades TLS when asked): no panic, no reply line over 512 octets,
//! never more unread input than its limits.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use smtp_proto::Mechanism;
use smtp_proto::server::{BareLineEnding, Config, Connection, Event, TlsState};

#[derive(Arbitrary, Debug)]
struct Input {
    tls: u8,
    normalize: bool,
    lmtp: bool,
    small_limits: bool,
    chunks: Vec<Vec<u8>>,
    close_at_end: bool,
}

fuzz_target!(|input: Input| {
    let mut config = Config::default()
        .with_tls(match input.tls % 3 {
            0 => TlsState::None,
            1 => TlsState::StartTlsAvailable,
            _ => TlsState::Secure,
        })
        .with_auth_mechanisms([
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::new("CRAM-MD5").expect("valid name"),
        ])
        .with_lmtp(input.lmtp)
        .with_bare_line_ending(if input.normalize {
            BareLineEnding::Normalize
        } else {
            BareLineEnding::Reject
        });
    if input.small_limits {
        config = config
            .with_max_message_size(64)
            .with_max_recipients(2)
            .with_max_buffered_input(256);
    }
    let cap = 2 * config.max_buffered_input;
    let mut conn = Connection::new(config);
    let mut pending_line = 0usize;
    for chunk in &input.chunks {
        conn.receive(chunk);
        assert!(conn.buffered_input() <= cap);
        run(&mut conn, &mut pending_line);
    }
    if input.close_at_end {
        conn.handle_close();
    } else {
        conn.handle_timeout();
    }
    run(&mut conn, &mut pending_line);
    assert!(conn.is_closed());
});

fn run(conn: &mut Connection, pending_line: &mut usize) {
    while let Some(event) = conn.poll_event() {
        match event {
            Event::UpgradeTls => {
                drain(conn, pending_line);
                conn.tls_established().expect("upgrade pending");
            }
            Event::AuthStart { .. } | Event::AuthResponse { .. } => {
                conn.auth_challenge(b"challenge").expect("relay pending");
            }
            Event::MessageEnd { .. } => conn.accept_message("Q1").expect("end pending"),
            event if event.is_decision() => conn.accept().expect("decision pending"),
            _ => {}
        }
    }
    drain(conn, pending_line);
}

/// Takes the output, checking that every reply line (CRLF included) fits 512 octets.
fn drain(conn: &mut Connection, pending_line: &mut usize) {
    while let Some(bytes) = conn.poll_transmit() {
        for &b in bytes.iter() {
            *pending_line += 1;
            assert!(*pending_line <= 512, "reply line over 512 octets");
            if b == b'\n' {
                *pending_line = 0;
            }
        }
    }
}
