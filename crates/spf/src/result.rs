//! SPF results (RFC 7208 §2.6) and everything `check_host()` says about how it reached
//! one. `SpfResult`'s `Display` gives the lowercase token used in `Received-SPF` and
//! `Authentication-Results` (RFC 8601 §2.7.2).

use std::fmt::{self, Display, Formatter};
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::parse::ParseError;
use crate::record::Qualifier;
use crate::trace::TraceEvent;

/// The outcome of `check_host()` (RFC 7208 §2.6). Never an `Err`: DNS failures are
/// [`SpfResult::TempError`], bad records [`SpfResult::PermError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// No usable domain, or no SPF record published (§2.6.1).
    None,
    /// The domain owner states nothing about the host: `?` matched, or nothing matched
    /// and there is no `redirect` (§2.6.2).
    Neutral,
    /// The host is authorized (§2.6.3).
    Pass,
    /// The host is explicitly not authorized (§2.6.4).
    Fail,
    /// Probably not authorized; a weak `fail` (§2.6.5).
    SoftFail,
    /// A transient (generally DNS) error; trying later may succeed (§2.6.6).
    TempError,
    /// The published records could not be interpreted; needs a human (§2.6.7).
    PermError,
}

impl SpfResult {
    /// All seven, in the order of RFC 7208 §2.6.
    pub const ALL: [SpfResult; 7] = [
        SpfResult::None,
        SpfResult::Neutral,
        SpfResult::Pass,
        SpfResult::Fail,
        SpfResult::SoftFail,
        SpfResult::TempError,
        SpfResult::PermError,
    ];

    /// The lowercase token (RFC 7208 §8, RFC 8601 §2.7.2).
    pub fn as_str(self) -> &'static str {
        match self {
            SpfResult::None => "none",
            SpfResult::Neutral => "neutral",
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

impl From<Qualifier> for SpfResult {
    /// RFC 7208 §4.6.2: the result of a matching directive is its qualifier's.
    fn from(q: Qualifier) -> Self {
        match q {
            Qualifier::Pass => SpfResult::Pass,
            Qualifier::Fail => SpfResult::Fail,
            Qualifier::SoftFail => SpfResult::SoftFail,
            Qualifier::Neutral => SpfResult::Neutral,
        }
    }
}

impl Display for SpfResult {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not one of the seven result tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an SPF result (none, neutral, pass, fail, softfail, temperror, permerror)")]
pub struct UnknownResult(pub String);

impl FromStr for SpfResult {
    type Err = UnknownResult;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpfResult::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownResult(s.to_string()))
    }
}

impl Serialize for SpfResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The kind of a DNS failure, as `check_host()` distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// No answer in time.
    Timeout,
    /// SERVFAIL, REFUSED or an unusable answer.
    ServerFailure,
}

/// Why `check_host()` gave `none`, `temperror` or `permerror` (the `problem` of the
/// `Received-SPF` header, RFC 7208 §9.1).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// §4.3: the domain is malformed (empty or over-long label, over 253 octets, a
    /// single label, an address literal) → `none`.
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// §4.3: the domain does not exist (NXDOMAIN) → `none`.
    DomainNotFound {
        /// The domain.
        domain: String,
    },
    /// §4.5: no TXT record starts with `v=spf1` → `none`.
    NoSpfRecord {
        /// The domain.
        domain: String,
    },
    /// §4.4, §5: a DNS query failed → `temperror`.
    Dns {
        /// The name asked about.
        name: String,
        /// The record type asked for (`TXT`, `A`, …).
        query: &'static str,
        /// Timeout or server failure.
        failure: DnsFailure,
    },
    /// §4.5: more than one SPF record → `permerror`.
    MultipleRecords {
        /// The domain.
        domain: String,
        /// How many.
        count: usize,
    },
    /// §4.6: the record does not follow the grammar → `permerror`.
    Syntax {
        /// The domain whose record it is.
        domain: String,
        /// The record text (lossy UTF-8).
        record: String,
        /// What is wrong.
        error: ParseError,
    },
    /// §4.6.4: more than 10 DNS-querying terms → `permerror`.
    LookupLimit,
    /// §4.6.4: more than 2 void lookups → `permerror`.
    VoidLookupLimit,
    /// §4.6.4: one `mx` needed more than 10 address lookups → `permerror`.
    MxLimit {
        /// The target of the `mx`.
        target: String,
    },
    /// §5.2: an `include` target has no SPF record → `permerror`.
    IncludeNone {
        /// The target.
        target: String,
    },
    /// §6.1: a `redirect` target is malformed or has no SPF record → `permerror`.
    RedirectNone {
        /// The target.
        target: String,
    },
    /// Macro expansion exceeded its budget (see `expand.rs`) → `permerror`.
    ExpansionLimit,
    /// The receiver's time limit for the whole evaluation ran out → `temperror` (RFC 7208
    /// §4.6.4: "If such a limit is exceeded, the result of authorization SHOULD be
    /// "temperror""). Set by callers that bound the time, see
    /// [`crate::SpfVerdict::timed_out`].
    TimeLimit {
        /// The limit, in seconds.
        seconds: u64,
    },
}

