//! MAIL, RCPT and RSET (RFC 5321 §4.1.1.2, §4.1.1.3, §4.1.1.5): opening a mail
//! transaction, naming its recipients, and throwing it away.
//!
//! The decisions here are the security ones: submission listeners require AUTH
//! before MAIL (RFC 6409 §4.3), an authenticated user may only use the senders the
//! users file allows (550 5.7.1), and every recipient goes through
//! [`crate::policy::Directory::decide`], the relay rules.

use sendwell_queue::{QueueId, QueueStore};
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{Body, ForwardPath, MailParameters, Reply, ReplyCode as C, ReversePath};

use super::{Session, Transaction};
use crate::policy::RcptDecision;

impl<S: QueueStore + Clone> Session<S> {
    pub(super) fn mail(&mut self, from: ReversePath, params: MailParameters) {
        if self.helo.is_none() {
            // RFC 5321 §4.1.4: the session starts with EHLO or HELO.
            return self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "Send EHLO or HELO first",
            ));
        }
        if self.tx.is_some() {
            // RFC 5321 §4.1.4: MAIL inside a transaction is out of sequence.
            return self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "Nested MAIL command",
            ));
        }
        if self.kind.requires_auth() && !self.authenticated() {
            // RFC 6409 §4.3 (submission requires authentication); RFC 4954 §6 code.
            return self.refuse(Reply::new(
                C::C530_AUTH_REQUIRED,
                E::S5_7_0_SECURITY,
                "Authentication required",
            ));
        }
        if params.body == Some(Body::BinaryMime) {
            // RFC 3030 §3: BINARYMIME is only for servers that announce it; we do not.
            return self.refuse(Reply::new(
                C::C555_PARAMETERS_NOT_RECOGNIZED,
                E::S5_5_4_INVALID_ARGUMENTS,
                "BODY=BINARYMIME is not supported",
            ));
        }
        let max = self.ctx.config.limits.max_message_size;
        if params.size.is_some_and(|s| s > max) {
            // RFC 1870 §6.1: 552 when the declared size exceeds the fixed maximum.
            return self.refuse(Reply::new(
                C::C552_STORAGE_EXCEEDED,
                E::S5_3_4_MESSAGE_TOO_BIG,
                format!("Message size exceeds the maximum of {max} octets"),
            ));
        }
        if let Some(m) = from.mailbox()
            && !m.is_ascii()
            && !params.smtputf8
        {
            // RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter.
            return self.refuse(Reply::new(
                C::C553_MAILBOX_NAME_NOT_ALLOWED,
                E::S5_6_7_NON_ASCII_ADDRESS,
                "Non-ASCII sender address without SMTPUTF8",
            ));
        }
        if let Some(user) = &self.user {
            let refusal = match from.mailbox() {
                None => Some("the null sender <> is for bounces, not for users".to_string()),
                Some(m) if !user.may_send_as(&m.to_string()) => Some(format!(
                    "{} may not send as <{m}> (see may_send_from in users.toml)",
                    user.address
                )),
                Some(_) => None,
            };
            if let Some(why) = refusal {
                tracing::info!(client = %self.ip, user = %user.address, sender = %from, outcome = "sender refused", "{why}");
                return self.refuse(Reply::new(
                    C::C550_MAILBOX_UNAVAILABLE,
                    E::S5_7_1_DELIVERY_NOT_AUTHORIZED,
                    format!("Sender refused: {why}"),
                ));
            }
        }
        self.active();
        let text = format!("Sender {from} OK");
        self.tx = Some(Transaction {
            id: QueueId::generate(),
            sender: from,
            params,
            recipients: Vec::new(),
            given: Vec::new(),
            bdat: None,
            data_since: None,
        });
        self.reply(Reply::new(C::C250_OK, E::S2_1_0_ORIGINATOR_OK, text));
    }

    pub(super) fn rcpt(&mut self, to: ForwardPath) {
        let max = self.ctx.config.limits.max_recipients;
        let authenticated = self.authenticated();
        let Some(tx) = self.tx.as_mut() else {
            // RFC 5321 §3.3: RCPT requires a prior MAIL.
            return self.refuse(Reply::new(
                C::C503_BAD_SEQUENCE,
                E::S5_5_1_INVALID_COMMAND,
                "Need MAIL before RCPT",
            ));
        };
        if tx.given.len() >= max {
            // RFC 5321 §4.5.3.1.10: "452 Too many recipients" (4.5.3, RFC 3463).
            self.wire.send(&Reply::new(
                C::C452_INSUFFICIENT_STORAGE,
                E::S4_5_3_TOO_MANY_RECIPIENTS,
                format!("Too many recipients (at most {max} per message)"),
            ));
            return;
        }
        if let Some(m) = to.mailbox()
            && !m.is_ascii()
            && !tx.params.smtputf8
        {
            // RFC 6531 §3.4.
            return self.refuse(Reply::new(
                C::C553_MAILBOX_NAME_NOT_ALLOWED,
                E::S5_6_7_NON_ASCII_ADDRESS,
                "Non-ASCII recipient address without SMTPUTF8",
            ));
        }
        let users = self.ctx.accounts.current();
        let is_account = |a: &str| users.find(a).is_some();
        match self
            .ctx
            .directory
            .decide_with(&to, authenticated, &is_account)
        {
            RcptDecision::Accept(recipients) => {
                tx.recipients.extend(recipients);
                tx.given.push(to.to_string());
                self.reply(Reply::new(
                    C::C250_OK,
                    E::S2_1_5_DESTINATION_VALID,
                    format!("Recipient {to} OK"),
                ));
            }
            RcptDecision::Refuse(reply) => {
                tracing::info!(queue_id = %tx.id, client = %self.ip, sender = %tx.sender, recipient = %to,
                    authenticated, outcome = "recipient refused", reply = %reply.text(), "RCPT refused");
                self.refuse(reply);
            }
        }
    }

    pub(super) fn rset(&mut self) {
        self.idle();
        if let Some(tx) = self.tx.take() {
            tracing::debug!(queue_id = %tx.id, client = %self.ip, "transaction reset");
        }
        self.reply(Reply::new(
            C::C250_OK,
            sendwell_smtp::EnhancedStatusCode::S2_0_0_OK,
            "OK",
        ));
    }
}
