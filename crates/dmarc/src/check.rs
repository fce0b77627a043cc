//! Checking a domain's DMARC setup the way receivers will see it: the TXT records at
//! `_dmarc.<domain>`, the record that applies (the domain's own, or by fallback its
//! Organizational Domain's or PSD's), what it asks for the domain and its subdomains,
//! both discovery methods side by side, the external report destinations, and every
//! [`Finding`] with its fix.
//!
//! This is the library behind `sendwell dmarc check`; the command only prints it.

use sendwell_dns::{Lookup, LookupError};

use crate::discovery::{Discovery, PolicyDiscovery, PolicyOutcome, discover_policy};
use crate::eval::{AppliedPolicy, AuthenticatedIdentifiers, evaluate_dmarc};
use crate::external::{DestinationCheck, DestinationOutcome, check_destinations};
use crate::finding::{Finding, Severity};
use crate::message::normalize_domain;
use crate::parse::lint;
use crate::query::{is_dmarc_version, policy_name};
use crate::record::{DmarcRecord, Policy, TagName};

/// One TXT record published at `_dmarc.<domain>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedTxt {
    /// The strings joined (RFC 9989 §4.5), invalid UTF-8 replaced.
    pub text: String,
    /// How many character-strings it was published as.
    pub strings: usize,
    /// It passes the version test (starts with `v=DMARC1`).
    pub is_dmarc: bool,
}

/// The policy a record sets for one kind of name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicySummary {
    /// For the domain itself (`p`).
    pub domain: Policy,
    /// For existing subdomains (`sp`, else `p`).
    pub subdomains: Policy,
    /// For non-existent subdomains (`np`, else `sp`, else `p`).
    pub nonexistent_subdomains: Policy,
    /// `t=y` (or `pct=0`): receivers apply one level lower.
    pub testing: bool,
}

/// Everything `dmarc check` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainCheck {
    /// The domain checked (normalized).
    pub domain: String,
    /// The TXT records at `_dmarc.<domain>`, or why they could not be fetched.
    pub published: Result<Vec<PublishedTxt>, String>,
    /// Where the record that applies was found, and its published text.
    pub applied: Option<(String, String)>,
    /// The record that applies, parsed.
    pub record: Option<DmarcRecord>,
    /// The policy for the domain and its subdomains, when the record is usable.
    pub summary: Option<PolicySummary>,
    /// The policy for the domain itself as a receiver picks it (`p`, or `sp`/`np` for a
    /// subdomain that inherits, after the existence test), when the record is usable.
    pub own_policy: Option<AppliedPolicy>,
    /// Discovery by the tree walk (RFC 9989), which decides `applied`.
    pub tree_walk: PolicyDiscovery,
    /// Discovery by the Public Suffix List (RFC 7489), for comparison.
    pub public_suffix_list: PolicyDiscovery,
    /// The rua/ruf destinations and their authorization.
    pub destinations: Vec<DestinationCheck>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
}

impl DomainCheck {
    /// Some finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// A DNS query failed temporarily, so the picture may be incomplete.
    pub fn temporary_failure(&self) -> bool {
        self.published.is_err() || matches!(self.tree_walk.outcome, PolicyOutcome::TempError { .. })
    }
}

