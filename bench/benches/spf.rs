//! SPF `check_host()` side by side: Sendwell (`sendwell-spf`), viaspf 0.6 and mail-auth
//! 0.11, on the cases of the open-spf RFC 7208 suite, with the suite's zone data in
//! memory. Single-threaded (a current-thread tokio runtime), one run, the same cases.
//!
//! How each gets the records (no network anywhere): the zone data is turned once into
//! hash maps of final answers (CNAMEs followed), and each implementation reads them
//! through its own interface —
//! - Sendwell: its `Lookup` trait over those maps (`ZoneLookup`); it parses each record
//!   it fetches, or, in its default configuration, reuses the parse of a record text it
//!   has seen (`RecordCache`, keyed by the text; the lookup still happens every time).
//!   `sendwell_no_record_cache` parses every time.
//! - viaspf: its `Lookup` trait over the same maps; it parses every time.
//! - mail-auth: its resolver caches filled from the same maps. mail-auth caches records
//!   *parsed*, so it never parses in the timed loop; names missing from the caches answer
//!   NXDOMAIN through mail-auth's `test` feature.
//!
//! The cases: every suite case whose evaluation does not touch a name the suite marks
//! `TIMEOUT` (a cache cannot express a timeout). Before timing, each implementation's
//! agreement with the suite's expected results is printed.
//!
//! Run: `cargo bench -p sendwell-bench --bench spf` (criterion), or
//! `bench/spf-interleaved.sh` (interleaved rounds, robust to load from other processes);
//! `SPF_BENCH_ROUNDS=N SPF_BENCH_ONLY=<implementation>` runs one implementation N times
//! without criterion, for callgrind. Figures in BENCHMARKS.md.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::spf::{Macro, Spf};
use mail_auth::{MX, MessageAuthenticator, Parameters, RecordSet, ResolverCache, Txt as MaTxt};
use sendwell_dns::{Lookup, LookupError, MockLookup, MockRecord, Mx, Txt};
use serde_yaml::Value;

const SUITE: &str = include_str!("../../crates/spf/tests/data/rfc7208-tests.yml");

struct Case {
    name: String,
    ip: IpAddr,
    helo: String,
    mailfrom: String,
    expected: Vec<String>,
}

/// One scenario's zone, as each implementation takes it.
struct Scenario {
    /// Used only to find the cases that touch a TIMEOUT name.
    mock: MockLookup,
    /// What Sendwell and viaspf read in the timed loop.
    zone: ZoneLookup,
    caches: MaCaches,
    timeouts: HashSet<String>,
    cases: Vec<Case>,
}

// ---------------------------------------------------------------- zone data

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

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The records of one name, after the runner rules of pyspf's testspf.py (SPF entries
/// also served as TXT when the name has no TXT entry).
#[derive(Default, Clone)]
struct NameRecords {
    txt: Vec<Txt>,
    a: Vec<Ipv4Addr>,
    aaaa: Vec<Ipv6Addr>,
    mx: Vec<Mx>,
    ptr: Vec<String>,
    cname: Option<String>,
}

