//! Judging an SPF record the way receivers will read it, before they do: is there
//! exactly one, does it parse, is it restrictive, does it stay within the DNS budget of
//! RFC 7208 §4.6.4 once every nested include is counted, and is it formatted so that
//! strict receivers accept it.
//!
//! Design decision: the lookup count is the *worst case* — the terms a receiver
//! evaluates for a host that matches nothing, which is what every forged message costs
//! — counted statically through nested includes and redirects, each with the path that
//! spends it. Targets written with macros depend on the sender and are counted but not
//! followed (and say so).

use std::fmt::{self, Display, Formatter};
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use sendwell_dns::{Lookup, LookupError, Txt};

use crate::parse::is_spf_record;
use crate::record::{DomainSpec, Mechanism, Qualifier, SpfRecord};
use crate::{MAX_DNS_LOOKUPS, MAX_NAMES_PER_LOOKUP, MAX_VOID_LOOKUPS};

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Receivers will reject or ignore the record, or it authorizes far too much.
    Error,
    /// Works, but some receivers or some cases go wrong.
    Warning,
    /// Worth knowing.
    Info,
}

impl Display for Severity {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// A stable kebab-case code (`lookup-limit`, `softfail-all`, …).
    pub code: &'static str,
    /// What is wrong, why, and what to do, with the RFC section.
    pub message: String,
    /// For `lookups`, `lookup-limit` and `void-lookups`: the path to each term counted,
    /// from the domain linted (`example.com › include:a.example › a.example › mx`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// One DNS-querying term, and the path of records that leads to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpentLookup {
    /// 1 for the first term counted.
    pub number: usize,
    /// The term, canonical form.
    pub term: String,
    /// The domain whose record holds it.
    pub domain: String,
    /// From the domain linted to the term: `example.com › include:a.example › a.example`.
    pub path: String,
}

/// What [`lint_domain`] or [`lint_record`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LintReport {
    /// The domain linted, if any.
    pub domain: Option<String>,
    /// The record text linted (lossy UTF-8), if one was found.
    pub record: Option<String>,
    /// The findings, most serious first.
    pub findings: Vec<Finding>,
    /// DNS-querying terms a receiver evaluates for a host that matches nothing.
    pub lookups: usize,
    /// Each of them with its path.
    pub spent: Vec<SpentLookup>,
    /// Terms whose target has no records (void lookups, RFC 7208 §4.6.4).
    pub void_lookups: Vec<SpentLookup>,
}

impl LintReport {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Stop following includes after this many DNS-querying terms: the record is far over
/// the limit already, and a loop or a huge tree must not make linting unbounded.
const MAX_WALKED_LOOKUPS: usize = 50;

/// Lint the SPF record that `domain` publishes.
pub async fn lint_domain<L: Lookup + ?Sized>(lookup: &L, domain: &str) -> LintReport {
    let mut lint = Linter::new(lookup, Some(domain));
    let txts = match lookup.lookup_txt(domain).await {
        Ok(t) => t,
        Err(LookupError::NxDomain) => {
            lint.finding(
                Severity::Error,
                "no-domain",
                format!(
                    "{domain} does not exist (NXDOMAIN); receivers give \"none\" (RFC 7208 §4.3)"
                ),
            );
            return lint.finish(None);
        }
        Err(LookupError::NoData) => Vec::new(),
        Err(e) => {
            lint.finding(Severity::Error, "dns-error", format!("the TXT lookup for {domain} failed ({e}); receivers give \"temperror\" (RFC 7208 §4.4)"));
            return lint.finish(None);
        }
    };
    if let Ok(rr) = lookup.lookup_spf_rr(domain).await
        && !rr.is_empty()
    {
        lint.finding(
            Severity::Warning,
            "spf-rr-type",
            format!("{domain} also publishes the obsolete SPF RR type (99); RFC 7208 §3.1 says records \"MUST be published as a DNS TXT (type 16) Resource Record (RR) only\" — delete the type-99 record"),
        );
    }
    let spf: Vec<&Txt> = txts.iter().filter(|t| is_spf_record(&t.joined())).collect();
    match spf.as_slice() {
        [] => {
            lint.finding(Severity::Error, "no-record", format!("{domain} publishes no TXT record starting with \"v=spf1\"; receivers give \"none\" (RFC 7208 §4.5)"));
            lint.finish(None)
        }
        [one] => {
            let size: usize = domain.len() + txts.iter().map(|t| t.joined().len()).sum::<usize>();
            if size > 450 {
                lint.finding(
                    Severity::Warning,
                    "record-size",
                    format!("the name and its TXT records take {size} octets; RFC 7208 §3.4 advises under 450 so that answers fit in a 512-octet UDP packet"),
                );
            }
            let text = one.joined();
            lint.record(&text, domain).await;
            lint.finish(Some(String::from_utf8_lossy(&text).into_owned()))
        }
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|t| format!("{:?}", t.to_string_lossy()))
                .collect();
            lint.finding(
                Severity::Error,
                "multiple-records",
                format!("{domain} publishes {} SPF records ({}); exactly one is allowed, so receivers give \"permerror\" (RFC 7208 §4.5) — merge them", many.len(), list.join(", ")),
            );
            lint.finish(None)
        }
    }
}

