//! The receiver's entry point: which identity to check, and with which `<domain>` and
//! `<sender>` (RFC 7208 §2.3, §2.4), turned into one `check_host()` call.
//!
//! This is the stable API other Sendwell engines use (DMARC takes the [`SpfVerdict`]'s
//! `result` and `domain`).

use std::net::IpAddr;

use serde::Serialize;

use sendwell_dns::Lookup;

use crate::Config;
use crate::eval::{check_host, effective_sender};
use crate::result::{CheckHostOutput, Problem, SpfResult};

/// Which SMTP identity was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// The `MAIL FROM` reverse-path (RFC 7208 §2.4).
    #[serde(rename = "mailfrom")]
    MailFrom,
    /// The `HELO`/`EHLO` name (RFC 7208 §2.3), also used for a null reverse-path.
    Helo,
}

impl Identity {
    /// The token of the `Received-SPF` `identity` key (RFC 7208 §9.1) and the property
    /// of `Authentication-Results` (RFC 8601 §2.7.2): `mailfrom` or `helo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }
}

/// A receiver's SPF verdict on one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpfVerdict {
    /// The result (the same as `output.result`).
    pub result: SpfResult,
    /// Which identity was checked.
    pub identity: Identity,
    /// The domain checked: the MAIL FROM domain, or the HELO name. This is the domain
    /// DMARC aligns (RFC 7489 §3.1.2).
    pub domain: String,
    /// The `<sender>` check_host() evaluated: the MAIL FROM address — with `postmaster`
    /// as local-part when it has none (RFC 7208 §4.3: `example.com` is checked as
    /// `postmaster@example.com`) — or `postmaster@<HELO>` for the HELO identity (§2.4).
    pub sender: String,
    /// The reverse-path as received, without angle brackets (empty when null).
    pub mail_from: String,
    /// The HELO/EHLO name as received.
    pub helo: String,
    /// The client address as given.
    pub ip: IpAddr,
    /// Everything check_host() said.
    pub output: CheckHostOutput,
}

/// Evaluate SPF for a message as a receiver does: check the `MAIL FROM` identity, or,
/// when the reverse-path is null (`""` or `"<>"`), the `HELO` identity with
/// `postmaster@<HELO>` as sender (RFC 7208 §2.4: "When the reverse-path is null, this
/// document defines the "MAIL FROM" identity to be the mailbox composed of the local-part
/// "postmaster" and the "HELO" identity").
///
/// A reverse-path without `@` is taken as a bare domain (local-part `postmaster`,
/// §4.3). The domain is the text after the last `@` (a quoted local-part may hold `@`).
pub async fn evaluate<L: Lookup + ?Sized>(
    lookup: &L,
    ip: IpAddr,
    helo: &str,
    mail_from: &str,
    config: &Config,
) -> SpfVerdict {
    let path = strip_brackets(mail_from);
    if path.is_empty() {
        return helo_verdict(lookup, ip, helo, String::new(), config).await;
    }
    let domain = path.rsplit_once('@').map_or(path, |(_, d)| d);
    let output = check_host(lookup, ip, domain, path, helo, config).await;
    SpfVerdict {
        result: output.result,
        identity: Identity::MailFrom,
        domain: domain.to_string(),
        // RFC 7208 §4.3: the sender check_host() used, `postmaster@` added if needed.
        sender: effective_sender(path).sender.into_owned(),
        mail_from: path.to_string(),
        helo: helo.to_string(),
        ip,
        output,
    }
}

impl SpfVerdict {
    /// The verdict when the evaluation of [`evaluate`]'s arguments did not finish within
    /// the receiver's time limit: `temperror` (RFC 7208 §4.6.4), with the identity,
    /// domain and sender `evaluate` would have used.
    pub fn timed_out(
        ip: IpAddr,
        helo: &str,
        mail_from: &str,
        limit: std::time::Duration,
    ) -> SpfVerdict {
        let path = strip_brackets(mail_from);
        let (identity, domain, sender) = if path.is_empty() {
            (
                Identity::Helo,
                helo.to_string(),
                format!("postmaster@{helo}"),
            )
        } else {
            let domain = path.rsplit_once('@').map_or(path, |(_, d)| d);
            let sender = effective_sender(path).sender.into_owned();
            (Identity::MailFrom, domain.to_string(), sender)
        };
        SpfVerdict {
            result: SpfResult::TempError,
            identity,
            output: CheckHostOutput {
                result: SpfResult::TempError,
                domain: domain.clone(),
                explanation: None,
                decided_by: None,
                problem: Some(Problem::TimeLimit {
                    seconds: limit.as_secs(),
                }),
                lookups: 0,
                void_lookups: 0,
                trace: Vec::new(),
            },
            domain,
            sender,
            mail_from: path.to_string(),
            helo: helo.to_string(),
            ip,
        }
    }
}

fn strip_brackets(mail_from: &str) -> &str {
    mail_from
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or(mail_from)
}

/// Check the `HELO` identity alone (RFC 7208 §2.3): `check_host()` with the HELO name
/// as `<domain>` and `postmaster@<HELO>` as `<sender>`. RFC 7208 recommends it ("SPF
/// verifiers SHOULD check the "HELO" identity"); a HELO that is an address literal or
/// a single label gives `none` (§4.3).
pub async fn evaluate_helo<L: Lookup + ?Sized>(
    lookup: &L,
    ip: IpAddr,
    helo: &str,
    config: &Config,
) -> SpfVerdict {
    helo_verdict(lookup, ip, helo, String::new(), config).await
}

async fn helo_verdict<L: Lookup + ?Sized>(
    lookup: &L,
    ip: IpAddr,
    helo: &str,
    mail_from: String,
    config: &Config,
) -> SpfVerdict {
    let sender = format!("postmaster@{helo}");
    let output = check_host(lookup, ip, helo, &sender, helo, config).await;
    SpfVerdict {
        result: output.result,
        identity: Identity::Helo,
        domain: helo.to_string(),
        sender,
        mail_from,
        helo: helo.to_string(),
        ip,
        output,
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
    fn the_verdict_names_the_sender_check_host_used() {
        // %{s} in exists: shows which <sender> check_host() expanded.
        let dns = MockLookup::from_zone(
            "example.com TXT \"v=spf1 exists:%{l}.s.example.com -all\"\n\
             postmaster.s.example.com A 127.0.0.2",
        )
        .unwrap();
        let ip = "192.0.2.1".parse().unwrap();
        let config = Config::default();
        for given in ["example.com", "<example.com>", "@example.com"] {
            let v = block(evaluate(&dns, ip, "helo.example.org", given, &config));
            assert_eq!(v.result, SpfResult::Pass, "{given}: {:?}", v.output);
            assert_eq!(v.sender, "postmaster@example.com", "{given}");
            assert_eq!(v.domain, "example.com");
            let t =
                SpfVerdict::timed_out(ip, "helo.example.org", given, crate::MIN_EVALUATION_TIME);
            assert_eq!(t.sender, "postmaster@example.com", "{given}");
        }
        let v = block(evaluate(
            &dns,
            ip,
            "helo.example.org",
            "alice@example.com",
            &config,
        ));
        assert_eq!(v.sender, "alice@example.com");
        assert_eq!(v.result, SpfResult::Fail);
    }
}
