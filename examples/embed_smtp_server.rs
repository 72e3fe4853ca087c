//! The shortest SMTP server: accepts mail for one domain over plain TCP, refuses other
//! domains with 550 5.7.1 (no open relay, ARCHITECTURE.md security invariant 8), and writes
//! each message to DIR as a file. Usage: `embed_smtp_server ADDR DOMAIN DIR`.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use smtp_proto::server::{Config, Connection, Event};
use smtp_proto::{Domain, Next, Reply, WaitTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};

type Error = Box<dyn std::error::Error + Send + Sync>;
static MESSAGES: AtomicU64 = AtomicU64::new(0); // file names unique within the process

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, domain, dir] = &args[..] else {
        return Err("usage: embed_smtp_server ADDR DOMAIN DIR".into());
    };
    let domain: Domain = domain.parse()?;
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (socket, peer) = listener.accept().await?;
        let (domain, dir) = (domain.clone(), dir.clone());
        tokio::spawn(async move {
            if let Err(e) = session(socket, domain, dir).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn session(mut socket: TcpStream, domain: Domain, dir: String) -> Result<(), Error> {
    let mut conn = Connection::new(Config::new(domain.clone()));
    let (mut timer, mut buf, mut message) = (WaitTimer::new(), vec![0; 8192], Vec::new());
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.write_all(&bytes).await?,
            // Our domain (and Postmaster) only: anything else would be relaying.
            Next::Event(Event::Rcpt { to, .. }) if !to.is_for_domain(&domain) => {
                conn.reject(Reply::relay_denied())?
            }
            Next::Event(Event::MessageData(chunk)) => message.extend_from_slice(&chunk),
            Next::Event(Event::MessageAborted { .. }) => message.clear(),
            Next::Event(Event::MessageEnd { .. }) => {
                // 250 only once the whole message is stored (security invariant 5).
                let id = format!("{}-{}", std::process::id(), MESSAGES.fetch_add(1, Relaxed));
                match tokio::fs::write(format!("{dir}/{id}.eml"), std::mem::take(&mut message))
                    .await
                {
                    Ok(()) => conn.accept_message(&id)?,
                    Err(_) => conn.reject(Reply::insufficient_storage())?,
                }
            }
            Next::Event(event) if event.is_decision() => conn.accept()?, // HELO, MAIL, RCPT
            Next::Event(_) => {}
            Next::Read(wait) => {
                match timeout_at(timer.deadline(wait, Instant::now()), socket.read(&mut buf)).await
                {
                    Ok(Ok(0) | Err(_)) => conn.handle_close(),
                    Ok(Ok(n)) => conn.receive(&buf[..n]),
                    Err(_) => conn.handle_timeout(),
                }
            }
            // No STARTTLS offered (plain TCP); every decision is answered above.
            Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
            Next::Closed(_) => return Ok(()),
        }
    }
}
