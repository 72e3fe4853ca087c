//! The socket loops against a toy line machine and the four real ones, over real loopback
//! sockets: echo, pipelined input, STARTTLS with plaintext injected after it, the wait's
//! deadline, peer close, the application's turn (`AwaitApp`), and deadlines that a peer
//! trickling bytes cannot move (ARCHITECTURE.md, "The session contract", rule 3; security
//! invariant 9): not in plain text, not in a TLS handshake, not in a TLS record; and draining
//! (the loop tells a waiting machine once, through `on_shutdown`).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapters::driver::blocking::{self, BlockingHandler, BlockingStream, BlockingTls};
use adapters::driver::tokio::{self as tokio_driver, Handler, Stream, TlsUpgrade};
use adapters::driver::{Drain, DrainWatch, Ended, Flow};
use adapters::tls::{ServerIdentity, client_config_with_ca_pem, server_name};
use bytes::BytesMut;
use mail_wire::line::LineFramer;
use mail_wire::session::{CloseReason, Next, Session, Wait};

/// Echoes lines in upper case; `STARTTLS` answers `GO` and asks for TLS; `ASK` waits for the
/// application (`answer`); `QUIT` ends. Keeps the session contract: `receive` only buffers,
/// `poll` drives, and the wait's id changes only when a whole line was taken, an upgrade
/// began or ended, or the application answered.
struct Toy {
    input: BytesMut,
    lines: LineFramer,
    out: BytesMut,
    events: VecDeque<ToyEvent>,
    upgrading: bool,
    asking: bool,
    closed: Option<CloseReason>,
    /// The timeout of every wait: the toy's configuration.
    timeout: Duration,
    wait: u64,
    /// Times the loop said the session went idle (`release_idle_buffers`).
    released: usize,
}

#[derive(Debug, PartialEq)]
enum ToyEvent {
    Line(String),
    StartTls,
    Ask,
    PeerGone,
}

impl Toy {
    fn new(timeout: Duration) -> Self {
        Toy {
            input: BytesMut::new(),
            lines: LineFramer::new(512),
            out: BytesMut::new(),
            events: VecDeque::new(),
            upgrading: false,
            asking: false,
            closed: None,
            timeout,
            wait: 0,
            released: 0,
        }
    }

    /// The application's answer to `ASK`.
    fn answer(&mut self) {
        assert!(self.asking, "no question pending");
        self.asking = false;
        self.out.extend_from_slice(b"ANSWERED\r\n");
        self.wait += 1;
    }

    /// Takes whole lines until one gives an event or stops the reading.
    fn process(&mut self) {
        while self.events.is_empty() && !self.upgrading && !self.asking && self.closed.is_none() {
            let line = match self.lines.next_line(&mut self.input) {
                None => return,
                Some(Ok(line)) => String::from_utf8_lossy(&line).into_owned(),
                Some(Err(_)) => "?".to_owned(),
            };
            self.wait += 1;
            match line.as_str() {
                "STARTTLS" => {
                    self.out.extend_from_slice(b"GO\r\n");
                    self.events.push_back(ToyEvent::StartTls);
                    self.upgrading = true;
                }
                "ASK" => {
                    self.events.push_back(ToyEvent::Ask);
                    self.asking = true;
                }
                "QUIT" => {
                    self.out.extend_from_slice(b"BYE\r\n");
                    self.closed = Some(CloseReason::Quit);
                }
                _ => {
                    self.out
                        .extend_from_slice(format!("{}\r\n", line.to_uppercase()).as_bytes());
                    self.events.push_back(ToyEvent::Line(line));
                }
            }
        }
    }
}

/// The toy's only misuse: TLS reported when it did not ask for it.
#[derive(Debug)]
struct NoTlsUpgrade;

impl std::fmt::Display for NoTlsUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no TLS upgrade pending")
    }
}

impl std::error::Error for NoTlsUpgrade {}

impl Session for Toy {
    type Event = ToyEvent;
    type UsageError = NoTlsUpgrade;

    fn receive(&mut self, bytes: &[u8]) {
        // Plain text sent before the handshake is dropped (CVE-2011-0411).
        if self.closed.is_none() && !self.upgrading {
            self.input.extend_from_slice(bytes);
        }
    }

