//! What the two POP3 client adapters share: the command line, the machine's configuration,
//! and the download itself (which messages to fetch, where each goes, when to delete, when to
//! quit), runtime-independent. The adapters add the socket and make the received messages
//! durable in batches ([`Delivery::commit_all`]: the files fsynced in parallel, one fsync of
//! `new/` for the batch), the tokio one on the blocking pool while the next messages stream in.
//! A message is marked for deletion or remembered only after its batch is durable.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use pop3_proto::client::{Config, Event, Request, plan_download};
use pop3_proto::{MsgNumber, TlsMode};

use super::uid_memory::UidMemory;
use crate::cli::{ClientTrustArgs, HostPort};
use crate::maildir::{Delivery, Fsync, Maildir};
use crate::tls::TlsError;

/// RETR commands queued ahead of the answers: enough to keep a pipelining server busy (the
/// machine keeps up to its own window on the wire), few enough to bound the queue.
const RETR_AHEAD: usize = 64;

/// The command line of `pop3_client_tokio` and `pop3_client_blocking` (tools outside this
/// repository use it: keep it stable).
#[derive(Debug, Clone, Parser)]
#[command(about = "Download a POP3 maildrop into a local Maildir")]
pub struct ClientArgs {
    /// The POP3 server
    #[arg(long, value_name = "HOST:PORT")]
    pub server: HostPort,
    /// Upgrade with STLS before logging in (RFC 2595); fail if the server does not offer it
    #[arg(long, conflicts_with = "tls")]
    pub stls: bool,
    /// Implicit TLS from the first byte (RFC 8314, port 995 style)
    #[arg(long)]
    pub tls: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub trust: ClientTrustArgs,
    /// The user name
    #[arg(long)]
    pub user: String,
    /// The password
    #[arg(long)]
    pub pass: String,
    /// Download into the Maildir DIR (new/), atomically
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Delete on the server after download (the classic POP3 way); default: leave on server,
    /// remember UIDs in DIR and fetch only new ones next time
    #[arg(long)]
    pub delete: bool,
    /// What a download syncs before it counts as saved (and, with --delete, before DELE):
    /// `all` (each file, then new/), `file` (the files only), `none` (tests and load runs)
    #[arg(long, value_name = "WHAT", value_enum, default_value_t = Fsync::All)]
    pub fsync: Fsync,
}

impl ClientArgs {
    /// How the connection is secured.
    pub fn security(&self) -> Security {
        match (self.tls, self.stls) {
            (true, _) => Security::Implicit,
            (false, true) => Security::Stls,
            (false, false) => Security::Plain,
        }
    }

    /// The machine's configuration. Without `--stls` or `--tls` the user chose a plain
    /// connection, so the password may travel in the clear (APOP is still preferred when the
    /// server offers it and no plaintext SASL is); a warning says so.
    pub fn machine_config(&self) -> Config {
        let config = Config::default().with_password(self.user.clone(), self.pass.clone());
        match self.security() {
            Security::Implicit => config.with_tls(TlsMode::Implicit),
            Security::Stls => config.with_tls(TlsMode::Required),
            Security::Plain => config
                .with_tls(TlsMode::Disabled)
                .with_plaintext_auth_without_tls(true),
        }
    }

    /// The client TLS configuration, when the connection uses TLS.
    pub fn tls_config(
        &self,
    ) -> Result<
        Option<(
            std::sync::Arc<rustls::ClientConfig>,
            rustls::pki_types::ServerName<'static>,
        )>,
        TlsError,
    > {
        if self.security() == Security::Plain {
            return Ok(None);
        }
        let config = crate::tls::client_config(&self.trust.trust())?;
        Ok(Some((config, crate::tls::server_name(&self.server.host)?)))
    }
}

