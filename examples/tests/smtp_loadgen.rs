//! The load generator (`smtp_client_tokio --count`) against postfix's `smtp-sink` on
//! 127.0.0.1: 200 messages over 10 sessions, reusing the connections and with one connection
//! per message; the summary line must count 200 accepted and nothing else, and the exit
//! status be 0. Against a port nobody listens on, every message is a connection error and
//! the exit status is not 0. Skipped when `smtp-sink` is missing (unless
//! `MAIL_INTEROP=required`).
//!
//! The comparison (a load run, printed and not asserted): 1000 messages of 10 KiB to the same
//! `smtp-sink` in the same run from `smtp-source`, the generator and lettre's tokio transport
//! (`AsyncSmtpTransport<Tokio1Executor>`, which does not pipeline), over one session and over
//! 20, reusing connections and with one per message; five rounds, the clients alternating:
//!
//! ```text
//! cargo build --release -p examples --examples
//! MAIL_LOAD=loadgen cargo test --release -p examples --test smtp_loadgen load_comparison -- --nocapture
//! ```

mod smtp_support;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use smtp_support::*;

/// Runs the generator; gives its exit status's success and its summary line.
fn loadgen(addr: SocketAddr, count: usize, sessions: usize, extra: &[&str]) -> (bool, String) {
    let mut c = Command::new(example_bin("smtp_client_tokio"));
    c.args(["--server", &addr.to_string()])
        .args(["--from", "load@localhost", "--to", "sink@localhost"])
        .args(["--count", &count.to_string()])
        .args(["--concurrency", &sessions.to_string()])
        .args(extra);
    let (status, output) = run(c, b"");
    let summary = output
        .lines()
        .find(|l| l.contains("messages/s"))
        .unwrap_or_else(|| panic!("no summary line:\n{output}"))
        .to_owned();
    (status.success(), summary)
}

fn counts(accepted: usize, errors: usize) -> String {
    format!("2xx {accepted}, 4xx 0, 5xx 0, connection errors {errors}")
}

#[test]
fn two_hundred_messages_over_ten_sessions_in_both_modes() {
    let Some(sink) = peer("smtp-sink") else {
        return;
    };
    let sink = start_sink(sink, &[]);
    for mode in [&[][..], &["--new-connection-per-message"][..]] {
        let (ok, summary) = loadgen(sink.addr, 200, 10, mode);
        assert!(ok, "{mode:?}: {summary}");
        assert!(summary.contains("200 of 200 sent"), "{mode:?}: {summary}");
        assert!(summary.ends_with(&counts(200, 0)), "{mode:?}: {summary}");
    }
    // A small body, and a single session.
    let (ok, summary) = loadgen(sink.addr, 3, 1, &["--size", "10"]);
    assert!(ok && summary.ends_with(&counts(3, 0)), "{summary}");
}

#[test]
fn refusals_are_counted_by_reply_class() {
    let Some(sink) = peer("smtp-sink") else {
        return;
    };
    // The end of data refused permanently, then MAIL refused temporarily.
    let hard = start_sink(sink.clone(), &["-f", "."]);
    let (ok, summary) = loadgen(hard.addr, 20, 4, &[]);
    assert!(!ok, "{summary}");
    assert!(
        summary.ends_with("2xx 0, 4xx 0, 5xx 20, connection errors 0"),
        "{summary}"
    );
    let soft = start_sink(sink, &["-r", "MAIL"]);
    let (ok, summary) = loadgen(soft.addr, 20, 4, &["--new-connection-per-message"]);
    assert!(!ok, "{summary}");
    assert!(
        summary.ends_with("2xx 0, 4xx 20, 5xx 0, connection errors 0"),
        "{summary}"
    );
}

#[test]
fn a_server_that_is_not_there_is_counted_as_connection_errors() {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let (ok, summary) = loadgen(addr, 5, 2, &[]);
    assert!(!ok, "{summary}");
    assert!(summary.ends_with(&counts(0, 5)), "{summary}");
}

/// The comparison's size: the same for every client in a run.
const MESSAGES: usize = 1000;
const SESSIONS: usize = 20;
const SIZE: usize = 10 * 1024;
/// Each client runs once per round, the clients alternating, so that what else the machine
/// does at the time falls on all of them; the table gives the range and the median.
const ROUNDS: usize = 5;
/// The longest lettre run may take (over one reused connection it is the slowest client).
const RUN_DEADLINE: Duration = Load::RUN_DEADLINE;

/// The clients of the comparison.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Client {
    SmtpSource,
    Ours,
    Lettre,
}

