//! Parsing POP3: a command mix (one download session, 61 commands) and a response mix
//! (greeting with APOP timestamp, `+OK`/`-ERR` with response codes, STAT, 100-line LIST and
//! UIDL, 10-line CAPA), each in MB/s and in ns per item. `commands/bytes` parses the
//! session as one pipelined buffer; `commands/bytes_per_line` gives each command its own
//! `Bytes`, the way `smtp_parse` measures SMTP commands. `smtp_reference` parses
//! `smtp_parse`'s SMTP command mix the same way, in MB/s, for the per-byte comparison
//! within one run.
//!
//! `cargo bench -p benches --bench pop3_parse`

use benches::pop3_mix::{self, COMMAND_COUNT};
use benches::smtp_mix;
use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use pop3_proto::Limits;

fn commands(c: &mut Criterion) {
    let limits = Limits::default();
    let input = pop3_mix::commands();
    assert!(pop3_mix::parse_commands(&input, &limits) > 0);
    let mut group = c.benchmark_group("pop3_parse/commands");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("bytes", |b| {
        b.iter(|| pop3_mix::parse_commands(black_box(&input), &limits))
    });
    // Each command in its own `Bytes`, as `smtp_parse` feeds SMTP commands.
    let lines = pop3_mix::command_lines();
    assert_eq!(lines.len(), COMMAND_COUNT);
    group.bench_function("bytes_per_line", |b| {
        b.iter(|| pop3_mix::parse_command_lines(black_box(&lines), &limits))
    });
    group.throughput(Throughput::Elements(COMMAND_COUNT as u64));
    group.bench_function("items", |b| {
        b.iter(|| pop3_mix::parse_commands(black_box(&input), &limits))
    });
    group.finish();
}

fn responses(c: &mut Criterion) {
    let limits = Limits::default();
    let mix = pop3_mix::responses();
    let mut group = c.benchmark_group("pop3_parse/responses");
    group.throughput(Throughput::Bytes(pop3_mix::response_octets(&mix) as u64));
    group.bench_function("bytes", |b| {
        b.iter(|| pop3_mix::parse_responses(black_box(&mix), &limits))
    });
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.bench_function("items", |b| {
        b.iter(|| pop3_mix::parse_responses(black_box(&mix), &limits))
    });
    group.finish();
}

/// The SMTP command mix of `smtp_parse`, parsed the same way but reported in bytes, so that
/// this run prints both parsers' MB/s side by side (the target: POP3 commands at least as
/// fast per byte as SMTP commands).
fn smtp_reference(c: &mut Criterion) {
    let lines = smtp_mix::as_bytes(smtp_mix::COMMANDS);
    let octets: usize = lines.iter().map(Bytes::len).sum();
    let opts = smtp_proto::ParseOptions::default();
    let mut group = c.benchmark_group("pop3_parse/smtp_reference");
    group.throughput(Throughput::Bytes(octets as u64));
    // As `smtp_parse`'s `smtp-proto-bytes` (values holding `Bytes`, like POP3's `Command`).
    group.bench_function("commands_bytes_per_line", |b| {
        b.iter(|| {
            let mut consumed = 0;
            for line in &lines {
                let (command, used) =
                    smtp_proto::Command::parse(black_box(line), &opts).expect("valid command");
                black_box(&command);
                consumed += used;
            }
            consumed
        })
    });
    // As `smtp_parse`'s `smtp-proto-borrowed` (values borrowing the line).
    group.bench_function("commands_borrowed_per_line", |b| {
        b.iter(|| {
            let mut consumed = 0;
            for line in &lines {
                let (command, used) =
                    smtp_proto::Command::parse_borrowed(black_box(&line[..]), &opts)
                        .expect("valid command");
                black_box(&command);
                consumed += used;
            }
            consumed
        })
    });
    group.finish();
}

criterion_group!(pop3_parse, commands, responses, smtp_reference);
criterion_main!(pop3_parse);