/// How the client secures its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (the password may be sent in the clear).
    Plain,
    /// STLS, required.
    Stls,
    /// TLS from the first byte.
    Implicit,
}

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The socket or the local Maildir.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The POP3 session failed.
    #[error("POP3 session: {0}")]
    Session(Box<pop3_proto::client::Error>),
    /// The server refused something the download needs.
    #[error("{0}")]
    Refused(String),
    /// Some messages could not be downloaded or deleted; the others were.
    #[error("{failed} message(s) failed")]
    Partial {
        /// How many.
        failed: usize,
    },
}

impl From<pop3_proto::client::Error> for ClientError {
    fn from(error: pop3_proto::client::Error) -> Self {
        // Boxed: the machine's error is large, and every `Result` here carries this type.
        Self::Session(Box::new(error))
    }
}

/// What a finished download did: the summary line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Messages stored.
    pub messages: usize,
    /// Octets stored.
    pub bytes: u64,
    /// Time from connecting to the end of the session.
    pub elapsed: Duration,
}

impl Summary {
    /// Prints `N messages, B bytes in S s (R messages/s, M MB/s)` on stdout.
    pub fn print(&self) {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{} messages, {} bytes in {:.3} s ({:.0} messages/s, {:.2} MB/s)",
            self.messages,
            self.bytes,
            seconds,
            self.messages as f64 / seconds,
            self.bytes as f64 / seconds / 1e6,
        );
    }
}

/// A message received whole and written, waiting to be made durable.
#[derive(Debug)]
pub struct Received {
    /// Its number in this session.
    pub msg: MsgNumber,
    /// The file in `tmp/`.
    pub delivery: Delivery,
}

/// The download, as the events of the session drive it.
#[derive(Debug)]
pub struct Download {
    maildir: Maildir,
    delete: bool,
    /// Keep mode: what earlier runs downloaded.
    memory: Option<UidMemory>,
    sizes: HashMap<u32, u64>,
    uids: HashMap<u32, Vec<u8>>,
    plan: VecDeque<MsgNumber>,
    /// RETR sent (or queued) and not answered yet.
    outstanding: usize,
    /// Received and not yet committed (the adapter holds them).
    committing: usize,
    current: Option<Received>,
    planned: bool,
    quit_queued: bool,
    done: bool,
    failed: usize,
    error: Option<ClientError>,
    messages: usize,
    bytes: u64,
    started: Instant,
    progress: ProgressBar,
}