/// Lint a record's text, as it would be published at `domain` (which `a`, `mx` and `ptr`
/// without a target refer to; without it they are counted but not resolved).
pub async fn lint_record<L: Lookup + ?Sized>(
    lookup: &L,
    record: &str,
    domain: Option<&str>,
) -> LintReport {
    let mut lint = Linter::new(lookup, domain);
    if record.len() > 255 {
        let strings: Vec<String> = record
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        lint.finding(
            Severity::Warning,
            "long-string",
            format!(
                "the record is {} octets, but one TXT character-string holds at most 255 (RFC 1035 §3.3.14); publish it as several strings, which receivers join with nothing between them (RFC 7208 §3.3): {}",
                record.len(),
                strings.join(" ")
            ),
        );
    }
    if !is_spf_record(record.as_bytes()) {
        lint.finding(Severity::Error, "not-spf", "the record does not start with \"v=spf1\" followed by a space (RFC 7208 §4.5), so receivers do not see it as SPF".to_string());
        return lint.finish(Some(record.to_string()));
    }
    lint.record(record.as_bytes(), domain.unwrap_or("")).await;
    lint.finish(Some(record.to_string()))
}

type BoxFuture<'f> = Pin<Box<dyn Future<Output = ()> + Send + 'f>>;

struct Linter<'a, L: ?Sized> {
    lookup: &'a L,
    domain: Option<String>,
    findings: Vec<Finding>,
    spent: Vec<SpentLookup>,
    voids: Vec<SpentLookup>,
    stopped: bool,
}

impl<'a, L: Lookup + ?Sized> Linter<'a, L> {
    fn new(lookup: &'a L, domain: Option<&str>) -> Self {
        Linter {
            lookup,
            domain: domain.map(str::to_string),
            findings: Vec::new(),
            spent: Vec::new(),
            voids: Vec::new(),
            stopped: false,
        }
    }

    fn finding(&mut self, severity: Severity, code: &'static str, message: String) {
        self.findings.push(Finding {
            severity,
            code,
            message,
            paths: Vec::new(),
        });
    }

    fn with_paths(&mut self, paths: Vec<String>) {
        if let Some(f) = self.findings.last_mut() {
            f.paths = paths;
        }
    }

