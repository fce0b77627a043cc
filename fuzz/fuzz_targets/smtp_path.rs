//! Fuzz the path and mailbox parsers (RFC 5321 §4.1.2, RFC 6531 §3.3): no panic, and
//! a mailbox that parses is written back as text that parses to the same mailbox.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_smtp::{ForwardPath, Mailbox, ReversePath};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Mailbox::parse(s) {
        let again = Mailbox::parse(&m.to_string()).expect("written mailbox parses");
        assert_eq!(again, m);
        let _ = m.local_part.value();
    }
    if let Ok((p, rest)) = ForwardPath::parse_prefix(s) {
        assert!(s.ends_with(rest));
        let written = p.to_string();
        let (again, tail) = ForwardPath::parse_prefix(&written).expect("written path parses");
        assert!(tail.is_empty());
        assert_eq!(again, p);
    }
    if let Ok((p, _)) = ReversePath::parse_prefix(s) {
        let written = p.to_string();
        let (again, _) = ReversePath::parse_prefix(&written).expect("written path parses");
        assert_eq!(again, p);
    }
});
