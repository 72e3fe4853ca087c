//! The server machine against conversations kept as data files in
//! `tests/transcripts/server/`, fed whole, at random splits and one byte at a time, and
//! driven as an adapter does: a single `match` on `poll()`.
//!
//! # Transcript format
//!
//! One item per line; `#` starts a comment. Text is escaped: `\r`, `\n`, `\t`, `\\`, `\xHH`.
//!
//! ```text
//! ! key [value]     configuration (before the first C: line): apop <ts>,
//!                   tls disabled|opportunistic|required|implicit, plaintext, sasl [MECH...],
//!                   utf8, no-user, max-bad-commands N, max-failed-logins N,
//!                   implementation TEXT, expire N|never, login-delay N, bare-lf
//! C: text           the client sends text and CRLF
//! C~ text           the client sends text as is (no CRLF added)
//! C* N c            the client sends N times the character c
//! S: text           the server sends text and CRLF (all S lines, in order, are the output)
//! E: event          the application receives this event (rendered by `render` below), or
//!                   `poll` says `UpgradeTls` (`E: upgrade-tls`, once per upgrade) or
//!                   `Closed` (`E: closed <reason> discarded=N`, once; N is
//!                   `discarded_deletions()`)
//! A: answer         the application's answer to the last E (several A lines in order):
//!                   accept [size:uid ...] | reject auth|in-use|login-delay|sys-temp|sys-perm
//!                   | apop-verifies SECRET | challenge TEXT | send TEXT | end | unavailable
//!                   | commit-ok | commit-failed
//! X: tls|close|timeout|shutdown   after the input so far: the TLS handshake is done, the
//!                   peer closes, the wait's deadline passes, or the application shuts down
//! ```
//!
//! The output compared is the whole byte stream and the sequence of events; the order of
//! S and E lines in a file is for the reader. Input before `X: tls` is all fed before the
//! handshake completes, so pipelined plaintext after STLS is really in the buffer.
//!
//! Every `Read` must carry the autologout timeout and every `UpgradeTls` the handshake
//! timeout; after `Closed`, `poll` must keep saying the same `Closed`. Input is fed only when
//! the machine waits on the client (or has ended): a transcript that leaves a decision
//! unanswered and goes on sending fails.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pop3_proto::server::{Config, Connection, Credentials, Event, Login, LoginRefusal, Maildrop};
use pop3_proto::{CloseReason, ExpirePolicy, Mechanism, Next, Text, Timestamp, TlsMode, UniqueId};
use proptest::prelude::*;

mod escapes;
use escapes::unescape;

#[derive(Debug, Clone)]
enum Step {
    Input(Vec<u8>),
    Tls,
    Close,
    Timeout,
    Shutdown,
}

#[derive(Debug, Clone)]
enum Answer {
    Accept(Vec<(u64, String)>),
    Reject(LoginRefusal),
    ApopVerifies(Vec<u8>),
    Challenge(Vec<u8>),
    Send(Vec<u8>),
    End,
    Unavailable,
    CommitOk,
    CommitFailed,
}

#[derive(Debug, Clone)]
struct Transcript {
    name: String,
    config: Config,
    steps: Vec<Step>,
    output: Vec<u8>,
    events: Vec<String>,
    answers: Vec<Vec<Answer>>,
}

/// [`escapes::escape`], with `<empty>` for no bytes, so that an empty argument shows.
fn escape(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "<empty>".into();
    }
    escapes::escape(bytes)
}

