//! `sendwell dkim keygen | record | sign | verify`: DKIM keys, the DNS record checker,
//! signing and verification, over the sendwell-dkim library.
//!
//! Exit codes (README "Exit codes"): 0 success (`verify`: a signature passed; `record`:
//! the key is usable), 1 Sendwell could not run, 10 `verify`: no signature passed,
//! `record`: the key cannot verify anything.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sendwell_dkim::{
    Canonicalization, DkimResult, DkimVerification, HeaderSelection, KeyAlgorithm, RecordCheck,
    Severity, Signer, SigningKey, VerifyPolicy,
};
use sendwell_dns::{MockLookup, MockRecord, Txt};
use serde_json::json;

use crate::cli::ResolverArgs;
use crate::output::{Style, print_json, table};

/// Exit code: no signature passed (`verify`), or the key record is unusable (`record`).
const NOT_PASS: u8 = 10;

/// `sendwell dkim`.
#[derive(Debug, Args)]
pub struct DkimArgs {
    #[command(subcommand)]
    pub command: DkimCommand,
}

/// The DKIM subcommands.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Generate a signing key (PKCS#8 PEM, mode 0600) and print the TXT record to publish.
    Keygen(KeygenArgs),
    /// Fetch and check a published DKIM key record: key type and size, flags, problems.
    Record(RecordArgs),
    /// Sign a message read from standard input; write the signed message to standard output.
    Sign(SignArgs),
    /// Verify every DKIM signature of a message read from standard input.
    Verify(VerifyArgs),
}

/// `sendwell dkim keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The signing domain (d=), e.g. example.com.
    #[arg(long)]
    pub domain: String,
    /// The selector (s=): the record goes at SELECTOR._domainkey.DOMAIN.
    #[arg(long)]
    pub selector: String,
    /// rsa-2048 (default), rsa-3072, rsa-4096 or ed25519.
    #[arg(long, default_value = "rsa-2048", value_parser = parse_key_algorithm)]
    pub algorithm: KeyAlgorithm,
    /// Where to write the private key (PKCS#8 PEM, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print JSON: {"record_name", "record_value", "zone_file", "key_file", "algorithm"}.
    #[arg(long)]
    pub json: bool,
}

fn parse_key_algorithm(s: &str) -> Result<KeyAlgorithm, String> {
    s.parse()
}

fn parse_canonicalization(s: &str) -> Result<Canonicalization, String> {
    s.parse()
        .map_err(|e: sendwell_dkim::SignatureError| e.to_string())
}

/// `sendwell dkim record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The signing domain.
    pub domain: String,
    /// The selector.
    pub selector: String,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print JSON: {"name", "usable", "key_type", "key_bits", "testing", "records", "findings": [{"severity", "message"}]}.
    #[arg(long)]
    pub json: bool,
}

/// `sendwell dkim sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// A private key file (PKCS#8 or PKCS#1 PEM, or a base64 Ed25519 seed). Give
    /// --key and --selector twice to sign with two keys (e.g. RSA and Ed25519).
    #[arg(long, value_name = "FILE", required = true)]
    pub key: Vec<PathBuf>,
    /// The selector of each --key, in the same order.
    #[arg(long, required = true)]
    pub selector: Vec<String>,
    /// The signing domain (d=).
    #[arg(long)]
    pub domain: String,
    /// Header/body canonicalization: relaxed/relaxed (default), simple/simple, relaxed/simple, ….
    #[arg(long, default_value = "relaxed/relaxed", value_parser = parse_canonicalization)]
    pub canonicalization: Canonicalization,
    /// Sign exactly these header fields, colon-separated (e.g. from:to:subject:date);
    /// repeat a name to oversign it. Default: the RFC 6376 §5.4.1 set, oversigned.
    #[arg(long, value_name = "NAMES")]
    pub headers: Option<String>,
    /// The identity (i=), an address in the signing domain.
    #[arg(long)]
    pub identity: Option<String>,
    /// Let signatures expire (x=) this many seconds after signing.
    #[arg(long, value_name = "SECONDS")]
    pub expire_after: Option<u64>,
    /// Leave out t= (the signing time).
    #[arg(long)]
    pub no_timestamp: bool,
}