    fn poll(&mut self) -> Next<ToyEvent> {
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        self.process();
        if let Some(event) = self.events.pop_front() {
            return Next::Event(event);
        }
        if !self.out.is_empty() {
            return Next::Transmit(self.out.split().freeze());
        }
        match self.closed {
            Some(reason) => Next::Closed(reason),
            None if self.asking => Next::AwaitApp,
            None if self.upgrading => Next::UpgradeTls(Wait::new(self.wait, self.timeout)),
            None => Next::Read(Wait::new(self.wait, self.timeout)),
        }
    }

    fn handle_timeout(&mut self) {
        if self.closed.is_some() || self.asking {
            return;
        }
        // Nothing can be said in plain text in the middle of a handshake.
        if !self.upgrading {
            self.out.extend_from_slice(b"TIMEOUT\r\n");
        }
        self.closed = Some(CloseReason::Timeout);
    }

    fn handle_close(&mut self) {
        self.out.clear();
        if self.closed.is_none() {
            self.events.push_back(ToyEvent::PeerGone);
            self.closed = Some(CloseReason::ConnectionLost);
        }
    }

    fn tls_established(&mut self) -> Result<(), NoTlsUpgrade> {
        if !self.upgrading {
            return Err(NoTlsUpgrade);
        }
        // What arrived before the handshake was plaintext: dropped (CVE-2011-0411).
        self.input.clear();
        self.lines.reset();
        self.upgrading = false;
        self.wait += 1;
        Ok(())
    }

    fn release_idle_buffers(&mut self) {
        // Only when the machine waits on the peer: the loop calls it from a read.
        assert!(
            self.events.is_empty() && self.out.is_empty() && !self.asking,
            "released while the machine had work"
        );
        self.released += 1;
        if self.input.is_empty() {
            self.input = BytesMut::new();
        }
        self.out = BytesMut::new();
    }
}

/// Records the toy's events; answers `ASK` in `on_await` while it has answers left.
#[derive(Default)]
struct Recorder {
    events: Vec<ToyEvent>,
    answers: usize,
}

impl Recorder {
    fn answering(answers: usize) -> Self {
        Recorder {
            events: Vec::new(),
            answers,
        }
    }

    fn on_await(&mut self, conn: &mut Toy) -> bool {
        if self.answers == 0 {
            return false;
        }
        self.answers -= 1;
        conn.answer();
        true
    }
}

impl Handler<Toy> for Recorder {
    async fn on_event(&mut self, _conn: &mut Toy, event: ToyEvent) -> io::Result<Flow> {
        self.events.push(event);
        Ok(Flow::Continue)
    }

    async fn on_await(&mut self, conn: &mut Toy) -> io::Result<bool> {
        Ok(Recorder::on_await(self, conn))
    }
}

impl BlockingHandler<Toy> for Recorder {
    fn on_event(&mut self, _conn: &mut Toy, event: ToyEvent) -> io::Result<Flow> {
        self.events.push(event);
        Ok(Flow::Continue)
    }

    fn on_await(&mut self, conn: &mut Toy) -> io::Result<bool> {
        Ok(Recorder::on_await(self, conn))
    }
}

/// Answers nothing: for the real machines, whose waits on the peer are under test.
struct Ignore;

impl<S> Handler<S> for Ignore
where
    S: Session + Send,
    S::Event: Send,
{
    async fn on_event(&mut self, _conn: &mut S, _event: S::Event) -> io::Result<Flow> {
        Ok(Flow::Continue)
    }
}

