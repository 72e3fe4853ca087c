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
//! E: event              an application event, compact (see `describe`)
//! A: answer             the application's answer to the E: line above it (see `answer`)
//! X: action             close | timeout | closed (assert) | open (assert)
//! ```
//!
//! Consecutive C:/B: lines are one segment: what the client wrote at once, fed before the
//! machine's output is looked at (so a segment is a pipelined group). An `A: tls` answer
//! takes effect once the segment it arrived in is fed: the plain text that came with
//! STARTTLS is what the upgrade must discard. Data an aborted message delivered before
//! its `E: aborted` is dropped (as the application drops it), not compared.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

mod escapes;
use escapes::{escape, unescape};
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use smtp_proto::server::{
    BareLineEnding, Config, Connection, Credentials, Decisions, Event, Extensions, TlsState,
};
use smtp_proto::{Command, Domain, Leniency, Limits, Mechanism, Reply};

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
                    "none" => TlsState::None,
                    "starttls" => TlsState::StartTlsAvailable,
                    "secure" => TlsState::Secure,
                    _ => panic!("tls={value}"),
                }
            }
            "auth" => config.auth_mechanisms = mechanisms(value),
            "plaintext-auth" => config.allow_plaintext_auth_without_tls = true,
            "require-auth" => config.require_auth = true,
            "require-tls" => config.require_tls = true,
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
                let mut e = Extensions {
                    pipelining: false,
                    size: false,
                    eight_bit_mime: false,
                    smtputf8: false,
                    chunking: false,
                    binary_mime: false,
                    dsn: false,
                    enhanced_status_codes: false,
                    requiretls: false,
                };
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
        Event::UpgradeTls => "upgrade-tls".into(),
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

/// Runs a transcript; `split` cuts each segment into the chunk lengths it gives.
struct Run<'a> {
    t: &'a Transcript,
    conn: Connection,
    log: Vec<String>,
    data: Option<Vec<u8>>,
    events: usize,
    tls_due: bool,
    pending_out: Vec<u8>,
}

impl Run<'_> {
    fn push(&mut self, entry: String) {
        if let Some(data) = self.data.take() {
            self.log.push(format!("E: data \"{}\"", escape(&data)));
        }
        self.log.push(entry);
    }

    fn flush_output(&mut self) {
        while let Some(bytes) = self.conn.poll_transmit() {
            self.pending_out.extend_from_slice(&bytes);
        }
        while let Some(end) = self.pending_out.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.pending_out.drain(..end + 2).collect();
            assert!(line.len() <= 512, "reply line over 512 octets");
            let text = escape(&line[..line.len() - 2]);
            self.push(format!("S: {text}"));
        }
    }

    fn drain(&mut self) {
        self.drain_from(true);
    }

    /// `replies_first`: replies already queued are logged before the next event. After
    /// `handle_timeout`/`handle_close` it is the other way round: the abort comes first.
    fn drain_from(&mut self, mut replies_first: bool) {
        loop {
            if replies_first {
                self.flush_output();
            }
            let Some(event) = self.conn.poll_event() else {
                break;
            };
            // Replies queued while the machine worked up to this event precede it.
            if replies_first {
                self.flush_output();
            }
            replies_first = true;
            if let Event::MessageData(chunk) = &event {
                assert!(!chunk.is_empty(), "empty data event");
                self.data
                    .get_or_insert_with(Vec::new)
                    .extend_from_slice(chunk);
                continue;
            }
            if matches!(event, Event::MessageAborted { .. }) {
                // The application drops what it got of an aborted message; how much that was
                // depends on the splits, so it is not compared.
                self.data = None;
            }
            self.push(format!("E: {}", describe(&event)));
            let index = self.events;
            self.events += 1;
            let answers = self.t.answers.get(index).cloned().unwrap_or_default();
            if event.is_decision() && answers.is_empty() {
                // Unexpected decision: record and stop answering (the comparison fails).
                self.push("!: unanswered decision".into());
                return;
            }
            for answer in answers {
                self.answer(&answer);
            }
        }
        self.flush_output();
    }

    fn answer(&mut self, answer: &str) {
        let (verb, arg) = answer.split_once(' ').unwrap_or((answer, ""));
        let result = match verb {
            "accept" => self.conn.accept(),
            "accept-with" => self.conn.accept_with(reply(arg)),
            "accept-message" => self.conn.accept_message(arg),
            "reject" => self.conn.reject(reply(arg)),
            "challenge" => self.conn.auth_challenge(&unescape(arg)),
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
            self.push(format!("!: {answer}: {error}"));
        }
    }

    fn finish_segment(&mut self) {
        self.drain();
        if self.tls_due {
            self.tls_due = false;
            self.conn.tls_established().unwrap();
            self.drain();
        }
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
    };
    run.finish_segment();
    for step in &t.steps {
        match step {
            Step::Feed(bytes) => {
                let mut at = 0;
                for len in split(bytes.len()) {
                    run.conn.receive(&bytes[at..at + len]);
                    at += len;
                    run.drain();
                }
                assert_eq!(at, bytes.len());
                run.finish_segment();
            }
            Step::Action(action) => {
                match action.as_str() {
                    "close" => {
                        run.conn.handle_close();
                        run.drain_from(false);
                    }
                    "timeout" => {
                        assert!(run.conn.timeout().is_some(), "{}: no timeout", t.name);
                        run.conn.handle_timeout();
                        run.drain_from(false);
                    }
                    "closed" => run.push(format!("X: closed={}", run.conn.is_closed())),
                    "open" => run.push(format!("X: closed={}", run.conn.is_closed())),
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
