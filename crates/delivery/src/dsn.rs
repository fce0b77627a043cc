//! Delivery status notifications (RFC 3464), in a multipart/report (RFC 6522).
//!
//! When a recipient fails for good, or the retry lifetime runs out, the envelope sender
//! gets one message that says which recipients failed, why (the remote server's reply,
//! quoted as `Diagnostic-Code: smtp; ...`) and which message it was (its header, as
//! `text/rfc822-headers`; the body is not sent back).
//!
//! Loop rules (RFC 5321 §4.5.5, §6.1): a notification is never sent for a message whose
//! reverse-path is null, and is itself sent with a null reverse-path, so a notification
//! that cannot be delivered is dropped rather than answered. [`build`] returns `None`
//! for a null sender.

use chrono::{DateTime, Utc};

/// RFC 3464 §2.3.3 Action field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The message could not be delivered and will not be retried.
    Failed,
    /// Not delivered yet; still being retried.
    Delayed,
}

impl Action {
    fn token(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
        }
    }
}

/// One recipient in a notification (RFC 3464 §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The recipient address (`Final-Recipient`).
    pub recipient: String,
    /// `Action`.
    pub action: Action,
    /// RFC 3463 status, e.g. `5.1.1`.
    pub status: String,
    /// A remote server's reply, verbatim on one line, nothing added: RFC 3464 §2.3.6
    /// `Diagnostic-Code: smtp; <reply>`. `None` when no server said anything about the
    /// recipient (a null MX, no connection): then `reason` goes there as an
    /// `X-Sendwell` diagnostic.
    pub diagnostic: Option<String>,
    /// Our own explanation, for the human-readable part (and the diagnostic when
    /// there is no remote reply).
    pub reason: String,
    /// The server that gave `diagnostic` (RFC 3464 §2.3.5 `Remote-MTA: dns; ...`).
    pub remote_mta: Option<String>,
    /// When the last attempt was made.
    pub last_attempt: Option<DateTime<Utc>>,
    /// For `delayed`: until when retries continue (`Will-Retry-Until`).
    pub will_retry_until: Option<DateTime<Utc>>,
}

/// Everything a notification says.
#[derive(Clone, Debug)]
pub struct Dsn<'a> {
    /// This server's host name (`Reporting-MTA: dns; ...`).
    pub reporting_mta: &'a str,
    /// The envelope sender of the original message: the notification's recipient.
    pub to: &'a str,
    /// When the original message arrived (`Arrival-Date`).
    pub arrival: DateTime<Utc>,
    /// The original message's queue id (`X-Postfix-Queue-ID`-like, for the reader).
    pub queue_id: &'a str,
    /// The recipients reported on.
    pub recipients: &'a [DsnRecipient],
    /// The original message (its header is returned).
    pub original: &'a [u8],
}

/// A name or address written on one line (never folded): printable ASCII, at most 255
/// characters (no mail address, host name or status is longer), so no line nears the
/// 998-octet limit.
fn name(s: &str) -> String {
    clean(s).chars().take(255).collect()
}

/// The most of one text (a reply, a reason) a notification carries; [`folded`] keeps
/// its lines short.
const MAX_TEXT: usize = 4096;

/// Keep only printable ASCII, and nothing that could end a header or a MIME part; at
/// most [`MAX_TEXT`] characters.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_TEXT)
        .collect()
}

/// Lines a reader sees whole: at most this many octets where spaces allow.
const LINE: usize = 78;
/// A word longer than this is cut, so no line comes near the hard limit of 998
/// octets (RFC 5322 §2.1.1).
const LONGEST_WORD: usize = 900;

