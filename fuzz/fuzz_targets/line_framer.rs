//! Arbitrary bytes in arbitrary chunks: the framer never panics, never holds more than its
//! limit, returns only clean lines within the limit, and gives the same lines however the
//! input is split. `scan_line` on the whole input keeps its promises and agrees with the
//! framer on a good first line.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mail_wire::line::{LineEnding, LineError, LineFramer, LineScan, scan_line};

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
    check_scan(&whole, usize::from(input.max_len), ending, &split);
});

fn check_scan(
    input: &[u8],
    limit: usize,
    ending: LineEnding,
    framed: &[Result<Vec<u8>, LineError>],
) {
    match scan_line(input, limit, ending) {
        LineScan::Line {
            content_len,
            total_len,
        } => {
            assert!(content_len < total_len && total_len <= limit.min(input.len()));
            let content = &input[..content_len];
            assert!(!content.iter().any(|b| matches!(b, b'\0' | b'\r' | b'\n')));
            let end = &input[content_len..total_len];
            assert!(end == b"\r\n" || (end == b"\n" && ending == LineEnding::CrlfOrBareLf));
            for cut in 0..total_len {
                assert_eq!(
                    scan_line(&input[..cut], limit, ending),
                    LineScan::Incomplete
                );
            }
            if limit >= 2 {
                assert_eq!(framed.first(), Some(&Ok(content.to_vec())));
            }
        }
        LineScan::Incomplete => {
            assert!(input.len() < limit && !input.contains(&b'\n'));
        }
        LineScan::Fault { error, consumed } => {
            assert!(consumed <= input.len());
            if consumed > 0 {
                assert_eq!(input[consumed - 1], b'\n');
            } else {
                assert_eq!(error, LineError::TooLong { limit });
            }
        }
    }
}
