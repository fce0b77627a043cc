//! Parsing SPF records (RFC 7208 §4.5, §4.6.1, §12) into the types of `record.rs`.
//!
//! The parser is strict where the RFC is: terms are separated by spaces only (a tab, CR
//! or LF anywhere is an error), every byte must be printable ASCII, CIDR lengths have no
//! leading zeros and stay in range, `redirect` and `exp` appear at most once (§6), and
//! a known modifier name with a bad value is an error rather than an unknown modifier
//! (the erratum the open-spf suite follows). RFC 7208 §4.6: "if there are any syntax
//! errors anywhere in the record, check_host() returns immediately with the result
//! "permerror"", so the whole record is parsed before anything is evaluated.
//!
//! Parsing is linear in the record's length and never panics.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use crate::macro_string::{DomainSpec, DomainSpecError, MacroError, MacroString};
use crate::record::{
    Directive, DualCidrLength, Ip4CidrLength, Ip6CidrLength, Mechanism, Modifier, Qualifier,
    SpfRecord, Term, VERSION,
};

/// Why a record is not a valid SPF record. Every variant is a `permerror` when met
/// during `check_host()` (RFC 7208 §4.6).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The record does not begin with `v=spf1` followed by a space or its end (§4.5).
    #[error("the record does not start with \"v=spf1\" (RFC 7208 §4.5)")]
    NotSpf,
    /// A byte that may not appear in a record (§12: terms hold printable ASCII only and
    /// are separated by spaces).
    #[error("byte 0x{byte:02x} at offset {offset} is not allowed: {reason}")]
    BadByte {
        /// Offset in the record.
        offset: usize,
        /// The byte.
        byte: u8,
        /// Why.
        reason: &'static str,
    },
    /// A term that is neither a known mechanism nor `name=value`.
    #[error("{term:?} is not a mechanism or a modifier (RFC 7208 §4.6.1, §12)")]
    UnknownTerm {
        /// The term as written.
        term: String,
    },
    /// A known mechanism or modifier with a bad argument.
    #[error("{term:?}: {reason}")]
    BadTerm {
        /// The term as written.
        term: String,
        /// What is wrong.
        reason: String,
    },
    /// `redirect` or `exp` written twice (§6).
    #[error("the {name}= modifier appears more than once (RFC 7208 §6)")]
    DuplicateModifier {
        /// `redirect` or `exp`.
        name: &'static str,
    },
}

/// Whether `txt` (a TXT record's strings joined) is an SPF record: it begins with
/// `v=spf1`, case-insensitively, followed by a space or its end (RFC 7208 §4.5).
pub fn is_spf_record(txt: &[u8]) -> bool {
    txt.len() >= VERSION.len()
        && txt[..VERSION.len()].eq_ignore_ascii_case(VERSION.as_bytes())
        && matches!(txt.get(VERSION.len()), None | Some(b' '))
}

impl SpfRecord {
    /// Parse a record from the octets of a TXT record (its strings joined, RFC 7208
    /// §3.3). Non-ASCII octets are an error (§3.1 and the §12 ABNF).
    pub fn parse_bytes(txt: &[u8]) -> Result<SpfRecord, ParseError> {
        if !is_spf_record(txt) {
            return Err(ParseError::NotSpf);
        }
        if let Some(offset) = txt
            .iter()
            .position(|&b| !(b == b' ' || (0x21..=0x7e).contains(&b)))
        {
            let byte = txt[offset];
            let reason = match byte {
                b'\t' => "terms are separated by spaces only, not tabs (RFC 7208 §4.6.1)",
                b'\r' | b'\n' => "a line break cannot appear in a record (RFC 7208 §4.6.1)",
                0x80.. => "SPF records are 7-bit ASCII (RFC 7208 §3.1)",
                _ => "a control character cannot appear in a record (RFC 7208 §12)",
            };
            return Err(ParseError::BadByte {
                offset,
                byte,
                reason,
            });
        }
        // All bytes are ASCII, so this cannot fail; an error here would be a bug, and is
        // reported as a syntax error rather than a panic.
        let text = std::str::from_utf8(txt).map_err(|_| ParseError::NotSpf)?;
        let mut terms = Vec::with_capacity(text.bytes().filter(|b| *b == b' ').count());
        let mut source = Source::new(text);
        let mut seen_redirect = false;
        let mut seen_exp = false;
        // RFC 7208 §12: terms = *( 1*SP ( directive / modifier ) ), then *SP; so any
        // run of spaces separates terms and trailing spaces are allowed.
        for word in text[VERSION.len()..].split(' ').filter(|w| !w.is_empty()) {
            let term = parse_term(&mut source, word)?;
            if let Term::Modifier(m) = &term {
                let (seen, name) = match m {
                    Modifier::Redirect(_) => (&mut seen_redirect, "redirect"),
                    Modifier::Explanation(_) => (&mut seen_exp, "exp"),
                    Modifier::Unknown { .. } => {
                        terms.push(term);
                        continue;
                    }
                };
                if *seen {
                    return Err(ParseError::DuplicateModifier { name });
                }
                *seen = true;
            }
            terms.push(term);
        }
        Ok(SpfRecord { terms })
    }
}

