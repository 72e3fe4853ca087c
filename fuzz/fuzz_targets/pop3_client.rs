//! The POP3 client machine on arbitrary server bytes in arbitrary chunks, with the
//! application's calls interleaved: never a panic, and the session's invariants hold.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pop3_proto::MsgNumber;
use pop3_proto::client::{Config, Connection, Event, TlsMode};

#[derive(Debug, Arbitrary)]
enum Step {
    Receive(Vec<u8>),
    Request(u8, u32),
    TlsEstablished,
    Timeout,
}

/// Server openings that get the client past login (with the CAPA asked again once logged
/// in, and through login methods refused in turn), so the fuzzer spends its time on the
/// TRANSACTION state (listings, bodies, pipelining) as well as on the login.
const OPENINGS: [&[u8]; 6] = [
    b"",
    b"+OK <1.2@fuzz>\r\n-ERR\r\n+OK\r\n",
    b"+OK\r\n+OK\r\nUSER\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK\r\nPIPELINING\r\n.\r\n",
    b"+OK\r\n+OK\r\nSTLS\r\nSASL PLAIN XOAUTH2\r\n.\r\n+OK\r\n",
    b"+OK\r\n+OK\r\nSASL PLAIN XOAUTH2\r\n.\r\n+ \r\n+OK\r\n+OK\r\nPIPELINING\r\n.\r\n",
    b"+OK <1.2@fuzz>\r\n+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n-ERR\r\n-ERR\r\n+OK\r\n+OK\r\n-ERR\r\n",
];

#[derive(Debug, Arbitrary)]
struct Input {
    opening: u8,
    tls: u8,
    plaintext: bool,
    oauth: bool,
    window: u8,
    steps: Vec<Step>,
    close: bool,
}

fuzz_target!(|input: Input| {
    let tls = match input.tls % 4 {
        0 => TlsMode::Implicit,
        1 => TlsMode::Required,
        2 => TlsMode::Opportunistic,
        _ => TlsMode::Disabled,
    };
    let config = Config::default()
        .with_tls(tls)
        .with_plaintext_auth(input.plaintext)
        .with_pipelining_window(usize::from(input.window));
    let config = if input.oauth {
        config.with_oauth2("u@example.org", "token")
    } else {
        config.with_password("user", "PASSWORD")
    };
    let mut conn = Connection::new(config);
    conn.receive(OPENINGS[usize::from(input.opening) % OPENINGS.len()]);
    let mut written = Vec::new();
    let mut failed = 0;
    for step in input.steps {
        match step {
            Step::Receive(bytes) => conn.receive(&bytes),
            Step::Request(kind, n) => {
                let msg = MsgNumber::new(n.max(1)).unwrap();
                let _ = match kind % 9 {
                    0 => conn.stat(),
                    1 => conn.list(None),
                    2 => conn.uidl(Some(msg)),
                    3 => conn.retr(msg),
                    4 => conn.top(msg, n % 10),
                    5 => conn.dele(msg),
                    6 => conn.rset(),
                    7 => conn.noop(),
                    _ => conn.quit(),
                };
            }
            Step::TlsEstablished => {
                let _ = conn.tls_established();
            }
            Step::Timeout => conn.handle_timeout(),
        }
        while let Some(event) = conn.poll_event() {
            if matches!(event, Event::Failed(_)) {
                failed += 1;
            }
        }
        while let Some(bytes) = conn.poll_transmit() {
            written.extend_from_slice(&bytes);
        }
        // Security invariant 7: without TLS or permission, no secret is ever written.
        if !conn.is_secure() && !input.plaintext {
            assert!(!contains(&written, b"PASSWORD"));
            assert!(!contains(&written, b"AUTH "));
        }
    }
    if input.close {
        conn.handle_close();
        while conn.poll_event().is_some() {}
        while conn.poll_transmit().is_some() {}
        assert!(conn.is_closed());
    }
    // A session fails at most once.
    assert!(failed <= 1);
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
