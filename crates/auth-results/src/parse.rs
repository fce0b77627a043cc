//! Reading Authentication-Results header fields (RFC 8601 §2.2).
//!
//! The grammar is followed, with two leniencies that real headers need and that the
//! authres test suite (tests/data) expects:
//! - An unquoted property value is a run of `atext`, `.` and `@` (the union of RFC 2045
//!   token, dot-atom and `local@domain`). Gmail writes `header.b=Qgi/FoC0`, which is
//!   neither a token nor a domain. A `:` still ends the value, so an unquoted IPv6
//!   address (`policy.iprev=2001:db8::1`) is refused, as RFC 8601 §2.2 requires.
//! - After a result, a `word=value` without a `ptype.` (`x-tls=pass version=TLSv1.2`,
//!   `dmarc=none action=none`) is skipped, in the spirit of RFC 8601 §2.7.6 (consumers
//!   ignore what they do not know); such pairs carry nothing a consumer can use.
//!
//! Everything else is strict: a stray `;`, a missing `=`, an unclosed quote or comment
//! is an error. Method, result, ptype and property are lowercased (they are
//! case-insensitive); values keep their case. Comments nest at most
//! [`MAX_COMMENT_DEPTH`] deep, and the parser never recurses otherwise.

use crate::types::{AuthenticationResults, Property, ResInfo};

/// Deepest comment nesting accepted.
pub const MAX_COMMENT_DEPTH: usize = 32;

/// Why a header field could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{expected} at character {position}: {rest:?}")]
pub struct ParseError {
    /// What the parser needed.
    pub expected: &'static str,
    /// Where (in characters from the start of the value).
    pub position: usize,
    /// Up to 40 characters from there.
    pub rest: String,
}

struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn error(&self, expected: &'static str) -> ParseError {
        ParseError {
            expected,
            position: self.pos,
            rest: self.chars[self.pos.min(self.chars.len())..]
                .iter()
                .take(40)
                .collect(),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// CFWS (RFC 5322 §3.2.2); returns the text of the first comment skipped.
    fn cfws(&mut self) -> Result<Option<String>, ParseError> {
        let mut first = None;
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r' | '\n') => self.pos += 1,
                Some('(') => {
                    let c = self.comment()?;
                    first.get_or_insert(c);
                }
                _ => return Ok(first),
            }
        }
    }

    fn comment(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("a closing \")\" for this comment"));
                }
                Some('\\') => {
                    self.pos += 1;
                    if let Some(c) = self.peek() {
                        text.push(c);
                        self.pos += 1;
                    }
                }
                Some('(') => {
                    depth += 1;
                    if depth > MAX_COMMENT_DEPTH {
                        return Err(self.error("comments nested less deeply"));
                    }
                    if depth > 1 {
                        text.push('(');
                    }
                    self.pos += 1;
                }
                Some(')') => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(text);
                    }
                    text.push(')');
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn quoted_string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1; // the opening quote
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("a closing quote"));
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            text.push(c);
                            self.pos += 1;
                        }
                        None => return Err(self.error("a character after \\")),
                    }
                }
                // FWS inside a quoted string: drop the line break, keep the space.
                Some('\r' | '\n') => self.pos += 1,
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn take_while(&mut self, ok: impl Fn(char) -> bool) -> String {
        let start = self.pos;
        while self.peek().is_some_and(&ok) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A Keyword (RFC 5321 §4.1.2), lowercased.
    fn keyword(&mut self, expected: &'static str) -> Result<String, ParseError> {
        let start = self.pos;
        let word = self.take_while(|c| c.is_ascii_alphanumeric() || c == '-');
        if !crate::types::is_keyword(&word) {
            self.pos = start;
            return Err(self.error(expected));
        }
        Ok(word.to_ascii_lowercase())
    }

    /// `value = token / quoted-string` (RFC 2045 §5.1).
    fn value(&mut self, expected: &'static str) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            return self.quoted_string();
        }
        let token = self.take_while(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c));
        if token.is_empty() {
            return Err(self.error(expected));
        }
        Ok(token)
    }

    /// pvalue, leniently: a quoted string (optionally `"local"@domain`), or a run of
    /// atext, "." and "@" (see the module documentation).
    fn pvalue(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            let q = self.quoted_string()?;
            if self.eat('@') {
                let domain = self.take_while(is_ptext);
                if domain.is_empty() {
                    return Err(self.error("a domain after \"@\""));
                }
                return Ok(format!("{q}@{domain}"));
            }
            return Ok(q);
        }
        let v = self.take_while(is_ptext);
        if v.is_empty() {
            return Err(self.error("a property value"));
        }
        Ok(v)
    }

    fn digits(&mut self) -> Option<u32> {
        let d = self.take_while(|c| c.is_ascii_digit());
        d.parse().ok()
    }
}

fn is_ptext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.@".contains(c)
}

/// Parse a header field, with or without its `Authentication-Results:` name.
pub fn parse_header(text: &str) -> Result<AuthenticationResults, ParseError> {
    let trimmed = text.trim_start();
    let value = match trimmed.split_once(':') {
        Some((name, rest))
            if name
                .trim_end()
                .eq_ignore_ascii_case("Authentication-Results") =>
        {
            rest
        }
        _ => text,
    };
    parse_value(value)
}

