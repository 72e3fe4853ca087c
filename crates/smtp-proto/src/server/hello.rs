//! HELO, EHLO and LHLO, the greeting, and what the EHLO reply advertises (RFC 5321 section 4.1.1.1, RFC 2033).

use super::*;

impl Connection {
    pub(super) fn on_hello(&mut self, verb: HelloVerb, domain: Domain<&[u8]>, line: &Bytes) {
        if (verb == HelloVerb::Lhlo) != self.config.lmtp {
            self.protocol_error(&Reply::wrong_hello_verb());
            return;
        }
        // RFC 5321 section 4.1.4: EHLO/HELO in a session resets it like RSET.
        self.reset_transaction();
        if self.config.decisions.hello {
            let domain = domain.to_shared(line);
            self.decide(Event::Hello { verb, domain }, Pending::Hello(verb));
        } else {
            self.session.greeted = Some(verb);
            self.write_hello(verb);
        }
    }

    /// Whether an extension was advertised in this session (after EHLO/LHLO, not HELO).
    pub(super) fn offers(&self, extension: Extension) -> bool {
        matches!(
            self.session.greeted,
            Some(HelloVerb::Ehlo | HelloVerb::Lhlo)
        ) && self.advertises(extension)
    }

    /// Whether the EHLO reply lists an extension, in the current TLS state.
    pub(super) fn advertises(&self, extension: Extension) -> bool {
        let ext = &self.config.extensions;
        match extension {
            Extension::Size => ext.size,
            Extension::Auth => {
                !self.tls_missing()
                    && self
                        .config
                        .sasl_mechanisms
                        .iter()
                        .any(|m| self.auth_allowed(m))
            }
            Extension::Pipelining => ext.pipelining,
            Extension::EightBitMime => ext.eight_bit_mime,
            Extension::SmtpUtf8 => ext.smtputf8,
            Extension::Chunking => ext.chunking,
            Extension::BinaryMime => ext.binary_mime && ext.chunking,
            Extension::Dsn => ext.dsn,
            Extension::EnhancedStatusCodes => ext.enhanced_status_codes,
            Extension::StartTls => self.config.tls.upgrades() && !self.session.secure,
            Extension::RequireTls => ext.requiretls && self.session.secure,
        }
    }

    pub(super) fn build_ehlo_reply(&self) -> Bytes {
        let mut capabilities = Capabilities::new(&self.config.hostname);
        if self.advertises(Extension::Size) {
            capabilities.set_size(self.config.max_message_size);
        }
        for extension in [
            Extension::Pipelining,
            Extension::EightBitMime,
            Extension::SmtpUtf8,
            Extension::Chunking,
            Extension::BinaryMime,
            Extension::Dsn,
            Extension::EnhancedStatusCodes,
            Extension::StartTls,
            Extension::RequireTls,
        ] {
            if self.advertises(extension) {
                capabilities.add(extension);
            }
        }
        if self.advertises(Extension::Auth) {
            let offered: alloc::vec::Vec<Mechanism> = self
                .config
                .sasl_mechanisms
                .iter()
                .filter(|m| self.auth_allowed(m))
                .copied()
                .collect();
            capabilities.set_auth(&offered);
        }
        let mut out = BytesMut::new();
        capabilities.to_reply().write_with(&mut out, false);
        out.freeze()
    }

    pub(super) fn write_greeting(&mut self) {
        let greeting = if self.config.lmtp {
            Reply::lmtp_service_ready(&self.config.hostname)
        } else {
            Reply::service_ready(&self.config.hostname)
        };
        self.send_reply(&greeting);
    }

    pub(super) fn write_hello(&mut self, verb: HelloVerb) {
        if verb == HelloVerb::Helo {
            self.out.extend_from_slice(b"250 ");
            self.out.extend_from_slice(self.config.hostname.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.out.extend_from_slice(&self.ehlo_reply);
        }
    }
}
