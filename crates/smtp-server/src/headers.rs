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

/// What the header section of a message holds that the server cares about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderScan {
    /// A Date field is present.
    pub has_date: bool,
    /// A Message-ID field is present.
    pub has_message_id: bool,
    /// The addresses in the From field(s), lower case.
    pub from: Vec<String>,
}

/// Scan the header section (up to the first empty line) of `message`.
pub fn scan(message: &[u8]) -> HeaderScan {
    let mut out = HeaderScan::default();
    let mut from_value: Option<String> = None;
    let mut in_from = false;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A folded continuation line (RFC 5322 §2.2.3).
            if in_from && let Some(v) = from_value.as_mut() {
                v.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        in_from = false;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = String::from_utf8_lossy(&line[..colon])
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "date" => out.has_date = true,
            "message-id" => out.has_message_id = true,
            "from" => {
                in_from = true;
                let v = from_value.get_or_insert_with(String::new);
                v.push(',');
                v.push_str(&String::from_utf8_lossy(&line[colon + 1..]));
            }
            _ => {}
        }
    }
    if let Some(v) = from_value {
        out.from = addresses(&v);
    }
    out
}

/// The addresses in an address-list field value (RFC 5322 §3.4), simply: each
/// `<...>`, or else each word with an `@`. Comments in parentheses are dropped.
fn addresses(value: &str) -> Vec<String> {
    let mut text = String::new();
    let mut depth = 0usize;
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' if depth == 0 => {
                quoted = !quoted;
                text.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let mut out = Vec::new();
    // Split on commas outside quotes and angle brackets.
    let mut parts = Vec::new();
    let (mut cur, mut q, mut angle) = (String::new(), false, false);
    for c in text.chars() {
        match c {
            '"' => q = !q,
            '<' if !q => angle = true,
            '>' if !q => angle = false,
            ',' if !q && !angle => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if let (Some(a), Some(b)) = (p.rfind('<'), p.rfind('>'))
            && a < b
        {
            out.push(p[a + 1..b].trim().to_ascii_lowercase());
        } else if let Some(w) = p.split_whitespace().find(|w| w.contains('@')) {
            out.push(
                w.trim_matches(|c| c == '"' || c == ';')
                    .to_ascii_lowercase(),
            );
        }
    }
    out
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

    #[test]
    fn header_scan() {
        let m = b"From: \"Doe, J\" <J.Doe@Example.test> (work)\r\nSubject: x\r\nmessage-id: <a@b>\r\n\r\nDate: not a header\r\n";
        let s = scan(m);
        assert!(s.has_message_id);
        assert!(!s.has_date);
        assert_eq!(s.from, vec!["j.doe@example.test"]);
        let s = scan(b"From: a@x.test,\r\n b@y.test\r\nDate: now\r\n\r\n");
        assert_eq!(s.from, vec!["a@x.test", "b@y.test"]);
        assert!(s.has_date);
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
