//! Verification outcomes: [`DkimResult`] (RFC 8601 §2.7.1), with a [`Reason`] a person
//! understands and [`Warning`]s for signatures that pass but deserve a look.

use std::fmt;

use crate::crypto::PublicKeyError;
use crate::key_record::KeyRecordError;
use crate::signature::{KeyType, Signature, SignatureError, SigningAlgorithm};

/// The result of checking one DKIM signature (RFC 8601 §2.7.1). `Display` is the
/// lowercase token of `Authentication-Results: ...; dkim=<result>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DkimResult {
    /// The message was not signed. Never inside a [`DkimVerification`]: use it when
    /// [`crate::verify`] returns no verification at all.
    None,
    /// The signature verified.
    Pass,
    /// The signature or the body hash did not verify: the message changed after signing,
    /// or it was not signed with this key.
    Fail,
    /// The signature verified, but it is not acceptable by local policy (here: the
    /// message has more than one From field, so which author it vouches for is unclear).
    Policy,
    /// The DKIM-Signature field could not be processed: syntax errors, missing tags,
    /// or a version, algorithm, canonicalization or query method we do not know.
    Neutral,
    /// A temporary failure (DNS timeout or server failure): try again later.
    TempError,
    /// A permanent error: no usable key, key restrictions not met, an expired signature,
    /// a signature RFC 8301 forbids, or one that cannot be valid.
    PermError,
}

impl DkimResult {
    /// The RFC 8601 token.
    pub fn as_str(self) -> &'static str {
        match self {
            DkimResult::None => "none",
            DkimResult::Pass => "pass",
            DkimResult::Fail => "fail",
            DkimResult::Policy => "policy",
            DkimResult::Neutral => "neutral",
            DkimResult::TempError => "temperror",
            DkimResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for DkimResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signature got its result.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Pass: the body hash and the signature verified.
    Verified,
    /// Neutral: the DKIM-Signature field is not usable.
    Unusable(SignatureError),
    /// Permerror: a well-formed signature that can never be valid (i= outside d=,
    /// From not signed, x= before t=), or a field past a processing limit (too many
    /// tags or `h=` names, RFC 6376 §8.9).
    Invalid(SignatureError),
    /// Permerror: the header section has a line without a colon (RFC 5322 §2.2, §3.6.8:
    /// a field is a name, then a colon), so the message is malformed and which fields
    /// it has is unknowable; no signature passes.
    HeaderWithoutColon {
        /// The line's first line, as text (shortened).
        line: String,
    },
    /// Permerror: `x=` has passed (RFC 6376 §3.5).
    Expired {
        /// `x=`.
        x: u64,
        /// The verification time.
        now: u64,
    },
    /// Permerror: rsa-sha1 (RFC 8301 §3.1: "Verifiers MUST NOT consider signatures
    /// using rsa-sha1 as valid").
    Sha1,
    /// Permerror: no key record at `name` (NXDOMAIN or no TXT record).
    KeyNotFound {
        /// `s._domainkey.d`.
        name: String,
    },
    /// Temperror: the key lookup failed for now.
    KeyLookupFailed {
        /// `s._domainkey.d`.
        name: String,
        /// What the resolver said.
        error: String,
    },
    /// Permerror: `p=` is empty (RFC 6376 §3.6.1).
    KeyRevoked,
    /// Permerror: the key record cannot be parsed or is not supported.
    KeyRecord(KeyRecordError),
    /// Permerror: `p=` is not a valid key.
    KeyData(PublicKeyError),
    /// Permerror: the key's `k=` does not fit `a=`.
    KeyTypeMismatch {
        /// `k=` of the key.
        key: KeyType,
        /// `a=` of the signature.
        algorithm: SigningAlgorithm,
    },
    /// Permerror: the key's `h=` does not allow the signature's hash.
    KeyHashNotAllowed {
        /// The key's `h=` list.
        allowed: Vec<String>,
    },
    /// Permerror: the key's `s=` excludes email.
    KeyNotForEmail {
        /// The key's `s=` list.
        services: Vec<String>,
    },
    /// Permerror: the key's `g=` (RFC 4871) does not match the local-part of `i=`.
    KeyGranularity {
        /// `g=`.
        g: String,
        /// The local-part of `i=`.
        local_part: String,
    },
    /// Permerror: the key has `t=s` and `i=` is in a subdomain of `d=`.
    KeyStrictIdentity,
    /// Permerror: an RSA key under 1024 bits (RFC 8301 §3.2: invalid).
    KeyTooShort {
        /// Its size.
        bits: usize,
    },
    /// Permerror: `l=` is longer than the canonical body.
    BodyShorterThanLength {
        /// `l=`.
        l: u64,
        /// The canonical body length.
        canonical_length: u64,
    },
    /// Permerror: more signatures than [`crate::MAX_SIGNATURES`]; not checked.
    TooManySignatures,
    /// Fail: the body was changed after signing (or signed differently).
    BodyHashMismatch {
        /// Octets of canonical body hashed (with `l=`, at most `l`).
        canonical_length: u64,
    },
    /// Fail: the header fields were changed after signing, or another key signed.
    SignatureMismatch,
    /// Policy: the signature verified but the message has several From fields
    /// (RFC 5322 §3.6 allows one; RFC 6376 §8.15).
    SeveralFrom(usize),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Verified => f.write_str("signature verified"),
            Reason::Unusable(e) => write!(f, "unusable signature: {e}"),
            Reason::Invalid(e) => write!(f, "invalid signature: {e}"),
            Reason::HeaderWithoutColon { line } => write!(
                f,
                "header line without a colon: {line:?} (RFC 5322 §2.2: the message is malformed)"
            ),
            Reason::Expired { x, now } => write!(
                f,
                "signature expired: x={x} is {} s before the verification time",
                now.saturating_sub(*x)
            ),
            Reason::Sha1 => f.write_str("rsa-sha1 signature: invalid since RFC 8301 §3.1"),
            Reason::KeyNotFound { name } => {
                write!(f, "key not found: no DKIM key record at {name}")
            }
            Reason::KeyLookupFailed { name, error } => {
                write!(f, "key lookup for {name} failed, try later: {error}")
            }
            Reason::KeyRevoked => f.write_str("key revoked: the key record has an empty p="),
            Reason::KeyRecord(e) => write!(f, "bad key record: {e}"),
            Reason::KeyData(e) => write!(f, "bad key: {e}"),
            Reason::KeyTypeMismatch { key, algorithm } => write!(
                f,
                "the key is k={} but the signature is a={algorithm}",
                key.as_str()
            ),
            Reason::KeyHashNotAllowed { allowed } => write!(
                f,
                "the key allows only h={} for this signature's hash",
                allowed.join(":")
            ),
            Reason::KeyNotForEmail { services } => write!(
                f,
                "the key is restricted to s={}, not email",
                services.join(":")
            ),
            Reason::KeyGranularity { g, local_part } => write!(
                f,
                "the key's g={g} does not match the signer's local-part {local_part:?}"
            ),
            Reason::KeyStrictIdentity => {
                f.write_str("the key has t=s but i= is in a subdomain of d=")
            }
            Reason::KeyTooShort { bits } => write!(
                f,
                "key too short: {bits} bits (RFC 8301 §3.2: under 1024 bits is invalid)"
            ),
            Reason::BodyShorterThanLength {
                l,
                canonical_length,
            } => write!(
                f,
                "l={l} is longer than the canonicalized body ({canonical_length} bytes)"
            ),
            Reason::TooManySignatures => write!(
                f,
                "not checked: the message has more than {} signatures",
                crate::MAX_SIGNATURES
            ),
            Reason::BodyHashMismatch { canonical_length } => write!(
                f,
                "body hash mismatch: the body changed after signing \
                 (canonicalized body: {canonical_length} bytes)"
            ),
            Reason::SignatureMismatch => f.write_str(
                "signature mismatch: a signed header field changed, or another key signed",
            ),
            Reason::SeveralFrom(n) => write!(
                f,
                "the signature verified, but the message has {n} From fields \
                 (RFC 5322 §3.6 allows one)"
            ),
        }
    }
}

