//! What the load tests print beside their figures: how long creating a file takes on the
//! file system they write to, at the moment they run, the open-files limit they run under, and
//! a process's resident memory.
//!
//! Storing mail creates a file per message, so the Maildir figures follow that cost, and it
//! is not constant. On ext4 without a journal (the disks these tests were measured on) a new
//! inode skips every inode of its group freed in the last minute or more (the kernel's
//! `recently_deleted`): after a mass deletion (another test's temporary directories, a POP3
//! session's deletions) a creation costs up to a millisecond of CPU instead of tens of
//! microseconds, and the same run can be several times slower.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Files created to take the measure: few, so the probe itself changes little.
const PROBES: u32 = 50;

/// The mean time to create an empty file in a new directory inside `parent` (where the
/// test's mail goes, or its Maildir: ext4 places a directory's files near it). The files are
/// left for `parent`'s owner to remove: deleting them now would slow the creations that
/// follow.
pub(crate) fn file_creation_cost(parent: &Path) -> Duration {
    static PROBES_TAKEN: AtomicUsize = AtomicUsize::new(0);
    let taken = PROBES_TAKEN.fetch_add(1, Ordering::Relaxed);
    let dir = parent.join(format!("creation-probe-{taken}"));
    std::fs::create_dir(&dir).unwrap();
    let started = Instant::now();
    for n in 0..PROBES {
        File::create(dir.join(n.to_string())).unwrap();
    }
    started.elapsed() / PROBES
}

/// The limit on open files, as a child shell sees it (this process inherited the same): a
/// load test holds one socket per connection, and so does the server.
pub(crate) fn open_files_limit() -> String {
    std::process::Command::new("sh")
        .args(["-c", "echo soft $(ulimit -Sn), hard $(ulimit -Hn)"])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A process's resident set, in KiB (`VmRSS` of `/proc/PID/status`).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
