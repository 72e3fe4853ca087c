//! Line-end normalisation of a body sent with BDAT (RFC 3030), where no dot-stuffing applies
//! but bare CR and bare LF must still become CRLF (RFC 5321 section 2.3.8), so that the server
//! sees the same body as it would over DATA.

use bytes::{BufMut, BytesMut};

/// Writes a body given in pieces with every bare CR and bare LF as CRLF; [`finish`] makes sure
/// a non-empty body ends with CRLF, as [`mail_wire::dot::DotEncoder`] does for DATA.
///
/// [`finish`]: CrlfNormalizer::finish
#[derive(Debug, Clone)]
pub(crate) struct CrlfNormalizer {
    /// The last piece ended in CR: whether it begins a CRLF shows with the next octet.
    pending_cr: bool,
    /// Nothing written yet, or the last octet written ends a line.
    at_line_start: bool,
}

impl Default for CrlfNormalizer {
    fn default() -> CrlfNormalizer {
        CrlfNormalizer::new()
    }
}

impl CrlfNormalizer {
    pub(crate) const fn new() -> CrlfNormalizer {
        CrlfNormalizer {
            pending_cr: false,
            at_line_start: true,
        }
    }

    /// Appends `chunk` to `out`, line ends normalised.
    pub(crate) fn encode(&mut self, chunk: &[u8], out: &mut BytesMut) {
        let Some(&last) = chunk.last() else { return };
        out.reserve(chunk.len() + 2);
        let mut pos = 0;
        if self.pending_cr {
            self.pending_cr = false;
            out.put_slice(b"\r\n");
            if chunk[0] == b'\n' {
                pos = 1;
            }
        }
        let mut seg = pos;
        while let Some(found) = memchr::memchr2(b'\r', b'\n', &chunk[pos..]) {
            let at = pos + found;
            if chunk[at] == b'\r' {
                match chunk.get(at + 1) {
                    Some(b'\n') => {
                        pos = at + 2;
                        continue;
                    }
                    None => {
                        // Held: the next piece shows whether it is half of a CRLF.
                        out.put_slice(&chunk[seg..at]);
                        self.pending_cr = true;
                        self.at_line_start = true;
                        return;
                    }
                    Some(_) => {}
                }
            }
            // A bare CR or a bare LF.
            out.put_slice(&chunk[seg..at]);
            out.put_slice(b"\r\n");
            pos = at + 1;
            seg = pos;
        }
        out.put_slice(&chunk[seg..]);
        self.at_line_start = last == b'\n';
    }

    /// Ends the body: the held CR as CRLF, or a CRLF when the last line lacks one. Ready for a
    /// new body afterwards.
    pub(crate) fn finish(&mut self, out: &mut BytesMut) {
        if self.pending_cr || !self.at_line_start {
            out.put_slice(b"\r\n");
        }
        *self = CrlfNormalizer::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn normalise(pieces: &[&[u8]]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let mut n = CrlfNormalizer::new();
        for piece in pieces {
            n.encode(piece, &mut out);
        }
        n.finish(&mut out);
        out.to_vec()
    }

    #[test]
    fn bare_line_ends_become_crlf_and_a_final_crlf_is_added() {
        assert_eq!(normalise(&[b"a\nb\rc\r\nd"]), b"a\r\nb\r\nc\r\nd\r\n");
        assert_eq!(normalise(&[b"a\r\n"]), b"a\r\n");
        assert_eq!(normalise(&[]), b"");
        assert_eq!(normalise(&[b"", b""]), b"");
        assert_eq!(normalise(&[b".\n..\r"]), b".\r\n..\r\n");
    }

    #[test]
    fn a_crlf_split_between_pieces_stays_one_line_end() {
        assert_eq!(normalise(&[b"a\r", b"\nb"]), b"a\r\nb\r\n");
        assert_eq!(normalise(&[b"a\r", b"b"]), b"a\r\nb\r\n");
        assert_eq!(normalise(&[b"a\r", b"", b"\r"]), b"a\r\n\r\n");
        assert_eq!(normalise(&[b"\r", b"\n", b"\n"]), b"\r\n\r\n");
    }

    #[test]
    fn every_split_gives_the_same_output() {
        let input: &[u8] = b"x\r\n\ry\n\n\r\r\nz\r";
        let whole = normalise(&[input]);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                assert_eq!(normalise(&[&input[..a], &input[a..b], &input[b..]]), whole);
            }
        }
    }
}
