//! A one-shot, byte-at-a-time decoder written straight from RFC 5321 section 4.5.2: the
//! reference the streaming decoder is checked against (unit tests, proptest, fuzzing).
//! Slow on purpose: nothing in it is clever.

use super::{BareLineEnding, BodyError, BodySummary};
use alloc::vec::Vec;

/// The decoded body, how it ended and how many input bytes the body took (terminator
/// included); `None` when the input ends before the terminating line.
pub(crate) fn decode(
    input: &[u8],
    policy: BareLineEnding,
    limit: u64,
) -> Option<(Vec<u8>, BodySummary, usize)> {
    let mut body = Vec::new();
    let mut error = None;
    let mut i = 0;
    let mut at_line_start = true;
    loop {
        if at_line_start {
            if input[i..].starts_with(b".\r\n") {
                let size = body.len() as u64;
                return Some((body, BodySummary { size, error }, i + 3));
            }
            if input.get(i) == Some(&b'.') {
                i += 1;
            }
            at_line_start = false;
        }
        let byte = *input.get(i)?;
        if byte == b'\r' && *input.get(i + 1)? == b'\n' {
            body.extend_from_slice(b"\r\n");
            i += 2;
            at_line_start = true;
        } else if byte == b'\r' || byte == b'\n' {
            match policy {
                BareLineEnding::Normalize => body.extend_from_slice(b"\r\n"),
                BareLineEnding::Reject => {
                    error.get_or_insert(if byte == b'\r' {
                        BodyError::BareCr
                    } else {
                        BodyError::BareLf
                    });
                }
            }
            i += 1;
        } else {
            body.push(byte);
            i += 1;
        }
        if error.is_none() && body.len() as u64 > limit {
            error = Some(BodyError::TooLarge { limit });
        }
    }
}
