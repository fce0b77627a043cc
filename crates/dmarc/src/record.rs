//! The DMARC Policy Record (RFC 9989 §4.7, §4.8; RFC 7489 §6.3, §6.4) as types.
//!
//! A record is a `v=DMARC1` tag followed by `tag=value` pairs. [`DmarcRecord`] keeps the
//! tags in the order they were published, so linting can say "p does not follow v" and
//! `Display` writes the record back; the accessors ([`DmarcRecord::p`], …) give the value a
//! receiver uses, with the RFC defaults applied.
//!
//! Parsing (with the findings a linter reports) is in [`crate::parse`].

use std::fmt;

use crate::uri::ReportUri;

/// A Domain Owner Assessment Policy: the value of `p`, `sp` and `np`.
///
/// ```text
/// dmarc-request = "none" / "quarantine" / "reject"      ; RFC 9989 §4.8
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// No preference: receivers only report (RFC 9989 §4.7, "none").
    None,
    /// Treat failing mail as suspicious, e.g. deliver to spam ("quarantine").
    Quarantine,
    /// Reject failing mail ("reject").
    Reject,
}

impl Policy {
    /// The policy one level below: what `t=y` asks a receiver to apply (RFC 9989 §4.7 `t`).
    pub fn one_level_below(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            Policy::Quarantine | Policy::None => Policy::None,
        }
    }

    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        // RFC 5234 §2.3: ABNF literal strings are case-insensitive.
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier Alignment mode, the value of `adkim` and `aspf` (RFC 9989 §3.2.10).
///
/// ```text
/// dmarc-rors = "r" / "s"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AlignmentMode {
    /// Same Organizational Domain (RFC 9989 §3.2.10.1). The default.
    #[default]
    Relaxed,
    /// Identical domains (RFC 9989 §3.2.10.2).
    Strict,
}

impl AlignmentMode {
    /// The wire token: `r` or `s`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlignmentMode::Relaxed => "r",
            AlignmentMode::Strict => "s",
        }
    }

    /// The word for people: `relaxed` or `strict`.
    pub fn name(self) -> &'static str {
        match self {
            AlignmentMode::Relaxed => "relaxed",
            AlignmentMode::Strict => "strict",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "r" => Some(AlignmentMode::Relaxed),
            "s" => Some(AlignmentMode::Strict),
            _ => None,
        }
    }
}

/// The `psd` flag (RFC 9989 §4.7).
///
/// ```text
/// dmarc-psd = "y" / "n" / "u"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Psd {
    /// `psd=y`: the domain is a Public Suffix Domain; the tree walk stops here and the
    /// Organizational Domain is one label below.
    Yes,
    /// `psd=n`: the domain is its own Organizational Domain; the tree walk stops here.
    No,
    /// `psd=u` (the default): decided by the tree walk.
    #[default]
    Unknown,
}

impl Psd {
    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            Psd::Yes => "y",
            Psd::No => "n",
            Psd::Unknown => "u",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "y" => Some(Psd::Yes),
            "n" => Some(Psd::No),
            "u" => Some(Psd::Unknown),
            _ => None,
        }
    }
}

/// Failure reporting options, the value of `fo` (RFC 9989 §4.7).
///
/// ```text
/// dmarc-fo   = ("0" / "1") *(":" dmarc-afrf)
///            / dmarc-afrf [":" ("0" / "1")] [":" dmarc-afrf]
///            / *(dmarc-afrf ":") ("0" / "1")
/// dmarc-afrf = "d" / "s"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FailureOptions {
    /// The options in the order published (`0`, `1`, `d`, `s`).
    pub options: Vec<char>,
}

impl FailureOptions {
    /// Parse a colon-separated list; `None` if an option is unknown or repeated, or if
    /// both `0` and `1` appear (they are mutually exclusive).
    fn parse(value: &str) -> Option<Self> {
        let mut options = Vec::new();
        for part in value.split(':') {
            let part = part.trim_matches([' ', '\t']);
            let mut chars = part.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return None;
            };
            let c = c.to_ascii_lowercase();
            if !matches!(c, '0' | '1' | 'd' | 's') || options.contains(&c) {
                return None;
            }
            options.push(c);
        }
        if options.contains(&'0') && options.contains(&'1') {
            return None;
        }
        Some(FailureOptions { options })
    }
}

