//! The SMTP examples against real mail software, over loopback:
//!
//! - server <- swaks, curl, python3 smtplib: plain, STARTTLS, implicit TLS, AUTH PLAIN and
//!   LOGIN; every stored message is byte-identical to what was sent, below the two trace lines
//!   the server adds (dot lines, a 998-octet line, UTF-8 8-bit text, 1 MiB);
//! - client -> aiosmtpd (plain; STARTTLS with AUTH), postfix's smtp-sink, and our own servers
//!   (implicit TLS, refusals and the exit status);
//! - bad peers over raw sockets: smuggling, STARTTLS injection, a 100 KB line, 200
//!   recipients, relaying without AUTH, a disconnect in the middle of DATA;
//! - a graceful stop on SIGINT.
//!
//! Each server test runs against both servers (tokio, blocking); each client test with both
//! clients. A missing peer skips its test with a message, unless `MAIL_INTEROP=required`.
//! The load test is in `smtp_load.rs` (its own binary, so nothing else competes for the CPU).

mod smtp_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use smtp_support::*;

/// Writes the corpus into `dir`: one file per message, and the same without its final CRLF
/// (swaks adds one). Gives (full, trimmed) paths.
fn corpus_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut full = Vec::new();
    let mut trimmed = Vec::new();
    for (name, message) in corpus() {
        let path = dir.join(format!("{name}.eml"));
        fs::write(&path, &message).unwrap();
        full.push(path);
        let path = dir.join(format!("{name}.trimmed.eml"));
        fs::write(&path, message.strip_suffix(b"\r\n").unwrap()).unwrap();
        trimmed.push(path);
    }
    (full, trimmed)
}

fn corpus_messages() -> Vec<Vec<u8>> {
    corpus().into_iter().map(|(_, m)| m).collect()
}

/// Defines `$name` once per server: `$name::tokio` and `$name::blocking`.
macro_rules! for_both_servers {
    ($(fn $name:ident($server:ident: &str) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn case($server: &str) $body
            #[test]
            fn tokio() { case("smtp_server_tokio") }
            #[test]
            fn blocking() { case("smtp_server_blocking") }
        }
    )*};
}

/// Defines `$name` once per client: `$name::tokio` and `$name::blocking`.
macro_rules! for_both_clients {
    ($(fn $name:ident($client:ident: &str) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn case($client: &str) $body
            #[test]
            fn tokio() { case("smtp_client_tokio") }
            #[test]
            fn blocking() { case("smtp_client_blocking") }
        }
    )*};
}

// ------------------------------------------------------------------ server <- real clients

