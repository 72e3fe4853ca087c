//! The wire form of a stored message: every line ends in CRLF.
//!
//! Maildir files written by other delivery agents end lines in a bare LF; ours keep the CRLF
//! that SMTP carried. POP3 sends every line ending as CRLF, and its STAT/LIST sizes must count
//! the octets as sent (RFC 1939 section 11), so both the size and the content served come from
//! the same rules, written once here:
//!
//! - a bare LF (not preceded by CR) becomes CRLF;
//! - CRLF stays CRLF; a CR not followed by LF is ordinary data and stays as it is;
//! - a last line without its ending gets one: CRLF, or just the LF after a trailing CR, so the
//!   message handed to the POP3 multi-line encoder always ends in CRLF (RFC 1939 section 3);
//! - dot-stuffing is not part of the wire form, and not counted (RFC 1939 section 11: the
//!   termination octet that starts a line "need not (and must not) be counted twice").
//!
//! [`CrlfNormaliser`] is the sans-IO core; [`WireReader`] drives it over any [`Read`], and
//! [`WireSize`] counts without producing output. An async reader (for example over
//! `tokio::fs::File`) can drive the same normaliser.

use std::io::{self, Read};

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Streaming LF-to-CRLF conversion, with no I/O of its own: feed input slices to
/// [`convert`](Self::convert), then call [`finish`](Self::finish) once at the end of the input.
///
/// Works on any split of the input: the state it carries across calls is the last input octet
/// and an LF it still owes when the output was full after the CR.
#[derive(Debug, Clone, Default)]
pub struct CrlfNormaliser {
    /// The last octet produced, `None` before any.
    last: Option<u8>,
    /// A CR was produced for a bare LF, and the LF itself is still owed.
    owes_lf: bool,
    /// `finish` has produced all it had to.
    finished: bool,
}

impl CrlfNormaliser {
    /// A normaliser at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Converts as much of `input` as fits in `out`; returns `(consumed, produced)`.
    ///
    /// Progress is guaranteed: with a non-empty `out`, at least one octet is produced or
    /// `input` was empty. Unconsumed input must be passed again on the next call.
    pub fn convert(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut consumed, mut produced) = (0, 0);
        while produced < out.len() {
            if self.owes_lf {
                out[produced] = LF;
                produced += 1;
                self.owes_lf = false;
                self.last = Some(LF);
                continue;
            }
            let rest = &input[consumed..];
            let room = out.len() - produced;
            let window = &rest[..rest.len().min(room)];
            if window.is_empty() {
                break;
            }
            match window.iter().position(|&b| b == LF) {
                None => {
                    out[produced..produced + window.len()].copy_from_slice(window);
                    consumed += window.len();
                    produced += window.len();
                    self.last = window.last().copied();
                }
                Some(at) => {
                    out[produced..produced + at].copy_from_slice(&window[..at]);
                    produced += at;
                    if at > 0 {
                        self.last = Some(window[at - 1]);
                    }
                    consumed += at + 1;
                    if self.last == Some(CR) {
                        out[produced] = LF;
                        self.last = Some(LF);
                    } else {
                        out[produced] = CR;
                        self.owes_lf = true;
                    }
                    produced += 1;
                }
            }
        }
        (consumed, produced)
    }

    /// Ends the message: writes the owed LF or the missing final line ending into `out`;
    /// returns the octets produced. Call until it returns 0 (at most 2 octets in all).
    pub fn finish(&mut self, out: &mut [u8]) -> usize {
        let mut produced = 0;
        while produced < out.len() && !self.finished {
            match (self.owes_lf, self.last) {
                (true, _) | (false, Some(CR)) => {
                    out[produced] = LF;
                    self.owes_lf = false;
                    self.last = Some(LF);
                }
                (false, None | Some(LF)) => self.finished = true,
                (false, Some(_)) => {
                    out[produced] = CR;
                    self.owes_lf = true;
                }
            }
            if !self.finished {
                produced += 1;
            }
        }
        produced
    }
}

/// Counts the octets of the wire form without producing it: the POP3 size (RFC 1939
/// sections 5 and 11) of a message whose stored octets are fed to [`update`](Self::update).
#[derive(Debug, Clone, Copy, Default)]
pub struct WireSize {
    octets: u64,
    last: Option<u8>,
}

impl WireSize {
    /// A count at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next stored octets.
    pub fn update(&mut self, stored: &[u8]) {
        let Some(&final_octet) = stored.last() else {
            return;
        };
        let mut previous = self.last;
        let mut octets = stored.len() as u64;
        let mut start = 0;
        while let Some(at) = stored[start..].iter().position(|&b| b == LF) {
            let lf = start + at;
            let before = if lf == 0 {
                previous
            } else {
                Some(stored[lf - 1])
            };
            if before != Some(CR) {
                octets += 1; // the CR added before a bare LF
            }
            start = lf + 1;
            previous = Some(LF);
        }
        self.octets += octets;
        self.last = Some(final_octet);
    }

    /// The wire size of everything fed so far, with the final line ending completed.
    pub fn total(&self) -> u64 {
        self.octets
            + match self.last {
                None | Some(LF) => 0,
                Some(CR) => 1,
                Some(_) => 2,
            }
    }

