//! The wire form of a stored message: every line ends in CRLF.
//!
//! Maildir files written by other delivery agents end lines in a bare LF; ours keep the CRLF
//! that SMTP carried. POP3 sends every line ending as CRLF, and its STAT/LIST sizes must count
//! the octets as sent (RFC 1939 section 11). The POP3 session machine writes content through
//! `mail_wire`'s `DotEncoder`, whose line-ending rules are those of
//! [`CrlfNormalizer`](mail_wire::dot::CrlfNormalizer); both the size and the content served here
//! come from that one normaliser, so they cannot disagree:
//!
//! - a bare LF or a bare CR becomes CRLF; CRLF stays CRLF;
//! - a last line without its ending gets CRLF, so the message always ends in CRLF
//!   (RFC 1939 section 3);
//! - dot-stuffing is not part of the wire form, and not counted (RFC 1939 section 11: the
//!   termination octet that starts a line "need not (and must not) be counted twice").
//!
//! [`WireReader`] streams the wire form over any [`Read`]; [`WireSize`] counts it without
//! producing it.

use std::io::{self, Read};

use bytes::{Buf, BytesMut};
use mail_wire::dot::CrlfNormalizer;

/// Counts the octets of the wire form without producing it: the POP3 size (RFC 1939
/// sections 5 and 11) of a message whose stored octets are fed to [`update`](Self::update).
#[derive(Debug, Clone, Default)]
pub struct WireSize {
    counter: CrlfNormalizer,
    octets: u64,
}

impl WireSize {
    /// A count at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next stored octets.
    pub fn update(&mut self, stored: &[u8]) {
        self.octets += self.counter.measure(stored);
    }

    /// The wire size of everything fed so far, with the final line ending completed.
    pub fn total(&self) -> u64 {
        self.octets + self.counter.clone().finish_len()
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
    normalizer: CrlfNormalizer,
    chunk: Box<[u8]>,
    /// Normalised octets not yet handed to the caller.
    pending: BytesMut,
    finished: bool,
}

impl<R: Read> WireReader<R> {
    /// Wraps a stored message.
    pub fn new(source: R) -> Self {
        Self {
            source,
            normalizer: CrlfNormalizer::new(),
            chunk: vec![0u8; CHUNK].into_boxed_slice(),
            pending: BytesMut::with_capacity(CHUNK + CHUNK / 32),
            finished: false,
        }
    }

    /// The wrapped source.
    pub fn into_inner(self) -> R {
        self.source
    }
}

impl<R: Read> Read for WireReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.pending.is_empty() || out.is_empty() {
                let n = out.len().min(self.pending.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            match self.source.read(&mut self.chunk) {
                Ok(0) => {
                    self.normalizer.finish(&mut self.pending);
                    self.finished = true;
                }
                Ok(n) => self.normalizer.encode(&self.chunk[..n], &mut self.pending),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Just;

    const CR: u8 = b'\r';
    const LF: u8 = b'\n';

    fn read_all(stored: &[u8], out_size: usize) -> Vec<u8> {
        let mut reader = WireReader::new(stored);
        let mut served = Vec::new();
        let mut buf = vec![0u8; out_size];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            served.extend_from_slice(&buf[..n]);
        }
        served
    }

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
    fn converts_bare_lf_and_bare_cr_and_keeps_crlf() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"\n\n", b"\r\n\r\n"),
            (b"a\rb\r\n", b"a\r\nb\r\n"),
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
    fn size_equals_what_the_pop3_encoder_sends() {
        // The machine dot-stuffs the served content with DotEncoder: its output, minus the
        // stuffed dots and the terminator, is exactly the counted size.
        let stored: &[u8] = b"From: a\nTo: b\r\n\r\n.line\n\rx\r\r\nend";
        let mut encoder = mail_wire::dot::DotEncoder::new();
        let mut sent = BytesMut::new();
        encoder.encode(&wire_form(stored), &mut sent);
        encoder.finish(&mut sent);
        let stuffed_dots = 1;
        assert_eq!(wire_size(stored), (sent.len() - 3 - stuffed_dots) as u64);
    }

    #[test]
    fn every_split_of_input_and_output_gives_the_same_wire_form() {
        let stored: &[u8] = b"From: a\nTo: b\r\n\r\n.line\n\rx\r\r\nend";
        let whole = wire_form(stored);
        for cut in 0..=stored.len() {
            let mut size = WireSize::new();
            size.update(&stored[..cut]);
            size.update(&stored[cut..]);
            assert_eq!(size.total(), whole.len() as u64, "cut {cut}");
        }
        for out_size in 1..5 {
            assert_eq!(read_all(stored, out_size), whole, "output of {out_size}");
        }
    }

    /// The rules of the module docs, one octet at a time, as plainly as possible.
    fn reference_wire_form(stored: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < stored.len() {
            match stored[i] {
                CR if stored.get(i + 1) == Some(&LF) => {
                    out.extend_from_slice(b"\r\n");
                    i += 2;
                }
                CR | LF => {
                    out.extend_from_slice(b"\r\n");
                    i += 1;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        if !out.is_empty() && !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
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
            proptest::prop_assert_eq!(&read_all(&stored, chunk), &expected);
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
            assert_eq!(read_all(&stored, chunk), whole, "chunk {chunk}");
        }
        assert_eq!(
            WireSize::of_reader(&stored[..]).unwrap(),
            whole.len() as u64
        );
        assert_eq!(whole.len(), stored.len() + 2 * 20_000 / 3);
    }
}
