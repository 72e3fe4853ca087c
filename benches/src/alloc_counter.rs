//! A counting global allocator for the allocation tests (`benches/tests/*_alloc.rs`): it
//! forwards every call to the system allocator and counts the allocations one thread makes
//! while it has counting switched on. Counting per thread keeps the test harness's own
//! threads (output capture, other tests) out of the figure.
//!
//! A test binary installs it with
//! `#[global_allocator] static GLOBAL: CountingAllocator = CountingAllocator;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator; see the module docs.
pub struct CountingAllocator;

thread_local! {
    // `const` initialisers: reading them never allocates (no recursion into the allocator).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    /// Octets allocated minus octets freed by this thread while counting was on.
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        COUNT.with(|count| count.set(count.get() + 1));
    }
}

/// Notes `delta` octets taken (positive) or given back (negative), while counting is on.
fn hold(delta: isize) {
    if COUNTING.with(Cell::get) {
        HELD.with(|held| held.set(held.get().saturating_add(delta)));
    }
}

/// An allocation's size as a signed count (sizes never exceed `isize::MAX`: `Layout` says so).
fn octets(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches only
// const-initialised thread-locals, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        hold(octets(layout.size()));
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        hold(octets(layout.size()));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        hold(octets(new_size) - octets(layout.size()));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        hold(-octets(layout.size()));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Switches counting on or off for this thread.
pub fn set_counting(on: bool) {
    COUNTING.with(|counting| counting.set(on));
}

/// Allocations this thread made while counting was on, since the thread started.
pub fn counted() -> usize {
    COUNT.with(Cell::get)
}

/// Runs `work` with counting on; gives its result and the allocations this thread made in it.
pub fn count_allocations<R>(work: impl FnOnce() -> R) -> (R, usize) {
    let before = counted();
    set_counting(true);
    let result = work();
    set_counting(false);
    (result, counted() - before)
}

/// Runs `work` with counting on; gives its result and the heap octets it left held: allocated
/// and not freed by this thread (what a value built in `work` and returned keeps alive).
/// Allocator bookkeeping and rounding are not included: these are the octets asked for.
pub fn heap_held<R>(work: impl FnOnce() -> R) -> (R, isize) {
    let before = HELD.with(Cell::get);
    set_counting(true);
    let result = work();
    set_counting(false);
    (result, HELD.with(Cell::get) - before)
}
