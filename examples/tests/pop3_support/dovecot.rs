//! Dovecot's POP3 server in the foreground (`dovecot -F -c <config>`), with its own
//! configuration, base directory and passwd-file in a temporary directory, serving Maildirs.
//!
//! Dovecot refuses to run mail processes as root, so as root the mail belongs to `nobody`
//! (the tests chown what they write); as another user, everything runs as that user.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestCert;

/// Where Dovecot is installed (Debian's dovecot-core).
pub(crate) const BINARY: &str = "/usr/sbin/dovecot";

/// A running Dovecot; stopped (SIGTERM to its master, by pid) when dropped.
pub(crate) struct Dovecot {
    child: Child,
    /// The Maildir root: user U's Maildir is `mail_root/U`.
    pub(crate) mail_root: PathBuf,
    /// Plain POP3 (STLS offered).
    pub(crate) plain: SocketAddr,
    /// POP3S.
    pub(crate) implicit: SocketAddr,
    owner: (u32, u32),
}

impl Dovecot {
    /// Whether Dovecot is installed (skip or fail per `MAIL_INTEROP`).
    pub(crate) fn available() -> bool {
        super::peer_available(BINARY, &["--version"])
    }

    /// Starts Dovecot under `dir` with the accounts `users` (`user:password`), TLS from
    /// `cert`. Waits until both ports accept connections.
    pub(crate) fn start(dir: &Path, cert: &TestCert, users: &[&str]) -> Self {
        let (owner, login_user, login_group) = mail_owner();
        // Dovecot's unprivileged processes must reach the Maildirs and the certificate.
        make_traversable(dir);
        let mail_root = dir.join("mail");
        std::fs::create_dir_all(&mail_root).unwrap();
        let passwd = dir.join("passwd");
        let mut lines = String::new();
        for user in users {
            let (name, password) = user.split_once(':').unwrap();
            lines.push_str(&format!("{name}:{{PLAIN}}{password}::::::\n"));
            std::fs::create_dir_all(mail_root.join(name)).unwrap();
        }
        std::fs::write(&passwd, lines).unwrap();
        let plain = free_port();
        let implicit = free_port();
        let config = format!(
            r#"base_dir = {dir}/run
state_dir = {dir}/state
protocols = pop3
listen = 127.0.0.1
log_path = /dev/stderr
info_log_path = /dev/null
default_internal_user = {login_user}
default_internal_group = {login_group}
default_login_user = {login_user}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
pop3_uidl_format = %f
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%u
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {plain}
  }}
  inet_listener pop3s {{
    port = {implicit}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"#,
            dir = dir.display(),
            cert = cert.cert.display(),
            key = cert.key.display(),
            mail = mail_root.display(),
            passwd = passwd.display(),
            uid = owner.0,
            gid = owner.1,
        );
        let config_path = dir.join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut dovecot = Self {
            child: Command::new(BINARY)
                .arg("-F")
                .arg("-c")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("starting dovecot"),
            mail_root,
            plain: SocketAddr::from(([127, 0, 0, 1], plain)),
            implicit: SocketAddr::from(([127, 0, 0, 1], implicit)),
            owner,
        };
        dovecot.chown_mail();
        let deadline = Instant::now() + Duration::from_secs(15);
        for addr in [dovecot.plain, dovecot.implicit] {
            while TcpStream::connect(addr).is_err() {
                if let Ok(Some(status)) = dovecot.child.try_wait() {
                    panic!("dovecot exited: {status}");
                }
                assert!(
                    Instant::now() < deadline,
                    "dovecot did not listen on {addr}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        dovecot
    }

    /// The Maildir of `user`.
    pub(crate) fn maildir(&self, user: &str) -> PathBuf {
        self.mail_root.join(user)
    }

    /// Gives everything under the mail root to the mail user (after writing messages).
    pub(crate) fn chown_mail(&self) {
        chown_tree(&self.mail_root, self.owner);
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL would leave them behind.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The uid/gid owning the mail, and the user and group names of Dovecot's internal
/// processes.
fn mail_owner() -> ((u32, u32), String, String) {
    let id = |flag: &str, user: Option<&str>| {
        let mut command = Command::new("id");
        command.arg(flag);
        if let Some(user) = user {
            command.arg(user);
        }
        let output = command.output().expect("id");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let who = if id("-u", None) == "0" {
        Some("nobody")
    } else {
        None
    };
    let uid = id("-u", who).parse().expect("uid");
    let gid = id("-g", who).parse().expect("gid");
    ((uid, gid), id("-un", who), id("-gn", who))
}

/// Lets Dovecot's unprivileged processes reach `dir`: `dir` gets mode 0755, and each parent
/// that others cannot traverse gets that one bit (search, `o+x`) added, nothing else.
fn make_traversable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    for parent in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(parent) else {
            break;
        };
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            let _ = std::fs::set_permissions(parent, std::fs::Permissions::from_mode(mode | 0o001));
        }
    }
}

fn chown_tree(path: &Path, (uid, gid): (u32, u32)) {
    let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&entry.path(), (uid, gid));
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