impl<S: Session> BlockingHandler<S> for Ignore {
    fn on_event(&mut self, _conn: &mut S, _event: S::Event) -> io::Result<Flow> {
        Ok(Flow::Continue)
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
        (ended, recorder.events)
    });
    let got = talk(
        TcpStream::connect(addr).unwrap(),
        identity.generated_cert_pem.as_deref().unwrap(),
    );
    assert_eq!(got, EXPECTED);
    let (ended, events) = server.join().unwrap();
    assert_eq!(ended, Ended::Session(CloseReason::Quit));
    assert!(
        !events.contains(&ToyEvent::Line("injected".into())),
        "{events:?}"
    );
    assert!(events.contains(&ToyEvent::StartTls), "{events:?}");
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
        (ended, recorder.events)
    });
    let pem = identity.generated_cert_pem.clone().unwrap();
    let got = tokio::task::spawn_blocking(move || talk(TcpStream::connect(addr).unwrap(), &pem))
        .await
        .unwrap();
    assert_eq!(got, EXPECTED);
    let (ended, events) = server.await.unwrap();
    assert_eq!(ended, Ended::Session(CloseReason::Quit));
    assert!(
        !events.contains(&ToyEvent::Line("injected".into())),
        "{events:?}"
    );
    assert!(events.contains(&ToyEvent::StartTls), "{events:?}");
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
    assert_eq!(server.await.unwrap(), Ended::Session(CloseReason::Timeout));
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
            results.push((ended.unwrap(), recorder.events));
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
    assert_eq!(results[0].0, Ended::Session(CloseReason::Timeout));
    assert_eq!(results[1].0, Ended::Session(CloseReason::ConnectionLost));
    assert_eq!(
        results[1].1,
        [ToyEvent::Line("bye now".into()), ToyEvent::PeerGone]
    );
}

// ----------------------------------------------------------------------------------------
// Both loops, the same checks: each test runs against the blocking and the tokio loop.

/// Which socket loop drives the machine.
#[derive(Clone, Copy, Debug)]
enum Loop {
    Blocking,
    Tokio,
}

/// The timeout of the waits under test, set in the machine's configuration.
const TIMEOUT: Duration = Duration::from_millis(400);
/// How often a trickling peer sends its next octet.
const DRIP: Duration = Duration::from_millis(50);
/// How long a trickling peer goes on at most: far past `TIMEOUT`.
const TRICKLE_FOR: Duration = Duration::from_secs(8);
/// How late after its deadline a session may end (scheduling, loopback, CI).
const SLACK: Duration = Duration::from_millis(1500);

/// Drives `conn` with `handler` over `tcp` on a thread of its own, with the loop `which`
/// (the tokio one on a current-thread runtime); TLS as the server `tls` when given. Returns
/// how the loop ended, with the machine and the handler.
fn drive<S, H>(
    which: Loop,
    conn: S,
    handler: H,
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> JoinHandle<(io::Result<Ended>, S, H)>
where
    S: Session + Send + 'static,
    S::Event: Send,
    H: Handler<S> + BlockingHandler<S> + Send + 'static,
{
    drive_draining(which, conn, handler, tcp, tls, DrainWatch::never())
}

/// [`drive`] with the loop watching `drain`.
fn drive_draining<S, H>(
    which: Loop,
    mut conn: S,
    mut handler: H,
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    drain: DrainWatch,
) -> JoinHandle<(io::Result<Ended>, S, H)>
where
    S: Session + Send + 'static,
    S::Event: Send,
    H: Handler<S> + BlockingHandler<S> + Send + 'static,
{
    std::thread::spawn(move || {
        let ended = match which {
            Loop::Blocking => {
                let tls = tls.map_or(BlockingTls::None, BlockingTls::Server);
                let stream = BlockingStream::Plain(tcp);
                blocking::run_draining(&mut conn, stream, &tls, &mut handler, drain)
            }
            Loop::Tokio => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    tcp.set_nonblocking(true)?;
                    let tcp = tokio::net::TcpStream::from_std(tcp)?;
                    let tls = tls.map_or(TlsUpgrade::None, TlsUpgrade::server);
                    let stream = Stream::Plain(tcp);
                    tokio_driver::run_draining(&mut conn, stream, &tls, &mut handler, drain).await
                })
            }
        };
        (ended, conn, handler)
    })
}

/// A connected pair over loopback: (the machine's end, the peer's end).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (machine, _) = listener.accept().unwrap();
    peer.set_nodelay(true).unwrap();
    (machine, peer)
}

/// What a trickling peer saw.
#[derive(Debug)]
struct Trickled {
    /// Every octet the machine's side sent (raw: TLS records stay encrypted).
    received: Vec<u8>,
    /// When the machine's side closed the connection, counted from the start of the drip.
    closed_after: Duration,
    /// Octets dripped before that.
    dripped: usize,
}