fn load() -> Vec<Scenario> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(SUITE) {
        let doc: Value = serde::Deserialize::deserialize(doc).unwrap();
        let mut names: HashMap<String, NameRecords> = HashMap::new();
        let mut timeouts = HashSet::new();
        let mut mock = MockLookup::new();
        for (name, entries) in doc["zonedata"].as_mapping().unwrap() {
            let name = text(name);
            let entries = entries.as_sequence().unwrap();
            let has_txt = entries.iter().any(|e| e.get("TXT").is_some());
            let rec = names.entry(key(&name)).or_default();
            for entry in entries {
                if entry.as_str() == Some("TIMEOUT") {
                    timeouts.insert(key(&name));
                    continue;
                }
                for (rtype, value) in entry.as_mapping().unwrap() {
                    let record = match text(rtype).as_str() {
                        "SPF" if has_txt => continue,
                        "SPF" | "TXT" if value.as_str() == Some("NONE") => continue,
                        "SPF" | "TXT" => {
                            rec.txt.push(strings(value));
                            MockRecord::Txt(strings(value))
                        }
                        "A" => {
                            let a = text(value).parse().unwrap();
                            rec.a.push(a);
                            MockRecord::A(a)
                        }
                        "AAAA" => {
                            let a = text(value).parse().unwrap();
                            rec.aaaa.push(a);
                            MockRecord::Aaaa(a)
                        }
                        "PTR" => {
                            rec.ptr.push(text(value));
                            MockRecord::Ptr(text(value))
                        }
                        "CNAME" => {
                            rec.cname = Some(key(&text(value)));
                            MockRecord::Cname(text(value))
                        }
                        "MX" => {
                            let pair = value.as_sequence().unwrap();
                            let mx = Mx {
                                preference: pair[0].as_u64().unwrap() as u16,
                                exchange: key(&text(&pair[1])),
                            };
                            rec.mx.push(mx.clone());
                            MockRecord::Mx(mx)
                        }
                        other => panic!("unknown type {other}"),
                    };
                    mock.add(&name, record);
                }
            }
        }
        let caches = MaCaches::from_zone(&names);
        let zone = ZoneLookup::from_zone(&names);
        let mut cases = Vec::new();
        for (name, t) in doc["tests"].as_mapping().unwrap() {
            let expected = match &t["result"] {
                Value::Sequence(rs) => rs.iter().map(text).collect(),
                r => vec![text(r)],
            };
            cases.push(Case {
                name: text(name),
                ip: text(&t["host"]).parse().unwrap(),
                helo: text(&t["helo"]),
                mailfrom: text(&t["mailfrom"]),
                expected,
            });
        }
        out.push(Scenario {
            mock,
            zone,
            caches,
            timeouts,
            cases,
        });
    }
    out
}

// ---------------------------------------------------------------- Sendwell's and viaspf's zone

/// The zone as plain hash maps of final answers (CNAMEs already followed), the same
/// shape as mail-auth's caches: what Sendwell's `Lookup` and viaspf's `Lookup` read.
struct ZoneLookup {
    names: HashMap<String, NameRecords>,
    /// Every name that exists, empty non-terminals included (their answer is no data).
    existing: HashSet<String>,
}

impl ZoneLookup {
    fn from_zone(names: &HashMap<String, NameRecords>) -> Self {
        let mut finals = HashMap::new();
        let mut existing = HashSet::new();
        for name in names.keys() {
            let mut rec = &names[name];
            for _ in 0..8 {
                match rec.cname.as_ref().and_then(|c| names.get(c)) {
                    Some(target) => rec = target,
                    None => break,
                }
            }
            finals.insert(name.clone(), rec.clone());
            let mut parent = name.as_str();
            loop {
                existing.insert(parent.to_string());
                match parent.find('.') {
                    Some(dot) => parent = &parent[dot + 1..],
                    None => break,
                }
            }
        }
        ZoneLookup {
            names: finals,
            existing,
        }
    }

    fn get<T>(
        &self,
        name: &str,
        pick: impl Fn(&NameRecords) -> &Vec<T>,
    ) -> sendwell_dns::LookupResult<Vec<T>>
    where
        T: Clone,
    {
        let name = name.strip_suffix('.').unwrap_or(name);
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        match self.names.get(name).map(&pick) {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ if self.existing.contains(name) => Err(LookupError::NoData),
            _ => Err(LookupError::NxDomain),
        }
    }
}

