//! The RFC 5322 address grammar (§3.4, with the obsolete forms of §4.4), as the `From`
//! header field uses it: DMARC's Author Domain is the domain of the one address in From
//! (RFC 9989 §3.2.2, §5.3.1).
//!
//! ```text
//! address-list = (address *("," address)) / obs-addr-list
//! address      = mailbox / group
//! mailbox      = name-addr / addr-spec
//! name-addr    = [display-name] angle-addr
//! angle-addr   = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
//! group        = display-name ":" [group-list] ";" [CFWS]
//! display-name = phrase
//! addr-spec    = local-part "@" domain
//! ```
//!
//! From is a `mailbox-list` in RFC 5322 §3.6.2 and may be an `address-list` (groups) since
//! RFC 6854, so this parses the address-list and lets the caller flatten groups.
//!
//! Design decisions:
//! - Lexing first: the text becomes atoms, quoted strings, domain literals and specials,
//!   with CFWS (comments nest, RFC 5322 §3.2.2) dropped. The obsolete forms then fall
//!   out naturally: `John Q. Public` (obs-phrase), `a . b@x` (obs-local-part),
//!   `<@route:a@x>` (obs-route), empty list elements (obs-mbox-list).
//! - RFC 2047 encoded words (`=?utf-8?q?Jos=C3=A9?=`) are atoms and pass through
//!   undecoded; UTF-8 is allowed in atoms, quoted strings and comments (RFC 6532 §3.2).
//! - One leniency: a domain may end in a dot (`user@example.com.`), the DNS root.
//!   Refusing it would only turn such mail into an error; the name is the same.
//! - Untrusted input: no recursion except for comments, whose nesting is capped at
//!   [`MAX_COMMENT_DEPTH`]; memory is linear in the input.

use std::fmt;

/// Deepest comment nesting accepted; deeper input is refused rather than recursed into.
pub const MAX_COMMENT_DEPTH: usize = 32;

/// One mailbox: an optional display name and `local-part@domain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name with quoting removed and words joined by one space; `None` when
    /// there is no display name. Encoded words are left as they are.
    pub display_name: Option<String>,
    /// The local part, unquoted (`"john smith"` gives `john smith`).
    pub local_part: String,
    /// The domain as written: a dot-atom (`Example.COM`) or a domain literal
    /// (`[192.0.2.1]`, brackets kept).
    pub domain: String,
}

impl Mailbox {
    /// True when the domain is a domain literal (`[192.0.2.1]`), not a name.
    pub fn is_domain_literal(&self) -> bool {
        self.domain.starts_with('[')
    }
}

/// An address: a mailbox, or a named group of mailboxes (RFC 5322 §3.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// `display-name: member, member;` (members may be none).
    Group {
        /// The group's name.
        display_name: String,
        /// Its mailboxes.
        members: Vec<Mailbox>,
    },
}

/// Why an address list could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// A quoted string, comment or domain literal is not closed.
    #[error("unterminated {0}")]
    Unterminated(&'static str),
    /// Comments nest deeper than [`MAX_COMMENT_DEPTH`].
    #[error("comments nest deeper than {MAX_COMMENT_DEPTH}")]
    TooDeep,
    /// A character that cannot appear there.
    #[error("unexpected {found} at position {position}")]
    Unexpected {
        /// What was found.
        found: String,
        /// Character offset.
        position: usize,
    },
    /// The text ended where more was needed.
    #[error("the address ends too early: {0}")]
    Incomplete(&'static str),
}

/// Lexical tokens of RFC 5322 §3.2.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// An atom (1*atext).
    Atom(String),
    /// The content of a quoted string, quoted-pairs resolved.
    Quoted(String),
    /// A domain literal including its brackets.
    Literal(String),
    /// One of `< > : ; @ , .` (the specials that can stand alone here).
    Special(char),
}

