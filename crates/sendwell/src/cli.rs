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
