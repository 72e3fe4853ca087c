//! The Maildir store against a real file system (a temporary directory per test).

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use adapters::maildir::{Delivery, Maildir, MessageEntry};

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// What `tmp/` shows of a delivery that spilled its message into a file: nothing on Linux,
/// where the file has no name until it is published into `new/` (`O_TMPFILE`); its unique
/// name elsewhere (the Maildir specification's `tmp/<unique>`).
fn spilled_names(delivery: &Delivery) -> Vec<String> {
    if cfg!(target_os = "linux") {
        Vec::new()
    } else {
        vec![delivery.unique_name().to_owned()]
    }
}

fn read_served(maildir: &Maildir, message: &MessageEntry, chunk: usize) -> Vec<u8> {
    let mut reader = maildir.open_message(message).unwrap();
    let mut served = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return served;
        }
        served.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn open_or_create_makes_the_three_directories() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path().join("a/b")).unwrap();
    for sub in ["tmp", "new", "cur"] {
        assert!(maildir.root().join(sub).is_dir(), "{sub}");
    }
    // Opening again is fine and keeps what is there.
    fs::write(maildir.root().join("new/1.x"), "x\n").unwrap();
    let again = Maildir::open_or_create(maildir.root()).unwrap();
    assert_eq!(again.scan().unwrap().len(), 1);
}

#[test]
fn nothing_is_visible_before_commit() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let mut delivery = maildir.deliver().unwrap();
    delivery.write_all(b"Subject: one\r\n\r\n").unwrap();
    delivery.write_all(b"body\r\n").unwrap();
    assert_eq!(delivery.len(), 22);
    assert!(names_in(&dir.path().join("new")).is_empty());
    assert!(maildir.scan().unwrap().is_empty());
    // A small message is buffered: no file anywhere until the commit.
    assert!(names_in(&dir.path().join("tmp")).is_empty());

    let delivered = delivery.commit().unwrap();
    assert!(names_in(&dir.path().join("tmp")).is_empty());
    assert_eq!(
        names_in(&dir.path().join("new")),
        [delivered.unique.as_str()]
    );
    assert_eq!(
        fs::read(&delivered.path).unwrap(),
        b"Subject: one\r\n\r\nbody\r\n"
    );
    assert_eq!((delivered.size, delivered.wire_size), (22, 22));
    assert!(
        delivered.unique.ends_with(",S=22,W=22"),
        "{}",
        delivered.unique
    );
}

#[test]
fn a_large_message_spills_into_tmp_and_a_dropped_one_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let line = b"a line of a large message, long enough to fill the buffer quickly\r\n";
    let mut delivery = maildir.deliver().unwrap();
    for _ in 0..2000 {
        delivery.write_all(line).unwrap();
    }
    assert_eq!(names_in(&dir.path().join("tmp")), spilled_names(&delivery));
    assert!(names_in(&dir.path().join("new")).is_empty());
    drop(delivery);
    assert!(names_in(&dir.path().join("tmp")).is_empty());

    let mut delivery = maildir.deliver().unwrap();
    for _ in 0..2000 {
        delivery.write_all(line).unwrap();
    }
    let delivered = delivery.commit().unwrap();
    assert_eq!(fs::read(&delivered.path).unwrap(), line.repeat(2000));
    assert!(names_in(&dir.path().join("tmp")).is_empty());
}

#[test]
fn a_dropped_delivery_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let mut delivery = maildir.deliver().unwrap();
    delivery.write_all(&[b'x'; 100_000]).unwrap(); // past the write buffer: on disk already
    assert_eq!(names_in(&dir.path().join("tmp")), spilled_names(&delivery));
    drop(delivery); // the client went away in the middle of DATA
    for sub in ["tmp", "new", "cur"] {
        assert!(names_in(&dir.path().join(sub)).is_empty(), "{sub}");
    }
}

#[test]
fn concurrent_deliveries_get_distinct_names() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let maildir = maildir.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| {
                        let mut delivery = maildir.deliver().unwrap();
                        write!(delivery, "message {thread}/{i}\r\n").unwrap();
                        delivery.commit().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let delivered: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let names: HashSet<_> = delivered.iter().map(|d| d.unique.clone()).collect();
    assert_eq!(names.len(), 400);
    assert_eq!(names_in(&dir.path().join("new")).len(), 400);
    let contents: HashSet<_> = delivered
        .iter()
        .map(|d| fs::read_to_string(&d.path).unwrap())
        .collect();
    assert_eq!(contents.len(), 400, "no delivery overwrote another");
}

/// Files as other delivery agents leave them: LF line ends, flags in cur/.
fn other_agents_files(root: &Path) {
    fs::write(
        root.join("new/1000000001.M1P1.host"),
        "Subject: lf\n\n.dot\nend\n",
    )
    .unwrap();
    fs::write(
        root.join("cur/1000000002.M2P2.host:2,S"),
        "Subject: crlf\r\n\r\nx\r\n",
    )
    .unwrap();
    fs::write(root.join("cur/1000000003.M3P3.host:2,"), "no final newline").unwrap();
    // Misleading size fields (the file is not 5 octets): counted, not trusted.
    fs::write(root.join("new/1000000004.M4P4.host,S=5,W=5"), "a\nb\nc\n").unwrap();
    // Readers skip dot files and directories.
    fs::write(root.join("new/.hidden"), "x").unwrap();
    fs::create_dir(root.join("cur/subdir")).unwrap();
}

