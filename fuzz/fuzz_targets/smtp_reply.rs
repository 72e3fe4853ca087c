//! Arbitrary bytes into the SMTP reply and EHLO capability parsers: no panic; whatever parses
//! writes back to bytes that parse to the same value; the borrowed parse agrees with the
//! shared one.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smtp_proto::{Capabilities, Limits, ParseError, Reply, ValueError};

fn written(reply: &Reply) -> Bytes {
    let mut out = BytesMut::new();
    reply.write(&mut out);
    out.freeze()
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let input = Bytes::copy_from_slice(data);
    let mut offset = 0;
    while offset < input.len() {
        let rest = input.slice(offset..);
        let parsed = Reply::parse(&rest, &limits);
        match (&parsed, Reply::parse_borrowed(&rest, &limits)) {
            (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
                assert_eq!(*used, borrowed_used);
                assert_eq!(&borrowed.to_shared(&rest), shared);
                match (
                    Capabilities::from_reply(shared),
                    Capabilities::from_reply(&borrowed),
                ) {
                    (Ok(caps), Ok(borrowed_caps)) => {
                        assert_eq!(borrowed_caps.to_shared(&rest), caps)
                    }
                    (Err(error), Err(borrowed_error)) => assert_eq!(error, borrowed_error),
                    (caps, borrowed_caps) => panic!("shared {caps:?}, borrowed {borrowed_caps:?}"),
                }
            }
            (Err(shared), Err(borrowed)) => assert_eq!(shared, &borrowed),
            (shared, borrowed) => panic!("shared {shared:?}, borrowed {borrowed:?}"),
        }
        match parsed {
            Ok((reply, consumed)) => {
                assert!(consumed > 0 && consumed <= rest.len());
                let bytes = written(&reply);
                let (again, used) = Reply::parse(&bytes, &limits).expect("written reply parses");
                assert_eq!(again, reply);
                assert_eq!(used, bytes.len());
                assert_eq!(written(&again), bytes);
                // Its parts make the same reply, unless a line that lacked the enhanced code
                // would outgrow 512 octets with it (then nothing is built).
                let lines = reply.lines().map(Bytes::copy_from_slice);
                match Reply::multiline(reply.code().get(), reply.enhanced_code(), lines) {
                    Ok(built) => assert_eq!(built, reply),
                    Err(error) => assert!(matches!(error, ValueError::TooLong { .. }), "{error}"),
                }
                if let Ok(caps) = Capabilities::from_reply(&reply) {
                    let _ = caps.auth_mechanisms().count();
                    let _ = caps.iter().count();
                    let bytes = written(&caps.to_reply());
                    let (reply, _) =
                        Reply::parse(&bytes, &limits).expect("written EHLO reply parses");
                    assert_eq!(
                        Capabilities::from_reply(&reply).expect("still an EHLO reply"),
                        caps
                    );
                }
                offset += consumed;
            }
            // `ParseError`'s rule: 0 means discard through the next LF.
            Err(ParseError::Invalid { consumed: 0, .. }) => {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(lf) => offset += lf + 1,
                    None => break,
                }
            }
            Err(ParseError::Invalid { consumed, .. }) => {
                assert!(consumed <= rest.len());
                offset += consumed;
            }
            Err(ParseError::Incomplete) => break,
        }
    }
});
