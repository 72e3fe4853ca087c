//! TOP (RFC 1939 section 7): the header, the blank line after it, then `n` body lines,
//! cut from message content streamed in chunks split anywhere.
//!
//! What TOP sends is always a prefix of the message, so the cutter only says how much of
//! each chunk to keep. Lines end where the dot encoder ends them: at LF (after CR or bare),
//! or at a CR not followed by LF. The header ends at the first empty line; a message without
//! one is all header and is sent whole.

/// Finds where TOP cuts a message.
#[derive(Debug, Clone)]
pub(super) struct TopCutter {
    /// Body lines still to send once the header is over.
    remaining: u32,
    in_body: bool,
    /// Nothing but a possible CR seen on the current line yet.
    at_line_start: bool,
    /// The previous chunk ended in CR: whether it pairs with an LF is not known yet.
    pending_cr: bool,
    done: bool,
}

impl TopCutter {
    pub(super) fn new(lines: u32) -> Self {
        Self {
            remaining: lines,
            in_body: false,
            at_line_start: true,
            pending_cr: false,
            done: false,
        }
    }

    /// Whether the cut is reached: later content is dropped.
    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// How many octets at the front of `chunk` belong to the output.
    pub(super) fn keep(&mut self, chunk: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        let mut pos = 0;
        if self.pending_cr && !chunk.is_empty() {
            self.pending_cr = false;
            if chunk[0] == b'\n' {
                pos = 1;
            }
            // CRLF, or a bare CR that ended its line before this chunk.
            if self.line_ended() {
                return pos;
            }
        }
        while pos < chunk.len() {
            if !self.at_line_start {
                // Inside a line only its end matters: jump there.
                match memchr::memchr2(b'\r', b'\n', &chunk[pos..]) {
                    Some(offset) => pos += offset,
                    None => return chunk.len(),
                }
            }
            let byte = chunk[pos];
            pos += 1;
            match byte {
                b'\n' => {
                    if self.line_ended() {
                        return pos;
                    }
                }
                b'\r' => match chunk.get(pos) {
                    None => self.pending_cr = true,
                    Some(b'\n') => {
                        pos += 1;
                        if self.line_ended() {
                            return pos;
                        }
                    }
                    // A bare CR ends its line.
                    Some(_) => {
                        if self.line_ended() {
                            return pos;
                        }
                    }
                },
                _ => self.at_line_start = false,
            }
        }
        chunk.len()
    }

    /// A line just ended: true when it was the last one to send.
    fn line_ended(&mut self) -> bool {
        let was_empty = self.at_line_start;
        self.at_line_start = true;
        if !self.in_body {
            if was_empty {
                self.in_body = true;
                self.done = self.remaining == 0;
            }
        } else {
            self.remaining = self.remaining.saturating_sub(1);
            self.done = self.remaining == 0;
        }
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The prefix kept when `message` arrives in chunks cut at `splits`.
    fn cut(message: &[u8], lines: u32, splits: &[usize]) -> Vec<u8> {
        let mut cutter = TopCutter::new(lines);
        let mut kept = Vec::new();
        let mut from = 0;
        for &to in splits.iter().chain(core::iter::once(&message.len())) {
            let to = to.clamp(from, message.len());
            let chunk = &message[from..to];
            kept.extend_from_slice(&chunk[..cutter.keep(chunk)]);
            from = to;
        }
        kept
    }

    const MESSAGE: &[u8] = b"Subject: a\r\nFrom: b\r\n\r\nline 1\r\nline 2\r\nline 3\r\n";

    #[test]
    fn zero_lines_keeps_header_and_blank_line() {
        assert_eq!(cut(MESSAGE, 0, &[]), b"Subject: a\r\nFrom: b\r\n\r\n");
    }

    #[test]
    fn n_lines_keeps_n_body_lines() {
        assert_eq!(
            cut(MESSAGE, 2, &[]),
            b"Subject: a\r\nFrom: b\r\n\r\nline 1\r\nline 2\r\n"
        );
    }

    #[test]
    fn more_lines_than_the_body_keeps_everything() {
        assert_eq!(cut(MESSAGE, 10, &[]), MESSAGE);
        assert_eq!(
            cut(b"Subject: only a header\r\n", 0, &[]),
            b"Subject: only a header\r\n"
        );
    }

    #[test]
    fn bare_lf_and_bare_cr_end_lines() {
        assert_eq!(
            cut(b"A: b\n\nbody 1\nbody 2\n", 1, &[]),
            b"A: b\n\nbody 1\n"
        );
        assert_eq!(
            cut(b"A: b\r\rbody 1\rbody 2\r", 1, &[]),
            b"A: b\r\rbody 1\r"
        );
    }

    #[test]
    fn body_lines_starting_with_dots_and_empty_lines_count() {
        let message = b"H: v\r\n\r\n\r\n.\r\n..\r\nrest\r\n";
        assert_eq!(cut(message, 3, &[]), b"H: v\r\n\r\n\r\n.\r\n..\r\n");
    }

    #[test]
    fn every_split_gives_the_same_cut() {
        let messages: [&[u8]; 3] = [
            MESSAGE,
            b"A: b\r\rbody 1\rbody 2\r\nbody 3",
            b"X: y\r\n\r\n\r\r\n\n.\r\nz",
        ];
        for message in messages {
            for lines in 0..5 {
                let whole = cut(message, lines, &[]);
                for a in 0..=message.len() {
                    for b in a..=message.len() {
                        assert_eq!(
                            cut(message, lines, &[a, b]),
                            whole,
                            "{lines} lines, split {a} {b}"
                        );
                    }
                }
            }
        }
    }
}
