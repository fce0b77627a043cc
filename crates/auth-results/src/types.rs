//! The values of an Authentication-Results header field (RFC 8601 §2.2).
//!
//! ```text
//! authres-payload = [CFWS] authserv-id [ CFWS authres-version ]
//!                   ( no-result / 1*resinfo ) [CFWS] CRLF
//! resinfo         = [CFWS] ";" methodspec [ CFWS reasonspec ] [ CFWS 1*propspec ]
//! methodspec      = [CFWS] method [CFWS] "=" [CFWS] result
//! reasonspec      = "reason" [CFWS] "=" [CFWS] value
//! propspec        = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
//! ```

use std::fmt;

/// A whole header field value: who checked, and what each check gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticationResults {
    /// The authentication service identifier: the host that ran the checks (§2.5).
    pub authserv_id: String,
    /// `authres-version`, absent meaning 1 (§2.2).
    pub version: Option<u32>,
    /// The results; empty means `none`, no checks were made (§2.2 `no-result`).
    pub results: Vec<ResInfo>,
}

/// One method's result (`resinfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResInfo {
    /// The method (`spf`, `dkim`, `dmarc`, `iprev`, …), lowercase.
    pub method: String,
    /// The method's version (`dkim/1`), if given.
    pub method_version: Option<u32>,
    /// The result (`pass`, `fail`, …), lowercase.
    pub result: String,
    /// The comment right after the result, if any (`dkim=pass (2048-bit key)`).
    pub comment: Option<String>,
    /// The `reason=` value (§2.2 reasonspec).
    pub reason: Option<String>,
    /// The properties, in order.
    pub properties: Vec<Property>,
}

/// One `ptype.property=value` (§2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// `smtp`, `header`, `body` or `policy` (§2.3), lowercase.
    pub ptype: String,
    /// The property (`mailfrom`, `d`, `from`, …), lowercase.
    pub property: String,
    /// The value, unquoted.
    pub value: String,
    /// A comment after the value, if any.
    pub comment: Option<String>,
}

/// A method, result, ptype or property name that is not an RFC 5321 Keyword.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a keyword (letters, digits and inner hyphens)")]
pub struct InvalidKeyword(pub String);

/// RFC 5321 §4.1.2 `Keyword = Ldh-str`: letters, digits and hyphens, starting and
/// ending with a letter or digit. Methods, results, ptypes and properties are keywords.
pub fn is_keyword(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn keyword(s: &str) -> Result<String, InvalidKeyword> {
    if is_keyword(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(InvalidKeyword(s.to_string()))
    }
}

impl AuthenticationResults {
    /// An empty header for `authserv_id` (written `authserv-id; none` until results
    /// are added).
    pub fn new(authserv_id: impl Into<String>) -> Self {
        AuthenticationResults {
            authserv_id: authserv_id.into(),
            version: None,
            results: Vec::new(),
        }
    }

    /// Add a result.
    pub fn push(&mut self, result: ResInfo) -> &mut Self {
        self.results.push(result);
        self
    }

    /// The results of one method (`"dkim"`), in order.
    pub fn method<'a>(&'a self, method: &'a str) -> impl Iterator<Item = &'a ResInfo> + 'a {
        self.results
            .iter()
            .filter(move |r| r.method.eq_ignore_ascii_case(method))
    }
}

impl ResInfo {
    /// A result for `method` with `result`, both keywords.
    pub fn new(method: &str, result: &str) -> Result<Self, InvalidKeyword> {
        Ok(ResInfo {
            method: keyword(method)?,
            method_version: None,
            result: keyword(result)?,
            comment: None,
            reason: None,
            properties: Vec::new(),
        })
    }

    /// Set the comment after the result.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Set `reason=`.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Add `ptype.property=value`.
    pub fn with_property(
        mut self,
        ptype: &str,
        property: &str,
        value: impl Into<String>,
    ) -> Result<Self, InvalidKeyword> {
        self.properties.push(Property {
            ptype: keyword(ptype)?,
            property: keyword(property)?,
            value: value.into(),
            comment: None,
        });
        Ok(self)
    }

    /// The value of the first `ptype.property`, if present (`get("header", "d")`).
    pub fn get(&self, ptype: &str, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|p| {
                p.ptype.eq_ignore_ascii_case(ptype) && p.property.eq_ignore_ascii_case(property)
            })
            .map(|p| p.value.as_str())
    }
}

impl fmt::Display for AuthenticationResults {
    /// The field value on one line (`authserv-id; method=result …; …`). Use
    /// [`AuthenticationResults::to_header_field`] for the folded field with its name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::generate::write_value(f, &self.authserv_id)?;
        if let Some(v) = self.version {
            write!(f, " {v}")?;
        }
        if self.results.is_empty() {
            return f.write_str("; none");
        }
        for r in &self.results {
            write!(f, "; {r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ResInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Method and result are keywords by construction, but the fields are public:
        // write them through the same guard as everything else.
        crate::generate::write_keyword(f, &self.method)?;
        if let Some(v) = self.method_version {
            write!(f, "/{v}")?;
        }
        f.write_str("=")?;
        crate::generate::write_keyword(f, &self.result)?;
        if let Some(c) = &self.comment {
            f.write_str(" ")?;
            crate::generate::write_comment(f, c)?;
        }
        if let Some(reason) = &self.reason {
            f.write_str(" reason=")?;
            crate::generate::write_value(f, reason)?;
        }
        for p in &self.properties {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::generate::write_keyword(f, &self.ptype)?;
        f.write_str(".")?;
        crate::generate::write_keyword(f, &self.property)?;
        f.write_str("=")?;
        crate::generate::write_pvalue(f, &self.value)?;
        if let Some(c) = &self.comment {
            f.write_str(" ")?;
            crate::generate::write_comment(f, c)?;
        }
        Ok(())
    }
}
