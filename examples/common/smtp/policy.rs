//! The SMTP server's decisions, the same under both runtimes: which domains are local, who may
//! relay (only authenticated clients: no open relay, ARCHITECTURE.md security invariant 8), which
//! accounts exist, and delivery through the [`Store`] before the 250 (security invariant 5).
//!
//! [`ServerSession`] answers the machine's events for one connection. The end of a message is
//! the one step that differs between runtimes (the commit fsyncs: tokio runs it on its blocking
//! pool), so [`ServerSession::on_event`] hands it back as [`Step::Commit`] and the runtime calls
//! [`ServerSession::finish_message`] with the result.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use smtp_proto::server::{self, AbortReason, Connection, Credentials, Event};
use smtp_proto::{
    Domain, EnhancedCode, ForwardPath, Mechanism, Reply, ReversePath, TlsMode, reply,
};

use super::args::ServerArgs;
use super::trace;
use crate::cli::UserPass;
use crate::driver::Flow;
use crate::proxy::Admitted;
use crate::store::{Incoming, Store, StoreError, Stored};

/// Why the server cannot start with these flags.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// `--hostname` or a `--domain` is not a domain name (RFC 5321 section 4.1.2).
    #[error("{0:?} is not a valid domain name")]
    InvalidDomain(String),
}

/// What the server decides, built once from the command line and shared by all sessions.
#[derive(Debug)]
pub struct Policy {
    hostname: Domain,
    /// Local domains, lowercase (domains compare without case, RFC 5321 section 2.4).
    local_domains: Vec<String>,
    accounts: Vec<UserPass>,
    /// Local parts must name an account (`--accounts-only`): no Maildir nobody can read.
    accounts_only: bool,
    store: Store,
    max_size: u64,
    max_recipients: usize,
    insecure_auth: bool,
    command_timeout: Duration,
    data_timeout: Duration,
}

impl Policy {
    /// The policy the flags describe.
    pub fn from_args(args: &ServerArgs) -> Result<Self, PolicyError> {
        let domain = |name: &str| {
            Domain::new(name.to_owned()).map_err(|_| PolicyError::InvalidDomain(name.to_owned()))
        };
        let hostname = domain(&args.tls.hostname)?;
        let mut local_domains = Vec::new();
        for name in &args.domains {
            domain(name)?;
            local_domains.push(name.to_ascii_lowercase());
        }
        if local_domains.is_empty() {
            local_domains.push(args.tls.hostname.to_ascii_lowercase());
        }
        let store = match &args.maildir {
            Some(root) => Store::maildir(root, args.fsync),
            None => Store::sink(),
        };
        Ok(Self {
            hostname,
            local_domains,
            accounts: args.users.clone(),
            accounts_only: args.accounts_only,
            store,
            max_size: args.max_size,
            max_recipients: args.max_rcpt,
            insecure_auth: args.insecure_auth,
            command_timeout: Duration::from_secs(args.command_timeout),
            data_timeout: Duration::from_secs(args.data_timeout),
        })
    }

    /// The store messages go to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The machine's configuration for a connection in TLS mode `tls` (STARTTLS offered, or
    /// implicit TLS). AUTH (PLAIN, LOGIN) is offered when accounts exist: after TLS only,
    /// unless `--insecure-auth`.
    pub fn machine_config(&self, tls: TlsMode) -> server::Config {
        let mechanisms = if self.accounts.is_empty() {
            Vec::new()
        } else {
            vec![Mechanism::Plain, Mechanism::Login]
        };
        // The HELO name goes into the Received: line.
        let mut decisions = server::Decisions::default();
        decisions.hello = true;
        server::Config::new(self.hostname.clone())
            .with_tls(tls)
            .with_max_message_size(self.max_size)
            .with_max_recipients(self.max_recipients)
            .with_sasl_mechanisms(mechanisms)
            .with_plaintext_auth_without_tls(self.insecure_auth)
            .with_decisions(decisions)
            .with_timeouts(self.command_timeout, self.data_timeout)
    }

