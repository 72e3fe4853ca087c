//! The PROXY protocol parser and writers against the specification's examples, the
//! specification's rejections, and properties: split anywhere gives the same answer, the
//! octets after the header stay untouched, the parser stays within its bounds, and what the
//! writers write parses back to the same header.

use core::net::SocketAddr;
use mail_wire::proxy::{
    DEFAULT_MAX_V2_LENGTH, Progress, ProxyError, ProxyHeader, ProxyParser, Tlv, Transport,
    V1_MAX_LEN, V2_SIGNATURE, Version, WriteError, parse, tlvs,
};
use proptest::prelude::*;

const TRAILER: &[u8] = b"EHLO client.example\r\n";

/// What a parser made of a whole input, wherever it was split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// The header and its length from the input's start.
    Done(ProxyHeader, Version, usize),
    NeedMore {
        at_least: usize,
        at_most: usize,
    },
    Failed(ProxyError),
}

fn one_shot(input: &[u8], max: u16) -> Outcome {
    match parse(input, max) {
        Ok(Progress::Done {
            header,
            version,
            consumed,
        }) => {
            assert!(consumed <= input.len());
            Outcome::Done(header, version, consumed)
        }
        Ok(Progress::NeedMore { at_least, at_most }) => Outcome::NeedMore { at_least, at_most },
        Err(error) => Outcome::Failed(error),
    }
}

/// Feeds `input` in chunks ending at `cuts` (ascending, within the input) and at its end.
fn chunked(input: &[u8], cuts: &[usize], max: u16) -> Outcome {
    let mut parser = ProxyParser::new().with_max_v2_length(max);
    let mut start = 0;
    for &end in cuts.iter().chain([input.len()].iter()) {
        let chunk = &input[start..end];
        match parser.feed(chunk) {
            Ok(Progress::Done {
                header,
                version,
                consumed,
            }) => {
                assert!(
                    consumed <= chunk.len(),
                    "consumed {consumed} of {}",
                    chunk.len()
                );
                assert_eq!(parser.buffered(), start + consumed);
                assert_eq!(parser.header_bytes(), Some(&input[..start + consumed]));
                return Outcome::Done(header, version, start + consumed);
            }
            Ok(Progress::NeedMore { at_least, at_most }) => {
                assert!(parser.buffered() <= parser.max_header_len());
                assert_eq!(parser.buffered(), end);
                if end == input.len() {
                    return Outcome::NeedMore { at_least, at_most };
                }
            }
            Err(error) => {
                assert_eq!(parser.buffered(), 0, "nothing kept after an error");
                return Outcome::Failed(error);
            }
        }
        start = end;
    }
    unreachable!("the last chunk ends the input")
}

/// Feeds `input` one octet at a time, checking the promises of every `NeedMore` against
/// where the header turned out to end or be refused.
fn bytewise(input: &[u8], max: u16) -> Outcome {
    let mut parser = ProxyParser::new().with_max_v2_length(max);
    let mut waits = vec![(0, 15, parser.max_header_len())];
    let mut outcome = None;
    for (at, octet) in input.iter().enumerate() {
        match parser.feed(core::slice::from_ref(octet)) {
            Ok(Progress::Done {
                header,
                version,
                consumed,
            }) => {
                assert_eq!(consumed, 1);
                outcome = Some(Outcome::Done(header, version, at + 1));
                break;
            }
            Ok(Progress::NeedMore { at_least, at_most }) => {
                assert!(at_least >= 1 && at_least <= at_most, "{at_least} {at_most}");
                assert!(at + 1 + at_most <= parser.max_header_len());
                waits.push((at + 1, at_least, at_most));
            }
            Err(error) => {
                outcome = Some(Outcome::Failed(error));
                break;
            }
        }
    }
    let outcome = outcome.unwrap_or_else(|| {
        let (_, at_least, at_most) = *waits.last().unwrap();
        Outcome::NeedMore { at_least, at_most }
    });
    let decided_at = match outcome {
        Outcome::Done(.., len) => Some(len),
        Outcome::Failed(_) => Some(waits.last().unwrap().0 + 1),
        Outcome::NeedMore { .. } => None,
    };
    if let Some(decided_at) = decided_at {
        for &(held, at_least, at_most) in &waits {
            assert!(
                decided_at <= held + at_most,
                "decided at {decided_at}, promised by {held} + {at_most}"
            );
            if let Outcome::Done(.., len) = outcome {
                assert!(
                    held + at_least <= len,
                    "{held} + {at_least} reads past the header's {len}"
                );
            }
        }
    }
    outcome
}

