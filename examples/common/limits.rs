//! How many connections a server holds at once: a total cap and a cap per client address,
//! so that neither a flood nor one greedy client can take the process past its memory, its
//! open files or (blocking servers) its threads.
//!
//! A server asks [`ConnectionLimits::admit`] for a [`Slot`] when it accepts a connection,
//! before it starts anything for it (a task, a thread, a session machine). A connection
//! over the cap is answered at once with the protocol's "not now" ([`Refusal`]: SMTP
//! `421 4.3.2`, POP3 `-ERR [SYS/TEMP]`) and closed; the slot is given back when the
//! [`Slot`] is dropped, that is when the connection ends.
//!
//! The total applies at accept, before anything is read: it bounds what the server spends
//! before it knows who the client is. The per-client limit applies to the client's address:
//! the socket's peer, or, behind a load balancer (`--proxy-protocol`), the address the PROXY
//! header names, once the header is read ([`Slot::charge_client`]). Applying it to the
//! socket's peer there would count every client as the balancer, and cap the whole service
//! at one client's share. Until its header is read, a connection holds only its share of the
//! total, and the header has `--proxy-timeout` to come.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;

/// The flags of every server: `--max-connections`, `--max-connections-per-client`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Most connections open at once; past it a new one is answered at once (SMTP 421 4.3.2,
    /// POP3 -ERR [SYS/TEMP]) and closed. Default: 8000 on the tokio servers (one socket
    /// each: two servers in one process, as maildrop runs them, stay within an open-files
    /// limit of 20000 with room for the mail files; an idle session costs a few KiB, a TLS
    /// one some tens, far inside the memory), 1000 on the blocking ones (a thread each:
    /// its stack and a kernel task; more threads than that only queue on a few cores)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Most connections open at once from one client address (behind --proxy-protocol, the
    /// address the PROXY header names; IPv6 by /64), so one client cannot take every slot;
    /// as Postfix's default (half its process limit)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_CLIENT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_client: u32,
}

/// `--max-connections` of the tokio servers unless told otherwise (see [`LimitArgs`]).
pub const TOKIO_MAX_CONNECTIONS: u32 = 8000;
/// `--max-connections` of the blocking servers unless told otherwise (see [`LimitArgs`]).
pub const BLOCKING_MAX_CONNECTIONS: u32 = 1000;
/// `--max-connections-per-client` unless told otherwise.
pub const DEFAULT_PER_CLIENT: u32 = 50;

impl Default for LimitArgs {
    fn default() -> Self {
        Self {
            max_connections: None,
            max_connections_per_client: DEFAULT_PER_CLIENT,
        }
    }
}

impl LimitArgs {
    /// The limits the flags ask for; `default_total` when `--max-connections` is absent
    /// ([`TOKIO_MAX_CONNECTIONS`] or [`BLOCKING_MAX_CONNECTIONS`]).
    pub fn limits(&self, default_total: u32) -> ConnectionLimits {
        ConnectionLimits::new(
            self.max_connections.unwrap_or(default_total) as usize,
            self.max_connections_per_client as usize,
        )
    }
}

/// The connection counts of one server, shared by its accept loops and sessions.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    total: usize,
    per_client: usize,
    counts: Mutex<Counts>,
    /// Refusals not logged yet, and when the last log line was written: a flood of refused
    /// connections logs a line a second, not one per connection.
    refused: Mutex<(u64, Option<Instant>)>,
}

/// At most one log line about refused connections per this long.
const LOG_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    /// Only addresses with a connection open: an entry goes when its count reaches zero, so
    /// the map never holds more entries than there are slots.
    by_client: HashMap<IpAddr, usize>,
}

/// Why a connection is not let in. For the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The server holds `--max-connections` already.
    #[error("{0} connections open (--max-connections)")]
    Total(usize),
    /// This client holds `--max-connections-per-client` already.
    #[error("{1} connections open from {0} (--max-connections-per-client)")]
    PerClient(IpAddr, usize),
}

