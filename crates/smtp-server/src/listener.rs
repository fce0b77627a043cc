//! Accept loops and connection limits.
//!
//! Each listening socket runs one accept loop; each connection its own task. Before
//! a session starts, the connection is counted against the total and per-client
//! limits; over a limit it gets one 421 line and is closed (RFC 5321 §3.8: 421
//! "Service not available, closing transmission channel"). On the implicit-TLS port
//! that line is sent inside TLS (RFC 8314 §3.3: every byte there is TLS), after a
//! handshake bounded by [`REFUSAL_LIMIT`]; at most [`MAX_TLS_REFUSALS`] such
//! handshakes run at once, and connections beyond them are closed without a word, so
//! refused connections cannot take more than the limits allow. Everything a refused
//! connection does, writing the 421 included, ends within [`REFUSAL_LIMIT`].
//!
//! The MX listeners and the submission listeners (587 and 465 together) count their
//! connections in separate pools ([`Context::pool`]), so idle connections on port 25,
//! however many, never take the place of a user who wants to submit.
//!
//! A client is what one party controls ([`client_network`]): an IPv4 address, but a
//! whole IPv6 /64, since a host that has one address in a /64 can usually use them
//! all; counting single IPv6 addresses would let it open any number of connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use sendwell_queue::QueueStore;
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{Reply, ReplyCode as C};

use crate::Context;
use crate::session::Session;
use crate::wire::{Conn, Wire};

/// What a listening socket is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    /// Mail from other servers for our domains (port 25).
    Mx,
    /// Submission with STARTTLS (port 587, RFC 6409).
    Submission,
    /// Submission over implicit TLS (port 465, RFC 8314).
    Submissions,
}

impl ListenerKind {
    /// A short name for logs.
    pub fn name(self) -> &'static str {
        match self {
            ListenerKind::Mx => "mx",
            ListenerKind::Submission => "submission",
            ListenerKind::Submissions => "submissions",
        }
    }

    /// Submission listeners require AUTH before MAIL (RFC 6409 §4.3).
    pub fn requires_auth(self) -> bool {
        !matches!(self, ListenerKind::Mx)
    }
}

/// The client a per-client limit counts `ip` as: an IPv4 address as it is (also when
/// it arrives IPv4-mapped, `::ffff:192.0.2.1`, on a dual-stack socket), an IPv6
/// address as its /64 network (RFC 4291 §2.5.1: interface identifiers are 64 bits, so
/// one host or subscriber holds the whole /64; the low 64 bits are zeroed).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !u128::from(u64::MAX),
            )),
        },
    }
}

/// The longest a refused connection is kept: the TLS handshake (implicit-TLS port),
/// the 421 and the close, together (capped further by the command timeout).
pub const REFUSAL_LIMIT: Duration = Duration::from_secs(5);

/// Refused implicit-TLS connections whose handshake (to say 421 inside TLS) may run at
/// once; more are closed without a word.
pub const MAX_TLS_REFUSALS: usize = 32;

/// Open-connection counters.
pub struct Connections {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<(usize, HashMap<IpAddr, usize>)>,
    /// Handshakes of refused implicit-TLS connections in progress.
    tls_refusals: Semaphore,
}

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over `max_connections`.
    Total,
    /// Over `max_connections_per_ip` (per client: [`client_network`]).
    PerIp,
}

/// Holds one connection's place; released on drop.
pub struct Slot<'a> {
    connections: &'a Connections,
    ip: IpAddr,
}

impl Connections {
    /// Counters with these limits.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Connections {
            max_total,
            max_per_ip,
            state: Mutex::new((0, HashMap::new())),
            tls_refusals: Semaphore::new(MAX_TLS_REFUSALS),
        }
    }

    /// Take a place for a connection from `ip`.
    pub fn acquire(&self, ip: IpAddr) -> Result<Slot<'_>, Refusal> {
        let ip = client_network(ip);
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = s.1.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::PerIp);
        }
        *n += 1;
        s.0 += 1;
        Ok(Slot {
            connections: self,
            ip,
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self
            .connections
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        s.0 = s.0.saturating_sub(1);
        if let Some(n) = s.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.1.remove(&self.ip);
            }
        }
    }
}

impl<S> Context<S> {
    /// The connection pool of a listener kind: MX, or submission (both ports).
    pub fn pool(&self, kind: ListenerKind) -> &Connections {
        match kind {
            ListenerKind::Mx => &self.connections,
            ListenerKind::Submission | ListenerKind::Submissions => &self.submission_connections,
        }
    }
}

/// Run accept loops on every listener until `shutdown` completes.
pub async fn serve<S: QueueStore + Clone>(
    ctx: Arc<Context<S>>,
    listeners: Vec<(ListenerKind, TcpListener)>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for (kind, listener) in listeners {
        let ctx = Arc::clone(&ctx);
        tasks.spawn(accept_loop(ctx, kind, listener));
    }
    shutdown.await;
    tasks.abort_all();
}

