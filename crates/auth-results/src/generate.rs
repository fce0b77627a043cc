//! Writing Authentication-Results (RFC 8601 §2.2), safely.
//!
//! The values in this header come from the sender: the HELO name, the MAIL FROM address,
//! a DKIM signature's `d=`, `s=` and `b=`. A sender who could put `;` or a line break
//! into one could forge a result (`smtp.mailfrom=x; dkim=pass`) or a whole new header
//! field. RFC 8601 §7.1 is about exactly such forgeries. So every value is written by
//! one routine here:
//! - a value that is an RFC 2045 token (no spaces, no `()<>@,;:\"/[]?=`) is written bare;
//! - a property value of the form `local@domain` or `@domain`, with a dot-atom local
//!   part and a host-name domain, is written bare (RFC 8601 §2.2 pvalue);
//! - anything else becomes a quoted-string, with `"` and `\` escaped;
//! - comments escape `(`, `)` and `\`;
//! - control characters (CR, LF, NUL, …) become spaces and non-ASCII characters `?`, so
//!   the field stays one 7-bit field whatever the input.
//!
//! Methods, results, ptypes and properties are checked to be keywords when built
//! ([`ResInfo::new`]); if a caller sets an invalid one through the public fields anyway,
//! its non-keyword characters are dropped when written.
//!
//! The property tests in `tests/` generate arbitrary sender text, write it, parse it back
//! with [`crate::parse`], and require the same results: nothing injected, nothing lost
//! (beyond the documented replacement of control and non-ASCII characters).

use std::fmt::{self, Write};
use std::net::IpAddr;

use crate::types::{AuthenticationResults, ResInfo, is_keyword};

/// How many characters of a DKIM signature's `b=` go in `header.b` at least
/// (RFC 6008 §4: enough to tell the signatures apart, at least eight).
pub const HEADER_B_MIN: usize = 8;

/// RFC 2045 §5.1 token: 1*<any CHAR except SPACE, CTLs, or tspecials>.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// `[ [ local-part ] "@" ] domain-name` with a dot-atom local part and LDH labels.
fn is_address_form(s: &str) -> bool {
    let (local, domain) = match s.rsplit_once('@') {
        Some((l, d)) => (Some(l), d),
        None => (None, s),
    };
    let local_ok = local.is_none_or(|l| {
        l.is_empty()
            || l.split('.')
                .all(|w| !w.is_empty() && w.bytes().all(is_atext))
    });
    let domain_ok = !domain.is_empty()
        && domain.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        });
    local_ok && domain_ok
}

/// The character written in place of `c` inside a quoted string or comment.
fn safe_char(c: char) -> char {
    if c == '\t' || c.is_control() {
        ' '
    } else if c.is_ascii() {
        c
    } else {
        '?'
    }
}

