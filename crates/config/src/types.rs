//! The types of `sendwell.toml`. The doc comment of each field is the documentation of
//! its key: [`crate::example::render`] copies it into the generated file.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Sendwell's configuration, `DIR/sendwell.toml`. Changes take effect on restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The host name of this mail server: said in the greeting, the EHLO reply and
    /// Received headers, and the name the PTR record of `ipv4`/`ipv6` must give. Start it
    /// with mail, smtp or mx (many receivers score generic-looking names as spam).
    pub hostname: String,
    /// The public IPv4 address this server sends from. Used for the A record of
    /// `hostname`, the SPF record and the PTR request. Leave out if there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<Ipv4Addr>,
    /// The public IPv6 address this server sends from (AAAA, SPF, PTR). Leave out if
    /// there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    /// Where the servers listen.
    pub listen: Listen,
    /// The TLS certificate for STARTTLS and implicit TLS.
    pub tls: Tls,
    /// Protocol limits, each answered with its RFC reply code when exceeded.
    #[serde(default)]
    pub limits: Limits,
    /// SMTP protocol choices.
    #[serde(default)]
    pub smtp: Smtp,
    /// How failed logins are slowed down and locked out.
    #[serde(default)]
    pub auth: Auth,
    /// Outbound delivery to other servers: source address, TLS, retries, concurrency.
    #[serde(default)]
    pub delivery: Delivery,
    /// The mail domains this server sends for and receives for. One `[[domain]]` table
    /// each.
    #[serde(rename = "domain")]
    pub domains: Vec<Domain>,
    /// Local mailboxes: mail for these addresses is delivered into Maildir folders under
    /// `DIR/mail/ADDRESS/`. Every domain also has these addresses, listed here or not:
    /// postmaster@ (RFC 5321 §4.5.1), abuse@ (RFC 2142), no-reply@, and its DMARC report
    /// address (`dmarc_reports`) when that is in one of the domains; each is delivered
    /// into its own Maildir, `DIR/mail/ADDRESS/`, unless an `[[alias]]` of that address
    /// sends its mail elsewhere.
    #[serde(rename = "mailbox", default, skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<Mailbox>,
    /// Aliases: mail for `address` goes to each address in `to`, local mailboxes or
    /// outside addresses (forwarded through the queue).
    #[serde(rename = "alias", default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Alias>,
}

/// Listening addresses, each `IP:PORT`. An empty list turns that service off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Incoming mail from other servers (MX; port 25 on the Internet). STARTTLS is
    /// offered; AUTH is offered after STARTTLS.
    pub mx: Vec<SocketAddr>,
    /// Message submission with STARTTLS (RFC 6409; port 587). Clients must
    /// authenticate before MAIL.
    pub submission: Vec<SocketAddr>,
    /// Message submission over implicit TLS (RFC 8314; port 465). Clients must
    /// authenticate before MAIL.
    pub submissions: Vec<SocketAddr>,
}

