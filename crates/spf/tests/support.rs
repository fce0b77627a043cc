//! A `Lookup` over `MockLookup` that adds the two kinds of failure the conformance
//! suites describe and `MockLookup` alone cannot: the open-spf runner's `TIMEOUT`, which
//! (as in pyspf's `testspf.py`) times out only the queries for record types the name
//! does not hold, and mail-auth's rule that names containing `_dns_error.` fail.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sendwell_dns::{
    Lookup, LookupError, LookupResult, MockLookup, Mx, Txt, normalize_name, reverse_name,
};

#[derive(Debug, Default)]
pub struct SuiteDns {
    pub mock: MockLookup,
    /// Names (normalised) whose queries time out when they have no records of the type.
    pub timeouts: HashSet<String>,
    /// Queries for names containing this text fail with a server error.
    pub servfail_marker: Option<&'static str>,
}

impl SuiteDns {
    fn fault<T>(&self, name: &str, answer: LookupResult<T>) -> LookupResult<T> {
        let normalized = normalize_name(name).unwrap_or_default();
        if let Some(marker) = self.servfail_marker
            && format!("{normalized}.").contains(marker)
        {
            return Err(LookupError::ServerFailure(format!("{marker} name")));
        }
        match answer {
            Err(LookupError::NxDomain | LookupError::NoData)
                if self.timeouts.contains(&normalized) =>
            {
                Err(LookupError::Timeout)
            }
            other => other,
        }
    }
}

impl Lookup for SuiteDns {
    async fn lookup_a(&self, name: &str) -> LookupResult<Vec<Ipv4Addr>> {
        self.fault(name, self.mock.lookup_a(name).await)
    }
    async fn lookup_aaaa(&self, name: &str) -> LookupResult<Vec<Ipv6Addr>> {
        self.fault(name, self.mock.lookup_aaaa(name).await)
    }
    async fn lookup_mx(&self, name: &str) -> LookupResult<Vec<Mx>> {
        self.fault(name, self.mock.lookup_mx(name).await)
    }
    async fn lookup_txt(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.fault(name, self.mock.lookup_txt(name).await)
    }
    async fn lookup_ptr(&self, ip: IpAddr) -> LookupResult<Vec<String>> {
        self.fault(&reverse_name(ip), self.mock.lookup_ptr(ip).await)
    }
    async fn lookup_spf_rr(&self, name: &str) -> LookupResult<Vec<Txt>> {
        self.fault(name, self.mock.lookup_spf_rr(name).await)
    }
}

/// A single-threaded runtime for one test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}
