//! The SMTP client on tokio: connect, optional implicit TLS, drive the session, report.

use std::io;

use smtp_proto::client::{Connection, Event};
use tokio::net::TcpStream;

use super::args::ClientArgs;
use super::submission::{self, MessageSource, Submission};
use crate::driver::Flow;
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};
use crate::serve::TLS_HANDSHAKE_TIMEOUT;
use crate::tls::{client_config, server_name};

/// Longest wait for the TCP connection (the shared default).
pub use crate::serve::CONNECT_TIMEOUT;

/// Sends the message the flags describe. `Ok` with the final reply's text when the server
/// accepted every recipient and the message; `Err` with the reason (the server's reply)
/// otherwise.
pub async fn send(args: ClientArgs) -> Result<String, Box<dyn std::error::Error>> {
    let config = submission::machine_config(&args)?;
    // The first pass over the message reads it whole: off the runtime's workers.
    let file = args.file.clone();
    let message =
        tokio::task::spawn_blocking(move || MessageSource::open(file.as_deref())).await??;
    let envelope = submission::envelope(&args, &message)?;
    let tls = TlsUpgrade::client(
        client_config(&args.trust.trust())?,
        server_name(&args.server.host)?,
    );
    let stream = connect(&args, &tls).await?;
    let mut machine = Connection::new(config);
    let mut handler = TokioClient(Submission::new(envelope, args.to.clone(), message));
    let ended = driver::run(&mut machine, stream, &tls, &mut handler).await;
    tracing::debug!(?ended, "connection ended");
    let outcome = handler.0.outcome();
    match (outcome, ended) {
        (Ok(reply), _) => Ok(reply.to_string()),
        (Err(why), Err(error)) => Err(format!("{why} ({error})").into()),
        (Err(why), Ok(_)) => Err(why.into()),
    }
}

/// Connects to `--server` within [`CONNECT_TIMEOUT`], with implicit TLS under `--tls` within
/// [`TLS_HANDSHAKE_TIMEOUT`].
pub async fn connect(args: &ClientArgs, tls: &TlsUpgrade) -> io::Result<Stream> {
    let connect = TcpStream::connect((args.server.host.as_str(), args.server.port));
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
    let _ = tcp.set_nodelay(true);
    if !args.tls {
        return Ok(Stream::Plain(tcp));
    }
    tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, Stream::implicit_tls(tcp, tls))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

struct TokioClient(Submission);

impl Handler<Connection> for TokioClient {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        self.0.on_event(conn, event)
    }

    async fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        self.0.on_await(conn)
    }
}
