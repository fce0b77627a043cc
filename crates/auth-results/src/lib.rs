//! The Authentication-Results header field (RFC 8601).
//!
//! What it is for: a receiving server checks SPF, DKIM, DMARC and reverse DNS once, at
//! the border, and records the outcomes in an `Authentication-Results:` header field so
//! that filters and mail readers further in need not repeat the checks. It is also what
//! people read in "show original" to learn why their mail went to spam.
//!
//! - [`generate`]: build the header a receiver adds. Every value that came from the
//!   sender (HELO name, MAIL FROM, `d=`, `s=`, `b=`) goes through one escaping routine,
//!   so nothing a sender writes can add a result, end the field, or start a new one.
//! - [`parse`]: read a received header field (RFC 8601 §2.2), leniently where real
//!   receivers are sloppy and strictly where a sloppy parser could be fooled.
//! - [`iprev`]: the "iprev" check of RFC 8601 §3 (PTR, then forward confirmation),
//!   through [`sendwell_dns::Lookup`].
//!
//! The values (`AuthenticationResults`, `ResInfo`, `Property`) are shared by both
//! directions: what [`generate`] writes, [`parse`] reads back identically (tested by
//! property tests on arbitrary sender-supplied text).

#![warn(missing_docs, clippy::print_stdout, clippy::dbg_macro)]

pub mod generate;
pub mod iprev;
pub mod parse;
mod types;

pub use iprev::{IprevOutcome, IprevResult, iprev};
pub use parse::{ParseError, parse_header};
pub use types::{AuthenticationResults, InvalidKeyword, Property, ResInfo, is_keyword};
