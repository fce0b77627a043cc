//! Header fields the server adds: `Received` (RFC 5321 §4.4, with the protocol names
//! of RFC 3848 and RFC 6531 §3.7.3), and for submitted mail `Date` and `Message-ID`
//! when the client left them out (RFC 6409 §8.2, §8.3; formats of RFC 5322 §3.3 and
//! §3.6.4). Also the scan of a message's header section those decisions need.

use std::time::{SystemTime, UNIX_EPOCH};

/// What the server knows about a session, for the Received field.
pub struct ReceivedInfo<'a> {
    /// The EHLO/HELO argument.
    pub helo: &'a str,
    /// The client's IP address.
    pub client_ip: std::net::IpAddr,
    /// Our host name.
    pub hostname: &'a str,
    /// EHLO (ESMTP) rather than HELO.
    pub esmtp: bool,
    /// TLS version and cipher, when TLS is up.
    pub tls: Option<&'a str>,
    /// Authenticated.
    pub authenticated: bool,
    /// SMTPUTF8 used (RFC 6531 §3.7.3).
    pub smtputf8: bool,
    /// The queue id.
    pub queue_id: &'a str,
    /// The one recipient, if there is exactly one (privacy: never a list).
    pub for_recipient: Option<&'a str>,
    /// When, Unix seconds.
    pub time: u64,
}

/// Keep text that goes into a header to printable ASCII without parentheses.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '(' && c != ')' && c != '\\' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

/// The `with` protocol of RFC 3848 §2 / RFC 6531 §3.7.3.
fn protocol(i: &ReceivedInfo<'_>) -> String {
    let base = match (i.smtputf8, i.esmtp) {
        (true, _) => "UTF8SMTP",
        (false, true) => "ESMTP",
        (false, false) => "SMTP",
    };
    if base == "SMTP" {
        return base.into();
    }
    let mut p = base.to_string();
    if i.tls.is_some() {
        p.push('S');
    }
    if i.authenticated {
        p.push('A');
    }
    p
}

/// The Received field, folded, with CRLF.
///
/// ```text
/// Received: from client.example ([192.0.2.1])
///     by mail.example.com (Sendwell) with ESMTPS id 0193A4B2C3D40001
///     (TLSv1.3 with cipher TLS13_AES_256_GCM_SHA384)
///     for <bob@example.com>;
///     Tue, 1 Jul 2025 10:00:00 +0000
/// ```
pub fn received(i: &ReceivedInfo<'_>) -> String {
    let ip = match i.client_ip {
        std::net::IpAddr::V4(a) => format!("[{a}]"),
        std::net::IpAddr::V6(a) => format!("[IPv6:{a}]"),
    };
    let mut s = format!(
        "Received: from {} ({ip})\r\n\tby {} (Sendwell) with {} id {}",
        clean(i.helo),
        i.hostname,
        protocol(i),
        i.queue_id
    );
    if let Some(tls) = i.tls {
        s.push_str(&format!("\r\n\t({})", clean(tls).replace('?', " ")));
    }
    if let Some(r) = i.for_recipient {
        s.push_str(&format!("\r\n\tfor <{}>", clean(r)));
    }
    s.push_str(&format!(";\r\n\t{}\r\n", rfc5322_date(i.time)));
    s
}

/// A date-time of RFC 5322 §3.3 in UTC: `Tue, 1 Jul 2025 10:00:00 +0000`.
pub fn rfc5322_date(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days.rem_euclid(7)) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{weekday}, {d} {month} {y} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A new Message-ID (RFC 5322 §3.6.4): `<queue id>.<random>@<hostname>`.
pub fn message_id(queue_id: &str, hostname: &str) -> String {
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("<{queue_id}.{hex}@{hostname}>")
}

/// Now, as Unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Longest From field value read, in octets (folding included). RFC 5322 §2.1.1 keeps a
/// line under 1000 octets; a From of many folded lines is not mail a person submits,
/// and the bound keeps the parse of a hostile header section small.
pub const MAX_FROM_TEXT: usize = 16 * 1024;

