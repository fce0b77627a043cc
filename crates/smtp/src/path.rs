//! Paths and mailboxes: who a message is from and to (RFC 5321 §4.1.2, with the
//! internationalised forms of RFC 6531 §3.3).
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Forward-path   = Path
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"
//! A-d-l          = At-domain *( "," At-domain )
//! At-domain      = "@" Domain
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! Dot-string     = Atom *("."  Atom)
//! Atom           = 1*atext
//! Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
//! QcontentSMTP   = qtextSMTP / quoted-pairSMTP
//! quoted-pairSMTP  = %d92 %d32-126
//! qtextSMTP      = %d32-33 / %d35-91 / %d93-126
//! Domain         = sub-domain *("." sub-domain)
//! sub-domain     = Let-dig [Ldh-str]
//! address-literal  = "[" ( IPv4-address-literal / IPv6-address-literal /
//!                          General-address-literal ) "]"
//! ; RFC 6531 §3.3:
//! sub-domain     =/ U-label
//! atext          =/ UTF8-non-ascii
//! qtextSMTP      =/ UTF8-non-ascii
//! ```
//!
//! Design decisions:
//! - Parsing always admits the RFC 6531 forms; [`Mailbox::is_ascii`] tells the server
//!   whether the client needed SMTPUTF8 (RFC 6531 §3.4), since the `SMTPUTF8` parameter
//!   comes *after* the path on the `MAIL` line.
//! - A U-label is accepted as any run of letters, digits, hyphens and non-ASCII
//!   characters; full IDNA2008 validation is not done here (a recipient at a U-label
//!   domain is either one of ours, compared exactly, or refused as relay).
//! - Source routes (`<@a,@b:user@c>`) are parsed and kept, because RFC 5321 §4.1.1.3
//!   says servers "MUST be prepared to encounter" them, and they "SHOULD ignore the
//!   routes": the server decides on [`Path::mailbox`] alone.
//! - `<Postmaster>` without a domain is a [`ForwardPath::Postmaster`] (RFC 5321 §4.1.1.3).
//! - An address literal is kept as the address it names, so it is written back in
//!   canonical form (`[192.0.2.01]` becomes `[192.0.2.1]`); everything else is written
//!   back exactly as parsed.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::limits::{MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH};

/// Why text is not a path or mailbox. The server answers 501 (or 553) with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `<` or end with `>` (RFC 5321 §4.1.2 `Path`).
    #[error("a path must be enclosed in <> (RFC 5321 §4.1.2)")]
    MissingAngleBrackets,
    /// A mailbox without `@domain` (RFC 5321 §4.1.2: `Mailbox = Local-part "@" ...`).
    /// Relay tricks often use unqualified names (`<user>`, `<other!user>`).
    #[error("the address has no domain (RFC 5321 §4.1.2)")]
    Unqualified,
    /// The local part is neither a Dot-string nor a Quoted-string.
    #[error("invalid local part (RFC 5321 §4.1.2)")]
    BadLocalPart,
    /// The domain is not a valid domain name.
    #[error("invalid domain (RFC 5321 §4.1.2)")]
    BadDomain,
    /// The `[...]` address literal is malformed (RFC 5321 §4.1.3).
    #[error("invalid address literal (RFC 5321 §4.1.3)")]
    BadAddressLiteral,
    /// The source route before `:` is malformed.
    #[error("invalid source route (RFC 5321 §4.1.2 A-d-l)")]
    BadSourceRoute,
    /// A part is longer than RFC 5321 §4.5.3.1 allows.
    #[error("{what} longer than {max} octets (RFC 5321 §4.5.3.1)")]
    TooLong {
        /// "local part", "domain" or "path".
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// Characters after the closing `>` that are not parameters.
    #[error("unexpected text after the path")]
    TrailingText,
}

/// A domain name as written in a path (RFC 5321 §4.1.2 `Domain`), possibly with
/// U-labels (RFC 6531). Compare with [`Domain::eq_ignore_case`] or
/// [`Domain::to_lowercase`]: DNS names are case-insensitive (RFC 4343).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Domain(String);

impl Domain {
    /// Parse a whole string as a domain.
    pub fn parse(s: &str) -> Result<Domain, PathError> {
        let mut c = Cursor::new(s);
        let d = c.domain()?;
        if !c.at_end() {
            return Err(PathError::BadDomain);
        }
        Ok(d)
    }

    /// The domain as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain in lowercase (ASCII letters only, as DNS compares them).
    pub fn to_lowercase(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Case-insensitive comparison (RFC 4343 for the ASCII letters).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address literal (RFC 5321 §4.1.3): a host named by its IP address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`.
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`.
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a General-address-literal for a standardised tag.
    General {
        /// The Standardized-tag (an Ldh-str).
        tag: String,
        /// The dcontent.
        content: String,
    },
}

impl fmt::Display for AddressLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressLiteral::Ipv4(a) => write!(f, "[{a}]"),
            AddressLiteral::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            AddressLiteral::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

/// The part of a mailbox after `@`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MailDomain {
    /// A domain name.
    Name(Domain),
    /// An address literal such as `[192.0.2.1]`.
    Literal(AddressLiteral),
}

