//! The mechanisms of RFC 7208 §5 as [`Evaluator`] evaluates them: each term's target
//! name (§4.8), the address, `mx` and `ptr` lookups with their limits (§4.6.4), and the
//! validated domain name of `%{p}` (§5.5, §7.3). The record-level walk (terms left to
//! right, `include`, `redirect`, `exp=`) is in the parent module.

use super::*;

impl<'a, L: Lookup + ?Sized> Evaluator<'a, L> {
    /// The target name of a mechanism (RFC 7208 §4.8): the expanded domain-spec, or the
    /// current domain. `Ok(None)` when the expansion is not a usable DNS name.
    async fn target(
        &mut self,
        spec: Option<&DomainSpec>,
        domain: &str,
        depth: usize,
    ) -> Result<Option<String>, Mech> {
        let Some(spec) = spec else {
            return Ok(Some(domain.to_string()));
        };
        let target = self
            .expand(spec.macro_string(), domain, depth, true)
            .await
            .map_err(|_| Mech::Error(SpfResult::PermError, Problem::ExpansionLimit, None))?;
        if expand::is_valid_target_name(&target) {
            Ok(Some(target))
        } else {
            trace!(
                self,
                TraceEvent::Note {
                    depth,
                    message: format!(
                        "{target:?} cannot be a DNS name; it is treated as a name that does not exist (RFC 7208 §4.8)"
                    ),
                }
            );
            Ok(None)
        }
    }

    pub(super) async fn mechanism(
        &mut self,
        mechanism: &Mechanism,
        domain: &str,
        depth: usize,
    ) -> Mech {
        match mechanism {
            // RFC 7208 §5.1: "The "all" mechanism is a test that always matches."
            Mechanism::All => Mech::Match,
            // RFC 7208 §5.6: ip4 and ip6 compare <ip> with the network; an IPv4 <ip>
            // never matches ip6, nor an IPv6 one ip4.
            Mechanism::Ip4 { addr, prefix_len } => {
                let bits = prefix_len.map_or(32, |p| p.get());
                if in_network(self.ip, IpAddr::V4(*addr), bits, 128) {
                    Mech::Match
                } else {
                    Mech::NoMatch
                }
            }
            Mechanism::Ip6 { addr, prefix_len } => {
                let bits = prefix_len.map_or(128, |p| p.get());
                if in_network(self.ip, IpAddr::V6(*addr), 32, bits) {
                    Mech::Match
                } else {
                    Mech::NoMatch
                }
            }
            Mechanism::A { domain_spec, cidr } => {
                let target = match self.target(domain_spec.as_ref(), domain, depth).await {
                    Ok(Some(t)) => t,
                    Ok(None) => return Mech::NoMatch,
                    Err(m) => return m,
                };
                // RFC 7208 §5.3: "An address lookup is done on the <target-name> using
                // the type of lookup (A or AAAA) appropriate for the connection type".
                match self.addresses(&target, depth).await {
                    Ok(addrs) => {
                        if addrs.any_in_network(self.ip, cidr.ip4_bits(), cidr.ip6_bits()) {
                            Mech::Match
                        } else {
                            Mech::NoMatch
                        }
                    }
                    Err(e) => self.lookup_failed(&target, self.address_type(), &e),
                }
            }
            Mechanism::Mx { domain_spec, cidr } => {
                let target = match self.target(domain_spec.as_ref(), domain, depth).await {
                    Ok(Some(t)) => t,
                    Ok(None) => return Mech::NoMatch,
                    Err(m) => return m,
                };
                self.mx(&target, cidr.ip4_bits(), cidr.ip6_bits(), depth)
                    .await
            }
            Mechanism::Ptr { domain_spec } => {
                let target = match self.target(domain_spec.as_ref(), domain, depth).await {
                    Ok(Some(t)) => t,
                    Ok(None) => return Mech::NoMatch,
                    Err(m) => return m,
                };
                self.ptr(&target, depth).await
            }
            Mechanism::Exists { domain_spec } => {
                let target = match self.target(Some(domain_spec), domain, depth).await {
                    Ok(Some(t)) => t,
                    Ok(None) => return Mech::NoMatch,
                    Err(m) => return m,
                };
                // RFC 7208 §5.7: "The resulting domain name is used for a DNS A RR
                // lookup (even when the connection type is IPv6). If any A record is
                // returned, this mechanism matches."
                let answer = self.lookup.lookup_a(&target).await;
                trace!(
                    self,
                    TraceEvent::Query {
                        depth,
                        query: "A",
                        name: target.clone(),
                        answer: match &answer {
                            Ok(a) => Answer::Records {
                                records: a.iter().map(ToString::to_string).collect(),
                            },
                            Err(e) => Answer::from_error(e),
                        },
                    }
                );
                match answer {
                    Ok(a) if !a.is_empty() => Mech::Match,
                    Ok(_) => self.void_or_no_match(),
                    Err(e) => self.lookup_failed(&target, "A", &e),
                }
            }
            Mechanism::Include { domain_spec } => {
                let target = match self.target(Some(domain_spec), domain, depth).await {
                    Ok(Some(t)) => t,
                    // The recursive check_host() of a malformed name is "none" (§4.3),
                    // which makes the include a permerror (§5.2).
                    Ok(None) => {
                        return Mech::Error(
                            SpfResult::PermError,
                            Problem::IncludeNone {
                                target: domain_spec.to_string(),
                            },
                            None,
                        );
                    }
                    Err(m) => return m,
                };
                let inner = self.check_at(&target, depth + 1, Via::Include).await;
                // RFC 7208 §5.2, the table of recursive results.
                match inner.result {
                    SpfResult::Pass => Mech::Match,
                    SpfResult::Fail | SpfResult::SoftFail | SpfResult::Neutral => Mech::NoMatch,
                    SpfResult::TempError | SpfResult::PermError => Mech::Error(
                        inner.result,
                        inner.problem.unwrap_or(Problem::IncludeNone { target }),
                        inner.decided_by,
                    ),
                    SpfResult::None => {
                        Mech::Error(SpfResult::PermError, Problem::IncludeNone { target }, None)
                    }
                }
            }
        }
    }

