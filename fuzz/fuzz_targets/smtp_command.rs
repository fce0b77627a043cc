//! Fuzz the SMTP command parser (RFC 5321 §4.1): it never panics, and whatever it
//! accepts is written back (`Display`, the wire form) as a line it parses to the
//! same command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_smtp::Command;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let wire = cmd.to_string();
        assert!(wire.ends_with("\r\n"));
        let again = Command::parse(wire.trim_end_matches("\r\n").as_bytes())
            .expect("the wire form of a parsed command parses");
        assert_eq!(again, cmd);
        // Rejections carry a well-formed reply.
    } else if let Err(e) = Command::parse(data) {
        let reply = e.reply().to_string();
        assert!(reply.ends_with("\r\n"));
    }
});