/// Sends `drip` one octet every [`DRIP`] (for [`TRICKLE_FOR`] at most), reading meanwhile,
/// until the other side closes the connection.
fn trickle(tcp: &TcpStream, drip: &[u8]) -> Trickled {
    let start = Instant::now();
    let closed = Arc::new(AtomicBool::new(false));
    let reader = {
        let mut tcp = tcp.try_clone().unwrap();
        let closed = closed.clone();
        std::thread::spawn(move || {
            tcp.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut received = Vec::new();
            let mut buf = [0u8; 4096];
            while start.elapsed() < TRICKLE_FOR + SLACK {
                match tcp.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let closed_after = start.elapsed();
            closed.store(true, Ordering::SeqCst);
            (received, closed_after)
        })
    };
    let mut writer = tcp.try_clone().unwrap();
    let mut dripped = 0;
    for octet in drip {
        if closed.load(Ordering::SeqCst) || start.elapsed() > TRICKLE_FOR {
            break;
        }
        if writer.write_all(&[*octet]).is_err() {
            break;
        }
        dripped += 1;
        std::thread::sleep(DRIP);
    }
    let (received, closed_after) = reader.join().unwrap();
    Trickled {
        received,
        closed_after,
        dripped,
    }
}

/// The session ended at its deadline: not before it, and well before the trickle did.
fn assert_ended_at_deadline(trickled: &Trickled, which: Loop) {
    assert!(
        trickled.closed_after < TIMEOUT + SLACK,
        "{which:?} loop: a trickling peer kept the session {:?} past a {TIMEOUT:?} wait ({} octets dripped)",
        trickled.closed_after,
        trickled.dripped
    );
    assert!(
        trickled.dripped >= 2,
        "{which:?} loop: the trickle did not run: {trickled:?}"
    );
}

/// A command line far longer than the trickle.
fn long_line(prefix: &str) -> Vec<u8> {
    let mut line = prefix.as_bytes().to_vec();
    line.resize(prefix.len() + 300, b'a');
    line.extend_from_slice(b"\r\n");
    line
}

fn a_trickled_line_cannot_hold_the_toy_past_its_deadline(which: Loop) {
    let (machine, peer) = pair();
    let server = drive(which, Toy::new(TIMEOUT), Recorder::default(), machine, None);
    let trickled = trickle(&peer, &long_line("x"));
    assert_ended_at_deadline(&trickled, which);
    assert_eq!(trickled.received, b"TIMEOUT\r\n", "{which:?}");
    let (ended, _, recorder) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Timeout),
        "{which:?}"
    );
    assert!(
        recorder.events.is_empty(),
        "{which:?}: {:?}",
        recorder.events
    );
}

#[test]
fn blocking_loop_a_trickled_line_cannot_hold_the_session_past_its_deadline() {
    a_trickled_line_cannot_hold_the_toy_past_its_deadline(Loop::Blocking);
}

#[test]
fn tokio_loop_a_trickled_line_cannot_hold_the_session_past_its_deadline() {
    a_trickled_line_cannot_hold_the_toy_past_its_deadline(Loop::Tokio);
}

/// Each whole line satisfies its wait: lines that each come within the timeout keep the
/// session open well past one timeout (the deadline is per wait, not per session).
fn whole_lines_each_start_a_new_wait(which: Loop) {
    let (machine, mut peer) = pair();
    let server = drive(which, Toy::new(TIMEOUT), Recorder::default(), machine, None);
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(peer.try_clone().unwrap());
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < TIMEOUT * 3 {
        std::thread::sleep(TIMEOUT / 2);
        peer.write_all(format!("line {sent}\r\n").as_bytes())
            .unwrap();
        let mut echo = String::new();
        reader.read_line(&mut echo).unwrap();
        assert_eq!(echo, format!("LINE {sent}\r\n"), "{which:?}");
        sent += 1;
    }
    peer.write_all(b"QUIT\r\n").unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "BYE\r\n", "{which:?}");
    let (ended, _, recorder) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Quit),
        "{which:?}"
    );
    assert_eq!(recorder.events.len(), sent, "{which:?}");
}

