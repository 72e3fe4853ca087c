//! Mail transactions (RFC 5321 section 3.3): MAIL, RCPT per recipient, then the body over
//! DATA (dot-stuffed) or BDAT (RFC 3030), pipelined (RFC 2920) when the server allows it.

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};
use mail_wire::session::CloseReason;
use mail_wire::value::IntoBytes;

use crate::address::ForwardPath;
use crate::capability::Extension;
use crate::command::Command;
use crate::params::{BodyType, MailParams, RcptParams};
use crate::reply::{Class, Reply};

use super::{Connection, Envelope, Event, Expect, Failure, Phase, SendMailError, UsageError};

/// How the body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    /// DATA, dot-stuffed (RFC 5321 section 4.1.1.4).
    Data,
    /// BDAT chunks (RFC 3030); `binary`: no line-end normalisation (BODY=BINARYMIME).
    Bdat { binary: bool },
}

/// Where the body of a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyState {
    /// Not asked for yet.
    Waiting,
    /// The application pushes chunks.
    Open,
    /// The application ended the body; the last BDAT waits for the reply to an earlier one.
    Ending,
    /// The end of the body is written.
    Ended,
    /// The server refused the body (DATA or a BDAT chunk): no more is sent.
    Failed,
}

/// One transaction in flight.
#[derive(Debug)]
pub(super) struct Transaction {
    recipients: Vec<ForwardPath>,
    /// RCPT commands written.
    written: usize,
    /// RCPT replies received.
    replied: usize,
    accepted: usize,
    /// MAIL was refused.
    mail_failure: Option<Failure>,
    method: Method,
    pipelined: bool,
    data_written: bool,
    /// A `.` went out to close a DATA the session did not want (RFC 2920 section 3.1).
    discarded: bool,
    pub(super) body: BodyState,
    /// The first refusal of the body.
    failure: Option<Failure>,
}

impl Connection {
    /// Starts a transaction: MAIL FROM with the parameters the message needs (SIZE when the
    /// server advertises it, BODY=8BITMIME or BINARYMIME, SMTPUTF8 when an address is not
    /// ASCII), then RCPT TO per recipient (and DATA), all in one write under PIPELINING.
    ///
    /// Refused with nothing sent when the session is not [ready](Self::is_ready) or the
    /// server lacks what the message needs.
    pub fn send_mail(&mut self, envelope: Envelope) -> Result<(), SendMailError> {
        self.check_ready()?;
        if envelope.to.is_empty() {
            return Err(SendMailError::NoRecipients);
        }
        let mut params = MailParams::new();
        let size_limit = self.capabilities.as_ref().and_then(|c| c.size());
        if let (Some(size), Some(limit)) = (envelope.size_hint, size_limit) {
            // RFC 1870 section 4: 0 means no fixed limit.
            if limit > 0 && size > limit {
                return Err(SendMailError::MessageTooBig { size, limit });
            }
            params.set_size(Some(size));
        }
        let chunking = self.config.chunking && self.has(Extension::Chunking);
        if envelope.binary {
            if !chunking || !self.has(Extension::BinaryMime) {
                return Err(SendMailError::BinaryMimeNotOffered);
            }
            params.set_body(Some(BodyType::BinaryMime));
        } else if envelope.body_8bit {
            if !self.has(Extension::EightBitMime) {
                return Err(SendMailError::EightBitMimeNotOffered);
            }
            params.set_body(Some(BodyType::EightBitMime));
        }
        if envelope.needs_smtputf8() {
            if !self.has(Extension::SmtpUtf8) {
                return Err(SendMailError::SmtpUtf8NotOffered);
            }
            params.set_smtputf8(true);
        }
        let method = if chunking {
            Method::Bdat {
                binary: envelope.binary,
            }
        } else {
            Method::Data
        };
        let pipelined = self.config.pipelining && self.has(Extension::Pipelining);
        self.next_wait();
        let mail = Command::Mail {
            from: envelope.from,
            params,
        };
        self.write_command(&mail, Expect::Mail);
        self.phase = Phase::Transaction;
        self.txn = Some(Transaction {
            recipients: envelope.to,
            written: 0,
            replied: 0,
            accepted: 0,
            mail_failure: None,
            method,
            pipelined,
            data_written: false,
            discarded: false,
            body: BodyState::Waiting,
            failure: None,
        });
        self.drive_transaction();
        Ok(())
    }

    /// Whether the application should push more body now: the body is open and the transmit
    /// queue is below [`Config::transmit_bound`](super::Config::transmit_bound). The body is
    /// never gathered whole: push a chunk, write what [`poll`](Self::poll) transmits, repeat
    /// (`poll` says [`Next::AwaitApp`](crate::Next::AwaitApp) while more is wanted).
    pub fn wants_body(&self) -> bool {
        let open = self
            .txn
            .as_ref()
            .is_some_and(|txn| txn.body == BodyState::Open);
        open && self.pending_transmit() < self.config.transmit_bound
            && self.body.staged.len() < self.config.bdat_chunk_size
    }

