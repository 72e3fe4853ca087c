//! The shortest POP3 client: logs in as USER with PASS over plain TCP and saves every
//! message as OUTDIR/1.eml, 2.eml, ...; deletes nothing on the server.
//! Usage: `embed_pop3_fetch SERVER USER PASS OUTDIR`.
use pop3_proto::client::{Config, Connection, Event};
use pop3_proto::{MsgNumber, Next, TlsMode, WaitTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, user, pass, outdir] = &args[..] else {
        return Err("usage: embed_pop3_fetch SERVER USER PASS OUTDIR".into());
    };
    let mut socket = TcpStream::connect(server).await?;
    // Plain TCP: sending the password in the clear must be allowed explicitly.
    let config = Config::default()
        .with_password(user, pass.as_str())
        .with_tls(TlsMode::Disabled);
    let mut conn = Connection::new(config.with_plaintext_auth_without_tls(true));
    let (mut timer, mut buf, mut message) = (WaitTimer::new(), vec![0; 8192], Vec::new());
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.write_all(&bytes).await?,
            Next::Event(Event::Authenticated(_)) => conn.stat()?,
            Next::Event(Event::Stat(stat)) => {
                for msg in (1..=stat.count).filter_map(MsgNumber::new) {
                    conn.retr(msg)?; // queued; answered in order
                }
                conn.quit()?;
            }
            Next::Event(Event::MessageData(chunk)) => message.extend_from_slice(&chunk),
            Next::Event(Event::MessageEnd(end)) => {
                if let Some(error) = end.error {
                    return Err(format!("message {}: {error}", end.msg).into()); // cut short
                }
                std::fs::write(
                    format!("{outdir}/{}.eml", end.msg),
                    std::mem::take(&mut message),
                )?;
            }
            Next::Event(Event::Failed(error)) => return Err(error.into()),
            Next::Event(_) => {}
            Next::Read(wait) => {
                match timeout_at(timer.deadline(wait, Instant::now()), socket.read(&mut buf)).await
                {
                    Ok(Ok(0) | Err(_)) => conn.handle_close(),
                    Ok(Ok(n)) => conn.receive(&buf[..n]),
                    Err(_) => conn.handle_timeout(),
                }
            }
            // TLS is disabled above; requests are queued as soon as they are known.
            Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
            Next::Closed(reason) if reason.is_normal() => return Ok(()),
            Next::Closed(reason) => return Err(format!("session ended: {reason}").into()),
        }
    }
}