#[test]
fn blocking_loop_whole_lines_each_start_a_new_wait() {
    whole_lines_each_start_a_new_wait(Loop::Blocking);
}

#[test]
fn tokio_loop_whole_lines_each_start_a_new_wait() {
    whole_lines_each_start_a_new_wait(Loop::Tokio);
}

/// A session that waits on an idle peer is told so (`release_idle_buffers`, from inside the
/// read: the tokio loop when the socket has nothing, the blocking one after a wait of 200 ms),
/// and goes on as before once bytes come.
fn an_idle_session_releases_its_buffers(which: Loop) {
    let (machine, mut peer) = pair();
    let server = drive(
        which,
        Toy::new(TIMEOUT * 5),
        Recorder::default(),
        machine,
        None,
    );
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(peer.try_clone().unwrap());
    peer.write_all(b"hello\r\n").unwrap();
    let mut echo = String::new();
    reader.read_line(&mut echo).unwrap();
    assert_eq!(echo, "HELLO\r\n", "{which:?}");
    // Idle past the blocking loop's grace (200 ms), within the toy's timeout.
    std::thread::sleep(TIMEOUT);
    peer.write_all(b"world\r\nQUIT\r\n").unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "WORLD\r\nBYE\r\n", "{which:?}");
    let (ended, toy, _) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Quit),
        "{which:?}"
    );
    assert!(
        toy.released >= 1,
        "{which:?}: never told the session was idle"
    );
}

#[test]
fn blocking_loop_an_idle_session_releases_its_buffers() {
    an_idle_session_releases_its_buffers(Loop::Blocking);
}

#[test]
fn tokio_loop_an_idle_session_releases_its_buffers() {
    an_idle_session_releases_its_buffers(Loop::Tokio);
}

/// `AwaitApp` is the application's turn: no deadline runs, `on_await` answers; when it has
/// nothing to give, the loop ends the session (`handle_close`).
fn the_application_answers_in_on_await(which: Loop) {
    let (machine, mut peer) = pair();
    let server = drive(
        which,
        Toy::new(TIMEOUT),
        Recorder::answering(1),
        machine,
        None,
    );
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    peer.write_all(b"ASK\r\nASK\r\n").unwrap();
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap();
    assert_eq!(got, "ANSWERED\r\n", "{which:?}");
    let (ended, _, recorder) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::ConnectionLost),
        "{which:?}"
    );
    assert_eq!(
        recorder.events,
        [ToyEvent::Ask, ToyEvent::Ask, ToyEvent::PeerGone],
        "{which:?}"
    );
}

#[test]
fn blocking_loop_the_application_answers_in_on_await() {
    the_application_answers_in_on_await(Loop::Blocking);
}

#[test]
fn tokio_loop_the_application_answers_in_on_await() {
    the_application_answers_in_on_await(Loop::Tokio);
}

/// The first flight of a TLS client (its ClientHello), as it would go on the wire.
fn client_hello(ca_pem: &str) -> Vec<u8> {
    let config = client_config_with_ca_pem(ca_pem.as_bytes()).unwrap();
    let mut client =
        rustls::ClientConnection::new(config, server_name("localhost").unwrap()).unwrap();
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).unwrap();
    }
    hello
}

/// A toy session on the `which` loop that has just accepted STARTTLS: the peer's
/// socket (the plain text is over, the handshake is next) and the loop's thread.
fn toy_after_starttls(
    which: Loop,
    identity: &ServerIdentity,
) -> (TcpStream, JoinHandle<(io::Result<Ended>, Toy, Recorder)>) {
    let (machine, mut peer) = pair();
    let server = drive(
        which,
        Toy::new(TIMEOUT),
        Recorder::default(),
        machine,
        Some(identity.config.clone()),
    );
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    peer.write_all(b"STARTTLS\r\n").unwrap();
    let mut go = [0u8; 4];
    peer.read_exact(&mut go).unwrap();
    assert_eq!(&go, b"GO\r\n", "{which:?}");
    (peer, server)
}

