//! An SMTP server with blocking sockets, one thread per connection: the same flags and
//! behaviour as `smtp_server_tokio`. `--help` lists the flags.
//!
//! ```text
//! cargo run -p examples --example smtp_server_blocking -- --maildir /tmp/mail --user alice:secret
//! ```

use std::process::ExitCode;

use adapters::smtp::args::ServerArgs;
use clap::Parser;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    adapters::cli::init_logging();
    match adapters::smtp::server_blocking::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("smtp_server_blocking: {error}");
            ExitCode::FAILURE
        }
    }
}
