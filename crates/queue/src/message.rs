//! What the queue keeps about a message: the envelope (fixed when accepted) and the
//! delivery state of each recipient (changed by each attempt).
//!
//! The per-recipient state is what delivery with retries needs (RFC 5321 §4.5.4.1:
//! retry a 4yz "after at least 30 minutes", give up after "at least 4-5 days"): the
//! number of attempts, the last reply, when to try next. A 5yz or expiry makes a
//! recipient `Failed` (and a DSN, RFC 3464, once delivery exists).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::QueueId;

/// Where one recipient's copy goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "mailbox")]
pub enum Destination {
    /// A local mailbox: the Maildir of this address (lower case) under `DIR/mail/`.
    Mailbox(String),
    /// An outside address: delivered over SMTP to the domain's MX.
    Remote,
}

/// One recipient as accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The address to deliver to (after alias expansion), `local@domain`.
    pub address: String,
    /// The RCPT TO address the client gave, when it differs (an alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Where the copy goes.
    pub destination: Destination,
}

/// The envelope of an accepted message. Never changes once stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The queue id (also in the Received header and the logs).
    pub id: QueueId,
    /// The reverse-path without angle brackets; empty for the null sender `<>`.
    pub sender: String,
    /// The recipients, in RCPT order.
    pub recipients: Vec<Recipient>,
    /// When the message was accepted, Unix seconds.
    pub received_at: u64,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<IpAddr>,
    /// What the client said in EHLO/HELO.
    #[serde(default)]
    pub helo: String,
    /// The authenticated user, for submitted mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_user: Option<String>,
    /// The client used SMTPUTF8 (RFC 6531): the next hop must offer it too.
    #[serde(default)]
    pub smtputf8: bool,
    /// The client declared BODY=8BITMIME (RFC 6152).
    #[serde(default)]
    pub eight_bit: bool,
    /// The envelope sender for the copies this server forwards (recipients with an
    /// `original` alias address going to [`Destination::Remote`]): `sender` rewritten
    /// with SRS when the mail came from outside, so forwarded mail never leaves from
    /// our IP address under another domain's (or a forger's) sender. `None`: `sender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_sender: Option<String>,
}

impl Envelope {
    /// The reverse-path to use for recipient `index`: the SRS sender for a forwarded
    /// copy when there is one, else the sender.
    pub fn sender_for(&self, index: usize) -> &str {
        match (&self.forward_sender, self.recipients.get(index)) {
            (Some(srs), Some(r))
                if r.original.is_some() && r.destination == Destination::Remote =>
            {
                srs
            }
            _ => &self.sender,
        }
    }

    /// True for a message from outside that this server forwards (an alias to another
    /// domain): its sender is not authenticated, so a failure downstream is not
    /// bounced to it (backscatter).
    pub fn is_forwarded_from_outside(&self, index: usize) -> bool {
        self.auth_user.is_none()
            && self.client_ip.is_some()
            && self
                .recipients
                .get(index)
                .is_some_and(|r| r.original.is_some() && r.destination == Destination::Remote)
    }
}

/// Where a recipient stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt`.
    Queued,
    /// Delivered (2yz, or written to the mailbox).
    Delivered,
    /// Given up: a 5yz reply or the lifetime ran out.
    Failed,
}

/// One recipient's delivery state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientState {
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// The last reply or error, as text (`451 4.3.0 try later`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reply: Option<String>,
    /// When to try next, Unix seconds; `None` means as soon as possible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<u64>,
    /// A "delayed" notification (RFC 3464 `Action: delayed`) was sent for it: at most
    /// one per recipient.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delay_notified: bool,
    /// The last reply a remote server gave about this recipient, on one line, as the
    /// server wrote it (`451 4.7.1 greylisted`): kept across attempts that got no
    /// reply (a timeout), so a notification when the lifetime ends can quote it
    /// (RFC 3464 §2.3.6 `Diagnostic-Code: smtp;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_reply: Option<String>,
    /// The host that gave `remote_reply` (RFC 3464 §2.3.5 `Remote-MTA: dns;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
}

impl RecipientState {
    /// The state of a recipient just accepted.
    pub fn new() -> Self {
        RecipientState {
            status: DeliveryStatus::Queued,
            attempts: 0,
            last_reply: None,
            next_attempt: None,
            delay_notified: false,
            remote_reply: None,
            remote_mta: None,
        }
    }

    /// True for `Delivered` and `Failed`.
    pub fn is_finished(&self) -> bool {
        self.status != DeliveryStatus::Queued
    }
}

impl Default for RecipientState {
    fn default() -> Self {
        Self::new()
    }
}

/// The delivery state of a whole message, one entry per recipient (same order as
/// [`Envelope::recipients`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageState {
    /// Per recipient.
    pub recipients: Vec<RecipientState>,
    /// Removed by `sendwell queue delete`: never delivered further.
    #[serde(default)]
    pub deleted: bool,
}

impl MessageState {
    /// The state of a message just accepted with `n` recipients.
    pub fn new(n: usize) -> Self {
        MessageState {
            recipients: vec![RecipientState::new(); n],
            deleted: false,
        }
    }

    /// True when the message needs nothing more: deleted, or every recipient finished.
    pub fn is_finished(&self) -> bool {
        self.deleted || self.recipients.iter().all(RecipientState::is_finished)
    }
}

/// A message in the queue: its envelope, its state and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// The envelope.
    pub envelope: Envelope,
    /// The delivery state.
    pub state: MessageState,
    /// The message data's size in octets.
    pub size: u64,
}
