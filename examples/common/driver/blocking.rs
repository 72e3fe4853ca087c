//! The blocking socket loop: one thread per connection. The connection it drives (plain or
//! TLS, every operation bounded by a deadline) is in `stream`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use mail_wire::session::{Next, Session, WaitTimer};

use super::{DrainWatch, Ended, Flow, Gather, READ_BUFFER, Stopping};

mod stream;
use stream::remaining;
pub use stream::{BlockingStream, BlockingTls};

/// While a server may drain, a read waits at most this long before the loop looks again (see
/// [`run_draining`]).
pub const DRAIN_POLL: Duration = Duration::from_millis(200);

/// How long a read waits before the session counts as idle and its machine gives its empty
/// buffers back (a blocking read cannot tell that it is about to wait, as tokio's can).
const IDLE_GRACE: Duration = Duration::from_millis(200);

/// The application side of a session: answers the machine's events.
pub trait BlockingHandler<S: Session> {
    /// One event. Decisions are answered on `conn` before returning.
    fn on_event(&mut self, conn: &mut S, event: S::Event) -> io::Result<Flow>;

    /// The machine awaits the application with every decision answered: a client gives it
    /// its next work here. Returns false when there is none; the loop then ends the session.
    fn on_await(&mut self, _conn: &mut S) -> io::Result<bool> {
        Ok(false)
    }

    /// The server is draining (see [`super`], "Draining"): called once, while the machine
    /// waits on the peer. A server asks its machine to end gracefully (`conn.shutdown()`);
    /// the default does nothing (clients are not drained).
    fn on_shutdown(&mut self, _conn: &mut S) {}
}

/// Writes what was gathered, if anything.
fn flush(stream: &mut BlockingStream, gather: &mut Gather) -> io::Result<()> {
    if !gather.buf.is_empty() {
        let written = stream.write_all(&gather.buf).and_then(|()| stream.flush());
        gather.buf.clear();
        written?;
    }
    Ok(())
}

/// The socket, while it is usable, and the first error it gave.
struct Socket {
    /// `None` once the socket failed (or a handshake failed or timed out): the machine was
    /// told, and only its last events are left to hand out.
    stream: Option<BlockingStream>,
    failure: Option<io::Error>,
}

impl Socket {
    /// Writes what was gathered. A write error is the socket failing: the machine learns it
    /// (`handle_close`), and the loop returns the error once the machine has finished.
    fn flush<S: Session>(&mut self, conn: &mut S, gather: &mut Gather) {
        let Some(stream) = &mut self.stream else {
            gather.buf.clear();
            return;
        };
        if let Err(error) = flush(stream, gather) {
            self.failed(conn, error);
        }
    }

    /// Writes `bytes`, gathering small pieces (see [`Gather`]).
    fn transmit<S: Session>(&mut self, conn: &mut S, gather: &mut Gather, bytes: &[u8]) {
        let due = gather.push(bytes);
        let large = due[1].is_some();
        let written = match &mut self.stream {
            Some(stream) => due
                .into_iter()
                .flatten()
                .try_for_each(|piece| stream.write_all(piece)),
            None => Ok(()),
        };
        if large {
            gather.buf.clear();
        }
        if let Err(error) = written {
            self.failed(conn, error);
        }
    }

    fn failed<S: Session>(&mut self, conn: &mut S, error: io::Error) {
        self.stream = None;
        self.failure.get_or_insert(error);
        conn.handle_close();
    }
}

/// Drives `conn` over `stream` until the session ends, handing events to `handler`: one
/// `match` on [`Session::poll`] (ARCHITECTURE.md, "The session contract"). Every wait on the
/// peer ends at its deadline, however the peer trickles its bytes. When the socket fails (a
/// read, a write, a TLS handshake), the machine is told (`handle_close`), its last events are
/// handed out, and the error is returned once it has finished; an error of the handler is
/// returned at once.
pub fn run<S, H>(
    conn: &mut S,
    stream: BlockingStream,
    tls: &BlockingTls,
    handler: &mut H,
) -> io::Result<Ended>
where
    S: Session,
    H: BlockingHandler<S>,
{
    run_draining(conn, stream, tls, handler, DrainWatch::never())
}

