//! What a transaction carries besides the body: sender, recipients, and what the body needs.

use alloc::vec::Vec;

use crate::address::{ForwardPath, ReversePath};

/// The envelope of one message (RFC 5321 section 2.3.1) and the facts about its body the
/// session needs to pick MAIL parameters.
///
/// SMTPUTF8 (RFC 6531) is requested by the session itself when an address is not ASCII.
///
/// ```
/// use smtp_proto::{ForwardPath, Mailbox, ReversePath};
/// use smtp_proto::client::Envelope;
///
/// let envelope = Envelope::new(
///     ReversePath::Mailbox(Mailbox::parse("jane@example.com").unwrap()),
///     vec![ForwardPath::Mailbox(Mailbox::parse("joe@example.org").unwrap())],
/// )
/// .with_size_hint(10_240)
/// .with_8bit_body(true);
/// assert!(envelope.body_8bit);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender (`<>` for a bounce).
    pub from: ReversePath,
    /// The recipients, in the order RCPT TO is sent; events name them by index.
    pub to: Vec<ForwardPath>,
    /// The body size in octets, sent as `SIZE=` when the server advertises SIZE and checked
    /// against its limit (RFC 1870).
    pub size_hint: Option<u64>,
    /// The body holds octets above 127: sent with `BODY=8BITMIME` (RFC 6152); the server must
    /// offer 8BITMIME.
    pub body_8bit: bool,
    /// The body is binary (any octet, no line structure): sent with `BODY=BINARYMIME` over
    /// BDAT without CRLF normalisation (RFC 3030); the server must offer both.
    pub binary: bool,
}

impl Envelope {
    /// An envelope with a 7-bit body and no size hint.
    pub fn new(from: ReversePath, to: Vec<ForwardPath>) -> Envelope {
        Envelope {
            from,
            to,
            size_hint: None,
            body_8bit: false,
            binary: false,
        }
    }

    /// With a size hint.
    pub fn with_size_hint(mut self, size: u64) -> Envelope {
        self.size_hint = Some(size);
        self
    }

    /// With the size hint of this body (as stored: LF or CRLF line ends): its length with
    /// CRLF line ends, as the session sends it (RFC 1870 section 5: the size of the message
    /// content, before dot-stuffing). `SIZE=` then goes with MAIL FROM whenever the server
    /// advertises SIZE, and a body over the server's limit is refused before anything is
    /// sent. The body is only measured.
    ///
    /// ```
    /// use smtp_proto::client::Envelope;
    /// use smtp_proto::ReversePath;
    ///
    /// let to = vec!["joe@example.org".parse().unwrap()];
    /// let envelope = Envelope::new(ReversePath::Null, to).with_size_of(b"Subject: hi\n\nHi\n");
    /// assert_eq!(envelope.size_hint, Some(19));
    /// ```
    pub fn with_size_of(self, body: &[u8]) -> Envelope {
        let mut crlf = mail_wire::dot::CrlfNormalizer::new();
        let size = crlf.measure(body) + crlf.finish_len();
        self.with_size_hint(size)
    }

    /// With an 8-bit body (or not).
    pub fn with_8bit_body(mut self, on: bool) -> Envelope {
        self.body_8bit = on;
        self
    }

    /// With a binary body (or not).
    pub fn with_binary_body(mut self, on: bool) -> Envelope {
        self.binary = on;
        self
    }

    /// Whether an address needs SMTPUTF8 (RFC 6531 section 3.2).
    pub fn needs_smtputf8(&self) -> bool {
        self.from.mailbox().is_some_and(|m| !m.is_ascii())
            || self
                .to
                .iter()
                .any(|to| to.mailbox().is_some_and(|m| !m.is_ascii()))
    }
}
