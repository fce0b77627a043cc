//! Policy discovery: which DMARC Policy Record applies to an Author Domain, and the
//! Author Domain's Organizational Domain. Two ways, and the caller picks one:
//!
//! - [`Discovery::TreeWalk`], RFC 9989 §4.10.1 (the current standard): the record at the
//!   Author Domain; else, by a DNS tree walk, the record at its Organizational Domain;
//!   else the `psd=y` record of its Public Suffix Domain.
//! - [`Discovery::PublicSuffixList`], RFC 7489 §6.6.3: the record at the Author Domain;
//!   else the record at its Organizational Domain from the Public Suffix List (§3.2).
//!   Still what many receivers (OpenDMARC among them) do.
//!
//! Both walk the same steps 1–2: several records at one name are all discarded; RFC 7489
//! then stops (no policy), RFC 9989 keeps walking.

use std::fmt;

use sendwell_dns::Lookup;

use crate::query::{Queries, QueryLog, RecordLookup};
use crate::record::DmarcRecord;
use crate::tree_walk::{TreeWalk, psl_organizational_domain, tree_walk};

/// How to find the policy and the Organizational Domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Discovery {
    /// The DNS tree walk of RFC 9989 §4.10 (the default).
    #[default]
    TreeWalk,
    /// The Public Suffix List of RFC 7489 §3.2 and §6.6.3.
    PublicSuffixList,
}

impl Discovery {
    /// `tree_walk` or `public_suffix_list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Discovery::TreeWalk => "tree_walk",
            Discovery::PublicSuffixList => "public_suffix_list",
        }
    }

    /// The RFC section that defines it.
    pub fn rfc(self) -> &'static str {
        match self {
            Discovery::TreeWalk => "RFC 9989 §4.10",
            Discovery::PublicSuffixList => "RFC 7489 §3.2, §6.6.3",
        }
    }
}

impl fmt::Display for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Discovery::TreeWalk => "DNS tree walk (RFC 9989)",
            Discovery::PublicSuffixList => "Public Suffix List (RFC 7489)",
        })
    }
}

/// Which policy applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// A record applies.
    Found {
        /// Where it was published (`_dmarc.<policy_domain>`): the DMARC Policy Domain
        /// (RFC 9989 §3.2.5).
        policy_domain: String,
        /// The record.
        record: DmarcRecord,
    },
    /// No record applies: DMARC does not apply to this Author Domain.
    NoPolicy {
        /// Why, in plain words.
        reason: String,
    },
    /// A query failed temporarily, so whether a record applies is unknown.
    TempError {
        /// Why.
        reason: String,
    },
}

/// The result of policy discovery for one Author Domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDiscovery {
    /// The Author Domain.
    pub author_domain: String,
    /// The method used.
    pub method: Discovery,
    /// Which policy applies.
    pub outcome: PolicyOutcome,
    /// The Author Domain's Organizational Domain, or why it could not be determined.
    pub organizational_domain: Result<String, String>,
    /// The tree walk from the Author Domain (tree-walk method only; `None` if it failed).
    pub walk: Option<TreeWalk>,
    /// Every DNS query made, in order.
    pub queries: Vec<QueryLog>,
}

/// Discover the policy for `author_domain` (normalized: lowercase A-labels, no dot).
pub async fn discover_policy<L: Lookup>(
    lookup: &L,
    author_domain: &str,
    method: Discovery,
) -> PolicyDiscovery {
    let mut queries = Queries::new(lookup);
    let mut d = discover(&mut queries, author_domain, method).await;
    d.queries = std::mem::take(&mut queries.log);
    d
}

pub(crate) async fn discover<L: Lookup>(
    queries: &mut Queries<'_, L>,
    author: &str,
    method: Discovery,
) -> PolicyDiscovery {
    let (outcome, organizational_domain, walk) = match method {
        Discovery::TreeWalk => by_tree_walk(queries, author).await,
        Discovery::PublicSuffixList => by_psl(queries, author).await,
    };
    PolicyDiscovery {
        author_domain: author.to_string(),
        method,
        outcome,
        organizational_domain,
        walk,
        queries: Vec::new(),
    }
}

fn name(domain: &str) -> String {
    format!("_dmarc.{domain}")
}

