//! `check_host()` (RFC 7208 §4): fetch the domain's record, evaluate its terms left to
//! right, follow `include` and `redirect`, and expand `exp=` for a `fail`.
//!
//! Design decisions, each where the RFC leaves room:
//! - Limits (§4.6.4) are counted across the whole evaluation, includes and redirects
//!   included, in one [`Evaluator`]. A term is counted when it is reached, so a record
//!   whose eleventh DNS term is never reached is not an error.
//! - Void lookups are counted per *term*, as §4.6.4 words it ("the number of "terms" for
//!   which DNS queries return … [no records]"): an `mx` whose MX query and several
//!   address queries come back empty counts once. pyspf and viaspf count every empty
//!   query instead, so they reach `permerror` sooner on such records.
//! - A target name that cannot be a DNS name after expansion (an empty or over-long
//!   label), which §4.8 leaves undefined, is a name that does not exist: the mechanism
//!   does not match (viaspf does the same); for `include` and `redirect` the recursive
//!   `check_host()` gives `none` (§4.3), which they turn into `permerror`.
//! - An `mx` may look up at most 10 addresses; hosts are tried in preference order and
//!   evaluation stops at the first match, so `permerror` comes only when an eleventh
//!   address lookup would be needed (§4.6.4: "MUST NOT result in querying more than 10
//!   address records").

use std::borrow::Cow;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use sendwell_dns::{Lookup, LookupError, Txt};

use crate::expand::{self, ExpansionBudget, MacroValues};
use crate::macro_string::{DomainSpec, ExplainString, MacroLetter, MacroString};
use crate::parse::is_spf_record;
use crate::record::{Mechanism, SpfRecord};
use crate::result::{CheckHostOutput, DecidingTerm, DnsFailure, Problem, SpfResult};
use crate::trace::{Answer, TermOutcome, TraceEvent, Via};
use crate::{Config, MAX_DNS_LOOKUPS, MAX_NAMES_PER_LOOKUP};

/// Push a trace event, building it only when tracing is on.
macro_rules! trace {
    ($self:ident, $event:expr) => {
        if $self.trace.is_some() {
            let event = $event;
            if let Some(t) = $self.trace.as_mut() {
                t.push(event);
            }
        }
    };
}

mod mechanisms;

/// `<sender>` as check_host() uses it, split into local-part and domain.
pub(crate) struct EffectiveSender<'s> {
    /// The whole address, `postmaster@<domain>` when the local-part was missing.
    pub(crate) sender: Cow<'s, str>,
    /// The `%{l}` value.
    pub(crate) local_part: &'s str,
    /// The `%{o}` value: the text after the last `@`, or all of it without one.
    pub(crate) domain: &'s str,
}

/// The `<sender>` check_host() evaluates for `sender`: as given, or with `postmaster` as
/// local-part when it has none (`example.com`, `@example.com`). [`check_host`] and the
/// verdict of [`crate::evaluate`] both use it, so the verdict names the sender that was
/// really checked.
pub(crate) fn effective_sender(sender: &str) -> EffectiveSender<'_> {
    let (local_part, domain) = match sender.rsplit_once('@') {
        Some((local, dom)) => (local, dom),
        None => ("", sender),
    };
    // RFC 7208 §4.3: "If the <sender> has no local-part, substitute the string
    // "postmaster" for the local-part."
    if local_part.is_empty() {
        EffectiveSender {
            sender: format!("postmaster@{domain}").into(),
            local_part: "postmaster",
            domain,
        }
    } else {
        EffectiveSender {
            sender: sender.into(),
            local_part,
            domain,
        }
    }
}

