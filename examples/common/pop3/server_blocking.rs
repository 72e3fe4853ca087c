//! The blocking POP3 server: one thread per connection (at most `--max-connections`,
//! [`crate::limits`]) over the blocking socket loop, the session's decisions in
//! [`Pop3Session`]. Behind a load balancer it reads the PROXY header first
//! ([`crate::proxy`]); on Ctrl-C / SIGTERM it drains ([`crate::serve`]), as the tokio one does.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pop3_proto::server::{Connection, Event};

use super::policy::{Await, Pop3Session};
use super::server::{ServerArgs, ServerOptions, announce};
use crate::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};
use crate::driver::{Drain, DrainWatch, Flow};
use crate::limits::{BLOCKING_MAX_CONNECTIONS, ConnectionLimits, Refusal, Slot};
use crate::proxy::{Refusal as ProxyRefusal, admit_blocking};
use crate::serve::{Shutdown, TLS_HANDSHAKE_TIMEOUT};

/// `pop3_server_blocking`: binds, prints the addresses, serves until Ctrl-C or SIGTERM.
pub fn serve(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Caught before the announcement: a signal right after it must not kill the process.
    serve_until(args, &Shutdown::on_signal()?)
}

/// Binds, prints the addresses, serves until `shutdown` is triggered (see [`crate::serve`]).
pub fn serve_until(
    args: ServerArgs,
    shutdown: &Shutdown,
) -> Result<(), Box<dyn std::error::Error>> {
    let options = Arc::new(ServerOptions::from_args(&args)?);
    let plain = TcpListener::bind(args.listen)?;
    let implicit = args.tls_listen.map(TcpListener::bind).transpose()?;
    let implicit_addr = implicit.as_ref().map(TcpListener::local_addr).transpose()?;
    announce(&options, plain.local_addr()?, implicit_addr);
    serve_listeners(options, plain, implicit, shutdown)?;
    Ok(())
}

