//! Bounded CRLF line framing for command and reply lines.
//!
//! SMTP (RFC 5321 section 2.3.8) and POP3 (RFC 1939 section 3) both end every command and reply
//! line with CRLF. [`LineFramer`] takes complete lines off the front of a receive buffer, never
//! buffers more than its limit, and reports a line that is too long *once*, then skips the rest
//! of it without keeping it, so a session can answer (SMTP 500 5.5.6, POP3 `-ERR`) and go on.

use bytes::{Buf, Bytes, BytesMut};

/// Which byte sequences end a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LineEnding {
    /// Only CRLF ends a line (RFC 5321 section 2.3.8: "lines consist of zero or more data
    /// characters terminated by the sequence ASCII character CR followed immediately by ASCII
    /// character LF"). A bare LF or bare CR inside a line makes the whole line an error.
    #[default]
    Crlf,
    /// CRLF or a bare LF ends a line: a tolerated deviation of lax clients, for command lines
    /// only (never for message content, where it enables SMTP smuggling). A bare CR is still
    /// an error.
    CrlfOrBareLf,
}

/// Why a line could not be returned. Every error consumes the line it speaks of, so the
/// next call starts at the next line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The line, with its line ending, is longer than the framer's limit. The bytes of the line
    /// are discarded as they arrive; the framer resumes after the line's end.
    #[error("line longer than {limit} octets")]
    TooLong {
        /// The limit in force, in octets including the line ending.
        limit: usize,
    },
    /// The line holds an LF not preceded by CR.
    #[error("bare LF inside a line")]
    BareLf,
    /// The line holds a CR not followed by LF.
    #[error("bare CR inside a line")]
    BareCr,
    /// The line holds a NUL octet, which no command or reply may carry.
    #[error("NUL octet in a line")]
    Nul,
}

/// Takes complete lines off the front of a buffer, with a hard length limit.
///
/// ```
/// use bytes::BytesMut;
/// use mail_wire::line::{LineError, LineFramer};
///
/// let mut framer = LineFramer::new(16);
/// let mut buf = BytesMut::from(&b"NOOP\r\nAN OVERLONG COMMAND LINE\r\nQUIT\r\nRS"[..]);
/// assert_eq!(framer.next_line(&mut buf).unwrap().unwrap(), "NOOP");
/// assert_eq!(framer.next_line(&mut buf), Some(Err(LineError::TooLong { limit: 16 })));
/// assert_eq!(framer.next_line(&mut buf).unwrap().unwrap(), "QUIT");
/// assert_eq!(framer.next_line(&mut buf), None); // "RS" waits for the rest of its line
/// ```
#[derive(Clone, Debug)]
pub struct LineFramer {
    max_len: usize,
    ending: LineEnding,
    /// Discarding the rest of an overlong line.
    skipping: bool,
    /// While skipping: the last discarded byte was a CR (its LF may come in the next read).
    skipped_cr: bool,
    /// Bytes at the front of the buffer already searched for a line end, so that input arriving
    /// a byte at a time is not searched again from the start (linear, not quadratic).
    scanned: usize,
}

impl LineFramer {
    /// A framer that accepts lines of at most `max_len` octets including the line ending.
    /// A limit below 2 is raised to 2 (an empty line with its CRLF).
    pub const fn new(max_len: usize) -> Self {
        Self {
            max_len: if max_len < 2 { 2 } else { max_len },
            ending: LineEnding::Crlf,
            skipping: false,
            skipped_cr: false,
            scanned: 0,
        }
    }

    /// The same framer with another line-ending policy.
    pub const fn with_line_ending(mut self, ending: LineEnding) -> Self {
        self.ending = ending;
        self
    }

    /// The line-ending policy in force.
    pub const fn line_ending(&self) -> LineEnding {
        self.ending
    }

    /// The limit in force, in octets including the line ending.
    pub const fn max_len(&self) -> usize {
        self.max_len
    }

    /// Changes the limit, e.g. for the 12288-octet AUTH lines of RFC 4954 section 4. Applies to
    /// the line being received too.
    pub fn set_max_len(&mut self, max_len: usize) {
        self.max_len = max_len.max(2);
    }

    /// Forgets any partial state: the skip of an overlong line, and what was searched. Call it
    /// when the buffer it was used with is cleared (e.g. at a TLS upgrade).
    pub fn reset(&mut self) {
        self.skipping = false;
        self.skipped_cr = false;
        self.scanned = 0;
    }

