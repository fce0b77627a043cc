//! Judging an SPF record the way receivers will read it, before they do: is there
//! exactly one, does it parse, is it restrictive, does it stay within the DNS budget of
//! RFC 7208 §4.6.4 once every nested include is counted, and is it formatted so that
//! strict receivers accept it.
//!
//! Design decision: the lookup count is the *worst case* — the terms a receiver
//! evaluates for a host that matches nothing, which is what every forged message costs
//! — counted statically through nested includes and redirects, each with the path that
//! spends it (`walk`). Targets written with macros depend on the sender and are counted
//! but not followed (and say so). A DNS query that fails (timeout, server failure)
//! leaves something unknown — above all the lookups of an include whose record could
//! not be fetched — and the report says so in [`LintReport::unchecked`] rather than
//! pretend the count is complete. Whether the record is restrictive is judged on the
//! ending check_host() would reach, through any `redirect=` (`restrictive`).

use std::fmt::{self, Display, Formatter};
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

use sendwell_dns::{Lookup, LookupError};

use crate::MAX_DNS_LOOKUPS;
use crate::MAX_VOID_LOOKUPS;
use crate::parse::is_spf_record;
use crate::record::SpfRecord;

mod restrictive;
#[cfg(test)]
mod tests;
mod walk;

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

/// What a DNS query that failed leaves unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// The record of an `include` or `redirect` target could not be fetched, so its
    /// DNS-querying terms are not counted: [`LintReport::lookups`] is only a lower bound
    /// and the budget of RFC 7208 §4.6.4 cannot be checked.
    LookupCount,
    /// Whether an `a`, `mx` or `exists` term is a void lookup (RFC 7208 §4.6.4), and for
    /// `mx` how many mail exchangers it names.
    VoidLookup,
}

/// A DNS query the lint needed and did not get an answer to (a timeout or a server
/// failure: receivers would give "temperror" now, RFC 7208 §4.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// The name asked about.
    pub name: String,
    /// The query: `TXT` (the record of an include or redirect target), `A/AAAA` or `MX`.
    pub query: &'static str,
    /// Why it failed.
    pub error: String,
    /// From the domain linted to the term that needed it.
    pub path: String,
    /// What is unknown because of it.
    pub unknown: Unknown,
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
    /// DNS-querying terms a receiver evaluates for a host that matches nothing. A lower
    /// bound when [`LintReport::count_is_complete`] is false.
    pub lookups: usize,
    /// Each of them with its path.
    pub spent: Vec<SpentLookup>,
    /// Terms whose target has no records (void lookups, RFC 7208 §4.6.4).
    pub void_lookups: Vec<SpentLookup>,
    /// DNS queries that failed, and what each leaves unknown. Each also has a
    /// `dns-error` finding.
    pub unchecked: Vec<Unchecked>,
}

impl LintReport {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Whether [`LintReport::lookups`] counts every DNS-querying term: false when the
    /// record of an include or redirect target could not be fetched.
    pub fn count_is_complete(&self) -> bool {
        !self
            .unchecked
            .iter()
            .any(|u| u.unknown == Unknown::LookupCount)
    }
}

/// Stop following includes after this many DNS-querying terms: the record is far over
/// the limit already, and a loop or a huge tree must not make linting unbounded.
const MAX_WALKED_LOOKUPS: usize = 50;

