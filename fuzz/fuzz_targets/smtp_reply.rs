//! Fuzz the reply parser (RFC 5321 §4.2, the delivery client's side): no panic, and a
//! reply it reads is written back as text that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_smtp::Reply;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((reply, used))) = Reply::parse(data) {
        assert!(used <= data.len());
        let wire = reply.to_string();
        if reply.lines.iter().all(|l| !l.contains(['\r', '\n'])) {
            let (again, n) = Reply::parse(wire.as_bytes())
                .expect("written reply parses")
                .expect("written reply is complete");
            assert_eq!(n, wire.len());
            assert_eq!(again.code, reply.code);
        }
    }
});
