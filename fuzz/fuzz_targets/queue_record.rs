//! Fuzz the queue's record scanner (what recovery reads after a crash): no panic, the
//! records and damaged stretches it reports tile the input without overlap, and every
//! record it returns checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_queue::record::{decode_at, scan};

fuzz_target!(|data: &[u8]| {
    let (records, damage) = scan(data);
    let mut spans: Vec<(usize, usize)> = records.iter().map(|r| (r.offset, r.len)).collect();
    spans.extend(damage.iter().map(|d| (d.offset, d.len)));
    spans.sort_unstable();
    let mut pos = 0;
    for (off, len) in spans {
        assert_eq!(off, pos);
        pos += len;
    }
    assert_eq!(pos, data.len());
    for r in records {
        assert!(decode_at(data, r.offset).is_ok());
    }
});
