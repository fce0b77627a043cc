//! The DMARC verdict: policy discovery, Identifier Alignment, pass or fail, and the
//! policy a receiver would apply (RFC 9989 §5.3; RFC 7489 §6.6).
//!
//! [`evaluate_dmarc`] takes the Author Domain and the SPF and DKIM outcomes (computed by
//! the SPF and DKIM crates; DMARC never re-runs them) and returns a [`DmarcOutput`]:
//! always a value, never an `Err`. DNS failures become `temperror`; a message without a
//! single Author Domain, or a record that receivers cannot use, becomes `permerror`
//! with the reason.

use std::fmt;

use sendwell_dns::Lookup;

use crate::alignment::{AlignmentOutcome, IdentifierAlignment, Mechanism};
use crate::discovery::{Discovery, PolicyDiscovery, PolicyOutcome, discover};
use crate::message::{AuthorDomainError, author_domain, normalize_domain};
use crate::query::{Queries, QueryLog};
use crate::record::{AlignmentMode, DmarcRecord, Policy};
use crate::tree_walk::{is_at_or_below, psl_organizational_domain, tree_walk};

/// At most this many distinct Authenticated Identifiers get a tree walk of their own
/// in one evaluation (beyond the Author Domain's). RFC 9989 bounds each walk
/// (§4.10) but not their number; this bounds the DNS work a message can cause.
pub const MAX_IDENTIFIER_WALKS: usize = 10;

/// The SPF outcome DMARC needs (RFC 9989 §5.3.3): the domain SPF checked and whether
/// the result was `pass`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpfIdentifier {
    /// The MAIL FROM domain, or the HELO name when MAIL FROM was null
    /// (RFC 9989 §3.2.4, RFC 7208 §2.4).
    pub domain: String,
    /// SPF's result was `pass`.
    pub pass: bool,
}

/// One DKIM signature's outcome (RFC 9989 §5.3.3): its `d=`, `s=`, and whether it
/// verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimIdentifier {
    /// The signature's `d=`.
    pub domain: String,
    /// The signature's `s=`.
    pub selector: String,
    /// The signature verified (`pass`).
    pub pass: bool,
}

/// The authentication outcomes DMARC looks at.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AuthenticatedIdentifiers {
    /// SPF, if it was checked.
    pub spf: Option<SpfIdentifier>,
    /// Every DKIM signature checked.
    pub dkim: Vec<DkimIdentifier>,
}

/// The DMARC result (RFC 9989 §9.2; RFC 8601 §2.7.x). `Display` is the token used in
/// Authentication-Results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DmarcResult {
    /// No DMARC Policy Record applies to the Author Domain.
    None,
    /// A record applies and an Authenticated Identifier is aligned.
    Pass,
    /// A record applies and no Authenticated Identifier is aligned.
    Fail,
    /// A transient error (DNS) kept DMARC from a result; a later attempt may give one.
    TempError,
    /// A permanent error: no single Author Domain, or a record receivers cannot use
    /// (an invalid record, or one with no valid `p` and no valid `rua`).
    PermError,
}

impl DmarcResult {
    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::None => "none",
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DmarcResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which tag the policy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// `p`: the Author Domain is the Policy Domain.
    P,
    /// `sp`: the Author Domain is an existing subdomain of the Policy Domain.
    Sp,
    /// `np`: the Author Domain does not exist (NXDOMAIN, RFC 9989 §3.2.13).
    Np,
    /// The record has no valid `p` (or an invalid `sp`/`np`) but a valid `rua`:
    /// receivers act as if it said `p=none` (RFC 9989 §4.10.1).
    NoneForInvalidRecord,
}

impl PolicySource {
    /// `p`, `sp`, `np` or `p=none (invalid record)`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::P => "p",
            PolicySource::Sp => "sp",
            PolicySource::Np => "np",
            PolicySource::NoneForInvalidRecord => "p=none (invalid record)",
        }
    }
}

