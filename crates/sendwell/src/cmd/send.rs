//! `sendwell send`: send one DKIM-signed message from the command line, straight to
//! each recipient's MX (with a key file) or through a Sendwell server (`--via`, with
//! AUTH over STARTTLS), and print what the remote server finally answered.
//!
//! Everything the caller types that reaches the wire is checked first: `--from` and
//! `--to` must be RFC 5321 §4.1.2 mailboxes (parsed by `sendwell_smtp`), `--helo` a
//! domain or address literal, `--subject` one line. An address such as
//! `a@x.test>\r\nRCPT TO:<victim@evil.test>` is refused before any connection, so it
//! can neither add an SMTP command nor a header field. With `--via` the password goes
//! only to a server whose certificate verifies (`--insecure-tls` for a test server with
//! a self-signed certificate).

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use sendwell_delivery::client::{ClientConfig, Credentials, Envelope, RecipientOutcome, TlsPolicy};
use sendwell_delivery::route::{MxHost, Route};
use sendwell_delivery::{DeliveryReport, TrustAnchors, deliver, deliver_via};
use sendwell_dkim::{Signer, SigningKey};
use sendwell_dns::Lookup;
use sendwell_smtp::{Domain, MailDomain, Mailbox};
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
    /// STARTTLS, instead of delivering to each recipient's MX. The server's certificate
    /// must verify against the system's trust anchors and name HOST.
    #[arg(long, value_name = "HOST:PORT", requires = "user")]
    pub via: Option<String>,
    /// With --via: do not check the server's certificate (still encrypted). Only for
    /// testing against a server with a self-signed certificate, such as a fresh
    /// `sendwell init`: anyone on the path could read the password.
    #[arg(long, requires = "via", conflicts_with = "ca_file")]
    pub insecure_tls: bool,
    /// With --via: verify the server's certificate against the certificates in this PEM
    /// file instead of the system's trust anchors: a private CA, or the server's own
    /// self-signed certificate (for Sendwell, the file `[tls] certificate` names,
    /// DIR/tls/cert.pem after `sendwell init`). The certificate must still name HOST.
    #[arg(long, value_name = "FILE", requires = "via")]
    pub ca_file: Option<std::path::PathBuf>,
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

/// An address from the command line as an RFC 5321 §4.1.2 Mailbox: nothing else may
/// reach MAIL FROM, RCPT TO or the From and To fields.
fn mailbox(flag: &str, text: &str) -> anyhow::Result<Mailbox> {
    Mailbox::parse(text).map_err(|e| {
        anyhow!("{flag} {text:?} is not an address of the form local@domain (RFC 5321 §4.1.2): {e}")
    })
}

/// The `--helo` name: RFC 5321 §4.1.1.1 `Domain / address-literal`, never free text
/// (it is written on the EHLO line).
fn helo_name(text: &str) -> anyhow::Result<String> {
    if let Ok(domain) = Domain::parse(text) {
        return Ok(domain.to_string());
    }
    match Mailbox::parse(&format!("postmaster@{text}")) {
        Ok(Mailbox {
            domain: MailDomain::Literal(literal),
            ..
        }) => Ok(literal.to_string()),
        _ => bail!("--helo {text:?} is not a host name or address literal (RFC 5321 §4.1.1.1)"),
    }
}

pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let from = mailbox("--from", &args.from)?;
    // The From domain is what DKIM signs for (d=), SPF and DMARC are about, and the
    // default EHLO name: an address literal has none of these.
    let from_domain = from.domain_name().map(|d| d.to_string()).with_context(|| {
        format!(
            "--from {:?}: the sender needs a domain name (an address literal cannot be \
                 DKIM-signed for or have an SPF or DMARC record)",
            args.from
        )
    })?;
    let to = args
        .to
        .iter()
        .map(|t| mailbox("--to", t))
        .collect::<anyhow::Result<Vec<Mailbox>>>()?;
    if args.via.is_none()
        && let Some(literal) = to.iter().find(|t| t.domain_name().is_none())
    {
        bail!(
            "--to {literal}: delivering to an address literal is not supported; \
             use a domain name (or --via a server that does)"
        );
    }
    let subject = compose::Subject::parse(&args.subject).context("--subject")?;
    let helo = match &args.helo {
        Some(h) => helo_name(h)?,
        None => from_domain.clone(),
    };
    let mail_from = from.to_string();
    let recipients: Vec<String> = to.iter().map(Mailbox::to_string).collect();
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
    let composed = compose::compose(&from, &to, &subject, content);
    let mut message = composed.bytes;
    warn_if_unsigned(&args, &message);

    if let (Some(key_path), Some(selector)) = (&args.key, &args.selector) {
        let pem = std::fs::read(key_path).with_context(|| format!("read the key {key_path}"))?;
        let key = SigningKey::from_file_contents(&pem)
            .with_context(|| format!("{key_path} is not a usable DKIM private key"))?;
        let domain = args.domain.clone().unwrap_or_else(|| from_domain.clone());
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
        // The password goes only to the server the user named: its certificate must
        // verify for that name (RFC 6125), unless the user asked otherwise for a test
        // server. Either way nothing is sent before TLS (client.rs refuses AUTH in clear).
        config.tls = if args.insecure_tls {
            TlsPolicy::Required
        } else {
            TlsPolicy::Verified
        };
        if let Some(file) = &args.ca_file {
            config.trust_anchors = Some(
                TrustAnchors::from_pem_file(file).map_err(|e| anyhow::anyhow!("--ca-file: {e}"))?,
            );
        }
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
                mail_from: &mail_from,
                recipients: &recipients,
            },
            &message,
        )
        .await;
        if !args.insecure_tls && mentions_certificate(&report) {
            eprintln!(
                "sendwell send: the certificate of {via} did not verify. Give the server's \
                 certificate (or its CA) with --ca-file FILE; for a throw-away test server, \
                 --insecure-tls skips the check."
            );
        }
        reports.push((recipients.clone(), report));
    } else {
        config.port = args.port;
        // RFC 5321 §5: one transaction per destination domain, all its recipients in it.
        let mut by_domain: Vec<(String, Vec<String>)> = Vec::new();
        for rcpt in &to {
            let Some(domain) = rcpt.domain_name() else {
                continue; // refused above
            };
            let domain = domain.to_lowercase();
            match by_domain.iter_mut().find(|(d, _)| *d == domain) {
                Some((_, list)) => list.push(rcpt.to_string()),
                None => by_domain.push((domain, vec![rcpt.to_string()])),
            }
        }
        for (domain, rcpts) in by_domain {
            let report = deliver(
                &lookup,
                &config,
                &domain,
                Envelope {
                    mail_from: &mail_from,
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

/// Straight to the MX without a signature: the receiver finds no DKIM signature for the
/// From domain, so DMARC can pass only through SPF alignment, and a forwarded copy fails.
/// Say so on standard error (standard output stays the report). A whole message given
/// with --file that already carries a DKIM-Signature is signed.
fn warn_if_unsigned(args: &SendArgs, message: &[u8]) {
    if args.key.is_none() && args.via.is_none() && !compose::has_dkim_signature(message) {
        eprintln!(
            "sendwell send: warning: the message is not DKIM-signed (no --key): the \
             receiver will likely judge it dkim=none, and dmarc=fail unless SPF passes for \
             the From domain. Sign with --key FILE --selector S, or send --via a server \
             that signs."
        );
    }
}

/// True when a recipient was not sent because a certificate did not verify.
fn mentions_certificate(report: &DeliveryReport) -> bool {
    report.recipients.iter().any(|outcome| match outcome {
        RecipientOutcome::Deferred { reason, .. } | RecipientOutcome::Failed { reason, .. } => {
            reason.to_ascii_lowercase().contains("certificate")
        }
        RecipientOutcome::Delivered { .. } => false,
    })
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
