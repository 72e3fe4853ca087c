//! Message content: DATA (RFC 5321 section 4.1.1.4) and BDAT (RFC 3030).

use super::*;

impl Connection {
    pub(super) fn on_data(&mut self) {
        if !self.tx.mail {
            return self.protocol_error(&Reply::mail_first());
        }
        if self.tx.chunking {
            return self.protocol_error(&Reply::data_after_bdat());
        }
        if self.tx.recipients == 0 {
            return self.send_reply(&Reply::no_valid_recipients());
        }
        if self.tx.binary {
            return self.protocol_error(&Reply::binarymime_requires_bdat());
        }
        let limit = match self.config.max_message_size {
            0 => u64::MAX,
            max => max,
        };
        self.send_reply(&Reply::start_data());
        self.mode = Mode::Data(
            DotDecoder::new()
                .with_size_limit(limit)
                .with_bare_line_ending(self.config.bare_line_ending),
        );
    }

    pub(super) fn on_bdat(&mut self, size: u64, last: bool) {
        // The chunk follows the command whatever the answer: it is always read (and dropped
        // when refused), or the rest of it would be taken for commands (RFC 3030 section 2).
        let refusal = if !self.offers(Extension::Chunking) {
            Some(Refusal::NotImplemented)
        } else if !self.tx.mail {
            Some(Refusal::NeedMail)
        } else if self.tx.recipients == 0 {
            Some(Refusal::NoRecipients)
        } else {
            None
        };
        if refusal.is_none() {
            self.tx.chunking = true;
        }
        self.mode = Mode::Chunk {
            remaining: size,
            last,
            refusal,
        };
    }

    pub(super) fn step_data(&mut self) -> bool {
        let Mode::Data(decoder) = &mut self.mode else {
            return false;
        };
        if decoder.is_ended() {
            let (error, size) = (decoder.error(), decoder.size());
            self.end_of_data(error, size);
            return true;
        }
        let before = self.input.len();
        let step = decoder.decode(&mut self.input);
        let refused = decoder.error();
        let taken = before - self.input.len();
        let mut aborted_now = false;
        if let Some(error) = refused {
            if !self.tx.aborted {
                self.tx.aborted = true;
                aborted_now = true;
                let reason = match error {
                    BodyError::TooLarge { .. } => AbortReason::TooLarge,
                    BodyError::BareLf | BodyError::BareCr => AbortReason::BareLineEnding,
                };
                self.events.push_back(Event::MessageAborted { reason });
            }
        }
        self.took_content(taken);
        match step {
            None => aborted_now,
            Some(DotEvent::Data(chunk)) => {
                if refused.is_none() {
                    self.events.push_back(Event::MessageData(chunk));
                }
                true
            }
            // The application hears of the abort before the client hears the reply, however
            // the input was split: the end is handled in the next step then.
            Some(DotEvent::End(_)) if aborted_now => true,
            Some(DotEvent::End(summary)) => {
                self.end_of_data(summary.error, summary.size);
                true
            }
        }
    }

    /// The terminating line of DATA was read.
    pub(super) fn end_of_data(&mut self, error: Option<BodyError>, size: u64) {
        self.mode = Mode::Command;
        self.next_wait();
        match error {
            None => self.decide(
                Event::MessageEnd {
                    size,
                    recipients: self.tx.recipients,
                },
                Pending::MessageEnd,
            ),
            Some(BodyError::TooLarge { .. }) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::message_too_big());
            }
            Some(BodyError::BareLf | BodyError::BareCr) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::bare_line_ending());
            }
        }
    }

    pub(super) fn step_chunk(&mut self) -> bool {
        let Mode::Chunk {
            remaining,
            last,
            refusal,
        } = self.mode
        else {
            return false;
        };
        if remaining > 0 {
            let take = remaining.min(self.input.len() as u64) as usize;
            if take == 0 {
                return false;
            }
            let piece = self.input.split_to(take).freeze();
            let remaining = remaining - take as u64;
            self.took_content(take);
            let mut refusal = refusal;
            if refusal.is_none() {
                self.tx.chunked_size += take as u64;
                let max = self.config.max_message_size;
                if max != 0 && self.tx.chunked_size > max {
                    self.tx.aborted = true;
                    self.events.push_back(Event::MessageAborted {
                        reason: AbortReason::TooLarge,
                    });
                    refusal = Some(Refusal::TooBig);
                } else {
                    self.events.push_back(Event::MessageData(piece));
                }
            }
            self.mode = Mode::Chunk {
                remaining,
                last,
                refusal,
            };
            // The chunk is answered in the next step, after the application saw its data.
            return true;
        }
        // The whole chunk arrived: the wait for it is satisfied.
        self.mode = Mode::Command;
        self.next_wait();
        match refusal {
            Some(Refusal::NotImplemented) => self.protocol_error(&Reply::not_implemented()),
            Some(Refusal::NeedMail) => self.protocol_error(&Reply::mail_first()),
            Some(Refusal::NoRecipients) => self.send_reply(&Reply::no_valid_recipients()),
            Some(Refusal::TooBig) => {
                self.tx = Transaction::default();
                self.send_reply(&Reply::message_too_big());
            }
            None if last => self.decide(
                Event::MessageEnd {
                    size: self.tx.chunked_size,
                    recipients: self.tx.recipients,
                },
                Pending::MessageEnd,
            ),
            None => self.send_reply(&Reply::chunk_received()),
        }
        true
    }
}
