//! The DKIM-Signature header field (RFC 6376 §3.5): its tags as a typed [`Signature`],
//! parsed strictly, written back with folding.
//!
//! Field names follow the RFC's tags (`v`, `a`, `b`, `bh`, `c`, `d`, `h`, `i`, `l`, `q`,
//! `s`, `t`, `x`, `z`), so the code can be read side by side with §3.5.
//!
//! Parsing separates *syntax* errors (the field is not a usable DKIM signature: RFC 8601
//! §2.7.1 `neutral`) from *semantic* ones (a well-formed signature that can never be
//! valid, such as `i=` outside `d=` or `h=` without From: `permerror`); see
//! [`SignatureError::is_syntax`].
//!
//! Drafts: with [`ParseOptions::allow_drafts`] the signatures of the pre-RFC drafts are
//! accepted too, including those of draft-ietf-dkim-base-00 (2006), which had no `v=` and
//! no `bh=`: their one hash covers headers and body together (see `hash::draft00_hash`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::tag_list::{TagList, TagListError};

/// The header field name (RFC 6376 §3.5).
pub const HEADER_NAME: &str = "DKIM-Signature";

/// The most names `h=` may list. Real signatures list a dozen or two (oversigning
/// included); a longer list is refused rather than processed (RFC 6376 §8.9), which
/// also bounds the header hash input.
pub const MAX_HEADER_NAMES: usize = 512;

/// A hash algorithm of DKIM (RFC 6376 §3.3, key record `h=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-1: historic only (RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 valid).
    Sha1,
    /// SHA-256.
    Sha256,
}

impl HashAlgorithm {
    /// The token used in the key record's `h=` (RFC 6376 §3.6.1).
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
        }
    }
}

/// The key type of a key record's `k=` (RFC 6376 §3.6.1, RFC 8463 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (RFC 6376 §3.3.1).
    Rsa,
    /// Ed25519 (RFC 8463 §4.1).
    Ed25519,
}

impl KeyType {
    /// The `k=` token.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// The signing algorithm of `a=` (RFC 6376 §3.3, RFC 8463 §3).
///
/// ```text
/// sig-a-tag-alg  = sig-a-tag-k "-" sig-a-tag-h
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// `rsa-sha256` (RFC 6376 §3.3.2).
    RsaSha256,
    /// `ed25519-sha256` (RFC 8463 §3).
    Ed25519Sha256,
    /// `rsa-sha1` (RFC 6376 §3.3.1), invalid since RFC 8301 §3.1; parsed so that the
    /// verifier can say so.
    RsaSha1,
}

impl SigningAlgorithm {
    /// The `a=` token.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::RsaSha256 => "rsa-sha256",
            SigningAlgorithm::Ed25519Sha256 => "ed25519-sha256",
            SigningAlgorithm::RsaSha1 => "rsa-sha1",
        }
    }

    /// The key type the algorithm needs.
    pub fn key_type(self) -> KeyType {
        match self {
            SigningAlgorithm::RsaSha256 | SigningAlgorithm::RsaSha1 => KeyType::Rsa,
            SigningAlgorithm::Ed25519Sha256 => KeyType::Ed25519,
        }
    }

    /// The hash algorithm it uses, for the body hash and the header hash.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            SigningAlgorithm::RsaSha1 => HashAlgorithm::Sha1,
            _ => HashAlgorithm::Sha256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rsa-sha256" => Ok(SigningAlgorithm::RsaSha256),
            "ed25519-sha256" => Ok(SigningAlgorithm::Ed25519Sha256),
            "rsa-sha1" => Ok(SigningAlgorithm::RsaSha1),
            _ => Err(SignatureError::UnsupportedAlgorithm(s.to_string())),
        }
    }
}

/// One canonicalization algorithm (RFC 6376 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CanonicalizationAlgorithm {
    /// §3.4.1 (headers) and §3.4.3 (body): almost no change tolerated.
    #[default]
    Simple,
    /// §3.4.2 (headers) and §3.4.4 (body): whitespace and header-name case changes tolerated.
    Relaxed,
}

