//! Commands (RFC 5321 section 4.1.1 and extensions): parse one command line, write one.

use core::fmt;
use mail_wire::value::IntoBytes;

use bytes::{BufMut, Bytes, BytesMut};
use mail_wire::decimal;
use mail_wire::line::{self, LineEnding, LineScan};

use crate::address::{self, Domain, ForwardPath, ParsedPath, PathRules, ReversePath};
use crate::auth::{Mechanism, SaslData};
use crate::error::{AddressError, CommandError, ParseError, ValueError};
use crate::options::ParseOptions;
use crate::params::{MailParams, RcptParams};
use crate::storage::{Storage, share};
use crate::syntax::{self, TEXT};

/// The argument of VRFY, EXPN, HELP or NOOP (RFC 5321 `String`, read loosely): printable
/// text, UTF-8 only with SMTPUTF8. Never holds CR, LF or NUL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Argument<B = Bytes>(B);

impl Argument {
    const WHAT: &'static str = "argument";

    /// Checks an argument: not empty, printable ASCII, HT, or UTF-8.
    pub fn new(text: impl IntoBytes) -> Result<Argument, ValueError> {
        let text = text.into_shared();
        if let Some(byte) = syntax::forbidden_byte(&text) {
            return Err(ValueError::ForbiddenOctet {
                what: Argument::WHAT,
                octet: byte,
            });
        }
        match check_argument(&text, true) {
            Ok(()) => Ok(Argument(text)),
            Err(_) if text.is_empty() => Err(ValueError::Empty {
                what: Argument::WHAT,
            }),
            Err(_) => Err(ValueError::Malformed {
                what: Argument::WHAT,
            }),
        }
    }
}

impl Argument<&[u8]> {
    /// The same argument in shared storage: a slice of `source` when this value was parsed
    /// from it (a reference count), a copy otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Argument {
        Argument(share(source, self.0))
    }
}

impl<B: Storage> Argument<B> {
    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl<B: Storage> fmt::Debug for Argument<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&alloc::string::String::from_utf8_lossy(self.as_bytes()), f)
    }
}

/// Checks an argument's text: printable ASCII and HT, or UTF-8 when `utf8` allows it.
fn check_argument(text: &[u8], utf8: bool) -> Result<(), CommandError> {
    if text.is_empty() {
        return Err(CommandError::ParameterSyntax("empty argument"));
    }
    if syntax::all(text, TEXT) {
        return Ok(());
    }
    if !utf8 || core::str::from_utf8(text).is_err() {
        return Err(CommandError::InvalidUtf8);
    }
    if text.iter().all(|&b| b >= 0x80 || syntax::is(b, TEXT)) {
        Ok(())
    } else {
        Err(CommandError::ParameterSyntax(
            "control character in argument",
        ))
    }
}

/// An SMTP command. Every value that exists can be written safely: its parts were checked
/// when made, so no argument can inject CR, LF or NUL
/// (ARCHITECTURE.md security invariant 4).
#[derive(Debug, Clone, PartialEq, Eq)]
///
/// `Command` (that is `Command<Bytes>`) holds slices of a shared buffer; `Command<&[u8]>`
/// ([`Command::parse_borrowed`]) borrows the read buffer and takes no reference count.
#[non_exhaustive]
pub enum Command<B: Storage = Bytes> {
    /// `HELO domain` (RFC 5321 section 4.1.1.1).
    Helo(Domain<B>),
    /// `EHLO domain-or-address-literal` (RFC 5321 section 4.1.1.1).
    Ehlo(Domain<B>),
    /// `LHLO domain`: LMTP's EHLO (RFC 2033 section 4.1).
    Lhlo(Domain<B>),
    /// `MAIL FROM:<reverse-path> [params]` (RFC 5321 section 4.1.1.2).
    Mail {
        /// The sender, or null.
        from: ReversePath<B>,
        /// The parameters.
        params: MailParams<B>,
    },
    /// `RCPT TO:<forward-path> [params]` (RFC 5321 section 4.1.1.3).
    Rcpt {
        /// The recipient.
        to: ForwardPath<B>,
        /// The parameters.
        params: RcptParams<B>,
    },
    /// `DATA` (RFC 5321 section 4.1.1.4).
    Data,
    /// `BDAT size [LAST]` (RFC 3030 section 2): the next `size` octets are message data.
    Bdat {
        /// Octets in the chunk.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET` (RFC 5321 section 4.1.1.5).
    Rset,
    /// `VRFY string` (RFC 5321 section 4.1.1.6).
    Vrfy(Argument<B>),
    /// `EXPN string` (RFC 5321 section 4.1.1.7).
    Expn(Argument<B>),
    /// `HELP [string]` (RFC 5321 section 4.1.1.8).
    Help(Option<Argument<B>>),
    /// `NOOP [string]` (RFC 5321 section 4.1.1.9).
    Noop(Option<Argument<B>>),
    /// `QUIT` (RFC 5321 section 4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 section 4).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954 section 4); an empty initial response
    /// is written `=`.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response, if the client sends one with the command.
        initial_response: Option<SaslData<B>>,
    },
}