/// TLS settings (rustls; TLS 1.2 and 1.3 only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file with the certificate chain, leaf first. `sendwell init` writes a
    /// self-signed one; replace it with one from a CA (e.g. Let's Encrypt) for clients
    /// that check certificates.
    pub certificate: PathBuf,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// Protocol limits (RFC 5321 §4.5.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest message accepted, in octets; announced with SIZE (RFC 1870) and answered
    /// with 552 5.3.4 when exceeded.
    pub max_message_size: u64,
    /// Most recipients in one transaction; one more gets 452 4.5.3 (RFC 5321
    /// §4.5.3.1.10). At least 100 (§4.5.3.1.8).
    pub max_recipients: usize,
    /// Longest command line in octets including CRLF (RFC 5321 §4.5.3.1.4 says 512;
    /// extensions add to it). Longer lines get 500 5.5.2.
    pub max_command_line: usize,
    /// Longest line of message text in octets including CRLF (RFC 5321 §4.5.3.1.6: 1000).
    /// A message with a longer line is refused with 500 5.5.2. 0 turns the check off.
    pub max_text_line: usize,
    /// Most commands before the first MAIL, and between transactions (NOOP, RSET, VRFY,
    /// HELP, EHLO...). More get 421 4.7.0 and the connection is closed. At least 1.
    pub max_commands_without_mail: u32,
    /// Most error replies in one session before 421 4.7.0 and closing. At least 1.
    pub max_errors: u32,
    /// Seconds to wait for the next command (RFC 5321 §4.5.3.2.7: at least 5 minutes;
    /// `sendwell serve` warns below that), and for the client to take the replies sent
    /// to it: a client that reads none within this time is disconnected.
    pub command_timeout_secs: u64,
    /// Seconds to wait for more message data after DATA or BDAT (RFC 5321 §4.5.3.2.5-6:
    /// the client waits 3 and 10 minutes; the server at least as long; `sendwell serve`
    /// warns below 3 minutes).
    pub data_timeout_secs: u64,
    /// Longest a whole session may last, in seconds, before 421 4.4.2.
    pub session_timeout_secs: u64,
    /// Most simultaneous connections to the MX listeners from one client (an IPv4
    /// address, or an IPv6 /64, which one host or subscriber usually holds whole);
    /// more get 421 4.7.0.
    pub max_connections_per_ip: usize,
    /// Most simultaneous connections to the MX listeners in total; more get 421 4.4.5.
    pub max_connections: usize,
    /// Most simultaneous connections to the submission listeners (ports 587 and 465
    /// together) from one client. A pool of their own: a flood on port 25 never takes
    /// an authenticated user's place.
    pub max_submission_connections_per_ip: usize,
    /// Most simultaneous connections to the submission listeners in total.
    pub max_submission_connections: usize,
    /// The slowest message data accepted, in octets per second, averaged from the
    /// start of the data (the 354 reply, or the first BDAT) and enforced once
    /// `data_rate_grace_secs` have passed: a client sending more slowly is told 421
    /// 4.4.2 and disconnected, so a drip-feeding client cannot hold its connection
    /// for the whole session. 0 turns the check off.
    pub min_data_rate: u64,
    /// Seconds of message data before `min_data_rate` applies.
    pub data_rate_grace_secs: u64,
    /// Most octets of message data all sessions together may hold in memory while
    /// receiving (each message is kept whole until it is queued). A message that would
    /// pass it is read to its end but not kept, and gets 452 4.3.1 (RFC 3463 "mail
    /// system full"; RFC 5321 §4.5.3.1.10): the client tries again later. Should be at
    /// least `max_message_size`.
    pub max_data_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_command_line: 4096,
            max_text_line: 1000,
            max_commands_without_mail: 30,
            max_errors: 10,
            command_timeout_secs: 300,
            data_timeout_secs: 600,
            session_timeout_secs: 1800,
            max_connections_per_ip: 20,
            max_connections: 500,
            max_submission_connections_per_ip: 10,
            max_submission_connections: 100,
            min_data_rate: 1024,
            data_rate_grace_secs: 60,
            max_data_memory: 512 * 1024 * 1024,
        }
    }
}

/// What to do with a bare CR or LF inside message data (RFC 5321 §2.3.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum BareLineEndings {
    /// Refuse the message with 554 5.6.0 (after reading it to its real end).
    #[default]
    Reject,
    /// Store each bare CR or LF as CRLF.
    Normalize,
}

/// SMTP protocol choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    /// A bare CR or LF in message data: "reject" or "normalize". Either way only
    /// CRLF.CRLF ends a message, which is the defence against SMTP smuggling.
    pub bare_line_endings: BareLineEndings,
    /// Offer CHUNKING (BDAT, RFC 3030).
    pub chunking: bool,
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            bare_line_endings: BareLineEndings::Reject,
            chunking: true,
        }
    }
}

/// Failed-login limits, per client IP and per account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// Delay before answering a failed login, in milliseconds; it doubles with each
    /// further failure from the same IP or for the same account, up to
    /// `max_failure_delay_ms`.
    pub failure_delay_ms: u64,
    /// The longest delay, in milliseconds.
    pub max_failure_delay_ms: u64,
    /// After this many failures within `failure_window_secs` from one client (an IPv4
    /// address or an IPv6 /64) for one account name, every login from that client for
    /// that name is refused with 454 4.7.0 (right password or not) until the window has
    /// passed. Others, the account's owner among them, can still log in.
    pub max_failures: u32,
    /// After this many failures within `failure_window_secs` from one client, whatever
    /// the account names, every login from that client is refused with 454 4.7.0 until
    /// the window has passed (guessing across many accounts).
    pub max_failures_per_ip: u32,
    /// The window for counting failures, in seconds.
    pub failure_window_secs: u64,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            failure_delay_ms: 500,
            max_failure_delay_ms: 8000,
            max_failures: 10,
            max_failures_per_ip: 30,
            failure_window_secs: 900,
        }
    }
}

/// Which address family outbound connections try first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AddressPreference {
    /// IPv4 first, then IPv6. Many receivers refuse IPv6 senders without a PTR record.
    #[default]
    Ipv4,
    /// IPv6 first, then IPv4.
    Ipv6,
    /// IPv4 only.
    Ipv4Only,
    /// IPv6 only.
    Ipv6Only,
}

/// When outbound connections use STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// When the receiver offers it; certificates are not checked (RFC 7435), and a
    /// failed handshake falls back to cleartext.
    #[default]
    Opportunistic,
    /// Always encrypted (no cleartext fallback); certificates are not checked.
    Required,
    /// Always encrypted, with a certificate valid for the MX host name.
    Verified,
    /// Never.
    Disabled,
}