/// Something worth knowing about a signature, even one that passes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The key has `t=y`: the domain is testing DKIM, and receivers may treat the
    /// message as unsigned (RFC 6376 §3.6.1).
    Testing,
    /// `l=` is present: content can be appended after signing (RFC 6376 §8.2).
    BodyLength {
        /// `l=`.
        l: u64,
        /// The canonical body length.
        canonical_length: u64,
    },
    /// An RSA key under 2048 bits (RFC 8301 §3.2: signers SHOULD use 2048).
    WeakKey {
        /// Its size.
        bits: usize,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Testing => {
                f.write_str("t=y: the domain is testing DKIM; receivers may ignore this signature")
            }
            Warning::BodyLength {
                l,
                canonical_length,
            } => write!(
                f,
                "l={l} signs only part of a {canonical_length}-byte body: content can be appended"
            ),
            Warning::WeakKey { bits } => write!(
                f,
                "weak key: {bits}-bit RSA (RFC 8301 §3.2 recommends 2048)"
            ),
        }
    }
}

/// One signature's verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DkimVerification {
    /// The result.
    pub result: DkimResult,
    /// Why, in words (`Display`).
    pub reason: Reason,
    /// Things to know even when it passes.
    pub warnings: Vec<Warning>,
    /// `d=`, the signing domain (SDID) as written; empty if the field has none.
    /// DMARC aligns on this (RFC 7489 §3.1.1).
    pub domain: String,
    /// `s=`, the selector; empty if absent.
    pub selector: String,
    /// `a=` as written; empty if absent.
    pub algorithm: String,
    /// The AUID (`i=`, or `@d=`), when the signature parsed (RFC 8601 `header.i`).
    pub identity: Option<String>,
    /// The shortest prefix of `b=` (at least 8 characters) that tells this signature
    /// apart from the others on the message (RFC 6008 `header.b`).
    pub header_b: String,
    /// The key size in bits, when the key was read.
    pub key_bits: Option<usize>,
    /// The parsed signature, when it parsed.
    pub signature: Option<Signature>,
}