/// The `check_host()` function of RFC 7208 §4.
///
/// - `ip`: `<ip>`, the SMTP client's address. An IPv4-mapped IPv6 address is taken as
///   the IPv4 address it maps (RFC 7208 §5: such clients "MUST" be treated as IPv4).
/// - `domain`: `<domain>`, the domain whose policy is checked (the MAIL FROM domain, or
///   the HELO name; see [`crate::evaluate`]).
/// - `sender`: `<sender>`, the MAIL FROM address, or `postmaster@<HELO name>` when
///   checking HELO or a null reverse-path (RFC 7208 §2.4). A sender without local-part
///   gets `postmaster` (§4.3); one without `@` is taken as a bare domain.
/// - `helo`: the HELO/EHLO name, which only the `%{h}` macro uses.
///
/// Never fails: DNS trouble is [`SpfResult::TempError`], bad records
/// [`SpfResult::PermError`]. The caller should bound the elapsed time (RFC 7208 §4.6.4
/// asks for at least 20 s) and treat running out as `temperror`.
pub async fn check_host<L: Lookup + ?Sized>(
    lookup: &L,
    ip: IpAddr,
    domain: &str,
    sender: &str,
    helo: &str,
    config: &Config,
) -> CheckHostOutput {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let EffectiveSender {
        sender,
        local_part,
        domain: sender_domain,
    } = effective_sender(sender);
    let timestamp = config.timestamp.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let mut ev = Evaluator {
        lookup,
        ip,
        sender_domain,
        sender,
        local_part,
        helo,
        config,
        timestamp,
        lookups: 0,
        void_lookups: 0,
        term_void: false,
        budget: ExpansionBudget::default(),
        validated: None,
        trace: config.trace.then(Vec::new),
    };
    let outcome = ev.check_level(domain, 0, Via::Start).await;
    let explanation = match (&outcome.result, &outcome.exp) {
        (SpfResult::Fail, Some((spec, exp_domain))) => ev.explain(spec, exp_domain).await,
        _ => None,
    };
    if let Some(text) = &explanation {
        trace!(ev, TraceEvent::Explanation { text: text.clone() });
    }
    CheckHostOutput {
        result: outcome.result,
        domain: domain.to_string(),
        explanation,
        decided_by: outcome.decided_by,
        problem: outcome.problem,
        lookups: ev.lookups,
        void_lookups: ev.void_lookups,
        trace: ev.trace.unwrap_or_default(),
    }
}

/// The state of one evaluation, shared by every nested include and redirect.
struct Evaluator<'a, L: ?Sized> {
    lookup: &'a L,
    ip: IpAddr,
    sender: Cow<'a, str>,
    local_part: &'a str,
    sender_domain: &'a str,
    helo: &'a str,
    config: &'a Config,
    timestamp: u64,
    /// DNS-querying terms so far (RFC 7208 §4.6.4).
    lookups: usize,
    /// Terms whose queries came back void (RFC 7208 §4.6.4).
    void_lookups: usize,
    /// Whether the current term has already been counted as void.
    term_void: bool,
    budget: ExpansionBudget,
    /// The validated names of `<ip>` (RFC 7208 §5.5), looked up once for `%{p}`.
    validated: Option<Vec<String>>,
    trace: Option<Vec<TraceEvent>>,
}

/// What one `check_host()` level came to.
struct Outcome {
    result: SpfResult,
    decided_by: Option<DecidingTerm>,
    problem: Option<Problem>,
    /// For a `fail` decided by a directive: the record's `exp=` and that record's domain
    /// (RFC 7208 §6.2: the explanation comes from the record that failed, never from an
    /// included one, and not from the record that redirected).
    exp: Option<(DomainSpec, String)>,
}

impl Outcome {
    fn plain(result: SpfResult, problem: Option<Problem>) -> Self {
        Outcome {
            result,
            decided_by: None,
            problem,
            exp: None,
        }
    }
}

/// What a mechanism came to.
enum Mech {
    Match,
    NoMatch,
    /// `temperror` or `permerror`, with why and, from inside an include, the term there.
    Error(SpfResult, Problem, Option<DecidingTerm>),
}

/// An A or AAAA answer, kept in its own type (no conversion to `IpAddr`).
enum Addresses {
    V4(Vec<Ipv4Addr>),
    V6(Vec<Ipv6Addr>),
}

impl Addresses {
    fn is_empty(&self) -> bool {
        match self {
            Addresses::V4(a) => a.is_empty(),
            Addresses::V6(a) => a.is_empty(),
        }
    }

    fn any_in_network(&self, ip: IpAddr, ip4_bits: u8, ip6_bits: u8) -> bool {
        match self {
            Addresses::V4(a) => a
                .iter()
                .any(|a| in_network(ip, IpAddr::V4(*a), ip4_bits, ip6_bits)),
            Addresses::V6(a) => a
                .iter()
                .any(|a| in_network(ip, IpAddr::V6(*a), ip4_bits, ip6_bits)),
        }
    }

