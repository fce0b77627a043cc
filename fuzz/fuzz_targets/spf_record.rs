//! The SPF record parser (sendwell-spf, RFC 7208 §12): any bytes, no panic; a record
//! that parses writes back to text that parses to the same record, and that text is a
//! fixed point.
//!
//! Half the inputs are read raw; the other half are mapped onto the SPF alphabet (one
//! byte picks one token such as "include:", "%{ir}" or "/24"), so the fuzzer spends its
//! time in valid-looking records instead of in "does not start with v=spf1".
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_spf::SpfRecord;

const TOKENS: &[&str] = &[
    " ",
    "  ",
    "+",
    "-",
    "~",
    "?",
    "all",
    "include:",
    "a",
    "mx",
    "ptr",
    "ip4:",
    "ip6:",
    "exists:",
    "redirect=",
    "exp=",
    ":",
    "/",
    "//",
    "0",
    "24",
    "32",
    "33",
    "64",
    "128",
    "129",
    "192.0.2.1",
    "2001:db8::",
    "::ffff:1.2.3.4",
    "example.com",
    ".",
    "com",
    "_spf",
    "%{d}",
    "%{ir}",
    "%{l1r-}",
    "%{S}",
    "%{c}",
    "%{p}",
    "%%",
    "%_",
    "%-",
    "%",
    "{",
    "}",
    "=",
    "x-mod",
    "\t",
    "\"",
    "é",
    "1up",
    "v=spf1",
];

fn spf_text(data: &[u8]) -> Vec<u8> {
    let mut out = b"v=spf1 ".to_vec();
    for b in data {
        out.extend_from_slice(TOKENS[usize::from(*b) % TOKENS.len()].as_bytes());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let input = match data.split_first() {
        Some((flag, rest)) if flag & 1 == 1 => spf_text(rest),
        _ => data.to_vec(),
    };
    if let Ok(record) = SpfRecord::parse_bytes(&input) {
        let shown = record.to_string();
        let again: SpfRecord = shown.parse().expect("a parsed record's text parses");
        assert_eq!(again, record);
        assert_eq!(again.to_string(), shown);
        let _ = record.redirect();
        let _ = record.explanation();
        for d in record.directives() {
            let _ = d.mechanism.queries_dns();
        }
    }
});