impl Lookup for ZoneLookup {
    async fn lookup_a(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Ipv4Addr>> {
        self.get(name, |r| &r.a)
    }
    async fn lookup_aaaa(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Ipv6Addr>> {
        self.get(name, |r| &r.aaaa)
    }
    async fn lookup_mx(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Mx>> {
        self.get(name, |r| &r.mx)
    }
    async fn lookup_txt(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Txt>> {
        self.get(name, |r| &r.txt)
    }
    async fn lookup_ptr(&self, ip: IpAddr) -> sendwell_dns::LookupResult<Vec<String>> {
        self.get(&sendwell_dns::reverse_name(ip), |r| &r.ptr)
    }
}

// ---------------------------------------------------------------- mail-auth caches

struct Cache<K, V>(Mutex<HashMap<K, V>>);

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for Cache<K, V> {
    fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(key).cloned()
    }
    fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(key)
    }
    fn insert(&self, key: K, value: V, _: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

fn cache<K, V>() -> Cache<K, V> {
    Cache(Mutex::new(HashMap::new()))
}

struct MaCaches {
    txt: Cache<Box<str>, MaTxt>,
    mx: Cache<Box<str>, RecordSet<MX>>,
    ptr: Cache<IpAddr, RecordSet<Box<str>>>,
    ipv4: Cache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: Cache<Box<str>, RecordSet<Ipv6Addr>>,
}

fn set<T>(v: Vec<T>) -> RecordSet<T> {
    RecordSet {
        rrset: Arc::from(v.into_boxed_slice()),
        dnssec_status: Default::default(),
    }
}

/// The IP address of an in-addr.arpa or ip6.arpa name.
fn reverse_ip(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = v4
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        o.reverse();
        return (o.len() == 4).then(|| IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .map(|n| u8::from_str_radix(n, 16).ok())
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        octets[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(octets)))
}

impl MaCaches {
    fn from_zone(names: &HashMap<String, NameRecords>) -> Self {
        let caches = MaCaches {
            txt: cache(),
            mx: cache(),
            ptr: cache(),
            ipv4: cache(),
            ipv6: cache(),
        };
        let now = std::time::Instant::now();
        for name in names.keys() {
            // Follow CNAMEs (the caches hold final answers).
            let mut rec = &names[name];
            for _ in 0..8 {
                match rec.cname.as_ref().and_then(|c| names.get(c)) {
                    Some(target) => rec = target,
                    None => break,
                }
            }
            let fqdn: Box<str> = format!("{name}.").into();
            let spf = rec
                .txt
                .iter()
                .map(Txt::joined)
                .find(|t| sendwell_spf::is_spf_record(t));
            if let Some(spf) = spf {
                caches
                    .txt
                    .insert(fqdn.clone(), MaTxt::from(Spf::parse(&spf)), now);
            } else if let Some(first) = rec.txt.first() {
                caches.txt.insert(
                    fqdn.clone(),
                    MaTxt::from(Macro::parse(&first.joined())),
                    now,
                );
            }
            if !rec.a.is_empty() {
                caches.ipv4.insert(fqdn.clone(), set(rec.a.clone()), now);
            }
            if !rec.aaaa.is_empty() {
                caches.ipv6.insert(fqdn.clone(), set(rec.aaaa.clone()), now);
            }
            if !rec.mx.is_empty() {
                let mxs = rec
                    .mx
                    .iter()
                    .map(|m| MX {
                        exchanges: Box::new([m.exchange.clone().into_boxed_str()]),
                        preference: m.preference,
                    })
                    .collect();
                caches.mx.insert(fqdn.clone(), set(mxs), now);
            }
            if !rec.ptr.is_empty()
                && let Some(ip) = reverse_ip(name)
            {
                let ptrs = rec.ptr.iter().map(|p| key(p).into_boxed_str()).collect();
                caches.ptr.insert(ip, set(ptrs), now);
            }
        }
        caches
    }
}

async fn mail_auth_check(ma: &MessageAuthenticator, c: &MaCaches, case: &Case) -> &'static str {
    let params = if case.mailfrom.is_empty() {
        SpfParameters::verify_ehlo(case.ip, &case.helo, "receiver.example")
    } else {
        SpfParameters::verify_mail_from(case.ip, &case.helo, "receiver.example", &case.mailfrom)
    };
    let out = ma
        .check_host(
            Parameters::new(params)
                .with_txt_cache(&c.txt)
                .with_mx_cache(&c.mx)
                .with_ptr_cache(&c.ptr)
                .with_ipv4_cache(&c.ipv4)
                .with_ipv6_cache(&c.ipv6),
        )
        .await;
    match out.result() {
        mail_auth::SpfResult::Pass => "pass",
        mail_auth::SpfResult::Fail => "fail",
        mail_auth::SpfResult::SoftFail => "softfail",
        mail_auth::SpfResult::Neutral => "neutral",
        mail_auth::SpfResult::TempError => "temperror",
        mail_auth::SpfResult::PermError => "permerror",
        mail_auth::SpfResult::None => "none",
    }
}

// ---------------------------------------------------------------- viaspf

struct Via<'a>(&'a ZoneLookup);

fn via_error(e: LookupError) -> viaspf::lookup::LookupError {
    match e {
        LookupError::NxDomain | LookupError::NoData => viaspf::lookup::LookupError::NoRecords,
        LookupError::Timeout => viaspf::lookup::LookupError::Timeout,
        _ => viaspf::lookup::LookupError::Dns(None),
    }
}

#[async_trait::async_trait]
impl viaspf::lookup::Lookup for Via<'_> {
    async fn lookup_a<'l, 'a>(
        &'l self,
        name: &'a viaspf::lookup::Name,
    ) -> viaspf::lookup::LookupResult<Vec<Ipv4Addr>> {
        self.0.lookup_a(name.as_str()).await.map_err(via_error)
    }
    async fn lookup_aaaa<'l, 'a>(
        &'l self,
        name: &'a viaspf::lookup::Name,
    ) -> viaspf::lookup::LookupResult<Vec<Ipv6Addr>> {
        self.0.lookup_aaaa(name.as_str()).await.map_err(via_error)
    }
    async fn lookup_mx<'l, 'a>(
        &'l self,
        name: &'a viaspf::lookup::Name,
    ) -> viaspf::lookup::LookupResult<Vec<viaspf::lookup::Name>> {
        let mut mx = self.0.lookup_mx(name.as_str()).await.map_err(via_error)?;
        mx.sort_by_key(|m| m.preference);
        Ok(mx
            .iter()
            .filter_map(|m| viaspf::lookup::Name::new(&m.exchange).ok())
            .collect())
    }
    async fn lookup_txt<'l, 'a>(
        &'l self,
        name: &'a viaspf::lookup::Name,
    ) -> viaspf::lookup::LookupResult<Vec<String>> {
        let txt = self.0.lookup_txt(name.as_str()).await.map_err(via_error)?;
        Ok(txt.iter().map(Txt::to_string_lossy).collect())
    }
    async fn lookup_ptr<'l>(
        &'l self,
        ip: IpAddr,
    ) -> viaspf::lookup::LookupResult<Vec<viaspf::lookup::Name>> {
        let names = self.0.lookup_ptr(ip).await.map_err(via_error)?;
        Ok(names
            .iter()
            .filter_map(|n| viaspf::lookup::Name::new(n).ok())
            .collect())
    }
}

