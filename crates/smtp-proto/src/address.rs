//! Addresses: domains and address literals, mailboxes, reverse-paths and forward-paths
//! (RFC 5321 section 4.1.2), with UTF-8 mailboxes where SMTPUTF8 allows them (RFC 6531 section 3.3).
//!
//! Parsed values are slices of the command line (`Bytes`), checked once; the accessors
//! that split them (local part, domain, literal) work on demand.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::str::FromStr;
use mail_wire::value::IntoBytes;

use bytes::{BufMut, Bytes, BytesMut};
use nom::branch::alt;
use nom::bytes::complete::{tag, take, take_while1};
use nom::combinator::{opt, recognize, verify};
use nom::multi::many0_count;
use nom::sequence::terminated;
use nom::{IResult, Parser};

use crate::error::AddressError;
use crate::limits;
use crate::storage::{Storage, share};
use crate::syntax::{self, ATEXT, DCONTENT, LDH, QTEXT};

type Res<'a, O> = IResult<&'a [u8], O, ()>;

// The grammar is parsed in UTF-8 mode throughout (RFC 6531 section 3.3 extends `atext`,
// `qtextSMTP` and `sub-domain` with UTF8-non-ascii); whether 8-bit octets are allowed
// and well-formed is checked once afterwards, which gives a precise error.

fn atom(i: &[u8]) -> Res<'_, &[u8]> {
    take_while1(|b| syntax::is_or_utf8(b, ATEXT, true))(i)
}

