//! The blocking POP3 client: one connection on the calling thread. Received messages are
//! committed in batches of up to [`COMMIT_BATCH`] ([`Delivery::commit_all`]: the files fsynced
//! on a few threads at once, one fsync of `new/` for the batch); only then are they marked for
//! deletion or remembered. The batch also bounds what waits in memory.

use std::io;
use std::net::TcpStream;

use pop3_proto::client::{Connection, Event};

use super::client::{ClientArgs, ClientError, Download, Received, Summary};
use crate::driver::Flow;
use crate::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};
use crate::maildir::Delivery;
use crate::serve::{CONNECT_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};

/// Messages committed together. A batch is also committed early when no more messages are
/// coming.
pub const COMMIT_BATCH: usize = 32;

/// `pop3_client_blocking`: downloads as `args` say and returns the summary.
pub fn run(args: &ClientArgs) -> Result<Summary, ClientError> {
    let mut download = Download::new(args)?;
    let tls = match args.tls_config()? {
        Some((config, name)) => BlockingTls::Client(config, name),
        None => BlockingTls::None,
    };
    let tcp = connect(args)?;
    tcp.set_nodelay(true)?;
    let stream = if args.tls {
        tcp.set_read_timeout(Some(TLS_HANDSHAKE_TIMEOUT))?;
        BlockingStream::implicit_tls(tcp, &tls)?
    } else {
        BlockingStream::Plain(tcp)
    };
    let mut conn = Connection::new(args.machine_config());
    let mut handler = Handler {
        download: &mut download,
        batch: Vec::with_capacity(COMMIT_BATCH),
    };
    if let Err(error) = blocking::run(&mut conn, stream, &tls, &mut handler) {
        handler.download.fail(error.into());
    }
    // Received whole before the session ended: stored and remembered, never deleted.
    if let Err(error) = handler.commit_batch(None) {
        handler.download.fail(error);
    }
    download.finish()
}

fn connect(args: &ClientArgs) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the server");
    for addr in (args.server.host.as_str(), args.server.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(tcp) => return Ok(tcp),
            Err(error) => last = error,
        }
    }
    Err(last)
}

struct Handler<'a> {
    download: &'a mut Download,
    /// Received whole, not committed yet.
    batch: Vec<Received>,
}

impl Handler<'_> {
    /// Commits the batch, then settles it (see [`Download::settle`]): on `conn`, the stored
    /// messages are marked for deletion in delete mode; without a connection only kept.
    fn commit_batch(&mut self, conn: Option<&mut Connection>) -> Result<(), ClientError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let (msgs, deliveries): (Vec<_>, Vec<_>) = self
            .batch
            .drain(..)
            .map(|received| (received.msg, received.delivery))
            .unzip();
        let results = Delivery::commit_all(deliveries)
            .into_iter()
            .map(|result| result.map(|delivered| delivered.size));
        self.download.settle(conn, msgs.into_iter().zip(results))
    }
}

impl BlockingHandler<Connection> for Handler<'_> {
    fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        let outcome = match self.download.on_event(conn, event) {
            Ok(Some(received)) => {
                self.batch.push(received);
                if self.batch.len() >= COMMIT_BATCH {
                    self.commit_batch(Some(conn))
                } else {
                    Ok(())
                }
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => Ok(Flow::Continue),
            Err(error) => {
                // Dropping the connection deletes nothing on the server (RFC 1939 section 6).
                self.download.fail(error);
                Ok(Flow::Close)
            }
        }
    }

    /// Logged in with nothing in flight or queued: the machine awaits the next command. The
    /// messages held are committed (and, with `--delete`, marked), then QUIT once drained.
    fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        let mut progressed = false;
        if !self.batch.is_empty() && !self.download.awaiting_messages() {
            if let Err(error) = self.commit_batch(Some(conn)) {
                self.download.fail(error);
                return Err(io::Error::other("the download failed"));
            }
            progressed = true;
        }
        match self.download.finish_if_drained(conn) {
            Ok(queued) => Ok(progressed || queued),
            Err(error) => {
                self.download.fail(error);
                Err(io::Error::other("the download failed"))
            }
        }
    }
}
