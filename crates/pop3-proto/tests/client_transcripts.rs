//! Client transcripts (tests/transcripts/client/*.txt, format in README.md there), replayed
//! whole, at random splits and one byte at a time, the machine driven as an adapter does (a
//! single `match` on `poll()`): every way of cutting the server's bytes gives the same
//! events and the same client output.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use pop3_proto::client::{Config, Connection, Event};
use pop3_proto::{CloseReason, ListingEntry, MsgNumber, Next, TlsMode};
use proptest::prelude::*;

mod escapes;
use escapes::{escape, unescape};

/// One step of a transcript.
#[derive(Debug, Clone)]
enum Step {
    Server(Vec<u8>),
    Client(String),
    Event(String),
    Action(String),
    Check(String),
}

#[derive(Debug, Clone)]
struct Transcript {
    name: String,
    config: Config,
    steps: Vec<Step>,
}

fn parse_config(config: &mut Config, line: &str) {
    for setting in line.split_whitespace() {
        let (key, value) = setting.split_once('=').expect("key=value");
        *config = match key {
            "login" => {
                let (user, pass) = value.split_once(':').unwrap();
                config.clone().with_password(user, pass)
            }
            "oauth" => {
                let (user, token) = value.split_once(':').unwrap();
                config.clone().with_oauth2(user, token)
            }
            "tls" => config.clone().with_tls(match value {
                "implicit" => TlsMode::Implicit,
                "required" => TlsMode::Required,
                "opportunistic" => TlsMode::Opportunistic,
                "disabled" => TlsMode::Disabled,
                other => panic!("tls={other}"),
            }),
            "plaintext" => config
                .clone()
                .with_plaintext_auth_without_tls(value == "yes"),
            "apop" => config.clone().with_apop(value == "yes"),
            "window" => config
                .clone()
                .with_pipelining_window(value.parse().unwrap()),
            "size_limit" => config
                .clone()
                .with_message_size_limit(value.parse().unwrap()),
            other => panic!("unknown setting {other}"),
        };
    }
}

fn load(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap();
    let mut config = Config::default();
    let mut steps = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_at(2.min(line.len()));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match tag {
            "@ " | "@" => parse_config(&mut config, line[1..].trim()),
            "S:" => {
                let mut bytes = rest.as_bytes().to_vec();
                bytes.extend_from_slice(b"\r\n");
                steps.push(Step::Server(bytes));
            }
            "S=" => steps.push(Step::Server(unescape(rest))),
            "C:" => steps.push(Step::Client(rest.to_string())),
            "E:" => steps.push(Step::Event(rest.to_string())),
            "A:" => steps.push(Step::Action(rest.to_string())),
            "X:" => steps.push(Step::Check(rest.to_string())),
            _ => panic!("{}:{}: unknown line {line:?}", path.display(), number + 1),
        }
    }
    Transcript {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        config,
        steps,
    }
}

fn transcripts() -> Vec<Transcript> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/client");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "transcripts missing in {}",
        dir.display()
    );
    paths.iter().map(|path| load(path)).collect()
}

/// Renders an event as a transcript `E:` line.
pub fn render(event: &Event) -> String {
    match event {
        Event::Greeting { apop, .. } => match apop {
            Some(ts) => format!("Greeting apop={}", escape(ts.as_bytes())),
            None => "Greeting".into(),
        },
        Event::Capabilities(caps) => match caps.list() {
            None => "Capabilities unknown".into(),
            Some(_) => {
                let lines: Vec<String> = caps
                    .iter()
                    .map(|cap| {
                        let mut out = BytesMut::new();
                        cap.write_entry(&mut out);
                        escape(&out[..out.len() - 2])
                    })
                    .collect();
                format!("Capabilities {}", lines.join(", "))
            }
        },
        Event::AuthMethodRefused { method, reply } => {
            format!("AuthMethodRefused {method}: {reply}")
        }
        Event::Authenticated(method) => format!("Authenticated {method}"),
        Event::Stat(stat) => format!("Stat {} {}", stat.count, stat.size),
        Event::ScanList(list) => {
            let entries: Vec<String> = list
                .iter()
                .map(|e| format!("{} {}", e.msg, e.size))
                .collect();
            format!("ScanList [{}]", entries.join(", "))
        }
        Event::Scan(e) => format!("Scan {} {}", e.msg, e.size),
        Event::UidList(list) => {
            let entries: Vec<String> = list
                .iter()
                .map(|e| format!("{} {}", e.msg, escape(e.uid.as_bytes())))
                .collect();
            format!("UidList [{}]", entries.join(", "))
        }
        Event::Uid(e) => format!("Uid {} {}", e.msg, escape(e.uid.as_bytes())),
        Event::MessageStart { msg, top } => match top {
            Some(lines) => format!("MessageStart {msg} top={lines}"),
            None => format!("MessageStart {msg}"),
        },
        Event::MessageData(chunk) => format!("Data {}", escape(chunk)),
        Event::MessageEnd(end) => match end.error {
            Some(error) => format!("MessageEnd {} size={} error={error}", end.msg, end.size),
            None => format!("MessageEnd {} size={}", end.msg, end.size),
        },
        Event::Deleted(msg) => format!("Deleted {msg}"),
        Event::Reset => "Reset".into(),
        Event::Noop => "Noop".into(),
        Event::CommandFailed { request, reply } => match request.msg() {
            Some(msg) => format!("CommandFailed {} {msg}: {reply}", request.verb()),
            None => format!("CommandFailed {}: {reply}", request.verb()),
        },
        Event::Quit(outcome) => format!(
            "Quit {}: {}",
            if outcome.committed {
                "committed"
            } else {
                "not committed"
            },
            outcome.reply
        ),
        Event::Failed(error) => format!("Failed: {error}"),
        other => format!("{other:?}"),
    }
}

