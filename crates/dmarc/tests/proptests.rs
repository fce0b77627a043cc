//! Property tests: what parses writes back the same, nothing panics on any input, and
//! the DNS work of a tree walk stays bounded.

use proptest::prelude::*;
use sendwell_dmarc::address::{Address, Mailbox, mailboxes, parse_address_list};
use sendwell_dmarc::builder::{RecordBuilder, txt_strings};
use sendwell_dmarc::tree_walk::{MAX_TREE_WALK_QUERIES, walk_names};
use sendwell_dmarc::{
    AlignmentMode, Discovery, DmarcRecord, DmarcResult, Policy, Psd, author_domain, lint, psl,
};
use sendwell_dns::{MockLookup, MockRecord, Txt};

use crate::support::{block, passing};

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::None),
        Just(Policy::Quarantine),
        Just(Policy::Reject)
    ]
}

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?"
}

fn domain() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|l| l.join("."))
}

/// An RFC 5322 addr-spec with a dot-atom local part (RFC 5322 §3.4.1).
fn address() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9_%+-]{1,6}(\\.[a-zA-Z0-9_%+/=?-]{1,5}){0,2}",
        domain(),
    )
        .prop_map(|(l, d)| format!("{l}@{d}"))
}

prop_compose! {
    fn built_record()(
        p in policy(),
        sp in prop::option::of(policy()),
        np in prop::option::of(policy()),
        psd in prop_oneof![Just(Psd::Yes), Just(Psd::No), Just(Psd::Unknown)],
        t in any::<bool>(),
        adkim in any::<bool>(),
        aspf in any::<bool>(),
        rua in prop::collection::vec(address(), 0..4),
        ruf in prop::collection::vec(address(), 0..2),
    ) -> DmarcRecord {
        let mut b = RecordBuilder::new(p).psd(psd).testing(t);
        if let Some(sp) = sp { b = b.sp(sp); }
        if let Some(np) = np { b = b.np(np); }
        if adkim { b = b.adkim(AlignmentMode::Strict); }
        if aspf { b = b.aspf(AlignmentMode::Strict); }
        for a in &rua { b = b.rua(a).unwrap(); }
        for a in &ruf { b = b.ruf(a).unwrap(); }
        b.build()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A built record writes, parses back equal, and writes the same text again.
    #[test]
    fn records_round_trip(record in built_record()) {
        let text = record.to_string();
        let parsed: DmarcRecord = text.parse().unwrap();
        prop_assert_eq!(&parsed, &record);
        prop_assert_eq!(parsed.to_string(), text.clone());
        // Split for publication and joined by a receiver: the same record.
        prop_assert_eq!(txt_strings(&text).concat(), text);
    }

    /// Any report destination: the builder refuses it, or writes a URI the linter
    /// finds valid whose address decodes back to what was given.
    #[test]
    fn the_builder_writes_only_valid_report_uris(
        dest in prop_oneof!["\\PC{0,30}", "[a-z.@\"/ %,!\\\\-]{0,20}(@example\\.com)?", address()],
    ) {
        if let Ok(b) = RecordBuilder::new(Policy::None).rua(&dest) {
            let record = b.build();
            let text = record.to_string();
            let l = lint(&text);
            prop_assert!(l.findings.iter().all(|f| f.code != "uri_invalid"), "{}: {:?}", text, l.findings);
            let uri = &record.rua()[0];
            if !dest.contains(':') {
                prop_assert_eq!(uri.mailto_address(), Some(dest.trim().to_string()));
            }
        }
    }

    /// Any text: parsing and linting never panic, and a parsed record's text re-parses
    /// to an equal record.
    #[test]
    fn record_parser_never_panics(text in "\\PC{0,200}") {
        let l = lint(&text);
        if let Ok(r) = l.record {
            let again: DmarcRecord = r.to_string().parse().unwrap();
            prop_assert_eq!(again, r);
        }
    }

    /// Text made of the record's own alphabet, which reaches deeper into the parser.
    #[test]
    fn record_alphabet_never_panics(parts in prop::collection::vec(
        prop_oneof![
            Just("v=DMARC1".to_string()), Just(";".to_string()), Just("=".to_string()),
            Just(" ".to_string()), Just("p".to_string()), Just("sp".to_string()),
            Just("rua".to_string()), Just("mailto:".to_string()), Just("@".to_string()),
            Just(",".to_string()), Just("!".to_string()), Just("fo".to_string()),
            Just("0:1:d:s".to_string()), Just("pct".to_string()), Just("none".to_string()),
            "[a-z0-9.]{1,6}",
        ], 0..30)) {
        let text = parts.concat();
        let _ = lint(&text);
    }

    /// A mailbox writes and parses back equal, whatever its display name and local part.
    #[test]
    fn mailboxes_round_trip(
        name in prop::option::of("[ -~]{0,20}"),
        local in "[ -~]{1,16}",
        dom in domain(),
    ) {
        let m = Mailbox { display_name: name, local_part: local, domain: dom };
        let text = m.to_string();
        let parsed = parse_address_list(&text).unwrap();
        prop_assert_eq!(parsed, vec![Address::Mailbox(m)]);
    }

    /// Any From value: the address parser never panics and mailboxes() agrees with it.
    /// Control characters and quoted-pairs are included: the fuzzer found that an
    /// escaped CR inside a domain literal did not survive a round trip.
    #[test]
    fn address_parser_never_panics(text in prop_oneof![
        "\\PC{0,120}",
        "[ -~\r\n\t\\\\\"\\[\\]()<>@,;:.\u{0}]{0,60}",
    ]) {
        if let Ok(list) = parse_address_list(&text) {
            let _ = mailboxes(&list);
            // What parsed also writes and parses back to the same list.
            let again: Vec<String> = list.iter().map(ToString::to_string).collect();
            prop_assert_eq!(parse_address_list(&again.join(", ")).unwrap(), list);
        }
    }

    /// Any bytes as a message: finding the Author Domain never panics.
    #[test]
    fn author_domain_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut msg = b"From: ".to_vec();
        msg.extend_from_slice(&bytes);
        let _ = author_domain(&msg);
        let _ = author_domain(&bytes);
    }

    /// The registrable domain is the public suffix plus one label of the input.
    #[test]
    fn psl_registrable_is_suffix_plus_one(d in domain(), tld in prop_oneof![
        Just("com"), Just("co.uk"), Just("github.io"), Just("kobe.jp"), Just("zz"),
    ]) {
        let name = format!("{d}.{tld}");
        let list = psl::embedded();
        let ps = list.public_suffix(&name).unwrap();
        match list.registrable_domain(&name) {
            Some(r) => {
                prop_assert!(name.ends_with(&r));
                prop_assert_eq!(r.split('.').count(), ps.labels + 1);
            }
            None => prop_assert_eq!(ps.labels, name.split('.').count()),
        }
    }

    /// Any text to the list never panics.
    #[test]
    fn psl_never_panics(text in "\\PC{0,80}") {
        let _ = psl::embedded().registrable_domain(&text);
    }

    /// A tree walk asks at most eight names, each shorter than the last, ending at the TLD.
    #[test]
    fn tree_walk_is_bounded(labels in prop::collection::vec(label(), 1..40)) {
        let name = labels.join(".");
        let names = walk_names(&name);
        prop_assert!(names.len() <= MAX_TREE_WALK_QUERIES);
        prop_assert_eq!(&names[0], &name);
        prop_assert_eq!(names.last().unwrap().as_str(), labels.last().unwrap().as_str());
        for pair in names.windows(2) {
            let parent = format!(".{}", pair[1]);
            prop_assert!(pair[0].ends_with(&parent));
        }
    }

    /// Whatever a domain publishes, the verdict is a value and DNS work stays bounded.
    #[test]
    fn any_published_record_gives_a_verdict(
        record in "\\PC{0,120}",
        author in domain(),
        method in prop_oneof![Just(Discovery::TreeWalk), Just(Discovery::PublicSuffixList)],
    ) {
        let mut dns = MockLookup::new();
        dns.add(&format!("_dmarc.{author}"), MockRecord::Txt(Txt::new([record.into_bytes()])));
        let dns = dns.with_query_log();
        let out = block(sendwell_dmarc::evaluate_dmarc(
            &dns, &author, &passing(Some(&author), &["other.example"]), method));
        prop_assert!(matches!(out.result,
            DmarcResult::None | DmarcResult::Pass | DmarcResult::Fail | DmarcResult::PermError));
        // One author walk (≤ 8), one identifier walk (≤ 8), one existence query.
        prop_assert!(dns.queries().len() <= 2 * MAX_TREE_WALK_QUERIES + 1);
    }
}
