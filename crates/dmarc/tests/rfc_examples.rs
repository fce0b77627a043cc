//! The examples of RFC 7489 and RFC 9989 Appendix B, and the From cases of RFC 9989 §5.3.1.

use sendwell_dmarc::{
    AlignmentOutcome, AuthenticatedIdentifiers, Discovery, DmarcRecord, DmarcResult, Policy,
    evaluate_message, lint,
};
use sendwell_dns::MockLookup;

use crate::support::{block, passing, run};

const METHODS: [Discovery; 2] = [Discovery::TreeWalk, Discovery::PublicSuffixList];

/// RFC 9989 Appendix B.1.1 (RFC 7489 Appendix B.1.1): SPF, assuming SPF passed.
#[test]
fn b_1_1_spf_alignment() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    for method in METHODS {
        // Example 1: MAIL FROM sender@example.com, From sender@example.com: strict.
        let (out, _) = run(
            zone,
            "example.com",
            &passing(Some("example.com"), &[]),
            method,
        );
        assert_eq!(out.spf.unwrap().outcome, AlignmentOutcome::Strict);
        // Example 2: MAIL FROM sender@child.example.com: relaxed.
        let (out, _) = run(
            zone,
            "example.com",
            &passing(Some("child.example.com"), &[]),
            method,
        );
        assert!(matches!(
            out.spf.unwrap().outcome,
            AlignmentOutcome::Relaxed { .. }
        ));
        // Example 3: MAIL FROM sender@example.net, From sender@child.example.com: none.
        let (out, _) = run(
            zone,
            "child.example.com",
            &passing(Some("example.net"), &[]),
            method,
        );
        assert!(matches!(
            out.spf.unwrap().outcome,
            AlignmentOutcome::NotAligned { .. }
        ));
        assert_eq!(out.result, DmarcResult::Fail);
    }
}

/// RFC 9989 Appendix B.1.2 (RFC 7489 Appendix B.1.2): DKIM, assuming it verified.
#[test]
fn b_1_2_dkim_alignment() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    for method in METHODS {
        let (out, _) = run(
            zone,
            "example.com",
            &passing(None, &["example.com"]),
            method,
        );
        assert_eq!(out.dkim[0].outcome, AlignmentOutcome::Strict);
        let (out, _) = run(
            zone,
            "child.example.com",
            &passing(None, &["example.com"]),
            method,
        );
        assert!(matches!(
            out.dkim[0].outcome,
            AlignmentOutcome::Relaxed { .. }
        ));
        assert_eq!(out.result, DmarcResult::Pass);
        let (out, _) = run(
            zone,
            "child.example.com",
            &passing(None, &["example.net"]),
            method,
        );
        assert!(!out.dkim_aligned());
    }
    // With adkim=s, example 2 is not aligned.
    let strict = "_dmarc.example.com TXT \"v=DMARC1; p=reject; adkim=s\"";
    let (out, _) = run(
        strict,
        "child.example.com",
        &passing(None, &["example.com"]),
        Discovery::TreeWalk,
    );
    assert_eq!(out.result, DmarcResult::Fail);
}

/// An identifier whose check did not pass never aligns (RFC 9989 §4.4.1, §4.4.2).
#[test]
fn failed_identifiers_do_not_align() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let mut ids = passing(Some("example.com"), &["example.com"]);
    ids.spf.as_mut().unwrap().pass = false;
    ids.dkim[0].pass = false;
    let (out, _) = run(zone, "example.com", &ids, Discovery::TreeWalk);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.spf.unwrap().outcome, AlignmentOutcome::NotAuthenticated);
    assert_eq!(out.disposition, Policy::Reject);
}

/// The records of RFC 9989 Appendix B.2 parse, and lint with advice only.
#[test]
fn b_2_domain_owner_records() {
    for (section, text) in [
        (
            "B.2.1",
            "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
        ),
        (
            "B.2.2",
            "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com",
        ),
        (
            "B.2.3",
            "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net",
        ),
        (
            "B.2.5",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net; t=y",
        ),
        (
            "B.2.5",
            "v=DMARC1; p=reject; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net",
        ),
    ] {
        let l = lint(text);
        let record = l.record.unwrap_or_else(|e| panic!("{section}: {e}"));
        assert_eq!(record.to_string(), text, "{section}");
        assert!(
            l.findings
                .iter()
                .all(|f| f.severity == sendwell_dmarc::Severity::Info),
            "{section}: {:?}",
            l.findings
        );
    }
}

