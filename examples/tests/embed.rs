//! The embedding programs (`embed_*`, one file each over the protocol crates and tokio)
//! against real mail software and against each other, over loopback:
//!
//! - embed_smtp_server <- curl, python3 smtplib, embed_smtp_send: leading-dot lines arrive
//!   intact, a recipient of another domain is refused with 550 5.7.1;
//! - embed_smtp_send -> aiosmtpd: each recipient's result, SIZE from the body;
//! - embed_pop3_server <- curl, python3 poplib, embed_pop3_fetch: list, retrieve, DELE then
//!   QUIT deletes the file, a wrong password is refused.
//!
//! A missing peer skips its test with a message, unless `MAIL_INTEROP=required`. Servers
//! bind 127.0.0.1 port 0 and print the bound address; every wait is bounded and every
//! process started here is killed by its own id when the test ends ([`Proc`]).

mod smtp_support;

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use smtp_support::{
    Proc, example_bin, free_port, peer, python_with, run, run_ok, wait_for_greeting,
};

/// A message with CRLF lines, leading dots among them (dot-stuffing must be undone).
const DOTTED: &[u8] =
    b"Subject: dots\r\n\r\n.one leading dot\r\n..two leading dots\r\n.\r\nlast\r\n";

/// Starts an embed server with `args` and gives it with the address it printed
/// (`listening on ADDR`).
fn start(binary: &str, dir: &Path, args: &[&str]) -> (Proc, SocketAddr) {
    let mut command = Command::new(example_bin(binary));
    command.arg("127.0.0.1:0").args(args);
    let mut proc = Proc::spawn(command, dir.join(format!("{binary}.log")), binary);
    let start = Instant::now();
    loop {
        proc.assert_running();
        let log = proc.log();
        if let Some(addr) = log
            .lines()
            .find_map(|l| l.strip_prefix("listening on ")?.parse().ok())
        {
            return (proc, addr);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{binary} did not listen:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The contents of the files in `dir`, sorted by name.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths.iter().map(|p| fs::read(p).unwrap()).collect()
}

/// An SMTP server for `example.test` storing into `<tmp>/mail`.
fn smtp_server(tmp: &Path) -> (Proc, SocketAddr, std::path::PathBuf) {
    let mail = tmp.join("mail");
    fs::create_dir(&mail).unwrap();
    let (proc, addr) = start(
        "embed_smtp_server",
        tmp,
        &["example.test", mail.to_str().unwrap()],
    );
    (proc, addr, mail)
}

#[test]
fn curl_sends_to_embed_smtp_server_dots_intact_and_relay_refused() {
    let Some(curl) = peer("curl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, mail) = smtp_server(tmp.path());
    let file = tmp.path().join("dotted.eml");
    fs::write(&file, DOTTED).unwrap();
    let send = |rcpt: &str| {
        let mut c = Command::new(&curl);
        c.args([
            "-sS",
            "--url",
            &format!("smtp://{addr}"),
            "--mail-from",
            "a@sender.test",
        ])
        .args(["--mail-rcpt", rcpt, "--upload-file"])
        .arg(&file);
        run(c, b"")
    };
    let (status, output) = send("joe@example.test");
    assert!(status.success(), "curl: {output}");
    assert_eq!(files(&mail), [DOTTED]);
    let (status, output) = send("joe@elsewhere.test");
    assert!(!status.success(), "relaying was accepted: {output}");
    assert_eq!(files(&mail).len(), 1, "nothing more stored");
}

#[test]
fn smtplib_sends_to_embed_smtp_server_dots_intact_and_relay_refused() {
    let Some(python) = python_with("smtplib") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, mail) = smtp_server(tmp.path());
    let script = "import smtplib, sys\n\
        s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)\n\
        refused = s.sendmail('a@sender.test', ['joe@example.test', 'x@elsewhere.test'], sys.stdin.buffer.read())\n\
        print(sorted((k, v[0]) for k, v in refused.items()))\n\
        s.quit()\n";
    let mut c = Command::new(python);
    c.args(["-c", script, "127.0.0.1", &addr.port().to_string()]);
    let output = run_ok(c, DOTTED);
    assert!(
        output.contains("[('x@elsewhere.test', 550)]"),
        "smtplib: {output}"
    );
    assert_eq!(files(&mail), [DOTTED]);
}

#[test]
fn embed_smtp_send_to_embed_smtp_server_reports_each_recipient() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, mail) = smtp_server(tmp.path());
    // Stored with LF line ends: the client sends CRLF lines.
    let file = tmp.path().join("lf.eml");
    fs::write(&file, b"Subject: lf\n\n.dot\nend\n").unwrap();
    let send = |to: &[&str]| {
        let mut c = Command::new(example_bin("embed_smtp_send"));
        c.arg(addr.to_string())
            .arg("a@sender.test")
            .arg(&file)
            .args(to);
        run(c, b"")
    };
    let (status, output) = send(&["joe@example.test", "ann@example.test"]);
    assert!(status.success(), "{output}");
    assert!(output.contains("<joe@example.test>: 250"), "{output}");
    assert!(output.contains("<ann@example.test>: 250"), "{output}");
    let (status, output) = send(&["joe@example.test", "x@elsewhere.test"]);
    assert!(
        !status.success(),
        "a refused recipient must fail the run: {output}"
    );
    assert!(
        output.contains("<x@elsewhere.test>: permanent failure: 550 5.7.1"),
        "{output}"
    );
    let want = b"Subject: lf\r\n\r\n.dot\r\nend\r\n";
    assert_eq!(files(&mail), [want, want]);
}

