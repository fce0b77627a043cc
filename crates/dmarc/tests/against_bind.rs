//! Policy discovery, the verdict and the external-destination check through a real DNS
//! server: BIND on 127.0.0.1 serving the test zone, asked by `HickoryLookup`. This shows
//! the DMARC code reads real answers the way the mock promises: TXT strings joined,
//! NXDOMAIN apart from no data (the np existence test), and the tree walk's names.

use sendwell_dmarc::external::{DestinationOutcome, check_destinations};
use sendwell_dmarc::{
    Discovery, DmarcResult, Policy, PolicyOutcome, PolicySource, discover_policy, evaluate_dmarc,
};
use sendwell_dns::HickoryLookup;

use crate::support::passing;

/// One zone for the whole `test` TLD, so that the walk's last name (`_dmarc.test`) is
/// answered authoritatively (NXDOMAIN) instead of refused.
const ZONE: &str = r#"
_dmarc.example      TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; " "rua=mailto:dmarc@example.test,mailto:reports@vendor.test"
mail.example        A   192.0.2.1
mx.example          MX  10 mail.example.test.
_dmarc.split        TXT "v=DMARC1; p=re" "ject"
_dmarc.bank         TXT "v=DMARC1; p=reject; psd=y"
_dmarc.giant.bank   TXT "v=DMARC1; p=quarantine"
example.test._report._dmarc.vendor TXT "v=DMARC1;"
"#;

#[tokio::test]
async fn dmarc_through_bind() {
    let bind = crate::support::bind(&[("test", ZONE)]);
    let dns = HickoryLookup::with_server(bind.addr());
    let walk = Discovery::TreeWalk;

    // The Author Domain's own record, joined from two strings by the receiver side.
    let d = discover_policy(&dns, "split.test", walk).await;
    match &d.outcome {
        PolicyOutcome::Found { record, .. } => assert_eq!(record.p(), Some(Policy::Reject)),
        other => panic!("{other:?}"),
    }

    // Aligned DKIM: pass.
    let out = evaluate_dmarc(
        &dns,
        "example.test",
        &passing(None, &["example.test"]),
        walk,
    )
    .await;
    assert_eq!(out.result, DmarcResult::Pass, "{}", out.reason);

    // A failing existing subdomain meets sp; NXDOMAIN meets np; NODATA (MX only) is sp.
    for (author, source, policy) in [
        ("mail.example.test", PolicySource::Sp, Policy::Quarantine),
        ("mx.example.test", PolicySource::Sp, Policy::Quarantine),
        ("ghost.example.test", PolicySource::Np, Policy::Reject),
    ] {
        let out = evaluate_dmarc(&dns, author, &passing(Some("other.invalid"), &[]), walk).await;
        assert_eq!(out.result, DmarcResult::Fail, "{author}: {}", out.reason);
        assert_eq!(out.policy.unwrap().source, source, "{author}");
        assert_eq!(out.disposition, policy, "{author}");
    }

    // A deep name: eight queries, then example.test's record.
    let deep = "a.b.c.d.e.f.g.h.example.test";
    let d = discover_policy(&dns, deep, walk).await;
    assert_eq!(d.queries.len(), 8, "{:?}", d.queries);
    assert!(
        matches!(&d.outcome, PolicyOutcome::Found { policy_domain, .. } if policy_domain == "example.test")
    );

    // psd=y: the two methods disagree on mega.bank.test (RFC 9989 §4.10.2 rule 2; the
    // Public Suffix List knows nothing of bank.test).
    let ids = passing(None, &["mega.bank.test"]);
    let tree = evaluate_dmarc(&dns, "giant.bank.test", &ids, walk).await;
    assert_eq!(tree.result, DmarcResult::Fail, "{}", tree.reason);
    let list = evaluate_dmarc(&dns, "giant.bank.test", &ids, Discovery::PublicSuffixList).await;
    assert_eq!(list.result, DmarcResult::Pass, "{}", list.reason);

    // No record anywhere: none.
    let out = evaluate_dmarc(
        &dns,
        "nothing.test",
        &passing(None, &["nothing.test"]),
        walk,
    )
    .await;
    assert_eq!(out.result, DmarcResult::None, "{}", out.reason);

    // The external report destination authorized itself (RFC 7489 §7.1).
    let record = discover_policy(&dns, "example.test", walk).await;
    let PolicyOutcome::Found { record, .. } = record.outcome else {
        panic!("no record");
    };
    let checks = check_destinations(&dns, "example.test", &record).await;
    assert_eq!(checks[0].outcome, DestinationOutcome::SameOrganization);
    assert_eq!(
        checks[1].outcome,
        DestinationOutcome::Authorized { overrides: vec![] }
    );
    let unauthorized = check_destinations(&dns, "split.test", &record).await;
    assert_eq!(unauthorized[1].outcome, DestinationOutcome::NotAuthorized);
}
