//! Every command parser entry point on arbitrary octets: no panic, and whatever parses
//! writes back to octets that parse to the same command.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use pop3_proto::{Command, Limits, ParseError};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut input = Bytes::copy_from_slice(data);
    // Pipelined commands, as a server reads them.
    loop {
        match Command::parse(&input, &limits) {
            Ok((command, used)) => {
                round_trip(&command, &limits);
                assert!(used > 0 && used <= input.len());
                input = input.slice(used..);
            }
            Err(ParseError::Incomplete) => break,
            Err(ParseError::Invalid { consumed, .. }) => {
                assert!(consumed <= input.len());
                if consumed == 0 {
                    // `ParseError`'s rule: an overlong first line, discarded through its LF.
                    match input.iter().position(|&b| b == b'\n') {
                        Some(lf) => input = input.slice(lf + 1..),
                        None => break,
                    }
                } else {
                    // Whole lines only: what is consumed ends with an LF.
                    assert_eq!(input[consumed - 1], b'\n');
                    input = input.slice(consumed..);
                }
            }
        }
    }
    // Framed lines, as a session behind a line framer reads them.
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(command) = Command::parse_line(Bytes::copy_from_slice(line), &limits) {
            round_trip(&command, &limits);
        }
    }
});

fn round_trip(command: &Command, limits: &Limits) {
    let mut out = BytesMut::new();
    command.write(&mut out);
    let written = out.freeze();
    let (again, used) = Command::parse(&written, limits).expect("a written command parses");
    assert_eq!(&again, command);
    assert_eq!(used, written.len());
}