impl FromStr for SpfRecord {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpfRecord::parse_bytes(s.as_bytes())
    }
}

impl FromStr for Term {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(offset) = s.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(ParseError::BadByte {
                offset,
                byte: s.as_bytes()[offset],
                reason: "a term holds printable ASCII only (RFC 7208 §12)",
            });
        }
        parse_term(&mut Source::new(s), s)
    }
}

/// The text being parsed, shared (as one `Arc<str>`, made on first need) by the
/// domain-specs and macro strings parsed from it.
struct Source<'t> {
    text: &'t str,
    shared: Option<Arc<str>>,
}

impl<'t> Source<'t> {
    fn new(text: &'t str) -> Self {
        Source { text, shared: None }
    }

    /// The byte range of `sub`, a slice of this text.
    fn range(&self, sub: &str) -> (usize, usize) {
        let start = (sub.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize);
        (start, start + sub.len())
    }

    fn shared(&mut self) -> &Arc<str> {
        let text = self.text;
        self.shared.get_or_insert_with(|| Arc::from(text))
    }

    fn domain_spec(&mut self, sub: &str) -> Result<DomainSpec, DomainSpecError> {
        if sub.is_empty() {
            return Err(DomainSpecError::Empty);
        }
        let (start, end) = self.range(sub);
        DomainSpec::parse_in(self.shared(), start, end)
    }

    fn macro_string(&mut self, sub: &str) -> Result<MacroString, MacroError> {
        let (start, end) = self.range(sub);
        MacroString::parse_in(self.shared(), start, end, false)
    }
}

fn bad(term: &str, reason: impl Into<String>) -> ParseError {
    ParseError::BadTerm {
        term: term.to_string(),
        reason: reason.into(),
    }
}

/// One term, already known to be printable ASCII without spaces.
fn parse_term(src: &mut Source<'_>, word: &str) -> Result<Term, ParseError> {
    // RFC 7208 §4.6.1: a term is a modifier when its name is followed by '='; a name is
    // ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
    let name_len = word
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    if name_len > 0 && word.as_bytes()[0].is_ascii_alphabetic() && word[name_len..].starts_with('=')
    {
        return parse_modifier(src, word, &word[..name_len], &word[name_len + 1..])
            .map(Term::Modifier);
    }
    parse_directive(src, word).map(Term::Directive)
}

fn parse_modifier(
    src: &mut Source<'_>,
    word: &str,
    name: &str,
    value: &str,
) -> Result<Modifier, ParseError> {
    let mut domain_spec = |value: &str| {
        src.domain_spec(value)
            .map_err(|e: DomainSpecError| bad(word, e.to_string()))
    };
    // Known names are never taken as unknown modifiers, even with a bad value (the
    // open-spf suite's redirect-syntax-error and exp-syntax-error cases).
    if name.eq_ignore_ascii_case("redirect") {
        Ok(Modifier::Redirect(domain_spec(value)?))
    } else if name.eq_ignore_ascii_case("exp") {
        Ok(Modifier::Explanation(domain_spec(value)?))
    } else {
        let value = src
            .macro_string(value)
            .map_err(|e: MacroError| bad(word, format!("the value is not a macro-string: {e}")))?;
        Ok(Modifier::Unknown {
            name: name.to_string(),
            value,
        })
    }
}

