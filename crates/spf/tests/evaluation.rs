//! Whole evaluations: what the output says beyond the result — the deciding term, the
//! counts, the trace, the explanation — and the headers written from it.

use sendwell_dns::MockLookup;
use sendwell_spf::header::{ReceivedSpf, SpfAuthResult};
use sendwell_spf::trace::{Answer, TermOutcome, TraceEvent, Via};
use sendwell_spf::{Config, Identity, SpfResult, check_host, evaluate, evaluate_helo};

use crate::support::runtime;

const ZONE: &str = r#"
example.com          TXT  "v=spf1 ip4:198.51.100.0/24 include:_spf.example.net " "redirect=_spf.example.org"
_spf.example.net     TXT  "v=spf1 a:mail.example.net ~all"
mail.example.net     A    192.0.2.10
_spf.example.org     TXT  "v=spf1 mx:example.org -all exp=why.example.org"
example.org          MX   10 mx1.example.org
example.org          MX   20 mx2.example.org
mx1.example.org      A    203.0.113.1
mx2.example.org      A    203.0.113.2
why.example.org      TXT  "%{i} may not send for %{d} (sender %{s})"
v6only.example       TXT  "v=spf1 mx ?all"
v6only.example       MX   1 a.v6only.example
v6only.example       MX   2 b.v6only.example
v6only.example       MX   3 c.v6only.example
a.v6only.example     A    192.0.2.1
b.v6only.example     A    192.0.2.2
c.v6only.example     A    192.0.2.3
helo.example         TXT  "v=spf1 a -all"
helo.example         A    192.0.2.99
broken.example       TXT  "v=spf1 include:slow.example -all"
slow.example         TIMEOUT
"#;

fn dns() -> MockLookup {
    MockLookup::from_zone(ZONE).unwrap()
}

fn traced() -> Config {
    Config {
        trace: true,
        receiver: "mx.receiver.example".into(),
        timestamp: Some(1_700_000_000),
        ..Config::default()
    }
}

#[test]
fn include_match_is_decided_by_the_include() {
    let dns = dns().with_query_log();
    let v = runtime().block_on(evaluate(
        &dns,
        "192.0.2.10".parse().unwrap(),
        "mail.example.net",
        "alice@example.com",
        &traced(),
    ));
    assert_eq!(v.result, SpfResult::Pass);
    assert_eq!(v.identity, Identity::MailFrom);
    assert_eq!(v.domain, "example.com");
    let d = v.output.decided_by.as_ref().unwrap();
    assert_eq!(
        (d.domain.as_str(), d.term.as_str()),
        ("example.com", "include:_spf.example.net")
    );
    assert_eq!(v.output.lookups, 2, "include and a");
    assert_eq!(v.output.void_lookups, 0);
    assert_eq!(v.output.explanation, None);
    assert_eq!(
        dns.queries(),
        vec![
            "TXT example.com",
            "TXT _spf.example.net",
            "A mail.example.net"
        ]
    );
    // The trace shows the nested check_host, each query with its answer, each term with
    // its running counts, and the results.
    let t = &v.output.trace;
    assert!(t.contains(&TraceEvent::CheckHost {
        depth: 1,
        domain: "_spf.example.net".into(),
        via: Via::Include
    }));
    assert!(t.contains(&TraceEvent::Query {
        depth: 1,
        query: "A",
        name: "mail.example.net".into(),
        answer: Answer::Records {
            records: vec!["192.0.2.10".into()]
        }
    }));
    assert!(t.contains(&TraceEvent::Term {
        depth: 1,
        term: "a:mail.example.net".into(),
        lookups: 2,
        void_lookups: 0
    }));
    assert!(t.contains(&TraceEvent::TermResult {
        depth: 0,
        term: "include:_spf.example.net".into(),
        outcome: TermOutcome::Match,
        lookups: 2,
        void_lookups: 0
    }));
    assert_eq!(
        t.last(),
        Some(&TraceEvent::Result {
            depth: 0,
            domain: "example.com".into(),
            result: SpfResult::Pass,
            decided_by: Some("include:_spf.example.net".into())
        })
    );
}

