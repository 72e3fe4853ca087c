//! The client session against scripted servers: every file in `tests/transcripts/client/` is
//! a conversation, replayed whole, one byte at a time, and at random splits of the server's
//! bytes; the client's bytes and events must be the same every time.
//!
//! # Transcript format
//!
//! One directive per line; `#` starts a comment line. In `S`, `C` and `A: body` text,
//! `\r`, `\n`, `\t`, `\\` and `\xHH` are escapes.
//!
//! - `@config key=value ...` (first): `tls=disabled|opportunistic|required|implicit`,
//!   `password=user:pass`, `oauth2=user:token`, `mechanisms=plain,login,xoauth2`,
//!   `plaintext-auth`, `pipelining=off`, `chunking=off`, `ehlo=name`, `bdat-chunk=N`,
//!   `transmit-bound=N`.
//! - `S: text` server bytes, CRLF appended (`S= text`: no CRLF). Consecutive `S` lines are
//!   one block, fed together (at the split under test).
//! - `C: text` the client's next bytes, CRLF appended (`C= text`: no CRLF).
//! - `E: event` the client's next event (rendering: see `render_event`); also
//!   `E: upgrade-tls` when `poll` says `Next::UpgradeTls`, and `E: closed <reason>` when it
//!   says `Next::Closed` (once: every later `poll` must say the same).
//! - `A: action` an application call: `send-mail from=<a@b> to=<c@d>,<e@f> [size=N] [8bit]
//!   [binary]`, `body TEXT`, `end-body`, `quit`, `reset`, `tls-established`, `close`,
//!   `timeout`.
//! - `R: error` the previous action failed with this error (see `render_send_error`).
//! - `T: seconds|none` the timeout of the wait `poll` said last (`Read` or `UpgradeTls`);
//!   `none` when it said `AwaitApp` or `Closed`. `W: yes|no` what `wants_body()` says.
//! - `X: closed|open` what `is_closed()` says.
//! - `H: on|off` stop polling (as an adapter blocked on a socket that is not writable, so the
//!   transmits stay in the machine), or poll again.
//!
//! The machine is driven by the canonical loop, one `match` on `poll()`, until it waits.
//! Checks are strict: before the next `S` block or action, every byte the client wrote and
//! every event it gave must have been matched by `C` and `E` lines. At the end too. Every
//! wait must carry a usable deadline, and `poll` asked again must repeat it.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use mail_wire::sasl::{Credentials, Mechanism, OAuth2Credentials, PasswordCredentials};
use proptest::prelude::*;

mod escapes;
use escapes::unescape;
use smtp_proto::client::{
    Config, Connection, EhloName, Envelope, Error, Event, Failure, ProtocolViolation,
    SendMailError, UsageError,
};
use smtp_proto::{Capability, CloseReason, ForwardPath, Mailbox, Next, ReversePath, TlsMode};

fn transcripts() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/client");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("transcript directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("readable transcript");
            (path, text)
        })
        .collect()
}

fn parse_config(line: &str) -> Config {
    let mut config = Config::new(EhloName::new("client.example").unwrap());
    for item in line.split_whitespace() {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        config = match key {
            "tls" => config.with_tls(match value {
                "disabled" => TlsMode::Disabled,
                "opportunistic" => TlsMode::Opportunistic,
                "required" => TlsMode::Required,
                "implicit" => TlsMode::Implicit,
                other => panic!("tls={other}"),
            }),
            "password" => {
                let (user, pass) = value.split_once(':').expect("user:pass");
                config.with_credentials(Credentials::Password(PasswordCredentials::new(
                    user,
                    pass.as_bytes().to_vec(),
                )))
            }
            "oauth2" => {
                let (user, token) = value.split_once(':').expect("user:token");
                config.with_credentials(Credentials::OAuth2(OAuth2Credentials {
                    user: user.into(),
                    token: token.as_bytes().to_vec().into(),
                }))
            }
            "mechanisms" => {
                let list: Vec<Mechanism> = value
                    .split(',')
                    .map(|m| Mechanism::parse(m.as_bytes()).expect("mechanism"))
                    .collect();
                config.with_sasl_mechanisms(list)
            }
            "plaintext-auth" => config.with_plaintext_auth_without_tls(true),
            "pipelining" => config.with_pipelining(value != "off"),
            "chunking" => config.with_chunking(value != "off"),
            "ehlo" => config.with_ehlo_name(EhloName::new(value.to_owned()).unwrap()),
            "bdat-chunk" => config.with_bdat_chunk_size(value.parse().unwrap()),
            "transmit-bound" => config.with_transmit_bound(value.parse().unwrap()),
            other => panic!("unknown config key {other}"),
        };
    }
    config
}

