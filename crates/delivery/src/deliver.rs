//! Deliver to every recipient of one domain: route, then each host and address in turn
//! until one completes the transaction (RFC 5321 §5.1, §4.5.4.1).
//!
//! ```text
//! RFC 5321 §5.1: When the lookup succeeds, [...] the SMTP client [...] MUST try at
//! least two [addresses] before giving up [...]. If it is not possible to establish a
//! connection [...], the SMTP client SHOULD try the next one.
//! ```
//!
//! All recipients of one domain go in one transaction (the caller groups them). Once a
//! server has answered the transaction, its per-recipient verdicts stand: a recipient
//! refused with 4xx is retried later, not at the next MX (as Postfix does). The same
//! holds when the whole message was sent and the reply to its end never came: the
//! server may have it, so the recipients wait for the next scheduled retry rather than
//! go to another server, or a fresh session, in the same run (RFC 5321 §4.5.3.2.6,
//! §6.1). Only a session that ended before the message was sent (a [`SessionError`])
//! moves on to the next address.

use std::net::{IpAddr, SocketAddr};

use sendwell_dns::Lookup;

use crate::client::transaction::refused_addresses;
use crate::client::{ClientConfig, Envelope, RecipientOutcome, Session, SessionError};
use crate::route::{MxHost, Route, RouteError, resolve_route};

/// One connection attempt and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAttempt {
    /// The MX host name.
    pub host: String,
    /// The address.
    pub addr: SocketAddr,
    /// Why the session failed; `None` when it completed a transaction.
    pub error: Option<String>,
    /// TLS protocol and cipher, when used.
    pub tls: Option<String>,
}

/// The result of delivering to one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The domain.
    pub domain: String,
    /// One outcome per recipient, in the order given.
    pub recipients: Vec<RecipientOutcome>,
    /// Every connection tried, in order.
    pub attempts: Vec<HostAttempt>,
    /// The host that answered the transaction.
    pub remote_host: Option<String>,
    /// Per recipient (same order as `recipients`), the last server reply that bears on
    /// its outcome and the host that gave it: the reply that decided it in the
    /// transaction, or a refusal of the session (a 554 greeting). `None` when no
    /// server said anything about it (a null MX, no connection). A DSN quotes it as
    /// `Diagnostic-Code: smtp; <reply>` and `Remote-MTA: dns; <host>` (RFC 3464
    /// §2.3.6, §2.3.5).
    pub replies: Vec<Option<RemoteReply>>,
}

/// A server's reply, on one line, and the MX host that gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteReply {
    /// The MX host name.
    pub host: String,
    /// The reply, as [`crate::client::reply_line`] writes it: `554 5.7.1 go away`.
    pub reply: String,
}

impl DeliveryReport {
    fn decided(
        domain: &str,
        host: &str,
        recipients: Vec<RecipientOutcome>,
        replies: Vec<Option<String>>,
        attempts: Vec<HostAttempt>,
    ) -> Self {
        DeliveryReport {
            domain: domain.to_string(),
            recipients,
            attempts,
            remote_host: Some(host.to_string()),
            replies: replies
                .into_iter()
                .map(|r| {
                    r.map(|reply| RemoteReply {
                        host: host.to_string(),
                        reply,
                    })
                })
                .collect(),
        }
    }

    /// Nothing to send: every recipient was decided before any connection (addresses
    /// that cannot be written, or a route error).
    fn local(domain: &str, recipients: Vec<RecipientOutcome>) -> Self {
        let n = recipients.len();
        DeliveryReport {
            domain: domain.to_string(),
            recipients,
            attempts: Vec::new(),
            remote_host: None,
            replies: vec![None; n],
        }
    }
}

/// When every recipient is refused before sending (RFC 5321 §4.1.2 addresses), their
/// outcomes: then no connection is made at all.
fn refused_before_sending(envelope: &Envelope<'_>) -> Option<Vec<RecipientOutcome>> {
    refused_addresses(envelope)
        .into_iter()
        .map(|d| d.map(|(outcome, _)| outcome))
        .collect()
}

/// Most addresses tried in one delivery run, across all MX hosts (bounded work for a
/// domain with hundreds of MX records).
pub const MAX_ADDRESSES_PER_RUN: usize = 10;

/// Deliver `message` for the envelope's recipients, all at `domain`.
pub async fn deliver<L: Lookup>(
    lookup: &L,
    config: &ClientConfig,
    domain: &str,
    envelope: Envelope<'_>,
    message: &[u8],
) -> DeliveryReport {
    deliver_cached(lookup, config, domain, envelope, message, None).await
}

