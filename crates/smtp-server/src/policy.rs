//! Who may send what to whom: the rules that keep Sendwell from ever being an open
//! relay.
//!
//! An open relay accepts mail from anyone for anywhere and becomes a spam cannon.
//! RFC 5321 §3.6.2 leaves relaying to the server's policy; ours:
//!
//! - Anyone may send to the *local* addresses: the configured mailboxes and aliases,
//!   the accounts, and the role addresses every local domain has whether the config
//!   lists them or not ([`ROLE_LOCAL_PARTS`]: postmaster@, RFC 5321 §4.5.1 "MUST"
//!   accept, also as the bare `<Postmaster>`; abuse@, RFC 2142 §2; no-reply@), plus
//!   each domain's DMARC report address when it is in a local domain. A role or
//!   report address is delivered into its own Maildir (`DIR/mail/ADDRESS/`), like a
//!   listed mailbox, unless an alias of that address sends it elsewhere. An unknown
//!   local address gets 550 5.1.1.
//! - Only an authenticated client may send to any other address; otherwise 554 5.7.1.
//! - The old relay tricks are refused as relaying, whoever asks: a local part that
//!   routes on (`user%other@local`, `other!user@local`, `"user@other"@local`),
//!   an unqualified name (`<user>`), an address literal (`user@[192.0.2.1]`). A
//!   source route (`<@local:user@remote>`) is ignored as RFC 5321 §4.1.1.3 asks, so the
//!   decision is made on the final mailbox (`user@remote`): relaying.
//!
//! Local parts are matched without regard to case (RFC 5321 §2.4 lets the server
//! decide; mixed-case duplicates of a mailbox would only confuse people).

use std::collections::{HashMap, HashSet};

use sendwell_config::Config;
use sendwell_queue::{Destination, Recipient};
use sendwell_smtp::enhanced::EnhancedStatusCode as E;
use sendwell_smtp::{ForwardPath, Mailbox, Reply, ReplyCode as C};

/// How deep aliases may point to aliases.
const MAX_ALIAS_DEPTH: usize = 8;

/// Local parts every local domain accepts mail for, listed in the config or not:
/// postmaster (RFC 5321 §4.5.1: "MUST support the reserved mailbox postmaster"), abuse
/// (RFC 2142 §2, where complaints about a domain go) and no-reply (our own sender for
/// notices, which must exist so address-verification callouts succeed).
pub const ROLE_LOCAL_PARTS: [&str; 3] = ["postmaster", "abuse", "no-reply"];

/// The local domains and addresses.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    domains: HashSet<String>,
    primary: String,
    /// Listed mailboxes, role addresses and DMARC report addresses (lower case).
    mailboxes: HashSet<String>,
    aliases: HashMap<String, Vec<String>>,
    /// The SRS secret: a valid SRS address in a local domain is the address of the
    /// sender of mail we forwarded (a bounce finds its way back through it).
    pub srs: Option<sendwell_srs::Srs>,
}

/// The answer to one RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RcptDecision {
    /// Accept; the recipients to queue (more than one for an alias).
    Accept(Vec<Recipient>),
    /// Refuse with this reply.
    Refuse(Reply),
}

fn relay_denied(why: &str) -> RcptDecision {
    // RFC 5321 §3.6.2; RFC 3463 X.7.1 "Delivery not authorized, message refused".
    RcptDecision::Refuse(Reply::new(
        C::C554_TRANSACTION_FAILED,
        E::S5_7_1_DELIVERY_NOT_AUTHORIZED,
        format!("Relay access denied: {why}"),
    ))
}

