//! The "iprev" check (RFC 8601 §3): does the client's IP address have a reverse DNS
//! name that resolves back to the same address?
//!
//! Receivers treat a sending IP without this "forward-confirmed reverse DNS" as a sign
//! of a home connection or a compromised machine, so it is the first thing to fix for a
//! self-hosted sender. The procedure: look up the PTR names of the IP; for each name
//! (at most [`MAX_PTR_NAMES`]) look up its addresses (A for IPv4, AAAA for IPv6); pass
//! if one of them is the IP.
//!
//! Results (RFC 8601 §2.7.3): `pass`; `fail` when names exist but none leads back;
//! `permerror` when no PTR data is published (NXDOMAIN or no data); `temperror` on a
//! DNS failure that decided the outcome.

use std::fmt;
use std::net::IpAddr;

use sendwell_dns::{Lookup, LookupError};

/// How many PTR names are checked at most. RFC 8601 §3 leaves the bound to the
/// verifier; this is the bound RFC 7208 §4.6.4 sets for the same work in SPF's `ptr`.
pub const MAX_PTR_NAMES: usize = 10;

/// The iprev result (RFC 8601 §2.7.3). `Display` is the wire token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IprevResult {
    /// The reverse and forward lookups agree.
    Pass,
    /// PTR names exist but none resolves back to the address.
    Fail,
    /// A temporary DNS failure.
    TempError,
    /// No PTR data is published for the address.
    PermError,
}

impl IprevResult {
    /// The wire token.
    pub fn as_str(self) -> &'static str {
        match self {
            IprevResult::Pass => "pass",
            IprevResult::Fail => "fail",
            IprevResult::TempError => "temperror",
            IprevResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for IprevResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an iprev check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IprevOutcome {
    /// The result.
    pub result: IprevResult,
    /// The forward-confirmed name on a pass; otherwise the first PTR name, if any.
    pub ptr: Option<String>,
    /// Every PTR name found.
    pub names: Vec<String>,
    /// Why, in plain words.
    pub reason: String,
}

/// Check `ip` (RFC 8601 §3).
pub async fn iprev<L: Lookup>(lookup: &L, ip: IpAddr) -> IprevOutcome {
    let names = match lookup.lookup_ptr(ip).await {
        Ok(names) => names,
        Err(e @ (LookupError::NxDomain | LookupError::NoData)) => {
            return IprevOutcome {
                result: IprevResult::PermError,
                ptr: None,
                names: Vec::new(),
                reason: format!("no PTR record for {ip}: {e}"),
            };
        }
        Err(e) => {
            return IprevOutcome {
                result: IprevResult::TempError,
                ptr: None,
                names: Vec::new(),
                reason: format!("the PTR lookup for {ip} failed: {e}"),
            };
        }
    };
    let mut temp_failure: Option<String> = None;
    for name in names.iter().take(MAX_PTR_NAMES) {
        let forward: Result<Vec<IpAddr>, LookupError> = match ip {
            IpAddr::V4(_) => lookup
                .lookup_a(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V4).collect()),
            IpAddr::V6(_) => lookup
                .lookup_aaaa(name)
                .await
                .map(|v| v.into_iter().map(IpAddr::V6).collect()),
        };
        match forward {
            Ok(addrs) if addrs.contains(&ip) => {
                return IprevOutcome {
                    result: IprevResult::Pass,
                    ptr: Some(name.clone()),
                    names: names.clone(),
                    reason: format!("{ip} has the name {name}, which resolves back to {ip}"),
                };
            }
            Ok(_) => {}
            Err(e) if e.is_temporary() => {
                temp_failure.get_or_insert(format!("the address lookup for {name} failed: {e}"));
            }
            Err(_) => {}
        }
    }
    let first = names.first().cloned();
    if let Some(why) = temp_failure {
        return IprevOutcome {
            result: IprevResult::TempError,
            ptr: first,
            names,
            reason: why,
        };
    }
    let reason = format!(
        "{ip} has the name{} {}, but {} not resolve back to {ip}",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if names.len() == 1 {
            "it does"
        } else {
            "none of them does"
        },
    );
    IprevOutcome {
        result: IprevResult::Fail,
        ptr: first,
        names,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_dns::MockLookup;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn all_four_results() {
        let dns = MockLookup::from_zone(
            "192.0.2.1 PTR mail.example.com\n\
             mail.example.com A 192.0.2.1\n\
             192.0.2.2 PTR liar.example.com\n\
             liar.example.com A 192.0.2.99\n\
             192.0.2.3 PTR slow.example.com\n\
             slow.example.com TIMEOUT\n\
             2001:db8::1 PTR v6.example.com\n\
             v6.example.com AAAA 2001:db8::1\n\
             4.2.0.192.in-addr.arpa SERVFAIL\n",
        )
        .unwrap();
        let check = |ip: &str| block(iprev(&dns, ip.parse().unwrap()));
        let pass = check("192.0.2.1");
        assert_eq!(pass.result, IprevResult::Pass);
        assert_eq!(pass.ptr.as_deref(), Some("mail.example.com"));
        assert_eq!(check("192.0.2.2").result, IprevResult::Fail);
        assert_eq!(check("192.0.2.3").result, IprevResult::TempError);
        assert_eq!(check("192.0.2.9").result, IprevResult::PermError);
        assert_eq!(check("192.0.2.4").result, IprevResult::TempError);
        assert_eq!(check("2001:db8::1").result, IprevResult::Pass);
    }
}