/// RFC 7489 Appendix B.2.4: the same subdomain record in RFC 7489 style, with a size
/// limit and pct=25. It still works; the linter says what RFC 9989 changed.
#[test]
fn rfc7489_b_2_4_record() {
    let zone = "_dmarc.test.example.com TXT \"v=DMARC1; p=quarantine; \" \
                \"rua=mailto:dmarc-feedback@example.com,\" \
                \"mailto:tld-test@thirdparty.example.net!10m; \" \"pct=25\"";
    let dns = MockLookup::from_zone(zone).unwrap();
    let txt = block(sendwell_dns::Lookup::lookup_txt(
        &dns,
        "_dmarc.test.example.com",
    ))
    .unwrap();
    let text = txt[0].to_string_lossy();
    let l = lint(&text);
    let record = l.record.unwrap();
    assert_eq!(record.p(), Some(Policy::Quarantine));
    assert_eq!(record.pct(), Some(25));
    assert_eq!(record.rua()[1].size_limit.as_deref(), Some("10m"));
    let codes: Vec<&str> = l.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&"pct_removed"));
    assert!(codes.contains(&"uri_size_limit"));
    // And the verdict ignores pct=25 (RFC 9989): a failing message meets quarantine.
    let (out, _) = run(
        zone,
        "test.example.com",
        &passing(None, &[]),
        Discovery::TreeWalk,
    );
    assert_eq!(out.disposition, Policy::Quarantine);
    assert!(out.notes.iter().any(|n| n.contains("pct=25")));
}

/// RFC 9989 Appendix B.3.1 (RFC 7489 Appendix B.3): the receiver's example.
#[test]
fn b_3_mail_receiver_example() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com\"";
    for method in METHODS {
        let (out, _) = run(
            zone,
            "example.com",
            &passing(Some("mail.example.com"), &["example.com"]),
            method,
        );
        assert_eq!(out.result, DmarcResult::Pass);
        assert!(out.spf_aligned() && out.dkim_aligned());
        assert_eq!(out.disposition, Policy::None);
        assert_eq!(out.policy.unwrap().requested, Policy::Reject);
    }
}

/// RFC 7489 §6.6.3: several records at the Author Domain end discovery; none there
/// sends the receiver to the Organizational Domain, whose sp applies.
#[test]
fn rfc7489_policy_discovery() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\"";
    let (out, q) = run(
        zone,
        "a.b.example.com",
        &passing(None, &[]),
        Discovery::PublicSuffixList,
    );
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.disposition, Policy::Quarantine);
    // The list method asks the Author Domain and the Organizational Domain only.
    assert_eq!(q, ["_dmarc.a.b.example.com", "_dmarc.example.com"]);
}

fn message(headers: &str) -> Vec<u8> {
    format!("{headers}\r\nSubject: hi\r\n\r\nbody\r\n").into_bytes()
}

/// RFC 9989 §5.3.1 and §11.5: no single Author Domain is never a silent pass.
#[test]
fn from_problems_are_permerror_with_the_reason() {
    let dns = MockLookup::from_zone("_dmarc.example.com TXT \"v=DMARC1; p=reject\"").unwrap();
    let ids = passing(Some("example.com"), &["example.com"]);
    for (headers, reason) in [
        ("To: a@example.org", "no From header field"),
        (
            "From: a@example.com\r\nFrom: b@example.com",
            "2 From header fields",
        ),
        ("From: a@example.com, b@evil.example", "2 addresses"),
        ("From: a@example.com, b@example.com", "2 addresses"),
        ("From: undisclosed:;", "holds no address"),
        ("From: a@[192.0.2.1]", "domain literal"),
        ("From: <a@example.com", "cannot be parsed"),
    ] {
        let out = block(evaluate_message(
            &dns,
            &message(headers),
            &ids,
            Discovery::TreeWalk,
        ));
        assert_eq!(out.result, DmarcResult::PermError, "{headers}");
        assert!(out.reason.contains(reason), "{headers}: {}", out.reason);
        assert_eq!(out.author_domain, None);
    }
    // One address, display name, comments and all: evaluated normally.
    let out = block(evaluate_message(
        &dns,
        &message("From: \"Example, Inc. (billing)\" <billing(dept)@example.com> (yes)"),
        &ids,
        Discovery::TreeWalk,
    ));
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.author_domain.as_deref(), Some("example.com"));
}

/// No DMARC record: `none`, whatever SPF and DKIM say.
#[test]
fn no_record_is_none() {
    for method in METHODS {
        let (out, _) = run(
            "",
            "example.com",
            &AuthenticatedIdentifiers::default(),
            method,
        );
        assert_eq!(out.result, DmarcResult::None);
        assert_eq!(out.disposition, Policy::None);
    }
}

#[test]
fn record_display_matches_publication() {
    let text = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com";
    assert_eq!(text.parse::<DmarcRecord>().unwrap().to_string(), text);
}
