//! The trace fields a delivering SMTP server puts on top of each message (RFC 5321 section
//! 4.4): `Return-Path:` (final delivery) and `Received:`, with an RFC 5322 date.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The `with` protocol of the `Received:` line (RFC 3848): SMTP after HELO, ESMTP after EHLO,
/// `S` when under TLS, `A` when authenticated.
pub fn protocol(esmtp: bool, tls: bool, authenticated: bool) -> &'static str {
    match (esmtp, tls, authenticated) {
        (false, _, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (true, true, false) => "ESMTPS",
        (true, false, true) => "ESMTPA",
        (true, true, true) => "ESMTPSA",
    }
}

/// `Return-Path: <sender>` and `Received: from <helo> (<ip>) by <host> with <proto>; <date>`,
/// each ending in CRLF. The names come from the machine's parsed values (a domain, a mailbox),
/// which hold no CR, LF or NUL, so nothing can be injected here.
pub fn headers(
    sender: &str,
    helo: &str,
    peer: IpAddr,
    hostname: &str,
    with: &str,
    now: SystemTime,
) -> String {
    let mut out = String::with_capacity(160);
    // The client's address as an RFC 5321 address literal (section 4.1.3).
    let literal = match peer {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    };
    let _ = write!(
        out,
        "Return-Path: <{sender}>\r\nReceived: from {helo} ({literal}) by {hostname} with {with}; {}\r\n",
        rfc5322_date(now)
    );
    out
}

/// A date as RFC 5322 section 3.3 writes it, in UTC: `Thu, 27 Nov 2025 09:47:00 +0000`.
pub fn rfc5322_date(time: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let rest = secs % 86_400;
    format!(
        "{}, {day} {} {year} {:02}:{:02}:{:02} +0000",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn dates_are_rfc5322_in_utc() {
        assert_eq!(rfc5322_date(at(0)), "Thu, 1 Jan 1970 00:00:00 +0000");
        // 2000-02-29 (a leap day of a year divisible by 400) 12:34:56.
        assert_eq!(
            rfc5322_date(at(951_827_696)),
            "Tue, 29 Feb 2000 12:34:56 +0000"
        );
        // 2024-12-31 23:59:59, the last second of a leap year.
        assert_eq!(
            rfc5322_date(at(1_735_689_599)),
            "Tue, 31 Dec 2024 23:59:59 +0000"
        );
        assert_eq!(
            rfc5322_date(at(1_735_689_600)),
            "Wed, 1 Jan 2025 00:00:00 +0000"
        );
    }

    #[test]
    fn trace_headers_and_protocol_names() {
        let text = headers(
            "a@b.example",
            "client.example",
            "192.0.2.1".parse().unwrap(),
            "mx.example",
            protocol(true, true, true),
            at(0),
        );
        assert_eq!(
            text,
            "Return-Path: <a@b.example>\r\nReceived: from client.example ([192.0.2.1]) by \
             mx.example with ESMTPSA; Thu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_eq!(protocol(false, true, true), "SMTP");
        assert_eq!(protocol(true, false, false), "ESMTP");
        assert_eq!(protocol(true, true, false), "ESMTPS");
        assert_eq!(protocol(true, false, true), "ESMTPA");
    }
}
