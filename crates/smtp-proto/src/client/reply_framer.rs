//! Whole replies off a receive buffer, in linear time whatever the split of the input.
//!
//! [`Reply::parse`] wants a whole (possibly multi-line) reply and re-reads it from the start
//! when it is incomplete; fed a byte at a time that is quadratic. This framer remembers how
//! far it searched, finds the last line of a reply (`NNN SP`), and only then hands the reply
//! (split off the buffer, no copy) to the parser.

use bytes::BytesMut;

use crate::error::{ParseError, ReplyError};
use crate::limits::Limits;
use crate::reply::Reply;

#[derive(Debug, Clone, Default)]
pub(crate) struct ReplyFramer {
    /// Octets at the front of the buffer already searched for line ends.
    scanned: usize,
    /// Where the line being searched begins.
    line_start: usize,
    /// Lines of the reply being received seen so far.
    lines: usize,
}

impl ReplyFramer {
    pub(crate) const fn new() -> ReplyFramer {
        ReplyFramer {
            scanned: 0,
            line_start: 0,
            lines: 0,
        }
    }

    /// Forgets what was searched (call it when the buffer is cleared).
    pub(crate) fn reset(&mut self) {
        *self = ReplyFramer::new();
    }

    /// The next whole reply at the front of `buf`, taken off it; `None` until one has arrived.
    /// An error is final: the framer does not resynchronise (a client cannot trust a server
    /// that sends a malformed reply).
    pub(crate) fn next_reply(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Option<Result<Reply, ReplyError>> {
        loop {
            let line_start = self.line_start;
            let Some(offset) = memchr::memchr(b'\n', &buf[self.scanned..]) else {
                self.scanned = buf.len();
                if buf.len() - line_start > limits.reply_line {
                    return Some(Err(ReplyError::LineTooLong {
                        limit: limits.reply_line,
                    }));
                }
                return None;
            };
            let lf = self.scanned + offset;
            if lf + 1 - line_start > limits.reply_line {
                return Some(Err(ReplyError::LineTooLong {
                    limit: limits.reply_line,
                }));
            }
            self.lines += 1;
            if self.lines > limits.reply_lines {
                return Some(Err(ReplyError::TooManyLines {
                    limit: limits.reply_lines,
                }));
            }
            let last = !(line_start + 3 < lf && buf[line_start + 3] == b'-');
            self.scanned = lf + 1;
            self.line_start = lf + 1;
            if last {
                let raw = buf.split_to(lf + 1).freeze();
                self.reset();
                return Some(match Reply::parse(&raw, limits) {
                    Ok((reply, used)) if used == raw.len() => Ok(reply),
                    Ok(_) | Err(ParseError::Incomplete) => {
                        Err(ReplyError::Syntax("reply ends before its last line"))
                    }
                    Err(ParseError::Invalid { error, .. }) => Err(error),
                });
            }
        }
    }
}