/// A verb read as a big-endian integer with ASCII letters folded to lower case.
const fn verb(name: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*name) | 0x2020_2020
}

const HELO: u32 = verb(b"helo");
const EHLO: u32 = verb(b"ehlo");
const LHLO: u32 = verb(b"lhlo");
const MAIL: u32 = verb(b"mail");
const RCPT: u32 = verb(b"rcpt");
const DATA: u32 = verb(b"data");
const BDAT: u32 = verb(b"bdat");
const RSET: u32 = verb(b"rset");
const VRFY: u32 = verb(b"vrfy");
const EXPN: u32 = verb(b"expn");
const HELP: u32 = verb(b"help");
const NOOP: u32 = verb(b"noop");
const QUIT: u32 = verb(b"quit");
const AUTH: u32 = verb(b"auth");

impl Command {
    /// Parses one command line from the front of `input`.
    ///
    /// Gives the command and the octets it took, CRLF included. `Incomplete` while no line
    /// end has arrived within the line limit. The command's parts are slices of `input`.
    // Inlined like `parse_borrowed`: out of line, the command was built and then copied
    // into the returned tuple (about 45 instructions a command, 60% of what the `Bytes`
    // form cost over the borrowed one).
    #[inline]
    pub fn parse(
        input: &Bytes,
        opts: &ParseOptions,
    ) -> Result<(Command, usize), ParseError<CommandError>> {
        Command::parse_from(input, opts)
    }

    /// Parses a line already framed without its line end (by `mail_wire`'s `LineFramer`).
    pub fn parse_line(line: Bytes, opts: &ParseOptions) -> Result<Command, CommandError> {
        Command::parse_line_from(&line, opts)
    }

    /// Writes the command line, CRLF included. (A `Command<&[u8]>` is written through
    /// [`Command::to_shared`]; `write` lives on `Command` alone so that `Command::Quit.write(..)`
    /// needs no type annotation.)
    pub fn write(&self, out: &mut BytesMut) {
        self.write_inner(out, false);
    }
}

impl<'a> Command<&'a [u8]> {
    /// [`Command::parse`] for a borrowed buffer: the command's parts borrow `input`, and no
    /// reference count is taken. [`Command::to_shared`] turns what must outlive the buffer
    /// into a `Command`.
    #[inline]
    pub fn parse_borrowed(
        input: &'a [u8],
        opts: &ParseOptions,
    ) -> Result<(Command<&'a [u8]>, usize), ParseError<CommandError>> {
        Command::parse_from(&input, opts)
    }

