//! Soak: a minute a mail server survives. Against each tokio server (SMTP, POP3) in Maildir
//! mode, at once, for [`LOAD`] after the idle connections are open:
//!
//! - [`IDLE`] idle connections, held the whole run. The servers' timeouts are short for the
//!   run ([`TIMEOUT`]), so an idle client says one whole command (SMTP `NOOP`, POP3 `CAPA`)
//!   every [`KEEPALIVE`]; every one of them must still be served at the end.
//! - [`SLOW`] slow senders: each sends one octet of a command that never ends every
//!   [`TRICKLE`] and must be closed at the timeout, counted from its last whole command
//!   (ARCHITECTURE.md security invariant 9: trickled octets do not move the deadline), with
//!   the RFC's answer: SMTP `421 4.4.2` (RFC 5321 section 4.5.3.2), POP3 nothing (the
//!   autologout timer, RFC 1939 section 3). Then it connects again, until the run ends.
//! - [`NORMAL`] normal clients in a loop: SMTP senders, each into its own Maildir, and every
//!   message answered 250 must be stored whole at the end; POP3 clients, each over its own
//!   maildrop, and every message retrieved must be the stored one.
//! - A probe that times a `NOOP` round trip every [`PROBE_EVERY`] (p50, p99 printed).
//!
//! The server's resident memory (`VmRSS` of `/proc/PID/status`) is printed at start, at its
//! peak (sampled every 250 ms), at the end of the load with the idle connections still open,
//! and once every test connection is closed; the peak must stay under [`RSS_BOUND_KIB`].
//!
//! Outside the normal test run (5000 sockets on each side; about a minute per server); see
//! README.md:
//!
//! ```sh
//! cargo build --release -p examples --examples
//! MAIL_LOAD=soak cargo test --release -p examples --test soak -- --nocapture
//! ```

mod load_support;
mod pop3_support;
mod smtp_support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pop3_support::{Pop3Server, TestCert, fill_maildir};
use smtp_support::{Server, stored_messages, strip_trace};

/// Idle connections held the whole run.
const IDLE: usize = 5000;
/// Slow senders (in a loop: trickle until closed, connect again).
const SLOW: usize = 200;
/// Normal clients in a loop.
const NORMAL: usize = 50;
/// The load phase, after the idle connections are open.
const LOAD: Duration = Duration::from_secs(40);
/// The servers' command timeout / autologout timer for the run (`--command-timeout`,
/// `--data-timeout`, `--autologout`).
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection says a whole command: well within [`TIMEOUT`].
const KEEPALIVE: Duration = Duration::from_secs(4);
/// How often a slow sender sends one octet.
const TRICKLE: Duration = Duration::from_secs(3);
/// How late past [`TIMEOUT`] a slow sender may be closed (a loaded server, one core each).
const TIMEOUT_SLACK: Duration = Duration::from_secs(5);
/// How often the probe sends its NOOP.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// Every read and write of a test socket ends by then.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(20);
/// The server's resident memory must stay under this (KiB).
const RSS_BOUND_KIB: u64 = 2 * 1024 * 1024;
/// The POP3 clients' password.
const PASSWORD: &str = "soak-secret";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Smtp,
    Pop3,
}

impl Protocol {
    /// A whole command that keeps an idle session alive.
    fn keepalive(self) -> &'static [u8] {
        match self {
            Self::Smtp => b"NOOP\r\n",
            Self::Pop3 => b"CAPA\r\n",
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let tcp = TcpStream::connect_timeout(&addr, SOCKET_TIMEOUT)?;
    tcp.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    tcp.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    tcp.set_nodelay(true)?;
    Ok(BufReader::new(tcp))
}

fn read_line(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line)
}

