//! Proof that the SMTP server machine allocates nothing per transaction once warm: commands
//! and message data are slices of the receive buffer (reference counts), replies are written
//! into a reused buffer, events go through a reused queue.

// `GlobalAlloc` is an unsafe trait: implementing it (a thin counter over `System`) needs
// `unsafe`, and only here.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use benches::smtp_server_mix::{self, BODY_SIZE};
use smtp_proto::server::{Config, Connection};

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

#[test]
fn server_transactions_allocate_nothing_once_warm() {
    let writes = smtp_server_mix::client_writes(false);
    let mut conn = Connection::new(Config::default());
    // Warm-up: the greeting, EHLO, and a few transactions size the buffers.
    assert_eq!(smtp_server_mix::serve(&mut conn, &writes).0, BODY_SIZE);
    for _ in 0..4 {
        smtp_server_mix::serve(&mut conn, &writes[1..]);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut delivered = 0;
    for _ in 0..100 {
        delivered += smtp_server_mix::serve(&mut conn, &writes[1..]).0;
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(delivered, 100 * BODY_SIZE);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in 100 transactions"
    );
}
