//! The POP3 server's side of one session, the same under both runtimes: the login decision
//! (an account's credentials, its maildrop locked and listed once), the messages served, the
//! deletions at QUIT only (ARCHITECTURE.md security invariant 6), and the log lines.
//!
//! What touches the file system leaves [`Pop3Session`] as a [`Work`] value: the runtime runs
//! it ([`Work::run`]: the blocking server right there, the tokio one on its blocking pool, so
//! a slow disk stalls no other session) and gives the [`Done`] back to
//! [`Pop3Session::finish`]. Everything else is decided here, once.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use pop3_proto::MsgNumber;
use pop3_proto::server::{Connection, DeletedMessage, Event, Login, LoginRefusal};

use super::maildrop::{CHUNK, listing, read_chunk};
use super::server::ServerOptions;
use crate::driver::Ended;
use crate::maildir::{DeleteReport, Maildrop, StoredMessage, WireReader};
use crate::proxy::Admitted;

/// The application side of one POP3 server session.
#[derive(Debug)]
pub struct Pop3Session {
    options: Arc<ServerOptions>,
    implicit_tls: bool,
    /// The client (behind a PROXY header, the real one), for the log.
    peer: SocketAddr,
    user: Option<String>,
    maildrop: Option<Maildrop>,
    /// The message being sent (RETR, TOP), a chunk per turn of the loop.
    reading: Option<Reading>,
    /// The read buffer between messages.
    spare: Option<Vec<u8>>,
}

/// A message being sent, with its read buffer.
#[derive(Debug)]
pub struct Reading {
    reader: WireReader<File>,
    buf: Vec<u8>,
}

/// File-system work a session needs done before it can answer: run it with [`Work::run`]
/// (it blocks), then hand the result to [`Pop3Session::finish`].
#[derive(Debug)]
pub struct Work(Job);

#[derive(Debug)]
enum Job {
    Login(Arc<ServerOptions>, Login),
    Open(StoredMessage, MsgNumber, Vec<u8>),
    Read(Reading),
    Commit(Option<Maildrop>, Vec<DeletedMessage>),
}

/// What a [`Work`] came to.
#[derive(Debug)]
pub struct Done(Outcome);

#[derive(Debug)]
enum Outcome {
    Login(Login, Result<(String, Maildrop), LoginRefusal>),
    Opened(MsgNumber, io::Result<(Reading, usize)>),
    Read(io::Result<(Reading, usize)>),
    Commit(Option<DeleteReport>, bool),
}

impl Work {
    /// Does the work; blocks on the file system.
    pub fn run(self) -> Done {
        Done(match self.0 {
            Job::Login(options, login) => {
                let opened = options.open_maildrop(&login);
                Outcome::Login(login, opened)
            }
            Job::Open(message, msg, mut buf) => {
                let opened = message.open().and_then(|mut reader| {
                    let n = read_chunk(&mut reader, &mut buf)?;
                    Ok((Reading { reader, buf }, n))
                });
                Outcome::Opened(msg, opened)
            }
            Job::Read(mut reading) => Outcome::Read(
                read_chunk(&mut reading.reader, &mut reading.buf).map(|n| (reading, n)),
            ),
            Job::Commit(maildrop, deleted) => {
                let positions = deleted.iter().map(|message| message.index);
                let report = maildrop.map(|maildrop| maildrop.commit_deletions(positions));
                // Dropping the maildrop here releases its lock, before the +OK goes out.
                Outcome::Commit(report, !deleted.is_empty())
            }
        })
    }
}

/// What [`Pop3Session::on_await`] found to do.
#[derive(Debug)]
pub enum Await {
    /// Nothing: the machine waits on a decision answered in `on_event`.
    Idle,
    /// The machine was given something (the end of a message).
    Progressed,
    /// The next chunk of the message being sent must be read first.
    Work(Work),
}

