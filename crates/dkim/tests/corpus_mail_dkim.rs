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
//! Excluded by name and counted: only the legacy DomainKeys cases (`*_dk_*`, `dk_*`: no
//! DKIM-Signature at all, which is checked).
//!
//! The five `good_ietf00_*` files (EXPECTED.txt: `pass SKIP`, Mail::DKIM no longer
//! verifies them) carry draft-ietf-dkim-base-00 signatures of 2006, and must pass under
//! the historic policy. What draft-00 differs in from RFC 6376: the signature has no
//! `v=` and no `bh=`; there is no separate body hash, but one hash over the selected
//! header fields, a CRLF, the canonicalized body, a CRLF, and the DKIM-Signature field
//! with `b=` empty (RFC 6376 §3.7 hashes the body apart and puts its hash in `bh=`).
//! Header selection and the simple/relaxed canonicalizations are those of RFC 6376.
//! Under the default policy they are unusable (RFC 6376 §3.5: `v=` and `bh=` are
//! required), never a pass.

use sendwell_dkim::{
    DkimResult, DkimVerification, Reason, SignatureError, SigningAlgorithm, VerifyPolicy,
};
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
            // Only the draft-00 files are skipped upstream; here they are checked, as
            // draft-00 signatures, below.
            assert!(case.file.starts_with("good_ietf00_"), "{}", case.file);
            assert_eq!(results.len(), 1, "{}", case.file);
            let sig = results[0].signature.as_ref().expect("parsed");
            assert!(sig.is_draft00(), "{}", case.file);
            assert_eq!(sig.a, SigningAlgorithm::RsaSha1);
            ietf00 += 1;
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
    assert_eq!(ietf00, 5, "draft-00 cases checked (as pass), none excluded");
    assert_eq!(checked, 62, "DKIM cases checked");
    assert_eq!(domainkeys + checked, cases.len(), "nothing else excluded");
}

#[test]
fn draft00_signatures_pass_only_under_the_historic_policy() {
    for n in 1..=5 {
        let file = format!("good_ietf00_{n}.txt");
        let historic = run(&file, VerifyPolicy::HISTORIC);
        assert_eq!(historic.len(), 1);
        assert_eq!(
            (historic[0].result, &historic[0].reason),
            (DkimResult::Pass, &Reason::Verified),
            "{file}"
        );
        // RFC 6376 §3.5: v= and bh= are required; the first missing is named.
        let rfc = run(&file, VerifyPolicy::RFC8301);
        assert_eq!(rfc[0].result, DkimResult::Neutral, "{file}");
        assert_eq!(
            rfc[0].reason,
            Reason::Unusable(SignatureError::MissingTag("v")),
            "{file}"
        );
        // One hash covers the body too: a changed body fails.
        let mut changed = data(&format!("mail-dkim/{file}"));
        let at = changed.windows(5).rposition(|w| w == b"quick").unwrap();
        changed[at] = b'Q';
        let dns = fake_dns();
        let v = block_on(sendwell_dkim::verify_with(
            &dns,
            &changed,
            NOW,
            VerifyPolicy::HISTORIC,
        ));
        assert_eq!(
            (v[0].result, &v[0].reason),
            (DkimResult::Fail, &Reason::SignatureMismatch),
            "{file}"
        );
    }
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
        if is_domainkeys(&case.file) {
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
/// Signatures RFC 8301 or the v=1 rule turn from pass/fail/… into permerror or neutral:
/// 49, plus the five draft-00 signatures (pass under the historic policy only).
const EXPECTED_DOWNGRADED: usize = 54;

#[test]
fn the_sample_message_is_processed() {
    // test5.txt has no listed expectation upstream ("check the verifier runs"). Its
    // signature is draft-00 (no v=, no bh=), and its header section has a line without
    // a colon, "Invalid header": malformed (RFC 5322 §2.2), so no pass.
    let r = run("test5.txt", VerifyPolicy::HISTORIC);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].result, DkimResult::PermError);
    assert_eq!(
        r[0].reason,
        Reason::HeaderWithoutColon {
            line: "Invalid header".into()
        }
    );
    assert!(
        r[0].reason
            .to_string()
            .starts_with("header line without a colon: \"Invalid header\""),
        "{}",
        r[0].reason
    );
    // That line is all that stops it: it is not signed (not in h=), and without it the
    // draft-00 signature verifies.
    let text = data("mail-dkim/test5.txt");
    let at = text
        .windows(16)
        .position(|w| w == b"Invalid header\r\n")
        .unwrap();
    let without = [&text[..at], &text[at + 16..]].concat();
    let dns = fake_dns();
    let r = block_on(sendwell_dkim::verify_with(
        &dns,
        &without,
        NOW,
        VerifyPolicy::HISTORIC,
    ));
    assert_eq!(
        (r[0].result, &r[0].reason),
        (DkimResult::Pass, &Reason::Verified)
    );
    // Under RFC 6376 the draft signature is unusable whatever the header section.
    let r = run("test5.txt", VerifyPolicy::RFC8301);
    assert_eq!(r[0].result, DkimResult::Neutral);
}
