//! Messages as the real world sends them, signed (RSA-2048 and Ed25519 together, one
//! pass over the body) and verified; and the changes relays make, which relaxed
//! canonicalization must survive and simple must not.

use sendwell_dkim::{
    Canonicalization, DkimResult, DkimVerification, Reason, Signer, SigningKey, Warning, sign_all,
};

use crate::common::{block_on, data, mock};

const NOW: u64 = 1_700_000_000;

fn signers(c: Canonicalization) -> (Vec<Signer>, sendwell_dns::MockLookup) {
    let rsa = SigningKey::from_file_contents(&data("dkimpy/2048_testkey.key")).unwrap();
    let ed = SigningKey::from_file_contents(&data("dkimpy/ed25519test.key")).unwrap();
    let rsa_record = rsa.key_record().to_string();
    let ed_record = ed.key_record().to_string();
    let signers = vec![
        Signer::new(rsa, "example.com", "rsa")
            .unwrap()
            .canonicalization(c),
        Signer::new(ed, "example.com", "ed")
            .unwrap()
            .canonicalization(c),
    ];
    let dns = mock(&[
        ("rsa._domainkey.example.com", &rsa_record),
        ("ed._domainkey.example.com", &ed_record),
    ]);
    (signers, dns)
}

/// Sign with both keys; return the signed message and the DNS.
fn dual_sign(message: &[u8], c: Canonicalization) -> (Vec<u8>, sendwell_dns::MockLookup) {
    let (signers, dns) = signers(c);
    let fields = sign_all(&signers, message, NOW).unwrap();
    assert_eq!(fields.len(), 2);
    let mut signed = fields.concat().into_bytes();
    signed.extend_from_slice(message);
    (signed, dns)
}

fn verify(dns: &sendwell_dns::MockLookup, message: &[u8]) -> Vec<DkimVerification> {
    block_on(sendwell_dkim::verify(dns, message, NOW))
}

fn all_pass(results: &[DkimVerification]) -> bool {
    results.len() == 2 && results.iter().all(|v| v.result == DkimResult::Pass)
}

const EIGHT_BIT: &[u8] = b"From: J\xc3\xbcrgen <j@example.com>\r\nTo: b@example.org\r\nSubject: Gr\xc3\xbc\xc3\x9fe\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe, \xe2\x82\xac 10.\r\n\xff\xfe raw octets\r\n";

const QUOTED_PRINTABLE: &[u8] = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: =?utf-8?Q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nA long line that is soft-broken by quoted-printable encoding at the=\r\n seventy-sixth column, with caf=C3=A9 and an =3D sign.=20\r\n";

fn long_folded() -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: ".to_vec();
    for i in 0..40 {
        m.extend_from_slice(format!("person{i}@example.org,\r\n\t").as_bytes());
    }
    m.extend_from_slice(b"last@example.org\r\nSubject: a subject folded\r\n   over\r\n \t three lines\r\nReferences: <a@x>\r\n <b@x>\r\n\r\nbody\r\n");
    m
}

#[test]
fn real_world_messages_pass() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("8-bit", EIGHT_BIT.to_vec()),
        ("quoted-printable", QUOTED_PRINTABLE.to_vec()),
        ("long folded headers", long_folded()),
        (
            "empty body",
            b"From: a@example.com\r\nSubject: x\r\n\r\n".to_vec(),
        ),
        (
            "no body at all",
            b"From: a@example.com\r\nSubject: x\r\n".to_vec(),
        ),
        (
            "trailing whitespace",
            b"From: a@example.com \r\nSubject: x\t\r\n\r\nline  \r\n\t\r\n\r\n".to_vec(),
        ),
        (
            "LF only",
            b"From: a@example.com\nSubject: x\n\nline one\nline two\n".to_vec(),
        ),
        (
            "CR alone in body",
            b"From: a@example.com\r\n\r\na\rb\r\n".to_vec(),
        ),
    ];
    for c in [Canonicalization::RELAXED, Canonicalization::SIMPLE] {
        for (name, message) in &cases {
            let (signed, dns) = dual_sign(message, c);
            let results = verify(&dns, &signed);
            assert!(all_pass(&results), "{name} {c}: {results:#?}");
        }
    }
}

