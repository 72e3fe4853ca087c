//! The PROXY protocol on the servers' listeners (HAProxy, "The PROXY protocol, Versions 1 &
//! 2"): behind a load balancer, the socket's peer is the balancer; the header it sends first
//! names the real client, for the logs and the SMTP `Received:` line.
//!
//! `mail_wire::proxy` parses the header without I/O; this module keeps its caller's rules
//! (its module docs, "The caller's rules") once for both runtimes:
//!
//! 1. Only peers in `--proxy-from` may connect at all ([`ProxyPolicy::trusts`]): from any
//!    other address the connection is closed at once, nothing sent, and logged. A client that
//!    could send a header could claim any address (section 5 of the specification).
//! 2. The header is read before the greeting, within `--proxy-timeout` (whole, however the
//!    proxy trickles it). A malformed header, a missing one (the first octets are not a
//!    header), the end of the stream or the timeout: closed with nothing answered.
//! 3. [`ProxyHeader::Proxied`] names the client; `Local` (the balancer's health checks) and
//!    `Unknown` keep the socket's own peer, as the specification says.
//! 4. Octets read past the header belong to the protocol: they go to the machine's
//!    `receive` untouched ([`Admitted::early`]). On an implicit-TLS listener the TLS
//!    handshake follows the header, and the TLS library reads the socket itself: there
//!    [`HeaderReader`] reads exactly up to the header's end and never past it.
//!
//! [`HeaderReader`] is that logic with no I/O; [`admit_tokio`] and [`admit_blocking`] are the
//! two thin readers over it.

pub mod cidr;

use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clap::Args;
use mail_wire::proxy::{Progress, ProxyError, ProxyHeader, ProxyParser, Version};

pub use cidr::{Cidr, CidrError};

/// The PROXY protocol flags of the servers: `--proxy-protocol`, `--proxy-from`,
/// `--proxy-timeout`.
#[derive(Debug, Clone, Args)]
pub struct ProxyArgs {
    /// Expect a PROXY protocol header (v1 or v2) before anything else on every connection,
    /// and take the client's address from it; only peers in --proxy-from may connect
    #[arg(long, requires = "proxy_from")]
    pub proxy_protocol: bool,
    /// A trusted proxy's network, e.g. 127.0.0.1/32 or 2001:db8::/64 (repeatable); with
    /// --proxy-protocol, a connection from any other address is closed at once
    #[arg(long = "proxy-from", value_name = "CIDR", requires = "proxy_protocol")]
    pub proxy_from: Vec<Cidr>,
    /// Seconds a trusted proxy has to send the whole header
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub proxy_timeout: u64,
}

/// How long a proxy may take over its header unless `--proxy-timeout` says otherwise: a few
/// seconds, and more than the 3 s the specification suggests to cover a TCP retransmission.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl ProxyArgs {
    /// The policy the flags ask for; `None` without `--proxy-protocol` (peers connect
    /// directly and no header is expected).
    pub fn policy(&self) -> Option<ProxyPolicy> {
        self.proxy_protocol.then(|| {
            ProxyPolicy::new(
                self.proxy_from.clone(),
                Duration::from_secs(self.proxy_timeout),
            )
        })
    }
}

/// Who may send a PROXY header, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyPolicy {
    trusted: Vec<Cidr>,
    timeout: Duration,
}

impl ProxyPolicy {
    /// Headers from peers in `trusted` only, each within `timeout`.
    pub fn new(trusted: Vec<Cidr>, timeout: Duration) -> Self {
        Self { trusted, timeout }
    }

    /// Whether `peer` is one of the trusted proxies.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(peer))
    }

    /// How long a proxy may take over its header.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn check(&self, peer: SocketAddr) -> Result<(), Refusal> {
        if self.trusts(peer.ip()) {
            Ok(())
        } else {
            Err(Refusal::Untrusted)
        }
    }
}

/// For the log: `127.0.0.1/32, 2001:db8::/64 (header within 5s)`.
impl fmt::Display for ProxyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, network) in self.trusted.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{network}")?;
        }
        write!(f, " (header within {:?})", self.timeout)
    }
}

/// A connection let in: who the client is, and what it sent after the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The client: the header's source when it named one, else the socket's peer.
    pub client: SocketAddr,
    /// The proxy (the socket's peer) when a header named another client.
    pub via: Option<SocketAddr>,
    /// Octets read past the header: the protocol's, for the machine's `receive` before
    /// anything else (an SMTP client may have pipelined early; normally empty).
    pub early: Vec<u8>,
}