fn is_atext(c: char) -> bool {
    // RFC 5322 §3.2.3 atext, plus UTF8-non-ascii (RFC 6532 §3.2).
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(input: &str) -> Result<Vec<(Token, usize)>, AddressError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            _ if is_ws(c) => i += 1,
            '(' => {
                let mut depth = 0usize;
                loop {
                    match chars.get(i) {
                        None => return Err(AddressError::Unterminated("comment")),
                        Some('\\') => i += 2,
                        Some('(') => {
                            depth += 1;
                            if depth > MAX_COMMENT_DEPTH {
                                return Err(AddressError::TooDeep);
                            }
                            i += 1;
                        }
                        Some(')') => {
                            depth -= 1;
                            i += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            '"' => {
                i += 1;
                let mut text = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(AddressError::Unterminated("quoted string")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let Some(&next) = chars.get(i + 1) else {
                                return Err(AddressError::Unterminated("quoted string"));
                            };
                            text.push(next);
                            i += 2;
                        }
                        // FWS inside a quoted string: unfold CRLF, keep the WSP.
                        Some('\r') | Some('\n') => i += 1,
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push((Token::Quoted(text), start));
            }
            '[' => {
                let mut text = String::from("[");
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(AddressError::Unterminated("domain literal")),
                        Some(']') => {
                            text.push(']');
                            i += 1;
                            break;
                        }
                        Some('[') => {
                            return Err(AddressError::Unexpected {
                                found: "[".into(),
                                position: i,
                            });
                        }
                        Some('\\') => {
                            // obs-dtext allows quoted-pair.
                            let Some(&next) = chars.get(i + 1) else {
                                return Err(AddressError::Unterminated("domain literal"));
                            };
                            text.push(next);
                            i += 2;
                        }
                        Some(&ch) if is_ws(ch) => i += 1,
                        Some(&ch) => {
                            text.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push((Token::Literal(text), start));
            }
            '<' | '>' | ':' | ';' | '@' | ',' | '.' => {
                tokens.push((Token::Special(c), start));
                i += 1;
            }
            _ if is_atext(c) => {
                let mut text = String::new();
                while let Some(&ch) = chars.get(i).filter(|ch| is_atext(**ch)) {
                    text.push(ch);
                    i += 1;
                }
                tokens.push((Token::Atom(text), start));
            }
            other => {
                return Err(AddressError::Unexpected {
                    found: format!("{other:?}"),
                    position: i,
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn is_special(&self, c: char) -> bool {
        self.peek() == Some(&Token::Special(c))
    }

    fn unexpected(&self) -> AddressError {
        match self.tokens.get(self.pos) {
            Some((token, position)) => AddressError::Unexpected {
                found: match token {
                    Token::Atom(a) => format!("{a:?}"),
                    Token::Quoted(q) => format!("\"{q}\""),
                    Token::Literal(l) => l.clone(),
                    Token::Special(c) => format!("{c:?}"),
                },
                position: *position,
            },
            None => AddressError::Incomplete("more expected"),
        }
    }

    fn expect(&mut self, c: char) -> Result<(), AddressError> {
        if self.is_special(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Words and dots: a phrase (obs-phrase allows dots) or an obs-local-part.
    fn words(&mut self) -> Vec<Token> {
        let mut out = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Token::Atom(_) | Token::Quoted(_) | Token::Special('.') => {
                    out.push(t.clone());
                    self.pos += 1;
                }
                _ => break,
            }
        }
        out
    }

    fn address(&mut self) -> Result<Address, AddressError> {
        if self.is_special('<') {
            return Ok(Address::Mailbox(self.angle_addr(None)?));
        }
        let words = self.words();
        match self.peek() {
            Some(Token::Special('<')) => {
                let name = display_name(&words)?;
                Ok(Address::Mailbox(self.angle_addr(Some(name))?))
            }
            Some(Token::Special(':')) => {
                let name = display_name(&words)?;
                self.pos += 1;
                let members = self.group_list()?;
                Ok(Address::Group {
                    display_name: name,
                    members,
                })
            }
            Some(Token::Special('@')) => {
                let local_part = local_part(&words).ok_or_else(|| self.unexpected())?;
                self.pos += 1;
                let domain = self.domain()?;
                Ok(Address::Mailbox(Mailbox {
                    display_name: None,
                    local_part,
                    domain,
                }))
            }
            _ => Err(self.unexpected()),
        }
    }

    fn angle_addr(&mut self, display_name: Option<String>) -> Result<Mailbox, AddressError> {
        self.expect('<')?;
        // obs-route: *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain]) ":"
        if self.is_special('@') || self.is_special(',') {
            loop {
                if self.is_special(',') {
                    self.pos += 1;
                } else if self.is_special('@') {
                    self.pos += 1;
                    self.domain()?;
                } else {
                    break;
                }
            }
            self.expect(':')?;
        }
        let words = self.words();
        let local_part = local_part(&words).ok_or_else(|| self.unexpected())?;
        self.expect('@')?;
        let domain = self.domain()?;
        self.expect('>')?;
        Ok(Mailbox {
            display_name,
            local_part,
            domain,
        })
    }

    fn domain(&mut self) -> Result<String, AddressError> {
        if let Some(Token::Literal(l)) = self.peek() {
            let l = l.clone();
            self.pos += 1;
            return Ok(l);
        }
        // dot-atom / obs-domain: atom *("." atom)
        let mut domain = String::new();
        loop {
            match self.peek() {
                Some(Token::Atom(a)) => {
                    domain.push_str(a);
                    self.pos += 1;
                }
                _ => return Err(self.unexpected()),
            }
            if self.is_special('.') {
                domain.push('.');
                self.pos += 1;
                // Leniency: one trailing dot (the DNS root, `example.com.`) is accepted;
                // RFC 5322's dot-atom has none, but the name is the same.
                if !matches!(self.peek(), Some(Token::Atom(_))) {
                    return Ok(domain);
                }
            } else {
                return Ok(domain);
            }
        }
    }

    /// group-list up to and including the closing ";".
    fn group_list(&mut self) -> Result<Vec<Mailbox>, AddressError> {
        let mut members = Vec::new();
        loop {
            match self.peek() {
                Some(Token::Special(';')) => {
                    self.pos += 1;
                    return Ok(members);
                }
                // obs-group-list / obs-mbox-list: empty elements.
                Some(Token::Special(',')) => self.pos += 1,
                None => return Err(AddressError::Incomplete("a group needs a closing \";\"")),
                Some(_) => {
                    match self.address()? {
                        Address::Mailbox(m) => members.push(m),
                        Address::Group { .. } => return Err(self.unexpected()),
                    }
                    if !self.is_special(',') && !self.is_special(';') {
                        return Err(self.unexpected());
                    }
                }
            }
        }
    }
}

/// A display name from words (dots allowed by obs-phrase): words joined by one space.
fn display_name(words: &[Token]) -> Result<String, AddressError> {
    let mut out = String::new();
    let mut first = true;
    for w in words {
        match w {
            Token::Atom(a) | Token::Quoted(a) => {
                if !first {
                    out.push(' ');
                }
                out.push_str(a);
                first = false;
            }
            Token::Special('.') => {
                if first {
                    // obs-phrase = word *(word / "." / CFWS): a phrase starts with a word.
                    return Err(AddressError::Unexpected {
                        found: "'.'".into(),
                        position: 0,
                    });
                }
                out.push('.');
            }
            _ => {}
        }
    }
    if first {
        return Err(AddressError::Incomplete("a display name is empty"));
    }
    Ok(out)
}

/// A local part from words: `word *("." word)` (dot-atom, quoted-string, obs-local-part).
fn local_part(words: &[Token]) -> Option<String> {
    let mut out = String::new();
    let mut expect_word = true;
    for w in words {
        match (w, expect_word) {
            (Token::Atom(a) | Token::Quoted(a), true) => {
                out.push_str(a);
                expect_word = false;
            }
            (Token::Special('.'), false) => {
                out.push('.');
                expect_word = true;
            }
            _ => return None,
        }
    }
    (!expect_word).then_some(out)
}

/// Parse an address list (the value of From, To, Cc…), unfolded or not.
pub fn parse_address_list(value: &str) -> Result<Vec<Address>, AddressError> {
    let mut parser = Parser {
        tokens: lex(value)?,
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        // obs-addr-list / obs-mbox-list allow empty elements.
        while parser.is_special(',') {
            parser.pos += 1;
        }
        if parser.peek().is_none() {
            return Ok(out);
        }
        out.push(parser.address()?);
        if parser.peek().is_none() {
            return Ok(out);
        }
        if !parser.is_special(',') {
            return Err(parser.unexpected());
        }
    }
}

/// Every mailbox of an address list, group members included, in order.
pub fn mailboxes(addresses: &[Address]) -> Vec<&Mailbox> {
    let mut out = Vec::new();
    for a in addresses {
        match a {
            Address::Mailbox(m) => out.push(m),
            Address::Group { members, .. } => out.extend(members.iter()),
        }
    }
    out
}

/// A phrase or local part as RFC 5322 text: a dot-atom when it is one, else quoted.
fn write_word(f: &mut fmt::Formatter<'_>, text: &str, dots_ok: bool) -> fmt::Result {
    let dot_atom = !text.is_empty()
        && text
            .split('.')
            .all(|w| !w.is_empty() && w.chars().all(is_atext))
        && (dots_ok || !text.contains('.'));
    if dot_atom {
        return f.write_str(text);
    }
    f.write_str("\"")?;
    for c in text.chars() {
        // A line break inside quotes would be read back as folding and dropped, so it
        // is written as a quoted-pair (obs-qp, RFC 5322 §4.1) like '"' and '\\'.
        if matches!(c, '"' | '\\' | '\r' | '\n') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            // A display name of atoms separated by single spaces is written as is.
            let plain = !name.is_empty()
                && name
                    .split(' ')
                    .all(|w| !w.is_empty() && w.chars().all(is_atext));
            if plain {
                f.write_str(name)?;
            } else {
                write_word(f, name, false)?;
            }
            f.write_str(" <")?;
        }
        write_word(f, &self.local_part, true)?;
        f.write_str("@")?;
        match self
            .domain
            .strip_prefix('[')
            .and_then(|d| d.strip_suffix(']'))
        {
            // A domain literal: brackets and backslashes inside are quoted-pairs.
            Some(inner) => {
                f.write_str("[")?;
                for c in inner.chars() {
                    // White space inside brackets would be read back as FWS.
                    if matches!(c, '[' | ']' | '\\' | ' ' | '\t' | '\r' | '\n') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("]")?;
            }
            None => f.write_str(&self.domain)?,
        }
        if self.display_name.is_some() {
            f.write_str(">")?;
        }
        Ok(())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Mailbox(m) => m.fmt(f),
            Address::Group {
                display_name,
                members,
            } => {
                write_word(f, display_name, false)?;
                f.write_str(":")?;
                for (i, m) in members.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    m.fmt(f)?;
                }
                f.write_str(";")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Mailbox {
        let list = parse_address_list(value).unwrap();
        assert_eq!(list.len(), 1, "{value}");
        match &list[0] {
            Address::Mailbox(m) => m.clone(),
            other => panic!("not a mailbox: {other:?}"),
        }
    }

    #[test]
    fn rfc5322_appendix_a_forms() {
        // RFC 5322 Appendix A.1.1
        let m = one("John Doe <jdoe@machine.example>");
        assert_eq!(m.display_name.as_deref(), Some("John Doe"));
        assert_eq!(m.domain, "machine.example");
        // A.1.2: quoted display name with a period.
        let m = one("\"Joe Q. Public\" <john.q.public@example.com>");
        assert_eq!(m.display_name.as_deref(), Some("Joe Q. Public"));
        assert_eq!(m.local_part, "john.q.public");
        // A.1.2: groups, one of them empty.
        let list =
            parse_address_list("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;")
                .unwrap();
        assert_eq!(mailboxes(&list).len(), 3);
        let list = parse_address_list("Undisclosed recipients:;").unwrap();
        assert!(mailboxes(&list).is_empty());
        // A.5: comments and white space everywhere.
        let m = one("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
        assert_eq!(m.display_name.as_deref(), Some("Pete"));
        assert_eq!(m.local_part, "pete");
        assert_eq!(m.domain, "silly.test");
        // A.6.1: obs-phrase with a period; A.6.3 obs-local-part with spaces.
        let m = one("Joe Q. Public <john.q.public@example.com>");
        assert_eq!(m.display_name.as_deref(), Some("Joe Q. Public"));
        let m = one("john . q . public @ example . com");
        assert_eq!(m.local_part, "john.q.public");
        assert_eq!(m.domain, "example.com");
        // obs-route
        let m = one("<@route.example,@other.example:user@example.com>");
        assert_eq!(m.domain, "example.com");
    }

    #[test]
    fn encoded_words_and_utf8_pass_through() {
        let m = one("=?utf-8?q?Jos=C3=A9?= <jose@example.com>");
        assert_eq!(m.display_name.as_deref(), Some("=?utf-8?q?Jos=C3=A9?="));
        let m = one("José <josé@exämple.com>");
        assert_eq!(m.local_part, "josé");
        assert_eq!(m.domain, "exämple.com");
    }

    #[test]
    fn literals_and_quotes() {
        let m = one("user@[192.0.2.1]");
        assert!(m.is_domain_literal());
        let m = one("\"very unusual\\\"@\"@example.com");
        assert_eq!(m.local_part, "very unusual\"@");
        let m = one("\"Evil <x@a.example>\" <real@b.example>");
        assert_eq!(m.domain, "b.example");
    }

    #[test]
    fn several_and_empty_elements() {
        let list = parse_address_list("a@x.example, , b@y.example,").unwrap();
        assert_eq!(list.len(), 2);
        assert!(parse_address_list("").unwrap().is_empty());
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "no at sign",
            "a@",
            "@example.com",
            "<a@example.com",
            "a@b@c",
            "x <a@b> y",
            "\"open",
            "(open",
            "[1.2.3.4",
            "a..b@example.com",
            ".a@example.com",
            "a@example..com",
            "a@.example.com",
            "G: a@b.example",
            "a@b.example;",
        ] {
            assert!(parse_address_list(bad).is_err(), "{bad:?} accepted");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(parse_address_list(&deep), Err(AddressError::TooDeep));
    }

    #[test]
    fn fuzz_escaped_line_breaks_round_trip() {
        // Found by fuzz/fuzz_targets/dmarc_from.rs: a quoted-pair CR in a domain literal
        // or a quoted string was written raw and read back as folding.
        for text in [
            "\"\"@[\\\rZ]",
            "\"a\\\nb\"@example.com",
            "\"x\\\r\" <a@b.example>",
        ] {
            let parsed = parse_address_list(text).unwrap();
            let again = parse_address_list(&parsed[0].to_string()).unwrap();
            assert_eq!(parsed, again, "{text:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "John Doe <jdoe@machine.example>",
            "\"Joe Q. Public\" <john.q.public@example.com>",
            "\"john smith\"@example.com",
            "G: a@b.example, \"x y\" <c@d.example>;",
        ] {
            let parsed = parse_address_list(text).unwrap();
            let again = parse_address_list(&parsed[0].to_string()).unwrap();
            assert_eq!(parsed, again, "{text}");
        }
    }
}
