//! `sendwell dmarc check DOMAIN` and `sendwell dmarc build …`.
//!
//! `check` shows a domain's DMARC setup as receivers see it (the library's
//! `sendwell_dmarc::check`), with every mistake and its fix; `build` writes a record
//! that conforms to RFC 9989, ready to paste into a zone.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use sendwell_dmarc::builder::{RecordBuilder, txt_strings};
use sendwell_dmarc::check::{DomainCheck, check_domain};
use sendwell_dmarc::external::DestinationOutcome;
use sendwell_dmarc::{
    AlignmentMode, Finding, Policy, PolicyDiscovery, PolicyOutcome, Psd, Severity, lint_joined,
};
use serde_json::{Value, json};

use crate::cli::ResolverArgs;
use crate::output::{Style, print_json, table};

/// `dmarc check`: no DMARC record applies to the domain.
const NO_RECORD: u8 = 10;
/// `dmarc check`: a record applies but has errors (receivers ignore part or all of it).
const RECORD_ERRORS: u8 = 11;
/// `dmarc check`: a DNS query failed temporarily; try again.
const DNS_TEMPORARY: u8 = 12;

/// `sendwell dmarc`.
#[derive(Debug, Args)]
pub struct DmarcArgs {
    #[command(subcommand)]
    pub command: DmarcCommand,
}

/// The `dmarc` subcommands.
#[derive(Debug, Subcommand)]
pub enum DmarcCommand {
    /// Fetch, explain and lint DOMAIN's DMARC record, with the Organizational Domain
    /// fallback and the authorization of report addresses on other domains.
    Check(CheckArgs),
    /// Write a DMARC record (RFC 9989) ready to publish.
    Build(BuildArgs),
}

/// `sendwell dmarc check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The domain (the one in your From addresses).
    pub domain: String,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print JSON (fields: domain, status, published, applied, tags, policy, discovery,
    /// report_destinations, findings).
    #[arg(long)]
    pub json: bool,
}

/// A policy value on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Monitor only: receivers report, mail is delivered as before.
    None,
    /// Failing mail goes to spam.
    Quarantine,
    /// Failing mail is rejected.
    Reject,
}

impl From<PolicyArg> for Policy {
    fn from(p: PolicyArg) -> Policy {
        match p {
            PolicyArg::None => Policy::None,
            PolicyArg::Quarantine => Policy::Quarantine,
            PolicyArg::Reject => Policy::Reject,
        }
    }
}

/// An alignment mode on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Strict: the domain must be identical to the From domain.
    S,
    /// Relaxed (the default): the same Organizational Domain is enough.
    R,
}

impl From<ModeArg> for AlignmentMode {
    fn from(m: ModeArg) -> AlignmentMode {
        match m {
            ModeArg::S => AlignmentMode::Strict,
            ModeArg::R => AlignmentMode::Relaxed,
        }
    }
}

/// The psd flag on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PsdArg {
    /// This domain is a public suffix (for registries only).
    Y,
    /// This domain is an Organizational Domain of its own.
    N,
}

/// `sendwell dmarc build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What receivers should do with mail that fails DMARC.
    #[arg(long, value_enum)]
    pub policy: PolicyArg,
    /// The policy for subdomains (default: the same as --policy).
    #[arg(long, value_enum)]
    pub sp: Option<PolicyArg>,
    /// The policy for subdomains that do not exist (default: as for subdomains).
    #[arg(long, value_enum)]
    pub np: Option<PolicyArg>,
    /// Where aggregate reports go: an address or a mailto: URI (repeatable).
    #[arg(long, value_name = "mailto:ADDRESS")]
    pub rua: Vec<String>,
    /// Where failure reports go (repeatable; few receivers send them).
    #[arg(long, value_name = "mailto:ADDRESS")]
    pub ruf: Vec<String>,
    /// DKIM alignment: s (strict) or r (relaxed, the default).
    #[arg(long, value_enum)]
    pub adkim: Option<ModeArg>,
    /// SPF alignment: s (strict) or r (relaxed, the default).
    #[arg(long, value_enum)]
    pub aspf: Option<ModeArg>,
    /// Test mode (t=y): receivers apply the policy one level lower.
    #[arg(long)]
    pub testing: bool,
    /// The psd flag: y for a public suffix, n for an Organizational Domain.
    #[arg(long, value_enum)]
    pub psd: Option<PsdArg>,
    /// The domain, to print the zone-file line with its full name.
    #[arg(long)]
    pub domain: Option<String>,
    /// Print JSON: {"record", "name", "txt_strings", "findings"}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: DmarcArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DmarcCommand::Check(a) => check(a).await,
        DmarcCommand::Build(a) => build(a),
    }
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let lookup = args.resolver.lookup()?;
    let c = check_domain(&lookup, &args.domain).await;
    let status = if c.temporary_failure() {
        "temperror"
    } else if c.applied.is_none() {
        "no_record"
    } else if c.has_errors() {
        "errors"
    } else {
        "ok"
    };
    if args.json {
        print_json(&check_json(&c, status))?;
    } else {
        let mut text = String::new();
        print_check(&mut text, &c)?;
        emit(&text)?;
    }
    Ok(match status {
        "ok" => ExitCode::SUCCESS,
        "no_record" => ExitCode::from(NO_RECORD),
        "errors" => ExitCode::from(RECORD_ERRORS),
        _ => ExitCode::from(DNS_TEMPORARY),
    })
}

