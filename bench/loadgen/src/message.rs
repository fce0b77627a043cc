//! The test message: a plain-text RFC 5322 message of a fixed size, with the header
//! fields a mail client writes (From, To, Subject, Date, Message-ID, MIME-Version,
//! Content-Type), so both servers sign and queue what they would see from a real user.
//!
//! Every message of a run has the same size; only the Message-ID, the Subject's
//! counter and the Date differ. Lines end in CRLF and none starts with a dot, so the
//! text goes on the wire as it is (RFC 5321 §4.5.2 dot-stuffing has nothing to do).

use std::fmt::Write as _;

/// The smallest message size accepted: the header fields plus one body line fit in it.
pub const MIN_SIZE: usize = 512;

/// Body text, repeated line after line (71 characters, no leading dot).
const BODY_LINE: &str = "Sendwell relay benchmark: the quick brown fox jumps over the lazy dog 0";

/// What the messages of a run have in common.
#[derive(Clone, Debug)]
pub struct MessageTemplate {
    /// The From address (the authenticated user).
    pub from: String,
    /// The To address.
    pub to: String,
    /// Total size of each message in octets, header and body, CRLFs included.
    pub size: usize,
    /// A token unique to the run, in every Message-ID.
    pub run: String,
}

impl MessageTemplate {
    /// Message number `seq` of session `session`, exactly `self.size` octets long
    /// (or the header plus one short body line if `size` is smaller than that).
    pub fn render(&self, session: usize, seq: usize) -> Vec<u8> {
        let domain = self.from.rsplit_once('@').map_or("invalid", |(_, d)| d);
        let date = chrono::Utc::now().to_rfc2822();
        let mut text = String::with_capacity(self.size + 128);
        // RFC 5322 §3.6: Date and From are required; Message-ID "SHOULD" be present.
        let _ = write!(
            text,
            "From: Bench Sender <{from}>\r\n\
             To: Bench Receiver <{to}>\r\n\
             Subject: Relay benchmark message {session}.{seq}\r\n\
             Date: {date}\r\n\
             Message-ID: <{run}.{session}.{seq}@{domain}>\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=us-ascii\r\n\
             Content-Transfer-Encoding: 7bit\r\n\
             \r\n",
            from = self.from,
            to = self.to,
            run = self.run,
        );
        // Body: whole lines while they leave room for a last line's CRLF, then one
        // shorter (possibly empty) line that makes the size exact.
        let line_len = BODY_LINE.len() + 2;
        while text.len() + line_len + 2 <= self.size {
            text.push_str(BODY_LINE);
            text.push_str("\r\n");
        }
        let last = self.size.saturating_sub(text.len() + 2);
        text.extend(BODY_LINE.chars().cycle().take(last));
        text.push_str("\r\n");
        text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(size: usize) -> MessageTemplate {
        MessageTemplate {
            from: "bench@sender.test".into(),
            to: "sink@receiver.test".into(),
            size,
            run: "r1".into(),
        }
    }

    #[test]
    fn exact_size_for_every_size_from_the_minimum() {
        for size in MIN_SIZE..MIN_SIZE + 200 {
            assert_eq!(template(size).render(3, 7).len(), size, "size {size}");
        }
        assert_eq!(template(2048).render(0, 0).len(), 2048);
        assert_eq!(template(100_000).render(0, 0).len(), 100_000);
    }

    #[test]
    fn headers_and_line_endings() {
        let m = String::from_utf8(template(2048).render(3, 7)).unwrap();
        let (head, body) = m.split_once("\r\n\r\n").unwrap();
        for field in [
            "From: ",
            "To: ",
            "Subject: ",
            "Date: ",
            "Message-ID: <r1.3.7@sender.test>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain",
        ] {
            assert!(
                head.lines().any(|l| l.starts_with(field)),
                "{field} missing"
            );
        }
        assert!(body.ends_with("\r\n"));
        // Only CRLF line endings, and no line a server would have to dot-unstuff.
        for line in m.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'));
            assert!(!line.starts_with('.'));
            assert!(line.len() <= 78);
        }
    }

    #[test]
    fn every_message_has_its_own_message_id() {
        let t = template(1024);
        let a = String::from_utf8(t.render(0, 1)).unwrap();
        let b = String::from_utf8(t.render(1, 0)).unwrap();
        let id = |m: &str| {
            m.lines()
                .find(|l| l.starts_with("Message-ID:"))
                .unwrap()
                .to_string()
        };
        assert_ne!(id(&a), id(&b));
    }
}