    fn finish(mut self, record: Option<String>) -> LintReport {
        let n = self.spent.len();
        if n > MAX_DNS_LOOKUPS {
            let over = &self.spent[MAX_DNS_LOOKUPS];
            let message = format!(
                "{n}{} DNS-querying terms for a host that matches nothing; the limit is {MAX_DNS_LOOKUPS}, so receivers give \"permerror\" at the {}th, {} in {} (path: {}) (RFC 7208 §4.6.4) — replace includes by ip4/ip6 ranges or drop unused ones",
                if self.stopped { "+" } else { "" },
                MAX_DNS_LOOKUPS + 1,
                over.term,
                over.domain,
                over.path
            );
            self.finding(Severity::Error, "lookup-limit", message);
            self.with_paths(self.spent.iter().map(|s| s.path.clone()).collect());
        } else if n > 0 {
            self.finding(
                Severity::Info,
                "lookups",
                format!("{n} of {MAX_DNS_LOOKUPS} DNS-querying terms used (RFC 7208 §4.6.4)"),
            );
            self.with_paths(self.spent.iter().map(|s| s.path.clone()).collect());
        }
        let v = self.voids.len();
        if v > 0 {
            let names: Vec<String> = self
                .voids
                .iter()
                .map(|s| format!("{} ({})", s.term, s.path))
                .collect();
            let (severity, tail) = if v > MAX_VOID_LOOKUPS {
                (
                    Severity::Error,
                    format!("more than {MAX_VOID_LOOKUPS}, so receivers give \"permerror\""),
                )
            } else {
                (
                    Severity::Warning,
                    format!("receivers allow at most {MAX_VOID_LOOKUPS}"),
                )
            };
            self.finding(
                severity,
                "void-lookups",
                format!("{v} terms name domains with no records (void lookups): {}; {tail} (RFC 7208 §4.6.4) — remove them", names.join(", ")),
            );
            self.with_paths(self.voids.iter().map(|s| s.path.clone()).collect());
        }
        self.findings.sort_by_key(|f| f.severity);
        LintReport {
            domain: self.domain,
            record,
            findings: self.findings,
            lookups: n,
            spent: self.spent,
            void_lookups: self.voids,
        }
    }

    /// The checks of the record linted itself, then the walk through its includes.
    async fn record(&mut self, text: &[u8], domain: &str) {
        let shown = String::from_utf8_lossy(text).into_owned();
        if shown.contains('"') {
            self.finding(Severity::Warning, "quotes", "the record contains a '\"' character: zone-file quotes were probably pasted into a web form, so the quotes became part of the text; receivers then see a different record or none".into());
        }
        if text.contains(&b'\t') {
            self.finding(Severity::Error, "tab", "the record contains a tab; terms are separated by spaces only (RFC 7208 §4.6.1), so receivers give \"permerror\"".into());
        }
        if text.contains(&b'\r') || text.contains(&b'\n') {
            self.finding(Severity::Error, "line-break", "the record contains a line break; receivers give \"permerror\" (RFC 7208 §4.6.1, §12)".into());
        }
        if shown.contains("  ") {
            self.finding(Severity::Warning, "double-space", "the record has two spaces in a row; RFC 7208 §12 allows it, but some receivers split terms on single spaces and reject the empty term — use one space".into());
        }
        if shown.ends_with(' ') {
            self.finding(Severity::Info, "trailing-space", "the record ends with a space; RFC 7208 §12 allows it, but some receivers do not — remove it".into());
        }
        let record = match SpfRecord::parse_bytes(text) {
            Ok(r) => r,
            Err(e) => {
                self.finding(
                    Severity::Error,
                    "syntax",
                    format!(
                        "{e}; receivers give \"permerror\" for the whole record (RFC 7208 §4.6)"
                    ),
                );
                return;
            }
        };
        self.restrictive(&record);
        let mut chain = vec![domain.to_string()];
        let path = if domain.is_empty() {
            "(record)".to_string()
        } else {
            domain.to_string()
        };
        self.walk(record, domain.to_string(), path, &mut chain)
            .await;
    }

