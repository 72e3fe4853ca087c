//! A POP3 client machine and a server machine, talking in memory, allocate nothing per
//! command once logged in: STAT, LIST n, UIDL n, NOOP, DELE n and RSET each take zero heap
//! allocations for the whole round trip (client request written, server command parsed and
//! answered, client response parsed into its event), and RETR of a 10 KiB message takes a
//! small constant number per message, however many lines the message has.
//!
//! What this proves: both machines reuse their buffers (input, output, event and command
//! queues) in the steady state, and parsed values are `Bytes` slices of the input
//! (reference counts), never copies. Login, the maildrop listing the application builds and
//! the first rounds (buffers growing to their working size, `Bytes` promoted to shared
//! storage once) are excluded on purpose: they happen once per session, not per command.
//! The application side of the test allocates nothing itself: it hands the server the
//! message as one `Bytes` (a reference count) and only counts what the client delivers.
//!
//! The figures are printed (`cargo test -p benches --test pop3_session_alloc -- --nocapture`).

use std::collections::VecDeque;

use benches::alloc_counter::{CountingAllocator, counted, set_counting};
use benches::body;
use bytes::Bytes;
use pop3_proto::client::{self, Request};
use pop3_proto::server::{self, Maildrop};
use pop3_proto::{MsgNumber, Next, TlsMode, UniqueId};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Messages in the maildrop; the loop walks through them.
const MESSAGES: u32 = 8;
/// The size of each message, as the bench has it.
const MESSAGE_SIZE: usize = 10 * 1024;
/// Measured rounds per command.
const ROUNDS: usize = 200;

/// A client and a server machine joined in memory, logged in.
struct Pair {
    client: client::Connection,
    server: server::Connection,
    /// What the client wrote and the server has not read yet, one transmit per read.
    to_server: VecDeque<Bytes>,
    /// What the server wrote and the client has not read yet.
    to_client: VecDeque<Bytes>,
    contents: Vec<Bytes>,
    /// Results the client delivered (one per command).
    answers: usize,
    /// Message octets the client delivered.
    received: usize,
}

impl Pair {
    fn logged_in(dot_every: usize) -> Self {
        let contents = (0..MESSAGES)
            .map(|seed| {
                let mut message =
                    format!("Subject: message {seed}\r\nFrom: a@example.org\r\n\r\n").into_bytes();
                message.extend_from_slice(&body::message(MESSAGE_SIZE, dot_every));
                message.truncate(MESSAGE_SIZE - 2);
                message.extend_from_slice(b"\r\n");
                Bytes::from(message)
            })
            .collect();
        let mut pair = Self {
            client: client::Connection::new(
                client::Config::default()
                    .with_tls(TlsMode::Implicit)
                    .with_password("alice", "secret"),
            ),
            server: server::Connection::new(server::Config::default().with_tls(TlsMode::Implicit)),
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            contents,
            answers: 0,
            received: 0,
        };
        pair.pump();
        assert!(pair.client.is_authenticated(), "login failed");
        pair
    }

    /// Moves bytes and events until neither machine has anything more to do.
    fn pump(&mut self) {
        while self.run_server() | self.run_client() {}
    }

