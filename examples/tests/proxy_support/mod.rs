//! What the PROXY protocol, drain and HAProxy tests share: connections from a chosen loopback
//! address, PROXY headers, signals by process id, and the example servers started with the
//! flags of a load-balanced instance (log in a file, ports read from it).
//!
//! Every wait is bounded: sockets time out, loops have deadlines.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mail_wire::proxy::{ProxyHeader, Transport};

use crate::smtp_support::{ALICE, Proc, example_bin, logged_address};

/// The one trusted proxy of the tests: HAProxy, and the tests themselves when they play it.
pub(crate) const TRUSTED: &str = "127.0.0.1/32";

/// The flags of an instance behind a balancer on 127.0.0.1 (header within 1 s: the tests that
/// wait for the timeout stay short).
pub(crate) const PROXY_FLAGS: [&str; 5] = [
    "--proxy-protocol",
    "--proxy-from",
    TRUSTED,
    "--proxy-timeout",
    "1",
];

/// The POP3 account of these tests (`USER:PASS`).
pub(crate) const POP3_ALICE: &str = "alice:wonder land";

/// A TCP connection to `to` from the local address `source` (another loopback address such
/// as 127.0.0.2 tells the client apart from the balancer on 127.0.0.1). std cannot bind
/// before connecting; tokio's `TcpSocket` can.
pub(crate) fn connect_from(source: IpAddr, to: SocketAddr) -> TcpStream {
    try_connect_from(source, to).unwrap_or_else(|e| panic!("connecting from {source} to {to}: {e}"))
}

/// [`connect_from`], or the error (nothing listens yet, say). Within 5 s.
pub(crate) fn try_connect_from(source: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tcp = runtime.block_on(async {
        let socket = match source {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(source, 0))?;
        let tcp = tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let tcp = tcp.into_std()?;
        tcp.set_nonblocking(false)?;
        Ok::<_, io::Error>(tcp)
    })?;
    tcp.set_read_timeout(Some(Duration::from_secs(15)))?;
    Ok(tcp)
}

/// A TCP connection to `to` from 127.0.0.1 (the trusted proxy's address).
pub(crate) fn connect(to: SocketAddr) -> TcpStream {
    connect_from("127.0.0.1".parse().unwrap(), to)
}

fn proxied(source: &str, destination: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        transport: Transport::Stream,
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
    }
}

/// A version 1 header for a client at `source` that connected to `destination`.
pub(crate) fn v1(source: &str, destination: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    proxied(source, destination).write_v1(&mut wire).unwrap();
    wire
}

/// A version 2 header for a client at `source` that connected to `destination`.
pub(crate) fn v2(source: &str, destination: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    proxied(source, destination).write_v2(&mut wire).unwrap();
    wire
}

/// A version 2 `LOCAL` header (a balancer's health check).
pub(crate) fn v2_local() -> Vec<u8> {
    let mut wire = Vec::new();
    ProxyHeader::Local.write_v2(&mut wire).unwrap();
    wire
}

/// Sends signal `name` (`TERM`, `KILL`) to the process `pid`: by its id, never by name.
pub(crate) fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

/// What the server sent until it closed the connection, and after how long; panics if it
/// keeps it open past `limit`. A reset counts as closed (a server that closes with the
/// client's octets unread resets the connection).
pub(crate) fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            start.elapsed() < limit,
            "the server kept the connection open for {limit:?}; it sent {:?}",
            String::from_utf8_lossy(&received)
        );
        match tcp.read(&mut buf) {
            Ok(0) => return (received, start.elapsed()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (received, start.elapsed()),
        }
    }
}

/// One of the example servers (SMTP or POP3) as a child process, its log in a file.
pub(crate) struct Instance {
    /// The process.
    pub(crate) proc: Proc,
    /// The plain listener (STARTTLS / STLS).
    pub(crate) addr: SocketAddr,
    /// The implicit TLS listener.
    pub(crate) tls_addr: SocketAddr,
}

