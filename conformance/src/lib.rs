//! The session contract of ARCHITECTURE.md ("The session contract"), checked generically over
//! any machine that implements [`Session`]: the SMTP and POP3 servers and clients run through
//! the same harness in `tests/`.
//!
//! A run drives a machine with the canonical loop (one `match` on [`Session::poll`]) and
//! records what the contract lets an observer see: the events (message content coalesced,
//! since its chunking follows the reads), the bytes transmitted, and the [`CloseReason`]. While
//! it runs, it checks each rule as it applies and notes every breach as a [`Outcome::breaches`]
//! line instead of stopping, so a failing test says all that went wrong:
//!
//! - every [`Next::Read`] and [`Next::UpgradeTls`] carries a positive deadline no longer than
//!   [`LONGEST_WAIT`] (rule 3);
//! - `poll` is stable: asked again without new input it repeats its `Read` with the same wait
//!   (nothing processable was left behind, rule 2);
//! - `AwaitApp` comes only when the application has something to do (rule 4): a scripted
//!   application that answers every decision at once sees it only when idle;
//! - `Closed` comes once, last, and every later `poll` repeats it (rule 5);
//! - no `Debug` of the machine or of an event shows a secret the run names, nor its base64
//!   (ARCHITECTURE.md security invariant 10).
//!
//! [`run`] feeds scripted peer input in chunks of given sizes; [`run_pair`] connects a client
//! machine to a server machine in memory and moves bytes across at seeded random splits, in
//! the style of quinn-proto's `Pair` (a side with nothing to read is told it is idle,
//! `release_idle_buffers`, as the socket loops do); [`trickle`] feeds one byte per tick against a simulated
//! clock and reports when the machine gave up (rule 3, slowloris).
//!
//! [`transcript`] replays conversations kept as data files, one format for all four machines:
//! each protocol crate's `tests/*_transcripts.rs` implements [`transcript::Script`] for its
//! machine and replays its `tests/transcripts/` directory through it.
#![forbid(unsafe_code)]

pub mod transcript;

use core::fmt::Debug;
use core::time::Duration;

use base64::Engine as _;
use mail_wire::session::{CloseReason, Next, Session, Wait, WaitTimer};

/// The longest wait a machine may ask for; anything longer counts as no deadline at all.
pub const LONGEST_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Polls of one run past which the harness reports a livelock.
const MAX_POLLS: usize = 2_000_000;

/// An event as the trace records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A line describing the event.
    Line(String),
    /// Message content: consecutive pieces are joined, since their number follows the reads.
    Data(Vec<u8>),
}

/// The scripted application of a run.
pub trait App<S: Session> {
    /// Handles an event; answers a decision on `conn` before returning.
    fn on_event(&mut self, conn: &mut S, event: S::Event);

    /// `poll` said [`Next::AwaitApp`] with every decision answered: give the machine its next
    /// command (a client's next message, QUIT). False when there is nothing to give: the
    /// harness notes a stall and drops the connection.
    fn on_await(&mut self, conn: &mut S) -> bool {
        let _ = conn;
        false
    }

    /// How the trace records `event`.
    fn describe(&self, event: &S::Event) -> Seen;
}

/// What a run observed. Two outcomes are equal when their events, bytes, end and breaches
/// are: the waits are left out, since how many a run sees follows where its reads fell.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Events in order, message content coalesced.
    pub events: Vec<Seen>,
    /// Every byte transmitted, in order.
    pub sent: Vec<u8>,
    /// How the session ended (`None`: the run stopped before it did).
    pub closed: Option<CloseReason>,
    /// Breaches of the contract, in the order met. Empty for a conforming machine.
    pub breaches: Vec<String>,
    /// Waits seen, in order, as (id, timeout).
    pub waits: Vec<(u64, Duration)>,
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        (&self.events, &self.sent, self.closed, &self.breaches)
            == (&other.events, &other.sent, other.closed, &other.breaches)
    }
}

impl Eq for Outcome {}

impl Outcome {
    fn push_event(&mut self, seen: Seen) {
        match (self.events.last_mut(), seen) {
            (Some(Seen::Data(joined)), Seen::Data(more)) => joined.extend_from_slice(&more),
            (_, seen) => self.events.push(seen),
        }
    }

