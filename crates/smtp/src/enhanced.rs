//! Enhanced mail system status codes (RFC 3463; the registry is RFC 5248; announced
//! with ENHANCEDSTATUSCODES, RFC 2034).
//!
//! ```text
//! status-code = class "." subject "." detail
//! class = "2" / "4" / "5"
//! subject = 1*3digit
//! detail = 1*3digit
//! ```
//!
//! The constants are named `S<class>_<subject>_<detail>_<MEANING>` after the RFC 3463
//! text, so `S5_7_1_DELIVERY_NOT_AUTHORIZED` reads as the RFC does.

use std::fmt;
use std::str::FromStr;

/// An RFC 3463 status code, e.g. `5.7.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedStatusCode {
    class: u8,
    subject: u16,
    detail: u16,
}

#[allow(missing_docs)] // each constant's meaning is its name; the doc gives the source
impl EnhancedStatusCode {
    /// RFC 3463 §3.1: "Other undefined Status" (success).
    pub const S2_0_0_OK: Self = Self::known(2, 0, 0);
    /// RFC 3463 §3.2 X.1.0: "Other address status" (sender accepted).
    pub const S2_1_0_ORIGINATOR_OK: Self = Self::known(2, 1, 0);
    /// RFC 3463 §3.2 X.1.5: "Destination address valid".
    pub const S2_1_5_DESTINATION_VALID: Self = Self::known(2, 1, 5);
    /// RFC 3463 §3.7 X.6.0: "Other or undefined media error" (message accepted).
    pub const S2_6_0_MESSAGE_ACCEPTED: Self = Self::known(2, 6, 0);
    /// RFC 4954 §6: "2.7.0 Authentication Succeeded".
    pub const S2_7_0_AUTH_SUCCEEDED: Self = Self::known(2, 7, 0);
    /// RFC 3463 §3.5 X.3.0: "Other or undefined mail system status".
    pub const S4_3_0_MAIL_SYSTEM: Self = Self::known(4, 3, 0);
    /// RFC 3463 §3.5 X.3.1: "Mail system full".
    pub const S4_3_1_MAIL_SYSTEM_FULL: Self = Self::known(4, 3, 1);
    /// RFC 3463 §3.6 X.4.2: "Bad connection" (used for timeouts).
    pub const S4_4_2_BAD_CONNECTION: Self = Self::known(4, 4, 2);
    /// RFC 3463 §3.6 X.4.5: "System congestion".
    pub const S4_4_5_SYSTEM_CONGESTION: Self = Self::known(4, 4, 5);
    /// RFC 3463 §3.6 X.5.3: "Too many recipients" (RFC 5321 §4.5.3.1.10 pairs it with 452).
    pub const S4_5_3_TOO_MANY_RECIPIENTS: Self = Self::known(4, 5, 3);
    /// RFC 3463 §3.8 X.7.0: "Other or undefined security status" (temporary).
    pub const S4_7_0_SECURITY: Self = Self::known(4, 7, 0);
    /// RFC 3463 §3.1: "Other undefined Status" (permanent).
    pub const S5_0_0_PERMANENT: Self = Self::known(5, 0, 0);
    /// RFC 3463 §3.2 X.1.1: "Bad destination mailbox address".
    pub const S5_1_1_BAD_DESTINATION_MAILBOX: Self = Self::known(5, 1, 1);
    /// RFC 3463 §3.2 X.1.3: "Bad destination mailbox address syntax".
    pub const S5_1_3_BAD_DESTINATION_SYNTAX: Self = Self::known(5, 1, 3);
    /// RFC 3463 §3.2 X.1.7: "Bad sender's mailbox address syntax".
    pub const S5_1_7_BAD_SENDER_SYNTAX: Self = Self::known(5, 1, 7);
    /// RFC 3463 §3.3 X.2.3: "Message length exceeds administrative limit".
    pub const S5_2_3_MESSAGE_TOO_LONG: Self = Self::known(5, 2, 3);
    /// RFC 3463 §3.5 X.3.4: "Message too big for system".
    pub const S5_3_4_MESSAGE_TOO_BIG: Self = Self::known(5, 3, 4);
    /// RFC 3463 §3.6 X.5.1: "Invalid command".
    pub const S5_5_1_INVALID_COMMAND: Self = Self::known(5, 5, 1);
    /// RFC 3463 §3.6 X.5.2: "Syntax error".
    pub const S5_5_2_SYNTAX_ERROR: Self = Self::known(5, 5, 2);
    /// RFC 3463 §3.6 X.5.3: "Too many recipients" (permanent form).
    pub const S5_5_3_TOO_MANY_RECIPIENTS: Self = Self::known(5, 5, 3);
    /// RFC 3463 §3.6 X.5.4: "Invalid command arguments".
    pub const S5_5_4_INVALID_ARGUMENTS: Self = Self::known(5, 5, 4);
    /// RFC 4954 §6: "5.5.6 Authentication Exchange line is too long".
    pub const S5_5_6_AUTH_LINE_TOO_LONG: Self = Self::known(5, 5, 6);
    /// RFC 3463 §3.7 X.6.0: "Other or undefined media error" (bare CR or LF in DATA).
    pub const S5_6_0_MEDIA_ERROR: Self = Self::known(5, 6, 0);
    /// RFC 6531 §3.5: "5.6.7 Non-ASCII addresses not permitted for that sender/recipient".
    pub const S5_6_7_NON_ASCII_ADDRESS: Self = Self::known(5, 6, 7);
    /// RFC 3463 §3.8 X.7.0: "Other or undefined security status" (RFC 4954 §6 uses it
    /// for "Authentication required", RFC 3207 §4 for "Must issue a STARTTLS command first").
    pub const S5_7_0_SECURITY: Self = Self::known(5, 7, 0);
    /// RFC 3463 §3.8 X.7.1: "Delivery not authorized, message refused" (relay denied,
    /// sender not allowed).
    pub const S5_7_1_DELIVERY_NOT_AUTHORIZED: Self = Self::known(5, 7, 1);
    /// RFC 4954 §6: "5.7.8 Authentication credentials invalid".
    pub const S5_7_8_AUTH_CREDENTIALS_INVALID: Self = Self::known(5, 7, 8);
    /// RFC 4954 §6: "5.7.9 Authentication mechanism is too weak".
    pub const S5_7_9_AUTH_MECHANISM_TOO_WEAK: Self = Self::known(5, 7, 9);
    /// RFC 4954 §6: "5.7.11 Encryption required for requested authentication mechanism".
    pub const S5_7_11_ENCRYPTION_REQUIRED: Self = Self::known(5, 7, 11);
}

