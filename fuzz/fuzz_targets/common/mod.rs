//! The canonical driving loop of the four session targets: one `match` on `poll()`, with the
//! fuzz input choosing what the peer sends (in arbitrary chunks, on `Read`), how TLS
//! handshakes end, when deadlines pass and how the application answers. It asserts the
//! session contract (ARCHITECTURE.md, "The session contract") on every step:
//!
//! - every `Read` and `UpgradeTls` wait has a timeout above zero and at most a day;
//! - polling again without input gives the same wait (same id), so its deadline stays;
//! - `AwaitApp` runs no timer: a timeout then changes nothing;
//! - `Closed` is terminal: every later `poll` says the same, whatever the adapter calls;
//! - the session ends: no livelock.
//!
//! Panics (the machine's or an assertion's) are what libFuzzer reports.

use core::fmt::Debug;
use core::time::Duration;

use arbitrary::Unstructured;
use mail_wire::session::{CloseReason, Next, Session, Wait};

/// The longest wait a machine may give (its default timeouts are minutes).
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Polls after which a session that has not ended is taken for a livelock. Every input byte
/// leads to a bounded number of polls; this is far beyond them.
const MAX_POLLS: usize = 1 << 20;

/// A choice among `n` taken from the input; 0 once the input is used up, so that 0 is each
/// choice's way forward.
pub fn choose(u: &mut Unstructured<'_>, n: u8) -> u8 {
    u.arbitrary::<u8>().unwrap_or(0) % n.max(1)
}

/// Up to `max` bytes of the input, as many as it says.
pub fn some_bytes<'a>(u: &mut Unstructured<'a>, max: usize) -> &'a [u8] {
    let len = usize::from(u.arbitrary::<u16>().unwrap_or(0)) % (max + 1);
    u.bytes(len.min(u.len())).unwrap_or_default()
}

/// The adapter and the application around one machine.
pub trait App<S: Session> {
    /// Bytes the peer sends, for one `Read`: canned protocol text (so that deep states are
    /// reached) or raw input.
    fn peer_bytes<'a>(&mut self, u: &mut Unstructured<'a>) -> &'a [u8];

    /// `poll` said `Transmit`.
    fn transmit(&mut self, conn: &S, bytes: &[u8]);

    /// `poll` said `Event`: a decision may be answered now, or held for `AwaitApp`.
    fn event(&mut self, conn: &mut S, event: S::Event, u: &mut Unstructured<'_>);

    /// `poll` said `AwaitApp`: the application calls the machine; false when it has
    /// nothing to give (the adapter then closes the connection).
    fn await_app(&mut self, conn: &mut S, u: &mut Unstructured<'_>) -> bool;

    /// An application call while the adapter waits on the peer (a server shutting down,
    /// a client queueing its next command, an answer with no decision pending).
    fn while_reading(&mut self, conn: &mut S, u: &mut Unstructured<'_>);

    /// The session ended for `reason`: the target's own final checks.
    fn closed(&mut self, conn: &mut S, reason: CloseReason);
}

/// Every wait on the peer is bounded, and by a deadline that can actually pass.
fn check_wait(wait: Wait) {
    assert!(
        !wait.timeout().is_zero() && wait.timeout() <= DAY,
        "wait {wait:?}: its timeout must be above zero and at most a day"
    );
}

/// Runs the session to its end, as the input says; gives why it ended.
pub fn run<S, A>(conn: &mut S, app: &mut A, u: &mut Unstructured<'_>) -> CloseReason
where
    S: Session,
    S::Event: Debug,
    A: App<S>,
{
    for _ in 0..MAX_POLLS {
        match conn.poll() {
            Next::Transmit(bytes) => {
                assert!(!bytes.is_empty(), "an empty Transmit");
                app.transmit(conn, &bytes);
            }
            Next::Event(event) => app.event(conn, event, u),
            Next::Read(wait) => {
                check_wait(wait);
                match conn.poll() {
                    Next::Read(again) => assert_eq!(again, wait, "Read, polled again"),
                    other => panic!("Read({wait:?}), then {other:?} without input"),
                }
                if u.is_empty() {
                    // The peer is done: end of stream.
                    conn.handle_close();
                    continue;
                }
                match choose(u, 16) {
                    0 => conn.handle_timeout(),
                    1 => conn.handle_close(),
                    2 | 3 => app.while_reading(conn, u),
                    _ => {
                        let bytes = app.peer_bytes(u);
                        conn.receive(bytes);
                    }
                }
            }
            Next::UpgradeTls(wait) => {
                check_wait(wait);
                match conn.poll() {
                    Next::UpgradeTls(again) => assert_eq!(again, wait, "UpgradeTls, polled again"),
                    other => panic!("UpgradeTls({wait:?}), then {other:?} without a handshake"),
                }
                match choose(u, 8) {
                    // The handshake failed.
                    6 => conn.handle_close(),
                    // It took too long.
                    7 => conn.handle_timeout(),
                    _ => conn
                        .tls_established()
                        .expect("poll asked for the TLS upgrade"),
                }
            }
            Next::AwaitApp => {
                if choose(u, 8) == 7 {
                    // No timer runs while the application decides: nothing changes.
                    conn.handle_timeout();
                    match conn.poll() {
                        Next::AwaitApp => {}
                        other => panic!("AwaitApp, then {other:?} after a timeout"),
                    }
                }
                if !app.await_app(conn, u) {
                    conn.handle_close();
                }
            }
            Next::Closed(reason) => {
                assert_closed(conn, reason);
                // Terminal, whatever the adapter does after it.
                conn.receive(b"QUIT\r\n");
                assert_closed(conn, reason);
                conn.handle_timeout();
                assert_closed(conn, reason);
                conn.handle_close();
                assert_closed(conn, reason);
                assert!(
                    conn.tls_established().is_err(),
                    "tls_established accepted after Closed"
                );
                assert_closed(conn, reason);
                app.closed(conn, reason);
                return reason;
            }
        }
    }
    panic!("the session did not end after {MAX_POLLS} polls");
}

fn assert_closed<S>(conn: &mut S, reason: CloseReason)
where
    S: Session,
    S::Event: Debug,
{
    match conn.poll() {
        Next::Closed(again) => assert_eq!(again, reason, "Closed changed its reason"),
        other => panic!("Closed({reason:?}), then {other:?}"),
    }
}
