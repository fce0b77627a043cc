//! dkimpy 1.1.8's test data (tests/data/dkimpy), cases as EXPECTED.txt lists them.
//!
//! Verify-only vectors are verified as stored. Sign-then-verify cases are signed by
//! Sendwell. dkimpy signs those with `test.private`, a 1024-bit RSA key, which
//! aws-lc-rs will not sign with; here the same key-record variants (test.txt, test2.txt,
//! badversion.txt, badk.txt) are built around dkimpy's 2048-bit test key instead. The
//! cases with `test.private` itself run in crates/sendwell/tests/dkim_interop.rs, where
//! dkimpy signs and Sendwell verifies.

use sendwell_dkim::{
    Canonicalization, CanonicalizationAlgorithm, DkimResult, HeaderSelection, KeyRecord, PublicKey,
    Reason, SignError, Signer, SigningKey,
};

use crate::common::{block_on, crlf, data, mock, record};

const NOW: u64 = 1_700_000_000;

fn verify(dns: &sendwell_dns::MockLookup, message: &[u8]) -> Vec<sendwell_dkim::DkimVerification> {
    block_on(sendwell_dkim::verify(dns, message, NOW))
}

fn rfc8463_keys() -> Vec<(&'static str, String)> {
    vec![
        (
            "test._domainkey.football.example.com",
            record("dkimpy/test.txt"),
        ),
        (
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into(),
        ),
    ]
}

fn dns(records: &[(&str, String)]) -> sendwell_dns::MockLookup {
    let pairs: Vec<(&str, &str)> = records.iter().map(|(n, v)| (*n, v.as_str())).collect();
    mock(&pairs)
}

#[test]
fn verify_only_vectors() {
    let mut checked = 0;
    // rfc6376.signed.msg: Ed25519 and RSA signatures, simple/simple: both pass.
    let results = verify(
        &dns(&rfc8463_keys()),
        &crlf(&data("dkimpy/rfc6376.signed.msg")),
    );
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|v| v.result == DkimResult::Pass),
        "{results:#?}"
    );
    checked += 1;

    // ed25519test2.msg: a prototype Exim's Ed25519 signature.
    let exim = vec![("sed._domainkey.test.ex", record("dkimpy/eximtest.dns"))];
    let results = verify(&dns(&exim), &crlf(&data("dkimpy/ed25519test2.msg")));
    assert_eq!(results[0].result, DkimResult::Pass, "{}", results[0].reason);
    checked += 1;

    // rfc6376.signed.rsa.msg with a corrupted key record: caught, not a pass.
    let good = record("dkimpy/test.txt");
    let bad_base64 = good.replacen("MIGfMA0G", "MIGf!A0G", 1);
    let bad_der = good.replacen("MIGfMA0G", "MIGfMA1G", 1);
    for corrupted in [bad_base64, bad_der] {
        let keys = vec![("test._domainkey.football.example.com", corrupted)];
        let results = verify(&dns(&keys), &crlf(&data("dkimpy/rfc6376.signed.rsa.msg")));
        assert_eq!(
            results[0].result,
            DkimResult::PermError,
            "{}",
            results[0].reason
        );
        assert!(matches!(
            results[0].reason,
            Reason::KeyRecord(_) | Reason::KeyData(_)
        ));
    }
    checked += 1;

    // rfc6376.signed.no_t.msg: x= added and t= removed after signing: fails, no crash.
    let results = verify(
        &dns(&rfc8463_keys()),
        &crlf(&data("dkimpy/rfc6376.signed.no_t.msg")),
    );
    assert_eq!(results[0].result, DkimResult::Fail);
    assert_eq!(results[0].reason, Reason::SignatureMismatch);
    checked += 1;

    // test.message.baddomain: d=legitimate.com(.attacker.com is not a domain: neutral,
    // and DNS is never asked.
    let logged = dns(&rfc8463_keys()).with_query_log();
    let results = verify(&logged, &crlf(&data("dkimpy/test.message.baddomain")));
    assert_eq!(results[0].result, DkimResult::Neutral);
    assert!(logged.queries().is_empty(), "{:?}", logged.queries());
    checked += 1;

    // rfc6376.w1258.msg: Windows-1258 octets in headers. dkimpy returns FAIL after
    // signing (an upstream FIXME); octets are octets here, so sign-then-verify passes.
    let key = SigningKey::from_file_contents(&data("dkimpy/ed25519test.key")).unwrap();
    let message = crlf(&data("dkimpy/rfc6376.w1258.msg"));
    let signer = Signer::new(key, "example.net", "test").unwrap();
    let signed = [signer.sign(&message, NOW).unwrap().into_bytes(), message].concat();
    let ed = vec![(
        "test._domainkey.example.net",
        record("dkimpy/ed25519test.dns"),
    )];
    assert_eq!(verify(&dns(&ed), &signed)[0].result, DkimResult::Pass);
    checked += 1;
    assert_eq!(checked, 6);
}

