//! MAIL and RCPT parameters (RFC 5321 section 4.1.2 `Mail-parameters`/`Rcpt-parameters`):
//! the ones of the extensions this crate knows, typed; the others kept, not dropped.

use alloc::vec::Vec;
use core::fmt;
use mail_wire::value::IntoBytes;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::decimal;

use crate::error::{CommandError, ValueError};
use crate::limits;
use crate::storage::{Storage, share};
use crate::syntax::{self, ESMTP_VALUE, LDH, XCHAR};

/// The BODY parameter (RFC 6152 section 2, RFC 3030 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyType {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BODY=BINARYMIME` (RFC 3030; needs BDAT).
    BinaryMime,
}

impl BodyType {
    fn keyword(self) -> &'static [u8] {
        match self {
            BodyType::SevenBit => b"7BIT",
            BodyType::EightBitMime => b"8BITMIME",
            BodyType::BinaryMime => b"BINARYMIME",
        }
    }
}

/// The RET parameter of DSN (RFC 3461 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: return the whole message in a failure DSN.
    Full,
    /// `RET=HDRS`: return the headers only.
    Headers,
}

/// The NOTIFY parameter of DSN (RFC 3461 section 4.1): `NEVER`, or a set of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// Notify on success.
    pub success: bool,
    /// Notify on failure.
    pub failure: bool,
    /// Notify on delay.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };

    /// Whether this is `NEVER`.
    pub const fn is_never(self) -> bool {
        !self.success && !self.failure && !self.delay
    }
}

/// A value in xtext form (RFC 3461 section 4): printable ASCII with `+XX` hex escapes.
/// Always well formed; [`XText::decode`] gives the octets it stands for.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct XText<B = Bytes>(B);

impl XText {
    /// Checks a value already in xtext form.
    pub fn new(encoded: impl IntoBytes) -> Result<XText, ValueError> {
        let encoded = encoded.into_shared();
        if let Some(byte) = syntax::forbidden_byte(&encoded) {
            return Err(ValueError::ForbiddenOctet {
                what: "xtext",
                octet: byte,
            });
        }
        if is_xtext(&encoded) {
            Ok(XText(encoded))
        } else {
            Err(ValueError::Malformed { what: "xtext" })
        }
    }

    /// Encodes any octets as xtext (`+`, `=`, controls, space and 8-bit octets escaped).
    pub fn encode(raw: &[u8]) -> XText {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = BytesMut::with_capacity(raw.len());
        for &b in raw {
            if syntax::is(b, XCHAR) {
                out.put_u8(b);
            } else {
                out.extend_from_slice(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        XText(out.freeze())
    }
}

impl XText<&[u8]> {
    /// The same value in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> XText {
        XText(share(source, self.0))
    }
}

impl<B: Storage> XText<B> {
    /// The xtext form, as sent.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }

    /// The octets the xtext stands for.
    pub fn decode(&self) -> Vec<u8> {
        let text = self.as_bytes();
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            match (text[i], text.get(i + 1), text.get(i + 2)) {
                (b'+', Some(&high), Some(&low)) => {
                    out.push(hex(high) << 4 | hex(low));
                    i += 3;
                }
                (byte, _, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        out
    }
}

fn hex(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => digit - b'A' + 10,
    }
}

/// `xtext = *( xchar / hexchar )`, `hexchar = "+" 2(DIGIT / "A".."F")`.
fn is_xtext(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let upper_hex = |b: Option<&u8>| matches!(b, Some(b'0'..=b'9' | b'A'..=b'F'));
                if !upper_hex(bytes.get(i + 1)) || !upper_hex(bytes.get(i + 2)) {
                    return false;
                }
                i += 3;
            }
            b if syntax::is(b, XCHAR) => i += 1,
            _ => return false,
        }
    }
    true
}

impl<B: Storage> fmt::Debug for XText<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&alloc::string::String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// The ORCPT parameter (RFC 3461 section 4.2): `addr-type ";" xtext`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient<B = Bytes> {
    raw: B,
    semicolon: usize,
}

impl OriginalRecipient {
    /// Builds `addr_type;address`, the address encoded as xtext (e.g. `rfc822`, `user@example.com`).
    pub fn new(addr_type: &str, address: &[u8]) -> Result<OriginalRecipient, ValueError> {
        if !is_atom(addr_type.as_bytes()) {
            return Err(ValueError::Malformed {
                what: "ORCPT address type",
            });
        }
        let address = XText::encode(address);
        let mut raw = BytesMut::with_capacity(addr_type.len() + 1 + address.0.len());
        raw.extend_from_slice(addr_type.as_bytes());
        raw.put_u8(b';');
        raw.extend_from_slice(&address.0);
        if raw.len() > limits::ORCPT {
            return Err(ValueError::TooLong {
                what: "ORCPT",
                limit: limits::ORCPT,
            });
        }
        Ok(OriginalRecipient {
            raw: raw.freeze(),
            semicolon: addr_type.len(),
        })
    }
}

