//! Conversations kept as data: one transcript format and one runner for all four machines
//! (the SMTP and POP3 servers and clients), generic over any [`Session`].
//!
//! A transcript is one session as the RFCs print it (RFC 5321 appendix D, RFC 1939 section
//! 10): what the client says, what the server says, and beside it what the application sees
//! and does. The runner replays it against one machine, driven by the canonical loop (one
//! `match` on [`Session::poll`], ARCHITECTURE.md "The session contract"), whole, one byte at
//! a time, cut once at every offset, and at random splits; every replay must give the same
//! bytes and events as the file. A crate implements [`Script`] for its machine (how to build
//! it from the header, how to show an event, how to make an application call) and calls
//! [`replay_whole`], [`replay_one_byte_at_a_time`], [`replay_at_every_cut`] and
//! [`replay_at_random_splits`] on its directory.
//!
//! # Format
//!
//! One item a line. Blank lines and lines that begin with `#` are ignored. A tag, a colon and
//! one space, then the text (a line of the tag alone, `C:`, has empty text). In the text of
//! `C:`, `S:`, `B:` and `O:` lines, and between the quotes of `E: data "..."`, these escapes
//! stand for the bytes a file cannot show: `\r`, `\n`, `\t`, `\\`, `\xHH` (and `\"`).
//!
//! ```text
//! config: key[=value]   the machine's configuration, one setting a line, before anything else
//!                       (the keys are the crate's; see its transcripts/README.md)
//! C: text               a line of the client: text, then CRLF
//! S: text               a line of the server: text, then CRLF
//! B: text               raw bytes of the peer, nothing appended
//! O: text               raw bytes of the machine itself, nothing appended
//! E: event              what the application sees (the crate's compact form), and:
//!                         E: data "..."     message content; consecutive pieces are one line
//!                         E: upgrade-tls    poll said Next::UpgradeTls (once per upgrade)
//!                         E: closed REASON  poll said Next::Closed (once): quit,
//!                                           connection-lost, timeout, protocol-violation,
//!                                           input-overflow, too-many-errors,
//!                                           too-many-failed-logins, service-closing,
//!                                           shutdown, failed
//!                         E: error TEXT     the application's call above failed (usage error)
//! A: call               a call of the application on the machine (the crate's vocabulary)
//! X: action|assertion   close | timeout | tls (the adapter: end of stream, deadline passed,
//!                       handshake done) | hold | release (stop and resume polling, as an
//!                       adapter whose socket is not writable); read [SECS] | upgrade-tls [SECS]
//!                       | await-app (what poll said last, and the wait's timeout) | closed |
//!                       open; and the crate's own assertions
//! ```
//!
//! The machine's role decides which lines are input: on a server `C:` lines are what the peer
//! sends and `S:` lines what the machine must send; on a client the other way round.
//! Consecutive `C:`/`S:`/`B:` lines of the peer are one block: what the peer wrote at once (a
//! pipelined group), fed in the pieces of the split under test, driving the machine after each.
//!
//! `A:` lines right below the `E:` line of a decision (`is_decision()`) are its answer, given
//! the moment the event comes out of `poll`, before the machine goes on (as an application
//! must). Every other `A:` line is a call the application makes at that point of the file.
//!
//! # Checks
//!
//! A block of input, an `A:` call that answers no decision, and an `X:` line are steps. Before
//! each step, and at the end, the machine is driven until it waits (`Read`, `UpgradeTls`,
//! `AwaitApp`, `Closed`), and everything it wrote and every event it gave since the start must
//! equal the file's lines above the step, no more and no less: a reply shows up exactly where
//! the peer can see it. The bytes are compared as a stream (a line split across transmits is
//! still one line), the events in order. Where the crate can say which bytes a machine had
//! queued when an event came out ([`Script::pending_transmit`], the SMTP server), the order of
//! the machine's lines and the events is compared too: each event stands after the replies
//! queued before it, and an event that `X: close`, `X: timeout` or a call queued stands
//! before the reply queued with it. Otherwise the lines and the events are two streams.
//!
//! Message content comes in as many pieces as the reads allow, so consecutive `data` events
//! are joined, and the content of a message cut short is dropped when the event that ends it
//! says so ([`Shown::Discards`]), as an application drops it. At a step inside a message, the
//! content received so far may be listed further down, with the rest of the message (the end
//! checks that more came), or not at all when the message is then cut short.
//!
//! Where the peer may pipeline anything ([`Script::PIPELINES`], the POP3 server), every replay
//! is made a second time with the peer's blocks up to each `A:` call or `X:` line joined into
//! one, compared at those steps only.
//!
//! While it runs, the runner checks the contract:
//!
//! - every `Read` and `UpgradeTls` carries a timeout above zero and at most an hour
//!   ([`LONGEST_TRANSCRIPT_WAIT`]), and what [`Script::check_wait`] asks for;
//! - `poll` asked again without new input repeats its `Read` or `UpgradeTls` with the same
//!   wait (nothing processable was left behind);
//! - no transmit is empty, no data event is empty, no line the machine writes is longer than
//!   [`Script::max_line`];
//! - `Closed` comes once, with one reason, and every later `poll` says the same;
//!   [`Script::is_closed`] agrees with it at every step;
//! - a server rests in `AwaitApp` only while a decision is unanswered, is given no input then
//!   (a transcript that leaves a decision unanswered and goes on sending fails), and has every
//!   decision answered by the end.
//!
//! Every replay but [`replay_whole`] also cuts the message content that an application hands a
//! server ([`Io::content_pieces`]). A replay that fails says which file, which cuts, which
//! line, and shows the file's and the machine's lines around the first difference.

