//! Property tests: records built from the grammar round-trip exactly; any bytes, as a
//! record, a macro string, or a DNS answer, give a value and never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sendwell_dns::{MockLookup, MockRecord, Txt};
use sendwell_spf::expand::{
    self, ExpansionBudget, MAX_DOMAIN_NAME_LEN, MacroValues, expand_domain, expand_into,
};
use sendwell_spf::{Config, DomainSpec, MacroString, SpfRecord, evaluate};

use crate::support::runtime;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9_][a-z0-9-]{0,8}"
}

fn toplabel() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{2,6}", "xn--[a-z0-9]{2,6}"]
}

fn macro_expand() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            "[slodiphvSLODIPHV]",
            prop::option::of(1u32..200),
            any::<bool>(),
            "[.+,/_=-]{0,3}"
        )
            .prop_map(|(l, d, r, delims)| format!(
                "%{{{l}{}{}{delims}}}",
                d.map_or(String::new(), |d| d.to_string()),
                if r { "r" } else { "" }
            )),
        Just("%%".to_string()),
        Just("%_".to_string()),
        Just("%-".to_string()),
    ]
}

/// A domain-spec in canonical form: pieces joined by dots, ending in `.toplabel` or a
/// macro.
fn domain_spec() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![label(), macro_expand()], 1..4),
        prop_oneof![
            toplabel().prop_map(|t| format!(".{t}")),
            macro_expand().prop_map(|m| format!(".{m}")),
        ],
    )
        .prop_map(|(pieces, end)| format!("{}{end}", pieces.join(".")))
}

fn cidr4() -> impl Strategy<Value = String> {
    prop::option::of(0u8..=32).prop_map(|c| c.map_or(String::new(), |c| format!("/{c}")))
}

fn cidr6() -> impl Strategy<Value = String> {
    prop::option::of(0u8..=128).prop_map(|c| c.map_or(String::new(), |c| format!("//{c}")))
}

fn directive() -> impl Strategy<Value = String> {
    let mechanism = prop_oneof![
        Just("all".to_string()),
        domain_spec().prop_map(|d| format!("include:{d}")),
        (prop::option::of(domain_spec()), cidr4(), cidr6()).prop_map(|(d, c4, c6)| format!(
            "a{}{c4}{c6}",
            d.map_or(String::new(), |d| format!(":{d}"))
        )),
        (prop::option::of(domain_spec()), cidr4(), cidr6()).prop_map(|(d, c4, c6)| format!(
            "mx{}{c4}{c6}",
            d.map_or(String::new(), |d| format!(":{d}"))
        )),
        prop::option::of(domain_spec())
            .prop_map(|d| format!("ptr{}", d.map_or(String::new(), |d| format!(":{d}")))),
        (any::<u32>(), prop::option::of(0u8..=32)).prop_map(|(a, c)| format!(
            "ip4:{}{}",
            Ipv4Addr::from(a),
            c.map_or(String::new(), |c| format!("/{c}"))
        )),
        (any::<u128>(), prop::option::of(0u8..=128)).prop_map(|(a, c)| format!(
            "ip6:{}{}",
            Ipv6Addr::from(a),
            c.map_or(String::new(), |c| format!("/{c}"))
        )),
        domain_spec().prop_map(|d| format!("exists:{d}")),
    ];
    ("[-+~?]?", mechanism).prop_map(|(q, m)| format!("{q}{m}"))
}

/// A record in canonical form, built from the RFC 7208 §12 grammar.
fn canonical_record() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(directive(), 0..8),
        prop::option::of(domain_spec()),
        prop::option::of(domain_spec()),
        prop::collection::vec(
            (
                "[a-z][a-z0-9._-]{0,6}",
                prop::collection::vec(prop_oneof!["[!-$&-~]{1,5}", macro_expand()], 0..3),
            ),
            0..2,
        ),
    )
        .prop_map(|(directives, redirect, exp, unknown)| {
            let mut terms = directives;
            if let Some(r) = redirect {
                terms.push(format!("redirect={r}"));
            }
            if let Some(e) = exp {
                terms.push(format!("exp={e}"));
            }
            for (name, value) in unknown {
                // "redirect" and "exp" are known names; keep unknown ones unknown.
                if !["redirect", "exp"].contains(&name.as_str()) {
                    terms.push(format!("{name}={}", value.concat()));
                }
            }
            let mut record = "v=spf1".to_string();
            for t in terms {
                record.push(' ');
                record.push_str(&t);
            }
            record
        })
}