/// STARTTLS, then a ClientHello one octet at a time: the handshake is one wait, bounded
/// as a whole by its deadline, however many reads it takes.
fn a_trickled_handshake_cannot_hold_the_session_past_its_deadline(which: Loop) {
    let identity = identity();
    let (peer, server) = toy_after_starttls(which, &identity);
    let hello = client_hello(identity.generated_cert_pem.as_deref().unwrap());
    let trickled = trickle(&peer, &hello);
    assert_ended_at_deadline(&trickled, which);
    let (ended, _, recorder) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Timeout),
        "{which:?}"
    );
    assert_eq!(recorder.events, [ToyEvent::StartTls], "{which:?}");
}

#[test]
fn blocking_loop_a_trickled_handshake_cannot_hold_the_session_past_its_deadline() {
    a_trickled_handshake_cannot_hold_the_session_past_its_deadline(Loop::Blocking);
}

#[test]
fn tokio_loop_a_trickled_handshake_cannot_hold_the_session_past_its_deadline() {
    a_trickled_handshake_cannot_hold_the_session_past_its_deadline(Loop::Tokio);
}

/// After the upgrade, a line inside a TLS record sent one octet at a time: the record takes
/// many socket reads, and the wait's deadline bounds them all.
fn a_trickled_tls_record_cannot_hold_the_session_past_its_deadline(which: Loop) {
    let identity = identity();
    let (mut peer, server) = toy_after_starttls(which, &identity);
    let pem = identity.generated_cert_pem.as_deref().unwrap();
    let config = client_config_with_ca_pem(pem.as_bytes()).unwrap();
    let mut client =
        rustls::ClientConnection::new(config, server_name("localhost").unwrap()).unwrap();
    while client.is_handshaking() {
        client.complete_io(&mut peer).unwrap();
    }
    client.writer().write_all(&long_line("x")).unwrap();
    let mut record = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut record).unwrap();
    }
    let trickled = trickle(&peer, &record);
    assert_ended_at_deadline(&trickled, which);
    assert!(
        trickled.dripped < record.len(),
        "{which:?}: the whole record went through"
    );
    let (ended, _, recorder) = server.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Timeout),
        "{which:?}"
    );
    assert_eq!(recorder.events, [ToyEvent::StartTls], "{which:?}");
}

#[test]
fn blocking_loop_a_trickled_tls_record_cannot_hold_the_session_past_its_deadline() {
    a_trickled_tls_record_cannot_hold_the_session_past_its_deadline(Loop::Blocking);
}

#[test]
fn tokio_loop_a_trickled_tls_record_cannot_hold_the_session_past_its_deadline() {
    a_trickled_tls_record_cannot_hold_the_session_past_its_deadline(Loop::Tokio);
}

// ----------------------------------------------------------------------------------------
// The four machines, their timeout shortened in their configuration, against a peer that
// trickles a line that never ends.

/// Runs `conn` against a peer that trickles `drip` after `first` (sent whole); returns what
/// the peer saw and how the loop ended.
fn trickle_against<S>(which: Loop, conn: S, first: &[u8], drip: &[u8]) -> (Trickled, Ended)
where
    S: Session + Send + 'static,
    S::Event: Send,
{
    let (machine, mut peer) = pair();
    let session = drive(which, conn, Ignore, machine, None);
    peer.write_all(first).unwrap();
    let trickled = trickle(&peer, drip);
    assert_ended_at_deadline(&trickled, which);
    let (ended, _, _) = session.join().unwrap();
    (trickled, ended.unwrap())
}

fn smtp_server_times_out_a_trickled_command(which: Loop) {
    let config = smtp_proto::server::Config::default().with_command_timeout(TIMEOUT);
    let conn = smtp_proto::server::Connection::new(config);
    let (trickled, ended) = trickle_against(which, conn, b"", &long_line("EHLO "));
    assert_eq!(ended, Ended::Session(CloseReason::Timeout), "{which:?}");
    let received = String::from_utf8_lossy(&trickled.received);
    assert!(
        received.starts_with("220 ") && received.contains("\r\n421 4.4.2 "),
        "{which:?}: {received:?}"
    );
}

#[test]
fn blocking_loop_smtp_server_times_out_a_trickled_command() {
    smtp_server_times_out_a_trickled_command(Loop::Blocking);
}