    /// The events as text, one a line (content shown escaped), for assertions and failure
    /// messages.
    pub fn event_lines(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|seen| match seen {
                Seen::Line(line) => line.clone(),
                Seen::Data(data) => format!("data {}", data.escape_ascii()),
            })
            .collect()
    }

    /// The bytes sent, as text.
    pub fn sent_text(&self) -> String {
        String::from_utf8_lossy(&self.sent).into_owned()
    }
}

/// Secrets no `Debug` output may show, as given and in base64.
#[derive(Debug, Clone, Default)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// These secrets (passwords, tokens, whole SASL messages).
    pub fn new(secrets: &[&[u8]]) -> Self {
        let mut all = Vec::new();
        for secret in secrets {
            if let Ok(text) = core::str::from_utf8(secret) {
                all.push(text.to_owned());
            }
            all.push(base64::engine::general_purpose::STANDARD.encode(secret));
        }
        Secrets(all)
    }

    fn check(&self, what: &str, debug: &str, breaches: &mut Vec<String>) {
        for secret in &self.0 {
            if !secret.is_empty() && debug.contains(secret.as_str()) {
                breaches.push(format!(
                    "Debug of {what} shows the secret {secret:?}: {debug}"
                ));
            }
        }
    }
}

/// One side's checks of each poll result, shared by [`run`], [`run_pair`] and [`trickle`].
struct Checker<'a> {
    name: &'a str,
    secrets: &'a Secrets,
    outcome: Outcome,
    polls: usize,
}

impl<'a> Checker<'a> {
    fn new(name: &'a str, secrets: &'a Secrets) -> Self {
        Checker {
            name,
            secrets,
            outcome: Outcome::default(),
            polls: 0,
        }
    }

    fn breach(&mut self, what: String) {
        let line = format!("{}: {what}", self.name);
        if self.outcome.breaches.len() < 20 && !self.outcome.breaches.contains(&line) {
            self.outcome.breaches.push(line);
        }
    }

    /// Polls once, with the checks that need only the machine.
    fn poll<S: Session + Debug>(&mut self, conn: &mut S) -> Option<Next<S::Event>> {
        self.polls += 1;
        if self.polls > MAX_POLLS {
            self.breach(format!("no end after {MAX_POLLS} polls (livelock)"));
            return None;
        }
        if !self.secrets.0.is_empty() {
            let debug = format!("{conn:?}");
            let mut breaches = Vec::new();
            self.secrets.check("the machine", &debug, &mut breaches);
            breaches.into_iter().for_each(|b| self.breach(b));
        }
        let next = conn.poll();
        match &next {
            Next::Read(wait) | Next::UpgradeTls(wait) => {
                self.check_wait(*wait);
                // Rule 2: asked again with nothing new, the machine says the same.
                let again = conn.poll();
                let same = match (&next, &again) {
                    (Next::Read(a), Next::Read(b)) | (Next::UpgradeTls(a), Next::UpgradeTls(b)) => {
                        a == b
                    }
                    _ => false,
                };
                if !same {
                    self.breach(format!(
                        "poll is not stable: {} then {}",
                        kind(&next),
                        kind(&again)
                    ));
                    return Some(again);
                }
            }
            Next::Transmit(bytes) if bytes.is_empty() => {
                self.breach("an empty transmit".to_owned());
            }
            Next::Transmit(bytes) => self.outcome.sent.extend_from_slice(bytes),
            Next::Closed(reason) => {
                if self.outcome.closed.is_some() {
                    self.breach("polled after Closed".to_owned());
                }
                self.outcome.closed = Some(*reason);
                for _ in 0..2 {
                    match conn.poll() {
                        Next::Closed(again) if again == *reason => {}
                        other => self.breach(format!(
                            "after Closed({reason:?}) poll gave {}",
                            kind(&other)
                        )),
                    }
                }
            }
            Next::Event(_) | Next::AwaitApp => {}
        }
        Some(next)
    }

    fn check_wait(&mut self, wait: Wait) {
        if wait.timeout().is_zero() || wait.timeout() > LONGEST_WAIT {
            self.breach(format!("a wait without a usable deadline: {wait:?}"));
        }
        if self.outcome.waits.last() != Some(&(wait.id(), wait.timeout())) {
            self.outcome.waits.push((wait.id(), wait.timeout()));
        }
    }

    fn event<S: Session, A: App<S>>(&mut self, conn: &mut S, app: &mut A, event: S::Event)
    where
        S::Event: Debug,
    {
        if !self.secrets.0.is_empty() {
            let debug = format!("{event:?}");
            let mut breaches = Vec::new();
            self.secrets.check("an event", &debug, &mut breaches);
            breaches.into_iter().for_each(|b| self.breach(b));
        }
        let seen = app.describe(&event);
        self.outcome.push_event(seen);
        app.on_event(conn, event);
    }
}

