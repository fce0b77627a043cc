//! Macro strings (RFC 7208 §7.1): the syntax of `domain-spec`, `explain-string` and
//! unknown-modifier values, parsed once into pieces that expansion (`expand.rs`) walks.
//!
//! ```text
//! domain-spec      = macro-string domain-end
//! domain-end       = ( "." toplabel [ "." ] ) / macro-expand
//! toplabel         = ( *alphanum ALPHA *alphanum ) /
//!                    ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
//! explain-string   = *( macro-string / SP )
//! macro-string     = *( macro-expand / macro-literal )
//! macro-expand     = ( "%{" macro-letter transformers *delimiter "}" )
//!                    / "%%" / "%_" / "%-"
//! macro-literal    = %x21-24 / %x26-7E
//! macro-letter     = "s" / "l" / "o" / "d" / "i" / "p" / "h" /
//!                    "c" / "r" / "t" / "v"
//! transformers     = *DIGIT [ "r" ]
//! delimiter        = "." / "-" / "+" / "," / "/" / "_" / "="
//! ```
//!
//! Design decision: a macro string keeps its source text and displays it unchanged, so
//! the round trip is exact (macro-letter case, `R` transformers, digits as written).
//! The text is a range of a shared `Arc<str>` — for a parsed record, the record's own
//! text — and literal pieces are ranges into it, so parsing a record allocates its text
//! once, and a pure literal such as `_spf.example.com` needs no allocation of its own.

use std::fmt::{self, Display, Formatter};
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

/// `macro-letter` (RFC 7208 §7.2, §7.3): which value a macro expands to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacroLetter {
    /// `s`: `<sender>`.
    Sender,
    /// `l`: the local-part of `<sender>`.
    LocalPart,
    /// `o`: the domain of `<sender>`.
    SenderDomain,
    /// `d`: `<domain>`.
    Domain,
    /// `i`: `<ip>` (dotted quad, or dot-separated nibbles for IPv6).
    Ip,
    /// `p`: the validated domain name of `<ip>` (§7.3: "do not use").
    ValidatedDomain,
    /// `v`: `in-addr` for IPv4, `ip6` for IPv6.
    IpVersion,
    /// `h`: the HELO/EHLO domain.
    Helo,
    /// `c`: the SMTP client IP, readable form. Only in explanations.
    ClientIp,
    /// `r`: the domain name of the host performing the check. Only in explanations.
    Receiver,
    /// `t`: the current timestamp. Only in explanations.
    Timestamp,
}

impl MacroLetter {
    /// The letter from its lower-case character.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            's' => MacroLetter::Sender,
            'l' => MacroLetter::LocalPart,
            'o' => MacroLetter::SenderDomain,
            'd' => MacroLetter::Domain,
            'i' => MacroLetter::Ip,
            'p' => MacroLetter::ValidatedDomain,
            'v' => MacroLetter::IpVersion,
            'h' => MacroLetter::Helo,
            'c' => MacroLetter::ClientIp,
            'r' => MacroLetter::Receiver,
            't' => MacroLetter::Timestamp,
            _ => return None,
        })
    }

    /// The lower-case character.
    pub fn as_char(self) -> char {
        match self {
            MacroLetter::Sender => 's',
            MacroLetter::LocalPart => 'l',
            MacroLetter::SenderDomain => 'o',
            MacroLetter::Domain => 'd',
            MacroLetter::Ip => 'i',
            MacroLetter::ValidatedDomain => 'p',
            MacroLetter::IpVersion => 'v',
            MacroLetter::Helo => 'h',
            MacroLetter::ClientIp => 'c',
            MacroLetter::Receiver => 'r',
            MacroLetter::Timestamp => 't',
        }
    }

    /// RFC 7208 §7.2: "The following macro letters are allowed only in "exp" text:
    /// c, r, t".
    pub fn is_explanation_only(self) -> bool {
        matches!(
            self,
            MacroLetter::ClientIp | MacroLetter::Receiver | MacroLetter::Timestamp
        )
    }
}