/// Appends `line` to `log`, joining consecutive `Data` lines into one. A message cut short
/// (`MessageEnd` with an error) loses its data, as an application discards it: how much of it
/// came before the limit was seen depends on how the input was split.
fn push_coalesced(log: &mut Vec<String>, line: String) {
    if line.starts_with("MessageEnd")
        && line.contains(" error=")
        && log.last().is_some_and(|last| last.starts_with("Data "))
    {
        log.pop();
    }
    if let (Some(rest), Some(last)) = (line.strip_prefix("Data "), log.last_mut()) {
        if last.starts_with("Data ") {
            last.push_str(rest);
            return;
        }
    }
    log.push(line);
}

/// Where the machine rested after the last `drain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    Read,
    AwaitApp,
    UpgradeTls(u64),
    Closed(CloseReason),
}

struct Run {
    conn: Connection,
    config: Config,
    events: Vec<String>,
    output: Vec<u8>,
    rest: Option<Rest>,
}

impl Run {
    /// The canonical loop: a single `match` on `poll()` until the machine waits (on the
    /// server, the application, a handshake) or has ended.
    fn drain(&mut self) {
        let rest = loop {
            match self.conn.poll() {
                Next::Transmit(bytes) => self.output.extend_from_slice(&bytes),
                Next::Event(event) => {
                    assert!(!event.is_decision(), "{event:?}");
                    push_coalesced(&mut self.events, render(&event));
                }
                Next::Read(wait) => {
                    assert_eq!(wait.timeout(), self.config.response_timeout);
                    break Rest::Read;
                }
                Next::AwaitApp => break Rest::AwaitApp,
                Next::UpgradeTls(wait) => {
                    assert_eq!(wait.timeout(), self.config.tls_handshake_timeout);
                    if self.rest != Some(Rest::UpgradeTls(wait.id())) {
                        self.events.push(escapes::UPGRADE_TLS.to_owned());
                    }
                    break Rest::UpgradeTls(wait.id());
                }
                Next::Closed(reason) => {
                    match self.rest {
                        Some(Rest::Closed(first)) => {
                            assert_eq!(reason, first, "Closed changed its reason");
                        }
                        _ => self.events.push(escapes::closed(reason)),
                    }
                    // Terminal: polling again gives the same.
                    assert_eq!(self.conn.poll(), Next::Closed(reason));
                    break Rest::Closed(reason);
                }
            }
        };
        self.rest = Some(rest);
    }

    fn act(&mut self, action: &str) {
        let words: Vec<&str> = action.split_whitespace().collect();
        let msg = |i: usize| MsgNumber::new(words[i].parse().unwrap()).unwrap();
        let result = match words[0] {
            "stat" => self.conn.stat(),
            "list" if words.len() == 1 => self.conn.list(None),
            "list" => self.conn.list(Some(msg(1))),
            "uidl" if words.len() == 1 => self.conn.uidl(None),
            "uidl" => self.conn.uidl(Some(msg(1))),
            "retr" => self.conn.retr(msg(1)),
            "top" => self.conn.top(msg(1), words[2].parse().unwrap()),
            "dele" => self.conn.dele(msg(1)),
            "rset" => self.conn.rset(),
            "noop" => self.conn.noop(),
            "quit" => self.conn.quit(),
            "tls" => self.conn.tls_established(),
            "timeout" => {
                self.conn.handle_timeout();
                Ok(())
            }
            "close" => {
                self.conn.handle_close();
                Ok(())
            }
            other => panic!("unknown action {other}"),
        };
        if let Err(error) = result {
            self.events.push(format!("UsageError: {error}"));
        }
        self.drain();
    }

