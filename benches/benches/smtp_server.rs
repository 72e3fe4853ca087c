//! The SMTP server machine (`smtp_proto::server`) through one full transaction, as a
//! pipelining client sends it: EHLO; MAIL, 3 RCPT, DATA; a 10 KiB body and QUIT. A new
//! connection per iteration (greeting included). Criterion reports transactions per second
//! and the body throughput in MB/s.
//!
//! Beside it, in the same run (group `smtp_server_vs_mailin`), the same transaction through
//! mailin 0.6, a sans-IO SMTP server session from crates.io, and through ours again.
//!
//! `cargo bench -p benches --bench smtp_server`

use std::net::{IpAddr, Ipv4Addr};

use benches::smtp_server_mix::{self, BODY_SIZE};
use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use smtp_proto::server::{Config, Connection};

fn transaction(c: &mut Criterion) {
    let writes = smtp_server_mix::client_writes(true);
    let config = Config::default();
    // The same work once, checked, before it is measured.
    let mut conn = Connection::new(config.clone());
    assert_eq!(smtp_server_mix::serve(&mut conn, &writes).0, BODY_SIZE);
    assert!(conn.is_closed());

    let mut group = c.benchmark_group("smtp_server");
    group.throughput(Throughput::Elements(1));
    group.bench_function("transaction", |b| {
        b.iter(|| {
            let mut conn = Connection::new(config.clone());
            black_box(smtp_server_mix::serve(&mut conn, black_box(&writes)))
        })
    });
    group.throughput(Throughput::Bytes(BODY_SIZE as u64));
    group.bench_function("transaction_body_bytes", |b| {
        b.iter(|| {
            let mut conn = Connection::new(config.clone());
            black_box(smtp_server_mix::serve(&mut conn, black_box(&writes)))
        })
    });
    // Steady state: transactions on one long connection (no greeting, no QUIT).
    let steady = smtp_server_mix::client_writes(false);
    let mut conn = Connection::new(config.clone());
    smtp_server_mix::serve(&mut conn, &steady);
    group.throughput(Throughput::Elements(1));
    group.bench_function("transaction_same_connection", |b| {
        b.iter(|| black_box(smtp_server_mix::serve(&mut conn, black_box(&steady[1..]))))
    });
    // The same, with the session going idle after each transaction (the socket loops'
    // `release_idle_buffers` when a read would block): what giving the buffers back costs.
    let mut conn = Connection::new(config.clone());
    smtp_server_mix::serve(&mut conn, &steady);
    group.bench_function("transaction_same_connection_idle_between", |b| {
        b.iter(|| {
            let served = smtp_server_mix::serve(&mut conn, black_box(&steady[1..]));
            conn.release_idle_buffers();
            black_box(served)
        })
    });
    group.finish();
}

/// Ours and mailin 0.6 on one transaction, back to back, a new session per iteration: the
/// greeting, EHLO, MAIL (BODY=8BITMIME, no SIZE=: mailin's MAIL takes no other parameter),
/// 3 RCPT, DATA, the 10 KiB body, the end of data and QUIT, every decision accepted.
///
/// What differs in the work done, beyond the API:
/// - framing: mailin is given one line at a time, so its adapter (here) splits the writes at
///   LF; ours takes the writes as they come (`receive` copies them into its buffer) and
///   frames lines itself, with a line length limit (RFC 5321 section 4.5.3.1.4);
/// - both dot-unstuff the body (RFC 5321 section 4.5.2), but mailin hands it over a line at
///   a time (a call per line), ours in chunks; mailin does not look for a bare CR or LF in the
///   body (ours does, ARCHITECTURE.md security invariant 1) nor bound the message size;
/// - mailin checks MAIL and RCPT paths loosely (any text without `<`, `>`, space) and hands
///   them over as `&str`, copying them into `String`s for its state; ours validates them per
///   RFC 5321 section 4.1.2 and hands over slices of its buffer;
/// - mailin's EHLO reply lists 8BITMIME only; ours lists the default extensions;
/// - mailin allocates per session and per command (a boxed state per transition, the
///   `String`s); ours allocates nothing per transaction once its buffers are warm.
fn versus_mailin(c: &mut Criterion) {
    let writes = smtp_server_mix::client_writes_without_size(true);
    let config = Config::default();
    let mut conn = Connection::new(config.clone());
    assert_eq!(smtp_server_mix::serve(&mut conn, &writes).0, BODY_SIZE);
    assert!(conn.is_closed());
    let builder = mailin::SessionBuilder::new("mx.example");
    let mut out = Vec::new();
    let (delivered, written) = serve_mailin(&builder, &writes, &mut out);
    assert_eq!(delivered, BODY_SIZE, "{}", String::from_utf8_lossy(&out));
    assert!(
        out.ends_with(b"221 Goodbye\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(written > 0);

    let mut group = c.benchmark_group("smtp_server_vs_mailin");
    group.throughput(Throughput::Elements(1));
    group.bench_function("smtp-proto", |b| {
        b.iter(|| {
            let mut conn = Connection::new(config.clone());
            black_box(smtp_server_mix::serve(&mut conn, black_box(&writes)))
        })
    });
    group.bench_function("mailin", |b| {
        b.iter(|| black_box(serve_mailin(&builder, black_box(&writes), &mut out)))
    });
    group.finish();
}

/// mailin's side of the comparison: an application that accepts everything (mailin's
/// `Handler` defaults say 250 to HELO/EHLO, MAIL, RCPT, DATA and the end of data) and counts
/// the message octets it is handed.
struct MailinAccept<'a> {
    data: &'a mut usize,
}

impl mailin::Handler for MailinAccept<'_> {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        *self.data += buf.len();
        Ok(())
    }
}

/// One mailin session over `writes`: mailin takes one line at a time, so the adapter frames
/// them (what our machine does itself, here done on the write in place, without the copy into
/// a receive buffer that our machine makes); replies are written into `out`. Returns (octets
/// of message data delivered, octets of replies written), like `smtp_server_mix::serve`.
fn serve_mailin(
    builder: &mailin::SessionBuilder,
    writes: &[Bytes],
    out: &mut Vec<u8>,
) -> (usize, usize) {
    out.clear();
    let mut data = 0;
    let mut session = builder.build(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        MailinAccept { data: &mut data },
    );
    session.greeting().write_to(out).expect("write to a Vec");
    'session: for write in writes {
        let mut rest = &write[..];
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(end + 1);
            rest = tail;
            let response = session.process(line);
            response.write_to(out).expect("write to a Vec");
            if response.action == mailin::Action::Close {
                break 'session;
            }
        }
    }
    drop(session);
    (data, out.len())
}

criterion_group!(benches, transaction, versus_mailin);
criterion_main!(benches);
