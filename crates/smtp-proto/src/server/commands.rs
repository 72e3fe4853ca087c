//! Commands: the command loop, and MAIL, RCPT and STARTTLS (RFC 5321 sections 4.1.1.2, 4.1.1.3; RFC 3207).

use super::*;

impl Connection {
    /// Processes buffered input until an event comes up, a decision is owed, enough replies
    /// are queued, or nothing more can be done with what arrived.
    pub(super) fn advance(&mut self) {
        while self.events.is_empty() && self.pending.is_none() && self.out.len() < OUTPUT_HIGH_WATER
        {
            let progressed = match self.mode {
                Mode::Command => self.step_command(),
                Mode::Auth(_) => self.step_auth(),
                Mode::Data(_) => self.step_data(),
                Mode::Chunk { .. } => self.step_chunk(),
                Mode::TlsUpgrade | Mode::Closed => false,
            };
            if !progressed {
                break;
            }
        }
    }

    pub(super) fn step_command(&mut self) -> bool {
        let Some(line) = self.framer.next_line(&mut self.input) else {
            return false;
        };
        // A whole line (or an overlong one, cut at the framing limit) satisfies the wait.
        self.next_wait();
        if self.shutting_down && !self.tx.mail {
            // The transaction that `shutdown` let finish is over: this command gets the 421.
            self.shut_down_now();
            return true;
        }
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                let reply = match error {
                    LineError::TooLong { .. } => Reply::line_too_long(),
                    LineError::BareLf => CommandError::ForbiddenByte(b'\n').reply(),
                    LineError::BareCr => CommandError::ForbiddenByte(b'\r').reply(),
                    LineError::Nul => CommandError::ForbiddenByte(0).reply(),
                };
                self.protocol_error(&reply);
                return true;
            }
        };
        let opts = ParseOptions {
            limits: Limits {
                command_line: self.command_line,
                ..self.config.limits
            },
            smtputf8: self.tx.smtputf8,
            leniency: self.config.leniency,
        };
        // Parsed borrowed: only what outlives the line (what an event hands over) becomes a
        // slice of it, so a command whose fields are used and dropped here (EHLO's domain,
        // AUTH's initial response) takes no reference count.
        match Command::parse_framed(&line, &opts) {
            Ok(command) => self.on_command(command, &line),
            Err(error) => self.protocol_error(&error.reply()),
        }
        true
    }

    /// Acts on `command`, parsed from `line`.
    pub(super) fn on_command(&mut self, command: Command<&[u8]>, line: &Bytes) {
        if self.session.refused {
            match command {
                Command::Quit => self.quit(),
                _ => self.protocol_error(&Reply::only_quit_accepted()),
            }
            return;
        }
        match command {
            Command::Helo(domain) => self.on_hello(HelloVerb::Helo, domain, line),
            Command::Ehlo(domain) => self.on_hello(HelloVerb::Ehlo, domain, line),
            Command::Lhlo(domain) => self.on_hello(HelloVerb::Lhlo, domain, line),
            Command::Mail { from, params } => self.on_mail(from, params, line),
            Command::Rcpt { to, params } => self.on_rcpt(to, params, line),
            Command::Data => self.on_data(),
            Command::Bdat { size, last } => self.on_bdat(size, last),
            Command::Rset => {
                self.reset_transaction();
                self.send_reply(&Reply::ok());
            }
            Command::Vrfy(arg) => {
                if self.config.decisions.vrfy {
                    self.decide(Event::Vrfy(arg.to_shared(line)), Pending::Vrfy);
                } else {
                    self.send_reply(&Reply::cannot_verify());
                }
            }
            Command::Expn(arg) => {
                if self.config.decisions.expn {
                    self.decide(Event::Expn(arg.to_shared(line)), Pending::Expn);
                } else {
                    self.send_reply(&Reply::not_implemented());
                }
            }
            Command::Help(_) => self.send_reply(&Reply::help()),
            Command::Noop(_) => self.send_reply(&Reply::ok()),
            Command::Quit => self.quit(),
            Command::StartTls => self.on_starttls(),
            Command::Auth {
                mechanism,
                initial_response,
            } => self.on_auth(mechanism, initial_response),
        }
    }

    pub(super) fn on_mail(
        &mut self,
        from: ReversePath<&[u8]>,
        params: MailParams<&[u8]>,
        line: &Bytes,
    ) {
        if self.session.greeted.is_none() {
            return self.protocol_error(&Reply::hello_first());
        }
        if self.tx.mail {
            return self.protocol_error(&Reply::sender_already_specified());
        }
        if self.tls_missing() {
            return self.send_reply(&Reply::starttls_required());
        }
        if self.config.require_auth && !self.session.authenticated {
            return self.send_reply(&Reply::auth_required());
        }
        if !self.mail_params_offered(&params) {
            return self.protocol_error(&Reply::unsupported_parameter());
        }
        let max = self.config.max_message_size;
        if max != 0 && params.size().is_some_and(|size| size > max) {
            return self.send_reply(&Reply::message_too_big());
        }
        let pending = Pending::Mail {
            smtputf8: params.smtputf8(),
            binary: params.body() == Some(BodyType::BinaryMime),
        };
        let (from, params) = (from.to_shared(line), params.to_shared(line));
        self.decide(Event::Mail { from, params }, pending);
    }

    /// Whether every MAIL parameter belongs to an advertised extension (RFC 5321 section
    /// 4.1.1.11: others get 555).
    pub(super) fn mail_params_offered(&self, params: &MailParams<&[u8]>) -> bool {
        let body_ok = match params.body() {
            None | Some(BodyType::SevenBit) => true,
            Some(BodyType::EightBitMime) => self.offers(Extension::EightBitMime),
            Some(BodyType::BinaryMime) => self.offers(Extension::BinaryMime),
        };
        body_ok
            && (params.size().is_none() || self.offers(Extension::Size))
            && (!params.smtputf8() || self.offers(Extension::SmtpUtf8))
            && (!params.requiretls() || self.offers(Extension::RequireTls))
            && (params.ret().is_none() && params.envid().is_none() || self.offers(Extension::Dsn))
            && (params.auth().is_none() || self.offers(Extension::Auth))
            && params.extensions().next().is_none()
    }

    pub(super) fn on_rcpt(
        &mut self,
        to: ForwardPath<&[u8]>,
        params: RcptParams<&[u8]>,
        line: &Bytes,
    ) {
        if !self.tx.mail || self.tx.chunking {
            return self.protocol_error(&Reply::mail_first());
        }
        let dsn = params.notify().is_some() || params.orcpt().is_some();
        if dsn && !self.offers(Extension::Dsn) || params.extensions().next().is_some() {
            return self.protocol_error(&Reply::unsupported_parameter());
        }
        if self.tx.recipients >= self.config.max_recipients {
            return self.send_reply(&Reply::too_many_recipients());
        }
        let (to, params) = (to.to_shared(line), params.to_shared(line));
        self.decide(Event::Rcpt { to, params }, Pending::Rcpt);
    }

    pub(super) fn on_starttls(&mut self) {
        if self.session.secure {
            return self.protocol_error(&Reply::tls_already_active());
        }
        if !self.config.tls.upgrades() {
            return self.protocol_error(&Reply::not_implemented());
        }
        if self.config.decisions.starttls {
            self.decide(Event::StartTlsRequested, Pending::StartTls);
        } else {
            self.start_tls(None);
        }
    }

    pub(super) fn start_tls(&mut self, reply: Option<&Reply>) {
        self.send_reply(reply.unwrap_or(&Reply::ready_to_start_tls()));
        if self.closed.is_some() {
            return;
        }
        // `poll` says UpgradeTls once the 220 is out; the handshake is a wait of its own.
        self.mode = Mode::TlsUpgrade;
        self.next_wait();
    }
}
