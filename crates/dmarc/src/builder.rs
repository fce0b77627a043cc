//! Writing a DMARC Policy Record to publish, conforming to RFC 9989.
//!
//! The builder only writes what RFC 9989 §4.7 defines, in the order receivers of both
//! generations accept (`v` first, `p` right after it, as RFC 7489 §6.4 wanted), and never
//! the tags RFC 9989 removed. Report addresses become `mailto:` URIs with `,` and `!`
//! percent-encoded (RFC 9989 §4.8).

use crate::parse::MAX_TXT_STRING;
use crate::record::{AlignmentMode, DmarcRecord, Policy, Psd, Tag, TagName, TagValue};
use crate::uri::ReportUri;

/// Why a record could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A report destination is not a usable URI or mail address.
    #[error("{0:?} is not a mail address or a mailto: URI: {1}")]
    BadReportUri(String, String),
}

/// A record under construction; see [`RecordBuilder::new`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordBuilder {
    p: Policy,
    sp: Option<Policy>,
    np: Option<Policy>,
    psd: Option<Psd>,
    t: bool,
    adkim: Option<AlignmentMode>,
    aspf: Option<AlignmentMode>,
    rua: Vec<ReportUri>,
    ruf: Vec<ReportUri>,
}

impl RecordBuilder {
    /// A record with policy `p` (the one required choice).
    pub fn new(p: Policy) -> Self {
        RecordBuilder {
            p,
            sp: None,
            np: None,
            psd: None,
            t: false,
            adkim: None,
            aspf: None,
            rua: Vec::new(),
            ruf: Vec::new(),
        }
    }

    /// The policy for existing subdomains.
    pub fn sp(mut self, sp: Policy) -> Self {
        self.sp = Some(sp);
        self
    }

    /// The policy for non-existent subdomains.
    pub fn np(mut self, np: Policy) -> Self {
        self.np = Some(np);
        self
    }

    /// The Public Suffix Domain flag (for PSD operators, or `n` for an organization).
    pub fn psd(mut self, psd: Psd) -> Self {
        self.psd = Some(psd);
        self
    }

    /// Test mode (`t=y`): receivers apply the policy one level lower.
    pub fn testing(mut self, t: bool) -> Self {
        self.t = t;
        self
    }

    /// DKIM alignment mode (only written when strict: relaxed is the default).
    pub fn adkim(mut self, mode: AlignmentMode) -> Self {
        self.adkim = Some(mode);
        self
    }

    /// SPF alignment mode (only written when strict).
    pub fn aspf(mut self, mode: AlignmentMode) -> Self {
        self.aspf = Some(mode);
        self
    }

    /// Add an aggregate report destination: `mailto:x@y` or a bare address `x@y`.
    pub fn rua(mut self, destination: &str) -> Result<Self, BuildError> {
        self.rua.push(report_uri(destination)?);
        Ok(self)
    }

    /// Add a failure report destination.
    pub fn ruf(mut self, destination: &str) -> Result<Self, BuildError> {
        self.ruf.push(report_uri(destination)?);
        Ok(self)
    }

    /// The record.
    pub fn build(&self) -> DmarcRecord {
        let mut tags = vec![Tag::new(TagName::P, TagValue::Policy(self.p))];
        if let Some(sp) = self.sp {
            tags.push(Tag::new(TagName::Sp, TagValue::Policy(sp)));
        }
        if let Some(np) = self.np {
            tags.push(Tag::new(TagName::Np, TagValue::Policy(np)));
        }
        if let Some(psd) = self.psd.filter(|p| *p != Psd::Unknown) {
            tags.push(Tag::new(TagName::Psd, TagValue::Psd(psd)));
        }
        if self.t {
            tags.push(Tag::new(TagName::T, TagValue::YesNo(true)));
        }
        if self.adkim == Some(AlignmentMode::Strict) {
            tags.push(Tag::new(
                TagName::Adkim,
                TagValue::Alignment(AlignmentMode::Strict),
            ));
        }
        if self.aspf == Some(AlignmentMode::Strict) {
            tags.push(Tag::new(
                TagName::Aspf,
                TagValue::Alignment(AlignmentMode::Strict),
            ));
        }
        if !self.rua.is_empty() {
            tags.push(Tag::new(TagName::Rua, TagValue::Uris(self.rua.clone())));
        }
        if !self.ruf.is_empty() {
            tags.push(Tag::new(TagName::Ruf, TagValue::Uris(self.ruf.clone())));
        }
        DmarcRecord { tags }
    }
}

fn report_uri(destination: &str) -> Result<ReportUri, BuildError> {
    let destination = destination.trim();
    let uri = if destination.contains(':') {
        ReportUri::parse(destination)
    } else {
        ReportUri::mailto(destination)
    };
    match uri.problem() {
        None if uri.size_limit.is_none() => Ok(uri),
        None => Err(BuildError::BadReportUri(
            destination.to_string(),
            "the !size suffix is obsolete in RFC 9989".into(),
        )),
        Some(p) => Err(BuildError::BadReportUri(
            destination.to_string(),
            p.to_string(),
        )),
    }
}

/// `text` split into TXT character-strings of at most 255 octets (RFC 1035 §3.3),
/// cut after a `;` or `,` where possible so each piece reads well. Receivers join the
/// pieces with nothing between them (RFC 9989 §4.5).
pub fn txt_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_TXT_STRING {
        let window = &rest[..floor_char_boundary(rest, MAX_TXT_STRING)];
        let cut = window
            .rfind([';', ','])
            .map(|i| i + 1)
            .unwrap_or(window.len());
        out.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    out.push(rest.to_string());
    out
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::lint;

    #[test]
    fn builds_conformant_records() {
        let r = RecordBuilder::new(Policy::Reject)
            .sp(Policy::Quarantine)
            .adkim(AlignmentMode::Strict)
            .aspf(AlignmentMode::Relaxed)
            .rua("dmarc@example.com")
            .unwrap()
            .rua("mailto:vendor@reports.example.net")
            .unwrap()
            .build();
        let text = r.to_string();
        assert_eq!(
            text,
            "v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:dmarc@example.com,mailto:vendor@reports.example.net"
        );
        assert_eq!(text.parse::<DmarcRecord>().unwrap(), r);
        // Nothing but advice from the linter.
        assert!(
            lint(&text)
                .findings
                .iter()
                .all(|f| f.severity == crate::Severity::Info)
        );
        assert!(
            RecordBuilder::new(Policy::None)
                .rua("not an address")
                .is_err()
        );
        assert!(
            RecordBuilder::new(Policy::None)
                .rua("mailto:a@b.example!10m")
                .is_err()
        );
        // Not an RFC 5322 addr-spec, bare or as a URI (RFC 6068 §2): refused.
        for bad in [
            "a b@example.com",
            "a@b@example.com",
            ".a..b@example.com",
            "mailto:a@b@example.com",
            "mailto://x@example.com",
            "mailto:b@@example.com",
        ] {
            let e = RecordBuilder::new(Policy::None).ruf(bad).unwrap_err();
            assert!(
                matches!(&e, BuildError::BadReportUri(d, _) if d == bad),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn splits_long_records() {
        let mut b = RecordBuilder::new(Policy::None);
        for i in 0..12 {
            b = b.rua(&format!("reports-{i}@example.com")).unwrap();
        }
        let text = b.build().to_string();
        let pieces = txt_strings(&text);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.len() <= MAX_TXT_STRING));
        assert_eq!(pieces.concat(), text);
    }
}
