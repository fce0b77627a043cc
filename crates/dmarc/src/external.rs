//! Verifying external report destinations (RFC 7489 §7.1; RFC 9989 §11.6 keeps the
//! mechanism, now in the aggregate reporting document).
//!
//! A domain may ask for its reports to go to another domain (`rua=mailto:x@vendor.example`).
//! So that nobody can aim report floods at a stranger, the receiving domain must agree by
//! publishing `v=DMARC1` at `<policy domain>._report._dmarc.<destination host>`. Without
//! it, receivers send no reports there. The record may also carry `rua`/`ruf` tags that
//! replace the destination, on the same host only (§7.1 step 8).

use sendwell_dns::Lookup;

use crate::query::is_dmarc_version;
use crate::record::{DmarcRecord, TagName};
use crate::tree_walk::psl_organizational_domain;
use crate::uri::ReportUri;

/// Whether one reporting URI may be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestinationOutcome {
    /// The destination is in the same Organizational Domain: no check needed.
    SameOrganization,
    /// The destination domain published an authorization.
    Authorized {
        /// URIs from the authorization record that replace this one (same host only).
        overrides: Vec<ReportUri>,
    },
    /// No authorization record: receivers send no reports to this URI.
    NotAuthorized,
    /// The authorization query failed temporarily.
    TempError(String),
    /// The URI has no host to check (not a valid mailto or URL).
    NoHost,
}

/// The check of one `rua` or `ruf` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationCheck {
    /// `rua` or `ruf`.
    pub tag: TagName,
    /// The URI as published.
    pub uri: ReportUri,
    /// Its destination host, lowercased.
    pub host: Option<String>,
    /// The name queried (`example.com._report._dmarc.vendor.example`), if one was.
    pub query: Option<String>,
    /// The outcome.
    pub outcome: DestinationOutcome,
}

/// The name that authorizes `host` to receive reports for `policy_domain`
/// (RFC 7489 §7.1 steps 2–3).
pub fn authorization_name(policy_domain: &str, host: &str) -> String {
    format!("{policy_domain}._report._dmarc.{host}")
}

/// Check every valid `rua` and `ruf` URI of `record`, published at `_dmarc.<policy_domain>`.
pub async fn check_destinations<L: Lookup>(
    lookup: &L,
    policy_domain: &str,
    record: &DmarcRecord,
) -> Vec<DestinationCheck> {
    let policy_org = psl_organizational_domain(policy_domain);
    let mut out = Vec::new();
    for (tag, uris) in [(TagName::Rua, record.rua()), (TagName::Ruf, record.ruf())] {
        for uri in uris.iter().filter(|u| u.problem().is_none()) {
            let host = uri.destination_host();
            let Some(h) = host.clone() else {
                out.push(DestinationCheck {
                    tag,
                    uri: uri.clone(),
                    host,
                    query: None,
                    outcome: DestinationOutcome::NoHost,
                });
                continue;
            };
            // "When ... the Organizational Domain at which that record was discovered
            // is not identical to the Organizational Domain of the host part ..."
            if psl_organizational_domain(&h) == policy_org {
                out.push(DestinationCheck {
                    tag,
                    uri: uri.clone(),
                    host,
                    query: None,
                    outcome: DestinationOutcome::SameOrganization,
                });
                continue;
            }
            let name = authorization_name(policy_domain, &h);
            let outcome = authorize(lookup, &name, tag, &h).await;
            out.push(DestinationCheck {
                tag,
                uri: uri.clone(),
                host,
                query: Some(name),
                outcome,
            });
        }
    }
    out
}

async fn authorize<L: Lookup>(
    lookup: &L,
    name: &str,
    tag: TagName,
    host: &str,
) -> DestinationOutcome {
    let records = match lookup.lookup_txt(name).await {
        Ok(r) => r,
        // Step 4: a temporary error MAY defer; report it as such.
        Err(e) if e.is_temporary() => return DestinationOutcome::TempError(e.to_string()),
        Err(_) => return DestinationOutcome::NotAuthorized,
    };
    // Step 5: "the v=DMARC1 tag is mandatory and MUST appear first"; discard the rest.
    let valid: Vec<String> = records
        .iter()
        .map(|t| t.to_string_lossy())
        .filter(|t| is_dmarc_version(t))
        .collect();
    // Step 6: none left, no authorization.
    let Some(first) = valid.first() else {
        return DestinationOutcome::NotAuthorized;
    };
    // Step 8: an rua/ruf there replaces ours, if it keeps the same destination host.
    let overrides = first
        .parse::<DmarcRecord>()
        .map(|r| {
            let uris = if tag == TagName::Rua {
                r.rua()
            } else {
                r.ruf()
            };
            uris.iter()
                .filter(|u| u.problem().is_none() && u.destination_host().as_deref() == Some(host))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    DestinationOutcome::Authorized { overrides }
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
    fn rfc9989_b_2_3_and_b_2_4() {
        // RFC 9989 Appendix B.2.3: ruf at a third party, authorized by it.
        let record: DmarcRecord = "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; \
             ruf=mailto:auth-reports@thirdparty.example.net"
            .parse()
            .unwrap();
        let dns = MockLookup::from_zone(
            "example.com._report._dmarc.thirdparty.example.net TXT \"v=DMARC1;\"",
        )
        .unwrap();
        let checks = block(check_destinations(&dns, "example.com", &record));
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].outcome, DestinationOutcome::SameOrganization);
        assert_eq!(
            checks[1].outcome,
            DestinationOutcome::Authorized { overrides: vec![] }
        );
        // B.2.4: the third party overrides the failure-report address.
        let dns = MockLookup::from_zone(
            "example.com._report._dmarc.thirdparty.example.net TXT \"v=DMARC1; \" \
             \"rua=mailto:aggregate-reports@thirdparty.example.net; \" \
             \"ruf=mailto:failure-reports@thirdparty.example.net\"",
        )
        .unwrap();
        let checks = block(check_destinations(&dns, "example.com", &record));
        assert_eq!(
            checks[1].outcome,
            DestinationOutcome::Authorized {
                overrides: vec![ReportUri::parse(
                    "mailto:failure-reports@thirdparty.example.net"
                )]
            }
        );
        // Without the record: not authorized.
        let checks = block(check_destinations(
            &MockLookup::new(),
            "example.com",
            &record,
        ));
        assert_eq!(checks[1].outcome, DestinationOutcome::NotAuthorized);
        assert_eq!(
            checks[1].query.as_deref(),
            Some("example.com._report._dmarc.thirdparty.example.net")
        );
    }

    #[test]
    fn override_on_another_host_is_ignored() {
        let record: DmarcRecord = "v=DMARC1; p=none; rua=mailto:r@vendor.example"
            .parse()
            .unwrap();
        let dns = MockLookup::from_zone(
            "example.com._report._dmarc.vendor.example TXT \"v=DMARC1; rua=mailto:x@elsewhere.example\"\n\
             slow.example._report._dmarc.vendor.example TIMEOUT",
        )
        .unwrap();
        let checks = block(check_destinations(&dns, "example.com", &record));
        assert_eq!(
            checks[0].outcome,
            DestinationOutcome::Authorized { overrides: vec![] }
        );
        let checks = block(check_destinations(&dns, "slow.example", &record));
        assert!(matches!(
            checks[0].outcome,
            DestinationOutcome::TempError(_)
        ));
    }
}
