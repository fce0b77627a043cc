//! Writing a restrictive SPF record: the networks and names a domain sends from, ending
//! in `-all` (or `~all`), in a fixed order — `ip4`, `ip6`, `a`, `mx`, `include` — so the
//! cheap, certain terms come before the ones that cost DNS lookups.
//!
//! [`RecordBuilder::build`] only assembles; [`check`] then lints the result through DNS
//! (every include followed) and refuses a record receivers would not accept, above all
//! one over the RFC 7208 §4.6.4 budget of 10 DNS-querying terms — and, unless told
//! otherwise ([`OnDnsFailure::Accept`]), one it could not check because a DNS query
//! failed: an include whose record cannot be fetched hides how many lookups it spends.

use sendwell_dns::Lookup;

use crate::lint::{LintReport, Severity, lint_record};
use crate::parse::ParseError;
use crate::record::{Directive, Mechanism, Qualifier, SpfRecord, Term};

/// A value given to the builder that cannot be a term.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Not an `ip4`/`ip6` network or an `include` domain. The reason is the source
    /// (shown by error reporters that walk the chain, such as anyhow's `{:#}`).
    #[error("{given:?} is not valid for {what}")]
    Invalid {
        /// `ip4`, `ip6` or `include`.
        what: &'static str,
        /// The value as given.
        given: String,
        /// Why.
        #[source]
        source: ParseError,
    },
}

/// Collects the terms of a record. See the [module documentation](self).
#[derive(Clone, Debug, Default)]
pub struct RecordBuilder {
    ip4: Vec<Term>,
    ip6: Vec<Term>,
    a: bool,
    mx: bool,
    include: Vec<Term>,
    softfail: bool,
}

fn term(what: &'static str, text: String, given: &str) -> Result<Term, BuildError> {
    text.parse::<Term>().map_err(|source| BuildError::Invalid {
        what,
        given: given.to_string(),
        source,
    })
}

impl RecordBuilder {
    /// An empty builder: the record would be `v=spf1 -all` (no host may send).
    pub fn new() -> Self {
        Self::default()
    }

    /// Authorize an IPv4 address or network (`192.0.2.1`, `192.0.2.0/24`).
    pub fn ip4(mut self, network: &str) -> Result<Self, BuildError> {
        let t = term("ip4", format!("ip4:{network}"), network)?;
        self.ip4.push(t);
        Ok(self)
    }

    /// Authorize an IPv6 address or network (`2001:db8::/32`).
    pub fn ip6(mut self, network: &str) -> Result<Self, BuildError> {
        let t = term("ip6", format!("ip6:{network}"), network)?;
        self.ip6.push(t);
        Ok(self)
    }

    /// Authorize the domain's own addresses (`a`).
    pub fn a(mut self) -> Self {
        self.a = true;
        self
    }

    /// Authorize the domain's mail exchangers (`mx`).
    pub fn mx(mut self) -> Self {
        self.mx = true;
        self
    }

    /// Authorize what another domain's record authorizes (`include:`).
    pub fn include(mut self, domain: &str) -> Result<Self, BuildError> {
        let t = term("include", format!("include:{domain}"), domain)?;
        self.include.push(t);
        Ok(self)
    }

    /// End with `~all` instead of `-all`.
    pub fn softfail(mut self, yes: bool) -> Self {
        self.softfail = yes;
        self
    }

    /// The record.
    pub fn build(self) -> SpfRecord {
        let mut terms = Vec::new();
        terms.extend(self.ip4);
        terms.extend(self.ip6);
        let bare = |mechanism| {
            Term::Directive(Directive {
                qualifier: None,
                mechanism,
            })
        };
        if self.a {
            terms.push(bare(Mechanism::A {
                domain_spec: None,
                cidr: Default::default(),
            }));
        }
        if self.mx {
            terms.push(bare(Mechanism::Mx {
                domain_spec: None,
                cidr: Default::default(),
            }));
        }
        terms.extend(self.include);
        terms.push(Term::Directive(Directive {
            qualifier: Some(if self.softfail {
                Qualifier::SoftFail
            } else {
                Qualifier::Fail
            }),
            mechanism: Mechanism::All,
        }));
        SpfRecord { terms }
    }
}

/// A record receivers would not accept as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refusing {record:?}: {}", .reasons.join("; "))]
pub struct Refused {
    /// The record built.
    pub record: String,
    /// The error findings, each saying why.
    pub reasons: Vec<String>,
    /// The whole lint report.
    pub report: LintReport,
}

/// What [`check`] does with a record it could not check fully because a DNS query
/// timed out or failed ([`LintReport::unchecked`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnDnsFailure {
    /// Refuse it, saying which name could not be fetched and what is unchecked: the
    /// lookup count of an include whose record is missing is unknown, so the budget of
    /// RFC 7208 §4.6.4 cannot be checked.
    #[default]
    Refuse,
    /// Accept it; [`LintReport::count_is_complete`] tells whether the count is a lower
    /// bound.
    Accept,
}

/// Lint `record` as published at `domain` (which `a` and `mx` refer to), following every
/// include through DNS; refuse it if any finding is an error — over the lookup budget,
/// an include without a record, too many void lookups, a loop — or, with
/// [`OnDnsFailure::Refuse`], if a DNS query failed so that it could not be checked.
pub async fn check<L: Lookup + ?Sized>(
    lookup: &L,
    record: &SpfRecord,
    domain: Option<&str>,
    on_dns_failure: OnDnsFailure,
) -> Result<LintReport, Box<Refused>> {
    let text = record.to_string();
    let report = lint_record(lookup, &text, domain).await;
    // The `dns-error` findings are warnings for `lint` (receivers would give
    // "temperror", which may pass), but a record whose lookup count is unknown cannot be
    // vouched for against RFC 7208 §4.6.4.
    let refuse_unchecked = on_dns_failure == OnDnsFailure::Refuse && !report.unchecked.is_empty();
    let reasons: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error || (refuse_unchecked && f.code == "dns-error"))
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    if reasons.is_empty() {
        Ok(report)
    } else {
        Err(Box::new(Refused {
            record: text,
            reasons,
            report,
        }))
    }
}

