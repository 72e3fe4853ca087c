//! The workload of the `smtp_server` bench and the `smtp_server_alloc` test: one full SMTP
//! transaction as a pipelining client writes it (EHLO; MAIL, 3 RCPT, DATA; a 10 KiB body and
//! QUIT), and an application that accepts everything.

use bytes::Bytes;
use mail_wire::session::Next;
use smtp_proto::server::{Connection, Event};

/// Octets of the message body.
pub const BODY_SIZE: usize = 10 * 1024;

/// A 10 KiB body of 78-character lines (CRLF ended), none starting with a dot.
pub fn body() -> Vec<u8> {
    let line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempo\r\n";
    let mut body = Vec::with_capacity(BODY_SIZE);
    while body.len() + line.len() <= BODY_SIZE - 2 {
        body.extend_from_slice(line);
    }
    body.resize(BODY_SIZE - 2, b'x');
    body.extend_from_slice(b"\r\n");
    body
}

/// What the client writes: its greeting, the envelope (pipelined), the body with the
/// terminator and, when `quit`, QUIT.
pub fn client_writes(quit: bool) -> [Bytes; 3] {
    let envelope = b"MAIL FROM:<john.doe@example.org> SIZE=10240 BODY=8BITMIME\r\n\
RCPT TO:<alice@example.com>\r\n\
RCPT TO:<bob.smith@mail.example.net>\r\n\
RCPT TO:<carol+newsletter@example.co.uk>\r\n\
DATA\r\n";
    let mut message = body();
    message.extend_from_slice(b".\r\n");
    if quit {
        message.extend_from_slice(b"QUIT\r\n");
    }
    [
        Bytes::from_static(b"EHLO client.example.org\r\n"),
        Bytes::from_static(envelope),
        Bytes::from(message),
    ]
}

/// Feeds `writes` to `conn`, answering like an application that accepts everything, and
/// returns (octets of message data delivered, octets of replies written).
pub fn serve(conn: &mut Connection, writes: &[Bytes]) -> (usize, usize) {
    let mut data = 0;
    let mut written = 0;
    for write in writes {
        conn.receive(write);
        loop {
            match conn.poll() {
                Next::Event(Event::MessageData(chunk)) => data += chunk.len(),
                Next::Event(Event::MessageEnd { .. }) => {
                    conn.accept_message("4XyZ1").expect("end pending")
                }
                Next::Event(event) if event.is_decision() => {
                    conn.accept().expect("decision pending")
                }
                Next::Event(_) => {}
                Next::Transmit(out) => written += out.len(),
                _ => break,
            }
        }
    }
    (data, written)
}
