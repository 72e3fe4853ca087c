//! The command lines of the SMTP examples (tools outside the repository use the flags: keep them stable).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};

use crate::cli::{ClientTrustArgs, HostPort, ServerTlsArgs, ShutdownArgs, UserPass};
use crate::limits::LimitArgs;
use crate::maildir::Fsync;
use crate::proxy::ProxyArgs;

/// `smtp_server_tokio` and `smtp_server_blocking`: the same flags.
#[derive(Debug, Clone, Parser)]
#[command(
    about = "An SMTP server over smtp-proto: STARTTLS, implicit TLS, AUTH, Maildir delivery, no open relay",
    long_about = None
)]
pub struct ServerArgs {
    /// Plain SMTP listener; STARTTLS is offered
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    pub listen: SocketAddr,
    /// Implicit TLS listener (RFC 8314, the port 465 style)
    #[arg(long, value_name = "ADDR")]
    pub tls_listen: Option<SocketAddr>,
    /// Greeting, certificate and key (`--hostname`, `--cert`, `--key`)
    #[command(flatten)]
    pub tls: ServerTlsArgs,
    /// The Maildir root: each recipient's mail goes to `DIR/<local-part>/`; none: sink mode.
    #[arg(
        long,
        value_name = "DIR",
        help = "Deliver to DIR/<local-part>/ as Maildir before answering 250; without it, count and discard (sink mode)"
    )]
    pub maildir: Option<PathBuf>,
    /// What a delivery syncs before the 250: `all` (the file, then `new/`), `file` (the file
    /// only, as the Maildir specification asks), `none` (tests and load runs)
    #[arg(long, value_name = "WHAT", value_enum, default_value_t = Fsync::All)]
    pub fsync: Fsync,
    /// A local domain (repeatable; default: the hostname). Mail to other domains needs AUTH
    #[arg(long = "domain", value_name = "NAME")]
    pub domains: Vec<String>,
    /// An account for AUTH PLAIN and LOGIN (repeatable)
    #[arg(long = "user", value_name = "USER:PASS")]
    pub users: Vec<UserPass>,
    /// Accept mail for a local domain only when its local part names a `--user` account
    /// (550 5.1.1 otherwise, RFC 5321 section 3.6.2); `postmaster` goes to the account so
    /// named, else to the first one. Without it, every local part gets its own Maildir
    #[arg(long, requires = "users")]
    pub accounts_only: bool,
    /// Largest message accepted, in octets (advertised with SIZE)
    #[arg(long, value_name = "BYTES", default_value_t = 26_214_400)]
    pub max_size: u64,
    /// Most recipients per message
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_rcpt: usize,
    /// Offer AUTH before TLS (testing only)
    #[arg(long)]
    pub insecure_auth: bool,
    /// Seconds a client has for each whole command; then 421 4.4.2 and the connection is
    /// closed (RFC 5321 section 4.5.3.2: at least 5 minutes; shorter for tests and load runs)
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub command_timeout: u64,
    /// Seconds a client has for each block of message data (RFC 5321 section 4.5.3.2: at
    /// least 3 minutes)
    #[arg(long, value_name = "SECS", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub data_timeout: u64,
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

/// `smtp_client_tokio` and `smtp_client_blocking`: the same flags.
#[derive(Debug, Clone, Parser)]
#[command(
    about = "Sends one message with smtp-proto's client: exit status 0 only when the server accepted every recipient and the message",
    long_about = None
)]
#[command(group(ArgGroup::new("tls_mode").args(["starttls", "tls"])))]
pub struct ClientArgs {
    /// The server
    #[arg(long, value_name = "HOST:PORT")]
    pub server: HostPort,
    /// Upgrade with STARTTLS before anything else (required: no plaintext fallback)
    #[arg(long)]
    pub starttls: bool,
    /// TLS from the start (implicit TLS, RFC 8314)
    #[arg(long)]
    pub tls: bool,
    /// Whom to trust (`--insecure`, `--ca`)
    #[command(flatten)]
    pub trust: ClientTrustArgs,
    /// Authenticate (PLAIN or LOGIN; needs TLS)
    #[arg(long, value_name = "USER:PASS")]
    pub auth: Option<UserPass>,
    /// The name sent with EHLO
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub helo: String,
    /// The sender (empty for the null reverse-path `<>`)
    #[arg(long, value_name = "ADDR")]
    pub from: String,
    /// A recipient (repeatable)
    #[arg(long = "to", value_name = "ADDR", required = true)]
    pub to: Vec<String>,
    /// The message (headers and body); standard input when absent
    #[arg(value_name = "FILE", conflicts_with = "count")]
    pub file: Option<PathBuf>,
    /// Load generation (`smtp_client_tokio` only): `--count`, `--concurrency`,
    /// `--new-connection-per-message`, `--size`
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The load generator's flags: with `--count`, the client sends that many generated messages
/// instead of one from a file (see [`super::loadgen`]).
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Load generation: send N generated messages, then print the rate and the reply classes
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Sessions running at once (with --count)
    #[arg(long, value_name = "C", default_value_t = 1, requires = "count",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// A fresh connection per message instead of C connections each sending many (with --count)
    #[arg(long, requires = "count")]
    pub new_connection_per_message: bool,
    /// About how many octets each generated message has (with --count)
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 10_240,
        requires = "count"
    )]
    pub size: usize,
}
