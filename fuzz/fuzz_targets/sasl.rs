//! Arbitrary client lines through the SASL decoders and server exchanges: no panic, and what
//! decodes re-encodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_wire::sasl::{
    self, Mechanism, OAuth2Credentials, PasswordCredentials, ServerExchange, ServerStep,
};

fuzz_target!(|data: &[u8]| {
    let _ = Mechanism::parse(data);
    let _ = sasl::decode_response(data);
    if let Ok(creds) = PasswordCredentials::decode_plain(data) {
        assert_eq!(creds.encode_plain().expose(), data);
    }
    if let Ok(creds) = OAuth2Credentials::decode(data) {
        assert_eq!(OAuth2Credentials::decode(creds.encode().expose()), Ok(creds));
    }
    // The same bytes as a sequence of answer lines, for every built-in mechanism.
    for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::XOAuth2] {
        let mut lines = data.split(|b| *b == b'\n');
        let Ok((mut exchange, mut step)) = ServerExchange::start(mechanism, lines.next()) else {
            continue;
        };
        for line in lines {
            if matches!(step, ServerStep::Done(_)) {
                break;
            }
            match exchange.step(line) {
                Ok(next) => step = next,
                Err(_) => break,
            }
        }
    }
});