for_both_servers! {
    fn swaks_plain_starttls_login_and_implicit_tls_plain(server: &str) {
        let Some(swaks) = peer("swaks") else { return };
        let srv = Server::start(server, true, &[]);
        let dir = tempfile::tempdir().unwrap();
        let (_, trimmed) = corpus_files(dir.path());
        let port = srv.addr.port().to_string();
        let tls_port = srv.tls_addr.port().to_string();
        for file in &trimmed {
            let data = format!("@{}", file.display());
            let base = |to: &str, port: &str| {
                let mut c = Command::new(&swaks);
                c.args(["--server", "127.0.0.1", "--port", port, "--from", "s@example.test"])
                    .args(["--to", to, "--helo", "swaks.example.test", "--data", &data]);
                c
            };
            run_ok(base("swaks-plain@localhost", &port), b"");
            let mut c = base("swaks-starttls@example.test", &port);
            c.args(["-tls", "--auth", "LOGIN", "--auth-user", ALICE.0, "--auth-password", ALICE.1]);
            run_ok(c, b"");
            let mut c = base("swaks-tlsc@localhost", &tls_port);
            c.args(["-tlsc", "--auth", "PLAIN", "--auth-user", ALICE.0, "--auth-password", ALICE.1]);
            run_ok(c, b"");
        }
        for mailbox in ["swaks-plain", "swaks-starttls", "swaks-tlsc"] {
            assert_same_messages(srv.stored_bodies(mailbox), &corpus_messages(), mailbox);
        }
        // The trace line names the protocol (RFC 3848): TLS and AUTH show.
        let received = |mailbox: &str| String::from_utf8_lossy(&srv.stored(mailbox)[0]).into_owned();
        assert!(received("swaks-plain").contains("with ESMTP;"));
        assert!(received("swaks-starttls").contains("with ESMTPSA;"));
        assert!(received("swaks-tlsc").contains("from swaks.example.test ([127.0.0.1]) by localhost with ESMTPSA;"));
        assert!(received("swaks-plain").starts_with("Return-Path: <s@example.test>\r\n"));
    }

    fn curl_plain_starttls_plain_and_smtps_login(server: &str) {
        let Some(curl) = peer("curl") else { return };
        let srv = Server::start(server, true, &[]);
        let dir = tempfile::tempdir().unwrap();
        let (full, _) = corpus_files(dir.path());
        let user = format!("{}:{}", ALICE.0, ALICE.1);
        for file in &full {
            let base = |url: String, to: &str| {
                let mut c = Command::new(&curl);
                c.args(["-sS", "--max-time", "30", "--url", &url])
                    .args(["--mail-from", "c@example.test", "--mail-rcpt", to])
                    .arg("--upload-file")
                    .arg(file);
                c
            };
            run_ok(base(format!("smtp://127.0.0.1:{}/curl.example.test", srv.addr.port()), "curl-plain@localhost"), b"");
            let mut c = base(format!("smtp://127.0.0.1:{}", srv.addr.port()), "curl-starttls@localhost");
            c.args(["--ssl-reqd", "-k", "--user", &user, "--login-options", "AUTH=PLAIN"]);
            run_ok(c, b"");
            let mut c = base(format!("smtps://127.0.0.1:{}", srv.tls_addr.port()), "curl-smtps@localhost");
            c.args(["-k", "--user", &user, "--login-options", "AUTH=LOGIN"]);
            run_ok(c, b"");
        }
        for mailbox in ["curl-plain", "curl-starttls", "curl-smtps"] {
            assert_same_messages(srv.stored_bodies(mailbox), &corpus_messages(), mailbox);
        }
        // A wrong password is refused, and nothing is stored.
        let mut c = Command::new(&curl);
        c.args(["-sS", "--max-time", "30", "--url"])
            .arg(format!("smtps://127.0.0.1:{}", srv.tls_addr.port()))
            .args(["-k", "--user", "alice:wrong", "--mail-from", "c@example.test"])
            .args(["--mail-rcpt", "curl-wrong@localhost", "--upload-file"])
            .arg(&full[0]);
        let (status, output) = run(c, b"");
        assert!(!status.success(), "wrong password accepted: {output}");
        assert!(srv.stored("curl-wrong").is_empty());
    }

    fn python_smtplib_plain_starttls_ssl(server: &str) {
        let Some(python) = peer("python3") else { return };
        let srv = Server::start(server, true, &[]);
        let dir = tempfile::tempdir().unwrap();
        let (full, _) = corpus_files(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_support/smtplib_client.py");
        for (mode, port, mailbox) in [
            ("plain", srv.addr.port(), "py-plain@localhost"),
            ("starttls-plain", srv.addr.port(), "py-starttls@example.test"),
            ("ssl-login", srv.tls_addr.port(), "py-ssl@localhost"),
        ] {
            let mut c = Command::new(&python);
            c.arg(&script).args([mode, &port.to_string(), mailbox]).args(&full);
            run_ok(c, b"");
        }
        for mailbox in ["py-plain", "py-starttls", "py-ssl"] {
            assert_same_messages(srv.stored_bodies(mailbox), &corpus_messages(), mailbox);
        }
    }
}

// ------------------------------------------------------------------ bad peers, raw sockets

const ENVELOPE: &str = "EHLO raw.example.test\r\nMAIL FROM:<good@example.test>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n";

/// Reads the replies to [`ENVELOPE`] (EHLO, MAIL, RCPT, DATA).
fn envelope_replies(raw: &mut Raw) {
    let codes: Vec<u16> = (0..4).map(|_| raw.reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 354]);
}