/// Outbound delivery to other servers (RFC 5321 §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// Keep mail for other domains in the queue without delivering it (maintenance;
    /// `sendwell queue` still lists and deletes it). Local mailboxes still get theirs.
    pub hold: bool,
    /// The local IPv4 address outgoing connections are made from: the address your SPF
    /// record names and your PTR record is for. Leave out to let the system choose (for
    /// example behind NAT, where the public address is not on this machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ipv4: Option<Ipv4Addr>,
    /// The local IPv6 address outgoing connections are made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ipv6: Option<Ipv6Addr>,
    /// "ipv4", "ipv6", "ipv4_only" or "ipv6_only": which addresses of a receiver to try
    /// first.
    pub address_preference: AddressPreference,
    /// STARTTLS for every receiver: "opportunistic", "required", "verified" or
    /// "disabled".
    pub tls: TlsMode,
    /// STARTTLS per destination domain, overriding `tls`: a table of domain = mode,
    /// for example `bank.example = "verified"`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tls_per_domain: std::collections::BTreeMap<String, TlsMode>,
    /// The port of receiving servers: 25 on the Internet. Other values are for tests.
    pub port: u16,
    /// The DNS server for MX lookups and for checking mail from outside that claims our
    /// domains (SPF, DKIM), "IP:PORT". Leave out for the system's resolvers;
    /// `sendwell serve --resolver` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<SocketAddr>,
    /// Deliveries in progress at once, in all.
    pub max_concurrent: usize,
    /// Deliveries in progress at once to one destination domain.
    pub max_per_domain: usize,
    /// Minutes to wait after the 1st, 2nd, ... temporary failure.
    pub retry_minutes: Vec<u64>,
    /// Minutes between later retries.
    pub retry_every_minutes: u64,
    /// Hours after which a message still not delivered is returned to its sender (RFC
    /// 5321 §4.5.4.1 asks for at least 4-5 days).
    pub lifetime_hours: u64,
    /// Hours after which the sender of a message still not delivered gets one "delayed"
    /// notice (RFC 3464 `Action: delayed`) saying retries go on; 0 sends none.
    pub delay_notice_hours: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            hold: false,
            source_ipv4: None,
            source_ipv6: None,
            address_preference: AddressPreference::Ipv4,
            tls: TlsMode::Opportunistic,
            tls_per_domain: std::collections::BTreeMap::new(),
            port: 25,
            resolver: None,
            max_concurrent: 20,
            max_per_domain: 4,
            retry_minutes: vec![5, 10, 30, 60, 120, 240],
            retry_every_minutes: 240,
            lifetime_hours: 120,
            delay_notice_hours: 4,
        }
    }
}

/// One mail domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The domain name, e.g. "example.com".
    pub name: String,
    /// Where DMARC aggregate reports go (the rua= of the DMARC record). Default:
    /// dmarc-reports@ this domain. When it is in one of the domains it is a local address
    /// without being listed as a `[[mailbox]]`: delivered into `DIR/mail/ADDRESS/`, or
    /// where an `[[alias]]` of it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dmarc_reports: Option<String>,
    /// The DMARC policy to publish: "none", "quarantine" or "reject".
    #[serde(default)]
    pub dmarc_policy: DmarcPolicy,
    /// The DKIM keys messages from this domain are signed with. One `[[domain.dkim]]`
    /// table per key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dkim: Vec<DkimKey>,
}

impl Domain {
    /// The DMARC report address: the configured one or dmarc-reports@ the domain.
    pub fn dmarc_report_address(&self) -> String {
        self.dmarc_reports
            .clone()
            .unwrap_or_else(|| format!("dmarc-reports@{}", self.name))
    }
}

/// A DMARC policy (RFC 7489 §6.3 `p=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat failing mail as suspicious.
    Quarantine,
    /// Refuse failing mail.
    #[default]
    Reject,
}

impl std::fmt::Display for DmarcPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        })
    }
}

/// A DKIM signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DkimKey {
    /// The selector: the key's public half is published at SELECTOR._domainkey.DOMAIN.
    pub selector: String,
    /// "rsa" (RSA-SHA256) or "ed25519" (Ed25519-SHA256, RFC 8463).
    pub algorithm: DkimAlgorithm,
    /// PEM file with the private key (PKCS#8), mode 0600.
    pub private_key: PathBuf,
}

/// A DKIM key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DkimAlgorithm {
    /// RSA with SHA-256 (RFC 6376).
    Rsa,
    /// Ed25519 with SHA-256 (RFC 8463).
    Ed25519,
}

/// A local mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mailbox {
    /// The address, e.g. "alice@example.com". Matched without regard to case. Mail for
    /// it is stored in DIR/mail/ADDRESS/ (Maildir: new/, cur/, tmp/).
    pub address: String,
}

/// An alias: one address that stands for others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    /// The address mail is sent to, in one of the domains.
    pub address: String,
    /// Where it goes: local mailboxes and/or outside addresses (those are queued for
    /// delivery like any relayed mail).
    pub to: Vec<String>,
}
