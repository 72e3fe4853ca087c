//! The maildrop listing the application hands over at login, with the session's deletion
//! marks (RFC 1939 section 5).

use alloc::vec::Vec;

use crate::UniqueId;

/// The messages of a maildrop, in message-number order: their sizes and unique ids.
///
/// Sizes are what STAT and LIST report, as given: the application computes the size the
/// message has on the wire (RFC 1939 section 5: "exact size" with CRLF line endings, before
/// dot-stuffing), the machine does not count or check it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maildrop {
    messages: Vec<Message>,
    live_count: usize,
    live_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub(super) size: u64,
    pub(super) uid: UniqueId,
    pub(super) deleted: bool,
}

impl Maildrop {
    /// An empty maildrop.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty maildrop with room for `n` messages.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            messages: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Adds the next message, with the size the client will be told (CRLF line ends,
    /// before dot-stuffing). For a message whose bytes are at hand, use
    /// [`push_message`](Self::push_message), which computes it.
    pub fn push(&mut self, size: u64, uid: UniqueId) {
        self.messages.push(Message {
            size,
            uid,
            deleted: false,
        });
        self.live_count += 1;
        self.live_size = self.live_size.saturating_add(size);
    }

    /// Adds the next message from its bytes as stored (LF or CRLF line ends): the size is
    /// the one [`send_message_chunk`](super::Connection::send_message_chunk) will put on the
    /// wire, CRLF line ends and a final CRLF, before dot-stuffing (RFC 1939 section 5,
    /// "exact size"). The bytes are only measured, not kept.
    ///
    /// ```
    /// use pop3_proto::server::Maildrop;
    /// use pop3_proto::UniqueId;
    ///
    /// let mut maildrop = Maildrop::new();
    /// maildrop.push_message(b"Subject: hi\n\nHello\n", UniqueId::new("m1").unwrap());
    /// assert_eq!(maildrop.live(), (1, 22)); // 19 octets, three LFs became CRLFs
    /// ```
    pub fn push_message(&mut self, message: &[u8], uid: UniqueId) {
        let mut crlf = mail_wire::dot::CrlfNormalizer::new();
        let size = crlf.measure(message) + crlf.finish_len();
        self.push(size, uid);
    }

    /// All messages, marked or not.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether there are no messages at all.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Messages not marked deleted, and their total size (the STAT result).
    pub fn live(&self) -> (usize, u64) {
        (self.live_count, self.live_size)
    }

    /// Messages marked deleted.
    pub fn marked(&self) -> usize {
        self.messages.len() - self.live_count
    }

    /// The message at `index` unless it is marked deleted.
    pub(super) fn get(&self, index: usize) -> Option<&Message> {
        self.messages.get(index)
    }

    pub(super) fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// Marks a message; false when it is out of range or already marked.
    pub(super) fn mark(&mut self, index: usize) -> bool {
        match self.messages.get_mut(index) {
            Some(message) if !message.deleted => {
                message.deleted = true;
                self.live_count -= 1;
                self.live_size = self.live_size.saturating_sub(message.size);
                true
            }
            _ => false,
        }
    }

    /// Unmarks every message (RSET).
    pub(super) fn unmark_all(&mut self) {
        for message in &mut self.messages {
            message.deleted = false;
        }
        self.live_count = self.messages.len();
        self.live_size = self
            .messages
            .iter()
            .fold(0u64, |sum, m| sum.saturating_add(m.size));
    }
}

impl FromIterator<(u64, UniqueId)> for Maildrop {
    fn from_iter<I: IntoIterator<Item = (u64, UniqueId)>>(iter: I) -> Self {
        let mut maildrop = Self::new();
        for (size, uid) in iter {
            maildrop.push(size, uid);
        }
        maildrop
    }
}
