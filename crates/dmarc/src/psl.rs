//! The Public Suffix List (publicsuffix.org), shipped inside this crate.
//!
//! RFC 7489 §3.2 finds a domain's Organizational Domain with a "public suffix" list: the
//! registrable part of a name is the longest listed suffix plus one label. RFC 9989
//! replaced the list with the DNS tree walk (see [`crate::tree_walk`]), but receivers still
//! use it, so Sendwell evaluates both and says which one applied.
//!
//! Design decisions:
//! - The list is compiled in (`include_str!` of `data/public_suffix_list.dat`) and parsed
//!   once, on first use, into one hash map keyed by the rule's suffix. A lookup costs one
//!   map probe per label of the name, whatever the list's size.
//! - Rules are stored as A-labels (RFC 5890 §2.3.2.1): Unicode rules are converted when
//!   the list is parsed, and Unicode names are converted label by label when looked up,
//!   so `食狮.公司.cn` and `xn--85x722f.xn--55qx5d.cn` give the same answer. Answers keep
//!   the labels as they were given (lowercased).
//! - Both sections are used, ICANN and PRIVATE (`blogspot.com`, `github.io`): a private
//!   suffix is as much a registration boundary for mail as a country's `co.uk`.
//!
//! Updating the list: replace `data/public_suffix_list.dat` with the current file from
//! <https://publicsuffix.org/list/public_suffix_list.dat>, run
//! `cargo test -p sendwell-dmarc` (the upstream vectors in `tests/data/` must still pass)
//! and note the new upstream commit in `tests/data/SOURCES.md`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The list compiled into this crate (MPL-2.0, see the file's header).
pub const EMBEDDED_LIST: &str = include_str!("../data/public_suffix_list.dat");

/// A plain rule (`co.uk`).
const NORMAL: u8 = 1;
/// A wildcard rule (`*.ck`), stored under the part after `*.`.
const WILDCARD: u8 = 2;
/// An exception rule (`!www.ck`), stored without the `!`.
const EXCEPTION: u8 = 4;
/// The rule comes from the PRIVATE section.
const PRIVATE: u8 = 8;

/// A parsed Public Suffix List.
#[derive(Debug, Default, Clone)]
pub struct PublicSuffixList {
    rules: HashMap<Box<str>, u8>,
}

/// A name's public suffix, as found by [`PublicSuffixList::public_suffix`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSuffix {
    /// The suffix, lowercased, in the form the name was given in.
    pub suffix: String,
    /// How many labels the suffix has.
    pub labels: usize,
    /// The suffix matched an explicit rule (not the implicit `*` for an unlisted TLD).
    pub listed: bool,
    /// The rule that decided is in the list's PRIVATE section (`blogspot.com`).
    pub private: bool,
}

static EMBEDDED: LazyLock<PublicSuffixList> =
    LazyLock::new(|| PublicSuffixList::parse(EMBEDDED_LIST));

/// The list shipped in this crate, parsed on first use.
pub fn embedded() -> &'static PublicSuffixList {
    &EMBEDDED
}

