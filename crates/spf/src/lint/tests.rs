//! Unit tests of the lint: one per finding family, each against a `MockLookup` zone.

use super::*;
use sendwell_dns::MockLookup;

fn block<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn codes(r: &LintReport) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.code).collect()
}

#[test]
fn a_good_record_has_only_the_count() {
    let dns = MockLookup::from_zone(
        "example.com TXT \"v=spf1 mx include:_spf.example.net -all\"\n\
         example.com MX 10 mx.example.com\n\
         _spf.example.net TXT \"v=spf1 ip4:192.0.2.0/24 -all\"",
    )
    .unwrap();
    let r = block(lint_domain(&dns, "example.com"));
    assert_eq!(codes(&r), vec!["lookups"]);
    assert_eq!(r.lookups, 2);
    assert!(!r.has_errors());
    assert_eq!(r.spent[1].path, "example.com › include:_spf.example.net");
}

#[test]
fn lookups_are_counted_through_nested_includes_with_their_path() {
    let mut zone = String::from("example.com TXT \"v=spf1 include:i1.example -all\"\n");
    for i in 1..=5 {
        zone.push_str(&format!(
            "i{i}.example TXT \"v=spf1 a:h{i}.example mx:h{i}.example include:i{}.example ~all\"\n\
             h{i}.example A 192.0.2.{i}\nh{i}.example MX 10 h{i}.example\n",
            i + 1
        ));
    }
    zone.push_str("i6.example TXT \"v=spf1 -all\"\n");
    let dns = MockLookup::from_zone(&zone).unwrap();
    let r = block(lint_domain(&dns, "example.com"));
    // include:i1 (1) + per level a, mx, include (3 × 5) = 16.
    assert_eq!(r.lookups, 16);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "lookup-limit")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("the 11th, a:h4.example in i4.example"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("example.com › include:i1.example › i1.example › include:i2.example › i2.example › include:i3.example › i3.example › include:i4.example › i4.example › a:h4.example"),
        "{}",
        f.message
    );
}

#[test]
fn every_issue_finding() {
    let dns = MockLookup::from_zone(
        "example.com TXT \"v=spf1  ptr a:nothing.example a:none2.example a:none3.example include:gone.example +all ?all redirect=x.example \"\n\
         example.com SPF \"v=spf1 -all\"",
    )
    .unwrap();
    let r = block(lint_domain(&dns, "example.com"));
    let c = codes(&r);
    for code in [
        "pass-all",
        "include-none",
        "void-lookups",
        "spf-rr-type",
        "double-space",
        "trailing-space",
        "after-all",
        "redirect-with-all",
        "ptr",
    ] {
        assert!(c.contains(&code), "{code} missing from {c:?}");
    }
    assert_eq!(r.findings[0].severity, Severity::Error);
    let void = r
        .findings
        .iter()
        .find(|f| f.code == "void-lookups")
        .unwrap();
    assert_eq!(void.severity, Severity::Error, "{}", void.message);
}

