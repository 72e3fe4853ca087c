//! The blocking socket loop: one thread per connection.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_wire::session::{Next, Session, WaitTimer};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

use super::{Ended, Flow, Gather, READ_BUFFER};

/// The application side of a session: answers the machine's events.
pub trait BlockingHandler<S: Session> {
    /// One event. Decisions are answered on `conn` before returning.
    fn on_event(&mut self, conn: &mut S, event: S::Event) -> io::Result<Flow>;

    /// The machine awaits the application with every decision answered: a client gives it
    /// its next work here. Returns false when there is none; the loop then ends the session.
    fn on_await(&mut self, _conn: &mut S) -> io::Result<bool> {
        Ok(false)
    }
}

/// How to become TLS when the machine asks for it.
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

/// Writes what was gathered, if anything.
fn flush(stream: &mut Option<BlockingStream>, gather: &mut Gather) -> io::Result<()> {
    if let Some(stream) = stream {
        if !gather.buf.is_empty() {
            stream.write_all(&gather.buf)?;
            stream.flush()?;
        }
    }
    gather.buf.clear();
    Ok(())
}

/// The time left until `deadline`, or `None` once it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Drives `conn` over `stream` until the session ends, handing events to `handler`: one
/// `match` on [`Session::poll`] (ARCHITECTURE.md, "The session contract").
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
    let mut buf = vec![0u8; READ_BUFFER];
    let mut gather = Gather::default();
    let mut timer = WaitTimer::new();
    // `None` once the socket is unusable (a failed or timed-out handshake).
    let mut stream = Some(stream);
    let mut failure = None;
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => {
                let due = gather.push(&bytes);
                let large = due[1].is_some();
                if let Some(stream) = &mut stream {
                    for write in due.into_iter().flatten() {
                        stream.write_all(write)?;
                    }
                }
                if large {
                    gather.buf.clear();
                }
            }
            Next::Event(event) => {
                if handler.on_event(conn, event)? == Flow::Close {
                    flush(&mut stream, &mut gather)?;
                    if let Some(mut stream) = stream {
                        stream.shutdown();
                    }
                    return Ok(Ended::ApplicationClosed);
                }
            }
            Next::Read(wait) => {
                flush(&mut stream, &mut gather)?;
                let Some(socket) = &mut stream else {
                    conn.handle_close();
                    continue;
                };
                let Some(left) = remaining(timer.deadline(wait, Instant::now())) else {
                    conn.handle_timeout();
                    continue;
                };
                socket.tcp().set_read_timeout(Some(left))?;
                match socket.read(&mut buf) {
                    Ok(0) => conn.handle_close(),
                    Ok(n) => conn.receive(&buf[..n]),
                    // The deadline is checked again before the next read.
                    Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        failure = Some(error);
                        conn.handle_close();
                    }
                }
            }
            Next::UpgradeTls(wait) => {
                flush(&mut stream, &mut gather)?;
                let Some(plain) = stream.take() else {
                    conn.handle_close();
                    continue;
                };
                let Some(left) = remaining(timer.deadline(wait, Instant::now())) else {
                    conn.handle_timeout();
                    continue;
                };
                // The handshake as a whole is bounded by the wait's deadline.
                plain.tcp().set_read_timeout(Some(left))?;
                plain.tcp().set_write_timeout(Some(left))?;
                match plain.upgrade(tls) {
                    Ok(secure) => {
                        secure.tcp().set_write_timeout(None)?;
                        stream = Some(secure);
                        conn.tls_established().map_err(io::Error::other)?;
                    }
                    Err(e) if is_timeout(&e) => conn.handle_timeout(),
                    Err(error) => {
                        failure = Some(error);
                        conn.handle_close();
                    }
                }
            }
            Next::AwaitApp => {
                flush(&mut stream, &mut gather)?;
                if !handler.on_await(conn)? {
                    conn.handle_close();
                }
            }
            Next::Closed(reason) => {
                flush(&mut stream, &mut gather)?;
                if let Some(mut stream) = stream {
                    stream.shutdown();
                }
                return match failure {
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