impl OriginalRecipient<&[u8]> {
    /// The same value in shared storage: a slice of `source` when this value was parsed from
    /// it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> OriginalRecipient {
        OriginalRecipient {
            raw: share(source, self.raw),
            semicolon: self.semicolon,
        }
    }
}

impl<B: Storage> OriginalRecipient<B> {
    /// The address type, e.g. `rfc822` (compared case-insensitively, RFC 3461 section 4.2).
    pub fn addr_type(&self) -> &[u8] {
        self.raw.as_ref().get(..self.semicolon).unwrap_or_default()
    }

    /// The original address, still in xtext form.
    pub fn address(&self) -> XText<B> {
        XText(
            self.raw
                .slice_range(self.semicolon + 1, self.raw.as_ref().len()),
        )
    }
}

impl<B: Storage> fmt::Debug for OriginalRecipient<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(
            &alloc::string::String::from_utf8_lossy(self.raw.as_ref()),
            f,
        )
    }
}

fn is_atom(bytes: &[u8]) -> bool {
    !bytes.is_empty() && syntax::all(bytes, syntax::ATEXT)
}

/// An ESMTP parameter this crate has no type for, `keyword[=value]`, as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EsmtpParam<'a> {
    /// The keyword (`esmtp-keyword`; compare ignoring ASCII case).
    pub keyword: &'a [u8],
    /// The value, when there is one.
    pub value: Option<&'a [u8]>,
}

/// Which command the parameters belong to: it decides which keywords are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Mail,
    Rcpt,
}

fn is_known(owner: Owner, keyword: &[u8]) -> bool {
    let known: &[&[u8]] = match owner {
        Owner::Mail => &[
            b"SIZE",
            b"BODY",
            b"SMTPUTF8",
            b"RET",
            b"ENVID",
            b"AUTH",
            b"REQUIRETLS",
        ],
        Owner::Rcpt => &[b"NOTIFY", b"ORCPT"],
    };
    known.iter().any(|k| k.eq_ignore_ascii_case(keyword))
}

/// A range of a parameter region. Regions are bounded by the AUTH line limit (12288), so
/// 16-bit offsets keep parsed commands small (they are moved by value, unboxed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u16,
    end: u16,
}

impl Span {
    fn of(region: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - region.as_ptr() as usize;
        Span {
            start: start as u16,
            end: (start + part.len()) as u16,
        }
    }

    fn get(self, region: &[u8]) -> &[u8] {
        region
            .get(usize::from(self.start)..usize::from(self.end))
            .unwrap_or_default()
    }

    fn slice<B: Storage>(self, region: &B) -> B {
        region.slice_range(usize::from(self.start), usize::from(self.end))
    }
}

/// The parameters of a region in order, without the typed ones.
#[derive(Debug, Clone)]
pub struct ExtensionParams<'a> {
    rest: &'a [u8],
    owner: Owner,
}

impl<'a> Iterator for ExtensionParams<'a> {
    type Item = EsmtpParam<'a>;

    fn next(&mut self) -> Option<EsmtpParam<'a>> {
        loop {
            let start = self.rest.iter().position(|&b| b != b' ')?;
            let rest = &self.rest[start..];
            let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            let param = &rest[..end];
            self.rest = &rest[end..];
            let (keyword, value) = match memchr::memchr(b'=', param) {
                Some(eq) => (&param[..eq], Some(&param[eq + 1..])),
                None => (param, None),
            };
            if !is_known(self.owner, keyword) {
                return Some(EsmtpParam { keyword, value });
            }
        }
    }
}

fn is_keyword(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric()) && syntax::all(bytes, LDH)
}

/// Appends ` keyword[=value]` to a region; gives the new region and the span of the value.
fn append(
    region: &Bytes,
    keyword: &[u8],
    value: Option<&[u8]>,
) -> Result<(Bytes, Span), ValueError> {
    let len = region.len() + keyword.len() + value.map_or(0, |v| v.len() + 1) + 1;
    if len > usize::from(u16::MAX) {
        return Err(ValueError::TooLong {
            what: "ESMTP parameters",
            limit: usize::from(u16::MAX),
        });
    }
    let mut raw = BytesMut::with_capacity(len);
    raw.extend_from_slice(region);
    raw.put_u8(b' ');
    raw.extend_from_slice(keyword);
    let start = if let Some(value) = value {
        raw.put_u8(b'=');
        let start = raw.len();
        raw.extend_from_slice(value);
        start
    } else {
        raw.len()
    };
    let span = Span {
        start: start as u16,
        end: raw.len() as u16,
    };
    Ok((raw.freeze(), span))
}

