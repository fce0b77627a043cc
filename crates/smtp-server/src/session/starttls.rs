//! STARTTLS (RFC 3207): turn the plain connection into a TLS one.
//!
//! Two rules make it safe:
//! - RFC 3207 §4.2 / CVE-2011-0411: bytes the client sent after `STARTTLS` but
//!   before the handshake were sent in the clear and may have been injected by an
//!   attacker on the path; they are thrown away, never run as commands. So
//!   `STARTTLS\r\nNOOP\r\n` in one packet runs no NOOP.
//! - RFC 3207 §4.2: "the server MUST discard any knowledge obtained from the client,
//!   such as the argument to the EHLO command": the session starts over (EHLO
//!   again), and any AUTH or transaction is forgotten.

use sendwell_queue::QueueStore;
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{Reply, ReplyCode as C};

use super::{Flow, Session};
use crate::wire::Conn;

impl<S: QueueStore + Clone> Session<S> {
    pub(super) async fn starttls(&mut self) -> Flow {
        if self.tls.is_some() {
            self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "TLS is already active",
            ));
            return Flow::Continue;
        }
        let Some(acceptor) = self.ctx.tls.clone() else {
            // RFC 3207 §4: "454 TLS not available due to temporary reason".
            self.refuse(Reply::new(
                C::C454_TEMPORARY_AUTH_FAILURE,
                E::S4_7_0_SECURITY,
                "TLS not available",
            ));
            return Flow::Continue;
        };
        self.reply(Reply::new(
            C::C220_SERVICE_READY,
            E::S2_0_0_OK,
            "Ready to start TLS",
        ));
        if self.flush().await.is_err() {
            return Flow::Close;
        }
        // CVE-2011-0411: nothing received before the handshake survives it.
        let discarded = self.wire.discard_buffered();
        if discarded > 0 {
            tracing::warn!(client = %self.ip, bytes = discarded,
                "discarded input pipelined after STARTTLS (command injection attempt, CVE-2011-0411)");
        }
        let Some(plain) = self.wire.take_plain() else {
            return Flow::Close;
        };
        // The handshake writes too: bounded like every other exchange (RFC 5321
        // §4.5.3.2), and by the session's deadline.
        let until = self.until(self.command_timeout());
        match tokio::time::timeout_at(until, acceptor.accept(plain)).await {
            Ok(Ok(tls)) => {
                self.wire.set_conn(Conn::Tls(Box::new(tls)));
                self.tls = self.wire.conn().tls_info();
                // RFC 3207 §4.2: forget everything learnt before TLS.
                self.helo = None;
                self.esmtp = false;
                self.user = None;
                self.tx = None;
                tracing::debug!(client = %self.ip, tls = ?self.tls, "TLS started");
                Flow::Continue
            }
            Ok(Err(e)) => {
                tracing::info!(client = %self.ip, error = %e, "STARTTLS handshake failed");
                Flow::Close
            }
            Err(_) => {
                tracing::info!(client = %self.ip, "STARTTLS handshake timed out");
                Flow::Close
            }
        }
    }
}
