//! The blocking POP3 client: one connection on the calling thread; each message is made
//! durable (fsync, rename into `new/`) before it is marked for deletion or remembered.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use pop3_proto::client::{Connection, Event};

use super::client::{ClientArgs, ClientError, Download, Summary};
use super::session::ClientSession;
use crate::driver::Flow;
use crate::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};

/// How long connecting (and an implicit-TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// `pop3_client_blocking`: downloads as `args` say and returns the summary.
pub fn run(args: &ClientArgs) -> Result<Summary, ClientError> {
    let mut download = Download::new(args)?;
    let tls = match args.tls_config()? {
        Some((config, name)) => BlockingTls::Client(config, name),
        None => BlockingTls::None,
    };
    let tcp = connect(args)?;
    tcp.set_nodelay(true)?;
    let stream = if args.tls {
        tcp.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        BlockingStream::implicit_tls(tcp, &tls)?
    } else {
        BlockingStream::Plain(tcp)
    };
    let mut conn = ClientSession(Connection::new(args.machine_config()));
    let mut handler = Handler {
        download: &mut download,
    };
    if let Err(error) = blocking::run(&mut conn, stream, &tls, &mut handler) {
        download.fail(error.into());
    }
    download.finish()
}

fn connect(args: &ClientArgs) -> io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address for the server");
    for addr in (args.server.host.as_str(), args.server.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(tcp) => return Ok(tcp),
            Err(error) => last = error,
        }
    }
    Err(last)
}

struct Handler<'a> {
    download: &'a mut Download,
}

impl BlockingHandler<ClientSession> for Handler<'_> {
    fn on_event(&mut self, conn: &mut ClientSession, event: Event) -> io::Result<Flow> {
        if matches!(event, Event::StartTls) {
            return Ok(Flow::StartTls);
        }
        let outcome = match self.download.on_event(&mut conn.0, event) {
            Ok(Some(received)) => {
                let result = received.delivery.commit().map(|delivered| delivered.size);
                match self.download.committed(received.msg, result) {
                    Some(msg) => self.download.dele(&mut conn.0, msg),
                    None => Ok(()),
                }
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => Ok(Flow::Continue),
            Err(error) => {
                // Dropping the connection deletes nothing on the server (RFC 1939 section 6).
                self.download.fail(error);
                Ok(Flow::Close)
            }
        }
    }

    fn on_idle(&mut self, conn: &mut ClientSession) -> io::Result<bool> {
        match self.download.finish_if_drained(&mut conn.0) {
            Ok(queued) => Ok(queued),
            Err(error) => {
                self.download.fail(error);
                Err(io::Error::other("the download failed"))
            }
        }
    }
}
