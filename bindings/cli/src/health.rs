//! `capf health --db DB`: whether the registry is reachable and its schema
//! current, for monitoring (exit 0 healthy, 1 unhealthy, 2 bad usage).
//! Changes nothing: no file is created, no schema migrated.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::{CliError, CliResult};

/// `capf health`.
#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// The registry: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    db: PathBuf,
}

/// Checks the registry and prints one line.
pub(crate) fn run(args: HealthArgs) -> CliResult {
    let spec = args.db.to_string_lossy();
    let shown = crate::db::shown(&args.db);
    match capf_registry::health(&spec, &crate::db::options()?) {
        capf_registry::Health::Healthy { version } => {
            crate::output::print_stdout(format_args!("healthy: {shown} (schema {version})\n"));
            Ok(ExitCode::SUCCESS)
        }
        capf_registry::Health::SchemaNotCurrent { found, known } => Err(CliError::rejected(
            format!("unhealthy: {shown}: schema {found}, this capf writes {known}"),
        )),
        capf_registry::Health::Unreachable(why) => {
            Err(CliError::rejected(format!("unhealthy: {why}")))
        }
        other => Err(CliError::rejected(format!("unhealthy: {other:?}"))),
    }
}
