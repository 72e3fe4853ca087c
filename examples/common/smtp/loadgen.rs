//! `smtp_client_tokio --count N`: a load generator. It sends N generated messages (each with
//! its own `Message-ID:`, a body of about `--size` octets) over `--concurrency` sessions at
//! once: C long-lived connections, each sending one message after another over the same
//! session (the machine's `send_mail` again once the last one was answered), or with
//! `--new-connection-per-message` a fresh connection for every message. The machine
//! pipelines each transaction (MAIL, RCPT, DATA in one write) when the server offers it.
//!
//! A message counts as sent only when it got its 250 ([`Event::MessageAccepted`]); the
//! others are counted by reply class (4xx, 5xx: the sender, every recipient or the message
//! refused) or as connection errors (the session failed or could not start with the message
//! in hand). A progress line goes to stderr when it is a terminal (at most ten times a
//! second); the summary is one line on stdout.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtp_proto::client::{Connection, Envelope, Event, Failure};

use super::args::ClientArgs;
use super::client_tokio::connect;
use super::submission::{self, quit};
use crate::driver::Flow;
use crate::driver::tokio::{self as driver, Handler, TlsUpgrade};
use crate::tls::{client_config, server_name};

/// How often the progress line is redrawn, at most.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Octets per body line, CRLF excluded (RFC 5322 section 2.1.1 recommends at most 78).
const LINE: usize = 76;

/// What a run counted.
#[derive(Debug, Default)]
pub struct Tally {
    /// Messages handed out to the sessions so far (the next one's index).
    claimed: AtomicU64,
    /// Messages that got their 250.
    pub accepted: AtomicU64,
    /// Messages refused with a 4xx reply.
    pub transient: AtomicU64,
    /// Messages refused with a 5xx reply.
    pub permanent: AtomicU64,
    /// Messages lost with their connection (or whose connection could not be made).
    pub connection_errors: AtomicU64,
}

impl Tally {
    /// Messages with an outcome so far.
    pub fn done(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
            + self.transient.load(Ordering::Relaxed)
            + self.permanent.load(Ordering::Relaxed)
            + self.connection_errors.load(Ordering::Relaxed)
    }

    /// Takes the next message's index, `None` once all `count` are handed out.
    fn claim(&self, count: u64) -> Option<u64> {
        let index = self.claimed.fetch_add(1, Ordering::Relaxed);
        (index < count).then_some(index)
    }
}

/// The messages of one run: shared by every session.
#[derive(Debug)]
struct Run {
    count: u64,
    reuse: bool,
    envelope: Envelope,
    /// The headers all messages share (From, To, Subject), ahead of the Message-ID.
    headers: String,
    /// Unique to this run: part of every Message-ID.
    run_id: String,
    body: Bytes,
    tally: Tally,
}

impl Run {
    /// Message `index`'s header block (its own Message-ID), then the shared body.
    fn message(&self, index: u64) -> [Bytes; 2] {
        [
            Bytes::from(head(&self.headers, index, &self.run_id)),
            self.body.clone(),
        ]
    }
}

// The message pieces are public so that other clients measured beside the generator (the
// load tests) send the very same messages.

/// The headers all messages of a run share: From, To, Subject.
pub fn shared_headers(from: &str, to: &[String]) -> String {
    format!(
        "From: <{from}>\r\nTo: <{}>\r\nSubject: load test\r\n",
        to.join(">, <")
    )
}

/// A run's part of every Message-ID: the start time, the process and the EHLO name.
pub fn run_id(helo: &str) -> String {
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{started_at}.{}@{helo}", std::process::id())
}

/// Message `index`'s header block: the shared headers, its own Message-ID, the blank line.
pub fn head(shared_headers: &str, index: u64, run_id: &str) -> String {
    format!("{shared_headers}Message-ID: <{index}.{run_id}>\r\n\r\n")
}

/// A body of `size` octets (at least one line): lines of 76 letters (`LINE`) and CRLF.
pub fn body(size: usize) -> Bytes {
    let mut body = Vec::with_capacity(size + LINE + 2);
    let mut n = 0usize;
    while body.len() + 2 < size.max(3) {
        let take = LINE.min(size.max(3) - body.len() - 2);
        body.extend((0..take).map(|i| b'a' + ((n + i) % 26) as u8));
        body.extend_from_slice(b"\r\n");
        n += 1;
    }
    Bytes::from(body)
}

/// Runs the load the flags describe, prints the summary line on stdout; `Ok(true)` when every
/// message was accepted.
pub async fn run(args: ClientArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let count = args.load.count.unwrap_or(0);
    let config = submission::machine_config(&args)?;
    let body = body(args.load.size);
    let headers = shared_headers(&args.from, &args.to);
    let run_id = run_id(&args.helo);
    // The size hint: the shared part and the longest Message-ID line.
    let size = (headers.len() + body.len() + run_id.len() + 40) as u64;
    let run = Arc::new(Run {
        count,
        reuse: !args.load.new_connection_per_message,
        envelope: submission::envelope_of(&args, size, false)?,
        headers,
        run_id,
        body,
        tally: Tally::default(),
    });
    let tls = TlsUpgrade::client(
        client_config(&args.trust.trust())?,
        server_name(&args.server.host)?,
    );
    let args = Arc::new(args);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.load.concurrency {
        let (run, args, tls, config) = (run.clone(), args.clone(), tls.clone(), config.clone());
        workers.spawn(async move { worker(&run, &args, &tls, config).await });
    }
    let progress = io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(progress(run.clone(), started)));
    let mut first_error = None;
    while let Some(joined) = workers.join_next().await {
        if let Ok(Some(error)) = joined {
            first_error.get_or_insert(error);
        }
    }
    let elapsed = started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    if let Some(error) = first_error {
        eprintln!("smtp_client_tokio: first connection error: {error}");
    }
    let t = &run.tally;
    let accepted = t.accepted.load(Ordering::Relaxed);
    println!(
        "{:.1} messages/s, {accepted} of {count} sent in {:.3} s; 2xx {accepted}, 4xx {}, 5xx {}, connection errors {}",
        accepted as f64 / elapsed.as_secs_f64().max(1e-9),
        elapsed.as_secs_f64(),
        t.transient.load(Ordering::Relaxed),
        t.permanent.load(Ordering::Relaxed),
        t.connection_errors.load(Ordering::Relaxed),
    );
    Ok(accepted == count)
}