#[test]
fn embed_smtp_send_to_aiosmtpd() {
    let Some(python) = python_with("aiosmtpd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("aio");
    fs::create_dir(&out).unwrap();
    let port = free_port();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_support/aiosmtpd_server.py");
    let mut c = Command::new(python);
    c.arg("-u").arg(script).arg(&out).arg(port.to_string());
    let mut aiosmtpd = Proc::spawn(c, tmp.path().join("aiosmtpd.log"), "aiosmtpd");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_greeting(addr, &mut aiosmtpd);
    let file = tmp.path().join("dotted.eml");
    fs::write(&file, DOTTED).unwrap();
    let mut c = Command::new(example_bin("embed_smtp_send"));
    c.arg(addr.to_string()).arg("a@sender.test").arg(&file);
    c.args(["joe@example.test", "ann@example.test"]);
    let output = run_ok(c, b"");
    assert!(output.contains("<joe@example.test>: 250"), "{output}");
    assert!(output.contains("<ann@example.test>: 250"), "{output}");
    assert_eq!(fs::read(out.join("1.eml")).unwrap(), DOTTED);
}

/// A POP3 server for alice over `<tmp>/drop`, holding `a.eml` (CRLF, a dot line) and
/// `b.eml` (LF line ends).
fn pop3_server(tmp: &Path) -> (Proc, SocketAddr, std::path::PathBuf) {
    let drop = tmp.join("drop");
    fs::create_dir(&drop).unwrap();
    fs::write(drop.join("a.eml"), DOTTED).unwrap();
    fs::write(drop.join("b.eml"), b"Subject: lf\n\nhi\n").unwrap();
    let (proc, addr) = start(
        "embed_pop3_server",
        tmp,
        &[drop.to_str().unwrap(), "alice", "secret"],
    );
    (proc, addr, drop)
}

/// The size of `b.eml` on the wire: CRLF line ends (RFC 1939 section 5).
const B_SIZE: usize = b"Subject: lf\r\n\r\nhi\r\n".len();

#[test]
fn curl_lists_retrieves_and_deletes_on_embed_pop3_server() {
    let Some(curl) = peer("curl") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, drop) = pop3_server(tmp.path());
    let curl_at = |path: &str, user: &str, extra: &[&str]| {
        let mut c = Command::new(&curl);
        c.args(["-sS", &format!("pop3://{addr}/{path}"), "-u", user])
            .args(extra);
        run(c, b"")
    };
    // curl logs in with AUTH PLAIN when CAPA lists SASL PLAIN.
    let (status, listing) = curl_at("", "alice:secret", &[]);
    assert!(status.success(), "{listing}");
    assert_eq!(listing, format!("1 {}\r\n2 {B_SIZE}\r\n", DOTTED.len()));
    let (status, message) = curl_at("1", "alice:secret", &[]);
    assert!(status.success(), "{message}");
    assert_eq!(message.as_bytes(), DOTTED);
    let (status, output) = curl_at("", "alice:wrong", &[]);
    assert!(!status.success(), "a wrong password was accepted: {output}");
    let (status, output) = curl_at("2", "alice:secret", &["-X", "DELE", "-I"]);
    assert!(status.success(), "{output}");
    assert!(
        !drop.join("b.eml").exists(),
        "DELE then QUIT removes the file"
    );
    assert!(drop.join("a.eml").exists());
}

