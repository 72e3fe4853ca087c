//! The shortest SMTP client: sends FILE from FROM to each TO over plain TCP, prints each
//! recipient's result, and exits non-zero unless the message went to every recipient.
//! Usage: `embed_smtp_send SERVER FROM FILE TO...`.
use smtp_proto::client::{Config, Connection, EhloName, Envelope, Event};
use smtp_proto::{ForwardPath, Next, TlsMode, WaitTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, from, file, to @ ..] = &args[..] else {
        return Err("usage: embed_smtp_send SERVER FROM FILE TO...".into());
    };
    let body = std::fs::read(file)?;
    let to = to
        .iter()
        .map(|to| to.parse())
        .collect::<Result<Vec<ForwardPath>, _>>()?;
    // SIZE= goes with MAIL FROM when the server offers SIZE (RFC 1870).
    let mut envelope = Some(Envelope::new(from.parse()?, to).with_size_of(&body));
    let mut socket = TcpStream::connect(server).await?;
    let config = Config::new(EhloName::new("localhost")?).with_tls(TlsMode::Disabled);
    let mut conn = Connection::new(config);
    let (mut timer, mut buf, mut all_delivered) = (WaitTimer::new(), vec![0; 8192], true);
    let mut accepted = false;
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.write_all(&bytes).await?,
            Next::Event(Event::Ready) => conn.send_mail(envelope.take().ok_or("sent already")?)?,
            Next::Event(Event::RecipientAccepted { to, reply, .. }) => println!("{to}: {reply}"),
            Next::Event(Event::RecipientRejected { to, failure, .. }) => {
                all_delivered = false;
                println!("{to}: {failure}");
            }
            Next::Event(Event::SendBody) => conn.send_body(&body)?,
            Next::Event(Event::MessageAccepted(reply)) => {
                println!("message: {reply}");
                accepted = true;
                conn.quit()?;
            }
            Next::Event(Event::MessageRejected(failure) | Event::SenderRejected(failure)) => {
                all_delivered = false;
                println!("message: {failure}");
                conn.quit()?;
            }
            Next::Event(Event::NoRecipientAccepted) => {
                all_delivered = false;
                conn.quit()?;
            }
            // Next::Closed follows; a transaction without MessageAccepted was not delivered.
            Next::Event(Event::Failed(error)) => eprintln!("failed: {error}"),
            Next::Event(_) => {}
            Next::Read(wait) => {
                match timeout_at(timer.deadline(wait, Instant::now()), socket.read(&mut buf)).await
                {
                    Ok(Ok(0) | Err(_)) => conn.handle_close(),
                    Ok(Ok(n)) => conn.receive(&buf[..n]),
                    Err(_) => conn.handle_timeout(),
                }
            }
            // TLS is disabled above; every transaction event is answered at once.
            Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
            Next::Closed(_) if accepted && all_delivered => return Ok(()),
            Next::Closed(reason) => {
                return Err(format!("not delivered to every recipient ({reason})").into());
            }
        }
    }
}
