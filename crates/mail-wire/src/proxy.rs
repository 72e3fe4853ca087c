//! The PROXY protocol, versions 1 and 2 (HAProxy, "The PROXY protocol, Versions 1 & 2"):
//! the header a load balancer puts in front of a client's connection so the server learns the
//! client's real address. Postfix (`smtpd_upstream_proxy_protocol`), Dovecot
//! (`haproxy_trusted_networks`) and aiosmtpd accept it.
//!
//! Two tools read it, without I/O:
//!
//! - [`ProxyParser`]: stateful. Feed it what the socket delivered, split anywhere; it holds at
//!   most one header's octets ([`ProxyParser::max_header_len`]) and, once the header is
//!   complete, says how many octets of the last input it took. The rest of that input belongs
//!   to the protocol after the header (an SMTP client may pipeline `EHLO` in the same packet)
//!   and is never touched.
//! - [`parse`]: stateless, for a caller that keeps its own receive buffer: it judges the front
//!   of the buffer and says how long the header is.
//!
//! Both give the same answer for the same octets however they were split, and both are
//! strict: anything that is not exactly a header of the specification is a [`ProxyError`].
//! [`ProxyHeader::write_v1`] and [`ProxyHeader::write_v2`] produce headers (for tests, load
//! tools and proxies).
//!
//! # Bounds
//!
//! - Version 1 is one line of at most [`V1_MAX_LEN`] (107) octets with its CRLF (section 2.1).
//!   No CRLF within them is [`ProxyError::V1TooLong`], reported as soon as it is certain.
//! - Version 2 is 16 octets ([`V2_FIXED_LEN`]) and the block whose length they declare
//!   (section 2.2). The declaration may say up to 65535; a receiver that buffered that much
//!   for every pending connection would be easy to exhaust, so the parser accepts at most a
//!   configured maximum ([`DEFAULT_MAX_V2_LENGTH`], 1024, unless
//!   [`ProxyParser::with_max_v2_length`] says otherwise) and refuses a longer declaration with
//!   [`ProxyError::V2TooLong`] as soon as the 16 octets are in. 1024 octets hold the largest
//!   address block (216 octets for `AF_UNIX`) and 808 octets of TLVs: room for the TLS
//!   information, server name, unique ID and cloud-provider TLVs that load balancers send.
//! - While it waits, the parser says how much more it needs ([`Progress::NeedMore`]): reading
//!   `at_least` more octets never reads past the header's end (for a caller that must leave the
//!   protocol's octets in the socket), and after `at_most` more octets it has decided, so it
//!   never asks for more than the maximum header size.
//!
//! # What the header means
//!
//! - [`ProxyHeader::Proxied`]: the connection was relayed; `source` is the client. Use it
//!   for logs, access rules, SPF and the `Received:` header instead of the socket's peer.
//! - [`ProxyHeader::Local`] (version 2 `LOCAL`: the proxy's own connection, such as a health
//!   check) and [`ProxyHeader::Unknown`] (version 1 `UNKNOWN`; version 2 `PROXY` with an
//!   unspecified, `AF_UNIX` or otherwise unusable address family or transport): accept the
//!   connection and use the real connection's addresses, as the specification says.
//!
//! # The caller's rules
//!
//! - Expect the header only on a listener configured for it, and only from trusted proxies:
//!   check the socket's peer address first (Dovecot's `haproxy_trusted_networks`). Never guess
//!   whether a header is present (section 5): a client that may send one can claim any address.
//! - Send nothing before the header is complete: an SMTP or POP3 server speaks first, but
//!   only after the header. Apply a timeout of a few seconds (the specification suggests at
//!   least 3 to cover a TCP retransmission).
//! - A malformed header ([`ProxyError`]), or the end of the stream before the header is
//!   complete: close the connection with nothing answered. The error names what was wrong, for
//!   the log.
//!
//! # Example
//!
//! The load balancer's header arrived in one packet with the client's first command:
//!
//! ```
//! use bytes::BytesMut;
//! use mail_wire::line::LineFramer;
//! use mail_wire::proxy::{Progress, ProxyHeader, ProxyParser, Version};
//!
//! let packet = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\nEHLO client.example\r\n";
//! let mut parser = ProxyParser::new();
//! let Ok(Progress::Done { header, version, consumed }) = parser.feed(packet) else {
//!     panic!("a complete header: on an error, close the connection without a word");
//! };
//! assert_eq!(version, Version::V1);
//! let ProxyHeader::Proxied { source, .. } = header else { panic!("proxied") };
//! assert_eq!(source, "192.0.2.10:56324".parse().unwrap()); // the client, for logs and rules
//!
//! // The rest of the packet is the client's: hand it to the protocol machine untouched.
//! let mut received = BytesMut::from(&packet[consumed..]);
//! let mut lines = LineFramer::new(512);
//! assert_eq!(lines.next_line(&mut received).unwrap().unwrap(), "EHLO client.example");
//! ```
//!
//! A header split across reads, in version 2:
//!
//! ```
//! use mail_wire::proxy::{Progress, ProxyHeader, ProxyParser, Transport};
//!
//! let header = ProxyHeader::Proxied {
//!     transport: Transport::Stream,
//!     source: "[2001:db8::7]:49152".parse().unwrap(),
//!     destination: "[2001:db8::1]:587".parse().unwrap(),
//! };
//! let mut wire = Vec::new();
//! header.write_v2(&mut wire).unwrap();
//! wire.extend_from_slice(b"EHLO x\r\n");
//!
//! let mut parser = ProxyParser::new();
//! assert_eq!(
//!     parser.feed(&wire[..10]),
//!     Ok(Progress::NeedMore { at_least: 6, at_most: 1030 })
//! );
//! let Ok(Progress::Done { header: parsed, consumed, .. }) = parser.feed(&wire[10..]) else {
//!     panic!("complete");
//! };
//! assert_eq!(parsed, header);
//! assert_eq!(&wire[10 + consumed..], b"EHLO x\r\n");
//! ```

