//! `sendwell dmarc check` and `sendwell dmarc build`, as a user runs them, against BIND
//! on loopback: the output, the JSON fields and the exit codes the README documents.

use std::process::{Command, Output};

use sendwell_testkit::Bind;

mod dmarc_support;
use serde_json::Value;

/// One zone for the `test` TLD, so every tree-walk query gets an authoritative answer.
const ZONE: &str = r#"
_dmarc.example      TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; " "rua=mailto:dmarc@example.test,mailto:reports@vendor.test; pct=50"
mail.example        A   192.0.2.1
_dmarc.good         TXT "v=DMARC1; p=quarantine; rua=mailto:reports@vendor.test"
good.test._report._dmarc.vendor TXT "v=DMARC1;"
_dmarc.lowercase    TXT "v=dmarc1; p=reject"
_dmarc.broken       TXT "v=DMARC1; rua=dmarc@broken.test; adkim=x"
_dmarc.twice        TXT "v=DMARC1; p=reject"
_dmarc.twice        TXT "v=DMARC1; p=none"
news.twice          A   192.0.2.1
_dmarc.dup          TXT "v=DMARC1; p=reject; p=reject"
_dmarc.long         TXT "v=DMARC1; p=reject; rua=mailto:dmarc-aggregate-reports-1@long.test,mailto:dmarc-aggregate-reports-2@long.test,mailto:dmarc-aggregate-reports-3@long.test,mailto:dmarc-aggregate-reports-4@long.test,mailto:dmarc-aggregate-reports-5@long.test," "mailto:overflow@long.test"
"#;

fn sendwell(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sendwell"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run sendwell")
}

fn check(bind: &Bind, domain: &str, json: bool) -> (i32, String) {
    let addr = bind.addr().to_string();
    let mut args = vec!["dmarc", "check", domain, "--resolver", &addr];
    if json {
        args.push("--json");
    }
    let out = sendwell(&args);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8"),
    )
}

fn codes(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn dmarc_check_explains_and_lints() {
    let bind = dmarc_support::bind(&[("test", ZONE)]);

    // A good record, with an authorized third-party report address: exit 0.
    let (code, text) = check(&bind, "good.test", false);
    assert_eq!(code, 0, "{text}");
    let own = text
        .lines()
        .find(|l| l.starts_with("good.test itself"))
        .unwrap();
    assert!(
        own.ends_with("quarantine (failing mail goes to spam) [p]"),
        "{text}"
    );
    assert!(
        text.contains("authorized by good.test._report._dmarc.vendor.test"),
        "{text}"
    );
    assert!(text.contains("nothing to fix"), "{text}");

    // Errors (an unauthorized destination) and an RFC 7489 tag: exit 11, with fixes.
    let (code, text) = check(&bind, "example.test", true);
    assert_eq!(code, 11);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["status"], "errors");
    assert_eq!(json["tags"]["p"], "reject");
    assert_eq!(json["tags"]["pct"], 50);
    assert_eq!(json["policy"]["nonexistent_subdomains"], "reject");
    let c = codes(&json);
    assert!(
        c.contains(&"destination_not_authorized".to_string()),
        "{c:?}"
    );
    assert!(c.contains(&"pct_removed".to_string()), "{c:?}");
    assert_eq!(json["report_destinations"][1]["status"], "not_authorized");
    assert_eq!(
        json["report_destinations"][1]["authorization_query"],
        "example.test._report._dmarc.vendor.test"
    );

    // The Organizational Domain fallback, with the existence test for np.
    let (_, text) = check(&bind, "mail.example.test", true);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["applied"]["inherited"], true);
    assert_eq!(json["applied"]["policy_domain"], "example.test");
    assert_eq!(json["policy"]["this_domain"], "quarantine");
    assert_eq!(json["policy"]["this_domain_tag"], "sp");
    let (_, text) = check(&bind, "ghost.example.test", true);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["policy"]["this_domain"], "reject");
    assert_eq!(json["policy"]["this_domain_tag"], "np");
    assert_eq!(
        json["discovery"]["tree_walk"]["queries"][0]["query"],
        "TXT _dmarc.ghost.example.test"
    );

    // Common mistakes: a lowercase version, no p with a bad rua, two records. Exit 10
    // when no record applies, 11 when one applies with errors.
    let (code, text) = check(&bind, "lowercase.test", false);
    assert_eq!(code, 10, "{text}");
    assert!(text.contains("(not a DMARC record)"), "{text}");
    assert!(text.contains("fix: write v=DMARC1 in capitals"), "{text}");
    let (code, text) = check(&bind, "broken.test", false);
    assert_eq!(code, 11, "{text}");
    assert!(text.contains("fix: rua=mailto:dmarc@broken.test"), "{text}");
    assert!(text.contains("no usable policy"), "{text}");
    let (code, text) = check(&bind, "twice.test", true);
    assert_eq!(code, 10);
    assert!(codes(&serde_json::from_str(&text).unwrap()).contains(&"several_records".to_string()));

    // Two records at the fallback domain: no policy for news.twice.test, and the check
    // names the discarded records and their fix instead of only "publish one here"
    // (RFC 9989 §4.10 step 2, RFC 7489 §6.6.3 step 5).
    let (code, text) = check(&bind, "news.twice.test", false);
    assert_eq!(code, 10, "{text}");
    for needle in [
        "no usable DMARC record at _dmarc.news.twice.test or on the way up to the top-level domain: _dmarc.twice.test has 2 DMARC records (all discarded)",
        "error   _dmarc.twice.test holds 2 DMARC records; receivers discard them all",
        "fix: keep exactly one TXT record starting with v=DMARC1 at _dmarc.twice.test",
        "discarded: _dmarc.twice.test has 2 DMARC records (all discarded)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let (_, text) = check(&bind, "news.twice.test", true);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert!(codes(&json).contains(&"several_records".to_string()));
    for method in ["tree_walk", "public_suffix_list"] {
        assert_eq!(
            json["discovery"][method]["discarded"][0]["name"], "_dmarc.twice.test",
            "{method}"
        );
    }

    // One record with a repeated tag: it applies, and is invalid (permerror, RFC 7489
    // §11.2): exit 11 with the mistake and its fix, not "no record" (exit 10).
    let (code, text) = check(&bind, "dup.test", true);
    assert_eq!(code, 11, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["status"], "errors");
    assert_eq!(json["discovery"]["tree_walk"]["result"], "invalid");
    assert_eq!(json["discovery"]["public_suffix_list"]["result"], "invalid");
    assert_eq!(json["applied"]["policy_domain"], "dup.test");
    let c = codes(&json);
    for code in ["record_invalid", "duplicate_tag"] {
        assert!(c.contains(&code.to_string()), "{c:?}");
    }
    assert!(!c.contains(&"no_record".to_string()), "{c:?}");
    let (_, text) = check(&bind, "dup.test", false);
    assert!(
        text.contains("the record is invalid, so DMARC gives permerror"),
        "{text}"
    );

    // A 264-octet record correctly published as two strings: no length warning.
    let (code, text) = check(&bind, "long.test", true);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["published"][0]["strings"], 2);
    assert_eq!(json["published"][0]["text"].as_str().unwrap().len(), 264);
    assert!(
        !codes(&json).contains(&"string_too_long".to_string()),
        "{text}"
    );
    assert_eq!(code, 0, "{text}");

    // Nothing at all.
    let (code, text) = check(&bind, "nothing.test", false);
    assert_eq!(code, 10);
    assert!(
        text.contains("anyone can send mail as nothing.test"),
        "{text}"
    );
}

