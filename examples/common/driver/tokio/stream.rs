//! The connection under the tokio loop: plain or TLS, the upgrade, and the one read buffer
//! per runtime thread.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mail_wire::session::Session;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::driver::{Gather, READ_BUFFER};

/// How to become TLS when the application asks for it.
#[derive(Clone)]
pub enum TlsUpgrade {
    /// No TLS on this connection: an upgrade the machine asks for fails the connection.
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

    pub(super) async fn upgrade(self, tls: &TlsUpgrade) -> io::Result<Self> {
        let Self::Plain(tcp) = self else {
            return Err(io::Error::other("TLS is already established"));
        };
        // The handshake's future holds a whole rustls connection (over 1 KiB): boxed, it
        // takes memory only while a handshake runs, not in every session's task for its
        // whole life (an idle plain session would carry it).
        let stream = match tls {
            TlsUpgrade::None => return Err(io::Error::other("no TLS configured")),
            TlsUpgrade::Server(acceptor) => TlsStream::from(Box::pin(acceptor.accept(tcp)).await?),
            TlsUpgrade::Client(connector, name) => {
                TlsStream::from(Box::pin(connector.connect(name.clone(), tcp)).await?)
            }
        };
        Ok(Self::Tls(Box::new(stream)))
    }

    /// One read straight into the machine (`receive`), through this thread's scratch buffer:
    /// a buffer is borrowed only for the poll that has bytes, never held while the session
    /// waits. When nothing is there (`Pending`: the burst is over, the session goes idle), the
    /// machine and the gather buffer give their spare capacity back. Gives the octets read;
    /// 0 is the end of the stream.
    pub(super) fn poll_receive<S: Session>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut S,
        gather: &mut Gather,
    ) -> Poll<io::Result<usize>> {
        let polled = SCRATCH
            .try_with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut buf) => self.poll_read_into(cx, conn, &mut buf),
                // Never expected (nothing polls a read inside a read), but a panic is no
                // answer: a buffer of its own for this read.
                Err(_) => self.poll_read_into(cx, conn, &mut vec![0; READ_BUFFER]),
            })
            // The thread is ending (its locals are being destroyed): likewise.
            .unwrap_or_else(|_| self.poll_read_into(cx, conn, &mut vec![0; READ_BUFFER]));
        if polled.is_pending() {
            conn.release_idle_buffers();
            gather.release();
        }
        polled
    }

    fn poll_read_into<S: Session>(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut S,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        let polled = match self {
            Self::Plain(s) => Pin::new(s).poll_read(cx, &mut buf),
            Self::Tls(s) => Pin::new(&mut **s).poll_read(cx, &mut buf),
        };
        polled.map_ok(|()| {
            conn.receive(buf.filled());
            buf.filled().len()
        })
    }

    pub(super) async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.write_all(buf).await,
            Self::Tls(s) => s.write_all(buf).await,
        }
    }

    pub(super) async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush().await,
            Self::Tls(s) => s.flush().await,
        }
    }

    pub(super) async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.shutdown().await,
            Self::Tls(s) => s.shutdown().await,
        }
    }
}

thread_local! {
    /// The read buffer of every session this runtime thread drives. A read copies out of it
    /// into the machine within one poll (cancel-safe: nothing stays in it between polls), so
    /// one per thread serves them all; a 16 KiB buffer per connection would be most of what
    /// an idle session costs.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUFFER]);
}