impl Directory {
    /// The directory a config describes.
    pub fn from_config(config: &Config) -> Self {
        let lower = |s: &str| s.to_ascii_lowercase();
        let mut aliases = HashMap::new();
        for a in &config.aliases {
            aliases.insert(lower(&a.address), a.to.iter().map(|t| lower(t)).collect());
        }
        let domains: HashSet<String> = config.domains.iter().map(|d| lower(&d.name)).collect();
        let mut mailboxes: HashSet<String> =
            config.mailboxes.iter().map(|m| lower(&m.address)).collect();
        for d in &config.domains {
            for local in ROLE_LOCAL_PARTS {
                mailboxes.insert(format!("{local}@{}", lower(&d.name)));
            }
            // The rua= address `sendwell records` publishes (RFC 7489 §7.1): ours to
            // receive when it is in one of our domains.
            // Keyed as RCPT looks it up: unquoted local part, lower case.
            if let Ok(m) = Mailbox::parse(&d.dmarc_report_address())
                && let Some(domain) = m.domain_name().map(|n| n.to_lowercase())
                && domains.contains(&domain)
            {
                mailboxes.insert(format!(
                    "{}@{domain}",
                    m.local_part.value().to_ascii_lowercase()
                ));
            }
        }
        Directory {
            primary: config
                .domains
                .first()
                .map(|d| lower(&d.name))
                .unwrap_or_default(),
            domains,
            mailboxes,
            aliases,
            srs: None,
        }
    }

