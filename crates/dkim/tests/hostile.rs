//! Hostile and malformed messages: the processing limits of RFC 6376 §8.4 and §8.9 and
//! the header line without a colon of RFC 5322 §2.2. Each input here once cost seconds
//! of CPU (a 1.39 MB DKIM-Signature of 150,000 tags: 19 s; 20,000 `h=` names over
//! 20,000 fields: 17 s in debug) or once passed where it must not. The tests check the
//! results, never the time (house rule); that the work is linear is the code's job.

use sendwell_dkim::{
    DkimResult, DkimVerification, HeaderSelection, MAX_HEADER_NAMES, MAX_SIGNATURES, Reason,
    SignError, SignatureError, Signer, SigningKey,
};

use crate::common::{block_on, mock};

const NOW: u64 = 1_700_000_000;

/// The RFC 8463 Appendix A Ed25519 seed: fast to sign and verify with.
const SEED: &[u8] = b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

const MESSAGE: &[u8] = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\
    Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n";

fn signer() -> (Signer, sendwell_dns::MockLookup) {
    let key = SigningKey::from_file_contents(SEED).unwrap();
    let record = key.key_record().to_string();
    let signer = Signer::new(key, "example.com", "ed").unwrap();
    (signer, mock(&[("ed._domainkey.example.com", &record)]))
}

fn sign(signer: &Signer, message: &[u8]) -> Vec<u8> {
    let field = signer.sign(message, NOW).unwrap();
    [field.as_bytes(), message].concat()
}

fn verify(dns: &sendwell_dns::MockLookup, message: &[u8]) -> Vec<DkimVerification> {
    block_on(sendwell_dkim::verify(dns, message, NOW))
}

/// A DKIM-Signature field of `extra` more tags `a0=1; a1=1; ...` after usable ones.
fn field_with_tags(extra: usize) -> String {
    let mut field = String::from(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=hostile.example; s=ed; h=from;\r\n \
         bh=AAAA; b=AAAA",
    );
    for i in 0..extra {
        field.push_str(&format!(";a{i}=1"));
    }
    field.push_str("\r\n");
    field
}

#[test]
fn a_signature_of_150000_tags_is_refused_unread() {
    let field = field_with_tags(150_000);
    assert!(field.len() > 1_300_000);
    let message = [field.as_bytes(), MESSAGE].concat();
    let (_, dns) = signer();
    let results = verify(&dns, &message);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].result, DkimResult::PermError);
    assert_eq!(
        results[0].reason,
        Reason::Invalid(SignatureError::TooManyTags { max: 64 })
    );
    assert!(
        results[0].reason.to_string().contains("more than 64 tags"),
        "{}",
        results[0].reason
    );
}

#[test]
fn signatures_past_the_limit_are_not_parsed() {
    let (signer, dns) = signer();
    let signed = sign(&signer, MESSAGE);
    let field_end = signed.windows(6).position(|w| w == b"\r\nFrom").unwrap() + 2;
    let field = &signed[..field_end];
    // MAX_SIGNATURES copies of a good signature, then two hostile fields of 1.39 MB.
    let mut message = field.repeat(MAX_SIGNATURES);
    message.extend_from_slice(field_with_tags(150_000).as_bytes());
    message.extend_from_slice(field_with_tags(150_000).as_bytes());
    message.extend_from_slice(MESSAGE);
    let results = verify(&dns, &message);
    assert_eq!(results.len(), MAX_SIGNATURES + 2);
    for v in &results[..MAX_SIGNATURES] {
        assert_eq!((v.result, &v.reason), (DkimResult::Pass, &Reason::Verified));
        assert_eq!(v.domain, "example.com");
    }
    for v in &results[MAX_SIGNATURES..] {
        assert_eq!(
            (v.result, &v.reason),
            (DkimResult::PermError, &Reason::TooManySignatures)
        );
        // Not parsed at all: not even d= was read.
        assert_eq!((v.domain.as_str(), v.header_b.as_str()), ("", ""));
        assert!(v.signature.is_none());
    }
}

/// A header section of `n` fields `X-<i % 100>: <i>` under a From, To and Subject.
fn many_fields(n: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n".to_vec();
    for i in 0..n {
        m.extend_from_slice(format!("X-{}: {i}\r\n", i % 100).as_bytes());
    }
    m.extend_from_slice(b"\r\nHello.\r\n");
    m
}

#[test]
fn an_h_of_20000_names_over_20000_fields_is_refused() {
    let names: Vec<String> = std::iter::once("from".to_string())
        .chain((1..20_000).map(|i| format!("x-{}", i % 100)))
        .collect();
    let field = format!(
        "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h={};\r\n \
         bh=AAAA; b=AAAA\r\n",
        names.join(":")
    );
    let message = [field.as_bytes(), &many_fields(20_000)].concat();
    let (_, dns) = signer();
    let results = verify(&dns, &message);
    assert_eq!(results[0].result, DkimResult::PermError);
    assert_eq!(
        results[0].reason,
        Reason::Invalid(SignatureError::TooManyHeaderNames {
            count: 20_000,
            max: MAX_HEADER_NAMES
        })
    );
    // The signer will not write what verifiers refuse.
    let (signer, _) = signer();
    assert!(matches!(
        signer.headers(HeaderSelection::Exact(names)),
        Err(SignError::TooManyHeaderNames {
            count: 20_000,
            max: MAX_HEADER_NAMES
        })
    ));
}