fn parse(name: &str, text: &str) -> Transcript {
    let mut config = Config::default();
    let mut steps = Vec::new();
    let mut output = Vec::new();
    let mut events = Vec::new();
    let mut answers: Vec<Vec<Answer>> = Vec::new();
    let mut input = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let context = || format!("{name}:{}: {line}", number + 1);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_at(2.min(line.len()));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match tag {
            "! " | "!" => {
                let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
                config = match key {
                    "apop" => config.with_apop_timestamp(Timestamp::new(value.to_owned()).unwrap()),
                    "tls" => config.with_tls(match value {
                        "disabled" => TlsMode::Disabled,
                        "opportunistic" => TlsMode::Opportunistic,
                        "required" => TlsMode::Required,
                        "implicit" => TlsMode::Implicit,
                        _ => panic!("unknown TLS mode: {}", context()),
                    }),
                    "plaintext" => config.with_plaintext_auth_without_tls(true),
                    "no-user" => config.with_user_pass(false),
                    "utf8" => config.with_utf8(true),
                    "bare-lf" => config.with_bare_lf_line_ending(true),
                    "sasl" => config.with_sasl_mechanisms(
                        value.split_whitespace().map(|m| Mechanism::new(m).unwrap()),
                    ),
                    "max-bad-commands" => config.with_max_bad_commands(value.parse().unwrap()),
                    "max-failed-logins" => config.with_max_failed_logins(value.parse().unwrap()),
                    "implementation" => {
                        config.with_implementation(Text::new(value.to_owned()).unwrap())
                    }
                    "expire" => config.with_expire(match value {
                        "never" => ExpirePolicy::Never,
                        days => ExpirePolicy::Days(days.parse().unwrap()),
                    }),
                    "login-delay" => config.with_login_delay(value.parse().unwrap()),
                    _ => panic!("unknown config key: {}", context()),
                }
            }
            "C:" => {
                input.extend(unescape(rest));
                input.extend_from_slice(b"\r\n");
            }
            "C~" => input.extend(unescape(rest)),
            "C*" => {
                let (count, byte) = rest.split_once(' ').expect("C* N c");
                input.extend(std::iter::repeat_n(
                    byte.as_bytes()[0],
                    count.parse().unwrap(),
                ));
            }
            "S:" => {
                output.extend(unescape(rest));
                output.extend_from_slice(b"\r\n");
            }
            "E:" => {
                events.push(rest.to_owned());
                answers.push(Vec::new());
            }
            "A:" => {
                let (verb, arg) = rest.split_once(' ').unwrap_or((rest, ""));
                let answer = match verb {
                    "accept" => Answer::Accept(
                        arg.split_whitespace()
                            .map(|entry| {
                                let (size, uid) = entry.split_once(':').unwrap();
                                (size.parse().unwrap(), uid.to_owned())
                            })
                            .collect(),
                    ),
                    "reject" => Answer::Reject(match arg {
                        "auth" => LoginRefusal::BadCredentials,
                        "in-use" => LoginRefusal::InUse,
                        "login-delay" => LoginRefusal::LoginDelay,
                        "sys-temp" => LoginRefusal::SysTemp,
                        "sys-perm" => LoginRefusal::SysPerm,
                        _ => panic!("unknown refusal: {}", context()),
                    }),
                    "apop-verifies" => Answer::ApopVerifies(unescape(arg)),
                    "challenge" => Answer::Challenge(unescape(arg)),
                    "send" => Answer::Send(unescape(arg)),
                    "end" => Answer::End,
                    "unavailable" => Answer::Unavailable,
                    "commit-ok" => Answer::CommitOk,
                    "commit-failed" => Answer::CommitFailed,
                    _ => panic!("unknown answer: {}", context()),
                };
                answers
                    .last_mut()
                    .unwrap_or_else(|| panic!("A: before E: {}", context()))
                    .push(answer);
            }
            "X:" => {
                steps.push(Step::Input(std::mem::take(&mut input)));
                steps.push(match rest {
                    "tls" => Step::Tls,
                    "close" => Step::Close,
                    "timeout" => Step::Timeout,
                    "shutdown" => Step::Shutdown,
                    _ => panic!("unknown X: {}", context()),
                });
            }
            _ => panic!("unknown line: {}", context()),
        }
    }
    steps.push(Step::Input(input));
    Transcript {
        name: name.to_owned(),
        config,
        steps,
        output,
        events,
        answers,
    }
}

fn render(event: &Event) -> String {
    match event {
        Event::Login(Login::UserPass { name, password }) => {
            format!(
                "login user {} {}",
                escape(name.as_bytes()),
                escape(password.expose())
            )
        }
        Event::Login(Login::Apop(apop)) => format!(
            "login apop {} {} {}",
            escape(apop.name.as_bytes()),
            escape(apop.timestamp.as_bytes()),
            apop.digest
        ),
        Event::Login(Login::Sasl {
            mechanism,
            credentials: Credentials::Password(password),
        }) => format!(
            "login sasl {mechanism} {} {} {}",
            password.authzid.as_deref().unwrap_or("-"),
            escape(password.username.as_bytes()),
            escape(password.password.expose())
        ),
        Event::Login(Login::Sasl {
            mechanism,
            credentials: Credentials::OAuth2(oauth),
        }) => format!(
            "login sasl {mechanism} {} {}",
            escape(oauth.user.as_bytes()),
            escape(oauth.token.expose())
        ),
        Event::AuthStep {
            mechanism,
            response,
        } => format!(
            "auth-step {mechanism} {}",
            response.as_deref().map_or("none".to_owned(), escape)
        ),
        Event::AuthAborted => "auth-aborted".to_owned(),
        Event::Retrieve(retrieve) => {
            let mut text = format!(
                "retrieve {} index={} uid={} size={}",
                retrieve.msg,
                retrieve.index,
                escape(retrieve.uid.as_bytes()),
                retrieve.size
            );
            if let Some(lines) = retrieve.lines {
                write!(text, " top={lines}").unwrap();
            }
            text
        }
        Event::Commit { deleted } => {
            let mut text = "commit".to_owned();
            for message in deleted {
                write!(text, " {}:{}", message.msg, escape(message.uid.as_bytes())).unwrap();
            }
            text
        }
        _ => format!("{event:?}"),
    }
}

