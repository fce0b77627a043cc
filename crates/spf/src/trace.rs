//! The trace of one `check_host()` evaluation: every term tried, every DNS query with
//! its answer or error kind, the running counts of RFC 7208 §4.6.4, and which term
//! decided. It is what `sendwell spf check --trace` prints and what `--json` carries.
//!
//! Design decision: events are plain data (serde-serializable, snake_case tags), so a
//! script gets the same facts a person reads; `Display` renders one indented line each.

use std::fmt::{self, Display, Formatter};

use serde::Serialize;

use crate::result::SpfResult;
use sendwell_dns::LookupError;

/// How a `check_host()` run was entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The evaluation asked for.
    Start,
    /// An `include` mechanism (RFC 7208 §5.2).
    Include,
    /// A `redirect` modifier (RFC 7208 §6.1).
    Redirect,
}

/// A DNS answer as the trace records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Answer {
    /// Records, in presentation form.
    Records {
        /// The records.
        records: Vec<String>,
    },
    /// NXDOMAIN: a void lookup (RFC 7208 §4.6.4).
    NxDomain,
    /// NOERROR without records: a void lookup (RFC 7208 §4.6.4).
    NoData,
    /// No answer in time.
    Timeout,
    /// SERVFAIL, REFUSED or an unusable answer.
    ServerFailure {
        /// The resolver's words.
        detail: String,
    },
    /// The name could not be sent as a query.
    InvalidName {
        /// Why.
        detail: String,
    },
}

impl Answer {
    /// The answer for a failed lookup.
    pub fn from_error(e: &LookupError) -> Answer {
        match e {
            LookupError::Timeout => Answer::Timeout,
            LookupError::NxDomain => Answer::NxDomain,
            LookupError::NoData => Answer::NoData,
            LookupError::ServerFailure(d) => Answer::ServerFailure { detail: d.clone() },
            LookupError::InvalidName(d) => Answer::InvalidName { detail: d.clone() },
            other => Answer::ServerFailure {
                detail: other.to_string(),
            },
        }
    }
}

/// What a term came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TermOutcome {
    /// The mechanism matched: its qualifier gives the result.
    Match,
    /// Evaluation goes on with the next term.
    NoMatch,
    /// The term ended the evaluation with `temperror` or `permerror`.
    Error,
}

/// One step of an evaluation. `depth` is 0 for the domain checked, 1 inside its first
/// include or redirect, and so on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// `check_host()` begins for `domain`.
    CheckHost {
        /// Nesting depth.
        depth: usize,
        /// The `<domain>`.
        domain: String,
        /// How it was entered.
        via: Via,
    },
    /// A DNS query and what came back.
    Query {
        /// Nesting depth.
        depth: usize,
        /// The record type (`TXT`, `A`, `AAAA`, `MX`, `PTR`).
        query: &'static str,
        /// The name asked about.
        name: String,
        /// The answer or the kind of failure.
        answer: Answer,
    },
    /// The SPF record selected for a domain (RFC 7208 §4.5).
    Record {
        /// Nesting depth.
        depth: usize,
        /// The domain.
        domain: String,
        /// The record text.
        record: String,
    },
    /// A term is about to be evaluated; the counts include it.
    Term {
        /// Nesting depth.
        depth: usize,
        /// The term, canonical form.
        term: String,
        /// DNS-querying terms so far (RFC 7208 §4.6.4).
        lookups: usize,
        /// Void lookups so far (RFC 7208 §4.6.4).
        void_lookups: usize,
    },
    /// A term's outcome, with the counts after it.
    TermResult {
        /// Nesting depth.
        depth: usize,
        /// The term.
        term: String,
        /// Match, no match or error.
        outcome: TermOutcome,
        /// DNS-querying terms so far.
        lookups: usize,
        /// Void lookups so far.
        void_lookups: usize,
    },
    /// A remark on a rule applied (a skipped name, an ignored explanation, …).
    Note {
        /// Nesting depth.
        depth: usize,
        /// What happened, with the RFC section.
        message: String,
    },
    /// `check_host()` for `domain` came to `result`.
    Result {
        /// Nesting depth.
        depth: usize,
        /// The domain.
        domain: String,
        /// The result.
        result: SpfResult,
        /// The deciding term, if one decided.
        decided_by: Option<String>,
    },
    /// The explanation of a `fail` (RFC 7208 §6.2).
    Explanation {
        /// The expanded text.
        text: String,
    },
}

impl TraceEvent {
    fn depth(&self) -> usize {
        match self {
            TraceEvent::CheckHost { depth, .. }
            | TraceEvent::Query { depth, .. }
            | TraceEvent::Record { depth, .. }
            | TraceEvent::Term { depth, .. }
            | TraceEvent::TermResult { depth, .. }
            | TraceEvent::Note { depth, .. }
            | TraceEvent::Result { depth, .. } => *depth,
            TraceEvent::Explanation { .. } => 0,
        }
    }
}

impl Display for Answer {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Records { records } => write!(f, "{}", records.join(", ")),
            Answer::NxDomain => f.write_str("NXDOMAIN (void)"),
            Answer::NoData => f.write_str("no records (void)"),
            Answer::Timeout => f.write_str("timeout"),
            Answer::ServerFailure { detail } => write!(f, "server failure: {detail}"),
            Answer::InvalidName { detail } => write!(f, "not queried: {detail}"),
        }
    }
}

impl Display for TraceEvent {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{:width$}", "", width = self.depth() * 2)?;
        match self {
            TraceEvent::CheckHost { domain, via, .. } => match via {
                Via::Start => write!(f, "check_host({domain})"),
                Via::Include => write!(f, "check_host({domain}) for include"),
                Via::Redirect => write!(f, "check_host({domain}) for redirect"),
            },
            TraceEvent::Query {
                query,
                name,
                answer,
                ..
            } => write!(f, "? {query} {name} -> {answer}"),
            TraceEvent::Record { record, .. } => write!(f, "record: {record}"),
            TraceEvent::Term {
                term,
                lookups,
                void_lookups,
                ..
            } => write!(
                f,
                "term {term}  [lookups {lookups}/{}, void {void_lookups}/{}]",
                crate::MAX_DNS_LOOKUPS,
                crate::MAX_VOID_LOOKUPS
            ),
            TraceEvent::TermResult {
                term,
                outcome,
                lookups,
                void_lookups,
                ..
            } => {
                let what = match outcome {
                    TermOutcome::Match => "matches",
                    TermOutcome::NoMatch => "does not match",
                    TermOutcome::Error => "stops with an error",
                };
                write!(
                    f,
                    "  {term} {what}  [lookups {lookups}, void {void_lookups}]"
                )
            }
            TraceEvent::Note { message, .. } => write!(f, "note: {message}"),
            TraceEvent::Result {
                domain,
                result,
                decided_by,
                ..
            } => match decided_by {
                Some(term) => write!(f, "=> {result} for {domain}, decided by {term}"),
                None => write!(f, "=> {result} for {domain}"),
            },
            TraceEvent::Explanation { text } => write!(f, "explanation: {text}"),
        }
    }
}
