//! `capf signed` (being written).

use crate::CliResult;
use clap::Subcommand;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Placeholder.
    Show,
}

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Show => Err(crate::CliError::input("not yet available")),
    }
}
