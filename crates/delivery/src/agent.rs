//! The remote delivery agent: takes queued messages to their recipients' servers, with
//! retries and bounces, and records every outcome in the queue.
//!
//! - Each due remote recipient is delivered in a transaction with the other recipients
//!   of the same message at the same domain (RFC 5321 §5).
//! - Concurrency is bounded twice: deliveries in all, and deliveries per destination
//!   domain, so one slow receiver cannot take every slot and no receiver sees a flood.
//!   The domain's slot is taken first and only then a global one, so deliveries
//!   waiting for a busy domain hold no global slot and other domains keep flowing.
//! - 2yz: delivered. 5yz or a null MX: failed, and one RFC 3464 notification per
//!   message and round to the envelope sender. 4yz, timeouts and refused connections:
//!   retried on the [`RetrySchedule`] until the lifetime ends, then failed (4.4.7)
//!   and notified, quoting the last reply a server gave about the recipient.
//! - Never a notification for a message with a null sender (a bounce), so bounces
//!   cannot loop; notifications go out with a null sender themselves.
//! - A state is written only after the attempt: a crash mid-delivery delivers that
//!   copy again after restart (at least once, never lost). A notification is queued
//!   (synced) before the state it follows from, which is then synced: a crash between
//!   the two makes the recipient be tried, and perhaps notified about, again; it can
//!   never lose the notification (RFC 5321 §6.1). A notification that cannot be
//!   queued leaves its recipients queued, to be tried again later.
//! - An outcome that cannot be recorded (the queue's disk failing) holds that message
//!   back, in memory, for [`HOLD_OFF`]: without it every scan would deliver (or
//!   bounce) the same recipients again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use sendwell_dns::Lookup;
use sendwell_queue::local::LocalDelivery;
use sendwell_queue::{
    DeliveryStatus, Destination, Durability, Envelope as QueueEnvelope, QueueId, QueueStore,
    QueuedMessage, Recipient, RecipientState,
};
use tokio::sync::{Semaphore, mpsc};

use crate::client::{ClientConfig, Envelope, RecipientOutcome, TlsPolicy};
use crate::deliver::{SessionCache, deliver_cached};
use crate::dsn::{self, Action, Dsn, DsnRecipient};
use crate::retry::{NextStep, RetrySchedule};

/// How the agent works.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// How to connect and present ourselves.
    pub client: ClientConfig,
    /// TLS policy per destination domain, overriding `client.tls`.
    pub tls_per_domain: HashMap<String, TlsPolicy>,
    /// Retry schedule and lifetime.
    pub retry: RetrySchedule,
    /// Deliveries at once, in all.
    pub max_concurrent: usize,
    /// Deliveries at once to one destination domain.
    pub max_per_domain: usize,
    /// This server's host name (`Reporting-MTA` of notifications).
    pub hostname: String,
    /// How often to look for due recipients when nothing else wakes the agent.
    pub scan_every: Duration,
    /// After how long in the queue a sender gets one "delayed" notice (RFC 3464
    /// `Action: delayed`); `None` sends none.
    pub delay_notice: Option<Duration>,
    /// How long an open session to a destination is kept for the next message (a
    /// connection cache); `None` opens a connection per delivery.
    pub keep_sessions: Option<Duration>,
    /// Where failures of forwarded mail from outside are reported instead of to its
    /// (unauthenticated, maybe forged) sender: postmaster@ our first domain.
    pub postmaster: Option<String>,
    /// At most one such report per this interval; the failures in between are logged.
    pub forward_failure_notice_every: Duration,
}

impl AgentConfig {
    /// Defaults around a client configuration: 20 deliveries at once, 4 per domain,
    /// the default retry schedule, a scan every 5 s (so `sendwell queue retry`, run by
    /// another process, takes effect within seconds).
    pub fn new(client: ClientConfig, hostname: impl Into<String>) -> Self {
        AgentConfig {
            client,
            tls_per_domain: HashMap::new(),
            retry: RetrySchedule::default(),
            max_concurrent: 20,
            max_per_domain: 4,
            hostname: hostname.into(),
            scan_every: Duration::from_secs(5),
            delay_notice: Some(Duration::from_secs(4 * 3600)),
            keep_sessions: Some(Duration::from_secs(10)),
            postmaster: None,
            forward_failure_notice_every: Duration::from_secs(3600),
        }
    }
}

