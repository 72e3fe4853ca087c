//! AUTH (RFC 4954): the exchanges the machine runs itself (PLAIN, LOGIN, XOAUTH2) and the relayed ones.

use super::*;

impl Connection {
    pub(super) fn on_auth(&mut self, mechanism: Mechanism, initial: Option<SaslData<&[u8]>>) {
        if !matches!(
            self.session.greeted,
            Some(HelloVerb::Ehlo | HelloVerb::Lhlo)
        ) {
            return self.protocol_error(&Reply::hello_first());
        }
        if self.session.authenticated {
            return self.protocol_error(&Reply::already_authenticated());
        }
        if self.tls_missing() {
            // TlsMode::Required: no login before TLS, whatever the mechanism (RFC 3207
            // section 4).
            return self.protocol_error(&Reply::starttls_required());
        }
        if self.tx.mail {
            return self.protocol_error(&Reply::auth_in_transaction());
        }
        if !self.config.sasl_mechanisms.contains(&mechanism) {
            return self.protocol_error(&Reply::unrecognized_auth_mechanism());
        }
        if !self.auth_allowed(&mechanism) {
            return self.protocol_error(&Reply::encryption_required_for_mechanism());
        }
        // RFC 4954 section 4: an empty initial response is sent as "=".
        let initial = initial.as_ref().map(|data| match data.as_bytes() {
            b"" => &b"="[..],
            text => text,
        });
        if mechanism.is_built_in() {
            match ServerExchange::start(mechanism, initial) {
                Ok((exchange, step)) => {
                    self.mode = Mode::Auth(AuthExchange::BuiltIn {
                        mechanism,
                        exchange,
                    });
                    self.on_sasl_step(mechanism, Ok(step));
                }
                Err(error) => self.on_sasl_step(mechanism, Err(error)),
            }
        } else {
            let initial_response = match initial.map(sasl::decode_response) {
                None => None,
                Some(Ok(SaslResponse::Data(data))) => Some(Secret::new(data)),
                Some(Ok(SaslResponse::Cancel)) | Some(Err(_)) => {
                    return self.protocol_error(&Reply::auth_bad_base64());
                }
            };
            self.decide(
                Event::AuthStart {
                    mechanism,
                    initial_response,
                },
                Pending::AuthRelay,
            );
        }
    }

    pub(super) fn on_sasl_step(
        &mut self,
        mechanism: Mechanism,
        step: Result<ServerStep, SaslError>,
    ) {
        match step {
            Ok(ServerStep::Challenge(challenge)) => self.write_challenge(challenge),
            Ok(ServerStep::Done(credentials)) => {
                self.mode = Mode::Command;
                self.decide(
                    Event::Authenticate {
                        mechanism,
                        credentials,
                    },
                    Pending::Authenticate,
                );
            }
            Err(error) => {
                self.mode = Mode::Command;
                let reply = match error {
                    SaslError::Cancelled => Reply::auth_cancelled(),
                    SaslError::InvalidBase64 => Reply::auth_bad_base64(),
                    _ => Reply::auth_malformed(),
                };
                self.protocol_error(&reply);
            }
        }
    }

    pub(super) fn step_auth(&mut self) -> bool {
        let Some(line) = self.framer.next_line(&mut self.input) else {
            return false;
        };
        self.next_wait();
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                self.mode = Mode::Command;
                match error {
                    LineError::TooLong { .. } => self.protocol_error(&Reply::auth_line_too_long()),
                    _ => self.protocol_error(&Reply::auth_bad_base64()),
                }
                return true;
            }
        };
        match core::mem::replace(&mut self.mode, Mode::Command) {
            Mode::Auth(AuthExchange::BuiltIn {
                mechanism,
                mut exchange,
            }) => {
                let step = exchange.step(&line);
                if matches!(step, Ok(ServerStep::Challenge(_))) {
                    self.mode = Mode::Auth(AuthExchange::BuiltIn {
                        mechanism,
                        exchange,
                    });
                }
                self.on_sasl_step(mechanism, step);
            }
            Mode::Auth(AuthExchange::Relayed) => match sasl::decode_response(&line) {
                Ok(SaslResponse::Data(data)) => self.decide(
                    Event::AuthResponse {
                        response: Secret::new(data),
                    },
                    Pending::AuthRelay,
                ),
                Ok(SaslResponse::Cancel) => self.protocol_error(&Reply::auth_cancelled()),
                Err(_) => self.protocol_error(&Reply::auth_bad_base64()),
            },
            other => self.mode = other,
        }
        true
    }
}
