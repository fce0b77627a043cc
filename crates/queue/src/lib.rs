//! The mail queue: where an accepted message waits, on disk, until every recipient
//! has it.
//!
//! The promise (RFC 5321 §6.1: "the receiver-SMTP MUST NOT lose the message"): a
//! message is written *and synced to stable storage, data and directory entry*
//! before the server answers 250. After a crash, a restart finds every message that
//! got a 250, and never a half-written one as if it were whole.
//!
//! - [`QueueStore`] is the interface the server and the delivery agents use; a
//!   PostgreSQL backend can implement it without touching them.
//! - [`FileStore`] is the backend on local disk: append-only *segments* of
//!   self-checking records (magic, lengths, CRC-32 over everything; see [`record`]),
//!   written by one committer thread that syncs many messages with one `fdatasync`
//!   (group commit). Per-recipient delivery state lives in small state files that are
//!   replaced atomically; the accept path never writes one.
//! - [`message`] holds the envelope and the per-recipient state (attempts, last reply,
//!   next attempt) that delivery with retries (issue 6) reads and writes.
//! - [`maildir`] and [`local`] deliver to local mailboxes.
//!
//! Design decision: one segment file per batch of appends, not one file per message.
//! Acceptance costs one `write` and a share of one `fdatasync`; a new segment costs
//! one directory sync, paid before any record in it is acknowledged. A segment is
//! deleted when every message in it is finished.

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

mod id;
pub mod local;
pub mod maildir;
pub mod message;
pub mod record;
mod spool;
mod state;

pub use id::QueueId;
pub use message::{
    DeliveryStatus, Destination, Envelope, MessageState, QueuedMessage, Recipient, RecipientState,
};
pub use spool::{FileStore, RecoveryReport};

use std::future::Future;
use std::sync::Arc;

/// Why the queue could not do something. (Delivery outcomes are values in
/// [`RecipientState`], not errors.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Another `sendwell serve` holds this queue.
    #[error("the queue in {0} is in use by another sendwell serve")]
    Locked(std::path::PathBuf),
    /// The committer thread is gone (the store is shutting down).
    #[error("the queue is shutting down")]
    Closed,
    /// A message too large for the record format (4 GiB).
    #[error("message too large for the queue")]
    TooLarge,
    /// No message with this id.
    #[error("no message {0} in the queue")]
    NotFound(QueueId),
    /// A stored record failed its check when read back.
    #[error("message {0} is damaged on disk (checksum mismatch)")]
    Damaged(QueueId),
}

/// How soon a state change must reach stable storage ([`QueueStore::update_recipients`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage before the call returns.
    Synced,
    /// Visible at once, on stable storage eventually; a crash may lose it.
    Lazy,
}

/// The queue as the server and the delivery agents see it.
///
/// Implementations: [`FileStore`]. Every method is async so a networked backend
/// (PostgreSQL) fits; the file store runs its disk work on blocking threads.
pub trait QueueStore: Send + Sync + 'static {
    /// Store a message durably. Returns only when the envelope and `data` are on
    /// stable storage (data and directory entry synced): the caller may then answer
    /// 250. On error nothing may be promised to the client (answer 451).
    fn enqueue(
        &self,
        envelope: Envelope,
        data: Arc<[u8]>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Every message not yet finished (some recipient still queued), oldest first.
    fn list(&self) -> impl Future<Output = Result<Vec<QueuedMessage>, QueueError>> + Send;

    /// One message's envelope and state, if it is still in the queue.
    fn get(
        &self,
        id: QueueId,
    ) -> impl Future<Output = Result<Option<QueuedMessage>, QueueError>> + Send;

    /// One message's data, checked against its checksum.
    fn read_data(&self, id: QueueId) -> impl Future<Output = Result<Vec<u8>, QueueError>> + Send;

    /// Record the outcome of delivery attempts: each `(index, state)` replaces the
    /// state of recipient `index` (in [`Envelope::recipients`] order); other
    /// recipients keep theirs, so agents for different recipients of one message do
    /// not overwrite each other. A message whose recipients are all finished leaves
    /// the queue. Returns false when there is no such message.
    ///
    /// What is on stable storage when this returns depends on `durability`:
    /// - [`Durability::Synced`]: the new state, data and directory entry. The
    ///   delivery agent uses it for a state a notification follows from (a recipient
    ///   `Failed`, or `delay_notified` set), right after queueing that notification:
    ///   the window in which a crash makes the recipient be tried, and notified
    ///   about, a second time is then as short as it can be, and the notification
    ///   itself is never lost (RFC 5321 §6.1).
    /// - [`Durability::Lazy`]: the new state is visible to every reader at once but
    ///   may be lost in a crash, leaving the previous state: a recipient then counts as
    ///   not yet tried (delivery is at least once, as with every MTA). For retry
    ///   bookkeeping and deliveries, where syncing each outcome would serialise the
    ///   delivery agents.
    fn update_recipients(
        &self,
        id: QueueId,
        updates: Vec<(usize, RecipientState)>,
        durability: Durability,
    ) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Remove a message without delivering it (`sendwell queue delete`). Returns false
    /// when there was no such message.
    fn delete(&self, id: QueueId) -> impl Future<Output = Result<bool, QueueError>> + Send;

    /// Make every queued recipient of a message due now (`sendwell queue retry`).
    fn retry_now(&self, id: QueueId) -> impl Future<Output = Result<bool, QueueError>> + Send;
}