/// Text that is not an enhanced status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an enhanced status code (RFC 3463 §2: class.subject.detail)")]
pub struct InvalidEnhancedStatusCode;

impl EnhancedStatusCode {
    const fn known(class: u8, subject: u16, detail: u16) -> Self {
        EnhancedStatusCode {
            class,
            subject,
            detail,
        }
    }

    /// A code from its three parts, checked against RFC 3463 §2 (class 2, 4 or 5;
    /// subject and detail of at most three digits).
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<Self, InvalidEnhancedStatusCode> {
        if matches!(class, 2 | 4 | 5) && subject <= 999 && detail <= 999 {
            Ok(Self::known(class, subject, detail))
        } else {
            Err(InvalidEnhancedStatusCode)
        }
    }

    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub fn class(self) -> u16 {
        u16::from(self.class)
    }

    /// The subject (RFC 3463 §3: 1 addressing, 2 mailbox, 3 mail system, 4 network,
    /// 5 protocol, 6 content, 7 security).
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail within the subject.
    pub fn detail(self) -> u16 {
        self.detail
    }

    /// The same subject and detail with another class: RFC 3463 codes come in 4.x.y
    /// and 5.x.y pairs, and a reply's class must match its reply code's first digit.
    pub fn with_class(self, class: u8) -> Self {
        Self::known(class, self.subject, self.detail)
    }
}

impl fmt::Display for EnhancedStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl FromStr for EnhancedStatusCode {
    type Err = InvalidEnhancedStatusCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let mut next = || -> Result<u16, InvalidEnhancedStatusCode> {
            let p = parts.next().ok_or(InvalidEnhancedStatusCode)?;
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(InvalidEnhancedStatusCode);
            }
            p.parse().map_err(|_| InvalidEnhancedStatusCode)
        };
        let class = next()?;
        let subject = next()?;
        let detail = next()?;
        if parts.next().is_some() || class > 9 {
            return Err(InvalidEnhancedStatusCode);
        }
        Self::new(class as u8, subject, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in ["2.0.0", "5.7.1", "4.5.3", "5.7.11", "5.123.999"] {
            assert_eq!(s.parse::<EnhancedStatusCode>().unwrap().to_string(), s);
        }
        for s in ["3.0.0", "5.7", "5.7.1.1", "5.1000.1", "a.b.c", "", "5..1"] {
            assert!(s.parse::<EnhancedStatusCode>().is_err(), "{s}");
        }
    }
}
