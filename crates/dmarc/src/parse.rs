//! Parsing and linting DMARC Policy Records (RFC 9989 §4.7–§4.8, RFC 7489 §6.3–§6.4).
//!
//! ```text
//! dmarc-record  = dmarc-version *(dmarc-sep dmarc-tag) [dmarc-sep]
//! dmarc-version = "v" equals %s"DMARC1"      ; case sensitive
//! dmarc-sep     = *WSP ";" *WSP
//! equals        = *WSP "=" *WSP
//! dmarc-tag     = 1*ALPHA equals 1*dmarc-value
//! dmarc-value   = %x20-3A / %x3C-7E          ; any printing characters but semicolon
//! ```
//!
//! Two entry points share one parser:
//! - `str::parse::<DmarcRecord>()` is what a receiver does: `Err` only when the text is not
//!   a DMARC record at all (no `v=DMARC1` first, or a broken tag-list), otherwise a record
//!   whose invalid values receivers replace by defaults (RFC 9989 §4.8).
//! - [`lint`] also returns [`Finding`]s: every mistake, the fix, and the RFC section,
//!   including the RFC 7489 tags that RFC 9989 removed (`pct`, `rf`, `ri`).
//!
//! Design decision: a tag that appears twice makes the whole record invalid. RFC 9989 §4.7
//! says DMARC records follow the DKIM tag-value syntax, and RFC 6376 §3.2 says "if a tag
//! name does occur more than once, the entire tag-list is invalid".

use std::str::FromStr;

use crate::finding::{Finding, Severity};
use crate::record::{DmarcRecord, Policy, Tag, TagName, TagValue};
use crate::uri::UriProblem;

/// The only DMARC version (RFC 9989 §4.7 `v`).
pub const DMARC_VERSION: &str = "DMARC1";

/// Longest character-string in a TXT record (RFC 1035 §3.3): longer records must be
/// published as several strings, which receivers join (RFC 9989 §4.5).
pub const MAX_TXT_STRING: usize = 255;

/// Why a text is not a usable DMARC record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The text does not start with a `v` tag (RFC 9989 §4.7: the record MUST be ignored).
    #[error("the record does not start with v=DMARC1")]
    NoVersion,
    /// The `v` tag's value is not exactly `DMARC1` (it is case sensitive).
    #[error("the version is {0:?}, not \"DMARC1\" (the value is case sensitive)")]
    WrongVersion(String),
    /// A tag appears more than once (RFC 6376 §3.2 via RFC 9989 §4.7).
    #[error("the tag {0:?} appears more than once, which makes the whole record invalid")]
    DuplicateTag(String),
}

impl FromStr for DmarcRecord {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_record(s, &mut None)
    }
}

/// The outcome of [`lint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lint {
    /// The record a receiver would use, or why there is none.
    pub record: Result<DmarcRecord, RecordError>,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
}

/// Parse `text`, a record to be published as one TXT character-string, and report every
/// mistake in it, including a text too long for one string.
pub fn lint(text: &str) -> Lint {
    lint_text(text, true)
}

/// Parse `text`, a record whose TXT character-strings are already joined (as fetched
/// from DNS, RFC 9989 §4.5, or as split by [`crate::builder::txt_strings`]), and report
/// every mistake in it. No string from DNS is longer than 255 octets (RFC 1035 §3.3: its
/// length is one octet), so unlike [`lint`] this never reports `string_too_long`.
pub fn lint_joined(text: &str) -> Lint {
    lint_text(text, false)
}