use alloc::vec::Vec;
use bytes::BufMut;
use core::fmt::{self, Write as _};
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use core::str::FromStr;

/// The first octets of a version 1 header: `PROXY`.
pub const V1_SIGNATURE: [u8; 5] = *b"PROXY";

/// The longest version 1 header, CRLF included (section 2.1: the `UNKNOWN` worst case).
pub const V1_MAX_LEN: usize = 107;

/// The shortest version 1 header: `PROXY UNKNOWN\r\n`.
const V1_MIN_LEN: usize = 15;

/// The first 12 octets of a version 2 header (section 2.2).
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The fixed part of a version 2 header: signature, version and command, family and
/// transport, and the 16-bit length of the block after it.
pub const V2_FIXED_LEN: usize = 16;

/// The longest version 2 block (addresses and TLVs) a [`ProxyParser`] accepts unless told
/// otherwise: see the module's section on bounds.
pub const DEFAULT_MAX_V2_LENGTH: u16 = 1024;

/// A parsed PROXY header: where the relayed connection came from, or that the real
/// connection's addresses apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyHeader {
    /// The proxy relayed a client's connection (version 1 `TCP4`/`TCP6`; version 2 `PROXY`
    /// over `AF_INET`/`AF_INET6` with `STREAM` or `DGRAM`).
    ///
    /// Both addresses have the same family. Parsed IPv6 addresses have a flow info and scope
    /// ID of 0; the writers do not carry them.
    Proxied {
        /// TCP (version 1 is always TCP) or UDP.
        transport: Transport,
        /// The client's address: the connection's real origin.
        source: SocketAddr,
        /// The address the client connected to (on the proxy).
        destination: SocketAddr,
    },
    /// Version 2 `LOCAL`: the proxy's own connection, such as a health check. Use the real
    /// connection's addresses. The address block and its family are ignored, as section 2.2
    /// says, so [`ProxyParser::tlvs`] yields nothing for it.
    Local,
    /// Version 1 `UNKNOWN`, or version 2 `PROXY` with an address family or transport that
    /// carries no IP address and port (`AF_UNSPEC`, `AF_UNIX`, the `UNSPEC` transport). Accept
    /// the connection and use the real connection's addresses (sections 2.1 and 2.2).
    Unknown,
}

/// The transport of a [`ProxyHeader::Proxied`] connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `SOCK_STREAM`: TCP.
    Stream,
    /// `SOCK_DGRAM`: UDP (version 2 only).
    Datagram,
}

/// Which version of the protocol a header used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// The human-readable line (section 2.1).
    V1,
    /// The binary format (section 2.2).
    V2,
}

/// What the parser made of the octets so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Progress {
    /// Nothing wrong so far, but the header is not complete: read more and feed it.
    NeedMore {
        /// At least this many more octets (at least 1) are needed before anything changes;
        /// reading exactly this many never reads past the header's end.
        at_least: usize,
        /// Within this many more octets the header is complete or refused: the parser never
        /// asks for more than the maximum header size.
        at_most: usize,
    },
    /// The header is complete.
    Done {
        /// What it says.
        header: ProxyHeader,
        /// In which version.
        version: Version,
        /// How many octets of the input just given the header took: the input after them
        /// belongs to the protocol that follows and is for the caller to hand on. For
        /// [`parse`] it is the header's length; for [`ProxyParser::feed`] the header's end
        /// within the last chunk (0 when called again after completion).
        consumed: usize,
    },
}

