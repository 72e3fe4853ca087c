//! A POP3 server over Maildirs, one thread per connection: user U's maildrop is the Maildir
//! `DIR/U`.
//!
//! ```text
//! cargo run --example pop3_server_blocking -- --maildir ./mail --user alice:secret --tls-listen 127.0.0.1:9950
//! ```
//!
//! Plain POP3 with STLS on `--listen` (default 127.0.0.1:1100), implicit TLS on `--tls-listen`;
//! a self-signed certificate unless `--cert`/`--key`. Deletions apply at QUIT only. Ctrl-C stops.

use std::process::ExitCode;

use adapters::pop3::server::ServerArgs;
use clap::Parser;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    adapters::cli::init_logging();
    match adapters::pop3::server_blocking::serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pop3_server_blocking: {error}");
            ExitCode::FAILURE
        }
    }
}