    /// [`Command::parse_line_borrowed`] for a line cut by `mail_wire`'s `LineFramer`: the
    /// framer has refused CR, LF and NUL inside it already, so the line is not scanned for
    /// them again.
    pub(crate) fn parse_framed(
        line: &'a [u8],
        opts: &ParseOptions,
    ) -> Result<Command<&'a [u8]>, CommandError> {
        debug_assert!(syntax::forbidden_byte(line).is_none());
        Command::parse_slice(&line, line, line.len() + 2, opts)
    }

    /// [`Command::parse_line`] for a borrowed line.
    pub fn parse_line_borrowed(
        line: &'a [u8],
        opts: &ParseOptions,
    ) -> Result<Command<&'a [u8]>, CommandError> {
        Command::parse_line_from(&line, opts)
    }

    /// The same command in shared storage: its parts become slices of `source` when it was
    /// parsed from it (reference counts, no copy), copies otherwise.
    pub fn to_shared(&self, source: &Bytes) -> Command {
        let argument = |arg: &Argument<&[u8]>| arg.to_shared(source);
        match self {
            Command::Helo(domain) => Command::Helo(domain.to_shared(source)),
            Command::Ehlo(domain) => Command::Ehlo(domain.to_shared(source)),
            Command::Lhlo(domain) => Command::Lhlo(domain.to_shared(source)),
            Command::Mail { from, params } => Command::Mail {
                from: from.to_shared(source),
                params: params.to_shared(source),
            },
            Command::Rcpt { to, params } => Command::Rcpt {
                to: to.to_shared(source),
                params: params.to_shared(source),
            },
            Command::Data => Command::Data,
            Command::Bdat { size, last } => Command::Bdat {
                size: *size,
                last: *last,
            },
            Command::Rset => Command::Rset,
            Command::Vrfy(arg) => Command::Vrfy(argument(arg)),
            Command::Expn(arg) => Command::Expn(argument(arg)),
            Command::Help(arg) => Command::Help(arg.as_ref().map(argument)),
            Command::Noop(arg) => Command::Noop(arg.as_ref().map(argument)),
            Command::Quit => Command::Quit,
            Command::StartTls => Command::StartTls,
            Command::Auth {
                mechanism,
                initial_response,
            } => Command::Auth {
                mechanism: *mechanism,
                initial_response: initial_response.as_ref().map(|data| data.to_shared(source)),
            },
        }
    }
}

impl<B: Storage> Command<B> {
    #[inline(always)]
    fn parse_from(
        input: &B,
        opts: &ParseOptions,
    ) -> Result<(Command<B>, usize), ParseError<CommandError>> {
        let bytes = input.as_ref();
        // The window is the AUTH line limit, the largest; other verbs are held to
        // the command line limit once the verb is known.
        let window = opts.limits.command_line.max(opts.limits.auth_line);
        let ending = if opts.leniency.bare_lf {
            LineEnding::CrlfOrBareLf
        } else {
            LineEnding::Crlf
        };
        match line::scan_line(bytes, window, ending) {
            LineScan::Line {
                content_len,
                total_len,
            } => match Command::parse_slice(input, &bytes[..content_len], total_len, opts) {
                Ok(command) => Ok((command, total_len)),
                Err(error) => Err(ParseError::Invalid {
                    error,
                    consumed: total_len,
                }),
            },
            LineScan::Incomplete => Err(ParseError::Incomplete),
            LineScan::Fault { error, consumed } => Err(ParseError::Invalid {
                error: CommandError::from_line_error(error, opts.limits.command_line),
                consumed,
            }),
        }
    }

    fn parse_line_from(line: &B, opts: &ParseOptions) -> Result<Command<B>, CommandError> {
        let bytes = line.as_ref();
        if let Some(byte) = syntax::forbidden_byte(bytes) {
            return Err(CommandError::ForbiddenByte(byte));
        }
        Command::parse_slice(line, bytes, bytes.len() + 2, opts)
    }

