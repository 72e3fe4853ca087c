//! EHLO keywords (RFC 5321 section 4.1.1.1): the service extensions a server advertises,
//! typed for the ones this crate knows, kept as sent for the others.

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::decimal;

use crate::address::Domain;
use crate::auth::Mechanism;
use crate::error::{ReplyError, ValueError};
use crate::reply::{Code, Lines, Reply, ReplyLines};
use crate::storage::Storage;
use crate::syntax::{self, LDH, word_is};

/// A service extension this crate has a name for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
#[non_exhaustive]
pub enum Extension {
    /// `SIZE [n]` (RFC 1870).
    Size = 1,
    /// `AUTH mechanisms` (RFC 4954).
    Auth = 1 << 1,
    /// `PIPELINING` (RFC 2920).
    Pipelining = 1 << 2,
    /// `8BITMIME` (RFC 6152).
    EightBitMime = 1 << 3,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8 = 1 << 4,
    /// `CHUNKING`: BDAT (RFC 3030).
    Chunking = 1 << 5,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime = 1 << 6,
    /// `DSN` (RFC 3461).
    Dsn = 1 << 7,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes = 1 << 8,
    /// `STARTTLS` (RFC 3207).
    StartTls = 1 << 9,
    /// `REQUIRETLS` (RFC 8689).
    RequireTls = 1 << 10,
}

impl Extension {
    /// The EHLO keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Extension::Size => "SIZE",
            Extension::Auth => "AUTH",
            Extension::Pipelining => "PIPELINING",
            Extension::EightBitMime => "8BITMIME",
            Extension::SmtpUtf8 => "SMTPUTF8",
            Extension::Chunking => "CHUNKING",
            Extension::BinaryMime => "BINARYMIME",
            Extension::Dsn => "DSN",
            Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Extension::StartTls => "STARTTLS",
            Extension::RequireTls => "REQUIRETLS",
        }
    }

    /// The extension named by an EHLO keyword (any case).
    #[inline]
    pub fn from_keyword(keyword: &[u8]) -> Option<Extension> {
        Extension::from_keyword_at(keyword, 0, keyword.len())
    }

    /// The extension named by `bytes[start..start + len]`: octets after the keyword in `bytes`
    /// let the loads below take 8 at a time.
    #[inline(always)]
    fn from_keyword_at(bytes: &[u8], start: usize, len: usize) -> Option<Extension> {
        // Dispatch on length, then compare 8 octets at a time with ASCII case folded.
        if !(3..=19).contains(&len) {
            return None;
        }
        let keyword = bytes.get(start..)?;
        let head = syntax::word_at(keyword, 0, len);
        let extension = match len {
            3 if word_is!(head, b"DSN", 0) => Extension::Dsn,
            4 if word_is!(head, b"SIZE", 0) => Extension::Size,
            4 if word_is!(head, b"AUTH", 0) => Extension::Auth,
            8 if word_is!(head, b"8BITMIME", 0) => Extension::EightBitMime,
            8 if word_is!(head, b"STARTTLS", 0) => Extension::StartTls,
            8 if word_is!(head, b"SMTPUTF8", 0) => Extension::SmtpUtf8,
            8 if word_is!(head, b"CHUNKING", 0) => Extension::Chunking,
            10 => {
                let tail = syntax::word_at(keyword, 8, 2);
                if word_is!(head, b"PIPELINING", 0) && word_is!(tail, b"PIPELINING", 8) {
                    Extension::Pipelining
                } else if word_is!(head, b"BINARYMIME", 0) && word_is!(tail, b"BINARYMIME", 8) {
                    Extension::BinaryMime
                } else if word_is!(head, b"REQUIRETLS", 0) && word_is!(tail, b"REQUIRETLS", 8) {
                    Extension::RequireTls
                } else {
                    return None;
                }
            }
            19 if word_is!(head, b"ENHANCEDSTATUSCODES", 0)
                && word_is!(syntax::word_at(keyword, 8, 8), b"ENHANCEDSTATUSCODES", 8)
                && word_is!(syntax::word_at(keyword, 16, 3), b"ENHANCEDSTATUSCODES", 16) =>
            {
                Extension::EnhancedStatusCodes
            }
            _ => return None,
        };
        Some(extension)
    }
}