#[test]
fn redirect_fail_takes_the_targets_explanation() {
    let v = runtime().block_on(evaluate(
        &dns(),
        "192.0.2.77".parse().unwrap(),
        "mail.example.net",
        "alice@example.com",
        &traced(),
    ));
    assert_eq!(v.result, SpfResult::Fail);
    let d = v.output.decided_by.as_ref().unwrap();
    assert_eq!(
        (d.domain.as_str(), d.term.as_str()),
        ("_spf.example.org", "-all")
    );
    // include, a (inside the include), redirect, mx: four DNS-querying terms.
    assert_eq!(v.output.lookups, 4);
    assert_eq!(
        v.output.explanation.as_deref(),
        Some("192.0.2.77 may not send for _spf.example.org (sender alice@example.com)")
    );
    let header = ReceivedSpf::new(&v, "mx.receiver.example").to_string();
    assert_eq!(
        header,
        "Received-SPF: fail (mx.receiver.example: domain of alice@example.com does not designate 192.0.2.77 as permitted sender) \
         client-ip=192.0.2.77; envelope-from=\"alice@example.com\"; helo=mail.example.net; receiver=mx.receiver.example; \
         identity=mailfrom; mechanism=-all;"
    );
    assert_eq!(
        SpfAuthResult::new(&v).to_string(),
        "spf=fail smtp.mailfrom=alice@example.com"
    );
}

#[test]
fn void_lookups_are_counted_per_term() {
    // An IPv6 client: none of the three MX hosts has AAAA records. RFC 7208 §4.6.4
    // counts "terms" whose queries come back empty, so this mx is one void lookup, not
    // three, and evaluation goes on to ?all.
    let v = runtime().block_on(check_host(
        &dns(),
        "2001:db8::1".parse().unwrap(),
        "v6only.example",
        "bob@v6only.example",
        "helo.example",
        &traced(),
    ));
    assert_eq!(v.result, SpfResult::Neutral);
    assert_eq!(v.void_lookups, 1);
    assert_eq!(v.lookups, 1);
}

#[test]
fn null_reverse_path_checks_postmaster_at_helo() {
    for mail_from in ["", "<>"] {
        let v = runtime().block_on(evaluate(
            &dns(),
            "192.0.2.99".parse().unwrap(),
            "helo.example",
            mail_from,
            &traced(),
        ));
        assert_eq!(v.identity, Identity::Helo);
        assert_eq!(v.domain, "helo.example");
        assert_eq!(v.sender, "postmaster@helo.example");
        assert_eq!(v.result, SpfResult::Pass);
        assert_eq!(
            SpfAuthResult::new(&v).to_string(),
            "spf=pass smtp.helo=helo.example"
        );
    }
    let v = runtime().block_on(evaluate_helo(
        &dns(),
        "192.0.2.1".parse().unwrap(),
        "helo.example",
        &traced(),
    ));
    assert_eq!(v.result, SpfResult::Fail);
    let literal = runtime().block_on(evaluate_helo(
        &dns(),
        "192.0.2.1".parse().unwrap(),
        "[192.0.2.1]",
        &traced(),
    ));
    assert_eq!(literal.result, SpfResult::None);
    assert_eq!(literal.output.problem.unwrap().code(), "invalid_domain");
}

#[test]
fn a_timeout_inside_an_include_is_a_temperror_with_its_cause() {
    let v = runtime().block_on(evaluate(
        &dns(),
        "192.0.2.1".parse().unwrap(),
        "helo.example",
        "x@broken.example",
        &traced(),
    ));
    assert_eq!(v.result, SpfResult::TempError);
    let problem = v.output.problem.as_ref().unwrap();
    assert_eq!(problem.code(), "dns_failure");
    assert!(
        problem.to_string().contains("TXT slow.example timed out"),
        "{problem}"
    );
    assert!(v.output.trace.contains(&TraceEvent::Query {
        depth: 1,
        query: "TXT",
        name: "slow.example".into(),
        answer: Answer::Timeout
    }));
    let header = ReceivedSpf::new(&v, "mx.receiver.example").to_string();
    assert!(header.starts_with("Received-SPF: temperror ("), "{header}");
    assert!(
        header.contains("problem=\"the DNS query TXT slow.example timed out"),
        "{header}"
    );
}

#[test]
fn ipv4_mapped_clients_are_ipv4() {
    let v = runtime().block_on(evaluate(
        &dns(),
        "::ffff:198.51.100.7".parse().unwrap(),
        "helo.example",
        "alice@example.com",
        &Config::default(),
    ));
    assert_eq!(v.result, SpfResult::Pass);
    assert_eq!(v.output.decided_by.unwrap().term, "ip4:198.51.100.0/24");
    assert!(v.output.trace.is_empty(), "no trace unless asked");
}

#[test]
fn the_output_serializes_with_stable_names() {
    let v = runtime().block_on(evaluate(
        &dns(),
        "192.0.2.77".parse().unwrap(),
        "mail.example.net",
        "alice@example.com",
        &traced(),
    ));
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["result"], "fail");
    assert_eq!(json["identity"], "mailfrom");
    assert_eq!(json["output"]["lookups"], 4);
    assert_eq!(json["output"]["decided_by"]["term"], "-all");
    let events = json["output"]["trace"].as_array().unwrap();
    assert_eq!(events[0]["event"], "check_host");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "query" && e["answer"]["status"] == "records")
    );
}
