//! The tokio POP3 server: a task per connection over the tokio socket loop. The file system
//! work (listing a maildrop, reading a message, deleting at QUIT) runs on tokio's blocking
//! pool, so a slow disk never stalls other sessions. Behind a load balancer it reads the
//! PROXY header first ([`crate::proxy`]); on Ctrl-C / SIGTERM it drains ([`crate::driver`],
//! "Draining": an idle session is closed now, a message being sent is finished, and the next
//! command is answered `-ERR [SYS/TEMP]`; nothing is deleted).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pop3_proto::server::{Connection, Event, LoginRefusal};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinSet, spawn_blocking};

use super::maildrop::OpenMaildrop;
use super::maildrop::{CHUNK, read_chunk};
use super::server::{
    ServerArgs, ServerOptions, SetupError, announce, log_connection, login_method, login_user,
    usage,
};
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};
use crate::driver::{Drain, DrainWatch, Ended, Flow};
use crate::limits::{Refusal, Slot, TOKIO_MAX_CONNECTIONS};
use crate::maildir::WireReader;
use crate::proxy::{Refusal as ProxyRefusal, admit_tokio};

/// How long an implicit-TLS client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `plain` (STLS offered) and `implicit` (TLS from the first byte) until `shutdown`
/// completes, then closes the listeners, drains the open sessions and gives them
/// `options.grace` to finish; the rest are dropped, which deletes nothing (ARCHITECTURE.md
/// security invariant 6).
pub async fn serve(
    options: Arc<ServerOptions>,
    plain: TcpListener,
    implicit: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let drain = Drain::new();
    let limits = options.limits.limits(TOKIO_MAX_CONNECTIONS);
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (accepted, implicit_tls) = tokio::select! {
            () = &mut shutdown => break,
            accepted = plain.accept() => (accepted, false),
            accepted = accept_optional(implicit.as_ref()) => (accepted, true),
            Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Over the limit: answered and closed here, no task started.
        let proxied = options.proxy.is_some();
        let Some(slot) = limits.accept_tokio(&tcp, peer, proxied, implicit_tls, Refusal::Pop3)
        else {
            continue;
        };
        let options = options.clone();
        let watch = drain.watch();
        sessions.spawn(async move {
            if let Err(error) = connection(options, tcp, peer, implicit_tls, watch, slot).await {
                tracing::info!(%peer, %error, "connection ended with an error");
            }
        });
    }
    // New connections are refused from here on (a balancer sends them elsewhere at once),
    // rather than left in the listen queue until the process exits.
    drop((plain, implicit));
    tracing::info!(
        open = sessions.len(),
        "stopping: no new connections, draining"
    );
    drain.start();
    let drained = tokio::time::timeout(options.grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(open = sessions.len(), "closing the sessions still open");
        sessions.shutdown().await;
    }
    Ok(())
}

async fn accept_optional(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// One connection, from greeting to close: the PROXY header first when expected (nothing is
/// sent before it; a refusal closes the connection without a word and is not an error),
/// then the TLS handshake of an implicit-TLS listener, then the session, drained by `drain`.
/// `slot` is the connection's place under the connection limits, held until it ends.
pub async fn connection(
    options: Arc<ServerOptions>,
    mut tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    drain: DrainWatch,
    mut slot: Slot,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let admitted = match admit_tokio(options.proxy.as_ref(), &mut tcp, peer, implicit_tls).await {
        Ok(admitted) => admitted,
        Err(ProxyRefusal::Io(error)) => return Err(error),
        Err(_) => return Ok(()), // logged by the proxy module
    };
    // Behind a balancer, the client's own limit once its header named it.
    if !slot.admit_client_tokio(&tcp, admitted.client, implicit_tls, Refusal::Pop3) {
        return Ok(());
    }
    let tls = TlsUpgrade::server(options.tls.clone());
    let stream = if implicit_tls {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, Stream::implicit_tls(tcp, &tls))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??
    } else {
        Stream::Plain(tcp)
    };
    log_connection(&admitted, implicit_tls);
    let mut conn = Connection::new(options.session_config(implicit_tls));
    // What the client sent right behind the PROXY header is the protocol's (ARCHITECTURE.md,
    // "The session contract", rule 1: `receive` only buffers; the greeting still goes first).
    conn.receive(&admitted.early);
    let mut handler = SessionHandler {
        options,
        peer: admitted.client,
        user: None,
        maildrop: None,
        reading: None,
        spare: None,
    };
    let ended = driver::run_draining(&mut conn, stream, &tls, &mut handler, drain).await;
    handler.closed(&ended, conn.discarded_deletions());
    ended.map(drop)
}

/// A message being sent, with its read buffer.
struct Reading {
    reader: WireReader<std::fs::File>,
    buf: Vec<u8>,
}

/// The application side of one session.
struct SessionHandler {
    options: Arc<ServerOptions>,
    peer: SocketAddr,
    user: Option<String>,
    maildrop: Option<OpenMaildrop>,
    /// The message being sent (RETR, TOP), a chunk per turn of the loop.
    reading: Option<Reading>,
    /// The read buffer between messages.
    spare: Option<Vec<u8>>,
}

impl SessionHandler {
    /// The session is over: logs how, and releases the maildrop (deleting nothing unless
    /// the commit at QUIT did).
    fn closed(&mut self, ended: &io::Result<Ended>, discarded_deletions: u32) {
        match ended {
            Ok(ended) => {
                tracing::info!(peer = %self.peer, user = ?self.user, ?ended, discarded_deletions, "closed");
            }
            Err(error) => {
                tracing::info!(peer = %self.peer, user = ?self.user, %error, discarded_deletions, "closed");
            }
        }
        self.reading = None;
        self.maildrop = None;
    }

