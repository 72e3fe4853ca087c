//! What the transcript runners share: the escapes of the transcript files (`\r`, `\n`,
//! `\t`, `\0`, `\\` and `\xHH` stand for the bytes a transcript cannot show), and the
//! names under which both record the `Next` values that are not events
//! (`E: upgrade-tls`, `E: closed <reason>`).
#![allow(dead_code)] // each runner uses its own subset

use std::fmt::Write as _;

use pop3_proto::CloseReason;

/// The `E:` line of a TLS upgrade (`Next::UpgradeTls`), recorded once per upgrade.
pub(crate) const UPGRADE_TLS: &str = "upgrade-tls";

/// The `E:` line of the end (`Next::Closed`), recorded once: `closed <reason>`.
pub(crate) fn closed(reason: CloseReason) -> String {
    let name = match reason {
        CloseReason::Quit => "quit",
        CloseReason::ConnectionLost => "connection-lost",
        CloseReason::Timeout => "timeout",
        CloseReason::ProtocolViolation => "protocol-violation",
        CloseReason::InputOverflow => "input-overflow",
        CloseReason::TooManyErrors => "too-many-errors",
        CloseReason::TooManyFailedLogins => "too-many-failed-logins",
        CloseReason::ServiceClosing => "service-closing",
        CloseReason::Shutdown => "shutdown",
        CloseReason::Failed => "failed",
        other => panic!("no transcript name for {other:?}"),
    };
    format!("closed {name}")
}

/// The bytes `text` stands for.
pub(crate) fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = text.get(i + 2..i + 4).expect("\\xHH escape");
                    out.push(u8::from_str_radix(hex, 16).expect("\\xHH escape"));
                    i += 2;
                }
                other => panic!("unknown escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// `bytes` written with those escapes (printable ASCII as it is).
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write!(out, "\\x{b:02x}").unwrap(),
        }
    }
    out
}