fn lint_text(text: &str, one_string: bool) -> Lint {
    let mut findings = Some(Vec::new());
    let record = parse_record(text, &mut findings);
    let mut findings = findings.unwrap_or_default();
    if let Ok(record) = &record {
        lint_record(record, &mut findings);
    }
    // RFC 1035 §3.3: a <character-string> is at most 255 octets. Only a text meant as
    // one string can break that; a joined text's length says nothing about its strings.
    if one_string && text.len() > MAX_TXT_STRING {
        findings.push(
            Finding::new(
                Severity::Warning,
                "string_too_long",
                "RFC 1035 §3.3",
                format!(
                    "the record is {} octets; one TXT string holds at most {MAX_TXT_STRING}",
                    text.len()
                ),
            )
            .fix("publish it as several quoted strings in one TXT record; receivers join them (RFC 9989 §4.5)"),
        );
    }
    findings.sort_by_key(|f| f.severity);
    Lint { record, findings }
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse_record(
    text: &str,
    findings: &mut Option<Vec<Finding>>,
) -> Result<DmarcRecord, RecordError> {
    let mut note = |f: Finding| {
        if let Some(list) = findings.as_mut() {
            list.push(f);
        }
    };
    let mut parts = text.split(';');
    let first = parts.next().unwrap_or("");
    if first.starts_with(is_wsp) {
        note(
            Finding::new(
                Severity::Error,
                "leading_whitespace",
                "RFC 9989 §4.7",
                "the record starts with whitespace, so it does not start with the v tag and receivers ignore it",
            )
            .fix("remove the whitespace before v=DMARC1"),
        );
        return Err(RecordError::NoVersion);
    }
    let Some((name, value)) = first.split_once('=') else {
        note(not_dmarc(text));
        return Err(RecordError::NoVersion);
    };
    let (name, value) = (name.trim_end_matches(is_wsp), value.trim_matches(is_wsp));
    if !name.eq_ignore_ascii_case("v") {
        note(not_dmarc(text));
        return Err(RecordError::NoVersion);
    }
    if value != DMARC_VERSION {
        let mut f = Finding::new(
            Severity::Error,
            "version_invalid",
            "RFC 9989 §4.7",
            format!(
                "the version is {value:?}; only \"DMARC1\" (case sensitive) is valid, so receivers ignore the record"
            ),
        );
        if value.eq_ignore_ascii_case(DMARC_VERSION) {
            f = f.fix("write v=DMARC1 in capitals");
        }
        note(f);
        return Err(RecordError::WrongVersion(value.to_string()));
    }
    let mut record = DmarcRecord::default();
    let mut seen: Vec<String> = vec!["v".into()];
    let rest: Vec<&str> = parts.collect();
    let last = rest.len();
    for (i, part) in rest.into_iter().enumerate() {
        let part = part.trim_matches(is_wsp);
        if part.is_empty() {
            // `[dmarc-sep]` allows one trailing ";"; an empty tag elsewhere is a slip.
            if i + 1 != last {
                note(Finding::new(
                    Severity::Info,
                    "empty_tag",
                    "RFC 9989 §4.8",
                    "two semicolons with nothing between them",
                ));
            }
            continue;
        }
        let Some((name, value)) = part.split_once('=') else {
            note(
                Finding::new(
                    Severity::Error,
                    "tag_syntax",
                    "RFC 9989 §4.8",
                    format!("{part:?} is not tag=value; receivers ignore it"),
                )
                .fix("write each setting as tag=value, separated by \"; \""),
            );
            continue;
        };
        let (name, value) = (name.trim_end_matches(is_wsp), value.trim_matches(is_wsp));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) {
            note(Finding::new(
                Severity::Error,
                "tag_syntax",
                "RFC 9989 §4.8",
                format!("{name:?} is not a tag name (letters only); receivers ignore {part:?}"),
            ));
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            note(
                Finding::new(
                    Severity::Error,
                    "duplicate_tag",
                    "RFC 9989 §4.7, RFC 6376 §3.2",
                    format!("the tag {lower:?} appears more than once, which makes the whole record invalid"),
                )
                .fix(format!("keep one {lower}= tag")),
            );
            return Err(RecordError::DuplicateTag(lower));
        }
        seen.push(lower.clone());
        if name != lower {
            note(
                Finding::new(
                    Severity::Warning,
                    "tag_case",
                    "RFC 9989 §4.8",
                    format!(
                        "the tag {name:?} is not lowercase; some receivers only know {lower:?}"
                    ),
                )
                .fix(format!("write {lower}=")),
            );
        }
        if let Some(c) = value.chars().find(|c| !(' '..='~').contains(c)) {
            note(Finding::new(
                Severity::Error,
                "value_characters",
                "RFC 9989 §4.8",
                format!("the value of {lower} holds {c:?}; only printable ASCII is allowed"),
            ));
        }
        record.tags.push(Tag::parse(name, value));
    }
    Ok(record)
}

fn not_dmarc(text: &str) -> Finding {
    let shown: String = text.chars().take(40).collect();
    Finding::new(
        Severity::Error,
        "version_missing",
        "RFC 9989 §4.7",
        format!("{shown:?} does not start with v=DMARC1, so receivers ignore it"),
    )
    .fix("start the record with v=DMARC1;")
}