/// `sendwell dkim verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Use this key record instead of DNS: 'SELECTOR._domainkey.DOMAIN=v=DKIM1; k=...; p=...'.
    /// Repeatable; with it, DNS is not asked at all.
    #[arg(long, value_name = "NAME=RECORD")]
    pub key_record: Vec<String>,
    /// Also accept what RFC 8301 forbids (rsa-sha1, RSA keys under 1024 bits) and
    /// pre-RFC draft signatures: for checking old archives only.
    #[arg(long)]
    pub historic: bool,
    /// Verify as of this time (seconds since 1970) instead of now: for x= of old mail.
    #[arg(long, value_name = "UNIX_TIME")]
    pub at: Option<u64>,
    /// Print JSON: {"signatures": [{"result", "domain", "selector", "algorithm", "reason", "warnings", …}]}.
    #[arg(long)]
    pub json: bool,
}

/// Run `sendwell dkim …`.
pub async fn run(args: DkimArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DkimCommand::Keygen(a) => keygen(a),
        DkimCommand::Record(a) => record(a).await,
        DkimCommand::Sign(a) => sign(a),
        DkimCommand::Verify(a) => verify(a).await,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_stdin() -> anyhow::Result<Vec<u8>> {
    let mut message = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut message)
        .context("cannot read the message from standard input")?;
    Ok(message)
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists() && !args.force {
        bail!(
            "{} exists; pass --force to replace it (signatures made with the old key stop \
             verifying once its record is replaced)",
            args.out.display()
        );
    }
    let generated = sendwell_dkim::keygen(&args.domain, &args.selector, args.algorithm)?;
    sendwell_dkim::write_private_key(&args.out, &generated.private_key_pem, args.force)
        .with_context(|| format!("cannot write the private key to {}", args.out.display()))?;
    let zone = generated.zone_file_record();
    if args.json {
        print_json(&json!({
            "record_name": generated.record_name,
            "record_value": generated.record_value,
            "zone_file": zone,
            "key_file": args.out.display().to_string(),
            "algorithm": generated.algorithm.as_str(),
        }))?;
    } else {
        let style = Style::for_stdout();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "Wrote the {} private key to {} (mode 0600).\n",
            generated.algorithm,
            args.out.display()
        )?;
        writeln!(out, "Publish this TXT record:")?;
        writeln!(out, "  name:  {}", style.bold(&generated.record_name))?;
        writeln!(out, "  value: {}\n", generated.record_value)?;
        writeln!(out, "Zone-file form:\n{zone}")?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn record(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let lookup = args.resolver.lookup()?;
    let check = sendwell_dkim::check_record(&lookup, &args.domain, &args.selector).await;
    if args.json {
        print_json(&record_json(&check))?;
    } else {
        print_record(&check)?;
    }
    Ok(if check.is_usable() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_PASS)
    })
}

fn record_json(check: &RecordCheck) -> serde_json::Value {
    json!({
        "name": check.name,
        "usable": check.is_usable(),
        "key_type": check.record.as_ref().map(|r| r.k.as_str()),
        "key_bits": check.key_bits,
        "testing": check.is_testing(),
        "records": check.records,
        "findings": check.findings.iter().map(|f| json!({
            "severity": f.severity.as_str(),
            "message": f.message,
        })).collect::<Vec<_>>(),
    })
}

fn print_record(check: &RecordCheck) -> anyhow::Result<()> {
    let style = Style::for_stdout();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", style.bold(&check.name))?;
    for r in &check.records {
        writeln!(out, "  record: {r}")?;
    }
    if let Some(record) = &check.record {
        let bits = check
            .key_bits
            .map(|b| format!(", {b} bits"))
            .unwrap_or_default();
        let flags = if record.t.is_empty() {
            "none".to_string()
        } else {
            record.t.join(":")
        };
        writeln!(
            out,
            "  key:    {}{bits}; flags (t=): {flags}",
            record.k.as_str()
        )?;
    }
    for f in &check.findings {
        let label = match f.severity {
            Severity::Error => style.bad("error"),
            Severity::Warning => style.warn("warning"),
            Severity::Note => style.dim("note"),
        };
        writeln!(out, "  {label}: {}", f.message)?;
    }
    let verdict = if check.is_usable() {
        style.good("usable")
    } else {
        style.bad("not usable")
    };
    writeln!(out, "  => {verdict}")?;
    Ok(())
}

fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    if args.key.len() != args.selector.len() {
        bail!(
            "give one --selector per --key ({} keys, {} selectors)",
            args.key.len(),
            args.selector.len()
        );
    }
    let mut signers = Vec::with_capacity(args.key.len());
    for (path, selector) in args.key.iter().zip(&args.selector) {
        let contents =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let key = SigningKey::from_file_contents(&contents)
            .with_context(|| format!("cannot use the key in {}", path.display()))?;
        let mut signer = Signer::new(Arc::new(key), &args.domain, selector)?
            .canonicalization(args.canonicalization)
            .timestamp(!args.no_timestamp)
            .expiration(args.expire_after)
            .identity(args.identity.clone())?;
        if let Some(names) = &args.headers {
            let names = names
                .split(':')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect();
            signer = signer.headers(HeaderSelection::Exact(names)).context(
                "--headers takes header field names separated by colons, \
                     e.g. --headers from:to:subject:date",
            )?;
        }
        signers.push(signer);
    }
    let message = read_stdin()?;
    let fields = sendwell_dkim::sign_all(&signers, &message, now())?;
    // Keep the message's own line endings: LF-only input gets LF-only fields.
    let lf_only = !message.contains(&b'\r');
    let mut out = std::io::stdout().lock();
    for field in &fields {
        if lf_only {
            out.write_all(field.replace("\r\n", "\n").as_bytes())?;
        } else {
            out.write_all(field.as_bytes())?;
        }
    }
    out.write_all(&message)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The `--key-record` values as a DNS of their own.
fn key_records(values: &[String]) -> anyhow::Result<MockLookup> {
    let mut dns = MockLookup::new();
    for value in values {
        let (name, record) = value.split_once('=').with_context(|| {
            format!("--key-record {value:?}: expected SELECTOR._domainkey.DOMAIN=RECORD")
        })?;
        dns.try_add(
            name.trim(),
            MockRecord::Txt(Txt::new([record.trim().as_bytes().to_vec()])),
        )
        .with_context(|| format!("--key-record: {name:?} is not a DNS name"))?;
    }
    Ok(dns)
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let message = read_stdin()?;
    let policy = if args.historic {
        VerifyPolicy::HISTORIC
    } else {
        VerifyPolicy::RFC8301
    };
    let at = args.at.unwrap_or_else(now);
    let results = if args.key_record.is_empty() {
        let lookup = args.resolver.lookup()?;
        sendwell_dkim::verify_with(&lookup, &message, at, policy).await
    } else {
        let dns = key_records(&args.key_record)?;
        sendwell_dkim::verify_with(&dns, &message, at, policy).await
    };
    if args.json {
        print_json(&json!({
            "signatures": results.iter().map(verification_json).collect::<Vec<_>>(),
        }))?;
    } else {
        print_verifications(&results)?;
    }
    Ok(if results.iter().any(|v| v.result == DkimResult::Pass) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_PASS)
    })
}

fn verification_json(v: &DkimVerification) -> serde_json::Value {
    json!({
        "result": v.result.as_str(),
        "domain": v.domain,
        "selector": v.selector,
        "algorithm": v.algorithm,
        "reason": v.reason.to_string(),
        "warnings": v.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "identity": v.identity,
        "header_b": v.header_b,
        "key_bits": v.key_bits,
    })
}

fn print_verifications(results: &[DkimVerification]) -> anyhow::Result<()> {
    let style = Style::for_stdout();
    let mut out = std::io::stdout().lock();
    if results.is_empty() {
        writeln!(out, "dkim=none: the message has no DKIM-Signature")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|v| {
            vec![
                v.result.as_str().to_string(),
                v.domain.clone(),
                v.selector.clone(),
                v.algorithm.clone(),
                v.reason.to_string(),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(
            &["result", "domain", "selector", "algorithm", "reason"],
            &rows
        )
    )?;
    for v in results {
        for w in &v.warnings {
            writeln!(out, "{}: {} (s={})", style.warn("warning"), w, v.selector)?;
        }
    }
    Ok(())
}
