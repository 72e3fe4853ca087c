//! The one serve/stop shape of the four servers (`adapters::serve`): each runs from its flags
//! with `serve_until(args, shutdown)`, serves while `shutdown` has not come, and returns `Ok`
//! soon after it comes, its listeners closed.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use adapters::serve::Shutdown;
use clap::Parser;

/// A port free now (the server binds it right after; loopback only).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn smtp_args(addr: SocketAddr, root: &Path) -> adapters::smtp::args::ServerArgs {
    let (addr, root) = (addr.to_string(), root.to_str().unwrap());
    let argv = [
        "smtp",
        "--listen",
        &addr,
        "--maildir",
        root,
        "--shutdown-grace",
        "1",
    ];
    adapters::smtp::args::ServerArgs::try_parse_from(argv).unwrap()
}

fn pop3_args(addr: SocketAddr, root: &Path) -> adapters::pop3::server::ServerArgs {
    let (addr, root) = (addr.to_string(), root.to_str().unwrap());
    let argv = [
        "pop3",
        "--listen",
        &addr,
        "--maildir",
        root,
        "--user",
        "alice:pw",
    ];
    let argv = argv.into_iter().chain(["--shutdown-grace", "1"]);
    adapters::pop3::server::ServerArgs::try_parse_from(argv).unwrap()
}

/// Waits until `addr` greets with `greeting`: the server runs.
fn greets(addr: SocketAddr, greeting: &str) {
    use std::io::{BufRead, BufReader};
    for _ in 0..200 {
        if let Ok(tcp) = TcpStream::connect(addr) {
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut line = String::new();
            BufReader::new(tcp).read_line(&mut line).unwrap();
            assert!(line.starts_with(greeting), "{line}");
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {addr}");
}

/// Runs `serve` on a thread, checks that `addr` greets, stops it with `stop`, and checks that
/// it returned `Ok` and no longer listens.
fn serves_until_stopped(
    addr: SocketAddr,
    greeting: &str,
    serve: impl FnOnce() -> Result<(), String> + Send + 'static,
    stop: impl FnOnce(),
) {
    let (done, returned) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(serve());
    });
    greets(addr, greeting);
    assert!(returned.try_recv().is_err(), "returned before the shutdown");
    stop();
    let result = returned
        .recv_timeout(Duration::from_secs(20))
        .expect("still serving after the shutdown");
    assert_eq!(result, Ok(()));
    assert!(TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn blocking_servers_serve_until_their_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    for pop3 in [false, true] {
        let addr = free_addr();
        let shutdown = Shutdown::new();
        let (server_shutdown, root) = (shutdown.clone(), dir.path().join("mail"));
        let (greeting, serve): (_, Box<dyn FnOnce() -> Result<(), String> + Send>) = if pop3 {
            let args = pop3_args(addr, &root);
            let serve = move || {
                adapters::pop3::server_blocking::serve_until(args, &server_shutdown)
                    .map_err(|e| e.to_string())
            };
            ("+OK", Box::new(serve))
        } else {
            let args = smtp_args(addr, &root);
            let serve = move || {
                adapters::smtp::server_blocking::serve_until(args, &server_shutdown)
                    .map_err(|e| e.to_string())
            };
            ("220", Box::new(serve))
        };
        serves_until_stopped(addr, greeting, serve, || shutdown.trigger());
    }
}

#[test]
fn tokio_servers_serve_until_their_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    for pop3 in [false, true] {
        let addr = free_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let root = dir.path().join("mail");
        let until = async move {
            let _ = stopped.await;
        };
        let (smtp, pop) = (smtp_args(addr, &root), pop3_args(addr, &root));
        let serve = move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                if pop3 {
                    adapters::pop3::server_tokio::serve_until(pop, until).await
                } else {
                    adapters::smtp::server_tokio::serve_until(smtp, until).await
                }
                .map_err(|e| e.to_string())
            })
        };
        let greeting = if pop3 { "+OK" } else { "220" };
        serves_until_stopped(addr, greeting, serve, move || {
            let _ = stop.send(());
        });
    }
}
