//! The blocking socket loop: one thread per connection.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use mail_wire::session::Session;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

use super::{Ended, Flow, Gather, READ_BUFFER};

/// The application side of a session: answers the machine's events.
pub trait BlockingHandler<S: Session> {
    /// One event. Decisions are answered on `conn` before returning.
    fn on_event(&mut self, conn: &mut S, event: S::Event) -> io::Result<Flow>;

    /// Called when no event is pending, before the loop waits for the peer; returns true when
    /// it gave the machine something to send (see the tokio loop's `on_idle`).
    fn on_idle(&mut self, _conn: &mut S) -> io::Result<bool> {
        Ok(false)
    }
}

/// How to become TLS when the application asks for it.
#[derive(Clone)]
pub enum BlockingTls {
    /// No TLS on this connection.
    None,
    /// Server side of STARTTLS/STLS, or implicit TLS.
    Server(Arc<ServerConfig>),
    /// Client side, verifying the server as `name`.
    Client(Arc<ClientConfig>, ServerName<'static>),
}

/// A connection that is plain or TLS.
pub enum BlockingStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, server side.
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
    /// TLS, client side.
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl BlockingStream {
    /// Wraps a fresh connection in TLS at once (implicit TLS, RFC 8314).
    pub fn implicit_tls(tcp: TcpStream, tls: &BlockingTls) -> io::Result<Self> {
        Self::Plain(tcp).upgrade(tls)
    }

    /// True once TLS is in place.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Server(s) => s.get_ref(),
            Self::Client(s) => s.get_ref(),
        }
    }

    fn upgrade(self, tls: &BlockingTls) -> io::Result<Self> {
        let Self::Plain(tcp) = self else {
            return Err(io::Error::other("TLS is already established"));
        };
        let mut stream = match tls {
            BlockingTls::None => return Err(io::Error::other("no TLS configured")),
            BlockingTls::Server(config) => {
                let session = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                Self::Server(Box::new(StreamOwned::new(session, tcp)))
            }
            BlockingTls::Client(config, name) => {
                let session = ClientConnection::new(config.clone(), name.clone())
                    .map_err(io::Error::other)?;
                Self::Client(Box::new(StreamOwned::new(session, tcp)))
            }
        };
        stream.handshake()?;
        Ok(stream)
    }

    /// Completes the handshake now, so a failure shows here and not at the first read.
    fn handshake(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(_) => Ok(()),
            Self::Server(s) => {
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock)?;
                }
                Ok(())
            }
            Self::Client(s) => {
                while s.conn.is_handshaking() {
                    s.conn.complete_io(&mut s.sock)?;
                }
                Ok(())
            }
        }
    }

    fn shutdown(&mut self) {
        match self {
            Self::Plain(_) => {}
            Self::Server(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
            Self::Client(s) => {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for BlockingStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Server(s) => s.read(buf),
            Self::Client(s) => s.read(buf),
        }
    }
}

impl Write for BlockingStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Server(s) => s.write(buf),
            Self::Client(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Server(s) => s.flush(),
            Self::Client(s) => s.flush(),
        }
    }
}

/// Writes everything the machine has queued, small pieces gathered into one write; true
/// when there was something.
fn flush<S: Session>(
    conn: &mut S,
    stream: &mut BlockingStream,
    gather: &mut Gather,
) -> io::Result<bool> {
    let mut wrote = false;
    while let Some(bytes) = conn.poll_transmit() {
        wrote = true;
        let due = gather.push(&bytes);
        let large = due[1].is_some();
        for write in due.into_iter().flatten() {
            stream.write_all(write)?;
        }
        if large {
            gather.buf.clear();
        }
    }
    if !gather.buf.is_empty() {
        stream.write_all(&gather.buf)?;
        gather.buf.clear();
    }
    if wrote {
        stream.flush()?;
    }
    Ok(wrote)
}

/// Drives `conn` over `stream` until the session ends, handing events to `handler`.
pub fn run<S, H>(
    conn: &mut S,
    mut stream: BlockingStream,
    tls: &BlockingTls,
    handler: &mut H,
) -> io::Result<Ended>
where
    S: Session,
    H: BlockingHandler<S>,
{
    let mut buf = vec![0u8; READ_BUFFER];
    let mut gather = Gather::default();
    loop {
        // Taking transmits can let a machine process more pipelined input (its output is
        // bounded), which can make new events: only a pass with neither lets the loop wait.
        let mut progressed = false;
        while let Some(event) = conn.poll_event() {
            progressed = true;
            match handler.on_event(conn, event)? {
                Flow::Continue => {}
                Flow::StartTls => {
                    flush(conn, &mut stream, &mut gather)?;
                    stream = stream.upgrade(tls)?;
                    conn.tls_established().map_err(io::Error::other)?;
                }
                Flow::Close => {
                    flush(conn, &mut stream, &mut gather)?;
                    stream.shutdown();
                    return Ok(Ended::ApplicationClosed);
                }
            }
        }
        progressed |= flush(conn, &mut stream, &mut gather)?;
        if conn.is_closed() {
            stream.shutdown();
            return Ok(Ended::SessionClosed);
        }
        if progressed || handler.on_idle(conn)? {
            continue;
        }
        if !conn.wants_input() {
            return Err(io::Error::other(
                "the machine holds unprocessed input but gave no event",
            ));
        }
        stream.tcp().set_read_timeout(conn.timeout())?;
        match stream.read(&mut buf) {
            Ok(0) => return peer_closed(conn, handler, None),
            Ok(n) => conn.receive(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout()
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return peer_closed(conn, handler, Some(error)),
        }
    }
}

fn peer_closed<S, H>(conn: &mut S, handler: &mut H, error: Option<io::Error>) -> io::Result<Ended>
where
    S: Session,
    H: BlockingHandler<S>,
{
    conn.handle_close();
    while let Some(event) = conn.poll_event() {
        handler.on_event(conn, event)?;
    }
    match error {
        Some(error) => Err(error),
        None => Ok(Ended::PeerClosed),
    }
}