    /// Is the record restrictive, and is every term reachable (RFC 7208 §5.1, §6.1)?
    fn restrictive(&mut self, record: &SpfRecord) {
        let directives: Vec<_> = record.directives().collect();
        let all = directives
            .iter()
            .position(|d| d.mechanism == Mechanism::All);
        match all.map(|i| directives[i].effective_qualifier()) {
            None if record.redirect().is_none() => self.finding(
                Severity::Warning,
                "no-all",
                "the record has neither \"all\" nor \"redirect\": a host that matches nothing gets \"neutral\" (RFC 7208 §4.7), which protects nothing — end it with \"-all\"".into(),
            ),
            None => {}
            Some(Qualifier::Pass) => self.finding(
                Severity::Error,
                "pass-all",
                "\"+all\" (or a bare \"all\") authorizes every host on the Internet to send as this domain (RFC 7208 §5.1) — end with \"-all\"".into(),
            ),
            Some(Qualifier::Neutral) => self.finding(
                Severity::Warning,
                "neutral-all",
                "\"?all\" gives \"neutral\" for every other host: the domain states nothing about them (RFC 7208 §2.6.2) — end with \"-all\"".into(),
            ),
            Some(Qualifier::SoftFail) => self.finding(
                Severity::Info,
                "softfail-all",
                "\"~all\" asks receivers to accept mail from other hosts but mark it (softfail, RFC 7208 §2.6.5); \"-all\" is the restrictive ending, while \"~all\" is common when a DMARC policy does the enforcing".into(),
            ),
            Some(Qualifier::Fail) => {}
        }
        if let Some(i) = all {
            let after: Vec<String> = directives[i + 1..]
                .iter()
                .map(ToString::to_string)
                .collect();
            if !after.is_empty() {
                self.finding(
                    Severity::Warning,
                    "after-all",
                    format!("terms after \"all\" are never evaluated (RFC 7208 §5.1: \"Mechanisms after all will never be tested\"): {} — move them before it or remove them", after.join(" ")),
                );
            }
            if let Some(r) = record.redirect() {
                self.finding(
                    Severity::Warning,
                    "redirect-with-all",
                    format!("redirect={r} is ignored because the record has \"all\" (RFC 7208 §6.1) — keep one of them"),
                );
            }
        }
        for d in &directives {
            if let Mechanism::Ptr { .. } = d.mechanism {
                self.finding(
                    Severity::Warning,
                    "ptr",
                    format!("\"{d}\" uses the ptr mechanism, which RFC 7208 §5.5 says \"SHOULD NOT be published\": it is slow, unreliable and costs receivers many queries — list the addresses with ip4/ip6 instead"),
                );
            }
        }
        for m in record.modifiers() {
            if let crate::record::Modifier::Unknown { name, .. } = m {
                self.finding(
                    Severity::Info,
                    "unknown-modifier",
                    format!(
                        "receivers ignore the unknown modifier \"{name}=\" (RFC 7208 §6) — a typo?"
                    ),
                );
            }
        }
    }

    fn spend(&mut self, term: String, domain: &str, path: &str) -> SpentLookup {
        let spent = SpentLookup {
            number: self.spent.len() + 1,
            term: term.clone(),
            domain: domain.to_string(),
            path: format!("{path} › {term}"),
        };
        self.spent.push(spent.clone());
        spent
    }

    /// The literal target of a term, or `None` (with a note) when it uses macros.
    fn literal_target(
        &mut self,
        spec: Option<&DomainSpec>,
        domain: &str,
        term: &str,
    ) -> Option<String> {
        match spec {
            None if domain.is_empty() => None,
            None => Some(domain.to_string()),
            Some(s) if s.macro_string().is_literal() => {
                Some(s.as_str().trim_end_matches('.').to_string())
            }
            Some(_) => {
                self.finding(
                    Severity::Info,
                    "macro-target",
                    format!("\"{term}\" names its target with macros, which depend on the sender: it is counted once here, but whatever it leads to is not"),
                );
                None
            }
        }
    }

