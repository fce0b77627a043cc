//! The DKIM record checker: fetch `selector._domainkey.domain`, read it the way
//! receivers do, and say what a receiver would object to.
//!
//! Findings are errors (the key cannot verify anything: missing, revoked, unparsable,
//! under 1024 bits, restricted away from mail or from SHA-256), warnings (it works, but
//! something is off: testing mode, a key under 2048 bits, syntax some strict receivers
//! reject) and notes.

use std::fmt;

use sendwell_dns::{Lookup, LookupError};

use crate::crypto::PublicKey;
use crate::der;
use crate::key_record::KeyRecord;
use crate::signature::{HashAlgorithm, KeyType};
use crate::tag_list::TagList;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Signatures with this key will not verify anywhere.
    Error,
    /// It works, but something should change.
    Warning,
    /// Worth knowing.
    Note,
}

impl Severity {
    /// `error`, `warning` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the checker noticed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What, in words.
    pub message: String,
}

/// What the checker found at one key name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordCheck {
    /// `selector._domainkey.domain`.
    pub name: String,
    /// The TXT records found, strings joined.
    pub records: Vec<String>,
    /// The record read, when one parsed.
    pub record: Option<KeyRecord>,
    /// The key size in bits, when the key could be read.
    pub key_bits: Option<usize>,
    /// The DNS failure, if the lookup failed.
    pub lookup_error: Option<LookupError>,
    /// Everything noticed, errors first.
    pub findings: Vec<Finding>,
}