/// `Dot-string = Atom *("." Atom)`.
fn dot_string(i: &[u8]) -> Res<'_, &[u8]> {
    recognize((atom, many0_count((tag(&b"."[..]), atom)))).parse(i)
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`; `quoted-pairSMTP = %d92 %d32-126`.
fn quoted_string(i: &[u8]) -> Res<'_, &[u8]> {
    let qtext = take_while1(|b| syntax::is_or_utf8(b, QTEXT, true));
    let quoted_pair = recognize((
        tag(&b"\\"[..]),
        verify(take(1usize), |c: &[u8]| matches!(c[0], 32..=126)),
    ));
    recognize((
        tag(&b"\""[..]),
        many0_count(alt((qtext, quoted_pair))),
        tag(&b"\""[..]),
    ))
    .parse(i)
}

/// `sub-domain = Let-dig [Ldh-str]` (a U-label in UTF-8 mode).
fn sub_domain(i: &[u8]) -> Res<'_, &[u8]> {
    verify(
        take_while1(|b| syntax::is_or_utf8(b, LDH, true)),
        |s: &[u8]| s[0] != b'-' && s[s.len() - 1] != b'-',
    )
    .parse(i)
}

/// `Domain = sub-domain *("." sub-domain)`.
fn domain_name(i: &[u8]) -> Res<'_, &[u8]> {
    recognize((sub_domain, many0_count((tag(&b"."[..]), sub_domain)))).parse(i)
}

/// `address-literal = "[" ( IPv4 / IPv6 / General-address-literal ) "]"`; the content is
/// checked by [`literal_of`].
fn address_literal(i: &[u8]) -> Res<'_, &[u8]> {
    verify(
        recognize((
            tag(&b"["[..]),
            take_while1(|b| syntax::is(b, DCONTENT)),
            tag(&b"]"[..]),
        )),
        |s: &[u8]| literal_of(s).is_some(),
    )
    .parse(i)
}

fn domain(i: &[u8]) -> Res<'_, &[u8]> {
    alt((address_literal, domain_name)).parse(i)
}

/// `Mailbox = Local-part "@" ( Domain / address-literal )`; gives the mailbox and the
/// length of its local part.
fn mailbox(i: &[u8]) -> Res<'_, (&[u8], usize)> {
    let (rest, (local, _, _)) =
        (alt((dot_string, quoted_string)), tag(&b"@"[..]), domain).parse(i)?;
    Ok((rest, (&i[..i.len() - rest.len()], local.len())))
}

/// `A-d-l = At-domain *( "," At-domain )`: a source route, parsed and ignored
/// (RFC 5321 section 4.1.2 and appendix C).
fn source_route(i: &[u8]) -> Res<'_, &[u8]> {
    let at_domain = |i| (tag(&b"@"[..]), domain).parse(i);
    recognize((at_domain, many0_count((tag(&b","[..]), at_domain)))).parse(i)
}

/// `Path = "<" [ A-d-l ":" ] Mailbox ">"`.
fn path(i: &[u8]) -> Res<'_, (&[u8], usize)> {
    let (rest, (_, _, mailbox, _)) = (
        tag(&b"<"[..]),
        opt(terminated(source_route, tag(&b":"[..]))),
        mailbox,
        tag(&b">"[..]),
    )
        .parse(i)?;
    Ok((rest, mailbox))
}

/// Fast path for the common mailbox, `Dot-string "@" Domain` with a domain name: one
/// table-driven pass. Gives the mailbox length and the index of its `@` when the input starts
/// with a well-formed one; `None` sends the caller to the full grammar, which accepts the same
/// mailboxes (and more: quoted local parts, address literals).
#[inline(always)]
fn simple_mailbox(bytes: &[u8]) -> Option<(usize, usize)> {
    // Atoms separated by single dots: a Dot-string neither starts nor ends with a dot.
    let mut i = 0;
    loop {
        let start = i;
        i += run(&bytes[i..], ATEXT);
        if i == start {
            return None;
        }
        match bytes.get(i) {
            Some(b'.') => i += 1,
            Some(b'@') => break,
            _ => return None,
        }
    }
    let domain = simple_domain(&bytes[i + 1..])?;
    Some((i + 1 + domain, i))
}

/// How many octets at the front of `bytes` are in `class`, ASCII only (a non-ASCII octet
/// sends the fast paths' callers to the full grammar, so what the fast paths accept needs no
/// `check_8bit`): an iterator, so no bounds check per octet.
#[inline(always)]
fn run(bytes: &[u8], class: u16) -> usize {
    bytes
        .iter()
        .position(|&b| !syntax::is(b, class))
        .unwrap_or(bytes.len())
}

/// Length of the domain name at the front of `bytes` when its labels are well formed
/// (`sub-domain = Let-dig [Ldh-str]`); `None` otherwise.
#[inline(always)]
fn simple_domain(bytes: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let start = i;
        i += run(&bytes[i..], LDH);
        if i == start || bytes[start] == b'-' || bytes[i - 1] == b'-' {
            return None;
        }
        match bytes.get(i) {
            Some(b'.') => i += 1,
            _ => return Some(i),
        }
    }
}

/// The kind of an address literal's content, `None` when it is malformed.
fn literal_of(literal: &[u8]) -> Option<AddressLiteral<'_>> {
    let inner = literal.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let text = core::str::from_utf8(inner).ok()?;
    if inner.first()?.is_ascii_digit() {
        return Ipv4Addr::from_str(text).ok().map(AddressLiteral::Ipv4);
    }
    let colon = memchr::memchr(b':', inner)?;
    let (tag, content) = (&text[..colon], &text[colon + 1..]);
    if tag.eq_ignore_ascii_case("IPv6") {
        return Ipv6Addr::from_str(content).ok().map(AddressLiteral::Ipv6);
    }
    // General-address-literal = Standardized-tag ":" 1*dcontent; Standardized-tag = Ldh-str.
    let tag_ok = !tag.is_empty()
        && syntax::all(tag.as_bytes(), LDH)
        && !tag.ends_with('-')
        && tag.as_bytes()[0].is_ascii_alphanumeric();
    (tag_ok && !content.is_empty()).then_some(AddressLiteral::General { tag, content })
}

/// Checks the 8-bit octets of an address: refused without SMTPUTF8, else must be UTF-8.
#[inline(always)]
fn check_8bit(bytes: &[u8], utf8: bool) -> Result<(), AddressError> {
    if bytes.is_ascii() {
        Ok(())
    } else if !utf8 {
        Err(AddressError::NonAscii)
    } else if core::str::from_utf8(bytes).is_err() {
        Err(AddressError::InvalidUtf8)
    } else {
        Ok(())
    }
}

/// Why a failed parse failed: the first byte the grammar stopped at tells local part from domain.
fn mailbox_error(i: &[u8]) -> AddressError {
    if i.is_empty() {
        return AddressError::Empty;
    }
    match alt((dot_string, quoted_string)).parse(i) {
        Err(_) => AddressError::LocalPart,
        Ok((rest, _)) => match rest.split_first() {
            Some((b'@', after)) if after.first() == Some(&b'[') => AddressError::AddressLiteral,
            Some((b'@', _)) => AddressError::Domain,
            _ => AddressError::LocalPart,
        },
    }
}

/// An IP or general address literal (RFC 5321 section 4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressLiteral<'a> {
    /// `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a General-address-literal.
    General {
        /// The standardized tag.
        tag: &'a str,
        /// What follows the colon.
        content: &'a str,
    },
}

