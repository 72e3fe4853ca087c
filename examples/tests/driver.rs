//! The socket loops against a toy line machine, over real loopback sockets: echo, pipelined
//! input, STARTTLS with plaintext injected after it, the machine's timeout, peer close.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use adapters::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};
use adapters::driver::tokio::{self as tokio_driver, Handler, Stream, TlsUpgrade};
use adapters::driver::{Ended, Flow};
use adapters::tls::{ServerIdentity, client_config_with_ca_pem, server_name};
use bytes::{Bytes, BytesMut};
use mail_wire::line::LineFramer;
use mail_wire::session::Session;

/// Echoes lines in upper case; `STARTTLS` answers `GO` and asks for TLS; `QUIT` ends.
struct Toy {
    input: BytesMut,
    lines: LineFramer,
    out: VecDeque<Bytes>,
    events: VecDeque<ToyEvent>,
    awaiting_tls: bool,
    closing: bool,
    closed_by_peer: bool,
    timeout: Option<Duration>,
}

#[derive(Debug, PartialEq)]
enum ToyEvent {
    Line(String),
    StartTls,
    PeerGone,
}

impl Toy {
    fn new(timeout: Duration) -> Self {
        Toy {
            input: BytesMut::new(),
            lines: LineFramer::new(512),
            out: VecDeque::new(),
            events: VecDeque::new(),
            awaiting_tls: false,
            closing: false,
            closed_by_peer: false,
            timeout: Some(timeout),
        }
    }

    fn process(&mut self) {
        while !self.awaiting_tls && !self.closing {
            let Some(Ok(line)) = self.lines.next_line(&mut self.input) else {
                return;
            };
            let text = String::from_utf8_lossy(&line).into_owned();
            match text.as_str() {
                "STARTTLS" => {
                    self.out.push_back(Bytes::from_static(b"GO\r\n"));
                    self.events.push_back(ToyEvent::StartTls);
                    self.awaiting_tls = true;
                }
                "QUIT" => {
                    self.out.push_back(Bytes::from_static(b"BYE\r\n"));
                    self.closing = true;
                }
                _ => {
                    self.out
                        .push_back(Bytes::from(format!("{}\r\n", text.to_uppercase())));
                    self.events.push_back(ToyEvent::Line(text));
                }
            }
        }
    }
}

/// The toy's only misuse: TLS reported when it did not ask for it.
#[derive(Debug)]
struct NotUpgrading;

impl std::fmt::Display for NotUpgrading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no TLS upgrade pending")
    }
}

impl std::error::Error for NotUpgrading {}

impl Session for Toy {
    type Event = ToyEvent;
    type UsageError = NotUpgrading;
    fn receive(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
        self.process();
    }
    fn poll_event(&mut self) -> Option<ToyEvent> {
        self.events.pop_front()
    }
    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }
    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
    fn handle_timeout(&mut self) {
        self.out.push_back(Bytes::from_static(b"TIMEOUT\r\n"));
        self.closing = true;
    }
    fn handle_close(&mut self) {
        self.closed_by_peer = true;
        self.events.push_back(ToyEvent::PeerGone);
    }
    fn tls_established(&mut self) -> Result<(), NotUpgrading> {
        if !self.awaiting_tls {
            return Err(NotUpgrading);
        }
        // What arrived before the handshake was plaintext: dropped (CVE-2011-0411).
        self.input.clear();
        self.lines.reset();
        self.awaiting_tls = false;
        Ok(())
    }
    fn is_closed(&self) -> bool {
        self.closing && self.out.is_empty()
    }
}

#[derive(Default)]
struct Recorder(Vec<ToyEvent>);

impl Handler<Toy> for Recorder {
    async fn on_event(&mut self, _conn: &mut Toy, event: ToyEvent) -> std::io::Result<Flow> {
        let flow = if event == ToyEvent::StartTls {
            Flow::StartTls
        } else {
            Flow::Continue
        };
        self.0.push(event);
        Ok(flow)
    }
}

impl BlockingHandler<Toy> for Recorder {
    fn on_event(&mut self, _conn: &mut Toy, event: ToyEvent) -> std::io::Result<Flow> {
        let flow = if event == ToyEvent::StartTls {
            Flow::StartTls
        } else {
            Flow::Continue
        };
        self.0.push(event);
        Ok(flow)
    }
}

fn identity() -> ServerIdentity {
    ServerIdentity::self_signed("localhost").expect("self-signed certificate")
}

