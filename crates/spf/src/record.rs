//! The SPF record as types, one per nonterminal of the RFC 7208 §12 ABNF.
//!
//! A record is `version terms *SP`; each term is a directive (an optional qualifier and a
//! mechanism) or a modifier. Values the RFC constrains are newtypes, so that an invalid
//! value cannot be built: an [`Ip4CidrLength`] is never over 32, a [`DomainSpec`] always
//! ends in a valid `domain-end`.
//!
//! Design decision: `Display` writes the *canonical* form — mechanism and modifier names
//! in lower case, one space between terms, no trailing space — while keeping everything
//! that carries meaning (qualifiers as written, macro-letter case, CIDR lengths as
//! written). So `s.parse::<SpfRecord>()?.to_string() == s` holds for every record in
//! canonical form, and `parse(display(r)) == r` for every record that parses.

use std::fmt::{self, Display, Formatter};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

pub use crate::macro_string::{
    DomainSpec, ExplainString, Macro, MacroLetter, MacroString, MacroToken,
};

/// The version section every SPF record starts with (RFC 7208 §4.5, §12 `version`).
pub const VERSION: &str = "v=spf1";

/// An SPF record (RFC 7208 §12):
///
/// ```text
/// record           = version terms *SP
/// version          = "v=spf1"
/// terms            = *( 1*SP ( directive / modifier ) )
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SpfRecord {
    /// The terms, in the order written.
    pub terms: Vec<Term>,
}

/// `directive / modifier` (RFC 7208 §4.6.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Term {
    /// A mechanism with its qualifier.
    Directive(Directive),
    /// A `name=value` term.
    Modifier(Modifier),
}

/// ```text
/// directive        = [ qualifier ] mechanism
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Directive {
    /// The qualifier as written; `None` means the record omitted it, which means `+`
    /// (RFC 7208 §4.6.2: "The qualifier is optional and defaults to "+"").
    pub qualifier: Option<Qualifier>,
    /// What the directive matches.
    pub mechanism: Mechanism,
}

impl Directive {
    /// The qualifier in force: the one written, or `+` (RFC 7208 §4.6.2).
    pub fn effective_qualifier(&self) -> Qualifier {
        self.qualifier.unwrap_or(Qualifier::Pass)
    }
}

/// ```text
/// qualifier        = "+" / "-" / "?" / "~"
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Qualifier {
    /// `+`: a match gives `pass`.
    Pass,
    /// `-`: a match gives `fail`.
    Fail,
    /// `~`: a match gives `softfail`.
    SoftFail,
    /// `?`: a match gives `neutral`.
    Neutral,
}

impl Qualifier {
    /// The character written in a record.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }

    /// The qualifier written as `c`, if `c` is one.
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c {
            '+' => Qualifier::Pass,
            '-' => Qualifier::Fail,
            '~' => Qualifier::SoftFail,
            '?' => Qualifier::Neutral,
            _ => return None,
        })
    }
}

/// ```text
/// mechanism        = ( all / include / a / mx / ptr / ip4 / ip6 / exists )
/// all              = "all"
/// include          = "include"  ":" domain-spec
/// a                = "a"      [ ":" domain-spec ] [ dual-cidr-length ]
/// mx               = "mx"     [ ":" domain-spec ] [ dual-cidr-length ]
/// ptr              = "ptr"    [ ":" domain-spec ]
/// ip4              = "ip4"      ":" ip4-network   [ ip4-cidr-length ]
/// ip6              = "ip6"      ":" ip6-network   [ ip6-cidr-length ]
/// exists           = "exists"   ":" domain-spec
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// Always matches (RFC 7208 §5.1).
    All,
    /// Matches when `check_host()` of the target gives `pass` (§5.2).
    Include {
        /// The domain whose record is evaluated.
        domain_spec: DomainSpec,
    },
    /// Matches when `<ip>` is one of the target's addresses (§5.3).
    A {
        /// The target; `None` means the current `<domain>`.
        domain_spec: Option<DomainSpec>,
        /// Prefix lengths to compare with.
        cidr: DualCidrLength,
    },
    /// Matches when `<ip>` is an address of one of the target's mail exchangers (§5.4).
    Mx {
        /// The target; `None` means the current `<domain>`.
        domain_spec: Option<DomainSpec>,
        /// Prefix lengths to compare with.
        cidr: DualCidrLength,
    },
    /// Matches when a validated reverse name of `<ip>` is in the target domain (§5.5).
    /// RFC 7208 §5.5: "This mechanism SHOULD NOT be published."
    Ptr {
        /// The target; `None` means the current `<domain>`.
        domain_spec: Option<DomainSpec>,
    },
    /// Matches an IPv4 `<ip>` inside the network (§5.6).
    Ip4 {
        /// The network address as written.
        addr: Ipv4Addr,
        /// The prefix length; `None` means /32.
        prefix_len: Option<Ip4CidrLength>,
    },
    /// Matches an IPv6 `<ip>` inside the network (§5.6).
    Ip6 {
        /// The network address as written.
        addr: Ipv6Addr,
        /// The prefix length; `None` means /128.
        prefix_len: Option<Ip6CidrLength>,
    },
    /// Matches when the target has at least one A record (§5.7).
    Exists {
        /// The name looked up (always type A).
        domain_spec: DomainSpec,
    },
}

