//! Server conversations as data: every file in `tests/transcripts/server/` is replayed through
//! `smtp_proto::server::Connection`, whole, at random splits, and one byte at a time; the
//! replies and events must match the file every time.
//!
//! File format (one item per line; blank lines and `#` comments are ignored):
//!
//! ```text
//! config: KEY[=VALUE]   a Config setting, before anything else (see `configure`)
//! C: text               client bytes: text with escapes (\r \n \t \\ \xHH), then CRLF
//! B: text               client bytes: text with escapes, nothing appended
//! S: line               a server reply line, without its CRLF
//! E: event              an application event, compact (see `describe`); also
//!                       `E: upgrade-tls` (poll said Next::UpgradeTls) and
//!                       `E: closed <reason>` (poll said Next::Closed, once, at the end)
//! A: answer             the application's answer to the E: line above it (see `answer`)
//! X: action             close | timeout | shutdown | closed (assert) | open (assert)
//! ```
//!
//! The machine is driven by the canonical loop, one `match` on `poll()`, until it waits
//! (`Read`, `UpgradeTls`, `AwaitApp`, `Closed`). Consecutive C:/B: lines are one segment:
//! what the client wrote at once, fed in the pieces of the split under test whenever the
//! machine waits (so a segment is a pipelined group). An `A: tls` answer takes effect once
//! the segment it arrived in is fed: the plain text that came with STARTTLS is what the
//! upgrade must discard. Data an aborted message delivered before its `E: aborted` is
//! dropped (as the application drops it), not compared.
//!
//! `poll` hands out an event before the replies queued with it, and the replies of a
//! pipelined group in one transmit, so when each reply leaves depends on the splits. The log
//! puts each reply where it was made instead: before an event when it was queued when the
//! event came out (`Connection::pending_transmit`), so the log is the same for every split.
//! An event that `handle_timeout` or `handle_close` queued comes before the reply they
//! queued with it.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

mod escapes;
use escapes::{escape, unescape};
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use smtp_proto::server::{
    BareLineEnding, Config, Connection, Credentials, Decisions, Event, Extensions,
};
use smtp_proto::{
    CloseReason, Command, Domain, Leniency, Limits, Mechanism, Next, Reply, TlsMode, Wait,
};

#[derive(Debug, Clone)]
enum Step {
    Feed(Vec<u8>),
    Action(String),
}

#[derive(Debug, Clone)]
struct Transcript {
    name: String,
    config: Vec<String>,
    steps: Vec<Step>,
    /// The answers to the n-th event.
    answers: Vec<Vec<String>>,
    /// `S: ...` and `E: ...` lines, in order.
    expected: Vec<String>,
}

fn parse(path: &Path) -> Transcript {
    let text = fs::read_to_string(path).unwrap();
    let mut t = Transcript {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        config: Vec::new(),
        steps: Vec::new(),
        answers: Vec::new(),
        expected: Vec::new(),
    };
    let mut segment: Option<Vec<u8>> = None;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|tag| (tag, "")))
            .unwrap_or_else(|| panic!("{}:{}: no tag", t.name, number + 1));
        if !matches!(tag, "C" | "B") {
            if let Some(bytes) = segment.take() {
                t.steps.push(Step::Feed(bytes));
            }
        }
        match tag {
            "config" => t.config.push(rest.to_owned()),
            "C" => {
                let seg = segment.get_or_insert_with(Vec::new);
                seg.extend(unescape(rest));
                seg.extend_from_slice(b"\r\n");
            }
            "B" => segment.get_or_insert_with(Vec::new).extend(unescape(rest)),
            "S" => t.expected.push(format!("S: {rest}")),
            "E" => {
                t.expected.push(format!("E: {rest}"));
                // Data events are coalesced (their count depends on the splits): no answers.
                if !rest.starts_with("data ") {
                    t.answers.push(Vec::new());
                }
            }
            "A" => t
                .answers
                .last_mut()
                .unwrap_or_else(|| panic!("{}:{}: A: before any E:", t.name, number + 1))
                .push(rest.to_owned()),
            "X" => {
                if matches!(rest, "closed" | "open") {
                    t.expected.push(format!("X: closed={}", rest == "closed"));
                }
                t.steps.push(Step::Action(rest.to_owned()));
            }
            _ => panic!("{}:{}: unknown tag {tag}", t.name, number + 1),
        }
    }
    if let Some(bytes) = segment.take() {
        t.steps.push(Step::Feed(bytes));
    }
    t
}

