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
    // What decodes has no separator inside a field, so it encodes back.
    if let Ok(creds) = PasswordCredentials::decode_plain(data) {
        assert_eq!(
            creds.encode_plain().expect("fields hold no NUL").expose(),
            data
        );
    }
    if let Ok(creds) = OAuth2Credentials::decode(data) {
        let message = creds.encode().expect("fields hold no \\x01");
        assert_eq!(OAuth2Credentials::decode(message.expose()), Ok(creds));
    }
    // One validation: base64 text is exactly what decodes.
    assert_eq!(
        sasl::SaslData::parse(data).is_ok(),
        sasl::decode_base64(data).is_ok()
    );
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
