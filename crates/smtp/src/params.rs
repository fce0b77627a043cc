//! `MAIL` and `RCPT` parameters (RFC 5321 §4.1.2 `esmtp-param`).
//!
//! ```text
//! Mail-parameters  = esmtp-param *(SP esmtp-param)
//! esmtp-param      = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword    = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value      = 1*(%d33-60 / %d62-126)
//! esmtp-value      =/ UTF8-non-ascii      ; RFC 6531 §3.3
//! ```
//!
//! Only the parameters of extensions Sendwell announces are understood: SIZE
//! (RFC 1870), BODY (RFC 6152; RFC 3030 adds BINARYMIME, which we parse but do not
//! announce), SMTPUTF8 (RFC 6531) and AUTH (RFC 4954 §5). Anything else is
//! [`ParamError::Unrecognized`], which RFC 5321 §4.1.1.11 answers with 555.

use std::fmt;

/// Why a parameter list is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// Not `keyword[=value]` (RFC 5321 §4.1.2).
    #[error("malformed parameter {0:?} (RFC 5321 §4.1.2)")]
    Malformed(String),
    /// A keyword of an extension we do not offer (RFC 5321 §4.1.1.11: 555).
    #[error("parameter {0} not recognized")]
    Unrecognized(String),
    /// A known keyword with a bad value, e.g. `SIZE=abc`.
    #[error("bad value for {0}")]
    BadValue(&'static str),
    /// The same keyword twice.
    #[error("parameter {0} given twice")]
    Duplicate(&'static str),
}

/// The `BODY=` value (RFC 6152 §2, RFC 3030 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BINARYMIME` (RFC 3030 §3): only with BDAT; not announced by Sendwell.
    BinaryMime,
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Body::SevenBit => "7BIT",
            Body::EightBitMime => "8BITMIME",
            Body::BinaryMime => "BINARYMIME",
        })
    }
}

/// The parameters of `MAIL FROM:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParameters {
    /// `SIZE=n`: the client's estimate of the message size in octets (RFC 1870 §3).
    pub size: Option<u64>,
    /// `BODY=`: the body type (RFC 6152).
    pub body: Option<Body>,
    /// `SMTPUTF8`: the message or envelope may hold UTF-8 (RFC 6531 §3.4).
    pub smtputf8: bool,
    /// `AUTH=`: the authenticated originator as an xtext, or `<>` (RFC 4954 §5).
    pub auth: Option<String>,
}

/// The parameters of `RCPT TO:`. None are understood yet (the DSN extension's
/// `NOTIFY` and `ORCPT`, RFC 3461, are not offered); the type exists so a future one
/// has a place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RcptParameters {}

/// Split `s` (the text after the path) into `keyword[=value]` pairs.
fn split_params(s: &str) -> Result<Vec<(&str, Option<&str>)>, ParamError> {
    let mut out = Vec::new();
    for item in s.split(' ').filter(|p| !p.is_empty()) {
        let (keyword, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item, None),
        };
        let keyword_ok = keyword
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| matches!(b, 33..=60 | 62..=126) || b >= 0x80)
        });
        if !keyword_ok || !value_ok {
            return Err(ParamError::Malformed(item.to_string()));
        }
        out.push((keyword, value));
    }
    Ok(out)
}

impl MailParameters {
    /// Parse the parameters after `MAIL FROM:<path>` (leading spaces allowed).
    pub fn parse(s: &str) -> Result<MailParameters, ParamError> {
        let mut p = MailParameters::default();
        for (keyword, value) in split_params(s)? {
            if keyword.eq_ignore_ascii_case("SIZE") {
                // RFC 1870 §3: size-value ::= 1*20DIGIT
                let v = value.ok_or(ParamError::BadValue("SIZE"))?;
                if v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ParamError::BadValue("SIZE"));
                }
                if p.size.is_some() {
                    return Err(ParamError::Duplicate("SIZE"));
                }
                // More than u64::MAX octets is simply "too big".
                p.size = Some(v.parse().unwrap_or(u64::MAX));
            } else if keyword.eq_ignore_ascii_case("BODY") {
                let v = value.ok_or(ParamError::BadValue("BODY"))?;
                let body = if v.eq_ignore_ascii_case("7BIT") {
                    Body::SevenBit
                } else if v.eq_ignore_ascii_case("8BITMIME") {
                    Body::EightBitMime
                } else if v.eq_ignore_ascii_case("BINARYMIME") {
                    Body::BinaryMime
                } else {
                    return Err(ParamError::BadValue("BODY"));
                };
                if p.body.is_some() {
                    return Err(ParamError::Duplicate("BODY"));
                }
                p.body = Some(body);
            } else if keyword.eq_ignore_ascii_case("SMTPUTF8") {
                // RFC 6531 §3.4: "SMTPUTF8" takes no value.
                if value.is_some() {
                    return Err(ParamError::BadValue("SMTPUTF8"));
                }
                if p.smtputf8 {
                    return Err(ParamError::Duplicate("SMTPUTF8"));
                }
                p.smtputf8 = true;
            } else if keyword.eq_ignore_ascii_case("AUTH") {
                let v = value.ok_or(ParamError::BadValue("AUTH"))?;
                if p.auth.is_some() {
                    return Err(ParamError::Duplicate("AUTH"));
                }
                p.auth = Some(v.to_string());
            } else {
                return Err(ParamError::Unrecognized(keyword.to_string()));
            }
        }
        Ok(p)
    }
}

impl RcptParameters {
    /// Parse the parameters after `RCPT TO:<path>`.
    pub fn parse(s: &str) -> Result<RcptParameters, ParamError> {
        if let Some((keyword, _)) = split_params(s)?.into_iter().next() {
            return Err(ParamError::Unrecognized(keyword.to_string()));
        }
        Ok(RcptParameters {})
    }
}

impl fmt::Display for MailParameters {
    /// The parameters as they follow the path on the wire, each with a leading space.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(size) = self.size {
            write!(f, " SIZE={size}")?;
        }
        if let Some(body) = self.body {
            write!(f, " BODY={body}")?;
        }
        if self.smtputf8 {
            f.write_str(" SMTPUTF8")?;
        }
        if let Some(auth) = &self.auth {
            write!(f, " AUTH={auth}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RcptParameters {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_parameters() {
        let p = MailParameters::parse(" SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>").unwrap();
        assert_eq!(p.size, Some(1000));
        assert_eq!(p.body, Some(Body::EightBitMime));
        assert!(p.smtputf8);
        assert_eq!(p.to_string(), " SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>");
        assert_eq!(
            MailParameters::parse("SIZE=x"),
            Err(ParamError::BadValue("SIZE"))
        );
        assert_eq!(
            MailParameters::parse("RET=HDRS"),
            Err(ParamError::Unrecognized("RET".into()))
        );
        assert_eq!(
            MailParameters::parse("SIZE=1 SIZE=2"),
            Err(ParamError::Duplicate("SIZE"))
        );
        assert!(matches!(
            MailParameters::parse("=x"),
            Err(ParamError::Malformed(_))
        ));
        assert_eq!(RcptParameters::parse("  ").unwrap(), RcptParameters {});
        assert!(RcptParameters::parse("NOTIFY=NEVER").is_err());
    }
}