/// The rate limit of reports to postmaster@ about forwarded mail that failed.
#[derive(Debug, Default)]
struct PostmasterNotice {
    /// Unix time of the last report.
    last: Option<u64>,
    /// Failures not reported since (logged only).
    unreported: u64,
}

/// Destination domains whose concurrency limiters are kept while idle.
const MAX_TRACKED_DOMAINS: usize = 1024;

/// Where a notification for `sender` is delivered: a local mailbox or the sender's MX.
pub type BounceRoute = Arc<dyn Fn(&str) -> Destination + Send + Sync>;

/// What wakes the agent's loop.
#[derive(Debug)]
enum Notice {
    /// A message was queued (its data, when at hand).
    Queued(QueueId, Option<Arc<[u8]>>),
    /// A recipient is due at this Unix time: scan then, if not before.
    DueAt(u64),
}

/// Tells the agent about new messages. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RemoteDelivery {
    tx: mpsc::UnboundedSender<Notice>,
}

impl RemoteDelivery {
    /// Start the agent on the current tokio runtime. `local` receives notifications
    /// that go to local mailboxes.
    pub fn spawn<S, L>(
        store: S,
        lookup: Arc<L>,
        config: AgentConfig,
        bounce_route: BounceRoute,
        local: Option<LocalDelivery>,
    ) -> Self
    where
        S: QueueStore + Clone,
        L: Lookup + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let sessions = config
            .keep_sessions
            .map(|idle| Arc::new(SessionCache::new(idle, config.max_per_domain.max(1))));
        let agent = Arc::new(Agent {
            sessions,
            store,
            lookup,
            global: Semaphore::new(config.max_concurrent.max(1)),
            per_domain: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashSet::new()),
            held_off: Mutex::new(HashMap::new()),
            postmaster_notice: Mutex::new(PostmasterNotice::default()),
            config,
            bounce_route,
            local,
            notify: tx.clone(),
        });
        tokio::spawn(agent.run(rx));
        RemoteDelivery { tx }
    }

    /// A message was queued; `data` saves reading it back.
    pub fn notify(&self, id: QueueId, data: Option<Arc<[u8]>>) {
        let _ = self.tx.send(Notice::Queued(id, data));
    }
}

struct Agent<S, L> {
    /// Open sessions kept for the next message to the same domain.
    sessions: Option<Arc<SessionCache>>,
    store: S,
    lookup: Arc<L>,
    config: AgentConfig,
    global: Semaphore,
    per_domain: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// (message, recipient index) being delivered now: never scheduled twice.
    inflight: Mutex<HashSet<(QueueId, usize)>>,
    /// Messages whose last outcome could not be recorded: not before this time.
    held_off: Mutex<HashMap<QueueId, u64>>,
    /// When postmaster@ was last told about failed forwarded mail.
    postmaster_notice: Mutex<PostmasterNotice>,
    bounce_route: BounceRoute,
    local: Option<LocalDelivery>,
    notify: mpsc::UnboundedSender<Notice>,
}

/// How long a message is held back after its outcome could not be recorded, and how
/// soon recipients whose notification could not be queued are tried again.
pub const HOLD_OFF: Duration = Duration::from_secs(300);

/// At most this many messages held back in memory; past it the expired go first, and
/// then the map is cleared (the disk is failing for everyone at that point anyway).
const MAX_HELD_OFF: usize = 10_000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn datetime(unix: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::try_from(unix).unwrap_or(i64::MAX), 0).unwrap_or_default()
}

