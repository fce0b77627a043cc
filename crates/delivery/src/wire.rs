//! A message as it goes on the wire after DATA (RFC 5321 §4.5.2 and §2.3.8).
//!
//! ```text
//! RFC 5321 §4.5.2: Before sending a line of mail text, the SMTP client checks the first
//! character of the line. If it is a period, one additional period is inserted at the
//! beginning of the line.
//! RFC 5321 §2.3.8: [...] lines consist of zero or more data characters terminated by
//! the sequence ASCII character "CR" (hex value 0D) followed immediately by ASCII
//! character "LF" (hex value 0A).
//! ```
//!
//! Every line ending in the input, CRLF, bare LF or bare CR, leaves as CRLF, so no
//! receiver can read a different end of data than we meant (SMTP smuggling).

/// The DATA payload for `message`: CRLF line endings, leading dots doubled, and the
/// terminating `CRLF . CRLF`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                // A CR followed by LF is one line ending, not two.
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// True when the message holds octets above 127 (RFC 6152: then BODY=8BITMIME).
pub fn has_8bit(message: &[u8]) -> bool {
    !message.is_ascii()
}

/// What a receiver reading `wire` (the output of [`dot_stuff`]) gets back: the inverse,
/// used by tests to prove the encoding is exact.
pub fn dot_unstuff(wire: &[u8]) -> Option<Vec<u8>> {
    let body = wire.strip_suffix(b".\r\n")?;
    let mut out = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_prefix(b".").unwrap_or(line);
        out.extend_from_slice(line);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stuffs_and_normalizes() {
        assert_eq!(dot_stuff(b""), b".\r\n");
        assert_eq!(dot_stuff(b"a"), b"a\r\n.\r\n");
        assert_eq!(dot_stuff(b".a\r\n..b\r\n"), b"..a\r\n...b\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\n.\ny"), b"x\r\n..\r\ny\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\r.\r\ny"), b"x\r\n..\r\ny\r\n.\r\n");
        assert_eq!(dot_stuff(b"x\r\n\r\n.\r\n"), b"x\r\n\r\n..\r\n.\r\n");
        // Smuggling attempts inside the content never end DATA early.
        let smuggle = b"a\n.\nMAIL FROM:<x>\r\n";
        let wire = dot_stuff(smuggle);
        assert_eq!(wire.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 1);
    }

    proptest! {
        /// The only CRLF.CRLF in the output is the terminator, every CR is followed by LF
        /// and every LF preceded by CR, and unstuffing gives the CRLF-normalized input.
        #[test]
        fn exact_for_any_bytes(input in proptest::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()
        ], 0..200)) {
            let wire = dot_stuff(&input);
            let mut framed = b"\r\n".to_vec();
            framed.extend_from_slice(&wire);
            prop_assert_eq!(framed.windows(5).filter(|w| *w == b"\r\n.\r\n").count(), 1);
            prop_assert!(framed.ends_with(b"\r\n.\r\n"));
            for (i, &b) in wire.iter().enumerate() {
                if b == b'\r' { prop_assert_eq!(wire.get(i + 1), Some(&b'\n')); }
                if b == b'\n' { prop_assert!(i > 0 && wire[i - 1] == b'\r'); }
            }
            let back = dot_unstuff(&wire).unwrap();
            let mut normalized = Vec::new();
            let mut i = 0;
            while i < input.len() {
                match input[i] {
                    b'\r' => { normalized.extend_from_slice(b"\r\n"); if input.get(i + 1) == Some(&b'\n') { i += 1; } }
                    b'\n' => normalized.extend_from_slice(b"\r\n"),
                    b => normalized.push(b),
                }
                i += 1;
            }
            if !normalized.is_empty() && !normalized.ends_with(b"\r\n") { normalized.extend_from_slice(b"\r\n"); }
            prop_assert_eq!(back, normalized);
        }
    }
}