for_both_servers! {
    fn smuggling_attempts_deliver_one_message_not_two(server: &str) {
        let srv = Server::start(server, true, &[]);
        // Each attempt hides a second transaction behind a line end that is not CRLF; the
        // outer message then ends properly.
        for (name, fake_end) in [
            ("LF.LF", "\n.\n"),
            ("CR.CR", "\r.\r"),
            ("LF.CRLF", "\n.\r\n"),
            ("CRLF.LF", "\r\n.\n"),
        ] {
            let mut raw = Raw::connect(srv.addr);
            raw.send(ENVELOPE.as_bytes());
            envelope_replies(&mut raw);
            let attempt = format!(
                "Subject: outer {name}\r\n\r\nbody{fake_end}MAIL FROM:<evil@attacker.example>\r\n\
                 RCPT TO:<victim@localhost>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n"
            );
            raw.send(attempt.as_bytes());
            let end = raw.reply();
            // Then a clean message on the same connection, to show the session goes on.
            raw.send(b"MAIL FROM:<good@example.test>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\nSubject: clean\r\n\r\nok\r\n.\r\nQUIT\r\n");
            let after: Vec<u16> = (0..5).map(|_| raw.reply().code).collect();
            assert_eq!(after, [250, 250, 354, 250, 221], "{name}: the session after the attempt (end of attempt: {end:?})");
            if name == "LF.LF" {
                // The classic: refused as a whole (550 5.6.11), nothing of it stored.
                assert_eq!(end.code, 550, "{name}: {end:?}");
                assert!(end.text().contains("5.6.11"), "{end:?}");
            }
        }
        let stored = srv.stored("victim");
        for message in &stored {
            assert_eq!(return_path(message), "<good@example.test>", "a smuggled transaction was delivered");
            let body = strip_trace(message);
            assert!(!body.starts_with(b"Subject: smuggled"), "a smuggled message was delivered");
        }
        let clean = stored.iter().filter(|m| strip_trace(m) == b"Subject: clean\r\n\r\nok\r\n").count();
        assert_eq!(clean, 4, "each clean message stored once");
        // At most one message per attempt (refused or kept whole, never split in two).
        assert!(stored.len() <= 8, "{} messages stored", stored.len());
    }

    fn starttls_with_pipelined_plaintext_drops_it(server: &str) {
        let srv = Server::start(server, true, &[]);
        let mut raw = Raw::connect(srv.addr);
        let ehlo = raw.command("EHLO raw.example.test");
        assert_eq!(ehlo.code, 250);
        assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"), "{ehlo:?}");
        raw.send(b"STARTTLS\r\nRSET\r\n");
        let go = raw.reply();
        assert_eq!(go.code, 220, "{go:?}");
        // The server must not answer RSET in plaintext (it would be in the buffer now or
        // soon); `start_tls` also asserts that nothing follows the 220.
        std::thread::sleep(Duration::from_millis(100));
        let mut tls = raw.start_tls();
        // The first reply over TLS answers our EHLO, not the injected RSET.
        let ehlo = tls.command("EHLO raw.example.test");
        assert_eq!(ehlo.code, 250, "{ehlo:?}");
        assert_eq!(ehlo.lines[0], "localhost", "first reply after TLS is not the EHLO reply: {ehlo:?}");
        assert!(ehlo.lines.iter().all(|l| l != "STARTTLS"), "STARTTLS offered again over TLS");
        assert_eq!(tls.command("NOOP").code, 250);
        assert_eq!(tls.command("QUIT").code, 221);
        assert_eq!(tls.read_to_close(), "", "a reply to the injected RSET came late");
    }

    fn line_of_100_kb_gets_500_and_server_stays_up(server: &str) {
        let mut srv = Server::start(server, true, &[]);
        let mut raw = Raw::connect(srv.addr);
        assert_eq!(raw.command("EHLO raw.example.test").code, 250);
        let mut line = b"NOOP ".to_vec();
        line.extend(std::iter::repeat_n(b'A', 100_000));
        line.extend_from_slice(b"\r\n");
        raw.send(&line);
        let reply = raw.reply();
        assert_eq!(reply.code, 500, "{reply:?}");
        // The same session goes on, and so does the server.
        assert_eq!(raw.command("NOOP").code, 250);
        assert_eq!(raw.command("QUIT").code, 221);
        let mut again = Raw::connect(srv.addr);
        assert_eq!(again.command("QUIT").code, 221);
        srv.proc.assert_running();
    }

    fn two_hundred_recipients_get_452_past_the_limit(server: &str) {
        let srv = Server::start(server, true, &[]);
        let mut raw = Raw::connect(srv.addr);
        assert_eq!(raw.command("EHLO raw.example.test").code, 250);
        // Pipelined (PIPELINING is offered): MAIL and 200 RCPT in one write.
        let mut batch = String::from("MAIL FROM:<many@example.test>\r\n");
        for n in 0..200 {
            batch.push_str(&format!("RCPT TO:<r{n}@localhost>\r\n"));
        }
        raw.send(batch.as_bytes());
        assert_eq!(raw.reply().code, 250);
        let codes: Vec<u16> = (0..200).map(|_| raw.reply().code).collect();
        assert!(codes[..100].iter().all(|&c| c == 250), "{codes:?}");
        assert!(codes[100..].iter().all(|&c| c == 452), "{codes:?}");
        raw.send(b"DATA\r\nSubject: many\r\n\r\nhi\r\n.\r\n");
        assert_eq!(raw.reply().code, 354);
        assert_eq!(raw.reply().code, 250);
        assert_eq!(raw.command("QUIT").code, 221);
        // Delivered to the first 100 only.
        assert_eq!(srv.stored("r0").len(), 1);
        assert_eq!(srv.stored("r99").len(), 1);
        assert!(srv.stored("r100").is_empty());
    }

    fn accounts_only_refuses_unknown_local_parts(server: &str) {
        // Tied to the accounts: a local part no login reads is refused at RCPT.
        let srv = Server::start(server, true, &["--accounts-only"]);
        let mut raw = Raw::connect(srv.addr);
        assert_eq!(raw.command("EHLO raw.example.test").code, 250);
        assert_eq!(raw.command("MAIL FROM:<someone@elsewhere.example>").code, 250);
        let refused = raw.command("RCPT TO:<nobody-at-all@localhost>");
        assert_eq!(refused.code, 550, "{refused:?}");
        assert!(refused.text().starts_with("5.1.1"), "{refused:?}");
        let relay = raw.command("RCPT TO:<alice@remote.example>");
        assert_eq!(relay.code, 550, "{relay:?}");
        assert!(relay.text().starts_with("5.7.1"), "{relay:?}");
        assert_eq!(raw.command("RCPT TO:<alice@example.test>").code, 250);
        // Postmaster is accepted (RFC 5321 section 4.5.1), for the first account to read.
        assert_eq!(raw.command("RCPT TO:<postmaster>").code, 250);
        assert_eq!(raw.command("DATA").code, 354);
        raw.send(b"Subject: tied\r\n\r\nfor alice\r\n.\r\n");
        assert_eq!(raw.reply().code, 250);
        assert_eq!(raw.command("QUIT").code, 221);
        // One copy, in alice's Maildir; no Maildir for the refused local part.
        assert_eq!(srv.stored_bodies("alice"), vec![b"Subject: tied\r\n\r\nfor alice\r\n".to_vec()]);
        let root = srv.maildir.as_ref().unwrap();
        assert!(!root.join("nobody-at-all").exists());
        assert!(!root.join("postmaster").exists());
    }

    fn relay_without_auth_is_refused(server: &str) {
        let srv = Server::start(server, true, &["--insecure-auth"]);
        let mut raw = Raw::connect(srv.addr);
        assert_eq!(raw.command("EHLO raw.example.test").code, 250);
        assert_eq!(raw.command("MAIL FROM:<spammer@elsewhere.example>").code, 250);
        let refused = raw.command("RCPT TO:<someone@remote.example>");
        // RFC 5321 section 4.3.2: 550, not 554, is among RCPT's replies.
        assert_eq!(refused.code, 550, "{refused:?}");
        assert!(refused.text().starts_with("5.7.1"), "{refused:?}");
        // Local domains are fine, in any case (RFC 5321 section 2.4).
        assert_eq!(raw.command("RCPT TO:<bob@LocalHost>").code, 250);
        assert_eq!(raw.command("RSET").code, 250);
        // After AUTH, the same recipient is accepted (submission).
        let plain = "AGFsaWNlAGFsaWNlLXNlY3JldA=="; // \0alice\0alice-secret
        assert_eq!(raw.command(&format!("AUTH PLAIN {plain}")).code, 235);
        assert_eq!(raw.command("MAIL FROM:<alice@localhost>").code, 250);
        assert_eq!(raw.command("RCPT TO:<someone@remote.example>").code, 250);
        assert_eq!(raw.command("QUIT").code, 221);

        // Without --insecure-auth, AUTH is not even offered before TLS (invariant 7).
        let strict = Server::start(server, true, &[]);
        let mut raw = Raw::connect(strict.addr);
        let ehlo = raw.command("EHLO raw.example.test");
        assert!(ehlo.lines.iter().all(|l| !l.starts_with("AUTH")), "{ehlo:?}");
        let auth = raw.command(&format!("AUTH PLAIN {plain}"));
        assert!(auth.code >= 500, "{auth:?}");
    }

    fn disconnect_mid_data_leaves_no_file(server: &str) {
        let srv = Server::start(server, true, &[]);
        let mut raw = Raw::connect(srv.addr);
        raw.send(ENVELOPE.as_bytes());
        envelope_replies(&mut raw);
        let mut partial = b"Subject: partial\r\n\r\n".to_vec();
        partial.extend(std::iter::repeat_n(b'x', 200_000)); // past the store's write buffer
        raw.send(&partial);
        drop(raw);
        // The next client gets through, and its message is the only one stored.
        let mut next = Raw::connect(srv.addr);
        next.send(ENVELOPE.as_bytes());
        envelope_replies(&mut next);
        next.send(b"Subject: whole\r\n\r\nok\r\n.\r\n");
        assert_eq!(next.reply().code, 250);
        assert_eq!(next.command("QUIT").code, 221);
        assert!(
            eventually(Duration::from_secs(10), || srv.tmp_files("victim") == 0),
            "a partial message stayed in tmp/"
        );
        assert_eq!(srv.stored_bodies("victim"), vec![b"Subject: whole\r\n\r\nok\r\n".to_vec()]);
    }

    fn sigint_stops_the_server_cleanly(server: &str) {
        let mut srv = Server::start(server, false, &[]);
        let status = Command::new("kill")
            .args(["-INT", &srv.proc.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exited = srv.proc.wait(Duration::from_secs(15)).expect("the server did not stop on SIGINT");
        assert!(exited.success(), "exit status {exited}:\n{}", srv.proc.log());
        assert!(srv.proc.log().contains("stopping"), "{}", srv.proc.log());
    }
}

// ------------------------------------------------------------------ client -> real servers

/// Runs an example client; gives (success, stdout+stderr).
fn client(binary: &str, args: &[&str], message: &Path) -> (bool, String) {
    let mut c = Command::new(example_bin(binary));
    c.args(args).arg(message).env("RUST_LOG", "warn");
    let (status, output) = run(c, b"");
    (status.success(), output)
}

/// Starts the aiosmtpd script; with `tls`, a certificate for localhost is made in `dir`.
fn start_aiosmtpd(python: &Path, dir: &Path, tls: bool) -> (Proc, u16, PathBuf, Option<PathBuf>) {
    let out = dir.join(if tls { "aio-tls" } else { "aio-plain" });
    fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_support/aiosmtpd_server.py");
    let mut c = Command::new(python);
    c.arg("-u").arg(script).arg(&out).arg(port.to_string());
    let mut ca = None;
    if tls {
        let (cert, key) = write_localhost_identity(dir);
        c.arg(&cert).arg(key);
        ca = Some(cert);
    }
    let mut proc = Proc::spawn(c, out.with_extension("log"), "aiosmtpd");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_greeting(addr, &mut proc);
    (proc, port, out, ca)
}

/// The messages aiosmtpd stored, in the order received.
fn aiosmtpd_messages(out: &Path, count: usize) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|n| {
            fs::read(out.join(format!("{n}.eml"))).unwrap_or_else(|e| panic!("message {n}: {e}"))
        })
        .collect()
}

