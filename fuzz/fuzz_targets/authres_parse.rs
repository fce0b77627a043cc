//! The Authentication-Results parser (sendwell-auth-results `parse`): any text, no panic;
//! a header that parses writes back to a header with the same results.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_auth_results::parse_header;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(h) = parse_header(&text) {
        let again = parse_header(&h.to_string()).expect("a written header parses");
        assert_eq!(again.results.len(), h.results.len());
        for (a, b) in again.results.iter().zip(&h.results) {
            assert_eq!((&a.method, &a.result), (&b.method, &b.result));
            assert_eq!(a.properties.len(), b.properties.len());
        }
    }
});