impl fmt::Display for FailureOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.options.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// The name of a tag this crate knows (RFC 9989 §9.3 plus the RFC 7489 tags it dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagName {
    /// `v`, the version; always first.
    V,
    /// `p`, the policy for the domain.
    P,
    /// `sp`, the policy for existing subdomains.
    Sp,
    /// `np`, the policy for non-existent subdomains (RFC 9989; RFC 9091 before it).
    Np,
    /// `psd`, the Public Suffix Domain flag (RFC 9989).
    Psd,
    /// `t`, test mode (RFC 9989).
    T,
    /// `adkim`, DKIM alignment mode.
    Adkim,
    /// `aspf`, SPF alignment mode.
    Aspf,
    /// `rua`, aggregate report URIs.
    Rua,
    /// `ruf`, failure report URIs.
    Ruf,
    /// `fo`, failure reporting options.
    Fo,
    /// `pct` (RFC 7489 §6.3; removed by RFC 9989 Appendix A.6).
    Pct,
    /// `rf`, failure report format (RFC 7489 §6.3; removed by RFC 9989).
    Rf,
    /// `ri`, aggregate report interval (RFC 7489 §6.3; removed by RFC 9989).
    Ri,
}

impl TagName {
    /// Every known tag, in the order `Display` writes a built record.
    pub const ALL: [TagName; 14] = [
        TagName::V,
        TagName::P,
        TagName::Sp,
        TagName::Np,
        TagName::Psd,
        TagName::T,
        TagName::Adkim,
        TagName::Aspf,
        TagName::Rua,
        TagName::Ruf,
        TagName::Fo,
        TagName::Pct,
        TagName::Rf,
        TagName::Ri,
    ];

    /// The tag as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            TagName::V => "v",
            TagName::P => "p",
            TagName::Sp => "sp",
            TagName::Np => "np",
            TagName::Psd => "psd",
            TagName::T => "t",
            TagName::Adkim => "adkim",
            TagName::Aspf => "aspf",
            TagName::Rua => "rua",
            TagName::Ruf => "ruf",
            TagName::Fo => "fo",
            TagName::Pct => "pct",
            TagName::Rf => "rf",
            TagName::Ri => "ri",
        }
    }

    /// The tag named `name` (case-insensitive, RFC 5234 §2.3), if known.
    pub fn from_name(name: &str) -> Option<Self> {
        TagName::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// One of the RFC 7489 tags RFC 9989 removed (`pct`, `rf`, `ri`).
    pub fn removed_by_rfc9989(self) -> bool {
        matches!(self, TagName::Pct | TagName::Rf | TagName::Ri)
    }
}

/// The value of one tag, typed; `Invalid` keeps a value that breaks its tag's grammar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagValue {
    /// `p`, `sp`, `np`.
    Policy(Policy),
    /// `psd`.
    Psd(Psd),
    /// `t`: true for `y`.
    YesNo(bool),
    /// `adkim`, `aspf`.
    Alignment(AlignmentMode),
    /// `rua`, `ruf`: every URI, valid or not (see [`ReportUri::problem`]).
    Uris(Vec<ReportUri>),
    /// `fo`.
    FailureOptions(FailureOptions),
    /// `pct`: 0 to 100.
    Percent(u8),
    /// `rf`: report format names.
    Formats(Vec<String>),
    /// `ri`: seconds.
    Interval(u32),
    /// The value does not match the tag's grammar; receivers use the default instead
    /// (RFC 9989 §4.8).
    Invalid(String),
}

/// One `tag=value` pair after the version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The tag's name as published (its case kept).
    pub name: String,
    /// Which tag it is; `None` for a tag this crate does not know (ignored, RFC 9989 §4.7).
    pub known: Option<TagName>,
    /// The value as published, without surrounding whitespace.
    pub raw: String,
    /// The typed value, for known tags.
    pub value: Option<TagValue>,
}

impl Tag {
    /// A known tag with a typed value; `raw` is written from the value.
    pub fn new(name: TagName, value: TagValue) -> Tag {
        let raw = value_text(&value);
        Tag {
            name: name.as_str().to_string(),
            known: Some(name),
            raw,
            value: Some(value),
        }
    }