/// How input and message content are cut: chunk sizes, used in turn (empty: whole).
#[derive(Debug, Clone, Default)]
struct Plan {
    input: Vec<usize>,
    content: Vec<usize>,
}

fn chunks<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut pos = 0;
    let mut turn = 0;
    while pos < data.len() {
        let size = sizes[turn % sizes.len()].max(1);
        turn += 1;
        let end = (pos + size).min(data.len());
        out.push(&data[pos..end]);
        pos = end;
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    output: String,
    events: Vec<String>,
}

/// Where the machine rested after the last `pump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    Read,
    AwaitApp,
    UpgradeTls(u64),
    Closed(CloseReason),
}

struct Run<'a> {
    transcript: &'a Transcript,
    plan: &'a Plan,
    conn: Connection,
    output: Vec<u8>,
    events: Vec<String>,
    rest: Option<Rest>,
}

impl Run<'_> {
    /// The canonical loop: a single `match` on `poll()` until the machine waits (on the
    /// client, the application, a handshake) or has ended; decisions are answered as
    /// scripted.
    fn pump(&mut self) {
        let name = &self.transcript.name;
        loop {
            let rest = match self.conn.poll() {
                Next::Transmit(bytes) => {
                    self.output.extend_from_slice(&bytes);
                    continue;
                }
                Next::Event(event) => {
                    let index = self.events.len();
                    self.events.push(render(&event));
                    let answers = self
                        .transcript
                        .answers
                        .get(index)
                        .cloned()
                        .unwrap_or_default();
                    self.answer(&event, &answers);
                    continue;
                }
                Next::Read(wait) => {
                    assert_eq!(wait.timeout(), self.transcript.config.autologout, "{name}");
                    Rest::Read
                }
                Next::AwaitApp => Rest::AwaitApp,
                Next::UpgradeTls(wait) => {
                    assert_eq!(
                        wait.timeout(),
                        self.transcript.config.tls_handshake_timeout,
                        "{name}"
                    );
                    if self.rest != Some(Rest::UpgradeTls(wait.id())) {
                        self.events.push(escapes::UPGRADE_TLS.to_owned());
                    }
                    Rest::UpgradeTls(wait.id())
                }
                Next::Closed(reason) => {
                    match self.rest {
                        Some(Rest::Closed(first)) => {
                            assert_eq!(reason, first, "{name}: Closed changed its reason");
                        }
                        _ => self.events.push(format!(
                            "{} discarded={}",
                            escapes::closed(reason),
                            self.conn.discarded_deletions()
                        )),
                    }
                    // Terminal: polling again gives the same.
                    assert_eq!(self.conn.poll(), Next::Closed(reason), "{name}");
                    Rest::Closed(reason)
                }
            };
            self.rest = Some(rest);
            return;
        }
    }

    /// Transmits what a message chunk wrote: the machine then awaits the next chunk.
    fn flush_content(&mut self) {
        loop {
            match self.conn.poll() {
                Next::Transmit(bytes) => self.output.extend_from_slice(&bytes),
                Next::AwaitApp => return,
                other => panic!(
                    "{}: {other:?} while a message streams",
                    self.transcript.name
                ),
            }
        }
    }

    fn answer(&mut self, event: &Event, answers: &[Answer]) {
        let mut content = Vec::new();
        for answer in answers {
            let result = match answer {
                Answer::Accept(messages) => self.conn.accept(
                    messages
                        .iter()
                        .map(|(size, uid)| (*size, UniqueId::new(uid.clone()).unwrap()))
                        .collect::<Maildrop>(),
                ),
                Answer::Reject(refusal) => self.conn.reject(*refusal),
                Answer::ApopVerifies(secret) => {
                    let Event::Login(Login::Apop(apop)) = event else {
                        panic!("{}: apop-verifies on {event:?}", self.transcript.name);
                    };
                    assert!(
                        apop.verify(secret),
                        "{}: APOP digest does not verify",
                        self.transcript.name
                    );
                    assert!(
                        !apop.verify(b"wrong"),
                        "{}: APOP verifies anything",
                        self.transcript.name
                    );
                    Ok(())
                }
                Answer::Challenge(challenge) => self.conn.sasl_challenge(challenge),
                Answer::Send(bytes) => {
                    content.extend_from_slice(bytes);
                    Ok(())
                }
                Answer::End => {
                    for chunk in chunks(&content, &self.plan.content) {
                        match self.conn.send_message_chunk(chunk) {
                            Ok(()) => self.flush_content(),
                            Err(error) => self.events.push(format!("usage error: {error}")),
                        }
                    }
                    self.conn.end_message()
                }
                Answer::Unavailable => self.conn.message_unavailable(),
                Answer::CommitOk => self.conn.commit_succeeded(),
                Answer::CommitFailed => self.conn.commit_failed(),
            };
            if let Err(error) = result {
                self.events.push(format!("usage error: {error}"));
            }
        }
    }
}