fn mechanisms(list: &str) -> Vec<Mechanism> {
    list.split(',')
        .map(|name| Mechanism::new(Bytes::copy_from_slice(name.as_bytes())).unwrap())
        .collect()
}

fn configure(lines: &[String]) -> Config {
    let mut config = Config::new(Domain::new(&b"mx.example"[..]).unwrap());
    for line in lines {
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        let num = || value.parse::<u64>().unwrap();
        match key {
            "hostname" => config.hostname = Domain::new(value.to_owned()).unwrap(),
            "tls" => {
                config.tls = match value {
                    "disabled" => TlsMode::Disabled,
                    "opportunistic" => TlsMode::Opportunistic,
                    "required" => TlsMode::Required,
                    "implicit" => TlsMode::Implicit,
                    _ => panic!("tls={value}"),
                }
            }
            "auth" => config.sasl_mechanisms = mechanisms(value),
            "plaintext-auth" => config.allow_plaintext_auth_without_tls = true,
            "require-auth" => config.require_auth = true,
            "max-size" => config.max_message_size = num(),
            "max-recipients" => config.max_recipients = num() as usize,
            "max-errors" => config.max_errors = num() as u32,
            "command-line" => {
                config.limits = Limits {
                    command_line: num() as usize,
                    ..config.limits
                }
            }
            "bare-lf" => {
                config.bare_line_ending = match value {
                    "reject" => BareLineEnding::Reject,
                    "normalize" => BareLineEnding::Normalize,
                    _ => panic!("bare-lf={value}"),
                }
            }
            "lax" => config.leniency = Leniency::LAX,
            "lmtp" => config.lmtp = true,
            "decide" => {
                let mut d = Decisions::default();
                for what in value.split(',') {
                    match what {
                        "greeting" => d.greeting = true,
                        "hello" => d.hello = true,
                        "vrfy" => d.vrfy = true,
                        "expn" => d.expn = true,
                        "starttls" => d.starttls = true,
                        _ => panic!("decide={what}"),
                    }
                }
                config.decisions = d;
            }
            "extensions" => {
                let mut e = Extensions::none();
                for what in value.split(',').filter(|w| !w.is_empty()) {
                    match what {
                        "pipelining" => e.pipelining = true,
                        "size" => e.size = true,
                        "8bitmime" => e.eight_bit_mime = true,
                        "smtputf8" => e.smtputf8 = true,
                        "chunking" => e.chunking = true,
                        "binarymime" => e.binary_mime = true,
                        "dsn" => e.dsn = true,
                        "enhancedstatuscodes" => e.enhanced_status_codes = true,
                        "requiretls" => e.requiretls = true,
                        _ => panic!("extensions={what}"),
                    }
                }
                config.extensions = e;
            }
            _ => panic!("unknown config {key}"),
        }
    }
    config
}

/// The compact form of an event in a transcript.
fn describe(event: &Event) -> String {
    match event {
        Event::Connected => "connected".into(),
        Event::Hello { verb, domain } => format!("hello {verb:?} {domain}"),
        Event::StartTlsRequested => "starttls".into(),
        Event::Authenticate {
            mechanism,
            credentials,
        } => {
            let name = String::from_utf8_lossy(mechanism.name()).into_owned();
            match credentials {
                Credentials::Password(c) => {
                    let authzid = c
                        .authzid
                        .as_deref()
                        .map(|a| format!(" authzid={a}"))
                        .unwrap_or_default();
                    let pass = escape(c.password.expose());
                    format!("auth {name}{authzid} user={} pass={pass}", c.username)
                }
                Credentials::OAuth2(c) => {
                    format!(
                        "auth {name} user={} token={}",
                        c.user,
                        escape(c.token.expose())
                    )
                }
            }
        }
        Event::AuthStart {
            mechanism,
            initial_response,
        } => {
            let name = String::from_utf8_lossy(mechanism.name()).into_owned();
            match initial_response {
                None => format!("auth-start {name}"),
                Some(r) => format!("auth-start {name} \"{}\"", escape(r.expose())),
            }
        }
        Event::AuthResponse { response } => {
            format!("auth-response \"{}\"", escape(response.expose()))
        }
        Event::Mail { from, params } => command_line(Command::Mail {
            from: from.clone(),
            params: params.clone(),
        }),
        Event::Rcpt { to, params } => command_line(Command::Rcpt {
            to: to.clone(),
            params: params.clone(),
        }),
        Event::Vrfy(arg) => format!("vrfy {}", String::from_utf8_lossy(arg.as_bytes())),
        Event::Expn(arg) => format!("expn {}", String::from_utf8_lossy(arg.as_bytes())),
        Event::MessageData(data) => format!("data \"{}\"", escape(data)),
        Event::MessageEnd { size, recipients } => format!("end size={size} rcpts={recipients}"),
        Event::MessageAborted { reason } => format!("aborted {reason:?}"),
        other => panic!("an event the transcripts do not know: {other:?}"),
    }
}

