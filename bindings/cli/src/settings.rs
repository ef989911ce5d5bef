//! `capf settings`: the registry's service parameters, shared by every
//! server on that registry (Unified CM's CAPF service parameters): LSC
//! validity, maximum key-generation time, key-generation retries, maximum failed attempts, renewal
//! share. `capf serve` reads them at start; its flags of the same names
//! override them for that one server. The names, defaults and ranges are
//! the library's ([`capf_registry::Settings`]).

use crate::device::{open_existing, print_json};
use crate::output::{now_unix, outln};
use crate::{CliError, CliResult};
use capf_registry::{Registry, Settings};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf settings …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show every setting and its value (defaults included).
    Show(ShowArgs),
    /// Set one setting: validity-days (1-3650), key-generation-timeout
    /// (seconds, 1-86400), key-generation-retries (0-10: requests repeated
    /// in a session after the phone answers without a key),
    /// max-failed-attempts (0: never lock, up to 1000), renew-used-share (a
    /// share in (0, 1], or off).
    Set(SetArgs),
}

/// `capf settings show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Device database: a SQLite file (e.g. capf.db) or a postgres:// URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// JSON output: an object, setting name to value (text, as `set` takes it).
    #[arg(long)]
    json: bool,
}

/// `capf settings set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Device database: a SQLite file (e.g. capf.db) or a postgres:// URL.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// The setting's name.
    name: String,
    /// Its new value.
    value: String,
}

/// Runs `capf settings …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Show(args) => show(&args),
        Command::Set(args) => set(&args),
    }
}

fn show(args: &ShowArgs) -> CliResult {
    let registry = open_existing(&args.db)?;
    let settings = registry.settings()?;
    let pairs = settings.pairs();
    if args.json {
        let object: serde_json::Map<String, serde_json::Value> = pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), serde_json::Value::String(value)))
            .collect();
        return print_json(&serde_json::Value::Object(object));
    }
    let width = Settings::NAMES
        .iter()
        .map(|name| name.len())
        .max()
        .unwrap_or(0);
    for (name, value) in pairs {
        outln!("{name:width$}  {value}");
    }
    Ok(ExitCode::SUCCESS)
}

fn set(args: &SetArgs) -> CliResult {
    // Validated before the registry is touched: a typo changes nothing.
    let mut settings = Settings::default();
    settings
        .set(&args.name, &args.value)
        .map_err(|error| CliError::input(error.to_string()))?;
    let registry = open_existing(&args.db)?;
    let mut settings = registry.settings()?;
    settings
        .set(&args.name, &args.value)
        .map_err(|error| CliError::input(error.to_string()))?;
    registry.put_settings(&settings, now_unix())?;
    outln!(
        "{} = {}",
        args.name,
        settings.get(&args.name).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
