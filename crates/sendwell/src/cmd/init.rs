//! `sendwell init`: set up a Sendwell directory in one step.
//!
//! Writes `DIR/sendwell.toml` (documented, generated from the config types), an
//! empty `DIR/users.toml`, two DKIM keys (RSA-2048 and Ed25519, PKCS#8 PEM, mode
//! 0600, through `sendwell-dkim`), a self-signed TLS certificate (rcgen, for the host
//! name), and prints every DNS record to publish (see `records`).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use sendwell_config::example::{InitParams, initial};
use sendwell_config::{Config, DkimAlgorithm, DkimKey, Users};

use super::records;

/// The directory every server command works in.
#[derive(Debug, Args, Clone)]
pub struct DirArgs {
    /// The Sendwell directory: sendwell.toml, users.toml, keys, the queue and the
    /// mailboxes live here.
    #[arg(long, value_name = "DIR", default_value = "sendwell-data")]
    pub dir: PathBuf,
}

/// `sendwell init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The mail domain to send and receive for (example.com).
    #[arg(long)]
    pub domain: String,
    /// This server's host name (mail.example.com); the PTR of --ip must give it.
    #[arg(long)]
    pub hostname: String,
    /// The public IPv4 address mail leaves from (for the A, SPF and PTR records).
    #[arg(long, required_unless_present = "local")]
    pub ip: Option<Ipv4Addr>,
    /// The public IPv6 address, if the server has one.
    #[arg(long)]
    pub ip6: Option<Ipv6Addr>,
    /// Listen on 127.0.0.1 only, at fixed high ports (MX 2525, submission 2587,
    /// implicit TLS 2465): for trying Sendwell on one machine, without root.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print the records as JSON (see `sendwell records --json`).
    #[arg(long)]
    pub json: bool,
}

/// DKIM selectors `init` uses.
const RSA_SELECTOR: &str = "sw-rsa";
const ED_SELECTOR: &str = "sw-ed";

pub async fn run(args: InitArgs) -> anyhow::Result<std::process::ExitCode> {
    let params = InitParams {
        domain: args.domain.to_ascii_lowercase(),
        hostname: args.hostname.to_ascii_lowercase(),
        ipv4: args.ip,
        ipv6: args.ip6,
        local: args.local,
        dkim: Vec::new(),
    };
    let config = init(&args.dir.dir, params)?;
    if !args.json {
        eprintln!(
            "Wrote {} (and users.toml, DKIM keys in dkim/, a self-signed certificate in tls/).",
            args.dir.dir.join(sendwell_config::CONFIG_FILE).display()
        );
        if let Some(w) = hostname_warning(&config.hostname) {
            eprintln!("note: {w}");
        }
        eprintln!("Publish these DNS records:\n");
    }
    records::print(&args.dir.dir, &config, false, args.json)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// A note when the host name does not look like a mail server's.
pub fn hostname_warning(hostname: &str) -> Option<String> {
    let first = hostname.split('.').next().unwrap_or_default();
    let mailish = ["mail", "smtp", "mx"].iter().any(|p| first.starts_with(p));
    (!mailish).then(|| {
        format!(
            "the host name {hostname} does not start with mail, smtp or mx; receivers that \
             judge reverse DNS names score generic-looking names as spam"
        )
    })
}

/// Create a Sendwell directory; returns the config written. Refuses to touch a
/// directory that already has a config.
pub fn init(dir: &Path, mut params: InitParams) -> anyhow::Result<Config> {
    let config_path = dir.join(sendwell_config::CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists; edit it, or choose another --dir",
            config_path.display()
        );
    }
    sendwell_smtp::Domain::parse(&params.domain)
        .ok()
        .filter(|_| params.domain.contains('.'))
        .with_context(|| format!("--domain {:?} is not a domain name", params.domain))?;
    sendwell_smtp::Domain::parse(&params.hostname)
        .ok()
        .filter(|_| params.hostname.contains('.'))
        .with_context(|| format!("--hostname {:?} is not a host name", params.hostname))?;
    for sub in ["", "dkim", "tls"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("create {}", d.display()))?;
    }
    // DKIM: RSA-2048 for every receiver, Ed25519 beside it (RFC 8463).
    for (selector, alg, kind) in [
        (
            RSA_SELECTOR,
            sendwell_dkim::KeyAlgorithm::Rsa2048,
            DkimAlgorithm::Rsa,
        ),
        (
            ED_SELECTOR,
            sendwell_dkim::KeyAlgorithm::Ed25519,
            DkimAlgorithm::Ed25519,
        ),
    ] {
        let key = sendwell_dkim::keygen(&params.domain, selector, alg)
            .with_context(|| format!("generate the {alg} DKIM key"))?;
        let rel = PathBuf::from("dkim").join(format!("{}.{selector}.pem", params.domain));
        sendwell_dkim::write_private_key(&dir.join(&rel), &key.private_key_pem, false)
            .with_context(|| format!("write {}", dir.join(&rel).display()))?;
        params.dkim.push(DkimKey {
            selector: selector.into(),
            algorithm: kind,
            private_key: rel,
        });
    }
    let config = initial(&params);
    write_certificate(dir, &config)?;
    let errors = config.validate();
    if !errors.is_empty() {
        bail!(
            "the config would be invalid: {}",
            sendwell_config::ValidationErrors(errors)
        );
    }
    sendwell_config::write_private(&config_path, config.to_documented_toml().as_bytes())
        .with_context(|| format!("write {}", config_path.display()))?;
    Users::default().save(dir)?;
    Ok(config)
}

/// A self-signed certificate for the host name (and, for a local config, localhost
/// and 127.0.0.1), unless both PEM files exist already.
fn write_certificate(dir: &Path, config: &Config) -> anyhow::Result<()> {
    let cert_path = Config::resolve(dir, &config.tls.certificate);
    let key_path = Config::resolve(dir, &config.tls.private_key);
    if cert_path.exists() && key_path.exists() {
        return Ok(());
    }
    let mut names = vec![config.hostname.clone()];
    let local = config
        .listen
        .mx
        .iter()
        .chain(&config.listen.submission)
        .any(|a| a.ip().is_loopback());
    if local {
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
    }
    let cert =
        rcgen::generate_simple_self_signed(names).context("make a self-signed certificate")?;
    std::fs::write(&cert_path, cert.cert.pem())
        .with_context(|| format!("write {}", cert_path.display()))?;
    sendwell_config::write_private(&key_path, cert.signing_key.serialize_pem().as_bytes())
        .with_context(|| format!("write {}", key_path.display()))?;
    Ok(())
}