fn check_extension(owner: Owner, keyword: &str, value: Option<&str>) -> Result<(), ValueError> {
    let keyword = keyword.as_bytes();
    if !is_keyword(keyword) {
        return Err(ValueError::Malformed {
            what: "ESMTP keyword",
        });
    }
    if is_known(owner, keyword) {
        return Err(ValueError::Reserved {
            what: "ESMTP keyword",
        });
    }
    if let Some(value) = value {
        if let Some(byte) = syntax::forbidden_byte(value.as_bytes()) {
            return Err(ValueError::ForbiddenOctet {
                what: "ESMTP value",
                octet: byte,
            });
        }
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| syntax::is_or_utf8(b, ESMTP_VALUE, true))
        {
            return Err(ValueError::Malformed {
                what: "ESMTP value",
            });
        }
    }
    Ok(())
}

fn write_extensions(params: ExtensionParams<'_>, out: &mut BytesMut) {
    for param in params {
        out.put_u8(b' ');
        out.extend_from_slice(param.keyword);
        if let Some(value) = param.value {
            out.put_u8(b'=');
            out.extend_from_slice(value);
        }
    }
}

/// A parameter's keyword, its value, and the text after it.
type ParamParts<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

/// `esmtp-param = esmtp-keyword ["=" esmtp-value]` (RFC 5321 section 4.1.2; RFC 6531 section 3.3
/// allows UTF-8 in the value, checked by the caller): the keyword, the value, what follows.
#[inline(always)]
fn esmtp_param(i: &[u8]) -> Option<ParamParts<'_>> {
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    let keyword_len = i
        .iter()
        .position(|&b| !syntax::is(b, LDH))
        .unwrap_or(i.len());
    if keyword_len == 0 || i[0] == b'-' {
        return None;
    }
    let (keyword, rest) = i.split_at(keyword_len);
    let Some((b'=', after)) = rest.split_first() else {
        return Some((keyword, None, rest));
    };
    let value_len = after
        .iter()
        .position(|&b| !syntax::is_or_utf8(b, ESMTP_VALUE, true))
        .unwrap_or(after.len());
    if value_len == 0 {
        return None;
    }
    let (value, rest) = after.split_at(value_len);
    Some((keyword, Some(value), rest))
}

/// The parameters after a path, `*( SP esmtp-param )`, in order; stops at the first error.
struct Params<'a> {
    rest: &'a [u8],
    extra_whitespace: bool,
}

impl<'a> Params<'a> {
    #[inline(always)]
    fn new(rest: &'a [u8], extra_whitespace: bool) -> Params<'a> {
        Params {
            rest,
            extra_whitespace,
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<(&'a [u8], Option<&'a [u8]>), CommandError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let Some((&b' ', after)) = self.rest.split_first() else {
            if self.rest.is_empty() {
                return None;
            }
            self.rest = &[];
            return Some(Err(CommandError::ParameterSyntax(
                "expected SP before a parameter",
            )));
        };
        let mut rest = after;
        if self.extra_whitespace {
            let spaces = rest.iter().take_while(|&&b| b == b' ').count();
            rest = &rest[spaces..];
            if rest.is_empty() {
                self.rest = rest;
                return None;
            }
        }
        let Some((keyword, value, after)) = esmtp_param(rest) else {
            self.rest = &[];
            return Some(Err(CommandError::ParameterSyntax("malformed parameter")));
        };
        self.rest = after;
        Some(Ok((keyword, value)))
    }
}

fn duplicate() -> CommandError {
    CommandError::ParameterSyntax("duplicate parameter")
}

fn required(value: Option<&[u8]>) -> Result<&[u8], CommandError> {
    value.ok_or(CommandError::ParameterSyntax("parameter needs a value"))
}

fn no_value(value: Option<&[u8]>) -> Result<(), CommandError> {
    match value {
        None => Ok(()),
        Some(_) => Err(CommandError::ParameterSyntax("parameter takes no value")),
    }
}

fn xtext_value(value: &[u8], limit: usize) -> Result<&[u8], CommandError> {
    if value.len() > limit {
        return Err(CommandError::ParameterSyntax("xtext value too long"));
    }
    if !is_xtext(value) {
        return Err(CommandError::ParameterSyntax("malformed xtext"));
    }
    Ok(value)
}

const HAS_SIZE: u8 = 1;
const SMTPUTF8: u8 = 1 << 1;
const REQUIRETLS: u8 = 1 << 2;
const HAS_EXTENSIONS: u8 = 1 << 3;

/// The parameters of MAIL FROM: typed for SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH and
/// REQUIRETLS; any other kept in order ([`MailParams::extensions`]).
///
/// Values are kept as one region of the command line; two values are equal when their
/// parameters are, however they were made.
#[derive(Clone)]
pub struct MailParams<B = Bytes> {
    region: B,
    size: u64,
    envid: Option<Span>,
    auth: Option<Span>,
    flags: u8,
    body: Option<BodyType>,
    ret: Option<Ret>,
}

impl Default for MailParams {
    fn default() -> MailParams {
        MailParams::empty()
    }
}

impl MailParams {
    /// No parameters.
    pub fn new() -> MailParams {
        MailParams::default()
    }

    /// Sets or clears ENVID (at most 100 octets of xtext, RFC 3461 section 4.4).
    pub fn set_envid(&mut self, envid: Option<&XText>) -> Result<(), ValueError> {
        self.envid = match envid {
            None => None,
            Some(x) if x.0.len() > limits::ENVID => {
                return Err(ValueError::TooLong {
                    what: "ENVID",
                    limit: limits::ENVID,
                });
            }
            Some(x) => Some(self.append(b"ENVID", Some(&x.0))?),
        };
        Ok(())
    }

    /// Sets or clears AUTH=.
    pub fn set_auth(&mut self, auth: Option<&XText>) -> Result<(), ValueError> {
        self.auth = match auth {
            None => None,
            Some(x) if x.0.is_empty() => return Err(ValueError::Empty { what: "AUTH=" }),
            Some(x) => Some(self.append(b"AUTH", Some(&x.0))?),
        };
        Ok(())
    }

    /// Adds a parameter without a typed field; keywords with one are refused (use its setter).
    pub fn push_extension(&mut self, keyword: &str, value: Option<&str>) -> Result<(), ValueError> {
        check_extension(Owner::Mail, keyword, value)?;
        self.append(keyword.as_bytes(), value.map(str::as_bytes))?;
        self.flags |= HAS_EXTENSIONS;
        Ok(())
    }

    fn append(&mut self, keyword: &[u8], value: Option<&[u8]>) -> Result<Span, ValueError> {
        let (region, span) = append(&self.region, keyword, value)?;
        self.region = region;
        Ok(span)
    }
}

impl MailParams<&[u8]> {
    /// The same parameters in shared storage: a slice of `source` when this value was parsed
    /// from it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> MailParams {
        MailParams {
            region: share(source, self.region),
            size: self.size,
            envid: self.envid,
            auth: self.auth,
            flags: self.flags,
            body: self.body,
            ret: self.ret,
        }
    }
}

impl<B: Storage> MailParams<B> {
    fn empty() -> MailParams<B> {
        MailParams {
            region: B::empty(),
            size: 0,
            envid: None,
            auth: None,
            flags: 0,
            body: None,
            ret: None,
        }
    }

