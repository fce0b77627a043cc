//! DMARC: Domain-based Message Authentication, Reporting, and Conformance
//! (RFC 9989, which obsoletes RFC 7489).
//!
//! What it is for: anyone can write any address in a message's From field, the one
//! readers see. SPF and DKIM prove which *domains* handled a message, but not that they
//! have anything to do with the From address. DMARC closes the gap: a domain owner
//! publishes a policy at `_dmarc.<domain>`, and a receiver accepts the message as
//! genuinely from that domain only if SPF or DKIM passed for a domain *aligned* with the
//! From domain. When neither did, the policy says what the owner wants done: nothing
//! (`p=none`, just report), `quarantine`, or `reject`.
//!
//! The modules, in the order a receiver uses them:
//! - [`message`] and [`address`]: the RFC5322.From field and its one Author Domain.
//! - [`record`], [`parse`], [`uri`]: the DMARC Policy Record, its grammar, and the
//!   [`finding`]s a linter reports.
//! - [`discovery`], [`tree_walk`], [`psl`]: which record applies and the Organizational
//!   Domain, by the DNS tree walk (RFC 9989) or the Public Suffix List (RFC 7489); the
//!   list is shipped in the crate (see [`psl`] for how to update it).
//! - [`alignment`] and [`eval`]: Identifier Alignment and the verdict.
//! - [`external`]: whether another domain agreed to receive this domain's reports.
//! - [`builder`]: writing a record to publish; [`check`]: a domain's whole setup, linted.
//!
//! DNS goes through [`sendwell_dns::Lookup`] only. Protocol outcomes are values
//! ([`DmarcResult`] inside [`DmarcOutput`]); nothing here returns `Err` for a message.

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod address;
pub mod alignment;
pub mod builder;
pub mod check;
pub mod discovery;
pub mod eval;
pub mod external;
pub mod finding;
pub mod message;
pub mod parse;
pub mod psl;
pub mod query;
pub mod record;
pub mod tree_walk;
pub mod uri;

pub use alignment::{AlignmentOutcome, IdentifierAlignment, Mechanism};
pub use discovery::{Discovery, PolicyDiscovery, PolicyOutcome, discover_policy};
pub use eval::{
    AppliedPolicy, AuthenticatedIdentifiers, DkimIdentifier, DmarcOutput, DmarcResult,
    PolicySource, SpfIdentifier, evaluate_dmarc, evaluate_message,
};
pub use finding::{Finding, Severity};
pub use message::{AuthorDomain, AuthorDomainError, author_domain};
pub use parse::{Lint, RecordError, lint, lint_joined};
pub use record::{AlignmentMode, DmarcRecord, Policy, Psd};
pub use tree_walk::{DiscardReason, Discarded};
