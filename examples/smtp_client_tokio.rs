//! Sends one message with `smtp-proto`'s client on tokio; prints each recipient's result and
//! the final reply; exit status 0 only when everything was accepted. `--help` lists the flags.
//!
//! ```text
//! cargo run -p examples --example smtp_client_tokio -- --server localhost:2525 \
//!     --from me@localhost --to alice@localhost message.eml
//! ```
//!
//! With `--count N` it is a load generator instead (see `adapters::smtp::loadgen`): N
//! generated messages over `--concurrency C` sessions, reusing each connection unless
//! `--new-connection-per-message`; one summary line on stdout, exit status 0 only when every
//! message got its 250.
//!
//! ```text
//! smtp_client_tokio --server 127.0.0.1:2525 --from load@localhost --to sink@localhost \
//!     --count 2000 --concurrency 20 --size 10240
//! ```

use std::process::ExitCode;

use adapters::smtp::args::ClientArgs;
use clap::Parser;

fn main() -> ExitCode {
    let args = ClientArgs::parse();
    adapters::cli::init_logging();
    // One message: one thread is plenty. A load: every core.
    let runtime = if args.load.count.is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smtp_client_tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        if args.load.count.is_some() {
            adapters::smtp::loadgen::run(args).await
        } else {
            adapters::smtp::client_tokio::send(args).await.map(|_| true)
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("smtp_client_tokio: {error}");
            ExitCode::FAILURE
        }
    }
}
