//! Proof that the SMTP server machine allocates nothing per transaction once warm: commands
//! and message data are slices of the receive buffer (reference counts), replies are written
//! into a reused buffer, events go through a reused queue.

use benches::alloc_counter::{CountingAllocator, count_allocations};
use benches::smtp_server_mix::{self, BODY_SIZE};
use smtp_proto::server::{Config, Connection};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn server_transactions_allocate_nothing_once_warm() {
    let writes = smtp_server_mix::client_writes(false);
    let mut conn = Connection::new(Config::default());
    // Warm-up: the greeting, EHLO, and a few transactions size the buffers.
    assert_eq!(smtp_server_mix::serve(&mut conn, &writes).0, BODY_SIZE);
    for _ in 0..4 {
        smtp_server_mix::serve(&mut conn, &writes[1..]);
    }
    let (delivered, allocations) = count_allocations(|| {
        let mut delivered = 0;
        for _ in 0..100 {
            delivered += smtp_server_mix::serve(&mut conn, &writes[1..]).0;
        }
        delivered
    });
    assert_eq!(delivered, 100 * BODY_SIZE);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in 100 transactions"
    );
}