    /// True for one of our domains (case-insensitive).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.contains(&domain.to_ascii_lowercase())
    }

    /// The first configured domain (for the bare `<Postmaster>`).
    pub fn primary_domain(&self) -> &str {
        &self.primary
    }

    /// Decide one RCPT. `authenticated` is true once AUTH succeeded in this session.
    /// Only the config's mailboxes and aliases exist; see [`Directory::decide_with`].
    pub fn decide(&self, to: &ForwardPath, authenticated: bool) -> RcptDecision {
        self.decide_with(to, authenticated, &|_| false)
    }

    /// [`Directory::decide`] where `is_account` says which addresses have an account
    /// (users.toml): each account's own address is a local mailbox too, so the people
    /// who send through this server get replies and bounces.
    pub fn decide_with(
        &self,
        to: &ForwardPath,
        authenticated: bool,
        is_account: &dyn Fn(&str) -> bool,
    ) -> RcptDecision {
        let mailbox = match to {
            // RFC 5321 §4.1.1.3: "<Postmaster>" without a domain is ours.
            ForwardPath::Postmaster => {
                return self.local(&format!("postmaster@{}", self.primary), None, is_account);
            }
            ForwardPath::Path(p) => &p.mailbox,
        };
        let Some(domain) = mailbox.domain_name() else {
            return relay_denied("address literals are not accepted as recipients");
        };
        let domain = domain.to_lowercase();
        if self.is_local_domain(&domain) {
            let value = mailbox.local_part.value();
            if sendwell_srs::is_srs_local_part(&value)
                && let Some(srs) = &self.srs
            {
                return self.srs_bounce(srs, &value, mailbox, is_account);
            }
            // The %-hack, bang paths and quoted @ route on to another host: relaying
            // disguised as a local address.
            if value.contains(['%', '!', '@']) {
                return relay_denied("routing characters in a local part");
            }
            let address = format!("{}@{domain}", value.to_ascii_lowercase());
            return self.local(&address, Some(mailbox), is_account);
        }
        if authenticated {
            RcptDecision::Accept(vec![Recipient {
                address: mailbox.to_string(),
                original: None,
                destination: Destination::Remote,
            }])
        } else {
            relay_denied("authentication required to send to other domains")
        }
    }

    /// An SRS address of ours (`SRS0=...@local`, see `sendwell_srs`): valid (our hash,
    /// at most 21 days old) it is the original sender of mail we forwarded, and mail
    /// to it (a bounce) goes there; anything else does not exist (550 5.1.1), so made-up
    /// SRS addresses relay nothing.
    fn srs_bounce(
        &self,
        srs: &sendwell_srs::Srs,
        local: &str,
        given: &Mailbox,
        is_account: &dyn Fn(&str) -> bool,
    ) -> RcptDecision {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match srs.reverse(local, now) {
            Ok(original) => {
                let local_target = original
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| self.is_local_domain(d));
                if local_target {
                    return self.local(&original.to_ascii_lowercase(), Some(given), is_account);
                }
                RcptDecision::Accept(vec![Recipient {
                    address: original,
                    original: Some(given.to_string()),
                    destination: Destination::Remote,
                }])
            }
            Err(e) => RcptDecision::Refuse(Reply::new(
                C::C550_MAILBOX_UNAVAILABLE,
                E::S5_1_1_BAD_DESTINATION_MAILBOX,
                format!("No such user here: <{given}> ({e})"),
            )),
        }
    }

    /// A local address (lower case): a mailbox, an alias, postmaster, or unknown.
    fn local(
        &self,
        address: &str,
        given: Option<&Mailbox>,
        is_account: &dyn Fn(&str) -> bool,
    ) -> RcptDecision {
        let mut out = Vec::new();
        if !self.expand(address, 0, &mut out, is_account) {
            return RcptDecision::Refuse(Reply::new(
                C::C550_MAILBOX_UNAVAILABLE,
                E::S5_1_1_BAD_DESTINATION_MAILBOX,
                format!(
                    "No such user here: <{}>",
                    given
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| address.to_string())
                ),
            ));
        }
        let original = given.map(|m| m.to_string());
        for r in &mut out {
            if original.as_deref() != Some(r.address.as_str()) {
                r.original = original.clone().or_else(|| Some(address.to_string()));
            }
        }
        out.dedup_by(|a, b| a.address == b.address);
        RcptDecision::Accept(out)
    }

    /// Expand a lower-case local address into recipients; false if it does not exist.
    fn expand(
        &self,
        address: &str,
        depth: usize,
        out: &mut Vec<Recipient>,
        is_account: &dyn Fn(&str) -> bool,
    ) -> bool {
        if let Some(targets) = self.aliases.get(address)
            && depth < MAX_ALIAS_DEPTH
        {
            for t in targets {
                let local = t
                    .rsplit_once('@')
                    .is_some_and(|(_, d)| self.is_local_domain(d));
                if local {
                    if !self.expand(t, depth + 1, out, is_account) {
                        // An alias pointing at a local address that does not exist
                        // still delivers: to a Maildir of that name.
                        out.push(Recipient {
                            address: t.clone(),
                            original: None,
                            destination: Destination::Mailbox(t.clone()),
                        });
                    }
                } else {
                    out.push(Recipient {
                        address: t.clone(),
                        original: None,
                        destination: Destination::Remote,
                    });
                }
            }
            return true;
        }
        // Role addresses (RFC 5321 §4.5.1 postmaster@ among them) are in `mailboxes`
        // for every local domain.
        if self.mailboxes.contains(address) || is_account(address) {
            out.push(Recipient {
                address: address.to_string(),
                original: None,
                destination: Destination::Mailbox(address.to_string()),
            });
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let mut c = sendwell_config::example::example();
        c.aliases.push(sendwell_config::Alias {
            address: "fwd@example.test".into(),
            to: vec!["someone@elsewhere.test".into(), "abuse@example.test".into()],
        });
        Directory::from_config(&c)
    }

    #[test]
    fn accounts_are_mailboxes() {
        let d = dir();
        let is_account = |a: &str| a == "alice@example.test";
        match d.decide_with(&rcpt("<Alice@Example.test>"), false, &is_account) {
            RcptDecision::Accept(list) => {
                assert_eq!(
                    list[0].destination,
                    Destination::Mailbox("alice@example.test".into())
                );
            }
            RcptDecision::Refuse(r) => panic!("refused: {r:?}"),
        }
        // Without the account it does not exist.
        assert_eq!(code(d.decide(&rcpt("<alice@example.test>"), false)), 550);
        // An account at another domain gives no relaying.
        let other = |a: &str| a == "x@elsewhere.test";
        assert_eq!(
            code(d.decide_with(&rcpt("<x@elsewhere.test>"), false, &other)),
            554
        );
    }

    fn rcpt(s: &str) -> ForwardPath {
        ForwardPath::parse_prefix(s).unwrap().0
    }

    fn code(d: RcptDecision) -> u16 {
        match d {
            RcptDecision::Accept(_) => 250,
            RcptDecision::Refuse(r) => r.code.get(),
        }
    }

    #[test]
    fn local_addresses() {
        let d = dir();
        for ok in [
            "<postmaster@example.test>",
            "<PostMaster@EXAMPLE.test>",
            "<Postmaster>",
            "<\"postmaster\"@example.test>",
            "<abuse@example.test>",
            "<no-reply@example.test>",
            "<dmarc-reports@example.test>",
            "<info@example.test>",
            "<@elsewhere.test:abuse@example.test>",
        ] {
            assert_eq!(code(d.decide(&rcpt(ok), false)), 250, "{ok}");
        }
        assert_eq!(code(d.decide(&rcpt("<nobody@example.test>"), false)), 550);
        match d.decide(&rcpt("<fwd@example.test>"), false) {
            RcptDecision::Accept(rs) => {
                assert_eq!(rs.len(), 2);
                assert_eq!(rs[0].destination, Destination::Remote);
                assert_eq!(rs[0].original.as_deref(), Some("fwd@example.test"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_domain_has_role_and_report_addresses() {
        // Nothing listed: init's mailboxes gone, a second domain added by hand.
        let mut c = sendwell_config::example::example();
        c.mailboxes.clear();
        c.aliases.clear();
        c.domains[0].dmarc_reports = Some("Reports@Example.test".into());
        let mut second = c.domains[0].clone();
        second.name = "second.test".into();
        second.dmarc_reports = None;
        let mut third = c.domains[0].clone();
        third.name = "third.test".into();
        third.dmarc_reports = Some("rua@elsewhere.test".into());
        c.domains.push(second);
        c.domains.push(third);
        c.aliases.push(sendwell_config::Alias {
            address: "abuse@third.test".into(),
            to: vec!["desk@elsewhere.test".into()],
        });
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        let d = Directory::from_config(&c);
        for (to, mailbox) in [
            ("<postmaster@example.test>", "postmaster@example.test"),
            ("<ABUSE@example.test>", "abuse@example.test"),
            ("<no-reply@example.test>", "no-reply@example.test"),
            ("<reports@example.test>", "reports@example.test"),
            ("<postmaster@second.test>", "postmaster@second.test"),
            ("<abuse@second.test>", "abuse@second.test"),
            ("<No-Reply@Second.test>", "no-reply@second.test"),
            ("<dmarc-reports@second.test>", "dmarc-reports@second.test"),
            ("<no-reply@third.test>", "no-reply@third.test"),
        ] {
            match d.decide(&rcpt(to), false) {
                RcptDecision::Accept(rs) => {
                    assert_eq!(rs.len(), 1, "{to}");
                    assert_eq!(
                        rs[0].destination,
                        Destination::Mailbox(mailbox.into()),
                        "{to}"
                    );
                }
                RcptDecision::Refuse(r) => panic!("{to} refused: {r:?}"),
            }
        }
        // example.test's reports go to reports@, so its dmarc-reports@ is nobody.
        assert_eq!(
            code(d.decide(&rcpt("<dmarc-reports@example.test>"), false)),
            550
        );
        assert_eq!(
            code(d.decide(&rcpt("<dmarc-reports@third.test>"), false)),
            550
        );
        // A report address outside our domains is not ours to receive.
        assert_eq!(code(d.decide(&rcpt("<rua@elsewhere.test>"), false)), 554);
        // An alias of a role address decides where its mail goes.
        match d.decide(&rcpt("<abuse@third.test>"), false) {
            RcptDecision::Accept(rs) => {
                assert_eq!(rs.len(), 1);
                assert_eq!(rs[0].address, "desk@elsewhere.test");
                assert_eq!(rs[0].destination, Destination::Remote);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn relay_tricks_are_refused() {
        let d = dir();
        for trick in [
            "<user@elsewhere.test>",
            "<user%elsewhere.test@example.test>",
            "<elsewhere.test!user@example.test>",
            "<\"user@elsewhere.test\"@example.test>",
            "<@example.test:user@elsewhere.test>",
            "<user@[127.0.0.1]>",
            "<user@[IPv6:::1]>",
            "<postmaster@elsewhere.test>",
        ] {
            assert_eq!(code(d.decide(&rcpt(trick), false)), 554, "{trick}");
        }
        assert_eq!(code(d.decide(&rcpt("<user@elsewhere.test>"), true)), 250);
        assert_eq!(
            code(d.decide(&rcpt("<user%elsewhere.test@example.test>"), true)),
            554
        );
    }
}