    /// `SIZE=n`: the message size estimate in octets (RFC 1870).
    pub fn size(&self) -> Option<u64> {
        (self.flags & HAS_SIZE != 0).then_some(self.size)
    }

    /// Sets or clears SIZE.
    pub fn set_size(&mut self, size: Option<u64>) {
        self.size = size.unwrap_or(0);
        self.set_flag(HAS_SIZE, size.is_some());
    }

    /// `BODY=`: the body type (RFC 6152, RFC 3030).
    pub fn body(&self) -> Option<BodyType> {
        self.body
    }

    /// Sets or clears BODY.
    pub fn set_body(&mut self, body: Option<BodyType>) {
        self.body = body;
    }

    /// `SMTPUTF8`: the message and its addresses may hold UTF-8 (RFC 6531).
    pub fn smtputf8(&self) -> bool {
        self.flags & SMTPUTF8 != 0
    }

    /// Sets or clears SMTPUTF8.
    pub fn set_smtputf8(&mut self, on: bool) {
        self.set_flag(SMTPUTF8, on);
    }

    /// `REQUIRETLS`: the message must travel over TLS only (RFC 8689).
    pub fn requiretls(&self) -> bool {
        self.flags & REQUIRETLS != 0
    }

    /// Sets or clears REQUIRETLS.
    pub fn set_requiretls(&mut self, on: bool) {
        self.set_flag(REQUIRETLS, on);
    }

    /// `RET=`: what a failure DSN returns (RFC 3461 section 4.3).
    pub fn ret(&self) -> Option<Ret> {
        self.ret
    }

    /// Sets or clears RET.
    pub fn set_ret(&mut self, ret: Option<Ret>) {
        self.ret = ret;
    }

    /// `ENVID=`: the envelope identifier (RFC 3461 section 4.4), in xtext form.
    pub fn envid(&self) -> Option<XText<B>> {
        self.envid.map(|span| XText(span.slice(&self.region)))
    }

    /// `AUTH=`: the authenticated submitter in xtext form, `<>` when unknown (RFC 4954 section 5).
    pub fn auth(&self) -> Option<XText<B>> {
        self.auth.map(|span| XText(span.slice(&self.region)))
    }

    /// The parameters without a typed field, in order.
    pub fn extensions(&self) -> ExtensionParams<'_> {
        let rest = if self.flags & HAS_EXTENSIONS != 0 {
            self.region.as_ref()
        } else {
            &[]
        };
        ExtensionParams {
            rest,
            owner: Owner::Mail,
        }
    }