fn command_line(command: Command) -> String {
    let mut out = BytesMut::new();
    command.write(&mut out);
    String::from_utf8_lossy(&out[..out.len() - 2]).into_owned()
}

fn reply(text: &str) -> Reply {
    let wire = Bytes::from(format!("{}\r\n", text.replace(" | ", "\r\n")));
    Reply::parse(&wire, &Limits::default()).unwrap().0
}

/// One line of the log, before it is written.
enum Entry {
    Line(String),
    Data(Vec<u8>),
    /// An `E: aborted` line: the data delivered before it is dropped.
    Aborted(String),
}

/// Runs a transcript; `split` cuts each segment into the chunk lengths it gives.
struct Run<'a> {
    t: &'a Transcript,
    conn: Connection,
    log: Vec<String>,
    data: Option<Vec<u8>>,
    events: usize,
    tls_due: bool,
    /// Reply bytes not yet a whole line.
    pending_out: Vec<u8>,
    /// Reply octets transmitted so far.
    sent: usize,
    /// Entries held back until the replies queued before them are transmitted: each with
    /// the count of transmitted octets it comes after.
    deferred: VecDeque<(usize, Entry)>,
    /// The reply octets queued before an action (`handle_timeout`, `handle_close`,
    /// `shutdown`) queued its event: only those come before that event.
    before_action: Option<usize>,
    /// The wait of the last `Read` or `UpgradeTls`, `None` after anything else.
    waiting: Option<Wait>,
    /// The upgrade whose `E: upgrade-tls` is logged (its wait id).
    upgrade_logged: Option<u64>,
    closed: Option<CloseReason>,
    /// The machine asked for the application (`AwaitApp`) with no answer scripted.
    stalled: bool,
}

