//! The DKIM key record parser (RFC 6376 §3.6.1) and the key inside it (DER, RFC 8463
//! raw Ed25519), plus the record checker: any bytes, no panic; a record that parses
//! re-serialises to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dkim::{KeyRecord, PublicKey, check_record_text};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = KeyRecord::parse(data) {
        let _ = PublicKey::from_record(&record).map(|k| k.bits());
        let again =
            KeyRecord::parse(record.to_string().as_bytes()).expect("a written record parses");
        assert_eq!(again, record);
    }
    let _ = check_record_text("s._domainkey.example.com", &[data.to_vec()]);
});
