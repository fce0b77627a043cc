//! Sendwell against a real peer: BIND serves a set of SPF scenarios on loopback, and
//! every case is evaluated twice over real DNS — by Sendwell through `HickoryLookup`,
//! and by pyspf (`spf.check2`) with dnspython pointed at the same server. Results must
//! agree, and so must explanations wherever the record has `exp=`.
//!
//! Where they differ, [`DIFFERENCES`] names the case, pyspf's answer, and the RFC 7208
//! section that gives ours; the test checks both sides of each difference.

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use sendwell_dns::HickoryLookup;
use sendwell_spf::{Config, SpfResult, evaluate};
use sendwell_testkit::Bind;

use crate::support::runtime;

const ZONE: &str = r#"
ip4        TXT  "v=spf1 ip4:192.0.2.0/24 -all"
ip6        TXT  "v=spf1 ip6:2001:db8::/32 -all"
split      TXT  "v=spf1 ip4:192.0.2.1 " "ip4:192.0.2.2 -all"
mixedcase  TXT  "V=SPF1 IP4:192.0.2.0/24 -ALL"
amech      TXT  "v=spf1 a a:host1.spf.test/24 -all"
amech      A    192.0.2.10
host1      A    198.51.100.20
host1      AAAA 2001:db8:1::20
mxmech     TXT  "v=spf1 mx mx:mxother.spf.test//64 -all"
mxmech     MX   10 mx1.spf.test.
mx1        A    192.0.2.30
mxother    MX   10 mx2.spf.test.
mx2        AAAA 2001:db8:2::30
inc        TXT  "v=spf1 include:ip4.spf.test include:soft.spf.test ~all"
soft       TXT  "v=spf1 ip4:203.0.113.0/24 ~all"
neutral    TXT  "v=spf1 include:soft.spf.test ?all"
incnone    TXT  "v=spf1 include:nothing.spf.test -all"
redir      TXT  "v=spf1 ip4:198.51.100.1 redirect=ip4.spf.test"
redirnone  TXT  "v=spf1 redirect=nothing.spf.test"
exists     TXT  "v=spf1 exists:%{ir}.%{l1r+-}.allow.spf.test -all"
1.2.0.192.alice.allow A 127.0.0.2
ptrmech    TXT  "v=spf1 ptr:spf.test -all"
named      A    192.0.2.5
explain    TXT  "v=spf1 ip4:192.0.2.1 -all exp=why.spf.test"
why        TXT  "%{i} is not allowed to send for %{d}, sender %{s} (%{l} at %{o}), helo %{h}, via %{v}"
pmacro     TXT  "v=spf1 -all exp=pwhy.spf.test"
pwhy       TXT  "host %{p} (%{c}) rejected by %{r}"
two        TXT  "v=spf1 -all"
two        TXT  "v=spf1 +all"
syntax     TXT  "v=spf1 ip4:192.0.2.300 -all"
limit      TXT  "v=spf1 include:c1.spf.test -all"
c1         TXT  "v=spf1 include:c2.spf.test"
c2         TXT  "v=spf1 include:c3.spf.test"
c3         TXT  "v=spf1 include:c4.spf.test"
c4         TXT  "v=spf1 include:c5.spf.test"
c5         TXT  "v=spf1 include:c6.spf.test"
c6         TXT  "v=spf1 include:c7.spf.test"
c7         TXT  "v=spf1 include:c8.spf.test"
c8         TXT  "v=spf1 include:c9.spf.test"
c9         TXT  "v=spf1 include:c10.spf.test"
c10        TXT  "v=spf1 include:c11.spf.test"
c11        TXT  "v=spf1 ?all"
atlimit    TXT  "v=spf1 include:c3.spf.test ip4:192.0.2.0/24 -all"
void       TXT  "v=spf1 a:no1.spf.test a:no2.spf.test a:no3.spf.test ip4:192.0.2.0/24 -all"
voidok     TXT  "v=spf1 a:no1.spf.test a:no2.spf.test ip4:192.0.2.0/24 -all"
mail       TXT  "v=spf1 a -all"
mail       A    192.0.2.40
nospf      A    192.0.2.1
mxv6       TXT  "v=spf1 mx ?all"
mxv6       MX   1 v4a.spf.test.
mxv6       MX   2 v4b.spf.test.
mxv6       MX   3 v4c.spf.test.
v4a        A    192.0.2.61
v4b        A    192.0.2.62
v4c        A    192.0.2.63
bigmx      TXT  "v=spf1 mx -all"
"#;

const REVERSE: &str = "5 PTR named.spf.test.\n";

/// One case: a client address, a MAIL FROM, a HELO.
struct Case {
    name: &'static str,
    ip: &'static str,
    sender: &'static str,
    helo: &'static str,
}

const fn case(name: &'static str, ip: &'static str, sender: &'static str) -> Case {
    Case {
        name,
        ip,
        sender,
        helo: "client.spf.test",
    }
}

