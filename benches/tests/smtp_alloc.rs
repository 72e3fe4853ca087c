//! Proof that parsing the SMTP bench mix allocates nothing per command or reply once warm:
//! parsed values are slices of the input `Bytes` (reference counts), not copies.

// `GlobalAlloc` is an unsafe trait: implementing it (a thin counter over `System`) needs
// `unsafe`, and only here.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::smtp_mix;
use bytes::Bytes;
use smtp_proto::{Capabilities, Command, Limits, ParseOptions, Reply};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

// The only test of this binary: the counter is global, and tests of one binary run in parallel.
#[test]
fn parsing_the_mix_allocates_nothing_once_warm() {
    let lines = smtp_mix::as_bytes(smtp_mix::COMMANDS);
    let ehlo = Bytes::copy_from_slice(smtp_mix::EHLO_REPLY);
    let replies = smtp_mix::as_bytes(smtp_mix::REPLIES);
    let opts = ParseOptions::default();
    let limits = Limits::default();
    // The counter moves (so a zero below means something).
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    drop(std::hint::black_box(vec![1u8; 64]));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > before);
    // Borrowed parsing (`Command<&[u8]>`, `Reply<&[u8]>`) allocates nothing, not even
    // before the warm-up below: it never touches a `Bytes`.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut items = 0;
    for _ in 0..100 {
        items += parse_commands_borrowed(&lines, &opts);
        items += parse_replies_borrowed(&ehlo, &replies, &limits);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
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

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut items = 0;
    for _ in 0..100 {
        items += parse_commands(&lines, &opts);
        items += parse_replies(&ehlo, &replies, &limits);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(
        items,
        100 * (smtp_mix::COMMANDS.len() + smtp_mix::REPLIES.len() + 1)
    );
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {items} parsed items"
    );
}