impl Download {
    /// A download into the Maildir `args.out` (created if needed), loading the unique-id
    /// memory in keep mode.
    pub fn new(args: &ClientArgs) -> io::Result<Self> {
        let maildir = Maildir::open_or_create(&args.out)?.with_fsync(args.fsync);
        let memory = if args.delete {
            None
        } else {
            let path =
                UidMemory::path_for(&args.out, &args.user, &args.server.host, args.server.port);
            Some(UidMemory::load(path)?)
        };
        if args.security() == Security::Plain {
            eprintln!("warning: no --stls or --tls: the password may be sent in the clear");
        }
        let progress = if io::stderr().is_terminal() {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {msg} ({bytes_per_sec}, {eta})",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Ok(Self {
            maildir,
            delete: args.delete,
            memory,
            sizes: HashMap::new(),
            uids: HashMap::new(),
            plan: VecDeque::new(),
            outstanding: 0,
            committing: 0,
            current: None,
            planned: false,
            quit_queued: false,
            done: false,
            failed: 0,
            error: None,
            messages: 0,
            bytes: 0,
            started: Instant::now(),
            progress,
        })
    }

    /// One event of the session. A message received whole comes back as [`Received`]: the
    /// adapter commits it and reports with [`committed`](Self::committed).
    pub fn on_event(
        &mut self,
        conn: &mut pop3_proto::client::Connection,
        event: Event,
    ) -> Result<Option<Received>, ClientError> {
        match event {
            Event::Authenticated(method) => {
                tracing::info!(%method, tls = conn.is_secure(), "logged in");
                conn.list(None).map_err(usage)?;
                if self.memory.is_some() {
                    conn.uidl(None).map_err(usage)?;
                }
            }
            Event::ScanList(list) => {
                for entry in list.iter() {
                    self.sizes.insert(entry.msg.get(), entry.size);
                }
                if self.memory.is_none() {
                    let mut all: Vec<MsgNumber> = list.iter().map(|entry| entry.msg).collect();
                    all.sort_unstable_by_key(|msg| msg.get());
                    self.start(all, conn)?;
                }
            }
            Event::UidList(list) => {
                if let Some(memory) = self.memory.as_mut() {
                    let plan = plan_download(&list, memory.iter());
                    let vanished: Vec<Vec<u8>> =
                        plan.vanished.iter().map(|uid| uid.to_vec()).collect();
                    let fetch: Vec<MsgNumber> = plan.fetch.iter().map(|e| e.msg).collect();
                    for entry in &plan.fetch {
                        self.uids
                            .insert(entry.msg.get(), entry.uid.as_bytes().to_vec());
                    }
                    for uid in vanished {
                        memory.remove(&uid);
                    }
                    self.start(fetch, conn)?;
                }
            }
            Event::MessageStart { msg, .. } => {
                self.current = Some(Received {
                    msg,
                    delivery: self.maildir.deliver()?,
                });
            }
            Event::MessageData(chunk) => self.write(&chunk)?,
            Event::MessageEnd(end) => {
                self.outstanding = self.outstanding.saturating_sub(1);
                let received = self.current.take();
                match (received, end.error) {
                    (Some(received), None) => {
                        self.committing += 1;
                        self.top_up(conn)?;
                        return Ok(Some(received));
                    }
                    (_, error) => {
                        tracing::warn!(msg = %end.msg, ?error, "message not stored");
                        self.failed += 1;
                    }
                }
                self.top_up(conn)?;
            }
            Event::CommandFailed { request, reply } => match request {
                Request::Uidl(None) => {
                    return Err(ClientError::Refused(format!(
                        "the server has no UIDL ({reply}); leaving mail on the server needs it, use --delete"
                    )));
                }
                Request::List(None) => {
                    return Err(ClientError::Refused(format!("LIST failed: {reply}")));
                }
                Request::Retr(msg) => {
                    tracing::warn!(%msg, %reply, "RETR refused");
                    self.outstanding = self.outstanding.saturating_sub(1);
                    self.failed += 1;
                    self.top_up(conn)?;
                }
                other => {
                    tracing::warn!(request = ?other, %reply, "command refused");
                    self.failed += 1;
                }
            },
            Event::Quit(outcome) => {
                self.done = true;
                if !outcome.committed {
                    return Err(ClientError::Refused(format!(
                        "the server did not apply the deletions: {}",
                        outcome.reply
                    )));
                }
            }
            Event::Failed(error) => return Err(error.into()),
            _ => {}
        }
        Ok(None)
    }

    fn write(&mut self, chunk: &Bytes) -> io::Result<()> {
        if let Some(received) = self.current.as_mut() {
            received.delivery.write_all(chunk)?;
            self.progress.inc(chunk.len() as u64);
        }
        Ok(())
    }

    fn start(
        &mut self,
        fetch: Vec<MsgNumber>,
        conn: &mut pop3_proto::client::Connection,
    ) -> Result<(), ClientError> {
        let total: u64 = fetch
            .iter()
            .filter_map(|msg| self.sizes.get(&msg.get()))
            .sum();
        self.progress.set_length(total);
        self.progress
            .set_message(format!("{} messages", fetch.len()));
        tracing::info!(messages = fetch.len(), bytes = total, "fetching");
        self.plan = fetch.into();
        self.planned = true;
        self.top_up(conn)
    }

    /// Queues RETRs while fewer than [`RETR_AHEAD`] are outstanding.
    fn top_up(&mut self, conn: &mut pop3_proto::client::Connection) -> Result<(), ClientError> {
        while self.outstanding < RETR_AHEAD {
            let Some(msg) = self.plan.pop_front() else {
                break;
            };
            conn.retr(msg).map_err(usage)?;
            self.outstanding += 1;
        }
        Ok(())
    }

    /// A received message is durable (or failed to become so): remembered in keep mode;
    /// in delete mode the message to mark with [`dele`](Self::dele) is returned (the server
    /// removes it at QUIT). Never deleted unless stored.
    pub fn committed(&mut self, msg: MsgNumber, result: io::Result<u64>) -> Option<MsgNumber> {
        self.committing = self.committing.saturating_sub(1);
        match result {
            Ok(size) => {
                self.messages += 1;
                self.bytes += size;
                if self.delete {
                    return Some(msg);
                }
                if let (Some(memory), Some(uid)) = (self.memory.as_mut(), self.uids.get(&msg.get()))
                {
                    memory.insert(uid);
                }
            }
            Err(error) => {
                tracing::error!(%msg, %error, "cannot store the message");
                self.failed += 1;
            }
        }
        None
    }

    /// A committed batch, the same under both runtimes: each message stored is remembered
    /// (keep mode) or marked with `DELE` on `conn` (delete mode; without a connection, the
    /// session being over, it is only kept). See [`committed`](Self::committed).
    pub fn settle(
        &mut self,
        mut conn: Option<&mut pop3_proto::client::Connection>,
        results: impl IntoIterator<Item = (MsgNumber, io::Result<u64>)>,
    ) -> Result<(), ClientError> {
        for (msg, result) in results {
            let stored = self.committed(msg, result);
            if let (Some(msg), Some(conn)) = (stored, conn.as_deref_mut()) {
                self.dele(conn, msg)?;
            }
        }
        Ok(())
    }

    /// Queues `DELE msg` for a stored message.
    pub fn dele(
        &mut self,
        conn: &mut pop3_proto::client::Connection,
        msg: MsgNumber,
    ) -> Result<(), ClientError> {
        conn.dele(msg).map_err(usage)
    }

    /// Whether every planned message was answered and every received one committed.
    pub fn is_drained(&self) -> bool {
        self.planned && self.plan.is_empty() && self.outstanding == 0 && self.committing == 0
    }

    /// Whether more messages are coming: RETRs are planned or awaiting their answer. When
    /// not, an adapter commits what it holds rather than wait for a fuller batch.
    pub fn awaiting_messages(&self) -> bool {
        self.outstanding > 0 || !self.plan.is_empty()
    }

    /// Messages received and not committed yet.
    pub fn committing(&self) -> usize {
        self.committing
    }

    /// Once drained, queues QUIT (deletions, if any, are applied then). Returns true when it
    /// queued it.
    pub fn finish_if_drained(
        &mut self,
        conn: &mut pop3_proto::client::Connection,
    ) -> Result<bool, ClientError> {
        if self.quit_queued || !self.is_drained() {
            return Ok(false);
        }
        self.quit_queued = true;
        conn.quit().map_err(usage)?;
        Ok(true)
    }

    /// Records the error that ends the session (the first one wins).
    pub fn fail(&mut self, error: ClientError) {
        self.error.get_or_insert(error);
    }

    /// The end: saves the unique-id memory, closes the progress bar, and says how it went.
    pub fn finish(mut self) -> Result<Summary, ClientError> {
        self.progress.finish_and_clear();
        if let Some(memory) = &self.memory {
            memory.save()?;
        }
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        if !self.done {
            return Err(ClientError::Refused("the session ended before QUIT".into()));
        }
        if self.failed > 0 {
            return Err(ClientError::Partial {
                failed: self.failed,
            });
        }
        Ok(Summary {
            messages: self.messages,
            bytes: self.bytes,
            elapsed: self.started.elapsed(),
        })
    }
}

fn usage(error: pop3_proto::client::UsageError) -> ClientError {
    ClientError::Io(io::Error::other(format!("POP3 machine misuse: {error}")))
}