impl ConnectionLimits {
    /// At most `total` connections at once (at least one), `per_client` from one address.
    pub fn new(total: usize, per_client: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                total: total.max(1),
                per_client: per_client.max(1),
                counts: Mutex::new(Counts::default()),
                refused: Mutex::new((0, None)),
            }),
        }
    }

    /// A slot for a connection just accepted, or why not. `client`: the client's address
    /// when the socket's peer is the client; `None` when a PROXY header will name it (then
    /// [`Slot::charge_client`] follows, see the [module docs](self)).
    pub fn admit(&self, client: Option<IpAddr>) -> Result<Slot, LimitExceeded> {
        let mut counts = self.shared.lock();
        if counts.open >= self.shared.total {
            return Err(LimitExceeded::Total(counts.open));
        }
        let client = client.map(client_key);
        if let Some(client) = client {
            self.shared.charge(&mut counts, client)?;
        }
        counts.open += 1;
        Ok(Slot {
            shared: self.shared.clone(),
            client,
        })
    }

    /// [`admit`](Self::admit) for a connection just accepted by a tokio listener: over a
    /// limit, the client is answered `refusal` (see [`Refusal::send_tokio`]), the refusal
    /// logged, and `None` returned: the caller drops the socket, which closes it.
    /// `proxied`: a PROXY header will name the client (`--proxy-protocol`).
    pub fn accept_tokio(
        &self,
        socket: &tokio::net::TcpStream,
        peer: SocketAddr,
        proxied: bool,
        implicit_tls: bool,
        refusal: Refusal,
    ) -> Option<Slot> {
        self.accept(peer, proxied, || refusal.send_tokio(socket, implicit_tls))
    }

    /// [`accept_tokio`](Self::accept_tokio) for a blocking listener.
    pub fn accept_blocking(
        &self,
        socket: &std::net::TcpStream,
        peer: SocketAddr,
        proxied: bool,
        implicit_tls: bool,
        refusal: Refusal,
    ) -> Option<Slot> {
        self.accept(peer, proxied, || {
            refusal.send_blocking(socket, implicit_tls)
        })
    }

    /// What both `accept_*` do: a slot, or the refusal logged and `refuse` called.
    fn accept(&self, peer: SocketAddr, proxied: bool, refuse: impl FnOnce()) -> Option<Slot> {
        match self.admit((!proxied).then_some(peer.ip())) {
            Ok(slot) => Some(slot),
            Err(why) => {
                self.shared.log_refusal(peer, why);
                refuse();
                None
            }
        }
    }

    /// Connections holding a slot now.
    pub fn open(&self) -> usize {
        self.shared.lock().open
    }

    /// The total cap.
    pub fn max_connections(&self) -> usize {
        self.shared.total
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent whatever panicked while they were held: each update is
        // one statement.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn charge(&self, counts: &mut Counts, client: IpAddr) -> Result<(), LimitExceeded> {
        let held = counts.by_client.get(&client).copied().unwrap_or(0);
        if held >= self.per_client {
            return Err(LimitExceeded::PerClient(client, held));
        }
        counts.by_client.insert(client, held + 1);
        Ok(())
    }

    fn log_refusal(&self, peer: SocketAddr, why: LimitExceeded) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused.0 += 1;
        if refused.1.is_none_or(|last| last.elapsed() >= LOG_EVERY) {
            tracing::warn!(%peer, %why, refused = refused.0, "connection refused: over the limit");
            *refused = (0, Some(Instant::now()));
        }
    }

    fn release_client(&self, counts: &mut Counts, client: IpAddr) {
        if let Some(held) = counts.by_client.get_mut(&client) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                counts.by_client.remove(&client);
            }
        }
    }
}

/// What the per-client limit counts by: the address, an IPv4-mapped IPv6 one as the IPv4
/// address it is (a dual-stack listener), and IPv6 addresses by their /64 (one client, one
/// host or one home network, usually holds a whole /64 and could otherwise take a slot per
/// address).
fn client_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// One connection's place under the limits; given back on drop.
#[derive(Debug)]
#[must_use = "the slot is freed when dropped: hold it for the connection's life"]
pub struct Slot {
    shared: Arc<Shared>,
    client: Option<IpAddr>,
}

impl Slot {
    /// Counts the connection against `client`'s limit (the address a PROXY header named).
    /// A slot already charged to another address moves to this one. On refusal the slot
    /// keeps its share of the total until dropped.
    pub fn charge_client(&mut self, client: IpAddr) -> Result<(), LimitExceeded> {
        let client = client_key(client);
        if self.client == Some(client) {
            return Ok(());
        }
        let mut counts = self.shared.lock();
        self.shared.charge(&mut counts, client)?;
        if let Some(previous) = self.client.replace(client) {
            self.shared.release_client(&mut counts, previous);
        }
        Ok(())
    }
}