use core::fmt::Write as _;
use core::time::Duration;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use mail_wire::session::{CloseReason, Next, Session, Wait};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

/// The longest wait a transcript accepts: anything longer is no usable deadline.
pub const LONGEST_TRANSCRIPT_WAIT: Duration = Duration::from_secs(3600);

/// Polls within one drive past which the runner reports a livelock.
const MAX_POLLS: usize = 1_000_000;

/// Offsets [`replay_at_every_cut`] tries, at most.
const MAX_CUT: usize = 600;

/// Which side of the conversation the machine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The machine is the client: `S:` lines are its input, `C:` lines its output.
    Client,
    /// The machine is the server: `C:` lines are its input, `S:` lines its output.
    Server,
}

impl Role {
    /// The tag of the machine's own lines.
    pub const fn own(self) -> char {
        match self {
            Role::Client => 'C',
            Role::Server => 'S',
        }
    }

    /// The tag of the peer's lines.
    pub const fn peer(self) -> char {
        match self {
            Role::Client => 'S',
            Role::Server => 'C',
        }
    }
}

/// How a transcript shows an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// An `E:` line: the text after `E: `.
    Line(String),
    /// A piece of message content: consecutive pieces are one `E: data "..."` line.
    Data(Vec<u8>),
    /// An `E:` line that ends a message cut short: the content shown just before it is dropped.
    Discards(String),
}

/// What one machine needs to replay transcripts: the per-machine half of the runner. A value
/// lives for one replay and may keep what it needs (the configuration, message content being
/// gathered).
pub trait Script: Sized {
    /// The machine.
    type Machine: Session;

    /// The side the machine plays.
    const ROLE: Role;

    /// Builds the machine from the header's `config:` lines, as (key, value) pairs (value
    /// empty for `config: key`). Panics on a key it does not know.
    fn start(config: &[(String, String)]) -> (Self, Self::Machine);

    /// The compact form of an event, as the files write it after `E: `.
    fn describe(&self, event: &<Self::Machine as Session>::Event) -> Shown;

    /// Whether the event is a decision (the event type's `is_decision`).
    fn is_decision(&self, event: &<Self::Machine as Session>::Event) -> bool;

    /// Makes the application call of an `A:` line. `answering` is the decision it answers
    /// when it stands right below the decision's `E:` line. An error the machine returns is
    /// given back as the text of an `E: error` line. Panics on a call it does not know.
    fn call(
        &mut self,
        conn: &mut Self::Machine,
        answering: Option<&<Self::Machine as Session>::Event>,
        call: &str,
        io: &mut Io<'_>,
    ) -> Result<(), String>;

    /// An `X:` assertion the runner does not know itself: `Err` says why it does not hold.
    fn check(&self, conn: &Self::Machine, assertion: &str) -> Result<(), String> {
        let _ = conn;
        Err(format!("unknown X: {assertion}"))
    }

    /// Whether the machine says it is closed.
    fn is_closed(&self, conn: &Self::Machine) -> bool;

    /// How an `X: tls` that the machine refused shows after `E: error `.
    fn usage_error(&self, error: &<Self::Machine as Session>::UsageError) -> String {
        error.to_string()
    }

    /// Checks a wait beyond the runner's own bounds (the configured timeout, say); `upgrade`
    /// when `poll` said `UpgradeTls`.
    fn check_wait(&self, wait: Wait, upgrade: bool) -> Result<(), String> {
        let _ = (wait, upgrade);
        Ok(())
    }

    /// How many bytes the machine has queued and not yet handed out, when it can tell: the
    /// runner then checks the order of the machine's lines and the events.
    fn pending_transmit(&self, conn: &Self::Machine) -> Option<usize> {
        let _ = conn;
        None
    }

    /// The longest line the machine may write, CRLF included.
    fn max_line(&self) -> Option<usize> {
        None
    }

    /// Whether the peer may send everything up to the next step at once (a POP3 server
    /// takes any pipelined group, RFC 2449 section 6.6): every replay is then made a second
    /// time with the peer's blocks up to each `A:`/`X:` step joined into one.
    const PIPELINES: bool = false;
}

/// How one replay cuts the bytes: of each block of peer input, and of the content an
/// application hands a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// Whole.
    Whole,
    /// One byte at a time.
    Bytes,
    /// Once at this offset (0: an empty piece, then the whole).
    At(usize),
    /// In pieces of these sizes, cycled on through the blocks; 0 is an empty piece that counts
    /// as one byte towards the end of the block, whose rest is then given whole.
    Cycle(Vec<usize>),
}

/// The cuts of one replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// How the peer's blocks are cut.
    pub input: Cut,
    /// How message content from the application is cut.
    pub content: Cut,
    /// The peer's blocks up to each step that is not input are joined into one, and the
    /// machine is compared with the file at those steps only ([`Script::PIPELINES`]).
    pub join: bool,
}

impl Plan {
    /// Everything whole.
    pub fn whole() -> Self {
        Plan::both(Cut::Whole)
    }

    /// Input and content cut alike, blocks not joined.
    pub fn both(cut: Cut) -> Self {
        Plan {
            input: cut.clone(),
            content: cut,
            join: false,
        }
    }
}

