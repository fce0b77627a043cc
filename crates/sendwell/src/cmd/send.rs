//! `sendwell send`: send one DKIM-signed message from the command line, straight to
//! each recipient's MX (with a key file) or through a Sendwell server (`--via`, with
//! AUTH over STARTTLS), and print what the remote server finally answered.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use sendwell_delivery::client::{ClientConfig, Credentials, Envelope, RecipientOutcome, TlsPolicy};
use sendwell_delivery::route::{MxHost, Route};
use sendwell_delivery::{DeliveryReport, deliver, deliver_via};
use sendwell_dkim::{Signer, SigningKey};
use sendwell_dns::Lookup;
use serde_json::json;

use crate::cli::ResolverArgs;
use crate::compose;
use crate::output::{Style, print_json};

/// Exit code: at least one recipient was refused for good.
const SOME_FAILED: u8 = 21;
/// Exit code: at least one recipient could not be reached now (try again later).
const SOME_DEFERRED: u8 = 20;

/// `sendwell send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The sender address (envelope MAIL FROM and the From header).
    #[arg(long, value_name = "ADDRESS")]
    pub from: String,
    /// A recipient (repeat for several).
    #[arg(long, value_name = "ADDRESS", required = true)]
    pub to: Vec<String>,
    /// The subject.
    #[arg(long, default_value = "Test message from Sendwell")]
    pub subject: String,
    /// The body text.
    #[arg(long, conflicts_with = "file")]
    pub body: Option<String>,
    /// A file with the body text, or with a whole message (headers, blank line, body);
    /// `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub file: Option<String>,
    /// Submit through this server (e.g. a Sendwell server's port 587) with AUTH over
    /// STARTTLS, instead of delivering to each recipient's MX.
    #[arg(long, value_name = "HOST:PORT", requires = "user")]
    pub via: Option<String>,
    /// The user name for AUTH with --via.
    #[arg(long, requires = "via")]
    pub user: Option<String>,
    /// Read the password for --user from standard input (first line).
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
    /// DKIM private key (PKCS#8 or PKCS#1 PEM) to sign with.
    #[arg(long, value_name = "FILE", requires = "selector")]
    pub key: Option<String>,
    /// The DKIM selector of --key.
    #[arg(long, requires = "key")]
    pub selector: Option<String>,
    /// The signing domain (d=); the From address's domain by default.
    #[arg(long, requires = "key")]
    pub domain: Option<String>,
    /// The name to announce in EHLO (the host name your IP's PTR record gives).
    #[arg(long)]
    pub helo: Option<String>,
    /// The local address to send from (the one your SPF record and PTR are about).
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<IpAddr>,
    /// The port of each MX (25 on the Internet).
    #[arg(long, default_value_t = 25)]
    pub port: u16,
    /// STARTTLS policy for MX delivery.
    #[arg(long, value_enum, default_value_t = TlsArg::Opportunistic)]
    pub tls: TlsArg,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print JSON: {"message_id", "recipients": [{"recipient", "outcome", "status", "reply", "host"}]}.
    #[arg(long)]
    pub json: bool,
}

/// STARTTLS policy names on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum TlsArg {
    /// Use TLS when offered (certificates not checked, RFC 7435).
    Opportunistic,
    /// Fail rather than send without TLS.
    Required,
    /// Require TLS with a certificate valid for the MX host name.
    Verified,
    /// Never use TLS.
    Disabled,
}

impl From<TlsArg> for TlsPolicy {
    fn from(t: TlsArg) -> Self {
        match t {
            TlsArg::Opportunistic => TlsPolicy::Opportunistic,
            TlsArg::Required => TlsPolicy::Required,
            TlsArg::Verified => TlsPolicy::Verified,
            TlsArg::Disabled => TlsPolicy::Disabled,
        }
    }
}

fn domain_of(address: &str) -> anyhow::Result<&str> {
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(domain),
        _ => bail!("{address:?} is not an address of the form local@domain"),
    }
}

pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    for address in std::iter::once(&args.from).chain(&args.to) {
        domain_of(address)?;
    }
    let content = match (&args.body, &args.file) {
        (Some(text), _) => compose::Content::Body(text.as_bytes().to_vec()),
        (None, Some(path)) => {
            let bytes = if path == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("read the message from standard input")?;
                buf
            } else {
                std::fs::read(path).with_context(|| format!("read {path}"))?
            };
            compose::Content::detect(bytes)
        }
        (None, None) => {
            compose::Content::Body(b"This is a test message sent with sendwell send.\n".to_vec())
        }
    };
    let composed = compose::compose(&args.from, &args.to, &args.subject, content);
    let mut message = composed.bytes;

    if let (Some(key_path), Some(selector)) = (&args.key, &args.selector) {
        let pem = std::fs::read(key_path).with_context(|| format!("read the key {key_path}"))?;
        let key = SigningKey::from_file_contents(&pem)
            .with_context(|| format!("{key_path} is not a usable DKIM private key"))?;
        let domain = match &args.domain {
            Some(d) => d.clone(),
            None => domain_of(&args.from)?.to_string(),
        };
        let signer = Signer::new(Arc::new(key), &domain, selector)
            .context("cannot sign with this domain and selector")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let field = signer.sign(&message, now).context("DKIM signing failed")?;
        let mut signed = field.into_bytes();
        signed.extend_from_slice(&message);
        message = signed;
    }

    let helo = args.helo.clone().unwrap_or_else(|| {
        domain_of(&args.from)
            .map(|d| d.to_string())
            .unwrap_or_default()
    });
    let mut config = ClientConfig::new(helo);
    config.tls = args.tls.into();
    match args.source_ip {
        Some(IpAddr::V4(v4)) => config.source_v4 = Some(v4),
        Some(IpAddr::V6(v6)) => config.source_v6 = Some(v6),
        None => {}
    }
    let lookup = args.resolver.lookup()?;
    let mut reports: Vec<(Vec<String>, DeliveryReport)> = Vec::new();

    if let Some(via) = &args.via {
        let password = if args.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_string()
        } else {
            bail!("--via needs the password: pass --password-stdin and write it to standard input");
        };
        let target = resolve_via(&lookup, via).await?;
        config.port = target.1;
        config.tls = TlsPolicy::Required;
        config.auth = Some(Credentials {
            user: args.user.clone().unwrap_or_default(),
            password,
        });
        let route = Route {
            domain: target.0.clone(),
            hosts: vec![MxHost {
                preference: 0,
                name: target.0,
                addrs: target.2,
            }],
            implicit: false,
        };
        let report = deliver_via(
            &route,
            &config,
            Envelope {
                mail_from: &args.from,
                recipients: &args.to,
            },
            &message,
        )
        .await;
        reports.push((args.to.clone(), report));
    } else {
        config.port = args.port;
        // RFC 5321 §5: one transaction per destination domain, all its recipients in it.
        let mut by_domain: Vec<(String, Vec<String>)> = Vec::new();
        for rcpt in &args.to {
            let domain = domain_of(rcpt)?.to_ascii_lowercase();
            match by_domain.iter_mut().find(|(d, _)| *d == domain) {
                Some((_, list)) => list.push(rcpt.clone()),
                None => by_domain.push((domain, vec![rcpt.clone()])),
            }
        }
        for (domain, rcpts) in by_domain {
            let report = deliver(
                &lookup,
                &config,
                &domain,
                Envelope {
                    mail_from: &args.from,
                    recipients: &rcpts,
                },
                &message,
            )
            .await;
            reports.push((rcpts, report));
        }
    }
    print_reports(&args, &composed.message_id, &reports)
}

/// `HOST:PORT` → (host name, port, addresses).
async fn resolve_via<L: Lookup>(
    lookup: &L,
    via: &str,
) -> anyhow::Result<(String, u16, Vec<IpAddr>)> {
    if let Ok(addr) = via.parse::<SocketAddr>() {
        return Ok((addr.ip().to_string(), addr.port(), vec![addr.ip()]));
    }
    let (host, port) = via
        .rsplit_once(':')
        .with_context(|| format!("--via {via:?}: expected HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .with_context(|| format!("--via {via:?}: the port is not a number"))?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    if let Ok(v4) = lookup.lookup_a(host).await {
        addrs.extend(v4.into_iter().map(IpAddr::V4));
    }
    if let Ok(v6) = lookup.lookup_aaaa(host).await {
        addrs.extend(v6.into_iter().map(IpAddr::V6));
    }
    if addrs.is_empty() {
        bail!("--via {host}: the name has no address");
    }
    Ok((host.to_string(), port, addrs))
}

fn print_reports(
    args: &SendArgs,
    message_id: &str,
    reports: &[(Vec<String>, DeliveryReport)],
) -> anyhow::Result<ExitCode> {
    let mut any_failed = false;
    let mut any_deferred = false;
    let mut rows = Vec::new();
    for (rcpts, report) in reports {
        for (rcpt, outcome) in rcpts.iter().zip(&report.recipients) {
            let (word, status, reply) = match outcome {
                RecipientOutcome::Delivered { reply } => {
                    ("delivered", reply_status(reply), reply.clone())
                }
                RecipientOutcome::Deferred { status, reason } => {
                    any_deferred = true;
                    ("deferred", status.clone(), reason.clone())
                }
                RecipientOutcome::Failed { status, reason, .. } => {
                    any_failed = true;
                    ("failed", status.clone(), reason.clone())
                }
            };
            rows.push((
                rcpt.clone(),
                word,
                status,
                reply,
                report.remote_host.clone(),
            ));
        }
    }
    if args.json {
        let list: Vec<_> = rows
            .iter()
            .map(|(rcpt, word, status, reply, host)| {
                json!({"recipient": rcpt, "outcome": word, "status": status, "reply": reply, "host": host})
            })
            .collect();
        print_json(&json!({"message_id": message_id, "recipients": list}))?;
    } else {
        let style = Style::for_stdout();
        println!("Message-ID: {message_id}");
        for (rcpt, word, _, reply, host) in &rows {
            let word = match *word {
                "delivered" => style.good(word),
                "deferred" => style.warn(word),
                _ => style.bad(word),
            };
            let host = host
                .as_deref()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            println!("{rcpt}: {word}{host}: {reply}");
        }
    }
    Ok(if any_failed {
        ExitCode::from(SOME_FAILED)
    } else if any_deferred {
        ExitCode::from(SOME_DEFERRED)
    } else {
        ExitCode::SUCCESS
    })
}

fn reply_status(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|s| s.split('.').count() == 3)
        .unwrap_or("2.0.0")
        .to_string()
}
