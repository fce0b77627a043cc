//! `sendwell serve`: run the mail server from `DIR/sendwell.toml`.
//!
//! With no config in DIR it first makes a `--local` one for `example.test` (every
//! listener on 127.0.0.1 at high ports: MX 2525, submission 2587, implicit TLS 2465),
//! so the command works on a fresh machine, without root and without any outside
//! service.
//!
//! Order: load the config and the TLS certificate, open the queue (recovering what a
//! crash left), start local delivery, bind every listener, then serve until SIGINT or
//! SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sendwell_delivery::agent::{AgentConfig, BounceRoute, RemoteDelivery};
use sendwell_delivery::client::{ClientConfig, TlsPolicy};
use sendwell_delivery::retry::RetrySchedule;
use sendwell_delivery::route::AddressPreference;
use sendwell_dkim::{Signer, SigningKey};
use sendwell_dns::HickoryLookup;
use sendwell_queue::Destination;
use sendwell_smtp::ForwardPath;
use sendwell_smtp_server::auth::Accounts;
use sendwell_smtp_server::policy::{Directory, RcptDecision};
use sendwell_smtp_server::{Outbound, RemoteNotify};

use sendwell_config::Config;
use sendwell_config::example::InitParams;
use sendwell_queue::FileStore;
use sendwell_queue::local::LocalDelivery;
use sendwell_smtp_server::{ListenerKind, tls};

use super::init::{DirArgs, init};

/// `sendwell serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Send DNS queries for delivery (MX, A, AAAA) to this server (IP:PORT) instead of
    /// the config's `delivery.resolver` or the system's resolvers.
    #[arg(long, value_name = "IP:PORT")]
    pub resolver: Option<SocketAddr>,
}

/// The domain of the config `serve` makes when there is none.
pub const DEFAULT_LOCAL_DOMAIN: &str = "example.test";

pub async fn run(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let dir = args.dir.dir;
    if !dir.join(sendwell_config::CONFIG_FILE).exists() {
        init(
            &dir,
            InitParams {
                domain: DEFAULT_LOCAL_DOMAIN.into(),
                hostname: format!("mail.{DEFAULT_LOCAL_DOMAIN}"),
                ipv4: None,
                ipv6: None,
                local: true,
                dkim: Vec::new(),
            },
        )?;
        eprintln!(
            "sendwell: no config in {}; made a --local one for {DEFAULT_LOCAL_DOMAIN} \
             (see `sendwell records --dir {}`)",
            dir.display(),
            dir.display()
        );
    }
    let config = Config::load(&dir)?;
    // Valid but against an RFC's advice (short timeouts in tests, say): said, not refused.
    for w in config.warnings() {
        tracing::warn!(key = %w.key, "{}", w.problem);
        eprintln!("sendwell: warning: {w}");
    }
    let acceptor = tls::acceptor(
        &Config::resolve(&dir, &config.tls.certificate),
        &Config::resolve(&dir, &config.tls.private_key),
    )?;
    let (store, report) = FileStore::open(&dir.join("queue")).context("open the queue")?;
    tracing::info!(%report, "queue recovered");
    eprintln!("sendwell: queue: {report}");
    let local = LocalDelivery::spawn(store.clone(), dir.join("mail"), config.hostname.clone());
    // One resolver for delivery and for the checks of mail from outside.
    let lookup = Arc::new(HickoryLookup::new(
        args.resolver.or(config.delivery.resolver),
    )?);
    let outbound = outbound(
        &config,
        &dir,
        store.clone(),
        local.clone(),
        Arc::clone(&lookup),
    )?;
    let inbound = sendwell_smtp_server::Inbound {
        dns: Some(lookup),
        srs: Some(sendwell_srs::Srs::new(&srs_secret(&dir)?)),
    };
    let listeners = bind_all(&config).await?;
    let summary: Vec<String> = listeners
        .iter()
        .map(|(k, l)| {
            format!(
                "{} {}",
                k.name(),
                l.local_addr().map(|a| a.to_string()).unwrap_or_default()
            )
        })
        .collect();
    eprintln!(
        "sendwell: serving {} as {}: {}",
        config
            .domains
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        config.hostname,
        summary.join(", ")
    );
    let ctx = sendwell_smtp_server::Context::with_inbound(
        config,
        dir.clone(),
        Some(acceptor),
        store,
        Some(local),
        outbound,
        inbound,
    );
    sendwell_smtp_server::serve(ctx, listeners, shutdown_signal()).await;
    eprintln!("sendwell: stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The SRS secret in `DIR/srs.key` (made on first start: 32 random octets, hex,
/// readable by the server's user only). Changing it makes the SRS addresses of mail
/// forwarded before invalid, so bounces to them are refused: keep it with the keys.
fn srs_secret(dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let path = dir.join("srs.key");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let secret = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
            anyhow::ensure!(
                secret.len() >= 16,
                "{} holds fewer than 16 characters: delete it and a new secret is made at the next start",
                path.display()
            );
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw)
                .map_err(|e| anyhow::anyhow!("no randomness for the SRS secret: {e}"))?;
            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            sendwell_config::write_private(&path, format!("{hex}\n").as_bytes())
                .with_context(|| format!("write the SRS secret {}", path.display()))?;
            tracing::info!(path = %path.display(), "made a new SRS secret");
            Ok(hex.into_bytes())
        }
        Err(e) => Err(e).with_context(|| format!("read the SRS secret {}", path.display())),
    }
}