/// Why the octets are not a PROXY header. Whatever the variant, close the connection with
/// nothing answered; the variant is for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ProxyError {
    /// The first octets match neither `PROXY` nor the version 2 signature: the peer does not
    /// send the header (a client connected directly, bypassing the proxy, or the proxy is not
    /// configured to send it).
    #[error("not a PROXY protocol header")]
    NotProxy,
    /// Version 1 line without CRLF within its first 107 octets.
    #[error("PROXY v1 line without CRLF within 107 octets")]
    V1TooLong,
    /// Version 1 line that does not have the specified shape: a separator other than exactly
    /// one space, a missing or extra field, or no space after `PROXY`.
    #[error("malformed PROXY v1 line")]
    V1Syntax,
    /// Version 1 protocol other than `TCP4`, `TCP6` or `UNKNOWN` (case matters).
    #[error("PROXY v1 line with a protocol other than TCP4, TCP6 or UNKNOWN")]
    V1Protocol,
    /// Version 1 address that is not in the canonical form of the announced family (dotted
    /// quad without leading zeros for `TCP4`, RFC 4291 text for `TCP6`).
    #[error("PROXY v1 line with an address not of its protocol's family")]
    V1Address,
    /// Version 1 port that is not a decimal number 0 to 65535 without leading zeros.
    #[error("PROXY v1 line with a bad port")]
    V1Port,
    /// Version 2 header whose version (the high 4 bits of the 13th octet) is not 2.
    #[error("PROXY v2 header with version {version}")]
    V2Version {
        /// The version found.
        version: u8,
    },
    /// Version 2 command other than `LOCAL` (0) or `PROXY` (1).
    #[error("PROXY v2 header with command {command}")]
    V2Command {
        /// The command found.
        command: u8,
    },
    /// Version 2 `PROXY` command with an address family above 3 (`AF_UNIX`) or a transport
    /// above 2 (`DGRAM`): the specification says to reject them.
    #[error("PROXY v2 header with address family and transport {byte:#04x}")]
    V2Family {
        /// The 14th octet: family in the high 4 bits, transport in the low 4.
        byte: u8,
    },
    /// Version 2 header declaring a longer block than the parser accepts.
    #[error("PROXY v2 header declares {length} octets, more than the {max} accepted")]
    V2TooLong {
        /// The declared length of the block after the fixed 16 octets.
        length: u16,
        /// The most the parser accepts.
        max: u16,
    },
    /// Version 2 header declaring a block too short for the addresses of its family.
    #[error(
        "PROXY v2 header declares {length} octets, too few for its {needed} octets of addresses"
    )]
    V2AddressTruncated {
        /// The declared length.
        length: u16,
        /// What the family's addresses take.
        needed: u16,
    },
    /// Version 2 TLV that does not fit in the declared length: fewer than 3 octets left for
    /// its type and length, or a value running past the end.
    #[error("PROXY v2 TLV at octet {offset} runs past the declared length")]
    V2Tlv {
        /// Where the TLV starts, counted from the header's first octet.
        offset: usize,
    },
}

/// Why [`ProxyHeader::write_v1`] or [`ProxyHeader::write_v2`] cannot express a header.
/// Nothing is written then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WriteError {
    /// Source and destination are of different families (IPv4 and IPv6): neither version can
    /// say that. Map the IPv4 one to IPv6 (`::ffff:a.b.c.d`) first, if that is meant.
    #[error("source and destination addresses of different families")]
    MixedFamilies,
    /// Version 1 has no `LOCAL`: use version 2, or `Unknown`.
    #[error("PROXY v1 cannot say LOCAL")]
    V1Local,
    /// Version 1 carries TCP only.
    #[error("PROXY v1 cannot say DGRAM")]
    V1Datagram,
    /// Addresses and TLVs take more than the 65535 octets a version 2 header can declare.
    #[error("PROXY v2 block longer than 65535 octets")]
    V2TooLong,
}

/// A version 2 TLV (section 2.2): a type and a value of up to 65535 octets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tlv<'a> {
    /// The type: one of the constants here, or another value.
    pub kind: u8,
    /// The value.
    pub value: &'a [u8],
}

