//! The DKIM key record published in DNS (RFC 6376 §3.6.1, RFC 8463 §4), as a typed
//! [`KeyRecord`], plus the public key it carries ([`PublicKey`], in `crypto`).
//!
//! ```text
//! key-v-tag = %x76 [FWS] "=" [FWS] %x44.4B.49.4D.31        ; "DKIM1"
//! key-h-tag = %x68 [FWS] "=" [FWS] key-h-tag-alg *( [FWS] ":" [FWS] key-h-tag-alg )
//! key-k-tag = %x76 [FWS] "=" [FWS] key-k-tag-type           ; "rsa" / "ed25519"
//! key-n-tag = %x6e [FWS] "=" [FWS] qp-section
//! key-p-tag = %x70 [FWS] "=" [ [FWS] base64string ]         ; empty: revoked
//! key-s-tag = %x73 [FWS] "=" [FWS] key-s-tag-type *( [FWS] ":" [FWS] key-s-tag-type )
//! key-t-tag = %x74 [FWS] "=" [FWS] key-t-tag-flag *( [FWS] ":" [FWS] key-t-tag-flag )
//! ```
//!
//! Also `g=` (granularity, RFC 4871 §3.6.1): RFC 6376 dropped it, but keys that still
//! carry it restrict which `i=` local-parts may sign, and Mail::DKIM and OpenDKIM
//! enforce it; so do we.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::signature::{HashAlgorithm, KeyType};
use crate::tag_list::{TagList, TagListError};

/// A parsed DKIM key record (RFC 6376 §3.6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// `v=`: "DKIM1" when present.
    pub v: Option<String>,
    /// `h=`: the hash algorithms the key may be used with, as written; `None` allows all.
    pub h: Option<Vec<String>>,
    /// `k=`: the key type (default rsa).
    pub k: KeyType,
    /// `n=`: notes for people, decoded from quoted-printable where possible.
    pub n: Option<String>,
    /// `p=`: the public key data, decoded from base64. Empty means revoked.
    pub p: Vec<u8>,
    /// `s=`: service types (default `*`); must include `email` or `*` to be used for mail.
    pub s: Vec<String>,
    /// `t=`: flags, as written (`y` testing, `s` strict identity; unknown flags ignored).
    pub t: Vec<String>,
    /// `g=` (RFC 4871 §3.6.1 granularity), when present.
    pub g: Option<String>,
}

/// Why a key record is not usable (RFC 6376 §6.1.2 step 6).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRecordError {
    /// The tag-list syntax is broken.
    #[error("key record syntax error: {0}")]
    Syntax(#[from] TagListError),
    /// `v=` is present but not "DKIM1".
    #[error("unsupported key record version v={0}")]
    UnsupportedVersion(String),
    /// `k=` names an unknown key type.
    #[error("unsupported key type k={0}")]
    UnsupportedKeyType(String),
    /// There is no `p=` tag at all.
    #[error("key record has no p= tag")]
    MissingKey,
    /// `p=` is not base64.
    #[error("p= is not valid base64")]
    InvalidBase64,
}

impl KeyRecord {
    /// Parse a key record (the TXT strings joined with no separator, RFC 6376 §3.6.2.2).
    pub fn parse(text: &[u8]) -> Result<KeyRecord, KeyRecordError> {
        let list = TagList::parse(text)?;
        let text = |name: &str| list.get(name).map(|t| t.value_str().into_owned());
        let v = text("v");
        // RFC 6376 §3.6.1 v=: "Version of the DKIM key record (plain-text; RECOMMENDED,
        // default is "DKIM1"). If specified, this tag MUST be set to "DKIM1"
        // (without the quotes)."
        if let Some(v) = &v
            && v != "DKIM1"
        {
            return Err(KeyRecordError::UnsupportedVersion(v.clone()));
        }
        let list_of = |value: String| -> Vec<String> {
            value
                .split(':')
                .map(|x| {
                    x.trim_matches(|c: char| c.is_ascii_whitespace())
                        .to_string()
                })
                .collect()
        };
        let h = text("h").map(list_of);
        let k = match text("k") {
            None => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("rsa") => KeyType::Rsa,
            Some(k) if k.eq_ignore_ascii_case("ed25519") => KeyType::Ed25519,
            Some(k) => return Err(KeyRecordError::UnsupportedKeyType(k)),
        };
        let n = list.get("n").map(|tag| {
            crate::signature::decode_quoted_printable(tag.value)
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .unwrap_or_else(|| tag.value_str().into_owned())
        });
        let p = match list.get("p") {
            None => return Err(KeyRecordError::MissingKey),
            Some(tag) => BASE64
                .decode(tag.value_without_whitespace())
                .map_err(|_| KeyRecordError::InvalidBase64)?,
        };
        let s = text("s").map(list_of).unwrap_or_else(|| vec!["*".into()]);
        let t = text("t").map(list_of).unwrap_or_default();
        let g = text("g");
        Ok(KeyRecord {
            v,
            h,
            k,
            n,
            p,
            s,
            t,
            g,
        })
    }

    /// `p=` is empty: the key has been revoked (RFC 6376 §3.6.1).
    pub fn is_revoked(&self) -> bool {
        self.p.is_empty()
    }

    /// `t=y`: the domain is testing DKIM (RFC 6376 §3.6.1): "Verifiers MUST NOT treat
    /// messages from Signers in testing mode differently from unsigned email".
    pub fn is_testing(&self) -> bool {
        self.t.iter().any(|f| f == "y")
    }

    /// `t=s`: the `i=` domain must equal `d=`, not be a subdomain (RFC 6376 §3.6.1).
    pub fn is_strict_identity(&self) -> bool {
        self.t.iter().any(|f| f == "s")
    }

