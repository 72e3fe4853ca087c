//! Group commit of a directory's fsync: deliveries published in the same `new/` at about the
//! same time share one fsync of it, and none is told "durable" before an fsync that began
//! after its publication (a link or rename into the directory) has succeeded.
//!
//! Every delivery calls [`DirSyncer::sync_after_publish`] once it is in `new/`. The callers
//! gather into a batch; a batch is fsynced by one of its own members (the leader), and only
//! once the previous fsync of the directory has finished, so every member's publication precedes
//! the start of the fsync that covers it. While one fsync runs, newcomers gather into the next
//! batch: under load the number of directory fsyncs follows the disk's speed, not the number
//! of deliveries. The code is blocking (a `Mutex` and a `Condvar`); the tokio adapters run it
//! on the blocking pool, like the rest of a commit.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

/// How a directory is made durable: `fsync` on the real store, a counting fake in tests.
pub(super) type SyncFn = Box<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

/// The fsync failure of a batch, given to each of its members (an `io::Error` cannot be
/// cloned, so its kind and text are kept).
type Outcome = Result<(), (io::ErrorKind, String)>;

/// The group committer of one directory. Shared by every delivery into that directory in
/// this process (see [`DirSyncer::for_dir`]).
pub(crate) struct DirSyncer {
    dir: PathBuf,
    sync: SyncFn,
    state: Mutex<State>,
    finished: Condvar,
}

struct State {
    /// The batch that callers join now. Its fsync has not started: the leader takes the batch
    /// out of here before it starts the fsync.
    next: Arc<Batch>,
    /// Whether an fsync of the directory is running. While it is false, every batch but
    /// `next` has its outcome.
    in_flight: bool,
}

#[derive(Default)]
struct Batch {
    /// Set once, by the leader, under the state lock.
    outcome: OnceLock<Outcome>,
}

impl DirSyncer {
    /// The syncer of `dir` for this process: every caller naming the same path gets the same
    /// one while any of them holds it. Two different paths of one directory (a symlink, a
    /// relative path) get two syncers; each is still correct, they only group less.
    pub(crate) fn for_dir(dir: &Path) -> Arc<Self> {
        static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Weak<DirSyncer>>>> = OnceLock::new();
        let mut registry = lock(REGISTRY.get_or_init(Default::default));
        if let Some(syncer) = registry.get(dir).and_then(Weak::upgrade) {
            return syncer;
        }
        // Forget directories nobody delivers into any more, so the registry stays small.
        registry.retain(|_, syncer| syncer.strong_count() > 0);
        let syncer = Arc::new(Self::new(dir.to_owned(), Box::new(fsync_dir)));
        registry.insert(dir.to_owned(), Arc::downgrade(&syncer));
        syncer
    }

    /// A syncer calling `sync` to make `dir` durable.
    pub(super) fn new(dir: PathBuf, sync: SyncFn) -> Self {
        Self {
            dir,
            sync,
            state: Mutex::new(State {
                next: Arc::default(),
                in_flight: false,
            }),
            finished: Condvar::new(),
        }
    }

    /// The directory this syncer makes durable.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Blocks until an fsync of the directory that started after this call began has
    /// returned, and gives its result. Call it after a link or rename into the directory: `Ok`
    /// means the new name is durable. At most two fsyncs are waited for: the one running when the call
    /// began (it may predate the new name, so it does not count) and the next, which this call's
    /// batch shares with every caller that arrived meanwhile.
    pub(crate) fn sync_after_publish(&self) -> io::Result<()> {
        let mut state = lock(&self.state);
        // `next` has not started its fsync: whichever fsync covers this batch starts later.
        let batch = Arc::clone(&state.next);
        loop {
            if let Some(outcome) = batch.outcome.get() {
                return outcome
                    .clone()
                    .map_err(|(kind, text)| io::Error::new(kind, text));
            }
            if !state.in_flight {
                // Nothing runs and this batch has no outcome: it is `next`. Lead it.
                let leading = Leader {
                    syncer: self,
                    batch: Some(std::mem::take(&mut state.next)),
                };
                state.in_flight = true;
                drop(state);
                let outcome = (self.sync)(&self.dir).map_err(|e| (e.kind(), e.to_string()));
                state = leading.finish(outcome);
                continue;
            }
            state = self
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl fmt::Debug for DirSyncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirSyncer")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The batch a leader is fsyncing. Finished normally with [`Leader::finish`]; dropped while
/// unwinding (a panicking sync function), it fails the batch so that no member waits forever.
struct Leader<'a> {
    syncer: &'a DirSyncer,
    /// `None` once finished.
    batch: Option<Arc<Batch>>,
}

impl<'a> Leader<'a> {
    /// Publishes the outcome, lets the next batch start, wakes everyone waiting; gives the
    /// state lock back to the leader, which then finds its own outcome.
    fn finish(mut self, outcome: Outcome) -> MutexGuard<'a, State> {
        let batch = self.batch.take();
        self.syncer.publish(batch, outcome)
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch.take() {
            let failure = (
                io::ErrorKind::Other,
                "the directory sync panicked".to_owned(),
            );
            drop(self.syncer.publish(Some(batch), Err(failure)));
        }
    }
}

impl DirSyncer {
    fn publish(&self, batch: Option<Arc<Batch>>, outcome: Outcome) -> MutexGuard<'_, State> {
        let mut state = lock(&self.state);
        if let Some(batch) = batch {
            let _ = batch.outcome.set(outcome);
        }
        state.in_flight = false;
        self.finished.notify_all();
        state
    }
}

