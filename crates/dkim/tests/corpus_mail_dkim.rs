//! Mail::DKIM's verifier corpus (tests/data/mail-dkim, see SOURCES.md) against its
//! EXPECTED.txt. Mail::DKIM's words map onto RFC 8601 results: `pass` → pass, `fail` →
//! fail, `invalid` → permerror, temperror or neutral.
//!
//! The corpus dates from 2006-2023: most signatures are rsa-sha1, many keys are 512 or
//! 768 bits, some signatures are pre-RFC drafts. So it runs twice:
//! - under [`VerifyPolicy::HISTORIC`] every case must get Mail::DKIM's result;
//! - under the default RFC 8301 policy every result must be the same, except that
//!   signatures RFC 8301 invalidates (rsa-sha1, RSA keys under 1024 bits) and draft
//!   signatures are permerror/neutral, never pass. Those changes are counted.
//!
//! Excluded by name and counted: legacy DomainKeys cases (`*_dk_*`, `dk_*`: no
//! DKIM-Signature at all, which is checked), and the five `ietf00` files Mail::DKIM
//! skips itself (pre-standard signatures without `bh=`, which must not pass).

use sendwell_dkim::{DkimResult, DkimVerification, Reason, SignatureError, VerifyPolicy};
use sendwell_dns::{MockLookup, MockRecord, Txt};

use crate::common::{block_on, data, files};

/// Verification time: after every t= of the corpus, after ignore_7's x=.
const NOW: u64 = 1_667_843_664;

fn fake_dns() -> MockLookup {
    let text = String::from_utf8(data("mail-dkim/FAKE_DNS.dat")).unwrap();
    let mut dns = MockLookup::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(char::is_whitespace).unwrap();
        let value = value.trim();
        let record = match value {
            "NXDOMAIN" => continue,
            "~~Query timed out~~" => MockRecord::Timeout,
            "~~SERVFAIL~~" => MockRecord::ServFail,
            "\"\"" => MockRecord::Txt(Txt::new([Vec::new()])),
            v => MockRecord::Txt(Txt::new([v.as_bytes().to_vec()])),
        };
        dns.add(name, record);
    }
    dns
}

struct Case {
    file: String,
    expected: String,
    skipped_upstream: bool,
}

fn expected_cases() -> Vec<Case> {
    let text = String::from_utf8(data("mail-dkim/EXPECTED.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let l = l.split('#').next().unwrap();
            let words: Vec<&str> = l.split_whitespace().collect();
            Case {
                file: words[0].to_string(),
                expected: words[1].to_string(),
                skipped_upstream: words.get(2) == Some(&"SKIP"),
            }
        })
        .collect()
}

fn is_domainkeys(file: &str) -> bool {
    file.contains("_dk_") || file.starts_with("dk_")
}

/// Mail::DKIM's message result: pass if any signature passes, else fail if any
/// fails, else invalid.
fn message_word(results: &[DkimVerification]) -> &'static str {
    if results.iter().any(|v| v.result == DkimResult::Pass) {
        "pass"
    } else if results.iter().any(|v| v.result == DkimResult::Fail) {
        "fail"
    } else {
        "invalid"
    }
}

fn run(file: &str, policy: VerifyPolicy) -> Vec<DkimVerification> {
    let dns = fake_dns();
    block_on(sendwell_dkim::verify_with(
        &dns,
        &data(&format!("mail-dkim/{file}")),
        NOW,
        policy,
    ))
}

#[test]
fn every_case_gets_mail_dkim_result() {
    let cases = expected_cases();
    let mut checked = 0;
    let mut domainkeys = 0;
    let mut ietf00 = 0;
    for case in &cases {
        let results = run(&case.file, VerifyPolicy::HISTORIC);
        if is_domainkeys(&case.file) {
            // Legacy DomainKeys (DomainKey-Signature), not DKIM: nothing to verify.
            assert!(
                results.is_empty(),
                "{}: DomainKeys file has a DKIM signature",
                case.file
            );
            domainkeys += 1;
            continue;
        }
        if case.skipped_upstream {
            // Pre-standard ietf00 signatures: no bh= tag. Not a pass, and said why.
            assert!(case.file.contains("ietf00"), "{}", case.file);
            assert_eq!(results.len(), 1);
            assert_eq!(results[0].result, DkimResult::Neutral, "{}", case.file);
            assert_eq!(
                results[0].reason,
                Reason::Unusable(SignatureError::MissingTag("bh")),
                "{}",
                case.file
            );
            ietf00 += 1;
            continue;
        }
        assert!(!results.is_empty(), "{}: no signature found", case.file);
        assert_eq!(
            message_word(&results),
            case.expected,
            "{}: {:#?}",
            case.file,
            results
                .iter()
                .map(|v| format!("{} ({})", v.result, v.reason))
                .collect::<Vec<_>>()
        );
        checked += 1;
    }
    // 82 files: 79 messages listed in EXPECTED.txt, test5.txt, the DNS and EXPECTED.txt.
    assert_eq!(files("mail-dkim").len(), 82);
    assert_eq!(cases.len(), 79);
    assert_eq!(domainkeys, 17, "legacy DomainKeys cases excluded");
    assert_eq!(ietf00, 5, "pre-standard ietf00 cases excluded");
    assert_eq!(checked, 57, "DKIM cases checked");
}

