//! Property tests: write then parse gives the same value, at every split of the input.

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use pop3_proto::*;
use proptest::prelude::*;

fn limits() -> Limits {
    Limits::default()
}

proptest! {
    #[test]
    fn command_round_trips_at_every_split(command in command()) {
        let mut out = BytesMut::new();
        command.write(&mut out);
        let input = out.freeze();
        let (parsed, used) = check_every_split(&input, |i| Command::parse(i, &limits()));
        prop_assert_eq!(&parsed, &command);
        prop_assert_eq!(used, input.len());
        // The framed-line entry point agrees.
        let line = input.slice(..input.len() - 2);
        prop_assert_eq!(Command::parse_line(line, &limits()).unwrap(), command);
    }

    #[test]
    fn pipelined_commands_parse_the_same_in_any_chunking(
        commands in proptest::collection::vec(command(), 1..12),
        chunk in 1usize..40,
    ) {
        let mut stream = BytesMut::new();
        for command in &commands {
            command.write(&mut stream);
        }
        let parsed = parse_in_chunks(&stream, chunk, |i| Command::parse(i, &limits()));
        prop_assert_eq!(parsed, commands);
    }

    #[test]
    fn status_line_round_trips_at_every_split(status in status_line()) {
        let mut out = BytesMut::new();
        status.write(&mut out);
        let input = out.freeze();
        let (parsed, _) = check_every_split(&input, |i| StatusLine::parse(i, &limits()));
        prop_assert_eq!(&parsed, &status);
        let (response, _) = Response::parse(&input, &limits()).unwrap();
        prop_assert_eq!(response, Response::Status(status));
    }

    #[test]
    fn continuation_and_auth_response_round_trip(data in sasl_data(3000), cancel in any::<bool>()) {
        let challenge = Continuation(data.clone());
        let mut out = BytesMut::new();
        challenge.write(&mut out);
        let input = out.freeze();
        let (parsed, _) = check_every_split(&input, |i| Response::parse(i, &limits()));
        prop_assert_eq!(parsed, Response::Continuation(challenge));

        let response = if cancel { AuthResponse::Cancel } else { AuthResponse::Data(data) };
        let mut out = BytesMut::new();
        response.write(&mut out);
        let input = out.freeze();
        let (parsed, _) = check_every_split(&input, |i| AuthResponse::parse(i, limits().sasl_line));
        prop_assert_eq!(parsed, response);
    }

    #[test]
    fn stat_and_single_listings_round_trip(
        count in any::<u32>(),
        size in any::<u64>(),
        scan in scan_listing(),
        uid in uid_listing(),
    ) {
        let stat = Stat { count, size };
        let mut out = BytesMut::new();
        stat.write(&mut out);
        let (parsed, _) = check_every_split(&out.freeze(), |i| Stat::parse(i, &limits()));
        prop_assert_eq!(parsed, stat);

        let mut out = BytesMut::new();
        scan.write(&mut out);
        let (parsed, _) = check_every_split(&out.freeze(), |i| ScanListing::parse(i, &limits()));
        prop_assert_eq!(parsed, scan);

        let mut out = BytesMut::new();
        uid.write(&mut out);
        let (parsed, _) = check_every_split(&out.freeze(), |i| UidListing::parse(i, &limits()));
        prop_assert_eq!(parsed, uid);
    }

    #[test]
    fn scan_list_round_trips_at_every_split(entries in proptest::collection::vec(scan_listing(), 0..20)) {
        listing_round_trip(&entries)?;
    }

    #[test]
    fn uid_list_round_trips_at_every_split(entries in proptest::collection::vec(uid_listing(), 0..12)) {
        listing_round_trip(&entries)?;
    }

    #[test]
    fn capability_list_round_trips_at_every_split(entries in proptest::collection::vec(capability(), 0..12)) {
        listing_round_trip(&entries)?;
    }

    #[test]
    fn each_capability_round_trips(capability in capability()) {
        let mut out = BytesMut::new();
        capability.write_entry(&mut out);
        let line = out.freeze().slice(..out_len_without_crlf(&capability));
        prop_assert_eq!(Capability::parse_line(line, &limits()).unwrap(), capability);
    }

    #[test]
    fn apop_digest_hex_round_trips(digest in any::<[u8; 16]>()) {
        let digest = ApopDigest::from_bytes(digest);
        prop_assert_eq!(ApopDigest::from_hex(&digest.to_hex()).unwrap(), digest);
        let shown = digest.to_string();
        prop_assert_eq!(shown.as_bytes(), &digest.to_hex()[..]);
    }
}

fn out_len_without_crlf(capability: &Capability) -> usize {
    let mut out = BytesMut::new();
    capability.write_entry(&mut out);
    out.len() - 2
}

fn listing_round_trip<E>(entries: &[E]) -> Result<(), TestCaseError>
where
    E: ListingEntry + PartialEq + std::fmt::Debug + Clone,
{
    let mut out = BytesMut::new();
    Listing::write(entries, &mut out);
    let input = out.freeze();
    let (listing, used) = check_every_split(&input, |i| Listing::<E>::parse(i, &limits()));
    prop_assert_eq!(used, input.len());
    prop_assert_eq!(listing.len(), entries.len());
    prop_assert_eq!(listing.iter().collect::<Vec<_>>(), entries.to_vec());
    // Line by line, as a session streaming through a line framer reads it.
    let mut lines = Vec::new();
    let mut rest = &input[..];
    while let Some(lf) = rest.iter().position(|&b| b == b'\n') {
        let line = Bytes::copy_from_slice(&rest[..lf - 1]);
        lines.push(ListingLine::<E>::parse_line(line, &limits()).unwrap());
        rest = &rest[lf + 1..];
    }
    prop_assert_eq!(lines.pop(), Some(ListingLine::End));
    prop_assert_eq!(
        lines,
        entries
            .iter()
            .cloned()
            .map(ListingLine::Entry)
            .collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn hundred_entry_listings_at_every_split() {
    let scans: Vec<_> = (1..=100)
        .map(|n| ScanListing {
            msg: MsgNumber::new(n).unwrap(),
            size: u64::from(n) * 1234,
        })
        .collect();
    listing_round_trip(&scans).unwrap();
    let uids: Vec<_> = (1..=100)
        .map(|n| UidListing {
            msg: MsgNumber::new(n).unwrap(),
            uid: UniqueId::new(format!("uid-{n:08}-QhdPYR:00WBw1Ph7x7")).unwrap(),
        })
        .collect();
    listing_round_trip(&uids).unwrap();
}
