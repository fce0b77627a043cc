//! SPF macro strings and their expansion (sendwell-spf, RFC 7208 §7): any macro string
//! and any identities, no panic; a domain-spec expands to at most 253 octets or to a
//! name that is not a valid DNS name; the work stays within the expansion budget.
//!
//! The input is split on 0xff into the macro string, the sender's local-part, its
//! domain, the HELO name and the client address bytes.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use sendwell_spf::expand::{
    ExpansionBudget, MAX_DOMAIN_NAME_LEN, MacroValues, expand_domain, expand_into,
    is_valid_target_name,
};
use sendwell_spf::{DomainSpec, ExplainString, MacroString};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xff);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (macro_string, local, domain, helo) = (next(), next(), next(), next());
    let ip_bytes = parts.next().unwrap_or_default();
    let ip = if ip_bytes.len() >= 16 {
        let mut o = [0u8; 16];
        o.copy_from_slice(&ip_bytes[..16]);
        IpAddr::V6(Ipv6Addr::from(o))
    } else {
        let mut o = [0u8; 4];
        for (d, s) in o.iter_mut().zip(ip_bytes) {
            *d = *s;
        }
        IpAddr::V4(Ipv4Addr::from(o))
    };
    let sender = format!("{local}@{domain}");
    let values = MacroValues {
        sender: &sender,
        local_part: &local,
        sender_domain: &domain,
        domain: &domain,
        ip,
        helo: &helo,
        receiver: "receiver.example",
        timestamp: 1_700_000_000,
        validated_domain: "unknown",
    };
    if let Ok(ms) = MacroString::parse(&macro_string, true) {
        assert_eq!(ms.to_string(), macro_string);
        let mut out = String::new();
        let mut budget = ExpansionBudget::new(1 << 16);
        let _ = expand_into(&ms, &values, &mut budget, &mut out);
        assert!(out.len() <= 1 << 16);
    }
    if let Ok(spec) = macro_string.parse::<DomainSpec>() {
        let mut budget = ExpansionBudget::new(1 << 16);
        if let Ok(name) = expand_domain(spec.macro_string(), &values, &mut budget) {
            if is_valid_target_name(&name) {
                assert!(name.len() <= MAX_DOMAIN_NAME_LEN);
            }
        }
    }
    let _ = macro_string.parse::<ExplainString>();
});