/// [`run`], and when `drain` fires, [`BlockingHandler::on_shutdown`] once (see [`super`],
/// "Draining").
///
/// A blocked `read` cannot also wait for the drain: std has no portable way to wait on a
/// socket and a wake-up together, and shutting the socket's read half down to wake it would
/// also cut a message still arriving, which must finish. So while the drain may come, each
/// read waits at most [`DRAIN_POLL`], and the loop looks at the drain between reads. The
/// wait's deadline is unchanged by it: a read cut short is retried until the deadline.
pub fn run_draining<S, H>(
    conn: &mut S,
    stream: BlockingStream,
    tls: &BlockingTls,
    handler: &mut H,
    drain: DrainWatch,
) -> io::Result<Ended>
where
    S: Session,
    H: BlockingHandler<S>,
{
    let mut stopping = Stopping::new(drain);
    // One read buffer for the session's thread, its whole life: a thread per connection is
    // the unit of cost here, and its stack weighs more.
    let mut buf = vec![0u8; READ_BUFFER];
    // The buffers were given back since the last read that had bytes.
    let mut released = false;
    let mut gather = Gather::default();
    let mut timer = WaitTimer::new();
    let mut socket = Socket {
        stream: Some(stream),
        failure: None,
    };
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.transmit(conn, &mut gather, &bytes),
            Next::Event(event) => {
                if handler.on_event(conn, event)? == Flow::Close {
                    if let Some(mut stream) = socket.stream.take() {
                        flush(&mut stream, &mut gather)?;
                        stream.shutdown();
                    }
                    return Ok(Ended::ApplicationClosed);
                }
            }
            Next::Read(wait) => {
                socket.flush(conn, &mut gather);
                let Some(stream) = &mut socket.stream else {
                    conn.handle_close();
                    continue;
                };
                if stopping.due() {
                    handler.on_shutdown(conn);
                    continue;
                }
                let deadline = timer.deadline(wait, Instant::now());
                if remaining(deadline).is_none() {
                    conn.handle_timeout();
                    continue;
                }
                let until = if stopping.pending() {
                    deadline.min(Instant::now() + DRAIN_POLL)
                } else {
                    deadline
                };
                // A read still waiting after IDLE_GRACE finds the session idle: the machine
                // and the gather buffer give their capacity back, once (a busy session's
                // reads return sooner and reuse them).
                let until = if released {
                    until
                } else {
                    until.min(Instant::now() + IDLE_GRACE)
                };
                match stream.read_within(&mut buf, until) {
                    Ok(0) => conn.handle_close(),
                    Ok(n) => {
                        released = false;
                        conn.receive(&buf[..n]);
                    }
                    // The deadline is checked again before the next read.
                    Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {
                        if !released && is_timeout(&e) {
                            conn.release_idle_buffers();
                            gather.release();
                            released = true;
                        }
                    }
                    Err(error) => socket.failed(conn, error),
                }
            }
            Next::UpgradeTls(wait) => {
                socket.flush(conn, &mut gather);
                if socket.stream.is_none() {
                    conn.handle_close();
                    continue;
                }
                let deadline = timer.deadline(wait, Instant::now());
                if remaining(deadline).is_none() {
                    conn.handle_timeout();
                    continue;
                }
                let Some(plain) = socket.stream.take() else {
                    continue;
                };
                // The handshake as a whole is bounded by the wait's deadline. When it fails
                // or times out, the socket is unusable: nothing more is written.
                match plain.upgrade(tls, Some(deadline)) {
                    Ok(secure) => {
                        socket.stream = Some(secure);
                        conn.tls_established().map_err(io::Error::other)?;
                    }
                    Err(e) if is_timeout(&e) => conn.handle_timeout(),
                    Err(error) => socket.failed(conn, error),
                }
            }
            Next::AwaitApp => {
                socket.flush(conn, &mut gather);
                if !handler.on_await(conn)? {
                    conn.handle_close();
                }
            }
            Next::Closed(reason) => {
                socket.flush(conn, &mut gather);
                if let Some(mut stream) = socket.stream {
                    stream.shutdown();
                }
                return match socket.failure {
                    Some(error) => Err(error),
                    None => Ok(Ended::Session(reason)),
                };
            }
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
