//! SMTP service extensions, as announced in the EHLO reply (RFC 5321 §4.1.1.1:
//! `ehlo-line = ehlo-keyword *( SP ehlo-param )`).

use std::fmt;

use crate::sasl::Mechanism;

/// One EHLO keyword line. `Display` gives the line's text (without code and CRLF);
/// [`Extension::parse`] reads one from a server's reply (the delivery client's side).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// RFC 2920: the client may send several commands before reading replies.
    Pipelining,
    /// RFC 6152: 8-bit message bodies.
    EightBitMime,
    /// RFC 6531: UTF-8 in addresses and headers.
    SmtpUtf8,
    /// RFC 1870: the largest message accepted, in octets (`None`: not said).
    Size(Option<u64>),
    /// RFC 2034: replies carry RFC 3463 codes.
    EnhancedStatusCodes,
    /// RFC 3207: TLS can be started.
    StartTls,
    /// RFC 4954: the SASL mechanisms offered.
    Auth(Vec<Mechanism>),
    /// RFC 3030: BDAT.
    Chunking,
    /// Any other keyword with its parameters, as sent.
    Other(String),
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Extension::Pipelining => f.write_str("PIPELINING"),
            Extension::EightBitMime => f.write_str("8BITMIME"),
            Extension::SmtpUtf8 => f.write_str("SMTPUTF8"),
            Extension::Size(None) => f.write_str("SIZE"),
            Extension::Size(Some(n)) => write!(f, "SIZE {n}"),
            Extension::EnhancedStatusCodes => f.write_str("ENHANCEDSTATUSCODES"),
            Extension::StartTls => f.write_str("STARTTLS"),
            Extension::Auth(mechs) => {
                f.write_str("AUTH")?;
                for m in mechs {
                    write!(f, " {m}")?;
                }
                Ok(())
            }
            Extension::Chunking => f.write_str("CHUNKING"),
            Extension::Other(s) => f.write_str(s),
        }
    }
}

impl Extension {
    /// Read one EHLO line's text (after `250-` / `250 `). Keywords are
    /// case-insensitive (RFC 5321 §2.4).
    pub fn parse(line: &str) -> Extension {
        let mut words = line.split(' ').filter(|w| !w.is_empty());
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        match keyword.as_str() {
            "PIPELINING" => Extension::Pipelining,
            "8BITMIME" => Extension::EightBitMime,
            "SMTPUTF8" => Extension::SmtpUtf8,
            "SIZE" => Extension::Size(words.next().and_then(|n| n.parse().ok())),
            "ENHANCEDSTATUSCODES" => Extension::EnhancedStatusCodes,
            "STARTTLS" => Extension::StartTls,
            "CHUNKING" => Extension::Chunking,
            "AUTH" => Extension::Auth(words.filter_map(|w| w.parse().ok()).collect()),
            _ => Extension::Other(line.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for e in [
            Extension::Pipelining,
            Extension::Size(Some(10)),
            Extension::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            Extension::Chunking,
        ] {
            assert_eq!(Extension::parse(&e.to_string()), e);
        }
    }
}