/// RFC 9989 §4.10.1 with the walk of §4.10: the walk from the Author Domain gives both
/// the policy (the first record found, if at the Author Domain; else the record at the
/// Organizational Domain; else the PSD's) and the Organizational Domain (§4.10.2).
async fn by_tree_walk<L: Lookup>(
    queries: &mut Queries<'_, L>,
    author: &str,
) -> (PolicyOutcome, Result<String, String>, Option<TreeWalk>) {
    // §4.10.1: "Policy discovery starts first with a query for a valid DMARC Policy
    // Record at the name created by prepending the label _dmarc to the Author Domain."
    let at_author = queries.fetch(author).await;
    if let RecordLookup::TempError(reason) = &at_author {
        let reason = format!("the query for {} failed: {reason}", name(author));
        return (
            PolicyOutcome::TempError {
                reason: reason.clone(),
            },
            Err(reason),
            None,
        );
    }
    // The walk re-uses the answer above from the cache.
    let walk = tree_walk(queries, author).await;
    if let RecordLookup::One(record) = at_author {
        // The Author Domain's own record applies even if the walk above it failed; the
        // Organizational Domain is then unknown (needed only for relaxed alignment).
        let org = match &walk {
            Ok(w) => Ok(w.organizational_domain()),
            Err(f) => Err(format!(
                "the query for {} failed: {}",
                name(&f.name),
                f.reason
            )),
        };
        return (
            PolicyOutcome::Found {
                policy_domain: author.to_string(),
                record,
            },
            org,
            walk.ok(),
        );
    }
    let walk = match walk {
        Ok(w) => w,
        Err(f) => {
            let reason = format!("the query for {} failed: {}", name(&f.name), f.reason);
            return (
                PolicyOutcome::TempError {
                    reason: reason.clone(),
                },
                Err(reason),
                None,
            );
        }
    };
    let org = walk.organizational_domain();
    let outcome = if let Some(record) = walk.record_at(&org) {
        PolicyOutcome::Found {
            policy_domain: org.clone(),
            record: record.clone(),
        }
    } else if let Some((psd, record)) = walk.public_suffix_record() {
        // §4.10.1: the record of the Public Suffix Domain, lowest preference.
        PolicyOutcome::Found {
            policy_domain: psd.to_string(),
            record: record.clone(),
        }
    } else {
        PolicyOutcome::NoPolicy {
            reason: no_record_reason(author, &at_author, "on the way up to the top-level domain"),
        }
    };
    (outcome, Ok(org), Some(walk))
}

/// RFC 7489 §6.6.3 steps 1–5 with the Organizational Domain of §3.2.
async fn by_psl<L: Lookup>(
    queries: &mut Queries<'_, L>,
    author: &str,
) -> (PolicyOutcome, Result<String, String>, Option<TreeWalk>) {
    let org = psl_organizational_domain(author);
    let at_author = queries.fetch(author).await;
    let outcome = match at_author {
        RecordLookup::One(record) => PolicyOutcome::Found {
            policy_domain: author.to_string(),
            record,
        },
        RecordLookup::TempError(reason) => PolicyOutcome::TempError {
            reason: format!("the query for {} failed: {reason}", name(author)),
        },
        // Step 5: "If the remaining set contains multiple records or no records, policy
        // discovery terminates" (the Organizational Domain is only asked when the set
        // at the Author Domain is empty, step 3).
        RecordLookup::Several(n) => PolicyOutcome::NoPolicy {
            reason: format!(
                "{} has {n} DMARC records; receivers discard them all",
                name(author)
            ),
        },
        RecordLookup::None | RecordLookup::Invalid(_) if org == author => PolicyOutcome::NoPolicy {
            reason: no_record_reason(
                author,
                &at_author,
                "and it is its own Organizational Domain",
            ),
        },
        RecordLookup::None | RecordLookup::Invalid(_) => match queries.fetch(&org).await {
            RecordLookup::One(record) => PolicyOutcome::Found {
                policy_domain: org.clone(),
                record,
            },
            RecordLookup::TempError(reason) => PolicyOutcome::TempError {
                reason: format!("the query for {} failed: {reason}", name(&org)),
            },
            RecordLookup::Several(n) => PolicyOutcome::NoPolicy {
                reason: format!(
                    "{} has {n} DMARC records; receivers discard them all",
                    name(&org)
                ),
            },
            other => PolicyOutcome::NoPolicy {
                reason: format!(
                    "{}, and {}",
                    no_record_reason(author, &at_author, ""),
                    match other {
                        RecordLookup::Invalid(e) =>
                            format!("the record at {} is invalid: {e}", name(&org)),
                        _ => format!("{} (the Organizational Domain) has none either", name(&org)),
                    }
                ),
            },
        },
    };
    (outcome, Ok(org), None)
}

fn no_record_reason(author: &str, at_author: &RecordLookup, tail: &str) -> String {
    let head = match at_author {
        RecordLookup::Invalid(e) => format!("the record at {} is invalid ({e})", name(author)),
        RecordLookup::Several(n) => {
            format!("{} has {n} DMARC records (all discarded)", name(author))
        }
        _ => format!("no DMARC record at {}", name(author)),
    };
    if tail.is_empty() {
        head
    } else if matches!(at_author, RecordLookup::None) && tail.starts_with("on the way") {
        format!("no DMARC record at {} or {tail}", name(author))
    } else {
        format!("{head} {tail}")
    }
}
