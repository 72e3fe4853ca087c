//! An SMTP server on tokio: STARTTLS and implicit TLS, AUTH PLAIN/LOGIN, Maildir delivery or
//! sink mode, no open relay. `--help` lists the flags.
//!
//! ```text
//! cargo run -p examples --example smtp_server_tokio -- --maildir /tmp/mail --user alice:secret
//! ```

use std::process::ExitCode;

use adapters::smtp::args::ServerArgs;
use clap::Parser;

// One event-loop thread, as smtp-sink has: SMTP sessions are I/O-bound and cheap, and the
// work-stealing scheduler's cross-thread wake-ups cost more than they give on the load test
// (smtp-source, 20 sessions). Delivery (file writes, fsync) runs on tokio's blocking pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = ServerArgs::parse();
    adapters::cli::init_logging();
    match adapters::smtp::server_tokio::serve(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp_server_tokio: {error}");
            ExitCode::FAILURE
        }
    }
}