fn kind<E>(next: &Next<E>) -> String {
    match next {
        Next::Transmit(bytes) => format!("Transmit({} octets)", bytes.len()),
        Next::Event(_) => "Event".to_owned(),
        Next::Read(wait) => format!("Read({wait:?})"),
        Next::UpgradeTls(wait) => format!("UpgradeTls({wait:?})"),
        Next::AwaitApp => "AwaitApp".to_owned(),
        Next::Closed(reason) => format!("Closed({reason:?})"),
    }
}

/// Drives `conn` with the canonical loop, feeding `input` in chunks whose sizes cycle through
/// `chunks` (each at least 1) whenever the machine asks to read, and the end of the stream once
/// `input` is used up. A TLS upgrade succeeds at once.
pub fn run<S, A>(
    conn: &mut S,
    app: &mut A,
    input: &[u8],
    chunks: &[usize],
    secrets: &Secrets,
) -> Outcome
where
    S: Session + Debug,
    S::Event: Debug,
    A: App<S>,
{
    let mut side = Checker::new("machine", secrets);
    let mut offset = 0;
    let mut sizes = chunks.iter().copied().map(|n| n.max(1)).cycle();
    while let Some(next) = side.poll(conn) {
        match next {
            Next::Transmit(_) => {}
            Next::Event(event) => side.event(conn, app, event),
            Next::Read(_) => {
                if offset == input.len() {
                    conn.handle_close();
                } else {
                    let end = input.len().min(offset + sizes.next().unwrap_or(1));
                    conn.receive(&input[offset..end]);
                    offset = end;
                }
            }
            Next::UpgradeTls(_) => {
                if let Err(error) = conn.tls_established() {
                    side.breach(format!("tls_established after UpgradeTls failed: {error}"));
                    conn.handle_close();
                }
            }
            Next::AwaitApp => {
                if !app.on_await(conn) {
                    side.breach(
                        "AwaitApp with every decision answered and nothing to do".to_owned(),
                    );
                    conn.handle_close();
                }
            }
            Next::Closed(_) => break,
        }
    }
    side.outcome
}

/// A client and a server machine connected in memory: what one transmits, the other reads,
/// in chunks of sizes drawn from `seed`. Returns both outcomes (client first). A TLS upgrade
/// succeeds on each side when asked.
pub fn run_pair<C, CA, S, SA>(
    client: (&mut C, &mut CA),
    server: (&mut S, &mut SA),
    seed: u64,
    secrets: &Secrets,
) -> (Outcome, Outcome)
where
    C: Session + Debug,
    C::Event: Debug,
    CA: App<C>,
    S: Session + Debug,
    S::Event: Debug,
    SA: App<S>,
{
    let mut rng = seed | 1;
    let mut chunk = move || {
        // xorshift: reproducible splits, mostly small, sometimes large.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if rng % 4 == 0 {
            1 + (rng >> 8) as usize % 4096
        } else {
            1 + (rng >> 8) as usize % 17
        }
    };
    let (client, client_app) = client;
    let (server, server_app) = server;
    let mut c = Checker::new("client", secrets);
    let mut s = Checker::new("server", secrets);
    // Bytes in flight, and how far each side has read.
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let (mut server_read, mut client_read) = (0, 0);
    loop {
        let mut progressed = false;
        let client_done = step(
            client,
            client_app,
            &mut c,
            &mut to_server,
            &to_client,
            &mut client_read,
            s.outcome.closed.is_some(),
            &mut chunk,
            &mut progressed,
        );
        let server_done = step(
            server,
            server_app,
            &mut s,
            &mut to_client,
            &to_server,
            &mut server_read,
            c.outcome.closed.is_some(),
            &mut chunk,
            &mut progressed,
        );
        if client_done && server_done {
            break;
        }
        if !progressed {
            c.breach("deadlock: both sides wait to read and nothing is in flight".to_owned());
            client.handle_close();
            server.handle_close();
        }
        if c.polls > MAX_POLLS || s.polls > MAX_POLLS {
            c.breach("no end (livelock)".to_owned());
            break;
        }
    }
    (c.outcome, s.outcome)
}