    /// The key may be used for mail: `s=` holds `email` or `*` (RFC 6376 §3.6.1).
    pub fn allows_email(&self) -> bool {
        self.s
            .iter()
            .any(|s| s == "*" || s.eq_ignore_ascii_case("email"))
    }

    /// The key may be used with `hash` (`h=` absent, or listing it).
    pub fn allows_hash(&self, hash: HashAlgorithm) -> bool {
        match &self.h {
            None => true,
            Some(list) => list.iter().any(|h| h.eq_ignore_ascii_case(hash.as_str())),
        }
    }

    /// RFC 4871 §3.6.1 `g=`: does the local-part of `i=` match the granularity?
    /// `*` matches any sequence; an empty `g=` matches nothing; absent matches all.
    /// `local_part` is that of `i=`, or empty when `i=` is absent.
    pub fn granularity_matches(&self, local_part: &str) -> bool {
        match &self.g {
            None => true,
            Some(g) => glob_match(g.as_bytes(), local_part.as_bytes()),
        }
    }
}

impl fmt::Display for KeyRecord {
    /// The record as Sendwell publishes it: `v=DKIM1; k=...; p=...`, one space after
    /// each semicolon, no quotes or line breaks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(v) = &self.v {
            parts.push(format!("v={v}"));
        }
        if let Some(h) = &self.h {
            parts.push(format!("h={}", h.join(":")));
        }
        parts.push(format!("k={}", self.k.as_str()));
        if let Some(n) = &self.n {
            parts.push(format!(
                "n={}",
                crate::signature::encode_quoted_printable(n.as_bytes())
            ));
        }
        if self.s != ["*"] {
            parts.push(format!("s={}", self.s.join(":")));
        }
        if !self.t.is_empty() {
            parts.push(format!("t={}", self.t.join(":")));
        }
        if let Some(g) = &self.g {
            parts.push(format!("g={g}"));
        }
        parts.push(format!("p={}", BASE64.encode(&self.p)));
        f.write_str(&parts.join("; "))
    }
}

/// RFC 4871 §3.6.1 g=: "a single, optional "*" character matching a sequence of zero
/// or more arbitrary characters"; "An empty "g=" value never matches any addresses."
/// Compared case-sensitively, as local-parts are (RFC 5321 §2.4), and as Mail::DKIM does.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    if pattern.is_empty() {
        return false;
    }
    glob(pattern, text)
}

/// Only the first `*` is a wildcard (the RFC allows one); matching is linear.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.iter().position(|&c| c == b'*') {
        None => pattern == text,
        Some(star) => {
            let (prefix, suffix) = (&pattern[..star], &pattern[star + 1..]);
            text.len() >= prefix.len() + suffix.len()
                && text.starts_with(prefix)
                && text.ends_with(suffix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

    #[test]
    fn parses_and_round_trips() {
        let text = format!("v=DKIM1; k=rsa; p={RSA_1024}");
        let record = KeyRecord::parse(text.as_bytes()).unwrap();
        assert_eq!(record.k, KeyType::Rsa);
        assert_eq!(record.to_string(), text);
        assert_eq!(
            KeyRecord::parse(record.to_string().as_bytes()).unwrap(),
            record
        );
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        assert_eq!(KeyRecord::parse(ed.as_bytes()).unwrap().to_string(), ed);
    }

    #[test]
    fn reads_flags_and_restrictions() {
        let r = KeyRecord::parse(
            b"v=DKIM1; s=email:web:fine; x1 = extra ; t = y:n:extra; h=md5:sha1; p=AAAA ; ",
        )
        .unwrap();
        assert!(r.is_testing());
        assert!(!r.is_strict_identity());
        assert!(r.allows_email());
        assert!(r.allows_hash(HashAlgorithm::Sha1));
        assert!(!r.allows_hash(HashAlgorithm::Sha256));
        let chat = KeyRecord::parse(b"v=DKIM1; s=chat; p=AAAA").unwrap();
        assert!(!chat.allows_email());
        assert!(KeyRecord::parse(b"k=rsa; t=y; p=").unwrap().is_revoked());
    }

    #[test]
    fn rejects_bad_records() {
        assert_eq!(
            KeyRecord::parse(b"v=DKIM3; p=AAAA"),
            Err(KeyRecordError::UnsupportedVersion("DKIM3".into()))
        );
        assert!(matches!(
            KeyRecord::parse(b"k=rsa; t; p=AAAA"),
            Err(KeyRecordError::Syntax(_))
        ));
        assert_eq!(
            KeyRecord::parse(b"k=foobar; p=AAAA"),
            Err(KeyRecordError::UnsupportedKeyType("foobar".into()))
        );
        assert_eq!(KeyRecord::parse(b""), Err(KeyRecordError::MissingKey));
        assert_eq!(
            KeyRecord::parse(b"p=!!"),
            Err(KeyRecordError::InvalidBase64)
        );
        assert!(KeyRecord::parse(b"v=DKIM1: k=rsa; p=AAAA").is_err());
    }

    #[test]
    fn granularity() {
        let g = |g: &str| KeyRecord {
            g: Some(g.into()),
            ..KeyRecord::parse(b"p=AAAA").unwrap()
        };
        assert!(g("jl*g").granularity_matches("jlong"));
        assert!(!g("jl*g").granularity_matches("JLong"));
        assert!(g("*").granularity_matches(""));
        assert!(!g("").granularity_matches("jlong"));
        assert!(!g("").granularity_matches(""));
        assert!(!g("*poe").granularity_matches("jlong"));
    }
}