impl CanonicalizationAlgorithm {
    /// The token in `c=`.
    pub fn as_str(self) -> &'static str {
        match self {
            CanonicalizationAlgorithm::Simple => "simple",
            CanonicalizationAlgorithm::Relaxed => "relaxed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("simple") {
            Some(CanonicalizationAlgorithm::Simple)
        } else if s.eq_ignore_ascii_case("relaxed") {
            Some(CanonicalizationAlgorithm::Relaxed)
        } else {
            None
        }
    }
}

/// The `c=` tag: header and body canonicalization, chosen separately (RFC 6376 §3.5).
///
/// ```text
/// sig-c-tag-alg = "simple" / "relaxed" / x-sig-c-tag-alg
/// sig-c-tag     = %x63 [FWS] "=" [FWS] sig-c-tag-alg ["/" sig-c-tag-alg]
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Canonicalization {
    /// For the header fields.
    pub header: CanonicalizationAlgorithm,
    /// For the body. "If only one algorithm is named, that algorithm is used for the
    /// header and "simple" is used for the body" (§3.5).
    pub body: CanonicalizationAlgorithm,
}

impl Canonicalization {
    /// relaxed/relaxed: what Sendwell signs with by default (it survives the
    /// whitespace rewriting common in relays).
    pub const RELAXED: Canonicalization = Canonicalization {
        header: CanonicalizationAlgorithm::Relaxed,
        body: CanonicalizationAlgorithm::Relaxed,
    };
    /// simple/simple: the RFC's default when `c=` is absent.
    pub const SIMPLE: Canonicalization = Canonicalization {
        header: CanonicalizationAlgorithm::Simple,
        body: CanonicalizationAlgorithm::Simple,
    };
}

impl fmt::Display for Canonicalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.header.as_str(), self.body.as_str())
    }
}

impl std::str::FromStr for Canonicalization {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unsupported = || SignatureError::UnsupportedCanonicalization(s.to_string());
        let (h, b) = match s.split_once('/') {
            Some((h, b)) => (h.trim(), Some(b.trim())),
            None => (s.trim(), None),
        };
        let header = CanonicalizationAlgorithm::parse(h).ok_or_else(unsupported)?;
        let body = match b {
            Some(b) => CanonicalizationAlgorithm::parse(b).ok_or_else(unsupported)?,
            None => CanonicalizationAlgorithm::Simple,
        };
        Ok(Canonicalization { header, body })
    }
}

/// A parsed DKIM-Signature header field (RFC 6376 §3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `v=` version: "1". (Pre-RFC drafts used none or "0.5"; see [`ParseOptions`].)
    pub v: String,
    /// `a=` signing algorithm.
    pub a: SigningAlgorithm,
    /// `b=` the signature data, decoded from base64.
    pub b: Vec<u8>,
    /// `bh=` the hash of the canonicalized body, decoded from base64. Always present
    /// under RFC 6376 (§3.5: required); `None` only for a draft-ietf-dkim-base-00
    /// signature (no `v=` and no `bh=`), accepted with [`ParseOptions::allow_drafts`].
    pub bh: Option<Vec<u8>>,
    /// `c=` canonicalization (default simple/simple).
    pub c: Canonicalization,
    /// `d=` the signing domain (SDID), as written.
    pub d: String,
    /// `h=` the signed header field names, in order, as written.
    pub h: Vec<String>,
    /// `i=` the agent or user identifier (AUID), decoded from dkim-quoted-printable.
    /// Absent means `@d` (§3.5).
    pub i: Option<String>,
    /// `l=` body length count: only this many octets of the canonicalized body are signed.
    pub l: Option<u64>,
    /// `q=` query methods, as written (default `dns/txt`, the only one defined).
    pub q: Vec<String>,
    /// `s=` the selector.
    pub s: String,
    /// `t=` signature timestamp (seconds since 1970).
    pub t: Option<u64>,
    /// `x=` signature expiration (seconds since 1970).
    pub x: Option<u64>,
    /// `z=` copied header fields, decoded from dkim-quoted-printable (diagnostics only).
    pub z: Option<String>,
}

