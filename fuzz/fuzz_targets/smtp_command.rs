//! Arbitrary bytes into the SMTP command parser: no panic; whatever parses writes back to
//! bytes that parse to the same command (and the same bytes); the borrowed parse agrees with
//! the shared one.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use smtp_proto::{AuthResponse, Command, Leniency, Limits, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let opts = ParseOptions {
        smtputf8: mode & 1 != 0,
        leniency: if mode & 2 != 0 {
            Leniency::LAX
        } else {
            Leniency::STRICT
        },
        limits: Limits::default(),
    };
    let input = Bytes::copy_from_slice(rest);
    match (
        AuthResponse::parse(&input, opts.limits.auth_line),
        AuthResponse::parse_borrowed(&input, opts.limits.auth_line),
    ) {
        (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
            assert_eq!(used, borrowed_used);
            assert_eq!(borrowed.to_shared(&input), shared);
        }
        (Err(shared), Err(borrowed)) => assert_eq!(shared, borrowed),
        (shared, borrowed) => panic!("shared {shared:?}, borrowed {borrowed:?}"),
    }
    let mut offset = 0;
    while offset < input.len() {
        let rest = input.slice(offset..);
        let parsed = Command::parse(&rest, &opts);
        match (&parsed, Command::parse_borrowed(&rest, &opts)) {
            (Ok((shared, used)), Ok((borrowed, borrowed_used))) => {
                assert_eq!(*used, borrowed_used);
                assert_eq!(&borrowed.to_shared(&rest), shared);
            }
            (Err(shared), Err(borrowed)) => assert_eq!(shared, &borrowed),
            (shared, borrowed) => panic!("shared {shared:?}, borrowed {borrowed:?}"),
        }
        match parsed {
            Ok((command, consumed)) => {
                assert!(consumed > 0 && consumed <= rest.len());
                let mut out = BytesMut::new();
                command.write(&mut out);
                let written = out.freeze();
                // The written form has canonical, strict syntax: parse it strictly. Only the
                // tolerance of long local parts carries over: it is about what an address may
                // hold, not how it is written, and the writer keeps the address as it is.
                let strict = ParseOptions {
                    smtputf8: true,
                    leniency: Leniency {
                        long_local_part: opts.leniency.long_local_part,
                        ..Leniency::STRICT
                    },
                    ..ParseOptions::default()
                };
                let (again, used) =
                    Command::parse(&written, &strict).expect("written command parses");
                assert_eq!(again, command);
                assert_eq!(used, written.len());
                let mut out2 = BytesMut::new();
                again.write(&mut out2);
                assert_eq!(out2.freeze(), written);
                offset += consumed;
            }
            Err(smtp_proto::ParseError::Invalid { consumed, error }) => {
                let _ = error.reply();
                assert!(consumed <= rest.len());
                if consumed == 0 {
                    // `ParseError`'s rule: an overlong first line, discarded through its LF.
                    match rest.iter().position(|&b| b == b'\n') {
                        Some(lf) => offset += lf + 1,
                        None => break,
                    }
                } else {
                    // Whole lines only: what is consumed ends with an LF.
                    assert_eq!(rest[consumed - 1], b'\n');
                    offset += consumed;
                }
            }
            Err(smtp_proto::ParseError::Incomplete) => break,
        }
    }
});
