//! `capf cert`: the certificates of the ledger — revoke an LSC.
//!
//! A revocation is recorded in the registry's certificate ledger; `capf
//! serve` (CAPF and TVS) consults it by itself at each session, and `capf
//! ca crl` lists it in a CRL.

use crate::device::{certificate_json, open_existing, print_json, validate_device_name};
use crate::output::{now_unix, outln};
use crate::{CliError, CliResult};
use capf_registry::{Registry, RevocationReason, RevocationTarget};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf cert …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Revoke a device's LSC (every certificate of its ledger that is
    /// neither deleted nor already revoked), or the certificate with a
    /// serial. CAPF then refuses the LSC for authentication and TVS
    /// answers INVALID for it; `capf ca crl` lists it. (`capf tvs revoke`
    /// is for TVS allow-list entries; `capf serve --revoked` for outside
    /// revocation data.)
    Revoke(RevokeArgs),
}

/// `capf cert revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// Registry file (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// The device whose certificates are revoked.
    #[arg(
        value_name = "DEVICE",
        required_unless_present = "serial",
        conflicts_with = "serial"
    )]
    device: Option<String>,
    /// The serial number (hex) of the certificate to revoke instead.
    #[arg(long, value_name = "HEX")]
    serial: Option<String>,
    /// RFC 5280 reason: unspecified, keyCompromise, cACompromise,
    /// affiliationChanged, superseded, cessationOfOperation,
    /// certificateHold, privilegeWithdrawn, aACompromise (kebab-case
    /// accepted: key-compromise).
    #[arg(long, value_name = "REASON")]
    reason: String,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Runs `capf cert …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Revoke(args) => revoke(&args),
    }
}

fn revoke(args: &RevokeArgs) -> CliResult {
    let reason: RevocationReason = args
        .reason
        .parse()
        .map_err(|error| CliError::input(format!("--reason: {error}")))?;
    let target = match (&args.device, &args.serial) {
        (Some(device), None) => RevocationTarget::Device(validate_device_name(device)?),
        (None, Some(serial)) => RevocationTarget::Serial(serial.clone()),
        _ => return Err(CliError::input("give a DEVICE or --serial HEX")),
    };
    let registry = open_existing(&args.db)?;
    let revoked = registry.revoke(&target, reason, now_unix())?;
    if args.json {
        return print_json(&revoked.iter().map(certificate_json).collect());
    }
    for entry in &revoked {
        outln!(
            "{}: certificate #{} serial {} revoked ({reason})",
            entry.device,
            entry.id,
            entry.serial_hex
        );
    }
    Ok(ExitCode::SUCCESS)
}