impl Tlv<'_> {
    /// `PP2_TYPE_ALPN`: the application protocol negotiated (a copy of TLS ALPN).
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (TLS SNI), UTF-8.
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: a CRC32c of the header (not verified by this parser).
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding, to be ignored.
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: an opaque ID of the connection, up to 128 octets.
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: the client's TLS session, with sub-TLVs.
    pub const SSL: u8 = 0x20;
    /// `PP2_TYPE_NETNS`: the network namespace's name.
    pub const NETNS: u8 = 0x30;
}

/// The TLVs of a version 2 header, in order: from [`ProxyParser::tlvs`] or [`tlvs`].
#[derive(Clone, Debug)]
pub struct Tlvs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        let [kind, high, low, rest @ ..] = self.rest else {
            self.rest = &[];
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let Some((value, rest)) = rest.split_at_checked(len) else {
            self.rest = &[];
            return None;
        };
        self.rest = rest;
        Some(Tlv { kind: *kind, value })
    }
}

impl core::iter::FusedIterator for Tlvs<'_> {}

/// The TLVs of a complete version 2 `PROXY` header, such as `&input[..consumed]` after
/// [`parse`] said [`Progress::Done`]. Nothing for anything else (version 1, `LOCAL`); on
/// octets [`parse`] did not accept, it stops at the first TLV that does not fit.
pub fn tlvs(header: &[u8]) -> Tlvs<'_> {
    let empty = Tlvs { rest: &[] };
    let Some((fixed, block)) = header.split_first_chunk::<V2_FIXED_LEN>() else {
        return empty;
    };
    if fixed[..12] != V2_SIGNATURE || fixed[12] != 0x21 {
        return empty;
    }
    let length = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let (Some(addresses), Some(block)) = (address_len(fixed[13]), block.get(..length)) else {
        return empty;
    };
    Tlvs {
        rest: block.get(addresses..).unwrap_or(&[]),
    }
}

/// Judges the front of `input`: a complete header, not yet complete, or not a header.
/// Stateless; `max_v2_length` bounds a version 2 block as [`ProxyParser::with_max_v2_length`]
/// does.
///
/// It looks at no more than the header (at most [`V1_MAX_LEN`] or [`V2_FIXED_LEN`] +
/// `max_v2_length` octets), so a caller may call it on a receive buffer that holds the
/// protocol's octets after the header, and again on the same buffer grown by a read, until it
/// is no longer [`Progress::NeedMore`]. The answer for a buffer that holds a decided header is
/// the same as for any longer buffer starting with it.
///
/// ```
/// use mail_wire::proxy::{parse, Progress, ProxyError, ProxyHeader, Version, DEFAULT_MAX_V2_LENGTH};
///
/// let buffer = b"PROXY UNKNOWN\r\nQUIT\r\n";
/// assert_eq!(
///     parse(buffer, DEFAULT_MAX_V2_LENGTH),
///     Ok(Progress::Done { header: ProxyHeader::Unknown, version: Version::V1, consumed: 15 })
/// );
/// assert_eq!(
///     parse(b"PROXY UNKN", DEFAULT_MAX_V2_LENGTH),
///     Ok(Progress::NeedMore { at_least: 5, at_most: 97 })
/// );
/// assert_eq!(parse(b"EHLO", DEFAULT_MAX_V2_LENGTH), Err(ProxyError::NotProxy));
/// ```
pub fn parse(input: &[u8], max_v2_length: u16) -> Result<Progress, ProxyError> {
    match input.first() {
        None => Ok(Progress::NeedMore {
            at_least: V1_MIN_LEN,
            at_most: max_header_len(max_v2_length),
        }),
        Some(b'P') => parse_v1(input),
        Some(b'\r') => parse_v2(input, max_v2_length),
        Some(_) => Err(ProxyError::NotProxy),
    }
}

/// The most octets a header can take with `max_v2_length`.
fn max_header_len(max_v2_length: u16) -> usize {
    V1_MAX_LEN.max(V2_FIXED_LEN + usize::from(max_v2_length))
}

