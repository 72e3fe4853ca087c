//! The tokio POP3 client. Messages are made durable (fsync, rename into `new/`) on tokio's
//! blocking pool, several at a time, while the next ones stream in; each is marked for
//! deletion or remembered only once its commit succeeded, and QUIT waits for all of them.

use std::io;
use std::time::Duration;

use pop3_proto::MsgNumber;
use pop3_proto::client::{Connection, Event};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::client::{ClientArgs, ClientError, Download, Summary};
use super::session::ClientSession;
use crate::driver::Flow;
use crate::driver::tokio::{self as driver, Handler, Stream, TlsUpgrade};

/// How long connecting (and an implicit-TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// `pop3_client_tokio`: downloads as `args` say and returns the summary.
pub async fn run(args: &ClientArgs) -> Result<Summary, ClientError> {
    let mut download = Download::new(args)?;
    let tls = match args.tls_config()? {
        Some((config, name)) => TlsUpgrade::client(config, name),
        None => TlsUpgrade::None,
    };
    let address = (args.server.host.as_str(), args.server.port);
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
    tcp.set_nodelay(true)?;
    let stream = if args.tls {
        tokio::time::timeout(CONNECT_TIMEOUT, Stream::implicit_tls(tcp, &tls))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??
    } else {
        Stream::Plain(tcp)
    };
    let mut conn = ClientSession(Connection::new(args.machine_config()));
    let mut handler = SessionHandler {
        download: &mut download,
        commits: JoinSet::new(),
    };
    if let Err(error) = driver::run(&mut conn, stream, &tls, &mut handler).await {
        handler.download.fail(error.into());
    }
    // Whatever is still being committed finishes before the memory is saved.
    while let Some(joined) = handler.commits.join_next().await {
        if let Ok((msg, result)) = joined {
            // Stored, but the session is over: not deleted, only remembered.
            let _ = handler.download.committed(msg, result);
        }
    }
    download.finish()
}

type CommitResult = (MsgNumber, io::Result<u64>);

struct SessionHandler<'a> {
    download: &'a mut Download,
    commits: JoinSet<CommitResult>,
}

impl SessionHandler<'_> {
    fn settle(
        &mut self,
        conn: &mut ClientSession,
        joined: Result<CommitResult, tokio::task::JoinError>,
    ) -> Result<(), ClientError> {
        let (msg, result) = joined.map_err(io::Error::other)?;
        match self.download.committed(msg, result) {
            Some(msg) => self.download.dele(&mut conn.0, msg),
            None => Ok(()),
        }
    }

    fn fail(&mut self, error: ClientError) -> io::Error {
        self.download.fail(error);
        io::Error::other("the download failed")
    }
}

impl Handler<ClientSession> for SessionHandler<'_> {
    async fn on_event(&mut self, conn: &mut ClientSession, event: Event) -> io::Result<Flow> {
        if matches!(event, Event::StartTls) {
            return Ok(Flow::StartTls);
        }
        match self.download.on_event(&mut conn.0, event) {
            Ok(Some(received)) => {
                let msg = received.msg;
                self.commits.spawn(async move {
                    let result = received.delivery.commit_async().await;
                    (msg, result.map(|delivered| delivered.size))
                });
                Ok(Flow::Continue)
            }
            Ok(None) => Ok(Flow::Continue),
            Err(error) => {
                // Dropping the connection deletes nothing on the server (RFC 1939 section 6).
                self.download.fail(error);
                Ok(Flow::Close)
            }
        }
    }

    async fn on_idle(&mut self, conn: &mut ClientSession) -> io::Result<bool> {
        let mut progressed = false;
        // Settle the commits that are done, without waiting.
        while let Some(joined) = self.commits.try_join_next() {
            self.settle(conn, joined).map_err(|e| self.fail(e))?;
            progressed = true;
        }
        // Nothing more to read from the server for the download: wait for a commit rather
        // than for the socket.
        if !progressed && self.download.committing() > 0 && conn.0.timeout().is_none() {
            if let Some(joined) = self.commits.join_next().await {
                self.settle(conn, joined).map_err(|e| self.fail(e))?;
                progressed = true;
            }
        }
        let quit = self
            .download
            .finish_if_drained(&mut conn.0)
            .map_err(|e| self.fail(e))?;
        Ok(progressed || quit)
    }
}
