//! Identifier Alignment (RFC 9989 §3.2.10, §4.4, §4.10.2; RFC 7489 §3.1).
//!
//! An Authenticated Identifier (the domain SPF passed for, the `d=` of a DKIM signature
//! that verified) is aligned with the Author Domain when the two are identical (strict,
//! `adkim=s`/`aspf=s`) or share an Organizational Domain (relaxed, the default).
//! Comparisons are case-insensitive (RFC 4343); inputs here are already normalized.

use std::fmt;

use crate::record::AlignmentMode;

/// Which mechanism authenticated the identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// SPF (RFC 7208), on the MAIL FROM domain or the HELO name.
    Spf,
    /// DKIM (RFC 6376), a signature's `d=`.
    Dkim,
}

/// How one identifier relates to the Author Domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlignmentOutcome {
    /// The mechanism did not pass for this identifier, so it cannot align
    /// (RFC 9989 §4.4.1, §4.4.2: only authenticated identifiers count).
    NotAuthenticated,
    /// Identical to the Author Domain: aligned in both modes.
    Strict,
    /// Same Organizational Domain (relaxed mode).
    Relaxed {
        /// The shared Organizational Domain.
        organizational_domain: String,
    },
    /// Not aligned.
    NotAligned {
        /// Why, in plain words.
        reason: String,
    },
    /// Could not be decided because a DNS query failed temporarily.
    Unknown {
        /// Why.
        reason: String,
    },
}

impl AlignmentOutcome {
    /// Aligned (strictly or relaxed).
    pub fn is_aligned(&self) -> bool {
        matches!(
            self,
            AlignmentOutcome::Strict | AlignmentOutcome::Relaxed { .. }
        )
    }
}

/// One Authenticated Identifier and its alignment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifierAlignment {
    /// SPF or DKIM.
    pub mechanism: Mechanism,
    /// The identifier's domain, normalized.
    pub domain: String,
    /// For DKIM, the signature's selector.
    pub selector: Option<String>,
    /// The mode the record asks for (`aspf` or `adkim`).
    pub mode: AlignmentMode,
    /// The outcome.
    pub outcome: AlignmentOutcome,
}

impl fmt::Display for IdentifierAlignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.mechanism {
            Mechanism::Spf => "SPF",
            Mechanism::Dkim => "DKIM",
        };
        match &self.outcome {
            AlignmentOutcome::NotAuthenticated => {
                write!(f, "{what} {} did not pass, so it cannot align", self.domain)
            }
            AlignmentOutcome::Strict => {
                write!(f, "{what} {} is the From domain: aligned", self.domain)
            }
            AlignmentOutcome::Relaxed {
                organizational_domain,
            } => write!(
                f,
                "{what} {} is in the From domain's organization ({organizational_domain}): aligned (relaxed)",
                self.domain
            ),
            AlignmentOutcome::NotAligned { reason } => {
                write!(f, "{what} {} is not aligned: {reason}", self.domain)
            }
            AlignmentOutcome::Unknown { reason } => {
                write!(f, "{what} {} alignment unknown: {reason}", self.domain)
            }
        }
    }
}