/// Version 1: decided at the first CRLF within 107 octets, or when there can be none.
fn parse_v1(input: &[u8]) -> Result<Progress, ProxyError> {
    let signature = input.len().min(V1_SIGNATURE.len());
    if input[..signature] != V1_SIGNATURE[..signature] {
        return Err(ProxyError::NotProxy);
    }
    let window = &input[..input.len().min(V1_MAX_LEN)];
    if let Some(cr) = window.windows(2).position(|pair| pair == b"\r\n") {
        // The signature holds no CR, so the line goes on past it.
        let header = parse_v1_line(&window[V1_SIGNATURE.len()..cr])?;
        return Ok(Progress::Done {
            header,
            version: Version::V1,
            consumed: cr + 2,
        });
    }
    let ends_in_cr = input.last() == Some(&b'\r');
    if input.len() >= V1_MAX_LEN || (input.len() == V1_MAX_LEN - 1 && !ends_in_cr) {
        return Err(ProxyError::V1TooLong);
    }
    Ok(Progress::NeedMore {
        at_least: V1_MIN_LEN
            .saturating_sub(input.len())
            .max(if ends_in_cr { 1 } else { 2 }),
        at_most: V1_MAX_LEN - input.len(),
    })
}

/// The line between `PROXY` and CRLF.
fn parse_v1_line(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let rest = line.strip_prefix(b" ").ok_or(ProxyError::V1Syntax)?;
    // "the receiver must ignore anything presented before the CRLF is found"
    if rest == b"UNKNOWN" || rest.starts_with(b"UNKNOWN ") {
        return Ok(ProxyHeader::Unknown);
    }
    let (protocol, rest) = match rest.iter().position(|&b| b == b' ') {
        Some(space) => (&rest[..space], Some(&rest[space + 1..])),
        None => (rest, None),
    };
    let v6 = match protocol {
        b"" => return Err(ProxyError::V1Syntax),
        b"TCP4" => false,
        b"TCP6" => true,
        _ => return Err(ProxyError::V1Protocol),
    };
    let mut fields = rest.ok_or(ProxyError::V1Syntax)?.split(|&b| b == b' ');
    let (Some(source), Some(destination), Some(source_port), Some(destination_port), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(ProxyError::V1Syntax);
    };
    if [source, destination, source_port, destination_port]
        .iter()
        .any(|field| field.is_empty())
    {
        return Err(ProxyError::V1Syntax);
    }
    let (source, destination) = if v6 {
        (
            SocketAddr::V6(SocketAddrV6::new(
                v1_ip(source)?,
                v1_port(source_port)?,
                0,
                0,
            )),
            SocketAddr::V6(SocketAddrV6::new(
                v1_ip(destination)?,
                v1_port(destination_port)?,
                0,
                0,
            )),
        )
    } else {
        (
            SocketAddr::V4(SocketAddrV4::new(v1_ip(source)?, v1_port(source_port)?)),
            SocketAddr::V4(SocketAddrV4::new(
                v1_ip(destination)?,
                v1_port(destination_port)?,
            )),
        )
    };
    Ok(ProxyHeader::Proxied {
        transport: Transport::Stream,
        source,
        destination,
    })
}

/// An address of a version 1 line. core's parsers are as strict as section 2.1: exactly four
/// decimal octets without leading zeros; RFC 4291 text with at most one `::`.
fn v1_ip<A: FromStr>(field: &[u8]) -> Result<A, ProxyError> {
    core::str::from_utf8(field)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(ProxyError::V1Address)
}

/// A port of a version 1 line: 0 to 65535, no leading zeros.
fn v1_port(field: &[u8]) -> Result<u16, ProxyError> {
    if field.len() > 5 || (field.len() > 1 && field[0] == b'0') {
        return Err(ProxyError::V1Port);
    }
    crate::decimal::parse_u32(field)
        .and_then(|port| u16::try_from(port).ok())
        .ok_or(ProxyError::V1Port)
}

/// The octets of a version 2 address block for the family in the high 4 bits of `byte`.
fn address_len(byte: u8) -> Option<usize> {
    match byte >> 4 {
        0x0 => Some(0),
        0x1 => Some(12),
        0x2 => Some(36),
        0x3 => Some(216),
        _ => None,
    }
}

