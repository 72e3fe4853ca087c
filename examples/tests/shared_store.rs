//! Several processes sharing one Maildir, as server instances behind a load balancer share a
//! data root: the POP3 maildrop lock holds across processes and dies with its holder (RFC 1939
//! section 8), deliveries from many processes all land under distinct names, and a listing
//! copes with what other processes deliver and remove.
//!
//! The other processes are this test binary run again on [`child_process`] alone, told what to
//! do by environment variables, and reporting on stdout.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use adapters::maildir::{LOCK_FILE, LockError, Maildir, MaildropLocks};

/// What the child does: `lock` or `deliver`.
const ROLE: &str = "SHARED_STORE_ROLE";
/// The Maildir it works on.
const MAILDIR: &str = "SHARED_STORE_MAILDIR";
/// How many messages a `deliver` child delivers.
const COUNT: &str = "SHARED_STORE_COUNT";
/// Starts each report line of a child (libtest prints its own lines around them).
const REPORT: &str = "shared-store-report: ";
/// Longest wait for a child's report or exit.
const LIMIT: Duration = Duration::from_secs(30);

/// Not a test of its own: the body of the child processes the tests below start, which does
/// nothing in a plain test run.
///
/// - `lock`: tries the maildrop lock and reports `locked`, `in-use` or `error <why>`; holding
///   it, waits until its stdin is closed (or the process is killed).
/// - `deliver`: delivers `COUNT` messages, reports each file name, then `done`.
#[test]
fn child_process() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let maildir = Maildir::open_or_create(std::env::var(MAILDIR).unwrap()).unwrap();
    match role.as_str() {
        "lock" => match MaildropLocks::new().try_lock(&maildir) {
            Ok(guard) => {
                report("locked");
                let _ = std::io::stdin().read_to_end(&mut Vec::new());
                drop(guard);
            }
            Err(LockError::InUse) => report("in-use"),
            Err(LockError::Io(e)) => report(&format!("error {e}")),
        },
        "deliver" => {
            let count: usize = std::env::var(COUNT).unwrap().parse().unwrap();
            for i in 0..count {
                let mut delivery = maildir.deliver().unwrap();
                write!(delivery, "from process {} #{i}\r\n", std::process::id()).unwrap();
                report(&delivery.commit().unwrap().unique);
            }
            report("done");
        }
        other => panic!("unknown role {other}"),
    }
}

/// One line on stdout, past libtest's output capture.
fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(format!("\n{REPORT}{line}\n").as_bytes())
        .unwrap();
    stdout.flush().unwrap();
}

/// A child process running [`child_process`]; killed (if still running) when dropped.
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    reports: Receiver<String>,
}

impl Helper {
    fn start(role: &str, maildir: &Path, count: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(MAILDIR, maildir)
            .env(COUNT, count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("re-running the test binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, reports) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((_, report)) = line.split_once(REPORT) {
                    let _ = tx.send(report.to_owned());
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            reports,
        }
    }

    /// The next report; panics after [`LIMIT`] or when the child ended without one.
    fn next_report(&self) -> String {
        self.reports
            .recv_timeout(LIMIT)
            .expect("the child process did not report")
    }

    /// Waits (at most [`LIMIT`]) for the child to end; panics unless it succeeded.
    fn wait_success(mut self) {
        drop(self.stdin.take());
        for _ in 0..LIMIT.as_millis() / 10 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the child failed: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the child process did not end");
    }

    /// Kills the child with SIGKILL (on Unix: no destructor, no exit handler runs) and reaps
    /// it.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lock_here(maildir: &Maildir) -> Result<adapters::maildir::MaildropGuard, LockError> {
    MaildropLocks::new().try_lock(maildir)
}

#[test]
fn a_maildrop_locked_by_another_process_is_in_use_until_that_process_dies() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path().join("alice")).unwrap();

    let holder = Helper::start("lock", maildir.root(), 0);
    assert_eq!(holder.next_report(), "locked");
    // Refused here (this process's registry is empty: the file lock refuses) and in a third
    // process.
    assert!(matches!(lock_here(&maildir), Err(LockError::InUse)));
    let second = Helper::start("lock", maildir.root(), 0);
    assert_eq!(second.next_report(), "in-use");
    second.wait_success();

    // A crash frees the maildrop: the kernel closes the dead process's files.
    holder.kill();
    let guard = lock_here(&maildir).expect("free once the holder is killed");

    // The other way round: held here, refused to another process; free after the drop.
    let refused = Helper::start("lock", maildir.root(), 0);
    assert_eq!(refused.next_report(), "in-use");
    refused.wait_success();
    drop(guard);
    // Another test of this binary may be starting a child process at this moment: between
    // its fork and its exec the child holds a copy of every descriptor of this process, the
    // lock file's included, and the lock is only free once that copy is closed too. So the
    // lock must be free within a moment, not at once.
    let holder = (0..50)
        .find_map(|_| {
            let holder = Helper::start("lock", maildir.root(), 0);
            if holder.next_report() == "locked" {
                return Some(holder);
            }
            holder.wait_success();
            std::thread::sleep(std::time::Duration::from_millis(20));
            None
        })
        .expect("free once dropped here");
    // A holder that ends normally frees it too.
    holder.wait_success();
    let _guard = lock_here(&maildir).expect("free once the holder ended");
    assert!(maildir.root().join(LOCK_FILE).is_file());
    assert!(
        maildir.scan().unwrap().is_empty(),
        "the lock file is no message"
    );
}