/// `"%{" macro-letter transformers *delimiter "}"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Macro {
    /// The value to expand.
    pub letter: MacroLetter,
    /// The letter was upper case: URL-escape the result (RFC 7208 §7.3).
    pub url_escape: bool,
    /// The DIGIT transformer: keep this many right-hand parts. Never zero (§7.3: "If a
    /// DIGIT is specified, the value MUST be nonzero"); saturates at `u32::MAX`.
    pub digits: Option<u32>,
    /// The `r` transformer: reverse the parts.
    pub reverse: bool,
    /// The delimiters to split on, as written; empty means `.` (§7.3).
    pub delimiters: String,
}

/// One piece of a [`MacroString`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacroToken<'a> {
    /// Text taken as it is.
    Literal(&'a str),
    /// A macro to expand.
    Macro(&'a Macro),
    /// `%%`: a percent sign.
    Percent,
    /// `%_`: a space.
    Space,
    /// `%-`: the URL-encoded space `%20`.
    UrlSpace,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Piece {
    Literal(u32, u32),
    Macro(Macro),
    Percent,
    Space,
    UrlSpace,
}

/// `macro-string` (or, with spaces allowed, an `explain-string`): source text plus its
/// pieces; `Display` writes the source text unchanged.
#[derive(Clone, Debug)]
pub struct MacroString {
    /// The text this string is a range of.
    text: Arc<str>,
    start: u32,
    end: u32,
    /// Empty when the whole source is one literal (no `%` in it). Literal ranges are
    /// relative to `start`.
    pieces: Vec<Piece>,
}

impl PartialEq for MacroString {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.pieces == other.pieces
    }
}

impl Eq for MacroString {}

impl Hash for MacroString {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// A macro string that does not follow RFC 7208 §7.1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at offset {offset}")]
pub struct MacroError {
    /// Byte offset in the macro string.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Offsets into a macro string's text are kept as `u32` to keep [`MacroString`] small
/// (a TXT record is at most 64 KiB). A text longer than `u32::MAX` octets is refused at
/// parse time, so no offset can wrap whatever the input length.
fn offset(n: usize) -> Result<u32, MacroError> {
    u32::try_from(n).map_err(|_| MacroError {
        offset: n,
        reason: "the text is longer than 4294967295 octets, the most a macro string may span",
    })
}

impl MacroString {
    /// Parse a `macro-string`; with `allow_space`, an `explain-string` (which may also
    /// hold spaces).
    pub fn parse(source: &str, allow_space: bool) -> Result<MacroString, MacroError> {
        let text: Arc<str> = Arc::from(source);
        Self::parse_in(&text, 0, source.len(), allow_space)
    }

    /// Parse `text[start..end]`, sharing `text` (the record parser's path: one
    /// allocation for the whole record). Offsets are bytes and must lie on character
    /// boundaries; errors report offsets relative to `start`.
    pub(crate) fn parse_in(
        text: &Arc<str>,
        start: usize,
        end: usize,
        allow_space: bool,
    ) -> Result<MacroString, MacroError> {
        let bytes = &text.as_bytes()[start..end];
        let err = |offset, reason| MacroError { offset, reason };
        // Every offset stored below is at most `end`: checking it bounds them all.
        let (start32, end32) = (offset(start)?, offset(end)?);
        let make = |pieces| MacroString {
            text: text.clone(),
            start: start32,
            end: end32,
            pieces,
        };
        // Fast path: no '%' means one literal; only the character set needs checking.
        if !bytes.contains(&b'%') {
            if let Some(at) = bytes
                .iter()
                .position(|&b| !(is_macro_literal(b) || (allow_space && b == b' ')))
            {
                return Err(err(at, literal_error(bytes[at])));
            }
            return Ok(make(Vec::new()));
        }
        let mut pieces = Vec::new();
        let mut literal_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != b'%' {
                if !(is_macro_literal(b) || (allow_space && b == b' ')) {
                    return Err(err(i, literal_error(b)));
                }
                i += 1;
                continue;
            }
            if literal_start < i {
                pieces.push(Piece::Literal(offset(literal_start)?, offset(i)?));
            }
            // RFC 7208 §7.1: "A '%' character not followed by a '{', '%', '-', or '_'
            // character is a syntax error."
            match bytes.get(i + 1) {
                Some(b'%') => {
                    pieces.push(Piece::Percent);
                    i += 2;
                }
                Some(b'_') => {
                    pieces.push(Piece::Space);
                    i += 2;
                }
                Some(b'-') => {
                    pieces.push(Piece::UrlSpace);
                    i += 2;
                }
                Some(b'{') => {
                    let (m, next) = parse_macro(bytes, i + 2)?;
                    pieces.push(Piece::Macro(m));
                    i = next;
                }
                Some(_) => {
                    return Err(err(
                        i,
                        "'%' must be followed by '{', '%', '_' or '-' (RFC 7208 §7.1)",
                    ));
                }
                None => return Err(err(i, "the string ends with a lone '%' (RFC 7208 §7.1)")),
            }
            literal_start = i;
        }
        if literal_start < bytes.len() {
            pieces.push(Piece::Literal(offset(literal_start)?, offset(bytes.len())?));
        }
        Ok(make(pieces))
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text[self.start as usize..self.end as usize]
    }

    /// Whether the string holds no macro at all (expansion gives the text itself).
    pub fn is_literal(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The pieces, in order.
    pub fn tokens(&self) -> impl Iterator<Item = MacroToken<'_>> + '_ {
        let source = self.as_str();
        let whole = self
            .pieces
            .is_empty()
            .then_some(MacroToken::Literal(source))
            .filter(|_| !source.is_empty());
        whole
            .into_iter()
            .chain(self.pieces.iter().map(move |p| match p {
                Piece::Literal(a, b) => MacroToken::Literal(&source[*a as usize..*b as usize]),
                Piece::Macro(m) => MacroToken::Macro(m),
                Piece::Percent => MacroToken::Percent,
                Piece::Space => MacroToken::Space,
                Piece::UrlSpace => MacroToken::UrlSpace,
            }))
    }

    /// The macros, in order.
    pub fn macros(&self) -> impl Iterator<Item = &Macro> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Macro(m) => Some(m),
            _ => None,
        })
    }

    /// Whether any macro expands `letter`.
    pub fn uses(&self, letter: MacroLetter) -> bool {
        self.macros().any(|m| m.letter == letter)
    }

    fn ends_in_macro_expand(&self) -> bool {
        // The source ends in a macro-expand exactly when the last piece is not a literal
        // (a literal piece always runs to the next '%' or to the end).
        matches!(
            self.pieces.last(),
            Some(Piece::Macro(_) | Piece::Percent | Piece::Space | Piece::UrlSpace)
        )
    }
}