/// A lifetime in words for a notification: "5 days", "3 hours", "90 seconds".
fn describe(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Remote recipients due at `t`, by index.
fn due_remote(m: &QueuedMessage, t: u64) -> Vec<usize> {
    if m.state.deleted {
        return Vec::new();
    }
    m.envelope
        .recipients
        .iter()
        .zip(&m.state.recipients)
        .enumerate()
        .filter(|(_, (r, s))| {
            r.destination == Destination::Remote
                && s.status == DeliveryStatus::Queued
                && s.next_attempt.is_none_or(|n| n <= t)
        })
        .map(|(i, _)| i)
        .collect()
}

impl<S, L> Agent<S, L>
where
    S: QueueStore + Clone,
    L: Lookup + 'static,
{
    async fn run(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Notice>) {
        // First a scan: a restart resumes the queue.
        let mut wake = tokio::time::Instant::now();
        loop {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(Notice::Queued(id, data)) => {
                        if let Ok(Some(m)) = self.store.get(id).await {
                            Arc::clone(&self).schedule(m, data);
                        }
                    }
                    Some(Notice::DueAt(at)) => {
                        // At least a second away: a receiver that fails at once must not
                        // make a busy loop, whatever the schedule says.
                        let due = tokio::time::Instant::now()
                            + Duration::from_secs(at.saturating_sub(now()).max(1));
                        wake = wake.min(due);
                    }
                    None => return,
                },
                _ = tokio::time::sleep_until(wake) => {
                    if let Some(sessions) = &self.sessions {
                        // Closing idle sessions waits on servers: never in this loop.
                        let sessions = Arc::clone(sessions);
                        tokio::spawn(async move { sessions.sweep().await });
                    }
                    let next_due = self.scan().await;
                    let t = now();
                    let until = next_due
                        .map(|due| Duration::from_secs(due.saturating_sub(t)))
                        .unwrap_or(self.config.scan_every)
                        .min(self.config.scan_every)
                        .max(Duration::from_secs(1));
                    wake = tokio::time::Instant::now() + until;
                }
            }
        }
    }

    /// Schedule every due recipient; return the earliest future retry time.
    async fn scan(self: &Arc<Self>) -> Option<u64> {
        let all = match self.store.list().await {
            Ok(all) => all,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the queue");
                return None;
            }
        };
        let t = now();
        let mut earliest: Option<u64> = None;
        for m in all {
            for (r, s) in m.envelope.recipients.iter().zip(&m.state.recipients) {
                if r.destination == Destination::Remote
                    && s.status == DeliveryStatus::Queued
                    && let Some(n) = s.next_attempt
                    && n > t
                {
                    earliest = Some(earliest.map_or(n, |e| e.min(n)));
                }
            }
            Arc::clone(self).schedule(m, None);
        }
        earliest
    }

    fn schedule(self: Arc<Self>, m: QueuedMessage, data: Option<Arc<[u8]>>) {
        let t = now();
        {
            let mut held = self.held_off.lock().unwrap_or_else(|e| e.into_inner());
            match held.get(&m.envelope.id) {
                Some(&until) if until > t => return,
                Some(_) => {
                    held.remove(&m.envelope.id);
                }
                None => {}
            }
        }
        let due = due_remote(&m, t);
        if due.is_empty() {
            return;
        }
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            for i in due {
                if !inflight.insert((m.envelope.id, i)) {
                    continue;
                }
                let domain = domain_of(&m.envelope.recipients[i].address);
                match groups.iter_mut().find(|(d, _)| *d == domain) {
                    Some((_, list)) => list.push(i),
                    None => groups.push((domain, vec![i])),
                }
            }
        }
        let m = Arc::new(m);
        for (domain, indices) in groups {
            let agent = Arc::clone(&self);
            let m = Arc::clone(&m);
            let data = data.clone();
            tokio::spawn(async move {
                let retry_at = agent.deliver_group(&m, &domain, &indices, data).await;
                {
                    let mut inflight = agent.inflight.lock().unwrap_or_else(|e| e.into_inner());
                    for i in &indices {
                        inflight.remove(&(m.envelope.id, *i));
                    }
                }
                // Wake the loop for the retry, even when that is before the next scan
                // (only now: while in flight the recipients would be skipped).
                if let Some(at) = retry_at {
                    let _ = agent.notify.send(Notice::DueAt(at));
                }
            });
        }
    }

    fn domain_semaphore(&self, domain: &str) -> Arc<Semaphore> {
        let mut map = self.per_domain.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: past this many domains, forget those no delivery is using (a
        // semaphore only the map holds has all its permits back).
        if map.len() >= MAX_TRACKED_DOMAINS && !map.contains_key(domain) {
            map.retain(|_, sem| Arc::strong_count(sem) > 1);
        }
        Arc::clone(
            map.entry(domain.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.max_per_domain.max(1)))),
        )
    }

    /// Deliver one group; returns when its deferred recipients are due again.
    async fn deliver_group(
        &self,
        m: &QueuedMessage,
        domain: &str,
        indices: &[usize],
        data: Option<Arc<[u8]>>,
    ) -> Option<u64> {
        let id = m.envelope.id;
        // The destination's slot first, then a global one: a delivery waiting for a
        // busy (or stalled) domain must not hold a global slot meanwhile, or a few
        // slow domains would stop every other one.
        let domain_slots = self.domain_semaphore(domain);
        let Ok(_slot) = domain_slots.acquire().await else {
            return None;
        };
        let Ok(_global) = self.global.acquire().await else {
            return None;
        };
        // The message as it is now, not as the scan saw it: another delivery of these
        // recipients may have finished in between (never deliver a copy twice).
        let m = match self.store.get(id).await {
            Ok(Some(current)) => current,
            _ => return None,
        };
        let t = now();
        let indices: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| {
                m.state.recipients.get(i).is_some_and(|s| {
                    s.status == DeliveryStatus::Queued && s.next_attempt.is_none_or(|n| n <= t)
                }) && !m.state.deleted
            })
            .collect();
        if indices.is_empty() {
            return None;
        }
        let m = &m;
        let indices = &indices[..];
        let data: Arc<[u8]> = match data {
            Some(d) => d,
            None => match self.store.read_data(id).await {
                Ok(d) => d.into(),
                Err(e) => {
                    tracing::error!(queue_id = %id, error = %e, "cannot read queued message for delivery");
                    return None;
                }
            },
        };
        let recipients: Vec<String> = indices
            .iter()
            .map(|&i| m.envelope.recipients[i].address.clone())
            .collect();
        let mut client = self.config.client.clone();
        if let Some(policy) = self.config.tls_per_domain.get(domain) {
            client.tls = *policy;
        }
        let report = deliver_cached(
            self.lookup.as_ref(),
            &client,
            domain,
            Envelope {
                // A forwarded copy of mail from outside leaves with its SRS sender
                // (all remote recipients of such a message are forwarded ones).
                mail_from: m.envelope.sender_for(indices[0]),
                recipients: &recipients,
            },
            &data,
            self.sessions.as_deref(),
        )
        .await;

        let t = now();
        let mut retry_at: Option<u64> = None;
        let mut updates = Vec::with_capacity(indices.len());
        let mut bounced = Vec::new();
        let mut delayed = Vec::new();
        // Positions in `updates` of the states each notification follows from.
        let mut bounced_at = Vec::new();
        let mut delayed_at = Vec::new();
        // Failures of forwarded mail from outside: never bounced to its sender, which
        // nothing authenticated (backscatter); reported to postmaster@ instead.
        let mut unbounced = Vec::new();
        let mut unbounced_at: Vec<usize> = Vec::new();
        for (k, (&i, address)) in indices.iter().zip(&recipients).enumerate() {
            let Some(outcome) = report.recipients.get(k) else {
                continue;
            };
            let mut st: RecipientState = m.state.recipients[i].clone();
            st.attempts += 1;
            let forwarded = m.envelope.is_forwarded_from_outside(i);
            // The reply a server gave about this recipient now, if any; kept in the
            // state so a later notification can still quote it (RFC 3464 §2.3.6).
            let remote = report.replies.get(k).cloned().flatten();
            if let Some(r) = &remote {
                st.remote_reply = Some(r.reply.clone());
                st.remote_mta = Some(r.host.clone());
            }
            match outcome {
                RecipientOutcome::Delivered { reply } => {
                    st.status = DeliveryStatus::Delivered;
                    st.last_reply = Some(reply.clone());
                    st.next_attempt = None;
                    tracing::info!(queue_id = %id, recipient = %address, host = ?report.remote_host, outcome = "delivered", reply = %reply, "remote delivery");
                }
                RecipientOutcome::Failed { status, reason, .. } => {
                    st.status = DeliveryStatus::Failed;
                    st.last_reply = Some(reason.clone());
                    st.next_attempt = None;
                    tracing::warn!(queue_id = %id, recipient = %address, host = ?report.remote_host, outcome = "failed", status = %status, reason = %reason, "remote delivery");
                    let (list, at) = if forwarded {
                        (&mut unbounced, &mut unbounced_at)
                    } else {
                        (&mut bounced, &mut bounced_at)
                    };
                    at.push(updates.len());
                    // Only this attempt's reply: an older one did not decide this.
                    list.push(DsnRecipient {
                        recipient: address.clone(),
                        action: Action::Failed,
                        status: status.clone(),
                        diagnostic: remote.as_ref().map(|r| r.reply.clone()),
                        reason: reason.clone(),
                        remote_mta: remote.as_ref().map(|r| r.host.clone()),
                        last_attempt: Some(datetime(t)),
                        will_retry_until: None,
                    });
                }
                RecipientOutcome::Deferred { status, reason } => {
                    st.last_reply = Some(reason.clone());
                    let arrival = UNIX_EPOCH + Duration::from_secs(m.envelope.received_at);
                    let now_time = UNIX_EPOCH + Duration::from_secs(t);
                    match self.config.retry.next(st.attempts, arrival, now_time) {
                        NextStep::RetryAt(at) => {
                            let at = at
                                .duration_since(UNIX_EPOCH)
                                .map(|d| d.as_secs())
                                .unwrap_or(t);
                            st.next_attempt = Some(at);
                            retry_at = Some(retry_at.map_or(at, |r: u64| r.min(at)));
                            tracing::info!(queue_id = %id, recipient = %address, outcome = "deferred", status = %status, reason = %reason, retry_in_s = at.saturating_sub(t), "remote delivery");
                            // One "delayed" notice once the message has waited long
                            // enough, so the sender is not left guessing.
                            let waited = t.saturating_sub(m.envelope.received_at);
                            if let Some(after) = self.config.delay_notice
                                && !forwarded
                                && !st.delay_notified
                                && waited >= after.as_secs()
                            {
                                st.delay_notified = true;
                                delayed_at.push(updates.len());
                                let until = m
                                    .envelope
                                    .received_at
                                    .saturating_add(self.config.retry.lifetime.as_secs());
                                delayed.push(DsnRecipient {
                                    recipient: address.clone(),
                                    action: Action::Delayed,
                                    status: status.clone(),
                                    diagnostic: st.remote_reply.clone(),
                                    reason: reason.clone(),
                                    remote_mta: st.remote_mta.clone(),
                                    last_attempt: Some(datetime(t)),
                                    will_retry_until: Some(datetime(until)),
                                });
                            }
                        }
                        NextStep::GiveUp => {
                            st.status = DeliveryStatus::Failed;
                            st.next_attempt = None;
                            let (list, at) = if forwarded {
                                (&mut unbounced, &mut unbounced_at)
                            } else {
                                (&mut bounced, &mut bounced_at)
                            };
                            at.push(updates.len());
                            let lifetime = describe(self.config.retry.lifetime);
                            tracing::warn!(queue_id = %id, recipient = %address, outcome = "expired", reason = %reason, "remote delivery");
                            // RFC 3463 §3.5: X.4.7 delivery time expired. The last reply
                            // a server gave (maybe in an earlier attempt) is the
                            // Diagnostic-Code; our own account stays in the prose.
                            list.push(DsnRecipient {
                                recipient: address.clone(),
                                action: Action::Failed,
                                status: "4.4.7".into(),
                                diagnostic: st.remote_reply.clone(),
                                reason: format!("gave up after {lifetime} of temporary failures; the last one: {reason}"),
                                remote_mta: st.remote_mta.clone(),
                                last_attempt: Some(datetime(t)),
                                will_retry_until: None,
                            });
                        }
                    }
                }
            }
            updates.push((i, st));
        }
        // RFC 5321 §6.1: after acceptance, a delivery failure MUST be reported to the
        // sender. The notification is queued (synced) first and the states that caused
        // it are synced after it: a crash between the two leaves the recipients to be
        // tried again, which at worst notifies twice; the other order could lose the
        // notification for good. Plain retry bookkeeping is written lazily.
        let notifies =
            !m.envelope.sender.is_empty() && (!bounced.is_empty() || !delayed.is_empty());
        if !unbounced.is_empty() {
            self.report_forward_failures(m, &data, &unbounced).await;
        }
        let again = t.saturating_add(HOLD_OFF.as_secs());
        if !bounced.is_empty() && !self.notify_sender(m, &data, &bounced).await {
            // Not notified: not failed either. Tried again later, and notified then.
            for &k in &bounced_at {
                let st = &mut updates[k].1;
                st.status = DeliveryStatus::Queued;
                st.next_attempt = Some(again);
            }
            retry_at = Some(retry_at.map_or(again, |r| r.min(again)));
        }
        if !delayed.is_empty() && !self.notify_sender(m, &data, &delayed).await {
            for &k in &delayed_at {
                updates[k].1.delay_notified = false;
            }
        }
        let durability = if notifies {
            Durability::Synced
        } else {
            Durability::Lazy
        };
        if let Err(e) = self.store.update_recipients(id, updates, durability).await {
            tracing::error!(queue_id = %id, error = %e, hold_off_s = HOLD_OFF.as_secs(), "cannot record delivery outcome; message held back");
            let mut held = self.held_off.lock().unwrap_or_else(|e| e.into_inner());
            if held.len() >= MAX_HELD_OFF {
                held.retain(|_, until| *until > t);
                if held.len() >= MAX_HELD_OFF {
                    held.clear();
                }
            }
            held.insert(id, again);
            return Some(again);
        }
        retry_at
    }

    /// Queue one notification (failed or delayed recipients) for the sender; never for a
    /// null sender. False when it could not be queued (true when none was due).
    async fn notify_sender(
        &self,
        m: &QueuedMessage,
        data: &[u8],
        recipients: &[DsnRecipient],
    ) -> bool {
        self.notify(m, data, recipients, &m.envelope.sender).await
    }

    /// Failures of forwarded mail from outside (`recipients`): logged always, and
    /// reported to postmaster@ at most once per `forward_failure_notice_every`, never
    /// to the sender.
    async fn report_forward_failures(
        &self,
        m: &QueuedMessage,
        data: &[u8],
        recipients: &[DsnRecipient],
    ) {
        let id = m.envelope.id;
        let t = now();
        let due = {
            let mut n = self
                .postmaster_notice
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let every = self.config.forward_failure_notice_every.as_secs();
            let due = n.last.is_none_or(|last| t.saturating_sub(last) >= every);
            if due {
                n.last = Some(t);
                let before = n.unreported;
                n.unreported = 0;
                Some(before)
            } else {
                n.unreported += recipients.len() as u64;
                None
            }
        };
        for r in recipients {
            tracing::warn!(queue_id = %id, sender = %m.envelope.sender, recipient = %r.recipient, status = %r.status, reason = %r.reason,
                "forwarded mail from outside failed; no notification to its unauthenticated sender (backscatter)");
        }
        match (due, &self.config.postmaster) {
            (Some(before), Some(postmaster)) => {
                if before > 0 {
                    tracing::info!(
                        failures = before,
                        "forwarded-mail failures since the last report to postmaster (logged only)"
                    );
                }
                if !self.notify(m, data, recipients, postmaster).await {
                    tracing::error!(queue_id = %id, "cannot queue the report to postmaster");
                }
            }
            (None, Some(_)) => {
                tracing::info!(queue_id = %id, "postmaster was told about forwarded-mail failures within the interval; logged only");
            }
            (_, None) => {}
        }
    }

    /// Queue one notification about `recipients` of `m` to `to`.
    async fn notify(
        &self,
        m: &QueuedMessage,
        data: &[u8],
        recipients: &[DsnRecipient],
        to: &str,
    ) -> bool {
        let sender = to;
        let id = m.envelope.id;
        let report = Dsn {
            reporting_mta: &self.config.hostname,
            to: sender,
            arrival: datetime(m.envelope.received_at),
            queue_id: &id.to_string(),
            recipients,
            original: data,
        };
        // RFC 5321 §4.5.5 / §6.1: no notification about a notification.
        let Some(message) = dsn::build(&report, Utc::now()) else {
            tracing::info!(queue_id = %id, "no notification: the sender is null");
            return true;
        };
        let destination = (self.bounce_route)(sender);
        let envelope = QueueEnvelope {
            id: QueueId::generate(),
            sender: String::new(),
            recipients: vec![Recipient {
                address: sender.to_string(),
                original: None,
                destination: destination.clone(),
            }],
            received_at: now(),
            client_ip: None,
            helo: self.config.hostname.clone(),
            auth_user: None,
            smtputf8: !sender.is_ascii(),
            eight_bit: false,
            forward_sender: None,
        };
        let dsn_id = envelope.id;
        let data: Arc<[u8]> = message.into();
        match self.store.enqueue(envelope, Arc::clone(&data)).await {
            Ok(()) => {
                tracing::info!(queue_id = %id, dsn_queue_id = %dsn_id, to = %sender, "delivery status notification queued");
                match destination {
                    Destination::Remote => {
                        let _ = self.notify.send(Notice::Queued(dsn_id, Some(data)));
                    }
                    Destination::Mailbox(_) => {
                        if let Some(local) = &self.local {
                            local.notify(dsn_id, Some(data));
                        }
                    }
                }
                true
            }
            Err(e) => {
                tracing::error!(queue_id = %id, error = %e, "cannot queue the notification; its recipients stay queued");
                false
            }
        }
    }
}