#[test]
fn lf_only_input_is_signed_as_crlf() {
    let lf = b"From: a@example.com\nSubject: x\n\nline one\nline two\n";
    let (signed, dns) = dual_sign(lf, Canonicalization::SIMPLE);
    // The signature is the same whether the verifier sees LF or CRLF.
    let crlf = crate::common::crlf(&signed);
    assert!(all_pass(&verify(&dns, &signed)));
    assert!(all_pass(&verify(&dns, &crlf)));
}

#[test]
fn relaxed_survives_relays_and_simple_does_not() {
    let message =
        b"From: a@example.com\r\nSubject: hello  world\r\n\r\nline one \r\nline  two\r\n\r\n\r\n";
    // What relays do: refold a header, change header-name case, strip trailing
    // whitespace, drop trailing empty lines.
    let rewrite = |signed: &[u8]| -> Vec<u8> {
        String::from_utf8(signed.to_vec())
            .unwrap()
            .replace("Subject: hello  world", "subject:  hello\r\n world")
            .replace("line one \r\n", "line one\r\n")
            .replace("line  two\r\n\r\n\r\n", "line two\r\n")
            .into_bytes()
    };
    let (signed, dns) = dual_sign(message, Canonicalization::RELAXED);
    assert!(all_pass(&verify(&dns, &rewrite(&signed))));
    let (signed, dns) = dual_sign(message, Canonicalization::SIMPLE);
    let results = verify(&dns, &rewrite(&signed));
    assert!(results.iter().all(|v| v.result == DkimResult::Fail));
}

#[test]
fn one_changed_byte_fails_both_signatures() {
    let (signed, dns) = dual_sign(QUOTED_PRINTABLE, Canonicalization::RELAXED);
    let text = String::from_utf8(signed.clone()).unwrap();
    let body_at = text.find("seventy").unwrap();
    let subject_at = text.find("Subject: =?utf-8").unwrap() + 12;
    let from_at = text.find("\r\nFrom: a@").unwrap() + 9;
    for at in [body_at, subject_at, from_at] {
        let mut changed = signed.clone();
        changed[at] ^= 0x01;
        let results = verify(&dns, &changed);
        assert!(
            results.iter().all(|v| v.result == DkimResult::Fail),
            "byte {at}: {results:#?}"
        );
    }
    let body_result = verify(&dns, &{
        let mut c = signed.clone();
        c[body_at] ^= 0x01;
        c
    });
    assert!(
        matches!(body_result[0].reason, Reason::BodyHashMismatch { canonical_length } if canonical_length > 100)
    );
}

#[test]
fn warnings_for_testing_keys_and_weak_keys() {
    let (signers, _) = signers(Canonicalization::RELAXED);
    let message = b"From: a@example.com\r\n\r\nhi\r\n";
    let signed = [
        signers[0].sign(message, NOW).unwrap().into_bytes(),
        message.to_vec(),
    ]
    .concat();
    let record = format!("{}; t=y", signers[0].key().key_record());
    let dns = mock(&[("rsa._domainkey.example.com", &record)]);
    let results = verify(&dns, &signed);
    assert_eq!(results[0].result, DkimResult::Pass);
    assert_eq!(results[0].warnings, [Warning::Testing]);
}

