//! The DNS Tree Walk (RFC 9989 §4.10) and the Organizational Domain it determines
//! (§4.10.2).
//!
//! Starting at a domain, ask `_dmarc.<name>` at the domain, then at shorter and shorter
//! names up to the top-level domain, at most [`MAX_TREE_WALK_QUERIES`] names (long names
//! jump straight to their last seven labels). The walk stops at a record with `psd=y` or
//! `psd=n`. From the records found, the Organizational Domain is:
//! 1. the domain of a `psd=n` record;
//! 2. else, one label below a `psd=y` record (unless that record is the start's own);
//! 3. else, the domain with the fewest labels that has a record;
//! 4. else, the start domain itself.
//!
//! A name with several DMARC records, or one invalid record, is walked past; the walk
//! keeps it in [`TreeWalk::discarded`], so that a walk that finds nothing can say which
//! records receivers threw away.
//!
//! The Public Suffix List alternative of RFC 7489 §3.2 is [`psl_organizational_domain`].

use std::fmt;

use sendwell_dns::Lookup;

use crate::parse::RecordError;
use crate::psl;
use crate::query::{Queries, RecordLookup, policy_name};
use crate::record::{DmarcRecord, Psd};

/// The most names one tree walk asks (RFC 9989 §4.10: "Author Domains with more than
/// eight labels do not result in more than eight DNS queries").
pub const MAX_TREE_WALK_QUERIES: usize = 8;

/// The names a tree walk from `domain` asks, in order (RFC 9989 §4.10 steps 1, 3–7):
/// the domain itself; then, if it has eight labels or more, its last seven labels,
/// else its parent; then each parent up to the top-level domain.
pub fn walk_names(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').collect();
    let count = labels.len();
    let mut names = vec![domain.to_string()];
    let mut keep = if count >= MAX_TREE_WALK_QUERIES {
        MAX_TREE_WALK_QUERIES - 1
    } else {
        count.saturating_sub(1)
    };
    while keep >= 1 {
        names.push(labels[count - keep..].join("."));
        keep -= 1;
    }
    names
}

/// What one tree walk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeWalk {
    /// Where the walk started.
    pub start: String,
    /// Each name with exactly one valid DMARC record, longest first.
    pub found: Vec<(String, DmarcRecord)>,
    /// Each name whose DMARC records the walk discarded and walked past, longest first.
    /// Kept so that "no policy" can say which records a receiver threw away.
    pub discarded: Vec<Discarded>,
}

/// A name whose DMARC records policy discovery could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discarded {
    /// The domain (without the `_dmarc.` label).
    pub name: String,
    /// Why its records were discarded.
    pub why: DiscardReason,
}

/// Why the DMARC records at a name were discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    /// Several records start with `v=DMARC1`: all are discarded (RFC 9989 §4.10 step 2,
    /// RFC 7489 §6.6.3 step 5).
    Several(usize),
    /// One record starts with `v=DMARC1` but is invalid (a repeated tag).
    Invalid(RecordError),
}

impl Discarded {
    /// The entry for `lookup` at `name`, if `lookup` is a discarded answer.
    pub(crate) fn from_lookup(name: &str, lookup: &RecordLookup) -> Option<Discarded> {
        let why = match lookup {
            RecordLookup::Several(n) => DiscardReason::Several(*n),
            RecordLookup::Invalid(e) => DiscardReason::Invalid(e.clone()),
            _ => return None,
        };
        Some(Discarded {
            name: name.to_string(),
            why,
        })
    }
}

impl fmt::Display for Discarded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = policy_name(&self.name);
        match &self.why {
            DiscardReason::Several(n) => write!(f, "{name} has {n} DMARC records (all discarded)"),
            DiscardReason::Invalid(e) => {
                write!(f, "the record at {name} is invalid and was discarded ({e})")
            }
        }
    }
}

/// A tree walk that could not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkFailed {
    /// The name whose query failed.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Walk from `start` (RFC 9989 §4.10). A temporary DNS failure ends the walk with `Err`.
pub(crate) async fn tree_walk<L: Lookup>(
    queries: &mut Queries<'_, L>,
    start: &str,
) -> Result<TreeWalk, WalkFailed> {
    let mut walk = TreeWalk {
        start: start.to_string(),
        found: Vec::new(),
        discarded: Vec::new(),
    };
    for name in walk_names(start) {
        let answer = queries.fetch(&name).await;
        match answer {
            RecordLookup::TempError(reason) => return Err(WalkFailed { name, reason }),
            RecordLookup::One(record) => {
                let stop = matches!(record.psd(), Psd::Yes | Psd::No);
                walk.found.push((name, record));
                // Step 2 / 6: "If a single record remains and it contains a psd=n or
                // psd=y tag, stop."
                if stop {
                    break;
                }
            }
            RecordLookup::None => {}
            // Step 2 / 6: several records are all discarded, and the walk goes on; an
            // invalid record is no "valid DMARC Policy Record" (§4.10.1) either. Keep
            // the name, so that a walk that finds nothing can say what it threw away.
            RecordLookup::Several(_) | RecordLookup::Invalid(_) => {
                walk.discarded
                    .extend(Discarded::from_lookup(&name, &answer));
            }
        }
    }
    Ok(walk)
}