/// A cut with its place in the cycle.
#[derive(Debug)]
struct Splitter {
    cut: Cut,
    turn: usize,
}

impl Splitter {
    fn pieces(&mut self, len: usize) -> Vec<usize> {
        match &self.cut {
            Cut::Whole => vec![len],
            Cut::Bytes => vec![1; len],
            Cut::At(0) => vec![0, len],
            Cut::At(at) if *at < len => vec![*at, len - at],
            Cut::At(_) => vec![len],
            Cut::Cycle(sizes) => {
                let mut out = Vec::new();
                let (mut real, mut counted) = (0, 0);
                while counted < len && !sizes.is_empty() {
                    let size = sizes[self.turn % sizes.len()];
                    self.turn += 1;
                    let take = size.min(len - real);
                    out.push(take);
                    real += take;
                    counted += size.max(1);
                }
                if real < len {
                    out.push(len - real);
                }
                out
            }
        }
    }
}

/// One item of a transcript.
#[derive(Debug, Clone)]
enum Item {
    /// A block of the peer's bytes.
    Input(Vec<u8>),
    /// Bytes the machine must write.
    Output(Vec<u8>),
    /// An event line, with the `A:` lines right below it (and their line numbers).
    Event {
        text: String,
        answers: Vec<(usize, String)>,
    },
    /// Message content.
    Data(Vec<u8>),
    /// An `A:` line that does not stand right below an `E:` line.
    Call(String),
    /// An `X:` line.
    X(String),
}

/// A transcript file, parsed for one role.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// The file name.
    pub name: String,
    config: Vec<(String, String)>,
    /// Items with their line numbers.
    items: Vec<(usize, Item)>,
    /// The answers below the n-th non-data `E:` line.
    answers: Vec<Vec<String>>,
}

impl Transcript {
    /// Parses `text` for a machine playing `role`. Panics on a malformed line.
    pub fn parse(name: &str, text: &str, role: Role) -> Transcript {
        let mut t = Transcript {
            name: name.to_owned(),
            config: Vec::new(),
            items: Vec::new(),
            answers: Vec::new(),
        };
        let mut block: Option<(usize, Vec<u8>)> = None;
        // Whether the last item is an event line whose answers may follow.
        let mut answerable = false;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let at = || format!("{name}:{number}: {line:?}");
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (tag, rest) = match line.split_once(": ") {
                Some(split) => split,
                None => (
                    line.strip_suffix(':')
                        .unwrap_or_else(|| panic!("{}: no tag", at())),
                    "",
                ),
            };
            let peer = tag.len() == 1 && tag.starts_with(role.peer());
            if !(peer || tag == "B") {
                if let Some((start, bytes)) = block.take() {
                    t.items.push((start, Item::Input(bytes)));
                }
            }
            if tag == "config" {
                assert!(
                    t.items.is_empty() && block.is_none(),
                    "{}: config after the conversation began",
                    at()
                );
                let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
                t.config.push((key.to_owned(), value.to_owned()));
                continue;
            }
            let bytes = || unescape(rest).unwrap_or_else(|e| panic!("{}: {e}", at()));
            let mut was_answerable = false;
            match tag {
                _ if peer => {
                    let (_, input) = block.get_or_insert_with(|| (number, Vec::new()));
                    input.extend(bytes());
                    input.extend_from_slice(b"\r\n");
                }
                "B" => block
                    .get_or_insert_with(|| (number, Vec::new()))
                    .1
                    .extend(bytes()),
                _ if tag.len() == 1 && tag.starts_with(role.own()) => {
                    let mut out = bytes();
                    out.extend_from_slice(b"\r\n");
                    t.items.push((number, Item::Output(out)));
                }
                "O" => t.items.push((number, Item::Output(bytes()))),
                "E" => match parse_data(rest) {
                    Some(data) => {
                        let data = data.unwrap_or_else(|e| panic!("{}: {e}", at()));
                        t.items.push((number, Item::Data(data)));
                    }
                    None => {
                        t.answers.push(Vec::new());
                        t.items.push((
                            number,
                            Item::Event {
                                text: rest.to_owned(),
                                answers: Vec::new(),
                            },
                        ));
                        was_answerable = true;
                    }
                },
                "A" if answerable => {
                    if let Some((_, Item::Event { answers, .. })) = t.items.last_mut() {
                        answers.push((number, rest.to_owned()));
                    }
                    if let Some(answers) = t.answers.last_mut() {
                        answers.push(rest.to_owned());
                    }
                    was_answerable = true;
                }
                "A" => t.items.push((number, Item::Call(rest.to_owned()))),
                "X" => t.items.push((number, Item::X(rest.to_owned()))),
                _ => panic!("{}: unknown tag {tag:?}", at()),
            }
            answerable = was_answerable;
        }
        if let Some((start, bytes)) = block.take() {
            t.items.push((start, Item::Input(bytes)));
        }
        t
    }

    /// The length of the longest block of input (`join`: the peer's blocks up to each step
    /// that is not input joined).
    fn longest_block(&self, join: bool) -> usize {
        let mut longest = 0;
        let mut block = 0;
        for (_, item) in &self.items {
            match item {
                Item::Input(bytes) => block += bytes.len(),
                Item::Call(_) | Item::X(_) => block = 0,
                _ if join => {}
                _ => block = 0,
            }
            longest = longest.max(block);
        }
        longest
    }
}