/// What every lettre task needs: the same messages the generator sends (its headers, its
/// Message-ID scheme, its body), one envelope, and the next message's index.
struct LettreRun {
    envelope: lettre::address::Envelope,
    headers: String,
    run_id: String,
    body: bytes::Bytes,
    next: AtomicUsize,
}

impl LettreRun {
    fn new() -> Arc<LettreRun> {
        use adapters::smtp::loadgen;
        Arc::new(LettreRun {
            envelope: lettre::address::Envelope::new(
                Some("load@localhost".parse().unwrap()),
                vec!["sink@localhost".parse().unwrap()],
            )
            .unwrap(),
            headers: loadgen::shared_headers("load@localhost", &["sink@localhost".into()]),
            run_id: loadgen::run_id("localhost"),
            body: loadgen::body(SIZE),
            next: AtomicUsize::new(0),
        })
    }

    /// The next message (lettre takes the whole message in one slice), `None` once all are
    /// handed out.
    fn claim(&self) -> Option<Vec<u8>> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index < MESSAGES).then(|| {
            let head = adapters::smtp::loadgen::head(&self.headers, index as u64, &self.run_id);
            [head.as_bytes(), &self.body].concat()
        })
    }
}

fn hello() -> lettre::transport::smtp::extension::ClientId {
    lettre::transport::smtp::extension::ClientId::Domain("localhost".into())
}

/// lettre's tokio transport: `sessions` tasks sharing one `AsyncSmtpTransport`. Reusing
/// connections, its pool holds at most `sessions` of them (1: one connection). A connection
/// per message is what the transport does without its `pool` feature (connect, send, QUIT):
/// the feature is on here (cargo unifies features), so that path is run through lettre's own
/// `AsyncSmtpConnection` calls.
fn lettre(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
    sessions: usize,
    reuse: bool,
) -> f64 {
    use lettre::transport::smtp::PoolConfig;
    use lettre::transport::smtp::client::AsyncSmtpConnection;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let run = LettreRun::new();
    let timeout = Some(Duration::from_secs(15));
    let started = Instant::now();
    runtime.block_on(async {
        // Built in the runtime: the pool starts its clean-up task.
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
                .port(addr.port())
                .hello_name(hello())
                .timeout(timeout)
                .pool_config(PoolConfig::new().max_size(sessions as u32))
                .build();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..sessions {
            let (run, transport) = (run.clone(), transport.clone());
            tasks.spawn(async move {
                while let Some(message) = run.claim() {
                    if reuse {
                        transport.send_raw(&run.envelope, &message).await?;
                    } else {
                        let mut conn = AsyncSmtpConnection::connect_tokio1(
                            addr,
                            timeout,
                            &hello(),
                            None,
                            None,
                        )
                        .await?;
                        conn.send(&run.envelope, &message).await?;
                        conn.abort().await;
                    }
                }
                Ok::<_, lettre::transport::smtp::Error>(())
            });
        }
        let all = async {
            while let Some(joined) = tasks.join_next().await {
                joined.unwrap().expect("lettre sends every message");
            }
            // QUIT on the pooled connections, as the other clients do before they exit.
            transport.shutdown().await;
        };
        tokio::time::timeout(RUN_DEADLINE, all)
            .await
            .expect("lettre ran longer than its deadline");
    });
    MESSAGES as f64 / started.elapsed().as_secs_f64()
}

/// Milliseconds per message of lettre over one connection on a socket of our own, one
/// message after another (`AsyncSmtpConnection::send`: the transport's path without the
/// pool's NOOP before each reuse), with and without TCP_NODELAY: what Nagle's algorithm costs
/// a client that writes the body and the final dot separately, then waits for the reply.
fn lettre_own_socket(runtime: &tokio::runtime::Runtime, addr: SocketAddr, nodelay: bool) -> f64 {
    use lettre::transport::smtp::client::AsyncSmtpConnection;
    const COUNT: usize = 100;
    let run = LettreRun::new();
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(nodelay).unwrap();
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello())
            .await
            .unwrap();
        let started = Instant::now();
        let sent = async {
            for _ in 0..COUNT {
                let message = run.claim().unwrap();
                conn.send(&run.envelope, &message).await.unwrap();
            }
        };
        tokio::time::timeout(RUN_DEADLINE, sent).await.unwrap();
        let per_message = started.elapsed().as_secs_f64() * 1000.0 / COUNT as f64;
        conn.quit().await.unwrap();
        per_message
    })
}