impl fmt::Display for MailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailDomain::Name(d) => d.fmt(f),
            MailDomain::Literal(l) => l.fmt(f),
        }
    }
}

/// A local part as written: a Dot-string or a Quoted-string (RFC 5321 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalPart {
    raw: String,
}

impl LocalPart {
    /// The local part exactly as the client wrote it (quotes and backslashes kept).
    pub fn as_written(&self) -> &str {
        &self.raw
    }

    /// True for a Quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.raw.starts_with('"')
    }

    /// The local part's meaning: a Quoted-string without its quotes and with each
    /// quoted-pair replaced by the character it quotes (RFC 5321 §4.1.2: `"a\"b"` is
    /// `a"b`). `"postmaster"` and `postmaster` mean the same mailbox.
    pub fn value(&self) -> Cow<'_, str> {
        if !self.is_quoted() {
            return Cow::Borrowed(&self.raw);
        }
        let inner = &self.raw[1..self.raw.len() - 1];
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(ch) = chars.next() {
            if ch == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(ch);
            }
        }
        Cow::Owned(out)
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// Before the `@`.
    pub local_part: LocalPart,
    /// After the `@`.
    pub domain: MailDomain,
}

impl Mailbox {
    /// Parse a whole string (`user@example.com`, no angle brackets) as a mailbox.
    pub fn parse(s: &str) -> Result<Mailbox, PathError> {
        let mut c = Cursor::new(s);
        let m = c.mailbox()?;
        if !c.at_end() {
            return Err(PathError::TrailingText);
        }
        Ok(m)
    }

    /// True when the mailbox is all ASCII; if not, the client must have said
    /// `SMTPUTF8` on `MAIL` (RFC 6531 §3.4).
    pub fn is_ascii(&self) -> bool {
        self.local_part.raw.is_ascii()
            && match &self.domain {
                MailDomain::Name(d) => d.0.is_ascii(),
                MailDomain::Literal(_) => true,
            }
    }

    /// The domain name, or `None` for an address literal.
    pub fn domain_name(&self) -> Option<&Domain> {
        match &self.domain {
            MailDomain::Name(d) => Some(d),
            MailDomain::Literal(_) => None,
        }
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

/// `"<" [ A-d-l ":" ] Mailbox ">"` (RFC 5321 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    /// The obsolete source route (`@a,@b:`), kept but to be ignored (RFC 5321 §4.1.1.3,
    /// Appendix C).
    pub source_route: Vec<Domain>,
    /// The mailbox the path names.
    pub mailbox: Mailbox,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<")?;
        for (i, d) in self.source_route.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "@{d}")?;
        }
        if !self.source_route.is_empty() {
            f.write_str(":")?;
        }
        write!(f, "{}>", self.mailbox)
    }
}

/// The argument of `MAIL FROM:` (RFC 5321 §4.1.2 `Reverse-path`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`: the null reverse-path of bounces (RFC 5321 §4.5.5), to which nothing is
    /// ever sent back.
    Null,
    /// A real sender.
    Path(Path),
}

impl ReversePath {
    /// Parse the path at the start of `s`; returns it and the text after `>`.
    pub fn parse_prefix(s: &str) -> Result<(ReversePath, &str), PathError> {
        if let Some(rest) = s.strip_prefix("<>") {
            return Ok((ReversePath::Null, rest));
        }
        let (path, rest) = parse_path_prefix(s)?;
        Ok((ReversePath::Path(path), rest))
    }

    /// The sender's mailbox, `None` for the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ReversePath::Null => None,
            ReversePath::Path(p) => Some(&p.mailbox),
        }
    }
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Path(p) => p.fmt(f),
        }
    }
}

/// The argument of `RCPT TO:` (RFC 5321 §4.1.1.3):
/// `( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path )`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` with no domain (any case): the server's own postmaster.
    Postmaster,
    /// Any other recipient, including `<postmaster@domain>`.
    Path(Path),
}

impl ForwardPath {
    /// Parse the path at the start of `s`; returns it and the text after `>`.
    pub fn parse_prefix(s: &str) -> Result<(ForwardPath, &str), PathError> {
        const PM: &str = "<postmaster>";
        if s.len() >= PM.len()
            && s.is_char_boundary(PM.len())
            && s[..PM.len()].eq_ignore_ascii_case(PM)
        {
            return Ok((ForwardPath::Postmaster, &s[PM.len()..]));
        }
        let (path, rest) = parse_path_prefix(s)?;
        Ok((ForwardPath::Path(path), rest))
    }