/// Options for parsing signatures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept signatures of the pre-RFC 4871 drafts: no `v=`, or `v=0.5`, and `q=dns`;
    /// without `v=`, also no `bh=` (draft-ietf-dkim-base-00). Only for checking
    /// archives; RFC 6376 §3.5 requires `v=1` and `bh=`.
    pub allow_drafts: bool,
}

/// Why a DKIM-Signature field is not usable (RFC 6376 §6.1.1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The tag-list syntax is broken.
    #[error("signature syntax error: {0}")]
    Syntax(#[source] TagListError),
    /// The field has more than [`crate::tag_list::MAX_TAGS`] tags: refused unread
    /// (RFC 6376 §8.9).
    #[error("the field has more than {max} tags; refused as hostile (RFC 6376 §8.9)")]
    TooManyTags {
        /// The limit.
        max: usize,
    },
    /// `h=` lists more than [`MAX_HEADER_NAMES`] names: refused (RFC 6376 §8.9).
    #[error("h= lists {count} header field names, more than the {max} processed (RFC 6376 §8.9)")]
    TooManyHeaderNames {
        /// How many `h=` lists.
        count: usize,
        /// The limit, [`MAX_HEADER_NAMES`].
        max: usize,
    },
    /// A required tag is missing.
    #[error("signature has no {0}= tag")]
    MissingTag(&'static str),
    /// `v=` is not 1.
    #[error("unsupported signature version v={0}")]
    UnsupportedVersion(String),
    /// `a=` names an algorithm we do not know.
    #[error("unsupported signing algorithm a={0}")]
    UnsupportedAlgorithm(String),
    /// `c=` names an unknown canonicalization.
    #[error("unsupported canonicalization c={0}")]
    UnsupportedCanonicalization(String),
    /// `q=` does not include `dns/txt`.
    #[error("unsupported query method q={0}")]
    UnsupportedQueryMethod(String),
    /// `d=` is not a domain name.
    #[error("d={0:?} is not a domain name")]
    InvalidDomain(String),
    /// `s=` is not a selector.
    #[error("s={0:?} is not a valid selector")]
    InvalidSelector(String),
    /// A base64 tag (`b=`, `bh=`) does not decode.
    #[error("{tag}= is not valid base64")]
    InvalidBase64 {
        /// The tag.
        tag: &'static str,
    },
    /// A number tag (`l=`, `t=`, `x=`) is not a number.
    #[error("{tag}={value:?} is not a number")]
    InvalidNumber {
        /// The tag.
        tag: &'static str,
        /// The value found.
        value: String,
    },
    /// `h=` is empty or holds something that is not a header field name.
    #[error("h={0:?} is not a list of header field names")]
    InvalidHeaderList(String),
    /// `i=` is not `[local-part]@domain` in dkim-quoted-printable.
    #[error("i={0:?} is not a valid identity")]
    InvalidIdentity(String),
    /// RFC 6376 §3.5: the domain of `i=` must be `d=` or a subdomain of it.
    #[error("i={i} is not within d={d}")]
    IdentityOutsideDomain {
        /// The decoded `i=`.
        i: String,
        /// `d=`.
        d: String,
    },
    /// RFC 6376 §5.4: the From header field MUST be signed.
    #[error("h= does not include From (RFC 6376 §5.4: From must be signed)")]
    FromNotSigned,
    /// RFC 6376 §3.5: "the value of the x= tag MUST be greater than the value of the t= tag".
    #[error("x={x} is not after t={t}")]
    ExpiryBeforeTimestamp {
        /// `t=`.
        t: u64,
        /// `x=`.
        x: u64,
    },
}

impl From<TagListError> for SignatureError {
    fn from(e: TagListError) -> Self {
        match e {
            TagListError::TooManyTags { max } => SignatureError::TooManyTags { max },
            e => SignatureError::Syntax(e),
        }
    }
}

impl SignatureError {
    /// True for errors that mean "this is not a usable DKIM-Signature" (RFC 8601
    /// `neutral`), false for a well-formed signature that cannot be valid, or one past
    /// a processing limit (`permerror`).
    pub fn is_syntax(&self) -> bool {
        !matches!(
            self,
            SignatureError::IdentityOutsideDomain { .. }
                | SignatureError::FromNotSigned
                | SignatureError::ExpiryBeforeTimestamp { .. }
                | SignatureError::TooManyTags { .. }
                | SignatureError::TooManyHeaderNames { .. }
        )
    }
}

impl Signature {
    /// Parse a DKIM-Signature field value (the text after the colon) by RFC 6376 §3.5.
    pub fn parse(value: &[u8]) -> Result<Signature, SignatureError> {
        Self::parse_with(value, ParseOptions::default())
    }

    /// [`Signature::parse`], with options.
    pub fn parse_with(value: &[u8], options: ParseOptions) -> Result<Signature, SignatureError> {
        let list = TagList::parse(value)?;
        Self::from_tag_list(&list, options)
    }

    /// Build a signature from an already parsed tag-list.
    pub fn from_tag_list(
        list: &TagList<'_>,
        options: ParseOptions,
    ) -> Result<Self, SignatureError> {
        let text = |name: &'static str| list.get(name).map(|t| t.value_str().into_owned());
        let required = |name: &'static str| text(name).ok_or(SignatureError::MissingTag(name));

        // RFC 6376 §3.5 v=: "This tag MUST always be present", value "1".
        let v = match text("v") {
            Some(v) if v == "1" => v,
            Some(v) if options.allow_drafts && v == "0.5" => v,
            Some(v) => return Err(SignatureError::UnsupportedVersion(v)),
            None if options.allow_drafts => String::new(),
            None => return Err(SignatureError::MissingTag("v")),
        };
        let a: SigningAlgorithm = required("a")?.parse()?;
        let b = decode_base64(list, "b")?;
        let bh = match list.get("bh") {
            // draft-ietf-dkim-base-00 had neither v= nor bh= (bh= came with -01): its
            // hash covers the body too. Only under allow_drafts and only without v=.
            None if options.allow_drafts && v.is_empty() => None,
            // RFC 6376 §3.5: bh= is required.
            _ => Some(decode_base64(list, "bh")?),
        };
        let c = match text("c") {
            Some(c) => c.parse()?,
            None => Canonicalization::SIMPLE,
        };
        let d = required("d")?;
        if !is_domain_name(&d) {
            return Err(SignatureError::InvalidDomain(d));
        }
        let h_text = required("h")?;
        // RFC 6376 §8.9: count before building anything.
        let count = h_text.bytes().filter(|&b| b == b':').count() + 1;
        if count > MAX_HEADER_NAMES {
            return Err(SignatureError::TooManyHeaderNames {
                count,
                max: MAX_HEADER_NAMES,
            });
        }
        let h: Vec<String> = h_text
            .split(':')
            .map(|n| {
                n.trim_matches(|c: char| c.is_ascii_whitespace())
                    .to_string()
            })
            .collect();
        if h.iter().any(|n| !is_field_name(n)) {
            return Err(SignatureError::InvalidHeaderList(h_text));
        }
        let s = required("s")?;
        if !is_selector(&s) {
            return Err(SignatureError::InvalidSelector(s));
        }
        let q: Vec<String> = match text("q") {
            Some(q) => q.split(':').map(|m| m.trim().to_string()).collect(),
            None => vec!["dns/txt".to_string()],
        };
        let q_ok = q.iter().any(|m| {
            m.eq_ignore_ascii_case("dns/txt")
                || (options.allow_drafts && m.eq_ignore_ascii_case("dns"))
        });
        if !q_ok {
            return Err(SignatureError::UnsupportedQueryMethod(
                text("q").unwrap_or_default(),
            ));
        }
        let number = |name: &'static str| -> Result<Option<u64>, SignatureError> {
            match text(name) {
                None => Ok(None),
                Some(value) => {
                    let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(SignatureError::InvalidNumber { tag: name, value });
                    }
                    // Values past u64 (year 584 billion) are treated as "never" for x= and t=;
                    // for l= they exceed any body, which the verifier reports.
                    Ok(Some(digits.parse::<u64>().unwrap_or(u64::MAX)))
                }
            }
        };
        let l = number("l")?;
        let t = number("t")?;
        let x = number("x")?;
        let i = match list.get("i") {
            Some(tag) => {
                let raw = tag.value_str().into_owned();
                let decoded = decode_quoted_printable(tag.value)
                    .ok_or_else(|| SignatureError::InvalidIdentity(raw.clone()))?;
                let decoded = String::from_utf8(decoded)
                    .map_err(|_| SignatureError::InvalidIdentity(raw.clone()))?;
                let Some((_, domain)) = decoded.rsplit_once('@') else {
                    return Err(SignatureError::InvalidIdentity(raw));
                };
                // RFC 6376 §3.5 i=: "The domain part of the address MUST be the same as,
                // or a subdomain of, the value of the "d=" tag."
                if !is_same_or_subdomain(domain, &d) {
                    return Err(SignatureError::IdentityOutsideDomain { i: decoded, d });
                }
                Some(decoded)
            }
            None => None,
        };
        let z = list.get("z").map(|tag| {
            let decoded = decode_quoted_printable(tag.value).unwrap_or_else(|| tag.value.to_vec());
            String::from_utf8_lossy(&decoded).into_owned()
        });
        // RFC 6376 §5.4 / §6.1.1: "If the "h=" tag does not include the From header
        // field, the Verifier MUST ignore the DKIM-Signature header field".
        if !h.iter().any(|n| n.eq_ignore_ascii_case("from")) {
            return Err(SignatureError::FromNotSigned);
        }
        if let (Some(t), Some(x)) = (t, x)
            && x <= t
        {
            return Err(SignatureError::ExpiryBeforeTimestamp { t, x });
        }
        Ok(Signature {
            v,
            a,
            b,
            bh,
            c,
            d,
            h,
            i,
            l,
            q,
            s,
            t,
            x,
            z,
        })
    }

    /// The AUID: `i=`, or `@d=` when absent (RFC 6376 §3.5).
    pub fn auid(&self) -> String {
        self.i.clone().unwrap_or_else(|| format!("@{}", self.d))
    }

    /// A draft-ietf-dkim-base-00 signature: no `v=`, no `bh=`, one hash over headers and
    /// body (only parsed with [`ParseOptions::allow_drafts`]).
    pub fn is_draft00(&self) -> bool {
        self.bh.is_none()
    }

    /// `b=` in base64, without whitespace (for RFC 6008 `header.b`).
    pub fn b_base64(&self) -> String {
        BASE64.encode(&self.b)
    }

    /// The name the key is published at: `s._domainkey.d` (RFC 6376 §3.6.2.1).
    pub fn key_name(&self) -> String {
        format!("{}._domainkey.{}", self.s, self.d)
    }
}

