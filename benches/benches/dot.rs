//! Dot-unstuffing a 1 MiB message: ours beside memcpy, a `memmem` scan for the terminator,
//! and Stalwart's smtp-proto 0.2 `DataReceiver`, in the same run.
//!
//! `cargo bench -p benches --bench dot`

use benches::body;
use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use mail_wire::dot::{DotDecoder, DotEncoder, DotEvent};

const SIZE: usize = 1 << 20;

fn decode_ours(wire: &Bytes) -> u64 {
    let mut input = wire.clone();
    let mut decoder = DotDecoder::new();
    let mut total = 0;
    while let Some(event) = decoder.decode_bytes(&mut input) {
        match event {
            DotEvent::Data(chunk) => total += chunk.len() as u64,
            DotEvent::End(summary) => return summary.size + total,
        }
    }
    unreachable!("the body is complete")
}

fn decode_stalwart(wire: &[u8], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut receiver = stalwart_smtp_proto::request::receiver::DataReceiver::new();
    let mut iter = wire.iter();
    assert!(receiver.ingest(&mut iter, out));
    out.len()
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("dot_decode_1MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    // About 80 stuffed lines in 1 MiB (one line in 170), and every line stuffed.
    for (name, dot_every) in [("normal", 170), ("all_stuffed", 1)] {
        let wire = body::stuffed(&body::message(SIZE, dot_every));
        let bytes = Bytes::from(wire.clone());
        group.bench_with_input(BenchmarkId::new("mail-wire", name), &bytes, |b, w| {
            b.iter(|| decode_ours(black_box(w)))
        });
        let mut out = Vec::with_capacity(wire.len());
        group.bench_with_input(
            BenchmarkId::new("stalwart-smtp-proto", name),
            &wire,
            |b, w| b.iter(|| decode_stalwart(black_box(w), &mut out)),
        );
        let mut copy = vec![0u8; wire.len()];
        group.bench_with_input(BenchmarkId::new("memcpy", name), &wire, |b, w| {
            b.iter(|| {
                copy.copy_from_slice(black_box(w));
                black_box(&copy);
            })
        });
        let finder = memchr::memmem::Finder::new(b"\r\n.\r\n");
        group.bench_with_input(BenchmarkId::new("memmem", name), &wire, |b, w| {
            b.iter(|| finder.find(black_box(w)))
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("dot_encode_1MiB");
    group.throughput(Throughput::Bytes(SIZE as u64));
    for (name, dot_every) in [("normal", 170), ("all_stuffed", 1)] {
        let message = body::message(SIZE, dot_every);
        let mut out = BytesMut::with_capacity(SIZE * 2);
        group.bench_with_input(BenchmarkId::new("mail-wire", name), &message, |b, m| {
            b.iter(|| {
                out.clear();
                let mut encoder = DotEncoder::new();
                // In 64 KiB pieces, as a socket adapter would push them.
                for piece in m.chunks(64 * 1024) {
                    encoder.encode(black_box(piece), &mut out);
                }
                encoder.finish(&mut out);
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_encode);
criterion_main!(benches);