    /// Whether `domain` is one of ours.
    pub fn is_local(&self, domain: &[u8]) -> bool {
        self.local_domains
            .iter()
            .any(|local| local.as_bytes().eq_ignore_ascii_case(domain))
    }

    /// The Maildir a recipient's mail goes to, or the refusal. Local domains: the local part
    /// (`<postmaster>` too, RFC 5321 section 4.5.1); with `--accounts-only`, only an
    /// account's (see `local_mailbox`). Other domains: relaying, for authenticated
    /// clients only (550 5.7.1 otherwise, ARCHITECTURE.md security invariant 8); with no
    /// outbound queue in this demo, the mail is kept in the Maildir named by the whole
    /// address, domain in lowercase.
    pub fn recipient_mailbox(
        &self,
        to: &ForwardPath,
        authenticated: bool,
    ) -> Result<String, Reply> {
        let mailbox = match to {
            ForwardPath::Postmaster => self.local_mailbox("postmaster")?,
            ForwardPath::Mailbox(mailbox) => {
                let local_part =
                    String::from_utf8_lossy(&mailbox.local_part_unquoted()).into_owned();
                if self.is_local(mailbox.domain_bytes()) {
                    self.local_mailbox(&local_part)?
                } else if authenticated {
                    let domain = String::from_utf8_lossy(mailbox.domain_bytes());
                    format!("{local_part}@{}", domain.to_ascii_lowercase())
                } else {
                    // RFC 5321 section 4.2.3 and 3.6.2: 550 for a policy refusal at RCPT
                    // (554 is not among RCPT's replies, section 4.3.2).
                    return Err(reply!(
                        550,
                        (5, 7, 1),
                        "Relaying denied: authenticate first"
                    ));
                }
            }
        };
        match self.store.check_recipient(&mailbox) {
            Ok(()) => Ok(mailbox),
            Err(why) => Err(refusal(
                550,
                (5, 1, 3),
                &format!("Mailbox name refused: {why}"),
            )),
        }
    }

    /// The Maildir of a local part of a local domain. Without `--accounts-only`, its own.
    /// With it, only an account's: another local part would fill a Maildir no POP3 login
    /// reads, a black hole for the sender, so it gets 550 5.1.1 now (RFC 5321 section 3.6.2
    /// and 4.2.3; RFC 3463 X.1.1); `postmaster`, which a server must accept (RFC 5321 section
    /// 4.5.1, any case), goes to the account so named, else to the first account. Local parts
    /// compare exactly (RFC 5321 section 2.4), as account names do.
    fn local_mailbox(&self, local_part: &str) -> Result<String, Reply> {
        if !self.accounts_only || self.accounts.iter().any(|a| a.user == local_part) {
            return Ok(local_part.to_owned());
        }
        if local_part.eq_ignore_ascii_case("postmaster") {
            let account = self
                .accounts
                .iter()
                .find(|a| a.user.eq_ignore_ascii_case("postmaster"))
                .or_else(|| self.accounts.first());
            if let Some(account) = account {
                return Ok(account.user.clone());
            }
        }
        Err(Reply::mailbox_unavailable())
    }

    /// Whether the credentials name an account with its password. An authorization identity
    /// other than the user's own is refused (no proxy rights here).
    pub fn check_credentials(&self, credentials: &Credentials) -> Option<&str> {
        let Credentials::Password(password) = credentials else {
            return None;
        };
        if password
            .authzid
            .as_deref()
            .is_some_and(|authzid| authzid != password.username)
        {
            return None;
        }
        // Compare every account in constant time: no timing hint about which user exists.
        let mut found = None;
        for account in &self.accounts {
            let matches = account.pass.constant_time_eq(password.password.expose())
                & (account.user == password.username);
            if matches {
                found = Some(account.user.as_str());
            }
        }
        found
    }
}

