//! Proof that parsing the SMTP bench mix allocates nothing per command or reply once warm:
//! parsed values are slices of the input `Bytes` (reference counts), not copies.

use benches::alloc_counter::{CountingAllocator, count_allocations};
use benches::smtp_mix;
use bytes::Bytes;
use smtp_proto::{Capabilities, Command, Limits, ParseOptions, Reply};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn parse_commands(lines: &[Bytes], opts: &ParseOptions) -> usize {
    let mut parsed = 0;
    for line in lines {
        let (command, _) = Command::parse(line, opts).expect("valid command");
        std::hint::black_box(&command);
        parsed += 1;
    }
    parsed
}

fn parse_commands_borrowed(lines: &[Bytes], opts: &ParseOptions) -> usize {
    let mut parsed = 0;
    for line in lines {
        let (command, _) = Command::parse_borrowed(&line[..], opts).expect("valid command");
        std::hint::black_box(&command);
        parsed += 1;
    }
    parsed
}

fn parse_replies_borrowed(ehlo: &[u8], replies: &[Bytes], limits: &Limits) -> usize {
    let (reply, _) = Reply::parse_borrowed(ehlo, limits).expect("valid reply");
    let capabilities = Capabilities::from_reply(&reply).expect("EHLO reply");
    assert_eq!(capabilities.auth_mechanisms().count(), 3);
    std::hint::black_box(&capabilities);
    let mut parsed = 1;
    for input in replies {
        let (reply, _) = Reply::parse_borrowed(&input[..], limits).expect("valid reply");
        assert!(reply.lines().count() >= 1);
        std::hint::black_box(&reply);
        parsed += 1;
    }
    parsed
}

fn parse_replies(ehlo: &Bytes, replies: &[Bytes], limits: &Limits) -> usize {
    let (reply, _) = Reply::parse(ehlo, limits).expect("valid reply");
    let capabilities = Capabilities::from_reply(&reply).expect("EHLO reply");
    assert_eq!(capabilities.auth_mechanisms().count(), 3);
    std::hint::black_box(&capabilities);
    let mut parsed = 1;
    for input in replies {
        let (reply, _) = Reply::parse(input, limits).expect("valid reply");
        assert!(reply.lines().count() >= 1);
        std::hint::black_box(&reply);
        parsed += 1;
    }
    parsed
}

#[test]
fn parsing_the_mix_allocates_nothing_once_warm() {
    let lines = smtp_mix::as_bytes(smtp_mix::COMMANDS);
    let ehlo = Bytes::copy_from_slice(smtp_mix::EHLO_REPLY);
    let replies = smtp_mix::as_bytes(smtp_mix::REPLIES);
    let opts = ParseOptions::default();
    let limits = Limits::default();
    // The counter moves (so a zero below means something).
    let ((), moved) = count_allocations(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert!(moved > 0);
    // Borrowed parsing (`Command<&[u8]>`, `Reply<&[u8]>`) allocates nothing, not even
    // before the warm-up below: it never touches a `Bytes`.
    let (items, allocations) = count_allocations(|| {
        let mut items = 0;
        for _ in 0..100 {
            items += parse_commands_borrowed(&lines, &opts);
            items += parse_replies_borrowed(&ehlo, &replies, &limits);
        }
        items
    });
    assert_eq!(
        items,
        100 * (smtp_mix::COMMANDS.len() + smtp_mix::REPLIES.len() + 1)
    );
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {items} borrowed parses"
    );

    // Warm-up: the first slice of a `Bytes` made from a `Vec` turns it into a shared buffer
    // (one allocation per buffer, once).
    parse_commands(&lines, &opts);
    parse_replies(&ehlo, &replies, &limits);

    let (items, allocations) = count_allocations(|| {
        let mut items = 0;
        for _ in 0..100 {
            items += parse_commands(&lines, &opts);
            items += parse_replies(&ehlo, &replies, &limits);
        }
        items
    });
    assert_eq!(
        items,
        100 * (smtp_mix::COMMANDS.len() + smtp_mix::REPLIES.len() + 1)
    );
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {items} parsed items"
    );
}