#[test]
fn dmarc_check_reports_a_dead_resolver_as_temporary() {
    // A port where nothing listens: every query times out (exit 12).
    let port = sendwell_testkit::free_port();
    let out = sendwell(&[
        "dmarc",
        "check",
        "example.test",
        "--resolver",
        &format!("127.0.0.1:{port}"),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(12));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "temperror");
}

#[test]
fn dmarc_build_writes_a_conformant_record() {
    let out = sendwell(&[
        "dmarc",
        "build",
        "--policy",
        "reject",
        "--sp",
        "quarantine",
        "--rua",
        "dmarc@example.com",
        "--adkim",
        "s",
        "--domain",
        "example.com",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:dmarc@example.com\n"
        )
    );
    assert!(text.contains(
        "_dmarc.example.com. IN TXT \"v=DMARC1; p=reject; sp=quarantine; adkim=s; rua=mailto:dmarc@example.com\""
    ));
    // JSON, and a long record split into strings of at most 255 octets.
    let mut args = vec!["dmarc", "build", "--policy", "none", "--json"];
    let addrs: Vec<String> = (0..12)
        .map(|i| format!("reports-{i}@example.com"))
        .collect();
    for a in &addrs {
        args.push("--rua");
        args.push(a);
    }
    let out = sendwell(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let strings: Vec<&str> = json["txt_strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(strings.len() > 1 && strings.iter().all(|s| s.len() <= 255));
    assert_eq!(strings.concat(), json["record"].as_str().unwrap());
    // A report address that is not one is refused (exit 1, with the reason).
    let out = sendwell(&[
        "dmarc",
        "build",
        "--policy",
        "none",
        "--rua",
        "not an address",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a mail address"));
    // Nor is an address that is not an RFC 5322 addr-spec, bare or as a mailto: URI
    // (RFC 6068 §2): exit 1, nothing written.
    for bad in [
        "a b@example.com",
        "mailto:a@b@example.com",
        "mailto://x@example.com",
        "mailto:.a..b@example.com",
    ] {
        let out = sendwell(&["dmarc", "build", "--policy", "reject", "--rua", bad]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(out.stdout.is_empty(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not a mail address"),
            "{bad}"
        );
    }
}