/// A refusal whose text is known only at run time. Should it not make a reply that reads back
/// as itself (`Reply::new` refuses it), the client gets a plain 451 (try again later), never a
/// positive reply.
fn refusal(code: u16, (class, subject, detail): (u8, u16, u16), text: &str) -> Reply {
    match Reply::new(
        code,
        EnhancedCode::new(class, subject, detail),
        text.to_owned(),
    ) {
        Ok(reply) if reply.code().is_negative() => reply,
        _ => Reply::temporary_failure(),
    }
}

/// What the runtime does after an event.
#[derive(Debug)]
pub enum Step {
    /// Tell the socket loop this.
    Flow(Flow),
    /// The whole message has arrived: commit it (blocking: fsync), then call
    /// [`ServerSession::finish_message`] with the result.
    Commit(Incoming),
}

/// Session numbers for the log.
static SESSIONS: AtomicU64 = AtomicU64::new(1);

/// The application side of one server connection.
#[derive(Debug)]
pub struct ServerSession {
    policy: Arc<Policy>,
    id: u64,
    peer: SocketAddr,
    implicit_tls: bool,
    /// TLS is in place (implicit, or STARTTLS done).
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    user: Option<String>,
    /// The transaction: sender (for Return-Path), Maildirs of the accepted recipients, the
    /// message being stored, and whether storing failed.
    sender: String,
    mailboxes: Vec<String>,
    incoming: Option<Incoming>,
    /// Storing the message failed: the reply its end gets.
    store_failed: Option<Reply>,
    message_started: Option<Instant>,
    messages: u64,
}

impl ServerSession {
    /// A session for the client `admitted` names (behind a PROXY header: the real client,
    /// which goes into the log and the `Received:` line); `implicit_tls` when the connection
    /// is TLS from the start. Logs the connection.
    pub fn new(policy: Arc<Policy>, admitted: &Admitted, implicit_tls: bool) -> Self {
        let id = SESSIONS.fetch_add(1, Ordering::Relaxed);
        let peer = admitted.client;
        match admitted.via {
            Some(proxy) => {
                tracing::info!(session = id, %peer, %proxy, tls = implicit_tls, "connected");
            }
            None => tracing::info!(session = id, %peer, tls = implicit_tls, "connected"),
        }
        Self {
            policy,
            id,
            peer,
            implicit_tls,
            tls: implicit_tls,
            helo: None,
            esmtp: false,
            user: None,
            sender: String::new(),
            mailboxes: Vec::new(),
            incoming: None,
            store_failed: None,
            message_started: None,
            messages: 0,
        }
    }

    /// The session number in the log.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The machine's configuration for this session.
    pub fn machine_config(&self) -> server::Config {
        let tls = if self.implicit_tls {
            TlsMode::Implicit
        } else {
            TlsMode::Opportunistic
        };
        self.policy.machine_config(tls)
    }