/// A domain name or an address literal: the argument of HELO/EHLO and the right side of a
/// mailbox (RFC 5321 section 4.1.2 `Domain / address-literal`). Always well formed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Domain<B = Bytes>(B);

impl Domain {
    /// Checks and wraps a domain; UTF-8 U-labels are accepted (the caller uses them only
    /// with SMTPUTF8, RFC 6531).
    pub fn new(domain: impl IntoBytes) -> Result<Domain, AddressError> {
        Domain::parse(domain.into_shared(), true)
    }
}

impl Domain<&[u8]> {
    /// The same domain in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Domain {
        Domain(share(source, self.0))
    }
}

impl<B: Storage> Domain<B> {
    #[inline(always)]
    pub(crate) fn parse(bytes: B, utf8: bool) -> Result<Domain<B>, AddressError> {
        let text: &[u8] = bytes.as_ref();
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        if text.len() > limits::DOMAIN {
            return Err(AddressError::TooLong {
                limit: limits::DOMAIN,
            });
        }
        // The fast path takes ASCII only: what it accepts needs no 8-bit check.
        if simple_domain(text) != Some(text.len()) {
            match domain(text) {
                Ok(([], _)) => {}
                Ok(_) => return Err(AddressError::Trailing),
                Err(_) if text[0] == b'[' => return Err(AddressError::AddressLiteral),
                Err(_) => return Err(AddressError::Domain),
            }
            check_8bit(text, utf8)?;
        }
        Ok(Domain(bytes))
    }

    /// The domain as sent.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The domain as text (always UTF-8, ASCII unless it holds U-labels).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The address literal, when the domain is one.
    pub fn address_literal(&self) -> Option<AddressLiteral<'_>> {
        literal_of(self.as_bytes())
    }

    /// Whether the domain is ASCII only.
    pub fn is_ascii(&self) -> bool {
        self.as_bytes().is_ascii()
    }

    /// Compares domains ignoring ASCII case (domain names are case-insensitive).
    pub fn eq_ignore_ascii_case<C: Storage>(&self, other: &Domain<C>) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
    }
}

impl<B: Storage> fmt::Debug for Domain<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<B: Storage> fmt::Display for Domain<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mailbox `local-part@domain` (RFC 5321 section 4.1.2). The local part is kept as sent
/// (a Dot-string or a Quoted-string); always well formed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Mailbox<B = Bytes> {
    raw: B,
    /// Length of the local part: the `@` is at this index.
    at: usize,
}

impl Mailbox {
    /// Builds a mailbox from an unquoted local part and a domain; the local part is quoted
    /// when it is not a Dot-string. Fails on control characters (they cannot be quoted).
    pub fn new(local_part: &str, domain: &Domain) -> Result<Mailbox, AddressError> {
        let mut raw = BytesMut::with_capacity(local_part.len() + domain.as_bytes().len() + 3);
        let is_dot_string =
            matches!(dot_string(local_part.as_bytes()), Ok((rest, _)) if rest.is_empty());
        if is_dot_string {
            raw.extend_from_slice(local_part.as_bytes());
        } else {
            raw.put_u8(b'"');
            for &b in local_part.as_bytes() {
                match b {
                    b'"' | b'\\' => raw.extend_from_slice(&[b'\\', b]),
                    32..=126 | 0x80.. => raw.put_u8(b),
                    _ => return Err(AddressError::LocalPart),
                }
            }
            raw.put_u8(b'"');
        }
        let at = raw.len();
        if at > limits::LOCAL_PART {
            return Err(AddressError::TooLong {
                limit: limits::LOCAL_PART,
            });
        }
        raw.put_u8(b'@');
        raw.extend_from_slice(domain.as_bytes());
        if raw.len() + 2 > limits::PATH {
            return Err(AddressError::TooLong {
                limit: limits::PATH,
            });
        }
        Ok(Mailbox {
            raw: raw.freeze(),
            at,
        })
    }