/// The p= value of a key record file.
fn p_of(file: &str) -> String {
    let text = KeyRecord::parse(record(file).as_bytes())
        .unwrap()
        .to_string();
    text.rsplit_once("p=").unwrap().1.to_string()
}

/// dkimpy's 2048-bit test key and its p= value (SubjectPublicKeyInfo), which must match.
fn rsa_2048() -> (SigningKey, String) {
    let key = SigningKey::from_file_contents(&data("dkimpy/2048_testkey.key")).unwrap();
    let p = p_of("dkimpy/2048_testkey_wo_markers.pub.txt");
    let own = key.key_record().to_string();
    assert_eq!(own.rsplit_once("p=").unwrap().1, p);
    (key, p)
}

/// The key records of test.txt, test2.txt, badversion.txt and badk.txt, with the
/// 2048-bit key's p= in place of test.private's.
fn record_variants(p: &str) -> Vec<(&'static str, String, bool)> {
    let original_p = p_of("dkimpy/test.txt");
    ["test.txt", "test2.txt", "badversion.txt", "badk.txt"]
        .iter()
        .map(|file| {
            let text = record(&format!("dkimpy/{file}")).replace(&original_p, p);
            assert!(text.contains(p), "{file}");
            (*file, text, matches!(*file, "test.txt" | "test2.txt"))
        })
        .collect()
}