const CASES: &[Case] = &[
    case("ip4-pass", "192.0.2.7", "a@ip4.spf.test"),
    case("ip4-fail", "198.51.100.7", "a@ip4.spf.test"),
    case("ip4-mapped", "::ffff:192.0.2.7", "a@ip4.spf.test"),
    case("ip6-pass", "2001:db8::7", "a@ip6.spf.test"),
    case("ip6-v4-client", "192.0.2.7", "a@ip6.spf.test"),
    case("split-strings", "192.0.2.2", "a@split.spf.test"),
    case("mixed-case", "192.0.2.9", "a@mixedcase.spf.test"),
    case("a-self", "192.0.2.10", "a@amech.spf.test"),
    case("a-cidr", "198.51.100.99", "a@amech.spf.test"),
    case("a-v6", "2001:db8:1::20", "a@amech.spf.test"),
    case("a-fail", "203.0.113.1", "a@amech.spf.test"),
    case("mx-pass", "192.0.2.30", "a@mxmech.spf.test"),
    case("mx-v6-cidr", "2001:db8:2::99", "a@mxmech.spf.test"),
    case("mx-fail", "203.0.113.9", "a@mxmech.spf.test"),
    case("include-pass", "192.0.2.50", "a@inc.spf.test"),
    case("include-softfail", "198.51.100.5", "a@inc.spf.test"),
    case("include-neutral", "198.51.100.5", "a@neutral.spf.test"),
    case("include-inner-pass", "203.0.113.5", "a@neutral.spf.test"),
    case("include-none", "192.0.2.1", "a@incnone.spf.test"),
    case("redirect-own", "198.51.100.1", "a@redir.spf.test"),
    case("redirect-pass", "192.0.2.9", "a@redir.spf.test"),
    case("redirect-fail", "203.0.113.1", "a@redir.spf.test"),
    case("redirect-none", "192.0.2.1", "a@redirnone.spf.test"),
    case("exists-macro-pass", "192.0.2.1", "alice@exists.spf.test"),
    case("exists-macro-fail", "192.0.2.1", "bob@exists.spf.test"),
    case("ptr-pass", "192.0.2.5", "a@ptrmech.spf.test"),
    case("ptr-fail", "192.0.2.6", "a@ptrmech.spf.test"),
    case("exp-macros", "192.0.2.99", "someone@explain.spf.test"),
    case("exp-p-macro", "192.0.2.5", "a@pmacro.spf.test"),
    case("multiple-records", "192.0.2.1", "a@two.spf.test"),
    case("syntax-error", "192.0.2.1", "a@syntax.spf.test"),
    case("lookup-limit", "192.0.2.1", "a@limit.spf.test"),
    case("lookup-at-limit", "192.0.2.1", "a@atlimit.spf.test"),
    case("void-over-limit", "192.0.2.1", "a@void.spf.test"),
    case("void-at-limit", "192.0.2.1", "a@voidok.spf.test"),
    case("no-spf-record", "192.0.2.1", "a@nospf.spf.test"),
    case("nxdomain", "192.0.2.1", "a@nothing.spf.test"),
    Case {
        name: "null-sender-helo-pass",
        ip: "192.0.2.40",
        sender: "",
        helo: "mail.spf.test",
    },
    Case {
        name: "null-sender-helo-fail",
        ip: "192.0.2.41",
        sender: "",
        helo: "mail.spf.test",
    },
    case("mx-v6-void-per-term", "2001:db8::1", "a@mxv6.spf.test"),
    case(
        "mx-eleven-hosts-first-matches",
        "192.0.2.100",
        "a@bigmx.spf.test",
    ),
];

/// A case where pyspf and RFC 7208 part ways.
struct Difference {
    name: &'static str,
    pyspf: SpfResult,
    sendwell: SpfResult,
    why: &'static str,
}

const DIFFERENCES: &[Difference] = &[
    // An IPv6 client; the three MX hosts have A records only, so each AAAA query is
    // empty. RFC 7208 §4.6.4 limits "the number of "terms" for which DNS queries return
    // … [no records]" ("void lookups"): this one mx term counts once, and ?all gives
    // neutral. pyspf counts every empty query, reaches three, and gives permerror.
    Difference {
        name: "mx-v6-void-per-term",
        pyspf: SpfResult::PermError,
        sendwell: SpfResult::Neutral,
        why: "RFC 7208 §4.6.4 counts void lookups per term",
    },
    // Eleven MX hosts; the client is the first. RFC 7208 §4.6.4: "the evaluation of each
    // "MX" record MUST NOT result in querying more than 10 address records … If this
    // limit is exceeded, the "mx" mechanism MUST produce a "permerror" result." The
    // first address matches, so one address record is queried and the limit is never
    // exceeded: pass. pyspf refuses any MX set of more than 10 names up front.
    Difference {
        name: "mx-eleven-hosts-first-matches",
        pyspf: SpfResult::PermError,
        sendwell: SpfResult::Pass,
        why: "RFC 7208 §4.6.4 limits the address records queried, not the MX set",
    },
];

