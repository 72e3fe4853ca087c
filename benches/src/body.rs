//! Message bodies for the benches: realistic line lengths, a chosen share of lines that
//! start with a dot.

/// A body of about `size` octets in 76-character CRLF lines (the length base64 and
/// quoted-printable produce), where every `dot_every`-th line begins with `.` (none when 0).
/// Not yet dot-stuffed.
pub fn message(size: usize, dot_every: usize) -> Vec<u8> {
    const TEXT: &[u8] =
        b"The quick brown fox jumps over the lazy dog; 0123456789 ABCDEFGHIJKLMNOPQRS";
    let mut body = Vec::with_capacity(size + 80);
    let mut line = 0usize;
    while body.len() < size {
        if dot_every != 0 && line.is_multiple_of(dot_every) {
            body.push(b'.');
            body.extend_from_slice(&TEXT[1..]);
        } else {
            body.extend_from_slice(TEXT);
        }
        body.extend_from_slice(b"\r\n");
        line += 1;
    }
    body
}

/// `body` dot-stuffed and terminated, as it travels after DATA or RETR.
pub fn stuffed(body: &[u8]) -> Vec<u8> {
    mail_wire::dot::encode_body(body)
}
