//! Envelope addresses as the client writes them into `MAIL FROM:<...>` and
//! `RCPT TO:<...>` (RFC 5321 §4.1.2, with the UTF-8 forms of RFC 6531 §3.3).
//!
//! The client is handed plain strings (from the queue, or from `sendwell send --to`).
//! Written as they are, a CR LF inside one would end the command and start another of
//! the caller's choosing (`a@x>\r\nRCPT TO:<victim@evil>` adds a recipient), and a `>`
//! would end the path early. So every address is parsed with the grammar the server
//! side uses ([`sendwell_smtp::Mailbox`]) before anything is written, and one that does
//! not parse is never written: its recipient (or, for the reverse-path, the whole
//! message) fails for good.

use sendwell_smtp::{Mailbox, PathError};

/// Why an address cannot be written in an SMTP command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// A control character (CR, LF, NUL, DEL, a C1 control...): never part of a
    /// mailbox (RFC 5321 §4.1.2 `atext`/`qtextSMTP`; RFC 6531 §3.3 admits only
    /// UTF-8 text, and we refuse its C1 controls too).
    #[error("the address contains a control character (RFC 5321 §4.1.2)")]
    ControlCharacter,
    /// `<` or `>`: they delimit the path.
    #[error("the address contains < or > (RFC 5321 §4.1.2 Path)")]
    AngleBracket,
    /// Not `Local-part "@" ( Domain / address-literal )`.
    #[error("the address is not a mailbox: {0}")]
    Syntax(#[source] PathError),
}

/// Check that `address` (without angle brackets) is a mailbox that can be written as a
/// path (RFC 5321 §4.1.2 `Mailbox`). The null reverse-path is the empty string and is
/// the caller's business (see [`check_reverse_path`]).
pub fn check_address(address: &str) -> Result<(), AddressError> {
    // RFC 5321 §4.1.2: no control character appears in any production of Mailbox.
    // Checked first and on its own, so the refusal does not depend on the parser's
    // handling of non-ASCII text (RFC 6531 `UTF8-non-ascii` includes U+0080-U+009F).
    if address.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    // RFC 5321 §4.1.2 `Path = "<" [ A-d-l ":" ] Mailbox ">"`. `qtextSMTP` does allow
    // `<` and `>` inside a Quoted-string, but receivers that end the path at the first
    // `>` are common and no real mailbox needs them: refused (a deliberate deviation).
    if address.contains(['<', '>']) {
        return Err(AddressError::AngleBracket);
    }
    Mailbox::parse(address)
        .map(|_| ())
        .map_err(AddressError::Syntax)
}

/// [`check_address`] for the reverse-path: empty is the null reverse-path `<>` of a
/// bounce (RFC 5321 §4.5.5), which is valid.
pub fn check_reverse_path(address: &str) -> Result<(), AddressError> {
    if address.is_empty() {
        Ok(())
    } else {
        check_address(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_pass() {
        for ok in [
            "bob@example.net",
            "first.last+tag@sub.example.net",
            "\"john doe\"@example.net",
            "user@[192.0.2.1]",
            "jöran@exämple.net",
        ] {
            assert_eq!(check_address(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_reverse_path(""), Ok(()));
    }

    #[test]
    fn injection_and_garbage_are_refused() {
        assert_eq!(
            check_address("a@x>\r\nRCPT TO:<victim@evil>"),
            Err(AddressError::ControlCharacter)
        );
        assert_eq!(check_address("a@x\n"), Err(AddressError::ControlCharacter));
        assert_eq!(
            check_address("a\u{85}b@x.example"),
            Err(AddressError::ControlCharacter)
        );
        assert_eq!(
            check_address("a@x.example> SIZE=1"),
            Err(AddressError::AngleBracket)
        );
        assert_eq!(
            check_address("\"a>b\"@x.example"),
            Err(AddressError::AngleBracket)
        );
        assert!(matches!(
            check_address("no-domain"),
            Err(AddressError::Syntax(_))
        ));
        assert!(matches!(
            check_address("a b@x.example"),
            Err(AddressError::Syntax(_))
        ));
        assert!(matches!(
            check_reverse_path("<>"),
            Err(AddressError::AngleBracket)
        ));
    }

    proptest! {
        /// Whatever passes can be written as one command line: no CR, LF or other
        /// control, no angle bracket.
        #[test]
        fn what_passes_is_one_clean_path(s in "[a-z\\r\\n<>@. \"\\x00-\\x1f\\u{80}-\\u{9f}é]{0,24}") {
            if check_address(&s).is_ok() {
                prop_assert!(!s.chars().any(|c| c.is_control() || c == '<' || c == '>'));
                prop_assert!(s.contains('@'));
            }
        }
    }
}
