//! Property tests of the generator and the parser.

use proptest::prelude::*;
use sendwell_auth_results::generate::{HEADER_B_MIN, header_b_lengths};
use sendwell_auth_results::{AuthenticationResults, ResInfo, parse_header};

/// What the generator promises to keep of a sender's text: control characters become
/// spaces and non-ASCII characters `?`; everything else is kept exactly.
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

/// Sender text: anything, with a bias to the characters that could break a header.
fn sender_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        "[a-z0-9.@;=()\"\\\\ \r\n\t:,<>/+-]{0,40}",
        "[a-z]{1,10}(\\.[a-z]{1,10}){0,3}",
        ".{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the sender sent, the header written parses back to exactly the results
    /// written: the same methods and results, the same values (as kept), nothing added.
    #[test]
    fn nothing_the_sender_writes_changes_the_results(
        helo in sender_text(),
        mail_from in sender_text(),
        d in sender_text(),
        s in sender_text(),
        b in sender_text(),
        from in sender_text(),
        comment in sender_text(),
        reason in sender_text(),
        authserv in sender_text(),
    ) {
        let mut h = AuthenticationResults::new(authserv.clone());
        h.push(ResInfo::spf_helo("pass", &helo).unwrap().with_reason(reason.clone()));
        h.push(ResInfo::spf_mailfrom("fail", &mail_from).unwrap());
        h.push(ResInfo::dkim("pass", &d, &s, Some(&b), 8).unwrap().with_comment(comment.clone()));
        h.push(ResInfo::dmarc("fail", &from, Some(&comment), Some("reject")).unwrap());
        h.push(ResInfo::iprev("pass", "2001:db8::1".parse().unwrap(), Some(&comment)).unwrap());
        for text in [h.to_string(), h.to_header_field()] {
            let parsed = parse_header(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(parsed.authserv_id, kept(&authserv));
            let methods: Vec<(&str, &str)> = parsed.results.iter().map(|r| (r.method.as_str(), r.result.as_str())).collect();
            prop_assert_eq!(methods, vec![("spf", "pass"), ("spf", "fail"), ("dkim", "pass"), ("dmarc", "fail"), ("iprev", "pass")]);
            let r = &parsed.results;
            prop_assert_eq!(r[0].get("smtp", "helo").map(str::to_string), Some(kept(&helo)));
            prop_assert_eq!(r[0].reason.clone(), Some(kept(&reason)));
            prop_assert_eq!(r[1].get("smtp", "mailfrom").map(str::to_string), Some(kept(&mail_from)));
            prop_assert_eq!(r[2].get("header", "d").map(str::to_string), Some(kept(&d)));
            prop_assert_eq!(r[2].get("header", "s").map(str::to_string), Some(kept(&s)));
            prop_assert_eq!(r[2].comment.clone(), Some(kept(&comment)));
            prop_assert_eq!(r[3].get("header", "from").map(str::to_string), Some(kept(&from)));
            prop_assert_eq!(r[3].get("policy", "dmarc"), Some("reject"));
            prop_assert_eq!(r[4].get("policy", "iprev"), Some("2001:db8::1"));
            // Exactly the properties written, no more.
            let counts: Vec<usize> = r.iter().map(|x| x.properties.len()).collect();
            let b_written = usize::from(b.chars().any(|c| !c.is_whitespace()));
            prop_assert_eq!(counts, vec![1, 1, 2 + b_written, 2, 1]);
        }
        // One field: the only line breaks are the folds, each followed by a tab.
        let field = h.to_header_field();
        prop_assert!(!h.to_string().contains(['\r', '\n']));
        prop_assert_eq!(field.matches("\r\n").count(), field.matches("\r\n\t").count());
        prop_assert_eq!(field.matches('\n').count(), 5);
    }

    /// Any `b=` values, ASCII or not: `header_b_lengths` never panics, and each prefix
    /// (in characters) is at least eight long and tells its signature from every other
    /// different one, unless it is the whole value (RFC 6008 §4).
    #[test]
    fn header_b_prefixes_never_panic_and_are_unique(
        values in prop::collection::vec(prop_oneof![
            "\\PC{0,14}",
            "[aé€𝄞]{6,12}",
            "abcdefg[é€x ]{0,3}[0-9]{0,2}",
        ], 0..6),
    ) {
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let lengths = header_b_lengths(&refs);
        prop_assert_eq!(lengths.len(), values.len());
        let clean: Vec<Vec<char>> = values
            .iter()
            .map(|v| v.chars().filter(|c| !c.is_whitespace()).collect())
            .collect();
        for (i, (b, len)) in clean.iter().zip(&lengths).enumerate() {
            prop_assert!(*len >= HEADER_B_MIN);
            prop_assert!(*len <= b.len().max(HEADER_B_MIN));
            let prefix = &b[..(*len).min(b.len())];
            for (j, o) in clean.iter().enumerate() {
                if j != i && o != b && *len < b.len() {
                    prop_assert!(!o.starts_with(prefix), "{:?} vs {:?} at {}", b, o, len);
                }
            }
            // The prefix is what ResInfo::dkim writes.
            let r = ResInfo::dkim("pass", "example.com", "s", Some(&values[i]), *len).unwrap();
            let written: String = prefix.iter().collect();
            prop_assert_eq!(r.get("header", "b").map(str::to_string), (!written.is_empty()).then_some(written));
        }
    }

    /// Any text: the parser never panics, and what it accepts writes back to text that
    /// parses to the same value.
    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        if let Ok(h) = parse_header(&text) {
            let again = parse_header(&h.to_string()).unwrap();
            prop_assert_eq!(again.results.len(), h.results.len());
        }
    }

    /// Text from the header's own alphabet reaches deeper into the parser.
    #[test]
    fn alphabet_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("example.com"), Just(";"), Just("="), Just(" "), Just("spf"), Just("pass"),
        Just("smtp.mailfrom"), Just("header"), Just("."), Just("@"), Just("("), Just(")"),
        Just("\""), Just("\\"), Just("/"), Just("1"), Just("reason"), Just("none"), Just("\r\n "),
    ], 0..40)) {
        let text = parts.concat();
        if let Ok(h) = parse_header(&text) {
            let again = parse_header(&h.to_string()).unwrap();
            prop_assert_eq!(again, h);
        }
    }
}
