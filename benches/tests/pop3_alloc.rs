//! Parsing the POP3 bench mix allocates nothing per item: parsed values hold `Bytes`
//! slices (reference counts), never copies.
//!
//! `#![allow(unsafe_code)]` is needed only because `GlobalAlloc` is an unsafe trait; the
//! counter below adds no unsafe operation of its own beyond forwarding to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::pop3_mix::{self, COMMAND_COUNT};
use pop3_proto::{Command, Limits};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only the measuring thread counts: the test harness allocates on its own threads.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by `work`, run `rounds` times after one warm-up run (which may promote
/// a `Vec`-backed `Bytes` to a shared one, once per buffer).
fn allocations(rounds: usize, mut work: impl FnMut() -> usize) -> usize {
    std::hint::black_box(work());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|counting| counting.set(true));
    for _ in 0..rounds {
        std::hint::black_box(work());
    }
    COUNTING.with(|counting| counting.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// One test function: the counter is global, and tests in one binary run on threads.
#[test]
fn parsing_the_pop3_mix_allocates_nothing() {
    let limits = Limits::default();

    let commands = pop3_mix::commands();
    let mut count = 0;
    let mut rest = commands.clone();
    while let Ok((_, used)) = Command::parse(&rest, &limits) {
        count += 1;
        rest = rest.slice(used..);
    }
    assert_eq!(count, COMMAND_COUNT);
    assert_eq!(
        allocations(100, || pop3_mix::parse_commands(&commands, &limits)),
        0,
        "commands"
    );

    let lines = pop3_mix::command_lines();
    assert_eq!(
        allocations(100, || pop3_mix::parse_command_lines(&lines, &limits)),
        0,
        "command lines"
    );

    let responses = pop3_mix::responses();
    assert_eq!(
        allocations(100, || pop3_mix::parse_responses(&responses, &limits)),
        0,
        "responses"
    );

    // The counter counts: a Vec allocates.
    assert!(allocations(1, || std::hint::black_box(vec![1u8; 64]).len()) > 0);
}