    /// True while the rest of an overlong line is being discarded.
    pub const fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// The next complete line at the front of `buf`, without its line ending; the line and its
    /// ending are consumed from `buf`. `None` means more bytes are needed (the partial line
    /// stays in `buf`, unless it is an overlong line being discarded).
    ///
    /// The returned `Bytes` shares `buf`'s storage: no copy, no allocation.
    pub fn next_line(&mut self, buf: &mut BytesMut) -> Option<Result<Bytes, LineError>> {
        if self.skipping && !self.skip(buf) {
            return None;
        }
        let line_end = match self.find_line_end(buf) {
            Some(end) => end,
            None => {
                if buf.len() >= self.max_len {
                    // No line ending within the limit: report it now, discard up to its end
                    // (what has arrived of it), and keep discarding as the rest arrives.
                    self.skipping = true;
                    self.skipped_cr = false;
                    self.scanned = 0;
                    self.skip(buf);
                    return Some(Err(LineError::TooLong {
                        limit: self.max_len,
                    }));
                }
                self.scanned = buf.len();
                return None;
            }
        };
        self.scanned = 0;
        let LineEnd {
            content_len,
            total_len,
        } = line_end;
        if total_len > self.max_len {
            buf.advance(total_len);
            return Some(Err(LineError::TooLong {
                limit: self.max_len,
            }));
        }
        let mut line = buf.split_to(total_len).freeze();
        line.truncate(content_len);
        Some(check_line(&line).map(|()| line))
    }

    /// Discards bytes up to and including the end of the overlong line. True when its end was
    /// found (and the framer resumes normal framing).
    fn skip(&mut self, buf: &mut BytesMut) -> bool {
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'\n', &buf[from..]) {
            let lf = from + offset;
            let after_cr = if lf == 0 {
                self.skipped_cr
            } else {
                buf[lf - 1] == b'\r'
            };
            if after_cr || self.ending == LineEnding::CrlfOrBareLf {
                buf.advance(lf + 1);
                self.skipping = false;
                self.skipped_cr = false;
                return true;
            }
            from = lf + 1;
        }
        self.skipped_cr = buf.last() == Some(&b'\r') || (buf.is_empty() && self.skipped_cr);
        buf.clear();
        false
    }

    /// Finds the first line ending allowed by the policy, searching only what was not searched.
    fn find_line_end(&self, buf: &[u8]) -> Option<LineEnd> {
        // Resume one byte early: a CR searched last time may pair with an LF that just arrived.
        let mut from = self.scanned.saturating_sub(1);
        // Nothing past the limit can end an acceptable line; stop searching there (plus the LF).
        let search_end = buf.len().min(self.max_len.saturating_add(1));
        while from < search_end {
            let lf = from + memchr::memchr(b'\n', &buf[from..search_end])?;
            let after_cr = lf > 0 && buf[lf - 1] == b'\r';
            if after_cr {
                return Some(LineEnd {
                    content_len: lf - 1,
                    total_len: lf + 1,
                });
            }
            if self.ending == LineEnding::CrlfOrBareLf {
                return Some(LineEnd {
                    content_len: lf,
                    total_len: lf + 1,
                });
            }
            from = lf + 1;
        }
        None
    }
}

struct LineEnd {
    content_len: usize,
    total_len: usize,
}