/// Version 2: each check at the octet it needs, in order, then the block once complete.
fn parse_v2(input: &[u8], max_v2_length: u16) -> Result<Progress, ProxyError> {
    let signature = input.len().min(V2_SIGNATURE.len());
    if input[..signature] != V2_SIGNATURE[..signature] {
        return Err(ProxyError::NotProxy);
    }
    let need_fixed = Progress::NeedMore {
        at_least: V2_FIXED_LEN.saturating_sub(input.len()),
        at_most: (V2_FIXED_LEN + usize::from(max_v2_length)).saturating_sub(input.len()),
    };
    let Some(&version_command) = input.get(12) else {
        return Ok(need_fixed);
    };
    if version_command >> 4 != 2 {
        return Err(ProxyError::V2Version {
            version: version_command >> 4,
        });
    }
    let local = match version_command & 0x0F {
        0x0 => true,
        0x1 => false,
        command => return Err(ProxyError::V2Command { command }),
    };
    let Some(&family) = input.get(13) else {
        return Ok(need_fixed);
    };
    // LOCAL: "discard the protocol block including the family which is ignored".
    let addresses = if local {
        0
    } else {
        match address_len(family) {
            Some(len) if family & 0x0F <= 2 => len,
            _ => return Err(ProxyError::V2Family { byte: family }),
        }
    };
    let Some(&[high, low]) = input.get(14..16) else {
        return Ok(need_fixed);
    };
    let length = u16::from_be_bytes([high, low]);
    if length > max_v2_length {
        return Err(ProxyError::V2TooLong {
            length,
            max: max_v2_length,
        });
    }
    if usize::from(length) < addresses {
        return Err(ProxyError::V2AddressTruncated {
            length,
            needed: addresses as u16,
        });
    }
    let total = V2_FIXED_LEN + usize::from(length);
    let Some(block) = input.get(V2_FIXED_LEN..total) else {
        let missing = total - input.len();
        return Ok(Progress::NeedMore {
            at_least: missing,
            at_most: missing,
        });
    };
    let header = if local {
        ProxyHeader::Local
    } else {
        check_tlvs(&block[addresses..], V2_FIXED_LEN + addresses)?;
        v2_addresses(family, block)
    };
    Ok(Progress::Done {
        header,
        version: Version::V2,
        consumed: total,
    })
}

/// Every TLV of `tlvs` (which starts at `offset` in the header) fits.
fn check_tlvs(mut tlvs: &[u8], mut offset: usize) -> Result<(), ProxyError> {
    while let Some(header) = tlvs.first_chunk::<3>() {
        let len = 3 + usize::from(u16::from_be_bytes([header[1], header[2]]));
        if len > tlvs.len() {
            return Err(ProxyError::V2Tlv { offset });
        }
        tlvs = &tlvs[len..];
        offset += len;
    }
    if tlvs.is_empty() {
        Ok(())
    } else {
        Err(ProxyError::V2Tlv { offset })
    }
}

/// The header a `PROXY` command's checked block says.
fn v2_addresses(family: u8, block: &[u8]) -> ProxyHeader {
    let transport = match family & 0x0F {
        0x1 => Transport::Stream,
        0x2 => Transport::Datagram,
        _ => return ProxyHeader::Unknown,
    };
    let port = |at: usize| u16::from_be_bytes([block[at], block[at + 1]]);
    let (source, destination) = match family >> 4 {
        0x1 => {
            let ip = |at: usize| {
                let octets: [u8; 4] = block[at..at + 4].try_into().expect("4 octets");
                Ipv4Addr::from(octets)
            };
            (
                SocketAddr::V4(SocketAddrV4::new(ip(0), port(8))),
                SocketAddr::V4(SocketAddrV4::new(ip(4), port(10))),
            )
        }
        0x2 => {
            let ip = |at: usize| {
                let octets: [u8; 16] = block[at..at + 16].try_into().expect("16 octets");
                Ipv6Addr::from(octets)
            };
            (
                SocketAddr::V6(SocketAddrV6::new(ip(0), port(32), 0, 0)),
                SocketAddr::V6(SocketAddrV6::new(ip(16), port(34), 0, 0)),
            )
        }
        // AF_UNSPEC and AF_UNIX carry no IP address.
        _ => return ProxyHeader::Unknown,
    };
    ProxyHeader::Proxied {
        transport,
        source,
        destination,
    }
}

/// Reads a PROXY header from input split anywhere, holding no more than one header's octets.
///
/// Feed it every read from the connection until it says [`Progress::Done`] (then hand the
/// rest of that read to the protocol) or an error (then close the connection). Once it has
/// said either, it says the same again for any later input, consuming nothing.
#[derive(Clone, Debug)]
pub struct ProxyParser {
    max_v2_length: u16,
    /// The header's octets so far; after completion, exactly the header.
    buffer: Vec<u8>,
    /// How many more octets to take before judging again: at most what may still belong to
    /// the header.
    room: usize,
    outcome: Option<Result<(ProxyHeader, Version), ProxyError>>,
}

impl Default for ProxyParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyParser {
    /// A parser for version 1 and version 2 headers, accepting version 2 blocks of up to
    /// [`DEFAULT_MAX_V2_LENGTH`] octets.
    pub fn new() -> Self {
        Self {
            max_v2_length: DEFAULT_MAX_V2_LENGTH,
            buffer: Vec::new(),
            // The first octet tells the version, and so how much more may follow.
            room: 1,
            outcome: None,
        }
    }

