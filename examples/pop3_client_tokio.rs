//! Downloads a POP3 maildrop into a local Maildir, on tokio.
//!
//! ```text
//! cargo run --example pop3_client_tokio -- --server localhost:9950 --tls --ca cert.pem \
//!     --user alice --pass secret --out ./downloaded [--delete]
//! ```
//!
//! Without `--delete` mail stays on the server and the unique-ids downloaded are remembered in
//! the output Maildir, so the next run fetches only new messages. Prints a summary line.

use std::process::ExitCode;

use adapters::pop3::client::ClientArgs;
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = ClientArgs::parse();
    adapters::cli::init_logging();
    match adapters::pop3::client_tokio::run(&args).await {
        Ok(summary) => {
            summary.print();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("pop3_client_tokio: {error}");
            ExitCode::FAILURE
        }
    }
}
