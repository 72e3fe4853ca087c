//! The mail drop: the tokio SMTP server and the tokio POP3 server over one data directory.
//! Mail sent to a local account over SMTP is fetchable over POP3 at once.
//!
//! ```text
//! cargo run --release --example maildrop
//! ```
//!
//! Ports (all on 127.0.0.1 by default): SMTP 2525 (STARTTLS), SMTPS 4650 (implicit TLS),
//! POP3 1100 (STLS), POP3S 9950 (implicit TLS). The data directory (default
//! `./maildrop-data`, `--data DIR`) holds a self-signed certificate made on the first start
//! (`cert.pem`, `key.pem`; clients trust it with `--cacert`/`--ca`) and one Maildir per user
//! under `mail/`. A demo account is printed at start, with curl commands that send a message
//! and fetch it back over TLS. Ctrl-C or SIGTERM stops both servers gracefully
//! (`--shutdown-grace`). Behind a load balancer, `--proxy-protocol --proxy-from CIDR` applies
//! to all four listeners; `--max-connections` and `--max-connections-per-client` to each
//! server. Mail to a local part that is no account is refused at RCPT with 550 5.1.1
//! (nobody could fetch it), unless `--catch-all`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use adapters::cli::{ShutdownArgs, UserPass};
use adapters::limits::LimitArgs;
use adapters::maildir::MaildropLocks;
use adapters::pop3::accounts::Accounts;
use adapters::pop3::server::ServerOptions;
use adapters::proxy::ProxyArgs;
use adapters::tls::ServerIdentity;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "SMTP and POP3 servers over one Maildir store: send mail in, fetch it out")]
struct Args {
    /// Data directory: certificate, key and one Maildir per user under mail/
    #[arg(long, value_name = "DIR", default_value = "./maildrop-data")]
    data: PathBuf,
    /// Accounts for SMTP AUTH and POP3 (repeatable)
    #[arg(long = "user", value_name = "USER:PASS", default_value = "demo:demo")]
    users: Vec<UserPass>,
    /// Host name: greetings, certificate, local mail domain
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    hostname: String,
    /// Plain SMTP (STARTTLS offered)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2525")]
    smtp_listen: SocketAddr,
    /// SMTP with implicit TLS (RFC 8314)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4650")]
    smtps_listen: SocketAddr,
    /// Plain POP3 (STLS offered)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1100")]
    pop3_listen: SocketAddr,
    /// POP3 with implicit TLS (RFC 8314)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9950")]
    pop3s_listen: SocketAddr,
    /// Accept mail for any local part of the host name, each into its own Maildir, even one no
    /// account can fetch (without it: 550 5.1.1 at RCPT for a local part that is no account)
    #[arg(long)]
    catch_all: bool,
    #[command(flatten)]
    proxy: ProxyArgs,
    #[command(flatten)]
    shutdown: ShutdownArgs,
    /// The connection caps, for each of the two servers
    #[command(flatten)]
    limits: LimitArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    adapters::cli::init_logging();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("maildrop: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // One stop signal for both servers, caught from before the banner is printed.
    let signal = adapters::serve::ShutdownSignal::new()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.wait().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let mail = args.data.join("mail");
    std::fs::create_dir_all(&mail)?;
    let (cert, key) = certificate(&args.data, &args.hostname)?;
    let identity = ServerIdentity::from_pem_files(&cert, &key)?;

    let pop3 = Arc::new(ServerOptions {
        maildir_root: mail.clone(),
        accounts: Accounts::new(args.users.iter().cloned())?,
        hostname: args.hostname.clone(),
        insecure_auth: false,
        tls: identity.config,
        locks: MaildropLocks::new(),
        proxy: args.proxy.policy(),
        grace: args.shutdown.grace(),
        autologout: pop3_proto::server::Config::AUTOLOGOUT,
        limits: args.limits.clone(),
    });
    let pop3_plain = tokio::net::TcpListener::bind(args.pop3_listen).await?;
    let pop3_implicit = tokio::net::TcpListener::bind(args.pop3s_listen).await?;

    // The SMTP server takes its own command line; build it from ours.
    let mut smtp_argv: Vec<String> = vec!["maildrop".into()];
    let mut flag = |name: &str, value: String| {
        smtp_argv.push(name.into());
        smtp_argv.push(value);
    };
    flag("--listen", args.smtp_listen.to_string());
    flag("--tls-listen", args.smtps_listen.to_string());
    flag("--hostname", args.hostname.clone());
    flag("--cert", cert.display().to_string());
    flag("--key", key.display().to_string());
    flag("--maildir", mail.display().to_string());
    flag("--domain", args.hostname.clone());
    for account in &args.users {
        let pass = account.pass.expose_str().ok_or("passwords must be UTF-8")?;
        flag("--user", format!("{}:{pass}", account.user));
    }
    for network in &args.proxy.proxy_from {
        flag("--proxy-from", network.to_string());
    }
    flag("--proxy-timeout", args.proxy.proxy_timeout.to_string());
    flag("--shutdown-grace", args.shutdown.shutdown_grace.to_string());
    if let Some(max) = args.limits.max_connections {
        flag("--max-connections", max.to_string());
    }
    flag(
        "--max-connections-per-client",
        args.limits.max_connections_per_client.to_string(),
    );
    if args.proxy.proxy_protocol {
        smtp_argv.push("--proxy-protocol".into());
    }
    // Mail is for the accounts that fetch it: none goes into a Maildir no login reads.
    if !args.catch_all {
        smtp_argv.push("--accounts-only".into());
    }
    let smtp_args = adapters::smtp::args::ServerArgs::try_parse_from(&smtp_argv)?;

    banner(&args, &cert);
    let smtp = async {
        adapters::smtp::server_tokio::serve_until(smtp_args, until_stopped(stopped.clone()))
            .await
            .map_err(|e| format!("SMTP: {e}"))
    };
    let pop3 = async {
        adapters::pop3::server_tokio::serve_listeners(
            pop3,
            pop3_plain,
            Some(pop3_implicit),
            until_stopped(stopped.clone()),
        )
        .await
        .map_err(|e| format!("POP3: {e}"))
    };
    tokio::try_join!(smtp, pop3)?;
    Ok(())
}

/// The certificate and key of the data directory, made (self-signed) on the first start and
/// kept, so clients that trust it keep working across restarts.
fn certificate(
    data: &Path,
    hostname: &str,
) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let (cert, key) = (data.join("cert.pem"), data.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let mut names = vec![hostname.to_owned()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|name| name == extra) {
            names.push(extra.to_owned());
        }
    }
    let generated = rcgen::generate_simple_self_signed(names)?;
    std::fs::write(&cert, generated.cert.pem())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(
        &mut options.open(&key)?,
        generated.signing_key.serialize_pem().as_bytes(),
    )?;
    Ok((cert, key))
}