    /// Parses `line` (a part of `source`, no line end, no CR/LF/NUL); `wire_len` is its
    /// length with its line end, checked against the limits.
    #[inline(always)]
    fn parse_slice(
        source: &B,
        line: &[u8],
        wire_len: usize,
        opts: &ParseOptions,
    ) -> Result<Command<B>, CommandError> {
        let (head, rest) = match line {
            [a, b, c, d, rest @ ..] => (u32::from_be_bytes([*a, *b, *c, *d]) | 0x2020_2020, rest),
            _ => return Err(CommandError::UnknownCommand),
        };
        let limits = &opts.limits;
        if wire_len > limits.command_line && (head != AUTH || wire_len > limits.auth_line) {
            let limit = if head == AUTH {
                limits.auth_line
            } else {
                limits.command_line
            };
            return Err(CommandError::LineTooLong { limit });
        }
        let lax = opts.leniency;
        // Everything after the verb and its SP; `None` when the verb stands alone.
        let arg = match rest.split_first() {
            None => None,
            Some((b' ', arg)) => Some(arg),
            Some(_) if line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"STARTTLS") => {
                return match line.get(8) {
                    None => Ok(Command::StartTls),
                    Some(b' ') => no_argument(Some(&line[9..]), lax.extra_whitespace)
                        .map(|()| Command::StartTls),
                    Some(_) => Err(CommandError::UnknownCommand),
                };
            }
            Some(_) => return Err(CommandError::UnknownCommand),
        };
        let strict_ws = !lax.extra_whitespace;
        match head {
            MAIL => parse_mail(source, arg, opts),
            RCPT => parse_rcpt(source, arg, opts),
            DATA => no_argument(arg, lax.extra_whitespace).map(|()| Command::Data),
            RSET => no_argument(arg, lax.extra_whitespace).map(|()| Command::Rset),
            QUIT => no_argument(arg, lax.extra_whitespace).map(|()| Command::Quit),
            NOOP => optional_argument(source, arg, strict_ws, opts).map(Command::Noop),
            EHLO => parse_domain(source, arg, lax.extra_whitespace).map(Command::Ehlo),
            HELO => parse_domain(source, arg, lax.extra_whitespace).map(Command::Helo),
            LHLO => parse_domain(source, arg, lax.extra_whitespace).map(Command::Lhlo),
            AUTH => parse_auth(source, arg, lax.extra_whitespace),
            BDAT => parse_bdat(arg, lax.extra_whitespace),
            VRFY => required_argument(source, arg, strict_ws, opts).map(Command::Vrfy),
            EXPN => required_argument(source, arg, strict_ws, opts).map(Command::Expn),
            HELP => optional_argument(source, arg, strict_ws, opts).map(Command::Help),
            _ => Err(CommandError::UnknownCommand),
        }
    }

    /// The verb, upper case.
    pub fn verb(&self) -> &'static str {
        match self {
            Command::Helo(_) => "HELO",
            Command::Ehlo(_) => "EHLO",
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Bdat { .. } => "BDAT",
            Command::Rset => "RSET",
            Command::Vrfy(_) => "VRFY",
            Command::Expn(_) => "EXPN",
            Command::Help(_) => "HELP",
            Command::Noop(_) => "NOOP",
            Command::Quit => "QUIT",
            Command::StartTls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
        }
    }

    fn write_inner(&self, out: &mut BytesMut, redact: bool) {
        out.reserve(64);
        out.extend_from_slice(self.verb().as_bytes());
        match self {
            Command::Helo(domain) | Command::Ehlo(domain) | Command::Lhlo(domain) => {
                out.put_u8(b' ');
                out.extend_from_slice(domain.as_bytes());
            }
            Command::Mail { from, params } => {
                out.extend_from_slice(b" FROM:");
                from.write(out);
                params.write(out);
            }
            Command::Rcpt { to, params } => {
                out.extend_from_slice(b" TO:");
                to.write(out);
                params.write(out);
            }
            Command::Bdat { size, last } => {
                out.put_u8(b' ');
                decimal::write_u64(out, *size);
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Command::Vrfy(arg)
            | Command::Expn(arg)
            | Command::Help(Some(arg))
            | Command::Noop(Some(arg)) => {
                out.put_u8(b' ');
                out.extend_from_slice(arg.as_bytes());
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.put_u8(b' ');
                out.extend_from_slice(mechanism.as_str().as_bytes());
                match initial_response {
                    None => {}
                    Some(_) if redact => out.extend_from_slice(b" <hidden>"),
                    Some(data) if data.is_empty() => out.extend_from_slice(b" ="),
                    Some(data) => {
                        out.put_u8(b' ');
                        out.extend_from_slice(data.as_bytes());
                    }
                }
            }
            Command::Data | Command::Rset | Command::Quit | Command::StartTls => {}
            Command::Help(None) | Command::Noop(None) => {}
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl<B: Storage> fmt::Display for Command<B> {
    /// The command line without CRLF; an AUTH initial response is hidden (credentials).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = BytesMut::new();
        self.write_inner(&mut out, true);
        let line = out.strip_suffix(b"\r\n").unwrap_or(&out);
        f.write_str(&alloc::string::String::from_utf8_lossy(line))
    }
}

/// Strips trailing spaces when tolerated.
#[inline(always)]
fn trim_end(arg: &[u8], extra_whitespace: bool) -> &[u8] {
    if extra_whitespace {
        let len = arg.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        &arg[..len]
    } else {
        arg
    }
}

#[inline(always)]
fn no_argument(arg: Option<&[u8]>, extra_whitespace: bool) -> Result<(), CommandError> {
    match arg {
        None => Ok(()),
        Some(arg) if trim_end(arg, extra_whitespace).is_empty() && extra_whitespace => Ok(()),
        Some(_) => Err(CommandError::ParameterSyntax("command takes no argument")),
    }
}

#[inline(always)]
fn required_argument<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    strict_ws: bool,
    opts: &ParseOptions,
) -> Result<Argument<B>, CommandError> {
    optional_argument(source, arg, strict_ws, opts)?
        .ok_or(CommandError::ParameterSyntax("argument required"))
}

#[inline(always)]
fn optional_argument<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    strict_ws: bool,
    opts: &ParseOptions,
) -> Result<Option<Argument<B>>, CommandError> {
    let Some(arg) = arg else { return Ok(None) };
    let arg = trim_end(arg, !strict_ws);
    if arg.is_empty() && !strict_ws {
        return Ok(None);
    }
    check_argument(arg, opts.smtputf8)?;
    Ok(Some(Argument(source.slice_of(arg))))
}