impl Mechanism {
    /// The mechanism's name as written in canonical form (`"all"`, `"include"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include { .. } => "include",
            Mechanism::A { .. } => "a",
            Mechanism::Mx { .. } => "mx",
            Mechanism::Ptr { .. } => "ptr",
            Mechanism::Ip4 { .. } => "ip4",
            Mechanism::Ip6 { .. } => "ip6",
            Mechanism::Exists { .. } => "exists",
        }
    }

    /// Whether evaluating this mechanism queries DNS, and so counts against the limit of
    /// RFC 7208 §4.6.4: "the "include", "a", "mx", "ptr", and "exists" mechanisms".
    pub fn queries_dns(&self) -> bool {
        !matches!(
            self,
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. }
        )
    }

    /// The domain-spec, if the mechanism has one.
    pub fn domain_spec(&self) -> Option<&DomainSpec> {
        match self {
            Mechanism::Include { domain_spec } | Mechanism::Exists { domain_spec } => {
                Some(domain_spec)
            }
            Mechanism::A { domain_spec, .. }
            | Mechanism::Mx { domain_spec, .. }
            | Mechanism::Ptr { domain_spec } => domain_spec.as_ref(),
            Mechanism::All | Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => None,
        }
    }
}

/// ```text
/// modifier         = redirect / explanation / unknown-modifier
/// redirect         = "redirect" "=" domain-spec
/// explanation      = "exp" "=" domain-spec
/// unknown-modifier = name "=" macro-string
///                    ; where name is not any known modifier
/// name             = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// Evaluate another domain's record when nothing matched (§6.1).
    Redirect(DomainSpec),
    /// Where to find the explanation for a `fail` (§6.2).
    Explanation(DomainSpec),
    /// A modifier this implementation does not know; ignored (§6: "Unrecognized
    /// modifiers MUST be ignored"), but its value must still be a valid macro-string.
    Unknown {
        /// The name, as written.
        name: String,
        /// The value.
        value: MacroString,
    },
}

impl Modifier {
    /// Whether evaluating this modifier counts against the DNS limit of RFC 7208
    /// §4.6.4: only `redirect` ("the "exp" modifier … \[does\] not").
    pub fn queries_dns(&self) -> bool {
        matches!(self, Modifier::Redirect(_))
    }
}

/// ```text
/// ip4-cidr-length  = "/" ("0" / %x31-39 0*1DIGIT) ; value range 0-32
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ip4CidrLength(u8);

impl Ip4CidrLength {
    /// A prefix length of at most 32 bits.
    pub fn new(len: u8) -> Option<Self> {
        (len <= 32).then_some(Ip4CidrLength(len))
    }

    /// The number of bits.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// ```text
/// ip6-cidr-length  = "/" ("0" / %x31-39 0*2DIGIT) ; value range 0-128
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ip6CidrLength(u8);

impl Ip6CidrLength {
    /// A prefix length of at most 128 bits.
    pub fn new(len: u8) -> Option<Self> {
        (len <= 128).then_some(Ip6CidrLength(len))
    }

