//! The workload of the `smtp_server` bench and the `smtp_server_alloc` test: one full SMTP
//! transaction as a pipelining client writes it (EHLO; MAIL, 3 RCPT, DATA; a 10 KiB body and
//! QUIT), and an application that accepts everything.

use bytes::Bytes;
use smtp_proto::Next;
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

/// The envelope, pipelined: MAIL with SIZE and BODY, 3 RCPT, DATA.
const ENVELOPE: &[u8] = b"MAIL FROM:<john.doe@example.org> SIZE=10240 BODY=8BITMIME\r\n\
RCPT TO:<alice@example.com>\r\n\
RCPT TO:<bob.smith@mail.example.net>\r\n\
RCPT TO:<carol+newsletter@example.co.uk>\r\n\
DATA\r\n";

/// The same without SIZE=, for a peer whose MAIL takes BODY= alone (mailin 0.6 answers any
/// other parameter with 500).
const ENVELOPE_WITHOUT_SIZE: &[u8] = b"MAIL FROM:<john.doe@example.org> BODY=8BITMIME\r\n\
RCPT TO:<alice@example.com>\r\n\
RCPT TO:<bob.smith@mail.example.net>\r\n\
RCPT TO:<carol+newsletter@example.co.uk>\r\n\
DATA\r\n";

/// What the client writes: its greeting, the envelope (pipelined), the body with the
/// terminator and, when `quit`, QUIT.
pub fn client_writes(quit: bool) -> [Bytes; 3] {
    writes(ENVELOPE, quit)
}

/// [`client_writes`] with MAIL FROM without SIZE=.
pub fn client_writes_without_size(quit: bool) -> [Bytes; 3] {
    writes(ENVELOPE_WITHOUT_SIZE, quit)
}

fn writes(envelope: &'static [u8], quit: bool) -> [Bytes; 3] {
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

/// Feeds `writes` to `conn`, one per [`Next::Read`], answering like an application that
/// accepts everything, and returns (octets of message data delivered, octets of replies
/// written). Returns when the machine wants to read and every write was fed, or when the
/// session closed (after QUIT).
pub fn serve(conn: &mut Connection, writes: &[Bytes]) -> (usize, usize) {
    let mut data = 0;
    let mut written = 0;
    let mut writes = writes.iter();
    loop {
        match conn.poll() {
            Next::Transmit(out) => written += out.len(),
            Next::Event(Event::MessageData(chunk)) => data += chunk.len(),
            Next::Event(Event::MessageEnd { .. }) => {
                conn.accept_message("4XyZ1").expect("end pending")
            }
            Next::Event(event) if event.is_decision() => conn.accept().expect("decision pending"),
            Next::Event(_) => {}
            Next::Read(_) => match writes.next() {
                Some(write) => conn.receive(write),
                None => return (data, written),
            },
            Next::UpgradeTls(_) => panic!("no STARTTLS in the workload"),
            Next::AwaitApp => panic!("every decision is answered at once"),
            Next::Closed(_) => return (data, written),
        }
    }
}
