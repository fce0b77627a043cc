//! One module per subcommand; `run` dispatches.

mod dns;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Run the subcommand `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dns(args) => dns::run(args).await,
    }
}
