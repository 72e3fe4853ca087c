//! "Leave mail on the server": which messages to download, given the unique ids of those
//! downloaded in earlier sessions and the server's UIDL listing (RFC 1939 section 7).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::{UidList, UidListing};

/// What to do in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadPlan<'k> {
    /// Messages on the server not downloaded before, in listing order.
    pub fetch: Vec<UidListing>,
    /// Known ids the server no longer lists (deleted by another client or expired): the
    /// caller may forget them.
    pub vanished: Vec<&'k [u8]>,
}

/// Plans a download: every listed message whose unique id is not in `known` is fetched,
/// and every id of `known` that the listing lacks has vanished. A pure function; ids
/// compare as octets (RFC 1939 section 7: unique ids are case-sensitive).
///
/// A server that lists one id twice breaks RFC 1939; the first message with that id is
/// fetched, the others are not.
///
/// ```
/// use bytes::Bytes;
/// use pop3_proto::client::plan_download;
/// use pop3_proto::{Limits, UidList};
///
/// let listing = Bytes::from_static(b"1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
/// let (listing, _) = UidList::parse(&listing, &Limits::default())?;
/// let known: [&[u8]; 2] = [b"whqtswO00WBw418f9t5JxYwZ", b"gone"];
/// let plan = plan_download(&listing, known);
/// assert_eq!(plan.fetch.len(), 1);
/// assert_eq!(plan.fetch[0].msg.get(), 2);
/// assert_eq!(plan.vanished, [&b"gone"[..]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_download<'k>(
    listing: &UidList,
    known: impl IntoIterator<Item = &'k [u8]>,
) -> DownloadPlan<'k> {
    let known: Vec<&'k [u8]> = known.into_iter().collect();
    let known_set: BTreeSet<&[u8]> = known.iter().copied().collect();
    let mut listed: BTreeSet<&[u8]> = BTreeSet::new();
    let entries: Vec<UidListing> = listing.iter().collect();
    let mut fetch = Vec::new();
    for entry in &entries {
        let uid = entry.uid.as_bytes();
        if listed.insert(uid) && !known_set.contains(uid) {
            fetch.push(entry.clone());
        }
    }
    let mut seen_vanished = BTreeSet::new();
    let vanished = known
        .into_iter()
        .filter(|uid| !listed.contains(uid) && seen_vanished.insert(*uid))
        .collect();
    DownloadPlan { fetch, vanished }
}