/// Check `domain`'s DMARC setup.
pub async fn check_domain<L: Lookup>(lookup: &L, domain: &str) -> DomainCheck {
    let domain = normalize_domain(domain).unwrap_or_else(|| domain.to_ascii_lowercase());
    let mut findings = Vec::new();
    let published = fetch_published(lookup, &policy_name(&domain)).await;
    if let Err(e) = &published {
        // The first query failed temporarily: stop here rather than wait for every
        // other query to fail the same way.
        let not_run = |method| PolicyDiscovery {
            author_domain: domain.clone(),
            method,
            outcome: PolicyOutcome::TempError { reason: e.clone() },
            organizational_domain: Err(e.clone()),
            walk: None,
            queries: Vec::new(),
        };
        return DomainCheck {
            tree_walk: not_run(Discovery::TreeWalk),
            public_suffix_list: not_run(Discovery::PublicSuffixList),
            domain,
            published,
            applied: None,
            record: None,
            summary: None,
            own_policy: None,
            destinations: Vec::new(),
            findings,
        };
    }
    let tree_walk = discover_policy(lookup, &domain, Discovery::TreeWalk).await;
    let public_suffix_list = discover_policy(lookup, &domain, Discovery::PublicSuffixList).await;

    if let Ok(list) = &published {
        let dmarc: Vec<&PublishedTxt> = list.iter().filter(|t| t.is_dmarc).collect();
        if dmarc.len() > 1 {
            findings.push(
                Finding::new(
                    Severity::Error,
                    "several_records",
                    "RFC 9989 §4.10 step 2",
                    format!(
                        "{} holds {} DMARC records; receivers discard them all",
                        policy_name(&domain),
                        dmarc.len()
                    ),
                )
                .fix("keep exactly one TXT record starting with v=DMARC1"),
            );
        }
        // TXT records that look like a failed attempt at DMARC: say why they are ignored.
        for t in list
            .iter()
            .filter(|t| !t.is_dmarc && looks_like_dmarc(&t.text))
        {
            findings.extend(
                lint(&t.text)
                    .findings
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error),
            );
        }
    }

    let (applied, record) = match &tree_walk.outcome {
        PolicyOutcome::Found {
            policy_domain,
            record,
        } => {
            let text = if *policy_domain == domain {
                published
                    .as_ref()
                    .ok()
                    .and_then(|l| l.iter().find(|t| t.is_dmarc))
                    .map(|t| t.text.clone())
            } else {
                fetch_published(lookup, &policy_name(policy_domain))
                    .await
                    .ok()
                    .and_then(|l| l.into_iter().find(|t| t.is_dmarc))
                    .map(|t| t.text)
            };
            let text = text.unwrap_or_else(|| record.to_string());
            if *policy_domain != domain {
                findings.push(
                    Finding::new(
                        Severity::Info,
                        "inherited_policy",
                        "RFC 9989 §4.10.1",
                        format!(
                            "{} has no DMARC record of its own; receivers use the one at {}",
                            domain,
                            policy_name(policy_domain)
                        ),
                    )
                    .fix(format!(
                        "publish a record at {} to set a policy for {domain} alone",
                        policy_name(&domain)
                    )),
                );
            }
            (Some((policy_domain.clone(), text)), Some(record.clone()))
        }
        PolicyOutcome::NoPolicy { reason } => {
            findings.push(
                Finding::new(
                    Severity::Error,
                    "no_record",
                    "RFC 9989 §4.10.1",
                    format!("{reason}: receivers apply no DMARC, so anyone can send mail as {domain}"),
                )
                .fix(format!(
                    "publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\" at {} and tighten p once reports look right",
                    policy_name(&domain)
                )),
            );
            (None, None)
        }
        PolicyOutcome::TempError { .. } => (None, None),
    };

    let mut summary = None;
    let mut own_policy = None;
    let mut destinations = Vec::new();
    if let (Some((policy_domain, text)), Some(record)) = (&applied, &record) {
        findings.extend(lint(text).findings);
        summary = summarize(record);
        // The verdict for a message with no passing identifier gives the policy exactly
        // as a receiver picks it (p, sp or np after the existence test).
        own_policy = evaluate_dmarc(
            lookup,
            &domain,
            &AuthenticatedIdentifiers::default(),
            Discovery::TreeWalk,
        )
        .await
        .policy;
        if record.tag(TagName::Sp).is_some()
            && let Ok(org) = &tree_walk.organizational_domain
            && org != policy_domain
            && record.psd() != crate::record::Psd::Yes
        {
            findings.push(Finding::new(
                Severity::Info,
                "sp_ignored",
                "RFC 9989 §4.7 sp",
                format!("sp= has no effect here: {policy_domain} is not an Organizational Domain ({org} is), so no subdomain inherits this record"),
            ));
        }
        destinations = check_destinations(lookup, policy_domain, record).await;
        for d in &destinations {
            match &d.outcome {
                DestinationOutcome::NotAuthorized => findings.push(
                    Finding::new(
                        Severity::Error,
                        "destination_not_authorized",
                        "RFC 7489 §7.1",
                        format!(
                            "{} is outside {policy_domain}'s organization and has not agreed to receive its reports, so receivers send none there",
                            d.uri
                        ),
                    )
                    .fix(format!(
                        "the owner of {} publishes TXT \"v=DMARC1;\" at {}",
                        d.host.as_deref().unwrap_or("that domain"),
                        d.query.as_deref().unwrap_or("")
                    )),
                ),
                DestinationOutcome::TempError(e) => findings.push(Finding::new(
                    Severity::Warning,
                    "destination_unchecked",
                    "RFC 7489 §7.1",
                    format!("the authorization of {} could not be checked: {e}", d.uri),
                )),
                _ => {}
            }
        }
    }

    // The two methods disagree: say so, since receivers differ.
    if let (
        PolicyOutcome::Found {
            policy_domain: a, ..
        },
        PolicyOutcome::Found {
            policy_domain: b, ..
        },
    ) = (&tree_walk.outcome, &public_suffix_list.outcome)
        && a != b
    {
        findings.push(Finding::new(
            Severity::Warning,
            "discovery_differs",
            "RFC 9989 §4.10, RFC 7489 §6.6.3",
            format!("RFC 9989 receivers use the record at _dmarc.{a}, RFC 7489 receivers the one at _dmarc.{b}"),
        ));
    }
    if matches!(tree_walk.outcome, PolicyOutcome::Found { .. })
        && matches!(public_suffix_list.outcome, PolicyOutcome::NoPolicy { .. })
    {
        findings.push(
            Finding::new(
                Severity::Warning,
                "rfc7489_finds_nothing",
                "RFC 7489 §6.6.3",
                format!("receivers still on RFC 7489 (Public Suffix List) find no record for {domain}: they look only at the domain and its registered domain"),
            )
            .fix(format!("publish a record at {}", policy_name(&domain))),
        );
    }
    if let (Ok(a), Ok(b)) = (
        &tree_walk.organizational_domain,
        &public_suffix_list.organizational_domain,
    ) && a != b
        && matches!(tree_walk.outcome, PolicyOutcome::Found { .. })
    {
        findings.push(Finding::new(
            Severity::Info,
            "organizational_domain_differs",
            "RFC 9989 §4.10.2, RFC 7489 §3.2",
            format!("the Organizational Domain is {a} by the DNS tree walk and {b} by the Public Suffix List; relaxed alignment differs between receivers"),
        ));
    }
    findings.sort_by_key(|f| f.severity);
    findings.dedup();
    DomainCheck {
        domain,
        published,
        applied,
        record,
        summary,
        own_policy,
        tree_walk,
        public_suffix_list,
        destinations,
        findings,
    }
}