impl fmt::Display for Signature {
    /// The tags on one line, `b=` last, in the order Sendwell writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.tags().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value};")?;
        }
        write!(f, " b={}", self.b_base64())
    }
}

impl Signature {
    /// Every tag but `b=`, in the order Sendwell writes them, values encoded.
    pub(crate) fn tags(&self) -> Vec<(&'static str, String)> {
        // A draft signature without v= is written without it (not as an empty "v=").
        let mut tags = Vec::new();
        if !self.v.is_empty() {
            tags.push(("v", self.v.clone()));
        }
        tags.push(("a", self.a.to_string()));
        tags.push(("c", self.c.to_string()));
        tags.push(("d", self.d.clone()));
        tags.push(("s", self.s.clone()));
        if let Some(t) = self.t {
            tags.push(("t", t.to_string()));
        }
        if let Some(x) = self.x {
            tags.push(("x", x.to_string()));
        }
        if let Some(i) = &self.i {
            tags.push(("i", encode_quoted_printable(i.as_bytes())));
        }
        if let Some(l) = self.l {
            tags.push(("l", l.to_string()));
        }
        if self.q.len() != 1 || self.q[0] != "dns/txt" {
            tags.push(("q", self.q.join(":")));
        }
        tags.push(("h", self.h.join(":")));
        if let Some(z) = &self.z {
            tags.push(("z", encode_quoted_printable(z.as_bytes())));
        }
        if let Some(bh) = &self.bh {
            tags.push(("bh", BASE64.encode(bh)));
        }
        tags
    }
}

