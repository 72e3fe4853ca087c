//! Arbitrary bytes in arbitrary chunks: the streaming decoder never panics, never delivers
//! more than its limit, never delivers after refusing, and agrees with a one-shot reference
//! decoder written straight from RFC 5321 section 4.5.2.
#![no_main]

extern crate alloc;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mail_wire::dot::{BareLineEnding, BodyError, BodySummary, DotDecoder, DotEvent};

#[path = "../../crates/mail-wire/src/dot/reference.rs"]
mod reference;

#[derive(Arbitrary, Debug)]
struct Input {
    chunks: Vec<Vec<u8>>,
    limit: Option<u16>,
    normalize: bool,
}

fuzz_target!(|input: Input| {
    let policy = if input.normalize {
        BareLineEnding::Normalize
    } else {
        BareLineEnding::Reject
    };
    let limit = input.limit.map_or(u64::MAX, u64::from);
    let mut decoder = DotDecoder::new()
        .with_bare_line_ending(policy)
        .with_size_limit(limit);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut end: Option<BodySummary> = None;
    for chunk in &input.chunks {
        buf.extend_from_slice(chunk);
        while let Some(event) = decoder.decode(&mut buf) {
            match event {
                DotEvent::Data(data) => {
                    assert!(end.is_none(), "data after the end");
                    assert!(decoder.error().is_none(), "data after refusal");
                    body.extend_from_slice(&data);
                    assert!(body.len() as u64 <= limit, "delivered past the limit");
                }
                DotEvent::End(summary) => {
                    assert!(end.is_none(), "two ends");
                    end = Some(summary);
                }
            }
        }
        if end.is_none() {
            // Waiting for more: at most a partial terminator or a CR is held back.
            assert!(buf.len() <= 2, "held {} bytes", buf.len());
        }
    }
    let whole: Vec<u8> = input.chunks.concat();
    match reference::decode(&whole, policy, limit) {
        Some((expected, summary, _)) => {
            assert_eq!(end, Some(summary));
            if summary.error.is_none() {
                assert_eq!(body, expected);
            } else {
                assert!(expected.starts_with(&body));
            }
        }
        None => assert_eq!(end, None),
    }
});
