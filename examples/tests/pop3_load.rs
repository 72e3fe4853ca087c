//! Load: 1000 messages of 10 KiB fetched by the tokio client from the tokio server
//! and from Dovecot, and by Python's poplib from both, in the same run; prints messages/s and
//! MB/s of each pairing. Real figures need the release profile:
//! `cargo build --release -p examples --examples` then
//! `MAIL_INTEROP=required cargo test --release -p examples --test pop3_load -- --nocapture`.
//!
//! A test binary of its own: cargo runs test binaries one after another, so no other test
//! competes for the CPU, or deletes its files (see `load_support`), while this one measures.

mod load_support;
mod pop3_support;

use std::time::{Duration, Instant};

use pop3_support::dovecot::Dovecot;
use pop3_support::{
    ALICE, Pop3Server, PoplibStore, TestCert, fill_maildir, maildir_count, our_client,
    peer_available, poplib,
};

/// `messages/s` and `MB/s` of a run.
fn rates(messages: usize, octets: u64, seconds: f64) -> (f64, f64) {
    (messages as f64 / seconds, octets as f64 / seconds / 1e6)
}

/// 1000 messages of 10 KiB, fetched by the tokio client from the tokio server and from
/// Dovecot, and by poplib from both, in one run. Prints messages/s and MB/s of each pairing
/// (figures of the build profile the test runs in: `--release` for real ones).
#[test]
fn load_1000_messages_of_10_kib() {
    const COUNT: usize = 1000;
    let have_dovecot = Dovecot::available();
    let have_python = peer_available("python3", &["--version"]);
    // Under cargo's target/tmp, not the system's temporary directory where the other test
    // binaries delete theirs: ext4 puts a directory's files near it, so the downloads do not
    // pay for those deletions (see `load_support`).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cert = TestCert::generate(dir.path());
    let mut messages = Vec::with_capacity(COUNT);
    for n in 0..COUNT {
        let mut message =
            format!("Subject: load {n}\r\nFrom: load@example.com\r\n\r\n").into_bytes();
        let mut line = 0;
        while message.len() < 10 * 1024 - 80 {
            message.extend_from_slice(format!("{line:05} {}\r\n", "z".repeat(70)).as_bytes());
            line += 1;
        }
        messages.push((format!("load{n}"), message));
    }
    let ours_root = dir.path().join("ours");
    let wire = fill_maildir(&ours_root.join("alice"), &messages);
    let total: u64 = wire.iter().map(|m| m.len() as u64).sum();
    let server = Pop3Server::start("tokio", &ours_root, &cert, &[ALICE], &[]);
    let dovecot = have_dovecot.then(|| {
        let dovecot = Dovecot::start(&dir.path().join("dovecot"), &cert, &[ALICE]);
        fill_maildir(&dovecot.maildir("alice"), &messages);
        dovecot.chown_mail();
        dovecot
    });
    // Every pairing starts with the disk's write-back done (`sync`): otherwise a pairing pays
    // for the set-up's or the previous pairing's writes (its client's fsyncs wait behind them).
    // The cost of creating a file is printed with each figure (see `load_support`).
    let creation_cost = std::cell::Cell::new(Duration::ZERO);
    let settle_disk = || {
        let _ = std::process::Command::new("sync").status();
        creation_cost.set(load_support::file_creation_cost(dir.path()));
    };
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let report = |pairing: &str, messages: usize, octets: u64, seconds: f64| {
        assert_eq!(messages, COUNT, "{pairing}");
        assert_eq!(octets, total, "{pairing}");
        let (mps, mbps) = rates(messages, octets, seconds);
        let creation = creation_cost.get().as_micros();
        eprintln!(
            "load ({profile}): {pairing:<38} {messages} messages in {seconds:.3} s: \
             {mps:.0} messages/s, {mbps:.1} MB/s (creating a file: {creation} us)"
        );
    };
    let mut servers = vec![("tokio server", server.plain)];
    if let Some(dovecot) = &dovecot {
        servers.push(("dovecot", dovecot.plain));
    }
    for (name, addr) in &servers {
        let inbox = dir.path().join(format!("inbox-{}", name.replace(' ', "-")));
        settle_disk();
        let started = Instant::now();
        let summary = our_client(
            "tokio",
            &[
                "--server",
                &addr.to_string(),
                "--stls",
                "--ca",
                cert.cert.to_str().unwrap(),
                "--user",
                "alice",
                "--pass",
                "wonder land",
            ],
            &inbox,
        );
        let seconds = started.elapsed().as_secs_f64();
        let fields: Vec<&str> = summary.split_whitespace().collect();
        report(
            &format!("tokio client <- {name}"),
            fields[0].parse().unwrap(),
            fields[2].parse().unwrap(),
            seconds,
        );
        assert_eq!(maildir_count(&inbox), COUNT);
        if have_python {
            settle_disk();
            let started = Instant::now();
            let (count, octets, _) = poplib("stls", *addr, ALICE, &cert, "-", PoplibStore::Nothing);
            report(
                &format!("python poplib <- {name}"),
                count,
                octets,
                started.elapsed().as_secs_f64(),
            );
            // Like for like with our client, which stores every message durably.
            let saved = dir
                .path()
                .join(format!("poplib-{}", name.replace(' ', "-")));
            settle_disk();
            let started = Instant::now();
            let (count, octets, _) = poplib(
                "stls",
                *addr,
                ALICE,
                &cert,
                "-",
                PoplibStore::Maildir(&saved),
            );
            report(
                &format!("python poplib <- {name}, saving"),
                count,
                octets,
                started.elapsed().as_secs_f64(),
            );
            assert_eq!(maildir_count(&saved), COUNT);
        }
    }
}