/// The Domain Owner Assessment Policy that applies to this Author Domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppliedPolicy {
    /// The policy as published for this Author Domain (`p`, `sp` or `np`).
    pub requested: Policy,
    /// Which tag it came from.
    pub source: PolicySource,
    /// Test mode: `t=y` (RFC 9989 §4.7), or `pct=0` of RFC 7489 when `t` is absent
    /// (RFC 9989 Appendix A.6: `t=y` is the analogue of `pct=0`).
    pub testing: bool,
}

impl AppliedPolicy {
    /// The policy a receiver applies to a failing message: `requested`, one level lower
    /// in test mode.
    pub fn effective(&self) -> Policy {
        if self.testing {
            self.requested.one_level_below()
        } else {
            self.requested
        }
    }
}

/// Everything DMARC concluded about one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmarcOutput {
    /// The result.
    pub result: DmarcResult,
    /// Why, in one sentence.
    pub reason: String,
    /// How the policy and Organizational Domain were found.
    pub discovery: Discovery,
    /// The Author Domain (RFC5322.From), if there is exactly one.
    pub author_domain: Option<String>,
    /// Where the applied record was published, if one applies.
    pub policy_domain: Option<String>,
    /// The record that applies.
    pub record: Option<DmarcRecord>,
    /// The Author Domain's Organizational Domain, when it could be determined.
    pub organizational_domain: Option<String>,
    /// The policy for this Author Domain, when a usable record applies.
    pub policy: Option<AppliedPolicy>,
    /// What a receiver that honours the policy does with this message: `none` on a
    /// pass, the effective policy on a fail, `none` when DMARC gave no pass or fail.
    /// Trap: `none` does not mean the message is welcome; it means DMARC asks nothing.
    pub disposition: Policy,
    /// The SPF identifier and its alignment, if SPF was checked.
    pub spf: Option<IdentifierAlignment>,
    /// Each DKIM signature and its alignment.
    pub dkim: Vec<IdentifierAlignment>,
    /// Extra remarks (ignored `pct`, identifiers not walked).
    pub notes: Vec<String>,
    /// Every DNS query made, in order.
    pub queries: Vec<QueryLog>,
}

impl DmarcOutput {
    /// An aligned SPF pass.
    pub fn spf_aligned(&self) -> bool {
        self.spf.as_ref().is_some_and(|a| a.outcome.is_aligned())
    }

    /// At least one aligned DKIM pass.
    pub fn dkim_aligned(&self) -> bool {
        self.dkim.iter().any(|a| a.outcome.is_aligned())
    }

    fn early(result: DmarcResult, reason: String, discovery: Discovery) -> DmarcOutput {
        DmarcOutput {
            result,
            reason,
            discovery,
            author_domain: None,
            policy_domain: None,
            record: None,
            organizational_domain: None,
            policy: None,
            disposition: Policy::None,
            spf: None,
            dkim: Vec::new(),
            notes: Vec::new(),
            queries: Vec::new(),
        }
    }
}

/// Evaluate DMARC for a whole message: find its Author Domain (RFC 9989 §5.3.1), then
/// [`evaluate_dmarc`]. A message without exactly one From address gets `permerror`.
pub async fn evaluate_message<L: Lookup>(
    lookup: &L,
    message: &[u8],
    identifiers: &AuthenticatedIdentifiers,
    discovery: Discovery,
) -> DmarcOutput {
    match author_domain(message) {
        Ok(author) => evaluate_dmarc(lookup, &author.domain, identifiers, discovery).await,
        Err(e) => from_error(&e, discovery),
    }
}

/// The `permerror` verdict for a message with no single Author Domain.
pub fn from_error(error: &AuthorDomainError, discovery: Discovery) -> DmarcOutput {
    // RFC 9989 §5.3.1: "If zero or more than one domain is extracted from the
    // RFC5322.From header field, then DMARC validation is not possible"; §11.5 warns
    // such messages are a way around DMARC, so the verdict says so instead of passing.
    DmarcOutput::early(
        DmarcResult::PermError,
        format!("{error}: there is no single Author Domain to check (RFC 9989 §5.3.1, §11.5)"),
        discovery,
    )
}