/// Every way of splitting `input` gives the answer of the whole: at each single cut, one
/// octet at a time, and in one piece. Returns that answer.
fn agreed(input: &[u8], max: u16) -> Outcome {
    let whole = one_shot(input, max);
    assert_eq!(chunked(input, &[], max), whole, "in one piece");
    assert_eq!(bytewise(input, max), whole, "one octet at a time");
    for cut in 0..=input.len() {
        assert_eq!(chunked(input, &[cut], max), whole, "cut at {cut}");
    }
    whole
}

fn with_trailer(header: &[u8]) -> Vec<u8> {
    [header, TRAILER].concat()
}

fn tcp(source: &str, destination: &str) -> ProxyHeader {
    ProxyHeader::Proxied {
        transport: Transport::Stream,
        source: source.parse().unwrap(),
        destination: destination.parse().unwrap(),
    }
}

/// Checks that `header` parses to `expected` with the trailer left over, however split.
fn assert_parses(header: &[u8], expected: ProxyHeader, version: Version) {
    let input = with_trailer(header);
    assert_eq!(
        agreed(&input, DEFAULT_MAX_V2_LENGTH),
        Outcome::Done(expected, version, header.len()),
        "{:?}",
        String::from_utf8_lossy(header)
    );
}

fn assert_refused(input: &[u8], error: ProxyError) {
    assert_eq!(
        agreed(input, DEFAULT_MAX_V2_LENGTH),
        Outcome::Failed(error),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        agreed(&with_trailer(input), DEFAULT_MAX_V2_LENGTH),
        Outcome::Failed(error),
        "{:?} with a trailer",
        String::from_utf8_lossy(input)
    );
}

fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(command);
    out.push(family);
    out.extend_from_slice(&(block.len() as u16).to_be_bytes());
    out.extend_from_slice(block);
    out
}

const TCP4_BLOCK: [u8; 12] = [192, 0, 2, 10, 198, 51, 100, 1, 0xDC, 0x04, 0, 25];

#[test]
fn v1_longest_tcp4_line_from_the_spec() {
    let line = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    assert_eq!(line.len(), 56);
    assert_parses(
        line,
        tcp("255.255.255.255:65535", "255.255.255.255:65535"),
        Version::V1,
    );
}

#[test]
fn v1_longest_tcp6_line_from_the_spec() {
    let line = b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(line.len(), 104);
    let all = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
    assert_parses(line, tcp(all, all), Version::V1);
}

#[test]
fn v1_unknown_short_form_from_the_spec() {
    assert_parses(b"PROXY UNKNOWN\r\n", ProxyHeader::Unknown, Version::V1);
}

#[test]
fn v1_unknown_worst_case_is_107_octets() {
    let line = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_eq!(line.len(), V1_MAX_LEN);
    assert_parses(line, ProxyHeader::Unknown, Version::V1);
    // "the receiver must ignore anything presented before the CRLF"
    assert_parses(
        b"PROXY UNKNOWN \0\x7f\xff\r bare CR, bare\n LF\r\n",
        ProxyHeader::Unknown,
        Version::V1,
    );
}

#[test]
fn v1_spec_example_leaves_the_http_request() {
    let input = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
    let Outcome::Done(header, Version::V1, len) = agreed(input, DEFAULT_MAX_V2_LENGTH) else {
        panic!("done");
    };
    assert_eq!(header, tcp("192.168.0.1:56324", "192.168.0.11:443"));
    assert_eq!(header.source(), Some("192.168.0.1:56324".parse().unwrap()));
    assert_eq!(
        &input[len..],
        b"GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
    );
}

#[test]
fn v1_tcp6_takes_rfc_4291_text() {
    for (text, address) in [
        ("2001:db8::1", "[2001:db8::1]:1"),
        ("2001:DB8:0:0:0:0:0:1", "[2001:db8::1]:1"),
        ("::", "[::]:1"),
        ("::ffff:192.0.2.1", "[::ffff:192.0.2.1]:1"),
        ("fe80::1:2", "[fe80::1:2]:1"),
    ] {
        let line = format!("PROXY TCP6 {text} {text} 1 1\r\n");
        assert_parses(line.as_bytes(), tcp(address, address), Version::V1);
    }
    assert_parses(
        b"PROXY TCP4 0.0.0.0 10.0.0.1 0 25\r\n",
        tcp("0.0.0.0:0", "10.0.0.1:25"),
        Version::V1,
    );
}

