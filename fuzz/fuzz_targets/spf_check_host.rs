//! SPF check_host() over any DNS answer (sendwell-spf, RFC 7208 §4): the fuzzed bytes
//! are the TXT record of the domain checked and of the names its terms may reach; the
//! evaluation always ends with one of the seven results, within the limits of §4.6.4.
//!
//! Records are built from the SPF alphabet (one byte picks one token such as
//! "include:a.example.com" or "%{ir}"), so most inputs are records that evaluate far;
//! the mock DNS answers at once, so the future completes on its first poll and no
//! runtime is needed.
#![no_main]

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use sendwell_dns::{MockLookup, MockRecord, Mx, Txt};
use sendwell_spf::{Config, MAX_DNS_LOOKUPS, evaluate};

const TOKENS: &[&str] = &[
    " ",
    "+",
    "-",
    "~",
    "?",
    "all",
    "a",
    "mx",
    "ptr",
    "ip4:192.0.2.0/24",
    "ip6:2001:db8::/32",
    "include:a.example.com",
    "include:b.example.com",
    "include:example.com",
    "redirect=b.example.com",
    "redirect=a.example.com",
    "exp=b.example.com",
    "exists:",
    "a:",
    "mx:",
    "ptr:",
    "a.example.com",
    "b.example.com",
    "nx.example.com",
    "%{d}",
    "%{ir}",
    "%{l1r-}",
    "%{S}",
    "%{p}",
    "%{h}",
    "%{v}",
    ".",
    "/24",
    "//64",
    "/0",
    "%%",
    "%_",
    "%-",
    "x=y",
];

fn record(bytes: &[u8]) -> Vec<u8> {
    match bytes.split_first() {
        Some((flag, rest)) if flag & 1 == 1 => {
            let mut out = b"v=spf1".to_vec();
            for b in rest {
                out.extend_from_slice(TOKENS[usize::from(*b) % TOKENS.len()].as_bytes());
            }
            out
        }
        _ => bytes.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut records = data.split(|b| *b == 0xff);
    let mut dns = MockLookup::new();
    let mut txt = |name: &str, bytes: Option<&[u8]>| {
        if let Some(b) = bytes {
            let r = record(b);
            dns.add(
                name,
                MockRecord::Txt(Txt::new(r.chunks(255).map(<[u8]>::to_vec))),
            );
        }
    };
    txt("example.com", records.next());
    txt("a.example.com", records.next());
    txt("b.example.com", records.next());
    dns.add("a.example.com", MockRecord::A(Ipv4Addr::new(192, 0, 2, 1)));
    dns.add(
        "1.2.0.192.in-addr.arpa",
        MockRecord::Ptr("a.example.com".into()),
    );
    dns.add(
        "example.com",
        MockRecord::Mx(Mx {
            preference: 10,
            exchange: "a.example.com".into(),
        }),
    );
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, data.first().copied().unwrap_or(1)));
    let config = Config {
        trace: data.len() % 2 == 0,
        timestamp: Some(0),
        ..Config::default()
    };
    let fut = pin!(evaluate(
        &dns,
        ip,
        "helo.example",
        "user@example.com",
        &config
    ));
    let Poll::Ready(verdict) = fut.poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("the mock DNS never waits");
    };
    assert!(verdict.output.lookups <= MAX_DNS_LOOKUPS);
    let _ = verdict.result.to_string();
});
