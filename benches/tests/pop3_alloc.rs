//! Parsing the POP3 bench mix allocates nothing per item: parsed values hold `Bytes`
//! slices (reference counts), never copies.

use benches::alloc_counter::{CountingAllocator, count_allocations};
use benches::pop3_mix::{self, COMMAND_COUNT};
use pop3_proto::{Command, Limits};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made by `work`, run `rounds` times after one warm-up run (which may promote
/// a `Vec`-backed `Bytes` to a shared one, once per buffer).
fn allocations(rounds: usize, mut work: impl FnMut() -> usize) -> usize {
    std::hint::black_box(work());
    count_allocations(|| {
        for _ in 0..rounds {
            std::hint::black_box(work());
        }
    })
    .1
}

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