/// [`deliver`], first on a session `cache` keeps open to this domain, and keeping the
/// session afterwards for the next message (as Postfix's connection cache does: no
/// TCP and TLS handshake per message to a busy destination).
pub async fn deliver_cached<L: Lookup>(
    lookup: &L,
    config: &ClientConfig,
    domain: &str,
    envelope: Envelope<'_>,
    message: &[u8],
    cache: Option<&SessionCache>,
) -> DeliveryReport {
    if let Some(outcomes) = refused_before_sending(&envelope) {
        return DeliveryReport::local(domain, outcomes);
    }
    if let Some(cache) = cache {
        while let Some(mut session) = cache.take(domain) {
            // RSET proves the session alive and outside any transaction; a cached
            // session that fails before the message is sent is dropped and the
            // delivery goes on as if uncached. A transaction that reached the end of
            // data is an outcome (`Ok`), even when its reply never came.
            if !session.reset().await {
                continue;
            }
            if let Ok(report) = session.send(config, envelope, message).await {
                let attempt = HostAttempt {
                    host: report.host.clone(),
                    addr: report.addr,
                    error: None,
                    tls: report.tls.clone(),
                };
                if session.is_reusable() {
                    cache.put(domain, session);
                }
                return DeliveryReport::decided(
                    domain,
                    &report.host,
                    report.recipients,
                    report.replies,
                    vec![attempt],
                );
            }
        }
    }
    match resolve_route(
        lookup,
        domain,
        config.address_preference,
        &config.local_names,
    )
    .await
    {
        Ok(route) => deliver_via_cached(&route, config, envelope, message, cache).await,
        Err(e) => DeliveryReport::local(domain, vec![route_outcome(&e); envelope.recipients.len()]),
    }
}

fn route_outcome(e: &RouteError) -> RecipientOutcome {
    if e.is_temporary() {
        RecipientOutcome::Deferred {
            status: e.status().to_string(),
            reason: e.to_string(),
        }
    } else {
        RecipientOutcome::Failed {
            status: e.status().to_string(),
            reason: e.to_string(),
            remote: false,
        }
    }
}

/// Deliver along a route already resolved (or given, as with `sendwell send --via`).
pub async fn deliver_via(
    route: &Route,
    config: &ClientConfig,
    envelope: Envelope<'_>,
    message: &[u8],
) -> DeliveryReport {
    deliver_via_cached(route, config, envelope, message, None).await
}

async fn deliver_via_cached(
    route: &Route,
    config: &ClientConfig,
    envelope: Envelope<'_>,
    message: &[u8],
    cache: Option<&SessionCache>,
) -> DeliveryReport {
    if let Some(outcomes) = refused_before_sending(&envelope) {
        return DeliveryReport::local(&route.domain, outcomes);
    }
    let mut attempts = Vec::new();
    let mut errors: Vec<SessionError> = Vec::new();
    // The last refusal of a session (greeting, EHLO, AUTH) and who gave it.
    let mut last_remote: Option<RemoteReply> = None;
    // Collected first: an iterator of closures held across `.await` would make the
    // future not `Send` for every lifetime (the agent spawns it).
    let addresses: Vec<(&MxHost, IpAddr)> = route
        .hosts
        .iter()
        .flat_map(|h| h.addrs.iter().map(move |a| (h, *a)))
        .take(MAX_ADDRESSES_PER_RUN)
        .collect();
    for (host, addr) in addresses {
        let mut allow_tls = true;
        loop {
            let result = match Session::open(config, &host.name, addr, allow_tls).await {
                Ok(mut session) => {
                    let sent = session.send(config, envelope, message).await;
                    // Only a session to a most-preferred MX is kept: one to a backup
                    // MX would carry the next messages there even after the preferred
                    // one is back (RFC 5321 §5.1 orders the hosts for every message).
                    let most_preferred = route
                        .hosts
                        .first()
                        .is_some_and(|first| first.preference == host.preference);
                    // A session out of step (no reply to the end of data) is dropped.
                    if sent.is_ok() && session.is_reusable() {
                        match cache {
                            Some(cache) if most_preferred => cache.put(&route.domain, session),
                            _ => session.quit().await,
                        }
                    }
                    sent
                }
                Err(e) => Err(e),
            };
            let sockaddr = SocketAddr::new(addr, config.port);
            match result {
                Ok(report) => {
                    attempts.push(HostAttempt {
                        host: host.name.clone(),
                        addr: sockaddr,
                        error: None,
                        tls: report.tls.clone(),
                    });
                    tracing::debug!(host = %host.name, %sockaddr, tls = ?report.tls, "transaction completed");
                    return DeliveryReport::decided(
                        &route.domain,
                        &host.name,
                        report.recipients,
                        report.replies,
                        attempts,
                    );
                }
                Err(e) => {
                    if let SessionError::Refused { reply, .. } = &e {
                        last_remote = Some(RemoteReply {
                            host: host.name.clone(),
                            reply: reply.clone(),
                        });
                    }
                    tracing::info!(host = %host.name, %sockaddr, error = %e, "delivery attempt failed");
                    attempts.push(HostAttempt {
                        host: host.name.clone(),
                        addr: sockaddr,
                        error: Some(e.to_string()),
                        tls: None,
                    });
                    // Opportunistic TLS that fails: the same server, in cleartext
                    // (RFC 7435 §3: fall back rather than not deliver).
                    let retry_plain = matches!(e, SessionError::TlsFailed(_)) && allow_tls;
                    errors.push(e);
                    if retry_plain {
                        allow_tls = false;
                        continue;
                    }
                    break;
                }
            }
        }
    }
    // No server completed the transaction. Permanent only if every server said so.
    let outcome = match errors.last() {
        Some(last) if errors.iter().all(SessionError::is_permanent) => RecipientOutcome::Failed {
            status: status_of(last, '5'),
            reason: last.to_string(),
            remote: true,
        },
        Some(last) => RecipientOutcome::Deferred {
            status: status_of(last, '4'),
            reason: last.to_string(),
        },
        None => RecipientOutcome::Deferred {
            status: "4.4.1".into(),
            reason: "no address to try".into(),
        },
    };
    let n = envelope.recipients.len();
    DeliveryReport {
        domain: route.domain.clone(),
        recipients: vec![outcome; n],
        attempts,
        remote_host: None,
        replies: vec![last_remote; n],
    }
}