#[test]
fn per_signature_expectations() {
    use DkimResult::*;
    // multiple_2.txt: signature 1 invalid (c=foobar), 2 pass, 3 fail; the 4th is
    // "DKIM-Signature: synerr".
    let r = run("multiple_2.txt", VerifyPolicy::HISTORIC);
    let results: Vec<DkimResult> = r.iter().map(|v| v.result).collect();
    assert_eq!(results, [Neutral, Pass, Fail, Neutral]);
    // bad_ietf01_1: the body changed; _2: a header changed; _3: the RSA signature is bad.
    let reason = |f: &str| run(f, VerifyPolicy::HISTORIC).remove(0).reason;
    assert!(matches!(
        reason("bad_ietf01_1.txt"),
        Reason::BodyHashMismatch { .. }
    ));
    assert_eq!(reason("bad_ietf01_2.txt"), Reason::SignatureMismatch);
    assert_eq!(reason("bad_ietf01_3.txt"), Reason::SignatureMismatch);
    // badkey_1..15: each about the key; 14 and 15 are DNS failures (temperror).
    for n in 1..=15 {
        let v = run(&format!("badkey_{n}.txt"), VerifyPolicy::HISTORIC).remove(0);
        let expected = if n >= 14 { TempError } else { PermError };
        assert_eq!(v.result, expected, "badkey_{n}: {}", v.reason);
        let about_key = matches!(
            v.reason,
            Reason::KeyNotFound { .. }
                | Reason::KeyRevoked
                | Reason::KeyRecord(_)
                | Reason::KeyData(_)
                | Reason::KeyTypeMismatch { .. }
                | Reason::KeyHashNotAllowed { .. }
                | Reason::KeyNotForEmail { .. }
                | Reason::KeyGranularity { .. }
                | Reason::KeyStrictIdentity
                | Reason::KeyLookupFailed { .. }
        );
        assert!(about_key, "badkey_{n}: {}", v.reason);
    }
    assert_eq!(reason("badkey_2.txt"), Reason::KeyRevoked);
    assert!(matches!(reason("ignore_7.txt"), Reason::Expired { .. }));
    // Ed25519: good key passes, modified header/body fail, bad keys are permerror.
    assert_eq!(
        run("goodkey_ed25519.txt", VerifyPolicy::RFC8301)[0].result,
        Pass
    );
    assert_eq!(reason("badkey2_ed25519.txt"), Reason::SignatureMismatch);
    assert!(matches!(
        reason("badkey3_ed25519.txt"),
        Reason::BodyHashMismatch { .. }
    ));
    assert!(matches!(reason("badkey1_ed25519.txt"), Reason::KeyData(_)));
}

#[test]
fn rfc8301_policy_changes_only_what_it_must() {
    let mut downgraded = 0;
    let mut same = 0;
    for case in expected_cases() {
        if is_domainkeys(&case.file) || case.skipped_upstream {
            continue;
        }
        let historic = run(&case.file, VerifyPolicy::HISTORIC);
        let rfc = run(&case.file, VerifyPolicy::RFC8301);
        assert_eq!(historic.len(), rfc.len());
        for (h, r) in historic.iter().zip(&rfc) {
            if h.result == r.result && h.reason == r.reason {
                same += 1;
                continue;
            }
            let why_allowed = matches!(r.reason, Reason::Sha1 | Reason::KeyTooShort { .. })
                || matches!(
                    r.reason,
                    Reason::Unusable(
                        SignatureError::MissingTag("v") | SignatureError::UnsupportedVersion(_)
                    )
                );
            assert!(
                why_allowed,
                "{}: historic {} ({}), RFC 8301 {} ({})",
                case.file, h.result, h.reason, r.result, r.reason
            );
            assert_ne!(r.result, DkimResult::Pass);
            downgraded += 1;
        }
    }
    // Counted: signatures whose result RFC 8301 (or the v=1 requirement) changes.
    assert_eq!((same, downgraded), (EXPECTED_SAME, EXPECTED_DOWNGRADED));
}

/// Signatures with the same result under both policies (rsa-sha256, keys of 1024 bits
/// or more, v=1; or failing before RFC 8301 matters).
const EXPECTED_SAME: usize = 14;
/// Signatures RFC 8301 or the v=1 rule turn from pass/fail/… into permerror or neutral.
const EXPECTED_DOWNGRADED: usize = 49;

#[test]
fn the_sample_message_is_processed() {
    // test5.txt has no listed expectation upstream ("check the verifier runs"). Its
    // signature is pre-standard (no bh=): the verifier runs and says so.
    let r = run("test5.txt", VerifyPolicy::HISTORIC);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].result, DkimResult::Neutral);
    assert_eq!(
        r[0].reason,
        Reason::Unusable(SignatureError::MissingTag("bh"))
    );
}