    /// Polls the server, answering its decisions at once, until it writes (the client reads
    /// that first, as from a socket) or waits on input the client has not written; whether
    /// anything happened.
    fn run_server(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.server.poll() {
                Next::Transmit(bytes) => {
                    self.to_client.push_back(bytes);
                    return true;
                }
                Next::Event(server::Event::Login(_)) => {
                    let mut maildrop = Maildrop::with_capacity(self.contents.len());
                    for (i, content) in self.contents.iter().enumerate() {
                        let uid = UniqueId::new(format!("uid-{i}")).unwrap();
                        maildrop.push(content.len() as u64, uid);
                    }
                    self.server.accept(maildrop).unwrap();
                }
                Next::Event(server::Event::Retrieve(retrieve)) => {
                    // The application's content, as one `Bytes`: a reference count.
                    let content = self.contents[retrieve.index].clone();
                    self.server.send_message_chunk(content).unwrap();
                    self.server.end_message().unwrap();
                }
                Next::Event(other) => panic!("unexpected server event {other:?}"),
                Next::Read(_) => match self.to_server.pop_front() {
                    Some(bytes) => self.server.receive(&bytes),
                    None => return progress,
                },
                other => panic!("unexpected from the server: {other:?}"),
            }
            progress = true;
        }
    }

    /// Polls the client until it writes, or waits on the server or on the application;
    /// whether anything happened.
    fn run_client(&mut self) -> bool {
        let mut progress = false;
        loop {
            match self.client.poll() {
                Next::Transmit(bytes) => {
                    self.to_server.push_back(bytes);
                    return true;
                }
                Next::Event(event) => match event {
                    client::Event::MessageData(chunk) => self.received += chunk.len(),
                    client::Event::MessageStart { .. } => {}
                    client::Event::MessageEnd(end) => {
                        assert!(end.error.is_none());
                        self.answers += 1;
                    }
                    client::Event::Stat(_)
                    | client::Event::Scan(_)
                    | client::Event::Uid(_)
                    | client::Event::Noop
                    | client::Event::Deleted(_)
                    | client::Event::Reset => self.answers += 1,
                    // Login: greeting, capabilities, authenticated.
                    client::Event::Greeting { .. }
                    | client::Event::Capabilities(_)
                    | client::Event::Authenticated(_) => {}
                    other => panic!("unexpected client event {other:?}"),
                },
                Next::Read(_) => match self.to_client.pop_front() {
                    Some(bytes) => self.client.receive(&bytes),
                    None => return progress,
                },
                // Logged in with nothing queued: the test's next command.
                Next::AwaitApp => return progress,
                other => panic!("unexpected from the client: {other:?}"),
            }
            progress = true;
        }
    }

    /// One command, all the way: queued on the client, answered by the server, delivered.
    fn run(&mut self, request: Request) {
        let answers = self.answers;
        self.client.request(request).unwrap();
        self.pump();
        assert_eq!(self.answers, answers + 1, "{request:?} not answered");
    }
}

/// The message the `round`th command names.
fn msg(round: usize) -> MsgNumber {
    MsgNumber::new(1 + (round % MESSAGES as usize) as u32).unwrap()
}

/// Allocations made by `work`, run `rounds` times, counting only inside `work`'s
/// `counted` part (the rest prepares or undoes state).
fn allocations(
    pair: &mut Pair,
    rounds: usize,
    mut work: impl FnMut(&mut Pair, usize, &dyn Fn(bool)),
) -> usize {
    let before = counted();
    for round in 0..rounds {
        work(pair, round, &set_counting);
    }
    set_counting(false);
    counted() - before
}

/// Per-command figures after warm-up.
#[derive(Debug, Default)]
struct Figures {
    stat: usize,
    list: usize,
    uidl: usize,
    noop: usize,
    retr: usize,
    dele: usize,
    rset: usize,
    mixed: usize,
    pipelined: usize,
}

/// One round of the loop with all seven commands queued at once: the server advertises
/// PIPELINING, so they go out in one write and their answers come back together.
fn pipelined_round(pair: &mut Pair, round: usize) {
    let n = msg(round);
    let answers = pair.answers;
    for request in [
        Request::Stat,
        Request::List(Some(n)),
        Request::Uidl(Some(n)),
        Request::Noop,
        Request::Retr(n),
        Request::Dele(n),
        Request::Rset,
    ] {
        pair.client.request(request).unwrap();
    }
    pair.pump();
    assert_eq!(pair.answers, answers + 7, "pipelined round not answered");
}

/// One round of the steady-state loop, every command counted.
fn mixed_round(pair: &mut Pair, round: usize) {
    let n = msg(round);
    pair.run(Request::Stat);
    pair.run(Request::List(Some(n)));
    pair.run(Request::Uidl(Some(n)));
    pair.run(Request::Noop);
    pair.run(Request::Retr(n));
    pair.run(Request::Dele(n));
    pair.run(Request::Rset);
}