/// One smtp-sink dump file without the X- lines and the Received: header smtp-sink writes
/// above the message, and without its trailing separator line; smtp-sink stores lines with
/// LF, so the result is compared with the message's CRLF turned into LF.
fn smtp_sink_message(dump: &[u8]) -> Vec<u8> {
    let mut rest = dump;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').expect("header line");
        let line = &rest[..end];
        let is_trace =
            line.starts_with(b"X-") || line.starts_with(b"Received:") || line.starts_with(b"\t");
        if !is_trace {
            break;
        }
        rest = &rest[end + 1..];
    }
    rest.strip_suffix(b"\n")
        .expect("dump ends with its separator line")
        .to_vec()
}

fn crlf_to_lf(message: &[u8]) -> Vec<u8> {
    let text = message.to_vec();
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

for_both_clients! {
    fn client_to_aiosmtpd_plain_and_starttls_with_auth(client_bin: &str) {
        let Some(python) = python_with("aiosmtpd") else { return };
        let dir = tempfile::tempdir().unwrap();
        let (full, _) = corpus_files(dir.path());

        let (_plain, port, out, _) = start_aiosmtpd(&python, dir.path(), false);
        let server = format!("127.0.0.1:{port}");
        for file in &full {
            let (ok, output) = client(client_bin, &["--server", &server, "--helo", "client.example.test", "--from", "c@example.test", "--to", "rcpt@example.test"], file);
            assert!(ok, "{output}");
            assert!(output.contains("rcpt@example.test: 250"), "{output}");
            assert!(output.contains("message: 250 2.0.0 OK stored as"), "{output}");
        }
        assert_eq!(aiosmtpd_messages(&out, full.len()), corpus_messages());

        let (_tls, port, out, ca) = start_aiosmtpd(&python, dir.path(), true);
        let server = format!("localhost:{port}");
        let ca = ca.unwrap();
        let ca = ca.to_str().unwrap();
        for file in &full {
            let auth = format!("{}:{}", ALICE.0, ALICE.1);
            let (ok, output) = client(client_bin, &["--server", &server, "--starttls", "--ca", ca, "--auth", &auth, "--from", "alice@example.test", "--to", "rcpt@example.test"], file);
            assert!(ok, "{output}");
        }
        assert_eq!(aiosmtpd_messages(&out, full.len()), corpus_messages());
        let envelope = fs::read_to_string(out.join("1.env")).unwrap();
        assert_eq!(envelope, "alice@example.test\nrcpt@example.test\nauthenticated\n");

        // A wrong password: refused, nonzero exit, nothing stored.
        let (ok, output) = client(client_bin, &["--server", &server, "--starttls", "--ca", ca, "--auth", "alice:wrong", "--from", "a@example.test", "--to", "rcpt@example.test"], &full[0]);
        assert!(!ok, "{output}");
        assert!(output.contains("535"), "{output}");
        assert!(!out.join(format!("{}.eml", full.len() + 1)).exists());
        // --auth without TLS, where AUTH is only offered after STARTTLS: no credentials sent.
        let (ok, output) = client(
            client_bin,
            &["--server", &server, "--auth", "alice:alice-secret", "--from", "a@example.test", "--to", "rcpt@example.test"],
            &full[0],
        );
        assert!(!ok, "{output}");
        assert!(output.contains("no usable AUTH mechanism"), "{output}");
    }

    fn client_to_postfix_smtp_sink(client_bin: &str) {
        let Some(sink) = peer("smtp-sink") else { return };
        let dir = tempfile::tempdir().unwrap();
        let (full, _) = corpus_files(dir.path());
        let dumps = dir.path().join("dumps");
        fs::create_dir(&dumps).unwrap();
        let user = sink_user(&dumps);
        let port = free_port();
        let mut c = Command::new(sink);
        c.args(user.iter()).arg("-d").arg(dumps.join("msg.")).arg(format!("127.0.0.1:{port}")).arg("10");
        let mut proc = Proc::spawn(c, dir.path().join("sink.log"), "smtp-sink");
        wait_for_greeting(std::net::SocketAddr::from(([127, 0, 0, 1], port)), &mut proc);
        let server = format!("127.0.0.1:{port}");
        for (file, message) in full.iter().zip(corpus_messages()) {
            let before: Vec<_> = fs::read_dir(&dumps).unwrap().map(|e| e.unwrap().path()).collect();
            let (ok, output) = client(client_bin, &["--server", &server, "--from", "c@example.test", "--to", "sink@example.test"], file);
            assert!(ok, "{output}");
            let new: Vec<_> = fs::read_dir(&dumps).unwrap().map(|e| e.unwrap().path()).filter(|p| !before.contains(p)).collect();
            assert_eq!(new.len(), 1, "one dump per message");
            let dump = fs::read(&new[0]).unwrap();
            let got = smtp_sink_message(&dump);
            assert!(got == crlf_to_lf(&message), "{}: smtp-sink received a different body ({} vs {} octets)", file.display(), got.len(), message.len());
        }
    }

    fn client_to_our_servers_implicit_tls_and_refusals(client_bin: &str) {
        // Each client against the other runtime's server.
        let server_bin = if client_bin.contains("tokio") { "smtp_server_blocking" } else { "smtp_server_tokio" };
        // AUTH offered before TLS too: the client must still refuse to use it in the clear.
        let srv = Server::start(server_bin, true, &["--insecure-auth"]);
        let dir = tempfile::tempdir().unwrap();
        let (full, _) = corpus_files(dir.path());
        let tls = format!("localhost:{}", srv.tls_addr.port());
        let plain = format!("localhost:{}", srv.addr.port());
        let auth = format!("{}:{}", ALICE.0, ALICE.1);
        for file in &full {
            let (ok, output) = client(client_bin, &["--server", &tls, "--tls", "--insecure", "--auth", &auth, "--from", "alice@localhost", "--to", "ours@localhost", "--to", "far@remote.example"], file);
            assert!(ok, "{output}");
        }
        assert_same_messages(srv.stored_bodies("ours"), &corpus_messages(), "implicit TLS");
        assert_same_messages(srv.stored_bodies("far@remote.example"), &corpus_messages(), "relayed");
        // From standard input, over STARTTLS, no AUTH.
        let mut c = Command::new(example_bin(client_bin));
        c.args(["--server", &plain, "--starttls", "--insecure", "--from", "x@example.test", "--to", "stdin@example.test"]);
        let (status, output) = run(c, b"Subject: stdin\r\n\r\nfrom stdin\r\n");
        assert!(status.success(), "{output}");
        assert_eq!(srv.stored_bodies("stdin"), vec![b"Subject: stdin\r\n\r\nfrom stdin\r\n".to_vec()]);
        // One recipient refused (relay without AUTH): nonzero exit, each result printed.
        let (ok, output) = client(client_bin, &["--server", &plain, "--from", "x@example.test", "--to", "ok@localhost", "--to", "far@remote.example"], &full[0]);
        assert!(!ok, "{output}");
        assert!(output.contains("ok@localhost: 250 2.1.5"), "{output}");
        assert!(output.contains("far@remote.example: 550 5.7.1"), "{output}");
        // Every recipient refused: no message.
        let (ok, output) = client(client_bin, &["--server", &plain, "--from", "x@example.test", "--to", "far@remote.example"], &full[0]);
        assert!(!ok, "{output}");
        assert!(output.contains("no recipient accepted"), "{output}");
        // The message still went to the recipient that was accepted.
        assert_eq!(srv.stored("ok").len(), 1);
        // AUTH PLAIN/LOGIN offered in plaintext (--insecure-auth): the client refuses to send
        // the password without TLS (invariant 7), and no message goes out.
        let (ok, output) = client(
            client_bin,
            &["--server", &plain, "--auth", &auth, "--from", "alice@localhost", "--to", "clear@localhost"],
            &full[0],
        );
        assert!(!ok, "{output}");
        assert!(output.contains("refusing to send credentials without TLS"), "{output}");
        assert!(srv.stored("clear").is_empty());
    }
}

/// smtp-sink refuses to run as root without `-u`; the dump directory must be writable by
/// that user.
fn sink_user(dumps: &Path) -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !root {
        return Vec::new();
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dumps, fs::Permissions::from_mode(0o777)).unwrap();
    vec!["-u".to_owned(), "nobody".to_owned()]
}

#[test]
fn help_lists_the_stable_flags() {
    for server in SERVERS {
        let output = Command::new(example_bin(server))
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in [
            "--listen",
            "--tls-listen",
            "--hostname",
            "--cert",
            "--key",
            "--maildir",
            "--domain",
            "--user",
            "--max-size",
            "--max-rcpt",
            "--insecure-auth",
        ] {
            assert!(help.contains(flag), "{server} --help lacks {flag}:\n{help}");
        }
    }
    for client_bin in CLIENTS {
        let output = Command::new(example_bin(client_bin))
            .arg("--help")
            .output()
            .unwrap();
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in [
            "--server",
            "--starttls",
            "--tls",
            "--insecure",
            "--ca",
            "--auth",
            "--helo",
            "--from",
            "--to",
            "[FILE]",
        ] {
            assert!(
                help.contains(flag),
                "{client_bin} --help lacks {flag}:\n{help}"
            );
        }
    }
}