impl Pop3Session {
    /// A session for the client `admitted` names; `implicit_tls` when the connection is TLS
    /// from the start. Logs the connection.
    pub fn new(options: Arc<ServerOptions>, admitted: &Admitted, implicit_tls: bool) -> Self {
        let peer = admitted.client;
        match admitted.via {
            Some(proxy) => tracing::info!(%peer, %proxy, tls = implicit_tls, "connection"),
            None => tracing::info!(%peer, tls = implicit_tls, "connection"),
        }
        Self {
            options,
            implicit_tls,
            peer,
            user: None,
            maildrop: None,
            reading: None,
            spare: None,
        }
    }

    /// The machine for this session, with what the client sent right behind the PROXY
    /// header already given to it (ARCHITECTURE.md, "The session contract", rule 1: `receive`
    /// only buffers; the greeting still goes first).
    pub fn machine(&self, early: &[u8]) -> Connection {
        let mut conn = Connection::new(self.options.session_config(self.implicit_tls));
        conn.receive(early);
        conn
    }

    /// Answers one event of the machine, or hands back the work its answer needs.
    pub fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Option<Work>> {
        match event {
            Event::Login(login) => {
                return Ok(Some(Work(Job::Login(self.options.clone(), login))));
            }
            // Only PLAIN and LOGIN are offered, and the machine runs both itself.
            Event::AuthStep { .. } => conn.reject(LoginRefusal::SysPerm).map_err(usage)?,
            Event::Retrieve(retrieve) => {
                let message = self
                    .maildrop
                    .as_ref()
                    .and_then(|m| m.message(retrieve.index));
                let Some(message) = message else {
                    tracing::warn!(peer = %self.peer, msg = %retrieve.msg, "no such message");
                    conn.message_unavailable().map_err(usage)?;
                    return Ok(None);
                };
                let buf = self.spare.take().unwrap_or_else(|| vec![0; CHUNK]);
                return Ok(Some(Work(Job::Open(message, retrieve.msg, buf))));
            }
            Event::Commit { deleted } => {
                return Ok(Some(Work(Job::Commit(self.maildrop.take(), deleted))));
            }
            _ => {}
        }
        Ok(None)
    }

    /// The machine awaits the application: a message being sent wants its next chunk (any
    /// other wait is a decision, answered in `on_event`).
    pub fn on_await(&mut self, conn: &mut Connection) -> io::Result<Await> {
        let Some(reading) = self.reading.take() else {
            return Ok(Await::Idle);
        };
        if conn.message_complete() {
            // TOP: the machine has the lines it wanted.
            self.spare = Some(reading.buf);
            conn.end_message().map_err(usage)?;
            return Ok(Await::Progressed);
        }
        Ok(Await::Work(Work(Job::Read(reading))))
    }

    /// Answers the machine with what the work came to.
    pub fn finish(&mut self, conn: &mut Connection, done: Done) -> io::Result<()> {
        match done.0 {
            Outcome::Login(login, opened) => {
                let method = login_method(&login);
                match opened {
                    Ok((user, maildrop)) => {
                        tracing::info!(peer = %self.peer, user, method, messages = maildrop.len(), "login");
                        conn.accept(listing(&maildrop)).map_err(usage)?;
                        self.user = Some(user);
                        self.maildrop = Some(maildrop);
                    }
                    Err(refusal) => {
                        let user = String::from_utf8_lossy(login.user());
                        tracing::warn!(peer = %self.peer, %user, method, ?refusal, "login refused");
                        conn.reject(refusal).map_err(usage)?;
                    }
                }
            }
            Outcome::Opened(msg, opened) => match opened {
                Ok((reading, n)) => self.deliver_chunk(conn, reading, n)?,
                Err(error) => {
                    tracing::warn!(peer = %self.peer, %msg, %error, "message unavailable");
                    conn.message_unavailable().map_err(usage)?;
                }
            },
            // A read error in the middle of a message cannot be told to the client any more:
            // the error ends the connection, and the client sees no terminating dot.
            Outcome::Read(read) => {
                let (reading, n) = read?;
                self.deliver_chunk(conn, reading, n)?;
            }
            Outcome::Commit(report, deleted_any) => match report {
                Some(report) if report.is_complete() => {
                    tracing::info!(peer = %self.peer, user = ?self.user, deleted = report.deleted, "update");
                    conn.commit_succeeded().map_err(usage)?;
                }
                Some(report) => {
                    for failure in &report.failed {
                        tracing::error!(uid = failure.uid, error = %failure.error, "cannot delete");
                    }
                    conn.commit_failed().map_err(usage)?;
                }
                // No maildrop open (the machine commits only after a login, so this is not
                // expected): nothing to delete is a success, deletions that cannot be made
                // are not (RFC 1939 section 6).
                None if !deleted_any => conn.commit_succeeded().map_err(usage)?,
                None => conn.commit_failed().map_err(usage)?,
            },
        }
        Ok(())
    }