impl TreeWalk {
    /// The Organizational Domain (RFC 9989 §4.10.2 selection rules 1–3, then the start).
    pub fn organizational_domain(&self) -> String {
        // Rule 1: "If a valid DMARC Policy Record contains the psd tag set to n, this is
        // the Organizational Domain."
        if let Some((name, _)) = self.found.iter().find(|(_, r)| r.psd() == Psd::No) {
            return name.clone();
        }
        // Rule 2: a psd=y record, other than the start's own: one label below it.
        if let Some((name, _)) = self
            .found
            .iter()
            .find(|(n, r)| r.psd() == Psd::Yes && *n != self.start)
        {
            return one_label_below(&self.start, name);
        }
        // Rule 3: the record at the name with the fewest labels.
        if let Some((name, _)) = self.found.iter().min_by_key(|(n, _)| n.split('.').count()) {
            return name.clone();
        }
        // "If this process does not determine the Organizational Domain, then the
        // initial target domain is the Organizational Domain."
        self.start.clone()
    }

    /// The record found at `name`, if any.
    pub fn record_at(&self, name: &str) -> Option<&DmarcRecord> {
        self.found.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// The `psd=y` record the walk stopped at, if any.
    pub fn public_suffix_record(&self) -> Option<(&str, &DmarcRecord)> {
        self.found
            .iter()
            .find(|(_, r)| r.psd() == Psd::Yes)
            .map(|(n, r)| (n.as_str(), r))
    }
}

/// The name one label below `ancestor` on the way to `descendant`
/// (`mail.example.com` for `a.mail.example.com` under `example.com`).
fn one_label_below(descendant: &str, ancestor: &str) -> String {
    let keep = ancestor.split('.').count() + 1;
    let labels: Vec<&str> = descendant.split('.').collect();
    labels[labels.len().saturating_sub(keep)..].join(".")
}

/// The Organizational Domain by the Public Suffix List (RFC 7489 §3.2): the longest
/// public suffix plus one label.
///
/// RFC 7489 §3.2 step 4 needs a label beyond the suffix; for a name that is itself a
/// public suffix (`co.uk`, or `bank.example` under `*.example`) there is none, and this
/// returns the name itself, so that such a name aligns only with itself.
pub fn psl_organizational_domain(domain: &str) -> String {
    psl::embedded()
        .registrable_domain(domain)
        .unwrap_or_else(|| domain.to_string())
}

/// True when `name` is `ancestor` or below it.
pub(crate) fn is_at_or_below(name: &str, ancestor: &str) -> bool {
    name == ancestor
        || name
            .strip_suffix(ancestor)
            .is_some_and(|head| head.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc9989_4_10() {
        // RFC 9989 §4.10's example: eight queries for a thirteen-label name.
        assert_eq!(
            walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com"),
            vec![
                "a.b.c.d.e.f.g.h.i.j.mail.example.com",
                "g.h.i.j.mail.example.com",
                "h.i.j.mail.example.com",
                "i.j.mail.example.com",
                "j.mail.example.com",
                "mail.example.com",
                "example.com",
                "com",
            ]
        );
        assert_eq!(
            walk_names("a.mail.example.com"),
            vec![
                "a.mail.example.com",
                "mail.example.com",
                "example.com",
                "com"
            ]
        );
        assert_eq!(walk_names("com"), vec!["com"]);
        // Exactly eight labels: one label off, then one at a time (8 queries).
        let eight = walk_names("a.b.c.d.e.f.example.com");
        assert_eq!(eight[1], "b.c.d.e.f.example.com");
        assert_eq!(eight.len(), 8);
        // Nine labels: straight to seven.
        let nine = walk_names("x.a.b.c.d.e.f.example.com");
        assert_eq!(nine[1], "b.c.d.e.f.example.com");
        assert_eq!(nine.len(), 8);
    }

    #[test]
    fn below_and_ancestry() {
        assert_eq!(
            one_label_below("a.mail.example.com", "example.com"),
            "mail.example.com"
        );
        assert!(is_at_or_below("a.example.com", "example.com"));
        assert!(is_at_or_below("example.com", "example.com"));
        assert!(!is_at_or_below("badexample.com", "example.com"));
        assert_eq!(
            psl_organizational_domain("a.b.example.co.uk"),
            "example.co.uk"
        );
        assert_eq!(psl_organizational_domain("co.uk"), "co.uk");
    }
}
