//! What the four servers and the clients share in shape: one set of defaults, and one way to
//! stop. Every server module (`smtp::server_tokio`, `smtp::server_blocking`,
//! `pop3::server_tokio`, `pop3::server_blocking`) has `serve(args)`, which runs until Ctrl-C
//! or SIGTERM, and `serve_until(args, shutdown)`, which runs until `shutdown` says stop (a
//! future under tokio, a [`Shutdown`] with blocking threads): a program that composes servers
//! (`maildrop`) or a test stops them when it likes. Stopping is the same everywhere: the
//! listeners close, the sessions drain ([`crate::driver`], "Draining"), and what is left after
//! the grace period is cut.

use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Longest TLS handshake on an implicit-TLS connection, servers' and clients', before the
/// machine's own deadlines run: the machines' own default for STARTTLS/STLS
/// (`tls_handshake_timeout`, ARCHITECTURE.md, "One vocabulary").
pub const TLS_HANDSHAKE_TIMEOUT: Duration = mail_wire::session::DEFAULT_TLS_HANDSHAKE_TIMEOUT;

/// Longest wait of a client for its TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping server lets its sessions finish unless told otherwise
/// (`--shutdown-grace`).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The stop switch of a blocking server: [`trigger`](Self::trigger) it from any thread, and
/// the server's `serve_until` stops as described in the [module docs](self). Clones share it.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<(Mutex<bool>, Condvar)>);

impl Shutdown {
    /// Not triggered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A switch triggered by Ctrl-C or SIGTERM, caught from now on (the signal is awaited on a
    /// one-thread tokio runtime of its own: std has no portable signal API).
    pub fn on_signal() -> io::Result<Self> {
        let runtime = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let signal = {
            let _context = runtime.enter();
            ShutdownSignal::new()?
        };
        let shutdown = Self::new();
        let trigger = shutdown.clone();
        std::thread::spawn(move || {
            runtime.block_on(signal.wait());
            trigger.trigger();
        });
        Ok(shutdown)
    }

    /// Says stop: every `wait` returns.
    pub fn trigger(&self) {
        let (stopped, changed) = &*self.0;
        *stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        changed.notify_all();
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until [`trigger`](Self::trigger) is called.
    pub fn wait(&self) {
        let (stopped, changed) = &*self.0;
        let mut stopped = stopped.lock().unwrap_or_else(PoisonError::into_inner);
        while !*stopped {
            stopped = changed
                .wait(stopped)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM, the servers' graceful stop, caught from the moment this value
/// is created: create it before a server announces itself, so that a signal sent right after
/// the announcement is not missed (and does not kill the process the default way).
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: ::tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: ::tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers now. Needs a tokio runtime (call it inside one, or inside
    /// `Runtime::block_on`/`enter`).
    pub fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use ::tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for either signal, and logs it.
    pub async fn wait(mut self) {
        #[cfg(unix)]
        {
            ::tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = ::tokio::signal::ctrl_c().await;
        }
        tracing::info!("stopping");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shutdown_wakes_every_waiter_once_triggered() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.is_triggered());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let shutdown = shutdown.clone();
                std::thread::spawn(move || shutdown.wait())
            })
            .collect();
        shutdown.trigger();
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert!(shutdown.is_triggered());
        shutdown.wait(); // returns at once
    }
}
