//! Is the record restrictive, and is every term reachable (RFC 7208 §5.1, §6.1)?
//!
//! A domain protects its name only if a host that matches nothing gets `fail`: the
//! record must end in `-all`. The ending judged is the one check_host() reaches: the
//! record's own `all`, or — when it has none — whatever its `redirect=` target's record
//! ends in, followed through further redirects (RFC 7208 §6.1), so that
//! `v=spf1 redirect=_spf.example.com` is judged by `_spf.example.com`'s ending and the
//! finding names the path to it.

use std::borrow::Cow;

use sendwell_dns::Lookup;

use super::{Linter, Severity};
use crate::MAX_DNS_LOOKUPS;
use crate::record::{Directive, Mechanism, Modifier, Qualifier, SpfRecord};

impl<L: Lookup + ?Sized> Linter<'_, L> {
    /// The ending (through redirects), then the terms never reached, `redirect` beside
    /// `all`, `ptr` and unknown modifiers of `record` itself.
    pub(super) async fn restrictive(&mut self, record: &SpfRecord, domain: &str) {
        self.ending(record, domain).await;
        let directives: Vec<_> = record.directives().collect();
        let all = directives
            .iter()
            .position(|d| d.mechanism == Mechanism::All);
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
            if let Modifier::Unknown { name, .. } = m {
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

    /// Judge the ending a host that matches nothing reaches. Where the redirect chain
    /// cannot be followed (a macro target, a loop, a target without a usable record, a
    /// DNS failure) nothing is said here: the lookup walk reports each of those.
    async fn ending(&mut self, record: &SpfRecord, domain: &str) {
        let mut route = if domain.is_empty() {
            "the record".to_string()
        } else {
            domain.to_string()
        };
        let mut seen = vec![domain.to_string()];
        let mut current = Cow::Borrowed(record);
        loop {
            let all = current.directives().find(|d| d.mechanism == Mechanism::All);
            let via = (seen.len() > 1).then_some(route.as_str());
            match (all, current.redirect()) {
                (Some(d), _) => return self.judge_ending(Some(d), via),
                (None, None) => return self.judge_ending(None, via),
                // RFC 7208 §6.1: "If all mechanisms fail to match, and a "redirect"
                // modifier is present, then processing proceeds" with the target as
                // <domain>; the target's result is the result.
                (None, Some(spec)) => {
                    if !spec.macro_string().is_literal() {
                        return;
                    }
                    let target = spec.as_str().trim_end_matches('.').to_string();
                    // Each redirect costs a lookup, so a chain longer than the budget
                    // ends in "permerror" anyway (RFC 7208 §4.6.4).
                    if seen.len() > MAX_DNS_LOOKUPS
                        || seen.iter().any(|s| s.eq_ignore_ascii_case(&target))
                    {
                        return;
                    }
                    let Ok(next) = self.fetch(&target).await else {
                        return;
                    };
                    route.push_str(&format!(" → redirect={spec}"));
                    seen.push(target);
                    current = Cow::Owned(next);
                }
            }
        }
    }

    /// One finding for an ending that is not `-all`. `via` is the redirect route that
    /// leads to it (`redir.example.com → redirect=soft.example.com`), `None` when it is
    /// the record's own.
    fn judge_ending(&mut self, all: Option<&Directive>, via: Option<&str>) {
        let Some(all) = all else {
            let reason = "a host that matches nothing gets \"neutral\" (RFC 7208 §4.7), which protects nothing — end it with \"-all\"";
            let message = match via {
                None => format!("the record has neither \"all\" nor \"redirect\": {reason}"),
                Some(route) => format!(
                    "{route} leads to a record with neither \"all\" nor \"redirect\" (check_host() follows redirect=, RFC 7208 §6.1): {reason}"
                ),
            };
            return self.finding(Severity::Warning, "no-all", message);
        };
        let (severity, code, label, reason) = match all.effective_qualifier() {
            Qualifier::Fail => return,
            Qualifier::Pass => (
                Severity::Error,
                "pass-all",
                "\"+all\" (or a bare \"all\")",
                "authorizes every host on the Internet to send as this domain (RFC 7208 §5.1) — end with \"-all\"",
            ),
            Qualifier::Neutral => (
                Severity::Warning,
                "neutral-all",
                "\"?all\"",
                "gives \"neutral\" for every other host: the domain states nothing about them (RFC 7208 §2.6.2) — end with \"-all\"",
            ),
            Qualifier::SoftFail => (
                Severity::Info,
                "softfail-all",
                "\"~all\"",
                "asks receivers to accept mail from other hosts but mark it (softfail, RFC 7208 §2.6.5); \"-all\" is the restrictive ending, while \"~all\" is common when a DMARC policy does the enforcing",
            ),
        };
        let message = match via {
            None => format!("{label} {reason}"),
            Some(route) => format!(
                "{route} ends in \"{all}\" (check_host() follows redirect=, RFC 7208 §6.1), which {reason}"
            ),
        };
        self.finding(severity, code, message);
    }
}
