//! The shortest POP3 server: serves the `.eml` files of DIR to USER with PASS over plain
//! TCP and deletes those the client deleted, at QUIT only (ARCHITECTURE.md security
//! invariant 6). Usage: `embed_pop3_server ADDR DIR USER PASS`.
use pop3_proto::server::{Config, Connection, Event, LoginRefusal, Maildrop};
use pop3_proto::{Next, UniqueId, WaitTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout_at};

type Error = Box<dyn std::error::Error + Send + Sync>;
static MAILDROP: Mutex<()> = Mutex::const_new(()); // one session at a time (RFC 1939 section 8)

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, dir, user, pass] = &args[..] else {
        return Err("usage: embed_pop3_server ADDR DIR USER PASS".into());
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (socket, peer) = listener.accept().await?;
        let (dir, user, pass) = (dir.clone(), user.clone(), pass.clone());
        tokio::spawn(async move {
            if let Err(e) = session(socket, &dir, &user, &pass).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn session(mut socket: TcpStream, dir: &str, user: &str, pass: &str) -> Result<(), Error> {
    // Plain TCP: the password travels in the clear, so this must be allowed explicitly.
    let mut conn = Connection::new(Config::default().with_plaintext_auth_without_tls(true));
    let (mut timer, mut buf, mut files) = (WaitTimer::new(), vec![0; 8192], Vec::new());
    let mut _lock = None; // held until the session ends
    loop {
        match conn.poll() {
            Next::Transmit(bytes) => socket.write_all(&bytes).await?,
            // USER/PASS, AUTH PLAIN and AUTH LOGIN alike (curl prefers SASL).
            Next::Event(Event::Login(login))
                if login.verify_password(user.as_bytes(), pass.as_bytes()) =>
            {
                let Ok(lock) = MAILDROP.try_lock() else {
                    conn.reject(LoginRefusal::InUse)?;
                    continue;
                };
                _lock = Some(lock);
                let mut maildrop = Maildrop::new();
                let mut paths: Vec<_> = std::fs::read_dir(dir)?
                    .filter_map(|entry| Some(entry.ok()?.path()))
                    .filter(|path| path.extension().is_some_and(|e| e == "eml"))
                    .collect();
                paths.sort(); // message numbers in name order
                for path in paths {
                    // The file name is the unique id (RFC 1939 section 7: printable ASCII).
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    let Ok(uid) = UniqueId::new(name.as_ref()) else {
                        eprintln!("skipped {name}: not a valid unique id");
                        continue;
                    };
                    let message = std::fs::read(&path)?;
                    maildrop.push_message(&message, uid); // the size LIST says: CRLF lines
                    files.push((path, message));
                }
                conn.accept(maildrop)?;
            }
            Next::Event(Event::Login(_)) => conn.reject(LoginRefusal::BadCredentials)?,
            Next::Event(Event::Retrieve(wanted)) => {
                conn.send_message_chunk(&files[wanted.index].1)?; // CRLF and dot-stuffing by the machine
                conn.end_message()?;
            }
            Next::Event(Event::Commit { deleted }) => {
                match deleted
                    .iter()
                    .try_for_each(|m| std::fs::remove_file(&files[m.index].0))
                {
                    Ok(()) => conn.commit_succeeded()?,
                    Err(_) => conn.commit_failed()?,
                }
            }
            Next::Event(_) => {}
            Next::Read(wait) => {
                match timeout_at(timer.deadline(wait, Instant::now()), socket.read(&mut buf)).await
                {
                    Ok(Ok(0) | Err(_)) => conn.handle_close(),
                    Ok(Ok(n)) => conn.receive(&buf[..n]),
                    Err(_) => conn.handle_timeout(),
                }
            }
            // No STLS offered (plain TCP); every decision is answered above.
            Next::UpgradeTls(_) | Next::AwaitApp => conn.handle_close(),
            Next::Closed(_) => return Ok(()),
        }
    }
}
