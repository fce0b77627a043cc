//! Counting the DNS-querying terms of a record (RFC 7208 §4.6.4) as a receiver spends
//! them for a host that matches nothing: every term before `all`, through every
//! `include` and the `redirect`, each with the path of records that leads to it; and
//! the void lookups among them.
//!
//! A DNS query that fails is never silently skipped: it becomes an [`Unchecked`] entry
//! and a `dns-error` finding saying what it leaves unknown, because a count that
//! quietly leaves out an include's terms would let a record over the budget pass.

use sendwell_dns::{Lookup, LookupError, Txt};

use super::{BoxFuture, Linter, MAX_WALKED_LOOKUPS, Severity, SpentLookup, Unchecked, Unknown};
use crate::MAX_NAMES_PER_LOOKUP;
use crate::parse::{ParseError, is_spf_record};
use crate::record::{DomainSpec, Mechanism, SpfRecord};

/// Why the record of an include or redirect target could not be had.
pub(super) enum FetchFailure {
    /// NXDOMAIN or no TXT records: a void lookup.
    Void,
    /// The target cannot be a DNS name; check_host() gives "none" for it (RFC 7208 §4.3).
    InvalidName(String),
    /// A timeout or server failure (RFC 7208 §4.4: "temperror").
    Dns(LookupError),
    /// TXT records, none of them SPF.
    NoRecord,
    /// More than one SPF record (RFC 7208 §4.5).
    Many(usize),
    /// The record does not parse.
    Syntax(ParseError),
}

impl<L: Lookup + ?Sized> Linter<'_, L> {
    /// The SPF record published at `target`, as check_host() would select it (RFC 7208
    /// §4.5: exactly one TXT record beginning with "v=spf1").
    pub(super) async fn fetch(&self, target: &str) -> Result<SpfRecord, FetchFailure> {
        let txts = match self.lookup.lookup_txt(target).await {
            Ok(t) => t,
            Err(LookupError::NxDomain | LookupError::NoData) => return Err(FetchFailure::Void),
            Err(LookupError::InvalidName(d)) => return Err(FetchFailure::InvalidName(d)),
            Err(e) => return Err(FetchFailure::Dns(e)),
        };
        let records: Vec<Vec<u8>> = txts
            .iter()
            .map(Txt::joined)
            .filter(|t| is_spf_record(t))
            .collect();
        match records.as_slice() {
            [one] => SpfRecord::parse_bytes(one).map_err(FetchFailure::Syntax),
            [] => Err(FetchFailure::NoRecord),
            many => Err(FetchFailure::Many(many.len())),
        }
    }

    pub(super) fn spend(&mut self, term: String, domain: &str, path: &str) -> SpentLookup {
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

    /// A query that timed out or failed: note what it leaves unknown.
    fn unchecked(
        &mut self,
        name: &str,
        query: &'static str,
        error: &LookupError,
        spent: &SpentLookup,
        unknown: Unknown,
    ) {
        let consequence = match unknown {
            Unknown::LookupCount => format!(
                "the DNS-querying terms of its record cannot be counted, so the budget of {} (RFC 7208 §4.6.4) cannot be checked",
                crate::MAX_DNS_LOOKUPS
            ),
            Unknown::VoidLookup => {
                "whether it is a void lookup (RFC 7208 §4.6.4) cannot be checked".to_string()
            }
        };
        self.finding(
            Severity::Warning,
            "dns-error",
            format!("{}: the {query} lookup for {name} failed ({error}): receivers would give \"temperror\" now (RFC 7208 §4.4), and {consequence}", spent.path),
        );
        self.unchecked.push(Unchecked {
            name: name.to_string(),
            query,
            error: error.to_string(),
            path: spent.path.clone(),
            unknown,
        });
    }

    /// Count every DNS-querying term of `record` (at `domain`), following includes and
    /// the redirect.
    pub(super) fn walk<'s>(
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
                        {
                            match self.lookup.lookup_a(&target).await {
                                Err(e) if e.is_void() => self.voids.push(spent.clone()),
                                Err(e) if e.is_temporary() => {
                                    self.unchecked(&target, "A", &e, &spent, Unknown::VoidLookup)
                                }
                                _ => {}
                            }
                        }
                    }
                    Mechanism::Mx { domain_spec, .. } => {
                        if let Some(target) =
                            self.literal_target(domain_spec.as_ref(), &domain, &term)
                        {
                            match self.lookup.lookup_mx(&target).await {
                                Err(e) if e.is_void() => self.voids.push(spent.clone()),
                                Err(e) if e.is_temporary() => {
                                    self.unchecked(&target, "MX", &e, &spent, Unknown::VoidLookup)
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
                                // An invalid name: check_host() takes the term as not
                                // matching, without a query.
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
            // RFC 7208 §6.1: "redirect" is used only when no mechanism matches, and
            // "all" always does.
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

    /// An `a` target with neither A nor AAAA records is void for every client; one
    /// whose queries fail cannot be judged.
    async fn check_addresses(&mut self, target: &str, spent: &SpentLookup) {
        let a = self.lookup.lookup_a(target).await;
        let aaaa = self.lookup.lookup_aaaa(target).await;
        match (a, aaaa) {
            (Ok(_), _) | (_, Ok(_)) => {}
            (Err(a), Err(aaaa)) if a.is_void() && aaaa.is_void() => self.voids.push(spent.clone()),
            (Err(a), Err(aaaa)) => {
                if let Some(e) = [a, aaaa].into_iter().find(LookupError::is_temporary) {
                    self.unchecked(target, "A/AAAA", &e, spent, Unknown::VoidLookup);
                }
            }
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
        // RFC 7208 §5.2 (include) and §6.1 (redirect): a target without a record is a
        // "permerror".
        let (none_code, section) = if kind == "include" {
            ("include-none", "§5.2")
        } else {
            ("redirect-none", "§6.1")
        };
        let record = match self.fetch(target).await {
            Ok(r) => r,
            Err(FetchFailure::Void) => {
                self.voids.push(spent.clone());
                self.finding(
                    Severity::Error,
                    none_code,
                    format!("{}: {target} has no SPF record, so receivers give \"permerror\" (RFC 7208 {section})", spent.path),
                );
                return;
            }
            Err(FetchFailure::NoRecord) => {
                self.finding(
                    Severity::Error,
                    none_code,
                    format!("{}: {target} has no SPF record, so receivers give \"permerror\" (RFC 7208 {section})", spent.path),
                );
                return;
            }
            Err(FetchFailure::InvalidName(d)) => {
                self.finding(
                    Severity::Error,
                    none_code,
                    format!("{}: {target} is not a valid domain name ({d}), so it has no SPF record and receivers give \"permerror\" (RFC 7208 §4.3, {section})", spent.path),
                );
                return;
            }
            Err(FetchFailure::Dns(e)) => {
                self.unchecked(target, "TXT", &e, spent, Unknown::LookupCount);
                return;
            }
            Err(FetchFailure::Many(n)) => {
                self.finding(
                    Severity::Error,
                    "multiple-records",
                    format!("{}: {target} has {n} SPF records, so receivers give \"permerror\" (RFC 7208 §4.5)", spent.path),
                );
                return;
            }
            Err(FetchFailure::Syntax(e)) => {
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