    /// The recipient's mailbox, `None` for the bare `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            ForwardPath::Postmaster => None,
            ForwardPath::Path(p) => Some(&p.mailbox),
        }
    }
}

impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardPath::Postmaster => f.write_str("<Postmaster>"),
            ForwardPath::Path(p) => p.fmt(f),
        }
    }
}

fn parse_path_prefix(s: &str) -> Result<(Path, &str), PathError> {
    let mut c = Cursor::new(s);
    let path = c.path()?;
    // RFC 5321 §4.5.3.1.3: the path including punctuation.
    if c.pos > MAX_PATH {
        return Err(PathError::TooLong {
            what: "path",
            max: MAX_PATH,
        });
    }
    Ok((path, &s[c.pos..]))
}

/// atext (RFC 5322 §3.2.3), plus UTF8-non-ascii (RFC 6531 §3.3).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// A byte cursor over valid UTF-8 (bytes >= 0x80 are parts of non-ASCII characters).
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn path(&mut self) -> Result<Path, PathError> {
        if !self.eat(b'<') {
            return Err(PathError::MissingAngleBrackets);
        }
        let mut source_route = Vec::new();
        if self.peek() == Some(b'@') {
            loop {
                if !self.eat(b'@') {
                    return Err(PathError::BadSourceRoute);
                }
                source_route.push(self.domain().map_err(|_| PathError::BadSourceRoute)?);
                if self.eat(b',') {
                    continue;
                }
                if self.eat(b':') {
                    break;
                }
                return Err(PathError::BadSourceRoute);
            }
        }
        let mailbox = self.mailbox()?;
        if !self.eat(b'>') {
            return Err(PathError::MissingAngleBrackets);
        }
        Ok(Path {
            source_route,
            mailbox,
        })
    }

    fn mailbox(&mut self) -> Result<Mailbox, PathError> {
        let local_part = self.local_part()?;
        if !self.eat(b'@') {
            return Err(match self.peek() {
                None | Some(b'>') | Some(b' ') => PathError::Unqualified,
                _ => PathError::BadLocalPart,
            });
        }
        let domain = if self.peek() == Some(b'[') {
            MailDomain::Literal(self.address_literal()?)
        } else {
            MailDomain::Name(self.domain()?)
        };
        Ok(Mailbox { local_part, domain })
    }

    fn local_part(&mut self) -> Result<LocalPart, PathError> {
        let start = self.pos;
        if self.eat(b'"') {
            loop {
                match self.peek() {
                    None => return Err(PathError::BadLocalPart),
                    Some(b'"') => {
                        self.pos += 1;
                        break;
                    }
                    // quoted-pairSMTP = %d92 %d32-126
                    Some(b'\\') => {
                        self.pos += 1;
                        match self.peek() {
                            Some(32..=126) => self.pos += 1,
                            _ => return Err(PathError::BadLocalPart),
                        }
                    }
                    // qtextSMTP = %d32-33 / %d35-91 / %d93-126 / UTF8-non-ascii
                    Some(32..=33 | 35..=91 | 93..=126 | 0x80..) => self.pos += 1,
                    Some(_) => return Err(PathError::BadLocalPart),
                }
            }
        } else {
            // Dot-string = Atom *("." Atom)
            loop {
                let atom_start = self.pos;
                while self.peek().is_some_and(is_atext) {
                    self.pos += 1;
                }
                if self.pos == atom_start {
                    // An empty atom: nothing, "a..b", ".a" or a trailing dot.
                    return Err(PathError::BadLocalPart);
                }
                if !self.eat(b'.') {
                    break;
                }
            }
        }
        let raw = &self.s[start..self.pos];
        // RFC 5321 §4.5.3.1.1.
        if raw.len() > MAX_LOCAL_PART {
            return Err(PathError::TooLong {
                what: "local part",
                max: MAX_LOCAL_PART,
            });
        }
        Ok(LocalPart {
            raw: raw.to_string(),
        })
    }

    fn domain(&mut self) -> Result<Domain, PathError> {
        let start = self.pos;
        loop {
            // sub-domain = Let-dig [Ldh-str], or a U-label (RFC 6531 §3.3).
            let label_start = self.pos;
            while self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
            {
                self.pos += 1;
            }
            let label = &self.s.as_bytes()[label_start..self.pos];
            if label.is_empty()
                || label[0] == b'-'
                || label[label.len() - 1] == b'-'
                || label.len() > 63
            {
                return Err(PathError::BadDomain);
            }
            // "a.b" continues; a dot not followed by a label ends in an error above.
            if self.peek() == Some(b'.')
                && self
                    .s
                    .as_bytes()
                    .get(self.pos + 1)
                    .is_some_and(|&b| b.is_ascii_alphanumeric() || b >= 0x80)
            {
                self.pos += 1;
                continue;
            }
            if self.peek() == Some(b'.') {
                // A trailing dot or an empty label.
                return Err(PathError::BadDomain);
            }
            break;
        }
        let d = &self.s[start..self.pos];
        // RFC 5321 §4.5.3.1.2.
        if d.len() > MAX_DOMAIN {
            return Err(PathError::TooLong {
                what: "domain",
                max: MAX_DOMAIN,
            });
        }
        Ok(Domain(d.to_string()))
    }

    fn address_literal(&mut self) -> Result<AddressLiteral, PathError> {
        self.eat(b'[');
        let start = self.pos;
        let Some(len) = self.s[start..].find(']') else {
            return Err(PathError::BadAddressLiteral);
        };
        let inner = &self.s[start..start + len];
        self.pos = start + len + 1;
        if let Some(v6) = inner
            .strip_prefix("IPv6:")
            .or_else(|| inner.strip_prefix("ipv6:"))
        {
            return v6
                .parse::<Ipv6Addr>()
                .map(AddressLiteral::Ipv6)
                .map_err(|_| PathError::BadAddressLiteral);
        }
        if let Some(v4) = parse_ipv4_literal(inner) {
            return Ok(AddressLiteral::Ipv4(v4));
        }
        // General-address-literal = Standardized-tag ":" 1*dcontent
        // dcontent = %d33-90 / %d94-126
        let Some((tag, content)) = inner.split_once(':') else {
            return Err(PathError::BadAddressLiteral);
        };
        let tag_ok = !tag.is_empty()
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !tag.ends_with('-');
        let content_ok =
            !content.is_empty() && content.bytes().all(|b| matches!(b, 33..=90 | 94..=126));
        if tag_ok && content_ok {
            Ok(AddressLiteral::General {
                tag: tag.to_string(),
                content: content.to_string(),
            })
        } else {
            Err(PathError::BadAddressLiteral)
        }
    }
}

