//! The command line, as typed (clap derive). No I/O happens here.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Sendwell: a self-hosted mail sender that gets delivered.
#[derive(Debug, Parser)]
#[command(name = "sendwell", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on standard error (-v: debug, -vv: trace). SENDWELL_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The tracing filter for `-v` flags.
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            // A server logs each transaction (queue id, client, sender, recipients,
            // outcome) at info.
            0 if matches!(self.command, Command::Serve(_)) => "info",
            0 => "warn",
            1 => "debug",
            _ => "trace",
        }
    }
}

/// Where DNS questions go: shared by every command that looks anything up.
#[derive(Debug, Args, Clone)]
pub struct ResolverArgs {
    /// Send DNS queries to this server (IP:PORT, e.g. 127.0.0.1:5300) instead of the
    /// resolvers in /etc/resolv.conf.
    #[arg(long, value_name = "IP:PORT")]
    pub resolver: Option<SocketAddr>,
}

impl ResolverArgs {
    /// The resolver these arguments name.
    pub fn lookup(&self) -> anyhow::Result<sendwell_dns::HickoryLookup> {
        Ok(sendwell_dns::HickoryLookup::new(self.resolver)?)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask DNS a question the way Sendwell's engines do, and show the answer or the kind of failure.
    Dns(DnsArgs),
    /// SPF (RFC 7208): check a client as receivers do, lint a record, build one.
    Spf(crate::cmd::spf::SpfArgs),
    /// DMARC: check a domain's record (explained and linted) or build one to publish.
    Dmarc(crate::cmd::dmarc::DmarcArgs),
    /// Judge a message as a receiver would: SPF, DKIM, DMARC and reverse DNS, with the
    /// Authentication-Results header and a summary with fixes.
    Verify(crate::cmd::verify::VerifyArgs),
    /// DKIM: generate keys, check the DNS record, sign and verify messages.
    Dkim(crate::cmd::dkim::DkimArgs),
    /// Send one DKIM-signed message, straight to the recipients' MX or through a server.
    Send(crate::cmd::send::SendArgs),
    /// Set up a Sendwell directory: config, DKIM keys, TLS certificate; print the DNS records.
    Init(crate::cmd::init::InitArgs),
    /// Run the mail server (MX, submission, implicit TLS) from DIR/sendwell.toml.
    Serve(crate::cmd::serve::ServeArgs),
    /// Manage the accounts that may submit mail.
    User(crate::cmd::user::UserArgs),
    /// Look into the mail queue and change it.
    Queue(crate::cmd::queue::QueueArgs),
    /// Print the DNS records the setup needs (also as a BIND zone file).
    Records(crate::cmd::records::RecordsArgs),
}

/// `sendwell dns`.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// The name to look up (for PTR: an IP address).
    pub name: String,
    /// The record type.
    #[arg(long = "type", short = 't', value_enum, default_value_t = DnsType::Txt)]
    pub rtype: DnsType,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print JSON: {"name", "type", "answers": [...]} or {"name", "type", "error", "error_kind"}.
    #[arg(long)]
    pub json: bool,
}

/// Record types `sendwell dns` asks for.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
#[value(rename_all = "UPPER")]
pub enum DnsType {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Mail exchangers.
    Mx,
    /// Text records (SPF, DKIM, DMARC live here).
    Txt,
    /// Reverse DNS: the name of an IP address.
    Ptr,
    /// The obsolete SPF type 99.
    Spf,
}