/// Parse a field value (`authserv-id; method=result …`).
pub fn parse_value(value: &str) -> Result<AuthenticationResults, ParseError> {
    let mut c = Cursor {
        chars: value.chars().collect(),
        pos: 0,
    };
    c.cfws()?;
    let authserv_id = c.value("an authserv-id")?;
    c.cfws()?;
    let version = if c.peek().is_some_and(|ch| ch.is_ascii_digit()) {
        let v = c.digits().ok_or_else(|| c.error("a version number"))?;
        c.cfws()?;
        Some(v)
    } else {
        None
    };
    let mut results = Vec::new();
    let mut none = false;
    loop {
        c.cfws()?;
        if c.peek().is_none() {
            break;
        }
        if !c.eat(';') {
            return Err(c.error("\";\" before the next result"));
        }
        c.cfws()?;
        // no-result = [CFWS] ";" [CFWS] "none", alone.
        let save = c.pos;
        if results.is_empty() && matches!(c.keyword(""), Ok(w) if w == "none") {
            c.cfws()?;
            if c.peek().is_none() {
                none = true;
                break;
            }
        }
        c.pos = save;
        results.push(resinfo(&mut c)?);
    }
    if results.is_empty() && !none {
        return Err(c.error("\"none\" or at least one result"));
    }
    Ok(AuthenticationResults {
        authserv_id,
        version,
        results,
    })
}

fn resinfo(c: &mut Cursor) -> Result<ResInfo, ParseError> {
    // methodspec = [CFWS] method [CFWS] "=" [CFWS] result
    let method = c.keyword("a method name")?;
    c.cfws()?;
    let method_version = if c.eat('/') {
        c.cfws()?;
        let v = c.digits().ok_or_else(|| c.error("a method version"))?;
        c.cfws()?;
        Some(v)
    } else {
        None
    };
    if !c.eat('=') {
        return Err(c.error("\"=\" after the method"));
    }
    c.cfws()?;
    let result = c.keyword("a result")?;
    let comment = c.cfws()?;
    let mut info = ResInfo {
        method,
        method_version,
        result,
        comment,
        reason: None,
        properties: Vec::new(),
    };
    loop {
        let Some(ch) = c.peek() else {
            return Ok(info);
        };
        if ch == ';' {
            return Ok(info);
        }
        if !(ch.is_ascii_alphanumeric()) {
            return Err(c.error("a property, \";\" or the end"));
        }
        let word = c.keyword("a property type")?;
        c.cfws()?;
        if c.eat('.') {
            // propspec = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
            c.cfws()?;
            let property = c.keyword("a property name")?;
            c.cfws()?;
            if !c.eat('=') {
                return Err(c.error("\"=\" after the property"));
            }
            c.cfws()?;
            let value = c.pvalue()?;
            let comment = c.cfws()?;
            info.properties.push(Property {
                ptype: word,
                property,
                value,
                comment,
            });
        } else if c.eat('=') {
            c.cfws()?;
            if word == "reason" && info.reason.is_none() && info.properties.is_empty() {
                // reasonspec = "reason" [CFWS] "=" [CFWS] value
                info.reason = Some(c.value("a reason")?);
            } else {
                // A word=value with no ptype: skipped (see the module documentation).
                c.pvalue()?;
            }
            c.cfws()?;
        } else {
            return Err(c.error("\".\" or \"=\" after a property type"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc8601_appendix_b_forms() {
        // RFC 8601 Appendix B.2: nothing checked.
        let h = parse_header("Authentication-Results: example.org 1; none").unwrap();
        assert_eq!(h.version, Some(1));
        assert!(h.results.is_empty());
        // B.3: SPF.
        let h = parse_header("example.com; spf=pass smtp.mailfrom=example.net").unwrap();
        assert_eq!(h.results[0].get("smtp", "mailfrom"), Some("example.net"));
        // B.4: SMTP AUTH with a comment in between.
        let h = parse_header(
            "example.com;\r\n          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n          spf=pass smtp.mailfrom=example.net",
        )
        .unwrap();
        assert_eq!(h.results.len(), 2);
        assert_eq!(h.results[0].comment.as_deref(), Some("cram-md5"));
        // B.6: DKIM with method version and comments everywhere.
        let h = parse_header(
            "example.com (nested (comment)); dkim/1 = pass (good signature) header.i=@newyork.example.com",
        )
        .unwrap();
        assert_eq!(h.results[0].method_version, Some(1));
        assert_eq!(
            h.results[0].get("header", "i"),
            Some("@newyork.example.com")
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "example.com; spf",
            "example.com; spf=",
            "example.com; spf=pass;",
            "example.com; spf=pass smtp.mailfrom",
            "example.com; spf=pass smtp.mailfrom=",
            "example.com; spf=pass smtp.mailfrom=\"open",
            "example.com; spf=pass (open",
            "example.com; iprev=pass policy.iprev=2001:db8::1",
            "example.com spf=pass",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?} accepted");
        }
    }
}
