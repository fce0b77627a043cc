//! `sendwell verify --ip IP --helo NAME --mail-from ADDR < message.eml`: the whole
//! receiver-side evaluation of one message, as a receiving server would do it.
//!
//! SPF for MAIL FROM (and for HELO), every DKIM signature, DMARC on top of them, and
//! iprev (PTR plus forward confirmation, RFC 8601 §3). The output is the
//! Authentication-Results header the receiver would add (RFC 8601) and a "Summary of
//! Results" that gives each check's result, its reason and, on failure, the fix.
//!
//! The checks are the library crates' (sendwell-spf, sendwell-dkim, sendwell-dmarc,
//! sendwell-auth-results); this module only wires them and prints.

use std::fmt::{self, Write as _};
use std::io::{Read, Write as _};
use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use sendwell_auth_results::{AuthenticationResults, IprevOutcome, IprevResult, ResInfo, iprev};
use sendwell_dkim::{DkimResult, DkimVerification};
use sendwell_dmarc::{
    AuthenticatedIdentifiers, Discovery, DkimIdentifier, DmarcOutput, DmarcResult, SpfIdentifier,
    evaluate_message,
};
use sendwell_spf::{SpfResult, SpfVerdict};
use serde_json::{Value, json};

use crate::cli::ResolverArgs;
use crate::output::Style;

/// DMARC failed.
const DMARC_FAIL: u8 = 10;
/// No DMARC policy applies to the From domain.
const DMARC_NONE: u8 = 11;
/// A DNS failure kept DMARC from a result.
const DMARC_TEMPERROR: u8 = 12;
/// DMARC could not be evaluated: no single From address, or an unusable record.
const DMARC_PERMERROR: u8 = 13;

/// Longest message read from standard input.
const MAX_MESSAGE: u64 = 64 * 1024 * 1024;

/// Policy discovery on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DiscoveryArg {
    /// The DNS tree walk of RFC 9989 (the current standard).
    TreeWalk,
    /// The Public Suffix List of RFC 7489 (what OpenDMARC does).
    Psl,
}

/// `sendwell verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The sending server's IP address (the SMTP client).
    #[arg(long)]
    pub ip: IpAddr,
    /// The name the sender gave in HELO/EHLO.
    #[arg(long)]
    pub helo: String,
    /// The MAIL FROM address (empty or <> for a bounce).
    #[arg(long, value_name = "ADDR", allow_hyphen_values = true)]
    pub mail_from: String,
    /// The authserv-id written in Authentication-Results (default: this host's name).
    #[arg(long)]
    pub authserv_id: Option<String>,
    /// How DMARC finds the policy and the Organizational Domain.
    #[arg(long, value_enum, default_value_t = DiscoveryArg::TreeWalk)]
    pub dmarc_discovery: DiscoveryArg,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print JSON: spf, dkim, dmarc, iprev and authentication_results.
    #[arg(long)]
    pub json: bool,
}

/// Everything the checks found.
struct Report {
    spf: SpfVerdict,
    helo: Option<SpfVerdict>,
    dkim: Vec<DkimVerification>,
    dmarc: DmarcOutput,
    iprev: IprevOutcome,
    header: AuthenticationResults,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut message = Vec::new();
    std::io::stdin()
        .take(MAX_MESSAGE + 1)
        .read_to_end(&mut message)
        .context("reading the message from standard input")?;
    anyhow::ensure!(
        message.len() as u64 <= MAX_MESSAGE,
        "the message is larger than {MAX_MESSAGE} bytes"
    );
    anyhow::ensure!(
        !message.is_empty(),
        "no message on standard input (sendwell verify … < message.eml)"
    );
    let lookup = args.resolver.lookup()?;
    let authserv_id = args.authserv_id.clone().unwrap_or_else(host_name);
    let config = sendwell_spf::Config {
        receiver: authserv_id.clone(),
        ..sendwell_spf::Config::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);