fn looks_like_dmarc(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    lower.contains("dmarc") || lower.starts_with("p=") || lower.starts_with("v=")
}

async fn fetch_published<L: Lookup>(lookup: &L, name: &str) -> Result<Vec<PublishedTxt>, String> {
    match lookup.lookup_txt(name).await {
        Ok(records) => Ok(records
            .iter()
            .map(|t| {
                let text = t.to_string_lossy();
                PublishedTxt {
                    is_dmarc: is_dmarc_version(&text),
                    strings: t.strings.len(),
                    text,
                }
            })
            .collect()),
        Err(LookupError::NxDomain | LookupError::NoData | LookupError::InvalidName(_)) => {
            Ok(Vec::new())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The policy a usable record sets (RFC 9989 §4.7, §4.10.1).
pub fn summarize(record: &DmarcRecord) -> Option<PolicySummary> {
    let testing = record.testing() || (record.tag(TagName::T).is_none() && record.pct() == Some(0));
    if !record.policy_is_valid() {
        return record.has_valid_rua().then_some(PolicySummary {
            domain: Policy::None,
            subdomains: Policy::None,
            nonexistent_subdomains: Policy::None,
            testing,
        });
    }
    let p = record.p()?;
    let sp = record.sp().unwrap_or(p);
    Some(PolicySummary {
        domain: p,
        subdomains: sp,
        nonexistent_subdomains: record.np().unwrap_or(sp),
        testing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_dns::MockLookup;

    fn check(zone: &str, domain: &str) -> DomainCheck {
        let dns = MockLookup::from_zone(zone).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(check_domain(&dns, domain))
    }

    fn codes(c: &DomainCheck) -> Vec<&'static str> {
        c.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_good_record() {
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject; rua=mailto:d@example.com\"",
            "example.com",
        );
        assert!(!c.has_errors(), "{:?}", c.findings);
        assert_eq!(c.summary.unwrap().subdomains, Policy::Reject);
        assert_eq!(c.applied.unwrap().0, "example.com");
    }

    #[test]
    fn common_mistakes() {
        let c = check("", "example.com");
        assert!(codes(&c).contains(&"no_record"));
        let c = check(
            "_dmarc.example.com TXT \"v=dmarc1; p=reject\"",
            "example.com",
        );
        assert!(codes(&c).contains(&"version_invalid"), "{:?}", codes(&c));
        assert!(codes(&c).contains(&"no_record"));
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.example.com TXT \"v=DMARC1; p=none\"",
            "example.com",
        );
        assert!(codes(&c).contains(&"several_records"));
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=none; rua=mailto:x@vendor.example\"",
            "example.com",
        );
        assert!(codes(&c).contains(&"destination_not_authorized"));
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=quarantine; sp=none\"",
            "mail.example.com",
        );
        assert!(codes(&c).contains(&"inherited_policy"));
        assert_eq!(c.summary.unwrap().subdomains, Policy::None);
        let c = check(
            "_dmarc.mail.example.com TXT \"v=DMARC1; p=reject\"",
            "mail.example.com",
        );
        assert!(
            codes(&c).contains(&"organizational_domain_differs"),
            "{:?}",
            codes(&c)
        );
        let c = check(
            "_dmarc.b.example.com TXT \"v=DMARC1; p=reject\"",
            "a.b.example.com",
        );
        assert!(
            codes(&c).contains(&"rfc7489_finds_nothing"),
            "{:?}",
            codes(&c)
        );
    }
}
