//! Compose a message for `sendwell send` (RFC 5322, MIME RFC 2045-2047).
//!
//! A body becomes a complete text/plain message with the header fields receivers
//! expect (From, To, Subject, Date, Message-ID, MIME-Version); a file that is already a
//! message keeps its header and gets Date and Message-ID only when they are missing
//! (RFC 6409 §8.2, §8.3). Line endings become CRLF; lines over 998 octets, which RFC
//! 5322 §2.1.1 forbids, are carried by quoted-printable.
//!
//! Design decision: what goes into the header comes from the command line, so it is
//! typed. The addresses are [`Mailbox`]es (RFC 5321 §4.1.2, parsed by `sendwell_smtp`),
//! which hold no CR, LF or other control character; the subject is a [`Subject`], which
//! holds no line break or control character either. A caller therefore cannot end a field and start
//! another (header injection), and the same checked addresses go into MAIL FROM and RCPT
//! TO, where an unchecked one could add SMTP commands.

use base64::Engine;
use sendwell_smtp::Mailbox;

/// Why text cannot be a Subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectError {
    /// RFC 5322 §2.2: a field body holds no CR or LF except in folding, and §3.2.5
    /// `unstructured` text no control character but HTAB. A line break in a subject would
    /// end the field and let the rest be read as another header field.
    ControlCharacter(char),
}

impl std::fmt::Display for SubjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectError::ControlCharacter(c) => write!(
                f,
                "the subject contains a line break or control character ({c:?}), which would \
                 end the Subject field (RFC 5322 §2.2); give it on one line"
            ),
        }
    }
}

impl std::error::Error for SubjectError {}

/// The text of the Subject field (RFC 5322 §3.6.5 `unstructured`): one line, no control
/// characters but HTAB. Non-ASCII text is written as RFC 2047 encoded-words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    /// Check the text.
    pub fn parse(text: &str) -> Result<Subject, SubjectError> {
        // RFC 5322 §2.2 and §3.2.5: no CR, LF, NUL or other control characters.
        match text.chars().find(|&c| c.is_control() && c != '\t') {
            Some(c) => Err(SubjectError::ControlCharacter(c)),
            None => Ok(Subject(text.to_string())),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// The longest subject written as it is: with "Subject: " the line stays within the 998
/// octets of RFC 5322 §2.1.1; a longer one is carried by folded encoded-words.
const MAX_PLAIN_SUBJECT: usize = 998 - "Subject: ".len();

/// RFC 2047 §4.1 B encoding, split so each encoded-word stays within 75 characters.
fn encode_word(text: &str) -> String {
    if text.is_ascii() && !text.contains("=?") && text.len() <= MAX_PLAIN_SUBJECT {
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

/// True when the message's header section has a DKIM-Signature field (RFC 6376 §3.5):
/// a whole message given with `--file` may come signed already.
pub fn has_dkim_signature(message: &[u8]) -> bool {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .unwrap_or(message.len());
    has_field(&message[..end], "DKIM-Signature")
}

/// Build the message.
pub fn compose(from: &Mailbox, to: &[Mailbox], subject: &Subject, content: Content) -> Composed {
    let domain = from.domain.to_string();
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
            // RFC 5322 §3.4.1: a Mailbox (RFC 5321 §4.1.2) is also a valid addr-spec.
            out.push_str(&format!("From: {from}\r\n"));
            let to: Vec<String> = to.iter().map(Mailbox::to_string).collect();
            out.push_str(&format!("To: {}\r\n", to.join(",\r\n ")));
            out.push_str(&format!("Subject: {}\r\n", encode_word(subject.as_str())));
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

    fn mailbox(s: &str) -> Mailbox {
        Mailbox::parse(s).unwrap()
    }

    fn header_of(bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes).into_owned();
        text.split("\r\n\r\n").next().unwrap().to_string()
    }

    #[test]
    fn a_subject_with_a_line_break_is_refused() {
        for text in [
            "hi\r\nBcc: victim@evil.test",
            "hi\nX-Injected: 1",
            "hi\rX-Injected: 1",
            "nul\0byte",
            "c1\u{85}next line",
        ] {
            assert!(
                matches!(Subject::parse(text), Err(SubjectError::ControlCharacter(_))),
                "{text:?}"
            );
        }
        assert_eq!(Subject::parse("tab\tok").unwrap().as_str(), "tab\tok");
    }

    #[test]
    fn a_signature_is_found_in_the_header_only() {
        assert!(has_dkim_signature(
            b"DKIM-Signature: v=1; a=rsa-sha256\r\nFrom: a@b.example\r\n\r\nbody\r\n"
        ));
        assert!(has_dkim_signature(
            b"From: a@b.example\r\ndkim-signature: v=1\r\n\r\nbody\r\n"
        ));
        assert!(!has_dkim_signature(
            b"From: a@b.example\r\n\r\nDKIM-Signature: v=1\r\n"
        ));
    }

    #[test]
    fn every_header_line_is_a_field_or_a_fold() {
        // Whatever the subject, the header is made of fields and folds only, within
        // 998 octets, and it has exactly one Subject field.
        for text in [
            "plain",
            "Grüße aus Köln",
            "=?UTF-8?B?Zm9v?=",
            &"x".repeat(2000),
        ] {
            let c = compose(
                &mailbox("a@b.example"),
                &[mailbox("c@d.example"), mailbox("\"e f\"@g.example")],
                &Subject::parse(text).unwrap(),
                Content::Body(b"body".to_vec()),
            );
            let header = header_of(&c.bytes);
            for line in header.split("\r\n") {
                assert!(line.len() <= 998, "{line}");
                let fold = line.starts_with(' ') || line.starts_with('\t');
                let field = line.split_once(':').is_some_and(|(name, _)| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())
                });
                assert!(fold || field, "{line:?} in {header}");
            }
            assert_eq!(header.matches("\r\nSubject:").count(), 1, "{header}");
        }
    }

    #[test]
    fn composes_a_complete_message() {
        let c = compose(
            &mailbox("alice@example.org"),
            &[mailbox("bob@example.net")],
            &Subject::parse("Grüße").unwrap(),
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
            &mailbox("a@b.example"),
            &[mailbox("c@d.example")],
            &Subject::parse("x").unwrap(),
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
        let c = compose(
            &mailbox("x@y.example"),
            &[],
            &Subject::parse("ignored").unwrap(),
            Content::Message(bytes),
        );
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
