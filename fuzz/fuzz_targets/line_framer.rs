//! Arbitrary bytes in arbitrary chunks: the framer never panics, never holds more than its
//! limit, returns only clean lines within the limit, and gives the same lines however the
//! input is split.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mail_wire::line::{LineEnding, LineError, LineFramer};

#[derive(Arbitrary, Debug)]
struct Input {
    chunks: Vec<Vec<u8>>,
    max_len: u8,
    lax: bool,
}

fn frame(framer: &mut LineFramer, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, LineError>> {
    let mut buf = BytesMut::new();
    let mut lines = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(line) = framer.next_line(&mut buf) {
            if let Ok(line) = &line {
                assert!(line.len() < framer.max_len());
                assert!(!line.iter().any(|b| matches!(b, b'\0' | b'\r' | b'\n')));
            }
            lines.push(line.map(|l| l.to_vec()));
        }
        assert!(buf.len() < framer.max_len(), "holds {} bytes", buf.len());
    }
    lines
}

fuzz_target!(|input: Input| {
    let ending = if input.lax {
        LineEnding::CrlfOrBareLf
    } else {
        LineEnding::Crlf
    };
    let new = || LineFramer::new(usize::from(input.max_len)).with_line_ending(ending);
    let chunks: Vec<&[u8]> = input.chunks.iter().map(Vec::as_slice).collect();
    let split = frame(&mut new(), &chunks);
    let whole = input.chunks.concat();
    assert_eq!(split, frame(&mut new(), &[&whole]));
});