impl Admitted {
    /// A connection without the PROXY protocol: the peer is the client.
    pub fn direct(peer: SocketAddr) -> Self {
        Self {
            client: peer,
            via: None,
            early: Vec::new(),
        }
    }
}

/// Why a connection was closed without a word. For the log.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The peer is not in `--proxy-from`.
    #[error("not a trusted proxy (--proxy-from)")]
    Untrusted,
    /// The first octets are not a valid header (or not a header at all).
    #[error("bad PROXY header: {0}")]
    Header(#[from] ProxyError),
    /// The stream ended before the header was complete (a TCP health check, say).
    #[error("closed before the PROXY header was complete ({0} octets came)")]
    Closed(usize),
    /// No complete header within `--proxy-timeout`.
    #[error("no complete PROXY header within {0:?}")]
    Timeout(Duration),
    /// The socket failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] io::Error),
}

/// Reads a PROXY header off a connection, whatever does the reading: the reader reads into
/// [`space`](Self::space) and reports with [`filled`](Self::filled) until it answers. It
/// holds at most one header and one read (the parser's bounds), and a header is decided
/// within [`ProxyParser::max_header_len`] octets, so a reading loop ends even if the peer
/// never stops sending.
#[derive(Debug)]
pub struct HeaderReader {
    parser: ProxyParser,
    peer: SocketAddr,
    buf: Vec<u8>,
    /// How much the next read may take.
    want: usize,
    /// Never read past the header's end (TLS follows it).
    exact: bool,
    received: usize,
}

impl HeaderReader {
    /// A reader for a connection from `peer`. `exact`: reads never go past the header's end
    /// (for implicit TLS, whose handshake reads the socket itself); otherwise a read may take
    /// the protocol's first octets too, and [`Admitted::early`] hands them on.
    pub fn new(peer: SocketAddr, exact: bool) -> Self {
        let parser = ProxyParser::new();
        let max = parser.max_header_len();
        let mut reader = Self {
            parser,
            peer,
            buf: vec![0; max],
            want: max,
            exact,
            received: 0,
        };
        if let Ok(Progress::NeedMore { at_least, .. }) = reader.parser.feed(&[]) {
            reader.plan(at_least);
        }
        reader
    }

    /// Where the next read goes: never empty, at most one header long.
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[..self.want]
    }

    /// The last read put `n` octets into [`space`](Self::space) (0: the stream ended).
    /// `Ok(None)`: read again.
    pub fn filled(&mut self, n: usize) -> Result<Option<Admitted>, Refusal> {
        if n == 0 {
            return Err(Refusal::Closed(self.received));
        }
        self.received += n;
        match self.parser.feed(&self.buf[..n])? {
            Progress::NeedMore { at_least, .. } => {
                self.plan(at_least);
                Ok(None)
            }
            Progress::Done {
                header,
                version,
                consumed,
            } => Ok(Some(self.admitted(header, version, &self.buf[consumed..n]))),
        }
    }

    fn plan(&mut self, at_least: usize) {
        self.want = if self.exact {
            at_least.clamp(1, self.buf.len())
        } else {
            self.buf.len()
        };
    }

    fn admitted(&self, header: ProxyHeader, version: Version, early: &[u8]) -> Admitted {
        let source = header.source();
        tracing::debug!(proxy = %self.peer, ?version, ?header, "PROXY header");
        Admitted {
            client: source.unwrap_or(self.peer),
            via: source.map(|_| self.peer),
            early: early.to_vec(),
        }
    }
}

/// Lets a connection in, or says why not (already logged): without a policy the peer is the
/// client; with one, see the [module docs](self). Reads with tokio. `exact`: TLS follows the
/// header (see [`HeaderReader::new`]).
pub async fn admit_tokio(
    policy: Option<&ProxyPolicy>,
    tcp: &mut tokio::net::TcpStream,
    peer: SocketAddr,
    exact: bool,
) -> Result<Admitted, Refusal> {
    use tokio::io::AsyncReadExt;
    let Some(policy) = policy else {
        return Ok(Admitted::direct(peer));
    };
    let read = async {
        policy.check(peer)?;
        let mut reader = HeaderReader::new(peer, exact);
        loop {
            let n = tcp.read(reader.space()).await?;
            if let Some(admitted) = reader.filled(n)? {
                return Ok(admitted);
            }
        }
    };
    let result = tokio::time::timeout(policy.timeout, read)
        .await
        .unwrap_or(Err(Refusal::Timeout(policy.timeout)));
    logged(peer, result)
}

