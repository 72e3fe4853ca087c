//! Scan and unique-id listings (RFC 1939 sections 5 and 7), single-line and multi-line,
//! and the generic multi-line listing that CAPA shares.
//!
//! A multi-line listing is the entry lines after a `+OK` status line, ended by a line
//! holding a single `.` (RFC 1939 section 3). [`Listing::parse`] finds the terminator at any
//! split and keeps the entries as one raw `Bytes` region; [`Listing::iter`] reads them
//! lazily, so parsing a listing allocates nothing per entry. [`ListingLine`] reads the same
//! lines one at a time, for a caller that streams them through a line framer.
//!
//! No entry of LIST, UIDL or CAPA can start with `.` (they start with a digit or a
//! capability name), so these listings never carry dot-stuffing: a line starting with `.`
//! other than the terminator is rejected, and writers never need to stuff.

use core::fmt;
use core::marker::PhantomData;
use mail_wire::value::IntoBytes;

use bytes::{Bytes, BytesMut};
use mail_wire::decimal;
use mail_wire::line::{self, LineEnding, LineError, LineScan};

use crate::command::MsgNumber;
use crate::lexical::{self, two_fields};
use crate::response::{self, StatusLine};
use crate::{Limits, ParseError, ResponseError, ValueError};

/// One entry of a multi-line listing: parsed from one line (without CRLF), written as one.
pub trait ListingEntry: Sized {
    /// Parses one entry line (without CRLF) found inside `source`; the parts the entry keeps
    /// become slices of `source` (a `line` outside `source` is copied instead).
    fn parse_entry_in(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError>;

    /// Parses one entry line, without its CRLF.
    fn parse_entry(line: Bytes) -> Result<Self, ResponseError> {
        Self::parse_entry_in(&line, &line)
    }

    /// Writes the entry line, CRLF included.
    fn write_entry(&self, out: &mut BytesMut);
}

/// A scan listing: a message number and its size in octets (RFC 1939 section 5, LIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScanListing {
    /// The message.
    pub msg: MsgNumber,
    /// Its size in octets.
    pub size: u64,
}

/// A unique-id listing: a message number and its unique id (RFC 1939 section 7, UIDL).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UidListing {
    /// The message.
    pub msg: MsgNumber,
    /// Its unique id.
    pub uid: UniqueId,
}

/// A message's unique id: 1 to 70 octets in the range 0x21 to 0x7E (RFC 1939 section 7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueId(Bytes);

impl UniqueId {
    const WHAT: &'static str = "unique id";
    /// RFC 1939 section 7: at most 70 characters.
    pub const MAX_LEN: usize = 70;

    /// Validates a unique id.
    pub fn new(uid: impl IntoBytes) -> Result<Self, ValueError> {
        let uid = uid.into_shared();
        if uid.is_empty() {
            return Err(ValueError::Empty { what: Self::WHAT });
        }
        if uid.len() > Self::MAX_LEN {
            return Err(ValueError::TooLong {
                what: Self::WHAT,
                limit: Self::MAX_LEN,
            });
        }
        if let Some(&octet) = uid.iter().find(|b| !b.is_ascii_graphic()) {
            return Err(ValueError::ForbiddenOctet {
                what: Self::WHAT,
                octet,
            });
        }
        Ok(Self(uid))
    }

    /// The id's octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Reads a unique id as typed, copying it.
impl core::str::FromStr for UniqueId {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        Self::new(text)
    }
}

/// The id as text (always printable ASCII).
impl fmt::Display for UniqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(core::str::from_utf8(&self.0).unwrap_or_default())
    }
}

/// Parses "msg size" or "msg uid" fields (after `+OK ` or as a listing entry).
fn msg_and<T>(
    text: &[u8],
    what: &'static str,
    second: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<(MsgNumber, T), ResponseError> {
    let (msg, rest) = two_fields(text).ok_or(ValueError::Malformed { what })?;
    let msg = MsgNumber::parse(msg)?;
    let rest = second(rest).ok_or(ValueError::Malformed { what })?;
    Ok((msg, rest))
}

impl ScanListing {
    const WHAT: &'static str = "scan listing";

    fn from_text(text: &[u8]) -> Result<Self, ResponseError> {
        let (msg, size) = msg_and(text, Self::WHAT, decimal::parse_u64)?;
        Ok(Self { msg, size })
    }

    /// Reads the single-line result of `LIST msg` from a parsed status line.
    pub fn from_status(status: &StatusLine) -> Result<Self, ResponseError> {
        if !status.is_ok() {
            return Err(ResponseError::NotOk);
        }
        Self::from_text(status.text().as_bytes())
    }

    /// Parses the single-line `LIST msg` response at the front of `input`.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        response::parse_single_line(input, limits, Self::from_status)
    }

    /// Parses one `LIST msg` response line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        response::parse_single_line_framed(line, limits, Self::from_status)
    }

    /// Writes the single-line response `+OK msg size`, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"+OK ");
        self.write_entry(out);
    }
}