fn is_macro_literal(b: u8) -> bool {
    matches!(b, 0x21..=0x24 | 0x26..=0x7e)
}

fn literal_error(b: u8) -> &'static str {
    match b {
        b' ' => "a space is not allowed here",
        b'\t' => "a tab is not allowed (terms are separated by spaces only, RFC 7208 §4.6.1)",
        b'\r' | b'\n' => "a line break is not allowed (RFC 7208 §4.6.1)",
        0x80.. => "a non-ASCII byte is not allowed (RFC 7208 §3.1, §7.1)",
        _ => "a control character is not allowed (RFC 7208 §7.1)",
    }
}

/// Parse after `%{` up to and including `}`; returns the macro and the next offset.
fn parse_macro(bytes: &[u8], start: usize) -> Result<(Macro, usize), MacroError> {
    let err = |offset, reason| MacroError { offset, reason };
    let Some(&letter_byte) = bytes.get(start) else {
        return Err(err(start, "an unterminated macro (RFC 7208 §7.1)"));
    };
    let letter =
        MacroLetter::from_char(char::from(letter_byte.to_ascii_lowercase())).ok_or(err(
            start,
            "an unknown macro letter (RFC 7208 §7.2 allows s l o d i p h c r t v)",
        ))?;
    let url_escape = letter_byte.is_ascii_uppercase();
    let mut i = start + 1;
    let mut digits: Option<u32> = None;
    while let Some(&d) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        let value = digits.unwrap_or(0);
        digits = Some(value.saturating_mul(10).saturating_add(u32::from(d - b'0')));
        i += 1;
    }
    if digits == Some(0) {
        return Err(err(
            start + 1,
            "the DIGIT transformer must not be zero (RFC 7208 §7.3)",
        ));
    }
    let mut reverse = false;
    if matches!(bytes.get(i), Some(b'r' | b'R')) {
        reverse = true;
        i += 1;
    }
    let delimiters_start = i;
    while matches!(
        bytes.get(i),
        Some(b'.' | b'-' | b'+' | b',' | b'/' | b'_' | b'=')
    ) {
        i += 1;
    }
    let delimiters = String::from_utf8_lossy(&bytes[delimiters_start..i]).into_owned();
    match bytes.get(i) {
        Some(b'}') => Ok((
            Macro {
                letter,
                url_escape,
                digits,
                reverse,
                delimiters,
            },
            i + 1,
        )),
        Some(_) => Err(err(
            i,
            "a macro holds a letter, digits, 'r' and delimiters (. - + , / _ =), then '}' (RFC 7208 §7.1)",
        )),
        None => Err(err(i, "an unterminated macro (RFC 7208 §7.1)")),
    }
}