fn decode_base64(list: &TagList<'_>, tag: &'static str) -> Result<Vec<u8>, SignatureError> {
    let value = list.get(tag).ok_or(SignatureError::MissingTag(tag))?;
    let compact = value.value_without_whitespace();
    BASE64
        .decode(&compact)
        .map_err(|_| SignatureError::InvalidBase64 { tag })
}

/// Decode dkim-quoted-printable (RFC 6376 §2.11): `=XX` hex escapes, whitespace ignored.
/// `None` on a malformed escape.
pub fn decode_quoted_printable(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'=' => {
                let hex = value.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

/// Encode as dkim-quoted-printable (RFC 6376 §2.11): octets outside 0x21-0x3A, 0x3C,
/// 0x3E-0x7E become `=XX`.
pub fn encode_quoted_printable(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value {
        if matches!(b, 0x21..=0x3A | 0x3C | 0x3E..=0x7E) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// A domain name as RFC 6376 §3.5 `d=` allows: LDH labels (RFC 5321 `Domain`), at most
/// 253 octets, no empty label. Underscores are tolerated (they occur in real d= values).
pub fn is_domain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A selector (RFC 6376 §3.1: `sub-domain *( "." sub-domain )`), underscores tolerated.
pub fn is_selector(name: &str) -> bool {
    is_domain_name(name)
}

/// A header field name (RFC 5322 §3.6.8: `field-name = 1*ftext`, `ftext` = printable
/// US-ASCII but ":", so no space either).
pub(crate) fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| matches!(b, 33..=57 | 59..=126))
}

/// `domain` equals `parent` or is below it, ignoring case.
pub(crate) fn is_same_or_subdomain(domain: &str, parent: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    let parent = parent.trim_end_matches('.');
    if domain.eq_ignore_ascii_case(parent) {
        return true;
    }
    domain.len() > parent.len()
        && domain.as_bytes()[domain.len() - parent.len() - 1] == b'.'
        && domain[domain.len() - parent.len()..].eq_ignore_ascii_case(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC8463: &str = "v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=football.example.com; i=@football.example.com;\r\n q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n subject : date : message-id : from : subject : date;\r\n bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

    #[test]
    fn parses_the_rfc8463_example() {
        let sig = Signature::parse(RFC8463.as_bytes()).unwrap();
        assert_eq!(sig.a, SigningAlgorithm::Ed25519Sha256);
        assert_eq!(sig.c, Canonicalization::RELAXED);
        assert_eq!(sig.d, "football.example.com");
        assert_eq!(sig.s, "brisbane");
        assert_eq!(sig.t, Some(1528637909));
        assert_eq!(
            sig.h,
            [
                "from",
                "to",
                "subject",
                "date",
                "message-id",
                "from",
                "subject",
                "date"
            ]
        );
        assert_eq!(sig.b.len(), 64);
        assert_eq!(sig.bh.as_ref().map(Vec::len), Some(32));
        assert_eq!(sig.auid(), "@football.example.com");
        assert_eq!(sig.key_name(), "brisbane._domainkey.football.example.com");
    }

    #[test]
    fn round_trips_through_display() {
        let sig = Signature::parse(RFC8463.as_bytes()).unwrap();
        let text = sig.to_string();
        assert_eq!(Signature::parse(text.as_bytes()).unwrap(), sig);
    }

    #[test]
    fn classifies_errors() {
        let base = "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA";
        assert!(Signature::parse(base.as_bytes()).is_ok());
        let bad = |text: &str| Signature::parse(text.as_bytes()).unwrap_err();
        assert_eq!(
            bad(&base.replace("v=1", "v=5")),
            SignatureError::UnsupportedVersion("5".into())
        );
        assert!(bad(&base.replace("rsa-sha256", "rsa-md5")).is_syntax());
        assert!(bad(&format!("{base}; c=future")).is_syntax());
        assert!(bad(&format!("{base}; q=http")).is_syntax());
        assert!(!bad(&base.replace("h=from", "h=to:subject")).is_syntax());
        assert!(!bad(&format!("{base}; i=jon@example.org")).is_syntax());
        assert!(!bad(&format!("{base}; t=10; x=5")).is_syntax());
        assert!(bad(&base.replace("d=example.com", "d=legitimate.com(.attacker.com")).is_syntax());
        assert_eq!(
            bad(&base.replace("s=s;", "")),
            SignatureError::MissingTag("s")
        );
        // Drafts only with the option.
        let draft = base.replace("v=1; ", "");
        assert_eq!(bad(&draft), SignatureError::MissingTag("v"));
        assert!(
            Signature::parse_with(draft.as_bytes(), ParseOptions { allow_drafts: true }).is_ok()
        );
    }

    #[test]
    fn draft00_signatures_only_with_the_option() {
        let drafts = ParseOptions { allow_drafts: true };
        // As good_ietf00_1.txt of the Mail::DKIM corpus: no v=, no bh=.
        let draft00 = "a=rsa-sha1; c=relaxed/simple; d=example.com; t=1141353705;\r\n \
                       h=Date : From : Subject; s=foo;\r\n b=AAAA";
        // RFC 6376 §3.5: v= first, then bh= are required.
        assert_eq!(
            Signature::parse(draft00.as_bytes()),
            Err(SignatureError::MissingTag("v"))
        );
        let sig = Signature::parse_with(draft00.as_bytes(), drafts).unwrap();
        assert!(sig.is_draft00());
        assert_eq!((sig.v.as_str(), &sig.bh), ("", &None));
        // Written back without v= or bh=, and read back the same.
        let text = sig.to_string();
        assert!(!text.contains("v=") && !text.contains("bh="), "{text}");
        assert_eq!(Signature::parse_with(text.as_bytes(), drafts).unwrap(), sig);
        // With a version, bh= is required even for drafts.
        for v in ["v=0.5; ", "v=1; "] {
            assert_eq!(
                Signature::parse_with(format!("{v}{draft00}").as_bytes(), drafts),
                Err(SignatureError::MissingTag("bh"))
            );
        }
        // A later draft without v= but with bh= is not draft-00.
        let draft01 = format!("{draft00}; bh=AAAA");
        assert!(
            !Signature::parse_with(draft01.as_bytes(), drafts)
                .unwrap()
                .is_draft00()
        );
    }

    #[test]
    fn refuses_hostile_sizes() {
        let base = "v=1; a=rsa-sha256; d=example.com; s=s; bh=AAAA; b=AAAA";
        // MAX_HEADER_NAMES names pass, one more is refused, as are 20,000.
        let names = |n: usize| vec!["from"; n].join(":");
        let ok = format!("{base}; h={}", names(MAX_HEADER_NAMES));
        assert_eq!(
            Signature::parse(ok.as_bytes()).unwrap().h.len(),
            MAX_HEADER_NAMES
        );
        for n in [MAX_HEADER_NAMES + 1, 20_000] {
            let text = format!("{base}; h={}", names(n));
            let e = Signature::parse(text.as_bytes()).unwrap_err();
            assert_eq!(
                e,
                SignatureError::TooManyHeaderNames {
                    count: n,
                    max: MAX_HEADER_NAMES
                }
            );
            assert!(!e.is_syntax());
        }
        // Too many tags: its own error (a permerror), not a syntax error.
        let e = SignatureError::from(TagListError::TooManyTags { max: 64 });
        assert_eq!(e, SignatureError::TooManyTags { max: 64 });
        assert!(!e.is_syntax());
    }

    #[test]
    fn decodes_quoted_printable_identity() {
        let sig = Signature::parse(
            b"v=1; a=rsa-sha1; d=messiah.edu; h=from; s=test3; i==6Along@Messiah.EDU; bh=AA==; b=AA==",
        )
        .unwrap();
        assert_eq!(sig.i.as_deref(), Some("jlong@Messiah.EDU"));
        assert_eq!(encode_quoted_printable(b"a b;c=d"), "a=20b=3Bc=3Dd");
        assert_eq!(decode_quoted_printable(b"=4"), None);
    }

    #[test]
    fn subdomains() {
        assert!(is_same_or_subdomain("mail.Example.com", "example.COM"));
        assert!(is_same_or_subdomain("example.com", "example.com"));
        assert!(!is_same_or_subdomain("badexample.com", "example.com"));
        assert!(!is_same_or_subdomain("example.org", "example.com"));
    }
}
