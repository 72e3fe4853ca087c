//! The SMTP server machine (`smtp_proto::server`) through one full transaction, as a
//! pipelining client sends it: EHLO; MAIL, 3 RCPT, DATA; a 10 KiB body and QUIT. A new
//! connection per iteration (greeting included). Criterion reports transactions per second
//! and the body throughput in MB/s.
//!
//! `cargo bench -p benches --bench smtp_server`

use benches::smtp_server_mix::{self, BODY_SIZE};
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

criterion_group!(benches, transaction);
criterion_main!(benches);