/// What the header section of a message holds that the server cares about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderScan {
    /// A Date field is present.
    pub has_date: bool,
    /// A Message-ID field is present.
    pub has_message_id: bool,
    /// The mailboxes of the one From field, parsed exactly (RFC 5322 §3.4, §3.6.2), or
    /// why there is no usable From. Only submitted mail is judged on it: mail from other
    /// servers is taken as it comes.
    pub from: Result<Vec<FromAddress>, FromError>,
}

/// One mailbox of the From field, as the server compares and signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FromAddress {
    /// `local-part@domain`: the local part unquoted (RFC 5322 §3.4.1: `"alice"` and
    /// `alice` are the same), the domain as in [`FromAddress::domain`].
    pub address: String,
    /// The domain, lower case, in A-labels, without a trailing dot (as DMARC compares
    /// it: [`sendwell_dmarc::message::normalize_domain`]); a domain literal
    /// (`[192.0.2.1]`) in lower case.
    pub domain: String,
}

/// Why a message has no usable From field. RFC 5322 §3.6: every message has exactly
/// one From field (the table in §3.6), holding one or more mailboxes (§3.6.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromError {
    /// No From field at all.
    #[error("the message has no From header field (RFC 5322 §3.6 requires one)")]
    Missing,
    /// Several From fields.
    #[error("the message has {0} From header fields (RFC 5322 §3.6 allows exactly one)")]
    Several(usize),
    /// The field is longer than [`MAX_FROM_TEXT`].
    #[error("the From header field is longer than {MAX_FROM_TEXT} octets")]
    TooLong,
    /// The value is not an address list.
    #[error("the From header field cannot be parsed (RFC 5322 §3.6.2): {0}")]
    Unparsable(#[source] sendwell_dmarc::address::AddressError),
    /// An address list without a mailbox (an empty group, `undisclosed:;`).
    #[error("the From header field holds no mailbox (RFC 5322 §3.6.2)")]
    NoMailbox,
    /// A domain that cannot be a DNS name.
    #[error("the From address domain {0:?} is not a valid domain name (RFC 5322 §3.4.1)")]
    InvalidDomain(String),
}

/// Scan the header section (up to the first empty line) of `message`.
///
/// Field names are matched without regard to case, and white space between a name and
/// its colon is allowed (`From : ...`, the obsolete syntax of RFC 5322 §4.5): readers
/// take such a field for From, so it counts as one. Lines that are not fields are
/// skipped.
pub fn scan(message: &[u8]) -> HeaderScan {
    let mut has_date = false;
    let mut has_message_id = false;
    let mut from: Vec<Vec<u8>> = Vec::new();
    let mut too_long = false;
    let mut in_from = false;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A folded continuation line (RFC 5322 §2.2.3): unfolding removes only the
            // line break.
            if in_from && let Some(v) = from.last_mut() {
                append_bounded(v, line, &mut too_long);
            }
            continue;
        }
        in_from = false;
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        if name.eq_ignore_ascii_case(b"date") {
            has_date = true;
        } else if name.eq_ignore_ascii_case(b"message-id") {
            has_message_id = true;
        } else if name.eq_ignore_ascii_case(b"from") {
            in_from = true;
            let mut v = Vec::new();
            append_bounded(&mut v, &line[colon + 1..], &mut too_long);
            from.push(v);
        }
    }
    let from = match from.as_slice() {
        [] => Err(FromError::Missing),
        [_] if too_long => Err(FromError::TooLong),
        [one] => from_mailboxes(&String::from_utf8_lossy(one)),
        several => Err(FromError::Several(several.len())),
    };
    HeaderScan {
        has_date,
        has_message_id,
        from,
    }
}

fn append_bounded(value: &mut Vec<u8>, more: &[u8], too_long: &mut bool) {
    if value.len() + more.len() > MAX_FROM_TEXT {
        *too_long = true;
    } else {
        value.extend_from_slice(more);
    }
}