/// One advertised extension.
#[derive(Debug, Clone)]
pub enum Capability<'a> {
    /// A known extension; [`Capabilities::size`] and [`Capabilities::auth_mechanisms`]
    /// give the parameters of SIZE and AUTH.
    Known(Extension),
    /// Another keyword, with its parameters as sent (empty when none).
    Other {
        /// The keyword.
        keyword: &'a [u8],
        /// The text after the keyword and its SP.
        params: &'a [u8],
    },
}

fn split_keyword(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], &line[sp + 1..]),
        None => (line, &[]),
    }
}

/// The keyword's extension, if known and its parameters are well formed (others are kept as
/// unknown lines).
#[inline]
fn classify(line: &[u8]) -> Option<(Extension, &[u8])> {
    let (keyword, params) = split_keyword(line);
    let extension = Extension::from_keyword(keyword)?;
    let well_formed = match extension {
        Extension::Size => params.is_empty() || syntax::parse_size(params).is_some(),
        Extension::Auth => true,
        _ => params.is_empty(),
    };
    well_formed.then_some((extension, params))
}

/// [`classify`] of the line `region[start..end]`, without splitting it first: of the known
/// keywords only SIZE and AUTH take parameters, so the line's length and its first 8 octets
/// decide (SIZE's parameter is checked by the caller).
#[inline(always)]
fn classify_at(region: &[u8], start: usize, end: usize) -> Option<(Extension, &[u8])> {
    let len = end - start;
    let head = syntax::word_at(region, start, len);
    // SP in the first 8 octets ends the keyword there (octets past the line load as 0).
    let spaces = {
        let x = head ^ 0x2020_2020_2020_2020;
        x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080
    };
    let (keyword_len, params) = if spaces != 0 {
        let sp = (spaces.trailing_zeros() / 8) as usize;
        (sp, region.get(start + sp + 1..end).unwrap_or_default())
    } else if len > 8 && region[end - 1] == b' ' {
        // A keyword of 8 or more octets followed by an empty parameter list.
        (len - 1, &[][..])
    } else {
        (len, &[][..])
    };
    let keyword_head = head & (u64::MAX >> (64 - 8 * keyword_len.clamp(1, 8)));
    let extension = match keyword_len {
        3 if word_is!(keyword_head, b"DSN", 0) => Extension::Dsn,
        4 if word_is!(keyword_head, b"SIZE", 0) => return Some((Extension::Size, params)),
        4 if word_is!(keyword_head, b"AUTH", 0) => return Some((Extension::Auth, params)),
        8 | 10 | 19 => Extension::from_keyword_at(region, start, keyword_len)?,
        _ => return None,
    };
    // The others take no parameter.
    params.is_empty().then_some((extension, params))
}

/// What the extension lines of an EHLO reply advertise, read once when [`Capabilities`] is
/// made: the known keywords, the SIZE limit, where the first AUTH line's mechanisms are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Summary {
    /// [`Extension`] bits.
    flags: u16,
    /// Length of the first AUTH line's parameters.
    auth_len: u16,
    /// Where they start in the lines' region.
    auth_start: u32,
    /// The last SIZE line's limit (0 when none is given).
    size: u64,
}

impl Summary {
    /// Reads one extension line, `region[start..end]` (no code prefix, no CRLF).
    #[inline]
    fn add_line(&mut self, region: &[u8], start: usize, end: usize) {
        let Some((extension, params)) = classify_at(region, start, end) else {
            return;
        };
        match extension {
            Extension::Size => match params {
                [] => self.size = 0,
                _ => match syntax::parse_size(params) {
                    Some(size) => self.size = size,
                    None => return,
                },
            },
            // Lines are at most a reply line long (well below 64 KiB).
            Extension::Auth if !self.has(Extension::Auth) => {
                self.auth_start = (end - params.len()) as u32;
                self.auth_len = params.len() as u16;
            }
            Extension::Auth => {}
            _ => {}
        }
        self.flags |= extension as u16;
    }

    fn has(&self, extension: Extension) -> bool {
        self.flags & extension as u16 != 0
    }

    /// Reads every extension line (all but the first) of `lines`.
    fn of<B: Storage>(lines: &Lines<B>) -> Summary {
        let region = lines.raw();
        let mut summary = Summary::default();
        for line in lines.iter(None).skip(1).filter(|line| !line.is_empty()) {
            let start = line.as_ptr() as usize - region.as_ptr() as usize;
            summary.add_line(region, start, start + line.len());
        }
        summary
    }
}