fn measure(dot_every: usize) -> Figures {
    let mut pair = Pair::logged_in(dot_every);
    // Warm-up: buffers grow to their working size, shared `Bytes` storage is set up.
    for round in 0..4 * MESSAGES as usize {
        mixed_round(&mut pair, round);
        pipelined_round(&mut pair, round);
    }
    let received = pair.received;

    let single = |pair: &mut Pair, request: fn(usize) -> Request| {
        allocations(pair, ROUNDS, |pair, round, counting| {
            counting(true);
            pair.run(request(round));
            counting(false);
        })
    };
    let mut figures = Figures {
        stat: single(&mut pair, |_| Request::Stat),
        list: single(&mut pair, |round| Request::List(Some(msg(round)))),
        uidl: single(&mut pair, |round| Request::Uidl(Some(msg(round)))),
        noop: single(&mut pair, |_| Request::Noop),
        retr: single(&mut pair, |round| Request::Retr(msg(round))),
        rset: single(&mut pair, |_| Request::Rset),
        ..Figures::default()
    };
    // DELE needs a message not yet marked: RSET (not counted) unmarks it after each one.
    figures.dele = allocations(&mut pair, ROUNDS, |pair, round, counting| {
        counting(true);
        pair.run(Request::Dele(msg(round)));
        counting(false);
        pair.run(Request::Rset);
    });
    figures.mixed = allocations(&mut pair, ROUNDS, |pair, round, counting| {
        counting(true);
        mixed_round(pair, round);
        counting(false);
    });
    figures.pipelined = allocations(&mut pair, ROUNDS, |pair, round, counting| {
        counting(true);
        pipelined_round(pair, round);
        counting(false);
    });
    // Every RETR delivered the whole message: the loops measured real work.
    let retrieved = pair.received - received;
    assert_eq!(retrieved, 3 * ROUNDS * MESSAGE_SIZE);
    figures
}

fn per_command(total: usize) -> f64 {
    total as f64 / ROUNDS as f64
}

fn check(dot_every: usize, label: &str) {
    let figures = measure(dot_every);
    println!(
        "{label}: allocations per command over {ROUNDS} rounds: STAT {:.2}, LIST n {:.2}, \
         UIDL n {:.2}, NOOP {:.2}, RETR {:.2}, DELE {:.2}, RSET {:.2}; \
         per 7-command round {:.2} (pipelined: {:.2})",
        per_command(figures.stat),
        per_command(figures.list),
        per_command(figures.uidl),
        per_command(figures.noop),
        per_command(figures.retr),
        per_command(figures.dele),
        per_command(figures.rset),
        per_command(figures.mixed),
        per_command(figures.pipelined),
    );
    assert_eq!(figures.stat, 0, "{label}: STAT");
    assert_eq!(figures.list, 0, "{label}: LIST n");
    assert_eq!(figures.uidl, 0, "{label}: UIDL n");
    assert_eq!(figures.noop, 0, "{label}: NOOP");
    assert_eq!(figures.dele, 0, "{label}: DELE");
    assert_eq!(figures.rset, 0, "{label}: RSET");
    // RETR: a constant per message, whatever its line count.
    assert!(
        figures.retr <= RETR_BOUND * ROUNDS,
        "{label}: RETR allocates {} per message",
        per_command(figures.retr)
    );
    assert!(
        figures.mixed <= RETR_BOUND * ROUNDS,
        "{label}: mixed round allocates {} per round",
        per_command(figures.mixed)
    );
    assert!(
        figures.pipelined <= RETR_BOUND * ROUNDS,
        "{label}: pipelined round allocates {} per round",
        per_command(figures.pipelined)
    );
}

/// The most allocations one RETR of a 10 KiB message may take.
const RETR_BOUND: usize = 2;

#[test]
fn pop3_session_steady_state_allocates_nothing_per_command() {
    // Plain text, one line in twenty starting with a dot (stuffed on the wire), and every
    // line starting with one: RETR's figure must not grow with the stuffed lines.
    check(0, "no dot lines");
    check(20, "dot lines");
    check(1, "every line a dot line");

    // The counter counts: a Vec allocates.
    let mut pair = Pair::logged_in(0);
    let spent = allocations(&mut pair, 1, |_, _, counting| {
        counting(true);
        std::hint::black_box(vec![1u8; 64]);
        counting(false);
    });
    assert!(spent > 0);
}
