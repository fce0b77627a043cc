//! mail-auth's DKIM vectors (tests/data/mail-auth-dkim): each file is TXT records,
//! an empty line, then the message with LF endings. Expected: the last signature
//! passes at time 1667843664; for 001 (RFC 8463 Appendix A) both signatures pass.

use sendwell_dkim::DkimResult;

use crate::common::{block_on, crlf, data, mock};

const NOW: u64 = 1_667_843_664;

/// (DNS, message) of one vector.
fn vector(n: u32) -> (sendwell_dns::MockLookup, Vec<u8>) {
    let text = data(&format!("mail-auth-dkim/{n:03}.txt"));
    let split = text.windows(2).position(|w| w == b"\n\n").unwrap();
    let records = String::from_utf8(text[..split].to_vec()).unwrap();
    let pairs: Vec<(&str, &str)> = records
        .lines()
        .map(|l| l.split_once(' ').unwrap())
        .collect();
    (mock(&pairs), crlf(&text[split + 2..]))
}

#[test]
fn every_vector_passes() {
    let mut checked = 0;
    for n in 1..=6 {
        let (dns, message) = vector(n);
        let results = block_on(sendwell_dkim::verify(&dns, &message, NOW));
        let last = results.last().unwrap();
        assert_eq!(
            last.result,
            DkimResult::Pass,
            "{n:03}: {} ({})",
            last.result,
            last.reason
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}

#[test]
fn rfc8463_appendix_a_both_signatures_pass() {
    let (dns, message) = vector(1);
    let results = block_on(sendwell_dkim::verify(&dns, &message, NOW));
    let summary: Vec<(String, String, DkimResult)> = results
        .iter()
        .map(|v| (v.selector.clone(), v.algorithm.clone(), v.result))
        .collect();
    assert_eq!(
        summary,
        [
            ("brisbane".into(), "ed25519-sha256".into(), DkimResult::Pass),
            ("test".into(), "rsa-sha256".into(), DkimResult::Pass),
        ]
    );
    assert_eq!(results[0].domain, "football.example.com");
    assert_eq!(
        results[0].identity.as_deref(),
        Some("@football.example.com")
    );
    assert_eq!(results[0].header_b, "/gCrinpc");
    assert_eq!(results[1].header_b, "F45dVWDf");
    assert_eq!(results[1].key_bits, Some(1024));
}

#[test]
fn the_bare_rsa_public_key_form_verifies() {
    // 002: p= is an RSAPublicKey without the SubjectPublicKeyInfo wrapper.
    let (dns, message) = vector(2);
    let results = block_on(sendwell_dkim::verify(&dns, &message, NOW));
    assert_eq!(results[0].result, DkimResult::Pass, "{}", results[0].reason);
}

#[test]
fn one_changed_byte_fails_every_vector() {
    for n in 1..=6 {
        let (dns, message) = vector(n);
        // A byte of the body: the last letter before the final line break.
        let mut body_changed = message.clone();
        let at = body_changed
            .iter()
            .rposition(|b| b.is_ascii_alphanumeric())
            .unwrap();
        body_changed[at] ^= 0x01;
        let results = block_on(sendwell_dkim::verify(&dns, &body_changed, NOW));
        assert!(
            results.iter().all(|v| v.result == DkimResult::Fail),
            "{n:03} body"
        );
        // A byte of the signed Subject or From.
        let mut header_changed = message.clone();
        let text = String::from_utf8_lossy(&header_changed).into_owned();
        let at = text
            .find("\r\nSubject:")
            .or_else(|| text.find("\r\nFrom:"))
            .unwrap()
            + 12;
        header_changed[at] ^= 0x01;
        let results = block_on(sendwell_dkim::verify(&dns, &header_changed, NOW));
        assert!(
            results.last().unwrap().result == DkimResult::Fail,
            "{n:03} header: {:?}",
            results
                .iter()
                .map(|v| v.reason.to_string())
                .collect::<Vec<_>>()
        );
    }
}