fn findings_json(findings: &[Finding]) -> Vec<Value> {
    findings
        .iter()
        .map(|f| {
            json!({
                "severity": f.severity.as_str(),
                "code": f.code,
                "message": f.message,
                "fix": f.fix,
                "rfc": f.rfc,
            })
        })
        .collect()
}

fn discovery_json(d: &PolicyDiscovery) -> Value {
    let (result, policy_domain, reason) = match &d.outcome {
        PolicyOutcome::Found { policy_domain, .. } => ("found", Some(policy_domain.clone()), None),
        PolicyOutcome::Invalid {
            policy_domain,
            error,
        } => (
            "invalid",
            Some(policy_domain.clone()),
            Some(error.to_string()),
        ),
        PolicyOutcome::NoPolicy { reason } => ("none", None, Some(reason.clone())),
        PolicyOutcome::TempError { reason } => ("temperror", None, Some(reason.clone())),
    };
    json!({
        "result": result,
        "policy_domain": policy_domain,
        "organizational_domain": d.organizational_domain.as_ref().ok(),
        "reason": reason,
        "discarded": d.discarded.iter().map(|x| json!({
            "name": format!("_dmarc.{}", x.name),
            "reason": x.to_string(),
        })).collect::<Vec<_>>(),
        "queries": d.queries.iter().map(|q| json!({"query": q.query, "answer": q.answer})).collect::<Vec<_>>(),
    })
}

fn check_json(c: &DomainCheck, status: &str) -> Value {
    let record = c.record.as_ref();
    let uris = |list: &[sendwell_dmarc::uri::ReportUri]| -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    };
    json!({
        "domain": c.domain,
        "status": status,
        "published": match &c.published {
            Ok(list) => json!(list.iter().map(|t| json!({
                "text": t.text, "strings": t.strings, "is_dmarc": t.is_dmarc,
            })).collect::<Vec<_>>()),
            Err(e) => json!({"error": e}),
        },
        "applied": c.applied.as_ref().map(|(domain, text)| json!({
            "policy_domain": domain,
            "name": format!("_dmarc.{domain}"),
            "record": text,
            "inherited": *domain != c.domain,
        })),
        "tags": record.map(|r| json!({
            "p": r.p().map(|p| p.as_str()),
            "sp": r.sp().map(|p| p.as_str()),
            "np": r.np().map(|p| p.as_str()),
            "psd": r.psd().as_str(),
            "t": r.testing(),
            "adkim": r.adkim().as_str(),
            "aspf": r.aspf().as_str(),
            "rua": uris(r.rua()),
            "ruf": uris(r.ruf()),
            "fo": r.fo().map(ToString::to_string),
            "pct": r.pct(),
        })),
        "policy": c.summary.map(|s| json!({
            "this_domain": c.own_policy.map(|p| p.requested.as_str()),
            "this_domain_tag": c.own_policy.map(|p| p.source.as_str()),
            "policy_domain": s.domain.as_str(),
            "subdomains": s.subdomains.as_str(),
            "nonexistent_subdomains": s.nonexistent_subdomains.as_str(),
            "testing": s.testing,
        })),
        "discovery": {
            "tree_walk": discovery_json(&c.tree_walk),
            "public_suffix_list": discovery_json(&c.public_suffix_list),
        },
        "report_destinations": c.destinations.iter().map(|d| json!({
            "tag": d.tag.as_str(),
            "uri": d.uri.to_string(),
            "host": d.host,
            "authorization_query": d.query,
            "status": match &d.outcome {
                DestinationOutcome::SameOrganization => "same_organization",
                DestinationOutcome::Authorized { .. } => "authorized",
                DestinationOutcome::NotAuthorized => "not_authorized",
                DestinationOutcome::TempError(_) => "temperror",
                DestinationOutcome::NoHost => "no_host",
            },
            "overrides": match &d.outcome {
                DestinationOutcome::Authorized { overrides } => uris(overrides),
                _ => Vec::new(),
            },
        })).collect::<Vec<_>>(),
        "findings": findings_json(&c.findings),
    })
}