/// `IPv4-address-literal = Snum 3("." Snum)`, `Snum = 1*3DIGIT` with a value of 0-255.
fn parse_ipv4_literal(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = p.parse::<u16>().ok().filter(|v| *v <= 255)? as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(s: &str) -> Result<ForwardPath, PathError> {
        let (p, rest) = ForwardPath::parse_prefix(s)?;
        if !rest.is_empty() {
            return Err(PathError::TrailingText);
        }
        Ok(p)
    }

    #[test]
    fn round_trips() {
        for s in [
            "<user@example.com>",
            "<first.last+tag@sub.example.com>",
            "<\"quoted @ string\"@example.com>",
            "<\"a\\\"b\"@example.com>",
            "<@relay.example,@other.example:user@example.com>",
            "<user@[192.0.2.1]>",
            "<user@[IPv6:2001:db8::1]>",
            "<user@[x-tag:abc]>",
            "<用户@例子.广告>",
            "<Postmaster>",
        ] {
            assert_eq!(fwd(s).unwrap().to_string(), s);
        }
        assert_eq!(
            ReversePath::parse_prefix("<>").unwrap().0,
            ReversePath::Null
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            fwd("user@example.com"),
            Err(PathError::MissingAngleBrackets)
        );
        assert_eq!(fwd("<user>"), Err(PathError::Unqualified));
        assert_eq!(fwd("<other!user>"), Err(PathError::Unqualified));
        assert_eq!(fwd("<user@example.com.>"), Err(PathError::BadDomain));
        assert_eq!(fwd("<user@-example.com>"), Err(PathError::BadDomain));
        assert_eq!(
            fwd("<user@exa mple.com>"),
            Err(PathError::MissingAngleBrackets)
        );
        assert_eq!(fwd("<a..b@example.com>"), Err(PathError::BadLocalPart));
        assert_eq!(fwd("<.a@example.com>"), Err(PathError::BadLocalPart));
        assert_eq!(fwd("<user@[300.1.1.1]>"), Err(PathError::BadAddressLiteral));
        assert_eq!(fwd("<@:user@example.com>"), Err(PathError::BadSourceRoute));
        let long = format!("<{}@example.com>", "a".repeat(65));
        assert!(matches!(fwd(&long), Err(PathError::TooLong { .. })));
    }

    #[test]
    fn local_part_value_unquotes() {
        let m = Mailbox::parse("\"post\\master\"@example.com").unwrap();
        assert_eq!(m.local_part.value(), "postmaster");
        let m = Mailbox::parse("\"user@other\"@example.com").unwrap();
        assert_eq!(m.local_part.value(), "user@other");
        assert!(m.is_ascii());
        assert!(!Mailbox::parse("jörg@example.com").unwrap().is_ascii());
    }
}
