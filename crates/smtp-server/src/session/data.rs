//! DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030): receiving the message, judging it,
//! adding our header fields, and storing it durably before the 250.
//!
//! The DATA text goes through [`sendwell_smtp::DataReader`], which ends the message
//! only at `<CRLF>.<CRLF>` (the SMTP-smuggling defence) and reports bare CR/LF, long
//! lines and oversize. Whatever follows the terminator stays in the read buffer: it
//! is the client's next pipelined command (RFC 2920).
//!
//! The message is held in a [`MessageBuffer`], charged against the memory budget all
//! sessions share ([`crate::memory`]): a message that does not fit is read to its end
//! but not kept, and gets 452 4.3.1.
//!
//! Submitted mail (an authenticated session) must have exactly one From field whose
//! every mailbox the user may send as (RFC 5322 §3.6; parsed exactly, by
//! `sendwell_dmarc`'s RFC 5322 parser, in [`headers::scan`]); the same parsed domain
//! picks the DKIM keys.
//!
//! Every transaction ends in one structured log line with the queue id, the client,
//! the sender, the recipients and the outcome.

use std::sync::Arc;

use sendwell_queue::{Destination, Envelope, QueueStore};
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{BareLineEndings, DataEnd, DataReader, DataVerdict, Reply, ReplyCode as C};

use super::{Flow, Session, Transaction, WireError};
use crate::headers::{self, FromAddress, FromError, ReceivedInfo};
use crate::memory::MessageBuffer;

impl<S: QueueStore + Clone> Session<S> {
    fn reader(&self, dot: bool) -> DataReader {
        let c = &self.ctx.config;
        let policy = match c.smtp.bare_line_endings {
            sendwell_config::BareLineEndings::Reject => BareLineEndings::Reject,
            sendwell_config::BareLineEndings::Normalize => BareLineEndings::Normalize,
        };
        if dot {
            DataReader::data(policy, c.limits.max_message_size, c.limits.max_text_line)
        } else {
            DataReader::chunks(policy, c.limits.max_message_size, c.limits.max_text_line)
        }
    }

    /// An empty message buffer on the shared memory budget; `hint` sizes the first
    /// allocation.
    fn buffer(&self, hint: usize) -> MessageBuffer {
        MessageBuffer::new(
            Arc::clone(&self.ctx.data_memory),
            self.ctx.config.limits.max_message_size,
            hint,
        )
    }

    /// The sequence check shared by DATA and BDAT: a transaction with a recipient.
    fn ready_for_data(&mut self) -> bool {
        match &self.tx {
            None => {
                // RFC 5321 §3.3: DATA needs MAIL and RCPT first.
                self.refuse(Reply::new(
                    C::C503_BAD_SEQUENCE,
                    E::S5_5_1_INVALID_COMMAND,
                    "Need MAIL and RCPT before the message",
                ));
                false
            }
            Some(tx) if tx.recipients.is_empty() => {
                // RFC 5321 §3.3: "no valid recipients" (554).
                self.refuse(Reply::new(
                    C::C554_TRANSACTION_FAILED,
                    E::S5_5_1_INVALID_COMMAND,
                    "No valid recipients",
                ));
                false
            }
            Some(_) => true,
        }
    }

    pub(super) async fn data(&mut self) -> Flow {
        if !self.ready_for_data() {
            return Flow::Continue;
        }
        self.reply(Reply::plain(
            C::C354_START_MAIL_INPUT,
            "Start mail input; end with <CRLF>.<CRLF>",
        ));
        let already = self.wire.buffered().len() as u64;
        if let Some(tx) = self.tx.as_mut() {
            tx.data_since = Some((tokio::time::Instant::now(), already));
        }
        let mut reader = self.reader(true);
        let expected = self
            .tx
            .as_ref()
            .and_then(|t| t.params.size)
            .unwrap_or(0)
            .min(self.ctx.config.limits.max_message_size)
            // The SIZE the client declares only hints the first allocation, at most
            // 1 MiB: memory follows the bytes actually received, so declaring large
            // sizes on many connections reserves nothing.
            .min(1024 * 1024) as usize;
        let mut body = self.buffer(expected);
        let end = loop {
            let (used, end) = body.feed(&mut reader, self.wire.buffered());
            self.wire.consume(used);
            if let Some(end) = end {
                break end;
            }
            match self.fill().await {
                Ok(0) | Err(WireError::Closed) => return self.lost_in_data(),
                Ok(_) => {}
                Err(WireError::Timeout) => {
                    self.timeout_reply();
                    return self.lost_in_data();
                }
            }
        };
        self.finish(end, body).await
    }