/// The client side of every test: plain lines, then STARTTLS with an injected line in the
/// same packet, then lines over TLS, then QUIT. Returns every line the server sent.
fn talk(tcp: TcpStream, ca_pem: &str) -> Vec<String> {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut plain = tcp;
    plain.write_all(b"hello\r\nworld\r\n").unwrap();
    for _ in 0..2 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        got.push(line.trim_end().to_owned());
    }
    plain.write_all(b"STARTTLS\r\ninjected\r\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    got.push(line.trim_end().to_owned());
    assert!(
        reader.buffer().is_empty(),
        "nothing may follow GO in plaintext"
    );

    let config = client_config_with_ca_pem(ca_pem.as_bytes()).unwrap();
    let session = rustls::ClientConnection::new(config, server_name("localhost").unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(session, plain);
    tls.write_all(b"secure\r\nQUIT\r\n").unwrap();
    let mut reader = BufReader::new(tls);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        got.push(line.trim_end().to_owned());
    }
    got
}

const EXPECTED: [&str; 5] = ["HELLO", "WORLD", "GO", "SECURE", "BYE"];

#[test]
fn blocking_loop_echoes_upgrades_and_drops_injected_plaintext() {
    let identity = identity();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = identity.config.clone();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut toy = Toy::new(Duration::from_secs(10));
        let mut recorder = Recorder::default();
        let ended = blocking::run(
            &mut toy,
            BlockingStream::Plain(tcp),
            &BlockingTls::Server(config),
            &mut recorder,
        )
        .unwrap();
        (ended, recorder.0)
    });
    let got = talk(
        TcpStream::connect(addr).unwrap(),
        identity.generated_cert_pem.as_deref().unwrap(),
    );
    assert_eq!(got, EXPECTED);
    let (ended, events) = server.join().unwrap();
    assert_eq!(ended, Ended::SessionClosed);
    assert!(
        !events.contains(&ToyEvent::Line("injected".into())),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_loop_echoes_upgrades_and_drops_injected_plaintext() {
    let identity = identity();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = TlsUpgrade::server(identity.config.clone());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut toy = Toy::new(Duration::from_secs(10));
        let mut recorder = Recorder::default();
        let ended = tokio_driver::run(&mut toy, Stream::Plain(tcp), &tls, &mut recorder)
            .await
            .unwrap();
        (ended, recorder.0)
    });
    let pem = identity.generated_cert_pem.clone().unwrap();
    let got = tokio::task::spawn_blocking(move || talk(TcpStream::connect(addr).unwrap(), &pem))
        .await
        .unwrap();
    assert_eq!(got, EXPECTED);
    let (ended, events) = server.await.unwrap();
    assert_eq!(ended, Ended::SessionClosed);
    assert!(
        !events.contains(&ToyEvent::Line("injected".into())),
        "{events:?}"
    );
}

#[tokio::test]
async fn tokio_loop_enforces_the_machine_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut toy = Toy::new(Duration::from_millis(200));
        tokio_driver::run(
            &mut toy,
            Stream::Plain(tcp),
            &TlsUpgrade::None,
            &mut Recorder::default(),
        )
        .await
        .unwrap()
    });
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut got = String::new();
    let read = tokio::io::AsyncReadExt::read_to_string(&mut client, &mut got);
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, "TIMEOUT\r\n");
    assert_eq!(server.await.unwrap(), Ended::SessionClosed);
}

#[test]
fn blocking_loop_enforces_the_machine_timeout_and_sees_peer_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let mut results = Vec::new();
        for timeout in [Duration::from_millis(200), Duration::from_secs(10)] {
            let (tcp, _) = listener.accept().unwrap();
            let mut toy = Toy::new(timeout);
            let mut recorder = Recorder::default();
            let ended = blocking::run(
                &mut toy,
                BlockingStream::Plain(tcp),
                &BlockingTls::None,
                &mut recorder,
            );
            results.push((ended.unwrap(), recorder.0));
        }
        results
    });
    let mut first = TcpStream::connect(addr).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = String::new();
    std::io::Read::read_to_string(&mut first, &mut got).unwrap();
    assert_eq!(got, "TIMEOUT\r\n");
    let mut second = TcpStream::connect(addr).unwrap();
    second.write_all(b"bye now\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(second.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    drop(second);
    let results = server.join().unwrap();
    assert_eq!(results[0].0, Ended::SessionClosed);
    assert_eq!(results[1].0, Ended::PeerClosed);
    assert_eq!(
        results[1].1,
        [ToyEvent::Line("bye now".into()), ToyEvent::PeerGone]
    );
}
