//! What the two POP3 server adapters share besides the session ([`super::policy`]): the
//! command line, the server-wide options, the machine's configuration per connection, and
//! the login check.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Parser;
use pop3_proto::server::{Config, Login, LoginRefusal};
use pop3_proto::{Mechanism, Text, Timestamp, TlsMode};

use super::accounts::{Accounts, InvalidUserName};
use crate::cli::{ServerTlsArgs, ShutdownArgs, UserPass};
use crate::limits::LimitArgs;
use crate::maildir::{Maildrop, MaildropLocks};
use crate::proxy::{ProxyArgs, ProxyPolicy};
use crate::tls::TlsError;

/// The command line of `pop3_server_tokio` and `pop3_server_blocking` (tools outside this
/// repository use it: keep it stable).
#[derive(Debug, Clone, Parser)]
#[command(about = "A POP3 server over Maildirs: user U's maildrop is the Maildir DIR/U")]
pub struct ServerArgs {
    /// Plain POP3, STLS offered
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1100")]
    pub listen: SocketAddr,
    /// Implicit TLS, RFC 8314 (995 style)
    #[arg(long, value_name = "ADDR")]
    pub tls_listen: Option<SocketAddr>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub tls: ServerTlsArgs,
    /// User U's maildrop is the Maildir DIR/U (new/ and cur/)
    #[arg(long, value_name = "DIR")]
    pub maildir: PathBuf,
    /// An account (repeatable); USER/PASS, APOP and SASL PLAIN/LOGIN
    #[arg(long = "user", value_name = "USER:PASS", required = true)]
    pub users: Vec<UserPass>,
    /// Offer plaintext authentication before TLS (testing only)
    #[arg(long)]
    pub insecure_auth: bool,
    /// Seconds a client may stay silent (no whole command) before the connection is closed,
    /// without a response and deleting nothing (RFC 1939 section 3: at least 10 minutes;
    /// shorter for tests and load runs)
    #[arg(long, value_name = "SECS", default_value_t = Config::AUTOLOGOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub autologout: u64,
    /// How many connections at once: `--max-connections`, `--max-connections-per-client`
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Behind a load balancer: `--proxy-protocol`, `--proxy-from`, `--proxy-timeout`
    #[command(flatten)]
    pub proxy: ProxyArgs,
    /// The graceful stop: `--shutdown-grace`
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
}

/// Why a server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A bad `--user`.
    #[error(transparent)]
    User(#[from] InvalidUserName),
    /// The certificate or key.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The data directory or a socket.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Everything the sessions of one server share.
#[derive(Debug)]
pub struct ServerOptions {
    /// The directory holding one Maildir per user.
    pub maildir_root: PathBuf,
    /// The accounts.
    pub accounts: Accounts,
    /// The name in the greeting and in APOP timestamps.
    pub hostname: String,
    /// Allow USER/PASS and SASL PLAIN/LOGIN without TLS (`--insecure-auth`).
    pub insecure_auth: bool,
    /// The TLS configuration for STLS and implicit TLS.
    pub tls: Arc<rustls::ServerConfig>,
    /// One session per maildrop.
    pub locks: MaildropLocks,
    /// Behind a load balancer: who may send a PROXY header (`--proxy-protocol`); `None`:
    /// clients connect directly.
    pub proxy: Option<ProxyPolicy>,
    /// How long a stopping server lets sessions finish (`--shutdown-grace`).
    pub grace: Duration,
    /// The inactivity timer (`--autologout`).
    pub autologout: Duration,
    /// The connection caps (`--max-connections`, `--max-connections-per-client`); each
    /// runtime applies its own default.
    pub limits: LimitArgs,
}

impl ServerOptions {
    /// The options of the command line (generates the certificate when none is given).
    pub fn from_args(args: &ServerArgs) -> Result<Self, SetupError> {
        std::fs::create_dir_all(&args.maildir)?;
        Ok(Self {
            maildir_root: args.maildir.clone(),
            accounts: Accounts::new(args.users.iter().cloned())?,
            hostname: args.tls.hostname.clone(),
            insecure_auth: args.insecure_auth,
            tls: args.tls.identity()?.config,
            locks: MaildropLocks::new(),
            proxy: args.proxy.policy(),
            grace: args.shutdown.grace(),
            autologout: Duration::from_secs(args.autologout),
            limits: args.limits.clone(),
        })
    }

    /// The machine's configuration for one connection: STLS offered on plain connections,
    /// a fresh APOP timestamp, plaintext mechanisms only under TLS unless `--insecure-auth`
    /// (ARCHITECTURE.md security invariant 7).
    pub fn session_config(&self, implicit_tls: bool) -> Config {
        let tls = if implicit_tls {
            TlsMode::Implicit
        } else {
            TlsMode::Opportunistic
        };
        let mut config = Config::default()
            .with_tls(tls)
            .with_plaintext_auth_without_tls(self.insecure_auth)
            .with_sasl_mechanisms([Mechanism::Plain, Mechanism::Login])
            .with_autologout(self.autologout);
        if let Ok(text) = Text::new(Bytes::from_static(b"pop3-proto-example")) {
            config = config.with_implementation(text);
        }
        let greeting = format!("{} POP3 server ready", self.hostname);
        if let Ok(text) = Text::new(greeting) {
            config = config.with_greeting(text);
        }
        if let Some(timestamp) = apop_timestamp(&self.hostname) {
            config = config.with_apop_timestamp(timestamp);
        }
        config
    }

    /// The login decision (blocking: it lists the maildrop): the credentials must prove an
    /// account, and its maildrop must be free and readable.
    pub fn open_maildrop(&self, login: &Login) -> Result<(String, Maildrop), LoginRefusal> {
        let user = self
            .accounts
            .verify(login)
            .ok_or(LoginRefusal::BadCredentials)?;
        let maildrop = super::maildrop::open(&self.maildir_root, user, &self.locks)?;
        Ok((user.to_owned(), maildrop))
    }
}

/// A timestamp unique to this connection, `<pid.counter.nanos@host>` (RFC 1939 section 7
/// suggests process id and clock); `None` when the host name does not fit the syntax.
fn apop_timestamp(hostname: &str) -> Option<Timestamp> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    Timestamp::new(format!("<{pid}.{counter}.{nanos}@{hostname}>")).ok()
}

/// Prints where the server listens (stdout, one line each: scripts and tests read them).
pub fn announce(options: &ServerOptions, plain: SocketAddr, implicit: Option<SocketAddr>) {
    println!("pop3 listening on {plain} (plain, STLS offered)");
    if let Some(implicit) = implicit {
        println!("pop3s listening on {implicit} (implicit TLS)");
    }
    if options.insecure_auth {
        println!("warning: plaintext authentication allowed without TLS (--insecure-auth)");
    }
    if let Some(proxy) = &options.proxy {
        println!("PROXY protocol expected from {proxy}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apop_timestamps_differ_per_connection() {
        let a = apop_timestamp("mail.example").unwrap();
        let b = apop_timestamp("mail.example").unwrap();
        assert_ne!(a, b);
        assert!(a.as_bytes().ends_with(b"@mail.example>"));
        assert!(apop_timestamp("bad host>").is_none());
    }
}
