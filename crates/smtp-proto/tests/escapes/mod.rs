//! The escapes of the transcript files, shared by the transcript runners: `\r`, `\n`, `\t`,
//! `\0`, `\\` and `\xHH` stand for the bytes a transcript cannot show.

/// The bytes `text` stands for.
pub(crate) fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = text.get(i + 2..i + 4).expect("\\xHH escape");
                    out.push(u8::from_str_radix(hex, 16).expect("\\xHH escape"));
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