/// The SPF record inside a TXT text that has quote characters around it —
/// `"v=spf1 ip4:192.0.2.0/24 -all"` with the quotes part of the text, as happens when a
/// zone-file line is pasted into a DNS provider's web form — or `None` when the text is
/// not an SPF record once they are removed.
fn unquoted(text: &[u8]) -> Option<&[u8]> {
    let inner = text.trim_ascii().strip_prefix(b"\"")?;
    let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
    is_spf_record(inner).then_some(inner)
}

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
    let texts: Vec<Vec<u8>> = txts.iter().map(|t| t.joined()).collect();
    // RFC 7208 §4.5: the records that begin with "v=spf1" are the SPF records.
    let spf: Vec<&Vec<u8>> = texts.iter().filter(|t| is_spf_record(t)).collect();
    match spf.as_slice() {
        [] => {
            let quoted: Vec<&Vec<u8>> = texts.iter().filter(|t| unquoted(t).is_some()).collect();
            if quoted.is_empty() {
                lint.finding(Severity::Error, "no-record", format!("{domain} publishes no TXT record starting with \"v=spf1\"; receivers give \"none\" (RFC 7208 §4.5)"));
                return lint.finish(None);
            }
            for text in &quoted {
                let inner = unquoted(text).unwrap_or_default();
                lint.finding(
                    Severity::Error,
                    "quotes",
                    format!(
                        "the TXT record of {domain} has quote characters around it ({}): they are part of its text, so it does not start with \"v=spf1\" and receivers see no SPF record at all — they give \"none\" (RFC 7208 §4.5); publish it without the quote characters: {}",
                        String::from_utf8_lossy(text),
                        String::from_utf8_lossy(inner)
                    ),
                );
            }
            // One record meant: judge what it would be once the quotes are gone.
            if let [one] = quoted.as_slice() {
                lint.record(unquoted(one).unwrap_or_default(), domain).await;
                return lint.finish(Some(String::from_utf8_lossy(one).into_owned()));
            }
            lint.finish(None)
        }
        [one] => {
            let size: usize = domain.len() + texts.iter().map(Vec::len).sum::<usize>();
            if size > 450 {
                lint.finding(
                    Severity::Warning,
                    "record-size",
                    format!("the name and its TXT records take {size} octets; RFC 7208 §3.4 advises under 450 so that answers fit in a 512-octet UDP packet"),
                );
            }
            lint.record(one, domain).await;
            lint.finish(Some(String::from_utf8_lossy(one).into_owned()))
        }
        many => {
            let list: Vec<String> = many
                .iter()
                .map(|t| format!("{:?}", String::from_utf8_lossy(t)))
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
        if let Some(inner) = unquoted(record.as_bytes()) {
            lint.finding(
                Severity::Error,
                "quotes",
                format!(
                    "the record has quote characters around it: published like this (in a web form or through an API), they become part of the TXT text, which then does not start with \"v=spf1\", so receivers see no SPF record at all and give \"none\" (RFC 7208 §4.5); publish it without the quote characters: {}",
                    String::from_utf8_lossy(inner)
                ),
            );
            lint.record(inner, domain.unwrap_or("")).await;
            return lint.finish(Some(record.to_string()));
        }
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
    unchecked: Vec<Unchecked>,
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
            unchecked: Vec::new(),
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
        let not_fetched: Vec<String> = self
            .unchecked
            .iter()
            .filter(|u| u.unknown == Unknown::LookupCount)
            .map(|u| u.name.clone())
            .collect();
        let at_least = self.stopped || !not_fetched.is_empty();
        if n > MAX_DNS_LOOKUPS {
            let over = &self.spent[MAX_DNS_LOOKUPS];
            let message = format!(
                "{n}{} DNS-querying terms for a host that matches nothing; the limit is {MAX_DNS_LOOKUPS}, so receivers give \"permerror\" at the {}th, {} in {} (path: {}) (RFC 7208 §4.6.4) — replace includes by ip4/ip6 ranges or drop unused ones",
                if at_least { "+" } else { "" },
                MAX_DNS_LOOKUPS + 1,
                over.term,
                over.domain,
                over.path
            );
            self.finding(Severity::Error, "lookup-limit", message);
            self.with_paths(self.spent.iter().map(|s| s.path.clone()).collect());
        } else if n > 0 {
            let message = if not_fetched.is_empty() {
                format!("{n} of {MAX_DNS_LOOKUPS} DNS-querying terms used (RFC 7208 §4.6.4)")
            } else {
                format!(
                    "at least {n} of {MAX_DNS_LOOKUPS} DNS-querying terms used: the record of {} could not be fetched, so the terms in it are not counted and the budget of RFC 7208 §4.6.4 is not checked",
                    not_fetched.join(", ")
                )
            };
            self.finding(Severity::Info, "lookups", message);
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
            unchecked: self.unchecked,
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
        self.restrictive(&record, domain).await;
        let mut chain = vec![domain.to_string()];
        let path = if domain.is_empty() {
            "(record)".to_string()
        } else {
            domain.to_string()
        };
        self.walk(record, domain.to_string(), path, &mut chain)
            .await;
    }
}