/// `head` followed by `value` (already [`clean`]ed), as CRLF-ended lines of at most
/// [`LINE`] octets where the spaces in `value` allow and never more than 998: each
/// further line starts with `indent`. For a field `indent` is one space, which makes the
/// break a fold (RFC 5322 §2.2.3; RFC 3464 §2.1 fields are folded the same way).
fn folded(head: &str, value: &str, indent: &str) -> String {
    let mut out = String::with_capacity(head.len() + value.len() + 8);
    let mut line = head.to_string();
    let mut fresh = true; // nothing of `value` on `line` yet
    let words = value.split(' ').filter(|w| !w.is_empty()).flat_map(|w| {
        // `clean` left ASCII only: any byte offset is a character boundary.
        w.as_bytes()
            .chunks(LONGEST_WORD)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
    });
    for word in words {
        let sep = if fresh && (head.is_empty() || head.ends_with(' ')) {
            ""
        } else {
            " "
        };
        if !fresh && line.len() + sep.len() + word.len() > LINE {
            out.push_str(&line);
            out.push_str("\r\n");
            line = format!("{indent}{word}");
        } else {
            line.push_str(sep);
            line.push_str(word);
        }
        fresh = false;
    }
    out.push_str(&line);
    out.push_str("\r\n");
    out
}

/// The header section of `message` (up to the first empty line), CRLF-terminated lines.
fn header_section(message: &[u8]) -> Vec<u8> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| message.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .unwrap_or(message.len());
    let mut out = Vec::with_capacity(end + 2);
    for line in message[..end].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn random_token() -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The notification as a complete message (CRLF line endings), or `None` when the