/// The service extensions of an EHLO reply: kept as the reply's lines (no copy), with the
/// known keywords and the SIZE limit read once. Two values are equal when they advertise the
/// same things.
///
/// `Capabilities<&[u8]>` (from a `Reply<&[u8]>`) borrows the reply's buffer.
#[derive(Clone)]
pub struct Capabilities<B = Bytes> {
    /// The lines, as the reply holds them.
    lines: Lines<B>,
    /// What they advertise.
    summary: Summary,
}

impl Capabilities {
    /// No extension yet; the first line of the reply is `domain`.
    pub fn new(domain: &Domain) -> Capabilities {
        Capabilities {
            lines: Lines::plain(Bytes::copy_from_slice(domain.as_bytes()), 1),
            summary: Summary::default(),
        }
    }

    /// Advertises an extension without parameters (SIZE without a fixed limit, AUTH with the
    /// mechanisms of [`Capabilities::set_auth`] only).
    pub fn add(&mut self, extension: Extension) {
        match extension {
            Extension::Size => self.set_size(0),
            Extension::Auth => self.set_auth(&[]),
            _ if self.has(extension) => {}
            _ => self.rebuild(None, Some(extension.keyword().as_bytes())),
        }
    }

    /// Advertises `SIZE limit` (0: no fixed limit, written as bare `SIZE`).
    pub fn set_size(&mut self, limit: u64) {
        let mut line = BytesMut::from(&b"SIZE"[..]);
        if limit > 0 {
            line.put_u8(b' ');
            decimal::write_u64(&mut line, limit);
        }
        self.rebuild(Some(Extension::Size), Some(&line));
    }

    /// Advertises `AUTH` with these mechanisms (an empty list removes AUTH: RFC 4954 needs one).
    pub fn set_auth(&mut self, mechanisms: &[Mechanism]) {
        if mechanisms.is_empty() {
            self.rebuild(Some(Extension::Auth), None);
            return;
        }
        let mut line = BytesMut::from(&b"AUTH"[..]);
        for mechanism in mechanisms {
            line.put_u8(b' ');
            line.extend_from_slice(mechanism.as_str().as_bytes());
        }
        self.rebuild(Some(Extension::Auth), Some(&line));
    }

    /// Removes an extension.
    pub fn remove(&mut self, extension: Extension) {
        self.rebuild(Some(extension), None);
    }

    /// Advertises an extension this crate has no type for; `params` may be empty.
    pub fn add_other(&mut self, keyword: &str, params: &str) -> Result<(), ValueError> {
        let keyword = keyword.as_bytes();
        if keyword.is_empty() || !keyword[0].is_ascii_alphanumeric() || !syntax::all(keyword, LDH) {
            return Err(ValueError::Malformed {
                what: "EHLO keyword",
            });
        }
        if Extension::from_keyword(keyword).is_some() {
            return Err(ValueError::Reserved {
                what: "EHLO keyword",
            });
        }
        if let Some(byte) = syntax::forbidden_byte(params.as_bytes()) {
            return Err(ValueError::ForbiddenOctet {
                what: "EHLO parameters",
                octet: byte,
            });
        }
        // ehlo-param = 1*(%d33-126), separated by single spaces.
        if !params.is_empty()
            && !params
                .split(' ')
                .all(|p| !p.is_empty() && p.bytes().all(|b| (33..=126).contains(&b)))
        {
            return Err(ValueError::Malformed {
                what: "EHLO parameters",
            });
        }
        let mut line = BytesMut::from(keyword);
        if !params.is_empty() {
            line.put_u8(b' ');
            line.extend_from_slice(params.as_bytes());
        }
        self.rebuild(None, Some(&line));
        Ok(())
    }

    /// Rewrites the lines without those of `drop`, then with `push` appended.
    fn rebuild(&mut self, drop: Option<Extension>, push: Option<&[u8]>) {
        let mut raw = BytesMut::new();
        let mut count = 0u32;
        for (i, line) in self.lines.iter(None).enumerate() {
            let dropped = i > 0 && drop.is_some() && classify(line).map(|(e, _)| e) == drop;
            if !dropped {
                if count > 0 {
                    raw.extend_from_slice(b"\r\n");
                }
                raw.extend_from_slice(line);
                count += 1;
            }
        }
        if let Some(line) = push {
            raw.extend_from_slice(b"\r\n");
            raw.extend_from_slice(line);
            count += 1;
        }
        self.lines = Lines::plain(raw.freeze(), count);
        self.summary = Summary::of(&self.lines);
    }
}

