//! Mail from outside that claims to be from one of our own domains.
//!
//! Anyone can write `MAIL FROM:<ceo@our.domain>` and `From: ceo@our.domain`. Sent to
//! one of our aliases that forwards elsewhere, such mail would leave from our own IP
//! address, where SPF passes for our domain: forged mail delivered as authenticated.
//! Every other receiver protects our domain with the DMARC policy we publish (RFC
//! 7489 §6.3); our own MX applies the same policy to ourselves, whatever the general
//! inbound settings are:
//!
//! - A claim is the MAIL FROM domain (RFC 5321 §4.1.1.2) or a From domain (RFC 5322
//!   §3.6.2) that is one of our domains or under one.
//! - A claim is authenticated, as DMARC would see it (RFC 7489 §3.1, relaxed
//!   alignment, our domain as the organizational domain): SPF `pass` (RFC 7208 §2.6.3)
//!   for a MAIL FROM domain in the same one of our domains, or a passing DKIM
//!   signature (RFC 6376 §6.1) whose `d=` is in it.
//! - An unauthenticated claim on a domain whose configured policy is `quarantine` or
//!   `reject` is refused at the end of DATA with 550 5.7.1; a DNS failure that kept us
//!   from knowing is 451 4.7.0 (the sender tries again, RFC 7208 §2.6.6); `p=none`
//!   (monitoring) accepts, with a warning in the log.
//!
//! Mail from an authenticated session is never judged here (AUTH is the
//! authentication), and messages that claim none of our domains cost nothing.

use std::net::IpAddr;
use std::time::Duration;

use sendwell_config::{Config, DmarcPolicy};
use sendwell_dkim::DkimResult;
use sendwell_dns::Lookup;
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{Reply, ReplyCode as C};
use sendwell_spf::SpfResult;

/// How long the SPF and DKIM checks of one message may take together.
pub const CHECK_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Where a message claims one of our domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimedIn {
    /// The envelope: `MAIL FROM`.
    MailFrom,
    /// The `From:` header field.
    From,
}

impl ClaimedIn {
    fn as_str(self) -> &'static str {
        match self {
            ClaimedIn::MailFrom => "MAIL FROM",
            ClaimedIn::From => "From:",
        }
    }
}

/// One claim: `domain` (as given, lower case) in `place`, under our configured
/// domain `ours`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Where it was made.
    pub place: ClaimedIn,
    /// The claimed domain.
    pub domain: String,
    /// The configured domain it is (or is under).
    pub ours: String,
    /// That domain's DMARC policy.
    pub policy: DmarcPolicy,
}

/// The verdict on a message from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// It claims none of our domains.
    NoClaim,
    /// Every claim is authenticated (SPF or DKIM, aligned).
    Authenticated,
    /// A claim is not authenticated, but that domain's policy is `none`: accepted.
    Monitored(Claim),
    /// Refuse: 550 5.7.1.
    Refuse(Reply),
    /// DNS did not let us decide: 451 4.7.0.
    TryLater(Reply),
}

/// The configured domain `domain` is or is under (lower case), with its policy.
fn ours<'c>(config: &'c Config, domain: &str) -> Option<&'c sendwell_config::Domain> {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    config.domains.iter().find(|c| {
        let name = c.name.to_ascii_lowercase();
        d == name || d.strip_suffix(&name).is_some_and(|p| p.ends_with('.'))
    })
}

/// The claims a message makes: `mail_from` (the reverse-path without brackets, empty
/// for `<>`) and the From domains (already parsed, lower case).
pub fn claims(config: &Config, mail_from: &str, from_domains: &[&str]) -> Vec<Claim> {
    let mut out = Vec::new();
    let envelope = mail_from.rsplit_once('@').map(|(_, d)| d);
    for (place, domain) in envelope
        .map(|d| (ClaimedIn::MailFrom, d))
        .into_iter()
        .chain(from_domains.iter().map(|d| (ClaimedIn::From, *d)))
    {
        if let Some(c) = ours(config, domain) {
            out.push(Claim {
                place,
                domain: domain.to_ascii_lowercase(),
                ours: c.name.to_ascii_lowercase(),
                policy: c.dmarc_policy,
            });
        }
    }
    out
}