impl Run<'_> {
    /// Logs an entry after everything before it, holding it back behind replies not yet
    /// transmitted.
    fn record(&mut self, after: usize, entry: Entry) {
        if after > self.sent || !self.deferred.is_empty() {
            let after = after.max(self.deferred.back().map_or(0, |d| d.0));
            self.deferred.push_back((after, entry));
        } else {
            self.write(entry);
        }
    }

    fn write(&mut self, entry: Entry) {
        match entry {
            Entry::Data(data) => {
                self.data
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(&data);
                return;
            }
            Entry::Aborted(_) => self.data = None,
            Entry::Line(_) => {}
        }
        if let Some(data) = self.data.take() {
            self.log.push(format!("E: data \"{}\"", escape(&data)));
        }
        match entry {
            Entry::Line(line) | Entry::Aborted(line) => self.log.push(line),
            Entry::Data(_) => unreachable!(),
        }
    }

    /// Reply bytes the machine transmitted: logged as lines, with the entries held back
    /// behind them.
    fn transmitted(&mut self, mut bytes: &[u8]) {
        assert!(!bytes.is_empty(), "{}: an empty transmit", self.t.name);
        loop {
            let take = match self.deferred.front() {
                Some(&(after, _)) => (after - self.sent).min(bytes.len()),
                None => bytes.len(),
            };
            self.reply_bytes(&bytes[..take]);
            self.sent += take;
            bytes = &bytes[take..];
            while self.deferred.front().is_some_and(|d| d.0 == self.sent) {
                let (_, entry) = self.deferred.pop_front().unwrap();
                self.write(entry);
            }
            if bytes.is_empty() {
                break;
            }
        }
    }

    fn reply_bytes(&mut self, bytes: &[u8]) {
        self.pending_out.extend_from_slice(bytes);
        while let Some(end) = self.pending_out.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending_out.drain(..end + 2).collect();
            assert!(line.len() <= 512, "reply line over 512 octets");
            let text = escape(&line[..line.len() - 2]);
            self.write(Entry::Line(format!("S: {text}")));
        }
    }

    /// The canonical loop: one `match` on `poll()`, until the machine waits.
    fn drive(&mut self) {
        self.waiting = None;
        loop {
            match self.conn.poll() {
                Next::Transmit(bytes) => self.transmitted(&bytes),
                Next::Event(event) => self.on_event(event),
                Next::Read(wait) => {
                    self.check_wait(wait);
                    // Contract rule 2: nothing processable was left behind.
                    let again = self.conn.poll();
                    assert!(
                        matches!(again, Next::Read(w) if w == wait),
                        "{}: poll unstable: {wait:?} then {again:?}",
                        self.t.name
                    );
                    self.waiting = Some(wait);
                    break;
                }
                Next::UpgradeTls(wait) => {
                    self.check_wait(wait);
                    self.waiting = Some(wait);
                    if self.upgrade_logged != Some(wait.id()) {
                        self.upgrade_logged = Some(wait.id());
                        self.record(self.sent, Entry::Line("E: upgrade-tls".into()));
                        self.answer_event(false);
                    }
                    break;
                }
                Next::AwaitApp => {
                    assert!(
                        self.stalled,
                        "{}: AwaitApp with every decision answered",
                        self.t.name
                    );
                    break;
                }
                Next::Closed(reason) => {
                    match self.closed {
                        None => {
                            self.closed = Some(reason);
                            self.record(self.sent, Entry::Line(format!("E: closed {reason:?}")));
                        }
                        Some(first) => assert_eq!(first, reason, "{}: Closed changed", self.t.name),
                    }
                    // Terminal: every later poll says the same.
                    let again = self.conn.poll();
                    assert!(
                        matches!(again, Next::Closed(r) if r == reason),
                        "{}: after Closed({reason:?}): {again:?}",
                        self.t.name
                    );
                    break;
                }
            }
        }
        assert!(
            self.deferred.is_empty(),
            "{}: entries held back",
            self.t.name
        );
    }

    fn check_wait(&self, wait: Wait) {
        let timeout = wait.timeout();
        assert!(
            !timeout.is_zero() && timeout <= std::time::Duration::from_secs(3600),
            "{}: a wait without a usable deadline: {wait:?}",
            self.t.name
        );
    }

    fn on_event(&mut self, event: Event) {
        let after = match self.before_action.take() {
            Some(before) => before,
            None => self.sent + self.conn.pending_transmit(),
        };
        if let Event::MessageData(chunk) = &event {
            assert!(!chunk.is_empty(), "empty data event");
            self.record(after, Entry::Data(chunk.to_vec()));
            return;
        }
        let line = format!("E: {}", describe(&event));
        if matches!(event, Event::MessageAborted { .. }) {
            // The application drops what it got of an aborted message; how much that was
            // depends on the splits, so it is not compared.
            self.record(after, Entry::Aborted(line));
        } else {
            self.record(after, Entry::Line(line));
        }
        self.answer_event(event.is_decision());
    }

    /// Gives the answers scripted for the next E: line.
    fn answer_event(&mut self, decision: bool) {
        let index = self.events;
        self.events += 1;
        let answers = self.t.answers.get(index).cloned().unwrap_or_default();
        if decision && answers.is_empty() {
            // Unexpected decision: record and stop answering (the comparison fails).
            self.record(self.sent, Entry::Line("!: unanswered decision".into()));
            self.stalled = true;
        }
        for answer in answers {
            self.answer(&answer);
        }
    }

    fn answer(&mut self, answer: &str) {
        let (verb, arg) = answer.split_once(' ').unwrap_or((answer, ""));
        let result = match verb {
            "accept" => self.conn.accept(),
            "accept-with" => self.conn.accept_with(reply(arg)),
            "accept-message" => self.conn.accept_message(arg),
            "reject" => self.conn.reject(reply(arg)),
            "challenge" => self.conn.sasl_challenge(&unescape(arg)),
            "lmtp" => self
                .conn
                .answer_recipients(arg.split(" ; ").map(reply).collect::<Vec<_>>()),
            "tls" => {
                self.tls_due = true;
                Ok(())
            }
            _ => panic!("{}: unknown answer {answer}", self.t.name),
        };
        if let Err(error) = result {
            self.record(self.sent, Entry::Line(format!("!: {answer}: {error}")));
        }
    }

    fn finish_segment(&mut self) {
        self.drive();
        if self.tls_due {
            self.tls_due = false;
            self.conn.tls_established().unwrap();
            self.drive();
        }
    }

    /// An adapter's call outside `poll` (a timeout, the end of the stream, a shutdown).
    fn act(&mut self, call: impl FnOnce(&mut Connection)) {
        self.before_action = Some(self.sent + self.conn.pending_transmit());
        call(&mut self.conn);
        self.drive();
        self.before_action = None;
    }
}