    /// Counts a whole stream: reads it to the end in fixed-size chunks.
    pub fn of_reader(mut stored: impl Read) -> io::Result<u64> {
        let mut size = Self::new();
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match stored.read(&mut chunk) {
                Ok(0) => return Ok(size.total()),
                Ok(n) => size.update(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Read buffer size of [`WireReader`] and [`WireSize::of_reader`].
const CHUNK: usize = 64 * 1024;

/// A [`Read`] adapter that yields the wire form of a stored message (see the module docs),
/// reading the source in fixed-size chunks: memory use does not grow with the message.
#[derive(Debug)]
pub struct WireReader<R> {
    source: R,
    normaliser: CrlfNormaliser,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    source_done: bool,
}

impl<R: Read> WireReader<R> {
    /// Wraps a stored message.
    pub fn new(source: R) -> Self {
        Self {
            source,
            normaliser: CrlfNormaliser::new(),
            buffer: vec![0u8; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            source_done: false,
        }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> R {
        self.source
    }
}

impl<R: Read> Read for WireReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.start == self.end && !self.source_done {
                match self.source.read(&mut self.buffer) {
                    Ok(0) => self.source_done = true,
                    Ok(n) => (self.start, self.end) = (0, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if self.source_done && self.start == self.end {
                // An owed LF comes out of `convert` too; `finish` covers the rest.
                let (_, produced) = self.normaliser.convert(&[], out);
                if produced > 0 {
                    return Ok(produced);
                }
                return Ok(self.normaliser.finish(out));
            }
            let (consumed, produced) = self
                .normaliser
                .convert(&self.buffer[self.start..self.end], out);
            self.start += consumed;
            if produced > 0 {
                return Ok(produced);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Just;

    fn wire_form(stored: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        WireReader::new(stored).read_to_end(&mut out).unwrap();
        out
    }

    fn wire_size(stored: &[u8]) -> u64 {
        let mut size = WireSize::new();
        size.update(stored);
        size.total()
    }

    #[test]
    fn converts_bare_lf_and_keeps_crlf_and_bare_cr() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"\n\n", b"\r\n\r\n"),
            (b"a\rb\r\n", b"a\rb\r\n"),
            (b"mixed\r\nlf\n", b"mixed\r\nlf\r\n"),
            (b"no ending", b"no ending\r\n"),
            (b"trailing cr\r", b"trailing cr\r\n"),
            (b".dot\n", b".dot\r\n"),
        ];
        for &(stored, expected) in cases {
            assert_eq!(wire_form(stored), expected, "stored {stored:?}");
            assert_eq!(
                wire_size(stored),
                expected.len() as u64,
                "size of {stored:?}"
            );
        }
    }

    #[test]
    fn every_split_of_input_and_output_gives_the_same_wire_form() {
        let stored: &[u8] = b"From: a\nTo: b\r\n\r\n.line\n\rx\r\r\nend";
        let whole = wire_form(stored);
        for cut in 0..=stored.len() {
            for out_size in 1..5 {
                let mut normaliser = CrlfNormaliser::new();
                let mut size = WireSize::new();
                let mut result = Vec::new();
                let mut out = vec![0u8; out_size];
                for part in [&stored[..cut], &stored[cut..]] {
                    size.update(part);
                    let mut at = 0;
                    loop {
                        let (consumed, produced) = normaliser.convert(&part[at..], &mut out);
                        at += consumed;
                        result.extend_from_slice(&out[..produced]);
                        if produced == 0 {
                            break;
                        }
                    }
                    assert_eq!(at, part.len());
                }
                loop {
                    let produced = normaliser.finish(&mut out);
                    if produced == 0 {
                        break;
                    }
                    result.extend_from_slice(&out[..produced]);
                }
                assert_eq!(result, whole, "cut {cut}, output of {out_size}");
                assert_eq!(size.total(), whole.len() as u64);
            }
        }
    }

    /// The rules of the module docs, one octet at a time, as plainly as possible.
    fn reference_wire_form(stored: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &b) in stored.iter().enumerate() {
            if b == LF && (i == 0 || stored[i - 1] != CR) {
                out.push(CR);
            }
            out.push(b);
        }
        match out.last() {
            Some(&CR) => out.push(LF),
            Some(&LF) | None => {}
            Some(_) => out.extend_from_slice(b"\r\n"),
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn matches_the_reference_for_any_input_and_chunking(
            stored in proptest::collection::vec(
                proptest::prop_oneof![Just(CR), Just(LF), Just(b'.'), proptest::num::u8::ANY],
                0..300,
            ),
            chunk in 1usize..40,
        ) {
            let expected = reference_wire_form(&stored);
            let mut reader = WireReader::new(&stored[..]);
            let mut served = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                served.extend_from_slice(&buf[..n]);
            }
            proptest::prop_assert_eq!(&served, &expected);
            let mut size = WireSize::new();
            for part in stored.chunks(chunk) {
                size.update(part);
            }
            proptest::prop_assert_eq!(size.total(), expected.len() as u64);
        }
    }

    #[test]
    fn reading_in_small_chunks_equals_reading_whole() {
        let mut stored = Vec::new();
        for i in 0..20_000u32 {
            stored.extend_from_slice(format!("line {i}").as_bytes());
            stored.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let whole = wire_form(&stored);
        for chunk in [1, 2, 3, 7, 4096] {
            let mut reader = WireReader::new(&stored[..]);
            let mut result = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                let n = reader.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                result.extend_from_slice(&buf[..n]);
            }
            assert_eq!(result, whole, "chunk {chunk}");
        }
        assert_eq!(
            WireSize::of_reader(&stored[..]).unwrap(),
            whole.len() as u64
        );
        assert_eq!(whole.len(), stored.len() + 2 * 20_000 / 3);
    }
}
