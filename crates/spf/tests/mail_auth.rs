//! mail-auth's SPF cases (tests/data/mail-auth-spf/*.yml, their own line format; see
//! tests/data/SOURCES.md), all 163 of them.
//!
//! mail-auth's runner checks the HELO identity first and returns its result unless it is
//! `pass`, and only then checks MAIL FROM. That is a receiver policy (RFC 7208 §2.3
//! allows deciding on HELO), not part of check_host(); this runner composes our
//! `evaluate_helo` and `evaluate` the same way, so each case tests check_host() on both
//! identities.
//!
//! Where mail-auth expects an answer that RFC 7208 does not give, [`RFC_ANSWERS`] names
//! the case, the section, and the RFC's answer, which is what we assert.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sendwell_dns::{MockLookup, MockRecord, Mx, Txt};
use sendwell_spf::{Config, SpfResult, evaluate, evaluate_helo};

use crate::support::{SuiteDns, runtime};

const FILES: &[(&str, &str)] = &[
    ("a.yml", include_str!("data/mail-auth-spf/a.yml")),
    ("all.yml", include_str!("data/mail-auth-spf/all.yml")),
    ("basic.yml", include_str!("data/mail-auth-spf/basic.yml")),
    (
        "examples.yml",
        include_str!("data/mail-auth-spf/examples.yml"),
    ),
    ("exists.yml", include_str!("data/mail-auth-spf/exists.yml")),
    ("exp.yml", include_str!("data/mail-auth-spf/exp.yml")),
    (
        "include.yml",
        include_str!("data/mail-auth-spf/include.yml"),
    ),
    ("ip.yml", include_str!("data/mail-auth-spf/ip.yml")),
    ("macro.yml", include_str!("data/mail-auth-spf/macro.yml")),
    ("mx.yml", include_str!("data/mail-auth-spf/mx.yml")),
    ("ptr.yml", include_str!("data/mail-auth-spf/ptr.yml")),
    (
        "redirect.yml",
        include_str!("data/mail-auth-spf/redirect.yml"),
    ),
];

/// A case where mail-auth's expectation disagrees with RFC 7208.
struct RfcAnswer {
    file: &'static str,
    /// The case's `name:`, `domain:` (HELO) and `ip:`.
    name: &'static str,
    helo: &'static str,
    ip: &'static str,
    mail_auth_expects: SpfResult,
    rfc: SpfResult,
    why: &'static str,
}

const RFC_ANSWERS: &[RfcAnswer] = &[
    // "v=spf1 -all ip:10.0.0.1": "ip" is no mechanism. RFC 7208 §4.6: "if there are any
    // syntax errors anywhere in the record, check_host() returns immediately with the
    // result "permerror", without further interpretation or evaluation"; terms after
    // "all" are not evaluated but are still parsed (open-spf: detect-errors-anywhere).
    RfcAnswer {
        file: "all.yml",
        name: "All test",
        helo: "test.org",
        ip: "10.0.0.1",
        mail_auth_expects: SpfResult::Fail,
        rfc: SpfResult::PermError,
        why: "RFC 7208 §4.6: a syntax error anywhere is a permerror",
    },
    // "v=spf1 a:t1.org … a:t10.org ~all" where no tN.org exists: each "a" is a void
    // lookup, and the third one exceeds RFC 7208 §4.6.4's limit ("SPF implementations
    // SHOULD limit "void lookups" to two … Exceeding the limit produces a "permerror"
    // result"; open-spf: void-over-limit). mail-auth has no void lookup limit.
    RfcAnswer {
        file: "basic.yml",
        name: "DNS Lookup Limits",
        helo: "ok.test.org",
        ip: "172.168.0.1",
        mail_auth_expects: SpfResult::SoftFail,
        rfc: SpfResult::PermError,
        why: "RFC 7208 §4.6.4: more than two void lookups",
    },
    // "exists:ip6.test.org" where the name has only AAAA records. RFC 7208 §5.7: "The
    // resulting domain name is used for a DNS A RR lookup (even when the connection
    // type is IPv6). If any A record is returned, this mechanism matches." No A record,
    // so no match, and "-all" gives fail (open-spf: exists-ip6only). mail-auth also
    // accepts AAAA records.
    RfcAnswer {
        file: "exists.yml",
        name: "Exists",
        helo: "ip6.test.org",
        ip: "167.1.2.3",
        mail_auth_expects: SpfResult::Pass,
        rfc: SpfResult::Fail,
        why: "RFC 7208 §5.7: exists looks up A records only",
    },
    // "ip6:::ffff:10.1.2.3" with <ip> 10.1.2.3: an IPv4 <ip> never matches an ip6
    // mechanism (RFC 7208 §5.6: ip6 compares "the <ip>" with an IPv6 network; §5 and
    // open-spf cidr6-0-ip4, cidr6-ip4: IPv4 and IPv4-mapped connections are IPv4 and
    // match only ip4). So "-all" decides: fail.
    RfcAnswer {
        file: "ip.yml",
        name: "IPv6 match",
        helo: "test.org",
        ip: "10.1.2.3",
        mail_auth_expects: SpfResult::Pass,
        rfc: SpfResult::Fail,
        why: "RFC 7208 §5.6: an IPv4 <ip> never matches ip6",
    },
    // "exists:%{ir}.%{v}._spf.%{d2}" for an IPv6 client, where the name has only an AAAA
    // record: as above, exists looks up A records only (RFC 7208 §5.7), so neither
    // exists matches and "-all" gives fail. mail-auth looks up AAAA for IPv6 clients.
    RfcAnswer {
        file: "macro.yml",
        name: "Macro expansion 2",
        helo: "mx.example.org",
        ip: "2001:db8::cb01",
        mail_auth_expects: SpfResult::Pass,
        rfc: SpfResult::Fail,
        why: "RFC 7208 §5.7: exists looks up A records only",
    },
];

