//! Bounded CRLF line framing for command and reply lines.
//!
//! SMTP (RFC 5321 section 2.3.8) and POP3 (RFC 1939 section 3) both end every command and reply
//! line with CRLF, and bound its length (RFC 5321 section 4.5.3.1; RFC 1939 section 3 and
//! RFC 2449 section 4). Two tools here decide what a line is:
//!
//! - [`scan_line`]: stateless, for one-shot parsers. It finds the first line of a buffer within
//!   a limit in one pass, catching NUL, bare CR and bare LF on the way, and says how many
//!   octets a bad line takes so the caller can skip it.
//! - [`LineFramer`]: stateful, for sessions. It takes complete lines off the front of a
//!   receive buffer (judged by [`scan_line`]), never buffers more than its limit, and reports a
//!   line that is too long *once*, then skips the rest of it without keeping it, so a session
//!   can answer (SMTP 500 5.5.6, POP3 `-ERR`) and go on.

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
    /// The line, with its line ending, is longer than the limit. [`LineFramer`] discards the
    /// bytes of the line as they arrive and resumes after the line's end.
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

/// What [`scan_line`] found at the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineScan {
    /// A good line: its content is `input[..content_len]` (no CR, LF or NUL in it), and it
    /// takes `total_len` octets with its line ending (`total_len <= limit`).
    Line {
        /// Octets of the content, before the line ending.
        content_len: usize,
        /// Octets of the line with its line ending: where the next line starts.
        total_len: usize,
    },
    /// No line ending yet, nothing wrong so far, and the limit is not reached: read more and
    /// scan again from the same start. Every proper prefix of a good line gives this.
    Incomplete,
    /// The line is bad.
    Fault {
        /// What is wrong: NUL, a bare CR, a bare LF (under [`LineEnding::Crlf`]), or the line
        /// is longer than the limit ([`LineError::TooLong`] carries the limit passed in).
        error: LineError,
        /// Octets the bad line takes, through the LF that ends it: skip them and go on.
        ///
        /// For [`LineError::TooLong`] it is 0 when the scan stopped at the limit without
        /// seeing that LF (the caller then discards through the next LF as it arrives, as
        /// [`LineFramer`] does). The scan looks past the limit only to find the end of a line
        /// it already knows is bad (a NUL or bare CR within the limit).
        consumed: usize,
    },
}

/// Finds the first line of `input`, at most `limit` octets long with its line ending, in one
/// pass that also catches the octets no command or reply line may hold. Allocation-free.
///
/// The rules:
///
/// - A line ends at CRLF (RFC 5321 section 2.3.8, RFC 1939 section 3), or under
///   [`LineEnding::CrlfOrBareLf`] also at a bare LF.
/// - A line holding NUL or a bare CR is bad; under [`LineEnding::Crlf`] a bare LF is bad too.
///   A bad line ends at the first LF after its first bad octet, CR before it or not, so a
///   caller skipping [`LineScan::Fault::consumed`] octets is at the start of the next line.
///   The first bad octet names the error. (In a session, [`LineFramer`] is stricter about
///   where a line with a bare LF ends: it keeps that LF inside the line and ends it at CRLF.)
/// - A line longer than `limit` octets, line ending included, is [`LineError::TooLong`]
///   (RFC 5321 section 4.5.3.1.4: 512 octets for a command line, RFC 4954 section 4: 12288
///   for an AUTH line; RFC 2449 section 4: 255 for a POP3 command line). That is known as
///   soon as `limit` octets have arrived without a line ending, without waiting for the rest.
///
/// Short lines are the common case: the search for CR, LF and NUL checks the first octets
/// eight at a time before handing long lines to a vector search.
///
/// ```
/// use mail_wire::line::{scan_line, LineEnding, LineError, LineScan};
///
/// let scan = scan_line(b"NOOP\r\nQUIT\r\n", 512, LineEnding::Crlf);
/// assert_eq!(scan, LineScan::Line { content_len: 4, total_len: 6 });
/// assert_eq!(scan_line(b"NOO", 512, LineEnding::Crlf), LineScan::Incomplete);
/// assert_eq!(
///     scan_line(b"NO\0P\r\nQUIT\r\n", 512, LineEnding::Crlf),
///     LineScan::Fault { error: LineError::Nul, consumed: 6 }
/// );
/// assert_eq!(
///     scan_line(b"NOOP NOOP", 8, LineEnding::Crlf),
///     LineScan::Fault { error: LineError::TooLong { limit: 8 }, consumed: 0 }
/// );
/// ```
#[inline]
pub fn scan_line(input: &[u8], limit: usize, ending: LineEnding) -> LineScan {
    let window = &input[..input.len().min(limit)];
    let Some(at) = find_cr_lf_nul(window) else {
        return incomplete_or_too_long(input, limit);
    };
    match window[at] {
        b'\r' => match input.get(at + 1) {
            Some(b'\n') if at + 2 <= limit => LineScan::Line {
                content_len: at,
                total_len: at + 2,
            },
            // The CR is the last octet within the limit: its LF makes the line too long.
            Some(b'\n') => LineScan::Fault {
                error: LineError::TooLong { limit },
                consumed: at + 2,
            },
            Some(_) => bad_line(input, at, LineError::BareCr, limit),
            None => incomplete_or_too_long(input, limit),
        },
        b'\n' => match ending {
            LineEnding::CrlfOrBareLf => LineScan::Line {
                content_len: at,
                total_len: at + 1,
            },
            LineEnding::Crlf => LineScan::Fault {
                error: LineError::BareLf,
                consumed: at + 1,
            },
        },
        _ => bad_line(input, at, LineError::Nul, limit),
    }
}