/// Findings about the tags of a record that parsed.
fn lint_record(record: &DmarcRecord, out: &mut Vec<Finding>) {
    // p: missing, invalid, or not right after v.
    match record.tag(TagName::P) {
        None => out.push(
            Finding::new(
                Severity::Error,
                "p_missing",
                "RFC 9989 §4.10.1",
                if record.has_valid_rua() {
                    "there is no p tag; receivers act as if p=none"
                } else {
                    "there is no p tag and no valid rua, so receivers apply no DMARC at all"
                },
            )
            .fix("add p=none (monitor), p=quarantine or p=reject right after v=DMARC1"),
        ),
        Some(tag) if tag.is_invalid() => out.push(
            Finding::new(
                Severity::Error,
                "p_invalid",
                "RFC 9989 §4.10.1",
                format!(
                    "p={:?} is not none, quarantine or reject; {}",
                    tag.raw,
                    if record.has_valid_rua() {
                        "receivers act as if p=none"
                    } else {
                        "with no valid rua either, receivers apply no DMARC at all"
                    }
                ),
            )
            .fix("p=none, p=quarantine or p=reject"),
        ),
        Some(_) => {
            if record.tags.first().and_then(|t| t.known) != Some(TagName::P) {
                out.push(
                    Finding::new(
                        Severity::Warning,
                        "p_not_second",
                        "RFC 7489 §6.4",
                        "p does not follow v directly; RFC 7489's grammar requires it there (RFC 9989 dropped the rule, older receivers did not)",
                    )
                    .fix("put p= right after v=DMARC1;"),
                );
            }
        }
    }
    for name in [TagName::Sp, TagName::Np] {
        if let Some(tag) = record.tag(name).filter(|t| t.is_invalid()) {
            out.push(
                Finding::new(
                    Severity::Error,
                    if name == TagName::Sp {
                        "sp_invalid"
                    } else {
                        "np_invalid"
                    },
                    "RFC 9989 §4.10.1",
                    format!(
                        "{}={:?} is not none, quarantine or reject; {}",
                        name.as_str(),
                        tag.raw,
                        if record.has_valid_rua() {
                            "receivers then treat the whole record as p=none"
                        } else {
                            "receivers then apply no DMARC at all"
                        }
                    ),
                )
                .fix(format!(
                    "{}=none, {0}=quarantine or {0}=reject",
                    name.as_str()
                )),
            );
        }
    }
    for (name, default, code) in [
        (TagName::Adkim, "r", "adkim_invalid"),
        (TagName::Aspf, "r", "aspf_invalid"),
        (TagName::Psd, "u", "psd_invalid"),
        (TagName::T, "n", "t_invalid"),
        (TagName::Fo, "0", "fo_invalid"),
    ] {
        if let Some(tag) = record.tag(name).filter(|t| t.is_invalid()) {
            out.push(Finding::new(
                Severity::Error,
                code,
                "RFC 9989 §4.8",
                format!(
                    "{}={:?} is not valid; receivers use the default {}={default}",
                    name.as_str(),
                    tag.raw,
                    name.as_str()
                ),
            ));
        }
    }
    for name in [TagName::Rua, TagName::Ruf] {
        let Some(tag) = record.tag(name) else {
            continue;
        };
        if tag.is_invalid() {
            out.push(Finding::new(
                Severity::Error,
                "uri_empty",
                "RFC 9989 §4.7",
                format!("{}= is empty", name.as_str()),
            ));
            continue;
        }
        let uris = if name == TagName::Rua {
            record.rua()
        } else {
            record.ruf()
        };
        for uri in uris {
            if let Some(problem) = uri.problem() {
                let mut f = Finding::new(
                    Severity::Error,
                    "uri_invalid",
                    "RFC 9989 §4.6, RFC 3986 §3",
                    format!("{}: {problem}; receivers skip it", name.as_str()),
                );
                if let UriProblem::MissingScheme(addr) = &problem
                    && addr.contains('@')
                {
                    f = f.fix(format!("{}=mailto:{addr}", name.as_str()));
                }
                out.push(f);
            } else {
                if uri.size_limit.is_some() {
                    out.push(
                        Finding::new(
                            Severity::Info,
                            "uri_size_limit",
                            "RFC 9989 §4.8",
                            format!(
                                "the size limit \"!{}\" on {} is obsolete; receivers ignore it",
                                uri.size_limit.as_deref().unwrap_or(""),
                                uri.uri
                            ),
                        )
                        .fix(format!("write {} without the !size suffix", uri.uri)),
                    );
                }
                if uri.scheme().as_deref() != Some("mailto") {
                    out.push(Finding::new(
                        Severity::Warning,
                        "uri_not_mailto",
                        "RFC 9989 §4.7",
                        format!("{} is not a mailto: URI; receivers must support only mailto:, so most send nothing there", uri.uri),
                    ));
                }
            }
        }
    }
    if record.tag(TagName::Fo).is_some() && record.tag(TagName::Ruf).is_none() {
        out.push(Finding::new(
            Severity::Info,
            "fo_without_ruf",
            "RFC 9989 §4.7",
            "fo= has no effect without ruf=; receivers ignore it",
        ));
    }
    // The tags RFC 9989 removed.
    if let Some(tag) = record.tag(TagName::Pct) {
        let fix = match tag.value {
            Some(TagValue::Percent(0)) => {
                "replace pct=0 with t=y (test mode: the policy one level lower is applied)"
            }
            Some(TagValue::Percent(100)) => "remove pct=100; it is the default",
            _ => "remove pct; to test a stricter policy use t=y",
        };
        out.push(
            Finding::new(
                Severity::Warning,
                "pct_removed",
                "RFC 9989 Appendix A.6",
                format!("pct={} is an RFC 7489 tag that RFC 9989 removed; receivers applied values other than 0 and 100 inconsistently", tag.raw),
            )
            .fix(fix),
        );
    }
    for (name, code) in [(TagName::Rf, "rf_removed"), (TagName::Ri, "ri_removed")] {
        if let Some(tag) = record.tag(name) {
            out.push(
                Finding::new(
                    Severity::Warning,
                    code,
                    "RFC 9989 §9.3",
                    format!(
                        "{}={} is an RFC 7489 tag that RFC 9989 removed",
                        name.as_str(),
                        tag.raw
                    ),
                )
                .fix(format!("remove {}=", name.as_str())),
            );
        }
    }
    for tag in record.tags.iter().filter(|t| t.known.is_none()) {
        out.push(Finding::new(
            Severity::Warning,
            "unknown_tag",
            "RFC 9989 §4.7",
            format!(
                "{}={} is not a DMARC tag; receivers ignore it",
                tag.name, tag.raw
            ),
        ));
    }
    // Advice on a valid record.
    if record.testing()
        && record.p() == Some(Policy::None)
        && record.sp().is_none_or(|p| p == Policy::None)
    {
        out.push(Finding::new(
            Severity::Info,
            "t_with_none",
            "RFC 9989 §4.7",
            "t=y has no effect on p=none",
        ));
    }
    if record.p() == Some(Policy::None) {
        out.push(
            Finding::new(
                Severity::Info,
                "monitoring_mode",
                "RFC 9989 §3.2.12",
                "p=none only asks for reports: mail that fails DMARC is still delivered",
            )
            .fix("once the reports show all your mail passes, move to p=quarantine, then p=reject"),
        );
    }
    if record.rua().is_empty() {
        out.push(
            Finding::new(
                Severity::Info,
                "rua_missing",
                "RFC 9989 §4.7",
                "no rua: you will get no aggregate reports, so you cannot see who sends mail as your domain",
            )
            .fix("add rua=mailto:dmarc-reports@<your domain>"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AlignmentMode, Psd};

    fn codes(text: &str) -> Vec<&'static str> {
        lint(text).findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn parses_every_tag() {
        let r: DmarcRecord =
            "v=DMARC1; p=reject; sp=quarantine; np=reject; psd=n; t=y; adkim=s; aspf=r; \
             rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; \
             pct=50; rf=afrf; ri=3600"
                .parse()
                .unwrap();
        assert_eq!(r.p(), Some(Policy::Reject));
        assert_eq!(r.sp(), Some(Policy::Quarantine));
        assert_eq!(r.np(), Some(Policy::Reject));
        assert_eq!(r.psd(), Psd::No);
        assert!(r.testing());
        assert_eq!(r.adkim(), AlignmentMode::Strict);
        assert_eq!(r.aspf(), AlignmentMode::Relaxed);
        assert_eq!(r.rua().len(), 2);
        assert_eq!(r.ruf().len(), 1);
        assert_eq!(r.fo().unwrap().options, vec!['1', 'd']);
        assert_eq!(r.pct(), Some(50));
    }

    #[test]
    fn version_rules() {
        assert_eq!(
            "v=dmarc1; p=none".parse::<DmarcRecord>(),
            Err(RecordError::WrongVersion("dmarc1".into()))
        );
        assert_eq!(
            "v=DMARC1x; p=none".parse::<DmarcRecord>(),
            Err(RecordError::WrongVersion("DMARC1x".into()))
        );
        assert_eq!(
            "p=none; v=DMARC1".parse::<DmarcRecord>(),
            Err(RecordError::NoVersion)
        );
        assert_eq!(
            " v=DMARC1; p=none".parse::<DmarcRecord>(),
            Err(RecordError::NoVersion)
        );
        // RFC 9989 §4.8: *WSP around "=" is allowed.
        assert_eq!(
            "v = DMARC1; p = Reject".parse::<DmarcRecord>().unwrap().p(),
            Some(Policy::Reject)
        );
        assert!(matches!(
            "v=DMARC1; p=none; p=reject".parse::<DmarcRecord>(),
            Err(RecordError::DuplicateTag(_))
        ));
    }

    #[test]
    fn finds_common_mistakes() {
        assert!(codes("v=DMARC1; rua=mailto:x@example.com").contains(&"p_missing"));
        assert!(codes("v=DMARC1; p=block").contains(&"p_invalid"));
        assert!(codes("v=DMARC1; adkim=s; p=none").contains(&"p_not_second"));
        assert!(codes("v=DMARC1; p=none; rua=x@example.com").contains(&"uri_invalid"));
        let f = lint("v=DMARC1; p=none; rua=x@example.com").findings;
        let uri = f.iter().find(|f| f.code == "uri_invalid").unwrap();
        assert_eq!(uri.fix.as_deref(), Some("rua=mailto:x@example.com"));
        assert!(codes("v=DMARC1; p=none; pct=0").contains(&"pct_removed"));
        let pct = lint("v=DMARC1; p=reject; pct=0").findings;
        assert!(
            pct.iter()
                .any(|f| f.code == "pct_removed" && f.fix.as_deref().unwrap().contains("t=y"))
        );
        assert!(codes("v=DMARC1; p=none; ri=86400; rf=afrf").contains(&"ri_removed"));
        assert!(codes("v=DMARC1; p=none; foo=bar").contains(&"unknown_tag"));
        assert!(codes("v=DMARC1; p=none; sp=bogus").contains(&"sp_invalid"));
        assert!(codes("v=DMARC1; p=none; adkim=x").contains(&"adkim_invalid"));
        assert!(codes("v=DMARC1; p=none; fo=1").contains(&"fo_without_ruf"));
        assert!(
            codes("v=DMARC1; p=none; rua=mailto:x@example.com!10m").contains(&"uri_size_limit")
        );
        assert!(codes("v=DMARC1; P=none").contains(&"tag_case"));
        assert!(codes("v=DMARC1; p=none; junk").contains(&"tag_syntax"));
        assert!(
            codes(&format!(
                "v=DMARC1; p=none; rua=mailto:{}@example.com",
                "a".repeat(260)
            ))
            .contains(&"string_too_long")
        );
        // A clean record has only advice.
        let clean = lint("v=DMARC1; p=reject; rua=mailto:dmarc@example.com");
        assert!(clean.findings.is_empty(), "{:?}", clean.findings);
    }

    #[test]
    fn malformed_mailto_uris_are_findings() {
        // RFC 6068 §2 / RFC 5322 §3.4.1: each gets uri_invalid, not just monitoring_mode.
        for uri in [
            "mailto:a@b@example.com",
            "mailto://x@example.com",
            "mailto:.a..b@example.com",
            "mailto:b@@example.com",
        ] {
            let f = lint(&format!("v=DMARC1; p=none; rua={uri}")).findings;
            let bad = f.iter().find(|f| f.code == "uri_invalid");
            assert!(
                bad.is_some_and(|f| f.severity == Severity::Error && f.message.contains(uri)),
                "{uri}: {f:?}"
            );
        }
    }

    #[test]
    fn joined_text_is_not_one_string() {
        // RFC 1035 §3.3 limits each string, not the record joined from them.
        let long = format!(
            "v=DMARC1; p=none; rua=mailto:{}@example.com",
            "a".repeat(230)
        );
        assert!(long.len() > MAX_TXT_STRING);
        let one: Vec<&str> = lint(&long).findings.iter().map(|f| f.code).collect();
        assert!(one.contains(&"string_too_long"));
        let joined = lint_joined(&long);
        assert!(
            joined.findings.iter().all(|f| f.code != "string_too_long"),
            "{:?}",
            joined.findings
        );
        assert_eq!(joined.record, lint(&long).record);
    }

    #[test]
    fn round_trips_canonical_text() {
        for text in [
            "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net; t=y",
            "v=DMARC1; p=reject; psd=y; np=reject; x=unknown",
        ] {
            assert_eq!(text.parse::<DmarcRecord>().unwrap().to_string(), text);
        }
    }
}
