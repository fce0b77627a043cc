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
use crate::parse::lint_joined;
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
            discarded: Vec::new(),
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
        // TXT records that look like a failed attempt at DMARC: say why they are ignored.
        for t in list
            .iter()
            .filter(|t| !t.is_dmarc && looks_like_dmarc(&t.text))
        {
            findings.extend(
                lint_joined(&t.text)
                    .findings
                    .into_iter()
                    .filter(|f| f.severity == Severity::Error),
            );
        }
    }

    // The names whose records either method discarded, here or on the way up, and a
    // broken record that only the list method applies: each gets its own findings, so
    // the owner repairs the record receivers threw away.
    let mut broken: Vec<&str> = Vec::new();
    for d in tree_walk
        .discarded
        .iter()
        .chain(&public_suffix_list.discarded)
    {
        if !broken.contains(&d.name.as_str()) {
            broken.push(&d.name);
        }
    }
    if let Some(name) = public_suffix_list.outcome.policy_domain()
        && matches!(public_suffix_list.outcome, PolicyOutcome::Invalid { .. })
        && tree_walk.outcome.policy_domain() != Some(name)
        && !broken.contains(&name)
    {
        broken.push(name);
    }
    for name in broken {
        let texts = if name == domain {
            published.clone().unwrap_or_default()
        } else {
            fetch_published(lookup, &policy_name(name))
                .await
                .unwrap_or_default()
        };
        findings.extend(discarded_findings(name, &texts));
    }

    let (applied, record) = match &tree_walk.outcome {
        PolicyOutcome::Found {
            policy_domain,
            record,
        } => {
            let text = applied_text(lookup, &domain, &published, policy_domain)
                .await
                .unwrap_or_else(|| record.to_string());
            if *policy_domain != domain {
                findings.push(inherited(&domain, policy_domain));
            }
            (Some((policy_domain.clone(), text)), Some(record.clone()))
        }
        PolicyOutcome::Invalid {
            policy_domain,
            error,
        } => {
            // RFC 7489 §11.2: the record that applies is syntactically incorrect, so the
            // DMARC result is permerror; the lint below names the mistake and its fix.
            let text = applied_text(lookup, &domain, &published, policy_domain).await;
            if *policy_domain != domain {
                findings.push(inherited(&domain, policy_domain));
            }
            findings.push(Finding::new(
                Severity::Error,
                "record_invalid",
                "RFC 7489 §11.2, RFC 9989 §4.7",
                format!(
                    "the record at {} is invalid ({error}): receivers cannot use it, and DMARC gives permerror for {domain}",
                    policy_name(policy_domain)
                ),
            ));
            (text.map(|t| (policy_domain.clone(), t)), None)
        }
        PolicyOutcome::NoPolicy { reason } => {
            let fix = if tree_walk.discarded.is_empty() && public_suffix_list.discarded.is_empty() {
                format!(
                    "publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}\" at {} and tighten p once reports look right",
                    policy_name(&domain)
                )
            } else {
                // The records are there but broken: repair them (findings below).
                format!(
                    "repair the record(s) receivers discarded (see the findings about them), or publish one record of its own at {}",
                    policy_name(&domain)
                )
            };
            findings.push(
                Finding::new(
                    Severity::Error,
                    "no_record",
                    "RFC 9989 §4.10.1",
                    format!(
                        "{reason}: receivers apply no DMARC, so anyone can send mail as {domain}"
                    ),
                )
                .fix(fix),
            );
            (None, None)
        }
        PolicyOutcome::TempError { .. } => (None, None),
    };

    let mut summary = None;
    let mut own_policy = None;
    let mut destinations = Vec::new();
    if let Some((policy_domain, text)) = &applied {
        // The text is the TXT record's strings joined: the one-string limit is met.
        let lint = lint_joined(text).findings;
        if *policy_domain == domain {
            findings.extend(lint);
        } else {
            findings.extend(lint.into_iter().map(|f| at_name(policy_domain, f)));
        }
    }
    if let (Some((policy_domain, _)), Some(record)) = (&applied, &record) {
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
    if let (Some(a), Some(b)) = (
        tree_walk.outcome.policy_domain(),
        public_suffix_list.outcome.policy_domain(),
    ) && a != b
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

/// The `inherited_policy` finding: `domain` uses the record at `policy_domain`.
fn inherited(domain: &str, policy_domain: &str) -> Finding {
    Finding::new(
        Severity::Info,
        "inherited_policy",
        "RFC 9989 §4.10.1",
        format!(
            "{domain} has no DMARC record of its own; receivers use the one at {}",
            policy_name(policy_domain)
        ),
    )
    .fix(format!(
        "publish a record at {} to set a policy for {domain} alone",
        policy_name(domain)
    ))
}

/// The published text of the record at `policy_domain` (re-using `published` for the
/// domain checked).
async fn applied_text<L: Lookup>(
    lookup: &L,
    domain: &str,
    published: &Result<Vec<PublishedTxt>, String>,
    policy_domain: &str,
) -> Option<String> {
    if policy_domain == domain {
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
    }
}

/// A finding about the record at another name than the one checked: say which.
fn at_name(name: &str, mut f: Finding) -> Finding {
    f.message = format!("{}: {}", policy_name(name), f.message);
    f
}

/// Why the records at `_dmarc.<name>` (its TXT records `texts`) were discarded, with the
/// fix: several DMARC records, or one that is invalid.
fn discarded_findings(name: &str, texts: &[PublishedTxt]) -> Vec<Finding> {
    let dmarc: Vec<&PublishedTxt> = texts.iter().filter(|t| t.is_dmarc).collect();
    match dmarc.as_slice() {
        // RFC 9989 §4.10 step 2: "If multiple DMARC records are returned, they are all
        // discarded" (RFC 7489 §6.6.3 step 5: discovery ends).
        [_, _, ..] => vec![
            Finding::new(
                Severity::Error,
                "several_records",
                "RFC 9989 §4.10 step 2, RFC 7489 §6.6.3",
                format!(
                    "{} holds {} DMARC records; receivers discard them all",
                    policy_name(name),
                    dmarc.len()
                ),
            )
            .fix(format!(
                "keep exactly one TXT record starting with v=DMARC1 at {}",
                policy_name(name)
            )),
        ],
        // One record that does not parse (a repeated tag): its lint names the mistake.
        [one] => lint_joined(&one.text)
            .findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| at_name(name, f))
            .collect(),
        // The answer changed since discovery asked: nothing to add.
        [] => Vec::new(),
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

    fn finding<'c>(c: &'c DomainCheck, code: &str) -> &'c Finding {
        c.findings
            .iter()
            .find(|f| f.code == code)
            .unwrap_or_else(|| panic!("no {code} in {:?}", c.findings))
    }

    #[test]
    fn several_records_at_the_fallback_are_named() {
        // RFC 9989 §4.10 step 2: the two records at example.com are discarded, so nothing
        // applies to news.example.com; the check says where, and how to fix it there.
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.example.com TXT \"v=DMARC1; p=none\"",
            "news.example.com",
        );
        let several = finding(&c, "several_records");
        assert!(
            several
                .message
                .contains("_dmarc.example.com holds 2 DMARC records"),
            "{several}"
        );
        assert!(
            several
                .fix
                .as_deref()
                .unwrap()
                .contains("_dmarc.example.com")
        );
        let none = finding(&c, "no_record");
        assert!(
            none.message
                .contains("_dmarc.example.com has 2 DMARC records (all discarded)"),
            "{none}"
        );
        assert!(none.fix.as_deref().unwrap().starts_with("repair"), "{none}");
        for d in [&c.tree_walk, &c.public_suffix_list] {
            let PolicyOutcome::NoPolicy { reason } = &d.outcome else {
                panic!("{:?}", d.outcome)
            };
            assert!(
                reason.contains("_dmarc.example.com has 2 DMARC records"),
                "{reason}"
            );
            assert_eq!(d.discarded.len(), 1, "{:?}", d.discarded);
            assert_eq!(d.discarded[0].name, "example.com");
        }
        // The same with one invalid record (a repeated tag) at the fallback.
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject; p=reject\"",
            "news.example.com",
        );
        let dup = finding(&c, "duplicate_tag");
        assert!(dup.message.starts_with("_dmarc.example.com: "), "{dup}");
        assert_eq!(dup.fix.as_deref(), Some("keep one p= tag"));
        assert!(
            finding(&c, "no_record")
                .message
                .contains("the record at _dmarc.example.com is invalid"),
            "{:?}",
            c.findings
        );
        // Several records at the domain itself: one several_records finding, not two.
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.example.com TXT \"v=DMARC1; p=none\"",
            "example.com",
        );
        assert_eq!(
            codes(&c)
                .iter()
                .filter(|c| **c == "several_records")
                .count(),
            1
        );
    }

    #[test]
    fn several_records_only_the_list_method_stops_at() {
        // RFC 7489 §6.6.3 step 5 stops at the author's two records; the RFC 9989 walk
        // goes on to example.com. The records at mail.example.com are still a mistake.
        let c = check(
            "_dmarc.mail.example.com TXT \"v=DMARC1; p=reject\"\n\
             _dmarc.mail.example.com TXT \"v=DMARC1; p=none\"\n\
             _dmarc.example.com TXT \"v=DMARC1; p=quarantine\"",
            "mail.example.com",
        );
        assert_eq!(c.applied.as_ref().unwrap().0, "example.com");
        assert!(
            finding(&c, "several_records")
                .message
                .starts_with("_dmarc.mail.example.com holds 2"),
        );
        assert!(codes(&c).contains(&"rfc7489_finds_nothing"));
    }

    #[test]
    fn an_invalid_record_applies_as_permerror() {
        // RFC 7489 §11.2: the record is syntactically incorrect; it is the one that
        // applies (it is at the domain), so the check shows it with its mistake.
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject; p=reject\"",
            "example.com",
        );
        assert!(matches!(c.tree_walk.outcome, PolicyOutcome::Invalid { .. }));
        assert!(matches!(
            c.public_suffix_list.outcome,
            PolicyOutcome::Invalid { .. }
        ));
        assert_eq!(c.applied.as_ref().unwrap().0, "example.com");
        assert_eq!(c.record, None);
        assert!(c.has_errors());
        let codes = codes(&c);
        assert!(codes.contains(&"record_invalid"), "{codes:?}");
        assert!(codes.contains(&"duplicate_tag"), "{codes:?}");
        assert!(!codes.contains(&"no_record"), "{codes:?}");
    }

    #[test]
    fn a_record_in_two_strings_is_not_too_long() {
        // RFC 1035 §3.3 limits each string to 255 octets; receivers join the strings
        // (RFC 9989 §4.5), so a 264-octet record in two strings is correct.
        let first = format!(
            "v=DMARC1; p=reject; rua=mailto:{}@example.com,",
            "a".repeat(196)
        );
        let second = "mailto:dmarc@example.com";
        let c = check(
            &format!("_dmarc.example.com TXT \"{first}\" \"{second}\""),
            "example.com",
        );
        let published = &c.published.as_ref().unwrap()[0];
        assert_eq!(published.strings, 2);
        assert_eq!(published.text.len(), 264);
        assert!(!codes(&c).contains(&"string_too_long"), "{:?}", codes(&c));
        assert!(!c.has_errors(), "{:?}", c.findings);
    }

    #[test]
    fn a_malformed_mailto_is_not_a_destination() {
        let c = check(
            "_dmarc.example.com TXT \"v=DMARC1; p=none; rua=mailto:b@@example.com\"",
            "example.com",
        );
        assert!(c.destinations.is_empty(), "{:?}", c.destinations);
        assert!(codes(&c).contains(&"uri_invalid"));
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