fn path_mailbox(text: &str) -> Mailbox {
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .expect("<path>");
    Mailbox::parse(inner.to_owned()).expect("mailbox")
}

fn parse_envelope(args: &str) -> Envelope {
    let mut from = ReversePath::Null;
    let mut to = Vec::new();
    let mut envelope_size = None;
    let (mut eight_bit, mut binary) = (false, false);
    for item in args.split_whitespace() {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        match key {
            "from" if value == "<>" => from = ReversePath::Null,
            "from" => from = ReversePath::Mailbox(path_mailbox(value)),
            "to" => {
                for path in value.split(',').filter(|p| !p.is_empty()) {
                    to.push(if path.eq_ignore_ascii_case("<postmaster>") {
                        ForwardPath::Postmaster
                    } else {
                        ForwardPath::Mailbox(path_mailbox(path))
                    });
                }
            }
            "size" => envelope_size = Some(value.parse().unwrap()),
            "8bit" => eight_bit = true,
            "binary" => binary = true,
            other => panic!("unknown send-mail argument {other}"),
        }
    }
    let mut envelope = Envelope::new(from, to)
        .with_8bit_body(eight_bit)
        .with_binary_body(binary);
    envelope.size_hint = envelope_size;
    envelope
}

fn render_failure(failure: &Failure) -> String {
    let kind = if failure.is_permanent() {
        "permanent"
    } else {
        "transient"
    };
    format!("{kind} {}", failure.reply().code())
}

fn render_error(error: &Error) -> String {
    match error {
        Error::GreetingRejected(f) => format!("greeting-rejected {}", render_failure(f)),
        Error::ServiceClosing(reply) => format!("service-closing {}", reply.code()),
        Error::HelloRejected(f) => format!("hello-rejected {}", render_failure(f)),
        Error::TlsNotOffered => "tls-not-offered".into(),
        Error::TlsRejected(f) => format!("tls-rejected {}", render_failure(f)),
        Error::NoUsableMechanism => "no-usable-mechanism".into(),
        Error::PlaintextAuthRefused => "plaintext-auth-refused".into(),
        Error::ProtocolViolation(v) => match v {
            ProtocolViolation::Malformed(_) => "protocol-violation malformed".into(),
            ProtocolViolation::Unsolicited(code) => {
                format!("protocol-violation unsolicited {code}")
            }
            ProtocolViolation::UnexpectedCode { command, code } => {
                format!("protocol-violation unexpected {command} {code}")
            }
            ProtocolViolation::InputOverflow => "protocol-violation input-overflow".into(),
            other => panic!("a violation the transcripts do not know: {other:?}"),
        },
        Error::Timeout => "timeout".into(),
        Error::ConnectionLost => "connection-lost".into(),
        other => panic!("an error the transcripts do not know: {other:?}"),
    }
}