/// Write `text` to standard output; a closed pipe surfaces as an io error (main treats
/// it as success).
fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn policy_words(p: Policy) -> &'static str {
    match p {
        Policy::None => "none (monitor only: failing mail is delivered)",
        Policy::Quarantine => "quarantine (failing mail goes to spam)",
        Policy::Reject => "reject (failing mail is refused)",
    }
}

fn print_findings(out: &mut String, style: &Style, findings: &[Finding]) -> fmt::Result {
    if findings.is_empty() {
        writeln!(out, "  {}", style.good("nothing to fix"))?;
        return Ok(());
    }
    for f in findings {
        let tag = match f.severity {
            Severity::Error => style.bad("error  "),
            Severity::Warning => style.warn("warning"),
            Severity::Info => style.dim("info   "),
        };
        writeln!(
            out,
            "  {tag} {} {}",
            f.message,
            style.dim(&format!("({})", f.rfc))
        )?;
        if let Some(fix) = &f.fix {
            writeln!(out, "          fix: {fix}")?;
        }
    }
    Ok(())
}

fn print_discovery(
    out: &mut String,
    style: &Style,
    name: &str,
    d: &PolicyDiscovery,
) -> fmt::Result {
    let org = match &d.organizational_domain {
        Ok(o) => o.clone(),
        Err(e) => format!("unknown ({e})"),
    };
    let found = match &d.outcome {
        PolicyOutcome::Found { policy_domain, .. } => format!("policy at _dmarc.{policy_domain}"),
        PolicyOutcome::Invalid { policy_domain, .. } => style.bad(&format!(
            "invalid record at _dmarc.{policy_domain} (permerror)"
        )),
        PolicyOutcome::NoPolicy { .. } => "no policy".to_string(),
        PolicyOutcome::TempError { reason } => style.warn(&format!("DNS failure: {reason}")),
    };
    writeln!(out, "  {name}: {found}; Organizational Domain {org}")?;
    for x in &d.discarded {
        writeln!(out, "    {}", style.warn(&format!("discarded: {x}")))?;
    }
    let asked: Vec<&str> = d
        .queries
        .iter()
        .map(|q| q.query.trim_start_matches("TXT "))
        .collect();
    writeln!(
        out,
        "    {}",
        style.dim(&format!("asked: {}", asked.join(", ")))
    )
}

