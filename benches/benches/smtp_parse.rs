//! SMTP command and reply parsing on one submission session's mix (`benches::smtp_mix`):
//! smtp-proto (this workspace) beside Stalwart's crates.io smtp-proto 0.2 and, for replies,
//! lettre 0.11, in the same run. Throughput is per item: criterion prints time per mix;
//! divide by the item count (15 commands, 9 replies) for time per item.
//!
//! Ours runs twice: `smtp-proto-borrowed` parses into values that borrow the input
//! (`Command<&[u8]>`, `Reply<&[u8]>`: no reference count, like Stalwart's borrowed parse, the
//! like-for-like comparison), `smtp-proto-bytes` into values holding `Bytes` slices (a
//! reference count per slice, values that may outlive the read buffer), and a third time as
//! the server machine parses (`smtp-proto-server`): borrowed, then only what an event hands
//! to the application (MAIL's and RCPT's paths and parameters) made a slice of the line.
//!
//! `cargo bench -p benches --bench smtp_parse`

use std::str::FromStr;

use benches::smtp_mix;
use bytes::Bytes;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use smtp_proto::{Capabilities, Command, Limits, ParseOptions, Reply};

fn commands_ours(lines: &[Bytes], opts: &ParseOptions) -> usize {
    let mut consumed = 0;
    for line in lines {
        let (command, used) = Command::parse(black_box(line), opts).expect("valid command");
        black_box(&command);
        consumed += used;
    }
    consumed
}

fn commands_borrowed(lines: &[Bytes], opts: &ParseOptions) -> usize {
    let mut consumed = 0;
    for line in lines {
        let (command, used) =
            Command::parse_borrowed(black_box(&line[..]), opts).expect("valid command");
        black_box(&command);
        consumed += used;
    }
    consumed
}

fn commands_server(lines: &[Bytes], opts: &ParseOptions) -> usize {
    let mut consumed = 0;
    for line in lines {
        let line = black_box(line);
        let (command, used) = Command::parse_borrowed(&line[..], opts).expect("valid command");
        match command {
            Command::Mail { from, params } => {
                black_box((from.to_shared(line), params.to_shared(line)));
            }
            Command::Rcpt { to, params } => {
                black_box((to.to_shared(line), params.to_shared(line)));
            }
            command => {
                black_box(&command);
            }
        }
        consumed += used;
    }
    consumed
}

fn commands_stalwart(lines: &[&[u8]]) -> usize {
    let mut parsed = 0;
    for line in lines {
        let request = stalwart_smtp_proto::Request::parse(&mut black_box(*line).iter())
            .expect("valid command");
        black_box(&request);
        parsed += 1;
    }
    parsed
}

fn replies_ours(ehlo: &Bytes, replies: &[Bytes], limits: &Limits) -> usize {
    let (reply, mut consumed) = Reply::parse(black_box(ehlo), limits).expect("valid reply");
    let capabilities = Capabilities::from_reply(&reply).expect("EHLO reply");
    black_box(&capabilities);
    for input in replies {
        let (reply, used) = Reply::parse(black_box(input), limits).expect("valid reply");
        black_box(&reply);
        consumed += used;
    }
    consumed
}

fn replies_borrowed(ehlo: &Bytes, replies: &[Bytes], limits: &Limits) -> usize {
    let (reply, mut consumed) =
        Reply::parse_borrowed(black_box(&ehlo[..]), limits).expect("valid reply");
    let capabilities = Capabilities::from_reply(&reply).expect("EHLO reply");
    black_box(&capabilities);
    for input in replies {
        let (reply, used) =
            Reply::parse_borrowed(black_box(&input[..]), limits).expect("valid reply");
        black_box(&reply);
        consumed += used;
    }
    consumed
}

fn replies_stalwart(ehlo: &[u8], replies: &[&[u8]]) -> usize {
    let capabilities =
        stalwart_smtp_proto::EhloResponse::parse(&mut black_box(ehlo).iter()).expect("EHLO reply");
    black_box(&capabilities);
    for input in replies {
        let reply = stalwart_smtp_proto::response::parser::ResponseReceiver::default()
            .parse(&mut black_box(*input).iter())
            .expect("valid reply");
        black_box(&reply);
    }
    replies.len() + 1
}

fn replies_lettre(ehlo: &str, replies: &[&str]) -> usize {
    let reply =
        lettre::transport::smtp::response::Response::from_str(black_box(ehlo)).expect("EHLO reply");
    black_box(&reply);
    for input in replies {
        let reply = lettre::transport::smtp::response::Response::from_str(black_box(input))
            .expect("valid reply");
        black_box(&reply);
    }
    replies.len() + 1
}

fn bench_commands(c: &mut Criterion) {
    let lines = smtp_mix::as_bytes(smtp_mix::COMMANDS);
    let opts = ParseOptions::default();
    let mut group = c.benchmark_group("smtp_command_mix");
    group.throughput(Throughput::Elements(smtp_mix::COMMANDS.len() as u64));
    group.bench_function("smtp-proto-borrowed", |b| {
        b.iter(|| commands_borrowed(&lines, &opts))
    });
    group.bench_function("smtp-proto-bytes", |b| {
        b.iter(|| commands_ours(&lines, &opts))
    });
    group.bench_function("smtp-proto-server", |b| {
        b.iter(|| commands_server(&lines, &opts))
    });
    group.bench_function("stalwart-smtp-proto", |b| {
        b.iter(|| commands_stalwart(smtp_mix::COMMANDS))
    });
    group.finish();
}

fn bench_replies(c: &mut Criterion) {
    let ehlo = Bytes::copy_from_slice(smtp_mix::EHLO_REPLY);
    let replies = smtp_mix::as_bytes(smtp_mix::REPLIES);
    let limits = Limits::default();
    let ehlo_str = std::str::from_utf8(smtp_mix::EHLO_REPLY).expect("ASCII");
    let replies_str: Vec<&str> = smtp_mix::REPLIES
        .iter()
        .map(|r| std::str::from_utf8(r).expect("ASCII"))
        .collect();
    let mut group = c.benchmark_group("smtp_reply_mix");
    group.throughput(Throughput::Elements(smtp_mix::REPLIES.len() as u64 + 1));
    group.bench_function("smtp-proto-borrowed", |b| {
        b.iter(|| replies_borrowed(&ehlo, &replies, &limits))
    });
    group.bench_function("smtp-proto-bytes", |b| {
        b.iter(|| replies_ours(&ehlo, &replies, &limits))
    });
    group.bench_function("stalwart-smtp-proto", |b| {
        b.iter(|| replies_stalwart(smtp_mix::EHLO_REPLY, smtp_mix::REPLIES))
    });
    group.bench_function("lettre", |b| {
        b.iter(|| replies_lettre(ehlo_str, &replies_str))
    });
    group.finish();
}

criterion_group!(benches, bench_commands, bench_replies);
criterion_main!(benches);
