//! What both SMTP clients do with the machine's events: send the one message once the session
//! is ready, push its body in chunks, print each recipient's result and the final reply, quit.
//! Exit status 0 only when the server accepted every recipient and the message.
//!
//! The message is never held whole: [`MessageSource`] reads it twice, in chunks of
//! [`BODY_CHUNK`] octets: once before the session to learn its size and whether it is 8-bit
//! (MAIL FROM carries both, RFC 1870 and RFC 6152), once while sending. Standard input that
//! cannot be read twice (a pipe, a terminal) is first spooled to an unlinked temporary file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mail_wire::sasl::{Credentials, PasswordCredentials};
use smtp_proto::client::{self, Connection, Envelope, Event, Failure};
use smtp_proto::{ForwardPath, Mailbox, Reply, ReversePath, TlsMode};

use super::args::ClientArgs;
use crate::driver::Flow;

/// Body octets read from the message and handed to the machine at a time.
pub const BODY_CHUNK: usize = 64 * 1024;

/// Why the client cannot start with these flags.
#[derive(Debug, thiserror::Error)]
pub enum SubmissionError {
    /// `--helo` is not a domain name or address literal.
    #[error("--helo {0:?} is not a domain name")]
    InvalidHelo(String),
    /// `--from` or a `--to` is not a mailbox (RFC 5321 section 4.1.2).
    #[error("{0:?} is not a valid mailbox")]
    InvalidAddress(String),
    /// The message could not be read.
    #[error("reading the message: {0}")]
    Read(#[from] io::Error),
}

/// The machine's configuration for the flags.
pub fn machine_config(args: &ClientArgs) -> Result<client::Config, SubmissionError> {
    // The EHLO name is ASCII (A-labels), RFC 6531 section 3.7.1.
    let helo = client::EhloName::new(args.helo.clone())
        .map_err(|_| SubmissionError::InvalidHelo(args.helo.clone()))?;
    let mode = if args.tls {
        TlsMode::Implicit
    } else if args.starttls {
        TlsMode::Required
    } else {
        TlsMode::Disabled
    };
    let mut config = client::Config::new(helo).with_tls(mode);
    if let Some(account) = &args.auth {
        config = config.with_credentials(Credentials::Password(PasswordCredentials::new(
            account.user.clone(),
            account.pass.clone(),
        )));
    }
    Ok(config)
}

/// The message to send, read from its file in chunks: see the [module docs](self).
#[derive(Debug)]
pub struct MessageSource {
    file: File,
    size: u64,
    eight_bit: bool,
    /// Octets handed out by [`next_chunk`](Self::next_chunk).
    sent: u64,
    /// A spool file to remove when done, where it could not be unlinked while open.
    spool: Option<PathBuf>,
}

impl MessageSource {
    /// Opens the message in `file`, or standard input when `None`, and makes the first pass.
    /// Blocking: a tokio caller runs it on the blocking pool.
    pub fn open(file: Option<&Path>) -> Result<Self, SubmissionError> {
        let (mut file, spool) = match file {
            Some(path) => (File::open(path)?, None),
            None => stdin_as_file()?,
        };
        // Standard input redirected from a file may have been read partly already: the
        // message starts where its offset is now.
        let start = file.stream_position()?;
        let (size, eight_bit) = first_pass(&mut file)?;
        file.seek(SeekFrom::Start(start))?;
        Ok(Self {
            file,
            size,
            eight_bit,
            sent: 0,
            spool,
        })
    }

    /// The message's size in octets, as stored (the SIZE hint).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether any octet has the high bit set (then the body is sent as 8BITMIME).
    pub fn is_8bit(&self) -> bool {
        self.eight_bit
    }

    /// Octets not handed out yet.
    pub fn remaining(&self) -> u64 {
        self.size - self.sent
    }

