//! The SMTP client with a blocking socket: connect, optional implicit TLS, drive the session,
//! report.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};

use smtp_proto::client::{Connection, Event};

use super::args::ClientArgs;
use super::submission::{self, MessageSource, Submission};
use crate::driver::Flow;
use crate::driver::blocking::{self as driver, BlockingHandler, BlockingStream, BlockingTls};
use crate::tls::{client_config, server_name};

/// Longest wait for the TCP connection (the shared default).
pub use crate::serve::CONNECT_TIMEOUT;

/// Sends the message the flags describe; see [`super::client_tokio::send`].
pub fn send(args: ClientArgs) -> Result<String, Box<dyn std::error::Error>> {
    if args.load.count.is_some() {
        return Err("--count (load generation) is smtp_client_tokio's only".into());
    }
    let config = submission::machine_config(&args)?;
    let message = MessageSource::open(args.file.as_deref())?;
    let envelope = submission::envelope(&args, &message)?;
    let tls = BlockingTls::Client(
        client_config(&args.trust.trust())?,
        server_name(&args.server.host)?,
    );
    let tcp = connect(&args.server.host, args.server.port)?;
    let _ = tcp.set_nodelay(true);
    let stream = if args.tls {
        tcp.set_read_timeout(Some(crate::serve::TLS_HANDSHAKE_TIMEOUT))?;
        BlockingStream::implicit_tls(tcp, &tls)?
    } else {
        BlockingStream::Plain(tcp)
    };
    let mut machine = Connection::new(config);
    let mut handler = BlockingClient(Submission::new(envelope, args.to.clone(), message));
    let ended = driver::run(&mut machine, stream, &tls, &mut handler);
    tracing::debug!(?ended, "connection ended");
    match (handler.0.outcome(), ended) {
        (Ok(reply), _) => Ok(reply.to_string()),
        (Err(why), Err(error)) => Err(format!("{why} ({error})").into()),
        (Err(why), Ok(_)) => Err(why.into()),
    }
}

/// Connects to the first address of `host` that answers, each try bounded.
fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(tcp) => return Ok(tcp),
            Err(error) => last = error,
        }
    }
    Err(last)
}

struct BlockingClient(Submission);

impl BlockingHandler<Connection> for BlockingClient {
    fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        self.0.on_event(conn, event)
    }

    fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        self.0.on_await(conn)
    }
}