/// Evaluate DMARC for `author_domain` with the given SPF and DKIM outcomes.
///
/// This is the Mail Receiver procedure of RFC 9989 §5.3.2–§5.3.6 (RFC 7489 §6.6.2):
/// discover the policy; check each Authenticated Identifier's alignment; pass if any is
/// aligned; then pick the policy (`p`, `sp` or `np`, lowered in test mode).
pub async fn evaluate_dmarc<L: Lookup>(
    lookup: &L,
    author_domain: &str,
    identifiers: &AuthenticatedIdentifiers,
    discovery: Discovery,
) -> DmarcOutput {
    let Some(author) = normalize_domain(author_domain) else {
        return DmarcOutput::early(
            DmarcResult::PermError,
            format!("the Author Domain {author_domain:?} is not a valid domain name"),
            discovery,
        );
    };
    let mut queries = Queries::new(lookup);
    let found = discover(&mut queries, &author, discovery).await;
    let mut out = DmarcOutput::early(DmarcResult::None, String::new(), discovery);
    out.author_domain = Some(author.clone());
    out.organizational_domain = found.organizational_domain.clone().ok();
    let (policy_domain, record) = match &found.outcome {
        PolicyOutcome::Found {
            policy_domain,
            record,
        } => (policy_domain.clone(), record.clone()),
        PolicyOutcome::Invalid {
            policy_domain,
            error,
        } => {
            // RFC 7489 §11.2: permerror is for "a syntactically incorrect DMARC record"
            // (RFC 9989 §9.2 likewise); receivers use none of it, so no policy.
            out.result = DmarcResult::PermError;
            out.policy_domain = Some(policy_domain.clone());
            out.reason = format!(
                "the DMARC record at _dmarc.{policy_domain} is invalid: {error}, so receivers cannot use it (RFC 7489 §11.2)"
            );
            out.queries = queries.log;
            return out;
        }
        PolicyOutcome::NoPolicy { reason } => {
            // RFC 9989 §5.3.2: no record, no DMARC.
            out.reason = format!("{reason}: DMARC does not apply");
            out.queries = queries.log;
            return out;
        }
        PolicyOutcome::TempError { reason } => {
            out.result = DmarcResult::TempError;
            out.reason = format!("{reason}; whether a DMARC policy applies is unknown");
            out.queries = queries.log;
            return out;
        }
    };
    out.policy_domain = Some(policy_domain.clone());
    out.record = Some(record.clone());

    // Identifier Alignment (RFC 9989 §5.3.4).
    let mut aligner = Aligner {
        author: &author,
        found: &found,
        walks: 0,
        notes: Vec::new(),
    };
    if let Some(spf) = &identifiers.spf {
        let a = aligner
            .align(
                &mut queries,
                Mechanism::Spf,
                &spf.domain,
                None,
                spf.pass,
                record.aspf(),
            )
            .await;
        out.spf = Some(a);
    }
    for sig in &identifiers.dkim {
        let a = aligner
            .align(
                &mut queries,
                Mechanism::Dkim,
                &sig.domain,
                Some(sig.selector.clone()),
                sig.pass,
                record.adkim(),
            )
            .await;
        out.dkim.push(a);
    }
    out.notes.append(&mut aligner.notes);

    // RFC 9989 §5.3.5: pass if any identifier is aligned.
    let all: Vec<&IdentifierAlignment> = out.spf.iter().chain(out.dkim.iter()).collect();
    let aligned = all.iter().find(|a| a.outcome.is_aligned());
    let unknown = all.iter().find_map(|a| match &a.outcome {
        AlignmentOutcome::Unknown { reason } => Some(reason.clone()),
        _ => None,
    });
    let (result, mut reason) = match (aligned, unknown) {
        (Some(a), _) => (DmarcResult::Pass, a.to_string()),
        // RFC 9989 §5.3.6: a DNS failure means neither pass nor fail.
        (None, Some(why)) => (
            DmarcResult::TempError,
            format!("no identifier is aligned, and one could not be checked: {why}"),
        ),
        (None, None)
            if all
                .iter()
                .all(|a| a.outcome == AlignmentOutcome::NotAuthenticated) =>
        {
            (
                DmarcResult::Fail,
                "neither SPF nor any DKIM signature passed, so nothing can align".to_string(),
            )
        }
        (None, None) => (
            DmarcResult::Fail,
            "no passing SPF or DKIM identifier is aligned with the Author Domain".to_string(),
        ),
    };

    // The policy (RFC 9989 §4.10.1).
    let policy = match applied_policy(&mut queries, &author, &policy_domain, &record).await {
        Ok(p) => p,
        Err(PolicyError::Unusable(why)) => {
            out.result = DmarcResult::PermError;
            out.reason = why;
            out.queries = queries.log;
            return out;
        }
        Err(PolicyError::TempError(why)) => {
            out.result = DmarcResult::TempError;
            out.reason = why;
            out.queries = queries.log;
            return out;
        }
    };
    if let Some(pct) = record.pct().filter(|p| *p != 0 && *p != 100) {
        out.notes.push(format!(
            "pct={pct} ignored: RFC 9989 removed pct; the policy applies to every failing message"
        ));
    }
    out.disposition = if result == DmarcResult::Fail {
        policy.effective()
    } else {
        Policy::None
    };
    if result == DmarcResult::Fail {
        reason.push_str(&format!(
            "; the policy is {}={}{}",
            policy.source.as_str(),
            policy.requested,
            if policy.testing && policy.effective() != policy.requested {
                format!(", lowered to {} by test mode", policy.effective())
            } else {
                String::new()
            }
        ));
    }
    out.policy = Some(policy);
    out.result = result;
    out.reason = reason;
    out.queries = queries.log;
    out
}