fn render_event(event: &Event) -> String {
    match event {
        Event::Greeting(reply) => format!("greeting {}", reply.code()),
        Event::Capabilities(caps) => {
            let mut text = String::from("capabilities");
            for capability in caps.iter() {
                text.push(' ');
                match capability {
                    Capability::Known(extension) => text.push_str(extension.keyword()),
                    Capability::Other { keyword, .. } => {
                        text.push_str(&String::from_utf8_lossy(keyword))
                    }
                }
            }
            if let Some(size) = caps.size().filter(|&s| s > 0) {
                text.push_str(&format!(" (size {size})"));
            }
            text
        }
        Event::Authenticated(reply) => format!("authenticated {}", reply.code()),
        Event::AuthRejected(f) => format!("auth-rejected {}", render_failure(f)),
        Event::Ready => "ready".into(),
        Event::RecipientAccepted { index, reply } => {
            format!("rcpt-accepted {index} {}", reply.code())
        }
        Event::RecipientRejected { index, failure } => {
            format!("rcpt-rejected {index} {}", render_failure(failure))
        }
        Event::SendBody => "send-body".into(),
        Event::MessageAccepted(reply) => format!(
            "message-accepted {} {}",
            reply.code(),
            String::from_utf8_lossy(reply.first_line())
        ),
        Event::MessageRejected(f) => format!("message-rejected {}", render_failure(f)),
        Event::SenderRejected(f) => format!("sender-rejected {}", render_failure(f)),
        Event::NoRecipientAccepted => "no-recipient-accepted".into(),
        Event::Reset => "reset".into(),
        Event::Failed(error) => format!("failed {}", render_error(error)),
        other => panic!("an event the transcripts do not know: {other:?}"),
    }
}

fn render_usage(error: &UsageError) -> String {
    match error {
        UsageError::NotReady => "not-ready",
        UsageError::NoBodyExpected => "no-body-expected",
        UsageError::BodyInProgress => "body-in-progress",
        UsageError::Closed => "closed",
        UsageError::NoTlsUpgrade => "no-tls-upgrade",
        other => panic!("a usage error the transcripts do not know: {other:?}"),
    }
    .into()
}

fn render_send_error(error: &SendMailError) -> String {
    match error {
        SendMailError::Usage(usage) => render_usage(usage),
        SendMailError::NoRecipients => "no-recipients".into(),
        SendMailError::MessageTooBig { size, limit } => format!("message-too-big {size} {limit}"),
        SendMailError::EightBitMimeNotOffered => "8bitmime-not-offered".into(),
        SendMailError::BinaryMimeNotOffered => "binarymime-not-offered".into(),
        SendMailError::SmtpUtf8NotOffered => "smtputf8-not-offered".into(),
        other => panic!("a send error the transcripts do not know: {other:?}"),
    }
}

/// The canonical loop and what it saw.
#[derive(Default)]
struct Driver {
    /// The timeout of the last wait `poll` gave; `None` after `AwaitApp` or `Closed`.
    timeout: Option<Duration>,
    /// The wait id of the upgrade whose `upgrade-tls` was reported.
    upgrade: Option<u64>,
    closed: Option<CloseReason>,
}

