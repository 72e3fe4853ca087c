//! The POP3 examples against real mail software: our servers with curl, Python's
//! poplib and mpop as clients; our clients with Dovecot as the server; misbehaving clients;
//! and the `maildrop` demo end to end with swaks. The load run is `pop3_load.rs`.
//!
//! Every test uses its own temporary directories and loopback ports, and bounds every child
//! process with a timeout. A peer that is not installed skips its test with a message, unless
//! `MAIL_INTEROP=required` (CI), where it fails.

mod pop3_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pop3_support::dovecot::Dovecot;
use pop3_support::{
    ALICE, LIMIT, Pop3Server, PoplibStore, Raw, TestCert, corpus, example, fill_maildir,
    maildir_contents, maildir_count, our_client, peer_available, poplib, run, run_ok, to_crlf,
};

/// Writes the expected wire forms as `<dir>/1`, `<dir>/2`, ... for the poplib script.
fn write_expected(dir: &Path, wire: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, message) in wire.iter().enumerate() {
        std::fs::write(dir.join((i + 1).to_string()), message).unwrap();
    }
}

/// A served corpus: a temp dir with the certificate, alice's Maildir and a running server.
struct Served {
    dir: tempfile::TempDir,
    cert: TestCert,
    wire: Vec<Vec<u8>>,
    server: Pop3Server,
}

fn serve_corpus(flavour: &str, extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::generate(dir.path());
    let wire = fill_maildir(&dir.path().join("mail/alice"), &corpus());
    let server = Pop3Server::start(flavour, &dir.path().join("mail"), &cert, &[ALICE], extra);
    Served {
        dir,
        cert,
        wire,
        server,
    }
}

// ----- our servers <- real clients -----