impl Display for MacroString {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MacroString {
    type Err = MacroError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MacroString::parse(s, false)
    }
}

impl Display for Macro {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let c = self.letter.as_char();
        let c = if self.url_escape {
            c.to_ascii_uppercase()
        } else {
            c
        };
        write!(f, "%{{{c}")?;
        if let Some(d) = self.digits {
            write!(f, "{d}")?;
        }
        if self.reverse {
            f.write_str("r")?;
        }
        write!(f, "{}}}", self.delimiters)
    }
}

/// `domain-spec` (RFC 7208 §7.1): a macro string that ends in `"." toplabel ["."]` or a
/// macro-expand, and (§7.2) uses none of the explanation-only letters c, r, t.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DomainSpec(MacroString);

/// Why a `domain-spec` is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainSpecError {
    /// Nothing after the `:` or `=`.
    #[error("the domain-spec is empty")]
    Empty,
    /// Not a valid macro-string.
    #[error("{0}")]
    Macro(#[from] MacroError),
    /// A `c`, `r` or `t` macro outside an explanation.
    #[error("the macro letter '{0}' is allowed only in explanation text (RFC 7208 §7.2)")]
    ExplanationOnlyMacro(char),
    /// Does not end in `.toplabel` or a macro.
    #[error(
        "the domain-spec must end in a macro or in '.' and a top label that is not all digits (RFC 7208 §7.1 domain-end)"
    )]
    BadDomainEnd,
}

impl DomainSpec {
    /// The macro string.
    pub fn macro_string(&self) -> &MacroString {
        &self.0
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl DomainSpec {
    /// Parse `text[start..end]` as a domain-spec, sharing `text`.
    pub(crate) fn parse_in(
        text: &Arc<str>,
        start: usize,
        end: usize,
    ) -> Result<DomainSpec, DomainSpecError> {
        if start == end {
            return Err(DomainSpecError::Empty);
        }
        let ms = MacroString::parse_in(text, start, end, false)?;
        if let Some(m) = ms.macros().find(|m| m.letter.is_explanation_only()) {
            return Err(DomainSpecError::ExplanationOnlyMacro(m.letter.as_char()));
        }
        if !ms.ends_in_macro_expand() && !ends_in_toplabel(ms.as_str()) {
            return Err(DomainSpecError::BadDomainEnd);
        }
        Ok(DomainSpec(ms))
    }
}

impl FromStr for DomainSpec {
    type Err = DomainSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(DomainSpecError::Empty);
        }
        DomainSpec::parse_in(&Arc::from(s), 0, s.len())
    }
}

impl Display for DomainSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `"." toplabel [ "." ]` at the end of `s`.
fn ends_in_toplabel(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let Some(dot) = s.rfind('.') else {
        return false;
    };
    is_toplabel(&s[dot + 1..])
}