    /// Count every DNS-querying term of `record` (at `domain`), following includes and
    /// the redirect.
    fn walk<'s>(
        &'s mut self,
        record: SpfRecord,
        domain: String,
        path: String,
        chain: &'s mut Vec<String>,
    ) -> BoxFuture<'s> {
        Box::pin(async move {
            let has_all = record.directives().any(|d| d.mechanism == Mechanism::All);
            // Receivers stop at "all", which always matches (RFC 7208 §5.1).
            let reached = record
                .directives()
                .take_while(|d| d.mechanism != Mechanism::All);
            for d in reached {
                if !d.mechanism.queries_dns() {
                    continue;
                }
                if self.spent.len() >= MAX_WALKED_LOOKUPS {
                    self.stopped = true;
                    return;
                }
                let term = d.to_string();
                let spent = self.spend(term.clone(), &domain, &path);
                match &d.mechanism {
                    Mechanism::Include { domain_spec } => {
                        if let Some(target) = self.literal_target(Some(domain_spec), &domain, &term)
                        {
                            self.follow(&target, &spent, chain, "include").await;
                        }
                    }
                    Mechanism::A { domain_spec, .. } => {
                        if let Some(target) =
                            self.literal_target(domain_spec.as_ref(), &domain, &term)
                        {
                            self.check_addresses(&target, &spent).await;
                        }
                    }
                    Mechanism::Exists { domain_spec } => {
                        if let Some(target) = self.literal_target(Some(domain_spec), &domain, &term)
                            && matches!(
                                self.lookup.lookup_a(&target).await,
                                Err(LookupError::NxDomain | LookupError::NoData)
                            )
                        {
                            self.voids.push(spent.clone());
                        }
                    }
                    Mechanism::Mx { domain_spec, .. } => {
                        if let Some(target) =
                            self.literal_target(domain_spec.as_ref(), &domain, &term)
                        {
                            match self.lookup.lookup_mx(&target).await {
                                Err(LookupError::NxDomain | LookupError::NoData) => {
                                    self.voids.push(spent.clone())
                                }
                                Ok(mxs) => {
                                    let hosts =
                                        mxs.iter().filter(|m| !m.exchange.is_empty()).count();
                                    if hosts > MAX_NAMES_PER_LOOKUP {
                                        self.finding(
                                            Severity::Error,
                                            "mx-limit",
                                            format!("\"{term}\" ({}): {target} has {hosts} mail exchangers, but one mx may look up at most {MAX_NAMES_PER_LOOKUP}; receivers give \"permerror\" for hosts that match none of the first {MAX_NAMES_PER_LOOKUP} (RFC 7208 §4.6.4)", spent.path),
                                        );
                                    }
                                }
                                Err(_) => {}
                            }
                        }
                    }
                    Mechanism::Ptr { .. }
                    | Mechanism::All
                    | Mechanism::Ip4 { .. }
                    | Mechanism::Ip6 { .. } => {}
                }
            }
            if let (false, Some(spec)) = (has_all, record.redirect()) {
                if self.spent.len() >= MAX_WALKED_LOOKUPS {
                    self.stopped = true;
                    return;
                }
                let term = format!("redirect={spec}");
                let spent = self.spend(term.clone(), &domain, &path);
                if let Some(target) = self.literal_target(Some(spec), &domain, &term) {
                    self.follow(&target, &spent, chain, "redirect").await;
                }
            }
        })
    }

    /// An `a` target with neither A nor AAAA records is void for every client.
    async fn check_addresses(&mut self, target: &str, spent: &SpentLookup) {
        let void = |r: &Result<usize, LookupError>| {
            matches!(r, Err(LookupError::NxDomain | LookupError::NoData))
        };
        let a = self.lookup.lookup_a(target).await.map(|v| v.len());
        let aaaa = self.lookup.lookup_aaaa(target).await.map(|v| v.len());
        if void(&a) && void(&aaaa) {
            self.voids.push(spent.clone());
        }
    }

    /// Fetch and walk the record an include or redirect leads to.
    async fn follow(
        &mut self,
        target: &str,
        spent: &SpentLookup,
        chain: &mut Vec<String>,
        kind: &str,
    ) {
        if chain.iter().any(|c| c.eq_ignore_ascii_case(target)) {
            self.finding(
                Severity::Error,
                "loop",
                format!("{} leads back to {target}, which is already being evaluated: receivers go round until the lookup limit gives \"permerror\" (RFC 7208 §4.6.4)", spent.path),
            );
            return;
        }
        let txts = match self.lookup.lookup_txt(target).await {
            Ok(t) => t,
            Err(LookupError::NxDomain | LookupError::NoData) => {
                self.voids.push(spent.clone());
                Vec::new()
            }
            Err(e) => {
                self.finding(
                    Severity::Warning,
                    "dns-error",
                    format!("{}: the TXT lookup for {target} failed ({e}); receivers would give \"temperror\" now, and its lookups are not counted here", spent.path),
                );
                return;
            }
        };
        let records: Vec<Vec<u8>> = txts
            .iter()
            .map(Txt::joined)
            .filter(|t| is_spf_record(t))
            .collect();
        let text = match records.as_slice() {
            [one] => one,
            [] => {
                let section = if kind == "include" { "§5.2" } else { "§6.1" };
                self.finding(
                    Severity::Error,
                    if kind == "include" { "include-none" } else { "redirect-none" },
                    format!("{}: {target} has no SPF record, so receivers give \"permerror\" (RFC 7208 {section})", spent.path),
                );
                return;
            }
            many => {
                self.finding(
                    Severity::Error,
                    "multiple-records",
                    format!("{}: {target} has {} SPF records, so receivers give \"permerror\" (RFC 7208 §4.5)", spent.path, many.len()),
                );
                return;
            }
        };
        let record = match SpfRecord::parse_bytes(text) {
            Ok(r) => r,
            Err(e) => {
                self.finding(
                    Severity::Error,
                    "syntax",
                    format!("{}: the record of {target} is invalid ({e}), so receivers give \"permerror\" (RFC 7208 §4.6)", spent.path),
                );
                return;
            }
        };
        chain.push(target.to_string());
        self.walk(
            record,
            target.to_string(),
            format!("{} › {target}", spent.path),
            chain,
        )
        .await;
        chain.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_dns::MockLookup;

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn codes(r: &LintReport) -> Vec<&'static str> {
        r.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_good_record_has_only_the_count() {
        let dns = MockLookup::from_zone(
            "example.com TXT \"v=spf1 mx include:_spf.example.net -all\"\n\
             example.com MX 10 mx.example.com\n\
             _spf.example.net TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
        )
        .unwrap();
        let r = block(lint_domain(&dns, "example.com"));
        assert_eq!(codes(&r), vec!["lookups"]);
        assert_eq!(r.lookups, 2);
        assert!(!r.has_errors());
        assert_eq!(r.spent[1].path, "example.com › include:_spf.example.net");
    }

    #[test]
    fn lookups_are_counted_through_nested_includes_with_their_path() {
        let mut zone = String::from("example.com TXT \"v=spf1 include:i1.example -all\"\n");
        for i in 1..=5 {
            zone.push_str(&format!(
                "i{i}.example TXT \"v=spf1 a:h{i}.example mx:h{i}.example include:i{}.example ~all\"\n\
                 h{i}.example A 192.0.2.{i}\nh{i}.example MX 10 h{i}.example\n",
                i + 1
            ));
        }
        zone.push_str("i6.example TXT \"v=spf1 -all\"\n");
        let dns = MockLookup::from_zone(&zone).unwrap();
        let r = block(lint_domain(&dns, "example.com"));
        // include:i1 (1) + per level a, mx, include (3 × 5) = 16.
        assert_eq!(r.lookups, 16);
        let f = r
            .findings
            .iter()
            .find(|f| f.code == "lookup-limit")
            .unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message.contains("the 11th, a:h4.example in i4.example"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("example.com › include:i1.example › i1.example › include:i2.example › i2.example › include:i3.example › i3.example › include:i4.example › i4.example › a:h4.example"),
            "{}",
            f.message
        );
    }

    #[test]
    fn every_issue_finding() {
        let dns = MockLookup::from_zone(
            "example.com TXT \"v=spf1  ptr a:nothing.example a:none2.example a:none3.example include:gone.example +all ?all redirect=x.example \"\n\
             example.com SPF \"v=spf1 -all\"",
        )
        .unwrap();
        let r = block(lint_domain(&dns, "example.com"));
        let c = codes(&r);
        for code in [
            "pass-all",
            "include-none",
            "void-lookups",
            "spf-rr-type",
            "double-space",
            "trailing-space",
            "after-all",
            "redirect-with-all",
            "ptr",
        ] {
            assert!(c.contains(&code), "{code} missing from {c:?}");
        }
        assert_eq!(r.findings[0].severity, Severity::Error);
        let void = r
            .findings
            .iter()
            .find(|f| f.code == "void-lookups")
            .unwrap();
        assert_eq!(void.severity, Severity::Error, "{}", void.message);
    }

    #[test]
    fn endings() {
        let dns = MockLookup::new();
        for (record, code, severity) in [
            ("v=spf1 ip4:192.0.2.1 ~all", "softfail-all", Severity::Info),
            (
                "v=spf1 ip4:192.0.2.1 ?all",
                "neutral-all",
                Severity::Warning,
            ),
            ("v=spf1 ip4:192.0.2.1 all", "pass-all", Severity::Error),
            ("v=spf1 ip4:192.0.2.1", "no-all", Severity::Warning),
            ("v=spf1 ip4:192.0.2.1\t-all", "tab", Severity::Error),
            (
                "v=spf1 ip4:192.0.2.1\r\n-all",
                "line-break",
                Severity::Error,
            ),
            ("\"v=spf1 -all\"", "not-spf", Severity::Error),
            ("v=spf1 ip4:192.0.2.1 -all\"", "quotes", Severity::Warning),
            ("v=spf1 a:foo -all", "syntax", Severity::Error),
            ("v=spf1 -all foo=bar", "unknown-modifier", Severity::Info),
        ] {
            let r = block(lint_record(&dns, record, None));
            let f = r.findings.iter().find(|f| f.code == code);
            assert_eq!(
                f.map(|f| f.severity),
                Some(severity),
                "{record:?}: {:?}",
                r.findings
            );
        }
        let long = format!(
            "v=spf1 {} -all",
            (1..=30)
                .map(|i| format!("ip4:192.0.2.{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let r = block(lint_record(&dns, &long, None));
        assert!(codes(&r).contains(&"long-string"));
        let r = block(lint_record(&dns, "v=spf1 -all", None));
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn loops_and_many_records_and_big_mx() {
        let mut zone = String::from(
            "loop.example TXT \"v=spf1 include:loop2.example -all\"\n\
             loop2.example TXT \"v=spf1 include:loop.example -all\"\n\
             two.example TXT \"v=spf1 -all\"\n two.example TXT \"v=spf1 +all\"\n\
             bigmx.example TXT \"v=spf1 mx -all\"\n",
        );
        for i in 0..11 {
            zone.push_str(&format!("bigmx.example MX {i} m{i}.bigmx.example\n"));
        }
        let dns = MockLookup::from_zone(&zone).unwrap();
        assert!(codes(&block(lint_domain(&dns, "loop.example"))).contains(&"loop"));
        assert!(codes(&block(lint_domain(&dns, "two.example"))).contains(&"multiple-records"));
        assert!(codes(&block(lint_domain(&dns, "bigmx.example"))).contains(&"mx-limit"));
        assert!(codes(&block(lint_domain(&dns, "nothing.example"))).contains(&"no-domain"));
    }
}