    /// Parses a mailbox written without brackets, `local-part@domain`; UTF-8 is accepted.
    /// Takes a `Bytes` without a copy, or borrowed text of any lifetime (copied; see
    /// [`IntoBytes`]); `"jane@example.com".parse::<Mailbox>()` reads the same.
    ///
    /// ```
    /// use smtp_proto::Mailbox;
    ///
    /// let arg = String::from("jane@example.com"); // say, from `std::env::args()`
    /// let mailbox = Mailbox::parse(arg.as_str()).unwrap();
    /// assert_eq!(mailbox.domain_bytes(), b"example.com");
    /// assert_eq!(arg.parse::<Mailbox>().unwrap(), mailbox);
    /// ```
    pub fn parse(mailbox: impl IntoBytes) -> Result<Mailbox, AddressError> {
        let raw = mailbox.into_shared();
        Mailbox::parse_with(&raw, &raw, true, limits::LOCAL_PART)
    }
}

impl Mailbox<&[u8]> {
    /// The same mailbox in shared storage: a slice of `source` when this value was parsed
    /// from it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Mailbox {
        Mailbox {
            raw: share(source, self.raw),
            at: self.at,
        }
    }
}

impl<B: Storage> Mailbox<B> {
    /// Parses `bytes` (a part of `source`) as a whole mailbox.
    pub(crate) fn parse_with(
        source: &B,
        bytes: &[u8],
        utf8: bool,
        local_limit: usize,
    ) -> Result<Mailbox<B>, AddressError> {
        if let Some((len, at)) = simple_mailbox(bytes).filter(|&(len, _)| len == bytes.len()) {
            return Mailbox::checked(source, &bytes[..len], at, utf8, local_limit, true);
        }
        match mailbox(bytes) {
            Ok(([], (raw, at))) => Mailbox::checked(source, raw, at, utf8, local_limit, false),
            Ok(_) => Err(AddressError::Trailing),
            Err(_) => Err(mailbox_error(bytes)),
        }
    }

    /// The mailbox `raw` (a part of `source`, its `@` at `at`) once its lengths and 8-bit
    /// octets are checked; `ascii` when the fast path read it (ASCII only, see [`run`]).
    #[inline(always)]
    fn checked(
        source: &B,
        raw: &[u8],
        at: usize,
        utf8: bool,
        local_limit: usize,
        ascii: bool,
    ) -> Result<Mailbox<B>, AddressError> {
        if at > local_limit {
            return Err(AddressError::TooLong { limit: local_limit });
        }
        if raw.len() - at - 1 > limits::DOMAIN {
            return Err(AddressError::TooLong {
                limit: limits::DOMAIN,
            });
        }
        if !ascii {
            check_8bit(raw, utf8)?;
        }
        Ok(Mailbox {
            raw: source.slice_of(raw),
            at,
        })
    }

    /// The mailbox as sent, `local-part@domain`.
    pub fn as_bytes(&self) -> &[u8] {
        self.raw.as_ref()
    }

    /// The mailbox as text (always UTF-8).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The local part as sent (quotes and backslashes included, when quoted).
    pub fn local_part(&self) -> &[u8] {
        self.as_bytes().get(..self.at).unwrap_or_default()
    }

