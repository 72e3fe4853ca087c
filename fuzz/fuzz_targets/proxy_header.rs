//! Arbitrary bytes at arbitrary splits: the PROXY header parser never panics, gives the same
//! answer split or whole, never takes more of an input than it was given nor holds more than
//! one header, keeps its promises about how much more it needs, and any header it accepts
//! writes back (with its TLVs) to octets that parse to the same header.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mail_wire::proxy::{
    DEFAULT_MAX_V2_LENGTH, Progress, ProxyError, ProxyHeader, ProxyParser, Tlv, V2_SIGNATURE,
    Version, parse, tlvs,
};

#[derive(Arbitrary, Debug)]
enum Start {
    Raw,
    V1,
    V2,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// What the octets start with, so most inputs get past the signature.
    start: Start,
    data: Vec<u8>,
    /// Where to split, as offsets into the input (sorted, taken modulo its length + 1).
    cuts: Vec<u16>,
    /// The version 2 maximum; `None` for the default.
    max: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done(ProxyHeader, Version, usize),
    NeedMore(usize, usize),
    Failed(ProxyError),
}

fn outcome(result: Result<Progress, ProxyError>, offset: usize) -> Outcome {
    match result {
        Ok(Progress::Done {
            header,
            version,
            consumed,
        }) => Outcome::Done(header, version, offset + consumed),
        Ok(Progress::NeedMore { at_least, at_most }) => Outcome::NeedMore(at_least, at_most),
        Err(error) => Outcome::Failed(error),
    }
}

/// Feeds `input` in the chunks `cuts` make, checking every promise on the way against
/// `decided_at`: the length of the shortest prefix that is not `NeedMore`.
fn chunked(input: &[u8], cuts: &[usize], max: u16, decided_at: Option<usize>) -> Outcome {
    let mut parser = ProxyParser::new().with_max_v2_length(max);
    let mut start = 0;
    let mut waits = vec![(0, 15, parser.max_header_len())];
    let check = |waits: &[(usize, usize, usize)], header_len: Option<usize>| {
        let decided_at = decided_at.expect("decided");
        for &(held, at_least, at_most) in waits {
            assert!(
                held < decided_at && decided_at <= held + at_most,
                "decided later than promised"
            );
            if let Some(len) = header_len {
                assert!(
                    held + at_least <= len,
                    "reading at_least reads past the header"
                );
            }
        }
    };
    for &end in cuts.iter().chain(core::iter::once(&input.len())) {
        let chunk = &input[start..end];
        let result = parser.feed(chunk);
        assert!(parser.buffered() <= parser.max_header_len());
        match result {
            Ok(Progress::Done { consumed, .. }) => {
                assert!(consumed <= chunk.len());
                let len = start + consumed;
                assert_eq!(decided_at, Some(len));
                assert_eq!(parser.header_bytes(), Some(&input[..len]));
                check(&waits, Some(len));
                return outcome(result, start);
            }
            Ok(Progress::NeedMore { at_least, at_most }) => {
                assert!(1 <= at_least && at_least <= at_most);
                assert_eq!(parser.buffered(), end);
                assert!(end + at_most <= parser.max_header_len());
                if end == input.len() {
                    assert_eq!(decided_at, None);
                    return outcome(result, start);
                }
                waits.push((end, at_least, at_most));
            }
            Err(_) => {
                assert_eq!(parser.buffered(), 0);
                check(&waits, None);
                return outcome(result, start);
            }
        }
        start = end;
    }
    unreachable!("the last chunk ends the input")
}

/// The length of the shortest prefix of `input` that `parse` decides on (deciding is
/// monotone: every longer prefix is decided the same way).
fn decision_point(input: &[u8], max: u16) -> Option<usize> {
    let decided = |len: usize| !matches!(parse(&input[..len], max), Ok(Progress::NeedMore { .. }));
    if !decided(input.len()) {
        return None;
    }
    let (mut low, mut high) = (0, input.len()); // not decided at `low`, decided at `high`
    if decided(0) {
        return Some(0);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if decided(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

fuzz_target!(|input: Input| {
    let mut data = match input.start {
        Start::Raw => Vec::new(),
        Start::V1 => b"PROXY ".to_vec(),
        Start::V2 => V2_SIGNATURE.to_vec(),
    };
    data.extend_from_slice(&input.data);
    let max = input.max.unwrap_or(DEFAULT_MAX_V2_LENGTH);
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|&cut| usize::from(cut) % (data.len() + 1))
        .collect();
    cuts.sort_unstable();

    let whole = outcome(parse(&data, max), 0);
    let decided_at = decision_point(&data, max);
    if let Some(at) = decided_at {
        // The prefix that decides gives the answer of the whole.
        assert_eq!(outcome(parse(&data[..at], max), 0), whole);
    }
    assert_eq!(
        chunked(&data, &cuts, max, decided_at),
        whole,
        "split at {cuts:?}"
    );
    assert_eq!(chunked(&data, &[], max, decided_at), whole, "in one piece");
    if data.len() <= 2048 {
        let every: Vec<usize> = (1..data.len()).collect();
        assert_eq!(
            chunked(&data, &every, max, decided_at),
            whole,
            "one octet at a time"
        );
    }

    if let Outcome::Done(header, version, len) = whole {
        assert!(len <= data.len());
        let found: Vec<Tlv<'_>> = tlvs(&data[..len]).collect();
        let mut again = Vec::new();
        match version {
            Version::V1 => header
                .write_v1(&mut again)
                .expect("a parsed v1 header writes"),
            Version::V2 => header
                .write_v2_with_tlvs(&found, &mut again)
                .expect("a parsed v2 header writes"),
        }
        again.extend_from_slice(b"EHLO x\r\n");
        assert_eq!(
            outcome(parse(&again, u16::MAX), 0),
            Outcome::Done(header, version, again.len() - 8)
        );
        if header != ProxyHeader::Local {
            assert!(tlvs(&again).eq(found.iter().copied()));
        }
    }
});