/// `E: data "..."`: the content, or `None` when the line is another event.
fn parse_data(text: &str) -> Option<Result<Vec<u8>, String>> {
    let inner = text.strip_prefix("data \"")?.strip_suffix('"')?;
    Some(unescape(inner))
}

/// The bytes `text` stands for, under the escapes of the format.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'"') => out.push(b'"'),
            Some(b'x') => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| format!("a bad \\x escape at {i}"))?;
                out.push(hex);
                i += 2;
            }
            other => {
                return Err(format!(
                    "unknown escape \\{} at {i}",
                    other.map_or(String::new(), |&b| char::from(b).to_string())
                ));
            }
        }
        i += 2;
    }
    Ok(out)
}

/// `bytes` under the escapes of the format: printable ASCII as it is but `\` and `"`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// The name of a [`CloseReason`] in `E: closed` lines.
pub fn close_reason(reason: CloseReason) -> String {
    match reason {
        CloseReason::Quit => "quit".into(),
        CloseReason::ConnectionLost => "connection-lost".into(),
        CloseReason::Timeout => "timeout".into(),
        CloseReason::ProtocolViolation => "protocol-violation".into(),
        CloseReason::InputOverflow => "input-overflow".into(),
        CloseReason::TooManyErrors => "too-many-errors".into(),
        CloseReason::TooManyFailedLogins => "too-many-failed-logins".into(),
        CloseReason::ServiceClosing => "service-closing".into(),
        CloseReason::Shutdown => "shutdown".into(),
        CloseReason::Failed => "failed".into(),
        other => format!("{other:?}"),
    }
}

/// What a replay saw, or what a file expects: the machine's bytes, and the events each at the
/// offset in those bytes where it stands.
#[derive(Debug, Default)]
struct Log {
    out: Vec<u8>,
    events: Vec<(usize, Shown)>,
}

impl Log {
    /// Adds an event at `after` (or later: never before the end of the bytes, nor before the
    /// event before it).
    fn push(&mut self, after: usize, shown: Shown) {
        let floor = self.events.last().map_or(0, |e| e.0).max(self.out.len());
        self.events.push((after.max(floor), shown));
    }

    /// Adds an event at the end of the bytes.
    fn push_now(&mut self, shown: Shown) {
        self.push(self.out.len(), shown);
    }

    /// The lines of the bytes: `S:`/`C:` for each CRLF line, `O:` for an unfinished one.
    fn out_lines(&self, own: char) -> Vec<(usize, String)> {
        let mut lines = Vec::new();
        let mut start = 0;
        while start < self.out.len() {
            let rest = &self.out[start..];
            match rest.windows(2).position(|w| w == b"\r\n") {
                Some(end) => {
                    let line = format!("{own}: {}", escape(&rest[..end]));
                    start += end + 2;
                    lines.push((start, line));
                }
                None => {
                    // Never before an event: a line is one only when it is whole.
                    lines.push((usize::MAX, format!("O: {}", escape(rest))));
                    start = self.out.len();
                }
            }
        }
        lines
    }

    /// The events as `E:` lines, content joined and dropped as the format says; `lines`
    /// interleaves the machine's lines by offset (`None`: the events alone).
    fn render(&self, lines: Option<Vec<(usize, String)>>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        // The content of the last line, when it is a data line still open.
        let mut data: Option<Vec<u8>> = None;
        let mut lines = lines.unwrap_or_default().into_iter().peekable();
        let flush = |out: &mut Vec<String>, data: &mut Option<Vec<u8>>| {
            if let Some(bytes) = data.take() {
                out.push(format!("E: data \"{}\"", escape(&bytes)));
            }
        };
        for (at, shown) in &self.events {
            while let Some((_, line)) = lines.next_if(|(end, _)| *end <= *at) {
                flush(&mut out, &mut data);
                out.push(line);
            }
            match shown {
                Shown::Data(bytes) => data.get_or_insert_with(Vec::new).extend_from_slice(bytes),
                Shown::Line(text) => {
                    flush(&mut out, &mut data);
                    out.push(format!("E: {text}"));
                }
                Shown::Discards(text) => {
                    data = None;
                    out.push(format!("E: {text}"));
                }
            }
        }
        flush(&mut out, &mut data);
        out.extend(lines.map(|(_, line)| line));
        out
    }
}

/// What the machine did last when it came to rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    Read(Wait),
    UpgradeTls(Wait),
    AwaitApp,
    Closed(CloseReason),
}

/// The runner's state that an application call may touch.
#[derive(Debug)]
struct State {
    log: Log,
    content: Splitter,
    failure: Option<String>,
    /// Non-data events handed out so far (`E: error` lines included).
    events: usize,
    /// For each non-data event handed out: whether its answers were given at once.
    answered: Vec<bool>,
}

impl State {
    fn fail(&mut self, why: String) {
        self.failure.get_or_insert(why);
    }

    /// An event line that is not the machine's event: `E: upgrade-tls`, `E: closed`,
    /// `E: error`.
    fn pseudo_event(&mut self, text: String) {
        self.log.push_now(Shown::Line(text));
        self.events += 1;
        self.answered.push(false);
    }
}

/// What an application call may do besides calling the machine: cut the content it hands
/// over as the replay's plan says, and take what the machine transmits meanwhile.
#[derive(Debug)]
pub struct Io<'a> {
    state: &'a mut State,
}

