//! The tokio POP3 server: a task per connection over the tokio socket loop, the session's
//! decisions in [`Pop3Session`]. Its file-system work (listing a maildrop, reading a message,
//! deleting at QUIT) runs on tokio's blocking pool, so a slow disk never stalls other
//! sessions. Behind a load balancer it reads the PROXY header first ([`crate::proxy`]); on
//! Ctrl-C / SIGTERM it drains ([`crate::serve`]: an idle session is closed now, a message
//! being sent is finished, and the next command is answered `-ERR [SYS/TEMP]`; nothing is
//! deleted).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pop3_proto::server::{Connection, Event};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinSet, spawn_blocking};

use super::policy::{Await, Pop3Session, Work};
use super::server::{ServerArgs, ServerOptions, announce};
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};
use crate::driver::{Drain, DrainWatch, Flow};
use crate::limits::{Refusal, Slot, TOKIO_MAX_CONNECTIONS};
use crate::proxy::{Refusal as ProxyRefusal, admit_tokio};
use crate::serve::{ShutdownSignal, TLS_HANDSHAKE_TIMEOUT};

/// `pop3_server_tokio`: binds, prints the addresses, serves until Ctrl-C or SIGTERM.
pub async fn serve(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Caught from here on: a signal right after the announcement must not kill the process.
    let signal = ShutdownSignal::new()?;
    serve_until(args, signal.wait()).await
}

/// Binds, prints the addresses, serves until `shutdown` completes (see [`crate::serve`]).
pub async fn serve_until(
    args: ServerArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error>> {
    let options = Arc::new(ServerOptions::from_args(&args)?);
    let plain = TcpListener::bind(args.listen).await?;
    let implicit = match args.tls_listen {
        Some(addr) => Some(TcpListener::bind(addr).await?),
        None => None,
    };
    let implicit_addr = implicit.as_ref().map(TcpListener::local_addr).transpose()?;
    announce(&options, plain.local_addr()?, implicit_addr);
    serve_listeners(options, plain, implicit, shutdown).await?;
    Ok(())
}

/// Serves `plain` (STLS offered) and `implicit` (TLS from the first byte) until `shutdown`
/// completes, then closes the listeners, drains the open sessions and gives them
/// `options.grace` to finish; the rest are dropped, which deletes nothing (ARCHITECTURE.md
/// security invariant 6).
pub async fn serve_listeners(
    options: Arc<ServerOptions>,
    plain: TcpListener,
    implicit: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
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
        // The machine's timeouts do not run yet: bound the handshake here.
        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, Stream::implicit_tls(tcp, &tls))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??
    } else {
        Stream::Plain(tcp)
    };
    let mut handler = TokioSession(Pop3Session::new(options, &admitted, implicit_tls));
    let mut conn = handler.0.machine(&admitted.early);
    let ended = driver::run_draining(&mut conn, stream, &tls, &mut handler, drain).await;
    handler.0.closed(&ended, &conn);
    ended.map(drop)
}

/// [`Pop3Session`] under tokio: its file-system work runs on the blocking pool.
struct TokioSession(Pop3Session);

impl TokioSession {
    async fn run(&mut self, conn: &mut Connection, work: Work) -> io::Result<()> {
        let done = spawn_blocking(move || work.run())
            .await
            .map_err(io::Error::other)?;
        self.0.finish(conn, done)
    }
}

impl Handler<Connection> for TokioSession {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        if let Some(work) = self.0.on_event(conn, event)? {
            self.run(conn, work).await?;
        }
        Ok(Flow::Continue)
    }

    async fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        match self.0.on_await(conn)? {
            Await::Idle => Ok(false),
            Await::Progressed => Ok(true),
            Await::Work(work) => self.run(conn, work).await.map(|()| true),
        }
    }

    fn on_shutdown(&mut self, conn: &mut Connection) {
        self.0.on_shutdown(conn);
    }
}