#[test]
fn sign_then_verify_with_each_key_record() {
    let (key, p) = rsa_2048();
    let signer = Signer::new(key, "example.com", "test").unwrap();
    let mut checked = 0;
    for message_file in [
        "test.message",
        "test2.message",
        "message.mbox",
        "test_extra.message",
    ] {
        let message = crlf(&data(&format!("dkimpy/{message_file}")));
        let signed = [signer.sign(&message, NOW).unwrap().into_bytes(), message].concat();
        for (record_file, text, should_pass) in record_variants(&p) {
            let results = verify(&mock(&[("test._domainkey.example.com", &text)]), &signed);
            assert_eq!(
                results[0].result == DkimResult::Pass,
                should_pass,
                "{message_file} with {record_file}: {} ({})",
                results[0].result,
                results[0].reason
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn ed25519_sign_then_verify_in_all_four_canonicalizations() {
    use CanonicalizationAlgorithm::{Relaxed, Simple};
    let message = crlf(&data("dkimpy/ed25519test.msg"));
    let dns = dns(&[(
        "test._domainkey.example.net",
        record("dkimpy/ed25519test.dns"),
    )]);
    for header in [Simple, Relaxed] {
        for body in [Simple, Relaxed] {
            let key = SigningKey::from_file_contents(&data("dkimpy/ed25519test.key")).unwrap();
            let signer = Signer::new(key, "example.net", "test")
                .unwrap()
                .canonicalization(Canonicalization { header, body });
            let signed = [
                signer.sign(&message, NOW).unwrap().into_bytes(),
                message.clone(),
            ]
            .concat();
            let results = verify(&dns, &signed);
            assert_eq!(results[0].result, DkimResult::Pass, "{header:?}/{body:?}");
        }
    }
}

#[test]
fn no_from_cannot_be_signed_and_two_from_cannot_pass() {
    let (key, p) = rsa_2048();
    let signer = Signer::new(key, "example.com", "test").unwrap();
    let nofrom = crlf(&data("dkimpy/test_nofrom.message"));
    assert!(matches!(signer.sign(&nofrom, NOW), Err(SignError::NoFrom)));

    // A signature over one From (h=from, not oversigned), then a second From added on
    // top: the signature itself still checks out, but the message cannot pass.
    let message = crlf(&data("dkimpy/test.message"));
    let once = signer
        .clone()
        .headers(HeaderSelection::Exact(vec![
            "from".into(),
            "subject".into(),
        ]))
        .unwrap();
    let field = once.sign(&message, NOW).unwrap();
    let two_from = [
        field.as_bytes(),
        b"From: Attacker <ceo@example.com>\r\n",
        &message,
    ]
    .concat();
    let dns = mock(&[("test._domainkey.example.com", &format!("v=DKIM1; p={p}"))]);
    let results = verify(&dns, &two_from);
    assert_eq!(results[0].result, DkimResult::Policy);
    assert_eq!(results[0].reason, Reason::SeveralFrom(2));
    // With the default (oversigned) header list the added From breaks the signature.
    let field = signer.sign(&message, NOW).unwrap();
    let two_from = [
        field.as_bytes(),
        b"From: Attacker <ceo@example.com>\r\n",
        &message,
    ]
    .concat();
    assert_eq!(verify(&dns, &two_from)[0].result, DkimResult::Fail);
}

#[test]
fn key_format_fixtures() {
    // Private keys: PKCS#1 and PKCS#8 PEM; the 1024-bit one is refused for signing.
    assert_eq!(
        SigningKey::from_file_contents(&data("dkimpy/1024_testkey.key")).unwrap_err(),
        sendwell_dkim::KeyError::RsaKeyTooShort { bits: 1024 }
    );
    for file in ["2048_testkey.key", "2048_testkey_PKCS8.key"] {
        let key = SigningKey::from_file_contents(&data(&format!("dkimpy/{file}"))).unwrap();
        assert_eq!(key.bits(), 2048, "{file}");
    }
    // Public keys: SubjectPublicKeyInfo and bare RSAPublicKey, both readable.
    for (file, bits) in [
        ("1024_testkey_wo_markers.pub.txt", 1024),
        ("1024_testkey_wo_markers.pub.rsa.txt", 1024),
        ("2048_testkey_wo_markers.pub.txt", 2048),
        ("2048_testkey_wo_markers.pub.rsa.txt", 2048),
    ] {
        let r = KeyRecord::parse(record(&format!("dkimpy/{file}")).as_bytes()).unwrap();
        assert_eq!(PublicKey::from_record(&r).unwrap().bits(), bits, "{file}");
    }
    // The PKCS#8 key's public half matches its published form.
    let key = SigningKey::from_file_contents(&data("dkimpy/2048_testkey_PKCS8.key")).unwrap();
    let published =
        KeyRecord::parse(record("dkimpy/2048_testkey_PKCS8.key.pub.txt").as_bytes()).unwrap();
    assert_eq!(published.p, key.public_key_data());
    // test_bad.txt: p= is not an RSA key.
    let bad = KeyRecord::parse(record("dkimpy/test_bad.txt").as_bytes()).unwrap();
    assert!(PublicKey::from_record(&bad).is_err());
    // test_tlsrpt.txt: s=tlsrpt, not for mail.
    let tlsrpt = KeyRecord::parse(record("dkimpy/test_tlsrpt.txt").as_bytes()).unwrap();
    assert!(!tlsrpt.allows_email());
}

#[test]
fn tlsrpt_keys_do_not_verify_mail() {
    let (key, p) = rsa_2048();
    let signer = Signer::new(key, "example.com", "test").unwrap();
    let message = crlf(&data("dkimpy/test.message"));
    let signed = [signer.sign(&message, NOW).unwrap().into_bytes(), message].concat();
    let text = record("dkimpy/test_tlsrpt.txt");
    let dns = mock(&[(
        "test._domainkey.example.com",
        &text.replace(&p_of("dkimpy/test_tlsrpt.txt"), &p),
    )]);
    let results = verify(&dns, &signed);
    assert_eq!(results[0].result, DkimResult::PermError);
    assert!(matches!(results[0].reason, Reason::KeyNotForEmail { .. }));
}
