//! The application's answers to decisions: accept, reject, the LMTP per-recipient replies, relayed SASL challenges.

use super::*;

impl Connection {
    /// Accepts the pending decision with its usual reply: 220 greeting, 250 to HELO/EHLO
    /// (capabilities), 220 to STARTTLS, 235 to AUTH, 250 2.1.0 to MAIL, 250 2.1.5 to RCPT,
    /// 252 to VRFY/EXPN, 250 2.0.0 to the end of a message (each recipient in LMTP).
    pub fn accept(&mut self) -> Result<(), UsageError> {
        let pending = self.take_pending()?;
        self.accepted(pending, None);
        Ok(())
    }

    /// Accepts the pending decision with this 2yz reply instead of the usual one.
    pub fn accept_with(&mut self, reply: Reply) -> Result<(), UsageError> {
        self.check_pending()?;
        if reply.code().class() != Class::PositiveCompletion {
            return Err(UsageError::NotPositive);
        }
        check_reply_length(&reply)?;
        let pending = self.take_pending()?;
        self.accepted(pending, Some(&reply));
        Ok(())
    }

    /// Accepts the message that [`Event::MessageEnd`] announced: `250 2.0.0 Message accepted,
    /// queued as <queue_id>` (for each recipient in LMTP).
    pub fn accept_message(&mut self, queue_id: &str) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::MessageEnd) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        if queue_id.is_empty()
            || queue_id.len() > MAX_QUEUE_ID
            || !queue_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(UsageError::InvalidQueueId);
        }
        self.answered();
        let enhanced = self.enhanced();
        for _ in 0..self.replies_at_end() {
            Reply::write_line(
                &mut self.out,
                Code::OK,
                enhanced.then_some(EnhancedCode::OK),
                &[b"Message accepted, queued as ", queue_id.as_bytes()],
            );
        }
        self.tx = Transaction::default();
        Ok(())
    }

    /// Refuses the pending decision with this 4yz or 5yz reply. A 421 closes the connection
    /// ([`CloseReason::ServiceClosing`], RFC 5321 section 3.8). A refused login counts
    /// against [`Config::max_errors`].
    pub fn reject(&mut self, reply: Reply) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !reply.code().is_negative() {
            return Err(UsageError::NotNegative);
        }
        check_reply_length(&reply)?;
        self.answered();
        match pending {
            Pending::MessageEnd => {
                for _ in 0..self.replies_at_end() {
                    self.send_reply(&reply);
                }
                self.tx = Transaction::default();
                return Ok(());
            }
            Pending::Greeting => self.session.refused = true,
            Pending::Authenticate | Pending::AuthRelay => {
                self.send_reply(&reply);
                self.count_error(Fault::Login);
                return Ok(());
            }
            _ => {}
        }
        self.send_reply(&reply);
        Ok(())
    }

    /// LMTP: answers the end of a message with one reply per accepted recipient, in the order
    /// of their RCPT commands (RFC 2033 section 4.2).
    pub fn answer_recipients<I>(&mut self, replies: I) -> Result<(), UsageError>
    where
        I: IntoIterator<Item = Reply>,
        I::IntoIter: Clone,
    {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::MessageEnd) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        if !self.config.lmtp {
            return Err(UsageError::NotLmtp);
        }
        let replies = replies.into_iter();
        let mut got = 0;
        for reply in replies.clone() {
            check_reply_length(&reply)?;
            if reply.code().class() == Class::PositiveIntermediate {
                return Err(UsageError::NotPositive);
            }
            got += 1;
        }
        if got != self.tx.recipients {
            return Err(UsageError::RecipientCount {
                expected: self.tx.recipients,
                got,
            });
        }
        self.answered();
        for reply in replies {
            self.send_reply(&reply);
        }
        self.tx = Transaction::default();
        Ok(())
    }

    /// Answers [`Event::AuthStart`] or [`Event::AuthResponse`] with a challenge (raw; the
    /// machine base64-encodes it into a 334 reply) and waits for the client's next line.
    pub fn sasl_challenge(&mut self, challenge: &[u8]) -> Result<(), UsageError> {
        let pending = self.check_pending()?;
        if !matches!(pending, Pending::AuthRelay) {
            return Err(UsageError::WrongDecision {
                pending: pending.name(),
            });
        }
        // "334 " + base64 + CRLF must fit an AUTH line.
        if challenge.len().div_ceil(3) * 4 + 6 > self.config.limits.auth_line {
            return Err(UsageError::ChallengeTooLong);
        }
        self.answered();
        self.write_challenge(challenge);
        self.mode = Mode::Auth(AuthExchange::Relayed);
        Ok(())
    }

    pub(super) fn check_pending(&self) -> Result<Pending, UsageError> {
        match self.pending {
            // The decision event is queued last: it is delivered once the queue is empty.
            Some(pending) if self.events.is_empty() => Ok(pending),
            _ => Err(UsageError::NoDecisionPending),
        }
    }

    pub(super) fn take_pending(&mut self) -> Result<Pending, UsageError> {
        let pending = self.check_pending()?;
        self.answered();
        Ok(pending)
    }

    /// The application answered: the wait for its answer is over, and the client's turn is a
    /// new wait (contract rule 3).
    pub(super) fn answered(&mut self) {
        self.pending = None;
        self.next_wait();
    }

    pub(super) fn accepted(&mut self, pending: Pending, reply: Option<&Reply>) {
        let custom = |conn: &mut Connection, default: &Reply| {
            conn.send_reply(reply.unwrap_or(default));
        };
        match pending {
            Pending::Greeting => match reply {
                Some(reply) => self.send_reply(reply),
                None => self.write_greeting(),
            },
            Pending::Hello(verb) => {
                self.session.greeted = Some(verb);
                match reply {
                    Some(reply) => self.send_reply(reply),
                    None => self.write_hello(verb),
                }
            }
            Pending::StartTls => self.start_tls(reply),
            Pending::Authenticate | Pending::AuthRelay => {
                self.session.authenticated = true;
                custom(self, &Reply::auth_ok());
            }
            Pending::Mail { smtputf8, binary } => {
                self.tx = Transaction {
                    mail: true,
                    smtputf8,
                    binary,
                    ..Transaction::default()
                };
                custom(self, &Reply::sender_ok());
            }
            Pending::Rcpt => {
                self.tx.recipients += 1;
                custom(self, &Reply::recipient_ok());
            }
            Pending::Vrfy | Pending::Expn => custom(self, &Reply::cannot_verify()),
            Pending::MessageEnd => {
                for _ in 0..self.replies_at_end() {
                    custom(self, &Reply::message_accepted());
                }
                self.tx = Transaction::default();
            }
        }
    }

    /// Replies owed at the end of a message: one in SMTP, one per recipient in LMTP.
    pub(super) fn replies_at_end(&self) -> usize {
        if self.config.lmtp {
            self.tx.recipients
        } else {
            1
        }
    }
}
