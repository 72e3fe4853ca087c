//! The load generator (`smtp_client_tokio --count`) against postfix's `smtp-sink` on
//! 127.0.0.1: 200 messages over 10 sessions, reusing the connections and with one connection
//! per message; the summary line must count 200 accepted and nothing else, and the exit
//! status be 0. Against a port nobody listens on, every message is a connection error and
//! the exit status is not 0. Skipped when `smtp-sink` is missing (unless
//! `MAIL_INTEROP=required`).
//!
//! The comparison with `smtp-source` (2000 messages of 10 KiB over 20 sessions, both modes,
//! the same `smtp-sink`, the same run) is a load run, printed and not asserted:
//!
//! ```text
//! cargo build --release -p examples --examples
//! MAIL_LOAD=loadgen cargo test --release -p examples --test smtp_loadgen load_comparison -- --nocapture
//! ```

mod smtp_support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use smtp_support::*;

/// `smtp-sink` on a free port of 127.0.0.1, killed (by its id) when dropped.
struct Sink {
    addr: SocketAddr,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

fn start_sink(sink: PathBuf, extra: &[&str]) -> Sink {
    let dir = tempfile::tempdir().unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let mut c = Command::new(sink);
    if Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
    {
        c.args(["-u", "nobody"]); // smtp-sink refuses to run as root without it
    }
    c.args(extra).arg(addr.to_string()).arg("100");
    let mut proc = Proc::spawn(c, dir.path().join("sink.log"), "smtp-sink");
    wait_for_greeting(addr, &mut proc);
    Sink {
        addr,
        _proc: proc,
        _dir: dir,
    }
}

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

#[test]
fn load_comparison_with_smtp_source() {
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
    const MESSAGES: usize = 2000;
    const SESSIONS: usize = 20;
    const SIZE: usize = 10 * 1024;
    let sink = start_sink(sink, &[]);
    let smtp_source = |reuse: bool| {
        let mut c = Command::new(&source);
        c.args(["-s", &SESSIONS.to_string(), "-m", &MESSAGES.to_string()])
            .args(["-l", &SIZE.to_string(), "-M", "source.example.test"])
            .args(["-f", "load@localhost", "-t", "sink@localhost"]);
        if reuse {
            c.arg("-d"); // the next message over the same connection
        }
        c.arg(sink.addr.to_string());
        let start = Instant::now();
        run_ok(c, b"");
        MESSAGES as f64 / start.elapsed().as_secs_f64()
    };
    let ours = |extra: &[&str]| {
        let size = SIZE.to_string();
        let args: Vec<&str> = ["--size", size.as_str()]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let start = Instant::now();
        let (ok, summary) = loadgen(sink.addr, MESSAGES, SESSIONS, &args);
        let rate = MESSAGES as f64 / start.elapsed().as_secs_f64();
        assert!(ok && summary.ends_with(&counts(MESSAGES, 0)), "{summary}");
        (rate, summary)
    };
    let source_reuse = smtp_source(true);
    let (ours_reuse, summary_reuse) = ours(&[]);
    let source_new = smtp_source(false);
    let (ours_new, summary_new) = ours(&["--new-connection-per-message"]);
    eprintln!(
        "LOADGEN {MESSAGES} messages of {SIZE} octets over {SESSIONS} sessions to smtp-sink \
         (rates with process start-up):\n  reusing connections: smtp-source -d {source_reuse:.0} msg/s, \
         smtp_client_tokio {ours_reuse:.0} msg/s ({summary_reuse})\n  a connection per message: \
         smtp-source {source_new:.0} msg/s, smtp_client_tokio {ours_new:.0} msg/s ({summary_new})\n  \
         (examples built in {} mode)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
