//! Compose a message for `sendwell send` (RFC 5322, MIME RFC 2045-2047).
//!
//! A body becomes a complete text/plain message with the header fields receivers
//! expect (From, To, Subject, Date, Message-ID, MIME-Version); a file that is already a
//! message keeps its header and gets Date and Message-ID only when they are missing
//! (RFC 6409 §8.2, §8.3). Line endings become CRLF; lines over 998 octets, which RFC
//! 5322 §2.1.1 forbids, are carried by quoted-printable.

use base64::Engine;

/// What the user gave.
pub enum Content {
    /// Text for the body.
    Body(Vec<u8>),
    /// A whole message: header fields, an empty line, the body.
    Message(Vec<u8>),
}

impl Content {
    /// A file is a whole message when it starts with a header field and has the empty
    /// line that ends the header section.
    pub fn detect(bytes: Vec<u8>) -> Content {
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let looks_like_field = first
            .iter()
            .position(|&b| b == b':')
            .is_some_and(|i| i > 0 && first[..i].iter().all(|b| b.is_ascii_graphic()));
        let has_end =
            bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(4).any(|w| w == b"\r\n\r\n");
        if looks_like_field && has_end {
            Content::Message(bytes)
        } else {
            Content::Body(bytes)
        }
    }
}

/// The message and its Message-ID.
pub struct Composed {
    /// The message, CRLF line endings.
    pub bytes: Vec<u8>,
    /// The Message-ID field's value.
    pub message_id: String,
}

fn crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 40);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if input.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 2047 §4.1 B encoding, split so each encoded-word stays within 75 characters.
fn encode_word(text: &str) -> String {
    if text.is_ascii() && !text.contains("=?") {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 octets of UTF-8 → 60 base64 characters + 12 of framing = 72.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// RFC 2045 §6.7 quoted-printable, CRLF line endings kept as line breaks.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 11 / 10);
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        if n > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece_len = if literal { 1 } else { 3 };
            // Rule 5: lines of at most 76 characters, soft breaks with "=".
            if width + piece_len > 75 {
                out.extend_from_slice(b"=\r\n");
                width = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            width += piece_len;
        }
    }
    out
}

fn has_field(header: &[u8], name: &str) -> bool {
    header.split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()] == b':'
    })
}

/// Build the message.
pub fn compose(from: &str, to: &[String], subject: &str, content: Content) -> Composed {
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let message_id = format!(
        "<{}.{}@{domain}>",
        chrono::Utc::now().format("%Y%m%d%H%M%S"),
        random_hex(8)
    );
    let date = chrono::Utc::now().to_rfc2822();
    match content {
        Content::Message(bytes) => {
            let bytes = crlf(&bytes);
            let end = bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|i| i + 2)
                .unwrap_or(bytes.len());
            let header = &bytes[..end];
            let mut out = Vec::with_capacity(bytes.len() + 128);
            let mut id = message_id.clone();
            if !has_field(header, "Date") {
                out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
            }
            if has_field(header, "Message-ID") {
                id = header
                    .split(|&b| b == b'\n')
                    .find(|l| l.len() > 11 && l[..11].eq_ignore_ascii_case(b"message-id:"))
                    .map(|l| String::from_utf8_lossy(&l[11..]).trim().to_string())
                    .unwrap_or(id);
            } else {
                out.extend_from_slice(format!("Message-ID: {message_id}\r\n").as_bytes());
            }
            out.extend_from_slice(&bytes);
            Composed {
                bytes: out,
                message_id: id,
            }
        }
        Content::Body(body) => {
            let body = crlf(&body);
            let long_lines = body.split(|&b| b == b'\n').any(|l| l.len() > 998);
            let (encoding, body) = if long_lines {
                ("quoted-printable", quoted_printable(&body))
            } else if body.is_ascii() {
                ("7bit", body)
            } else {
                ("8bit", body)
            };
            let mut out = String::new();
            out.push_str(&format!("From: {from}\r\n"));
            out.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
            out.push_str(&format!("Subject: {}\r\n", encode_word(subject)));
            out.push_str(&format!("Date: {date}\r\n"));
            out.push_str(&format!("Message-ID: {message_id}\r\n"));
            out.push_str("MIME-Version: 1.0\r\n");
            out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
            out.push_str(&format!("Content-Transfer-Encoding: {encoding}\r\n\r\n"));
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            if !bytes.ends_with(b"\r\n") {
                bytes.extend_from_slice(b"\r\n");
            }
            Composed { bytes, message_id }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_a_complete_message() {
        let c = compose(
            "alice@example.org",
            &["bob@example.net".into()],
            "Grüße",
            Content::Body(b"line one\nline two".to_vec()),
        );
        let text = String::from_utf8(c.bytes).unwrap();
        assert!(
            text.starts_with(
                "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: =?UTF-8?B?"
            )
        );
        assert!(text.contains("Message-ID: <"));
        assert!(text.contains("@example.org>"));
        assert!(text.ends_with("\r\n\r\nline one\r\nline two\r\n"));
        assert!(text.contains("Content-Transfer-Encoding: 7bit"));
    }

    #[test]
    fn long_lines_become_quoted_printable() {
        let body = "é".repeat(600).into_bytes();
        let c = compose(
            "a@b.example",
            &["c@d.example".into()],
            "x",
            Content::Body(body),
        );
        let text = String::from_utf8(c.bytes).unwrap();
        assert!(text.contains("quoted-printable"));
        assert!(text.lines().all(|l| l.len() <= 998));
        assert!(text.is_ascii());
    }

    #[test]
    fn a_whole_message_keeps_its_header() {
        let raw =
            b"From: x@y.example\nSubject: mine\nMessage-ID: <keep@y.example>\n\nbody\n".to_vec();
        let Content::Message(bytes) = Content::detect(raw) else {
            panic!("detected as a body");
        };
        let c = compose("x@y.example", &[], "ignored", Content::Message(bytes));
        assert_eq!(c.message_id, "<keep@y.example>");
        let text = String::from_utf8(c.bytes).unwrap();
        assert!(text.starts_with("Date: "));
        assert!(text.contains("Subject: mine\r\n"));
        assert!(!text.contains("ignored"));
        assert!(matches!(
            Content::detect(b"just text\n".to_vec()),
            Content::Body(_)
        ));
    }

    #[test]
    fn qp_is_reversible_and_bounded() {
        let input = b"a=b \tc\xff".repeat(40);
        let encoded = quoted_printable(&input);
        assert!(encoded.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        assert!(encoded.is_ascii());
    }
}