    /// Sends a piece of the body (after [`Event::SendBody`]). Over DATA it is dot-stuffed;
    /// either way bare CR and bare LF become CRLF (unless the body is binary), so the server
    /// sees the same lines whatever the split.
    pub fn send_body_chunk(&mut self, chunk: Bytes) -> Result<(), UsageError> {
        let method = self.open_body()?;
        self.next_wait();
        match method {
            Method::Data => self.body.dot.encode(&chunk, &mut self.out),
            Method::Bdat { binary: true } => self.body.staged.extend_from_slice(&chunk),
            Method::Bdat { binary: false } => self.body.crlf.encode(&chunk, &mut self.body.staged),
        }
        if matches!(method, Method::Bdat { .. }) {
            self.flush_bdat();
        }
        Ok(())
    }

    /// Sends the whole body at once and ends it (after [`Event::SendBody`]):
    /// [`send_body_chunk`](Self::send_body_chunk) then [`end_body`](Self::end_body), for a
    /// message already in memory: a `Bytes` moves in, a borrowed `&[u8]` or `&str` is
    /// copied ([`IntoBytes`]). Line ends are normalised as there.
    pub fn send_body(&mut self, body: impl IntoBytes) -> Result<(), UsageError> {
        self.send_body_chunk(body.into_shared())?;
        self.end_body()
    }

    /// Ends the body: over DATA a final CRLF if missing and the `.` line; over BDAT the last
    /// chunk as `BDAT n LAST` (`BDAT 0 LAST` when nothing is left).
    pub fn end_body(&mut self) -> Result<(), UsageError> {
        let method = self.open_body()?;
        self.next_wait();
        let Some(txn) = self.txn.as_mut() else {
            return Err(UsageError::NoBodyExpected);
        };
        match method {
            Method::Data => {
                self.body.dot.finish(&mut self.out);
                txn.body = BodyState::Ended;
                self.expects.push_back(Expect::DataEnd);
            }
            Method::Bdat { binary } => {
                if !binary {
                    self.body.crlf.finish(&mut self.body.staged);
                }
                txn.body = BodyState::Ending;
                self.flush_bdat();
            }
        }
        Ok(())
    }

    fn open_body(&self) -> Result<Method, UsageError> {
        match &self.txn {
            Some(txn) if txn.body == BodyState::Open => Ok(txn.method),
            _ if self.phase == Phase::Closed => Err(UsageError::Closed),
            _ => Err(UsageError::NoBodyExpected),
        }
    }

    /// Writes BDAT commands for what is staged: a full chunk, or the rest with LAST once the
    /// body is ended; without PIPELINING only when no earlier BDAT awaits its reply.
    fn flush_bdat(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        if !txn.pipelined && !self.expects.is_empty() {
            return;
        }
        let last = match txn.body {
            BodyState::Ending => true,
            BodyState::Open if self.body.staged.len() >= self.config.bdat_chunk_size => false,
            _ => return,
        };
        if last {
            txn.body = BodyState::Ended;
        }
        let command = Command::Bdat {
            size: self.body.staged.len() as u64,
            last,
        };
        command.write(&mut self.out);
        self.expects.push_back(Expect::Bdat { last });
        // The chunk follows its command as a transmit of its own, handed over without a copy
        // (a chunk is up to `bdat_chunk_size` octets).
        let chunk = self.body.staged.split().freeze();
        self.push_chunk(chunk);
    }

    /// Writes what the transaction can send now, and ends it once every reply is in and
    /// nothing more will be sent.
    fn drive_transaction(&mut self) {
        let Some(txn) = self.txn.as_mut() else { return };
        if txn.mail_failure.is_none() && !self.quit_requested {
            while txn.written < txn.recipients.len() && (txn.pipelined || self.expects.is_empty()) {
                let command = Command::Rcpt {
                    to: txn.recipients[txn.written].clone(),
                    params: RcptParams::new(),
                };
                command.write(&mut self.out);
                self.expects.push_back(Expect::Rcpt);
                txn.written += 1;
            }
            if txn.written < txn.recipients.len() {
                return;
            }
            if txn.method == Method::Data && txn.pipelined && !txn.data_written {
                // RFC 2920 section 3.1: DATA may close the pipelined group.
                txn.data_written = true;
                self.write_command(&Command::Data, Expect::Data);
                return;
            }
        }
        if matches!(txn.body, BodyState::Open | BodyState::Ending) {
            return self.flush_bdat();
        }
        if !self.expects.is_empty() || self.quit_requested {
            return;
        }
        // Every reply is in.
        if let Some(failure) = txn.mail_failure.take() {
            let discarded = txn.discarded;
            return self.end_transaction(Event::SenderRejected(failure), discarded);
        }
        if txn.accepted == 0 {
            return self.end_transaction(Event::NoRecipientAccepted, true);
        }
        match (txn.method, txn.body) {
            (Method::Data, BodyState::Waiting) if !txn.data_written => {
                txn.data_written = true;
                self.write_command(&Command::Data, Expect::Data);
            }
            (Method::Bdat { .. }, BodyState::Waiting) => {
                txn.body = BodyState::Open;
                self.events.push_back(Event::SendBody);
            }
            (_, BodyState::Failed) => {
                let failure = txn.failure.take();
                let event = failure.map_or(Event::NoRecipientAccepted, Event::MessageRejected);
                self.end_transaction(event, true);
            }
            _ => {}
        }
    }

