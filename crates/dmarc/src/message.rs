//! The message side of DMARC: finding the one RFC5322.From header field and its domain,
//! the Author Domain (RFC 9989 §3.2.2, §5.3.1; RFC 7489 §6.6.1).
//!
//! A message with no From, with several From fields, or whose From names zero or several
//! addresses has no single Author Domain. RFC 9989 §5.3.1 says DMARC validation is then
//! "not possible"; §11.5 warns that attackers send exactly such messages to slip past
//! DMARC. Sendwell never lets them pass silently: [`author_domain`] returns an
//! [`AuthorDomainError`] that says which case it is, and the verdict becomes `permerror`
//! with that reason (see [`crate::eval`]).
//!
//! Design decision: several addresses are refused even when they share one domain. RFC
//! 9989 §5.3.1 only counts domains, but a multi-address From is almost always abuse
//! (§11.5) and a single Author Domain is what the rest of the evaluation assumes.

use crate::address::{AddressError, Mailbox, mailboxes, parse_address_list};

/// One header field: its name as written and its value, unfolded (RFC 5322 §2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    /// The field name, case kept.
    pub name: String,
    /// The value after the colon with folding removed (CRLF before WSP deleted).
    pub value: String,
}

/// The header fields of a message (everything before the first empty line).
///
/// Lines may end in CRLF or bare LF. A line that is neither a field (`name:`) nor a
/// continuation is skipped, as is an mbox `From ` separator line. Bytes that are not
/// UTF-8 are replaced by U+FFFD.
pub fn header_fields(message: &[u8]) -> Vec<HeaderField> {
    let text = String::from_utf8_lossy(message);
    let mut fields: Vec<HeaderField> = Vec::new();
    let mut in_field = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if in_field && let Some(last) = fields.last_mut() {
                last.value.push_str(line);
            }
            continue;
        }
        in_field = false;
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        // RFC 5322 §4.5.1 (obs-optional): white space may come between the field name
        // and the colon. Such a field counts, so `From : x` beside `From: y` is two From
        // fields, not one (a receiver that skipped it would judge the wrong author).
        let name = name.trim_end_matches([' ', '\t']);
        // RFC 5322 §2.2: ftext = %d33-57 / %d59-126 (printable, no colon, no space).
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
            continue;
        }
        fields.push(HeaderField {
            name: name.to_string(),
            value: value.to_string(),
        });
        in_field = true;
    }
    fields
}

/// The Author Domain and the mailbox it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorDomain {
    /// The domain, lowercased, without a trailing dot, U-labels converted to A-labels
    /// (RFC 9989 §5.3.1, RFC 5890 §2.3).
    pub domain: String,
    /// The From mailbox it came from.
    pub mailbox: Mailbox,
}

/// Why a message has no single Author Domain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorDomainError {
    /// No From header field at all (RFC 5322 §3.6 requires exactly one).
    #[error("the message has no From header field")]
    NoFrom,
    /// Several From header fields (RFC 5322 §3.6 allows one).
    #[error("the message has {0} From header fields; RFC 5322 allows exactly one")]
    SeveralFromFields(usize),
    /// From could not be parsed as an address list.
    #[error("the From header field cannot be parsed: {0}")]
    Unparsable(#[source] AddressError),
    /// From holds no address (e.g. an empty group `undisclosed:;`).
    #[error("the From header field holds no address")]
    NoAddress,
    /// From holds several addresses.
    #[error(
        "the From header field holds {count} addresses ({domains}); DMARC needs exactly one author"
    )]
    SeveralAddresses {
        /// How many.
        count: usize,
        /// Their domains, comma-separated.
        domains: String,
    },
    /// The address has a domain literal (`[192.0.2.1]`), which has no DMARC record.
    #[error("the From address has the domain literal {0}, not a domain name")]
    DomainLiteral(String),
    /// The domain cannot be a DNS name (bad label, too long, IDNA error).
    #[error("the From domain {0:?} is not a valid domain name")]
    InvalidDomain(String),
}

/// The Author Domain of a message (its header section is enough).
pub fn author_domain(message: &[u8]) -> Result<AuthorDomain, AuthorDomainError> {
    let from: Vec<HeaderField> = header_fields(message)
        .into_iter()
        .filter(|f| f.name.eq_ignore_ascii_case("From"))
        .collect();
    match from.len() {
        0 => Err(AuthorDomainError::NoFrom),
        1 => author_domain_of(&from[0].value),
        n => Err(AuthorDomainError::SeveralFromFields(n)),
    }
}