impl ListingEntry for ScanListing {
    fn parse_entry_in(_: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        Self::from_text(line)
    }

    fn write_entry(&self, out: &mut BytesMut) {
        self.msg.write(out);
        out.extend_from_slice(b" ");
        decimal::write_u64(out, self.size);
        out.extend_from_slice(b"\r\n");
    }
}

impl UidListing {
    const WHAT: &'static str = "unique-id listing";

    fn from_text(source: &Bytes, text: &[u8]) -> Result<Self, ResponseError> {
        let (msg, uid) = msg_and(text, Self::WHAT, |uid| Some(lexical::slice_in(source, uid)))?;
        Ok(Self {
            msg,
            uid: UniqueId::new(uid)?,
        })
    }

    /// Reads the single-line result of `UIDL msg` from a parsed status line.
    pub fn from_status(status: &StatusLine) -> Result<Self, ResponseError> {
        if !status.is_ok() {
            return Err(ResponseError::NotOk);
        }
        let text = status.text().to_bytes();
        Self::from_text(&text, &text)
    }

    /// Parses the single-line `UIDL msg` response at the front of `input`.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        response::parse_single_line(input, limits, Self::from_status)
    }

    /// Parses one `UIDL msg` response line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        response::parse_single_line_framed(line, limits, Self::from_status)
    }

    /// Writes the single-line response `+OK msg uid`, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"+OK ");
        self.write_entry(out);
    }
}

impl ListingEntry for UidListing {
    fn parse_entry_in(source: &Bytes, line: &[u8]) -> Result<Self, ResponseError> {
        Self::from_text(source, line)
    }

