//! Server figures: the tokio server in sink mode (counts and discards) beside postfix's
//! `smtp-sink`, both on 127.0.0.1, driven in the same run by the same clients (postfix's
//! `smtp-source` and our load generator), 2000 messages of 10 KiB over 20 sessions, reusing
//! connections and with one connection per message. The rounds alternate which server and
//! which client go first; the faster client (the higher median, both servers together) gives
//! the servers' figures, the other is printed beside it. A load run, printed and not
//! asserted, except that the sink-mode server must have counted every message:
//!
//! ```text
//! cargo build --release -p examples --examples
//! MAIL_LOAD=server cargo test --release -p examples --test smtp_server_load -- --nocapture
//! ```

mod smtp_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use smtp_support::*;

const MESSAGES: usize = 2000;
const SESSIONS: usize = 20;
const SIZE: usize = 10 * 1024;
const ROUNDS: usize = 5;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Target {
    SmtpSink,
    SinkMode,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Client {
    SmtpSource,
    Ours,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Client::SmtpSource => "smtp-source",
            Client::Ours => "smtp_client_tokio",
        }
    }
}

#[test]
fn sink_mode_beside_smtp_sink() {
    if std::env::var("MAIL_LOAD").as_deref() != Ok("server") {
        eprintln!("skipped: a load run (MAIL_LOAD=server, release build; see README.md)");
        return;
    }
    let Some(source) = peer("smtp-source") else {
        return;
    };
    let Some(sink) = peer("smtp-sink") else {
        return;
    };
    let sink = start_sink(sink, &[]);
    let mut ours = Server::start("smtp_server_tokio", false, &[]);
    let address = |target| -> (SocketAddr, u32) {
        match target {
            Target::SmtpSink => (sink.addr, sink.proc.id()),
            Target::SinkMode => (ours.addr, ours.proc.id()),
        }
    };
    let targets = [Target::SmtpSink, Target::SinkMode];
    let clients = [Client::SmtpSource, Client::Ours];
    let mut rates: HashMap<(bool, Target, Client), Vec<f64>> = HashMap::new();
    // The server's CPU time over the run's wall time, %: smtp-sink is one process, 100% is
    // all it can take; the tokio server has a thread per core.
    let mut busy: HashMap<(bool, Target, Client), Vec<f64>> = HashMap::new();
    for round in 0..ROUNDS {
        for reuse in [true, false] {
            let load = Load {
                messages: MESSAGES,
                size: SIZE,
                sessions: SESSIONS,
                reuse,
            };
            // Each (server, client) pairing once per round, in an order that turns.
            for k in 0..targets.len() * clients.len() {
                let k = (k + round) % (targets.len() * clients.len());
                let (target, client) = (targets[k / clients.len()], clients[k % clients.len()]);
                let (addr, pid) = address(target);
                let (cpu, started) = (cpu_seconds(pid), Instant::now());
                let rate = match client {
                    Client::SmtpSource => load.smtp_source(&source, addr),
                    Client::Ours => load.ours(addr),
                };
                let share = (cpu_seconds(pid) - cpu) / started.elapsed().as_secs_f64();
                rates.entry((reuse, target, client)).or_default().push(rate);
                busy.entry((reuse, target, client))
                    .or_default()
                    .push(share * 100.0);
            }
        }
    }

    // Every message sent to the sink-mode server was counted (logged when it stops).
    let sent = ROUNDS * 2 * clients.len() * MESSAGES;
    let stopped = Command::new("kill")
        .args(["-INT", &ours.proc.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    ours.proc
        .wait(Duration::from_secs(15))
        .expect("the sink-mode server did not stop");
    let log = ours.proc.log();
    assert!(
        log.contains(&format!("sink totals messages={sent}")),
        "sink mode did not count {sent} messages:\n{}",
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );

    let mut table = format!(
        "SERVER {MESSAGES} messages of {SIZE} octets over {SESSIONS} sessions, {ROUNDS} rounds, \
         msg/s min-max (median; the server's CPU time over the wall time, median) over the rounds (examples built in {} mode):\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for reuse in [true, false] {
        let of = |target, client| &rates[&(reuse, target, client)];
        let all = |client| -> Vec<f64> {
            targets
                .iter()
                .flat_map(|&t| of(t, client).iter().copied())
                .collect()
        };
        let faster = if median(&all(Client::Ours)) >= median(&all(Client::SmtpSource)) {
            Client::Ours
        } else {
            Client::SmtpSource
        };
        let other = if faster == Client::Ours {
            Client::SmtpSource
        } else {
            Client::Ours
        };
        let ratio: Vec<f64> = of(Target::SinkMode, faster)
            .iter()
            .zip(of(Target::SmtpSink, faster))
            .map(|(a, b)| a / b)
            .collect();
        let cell = |target, client| {
            let v = of(target, client);
            let cpu = median(&busy[&(reuse, target, client)]);
            format!("{} ({:.0}; server CPU {cpu:.0}%)", range(v, 0), median(v))
        };
        table += &format!(
            "  {}: driven by {} (the faster): smtp-sink {}, tokio sink mode {}, \
             sink mode/smtp-sink {}\n    (driven by {}: smtp-sink {}, tokio sink mode {})\n",
            if reuse {
                "reused connections"
            } else {
                "a connection per message"
            },
            faster.name(),
            cell(Target::SmtpSink, faster),
            cell(Target::SinkMode, faster),
            range(&ratio, 2),
            other.name(),
            cell(Target::SmtpSink, other),
            cell(Target::SinkMode, other),
        );
    }
    eprint!("{table}");
}
