//! Helpers of the POP3 interop tests: the example binaries as child processes, peers that may
//! be missing, the message corpus, a Dovecot in the foreground, raw POP3 conversations.

#![allow(dead_code)] // each test binary uses its own subset

pub(crate) mod dovecot;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An example binary built by `cargo test` (`target/<profile>/examples/<name>`).
pub(crate) fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test -p examples` builds the examples (a `--test` filter alone does not)",
        path.display()
    );
    path
}

/// Whether a peer program can run; when it cannot, the test is skipped with a message, unless
/// `MAIL_INTEROP=required` (CI), where a missing peer fails the test.
pub(crate) fn peer_available(program: &str, probe: &[&str]) -> bool {
    let found = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        if std::env::var("MAIL_INTEROP").as_deref() == Ok("required") {
            panic!("{program} is not installed, and MAIL_INTEROP=required");
        }
        eprintln!(
            "SKIPPED: {program} is not installed (set MAIL_INTEROP=required to fail instead)"
        );
    }
    found
}

/// Runs a command to completion within `limit`, killing it after.
pub(crate) fn run(command: &mut Command, limit: Duration) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {command:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.expect("waiting for the child"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("{command:?} did not finish within {limit:?}");
        }
    }
}

/// Runs a command that must succeed; returns its stdout.
pub(crate) fn run_ok(command: &mut Command, limit: Duration) -> Vec<u8> {
    let output = run(command, limit);
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// One of our POP3 servers, running as a child process; killed when dropped.
pub(crate) struct Pop3Server {
    child: Child,
    /// Plain port (STLS).
    pub(crate) plain: SocketAddr,
    /// Implicit TLS port.
    pub(crate) implicit: SocketAddr,
}

impl Pop3Server {
    /// Starts `pop3_server_<flavour>` on loopback ports chosen by the system, serving
    /// `maildir`, with the test certificate and `extra` flags.
    pub(crate) fn start(
        flavour: &str,
        maildir: &Path,
        cert: &TestCert,
        users: &[&str],
        extra: &[&str],
    ) -> Self {
        let mut command = Command::new(example(&format!("pop3_server_{flavour}")));
        command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--tls-listen",
                "127.0.0.1:0",
                "--hostname",
                "localhost",
            ])
            .arg("--maildir")
            .arg(maildir)
            .arg("--cert")
            .arg(&cert.cert)
            .arg("--key")
            .arg(&cert.key)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for user in users {
            command.args(["--user", user]);
        }
        let mut child = command.spawn().expect("starting the server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let (mut plain, mut implicit) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while plain.is_none() || implicit.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("the server did not announce its ports");
            let addr =
                || -> SocketAddr { line.split_whitespace().nth(3).unwrap().parse().unwrap() };
            if line.starts_with("pop3 listening on ") {
                plain = Some(addr());
            } else if line.starts_with("pop3s listening on ") {
                implicit = Some(addr());
            }
        }
        Self {
            child,
            plain: plain.unwrap(),
            implicit: implicit.unwrap(),
        }
    }

    /// Whether the process still runs.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to end by itself, at most `limit`.
    pub(crate) fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Pop3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A certificate for `localhost` and `127.0.0.1` (not a CA: webpki refuses a CA as end
/// entity), written as PEM files.
pub(crate) struct TestCert {
    /// The certificate (also the clients' CA file).
    pub(crate) cert: PathBuf,
    /// Its private key.
    pub(crate) key: PathBuf,
}

impl TestCert {
    /// Generates one into `dir`.
    pub(crate) fn generate(dir: &Path) -> Self {
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("rcgen");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        Self { cert, key }
    }
}

/// The messages every download test serves: dot lines, a 998-octet line, 8-bit text and a
/// 1 MiB body, each stored with CRLF and with LF line ends (as other delivery agents write).
pub(crate) fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut messages: Vec<(&str, Vec<u8>)> = Vec::new();
    messages.push((
        "dots",
        b"Subject: dots\n\n.\n..\n.leading dot\n...\nend .\n.\n".to_vec(),
    ));
    let mut long = b"Subject: long line\n\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 998));
    long.extend_from_slice(b"\nafter\n");
    messages.push(("long-line", long));
    messages.push((
        "8bit",
        "Subject: 8bit\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGr\u{fc}\u{df}e, \u{e9}t\u{e9}, \u{65e5}\u{672c}, \u{1f600}\n\u{ff}\n"
            .as_bytes()
            .to_vec(),
    ));
    let mut big = b"Subject: 1 MiB\n\n".to_vec();
    let mut line = 0u32;
    while big.len() < 1024 * 1024 {
        // Lines of varied length, some starting with a dot.
        let text = format!(
            "{}line {line} {}\n",
            if line.is_multiple_of(7) { "." } else { "" },
            "y".repeat((line % 90) as usize)
        );
        big.extend_from_slice(text.as_bytes());
        line += 1;
    }
    messages.push(("1mib", big));
    let mut corpus = Vec::new();
    for (name, lf) in messages {
        corpus.push((format!("{name}-lf"), lf.clone()));
        corpus.push((format!("{name}-crlf"), to_crlf(&lf)));
    }
    corpus
}

/// The wire form: every line ending in CRLF (bare LF counted as CRLF, RFC 1939 section 11).
pub(crate) fn to_crlf(stored: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored.len() + stored.len() / 16);
    let mut previous = 0u8;
    for &b in stored {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Stores `messages` in the Maildir `dir` (`new/` for even positions, `cur/` with flags for
/// odd ones), named so that the listing order is the given order. Returns the wire forms.
pub(crate) fn fill_maildir(dir: &Path, messages: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let mut wire = Vec::new();
    for (i, (name, content)) in messages.iter().enumerate() {
        let base = format!("{}.M{i}P1.{name}", 1_700_000_000 + i);
        let path = if i % 2 == 0 {
            dir.join("new").join(base)
        } else {
            dir.join("cur").join(format!("{base}:2,S"))
        };
        std::fs::write(path, content).unwrap();
        wire.push(to_crlf(content));
    }
    wire
}

/// The messages of a Maildir (`new/` and `cur/`), sorted by content.
pub(crate) fn maildir_contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut contents = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if !entry.file_name().to_string_lossy().starts_with('.') {
                contents.push(std::fs::read(entry.path()).unwrap());
            }
        }
    }
    contents.sort();
    contents
}

/// Counts the messages of a Maildir.
pub(crate) fn maildir_count(dir: &Path) -> usize {
    maildir_contents(dir).len()
}

/// A raw POP3 conversation over plain TCP, line by line, for misbehaving clients.
pub(crate) struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    /// Connects and reads the greeting.
    pub(crate) fn connect(addr: SocketAddr) -> (Self, String) {
        Self::over(TcpStream::connect(addr).unwrap())
    }

    /// Reads the greeting on a connection made already (after a PROXY header, say).
    pub(crate) fn over(tcp: TcpStream) -> (Self, String) {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Self {
            reader: BufReader::new(tcp),
        };
        let greeting = raw.line();
        (raw, greeting)
    }

    /// Writes `bytes` as they are.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Sends a command line and returns the first line of the answer.
    pub(crate) fn command(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.line()
    }

    /// Reads one line (CRLF stripped); empty at end of stream.
    pub(crate) fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned()
    }

    /// Reads a multi-line answer body up to the terminating `.`.
    pub(crate) fn multiline(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line == "." || line.is_empty() && self.at_eof() {
                return lines;
            }
            lines.push(line);
        }
    }

    fn at_eof(&mut self) -> bool {
        self.reader.fill_buf().map(|b| b.is_empty()).unwrap_or(true)
    }

    /// Closes the connection abruptly (no QUIT).
    pub(crate) fn drop_connection(self) {
        let _ = self.reader.get_ref().shutdown(std::net::Shutdown::Both);
    }

    /// Reads until the peer closes; returns what came.
    pub(crate) fn read_to_end(mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
        rest
    }
}

/// Bound of one peer or client run.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// The account every test serves.
pub(crate) const ALICE: &str = "alice:wonder land";

/// Where Python's poplib saves what it downloads (see `poplib_client.py`).
pub(crate) enum PoplibStore<'a> {
    /// Keeps nothing: the download alone.
    Nothing,
    /// Saves every message into this Maildir, durably, as a fetching client does.
    Maildir(&'a Path),
}

/// Runs `poplib_client.py` (log in as `mode` says, RETR every message, compare each with the
/// file `<expected>/<n>` unless `expected` is `-`); returns (messages, octets, seconds).
pub(crate) fn poplib(
    mode: &str,
    addr: SocketAddr,
    user: &str,
    cert: &TestCert,
    expected: &str,
    store: PoplibStore<'_>,
) -> (usize, u64, f64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pop3_support/poplib_client.py");
    let (name, password) = user.split_once(':').unwrap();
    let mut command = Command::new("python3");
    command
        .arg(script)
        .args([mode, "127.0.0.1", &addr.port().to_string(), name, password])
        .arg(&cert.cert)
        .arg(expected);
    if let PoplibStore::Maildir(dir) = store {
        command.arg(dir);
    }
    let text = String::from_utf8(run_ok(&mut command, LIMIT)).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "poplib printed {text:?}");
    (
        fields[0].parse().unwrap(),
        fields[1].parse().unwrap(),
        fields[2].parse().unwrap(),
    )
}

/// Runs one of our clients (`pop3_client_<flavour>`) downloading into `out`; returns its
/// summary line.
pub(crate) fn our_client(flavour: &str, args: &[&str], out: &Path) -> String {
    let stdout = run_ok(
        Command::new(example(&format!("pop3_client_{flavour}")))
            .args(args)
            .arg("--out")
            .arg(out)
            .env("RUST_LOG", "warn"),
        LIMIT,
    );
    String::from_utf8(stdout).unwrap().trim().to_owned()
}