#[test]
fn tokio_loop_smtp_server_times_out_a_trickled_command() {
    smtp_server_times_out_a_trickled_command(Loop::Tokio);
}

fn smtp_client_times_out_a_trickled_reply(which: Loop) {
    let config = smtp_proto::client::Config::default()
        .with_tls(smtp_proto::TlsMode::Disabled)
        .with_command_timeout(TIMEOUT);
    let conn = smtp_proto::client::Connection::new(config);
    let (trickled, ended) = trickle_against(which, conn, b"", &long_line("220 "));
    assert_eq!(ended, Ended::Session(CloseReason::Timeout), "{which:?}");
    assert!(trickled.received.is_empty(), "{which:?}: {trickled:?}");
}

#[test]
fn blocking_loop_smtp_client_times_out_a_trickled_reply() {
    smtp_client_times_out_a_trickled_reply(Loop::Blocking);
}

#[test]
fn tokio_loop_smtp_client_times_out_a_trickled_reply() {
    smtp_client_times_out_a_trickled_reply(Loop::Tokio);
}

fn pop3_server_times_out_a_trickled_command(which: Loop) {
    let mut config = pop3_proto::server::Config::default();
    config.autologout = TIMEOUT;
    let conn = pop3_proto::server::Connection::new(config);
    let (trickled, ended) = trickle_against(which, conn, b"", &long_line("USER "));
    assert_eq!(ended, Ended::Session(CloseReason::Timeout), "{which:?}");
    // RFC 1939 section 3: the autologout ends the session without a response.
    let received = String::from_utf8_lossy(&trickled.received);
    assert!(
        received.starts_with("+OK ") && received.matches("\r\n").count() == 1,
        "{which:?}: {received:?}"
    );
}

#[test]
fn blocking_loop_pop3_server_times_out_a_trickled_command() {
    pop3_server_times_out_a_trickled_command(Loop::Blocking);
}

#[test]
fn tokio_loop_pop3_server_times_out_a_trickled_command() {
    pop3_server_times_out_a_trickled_command(Loop::Tokio);
}

fn pop3_client_times_out_a_trickled_response(which: Loop) {
    let config = pop3_proto::client::Config::default()
        .with_tls(pop3_proto::TlsMode::Disabled)
        .with_response_timeout(TIMEOUT);
    let conn = pop3_proto::client::Connection::new(config);
    // The greeting comes whole; the answer to CAPA never ends.
    let (trickled, ended) = trickle_against(which, conn, b"+OK ready\r\n", &long_line("+OK "));
    assert_eq!(ended, Ended::Session(CloseReason::Timeout), "{which:?}");
    assert_eq!(trickled.received, b"CAPA\r\n", "{which:?}");
}

#[test]
fn blocking_loop_pop3_client_times_out_a_trickled_response() {
    pop3_client_times_out_a_trickled_response(Loop::Blocking);
}

#[test]
fn tokio_loop_pop3_client_times_out_a_trickled_response() {
    pop3_client_times_out_a_trickled_response(Loop::Tokio);
}

// ----------------------------------------------------------------------------------------
// Draining: the SMTP server machine, told through `on_shutdown` while it waits on the peer.

/// Accepts every decision of the SMTP server machine, and counts the drain's calls.
#[derive(Default)]
struct SmtpAcceptor {
    told: Arc<AtomicUsize>,
}

impl SmtpAcceptor {
    fn answer(conn: &mut smtp_proto::server::Connection, event: smtp_proto::server::Event) {
        use smtp_proto::server::Event;
        match event {
            Event::MessageEnd { .. } => conn.accept_message("q1").unwrap(),
            event if event.is_decision() => conn.accept().unwrap(),
            _ => {}
        }
    }
}

impl Handler<smtp_proto::server::Connection> for SmtpAcceptor {
    async fn on_event(
        &mut self,
        conn: &mut smtp_proto::server::Connection,
        event: smtp_proto::server::Event,
    ) -> io::Result<Flow> {
        Self::answer(conn, event);
        Ok(Flow::Continue)
    }

    fn on_shutdown(&mut self, conn: &mut smtp_proto::server::Connection) {
        self.told.fetch_add(1, Ordering::SeqCst);
        conn.shutdown();
    }
}