    /// Whether there is no parameter at all.
    pub fn is_empty(&self) -> bool {
        self == &MailParams::empty()
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }

    /// Parses the text after the reverse-path, `rest` (a part of `source`).
    #[inline(always)]
    pub(crate) fn parse(
        source: &B,
        rest: &[u8],
        extra_whitespace: bool,
    ) -> Result<MailParams<B>, CommandError> {
        let mut params = MailParams::empty();
        let mut needs_region = false;
        let mut envid = None;
        let mut auth = None;
        for param in Params::new(rest, extra_whitespace) {
            let (keyword, value) = param?;
            let flag = match keyword.len() {
                4 if keyword.eq_ignore_ascii_case(b"SIZE") => {
                    params.size = syntax::parse_size(required(value)?)
                        .ok_or(CommandError::ParameterSyntax("SIZE needs a number"))?;
                    HAS_SIZE
                }
                4 if keyword.eq_ignore_ascii_case(b"BODY") => {
                    let value = required(value)?;
                    let body = if value.eq_ignore_ascii_case(b"8BITMIME") {
                        BodyType::EightBitMime
                    } else if value.eq_ignore_ascii_case(b"7BIT") {
                        BodyType::SevenBit
                    } else if value.eq_ignore_ascii_case(b"BINARYMIME") {
                        BodyType::BinaryMime
                    } else {
                        return Err(CommandError::ParameterSyntax("unknown BODY type"));
                    };
                    if params.body.replace(body).is_some() {
                        return Err(duplicate());
                    }
                    0
                }
                8 if keyword.eq_ignore_ascii_case(b"SMTPUTF8") => {
                    no_value(value)?;
                    SMTPUTF8
                }
                3 if keyword.eq_ignore_ascii_case(b"RET") => {
                    let value = required(value)?;
                    let ret = if value.eq_ignore_ascii_case(b"FULL") {
                        Ret::Full
                    } else if value.eq_ignore_ascii_case(b"HDRS") {
                        Ret::Headers
                    } else {
                        return Err(CommandError::ParameterSyntax("RET must be FULL or HDRS"));
                    };
                    if params.ret.replace(ret).is_some() {
                        return Err(duplicate());
                    }
                    0
                }
                5 if keyword.eq_ignore_ascii_case(b"ENVID") => {
                    let value = xtext_value(required(value)?, limits::ENVID)?;
                    if envid.replace(Span::of(rest, value)).is_some() {
                        return Err(duplicate());
                    }
                    needs_region = true;
                    0
                }
                4 if keyword.eq_ignore_ascii_case(b"AUTH") => {
                    let value = xtext_value(required(value)?, limits::AUTH_PARAMETER_EXTRA)?;
                    if auth.replace(Span::of(rest, value)).is_some() {
                        return Err(duplicate());
                    }
                    needs_region = true;
                    0
                }
                10 if keyword.eq_ignore_ascii_case(b"REQUIRETLS") => {
                    no_value(value)?;
                    REQUIRETLS
                }
                _ => {
                    needs_region = true;
                    HAS_EXTENSIONS
                }
            };
            if flag & params.flags & !HAS_EXTENSIONS != 0 {
                return Err(duplicate());
            }
            params.flags |= flag;
        }
        params.envid = envid;
        params.auth = auth;
        if needs_region {
            params.region = source.slice_of(rest);
        }
        Ok(params)
    }

    /// Whether an untyped value holds 8-bit octets (allowed only with SMTPUTF8, RFC 6531 section 3.3).
    pub(crate) fn has_8bit(&self) -> bool {
        !self.region.as_ref().is_ascii()
    }