    /// Accepts version 2 blocks (addresses and TLVs) of up to `max` octets (at least 216
    /// to accept every address family; up to 65535). A longer declaration is
    /// [`ProxyError::V2TooLong`]. Call it before feeding anything.
    #[must_use]
    pub fn with_max_v2_length(mut self, max: u16) -> Self {
        self.max_v2_length = max;
        self
    }

    /// The most octets a header can take, and so the most this parser ever holds:
    /// [`V1_MAX_LEN`] or [`V2_FIXED_LEN`] + the version 2 maximum, whichever is larger.
    pub fn max_header_len(&self) -> usize {
        max_header_len(self.max_v2_length)
    }

    /// The octets of the header received so far (after completion, the whole header).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Takes the next octets of the connection, split anywhere. Octets past the header's end
    /// are not taken: on [`Progress::Done`], `input[consumed..]` is the protocol's.
    pub fn feed(&mut self, input: &[u8]) -> Result<Progress, ProxyError> {
        if let Some(outcome) = self.outcome {
            return outcome.map(|(header, version)| Progress::Done {
                header,
                version,
                consumed: 0,
            });
        }
        let before = self.buffer.len();
        let mut rest = input;
        if rest.is_empty() {
            return parse(&self.buffer, self.max_v2_length);
        }
        loop {
            let take = rest.len().min(self.room);
            if self.buffer.capacity() - self.buffer.len() < take {
                // Room for the whole header as far as it is known: the buffer never grows
                // past the maximum header size.
                self.buffer.reserve_exact(self.room);
            }
            self.buffer.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            match parse(&self.buffer, self.max_v2_length) {
                Ok(progress @ Progress::NeedMore { at_most, .. }) => {
                    self.room = at_most;
                    if rest.is_empty() {
                        return Ok(progress);
                    }
                }
                Ok(Progress::Done {
                    header,
                    version,
                    consumed,
                }) => {
                    self.buffer.truncate(consumed);
                    self.room = 0;
                    self.outcome = Some(Ok((header, version)));
                    return Ok(Progress::Done {
                        header,
                        version,
                        consumed: consumed - before,
                    });
                }
                Err(error) => {
                    self.buffer = Vec::new();
                    self.room = 0;
                    self.outcome = Some(Err(error));
                    return Err(error);
                }
            }
        }
    }

    /// The complete header's octets, once [`feed`](Self::feed) said [`Progress::Done`] (for
    /// a log, or to check a [`Tlv::CRC32C`]).
    pub fn header_bytes(&self) -> Option<&[u8]> {
        matches!(self.outcome, Some(Ok(_))).then_some(&self.buffer[..])
    }

    /// The TLVs of a complete version 2 `PROXY` header; nothing before completion, for
    /// version 1 and for `LOCAL`.
    pub fn tlvs(&self) -> Tlvs<'_> {
        tlvs(self.header_bytes().unwrap_or(&[]))
    }
}

/// Lets `write!` put text into a [`BufMut`].
struct Text<'a, B>(&'a mut B);

impl<B: BufMut> fmt::Write for Text<'_, B> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.put_slice(text.as_bytes());
        Ok(())
    }
}

impl ProxyHeader {
    /// The client's address, or `None` when the real connection's addresses apply.
    pub fn source(&self) -> Option<SocketAddr> {
        match self {
            Self::Proxied { source, .. } => Some(*source),
            Self::Local | Self::Unknown => None,
        }
    }

    /// The address the client connected to, or `None` when the real connection's addresses
    /// apply.
    pub fn destination(&self) -> Option<SocketAddr> {
        match self {
            Self::Proxied { destination, .. } => Some(*destination),
            Self::Local | Self::Unknown => None,
        }
    }

