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

/// A DNS server on loopback that reads every query over UDP and never answers, and
/// accepts TCP connections on the same port (should the resolver fall back to TCP) and
/// never answers them either. Both threads end with the test process.
fn silent_server() -> std::net::SocketAddr {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = std::net::TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while udp.recv_from(&mut buf).is_ok() {}
    });
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((conn, _)) = tcp.accept() {
            held.push(conn);
        }
    });
    addr
}

/// A DNS server on loopback that answers every UDP query with SERVFAIL (RFC 1035
/// §4.1.1, RCODE 2): the query's ID, opcode, RD and question, with QR and RA set and no
/// records. Returns its address and how many queries it has answered.
fn servfail_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    let answered = std::sync::Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((len, from)) = udp.recv_from(&mut buf) {
            let query = &buf[..len];
            // Header (12 octets), then QNAME (labels up to the root label), QTYPE, QCLASS.
            let mut end = 12;
            while let Some(&label) = query.get(end) {
                end += 1 + usize::from(label);
                if label == 0 {
                    break;
                }
            }
            end += 4;
            if end > len {
                continue;
            }
            let mut reply = query[..end].to_vec();
            // QR=1, the query's opcode and RD; RA=1, RCODE=2 (SERVFAIL).
            reply[2] = 0x80 | (query[2] & 0x79);
            reply[3] = 0x80 | 0x02;
            // QDCOUNT 1, no answer, authority or additional records.
            reply[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            if udp.send_to(&reply, from).is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (addr, answered)
}

#[tokio::test]
async fn a_silent_server_is_a_timeout() {
    let lookup = HickoryLookup::with_server(silent_server());
    let result = lookup.lookup_a("example.test").await;
    // Exactly a timeout: not a server failure, which would tell SPF (RFC 7208 §4.4) and
    // DKIM (RFC 6376 §6.1.2) something else about the server.
    assert_eq!(result, Err(LookupError::Timeout));
    assert!(result.unwrap_err().is_temporary());
}

#[tokio::test]
async fn a_servfail_answer_is_a_server_failure() {
    let (addr, answered) = servfail_server();
    let lookup = HickoryLookup::with_server(addr);
    let result = lookup.lookup_txt("example.test").await;
    assert!(
        matches!(&result, Err(LookupError::ServerFailure(m)) if m.contains("Server Failure")),
        "{result:?}"
    );
    assert!(
        answered.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the SERVFAIL came from the responder"
    );
    assert!(result.unwrap_err().is_temporary());
}
