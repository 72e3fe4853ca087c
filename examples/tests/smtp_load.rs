//! Load: postfix's `smtp-source` sends 2000 messages of 10 KiB over 20 concurrent
//! sessions to the tokio server with a Maildir (all 2000 must be stored), then the same to
//! the server syncing only the message files (`--fsync file`), to postfix's `smtp-sink` and
//! to the tokio server in sink mode, in the same run. The rates are
//! printed (`cargo test -p examples --test smtp_load -- --nocapture`), not asserted: they
//! depend on the machine and on the build profile (`cargo test` builds the examples in debug).
//!
//! A test binary of its own: cargo runs test binaries one after another, so no other test
//! competes for the CPU, or deletes its files (see `load_support`), while this one measures.

mod load_support;
mod smtp_support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use smtp_support::*;

const MESSAGES: usize = 2000;
const SESSIONS: usize = 20;
const SIZE: usize = 10 * 1024;

/// Runs smtp-source against `addr`; gives messages per second.
fn blast(source: &std::path::Path, addr: SocketAddr, to: &str) -> f64 {
    let mut c = Command::new(source);
    c.args(["-s", &SESSIONS.to_string(), "-m", &MESSAGES.to_string()])
        .args(["-l", &SIZE.to_string(), "-M", "source.example.test"])
        .args(["-f", "load@example.test", "-t", to])
        .arg(addr.to_string());
    let start = Instant::now();
    run_ok(c, b"");
    MESSAGES as f64 / start.elapsed().as_secs_f64()
}

#[test]
fn smtp_source_2000_messages_to_maildir_smtp_sink_and_sink_mode() {
    let Some(source) = peer("smtp-source") else {
        return;
    };
    let Some(sink) = peer("smtp-sink") else {
        return;
    };

    // 1. The tokio server delivering into a Maildir: every message stored; then again,
    // syncing only the files. The server places each Maildir in a block group of its own
    // (see `create_data_root` in the store), away from the files other tests delete, so the
    // cost of creating a file is measured where the mail went. Both are deleted only at the
    // end, so that neither pays for the other's deletion (see `load_support`); a rerun within
    // minutes may still pay for this run's.
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let maildir = Server::start_in(parent, "smtp_server_tokio", true, &[]);
    let maildir_root = maildir.maildir.clone().unwrap();
    let maildir_rate = blast(&source, maildir.addr, "load@localhost");
    let creation = load_support::file_creation_cost(&maildir_root.join("load")).as_micros();
    let file_only = Server::start_in(parent, "smtp_server_tokio", true, &["--fsync", "file"]);
    let file_only_rate = blast(&source, file_only.addr, "load@localhost");
    for server in [&maildir, &file_only] {
        let root = server.maildir.as_ref().unwrap().join("load");
        assert_eq!(count_files(&root.join("new")), MESSAGES, "messages stored");
        assert_eq!(count_files(&root.join("tmp")), 0, "partial files left");
    }

    // 2. postfix's smtp-sink.
    let smtp_sink = start_sink(sink, &[]);
    let sink_rate = blast(&source, smtp_sink.addr, "load@localhost");
    drop(smtp_sink);

    // 3. The tokio server in sink mode: counts every message (logged when it stops).
    let mut counting = Server::start("smtp_server_tokio", false, &[]);
    let sink_mode_rate = blast(&source, counting.addr, "load@localhost");
    let stopped = Command::new("kill")
        .args(["-INT", &counting.proc.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    counting
        .proc
        .wait(Duration::from_secs(15))
        .expect("the sink-mode server did not stop");
    let log = counting.proc.log();
    assert!(
        log.contains(&format!("sink totals messages={MESSAGES}")),
        "sink mode did not count {MESSAGES} messages:\n{}",
        log.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );

    drop((maildir, file_only));

    eprintln!(
        "LOAD smtp-source -s {SESSIONS} -m {MESSAGES} -l {SIZE}: \
         smtp-sink {sink_rate:.0} msg/s, tokio sink mode {sink_mode_rate:.0} msg/s, \
         tokio maildir {maildir_rate:.0} msg/s, with --fsync file {file_only_rate:.0} msg/s \
         (creating a file in its Maildir: {creation} us) (examples built in {} mode)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