    /// Appends the header as a version 1 line: `PROXY TCP4 ...`/`PROXY TCP6 ...` with the
    /// addresses in their canonical text (RFC 5952 for IPv6), or `PROXY UNKNOWN` for
    /// [`Unknown`](Self::Unknown). At most [`V1_MAX_LEN`] octets.
    ///
    /// ```
    /// use mail_wire::proxy::{ProxyHeader, Transport};
    ///
    /// let header = ProxyHeader::Proxied {
    ///     transport: Transport::Stream,
    ///     source: "192.168.0.1:56324".parse().unwrap(),
    ///     destination: "192.168.0.11:443".parse().unwrap(),
    /// };
    /// let mut out = Vec::new();
    /// header.write_v1(&mut out).unwrap();
    /// assert_eq!(out, b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    /// ```
    pub fn write_v1<B: BufMut>(&self, out: &mut B) -> Result<(), WriteError> {
        let (source, destination) = match self {
            Self::Unknown => {
                out.put_slice(b"PROXY UNKNOWN\r\n");
                return Ok(());
            }
            Self::Local => return Err(WriteError::V1Local),
            Self::Proxied {
                transport: Transport::Datagram,
                ..
            } => return Err(WriteError::V1Datagram),
            Self::Proxied {
                source,
                destination,
                ..
            } => (source, destination),
        };
        let protocol = match (source, destination) {
            (SocketAddr::V4(_), SocketAddr::V4(_)) => "TCP4",
            (SocketAddr::V6(_), SocketAddr::V6(_)) => "TCP6",
            _ => return Err(WriteError::MixedFamilies),
        };
        // Writing to a BufMut cannot fail.
        let _ = write!(
            Text(out),
            "PROXY {protocol} {} {} {} {}\r\n",
            source.ip(),
            destination.ip(),
            source.port(),
            destination.port()
        );
        Ok(())
    }

    /// Appends the header in version 2, without TLVs. [`Local`](Self::Local) and
    /// [`Unknown`](Self::Unknown) have the family `AF_UNSPEC` and no addresses.
    pub fn write_v2<B: BufMut>(&self, out: &mut B) -> Result<(), WriteError> {
        self.write_v2_with_tlvs(&[], out)
    }

    /// Appends the header in version 2 with `tlvs` after the addresses, in order.
    ///
    /// ```
    /// use mail_wire::proxy::{ProxyHeader, ProxyParser, Tlv};
    ///
    /// let mut out = Vec::new();
    /// let authority = Tlv { kind: Tlv::AUTHORITY, value: b"mx.example" };
    /// ProxyHeader::Unknown.write_v2_with_tlvs(&[authority], &mut out).unwrap();
    /// assert_eq!(out.len(), 16 + 3 + 10);
    ///
    /// let mut parser = ProxyParser::new();
    /// parser.feed(&out).unwrap();
    /// assert_eq!(parser.tlvs().collect::<Vec<_>>(), [authority]);
    /// ```
    pub fn write_v2_with_tlvs<B: BufMut>(
        &self,
        tlvs: &[Tlv<'_>],
        out: &mut B,
    ) -> Result<(), WriteError> {
        let (command, family) = match self {
            Self::Local => (0x20, 0x00),
            Self::Unknown => (0x21, 0x00),
            Self::Proxied {
                transport,
                source,
                destination,
            } => {
                let transport = match transport {
                    Transport::Stream => 0x01,
                    Transport::Datagram => 0x02,
                };
                match (source, destination) {
                    (SocketAddr::V4(_), SocketAddr::V4(_)) => (0x21, 0x10 | transport),
                    (SocketAddr::V6(_), SocketAddr::V6(_)) => (0x21, 0x20 | transport),
                    _ => return Err(WriteError::MixedFamilies),
                }
            }
        };
        let addresses = address_len(family).unwrap_or(0);
        let length = tlvs
            .iter()
            .try_fold(addresses, |sum, tlv| {
                let value = u16::try_from(tlv.value.len()).ok()?;
                (sum + 3 + usize::from(value) <= usize::from(u16::MAX))
                    .then_some(sum + 3 + usize::from(value))
            })
            .ok_or(WriteError::V2TooLong)?;
        out.put_slice(&V2_SIGNATURE);
        out.put_u8(command);
        out.put_u8(family);
        out.put_u16(length as u16);
        if let Self::Proxied {
            source,
            destination,
            ..
        } = self
        {
            match (source, destination) {
                (SocketAddr::V4(source), SocketAddr::V4(destination)) => {
                    out.put_slice(&source.ip().octets());
                    out.put_slice(&destination.ip().octets());
                }
                (SocketAddr::V6(source), SocketAddr::V6(destination)) => {
                    out.put_slice(&source.ip().octets());
                    out.put_slice(&destination.ip().octets());
                }
                _ => unreachable!("families checked above"),
            }
            out.put_u16(source.port());
            out.put_u16(destination.port());
        }
        for tlv in tlvs {
            out.put_u8(tlv.kind);
            out.put_u16(tlv.value.len() as u16);
            out.put_slice(tlv.value);
        }
        Ok(())
    }
}