impl Io<'_> {
    /// The sizes to cut `len` bytes of message content into, as the replay's plan says (never
    /// an empty piece, unless the content is empty).
    pub fn content_pieces(&mut self, len: usize) -> Vec<usize> {
        let pieces: Vec<usize> = self
            .state
            .content
            .pieces(len)
            .into_iter()
            .filter(|&n| n > 0)
            .collect();
        if pieces.is_empty() { vec![len] } else { pieces }
    }

    /// Polls `conn` while it transmits (message content being streamed) until it awaits the
    /// application again; anything else fails the replay.
    pub fn flush<S: Session>(&mut self, conn: &mut S) {
        for _ in 0..MAX_POLLS {
            match conn.poll() {
                Next::Transmit(bytes) if bytes.is_empty() => {
                    self.state.fail("an empty transmit".into());
                }
                Next::Transmit(bytes) => self.state.log.out.extend_from_slice(&bytes),
                Next::AwaitApp => return,
                other => {
                    self.state
                        .fail(format!("{} while the application streams", kind(&other)));
                    return;
                }
            }
        }
        self.state
            .fail(format!("no end of the transmits after {MAX_POLLS} polls"));
    }

    /// Notes a failed call that goes on (a piece of content refused, say) as an `E: error`.
    pub fn error(&mut self, text: &str) {
        self.state.pseudo_event(format!("error {text}"));
    }
}

fn kind<E>(next: &Next<E>) -> String {
    match next {
        Next::Transmit(bytes) => format!("Transmit({} octets)", bytes.len()),
        Next::Event(_) => "Event".into(),
        Next::Read(wait) => format!("Read({wait:?})"),
        Next::UpgradeTls(wait) => format!("UpgradeTls({wait:?})"),
        Next::AwaitApp => "AwaitApp".into(),
        Next::Closed(reason) => format!("Closed({reason:?})"),
    }
}

/// One replay.
struct Run<'t, T: Script> {
    t: &'t Transcript,
    script: T,
    conn: T::Machine,
    state: State,
    input: Splitter,
    /// The plan joins the peer's blocks: those not yet fed.
    join: Option<Vec<u8>>,
    ordered: bool,
    /// What the file expects so far.
    expected: Log,
    rest: Option<Rest>,
    upgrade_logged: Option<u64>,
    closed: Option<CloseReason>,
    held: bool,
    /// A decision came out without an answer and no call was made since.
    unanswered: bool,
    /// The bytes queued before an adapter's or application's call: the first event after it
    /// stands before those queued after.
    before_call: Option<usize>,
    /// Content events not listed at a step because the message was still arriving: more
    /// content must follow each, or the end of a message cut short.
    unlisted: Vec<usize>,
}