    pub(super) async fn bdat(&mut self, size: u64, last: bool) -> Flow {
        // RFC 3030 §2: the chunk follows the command line whatever the answer, so it
        // is read (or skipped) before any reply.
        let ok = self.ctx.config.smtp.chunking && self.ready_for_data();
        let mut reader_and_body = if ok {
            // As for DATA, the first chunk's size only hints the first allocation.
            let fresh = (
                self.reader(false),
                self.buffer(size.min(1024 * 1024) as usize),
            );
            self.tx
                .as_mut()
                .and_then(|t| t.bdat.take())
                .unwrap_or(fresh)
        } else {
            // Read into nothing: the chunk is skipped (the buffer allocates nothing).
            (self.reader(false), self.buffer(0))
        };
        if ok && let Some(tx) = self.tx.as_mut() {
            // The rate is measured over the whole transfer, from its first chunk.
            tx.data_since
                .get_or_insert((tokio::time::Instant::now(), 0))
                .1 += self.wire.buffered().len().min(size as usize) as u64;
        }
        let mut remaining = size;
        while remaining > 0 {
            if self.wire.buffered().is_empty() {
                match self.fill().await {
                    Ok(0) | Err(WireError::Closed) => return self.lost_in_data(),
                    Ok(_) => {}
                    Err(WireError::Timeout) => {
                        self.timeout_reply();
                        return self.lost_in_data();
                    }
                }
            }
            let take = (self.wire.buffered().len() as u64).min(remaining) as usize;
            let (reader, body) = &mut reader_and_body;
            if ok {
                body.feed(reader, &self.wire.buffered()[..take]);
            }
            self.wire.consume(take);
            remaining -= take as u64;
        }
        if !ok {
            if !self.ctx.config.smtp.chunking {
                // ready_for_data did not run; CHUNKING is simply not offered.
                self.refuse(Reply::new(
                    C::C502_COMMAND_NOT_IMPLEMENTED,
                    E::S5_5_1_INVALID_COMMAND,
                    "BDAT is not offered here",
                ));
            }
            return Flow::Continue;
        }
        let (mut reader, mut body) = reader_and_body;
        if !last {
            let received = reader.size();
            if let Some(tx) = self.tx.as_mut() {
                tx.bdat = Some((reader, body));
            }
            self.reply(Reply::new(
                C::C250_OK,
                E::S2_0_0_OK,
                format!("{size} octets received ({received} so far)"),
            ));
            return Flow::Continue;
        }
        let end = body.finish_chunks(&mut reader);
        self.finish(end, body).await
    }