    /// The local part with quoting removed (RFC 5321 section 4.1.2: `"a b"` and `a\ b` name
    /// the same mailbox as the unquoted text). Borrowed unless it was quoted.
    pub fn local_part_unquoted(&self) -> Cow<'_, [u8]> {
        let local = self.local_part();
        match local
            .strip_prefix(b"\"")
            .and_then(|l| l.strip_suffix(b"\""))
        {
            None => Cow::Borrowed(local),
            Some(inner) => {
                let mut out = Vec::with_capacity(inner.len());
                let mut escaped = false;
                for &b in inner {
                    if b == b'\\' && !escaped {
                        escaped = true;
                    } else {
                        out.push(b);
                        escaped = false;
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// The domain (a slice of the same buffer: a reference count with `Bytes`, no copy).
    pub fn domain(&self) -> Domain<B> {
        Domain(self.raw.slice_range(self.at + 1, self.as_bytes().len()))
    }

    /// The domain as sent.
    pub fn domain_bytes(&self) -> &[u8] {
        self.as_bytes().get(self.at + 1..).unwrap_or_default()
    }

    /// Whether the mailbox is ASCII only (else it needs SMTPUTF8).
    pub fn is_ascii(&self) -> bool {
        self.as_bytes().is_ascii()
    }

    pub(crate) fn write_path(&self, out: &mut BytesMut) {
        let raw = self.as_bytes();
        out.reserve(raw.len() + 2);
        out.put_u8(b'<');
        out.extend_from_slice(raw);
        out.put_u8(b'>');
    }
}

impl<B: Storage> fmt::Debug for Mailbox<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<B: Storage> fmt::Display for Mailbox<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The argument of MAIL FROM: a mailbox, or `<>` for bounces (RFC 5321 section 4.1.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath<B: Storage = Bytes> {
    /// `<>`: the null reverse-path of notifications (RFC 5321 section 4.5.5).
    Null,
    /// A sender mailbox.
    Mailbox(Mailbox<B>),
}

/// The argument of RCPT TO: a mailbox, or the bare `<Postmaster>` every server accepts
/// (RFC 5321 section 4.1.1.3 and 4.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath<B: Storage = Bytes> {
    /// `<Postmaster>` without a domain (any case).
    Postmaster,
    /// A recipient mailbox.
    Mailbox(Mailbox<B>),
}

impl ReversePath<&[u8]> {
    /// The same path in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> ReversePath {
        match self {
            ReversePath::Null => ReversePath::Null,
            ReversePath::Mailbox(m) => ReversePath::Mailbox(m.to_shared(source)),
        }
    }
}

impl ForwardPath<&[u8]> {
    /// The same path in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> ForwardPath {
        match self {
            ForwardPath::Postmaster => ForwardPath::Postmaster,
            ForwardPath::Mailbox(m) => ForwardPath::Mailbox(m.to_shared(source)),
        }
    }
}

impl<B: Storage> ReversePath<B> {
    /// The mailbox, unless the path is null.
    pub fn mailbox(&self) -> Option<&Mailbox<B>> {
        match self {
            ReversePath::Null => None,
            ReversePath::Mailbox(m) => Some(m),
        }
    }

    /// Writes the path with its angle brackets.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            ReversePath::Null => out.extend_from_slice(b"<>"),
            ReversePath::Mailbox(m) => m.write_path(out),
        }
    }
}

impl<B: Storage> ForwardPath<B> {
    /// Whether mail to this recipient is for `domain`: its mailbox's domain is `domain`
    /// (ASCII case ignored), or it is the bare `<Postmaster>`, which names the server it is
    /// sent to (RFC 5321 section 4.5.1). The check of a server that is no open relay: other
    /// recipients get [`Reply::relay_denied`](crate::Reply::relay_denied) unless the client
    /// may relay (ARCHITECTURE.md security invariant 8).
    ///
    /// ```
    /// use smtp_proto::{Domain, ForwardPath};
    ///
    /// let ours = Domain::new("example.org").unwrap();
    /// let to = |text: &str| text.parse::<ForwardPath>().unwrap();
    /// assert!(to("joe@Example.ORG").is_for_domain(&ours));
    /// assert!(to("Postmaster").is_for_domain(&ours));
    /// assert!(!to("joe@example.org.evil.test").is_for_domain(&ours));
    /// ```
    pub fn is_for_domain<C: Storage>(&self, domain: &Domain<C>) -> bool {
        match self {
            ForwardPath::Postmaster => true,
            ForwardPath::Mailbox(m) => m.domain_bytes().eq_ignore_ascii_case(domain.as_bytes()),
        }
    }