impl<T: Script> Run<'_, T> {
    fn sent(&self) -> usize {
        self.state.log.out.len()
    }

    fn failed(&mut self) -> Result<(), String> {
        match self.state.failure.take() {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// The canonical loop: one `match` on `poll()`, until the machine waits.
    fn drive(&mut self) -> Result<(), String> {
        if self.held {
            return Ok(());
        }
        let mut polls = 0;
        loop {
            polls += 1;
            if polls > MAX_POLLS {
                return Err(format!("no rest after {MAX_POLLS} polls (livelock)"));
            }
            match self.conn.poll() {
                Next::Transmit(bytes) => {
                    if bytes.is_empty() {
                        return Err("an empty transmit".into());
                    }
                    self.transmitted(&bytes)?;
                }
                Next::Event(event) => self.on_event(event)?,
                Next::Read(wait) => {
                    self.check_wait(wait, false)?;
                    // Contract rule 2: nothing processable was left behind.
                    let again = self.conn.poll();
                    if !matches!(again, Next::Read(w) if w == wait) {
                        return Err(format!(
                            "poll unstable: Read({wait:?}) then {}",
                            kind(&again)
                        ));
                    }
                    self.rest = Some(Rest::Read(wait));
                    break;
                }
                Next::UpgradeTls(wait) => {
                    self.check_wait(wait, true)?;
                    let again = self.conn.poll();
                    if !matches!(again, Next::UpgradeTls(w) if w == wait) {
                        return Err(format!(
                            "poll unstable: UpgradeTls({wait:?}) then {}",
                            kind(&again)
                        ));
                    }
                    if self.upgrade_logged != Some(wait.id()) {
                        self.upgrade_logged = Some(wait.id());
                        self.state.pseudo_event("upgrade-tls".into());
                    }
                    self.rest = Some(Rest::UpgradeTls(wait));
                    break;
                }
                Next::AwaitApp => {
                    if T::ROLE == Role::Server && !self.unanswered {
                        return Err("AwaitApp with every decision answered".into());
                    }
                    self.rest = Some(Rest::AwaitApp);
                    break;
                }
                Next::Closed(reason) => {
                    match self.closed {
                        None => {
                            self.closed = Some(reason);
                            self.state
                                .pseudo_event(format!("closed {}", close_reason(reason)));
                        }
                        Some(first) if first != reason => {
                            return Err(format!("Closed({first:?}) then Closed({reason:?})"));
                        }
                        Some(_) => {}
                    }
                    // Terminal: every later poll says the same.
                    let again = self.conn.poll();
                    if !matches!(again, Next::Closed(r) if r == reason) {
                        return Err(format!(
                            "after Closed({reason:?}) poll gave {}",
                            kind(&again)
                        ));
                    }
                    self.rest = Some(Rest::Closed(reason));
                    break;
                }
            }
        }
        self.failed()?;
        if let Some(&(at, _)) = self.state.log.events.last() {
            if at > self.sent() {
                return Err("an event stands after replies the machine never handed out".into());
            }
        }
        Ok(())
    }

    fn check_wait(&self, wait: Wait, upgrade: bool) -> Result<(), String> {
        let timeout = wait.timeout();
        if timeout.is_zero() || timeout > LONGEST_TRANSCRIPT_WAIT {
            return Err(format!("a wait without a usable deadline: {wait:?}"));
        }
        self.script.check_wait(wait, upgrade)
    }

    fn transmitted(&mut self, bytes: &[u8]) -> Result<(), String> {
        let start = self.sent();
        self.state.log.out.extend_from_slice(bytes);
        if let Some(max) = self.script.max_line() {
            // The lines that end in these bytes, from the start of the first.
            let out = &self.state.log.out;
            let mut from = out[..start]
                .windows(2)
                .rposition(|w| w == b"\r\n")
                .map_or(0, |at| at + 2);
            while let Some(end) = out[from..].windows(2).position(|w| w == b"\r\n") {
                if end + 2 > max {
                    return Err(format!(
                        "a line over {max} octets: {}",
                        escape(&out[from..from + end])
                    ));
                }
                from += end + 2;
            }
        }
        Ok(())
    }

    /// Where the next event stands among the machine's bytes.
    fn placement(&mut self) -> usize {
        let queued = self.script.pending_transmit(&self.conn).unwrap_or(0);
        self.before_call.take().unwrap_or(self.sent() + queued)
    }

    fn on_event(&mut self, event: <T::Machine as Session>::Event) -> Result<(), String> {
        let after = self.placement();
        let shown = self.script.describe(&event);
        if let Shown::Data(bytes) = &shown {
            if bytes.is_empty() {
                return Err("an empty data event".into());
            }
            self.state.log.push(after, shown);
            return Ok(());
        }
        self.state.log.push(after, shown);
        let index = self.state.events;
        self.state.events += 1;
        let decision = self.script.is_decision(&event);
        let answers = match self.t.answers.get(index) {
            Some(answers) if decision => answers.clone(),
            _ => Vec::new(),
        };
        self.state.answered.push(!answers.is_empty());
        if decision && answers.is_empty() {
            self.unanswered = true;
        }
        for answer in &answers {
            self.call(Some(&event), answer);
        }
        self.failed()
    }

    /// Makes an application call; a refusal is logged as `E: error`.
    fn call(&mut self, answering: Option<&<T::Machine as Session>::Event>, call: &str) {
        let mut io = Io {
            state: &mut self.state,
        };
        if let Err(error) = self.script.call(&mut self.conn, answering, call, &mut io) {
            self.state.pseudo_event(format!("error {error}"));
        }
    }

    /// Drives the machine to rest and compares all it did with all the file expects so far.
    fn sync(&mut self, line: usize, last: bool) -> Result<(), String> {
        if let Some(joined) = self.join.as_mut().map(std::mem::take) {
            if !joined.is_empty() {
                self.feed(&joined)
                    .map_err(|e| format!("feeding the input joined before line {line}: {e}"))?;
            }
        }
        self.drive()
            .map_err(|e| format!("before line {line}: {e}"))?;
        let own = T::ROLE.own();
        let (mut got, want, got_out, want_out) = if self.ordered {
            (
                self.state.log.render(Some(self.state.log.out_lines(own))),
                self.expected.render(Some(self.expected.out_lines(own))),
                Vec::new(),
                Vec::new(),
            )
        } else {
            let lines = |log: &Log| -> Vec<String> {
                log.out_lines(own)
                    .into_iter()
                    .map(|(_, line)| line)
                    .collect()
            };
            (
                self.state.log.render(None),
                self.expected.render(None),
                lines(&self.state.log),
                lines(&self.expected),
            )
        };
        // Inside a message, the content received so far may be listed further down, with the
        // rest of the message, or not at all when the message is cut short: the end checks
        // that more came, or that it was dropped.
        let is_data = |lines: &[String]| lines.last().is_some_and(|l| l.starts_with("E: data "));
        if !last && is_data(&got) && !is_data(&want) {
            got.pop();
            self.unlisted.push(self.state.log.events.len() - 1);
        }
        let at = if last {
            "at the end".to_owned()
        } else {
            format!("before line {line}")
        };
        if got_out != want_out {
            return Err(format!(
                "{at}: the machine's bytes differ\n{}",
                diff(&want_out, &got_out)
            ));
        }
        if got != want {
            return Err(format!(
                "{at}: {} differ\n{}",
                if self.ordered {
                    "the lines and events"
                } else {
                    "the events"
                },
                diff(&want, &got)
            ));
        }
        if !self.held && self.script.is_closed(&self.conn) != self.closed.is_some() {
            return Err(format!(
                "{at}: is_closed() says {} but poll said {:?}",
                self.script.is_closed(&self.conn),
                self.closed
            ));
        }
        Ok(())
    }

    /// An adapter's or application's call at a step, then the machine driven.
    fn act(&mut self, act: impl FnOnce(&mut Self)) -> Result<(), String> {
        if self.ordered {
            let queued = self.script.pending_transmit(&self.conn).unwrap_or(0);
            self.before_call = Some(self.sent() + queued);
        }
        act(self);
        let result = self.drive();
        self.before_call = None;
        result
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut at = 0;
        for len in self.input.pieces(bytes.len()) {
            if T::ROLE == Role::Server && self.rest == Some(Rest::AwaitApp) {
                return Err("input while a decision is unanswered".into());
            }
            self.conn.receive(&bytes[at..at + len]);
            at += len;
            self.drive()?;
        }
        debug_assert_eq!(at, bytes.len());
        Ok(())
    }

    fn x(&mut self, what: &str) -> Result<(), String> {
        let (verb, arg) = what.split_once(' ').unwrap_or((what, ""));
        let secs = |wait: Wait| -> Result<(), String> {
            if arg.is_empty() || wait.timeout().as_secs().to_string() == arg {
                Ok(())
            } else {
                Err(format!("the wait's timeout is {:?}", wait.timeout()))
            }
        };
        let rest = self.rest;
        let expect = |holds: bool| {
            if holds {
                Ok(())
            } else {
                Err(format!("poll said {rest:?} last"))
            }
        };
        match verb {
            "close" => self.act(|run| run.conn.handle_close()),
            "timeout" => self.act(|run| run.conn.handle_timeout()),
            "tls" => self.act(|run| {
                if let Err(error) = run.conn.tls_established() {
                    let text = run.script.usage_error(&error);
                    run.state.pseudo_event(format!("error {text}"));
                }
            }),
            "hold" => {
                self.held = true;
                Ok(())
            }
            "release" => {
                self.held = false;
                Ok(())
            }
            "read" => match rest {
                Some(Rest::Read(wait)) => secs(wait),
                _ => expect(false),
            },
            "upgrade-tls" => match rest {
                Some(Rest::UpgradeTls(wait)) => secs(wait),
                _ => expect(false),
            },
            "await-app" => expect(rest == Some(Rest::AwaitApp)),
            "closed" | "open" => {
                let closed = verb == "closed";
                if self.script.is_closed(&self.conn) != closed
                    || matches!(rest, Some(Rest::Closed(_))) != closed
                {
                    return Err(format!(
                        "is_closed() says {} and poll said {rest:?} last",
                        self.script.is_closed(&self.conn)
                    ));
                }
                Ok(())
            }
            _ => self.script.check(&self.conn, what),
        }
    }

    fn replay(&mut self) -> Result<(), String> {
        self.drive().map_err(|e| format!("at the start: {e}"))?;
        let t = self.t;
        let mut event_index = 0;
        for (number, item) in &t.items {
            let line = *number;
            let step = |e: String| format!("line {line}: {e}");
            match item {
                Item::Output(bytes) => self.expected.out.extend_from_slice(bytes),
                Item::Data(bytes) => self.expected.push_now(Shown::Data(bytes.clone())),
                Item::Event { text, answers } => {
                    self.expected.push_now(Shown::Line(text.clone()));
                    let index = event_index;
                    event_index += 1;
                    if answers.is_empty() {
                        continue;
                    }
                    if self.join.is_some() && self.state.answered.len() <= index {
                        // The input is fed at the next step: a decision is answered then; the
                        // end checks that it was one.
                        continue;
                    }
                    if self.state.answered.get(index) != Some(&true) {
                        // Not given at once: the event was no decision (or has not come out,
                        // which the comparison reports). The calls are made here.
                        self.sync(line, false)?;
                        if self.state.answered.get(index) == Some(&true) {
                            continue;
                        }
                        for (i, (line, answer)) in answers.iter().enumerate() {
                            if i > 0 {
                                self.sync(*line, false)?;
                            }
                            self.unanswered = false;
                            self.act(|run| run.call(None, answer))
                                .map_err(|e| format!("line {line}: {e}"))?;
                        }
                    }
                }
                Item::Input(bytes) => {
                    if let Some(joined) = self.join.as_mut() {
                        joined.extend_from_slice(bytes);
                        continue;
                    }
                    self.sync(line, false)?;
                    self.feed(bytes).map_err(step)?;
                }
                Item::Call(call) => {
                    self.sync(line, false)?;
                    self.unanswered = false;
                    self.act(|run| run.call(None, call)).map_err(step)?;
                }
                Item::X(what) => {
                    self.sync(line, false)?;
                    self.x(what).map_err(step)?;
                }
            }
        }
        self.sync(usize::MAX, true)?;
        let events = &self.state.log.events;
        for &index in &self.unlisted {
            let (at, _) = events[index];
            let continued = matches!(events.get(index + 1), Some((_, Shown::Data(_))));
            let dropped = matches!(
                events.get(index + 1),
                Some((end, Shown::Discards(_))) if !self.ordered || *end == at
            );
            if !continued && !dropped {
                return Err(format!(
                    "message content that came before a step is listed after it: {}",
                    match &events[index].1 {
                        Shown::Data(bytes) => escape(bytes),
                        _ => String::new(),
                    }
                ));
            }
        }
        if T::ROLE == Role::Server && self.unanswered {
            return Err("a decision is left unanswered at the end".into());
        }
        if self.join.is_some() {
            let mut index = 0;
            for (line, item) in &t.items {
                if let Item::Event { answers, .. } = item {
                    if !answers.is_empty() && self.state.answered.get(index) != Some(&true) {
                        return Err(format!(
                            "line {line}: the A: lines below an event that is no decision are \
                             calls at that point, which a replay with the input joined cannot \
                             make"
                        ));
                    }
                    index += 1;
                }
            }
        }
        Ok(())
    }
}

/// A few lines of the expected and the actual log around the first difference.
fn diff(want: &[String], got: &[String]) -> String {
    let first = want
        .iter()
        .zip(got)
        .position(|(w, g)| w != g)
        .unwrap_or(want.len().min(got.len()));
    let from = first.saturating_sub(4);
    let show = |lines: &[String]| -> String {
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate().skip(from).take(12) {
            let mark = if i == first { ">" } else { " " };
            let mut line = line.clone();
            if line.chars().count() > 300 {
                line = line.chars().take(300).chain("...".chars()).collect();
            }
            let _ = writeln!(text, "{mark} {line}");
        }
        if lines.len() <= first {
            let _ = writeln!(text, "> (nothing more)");
        }
        text
    };
    format!(
        "-- the file says (from entry {} on):\n{}-- the machine did:\n{}",
        from + 1,
        show(want),
        show(got)
    )
}

/// Replays `t` against the machine of `T`, cut as `plan` says: the first difference, or the
/// first breach of the contract, as an error.
pub fn replay<T: Script>(t: &Transcript, plan: &Plan) -> Result<(), String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let (script, conn) = T::start(&t.config);
        let ordered = script.pending_transmit(&conn).is_some();
        let mut run = Run {
            t,
            script,
            conn,
            state: State {
                log: Log::default(),
                content: Splitter {
                    cut: plan.content.clone(),
                    turn: 0,
                },
                failure: None,
                events: 0,
                answered: Vec::new(),
            },
            input: Splitter {
                cut: plan.input.clone(),
                turn: 0,
            },
            join: plan.join.then(Vec::new),
            ordered,
            expected: Log::default(),
            rest: None,
            upgrade_logged: None,
            closed: None,
            held: false,
            unanswered: false,
            before_call: None,
            unlisted: Vec::new(),
        };
        run.replay()
    }));
    let result = result.unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        Err(format!("panicked: {text}"))
    });
    result.map_err(|e| format!("{} ({plan:?}): {e}", t.name))
}