    // RFC 7208 §2.4: MAIL FROM (or HELO for a null reverse-path); §2.3: HELO as well.
    let spf = sendwell_spf::evaluate(&lookup, args.ip, &args.helo, &args.mail_from, &config).await;
    let helo = if spf.identity == sendwell_spf::Identity::MailFrom {
        Some(sendwell_spf::evaluate_helo(&lookup, args.ip, &args.helo, &config).await)
    } else {
        None
    };
    let dkim = sendwell_dkim::verify(&lookup, &message, now).await;
    // RFC 9989 §5.3.3: DMARC takes the SPF domain and result, and each signature's d=.
    let identifiers = AuthenticatedIdentifiers {
        spf: Some(SpfIdentifier {
            domain: spf.domain.clone(),
            pass: spf.result == SpfResult::Pass,
        }),
        dkim: dkim
            .iter()
            .map(|v| DkimIdentifier {
                domain: v.domain.clone(),
                selector: v.selector.clone(),
                pass: v.result == DkimResult::Pass,
            })
            .collect(),
    };
    let discovery = match args.dmarc_discovery {
        DiscoveryArg::TreeWalk => Discovery::TreeWalk,
        DiscoveryArg::Psl => Discovery::PublicSuffixList,
    };
    let dmarc = evaluate_message(&lookup, &message, &identifiers, discovery).await;
    let iprev = iprev(&lookup, args.ip).await;
    let header = authentication_results(
        &authserv_id,
        &args,
        &spf,
        helo.as_ref(),
        &dkim,
        &dmarc,
        &iprev,
    )?;
    let report = Report {
        spf,
        helo,
        dkim,
        dmarc,
        iprev,
        header,
    };