/// DKIM signers for every configured key, and the remote delivery agent.
fn outbound(
    config: &Config,
    dir: &std::path::Path,
    store: FileStore,
    local: LocalDelivery,
    lookup: Arc<HickoryLookup>,
) -> anyhow::Result<Outbound> {
    let mut signers: HashMap<String, Vec<Signer>> = HashMap::new();
    for domain in &config.domains {
        for key in &domain.dkim {
            let path = Config::resolve(dir, &key.private_key);
            let pem = std::fs::read(&path)
                .with_context(|| format!("read the DKIM key {}", path.display()))?;
            // Parsed once here; every signature reuses it.
            let signing_key = SigningKey::from_file_contents(&pem)
                .with_context(|| format!("{} is not a usable DKIM private key", path.display()))?;
            let signer = Signer::new(Arc::new(signing_key), &domain.name, &key.selector)
                .with_context(|| format!("DKIM key {} for {}", key.selector, domain.name))?;
            signers
                .entry(domain.name.to_ascii_lowercase())
                .or_default()
                .push(signer);
        }
    }
    let d = &config.delivery;
    let mut client = ClientConfig::new(config.hostname.clone());
    client.source_v4 = d.source_ipv4;
    client.source_v6 = d.source_ipv6;
    client.port = d.port;
    client.tls = tls_policy(d.tls);
    client.address_preference = match d.address_preference {
        sendwell_config::AddressPreference::Ipv4 => AddressPreference::PreferV4,
        sendwell_config::AddressPreference::Ipv6 => AddressPreference::PreferV6,
        sendwell_config::AddressPreference::Ipv4Only => AddressPreference::OnlyV4,
        sendwell_config::AddressPreference::Ipv6Only => AddressPreference::OnlyV6,
    };
    // Never deliver to ourselves through DNS (RFC 5321 §5.1).
    client.local_names = vec![config.hostname.to_ascii_lowercase()];
    let mut agent = AgentConfig::new(client, config.hostname.clone());
    agent.tls_per_domain = d
        .tls_per_domain
        .iter()
        .map(|(domain, mode)| (domain.to_ascii_lowercase(), tls_policy(*mode)))
        .collect();
    agent.retry = RetrySchedule {
        steps: d
            .retry_minutes
            .iter()
            .map(|m| Duration::from_secs(m * 60))
            .collect(),
        then_every: Duration::from_secs(d.retry_every_minutes * 60),
        lifetime: Duration::from_secs(d.lifetime_hours * 3600),
    };
    agent.delay_notice =
        (d.delay_notice_hours > 0).then(|| Duration::from_secs(d.delay_notice_hours * 3600));
    agent.max_concurrent = d.max_concurrent;
    agent.max_per_domain = d.max_per_domain;
    agent.postmaster = config
        .domains
        .first()
        .map(|d| format!("postmaster@{}", d.name.to_ascii_lowercase()));
    let directory = Directory::from_config(config);
    let accounts = Accounts::new(dir.to_path_buf());
    // Notifications go into the sender's own mailbox when the sender is local: a
    // mailbox, an alias to one, or an account. A local address that is none of these
    // (a `may_send_from` address, say) gets its notifications in postmaster@ of its
    // domain: never out to the Internet, where our own MX would refuse them.
    let bounce_route: BounceRoute = Arc::new(move |sender: &str| {
        let Ok((path, "")) = ForwardPath::parse_prefix(&format!("<{sender}>")) else {
            return Destination::Remote;
        };
        let users = accounts.current();
        let is_account = |a: &str| users.find(a).is_some();
        match directory.decide_with(&path, true, &is_account) {
            RcptDecision::Accept(list) => match list.as_slice() {
                [one] => one.destination.clone(),
                _ => Destination::Remote,
            },
            RcptDecision::Refuse(_) => match sender.rsplit_once('@') {
                Some((_, domain)) if directory.is_local_domain(domain) => {
                    Destination::Mailbox(format!("postmaster@{}", domain.to_ascii_lowercase()))
                }
                _ => Destination::Remote,
            },
        }
    });
    if d.hold {
        tracing::warn!("[delivery] hold = true: mail for other domains stays in the queue");
        return Ok(Outbound {
            signers,
            remote: None,
        });
    }
    let remote = RemoteDelivery::spawn(store, lookup, agent, bounce_route, Some(local));
    let notify: RemoteNotify = Arc::new(move |id, data| remote.notify(id, Some(data)));
    Ok(Outbound {
        signers,
        remote: Some(notify),
    })
}

fn tls_policy(mode: sendwell_config::TlsMode) -> TlsPolicy {
    match mode {
        sendwell_config::TlsMode::Opportunistic => TlsPolicy::Opportunistic,
        sendwell_config::TlsMode::Required => TlsPolicy::Required,
        sendwell_config::TlsMode::Verified => TlsPolicy::Verified,
        sendwell_config::TlsMode::Disabled => TlsPolicy::Disabled,
    }
}

async fn bind_all(config: &Config) -> anyhow::Result<Vec<(ListenerKind, tokio::net::TcpListener)>> {
    let mut out = Vec::new();
    let l = &config.listen;
    for (kind, addrs) in [
        (ListenerKind::Mx, &l.mx),
        (ListenerKind::Submission, &l.submission),
        (ListenerKind::Submissions, &l.submissions),
    ] {
        for addr in addrs {
            out.push((kind, bind(*addr).await?));
        }
    }
    Ok(out)
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .with_context(|| format!("socket for {addr}"))?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr).with_context(|| {
        if addr.port() < 1024 {
            format!(
                "listen on {addr} (ports below 1024 need root or CAP_NET_BIND_SERVICE; \
                 `sendwell init --local` uses high ports on 127.0.0.1)"
            )
        } else {
            format!("listen on {addr}")
        }
    })?;
    socket
        .listen(1024)
        .with_context(|| format!("listen on {addr}"))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
