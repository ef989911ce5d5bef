//! `capf demo`: the whole PKI on loopback (filled in below).

use crate::CliResult;
use clap::Args;
use std::process::ExitCode;

/// `capf demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {}

/// Runs `capf demo`.
pub(crate) fn run(_args: DemoArgs) -> CliResult {
    Ok(ExitCode::SUCCESS)
}
