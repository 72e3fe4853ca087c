//! The tokio POP3 client. Received messages are committed in batches of up to
//! [`COMMIT_BATCH`] ([`Delivery::commit_all_async`]: the files fsynced in parallel on tokio's
//! blocking pool, one fsync of `new/` for the batch, awaited) while the next ones stream in; at most
//! [`BATCHES_IN_FLIGHT`] batches commit at once, which bounds what waits in memory. Each
//! message is marked for deletion or remembered only once its batch is durable, and QUIT
//! waits for all of them.

use std::io;

use pop3_proto::MsgNumber;
use pop3_proto::client::{Connection, Event};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::client::{ClientArgs, ClientError, Download, Received, Summary};
use crate::driver::Flow;
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};
use crate::maildir::Delivery;
use crate::serve::{CONNECT_TIMEOUT, TLS_HANDSHAKE_TIMEOUT};

/// Messages committed together. A batch is also committed early when no more messages are
/// coming.
pub const COMMIT_BATCH: usize = 32;

/// Batches committing at once; receiving waits when this many are busy.
pub const BATCHES_IN_FLIGHT: usize = 2;

/// `pop3_client_tokio`: downloads as `args` say and returns the summary.
pub async fn run(args: &ClientArgs) -> Result<Summary, ClientError> {
    let mut download = Download::new(args)?;
    let tls = match args.tls_config()? {
        Some((config, name)) => TlsUpgrade::client(config, name),
        None => TlsUpgrade::None,
    };
    let address = (args.server.host.as_str(), args.server.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
    tcp.set_nodelay(true)?;
    let stream = if args.tls {
        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, Stream::implicit_tls(tcp, &tls))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??
    } else {
        Stream::Plain(tcp)
    };
    let mut conn = Connection::new(args.machine_config());
    let mut handler = SessionHandler {
        download: &mut download,
        batch: Vec::with_capacity(COMMIT_BATCH),
        commits: JoinSet::new(),
    };
    if let Err(error) = driver::run(&mut conn, stream, &tls, &mut handler).await {
        handler.download.fail(error.into());
    }
    // Received whole before the session ended: stored and remembered, never deleted. What is
    // still being committed finishes before the memory is saved.
    handler.start_commit();
    while let Some(joined) = handler.commits.join_next().await {
        if let Err(error) = handler.settle(None, joined) {
            handler.download.fail(error);
        }
    }
    download.finish()
}

type CommitResult = (MsgNumber, io::Result<u64>);

struct SessionHandler<'a> {
    download: &'a mut Download,
    /// Received whole, not committing yet.
    batch: Vec<Received>,
    commits: JoinSet<Vec<CommitResult>>,
}

impl SessionHandler<'_> {
    /// Starts committing the batch: the files on the blocking pool, then the directory sync
    /// awaited (see [`Delivery::commit_all_async`]).
    fn start_commit(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let (msgs, deliveries): (Vec<_>, Vec<_>) = self
            .batch
            .drain(..)
            .map(|received| (received.msg, received.delivery))
            .unzip();
        self.commits.spawn(async move {
            let results = Delivery::commit_all_async(deliveries).await;
            msgs.into_iter()
                .zip(results)
                .map(|(msg, result)| (msg, result.map(|delivered| delivered.size)))
                .collect()
        });
    }

    /// Waits for a batch to commit when [`BATCHES_IN_FLIGHT`] are busy, then starts this one.
    async fn commit_batch(&mut self, conn: &mut Connection) -> Result<(), ClientError> {
        if self.commits.len() >= BATCHES_IN_FLIGHT
            && let Some(joined) = self.commits.join_next().await
        {
            self.settle(Some(conn), joined)?;
        }
        self.start_commit();
        Ok(())
    }

    /// A committed batch: see [`Download::settle`].
    fn settle(
        &mut self,
        conn: Option<&mut Connection>,
        joined: Result<Vec<CommitResult>, tokio::task::JoinError>,
    ) -> Result<(), ClientError> {
        let results = joined.map_err(io::Error::other)?;
        self.download.settle(conn, results)
    }

    /// Settles every batch already committed, without waiting for the others.
    fn settle_done(&mut self, conn: &mut Connection) -> Result<(), ClientError> {
        while let Some(joined) = self.commits.try_join_next() {
            self.settle(Some(conn), joined)?;
        }
        Ok(())
    }

    fn fail(&mut self, error: ClientError) -> io::Error {
        self.download.fail(error);
        io::Error::other("the download failed")
    }
}

impl Handler<Connection> for SessionHandler<'_> {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        let outcome = match self.download.on_event(conn, event) {
            Ok(Some(received)) => {
                self.batch.push(received);
                if self.batch.len() >= COMMIT_BATCH {
                    self.commit_batch(conn).await
                } else {
                    Ok(())
                }
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        // Settle the batches that are done, without waiting: their DELEs go out while the
        // next messages stream in.
        let outcome = outcome.and_then(|()| self.settle_done(conn));
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
    async fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        let mut progressed = false;
        // Settle the batches that are done, without waiting.
        while let Some(joined) = self.commits.try_join_next() {
            self.settle(Some(conn), joined).map_err(|e| self.fail(e))?;
            progressed = true;
        }
        if !self.download.awaiting_messages() {
            // Nothing more is coming: commit what is held, and wait for a commit rather than
            // for the socket.
            if !self.batch.is_empty() {
                self.commit_batch(conn).await.map_err(|e| self.fail(e))?;
                progressed = true;
            }
            if !progressed && let Some(joined) = self.commits.join_next().await {
                self.settle(Some(conn), joined).map_err(|e| self.fail(e))?;
                progressed = true;
            }
        }
        let quit = self
            .download
            .finish_if_drained(conn)
            .map_err(|e| self.fail(e))?;
        Ok(progressed || quit)
    }
}