    /// Writes the parameters as they follow the path in `MAIL FROM:<path>`: each one
    /// preceded by a space, typed ones first (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH,
    /// REQUIRETLS), then the others in order; nothing when there are none (RFC 5321 section
    /// 4.1.2 `Mail-parameters`). [`Command::write`](crate::Command::write) writes exactly this.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use smtp_proto::{BodyType, MailParams};
    ///
    /// let mut params = MailParams::new();
    /// params.set_size(Some(1024));
    /// params.set_body(Some(BodyType::EightBitMime));
    /// let mut out = BytesMut::new();
    /// params.write(&mut out);
    /// assert_eq!(&out[..], b" SIZE=1024 BODY=8BITMIME");
    /// ```
    pub fn write(&self, out: &mut BytesMut) {
        if let Some(size) = self.size() {
            out.extend_from_slice(b" SIZE=");
            decimal::write_u64(out, size);
        }
        if let Some(body) = self.body {
            out.extend_from_slice(b" BODY=");
            out.extend_from_slice(body.keyword());
        }
        if self.smtputf8() {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if let Some(ret) = self.ret {
            out.extend_from_slice(if ret == Ret::Full {
                b" RET=FULL"
            } else {
                b" RET=HDRS"
            });
        }
        if let Some(envid) = self.envid {
            out.extend_from_slice(b" ENVID=");
            out.extend_from_slice(envid.get(self.region.as_ref()));
        }
        if let Some(auth) = self.auth {
            out.extend_from_slice(b" AUTH=");
            out.extend_from_slice(auth.get(self.region.as_ref()));
        }
        if self.requiretls() {
            out.extend_from_slice(b" REQUIRETLS");
        }
        write_extensions(self.extensions(), out);
    }
}

impl<B: Storage> PartialEq for MailParams<B> {
    fn eq(&self, other: &MailParams<B>) -> bool {
        let (region, other_region) = (self.region.as_ref(), other.region.as_ref());
        self.size() == other.size()
            && self.body == other.body
            && self.flags & !HAS_EXTENSIONS == other.flags & !HAS_EXTENSIONS
            && self.ret == other.ret
            && self.envid.map(|s| s.get(region)) == other.envid.map(|s| s.get(other_region))
            && self.auth.map(|s| s.get(region)) == other.auth.map(|s| s.get(other_region))
            && self.extensions().eq(other.extensions())
    }
}

impl<B: Storage> Eq for MailParams<B> {}

impl<B: Storage> fmt::Debug for MailParams<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailParams")
            .field("size", &self.size())
            .field("body", &self.body)
            .field("smtputf8", &self.smtputf8())
            .field("ret", &self.ret)
            .field("envid", &self.envid())
            .field("auth", &self.auth())
            .field("requiretls", &self.requiretls())
            .field("extensions", &DebugExtensions(self.extensions()))
            .finish()
    }
}

struct DebugExtensions<'a>(ExtensionParams<'a>);

impl fmt::Debug for DebugExtensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.clone().map(|p| {
                (
                    alloc::string::String::from_utf8_lossy(p.keyword),
                    p.value.map(alloc::string::String::from_utf8_lossy),
                )
            }))
            .finish()
    }
}

/// The span of an ORCPT value and where its `;` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OrcptSpan {
    value: Span,
    semicolon: u16,
}

/// The parameters of RCPT TO: typed for NOTIFY and ORCPT; any other kept in order
/// ([`RcptParams::extensions`]).
#[derive(Clone)]
pub struct RcptParams<B = Bytes> {
    region: B,
    orcpt: Option<OrcptSpan>,
    notify: Option<Notify>,
    has_extensions: bool,
}

impl Default for RcptParams {
    fn default() -> RcptParams {
        RcptParams::empty()
    }
}

impl RcptParams {
    /// No parameters.
    pub fn new() -> RcptParams {
        RcptParams::default()
    }

    /// Sets or clears ORCPT.
    pub fn set_orcpt(&mut self, orcpt: Option<&OriginalRecipient>) -> Result<(), ValueError> {
        self.orcpt = match orcpt {
            None => None,
            Some(o) => {
                let (region, value) = append(&self.region, b"ORCPT", Some(&o.raw))?;
                self.region = region;
                Some(OrcptSpan {
                    value,
                    semicolon: o.semicolon as u16,
                })
            }
        };
        Ok(())
    }

    /// Adds a parameter without a typed field; keywords with one are refused (use its setter).
    pub fn push_extension(&mut self, keyword: &str, value: Option<&str>) -> Result<(), ValueError> {
        check_extension(Owner::Rcpt, keyword, value)?;
        let (region, _) = append(&self.region, keyword.as_bytes(), value.map(str::as_bytes))?;
        self.region = region;
        self.has_extensions = true;
        Ok(())
    }
}

impl RcptParams<&[u8]> {
    /// The same parameters in shared storage: a slice of `source` when this value was parsed
    /// from it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> RcptParams {
        RcptParams {
            region: share(source, self.region),
            orcpt: self.orcpt,
            notify: self.notify,
            has_extensions: self.has_extensions,
        }
    }
}

impl<B: Storage> RcptParams<B> {
    pub(crate) fn empty() -> RcptParams<B> {
        RcptParams {
            region: B::empty(),
            orcpt: None,
            notify: None,
            has_extensions: false,
        }
    }

    /// `NOTIFY=`: when to send a DSN (RFC 3461 section 4.1).
    pub fn notify(&self) -> Option<Notify> {
        self.notify
    }

    /// Sets or clears NOTIFY.
    pub fn set_notify(&mut self, notify: Option<Notify>) {
        self.notify = notify;
    }

    /// `ORCPT=`: the original recipient (RFC 3461 section 4.2).
    pub fn orcpt(&self) -> Option<OriginalRecipient<B>> {
        self.orcpt.map(|o| OriginalRecipient {
            raw: o.value.slice(&self.region),
            semicolon: usize::from(o.semicolon),
        })
    }