/// `text` cut into TXT character-strings of at most 255 octets (RFC 1035 §3.3.14), as a
/// zone file writes them; receivers join them with nothing between (RFC 7208 §3.3).
/// The record is ASCII, so any cut is on a character boundary.
pub fn character_strings(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > 255 {
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_dns::MockLookup;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn builds_in_order_with_minus_all() {
        let r = RecordBuilder::new()
            .include("_spf.example.net")
            .unwrap()
            .mx()
            .a()
            .ip6("2001:db8::/32")
            .unwrap()
            .ip4("192.0.2.0/24")
            .unwrap()
            .build();
        assert_eq!(
            r.to_string(),
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx include:_spf.example.net -all"
        );
        assert_eq!(
            RecordBuilder::new().softfail(true).build().to_string(),
            "v=spf1 ~all"
        );
        assert!(RecordBuilder::new().ip4("192.0.2.0/33").is_err());
        assert!(RecordBuilder::new().ip6("192.0.2.1").is_err());
        assert!(RecordBuilder::new().include("localhost").is_err());
    }

    #[test]
    fn refuses_over_budget_saying_why() {
        let mut zone = String::new();
        let mut b = RecordBuilder::new();
        for i in 0..4 {
            zone.push_str(&format!(
                "i{i}.example TXT \"v=spf1 a:x{i}.example mx:x{i}.example ~all\"\nx{i}.example A 192.0.2.{i}\nx{i}.example MX 1 x{i}.example\n"
            ));
            b = b.include(&format!("i{i}.example")).unwrap();
        }
        let dns = MockLookup::from_zone(&zone).unwrap();
        let refused = block(check(&dns, &b.build(), None, OnDnsFailure::Refuse)).unwrap_err();
        assert_eq!(refused.report.lookups, 12);
        assert!(
            refused.reasons[0].starts_with("lookup-limit: 12 DNS-querying terms"),
            "{:?}",
            refused.reasons
        );
        let ok = RecordBuilder::new().include("i0.example").unwrap().build();
        assert_eq!(
            block(check(&dns, &ok, None, OnDnsFailure::Refuse))
                .unwrap()
                .lookups,
            3
        );
    }

    #[test]
    fn splits_long_records() {
        let long = "v=spf1 ".to_string() + &"ip4:192.0.2.1 ".repeat(40) + "-all";
        let parts = character_strings(&long);
        assert!(parts.iter().all(|p| p.len() <= 255));
        assert_eq!(parts.concat(), long);
        assert_eq!(character_strings("v=spf1 -all"), vec!["v=spf1 -all"]);
    }

    #[test]
    fn refuses_what_dns_failures_leave_unchecked() {
        // The reviewer's case: over the budget (12) when DNS works, but with the includes'
        // records unreachable only 5 terms are seen.
        let mut zone = String::from("example.com MX 10 mail.example.com\n");
        for name in ["a", "b", "c"] {
            zone.push_str(&format!("{name}.example.net SERVFAIL\n"));
        }
        zone.push_str("_spf.example.net TIMEOUT\n");
        let dns = MockLookup::from_zone(&zone).unwrap();
        let mut b = RecordBuilder::new().mx();
        for d in [
            "a.example.net",
            "b.example.net",
            "c.example.net",
            "_spf.example.net",
        ] {
            b = b.include(d).unwrap();
        }
        let record = b.build();
        let refused = block(check(
            &dns,
            &record,
            Some("example.com"),
            OnDnsFailure::Refuse,
        ))
        .unwrap_err();
        assert_eq!(refused.report.lookups, 5);
        assert_eq!(refused.reasons.len(), 4, "{:#?}", refused.reasons);
        assert!(
            refused.reasons[0].starts_with(
                "dns-error: example.com › include:a.example.net: the TXT lookup for a.example.net failed"
            ) && refused.reasons[0]
                .ends_with("so the budget of 10 (RFC 7208 §4.6.4) cannot be checked"),
            "{}",
            refused.reasons[0]
        );
        assert!(
            refused.reasons[3]
                .contains("the TXT lookup for _spf.example.net failed (the DNS query timed out)")
        );
        // Accepted when asked to, with the count marked as a lower bound.
        let report = block(check(
            &dns,
            &record,
            Some("example.com"),
            OnDnsFailure::Accept,
        ))
        .unwrap();
        assert!(!report.count_is_complete());
        assert_eq!(report.unchecked.len(), 4);
        // An error finding is refused either way.
        let bad = RecordBuilder::new()
            .include("nothere.example.net")
            .unwrap()
            .build();
        assert!(block(check(&dns, &bad, None, OnDnsFailure::Accept)).is_err());
    }

    #[test]
    fn an_invalid_value_says_why_once() {
        use std::error::Error;
        let e = RecordBuilder::new().ip4("300.1.1.1").unwrap_err();
        let source = e
            .source()
            .expect("the parse error is the source")
            .to_string();
        assert!(!source.is_empty());
        assert_eq!(e.to_string(), "\"300.1.1.1\" is not valid for ip4");
        assert!(!e.to_string().contains(&source));
    }
}
