//! SPF, the Sender Policy Framework (RFC 7208).
//!
//! A domain publishes, in a DNS TXT record, which hosts may send mail that uses the
//! domain in the SMTP envelope (`MAIL FROM`, or the `HELO` name). A receiver asks, for
//! the connecting IP address, whether the domain's record authorizes it, and gets one
//! of seven results: `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`,
//! `permerror`. DMARC (RFC 7489) builds on the `pass`.
//!
//! This crate is the whole protocol, and explains every answer:
//! - `record`, `macro_string`, `parse`: the record as types named after the RFC 7208 §12
//!   ABNF, with `FromStr` and a `Display` that round-trips;
//! - `expand`: macro expansion (§7), bounded;
//! - `eval`: [`check_host()`] (§4) with the limits of §4.6.4, returning a
//!   [`CheckHostOutput`]: the [`SpfResult`], the explanation, the deciding term, the
//!   counts, and a [`trace`] of every term and DNS query;
//! - `receiver`: [`evaluate()`], the receiver's entry point (MAIL FROM, or HELO for a
//!   null reverse-path, §2.3–§2.4);
//! - `header`: the `Received-SPF` header (§9.1) and the `spf=` result of
//!   `Authentication-Results` (RFC 8601 §2.7.2);
//! - `cache`: [`RecordCache`], parsed records reused by their exact text (on by default;
//!   DNS is still asked every time, so nothing stale is ever served);
//! - `lint` and `builder`: judging and writing records the way receivers read them.
//!
//! Design decision: we wrote our own rather than wrap `viaspf` or `mail-auth` because
//! Sendwell promises to *explain* each verdict: the trace, the deciding term, the per-term
//! lookup counts and the lint's per-include lookup paths need the evaluator's inside.
//! All DNS goes through [`sendwell_dns::Lookup`]; nothing here opens a socket.
//!
//! ```no_run
//! # async fn example(dns: &sendwell_dns::HickoryLookup) {
//! let verdict = sendwell_spf::evaluate(
//!     dns,
//!     "192.0.2.1".parse().unwrap(),
//!     "mail.example.com",
//!     "alice@example.com",
//!     &sendwell_spf::Config::default(),
//! )
//! .await;
//! match verdict.result {
//!     sendwell_spf::SpfResult::Pass => { /* the host may send for example.com */ }
//!     other => println!("{other}: {:?}", verdict.output.problem),
//! }
//! # }
//! ```

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod builder;
mod cache;
mod eval;
pub mod expand;
pub mod header;
pub mod lint;
mod macro_string;
mod parse;
mod receiver;
mod record;
mod result;
pub mod trace;

pub use cache::{DEFAULT_CACHE_OCTETS, Parsed, RecordCache};
pub use eval::check_host;
pub use macro_string::{DomainSpecError, MacroError};
pub use parse::{ParseError, is_spf_record};
pub use receiver::{Identity, SpfVerdict, evaluate, evaluate_helo};
pub use record::{
    Directive, DomainSpec, DualCidrLength, ExplainString, Ip4CidrLength, Ip6CidrLength, Macro,
    MacroLetter, MacroString, MacroToken, Mechanism, Modifier, Qualifier, SpfRecord, Term, VERSION,
};
pub use result::{CheckHostOutput, DecidingTerm, DnsFailure, Problem, SpfResult, UnknownResult};

/// The limit on DNS-querying terms (`include`, `a`, `mx`, `ptr`, `exists`, `redirect`)
/// across one whole evaluation, nested includes and redirects included (RFC 7208
/// §4.6.4: "SPF implementations MUST limit the total number of those terms to 10").
pub const MAX_DNS_LOOKUPS: usize = 10;

/// The limit on address lookups for one `mx`, and on PTR names used for one `ptr` or
/// `%{p}` (RFC 7208 §4.6.4: "MUST NOT result in querying more than 10 address
/// records").
pub const MAX_NAMES_PER_LOOKUP: usize = 10;

/// The default limit on void lookups, terms whose queries return NXDOMAIN or no records
/// (RFC 7208 §4.6.4: "SPF implementations SHOULD limit "void lookups" to two … a
/// default of two is RECOMMENDED").
pub const MAX_VOID_LOOKUPS: usize = 2;

/// The least time a receiver should allow one evaluation before calling it `temperror`
/// (RFC 7208 §4.6.4: "Such a limit SHOULD allow at least 20 seconds").
pub const MIN_EVALUATION_TIME: std::time::Duration = std::time::Duration::from_secs(20);

/// How a receiver evaluates.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `%{r}` macro: the domain name of the host performing the check. RFC 7208
    /// §7.3: if there is none, "the word "unknown" SHOULD be substituted".
    pub receiver: String,
    /// Record a [`trace`] in [`CheckHostOutput::trace`].
    pub trace: bool,
    /// The void lookup limit (RFC 7208 §4.6.4 allows it to be configurable; default
    /// [`MAX_VOID_LOOKUPS`]).
    pub max_void_lookups: usize,
    /// The `%{t}` macro's value (seconds since the epoch); `None` means the clock.
    pub timestamp: Option<u64>,
    /// Reuse the parse of record texts seen before (see [`RecordCache`]; DNS is still
    /// asked every time). The default is a cache of [`DEFAULT_CACHE_OCTETS`], shared by
    /// every clone of the config; `None` parses every record fetched.
    pub record_cache: Option<std::sync::Arc<RecordCache>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            receiver: "unknown".to_string(),
            trace: false,
            max_void_lookups: MAX_VOID_LOOKUPS,
            timestamp: None,
            record_cache: Some(std::sync::Arc::new(RecordCache::default())),
        }
    }
}