    /// The parameters without a typed field, in order.
    pub fn extensions(&self) -> ExtensionParams<'_> {
        let rest = if self.has_extensions {
            self.region.as_ref()
        } else {
            &[]
        };
        ExtensionParams {
            rest,
            owner: Owner::Rcpt,
        }
    }

    /// Whether there is no parameter at all.
    pub fn is_empty(&self) -> bool {
        self == &RcptParams::empty()
    }

    #[inline(always)]
    pub(crate) fn parse(
        source: &B,
        rest: &[u8],
        extra_whitespace: bool,
    ) -> Result<RcptParams<B>, CommandError> {
        let mut params = RcptParams::empty();
        let mut needs_region = false;
        for param in Params::new(rest, extra_whitespace) {
            let (keyword, value) = param?;
            if keyword.eq_ignore_ascii_case(b"NOTIFY") {
                if params
                    .notify
                    .replace(parse_notify(required(value)?)?)
                    .is_some()
                {
                    return Err(duplicate());
                }
            } else if keyword.eq_ignore_ascii_case(b"ORCPT") {
                let value = required(value)?;
                if value.len() > limits::ORCPT {
                    return Err(CommandError::ParameterSyntax("ORCPT too long"));
                }
                let semicolon = memchr::memchr(b';', value).ok_or(
                    CommandError::ParameterSyntax("ORCPT needs addr-type;address"),
                )?;
                if !is_atom(&value[..semicolon]) || !is_xtext(&value[semicolon + 1..]) {
                    return Err(CommandError::ParameterSyntax("malformed ORCPT"));
                }
                let span = OrcptSpan {
                    value: Span::of(rest, value),
                    semicolon: semicolon as u16,
                };
                if params.orcpt.replace(span).is_some() {
                    return Err(duplicate());
                }
                needs_region = true;
            } else {
                params.has_extensions = true;
                needs_region = true;
            }
        }
        if needs_region {
            params.region = source.slice_of(rest);
        }
        Ok(params)
    }

    #[inline(always)]
    pub(crate) fn has_8bit(&self) -> bool {
        !self.region.as_ref().is_ascii()
    }

    /// Writes the parameters as they follow the path in `RCPT TO:<path>`: each one preceded
    /// by a space, NOTIFY and ORCPT first, then the others in order; nothing when there are
    /// none (RFC 5321 section 4.1.2 `Rcpt-parameters`). [`Command::write`](crate::Command::write)
    /// writes exactly this.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use smtp_proto::{Notify, RcptParams};
    ///
    /// let mut params = RcptParams::new();
    /// params.set_notify(Some(Notify::NEVER));
    /// let mut out = BytesMut::new();
    /// params.write(&mut out);
    /// assert_eq!(&out[..], b" NOTIFY=NEVER");
    /// ```
    pub fn write(&self, out: &mut BytesMut) {
        if let Some(notify) = self.notify {
            out.extend_from_slice(b" NOTIFY=");
            if notify.is_never() {
                out.extend_from_slice(b"NEVER");
            } else {
                let mut first = true;
                for (on, word) in [
                    (notify.success, &b"SUCCESS"[..]),
                    (notify.failure, b"FAILURE"),
                    (notify.delay, b"DELAY"),
                ] {
                    if on {
                        if !first {
                            out.put_u8(b',');
                        }
                        out.extend_from_slice(word);
                        first = false;
                    }
                }
            }
        }
        if let Some(orcpt) = self.orcpt {
            out.extend_from_slice(b" ORCPT=");
            out.extend_from_slice(orcpt.value.get(self.region.as_ref()));
        }
        write_extensions(self.extensions(), out);
    }
}

fn parse_notify(value: &[u8]) -> Result<Notify, CommandError> {
    if value.eq_ignore_ascii_case(b"NEVER") {
        return Ok(Notify::NEVER);
    }
    let mut notify = Notify::default();
    for word in value.split(|&b| b == b',') {
        let slot = if word.eq_ignore_ascii_case(b"SUCCESS") {
            &mut notify.success
        } else if word.eq_ignore_ascii_case(b"FAILURE") {
            &mut notify.failure
        } else if word.eq_ignore_ascii_case(b"DELAY") {
            &mut notify.delay
        } else {
            return Err(CommandError::ParameterSyntax(
                "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY",
            ));
        };
        if core::mem::replace(slot, true) {
            return Err(CommandError::ParameterSyntax("duplicate NOTIFY condition"));
        }
    }
    Ok(notify)
}

impl<B: Storage> PartialEq for RcptParams<B> {
    fn eq(&self, other: &RcptParams<B>) -> bool {
        self.notify == other.notify
            && self.orcpt() == other.orcpt()
            && self.extensions().eq(other.extensions())
    }
}

impl<B: Storage> Eq for RcptParams<B> {}