/// A row of the table.
fn case_name(reuse: bool, sessions: usize) -> String {
    format!(
        "{}, {sessions} session{}",
        if reuse { "reused" } else { "new per message" },
        if sessions == 1 { "" } else { "s" }
    )
}

/// "min-max (median)".
fn cell(values: &[f64], digits: usize) -> String {
    format!("{} ({:.digits$})", range(values, digits), median(values))
}

#[test]
fn load_comparison_with_smtp_source_and_lettre() {
    if std::env::var("MAIL_LOAD").as_deref() != Ok("loadgen") {
        eprintln!("skipped: a load run (MAIL_LOAD=loadgen, release build; see README.md)");
        return;
    }
    let Some(source) = peer("smtp-source") else {
        return;
    };
    let Some(sink) = peer("smtp-sink") else {
        return;
    };
    let sink = start_sink(sink, &[]);
    // As many workers as the generator's own runtime has (one per core).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let clients = [Client::SmtpSource, Client::Ours, Client::Lettre];
    let cases = [(true, 1), (true, SESSIONS), (false, 1), (false, SESSIONS)];
    let mut rates: HashMap<(bool, usize, Client), Vec<f64>> = HashMap::new();
    // smtp-sink's CPU time over each run's wall time: near 100% it was the bottleneck (it is
    // one process), and the clients' figures say more about it than about them.
    let mut busy: HashMap<(bool, usize, Client), Vec<f64>> = HashMap::new();
    let sink_pid = sink.proc.id();
    let mut nagle = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for &(reuse, sessions) in &cases {
            // A different client first in each round.
            for k in 0..clients.len() {
                let client = clients[(k + round) % clients.len()];
                let load = Load {
                    messages: MESSAGES,
                    size: SIZE,
                    sessions,
                    reuse,
                };
                let (cpu, started) = (cpu_seconds(sink_pid), Instant::now());
                let rate = match client {
                    Client::SmtpSource => load.smtp_source(&source, sink.addr),
                    Client::Ours => load.ours(sink.addr),
                    Client::Lettre => lettre(&runtime, sink.addr, sessions, reuse),
                };
                let share = (cpu_seconds(sink_pid) - cpu) / started.elapsed().as_secs_f64();
                rates
                    .entry((reuse, sessions, client))
                    .or_default()
                    .push(rate);
                busy.entry((reuse, sessions, client))
                    .or_default()
                    .push(share * 100.0);
            }
        }
        nagle.0.push(lettre_own_socket(&runtime, sink.addr, false));
        nagle.1.push(lettre_own_socket(&runtime, sink.addr, true));
    }
    let mut table = format!(
        "LOADGEN {MESSAGES} messages of {SIZE} octets to smtp-sink, {ROUNDS} rounds, msg/s \
         min-max (median) over the rounds, ratios taken per round (examples built in {} \
         mode):\n  {:<29} {:>18} {:>18} {:>18} {:>18} {:>18}\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        "",
        "smtp-source",
        "ours",
        "lettre",
        "ours/lettre",
        "ours/source",
    );
    for &(reuse, sessions) in &cases {
        let of = |client| &rates[&(reuse, sessions, client)];
        let ratio = |other| -> Vec<f64> {
            of(Client::Ours)
                .iter()
                .zip(of(other))
                .map(|(a, b)| a / b)
                .collect()
        };
        let case = case_name(reuse, sessions);
        table += &format!(
            "  {case:<29} {:>18} {:>18} {:>18} {:>18} {:>18}\n",
            cell(of(Client::SmtpSource), 0),
            cell(of(Client::Ours), 0),
            cell(of(Client::Lettre), 0),
            cell(&ratio(Client::Lettre), 1),
            cell(&ratio(Client::SmtpSource), 2),
        );
    }
    table += "  smtp-sink's CPU time over the run's wall time, %, median:\n";
    for &(reuse, sessions) in &cases {
        let of = |client| median(&busy[&(reuse, sessions, client)]);
        table += &format!(
            "  {:<29} {:>18.0} {:>18.0} {:>18.0}\n",
            case_name(reuse, sessions),
            of(Client::SmtpSource),
            of(Client::Ours),
            of(Client::Lettre),
        );
    }
    table += &format!(
        "  lettre, one connection on a socket of ours, ms per message: {} with Nagle's \
         algorithm (lettre's default), {} with TCP_NODELAY\n  \
         (smtp-source and ours timed as processes, start-up included; lettre in the test's \
         runtime)",
        cell(&nagle.0, 2),
        cell(&nagle.1, 2)
    );
    eprintln!("{table}");
}