fn run(transcript: &Transcript, plan: &Plan) -> Outcome {
    let mut run = Run {
        transcript,
        plan,
        conn: Connection::new(transcript.config.clone()),
        output: Vec::new(),
        events: Vec::new(),
        rest: None,
    };
    run.pump();
    for step in &transcript.steps {
        match step {
            Step::Input(bytes) => {
                for chunk in chunks(bytes, &plan.input) {
                    assert_ne!(
                        run.rest,
                        Some(Rest::AwaitApp),
                        "{}: input while a decision is unanswered",
                        transcript.name
                    );
                    run.conn.receive(chunk);
                    run.pump();
                }
            }
            Step::Tls => {
                if let Err(error) = run.conn.tls_established() {
                    run.events.push(format!("usage error: {error}"));
                }
            }
            Step::Close => run.conn.handle_close(),
            Step::Timeout => run.conn.handle_timeout(),
            Step::Shutdown => run.conn.shutdown(),
        }
        run.pump();
    }
    let closed = run.events.iter().any(|event| event.starts_with("closed"));
    assert_eq!(
        run.conn.is_closed(),
        closed,
        "{}: is_closed disagrees with the events",
        transcript.name
    );
    Outcome {
        output: escape_lines(&run.output),
        events: run.events,
    }
}

/// The output as one escaped line per CRLF line, for readable diffs.
fn escape_lines(bytes: &[u8]) -> String {
    let mut text = String::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        text.push_str(&escape(line.strip_suffix(b"\r\n").unwrap_or(line)));
        if !line.ends_with(b"\r\n") {
            text.push_str(" <no CRLF>");
        }
        text.push('\n');
    }
    text
}

fn transcript_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/server")
}

fn transcripts() -> Vec<Transcript> {
    let mut paths: Vec<_> = std::fs::read_dir(transcript_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no transcripts found");
    paths
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            parse(&name, &std::fs::read_to_string(path).unwrap())
        })
        .collect()
}

#[test]
fn every_transcript_gives_the_expected_output_and_events() {
    let mut failures = Vec::new();
    for transcript in transcripts() {
        let got = run(&transcript, &Plan::default());
        let expected = Outcome {
            output: escape_lines(&transcript.output),
            events: transcript.events.clone(),
        };
        if got != expected {
            failures.push(format!(
                "== {}\n-- expected output:\n{}-- got output:\n{}-- expected events: {:#?}\n-- got events: {:#?}",
                transcript.name, expected.output, got.output, expected.events, got.events
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn one_byte_at_a_time_gives_the_same_result() {
    for transcript in transcripts() {
        let whole = run(&transcript, &Plan::default());
        let bytewise = run(
            &transcript,
            &Plan {
                input: vec![1],
                content: vec![1],
            },
        );
        assert_eq!(bytewise, whole, "{}", transcript.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_splits_give_the_same_result(
        input in proptest::collection::vec(1usize..300, 1..12),
        content in proptest::collection::vec(1usize..40, 1..8),
    ) {
        let plan = Plan { input, content };
        for transcript in transcripts() {
            let whole = run(&transcript, &Plan::default());
            prop_assert_eq!(run(&transcript, &plan), whole, "{}", transcript.name);
        }
    }
}