    /// Answers one event of the machine.
    pub fn on_event(&mut self, conn: &mut Connection, event: Event) -> io::Result<Step> {
        if !self.tls && conn.is_secure() {
            // The machine asked the socket loop for the upgrade after its 220, and the
            // handshake succeeded: this is the first event over TLS.
            self.tls = true;
            tracing::info!(session = self.id, "STARTTLS");
        }
        match event {
            Event::Hello { domain, verb } => {
                self.helo = Some(domain.as_str().to_owned());
                self.esmtp = verb != server::HelloVerb::Helo;
                conn.accept().map_err(misuse)?;
            }
            Event::Authenticate {
                mechanism,
                credentials,
            } => match self.policy.check_credentials(&credentials) {
                Some(user) => {
                    tracing::info!(session = self.id, ?mechanism, user, "authenticated");
                    self.user = Some(user.to_owned());
                    conn.accept().map_err(misuse)?;
                }
                None => {
                    tracing::warn!(session = self.id, ?mechanism, "authentication failed");
                    conn.reject(reply!(535, (5, 7, 8), "Authentication credentials invalid"))
                        .map_err(misuse)?;
                }
            },
            Event::AuthStart { mechanism, .. } => {
                // Only PLAIN and LOGIN are offered, and the machine runs those itself.
                tracing::warn!(session = self.id, ?mechanism, "unexpected relayed AUTH");
                conn.reject(reply!(504, (5, 5, 4), "Mechanism not supported"))
                    .map_err(misuse)?;
            }
            Event::AuthResponse { .. } => {
                conn.reject(reply!(535, (5, 7, 8), "Authentication failed"))
                    .map_err(misuse)?;
            }
            Event::Mail { from, .. } => {
                self.abort_message();
                self.mailboxes.clear();
                self.sender = match &from {
                    ReversePath::Null => String::new(),
                    ReversePath::Mailbox(mailbox) => mailbox.as_str().to_owned(),
                };
                conn.accept().map_err(misuse)?;
            }
            Event::Rcpt { to, .. } => {
                match self.policy.recipient_mailbox(&to, self.user.is_some()) {
                    Ok(mailbox) => {
                        if !self.mailboxes.contains(&mailbox) {
                            self.mailboxes.push(mailbox);
                        }
                        conn.accept().map_err(misuse)?;
                    }
                    Err(refusal) => {
                        tracing::warn!(session = self.id, recipient = %DisplayPath(&to), reply = %refusal, "recipient refused");
                        conn.reject(refusal).map_err(misuse)?;
                    }
                }
            }
            Event::MessageData(chunk) => self.store_chunk(&chunk),
            Event::MessageEnd { .. } => {
                if self.incoming.is_none() && self.store_failed.is_none() {
                    self.begin_message(); // an empty message: no data event came
                }
                match (self.incoming.take(), self.store_failed.take()) {
                    (Some(incoming), None) => return Ok(Step::Commit(incoming)),
                    (_, failed) => {
                        self.mailboxes.clear();
                        let reply = failed.unwrap_or_else(|| storage_failure(None));
                        conn.reject(reply).map_err(misuse)?;
                    }
                }
            }
            Event::MessageAborted { reason } => {
                self.abort_message();
                self.mailboxes.clear();
                log_abort(self.id, reason);
            }
            Event::Vrfy(_) | Event::Expn(_) | Event::Connected | Event::StartTlsRequested => {
                // Not asked for in the configuration; answer as the machine would by default.
                conn.accept().map_err(misuse)?;
            }
            other => {
                // An event of a later machine version: left unanswered, a decision ends the
                // session (the socket loop has nothing to give it).
                tracing::warn!(session = self.id, event = ?other, "unexpected event");
            }
        }
        Ok(Step::Flow(Flow::Continue))
    }

    /// Answers the end of the message after the runtime committed it: 250 only when every
    /// copy is durable, otherwise 452 4.3.1 when the disk is full, 451 4.3.0 for any other
    /// failure (the client tries again later; see [`storage_failure`]).
    pub fn finish_message(
        &mut self,
        conn: &mut Connection,
        result: io::Result<Stored>,
    ) -> io::Result<()> {
        self.messages += 1;
        let queue_id = format!("{:x}.{}", self.id, self.messages);
        let mailboxes = std::mem::take(&mut self.mailboxes);
        let elapsed = self.message_started.take().map(|t| t.elapsed());
        match result {
            Ok(stored) => {
                tracing::info!(
                    session = self.id,
                    queue_id,
                    from = %self.sender,
                    recipients = mailboxes.len(),
                    size = stored.size,
                    ms = elapsed.map(|d| d.as_millis() as u64),
                    "message stored"
                );
                conn.accept_message(&queue_id).map_err(misuse)
            }
            Err(error) => {
                tracing::error!(session = self.id, %error, "storing the message failed");
                conn.reject(storage_failure(Some(&error))).map_err(misuse)
            }
        }
    }