fn parse_directive(src: &mut Source<'_>, word: &str) -> Result<Directive, ParseError> {
    let mut rest = word;
    let qualifier = rest.chars().next().and_then(Qualifier::from_char);
    if qualifier.is_some() {
        rest = &rest[1..];
    }
    let name_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let (name, args) = rest.split_at(name_len);
    let unknown = || ParseError::UnknownTerm {
        term: word.to_string(),
    };
    // Mechanism names are case-insensitive (RFC 7208 §12 ABNF strings, RFC 5234 §2.3).
    let mut lower = [0u8; 8];
    let name_lower = match name.len() {
        1..=8 => {
            lower[..name.len()].copy_from_slice(name.as_bytes());
            lower[..name.len()].make_ascii_lowercase();
            std::str::from_utf8(&lower[..name.len()]).unwrap_or("")
        }
        _ => "",
    };
    let mechanism = match name_lower {
        "all" => {
            if !args.is_empty() {
                return Err(bad(word, "\"all\" takes no argument (RFC 7208 §5.1)"));
            }
            Mechanism::All
        }
        "include" => Mechanism::Include {
            domain_spec: required_domain_spec(src, word, args, "include")?,
        },
        "exists" => Mechanism::Exists {
            domain_spec: required_domain_spec(src, word, args, "exists")?,
        },
        "a" | "mx" => {
            let (spec, cidr) = split_dual_cidr(word, args)?;
            let domain_spec = optional_domain_spec(src, word, spec)?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A { domain_spec, cidr }
            } else {
                Mechanism::Mx { domain_spec, cidr }
            }
        }
        "ptr" => Mechanism::Ptr {
            domain_spec: optional_domain_spec(src, word, args)?,
        },
        "ip4" => {
            let Some(arg) = args.strip_prefix(':') else {
                return Err(bad(word, "ip4 needs \":\" and a network (RFC 7208 §5.6)"));
            };
            let (net, len) = match arg.split_once('/') {
                Some((net, len)) => (net, Some(len)),
                None => (arg, None),
            };
            let addr = parse_ip4_network(net).ok_or_else(|| {
                bad(
                    word,
                    "not an IPv4 address in dotted-quad form without leading zeros (RFC 7208 §5.6)",
                )
            })?;
            let prefix_len = match len {
                None => None,
                Some(len) => Some(
                    parse_cidr(len, 32)
                        .and_then(Ip4CidrLength::new)
                        .ok_or_else(|| {
                            bad(word, "the ip4 prefix length must be 0 to 32 without leading zeros (RFC 7208 §5.6)")
                        })?,
                ),
            };
            Mechanism::Ip4 { addr, prefix_len }
        }
        "ip6" => {
            let Some(arg) = args.strip_prefix(':') else {
                return Err(bad(word, "ip6 needs \":\" and a network (RFC 7208 §5.6)"));
            };
            let (net, len) = match arg.split_once('/') {
                Some((net, len)) => (net, Some(len)),
                None => (arg, None),
            };
            let addr = net.parse::<Ipv6Addr>().map_err(|_| {
                bad(
                    word,
                    "not an IPv6 address in RFC 4291 §2.2 form (RFC 7208 §5.6)",
                )
            })?;
            let prefix_len = match len {
                None => None,
                Some(len) => Some(
                    parse_cidr(len, 128)
                        .and_then(Ip6CidrLength::new)
                        .ok_or_else(|| {
                            bad(word, "the ip6 prefix length must be 0 to 128 without leading zeros (RFC 7208 §5.6)")
                        })?,
                ),
            };
            Mechanism::Ip6 { addr, prefix_len }
        }
        _ => return Err(unknown()),
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

fn required_domain_spec(
    src: &mut Source<'_>,
    word: &str,
    args: &str,
    name: &str,
) -> Result<DomainSpec, ParseError> {
    let Some(spec) = args.strip_prefix(':') else {
        return Err(bad(
            word,
            format!("{name} needs \":\" and a domain-spec (RFC 7208 §12)"),
        ));
    };
    src.domain_spec(spec).map_err(|e| bad(word, e.to_string()))
}

fn optional_domain_spec(
    src: &mut Source<'_>,
    word: &str,
    args: &str,
) -> Result<Option<DomainSpec>, ParseError> {
    if args.is_empty() {
        return Ok(None);
    }
    let Some(spec) = args.strip_prefix(':') else {
        return Err(bad(word, "unexpected text after the mechanism name"));
    };
    src.domain_spec(spec)
        .map(Some)
        .map_err(|e| bad(word, e.to_string()))
}

/// Split `[":" domain-spec] [dual-cidr-length]` at the CIDR suffix. A domain-spec never
/// ends in `/digits` (its domain-end is a top label or a macro), so the suffix is found
/// from the right without ambiguity.
fn split_dual_cidr<'a>(word: &str, args: &'a str) -> Result<(&'a str, DualCidrLength), ParseError> {
    let mut rest = args;
    let mut cidr = DualCidrLength::default();
    if let Some((before, len)) = rest.rsplit_once("//")
        && is_cidr_digits(len)
    {
        cidr.ip6 = Some(
            parse_cidr(len, 128)
                .and_then(Ip6CidrLength::new)
                .ok_or_else(|| {
                    bad(
                        word,
                        "the ip6 prefix length must be 0 to 128 (RFC 7208 §5.6)",
                    )
                })?,
        );
        rest = before;
    }
    if let Some((before, len)) = rest.rsplit_once('/')
        && is_cidr_digits(len)
    {
        cidr.ip4 = Some(
            parse_cidr(len, 32)
                .and_then(Ip4CidrLength::new)
                .ok_or_else(|| {
                    bad(
                        word,
                        "the ip4 prefix length must be 0 to 32 (RFC 7208 §5.6)",
                    )
                })?,
        );
        rest = before;
    }
    if rest.starts_with('/') {
        return Err(bad(
            word,
            "a dual-cidr-length is \"/N\", \"//M\" or \"/N//M\" (RFC 7208 §5.6)",
        ));
    }
    Ok((rest, cidr))
}

