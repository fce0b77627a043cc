//! `sendwell records`: the DNS records a Sendwell setup needs, from its config and
//! keys: A/AAAA for the host name, MX, a restrictive SPF record (`-all`, RFC 7208),
//! each DKIM key (RFC 6376 §3.6.1), DMARC (RFC 7489 §6.1), and the PTR to ask the
//! provider of the IP address for (forward-confirmed reverse DNS).

use std::path::Path;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use sendwell_config::Config;

use super::init::DirArgs;
use crate::output;

/// `sendwell records`.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print a BIND zone file (with the PTR records as comments: they belong to the
    /// provider's reverse zone).
    #[arg(long, conflicts_with = "json")]
    pub zone_file: bool,
    /// Print JSON: a list of {"type", "name", "value", "where"}.
    #[arg(long)]
    pub json: bool,
}

/// One record to publish.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Record {
    /// A, AAAA, MX, TXT or PTR.
    #[serde(rename = "type")]
    pub rtype: &'static str,
    /// The owner name, without a trailing dot.
    pub name: String,
    /// The value as published (TXT without quotes; MX as "10 host").
    pub value: String,
    /// Where to publish it: "zone" (your domain's DNS) or "provider" (ask the provider
    /// of the IP address: reverse DNS).
    #[serde(rename = "where")]
    pub place: &'static str,
    /// What the record is for.
    pub purpose: &'static str,
}

pub async fn run(args: RecordsArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = Config::load(&args.dir.dir)?;
    print(&args.dir.dir, &config, args.zone_file, args.json)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Every record for a config.
pub fn records(dir: &Path, config: &Config) -> anyhow::Result<Vec<Record>> {
    let host = &config.hostname;
    let mut out = Vec::new();
    if let Some(a) = config.ipv4 {
        out.push(Record {
            rtype: "A",
            name: host.clone(),
            value: a.to_string(),
            place: "zone",
            purpose: "the mail server's address",
        });
    }
    if let Some(a) = config.ipv6 {
        out.push(Record {
            rtype: "AAAA",
            name: host.clone(),
            value: a.to_string(),
            place: "zone",
            purpose: "the mail server's IPv6 address",
        });
    }
    // SPF (RFC 7208): only our own addresses may send; everything else fails (-all).
    let mut spf = String::from("v=spf1");
    if let Some(a) = config.ipv4 {
        spf.push_str(&format!(" ip4:{a}"));
    }
    if let Some(a) = config.ipv6 {
        spf.push_str(&format!(" ip6:{a}"));
    }
    if config.ipv4.is_none() && config.ipv6.is_none() {
        spf.push_str(&format!(" a:{host}"));
    }
    spf.push_str(" -all");
    for d in &config.domains {
        out.push(Record {
            rtype: "MX",
            name: d.name.clone(),
            value: format!("10 {host}"),
            place: "zone",
            purpose: "where mail for the domain goes",
        });
        out.push(Record {
            rtype: "TXT",
            name: d.name.clone(),
            value: spf.clone(),
            place: "zone",
            purpose: "SPF: which addresses may send for the domain",
        });
        for k in &d.dkim {
            let path = Config::resolve(dir, &k.private_key);
            let pem = std::fs::read(&path)
                .with_context(|| format!("read DKIM key {}", path.display()))?;
            let key = sendwell_dkim::SigningKey::from_file_contents(&pem)
                .with_context(|| format!("DKIM key {}", path.display()))?;
            out.push(Record {
                rtype: "TXT",
                name: format!("{}._domainkey.{}", k.selector, d.name),
                value: key.key_record().to_string(),
                place: "zone",
                purpose: "DKIM: the public key receivers check signatures with",
            });
        }
        out.push(Record {
            rtype: "TXT",
            name: format!("_dmarc.{}", d.name),
            value: format!(
                "v=DMARC1; p={}; rua=mailto:{}",
                d.dmarc_policy,
                d.dmarc_report_address()
            ),
            place: "zone",
            purpose: "DMARC: what receivers do with mail that fails, and where reports go",
        });
    }
    if let Some(a) = config.ipv4 {
        out.push(Record {
            rtype: "PTR",
            name: sendwell_dns::reverse_name(std::net::IpAddr::V4(a)),
            value: host.clone(),
            place: "provider",
            purpose: "reverse DNS: ask the provider of the IP address to set it",
        });
    }
    if let Some(a) = config.ipv6 {
        out.push(Record {
            rtype: "PTR",
            name: sendwell_dns::reverse_name(std::net::IpAddr::V6(a)),
            value: host.clone(),
            place: "provider",
            purpose: "reverse DNS: ask the provider of the IP address to set it",
        });
    }
    Ok(out)
}

/// Print the records: a table, a zone file, or JSON.
pub fn print(dir: &Path, config: &Config, zone_file: bool, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let recs = records(dir, config)?;
    if json {
        return output::print_json(&recs);
    }
    let mut out = std::io::stdout().lock();
    if zone_file {
        writeln!(out, "; Sendwell: records for {}", config.hostname)?;
        for r in &recs {
            let line = zone_line(r);
            if r.place == "provider" {
                writeln!(out, "; ask the provider of the address (reverse zone):")?;
                for l in line.lines() {
                    writeln!(out, "; {l}")?;
                }
            } else {
                writeln!(out, "{line}")?;
            }
        }
        return Ok(());
    }
    let style = output::Style::for_stdout();
    let rows = |place: &str| -> Vec<Vec<String>> {
        recs.iter()
            .filter(|r| r.place == place)
            .map(|r| vec![r.rtype.to_string(), r.name.clone(), r.value.clone()])
            .collect()
    };
    write!(
        out,
        "{}",
        output::table(&["TYPE", "NAME", "VALUE"], &rows("zone"))
    )?;
    let provider = rows("provider");
    if !provider.is_empty() {
        writeln!(
            out,
            "\n{}",
            style.warn("Ask the provider of your IP address to set reverse DNS (PTR):")
        )?;
        write!(
            out,
            "{}",
            output::table(&["TYPE", "NAME", "VALUE"], &provider)
        )?;
    }
    if config.ipv4.is_none() && config.ipv6.is_none() {
        writeln!(
            out,
            "\n{}",
            style.dim("(no public address configured: A, AAAA and PTR records are left out)")
        )?;
    }
    Ok(())
}

/// One record in zone-file syntax (absolute names; TXT split into 255-octet strings).
fn zone_line(r: &Record) -> String {
    match r.rtype {
        "TXT" => sendwell_dkim::zone_file_record(&r.name, &r.value).replacen(
            " IN TXT",
            " 3600 IN TXT",
            1,
        ),
        "MX" => {
            let (pref, host) = r.value.split_once(' ').unwrap_or(("10", &r.value));
            format!("{}. 3600 IN MX {pref} {host}.", r.name)
        }
        "PTR" => format!("{}. 3600 IN PTR {}.", r.name, r.value),
        t => format!("{}. 3600 IN {t} {}", r.name, r.value),
    }
}
