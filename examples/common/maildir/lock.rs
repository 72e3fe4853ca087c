//! One POP3 session per maildrop at a time (RFC 1939 section 8; the `[IN-USE]` response code of
//! RFC 2449 section 8.1.1 tells the second client why it was refused).
//!
//! The lock lives in this process only: a registry of the maildrops in use, shared by every
//! session of one server. That is enough for these examples, where one server process owns the
//! data directory (the `maildrop` demo runs SMTP and POP3 in one process, and SMTP delivery
//! needs no lock: Maildir delivery is atomic by design). It does not exclude another program
//! reading the same Maildir; a server sharing a Maildir with other readers would need a lock
//! file or `flock` as well.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// The registry of maildrops in use. Clones share one registry.
#[derive(Debug, Clone, Default)]
pub struct MaildropLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

impl MaildropLocks {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock on `maildrop` (a name that identifies it, e.g. the user name), or `None`
    /// when another session holds it (answer `-ERR [IN-USE]`). The lock is freed when the
    /// returned guard is dropped, however the session ends.
    pub fn try_lock(&self, maildrop: &str) -> Option<MaildropGuard> {
        if lock_ignoring_poison(&self.held).insert(maildrop.to_owned()) {
            Some(MaildropGuard {
                held: Arc::clone(&self.held),
                maildrop: maildrop.to_owned(),
            })
        } else {
            None
        }
    }

    /// True while some session holds the lock on `maildrop`.
    pub fn is_locked(&self, maildrop: &str) -> bool {
        lock_ignoring_poison(&self.held).contains(maildrop)
    }
}

/// Proof of holding the lock on one maildrop; dropping it frees the lock.
#[derive(Debug)]
#[must_use = "the maildrop is unlocked as soon as the guard is dropped"]
pub struct MaildropGuard {
    held: Arc<Mutex<HashSet<String>>>,
    maildrop: String,
}

impl MaildropGuard {
    /// The name of the locked maildrop.
    pub fn maildrop(&self) -> &str {
        &self.maildrop
    }
}

impl Drop for MaildropGuard {
    fn drop(&mut self) {
        lock_ignoring_poison(&self.held).remove(&self.maildrop);
    }
}

/// The set stays consistent even if a holder panicked (each operation is one insert or remove),
/// so a poisoned mutex is used as is rather than taking every later session down.
fn lock_ignoring_poison(held: &Mutex<HashSet<String>>) -> MutexGuard<'_, HashSet<String>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_a_second_holder_and_frees_on_drop() {
        let locks = MaildropLocks::new();
        let first = locks.try_lock("alice").expect("free at first");
        assert_eq!(first.maildrop(), "alice");
        assert!(locks.is_locked("alice"));
        assert!(
            locks.clone().try_lock("alice").is_none(),
            "a clone shares the registry"
        );
        let other = locks
            .try_lock("bob")
            .expect("another maildrop is independent");
        drop(first);
        assert!(!locks.is_locked("alice"));
        let again = locks
            .try_lock("alice")
            .expect("free after the guard is dropped");
        assert!(locks.is_locked("bob"));
        drop((again, other));
        assert!(!locks.is_locked("alice") && !locks.is_locked("bob"));
    }

    #[test]
    fn one_winner_among_concurrent_threads() {
        let locks = MaildropLocks::new();
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (locks, barrier) = (locks.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    let guard = locks.try_lock("carol");
                    barrier.wait(); // hold until everyone has tried
                    guard.is_some()
                })
            })
            .collect();
        let winners: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(winners.iter().filter(|&&won| won).count(), 1);
        assert!(!locks.is_locked("carol"));
    }
}