impl Problem {
    /// A stable snake_case code for scripts.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::InvalidDomain { .. } => "invalid_domain",
            Problem::DomainNotFound { .. } => "domain_not_found",
            Problem::NoSpfRecord { .. } => "no_spf_record",
            Problem::Dns { .. } => "dns_failure",
            Problem::MultipleRecords { .. } => "multiple_records",
            Problem::Syntax { .. } => "syntax_error",
            Problem::LookupLimit => "lookup_limit",
            Problem::VoidLookupLimit => "void_lookup_limit",
            Problem::MxLimit { .. } => "mx_limit",
            Problem::IncludeNone { .. } => "include_none",
            Problem::RedirectNone { .. } => "redirect_none",
            Problem::ExpansionLimit => "expansion_limit",
            Problem::TimeLimit { .. } => "time_limit",
        }
    }
}

impl Display for Problem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Problem::InvalidDomain { domain } => {
                write!(
                    f,
                    "{domain:?} is not a valid multi-label domain name (RFC 7208 §4.3)"
                )
            }
            Problem::DomainNotFound { domain } => {
                write!(f, "{domain} does not exist (NXDOMAIN, RFC 7208 §4.3)")
            }
            Problem::NoSpfRecord { domain } => {
                write!(f, "{domain} publishes no SPF record (RFC 7208 §4.5)")
            }
            Problem::Dns {
                name,
                query,
                failure,
            } => {
                let what = match failure {
                    DnsFailure::Timeout => "timed out",
                    DnsFailure::ServerFailure => "failed",
                };
                write!(f, "the DNS query {query} {name} {what} (RFC 7208 §4.4, §5)")
            }
            Problem::MultipleRecords { domain, count } => write!(
                f,
                "{domain} publishes {count} SPF records; exactly one is allowed (RFC 7208 §4.5)"
            ),
            Problem::Syntax {
                domain,
                record,
                error,
            } => write!(f, "the record of {domain} ({record:?}) is invalid: {error}"),
            Problem::LookupLimit => write!(
                f,
                "more than {} DNS-querying terms (RFC 7208 §4.6.4)",
                crate::MAX_DNS_LOOKUPS
            ),
            Problem::VoidLookupLimit => write!(
                f,
                "more than {} void lookups (RFC 7208 §4.6.4)",
                crate::MAX_VOID_LOOKUPS
            ),
            Problem::MxLimit { target } => write!(
                f,
                "mx:{target} needs more than {} address lookups (RFC 7208 §4.6.4)",
                crate::MAX_NAMES_PER_LOOKUP
            ),
            Problem::IncludeNone { target } => write!(
                f,
                "include:{target} has no SPF record, which makes the include a permerror (RFC 7208 §5.2)"
            ),
            Problem::RedirectNone { target } => write!(
                f,
                "redirect={target} is malformed or has no SPF record (RFC 7208 §6.1)"
            ),
            Problem::ExpansionLimit => write!(
                f,
                "macro expansion exceeded {} octets",
                crate::expand::MAX_EXPANSION_OCTETS
            ),
            Problem::TimeLimit { seconds } => write!(
                f,
                "the evaluation took longer than {seconds} s (RFC 7208 §4.6.4)"
            ),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Problem", 2)?;
        st.serialize_field("code", self.code())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

/// The term that decided the result, and the domain whose record holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecidingTerm {
    /// The domain whose record holds the term.
    pub domain: String,
    /// The term as written in canonical form (`-all`, `include:_spf.example.com`, …).
    pub term: String,
}

/// Everything `check_host()` returns (RFC 7208 §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckHostOutput {
    /// The result (RFC 7208 §2.6).
    pub result: SpfResult,
    /// The `<domain>` check_host() was called with.
    pub domain: String,
    /// The expanded `exp=` explanation (RFC 7208 §6.2). Only for `fail`, and only when
    /// the deciding record has an `exp=` whose TXT record could be fetched and expanded;
    /// `None` otherwise (a receiver may then use a default text).
    pub explanation: Option<String>,
    /// The term that decided. `None` when nothing matched (the default `neutral`) or
    /// when the evaluation stopped before any term (no record, DNS failure).
    pub decided_by: Option<DecidingTerm>,
    /// Why the result is `none`, `temperror` or `permerror`.
    pub problem: Option<Problem>,
    /// DNS-querying terms evaluated, across includes and redirects (RFC 7208 §4.6.4;
    /// at most [`crate::MAX_DNS_LOOKUPS`] unless the result is a permerror for it).
    pub lookups: usize,
    /// Terms whose DNS queries found nothing (NXDOMAIN or no data, RFC 7208 §4.6.4).
    pub void_lookups: usize,
    /// What happened, step by step; empty unless [`crate::Config::trace`] is set.
    pub trace: Vec<TraceEvent>,
}