#[test]
fn expired_and_unknown_keys() {
    let (signers, dns) = signers(Canonicalization::RELAXED);
    let message = b"From: a@example.com\r\n\r\nhi\r\n";
    let short_lived = signers[1].clone().expiration(Some(60));
    let signed = [
        short_lived.sign(message, NOW).unwrap().into_bytes(),
        message.to_vec(),
    ]
    .concat();
    let later = block_on(sendwell_dkim::verify(&dns, &signed, NOW + 61));
    assert_eq!(later[0].result, DkimResult::PermError);
    assert!(matches!(later[0].reason, Reason::Expired { .. }));
    let nothing = mock(&[]);
    let results = verify(&nothing, &signed);
    assert_eq!(results[0].result, DkimResult::PermError);
    assert_eq!(
        results[0].reason.to_string(),
        "key not found: no DKIM key record at ed._domainkey.example.com"
    );
    let mut timeout = sendwell_dns::MockLookup::new();
    timeout.add(
        "ed._domainkey.example.com",
        sendwell_dns::MockRecord::Timeout,
    );
    assert_eq!(verify(&timeout, &signed)[0].result, DkimResult::TempError);
}

#[test]
fn unsigned_messages_have_no_results() {
    assert!(verify(&mock(&[]), b"From: a@example.com\r\n\r\nhi\r\n").is_empty());
}

#[test]
fn a_body_length_tag_is_warned_about() {
    // Sendwell never writes l=; a field with it (written by hand) verifies, with a warning,
    // and content appended after signing does not break it: that is the danger.
    let key = SigningKey::from_file_contents(&data("dkimpy/ed25519test.key")).unwrap();
    let record = key.key_record().to_string();
    let message = b"From: a@example.com\r\n\r\nsigned part\r\n";
    let bh = {
        use base64::Engine;
        let h = sendwell_dkim::hash::body_hash(
            b"signed part\r\n",
            sendwell_dkim::CanonicalizationAlgorithm::Relaxed,
            sendwell_dkim::HashAlgorithm::Sha256,
            Some(13),
        );
        base64::engine::general_purpose::STANDARD.encode(h.digest)
    };
    let unsigned = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=ed; l=13; h=from; bh={bh}; b="
    );
    let b = sendwell_dkim::sign_with_field(&key, message, &unsigned).unwrap();
    let mut signed = format!("{unsigned}{b}\r\n").into_bytes();
    signed.extend_from_slice(message);
    signed.extend_from_slice(b"APPENDED BY SOMEONE ELSE\r\n");
    let dns = mock(&[("ed._domainkey.example.com", &record)]);
    let results = verify(&dns, &signed);
    assert_eq!(results[0].result, DkimResult::Pass);
    assert!(matches!(
        results[0].warnings[0],
        Warning::BodyLength { l: 13, .. }
    ));
}

#[test]
fn a_long_lived_verifier_follows_key_changes() {
    // The Verifier keeps parsed keys by their p= data: when the record at a name changes,
    // the new key is used, never the old one.
    let verifier = sendwell_dkim::Verifier::new(sendwell_dkim::VerifyPolicy::RFC8301);
    let message = b"From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n";
    let old = SigningKey::from_file_contents(&data("dkimpy/ed25519test.key")).unwrap();
    let new = SigningKey::from_file_contents(&data("dkimpy/rfc8032_7_1.key")).unwrap();
    let old_record = old.key_record().to_string();
    let new_record = new.key_record().to_string();
    let sign = |key: SigningKey| {
        let signer = Signer::new(key, "example.com", "sel").unwrap();
        [
            signer.sign(message, NOW).unwrap().into_bytes(),
            message.to_vec(),
        ]
        .concat()
    };
    let (by_old, by_new) = (sign(old), sign(new));
    let before = mock(&[("sel._domainkey.example.com", &old_record)]);
    let after = mock(&[("sel._domainkey.example.com", &new_record)]);
    for _ in 0..2 {
        let r = block_on(verifier.verify(&before, &by_old, NOW));
        assert_eq!(r[0].result, DkimResult::Pass);
        let r = block_on(verifier.verify(&after, &by_old, NOW));
        assert_eq!(r[0].result, DkimResult::Fail);
        let r = block_on(verifier.verify(&after, &by_new, NOW));
        assert_eq!(r[0].result, DkimResult::Pass);
    }
}