/// The Author Domain from the value of a From header field.
pub fn author_domain_of(from_value: &str) -> Result<AuthorDomain, AuthorDomainError> {
    let list = parse_address_list(from_value).map_err(AuthorDomainError::Unparsable)?;
    let boxes = mailboxes(&list);
    match boxes.as_slice() {
        [] => Err(AuthorDomainError::NoAddress),
        [one] => {
            if one.is_domain_literal() {
                return Err(AuthorDomainError::DomainLiteral(one.domain.clone()));
            }
            let domain = normalize_domain(&one.domain)
                .ok_or_else(|| AuthorDomainError::InvalidDomain(one.domain.clone()))?;
            Ok(AuthorDomain {
                domain,
                mailbox: (*one).clone(),
            })
        }
        many => Err(AuthorDomainError::SeveralAddresses {
            count: many.len(),
            domains: many
                .iter()
                .map(|m| m.domain.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Longest Author Domain text accepted (far beyond any DNS name; bounds the work).
pub const MAX_DOMAIN_TEXT: usize = 1024;

/// A domain as DMARC compares and queries it: A-labels, lowercase, no trailing dot.
/// `None` if it has an empty label, characters no DNS query can carry, or an IDNA error.
///
/// Design decision: labels over 63 octets and names over 253 are kept. Such a name cannot
/// exist, so the tree walk skips the queries it cannot make and the name counts as
/// non-existent (RFC 9989 §3.2.13). An overlong subdomain of a protected domain thus
/// still meets that domain's `np`/`sp`/`p` instead of escaping DMARC with an error.
pub fn normalize_domain(domain: &str) -> Option<String> {
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(trimmed).ok()?
    };
    let ok = !ascii.is_empty()
        && ascii.len() <= MAX_DOMAIN_TEXT
        && ascii.split('.').all(|l| !l.is_empty())
        && ascii.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_author_domain() {
        let msg = b"Received: x\r\nFrom: \"Joe\" <joe@Mail.Example.COM.>\r\nTo: a@b\r\n\r\nFrom: body@evil.example\r\n";
        let author = author_domain(msg).unwrap();
        assert_eq!(author.domain, "mail.example.com");
        let folded = b"From: Joe\r\n <joe@example.com>\nSubject: x\n\n";
        assert_eq!(author_domain(folded).unwrap().domain, "example.com");
        let idn = "From: a@exämple.com\r\n\r\n";
        assert_eq!(
            author_domain(idn.as_bytes()).unwrap().domain,
            "xn--exmple-cua.com"
        );
    }

    #[test]
    fn refuses_no_single_author() {
        assert_eq!(
            author_domain(b"To: a@b.example\r\n\r\n"),
            Err(AuthorDomainError::NoFrom)
        );
        assert_eq!(
            author_domain(b"From: a@b.example\r\nfrom: c@d.example\r\n\r\n"),
            Err(AuthorDomainError::SeveralFromFields(2))
        );
        // The obsolete form with white space before the colon is a From field too.
        assert_eq!(
            author_domain(b"From : a@b.example\r\nFrom: c@d.example\r\n\r\n"),
            Err(AuthorDomainError::SeveralFromFields(2))
        );
        assert!(matches!(
            author_domain(b"From: a@b.example, c@d.example\r\n\r\n"),
            Err(AuthorDomainError::SeveralAddresses { count: 2, .. })
        ));
        assert!(matches!(
            author_domain(b"From: a@b.example, c@b.example\r\n\r\n"),
            Err(AuthorDomainError::SeveralAddresses { count: 2, .. })
        ));
        assert_eq!(
            author_domain(b"From: undisclosed:;\r\n\r\n"),
            Err(AuthorDomainError::NoAddress)
        );
        assert!(matches!(
            author_domain(b"From: a@[192.0.2.1]\r\n\r\n"),
            Err(AuthorDomainError::DomainLiteral(_))
        ));
        assert!(matches!(
            author_domain(b"From: <a@b.example\r\n\r\n"),
            Err(AuthorDomainError::Unparsable(_))
        ));
        assert!(matches!(
            author_domain(format!("From: a@{}example\r\n\r\n", "x.".repeat(600)).as_bytes()),
            Err(AuthorDomainError::InvalidDomain(_))
        ));
    }

    #[test]
    fn group_with_one_member_is_one_author() {
        let author = author_domain(b"From: Team: a@b.example;\r\n\r\n").unwrap();
        assert_eq!(author.domain, "b.example");
    }
}