    /// The number of bits.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// ```text
/// dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]
/// ```
///
/// For `a` and `mx`: the prefix used when `<ip>` is IPv4, and the one used when it is
/// IPv6. Each defaults to the full length (RFC 7208 §5.6: "If ip4-cidr-length is
/// omitted, it is taken to be "/32". If ip6-cidr-length is omitted, it is taken to be
/// "/128"").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DualCidrLength {
    /// The IPv4 prefix length, if written.
    pub ip4: Option<Ip4CidrLength>,
    /// The IPv6 prefix length, if written.
    pub ip6: Option<Ip6CidrLength>,
}

impl DualCidrLength {
    /// The IPv4 prefix length in force (32 when not written).
    pub fn ip4_bits(&self) -> u8 {
        self.ip4.map_or(32, Ip4CidrLength::get)
    }

    /// The IPv6 prefix length in force (128 when not written).
    pub fn ip6_bits(&self) -> u8 {
        self.ip6.map_or(128, Ip6CidrLength::get)
    }
}

impl SpfRecord {
    /// The directives, in order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.terms.iter().filter_map(|t| match t {
            Term::Directive(d) => Some(d),
            Term::Modifier(_) => None,
        })
    }

    /// The modifiers, in order.
    pub fn modifiers(&self) -> impl Iterator<Item = &Modifier> {
        self.terms.iter().filter_map(|t| match t {
            Term::Modifier(m) => Some(m),
            Term::Directive(_) => None,
        })
    }

    /// The `redirect=` target, if any. A parsed record has at most one (the parser
    /// enforces RFC 7208 §6).
    pub fn redirect(&self) -> Option<&DomainSpec> {
        self.modifiers().find_map(|m| match m {
            Modifier::Redirect(d) => Some(d),
            _ => None,
        })
    }

    /// The `exp=` target, if any (at most one, RFC 7208 §6).
    pub fn explanation(&self) -> Option<&DomainSpec> {
        self.modifiers().find_map(|m| match m {
            Modifier::Explanation(d) => Some(d),
            _ => None,
        })
    }
}

impl Display for SpfRecord {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(VERSION)?;
        for term in &self.terms {
            write!(f, " {term}")?;
        }
        Ok(())
    }
}

impl Display for Term {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Term::Directive(d) => d.fmt(f),
            Term::Modifier(m) => m.fmt(f),
        }
    }
}

impl Display for Directive {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(q) = self.qualifier {
            write!(f, "{}", q.as_char())?;
        }
        self.mechanism.fmt(f)
    }
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

impl Display for Mechanism {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Mechanism::All => Ok(()),
            Mechanism::Include { domain_spec } | Mechanism::Exists { domain_spec } => {
                write!(f, ":{domain_spec}")
            }
            Mechanism::A { domain_spec, cidr } | Mechanism::Mx { domain_spec, cidr } => {
                if let Some(d) = domain_spec {
                    write!(f, ":{d}")?;
                }
                cidr.fmt(f)
            }
            Mechanism::Ptr { domain_spec } => match domain_spec {
                Some(d) => write!(f, ":{d}"),
                None => Ok(()),
            },
            Mechanism::Ip4 { addr, prefix_len } => {
                write!(f, ":{addr}")?;
                match prefix_len {
                    Some(p) => write!(f, "/{}", p.get()),
                    None => Ok(()),
                }
            }
            Mechanism::Ip6 { addr, prefix_len } => {
                write!(f, ":{addr}")?;
                match prefix_len {
                    Some(p) => write!(f, "/{}", p.get()),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Display for DualCidrLength {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.ip4 {
            write!(f, "/{}", p.get())?;
        }
        if let Some(p) = self.ip6 {
            write!(f, "//{}", p.get())?;
        }
        Ok(())
    }
}

impl Display for Modifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Modifier::Redirect(d) => write!(f, "redirect={d}"),
            Modifier::Explanation(d) => write!(f, "exp={d}"),
            Modifier::Unknown { name, value } => write!(f, "{name}={value}"),
        }
    }
}
