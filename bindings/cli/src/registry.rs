//! `capf registry copy --from DB --to DB`: moves a whole registry between
//! SQLite and PostgreSQL (either way), through [`capf_registry::copy_registry`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{CliError, CliResult};

/// `capf registry …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Copy a whole registry (devices, ledger, events, TVS allow-list) into
    /// another database, in one transaction; a non-empty target is refused
    /// unless --force.
    Copy(CopyArgs),
}

/// `capf registry copy`.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// The registry to copy: a SQLite file or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    from: PathBuf,
    /// Where to copy it: a SQLite file (created) or a postgres:// URL.
    #[arg(long, value_name = "FILE|URL")]
    to: PathBuf,
    /// Copy even into a target that already holds rows (a colliding row
    /// still fails the whole copy).
    #[arg(long)]
    force: bool,
}

/// Runs `capf registry`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Copy(args) => copy(&args),
    }
}

fn copy(args: &CopyArgs) -> CliResult {
    if crate::db::missing(&args.from) {
        return Err(CliError::input(format!(
            "--from {}: no registry file there",
            args.from.display()
        )));
    }
    if crate::db::shown(&args.from) == crate::db::shown(&args.to) {
        return Err(CliError::input("--from and --to name the same registry"));
    }
    let from = crate::db::open(&args.from)
        .map_err(|error| CliError::input(format!("--from: {}", error.message())))?;
    let to = crate::db::open(&args.to)
        .map_err(|error| CliError::input(format!("--to: {}", error.message())))?;
    let copied = capf_registry::copy_registry(&from, &to, args.force).map_err(|error| {
        CliError::rejected(format!(
            "copying {} to {}: {error}",
            crate::db::shown(&args.from),
            crate::db::shown(&args.to)
        ))
    })?;
    crate::output::print_stdout(format_args!(
        "copied {} devices, {} certificates, {} events, {} TVS entries, {} settings from {} to \
         {}\n",
        copied.devices,
        copied.certificates,
        copied.events,
        copied.tvs,
        copied.settings,
        crate::db::shown(&args.from),
        crate::db::shown(&args.to)
    ));
    Ok(ExitCode::SUCCESS)
}