/// A value (authserv-id, reason): a token bare, anything else quoted.
pub(crate) fn write_value(f: &mut impl Write, s: &str) -> fmt::Result {
    if is_token(s) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

/// A property value: a token or an address form bare, anything else quoted.
pub(crate) fn write_pvalue(f: &mut impl Write, s: &str) -> fmt::Result {
    if is_token(s) || is_address_form(s) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

fn write_quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars().map(safe_char) {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// A comment: `(text)` with `(`, `)` and `\` escaped.
pub(crate) fn write_comment(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('(')?;
    for c in s.chars().map(safe_char) {
        if matches!(c, '(' | ')' | '\\') {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char(')')
}

/// A keyword; characters a keyword cannot hold are dropped.
pub(crate) fn write_keyword(f: &mut impl Write, s: &str) -> fmt::Result {
    if is_keyword(s) {
        return f.write_str(s);
    }
    let kept: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let kept = kept.trim_matches('-');
    f.write_str(if kept.is_empty() { "x-invalid" } else { kept })
}

impl AuthenticationResults {
    /// The whole header field, `Authentication-Results: ` included, one result per
    /// line (folded with CRLF and a tab, RFC 5322 §2.2.3), without a final CRLF.
    pub fn to_header_field(&self) -> String {
        let mut out = String::from("Authentication-Results: ");
        let _ = write_value(&mut out, &self.authserv_id);
        if let Some(v) = self.version {
            out.push_str(&format!(" {v}"));
        }
        if self.results.is_empty() {
            out.push_str("; none");
            return out;
        }
        for r in &self.results {
            out.push_str(";\r\n\t");
            out.push_str(&r.to_string());
        }
        out
    }
}

impl ResInfo {
    /// `spf=<result> smtp.mailfrom=<address>` for the MAIL FROM identity
    /// (RFC 8601 §2.7.2; RFC 7208 §9.1).
    pub fn spf_mailfrom(result: &str, mail_from: &str) -> Result<ResInfo, crate::InvalidKeyword> {
        ResInfo::new("spf", result)?.with_property("smtp", "mailfrom", mail_from)
    }

    /// `spf=<result> smtp.helo=<name>` for the HELO identity.
    pub fn spf_helo(result: &str, helo: &str) -> Result<ResInfo, crate::InvalidKeyword> {
        ResInfo::new("spf", result)?.with_property("smtp", "helo", helo)
    }

    /// `dkim=<result> header.d=<d> header.s=<s> header.b=<prefix>` for one signature
    /// (RFC 8601 §2.7.1, RFC 6008 §4 for header.b). `b` is the signature's `b=` value;
    /// its first `b_len` characters (at least [`HEADER_B_MIN`]) are written.
    pub fn dkim(
        result: &str,
        d: &str,
        s: &str,
        b: Option<&str>,
        b_len: usize,
    ) -> Result<ResInfo, crate::InvalidKeyword> {
        let mut r = ResInfo::new("dkim", result)?
            .with_property("header", "d", d)?
            .with_property("header", "s", s)?;
        if let Some(b) = b {
            let b: String = b.chars().filter(|c| !c.is_whitespace()).collect();
            let prefix: String = b.chars().take(b_len.max(HEADER_B_MIN)).collect();
            if !prefix.is_empty() {
                r = r.with_property("header", "b", prefix)?;
            }
        }
        Ok(r)
    }

    /// `dmarc=<result> (p=… dis=…) header.from=<domain> policy.dmarc=<disposition>`
    /// (RFC 7489 §11.2, RFC 9989 §9.1 for `policy.dmarc`).
    pub fn dmarc(
        result: &str,
        header_from: &str,
        comment: Option<&str>,
        policy: Option<&str>,
    ) -> Result<ResInfo, crate::InvalidKeyword> {
        let mut r = ResInfo::new("dmarc", result)?;
        if let Some(c) = comment {
            r = r.with_comment(c);
        }
        r = r.with_property("header", "from", header_from)?;
        if let Some(p) = policy {
            r = r.with_property("policy", "dmarc", p)?;
        }
        Ok(r)
    }

    /// `iprev=<result> policy.iprev=<ip> (<name>)` (RFC 8601 §2.7.3, §3).
    pub fn iprev(
        result: &str,
        ip: IpAddr,
        name: Option<&str>,
    ) -> Result<ResInfo, crate::InvalidKeyword> {
        let mut r =
            ResInfo::new("iprev", result)?.with_property("policy", "iprev", ip.to_string())?;
        if let (Some(n), Some(last)) = (name, r.properties.last_mut()) {
            last.comment = Some(n.to_string());
        }
        Ok(r)
    }
}

/// The shortest `header.b` prefixes, at least [`HEADER_B_MIN`] long, that tell the given
/// `b=` values apart (RFC 6008 §4). Identical signatures get their whole value.
///
/// Lengths count characters (whitespace removed), as [`ResInfo::dkim`] takes them. A
/// `b=` value is base64, but it comes from the sender, so any text is handled without
/// slicing inside a character.
pub fn header_b_lengths(signatures: &[&str]) -> Vec<usize> {
    let clean: Vec<Vec<char>> = signatures
        .iter()
        .map(|b| b.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    clean
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut len = HEADER_B_MIN;
            // RFC 6008 §4: long enough that no other signature starts the same way.
            while len < b.len()
                && clean
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o != b && o.starts_with(&b[..len]))
            {
                len += 1;
            }
            len
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(results: Vec<ResInfo>) -> String {
        let mut h = AuthenticationResults::new("mx.example.org");
        for r in results {
            h.push(r);
        }
        h.to_string()
    }

    #[test]
    fn writes_the_common_methods() {
        let h = header(vec![
            ResInfo::spf_mailfrom("pass", "sender@example.com").unwrap(),
            ResInfo::dkim("pass", "example.com", "sel1", Some("oINEO8hgEToRSuvU"), 8).unwrap(),
            ResInfo::dmarc(
                "pass",
                "example.com",
                Some("p=reject dis=none"),
                Some("none"),
            )
            .unwrap(),
            ResInfo::iprev(
                "pass",
                "192.0.2.1".parse().unwrap(),
                Some("mail.example.com"),
            )
            .unwrap(),
            ResInfo::iprev("fail", "2001:db8::1".parse().unwrap(), None).unwrap(),
        ]);
        assert_eq!(
            h,
            "mx.example.org; spf=pass smtp.mailfrom=sender@example.com; \
             dkim=pass header.d=example.com header.s=sel1 header.b=oINEO8hg; \
             dmarc=pass (p=reject dis=none) header.from=example.com policy.dmarc=none; \
             iprev=pass policy.iprev=192.0.2.1 (mail.example.com); \
             iprev=fail policy.iprev=\"2001:db8::1\""
        );
    }

    #[test]
    fn quotes_what_a_sender_controls() {
        let h = header(vec![
            ResInfo::spf_helo("pass", "evil; dkim=pass header.d=bank.example").unwrap(),
            ResInfo::spf_mailfrom("fail", "a\r\nAuthentication-Results: x; dmarc=pass").unwrap(),
            ResInfo::dkim("fail", "bad\"d\\", "s(1)", Some("ab/cd+ef=="), 8).unwrap(),
        ]);
        assert_eq!(
            h,
            "mx.example.org; spf=pass smtp.helo=\"evil; dkim=pass header.d=bank.example\"; \
             spf=fail smtp.mailfrom=\"a  Authentication-Results: x; dmarc=pass\"; \
             dkim=fail header.d=\"bad\\\"d\\\\\" header.s=\"s(1)\" header.b=\"ab/cd+ef\""
        );
        assert!(!h.contains('\r') && !h.contains('\n'));
        let parsed = crate::parse_header(&h).unwrap();
        assert_eq!(parsed.results.len(), 3);
        assert_eq!(
            parsed.results[0].get("smtp", "helo"),
            Some("evil; dkim=pass header.d=bank.example")
        );
    }

    #[test]
    fn folds_one_result_per_line() {
        let mut h = AuthenticationResults::new("mx.example.org");
        assert_eq!(
            h.to_header_field(),
            "Authentication-Results: mx.example.org; none"
        );
        h.push(ResInfo::spf_mailfrom("pass", "a@example.com").unwrap());
        h.push(ResInfo::new("dmarc", "none").unwrap());
        assert_eq!(
            h.to_header_field(),
            "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=a@example.com;\r\n\tdmarc=none"
        );
    }

    #[test]
    fn b_prefixes_are_unique() {
        assert_eq!(
            header_b_lengths(&["abcdefghXYZ", "abcdefghQRS"]),
            vec![9, 9]
        );
        assert_eq!(
            header_b_lengths(&["abcdefghXYZ", "zzzzzzzzzzz"]),
            vec![8, 8]
        );
        assert_eq!(header_b_lengths(&["abc"]), vec![8]);
        // Sender text need not be ASCII: lengths count characters, and nothing panics
        // (byte 8 of the first value is inside the "é").
        assert_eq!(header_b_lengths(&["abcdefgé12", "abcdefgéxy"]), vec![9, 9]);
        assert_eq!(
            header_b_lengths(&["ééééééééé1", "ééééééééé2"]),
            vec![10, 10]
        );
        let r = ResInfo::dkim("pass", "example.com", "s", Some("abcdefgé12"), 9).unwrap();
        assert_eq!(r.get("header", "b"), Some("abcdefgé1"));
    }

    #[test]
    fn refuses_non_keywords() {
        assert!(ResInfo::new("sp f", "pass").is_err());
        assert!(ResInfo::new("spf", "pass;").is_err());
        let mut r = ResInfo::new("spf", "pass").unwrap();
        r.result = "pass; dkim=pass".into();
        assert_eq!(r.to_string(), "spf=passdkimpass");
    }
}