/// Rejects a line (without its ending) that holds NUL, a bare LF or a bare CR.
fn check_line(line: &[u8]) -> Result<(), LineError> {
    match memchr::memchr3(b'\0', b'\n', b'\r', line) {
        None => Ok(()),
        Some(_) if line.contains(&0) => Err(LineError::Nul),
        Some(_) if line.contains(&b'\n') => Err(LineError::BareLf),
        Some(_) => Err(LineError::BareCr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn frame_all(framer: &mut LineFramer, input: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(line) = framer.next_line(&mut buf) {
            out.push(line.map(|l| l.to_vec()));
        }
        out
    }

    #[test]
    fn crlf_lines_come_out_without_their_ending() {
        let mut framer = LineFramer::new(512);
        let got = frame_all(&mut framer, b"EHLO a.example\r\n\r\nQUIT\r\n");
        assert_eq!(
            got,
            [
                Ok(b"EHLO a.example".to_vec()),
                Ok(Vec::new()),
                Ok(b"QUIT".to_vec())
            ]
        );
    }

    #[test]
    fn partial_line_waits_and_stays_in_the_buffer() {
        let mut framer = LineFramer::new(512);
        let mut buf = BytesMut::from(&b"NOOP\r"[..]);
        assert_eq!(framer.next_line(&mut buf), None);
        assert_eq!(&buf[..], b"NOOP\r");
        buf.extend_from_slice(b"\n");
        assert_eq!(
            framer.next_line(&mut buf),
            Some(Ok(Bytes::from_static(b"NOOP")))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn strict_policy_rejects_bare_lf_but_keeps_framing_at_crlf() {
        let mut framer = LineFramer::new(512);
        let got = frame_all(&mut framer, b"MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\nNOOP\r\n");
        assert_eq!(got, [Err(LineError::BareLf), Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn lax_policy_accepts_bare_lf_as_a_line_end() {
        let mut framer = LineFramer::new(512).with_line_ending(LineEnding::CrlfOrBareLf);
        let got = frame_all(&mut framer, b"HELO x\nNOOP\r\n");
        assert_eq!(got, [Ok(b"HELO x".to_vec()), Ok(b"NOOP".to_vec())]);
    }

    #[test]
    fn bare_cr_and_nul_are_errors_under_both_policies() {
        for ending in [LineEnding::Crlf, LineEnding::CrlfOrBareLf] {
            let mut framer = LineFramer::new(512).with_line_ending(ending);
            let got = frame_all(&mut framer, b"NO\rOP\r\nNO\0OP\r\nQUIT\r\n");
            assert_eq!(
                got,
                [
                    Err(LineError::BareCr),
                    Err(LineError::Nul),
                    Ok(b"QUIT".to_vec())
                ]
            );
        }
    }

    #[test]
    fn limit_counts_the_line_ending() {
        let mut framer = LineFramer::new(6);
        assert_eq!(frame_all(&mut framer, b"NOOP\r\n"), [Ok(b"NOOP".to_vec())]);
        let mut framer = LineFramer::new(5);
        assert_eq!(
            frame_all(&mut framer, b"NOOP\r\nQUIT\r\n"),
            [
                Err(LineError::TooLong { limit: 5 }),
                Err(LineError::TooLong { limit: 5 })
            ]
        );
    }

    #[test]
    fn overlong_line_is_reported_once_and_never_buffered() {
        let mut framer = LineFramer::new(512);
        let mut buf = BytesMut::new();
        let mut reports = 0;
        for _ in 0..1000 {
            buf.extend_from_slice(&[b'x'; 100]);
            while let Some(line) = framer.next_line(&mut buf) {
                assert_eq!(line, Err(LineError::TooLong { limit: 512 }));
                reports += 1;
            }
            assert!(buf.len() < 512, "buffered {} octets", buf.len());
        }
        buf.extend_from_slice(b"\r");
        assert_eq!(framer.next_line(&mut buf), None);
        buf.extend_from_slice(b"\nQUIT\r\n");
        assert_eq!(
            framer.next_line(&mut buf),
            Some(Ok(Bytes::from_static(b"QUIT")))
        );
        assert_eq!(reports, 1);
    }

    #[test]
    fn strict_skip_does_not_resume_at_a_bare_lf() {
        // An overlong line must not let a bare LF inside it start a new command.
        let mut framer = LineFramer::new(8);
        let got = frame_all(&mut framer, b"xxxxxxxxxx\nRSET\r\nNOOP\r\n");
        assert_eq!(
            got,
            [Err(LineError::TooLong { limit: 8 }), Ok(b"NOOP".to_vec())]
        );
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let input: &[u8] = b"EHLO x\r\nbad\nline\r\nNO\0P\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nQUIT\r\n";
        let whole = frame_all(&mut LineFramer::new(32), input);
        for split in 0..=input.len() {
            let mut framer = LineFramer::new(32);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for part in [&input[..split], &input[split..]] {
                buf.extend_from_slice(part);
                while let Some(line) = framer.next_line(&mut buf) {
                    got.push(line.map(|l| l.to_vec()));
                }
            }
            assert_eq!(got, whole, "split at {split}");
        }
    }

    #[test]
    fn byte_at_a_time_gives_the_same_lines() {
        let input: &[u8] = b"A\r\n\r\r\nB\nC\r\n";
        for ending in [LineEnding::Crlf, LineEnding::CrlfOrBareLf] {
            let whole = frame_all(&mut LineFramer::new(64).with_line_ending(ending), input);
            let mut framer = LineFramer::new(64).with_line_ending(ending);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for byte in input {
                buf.extend_from_slice(&[*byte]);
                while let Some(line) = framer.next_line(&mut buf) {
                    got.push(line.map(|l| l.to_vec()));
                }
            }
            assert_eq!(got, whole);
        }
    }
}