/// [`admit_tokio`] with blocking reads: each read gets the time left until the header's
/// deadline, so a trickling proxy cannot stretch it. Leaves the socket without a read
/// timeout.
pub fn admit_blocking(
    policy: Option<&ProxyPolicy>,
    tcp: &mut std::net::TcpStream,
    peer: SocketAddr,
    exact: bool,
) -> Result<Admitted, Refusal> {
    let Some(policy) = policy else {
        return Ok(Admitted::direct(peer));
    };
    let deadline = Instant::now() + policy.timeout;
    let mut read = || {
        policy.check(peer)?;
        let mut reader = HeaderReader::new(peer, exact);
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
                .ok_or(Refusal::Timeout(policy.timeout))?;
            tcp.set_read_timeout(Some(left))?;
            let n = match tcp.read(reader.space()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Refusal::Timeout(policy.timeout));
                }
                Err(e) => return Err(e.into()),
            };
            if let Some(admitted) = reader.filled(n)? {
                return Ok(admitted);
            }
        }
    };
    let result = read().and_then(|admitted| {
        tcp.set_read_timeout(None)?;
        Ok(admitted)
    });
    logged(peer, result)
}

/// Logs a refusal: a stray client or a misconfigured proxy is worth a warning; a connection
/// closed before any octet is what a balancer's plain TCP check does, so it is only noted.
fn logged(peer: SocketAddr, result: Result<Admitted, Refusal>) -> Result<Admitted, Refusal> {
    match &result {
        Ok(_) => {}
        Err(refusal @ Refusal::Closed(0)) => tracing::info!(%peer, %refusal, "connection closed"),
        Err(refusal) => tracing::warn!(%peer, %refusal, "connection refused"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_wire::proxy::Transport;

    fn peer() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    fn proxied(source: &str, destination: &str) -> ProxyHeader {
        ProxyHeader::Proxied {
            transport: Transport::Stream,
            source: source.parse().unwrap(),
            destination: destination.parse().unwrap(),
        }
    }

    /// Feeds `wire` to a reader in reads of at most `chunk` octets, as a socket would hand
    /// them; gives the outcome and the octets left unread on the "socket".
    fn read_all(wire: &[u8], chunk: usize, exact: bool) -> (Result<Admitted, Refusal>, Vec<u8>) {
        let mut reader = HeaderReader::new(peer(), exact);
        let mut at = 0;
        // Bounded: every round takes at least one octet or ends.
        for _ in 0..=wire.len() {
            let space = reader.space();
            assert!(!space.is_empty());
            let n = space.len().min(chunk).min(wire.len() - at);
            space[..n].copy_from_slice(&wire[at..at + n]);
            at += n;
            match reader.filled(n) {
                Ok(None) => {}
                Ok(Some(admitted)) => return (Ok(admitted), wire[at..].to_vec()),
                Err(refusal) => return (Err(refusal), wire[at..].to_vec()),
            }
        }
        panic!("the reader never decided");
    }

    #[test]
    fn v1_and_v2_name_the_client_and_pass_on_what_follows() {
        let header = proxied("192.0.2.10:56324", "198.51.100.1:25");
        for version in [1, 2] {
            let mut wire = Vec::new();
            match version {
                1 => header.write_v1(&mut wire).unwrap(),
                _ => header.write_v2(&mut wire).unwrap(),
            }
            let header_len = wire.len();
            wire.extend_from_slice(b"EHLO client.example\r\n");
            for chunk in [1, 2, 7, 16, 1024, 4096] {
                let (admitted, unread) = read_all(&wire, chunk, false);
                let admitted = admitted.unwrap();
                assert_eq!(admitted.client, "192.0.2.10:56324".parse().unwrap());
                assert_eq!(admitted.via, Some(peer()));
                // What was read past the header and what is still unread make up the rest.
                let mut rest = admitted.early.clone();
                rest.extend_from_slice(&unread);
                assert_eq!(rest, b"EHLO client.example\r\n", "v{version} chunk {chunk}");

                // Exact reads stop at the header's end: the rest stays in the socket.
                let (admitted, unread) = read_all(&wire, chunk, true);
                assert!(
                    admitted.unwrap().early.is_empty(),
                    "v{version} chunk {chunk}"
                );
                assert_eq!(unread, &wire[header_len..], "v{version} chunk {chunk}");
            }
        }
    }

    #[test]
    fn local_and_unknown_keep_the_socket_peer() {
        let mut local = Vec::new();
        ProxyHeader::Local.write_v2(&mut local).unwrap();
        for wire in [local, b"PROXY UNKNOWN\r\n".to_vec()] {
            let (admitted, _) = read_all(&wire, 4096, false);
            assert_eq!(admitted.unwrap(), Admitted::direct(peer()));
        }
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        let cases: [(&[u8], ProxyError); 3] = [
            (b"EHLO client.example\r\n", ProxyError::NotProxy),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
                ProxyError::V1Syntax,
            ),
            (
                b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
                ProxyError::V1Address,
            ),
        ];
        for (wire, expected) in cases {
            for chunk in [1, 4096] {
                let (outcome, _) = read_all(wire, chunk, false);
                assert!(
                    matches!(outcome, Err(Refusal::Header(error)) if error == expected),
                    "{wire:?}: {outcome:?}"
                );
            }
        }
        // A v1 line that never ends is refused within its 107 octets.
        let endless = vec![b'P'; 1]
            .into_iter()
            .chain(b"ROXY ".iter().copied())
            .chain(std::iter::repeat_n(b'1', 5000))
            .collect::<Vec<_>>();
        let (outcome, unread) = read_all(&endless, 4096, true);
        assert!(matches!(
            outcome,
            Err(Refusal::Header(ProxyError::V1TooLong))
        ));
        assert!(
            unread.len() > 4000,
            "exact reads stop early: {}",
            unread.len()
        );
    }

    #[test]
    fn the_end_of_the_stream_before_the_header_is_refused() {
        let mut reader = HeaderReader::new(peer(), false);
        assert!(matches!(reader.filled(0), Err(Refusal::Closed(0))));
        let mut reader = HeaderReader::new(peer(), false);
        reader.space()[..6].copy_from_slice(b"PROXY ");
        assert!(matches!(reader.filled(6), Ok(None)));
        assert!(matches!(reader.filled(0), Err(Refusal::Closed(6))));
    }

    #[test]
    fn trust_follows_the_networks() {
        let policy = ProxyPolicy::new(
            vec![
                "127.0.0.1/32".parse().unwrap(),
                "2001:db8::/64".parse().unwrap(),
            ],
            DEFAULT_TIMEOUT,
        );
        assert!(policy.trusts("127.0.0.1".parse().unwrap()));
        assert!(policy.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!policy.trusts("127.0.0.3".parse().unwrap()));
        assert!(policy.trusts("2001:db8::99".parse().unwrap()));
        assert!(!policy.trusts("2001:db8:1::".parse().unwrap()));
        assert!(
            !ProxyPolicy::new(Vec::new(), DEFAULT_TIMEOUT).trusts("127.0.0.1".parse().unwrap())
        );
    }

    #[derive(Debug, clap::Parser)]
    struct Demo {
        #[command(flatten)]
        proxy: ProxyArgs,
    }

    #[test]
    fn flags() {
        use clap::Parser;
        let parse = |args: &[&str]| Demo::try_parse_from([&["demo"], args].concat());
        assert_eq!(parse(&[]).unwrap().proxy.policy(), None);
        let demo = parse(&[
            "--proxy-protocol",
            "--proxy-from",
            "127.0.0.1/32",
            "--proxy-from",
            "::1",
            "--proxy-timeout",
            "2",
        ])
        .unwrap();
        let policy = demo.proxy.policy().unwrap();
        assert_eq!(policy.timeout(), Duration::from_secs(2));
        assert!(policy.trusts("::1".parse().unwrap()));
        assert_eq!(
            parse(&["--proxy-protocol", "--proxy-from", "10.0.0.0/8"])
                .unwrap()
                .proxy
                .policy()
                .unwrap()
                .timeout(),
            DEFAULT_TIMEOUT
        );
        // Each flag needs the other; a bad network or timeout is refused.
        assert!(parse(&["--proxy-protocol"]).is_err());
        assert!(parse(&["--proxy-from", "127.0.0.1"]).is_err());
        assert!(parse(&["--proxy-protocol", "--proxy-from", "10.0.0.1/8"]).is_err());
        assert!(
            parse(&[
                "--proxy-protocol",
                "--proxy-from",
                "::1",
                "--proxy-timeout",
                "0"
            ])
            .is_err()
        );
    }
}