    fn check(&self, what: &str, transcript: &str) {
        let holds = match what {
            "closed" => self.conn.is_closed(),
            "open" => !self.conn.is_closed(),
            "secure" => self.conn.is_secure(),
            "insecure" => !self.conn.is_secure(),
            "authenticated" => self.conn.is_authenticated(),
            "read" => self.rest == Some(Rest::Read),
            "await-app" => self.rest == Some(Rest::AwaitApp),
            "upgrade-tls" => matches!(self.rest, Some(Rest::UpgradeTls(_))),
            other => panic!("unknown check {other}"),
        };
        assert!(holds, "{transcript}: check {what} failed");
    }
}

/// Plays a transcript, feeding each server block in the pieces `split` gives, and checks
/// events and client output at every point where the script has the client act.
fn play(transcript: &Transcript, split: &mut dyn FnMut(&[u8]) -> Vec<usize>) {
    let mut run = Run {
        conn: Connection::new(transcript.config.clone()),
        config: transcript.config.clone(),
        events: Vec::new(),
        output: Vec::new(),
        rest: None,
    };
    let mut expected_events: Vec<String> = Vec::new();
    let mut expected_output = String::new();
    let name = &transcript.name;
    let sync = |run: &mut Run, events: &Vec<String>, output: &String, at: usize| {
        run.drain();
        assert_eq!(&run.events, events, "{name}: events before step {at}");
        assert_eq!(
            String::from_utf8_lossy(&run.output),
            output.as_str(),
            "{name}: client output before step {at}"
        );
    };
    let mut steps = transcript.steps.iter().enumerate().peekable();
    while let Some((at, step)) = steps.next() {
        match step {
            Step::Server(first) => {
                sync(&mut run, &expected_events, &expected_output, at);
                let mut block = first.clone();
                while let Some((_, Step::Server(more))) = steps.peek() {
                    block.extend_from_slice(more);
                    steps.next();
                }
                let mut from = 0;
                for cut in split(&block).into_iter().chain([block.len()]) {
                    if cut > from {
                        run.conn.receive(&block[from..cut]);
                        run.drain();
                        from = cut;
                    }
                }
            }
            Step::Client(line) => {
                expected_output.push_str(line);
                expected_output.push_str("\r\n");
            }
            Step::Event(line) => push_coalesced(&mut expected_events, line.clone()),
            Step::Action(action) => {
                // A run of actions is one moment: the client acts on all of them before
                // anything is checked.
                if at == 0 || !matches!(transcript.steps[at - 1], Step::Action(_)) {
                    sync(&mut run, &expected_events, &expected_output, at);
                }
                run.act(action);
            }
            Step::Check(what) => {
                sync(&mut run, &expected_events, &expected_output, at);
                run.check(what, name);
            }
        }
    }
    sync(
        &mut run,
        &expected_events,
        &expected_output,
        transcript.steps.len(),
    );
}

#[test]
fn every_transcript_whole() {
    for transcript in transcripts() {
        play(&transcript, &mut |_| Vec::new());
    }
}

#[test]
fn every_transcript_one_byte_at_a_time() {
    for transcript in transcripts() {
        play(&transcript, &mut |block| (1..block.len()).collect());
    }
}

#[test]
fn every_transcript_at_every_single_split() {
    for transcript in transcripts() {
        // Each server block cut once at each position in turn would be quadratic over the
        // whole script; cut every block at the same offset instead, for every offset.
        let longest = transcript
            .steps
            .iter()
            .map(|step| match step {
                Step::Server(bytes) => bytes.len(),
                _ => 0,
            })
            .sum::<usize>();
        for offset in 1..longest.min(600) {
            play(&transcript, &mut |block| {
                if offset < block.len() {
                    vec![offset]
                } else {
                    Vec::new()
                }
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_transcript_at_random_splits(seed in any::<u64>(), max_piece in 1usize..64) {
        let mut state = seed | 1;
        let mut next = move || {
            // xorshift: a cheap, reproducible stream of cut lengths from the seed.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for transcript in transcripts() {
            play(&transcript, &mut |block| {
                let mut cuts = Vec::new();
                let mut at = 0;
                loop {
                    at += 1 + (next() as usize % max_piece);
                    if at >= block.len() {
                        break cuts;
                    }
                    cuts.push(at);
                }
            });
        }
    }
}