#[test]
fn scan_sizes_equal_the_octets_served() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    other_agents_files(dir.path());
    let mut ours = maildir.deliver().unwrap();
    ours.write_all(b"Subject: ours\r\n\r\nbare\nmixed\r\n")
        .unwrap();
    ours.commit().unwrap();

    let messages = maildir.scan().unwrap();
    let uids: Vec<_> = messages.iter().map(|m| m.uid()).collect();
    assert_eq!(
        uids[..4],
        [
            "1000000001.M1P1.host",
            "1000000002.M2P2.host",
            "1000000003.M3P3.host",
            "1000000004.M4P4.host,S=5,W=5",
        ],
        "delivery order, flags info not part of the uid"
    );
    assert_eq!(messages.len(), 5);
    let expected: [&[u8]; 5] = [
        b"Subject: lf\r\n\r\n.dot\r\nend\r\n",
        b"Subject: crlf\r\n\r\nx\r\n",
        b"no final newline\r\n",
        b"a\r\nb\r\nc\r\n",
        b"Subject: ours\r\n\r\nbare\r\nmixed\r\n",
    ];
    for (message, expected) in messages.iter().zip(expected) {
        let served = read_served(&maildir, message, 64 * 1024);
        assert_eq!(served, expected, "{}", message.uid());
        assert_eq!(
            message.wire_size(),
            served.len() as u64,
            "{}",
            message.uid()
        );
        for chunk in [1, 2, 5] {
            assert_eq!(
                read_served(&maildir, message, chunk),
                served,
                "chunk {chunk}"
            );
        }
    }
    // Stable across sessions.
    assert_eq!(maildir.scan().unwrap(), messages);
}

#[test]
fn large_lf_message_streams_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let mut stored = Vec::new();
    while stored.len() < 1 << 20 {
        stored.extend_from_slice(b"a line of a big message stored with LF endings only\n");
    }
    fs::write(dir.path().join("new/1.big.host"), &stored).unwrap();
    let message = &maildir.scan().unwrap()[0];
    let lines = stored.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(message.wire_size(), stored.len() as u64 + lines);
    let whole = read_served(&maildir, message, 1 << 21);
    assert_eq!(read_served(&maildir, message, 1000), whole);
    assert_eq!(whole.len() as u64, message.wire_size());
}

#[test]
fn uids_are_valid_pop3_unique_ids() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let long = format!("1.{}.host", "x".repeat(80));
    fs::write(dir.path().join("new").join(&long), "a\n").unwrap();
    fs::write(dir.path().join("new/2.with space.host"), "b\n").unwrap();
    let messages = maildir.scan().unwrap();
    assert_eq!(messages.len(), 2);
    for message in &messages {
        let uid = message.uid();
        assert!((1..=70).contains(&uid.len()), "{uid}");
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid}");
    }
    assert_ne!(messages[0].uid(), messages[1].uid());
    assert_eq!(
        maildir.scan().unwrap()[0].uid(),
        messages[0].uid(),
        "stable"
    );
}

#[test]
fn delete_removes_exactly_the_given_messages() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    other_agents_files(dir.path());
    let messages = maildir.scan().unwrap();
    let doomed = [&messages[0], &messages[2]];
    let report = maildir.delete(doomed);
    assert!(report.is_complete());
    assert_eq!(report.deleted, 2);
    let left: Vec<_> = maildir.scan().unwrap();
    assert_eq!(left, [messages[1].clone(), messages[3].clone()]);
    // Deleting again: already gone counts as done.
    assert_eq!(maildir.delete(doomed).deleted, 2);
}

#[test]
fn a_message_moved_to_cur_is_still_served_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    let mut delivery = maildir.deliver().unwrap();
    delivery.write_all(b"moved\r\n").unwrap();
    let delivered = delivery.commit().unwrap();
    let message = maildir.scan().unwrap().remove(0);
    // Another reader marks it seen.
    let moved = dir
        .path()
        .join("cur")
        .join(format!("{}:2,S", delivered.unique));
    fs::rename(&delivered.path, &moved).unwrap();
    assert_eq!(read_served(&maildir, &message, 3), b"moved\r\n");
    assert_eq!(
        maildir.scan().unwrap()[0].uid(),
        message.uid(),
        "same uid after the move"
    );
    assert!(maildir.delete([&message]).is_complete());
    assert!(!moved.exists());
}

#[test]
fn delete_reports_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = Maildir::open_or_create(dir.path()).unwrap();
    other_agents_files(dir.path());
    let messages = maildir.scan().unwrap();
    // Make two removals fail, even for root: each file is replaced by a non-empty directory.
    for message in [&messages[1], &messages[3]] {
        fs::remove_file(message.path()).unwrap();
        fs::create_dir(message.path()).unwrap();
        fs::write(message.path().join("f"), "x").unwrap();
    }
    let report = maildir.delete(&messages);
    let failed: Vec<_> = report.failed.iter().map(|f| f.uid.as_str()).collect();
    assert_eq!(failed, [messages[1].uid(), messages[3].uid()]);
    assert_eq!(report.deleted, 2);
    assert!(!report.is_complete());
    assert!(!messages[0].path().exists() && !messages[2].path().exists());
}
