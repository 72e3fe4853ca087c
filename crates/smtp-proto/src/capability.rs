//! EHLO keywords (RFC 5321 section 4.1.1.1): the service extensions a server advertises,
//! typed for the ones this crate knows, kept as sent for the others.

use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::address::Domain;
use crate::auth::Mechanism;
use crate::error::{ReplyError, ValueError};
use crate::reply::{Code, Lines, Reply, ReplyLines};
use crate::syntax::{self, LDH};

/// A service extension this crate has a name for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
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
    pub fn from_keyword(keyword: &[u8]) -> Option<Extension> {
        // Dispatch on length and first octet, then confirm the whole keyword.
        let first = keyword.first()?.to_ascii_uppercase();
        let extension = match (keyword.len(), first) {
            (4, b'S') => Extension::Size,
            (4, b'A') => Extension::Auth,
            (10, b'P') => Extension::Pipelining,
            (8, b'8') => Extension::EightBitMime,
            (8, b'S') if keyword[1].eq_ignore_ascii_case(&b'M') => Extension::SmtpUtf8,
            (8, b'S') => Extension::StartTls,
            (8, b'C') => Extension::Chunking,
            (10, b'B') => Extension::BinaryMime,
            (3, b'D') => Extension::Dsn,
            (19, b'E') => Extension::EnhancedStatusCodes,
            (10, b'R') => Extension::RequireTls,
            _ => return None,
        };
        extension
            .keyword()
            .as_bytes()
            .eq_ignore_ascii_case(keyword)
            .then_some(extension)
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
    match memchr::memchr(b' ', line) {
        Some(sp) => (&line[..sp], &line[sp + 1..]),
        None => (line, &[]),
    }
}

/// The keyword's extension, if known and its parameters are well formed (others are kept as
/// unknown lines).
fn classify(line: &[u8]) -> Option<(Extension, &[u8])> {
    let (keyword, params) = split_keyword(line);
    let extension = Extension::from_keyword(keyword)?;
    let well_formed = match extension {
        Extension::Size => params.is_empty() || syntax::parse_u64(params).is_some(),
        Extension::Auth => true,
        _ => params.is_empty(),
    };
    well_formed.then_some((extension, params))
}

/// The service extensions of an EHLO reply: kept as the reply's lines (no copy), with the
/// known keywords and the SIZE limit read once. Two values are equal when they advertise the
/// same things.
#[derive(Clone)]
pub struct Capabilities {
    lines: Lines,
    flags: u16,
    size: Option<u64>,
}

impl Capabilities {
    /// Reads the extensions of a 250 reply to EHLO (RFC 5321 section 4.1.1.1: the first line
    /// names the server, each other line is `keyword *(SP param)`).
    pub fn from_reply(reply: &Reply) -> Result<Capabilities, ReplyError> {
        if reply.code().get() != 250 {
            return Err(ReplyError::NotEhlo);
        }
        let lines = reply.raw_lines().clone();
        let (flags, size) = scan(lines.iter(None));
        Ok(Capabilities { lines, flags, size })
    }

    /// No extension yet; the first line of the reply is `domain`.
    pub fn new(domain: &Domain) -> Capabilities {
        Capabilities {
            lines: Lines::plain(Bytes::copy_from_slice(domain.as_bytes()), 1),
            flags: 0,
            size: None,
        }
    }

    /// The reply to send: 250, first line the domain, one line per extension.
    pub fn to_reply(&self) -> Reply {
        Reply::from_lines(Code::OK, None, self.lines.clone())
    }

    /// Whether an extension is advertised.
    pub fn has(&self, extension: Extension) -> bool {
        self.flags & extension as u16 != 0
    }

    /// The SIZE limit: `None` without SIZE, `Some(0)` for SIZE without a fixed limit (RFC 1870).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The first line: the server's domain and its greeting text.
    pub fn greeting(&self) -> &[u8] {
        self.lines.iter(None).next().unwrap_or_default()
    }

    /// The AUTH mechanisms, in the order advertised (none without AUTH).
    pub fn auth_mechanisms(&self) -> AuthMechanisms<'_> {
        let list = self
            .extension_lines()
            .find_map(|line| {
                classify(line)
                    .filter(|(e, _)| *e == Extension::Auth)
                    .map(|(_, params)| params)
            })
            .unwrap_or_default();
        AuthMechanisms {
            source: self.lines.raw(),
            rest: list,
        }
    }

    /// Whether AUTH lists `mechanism`.
    pub fn supports_auth(&self, mechanism: &Mechanism) -> bool {
        self.has(Extension::Auth) && self.auth_mechanisms().any(|m| &m == mechanism)
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
            syntax::put_u64(&mut line, limit);
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
            line.extend_from_slice(mechanism.name());
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
            return Err(ValueError::Syntax("not an ehlo-keyword"));
        }
        if Extension::from_keyword(keyword).is_some() {
            return Err(ValueError::Syntax("keyword has a typed setter"));
        }
        if let Some(byte) = syntax::forbidden_byte(params.as_bytes()) {
            return Err(ValueError::ForbiddenByte(byte));
        }
        // ehlo-param = 1*(%d33-126), separated by single spaces.
        if !params.is_empty()
            && !params
                .split(' ')
                .all(|p| !p.is_empty() && p.bytes().all(|b| (33..=126).contains(&b)))
        {
            return Err(ValueError::Syntax("not ehlo-params"));
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
        let (flags, size) = scan(self.lines.iter(None));
        self.flags = flags;
        self.size = size;
    }
}

fn scan(lines: ReplyLines<'_>) -> (u16, Option<u64>) {
    let mut flags = 0u16;
    let mut size = None;
    for line in lines.skip(1) {
        if let Some((extension, params)) = classify(line) {
            flags |= extension as u16;
            if extension == Extension::Size {
                size = Some(syntax::parse_u64(params).unwrap_or(0));
            }
        }
    }
    (flags, size)
}

impl PartialEq for Capabilities {
    fn eq(&self, other: &Capabilities) -> bool {
        self.flags == other.flags
            && self.size == other.size
            && self.greeting() == other.greeting()
            && self.auth_mechanisms().eq(other.auth_mechanisms())
            && self.others().eq(other.others())
    }
}

impl Eq for Capabilities {}

impl fmt::Debug for Capabilities {
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
    source: &'a Bytes,
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
            if let Some(mechanism) = Mechanism::parse(self.source, name) {
                return Some(mechanism);
            }
        }
    }
}
