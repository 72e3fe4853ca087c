//! Sends one message with `smtp-proto`'s client over a blocking socket: the same flags and
//! behaviour as `smtp_client_tokio`. `--help` lists the flags.
//!
//! ```text
//! cargo run -p examples --example smtp_client_blocking -- --server localhost:2525 \
//!     --from me@localhost --to alice@localhost message.eml
//! ```

use std::process::ExitCode;

use adapters::smtp::args::ClientArgs;
use clap::Parser;

fn main() -> ExitCode {
    let args = ClientArgs::parse();
    adapters::cli::init_logging();
    match adapters::smtp::client_blocking::send(args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp_client_blocking: {error}");
            ExitCode::FAILURE
        }
    }
}