/// The state stays consistent at every unlock, so a panic elsewhere does not spoil it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the names added to `dir` durable (POSIX: fsync the directory). Elsewhere a no-op.
fn fsync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::time::Duration;

    /// A logical clock: every rename, fsync start and fsync end takes the next tick, so the
    /// test can tell what happened before what across threads.
    #[derive(Default)]
    struct Clock(AtomicU64);

    impl Clock {
        fn tick(&self) -> u64 {
            self.0.fetch_add(1, Ordering::SeqCst)
        }
    }

    /// A fake fsync that takes a while and records when each run started and ended.
    struct Recorder {
        clock: Arc<Clock>,
        runs: Mutex<Vec<(u64, u64)>>,
        running: AtomicUsize,
        overlapped: AtomicUsize,
    }

    fn recording_syncer(pause: Duration, fail: bool) -> (Arc<DirSyncer>, Arc<Recorder>) {
        let recorder = Arc::new(Recorder {
            clock: Arc::default(),
            runs: Mutex::default(),
            running: AtomicUsize::new(0),
            overlapped: AtomicUsize::new(0),
        });
        let seen = Arc::clone(&recorder);
        let sync: SyncFn = Box::new(move |_| {
            if seen.running.fetch_add(1, Ordering::SeqCst) > 0 {
                seen.overlapped.fetch_add(1, Ordering::SeqCst);
            }
            let start = seen.clock.tick();
            std::thread::sleep(pause);
            let end = seen.clock.tick();
            seen.running.fetch_sub(1, Ordering::SeqCst);
            lock(&seen.runs).push((start, end));
            if fail {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            } else {
                Ok(())
            }
        });
        (
            Arc::new(DirSyncer::new(PathBuf::from("new"), sync)),
            recorder,
        )
    }

    /// `committers` threads, each `rounds` times: "rename" (a tick), sync, then check that a
    /// recorded fsync started after the rename and ended before the call returned.
    fn run_committers(
        syncer: &Arc<DirSyncer>,
        recorder: &Arc<Recorder>,
        committers: usize,
        rounds: usize,
    ) -> Vec<io::Result<()>> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..committers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut results = Vec::new();
                        for _ in 0..rounds {
                            let renamed = recorder.clock.tick();
                            let result = syncer.sync_after_publish();
                            let returned = recorder.clock.tick();
                            let covered = lock(&recorder.runs)
                                .iter()
                                .any(|&(start, end)| start > renamed && end < returned);
                            assert!(
                                covered,
                                "returned at {returned} without an fsync started after the \
                                 rename at {renamed}: {:?}",
                                lock(&recorder.runs)
                            );
                            results.push(result);
                        }
                        results
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().unwrap())
                .collect()
        })
    }

    #[test]
    fn a_lone_commit_gets_its_own_fsync() {
        let (syncer, recorder) = recording_syncer(Duration::ZERO, false);
        for _ in 0..3 {
            let renamed = recorder.clock.tick();
            syncer.sync_after_publish().unwrap();
            let &(start, _) = lock(&recorder.runs).last().unwrap();
            assert!(start > renamed);
        }
        assert_eq!(lock(&recorder.runs).len(), 3);
    }

    #[test]
    fn concurrent_commits_share_fsyncs_and_each_waits_for_one_after_its_rename() {
        let (syncer, recorder) = recording_syncer(Duration::from_millis(5), false);
        let (committers, rounds) = (16, 10);
        let results = run_committers(&syncer, &recorder, committers, rounds);
        assert_eq!(results.len(), committers * rounds);
        assert!(results.iter().all(Result::is_ok));
        let syncs = lock(&recorder.runs).len();
        assert!(
            syncs < committers * rounds / 2,
            "{syncs} fsyncs for {} deliveries: not grouped",
            committers * rounds
        );
        assert_eq!(
            recorder.overlapped.load(Ordering::SeqCst),
            0,
            "two fsyncs of one directory ran at once"
        );
    }

    #[test]
    fn a_failed_fsync_fails_every_member_of_its_batch() {
        let (syncer, recorder) = recording_syncer(Duration::from_millis(2), true);
        let results = run_committers(&syncer, &recorder, 8, 3);
        assert_eq!(results.len(), 24);
        for result in results {
            let error = result.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::StorageFull);
            assert_eq!(error.to_string(), "disk full");
        }
    }

    #[test]
    fn a_panicking_fsync_fails_its_batch_and_the_next_one_still_runs() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let syncer = DirSyncer::new(
            PathBuf::from("new"),
            Box::new(move |_| {
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("first sync panics");
                }
                Ok(())
            }),
        );
        let first =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| syncer.sync_after_publish()));
        assert!(first.is_err(), "the leader's panic reaches its caller");
        syncer.sync_after_publish().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn one_syncer_per_directory_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let a = DirSyncer::for_dir(dir.path());
        let b = DirSyncer::for_dir(dir.path());
        assert!(Arc::ptr_eq(&a, &b));
        let other = DirSyncer::for_dir(&dir.path().join("elsewhere"));
        assert!(!Arc::ptr_eq(&a, &other));
        // The real fsync of an existing directory succeeds.
        a.sync_after_publish().unwrap();
    }
}
