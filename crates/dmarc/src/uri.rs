//! DMARC Reporting URIs, the items of `rua` and `ruf` (RFC 9989 §4.6, §4.8; RFC 7489 §6.2).
//!
//! ```text
//! dmarc-uri             = URI                     ; RFC 3986; "," and "!" MUST be encoded
//! obs-dmarc-uri         = dmarc-uri obs-dmarc-report-size
//! obs-dmarc-report-size = "!" 1*DIGIT [ "k" / "m" / "g" / "t" ]
//! ```
//!
//! A URI is kept as published and judged on demand ([`ReportUri::problem`]), so that a
//! linter can name the exact mistake (most often a missing `mailto:`) while a receiver
//! simply skips what is not a URI.

use std::fmt;

/// One reporting URI as published.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReportUri {
    /// The URI without the obsolete size limit.
    pub uri: String,
    /// The `!size` suffix without the `!` (RFC 7489 §6.2; obsolete in RFC 9989 §4.8).
    pub size_limit: Option<String>,
}

/// What is wrong with a reporting URI.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriProblem {
    /// Nothing between two commas, or an empty tag.
    #[error("the URI is empty")]
    Empty,
    /// No `scheme:` in front (`rua=dmarc@example.com`).
    #[error("{0:?} has no scheme; a mail address needs \"mailto:\" in front")]
    MissingScheme(String),
    /// A character a URI cannot hold unencoded (RFC 3986 §2).
    #[error("{uri:?} holds {ch:?}, which a URI cannot hold unencoded")]
    BadCharacter {
        /// The URI.
        uri: String,
        /// The offending character.
        ch: char,
    },
    /// `mailto:` without a usable `local@domain` (RFC 6068 §2).
    #[error("{0:?} is not a mailto: URI with one address local@domain")]
    BadMailto(String),
    /// The `!size` suffix is not digits with an optional k/m/g/t unit.
    #[error("the size limit {0:?} is not digits followed by k, m, g or t")]
    BadSizeLimit(String),
}

impl ReportUri {
    /// Split the optional `!size` suffix off `raw` (already trimmed).
    pub fn parse(raw: &str) -> ReportUri {
        match raw.rsplit_once('!') {
            Some((uri, size)) => ReportUri {
                uri: uri.to_string(),
                size_limit: Some(size.to_string()),
            },
            None => ReportUri {
                uri: raw.to_string(),
                size_limit: None,
            },
        }
    }

    /// A `mailto:` URI for `address` (characters outside a URI's set percent-encoded).
    pub fn mailto(address: &str) -> ReportUri {
        let mut uri = String::from("mailto:");
        for b in address.bytes() {
            if is_uri_byte(b) && b != b',' && b != b'!' && b != b'%' {
                uri.push(char::from(b));
            } else {
                uri.push_str(&format!("%{b:02X}"));
            }
        }
        ReportUri {
            uri,
            size_limit: None,
        }
    }

    /// The scheme, lowercased (`mailto`, `https`), if the URI has a valid one.
    pub fn scheme(&self) -> Option<String> {
        let (scheme, _) = self.uri.split_once(':')?;
        let b = scheme.as_bytes();
        let ok = !b.is_empty()
            && b[0].is_ascii_alphabetic()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
        ok.then(|| scheme.to_ascii_lowercase())
    }

    /// For a `mailto:` URI, the address (percent-decoded, `?` header fields dropped).
    pub fn mailto_address(&self) -> Option<String> {
        if self.scheme().as_deref() != Some("mailto") {
            return None;
        }
        let rest = &self.uri[self.uri.find(':')? + 1..];
        let to = rest.split('?').next().unwrap_or("");
        let decoded = percent_decode(to)?;
        let (local, domain) = decoded.rsplit_once('@')?;
        (!local.is_empty() && is_host_name(domain)).then_some(decoded)
    }

    /// The host that receives reports: a mailto address's domain or an URL's host,
    /// lowercased. This is the "destination host" of RFC 7489 §7.1 step 1.
    pub fn destination_host(&self) -> Option<String> {
        if let Some(address) = self.mailto_address() {
            let (_, domain) = address.rsplit_once('@')?;
            return Some(domain.trim_end_matches('.').to_ascii_lowercase());
        }
        let scheme = self.scheme()?;
        let rest = self.uri[scheme.len() + 1..].strip_prefix("//")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let host_port = authority.rsplit('@').next()?;
        let host = match host_port.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host_port,
        };
        is_host_name(host).then(|| host.trim_end_matches('.').to_ascii_lowercase())
    }

    /// Why a receiver cannot use this URI, or `None` if it is a valid URI.
    pub fn problem(&self) -> Option<UriProblem> {
        if self.uri.is_empty() {
            return Some(UriProblem::Empty);
        }
        if let Some(size) = &self.size_limit
            && !is_size_limit(size)
        {
            return Some(UriProblem::BadSizeLimit(size.clone()));
        }
        if let Some(ch) = self
            .uri
            .chars()
            .find(|c| !c.is_ascii() || !is_uri_byte(*c as u8))
        {
            return Some(UriProblem::BadCharacter {
                uri: self.uri.clone(),
                ch,
            });
        }
        if self.scheme().is_none() {
            return Some(UriProblem::MissingScheme(self.uri.clone()));
        }
        if self.scheme().as_deref() == Some("mailto") && self.mailto_address().is_none() {
            return Some(UriProblem::BadMailto(self.uri.clone()));
        }
        None
    }
}

impl fmt::Display for ReportUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if let Some(size) = &self.size_limit {
            write!(f, "!{size}")?;
        }
        Ok(())
    }
}

/// `1*DIGIT [ "k" / "m" / "g" / "t" ]`
fn is_size_limit(s: &str) -> bool {
    let digits = s.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
    !digits.is_empty() && s.len() - digits.len() <= 1 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 3986 §2: unreserved, reserved and `%`.
fn is_uri_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A host name of LDH labels (RFC 1123 §2.1), one trailing dot allowed.
pub(crate) fn is_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_uris() {
        let ok = ReportUri::parse("mailto:dmarc@example.com!10m");
        assert_eq!(ok.problem(), None);
        assert_eq!(ok.size_limit.as_deref(), Some("10m"));
        assert_eq!(ok.destination_host().as_deref(), Some("example.com"));
        assert!(matches!(
            ReportUri::parse("dmarc@example.com").problem(),
            Some(UriProblem::MissingScheme(_))
        ));
        assert!(matches!(
            ReportUri::parse("mailto:").problem(),
            Some(UriProblem::BadMailto(_))
        ));
        assert!(matches!(
            ReportUri::parse("mailto:a b@example.com").problem(),
            Some(UriProblem::BadCharacter { ch: ' ', .. })
        ));
        assert!(matches!(
            ReportUri::parse("mailto:x@example.com!10x").problem(),
            Some(UriProblem::BadSizeLimit(_))
        ));
        let https = ReportUri::parse("https://reports.example.net:8443/dmarc");
        assert_eq!(https.problem(), None);
        assert_eq!(
            https.destination_host().as_deref(),
            Some("reports.example.net")
        );
        assert_eq!(
            ReportUri::parse("mailto:A%40B@Example.NET")
                .mailto_address()
                .as_deref(),
            Some("A@B@Example.NET")
        );
    }

    #[test]
    fn builds_mailto() {
        let uri = ReportUri::mailto("a,b!c@example.com");
        assert_eq!(uri.to_string(), "mailto:a%2Cb%21c@example.com");
        assert_eq!(uri.problem(), None);
    }
}
