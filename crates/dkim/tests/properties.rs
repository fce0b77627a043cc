//! Property tests: the parsers take any input without panicking, what parses re-serialises
//! to the same value, and streaming canonicalization equals a plain reference
//! implementation of RFC 6376 §3.4.3/§3.4.4 wherever the input is split.

use proptest::prelude::*;
use sendwell_dkim::canonicalize::{BodyCanonicalizer, canonicalize_body};
use sendwell_dkim::message::Message;
use sendwell_dkim::tag_list::TagList;
use sendwell_dkim::{CanonicalizationAlgorithm, KeyRecord, Signature};

use crate::common::{block_on, mock};

/// RFC 6376 §3.4.3/§3.4.4 written the obvious way, line by line.
fn reference(algorithm: CanonicalizationAlgorithm, body: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = body;
    loop {
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                lines.push(rest[..i].to_vec());
                rest = &rest[i + 2..];
            }
            None => {
                if !rest.is_empty() {
                    lines.push(rest.to_vec());
                }
                break;
            }
        }
    }
    if algorithm == CanonicalizationAlgorithm::Relaxed {
        for line in &mut lines {
            let mut out = Vec::new();
            let mut in_wsp = false;
            for &b in line.iter() {
                if b == b' ' || b == b'\t' {
                    in_wsp = true;
                } else {
                    if in_wsp {
                        out.push(b' ');
                    }
                    in_wsp = false;
                    out.push(b);
                }
            }
            *line = out;
        }
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = Vec::new();
    for line in &lines {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    if out.is_empty() && algorithm == CanonicalizationAlgorithm::Simple {
        out.extend_from_slice(b"\r\n");
    }
    out
}

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
        prop_assert_eq!(canonicalize_body(alg, &body), reference(alg, &body));
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