/// Judge a message from outside that makes `claims` (from [`claims`]): the client
/// `ip` and `helo`, the reverse-path `mail_from`, the message as received, at Unix
/// time `now`.
#[allow(clippy::too_many_arguments)]
pub async fn judge<L: Lookup>(
    lookup: &L,
    config: &Config,
    claims: &[Claim],
    ip: IpAddr,
    helo: &str,
    mail_from: &str,
    message: &[u8],
    now: u64,
) -> Judgement {
    if claims.is_empty() {
        return Judgement::NoClaim;
    }
    match tokio::time::timeout(
        CHECK_TIME_LIMIT,
        decide(lookup, config, claims, ip, helo, mail_from, message, now),
    )
    .await
    {
        Ok(j) => j,
        Err(_) => Judgement::TryLater(Reply::new(
            C::C451_LOCAL_ERROR,
            E::S4_7_0_SECURITY,
            format!(
                "Cannot check the sender's authentication within {} s; try again later",
                CHECK_TIME_LIMIT.as_secs()
            ),
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn decide<L: Lookup>(
    lookup: &L,
    config: &Config,
    claims: &[Claim],
    ip: IpAddr,
    helo: &str,
    mail_from: &str,
    message: &[u8],
    now: u64,
) -> Judgement {
    let spf_config = sendwell_spf::Config {
        receiver: config.hostname.clone(),
        ..sendwell_spf::Config::default()
    };
    // RFC 7208 §2.4: MAIL FROM, or postmaster@HELO for the null sender.
    let spf = sendwell_spf::evaluate(lookup, ip, helo, mail_from, &spf_config).await;
    let spf_under = ours(config, &spf.domain).map(|d| d.name.to_ascii_lowercase());
    let spf_ok = |c: &Claim| spf.result == SpfResult::Pass && spf_under.as_deref() == Some(&c.ours);
    let mut dkim_temp = false;
    let mut dkim_pass: Vec<String> = Vec::new();
    if !claims.iter().all(spf_ok) {
        for v in sendwell_dkim::verify(lookup, message, now).await {
            match v.result {
                DkimResult::Pass => {
                    if let Some(d) = ours(config, &v.domain) {
                        dkim_pass.push(d.name.to_ascii_lowercase());
                    }
                }
                // Only a signature of ours could have authenticated the claim.
                DkimResult::TempError if ours(config, &v.domain).is_some() => dkim_temp = true,
                _ => {}
            }
        }
    }
    let unauthenticated = claims
        .iter()
        .find(|c| !spf_ok(c) && !dkim_pass.contains(&c.ours));
    let Some(claim) = unauthenticated else {
        return Judgement::Authenticated;
    };
    if claim.policy == DmarcPolicy::None {
        return Judgement::Monitored(claim.clone());
    }
    // A DNS failure matters only where it could have changed the answer: SPF for a
    // MAIL FROM domain of ours (another domain's SPF cannot authenticate ours).
    let spf_temp =
        spf.result == SpfResult::TempError && spf_under.as_deref() == Some(claim.ours.as_str());
    if spf_temp || dkim_temp {
        return Judgement::TryLater(Reply::new(
            C::C451_LOCAL_ERROR,
            E::S4_7_0_SECURITY,
            format!(
                "Cannot check that this message really is from {}: DNS failed; try again later",
                claim.domain
            ),
        ));
    }
    // RFC 7489 §6.3 p=reject / p=quarantine, applied by the domain's own server;
    // RFC 3463 X.7.1: delivery not authorized.
    Judgement::Refuse(Reply::new(
        C::C550_MAILBOX_UNAVAILABLE,
        E::S5_7_1_DELIVERY_NOT_AUTHORIZED,
        format!(
            "Message refused: {} {} is our own domain, but this message is neither from an \
             address its SPF record allows (SPF {} for {}) nor DKIM-signed by it (DMARC p={})",
            claim.place.as_str(),
            claim.domain,
            spf.result,
            spf.domain,
            claim.policy
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sendwell_dns::MockLookup;

    fn config(policy: DmarcPolicy) -> Config {
        let mut c = sendwell_config::example::example();
        c.domains[0].dmarc_policy = policy;
        c
    }

    fn dns() -> MockLookup {
        MockLookup::from_zone("example.test TXT \"v=spf1 ip4:192.0.2.25 -all\"\n").unwrap()
    }

    const MSG: &[u8] = b"From: ceo@example.test\r\nSubject: pay this\r\n\r\nnow\r\n";
    const OUTSIDE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));
    const OUR_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 25));

    async fn j(policy: DmarcPolicy, ip: IpAddr, mail_from: &str, from: &[&str]) -> Judgement {
        let c = config(policy);
        let claims = claims(&c, mail_from, from);
        judge(
            &dns(),
            &c,
            &claims,
            ip,
            "x.test",
            mail_from,
            MSG,
            1_796_000_000,
        )
        .await
    }

    #[tokio::test]
    async fn forged_claims_are_refused_under_reject_and_quarantine() {
        for p in [DmarcPolicy::Reject, DmarcPolicy::Quarantine] {
            // In MAIL FROM ...
            let r = j(p, OUTSIDE, "ceo@example.test", &["other.test"]).await;
            let Judgement::Refuse(reply) = r else {
                panic!("{r:?}")
            };
            assert_eq!(reply.code.get(), 550);
            assert!(reply.text().contains("MAIL FROM example.test"), "{reply}");
            // ... in From only (the envelope elsewhere, SPF passes there or not) ...
            let r = j(p, OUTSIDE, "bounce@other.test", &["example.test"]).await;
            assert!(matches!(r, Judgement::Refuse(_)), "{r:?}");
            // ... and for a subdomain of ours.
            let r = j(p, OUTSIDE, "x@news.example.test", &[]).await;
            assert!(matches!(r, Judgement::Refuse(_)), "{r:?}");
        }
    }

    #[tokio::test]
    async fn our_spf_or_no_claim_or_monitoring_accepts() {
        let p = DmarcPolicy::Reject;
        assert_eq!(
            j(p, OUR_IP, "ceo@example.test", &["example.test"]).await,
            Judgement::Authenticated
        );
        assert_eq!(
            j(p, OUTSIDE, "a@other.test", &["other.test"]).await,
            Judgement::NoClaim
        );
        // The null sender claims nothing in the envelope; From still counts.
        assert_eq!(j(p, OUTSIDE, "", &["other.test"]).await, Judgement::NoClaim);
        assert!(matches!(
            j(p, OUTSIDE, "", &["example.test"]).await,
            Judgement::Refuse(_)
        ));
        assert!(matches!(
            j(DmarcPolicy::None, OUTSIDE, "ceo@example.test", &[]).await,
            Judgement::Monitored(_)
        ));
    }

    #[tokio::test]
    async fn dns_failure_is_try_later() {
        let dns = MockLookup::from_zone("example.test SERVFAIL\n").unwrap();
        let c = config(DmarcPolicy::Reject);
        let claims = claims(&c, "ceo@example.test", &[]);
        let r = judge(
            &dns,
            &c,
            &claims,
            OUTSIDE,
            "x.test",
            "ceo@example.test",
            MSG,
            0,
        )
        .await;
        let Judgement::TryLater(reply) = r else {
            panic!("{r:?}")
        };
        assert_eq!(reply.code.get(), 451);
    }
}
