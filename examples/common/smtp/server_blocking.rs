//! The SMTP server with blocking sockets: one thread per connection (at most
//! `--max-connections`, [`crate::limits`]), one per listener, the
//! PROXY protocol when behind a load balancer ([`crate::proxy`]), and a graceful stop on
//! Ctrl-C / SIGTERM (the signal is awaited on a small tokio runtime: std has no portable
//! signal API): the listeners close, every session is drained ([`crate::driver`],
//! "Draining"), and what is left after `--shutdown-grace` ends with the process.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smtp_proto::server::{Connection, Event};

use super::args::ServerArgs;
use super::policy::{Policy, ServerSession, Step};
use crate::driver::blocking::{self as driver, BlockingHandler, BlockingStream, BlockingTls};
use crate::driver::{Drain, Flow};
use crate::limits::{BLOCKING_MAX_CONNECTIONS, ConnectionLimits, Refusal, Slot};
use crate::proxy::{ProxyPolicy, admit_blocking};
use crate::serve::{Shutdown, TLS_HANDSHAKE_TIMEOUT};

/// What the accept threads and the main thread share.
struct Shared {
    policy: Arc<Policy>,
    proxy: Option<ProxyPolicy>,
    tls: BlockingTls,
    stopping: AtomicBool,
    drain: Drain,
    active: AtomicUsize,
    limits: ConnectionLimits,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn serve(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Caught from here on: a signal right after "listening" must not kill the process.
    serve_until(args, &Shutdown::on_signal()?)
}

/// Runs the server until `shutdown` is triggered (see [`crate::serve`]).
pub fn serve_until(
    args: ServerArgs,
    shutdown: &Shutdown,
) -> Result<(), Box<dyn std::error::Error>> {
    let policy = Arc::new(Policy::from_args(&args)?);
    let identity = args.tls.identity()?;
    let shared = Arc::new(Shared {
        policy,
        proxy: args.proxy.policy(),
        tls: BlockingTls::Server(identity.config.clone()),
        stopping: AtomicBool::new(false),
        drain: Drain::new(),
        active: AtomicUsize::new(0),
        limits: args.limits.limits(BLOCKING_MAX_CONNECTIONS),
    });
    let mut listeners = vec![(TcpListener::bind(args.listen)?, false)];
    tracing::info!(addr = %listeners[0].0.local_addr()?, "listening (SMTP, STARTTLS)");
    if let Some(addr) = args.tls_listen {
        let listener = TcpListener::bind(addr)?;
        tracing::info!(addr = %listener.local_addr()?, "listening (implicit TLS)");
        listeners.push((listener, true));
    }
    let mode = match &args.maildir {
        Some(dir) => format!("delivering to {}", dir.display()),
        None => "sink mode: counting and discarding".to_owned(),
    };
    tracing::info!(hostname = %args.tls.hostname, "{mode}");
    if let Some(proxy) = &shared.proxy {
        tracing::info!(trusted = %proxy, "PROXY protocol expected");
    }

    let mut addrs = Vec::new();
    let mut acceptors = Vec::new();
    for (listener, implicit_tls) in listeners {
        addrs.push(listener.local_addr()?);
        let shared = shared.clone();
        acceptors.push(std::thread::spawn(move || {
            accept_loop(&listener, implicit_tls, &shared)
        }));
    }

    shutdown.wait();
    shared.stopping.store(true, Ordering::SeqCst);
    for addr in addrs {
        // Wake each accept loop so it sees `stopping`, returns and closes its listener: new
        // connections are refused from then on (a balancer sends them elsewhere at once).
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
    // Closed once its loop returns: no listener outlives `serve_until`.
    for acceptor in acceptors {
        let _ = acceptor.join();
    }
    tracing::info!(
        sessions = shared.active.load(Ordering::SeqCst),
        "stopping: no new connections, draining"
    );
    shared.drain.start();
    let grace = args.shutdown.grace();
    let start = Instant::now();
    while shared.active.load(Ordering::SeqCst) > 0 && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = shared.active.load(Ordering::SeqCst);
    if left > 0 {
        tracing::warn!(sessions = left, "cutting sessions still open");
    }
    if let crate::store::Store::Sink(stats) = shared.policy.store() {
        tracing::info!(
            messages = stats.messages(),
            octets = stats.octets(),
            "sink totals"
        );
    }
    Ok(())
}

fn accept_loop(listener: &TcpListener, implicit_tls: bool, shared: &Arc<Shared>) {
    for accepted in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let tcp = match accepted {
            Ok(tcp) => tcp,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let Ok(peer) = tcp.peer_addr() else { continue };
        // Over the limit: answered and closed here, no thread started (the cap bounds them).
        let proxied = shared.proxy.is_some();
        let Some(slot) =
            (shared.limits).accept_blocking(&tcp, peer, proxied, implicit_tls, Refusal::Smtp)
        else {
            continue;
        };
        shared.active.fetch_add(1, Ordering::SeqCst);
        let for_thread = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("smtp {peer}"))
            .spawn(move || {
                session(&for_thread, tcp, peer, implicit_tls, slot);
                for_thread.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(error) = spawned {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            tracing::warn!(%error, "cannot start a session thread");
        }
    }
}

/// One connection, start to end: the PROXY header first when expected (nothing is sent
/// before it), then the TLS handshake of an implicit-TLS listener, then the session. `slot`
/// is its place under the connection limits, held until it ends.
fn session(
    shared: &Shared,
    mut tcp: TcpStream,
    peer: SocketAddr,
    implicit_tls: bool,
    mut slot: Slot,
) {
    let _ = tcp.set_nodelay(true);
    // Refused: closed with nothing answered (logged by the proxy module).
    let Ok(admitted) = admit_blocking(shared.proxy.as_ref(), &mut tcp, peer, implicit_tls) else {
        return;
    };
    // Behind a balancer, the client's own limit once its header named it.
    if !slot.admit_client_blocking(&tcp, admitted.client, implicit_tls, Refusal::Smtp) {
        return;
    }
    let mut handler = BlockingServer(ServerSession::new(
        shared.policy.clone(),
        &admitted,
        implicit_tls,
    ));
    let stream = if implicit_tls {
        // The machine's timeouts do not run yet: bound the handshake here.
        let handshake = tcp
            .set_read_timeout(Some(TLS_HANDSHAKE_TIMEOUT))
            .and_then(|()| BlockingStream::implicit_tls(tcp, &shared.tls));
        match handshake {
            Ok(stream) => stream,
            Err(error) => return handler.0.ended(&Err(error)),
        }
    } else {
        BlockingStream::Plain(tcp)
    };
    let mut machine = Connection::new(handler.0.machine_config());
    // What the client sent right behind the PROXY header is the protocol's (ARCHITECTURE.md,
    // "The session contract", rule 1: `receive` only buffers; the greeting still goes first).
    machine.receive(&admitted.early);
    let drain = shared.drain.watch();
    let ended = driver::run_draining(&mut machine, stream, &shared.tls, &mut handler, drain);
    handler.0.ended(&ended);
}

/// [`ServerSession`] with blocking I/O: the commit runs right here.
struct BlockingServer(ServerSession);

impl BlockingHandler<Connection> for BlockingServer {
    fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match self.0.on_event(conn, event)? {
            Step::Flow(flow) => Ok(flow),
            Step::Commit(incoming) => {
                let result = incoming.commit();
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