fn curl_downloads_identical_messages(flavour: &str) {
    if !peer_available("curl", &["--version"]) {
        return;
    }
    let served = serve_corpus(flavour, &[]);
    let cacert = served.cert.cert.to_str().unwrap();
    for (n, want) in served.wire.iter().enumerate() {
        let n = n + 1;
        for url in [
            format!("pop3://127.0.0.1:{}/{n}", served.server.plain.port()),
            format!("pop3s://127.0.0.1:{}/{n}", served.server.implicit.port()),
        ] {
            let got = run_ok(
                Command::new("curl").args([
                    "-s",
                    "-S",
                    "--ssl-reqd",
                    "--cacert",
                    cacert,
                    "-u",
                    ALICE,
                    &url,
                ]),
                LIMIT,
            );
            assert!(
                got == *want,
                "{url}: {} octets, stored {} (wire form)",
                got.len(),
                want.len()
            );
        }
    }
    // The listing's sizes are the octets sent (RFC 1939 section 11).
    let listing = run_ok(
        Command::new("curl").args([
            "-s",
            "--ssl-reqd",
            "--cacert",
            cacert,
            "-u",
            ALICE,
            &format!("pop3://127.0.0.1:{}/", served.server.plain.port()),
        ]),
        LIMIT,
    );
    let sizes: Vec<usize> = String::from_utf8(listing)
        .unwrap()
        .lines()
        .map(|line| line.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(sizes, served.wire.iter().map(Vec::len).collect::<Vec<_>>());
}

fn poplib_all_login_modes(flavour: &str) {
    if !peer_available("python3", &["--version"]) {
        return;
    }
    // --insecure-auth: USER/PASS on the plain port for the "user" mode.
    let served = serve_corpus(flavour, &["--insecure-auth"]);
    let expected = served.dir.path().join("expected");
    write_expected(&expected, &served.wire);
    let expected = expected.to_str().unwrap();
    for (mode, addr) in [
        ("stls", served.server.plain),
        ("apop", served.server.plain),
        ("user", served.server.plain),
        ("ssl", served.server.implicit),
    ] {
        let (count, _, _) = poplib(
            mode,
            addr,
            ALICE,
            &served.cert,
            expected,
            PoplibStore::Nothing,
        );
        assert_eq!(count, served.wire.len(), "{mode}");
    }
    // Nothing was deleted by reading.
    assert_eq!(
        maildir_count(&served.dir.path().join("mail/alice")),
        served.wire.len()
    );
}

fn mpop_keep_then_delete(flavour: &str) {
    if !peer_available("mpop", &["--version"]) {
        return;
    }
    let served = serve_corpus(flavour, &[]);
    let dir = served.dir.path();
    let fetched = dir.join("mpop-inbox");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(fetched.join(sub)).unwrap();
    }
    let config = |keep: bool, implicit: bool| {
        let (port, starttls) = if implicit {
            (served.server.implicit.port(), "off")
        } else {
            (served.server.plain.port(), "on")
        };
        let path = dir.join(format!("mpoprc-{keep}-{implicit}"));
        std::fs::write(
            &path,
            format!(
                "defaults\ntls on\ntls_starttls {starttls}\ntls_trust_file {cert}\n\
                 account test\nhost 127.0.0.1\nport {port}\nuser alice\npassword wonder land\n\
                 keep {keep}\ndelivery maildir {inbox}\nuidls_file {uidls}\nreceived_header off\n",
                keep = if keep { "on" } else { "off" },
                cert = served.cert.cert.display(),
                inbox = fetched.display(),
                uidls = dir.join("mpop-uidls").display(),
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let mpop = |config: &Path| {
        run_ok(
            Command::new("mpop")
                .arg("-q")
                .arg("-C")
                .arg(config)
                .arg("test"),
            LIMIT,
        );
    };
    let mut want = served.wire.clone();
    want.sort();
    let normalised = |dir: &Path| {
        let mut all: Vec<Vec<u8>> = maildir_contents(dir).iter().map(|m| to_crlf(m)).collect();
        all.sort();
        all
    };
    // Keep mode, STLS: everything once, identical; the second run fetches nothing new.
    mpop(&config(true, false));
    assert_eq!(normalised(&fetched), want, "mpop keep (STLS)");
    mpop(&config(true, true));
    assert_eq!(
        maildir_count(&fetched),
        want.len(),
        "second keep run fetched again"
    );
    assert_eq!(maildir_count(&dir.join("mail/alice")), want.len());
    // Delete mode over implicit TLS: the maildrop empties, nothing new is fetched twice.
    mpop(&config(false, true));
    assert_eq!(
        maildir_count(&dir.join("mail/alice")),
        0,
        "mpop delete left mail"
    );
    assert_eq!(maildir_count(&fetched), want.len());
}

// ----- bad peers -----

fn dele_then_disconnect_deletes_nothing(flavour: &str) {
    let served = serve_corpus(flavour, &["--insecure-auth"]);
    let (mut raw, greeting) = Raw::connect(served.server.plain);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    assert!(raw.command("USER alice").starts_with("+OK"));
    assert!(raw.command("PASS wonder land").starts_with("+OK"));
    for n in 1..=served.wire.len() {
        assert!(raw.command(&format!("DELE {n}")).starts_with("+OK"));
    }
    raw.drop_connection();
    // Once the server let go of the maildrop, everything is still there.
    let stat = retry_login(&served.server, |raw| raw.command("STAT"));
    assert_eq!(
        stat,
        format!(
            "+OK {} {}",
            served.wire.len(),
            served.wire.iter().map(Vec::len).sum::<usize>()
        )
    );
    assert_eq!(
        maildir_count(&served.dir.path().join("mail/alice")),
        served.wire.len()
    );
}

/// Logs in as alice (retrying while the maildrop is still locked by a session that is going
/// away), runs `then`, quits.
fn retry_login(server: &Pop3Server, then: impl Fn(&mut Raw) -> String) -> String {
    for _ in 0..100 {
        let (mut raw, _) = Raw::connect(server.plain);
        raw.command("USER alice");
        let answer = raw.command("PASS wonder land");
        if answer.starts_with("+OK") {
            let result = then(&mut raw);
            raw.command("QUIT");
            return result;
        }
        assert!(answer.contains("[IN-USE]"), "{answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the maildrop stayed locked");
}

fn second_concurrent_login_gets_in_use(flavour: &str) {
    let served = serve_corpus(flavour, &["--insecure-auth"]);
    let (mut first, _) = Raw::connect(served.server.plain);
    first.command("USER alice");
    assert!(first.command("PASS wonder land").starts_with("+OK"));
    let (mut second, _) = Raw::connect(served.server.plain);
    second.command("USER alice");
    let refused = second.command("PASS wonder land");
    assert!(refused.starts_with("-ERR [IN-USE]"), "{refused}");
    assert!(first.command("QUIT").starts_with("+OK"));
    // Free again after QUIT.
    let stat = retry_login(&served.server, |raw| raw.command("STAT"));
    assert!(stat.starts_with("+OK"), "{stat}");
}

fn wrong_passwords_get_err_auth(flavour: &str) {
    let served = serve_corpus(flavour, &["--insecure-auth"]);
    let (mut raw, greeting) = Raw::connect(served.server.plain);
    raw.command("USER alice");
    let refused = raw.command("PASS wonder");
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
    raw.command("USER nobody");
    let unknown = raw.command("PASS wonder land");
    assert!(unknown.starts_with("-ERR [AUTH]"), "{unknown}");
    // APOP with a digest of the wrong secret.
    let start = greeting.find('<').expect("APOP timestamp in the greeting");
    let timestamp = &greeting[start..=greeting.find('>').unwrap()];
    let digest = pop3_proto::Timestamp::new(timestamp.to_owned())
        .unwrap()
        .digest(b"wrong");
    let apop = raw.command(&format!("APOP alice {digest}"));
    assert!(apop.starts_with("-ERR [AUTH]"), "{apop}");
    // And the right one works on a new connection.
    let (mut raw, greeting) = Raw::connect(served.server.plain);
    let start = greeting.find('<').unwrap();
    let timestamp = &greeting[start..=greeting.find('>').unwrap()];
    let digest = pop3_proto::Timestamp::new(timestamp.to_owned())
        .unwrap()
        .digest(b"wonder land");
    let apop = raw.command(&format!("APOP alice {digest}"));
    assert!(apop.starts_with("+OK"), "{apop}");
}

fn stls_with_pipelined_plaintext_executes_nothing(flavour: &str) {
    use std::io::{BufRead, BufReader, Write};
    // --insecure-auth, so USER/PASS would be accepted in plaintext if they were executed.
    let served = serve_corpus(flavour, &["--insecure-auth"]);
    let tcp = std::net::TcpStream::connect(served.server.plain).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut plain = BufReader::new(tcp);
    let mut line = String::new();
    plain.read_line(&mut line).unwrap();
    plain
        .get_mut()
        .write_all(b"STLS\r\nUSER alice\r\nPASS wonder land\r\nDELE 1\r\n")
        .unwrap();
    line.clear();
    plain.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    assert!(
        plain.buffer().is_empty(),
        "plaintext after the STLS answer: {:?}",
        plain.buffer()
    );
    let tcp = plain.into_inner();
    let config = adapters::tls::client_config(&adapters::tls::ClientTrust::CaFile(
        served.cert.cert.clone(),
    ))
    .unwrap();
    let session =
        rustls::ClientConnection::new(config, adapters::tls::server_name("localhost").unwrap())
            .unwrap();
    let mut tls = BufReader::new(rustls::StreamOwned::new(session, tcp));
    tls.get_mut().write_all(b"STAT\r\n").unwrap();
    line.clear();
    tls.read_line(&mut line).unwrap();
    // Not logged in: the pipelined USER/PASS were dropped, not executed.
    assert!(line.starts_with("-ERR"), "first answer under TLS: {line:?}");
    tls.get_mut().write_all(b"QUIT\r\n").unwrap();
    assert_eq!(
        maildir_count(&served.dir.path().join("mail/alice")),
        served.wire.len()
    );
}

fn long_line_gets_err_and_server_stays_up(flavour: &str) {
    let mut served = serve_corpus(flavour, &["--insecure-auth"]);
    let (mut raw, _) = Raw::connect(served.server.plain);
    let mut line = b"USER ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 100 * 1024));
    line.extend_from_slice(b"\r\n");
    raw.send(&line);
    let answer = raw.line();
    assert!(answer.starts_with("-ERR"), "{answer:?}");
    drop(raw);
    assert!(served.server.is_running());
    let stat = retry_login(&served.server, |raw| raw.command("STAT"));
    assert!(
        stat.starts_with(&format!("+OK {}", served.wire.len())),
        "{stat}"
    );
}

// ----- our clients -> Dovecot -----

fn client_against_dovecot(flavour: &str) {
    if !Dovecot::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::generate(dir.path());
    let dovecot = Dovecot::start(&dir.path().join("dovecot"), &cert, &[ALICE]);
    let messages = corpus();
    let wire = fill_maildir(&dovecot.maildir("alice"), &messages[..6]);
    dovecot.chown_mail();
    let ca = cert.cert.to_str().unwrap();
    let plain = dovecot.plain.to_string();
    let implicit = format!("localhost:{}", dovecot.implicit.port());
    let keep_args = [
        "--server",
        &plain,
        "--stls",
        "--ca",
        ca,
        "--user",
        "alice",
        "--pass",
        "wonder land",
    ];
    let inbox = dir.path().join("inbox");

    // Keep mode over STLS: everything, identical to the wire form.
    let summary = our_client(flavour, &keep_args, &inbox);
    assert!(summary.starts_with("6 messages"), "{summary}");
    let mut want = wire.clone();
    want.sort();
    assert_eq!(maildir_contents(&inbox), want);
    // A new message arrives; the second run fetches only it.
    let extra = fill_maildir(&dir.path().join("extra"), &messages[6..7]);
    let target = dovecot.maildir("alice").join("new/1800000000.M1P1.extra");
    std::fs::copy(
        dir.path()
            .join("extra/new")
            .read_dir()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
        &target,
    )
    .unwrap();
    dovecot.chown_mail();
    let summary = our_client(flavour, &keep_args, &inbox);
    assert!(summary.starts_with("1 messages"), "{summary}");
    want.extend(extra);
    want.sort();
    assert_eq!(maildir_contents(&inbox), want);
    // Delete mode over implicit TLS: everything again, and the maildrop is empty.
    let fresh = dir.path().join("fresh");
    let summary = our_client(
        flavour,
        &[
            "--server",
            &implicit,
            "--tls",
            "--ca",
            ca,
            "--user",
            "alice",
            "--pass",
            "wonder land",
            "--delete",
        ],
        &fresh,
    );
    assert!(summary.starts_with("7 messages"), "{summary}");
    assert_eq!(maildir_contents(&fresh), want);
    assert_eq!(
        maildir_count(&dovecot.maildir("alice")),
        0,
        "dovecot's maildrop is not empty"
    );
}

/// Our client against our server too (keep, then delete), so both ends of ours meet.
fn client_against_our_server(flavour: &str) {
    let served = serve_corpus(flavour, &[]);
    let ca = served.cert.cert.to_str().unwrap();
    let implicit = format!("localhost:{}", served.server.implicit.port());
    let inbox = served.dir.path().join("inbox");
    let args = [
        "--server",
        &implicit,
        "--tls",
        "--ca",
        ca,
        "--user",
        "alice",
        "--pass",
        "wonder land",
    ];
    let summary = our_client(flavour, &args, &inbox);
    assert!(
        summary.starts_with(&format!("{} messages", served.wire.len())),
        "{summary}"
    );
    let summary = our_client(flavour, &args, &inbox);
    assert!(summary.starts_with("0 messages"), "{summary}");
    // Deleting, and syncing only the files (the client's --fsync flag).
    let mut delete = args.to_vec();
    delete.extend(["--delete", "--fsync", "file"]);
    let fresh = served.dir.path().join("fresh");
    let summary = our_client(flavour, &delete, &fresh);
    assert!(
        summary.starts_with(&format!("{} messages", served.wire.len())),
        "{summary}"
    );
    let mut want = served.wire.clone();
    want.sort();
    assert_eq!(maildir_contents(&inbox), want);
    assert_eq!(maildir_contents(&fresh), want);
    assert_eq!(maildir_count(&served.dir.path().join("mail/alice")), 0);
}

/// The two servers share one session policy: the same commands, pipelined, on the same
/// Maildir get the same answers, octet for octet, from both (the greeting aside: its APOP
/// timestamp is unique per connection). Deletions at QUIT only, RSET undoing a mark.
#[test]
fn both_servers_answer_a_session_identically() {
    let session = "CAPA\r\nUSER alice\r\nPASS wonder land\r\nSTAT\r\nLIST\r\nUIDL\r\n\
                   RETR 1\r\nRETR 2\r\nTOP 3 0\r\nTOP 1 2\r\nRETR 99\r\nDELE 1\r\nDELE 1\r\n\
                   LIST 1\r\nRSET\r\nDELE 2\r\nNOOP\r\nQUIT\r\n";
    let after = "USER alice\r\nPASS wonder land\r\nSTAT\r\nUIDL\r\nQUIT\r\n";
    let transcripts: Vec<(Vec<u8>, Vec<u8>)> = ["tokio", "blocking"]
        .into_iter()
        .map(|flavour| {
            let served = serve_corpus(flavour, &["--insecure-auth"]);
            let run = |input: &str| {
                let (mut raw, greeting) = Raw::connect(served.server.plain);
                assert!(greeting.starts_with("+OK"), "{flavour}: {greeting}");
                raw.send(input.as_bytes());
                raw.read_to_end()
            };
            let first = run(session);
            (first, run(after))
        })
        .collect();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let (tokio, blocking) = (&transcripts[0], &transcripts[1]);
    assert_eq!(text(&tokio.0), text(&blocking.0), "the first session");
    assert_eq!(text(&tokio.1), text(&blocking.1), "the session after QUIT");
    // And the answers are the right ones: one message gone, RETR 99 refused.
    let first = text(&tokio.0);
    assert!(first.contains("-ERR"), "{first}");
    let stat = text(&tokio.1);
    let want = format!("+OK {} ", corpus().len() - 1);
    assert!(stat.lines().any(|line| line.starts_with(&want)), "{stat}");
}

macro_rules! both_flavours {
    ($($test:ident),* $(,)?) => {
        mod tokio_server {
            $(#[test] fn $test() { super::$test("tokio") })*
        }
        mod blocking_server {
            $(#[test] fn $test() { super::$test("blocking") })*
        }
    };
}

both_flavours!(
    curl_downloads_identical_messages,
    poplib_all_login_modes,
    mpop_keep_then_delete,
    dele_then_disconnect_deletes_nothing,
    second_concurrent_login_gets_in_use,
    wrong_passwords_get_err_auth,
    stls_with_pipelined_plaintext_executes_nothing,
    long_line_gets_err_and_server_stays_up,
    client_against_dovecot,
    client_against_our_server,
);

// ----- maildrop end to end -----

/// swaks sends to the maildrop's SMTP port; curl and our client fetch it from its POP3 port.
#[test]
fn maildrop_end_to_end_swaks_curl_and_client() {
    if !peer_available("swaks", &["--version"]) || !peer_available("curl", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ports: Vec<u16> = (0..4)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let addr = |i: usize| format!("127.0.0.1:{}", ports[i]);
    let mut child = Command::new(example("maildrop"))
        .arg("--data")
        .arg(&data)
        .args([
            "--smtp-listen",
            &addr(0),
            "--pop3-listen",
            &addr(1),
            "--smtps-listen",
            &addr(2),
            "--pop3s-listen",
            &addr(3),
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("starting maildrop");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    // The banner ends with the account line: wait for the servers to listen.
    let banner = std::thread::spawn(move || {
        use std::io::Read;
        let mut all = String::new();
        let _ = std::io::BufReader::new(stdout).read_to_string(&mut all);
        all
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for port in &ports {
        while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "maildrop did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let cert = data.join("cert.pem");
    let body = "Hello through the mail drop.\r\n.a dotted line\r\nGr\u{fc}\u{df}e\r\n";
    run_ok(
        Command::new("swaks")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &ports[0].to_string(),
                "--tls",
                "--tls-verify",
                "--tls-ca-path",
            ])
            .arg(&cert)
            .args([
                "--from",
                "sender@example.com",
                "--to",
                "demo@localhost",
                "--header",
                "Subject: end to end",
                "--body",
                body,
            ]),
        LIMIT,
    );
    // curl over implicit TLS, verifying the demo's certificate.
    let fetched = run_ok(
        Command::new("curl")
            .args(["-s", "-S", "--cacert"])
            .arg(&cert)
            .args([
                "-u",
                "demo:demo",
                &format!("pop3s://localhost:{}/1", ports[3]),
            ]),
        LIMIT,
    );
    let fetched = String::from_utf8(fetched).unwrap();
    assert!(fetched.contains("Subject: end to end"), "{fetched}");
    let text_of = |message: &str| {
        message
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap()
    };
    // swaks ends its DATA with an empty line after the body; the rest is the body as sent.
    let fetched_body = text_of(&fetched);
    assert_eq!(
        fetched_body.trim_end_matches("\r\n"),
        body.trim_end_matches("\r\n"),
        "the body through SMTP and POP3"
    );
    // What POP3 served is exactly what SMTP stored (in its wire form).
    let stored = maildir_contents(&data.join("mail/demo"));
    assert_eq!(stored.len(), 1, "one message in demo's Maildir");
    assert_eq!(to_crlf(&stored[0]), fetched.as_bytes());
    // Our client, over STLS, gets the identical message.
    let inbox = dir.path().join("inbox");
    let summary = our_client(
        "tokio",
        &[
            "--server",
            &format!("localhost:{}", ports[1]),
            "--stls",
            "--ca",
            cert.to_str().unwrap(),
            "--user",
            "demo",
            "--pass",
            "demo",
        ],
        &inbox,
    );
    assert!(summary.starts_with("1 messages"), "{summary}");
    let stored = maildir_contents(&inbox);
    assert_eq!(String::from_utf8(stored[0].clone()).unwrap(), fetched);
    drop(child);
    let banner = banner.join().unwrap();
    assert!(
        banner.contains("curl"),
        "the banner shows curl commands: {banner}"
    );
    let _ = run; // (kept for symmetry with the other helpers)
}
