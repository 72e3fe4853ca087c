//! The tokio socket loop. The connection it drives (plain or TLS, one read buffer per
//! runtime thread) is in `stream`.

use std::future::{Future, poll_fn};
use std::io;

use mail_wire::session::{Next, Session, WaitTimer};
use tokio::time::Instant;

use super::{DrainWatch, Ended, Flow, Gather, Stopping};

mod stream;
pub use stream::{Stream, TlsUpgrade};

/// The application side of a session: answers the machine's events.
pub trait Handler<S: Session> {
    /// One event. Decisions are answered on `conn` before returning.
    fn on_event(
        &mut self,
        conn: &mut S,
        event: S::Event,
    ) -> impl Future<Output = io::Result<Flow>> + Send;

    /// The machine awaits the application with every decision answered ([`Next::AwaitApp`]):
    /// a client gives it its next work here (the next body chunk, the next command). Returns
    /// false when there is none; the loop then ends the session.
    fn on_await(&mut self, _conn: &mut S) -> impl Future<Output = io::Result<bool>> + Send {
        async { Ok(false) }
    }

    /// The server is draining (see [`super`], "Draining"): called once, while the machine
    /// waits on the peer. A server asks its machine to end gracefully (`conn.shutdown()`);
    /// the default does nothing (clients are not drained).
    fn on_shutdown(&mut self, _conn: &mut S) {}
}

/// Writes what was gathered, if anything.
async fn flush(stream: &mut Stream, gather: &mut Gather) -> io::Result<()> {
    if !gather.buf.is_empty() {
        let written = match stream.write_all(&gather.buf).await {
            Ok(()) => stream.flush().await,
            Err(error) => Err(error),
        };
        gather.buf.clear();
        written?;
    }
    Ok(())
}

/// The socket, while it is usable, and the first error it gave.
struct Socket {
    /// `None` once the socket failed (or a handshake failed or timed out): the machine was
    /// told, and only its last events are left to hand out.
    stream: Option<Stream>,
    failure: Option<io::Error>,
}

impl Socket {
    /// Writes what was gathered. A write error is the socket failing: the machine learns it
    /// (`handle_close`), and the loop returns the error once the machine has finished.
    async fn flush<S: Session>(&mut self, conn: &mut S, gather: &mut Gather) {
        let Some(stream) = &mut self.stream else {
            gather.buf.clear();
            return;
        };
        if let Err(error) = flush(stream, gather).await {
            self.failed(conn, error);
        }
    }

    /// Writes `bytes`, gathering small pieces (see [`Gather`]).
    async fn transmit<S: Session>(&mut self, conn: &mut S, gather: &mut Gather, bytes: &[u8]) {
        let due = gather.push(bytes);
        let large = due[1].is_some();
        let mut written = Ok(());
        if let Some(stream) = &mut self.stream {
            for piece in due.into_iter().flatten() {
                written = stream.write_all(piece).await;
                if written.is_err() {
                    break;
                }
            }
        }
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
pub async fn run<S, H>(
    conn: &mut S,
    stream: Stream,
    tls: &TlsUpgrade,
    handler: &mut H,
) -> io::Result<Ended>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S> + Send,
{
    run_draining(conn, stream, tls, handler, DrainWatch::never()).await
}

/// [`run`], and when `drain` fires, [`Handler::on_shutdown`] once (see [`super`],
/// "Draining"). A read the drain interrupts is dropped before it took anything (tokio's
/// reads are cancel-safe, TLS ones too: rustls keeps what it decrypted), and the wait goes
/// on with its deadline unchanged.
pub async fn run_draining<S, H>(
    conn: &mut S,
    stream: Stream,
    tls: &TlsUpgrade,
    handler: &mut H,
    drain: DrainWatch,
) -> io::Result<Ended>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S> + Send,
{
    let mut stopping = Stopping::new(drain);
    let mut gather = Gather::default();
    let mut timer = WaitTimer::new();
    let mut socket = Socket {
        stream: Some(stream),
        failure: None,
    };
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.transmit(conn, &mut gather, &bytes).await,
            Next::Event(event) => {
                if handler.on_event(conn, event).await? == Flow::Close {
                    if let Some(mut stream) = socket.stream.take() {
                        flush(&mut stream, &mut gather).await?;
                        let _ = stream.shutdown().await;
                    }
                    return Ok(Ended::ApplicationClosed);
                }
            }
            Next::Read(wait) => {
                socket.flush(conn, &mut gather).await;
                let Some(stream) = &mut socket.stream else {
                    conn.handle_close();
                    continue;
                };
                if stopping.due() {
                    handler.on_shutdown(conn);
                    continue;
                }
                let deadline = timer.deadline(wait, Instant::now());
                let read = poll_fn(|cx| stream.poll_receive(cx, conn, &mut gather));
                let read = tokio::time::timeout_at(deadline, read);
                tokio::select! {
                    read = read => match read {
                        Err(_elapsed) => conn.handle_timeout(),
                        Ok(Ok(0)) => conn.handle_close(),
                        // Already given to the machine, inside the read.
                        Ok(Ok(_)) => {}
                        Ok(Err(error)) => socket.failed(conn, error),
                    },
                    () = stopping.fired(), if stopping.pending() => {}
                }
            }
            Next::UpgradeTls(wait) => {
                socket.flush(conn, &mut gather).await;
                let Some(plain) = socket.stream.take() else {
                    conn.handle_close();
                    continue;
                };
                // The handshake as a whole is bounded by the wait's deadline. When it fails
                // or times out, the socket is unusable: nothing more is written.
                let deadline = timer.deadline(wait, Instant::now());
                match tokio::time::timeout_at(deadline, plain.upgrade(tls)).await {
                    Err(_elapsed) => conn.handle_timeout(),
                    Ok(Ok(secure)) => {
                        socket.stream = Some(secure);
                        conn.tls_established().map_err(io::Error::other)?;
                    }
                    Ok(Err(error)) => socket.failed(conn, error),
                }
            }
            Next::AwaitApp => {
                socket.flush(conn, &mut gather).await;
                if !handler.on_await(conn).await? {
                    conn.handle_close();
                }
            }
            Next::Closed(reason) => {
                socket.flush(conn, &mut gather).await;
                if let Some(mut stream) = socket.stream {
                    let _ = stream.shutdown().await;
                }
                return match socket.failure {
                    Some(error) => Err(error),
                    None => Ok(Ended::Session(reason)),
                };
            }
        }
    }
}
