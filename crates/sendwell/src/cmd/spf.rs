//! `sendwell spf check | lint | build`: SPF (RFC 7208) from the command line.
//!
//! `check` evaluates a client as a receiver would and explains the verdict (the deciding
//! term, the lookup counts, the trace, the headers a receiver would add); `lint` judges
//! a published record before receivers do; `build` writes a restrictive record and
//! refuses one over the DNS lookup budget. The protocol lives in `sendwell-spf`; this
//! module only parses arguments, asks DNS through `--resolver`, and prints.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sendwell_spf::builder::{self, OnDnsFailure, RecordBuilder, character_strings};
use sendwell_spf::header::{ReceivedSpf, SpfAuthResult};
use sendwell_spf::lint::{self, LintReport, Severity};
use sendwell_spf::{Config, MIN_EVALUATION_TIME, SpfResult, SpfVerdict};
use serde_json::json;

use crate::cli::ResolverArgs;
use crate::output::{Style, out, outln, print_json, table};

/// `spf check` exit codes: 0 is `pass`; each other result has its own code.
const EXIT_FAIL: u8 = 10;
const EXIT_SOFTFAIL: u8 = 11;
const EXIT_NEUTRAL: u8 = 12;
const EXIT_NONE: u8 = 13;
const EXIT_TEMPERROR: u8 = 14;
const EXIT_PERMERROR: u8 = 15;
/// `spf lint`: at least one finding is an error. `spf build`: the record was refused.
const EXIT_FINDINGS: u8 = 10;
/// Usage error (as clap's own).
const EXIT_USAGE: u8 = 2;

/// `sendwell spf`.
#[derive(Debug, Args)]
pub struct SpfArgs {
    #[command(subcommand)]
    pub command: SpfCommand,
}

/// The `spf` subcommands.
#[derive(Debug, Subcommand)]
pub enum SpfCommand {
    /// Evaluate SPF for a client as a receiver does (RFC 7208 check_host()) and explain
    /// the result. Exit code: 0 pass, 10 fail, 11 softfail, 12 neutral, 13 none,
    /// 14 temperror, 15 permerror.
    Check(CheckArgs),
    /// Judge a domain's SPF record (or one given with --record) the way receivers will:
    /// one record, valid, restrictive, within the DNS lookup budget through every
    /// include. Exit code 10 when a finding is an error.
    Lint(LintArgs),
    /// Write a restrictive SPF record (-all unless --softfail); refuses one receivers
    /// would reject, above all one over the budget of 10 DNS lookups, and one it could
    /// not check because DNS failed (unless --allow-unchecked). Exit code 10 when
    /// refused, 1 for an invalid --ip4/--ip6/--include value.
    Build(BuildArgs),
}

/// `sendwell spf check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The SMTP client's IP address (<ip>).
    #[arg(long)]
    pub ip: IpAddr,
    /// The MAIL FROM address. Empty or absent means a null reverse-path, for which the
    /// HELO identity is checked as postmaster@HELO (RFC 7208 §2.4).
    #[arg(long, default_value = "")]
    pub sender: String,
    /// The HELO/EHLO name. Needed for a null reverse-path; otherwise it only feeds the
    /// %{h} macro (which expands to "unknown" without it).
    #[arg(long)]
    pub helo: Option<String>,
    /// The receiving host's name, for the %{r} macro and the Received-SPF header
    /// (default: this machine's host name).
    #[arg(long)]
    pub receiver: Option<String>,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Show every term tried and every DNS query with its answer.
    #[arg(long)]
    pub trace: bool,
    /// Print JSON: result, explanation, domain, identity, sender, ip, helo, lookups,
    /// void_lookups, decided_by, problem, received_spf, authentication_results, trace.
    #[arg(long)]
    pub json: bool,
}

/// `sendwell spf lint`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["domain", "record"]))]
pub struct LintArgs {
    /// The domain whose published record to lint (with --record: the domain the record
    /// is meant for, which a bare `a`, `mx` or `ptr` refers to).
    pub domain: Option<String>,
    /// Lint this record text instead of the published one.
    #[arg(long, value_name = "TEXT")]
    pub record: Option<String>,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print the findings as a JSON list, each with severity (error|warning|info), code,
    /// message, and for lookup counts the path of each lookup (paths).
    #[arg(long)]
    pub json: bool,
}

/// `sendwell spf build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Authorize an IPv4 address or network (repeatable): 192.0.2.1, 192.0.2.0/24.
    #[arg(long, value_name = "NET")]
    pub ip4: Vec<String>,
    /// Authorize an IPv6 address or network (repeatable): 2001:db8::/32.
    #[arg(long, value_name = "NET")]
    pub ip6: Vec<String>,
    /// Authorize the domain's own addresses (a).
    #[arg(long)]
    pub a: bool,
    /// Authorize the domain's mail exchangers (mx).
    #[arg(long)]
    pub mx: bool,
    /// Authorize what another domain authorizes (include:DOMAIN; repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub include: Vec<String>,
    /// End with ~all (softfail) instead of -all.
    #[arg(long)]
    pub softfail: bool,
    /// The domain the record is for: `a` and `mx` are checked against it, and the zone
    /// line is printed for it.
    #[arg(long)]
    pub domain: Option<String>,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print the record even when a DNS query failed, so that it could not be checked
    /// (an include whose record cannot be fetched hides how many lookups it spends; the
    /// count shown is then a lower bound). Without it such a record is refused.
    #[arg(long)]
    pub allow_unchecked: bool,
    /// Print JSON: record, txt_strings, lookups, lookups_complete, unchecked, findings
    /// (and refused, reasons).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: SpfArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SpfCommand::Check(a) => check(a).await,
        SpfCommand::Lint(a) => lint(a).await,
        SpfCommand::Build(a) => build(a).await,
    }
}