fn is_cidr_digits(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `"0" / %x31-39 0*nDIGIT`, at most `max`.
fn parse_cidr(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    let v: u16 = s.parse().ok()?;
    (v <= u16::from(max)).then_some(v as u8)
}

/// ```text
/// ip4-network      = qnum "." qnum "." qnum "." qnum
/// qnum             = DIGIT                 ; 0-9
///                    / %x31-39 DIGIT       ; 10-99
///                    / "1" 2DIGIT          ; 100-199
///                    / "2" %x30-34 DIGIT   ; 200-249
///                    / "25" %x30-35        ; 250-255
/// ```
fn parse_ip4_network(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> SpfRecord {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn canonical_records_round_trip() {
        for s in [
            "v=spf1",
            "v=spf1 -all",
            "v=spf1 +all",
            "v=spf1 a mx -all",
            "v=spf1 a/24//64 mx:example.com/30 ~all",
            "v=spf1 a//0 ?mx//33",
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip4:10.0.0.1 -all",
            "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} -all",
            "v=spf1 ptr ptr:example.com redirect=_spf.example.com",
            "v=spf1 -all exp=explain._spf.%{d}",
            "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all",
            "v=spf1 default=+",
            "v=spf1 a:foo:bar/baz.example.com",
            "v=spf1 exists:%{H}.bar",
        ] {
            assert_eq!(ok(s).to_string(), s);
        }
    }

    #[test]
    fn non_canonical_forms_normalise() {
        assert_eq!(ok("V=SpF1 +ALL").to_string(), "v=spf1 +all");
        assert_eq!(ok("v=spf1  a   -all ").to_string(), "v=spf1 a -all");
        assert_eq!(
            ok("v=spf1 Include:X.example.COM").to_string(),
            "v=spf1 include:X.example.COM"
        );
        assert_eq!(ok("v=spf1 ip6:ABCD::1").to_string(), "v=spf1 ip6:abcd::1");
    }

    #[test]
    fn the_suites_syntax_errors_are_errors() {
        for s in [
            "v=spf1 ip4:1.2.3.4 -all moo",
            "v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all",
            "v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all",
            "v=spf1 ip4:1.2.3.4 redirect:t2.example.com",
            "v=spf1 a:foo-bar -all",
            "v=spf1 -all.",
            "v=spf1 -all:foobar",
            "v=spf1 -all/8",
            "v=spf1 ptr/0 -all",
            "v=spf1 ptr:",
            "v=spf1 a/33 -all",
            "v=spf1 a//129 -all",
            "v=spf1 a/24/64 -all",
            "v=spf1 a:example.com:8080",
            "v=spf1 a:111.222.33.44",
            "v=spf1 a:abc.123",
            "v=spf1 a:museum",
            "v=spf1 a:museum.",
            "v=spf1 a:example.-com",
            "v=spf1 a:",
            "v=spf1 a:foo.example.com\0",
            "v=spf1 include +all",
            "v=spf1 include: -all",
            "v=spf1 include:ip5.example.com/24 -all",
            "v=spf1 mx:abc.123",
            "v=spf1 mx: -all",
            "v=spf1 exists:",
            "v=spf1 exists",
            "v=spf1 exists:mail.example.com/24",
            "v=spf1 ip4:1.2.3.4/33 -all",
            "v=spf1 ip4:1.2.3.4/032 -all",
            "v=spf1 ip4",
            "v=spf1 ip4:1.2.3.4//32",
            "v=spf1 ip4:1.2.3.4:8080",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip4:01.2.3.4",
            "v=spf1 -all ip6",
            "v=spf1 ip6:::1.1.1.1/129",
            "v=spf1 ip6:::1.1.1.1//33",
            "v=spf1 ip6::CAFE::BABE",
            "v=spf1 1up=foo",
            "v=spf1 =all",
            "v=spf1 -all foo=%abc",
            "v=spf1 exp= -all",
            "v=spf1 exp=-all",
            "v=spf1 redirect=-all ?all",
            "v=spf1 ?all redirect=",
            "v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com",
            "v=spf1 redirect=e12.example.com -all redirect=e12.example.com",
            "v=spf1 -all exp=%{r}.example.com",
            "v=spf1 -exists:%(ir).sbl.example.com ?all",
            "v=spf1 a:%{a}.example.com -all",
            "v=spf1 a:ctrl.example.com\rptr -all",
            "v=spf1 ip4:192.0.2.5\n include:x.example.com ~all",
            "v=spf1 a\t-all",
            "v=spf1 \u{80}a:example.net -all",
        ] {
            assert!(s.parse::<SpfRecord>().is_err(), "{s:?} parsed");
        }
    }

    #[test]
    fn selecting_records() {
        assert!(is_spf_record(b"v=spf1"));
        assert!(is_spf_record(b"V=SPF1 -all"));
        assert!(!is_spf_record(b"v=spf10"));
        assert!(!is_spf_record(b"v=spf1mx"));
        assert!(!is_spf_record(b"v=spf"));
        assert!(!is_spf_record(b" v=spf1"));
    }

    #[test]
    fn structure() {
        let r = ok(
            "v=spf1 -a:x.example.com/24//64 ~mx ip4:1.2.3.0/24 redirect=y.example.com exp=z.example.com",
        );
        let d: Vec<_> = r.directives().collect();
        assert_eq!(d[0].qualifier, Some(Qualifier::Fail));
        let Mechanism::A { domain_spec, cidr } = &d[0].mechanism else {
            panic!()
        };
        assert_eq!(domain_spec.as_ref().unwrap().as_str(), "x.example.com");
        assert_eq!((cidr.ip4_bits(), cidr.ip6_bits()), (24, 64));
        assert_eq!(d[1].effective_qualifier(), Qualifier::SoftFail);
        assert_eq!(r.redirect().unwrap().as_str(), "y.example.com");
        assert_eq!(r.explanation().unwrap().as_str(), "z.example.com");
        assert_eq!(d[2].qualifier, None);
        assert_eq!(d[2].effective_qualifier(), Qualifier::Pass);
    }
}