const PYSPF: &str = r#"
import json, sys
import dns.resolver
import spf
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = int(sys.argv[1])
resolver.timeout = 2
resolver.lifetime = 5
dns.resolver.default_resolver = resolver
# pyspf asks dns.resolver.query(), which uses the default resolver: make sure pyspf
# took dnspython (not pydns, which would read /etc/resolv.conf) as its backend.
assert spf.DNSLookup is spf.DNSLookup_dnspython, "pyspf does not use dnspython"
out = []
for c in json.load(sys.stdin):
    result, explanation = spf.check2(i=c["ip"], s=c["sender"], h=c["helo"], receiver="receiver.test")
    out.append([result, explanation])
print(json.dumps(out))
"#;

fn pyspf(port: u16) -> Vec<(String, String)> {
    let cases: Vec<serde_json::Value> = CASES
        .iter()
        .map(|c| serde_json::json!({"ip": c.ip, "sender": c.sender, "helo": c.helo}))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", PYSPF, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (scripts/test.sh installs pyspf and dnspython)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&cases).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pyspf failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pyspf printed JSON")
}

/// Start BIND with the scenarios and make sure it serves them: a zone that failed to load
/// would make both sides answer temperror everywhere and "agree".
fn serve() -> (Bind, HickoryLookup) {
    let zone = zone();
    let bind = Bind::start(&[("spf.test", &zone), ("2.0.192.in-addr.arpa", REVERSE)]);
    let lookup = HickoryLookup::with_server(bind.addr());
    // Bind::start returns once named logs "running as: …", which comes before the
    // zones are loaded; wait (up to 10 s) until both are answered.
    let served = runtime().block_on(async {
        use sendwell_dns::Lookup;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let txt = lookup.lookup_txt("ip4.spf.test").await;
            let ptr = lookup.lookup_ptr("192.0.2.5".parse().unwrap()).await;
            if (txt.is_ok() && ptr.is_ok()) || std::time::Instant::now() > deadline {
                return (txt, ptr);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    assert!(
        served.0.is_ok() && served.1.is_ok(),
        "BIND does not serve the test zones ({served:?}):\n{}",
        std::fs::read_to_string(bind.dir().join("named.log")).unwrap_or_default()
    );
    (bind, lookup)
}

fn zone() -> String {
    let mut zone = ZONE.to_string();
    for i in 0..11 {
        zone.push_str(&format!(
            "bigmx MX {i} h{i}.bigmx.spf.test.\nh{i}.bigmx A 192.0.2.{}\n",
            100 + i
        ));
    }
    zone
}

#[test]
fn sendwell_and_pyspf_agree_over_bind() {
    let (bind, lookup) = serve();
    let config = Config {
        receiver: "receiver.test".into(),
        ..Config::default()
    };
    let rt = runtime();
    let theirs = pyspf(bind.addr().port());
    assert_eq!(theirs.len(), CASES.len());
    let mut failures = Vec::new();
    let mut results = std::collections::HashSet::new();
    for (c, (their_result, their_exp)) in CASES.iter().zip(&theirs) {
        let ip: IpAddr = c.ip.parse().unwrap();
        let ours = rt.block_on(evaluate(&lookup, ip, c.helo, c.sender, &config));
        results.insert(ours.result);
        let their: SpfResult = their_result.parse().expect("a result token");
        let want_ours = DIFFERENCES.iter().find(|d| d.name == c.name);
        match want_ours {
            Some(d) => {
                if their != d.pyspf || ours.result != d.sendwell {
                    failures.push(format!(
                        "{}: pyspf {their} (expected {}), sendwell {} (expected {}; {})",
                        c.name, d.pyspf, ours.result, d.sendwell, d.why
                    ));
                }
            }
            None => {
                if their != ours.result {
                    failures.push(format!(
                        "{}: pyspf {their}, sendwell {} ({:?})",
                        c.name,
                        ours.result,
                        ours.output.problem.as_ref().map(ToString::to_string)
                    ));
                }
            }
        }
        if let Some(exp) = &ours.output.explanation
            && exp != their_exp
        {
            failures.push(format!(
                "{}: explanation {exp:?}, pyspf {their_exp:?}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The scenarios reach every result but temperror (BIND answers everything here).
    for r in SpfResult::ALL {
        assert!(
            r == SpfResult::TempError || results.contains(&r),
            "no case gave {r}"
        );
    }
}

#[test]
fn explanations_over_real_dns() {
    let (_bind, lookup) = serve();
    let config = Config {
        receiver: "receiver.test".into(),
        ..Config::default()
    };
    let rt = runtime();
    let v = rt.block_on(evaluate(
        &lookup,
        "192.0.2.99".parse().unwrap(),
        "client.spf.test",
        "someone@explain.spf.test",
        &config,
    ));
    assert_eq!(
        v.output.explanation.as_deref(),
        Some(
            "192.0.2.99 is not allowed to send for explain.spf.test, sender someone@explain.spf.test (someone at explain.spf.test), helo client.spf.test, via in-addr"
        )
    );
    let v = rt.block_on(evaluate(
        &lookup,
        "192.0.2.5".parse().unwrap(),
        "client.spf.test",
        "a@pmacro.spf.test",
        &config,
    ));
    assert_eq!(
        v.output.explanation.as_deref(),
        Some("host named.spf.test (192.0.2.5) rejected by receiver.test")
    );
}