    /// The mailbox, unless the path is the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox<B>> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Mailbox(m) => Some(m),
        }
    }

    /// Writes the path with its angle brackets.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            ForwardPath::Postmaster => out.extend_from_slice(b"<Postmaster>"),
            ForwardPath::Mailbox(m) => m.write_path(out),
        }
    }
}

/// Reads a domain as typed (UTF-8 U-labels accepted), copying it: `"example.org".parse()`.
impl core::str::FromStr for Domain {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Domain, AddressError> {
        Domain::new(text)
    }
}

/// Reads a mailbox as typed, `local-part@domain`, without brackets (a config file, a command
/// line), copying it: `"jane@example.com".parse()`.
impl core::str::FromStr for Mailbox {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<Mailbox, AddressError> {
        Mailbox::parse(text)
    }
}

/// Strips one pair of angle brackets, when the text has them.
fn unbracket(text: &str) -> &str {
    text.strip_prefix('<')
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(text)
}

/// Reads a sender as typed: `<>` (or nothing) for the null path, else a mailbox with or
/// without its angle brackets (RFC 5321 section 4.1.2). Copies the text.
///
/// ```
/// use smtp_proto::ReversePath;
///
/// let from: ReversePath = "jane@example.com".parse().unwrap();
/// assert_eq!(from.to_string(), "<jane@example.com>");
/// assert_eq!("<>".parse::<ReversePath>().unwrap(), ReversePath::Null);
/// ```
impl core::str::FromStr for ReversePath {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<ReversePath, AddressError> {
        match unbracket(text) {
            "" => Ok(ReversePath::Null),
            mailbox => Mailbox::parse(mailbox).map(ReversePath::Mailbox),
        }
    }
}

/// Reads a recipient as typed: a mailbox with or without its angle brackets, or the bare
/// `Postmaster` (any case, RFC 5321 section 4.5.1). Copies the text.
///
/// ```
/// use smtp_proto::ForwardPath;
///
/// let to: ForwardPath = "<joe@example.org>".parse().unwrap();
/// assert_eq!(to.mailbox().unwrap().domain_bytes(), b"example.org");
/// assert_eq!(to.to_string(), "<joe@example.org>");
/// assert_eq!("postmaster".parse::<ForwardPath>().unwrap(), ForwardPath::Postmaster);
/// ```
impl core::str::FromStr for ForwardPath {
    type Err = AddressError;

    fn from_str(text: &str) -> Result<ForwardPath, AddressError> {
        match unbracket(text) {
            "" => Err(AddressError::Empty),
            postmaster if postmaster.eq_ignore_ascii_case("postmaster") => {
                Ok(ForwardPath::Postmaster)
            }
            mailbox => Mailbox::parse(mailbox).map(ForwardPath::Mailbox),
        }
    }
}

/// The path as sent, with its angle brackets: `<>`, `<jane@example.com>`.
impl<B: Storage> fmt::Display for ReversePath<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// The path as sent, with its angle brackets: `<Postmaster>`, `<joe@example.org>`.
impl<B: Storage> fmt::Display for ForwardPath<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Mailbox(m) => write!(f, "<{m}>"),
        }
    }
}

/// How to read a path: what the parse options allow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathRules {
    pub(crate) utf8: bool,
    pub(crate) bare_address: bool,
    pub(crate) local_part_limit: usize,
}

/// What a path parse found: the null path, `<Postmaster>`, or a mailbox.
pub(crate) enum ParsedPath<B> {
    Null,
    Postmaster,
    Mailbox(Mailbox<B>),
}

