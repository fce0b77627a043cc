//! Where mail for a domain goes (RFC 5321 §5.1, RFC 7505).
//!
//! ```text
//! RFC 5321 §5.1: The lookup first attempts to locate an MX record associated with the
//! name. [...] If an empty list of MXs is returned, the address is treated as if it was
//! associated with an implicit MX RR, with a preference of 0, pointing to that host.
//! [...] If there are multiple destinations with the same preference and there is no
//! clear reason to favor one (e.g., by recognition of an easily reached address), then
//! the sender-SMTP MUST randomize them to spread the load across multiple mail exchangers.
//! ```

use std::net::IpAddr;

use sendwell_dns::{Lookup, LookupError};

/// Which address family to try first. Many receivers refuse IPv6 senders without a
/// PTR record, so a sender whose IPv6 setup is incomplete prefers (or keeps to) IPv4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressPreference {
    /// IPv4 addresses first, then IPv6.
    #[default]
    PreferV4,
    /// IPv6 addresses first, then IPv4.
    PreferV6,
    /// IPv4 only.
    OnlyV4,
    /// IPv6 only.
    OnlyV6,
}

/// One mail exchanger, with its addresses in the order to try them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxHost {
    /// MX preference (0 for the implicit MX).
    pub preference: u16,
    /// The exchanger's host name (the name TLS certificates are checked against).
    pub name: String,
    /// Its addresses, ordered by [`AddressPreference`].
    pub addrs: Vec<IpAddr>,
}

/// The hosts to try for a domain, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The domain routed.
    pub domain: String,
    /// The hosts, most preferred first, equal preferences shuffled.
    pub hosts: Vec<MxHost>,
    /// True when the domain has no MX records and its own address is used (§5.1).
    pub implicit: bool,
}

/// Why a domain has no route. Each variant says whether to try again later.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// RFC 7505: the domain publishes a null MX ("MX 0 ."): it accepts no mail.
    #[error("{domain} does not accept mail (null MX, RFC 7505)")]
    NullMx {
        /// The domain.
        domain: String,
    },
    /// The domain does not exist (NXDOMAIN for its MX and address lookups).
    #[error("{domain} does not exist (NXDOMAIN)")]
    NoSuchDomain {
        /// The domain.
        domain: String,
    },
    /// The domain exists but neither MX nor usable addresses (§5.1: MX hosts without
    /// addresses are not used).
    #[error("{domain} has no mail exchanger with a usable address: {detail}")]
    NoMailExchanger {
        /// The domain.
        domain: String,
        /// What was found.
        detail: String,
    },
    /// DNS failed in a way that may pass (timeout, SERVFAIL).
    #[error("DNS lookup for {domain} failed temporarily: {detail}")]
    Temporary {
        /// The domain.
        domain: String,
        /// The failure.
        detail: String,
    },
}

impl RouteError {
    /// True when trying later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, RouteError::Temporary { .. })
    }

    /// The RFC 3463 status code for a DSN.
    pub fn status(&self) -> &'static str {
        match self {
            // RFC 7505 §4.2: "5.1.10" Recipient address has null MX.
            RouteError::NullMx { .. } => "5.1.10",
            // RFC 3463 §3.2: X.1.2 Bad destination system address.
            RouteError::NoSuchDomain { .. } | RouteError::NoMailExchanger { .. } => "5.1.2",
            // RFC 3463 §3.5: X.4.3 Directory server failure.
            RouteError::Temporary { .. } => "4.4.3",
        }
    }
}