impl<B: Storage> fmt::Debug for RcptParams<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RcptParams")
            .field("notify", &self.notify)
            .field("orcpt", &self.orcpt())
            .field("extensions", &DebugExtensions(self.extensions()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(text: &'static str) -> Result<MailParams, CommandError> {
        let source = Bytes::from_static(text.as_bytes());
        MailParams::parse(&source, &source, false)
    }

    fn rcpt(text: &'static str) -> Result<RcptParams, CommandError> {
        let source = Bytes::from_static(text.as_bytes());
        RcptParams::parse(&source, &source, false)
    }

    #[test]
    fn rfc_examples() {
        // RFC 1870 section 5 / RFC 6152 / RFC 3461 section 6 examples.
        let p = mail(" SIZE=500000 BODY=8BITMIME").unwrap();
        assert_eq!(
            (p.size(), p.body()),
            (Some(500_000), Some(BodyType::EightBitMime))
        );
        let p = mail(" RET=HDRS ENVID=QQ314159").unwrap();
        assert_eq!(p.ret(), Some(Ret::Headers));
        assert_eq!(p.envid().unwrap().as_bytes(), b"QQ314159");
        let p = mail(" AUTH=e+3Dmc2@example.com").unwrap();
        assert_eq!(p.auth().unwrap().decode(), b"e=mc2@example.com");
        let p = rcpt(" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Carol@Ivory.EDU").unwrap();
        assert_eq!(
            p.notify(),
            Some(Notify {
                success: true,
                failure: true,
                delay: false
            })
        );
        let orcpt = p.orcpt().unwrap();
        assert_eq!(
            (orcpt.addr_type(), orcpt.address().as_bytes()),
            (&b"rfc822"[..], &b"Carol@Ivory.EDU"[..])
        );
        assert_eq!(rcpt(" NOTIFY=NEVER").unwrap().notify(), Some(Notify::NEVER));
        let p = mail(" SMTPUTF8 REQUIRETLS").unwrap();
        assert!(p.smtputf8() && p.requiretls());
    }

    #[test]
    fn unknown_parameters_are_kept_in_order() {
        let p = mail(" HOLDFOR=10 SIZE=1 MT-PRIORITY=3 X").unwrap();
        assert_eq!(p.size(), Some(1));
        let ext: Vec<_> = p.extensions().collect();
        assert_eq!(
            ext,
            [
                EsmtpParam {
                    keyword: b"HOLDFOR",
                    value: Some(b"10")
                },
                EsmtpParam {
                    keyword: b"MT-PRIORITY",
                    value: Some(b"3")
                },
                EsmtpParam {
                    keyword: b"X",
                    value: None
                },
            ]
        );
        let mut built = MailParams::new();
        built.set_size(Some(1));
        for e in &ext {
            let value = e.value.map(|v| core::str::from_utf8(v).unwrap());
            built
                .push_extension(core::str::from_utf8(e.keyword).unwrap(), value)
                .unwrap();
        }
        assert_eq!(built, p);
    }

    #[test]
    fn bad_parameters() {
        for bad in [
            " SIZE=abc",
            " SIZE",
            " SIZE=1 SIZE=2",
            " BODY=9BIT",
            " SMTPUTF8=yes",
            " RET=ALL",
            " ENVID=a+2",
            " ENVID=a+2a",
            "  SIZE=1",
            " SIZE=1 ",
            " =x",
            " -X=1",
            " X=",
            " SIZE=99999999999999999999999",
        ] {
            assert!(
                matches!(mail(bad), Err(CommandError::ParameterSyntax(_))),
                "{bad:?}"
            );
        }
        for bad in [
            " NOTIFY=NEVER,SUCCESS",
            " NOTIFY=",
            " ORCPT=rfc822",
            " ORCPT=;a",
            " NOTIFY=DELAY,DELAY",
        ] {
            assert!(
                matches!(rcpt(bad), Err(CommandError::ParameterSyntax(_))),
                "{bad:?}"
            );
        }
        let mut p = MailParams::new();
        assert_eq!(
            p.push_extension("X", Some("a\r\nRSET")),
            Err(ValueError::ForbiddenOctet {
                what: "ESMTP value",
                octet: b'\r'
            })
        );
        assert!(p.push_extension("SIZE", Some("1")).is_err());
        assert!(p.push_extension("X Y", None).is_err());
    }

    #[test]
    fn xtext_round_trip() {
        let raw = b"a+b=c \r\n\xff";
        let x = XText::encode(raw);
        assert_eq!(x.as_bytes(), b"a+2Bb+3Dc+20+0D+0A+FF");
        assert_eq!(x.decode(), raw);
        assert!(XText::new("a+2B").is_ok());
        assert!(XText::new("a+2b").is_err());
        assert_eq!(
            XText::new("a\nb"),
            Err(ValueError::ForbiddenOctet {
                what: "xtext",
                octet: b'\n'
            })
        );
    }
}