async fn viaspf_check(lookup: &ZoneLookup, config: &viaspf::Config, case: &Case) -> &'static str {
    let sender = if case.mailfrom.is_empty() {
        viaspf::Sender::from_domain(&case.helo)
    } else {
        viaspf::Sender::new(&case.mailfrom)
    };
    // viaspf takes only a valid sender; for any other, its documentation says the
    // result is "none" (RFC 7208 §4.3), which is what the caller reports.
    let Ok(sender) = sender else {
        return "none";
    };
    let helo = viaspf::DomainName::new(&case.helo).ok();
    let r = viaspf::evaluate_sender(&Via(lookup), config, case.ip, &sender, helo.as_ref()).await;
    // The result token alone (viaspf's Display adds a fail's explanation).
    match r.spf_result {
        viaspf::SpfResult::None => "none",
        viaspf::SpfResult::Neutral => "neutral",
        viaspf::SpfResult::Pass => "pass",
        viaspf::SpfResult::Fail(_) => "fail",
        viaspf::SpfResult::Softfail => "softfail",
        viaspf::SpfResult::Temperror => "temperror",
        viaspf::SpfResult::Permerror => "permerror",
    }
}

// ---------------------------------------------------------------- sendwell

async fn sendwell_check(
    lookup: &ZoneLookup,
    config: &sendwell_spf::Config,
    case: &Case,
) -> &'static str {
    sendwell_spf::evaluate(lookup, case.ip, &case.helo, &case.mailfrom, config)
        .await
        .result
        .as_str()
}