/// What runs where, the accounts, and copy-paste commands to try it.
fn banner(args: &Args, cert: &Path) {
    let host = &args.hostname;
    let cert = cert.display();
    println!(
        "maildrop: SMTP in, POP3 out, over the Maildirs in {}",
        args.data.join("mail").display()
    );
    println!(
        "  SMTP   {}  (STARTTLS)      SMTPS  {}  (implicit TLS)",
        args.smtp_listen, args.smtps_listen
    );
    println!(
        "  POP3   {}  (STLS)          POP3S  {}  (implicit TLS)",
        args.pop3_listen, args.pop3s_listen
    );
    println!("  certificate: {cert} (self-signed: clients trust it with --cacert / --ca)");
    if let Some(proxy) = args.proxy.policy() {
        println!("  behind a load balancer: PROXY protocol expected from {proxy}");
    }
    for account in &args.users {
        println!(
            "  account: user {} password {} (mail to {}@{host})",
            account.user,
            account.pass.expose_str().unwrap_or("<not UTF-8>"),
            account.user
        );
    }
    let Some(demo) = args.users.first() else {
        return;
    };
    let (user, pass) = (&demo.user, demo.pass.expose_str().unwrap_or(""));
    println!();
    println!("Send a message over SMTPS, then fetch it back over POP3S (copy-paste):");
    println!("  printf 'Subject: hello\\r\\n\\r\\nHello, mail drop!\\r\\n' > /tmp/hello.eml");
    println!(
        "  curl -sS --cacert {cert} smtps://{host}:{} --mail-from you@example.com --mail-rcpt {user}@{host} --upload-file /tmp/hello.eml",
        args.smtps_listen.port()
    );
    println!(
        "  curl -sS --cacert {cert} -u {user}:{pass} pop3s://{host}:{}/",
        args.pop3s_listen.port()
    );
    println!(
        "  curl -sS --cacert {cert} -u {user}:{pass} pop3s://{host}:{}/1",
        args.pop3s_listen.port()
    );
    println!("Or download everything into a Maildir with the example client:");
    println!(
        "  cargo run --release --example pop3_client_tokio -- --server {host}:{} --tls --ca {cert} --user {user} --pass {pass} --out ./inbox",
        args.pop3s_listen.port()
    );
    println!("Ctrl-C stops both servers.");
}
