//! The Authentication-Results generator (sendwell-auth-results `generate`): whatever a
//! sender puts in HELO, MAIL FROM, d=, s= and b=, the written header parses back to
//! exactly the results written, each value intact (control characters as spaces,
//! non-ASCII as '?'), with no line break but the folds. The shortest unique `header.b`
//! prefixes of the five values never panic, are at least eight characters, and tell
//! the values apart (RFC 6008 §4).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sendwell_auth_results::generate::{HEADER_B_MIN, header_b_lengths};
use sendwell_auth_results::{AuthenticationResults, ResInfo, parse_header};

fn kept(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\t' || c.is_control() {
                ' '
            } else if c.is_ascii() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<&str> = text.splitn(5, '\u{0}').collect();
    let get = |i: usize| parts.get(i).copied().unwrap_or("");
    let (helo, mail_from, d, s, b) = (get(0), get(1), get(2), get(3), get(4));
    let values = [helo, mail_from, d, s, b];
    let lengths = header_b_lengths(&values);
    assert_eq!(lengths.len(), values.len());
    let clean: Vec<Vec<char>> = values
        .iter()
        .map(|v| v.chars().filter(|c| !c.is_whitespace()).collect())
        .collect();
    for (i, (v, len)) in clean.iter().zip(&lengths).enumerate() {
        assert!(*len >= HEADER_B_MIN && *len <= v.len().max(HEADER_B_MIN));
        let prefix = &v[..(*len).min(v.len())];
        if *len < v.len() {
            assert!(
                clean
                    .iter()
                    .enumerate()
                    .all(|(j, o)| j == i || o == v || !o.starts_with(prefix))
            );
        }
        let r = ResInfo::dkim("pass", "x.example", "s", Some(values[i]), *len).unwrap();
        let written: String = prefix.iter().collect();
        assert_eq!(
            r.get("header", "b"),
            (!written.is_empty()).then_some(written.as_str())
        );
    }
    let mut h = AuthenticationResults::new("mx.example.org");
    h.push(
        ResInfo::spf_helo("pass", helo)
            .unwrap()
            .with_reason(mail_from),
    );
    h.push(ResInfo::spf_mailfrom("fail", mail_from).unwrap());
    h.push(
        ResInfo::dkim("pass", d, s, Some(b), 8)
            .unwrap()
            .with_comment(helo),
    );
    h.push(ResInfo::dmarc("fail", d, Some(s), Some("reject")).unwrap());
    let field = h.to_header_field();
    let one_line = h.to_string();
    assert!(!one_line.contains(['\r', '\n']));
    assert_eq!(field.matches("\r\n").count(), 4);
    for written in [one_line, field] {
        let p = parse_header(&written).expect("a written header parses");
        let methods: Vec<(&str, &str)> = p
            .results
            .iter()
            .map(|r| (r.method.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(
            methods,
            [
                ("spf", "pass"),
                ("spf", "fail"),
                ("dkim", "pass"),
                ("dmarc", "fail")
            ]
        );
        assert_eq!(p.results[0].get("smtp", "helo"), Some(kept(helo).as_str()));
        assert_eq!(
            p.results[0].reason.as_deref(),
            Some(kept(mail_from).as_str())
        );
        assert_eq!(
            p.results[1].get("smtp", "mailfrom"),
            Some(kept(mail_from).as_str())
        );
        assert_eq!(p.results[2].get("header", "d"), Some(kept(d).as_str()));
        assert_eq!(p.results[2].get("header", "s"), Some(kept(s).as_str()));
        assert_eq!(p.results[2].comment.as_deref(), Some(kept(helo).as_str()));
        assert_eq!(p.results[3].get("header", "from"), Some(kept(d).as_str()));
        assert_eq!(p.results[3].comment.as_deref(), Some(kept(s).as_str()));
    }
});