/// original's sender is null (never answer a bounce).
pub fn build(dsn: &Dsn<'_>, now: DateTime<Utc>) -> Option<Vec<u8>> {
    if dsn.to.is_empty() || dsn.recipients.is_empty() {
        return None;
    }
    let boundary = format!("sendwell-dsn-{}", random_token());
    let any_failed = dsn.recipients.iter().any(|r| r.action == Action::Failed);
    let subject = if any_failed {
        "Undelivered Mail Returned to Sender"
    } else {
        "Delayed Mail (still being retried)"
    };
    let mta = name(dsn.reporting_mta);
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", name(dsn.to)));
    m.push_str(&format!("Subject: {subject}\r\n"));
    m.push_str(&format!("Date: {}\r\n", now.to_rfc2822()));
    m.push_str(&format!("Message-ID: <{}.dsn@{mta}>\r\n", random_token()));
    // RFC 3834 §5: an automatic reply; RFC 3464 needs MIME.
    m.push_str("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str("This is a MIME-encapsulated message.\r\n\r\n");

    // Part 1: for people.
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ));
    m.push_str(&format!("This is the mail system at {mta}.\r\n\r\n"));
    if any_failed {
        m.push_str("Your message could not be delivered to one or more recipients.\r\nIt is attached below (headers only).\r\n\r\n");
    } else {
        m.push_str("Your message has not been delivered yet to one or more recipients.\r\nThe mail system will keep trying; you do not need to resend it.\r\n\r\n");
    }
    for r in dsn.recipients {
        // Our own account here; the server's reply verbatim beside it, as in part 2.
        m.push_str(&folded(
            &format!("<{}>: ", name(&r.recipient)),
            &clean(&r.reason),
            "    ",
        ));
        match (&r.diagnostic, &r.remote_mta) {
            (Some(reply), host) if *reply != r.reason => {
                let who = host.as_deref().map(name);
                m.push_str(&folded(
                    &format!(
                        "    The server {}said: ",
                        who.map(|h| format!("{h} ")).unwrap_or_default()
                    ),
                    &clean(reply),
                    "      ",
                ));
            }
            (Some(_), Some(host)) => {
                m.push_str(&format!("    (the server {} said this)\r\n", name(host)));
            }
            _ => {}
        }
        if let Some(until) = r.will_retry_until {
            m.push_str(&format!(
                "    (retries continue until {})\r\n",
                until.to_rfc2822()
            ));
        }
    }
    m.push_str("\r\n");

    // Part 2: message/delivery-status (RFC 3464 §2).
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!("Reporting-MTA: dns; {mta}\r\n"));
    m.push_str(&format!("X-Sendwell-Queue-ID: {}\r\n", name(dsn.queue_id)));
    m.push_str(&format!("Arrival-Date: {}\r\n", dsn.arrival.to_rfc2822()));
    for r in dsn.recipients {
        m.push_str("\r\n");
        let address = name(&r.recipient);
        // RFC 6533 §3: a UTF-8 address is typed utf-8, not rfc822.
        let kind = if r.recipient.is_ascii() {
            "rfc822"
        } else {
            "utf-8"
        };
        m.push_str(&format!("Final-Recipient: {kind}; {address}\r\n"));
        m.push_str(&format!("Action: {}\r\n", r.action.token()));
        m.push_str(&format!("Status: {}\r\n", name(&r.status)));
        if let Some(host) = &r.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", name(host)));
        }
        // RFC 3464 §2.3.6: the reply as the server gave it, folded where it is long.
        if let Some(diagnostic) = &r.diagnostic {
            m.push_str(&folded("Diagnostic-Code: smtp; ", &clean(diagnostic), " "));
        } else {
            m.push_str(&folded(
                "Diagnostic-Code: X-Sendwell; ",
                &clean(&r.reason),
                " ",
            ));
        }
        if let Some(t) = r.last_attempt {
            m.push_str(&format!("Last-Attempt-Date: {}\r\n", t.to_rfc2822()));
        }
        if let Some(t) = r.will_retry_until {
            m.push_str(&format!("Will-Retry-Until: {}\r\n", t.to_rfc2822()));
        }
    }
    m.push_str("\r\n");

    // Part 3: the original header (RFC 6522 §3: text/rfc822-headers).
    let mut out = m.into_bytes();
    out.extend_from_slice(
        format!("--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(&header_section(dsn.original));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient(action: Action) -> DsnRecipient {
        DsnRecipient {
            recipient: "bob@example.net".into(),
            action,
            status: "5.1.1".into(),
            diagnostic: Some("550 5.1.1 <bob@example.net>: Recipient address rejected".into()),
            reason: "refused".into(),
            remote_mta: Some("mx.example.net".into()),
            last_attempt: Some(DateTime::from_timestamp(1_795_000_000, 0).unwrap()),
            will_retry_until: None,
        }
    }

    #[test]
    fn failed_notification_has_every_part() {
        let recipients = [recipient(Action::Failed)];
        let original = b"From: a@example.org\r\nSubject: hi\r\n\r\nsecret body\r\n";
        let dsn = Dsn {
            reporting_mta: "mail.example.org",
            to: "a@example.org",
            arrival: DateTime::from_timestamp(1_794_999_000, 0).unwrap(),
            queue_id: "Q1",
            recipients: &recipients,
            original,
        };
        let out = build(&dsn, DateTime::from_timestamp(1_795_000_100, 0).unwrap()).unwrap();
        let text = String::from_utf8(out).unwrap();
        // RFC 5322 §2.2.3: unfolded, a folded field reads as one line.
        let unfolded = text.replace("\r\n ", " ");
        for needle in [
            "To: <a@example.org>",
            "Auto-Submitted: auto-replied",
            "report-type=delivery-status",
            "Reporting-MTA: dns; mail.example.org",
            "Final-Recipient: rfc822; bob@example.net",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; mx.example.net",
            "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected",
            "Content-Type: text/rfc822-headers",
            "Subject: hi",
            "Undelivered Mail Returned to Sender",
        ] {
            assert!(unfolded.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("secret body"), "the body is not returned");
        assert!(
            !text.contains('\n') || text.split('\n').all(|l| l.is_empty() || l.ends_with('\r'))
        );
    }

    #[test]
    fn prose_stays_in_the_human_part() {
        let mut r = recipient(Action::Failed);
        r.status = "5.7.1".into();
        r.reason = "the server refused the session: 554 5.7.1 go away".into();
        r.diagnostic = Some("554 5.7.1 go away".into());
        let recipients = [r];
        let dsn = Dsn {
            reporting_mta: "mail.example.org",
            to: "a@example.org",
            arrival: Utc::now(),
            queue_id: "Q",
            recipients: &recipients,
            original: b"Subject: x\r\n\r\nbody",
        };
        let text = String::from_utf8(build(&dsn, Utc::now()).unwrap()).unwrap();
        let (human, machine) = text.split_once("message/delivery-status").unwrap();
        // RFC 3464 §2.3.6: the reply itself, nothing before it.
        assert!(
            machine
                .split("\r\n")
                .any(|l| l == "Diagnostic-Code: smtp; 554 5.7.1 go away"),
            "{machine}"
        );
        assert!(machine.contains("Remote-MTA: dns; mx.example.net\r\n"));
        assert!(!machine.contains("refused the session"), "{machine}");
        assert!(human.contains("refused the session"), "{human}");
        assert!(human.contains("The server mx.example.net said: 554 5.7.1 go away"));
    }

    #[test]
    fn never_to_a_null_sender() {
        let recipients = [recipient(Action::Failed)];
        let dsn = Dsn {
            reporting_mta: "m",
            to: "",
            arrival: Utc::now(),
            queue_id: "Q",
            recipients: &recipients,
            original: b"",
        };
        assert!(build(&dsn, Utc::now()).is_none());
    }

    #[test]
    fn hostile_text_cannot_break_the_report() {
        let mut r = recipient(Action::Delayed);
        r.diagnostic = Some("451 try later\r\n\r\n--boundary\r\nInjected: yes".into());
        r.will_retry_until = Some(Utc::now());
        let recipients = [r];
        let dsn = Dsn {
            reporting_mta: "m.example",
            to: "a@example.org",
            arrival: Utc::now(),
            queue_id: "Q",
            recipients: &recipients,
            original: b"Subject: x\n\nbody",
        };
        let text = String::from_utf8(build(&dsn, Utc::now()).unwrap()).unwrap();
        assert!(!text.contains("\r\nInjected: yes"));
        assert!(text.contains("Action: delayed"));
        assert!(text.contains("Delayed Mail"));
    }

    /// A reply of three long lines (RFC 5321 §4.2.1 multi-line replies are joined with
    /// spaces into one) still gives lines of at most 78 octets where there are spaces,
    /// never over 998, and reads back whole once unfolded.
    #[test]
    fn long_replies_are_folded_never_over_998_octets() {
        let long = format!(
            "550-5.7.1 {} 550-5.7.1 {} 550 5.7.1 {}",
            "policy ".repeat(50),
            "x".repeat(1500),
            "words ".repeat(60)
        );
        let mut r = recipient(Action::Failed);
        r.diagnostic = Some(long.clone());
        r.reason = format!("refused: {long}");
        let recipients = [r];
        let dsn = Dsn {
            reporting_mta: "mail.example.org",
            to: "a@example.org",
            arrival: DateTime::from_timestamp(1_794_999_000, 0).unwrap(),
            queue_id: "Q1",
            recipients: &recipients,
            original: b"From: a@example.org\r\n\r\nbody\r\n",
        };
        let out = build(&dsn, DateTime::from_timestamp(1_795_000_100, 0).unwrap()).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.split("\r\n") {
            assert!(line.len() <= 998, "{} octets: {line}", line.len());
            if line.contains(' ') && !line.contains("xxxx") {
                assert!(line.len() <= 78, "{} octets: {line}", line.len());
            }
        }
        let diagnostic = text
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Diagnostic-Code:"))
            .take_while(|l| l.starts_with("Diagnostic-Code:") || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("");
        // The words come back in order; the long word only gains the folds' spaces.
        let words: Vec<&str> = long.split(' ').filter(|w| !w.is_empty()).collect();
        let got = diagnostic
            .trim_start_matches("Diagnostic-Code: smtp; ")
            .replace(' ', "");
        assert_eq!(got, words.concat());
    }
}