impl RecordCheck {
    /// No error finding: receivers can verify signatures made with this key.
    pub fn is_usable(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// `t=y` is set.
    pub fn is_testing(&self) -> bool {
        self.record.as_ref().is_some_and(KeyRecord::is_testing)
    }
}

/// Fetch and check the key record of `selector` at `domain`.
pub async fn check_record<L: Lookup>(lookup: &L, domain: &str, selector: &str) -> RecordCheck {
    let name = format!(
        "{}._domainkey.{}",
        selector,
        domain.trim_end_matches('.').to_ascii_lowercase()
    );
    match lookup.lookup_txt(&name).await {
        Ok(txts) => {
            let texts: Vec<Vec<u8>> = txts.iter().map(|t| t.joined()).collect();
            check_record_text(&name, &texts)
        }
        Err(e) => {
            let message = match &e {
                LookupError::NxDomain | LookupError::NoData => {
                    format!("no DKIM key record at {name}: receivers find no key (permerror)")
                }
                other => format!("the DNS lookup failed ({other}): receivers get temperror"),
            };
            RecordCheck {
                name,
                records: Vec::new(),
                record: None,
                key_bits: None,
                lookup_error: Some(e),
                findings: vec![Finding {
                    severity: Severity::Error,
                    message,
                }],
            }
        }
    }
}

/// Check key records already fetched (`texts`: each TXT record, strings joined).
pub fn check_record_text(name: &str, texts: &[Vec<u8>]) -> RecordCheck {
    let mut findings = Vec::new();
    let mut add =
        |severity: Severity, message: String| findings.push(Finding { severity, message });
    let records: Vec<String> = texts
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    let mut check = RecordCheck {
        name: name.to_string(),
        records: records.clone(),
        record: None,
        key_bits: None,
        lookup_error: None,
        findings: Vec::new(),
    };
    let Some(first) = texts.first() else {
        add(Severity::Error, format!("no DKIM key record at {name}"));
        check.findings = findings;
        return check;
    };
    if texts.len() > 1 {
        add(
            Severity::Warning,
            format!(
                "{} TXT records at {name}: receivers may use any one of them (RFC 6376 §6.1.2)",
                texts.len()
            ),
        );
    }
    lint_syntax(first, &mut add);
    match KeyRecord::parse(first) {
        Err(e) => add(
            Severity::Error,
            format!("the record cannot be parsed: {e}; receivers get permerror"),
        ),
        Ok(record) => {
            check.key_bits = judge_record(&record, &mut add);
            check.record = Some(record);
        }
    }
    findings.sort_by_key(|f| f.severity);
    check.findings = findings;
    check
}

/// Syntax that parses but that strict receivers (or DNS panels) get wrong.
fn lint_syntax(text: &[u8], add: &mut impl FnMut(Severity, String)) {
    if text.contains(&b'"') {
        add(
            Severity::Error,
            "the record contains a double quote: the quotes of the zone-file form were \
             pasted into the value"
                .into(),
        );
    }
    let Ok(list) = TagList::parse(text) else {
        return;
    };
    if list.empty_specs > 0 {
        add(
            Severity::Warning,
            "empty tag (\";;\"): not RFC 6376 §3.2 syntax; strict receivers reject the record"
                .into(),
        );
    }
    match list.tags.iter().position(|t| t.name == "v") {
        None => add(
            Severity::Note,
            "no v=DKIM1: allowed, but recommended as the first tag".into(),
        ),
        Some(0) => {}
        Some(_) => add(
            Severity::Warning,
            "v= is not the first tag (RFC 6376 §3.6.1: it MUST be); strict receivers reject \
             the record"
                .into(),
        ),
    }
    if let Some(p) = list.get("p")
        && p.value.iter().any(|b| b.is_ascii_whitespace())
    {
        add(
            Severity::Warning,
            "p= contains whitespace (strings joined with spaces?); some receivers reject it".into(),
        );
    }
    const KNOWN: &[&str] = &["v", "h", "k", "n", "p", "s", "t", "g"];
    for tag in &list.tags {
        if !KNOWN.contains(&tag.name) {
            add(
                Severity::Note,
                format!("unknown tag {}= is ignored by receivers", tag.name),
            );
        }
    }
}

/// Judge a parsed record; the key size in bits when the key was read.
fn judge_record(record: &KeyRecord, add: &mut impl FnMut(Severity, String)) -> Option<usize> {
    if record.is_revoked() {
        add(
            Severity::Error,
            "p= is empty: the key is revoked (RFC 6376 §3.6.1); signatures with it fail \
             as permerror"
                .into(),
        );
        return None;
    }
    if !record.allows_email() {
        add(
            Severity::Error,
            format!(
                "s={} excludes email: the key cannot verify mail",
                record.s.join(":")
            ),
        );
    }
    // Whatever the key type: RSA keys may only sign rsa-sha256 now (RFC 8301 §3.1
    // forbids rsa-sha1), and Ed25519 keys only ever sign ed25519-sha256 (RFC 8463 §3).
    // The verifier refuses a signature whose hash h= does not list (RFC 6376 §3.6.1).
    if !record.allows_hash(HashAlgorithm::Sha256) {
        let h = record.h.clone().unwrap_or_default().join(":");
        let why = match record.k {
            KeyType::Rsa => {
                "only rsa-sha1 could use this key, and RFC 8301 §3.1 makes that invalid"
            }
            KeyType::Ed25519 => {
                "an Ed25519 key signs only ed25519-sha256 (RFC 8463 §3), so no signature \
                 can verify with it"
            }
        };
        add(
            Severity::Error,
            format!("h={h} does not allow sha256: {why}; remove h= or make it h=sha256"),
        );
    }
    if record.is_testing() {
        add(
            Severity::Warning,
            "t=y: testing mode; receivers may treat signed mail as unsigned (remove t=y \
             when DKIM works)"
                .into(),
        );
    }
    if record.is_strict_identity() {
        add(
            Severity::Note,
            "t=s: i= must be exactly d=, not a subdomain".into(),
        );
    }
    if let Some(g) = &record.g
        && g != "*"
    {
        add(
            Severity::Warning,
            format!(
                "g={g}: obsolete (RFC 6376 dropped it) but still enforced by some receivers: \
                 it restricts which i= local-parts may sign"
            ),
        );
    }
    let key = match PublicKey::from_record(record) {
        Ok(key) => key,
        Err(e) => {
            add(Severity::Error, format!("p= is not a usable key: {e}"));
            return None;
        }
    };
    let bits = key.bits();
    match record.k {
        KeyType::Rsa => {
            if bits < 1024 {
                add(
                    Severity::Error,
                    format!("RSA key of {bits} bits: under 1024 bits is invalid (RFC 8301 §3.2)"),
                );
            } else if bits < 2048 {
                add(
                    Severity::Warning,
                    format!("RSA key of {bits} bits: weak; use 2048 bits (RFC 8301 §3.2)"),
                );
            }
            if der::is_bare_rsa_public_key(&record.p) {
                add(
                    Severity::Warning,
                    "p= is a bare RSAPublicKey, not a SubjectPublicKeyInfo (RFC 6376 §3.6.1); \
                     some receivers reject it"
                        .into(),
                );
            }
        }
        KeyType::Ed25519 => add(
            Severity::Note,
            "Ed25519 (RFC 8463): not every receiver verifies it yet; sign with an RSA key \
             as well"
                .into(),
        ),
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> RecordCheck {
        check_record_text("s._domainkey.example.com", &[text.as_bytes().to_vec()])
    }

    fn has(c: &RecordCheck, severity: Severity, needle: &str) -> bool {
        c.findings
            .iter()
            .any(|f| f.severity == severity && f.message.contains(needle))
    }

    const RSA_1024: &str = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
    const RSA_512: &str = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALgSoqXVSEmfcIsOzw7oRuCCOwsmtX/SJnTWxYyj2leFxfS/AVJ+dYfY+hXqMsT7l+MZvvh/R1WzN4MO/kI/7XsCAwEAAQ==";

    #[test]
    fn judges_keys() {
        let weak = check(&format!("v=DKIM1; k=rsa; p={RSA_1024}"));
        assert!(weak.is_usable());
        assert_eq!(weak.key_bits, Some(1024));
        assert!(has(&weak, Severity::Warning, "weak"));
        let short = check(&format!("v=DKIM1; p={RSA_512}"));
        assert!(!short.is_usable());
        assert!(has(&short, Severity::Error, "invalid"));
        let revoked = check("v=DKIM1; k=rsa; p=");
        assert!(has(&revoked, Severity::Error, "revoked"));
        let testing = check(&format!("v=DKIM1; t=y; p={RSA_1024}"));
        assert!(testing.is_testing());
        assert!(has(&testing, Severity::Warning, "testing"));
        let sha1 = check(&format!("v=DKIM1; h=sha1; p={RSA_1024}"));
        assert!(has(&sha1, Severity::Error, "sha256"));
        let ed = check("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
        assert!(ed.is_usable());
        assert_eq!(ed.key_bits, Some(256));
    }

    #[test]
    fn ed25519_keys_need_sha256_too() {
        // The verifier gives permerror for this key (it allows no hash ed25519-sha256
        // uses); the checker must not call it usable.
        let p = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        let sha1 = check(&format!("v=DKIM1; k=ed25519; h=sha1; p={p}"));
        assert!(!sha1.is_usable());
        assert!(has(&sha1, Severity::Error, "ed25519-sha256 (RFC 8463 §3)"));
        let both = check(&format!("v=DKIM1; k=ed25519; h=sha1:sha256; p={p}"));
        assert!(both.is_usable());
    }

    #[test]
    fn flags_strict_syntax() {
        let late_v = check(&format!("k=rsa; v=DKIM1; p={RSA_1024}"));
        assert!(has(&late_v, Severity::Warning, "first tag"));
        let empty = check(&format!("v=DKIM1;; p={RSA_1024}"));
        assert!(has(&empty, Severity::Warning, "empty tag"));
        let quoted = check(&format!("\"v=DKIM1; p={RSA_1024}\""));
        assert!(!quoted.is_usable());
        let broken = check("v=DKIM1; k=rsa; t; p=AAAA");
        assert!(has(&broken, Severity::Error, "cannot be parsed"));
        let spaced = check(&format!(
            "v=DKIM1; p={} {}",
            &RSA_1024[..100],
            &RSA_1024[100..]
        ));
        assert!(has(&spaced, Severity::Warning, "whitespace"));
        assert!(spaced.is_usable());
    }
}