    /// Hands the machine the chunk just read; the last one ends the message.
    fn deliver_chunk(
        &mut self,
        conn: &mut Connection,
        reading: Reading,
        n: usize,
    ) -> io::Result<()> {
        if n > 0 {
            conn.send_message_chunk(&reading.buf[..n]).map_err(usage)?;
        }
        if n < reading.buf.len() || conn.message_complete() {
            self.spare = Some(reading.buf);
            conn.end_message().map_err(usage)?;
        } else {
            self.reading = Some(reading);
        }
        Ok(())
    }

    /// Idle: closed now, without a response (POP3 has no unsolicited ones); otherwise the
    /// message being sent is finished and the next command gets `-ERR [SYS/TEMP]`.
    pub fn on_shutdown(&mut self, conn: &mut Connection) {
        conn.shutdown();
    }

    /// The session is over: logs how, and releases the maildrop (deleting nothing unless
    /// the commit at QUIT did).
    pub fn closed(&mut self, ended: &io::Result<Ended>, conn: &Connection) {
        let discarded_deletions = conn.discarded_deletions();
        match ended {
            Ok(ended) => {
                tracing::info!(peer = %self.peer, user = ?self.user, ?ended, discarded_deletions, "closed");
            }
            Err(error) => {
                tracing::info!(peer = %self.peer, user = ?self.user, %error, discarded_deletions, "closed");
            }
        }
        self.reading = None;
        self.maildrop = None;
    }
}

/// A short name for a login method, for the logs.
fn login_method(login: &Login) -> &'static str {
    match login {
        Login::UserPass { .. } => "USER/PASS",
        Login::Apop(_) => "APOP",
        Login::Sasl { .. } => "AUTH",
        _ => "other",
    }
}