#[test]
fn v1_refuses_a_line_without_crlf_within_107_octets() {
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(V1_MAX_LEN, b'f');
    assert_refused(&long, ProxyError::V1TooLong);
    long.extend_from_slice(b"\r\n");
    assert_refused(&long, ProxyError::V1TooLong);
    // At 106 octets without a CR the CRLF can no longer fit: refused without waiting.
    assert_eq!(
        one_shot(&long[..V1_MAX_LEN - 1], DEFAULT_MAX_V2_LENGTH),
        Outcome::Failed(ProxyError::V1TooLong)
    );
    // ... but a CR there may still be followed by its LF in the 107th octet.
    let mut edge = long[..V1_MAX_LEN - 2].to_vec();
    edge.push(b'\r');
    assert_eq!(
        one_shot(&edge, DEFAULT_MAX_V2_LENGTH),
        Outcome::NeedMore {
            at_least: 1,
            at_most: 1
        }
    );
    edge.push(b'\n');
    assert_parses(&edge, ProxyHeader::Unknown, Version::V1);
    // A bare LF or CR never ends the line.
    let mut bare_lf = b"PROXY UNKNOWN\n".to_vec();
    bare_lf.resize(V1_MAX_LEN, b'x');
    assert_refused(&bare_lf, ProxyError::V1TooLong);
    let mut bare_cr = b"PROXY UNKNOWN\r".to_vec();
    bare_cr.resize(V1_MAX_LEN, b'x');
    assert_refused(&bare_cr, ProxyError::V1TooLong);
}

#[test]
fn v1_refuses_bad_addresses() {
    for line in [
        "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.004 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.4.5 1.2.3.4 1 2\r\n",
        "PROXY TCP4 256.1.1.1 1.2.3.4 1 2\r\n",
        "PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
        "PROXY TCP4 0x7f.0.0.1 1.2.3.4 1 2\r\n",
        "PROXY TCP4 localhost 1.2.3.4 1 2\r\n",
        "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        "PROXY TCP6 ::1 1::2::3 1 2\r\n",
        "PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n",
        "PROXY TCP6 ::1 12345::1 1 2\r\n",
        "PROXY TCP6 [::1] ::1 1 2\r\n",
        "PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n",
        "PROXY TCP6 ::1 ::ffff:01.2.3.4 1 2\r\n",
        "PROXY TCP6 ::1 \u{e9}::1 1 2\r\n",
    ] {
        assert_refused(line.as_bytes(), ProxyError::V1Address);
    }
    assert_refused(
        b"PROXY TCP4 1.2.3.4 \xff.2.3.4 1 2\r\n",
        ProxyError::V1Address,
    );
}

