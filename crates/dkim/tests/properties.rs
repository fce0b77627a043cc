//! Property tests: the parsers take any input without panicking, what parses re-serialises
//! to the same value, streaming canonicalization equals a plain reference
//! implementation of RFC 6376 §3.4.3/§3.4.4 wherever the input is split, and a signed
//! message changed in any way passes only if what its signature signs is unchanged
//! (the oracle is in tests/tamper.rs).

use proptest::prelude::*;
use sendwell_dkim::canonicalize::{BodyCanonicalizer, canonicalize_body};
use sendwell_dkim::message::Message;
use sendwell_dkim::tag_list::TagList;
use sendwell_dkim::{CanonicalizationAlgorithm, KeyRecord, Signature};

use crate::common::{block_on, mock};
use crate::tamper::{
    ALPHABET, Mutation, apply, check, fixtures, mutations_from_bytes, reference_body,
};

/// Bodies made of the octets that matter to canonicalization.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b'a'),
            Just(b'z'),
            Just(b' '),
            Just(b'\t'),
            Just(b'\r'),
            Just(b'\n'),
            Just(0xe9u8),
        ],
        0..200,
    )
    .prop_map(|mut v| {
        // Mostly CRLF line ends, as after Message::parse; bare CR and LF still appear.
        for i in 0..v.len() {
            if v[i] == b'\n' && i % 3 != 0 {
                v[i] = b'\r';
                if i + 1 < v.len() {
                    v[i + 1] = b'\n';
                }
            }
        }
        v
    })
}

/// Bodies like real text, long enough for the 64-octet blocks of the relaxed fast path:
/// words, single spaces and CRLFs, with the octets that need attention (double spaces,
/// tabs, trailing and leading whitespace, empty lines, bare CR and LF) now and then.
fn text_body() -> impl Strategy<Value = Vec<u8>> {
    let t = |bytes: &[u8]| Just(bytes.to_vec());
    let token = prop_oneof![
        20 => t(b"lorem"),
        20 => t(b" "),
        8 => t(b"ipsum,"),
        6 => t(b"\r\n"),
        3 => t(b"\xc3\xa9"),
        1 => t(b"  "),
        1 => t(b"\t"),
        1 => t(b" \r\n"),
        1 => t(b"\r\n "),
        1 => t(b"\r\n\r\n"),
        1 => t(b"\r"),
        1 => t(b"\n"),
        1 => t(b"\x00"),
        // Runs longer than a block: empty lines (dropped at the end of the body) and
        // whitespace.
        1 => Just(b"\r\n".repeat(40)),
        1 => Just(vec![b' '; 70]),
    ];
    prop::collection::vec(token, 0..400).prop_map(|tokens| tokens.concat())
}

