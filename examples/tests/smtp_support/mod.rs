//! What the SMTP interop and load tests share: the example binaries, the real peers (skipped
//! when missing unless `MAIL_INTEROP=required`), servers on free loopback ports, a raw SMTP
//! session over a socket, the message corpus and the reading of stored Maildir files.
//!
//! Every wait is bounded: processes are killed after their deadline, sockets time out.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::tls::{ClientTrust, client_config, server_name};

/// How long one peer command may run before the test kills it and fails.
pub(crate) const PEER_DEADLINE: Duration = Duration::from_secs(60);
/// Socket read timeout of the raw sessions.
pub(crate) const SOCKET_TIMEOUT: Duration = Duration::from_secs(15);

/// The two server variants (same flags).
pub(crate) const SERVERS: [&str; 2] = ["smtp_server_tokio", "smtp_server_blocking"];
/// The two client variants (same flags).
pub(crate) const CLIENTS: [&str; 2] = ["smtp_client_tokio", "smtp_client_blocking"];

/// The path of an example binary built by `cargo test` (`target/<profile>/examples/<name>`;
/// the test executable sits in `target/<profile>/deps/`). `cargo test -p examples` builds
/// the examples; `cargo test --test smtp_interop` alone does not (nor rebuild them): run
/// `cargo build -p examples --examples` first then.
pub(crate) fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p examples` (it builds the examples) or \
         `cargo build -p examples --examples` first",
        path.display()
    );
    path
}

fn interop_required() -> bool {
    std::env::var("MAIL_INTEROP").is_ok_and(|v| v == "required")
}

/// Skips (returns `None` with a message) or, under `MAIL_INTEROP=required`, fails.
fn missing(what: &str) -> Option<PathBuf> {
    assert!(
        !interop_required(),
        "interop peer {what} is missing and MAIL_INTEROP=required"
    );
    eprintln!("SKIPPED: interop peer {what} is not installed");
    None
}

/// A peer program from PATH (or /usr/sbin, where postfix puts its tools).
pub(crate) fn peer(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]);
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    missing(program)
}

/// `python3` when it can import `module`.
pub(crate) fn python_with(module: &str) -> Option<PathBuf> {
    let python = peer("python3")?;
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(python)
    } else {
        missing(&format!("python3 module {module}"))
    }
}

/// A port free on 127.0.0.1 right now (bound, then released for the child to take).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed (by its own id) when dropped, its stderr kept in a file.
pub(crate) struct Proc {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Proc {
    /// Starts `command` with stdout and stderr into `log`.
    pub(crate) fn spawn(mut command: Command, log: PathBuf, name: &str) -> Proc {
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            log,
            name: name.to_owned(),
        }
    }

    /// What the process logged so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the process has exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end by itself, at most `deadline`.
    pub(crate) fn wait(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts connections on `addr` and greets with `220`.
pub(crate) fn wait_for_greeting(addr: SocketAddr, proc: &mut Proc) {
    let start = Instant::now();
    loop {
        proc.assert_running();
        if let Ok(tcp) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            tcp.set_read_timeout(Some(SOCKET_TIMEOUT)).unwrap();
            let mut line = String::new();
            let _ = BufReader::new(&tcp).read_line(&mut line);
            assert!(line.starts_with("220"), "greeting: {line:?}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} did not listen on {addr}:\n{}",
            proc.name,
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The address the server logged on its line holding `what` (`... what addr=IP:PORT`).
pub(crate) fn logged_address(proc: &mut Proc, what: &str) -> SocketAddr {
    let start = Instant::now();
    loop {
        proc.assert_running();
        let log = proc.log();
        let found = log
            .lines()
            .filter(|line| line.contains(what))
            .find_map(|line| {
                line.split("addr=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            });
        if let Some(addr) = found {
            return addr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} did not log {what:?}:\n{log}",
            proc.name
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until something accepts TCP connections on `addr` (a TLS-first port).
pub(crate) fn wait_for_listener(addr: SocketAddr, proc: &mut Proc) {
    let start = Instant::now();
    loop {
        proc.assert_running();
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} did not listen on {addr}:\n{}",
            proc.name,
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Postfix's `smtp-sink` (`sink`: its path, `extra`: its flags) on a free port of 127.0.0.1, killed (by its id) when dropped.
pub(crate) struct Sink {
    pub(crate) addr: SocketAddr,
    pub(crate) proc: Proc,
    _dir: tempfile::TempDir,
}

pub(crate) fn start_sink(sink: PathBuf, extra: &[&str]) -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let mut c = Command::new(sink);
    if Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
    {
        c.args(["-u", "nobody"]); // smtp-sink refuses to run as root without it
    }
    c.args(extra).arg(addr.to_string()).arg("100");
    let mut proc = Proc::spawn(c, dir.path().join("sink.log"), "smtp-sink");
    wait_for_greeting(addr, &mut proc);
    Sink {
        addr,
        proc,
        _dir: dir,
    }
}

/// One of the example servers, on free loopback ports, with a temporary data directory.
pub(crate) struct Server {
    /// The process.
    pub(crate) proc: Proc,
    /// The plain (STARTTLS) listener.
    pub(crate) addr: SocketAddr,
    /// The implicit TLS listener.
    pub(crate) tls_addr: SocketAddr,
    /// The Maildir root (`--maildir`), unless in sink mode.
    pub(crate) maildir: Option<PathBuf>,
    /// The temporary directory holding the Maildir root and the log.
    pub(crate) dir: tempfile::TempDir,
}

/// The accounts every test server knows.
pub(crate) const ALICE: (&str, &str) = ("alice", "alice-secret");

impl Server {
    /// Starts `binary` with a Maildir (or in sink mode), the account [`ALICE`], local domains
    /// `localhost` and `example.test`, and `extra` flags.
    pub(crate) fn start(binary: &str, maildir: bool, extra: &[&str]) -> Server {
        Self::start_in(&std::env::temp_dir(), binary, maildir, extra)
    }

    /// [`start`](Self::start) with the server's directory (log, Maildir) inside `parent`.
    pub(crate) fn start_in(parent: &Path, binary: &str, maildir: bool, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir_in(parent).expect("temp dir");
        let root = dir.path().join("mail");
        let mut command = Command::new(example_bin(binary));
        // Port 0: the server takes a free port itself and logs it. (A port found free here
        // and released could be taken by any socket, even a client's, before the server
        // binds it.)
        command
            .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
            .args(["--hostname", "localhost"])
            .args(["--domain", "localhost", "--domain", "example.test"])
            .arg("--user")
            .arg(format!("{}:{}", ALICE.0, ALICE.1))
            .args(extra)
            .env("RUST_LOG", "info");
        if maildir {
            command.arg("--maildir").arg(&root);
        }
        let mut proc = Proc::spawn(command, dir.path().join("server.log"), binary);
        let addr = logged_address(&mut proc, "listening (SMTP, STARTTLS)");
        let tls_addr = logged_address(&mut proc, "listening (implicit TLS)");
        wait_for_greeting(addr, &mut proc);
        wait_for_listener(tls_addr, &mut proc);
        Server {
            proc,
            addr,
            tls_addr,
            maildir: maildir.then_some(root),
            dir,
        }
    }

    /// The stored messages of `mailbox`, whole files, in no particular order.
    pub(crate) fn stored(&self, mailbox: &str) -> Vec<Vec<u8>> {
        let root = self.maildir.as_ref().expect("a Maildir server");
        stored_messages(&root.join(mailbox))
    }

    /// The stored messages of `mailbox` without the trace headers the server adds.
    pub(crate) fn stored_bodies(&self, mailbox: &str) -> Vec<Vec<u8>> {
        self.stored(mailbox)
            .iter()
            .map(|m| strip_trace(m).to_vec())
            .collect()
    }

    /// Files left in `mailbox`'s `tmp/` (none, once no delivery is in progress).
    pub(crate) fn tmp_files(&self, mailbox: &str) -> usize {
        let root = self.maildir.as_ref().expect("a Maildir server");
        count_files(&root.join(mailbox).join("tmp"))
    }
}

/// Files in a directory (0 when it does not exist).
pub(crate) fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// The messages in `maildir/new/`.
pub(crate) fn stored_messages(maildir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    let mut messages: Vec<Vec<u8>> = entries
        .map(|e| fs::read(e.expect("dir entry").path()).expect("message file"))
        .collect();
    messages.sort();
    messages
}

/// The message without the `Return-Path:` and `Received:` lines the server puts on top
/// (RFC 5321 section 4.4); panics when they are not there.
pub(crate) fn strip_trace(message: &[u8]) -> &[u8] {
    let mut rest = message;
    for name in [&b"Return-Path: <"[..], b"Received: from "] {
        assert!(
            rest.starts_with(name),
            "expected a {:?} trace line, got {:?}",
            String::from_utf8_lossy(name),
            String::from_utf8_lossy(&rest[..rest.len().min(80)])
        );
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("trace line ends with CRLF");
        rest = &rest[end + 2..];
    }
    rest
}

/// The `Return-Path` a stored message carries.
pub(crate) fn return_path(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let line = text.lines().next().unwrap_or_default();
    line.trim_start_matches("Return-Path: ").to_owned()
}

/// The messages every client sends: each must be stored byte for byte.
pub(crate) fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut dots = b"From: a@example.test\r\nTo: bob@localhost\r\nSubject: dots\r\n\r\n".to_vec();
    dots.extend_from_slice(b".\r\n..\r\n.leading dot\r\n. \r\nmiddle . dot\r\n...\r\nend\r\n");

    let mut long_line = b"Subject: a 998-octet line\r\n\r\n".to_vec();
    long_line.extend((0..998).map(|i| b'a' + (i % 26) as u8));
    long_line.extend_from_slice(b"\r\nafter it\r\n");

    let utf8 = "Subject: =?UTF-8?B?w6nDqMOg?=\r\nContent-Type: text/plain; charset=utf-8\r\n\
                Content-Transfer-Encoding: 8bit\r\n\r\nGrüße aus Köln, ça va? Ωμέγα 日本語 🦀\r\n"
        .as_bytes()
        .to_vec();

    let mut big = b"Subject: one MiB\r\n\r\n".to_vec();
    let mut n = 0u32;
    while big.len() < 1024 * 1024 {
        // Lines of varied length, some starting with a dot.
        let line = if n.is_multiple_of(7) {
            format!(".line {n} {}\r\n", "x".repeat((n % 90) as usize))
        } else {
            format!("line {n} {}\r\n", "y".repeat((n * 13 % 200) as usize))
        };
        big.extend_from_slice(line.as_bytes());
        n += 1;
    }
    vec![
        ("dots", dots),
        ("998", long_line),
        ("utf8", utf8),
        ("1MiB", big),
    ]
}

/// Asserts that `stored` holds exactly the `sent` messages (as multisets).
pub(crate) fn assert_same_messages(mut stored: Vec<Vec<u8>>, sent: &[Vec<u8>], context: &str) {
    let mut sent = sent.to_vec();
    stored.sort();
    sent.sort();
    assert_eq!(
        stored.len(),
        sent.len(),
        "{context}: number of stored messages"
    );
    for (got, want) in stored.iter().zip(&sent) {
        if got != want {
            let at = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            panic!(
                "{context}: stored message differs at octet {at} (lengths {} and {}): \
                 got {:?}, want {:?}",
                got.len(),
                want.len(),
                String::from_utf8_lossy(&got[at.saturating_sub(20)..(at + 40).min(got.len())]),
                String::from_utf8_lossy(&want[at.saturating_sub(20)..(at + 40).min(want.len())]),
            );
        }
    }
}

/// Runs a peer command to completion (at most [`PEER_DEADLINE`]), `stdin` fed to it;
/// gives its exit status and its stdout+stderr.
pub(crate) fn run(mut command: Command, stdin: &[u8]) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("out");
    let out = File::create(&out_path).unwrap();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > PEER_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} ran longer than {PEER_DEADLINE:?}:\n{}",
                fs::read_to_string(&out_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    (status, fs::read_to_string(&out_path).unwrap_or_default())
}

/// Runs a command that must succeed (at most `deadline`, then killed by its id and the test
/// fails) and gives how long it ran, measured from the spawn to the exit as the wait returns
/// (no polling step: the load runs are a fraction of a second), and its stdout+stderr.
pub(crate) fn run_timed(mut command: Command, deadline: Duration) -> (Duration, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("out");
    let out = File::create(&out_path).unwrap();
    let description = format!("{command:?}");
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {description}: {e}"));
    let pid = child.id().to_string();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let overran = finished.recv_timeout(deadline).is_err();
        if overran {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        overran
    });
    let status = child.wait().expect("wait for the child");
    let elapsed = start.elapsed();
    let _ = done.send(());
    let output = fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        !watchdog.join().unwrap(),
        "{description} ran longer than {deadline:?}:\n{output}"
    );
    assert!(
        status.success(),
        "{description} failed ({status}):\n{output}"
    );
    (elapsed, output)
}

/// One load run of the comparisons: how many messages of what size over how many sessions,
/// reusing connections or with one per message, against one server; each client is timed
/// as a process (start-up included), at most `RUN_DEADLINE`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Load {
    pub(crate) messages: usize,
    pub(crate) size: usize,
    pub(crate) sessions: usize,
    pub(crate) reuse: bool,
}

impl Load {
    /// The longest one client's run may take.
    pub(crate) const RUN_DEADLINE: Duration = Duration::from_secs(240);

    /// Postfix's smtp-source (`-d`: the next message over the same connection); msg/s.
    pub(crate) fn smtp_source(&self, source: &Path, addr: SocketAddr) -> f64 {
        let mut c = Command::new(source);
        c.args(["-s", &self.sessions.to_string()])
            .args(["-m", &self.messages.to_string()])
            .args(["-l", &self.size.to_string(), "-M", "source.example.test"])
            .args(["-f", "load@localhost", "-t", "sink@localhost"]);
        if self.reuse {
            c.arg("-d");
        }
        c.arg(addr.to_string());
        let (elapsed, _) = run_timed(c, Self::RUN_DEADLINE);
        self.messages as f64 / elapsed.as_secs_f64()
    }

    /// The load generator (`smtp_client_tokio --count`), every message accepted; msg/s.
    pub(crate) fn ours(&self, addr: SocketAddr) -> f64 {
        let mut c = Command::new(example_bin("smtp_client_tokio"));
        c.args(["--server", &addr.to_string()])
            .args(["--from", "load@localhost", "--to", "sink@localhost"])
            .args(["--count", &self.messages.to_string()])
            .args(["--concurrency", &self.sessions.to_string()])
            .args(["--size", &self.size.to_string()]);
        if !self.reuse {
            c.arg("--new-connection-per-message");
        }
        let (elapsed, output) = run_timed(c, Self::RUN_DEADLINE);
        let all = format!("2xx {0}, 4xx 0, 5xx 0, connection errors 0", self.messages);
        assert!(output.contains(&all), "{output}");
        self.messages as f64 / elapsed.as_secs_f64()
    }
}

/// The CPU time (user and system, all threads) process `pid` has used so far, from
/// `/proc/<pid>/stat` in clock ticks of 1/100 s (Linux's `USER_HZ`); 0 where there is none.
/// Beside a run's wall time, it tells whether that process was the bottleneck (a
/// single-threaded server at 100% of one core is).
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses: state is the first,
    // utime and stime (fields 14 and 15 of the whole line) the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// "min-max" of some figures.
pub(crate) fn range(values: &[f64], digits: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.digits$}-{max:.digits$}")
}

/// The median of some figures.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Runs a peer command that must succeed; gives its output.
pub(crate) fn run_ok(command: Command, stdin: &[u8]) -> String {
    let description = format!("{command:?}");
    let (status, output) = run(command, stdin);
    assert!(
        status.success(),
        "{description} failed ({status}):\n{output}"
    );
    output
}

/// One reply as read from a raw socket: code and lines (text after the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawReply {
    /// The three-digit code.
    pub(crate) code: u16,
    /// Each line's text.
    pub(crate) lines: Vec<String>,
}

impl RawReply {
    /// All lines joined, for messages and `contains` checks.
    pub(crate) fn text(&self) -> String {
        self.lines.join(" | ")
    }
}

enum RawStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for RawStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            RawStream::Plain(s) => s.read(buf),
            RawStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for RawStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            RawStream::Plain(s) => s.write(buf),
            RawStream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            RawStream::Plain(s) => s.flush(),
            RawStream::Tls(s) => s.flush(),
        }
    }
}

/// A hand-driven SMTP client over a raw socket: writes exactly the bytes given, reads
/// replies one by one. For the bad-peer tests.
pub(crate) struct Raw {
    reader: BufReader<RawStream>,
}

impl Raw {
    /// Connects and reads the greeting.
    pub(crate) fn connect(addr: SocketAddr) -> Raw {
        Self::over(TcpStream::connect(addr).expect("connect"))
    }

    /// Reads the greeting on a connection made already (after a PROXY header, say).
    pub(crate) fn over(tcp: TcpStream) -> Raw {
        tcp.set_read_timeout(Some(SOCKET_TIMEOUT)).unwrap();
        let mut raw = Raw {
            reader: BufReader::new(RawStream::Plain(tcp)),
        };
        let greeting = raw.reply();
        assert_eq!(greeting.code, 220, "greeting {greeting:?}");
        raw
    }

    /// Runs a TLS handshake on a connection made already (implicit TLS; any certificate
    /// accepted), then reads the greeting.
    pub(crate) fn over_tls(tcp: TcpStream) -> Raw {
        tcp.set_read_timeout(Some(SOCKET_TIMEOUT)).unwrap();
        let plain = Raw {
            reader: BufReader::new(RawStream::Plain(tcp)),
        };
        let mut raw = plain.start_tls();
        let greeting = raw.reply();
        assert_eq!(greeting.code, 220, "greeting {greeting:?}");
        raw
    }

    /// Writes `bytes` as one write (one packet on loopback).
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        let stream = self.reader.get_mut();
        stream.write_all(bytes).expect("write");
        stream.flush().expect("flush");
    }

    /// Reads one whole reply; panics on a malformed one or on timeout.
    pub(crate) fn reply(&mut self) -> RawReply {
        self.try_reply()
            .unwrap_or_else(|| panic!("connection closed while waiting for a reply"))
    }

    /// Reads one whole reply; `None` when the server closed the connection first.
    pub(crate) fn try_reply(&mut self) -> Option<RawReply> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) if lines.is_empty() => return None,
                Ok(0) => panic!("connection closed in a multi-line reply"),
                Ok(_) => {}
                Err(e) => panic!("reading a reply: {e}"),
            }
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            assert!(line.len() >= 5, "short reply line {line:?}");
            let code: u16 = line[..3].parse().expect("reply code");
            let last = &line[3..4] == " ";
            lines.push(line[4..line.len() - 2].to_owned());
            if last {
                return Some(RawReply { code, lines });
            }
        }
    }

    /// Sends `command` (CRLF added) and reads its reply.
    pub(crate) fn command(&mut self, command: &str) -> RawReply {
        self.send(format!("{command}\r\n").as_bytes());
        self.reply()
    }

    /// True when nothing is buffered from the server beyond what was read.
    pub(crate) fn nothing_buffered(&self) -> bool {
        self.reader.buffer().is_empty()
    }

    /// Runs the TLS handshake (any certificate accepted: the test servers' are self-signed).
    pub(crate) fn start_tls(self) -> Raw {
        assert!(
            self.nothing_buffered(),
            "plaintext after the STARTTLS reply"
        );
        let RawStream::Plain(tcp) = self.reader.into_inner() else {
            panic!("already TLS");
        };
        let config: Arc<rustls::ClientConfig> =
            client_config(&ClientTrust::InsecureAcceptAnyCertificate).unwrap();
        let conn = rustls::ClientConnection::new(config, server_name("localhost").unwrap())
            .expect("TLS client");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).expect("TLS handshake");
        }
        Raw {
            reader: BufReader::new(RawStream::Tls(Box::new(tls))),
        }
    }

    /// Reads until the server closes the connection; gives what came.
    pub(crate) fn read_to_close(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        rest
    }
}

/// Polls `condition` every 20 ms for at most `deadline`.
pub(crate) fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A self-signed certificate and key for `localhost` (and 127.0.0.1) written as PEM files
/// into `dir`, for peers that need files (aiosmtpd, `--cert`/`--key`); clients trust the
/// certificate with `--ca`.
pub(crate) fn write_localhost_identity(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    fs::write(&cert, generated.cert.pem()).unwrap();
    fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    (cert, key)
}