#[test]
fn v1_refuses_bad_ports() {
    for port in [
        "65536", "99999", "100000", "080", "00", "-1", "+1", "1e3", "0x19", "２５",
    ] {
        let line = format!("PROXY TCP4 1.2.3.4 5.6.7.8 {port} 25\r\n");
        assert_refused(line.as_bytes(), ProxyError::V1Port);
        let line = format!("PROXY TCP6 ::1 ::2 25 {port}\r\n");
        assert_refused(line.as_bytes(), ProxyError::V1Port);
    }
    // The line after a bare LF is not part of the port.
    assert_refused(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nQUIT\r\n",
        ProxyError::V1Port,
    );
    assert_refused(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nQUIT x\r\n",
        ProxyError::V1Syntax,
    );
    assert_refused(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", ProxyError::V1Port);
}

#[test]
fn v1_refuses_bad_syntax() {
    for line in [
        "PROXY\r\n",
        "PROXY \r\n",
        "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP4\r\n",
        "PROXY TCP4 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
        "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
        "PROXY\tUNKNOWN\r\n",
    ] {
        assert_refused(line.as_bytes(), ProxyError::V1Syntax);
    }
}

#[test]
fn v1_refuses_other_protocols() {
    for line in [
        "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
        "PROXY UNKNOWNX\r\n",
        "PROXY unknown\r\n",
        "PROXY TCP\r\n",
    ] {
        assert_refused(line.as_bytes(), ProxyError::V1Protocol);
    }
}

#[test]
fn not_proxy_at_the_first_wrong_octet() {
    for input in [
        &b"EHLO client.example\r\n"[..],
        b"ehlo",
        b"GET / HTTP/1.1\r\n",
        b"\x16\x03\x01",
        b"proxy TCP4",
        b"PROXX",
        b"P\r\n",
        b"\r\nEHLO",
        b"\r\n\r\n\0\r\nQUIX\n!",
        b"\r\n\r\n\x01",
    ] {
        assert_refused(input, ProxyError::NotProxy);
    }
    // The first octet that differs decides: no waiting for more.
    assert_eq!(
        one_shot(b"PRX", DEFAULT_MAX_V2_LENGTH),
        Outcome::Failed(ProxyError::NotProxy)
    );
    assert_eq!(
        one_shot(b"E", DEFAULT_MAX_V2_LENGTH),
        Outcome::Failed(ProxyError::NotProxy)
    );
    assert_eq!(
        one_shot(b"", DEFAULT_MAX_V2_LENGTH),
        Outcome::NeedMore {
            at_least: 15,
            at_most: 16 + 1024
        }
    );
}

#[test]
fn v2_local_health_check() {
    let local = v2(0x20, 0x00, &[]);
    assert_eq!(local.len(), 16);
    assert_parses(&local, ProxyHeader::Local, Version::V2);
    let mut written = Vec::new();
    ProxyHeader::Local.write_v2(&mut written).unwrap();
    assert_eq!(written, local);
}

#[test]
fn v2_local_ignores_the_family_and_the_block() {
    // "discard the protocol block including the family which is ignored"
    assert_parses(
        &v2(0x20, 0x11, &TCP4_BLOCK),
        ProxyHeader::Local,
        Version::V2,
    );
    assert_parses(
        &v2(0x20, 0xFF, b"\x01\x02"),
        ProxyHeader::Local,
        Version::V2,
    );
    let mut parser = ProxyParser::new();
    parser.feed(&v2(0x20, 0x00, b"\x04\x00\x00")).unwrap();
    assert_eq!(parser.tlvs().count(), 0);
}

#[test]
fn v2_tcp4_with_tlvs() {
    let ssl = b"\x01\x00\x00\x00\x00\x21\x00\x07TLSv1.3";
    let mut block = TCP4_BLOCK.to_vec();
    for (kind, value) in [
        (Tlv::ALPN, &b"smtp"[..]),
        (Tlv::AUTHORITY, b"mx.example.com"),
        (Tlv::NOOP, b"\0\0"),
        (Tlv::UNIQUE_ID, b"\x8a\x01\x02"),
        (Tlv::SSL, ssl),
        (0xEA, b""),
    ] {
        block.push(kind);
        block.extend_from_slice(&(value.len() as u16).to_be_bytes());
        block.extend_from_slice(value);
    }
    let header = v2(0x21, 0x11, &block);
    let expected = tcp("192.0.2.10:56324", "198.51.100.1:25");
    assert_parses(&header, expected, Version::V2);

    let input = with_trailer(&header);
    let mut parser = ProxyParser::new();
    let Ok(Progress::Done { consumed, .. }) = parser.feed(&input) else {
        panic!()
    };
    assert_eq!(&input[consumed..], TRAILER);
    let found: Vec<(u8, &[u8])> = parser.tlvs().map(|tlv| (tlv.kind, tlv.value)).collect();
    assert_eq!(
        found,
        [
            (Tlv::ALPN, &b"smtp"[..]),
            (Tlv::AUTHORITY, b"mx.example.com"),
            (Tlv::NOOP, b"\0\0"),
            (Tlv::UNIQUE_ID, b"\x8a\x01\x02"),
            (Tlv::SSL, ssl),
            (0xEA, b""),
        ]
    );
    assert!(tlvs(&input[..consumed]).eq(parser.tlvs()));

    let written_tlvs: Vec<Tlv<'_>> = parser.tlvs().collect();
    let mut written = Vec::new();
    expected
        .write_v2_with_tlvs(&written_tlvs, &mut written)
        .unwrap();
    assert_eq!(written, header);
}

#[test]
fn v2_tcp6_and_udp() {
    let mut block = Vec::new();
    block.extend_from_slice(
        &"2001:db8::7"
            .parse::<core::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    block.extend_from_slice(
        &"2001:db8::1"
            .parse::<core::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    block.extend_from_slice(&[0xC0, 0x00, 0x02, 0x4B]);
    let source: SocketAddr = "[2001:db8::7]:49152".parse().unwrap();
    let destination: SocketAddr = "[2001:db8::1]:587".parse().unwrap();
    assert_parses(
        &v2(0x21, 0x21, &block),
        tcp("[2001:db8::7]:49152", "[2001:db8::1]:587"),
        Version::V2,
    );
    let udp6 = ProxyHeader::Proxied {
        transport: Transport::Datagram,
        source,
        destination,
    };
    assert_parses(&v2(0x21, 0x22, &block), udp6, Version::V2);
    let udp4 = ProxyHeader::Proxied {
        transport: Transport::Datagram,
        source: "192.0.2.10:56324".parse().unwrap(),
        destination: "198.51.100.1:25".parse().unwrap(),
    };
    assert_parses(&v2(0x21, 0x12, &TCP4_BLOCK), udp4, Version::V2);
}

#[test]
fn v2_unspec_and_unix_are_unknown() {
    assert_parses(&v2(0x21, 0x00, &[]), ProxyHeader::Unknown, Version::V2);
    assert_parses(
        &v2(0x21, 0x00, b"\xE0\x00\x01x"),
        ProxyHeader::Unknown,
        Version::V2,
    );
    let mut unix = vec![0u8; 216];
    unix[..12].copy_from_slice(b"/run/lb.sock");
    for family in [0x31, 0x32, 0x30] {
        assert_parses(&v2(0x21, family, &unix), ProxyHeader::Unknown, Version::V2);
    }
    // Known families with the UNSPEC transport, or UNSPEC with a transport: no usable address.
    assert_parses(
        &v2(0x21, 0x10, &TCP4_BLOCK),
        ProxyHeader::Unknown,
        Version::V2,
    );
    assert_parses(&v2(0x21, 0x01, &[]), ProxyHeader::Unknown, Version::V2);
    // The TLVs of AF_UNIX come after its 216 octets.
    unix.extend_from_slice(b"\x02\x00\x02mx");
    let mut parser = ProxyParser::new();
    parser.feed(&v2(0x21, 0x31, &unix)).unwrap();
    assert_eq!(
        parser.tlvs().collect::<Vec<_>>(),
        [Tlv {
            kind: 2,
            value: b"mx"
        }]
    );
}

#[test]
fn v2_refuses_other_versions() {
    for (byte, version) in [(0x11, 1), (0x01, 0), (0x31, 3), (0xF1, 15), (0x10, 1)] {
        assert_refused(
            &v2(byte, 0x11, &TCP4_BLOCK),
            ProxyError::V2Version { version },
        );
    }
}

#[test]
fn v2_refuses_unassigned_commands() {
    for command in 2..16 {
        assert_refused(
            &v2(0x20 | command, 0x11, &TCP4_BLOCK),
            ProxyError::V2Command { command },
        );
    }
}

#[test]
fn v2_refuses_unassigned_families_and_transports() {
    for byte in [0x13, 0x1F, 0x41, 0x51, 0xF0, 0x03, 0x33] {
        assert_refused(&v2(0x21, byte, &[0; 216]), ProxyError::V2Family { byte });
    }
}

#[test]
fn v2_refuses_a_length_above_the_maximum() {
    let at_max = v2(
        0x21,
        0x11,
        &[&TCP4_BLOCK[..], &[0xEE, 0x03, 0xF1], &[0; 1009]].concat(),
    );
    assert_eq!(at_max.len(), 16 + 1024);
    assert_parses(
        &at_max,
        tcp("192.0.2.10:56324", "198.51.100.1:25"),
        Version::V2,
    );
    let above = v2(
        0x21,
        0x11,
        &[&TCP4_BLOCK[..], &[0xEE, 0x03, 0xF2], &[0; 1010]].concat(),
    );
    // Refused once the 16 octets are in, without waiting for the block.
    assert_refused(
        &above[..16],
        ProxyError::V2TooLong {
            length: 1025,
            max: 1024,
        },
    );
    assert_refused(
        &above,
        ProxyError::V2TooLong {
            length: 1025,
            max: 1024,
        },
    );
    // A parser configured for more takes it; one configured for less refuses the default's.
    assert_eq!(
        one_shot(&above, u16::MAX),
        Outcome::Done(
            tcp("192.0.2.10:56324", "198.51.100.1:25"),
            Version::V2,
            above.len()
        )
    );
    assert_eq!(
        agreed(&at_max, 216),
        Outcome::Failed(ProxyError::V2TooLong {
            length: 1024,
            max: 216
        })
    );
    let mut parser = ProxyParser::new().with_max_v2_length(u16::MAX);
    assert_eq!(parser.max_header_len(), 16 + 65535);
    let largest = v2(
        0x21,
        0x00,
        &[&[0xEE, 0xFF, 0xFC][..], &[7; 0xFFFC]].concat(),
    );
    assert_eq!(largest.len(), 16 + 65535);
    let input = with_trailer(&largest);
    assert!(matches!(
        parser.feed(&input),
        Ok(Progress::Done { header: ProxyHeader::Unknown, consumed, .. }) if consumed == largest.len()
    ));
    assert_eq!(parser.tlvs().next().unwrap().value.len(), 0xFFFC);
}

#[test]
fn v2_refuses_a_truncated_address_block() {
    assert_refused(
        &v2(0x21, 0x11, &TCP4_BLOCK[..11]),
        ProxyError::V2AddressTruncated {
            length: 11,
            needed: 12,
        },
    );
    assert_refused(
        &v2(0x21, 0x21, &[0; 35]),
        ProxyError::V2AddressTruncated {
            length: 35,
            needed: 36,
        },
    );
    assert_refused(
        &v2(0x21, 0x32, &[0; 108]),
        ProxyError::V2AddressTruncated {
            length: 108,
            needed: 216,
        },
    );
    assert_refused(
        &v2(0x21, 0x12, &[]),
        ProxyError::V2AddressTruncated {
            length: 0,
            needed: 12,
        },
    );
}

#[test]
fn v2_refuses_tlvs_past_the_declared_length() {
    // A value one octet longer than what is left.
    let overrun = v2(0x21, 0x11, &[&TCP4_BLOCK[..], b"\x02\x00\x03mx"].concat());
    assert_refused(&overrun, ProxyError::V2Tlv { offset: 28 });
    // The second TLV overruns.
    let second = v2(
        0x21,
        0x11,
        &[&TCP4_BLOCK[..], b"\x04\x00\x00\x02\xFF\xFFmx"].concat(),
    );
    assert_refused(&second, ProxyError::V2Tlv { offset: 31 });
    // One or two octets left: no room for a TLV's type and length.
    assert_refused(
        &v2(0x21, 0x11, &[&TCP4_BLOCK[..], b"\x04"].concat()),
        ProxyError::V2Tlv { offset: 28 },
    );
    assert_refused(
        &v2(0x21, 0x00, b"\x04\x00\x00\x04\x00"),
        ProxyError::V2Tlv { offset: 19 },
    );
}

#[test]
fn a_truncated_header_needs_more_and_never_reads_past_it() {
    let header = v2(0x21, 0x11, &[&TCP4_BLOCK[..], b"\x02\x00\x02mx"].concat());
    for len in 0..header.len() {
        let Outcome::NeedMore { at_least, at_most } = agreed(&header[..len], DEFAULT_MAX_V2_LENGTH)
        else {
            panic!("{len} octets need more");
        };
        assert!(len + at_least <= header.len());
        if len >= 16 {
            assert_eq!(at_least, header.len() - len);
            assert_eq!(at_most, header.len() - len);
        }
    }
    let line = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\n";
    for len in 0..line.len() {
        let Outcome::NeedMore { at_least, at_most } = agreed(&line[..len], DEFAULT_MAX_V2_LENGTH)
        else {
            panic!("{len} octets need more");
        };
        assert!(len + at_least <= line.len());
        if len > 0 {
            assert_eq!(len + at_most, V1_MAX_LEN);
        }
    }
}

#[test]
fn the_octets_after_the_header_stay_untouched() {
    let mut headers = vec![
        b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\n".to_vec(),
        b"PROXY UNKNOWN\r\n".to_vec(),
        v2(0x20, 0x00, &[]),
        v2(0x21, 0x11, &TCP4_BLOCK),
    ];
    headers.push(v2(
        0x21,
        0x11,
        &[&TCP4_BLOCK[..], b"\x02\x00\x02mx"].concat(),
    ));
    // Pipelined protocol octets that look like another header, or like the end of one.
    for rest in [
        &b"PROXY UNKNOWN\r\n"[..],
        b"\r\n",
        b"\n",
        &V2_SIGNATURE,
        b"",
        b"\x00\xFF",
    ] {
        for header in &headers {
            let input = [&header[..], rest].concat();
            let Outcome::Done(.., len) = agreed(&input, DEFAULT_MAX_V2_LENGTH) else {
                panic!()
            };
            assert_eq!(len, header.len());
            assert_eq!(&input[len..], rest);
            // Fed in two pieces, the second piece's leftover is exactly the protocol's part.
            for cut in 0..len {
                let mut parser = ProxyParser::new();
                assert!(matches!(
                    parser.feed(&input[..cut]),
                    Ok(Progress::NeedMore { .. })
                ));
                let Ok(Progress::Done { consumed, .. }) = parser.feed(&input[cut..]) else {
                    panic!()
                };
                assert_eq!(&input[cut + consumed..], rest);
            }
        }
    }
}

#[test]
fn the_parser_never_holds_more_than_a_header() {
    let mut parser = ProxyParser::new();
    let mut junk = b"PROXY TCP4 ".to_vec();
    junk.resize(100_000, b'1');
    assert_eq!(
        parser.feed(&junk[..50]),
        Ok(Progress::NeedMore {
            at_least: 2,
            at_most: 57
        })
    );
    assert_eq!(parser.buffered(), 50);
    assert_eq!(parser.feed(&junk[50..]), Err(ProxyError::V1TooLong));
    assert_eq!(parser.buffered(), 0);

    // A v1 line in a large read: only the line is kept.
    let mut parser = ProxyParser::new();
    let input = [&b"PROXY UNKNOWN\r\n"[..], &[b'x'; 5000]].concat();
    assert!(matches!(
        parser.feed(&input),
        Ok(Progress::Done { consumed: 15, .. })
    ));
    assert_eq!(parser.header_bytes(), Some(&b"PROXY UNKNOWN\r\n"[..]));

    // A v2 header of the largest accepted length, fed in pieces with more after it.
    let header = v2(0x21, 0x00, &[&[0xEE, 0x03, 0xFD][..], &[1; 1021]].concat());
    let input = [&header[..], &[b'x'; 5000]].concat();
    let mut parser = ProxyParser::new();
    let mut at = 0;
    for piece in input.chunks(333) {
        match parser.feed(piece) {
            Ok(Progress::NeedMore { .. }) => assert!(parser.buffered() <= 16 + 1024),
            Ok(Progress::Done { consumed, .. }) => {
                assert_eq!(at + consumed, header.len());
                break;
            }
            Err(error) => panic!("{error}"),
        }
        at += piece.len();
    }
    assert_eq!(parser.buffered(), 16 + 1024);
}

#[test]
fn the_parser_repeats_its_outcome() {
    let mut parser = ProxyParser::new();
    let done = parser.feed(b"PROXY UNKNOWN\r\nEHLO").unwrap();
    assert!(matches!(done, Progress::Done { consumed: 15, .. }));
    assert_eq!(
        parser.feed(b"more"),
        Ok(Progress::Done {
            header: ProxyHeader::Unknown,
            version: Version::V1,
            consumed: 0
        })
    );
    let mut parser = ProxyParser::new();
    assert_eq!(parser.feed(b"EHLO"), Err(ProxyError::NotProxy));
    assert_eq!(parser.feed(b"PROXY UNKNOWN\r\n"), Err(ProxyError::NotProxy));
    assert_eq!(parser.header_bytes(), None);
    assert_eq!(parser.tlvs().count(), 0);
}

#[test]
fn writers_write_the_specified_octets() {
    let mut out = Vec::new();
    tcp("255.255.255.255:65535", "255.255.255.255:65535")
        .write_v1(&mut out)
        .unwrap();
    assert_eq!(
        out,
        b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"
    );
    let all = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
    let mut out = bytes::BytesMut::new();
    tcp(all, all).write_v1(&mut out).unwrap();
    assert_eq!(out.len(), 104);
    let mut out = Vec::new();
    tcp("[2001:db8:0:0::1]:1", "[::ffff:10.0.0.1]:2")
        .write_v1(&mut out)
        .unwrap();
    assert_eq!(out, b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 2\r\n");
    let mut out = Vec::new();
    ProxyHeader::Unknown.write_v1(&mut out).unwrap();
    assert_eq!(out, b"PROXY UNKNOWN\r\n");

    let mut out = Vec::new();
    tcp("192.0.2.10:56324", "198.51.100.1:25")
        .write_v2(&mut out)
        .unwrap();
    assert_eq!(out, v2(0x21, 0x11, &TCP4_BLOCK));
    let mut out = Vec::new();
    ProxyHeader::Unknown.write_v2(&mut out).unwrap();
    assert_eq!(out, v2(0x21, 0x00, &[]));
}

#[test]
fn writers_refuse_what_their_version_cannot_say() {
    let mixed = tcp("192.0.2.10:1", "[::1]:2");
    let udp = ProxyHeader::Proxied {
        transport: Transport::Datagram,
        source: "192.0.2.10:1".parse().unwrap(),
        destination: "192.0.2.11:2".parse().unwrap(),
    };
    let mut out = Vec::new();
    assert_eq!(mixed.write_v1(&mut out), Err(WriteError::MixedFamilies));
    assert_eq!(mixed.write_v2(&mut out), Err(WriteError::MixedFamilies));
    assert_eq!(
        ProxyHeader::Local.write_v1(&mut out),
        Err(WriteError::V1Local)
    );
    assert_eq!(udp.write_v1(&mut out), Err(WriteError::V1Datagram));
    let big = vec![0; 65_000];
    let tlvs = [
        Tlv {
            kind: 1,
            value: &big,
        },
        Tlv {
            kind: 2,
            value: &big[..600],
        },
    ];
    assert_eq!(
        udp.write_v2_with_tlvs(&tlvs, &mut out),
        Err(WriteError::V2TooLong)
    );
    let huge = vec![0; 70_000];
    assert_eq!(
        ProxyHeader::Local.write_v2_with_tlvs(
            &[Tlv {
                kind: 1,
                value: &huge
            }],
            &mut out
        ),
        Err(WriteError::V2TooLong)
    );
    assert!(out.is_empty(), "nothing written on an error");
    // Exactly 65535 octets fit.
    let fits = [
        Tlv {
            kind: 1,
            value: &big,
        },
        Tlv {
            kind: 2,
            value: &big[..517],
        },
    ];
    udp.write_v2_with_tlvs(&fits, &mut out).unwrap();
    assert_eq!(out.len(), 16 + 65_535);
}

fn address_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
    prop_oneof![
        (
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<[u8; 4]>(),
            any::<u16>()
        )
            .prop_map(|(a, p, b, q)| (SocketAddr::from((a, p)), SocketAddr::from((b, q)))),
        (
            any::<[u8; 16]>(),
            any::<u16>(),
            any::<[u8; 16]>(),
            any::<u16>()
        )
            .prop_map(|(a, p, b, q)| (SocketAddr::from((a, p)), SocketAddr::from((b, q)))),
        // Mostly-zero IPv6 addresses, to exercise `::` and IPv4-mapped text.
        (any::<u16>(), any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(a, b, p, q)| (
            SocketAddr::from(([0, 0, 0, 0, 0, a, (b >> 16) as u16, b as u16], p)),
            SocketAddr::from(([0, 0, 0, 0, 0, 0xffff, (b >> 16) as u16, b as u16], q))
        )),
    ]
}

fn v1_header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        Just(ProxyHeader::Unknown),
        address_pair().prop_map(|(source, destination)| ProxyHeader::Proxied {
            transport: Transport::Stream,
            source,
            destination
        }),
    ]
}

fn v2_header() -> impl Strategy<Value = ProxyHeader> {
    prop_oneof![
        Just(ProxyHeader::Unknown),
        Just(ProxyHeader::Local),
        (address_pair(), any::<bool>()).prop_map(|((source, destination), udp)| {
            ProxyHeader::Proxied {
                transport: if udp {
                    Transport::Datagram
                } else {
                    Transport::Stream
                },
                source,
                destination,
            }
        }),
    ]
}

fn some_tlvs() -> impl Strategy<Value = Vec<(u8, Vec<u8>)>> {
    prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..48)),
        0..8,
    )
}