fn algorithm() -> impl Strategy<Value = CanonicalizationAlgorithm> {
    prop_oneof![
        Just(CanonicalizationAlgorithm::Simple),
        Just(CanonicalizationAlgorithm::Relaxed)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn canonicalization_matches_the_reference(alg in algorithm(), body in body()) {
        prop_assert_eq!(canonicalize_body(alg, &body), reference_body(alg, &body));
    }

    #[test]
    fn canonicalization_of_text_matches_the_reference(
        alg in algorithm(),
        body in text_body(),
        cut in any::<usize>(),
    ) {
        prop_assert_eq!(canonicalize_body(alg, &body), reference_body(alg, &body));
        let cut = cut % (body.len() + 1);
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(alg);
        c.update(&body[..cut], |s| out.extend_from_slice(s));
        c.update(&body[cut..], |s| out.extend_from_slice(s));
        c.finish(|s| out.extend_from_slice(s));
        prop_assert_eq!(out, reference_body(alg, &body));
    }

    #[test]
    fn canonicalization_is_the_same_in_any_chunks(
        alg in algorithm(),
        body in body(),
        cuts in prop::collection::vec(0usize..200, 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut c = BodyCanonicalizer::new(alg);
        let mut last = 0;
        for cut in cuts {
            c.update(&body[last..cut], |s| out.extend_from_slice(s));
            last = cut;
        }
        c.update(&body[last..], |s| out.extend_from_slice(s));
        let length = c.finish(|s| out.extend_from_slice(s));
        prop_assert_eq!(length as usize, out.len());
        prop_assert_eq!(out, canonicalize_body(alg, &body));
    }

    #[test]
    fn tag_lists_round_trip(
        tags in prop::collection::btree_map("[a-z][a-z0-9_]{0,5}", "([!-:<-~]{1,12}( [!-:<-~]{1,5})?)?", 0..8)
    ) {
        let text = tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let list = TagList::parse(text.as_bytes()).unwrap();
        let back: Vec<(String, String)> = list
            .tags
            .iter()
            .map(|t| (t.name.to_string(), t.value_str().into_owned()))
            .collect();
        let expected: Vec<(String, String)> = tags.into_iter().collect();
        prop_assert_eq!(back, expected);
    }

    #[test]
    fn parsers_never_panic(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = TagList::parse(&input);
        let _ = Signature::parse(&input);
        if let Ok(record) = KeyRecord::parse(&input) {
            let _ = sendwell_dkim::PublicKey::from_record(&record);
            // Whatever parses re-serialises to the same record.
            prop_assert_eq!(KeyRecord::parse(record.to_string().as_bytes()), Ok(record));
        }
        let m = Message::parse(&input);
        for f in m.headers() {
            let _ = (m.name(f), m.raw(f), m.value(f));
        }
    }

    #[test]
    fn signatures_round_trip(
        d in "[a-z]{1,8}\\.[a-z]{2,3}",
        s in "[a-z0-9]{1,8}",
        h in prop::collection::vec("[a-z-]{1,10}", 0..5),
        t in proptest::option::of(0u64..4_000_000_000),
        l in proptest::option::of(0u64..1_000_000),
        i in proptest::option::of("[a-z =;]{0,6}"),
    ) {
        let mut names = vec!["from".to_string()];
        names.extend(h);
        let i_tag = i
            .map(|local| format!(" i={}@{d};", sendwell_dkim::encode_quoted_printable(local.as_bytes())))
            .unwrap_or_default();
        let text = format!(
            "v=1; a=rsa-sha256; c=relaxed/simple; d={d}; s={s};{}{}{i_tag} h={}; bh=AAAA; b=AAAA",
            t.map(|t| format!(" t={t};")).unwrap_or_default(),
            l.map(|l| format!(" l={l};")).unwrap_or_default(),
            names.join(":"),
        );
        let sig = Signature::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(Signature::parse(sig.to_string().as_bytes()).unwrap(), sig);
    }

    #[test]
    fn verification_never_panics(
        headers in prop::collection::vec("[A-Za-z-]{1,8}: [ -~]{0,30}", 0..5),
        sig in "[a-z]=[ -:<-~]{0,20}(; [a-z]{1,2}=[ -:<-~]{0,20}){0,8}",
        body in prop::collection::vec(any::<u8>(), 0..100),
    ) {
        let mut message = format!("DKIM-Signature: {sig}\r\n").into_bytes();
        for h in headers {
            message.extend_from_slice(h.as_bytes());
            message.extend_from_slice(b"\r\n");
        }
        message.extend_from_slice(b"\r\n");
        message.extend_from_slice(&body);
        let dns = mock(&[]);
        let results = block_on(sendwell_dkim::verify(&dns, &message, 0));
        prop_assert_eq!(results.len(), 1);
        prop_assert!(results[0].result != sendwell_dkim::DkimResult::Pass);
    }
}

/// Any one change to a signed message, weighted towards the changes that keep a
/// signature valid (whitespace, folding, case, trailing empty lines) so that both
/// outcomes are common.
fn mutation() -> impl Strategy<Value = Mutation> {
    let inserted = prop::collection::vec(prop::sample::select(ALPHABET), 1..4);
    let appended = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b"\r\n\r\n".to_vec(),
        b" \r\n".to_vec(),
        b"\t\r\n\r\n".to_vec(),
        b"x".to_vec(),
        b"x\r\n".to_vec(),
    ]);
    prop_oneof![
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => any::<usize>().prop_map(|at| Mutation::FlipCase { at }),
        2 => (any::<usize>(), inserted).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        2 => (any::<usize>(), 0usize..16).prop_map(|(at, len)| Mutation::Delete { at, len }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(nth, tab)| Mutation::Widen { nth, tab }),
        3 => any::<usize>().prop_map(|nth| Mutation::Fold { nth }),
        2 => any::<usize>().prop_map(|nth| Mutation::Unfold { nth }),
        2 => (any::<usize>(), any::<usize>())
            .prop_map(|(nth, to)| Mutation::DuplicateField { nth, to }),
        2 => (any::<usize>(), any::<bool>())
            .prop_map(|(nth, tab)| Mutation::TrailingWhitespace { nth, tab }),
        2 => appended.prop_map(|bytes| Mutation::Append { bytes }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn mutations() -> impl Strategy<Value = (usize, Vec<Mutation>)> {
    (0..fixtures().len(), prop::collection::vec(mutation(), 1..5))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The signature-check path itself (b= removal, header selection, the header hash):
    /// Sendwell passes a tampered signed message exactly when the oracle says the signed
    /// content is unchanged, and never panics.
    #[test]
    fn tampered_messages_pass_only_if_unchanged((fixture, mutations) in mutations()) {
        let f = &fixtures()[fixture];
        let tampered = apply(&f.signed, &mutations);
        if let Err(disagreement) = block_on(check(f, &tampered)) {
            prop_assert!(false, "{:?} after {:?}: {}", f.canonicalization, mutations, disagreement);
        }
    }

    /// The same with mutations decoded from arbitrary octets, as the fuzz target
    /// (fuzz/fuzz_targets/dkim_verify.rs) decodes them.
    #[test]
    fn tampered_by_arbitrary_octets(fixture in 0..4usize, data in prop::collection::vec(any::<u8>(), 0..40)) {
        let f = &fixtures()[fixture];
        let tampered = apply(&f.signed, &mutations_from_bytes(&data));
        if let Err(disagreement) = block_on(check(f, &tampered)) {
            prop_assert!(false, "{:?} after {:?}: {}", f.canonicalization, data, disagreement);
        }
    }
}

/// The oracle is RFC 6376 itself: on the untouched messages, its header hash input
/// verifies with the Ed25519 key, its canonical body hashes to `bh=`, and Sendwell passes.
#[test]
fn the_oracle_reproduces_what_was_signed() {
    use aws_lc_rs::{digest, signature};
    use base64::Engine;
    let key = sendwell_dkim::SigningKey::from_file_contents(
        b"nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
    )
    .unwrap();
    let public = signature::UnparsedPublicKey::new(&signature::ED25519, key.public_key_data());
    for f in fixtures() {
        let b = base64::engine::general_purpose::STANDARD
            .decode(&f.content.b)
            .unwrap();
        let header_hash = digest::digest(&digest::SHA256, &f.content.headers);
        assert!(
            public.verify(header_hash.as_ref(), &b).is_ok(),
            "{:?}",
            f.canonicalization
        );
        let field = String::from_utf8_lossy(&f.signed);
        let bh = base64::engine::general_purpose::STANDARD
            .encode(digest::digest(&digest::SHA256, &f.content.body));
        assert!(
            field.contains(&format!("bh={bh};")),
            "{:?}",
            f.canonicalization
        );
        assert_eq!(block_on(check(f, &f.signed)), Ok(true));
    }
}

/// The property above is not vacuous: over a fixed sample of mutation sequences, the
/// oracle (and Sendwell with it) says pass for many and not pass for many, under every
/// canonicalization; among them changed bodies that still pass (relaxed: whitespace;
/// both: trailing empty lines), changed canonical bodies (never pass), and rewritten
/// `b=` values (whitespace inside the base64) that still pass.
#[test]
fn tampering_covers_both_outcomes() {
    use crate::tamper::ReferenceMessage;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(mutation(), 1..4);
    let mut counts = Vec::new();
    for f in fixtures() {
        let original = ReferenceMessage::parse(&f.signed);
        let original_body = &original.data[original.body_start..];
        let b_text = |m: &ReferenceMessage| -> Vec<u8> {
            let raw = &m.data[m.fields[0].clone()];
            let at = raw
                .windows(3)
                .position(|w| w == b" b=")
                .map_or(raw.len(), |i| i + 3);
            raw[at..].to_vec()
        };
        let (mut passed, mut failed, mut body_passed, mut canon_body_failed, mut b_passed) =
            (0, 0, 0, 0, 0);
        for _ in 0..1000 {
            let mutations = strategy.new_tree(&mut runner).unwrap().current();
            let tampered = apply(&f.signed, &mutations);
            let pass = match block_on(check(f, &tampered)) {
                Ok(pass) => pass,
                Err(disagreement) => panic!("{mutations:?}: {disagreement}"),
            };
            let m = ReferenceMessage::parse(&tampered);
            let body = &m.data[m.body_start..];
            if pass {
                passed += 1;
                body_passed += usize::from(body != original_body);
                b_passed += usize::from(!m.fields.is_empty() && b_text(&m) != b_text(&original));
            } else {
                failed += 1;
                canon_body_failed += usize::from(
                    reference_body(f.canonicalization.body, body)
                        != reference_body(f.canonicalization.body, original_body),
                );
            }
        }
        counts.push((
            f.canonicalization,
            passed,
            failed,
            body_passed,
            canon_body_failed,
            b_passed,
        ));
    }
    for &(c, passed, failed, body_passed, canon_body_failed, b_passed) in &counts {
        assert!(
            passed >= 50
                && failed >= 300
                && body_passed >= 10
                && canon_body_failed >= 100
                && b_passed >= 10,
            "{c:?}: {passed} passed, {failed} failed, {body_passed} with a changed body passed, \
             {canon_body_failed} with a changed canonical body failed, {b_passed} with a \
             rewritten b= passed; all: {counts:?}"
        );
    }
}
