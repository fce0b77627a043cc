//! The server's header scan (sendwell-smtp-server `headers::scan`): any bytes as a
//! message, no panic; the From check's findings are normalised and agree with the
//! RFC 5322 parser it is built on (one From field: the same mailboxes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dmarc::address::{mailboxes, parse_address_list};
use sendwell_smtp_server::headers::{FromError, scan};

fuzz_target!(|data: &[u8]| {
    let s = scan(data);
    match &s.from {
        Ok(list) => {
            assert!(!list.is_empty());
            for a in list {
                assert!(a.address.ends_with(&format!("@{}", a.domain)));
                assert_eq!(a.domain.to_ascii_lowercase(), a.domain);
            }
        }
        Err(FromError::Several(n)) => assert!(*n >= 2),
        Err(_) => {}
    }
    // As a From value on its own: the scan finds what the parser finds.
    let value = String::from_utf8_lossy(data);
    if value.contains(['\r', '\n']) || value.len() > 4096 {
        return;
    }
    let message = format!("From: {value}\r\n\r\n");
    if let Ok(list) = parse_address_list(&value) {
        let parsed = mailboxes(&list);
        match scan(message.as_bytes()).from {
            Ok(found) => {
                assert_eq!(found.len(), parsed.len());
                for (f, p) in found.iter().zip(parsed) {
                    assert!(f.address.starts_with(&format!("{}@", p.local_part)));
                }
            }
            Err(e) => assert!(
                matches!(e, FromError::NoMailbox | FromError::InvalidDomain(_)),
                "{e:?} for {value:?}"
            ),
        }
    }
});