/// Serves `plain` (STLS offered) and `implicit` (TLS from the first byte) until `shutdown` is
/// triggered: then the listeners are closed, the open sessions drained, and given
/// `options.grace` to finish; the rest end with the process, which deletes nothing
/// (ARCHITECTURE.md security invariant 6).
pub fn serve_listeners(
    options: Arc<ServerOptions>,
    plain: TcpListener,
    implicit: Option<TcpListener>,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let mut addrs = vec![plain.local_addr()?];
    if let Some(implicit) = &implicit {
        addrs.push(implicit.local_addr()?);
    }
    let stopper = Stopper {
        flag: Arc::new(AtomicBool::new(false)),
        drain: Drain::new(),
        addrs,
    };
    let active = Arc::new(AtomicUsize::new(0));
    let limits = options.limits.limits(BLOCKING_MAX_CONNECTIONS);
    let mut acceptors = Vec::new();
    for (listener, implicit_tls) in [(Some(plain), false), (implicit, true)] {
        let Some(listener) = listener else { continue };
        let (options, stopper, active) = (options.clone(), stopper.clone(), active.clone());
        let limits = limits.clone();
        acceptors.push(std::thread::spawn(move || {
            accept_loop(
                &listener,
                &options,
                implicit_tls,
                &stopper,
                &active,
                &limits,
            )
        }));
    }
    shutdown.wait();
    stopper.stop();
    // Each accept loop returns once stopped, and its listener closes with it: new
    // connections are refused from then on (a balancer sends them elsewhere at once).
    for acceptor in acceptors {
        acceptor
            .join()
            .map_err(|_| io::Error::other("an accept thread panicked"))??;
    }
    tracing::info!(
        open = active.load(Ordering::Acquire),
        "stopping: no new connections, draining"
    );
    stopper.drain.start();
    let deadline = Instant::now() + options.grace;
    while active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn accept_loop(
    listener: &TcpListener,
    options: &Arc<ServerOptions>,
    implicit_tls: bool,
    stopper: &Stopper,
    active: &Arc<AtomicUsize>,
    limits: &ConnectionLimits,
) -> io::Result<()> {
    for tcp in listener.incoming() {
        if stopper.flag.load(Ordering::Acquire) {
            break;
        }
        let tcp = match tcp {
            Ok(tcp) => tcp,
            Err(error) => {
                // Out of descriptors and the like: wait, do not spin or die.
                tracing::warn!(%error, "accept failed");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        // Over the limit: answered and closed here, no thread started (the cap bounds them).
        let Ok(peer) = tcp.peer_addr() else { continue };
        let proxied = options.proxy.is_some();
        let Some(slot) = limits.accept_blocking(&tcp, peer, proxied, implicit_tls, Refusal::Pop3)
        else {
            continue;
        };
        let (options, active) = (options.clone(), active.clone());
        let drain = stopper.drain.watch();
        active.fetch_add(1, Ordering::AcqRel);
        std::thread::spawn(move || {
            if let Err(error) = connection(&options, tcp, implicit_tls, drain, slot) {
                tracing::info!(?peer, %error, "connection ended with an error");
            }
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

/// One connection, from greeting to close: the PROXY header first when expected (nothing is
/// sent before it; a refusal closes the connection without a word and is not an error),
/// then the TLS handshake of an implicit-TLS listener, then the session, drained by `drain`.
/// `slot` is the connection's place under the connection limits, held until it ends.
pub fn connection(
    options: &Arc<ServerOptions>,
    mut tcp: TcpStream,
    implicit_tls: bool,
    drain: DrainWatch,
    mut slot: Slot,
) -> io::Result<()> {
    let peer = tcp.peer_addr()?;
    tcp.set_nodelay(true)?;
    let admitted = match admit_blocking(options.proxy.as_ref(), &mut tcp, peer, implicit_tls) {
        Ok(admitted) => admitted,
        Err(ProxyRefusal::Io(error)) => return Err(error),
        Err(_) => return Ok(()), // logged by the proxy module
    };
    // Behind a balancer, the client's own limit once its header named it.
    if !slot.admit_client_blocking(&tcp, admitted.client, implicit_tls, Refusal::Pop3) {
        return Ok(());
    }
    let tls = BlockingTls::Server(options.tls.clone());
    let stream = if implicit_tls {
        // The machine's timeouts do not run yet: bound the handshake here.
        tcp.set_read_timeout(Some(TLS_HANDSHAKE_TIMEOUT))?;
        BlockingStream::implicit_tls(tcp, &tls)?
    } else {
        BlockingStream::Plain(tcp)
    };
    let mut handler = BlockingSession(Pop3Session::new(options.clone(), &admitted, implicit_tls));
    let mut conn = handler.0.machine(&admitted.early);
    let ended = blocking::run_draining(&mut conn, stream, &tls, &mut handler, drain);
    handler.0.closed(&ended, &conn);
    ended.map(drop)
}

/// [`Pop3Session`] with blocking I/O: its file-system work runs right here.
struct BlockingSession(Pop3Session);

impl BlockingHandler<Connection> for BlockingSession {
    fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        if let Some(work) = self.0.on_event(conn, event)? {
            self.0.finish(conn, work.run())?;
        }
        Ok(Flow::Continue)
    }

    fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        match self.0.on_await(conn)? {
            Await::Idle => Ok(false),
            Await::Progressed => Ok(true),
            Await::Work(work) => self.0.finish(conn, work.run()).map(|()| true),
        }
    }

    fn on_shutdown(&mut self, conn: &mut Connection) {
        self.0.on_shutdown(conn);
    }
}

/// Stops the accept loops: sets the flag they check, then wakes them with a connection each
/// (a blocked `accept` has no other portable way out); [`serve_listeners`] then drains the
/// sessions through [`Drain`].
#[derive(Debug, Clone)]
struct Stopper {
    flag: Arc<AtomicBool>,
    drain: Drain,
    addrs: Vec<SocketAddr>,
}

impl Stopper {
    fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        for addr in &self.addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
    }
}