/// Polls one side of a pair until it must wait for the other; true once it is closed.
#[allow(clippy::too_many_arguments)]
fn step<M, A>(
    conn: &mut M,
    app: &mut A,
    side: &mut Checker<'_>,
    outgoing: &mut Vec<u8>,
    incoming: &[u8],
    read: &mut usize,
    peer_closed: bool,
    chunk: &mut impl FnMut() -> usize,
    progressed: &mut bool,
) -> bool
where
    M: Session + Debug,
    M::Event: Debug,
    A: App<M>,
{
    if side.outcome.closed.is_some() {
        return true;
    }
    loop {
        let Some(next) = side.poll(conn) else {
            return true;
        };
        match next {
            Next::Transmit(bytes) => {
                outgoing.extend_from_slice(&bytes);
                *progressed = true;
            }
            Next::Event(event) => {
                side.event(conn, app, event);
                *progressed = true;
            }
            Next::Read(_) => {
                if *read < incoming.len() {
                    let end = incoming.len().min(*read + chunk());
                    conn.receive(&incoming[*read..end]);
                    *read = end;
                    *progressed = true;
                } else if peer_closed {
                    conn.handle_close();
                    *progressed = true;
                } else {
                    // Nothing to read: the session is idle, as a socket loop tells it when its
                    // read would block. Giving its buffers back must change nothing the pair
                    // sees.
                    conn.release_idle_buffers();
                    return false;
                }
            }
            Next::UpgradeTls(_) => {
                // Both sides upgrade in step; bytes in flight before it are the peer's plain text.
                if let Err(error) = conn.tls_established() {
                    side.breach(format!("tls_established after UpgradeTls failed: {error}"));
                    conn.handle_close();
                }
                *progressed = true;
            }
            Next::AwaitApp => {
                if app.on_await(conn) {
                    *progressed = true;
                } else {
                    side.breach(
                        "AwaitApp with every decision answered and nothing to do".to_owned(),
                    );
                    conn.handle_close();
                }
            }
            Next::Closed(_) => return true,
        }
    }
}

/// What [`trickle`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trickled {
    /// The run until the end.
    pub outcome: Outcome,
    /// Octets of `drip` fed before the end.
    pub fed: usize,
    /// When the session ended, on the simulated clock (0: when the trickle began).
    pub ended_at: Duration,
    /// The deadline of the first wait of the trickle.
    pub first_deadline: Option<Duration>,
}

/// A slow peer: feeds `prefix` whole (the app answers what it brings), then one octet of
/// `drip` (cycled) each time the machine asks to read, with the simulated clock advancing
/// `tick` per octet; when a wait's deadline (kept by [`WaitTimer`]) has passed, the machine
/// is told [`Session::handle_timeout`]. A machine that keeps rule 3 ends the session by the
/// first deadline unless the octets complete a command, reply or data block.
pub fn trickle<S, A>(
    conn: &mut S,
    app: &mut A,
    prefix: &[u8],
    drip: &[u8],
    tick: Duration,
) -> Trickled
where
    S: Session + Debug,
    S::Event: Debug,
    A: App<S>,
{
    let secrets = Secrets::default();
    let mut side = Checker::new("machine", &secrets);
    let mut timer = WaitTimer::<Duration>::new();
    let mut now = Duration::ZERO;
    let mut fed = 0;
    let mut prefix_fed = false;
    let mut first_deadline = None;
    while let Some(next) = side.poll(conn) {
        match next {
            Next::Transmit(_) => {}
            Next::Event(event) => side.event(conn, app, event),
            Next::Read(wait) | Next::UpgradeTls(wait) => {
                if !prefix_fed {
                    conn.receive(prefix);
                    prefix_fed = true;
                    continue;
                }
                let deadline = timer.deadline(wait, now);
                first_deadline.get_or_insert(deadline);
                if now >= deadline {
                    conn.handle_timeout();
                } else if drip.is_empty() || matches!(next, Next::UpgradeTls(_)) {
                    now = deadline;
                } else {
                    conn.receive(&[drip[fed % drip.len()]]);
                    fed += 1;
                    now += tick;
                }
            }
            Next::AwaitApp => {
                if !app.on_await(conn) {
                    side.breach("AwaitApp with nothing to do".to_owned());
                    conn.handle_close();
                }
            }
            Next::Closed(_) => break,
        }
    }
    Trickled {
        outcome: side.outcome,
        fed,
        ended_at: now,
        first_deadline,
    }
}
