//! The tokio socket loop.

use std::future::Future;
use std::io;
use std::sync::Arc;

use mail_wire::session::Session;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use super::{Ended, Flow, Gather, READ_BUFFER};

/// The application side of a session: answers the machine's events.
pub trait Handler<S: Session> {
    /// One event. Decisions are answered on `conn` before returning.
    fn on_event(
        &mut self,
        conn: &mut S,
        event: S::Event,
    ) -> impl Future<Output = io::Result<Flow>> + Send;

    /// Called when no event is pending, before the loop waits for the peer: a client pushes
    /// more of its work here (the next body chunk, the next command). Returns true when it
    /// gave the machine something, so the loop writes it instead of waiting.
    fn on_idle(&mut self, _conn: &mut S) -> impl Future<Output = io::Result<bool>> + Send {
        async { Ok(false) }
    }
}

/// How to become TLS when the application asks for it.
#[derive(Clone)]
pub enum TlsUpgrade {
    /// No TLS on this connection: a [`Flow::StartTls`] is an error.
    None,
    /// Server side of STARTTLS/STLS.
    Server(TlsAcceptor),
    /// Client side, verifying the server as `name`.
    Client(TlsConnector, ServerName<'static>),
}

impl TlsUpgrade {
    /// Server side from a rustls configuration.
    pub fn server(config: Arc<rustls::ServerConfig>) -> Self {
        Self::Server(TlsAcceptor::from(config))
    }

    /// Client side from a rustls configuration and the server's name.
    pub fn client(config: Arc<rustls::ClientConfig>, name: ServerName<'static>) -> Self {
        Self::Client(TlsConnector::from(config), name)
    }
}

/// A connection that is plain or TLS (upgraded, or TLS from the start on 465/995).
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Wraps a fresh connection in TLS at once (implicit TLS, RFC 8314), as `tls` says.
    pub async fn implicit_tls(tcp: TcpStream, tls: &TlsUpgrade) -> io::Result<Self> {
        Self::Plain(tcp).upgrade(tls).await
    }

    /// True once TLS is in place.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls(_))
    }

    async fn upgrade(self, tls: &TlsUpgrade) -> io::Result<Self> {
        let Self::Plain(tcp) = self else {
            return Err(io::Error::other("TLS is already established"));
        };
        let stream = match tls {
            TlsUpgrade::None => return Err(io::Error::other("no TLS configured")),
            TlsUpgrade::Server(acceptor) => TlsStream::from(acceptor.accept(tcp).await?),
            TlsUpgrade::Client(connector, name) => {
                TlsStream::from(connector.connect(name.clone(), tcp).await?)
            }
        };
        Ok(Self::Tls(Box::new(stream)))
    }

    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf).await,
            Self::Tls(s) => s.read(buf).await,
        }
    }

    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.write_all(buf).await,
            Self::Tls(s) => s.write_all(buf).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush().await,
            Self::Tls(s) => s.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.shutdown().await,
            Self::Tls(s) => s.shutdown().await,
        }
    }
}

/// Writes everything the machine has queued, small pieces gathered into one write; true
/// when there was something.
async fn flush<S: Session>(
    conn: &mut S,
    stream: &mut Stream,
    gather: &mut Gather,
) -> io::Result<bool> {
    let mut wrote = false;
    while let Some(bytes) = conn.poll_transmit() {
        wrote = true;
        let due = gather.push(&bytes);
        let large = due[1].is_some();
        for write in due.into_iter().flatten() {
            stream.write_all(write).await?;
        }
        if large {
            gather.buf.clear();
        }
    }
    if !gather.buf.is_empty() {
        stream.write_all(&gather.buf).await?;
        gather.buf.clear();
    }
    if wrote {
        stream.flush().await?;
    }
    Ok(wrote)
}

/// Drives `conn` over `stream` until the session ends, handing events to `handler`.
pub async fn run<S, H>(
    conn: &mut S,
    mut stream: Stream,
    tls: &TlsUpgrade,
    handler: &mut H,
) -> io::Result<Ended>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S> + Send,
{
    let mut buf = vec![0u8; READ_BUFFER];
    let mut gather = Gather::default();
    loop {
        // Taking transmits can let a machine process more pipelined input (its output is
        // bounded), which can make new events: only a pass with neither lets the loop wait.
        let mut progressed = false;
        while let Some(event) = conn.poll_event() {
            progressed = true;
            match handler.on_event(conn, event).await? {
                Flow::Continue => {}
                Flow::StartTls => {
                    flush(conn, &mut stream, &mut gather).await?;
                    stream = stream.upgrade(tls).await?;
                    conn.tls_established().map_err(io::Error::other)?;
                }
                Flow::Close => {
                    flush(conn, &mut stream, &mut gather).await?;
                    let _ = stream.shutdown().await;
                    return Ok(Ended::ApplicationClosed);
                }
            }
        }
        progressed |= flush(conn, &mut stream, &mut gather).await?;
        if conn.is_closed() {
            let _ = stream.shutdown().await;
            return Ok(Ended::SessionClosed);
        }
        if progressed || handler.on_idle(conn).await? {
            continue;
        }
        if !conn.wants_input() {
            return Err(io::Error::other(
                "the machine holds unprocessed input but gave no event",
            ));
        }
        let read = match conn.timeout() {
            Some(limit) => tokio::time::timeout(limit, stream.read(&mut buf)).await,
            None => Ok(stream.read(&mut buf).await),
        };
        match read {
            Err(_elapsed) => conn.handle_timeout(),
            Ok(Ok(0)) => return peer_closed(conn, handler, None).await,
            Ok(Ok(n)) => conn.receive(&buf[..n]),
            Ok(Err(error)) => return peer_closed(conn, handler, Some(error)).await,
        }
    }
}

/// The peer is gone: the machine learns it, and the application gets its last events
/// (e.g. a message aborted mid-DATA). Nothing is written any more.
async fn peer_closed<S, H>(
    conn: &mut S,
    handler: &mut H,
    error: Option<io::Error>,
) -> io::Result<Ended>
where
    S: Session + Send,
    S::Event: Send,
    H: Handler<S> + Send,
{
    conn.handle_close();
    while let Some(event) = conn.poll_event() {
        handler.on_event(conn, event).await?;
    }
    match error {
        Some(error) => Err(error),
        None => Ok(Ended::PeerClosed),
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, the servers' graceful stop, caught from the moment this value
/// is created: create it before a server announces itself, so that a signal sent right after
/// the announcement is not missed (and does not kill the process the default way).
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers now. Needs a tokio runtime (call it inside one, or inside
    /// `Runtime::block_on`/`enter`).
    pub fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for either signal.
    pub async fn wait(mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
