//! Command-line pieces shared by the examples (tools outside the repository use the flags: keep them stable): account
//! and address parsing for clap, the server and client TLS flags, and logging.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use mail_wire::Secret;

use crate::tls::{ClientTrust, ServerIdentity, TlsError};

/// An account given as `USER:PASS` (`--user` of the servers, `--auth` of the SMTP client).
/// The password may contain `:`; the user name may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPass {
    /// The user name.
    pub user: String,
    /// The password, kept out of logs and wiped on drop.
    pub pass: Secret,
}

impl FromStr for UserPass {
    type Err = CliError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Ok(Self {
                user: user.to_owned(),
                pass: Secret::from(pass),
            }),
            _ => Err(CliError::UserPass),
        }
    }
}

/// A server address given as `HOST:PORT` (`--server`), with `[v6]:PORT` for IPv6. The host is
/// kept as text: it is also the name TLS checks the certificate against
/// ([`crate::tls::server_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// A DNS name or an IP address (without brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl FromStr for HostPort {
    type Err = CliError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (host, port) = match text.strip_prefix('[') {
            Some(bracketed) => {
                let (host, rest) = bracketed.split_once(']').ok_or(CliError::HostPort)?;
                (host, rest.strip_prefix(':').ok_or(CliError::HostPort)?)
            }
            None => {
                let (host, port) = text.rsplit_once(':').ok_or(CliError::HostPort)?;
                if host.contains(':') {
                    return Err(CliError::HostPort); // an IPv6 address needs brackets
                }
                (host, port)
            }
        };
        if host.is_empty() {
            return Err(CliError::HostPort);
        }
        let port = port.parse().map_err(|_| CliError::HostPort)?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A command-line value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Not `USER:PASS` with a non-empty user.
    #[error("expected USER:PASS")]
    UserPass,
    /// Not `HOST:PORT` (IPv6 as `[ADDR]:PORT`).
    #[error("expected HOST:PORT (IPv6 as [ADDR]:PORT)")]
    HostPort,
}

/// The TLS flags of the servers: `--hostname`, `--cert`, `--key`.
#[derive(Debug, Clone, Args)]
pub struct ServerTlsArgs {
    /// Greeting name and certificate name
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    pub hostname: String,
    /// TLS certificate chain (PEM); without it a self-signed one is generated at start
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// TLS private key (PEM)
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl ServerTlsArgs {
    /// The server's TLS identity: from `--cert`/`--key`, or self-signed for `--hostname`.
    pub fn identity(&self) -> Result<ServerIdentity, TlsError> {
        let files = self.cert.as_deref().zip(self.key.as_deref());
        ServerIdentity::from_files_or_self_signed(files, &self.hostname)
    }
}

/// The trust flags of the clients: `--insecure` or `--ca PEM` (neither: the Mozilla roots).
#[derive(Debug, Clone, Args)]
pub struct ClientTrustArgs {
    /// Accept any server certificate (testing only)
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Trust only the CA certificates in this PEM file
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

impl ClientTrustArgs {
    /// What the flags ask for.
    pub fn trust(&self) -> ClientTrust {
        match (&self.ca, self.insecure) {
            (_, true) => ClientTrust::InsecureAcceptAnyCertificate,
            (Some(ca), false) => ClientTrust::CaFile(ca.clone()),
            (None, false) => ClientTrust::WebPkiRoots,
        }
    }
}

/// The graceful stop of the servers: `--shutdown-grace`.
#[derive(Debug, Clone, Args)]
pub struct ShutdownArgs {
    /// On SIGTERM or Ctrl-C, seconds the sessions in progress get to finish (idle ones are
    /// closed at once) before the rest are dropped
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_SHUTDOWN_GRACE.as_secs())]
    pub shutdown_grace: u64,
}

/// The `--shutdown-grace` of every server unless told otherwise.
pub use crate::serve::SHUTDOWN_GRACE as DEFAULT_SHUTDOWN_GRACE;

impl ShutdownArgs {
    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace)
    }
}

impl Default for ShutdownArgs {
    fn default() -> Self {
        Self {
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE.as_secs(),
        }
    }
}

/// Starts logging to stderr: one line per event, filtered by `RUST_LOG` (default `info`),
/// coloured only on a terminal (CI logs stay plain text). Does nothing if a subscriber is
/// already installed (tests may call it more than once).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn user_pass_splits_at_the_first_colon() {
        let account: UserPass = "alice:pa:ss".parse().unwrap();
        assert_eq!(account.user, "alice");
        assert_eq!(account.pass.expose(), b"pa:ss");
        let empty_pass: UserPass = "bob:".parse().unwrap();
        assert!(empty_pass.pass.is_empty());
        assert_eq!("alice".parse::<UserPass>(), Err(CliError::UserPass));
        assert_eq!(":pass".parse::<UserPass>(), Err(CliError::UserPass));
        assert!(
            !format!("{account:?}").contains("pa:ss"),
            "no password in Debug"
        );
    }

    #[test]
    fn host_port_forms() {
        let parse = |text: &str| text.parse::<HostPort>();
        let hp = |host: &str, port| HostPort {
            host: host.to_owned(),
            port,
        };
        assert_eq!(
            parse("mail.example.com:587"),
            Ok(hp("mail.example.com", 587))
        );
        assert_eq!(parse("127.0.0.1:25"), Ok(hp("127.0.0.1", 25)));
        assert_eq!(parse("[::1]:110"), Ok(hp("::1", 110)));
        assert_eq!(hp("::1", 110).to_string(), "[::1]:110");
        assert_eq!(hp("localhost", 2525).to_string(), "localhost:2525");
        for bad in [
            "localhost",
            ":25",
            "host:",
            "host:65536",
            "::1:110",
            "[::1]110",
            "[::1",
        ] {
            assert_eq!(parse(bad), Err(CliError::HostPort), "{bad}");
        }
    }

    #[derive(Debug, Parser)]
    struct Demo {
        #[command(flatten)]
        tls: ServerTlsArgs,
        #[command(flatten)]
        trust: ClientTrustArgs,
        #[arg(long = "user")]
        users: Vec<UserPass>,
        #[arg(long)]
        server: Option<HostPort>,
    }

    #[test]
    fn flags_parse_through_clap() {
        let demo = Demo::try_parse_from([
            "demo",
            "--user",
            "a:1",
            "--user",
            "b:2",
            "--server",
            "[::1]:995",
            "--ca",
            "ca.pem",
        ])
        .unwrap();
        assert_eq!(demo.users.len(), 2);
        assert_eq!(demo.users[1].user, "b");
        assert_eq!(
            demo.server,
            Some(HostPort {
                host: "::1".into(),
                port: 995
            })
        );
        assert_eq!(demo.tls.hostname, "localhost");
        assert_eq!(demo.trust.trust(), ClientTrust::CaFile("ca.pem".into()));
        let insecure = Demo::try_parse_from(["demo", "--insecure"]).unwrap();
        assert_eq!(
            insecure.trust.trust(),
            ClientTrust::InsecureAcceptAnyCertificate
        );
        assert_eq!(
            Demo::try_parse_from(["demo"]).unwrap().trust.trust(),
            ClientTrust::WebPkiRoots
        );
        // Refusals: a cert without its key, both trust flags, a malformed account.
        assert!(Demo::try_parse_from(["demo", "--cert", "c.pem"]).is_err());
        assert!(Demo::try_parse_from(["demo", "--insecure", "--ca", "x"]).is_err());
        assert!(Demo::try_parse_from(["demo", "--user", "nopass"]).is_err());
    }
}
