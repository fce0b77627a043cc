//! The DMARC record parser and linter (sendwell-dmarc `parse`): any text, no panic; a
//! record that parses writes back to text that parses to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_dmarc::{DmarcRecord, lint};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let l = lint(&text);
    if let Ok(record) = l.record {
        let again: DmarcRecord = record
            .to_string()
            .parse()
            .expect("a parsed record's text parses");
        assert_eq!(again, record);
        let _ = sendwell_dmarc::check::summarize(&record);
        for uri in record.rua().iter().chain(record.ruf()) {
            let _ = uri.problem();
            let _ = uri.destination_host();
        }
    }
});