fn print_check(out: &mut String, c: &DomainCheck) -> fmt::Result {
    let style = Style::for_stdout();
    writeln!(out, "{}", style.bold(&format!("DMARC for {}", c.domain)))?;
    writeln!(out)?;
    match &c.published {
        Ok(list) if list.is_empty() => writeln!(out, "_dmarc.{}: no TXT records", c.domain)?,
        Ok(list) => {
            writeln!(out, "_dmarc.{}:", c.domain)?;
            for t in list {
                let mark = if t.is_dmarc {
                    ""
                } else {
                    "  (not a DMARC record)"
                };
                writeln!(out, "  \"{}\"{}", t.text, style.dim(mark))?;
            }
        }
        Err(e) => writeln!(
            out,
            "_dmarc.{}: {}",
            c.domain,
            style.warn(&format!("lookup failed: {e}"))
        )?,
    }
    if let Some((domain, text)) = &c.applied
        && *domain != c.domain
    {
        writeln!(out)?;
        writeln!(out, "Receivers use the record at _dmarc.{domain}:")?;
        writeln!(out, "  \"{text}\"")?;
    }
    if c.applied.is_some() && c.record.is_none() {
        // RFC 7489 §11.2: the record that applies is invalid: permerror, no policy.
        let rows = vec![vec![
            format!("{} itself", c.domain),
            style.bad("no usable policy: the record is invalid, so DMARC gives permerror"),
        ]];
        writeln!(out)?;
        write!(out, "{}", table(&["applies to", "policy"], &rows))?;
    }
    if let (Some(_), Some(record)) = (&c.applied, &c.record) {
        let mut rows = Vec::new();
        if let (Some(s), Some(own)) = (c.summary, c.own_policy) {
            rows.push(vec![
                format!("{} itself", c.domain),
                format!("{} [{}]", policy_words(own.requested), own.source.as_str()),
            ]);
            rows.push(vec![
                "its subdomains".into(),
                policy_words(s.subdomains).to_string(),
            ]);
            rows.push(vec![
                "non-existent subdomains".into(),
                policy_words(s.nonexistent_subdomains).to_string(),
            ]);
            if s.testing {
                rows.push(vec![
                    "test mode (t=y)".into(),
                    "on: receivers apply one level lower".into(),
                ]);
            }
        } else {
            rows.push(vec![
                format!("{} itself", c.domain),
                style.bad("no usable policy: receivers apply no DMARC"),
            ]);
        }
        rows.push(vec![
            "DKIM alignment (adkim)".into(),
            record.adkim().name().into(),
        ]);
        rows.push(vec![
            "SPF alignment (aspf)".into(),
            record.aspf().name().into(),
        ]);
        let list = |u: &[sendwell_dmarc::uri::ReportUri]| {
            if u.is_empty() {
                "none".to_string()
            } else {
                u.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        rows.push(vec!["aggregate reports (rua)".into(), list(record.rua())]);
        rows.push(vec!["failure reports (ruf)".into(), list(record.ruf())]);
        writeln!(out)?;
        write!(out, "{}", table(&["applies to", "policy"], &rows))?;
    }
    if !c.destinations.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.bold("Report destinations"))?;
        for d in &c.destinations {
            let status = match &d.outcome {
                DestinationOutcome::SameOrganization => style.good("same organization"),
                DestinationOutcome::Authorized { overrides } if overrides.is_empty() => style.good(
                    &format!("authorized by {}", d.query.as_deref().unwrap_or("")),
                ),
                DestinationOutcome::Authorized { overrides } => style.good(&format!(
                    "authorized; reports go to {} instead",
                    overrides
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                DestinationOutcome::NotAuthorized => style.bad(&format!(
                    "not authorized: no v=DMARC1 at {}",
                    d.query.as_deref().unwrap_or("")
                )),
                DestinationOutcome::TempError(e) => style.warn(&format!("not checked: {e}")),
                DestinationOutcome::NoHost => style.warn("no host to check"),
            };
            writeln!(out, "  {} {}: {status}", d.tag.as_str(), d.uri)?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold("How receivers find it"))?;
    print_discovery(out, &style, "DNS tree walk (RFC 9989)", &c.tree_walk)?;
    print_discovery(
        out,
        &style,
        "Public Suffix List (RFC 7489)",
        &c.public_suffix_list,
    )?;
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Findings"))?;
    print_findings(out, &style, &c.findings)
}

fn build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut b = RecordBuilder::new(args.policy.into()).testing(args.testing);
    if let Some(sp) = args.sp {
        b = b.sp(sp.into());
    }
    if let Some(np) = args.np {
        b = b.np(np.into());
    }
    if let Some(m) = args.adkim {
        b = b.adkim(m.into());
    }
    if let Some(m) = args.aspf {
        b = b.aspf(m.into());
    }
    if let Some(psd) = args.psd {
        b = b.psd(match psd {
            PsdArg::Y => Psd::Yes,
            PsdArg::N => Psd::No,
        });
    }
    for r in &args.rua {
        b = b.rua(r)?;
    }
    for r in &args.ruf {
        b = b.ruf(r)?;
    }
    let record = b.build().to_string();
    let strings = txt_strings(&record);
    let name = args
        .domain
        .as_deref()
        .map(|d| format!("_dmarc.{}.", d.trim_end_matches('.')));
    // The record is printed split into strings, so the one-string length limit is met.
    let findings: Vec<Finding> = lint_joined(&record).findings;
    if args.json {
        print_json(&json!({
            "record": record,
            "name": name,
            "txt_strings": strings,
            "findings": findings_json(&findings),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Style::for_stdout();
    let mut text = String::new();
    let out = &mut text;
    writeln!(out, "{record}")?;
    writeln!(out)?;
    writeln!(out, "{}", style.dim("Zone file line:"))?;
    let quoted: Vec<String> = strings.iter().map(|s| format!("\"{s}\"")).collect();
    let owner = name.unwrap_or_else(|| "_dmarc".to_string());
    if quoted.len() == 1 {
        writeln!(out, "{owner} IN TXT {}", quoted[0])?;
    } else {
        writeln!(out, "{owner} IN TXT ( {} )", quoted.join("\n        "))?;
    }
    if !findings.is_empty() {
        writeln!(out)?;
        print_findings(out, &style, &findings)?;
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
