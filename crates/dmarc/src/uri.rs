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
    /// `mailto:` without exactly one valid address (RFC 6068 §2, RFC 5322 §3.4.1).
    #[error("{uri:?} is not a mailto: URI with one valid address local@domain: {why}")]
    BadMailto {
        /// The URI.
        uri: String,
        /// What is wrong with its address, in plain words.
        why: String,
    },
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

    /// A `mailto:` URI for `address`: characters outside a URI's set, those RFC 6068 §2
    /// wants encoded in an address (`%`, `/`, `?`, `#`, `[`, `]`, `&`, `;`, `=`), and
    /// DMARC's list separators `,` and `!` (RFC 9989 §4.8) percent-encoded.
    pub fn mailto(address: &str) -> ReportUri {
        let mut uri = String::from("mailto:");
        for b in address.bytes() {
            if is_uri_byte(b) && !MAILTO_ENCODE.contains(&b) && b != b',' && b != b'!' {
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

    /// For a `mailto:` URI with one valid address, the address (percent-decoded, `?`
    /// header fields dropped).
    pub fn mailto_address(&self) -> Option<String> {
        if self.scheme().as_deref() != Some("mailto") {
            return None;
        }
        self.mailto_parse().ok()
    }

    /// The address of a `mailto:` URI, or why there is no valid one.
    ///
    /// ```text
    /// mailtoURI = "mailto:" [ to ] [ hfields ]        ; RFC 6068 §2
    /// to        = addr-spec *("," addr-spec )         ; "," is %2C inside a DMARC record
    /// ```
    fn mailto_parse(&self) -> Result<String, String> {
        let rest = self.uri.split_once(':').map_or("", |(_, r)| r);
        let to = rest.split('?').next().unwrap_or("");
        // RFC 6068 §2: "/", "?", "#", "[", "]", "&", ";" and "=" in an addr-spec "MUST
        // be percent-encoded"; unencoded, they are URI syntax (`mailto://x@y` is not an
        // address but a path).
        if let Some(c) = to
            .chars()
            .find(|c| MAILTO_ENCODE.contains(&(*c as u8)) && *c != '%')
        {
            return Err(format!(
                "{c:?} must be percent-encoded in a mailto: address (RFC 6068 §2)"
            ));
        }
        let decoded = percent_decode(to).ok_or_else(|| {
            "a % is not followed by two hex digits, or the octets are not UTF-8".to_string()
        })?;
        addr_spec_problem(&decoded).map_or(Ok(decoded), Err)
    }

    /// The host that receives reports: a mailto address's domain or an URL's host,
    /// lowercased. This is the "destination host" of RFC 7489 §7.1 step 1.
    pub fn destination_host(&self) -> Option<String> {
        let scheme = self.scheme()?;
        if scheme == "mailto" {
            // Only a valid address has a host: `mailto://x@y` is not a URL with host y.
            let address = self.mailto_address()?;
            let (_, domain) = address.rsplit_once('@')?;
            return Some(domain.trim_end_matches('.').to_ascii_lowercase());
        }
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
        if self.scheme().as_deref() == Some("mailto")
            && let Err(why) = self.mailto_parse()
        {
            return Some(UriProblem::BadMailto {
                uri: self.uri.clone(),
                why,
            });
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

/// The octets RFC 6068 §2 wants percent-encoded inside a mailto: address, beyond those
/// a URI cannot hold: `%` itself, the gen-delims but `@` and `:`, and `&`, `;`, `=`.
const MAILTO_ENCODE: &[u8] = b"%/?#[]&;=";

/// Why `addr` (percent-decoded) is not an RFC 5322 addr-spec, or `None` if it is one.
///
/// ```text
/// addr-spec  = local-part "@" domain              ; RFC 5322 §3.4.1
/// local-part = dot-atom / quoted-string           ; no obsolete forms, no CFWS
/// dot-atom-text = 1*atext *("." 1*atext)          ; RFC 5322 §3.2.3
/// ```
///
/// The domain must be a host name (RFC 1123 §2.1): reports are mailed to it, so a
/// domain literal or a free-form dot-atom is not accepted.
fn addr_spec_problem(addr: &str) -> Option<String> {
    if addr.is_empty() {
        return Some("there is no address".into());
    }
    let domain = if let Some(quoted) = addr.strip_prefix('"') {
        // quoted-string = DQUOTE *([FWS] qcontent) [FWS] DQUOTE   (RFC 5322 §3.2.4)
        let mut chars = quoted.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    end = Some(i);
                    break;
                }
                // quoted-pair = "\" (VCHAR / WSP)
                '\\' => match chars.next() {
                    Some((_, q)) if q == ' ' || q == '\t' || q.is_ascii_graphic() => {}
                    _ => return Some("a \\ in the quoted local part escapes nothing".into()),
                },
                // qtext = %d33 / %d35-91 / %d93-126, and the WSP of FWS; RFC 6532 §3.2
                // adds UTF8-non-ascii (an internationalised address, percent-encoded in
                // the URI as RFC 6068 §2 says).
                c if c == ' ' || c == '\t' || c.is_ascii_graphic() || !c.is_ascii() => {}
                c => {
                    return Some(format!(
                        "the quoted local part holds {c:?}, which RFC 5322 §3.2.4 does not allow"
                    ));
                }
            }
        }
        let Some(end) = end else {
            return Some("the quoted local part has no closing \"".into());
        };
        let Some(domain) = quoted[end + 1..].strip_prefix('@') else {
            return Some("the quoted local part is not followed by @".into());
        };
        domain
    } else {
        let Some((local, domain)) = addr.split_once('@') else {
            return Some(format!("{addr:?} has no @"));
        };
        if local.is_empty() {
            return Some("the local part before @ is empty".into());
        }
        if !local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
        {
            return Some(format!(
                "the local part {local:?} is neither a dot-atom (letters, digits and !#$%&'*+-/=?^_`{{|}}~, with single dots between them, none first or last) nor a quoted string (RFC 5322 §3.4.1)"
            ));
        }
        domain
    };
    if domain.contains('@') {
        return Some("it holds more than one @".into());
    }
    if !is_host_name(domain) {
        return Some(format!("the domain {domain:?} is not a host name"));
    }
    None
}

/// RFC 5322 §3.2.3 atext, with the UTF8-non-ascii RFC 6532 §3.2 adds to it.
fn is_atext(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
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
            Some(UriProblem::BadMailto { .. })
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
        // An @ in the local part only inside a quoted string (RFC 5322 §3.4.1).
        assert_eq!(
            ReportUri::parse("mailto:%22A@B%22@Example.NET")
                .mailto_address()
                .as_deref(),
            Some("\"A@B\"@Example.NET")
        );
    }

    #[test]
    fn mailto_needs_one_rfc5322_addr_spec() {
        // RFC 6068 §2 and RFC 5322 §3.4.1: one addr-spec, dot-atom or quoted-string
        // local part, host-name domain.
        for (uri, why) in [
            ("mailto:a@b@example.com", "more than one @"),
            ("mailto:b@@example.com", "more than one @"),
            ("mailto://x@example.com", "'/' must be percent-encoded"),
            ("mailto:.a..b@example.com", "neither a dot-atom"),
            ("mailto:a.@example.com", "neither a dot-atom"),
            ("mailto:a%20b@example.com", "neither a dot-atom"),
            ("mailto:a%40b@example.com", "more than one @"),
            ("mailto:a@example.com%2Cb@example.com", "more than one @"),
            ("mailto:@example.com", "local part before @ is empty"),
            ("mailto:example.com", "has no @"),
            ("mailto:a@-example.com", "not a host name"),
            ("mailto:a@[192.0.2.1]", "'[' must be percent-encoded"),
            ("mailto:a@%5B192.0.2.1%5D", "not a host name"),
            ("mailto:%22a%22b@example.com", "not followed by @"),
            ("mailto:%22ab@example.com", "no closing"),
            ("mailto:a%ZZ@example.com", "two hex digits"),
        ] {
            let u = ReportUri::parse(uri);
            match u.problem() {
                Some(p @ UriProblem::BadMailto { .. }) => {
                    assert!(p.to_string().contains(why), "{uri}: {p}");
                }
                other => panic!("{uri}: {other:?}"),
            }
            assert_eq!(u.mailto_address(), None, "{uri}");
            assert_eq!(u.destination_host(), None, "{uri}");
        }
        for (uri, address) in [
            ("mailto:dmarc+rua@example.com", "dmarc+rua@example.com"),
            (
                "mailto:first.last@mail.example.com.",
                "first.last@mail.example.com.",
            ),
            ("mailto:%22a%20b%22@example.com", "\"a b\"@example.com"),
            (
                "mailto:%22a%5C%22b%22@example.com",
                "\"a\\\"b\"@example.com",
            ),
            ("mailto:a%2Fb@example.com?subject=dmarc", "a/b@example.com"),
            // RFC 6532 §3.2: UTF-8 in the local part, percent-encoded (RFC 6068 §2).
            ("mailto:%C3%A9t%C3%A9@example.com", "été@example.com"),
            ("mailto:%22%C3%A9%20t%22@example.com", "\"é t\"@example.com"),
        ] {
            let u = ReportUri::parse(uri);
            assert_eq!(u.problem(), None, "{uri}");
            assert_eq!(u.mailto_address().as_deref(), Some(address), "{uri}");
        }
    }

    #[test]
    fn builds_mailto() {
        let uri = ReportUri::mailto("a!b@example.com");
        assert_eq!(uri.to_string(), "mailto:a%21b@example.com");
        assert_eq!(uri.problem(), None);
        let uri = ReportUri::mailto("\"a,b\"@example.com");
        assert_eq!(uri.to_string(), "mailto:%22a%2Cb%22@example.com");
        assert_eq!(uri.problem(), None);
        // RFC 6068 §2: "/", "?", "=" and the like are encoded, so the URI stays valid.
        let uri = ReportUri::mailto("a/b?c=d@example.com");
        assert_eq!(uri.to_string(), "mailto:a%2Fb%3Fc%3Dd@example.com");
        assert_eq!(uri.mailto_address().as_deref(), Some("a/b?c=d@example.com"));
        // Not an address: encoded, but still refused.
        assert!(ReportUri::mailto("a b@example.com").problem().is_some());
    }
}