/// The mailboxes of a From field value, with the exact RFC 5322 parser of
/// `sendwell_dmarc` (quoted strings with their escapes, nested comments, groups,
/// encoded words left as atoms: whatever a mail reader shows as the author is what
/// is checked).
pub fn from_mailboxes(value: &str) -> Result<Vec<FromAddress>, FromError> {
    use sendwell_dmarc::address::{mailboxes, parse_address_list};
    let list = parse_address_list(value).map_err(FromError::Unparsable)?;
    let boxes = mailboxes(&list);
    if boxes.is_empty() {
        return Err(FromError::NoMailbox);
    }
    boxes
        .into_iter()
        .map(|m| {
            let domain = if m.is_domain_literal() {
                m.domain.to_ascii_lowercase()
            } else {
                sendwell_dmarc::message::normalize_domain(&m.domain)
                    .ok_or_else(|| FromError::InvalidDomain(m.domain.clone()))?
            };
            Ok(FromAddress {
                address: format!("{}@{domain}", m.local_part),
                domain,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_751_364_000),
            "Tue, 1 Jul 2025 10:00:00 +0000"
        );
    }

    fn from(m: &[u8]) -> Result<Vec<String>, FromError> {
        scan(m)
            .from
            .map(|v| v.into_iter().map(|a| a.address).collect())
    }

    #[test]
    fn header_scan() {
        let m = b"From: \"Doe, J\" <J.Doe@Example.test> (work)\r\nSubject: x\r\nmessage-id: <a@b>\r\n\r\nDate: not a header\r\n";
        let s = scan(m);
        assert!(s.has_message_id);
        assert!(!s.has_date);
        assert_eq!(from(m).unwrap(), vec!["J.Doe@example.test"]);
        let m = b"From: a@x.test,\r\n b@Y.test.\r\nDate: now\r\n\r\n";
        assert_eq!(from(m).unwrap(), vec!["a@x.test", "b@y.test"]);
        assert!(scan(m).has_date);
        let s = scan(b"From: a@x.test\r\n\r\n").from.unwrap();
        assert_eq!(s[0].domain, "x.test");
    }

    #[test]
    fn from_tricks_are_read_as_a_mail_reader_reads_them() {
        let cases: &[(&str, &str)] = &[
            // A quoted-pair \" does not end the quoted string, so "(" opens no comment.
            (r#""\"(" <ceo@bank.example>"#, "ceo@bank.example"),
            // A quoted-pair \) does not end the comment: the whole "(...)" is one comment.
            (
                r"Mallory <ceo@bank.example> (\) <alice@example.test>)",
                "ceo@bank.example",
            ),
            (
                r"(<alice@example.test>) ceo@bank.example",
                "ceo@bank.example",
            ),
            // Angle brackets inside a quoted group name are text.
            (
                r#""<alice@example.test>": ceo@bank.example;"#,
                "ceo@bank.example",
            ),
            (
                r#""Evil <alice@example.test>" <ceo@bank.example>"#,
                "ceo@bank.example",
            ),
            // An encoded word is a display name, never an address.
            (
                "=?utf-8?b?YWxpY2VAZXhhbXBsZS50ZXN0?= <ceo@bank.example>",
                "ceo@bank.example",
            ),
            (r#""alice"@Example.TEST."#, "alice@example.test"),
        ];
        for (value, expected) in cases {
            let m = format!("From: {value}\r\n\r\n");
            assert_eq!(
                from(m.as_bytes()),
                Ok(vec![expected.to_string()]),
                "{value}"
            );
        }
    }

    #[test]
    fn from_must_be_one_field_with_mailboxes() {
        assert_eq!(
            from(b"To: a@b.test\r\n\r\nFrom: a@b.test\r\n"),
            Err(FromError::Missing)
        );
        assert_eq!(
            from(b"From: a@b.test\r\nfrom: a@b.test\r\n\r\n"),
            Err(FromError::Several(2))
        );
        // The obsolete "From :" (RFC 5322 §4.5) is a From field too.
        assert_eq!(
            from(b"From: a@b.test\r\nFrom : c@d.test\r\n\r\n"),
            Err(FromError::Several(2))
        );
        assert_eq!(
            from(b"From : c@d.test\r\n\r\n"),
            Ok(vec!["c@d.test".into()])
        );
        assert_eq!(
            from(b"From: undisclosed:;\r\n\r\n"),
            Err(FromError::NoMailbox)
        );
        assert_eq!(
            from(b"From: Team: a@b.test, c@d.test;\r\n\r\n")
                .unwrap()
                .len(),
            2
        );
        for bad in [
            "\"\\\"( <ceo@bank.example>",
            "=?utf-8?q?alice@example.test?= <ceo@bank.example>",
            "a@b.test c@d.test",
            "",
        ] {
            let m = format!("From: {bad}\r\n\r\n");
            assert!(
                matches!(
                    from(m.as_bytes()),
                    Err(FromError::Unparsable(_) | FromError::NoMailbox)
                ),
                "{bad}: {:?}",
                from(m.as_bytes())
            );
        }
        assert!(matches!(
            from(b"From: a@b..test\r\n\r\n"),
            Err(FromError::Unparsable(_))
        ));
        let long = format!("From: a@b.test,{}\r\n\r\n", "\r\n c@d.test,".repeat(2000));
        assert_eq!(from(long.as_bytes()), Err(FromError::TooLong));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;
        use sendwell_dmarc::address::Mailbox;

        fn label() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?"
        }

        fn domain() -> impl Strategy<Value = String> {
            proptest::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
        }

        proptest! {
            /// Any header section: no panic, and what is found is normalised.
            #[test]
            fn any_bytes_scan(data in proptest::collection::vec(any::<u8>(), 0..600)) {
                if let Ok(list) = scan(&data).from {
                    prop_assert!(!list.is_empty());
                    for a in list {
                        let at_domain = format!("@{}", a.domain);
                        prop_assert!(a.address.ends_with(&at_domain));
                        prop_assert_eq!(a.domain.to_ascii_lowercase(), a.domain);
                    }
                }
            }

            /// A mailbox written out by the RFC 5322 writer, with any display name and
            /// any local part (quotes, backslashes, parentheses, angle brackets, @ and
            /// commas included), is read back as exactly that address: no escape in a
            /// quoted string or comment changes which address the check sees.
            #[test]
            fn written_mailboxes_are_read_back(
                name in proptest::option::of("[ -~]{0,30}"),
                local in "[!-~]([ -~]{0,20}[!-~])?",
                domain in domain(),
                comment in "[ -~&&[^()\\\\]]{0,20}",
            ) {
                let m = Mailbox { display_name: name, local_part: local.clone(), domain: domain.clone() };
                let message = format!("From: {m} ({comment})\r\nSubject: x\r\n\r\n");
                let found = scan(message.as_bytes()).from;
                let want = vec![FromAddress {
                    address: format!("{local}@{}", domain.to_ascii_lowercase()),
                    domain: domain.to_ascii_lowercase(),
                }];
                prop_assert_eq!(found, Ok(want), "{}", message);
            }
        }
    }

    #[test]
    fn received_field() {
        let r = received(&ReceivedInfo {
            helo: "client (evil)\r\nX-Injected: 1",
            client_ip: "192.0.2.1".parse().unwrap(),
            hostname: "mail.example.test",
            esmtp: true,
            tls: Some("TLSv1.3 with cipher TLS13_AES_128_GCM_SHA256"),
            authenticated: true,
            smtputf8: false,
            queue_id: "0000000000000001",
            for_recipient: Some("b@example.test"),
            time: 0,
        });
        assert!(
            r.starts_with("Received: from client??evil???X-Injected:?1 ([192.0.2.1])\r\n"),
            "{r}"
        );
        assert!(r.contains("with ESMTPSA id 0000000000000001"));
        assert!(r.ends_with("Thu, 1 Jan 1970 00:00:00 +0000\r\n"));
        assert_eq!(r.matches("\r\n").count(), r.matches("\r\n\t").count() + 1);
    }
}