    /// Logs how the session ended.
    pub fn ended(&mut self, how: &io::Result<crate::driver::Ended>) {
        self.abort_message();
        match how {
            Ok(ended) => tracing::info!(
                session = self.id,
                ?ended,
                messages = self.messages,
                "closed"
            ),
            Err(error) => {
                tracing::info!(session = self.id, %error, messages = self.messages, "closed by error")
            }
        }
    }

    fn begin_message(&mut self) {
        self.message_started = Some(Instant::now());
        let started = self
            .policy
            .store()
            .begin(self.mailboxes.iter().map(String::as_str))
            .map_err(|error| match error {
                // Kept as it is: a full disk is told apart by its kind.
                StoreError::Io(error) => error,
                other => io::Error::other(other),
            })
            .and_then(|mut incoming| {
                incoming.write_all(self.trace_headers().as_bytes())?;
                Ok(incoming)
            });
        match started {
            Ok(incoming) => self.incoming = Some(incoming),
            Err(error) => {
                tracing::error!(session = self.id, %error, "cannot start storing a message");
                self.store_failed = Some(storage_failure(Some(&error)));
            }
        }
    }

    fn store_chunk(&mut self, chunk: &[u8]) {
        if self.store_failed.is_some() {
            return; // drained; the end gets the failure's reply
        }
        if self.incoming.is_none() {
            self.begin_message();
        }
        if let Some(incoming) = &mut self.incoming
            && let Err(error) = incoming.write_all(chunk)
        {
            tracing::error!(session = self.id, %error, "writing a message failed");
            self.incoming = None; // removes the partial file
            self.store_failed = Some(storage_failure(Some(&error)));
        }
    }

    /// Drops the message in progress: nothing of it is stored.
    fn abort_message(&mut self) {
        self.incoming = None;
        self.store_failed = None;
        self.message_started = None;
    }

    /// `Return-Path:` and `Received:` (RFC 5321 section 4.4), on top of the stored message.
    fn trace_headers(&self) -> String {
        let with = trace::protocol(self.esmtp, self.tls, self.user.is_some());
        trace::headers(
            &self.sender,
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            self.policy.hostname.as_str(),
            with,
            std::time::SystemTime::now(),
        )
    }
}

/// The reply to the end of a message that could not be stored (the client keeps it and
/// tries again later, RFC 5321 section 4.2.5): `452 4.3.1` when the file system is full or
/// over quota (RFC 5321 section 4.2.3, 452 insufficient system storage; RFC 3463 section
/// 3.4, X.3.1 mail system full), `451 4.3.0` for anything else (451 local error in
/// processing; X.3.0 other mail system status).
pub fn storage_failure(error: Option<&io::Error>) -> Reply {
    match error {
        Some(error) if is_storage_full(error) => Reply::insufficient_storage(),
        _ => reply!(451, (4, 3, 0), "Cannot store the message, try again later"),
    }
}

/// ENOSPC or EDQUOT (std maps the OS error numbers to these kinds; an error rebuilt from a
/// kind and a text, as a shared directory sync hands it out, keeps the kind).
fn is_storage_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// A machine misuse is a bug of this adapter: end the session with an error.
fn misuse(error: server::UsageError) -> io::Error {
    io::Error::other(format!("SMTP server machine misused: {error}"))
}

fn log_abort(session: u64, reason: AbortReason) {
    match reason {
        AbortReason::ConnectionLost => {
            tracing::warn!(session, "connection lost in a message; nothing stored")
        }
        other => tracing::warn!(session, reason = ?other, "message refused; nothing stored"),
    }
}

/// A forward path for the log.
struct DisplayPath<'a>(&'a ForwardPath);

