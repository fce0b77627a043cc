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
//! then stops (no policy), RFC 9989 keeps walking. Every name whose records were
//! discarded is kept in [`PolicyDiscovery::discarded`], so that "no policy" names them.
//!
//! One record that starts with `v=DMARC1` but is invalid (a repeated tag) at the name
//! whose policy applies is [`PolicyOutcome::Invalid`]: the verdict is `permerror`, the
//! result RFC 7489 §11.2 defines for "a syntactically incorrect DMARC record". By the
//! list, such a record at the Author Domain also ends discovery (RFC 7489 §6.6.3 step 3
//! asks the Organizational Domain only when the Author Domain's set is empty). By the
//! tree walk, an invalid record at the Author Domain is the same `permerror`; one higher
//! up is discarded like several records, and the walk goes on (RFC 9989 §4.10.1 looks
//! for "a valid DMARC Policy Record").

use std::fmt;

use sendwell_dns::Lookup;

use crate::parse::RecordError;
use crate::query::{Queries, QueryLog, RecordLookup};
use crate::record::DmarcRecord;
use crate::tree_walk::{Discarded, TreeWalk, psl_organizational_domain, tree_walk};

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
    /// The record that would apply starts with `v=DMARC1` but is invalid (a tag
    /// appears twice): receivers cannot use it, and the DMARC result is `permerror`
    /// (RFC 7489 §11.2, RFC 9989 §9.2).
    Invalid {
        /// Where it was published.
        policy_domain: String,
        /// Why it is invalid.
        error: RecordError,
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

impl PolicyOutcome {
    /// The domain whose record applies, valid ([`PolicyOutcome::Found`]) or not
    /// ([`PolicyOutcome::Invalid`]).
    pub fn policy_domain(&self) -> Option<&str> {
        match self {
            PolicyOutcome::Found { policy_domain, .. }
            | PolicyOutcome::Invalid { policy_domain, .. } => Some(policy_domain),
            PolicyOutcome::NoPolicy { .. } | PolicyOutcome::TempError { .. } => None,
        }
    }
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
    /// The names whose DMARC records were discarded (several records, or one invalid
    /// record that is not the one in [`PolicyOutcome::Invalid`]), in the order asked.
    pub discarded: Vec<Discarded>,
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
    let (outcome, organizational_domain, walk, mut discarded) = match method {
        Discovery::TreeWalk => {
            let (outcome, org, walk) = by_tree_walk(queries, author).await;
            let discarded = walk
                .as_ref()
                .map(|w| w.discarded.clone())
                .unwrap_or_default();
            (outcome, org, walk, discarded)
        }
        Discovery::PublicSuffixList => by_psl(queries, author).await,
    };
    // The invalid record that applies is reported as the outcome, not as discarded.
    if let PolicyOutcome::Invalid { policy_domain, .. } = &outcome {
        discarded.retain(|d| d.name != *policy_domain);
    }
    PolicyDiscovery {
        author_domain: author.to_string(),
        method,
        outcome,
        organizational_domain,
        walk,
        discarded,
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
    // §4.10.1: "If no valid DMARC Policy Record is found by the first query, then
    // perform a DNS Tree Walk": an invalid record at the Author Domain is walked past
    // like none (the walk keeps it in `discarded`); only if the walk finds no policy
    // either does it decide the outcome (below).
    let invalid_at_author = match &at_author {
        RecordLookup::Invalid(error) => Some(error.clone()),
        _ => None,
    };
    let own = match at_author {
        RecordLookup::One(record) => Some(PolicyOutcome::Found {
            policy_domain: author.to_string(),
            record,
        }),
        _ => None,
    };
    if let Some(own) = own {
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
        return (own, org, walk.ok());
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
    } else if let Some(error) = invalid_at_author {
        // No other policy applies, and the Author Domain published one that is
        // "a syntactically incorrect DMARC record": RFC 7489 §11.2's permerror.
        PolicyOutcome::Invalid {
            policy_domain: author.to_string(),
            error,
        }
    } else if walk.discarded.is_empty() {
        PolicyOutcome::NoPolicy {
            reason: format!(
                "no DMARC record at {} or on the way up to the top-level domain",
                name(author)
            ),
        }
    } else {
        // §4.10 steps 2 and 6: the walk threw records away; say which, so the owner
        // repairs those rather than publishing a new one.
        PolicyOutcome::NoPolicy {
            reason: format!(
                "no usable DMARC record at {} or on the way up to the top-level domain: {}",
                name(author),
                list(&walk.discarded)
            ),
        }
    };
    (outcome, Ok(org), Some(walk))
}

fn list(discarded: &[Discarded]) -> String {
    discarded
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// RFC 7489 §6.6.3 steps 1–5 with the Organizational Domain of §3.2.
async fn by_psl<L: Lookup>(
    queries: &mut Queries<'_, L>,
    author: &str,
) -> (
    PolicyOutcome,
    Result<String, String>,
    Option<TreeWalk>,
    Vec<Discarded>,
) {
    let org = psl_organizational_domain(author);
    let at_author = queries.fetch(author).await;
    let mut discarded: Vec<Discarded> = Discarded::from_lookup(author, &at_author)
        .into_iter()
        .collect();
    let outcome = match at_author {
        RecordLookup::One(record) => PolicyOutcome::Found {
            policy_domain: author.to_string(),
            record,
        },
        RecordLookup::TempError(reason) => PolicyOutcome::TempError {
            reason: format!("the query for {} failed: {reason}", name(author)),
        },
        // Step 3: the Organizational Domain is asked only "if the set is now empty".
        // One record starting with v=DMARC1 makes it non-empty, so an invalid one there
        // is the record that applies: permerror (RFC 7489 §11.2).
        RecordLookup::Invalid(error) => PolicyOutcome::Invalid {
            policy_domain: author.to_string(),
            error,
        },
        // Step 5: "If the remaining set contains multiple records or no records, policy
        // discovery terminates".
        RecordLookup::Several(_) => PolicyOutcome::NoPolicy {
            reason: format!("{}; receivers then stop looking", list(&discarded)),
        },
        RecordLookup::None if org == author => PolicyOutcome::NoPolicy {
            reason: format!(
                "no DMARC record at {}, and it is its own Organizational Domain",
                name(author)
            ),
        },
        RecordLookup::None => {
            let at_org = queries.fetch(&org).await;
            discarded.extend(Discarded::from_lookup(&org, &at_org));
            match at_org {
                RecordLookup::One(record) => PolicyOutcome::Found {
                    policy_domain: org.clone(),
                    record,
                },
                RecordLookup::TempError(reason) => PolicyOutcome::TempError {
                    reason: format!("the query for {} failed: {reason}", name(&org)),
                },
                // Steps 3–5 at the Organizational Domain: its one record is the one
                // that applies, and an invalid one is a permerror (§11.2).
                RecordLookup::Invalid(error) => PolicyOutcome::Invalid {
                    policy_domain: org.clone(),
                    error,
                },
                RecordLookup::Several(_) => PolicyOutcome::NoPolicy {
                    reason: format!(
                        "no DMARC record at {}, and {}",
                        name(author),
                        list(&discarded)
                    ),
                },
                RecordLookup::None => PolicyOutcome::NoPolicy {
                    reason: format!(
                        "no DMARC record at {}, and {} (the Organizational Domain) has none either",
                        name(author),
                        name(&org)
                    ),
                },
            }
        }
    };
    (outcome, Ok(org), None, discarded)
}