    fn write_entry(&self, out: &mut BytesMut) {
        self.msg.write(out);
        out.extend_from_slice(b" ");
        out.extend_from_slice(self.uid.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The entries of a multi-line listing, kept as the raw lines they came in.
pub struct Listing<E> {
    /// The entry lines, each with its CRLF, without the terminator. Every line was
    /// validated by [`Listing::parse`].
    raw: Bytes,
    len: usize,
    entries: PhantomData<fn() -> E>,
}

/// The LIST listing.
pub type ScanList = Listing<ScanListing>;
/// The UIDL listing.
pub type UidList = Listing<UidListing>;
/// The CAPA listing.
pub type CapabilityList = Listing<crate::Capability>;

impl<E: ListingEntry> Listing<E> {
    /// Parses a multi-line listing at the front of `input` (the octets after the `+OK`
    /// status line), up to and including its `.` terminator line.
    ///
    /// Returns the listing and the octets it took. [`ParseError::Incomplete`] until the
    /// terminator has arrived. A bad entry (or a line over its limit that ends within the
    /// input) is reported once the terminator is there, with `consumed` covering the whole
    /// listing, so the connection stays in step. A line over its limit whose end is not in
    /// the input yet, or a listing over [`Limits::listing`], is reported at once: `consumed`
    /// then covers the whole lines before it ([`ParseError`]'s rule), and the rest of the
    /// listing cannot be told from what follows it.
    pub fn parse(
        input: &Bytes,
        limits: &Limits,
    ) -> Result<(Self, usize), ParseError<ResponseError>> {
        let mut pos = 0;
        let mut len = 0;
        let mut first_error = None;
        loop {
            let rest = &input[pos..];
            let (end, next) = match line::scan_line(rest, limits.response_line, LineEnding::Crlf) {
                LineScan::Line {
                    content_len,
                    total_len,
                } => (pos + content_len, pos + total_len),
                LineScan::Incomplete if input.len() <= limits.listing => {
                    return Err(ParseError::Incomplete);
                }
                // The line at `pos` is not seen to its end: only the lines before it go.
                LineScan::Incomplete => {
                    return Err(Self::too_long(limits, pos));
                }
                LineScan::Fault {
                    error: error @ LineError::TooLong { .. },
                    consumed: 0,
                } => {
                    return Err(ParseError::Invalid {
                        error: error.into(),
                        consumed: pos,
                    });
                }
                LineScan::Fault { error, consumed } => {
                    first_error.get_or_insert(error.into());
                    pos += consumed;
                    continue;
                }
            };
            if next > limits.listing {
                return Err(Self::too_long(limits, next));
            }
            let line = &input[pos..end];
            if line == b"." {
                return match first_error {
                    None => Ok((
                        Self {
                            raw: input.slice(..pos),
                            len,
                            entries: PhantomData,
                        },
                        next,
                    )),
                    Some(error) => Err(ParseError::Invalid {
                        error,
                        consumed: next,
                    }),
                };
            }
            match parse_entry_line::<E>(input, line) {
                Ok(_) => len += 1,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
            pos = next;
        }
    }

    fn too_long(limits: &Limits, consumed: usize) -> ParseError<ResponseError> {
        ParseError::Invalid {
            error: ResponseError::ListingTooLong {
                limit: limits.listing,
            },
            consumed,
        }
    }

    /// The entries, parsed lazily from the raw lines.
    pub fn iter(&self) -> ListingIter<'_, E> {
        ListingIter {
            raw: &self.raw,
            pos: 0,
            entries: PhantomData,
        }
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw entry lines, CRLFs included, terminator excluded.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Writes the entries and the terminating `.` line.
    pub fn write<'a>(entries: impl IntoIterator<Item = &'a E>, out: &mut BytesMut)
    where
        E: 'a,
    {
        for entry in entries {
            entry.write_entry(out);
        }
        out.extend_from_slice(b".\r\n");
    }
}

/// An entry line may not start with `.`: none of these listings has such an entry, and
/// a stuffed line would mean the server is sending something else.
fn parse_entry_line<E: ListingEntry>(source: &Bytes, line: &[u8]) -> Result<E, ResponseError> {
    if line.first() == Some(&b'.') {
        return Err(ValueError::Malformed {
            what: "listing entry (starts with a dot)",
        }
        .into());
    }
    E::parse_entry_in(source, line)
}

impl<E: ListingEntry + PartialEq> PartialEq for Listing<E> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<E: ListingEntry + Eq> Eq for Listing<E> {}

impl<E> Clone for Listing<E> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            len: self.len,
            entries: PhantomData,
        }
    }
}

impl<E: ListingEntry + fmt::Debug> fmt::Debug for Listing<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, E: ListingEntry> IntoIterator for &'a Listing<E> {
    type Item = E;
    type IntoIter = ListingIter<'a, E>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`Listing`]'s entries; each is parsed when reached, holding slices of
/// the listing's `Bytes`.
pub struct ListingIter<'a, E> {
    raw: &'a Bytes,
    pos: usize,
    entries: PhantomData<fn() -> E>,
}

impl<E: ListingEntry> Iterator for ListingIter<'_, E> {
    type Item = E;

    fn next(&mut self) -> Option<E> {
        let rest = self.raw.get(self.pos..)?;
        let lf = memchr::memchr(b'\n', rest)?;
        let line = &rest[..lf.saturating_sub(1)];
        self.pos += lf + 1;
        // Every line was validated by `Listing::parse`; should one fail anyway, stop.
        match E::parse_entry_in(self.raw, line) {
            Ok(entry) => Some(entry),
            Err(_) => {
                self.pos = self.raw.len();
                None
            }
        }
    }
}

impl<E: ListingEntry> core::iter::FusedIterator for ListingIter<'_, E> {}

/// One line of a multi-line listing read on its own (framed by a line framer): an entry,
/// or the terminator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingLine<E> {
    /// An entry.
    Entry(E),
    /// The `.` line that ends the listing.
    End,
}

impl<E: ListingEntry> ListingLine<E> {
    /// Parses one listing line already framed, without its CRLF.
    pub fn parse_line(line: Bytes, limits: &Limits) -> Result<Self, ResponseError> {
        lexical::parse_framed_line(line, limits.response_line, |source, line| {
            if line == b"." {
                Ok(Self::End)
            } else {
                parse_entry_line(source, line).map(Self::Entry)
            }
        })
    }

    /// Writes the line, CRLF included.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Self::Entry(entry) => entry.write_entry(out),
            Self::End => out.extend_from_slice(b".\r\n"),
        }
    }
}
