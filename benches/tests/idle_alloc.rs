//! What an idle session costs: the heap each of the four machines keeps once it waits for the
//! peer (after the greeting, and after EHLO or CAPA) and the adapter told it the session went
//! idle (`release_idle_buffers`, called by the socket loops when a read would block), and the
//! machine's own size. `cargo test -p benches --test idle_alloc -- --nocapture` prints the
//! table.
//!
//! The bounds are what a session must keep to go on, with room for small changes: the
//! configuration the machine owns (strings, mechanism lists), the server's EHLO reply written
//! once per TLS state, the client's capabilities. No buffer capacity is among them: a buffer
//! that holds nothing holds no allocation once idle.

use std::mem::size_of;

use benches::alloc_counter::{CountingAllocator, heap_held};
use bytes::Bytes;
use mail_wire::session::{Next, Session};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Heap the idle SMTP server may keep: its EHLO reply, written once per TLS state (about 220
/// octets with the default configuration). What the configuration allocated before it was
/// moved in is not counted. Input, output and event queue hold nothing.
const SMTP_SERVER_IDLE: isize = 256;
/// Heap the idle POP3 server may keep: the state of its session (a few dozen octets), no
/// buffer.
const POP3_SERVER_IDLE: isize = 128;
/// Heap an idle client may keep: the server's capabilities as parsed from its EHLO or CAPA
/// reply (four keywords here) and the queue of replies it expects; no buffer.
const CLIENT_IDLE: isize = 256;

/// Polls until the machine waits on the peer or the application, answering decisions with
/// `decide`, dropping what it transmits (the socket took it).
fn drain<S: Session>(conn: &mut S, decide: &mut impl FnMut(&mut S, S::Event)) -> &'static str {
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => drop(bytes),
            Next::Event(event) => decide(conn, event),
            Next::Read(_) => return "Read",
            Next::AwaitApp => return "AwaitApp",
            Next::UpgradeTls(_) => return "UpgradeTls",
            Next::Closed(_) => return "Closed",
        }
    }
}

/// The heap a machine keeps while idle: after `new` (its greeting) and after each of the
/// peer's `writes`, every one drained and, when `release`, followed by the loops' idle call.
/// Each figure comes with where the machine stopped.
fn idle_heap<S: Session>(
    new: impl FnOnce() -> S,
    writes: &[&[u8]],
    mut decide: impl FnMut(&mut S, S::Event),
    release: bool,
) -> Vec<(isize, &'static str)> {
    let mut figures = Vec::new();
    let ((mut conn, stop), mut held) = heap_held(|| {
        let mut conn = new();
        let stop = drain(&mut conn, &mut decide);
        if release {
            conn.release_idle_buffers();
        }
        (conn, stop)
    });
    figures.push((held, stop));
    for write in writes {
        let (stop, more) = heap_held(|| {
            conn.receive(write);
            let stop = drain(&mut conn, &mut decide);
            if release {
                conn.release_idle_buffers();
            }
            stop
        });
        held += more;
        figures.push((held, stop));
    }
    figures
}

/// One row of the table (idle heap without the idle call, then with it), and the bound
/// checked on the latter.
fn report(
    machine: &str,
    size: usize,
    kept: &[(isize, &str)],
    figures: &[(isize, &str)],
    bound: isize,
) {
    let cells: Vec<String> = kept
        .iter()
        .zip(figures)
        .map(|((kept, _), (held, stop))| format!("{kept:>5} -> {held:>4} B ({stop})"))
        .collect();
    println!("{machine:<18} {size:>7} B   {}", cells.join("   "));
    for (held, stop) in figures {
        assert!(
            *held <= bound,
            "{machine}: {held} octets held idle ({stop}), bound {bound}"
        );
    }
}

fn smtp_server(release: bool) -> Vec<(isize, &'static str)> {
    idle_heap(
        || smtp_proto::server::Connection::new(smtp_proto::server::Config::default()),
        &[b"EHLO client.example.org\r\n"],
        |conn, event| {
            if event.is_decision() {
                conn.accept().expect("decision pending");
            }
        },
        release,
    )
}

fn pop3_server(release: bool) -> Vec<(isize, &'static str)> {
    idle_heap(
        || pop3_proto::server::Connection::new(pop3_proto::server::Config::default()),
        &[b"CAPA\r\n"],
        |_, event| assert!(!event.is_decision(), "no decision before login: {event:?}"),
        release,
    )
}

/// From the greeting on; the first figure (before the greeting) is left out of the table.
fn smtp_client(release: bool) -> Vec<(isize, &'static str)> {
    let ehlo_name = smtp_proto::client::EhloName::new(Bytes::from_static(b"client.example.org"))
        .expect("a valid EHLO name");
    let mut figures = idle_heap(
        || smtp_proto::client::Connection::new(smtp_proto::client::Config::new(ehlo_name)),
        &[
            b"220 mx.example.com ESMTP\r\n",
            b"250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
        ],
        |_, _| {},
        release,
    );
    figures.remove(0);
    figures
}

/// As [`smtp_client`].
fn pop3_client(release: bool) -> Vec<(isize, &'static str)> {
    let mut figures = idle_heap(
        || pop3_proto::client::Connection::new(pop3_proto::client::Config::new()),
        &[
            b"+OK POP3 ready\r\n",
            b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n",
        ],
        |_, _| {},
        release,
    );
    figures.remove(0);
    figures
}

#[test]
fn idle_machines_hold_no_buffer_capacity() {
    println!("idle heap: held without the idle call -> with it (where the machine stopped)");
    println!(
        "{:<18} {:>9}   {:<22}   after EHLO/CAPA reply",
        "machine", "size_of", "after greeting"
    );
    report(
        "smtp-proto server",
        size_of::<smtp_proto::server::Connection>(),
        &smtp_server(false),
        &smtp_server(true),
        SMTP_SERVER_IDLE,
    );
    report(
        "pop3-proto server",
        size_of::<pop3_proto::server::Connection>(),
        &pop3_server(false),
        &pop3_server(true),
        POP3_SERVER_IDLE,
    );
    report(
        "smtp-proto client",
        size_of::<smtp_proto::client::Connection>(),
        &smtp_client(false),
        &smtp_client(true),
        CLIENT_IDLE,
    );
    report(
        "pop3-proto client",
        size_of::<pop3_proto::client::Connection>(),
        &pop3_client(false),
        &pop3_client(true),
        CLIENT_IDLE,
    );
}
