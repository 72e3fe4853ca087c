//! Sends one message with `smtp-proto`'s client on tokio; prints each recipient's result and
//! the final reply; exit status 0 only when everything was accepted. `--help` lists the flags.
//!
//! ```text
//! cargo run -p examples --example smtp_client_tokio -- --server localhost:2525 \
//!     --from me@localhost --to alice@localhost message.eml
//! ```

use std::process::ExitCode;

use adapters::smtp::args::ClientArgs;
use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = ClientArgs::parse();
    adapters::cli::init_logging();
    match adapters::smtp::client_tokio::send(args).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp_client_tokio: {error}");
            ExitCode::FAILURE
        }
    }
}