    let mut text = String::new();
    if args.json {
        text = serde_json::to_string_pretty(&report_json(&report))?;
        text.push('\n');
    } else {
        print_report(&mut text, &report, &args)?;
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(match report.dmarc.result {
        DmarcResult::Pass => ExitCode::SUCCESS,
        DmarcResult::Fail => ExitCode::from(DMARC_FAIL),
        DmarcResult::None => ExitCode::from(DMARC_NONE),
        DmarcResult::TempError => ExitCode::from(DMARC_TEMPERROR),
        DmarcResult::PermError => ExitCode::from(DMARC_PERMERROR),
    })
}

/// This machine's host name, for the authserv-id (RFC 8601 §2.5).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The header a receiver adds (RFC 8601). Every value from the sender goes through the
/// generator's escaping.
fn authentication_results(
    authserv_id: &str,
    args: &VerifyArgs,
    spf: &SpfVerdict,
    helo: Option<&SpfVerdict>,
    dkim: &[DkimVerification],
    dmarc: &DmarcOutput,
    iprev: &IprevOutcome,
) -> anyhow::Result<AuthenticationResults> {
    let mut h = AuthenticationResults::new(authserv_id);
    h.push(ResInfo::iprev(
        iprev.result.as_str(),
        args.ip,
        iprev.ptr.as_deref(),
    )?);
    // RFC 8601 §2.7.2: smtp.mailfrom for the MAIL FROM identity, smtp.helo for HELO.
    h.push(match spf.identity {
        sendwell_spf::Identity::MailFrom => {
            ResInfo::spf_mailfrom(spf.result.as_str(), &spf.mail_from)?
        }
        sendwell_spf::Identity::Helo => ResInfo::spf_helo(spf.result.as_str(), &spf.helo)?,
    });
    if let Some(helo) = helo {
        h.push(ResInfo::spf_helo(helo.result.as_str(), &helo.helo)?);
    }
    if dkim.is_empty() {
        h.push(ResInfo::new("dkim", "none")?.with_comment("message not signed"));
    }
    for v in dkim {
        // header_b is already the shortest prefix (at least 8 characters) that tells the
        // message's signatures apart (RFC 6008 §4).
        let b = (!v.header_b.is_empty()).then_some(v.header_b.as_str());
        h.push(
            ResInfo::dkim(
                v.result.as_str(),
                &v.domain,
                &v.selector,
                b,
                v.header_b.chars().count(),
            )?
            .with_comment(header_comment(&v.reason.to_string())),
        );
    }
    h.push(dmarc_resinfo(dmarc)?);
    Ok(h)
}

/// Our own text for a comment in the header: ASCII only. The header is a 7-bit field
/// (RFC 8601 §2.2 uses the RFC 5322 grammar), and the generator would turn "§" into "?",
/// so section signs (and the ellipsis of a shortened header line) are written out. What
/// the sender wrote is left to the generator, which replaces non-ASCII with "?".
fn header_comment(text: &str) -> String {
    text.replace('§', "section ").replace('…', "...")
}

/// `dmarc=<result> (p=… dis=…) header.from=… policy.dmarc=…` (RFC 7489 §11.2,
/// RFC 9989 §9.1). A permerror or temperror has no policy; its comment is the reason.
fn dmarc_resinfo(d: &DmarcOutput) -> anyhow::Result<ResInfo> {
    let result = d.result.as_str();
    let Some(from) = &d.author_domain else {
        // No single Author Domain: nothing to put in header.from.
        return Ok(ResInfo::new("dmarc", result)?.with_comment(header_comment(&d.reason)));
    };
    let comment = match d.policy {
        Some(p) => Some(format!("p={} dis={}", p.requested, d.disposition)),
        None if matches!(d.result, DmarcResult::PermError | DmarcResult::TempError) => {
            Some(header_comment(&d.reason))
        }
        None => None,
    };
    let policy = d.policy.map(|_| d.disposition.as_str());
    Ok(ResInfo::dmarc(result, from, comment.as_deref(), policy)?)
}

fn spf_reason(v: &SpfVerdict) -> String {
    let o = &v.output;
    if let Some(p) = &o.problem {
        return p.to_string();
    }
    match &o.decided_by {
        Some(t) => format!(
            "{} matched {} in the SPF record of {}",
            v.ip, t.term, t.domain
        ),
        None => format!("no term of {}'s SPF record matched {}", o.domain, v.ip),
    }
}

fn spf_fix(v: &SpfVerdict) -> Option<String> {
    let ip = match v.ip {
        IpAddr::V4(ip) => format!("ip4:{ip}"),
        IpAddr::V6(ip) => format!("ip6:{ip}"),
    };
    match v.result {
        SpfResult::Pass => None,
        SpfResult::None => Some(format!(
            "publish an SPF record: {} TXT \"v=spf1 {ip} -all\"",
            v.domain
        )),
        SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Some(format!(
            "add {ip} to the SPF record of {} (before its all)",
            v.domain
        )),
        SpfResult::TempError => {
            Some("a DNS failure: check the domain's name servers, then try again".into())
        }
        SpfResult::PermError => Some(format!(
            "repair the SPF record of {} (run `sendwell spf check {}` if available)",
            v.domain, v.domain
        )),
    }
}

/// The fix for the HELO identity (RFC 7208 §2.3): the HELO name needs an SPF record of
/// its own, usually `v=spf1 a -all` ("this host, by its address record, and nothing
/// else"); a failing one must list the client address.
fn helo_spf_fix(v: &SpfVerdict) -> Option<String> {
    let record = match v.ip {
        IpAddr::V4(_) => "A",
        IpAddr::V6(_) => "AAAA",
    };
    match v.result {
        SpfResult::None => Some(format!(
            "publish an SPF record for the HELO name: {} TXT \"v=spf1 a -all\" (with an {record} record for {} pointing to {})",
            v.domain, v.domain, v.ip
        )),
        _ => spf_fix(v),
    }
}

fn dkim_fix(v: &DkimVerification) -> Option<String> {
    match v.result {
        DkimResult::Pass | DkimResult::None => None,
        DkimResult::TempError => Some("a DNS failure: try again later".into()),
        DkimResult::Fail => Some(
            "the message changed after signing, or the key in DNS is not the signing key: sign last, after every header change, and check the published key".into(),
        ),
        _ => Some(format!(
            "check the key record at {}._domainkey.{} and the signing setup",
            v.selector, v.domain
        )),
    }
}

fn dmarc_fix(d: &DmarcOutput) -> Option<String> {
    let from = d.author_domain.as_deref().unwrap_or("your domain");
    match d.result {
        DmarcResult::Pass => None,
        DmarcResult::None => Some(format!(
            "publish a DMARC record for {from}: `sendwell dmarc build --policy none --rua mailto:dmarc@{from}`"
        )),
        DmarcResult::Fail => Some(format!(
            "make DKIM pass with d={from} (or a domain in its organization), or SPF pass for a MAIL FROM in it"
        )),
        DmarcResult::TempError => Some("a DNS failure: try again later".into()),
        DmarcResult::PermError => Some(if d.author_domain.is_none() {
            "send with exactly one From header field holding one address".into()
        } else {
            format!("repair the DMARC record (run `sendwell dmarc check {from}`)")
        }),
    }
}

fn iprev_fix(i: &IprevOutcome, ip: IpAddr) -> Option<String> {
    match i.result {
        IprevResult::Pass => None,
        IprevResult::TempError => Some("a DNS failure: try again later".into()),
        _ => Some(format!(
            "ask whoever runs {ip}'s network to set its PTR record to your mail host's name, and give that name an address record for {ip}"
        )),
    }
}

fn print_report(out: &mut String, r: &Report, args: &VerifyArgs) -> fmt::Result {
    let style = Style::for_stdout();
    // Padded before painting, so colour codes do not upset the columns.
    let paint = |result: &str| {
        let padded = format!("{result:<10}");
        match result {
            "pass" => style.good(&padded),
            "none" | "neutral" | "temperror" | "policy" => style.warn(&padded),
            _ => style.bad(&padded),
        }
    };
    writeln!(out, "{}", r.header.to_header_field().replace("\r\n", "\n"))?;
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Summary of Results"))?;
    let mut line = |check: &str, result: &str, reason: &str, fix: Option<String>| -> fmt::Result {
        writeln!(out, "  {check:<18} {} {reason}", paint(result))?;
        if let Some(fix) = fix {
            writeln!(out, "  {:<18} {:<10} fix: {fix}", "", "")?;
        }
        Ok(())
    };
    let spf_what = match r.spf.identity {
        sendwell_spf::Identity::MailFrom => format!("MAIL FROM {}", r.spf.mail_from),
        sendwell_spf::Identity::Helo => format!("HELO {} (null MAIL FROM)", r.spf.helo),
    };
    line(
        "SPF check",
        r.spf.result.as_str(),
        &format!("{spf_what}: {}", spf_reason(&r.spf)),
        match r.spf.identity {
            sendwell_spf::Identity::MailFrom => spf_fix(&r.spf),
            sendwell_spf::Identity::Helo => helo_spf_fix(&r.spf),
        },
    )?;
    if let Some(h) = &r.helo {
        line(
            "SPF check (HELO)",
            h.result.as_str(),
            &format!("HELO {}: {}", h.helo, spf_reason(h)),
            helo_spf_fix(h),
        )?;
    }
    if r.dkim.is_empty() {
        line(
            "DKIM check",
            "none",
            "the message has no DKIM-Signature",
            Some("sign outgoing mail with DKIM (`sendwell dkim keygen`, then sign with d= your From domain)".into()),
        )?;
    }
    for v in &r.dkim {
        line(
            "DKIM check",
            v.result.as_str(),
            &format!("d={} s={}: {}", v.domain, v.selector, v.reason),
            dkim_fix(v),
        )?;
    }
    let d = &r.dmarc;
    let mut dmarc_reason = d.reason.clone();
    if let Some(p) = d.policy {
        dmarc_reason.push_str(&format!(
            " [policy {}={} at _dmarc.{}, {}]",
            p.source.as_str(),
            p.requested,
            d.policy_domain.as_deref().unwrap_or(""),
            d.discovery
        ));
    } else if d.author_domain.is_some() {
        // Discovery ran: say which way, since the two can find different records.
        dmarc_reason.push_str(&format!(" [{}]", d.discovery));
    }
    line(
        "DMARC check",
        d.result.as_str(),
        &dmarc_reason,
        dmarc_fix(d),
    )?;
    line(
        "Reverse DNS check",
        r.iprev.result.as_str(),
        &r.iprev.reason,
        iprev_fix(&r.iprev, args.ip),
    )?;
    if d.result == DmarcResult::Fail {
        writeln!(out)?;
        writeln!(
            out,
            "A receiver honouring the policy would {} this message.",
            match d.disposition {
                sendwell_dmarc::Policy::Reject => "reject",
                sendwell_dmarc::Policy::Quarantine => "quarantine (spam folder)",
                sendwell_dmarc::Policy::None => "still deliver (p=none asks only for reports)",
            }
        )?;
    }
    for note in &d.notes {
        writeln!(out, "  {}", style.dim(&format!("note: {note}")))?;
    }
    Ok(())
}

fn report_json(r: &Report) -> Value {
    let d = &r.dmarc;
    json!({
        "spf": {
            "result": r.spf.result.as_str(),
            "domain": r.spf.domain,
            "identity": r.spf.identity.as_str(),
            "reason": spf_reason(&r.spf),
            "helo": r.helo.as_ref().map(|h| json!({
                "result": h.result.as_str(),
                "domain": h.domain,
                "reason": spf_reason(h),
            })),
        },
        "dkim": r.dkim.iter().map(|v| json!({
            "result": v.result.as_str(),
            "domain": v.domain,
            "selector": v.selector,
            "reason": v.reason.to_string(),
        })).collect::<Vec<_>>(),
        "dmarc": {
            "result": d.result.as_str(),
            "policy": d.policy.map(|p| p.requested.as_str()),
            "disposition": d.disposition.as_str(),
            "from_domain": d.author_domain,
            "org_domain": d.organizational_domain,
            "spf_aligned": d.spf_aligned(),
            "dkim_aligned": d.dkim_aligned(),
            "policy_domain": d.policy_domain,
            "discovery": d.discovery.as_str(),
            "reason": d.reason,
        },
        "iprev": {
            "result": r.iprev.result.as_str(),
            "ptr": r.iprev.ptr,
            "reason": r.iprev.reason,
        },
        "authentication_results": r.header.to_string(),
    })
}
