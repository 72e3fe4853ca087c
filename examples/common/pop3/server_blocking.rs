//! The blocking POP3 server: one thread per connection (at most `--max-connections`,
//! [`crate::limits`]), over the blocking socket loop. Behind
//! a load balancer it reads the PROXY header first ([`crate::proxy`]); on Ctrl-C / SIGTERM
//! it drains ([`crate::driver`], "Draining"), as the tokio one does.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pop3_proto::server::{Connection, Event, LoginRefusal};

use super::maildrop::{CHUNK, OpenMaildrop, read_chunk};
use super::server::{
    ServerArgs, ServerOptions, SetupError, announce, log_connection, login_method, login_user,
    usage,
};
use crate::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};
use crate::driver::{Drain, DrainWatch, Ended, Flow};
use crate::limits::{BLOCKING_MAX_CONNECTIONS, ConnectionLimits, Refusal, Slot};
use crate::maildir::WireReader;
use crate::proxy::{Refusal as ProxyRefusal, admit_blocking};

/// How long an implicit-TLS client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `plain` (STLS offered) and `implicit` (TLS from the first byte) until `stopper`
/// stops it (see [`Stopper`]): then the listeners are closed, the open sessions drained, and
/// given `options.grace` to finish.
pub fn serve(
    options: Arc<ServerOptions>,
    plain: TcpListener,
    implicit: Option<TcpListener>,
    stopper: &Stopper,
) -> io::Result<()> {
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
        tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        BlockingStream::implicit_tls(tcp, &tls)?
    } else {
        BlockingStream::Plain(tcp)
    };
    log_connection(&admitted, implicit_tls);
    let mut conn = Connection::new(options.session_config(implicit_tls));
    // What the client sent right behind the PROXY header is the protocol's (ARCHITECTURE.md,
    // "The session contract", rule 1: `receive` only buffers; the greeting still goes first).
    conn.receive(&admitted.early);
    let mut handler = Handler {
        options: options.clone(),
        peer: admitted.client,
        user: None,
        maildrop: None,
        reading: None,
        buf: vec![0; CHUNK],
    };
    let ended = blocking::run_draining(&mut conn, stream, &tls, &mut handler, drain);
    handler.closed(&ended, conn.discarded_deletions());
    ended.map(drop)
}

/// The application side of one session.
struct Handler {
    options: Arc<ServerOptions>,
    peer: SocketAddr,
    user: Option<String>,
    maildrop: Option<OpenMaildrop>,
    /// The message being sent (RETR, TOP), a chunk per turn of the loop.
    reading: Option<WireReader<File>>,
    buf: Vec<u8>,
}

impl Handler {
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

    /// Hands the machine the next chunk of the message being sent; the last one ends it.
    fn pump(&mut self, conn: &mut Connection) -> io::Result<()> {
        let Some(reader) = self.reading.as_mut() else {
            return Ok(());
        };
        if conn.message_complete() {
            self.reading = None;
            return conn.end_message().map_err(usage);
        }
        // A read error in the middle of a message cannot be told to the client any more:
        // the error ends the connection, and the client sees no terminating dot.
        let n = read_chunk(reader, &mut self.buf)?;
        if n > 0 {
            conn.send_message_chunk(&self.buf[..n]).map_err(usage)?;
        }
        if n < self.buf.len() {
            self.reading = None;
            conn.end_message().map_err(usage)?;
        }
        Ok(())
    }
}

impl BlockingHandler<Connection> for Handler {
    fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match event {
            Event::Login(login) => match self.options.open_maildrop(&login) {
                Ok((user, maildrop)) => {
                    tracing::info!(peer = %self.peer, user, method = login_method(&login), messages = maildrop.len(), "login");
                    conn.accept(maildrop.listing()).map_err(usage)?;
                    self.user = Some(user);
                    self.maildrop = Some(maildrop);
                }
                Err(refusal) => {
                    tracing::warn!(peer = %self.peer, user = login_user(&login), method = login_method(&login), ?refusal, "login refused");
                    conn.reject(refusal).map_err(usage)?;
                }
            },
            // Only PLAIN and LOGIN are offered, and the machine runs both itself.
            Event::AuthStep { .. } => conn.reject(LoginRefusal::SysPerm).map_err(usage)?,
            Event::Retrieve(retrieve) => {
                let opened = match self.maildrop.as_ref() {
                    Some(maildrop) => maildrop.open_message(retrieve.index),
                    None => Err(io::Error::other("no maildrop")),
                };
                match opened {
                    Ok(reader) => {
                        self.reading = Some(reader);
                        self.pump(conn)?;
                    }
                    Err(error) => {
                        tracing::warn!(peer = %self.peer, msg = %retrieve.msg, %error, "message unavailable");
                        conn.message_unavailable().map_err(usage)?;
                    }
                }
            }
            Event::Commit { deleted } => {
                let report = self.maildrop.as_ref().map(|m| m.commit(&deleted));
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
                    None if deleted.is_empty() => conn.commit_succeeded().map_err(usage)?,
                    None => conn.commit_failed().map_err(usage)?,
                }
                self.maildrop = None;
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// A Retrieve being streamed: the machine transmitted the last chunk and awaits the next
    /// (any other wait for the application is a decision, answered in `on_event`).
    fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        if self.reading.is_none() {
            return Ok(false);
        }
        self.pump(conn)?;
        Ok(true)
    }

    /// Idle: closed now, without a response (POP3 has no unsolicited ones); otherwise the
    /// message being sent is finished and the next command gets `-ERR [SYS/TEMP]`.
    fn on_shutdown(&mut self, conn: &mut Connection) {
        conn.shutdown();
    }
}

/// Stops a blocking server: sets the flag its accept loops check, then wakes them with a
/// connection each (a blocked `accept` has no other portable way out); [`serve`] then drains
/// the sessions through [`Drain`].
#[derive(Debug, Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    drain: Drain,
    addrs: Vec<SocketAddr>,
}

impl Stopper {
    /// A stopper for listeners bound to `addrs`.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            drain: Drain::new(),
            addrs,
        }
    }

    /// Stops accepting.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::Release);
        for addr in &self.addrs {
            let _ = TcpStream::connect_timeout(addr, Duration::from_secs(1));
        }
    }

    /// Calls [`stop`](Self::stop) on Ctrl-C or SIGTERM, from a watcher thread (the signal
    /// itself is caught with tokio's portable handler on a one-thread runtime).
    pub fn stop_on_signal(&self) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let signal = {
            let _context = runtime.enter();
            crate::driver::tokio::ShutdownSignal::new()?
        };
        let stopper = self.clone();
        std::thread::spawn(move || {
            runtime.block_on(signal.wait());
            tracing::info!("stopping");
            stopper.stop();
        });
        Ok(())
    }
}

/// `pop3_server_blocking`: binds, prints the addresses, serves until Ctrl-C.
pub fn run(args: &ServerArgs) -> Result<(), SetupError> {
    let options = Arc::new(ServerOptions::from_args(args)?);
    let plain = TcpListener::bind(args.listen)?;
    let implicit = args.tls_listen.map(TcpListener::bind).transpose()?;
    let mut addrs = vec![plain.local_addr()?];
    if let Some(implicit) = &implicit {
        addrs.push(implicit.local_addr()?);
    }
    // Caught before the announcement: a signal right after it must not kill the process.
    let stopper = Stopper::new(addrs.clone());
    stopper.stop_on_signal()?;
    announce(&options, addrs[0], addrs.get(1).copied());
    serve(options, plain, implicit, &stopper)?;
    Ok(())
}