/// The index of the first CR, LF or NUL in `bytes`: the octets that end or break a line.
///
/// Most command and reply lines are short, where a word-at-a-time loop over the first octets
/// beats the set-up of a vector search; the vector search takes over past them.
#[inline(always)]
pub fn find_cr_lf_nul(bytes: &[u8]) -> Option<usize> {
    const HEAD: usize = 128;
    let head = &bytes[..bytes.len().min(HEAD)];
    let mut base = 0;
    let mut chunks = head.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if let Some(i) = first_cr_lf_nul_in_word(u64::from_le_bytes(word)) {
            return Some(base + i);
        }
        base += 8;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if head.len() >= 8 {
            // The last 8 octets, the ones already seen turned into spaces (never special).
            let seen = 8 - tail.len();
            let last = &head[head.len() - 8..];
            let mut word = [0u8; 8];
            word.copy_from_slice(last);
            let seen_bits = (1u64 << (seen * 8)) - 1;
            let word = (u64::from_le_bytes(word) & !seen_bits) | ((LOW_BITS * 0x20) & seen_bits);
            if let Some(i) = first_cr_lf_nul_in_word(word) {
                return Some(base - seen + i);
            }
        } else if let Some(i) = tail.iter().position(|&b| is_cr_lf_nul(b)) {
            return Some(base + i);
        }
    }
    if bytes.len() > HEAD {
        memchr::memchr3(b'\r', b'\n', 0, &bytes[HEAD..]).map(|i| i + HEAD)
    } else {
        None
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn is_cr_lf_nul(byte: u8) -> bool {
    matches!(byte, b'\r' | b'\n' | 0)
}

/// The index of the first CR, LF or NUL among the 8 octets of `word` (a little-endian load).
///
/// One test flags every octet below 0x0E (CR, LF and NUL are all below it); the lowest flagged
/// octet is exact (a borrow only spreads upwards), and the rare other control octet (HT) is
/// stepped over.
#[inline(always)]
fn first_cr_lf_nul_in_word(word: u64) -> Option<usize> {
    let mut below = word.wrapping_sub(LOW_BITS * 0x0E) & !word & HIGH_BITS;
    while below != 0 {
        let i = (below.trailing_zeros() / 8) as usize;
        if is_cr_lf_nul((word >> (i * 8)) as u8) {
            return Some(i);
        }
        // Not special: look again above it (clearing the borrow it may have caused).
        let above = (i + 1) * 8;
        if above >= 64 {
            return None;
        }
        let rest = word >> above;
        below = (rest.wrapping_sub(LOW_BITS * 0x0E) & !rest & HIGH_BITS) << above;
    }
    None
}

/// No line ending within the limit yet: too long once `limit` octets are in, else wait.
#[inline]
fn incomplete_or_too_long(input: &[u8], limit: usize) -> LineScan {
    if input.len() >= limit {
        LineScan::Fault {
            error: LineError::TooLong { limit },
            consumed: 0,
        }
    } else {
        LineScan::Incomplete
    }
}

/// A bad octet at `at` (within the limit): the error is reported once the line's LF is in.
#[cold]
fn bad_line(input: &[u8], at: usize, error: LineError, limit: usize) -> LineScan {
    match memchr::memchr(b'\n', &input[at..]) {
        Some(lf) if at + lf < limit => LineScan::Fault {
            error,
            consumed: at + lf + 1,
        },
        Some(lf) => LineScan::Fault {
            error: LineError::TooLong { limit },
            consumed: at + lf + 1,
        },
        None => incomplete_or_too_long(input, limit),
    }
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
    /// Bytes at the front of the buffer already searched for a line end (none there), so that
    /// input arriving a byte at a time is not searched again from the start (linear, not
    /// quadratic).
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
        if self.scanned > 0 {
            // Part of this line was here before: wait, searching only what is new, until its
            // end arrives (linear, not quadratic, when input comes a byte at a time).
            if self.find_line_end(buf, self.scanned).is_none() {
                if buf.len() >= self.max_len {
                    return Some(Err(self.start_skipping(buf)));
                }
                self.scanned = buf.len();
                return None;
            }
            self.scanned = 0;
        }
        match scan_line(buf, self.max_len, self.ending) {
            LineScan::Line {
                content_len,
                total_len,
            } => {
                let mut line = buf.split_to(total_len).freeze();
                line.truncate(content_len);
                Some(Ok(line))
            }
            LineScan::Incomplete => {
                // `scan_line` saw no LF at all: the next call only searches what arrives.
                self.scanned = buf.len();
                None
            }
            LineScan::Fault {
                error: LineError::TooLong { .. },
                consumed: 0,
            } => Some(Err(self.start_skipping(buf))),
            LineScan::Fault { error, consumed } => {
                let ends_in_crlf = consumed >= 2 && buf[consumed - 2] == b'\r';
                if self.ending == LineEnding::Crlf && !ends_in_crlf {
                    // A bare LF does not end a line here: the bad line goes on to its CRLF.
                    return self.bad_line_to_crlf(buf, consumed, error);
                }
                let error = match error {
                    LineError::TooLong { .. } => error,
                    _ => worst_fault(&buf[..consumed - 1 - usize::from(ends_in_crlf)]),
                };
                buf.advance(consumed);
                Some(Err(error))
            }
        }
    }

    /// Reports an overlong line whose end has not arrived, and starts discarding it.
    fn start_skipping(&mut self, buf: &mut BytesMut) -> LineError {
        self.skipping = true;
        self.skipped_cr = false;
        self.scanned = 0;
        self.skip(buf);
        LineError::TooLong {
            limit: self.max_len,
        }
    }

    /// Under [`LineEnding::Crlf`], a bad line whose first `segment` octets end in a bare LF:
    /// the line runs on to the first CRLF.
    #[cold]
    fn bad_line_to_crlf(
        &mut self,
        buf: &mut BytesMut,
        segment: usize,
        error: LineError,
    ) -> Option<Result<Bytes, LineError>> {
        let Some(LineEnd {
            content_len,
            total_len,
        }) = self.find_line_end(buf, segment)
        else {
            if buf.len() >= self.max_len {
                return Some(Err(self.start_skipping(buf)));
            }
            self.scanned = buf.len();
            return None;
        };
        let error = if total_len > self.max_len || matches!(error, LineError::TooLong { .. }) {
            LineError::TooLong {
                limit: self.max_len,
            }
        } else {
            worst_fault(&buf[..content_len])
        };
        buf.advance(total_len);
        Some(Err(error))
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

    /// Finds the first line ending allowed by the policy at or after `from` (the octets before
    /// it hold none), within the limit.
    fn find_line_end(&self, buf: &[u8], from: usize) -> Option<LineEnd> {
        let mut from = from;
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

/// Names what is wrong with the content of a bad line: of several bad octets, NUL first, then
/// a bare LF, then a bare CR.
fn worst_fault(content: &[u8]) -> LineError {
    if content.contains(&0) {
        LineError::Nul
    } else if content.contains(&b'\n') {
        LineError::BareLf
    } else {
        LineError::BareCr
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

    #[test]
    fn scan_finds_lines_and_bad_octets() {
        use LineEnding::{Crlf, CrlfOrBareLf};
        let line = |content_len, total_len| LineScan::Line {
            content_len,
            total_len,
        };
        let fault = |error, consumed| LineScan::Fault { error, consumed };
        let too_long = |limit, consumed| fault(LineError::TooLong { limit }, consumed);
        assert_eq!(scan_line(b"NOOP\r\nX", 512, Crlf), line(4, 6));
        assert_eq!(scan_line(b"\r\n", 512, Crlf), line(0, 2));
        assert_eq!(scan_line(b"", 512, Crlf), LineScan::Incomplete);
        assert_eq!(scan_line(b"NOOP\r", 512, Crlf), LineScan::Incomplete);
        assert_eq!(scan_line(b"NOOP\n", 512, Crlf), fault(LineError::BareLf, 5));
        assert_eq!(scan_line(b"NOOP\n", 512, CrlfOrBareLf), line(4, 5));
        assert_eq!(scan_line(b"NO\0P\r\n", 512, Crlf), fault(LineError::Nul, 6));
        assert_eq!(
            scan_line(b"NO\rP\r\n", 512, Crlf),
            fault(LineError::BareCr, 6)
        );
        assert_eq!(
            scan_line(b"NO\rP\r\n", 512, CrlfOrBareLf),
            fault(LineError::BareCr, 6)
        );
        // A bad line ends at its first LF, bare or not; the first bad octet names it.
        assert_eq!(
            scan_line(b"A\rB\nC\r\n", 512, Crlf),
            fault(LineError::BareCr, 4)
        );
        assert_eq!(
            scan_line(b"A\rB\0C\r\n", 512, Crlf),
            fault(LineError::BareCr, 7)
        );
        // A bad line waits for its end, like a good one.
        assert_eq!(scan_line(b"NO\0P", 512, Crlf), LineScan::Incomplete);
        // The limit counts the line ending.
        assert_eq!(scan_line(b"NO\r\n", 4, Crlf), line(2, 4));
        assert_eq!(scan_line(b"NOO\r\n", 4, Crlf), too_long(4, 5));
        assert_eq!(scan_line(b"NOO\r", 4, Crlf), too_long(4, 0));
        assert_eq!(scan_line(b"NOOP", 4, Crlf), too_long(4, 0));
        assert_eq!(scan_line(b"NOOP\r\n", 4, Crlf), too_long(4, 0));
        assert_eq!(scan_line(b"N\0OOP\r\n", 4, Crlf), too_long(4, 7));
        assert_eq!(scan_line(b"N\0O\n", 4, Crlf), fault(LineError::Nul, 4));
    }

    #[test]
    fn find_cr_lf_nul_finds_the_first_in_short_and_long_input() {
        assert_eq!(find_cr_lf_nul(b""), None);
        assert_eq!(find_cr_lf_nul(b"\t\x0b\x0c\x0e\x7f\x80\xff abc"), None);
        for len in 1..300 {
            for at in [0, len / 3, len - 1] {
                for special in [b'\r', b'\n', 0] {
                    let mut bytes = vec![b'\t'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[len - 1] = b'\n';
                    }
                    assert_eq!(find_cr_lf_nul(&bytes), Some(at), "len {len} at {at}");
                }
            }
            assert_eq!(find_cr_lf_nul(&vec![b'x'; len]), None);
        }
    }

    /// The rules of [`scan_line`], one octet at a time.
    fn scan_reference(input: &[u8], limit: usize, ending: LineEnding) -> LineScan {
        let too_long = |consumed| LineScan::Fault {
            error: LineError::TooLong { limit },
            consumed,
        };
        let wait = || {
            if input.len() >= limit {
                too_long(0)
            } else {
                LineScan::Incomplete
            }
        };
        let mut i = 0;
        while i < input.len() && i < limit {
            let error = match input[i] {
                b'\r' if input.get(i + 1) == Some(&b'\n') => {
                    return if i + 2 <= limit {
                        LineScan::Line {
                            content_len: i,
                            total_len: i + 2,
                        }
                    } else {
                        too_long(i + 2)
                    };
                }
                b'\r' if i + 1 == input.len() => return wait(),
                b'\r' => LineError::BareCr,
                b'\n' if ending == LineEnding::CrlfOrBareLf => {
                    return LineScan::Line {
                        content_len: i,
                        total_len: i + 1,
                    };
                }
                b'\n' => LineError::BareLf,
                0 => LineError::Nul,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let mut lf = i;
            while lf < input.len() && input[lf] != b'\n' {
                lf += 1;
            }
            return match lf {
                _ if lf == input.len() => wait(),
                _ if lf < limit => LineScan::Fault {
                    error,
                    consumed: lf + 1,
                },
                _ => too_long(lf + 1),
            };
        }
        wait()
    }

    /// What [`LineFramer`] gives for the whole input at once, from its rules: a line ends at
    /// CRLF (or any LF, lax); over the limit it is too long; without an end, it waits, or is
    /// too long once the limit is reached.
    fn framer_reference(
        input: &[u8],
        max_len: usize,
        ending: LineEnding,
    ) -> Vec<Result<Vec<u8>, LineError>> {
        let mut out = Vec::new();
        let mut rest = input;
        loop {
            let end = (0..rest.len()).find(|&i| {
                rest[i] == b'\n'
                    && (ending == LineEnding::CrlfOrBareLf || (i > 0 && rest[i - 1] == b'\r'))
            });
            let Some(lf) = end else {
                if rest.len() >= max_len {
                    out.push(Err(LineError::TooLong { limit: max_len }));
                }
                return out;
            };
            let content = &rest[..if lf > 0 && rest[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            }];
            out.push(if lf + 1 > max_len {
                Err(LineError::TooLong { limit: max_len })
            } else if content.contains(&0) {
                Err(LineError::Nul)
            } else if content.contains(&b'\n') {
                Err(LineError::BareLf)
            } else if content.contains(&b'\r') {
                Err(LineError::BareCr)
            } else {
                Ok(content.to_vec())
            });
            rest = &rest[lf + 1..];
        }
    }

    fn any_ending() -> impl Strategy<Value = LineEnding> {
        prop_oneof![Just(LineEnding::Crlf), Just(LineEnding::CrlfOrBareLf)]
    }

    /// Inputs dense in the octets that matter, long enough to cross the word-at-a-time head.
    fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                6 => Just(b'a'),
                1 => Just(b'\r'),
                1 => Just(b'\n'),
                1 => Just(0u8),
                1 => Just(b'\t'),
                1 => any::<u8>(),
            ],
            0..max,
        )
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn scan_agrees_with_the_reference(
            input in wire_bytes(300),
            limit in 0usize..300,
            ending in any_ending(),
        ) {
            prop_assert_eq!(
                scan_line(&input, limit, ending),
                scan_reference(&input, limit, ending)
            );
        }

        #[test]
        fn scan_of_sparse_long_input_agrees(
            len in 0usize..600,
            marks in proptest::collection::vec((0usize..600, prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8)]), 0..3),
            limit in 0usize..700,
            ending in any_ending(),
        ) {
            let mut input = vec![b'x'; len];
            for (at, byte) in marks {
                if at < len {
                    input[at] = byte;
                }
            }
            prop_assert_eq!(
                scan_line(&input, limit, ending),
                scan_reference(&input, limit, ending)
            );
        }

        #[test]
        fn every_prefix_of_a_good_line_is_incomplete(
            content in proptest::collection::vec(any::<u8>().prop_filter("line octet", |b| !is_cr_lf_nul(*b)), 0..200),
            bare_lf in any::<bool>(),
            slack in 0usize..4,
            next in wire_bytes(8),
        ) {
            let ending = if bare_lf { LineEnding::CrlfOrBareLf } else { LineEnding::Crlf };
            let mut line = content.clone();
            line.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
            let limit = line.len() + slack;
            for cut in 0..line.len() {
                prop_assert_eq!(scan_line(&line[..cut], limit, ending), LineScan::Incomplete);
            }
            let total_len = line.len();
            line.extend_from_slice(&next);
            prop_assert_eq!(
                scan_line(&line, limit, ending),
                LineScan::Line { content_len: content.len(), total_len }
            );
        }

        #[test]
        fn framer_follows_its_rules_at_any_split(
            input in wire_bytes(120),
            max_len in 2usize..40,
            ending in any_ending(),
            cuts in proptest::collection::vec(0usize..120, 0..6),
        ) {
            let expected = framer_reference(&input, max_len, ending);
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= input.len()).collect();
            cuts.push(input.len());
            cuts.sort_unstable();
            let mut framer = LineFramer::new(max_len).with_line_ending(ending);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut from = 0;
            for cut in cuts {
                buf.extend_from_slice(&input[from..cut]);
                from = cut;
                while let Some(line) = framer.next_line(&mut buf) {
                    got.push(line.map(|l| l.to_vec()));
                }
                prop_assert!(buf.len() < max_len, "buffered {} octets", buf.len());
            }
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn framer_byte_at_a_time_follows_its_rules(
            input in wire_bytes(80),
            max_len in 2usize..24,
            ending in any_ending(),
        ) {
            let expected = framer_reference(&input, max_len, ending);
            let mut framer = LineFramer::new(max_len).with_line_ending(ending);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            for byte in &input {
                buf.extend_from_slice(&[*byte]);
                while let Some(line) = framer.next_line(&mut buf) {
                    got.push(line.map(|l| l.to_vec()));
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