#[inline(always)]
fn parse_domain<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    extra_whitespace: bool,
) -> Result<Domain<B>, CommandError> {
    let arg = trim_end(
        arg.ok_or(CommandError::ParameterSyntax("domain required"))?,
        extra_whitespace,
    );
    // RFC 6531 section 3.7.1: the EHLO domain stays ASCII (A-labels).
    Domain::parse(source.slice_of(arg), false).map_err(|e| match e {
        AddressError::NonAscii => CommandError::InvalidUtf8,
        _ => CommandError::ParameterSyntax("invalid domain"),
    })
}

#[inline(always)]
fn parse_bdat<B: Storage>(
    arg: Option<&[u8]>,
    extra_whitespace: bool,
) -> Result<Command<B>, CommandError> {
    let arg = trim_end(
        arg.ok_or(CommandError::ParameterSyntax("chunk size required"))?,
        extra_whitespace,
    );
    let (size, last) = match memchr::memchr(b' ', arg) {
        None => (arg, false),
        Some(sp) if arg[sp + 1..].eq_ignore_ascii_case(b"LAST") => (&arg[..sp], true),
        Some(_) => return Err(CommandError::ParameterSyntax("BDAT size [LAST]")),
    };
    let size = syntax::parse_size(size)
        .ok_or(CommandError::ParameterSyntax("chunk size must be a number"))?;
    Ok(Command::Bdat { size, last })
}

#[inline(always)]
fn parse_auth<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    extra_whitespace: bool,
) -> Result<Command<B>, CommandError> {
    let arg = trim_end(
        arg.ok_or(CommandError::ParameterSyntax("mechanism required"))?,
        extra_whitespace,
    );
    let (name, response) = match memchr::memchr(b' ', arg) {
        None => (arg, None),
        Some(sp) => (&arg[..sp], Some(&arg[sp + 1..])),
    };
    let mechanism = Mechanism::parse(name)
        .map_err(|_| CommandError::ParameterSyntax("invalid mechanism name"))?;
    // RFC 4954 section 4: base64, or `=` for an empty initial response.
    let initial_response = match response {
        None => None,
        Some(text) => Some(
            SaslData::parse_initial_response(source.slice_of(text)).map_err(
                |error| match error {
                    ValueError::Empty { .. } => {
                        CommandError::ParameterSyntax("empty initial response must be \"=\"")
                    }
                    _ => CommandError::ParameterSyntax("initial response must be base64"),
                },
            )?,
        ),
    };
    Ok(Command::Auth {
        mechanism,
        initial_response,
    })
}

