//! The SMTP server's store: a Maildir per local part, or a sink.

use std::fs;
use std::io::Write;

use adapters::maildir::{Fsync, Maildir};
use adapters::store::{InvalidLocalPart, Store, StoreError, validate_local_part};

#[test]
fn local_parts_that_would_escape_the_root_are_refused() {
    let refused = [
        ("../x", InvalidLocalPart::LeadingDot),
        ("..", InvalidLocalPart::LeadingDot),
        (".hidden", InvalidLocalPart::LeadingDot),
        ("a/../../etc", InvalidLocalPart::Slash),
        ("/abs", InvalidLocalPart::Slash),
        ("nul\0byte", InvalidLocalPart::Nul),
        ("", InvalidLocalPart::Empty),
    ];
    for (local_part, why) in refused {
        assert_eq!(validate_local_part(local_part), Err(why), "{local_part:?}");
    }
    assert_eq!(
        validate_local_part(&"a".repeat(65)),
        Err(InvalidLocalPart::TooLong(65))
    );
    for fine in ["alice", "first.last", "a+tag", "üser", &"a".repeat(64)] {
        assert_eq!(validate_local_part(fine), Ok(()), "{fine}");
    }
}

#[test]
fn maildir_store_delivers_one_copy_per_local_part() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::maildir(dir.path(), Fsync::All);
    assert!(store.check_recipient("alice").is_ok());
    let mut incoming = store.begin(["alice", "bob", "alice"]).unwrap();
    incoming
        .write_all(b"Subject: both\r\n\r\nhello\r\n")
        .unwrap();
    assert!(
        Maildir::open_or_create(dir.path().join("alice"))
            .unwrap()
            .scan()
            .unwrap()
            .is_empty(),
        "nothing visible before commit"
    );
    let stored = incoming.commit().unwrap();
    assert_eq!((stored.copies, stored.size), (2, 24));
    for user in ["alice", "bob"] {
        let maildir = Maildir::open_or_create(dir.path().join(user)).unwrap();
        let messages = maildir.scan().unwrap();
        assert_eq!(messages.len(), 1, "{user}");
        assert_eq!(
            fs::read(messages[0].path()).unwrap(),
            b"Subject: both\r\n\r\nhello\r\n"
        );
    }
}

#[test]
fn an_abandoned_message_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::maildir(dir.path(), Fsync::All);
    let mut incoming = store.begin(["carol"]).unwrap();
    incoming
        .write_all(b"Subject: cut off\r\n\r\npartial")
        .unwrap();
    drop(incoming);
    for sub in ["tmp", "new", "cur"] {
        let entries = fs::read_dir(dir.path().join("carol").join(sub))
            .unwrap()
            .count();
        assert_eq!(entries, 0, "{sub}");
    }
}

/// The store opens a Maildir once; removing it from under the server (or only its `new/`)
/// must not make later deliveries fail.
#[test]
fn a_maildir_removed_from_under_the_store_is_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::maildir(dir.path(), Fsync::All);
    let deliver = |body: &[u8]| {
        let mut incoming = store.begin(["dave"]).unwrap();
        incoming.write_all(body).unwrap();
        incoming.commit().unwrap();
    };
    let stored = |sub: &str| {
        fs::read_dir(dir.path().join("dave").join(sub))
            .unwrap()
            .count()
    };
    deliver(b"first\r\n");
    fs::remove_dir_all(dir.path().join("dave")).unwrap();
    deliver(b"second\r\n");
    assert_eq!(stored("new"), 1);
    assert!(dir.path().join("dave/cur").is_dir());
    fs::remove_dir_all(dir.path().join("dave/new")).unwrap();
    deliver(b"third\r\n");
    let messages = Maildir::open_or_create(dir.path().join("dave"))
        .unwrap()
        .scan()
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(fs::read(messages[0].path()).unwrap(), b"third\r\n");
    assert_eq!(stored("tmp"), 0, "nothing left behind");
}

/// The data root the store creates spreads the Maildirs under it (see `create_data_root`).
#[cfg(target_os = "linux")]
#[test]
fn the_data_root_is_marked_as_the_top_of_a_hierarchy() {
    use rustix::fs::{IFlags, ioctl_getflags};
    let dir = tempfile::tempdir().unwrap();
    let Ok(parent_flags) = ioctl_getflags(fs::File::open(dir.path()).unwrap()) else {
        eprintln!(
            "skipped: the file system of {:?} has no inode flags",
            dir.path()
        );
        return;
    };
    assert!(!parent_flags.contains(IFlags::TOPDIR));
    let root = dir.path().join("data");
    let store = Store::maildir(&root, Fsync::All);
    store.begin(["erin"]).unwrap().commit().unwrap();
    let flags = ioctl_getflags(fs::File::open(&root).unwrap()).unwrap();
    assert!(flags.contains(IFlags::TOPDIR), "{flags:?}");
    // Only the root: the Maildirs under it are placed by the allocator's usual rule.
    let maildir_flags = ioctl_getflags(fs::File::open(root.join("erin")).unwrap()).unwrap();
    assert!(!maildir_flags.contains(IFlags::TOPDIR));
}

#[test]
fn a_bad_local_part_creates_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let store = Store::maildir(&root, Fsync::All);
    let err = store.begin(["ok", "../escape"]).unwrap_err();
    assert!(matches!(
        err,
        StoreError::InvalidLocalPart(InvalidLocalPart::LeadingDot)
    ));
    assert!(!root.exists());
    assert!(!dir.path().join("escape").exists());
}

#[tokio::test]
async fn sink_counts_and_discards() {
    let store = Store::sink();
    let Store::Sink(stats) = &store else {
        unreachable!("Store::sink() is the Sink variant")
    };
    let stats = stats.clone();
    for body in [&b"one\r\n"[..], b"second\r\n"] {
        let mut incoming = store.begin(["anyone"]).unwrap();
        incoming.write_all(body).unwrap();
        let stored = incoming.commit_async().await.unwrap();
        assert_eq!((stored.copies, stored.size), (0, body.len() as u64));
    }
    let abandoned = store.begin(["anyone"]).unwrap();
    drop(abandoned);
    assert_eq!((stats.messages(), stats.octets()), (2, 13));
    assert!(
        store.begin(["../x"]).is_err(),
        "same rule as the Maildir store"
    );
}

#[tokio::test]
async fn maildir_commit_async_runs_off_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::maildir(dir.path(), Fsync::All);
    let mut incoming = store.begin(["dave"]).unwrap();
    incoming.write_all(b"x\r\n").unwrap();
    assert_eq!(incoming.commit_async().await.unwrap().copies, 1);
    let messages = Maildir::open_or_create(dir.path().join("dave"))
        .unwrap()
        .scan()
        .unwrap();
    assert_eq!(messages.len(), 1);
}
