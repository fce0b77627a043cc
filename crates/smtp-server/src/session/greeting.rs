//! EHLO and HELO (RFC 5321 §4.1.1.1): the client names itself; the server answers
//! with its name and, for EHLO, the extensions it offers.
//!
//! What is offered depends on the connection: STARTTLS only before TLS (RFC 3207
//! §4.2: "MUST NOT" be offered after the handshake), AUTH only after it (RFC 4954 §4:
//! plaintext mechanisms "SHOULD NOT" be offered without a security layer).

use sendwell_queue::QueueStore;
use sendwell_smtp::sasl::Mechanism;
use sendwell_smtp::{Extension, Reply, ReplyCode as C};

use super::Session;

impl<S: QueueStore + Clone> Session<S> {
    pub(super) fn ehlo(&mut self, client: String, esmtp: bool) {
        self.idle();
        // RFC 5321 §4.1.4: EHLO in the middle of a session resets it like RSET.
        self.tx = None;
        let host = self.ctx.hostname.clone();
        let mut lines = vec![format!("{host} Hello {client} [{}]", self.ip)];
        if esmtp {
            let c = &self.ctx.config;
            let mut ext = vec![
                Extension::Pipelining,
                Extension::Size(Some(c.limits.max_message_size)),
                Extension::EightBitMime,
                Extension::SmtpUtf8,
                Extension::EnhancedStatusCodes,
            ];
            if c.smtp.chunking {
                ext.push(Extension::Chunking);
            }
            if self.tls.is_none() && self.ctx.tls.is_some() {
                ext.push(Extension::StartTls);
            }
            if self.tls.is_some() && self.user.is_none() {
                ext.push(Extension::Auth(vec![Mechanism::Plain, Mechanism::Login]));
            }
            lines.extend(ext.iter().map(ToString::to_string));
        }
        self.helo = Some(client);
        self.esmtp = esmtp;
        // RFC 2034 §3: no enhanced codes on the EHLO reply.
        self.reply(Reply {
            code: C::C250_OK,
            enhanced: None,
            lines,
        });
    }
}