impl std::fmt::Display for DisplayPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            ForwardPath::Postmaster => f.write_str("<postmaster>"),
            ForwardPath::Mailbox(mailbox) => write!(f, "<{}>", mailbox.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn policy(extra: &[&str]) -> Policy {
        let argv = ["smtp", "--hostname", "mx.example", "--user", "alice:pw"];
        let args = ServerArgs::try_parse_from(argv.iter().chain(extra)).unwrap();
        Policy::from_args(&args).unwrap()
    }

    fn rcpt(policy: &Policy, to: &str, authenticated: bool) -> Result<String, String> {
        let to: ForwardPath = to.parse().unwrap();
        policy
            .recipient_mailbox(&to, authenticated)
            .map_err(|reply| reply.to_string())
    }

    #[test]
    fn relay_refused_with_550_5_7_1_unless_authenticated() {
        let policy = policy(&[]);
        let refused = rcpt(&policy, "<bob@elsewhere.example>", false).unwrap_err();
        assert!(refused.starts_with("550 5.7.1 "), "{refused}");
        assert_eq!(
            rcpt(&policy, "<bob@Elsewhere.Example>", true).unwrap(),
            "bob@elsewhere.example"
        );
    }

    #[test]
    fn any_local_part_has_a_maildir_by_default() {
        let policy = policy(&[]);
        assert_eq!(
            rcpt(&policy, "<nobody@mx.example>", false).unwrap(),
            "nobody"
        );
        assert_eq!(rcpt(&policy, "<postmaster>", false).unwrap(), "postmaster");
    }

    #[test]
    fn accounts_only_refuses_unknown_local_parts_with_550_5_1_1() {
        let policy = policy(&["--accounts-only"]);
        assert_eq!(rcpt(&policy, "<alice@MX.example>", false).unwrap(), "alice");
        let refused = rcpt(&policy, "<nobody-at-all@mx.example>", false).unwrap_err();
        assert!(refused.starts_with("550 5.1.1 "), "{refused}");
        // Local parts are exact (RFC 5321 section 2.4), as account names are.
        assert!(rcpt(&policy, "<Alice@mx.example>", false).is_err());
        // Postmaster is always accepted (RFC 5321 section 4.5.1), for an account to read.
        assert_eq!(rcpt(&policy, "<postmaster>", false).unwrap(), "alice");
        assert_eq!(
            rcpt(&policy, "<PostMaster@mx.example>", false).unwrap(),
            "alice"
        );
        // Relaying is unchanged.
        let relay = rcpt(&policy, "<bob@elsewhere.example>", false).unwrap_err();
        assert!(relay.starts_with("550 5.7.1 "), "{relay}");
    }

    #[test]
    fn accounts_only_needs_accounts() {
        let argv = ["smtp", "--accounts-only"];
        assert!(ServerArgs::try_parse_from(argv).is_err());
    }

    #[test]
    fn a_full_disk_is_452_4_3_1_any_other_failure_451_4_3_0() {
        let text = |reply: Reply| {
            let mut out = bytes::BytesMut::new();
            reply.write(&mut out);
            String::from_utf8(out.to_vec()).unwrap()
        };
        // A real ENOSPC, as the kernel gives it: /dev/full refuses every write.
        #[cfg(target_os = "linux")]
        {
            let mut full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            let enospc = full.write_all(b"x").and_then(|()| full.flush());
            let error = enospc.unwrap_err();
            assert!(text(storage_failure(Some(&error))).starts_with("452 4.3.1 "));
        }
        let quota = io::Error::from(io::ErrorKind::QuotaExceeded);
        assert!(text(storage_failure(Some(&quota))).starts_with("452 4.3.1 "));
        // As the shared directory sync hands a failure out: rebuilt from kind and text.
        let rebuilt = io::Error::new(io::ErrorKind::StorageFull, "No space left on device");
        assert!(text(storage_failure(Some(&rebuilt))).starts_with("452 4.3.1 "));
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(text(storage_failure(Some(&other))).starts_with("451 4.3.0 "));
        assert!(text(storage_failure(None)).starts_with("451 4.3.0 "));
    }
}
