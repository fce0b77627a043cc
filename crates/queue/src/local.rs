//! The local delivery agent: copies queued messages into the Maildirs of their local
//! recipients, and records each outcome in the queue.
//!
//! The server tells the agent about each message it accepts (with the data, so the
//! common case reads nothing back). At start, and every minute, the agent also
//! looks for local recipients that are due: those a crash or a full disk left
//! behind. Delivery is at least once: a crash between the Maildir write and the
//! state write delivers that copy again after restart.
//!
//! Each copy gets `Return-Path:` (RFC 5321 §4.4) and `Delivered-To:` at the top, as
//! a final delivery agent writes them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::maildir;
use crate::message::{DeliveryStatus, Destination, QueuedMessage, RecipientState};
use crate::{Durability, QueueId, QueueStore};

/// How long a local delivery that failed (a full disk, say) waits before the next try.
pub const LOCAL_RETRY: Duration = Duration::from_secs(300);
/// How often the agent looks for due local recipients.
const SCAN_EVERY: Duration = Duration::from_secs(60);

/// Tells the agent about new messages. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LocalDelivery {
    tx: mpsc::UnboundedSender<(QueueId, Option<Arc<[u8]>>)>,
}

impl LocalDelivery {
    /// Start the agent on the current tokio runtime. `mail_root` is `DIR/mail`;
    /// `hostname` goes into Maildir file names.
    pub fn spawn<S: QueueStore + Clone>(store: S, mail_root: PathBuf, hostname: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(store, mail_root, hostname, rx));
        LocalDelivery { tx }
    }

    /// A message was queued; `data` saves reading it back.
    pub fn notify(&self, id: QueueId, data: Option<Arc<[u8]>>) {
        let _ = self.tx.send((id, data));
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn run<S: QueueStore>(
    store: S,
    mail_root: PathBuf,
    hostname: String,
    mut rx: mpsc::UnboundedReceiver<(QueueId, Option<Arc<[u8]>>)>,
) {
    let host: String = hostname
        .chars()
        .map(|c| if c == '/' || c == ':' { '_' } else { c })
        .collect();
    let mut scan = tokio::time::interval(SCAN_EVERY);
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Some((id, data)) => deliver(&store, &mail_root, &host, id, data).await,
                None => return,
            },
            _ = scan.tick() => {
                let Ok(all) = store.list().await else { continue };
                let t = now();
                for m in all.into_iter().filter(|m| has_due_local(m, t)) {
                    deliver(&store, &mail_root, &host, m.envelope.id, None).await;
                }
            }
        }
    }
}

fn due_local(m: &QueuedMessage, t: u64) -> Vec<usize> {
    m.envelope
        .recipients
        .iter()
        .zip(&m.state.recipients)
        .enumerate()
        .filter(|(_, (r, s))| {
            matches!(r.destination, Destination::Mailbox(_))
                && s.status == DeliveryStatus::Queued
                && s.next_attempt.is_none_or(|n| n <= t)
        })
        .map(|(i, _)| i)
        .collect()
}

fn has_due_local(m: &QueuedMessage, t: u64) -> bool {
    !m.state.deleted && !due_local(m, t).is_empty()
}

async fn deliver<S: QueueStore>(
    store: &S,
    mail_root: &std::path::Path,
    host: &str,
    id: QueueId,
    data: Option<Arc<[u8]>>,
) {
    let Ok(Some(m)) = store.get(id).await else {
        return;
    };
    let t = now();
    let targets = due_local(&m, t);
    if targets.is_empty() || m.state.deleted {
        return;
    }
    let data: Arc<[u8]> = match data {
        Some(d) => d,
        None => match store.read_data(id).await {
            Ok(d) => d.into(),
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "cannot read queued message for local delivery");
                return;
            }
        },
    };
    let jobs: Vec<(usize, String, RecipientState)> = targets
        .into_iter()
        .filter_map(|i| match &m.envelope.recipients[i].destination {
            Destination::Mailbox(mb) => Some((i, mb.clone(), m.state.recipients[i].clone())),
            Destination::Remote => None,
        })
        .collect();
    let sender = m.envelope.sender.clone();
    let mail_root = mail_root.to_path_buf();
    let host = host.to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .map(|(i, mailbox, mut st)| {
                let mut copy = format!("Return-Path: <{sender}>\r\nDelivered-To: {mailbox}\r\n")
                    .into_bytes();
                copy.extend_from_slice(&data);
                let unique = format!("{t}.{id}R{i}.{host}");
                let dir = maildir::mailbox_path(&mail_root, &mailbox);
                st.attempts += 1;
                match maildir::deliver(&dir, &unique, &copy) {
                    Ok(path) => {
                        st.status = DeliveryStatus::Delivered;
                        st.last_reply = Some(format!("delivered to {}", path.display()));
                        st.next_attempt = None;
                        tracing::info!(queue_id = %id, recipient = %mailbox, outcome = "delivered", path = %path.display(), "local delivery");
                    }
                    Err(e) => {
                        st.last_reply = Some(format!("local delivery failed: {e}"));
                        st.next_attempt = Some(t + LOCAL_RETRY.as_secs());
                        tracing::error!(queue_id = %id, recipient = %mailbox, outcome = "deferred", error = %e, "local delivery");
                    }
                }
                (i, st)
            })
            .collect::<Vec<_>>()
    })
    .await;
    match outcome {
        Ok(updates) => {
            // Lazy: a lost outcome only means the mailbox copy is written again.
            if let Err(e) = store.update_recipients(id, updates, Durability::Lazy).await {
                tracing::error!(queue_id = %id, error = %e, "cannot record local delivery");
            }
        }
        Err(e) => tracing::error!(queue_id = %id, error = %e, "local delivery task failed"),
    }
}