/// One whole SMTP reply: its code.
fn smtp_reply(reader: &mut BufReader<TcpStream>) -> io::Result<u16> {
    loop {
        let line = read_line(reader)?;
        let code = line
            .get(..3)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad reply line {line:?}")))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

fn smtp_command(reader: &mut BufReader<TcpStream>, command: &[u8]) -> io::Result<u16> {
    reader.get_mut().write_all(command)?;
    smtp_reply(reader)
}

/// One POP3 status line; an error unless `+OK`.
fn pop3_ok(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let line = read_line(reader)?;
    if line.starts_with("+OK") {
        Ok(line)
    } else {
        Err(io::Error::other(format!("POP3 answered {line:?}")))
    }
}

/// The body of a POP3 multi-line response, dot-unstuffed (RFC 1939 section 3).
fn pop3_multiline(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            return Ok(body);
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        body.extend_from_slice(unstuffed);
    }
}

/// A greeted connection: SMTP after EHLO, POP3 after the greeting (`login`: logged in).
fn session(
    protocol: Protocol,
    addr: SocketAddr,
    login: Option<&str>,
) -> io::Result<BufReader<TcpStream>> {
    let mut reader = connect(addr)?;
    match protocol {
        Protocol::Smtp => {
            let greeting = smtp_reply(&mut reader)?;
            if greeting != 220 {
                return Err(io::Error::other(format!("greeting {greeting}")));
            }
            if login.is_some() {
                let ehlo = smtp_command(&mut reader, b"EHLO soak.example.test\r\n")?;
                if ehlo != 250 {
                    return Err(io::Error::other(format!("EHLO answered {ehlo}")));
                }
            }
        }
        Protocol::Pop3 => {
            pop3_ok(&mut reader)?;
            if let Some(user) = login {
                reader
                    .get_mut()
                    .write_all(format!("USER {user}\r\n").as_bytes())?;
                pop3_ok(&mut reader)?;
                reader
                    .get_mut()
                    .write_all(format!("PASS {PASSWORD}\r\n").as_bytes())?;
                pop3_ok(&mut reader)?;
            }
        }
    }
    Ok(reader)
}

/// One keepalive command on an idle connection, and its whole answer.
fn keepalive(protocol: Protocol, reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    reader.get_mut().write_all(protocol.keepalive())?;
    match protocol {
        Protocol::Smtp => match smtp_reply(reader)? {
            250 => Ok(()),
            code => Err(io::Error::other(format!("NOOP answered {code}"))),
        },
        Protocol::Pop3 => {
            pop3_ok(reader)?;
            pop3_multiline(reader).map(drop)
        }
    }
}

/// A share of the idle connections: opened, then kept alive until `stop`; gives the
/// connections (still open) and how many keepalives failed.
fn idle_share(
    protocol: Protocol,
    addr: SocketAddr,
    count: usize,
    opened: std::sync::mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
) -> (Vec<BufReader<TcpStream>>, usize) {
    let mut held = Vec::with_capacity(count);
    let mut failures = 0;
    for _ in 0..count {
        match session(protocol, addr, None) {
            Ok(reader) => held.push(reader),
            Err(_) => failures += 1,
        }
    }
    let _ = opened.send(());
    while !stop.load(Ordering::Relaxed) {
        let round = Instant::now();
        for reader in &mut held {
            if keepalive(protocol, reader).is_err() {
                failures += 1;
            }
        }
        while round.elapsed() < KEEPALIVE && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    (held, failures)
}

/// How one slow connection ended.
#[derive(Debug)]
struct SlowEnd {
    /// From the last whole command (the greeting) to the close.
    after: Duration,
    /// What the server sent before it closed.
    said: Vec<u8>,
}

/// A slow sender until `deadline`: connect, one octet of a never-ending command every
/// [`TRICKLE`], until the server closes; again. Connections still open at the deadline are
/// dropped uncounted.
fn slow_sender(protocol: Protocol, addr: SocketAddr, deadline: Instant) -> Vec<SlowEnd> {
    let command = b"NOOP and a command that never ends, one octet at a time ";
    let mut ends = Vec::new();
    while Instant::now() < deadline {
        let Ok(reader) = session(protocol, addr, None) else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let greeted = Instant::now();
        let mut tcp = reader.into_inner();
        tcp.set_read_timeout(Some(TRICKLE)).unwrap();
        let mut said = Vec::new();
        let mut buf = [0u8; 256];
        let mut sent = 0;
        let closed = 'trickle: loop {
            if Instant::now() >= deadline {
                break 'trickle false;
            }
            // The server may have closed just now: the read below sees it.
            let _ = tcp.write_all(&command[sent % command.len()..][..1]);
            sent += 1;
            loop {
                match tcp.read(&mut buf) {
                    Ok(0) => break 'trickle true,
                    Ok(n) => said.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        continue 'trickle;
                    }
                    Err(_) => break 'trickle true,
                }
            }
        };
        if closed {
            ends.push(SlowEnd {
                after: greeted.elapsed(),
                said,
            });
        }
    }
    ends
}