    /// Parse `raw` as the value of the tag `name`.
    pub(crate) fn parse(name: &str, raw: &str) -> Tag {
        let known = TagName::from_name(name);
        let value = known.map(|k| parse_value(k, raw));
        Tag {
            name: name.to_string(),
            known,
            raw: raw.to_string(),
            value,
        }
    }

    /// True when the value breaks its tag's grammar.
    pub fn is_invalid(&self) -> bool {
        matches!(self.value, Some(TagValue::Invalid(_)))
    }
}

fn parse_value(name: TagName, raw: &str) -> TagValue {
    let invalid = || TagValue::Invalid(raw.to_string());
    match name {
        TagName::V => invalid(),
        TagName::P | TagName::Sp | TagName::Np => {
            Policy::parse(raw).map_or_else(invalid, TagValue::Policy)
        }
        TagName::Psd => Psd::parse(raw).map_or_else(invalid, TagValue::Psd),
        TagName::T => match raw.to_ascii_lowercase().as_str() {
            "y" => TagValue::YesNo(true),
            "n" => TagValue::YesNo(false),
            _ => invalid(),
        },
        TagName::Adkim | TagName::Aspf => {
            AlignmentMode::parse(raw).map_or_else(invalid, TagValue::Alignment)
        }
        TagName::Rua | TagName::Ruf => {
            if raw.is_empty() {
                return invalid();
            }
            // dmarc-urilist = uri *(*WSP "," *WSP uri)
            TagValue::Uris(
                raw.split(',')
                    .map(|u| ReportUri::parse(u.trim_matches([' ', '\t'])))
                    .collect(),
            )
        }
        TagName::Fo => FailureOptions::parse(raw).map_or_else(invalid, TagValue::FailureOptions),
        TagName::Pct => match raw.parse::<u8>() {
            // RFC 7489 §6.4: dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT, 0 to 100.
            Ok(p) if p <= 100 && raw.len() <= 3 && raw.bytes().all(|b| b.is_ascii_digit()) => {
                TagValue::Percent(p)
            }
            _ => invalid(),
        },
        TagName::Rf => {
            // RFC 7489 §6.4: dmarc-rfmt = "rf" *WSP "=" *WSP Keyword *(*WSP ":" Keyword)
            let formats: Vec<String> = raw
                .split(':')
                .map(|s| s.trim_matches([' ', '\t']).to_ascii_lowercase())
                .collect();
            if formats.iter().all(|f| is_keyword(f)) {
                TagValue::Formats(formats)
            } else {
                invalid()
            }
        }
        TagName::Ri => match raw.parse::<u32>() {
            Ok(seconds) if raw.bytes().all(|b| b.is_ascii_digit()) => TagValue::Interval(seconds),
            _ => invalid(),
        },
    }
}

/// RFC 5321 §4.1.2 Keyword (Ldh-str starting with a letter or digit).
fn is_keyword(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn value_text(value: &TagValue) -> String {
    match value {
        TagValue::Policy(p) => p.as_str().to_string(),
        TagValue::Psd(p) => p.as_str().to_string(),
        TagValue::YesNo(y) => if *y { "y" } else { "n" }.to_string(),
        TagValue::Alignment(a) => a.as_str().to_string(),
        TagValue::Uris(uris) => uris
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        TagValue::FailureOptions(fo) => fo.to_string(),
        TagValue::Percent(p) => p.to_string(),
        TagValue::Formats(f) => f.join(":"),
        TagValue::Interval(i) => i.to_string(),
        TagValue::Invalid(raw) => raw.clone(),
    }
}

/// A DMARC Policy Record: `v=DMARC1` and its tags, in published order.
///
/// Built by parsing (`"v=DMARC1; p=reject".parse()`, see [`crate::parse`]) or by
/// [`crate::builder::RecordBuilder`]. `Display` writes `v=DMARC1; tag=value; …`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DmarcRecord {
    /// The tags after `v=DMARC1`, in order.
    pub tags: Vec<Tag>,
}

impl DmarcRecord {
    /// The first tag with this name.
    pub fn tag(&self, name: TagName) -> Option<&Tag> {
        self.tags.iter().find(|t| t.known == Some(name))
    }

    fn value(&self, name: TagName) -> Option<&TagValue> {
        self.tag(name).and_then(|t| t.value.as_ref())
    }