/// ```text
/// toplabel = ( *alphanum ALPHA *alphanum ) /
///            ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
/// ```
/// Together: letters, digits and hyphens, not starting or ending with a hyphen, and not
/// all digits unless a hyphen is present.
pub(crate) fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return false;
    };
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if b.contains(&b'-') {
        first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()
    } else {
        b.iter().any(u8::is_ascii_alphabetic)
    }
}

/// `explain-string` (RFC 7208 §7.1, §6.2): the text of an explanation TXT record, with
/// macros (any letter) and spaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExplainString(MacroString);

impl ExplainString {
    /// The macro string.
    pub fn macro_string(&self) -> &MacroString {
        &self.0
    }
}

impl FromStr for ExplainString {
    type Err = MacroError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MacroString::parse(s, true).map(ExplainString)
    }
}

impl Display for ExplainString {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // On narrower targets no text can be longer than u32::MAX octets.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn offsets_beyond_u32_are_an_error_not_a_wrap() {
        let max = u32::MAX as usize;
        assert_eq!(offset(max), Ok(u32::MAX));
        assert_eq!(offset(0), Ok(0));
        // `max + 1` would have wrapped to 0 with `as u32`.
        let e = offset(max + 1).unwrap_err();
        assert_eq!(e.offset, max + 1);
        assert!(e.reason.contains("longer than 4294967295 octets"), "{e}");
        assert!(offset(usize::MAX).is_err());
    }

    #[test]
    fn toplabels() {
        for ok in ["com", "xn--zckzah", "a1", "1a", "1-2", "a-b-c"] {
            assert!(is_toplabel(ok), "{ok}");
        }
        for bad in ["", "123", "-com", "com-", "co m", "com:8080", "c_m"] {
            assert!(!is_toplabel(bad), "{bad}");
        }
    }

    #[test]
    fn domain_specs() {
        for ok in [
            "example.com",
            "example.com.",
            "mail.example...com",
            "foo:bar/baz.example.com",
            "%{d}",
            "%{ir}.%{l1r+-}._spf.%{d}",
            "macro%%percent%_%_space%-url-space.example.com",
            "%{H}",
            "x.%{d2}",
            "a.%%",
        ] {
            let d: DomainSpec = ok.parse().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(d.to_string(), ok);
        }
        for bad in [
            "",
            "museum",
            "museum.",
            "abc.123",
            "111.222.33.44",
            "example.-com",
            "foo-bar",
            "example.com:8080",
            "%{r}.example.com",
            "%{c}",
            "%{a}.example.com",
            "%(ir).sbl.example.com",
            "foo%.sbl.example.com",
            "%{d0}.example.com",
            "%{d",
            "-all",
            "foo.example.com\0",
            "ip5.example.com/24",
            "%{d}com",
        ] {
            assert!(bad.parse::<DomainSpec>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn macro_pieces() {
        let ms = MacroString::parse("%{ir}.%{L2r-+}x%%%_%-", false).unwrap();
        let tokens: Vec<_> = ms.tokens().collect();
        assert_eq!(tokens.len(), 7);
        let MacroToken::Macro(m) = tokens[2] else {
            panic!("{tokens:?}")
        };
        assert_eq!(m.letter, MacroLetter::LocalPart);
        assert!(m.url_escape && m.reverse);
        assert_eq!(m.digits, Some(2));
        assert_eq!(m.delimiters, "-+");
        assert_eq!(m.to_string(), "%{L2r-+}");
        assert_eq!(tokens[3], MacroToken::Literal("x"));
        assert_eq!(
            &tokens[4..],
            &[MacroToken::Percent, MacroToken::Space, MacroToken::UrlSpace]
        );
        let lit = MacroString::parse("_spf.example.com", false).unwrap();
        assert!(lit.is_literal());
        assert_eq!(
            lit.tokens().collect::<Vec<_>>(),
            vec![MacroToken::Literal("_spf.example.com")]
        );
        assert_eq!(MacroString::parse("", false).unwrap().tokens().count(), 0);
        assert!(MacroString::parse("a b", false).is_err());
        assert!(MacroString::parse("a b %{c}", true).is_ok());
        assert!(MacroString::parse("%{d99999999999999999999}", false).is_ok());
    }
}