fn run(t: &Transcript, split: &mut dyn FnMut(usize) -> Vec<usize>) -> Vec<String> {
    let mut run = Run {
        t,
        conn: Connection::new(configure(&t.config)),
        log: Vec::new(),
        data: None,
        events: 0,
        tls_due: false,
        pending_out: Vec::new(),
        sent: 0,
        deferred: VecDeque::new(),
        before_action: None,
        waiting: None,
        upgrade_logged: None,
        closed: None,
        stalled: false,
    };
    run.finish_segment();
    for step in &t.steps {
        match step {
            Step::Feed(bytes) => {
                let mut at = 0;
                for len in split(bytes.len()) {
                    run.conn.receive(&bytes[at..at + len]);
                    at += len;
                    run.drive();
                }
                assert_eq!(at, bytes.len());
                run.finish_segment();
            }
            Step::Action(action) => {
                match action.as_str() {
                    "close" => run.act(Connection::handle_close),
                    "timeout" => {
                        assert!(
                            run.waiting.is_some(),
                            "{}: not waiting on the client",
                            t.name
                        );
                        run.act(Connection::handle_timeout);
                    }
                    "shutdown" => run.act(Connection::shutdown),
                    "closed" | "open" => {
                        let line = format!("X: closed={}", run.conn.is_closed());
                        run.record(run.sent, Entry::Line(line));
                    }
                    _ => panic!("{}: unknown action {action}", t.name),
                }
                run.finish_segment();
            }
        }
    }
    if let Some(data) = run.data.take() {
        run.log.push(format!("E: data \"{}\"", escape(&data)));
    }
    assert!(run.pending_out.is_empty(), "partial reply line");
    run.log
}

fn expected(t: &Transcript) -> Vec<String> {
    t.expected.clone()
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/server")
}

fn transcripts() -> Vec<Transcript> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "transcripts missing");
    paths.iter().map(|p| parse(p)).collect()
}

fn whole(len: usize) -> Vec<usize> {
    if len == 0 { vec![] } else { vec![len] }
}

fn show(log: &[String]) -> String {
    log.join("\n")
}

#[test]
fn every_transcript_replays_as_written() {
    for t in transcripts() {
        let got = run(&t, &mut whole);
        assert_eq!(
            show(&got),
            show(&expected(&t)),
            "transcript {} differs",
            t.name
        );
    }
}

#[test]
fn every_transcript_replays_one_byte_at_a_time() {
    for t in transcripts() {
        let got = run(&t, &mut |len| vec![1; len]);
        assert_eq!(show(&got), show(&expected(&t)), "transcript {}", t.name);
    }
}

#[test]
fn every_transcript_replays_at_random_splits() {
    let all = transcripts();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(0..all.len(), proptest::collection::vec(1usize..64, 1..64)),
            |(index, cuts)| {
                let t = &all[index];
                let mut cut = cuts.iter().cycle();
                let got = run(t, &mut |len| {
                    let mut out = Vec::new();
                    let mut left = len;
                    while left > 0 {
                        let take = (*cut.next().unwrap()).min(left);
                        out.push(take);
                        left -= take;
                    }
                    out
                });
                prop_assert_eq!(show(&got), show(&expected(t)), "transcript {}", t.name);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn every_transcript_replays_at_every_single_split() {
    // Each segment cut once, at every position (the boundary cases random cuts may miss).
    for t in transcripts() {
        let longest = t
            .steps
            .iter()
            .map(|s| match s {
                Step::Feed(b) => b.len(),
                Step::Action(_) => 0,
            })
            .max()
            .unwrap_or(0);
        for at in 0..longest.min(600) {
            let got = run(&t, &mut |len| {
                if at == 0 || at >= len {
                    whole(len)
                } else {
                    vec![at, len - at]
                }
            });
            assert_eq!(
                show(&got),
                show(&expected(&t)),
                "transcript {} cut at {at}",
                t.name
            );
        }
    }
}
