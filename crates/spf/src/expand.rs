//! Macro expansion (RFC 7208 §7.3), as a pure function of the parsed macro string and
//! the values of the macro letters.
//!
//! Expansion needs no DNS except for `%{p}`; the evaluator looks that value up once per
//! evaluation (and only when a string uses it) and passes it in [`MacroValues`], so this
//! module stays synchronous, side-effect free and easy to fuzz.
//!
//! Bounded work: every expansion draws the octets it writes from an [`ExpansionBudget`]
//! shared by one whole `check_host()` evaluation. RFC 7208 bounds DNS work (§4.6.4) but
//! not macro output; a record of 64 KiB of `%{s}` with a long sender could otherwise ask
//! for hundreds of megabytes. The budget ([`MAX_EXPANSION_OCTETS`]) is three orders of
//! magnitude above what any real record needs (eleven names of at most 253 octets and
//! one explanation), and exhausting it is a `permerror`.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::macro_string::{Macro, MacroLetter, MacroString, MacroToken};

/// The longest domain name a macro expansion may produce before its left side is
/// truncated: RFC 7208 §7.3, "if the expanded domain name exceeds 253 characters (the
/// maximum length of a domain name in this format), the left side is truncated to fit".
pub const MAX_DOMAIN_NAME_LEN: usize = 253;

/// Octets of macro output one `check_host()` evaluation may produce in total, across all
/// domain-specs and the explanation (see the module documentation).
pub const MAX_EXPANSION_OCTETS: usize = 1 << 20;

/// The values macro letters expand to (RFC 7208 §7.2).
#[derive(Clone, Debug)]
pub struct MacroValues<'a> {
    /// `s`: `<sender>` (with `postmaster` as local-part when it had none, §4.3).
    pub sender: &'a str,
    /// `l`: the local-part of `<sender>`.
    pub local_part: &'a str,
    /// `o`: the domain of `<sender>`.
    pub sender_domain: &'a str,
    /// `d`: the current `<domain>`.
    pub domain: &'a str,
    /// `i`, `c`, `v`: `<ip>` (an IPv4-mapped IPv6 address already turned into IPv4).
    pub ip: IpAddr,
    /// `h`: the HELO/EHLO domain.
    pub helo: &'a str,
    /// `r`: the receiving host's domain name ("unknown" when it has none, §7.3).
    pub receiver: &'a str,
    /// `t`: seconds since the epoch.
    pub timestamp: u64,
    /// `p`: the validated domain name of `<ip>`, or "unknown" (§7.3).
    pub validated_domain: &'a str,
}

/// Output octets still allowed in this evaluation. See [`MAX_EXPANSION_OCTETS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpansionBudget {
    remaining: usize,
}

impl Default for ExpansionBudget {
    fn default() -> Self {
        ExpansionBudget {
            remaining: MAX_EXPANSION_OCTETS,
        }
    }
}

impl ExpansionBudget {
    /// A budget of `octets`.
    pub fn new(octets: usize) -> Self {
        ExpansionBudget { remaining: octets }
    }

    /// Octets left.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    fn spend(&mut self, octets: usize) -> Result<(), ExpandError> {
        self.remaining = self
            .remaining
            .checked_sub(octets)
            .ok_or(ExpandError::BudgetExhausted)?;
        Ok(())
    }
}

/// Why an expansion gave no usable name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The evaluation's macro output budget is spent (a `permerror`).
    #[error(
        "macro expansion would produce more than {MAX_EXPANSION_OCTETS} octets in one evaluation"
    )]
    BudgetExhausted,
}

/// Expand `ms` into `out` (appending). Explanation-only letters are expanded too; the
/// parser keeps them out of domain-specs (§7.2).
pub fn expand_into(
    ms: &MacroString,
    values: &MacroValues<'_>,
    budget: &mut ExpansionBudget,
    out: &mut String,
) -> Result<(), ExpandError> {
    for token in ms.tokens() {
        match token {
            MacroToken::Literal(text) => {
                budget.spend(text.len())?;
                out.push_str(text);
            }
            MacroToken::Percent => {
                budget.spend(1)?;
                out.push('%');
            }
            MacroToken::Space => {
                budget.spend(1)?;
                out.push(' ');
            }
            MacroToken::UrlSpace => {
                budget.spend(3)?;
                out.push_str("%20");
            }
            MacroToken::Macro(m) => expand_macro(m, values, budget, out)?,
        }
    }
    Ok(())
}

/// Expand a domain-spec into a target name (RFC 7208 §4.8, §7.3): the expansion with
/// a trailing dot removed, and its left-hand labels dropped until it is at most 253
/// octets. The name is not otherwise checked; see [`is_valid_target_name`].
pub fn expand_domain(
    ms: &MacroString,
    values: &MacroValues<'_>,
    budget: &mut ExpansionBudget,
) -> Result<String, ExpandError> {
    let mut out = String::new();
    expand_into(ms, values, budget, &mut out)?;
    Ok(truncate_domain(out))
}