    fn policy_tag(&self, name: TagName) -> Option<Policy> {
        match self.value(name) {
            Some(TagValue::Policy(p)) => Some(*p),
            _ => None,
        }
    }

    /// `p`, if present and valid.
    pub fn p(&self) -> Option<Policy> {
        self.policy_tag(TagName::P)
    }

    /// `sp`, if present and valid.
    pub fn sp(&self) -> Option<Policy> {
        self.policy_tag(TagName::Sp)
    }

    /// `np`, if present and valid.
    pub fn np(&self) -> Option<Policy> {
        self.policy_tag(TagName::Np)
    }

    /// `psd`, defaulting to `u` (RFC 9989 §4.7).
    pub fn psd(&self) -> Psd {
        match self.value(TagName::Psd) {
            Some(TagValue::Psd(p)) => *p,
            _ => Psd::Unknown,
        }
    }

    /// `t=y` (RFC 9989 §4.7; default `n`).
    pub fn testing(&self) -> bool {
        matches!(self.value(TagName::T), Some(TagValue::YesNo(true)))
    }

    /// `adkim`, defaulting to relaxed.
    pub fn adkim(&self) -> AlignmentMode {
        match self.value(TagName::Adkim) {
            Some(TagValue::Alignment(a)) => *a,
            _ => AlignmentMode::Relaxed,
        }
    }

    /// `aspf`, defaulting to relaxed.
    pub fn aspf(&self) -> AlignmentMode {
        match self.value(TagName::Aspf) {
            Some(TagValue::Alignment(a)) => *a,
            _ => AlignmentMode::Relaxed,
        }
    }

    /// `pct` (RFC 7489 only), if present and valid.
    pub fn pct(&self) -> Option<u8> {
        match self.value(TagName::Pct) {
            Some(TagValue::Percent(p)) => Some(*p),
            _ => None,
        }
    }

    /// `fo`, if present and valid.
    pub fn fo(&self) -> Option<&FailureOptions> {
        match self.value(TagName::Fo) {
            Some(TagValue::FailureOptions(fo)) => Some(fo),
            _ => None,
        }
    }

    fn uris(&self, name: TagName) -> &[ReportUri] {
        match self.value(name) {
            Some(TagValue::Uris(u)) => u,
            _ => &[],
        }
    }

    /// Every `rua` URI as published, valid or not.
    pub fn rua(&self) -> &[ReportUri] {
        self.uris(TagName::Rua)
    }

    /// Every `ruf` URI as published, valid or not.
    pub fn ruf(&self) -> &[ReportUri] {
        self.uris(TagName::Ruf)
    }

    /// True when `rua` holds at least one syntactically valid URI: the condition under
    /// which a record without a valid `p` still counts as `p=none` (RFC 9989 §4.10.1).
    pub fn has_valid_rua(&self) -> bool {
        self.rua().iter().any(|u| u.problem().is_none())
    }

    /// True when a receiver takes the record's policy as published: `p` is valid and
    /// `sp`/`np`, where present, are valid (RFC 9989 §4.10.1, RFC 7489 §6.6.3 step 6).
    pub fn policy_is_valid(&self) -> bool {
        let bad = |name| self.tag(name).is_some_and(Tag::is_invalid);
        self.p().is_some() && !bad(TagName::Sp) && !bad(TagName::Np)
    }
}

impl fmt::Display for DmarcRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("v=DMARC1")?;
        for tag in &self.tags {
            write!(f, "; {}={}", tag.name, tag.raw)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_options_grammar() {
        assert!(FailureOptions::parse("0").is_some());
        assert!(FailureOptions::parse("1:d:s").is_some());
        assert!(FailureOptions::parse("d:0").is_some());
        assert!(FailureOptions::parse("0:1").is_none());
        assert!(FailureOptions::parse("d:d").is_none());
        assert!(FailureOptions::parse("x").is_none());
        assert!(FailureOptions::parse("").is_none());
        assert_eq!(FailureOptions::parse("1:D").unwrap().to_string(), "1:d");
    }

    #[test]
    fn policy_below() {
        assert_eq!(Policy::Reject.one_level_below(), Policy::Quarantine);
        assert_eq!(Policy::Quarantine.one_level_below(), Policy::None);
        assert_eq!(Policy::None.one_level_below(), Policy::None);
    }
}
