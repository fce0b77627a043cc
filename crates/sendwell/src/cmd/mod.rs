//! One module per subcommand; `run` dispatches.

pub mod dkim;
pub mod dmarc;
mod dns;
pub mod init;
pub mod queue;
pub mod records;
pub mod send;
pub mod serve;
pub mod spf;
pub mod user;
pub mod verify;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Run the subcommand `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dns(args) => dns::run(args).await,
        Command::Spf(args) => spf::run(args).await,
        Command::Dmarc(args) => dmarc::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Dkim(args) => dkim::run(args).await,
        Command::Send(args) => send::run(args).await,
        Command::Init(args) => init::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::User(args) => user::run(args).await,
        Command::Queue(args) => queue::run(args).await,
        Command::Records(args) => records::run(args).await,
    }
}