/// Parses a path at the front of `bytes` (a part of `source`); gives it and the rest of the line.
#[inline(always)]
pub(crate) fn parse_path<'a, B: Storage>(
    source: &B,
    bytes: &'a [u8],
    rules: PathRules,
) -> Result<(ParsedPath<B>, &'a [u8]), AddressError> {
    match bytes {
        [b'<', b'>', rest @ ..] => return Ok((ParsedPath::Null, rest)),
        [b'<', ..] => {}
        [] => return Err(AddressError::Empty),
        _ if rules.bare_address => {
            let end = memchr::memchr(b' ', bytes).unwrap_or(bytes.len());
            // The limit counts the brackets the path is written with (RFC 5321 section
            // 4.5.3.1.3): the same address must not pass bare and fail bracketed.
            if end + 2 > limits::PATH {
                return Err(AddressError::TooLong {
                    limit: limits::PATH,
                });
            }
            let mailbox = Mailbox::parse_with(source, &bytes[..end], true, rules.local_part_limit)?;
            check_8bit(mailbox.as_bytes(), rules.utf8)?;
            return Ok((ParsedPath::Mailbox(mailbox), &bytes[end..]));
        }
        _ => return Err(AddressError::MissingBrackets),
    }
    if let Some((len, at)) = simple_mailbox(&bytes[1..]) {
        if bytes.get(len + 1) == Some(&b'>') {
            if len + 2 > limits::PATH {
                return Err(AddressError::TooLong {
                    limit: limits::PATH,
                });
            }
            let mailbox = Mailbox::checked(
                source,
                &bytes[1..len + 1],
                at,
                rules.utf8,
                rules.local_part_limit,
                true,
            )?;
            return Ok((ParsedPath::Mailbox(mailbox), &bytes[len + 2..]));
        }
    }
    if let Some(rest) = postmaster(bytes) {
        return Ok((ParsedPath::Postmaster, rest));
    }
    match path(bytes) {
        Ok((rest, (raw, at))) => {
            if bytes.len() - rest.len() > limits::PATH {
                return Err(AddressError::TooLong {
                    limit: limits::PATH,
                });
            }
            let mailbox =
                Mailbox::checked(source, raw, at, rules.utf8, rules.local_part_limit, false)?;
            Ok((ParsedPath::Mailbox(mailbox), rest))
        }
        Err(_) => Err(path_error(&bytes[1..])),
    }
}

fn postmaster(bytes: &[u8]) -> Option<&[u8]> {
    let head = bytes.get(..12)?;
    (head[1..11].eq_ignore_ascii_case(b"postmaster") && head[11] == b'>').then(|| &bytes[12..])
}

