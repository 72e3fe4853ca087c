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
    let to: Vec<ForwardPath> = to.iter().map(|to| to.parse()).collect::<Result<_, _>>()?;
    // SIZE= goes with MAIL FROM when the server offers SIZE (RFC 1870).
    let mut envelope = Some(Envelope::new(from.parse()?, to).with_size_of(&body));
    let mut socket = TcpStream::connect(server).await?;
    let config = Config::new(EhloName::new("localhost")?).with_tls(TlsMode::Disabled);
    let mut conn = Connection::new(config);
    let (mut timer, mut buf) = (WaitTimer::new(), vec![0; 8192]);
    let (mut accepted, mut refused) = (false, false);
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.write_all(&bytes).await?,
            Next::Event(Event::Ready) => conn.send_mail(envelope.take().ok_or("sent already")?)?,
            Next::Event(Event::RecipientAccepted { to, reply, .. }) => println!("{to}: {reply}"),
            Next::Event(Event::RecipientRejected { to, failure, .. }) => {
                refused = true;
                println!("{to}: {failure}");
            }
            Next::Event(Event::SendBody) => conn.send_body(&body)?,
            Next::Event(Event::MessageAccepted(reply)) => {
                accepted = true;
                println!("message: {reply}");
            }
            Next::Event(Event::MessageRejected(failure) | Event::SenderRejected(failure)) => {
                println!("message: {failure}")
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
            // The transaction is over, however it ended: the machine waits for our next command.
            Next::AwaitApp => conn.quit()?,
            Next::UpgradeTls(_) => conn.handle_close(), // TLS is disabled above
            Next::Closed(_) if accepted && !refused => return Ok(()),
            Next::Closed(reason) => {
                return Err(format!("not delivered to every recipient ({reason})").into());
            }
        }
    }
}