fn exit_code(result: SpfResult) -> ExitCode {
    ExitCode::from(match result {
        SpfResult::Pass => 0,
        SpfResult::Fail => EXIT_FAIL,
        SpfResult::SoftFail => EXIT_SOFTFAIL,
        SpfResult::Neutral => EXIT_NEUTRAL,
        SpfResult::None => EXIT_NONE,
        SpfResult::TempError => EXIT_TEMPERROR,
        SpfResult::PermError => EXIT_PERMERROR,
    })
}

fn paint(style: &Style, result: SpfResult) -> String {
    let token = result.to_string();
    match result {
        SpfResult::Pass => style.good(&token),
        SpfResult::Fail | SpfResult::PermError => style.bad(&token),
        _ => style.warn(&token),
    }
}

/// This machine's host name, for %{r} and Received-SPF (RFC 7208 §7.3: "unknown" when
/// there is none).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let path = args
        .sender
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(&args.sender);
    if path.is_empty() && args.helo.is_none() {
        eprintln!(
            "error: a null reverse-path (no --sender) is checked as postmaster@HELO (RFC 7208 §2.4); give --helo"
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let helo = args.helo.clone().unwrap_or_else(|| "unknown".to_string());
    let receiver = args.receiver.clone().unwrap_or_else(host_name);
    let lookup = args.resolver.lookup()?;
    let config = Config {
        receiver: receiver.clone(),
        trace: args.trace || args.json,
        ..Config::default()
    };
    // RFC 7208 §4.6.4: bound the whole evaluation (at least 20 s) and call running out
    // a temperror.
    let verdict = match tokio::time::timeout(
        MIN_EVALUATION_TIME,
        sendwell_spf::evaluate(&lookup, args.ip, &helo, &args.sender, &config),
    )
    .await
    {
        Ok(v) => v,
        Err(_) => SpfVerdict::timed_out(args.ip, &helo, &args.sender, MIN_EVALUATION_TIME),
    };
    let received = ReceivedSpf::new(&verdict, &receiver);
    let auth = SpfAuthResult::new(&verdict);
    let out = &verdict.output;
    if args.json {
        print_json(&json!({
            "result": verdict.result,
            "explanation": out.explanation,
            "domain": verdict.domain,
            "identity": verdict.identity,
            "sender": verdict.sender,
            "ip": verdict.ip,
            "helo": verdict.helo,
            "lookups": out.lookups,
            "void_lookups": out.void_lookups,
            "decided_by": out.decided_by,
            "problem": out.problem,
            "received_spf": received.to_string(),
            "authentication_results": auth.to_string(),
            "trace": out.trace,
        }))?;
        return Ok(exit_code(verdict.result));
    }
    let style = Style::for_stdout();
    outln!("{} {}", style.bold("spf:"), paint(&style, verdict.result));
    let mut rows = vec![
        vec![
            "domain".to_string(),
            format!(
                "{} ({} identity, sender {})",
                verdict.domain,
                verdict.identity.as_str(),
                verdict.sender
            ),
        ],
        vec!["client".to_string(), verdict.ip.to_string()],
    ];
    match &out.decided_by {
        Some(d) => rows.push(vec![
            "decided by".into(),
            format!("{} (in the record of {})", d.term, d.domain),
        ]),
        None if verdict.result == SpfResult::Neutral => rows.push(vec![
            "decided by".into(),
            "no term matched (RFC 7208 §4.7: neutral)".into(),
        ]),
        None => {}
    }
    if let Some(e) = &out.explanation {
        rows.push(vec!["explanation".into(), e.clone()]);
    }
    if let Some(p) = &out.problem {
        rows.push(vec!["problem".into(), p.to_string()]);
    }
    rows.push(vec![
        "lookups".into(),
        format!(
            "{}/{} DNS-querying terms, {}/{} void lookups",
            out.lookups,
            sendwell_spf::MAX_DNS_LOOKUPS,
            out.void_lookups,
            config.max_void_lookups
        ),
    ]);
    for row in &rows {
        outln!("  {:<12} {}", row[0], row[1]);
    }
    outln!("{}", style.dim(&received.to_string()));
    outln!(
        "{}",
        style.dim(&format!("Authentication-Results: {receiver}; {auth}"))
    );
    if args.trace {
        outln!("{}", style.bold("trace:"));
        for event in &out.trace {
            outln!("  {event}");
        }
    }
    Ok(exit_code(verdict.result))
}

fn severity(style: &Style, s: Severity) -> String {
    match s {
        Severity::Error => style.bad("error"),
        Severity::Warning => style.warn("warning"),
        Severity::Info => style.dim("info"),
    }
}

fn print_report(style: &Style, report: &LintReport) -> std::io::Result<()> {
    if let Some(record) = &report.record {
        match &report.domain {
            Some(d) => outln!("{} {d}", style.bold("SPF record of")),
            None => outln!("{}", style.bold("SPF record")),
        }
        outln!("  {record}");
    }
    if !report.spent.is_empty() {
        outln!(
            "{} {}/{} (for a host that matches nothing)",
            style.bold("DNS lookups:"),
            report.lookups,
            sendwell_spf::MAX_DNS_LOOKUPS
        );
        for s in &report.spent {
            let line = format!("  {:>2}. {}", s.number, s.path);
            if s.number > sendwell_spf::MAX_DNS_LOOKUPS {
                outln!("{}", style.bad(&line));
            } else {
                outln!("{line}");
            }
        }
    }
    if report.findings.is_empty() {
        outln!("{}", style.good("no findings"));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .findings
        .iter()
        .map(|f| {
            vec![
                severity(style, f.severity),
                f.code.to_string(),
                f.message.clone(),
            ]
        })
        .collect();
    out!("{}", table(&["severity", "code", "message"], &rows));
    Ok(())
}

async fn lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let lookup = args.resolver.lookup()?;
    let report = match (&args.record, &args.domain) {
        (Some(record), domain) => lint::lint_record(&lookup, record, domain.as_deref()).await,
        (None, Some(domain)) => lint::lint_domain(&lookup, domain).await,
        (None, None) => unreachable!("clap requires a domain or --record"),
    };
    if args.json {
        print_json(&report.findings)?;
    } else {
        print_report(&Style::for_stdout(), &report)?;
    }
    Ok(if report.has_errors() {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

async fn build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut b = RecordBuilder::new().softfail(args.softfail);
    for net in &args.ip4 {
        b = b.ip4(net)?;
    }
    for net in &args.ip6 {
        b = b.ip6(net)?;
    }
    if args.a {
        b = b.a();
    }
    if args.mx {
        b = b.mx();
    }
    for d in &args.include {
        b = b.include(d)?;
    }
    let record = b.build();
    let text = record.to_string();
    let strings = character_strings(&text);
    let lookup = args.resolver.lookup()?;
    let on_dns_failure = if args.allow_unchecked {
        OnDnsFailure::Accept
    } else {
        OnDnsFailure::Refuse
    };
    let checked = builder::check(&lookup, &record, args.domain.as_deref(), on_dns_failure).await;
    let style = Style::for_stdout();
    match checked {
        Ok(report) => {
            if args.json {
                print_json(&json!({
                    "record": text,
                    "txt_strings": strings,
                    "lookups": report.lookups,
                    "lookups_complete": report.count_is_complete(),
                    "unchecked": report.unchecked,
                    "refused": false,
                    "findings": report.findings,
                }))?;
                return Ok(ExitCode::SUCCESS);
            }
            outln!("{text}");
            let quoted: Vec<String> = strings.iter().map(|s| format!("\"{s}\"")).collect();
            let owner = args
                .domain
                .as_deref()
                .map_or("@".to_string(), |d| format!("{}.", d.trim_end_matches('.')));
            outln!(
                "{}",
                style.dim(&format!("zone file: {owner} IN TXT {}", quoted.join(" ")))
            );
            let count = format!(
                "{}/{} DNS lookups",
                report.lookups,
                sendwell_spf::MAX_DNS_LOOKUPS
            );
            if report.count_is_complete() {
                outln!("{}", style.dim(&count));
            } else {
                outln!(
                    "{}",
                    style.warn(&format!(
                        "at least {count}: not checked against the budget (--allow-unchecked)"
                    ))
                );
            }
            for f in report.findings.iter().filter(|f| f.code != "lookups") {
                outln!("{} {}: {}", severity(&style, f.severity), f.code, f.message);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(refused) => {
            if args.json {
                print_json(&json!({
                    "record": text,
                    "txt_strings": strings,
                    "lookups": refused.report.lookups,
                    "lookups_complete": refused.report.count_is_complete(),
                    "unchecked": refused.report.unchecked,
                    "refused": true,
                    "reasons": refused.reasons,
                    "findings": refused.report.findings,
                }))?;
            } else {
                outln!("{} {text}", style.bad("refused:"));
                for r in &refused.reasons {
                    outln!("  {r}");
                }
                for s in refused
                    .report
                    .spent
                    .iter()
                    .filter(|s| s.number > sendwell_spf::MAX_DNS_LOOKUPS)
                {
                    outln!("  over the budget: {:>2}. {}", s.number, s.path);
                }
                if !refused.report.unchecked.is_empty() && !refused.report.has_errors() {
                    outln!(
                        "  the record could not be checked: retry when DNS answers (see --resolver), or pass --allow-unchecked to print it anyway"
                    );
                }
            }
            Ok(ExitCode::from(EXIT_FINDINGS))
        }
    }
}