/// A machine misuse reported by `pop3-proto`: a bug in the adapter, ending the connection.
fn usage(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("POP3 machine misuse: {error}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use clap::Parser;
    use mail_wire::session::Next;

    use super::*;
    use crate::maildir::Maildir;
    use crate::pop3::server::ServerArgs;

    /// Feeds `input` and runs the machine until it waits on the peer, doing the session's work
    /// in place (as the blocking wrapper does; the tokio one only runs it on its pool). Gives
    /// what the machine sent.
    fn exchange(session: &mut Pop3Session, conn: &mut Connection, input: &str) -> String {
        conn.receive(input.as_bytes());
        let mut out = Vec::new();
        loop {
            match conn.poll() {
                Next::Transmit(bytes) => out.extend_from_slice(&bytes),
                Next::Event(event) => {
                    if let Some(work) = session.on_event(conn, event).unwrap() {
                        session.finish(conn, work.run()).unwrap();
                    }
                }
                Next::AwaitApp => match session.on_await(conn).unwrap() {
                    Await::Idle => panic!("the session left a decision unanswered"),
                    Await::Progressed => {}
                    Await::Work(work) => session.finish(conn, work.run()).unwrap(),
                },
                Next::Read(_) | Next::Closed(_) => break,
                _ => panic!("no TLS in this test"),
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn start(options: &Arc<ServerOptions>) -> (Pop3Session, Connection) {
        let admitted = Admitted::direct("127.0.0.1:1100".parse().unwrap());
        let mut session = Pop3Session::new(options.clone(), &admitted, false);
        let mut conn = session.machine(&admitted.early);
        assert!(exchange(&mut session, &mut conn, "").starts_with("+OK"));
        (session, conn)
    }

    fn deliver(maildir: &Maildir, content: &[u8]) {
        let mut delivery = maildir.deliver().unwrap();
        delivery.write_all(content).unwrap();
        delivery.commit().unwrap();
    }

    #[test]
    fn login_retrieve_and_deletions_at_quit_only() {
        let root = tempfile::tempdir().unwrap();
        let maildir = Maildir::open_or_create(root.path().join("alice")).unwrap();
        // Larger than a chunk: sent over several turns of the loop.
        let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(3 * CHUNK));
        deliver(&maildir, big.as_bytes());
        let argv = ["pop3", "--maildir", root.path().to_str().unwrap()];
        let args = ServerArgs::try_parse_from(argv.into_iter().chain([
            "--user",
            "alice:secret",
            "--insecure-auth",
        ]))
        .unwrap();
        let options = Arc::new(ServerOptions::from_args(&args).unwrap());

        let (mut first, mut conn) = start(&options);
        let refused = exchange(&mut first, &mut conn, "USER alice\r\nPASS wrong\r\n");
        assert!(
            refused.lines().last().unwrap().starts_with("-ERR"),
            "{refused}"
        );
        let login = exchange(&mut first, &mut conn, "USER alice\r\nPASS secret\r\n");
        assert!(login.lines().last().unwrap().starts_with("+OK"), "{login}");
        let size = big.len();
        assert_eq!(
            exchange(&mut first, &mut conn, "STAT\r\n"),
            format!("+OK 1 {size}\r\n")
        );
        let retr = exchange(&mut first, &mut conn, "RETR 1\r\n");
        let (status, body) = retr.split_once("\r\n").unwrap();
        assert!(status.starts_with("+OK"), "{status}");
        assert_eq!(body, format!("{big}.\r\n"));

        // One session per maildrop: a second login is told the maildrop is in use.
        let (mut second, mut second_conn) = start(&options);
        let in_use = exchange(
            &mut second,
            &mut second_conn,
            "USER alice\r\nPASS secret\r\n",
        );
        assert!(in_use.contains("-ERR [IN-USE]"), "{in_use}");

        // Marked, then the connection drops: nothing is deleted (security invariant 6).
        assert!(exchange(&mut first, &mut conn, "DELE 1\r\n").starts_with("+OK"));
        conn.handle_close();
        let _ = exchange(&mut first, &mut conn, "");
        first.closed(&Ok(Ended::ApplicationClosed), &conn);
        assert_eq!(maildir.scan().unwrap().len(), 1);

        // Marked, then QUIT: deleted, and the maildrop is free again.
        let (mut third, mut conn) = start(&options);
        assert!(exchange(&mut third, &mut conn, "USER alice\r\nPASS secret\r\n").contains("+OK"));
        assert!(exchange(&mut third, &mut conn, "DELE 1\r\n").starts_with("+OK"));
        assert!(exchange(&mut third, &mut conn, "QUIT\r\n").starts_with("+OK"));
        assert!(maildir.scan().unwrap().is_empty());
        let (mut fourth, mut conn) = start(&options);
        let login = exchange(&mut fourth, &mut conn, "USER alice\r\nPASS secret\r\n");
        assert!(login.lines().last().unwrap().starts_with("+OK"), "{login}");
    }
}
