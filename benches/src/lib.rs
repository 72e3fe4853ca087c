//! Shared workloads for the benches and the allocation tests.

pub mod body;
pub mod pop3_mix;
pub mod smtp_mix;
pub mod smtp_server_mix;
