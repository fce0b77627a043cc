//! RFC 9989 policy discovery, tree walk, np, psd, t and invalid-record scenarios.
//!
//! The scenarios follow the RFC 9989 compliance suite of postalsys/mailauth
//! (test/dmarc/rfc9989-compliance-test.js, built from RFC 9989 Appendix B.4 and the
//! normative text); each expectation here is checked against the RFC section cited.
//! Where Sendwell's answer differs from mailauth's, the comment says why.

use sendwell_dmarc::{Discovery, DmarcResult, Policy, PolicySource};

use crate::support::{passing, run};

const WALK: Discovery = Discovery::TreeWalk;

fn dmarc_queries(q: &[String]) -> Vec<&str> {
    q.iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("_dmarc."))
        .collect()
}

// --- RFC 9989 Appendix B.4 -------------------------------------------------------------

#[test]
fn b_4_1_simple_organizational_and_policy_example() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n\
                _dmarc.signing.example.com TXT \"v=DMARC1; p=reject\"";
    let (out, q) = run(
        zone,
        "example.com",
        &passing(Some("example.com"), &["signing.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.organizational_domain.as_deref(), Some("example.com"));
    assert!(out.spf_aligned() && out.dkim_aligned());
    // "query _dmarc.example.com and _dmarc.com"; then for the DKIM identifier
    // "_dmarc.signing.example.com" (the other two are already known).
    assert_eq!(
        dmarc_queries(&q),
        [
            "_dmarc.example.com",
            "_dmarc.com",
            "_dmarc.signing.example.com"
        ]
    );
}

#[test]
fn b_4_2_deep_tree_walk_example() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n\
                _dmarc.signing.example.com TXT \"v=DMARC1; p=reject\"";
    let author = "a.b.c.d.e.f.g.h.i.j.k.example.com";
    let (out, q) = run(
        zone,
        author,
        &passing(Some("example.com"), &["signing.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    // "the policy domain is the highest element in the DNS tree with a DMARC Policy
    // Record, example.com".
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(
        &dmarc_queries(&q)[..8],
        [
            "_dmarc.a.b.c.d.e.f.g.h.i.j.k.example.com",
            "_dmarc.g.h.i.j.k.example.com",
            "_dmarc.h.i.j.k.example.com",
            "_dmarc.i.j.k.example.com",
            "_dmarc.j.k.example.com",
            "_dmarc.k.example.com",
            "_dmarc.example.com",
            "_dmarc.com",
        ]
    );
    assert_eq!(dmarc_queries(&q)[8..], ["_dmarc.signing.example.com"]);
}

#[test]
fn b_4_3_example_with_a_psd_dmarc_policy_record() {
    let zone = "_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y; rua=mailto:psd@bank.example\"\n\
                _dmarc.giant.bank.example TXT \"v=DMARC1; p=quarantine\"";
    let (out, q) = run(
        zone,
        "giant.bank.example",
        &passing(Some("mail.giant.bank.example"), &["mail.mega.bank.example"]),
        WALK,
    );
    // "The Organizational Domain is giant.bank.example ... it is also the policy domain.
    // ... SPF is aligned. ... The Organizational Domain is mega.bank.example, so DKIM is
    // not aligned."
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("giant.bank.example")
    );
    assert_eq!(out.policy_domain.as_deref(), Some("giant.bank.example"));
    assert!(out.spf_aligned());
    assert!(!out.dkim_aligned());
    // The walks stop at psd=y; mail.mega.bank.example is outside giant.bank.example, so
    // its Organizational Domain cannot be giant.bank.example and it is not walked.
    assert_eq!(
        dmarc_queries(&q),
        [
            "_dmarc.giant.bank.example",
            "_dmarc.bank.example",
            "_dmarc.mail.giant.bank.example"
        ]
    );
}

// --- §4.10, §4.10.1, §4.10.2: the walk and policy discovery -----------------------------

#[test]
fn psd_n_at_an_intermediate_label_is_the_organizational_domain() {
    // §4.10.2 rule 1.
    let zone = "_dmarc.b.example.com TXT \"v=DMARC1; p=reject; psd=n\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=none\"";
    let (out, _) = run(zone, "a.b.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.organizational_domain.as_deref(), Some("b.example.com"));
    assert_eq!(out.policy_domain.as_deref(), Some("b.example.com"));
    assert_eq!(out.policy.unwrap().requested, Policy::Reject);
    assert_eq!(out.result, DmarcResult::Fail);
}

#[test]
fn a_long_author_domain_costs_eight_queries() {
    // §4.10 step 4 and its example.
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=none\"";
    let (_, q) = run(
        zone,
        "a.b.c.d.e.f.g.h.i.j.k.example.com",
        &passing(None, &[]),
        WALK,
    );
    assert_eq!(dmarc_queries(&q).len(), 8);
    // Exactly eight labels: one label off; nine: straight to seven.
    let (_, q) = run("", "a.b.c.d.e.f.example.com", &passing(None, &[]), WALK);
    assert_eq!(
        &dmarc_queries(&q)[..2],
        [
            "_dmarc.a.b.c.d.e.f.example.com",
            "_dmarc.b.c.d.e.f.example.com"
        ]
    );
    assert_eq!(dmarc_queries(&q).len(), 8);
    let (_, q) = run("", "x.a.b.c.d.e.f.example.com", &passing(None, &[]), WALK);
    assert_eq!(
        &dmarc_queries(&q)[..2],
        [
            "_dmarc.x.a.b.c.d.e.f.example.com",
            "_dmarc.b.c.d.e.f.example.com"
        ]
    );
    assert_eq!(dmarc_queries(&q).len(), 8);
}

#[test]
fn the_author_domain_is_its_own_organizational_domain_when_nothing_is_above() {
    // §4.10.2 rule 3: the record with the fewest labels is mail.example.com itself. (The
    // Public Suffix List would say example.com, and d=example.com would align.)
    let zone = "_dmarc.mail.example.com TXT \"v=DMARC1; p=reject\"";
    let ids = passing(Some("bounce.example.com"), &["example.com"]);
    let (out, _) = run(zone, "mail.example.com", &ids, WALK);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("mail.example.com")
    );
    assert_eq!(out.disposition, Policy::Reject);
    let (psl, _) = run(zone, "mail.example.com", &ids, Discovery::PublicSuffixList);
    assert_eq!(psl.result, DmarcResult::Pass);
}

#[test]
fn the_policy_comes_from_the_record_with_the_fewest_labels() {
    // §4.10.2 rule 3 and §4.10.1: the Organizational Domain's record, not an
    // intermediate one.
    let zone = "_dmarc.b.example.com TXT \"v=DMARC1; p=none\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let (out, _) = run(zone, "a.b.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.disposition, Policy::Reject);
}

#[test]
fn a_private_public_suffix_can_publish_a_policy() {
    // The tree walk does not know the Public Suffix List: blogspot.com's record is the
    // Organizational Domain's record for every blog below it.
    let zone = "_dmarc.blogspot.com TXT \"v=DMARC1; p=reject\"";
    let (out, _) = run(
        zone,
        "alice.blogspot.com",
        &passing(None, &["bob.blogspot.com"]),
        WALK,
    );
    assert_eq!(out.policy_domain.as_deref(), Some("blogspot.com"));
    assert_eq!(out.result, DmarcResult::Pass);
    // By the list, alice and bob are different registrations: no alignment, and
    // RFC 7489 looks only at alice.blogspot.com (the Organizational Domain): no policy.
    let (psl, _) = run(
        zone,
        "alice.blogspot.com",
        &passing(None, &["bob.blogspot.com"]),
        Discovery::PublicSuffixList,
    );
    assert_eq!(psl.result, DmarcResult::None);
}

#[test]
fn psd_n_on_the_author_record_stops_the_walk() {
    let zone = "_dmarc.mail.example.com TXT \"v=DMARC1; p=reject; psd=n\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let (out, q) = run(
        zone,
        "mail.example.com",
        &passing(None, &["example.com"]),
        WALK,
    );
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("mail.example.com")
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(dmarc_queries(&q), ["_dmarc.mail.example.com"]);
}

#[test]
fn several_records_are_discarded_and_the_walk_goes_on() {
    // §4.10 steps 2 and 6. (RFC 7489 §6.6.3 step 5 stopped here instead.)
    let zone = "_dmarc.mail.example.com TXT \"v=DMARC1; p=reject\"\n\
                _dmarc.mail.example.com TXT \"v=DMARC1; p=quarantine\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=none; sp=quarantine\"";
    let (out, _) = run(zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.policy.unwrap().source, PolicySource::Sp);
    assert_eq!(out.disposition, Policy::Quarantine);
    let (psl, _) = run(
        zone,
        "mail.example.com",
        &passing(None, &[]),
        Discovery::PublicSuffixList,
    );
    assert_eq!(psl.result, DmarcResult::None);
    // The same above the author: b.example.com's two records are discarded.
    let zone = "_dmarc.b.example.com TXT \"v=DMARC1; p=reject; psd=n\"\n\
                _dmarc.b.example.com TXT \"v=DMARC1; p=none\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=quarantine\"";
    let (out, _) = run(zone, "a.b.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.disposition, Policy::Quarantine);
    // Several records and nothing above: no policy.
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.example.com TXT \"v=DMARC1; p=none\"";
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.result, DmarcResult::None);
}

#[test]
fn other_txt_records_at_the_author_are_not_dmarc() {
    let zone = "_dmarc.mail.example.com TXT \"some other txt record\"\n\
                _dmarc.mail.example.com TXT \"and another one\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=quarantine\"";
    let (out, _) = run(
        zone,
        "mail.example.com",
        &passing(None, &["example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.policy.unwrap().requested, Policy::Quarantine);
}

#[test]
fn identifiers_outside_the_organizational_domain_are_not_walked() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let ids = passing(
        Some("bounces.esp.example.net"),
        &["esp.example.net", "example.org"],
    );
    let (out, q) = run(zone, "example.com", &ids, WALK);
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(dmarc_queries(&q), ["_dmarc.example.com", "_dmarc.com"]);
}

#[test]
fn identifier_walks_are_capped() {
    // SPF is checked first; at most MAX_IDENTIFIER_WALKS (10) identifiers get a walk.
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let dkim: Vec<String> = (0..20).map(|i| format!("s{i}.example.com")).collect();
    let dkim: Vec<&str> = dkim.iter().map(String::as_str).collect();
    let (out, q) = run(
        zone,
        "example.com",
        &passing(Some("bounces.example.com"), &dkim),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert!(out.spf_aligned());
    let q = dmarc_queries(&q);
    assert_eq!(q.len(), 2 + 10);
    assert!(q.contains(&"_dmarc.bounces.example.com"));
    assert!(!q.contains(&"_dmarc.s9.example.com"));
}

#[test]
fn names_that_cannot_exist_are_not_asked() {
    // A 64-octet label cannot be queried (RFC 1035 §2.3.4); the walk goes on above it.
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let long = format!("{}.example.com", "a".repeat(64));
    let (out, q) = run(zone, &long, &passing(None, &[]), WALK);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(out.disposition, Policy::Reject);
    assert_eq!(dmarc_queries(&q), ["_dmarc.example.com", "_dmarc.com"]);
}

#[test]
fn a_trailing_root_dot_is_ignored() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let (out, _) = run(
        zone,
        "mail.example.com.",
        &passing(None, &["example.com."]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
}

// --- DNS failures (§4.10.1 last paragraphs, §5.3.6) ------------------------------------

#[test]
fn a_failed_discovery_is_temperror_without_a_policy() {
    let zone = "_dmarc.example.com SERVFAIL";
    let (out, _) = run(
        zone,
        "mail.example.com",
        &passing(None, &["example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::TempError);
    assert_eq!(out.policy, None);
    assert_eq!(out.disposition, Policy::None);
}

#[test]
fn the_author_record_stands_when_the_walk_above_fails() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.com SERVFAIL";
    // An identical identifier needs no Organizational Domain: pass.
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.policy.unwrap().requested, Policy::Reject);
    // A different one does: temperror, with the policy known.
    let (out, _) = run(
        zone,
        "example.com",
        &passing(None, &["mail.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::TempError);
    assert_eq!(out.policy.unwrap().requested, Policy::Reject);
    assert_eq!(out.disposition, Policy::None);
}

#[test]
fn a_failed_identifier_walk() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n_dmarc.mail.example.com SERVFAIL";
    let (out, _) = run(
        zone,
        "example.com",
        &passing(None, &["mail.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::TempError);
    // Another aligned identifier makes it a pass.
    let (out, _) = run(
        zone,
        "example.com",
        &passing(Some("bounces.example.com"), &["mail.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Pass);
    // Strict alignment needs no walk, so no temperror.
    let zone =
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; adkim=s\"\n_dmarc.mail.example.com SERVFAIL";
    let (out, _) = run(
        zone,
        "example.com",
        &passing(None, &["mail.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Fail);
}

// --- np and the domain existence test (§4.7 np, §3.2.13, Appendix A.4) ------------------

const NP_ZONE: &str = "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=none; np=quarantine\"";

#[test]
fn np_applies_to_a_non_existent_subdomain() {
    let (out, _) = run(NP_ZONE, "sub.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.policy.unwrap().source, PolicySource::Np);
    assert_eq!(out.disposition, Policy::Quarantine);
}

#[test]
fn sp_applies_to_an_existing_subdomain() {
    let zone = format!("{NP_ZONE}\nsub.example.com A 192.0.2.10");
    let (out, _) = run(&zone, "sub.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.policy.unwrap().source, PolicySource::Sp);
    assert_eq!(out.disposition, Policy::None);
    // Any record makes a name exist: NODATA for A is not NXDOMAIN.
    let zone = format!("{NP_ZONE}\nmail.example.com MX 1 mx.example.com");
    let (out, _) = run(&zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.policy.unwrap().source, PolicySource::Sp);
}

#[test]
fn np_does_not_apply_to_the_organizational_domain_itself() {
    let dns = sendwell_dns::MockLookup::from_zone(NP_ZONE)
        .unwrap()
        .with_query_log();
    let out = crate::support::block(sendwell_dmarc::evaluate_dmarc(
        &dns,
        "example.com",
        &passing(None, &[]),
        WALK,
    ));
    assert_eq!(out.policy.unwrap().source, PolicySource::P);
    assert_eq!(out.disposition, Policy::Reject);
    // No existence query was needed.
    assert!(dns.queries().iter().all(|q| q.starts_with("TXT ")));
}

#[test]
fn no_existence_query_without_np() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=none\"";
    let dns = sendwell_dns::MockLookup::from_zone(zone)
        .unwrap()
        .with_query_log();
    let out = crate::support::block(sendwell_dmarc::evaluate_dmarc(
        &dns,
        "sub.example.com",
        &passing(None, &[]),
        WALK,
    ));
    assert_eq!(out.disposition, Policy::None);
    assert!(dns.queries().iter().all(|q| q.starts_with("TXT ")));
}

#[test]
fn p_applies_to_an_existing_subdomain_without_sp() {
    let zone =
        "_dmarc.example.com TXT \"v=DMARC1; p=quarantine; np=reject\"\nsub.example.com A 192.0.2.1";
    let (out, _) = run(zone, "sub.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.disposition, Policy::Quarantine);
}

#[test]
fn a_psd_np_covers_unregistered_names_below_it() {
    let zone = "_dmarc.gov.example TXT \"v=DMARC1; p=reject; sp=none; np=reject; psd=y\"";
    let (out, _) = run(zone, "fake-agency.gov.example", &passing(None, &[]), WALK);
    assert_eq!(out.policy_domain.as_deref(), Some("gov.example"));
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("fake-agency.gov.example")
    );
    assert_eq!(out.policy.unwrap().source, PolicySource::Np);
    assert_eq!(out.disposition, Policy::Reject);
}

#[test]
fn a_name_that_cannot_exist_counts_as_non_existent() {
    let long = format!("{}.example.com", "a".repeat(64));
    let (out, _) = run(NP_ZONE, &long, &passing(None, &[]), WALK);
    assert_eq!(out.policy.unwrap().source, PolicySource::Np);
    assert_eq!(out.disposition, Policy::Quarantine);
}

#[test]
fn a_failed_existence_query_is_temperror() {
    let zone = format!("{NP_ZONE}\nsub.example.com SERVFAIL");
    let (out, _) = run(
        &zone,
        "sub.example.com",
        &passing(None, &["example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::TempError);
}

// --- psd (§4.7 psd, §4.10.2, §5.2) -----------------------------------------------------

#[test]
fn a_psd_policy_does_not_override_an_organizational_record() {
    // §4.10.1 note: "PSD policy is not used for Organizational Domains that have
    // published a DMARC Policy Record."
    let zone = "_dmarc.example TXT \"v=DMARC1; p=reject; psd=y; rua=mailto:psd@example\"\n\
                _dmarc.foo.example TXT \"v=DMARC1; p=none\"";
    let (out, _) = run(zone, "foo.example", &passing(None, &[]), WALK);
    assert_eq!(out.policy_domain.as_deref(), Some("foo.example"));
    assert_eq!(out.disposition, Policy::None);
}

#[test]
fn a_psd_policy_applies_with_sp_when_the_organization_has_none() {
    let zone = "_dmarc.bank.example TXT \"v=DMARC1; p=reject; sp=quarantine; psd=y\"";
    let (out, _) = run(
        zone,
        "mail.giant.bank.example",
        &passing(None, &["giant.bank.example"]),
        WALK,
    );
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("giant.bank.example")
    );
    assert_eq!(out.policy_domain.as_deref(), Some("bank.example"));
    assert_eq!(out.policy.unwrap().requested, Policy::Quarantine);
    assert_eq!(out.result, DmarcResult::Pass);
}

#[test]
fn two_registrants_below_one_psd_do_not_align() {
    let zone = "_dmarc.bank.example TXT \"v=DMARC1; p=reject; psd=y\"";
    let (out, _) = run(
        zone,
        "giant.bank.example",
        &passing(Some("bank.example"), &["mega.bank.example"]),
        WALK,
    );
    assert_eq!(
        out.organizational_domain.as_deref(),
        Some("giant.bank.example")
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.disposition, Policy::Reject);
}

#[test]
fn a_psd_sending_as_itself_is_its_own_organizational_domain() {
    // §4.10.2 rule 2 skips the start's own psd=y record; rule 3 then picks it.
    let zone = "_dmarc.bank.example TXT \"v=DMARC1; p=reject; sp=none; psd=y\"";
    let (out, _) = run(
        zone,
        "bank.example",
        &passing(Some("mail.bank.example"), &[]),
        WALK,
    );
    assert_eq!(out.organizational_domain.as_deref(), Some("bank.example"));
    assert_eq!(out.policy.unwrap().source, PolicySource::P);
    assert_eq!(out.result, DmarcResult::Fail);
}

// --- t (§4.7 t, Appendix A.6) and pct ---------------------------------------------------

#[test]
fn test_mode_lowers_the_policy_one_level() {
    let fail = passing(None, &[]);
    for (record, want) in [
        ("v=DMARC1; p=reject; t=y", Policy::Quarantine),
        ("v=DMARC1; p=quarantine; t=y", Policy::None),
        ("v=DMARC1; p=reject; t=n", Policy::Reject),
        // An invalid t is replaced by its default, n (§4.8).
        ("v=DMARC1; p=reject; t=yes", Policy::Reject),
        // RFC 7489's pct=0 is read as t=y (Appendix A.6).
        ("v=DMARC1; p=reject; pct=0", Policy::Quarantine),
        // Other pct values are ignored (pct is not an RFC 9989 tag).
        ("v=DMARC1; p=reject; pct=50", Policy::Reject),
    ] {
        let (out, _) = run(
            &format!("_dmarc.example.com TXT \"{record}\""),
            "example.com",
            &fail,
            WALK,
        );
        assert_eq!(out.result, DmarcResult::Fail, "{record}");
        assert_eq!(out.disposition, want, "{record}");
        assert_eq!(
            out.policy.unwrap().requested,
            published_p(record),
            "{record}"
        );
    }
    // t=y lowers sp too, and the published values stay as they are.
    let (out, _) = run(
        "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; t=Y\"",
        "sub.example.com",
        &fail,
        WALK,
    );
    let policy = out.policy.unwrap();
    assert!(policy.testing);
    assert_eq!(policy.requested, Policy::Quarantine);
    assert_eq!(out.disposition, Policy::None);
}

#[test]
fn pct_does_not_change_pass_or_fail() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject; pct=0\"";
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.result, DmarcResult::Pass);
    let (out, _) = run(
        zone,
        "example.com",
        &passing(Some("other.example"), &["other.example"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Fail);
}

/// The `p=` value of a record text, for the table above.
fn published_p(record: &str) -> Policy {
    record
        .parse::<sendwell_dmarc::DmarcRecord>()
        .unwrap()
        .p()
        .unwrap()
}

// --- Records without a valid policy (§4.10.1) ------------------------------------------

#[test]
fn no_p_with_a_valid_rua_is_p_none() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; rua=mailto:dmarc@example.com\"";
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(
        out.policy.unwrap().source,
        PolicySource::NoneForInvalidRecord
    );
    assert_eq!(out.policy.unwrap().requested, Policy::None);
}

#[test]
fn an_invalid_p_with_a_valid_rua_is_p_none_and_keeps_the_other_tags() {
    let zone =
        "_dmarc.example.com TXT \"v=DMARC1; p=block; adkim=s; rua=mailto:dmarc@example.com!10m\"";
    let (out, _) = run(
        zone,
        "example.com",
        &passing(None, &["mail.example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.disposition, Policy::None);
    assert_eq!(out.dkim[0].mode, sendwell_dmarc::AlignmentMode::Strict);
}

#[test]
fn an_invalid_sp_or_np_with_a_valid_rua_makes_everything_none() {
    for tag in ["sp=bounce", "np="] {
        let zone = format!(
            "_dmarc.example.com TXT \"v=DMARC1; p=reject; {tag}; rua=mailto:dmarc@example.com\""
        );
        let (out, _) = run(&zone, "sub.example.com", &passing(None, &[]), WALK);
        assert_eq!(out.disposition, Policy::None, "{tag}");
        assert_eq!(
            out.policy.unwrap().source,
            PolicySource::NoneForInvalidRecord,
            "{tag}"
        );
    }
}

#[test]
fn no_valid_policy_and_no_valid_rua_is_permerror() {
    // §4.10.1: "the Mail Receiver applies no DMARC processing to this message". mailauth
    // reports that as `none`; Sendwell reports `permerror`, the result RFC 9989 §9.2
    // defines for "the retrieval of an improperly formatted DMARC Policy Record", so the
    // owner learns their record is broken. Either way no policy is applied.
    for record in [
        "v=DMARC1; adkim=s",
        "v=DMARC1; p=reject; sp=nope; rua=dmarc@example.com",
        "v=DMARC1; p=reject; sp=nope; rua=",
        "v=DMARC1; p=reject; sp=nope; rua=mailto:",
    ] {
        let zone = format!("_dmarc.example.com TXT \"{record}\"");
        let (out, _) = run(&zone, "example.com", &passing(None, &[]), WALK);
        assert_eq!(out.result, DmarcResult::PermError, "{record}");
        assert_eq!(out.policy, None, "{record}");
        assert_eq!(out.disposition, Policy::None, "{record}");
    }
    // The walk does not go past such a record at the Author Domain.
    let zone = "_dmarc.mail.example.com TXT \"v=DMARC1; adkim=s\"\n_dmarc.example.com TXT \"v=DMARC1; p=reject\"";
    let (out, _) = run(zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(out.result, DmarcResult::PermError);
    assert_eq!(out.policy_domain.as_deref(), Some("mail.example.com"));
}

#[test]
fn an_invalid_record_that_applies_is_permerror() {
    // A repeated tag makes the whole record invalid (RFC 9989 §4.7 via RFC 6376 §3.2).
    // RFC 7489 §11.2 gives permerror for "a syntactically incorrect DMARC record", the
    // same verdict as a record with no valid p and no valid rua (test above), in both
    // discovery methods, with the mistake as the reason.
    const PSL: Discovery = Discovery::PublicSuffixList;
    let dup = "v=DMARC1; p=reject; p=reject";
    let zone = format!("_dmarc.example.com TXT \"{dup}\"");
    for method in [WALK, PSL] {
        let (out, _) = run(
            &zone,
            "example.com",
            &passing(None, &["example.com"]),
            method,
        );
        assert_eq!(out.result, DmarcResult::PermError, "{method:?}");
        assert!(
            out.reason
                .contains("_dmarc.example.com is invalid: the tag \"p\" appears more than once"),
            "{}",
            out.reason
        );
        assert_eq!(out.policy_domain.as_deref(), Some("example.com"));
        assert_eq!(out.policy, None);
        assert_eq!(out.disposition, Policy::None);
    }
    // At the Author Domain, by the list it is the record that applies: RFC 7489
    // §6.6.3 step 3 asks the Organizational Domain only when the Author Domain's set is
    // empty, and it is not. RFC 9989 §4.10.1 walks on when "no valid DMARC Policy
    // Record is found by the first query": the Organizational Domain's policy applies
    // (here p=reject, so spoofed mail from the subdomain is still refused).
    let zone = format!(
        "_dmarc.mail.example.com TXT \"{dup}\"\n_dmarc.example.com TXT \"v=DMARC1; p=reject\""
    );
    let (psl, q) = run(&zone, "mail.example.com", &passing(None, &[]), PSL);
    assert_eq!(psl.result, DmarcResult::PermError);
    assert_eq!(psl.policy_domain.as_deref(), Some("mail.example.com"));
    assert_eq!(dmarc_queries(&q), ["_dmarc.mail.example.com"]);
    let (walk, _) = run(&zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(walk.result, DmarcResult::Fail, "{}", walk.reason);
    assert_eq!(walk.policy_domain.as_deref(), Some("example.com"));
    assert_eq!(walk.disposition, Policy::Reject);
    // With nothing valid above it, the tree walk too ends at the invalid record.
    let zone = format!("_dmarc.mail.example.com TXT \"{dup}\"");
    let (walk, _) = run(&zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(walk.result, DmarcResult::PermError);
    assert_eq!(walk.policy_domain.as_deref(), Some("mail.example.com"));
    // By the list, an invalid record at the Organizational Domain is the one that
    // applies to a subdomain without a record: permerror too.
    let zone = format!("_dmarc.example.com TXT \"{dup}\"");
    let (psl, _) = run(&zone, "mail.example.com", &passing(None, &[]), PSL);
    assert_eq!(psl.result, DmarcResult::PermError);
    assert_eq!(psl.policy_domain.as_deref(), Some("example.com"));
    // By the tree walk, an invalid record above the Author Domain is no "valid DMARC
    // Policy Record" (§4.10.1): discarded, the walk goes on, and "no policy" names it.
    let (walk, _) = run(&zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(walk.result, DmarcResult::None);
    assert!(
        walk.reason
            .contains("the record at _dmarc.example.com is invalid and was discarded"),
        "{}",
        walk.reason
    );
    let zone = format!("{zone}\n_dmarc.com TXT \"v=DMARC1; p=quarantine; psd=y\"");
    let (walk, _) = run(&zone, "mail.example.com", &passing(None, &[]), WALK);
    assert_eq!(walk.result, DmarcResult::Fail);
    assert_eq!(walk.policy_domain.as_deref(), Some("com"));
}

#[test]
fn no_policy_names_the_records_the_walk_discarded() {
    // §4.10 steps 2 and 6: records discarded on the way up are kept, and named.
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=reject\"\n\
                _dmarc.example.com TXT \"v=DMARC1; p=none\"";
    let dns = sendwell_dns::MockLookup::from_zone(zone).unwrap();
    let d = crate::support::block(sendwell_dmarc::discover_policy(
        &dns,
        "news.example.com",
        WALK,
    ));
    let walk = d.walk.as_ref().unwrap();
    assert_eq!(
        walk.discarded,
        [sendwell_dmarc::Discarded {
            name: "example.com".into(),
            why: sendwell_dmarc::DiscardReason::Several(2),
        }]
    );
    assert_eq!(d.discarded, walk.discarded);
    let sendwell_dmarc::PolicyOutcome::NoPolicy { reason } = &d.outcome else {
        panic!("{:?}", d.outcome)
    };
    assert_eq!(
        reason,
        "no usable DMARC record at _dmarc.news.example.com or on the way up to the \
         top-level domain: _dmarc.example.com has 2 DMARC records (all discarded)"
    );
    // The list method: the Organizational Domain's records, named the same way.
    let d = crate::support::block(sendwell_dmarc::discover_policy(
        &dns,
        "news.example.com",
        Discovery::PublicSuffixList,
    ));
    let sendwell_dmarc::PolicyOutcome::NoPolicy { reason } = &d.outcome else {
        panic!("{:?}", d.outcome)
    };
    assert_eq!(
        reason,
        "no DMARC record at _dmarc.news.example.com, and _dmarc.example.com has 2 DMARC \
         records (all discarded)"
    );
    assert_eq!(d.discarded.len(), 1);
}

// --- The version tag and tag syntax (§4.7 v, §4.8) --------------------------------------

#[test]
fn the_version_is_case_sensitive_and_exact() {
    for record in ["v=dmarc1; p=reject", "v=DMARC1x; p=reject"] {
        let zone = format!("_dmarc.example.com TXT \"{record}\"");
        let (out, _) = run(&zone, "example.com", &passing(None, &["example.com"]), WALK);
        assert_eq!(out.result, DmarcResult::None, "{record}");
    }
}

#[test]
fn whitespace_around_equals_and_literal_case() {
    let zone = "_dmarc.example.com TXT \"v = DMARC1; p = Reject; adkim = S\"";
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.result, DmarcResult::Pass);
    assert_eq!(out.policy.unwrap().requested, Policy::Reject);
    let (out, _) = run(
        zone,
        "mail.example.com",
        &passing(None, &["example.com"]),
        WALK,
    );
    assert_eq!(out.result, DmarcResult::Fail);
    assert_eq!(out.dkim[0].mode, sendwell_dmarc::AlignmentMode::Strict);
}

#[test]
fn split_txt_strings_are_joined() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=re\" \"ject\"";
    let (out, _) = run(zone, "example.com", &passing(None, &["example.com"]), WALK);
    assert_eq!(out.policy.unwrap().requested, Policy::Reject);
}

#[test]
fn report_uris_keep_their_case() {
    let zone = "_dmarc.example.com TXT \"v=DMARC1; p=none; rua=mailto:DMARC-Reports@Example.COM\"";
    let (out, _) = run(zone, "example.com", &passing(None, &[]), WALK);
    assert!(
        out.record
            .unwrap()
            .to_string()
            .contains("mailto:DMARC-Reports@Example.COM")
    );
}