impl BlockingHandler<smtp_proto::server::Connection> for SmtpAcceptor {
    fn on_event(
        &mut self,
        conn: &mut smtp_proto::server::Connection,
        event: smtp_proto::server::Event,
    ) -> io::Result<Flow> {
        Self::answer(conn, event);
        Ok(Flow::Continue)
    }

    fn on_shutdown(&mut self, conn: &mut smtp_proto::server::Connection) {
        self.told.fetch_add(1, Ordering::SeqCst);
        conn.shutdown();
    }
}

/// Reads one reply line (sufficient for the one-line replies here).
fn reply_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

fn a_drain_wakes_an_idle_machine_and_lets_a_message_finish(which: Loop) {
    let drain = Drain::new();
    let (idle_end, idle_peer) = pair();
    let (busy_end, busy_peer) = pair();
    let machine = || smtp_proto::server::Connection::new(smtp_proto::server::Config::default());
    let idle_told = Arc::new(AtomicUsize::new(0));
    let busy_told = Arc::new(AtomicUsize::new(0));
    let idle_handler = SmtpAcceptor {
        told: idle_told.clone(),
    };
    let busy_handler = SmtpAcceptor {
        told: busy_told.clone(),
    };
    let idle = drive_draining(
        which,
        machine(),
        idle_handler,
        idle_end,
        None,
        drain.watch(),
    );
    let busy = drive_draining(
        which,
        machine(),
        busy_handler,
        busy_end,
        None,
        drain.watch(),
    );
    for peer in [&idle_peer, &busy_peer] {
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    let mut idle_reader = BufReader::new(idle_peer.try_clone().unwrap());
    let mut busy_reader = BufReader::new(busy_peer.try_clone().unwrap());
    assert!(reply_line(&mut idle_reader).starts_with("220 "));
    assert!(reply_line(&mut busy_reader).starts_with("220 "));
    let mut busy_writer = busy_peer.try_clone().unwrap();
    for command in [
        "HELO a.example",
        "MAIL FROM:<a@example.test>",
        "RCPT TO:<b@example.test>",
    ] {
        busy_writer
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        assert!(
            reply_line(&mut busy_reader).starts_with("250 "),
            "{command}"
        );
    }
    busy_writer.write_all(b"DATA\r\n").unwrap();
    assert!(reply_line(&mut busy_reader).starts_with("354 "));
    busy_writer.write_all(b"Subject: half\r\n").unwrap();

    // Both loops wait in a read; the drain wakes them (the blocking one within its poll).
    let started = Instant::now();
    drain.start();
    assert_eq!(
        reply_line(&mut idle_reader),
        "421 4.3.2 Service shutting down\r\n",
        "{which:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{which:?}: {:?}",
        started.elapsed()
    );
    let (ended, _, _) = idle.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Shutdown),
        "{which:?}"
    );

    // The message goes on, is accepted, and only the next command gets the 421.
    std::thread::sleep(blocking::DRAIN_POLL * 2);
    busy_writer.write_all(b"the rest\r\n.\r\n").unwrap();
    assert!(
        reply_line(&mut busy_reader).starts_with("250 "),
        "{which:?}"
    );
    busy_writer.write_all(b"NOOP\r\n").unwrap();
    assert!(
        reply_line(&mut busy_reader).starts_with("421 4.3.2 "),
        "{which:?}"
    );
    let (ended, _, _) = busy.join().unwrap();
    assert_eq!(
        ended.unwrap(),
        Ended::Session(CloseReason::Shutdown),
        "{which:?}"
    );
    assert_eq!(idle_told.load(Ordering::SeqCst), 1, "{which:?}: told once");
    assert_eq!(busy_told.load(Ordering::SeqCst), 1, "{which:?}: told once");
}

#[test]
fn blocking_loop_a_drain_wakes_an_idle_machine_and_lets_a_message_finish() {
    a_drain_wakes_an_idle_machine_and_lets_a_message_finish(Loop::Blocking);
}

#[test]
fn tokio_loop_a_drain_wakes_an_idle_machine_and_lets_a_message_finish() {
    a_drain_wakes_an_idle_machine_and_lets_a_message_finish(Loop::Tokio);
}
