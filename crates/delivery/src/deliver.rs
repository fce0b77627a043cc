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
//! refused with 4xx is retried later, not at the next MX (as Postfix does).

use std::net::{IpAddr, SocketAddr};

use sendwell_dns::Lookup;

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
    /// The host that answered the transaction (`Remote-MTA` in a DSN).
    pub remote_host: Option<String>,
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
    if let Some(cache) = cache {
        while let Some(mut session) = cache.take(domain) {
            // RSET proves the session alive and outside any transaction; a cached
            // session that fails is dropped and the delivery goes on as if uncached.
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
                cache.put(domain, session);
                return DeliveryReport {
                    domain: domain.to_string(),
                    recipients: report.recipients,
                    attempts: vec![attempt],
                    remote_host: Some(report.host),
                };
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
        Err(e) => DeliveryReport {
            domain: domain.to_string(),
            recipients: vec![route_outcome(&e); envelope.recipients.len()],
            attempts: Vec::new(),
            remote_host: None,
        },
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
    let mut attempts = Vec::new();
    let mut errors: Vec<SessionError> = Vec::new();
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
                    if sent.is_ok() {
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
                    return DeliveryReport {
                        domain: route.domain.clone(),
                        recipients: report.recipients,
                        attempts,
                        remote_host: Some(host.name.clone()),
                    };
                }
                Err(e) => {
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
            status: "5.0.0".into(),
            reason: last.to_string(),
            remote: true,
        },
        Some(last) => RecipientOutcome::Deferred {
            status: match last {
                SessionError::TlsRequired(_) => "4.7.5".into(),
                _ => "4.4.1".into(),
            },
            reason: last.to_string(),
        },
        None => RecipientOutcome::Deferred {
            status: "4.4.1".into(),
            reason: "no address to try".into(),
        },
    };
    DeliveryReport {
        domain: route.domain.clone(),
        recipients: vec![outcome; envelope.recipients.len()],
        attempts,
        remote_host: None,
    }
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