#[test]
fn poplib_lists_retrieves_and_deletes_on_embed_pop3_server() {
    let Some(python) = python_with("poplib") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, drop) = pop3_server(tmp.path());
    let script = "import poplib, sys\n\
        p = poplib.POP3(sys.argv[1], int(sys.argv[2]), timeout=30)\n\
        p.user('alice'); p.pass_('secret')\n\
        print('list', p.list()[1])\n\
        print('retr', p.retr(1)[1])\n\
        p.dele(1)\n\
        p.quit()\n";
    let mut c = Command::new(python);
    c.args(["-c", script, "127.0.0.1", &addr.port().to_string()]);
    let output = run_ok(c, b"");
    assert!(
        output.contains(&format!("list [b'1 {}', b'2 {B_SIZE}']", DOTTED.len())),
        "{output}"
    );
    let lines =
        "[b'Subject: dots', b'', b'.one leading dot', b'..two leading dots', b'.', b'last']";
    assert!(output.contains(&format!("retr {lines}")), "{output}");
    assert!(
        !drop.join("a.eml").exists(),
        "DELE then QUIT removes the file"
    );
    assert!(drop.join("b.eml").exists());
}

#[test]
fn embed_pop3_fetch_from_embed_pop3_server_deletes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, drop) = pop3_server(tmp.path());
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    let mut c = Command::new(example_bin("embed_pop3_fetch"));
    c.arg(addr.to_string()).args(["alice", "secret"]).arg(&out);
    run_ok(c, b"");
    assert_eq!(fs::read(out.join("1.eml")).unwrap(), DOTTED);
    assert_eq!(
        fs::read(out.join("2.eml")).unwrap(),
        b"Subject: lf\r\n\r\nhi\r\n"
    );
    assert_eq!(files(&drop).len(), 2, "the fetch deletes nothing");
    let mut c = Command::new(example_bin("embed_pop3_fetch"));
    c.arg(addr.to_string()).args(["alice", "wrong"]).arg(&out);
    let (status, output) = run(c, b"");
    assert!(
        !status.success(),
        "a refused login must fail the run: {output}"
    );
}

/// One POP3 line from a raw session.
fn pop3_line(reader: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

/// Logs in as alice over a raw socket; gives the session and the answer to PASS.
fn raw_login(addr: SocketAddr) -> (std::io::BufReader<std::net::TcpStream>, String) {
    use std::io::Write;
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut session = std::io::BufReader::new(tcp);
    assert!(pop3_line(&mut session).starts_with("+OK"));
    session.get_mut().write_all(b"USER alice\r\n").unwrap();
    assert!(pop3_line(&mut session).starts_with("+OK"));
    session.get_mut().write_all(b"PASS secret\r\n").unwrap();
    let answer = pop3_line(&mut session);
    (session, answer)
}

#[test]
fn embed_pop3_server_locks_the_maildrop_for_one_session() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let (_server, addr, _drop) = pop3_server(tmp.path());
    let (mut first, answer) = raw_login(addr);
    assert!(answer.starts_with("+OK"), "{answer}");
    let (_, answer) = raw_login(addr);
    assert!(
        answer.starts_with("-ERR [IN-USE]"),
        "a second session while locked: {answer}"
    );
    first.get_mut().write_all(b"QUIT\r\n").unwrap();
    assert!(pop3_line(&mut first).starts_with("+OK"));
    // The lock goes with the session.
    let start = Instant::now();
    loop {
        let (_, answer) = raw_login(addr);
        if answer.starts_with("+OK") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still locked: {answer}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