enum PolicyError {
    Unusable(String),
    TempError(String),
}

/// Pick `p`, `sp` or `np` for the Author Domain (RFC 9989 §4.10.1, §4.7).
async fn applied_policy<L: Lookup>(
    queries: &mut Queries<'_, L>,
    author: &str,
    policy_domain: &str,
    record: &DmarcRecord,
) -> Result<AppliedPolicy, PolicyError> {
    let testing = record.testing()
        || (record.tag(crate::record::TagName::T).is_none() && record.pct() == Some(0));
    if !record.policy_is_valid() {
        // §4.10.1: no valid p, or an invalid sp or np: p=none if rua has a valid URI,
        // otherwise "the Mail Receiver applies no DMARC processing".
        if record.has_valid_rua() {
            return Ok(AppliedPolicy {
                requested: Policy::None,
                source: PolicySource::NoneForInvalidRecord,
                testing,
            });
        }
        return Err(PolicyError::Unusable(format!(
            "the DMARC record at _dmarc.{policy_domain} has no valid p (or an invalid sp/np) and no valid rua, so receivers apply no DMARC (RFC 9989 §4.10.1)"
        )));
    }
    let p = record.p().unwrap_or(Policy::None);
    if author == policy_domain {
        return Ok(AppliedPolicy {
            requested: p,
            source: PolicySource::P,
            testing,
        });
    }
    // The Author Domain is a subdomain of the Policy Domain: sp if it exists, np if it
    // does not (RFC 9989 §3.2.13, Appendix A.4); p when the tag is absent. The existence
    // query is made only when np could change the answer.
    if let Some(np) = record.np() {
        let exists = queries.exists(author).await.map_err(|e| {
            PolicyError::TempError(format!(
                "whether {author} exists is unknown ({e}), so the policy (np or sp) is unknown"
            ))
        })?;
        if !exists {
            return Ok(AppliedPolicy {
                requested: np,
                source: PolicySource::Np,
                testing,
            });
        }
    }
    Ok(match record.sp() {
        Some(sp) => AppliedPolicy {
            requested: sp,
            source: PolicySource::Sp,
            testing,
        },
        None => AppliedPolicy {
            requested: p,
            source: PolicySource::P,
            testing,
        },
    })
}

