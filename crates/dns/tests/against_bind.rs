//! `HickoryLookup` against a real authoritative server (BIND on loopback): every
//! answer the trait promises, and every error kind it keeps apart.

use sendwell_dns::{HickoryLookup, Lookup, LookupError};
use sendwell_testkit::Bind;

const ZONE: &str = r#"
@        TXT   "v=spf1 ip4:192.0.2.0/24 " "-all"
@        MX    10 mx1
@        MX    20 mx2
@        TYPE99 \# 12 0b763d73706631202d616c6c
mx1      A     192.0.2.1
mx1      AAAA  2001:db8::1
alias    CNAME mx1
a.deep   A     192.0.2.9
"#;

const REVERSE: &str = "1 PTR mx1.example.test.\n";

#[tokio::test]
async fn answers_and_errors_from_bind() {
    let dns = Bind::start(&[("example.test", ZONE), ("2.0.192.in-addr.arpa", REVERSE)]);
    let lookup = HickoryLookup::with_server(dns.addr());

    let txt = lookup.lookup_txt("example.test").await.unwrap();
    assert_eq!(txt.len(), 1);
    assert_eq!(txt[0].strings.len(), 2, "TXT strings are kept apart");
    assert_eq!(txt[0].to_string_lossy(), "v=spf1 ip4:192.0.2.0/24 -all");

    let mut mx = lookup.lookup_mx("Example.Test.").await.unwrap();
    mx.sort_by_key(|m| m.preference);
    assert_eq!(mx[0].exchange, "mx1.example.test");
    assert_eq!(mx[1].preference, 20);

    assert_eq!(
        lookup.lookup_a("alias.example.test").await.unwrap(),
        vec!["192.0.2.1".parse::<std::net::Ipv4Addr>().unwrap()],
        "CNAMEs are followed"
    );
    assert_eq!(
        lookup.lookup_aaaa("mx1.example.test").await.unwrap()[0].to_string(),
        "2001:db8::1"
    );
    assert_eq!(
        lookup
            .lookup_ptr("192.0.2.1".parse().unwrap())
            .await
            .unwrap(),
        vec!["mx1.example.test".to_string()]
    );
    let spf99 = lookup.lookup_spf_rr("example.test").await.unwrap();
    assert_eq!(spf99[0].to_string_lossy(), "v=spf1 -all");

    assert_eq!(
        lookup.lookup_a("nothere.example.test").await,
        Err(LookupError::NxDomain)
    );
    assert_eq!(
        lookup.lookup_aaaa("example.test").await,
        Err(LookupError::NoData)
    );
    assert_eq!(
        lookup.lookup_a("deep.example.test").await,
        Err(LookupError::NoData),
        "an empty non-terminal exists"
    );
    // Out of the server's zones: it refuses (recursion is off), a server failure.
    assert!(matches!(
        lookup.lookup_a("example.org").await,
        Err(LookupError::ServerFailure(_))
    ));
    assert!(matches!(
        lookup.lookup_a("bad..name").await,
        Err(LookupError::InvalidName(_))
    ));
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    // A UDP socket that never answers; TCP to the same port is refused or unanswered.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let lookup = HickoryLookup::with_server(silent.local_addr().unwrap());
    let result = lookup.lookup_a("example.test").await;
    assert!(
        matches!(
            result,
            Err(LookupError::Timeout) | Err(LookupError::ServerFailure(_))
        ),
        "{result:?}"
    );
    assert!(result.unwrap_err().is_temporary());
}