fn values<'a>(
    sender: &'a str,
    local: &'a str,
    domain: &'a str,
    helo: &'a str,
    ip: IpAddr,
) -> MacroValues<'a> {
    MacroValues {
        sender,
        local_part: local,
        sender_domain: domain,
        domain,
        ip,
        helo,
        receiver: "receiver.example",
        timestamp: 1_700_000_000,
        validated_domain: "unknown",
    }
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn canonical_records_round_trip_exactly(s in canonical_record()) {
        let parsed: SpfRecord = s.parse().map_err(|e| TestCaseError::fail(format!("{s:?}: {e}")))?;
        prop_assert_eq!(parsed.to_string(), s);
    }

    #[test]
    fn whatever_parses_reparses_to_the_same_record(
        body in prop_oneof![
            "[ -~]{0,120}",
            prop::collection::vec(prop_oneof![directive(), "[ -~]{1,12}"], 0..6)
                .prop_map(|t| t.join(" ")),
        ],
        spaces in "[ ]{1,3}",
    ) {
        let s = format!("v=spf1{spaces}{body}");
        if let Ok(record) = s.parse::<SpfRecord>() {
            let shown = record.to_string();
            let again: SpfRecord = shown.parse().map_err(|e| TestCaseError::fail(format!("{shown:?}: {e}")))?;
            prop_assert_eq!(&again, &record);
            prop_assert_eq!(again.to_string(), shown);
        }
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..400), prefix in any::<bool>()) {
        let mut input = if prefix { b"v=spf1 ".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let _ = SpfRecord::parse_bytes(&input);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = s.parse::<DomainSpec>();
            let _ = MacroString::parse(s, true);
        }
    }

    #[test]
    fn macro_expansion_is_bounded_and_total(
        ms in prop_oneof![
            prop::collection::vec(prop_oneof![macro_expand(), "[ -$&-~]{1,8}"], 0..12).prop_map(|p| p.concat()),
            "[ -~]{0,60}",
        ],
        sender_local in "[ -~]{0,80}",
        domain in "[a-z0-9.-]{0,80}",
        helo in "[ -~]{0,80}",
        ip in any_ip(),
    ) {
        let sender = format!("{sender_local}@{domain}");
        let v = values(&sender, &sender_local, &domain, &helo, ip);
        if let Ok(parsed) = MacroString::parse(&ms, true) {
            let mut out = String::new();
            let mut budget = ExpansionBudget::default();
            let before = budget.remaining();
            expand_into(&parsed, &v, &mut budget, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(before - budget.remaining() >= out.len().min(before));
            if let Ok(spec) = ms.parse::<DomainSpec>() {
                let name = expand_domain(spec.macro_string(), &v, &mut ExpansionBudget::default())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                if expand::is_valid_target_name(&name) {
                    prop_assert!(name.len() <= MAX_DOMAIN_NAME_LEN);
                }
            }
        }
    }

    #[test]
    fn any_dns_answer_gives_a_result(
        record in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200).prop_map(|mut b| { let mut r = b"v=spf1 ".to_vec(); r.append(&mut b); r }),
            canonical_record().prop_map(String::into_bytes),
        ],
        other in canonical_record(),
        ip in any_ip(),
        sender in "[a-z%{}.]{0,12}@example\\.com",
    ) {
        let mut dns = MockLookup::new();
        dns.add("example.com", MockRecord::Txt(Txt::new([record])));
        // Names the generated records may point at.
        for name in ["a.example.com", "b.c", "x.y.example"] {
            dns.add(name, MockRecord::Txt(Txt::new([other.clone().into_bytes()])));
            dns.add(name, MockRecord::A(Ipv4Addr::new(192, 0, 2, 1)));
        }
        let config = Config { trace: true, ..Config::default() };
        let verdict = runtime().block_on(evaluate(&dns, ip, "helo.example", &sender, &config));
        prop_assert!(verdict.output.lookups <= sendwell_spf::MAX_DNS_LOOKUPS);
        prop_assert!(verdict.output.void_lookups <= sendwell_spf::MAX_VOID_LOOKUPS + 1);
        prop_assert_eq!(verdict.result.to_string().parse::<sendwell_spf::SpfResult>().ok(), Some(verdict.result));
    }
}

#[test]
fn a_huge_macro_record_hits_the_budget_not_the_allocator() {
    // 60 KiB of %{s} (a record a DNS answer can carry) and a 1000-octet sender would ask
    // for 15 MB of output in one expansion; the budget stops it with a permerror.
    let record = format!("v=spf1 exists:{}.example.com -all", "%{s}".repeat(15_000));
    let mut dns = MockLookup::new();
    dns.add(
        "example.com",
        MockRecord::Txt(Txt::new(record.as_bytes().chunks(255).map(<[u8]>::to_vec))),
    );
    let sender = format!("{}@example.com", "x".repeat(1000));
    let verdict = runtime().block_on(evaluate(
        &dns,
        "192.0.2.1".parse().unwrap(),
        "helo.example",
        &sender,
        &Config::default(),
    ));
    assert_eq!(verdict.result, sendwell_spf::SpfResult::PermError);
    assert_eq!(verdict.output.problem.unwrap().code(), "expansion_limit");
}
