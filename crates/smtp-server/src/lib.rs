//! Sendwell's SMTP server: it takes mail in, from other servers for our own domains
//! (MX) and from our own users for anywhere (submission), and puts it in the queue.
//!
//! Three listener kinds ([`ListenerKind`]):
//! - MX (RFC 5321; port 25): mail for the local domains' mailboxes and aliases, from
//!   anyone. Anything else is relaying and refused (554 5.7.1) unless the client has
//!   authenticated.
//! - submission (RFC 6409; port 587) with STARTTLS (RFC 3207), and submissions
//!   (RFC 8314; port 465) with TLS from the first byte: authentication first (AUTH
//!   PLAIN/LOGIN, RFC 4954, only under TLS), then mail to anywhere, from the
//!   addresses the user may use.
//!
//! The folder is the table of contents: [`session`] holds one file per command
//! group; [`wire`] the buffered connection (what STARTTLS must throw away);
//! [`policy`] who may send what to whom (the relay rules); [`auth`] accounts and
//! failed-login limits; [`own_domains`] mail from outside that claims our domains;
//! [`headers`] the Received, Date and Message-ID fields and the
//! From check; [`memory`] the memory budget for messages being received; [`tls`] the
//! rustls setup; [`listener`] the accept loops and connection limits.
//!
//! Design decision: the server is generic over [`sendwell_queue::QueueStore`], so the
//! queue's backend can change without touching it; a message is acknowledged (250)
//! only after the store says it is durable.

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod auth;
pub mod headers;
pub mod listener;
pub mod memory;
pub mod own_domains;
pub mod policy;
pub mod session;
pub mod tls;
pub mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use listener::{ListenerKind, serve};

use sendwell_config::Config;
use sendwell_queue::local::LocalDelivery;
use sendwell_queue::{QueueId, QueueStore};

/// Told about each durably queued message with remote recipients (the remote
/// delivery agent's `notify`).
pub type RemoteNotify = Arc<dyn Fn(QueueId, Arc<[u8]>) + Send + Sync>;

/// What happens to submitted mail on its way out.
#[derive(Clone, Default)]
pub struct Outbound {
    /// DKIM signers by domain (lower case). Mail from an authenticated user is signed,
    /// before it is queued, with every signer of the domain its From address is in (or
    /// under): RSA and Ed25519 both when both are configured.
    pub signers: HashMap<String, Vec<sendwell_dkim::Signer>>,
    /// Called once a message with remote recipients is durable.
    pub remote: Option<RemoteNotify>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("signers", &self.signers.keys().collect::<Vec<_>>())
            .field("remote", &self.remote.is_some())
            .finish()
    }
}

impl Outbound {
    /// The signers for mail whose From address is in `domain` or a subdomain of one
    /// of ours (relaxed DMARC alignment, RFC 7489 §3.1.1, accepts a parent `d=`).
    pub fn signers_for(&self, domain: &str) -> &[sendwell_dkim::Signer] {
        let mut d = domain.trim_end_matches('.').to_ascii_lowercase();
        loop {
            if let Some(list) = self.signers.get(&d) {
                return list;
            }
            match d.find('.') {
                Some(i) => d = d[i + 1..].to_string(),
                None => return &[],
            }
        }
    }
}

/// Everything a session needs, shared by all sessions.
pub struct Context<S> {
    /// Our host name (greeting, EHLO, Received).
    pub hostname: String,
    /// Limits and protocol choices from the config.
    pub config: Config,
    /// The local domains, mailboxes and aliases: the relay rules.
    pub directory: policy::Directory,
    /// The accounts (users.toml, read again when it changes).
    pub accounts: auth::Accounts,
    /// Failed-login counters.
    pub logins: auth::LoginLimiter,
    /// TLS for STARTTLS and submissions; `None` offers no TLS (then no AUTH either).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The queue.
    pub store: S,
    /// The local delivery agent, told about each message with local recipients.
    pub local: Option<LocalDelivery>,
    /// Connection counters of the MX listeners.
    pub connections: listener::Connections,
    /// Connection counters of the submission listeners (587 and 465): a pool of
    /// their own, so a flood on port 25 never locks users out.
    pub submission_connections: listener::Connections,
    /// The memory all sessions together may hold for messages being received.
    pub data_memory: Arc<memory::DataBudget>,
    /// DKIM signing and the remote delivery agent.
    pub outbound: Outbound,
    /// The resolver for [`own_domains`] (mail from outside claiming our domains);
    /// `None` skips that check. (The SRS secret is in `directory`.)
    pub dns: Option<Arc<dyn sendwell_dns::DynLookup>>,
}

/// What mail from outside is checked with.
#[derive(Clone, Default)]
pub struct Inbound {
    /// The resolver for [`own_domains`] (mail claiming our domains). `None` skips that
    /// check (tests of other things only).
    pub dns: Option<Arc<dyn sendwell_dns::DynLookup>>,
    /// The SRS secret: forwarded copies of mail from outside leave with an SRS
    /// envelope sender, and bounces to valid SRS addresses are taken back.
    pub srs: Option<sendwell_srs::Srs>,
}

impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbound")
            .field("dns", &self.dns.is_some())
            .field("srs", &self.srs.is_some())
            .finish()
    }
}

impl<S: QueueStore + Clone> Context<S> {
    /// Build the context from a loaded config. `dir` is the Sendwell directory (for
    /// users.toml).
    pub fn new(
        config: Config,
        dir: PathBuf,
        tls: Option<tokio_rustls::TlsAcceptor>,
        store: S,
        local: Option<LocalDelivery>,
    ) -> Arc<Self> {
        Self::with_outbound(config, dir, tls, store, local, Outbound::default())
    }

    /// [`Context::new`] with DKIM signing and remote delivery.
    pub fn with_outbound(
        config: Config,
        dir: PathBuf,
        tls: Option<tokio_rustls::TlsAcceptor>,
        store: S,
        local: Option<LocalDelivery>,
        outbound: Outbound,
    ) -> Arc<Self> {
        Self::with_inbound(config, dir, tls, store, local, outbound, Inbound::default())
    }

    /// [`Context::with_outbound`] with the checks of mail from outside.
    pub fn with_inbound(
        config: Config,
        dir: PathBuf,
        tls: Option<tokio_rustls::TlsAcceptor>,
        store: S,
        local: Option<LocalDelivery>,
        outbound: Outbound,
        inbound: Inbound,
    ) -> Arc<Self> {
        let mut directory = policy::Directory::from_config(&config);
        directory.srs = inbound.srs;
        Arc::new(Context {
            dns: inbound.dns,
            directory,
            outbound,
            hostname: config.hostname.clone(),
            accounts: auth::Accounts::new(dir),
            logins: auth::LoginLimiter::new(&config.auth),
            tls,
            store,
            local,
            connections: listener::Connections::new(
                config.limits.max_connections,
                config.limits.max_connections_per_ip,
            ),
            submission_connections: listener::Connections::new(
                config.limits.max_submission_connections,
                config.limits.max_submission_connections_per_ip,
            ),
            data_memory: memory::DataBudget::new(config.limits.max_data_memory),
            config,
        })
    }
}
