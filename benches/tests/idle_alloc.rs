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

/// Heap an idle server machine may keep: its EHLO reply (about 150 octets) or nothing, and
/// what its default configuration allocated when moved in is not counted (it was allocated
/// before). Input, output and event queue must hold nothing.
const SERVER_IDLE: isize = 512;
/// Heap an idle client machine may keep: the server's capabilities as parsed from its EHLO
/// or CAPA reply (a few keywords), and the queue of the replies it expects.
const CLIENT_IDLE: isize = 1024;

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
/// peer's `writes`, every one drained and followed by the loops' idle call. Each figure comes
/// with where the machine stopped.
fn idle_heap<S: Session>(
    new: impl FnOnce() -> S,
    writes: &[&[u8]],
    mut decide: impl FnMut(&mut S, S::Event),
) -> Vec<(isize, &'static str)> {
    let mut figures = Vec::new();
    let ((mut conn, stop), mut held) = heap_held(|| {
        let mut conn = new();
        let stop = drain(&mut conn, &mut decide);
        conn.release_idle_buffers();
        (conn, stop)
    });
    figures.push((held, stop));
    for write in writes {
        let (stop, more) = heap_held(|| {
            conn.receive(write);
            let stop = drain(&mut conn, &mut decide);
            conn.release_idle_buffers();
            stop
        });
        held += more;
        figures.push((held, stop));
    }
    figures
}

/// One row of the table, and the bound checked.
fn report(machine: &str, size: usize, figures: &[(isize, &str)], bound: isize) {
    let cells: Vec<String> = figures
        .iter()
        .map(|(held, stop)| format!("{held:>6} B ({stop})"))
        .collect();
    println!("{machine:<22} {size:>7} B   {}", cells.join("   "));
    for (held, stop) in figures {
        assert!(
            *held <= bound,
            "{machine}: {held} octets held idle ({stop}), bound {bound}"
        );
    }
}

#[test]
fn idle_machines_hold_no_buffer_capacity() {
    println!(
        "{:<22} {:>9}   {:<18}   after EHLO/CAPA (reply)",
        "machine", "size_of", "after greeting"
    );

    let smtp_server = idle_heap(
        || smtp_proto::server::Connection::new(smtp_proto::server::Config::default()),
        &[b"EHLO client.example.org\r\n"],
        |conn, event| {
            if event.is_decision() {
                conn.accept().expect("decision pending");
            }
        },
    );
    report(
        "smtp-proto server",
        size_of::<smtp_proto::server::Connection>(),
        &smtp_server,
        SERVER_IDLE,
    );

    let pop3_server = idle_heap(
        || pop3_proto::server::Connection::new(pop3_proto::server::Config::default()),
        &[b"CAPA\r\n"],
        |_, event| assert!(!event.is_decision(), "no decision before login: {event:?}"),
    );
    report(
        "pop3-proto server",
        size_of::<pop3_proto::server::Connection>(),
        &pop3_server,
        SERVER_IDLE,
    );

    let ehlo_name = smtp_proto::client::EhloName::new(Bytes::from_static(b"client.example.org"))
        .expect("a valid EHLO name");
    let smtp_client = idle_heap(
        || smtp_proto::client::Connection::new(smtp_proto::client::Config::new(ehlo_name)),
        &[
            b"220 mx.example.com ESMTP\r\n",
            b"250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
        ],
        |_, _| {},
    );
    report(
        "smtp-proto client",
        size_of::<smtp_proto::client::Connection>(),
        &smtp_client[1..],
        CLIENT_IDLE,
    );

    let pop3_client = idle_heap(
        || pop3_proto::client::Connection::new(pop3_proto::client::Config::new()),
        &[
            b"+OK POP3 ready\r\n",
            b"+OK\r\nUSER\r\nUIDL\r\nTOP\r\nPIPELINING\r\n.\r\n",
        ],
        |_, _| {},
    );
    report(
        "pop3-proto client",
        size_of::<pop3_proto::client::Connection>(),
        &pop3_client[1..],
        CLIENT_IDLE,
    );
}