async fn accept_loop<S: QueueStore + Clone>(
    ctx: Arc<Context<S>>,
    kind: ListenerKind,
    listener: TcpListener,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment, keep serving.
                tracing::warn!(listener = kind.name(), error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            connection(ctx, kind, stream, peer.ip()).await;
        });
    }
}

async fn connection<S: QueueStore + Clone>(
    ctx: Arc<Context<S>>,
    kind: ListenerKind,
    stream: TcpStream,
    ip: IpAddr,
) {
    let slot = match ctx.pool(kind).acquire(ip) {
        Ok(s) => s,
        Err(r) => {
            let limit =
                REFUSAL_LIMIT.min(Duration::from_secs(ctx.config.limits.command_timeout_secs));
            if tokio::time::timeout(limit, refuse(&ctx, kind, stream, ip, r))
                .await
                .is_err()
            {
                tracing::info!(listener = kind.name(), client = %ip, "refused connection timed out");
            }
            return;
        }
    };
    let conn = if kind == ListenerKind::Submissions {
        // RFC 8314 §3.3: TLS from the first byte.
        let Some(acceptor) = ctx.tls.clone() else {
            return;
        };
        let timeout = Duration::from_secs(ctx.config.limits.command_timeout_secs);
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Conn::Tls(Box::new(tls)),
            Ok(Err(e)) => {
                tracing::info!(listener = kind.name(), client = %ip, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!(listener = kind.name(), client = %ip, "TLS handshake timed out");
                return;
            }
        }
    } else {
        Conn::Plain(stream)
    };
    let mut session = Session::new(Arc::clone(&ctx), kind, ip, Wire::new(conn));
    session.run().await;
    drop(slot);
}

/// Say 421 to a connection over a limit, and close it. The caller bounds the time.
async fn refuse<S: QueueStore + Clone>(
    ctx: &Context<S>,
    kind: ListenerKind,
    mut stream: TcpStream,
    ip: IpAddr,
    r: Refusal,
) {
    let reply = match r {
        Refusal::Total => Reply::new(
            C::C421_SERVICE_NOT_AVAILABLE,
            E::S4_4_5_SYSTEM_CONGESTION.with_class(4),
            format!("{} Too many connections; try again later", ctx.hostname),
        ),
        Refusal::PerIp => Reply::new(
            C::C421_SERVICE_NOT_AVAILABLE,
            E::S4_7_0_SECURITY,
            format!("{} Too many connections from your address", ctx.hostname),
        ),
    };
    tracing::info!(listener = kind.name(), client = %ip, refusal = ?r, "connection refused");
    let line = reply.to_string();
    if kind != ListenerKind::Submissions {
        let _ = stream.write_all(line.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    // RFC 8314 §3.3: on this port TLS starts with the first byte; a 421 in plaintext
    // would reach the client as a broken handshake. So: handshake, then the 421.
    let Some(acceptor) = ctx.tls.clone() else {
        return;
    };
    let Ok(_permit) = ctx.pool(kind).tls_refusals.try_acquire() else {
        tracing::info!(listener = kind.name(), client = %ip,
            "too many refused TLS connections at once; closed without a reply");
        return;
    };
    match acceptor.accept(stream).await {
        Ok(mut tls) => {
            let _ = tls.write_all(line.as_bytes()).await;
            let _ = tls.flush().await;
            let _ = tls.shutdown().await;
        }
        Err(e) => {
            tracing::info!(listener = kind.name(), client = %ip, error = %e, "TLS handshake failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let c = Connections::new(100, 2);
        let a = c.acquire(ip("2001:db8:1:2::1")).unwrap();
        let _b = c.acquire(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).unwrap();
        // A third address in the same /64 is the same client.
        assert_eq!(c.acquire(ip("2001:db8:1:2::3")).err(), Some(Refusal::PerIp));
        // Another /64 is another client.
        let _d = c.acquire(ip("2001:db8:1:3::1")).unwrap();
        drop(a);
        let _e = c.acquire(ip("2001:db8:1:2::4")).unwrap();
        assert_eq!(c.acquire(ip("2001:db8:1:2::5")).err(), Some(Refusal::PerIp));
    }

    #[test]
    fn ipv4_is_counted_per_address_also_when_mapped() {
        let c = Connections::new(100, 1);
        let _a = c.acquire(ip("192.0.2.1")).unwrap();
        assert_eq!(
            c.acquire(ip("::ffff:192.0.2.1")).err(),
            Some(Refusal::PerIp)
        );
        // Mapped IPv4 clients are not lumped together in ::ffff:0:0/64.
        let _b = c.acquire(ip("::ffff:192.0.2.2")).unwrap();
        let _c = c.acquire(ip("192.0.2.3")).unwrap();
        assert_eq!(client_network(ip("2001:db8::1:2:3:4")), ip("2001:db8::"));
    }
}