impl Slot {
    /// [`charge_client`](Self::charge_client) once a PROXY header on a tokio socket named
    /// the client: over the limit, the client is answered `refusal` (nothing was sent yet),
    /// the refusal logged, and `false` returned: the caller closes the connection.
    pub fn admit_client_tokio(
        &mut self,
        socket: &tokio::net::TcpStream,
        client: SocketAddr,
        implicit_tls: bool,
        refusal: Refusal,
    ) -> bool {
        self.admit_client(client, || refusal.send_tokio(socket, implicit_tls))
    }

    /// [`admit_client_tokio`](Self::admit_client_tokio) for a blocking socket.
    pub fn admit_client_blocking(
        &mut self,
        socket: &std::net::TcpStream,
        client: SocketAddr,
        implicit_tls: bool,
        refusal: Refusal,
    ) -> bool {
        self.admit_client(client, || refusal.send_blocking(socket, implicit_tls))
    }

    /// What both `admit_client_*` do: the client charged, or the refusal logged and `refuse`
    /// called.
    fn admit_client(&mut self, client: SocketAddr, refuse: impl FnOnce()) -> bool {
        match self.charge_client(client.ip()) {
            Ok(()) => true,
            Err(why) => {
                self.shared.log_refusal(client, why);
                refuse();
                false
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.shared.lock();
        counts.open = counts.open.saturating_sub(1);
        if let Some(client) = self.client {
            self.shared.release_client(&mut counts, client);
        }
    }
}

/// What a server answers a connection over a limit, before it closes it, sent in place of the
/// greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `421 4.3.2`: service not available, closing the channel (RFC 5321 sections 3.8 and
    /// 4.2.3; RFC 3463 section 3.4, X.3.2 system not accepting network messages).
    Smtp,
    /// `-ERR [SYS/TEMP]`: a temporary problem of the server, try again later (RFC 3206
    /// section 4; response codes, RFC 2449 section 8).
    Pop3,
}

impl Refusal {
    /// The line on the wire.
    pub fn line(self) -> &'static [u8] {
        match self {
            Self::Smtp => b"421 4.3.2 Too many connections, try again later\r\n",
            Self::Pop3 => b"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
        }
    }

    /// Answers a connection refused at accept and lets it close (when `socket` is dropped).
    /// Never waits: the line is far smaller than a fresh socket's send buffer, so a
    /// non-blocking write takes it whole; a peer gone already gets nothing. Nothing is sent
    /// on an implicit-TLS listener (`implicit_tls`): its client expects a handshake, and a
    /// handshake per refused connection would spend what the limit saves.
    pub fn send_blocking(self, socket: &std::net::TcpStream, implicit_tls: bool) {
        if !implicit_tls && socket.set_nonblocking(true).is_ok() {
            let _ = (&*socket).write(self.line());
        }
    }