struct Aligner<'a> {
    author: &'a str,
    found: &'a PolicyDiscovery,
    walks: usize,
    notes: Vec<String>,
}

impl Aligner<'_> {
    async fn align<L: Lookup>(
        &mut self,
        queries: &mut Queries<'_, L>,
        mechanism: Mechanism,
        raw_domain: &str,
        selector: Option<String>,
        pass: bool,
        mode: AlignmentMode,
    ) -> IdentifierAlignment {
        let domain = normalize_domain(raw_domain);
        let outcome = match &domain {
            _ if !pass => AlignmentOutcome::NotAuthenticated,
            None => AlignmentOutcome::NotAligned {
                reason: format!("{raw_domain:?} is not a valid domain name"),
            },
            Some(d) => self.outcome(queries, d, mode).await,
        };
        IdentifierAlignment {
            mechanism,
            domain: domain.unwrap_or_else(|| raw_domain.to_string()),
            selector,
            mode,
            outcome,
        }
    }

    async fn outcome<L: Lookup>(
        &mut self,
        queries: &mut Queries<'_, L>,
        domain: &str,
        mode: AlignmentMode,
    ) -> AlignmentOutcome {
        // Strict Alignment (RFC 9989 §3.2.10.2): identical; that is also relaxed.
        if domain == self.author {
            return AlignmentOutcome::Strict;
        }
        if mode == AlignmentMode::Strict {
            return AlignmentOutcome::NotAligned {
                reason: format!("strict alignment needs exactly {}", self.author),
            };
        }
        // Relaxed Alignment (RFC 9989 §3.2.10.1): same Organizational Domain.
        let author_org = match &self.found.organizational_domain {
            Ok(o) => o.clone(),
            Err(why) => {
                return AlignmentOutcome::Unknown {
                    reason: format!(
                        "the Organizational Domain of {} is unknown: {why}",
                        self.author
                    ),
                };
            }
        };
        let identifier_org = match self.found.method {
            Discovery::PublicSuffixList => psl_organizational_domain(domain),
            Discovery::TreeWalk => {
                // An identifier's Organizational Domain is at or above it, so one outside
                // the author's cannot share it: no walk needed (RFC 9989 §4.10.2).
                if !is_at_or_below(domain, &author_org) {
                    return AlignmentOutcome::NotAligned {
                        reason: format!(
                            "it is not within {author_org}, the Author Domain's Organizational Domain"
                        ),
                    };
                }
                if self.walks >= MAX_IDENTIFIER_WALKS {
                    self.notes.push(format!(
                        "{domain} was not checked: more than {MAX_IDENTIFIER_WALKS} identifiers needed a tree walk"
                    ));
                    return AlignmentOutcome::NotAligned {
                        reason: "not checked: too many identifiers".to_string(),
                    };
                }
                self.walks += 1;
                match tree_walk(queries, domain).await {
                    Ok(walk) => walk.organizational_domain(),
                    Err(f) => {
                        return AlignmentOutcome::Unknown {
                            reason: format!("the query for _dmarc.{} failed: {}", f.name, f.reason),
                        };
                    }
                }
            }
        };
        if identifier_org == author_org {
            AlignmentOutcome::Relaxed {
                organizational_domain: author_org,
            }
        } else {
            AlignmentOutcome::NotAligned {
                reason: format!(
                    "its Organizational Domain is {identifier_org}, the Author Domain's is {author_org}"
                ),
            }
        }
    }
}