impl Driver {
    /// One `match` on `poll()` until the machine waits; nothing while transmits are held.
    fn drive(
        &mut self,
        conn: &mut Connection,
        output: &mut Vec<u8>,
        events: &mut VecDeque<String>,
        hold: bool,
    ) -> Result<(), String> {
        if hold {
            return Ok(());
        }
        loop {
            match conn.poll() {
                Next::Transmit(bytes) => {
                    if bytes.is_empty() {
                        return Err("an empty transmit".into());
                    }
                    output.extend_from_slice(&bytes);
                }
                Next::Event(event) => events.push_back(render_event(&event)),
                Next::Read(wait) => {
                    check_wait(wait.timeout())?;
                    // Contract rule 2: nothing processable was left behind.
                    let again = conn.poll();
                    if again != Next::Read(wait) {
                        return Err(format!("poll unstable: Read({wait:?}) then {again:?}"));
                    }
                    self.timeout = Some(wait.timeout());
                    return Ok(());
                }
                Next::UpgradeTls(wait) => {
                    check_wait(wait.timeout())?;
                    if self.upgrade != Some(wait.id()) {
                        self.upgrade = Some(wait.id());
                        events.push_back("upgrade-tls".into());
                    }
                    self.timeout = Some(wait.timeout());
                    return Ok(());
                }
                Next::AwaitApp => {
                    self.timeout = None;
                    return Ok(());
                }
                Next::Closed(reason) => {
                    match self.closed {
                        None => events.push_back(format!("closed {reason:?}")),
                        Some(first) if first == reason => {}
                        Some(first) => return Err(format!("Closed({first:?}) then {reason:?}")),
                    }
                    self.closed = Some(reason);
                    self.timeout = None;
                    let again = conn.poll();
                    if again != Next::Closed(reason) {
                        return Err(format!("after Closed({reason:?}) poll gave {again:?}"));
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Every wait on the server has a usable deadline (contract rule 3).
fn check_wait(timeout: Duration) -> Result<(), String> {
    if timeout.is_zero() || timeout > Duration::from_secs(3600) {
        return Err(format!("a wait without a usable deadline: {timeout:?}"));
    }
    Ok(())
}

/// Replays one transcript; `split` cuts each server block into the pieces fed one after the
/// other. Gives the first mismatch.
fn run(script: &str, split: &mut dyn FnMut(&[u8]) -> Vec<usize>) -> Result<(), String> {
    let mut lines = script.lines().enumerate().peekable();
    let mut conn: Option<Connection> = None;
    let mut output: Vec<u8> = Vec::new();
    let mut events: VecDeque<String> = VecDeque::new();
    let mut results: VecDeque<String> = VecDeque::new();
    let mut server_block: Vec<u8> = Vec::new();
    let mut hold = false;
    let mut driver = Driver::default();

    let settled = |n: usize,
                   output: &[u8],
                   events: &VecDeque<String>,
                   results: &VecDeque<String>|
     -> Result<(), String> {
        if !output.is_empty() {
            return Err(format!(
                "line {n}: unmatched client output {:?}",
                String::from_utf8_lossy(output)
            ));
        }
        if let Some(event) = events.front() {
            return Err(format!("line {n}: unmatched event {event:?}"));
        }
        if let Some(result) = results.front() {
            return Err(format!("line {n}: unmatched action result {result:?}"));
        }
        Ok(())
    };

    loop {
        let next = lines.next();
        // Feed the pending server block before any other directive.
        let is_server = next.is_some_and(|(_, l)| l.starts_with("S:") || l.starts_with("S="));
        if !is_server && !server_block.is_empty() {
            let n = next.map_or(usize::MAX, |(n, _)| n + 1);
            let conn = conn.as_mut().ok_or("server bytes before @config")?;
            settled(n, &output, &events, &results)?;
            let block = std::mem::take(&mut server_block);
            let mut start = 0;
            for cut in split(&block) {
                let end = (start + cut).min(block.len());
                conn.receive(&block[start..end]);
                driver.drive(conn, &mut output, &mut events, hold)?;
                start = end;
            }
            conn.receive(&block[start..]);
            driver.drive(conn, &mut output, &mut events, hold)?;
        }
        let Some((index, line)) = next else { break };
        let n = index + 1;
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("@config") {
            let mut c = Connection::new(parse_config(rest));
            driver.drive(&mut c, &mut output, &mut events, hold)?;
            conn = Some(c);
            continue;
        }
        let conn = conn.as_mut().ok_or(format!("line {n}: no @config yet"))?;
        let (tag, text) = line.split_at(2);
        let text = text.strip_prefix(' ').unwrap_or(text);
        match tag {
            "S:" => {
                server_block.extend(unescape(text));
                server_block.extend_from_slice(b"\r\n");
            }
            "S=" => server_block.extend(unescape(text)),
            "C:" | "C=" => {
                let mut expected = unescape(text);
                if tag == "C:" {
                    expected.extend_from_slice(b"\r\n");
                }
                if !output.starts_with(&expected) {
                    return Err(format!(
                        "line {n}: expected client bytes {:?}, got {:?}",
                        String::from_utf8_lossy(&expected),
                        String::from_utf8_lossy(&output)
                    ));
                }
                output.drain(..expected.len());
            }
            "E:" => match events.pop_front() {
                Some(event) if event == text => {}
                Some(event) => {
                    return Err(format!("line {n}: expected event {text:?}, got {event:?}"));
                }
                None => return Err(format!("line {n}: expected event {text:?}, got none")),
            },
            "R:" => match results.pop_front() {
                Some(result) if result == text => {}
                other => return Err(format!("line {n}: expected result {text:?}, got {other:?}")),
            },
            "T:" => {
                let got = driver
                    .timeout
                    .map_or("none".to_string(), |d| d.as_secs().to_string());
                if got != text {
                    return Err(format!("line {n}: expected timeout {text}, got {got}"));
                }
            }
            "W:" => {
                let got = if conn.wants_body() { "yes" } else { "no" };
                if got != text {
                    return Err(format!("line {n}: expected wants_body {text}, got {got}"));
                }
            }
            "H:" => {
                hold = text == "on";
                driver.drive(conn, &mut output, &mut events, hold)?;
            }
            "X:" => {
                let got = if conn.is_closed() { "closed" } else { "open" };
                if got != text {
                    return Err(format!("line {n}: expected {text}, got {got}"));
                }
            }
            "A:" => {
                settled(n, &output, &events, &results)?;
                let (action, args) = text.split_once(' ').unwrap_or((text, ""));
                let result = match action {
                    "send-mail" => conn
                        .send_mail(parse_envelope(
                            &String::from_utf8(unescape(args)).expect("UTF-8 arguments"),
                        ))
                        .map_err(|e| render_send_error(&e)),
                    "body" => conn
                        .send_body_chunk(Bytes::from(unescape(args)))
                        .map_err(|e| render_usage(&e)),
                    "end-body" => conn.end_body().map_err(|e| render_usage(&e)),
                    "quit" => conn.quit().map_err(|e| render_usage(&e)),
                    "reset" => conn.reset().map_err(|e| render_usage(&e)),
                    "tls-established" => conn.tls_established().map_err(|e| render_usage(&e)),
                    "close" => {
                        conn.handle_close();
                        Ok(())
                    }
                    "timeout" => {
                        conn.handle_timeout();
                        Ok(())
                    }
                    other => return Err(format!("line {n}: unknown action {other}")),
                };
                if let Err(error) = result {
                    results.push_back(error);
                }
                driver.drive(conn, &mut output, &mut events, hold)?;
            }
            other => return Err(format!("line {n}: unknown directive {other:?}")),
        }
    }
    settled(usize::MAX, &output, &events, &results)
}

#[test]
fn every_transcript_passes_fed_whole() {
    let all = transcripts();
    assert!(all.len() >= 20, "only {} transcripts", all.len());
    for (path, script) in all {
        if let Err(error) = run(&script, &mut |_| Vec::new()) {
            panic!("{}: {error}", path.display());
        }
    }
}

#[test]
fn every_transcript_passes_one_byte_at_a_time() {
    for (path, script) in transcripts() {
        if let Err(error) = run(&script, &mut |block| vec![1; block.len()]) {
            panic!("{}: {error}", path.display());
        }
    }
}

#[test]
fn every_transcript_passes_at_every_single_split() {
    for (path, script) in transcripts() {
        let longest = script.len();
        for at in 0..longest.min(600) {
            if let Err(error) = run(&script, &mut |_| vec![at]) {
                panic!("{} split at {at}: {error}", path.display());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_transcript_passes_at_random_splits(
        cuts in prop::collection::vec(0usize..40, 1..64),
        which in any::<prop::sample::Index>(),
    ) {
        let all = transcripts();
        let (path, script) = &all[which.index(all.len())];
        let mut round = 0;
        let result = run(script, &mut |block| {
            // A different cut pattern for every block, cycled from the drawn sizes.
            let mut sizes = Vec::new();
            let mut total = 0;
            while total < block.len() {
                let size = cuts[round % cuts.len()];
                round += 1;
                sizes.push(size);
                total += size.max(1);
            }
            sizes
        });
        prop_assert!(result.is_ok(), "{}: {:?}", path.display(), result);
    }
}
