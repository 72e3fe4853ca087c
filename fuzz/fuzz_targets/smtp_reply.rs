//! Arbitrary bytes into the SMTP reply and EHLO capability parsers: no panic; whatever parses
//! writes back to bytes that parse to the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smtp_proto::{Capabilities, Limits, ParseError, Reply};

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
        match Reply::parse(&rest, &limits) {
            Ok((reply, consumed)) => {
                assert!(consumed > 0 && consumed <= rest.len());
                let bytes = written(&reply);
                let (again, used) = Reply::parse(&bytes, &limits).expect("written reply parses");
                assert_eq!(again, reply);
                assert_eq!(used, bytes.len());
                assert_eq!(written(&again), bytes);
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
            Err(ParseError::Invalid { consumed, .. }) if consumed > 0 => offset += consumed,
            Err(_) => break,
        }
    }
});