    /// The connection ended or timed out inside the message: nothing was accepted.
    fn lost_in_data(&mut self) -> Flow {
        if let Some(tx) = self.tx.take() {
            tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                outcome = "aborted", "connection lost during message data");
        }
        Flow::Close
    }

    /// Judge the received message, add our fields, store it, answer. `buffer` (and its
    /// charge on the memory budget) is kept until the message is queued.
    async fn finish(&mut self, end: DataEnd, mut buffer: MessageBuffer) -> Flow {
        let Some(tx) = self.tx.take() else {
            return Flow::Continue;
        };
        let limits = &self.ctx.config.limits;
        let refusal = match end.verdict {
            DataVerdict::Accept => None,
            // RFC 1870 §6.3 / RFC 5321 §4.5.3.1.10: 552 for too much mail data.
            DataVerdict::TooBig => Some(Reply::new(
                C::C552_STORAGE_EXCEEDED,
                E::S5_3_4_MESSAGE_TOO_BIG,
                format!(
                    "Message too big (at most {} octets)",
                    limits.max_message_size
                ),
            )),
            // RFC 5321 §4.5.3.1.6 and §4.2.4: "500 Line too long".
            DataVerdict::LineTooLong => Some(Reply::new(
                C::C500_SYNTAX_ERROR,
                E::S5_5_2_SYNTAX_ERROR,
                format!("Line too long (at most {} octets)", limits.max_text_line),
            )),
            // RFC 5321 §2.3.8: CR and LF "MUST only occur together as CRLF".
            DataVerdict::BareLf | DataVerdict::BareCr => Some(Reply::new(
                C::C554_TRANSACTION_FAILED,
                E::S5_6_0_MEDIA_ERROR,
                format!(
                    "Message refused: bare {} in the data (RFC 5321 §2.3.8)",
                    if end.verdict == DataVerdict::BareLf {
                        "LF"
                    } else {
                        "CR"
                    }
                ),
            )),
        };
        let refusal = refusal.or_else(|| {
            buffer.overflowed().then(|| {
                tracing::warn!(queue_id = %tx.id, client = %self.ip, size = end.size,
                    in_use = self.ctx.data_memory.in_use(), limit = self.ctx.data_memory.limit(),
                    "message data over the memory budget (limits.max_data_memory); not kept");
                // RFC 5321 §4.5.3.1.10: 452 for insufficient storage; RFC 3463 X.3.1.
                Reply::new(
                    C::C452_INSUFFICIENT_STORAGE,
                    E::S4_3_1_MAIL_SYSTEM_FULL,
                    "Insufficient system storage: too much mail is being received; try again later",
                )
            })
        });
        let body = buffer.take();
        let scan = headers::scan(&body);
        let refusal = refusal.or_else(|| self.header_from_refusal(&scan.from));
        let refusal = match refusal {
            Some(r) => Some(r),
            None => self.own_domain_refusal(&tx, &scan, &body).await,
        };
        if let Some(reply) = refusal {
            tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                size = end.size, outcome = "rejected", reply = %reply.text(), "message refused");
            self.refuse(reply);
            return Flow::Continue;
        }
        let message = self.stamp(&tx, body, &scan);
        let message = match self.sign(message, &tx, &scan) {
            Ok(message) => message,
            Err(reply) => {
                tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                    size = end.size, outcome = "rejected", reply = %reply.text(), "message refused");
                self.refuse(reply);
                return Flow::Continue;
            }
        };
        let flow = self.store(tx, message).await;
        drop(buffer);
        flow
    }

    /// For submitted mail: exactly one From field (RFC 5322 §3.6), which parses, and
    /// every mailbox in it one the user may send as. Otherwise 550: 5.6.0 for a From
    /// that is missing, repeated or unreadable; 5.7.1 for an address not the user's
    /// (like MAIL FROM). Mail from other servers is not judged on its From.
    fn header_from_refusal(&self, from: &Result<Vec<FromAddress>, FromError>) -> Option<Reply> {
        let user = self.user.as_ref()?;
        let from = match from {
            Ok(from) => from,
            Err(e) => {
                return Some(Reply::new(
                    C::C550_MAILBOX_UNAVAILABLE,
                    E::S5_6_0_MEDIA_ERROR,
                    format!("Message refused: {}", reply_text(&e.to_string())),
                ));
            }
        };
        let bad = from.iter().find(|a| !user.may_send_as(&a.address))?;
        Some(Reply::new(
            C::C550_MAILBOX_UNAVAILABLE,
            E::S5_7_1_DELIVERY_NOT_AUTHORIZED,
            format!(
                "From: header address <{}> is not one {} may send as",
                reply_text(&bad.address),
                user.address
            ),
        ))
    }

    /// Mail from outside that claims one of our domains without authenticating as it
    /// (see [`crate::own_domains`]): the reply refusing it, if any.
    async fn own_domain_refusal(
        &self,
        tx: &Transaction,
        scan: &headers::HeaderScan,
        body: &[u8],
    ) -> Option<Reply> {
        if self.authenticated() {
            return None;
        }
        let dns = self.ctx.dns.as_ref()?;
        let mail_from = tx
            .sender
            .mailbox()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let from: Vec<&str> = match &scan.from {
            Ok(list) => list.iter().map(|a| a.domain.as_str()).collect(),
            Err(_) => Vec::new(),
        };
        // Most mail from outside claims none of our domains: decided here, without
        // DNS or a boxed future.
        let claims = crate::own_domains::claims(&self.ctx.config, &mail_from, &from);
        if claims.is_empty() {
            return None;
        }
        let helo = self.helo.clone().unwrap_or_default();
        // Boxed as a `Send` future: the checks' futures are generic over the lookup and
        // borrow the message, which the compiler cannot prove `Send` for every lifetime
        // through the session's own future otherwise.
        let check: std::pin::Pin<
            Box<dyn std::future::Future<Output = crate::own_domains::Judgement> + Send + '_>,
        > = Box::pin(crate::own_domains::judge(
            dns,
            &self.ctx.config,
            &claims,
            self.ip,
            &helo,
            &mail_from,
            body,
            headers::now(),
        ));
        match check.await {
            crate::own_domains::Judgement::NoClaim
            | crate::own_domains::Judgement::Authenticated => None,
            crate::own_domains::Judgement::Monitored(claim) => {
                tracing::warn!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, domain = %claim.domain,
                    "accepted unauthenticated mail claiming our domain: its DMARC policy is none (monitoring)");
                None
            }
            crate::own_domains::Judgement::Refuse(r)
            | crate::own_domains::Judgement::TryLater(r) => Some(r),
        }
    }

    /// The SRS envelope sender for the forwarded copies of mail from outside (see
    /// [`sendwell_queue::Envelope::forward_sender`]); `None` for submitted mail, the
    /// null sender, or nothing forwarded.
    fn forward_sender(&self, tx: &Transaction, sender: &str) -> Option<String> {
        if self.authenticated() || sender.is_empty() {
            return None;
        }
        let srs = self.ctx.directory.srs.as_ref()?;
        let alias = tx
            .recipients
            .iter()
            .find(|r| r.destination == Destination::Remote && r.original.is_some())?;
        // The forwarder's domain: the one the alias is in.
        let domain = alias
            .original
            .as_deref()
            .and_then(|o| o.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
            .filter(|d| self.ctx.directory.is_local_domain(d))
            .unwrap_or_else(|| self.ctx.directory.primary_domain().to_string());
        srs.forward(sender, &domain, headers::now())
    }

    /// Prepend Received, and for submitted mail Date and Message-ID when missing.
    fn stamp(&self, tx: &Transaction, body: Vec<u8>, scan: &headers::HeaderScan) -> Vec<u8> {
        let now = headers::now();
        let id = tx.id.to_string();
        let helo = self.helo.clone().unwrap_or_default();
        let for_recipient = (tx.given.len() == 1).then(|| {
            tx.given[0]
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        });
        let received = headers::received(&ReceivedInfo {
            helo: &helo,
            client_ip: self.ip,
            hostname: &self.ctx.hostname,
            esmtp: self.esmtp,
            tls: self.tls.as_deref(),
            authenticated: self.authenticated(),
            smtputf8: tx.params.smtputf8,
            queue_id: &id,
            for_recipient: for_recipient.as_deref(),
            time: now,
        });
        let mut out = Vec::with_capacity(received.len() + body.len() + 128);
        out.extend_from_slice(received.as_bytes());
        if self.authenticated() {
            // RFC 6409 §8.3: the MSA may add a missing Date; §8.2: Message-ID.
            if !scan.has_date {
                out.extend_from_slice(
                    format!("Date: {}\r\n", headers::rfc5322_date(now)).as_bytes(),
                );
            }
            if !scan.has_message_id {
                out.extend_from_slice(
                    format!(
                        "Message-ID: {}\r\n",
                        headers::message_id(&id, &self.ctx.hostname)
                    )
                    .as_bytes(),
                );
            }
        }
        out.extend_from_slice(&body);
        out
    }

    /// RFC 6376 §5: mail from an authenticated user is signed for its From domain with
    /// every key configured for it, before it is queued. Mail with From addresses in
    /// several domains has no one signing domain and goes unsigned (DMARC could not
    /// pass for it anyway), as does mail from a domain without keys. A message that
    /// cannot be signed because of what it is (a header line without a colon, RFC 5322
    /// §2.2) is refused with 550 5.6.0 and the reason, so the user can fix it, rather
    /// than sent unsigned to be junked; a failure of the key is 451 4.3.0 (the client
    /// keeps the message and tries again).
    fn sign(
        &self,
        message: Vec<u8>,
        tx: &Transaction,
        scan: &headers::HeaderScan,
    ) -> Result<Vec<u8>, Reply> {
        if !self.authenticated() {
            return Ok(message);
        }
        // The domain as the From check parsed it (never reached without one: such
        // submitted mail was refused).
        let Ok(from) = &scan.from else {
            return Ok(message);
        };
        let mut domains = from.iter().map(|a| a.domain.as_str());
        let Some(domain) = domains.next().map(str::to_string) else {
            return Ok(message);
        };
        if domains.any(|d| d != domain) {
            tracing::warn!(queue_id = %tx.id, from = ?from, "not signed: From has addresses in several domains");
            return Ok(message);
        }
        let signers = self.ctx.outbound.signers_for(&domain);
        if signers.is_empty() {
            tracing::warn!(queue_id = %tx.id, %domain, "not signed: no DKIM key is configured for this domain");
            return Ok(message);
        }
        match sendwell_dkim::sign_all(signers, &message, headers::now()) {
            Ok(fields) => {
                let extra: usize = fields.iter().map(String::len).sum();
                let mut out = Vec::with_capacity(extra + message.len());
                for field in &fields {
                    out.extend_from_slice(field.as_bytes());
                }
                out.extend_from_slice(&message);
                tracing::debug!(queue_id = %tx.id, %domain, signatures = fields.len(), "DKIM-signed");
                Ok(out)
            }
            Err(e @ sendwell_dkim::SignError::Key(_)) => {
                tracing::error!(queue_id = %tx.id, %domain, error = %e, "DKIM signing failed; message not taken");
                Err(Reply::new(
                    C::C451_LOCAL_ERROR,
                    E::S4_3_0_MAIL_SYSTEM,
                    "The message cannot be DKIM-signed right now; try again later",
                ))
            }
            Err(e) => Err(Reply::new(
                C::C550_MAILBOX_UNAVAILABLE,
                E::S5_6_0_MEDIA_ERROR,
                format!(
                    "Message refused: it cannot be DKIM-signed: {}",
                    reply_text(&e.to_string())
                ),
            )),
        }
    }

    /// Store durably, then answer 250 (or 451 when the queue failed).
    async fn store(&mut self, tx: Transaction, message: Vec<u8>) -> Flow {
        let data: Arc<[u8]> = message.into();
        let has_local = tx
            .recipients
            .iter()
            .any(|r| matches!(r.destination, Destination::Mailbox(_)));
        let has_remote = tx
            .recipients
            .iter()
            .any(|r| r.destination == Destination::Remote);
        let sender = tx
            .sender
            .mailbox()
            .map(|m| m.to_string())
            .unwrap_or_default();
        let forward_sender = self.forward_sender(&tx, &sender);
        let envelope = Envelope {
            id: tx.id,
            forward_sender,
            sender,
            recipients: tx.recipients,
            received_at: headers::now(),
            client_ip: Some(self.ip),
            helo: self.helo.clone().unwrap_or_default(),
            auth_user: self.user.as_ref().map(|u| u.address.clone()),
            smtputf8: tx.params.smtputf8,
            eight_bit: tx.params.body == Some(sendwell_smtp::Body::EightBitMime),
        };
        let destinations: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| r.address.clone())
            .collect();
        // Flush replies already due (pipelined RCPTs) so the client is not kept
        // waiting on them while the disk syncs. A client that takes no replies would
        // never get the 250 either: nothing is queued, and the session ends.
        if self.flush().await.is_err() {
            tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                outcome = "aborted", "client not reading replies; message not accepted");
            return Flow::Close;
        }
        match self.ctx.store.enqueue(envelope, Arc::clone(&data)).await {
            Ok(()) => {
                tracing::info!(queue_id = %tx.id, client = %self.ip, listener = self.kind.name(),
                    user = self.user.as_ref().map(|u| u.address.as_str()).unwrap_or(""),
                    tls = self.tls.is_some(), sender = %tx.sender, recipients = ?tx.given,
                    deliver_to = ?destinations, size = data.len(), outcome = "queued", "message accepted");
                if has_remote && let Some(remote) = &self.ctx.outbound.remote {
                    remote(tx.id, Arc::clone(&data));
                }
                if has_local && let Some(local) = &self.ctx.local {
                    local.notify(tx.id, Some(data));
                }
                self.reply(Reply::new(
                    C::C250_OK,
                    E::S2_6_0_MESSAGE_ACCEPTED,
                    format!("Message accepted, queued as {}", tx.id),
                ));
                Flow::Continue
            }
            Err(e) => {
                tracing::error!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipients = ?tx.given,
                    outcome = "deferred", error = %e, "queue write failed; message not accepted");
                self.refuse(Reply::new(
                    C::C451_LOCAL_ERROR,
                    E::S4_3_0_MAIL_SYSTEM,
                    "Local error in processing; try again later",
                ));
                Flow::Continue
            }
        }
    }
}

/// Text that may hold pieces of the message, fit for a reply line: printable ASCII
/// and the `§` of our RFC citations (which other replies carry too); anything else,
/// line breaks above all, becomes `?`. At most 200 characters.
fn reply_text(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c == '§' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}