/// Redraws the progress line until aborted.
async fn progress(run: Arc<Run>, started: Instant) {
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    loop {
        tick.tick().await;
        let accepted = run.tally.accepted.load(Ordering::Relaxed);
        let rate = accepted as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let mut stderr = io::stderr().lock();
        let _ = write!(
            stderr,
            "\r{}/{} done, {accepted} accepted, {rate:.0} messages/s ",
            run.tally.done(),
            run.count
        );
        let _ = stderr.flush();
    }
}

/// One of the C concurrent sessions: connects with a message in hand, one connection after
/// another, until every message is handed out. Bounded: each connection takes at least one
/// message. Gives the first connection error it met.
async fn worker(
    run: &Run,
    args: &ClientArgs,
    tls: &TlsUpgrade,
    config: smtp_proto::client::Config,
) -> Option<String> {
    let mut error = None;
    while let Some(first) = run.tally.claim(run.count) {
        let stream = match connect(args, tls).await {
            Ok(stream) => stream,
            Err(e) => {
                run.tally.connection_errors.fetch_add(1, Ordering::Relaxed);
                error.get_or_insert(e.to_string());
                continue;
            }
        };
        let mut machine = Connection::new(config.clone());
        let mut session = LoadSession {
            run,
            next: Some(first),
            sending: first,
            in_flight: false,
            body: None,
            recipient_refusal: None,
            failure: None,
        };
        let ended = driver::run(&mut machine, stream, tls, &mut session).await;
        if session.in_flight {
            run.tally.connection_errors.fetch_add(1, Ordering::Relaxed);
            let why = match (session.failure, ended) {
                (Some(failure), _) => failure,
                (None, Err(e)) => e.to_string(),
                (None, Ok(ended)) => format!("the session ended ({ended:?})"),
            };
            error.get_or_insert(why);
        } else if session.next.is_some() {
            // Claimed but never sent: the session ended before it was ready.
            run.tally.connection_errors.fetch_add(1, Ordering::Relaxed);
            error.get_or_insert(session.failure.unwrap_or_else(|| "session ended".into()));
        }
    }
    error
}

/// The application side of one load session.
struct LoadSession<'a> {
    run: &'a Run,
    /// The message to send once the session is ready.
    next: Option<u64>,
    /// The message of the transaction under way (or the last one).
    sending: u64,
    /// A transaction is under way.
    in_flight: bool,
    /// The body parts not yet handed to the machine, while it takes the body.
    body: Option<[Bytes; 2]>,
    /// The last recipient refusal (the class of a message no recipient accepted).
    recipient_refusal: Option<bool>,
    failure: Option<String>,
}

impl LoadSession<'_> {
    /// Counts the answered message; the next one, when this connection sends more.
    fn finished(&mut self, permanent: Option<bool>) {
        let tally = &self.run.tally;
        let counter = match permanent {
            None => &tally.accepted,
            Some(false) => &tally.transient,
            Some(true) => &tally.permanent,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.in_flight = false;
        self.recipient_refusal = None;
        if self.run.reuse {
            self.next = tally.claim(self.run.count);
        }
    }

    fn refused(&mut self, failure: &Failure) {
        self.finished(Some(failure.is_permanent()));
    }
}

impl Handler<Connection> for LoadSession<'_> {
    async fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        match event {
            Event::AuthRejected(failure) => {
                self.failure = Some(format!("authentication refused: {}", failure.reply()));
                quit(conn);
            }
            Event::SendBody => self.body = Some(self.run.message(self.sending)),
            Event::MessageAccepted(_) => self.finished(None),
            Event::MessageRejected(failure) | Event::SenderRejected(failure) => {
                self.refused(&failure);
            }
            Event::RecipientRejected { failure, .. } => {
                self.recipient_refusal = Some(failure.is_permanent());
            }
            Event::NoRecipientAccepted => {
                let permanent = self.recipient_refusal.unwrap_or(true);
                self.finished(Some(permanent));
            }
            Event::Failed(error) => {
                self.failure
                    .get_or_insert(format!("session failed: {error}"));
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// Pushes the body while the machine takes it; once the session is ready again, sends the
    /// next message or asks for QUIT.
    async fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        if let Some(parts) = &mut self.body {
            // As the file-based submission does: false when the machine took nothing.
            let mut gave = false;
            for part in parts.iter_mut().filter(|p| !p.is_empty()) {
                if !conn.wants_body() {
                    return Ok(gave);
                }
                conn.send_body_chunk(std::mem::take(part))
                    .map_err(io::Error::other)?;
                gave = true;
            }
            self.body = None;
            conn.end_body().map_err(io::Error::other)?;
            return Ok(true);
        }
        if !conn.is_ready() || self.failure.is_some() {
            return Ok(false);
        }
        match self.next {
            Some(index) => {
                conn.send_mail(self.run.envelope.clone())
                    .map_err(io::Error::other)?;
                self.in_flight = true;
                self.sending = index;
                self.next = None;
            }
            None => quit(conn),
        }
        Ok(true)
    }
}
