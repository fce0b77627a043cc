//! The Public Suffix List's test vectors, run against the list shipped in the crate.

use sendwell_dmarc::psl;

fn expected(s: &str) -> Option<String> {
    (s != "null").then(|| s.to_string())
}

fn input(s: &str) -> Option<&str> {
    (s != "null").then_some(s)
}

fn check(domain: Option<&str>, want: Option<String>) -> Result<(), String> {
    let got = domain.and_then(|d| psl::embedded().registrable_domain(d));
    if got == want {
        Ok(())
    } else {
        Err(format!("{domain:?}: got {got:?}, want {want:?}"))
    }
}

#[test]
fn tests_txt() {
    // Format: `<domain> <registrable-domain|null>`, `//` comments.
    let text = include_str!("data/psl_tests.txt");
    let mut count = 0;
    let mut failures = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(domain), Some(want)) = (parts.next(), parts.next()) else {
            panic!("bad vector line {line:?}");
        };
        count += 1;
        if let Err(e) = check(input(domain), expected(want)) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(count, 78, "tests.txt has 78 vectors");
}

#[test]
fn test_psl_txt() {
    // Format: `checkPublicSuffix('in', 'expected');` with null for none.
    let text = include_str!("data/psl_test_psl.txt");
    let mut count = 0;
    let mut failures = Vec::new();
    for line in text.lines() {
        let Some(args) = line
            .trim()
            .strip_prefix("checkPublicSuffix(")
            .and_then(|r| r.strip_suffix(");"))
        else {
            continue;
        };
        let (a, b) = args.split_once(", ").expect("two arguments");
        let unquote = |s: &str| s.trim_matches('\'').to_string();
        count += 1;
        if let Err(e) = check(input(&unquote(a)), expected(&unquote(b))) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(count, 78, "test_psl.txt has 78 active vectors");
}

#[test]
fn private_and_icann_suffixes() {
    let list = psl::embedded();
    // co.uk (ICANN, two labels), blogspot.com and github.io (PRIVATE).
    assert_eq!(
        list.registrable_domain("mail.example.co.uk").as_deref(),
        Some("example.co.uk")
    );
    assert_eq!(
        list.registrable_domain("alice.github.io").as_deref(),
        Some("alice.github.io")
    );
    assert!(list.public_suffix("alice.github.io").unwrap().private);
    assert!(!list.public_suffix("example.co.uk").unwrap().private);
}
