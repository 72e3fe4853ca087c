//! Shared workloads for the benches and the allocation tests.

pub mod alloc_counter;
pub mod body;
pub mod pop3_mix;
pub mod smtp_mix;
pub mod smtp_server_mix;
