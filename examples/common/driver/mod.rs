//! The socket loops: one per runtime, driving any [`Session`](mail_wire::session::Session)
//! machine of `smtp-proto` or `pop3-proto`, client or server.
//!
//! A loop is one `match` on the machine's `poll()` (the contract in ARCHITECTURE.md): it
//! writes what the machine transmits, reads when it waits for the peer, until the wait's
//! deadline ([`WaitTimer`](mail_wire::session::WaitTimer): trickled bytes do not move it),
//! upgrades to TLS when the machine asks, and hands every event to a
//! [`Handler`](tokio::Handler) (tokio) or [`BlockingHandler`](blocking::BlockingHandler). What
//! to answer is the handler's business; how to talk is the machine's. Nothing here knows SMTP
//! or POP3.

pub mod blocking;
pub mod tokio;

use mail_wire::session::CloseReason;

/// What the application asks of the loop after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Write what the machine has queued, then close the connection.
    Close,
}

/// How a loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The machine ended the session, for this reason.
    Session(CloseReason),
    /// The application asked to close ([`Flow::Close`]).
    ApplicationClosed,
}

/// Size of the read buffer: one read never hands the machine more than this.
pub const READ_BUFFER: usize = 16 * 1024;

/// Pieces of output up to this size are gathered into one write (pipelined replies, a
/// greeting and its capabilities): one system call, one TCP segment, instead of one each.
const GATHER_LIMIT: usize = 16 * 1024;

/// Gathers small pieces of output; hands out what to write, in order: `flush` yields the
/// gathered bytes before a large piece, which is written as it is (no copy of message data).
#[derive(Debug, Default)]
struct Gather {
    buf: Vec<u8>,
}

impl Gather {
    /// Takes `piece`; returns the writes it makes due now: the gathered bytes (when `piece`
    /// does not fit) and `piece` itself (when it is large).
    fn push<'a>(&'a mut self, piece: &'a [u8]) -> [Option<&'a [u8]>; 2] {
        if self.buf.len() + piece.len() <= GATHER_LIMIT {
            self.buf.extend_from_slice(piece);
            return [None, None];
        }
        [(!self.buf.is_empty()).then_some(&self.buf[..]), Some(piece)]
    }
}