/// An SMTP sender until `deadline`, into `n<index>@localhost`: one message after another,
/// a new connection every 20; gives the messages answered 250, and the other replies.
fn smtp_sender(addr: SocketAddr, index: usize, deadline: Instant) -> (Vec<Vec<u8>>, u64) {
    let mut stored = Vec::new();
    let mut refused = 0;
    let mut serial = 0usize;
    while Instant::now() < deadline {
        let Ok(mut reader) = session(Protocol::Smtp, addr, Some("ehlo")) else {
            refused += 1;
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        for _ in 0..20 {
            if Instant::now() >= deadline {
                break;
            }
            serial += 1;
            let message = soak_message(index, serial);
            match send_one(&mut reader, index, &message) {
                Ok(250) => stored.push(message),
                Ok(_) => refused += 1,
                Err(_) => {
                    refused += 1;
                    break;
                }
            }
        }
        let _ = smtp_command(&mut reader, b"QUIT\r\n");
    }
    (stored, refused)
}

/// A message of 1 to 32 KiB, different for every sender and serial number.
fn soak_message(index: usize, serial: usize) -> Vec<u8> {
    let size = 1024 + (serial * 7919 + index * 104_729) % (31 * 1024);
    let mut text =
        format!("From: n{index}@soak.example.test\r\nSubject: soak {index}.{serial}\r\n\r\n")
            .into_bytes();
    let mut line = 0;
    while text.len() < size {
        let dot = if line % 11 == 0 { "." } else { "" };
        text.extend_from_slice(
            format!("{dot}line {line} of message {index}.{serial}\r\n").as_bytes(),
        );
        line += 1;
    }
    text
}

fn send_one(reader: &mut BufReader<TcpStream>, index: usize, message: &[u8]) -> io::Result<u16> {
    let envelope = format!("MAIL FROM:<n{index}@soak.example.test>\r\n");
    for (command, want) in [
        (envelope.into_bytes(), 250),
        (
            format!("RCPT TO:<n{index}@localhost>\r\n").into_bytes(),
            250,
        ),
        (b"DATA\r\n".to_vec(), 354),
    ] {
        let code = smtp_command(reader, &command)?;
        if code != want {
            return Ok(code);
        }
    }
    let mut data = Vec::with_capacity(message.len() + message.len() / 30 + 5);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    data.extend_from_slice(b".\r\n");
    reader.get_mut().write_all(&data)?;
    smtp_reply(reader)
}

/// A POP3 client until `deadline`, over the maildrop of `n<index>` holding `expected`: log
/// in, retrieve every message and compare it, QUIT (deleting nothing); again. Gives the
/// messages retrieved and found equal, and the failures.
fn pop3_client(
    addr: SocketAddr,
    index: usize,
    expected: &[Vec<u8>],
    deadline: Instant,
) -> (u64, u64) {
    let (mut retrieved, mut failures) = (0, 0);
    let user = format!("n{index}");
    while Instant::now() < deadline {
        let outcome = (|| -> io::Result<u64> {
            let mut reader = session(Protocol::Pop3, addr, Some(&user))?;
            let mut good = 0;
            for (i, want) in expected.iter().enumerate() {
                reader
                    .get_mut()
                    .write_all(format!("RETR {}\r\n", i + 1).as_bytes())?;
                pop3_ok(&mut reader)?;
                if pop3_multiline(&mut reader)? == *want {
                    good += 1;
                } else {
                    return Err(io::Error::other(format!("message {} differs", i + 1)));
                }
            }
            reader.get_mut().write_all(b"QUIT\r\n")?;
            pop3_ok(&mut reader)?;
            Ok(good)
        })();
        match outcome {
            Ok(good) => retrieved += good,
            Err(_) => {
                failures += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    (retrieved, failures)
}

/// NOOP round trips until `deadline`, one every [`PROBE_EVERY`], on a session of its own.
fn probe(protocol: Protocol, addr: SocketAddr, deadline: Instant) -> Vec<Duration> {
    let login = match protocol {
        Protocol::Smtp => "ehlo",
        Protocol::Pop3 => "probe",
    };
    let mut reader = session(protocol, addr, Some(login)).expect("the probe's session");
    let mut times = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        reader.get_mut().write_all(b"NOOP\r\n").expect("NOOP");
        match protocol {
            Protocol::Smtp => assert_eq!(smtp_reply(&mut reader).expect("NOOP reply"), 250),
            Protocol::Pop3 => {
                pop3_ok(&mut reader).expect("NOOP answer");
            }
        }
        times.push(started.elapsed());
        std::thread::sleep(PROBE_EVERY.saturating_sub(started.elapsed()));
    }
    times
}

/// The figures of one server's run.
struct Figures {
    server: &'static str,
    rss_start: u64,
    rss_peak: u64,
    rss_loaded: u64,
    rss_end: u64,
    noop_p50: Duration,
    noop_p99: Duration,
    noops: usize,
    /// SMTP: messages answered 250 (all found stored whole); POP3: messages retrieved whole.
    messages: u64,
    slow_closed: usize,
    slow_reply: String,
    idle_held: usize,
    /// From the first idle connection to the last measure.
    wall: Duration,
}

/// What the normal clients did, checked by the caller.
enum Normal {
    Smtp(Vec<JoinHandle<(Vec<Vec<u8>>, u64)>>),
    Pop3(Vec<JoinHandle<(u64, u64)>>),
}

/// One server under the soak: `spawn_normal` starts the normal clients (until the deadline
/// it is given); `check_normal` checks what they did and counts the messages.
fn soak(
    server: &'static str,
    protocol: Protocol,
    pid: u32,
    addr: SocketAddr,
    spawn_normal: impl FnOnce(Instant) -> Normal,
    check_normal: impl FnOnce(Normal) -> u64,
) -> Figures {
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = load_support::rss_kib(pid);
    let began = Instant::now();
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_start));
    let sampler = {
        let (stop, peak) = (stop_sampling.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = status
                        .lines()
                        .find_map(|line| line.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    // The idle connections, in two shares opened at once.
    let stop_idle = Arc::new(AtomicBool::new(false));
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let idle: Vec<_> = (0..2)
        .map(|_| {
            let (tx, stop) = (opened_tx.clone(), stop_idle.clone());
            std::thread::spawn(move || idle_share(protocol, addr, IDLE / 2, tx, stop))
        })
        .collect();
    for _ in 0..2 {
        opened_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the idle connections opened within a minute");
    }
    let opened_at = Instant::now();
    println!(
        "{server}: {IDLE} idle connections open, RSS {} KiB",
        load_support::rss_kib(pid)
    );

    let deadline = opened_at + LOAD;
    let slow: Vec<_> = (0..SLOW)
        .map(|_| std::thread::spawn(move || slow_sender(protocol, addr, deadline)))
        .collect();
    let normal = spawn_normal(deadline);
    let probe = std::thread::spawn(move || probe(protocol, addr, deadline));

    let mut times = probe.join().expect("the probe");
    let mut ends = Vec::new();
    for sender in slow {
        ends.extend(sender.join().expect("a slow sender"));
    }
    let messages = check_normal(normal);
    stop_idle.store(true, Ordering::Relaxed);
    let mut held = Vec::new();
    let mut idle_failures = 0;
    for share in idle {
        let (connections, failures) = share.join().expect("an idle share");
        held.extend(connections);
        idle_failures += failures;
    }
    // Every idle connection still served, once more, after the load.
    for reader in &mut held {
        if keepalive(protocol, reader).is_err() {
            idle_failures += 1;
        }
    }
    let rss_loaded = load_support::rss_kib(pid);
    let idle_held = held.len();
    drop(held);
    std::thread::sleep(Duration::from_secs(2));
    let rss_end = load_support::rss_kib(pid);
    let wall = began.elapsed();
    stop_sampling.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let rss_peak = peak.load(Ordering::Relaxed).max(rss_loaded);

    assert_eq!(
        idle_failures, 0,
        "{server}: idle connections lost or unanswered"
    );
    assert_eq!(idle_held, IDLE, "{server}: idle connections opened");
    // The slow senders: every one closed at the timeout, with the RFC's answer.
    assert!(
        ends.len() >= SLOW,
        "{server}: only {} slow connections were closed",
        ends.len()
    );
    for end in &ends {
        assert!(
            end.after >= TIMEOUT - Duration::from_millis(500)
                && end.after <= TIMEOUT + TIMEOUT_SLACK,
            "{server}: a slow sender closed after {:?}",
            end.after
        );
        match protocol {
            Protocol::Smtp => assert!(
                end.said.starts_with(b"421 4.4.2 ") && end.said.ends_with(b"\r\n"),
                "{server}: the slow sender got {:?}",
                String::from_utf8_lossy(&end.said)
            ),
            Protocol::Pop3 => assert!(
                end.said.is_empty(),
                "{server}: the slow sender got {:?}",
                String::from_utf8_lossy(&end.said)
            ),
        }
    }
    let slow_reply = match protocol {
        Protocol::Smtp => String::from_utf8_lossy(&ends[0].said).trim_end().to_owned(),
        Protocol::Pop3 => "closed without a response".to_owned(),
    };
    assert!(
        rss_peak < RSS_BOUND_KIB,
        "{server}: resident memory peaked at {rss_peak} KiB"
    );
    times.sort();
    assert!(!times.is_empty(), "{server}: no NOOP timed");
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    Figures {
        server,
        rss_start,
        rss_peak,
        rss_loaded,
        rss_end,
        noop_p50: at(0.50),
        noop_p99: at(0.99),
        noops: times.len(),
        messages,
        slow_closed: ends.len(),
        slow_reply,
        idle_held,
        wall,
    }
}

fn smtp_soak() -> Figures {
    let timeout = TIMEOUT.as_secs().to_string();
    let server = Server::start(
        "smtp_server_tokio",
        true,
        &[
            "--command-timeout",
            &timeout,
            "--data-timeout",
            &timeout,
            // Every test connection comes from 127.0.0.1.
            "--max-connections-per-client",
            "10000",
            "--fsync",
            "all",
        ],
    );
    let addr = server.addr;
    let root: PathBuf = server.maildir.clone().expect("a Maildir server");
    let figures = soak(
        "smtp_server_tokio",
        Protocol::Smtp,
        server.proc.id(),
        addr,
        |deadline| {
            Normal::Smtp(
                (0..NORMAL)
                    .map(|i| std::thread::spawn(move || smtp_sender(addr, i, deadline)))
                    .collect(),
            )
        },
        |normal| {
            let Normal::Smtp(senders) = normal else {
                unreachable!()
            };
            let mut total = 0;
            for (i, sender) in senders.into_iter().enumerate() {
                let (mut sent, refused) = sender.join().expect("an SMTP sender");
                assert_eq!(refused, 0, "sender {i}: replies other than 250");
                let mut stored: Vec<Vec<u8>> = stored_messages(&root.join(format!("n{i}")))
                    .iter()
                    .map(|m| strip_trace(m).to_vec())
                    .collect();
                stored.sort();
                sent.sort();
                assert_eq!(stored.len(), sent.len(), "sender {i}: messages stored");
                assert!(stored == sent, "sender {i}: a stored message differs");
                assert_eq!(
                    smtp_support::count_files(&root.join(format!("n{i}")).join("tmp")),
                    0,
                    "sender {i}: leftovers in tmp/"
                );
                total += sent.len() as u64;
            }
            total
        },
    );
    drop(server); // killed by its process id
    figures
}

fn pop3_soak() -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::generate(dir.path());
    let root = dir.path().join("mail");
    let mut expected = Vec::new();
    let mut users = vec![format!("probe:{PASSWORD}")];
    fill_maildir(&root.join("probe"), &[]);
    for i in 0..NORMAL {
        let messages: Vec<(String, Vec<u8>)> = (0..5)
            .map(|k| (format!("m{k}"), soak_message(i, k)))
            .collect();
        expected.push(fill_maildir(&root.join(format!("n{i}")), &messages));
        users.push(format!("n{i}:{PASSWORD}"));
    }
    let users: Vec<&str> = users.iter().map(String::as_str).collect();
    let timeout = TIMEOUT.as_secs().to_string();
    let server = Pop3Server::start(
        "tokio",
        &root,
        &cert,
        &users,
        &[
            "--insecure-auth",
            "--autologout",
            &timeout,
            // Every test connection comes from 127.0.0.1.
            "--max-connections-per-client",
            "10000",
        ],
    );
    let addr = server.plain;
    let expected = Arc::new(expected);
    let figures = soak(
        "pop3_server_tokio",
        Protocol::Pop3,
        server.pid(),
        addr,
        |deadline| {
            Normal::Pop3(
                (0..NORMAL)
                    .map(|i| {
                        let expected = expected.clone();
                        std::thread::spawn(move || pop3_client(addr, i, &expected[i], deadline))
                    })
                    .collect(),
            )
        },
        |normal| {
            let Normal::Pop3(clients) = normal else {
                unreachable!()
            };
            let mut total = 0;
            for (i, client) in clients.into_iter().enumerate() {
                let (retrieved, failures) = client.join().expect("a POP3 client");
                assert_eq!(failures, 0, "client {i}: failed sessions");
                assert!(retrieved > 0, "client {i}: retrieved nothing");
                total += retrieved;
            }
            total
        },
    );
    drop(server);
    figures
}

#[test]
fn the_tokio_servers_survive_a_minute_of_idle_slow_and_normal_clients() {
    if std::env::var("MAIL_LOAD").as_deref() != Ok("soak") {
        eprintln!("skipped: a load run (MAIL_LOAD=soak, release build; see README.md)");
        return;
    }
    println!(
        "open files: {} (needed: about {})",
        load_support::open_files_limit(),
        IDLE + SLOW + NORMAL + 64
    );
    let started = Instant::now();
    let rows = [smtp_soak(), pop3_soak()];
    println!();
    println!(
        "soak: {IDLE} idle, {SLOW} slow (an octet every {TRICKLE:?}, timeout {TIMEOUT:?}), {NORMAL} normal clients, {LOAD:?} of load per server ({:?} in all)",
        started.elapsed()
    );
    println!(
        "{:<18} {:>6} {:>10} {:>10} {:>12} {:>10} {:>9} {:>9} {:>7} {:>9} {:>6} {:>5}  slow senders got",
        "server",
        "run",
        "RSS start",
        "RSS peak",
        "RSS loaded",
        "RSS end",
        "NOOP p50",
        "NOOP p99",
        "NOOPs",
        "messages",
        "slow",
        "idle"
    );
    for row in &rows {
        println!(
            "{:<18} {:>5}s {:>6} KiB {:>6} KiB {:>8} KiB {:>6} KiB {:>9.2?} {:>9.2?} {:>7} {:>9} {:>6} {:>5}  {}",
            row.server,
            row.wall.as_secs(),
            row.rss_start,
            row.rss_peak,
            row.rss_loaded,
            row.rss_end,
            row.noop_p50,
            row.noop_p99,
            row.noops,
            row.messages,
            row.slow_closed,
            row.idle_held,
            row.slow_reply
        );
    }
}
