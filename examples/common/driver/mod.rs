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
//!
//! # Draining
//!
//! A stopping server stops accepting and then drains: every live session is told once
//! ([`Handler::on_shutdown`](tokio::Handler::on_shutdown), which the servers answer with the
//! machine's `shutdown()`), so an idle session closes now (SMTP with 421 4.3.2, RFC 5321
//! section 3.8) while one in the middle of a message finishes it first. The server holds a
//! [`Drain`]; each loop run by `run_draining` watches it through a [`DrainWatch`] and tells
//! the machine when it waits on the peer ([`Next::Read`](mail_wire::session::Next::Read)),
//! the only place a session can sit idle. The machine then decides, in its next `poll`, what
//! to send and whether to close: the loops stay one `match` on `poll()`.

pub mod blocking;
pub mod tokio;

use ::tokio::sync::watch;
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

/// A server's stop switch for its sessions: [`start`](Self::start) tells every
/// [`DrainWatch`] made from it (see the [module docs](self), "Draining"). A `tokio::sync::watch`
/// channel underneath: readable without a runtime, so the blocking loop uses it too.
#[derive(Debug, Clone)]
pub struct Drain {
    sender: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// Not draining yet.
    pub fn new() -> Self {
        Self {
            sender: std::sync::Arc::new(watch::Sender::new(false)),
        }
    }

    /// A watch for one session.
    pub fn watch(&self) -> DrainWatch {
        DrainWatch {
            receiver: Some(self.sender.subscribe()),
        }
    }

    /// Starts draining: every watch, present and future, sees it.
    pub fn start(&self) {
        self.sender.send_replace(true);
    }

    /// Whether [`start`](Self::start) was called.
    pub fn is_draining(&self) -> bool {
        *self.sender.borrow()
    }
}

/// One session's view of a [`Drain`].
#[derive(Debug, Clone)]
pub struct DrainWatch {
    /// `None`: never drains (a client, or a server without a graceful stop).
    receiver: Option<watch::Receiver<bool>>,
}

impl DrainWatch {
    /// A watch that never fires.
    pub fn never() -> Self {
        Self { receiver: None }
    }

    /// Whether the server is draining.
    pub fn is_draining(&self) -> bool {
        self.receiver.as_ref().is_some_and(|r| *r.borrow())
    }

    /// Whether it can ever fire (a `Drain` is still there to start it).
    fn is_live(&self) -> bool {
        self.receiver
            .as_ref()
            .is_some_and(|r| *r.borrow() || r.has_changed().is_ok())
    }

    /// Completes once the server drains; never, when it cannot.
    async fn draining(&mut self) {
        let fired = match &mut self.receiver {
            Some(receiver) => receiver.wait_for(|draining| *draining).await.is_ok(),
            None => false,
        };
        if !fired {
            std::future::pending::<()>().await;
        }
    }
}

/// A loop's side of draining: tells the machine once.
#[derive(Debug)]
struct Stopping {
    watch: DrainWatch,
    told: bool,
}

impl Stopping {
    fn new(watch: DrainWatch) -> Self {
        Self { watch, told: false }
    }

    /// True exactly once, when the server drains: the loop tells the machine now.
    fn due(&mut self) -> bool {
        if self.told || !self.watch.is_draining() {
            return false;
        }
        self.told = true;
        true
    }

    /// Whether a wait on the peer should also watch for the drain.
    fn pending(&self) -> bool {
        !self.told && self.watch.is_live()
    }

    /// Completes when the machine is to be told; never once it was.
    async fn fired(&mut self) {
        if self.told {
            std::future::pending::<()>().await;
        }
        self.watch.draining().await;
    }
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
    /// Gives the buffer's capacity back when it holds nothing (the session goes idle).
    fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
    }

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