    fn address_type(&self) -> &'static str {
        match self.ip {
            IpAddr::V4(_) => "A",
            IpAddr::V6(_) => "AAAA",
        }
    }

    /// A or AAAA records of `name`, by the type of `<ip>` (RFC 7208 §5). An empty
    /// answer is `NoData`.
    async fn addresses(&mut self, name: &str, depth: usize) -> Result<Addresses, LookupError> {
        let answer = match self.ip {
            IpAddr::V4(_) => self.lookup.lookup_a(name).await.map(Addresses::V4),
            IpAddr::V6(_) => self.lookup.lookup_aaaa(name).await.map(Addresses::V6),
        };
        trace!(
            self,
            TraceEvent::Query {
                depth,
                query: self.address_type(),
                name: name.to_string(),
                answer: match &answer {
                    Ok(a) => Answer::Records {
                        records: a.to_strings(),
                    },
                    Err(e) => Answer::from_error(e),
                },
            }
        );
        match answer {
            Ok(a) if a.is_empty() => Err(LookupError::NoData),
            other => other,
        }
    }

    /// RFC 7208 §5: "If the server returns "Name Error" (RCODE 3), then evaluation of
    /// the mechanism continues as if the server returned no error (RCODE 0) and zero
    /// answer records" (a void lookup); a server error or timeout makes the topmost
    /// check_host() return "temperror".
    fn lookup_failed(&mut self, name: &str, query: &'static str, e: &LookupError) -> Mech {
        match e {
            LookupError::NxDomain | LookupError::NoData => self.void_or_no_match(),
            LookupError::InvalidName(_) => Mech::NoMatch,
            _ => Mech::Error(SpfResult::TempError, dns_problem(name, query, e), None),
        }
    }

    fn void_or_no_match(&mut self) -> Mech {
        match self.note_void() {
            Ok(()) => Mech::NoMatch,
            Err(p) => Mech::Error(SpfResult::PermError, p, None),
        }
    }

    /// RFC 7208 §5.4.
    async fn mx(&mut self, target: &str, ip4_bits: u8, ip6_bits: u8, depth: usize) -> Mech {
        let answer = self.lookup.lookup_mx(target).await;
        trace!(
            self,
            TraceEvent::Query {
                depth,
                query: "MX",
                name: target.to_string(),
                answer: match &answer {
                    Ok(a) => Answer::Records {
                        records: a
                            .iter()
                            .map(|m| format!("{} {}", m.preference, m.exchange))
                            .collect(),
                    },
                    Err(e) => Answer::from_error(e),
                },
            }
        );
        let mut mxs = match answer {
            Ok(m) => m,
            Err(e) => return self.lookup_failed(target, "MX", &e),
        };
        mxs.sort_by_key(|m| m.preference);
        let mut address_lookups = 0;
        for mx in &mxs {
            // A null MX (RFC 7505, exchange ".") names no host: nothing to look up.
            if !expand::is_valid_target_name(&mx.exchange) {
                trace!(
                    self,
                    TraceEvent::Note {
                        depth,
                        message: format!("MX {:?} names no host; skipped", mx.exchange),
                    }
                );
                continue;
            }
            address_lookups += 1;
            // RFC 7208 §4.6.4: "the evaluation of each "MX" record MUST NOT result in
            // querying more than 10 address records … If this limit is exceeded, the
            // "mx" mechanism MUST produce a "permerror" result."
            if address_lookups > MAX_NAMES_PER_LOOKUP {
                return Mech::Error(
                    SpfResult::PermError,
                    Problem::MxLimit {
                        target: target.to_string(),
                    },
                    None,
                );
            }
            match self.addresses(&mx.exchange, depth).await {
                Ok(addrs) => {
                    if addrs.any_in_network(self.ip, ip4_bits, ip6_bits) {
                        return Mech::Match;
                    }
                }
                Err(e) => match self.lookup_failed(&mx.exchange, self.address_type(), &e) {
                    Mech::NoMatch => {}
                    other => return other,
                },
            }
        }
        Mech::NoMatch
    }

    /// The PTR names of `<ip>`, at most 10 (RFC 7208 §4.6.4: "all records other than the
    /// first 10 MUST be ignored"); `Err` on a DNS error, `Ok(empty)` when void.
    async fn ptr_names(&mut self, depth: usize) -> Result<Vec<String>, LookupError> {
        let answer = self.lookup.lookup_ptr(self.ip).await;
        trace!(
            self,
            TraceEvent::Query {
                depth,
                query: "PTR",
                name: sendwell_dns::reverse_name(self.ip),
                answer: match &answer {
                    Ok(a) => Answer::Records { records: a.clone() },
                    Err(e) => Answer::from_error(e),
                },
            }
        );
        answer.map(|mut names| {
            if names.len() > MAX_NAMES_PER_LOOKUP {
                trace!(
                    self,
                    TraceEvent::Note {
                        depth,
                        message: format!(
                            "{} PTR names; only the first {MAX_NAMES_PER_LOOKUP} are used (RFC 7208 §4.6.4)",
                            names.len()
                        ),
                    }
                );
                names.truncate(MAX_NAMES_PER_LOOKUP);
            }
            names
        })
    }

    /// Whether `name` is validated: one of its addresses is `<ip>` (RFC 7208 §5.5).
    /// Errors skip the name ("If a DNS error occurs while doing an A RR lookup, then
    /// that domain name is skipped and the search continues"). `count_void` counts an
    /// empty answer against the current term.
    async fn validate(
        &mut self,
        name: &str,
        depth: usize,
        count_void: bool,
    ) -> Result<bool, Problem> {
        if !expand::is_valid_target_name(name) {
            return Ok(false);
        }
        match self.addresses(name, depth).await {
            Ok(addrs) => Ok(addrs.any_in_network(self.ip, 32, 128)),
            Err(LookupError::NxDomain | LookupError::NoData) if count_void => {
                self.note_void().map(|()| false)
            }
            Err(_) => Ok(false),
        }
    }

    /// RFC 7208 §5.5.
    async fn ptr(&mut self, target: &str, depth: usize) -> Mech {
        let names = match self.ptr_names(depth).await {
            Ok(n) => n,
            Err(LookupError::NxDomain | LookupError::NoData) => return self.void_or_no_match(),
            // "If a DNS error occurs while doing the PTR RR lookup, then this mechanism
            // fails to match."
            Err(_) => return Mech::NoMatch,
        };
        for name in &names {
            // Only names in the target domain can make the mechanism match, so the
            // others need no validating query.
            if !is_within(name, target) {
                continue;
            }
            match self.validate(name, depth, true).await {
                Ok(true) => return Mech::Match,
                Ok(false) => {}
                Err(p) => return Mech::Error(SpfResult::PermError, p, None),
            }
        }
        Mech::NoMatch
    }

    /// `%{p}` (RFC 7208 §7.3): "If the <domain> is present in the list of validated
    /// domains, it SHOULD be used. Otherwise, if a subdomain of the <domain> is present,
    /// it SHOULD be used. Otherwise, any name from the list can be used. If there are no
    /// validated domain names or if a DNS error occurs, the string "unknown" is used."
    /// The list is looked up once per evaluation; its queries are not counted as terms
    /// or void lookups (they belong to no term of their own).
    pub(super) async fn validated_domain(&mut self, domain: &str, depth: usize) -> String {
        if self.validated.is_none() {
            let names = self.ptr_names(depth).await.unwrap_or_default();
            let mut validated = Vec::new();
            for name in names {
                if self.validate(&name, depth, false).await == Ok(true) {
                    validated.push(name);
                }
            }
            self.validated = Some(validated);
        }
        let list = self.validated.as_deref().unwrap_or_default();
        list.iter()
            .find(|n| is_within(n, domain) && n.len() == domain.trim_end_matches('.').len())
            .or_else(|| list.iter().find(|n| is_within(n, domain)))
            .or_else(|| list.first())
            .cloned()
            .unwrap_or_else(|| "unknown".to_string())
    }
}
