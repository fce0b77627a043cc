use sendwell_dmarc::{
    AuthenticatedIdentifiers, Discovery, DkimIdentifier, DmarcOutput, SpfIdentifier, evaluate_dmarc,
};
use sendwell_dns::MockLookup;

pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Passing identifiers: an SPF domain (if any) and DKIM d= domains.
pub fn passing(spf: Option<&str>, dkim: &[&str]) -> AuthenticatedIdentifiers {
    AuthenticatedIdentifiers {
        spf: spf.map(|d| SpfIdentifier {
            domain: d.to_string(),
            pass: true,
        }),
        dkim: dkim
            .iter()
            .map(|d| DkimIdentifier {
                domain: d.to_string(),
                selector: "sel".to_string(),
                pass: true,
            })
            .collect(),
    }
}

/// Evaluate `author` against `zone` (MockLookup text); also return the TXT queries made.
pub fn run(
    zone: &str,
    author: &str,
    ids: &AuthenticatedIdentifiers,
    discovery: Discovery,
) -> (DmarcOutput, Vec<String>) {
    let dns = MockLookup::from_zone(zone).unwrap().with_query_log();
    let out = block(evaluate_dmarc(&dns, author, ids, discovery));
    let txt = dns
        .queries()
        .into_iter()
        .filter_map(|q| q.strip_prefix("TXT ").map(str::to_string))
        .collect();
    (out, txt)
}

/// `Bind::start`, then wait until named has loaded every zone. (The testkit's readiness
/// check matches the "running as: named …" line printed at start-up, before the zones
/// are loaded, so a first query could meet SERVFAIL.)
pub fn bind(zones: &[(&str, &str)]) -> sendwell_testkit::Bind {
    let bind = sendwell_testkit::Bind::start(zones);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let log = std::fs::read_to_string(bind.dir().join("named.log")).unwrap_or_default();
        if log.contains("all zones loaded") {
            return bind;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "named did not load its zones:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