/// Reads `keyword` (`FROM:` or `TO:`, any case) and the optional space leniency allows.
#[inline(always)]
fn after_keyword<'a>(
    arg: Option<&'a [u8]>,
    keyword: &[u8],
    opts: &ParseOptions,
) -> Result<&'a [u8], CommandError> {
    let arg = arg.ok_or(CommandError::Syntax("missing FROM:/TO:"))?;
    match arg.get(..keyword.len()) {
        Some(head) if head.eq_ignore_ascii_case(keyword) => {
            let rest = &arg[keyword.len()..];
            match rest.first() {
                Some(b' ') if opts.leniency.space_after_colon => Ok(&rest[1..]),
                _ => Ok(rest),
            }
        }
        _ => Err(CommandError::Syntax("missing FROM:/TO:")),
    }
}

#[inline(always)]
fn rules(opts: &ParseOptions, utf8: bool) -> PathRules {
    let local_part_limit = if opts.leniency.long_local_part {
        opts.limits.path
    } else {
        opts.limits.local_part
    };
    PathRules {
        utf8,
        bare_address: opts.leniency.bare_address,
        local_part_limit,
    }
}

#[inline(always)]
fn parse_mail<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    opts: &ParseOptions,
) -> Result<Command<B>, CommandError> {
    let arg = after_keyword(arg, b"FROM:", opts)?;
    // 8-bit octets are judged after the parameters: SMTPUTF8 may follow the path.
    let (path, rest) =
        address::parse_path(source, arg, rules(opts, true)).map_err(CommandError::BadSender)?;
    let params = MailParams::parse(source, rest, opts.leniency.extra_whitespace)?;
    let utf8 = opts.smtputf8 || params.smtputf8();
    let from = match path {
        ParsedPath::Null => ReversePath::Null,
        ParsedPath::Mailbox(mailbox) if !utf8 && !mailbox.is_ascii() => {
            return Err(CommandError::NonAsciiAddress);
        }
        ParsedPath::Mailbox(mailbox) => ReversePath::Mailbox(mailbox),
        ParsedPath::Postmaster => return Err(CommandError::BadSender(AddressError::Domain)),
    };
    check_param_8bit(params.has_8bit(), rest, utf8)?;
    Ok(Command::Mail { from, params })
}

#[inline(always)]
fn parse_rcpt<B: Storage>(
    source: &B,
    arg: Option<&[u8]>,
    opts: &ParseOptions,
) -> Result<Command<B>, CommandError> {
    let arg = after_keyword(arg, b"TO:", opts)?;
    let (path, rest) =
        address::parse_path(source, arg, rules(opts, opts.smtputf8)).map_err(|e| match e {
            AddressError::NonAscii => CommandError::NonAsciiAddress,
            e => CommandError::BadRecipient(e),
        })?;
    let to = match path {
        ParsedPath::Postmaster => ForwardPath::Postmaster,
        ParsedPath::Mailbox(mailbox) => ForwardPath::Mailbox(mailbox),
        ParsedPath::Null => return Err(CommandError::BadRecipient(AddressError::Empty)),
    };
    if rest.is_empty() {
        return Ok(Command::Rcpt {
            to,
            params: RcptParams::empty(),
        });
    }
    let params = RcptParams::parse(source, rest, opts.leniency.extra_whitespace)?;
    check_param_8bit(params.has_8bit(), rest, opts.smtputf8)?;
    Ok(Command::Rcpt { to, params })
}

/// RFC 6531 section 3.3: UTF-8 in esmtp-value only with SMTPUTF8, and well formed.
#[inline(always)]
fn check_param_8bit(has_8bit: bool, text: &[u8], utf8: bool) -> Result<(), CommandError> {
    if has_8bit && (!utf8 || core::str::from_utf8(text).is_err()) {
        Err(CommandError::InvalidUtf8)
    } else {
        Ok(())
    }
}
