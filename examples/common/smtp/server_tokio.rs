//! The SMTP server on tokio: one task per connection, the plain listener (STARTTLS) and the
//! optional implicit TLS listener, the PROXY protocol when behind a load balancer
//! ([`crate::proxy`]), and a graceful stop on Ctrl-C / SIGTERM: the listeners close, every
//! session is drained ([`crate::driver`], "Draining": idle ones get 421 4.3.2 now, a message
//! in progress is finished), and what is left after `--shutdown-grace` is dropped.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::server::{Connection, Event};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::args::ServerArgs;
use super::policy::{Policy, ServerSession, Step};
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};
use crate::driver::{Drain, DrainWatch, Flow};
use crate::limits::{Refusal, Slot, TOKIO_MAX_CONNECTIONS};
use crate::proxy::{ProxyPolicy, admit_tokio};
use crate::serve::TLS_HANDSHAKE_TIMEOUT;

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn serve(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Caught from here on: a signal right after "listening" must not kill the process.
    let signal = crate::serve::ShutdownSignal::new()?;
    serve_until(args, signal.wait()).await
}

/// Runs the server until `shutdown` completes (a composed server such as `maildrop` shares
/// one stop signal between its parts; see [`crate::serve`]).
pub async fn serve_until(
    args: ServerArgs,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error>> {
    let policy = Arc::new(Policy::from_args(&args)?);
    let proxy = args.proxy.policy().map(Arc::new);
    let grace = args.shutdown.grace();
    let limits = args.limits.limits(TOKIO_MAX_CONNECTIONS);
    let identity = args.tls.identity()?;
    let tls = TlsUpgrade::server(identity.config.clone());
    let plain = TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %plain.local_addr()?, "listening (SMTP, STARTTLS)");
    let implicit = match args.tls_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "listening (implicit TLS)");
            Some(listener)
        }
        None => None,
    };
    let mode = match &args.maildir {
        Some(dir) => format!("delivering to {}", dir.display()),
        None => "sink mode: counting and discarding".to_owned(),
    };
    tracing::info!(hostname = %args.tls.hostname, "{mode}");
    if let Some(proxy) = &proxy {
        tracing::info!(trusted = %proxy, "PROXY protocol expected");
    }

    let drain = Drain::new();
    let mut sessions = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while sessions.try_join_next().is_some() {}
        let (accepted, implicit_tls) = tokio::select! {
            accepted = plain.accept() => (accepted, false),
            accepted = accept_optional(implicit.as_ref()) => (accepted, true),
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Over the limit: answered and closed here, no task started.
                let over = Refusal::Smtp;
                let Some(slot) =
                    limits.accept_tokio(&tcp, peer, proxy.is_some(), implicit_tls, over)
                else {
                    continue;
                };
                let (policy, proxy, tls) = (policy.clone(), proxy.clone(), tls.clone());
                let watch = drain.watch();
                sessions.spawn(async move {
                    session(
                        &policy,
                        proxy.as_deref(),
                        tcp,
                        peer,
                        &tls,
                        implicit_tls,
                        watch,
                        slot,
                    )
                    .await;
                });
            }
            Err(error) => accept_failed(error).await,
        }
    }
    // New connections are refused from here on (a balancer sends them elsewhere at once),
    // rather than left in the listen queue until the process exits.
    drop((plain, implicit));
    while sessions.try_join_next().is_some() {}
    tracing::info!(
        sessions = sessions.len(),
        "stopping: no new connections, draining"
    );
    drain.start();
    if tokio::time::timeout(grace, async {
        while sessions.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(sessions = sessions.len(), "cutting sessions still open");
        sessions.shutdown().await;
    }
    if let crate::store::Store::Sink(stats) = policy.store() {
        tracing::info!(
            messages = stats.messages(),
            octets = stats.octets(),
            "sink totals"
        );
    }
    Ok(())
}

/// Accepts on the implicit TLS listener, or never when there is none.
async fn accept_optional(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// An accept error (e.g. out of file descriptors): log it and pause instead of spinning.
async fn accept_failed(error: io::Error) {
    tracing::warn!(%error, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection, start to end: the PROXY header first when expected (nothing is sent
/// before it), then the TLS handshake of an implicit-TLS listener, then the session. `slot`
/// is its place under the connection limits, held until it ends.
#[allow(clippy::too_many_arguments)] // one call site, each argument a different thing
async fn session(
    policy: &Arc<Policy>,
    proxy: Option<&ProxyPolicy>,
    mut tcp: TcpStream,
    peer: SocketAddr,
    tls: &TlsUpgrade,
    implicit_tls: bool,
    drain: DrainWatch,
    mut slot: Slot,
) {
    let _ = tcp.set_nodelay(true);
    // Refused: closed with nothing answered (logged by the proxy module).
    let Ok(admitted) = admit_tokio(proxy, &mut tcp, peer, implicit_tls).await else {
        return;
    };
    // Behind a balancer, the client's own limit once its header named it.
    if !slot.admit_client_tokio(&tcp, admitted.client, implicit_tls, Refusal::Smtp) {
        return;
    }
    let session = ServerSession::new(policy.clone(), &admitted, implicit_tls);
    let mut handler = TokioServer(session);
    let stream = if implicit_tls {
        // The machine's greeting timeout does not run yet: bound the handshake here.
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, Stream::implicit_tls(tcp, tls)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return handler.0.ended(&Err(error)),
            Err(_) => return handler.0.ended(&Err(io::ErrorKind::TimedOut.into())),
        }
    } else {
        Stream::Plain(tcp)
    };
    let mut machine = Connection::new(handler.0.machine_config());
    // What the client sent right behind the PROXY header is the protocol's (ARCHITECTURE.md,
    // "The session contract", rule 1: `receive` only buffers; the greeting still goes first).
    machine.receive(&admitted.early);
    let ended = driver::run_draining(&mut machine, stream, tls, &mut handler, drain).await;
    handler.0.ended(&ended);
}

/// [`ServerSession`] under tokio: the commit runs on the blocking pool.
struct TokioServer(ServerSession);

impl Handler<Connection> for TokioServer {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match self.0.on_event(conn, event)? {
            Step::Flow(flow) => Ok(flow),
            Step::Commit(incoming) => {
                let result = incoming.commit_async().await;
                self.0.finish_message(conn, result)?;
                Ok(Flow::Continue)
            }
        }
    }

    /// Idle: 421 4.3.2 and close now; in a transaction: after it (RFC 5321 section 3.8).
    fn on_shutdown(&mut self, conn: &mut Connection) {
        conn.shutdown();
    }
}