#[test]
fn different_maildrops_are_locked_independently_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let alice = Maildir::open_or_create(dir.path().join("alice")).unwrap();
    let bob = Maildir::open_or_create(dir.path().join("bob")).unwrap();
    let holder = Helper::start("lock", alice.root(), 0);
    assert_eq!(holder.next_report(), "locked");
    let _bob = lock_here(&bob).expect("bob's maildrop is free");
    assert!(matches!(lock_here(&alice), Err(LockError::InUse)));
    holder.wait_success();
}

/// Processes and threads delivering into one Maildir at once: every message lands, under a
/// name of its own, none replacing another.
#[test]
fn deliveries_from_several_processes_all_land() {
    const PROCESSES: usize = 4;
    const THREADS: usize = 4;
    const EACH: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let children: Vec<Helper> = (0..PROCESSES)
        .map(|_| Helper::start("deliver", maildir.root(), EACH))
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let maildir = maildir.clone();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let mut delivery = maildir.deliver().unwrap();
                    write!(delivery, "from thread {thread} #{i}\r\n").unwrap();
                    delivery.commit().unwrap();
                }
            })
        })
        .collect();
    let mut pids = HashSet::new();
    for child in children {
        let mut names = Vec::new();
        loop {
            match child.next_report() {
                done if done == "done" => break,
                name => names.push(name),
            }
        }
        assert_eq!(names.len(), EACH);
        // Each process's names carry its own pid.
        let pid_parts: HashSet<String> = names
            .iter()
            .map(|name| name.split(['.', 'R']).nth(1).unwrap().to_owned())
            .collect();
        assert_eq!(pid_parts.len(), 1, "{pid_parts:?}");
        pids.extend(pid_parts);
        child.wait_success();
    }
    assert_eq!(pids.len(), PROCESSES, "{pids:?}");
    for thread in threads {
        thread.join().unwrap();
    }

    let total = (PROCESSES + THREADS) * EACH;
    let messages = maildir.scan().unwrap();
    assert_eq!(messages.len(), total, "none lost");
    let uids: HashSet<&str> = messages.iter().map(|m| m.uid()).collect();
    assert_eq!(uids.len(), total);
    let contents: HashSet<Vec<u8>> = messages
        .iter()
        .map(|m| fs::read(m.path()).unwrap())
        .collect();
    assert_eq!(contents.len(), total, "none overwritten");
    for thread in 0..THREADS {
        for i in 0..EACH {
            let content = format!("from thread {thread} #{i}\r\n").into_bytes();
            assert!(contents.contains(&content), "thread {thread} #{i} lost");
        }
    }
    assert!(
        fs::read_dir(dir.path().join("tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

fn deliver(maildir: &Maildir, content: &str) {
    let mut delivery = maildir.deliver().unwrap();
    delivery.write_all(content.as_bytes()).unwrap();
    delivery.commit().unwrap();
}

fn read_all(maildir: &Maildir, message: &adapters::maildir::MessageEntry) -> Vec<u8> {
    let mut served = Vec::new();
    maildir
        .open_message(message)
        .unwrap()
        .read_to_end(&mut served)
        .unwrap();
    served
}

/// A listing taken at login stays what the session serves: a message another process
/// delivers meanwhile waits for the next listing; one another process removes meanwhile is
/// `NotFound` for that message alone, and its deletion counts as done.
#[test]
fn a_listing_copes_with_other_processes_deliveries_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    for n in 1..=3 {
        deliver(&maildir, &format!("message {n}\r\n"));
    }
    let listing = maildir.scan().unwrap();
    assert_eq!(listing.len(), 3);

    // Another process delivers one message.
    let other = Helper::start("deliver", maildir.root(), 1);
    let late = other.next_report();
    assert_eq!(other.next_report(), "done");
    other.wait_success();
    // Another instance removes the first message (its own session's deletion, or an IMAP
    // expunge), and a reader moves the second into cur/.
    fs::remove_file(listing[0].path()).unwrap();
    let second = listing[1].path();
    let moved = dir.path().join("cur").join(format!(
        "{}:2,S",
        second.file_name().unwrap().to_str().unwrap()
    ));
    fs::rename(second, &moved).unwrap();

    let gone = maildir.open_message(&listing[0]).unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert_eq!(read_all(&maildir, &listing[1]), b"message 2\r\n");
    // Opened, a message stays readable to its end even if removed meanwhile.
    let mut reader = maildir.open_message(&listing[2]).unwrap();
    fs::remove_file(listing[2].path()).unwrap();
    let mut served = Vec::new();
    reader.read_to_end(&mut served).unwrap();
    assert_eq!(served, b"message 3\r\n");

    // Deleting the three: the two already gone count as done, the moved one is found.
    let report = maildir.delete(&listing);
    assert!(report.is_complete(), "{:?}", report.failed);
    assert_eq!(report.deleted, 3);
    assert!(!moved.exists());

    // The next listing shows the late delivery, and only it.
    let next = maildir.scan().unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].path(), dir.path().join("new").join(&late));
}

/// A message in both `new/` and `cur/` (a reader moving it by link, then unlink) is one
/// message.
#[test]
fn a_message_seen_in_new_and_cur_is_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    deliver(&maildir, "twice seen\r\n");
    let listed = maildir.scan().unwrap().remove(0);
    let in_cur = dir.path().join("cur").join(format!(
        "{}:2,S",
        listed.path().file_name().unwrap().to_str().unwrap()
    ));
    fs::hard_link(listed.path(), &in_cur).unwrap();
    let messages = maildir.scan().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].uid(), listed.uid());
}