/// Work out the route for `domain`. `local_names` are this server's own host names: MX
/// hosts at or below one of them in preference are dropped, so mail never loops back
/// (RFC 5321 §5.1: "If it [the SMTP client] is in the list, [...] all MX records at a
/// preference equal to or greater than its own MUST be discarded").
pub async fn resolve_route<L: Lookup>(
    lookup: &L,
    domain: &str,
    preference: AddressPreference,
    local_names: &[String],
) -> Result<Route, RouteError> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let temporary = |e: &LookupError| RouteError::Temporary {
        domain: domain.clone(),
        detail: e.to_string(),
    };
    let (mut exchangers, implicit) = match lookup.lookup_mx(&domain).await {
        Ok(records) => {
            // RFC 7505 §3: a null MX is a single MX with preference 0 and the root as
            // exchange. Mixed with other MX records it is a misconfiguration; the null
            // MX still says the domain takes no mail, and §4.1 forbids trying it.
            if records
                .iter()
                .any(|mx| mx.exchange.is_empty() || mx.exchange == ".")
            {
                return Err(RouteError::NullMx { domain });
            }
            let list: Vec<(u16, String)> = records
                .into_iter()
                .map(|mx| (mx.preference, mx.exchange.to_ascii_lowercase()))
                .collect();
            (list, false)
        }
        // §5.1: no MX records → the implicit MX, the domain itself at preference 0.
        Err(LookupError::NoData) => (vec![(0, domain.clone())], true),
        Err(LookupError::NxDomain) => return Err(RouteError::NoSuchDomain { domain }),
        Err(LookupError::InvalidName(detail)) => {
            return Err(RouteError::NoMailExchanger { domain, detail });
        }
        Err(e) => return Err(temporary(&e)),
    };

    // Drop ourselves and anything less preferred than ourselves.
    if let Some(own) = exchangers
        .iter()
        .filter(|(_, name)| local_names.iter().any(|l| l.eq_ignore_ascii_case(name)))
        .map(|(p, _)| *p)
        .min()
    {
        exchangers.retain(|(p, _)| *p < own);
        if exchangers.is_empty() {
            return Err(RouteError::NoMailExchanger {
                domain,
                detail: "this server is the most preferred MX (mail would loop)".into(),
            });
        }
    }

    exchangers.sort_by_key(|(p, _)| *p);
    shuffle_equal_preferences(&mut exchangers);

    let mut hosts = Vec::with_capacity(exchangers.len());
    let mut temporary_failure = None;
    let mut nxdomain = 0;
    let total = exchangers.len();
    for (mx_preference, name) in exchangers {
        let v4 = if preference == AddressPreference::OnlyV6 {
            Err(LookupError::NoData)
        } else {
            lookup.lookup_a(&name).await
        };
        let v6 = if preference == AddressPreference::OnlyV4 {
            Err(LookupError::NoData)
        } else {
            lookup.lookup_aaaa(&name).await
        };
        for result in [v4.as_ref().map(|_| ()), v6.as_ref().map(|_| ())] {
            if let Err(e) = result
                && e.is_temporary()
            {
                temporary_failure = Some(e.clone());
            }
        }
        if matches!(v4, Err(LookupError::NxDomain))
            && matches!(v6, Err(LookupError::NxDomain) | Err(LookupError::NoData))
        {
            nxdomain += 1;
        }
        let v4: Vec<IpAddr> = v4.unwrap_or_default().into_iter().map(IpAddr::V4).collect();
        let v6: Vec<IpAddr> = v6.unwrap_or_default().into_iter().map(IpAddr::V6).collect();
        let addrs: Vec<IpAddr> = match preference {
            AddressPreference::PreferV4 | AddressPreference::OnlyV4 => {
                v4.into_iter().chain(v6).collect()
            }
            AddressPreference::PreferV6 | AddressPreference::OnlyV6 => {
                v6.into_iter().chain(v4).collect()
            }
        };
        // §5.1: an MX host without addresses is not used.
        if !addrs.is_empty() {
            hosts.push(MxHost {
                preference: mx_preference,
                name,
                addrs,
            });
        }
    }
    if hosts.is_empty() {
        if let Some(e) = temporary_failure {
            return Err(temporary(&e));
        }
        if implicit && nxdomain == total {
            return Err(RouteError::NoSuchDomain { domain });
        }
        let detail = if implicit {
            "no MX records and no address records".to_string()
        } else {
            "none of its MX hosts has an address".to_string()
        };
        return Err(RouteError::NoMailExchanger { domain, detail });
    }
    Ok(Route {
        domain,
        hosts,
        implicit,
    })
}

/// Randomize the order within each run of equal preference (RFC 5321 §5.1).
fn shuffle_equal_preferences(list: &mut [(u16, String)]) {
    let mut start = 0;
    while start < list.len() {
        let mut end = start + 1;
        while end < list.len() && list[end].0 == list[start].0 {
            end += 1;
        }
        let run = &mut list[start..end];
        for i in (1..run.len()).rev() {
            let j = (random_u64() % (i as u64 + 1)) as usize;
            run.swap(i, j);
        }
        start = end;
    }
}

fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // A failed read of the system RNG leaves zeros: the order is then unshuffled,
    // which is still a correct (if unbalanced) route.
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
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

    const ZONE: &str = r#"
        multi.test      MX 20 backup.multi.test
        multi.test      MX 10 a.multi.test
        multi.test      MX 10 b.multi.test
        a.multi.test    A 192.0.2.1
        b.multi.test    A 192.0.2.2
        b.multi.test    AAAA 2001:db8::2
        backup.multi.test A 192.0.2.3
        implicit.test   A 192.0.2.9
        implicit.test   TXT "v=spf1 -all"
        null.test       MX 0 .
        noaddr.test     MX 10 nowhere.noaddr.test
        noaddr.test     TXT "x"
        temp.test       MX 10 slow.temp.test
        slow.temp.test  TIMEOUT
        txtonly.test    TXT "no mail here"
        servfail.test   SERVFAIL
        self.test       MX 10 mx.self.test
        self.test       MX 20 other.self.test
        mx.self.test    A 192.0.2.20
        other.self.test A 192.0.2.21
    "#;

    fn route(domain: &str, pref: AddressPreference) -> Result<Route, RouteError> {
        let dns = MockLookup::from_zone(ZONE).unwrap();
        block(resolve_route(&dns, domain, pref, &[]))
    }

    #[test]
    fn mx_preference_order_with_addresses() {
        let r = route("Multi.Test.", AddressPreference::PreferV4).unwrap();
        assert!(!r.implicit);
        let names: Vec<&str> = r.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names.len(), 3);
        assert!(names[..2].contains(&"a.multi.test") && names[..2].contains(&"b.multi.test"));
        assert_eq!(names[2], "backup.multi.test");
        let b = r.hosts.iter().find(|h| h.name == "b.multi.test").unwrap();
        assert_eq!(b.addrs[0].to_string(), "192.0.2.2", "IPv4 first");
        let r6 = route("multi.test", AddressPreference::PreferV6).unwrap();
        let b6 = r6.hosts.iter().find(|h| h.name == "b.multi.test").unwrap();
        assert_eq!(b6.addrs[0].to_string(), "2001:db8::2", "IPv6 first");
        let only4 = route("multi.test", AddressPreference::OnlyV4).unwrap();
        assert!(
            only4
                .hosts
                .iter()
                .all(|h| h.addrs.iter().all(IpAddr::is_ipv4))
        );
    }

    #[test]
    fn equal_preferences_are_shuffled() {
        let mut first_a = 0;
        for _ in 0..200 {
            let r = route("multi.test", AddressPreference::PreferV4).unwrap();
            if r.hosts[0].name == "a.multi.test" {
                first_a += 1;
            }
        }
        // Both orders occur (the chance of 200 equal draws is 2^-199).
        assert!(first_a > 0 && first_a < 200, "{first_a}");
    }

    #[test]
    fn implicit_mx_and_failures() {
        let r = route("implicit.test", AddressPreference::PreferV4).unwrap();
        assert!(r.implicit);
        assert_eq!(r.hosts[0].name, "implicit.test");
        assert_eq!(r.hosts[0].preference, 0);
        assert_eq!(
            route("null.test", AddressPreference::PreferV4),
            Err(RouteError::NullMx {
                domain: "null.test".into()
            })
        );
        assert_eq!(
            route("nonexistent.test", AddressPreference::PreferV4),
            Err(RouteError::NoSuchDomain {
                domain: "nonexistent.test".into()
            })
        );
        assert!(matches!(
            route("noaddr.test", AddressPreference::PreferV4),
            Err(RouteError::NoMailExchanger { .. })
        ));
        assert!(matches!(
            route("txtonly.test", AddressPreference::PreferV4),
            Err(RouteError::NoMailExchanger { .. })
        ));
        let temp = route("temp.test", AddressPreference::PreferV4).unwrap_err();
        assert!(temp.is_temporary(), "{temp:?}");
        assert!(
            route("servfail.test", AddressPreference::PreferV4)
                .unwrap_err()
                .is_temporary()
        );
        assert_eq!(
            RouteError::NullMx {
                domain: String::new()
            }
            .status(),
            "5.1.10"
        );
    }

    #[test]
    fn never_routes_to_itself() {
        let dns = MockLookup::from_zone(ZONE).unwrap();
        let own = vec!["other.self.test".to_string()];
        let r = block(resolve_route(
            &dns,
            "self.test",
            AddressPreference::PreferV4,
            &own,
        ))
        .unwrap();
        assert_eq!(r.hosts.len(), 1);
        assert_eq!(r.hosts[0].name, "mx.self.test");
        let own = vec!["MX.self.test".to_string()];
        assert!(matches!(
            block(resolve_route(
                &dns,
                "self.test",
                AddressPreference::PreferV4,
                &own
            )),
            Err(RouteError::NoMailExchanger { .. })
        ));
    }
}