    /// The next piece of the message (at most [`BODY_CHUNK`] octets), `None` at its end.
    /// Exactly the octets the first pass measured are sent: a file that shrank in between
    /// is an error rather than a message cut short.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let want = usize::try_from(self.remaining()).map_or(BODY_CHUNK, |n| n.min(BODY_CHUNK));
        if want == 0 {
            return Ok(None);
        }
        let mut chunk = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match self.file.read(&mut chunk[filled..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the message shrank while it was sent ({} of {} octets)",
                            self.sent + filled as u64,
                            self.size
                        ),
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.sent += want as u64;
        Ok(Some(Bytes::from(chunk)))
    }
}

impl Drop for MessageSource {
    fn drop(&mut self) {
        if let Some(spool) = &self.spool {
            let _ = std::fs::remove_file(spool);
        }
    }
}

/// Counts the octets from the current position to the end and looks for 8-bit ones, one
/// chunk at a time.
fn first_pass(file: &mut File) -> io::Result<(u64, bool)> {
    let mut buffer = vec![0; BODY_CHUNK];
    let (mut size, mut eight_bit) = (0u64, false);
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok((size, eight_bit)),
            Ok(n) => {
                size += n as u64;
                eight_bit = eight_bit || buffer[..n].iter().any(|&b| b >= 0x80);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Standard input as a file that can be read twice: itself when it is a regular file (input
/// redirected from a file), else a copy spooled to a temporary file.
fn stdin_as_file() -> io::Result<(File, Option<PathBuf>)> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let stdin = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        if stdin.metadata()?.is_file() {
            return Ok((stdin, None));
        }
    }
    spool_stdin()
}

/// Copies standard input into a new private file in the temporary directory, positioned at
/// its start. On Unix the file is unlinked at once (it lives while open, and nothing is left
/// behind even if the process is killed); elsewhere it is removed on drop.
fn spool_stdin() -> io::Result<(File, Option<PathBuf>)> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut attempt = 0u32;
    let (mut file, path) = loop {
        let path =
            std::env::temp_dir().join(format!("smtp-client-{}-{attempt}.eml", std::process::id()));
        match options.open(&path) {
            Ok(file) => break (file, path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let spool = if cfg!(unix) {
        std::fs::remove_file(&path)?;
        None
    } else {
        Some(path)
    };
    io::copy(&mut io::stdin().lock(), &mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, spool))
}

/// The envelope for the flags and the message.
pub fn envelope(args: &ClientArgs, message: &MessageSource) -> Result<Envelope, SubmissionError> {
    envelope_of(args, message.size(), message.is_8bit())
}

/// The envelope for the flags and a message of `size` octets, 8-bit or not.
pub fn envelope_of(
    args: &ClientArgs,
    size: u64,
    eight_bit: bool,
) -> Result<Envelope, SubmissionError> {
    let mailbox = |text: &str| {
        Mailbox::parse(text.to_owned())
            .map_err(|_| SubmissionError::InvalidAddress(text.to_owned()))
    };
    let from = if args.from.is_empty() || args.from == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(mailbox(&args.from)?)
    };
    let mut to = Vec::with_capacity(args.to.len());
    for recipient in &args.to {
        to.push(if recipient.eq_ignore_ascii_case("postmaster") {
            ForwardPath::Postmaster
        } else {
            ForwardPath::Mailbox(mailbox(recipient)?)
        });
    }
    Ok(Envelope::new(from, to)
        .with_size_hint(size)
        .with_8bit_body(eight_bit))
}

/// The application side of the client session: one message, then QUIT.
#[derive(Debug)]
pub struct Submission {
    envelope: Option<Envelope>,
    recipients: Vec<String>,
    message: MessageSource,
    body_open: bool,
    /// TLS is in place (implicit, or STARTTLS done): logged once when it starts.
    secure: bool,
    refused_recipients: usize,
    accepted: Option<Reply>,
    failure: Option<String>,
}

impl Submission {
    /// Ready to send `message` to the envelope's recipients.
    pub fn new(envelope: Envelope, recipients: Vec<String>, message: MessageSource) -> Self {
        Self {
            envelope: Some(envelope),
            recipients,
            message,
            body_open: false,
            secure: false,
            refused_recipients: 0,
            accepted: None,
            failure: None,
        }
    }

    /// Answers one event; prints the results as they come.
    pub fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Flow> {
        if !self.secure && conn.is_secure() {
            self.secure = true;
            // The socket loop upgraded when the machine asked (after the 220 to STARTTLS);
            // the capabilities that follow are the first event over TLS. Implicit TLS was
            // there from the start: nothing to log.
            if conn.config().tls != TlsMode::Implicit {
                tracing::info!("STARTTLS");
            }
        }
        match event {
            Event::Greeting(reply) => tracing::info!(%reply, "connected"),
            Event::Capabilities(_) => tracing::debug!("capabilities received"),
            Event::Authenticated(reply) => tracing::info!(%reply, "authenticated"),
            Event::AuthRejected(failure) => {
                self.fail(format!("authentication refused: {}", failure.reply()));
                quit(conn);
            }
            Event::Ready => {
                if let Some(envelope) = self.envelope.take()
                    && let Err(error) = conn.send_mail(envelope)
                {
                    self.fail(format!("cannot send: {error}"));
                    quit(conn);
                }
            }
            Event::RecipientAccepted { index, reply, .. } => {
                println!("{}: {reply}", self.recipient(index));
            }
            Event::RecipientRejected { index, failure, .. } => {
                println!("{}: {}", self.recipient(index), failure.reply());
                self.refused_recipients += 1;
            }
            Event::SendBody => self.body_open = true,
            Event::MessageAccepted(reply) => {
                println!("message: {reply}");
                self.accepted = Some(reply);
                quit(conn);
            }
            Event::MessageRejected(failure) => {
                self.refused("message refused", &failure);
                quit(conn);
            }
            Event::SenderRejected(failure) => {
                self.refused("sender refused", &failure);
                quit(conn);
            }
            Event::NoRecipientAccepted => {
                self.fail("no recipient accepted".to_owned());
                quit(conn);
            }
            Event::Reset => {}
            Event::Failed(error) => self.fail(format!("session failed: {error}")),
            other => tracing::debug!(event = ?other, "unexpected event"),
        }
        Ok(Flow::Continue)
    }

    /// The machine awaits the application ([`Next::AwaitApp`](smtp_proto::Next::AwaitApp)):
    /// pushes more of the body while the machine takes it, read from the file a chunk at a
    /// time (page-cache reads, short enough for a tokio task), and ends it after the last
    /// chunk. False when there is no body to push: the message was the only work, and every
    /// event that ends it asked for QUIT, so the socket loop may end the session.
    pub fn on_await(&mut self, conn: &mut Connection) -> io::Result<bool> {
        if !self.body_open {
            return Ok(false);
        }
        let mut gave = false;
        loop {
            if self.message.remaining() == 0 {
                conn.end_body().map_err(io::Error::other)?;
                self.body_open = false;
                return Ok(true);
            }
            if !conn.wants_body() {
                return Ok(gave);
            }
            if let Some(chunk) = self.message.next_chunk()? {
                conn.send_body_chunk(chunk).map_err(io::Error::other)?;
                gave = true;
            }
        }
    }

    /// The outcome: `Ok` with the final reply when everything was accepted.
    pub fn outcome(self) -> Result<Reply, String> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        match self.accepted {
            Some(_) if self.refused_recipients > 0 => Err(format!(
                "{} of {} recipients refused",
                self.refused_recipients,
                self.recipients.len()
            )),
            Some(reply) => Ok(reply),
            None => Err("the session ended before the message was accepted".to_owned()),
        }
    }

    fn recipient(&self, index: usize) -> &str {
        self.recipients.get(index).map_or("?", String::as_str)
    }

    fn refused(&mut self, what: &str, failure: &Failure) {
        let kind = if failure.is_permanent() {
            "permanently"
        } else {
            "temporarily"
        };
        self.fail(format!("{what} {kind}: {}", failure.reply()));
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
    }
}

/// Asks the machine to end the session (it sends QUIT once nothing is in flight).
pub(crate) fn quit(conn: &mut Connection) {
    if let Err(error) = conn.quit() {
        tracing::debug!(%error, "quit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(source: &mut MessageSource) -> Vec<u8> {
        let mut sent = Vec::new();
        while let Some(chunk) = source.next_chunk().unwrap() {
            assert!(!chunk.is_empty() && chunk.len() <= BODY_CHUNK);
            sent.extend_from_slice(&chunk);
        }
        sent
    }

    #[test]
    fn a_large_message_is_measured_and_sent_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("message.eml");
        // Three and a half chunks, with one 8-bit octet near the end.
        let mut message: Vec<u8> = (0..BODY_CHUNK * 7 / 2)
            .map(|n| b'a' + (n % 26) as u8)
            .collect();
        let last = message.len() - 10;
        message[last] = 0xc3;
        std::fs::write(&path, &message).unwrap();

        let mut source = MessageSource::open(Some(&path)).unwrap();
        assert_eq!(source.size(), message.len() as u64);
        assert!(source.is_8bit());
        assert_eq!(read_all(&mut source), message);
        assert_eq!(source.remaining(), 0);
        assert!(source.next_chunk().unwrap().is_none());
    }

    #[test]
    fn seven_bit_and_empty_messages() {
        let dir = tempfile::tempdir().unwrap();
        let seven = dir.path().join("seven.eml");
        std::fs::write(&seven, b"Subject: plain\r\n\r\nascii only\r\n").unwrap();
        let source = MessageSource::open(Some(&seven)).unwrap();
        assert_eq!((source.size(), source.is_8bit()), (30, false));

        let empty = dir.path().join("empty.eml");
        std::fs::write(&empty, b"").unwrap();
        let mut source = MessageSource::open(Some(&empty)).unwrap();
        assert_eq!((source.size(), source.is_8bit()), (0, false));
        assert!(source.next_chunk().unwrap().is_none());
    }

    #[test]
    fn a_file_that_shrinks_between_the_passes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("message.eml");
        std::fs::write(&path, vec![b'x'; BODY_CHUNK + 100]).unwrap();
        let mut source = MessageSource::open(Some(&path)).unwrap();
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        let error = source.next_chunk().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_file_that_grows_sends_only_what_was_measured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("message.eml");
        std::fs::write(&path, b"first\r\n").unwrap();
        let mut source = MessageSource::open(Some(&path)).unwrap();
        std::fs::write(&path, b"first\r\nand more\r\n").unwrap();
        assert_eq!(read_all(&mut source), b"first\r\n");
    }
}