impl PublicSuffixList {
    /// Parse a list in the publicsuffix.org format: one rule per line, `//` comments,
    /// `*.` wildcards, `!` exceptions, and the `===BEGIN PRIVATE DOMAINS===` marker.
    /// Lines that cannot be a rule are skipped.
    pub fn parse(text: &str) -> Self {
        let mut rules: HashMap<Box<str>, u8> = HashMap::new();
        let mut private = 0u8;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("//") {
                if line.contains("===BEGIN PRIVATE DOMAINS===") {
                    private = PRIVATE;
                } else if line.contains("===END PRIVATE DOMAINS===") {
                    private = 0;
                }
                continue;
            }
            // The format says a rule is the first whitespace-delimited word of a line.
            let Some(rule) = line.split_whitespace().next() else {
                continue;
            };
            let (kind, name) = if let Some(rest) = rule.strip_prefix("*.") {
                (WILDCARD, rest)
            } else if let Some(rest) = rule.strip_prefix('!') {
                (EXCEPTION, rest)
            } else {
                (NORMAL, rule)
            };
            let Some(key) = to_ascii_key(name) else {
                continue;
            };
            *rules.entry(key.into_boxed_str()).or_default() |= kind | private;
        }
        PublicSuffixList { rules }
    }

    /// How many rules the list holds (a wildcard and a plain rule on one suffix count once).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the list holds no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The public suffix of `domain` by the publicsuffix.org algorithm: the longest
    /// matching rule wins, an exception rule beats all others and gives its own name
    /// minus one label, and a name that matches nothing has its TLD as public suffix
    /// (the implicit `*` rule).
    ///
    /// `None` for input that is not a domain name (empty, an empty label such as a
    /// leading dot). One trailing dot is allowed.
    pub fn public_suffix(&self, domain: &str) -> Option<PublicSuffix> {
        let labels = split_labels(domain)?;
        let keys: Vec<String> = labels
            .iter()
            .map(|l| to_ascii_label(l))
            .collect::<Option<_>>()?;
        let count = keys.len();
        // suffix(k) = the last k labels, as a lookup key.
        let suffix = |k: usize| keys[count - k..].join(".");
        let mut best = 1usize;
        let mut listed = false;
        let mut private = false;
        let mut exception: Option<(usize, bool)> = None;
        for k in 1..=count {
            let flags = self.rules.get(suffix(k).as_str()).copied().unwrap_or(0);
            if flags & EXCEPTION != 0 {
                exception = Some((k, flags & PRIVATE != 0));
            }
            if flags & NORMAL != 0 && k >= best {
                best = k;
                listed = true;
                private = flags & PRIVATE != 0;
            }
            if k >= 2 {
                let parent = self.rules.get(suffix(k - 1).as_str()).copied().unwrap_or(0);
                if parent & WILDCARD != 0 && k >= best {
                    best = k;
                    listed = true;
                    private = parent & PRIVATE != 0;
                }
            }
        }
        let (labels_in_suffix, listed, private) = match exception {
            Some((k, private)) => (k - 1, true, private),
            None => (best, listed, private),
        };
        Some(PublicSuffix {
            suffix: labels[count - labels_in_suffix..].join("."),
            labels: labels_in_suffix,
            listed,
            private,
        })
    }

    /// The registrable domain of `domain`: its public suffix plus one label.
    /// `None` when `domain` is itself a public suffix, or not a domain name.
    pub fn registrable_domain(&self, domain: &str) -> Option<String> {
        let labels = split_labels(domain)?;
        let suffix = self.public_suffix(domain)?;
        if suffix.labels >= labels.len() {
            return None;
        }
        Some(labels[labels.len() - suffix.labels - 1..].join("."))
    }
}

/// Lowercased labels of `domain`, or `None` if it has an empty label.
fn split_labels(domain: &str) -> Option<Vec<String>> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return None;
    }
    let labels: Vec<String> = domain.split('.').map(str::to_lowercase).collect();
    if labels.iter().any(String::is_empty) {
        return None;
    }
    Some(labels)
}

/// One label as the A-label used for lookups.
fn to_ascii_label(label: &str) -> Option<String> {
    if label.is_ascii() {
        return Some(label.to_ascii_lowercase());
    }
    // RFC 5890 §2.3.2.1: the A-label of a U-label. UTS #46 processing also maps case.
    let ascii = idna::domain_to_ascii(label).ok()?;
    (!ascii.is_empty() && !ascii.contains('.')).then_some(ascii)
}

/// A rule's name as a lookup key (labels converted one by one).
fn to_ascii_key(name: &str) -> Option<String> {
    let labels = split_labels(name)?;
    let keys: Option<Vec<String>> = labels.iter().map(|l| to_ascii_label(l)).collect();
    Some(keys?.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_embedded_list() {
        let list = embedded();
        assert!(list.len() > 9000, "only {} rules", list.len());
        let uk = list.public_suffix("www.example.co.uk").unwrap();
        assert_eq!(uk.suffix, "co.uk");
        assert!(!uk.private);
        let blog = list.public_suffix("alice.blogspot.com").unwrap();
        assert_eq!(blog.suffix, "blogspot.com");
        assert!(blog.private);
        assert_eq!(
            list.registrable_domain("a.b.alice.blogspot.com").as_deref(),
            Some("alice.blogspot.com")
        );
        assert_eq!(list.registrable_domain("co.uk"), None);
        assert!(!list.public_suffix("example.invalidtld").unwrap().listed);
    }

    #[test]
    fn trailing_dot_and_case() {
        let list = embedded();
        assert_eq!(
            list.registrable_domain("Mail.Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(list.registrable_domain("example..com"), None);
        assert_eq!(list.registrable_domain("."), None);
    }
}