    /// Ends the transaction with `event`, after an RSET when the server may still hold
    /// transaction state.
    fn end_transaction(&mut self, event: Event, reset: bool) {
        self.txn = None;
        self.phase = Phase::Ready;
        if reset {
            self.pending_end = Some(event);
            self.write_command(&Command::Rset, Expect::Rset);
        } else {
            self.events.push_back(event);
        }
    }

    pub(super) fn on_transaction_reply(&mut self, expect: Expect, reply: Reply) {
        let Some(txn) = self.txn.as_mut() else {
            // The transaction was given up (QUIT requested): the replies only drain.
            return;
        };
        let class = reply.code().class();
        if class == Class::PositiveIntermediate && !matches!(expect, Expect::Data) {
            return self.unexpected(expect, &reply);
        }
        match expect {
            Expect::Mail => {
                if let Some(failure) = Failure::from_reply(reply) {
                    txn.mail_failure = Some(failure);
                }
            }
            Expect::Rcpt => {
                let index = txn.replied;
                txn.replied += 1;
                // After a refused MAIL, the RCPT replies (503) say nothing about recipients.
                if txn.mail_failure.is_none() {
                    // A reply per RCPT written, so the index is in range; Postmaster stands
                    // in rather than panic should that ever not hold.
                    let to = txn
                        .recipients
                        .get(index)
                        .cloned()
                        .unwrap_or(ForwardPath::Postmaster);
                    let event = match Failure::from_reply(reply.clone()) {
                        None => {
                            txn.accepted += 1;
                            Event::RecipientAccepted { index, to, reply }
                        }
                        Some(failure) => Event::RecipientRejected { index, to, failure },
                    };
                    self.events.push_back(event);
                }
            }
            Expect::Data => self.on_data_reply(reply),
            Expect::DataDiscard => {}
            Expect::DataEnd => {
                let event = match Failure::from_reply(reply.clone()) {
                    None => Event::MessageAccepted(reply),
                    Some(failure) => Event::MessageRejected(failure),
                };
                return self.end_transaction(event, false);
            }
            Expect::Bdat { last } => {
                if let Some(failure) = Failure::from_reply(reply.clone()) {
                    txn.failure.get_or_insert(failure);
                    if !last && matches!(txn.body, BodyState::Open | BodyState::Ending) {
                        // RFC 3030 section 2: after a refused chunk no more is sent.
                        txn.body = BodyState::Failed;
                        self.body.staged.clear();
                        self.body.crlf = super::CrlfNormalizer::new();
                    }
                }
                if last {
                    return match txn.failure.take() {
                        None => self.end_transaction(Event::MessageAccepted(reply), false),
                        Some(failure) => {
                            self.end_transaction(Event::MessageRejected(failure), true)
                        }
                    };
                }
            }
            _ => {}
        }
        self.drive_transaction();
    }

    /// The reply to DATA: 354 opens the body, unless no recipient was accepted (then a lone
    /// `.` closes it, RFC 2920 section 3.1) or QUIT was asked for (then the connection is
    /// dropped: an empty message must not be delivered).
    fn on_data_reply(&mut self, reply: Reply) {
        let Some(txn) = self.txn.as_mut() else { return };
        let wanted = txn.mail_failure.is_none() && txn.accepted > 0;
        if reply.code().get() == 354 {
            if wanted && self.quit_requested {
                // The application gave up: only dropping the connection ends a DATA without
                // delivering an empty message.
                self.clear_output();
                return self.close(CloseReason::Shutdown);
            }
            if wanted {
                txn.body = BodyState::Open;
                self.events.push_back(Event::SendBody);
            } else {
                txn.discarded = true;
                self.out.put_slice(b".\r\n");
                self.expects.push_back(Expect::DataDiscard);
            }
            return;
        }
        match Failure::from_reply(reply.clone()) {
            Some(failure) if wanted => {
                txn.failure = Some(failure);
                txn.body = BodyState::Failed;
            }
            // Refusing DATA after refusing every recipient is what the server should do.
            Some(_) => {}
            None => self.unexpected(Expect::Data, &reply),
        }
    }
}
