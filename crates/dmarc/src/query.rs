//! Fetching DMARC Policy Records from DNS, with a per-evaluation cache and a log.
//!
//! RFC 9989 §4.10 steps 1–2 (RFC 7489 §6.6.3 steps 1–2): ask for the TXT records at
//! `_dmarc.<domain>`, join each record's strings (§4.5), discard those that do not
//! start with `v=DMARC1`; if several remain, discard them all.
//!
//! The cache matters because one evaluation walks the tree several times (the Author
//! Domain, then each Authenticated Identifier), and the walks overlap: RFC 9989
//! Appendix B.4.2 counts on the identifier walk reusing the names the author walk asked.

use std::collections::HashMap;

use sendwell_dns::{Lookup, LookupError};

use crate::parse::RecordError;
use crate::record::DmarcRecord;

/// What `_dmarc.<domain>` holds, for DMARC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordLookup {
    /// Exactly one DMARC record.
    One(DmarcRecord),
    /// No TXT record starting with `v=DMARC1` (NXDOMAIN, no data, or other TXT only).
    None,
    /// One record starting with `v=DMARC1` that is nonetheless invalid (a repeated tag).
    Invalid(RecordError),
    /// Several DMARC records: all are discarded (RFC 9989 §4.10 step 2).
    Several(usize),
    /// The query failed in a way that may pass (timeout, SERVFAIL).
    TempError(String),
}

impl RecordLookup {
    /// The record, when there is exactly one valid record.
    pub fn record(&self) -> Option<&DmarcRecord> {
        match self {
            RecordLookup::One(r) => Some(r),
            _ => None,
        }
    }
}

/// One DNS query made during an evaluation, for explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryLog {
    /// The name asked, e.g. `TXT _dmarc.example.com` or `A sub.example.com`.
    pub query: String,
    /// What came back, in plain words.
    pub answer: String,
}

/// The name DMARC asks for `domain`'s policy (RFC 9989 §4.5).
pub fn policy_name(domain: &str) -> String {
    format!("_dmarc.{domain}")
}

/// True when a TXT record passes the version test (RFC 9989 §4.10 step 2): it starts
/// with a `v` tag whose value is exactly `DMARC1`.
pub fn is_dmarc_version(text: &str) -> bool {
    !matches!(
        text.parse::<DmarcRecord>(),
        Err(RecordError::NoVersion | RecordError::WrongVersion(_))
    )
}

/// DNS for one evaluation: the lookup, the cache and the log.
pub(crate) struct Queries<'l, L> {
    lookup: &'l L,
    cache: HashMap<String, RecordLookup>,
    pub(crate) log: Vec<QueryLog>,
}

impl<'l, L: Lookup> Queries<'l, L> {
    pub(crate) fn new(lookup: &'l L) -> Self {
        Queries {
            lookup,
            cache: HashMap::new(),
            log: Vec::new(),
        }
    }

    /// The DMARC record situation at `_dmarc.<domain>`.
    pub(crate) async fn fetch(&mut self, domain: &str) -> RecordLookup {
        if let Some(hit) = self.cache.get(domain) {
            return hit.clone();
        }
        let name = policy_name(domain);
        let result = fetch_record(self.lookup, &name).await;
        self.log.push(QueryLog {
            query: format!("TXT {name}"),
            answer: describe(&result),
        });
        self.cache.insert(domain.to_string(), result.clone());
        result
    }

    /// Whether `domain` exists (RFC 9989 Appendix A.4: any record, i.e. not NXDOMAIN).
    /// `Err` with the reason on a temporary failure.
    pub(crate) async fn exists(&mut self, domain: &str) -> Result<bool, String> {
        let answer = self.lookup.lookup_a(domain).await;
        let (result, text) = match &answer {
            Ok(ips) => (Ok(true), format!("{} address(es)", ips.len())),
            Err(LookupError::NoData) => (Ok(true), "no A records, but the name exists".into()),
            Err(LookupError::NxDomain) => (Ok(false), "NXDOMAIN: the name does not exist".into()),
            Err(LookupError::InvalidName(_)) => (Ok(false), "not a valid name".into()),
            Err(e) => (Err(e.to_string()), e.to_string()),
        };
        self.log.push(QueryLog {
            query: format!("A {domain}"),
            answer: text,
        });
        result
    }
}

/// Ask for the DMARC record(s) at `name` (already `_dmarc.`-prefixed).
pub async fn fetch_record<L: Lookup>(lookup: &L, name: &str) -> RecordLookup {
    let records = match lookup.lookup_txt(name).await {
        Ok(records) => records,
        Err(e) if e.is_temporary() => return RecordLookup::TempError(e.to_string()),
        // NXDOMAIN, no data, or a name that cannot exist: no record.
        Err(_) => return RecordLookup::None,
    };
    let texts: Vec<String> = records
        .iter()
        .map(|t| t.to_string_lossy())
        .filter(|t| is_dmarc_version(t))
        .collect();
    match texts.as_slice() {
        [] => RecordLookup::None,
        [one] => match one.parse::<DmarcRecord>() {
            Ok(r) => RecordLookup::One(r),
            Err(e) => RecordLookup::Invalid(e),
        },
        many => RecordLookup::Several(many.len()),
    }
}

fn describe(result: &RecordLookup) -> String {
    match result {
        RecordLookup::One(r) => format!("\"{r}\""),
        RecordLookup::None => "no DMARC record".into(),
        RecordLookup::Invalid(e) => format!("an invalid DMARC record: {e}"),
        RecordLookup::Several(n) => format!("{n} DMARC records (all discarded)"),
        RecordLookup::TempError(e) => format!("temporary failure: {e}"),
    }
}