    fn to_strings(&self) -> Vec<String> {
        match self {
            Addresses::V4(a) => a.iter().map(ToString::to_string).collect(),
            Addresses::V6(a) => a.iter().map(ToString::to_string).collect(),
        }
    }
}

type BoxFuture<'f, T> = Pin<Box<dyn Future<Output = T> + Send + 'f>>;

/// RFC 7208 §4.3: a `<domain>` that is malformed or "not a multi-label domain name"
/// gives `none` without a query. Address literals (`[192.0.2.1]`) are not domains.
pub(crate) fn is_checkable_domain(domain: &str) -> bool {
    let d = domain.strip_suffix('.').unwrap_or(domain);
    !d.is_empty()
        && !d.starts_with('[')
        && d.len() <= expand::MAX_DOMAIN_NAME_LEN
        && d.contains('.')
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

fn dns_problem(name: &str, query: &'static str, e: &LookupError) -> Problem {
    Problem::Dns {
        name: name.to_string(),
        query,
        failure: match e {
            LookupError::Timeout => DnsFailure::Timeout,
            _ => DnsFailure::ServerFailure,
        },
    }
}

fn in_network(ip: IpAddr, addr: IpAddr, ip4_bits: u8, ip6_bits: u8) -> bool {
    match (ip, addr) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(ip4_bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(ip6_bits))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// `name` equals `target` or is a subdomain of it, ignoring case (RFC 7208 §5.5).
fn is_within(name: &str, target: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let target = target.strip_suffix('.').unwrap_or(target);
    if name.len() == target.len() {
        return name.eq_ignore_ascii_case(target);
    }
    name.len() > target.len()
        && name.as_bytes()[name.len() - target.len() - 1] == b'.'
        && name[name.len() - target.len()..].eq_ignore_ascii_case(target)
}

fn txt_for_trace(txt: &[Txt]) -> Vec<String> {
    txt.iter()
        .map(|t| {
            t.strings
                .iter()
                .map(|s| format!("{:?}", String::from_utf8_lossy(s)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

impl<'a, L: Lookup + ?Sized> Evaluator<'a, L> {
    fn values<'v>(&'v self, domain: &'v str, validated: &'v str) -> MacroValues<'v> {
        MacroValues {
            sender: &self.sender,
            local_part: self.local_part,
            sender_domain: self.sender_domain,
            domain,
            ip: self.ip,
            helo: self.helo,
            receiver: &self.config.receiver,
            timestamp: self.timestamp,
            validated_domain: validated,
        }
    }

    /// Expand a macro string for `domain`, looking `%{p}` up first if it is used.
    async fn expand(
        &mut self,
        ms: &MacroString,
        domain: &str,
        depth: usize,
        as_domain: bool,
    ) -> Result<String, expand::ExpandError> {
        let validated = if ms.uses(MacroLetter::ValidatedDomain) {
            self.validated_domain(domain, depth).await
        } else {
            String::new()
        };
        let mut budget = self.budget;
        let values = self.values(domain, &validated);
        let out = if as_domain {
            expand::expand_domain(ms, &values, &mut budget)
        } else {
            let mut out = String::new();
            expand::expand_into(ms, &values, &mut budget, &mut out).map(|()| out)
        };
        self.budget = budget;
        out
    }

    /// Count a void answer for the current term (RFC 7208 §4.6.4), once per term.
    fn note_void(&mut self) -> Result<(), Problem> {
        if !self.term_void {
            self.term_void = true;
            self.void_lookups += 1;
            if self.void_lookups > self.config.max_void_lookups {
                return Err(Problem::VoidLookupLimit);
            }
        }
        Ok(())
    }

    /// `check_host()` for `domain`, boxed: include and redirect recurse through it.
    fn check_at<'s>(
        &'s mut self,
        domain: &'s str,
        depth: usize,
        via: Via,
    ) -> BoxFuture<'s, Outcome> {
        Box::pin(self.check_level(domain, depth, via))
    }

    async fn check_level(&mut self, domain: &str, depth: usize, via: Via) -> Outcome {
        trace!(
            self,
            TraceEvent::CheckHost {
                depth,
                domain: domain.to_string(),
                via,
            }
        );
        let outcome = self.check_record(domain, depth, via).await;
        trace!(
            self,
            TraceEvent::Result {
                depth,
                domain: domain.to_string(),
                result: outcome.result,
                decided_by: outcome.decided_by.as_ref().map(|d| d.term.clone()),
            }
        );
        outcome
    }

    async fn check_record(&mut self, domain: &str, depth: usize, via: Via) -> Outcome {
        // RFC 7208 §4.3: a malformed domain gives "none" without any query.
        if !is_checkable_domain(domain) {
            return Outcome::plain(
                SpfResult::None,
                Some(Problem::InvalidDomain {
                    domain: domain.to_string(),
                }),
            );
        }
        // RFC 7208 §4.4: the record is looked up as TXT only.
        let txts = self.lookup.lookup_txt(domain).await;
        trace!(
            self,
            TraceEvent::Query {
                depth,
                query: "TXT",
                name: domain.to_string(),
                answer: match &txts {
                    Ok(t) => Answer::Records {
                        records: txt_for_trace(t),
                    },
                    Err(e) => Answer::from_error(e),
                },
            }
        );
        let txts = match txts {
            Ok(t) => t,
            // RFC 7208 §4.3: NXDOMAIN → "none".
            Err(LookupError::NxDomain) => {
                return Outcome::plain(
                    SpfResult::None,
                    Some(Problem::DomainNotFound {
                        domain: domain.to_string(),
                    }),
                );
            }
            // RFC 7208 §4.5: no records at all → "none".
            Err(LookupError::NoData) => {
                return Outcome::plain(
                    SpfResult::None,
                    Some(Problem::NoSpfRecord {
                        domain: domain.to_string(),
                    }),
                );
            }
            Err(LookupError::InvalidName(_)) => {
                return Outcome::plain(
                    SpfResult::None,
                    Some(Problem::InvalidDomain {
                        domain: domain.to_string(),
                    }),
                );
            }
            // RFC 7208 §4.4: a server failure or timeout → "temperror".
            Err(e) => {
                return Outcome::plain(SpfResult::TempError, Some(dns_problem(domain, "TXT", &e)));
            }
        };
        // RFC 7208 §4.5: keep the records that begin with "v=spf1"; the strings of one
        // TXT record are joined with no separator (§3.3).
        let mut selected: Option<Cow<'_, [u8]>> = None;
        let mut count = 0;
        for txt in &txts {
            let text: Cow<'_, [u8]> = match txt.strings.as_slice() {
                [one] => Cow::Borrowed(one.as_slice()),
                _ => Cow::Owned(txt.joined()),
            };
            if is_spf_record(&text) {
                count += 1;
                if selected.is_none() {
                    selected = Some(text);
                }
            }
        }
        let Some(text) = selected else {
            return Outcome::plain(
                SpfResult::None,
                Some(Problem::NoSpfRecord {
                    domain: domain.to_string(),
                }),
            );
        };
        if count > 1 {
            return Outcome::plain(
                SpfResult::PermError,
                Some(Problem::MultipleRecords {
                    domain: domain.to_string(),
                    count,
                }),
            );
        }
        trace!(
            self,
            TraceEvent::Record {
                depth,
                domain: domain.to_string(),
                record: String::from_utf8_lossy(&text).into_owned(),
            }
        );
        // RFC 7208 §4.6: "if there are any syntax errors anywhere in the record,
        // check_host() returns immediately with the result "permerror"".
        let cached;
        let owned;
        let parsed: &Result<SpfRecord, _> = match &self.config.record_cache {
            Some(cache) => {
                cached = cache.parse(&text);
                &cached
            }
            None => {
                owned = SpfRecord::parse_bytes(&text);
                &owned
            }
        };
        let record = match parsed {
            Ok(r) => r,
            Err(error) => {
                return Outcome::plain(
                    SpfResult::PermError,
                    Some(Problem::Syntax {
                        domain: domain.to_string(),
                        record: String::from_utf8_lossy(&text).into_owned(),
                        error: error.clone(),
                    }),
                );
            }
        };
        self.evaluate_record(record, domain, depth, via).await
    }

    async fn evaluate_record(
        &mut self,
        record: &SpfRecord,
        domain: &str,
        depth: usize,
        via: Via,
    ) -> Outcome {
        // The include mechanism only looks at a recursive match's result (RFC 7208
        // §5.2), so the deciding term inside an include is written out only for errors
        // or the trace.
        let name_match = via != Via::Include || self.trace.is_some();
        let deciding = |term: String| DecidingTerm {
            domain: domain.to_string(),
            term,
        };
        let term_text = |d: &crate::record::Directive| {
            use std::fmt::Write;
            let mut t = String::with_capacity(48);
            let _ = write!(t, "{d}");
            t
        };
        // RFC 7208 §4.6.2: "Each mechanism is considered in turn from left to right."
        for directive in record.directives() {
            if directive.mechanism.queries_dns() {
                self.lookups += 1;
                // RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of
                // those terms to 10 during SPF evaluation … If this limit is exceeded,
                // the implementation MUST return "permerror"."
                if self.lookups > MAX_DNS_LOOKUPS {
                    trace!(
                        self,
                        TraceEvent::Note {
                            depth,
                            message: format!(
                                "{directive} would be DNS-querying term {} of at most {MAX_DNS_LOOKUPS} (RFC 7208 §4.6.4)",
                                self.lookups
                            ),
                        }
                    );
                    self.lookups -= 1;
                    return Outcome {
                        result: SpfResult::PermError,
                        decided_by: Some(deciding(directive.to_string())),
                        problem: Some(Problem::LookupLimit),
                        exp: None,
                    };
                }
            }
            self.term_void = false;
            trace!(
                self,
                TraceEvent::Term {
                    depth,
                    term: directive.to_string(),
                    lookups: self.lookups,
                    void_lookups: self.void_lookups,
                }
            );
            let mech = self.mechanism(&directive.mechanism, domain, depth).await;
            trace!(
                self,
                TraceEvent::TermResult {
                    depth,
                    term: directive.to_string(),
                    outcome: match &mech {
                        Mech::Match => TermOutcome::Match,
                        Mech::NoMatch => TermOutcome::NoMatch,
                        Mech::Error(..) => TermOutcome::Error,
                    },
                    lookups: self.lookups,
                    void_lookups: self.void_lookups,
                }
            );
            match mech {
                Mech::NoMatch => continue,
                Mech::Match => {
                    let result = SpfResult::from(directive.effective_qualifier());
                    let exp = (result == SpfResult::Fail)
                        .then(|| {
                            record
                                .explanation()
                                .map(|e| (e.clone(), domain.to_string()))
                        })
                        .flatten();
                    return Outcome {
                        result,
                        decided_by: name_match.then(|| deciding(term_text(directive))),
                        problem: None,
                        exp,
                    };
                }
                Mech::Error(result, problem, inner) => {
                    return Outcome {
                        result,
                        decided_by: inner.or_else(|| Some(deciding(directive.to_string()))),
                        problem: Some(problem),
                        exp: None,
                    };
                }
            }
        }
        // RFC 7208 §6.1: "If all mechanisms fail to match, and a "redirect" modifier is
        // present, then processing proceeds as follows": check_host() of the target.
        if let Some(spec) = record.redirect() {
            let term = format!("redirect={spec}");
            self.lookups += 1;
            if self.lookups > MAX_DNS_LOOKUPS {
                self.lookups -= 1;
                return Outcome {
                    result: SpfResult::PermError,
                    decided_by: Some(deciding(term)),
                    problem: Some(Problem::LookupLimit),
                    exp: None,
                };
            }
            self.term_void = false;
            trace!(
                self,
                TraceEvent::Term {
                    depth,
                    term: term.clone(),
                    lookups: self.lookups,
                    void_lookups: self.void_lookups,
                }
            );
            let target = match self.expand(spec.macro_string(), domain, depth, true).await {
                Ok(t) => t,
                Err(_) => {
                    return Outcome {
                        result: SpfResult::PermError,
                        decided_by: Some(deciding(term)),
                        problem: Some(Problem::ExpansionLimit),
                        exp: None,
                    };
                }
            };
            let inner = self.check_at(&target, depth + 1, Via::Redirect).await;
            // RFC 7208 §6.1: "if no SPF record is found, or if the <target-name> is
            // malformed, the result is a "permerror" rather than "none"."
            if inner.result == SpfResult::None {
                return Outcome {
                    result: SpfResult::PermError,
                    decided_by: Some(deciding(term)),
                    problem: Some(Problem::RedirectNone { target }),
                    exp: None,
                };
            }
            return inner;
        }
        // RFC 7208 §4.7: "If none of the mechanisms match and there is no "redirect"
        // modifier, then the check_host() returns a result of "neutral", just as if
        // "?all" were specified as the last directive."
        Outcome::plain(SpfResult::Neutral, None)
    }

    /// The explanation of a `fail` (RFC 7208 §6.2): "If there are any DNS processing
    /// errors (any RCODE other than 0), or if no records are returned, or if more than
    /// one record is returned, or if there are syntax errors in the explanation string,
    /// then proceed as if no "exp" modifier was given." Its lookup is not counted
    /// (§4.6.4).
    async fn explain(&mut self, spec: &DomainSpec, domain: &str) -> Option<String> {
        let note = |message: String| TraceEvent::Note { depth: 0, message };
        let Ok(target) = self.expand(spec.macro_string(), domain, 0, true).await else {
            trace!(
                self,
                note("the exp= target could not be expanded; no explanation".into())
            );
            return None;
        };
        if !expand::is_valid_target_name(&target) {
            trace!(
                self,
                note(format!(
                    "exp={target:?} is not a DNS name; no explanation (RFC 7208 §6.2)"
                ))
            );
            return None;
        }
        let answer = self.lookup.lookup_txt(&target).await;
        trace!(
            self,
            TraceEvent::Query {
                depth: 0,
                query: "TXT",
                name: target.clone(),
                answer: match &answer {
                    Ok(t) => Answer::Records {
                        records: txt_for_trace(t),
                    },
                    Err(e) => Answer::from_error(e),
                },
            }
        );
        let txts = answer.ok()?;
        if txts.len() != 1 {
            trace!(
                self,
                note(format!(
                    "exp={target} has {} TXT records, not one; no explanation (RFC 7208 §6.2)",
                    txts.len()
                ))
            );
            return None;
        }
        let text = txts[0].joined();
        let parsed = std::str::from_utf8(&text)
            .ok()
            .and_then(|s| s.parse::<ExplainString>().ok());
        let Some(explain) = parsed else {
            trace!(self, note("the explanation is not a valid explain-string (RFC 7208 §6.2, §7.1); no explanation".into()));
            return None;
        };
        self.expand(explain.macro_string(), domain, 0, false)
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_network(ip("192.0.2.77"), ip("192.0.2.0"), 24, 128));
        assert!(!in_network(ip("192.0.3.77"), ip("192.0.2.0"), 24, 128));
        assert!(in_network(ip("1.2.3.4"), ip("9.9.9.9"), 0, 128));
        assert!(!in_network(ip("1.2.3.4"), ip("::"), 0, 0));
        assert!(in_network(ip("2001:db8::1"), ip("2001:db8::"), 32, 32));
        assert!(in_network(ip("2001:db8::1"), ip("::"), 32, 0));
        assert!(!in_network(ip("2001:db9::1"), ip("2001:db8::"), 32, 32));
    }

    #[test]
    fn subdomains() {
        assert!(is_within("mail.Example.com", "example.COM"));
        assert!(is_within("example.com.", "example.com"));
        assert!(!is_within("badexample.com", "example.com"));
        assert!(!is_within("com", "example.com"));
    }

    #[test]
    fn checkable_domains() {
        assert!(is_checkable_domain("example.com"));
        assert!(is_checkable_domain("example.com."));
        assert!(!is_checkable_domain("localhost"));
        assert!(!is_checkable_domain("[192.0.2.1]"));
        assert!(!is_checkable_domain("a..example.com"));
        assert!(!is_checkable_domain(&format!("{}.com", "a".repeat(64))));
        assert!(!is_checkable_domain(""));
    }
}
