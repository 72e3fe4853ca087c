//! The connection under the blocking loop: plain or TLS, the upgrade, and every socket
//! operation bounded by the wait's deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned};

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
    /// Wraps a fresh connection in TLS at once (implicit TLS, RFC 8314). A read timeout set
    /// on `tcp` bounds the handshake as a whole, however slowly the peer sends it.
    pub fn implicit_tls(tcp: TcpStream, tls: &BlockingTls) -> io::Result<Self> {
        let deadline = tcp.read_timeout()?.map(|limit| Instant::now() + limit);
        Self::Plain(tcp).upgrade(tls, deadline)
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

    /// Runs the TLS handshake over this plain connection, all of it before `deadline` when
    /// one is given.
    pub(super) fn upgrade(self, tls: &BlockingTls, deadline: Option<Instant>) -> io::Result<Self> {
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
        stream.handshake(deadline)?;
        if deadline.is_some() {
            stream.tcp().set_write_timeout(None)?;
        }
        Ok(stream)
    }

    /// Completes the handshake now, so a failure shows here and not at the first read.
    fn handshake(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        match self {
            Self::Plain(_) => Ok(()),
            Self::Server(s) => {
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut Deadlined::new(&mut s.sock, deadline))?;
                }
                Ok(())
            }
            Self::Client(s) => {
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut Deadlined::new(&mut s.sock, deadline))?;
                }
                Ok(())
            }
        }
    }

    /// Reads what the peer sent, waiting until `deadline` at most. Over TLS a record may
    /// take many socket reads; each one gets only the time left, so a peer trickling a
    /// record cannot stretch the wait (ARCHITECTURE.md security invariant 9).
    pub(super) fn read_within(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        match self {
            Self::Plain(s) => Deadlined::new(s, Some(deadline)).read(buf),
            Self::Server(s) => {
                let StreamOwned { conn, sock } = &mut **s;
                rustls::Stream::new(conn, &mut Deadlined::new(sock, Some(deadline))).read(buf)
            }
            Self::Client(s) => {
                let StreamOwned { conn, sock } = &mut **s;
                rustls::Stream::new(conn, &mut Deadlined::new(sock, Some(deadline))).read(buf)
            }
        }
    }

    pub(super) fn shutdown(&mut self) {
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

/// The socket under a read or a TLS handshake, every operation of it bounded by the
/// deadline: each read (and write) gets the time left, and none starts once it has passed.
struct Deadlined<'a> {
    tcp: &'a mut TcpStream,
    deadline: Option<Instant>,
}

impl<'a> Deadlined<'a> {
    fn new(tcp: &'a mut TcpStream, deadline: Option<Instant>) -> Self {
        Self { tcp, deadline }
    }

    /// The time left, or a timeout error once the deadline has passed.
    fn left(&self) -> io::Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(deadline) => remaining(deadline)
                .map(Some)
                .ok_or_else(|| io::ErrorKind::TimedOut.into()),
        }
    }
}

impl Read for Deadlined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(left) = self.left()? {
            self.tcp.set_read_timeout(Some(left))?;
        }
        self.tcp.read(buf)
    }
}

impl Write for Deadlined<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(left) = self.left()? {
            self.tcp.set_write_timeout(Some(left))?;
        }
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
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

/// The time left until `deadline`, or `None` once it has passed.
pub(super) fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}