/// The RFC 3463 status for a session that ended in `e`, of class `class` (4 or 5).
fn status_of(e: &SessionError, class: char) -> String {
    let own = match e {
        // The server's own enhanced code, when its refusal carried one of this class.
        SessionError::Refused { reply, .. } => reply
            .split_whitespace()
            .nth(1)
            .filter(|s| {
                s.starts_with(class) && s.parse::<sendwell_smtp::EnhancedStatusCode>().is_ok()
            })
            .map(str::to_string),
        _ => None,
    };
    own.unwrap_or_else(|| {
        match (class, e) {
            // RFC 3463 §3.8: X.7.5 cryptographic failure (TLS required, not had).
            ('4', SessionError::TlsRequired(_)) => "4.7.5",
            // RFC 3463 §3.6: X.5.0 other or undefined protocol status.
            ('4', SessionError::Protocol(_)) => "4.5.0",
            // RFC 3463 §3.5: X.4.1 no answer from host.
            ('4', _) => "4.4.1",
            _ => "5.0.0",
        }
        .to_string()
    })
}

/// Open sessions kept for the next message, per destination domain.
///
/// A session is kept at most `idle` after its last transaction and for at most
/// `max_transactions`; at most `per_domain` are kept for one domain. Every reuse starts
/// with RSET, so a session the server closed meanwhile is noticed and replaced.
#[derive(Debug)]
pub struct SessionCache {
    sessions:
        std::sync::Mutex<std::collections::HashMap<String, Vec<(Session, std::time::Instant)>>>,
    idle: std::time::Duration,
    per_domain: usize,
    max_transactions: u32,
}

impl SessionCache {
    /// A cache keeping sessions `idle` long, `per_domain` per domain.
    pub fn new(idle: std::time::Duration, per_domain: usize) -> Self {
        SessionCache {
            sessions: std::sync::Mutex::new(std::collections::HashMap::new()),
            idle,
            per_domain,
            max_transactions: 100,
        }
    }

    fn take(&self, domain: &str) -> Option<Session> {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.get_mut(domain)?;
        while let Some((session, since)) = list.pop() {
            if since.elapsed() <= self.idle {
                return Some(session);
            }
            // Expired: dropped (the connection closes without QUIT; servers expect it).
        }
        None
    }

    fn put(&self, domain: &str, session: Session) {
        if session.transactions() >= self.max_transactions {
            return;
        }
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(domain.to_string()).or_default();
        if list.len() < self.per_domain {
            list.push((session, std::time::Instant::now()));
        }
    }

    /// Close the sessions idle longer than the limit (QUIT), and forget empty domains.
    pub async fn sweep(&self) {
        let expired: Vec<Session> = {
            let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            for list in map.values_mut() {
                let (keep, old): (Vec<_>, Vec<_>) = list
                    .drain(..)
                    .partition(|(_, since)| since.elapsed() <= self.idle);
                *list = keep;
                out.extend(old.into_iter().map(|(s, _)| s));
            }
            map.retain(|_, list| !list.is_empty());
            out
        };
        for session in expired {
            session.quit().await;
        }
    }
}
