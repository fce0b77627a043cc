//! `sendwell dns NAME --type T`: one question, asked the way the engines ask it.
//!
//! Useful to see why a check came out as it did: it shows whether a name is missing
//! (NXDOMAIN), has no records of the type (no data), or the server failed.

use std::process::ExitCode;

use anyhow::Context;
use sendwell_dns::{Lookup, LookupError};
use serde_json::json;

use crate::cli::{DnsArgs, DnsType};
use crate::output::{Style, outln, print_json};

/// Exit code when the lookup found nothing or failed.
const NO_ANSWER: u8 = 10;

pub async fn run(args: DnsArgs) -> anyhow::Result<ExitCode> {
    let lookup = args.resolver.lookup()?;
    let answers: Result<Vec<String>, LookupError> = match args.rtype {
        DnsType::A => lookup
            .lookup_a(&args.name)
            .await
            .map(|v| v.iter().map(ToString::to_string).collect()),
        DnsType::Aaaa => lookup
            .lookup_aaaa(&args.name)
            .await
            .map(|v| v.iter().map(ToString::to_string).collect()),
        DnsType::Mx => lookup.lookup_mx(&args.name).await.map(|v| {
            v.iter()
                .map(|mx| format!("{} {}", mx.preference, mx.exchange))
                .collect()
        }),
        DnsType::Txt | DnsType::Spf => {
            let txt = if args.rtype == DnsType::Txt {
                lookup.lookup_txt(&args.name).await
            } else {
                lookup.lookup_spf_rr(&args.name).await
            };
            txt.map(|v| {
                v.iter()
                    .map(|t| {
                        t.strings
                            .iter()
                            .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect()
            })
        }
        DnsType::Ptr => {
            let ip = args
                .name
                .parse()
                .with_context(|| format!("{:?} is not an IP address (PTR needs one)", args.name))?;
            lookup.lookup_ptr(ip).await
        }
    };
    let rtype = format!("{:?}", args.rtype).to_uppercase();
    let style = Style::for_stdout();
    match answers {
        Ok(answers) => {
            if args.json {
                print_json(&json!({"name": args.name, "type": rtype, "answers": answers}))?;
            } else {
                for a in &answers {
                    outln!("{} {rtype} {a}", args.name);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let kind = match &e {
                LookupError::Timeout => "timeout",
                LookupError::NxDomain => "nxdomain",
                LookupError::NoData => "nodata",
                LookupError::ServerFailure(_) => "servfail",
                LookupError::InvalidName(_) => "invalid_name",
                _ => "other",
            };
            if args.json {
                print_json(
                    &json!({"name": args.name, "type": rtype, "error": e.to_string(), "error_kind": kind}),
                )?;
            } else {
                outln!("{} {rtype}: {}", args.name, style.warn(&e.to_string()));
            }
            Ok(ExitCode::from(NO_ANSWER))
        }
    }
}