fn path_error(inner: &[u8]) -> AddressError {
    if inner.first() == Some(&b'@') {
        return match terminated(source_route, tag(&b":"[..])).parse(inner) {
            Ok((rest, _)) => mailbox_error(rest),
            Err(_) => AddressError::SourceRoute,
        };
    }
    match mailbox(inner) {
        // The mailbox ends where the line does: the closing bracket is missing.
        Ok((rest, _)) if rest.is_empty() || rest[0] == b' ' => AddressError::MissingBrackets,
        // The domain stops at a byte it cannot hold.
        Ok(_) => AddressError::Domain,
        Err(_) => mailbox_error(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(utf8: bool) -> PathRules {
        PathRules {
            utf8,
            bare_address: false,
            local_part_limit: limits::LOCAL_PART,
        }
    }

    fn path_of(
        text: &'static str,
        utf8: bool,
    ) -> Result<(ParsedPath<Bytes>, &'static [u8]), AddressError> {
        let source = Bytes::from_static(text.as_bytes());
        parse_path(&source, text.as_bytes(), rules(utf8))
    }

    fn mailbox_of(text: &'static str) -> Mailbox {
        match path_of(text, true) {
            Ok((ParsedPath::Mailbox(m), [])) => m,
            _ => panic!("not a mailbox path: {text}"),
        }
    }

    #[test]
    fn rfc5321_path_forms() {
        let m = mailbox_of("<Smith@bar.com>");
        assert_eq!(m.local_part(), b"Smith");
        assert_eq!(m.domain_bytes(), b"bar.com");
        assert!(matches!(path_of("<>", false), Ok((ParsedPath::Null, b""))));
        assert!(matches!(
            path_of("<Postmaster> X", false),
            Ok((ParsedPath::Postmaster, b" X"))
        ));
        assert!(matches!(
            path_of("<postMASTER>", false),
            Ok((ParsedPath::Postmaster, b""))
        ));
        // Source routes are parsed and ignored (RFC 5321 section 4.1.2, appendix C).
        let m = mailbox_of("<@hosta.int,@jkl.org:userc@d.bar.org>");
        assert_eq!(m.as_bytes(), b"userc@d.bar.org");
        let m = mailbox_of("<\"John \\\"Q\\\" Public\"@example.com>");
        assert_eq!(&*m.local_part_unquoted(), b"John \"Q\" Public");
        let m = mailbox_of("<user@[192.0.2.1]>");
        assert_eq!(
            m.domain().address_literal(),
            Some(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        let m = mailbox_of("<user@[IPv6:2001:db8::1]>");
        assert!(matches!(
            m.domain().address_literal(),
            Some(AddressLiteral::Ipv6(_))
        ));
        let m = mailbox_of("<user@[x-tag:abc]>");
        assert!(matches!(
            m.domain().address_literal(),
            Some(AddressLiteral::General { tag: "x-tag", .. })
        ));
    }

    #[test]
    fn bad_paths_give_typed_errors() {
        assert_eq!(
            path_of("user@example.com", false).err(),
            Some(AddressError::MissingBrackets)
        );
        assert_eq!(
            path_of("<user@example.com", false).err(),
            Some(AddressError::MissingBrackets)
        );
        assert_eq!(
            path_of("<us..er@example.com>", false).err(),
            Some(AddressError::LocalPart)
        );
        assert_eq!(
            path_of("<user@-example.com>", false).err(),
            Some(AddressError::Domain)
        );
        assert_eq!(
            path_of("<user@exa_mple.com>", false).err(),
            Some(AddressError::Domain)
        );
        assert_eq!(
            path_of("<user@[300.1.1.1]>", false).err(),
            Some(AddressError::AddressLiteral)
        );
        assert_eq!(
            path_of("<@a,b:user@c.d>", false).err(),
            Some(AddressError::SourceRoute)
        );
        assert_eq!(
            path_of("<userexample.com>", false).err(),
            Some(AddressError::LocalPart)
        );
        assert_eq!(path_of("", false).err(), Some(AddressError::Empty));
        assert_eq!(
            path_of("<j\u{f6}rg@example.com>", false).err(),
            Some(AddressError::NonAscii)
        );
        assert!(path_of("<j\u{f6}rg@b\u{fc}cher.example>", true).is_ok());
        let long = alloc::format!("<{}@example.com>", "a".repeat(65));
        let source = Bytes::from(long);
        assert_eq!(
            parse_path(&source, &source, rules(false)).err(),
            Some(AddressError::TooLong {
                limit: limits::LOCAL_PART
            })
        );
    }

    #[test]
    fn invalid_utf8_is_refused_even_with_smtputf8() {
        let source = Bytes::from_static(b"<j\xffrg@example.com>");
        assert_eq!(
            parse_path(&source, &source, rules(true)).err(),
            Some(AddressError::InvalidUtf8)
        );
    }

    #[test]
    fn mailbox_new_quotes_when_needed() {
        let domain = Domain::new("example.com").unwrap();
        assert_eq!(
            Mailbox::new("john.doe", &domain).unwrap().as_bytes(),
            b"john.doe@example.com"
        );
        let m = Mailbox::new("john doe\"x", &domain).unwrap();
        assert_eq!(m.as_bytes(), b"\"john doe\\\"x\"@example.com");
        assert_eq!(&*m.local_part_unquoted(), b"john doe\"x");
        assert_eq!(
            Mailbox::new("a\r\nRSET", &domain),
            Err(AddressError::LocalPart)
        );
        assert_eq!(Domain::new("exa\r\nmple.com"), Err(AddressError::Trailing));
        assert_eq!(Domain::new("a..b"), Err(AddressError::Trailing));
        assert_eq!(Domain::new(""), Err(AddressError::Empty));
    }
}