#[test]
fn the_largest_h_over_20000_fields_signs_and_verifies() {
    // MAX_HEADER_NAMES names (512, the limit) over 20,000 fields: selection by index, bottom-up (RFC 6376
    // §5.4.2), in the signer and the verifier alike.
    let names: Vec<String> = std::iter::once("from".to_string())
        .chain((1..MAX_HEADER_NAMES).map(|i| format!("X-{}", i % 100)))
        .collect();
    let (signer, dns) = signer();
    let signer = signer.headers(HeaderSelection::Exact(names)).unwrap();
    let message = many_fields(20_000);
    let signed = sign(&signer, &message);
    let results = verify(&dns, &signed);
    assert_eq!(
        (results[0].result, &results[0].reason),
        (DkimResult::Pass, &Reason::Verified)
    );
    // The last X-7 field is signed (h= takes the bottom instances first): change it.
    let at = signed.windows(9).rposition(|w| w == b"X-7: 1990").unwrap();
    let mut changed = signed.clone();
    changed[at + 5] = b'0';
    assert_eq!(verify(&dns, &changed)[0].reason, Reason::SignatureMismatch);
    // The first X-7 field is not (X-7 is named 5 times, it has 200 instances).
    let at = signed.windows(6).position(|w| w == b"X-7: 7").unwrap();
    let mut unsigned_change = signed.clone();
    unsigned_change[at + 5] = b'8';
    assert_eq!(verify(&dns, &unsigned_change)[0].result, DkimResult::Pass);
}

#[test]
fn a_header_line_without_a_colon_is_malformed() {
    let (signer, dns) = signer();
    let signed = sign(&signer, MESSAGE);
    assert_eq!(verify(&dns, &signed)[0].result, DkimResult::Pass);
    // The reviewer's case: the From field's colon replaced by a line break. Relaxed
    // canonicalization would make "From\r\n a@example.com" read as "from:a@example.com";
    // but RFC 5322 §2.2 makes it no field at all, so no From, and no pass.
    let text = String::from_utf8(signed.clone()).unwrap();
    let broken = text.replace("From: a@example.com", "From\r\n a@example.com");
    assert_ne!(broken, text);
    let results = verify(&dns, broken.as_bytes());
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].result, DkimResult::PermError);
    assert_eq!(
        results[0].reason,
        Reason::HeaderWithoutColon {
            line: "From".into()
        }
    );
    assert!(
        results[0]
            .reason
            .to_string()
            .starts_with("header line without a colon: \"From\""),
        "{}",
        results[0].reason
    );
    // Anywhere in the header section, signed or not, such a line stops every pass.
    let unsigned_line = text.replace("Subject: hi\r\n", "Subject: hi\r\nNo colon here\r\n");
    let results = verify(&dns, unsigned_line.as_bytes());
    assert_eq!(
        results[0].reason,
        Reason::HeaderWithoutColon {
            line: "No colon here".into()
        }
    );
    // A DKIM-Signature "field" without a colon is no signature: the message is unsigned.
    let no_field = text.replacen("DKIM-Signature:", "DKIM-Signature", 1);
    assert!(verify(&dns, no_field.as_bytes()).is_empty());
    // And the signer will not sign such a message.
    let unsignable = String::from_utf8(MESSAGE.to_vec())
        .unwrap()
        .replace("From: a@example.com", "From\r\n a@example.com");
    match signer.sign(unsignable.as_bytes(), NOW) {
        Err(SignError::HeaderWithoutColon(line)) => assert_eq!(line, "From"),
        other => panic!("{other:?}"),
    }
}

/// RFC 4155: a message saved in an mbox file starts with a `From sender date` line
/// that is not part of it. Verification ignores it (as dkimpy does); the signer refuses
/// it, since it would end up inside the header below the new signature.
#[test]
fn an_mbox_separator_line_is_not_part_of_the_message() {
    let (signer, dns) = signer();
    let signed = sign(&signer, MESSAGE);
    for separator in [
        "From MAILER-DAEMON Fri Nov 27 10:00:00 2026\r\n",
        "From a@example.com  Fri Nov 27 10:00:00 2026\r\n",
        "From bounce\r\n",
    ] {
        let mut saved = separator.as_bytes().to_vec();
        saved.extend_from_slice(&signed);
        let results = verify(&dns, &saved);
        assert_eq!(results.len(), 1, "{separator:?}");
        assert_eq!(
            (results[0].result, &results[0].reason),
            (DkimResult::Pass, &Reason::Verified),
            "{separator:?}"
        );
        let mut unsigned = separator.as_bytes().to_vec();
        unsigned.extend_from_slice(MESSAGE);
        match signer.sign(&unsigned, NOW) {
            Err(SignError::MboxSeparator(line)) => {
                assert_eq!(format!("{line}\r\n"), separator)
            }
            other => panic!("{separator:?}: {other:?}"),
        }
    }
}

#[test]
fn header_names_to_sign_must_be_field_names() {
    let (signer, _) = signer();
    // RFC 5322 §3.6.8: printable US-ASCII but ":", no space; and no ";" in h=.
    for bad in ["bad name", "x;", "", "tab\tname", "caf\u{e9}"] {
        let names = vec!["from".to_string(), bad.to_string()];
        match signer.clone().headers(HeaderSelection::Exact(names)) {
            Err(SignError::InvalidHeaderName(name)) => assert_eq!(name, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let good = [
        "from",
        "X-Mailer",
        "List-Unsubscribe-Post",
        "weird!#$%&'*+-.^_`|~",
    ];
    let names = good.iter().map(|s| s.to_string()).collect();
    assert!(signer.headers(HeaderSelection::Exact(names)).is_ok());
}