impl Capabilities<&[u8]> {
    /// The same capabilities in shared storage: a slice of `source` when the reply was parsed
    /// from it (a reference count, no copy), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Capabilities {
        Capabilities {
            lines: self.lines.to_shared(source),
            summary: self.summary,
        }
    }
}

impl<B: Storage> Capabilities<B> {
    /// Reads the extensions of a 250 reply to EHLO (RFC 5321 section 4.1.1.1: the first line
    /// names the server, each other line is `keyword *(SP param)`), in one pass over its lines.
    /// Parsing a reply does none of this: only a reply known to answer EHLO is read here.
    pub fn from_reply(reply: &Reply<B>) -> Result<Capabilities<B>, ReplyError> {
        if reply.code().get() != 250 {
            return Err(ReplyError::NotEhlo);
        }
        let lines = reply.raw_lines().clone();
        let summary = Summary::of(&lines);
        Ok(Capabilities { lines, summary })
    }

    /// The reply to send: 250, first line the domain, one line per extension.
    pub fn to_reply(&self) -> Reply<B> {
        Reply::from_lines(Code::OK, None, self.lines.clone())
    }

    /// Whether an extension is advertised.
    pub fn has(&self, extension: Extension) -> bool {
        self.summary.has(extension)
    }

    /// The SIZE limit: `None` without SIZE, `Some(0)` for SIZE without a fixed limit (RFC 1870).
    pub fn size(&self) -> Option<u64> {
        self.has(Extension::Size).then_some(self.summary.size)
    }

    /// The first line: the server's domain and its greeting text.
    pub fn greeting(&self) -> &[u8] {
        self.lines.iter(None).next().unwrap_or_default()
    }

    /// The AUTH mechanisms, in the order advertised (none without AUTH).
    pub fn auth_mechanisms(&self) -> AuthMechanisms<'_> {
        let summary = &self.summary;
        let list = match self.has(Extension::Auth) {
            true => {
                let start = summary.auth_start as usize;
                self.lines
                    .raw()
                    .get(start..start + usize::from(summary.auth_len))
                    .unwrap_or_default()
            }
            false => &[],
        };
        AuthMechanisms { rest: list }
    }

    /// Whether AUTH lists `mechanism`.
    pub fn supports_auth(&self, mechanism: &Mechanism) -> bool {
        self.has(Extension::Auth) && self.auth_mechanisms().any(|m| m == *mechanism)
    }

    /// Every advertised extension, in order.
    pub fn iter(&self) -> impl Iterator<Item = Capability<'_>> {
        self.extension_lines().map(|line| match classify(line) {
            Some((extension, _)) => Capability::Known(extension),
            None => {
                let (keyword, params) = split_keyword(line);
                Capability::Other { keyword, params }
            }
        })
    }

    /// The extensions this crate has no type for, as `(keyword, params)`.
    pub fn others(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.iter().filter_map(|c| match c {
            Capability::Other { keyword, params } => Some((keyword, params)),
            Capability::Known(_) => None,
        })
    }

    fn extension_lines(&self) -> core::iter::Skip<ReplyLines<'_>> {
        self.lines.iter(None).skip(1)
    }
}

impl<B: Storage> PartialEq for Capabilities<B> {
    fn eq(&self, other: &Capabilities<B>) -> bool {
        self.summary.flags == other.summary.flags
            && self.size() == other.size()
            && self.greeting() == other.greeting()
            && self.auth_mechanisms().eq(other.auth_mechanisms())
            && self.others().eq(other.others())
    }
}

impl<B: Storage> Eq for Capabilities<B> {}

impl<B: Storage> fmt::Debug for Capabilities<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.lines
                    .iter(None)
                    .map(alloc::string::String::from_utf8_lossy),
            )
            .finish()
    }
}

/// The mechanisms of an AUTH line, in order; names that are not valid are skipped.
#[derive(Debug, Clone)]
pub struct AuthMechanisms<'a> {
    rest: &'a [u8],
}

impl Iterator for AuthMechanisms<'_> {
    type Item = Mechanism;

    fn next(&mut self) -> Option<Mechanism> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (name, rest) = split_keyword(self.rest);
            self.rest = rest;
            if let Ok(mechanism) = Mechanism::parse(name) {
                return Some(mechanism);
            }
        }
    }
}