// ---------------------------------------------------------------- the bench

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scenarios = load();
    let ours = sendwell_spf::Config {
        receiver: "receiver.example".into(),
        timestamp: Some(1_700_000_000),
        ..Default::default()
    };
    let ours_traced = sendwell_spf::Config {
        trace: true,
        ..ours.clone()
    };
    // The default configuration shares a cache of parsed records (keyed by the record
    // text; DNS is still asked every time); this one parses every record it fetches.
    let ours_uncached = sendwell_spf::Config {
        record_cache: None,
        ..ours.clone()
    };
    let via = viaspf::Config::builder()
        .hostname("receiver.example")
        .build();
    let ma = MessageAuthenticator::new_system_conf()
        .or_else(|_| MessageAuthenticator::new_cloudflare())
        .unwrap();

    // Keep the cases whose evaluation never asks for a TIMEOUT name.
    let mut selected: Vec<(&Scenario, &Case)> = Vec::new();
    let mut total = 0;
    for s in &scenarios {
        for case in &s.cases {
            total += 1;
            let log = MockLookup::new().with_query_log();
            let logged = LoggingLookup {
                inner: &s.mock,
                log: &log,
            };
            rt.block_on(sendwell_spf::evaluate(
                &logged,
                case.ip,
                &case.helo,
                &case.mailfrom,
                &ours,
            ));
            let touched = log
                .queries()
                .iter()
                .any(|q| s.timeouts.contains(q.split(' ').nth(1).unwrap_or_default()));
            if !touched {
                selected.push((s, case));
            }
        }
    }
    let n = selected.len();
    let (mut ok_ours, mut ok_via, mut ok_ma) = (Vec::new(), Vec::new(), Vec::new());
    for (s, case) in &selected {
        let r = rt.block_on(sendwell_check(&s.zone, &ours, case));
        if !case.expected.iter().any(|e| e == r) {
            ok_ours.push(format!("{} ({r})", case.name));
        }
        let r = rt.block_on(viaspf_check(&s.zone, &via, case));
        if !case.expected.iter().any(|e| e == r) {
            ok_via.push(format!("{} ({r})", case.name));
        }
        let r = rt.block_on(mail_auth_check(&ma, &s.caches, case));
        if !case.expected.iter().any(|e| e == r) {
            ok_ma.push(format!("{} ({r})", case.name));
        }
    }
    eprintln!("spf bench: {n} of {total} suite cases (the others touch a TIMEOUT name)");
    for (who, wrong) in [
        ("sendwell", &ok_ours),
        ("viaspf", &ok_via),
        ("mail-auth", &ok_ma),
    ] {
        eprintln!(
            "  {who}: {} of {n} give an expected result; differ: {}",
            n - wrong.len(),
            wrong.join(", ")
        );
    }

    // Counting mode, for instruction counts under callgrind (see BENCHMARKS.md):
    // SPF_BENCH_ROUNDS=N SPF_BENCH_ONLY=<implementation> runs that implementation over
    // the cases N times inside `count_rounds`, and skips criterion.
    if let (Some(rounds), Ok(only)) = (
        std::env::var("SPF_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse::<usize>().ok()),
        std::env::var("SPF_BENCH_ONLY"),
    ) {
        eprintln!("counting: {only}, {rounds} rounds of {n} cases each");
        count_rounds(
            &rt,
            &only,
            &selected,
            rounds,
            (&ours, &ours_uncached, &via, &ma),
        );
        return;
    }

    let mut g = c.benchmark_group("spf_check_host_rfc7208_suite");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("sendwell", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (s, case) in &selected {
                    std::hint::black_box(sendwell_check(&s.zone, &ours, case).await);
                }
            })
        })
    });
    g.bench_function("sendwell_no_record_cache", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (s, case) in &selected {
                    std::hint::black_box(sendwell_check(&s.zone, &ours_uncached, case).await);
                }
            })
        })
    });
    g.bench_function("viaspf", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (s, case) in &selected {
                    std::hint::black_box(viaspf_check(&s.zone, &via, case).await);
                }
            })
        })
    });
    g.bench_function("mail-auth", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (s, case) in &selected {
                    std::hint::black_box(mail_auth_check(&ma, &s.caches, case).await);
                }
            })
        })
    });
    g.bench_function("sendwell_with_trace", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (s, case) in &selected {
                    std::hint::black_box(sendwell_check(&s.zone, &ours_traced, case).await);
                }
            })
        })
    });
    g.finish();
}