#[test]
fn endings() {
    let dns = MockLookup::new();
    for (record, code, severity) in [
        ("v=spf1 ip4:192.0.2.1 ~all", "softfail-all", Severity::Info),
        (
            "v=spf1 ip4:192.0.2.1 ?all",
            "neutral-all",
            Severity::Warning,
        ),
        ("v=spf1 ip4:192.0.2.1 all", "pass-all", Severity::Error),
        ("v=spf1 ip4:192.0.2.1", "no-all", Severity::Warning),
        ("v=spf1 ip4:192.0.2.1\t-all", "tab", Severity::Error),
        (
            "v=spf1 ip4:192.0.2.1\r\n-all",
            "line-break",
            Severity::Error,
        ),
        // The whole record in quote characters: no SPF record for receivers.
        ("\"v=spf1 -all\"", "quotes", Severity::Error),
        (
            "  \"v=spf1 ip4:192.0.2.1 -all\" ",
            "quotes",
            Severity::Error,
        ),
        ("'v=spf1 -all'", "not-spf", Severity::Error),
        ("v=spf1 ip4:192.0.2.1 -all\"", "quotes", Severity::Warning),
        ("v=spf1 a:foo -all", "syntax", Severity::Error),
        ("v=spf1 -all foo=bar", "unknown-modifier", Severity::Info),
    ] {
        let r = block(lint_record(&dns, record, None));
        let f = r.findings.iter().find(|f| f.code == code);
        assert_eq!(
            f.map(|f| f.severity),
            Some(severity),
            "{record:?}: {:?}",
            r.findings
        );
    }
    let long = format!(
        "v=spf1 {} -all",
        (1..=30)
            .map(|i| format!("ip4:192.0.2.{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = block(lint_record(&dns, &long, None));
    assert!(codes(&r).contains(&"long-string"));
    let r = block(lint_record(&dns, "v=spf1 -all", None));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn loops_and_many_records_and_big_mx() {
    let mut zone = String::from(
        "loop.example TXT \"v=spf1 include:loop2.example -all\"\n\
         loop2.example TXT \"v=spf1 include:loop.example -all\"\n\
         two.example TXT \"v=spf1 -all\"\n two.example TXT \"v=spf1 +all\"\n\
         bigmx.example TXT \"v=spf1 mx -all\"\n",
    );
    for i in 0..11 {
        zone.push_str(&format!("bigmx.example MX {i} m{i}.bigmx.example\n"));
    }
    let dns = MockLookup::from_zone(&zone).unwrap();
    assert!(codes(&block(lint_domain(&dns, "loop.example"))).contains(&"loop"));
    assert!(codes(&block(lint_domain(&dns, "two.example"))).contains(&"multiple-records"));
    assert!(codes(&block(lint_domain(&dns, "bigmx.example"))).contains(&"mx-limit"));
    assert!(codes(&block(lint_domain(&dns, "nothing.example"))).contains(&"no-domain"));
}

#[test]
fn a_record_in_quotes_is_an_error_naming_the_fix() {
    let dns = MockLookup::new();
    let r = block(lint_record(&dns, "\"v=spf1 ip4:192.0.2.1 -all\"", None));
    let c = codes(&r);
    assert!(!c.contains(&"not-spf"), "{:?}", r.findings);
    let f = r.findings.iter().find(|f| f.code == "quotes").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("receivers see no SPF record at all")
            && f.message
                .ends_with("publish it without the quote characters: v=spf1 ip4:192.0.2.1 -all"),
        "{}",
        f.message
    );
    // The record inside is judged too: here it ends in "?all".
    let r = block(lint_record(&dns, "\"v=spf1 ?all\"", None));
    assert!(codes(&r).contains(&"neutral-all"), "{:?}", r.findings);
}

#[test]
fn a_published_record_in_quotes_is_no_record_at_all() {
    // The TXT text itself holds the quote characters (a zone-file line pasted into a
    // web form): `"v=spf1 ip4:192.0.2.0/24 -all"`.
    let dns = MockLookup::from_zone(
        "quoted.example TXT \"\\\"v=spf1 ip4:192.0.2.0/24 -all\\\"\"\n\
         quoted.example TXT \"google-site-verification=abc\"",
    )
    .unwrap();
    let r = block(lint_domain(&dns, "quoted.example"));
    assert_eq!(codes(&r), vec!["quotes"], "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("(\"v=spf1 ip4:192.0.2.0/24 -all\")")
            && f.message.contains("receivers see no SPF record at all")
            && f.message.contains("\"none\" (RFC 7208 §4.5)")
            && f.message
                .ends_with("publish it without the quote characters: v=spf1 ip4:192.0.2.0/24 -all"),
        "{}",
        f.message
    );
    assert_eq!(
        r.record.as_deref(),
        Some("\"v=spf1 ip4:192.0.2.0/24 -all\"")
    );
}

#[test]
fn the_ending_is_judged_through_redirect() {
    let dns = MockLookup::from_zone(
        "redir.example.com TXT \"v=spf1 redirect=soft.example.com\"\n\
         soft.example.com TXT \"v=spf1 ip4:192.0.2.0/24 ~all\"\n\
         twice.example.com TXT \"v=spf1 ip4:192.0.2.9 redirect=open.example.com\"\n\
         open.example.com TXT \"v=spf1 redirect=plus.example.com\"\n\
         plus.example.com TXT \"v=spf1 +all\"\n\
         strict.example.com TXT \"v=spf1 redirect=hard.example.com\"\n\
         hard.example.com TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
         bare.example.com TXT \"v=spf1 redirect=noall.example.com\"\n\
         noall.example.com TXT \"v=spf1 ip4:192.0.2.0/24\"",
    )
    .unwrap();
    let r = block(lint_domain(&dns, "redir.example.com"));
    assert_eq!(
        codes(&r),
        vec!["softfail-all", "lookups"],
        "{:?}",
        r.findings
    );
    assert!(
        r.findings[0]
            .message
            .starts_with("redir.example.com → redirect=soft.example.com ends in \"~all\""),
        "{}",
        r.findings[0].message
    );
    let r = block(lint_domain(&dns, "twice.example.com"));
    let f = r.findings.iter().find(|f| f.code == "pass-all").unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.starts_with(
            "twice.example.com → redirect=open.example.com → redirect=plus.example.com ends in \"+all\""
        ),
        "{}",
        f.message
    );
    let r = block(lint_domain(&dns, "strict.example.com"));
    assert_eq!(codes(&r), vec!["lookups"], "{:?}", r.findings);
    let r = block(lint_domain(&dns, "bare.example.com"));
    let f = r.findings.iter().find(|f| f.code == "no-all").unwrap();
    assert!(
        f.message.starts_with(
            "bare.example.com → redirect=noall.example.com leads to a record with neither"
        ),
        "{}",
        f.message
    );
    // A record linted on its own follows the redirect too.
    let r = block(lint_record(&dns, "v=spf1 redirect=soft.example.com", None));
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "softfail-all")
        .unwrap();
    assert!(
        f.message
            .starts_with("the record → redirect=soft.example.com ends in \"~all\""),
        "{}",
        f.message
    );
}

#[test]
fn a_failed_include_leaves_the_count_unchecked() {
    let dns = MockLookup::from_zone(
        "example.com TXT \"v=spf1 include:ok.example include:slow.example include:broken.example a:gone.example -all\"\n\
         ok.example TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n\
         slow.example TIMEOUT\n\
         broken.example SERVFAIL\n\
         gone.example TIMEOUT",
    )
    .unwrap();
    let r = block(lint_domain(&dns, "example.com"));
    assert!(!r.count_is_complete());
    assert_eq!(r.lookups, 4);
    let unchecked: Vec<(&str, &str, Unknown)> = r
        .unchecked
        .iter()
        .map(|u| (u.name.as_str(), u.query, u.unknown))
        .collect();
    assert_eq!(
        unchecked,
        vec![
            ("slow.example", "TXT", Unknown::LookupCount),
            ("broken.example", "TXT", Unknown::LookupCount),
            ("gone.example", "A/AAAA", Unknown::VoidLookup),
        ]
    );
    let errors: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.code == "dns-error")
        .collect();
    assert_eq!(errors.len(), 3);
    assert!(
        errors[0].message.starts_with(
            "example.com › include:slow.example: the TXT lookup for slow.example failed"
        ) && errors[0]
            .message
            .contains("the budget of 10 (RFC 7208 §4.6.4) cannot be checked"),
        "{}",
        errors[0].message
    );
    let count = r.findings.iter().find(|f| f.code == "lookups").unwrap();
    assert!(
        count
            .message
            .starts_with("at least 4 of 10 DNS-querying terms used: the record of slow.example, broken.example could not be fetched"),
        "{}",
        count.message
    );
    // When every answer comes, the count is complete.
    let r = block(lint_record(&dns, "v=spf1 include:ok.example -all", None));
    assert!(r.count_is_complete() && r.unchecked.is_empty());
}
