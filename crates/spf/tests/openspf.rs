//! The open-spf RFC 7208 test suite (tests/data/rfc7208-tests.yml): every one of its 203
//! cases runs against a `MockLookup` built from its scenario's zone data, and must give
//! one of the results the case allows and, where it names one, the explanation.
//! Nothing is skipped; the count is asserted.

use std::collections::HashSet;
use std::net::IpAddr;

use sendwell_dns::{MockLookup, MockRecord, Mx, Txt};
use sendwell_spf::{Config, SpfResult, evaluate};
use serde_yaml::Value;

use crate::support::{SuiteDns, runtime};

const SUITE: &str = include_str!("data/rfc7208-tests.yml");

/// One test case of the suite.
#[derive(Debug)]
struct Case {
    scenario: String,
    name: String,
    helo: String,
    host: IpAddr,
    mailfrom: String,
    results: Vec<SpfResult>,
    explanation: Option<String>,
}

/// The suite's strings stand for octets: `"\x96"` in YAML is U+0096, meant as the byte
/// 0x96. Text whose characters all fit in one octet is taken octet by octet.
fn octets(s: &str) -> Vec<u8> {
    if s.chars().all(|c| u32::from(c) < 256) {
        s.chars().map(|c| u32::from(c) as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn strings(v: &Value) -> Txt {
    match v {
        Value::Sequence(items) => Txt::new(items.iter().map(|i| octets(&text(i)))),
        other => Txt::new([octets(&text(other))]),
    }
}

/// The zone data of one scenario, with the rules of pyspf's `testspf.py`: an SPF entry
/// is also served as TXT unless the name has a TXT entry (`TXT: NONE` included).
fn zone(zonedata: &Value) -> SuiteDns {
    let mut dns = SuiteDns {
        mock: MockLookup::new(),
        timeouts: HashSet::new(),
        servfail_marker: None,
    };
    let Value::Mapping(names) = zonedata else {
        panic!("zonedata is not a mapping")
    };
    for (name, entries) in names {
        let name = text(name);
        let entries = entries.as_sequence().expect("a list of records");
        let has_txt = entries.iter().any(|e| e.get("TXT").is_some());
        for entry in entries {
            if entry.as_str() == Some("TIMEOUT") {
                dns.timeouts
                    .insert(sendwell_dns::normalize_name(&name).expect("a valid name"));
                continue;
            }
            let Value::Mapping(m) = entry else {
                panic!("unexpected entry {entry:?} at {name}")
            };
            for (rtype, value) in m {
                let record = match text(rtype).as_str() {
                    "SPF" => {
                        let txt = strings(value);
                        if !has_txt {
                            dns.mock.add(&name, MockRecord::Txt(txt.clone()));
                        }
                        MockRecord::Spf(txt)
                    }
                    "TXT" if value.as_str() == Some("NONE") => continue,
                    "TXT" => MockRecord::Txt(strings(value)),
                    "A" => MockRecord::A(text(value).parse().expect("an IPv4 address")),
                    "AAAA" => MockRecord::Aaaa(text(value).parse().expect("an IPv6 address")),
                    "PTR" => MockRecord::Ptr(text(value)),
                    "CNAME" => MockRecord::Cname(text(value)),
                    "MX" => {
                        let pair = value.as_sequence().expect("MX: [preference, exchange]");
                        MockRecord::Mx(Mx {
                            preference: pair[0].as_u64().expect("a preference") as u16,
                            exchange: text(&pair[1]).trim_end_matches('.').to_string(),
                        })
                    }
                    other => panic!("unknown record type {other} at {name}"),
                };
                dns.mock.add(&name, record);
            }
        }
    }
    dns
}

fn load() -> Vec<(SuiteDns, Vec<Case>)> {
    let mut scenarios = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(SUITE) {
        let doc = Value::deserialize(doc).expect("valid YAML");
        let scenario = text(&doc["description"]);
        let dns = zone(&doc["zonedata"]);
        let Value::Mapping(tests) = &doc["tests"] else {
            panic!("tests is not a mapping")
        };
        let mut cases = Vec::new();
        for (name, t) in tests {
            let results = match &t["result"] {
                Value::Sequence(rs) => rs.iter().map(|r| text(r).parse().unwrap()).collect(),
                r => vec![text(r).parse().unwrap()],
            };
            cases.push(Case {
                scenario: scenario.clone(),
                name: text(name),
                helo: text(&t["helo"]),
                host: text(&t["host"]).parse().expect("an IP address"),
                mailfrom: text(&t["mailfrom"]),
                results,
                explanation: t.get("explanation").map(text),
            });
        }
        scenarios.push((dns, cases));
    }
    scenarios
}

use serde::Deserialize;

#[test]
fn all_203_cases_pass() {
    let rt = runtime();
    let traced = Config {
        receiver: "receiver.example".into(),
        trace: true,
        timestamp: Some(1_700_000_000),
        ..Config::default()
    };
    // Without the trace and without the (default) cache of parsed records: the answer
    // must not depend on either.
    let quiet = Config {
        trace: false,
        record_cache: None,
        ..traced.clone()
    };
    let mut ran = 0;
    let mut failures = Vec::new();
    for (dns, cases) in load() {
        for case in cases {
            ran += 1;
            let verdict = rt.block_on(evaluate(
                &dns,
                case.host,
                &case.helo,
                &case.mailfrom,
                &traced,
            ));
            let out = &verdict.output;
            let mut wrong = Vec::new();
            if !case.results.contains(&verdict.result) {
                wrong.push(format!(
                    "result {} (want {:?})",
                    verdict.result, case.results
                ));
            }
            match case.explanation.as_deref() {
                None => {}
                // pyspf's runner sets its default explanation to "DEFAULT": the case
                // wants no explanation from an exp= record.
                Some("DEFAULT") if out.explanation.is_some() => {
                    wrong.push(format!("explanation {:?} (want none)", out.explanation))
                }
                Some("DEFAULT") => {}
                Some(want) if out.explanation.as_deref() != Some(want) => {
                    wrong.push(format!("explanation {:?} (want {want:?})", out.explanation))
                }
                Some(_) => {}
            }
            // The result must not depend on the trace or the record cache.
            let again = rt.block_on(evaluate(
                &dns,
                case.host,
                &case.helo,
                &case.mailfrom,
                &quiet,
            ));
            if again.result != verdict.result || again.output.explanation != out.explanation {
                wrong.push("a different answer without the trace".into());
            }
            if !again.output.trace.is_empty() || out.trace.is_empty() {
                wrong.push("the trace is kept only when asked for".into());
            }
            if !wrong.is_empty() {
                let trace: Vec<String> = out.trace.iter().map(ToString::to_string).collect();
                failures.push(format!(
                    "{} / {}: {}\n  problem: {:?}\n{}",
                    case.scenario,
                    case.name,
                    wrong.join("; "),
                    out.problem.as_ref().map(ToString::to_string),
                    trace.join("\n")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(ran, 203, "the suite has 203 cases; every one must run");
}

#[test]
fn every_result_and_problem_is_exercised() {
    // The suite reaches all seven results and every kind of problem; make sure this
    // runner does too, so that a loader bug (a scenario read as empty, say) cannot hide
    // behind passing cases.
    let rt = runtime();
    let mut results = HashSet::new();
    let mut problems = HashSet::new();
    for (dns, cases) in load() {
        for case in cases {
            let v = rt.block_on(evaluate(
                &dns,
                case.host,
                &case.helo,
                &case.mailfrom,
                &Config::default(),
            ));
            results.insert(v.result);
            if let Some(p) = v.output.problem {
                problems.insert(p.code());
            }
        }
    }
    for r in SpfResult::ALL {
        assert!(results.contains(&r), "no case gave {r}");
    }
    for code in [
        "invalid_domain",
        "no_spf_record",
        "dns_failure",
        "multiple_records",
        "syntax_error",
        "lookup_limit",
        "void_lookup_limit",
        "mx_limit",
        "include_none",
        "redirect_none",
    ] {
        assert!(problems.contains(code), "no case had the problem {code}");
    }
}