/// The DNS data a file has declared so far; later lines replace earlier ones.
#[derive(Default)]
struct Records {
    txt: BTreeMap<String, String>,
    a: BTreeMap<String, Vec<Ipv4Addr>>,
    aaaa: BTreeMap<String, Vec<Ipv6Addr>>,
    ptr: BTreeMap<IpAddr, Vec<String>>,
    mx: BTreeMap<String, Vec<(u16, String)>>,
}

fn key(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl Records {
    fn dns(&self) -> SuiteDns {
        let mut mock = MockLookup::new();
        // mail-auth's test cache accepts names DNS cannot carry (a 300-octet name); such
        // a name cannot be asked for either, so it is simply not served.
        let mut add = |name: &str, record: MockRecord| {
            let _ = mock.try_add(name, record);
        };
        for (name, text) in &self.txt {
            add(name, MockRecord::Txt(Txt::new([text.as_bytes().to_vec()])));
        }
        for (name, ips) in &self.a {
            for ip in ips {
                add(name, MockRecord::A(*ip));
            }
        }
        for (name, ips) in &self.aaaa {
            for ip in ips {
                add(name, MockRecord::Aaaa(*ip));
            }
        }
        for (ip, names) in &self.ptr {
            for n in names {
                add(&sendwell_dns::reverse_name(*ip), MockRecord::Ptr(n.clone()));
            }
        }
        for (name, mxs) in &self.mx {
            for (preference, exchange) in mxs {
                add(
                    name,
                    MockRecord::Mx(Mx {
                        preference: *preference,
                        exchange: exchange.clone(),
                    }),
                );
            }
        }
        SuiteDns {
            mock,
            timeouts: Default::default(),
            servfail_marker: Some("_dns_error."),
        }
    }
}

struct Outcome {
    file: &'static str,
    name: String,
    helo: String,
    sender: String,
    ip: IpAddr,
    expected: SpfResult,
    expected_explanation: String,
    got: SpfResult,
    got_explanation: Option<String>,
}

fn run_all() -> Vec<Outcome> {
    let rt = runtime();
    let config = Config {
        receiver: "localdomain.org".into(),
        ..Config::default()
    };
    let mut outcomes = Vec::new();
    for (file, text) in FILES {
        let mut records = Records::default();
        for segment in text.split("---\n") {
            let (mut name, mut helo, mut sender) = (String::new(), String::new(), String::new());
            let mut ip: IpAddr = "127.0.0.1".parse().unwrap();
            for line in segment.lines() {
                let line = line.trim();
                let line = line.strip_prefix('-').map_or(line, str::trim);
                let split = |rest: &str| {
                    let (n, v) = rest.trim().split_once(' ').expect("a name and a value");
                    (key(n), v.trim().to_string())
                };
                if let Some(v) = line.strip_prefix("name:") {
                    name = v.trim().to_string();
                } else if let Some(rest) = line
                    .strip_prefix("spf:")
                    .or_else(|| line.strip_prefix("exp:"))
                {
                    let (n, v) = split(rest);
                    records.txt.insert(n, v);
                } else if let Some(rest) = line.strip_prefix("a:") {
                    let (n, v) = split(rest);
                    records
                        .a
                        .insert(n, v.split(',').map(|i| i.trim().parse().unwrap()).collect());
                } else if let Some(rest) = line.strip_prefix("aaaa:") {
                    let (n, v) = split(rest);
                    records
                        .aaaa
                        .insert(n, v.split(',').map(|i| i.trim().parse().unwrap()).collect());
                } else if let Some(rest) = line.strip_prefix("ptr:") {
                    let (addr, v) = rest.trim().split_once(' ').unwrap();
                    records.ptr.insert(
                        addr.parse().unwrap(),
                        v.split(',').map(|n| n.trim().to_string()).collect(),
                    );
                } else if let Some(rest) = line.strip_prefix("mx:") {
                    let (n, v) = split(rest);
                    let mut hosts = Vec::new();
                    for (pos, item) in v.split(',').enumerate() {
                        let addr: IpAddr = item.trim().parse().unwrap();
                        let host = format!("mx.{addr}.{pos}");
                        match addr {
                            IpAddr::V4(a) => {
                                records.a.insert(key(&host), vec![a]);
                            }
                            IpAddr::V6(a) => {
                                records.aaaa.insert(key(&host), vec![a]);
                            }
                        }
                        hosts.push((pos as u16 + 1, host));
                    }
                    records.mx.insert(n, hosts);
                } else if let Some(v) = line.strip_prefix("domain:") {
                    helo = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("sender:") {
                    sender = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("ip:") {
                    ip = v.trim().parse().unwrap();
                } else if let Some(v) = line.strip_prefix("expect:") {
                    let v = v.trim();
                    let (result, exp) = v.split_once(' ').unwrap_or((v, ""));
                    let dns = records.dns();
                    let helo_verdict = rt.block_on(evaluate_helo(&dns, ip, &helo, &config));
                    let verdict = if helo_verdict.result == SpfResult::Pass && !sender.is_empty() {
                        rt.block_on(evaluate(&dns, ip, &helo, &sender, &config))
                    } else {
                        helo_verdict
                    };
                    outcomes.push(Outcome {
                        file,
                        name: name.clone(),
                        helo: helo.clone(),
                        sender: sender.clone(),
                        ip,
                        expected: result.parse().unwrap(),
                        expected_explanation: exp.trim().to_string(),
                        got: verdict.result,
                        got_explanation: verdict.output.explanation,
                    });
                }
            }
        }
    }
    outcomes
}

#[test]
fn all_163_cases_agree_with_mail_auth_or_rfc_7208() {
    let outcomes = run_all();
    assert_eq!(
        outcomes.len(),
        163,
        "mail-auth's files hold 163 cases; every one must run"
    );
    let mut failures = Vec::new();
    let mut used = vec![false; RFC_ANSWERS.len()];
    for o in &outcomes {
        let deviation = RFC_ANSWERS.iter().position(|d| {
            d.file == o.file
                && d.name == o.name
                && d.helo == o.helo
                && o.ip == d.ip.parse::<IpAddr>().unwrap()
        });
        let want = match deviation {
            Some(i) => {
                let d = &RFC_ANSWERS[i];
                used[i] = true;
                assert_eq!(
                    o.expected, d.mail_auth_expects,
                    "{} / {}: the table of RFC answers is out of date",
                    o.file, o.name
                );
                d.rfc
            }
            None => o.expected,
        };
        let explanation_ok = o.expected_explanation.is_empty()
            || o.got_explanation.as_deref() == Some(o.expected_explanation.as_str());
        if o.got != want || !explanation_ok {
            failures.push(format!(
                "{} / {} (helo {}, sender {}, ip {}): got {} {:?}, want {} {:?}{}",
                o.file,
                o.name,
                o.helo,
                o.sender,
                o.ip,
                o.got,
                o.got_explanation,
                want,
                o.expected_explanation,
                deviation.map_or(String::new(), |i| format!(" ({})", RFC_ANSWERS[i].why)),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        used.iter().all(|u| *u),
        "an entry of RFC_ANSWERS matches no case"
    );
}
