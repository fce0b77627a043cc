//! The RFC examples: RFC 6376 §3.4.5 canonicalization, and RFC 8463 Appendix A, whose
//! Ed25519 signature (deterministic, RFC 8032) must be reproduced byte for byte.

use sendwell_dkim::canonicalize::{canonicalize_body, canonicalize_header};
use sendwell_dkim::message::Message;
use sendwell_dkim::{CanonicalizationAlgorithm, SigningKey, sign_with_field};

use crate::common::{crlf, data};

/// RFC 6376 §3.4.5: the example message, with its SP and HTAB spelled out.
const EXAMPLE: &[u8] = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";

fn headers(algorithm: CanonicalizationAlgorithm, message: &[u8]) -> Vec<u8> {
    let m = Message::parse(message);
    let mut out = Vec::new();
    for f in m.headers() {
        canonicalize_header(algorithm, m.name(f), m.raw(f), &mut out);
    }
    out
}

#[test]
fn rfc6376_3_4_5_relaxed() {
    assert_eq!(
        headers(CanonicalizationAlgorithm::Relaxed, EXAMPLE),
        b"a:X\r\nb:Y Z\r\n"
    );
    let m = Message::parse(EXAMPLE);
    assert_eq!(
        canonicalize_body(CanonicalizationAlgorithm::Relaxed, m.body()),
        b" C\r\nD E\r\n"
    );
}

#[test]
fn rfc6376_3_4_5_simple() {
    assert_eq!(
        headers(CanonicalizationAlgorithm::Simple, EXAMPLE),
        b"A: X\r\nB : Y\t\r\n\tZ  \r\n"
    );
    let m = Message::parse(EXAMPLE);
    assert_eq!(
        canonicalize_body(CanonicalizationAlgorithm::Simple, m.body()),
        b" C \r\nD \t E\r\n"
    );
}

/// The Ed25519 DKIM-Signature field of RFC 8463 Appendix A.3 (mail-auth-dkim/001.txt),
/// split into the field with `b=` empty and the `b=` value without whitespace.
fn rfc8463_ed25519_field() -> (String, String) {
    let text = String::from_utf8(crlf(&data("mail-auth-dkim/001.txt"))).unwrap();
    let message = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let end = message.find("\r\nDKIM-Signature:").unwrap() + 2;
    let field = &message[..end];
    assert!(field.contains("a=ed25519-sha256"));
    let b_at = field.rfind(" b=").unwrap() + 3;
    let unsigned = field[..b_at].to_string();
    let b: String = field[b_at..]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (unsigned, b)
}

#[test]
fn rfc8463_appendix_a_ed25519_signature_byte_for_byte() {
    let key = SigningKey::from_file_contents(&data("dkimpy/rfc8032_7_1.key")).unwrap();
    // A.2: the public key of the brisbane selector.
    assert_eq!(
        key.key_record().to_string(),
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    );
    // A.1: the unsigned message (RFC 6376 Appendix A's).
    let message = crlf(&data("dkimpy/rfc6376.msg"));
    let (unsigned, expected_b) = rfc8463_ed25519_field();
    let b = sign_with_field(&key, &message, &unsigned).unwrap();
    assert_eq!(b, expected_b);
    assert_eq!(
        b,
        "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="
    );
}

#[test]
fn rfc8463_rsa_key_reads_but_is_too_short_to_sign_with() {
    // A.1's RSA key is 1024 bits: aws-lc-rs signs only with 2048 bits or more, and
    // Sendwell says so instead of failing obscurely. (Its RSA signature is checked by
    // verification in corpus_mail_auth.)
    let err = SigningKey::from_file_contents(&data("dkimpy/test.private")).unwrap_err();
    assert_eq!(err, sendwell_dkim::KeyError::RsaKeyTooShort { bits: 1024 });
}

#[test]
fn a_wrong_body_hash_in_a_prepared_field_is_refused() {
    let key = SigningKey::from_file_contents(&data("dkimpy/rfc8032_7_1.key")).unwrap();
    let (unsigned, _) = rfc8463_ed25519_field();
    let mut message = crlf(&data("dkimpy/rfc6376.msg"));
    message.extend_from_slice(b"extra\r\n");
    assert!(matches!(
        sign_with_field(&key, &message, &unsigned),
        Err(sendwell_dkim::SignError::BodyHashMismatch { .. })
    ));
}