/// Drop a trailing dot, then whole labels from the left until at most 253 octets remain
/// (RFC 7208 §7.3: "by removing successive domain labels (and their following dots)
/// until the total length does not exceed 253 characters").
pub fn truncate_domain(mut name: String) -> String {
    if name.ends_with('.') {
        name.pop();
    }
    if name.len() <= MAX_DOMAIN_NAME_LEN {
        return name;
    }
    // Keep the longest suffix that starts right after a dot and fits.
    let start = name.len() - MAX_DOMAIN_NAME_LEN;
    let bytes = name.as_bytes();
    match (start - 1..name.len()).find(|&i| bytes[i] == b'.') {
        Some(dot) => name[dot + 1..].to_string(),
        // One label longer than 253 octets: nothing valid remains; the caller's
        // validity check rejects the over-long label.
        None => name,
    }
}

/// Whether a target name can be queried: 1 to 253 octets, labels of 1 to 63 octets
/// (RFC 1035 §2.3.4). RFC 7208 §4.8 leaves the result for other names undefined; this
/// implementation treats them as names that do not exist (see `eval/`).
pub fn is_valid_target_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DOMAIN_NAME_LEN
        && name.split('.').all(|l| !l.is_empty() && l.len() <= 63)
}

fn expand_macro(
    m: &Macro,
    values: &MacroValues<'_>,
    budget: &mut ExpansionBudget,
    out: &mut String,
) -> Result<(), ExpandError> {
    let mut scratch = String::new();
    let value: &str = match m.letter {
        MacroLetter::Sender => values.sender,
        MacroLetter::LocalPart => values.local_part,
        MacroLetter::SenderDomain => values.sender_domain,
        MacroLetter::Domain => values.domain,
        MacroLetter::Helo => values.helo,
        MacroLetter::Receiver => values.receiver,
        MacroLetter::ValidatedDomain => values.validated_domain,
        MacroLetter::IpVersion => match values.ip {
            IpAddr::V4(_) => "in-addr",
            IpAddr::V6(_) => "ip6",
        },
        MacroLetter::Ip => {
            dotted_ip(values.ip, &mut scratch);
            &scratch
        }
        MacroLetter::ClientIp => {
            let _ = write!(scratch, "{}", values.ip);
            &scratch
        }
        MacroLetter::Timestamp => {
            let _ = write!(scratch, "{}", values.timestamp);
            &scratch
        }
    };
    let start = out.len();
    let plain = m.digits.is_none() && !m.reverse && m.delimiters.is_empty();
    if plain {
        budget.spend(value.len())?;
        out.push_str(value);
    } else {
        // RFC 7208 §7.3: split on the delimiters (default "."), reverse if asked, keep
        // the right-most DIGIT parts, and join with ".".
        let delimiters = if m.delimiters.is_empty() {
            "."
        } else {
            m.delimiters.as_str()
        };
        let is_delimiter = |c: char| delimiters.contains(c);
        let count = value.split(is_delimiter).count();
        let keep = m
            .digits
            .map_or(count, |d| (d as usize).min(count))
            .max(1)
            .min(count);
        budget.spend(value.len())?;
        if m.reverse {
            // Reversed order; the right-most `keep` of the reversed list are the first
            // `keep` of the original, in reverse.
            let parts: Vec<&str> = value.split(is_delimiter).take(keep).collect();
            for (n, part) in parts.iter().rev().enumerate() {
                if n > 0 {
                    out.push('.');
                }
                out.push_str(part);
            }
        } else {
            for (n, part) in value.split(is_delimiter).skip(count - keep).enumerate() {
                if n > 0 {
                    out.push('.');
                }
                out.push_str(part);
            }
        }
    }
    if m.url_escape {
        // RFC 7208 §7.3: "Uppercase macros expand exactly as their lowercase
        // equivalents, and are then URL escaped. URL escaping MUST be performed for
        // characters not in the "unreserved" set, which is defined in [RFC3986]."
        let raw = out.split_off(start);
        let escaped = raw
            .bytes()
            .filter(|b| !is_unreserved(*b))
            .count()
            .saturating_mul(2);
        budget.spend(escaped)?;
        for b in raw.bytes() {
            if is_unreserved(b) {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Ok(())
}

/// RFC 3986 §2.3: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `i` (RFC 7208 §7.3): dotted quad for IPv4; for IPv6 "dot-format", the 32 nibbles
/// in order, separated by dots, in upper case as in the RFC 7208 §7.4 example
/// (`1.0.B.C.0.0. … .8.B.D.0.1.0.0.2.ip6._spf.example.com`).
fn dotted_ip(ip: IpAddr, out: &mut String) {
    match ip {
        IpAddr::V4(v4) => {
            let _ = write!(out, "{v4}");
        }
        IpAddr::V6(v6) => {
            for (n, byte) in v6.octets().iter().enumerate() {
                if n > 0 {
                    out.push('.');
                }
                let _ = write!(out, "{:X}.{:X}", byte >> 4, byte & 0x0f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> MacroValues<'static> {
        // The RFC 7208 §7.4 example.
        MacroValues {
            sender: "strong-bad@email.example.com",
            local_part: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: "192.0.2.3".parse().unwrap(),
            helo: "mx.example.org",
            receiver: "mybox.example.org",
            timestamp: 1_700_000_000,
            validated_domain: "mx.example.org",
        }
    }

    fn expand(s: &str, v: &MacroValues<'_>) -> String {
        let ms = MacroString::parse(s, true).unwrap();
        let mut out = String::new();
        expand_into(&ms, v, &mut ExpansionBudget::default(), &mut out).unwrap();
        out
    }

    #[test]
    fn rfc_7208_section_7_4_examples() {
        let v = values();
        for (input, want) in [
            ("%{s}", "strong-bad@email.example.com"),
            ("%{o}", "email.example.com"),
            ("%{d}", "email.example.com"),
            ("%{d4}", "email.example.com"),
            ("%{d3}", "email.example.com"),
            ("%{d2}", "example.com"),
            ("%{d1}", "com"),
            ("%{dr}", "com.example.email"),
            ("%{d2r}", "example.email"),
            ("%{l}", "strong-bad"),
            ("%{l-}", "strong.bad"),
            ("%{lr}", "strong-bad"),
            ("%{lr-}", "bad.strong"),
            ("%{l1r-}", "strong"),
            (
                "%{ir}.%{v}._spf.%{d2}",
                "3.2.0.192.in-addr._spf.example.com",
            ),
            ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
            (
                "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
                "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
            ),
            (
                "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
                "3.2.0.192.in-addr.strong.lp._spf.example.com",
            ),
            (
                "%{d2}.trusted-domains.example.net",
                "example.com.trusted-domains.example.net",
            ),
            (
                "%{c} %{r} %{t} %{p} %{h}",
                "192.0.2.3 mybox.example.org 1700000000 mx.example.org mx.example.org",
            ),
            ("%%%_%-", "% %20"),
        ] {
            assert_eq!(expand(input, &v), want, "{input}");
        }
        let v6 = MacroValues {
            ip: "2001:db8::cb01".parse().unwrap(),
            ..values()
        };
        assert_eq!(
            expand("%{ir}.%{v}._spf.%{d2}", &v6),
            "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com"
        );
        assert_eq!(expand("%{c}", &v6), "2001:db8::cb01");
    }

    #[test]
    fn url_escaping() {
        let v = MacroValues {
            local_part: "~jack&jill=up-a_b3.c",
            ..values()
        };
        assert_eq!(expand("%{L}", &v), "~jack%26jill%3Dup-a_b3.c");
        let v = MacroValues {
            helo: "JUMPIN' JUPITER",
            ..values()
        };
        assert_eq!(expand("%{H}", &v), "JUMPIN%27%20JUPITER");
    }

    #[test]
    fn truncation() {
        let long = format!("{}.example.com.", ["abcdefghi"; 30].join("."));
        let t = truncate_domain(long);
        assert!(t.len() <= 253 && t.ends_with(".example.com") && !t.starts_with('.'));
        assert!(is_valid_target_name(&t));
        assert_eq!(truncate_domain("example.com.".into()), "example.com");
        let huge = "a".repeat(300);
        assert!(!is_valid_target_name(&truncate_domain(huge)));
        assert!(!is_valid_target_name("mail.example...com"));
        assert!(!is_valid_target_name(&format!("{}.com", "a".repeat(64))));
    }

    #[test]
    fn many_parts_and_huge_digits() {
        let v = MacroValues {
            local_part: "a.b.c",
            ..values()
        };
        assert_eq!(expand("%{l99999999999}", &v), "a.b.c");
        assert_eq!(expand("%{l1}", &v), "c");
        assert_eq!(expand("%{l1r}", &v), "a");
        let v = MacroValues {
            local_part: "a..b",
            ..values()
        };
        assert_eq!(expand("%{lr}", &v), "b..a");
        let v = MacroValues {
            local_part: "",
            ..values()
        };
        assert_eq!(expand("%{l1r}", &v), "");
    }

    #[test]
    fn budget_is_enforced() {
        let sender = "x".repeat(1000);
        let v = MacroValues {
            sender: &sender,
            ..values()
        };
        let ms = MacroString::parse(&"%{s}".repeat(2000), false).unwrap();
        let mut budget = ExpansionBudget::default();
        assert_eq!(
            expand_domain(&ms, &v, &mut budget),
            Err(ExpandError::BudgetExhausted)
        );
        let mut small = ExpansionBudget::new(10);
        let ms = MacroString::parse("%{d}", false).unwrap();
        assert!(expand_domain(&ms, &v, &mut small).is_err());
    }
}