/// Every `*.txt` file of `dir`, sorted by name, parsed for the role of `T`. Panics when there
/// are fewer than `at_least`.
pub fn load<T: Script>(dir: impl AsRef<Path>, at_least: usize) -> Vec<Transcript> {
    let dir = dir.as_ref();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= at_least,
        "{}: {} transcripts, fewer than {at_least}",
        dir.display(),
        paths.len()
    );
    paths
        .iter()
        .map(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Transcript::parse(&name, &text, T::ROLE)
        })
        .collect()
}

/// Replays every transcript with each plan `plans` gives for it (the second time with the
/// blocks joined, for a machine whose peer may pipeline anything).
fn replay_all<T: Script>(all: &[Transcript], plans: impl Fn(&Transcript, bool) -> Vec<Plan>) {
    let mut failures = Vec::new();
    let joins: &[bool] = if T::PIPELINES {
        &[false, true]
    } else {
        &[false]
    };
    for t in all {
        'plans: for &join in joins {
            for plan in plans(t, join) {
                let plan = Plan { join, ..plan };
                if let Err(error) = replay::<T>(t, &plan) {
                    failures.push(error);
                    break 'plans;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every transcript, its input and content given whole.
pub fn replay_whole<T: Script>(all: &[Transcript]) {
    replay_all::<T>(all, |_, _| vec![Plan::whole()]);
}

/// Every transcript, its input and content given one byte at a time.
pub fn replay_one_byte_at_a_time<T: Script>(all: &[Transcript]) {
    replay_all::<T>(all, |_, _| vec![Plan::both(Cut::Bytes)]);
}

/// Every transcript, each block of input (and the content) cut once at the same offset, for
/// every offset below the longest block (at most 600): the boundary cases random cuts may
/// miss. Offset 0 gives an empty piece first.
pub fn replay_at_every_cut<T: Script>(all: &[Transcript]) {
    replay_all::<T>(all, |t, join| {
        (0..t.longest_block(join).clamp(1, MAX_CUT))
            .map(|at| Plan::both(Cut::At(at)))
            .collect()
    });
}

/// Every transcript at random splits (proptest): the input in pieces of sizes drawn from 0
/// (an empty piece) to 300, the content in pieces of 1 to 40, `cases` times; first the splits
/// that found bugs before.
pub fn replay_at_random_splits<T: Script>(all: &[Transcript], cases: u32) {
    // Only empty pieces until each block is done, then the block whole.
    replay_all::<T>(all, |_, _| {
        vec![Plan {
            input: Cut::Cycle(vec![0]),
            content: Cut::Whole,
            join: false,
        }]
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let sizes = prop_oneof![3 => 0usize..64, 1 => 64usize..300];
    let strategy = (
        proptest::collection::vec(sizes, 1..24),
        proptest::collection::vec(1usize..40, 1..8),
    );
    let joins: &[bool] = if T::PIPELINES {
        &[false, true]
    } else {
        &[false]
    };
    let result = runner.run(&strategy, |(input, content)| {
        for &join in joins {
            let plan = Plan {
                input: Cut::Cycle(input.clone()),
                content: Cut::Cycle(content.clone()),
                join,
            };
            for t in all {
                if let Err(error) = replay::<T>(t, &plan) {
                    return Err(TestCaseError::fail(error));
                }
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