    /// [`send_blocking`](Self::send_blocking) for a tokio socket.
    pub fn send_tokio(self, socket: &tokio::net::TcpStream, implicit_tls: bool) {
        if implicit_tls {
            return;
        }
        // tokio's `try_write` answers "would block" until its driver has seen the socket
        // writable, which a socket accepted a moment ago has not: write through a duplicate
        // of the descriptor (non-blocking as well: it shares the socket's flags). Dropping
        // the duplicate does not close the connection.
        #[cfg(unix)]
        if let Ok(fd) = std::os::fd::AsFd::as_fd(socket).try_clone_to_owned() {
            let _ = (&std::net::TcpStream::from(fd)).write(self.line());
        }
        #[cfg(not(unix))]
        let _ = socket.try_write(self.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const C: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

    #[test]
    fn the_total_cap_refuses_the_excess_and_a_dropped_slot_frees_its_place() {
        let limits = ConnectionLimits::new(2, 10);
        let first = limits.admit(Some(A)).unwrap();
        let _second = limits.admit(Some(B)).unwrap();
        assert_eq!(limits.admit(Some(C)).unwrap_err(), LimitExceeded::Total(2));
        assert_eq!(limits.admit(None).unwrap_err(), LimitExceeded::Total(2));
        assert_eq!(limits.open(), 2);
        drop(first);
        assert_eq!(limits.open(), 1);
        let _third = limits.admit(Some(C)).unwrap();
        assert_eq!(limits.open(), 2);
    }

    #[test]
    fn one_client_gets_its_share_and_no_more_others_still_get_in() {
        let limits = ConnectionLimits::new(100, 2);
        let a1 = limits.admit(Some(A)).unwrap();
        let _a2 = limits.admit(Some(A)).unwrap();
        assert_eq!(
            limits.admit(Some(A)).unwrap_err(),
            LimitExceeded::PerClient(A, 2)
        );
        // A refused client takes no slot of the total.
        assert_eq!(limits.open(), 2);
        let _b = limits.admit(Some(B)).unwrap();
        drop(a1);
        let _a3 = limits.admit(Some(A)).unwrap();
        assert_eq!(limits.open(), 3);
    }

    #[test]
    fn behind_a_proxy_the_client_is_charged_once_its_header_names_it() {
        let limits = ConnectionLimits::new(100, 1);
        // The balancer's connections are not counted against the balancer's address.
        let mut first = limits.admit(None).unwrap();
        let mut second = limits.admit(None).unwrap();
        first.charge_client(A).unwrap();
        // Charging the same address again changes nothing.
        first.charge_client(A).unwrap();
        assert_eq!(
            second.charge_client(A).unwrap_err(),
            LimitExceeded::PerClient(A, 1)
        );
        second.charge_client(B).unwrap();
        // Moved to another address: the first one's count is given back.
        second.charge_client(C).unwrap();
        let mut third = limits.admit(None).unwrap();
        third.charge_client(B).unwrap();
        drop(first);
        let mut fourth = limits.admit(None).unwrap();
        fourth.charge_client(A).unwrap();
        assert_eq!(limits.open(), 3);
        drop((second, third, fourth));
        assert_eq!(limits.open(), 0);
        assert!(limits.shared.lock().by_client.is_empty(), "no entry left");
    }

    #[test]
    fn mapped_addresses_count_as_ipv4_and_ipv6_ones_by_their_64() {
        let limits = ConnectionLimits::new(100, 1);
        let _v4 = limits.admit(Some(A)).unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            limits.admit(Some(mapped)).unwrap_err(),
            LimitExceeded::PerClient("192.0.2.1".parse().unwrap(), 1)
        );
        let _one: Slot = limits
            .admit(Some("2001:db8:1:2::1".parse().unwrap()))
            .unwrap();
        assert!(
            limits
                .admit(Some("2001:db8:1:2:ffff::9".parse().unwrap()))
                .is_err(),
            "same /64"
        );
        let _other = limits
            .admit(Some("2001:db8:1:3::1".parse().unwrap()))
            .unwrap();
    }

    #[test]
    fn counts_stay_exact_under_concurrent_admits_and_drops() {
        let limits = ConnectionLimits::new(50, 50);
        std::thread::scope(|scope| {
            for n in 0..8u8 {
                let limits = limits.clone();
                scope.spawn(move || {
                    let client = IpAddr::V4(Ipv4Addr::new(10, 0, 0, n));
                    for _ in 0..2000 {
                        let slot = limits.admit(Some(client));
                        assert!(limits.open() <= 50);
                        drop(slot);
                    }
                });
            }
        });
        assert_eq!(limits.open(), 0);
        assert!(limits.shared.lock().by_client.is_empty());
    }

    #[test]
    fn defaults_and_flags() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Demo {
            #[command(flatten)]
            limits: LimitArgs,
        }
        let none = Demo::try_parse_from(["demo"]).unwrap().limits;
        assert_eq!(none.limits(TOKIO_MAX_CONNECTIONS).max_connections(), 8000);
        assert_eq!(
            none.limits(BLOCKING_MAX_CONNECTIONS).max_connections(),
            1000
        );
        assert_eq!(none.max_connections_per_client, DEFAULT_PER_CLIENT);
        let set = Demo::try_parse_from([
            "demo",
            "--max-connections",
            "7",
            "--max-connections-per-client",
            "3",
        ])
        .unwrap()
        .limits;
        assert_eq!(set.limits(TOKIO_MAX_CONNECTIONS).max_connections(), 7);
        assert_eq!(set.max_connections_per_client, 3);
        assert!(Demo::try_parse_from(["demo", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn the_refusals_are_the_rfc_replies() {
        assert!(Refusal::Smtp.line().starts_with(b"421 4.3.2 "));
        assert!(Refusal::Pop3.line().starts_with(b"-ERR [SYS/TEMP] "));
        for refusal in [Refusal::Smtp, Refusal::Pop3] {
            let line = refusal.line();
            assert!(line.ends_with(b"\r\n"));
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        }
    }
}