/// Octets that are often nearly a header: a signature or a written header, then noise.
fn nearly_headers() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..160),
        prop::collection::vec(
            prop::sample::select(&b"PROXY TCP46UNKN 0123456789.:abcdef\r\n"[..]),
            0..120
        )
        .prop_map(|tail| [&b"PROXY "[..], &tail].concat()),
        (
            any::<u8>(),
            any::<u8>(),
            0u16..80,
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(command, family, len, tail)| {
                [
                    &V2_SIGNATURE[..],
                    &[command, family],
                    &len.to_be_bytes(),
                    &tail,
                ]
                .concat()
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn v1_round_trip(header in v1_header()) {
        let mut wire = Vec::new();
        header.write_v1(&mut wire).unwrap();
        prop_assert!(wire.len() <= V1_MAX_LEN);
        let input = with_trailer(&wire);
        prop_assert_eq!(agreed(&input, DEFAULT_MAX_V2_LENGTH), Outcome::Done(header, Version::V1, wire.len()));
    }

    #[test]
    fn v2_round_trip_with_tlvs(header in v2_header(), raw in some_tlvs()) {
        let written: Vec<Tlv<'_>> = raw.iter().map(|(kind, value)| Tlv { kind: *kind, value }).collect();
        let mut wire = Vec::new();
        header.write_v2_with_tlvs(&written, &mut wire).unwrap();
        let input = with_trailer(&wire);
        prop_assert_eq!(agreed(&input, u16::MAX), Outcome::Done(header, Version::V2, wire.len()));
        let mut parser = ProxyParser::new().with_max_v2_length(u16::MAX);
        let Ok(Progress::Done { consumed, .. }) = parser.feed(&input) else { panic!() };
        prop_assert_eq!(&input[consumed..], TRAILER);
        let read: Vec<Tlv<'_>> = parser.tlvs().collect();
        if header == ProxyHeader::Local {
            prop_assert!(read.is_empty());
        } else {
            prop_assert_eq!(&read, &written);
        }
        prop_assert!(tlvs(&input[..consumed]).eq(parser.tlvs()));
    }

    #[test]
    fn split_or_whole_agree_on_any_octets(input in nearly_headers(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6), max in prop_oneof![Just(DEFAULT_MAX_V2_LENGTH), 0u16..64]) {
        let whole = agreed(&input, max);
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(chunked(&input, &cuts, max), whole);
        if let Outcome::Done(header, version, _) = whole {
            // A parsed header writes back to one that parses the same.
            let mut again = Vec::new();
            match version {
                Version::V1 => header.write_v1(&mut again).unwrap(),
                Version::V2 => header.write_v2(&mut again).unwrap(),
            }
            prop_assert_eq!(one_shot(&again, DEFAULT_MAX_V2_LENGTH), Outcome::Done(header, version, again.len()));
        }
    }

    #[test]
    fn split_or_whole_agree_on_damaged_headers(header in v2_header(), raw in some_tlvs(), v1 in any::<bool>(), damage in any::<prop::sample::Index>(), octet in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let written: Vec<Tlv<'_>> = raw.iter().map(|(kind, value)| Tlv { kind: *kind, value }).collect();
        let mut wire = Vec::new();
        // Local has no version 1 form: it goes in version 2.
        if !(v1 && header.write_v1(&mut wire).is_ok()) {
            header.write_v2_with_tlvs(&written, &mut wire).unwrap();
        }
        wire.extend_from_slice(TRAILER);
        let at = damage.index(wire.len());
        let mut changed = wire.clone();
        changed[at] = octet;
        let mut cut_short = wire.clone();
        cut_short.truncate(at);
        let mut inserted = wire.clone();
        inserted.insert(at, octet);
        for input in [changed, cut_short, inserted] {
            let whole = agreed(&input, DEFAULT_MAX_V2_LENGTH);
            prop_assert_eq!(chunked(&input, &[cut.index(input.len() + 1)], DEFAULT_MAX_V2_LENGTH), whole);
        }
    }
}
