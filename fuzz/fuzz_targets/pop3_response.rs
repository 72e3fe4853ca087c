//! Every response parser on arbitrary octets: no panic, and whatever parses writes back to
//! octets that parse to the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use pop3_proto::{
    AuthResponse, CapabilityList, Limits, Listing, ListingEntry, Response, ScanList, ScanListing,
    Stat, Timestamp, UidList, UidListing,
};

macro_rules! round_trip {
    ($type:ty, $input:expr, $limits:expr) => {
        if let Ok((value, used)) = <$type>::parse($input, $limits) {
            assert!(used <= $input.len());
            let mut out = BytesMut::new();
            value.write(&mut out);
            let (again, _) = <$type>::parse(&out.freeze(), $limits).expect("written value parses");
            assert_eq!(again, value);
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let input = Bytes::copy_from_slice(data);
    round_trip!(Response, &input, &limits);
    round_trip!(Stat, &input, &limits);
    round_trip!(ScanListing, &input, &limits);
    round_trip!(UidListing, &input, &limits);
    round_trip!(AuthResponse, &input, limits.sasl_line);
    listing::<ScanListing>(ScanList::parse(&input, &limits), &limits);
    listing::<UidListing>(UidList::parse(&input, &limits), &limits);
    listing(CapabilityList::parse(&input, &limits), &limits);
    let _ = Timestamp::find_in(&input);
});

fn listing<E>(
    parsed: Result<(Listing<E>, usize), pop3_proto::ParseError<pop3_proto::ResponseError>>,
    limits: &Limits,
) where
    E: ListingEntry + PartialEq + std::fmt::Debug,
{
    let Ok((listing, _)) = parsed else { return };
    let entries: Vec<E> = listing.iter().collect();
    assert_eq!(entries.len(), listing.len());
    let mut out = BytesMut::new();
    Listing::write(&entries, &mut out);
    let (again, used) =
        Listing::<E>::parse(&out.clone().freeze(), limits).expect("written listing parses");
    assert_eq!(used, out.len());
    assert_eq!(again, listing);
}