    /// Hands the machine the chunk just read; the last one ends the message.
    fn deliver_chunk(
        &mut self,
        conn: &mut Connection,
        reading: Reading,
        n: usize,
    ) -> io::Result<()> {
        if n > 0 {
            conn.send_message_chunk(&reading.buf[..n]).map_err(usage)?;
        }
        if n < reading.buf.len() || conn.message_complete() {
            self.spare = Some(reading.buf);
            conn.end_message().map_err(usage)?;
        } else {
            self.reading = Some(reading);
        }
        Ok(())
    }

    async fn retrieve(&mut self, conn: &mut Connection, index: usize) -> io::Result<()> {
        let message = self.maildrop.as_ref().and_then(|m| m.message(index));
        let buf = self.spare.take().unwrap_or_else(|| vec![0; CHUNK]);
        let opened = spawn_blocking(move || {
            let (maildir, entry) = message.ok_or_else(|| io::Error::other("no such message"))?;
            let mut reader = maildir.open_message(&entry)?;
            let mut reading_buf = buf;
            let n = read_chunk(&mut reader, &mut reading_buf)?;
            Ok::<_, io::Error>((
                Reading {
                    reader,
                    buf: reading_buf,
                },
                n,
            ))
        })
        .await
        .map_err(io::Error::other)?;
        match opened {
            Ok((reading, n)) => self.deliver_chunk(conn, reading, n),
            Err(error) => {
                tracing::warn!(peer = %self.peer, index, %error, "message unavailable");
                conn.message_unavailable().map_err(usage)
            }
        }
    }
}

impl Handler<Connection> for SessionHandler {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match event {
            Event::Login(login) => {
                let (method, user) = (login_method(&login), login_user(&login));
                let options = self.options.clone();
                let opened = spawn_blocking(move || options.open_maildrop(&login))
                    .await
                    .map_err(io::Error::other)?;
                match opened {
                    Ok((user, maildrop)) => {
                        tracing::info!(peer = %self.peer, user, method, messages = maildrop.len(), "login");
                        conn.accept(maildrop.listing()).map_err(usage)?;
                        self.user = Some(user);
                        self.maildrop = Some(maildrop);
                    }
                    Err(refusal) => {
                        tracing::warn!(peer = %self.peer, user, method, ?refusal, "login refused");
                        conn.reject(refusal).map_err(usage)?;
                    }
                }
            }
            // Only PLAIN and LOGIN are offered, and the machine runs both itself.
            Event::AuthStep { .. } => conn.reject(LoginRefusal::SysPerm).map_err(usage)?,
            Event::Retrieve(retrieve) => self.retrieve(conn, retrieve.index).await?,
            Event::Commit { deleted } => {
                let maildrop = self.maildrop.take();
                let report = spawn_blocking(move || maildrop.map(|m| m.commit(&deleted)))
                    .await
                    .map_err(io::Error::other)?;
                match report {
                    Some(report) if report.is_complete() => {
                        tracing::info!(peer = %self.peer, user = ?self.user, deleted = report.deleted, "update");
                        conn.commit_succeeded().map_err(usage)?;
                    }
                    Some(report) => {
                        for failure in &report.failed {
                            tracing::error!(uid = failure.uid, error = %failure.error, "cannot delete");
                        }
                        conn.commit_failed().map_err(usage)?;
                    }
                    None => conn.commit_failed().map_err(usage)?,
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// A Retrieve being streamed: the machine transmitted the last chunk and awaits the next
    /// (any other wait for the application is a decision, answered in `on_event`).
    async fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        let Some(mut reading) = self.reading.take() else {
            return Ok(false);
        };
        if conn.message_complete() {
            self.spare = Some(reading.buf);
            conn.end_message().map_err(usage)?;
            return Ok(true);
        }
        // A read error in the middle of a message cannot be told to the client any more:
        // the error ends the connection, and the client sees no terminating dot.
        let (reading, n) = spawn_blocking(move || {
            let n = read_chunk(&mut reading.reader, &mut reading.buf)?;
            Ok::<_, io::Error>((reading, n))
        })
        .await
        .map_err(io::Error::other)??;
        self.deliver_chunk(conn, reading, n)?;
        Ok(true)
    }

    /// Idle: closed now, without a response (POP3 has no unsolicited ones); otherwise the
    /// message being sent is finished and the next command gets `-ERR [SYS/TEMP]`.
    fn on_shutdown(&mut self, conn: &mut Connection) {
        conn.shutdown();
    }
}

/// `pop3_server_tokio`: binds, prints the addresses, serves until Ctrl-C.
pub async fn run(args: &ServerArgs) -> Result<(), SetupError> {
    // Caught from here on: a signal right after the announcement must not kill the process.
    let signal = driver::ShutdownSignal::new()?;
    let options = Arc::new(ServerOptions::from_args(args)?);
    let plain = TcpListener::bind(args.listen).await?;
    let implicit = match args.tls_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let implicit_addr = implicit.as_ref().map(TcpListener::local_addr).transpose()?;
    announce(&options, plain.local_addr()?, implicit_addr);
    serve(options, plain, implicit, async {
        signal.wait().await;
        tracing::info!("stopping");
    })
    .await?;
    Ok(())
}