impl Instance {
    /// Starts `smtp_server_<flavour>` delivering into `root`, with its log in
    /// `dir/<name>.log`, host name `<name>.test` (so a `Received:` line tells the instances
    /// apart), local domain `localhost`, and `extra` flags. Ready once it greets (after a
    /// `LOCAL` header when `extra` asks for the PROXY protocol).
    pub(crate) fn smtp(flavour: &str, dir: &Path, name: &str, root: &Path, extra: &[&str]) -> Self {
        let binary = format!("smtp_server_{flavour}");
        let mut command = Command::new(example_bin(&binary));
        command
            .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
            .args([
                "--hostname",
                &format!("{name}.test"),
                "--domain",
                "localhost",
            ])
            .arg("--user")
            .arg(format!("{}:{}", ALICE.0, ALICE.1))
            .arg("--maildir")
            .arg(root)
            .args(extra)
            .env("RUST_LOG", "info");
        let mut proc = Proc::spawn(command, dir.join(format!("{name}.log")), name);
        let addr = logged_address(&mut proc, "listening (SMTP, STARTTLS)");
        let tls_addr = logged_address(&mut proc, "listening (implicit TLS)");
        let instance = Self {
            proc,
            addr,
            tls_addr,
        };
        instance.wait_ready(extra, b"220 ");
        instance
    }

    /// Starts `pop3_server_<flavour>` over `root` with the account [`POP3_ALICE`], the
    /// certificate `cert`/`key`, its log in `dir/<name>.log`, plaintext logins allowed, and
    /// `extra` flags.
    pub(crate) fn pop3(
        flavour: &str,
        dir: &Path,
        name: &str,
        root: &Path,
        (cert, key): (&Path, &Path),
        extra: &[&str],
    ) -> Self {
        let binary = format!("pop3_server_{flavour}");
        let mut command = Command::new(example_bin(&binary));
        command
            .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
            .args(["--hostname", "localhost", "--user", POP3_ALICE])
            .arg("--insecure-auth")
            .arg("--maildir")
            .arg(root)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .args(extra)
            .env("RUST_LOG", "info");
        let mut proc = Proc::spawn(command, dir.join(format!("{name}.log")), name);
        let addr = announced(&mut proc, "pop3 listening on ");
        let tls_addr = announced(&mut proc, "pop3s listening on ");
        let instance = Self {
            proc,
            addr,
            tls_addr,
        };
        instance.wait_ready(extra, b"+OK ");
        instance
    }

    /// Waits until the server greets with `greeting` (at most 20 s).
    fn wait_ready(&self, extra: &[&str], greeting: &[u8]) {
        let proxied = extra.contains(&"--proxy-protocol");
        let start = Instant::now();
        loop {
            if let Ok(mut tcp) = TcpStream::connect(self.addr) {
                if proxied {
                    io::Write::write_all(&mut tcp, &v2_local()).unwrap();
                }
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut first = vec![0; greeting.len()];
                if tcp.read_exact(&mut first).is_ok() && first == greeting {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the server on {} did not greet:\n{}",
                self.addr,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The server's log so far.
    pub(crate) fn log(&self) -> String {
        self.proc.log()
    }

    /// The log lines holding every one of `parts`.
    pub(crate) fn log_lines_with(&self, parts: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| parts.iter().all(|part| line.contains(part)))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (at most 5 s) until the log holds a line with every one of `parts`.
    pub(crate) fn wait_for_log(&self, parts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log_lines_with(parts).into_iter().next() {
                return line;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no log line with {parts:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The address a POP3 server printed after `prefix` (`pop3 listening on ADDR (...)`).
fn announced(proc: &mut Proc, prefix: &str) -> SocketAddr {
    let start = Instant::now();
    loop {
        proc.assert_running();
        let found = proc.log().lines().find_map(|line| {
            line.strip_prefix(prefix)?
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
            "the POP3 server did not announce {prefix:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The messages of the Maildir `dir` (`new/` and `cur/`), whole files.
pub(crate) fn maildir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            // A file removed meanwhile (a POP3 deletion) is simply not listed.
            if let Ok(content) = std::fs::read(&path) {
                files.push((path, content));
            }
        }
    }
    files
}

/// The `Received:` line of a stored message (the server's trace line, second on top).
pub(crate) fn received_line(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .lines()
        .find(|line| line.starts_with("Received: "))
        .unwrap_or_else(|| {
            panic!(
                "no Received: line in {:?}",
                String::from_utf8_lossy(message)
            )
        })
        .to_owned()
}