/// Run one implementation over the cases `rounds` times (the counting mode).
#[inline(never)]
fn count_rounds(
    rt: &tokio::runtime::Runtime,
    only: &str,
    cases: &[(&Scenario, &Case)],
    rounds: usize,
    (ours, ours_uncached, via, ma): (
        &sendwell_spf::Config,
        &sendwell_spf::Config,
        &viaspf::Config,
        &MessageAuthenticator,
    ),
) {
    rt.block_on(async {
        for _ in 0..rounds {
            for (s, case) in cases {
                let r = match only {
                    "sendwell" => sendwell_check(&s.zone, ours, case).await,
                    "sendwell_no_record_cache" => {
                        sendwell_check(&s.zone, ours_uncached, case).await
                    }
                    "viaspf" => viaspf_check(&s.zone, via, case).await,
                    "mail-auth" => mail_auth_check(ma, &s.caches, case).await,
                    other => panic!("SPF_BENCH_ONLY={other}: not an implementation"),
                };
                std::hint::black_box(r);
            }
        }
    });
}

/// A `Lookup` that records the names asked, to find the cases that touch a TIMEOUT name.
struct LoggingLookup<'a> {
    inner: &'a MockLookup,
    log: &'a MockLookup,
}

impl Lookup for LoggingLookup<'_> {
    async fn lookup_a(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Ipv4Addr>> {
        let _ = self.log.lookup_a(name).await;
        self.inner.lookup_a(name).await
    }
    async fn lookup_aaaa(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Ipv6Addr>> {
        let _ = self.log.lookup_aaaa(name).await;
        self.inner.lookup_aaaa(name).await
    }
    async fn lookup_mx(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Mx>> {
        let _ = self.log.lookup_mx(name).await;
        self.inner.lookup_mx(name).await
    }
    async fn lookup_txt(&self, name: &str) -> sendwell_dns::LookupResult<Vec<Txt>> {
        let _ = self.log.lookup_txt(name).await;
        self.inner.lookup_txt(name).await
    }
    async fn lookup_ptr(&self, ip: IpAddr) -> sendwell_dns::LookupResult<Vec<String>> {
        let _ = self.log.lookup_ptr(ip).await;
        self.inner.lookup_ptr(ip).await
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench
}
criterion_main!(benches);
